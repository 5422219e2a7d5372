"""GPU support end to end, the host's safety: driver files mounted read-only, nosuid, nodev,
and the hostile-image shapes of the NVIDIA container CVEs (CVE-2024-0132 compat symlinks,
CVE-2024-0133/0134 symlinked injection directories, CVE-2025-23267 ld.so.cache and
ld.so.conf.d symlinks, CVE-2025-23266 LD_PRELOAD in the image env) changing nothing on the host,
plus forward-compatible CUDA compat libraries enabled without a mount.

The simulated hosts, images and users are gpu_common.py's (module fixture `lab`).

Run: cd /work/main && /usr/bin/python3 -m pytest -q -p no:cacheprovider \
         tests/e2e/test_gpu_hostile.py
"""
import hashlib
import os
import re
import shutil
from pathlib import Path

import pytest

from fixtures import mkimage as mk
from gpu_common import (  # noqa: F401 (pytest fixtures, used as test arguments)
    DRIVER, LIBDIR, _poc_images, cdi_run_supported, ci, ctx, lab, poc, victim_name)


def sha(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


# --------------------------------------------------------------------------
# Mount hardening
# --------------------------------------------------------------------------

def mountinfo(text):
    """{mount point: set of per-mount options} from /proc/self/mountinfo."""
    out = {}
    for line in text.splitlines():
        f = line.split()
        if len(f) > 6:
            out[f[4]] = set(f[5].split(","))
    return out


def test_driver_files_read_only_nosuid_nodev(ctx, lab):
    host = lab.hosts["2"]
    lib = host.lib_dir / f"libcuda.so.{DRIVER}"
    before = sha(lib)
    script = (f"echo x > {LIBDIR}/libcuda.so.1; echo w1=$?; "
              f"echo x >> {LIBDIR}/libcuda.so.{DRIVER}; echo w2=$?; "
              f"rm -f {LIBDIR}/libcuda.so.{DRIVER}; "
              f"readlink {LIBDIR}/libcuda.so.1; echo @@; cat /proc/self/mountinfo")
    res = ctx.run(host, "--gpus", "all", "gt/cuda-probe:1", "sh", "-c", script)
    head, _, mi = res.out.partition("@@\n")
    assert "w1=1" in head and "w2=1" in head, res
    assert "Read-only file system" in res.err, res
    assert head.splitlines()[-1] == f"libcuda.so.{DRIVER}", res
    assert sha(lib) == before
    mounts = mountinfo(mi)
    for point in (f"{LIBDIR}/libcuda.so.{DRIVER}", f"{LIBDIR}/libnvidia-ml.so.{DRIVER}",
                  "/usr/bin/nvidia-smi", f"/lib/firmware/nvidia/{DRIVER}/gsp_ga10x.bin"):
        assert point in mounts, f"{point} is not a mount: {sorted(mounts)}"
        assert {"ro", "nosuid", "nodev"} <= mounts[point], f"{point}: {mounts[point]}"
    sock = "/run/nvidia-persistenced/socket"
    sockets = [p for p in mounts if p.endswith("nvidia-persistenced/socket")]
    assert sockets, f"{sock} not mounted: {sorted(mounts)}"
    for p in sockets:
        assert {"nosuid", "nodev", "noexec"} <= mounts[p], f"{p}: {mounts[p]}"
    for p, opts in mounts.items():
        if p.startswith("/dev/nvidia"):
            assert "nosuid" in opts and "noexec" in opts, f"{p}: {opts}"


# --------------------------------------------------------------------------
# Hostile images (reference/security.md)
# --------------------------------------------------------------------------

def snapshot(path):
    """Everything under a host directory (names, types, content hashes)."""
    p = Path(path)
    if not p.exists() and not p.is_symlink():
        return None
    if not p.is_dir():
        return sha(p)
    return sorted((str(q.relative_to(p)), q.is_dir(), None if q.is_dir() or q.is_symlink()
                   else sha(q)) for q in p.rglob("*"))


COMPAT_DIRS = [mk.Entry.dir(p) for p in ("usr/local", "usr/local/cuda", "usr/local/cuda/compat")]


def new_driver_names(before, directory="/etc"):
    """Entries that appeared in a host directory and look like injected driver files or
    gantry drop-ins (other processes may legitimately touch /etc meanwhile)."""
    new = set(os.listdir(directory)) - set(before)
    return sorted(n for n in new if re.search(r"nvidia|cuda|gantry|\.so|ld\.so", n))


def _stub_libcuda_bytes(tmp):
    out = Path(tmp) / "stub-libcuda.so"
    ci._stub_libcuda(out)
    return out.read_bytes()


def test_cve_2024_0132_compat_symlink_to_host_root(ctx, lab):
    """/usr/local/cuda/compat/libcuda.so.999.1 -> /: compat libraries are never mounted, so no
    host file can appear in the container."""
    host = lab.hosts["2"]
    marker = host.out / "README"  # exists on the host only
    layer = mk.Layer(COMPAT_DIRS + [
        mk.Entry.symlink("usr/local/cuda/compat/libcuda.so.999.1", "/"),
        mk.Entry.symlink("usr/local/cuda/compat/libcuda.so.999.88.77", "/"),
        mk.Entry.symlink("usr/local/cuda/compat/libnvidia-ptxjitcompiler.so.999.1",
                         str(host.out))])
    img = mk.Image([mk.busybox_layer(), ci.cuda_layer(), layer], cmd=["/usr/bin/cuda_probe"])
    ctx.load([(img, ["gt/hostile-compat:1"])], "hostile-compat")
    compat = "/usr/local/cuda/compat"
    script = (f"test -e {compat}/libcuda.so.999.1{marker} && echo HOST-ROOT-VISIBLE; "
              f"test -e {compat}/libcuda.so.999.88.77{marker} && echo HOST-ROOT-VISIBLE; "
              f"test -e {compat}/libnvidia-ptxjitcompiler.so.999.1/README && "
              "echo HOST-DIR-VISIBLE; "
              f"test -e {marker} && echo HOST-FILE-VISIBLE; "
              "cuda_probe; echo probe_rc=$?; echo @@; cat /proc/self/mountinfo")
    res = ctx.run(host, "--gpus", "all", "gt/hostile-compat:1", "sh", "-c", script, check=False)
    assert res.code in (0, 125), res
    assert "VISIBLE" not in res.out, res
    if res.code == 0:
        head, _, mi = res.out.partition("@@\n")
        assert f"libcuda: {LIBDIR}/libcuda.so.{DRIVER}" in head and "probe_rc=0" in head, res
        mounts = mountinfo(mi)
        assert not [p for p in mounts if p.startswith("/usr/local/cuda")], sorted(mounts)


@pytest.mark.parametrize("compat, used", [("590.48.01", True), ("575.57.08", False),
                                          ("580.95.05", False)])
def test_cuda_compat_enabled_without_a_mount(ctx, lab, tmp_path, compat, used):
    """Forward compatibility: the image's compat libcuda is used through an ld.so.conf.d
    drop-in when it is newer than the host driver (580), never mounted; otherwise the host's."""
    host = lab.hosts["1"]
    tag = f"gt/compat-{compat}:1"
    layer = mk.Layer(COMPAT_DIRS + [
        mk.Entry.file(f"usr/local/cuda/compat/libcuda.so.{compat}",
                      _stub_libcuda_bytes(tmp_path), 0o755),
        mk.Entry.symlink("usr/local/cuda/compat/libcuda.so.1", f"libcuda.so.{compat}")])
    img = mk.Image([mk.busybox_layer(), ci.cuda_layer(), layer], cmd=["/usr/bin/cuda_probe"])
    ctx.load([(img, [tag])], f"compat-{compat}")
    res = ctx.run(host, "--gpus", "all", tag, "sh", "-c",
                  "cuda_probe; echo probe_rc=$?; echo @@; cat /proc/self/mountinfo")
    head, _, mi = res.out.partition("@@\n")
    if used:
        assert f"libcuda: /usr/local/cuda/compat/libcuda.so.{compat}" in head, res
    else:
        assert f"libcuda: {LIBDIR}/libcuda.so.{DRIVER}" in head and "probe_rc=0" in head, res
    assert not [p for p in mountinfo(mi) if p.startswith("/usr/local/cuda")], mi


LIBDIR_SHAPES = {
    # CVE-2024-0133 / 0134: the library directory (mount targets, SONAME links) points out
    "libdir-abs-new": lambda v: ("usr/lib/x86_64-linux-gnu", v),
    "libdir-abs-existing": lambda v: ("usr/lib/x86_64-linux-gnu", v),
    "libdir-dotdot": lambda v: ("usr/lib/x86_64-linux-gnu", "../../../../../../.." + v),
    "libdir-etc": lambda v: ("usr/lib/x86_64-linux-gnu", "/etc"),
    "firmware": lambda v: ("lib/firmware", v),
    "usr-bin": lambda v: ("usr/bin", v),
}


@pytest.mark.parametrize("shape", sorted(LIBDIR_SHAPES))
def test_cve_2024_0133_0134_symlinked_injection_dirs(ctx, lab, shape):
    """Injection targets under an image symlink to a host path: nothing is created or changed on
    the host; gantry either refuses (125) or creates everything inside the container."""
    host = lab.hosts["1"]
    victim = victim_name(shape)
    if shape == "libdir-abs-existing" or shape == "firmware":
        os.mkdir(victim)
        os.chmod(victim, 0o777)  # an escape as nobody could write here too
    rel, target = LIBDIR_SHAPES[shape](victim)
    parts = rel.split("/")
    entries = [mk.Entry.file("etc/debian_version", "12.11\n")]
    entries += [mk.Entry.dir("/".join(parts[:i])) for i in range(1, len(parts))]
    entries.append(mk.Entry.symlink(rel, target))
    img = mk.busybox_image(extra_layers=[mk.Layer(entries)])
    tag = f"gt/hostile-{shape}:1"
    ctx.load([(img, [tag])], f"hostile-{shape}")
    etc_before = sorted(os.listdir("/etc"))
    before = snapshot(victim)
    try:
        res = ctx.run(host, "--gpus", "all", tag, "sh", "-c",
                      f"ls /{rel}/ > /dev/null; echo ran", check=False)
        assert res.code in (0, 125), res
        if res.code == 125:
            assert "gantry: error:" in res.err, res
        else:
            assert "ran" in res.out
        assert snapshot(victim) == before, f"{shape}: host {victim} changed: {snapshot(victim)}"
        assert new_driver_names(etc_before) == [], "files appeared in host /etc"
        for name in ("libcuda.so", "libcuda.so.1", f"libcuda.so.{DRIVER}", "nvidia-smi"):
            assert not os.path.lexists(f"/etc/{name}"), f"host /etc/{name} was created"
    finally:
        if os.path.isdir(victim) and not os.path.islink(victim):
            shutil.rmtree(victim, ignore_errors=True)
        elif os.path.lexists(victim):
            os.unlink(victim)


def test_cve_2025_23267_ldcache_and_conf_d_symlinks(ctx, lab, tmp_path):
    """/etc/ld.so.cache and /etc/ld.so.conf.d pointing at host files: updating the container's
    linker cache (and writing the compat drop-in) changes no host file."""
    host = lab.hosts["1"]
    vfile = victim_name("ldcache")
    vdir = victim_name("confd")
    Path(vfile).write_text("victim\n")
    os.chmod(vfile, 0o666)
    os.mkdir(vdir)
    os.chmod(vdir, 0o777)
    stub = _stub_libcuda_bytes(tmp_path)
    compat = COMPAT_DIRS + [
        mk.Entry.file("usr/local/cuda/compat/libcuda.so.590.48.01", stub, 0o755)]
    shapes = {
        "shadow": [mk.Entry.symlink("etc/ld.so.cache", "/etc/shadow"),
                   mk.Entry.symlink("etc/ld.so.conf.d", "/etc")],
        "host-only": [mk.Entry.symlink("etc/ld.so.cache", vfile),
                      mk.Entry.symlink("etc/ld.so.conf.d", vdir)],
        "dotdot": [mk.Entry.symlink("etc/ld.so.cache", "../../../../.." + vfile),
                   mk.Entry.symlink("etc/ld.so.conf.d", "../../../../.." + vdir)],
    }
    watched = ["/etc/shadow", "/etc/passwd", "/etc/group", "/etc/ld.so.cache", vfile, vdir]
    try:
        for name, entries in shapes.items():
            img = mk.Image([mk.busybox_layer(), ci.cuda_layer(),
                            mk.Layer(compat + entries)], cmd=["/usr/bin/cuda_probe"])
            tag = f"gt/hostile-ld-{name}:1"
            ctx.load([(img, [tag])], f"hostile-ld-{name}")
            before = {p: snapshot(p) for p in watched}
            etc_before = sorted(os.listdir("/etc"))
            res = ctx.run(host, "--gpus", "all", tag, "sh", "-c", "cuda_probe; echo ran",
                          check=False)
            assert res.code in (0, 125), f"{name}: {res!r}"
            if res.code == 0:
                assert "ran" in res.out
            after = {p: snapshot(p) for p in watched}
            assert after == before, f"{name}: host files changed"
            assert new_driver_names(etc_before) == [], f"{name}: files appeared in host /etc"
    finally:
        os.unlink(vfile)
        shutil.rmtree(vdir, ignore_errors=True)


def test_cve_2025_23266_ld_preload_image_env(ctx, lab, poc):
    """ENV LD_PRELOAD=/poc.so (and /proc/self/cwd/poc.so): only the workload loads it; no host
    /owned, and no gantry helper (ldconfig, hooks) inside the container loaded it either."""
    poc_bytes, mark2 = poc
    ctx.load(_poc_images(poc_bytes), "preload")
    host = lab.hosts["1"]
    assert not os.path.exists("/owned"), "host /owned exists before the test: remove it"
    assert not os.path.exists(mark2)
    spec_dir = None
    if cdi_run_supported(ctx.gan):
        spec_dir = ctx.mkdir("preload-cdi")
        ctx.gantry(host).run("cdi", "generate", "--driver-root", host.driver_root, "--dev-root",
                             host.dev_root, "--output", spec_dir / "nvidia.yaml")
    try:
        for name in ("abs", "cwd"):
            tag = f"gt/preload-{name}:1"
            runs = [["--gpus", "all"], []]
            if spec_dir:
                runs.append(["-e", "NVIDIA_VISIBLE_DEVICES=void", "--cdi-spec-dir", spec_dir,
                             "--device", "nvidia.com/gpu=all"])
            for args in runs:
                # busybox is static: nothing in the container should have loaded poc.so
                res = ctx.run(host, *args, tag, "sh", "-c",
                              "cat /owned 2>/dev/null; cat " + mark2 + " 2>/dev/null; echo done")
                assert res.out == "done\n", f"{name} {args}: something loaded poc.so: {res!r}"
                # positive control: the dynamically linked workload does load it
                res = ctx.run(host, *args, tag, "sh", "-c", "cuda_probe > /dev/null; cat /owned")
                assert "/usr/bin/cuda_probe" in res.out, f"{name} {args}: {res!r}"
                assert not os.path.exists("/owned"), f"{name} {args}: host /owned was written"
                assert not os.path.exists(mark2), f"{name} {args}: host {mark2} was written"
    finally:
        for p in ("/owned", mark2):
            if os.path.exists(p):
                print(f"ESCAPE: {p}: {Path(p).read_text()!r}")
        if os.path.exists(mark2):
            os.unlink(mark2)
