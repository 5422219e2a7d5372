#!/usr/bin/python3
"""Build the load benchmark's image from files on this machine (stdlib only).

    /usr/bin/python3 bench/make_big_image.py [--profile full|quick|5g] [--force] OUTDIR

writes, once (a second call with the same profile and builder version only
prints the summary of what is there):

    OUTDIR/docker-archive.tar   `docker save` layout (legacy style, docker < 25:
                                <id>/layer.tar, <config>.json, manifest.json,
                                repositories) whose layer.tar files are gzip
                                streams, so that loading it has to decompress
    OUTDIR/oci-archive.tar      the same image as a tar of an OCI layout
                                (tag "latest"), same layer blobs
    OUTDIR/layers/layerN.tar.gz the five layer blobs
    OUTDIR/info.json            sizes, entry counts, digests (read by load.sh)

The "full" profile is ~1 GB uncompressed in ~18k entries:

  1 library   a large library directory (/usr/local/cuda/lib, then
              /usr/lib/x86_64-linux-gnu to fill up), capped at 400 MB
  2 small     many small files: /usr/include, /usr/share/doc (15k entries)
  3 random    200 MB of incompressible data from a seeded PRNG (deterministic)
  4 docs      /usr/share/locale, /usr/share/man, /usr/share/info (~150 MB)
  5 config    a small config layer: copies of /etc files, generated files,
              a hard link, a symlink, a whiteout and an opaque directory

"quick" is the same shape at ~1/10 of the size (~100 MB) for smoke runs.
"5g" (bench/lazy.sh --size 5g, issue 40's image) is 5.3 GB in 6 layers: CUDA
libraries (2.5 GB), a generated Python-like tree of 50k small files, 1.3 GB
incompressible, system libraries, docs, config; only docker-archive.tar is
written (3.4 GB on disk; built in 23 min here). The shapes: bench/image_profiles.py.

Tar members are written in sorted order with mtime 0 and uid/gid 0 (modes
and symlink targets as on disk); hard links inside one layer are kept as
hard links.  Layers are compressed with `pigz -n -T -6` (python's gzip if
pigz is missing).  The bytes depend on the files of this machine, but the
same machine gives the same image.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import stat
import subprocess
import sys
import tarfile
import time
from pathlib import Path

from image_profiles import MB, PROFILES, SEED, fill_pytree

VERSION = 3  # bump when the image changes shape; invalidates caches

class HashWriter:
    """File object for tarfile: hashes (diff_id) and forwards to a sink."""

    def __init__(self, sink):
        self.sink = sink
        self.h = hashlib.sha256()
        self.n = 0

    def write(self, b):
        self.h.update(b)
        self.n += len(b)
        self.sink.write(b)
        return len(b)

    def flush(self):
        pass


class PRNGReader:
    """read(n) from an endless deterministic byte stream (chunked so the
    bytes do not depend on how the caller slices its reads)."""

    CHUNK = 1 << 20

    def __init__(self, seed):
        self.rnd = random.Random(seed)
        self.buf = b""

    def read(self, n):
        while len(self.buf) < n:
            self.buf += self.rnd.randbytes(self.CHUNK)
        out, self.buf = self.buf[:n], self.buf[n:]
        return out


def _ti(name, type_, mode, size=0, linkname=""):
    ti = tarfile.TarInfo(name)
    ti.type = type_
    ti.mode = mode
    ti.size = size
    ti.linkname = linkname
    ti.mtime = 0
    ti.uid = ti.gid = 0
    ti.uname = ti.gname = "root"
    return ti


class LayerWriter:
    """Streams one layer: tar -> sha256 (diff_id) -> pigz -> file."""

    def __init__(self, path: Path):
        self.path = path
        self.out = open(path, "wb")
        self.pigz = None
        if shutil.which("pigz"):
            self.pigz = subprocess.Popen(["pigz", "-n", "-T", "-6", "-c"],
                                         stdin=subprocess.PIPE, stdout=self.out)
            sink = self.pigz.stdin
        else:
            import gzip
            sink = gzip.GzipFile(fileobj=self.out, mode="wb",
                                 compresslevel=6, mtime=0, filename="")
            self._gz = sink
        self.hw = HashWriter(sink)
        self.tar = tarfile.open(fileobj=self.hw, mode="w|",
                                format=tarfile.PAX_FORMAT, bufsize=1 << 20)
        self.dirs: set[str] = set()
        self.inodes: dict[tuple[int, int], str] = {}
        self.entries = 0
        self.bytes = 0
        self.files = 0

    def _parents(self, name):
        parts = name.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            d = "/".join(parts[:i])
            if d not in self.dirs:
                self.dirs.add(d)
                self.tar.addfile(_ti(d, tarfile.DIRTYPE, 0o755))
                self.entries += 1

    def add_dir(self, name, mode=0o755):
        self._parents(name)
        if name in self.dirs:
            return
        self.dirs.add(name)
        self.tar.addfile(_ti(name, tarfile.DIRTYPE, mode))
        self.entries += 1

    def add_symlink(self, name, target):
        self._parents(name)
        self.tar.addfile(_ti(name, tarfile.SYMTYPE, 0o777, linkname=target))
        self.entries += 1

    def add_hardlink(self, name, target):
        self._parents(name)
        self.tar.addfile(_ti(name, tarfile.LNKTYPE, 0o644, linkname=target))
        self.entries += 1

    def add_data(self, name, fileobj, size, mode=0o644):
        self._parents(name)
        self.tar.addfile(_ti(name, tarfile.REGTYPE, mode, size), fileobj)
        self.entries += 1
        self.files += 1
        self.bytes += size

    def add_bytes(self, name, data: bytes, mode=0o644):
        import io
        self.add_data(name, io.BytesIO(data), len(data), mode)

    def close(self):
        self.tar.close()
        if self.pigz:
            self.pigz.stdin.close()
            if self.pigz.wait() != 0:
                raise SystemExit(f"pigz failed writing {self.path}")
        else:
            self._gz.close()
        self.out.close()
        return {"diff_id": "sha256:" + self.hw.h.hexdigest(),
                "tar_size": self.hw.n, "entries": self.entries,
                "files": self.files, "content_bytes": self.bytes}


def _walk(top: Path):
    """Depth-first, sorted: yields (path, lstat) for top's contents."""
    try:
        with os.scandir(top) as it:
            ents = sorted(it, key=lambda e: e.name)
    except OSError:
        return
    for e in ents:
        try:
            st = e.stat(follow_symlinks=False)
        except OSError:
            continue
        yield Path(e.path), st
        if stat.S_ISDIR(st.st_mode):
            yield from _walk(Path(e.path))


def fill_from_dirs(lw: LayerWriter, sources, max_bytes, max_entries):
    """Copy trees into the layer (name = absolute path without '/'),
    skipping files that do not fit the byte caps, stopping at the entry
    caps.  Returns the source directories actually used."""
    used = []
    for src, s_bytes, s_entries in sources:
        top = Path(src)
        if not top.is_dir():
            continue
        top = top.resolve()  # /usr/local/cuda/lib64 -> lib etc.
        e0, b0 = lw.entries, lw.bytes
        took = False

        def full():
            return ((max_entries and lw.entries >= max_entries) or
                    (s_entries and lw.entries - e0 >= s_entries))

        if full():
            break
        lw.add_dir(str(top).lstrip("/"))
        for p, st in _walk(top):
            if full():
                break
            name = str(p).lstrip("/")
            if stat.S_ISDIR(st.st_mode):
                lw.add_dir(name, stat.S_IMODE(st.st_mode) | 0o700)
            elif stat.S_ISLNK(st.st_mode):
                lw.add_symlink(name, os.readlink(p))
            elif stat.S_ISREG(st.st_mode):
                if ((max_bytes and lw.bytes + st.st_size > max_bytes) or
                        (s_bytes and lw.bytes - b0 + st.st_size > s_bytes)):
                    continue
                key = (st.st_dev, st.st_ino)
                if st.st_nlink > 1 and key in lw.inodes:
                    lw.add_hardlink(name, lw.inodes[key])
                    continue
                try:
                    f = open(p, "rb")
                except OSError:
                    continue
                with f:
                    lw.add_data(name, f, st.st_size,
                                stat.S_IMODE(st.st_mode) & 0o7777)
                if st.st_nlink > 1:
                    lw.inodes[key] = name
            took = True
        if took:
            used.append(src)
        if max_entries and lw.entries >= max_entries:
            break
    return used


def fill_random(lw: LayerWriter, total):
    """~total bytes in files of several sizes, deterministic content."""
    rd = PRNGReader(SEED)
    sizes = []
    big = total // 4  # 2 x 1/4, then 1/32 chunks, then 1/200 chunks
    sizes += [big, big]
    rest = total - 2 * big
    mid = total // 32
    while rest >= mid and len(sizes) < 2 + 8:
        sizes.append(mid)
        rest -= mid
    small = max(total // 200, 4096)
    while rest >= small:
        sizes.append(small)
        rest -= small
    if rest:
        sizes.append(rest)
    lw.add_dir("opt/bench/random")
    for i, s in enumerate(sizes):
        lw.add_data(f"opt/bench/random/blob-{i:03d}.bin", rd, s)
    return ["seeded PRNG (python random, seed %d)" % SEED]


def fill_config(lw: LayerWriter, whiteout: str | None, opaque: str | None):
    for f in ("/etc/os-release", "/etc/debian_version", "/etc/passwd",
              "/etc/group", "/etc/hosts", "/etc/nsswitch.conf",
              "/etc/ld.so.conf", "/etc/bash.bashrc", "/etc/profile"):
        p = Path(f).resolve()
        if p.is_file():
            lw.add_bytes(f.lstrip("/"), p.read_bytes())
    rnd = random.Random(SEED + 5)
    for i in range(64):
        body = json.dumps({"name": f"service-{i:02d}", "port": 8000 + i,
                           "replicas": rnd.randint(1, 9),
                           "env": {f"K{j}": f"v{rnd.randint(0, 10**6)}"
                                   for j in range(rnd.randint(1, 12))}},
                          sort_keys=True, indent=2) + "\n"
        lw.add_bytes(f"etc/bench/conf.d/{i:02d}-service.json", body.encode())
    lw.add_bytes("etc/bench/app.conf", b"# gantry load benchmark\nlevel=info\n")
    lw.add_hardlink("etc/bench/app.conf.link", "etc/bench/app.conf")
    lw.add_symlink("etc/bench/current", "conf.d/00-service.json")
    lw.add_bytes("usr/local/bin/bench-entry", b"#!/bin/sh\nexec \"$@\"\n", 0o755)
    if whiteout:  # delete one file of an earlier layer
        d, _, base = whiteout.rpartition("/")
        lw.add_bytes(f"{d}/.wh.{base}", b"")
    if opaque:  # hide an earlier layer's directory contents
        lw.add_dir(opaque)
        lw.add_bytes(f"{opaque}/.wh..wh..opq", b"")
        lw.add_bytes(f"{opaque}/replaced.txt", b"replaced by the config layer\n")
    return ["/etc (a few files) + generated"]


def first_file_and_dir(layer_path: Path):
    """A regular file and a directory two levels deep from a built layer
    (for the whiteout and the opaque directory of the config layer)."""
    import gzip
    f = d = None
    with gzip.open(layer_path, "rb") as g, tarfile.open(fileobj=g, mode="r|") as t:
        for m in t:
            if f is None and m.isfile() and m.name.count("/") >= 3:
                f = m.name
            if d is None and m.isdir() and m.name.count("/") >= 3 and \
                    (f is None or not f.startswith(m.name + "/")):
                d = m.name
            if f and d:
                break
    return f, d


def sha256_file(p: Path):
    h = hashlib.sha256()
    with open(p, "rb") as f:
        while b := f.read(1 << 20):
            h.update(b)
    return "sha256:" + h.hexdigest(), p.stat().st_size


def canonical(obj) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def add_bytes_member(tar, name, data: bytes):
    import io
    ti = _ti(name, tarfile.REGTYPE, 0o644, len(data))
    tar.addfile(ti, io.BytesIO(data))


def add_file_member(tar, name, path: Path):
    ti = _ti(name, tarfile.REGTYPE, 0o644, path.stat().st_size)
    with open(path, "rb") as f:
        tar.addfile(ti, f)


def build(profile: str, out: Path):
    prof = PROFILES[profile]
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "layers").mkdir(parents=True)
    layers = []
    t0 = time.time()
    for i, (kind, spec, max_bytes, max_entries) in enumerate(prof["layers"], 1):
        path = tmp / "layers" / f"layer{i}.tar.gz"
        lw = LayerWriter(path)
        if spec == "random":
            used = fill_random(lw, max_bytes)
        elif spec == "pytree":
            used = fill_pytree(lw, max_bytes, max_entries)
        elif spec == "config":
            wf, od = first_file_and_dir(tmp / "layers" / "layer2.tar.gz")
            used = fill_config(lw, wf, od)
        else:
            used = fill_from_dirs(lw, spec, max_bytes, max_entries)
        meta = lw.close()
        digest, size = sha256_file(path)
        meta.update(kind=kind, sources=used, blob=digest, blob_size=size,
                    file=f"layers/layer{i}.tar.gz")
        layers.append(meta)
        print(f"  layer {i} ({kind}): {meta['tar_size'] / MB:.0f} MB tar, "
              f"{meta['entries']} entries -> {size / MB:.0f} MB gzip "
              f"[{time.time() - t0:.0f}s]", file=sys.stderr, flush=True)

    history = [{"created": "1970-01-01T00:00:00Z",
                "created_by": f"bench layer {i}: {l['kind']} from "
                              + ", ".join(l["sources"])}
               for i, l in enumerate(layers, 1)]
    config = {
        "architecture": "amd64", "os": "linux",
        "created": "1970-01-01T00:00:00Z",
        "config": {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin"
                           ":/usr/bin:/sbin:/bin"],
                   "Cmd": ["/bin/sh"]},
        "rootfs": {"type": "layers",
                   "diff_ids": [l["diff_id"] for l in layers]},
        "history": history,
    }
    cfg = canonical(config)
    cfg_hex = hashlib.sha256(cfg).hexdigest()

    # docker save (legacy layout), gzip layer.tar files
    tag = prof["tag"]
    repo, _, tagname = tag.rpartition(":")
    with tarfile.open(tmp / "docker-archive.tar", "w",
                      format=tarfile.PAX_FORMAT) as tar:
        parent, paths = "", []
        for l in layers:
            lid = hashlib.sha256(f"{parent} {l['blob']}".encode()).hexdigest()
            v1 = {"id": lid, "created": "1970-01-01T00:00:00Z"}
            if parent:
                v1["parent"] = parent
            add_bytes_member(tar, f"{lid}/VERSION", b"1.0")
            add_bytes_member(tar, f"{lid}/json", canonical(v1))
            add_file_member(tar, f"{lid}/layer.tar", tmp / l["file"])
            paths.append(f"{lid}/layer.tar")
            parent = lid
        add_bytes_member(tar, f"{cfg_hex}.json", cfg)
        add_bytes_member(tar, "manifest.json", canonical(
            [{"Config": f"{cfg_hex}.json", "RepoTags": [tag], "Layers": paths}]))
        add_bytes_member(tar, "repositories", canonical({repo: {tagname: parent}}))

    # OCI archive of the same image
    archives = prof.get("archives", ("docker", "oci"))
    manifest = canonical({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": "sha256:" + cfg_hex, "size": len(cfg)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": l["blob"], "size": l["blob_size"]}
                   for l in layers],
    })
    man_hex = hashlib.sha256(manifest).hexdigest()
    index = canonical({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
                       "digest": "sha256:" + man_hex, "size": len(manifest),
                       "annotations": {"org.opencontainers.image.ref.name": tagname}}],
    })
    if "oci" in archives:
        with tarfile.open(tmp / "oci-archive.tar", "w",
                          format=tarfile.PAX_FORMAT) as tar:
            add_bytes_member(tar, "oci-layout", canonical({"imageLayoutVersion": "1.0.0"}))
            add_bytes_member(tar, "index.json", index)
            add_bytes_member(tar, f"blobs/sha256/{man_hex}", manifest)
            add_bytes_member(tar, f"blobs/sha256/{cfg_hex}", cfg)
            for l in layers:
                add_file_member(tar, f"blobs/sha256/{l['blob'][7:]}", tmp / l["file"])

    info = {
        "version": VERSION, "profile": profile, "tag": tag, "rev": prof.get("rev", 1),
        "docker_archive": "docker-archive.tar", "oci_archive": "oci-archive.tar",
        "docker_archive_size": (tmp / "docker-archive.tar").stat().st_size,
        "oci_archive_size": (tmp / "oci-archive.tar").stat().st_size
        if "oci" in archives else 0,
        "config_digest": "sha256:" + cfg_hex,
        "oci_manifest_digest": "sha256:" + man_hex,
        "tar_size": sum(l["tar_size"] for l in layers),
        "content_bytes": sum(l["content_bytes"] for l in layers),
        "entries": sum(l["entries"] for l in layers),
        "files": sum(l["files"] for l in layers),
        "blob_size": sum(l["blob_size"] for l in layers),
        "layers": layers,
        "build_seconds": round(time.time() - t0, 1),
    }
    if not prof.get("keep_layers", True):
        shutil.rmtree(tmp / "layers")
    (tmp / "info.json").write_text(json.dumps(info, indent=2) + "\n")
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    return info


def summary(info, out: Path) -> str:
    def mb(n):
        return f"{n / 1048576:8.1f} MiB"
    lines = [
        f"image {info['tag']} ({info['profile']} profile) in {out}",
        f"  docker archive {mb(info['docker_archive_size'])}   "
        f"oci archive {mb(info['oci_archive_size'])}" if info["oci_archive_size"]
        else "  (no oci archive)",
        f"  unpacked: {mb(info['content_bytes'])} of file data, "
        f"{info['entries']} entries ({info['files']} regular files), "
        f"{mb(info['tar_size'])} of tar",
        "  layer  kind      gzip blob     tar           entries  ratio  sources",
    ]
    for i, l in enumerate(info["layers"], 1):
        lines.append(
            f"  {i:<5}  {l['kind']:<8} {mb(l['blob_size'])} {mb(l['tar_size'])} "
            f"{l['entries']:8d}  {l['blob_size'] / max(l['tar_size'], 1):5.2f}  "
            + ", ".join(l["sources"]))
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--profile", choices=sorted(PROFILES), default="full")
    ap.add_argument("--force", action="store_true", help="rebuild even if cached")
    ap.add_argument("out", type=Path)
    a = ap.parse_args()
    out = a.out.absolute()
    info = None
    ij = out / "info.json"
    if ij.is_file() and not a.force:
        try:
            info = json.loads(ij.read_text())
            if info.get("version") != VERSION or info.get("profile") != a.profile \
                    or info.get("rev", 1) != PROFILES[a.profile].get("rev", 1) \
                    or not (out / "docker-archive.tar").is_file():
                info = None
        except ValueError:
            info = None
    if info is None:
        print(f"building the {a.profile} benchmark image in {out} "
              "(once; cached afterwards)", file=sys.stderr, flush=True)
        out.parent.mkdir(parents=True, exist_ok=True)
        info = build(a.profile, out)
    else:
        print(f"using the cached image in {out} (--force rebuilds)",
              file=sys.stderr)
    print(summary(info, out))


if __name__ == "__main__":
    main()
