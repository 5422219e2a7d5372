"""Hosts that block rootless runs (issue 41): Ubuntu's AppArmor restriction of unprivileged user
namespaces found by `doctor` (a simulated host's sysctls under --sys-root), `run FILE.sqsh` where
the caller cannot open /dev/fuse (this VM's is 0600: no udev) unpacking the image into the store
once, or refusing with --no-unpack, and pyxis' spellings of images (REGISTRY#IMAGE, a .sqsh file
without ./)."""
import os
import subprocess
from pathlib import Path

import pytest

from conftest import fuse_mode, need_tool

RESTRICT = "proc/sys/kernel/apparmor_restrict_unprivileged_userns"
PROFILES = "sys/kernel/security/apparmor/profiles"


def sim_host(base, restrict, profiles=None):
    """A --sys-root holding proc/sys and sys/kernel/security as Ubuntu 24.04 has them."""
    base.mkdir(parents=True, exist_ok=True)
    os.chmod(base, 0o755)
    for rel, text in ((RESTRICT, f"{restrict}\n"), (PROFILES, profiles)):
        if text is None:
            continue
        p = base / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
        for d in [p.parent, *p.parent.parents]:
            if d == base.parent:
                break
            os.chmod(d, 0o755)
        os.chmod(p, 0o444)
    return base


def blocked(gan, sys_root):
    res = gan.run("doctor", "--json", "--gpu-vendor", "nvidia", "--sys-root", sys_root,
                  check=False)
    return res, {f["id"]: f for f in res.json()["findings"]}.get("HOST-ROOTLESS-BLOCKED")


def test_doctor_names_the_apparmor_restriction_and_both_fixes(g, rootless):
    base = rootless.base
    res, f = blocked(rootless, sim_host(base / "ubuntu", 1, "runc (unconfined)\n"))
    assert res.code == 10, res
    assert f["severity"] == "fail", f  # nobody (or the non-root user running the tests)
    assert "apparmor_restrict_unprivileged_userns = 1" in f["message"], f
    assert "/etc/apparmor.d/gantry" in f["fix"], f
    assert "sysctl -w kernel.apparmor_restrict_unprivileged_userns=0" in f["fix"], f
    if os.geteuid() == 0:  # root's own runs are not affected: a warning for it
        _, f = blocked(g, base / "ubuntu")
        assert f["severity"] == "warn", f
    # near misses: gantry's profile loaded, or the restriction off
    _, f = blocked(rootless, sim_host(base / "profiled", 1, "gantry (unconfined)\n"))
    assert f is None
    _, f = blocked(rootless, sim_host(base / "off", 0, "runc (unconfined)\n"))
    assert f is None


def _saved_sqsh(gan, mk, where):
    need_tool("tar2sqfs")
    img = mk.busybox_image(extra_layers=[mk.Layer([mk.Entry.file("data/hello", b"from sqsh\n")])],
                           env=["PATH=/bin"])
    archive = Path(where) / "img.tar"
    mk.write_docker_archive(archive, [(img, ["sq:1"])])
    os.chmod(archive, 0o644)
    gan.run("load", archive)
    out = Path(where) / "App-Image.sqsh"
    gan.run("save", "sq:1", "--format", "squashfs", "-o", out)
    return out


def test_sqsh_is_unpacked_once_where_fuse_is_closed(rootless, mk):
    if os.geteuid() != 0:
        pytest.skip("needs root to set /dev/fuse to 0600 and run as nobody")
    out = _saved_sqsh(rootless, mk, rootless.base)
    with fuse_mode(0o600):
        first = rootless.run("run", "--rm", out, "cat", "/data/hello")
        assert first.out == "from sqsh\n", first
        assert "/dev/fuse is mode 0600" in first.err and "unpacking" in first.err, first
        assert "--no-unpack" in first.err
        # once: the next run starts from the copy, silently
        again = rootless.run("run", "--rm", out, "cat", "/data/hello")
        assert again.out == "from sqsh\n" and "unpacking" not in again.err, again
        refs = [r for r in rootless.refs() if "sqsh-unpacked/app-image:" in r]
        assert len(refs) == 1, rootless.refs()
        # --no-unpack refuses instead, naming /dev/fuse and the fix
        r = rootless.fail("run", "--rm", "--no-unpack", out, "true", code=125)
        assert "/dev/fuse is mode 0600" in r.err and "chmod 0666 /dev/fuse" in r.err, r
    # a changed file is a new image: unpacked again
    out.touch()
    with fuse_mode(0o600):
        r = rootless.run("run", "--rm", out, "true")
        assert "unpacking" in r.err, r
    # --no-unpack with a store image is refused, not ignored
    r = rootless.fail("run", "--rm", "--no-unpack", "sq:1", "true", code=2)
    assert "--no-unpack applies to a squashfs image file" in r.err, r


def test_pyxis_spellings(g, mk, tmp_path):
    img = mk.busybox_image(env=["PATH=/bin"])
    archive = tmp_path / "img.tar"
    mk.write_docker_archive(archive, [(img, ["registry.example.com/team/app:1"])])
    g.run("load", archive)
    # enroot's REGISTRY#IMAGE[:TAG] is REGISTRY/IMAGE[:TAG]
    r = g.run("run", "--rm", "registry.example.com#team/app:1", "echo", "ok")
    assert r.out == "ok\n", r
    assert g.run("inspect", "registry.example.com#team/app:1").code == 0
    # enroot's USER@ (credentials): refused with the fix, not ignored
    r = g.fail("inspect", "someone@registry.example.com#team/app:1")
    assert "USER@" in r.err and "gantry login registry.example.com" in r.err, r
    # a .sqsh file named without ./ (pyxis#168), from the directory that holds it
    need_tool("tar2sqfs")
    sq = tmp_path / "app.sqsh"
    g.run("save", "registry.example.com/team/app:1", "--format", "squashfs", "-o", sq)
    p = subprocess.run(g.cmd("inspect", "app.sqsh"), capture_output=True, text=True,
                       env=g.environ(), cwd=tmp_path)
    assert p.returncode == 0 and "squashfs" in p.stdout, p
