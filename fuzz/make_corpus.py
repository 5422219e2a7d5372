#!/usr/bin/env python3
"""Builds the seed corpus of every fuzz target: make_corpus.py OUT_DIR writes OUT_DIR/<target>/.

Seeds come from the repository, so the corpus follows the tests without being copied into git:
  - string literals of the unit tests (ordinary literals, adjacent ones joined, and raw strings)
    that look like the target's input: CDI specs, Dockerfiles, NVIDIA_REQUIRE expressions,
    WWW-Authenticate headers, auth files, dive CI files, sizes, image references;
  - tests/fixtures/dockerfiles/* and their RUN lines (for the shell splitter);
  - layer tars built here with Python's tarfile (files, links, whiteouts, PAX xattrs, devices,
    long names, hostile names) and small JSON documents written below;
  - the binary seeds checked in under fuzz/corpus/<target>/ (a few KB each: nvcc fat binaries,
    a clang HIP bundle, small ELF shared objects, tiny ld.so.cache files of each format).
Only the Python standard library is used. Each seed is named by its SHA-1, so reruns are stable.
"""
from __future__ import annotations

import glob
import hashlib
import io
import json
import os
import re
import sys
import tarfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
MAX_SEED = 64 * 1024


def cxx_literals(path: str) -> list[str]:
    """The string literals of a C++ file: raw strings, and ordinary ones with adjacent literals
    (separated by blanks or comments only) joined, escapes decoded."""
    src = open(path, encoding="utf-8", errors="replace").read()
    out: list[str] = []
    i, n = 0, len(src)
    pending: list[str] | None = None  # adjacent ordinary literals being joined

    def flush() -> None:
        nonlocal pending
        if pending is not None:
            out.append("".join(pending))
            pending = None

    while i < n:
        c = src[i]
        if src.startswith("//", i):
            i = src.find("\n", i)
            i = n if i < 0 else i
            continue
        if src.startswith("/*", i):
            j = src.find("*/", i + 2)
            i = n if j < 0 else j + 2
            continue
        m = re.compile(r'(?:u8|[uUL])?R"([^ ()\\\t\n]{0,16})\(').match(src, i)
        if m and (i == 0 or not (src[i - 1].isalnum() or src[i - 1] == "_")):
            flush()
            end = src.find(")" + m.group(1) + '"', m.end())
            if end < 0:
                break
            out.append(src[m.end():end])
            i = end + len(m.group(1)) + 2
            continue
        if c == "'":  # a character literal ('"', '\'')
            m = re.compile(r"'(\\.|[^\\'])*'").match(src, i)
            i = m.end() if m else i + 1
            continue
        if c == '"':
            j, buf = i + 1, []
            while j < n and src[j] != '"':
                if src[j] == "\\" and j + 1 < n:
                    esc = src[j + 1]
                    simple = {"n": "\n", "t": "\t", "r": "\r", "0": "\0", "\\": "\\", '"': '"',
                              "'": "'", "a": "\a", "b": "\b", "f": "\f", "v": "\v", "?": "?"}
                    if esc == "x":
                        h = re.compile(r"[0-9a-fA-F]+").match(src, j + 2)
                        buf.append(chr(int(h.group(0), 16) & 0xFF) if h else "x")
                        j = h.end() if h else j + 2
                        continue
                    if esc in "01234567":
                        o = re.compile(r"[0-7]{1,3}").match(src, j + 1)
                        buf.append(chr(int(o.group(0), 8) & 0xFF))
                        j = o.end()
                        continue
                    buf.append(simple.get(esc, esc))
                    j += 2
                    continue
                buf.append(src[j])
                j += 1
            if pending is None:
                pending = []
            pending.append("".join(buf))
            i = j + 1
            continue
        if not c.isspace():
            flush()
        i += 1
    flush()
    return out


def literals(patterns: list[str], keep) -> list[str]:
    found = []
    for pat in patterns:
        paths = sorted(glob.glob(os.path.join(REPO, pat), recursive=True))
        for path in paths or sys.exit(f"make_corpus.py: no file matches {pat} (a test moved?)"):
            found += [s for s in cxx_literals(path) if s and len(s) <= MAX_SEED and keep(s)]
    return found


def tar_bytes(build) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=build.get("format", tarfile.PAX_FORMAT)) as t:
        for member in build["members"]:
            info = tarfile.TarInfo(member["name"])
            info.type = member.get("type", tarfile.REGTYPE)
            info.mode = member.get("mode", 0o644)
            info.uid, info.gid = member.get("uid", 0), member.get("gid", 0)
            info.linkname = member.get("link", "")
            info.devmajor, info.devminor = member.get("dev", (0, 0))
            info.pax_headers = member.get("pax", {})
            info.mtime = 1700000000
            data = member.get("data", b"")
            info.size = len(data) if info.type == tarfile.REGTYPE else 0
            t.addfile(info, io.BytesIO(data) if info.type == tarfile.REGTYPE else None)
    return buf.getvalue()


def layer_tars() -> list[bytes]:
    elf = open(os.path.join(HERE, "corpus/elf/libfuzzseed.so.1"), "rb").read()
    fatbin_o = open(os.path.join(HERE, "corpus/fatbin/nvcc-sm75.o"), "rb").read()
    hip_o = open(os.path.join(HERE, "corpus/hip_bundle/clang14-gfx90a-gfx1030.o"), "rb").read()
    D, S, L, C, B, F = (tarfile.DIRTYPE, tarfile.SYMTYPE, tarfile.LNKTYPE, tarfile.CHRTYPE,
                        tarfile.BLKTYPE, tarfile.FIFOTYPE)
    layers = [
        [{"name": "etc", "type": D, "mode": 0o755},
         {"name": "etc/hostname", "data": b"fuzz\n"},
         {"name": "bin", "type": D},
         {"name": "bin/sh", "data": b"#!/bin/true\n", "mode": 0o755},
         {"name": "bin/ash", "type": L, "link": "bin/sh"},
         {"name": "bin/link", "type": S, "link": "../etc/hostname"}],
        [{"name": "./usr/lib/libfuzzseed.so.1", "data": elf, "mode": 0o755},
         {"name": "./usr/lib/libk.o", "data": fatbin_o},
         {"name": "./usr/lib/libhip.o", "data": hip_o}],
        [{"name": "etc/.wh.hostname"}, {"name": "var/cache/.wh..wh..opq"},
         {"name": "var/cache/new", "data": b"x"}],
        [{"name": "usr/bin/su", "data": b"su", "mode": 0o4755, "uid": 1000, "gid": 1000},
         {"name": "dev/null", "type": C, "dev": (1, 3)},
         {"name": "dev/sda", "type": B, "dev": (8, 0)},
         {"name": "run/fifo", "type": F},
         {"name": "file-xattr", "data": b"x", "pax": {"SCHILY.xattr.user.a": "1",
                                                       "SCHILY.xattr.security.capability": "c"}}],
        [{"name": "d/" * 60 + "deep", "data": b"long name"},
         {"name": "abs", "type": S, "link": "/etc/passwd"},
         {"name": "abs/escape", "data": b"through the symlink"}],
        [{"name": "../escape", "data": b"dotdot"}],
        [{"name": "/etc/absolute", "data": b"made relative"},
         {"name": "hard", "type": L, "link": "/etc/absolute"}],
        [{"name": "dir", "type": D, "mode": 0o000}, {"name": "dir/f", "data": b"in a 0000 dir"}],
    ]
    out = [tar_bytes({"members": m}) for m in layers]
    out.append(tar_bytes({"members": layers[0], "format": tarfile.GNU_FORMAT}))
    out.append(tar_bytes({"members": layers[0], "format": tarfile.USTAR_FORMAT}))
    return out


def import_tarballs() -> list[bytes]:
    """Root filesystem tars as `gantry import` takes them: plain, and through each of the
    compressions its tar reader's filters read (stdlib's gzip, bz2 and lzma: xz and legacy
    lzma; zstd's frame of a plain stored block, written by hand)."""
    import bz2
    import gzip
    import lzma
    root = [{"name": ".", "type": tarfile.DIRTYPE}, {"name": "./bin", "type": tarfile.DIRTYPE},
            {"name": "./bin/sh", "data": b"#!/bin/true\n", "mode": 0o755},
            {"name": "./etc/passwd", "data": b"root:x:0:0::/root:/bin/sh\n"}]
    plain = tar_bytes({"members": root})
    out = [plain, gzip.compress(plain, mtime=0), bz2.compress(plain), lzma.compress(plain),
           lzma.compress(plain, format=lzma.FORMAT_ALONE)]
    # zstd: magic, a frame header with the content size, one raw block (the last)
    n = len(plain)
    out.append(b"\x28\xb5\x2f\xfd" + bytes([0x20 | 0x80]) + n.to_bytes(4, "little")
               + ((n << 3) | 1).to_bytes(3, "little") + plain)
    return out


def oci_json() -> list[str]:
    a, b, c = ("sha256:" + ch * 64 for ch in "abc")
    cfg = {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": a, "size": 7}
    layer = {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": b, "size": 32,
             "annotations": {"k": "v"}, "urls": ["https://example.com/l"]}
    docs = [
        {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
         "config": cfg, "layers": [layer], "annotations": {"org.opencontainers.image.ref.name": "1"}},
        {"schemaVersion": 2,
         "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
         "config": dict(cfg, mediaType="application/vnd.docker.container.image.v1+json"),
         "layers": [dict(layer, mediaType="application/vnd.docker.image.rootfs.diff.tar.gzip")]},
        {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
         "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": c,
                        "size": 500, "platform": {"os": "linux", "architecture": "arm64",
                                                  "variant": "v8", "os.version": "1"}}]},
        {"schemaVersion": 1, "name": "x", "tag": "latest", "fsLayers": []},
        {"architecture": "amd64", "os": "linux", "created": "2024-05-01T12:34:56Z",
         "config": {"Env": ["PATH=/bin", "CUDA_VERSION=12.4.1"], "Cmd": ["sh"],
                    "Labels": {"a": "b"}, "User": "1000:1000", "WorkingDir": "/w"},
         "rootfs": {"type": "layers", "diff_ids": [a, b]},
         "history": [{"created_by": "RUN x", "empty_layer": True}, {"comment": "c"}]},
    ]
    return [json.dumps(d) for d in docs]


def docker_manifests() -> list[str]:
    good = {"Config": "config.json", "RepoTags": ["fuzz/image:1"], "Layers": ["layer.tar"]}
    return [json.dumps(d) for d in [
        [good],
        [good, {"Config": "config2.json", "RepoTags": ["fuzz/empty:latest"], "Layers": []}],
        [{"Config": "config.json", "Layers": ["layer.tar"]}],
        [dict(good, LayerSources={"sha256:" + "a" * 64: {"size": 1}})],
        [{"Config": "missing.json", "Layers": []}],
    ]]


KFD_NODE = """cpu_cores_count 0
simd_count 1216
mem_banks_count 1
caches_count 0
io_links_count 0
p2p_links_count 0
cpu_core_id_base 0
simd_id_base 2147487744
max_waves_per_simd 8
lds_size_in_kb 64
gfx_target_version 90402
vendor_id 4098
device_id 29857
location_id 3072
domain 0
drm_render_minor 128
hive_id 0
local_mem_size 206141652992
capability 671588992
unique_id 1234567890123
num_xcc 8
max_engine_clk_ccompute 3000
"""


def oci_bundles() -> list[str]:
    """config.json variants for fuzz_oci_bundle (runc spec's own output is checked in under
    fuzz/corpus/oci_bundle/): sysctls, UTS names, a cwd, seccomp, resources, hooks."""
    base = {"ociVersion": "1.0.2", "root": {"path": "rootfs", "readonly": True},
            "process": {"args": ["sh"], "cwd": "/", "env": ["PATH=/bin"],
                        "user": {"uid": 0, "gid": 0, "additionalGids": [5]},
                        "capabilities": {"bounding": ["CAP_KILL"], "effective": ["CAP_KILL"]},
                        "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}]},
            "hostname": "box",
            "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"},
                       {"destination": "/data", "type": "bind", "source": "/srv",
                        "options": ["rbind", "ro"]}],
            "linux": {"namespaces": [{"type": t} for t in ("pid", "mount", "ipc", "uts",
                                                          "network")],
                      "sysctl": {"net.ipv4.ip_forward": "1", "kernel.shmmax": "4096",
                                 "net/ipv4/conf/eth0.100/rp_filter": "0"},
                      "maskedPaths": ["/proc/kcore"], "readonlyPaths": ["/proc/sys"],
                      "uidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}],
                      "devices": [{"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229,
                                   "fileMode": 438}],
                      "resources": {"pids": {"limit": 64}, "memory": {"limit": 1048576}},
                      "seccomp": {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
                          {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"}]}},
            "hooks": {"createContainer": [{"path": "/usr/bin/gantry",
                                           "args": ["gantry", "hook", "update-ldcache"]}]},
            "annotations": {"cdi.k8s.io/gantry": "nvidia.com/gpu=0"}}
    out = [json.dumps(base)]
    bad = json.loads(out[0])
    bad["linux"]["sysctl"] = {"kernel.hostname": "x", "net/../../etc/passwd": "1"}
    bad["process"]["cwd"] = "relative"
    out.append(json.dumps(bad))
    return out


def oci_states() -> list[str]:
    """state.json as ocirt::save writes it, for fuzz_oci_state (id "ctr")."""
    config = json.loads(oci_bundles()[0])
    state = {"id": "ctr", "bundle": "/b", "rootfs": "/b/rootfs", "created":
             "2026-11-25T12:00:00.000000000Z", "pid": 4242, "pid_start": 123456,
             "config": config}
    with_cgroup = dict(state, cgroup={"version": 2, "path": "/sys/fs/cgroup/gantry/ctr"})
    with_monitor = dict(state, monitor={"pid": 4243, "start": 123450})  # a lazy root's
    return [json.dumps(state), json.dumps(with_cgroup), json.dumps(with_monitor),
            json.dumps(dict(state, pid=-1)), json.dumps(dict(state, id="other"))]


def sif_seeds() -> list:
    """(fuzz_sif_container.cpp) SIFs written by tests/fixtures/sif_files.py: a good one (the
    partition and a labels object), a multi-arch one, and each hostile case of the e2e test."""
    sys.path.insert(0, os.path.join(REPO, "tests", "fixtures"))
    import sif_files  # noqa: E402
    sqsh = b"hsqs" + b"\0" * 92
    good = sif_files.sif([({}, sqsh), ({"dtype": sif_files.LABELS}, b'{"a": "b"}')], capacity=4)
    multi = sif_files.sif([({"arch": "arm64"}, sqsh),
                           ({"part": sif_files.SYSTEM, "arch": "amd64"}, sqsh)], capacity=4)
    oci = sif_files.oci_sif(sqsh, {"architecture": "amd64", "os": "linux", "config": {}})
    return [good, multi, oci] + [v for v, _ in sif_files.hostile(sqsh).values()]


def seeds() -> dict[str, list]:
    # the fixture Dockerfiles (not the lint corpus' directory beside them)
    dockerfiles = [open(p).read() for p in
                   sorted(glob.glob(os.path.join(REPO, "tests/fixtures/dockerfiles/*")))
                   if os.path.isfile(p)]
    lint_tests = ["tests/unit/lint/*.cpp"]
    run_lines = [m.group(1) for d in dockerfiles
                 for m in re.finditer(r"^RUN\s+(.*(?:\\\n.*)*)", d, re.M)]
    return {
        "reference": literals(["tests/unit/oci/test_reference_*.cpp",
                               "tests/unit/oci/reference_test_support.hpp"],
                              lambda s: len(s) < 300 and "\n" not in s),
        "oci_json": oci_json(),
        "docker_archive": docker_manifests(),
        "cdi_spec": literals(["tests/unit/cdi/*.cpp", "tests/unit/cdi/*.hpp"],
                             lambda s: "cdiVersion" in s),
        # Apptainer definition files: the e2e corpus and the unit tests' (fuzz_deffile.cpp)
        "deffile": [open(p).read() for p in
                    sorted(glob.glob(os.path.join(REPO, "tests/fixtures/deffiles/*.def")))] +
        literals(["tests/unit/deffile/*.cpp"], lambda s: "Bootstrap:" in s),
        "dockerfile": dockerfiles + literals(
            lint_tests, lambda s: re.search(r"^\s*(FROM|ARG)\s", s, re.M | re.I) is not None),
        "shell": run_lines + literals(
            lint_tests, lambda s: s.startswith("RUN ") or "&&" in s or "pip install" in s),
        "require": literals(["tests/unit/gpu_vendors/nvidia/test_require.cpp"],
                            lambda s: re.search(r"(cuda|driver|arch|brand)\s*[<>=!]", s, re.I)
                            or "NVIDIA_" in s or "CUDA_VERSION" in s),
        # the referrers index (API or tag schema) and a kernel cache artifact's manifest
        "referrers": [json.dumps({"schemaVersion": 2, "mediaType":
                                  "application/vnd.oci.image.index.v1+json", "manifests": [
                                      {"mediaType": "application/vnd.oci.image.manifest.v1+json",
                                       "digest": "sha256:" + "a" * 64, "size": 812,
                                       "artifactType": "application/vnd.gantry.kernel-cache.v1",
                                       "annotations": {"io.gantry.kernel-cache.key": "0" * 32}},
                                      {"mediaType": "application/vnd.oci.image.manifest.v1+json",
                                       "digest": "sha256:" + "b" * 64, "size": 7,
                                       "artifactType": "application/vnd.dev.cosign"}]}),
                      json.dumps({"schemaVersion": 2, "mediaType":
                                  "application/vnd.oci.image.manifest.v1+json",
                                  "artifactType": "application/vnd.gantry.kernel-cache.v1",
                                  "config": {"mediaType": "application/vnd.oci.empty.v1+json",
                                             "digest": "sha256:" + "4" * 64, "size": 2},
                                  "layers": [
                                      {"mediaType":
                                       "application/vnd.gantry.kernel-cache.facts.v1+json",
                                       "digest": "sha256:" + "c" * 64, "size": 200},
                                      {"mediaType":
                                       "application/vnd.gantry.kernel-cache.tree.v1.tar",
                                       "digest": "sha256:" + "d" * 64, "size": 10240}],
                                  "subject": {"mediaType":
                                              "application/vnd.oci.image.manifest.v1+json",
                                              "digest": "sha256:" + "e" * 64, "size": 500}})],
        "www_authenticate": literals(["tests/unit/registry/*.cpp"],
                                     lambda s: "realm" in s.lower() or
                                     s.lower().startswith(("bearer", "basic"))),
        # registries.conf, policy.json, registries.d and signature payloads (fuzz_site_policy)
        "site_policy": literals(["tests/unit/site/*.cpp"],
                                lambda s: "registry" in s or "default" in s or "critical" in s
                                or "lookaside" in s),
        "auth_file": literals(["tests/unit/registry/*.cpp"],
                              lambda s: "auths" in s or "credHelpers" in s or "credsStore" in s),
        "dive_ci": literals(["tests/unit/analyze/*.cpp"], lambda s: "rules" in s) +
        ["rules:\n  lowestEfficiency: 0.95\n  highestWastedBytes: 20MB\n"
         "  highestUserWastedPercent: disabled\n", "1.5 GiB", "0.9"],
        # --format templates (fuzz_gotemplate): the evaluator's tests' templates
        "gotemplate": literals(["tests/unit/gotemplate/*.cpp"], lambda s: "{{" in s) +
        ["table {{.ID}}\\t{{.Names}}", "{{json .}}", "json",
         '{{range $k, $v := .Config.Labels}}{{$k}}={{$v}}\n{{end}}',
         '{{.Label "a"}}\x00{"Y": [1, {"Z": "w"}]}', '{{index .X "Y" 1 "Z"}}\x00{"Y": [1, {"Z": "w"}]}'],
        "cli_values": literals(["tests/unit/util/test_units.cpp",
                                "tests/unit/runtime/test_resources.cpp"],
                               lambda s: len(s) < 40 and "\n" not in s),
        "kfd_properties": [KFD_NODE, KFD_NODE.replace("90402", "90010"), "simd_count 0\n"],
        "layer_tar": layer_tars(),
        "tar_split_recorder": layer_tars(),
        "analyze_layer": layer_tars(),
        "import_tarball": layer_tars() + import_tarballs(),
        "fatbin": [], "hip_bundle": [], "tailor_hip": [], "tailor_cuda": [], "elf": [],
        "intel_offload": [],
        "ldcache": [], "sqsh_header": [],
        # SIF files as the reference lays them out, and the tests' hostile ones
        # (tests/fixtures/sif_files.py), around a 96-byte squashfs superblock
        "sif_container": sif_seeds(),
        # a SIF signature's signed metadata (fuzz_sif_signature.cpp), as sif's integrity.Signer
        # writes it; and the SIFs above (unsigned: their groups are then reported unsigned)
        "sif_signature": sif_seeds() + [
            '{"version":1,"header":{"digest":"sha256:' + "ab" * 32 + '"},"objects":[{"relativeId"'
            ':0,"descriptorDigest":"sha256:' + "cd" * 32 + '","objectDigest":"sha512:' + "ef" * 64
            + '"}]}',
            # DSSE envelopes (sif/dsse.hpp) as sif 2.9's signer writes them, and odd shapes
            '{"payloadType":"application/vnd.sylabs.sif-metadata+json","payload":"eyJ2ZXJzaW9uIj'
            'oxfQ==","signatures":[{"keyid":"SHA256:z+Z3gOXRNxEU7sSHlsDMFfDK","sig":"MEUCIQ"}]}\n',
            '{"payloadType":"x","payload":"eyJ9-_","signatures":[{"sig":"AA"},{"keyid":"","sig":"A'
            'A=="}]}'],
        # dpkg status, copyright, METADATA, a licence text, a path: checked in under
        # fuzz/corpus/gpu_metadata/ (fuzz_gpu_metadata.cpp)
        "gpu_metadata": [],
        "sqsh_reader": [],  # only the images checked in under fuzz/corpus/sqsh_reader/
        # Engine API requests (fuzz_engine_api_request.cpp: method, target, then the filters
        # JSON), checked in under fuzz/corpus/engine_api_request/
        "engine_api_request": [],
        # the image, build, archive and volume endpoints' decoding (fuzz_engine_api_decode.cpp:
        # a byte picking the decoder, then its input), checked in under
        # fuzz/corpus/engine_api_decode/
        "engine_api_decode": [],
        # eStargz TOCs (fuzz_estargz_toc.cpp): JSON as estargz.Writer writes it, and hostile
        # shapes (chunks, hardlinks, whiteouts, names); a whole blob (gantry push --compression
        # estargz of a small layer) is checked in under fuzz/corpus/estargz_toc/
        "estargz_toc": estargz_tocs(),
        # zstd:chunked TOCs (fuzz_zstd_chunked_toc.cpp): JSON as Debian 12's skopeo writes it
        # (endOffset, a file's digest for its one chunk, chunkType zeros) and hostile shapes; a
        # whole blob skopeo wrote is checked in under fuzz/corpus/zstd_chunked_toc/
        "zstd_chunked_toc": zstd_chunked_tocs(),
        # tar-split JSON lines (fuzz_tar_split.cpp): segments, files with crc64, name_raw
        "tar_split": tar_splits(),
        # squashfs artifacts' block-digest tables (fuzz_squashfs_block_digests.cpp): as gantry
        # push writes them (1 MiB ranges), and a few hostile headers
        "squashfs_block_digests": block_digest_tables(),
        # a bundle's linux.seccomp (fuzz_seccomp_spec.cpp): the unit tests' profiles, and
        # containers/common's default (checked in under fuzz/corpus/seccomp_spec/)
        "seccomp_spec": [
            '{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir","mkdirat"],'
            '"action":"SCMP_ACT_ERRNO","errnoRet":38}]}',
            '{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":1,"architectures":'
            '["SCMP_ARCH_X86_64","SCMP_ARCH_X86"],"flags":["SECCOMP_FILTER_FLAG_LOG"],'
            '"syscalls":[{"names":["socket"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,'
            '"value":1,"op":"SCMP_CMP_EQ"},{"index":0,"value":2,"op":"SCMP_CMP_EQ"}]},'
            '{"names":["chmod"],"action":"SCMP_ACT_TRACE","errnoRet":5,"args":[{"index":1,'
            '"value":511,"valueTwo":448,"op":"SCMP_CMP_MASKED_EQ"}]}]}'],
        # a bundle's linux.resources (fuzz_linux_resources.cpp): runc spec's, podman's shape
        "linux_resources": [
            '{"devices":[{"allow":false,"access":"rwm"}]}',
            '{"memory":{"limit":67108864,"swap":134217728,"reservation":1048576,"swappiness":10},'
            '"cpu":{"shares":512,"quota":50000,"period":100000,"cpus":"0-1","mems":"0"},'
            '"pids":{"limit":2048},"blockIO":{"weight":500,"throttleReadBpsDevice":[{"major":8,'
            '"minor":0,"rate":1048576}]},"hugepageLimits":[{"pageSize":"2MB","limit":4194304}],'
            '"unified":{"memory.high":"50000000"},"devices":[{"allow":true,"type":"c",'
            '"major":1,"minor":3,"access":"rwm"}]}'],
        # gantry build's plan and instruction readers (fuzz_build_plan.cpp): the same Dockerfiles
        "build_plan": dockerfiles + [
            "ARG V=1\nFROM scratch AS a\nFROM a\nHEALTHCHECK --interval=1m30s CMD true\n"
            "COPY --from=a --chown=1:2 x y /z/\nRUN <<EOF\necho hi\nEOF\n"],
        "oci_bundle": oci_bundles(),
        "oci_state": oci_states(),
        # .dockerignore, a blank line, COPY sources (fuzz_build_context.cpp's fixed context)
        "build_context": ["\n\n.\n", "*.md\n!b.md\n\nsrc/*.c\n*.txt\ndocs\n",
                          "src/deep\n\n../a.txt\n/src/**\nescape/secret\nsrclink/main.c\n",
                          "\n\n[[]x]*\nloop\nsrc/deep/er/f\n"],
        # a driver root, one entry a line: KIND PREFIX PATH [TAB ARG] (fuzz_wsl_driver_store.cpp;
        # D usr/lib/wsl/drivers/, W usr/lib/wsl/lib/, O opt/, U usr/lib/x86_64-linux-gnu/)
        "wsl_driver_store": [
            "fWlibdxcore.so\tx\nfDnv_dispi.inf_amd64_1a2b/libcuda.so.1.1\t\x7fELF\n"
            "fDnv_dispi.inf_amd64_1a2b/libnvidia-ml.so.1\tm\nfDnv_dispi.inf_amd64_1a2b/nvidia-smi\ts\n"
            "fDnv_dispi.inf_amd64_1a2b/nvcubins.bin\tb\nfDnv_dispi.inf_amd64_1a2b/nvwgf2umx.dll\td\n"
            "lWlibcuda.so.1\tlibcuda.so.1.1\nfUlibcuda.so.1\tshadow\n",
            "dDiigd_dch.inf_amd64_ff/\nlDnv.inf_amd64_00\t/usr/lib/wsl/drivers/real\n"
            "fDreal/libcuda.so.1.1\tc\nlDreal/libnvidia-ml.so.1\t../../../../../etc/passwd\n"
            "lDreal/nvidia-smi\t/proc/self/exe\nlWlibdxcore.so\t../../../../../../etc/hostname\n",
            "lOrocm\t/opt/rocm-7.1.0\nfOrocm-7.1.0/lib/librocdxg.so\tr\nfWlibdxcore.so\tx\n"
            "fdev/dxg\t\n",
            "lOrocm/lib/librocdxg.so\t/etc/passwd\nfUlibrocdxg.so\tr\n",
            "lDloop\tloop\nlDa\tb\nlDb\ta\nlWlibdxcore.so\t/usr/lib/wsl/lib/libdxcore.so\n"
            "lUlibnvidia-ml.so.1\t/usr/lib/wsl/drivers/x/libnvidia-ml.so.1\n"],
        # a Jetson's L4T mount lists (fuzz_tegra_csv.cpp): nvidia-ctk's Orin lines, hostile ones
        "tegra_csv": [
            "dev, /dev/nvmap\ndev, /dev/nvhost-ctrl-gpu\ndev, /dev/nvgpu/igpu0/ctrl\n"
            "dev, /dev/dri/card*\ndir, /dev/dri/by-path\n",
            "lib, /usr/lib/aarch64-linux-gnu/nvidia/libcuda.so.1.1\r\n"
            "sym, /usr/lib/aarch64-linux-gnu/libcuda.so\n# comment\n\n"
            "dir, /usr/lib/aarch64-linux-gnu/tegra-egl\nlib, /etc/vulkansc/icd.d/x.json\n",
            "lib, /../../etc/shadow\nlib, etc/passwd\nmount, /x\ndev, /etc/shadow\n"
            "dev, /dev/*/x\ndir, /\ndir, /usr\nlib, /proc/1/root\nlib, /a\x01b\nlib,\nlib\n"],
        # .dockerignore text (fuzz_dockerignore.cpp)
        "dockerignore": ["node_modules\n**/*.pyc\n!keep.pyc\n# comment\n",
                         "*\n!src\nsrc/**/test_*\n../x\n/abs\n", "a/[b-d]?/**\n\\#x\n"],
        # [option index][value NUL]...: fuzz_spank_options.cpp (index 0 image, 1 mounts,
        # 2 workdir, 3 name, 13 env, 14 gpus; see the table in src/spank/options.c)
        "spank_options": [b"\x00registry:5000/team/app:1\x00\x01/a:/b:ro,/c,/d:/e:rw\x00",
                          b"\x03job1:create\x00\x02/work\x00\x0dHOME,CUDA_VISIBLE_DEVICES\x00",
                          b"\x0edevice=0,1\x00\x0b\x00\x0c\x00",
                          b"gantry=/usr/bin/gantry store=/var/tmp/%u runtime_path=/run/x"],
    }


def estargz_tocs() -> list[str]:
    d = "sha256:" + "ab" * 32
    ents = [
        [{"name": ".no.prefetch.landmark", "type": "reg", "size": 1, "offset": 10,
          "chunkDigest": d}, {"name": "etc/", "type": "dir", "mode": 493},
         {"name": "etc/passwd", "type": "reg", "size": 20, "offset": 60, "chunkDigest": d,
          "uid": 0, "gid": 0, "modtime": "2024-01-02T03:04:05Z",
          "xattrs": {"user.a": "dmFs"}},
         {"name": "etc/hard", "type": "hardlink", "linkName": "etc/passwd"},
         {"name": "etc/link", "type": "symlink", "linkName": "passwd"},
         {"name": "big", "type": "reg", "size": 10, "offset": 100, "chunkSize": 4,
          "chunkDigest": d},
         {"name": "big", "type": "chunk", "offset": 150, "chunkOffset": 4, "chunkDigest": d},
         {"name": "dev/null", "type": "char", "devMajor": 1, "devMinor": 3},
         {"name": "old/.wh.gone", "type": "reg"}, {"name": "o/.wh..wh..opq", "type": "reg"},
         {"name": "stargz.index.json", "type": "reg"}],
        [{"name": "../x", "type": "reg"}, {"name": "/abs", "type": "dir"}],
        [{"name": "p", "type": "reg", "size": 5, "offset": 40, "innerOffset": 3,
          "chunkDigest": d}, {"name": "q", "type": "reg", "size": 5, "offset": 40,
                              "innerOffset": 8, "chunkDigest": d}],
    ]
    return [json.dumps({"version": 1, "entries": e}) for e in ents]


def zstd_chunked_tocs() -> list[str]:
    d = "sha256:" + "ab" * 32
    ents = [
        [{"type": "dir", "name": "data/", "mode": 493, "modtime": "1970-01-01T00:00:00Z",
          "accesstime": "0001-01-01T00:00:00Z", "changetime": "0001-01-01T00:00:00Z"},
         {"type": "reg", "name": "data/big.bin", "mode": 420, "size": 20, "digest": d,
          "offset": 106, "endOffset": 300, "chunkSize": 8, "chunkDigest": d},
         {"type": "chunk", "name": "data/big.bin", "offset": 200, "chunkSize": 5,
          "chunkOffset": 8, "chunkDigest": d, "chunkType": "zeros"},
         {"type": "chunk", "name": "data/big.bin", "offset": 220, "chunkSize": 7,
          "chunkOffset": 13, "chunkDigest": d},
         {"type": "reg", "name": "data/small.txt", "mode": 420, "size": 11, "digest": d,
          "offset": 400, "endOffset": 424, "xattrs": {"user.lazy": "eWVz"}},
         {"type": "symlink", "name": "data/link", "linkName": "small.txt", "mode": 511},
         {"type": "hardlink", "name": "data/hard", "linkName": "data/small.txt"},
         {"type": "reg", "name": "data/.wh.x.txt", "mode": 420},
         {"type": "reg", "name": "data/dir/.wh..wh..opq", "mode": 420},
         {"type": "fifo", "name": "data/fifo", "mode": 420}],
        [{"type": "reg", "name": "x", "size": 3, "digest": d, "offset": 50, "endOffset": 40}],
    ]
    return [json.dumps({"version": 1, "entries": e}) for e in ents]


def tar_splits() -> list[str]:
    return ['{"type":2,"payload":"ZGF0YS8AAAA=","position":0}\n'
            '{"type":1,"name":"data/","payload":null,"position":1}\n'
            '{"type":2,"payload":"AAAA","position":2}\n'
            '{"type":1,"name":"data/small.txt","size":11,"payload":"tAt3+IpQDrE=","position":3}\n'
            '{"type":1,"name_raw":"ZGF0YS//","payload":null,"position":4}\n',
            '{"type":1,"name":"../x","size":1,"payload":"AAAAAAAAAAA=","position":0}\n']


def block_digest_tables() -> list[bytes]:
    import hashlib
    import struct

    def table(blob: bytes, rng: int = 1 << 20, magic: bytes = b"GSQBDG01") -> bytes:
        digests = b"".join(hashlib.sha256(blob[i:i + rng]).digest()
                           for i in range(0, len(blob), rng))
        return magic + struct.pack("<IIQ", rng, 0, len(blob)) + digests

    blob = bytes(range(256)) * 5000  # 1.2 MiB: two ranges, the last short
    return [table(blob), table(b""), table(blob, 64 << 10), table(blob)[:-1],
            table(blob, 3 << 20), table(blob, magic=b"GSQBDG02")]


def main() -> int:
    if len(sys.argv) != 2:
        print("usage: make_corpus.py OUT_DIR", file=sys.stderr)
        return 2
    out = sys.argv[1]
    checked_in = os.path.join(HERE, "corpus")
    for target, items in seeds().items():
        d = os.path.join(out, target)
        os.makedirs(d, exist_ok=True)
        data = [s.encode("utf-8", "surrogateescape") if isinstance(s, str) else s for s in items]
        src = os.path.join(checked_in, target)
        if os.path.isdir(src):
            data += [open(os.path.join(src, f), "rb").read() for f in sorted(os.listdir(src))]
        for blob in data:
            name = hashlib.sha1(blob).hexdigest()
            with open(os.path.join(d, name), "wb") as f:
                f.write(blob)
        print(f"{target}: {len(set(data))} seeds")
    return 0


if __name__ == "__main__":
    sys.exit(main())
