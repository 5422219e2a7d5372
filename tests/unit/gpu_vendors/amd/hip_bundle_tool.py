#!/usr/bin/python3
"""An independent reader and writer of HIP offload bundles, for tailor/hip's tests.

Written from LLVM's clang/lib/Driver/OffloadBundler.cpp, not from gantry's C++: the ELF section
table, the clang offload bundle ("__CLANG_OFFLOAD_BUNDLE__", u64 count, per entry u64 offset,
u64 size, u64 ID length, ID) and the compressed bundle ("CCOB", u16 version, u16 method 0 zlib /
1 zstd, v1 u32 uncompressed; v2 u32 total, u32 uncompressed; v3 u64 total, u64 uncompressed;
u64 hash = the first 8 bytes of MD5(uncompressed), little-endian; then the stream).

  list ELF              one line per entry of each bundle in .hip_fatbin:
                        BUNDLE_OFFSET KIND ID SIZE SHA256 (KIND: plain or ccobV-METHOD);
                        a CCOB's hash and sizes are checked (exit 1 when wrong)
  pack V M IN OUT       OUT = IN (an uncompressed bundle) as a CCOB of version V, method M
  compress-elf V M IN OUT
                        OUT = IN with every uncompressed bundle in .hip_fatbin replaced by
                        its CCOB at the same start, zero-padded (the section keeps its size)
zstd goes through python3-zstandard, or the zstd command when that module is missing.
"""
import hashlib
import struct
import subprocess
import sys
import zlib

MAGIC = b"__CLANG_OFFLOAD_BUNDLE__"


def zstd_compress(data):
    try:
        import zstandard
        return zstandard.ZstdCompressor(level=3, write_content_size=True).compress(data)
    except ImportError:
        return subprocess.run(["zstd", "-q", "-c", "-3"], input=data, check=True,
                              stdout=subprocess.PIPE).stdout


def zstd_decompress(data, size):
    """(decompressed bytes, compressed bytes used) of the frame at the start of data."""
    try:
        import zstandard
        d = zstandard.ZstdDecompressor().decompressobj()
        out = d.decompress(data)
        return out, len(data) - len(d.unused_data)
    except ImportError:
        out = subprocess.run(["zstd", "-q", "-d", "-c"], input=data, check=True,
                             stdout=subprocess.PIPE).stdout
        return out, len(data)


def md5_low(data):
    return struct.unpack("<Q", hashlib.md5(data).digest()[:8])[0]


def hip_section(elf):
    shoff, = struct.unpack_from("<Q", elf, 0x28)
    shnum, shstrndx = struct.unpack_from("<HH", elf, 0x3c)
    strtab_off, = struct.unpack_from("<Q", elf, shoff + shstrndx * 64 + 24)
    for i in range(shnum):
        name, = struct.unpack_from("<I", elf, shoff + i * 64)
        off, size = struct.unpack_from("<QQ", elf, shoff + i * 64 + 24)
        end = elf.index(b"\0", strtab_off + name)
        if elf[strtab_off + name:end] == b".hip_fatbin":
            return off, size
    raise SystemExit("no .hip_fatbin section")


def bundle_entries(b):
    if not b.startswith(MAGIC):
        raise SystemExit("no bundle magic")
    count, = struct.unpack_from("<Q", b, 24)
    pos, out = 32, []
    for _ in range(count):
        off, size, idlen = struct.unpack_from("<QQQ", b, pos)
        ident = b[pos + 24:pos + 24 + idlen].decode("ascii")
        pos += 24 + idlen
        out.append((off, size, ident))
    span = max([pos] + [o + s for o, s, _ in out])
    return out, span


def ccob_decode(b):
    version, method = struct.unpack_from("<HH", b, 4)
    if version == 1:
        header, (usize,), total = 20, struct.unpack_from("<I", b, 8), None
    elif version == 2:
        header = 24
        total, usize = struct.unpack_from("<II", b, 8)
    else:
        header = 32
        total, usize = struct.unpack_from("<QQ", b, 8)
    stored, = struct.unpack_from("<Q", b, header - 8)
    payload = b[header:total] if total else b[header:]
    if method == 0:
        d = zlib.decompressobj()
        data = d.decompress(payload)
        used = len(payload) - len(d.unused_data)
    else:
        data, used = zstd_decompress(payload, usize)
    if len(data) != usize:
        raise SystemExit("CCOB: %d bytes, not the declared %d" % (len(data), usize))
    if md5_low(data) != stored:
        raise SystemExit("CCOB: hash mismatch")
    if total is not None and used != total - header:
        raise SystemExit("CCOB: stream length differs from the total size")
    return version, method, data, header + used


def ccob_encode(version, method, data):
    payload = zlib.compress(data, 9) if method == 0 else zstd_compress(data)
    head = b"CCOB" + struct.pack("<HH", version, method)
    if version == 1:
        head += struct.pack("<I", len(data))
    elif version == 2:
        head += struct.pack("<II", 24 + len(payload), len(data))
    else:
        head += struct.pack("<QQ", 32 + len(payload), len(data))
    return head + struct.pack("<Q", md5_low(data)) + payload


def walk(sec):
    """(offset, kind, bundle bytes, span) for each bundle in the section."""
    pos = 0
    while pos < len(sec):
        if sec[pos] == 0:
            pos += 1
            continue
        rest = sec[pos:]
        if rest.startswith(MAGIC):
            _, span = bundle_entries(rest)
            yield pos, "plain", rest[:span], span
        elif rest.startswith(b"CCOB"):
            version, method, data, span = ccob_decode(rest)
            yield pos, "ccob%d-%s" % (version, "zlib" if method == 0 else "zstd"), data, span
        else:
            raise SystemExit("unrecognised bytes at %#x" % pos)
        pos += span


def main(argv):
    if argv[1] == "list":
        elf = open(argv[2], "rb").read()
        off, size = hip_section(elf)
        for at, kind, b, _ in walk(elf[off:off + size]):
            entries, _ = bundle_entries(b)
            for o, s, ident in entries:
                print(at, kind, ident, s, hashlib.sha256(b[o:o + s]).hexdigest())
    elif argv[1] == "pack":
        data = open(argv[4], "rb").read()
        open(argv[5], "wb").write(ccob_encode(int(argv[2]), int(argv[3]), data))
    elif argv[1] == "compress-elf":
        elf = bytearray(open(argv[4], "rb").read())
        off, size = hip_section(elf)
        sec = bytes(elf[off:off + size])
        for at, kind, b, span in list(walk(sec)):
            if kind != "plain":
                continue
            c = ccob_encode(int(argv[2]), int(argv[3]), b)
            assert len(c) <= span
            elf[off + at:off + at + span] = c + bytes(span - len(c))
        open(argv[5], "wb").write(elf)
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
