"""gantry analyze and lint on AMD/ROCm images: HIP code objects compiled here with Debian's clang
(three gfx targets, no ROCm needed) inside an image's layers, reported per target with what keeping
one saves; ROCm development content (/opt/rocm*/llvm, include, *.a) with the bytes of each; and the
ROCm lint rules through the CLI on a sample Dockerfile, with near misses that stay silent."""
import os
import subprocess
from pathlib import Path

import pytest

from conftest import need_tool

KERNEL = """struct dim3 { unsigned x, y, z; };
typedef struct ihipStream_t* hipStream_t;
extern "C" int hipLaunchKernel(const void*, dim3, dim3, void**, unsigned long, hipStream_t);
__attribute__((global)) void k(float* x) { x[0] = 1; }
"""
FIX = Path(__file__).resolve().parent.parent / "fixtures" / "dockerfiles"


def hip_library(tmp, name, archs):
    """A shared library with a .hip_fatbin for `archs`, built by clang (skips when clang is absent)."""
    need_tool("clang++")
    src = tmp / "k.hip"
    src.write_text(KERNEL)
    out = tmp / name
    cmd = ["clang++", "-x", "hip", *[f"--offload-arch={a}" for a in archs], "-nogpulib",
           "-nogpuinc", "-fPIC", "-shared", str(src), "-o", str(out)]
    # clang's HIP driver leaves its temporary directories behind: TMPDIR keeps them in TMP
    res = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "TMPDIR": str(tmp)})
    if res.returncode != 0:
        pytest.skip(f"clang cannot build a HIP library here: {res.stderr[-500:]}")
    return out.read_bytes()


def load(g, mk, tmp_path, image, tag):
    path = tmp_path / (tag.replace(":", "_").replace("/", "_") + ".tar")
    mk.write_docker_archive(path, [(image, [tag])], layer_compression="layer")
    g.run("load", path)
    return tag


def analyze(g, ref):
    res = g.run("analyze", ref, "--json", check=False)
    assert res.code == 0, res
    return {f["id"]: f for f in res.json()["findings"]}


def code_object_bytes(lib: bytes):
    """Bytes of each code object, read here from the offload bundle's own header (independent
    of gantry): the section starts with __CLANG_OFFLOAD_BUNDLE__, u64 count, then per entry u64
    offset, u64 size, u64 id length and the id."""
    at = lib.find(b"__CLANG_OFFLOAD_BUNDLE__")
    assert at >= 0
    p = at + 24
    n = int.from_bytes(lib[p:p + 8], "little")
    p += 8
    sizes = {}
    for _ in range(n):
        size = int.from_bytes(lib[p + 8:p + 16], "little")
        idlen = int.from_bytes(lib[p + 16:p + 24], "little")
        ident = lib[p + 24:p + 24 + idlen].decode()
        p += 24 + idlen
        if ident.startswith("hip"):
            target = ident.split("--", 1)[1]
            sizes[target] = sizes.get(target, 0) + size
    return sizes


def test_hip_code_objects_per_target(g, mk, tmp_path_factory, tmp_path):
    t = tmp_path_factory.mktemp("hip")
    three = hip_library(t, "libthree.so", ["gfx90a:xnack-", "gfx1030", "gfx908"])
    two = hip_library(t, "libtwo.so", ["gfx90a:xnack-", "gfx1030"])
    E = mk.Entry
    base = mk.Layer([E.file("usr/lib/libc.so.6", b"c" * 1000)])
    app = mk.Layer([E.file("opt/app/lib/libthree.so", three, mode=0o755),
                    E.file("opt/app/lib/libtwo.so", two, mode=0o755)], compression="zstd")
    ref = load(g, mk, tmp_path, mk.Image([base, app]), "rocm/hip-app:1")
    f = analyze(g, ref)
    assert "HIP-FATBIN-ARCHES" in f, sorted(f)
    hip = f["HIP-FATBIN-ARCHES"]
    want = code_object_bytes(three)
    for k, v in code_object_bytes(two).items():
        want[k] = want.get(k, 0) + v
    assert hip["details"]["bytes_per_target"] == want
    total = sum(want.values())
    assert hip["details"]["total"] == total and hip["count"] == 2
    # gfx90a:xnack- and gfx1030 are in both libraries; the larger of them is kept
    keep = max(["gfx90a:xnack-", "gfx1030"], key=lambda a: (want[a], a))
    assert hip["bytes"] == total - want[keep]
    assert f"keeping only {keep} saves" in hip["message"]
    assert hip["details"]["files_per_target"] == {"gfx90a:xnack-": 2, "gfx1030": 2, "gfx908": 1}
    assert {p["path"] for p in hip["paths"]} == {"opt/app/lib/libthree.so", "opt/app/lib/libtwo.so"}
    assert "FATBIN-ARCHES" not in f  # no CUDA code here
    # the table names it too
    out = g.run("analyze", ref).out
    assert "HIP-FATBIN-ARCHES" in out and f"keeping only {keep}" in out

    # near miss: one target only
    one = hip_library(tmp_path_factory.mktemp("hip1"), "libone.so", ["gfx90a:xnack-"])
    ref = load(g, mk, tmp_path, mk.Image([mk.Layer([E.file("opt/app/libone.so", one)])]),
               "rocm/hip-one:1")
    assert "HIP-FATBIN-ARCHES" not in analyze(g, ref)


def test_rocm_devel_content(g, mk, tmp_path):
    files = {
        "opt/rocm-6.1.2/llvm/bin/clang-17": b"\x7fELF" + b"L" * 300_000,
        "opt/rocm-6.1.2/llvm/lib/libLLVM.so.17": b"\x7fELF" + b"M" * 200_000,
        "opt/rocm-6.1.2/include/hip/hip_runtime.h": b"h" * 4000,
        "opt/rocm-6.1.2/include/hip/amd_detail/host_defines.inc": b"i" * 1000,
        "opt/rocm-6.1.2/lib/librocblas_static.a": b"a" * 7000,
        "opt/rocm-6.1.2/lib/libamdhip64.so.6": b"\x7fELF" + b"R" * 9000,
    }
    ref = load(g, mk, tmp_path, mk.Image([mk.Layer.from_files(files)]), "rocm/devel:1")
    f = analyze(g, ref)["ROCM-DEVEL"]
    assert f["details"]["llvm"] == {"bytes": 500_008, "files": 2}
    assert f["details"]["headers"] == {"bytes": 5000, "files": 2}
    assert f["details"]["static"] == {"bytes": 7000, "files": 1}
    assert f["bytes"] == 512_008 and f["count"] == 5
    assert "/opt/rocm-6.1.2" in f["message"]
    # near miss: a runtime-only ROCm image
    runtime = {k: v for k, v in files.items() if k.endswith(".so.6")}
    ref = load(g, mk, tmp_path, mk.Image([mk.Layer.from_files(runtime)]), "rocm/runtime:1")
    assert "ROCM-DEVEL" not in analyze(g, ref)


BAD_FINDINGS = sorted([
    (1, "GL001"), (1, "GL004"),
    (3, "GL017"),
    (4, "GL002"),
    (5, "GL002"),
    (6, "GL008"),
    (7, "GL013"),
    (8, "GL016"),
])


def test_lint_rocm_dockerfile(g):
    bad = FIX / "rocm-bad.Dockerfile"
    r = g.run("lint", "--json", bad, check=False)
    assert r.code == 10, r
    found = r.json()
    assert sorted((x["line"], x["code"]) for x in found) == BAD_FINDINGS
    by = {x["code"]: x for x in found}
    assert "ROCm development image" in by["GL001"]["message"]
    assert "FROM ubuntu:22.04" in by["GL001"]["fix"]
    assert "ROCm 6.0" in by["GL008"]["message"] and "ROCm 6.1" in by["GL008"]["message"]
    assert "rocminfo" in by["GL013"]["message"]
    assert "CUDA" not in by["GL001"]["message"] + by["GL002"]["fix"]
    # near misses: the multi-stage version of the same build is clean of the ROCm rules
    good = FIX / "rocm-good.Dockerfile"
    r = g.run("lint", "--json", good, check=False)
    assert r.code == 0, r
    assert r.json() == []


def test_lint_hostile_version_numbers(g):
    """Regression: lint exited 1 'internal error: stoi' on a huge version in a tag."""
    for text in ["FROM nvidia/cuda:4294967296.1.0-devel\n",
                 "FROM rocm/dev-ubuntu-22.04:99999999999999999999.1\n"
                 "RUN pip install --no-cache-dir torch==2.1+rocm6.1\n"]:
        r = g.run("lint", "--json", "-", check=False, input=text)
        assert r.code == 10, r  # findings (GL001), not an internal error
        assert "internal error" not in r.err
        assert {x["code"] for x in r.json()} >= {"GL001"}
