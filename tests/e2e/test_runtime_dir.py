"""The runtime directory (container state, the GPU and doctor caches) is trusted by gantry: a
container's recorded pid is what `stop` signals and `exec` joins, a cached GPU host is the list
of host files bound into a container. So it must be the user's own. Without XDG_RUNTIME_DIR it
is /tmp/gantry-<uid>, a name any other user can take first; these tests take it first (or plant
a symlink there) and check gantry refuses it with the fix, and uses nothing found in it."""
import json
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import pytest

from conftest import NOBODY, TESTS, Gantry, load_busybox

sys.path.insert(0, str(TESTS / "fixtures" / "gpuhost"))
import gpuhost as gh  # noqa: E402

ROOT = os.geteuid() == 0
needs_root = pytest.mark.skipif(not ROOT, reason="other users' directories are made as root")


@pytest.fixture
def lab(rootless, mk):
    """nobody's gantry with the sample image, and a directory nobody owns for XDG dirs."""
    if not ROOT:
        pytest.skip("other users' directories are made as root")
    load_busybox(rootless, mk, rootless.base)
    xdg_parent = Path(tempfile.mkdtemp(prefix="gantry-xdg-", dir="/tmp"))
    os.chown(xdg_parent, NOBODY.pw_uid, NOBODY.pw_gid)
    rootless.xdg_parent = xdg_parent
    yield rootless
    shutil.rmtree(xdg_parent, ignore_errors=True)


def with_xdg(gan, xdg):
    return Gantry(gan.root, user=gan.user, binary=gan.bin, env={"XDG_RUNTIME_DIR": str(xdg)})


def planted_state(d, name="victim"):
    """What an attacker leaves in a runtime dir they own: a named container whose pid is 1."""
    (d / name).mkdir(parents=True)
    state = {"name": name, "id": "feedfacecafe", "image": "sample:latest", "pid": 1,
             "pid_start": 0, "monitor": 1, "status": "running", "detached": True}
    (d / name / "state.json").write_text(json.dumps(state))
    return sorted(str(p.relative_to(d)) for p in d.rglob("*"))


def test_runtime_dir_of_another_user_is_refused(lab):
    xdg = lab.xdg_parent / "xdg"
    xdg.mkdir(mode=0o700)
    os.chown(xdg, NOBODY.pw_uid, NOBODY.pw_gid)
    hostile = xdg / "gantry"
    hostile.mkdir()
    os.chmod(hostile, 0o777)  # root's: another user's, writable by everyone
    before = planted_state(hostile)
    gan = with_xdg(lab, xdg)
    for args, code in ((["ps"], 5), (["stop", "victim"], 5), (["exec", "victim", "true"], 5),
                       (["run", "-d", "--name", "c1", "sample:latest", "sleep", "5"], 125)):
        res = gan.fail(*args, code=code)
        assert f"the runtime directory {hostile} belongs to uid 0, not to you (uid " \
               f"{NOBODY.pw_uid})" in res.err, res
        assert "hint:" in res.err and "XDG_RUNTIME_DIR" in res.err
        assert "victim" not in res.out
    # nothing was written there, nor its mode changed
    assert sorted(str(p.relative_to(hostile)) for p in hostile.rglob("*")) == before
    assert hostile.stat().st_mode & 0o777 == 0o777
    # a plain run needs no runtime directory: it still works
    assert gan.run("run", "sample:latest", "echo", "ok").out.strip() == "ok"


def test_symlinked_runtime_dir_is_refused(lab):
    xdg = lab.xdg_parent / "xdg-link"
    xdg.mkdir(mode=0o700)
    elsewhere = lab.xdg_parent / "elsewhere"  # nobody's own: a link is refused all the same
    elsewhere.mkdir(mode=0o700)
    for d in (xdg, elsewhere):
        os.chown(d, NOBODY.pw_uid, NOBODY.pw_gid)
    (xdg / "gantry").symlink_to(elsewhere)
    res = with_xdg(lab, xdg).fail("run", "-d", "--name", "c2", "sample:latest", "sleep", "5",
                                  code=125)
    assert f"the runtime directory {xdg / 'gantry'} is a symbolic link" in res.err, res
    assert list(elsewhere.iterdir()) == []


def test_own_runtime_dir_others_could_write_is_made_private(lab):
    xdg = lab.xdg_parent / "xdg-open"
    (xdg / "gantry").mkdir(parents=True)
    for d in (xdg, xdg / "gantry"):
        os.chown(d, NOBODY.pw_uid, NOBODY.pw_gid)
    os.chmod(xdg / "gantry", 0o777)
    gan = with_xdg(lab, xdg)
    name = f"own{uuid.uuid4().hex[:8]}"
    gan.run("run", "-d", "--name", name, "sample:latest", "sleep", "30")
    try:
        assert (xdg / "gantry").stat().st_mode & 0o777 == 0o700
        assert (xdg / "gantry" / name / "state.json").exists()
        assert name in gan.run("ps").out
    finally:
        gan.run("rm", "-f", name, check=False)


@needs_root
def test_default_tmp_runtime_dir_taken_first_is_refused(rootless):
    """The real attack: another user makes /tmp/gantry-<uid> before the victim's first run.
    The victim here is `games` (uid 5), whom no other test uses; nobody is the attacker."""
    games = pwd.getpwnam("games")
    victim_dir = Path(f"/tmp/gantry-{games.pw_uid}")
    login_dir = Path(f"/run/user/{games.pw_uid}")
    if victim_dir.exists() or victim_dir.is_symlink() or login_dir.exists():
        pytest.fail(f"{victim_dir} or {login_dir} exists before the test: remove it")
    subprocess.run(["setpriv", f"--reuid={NOBODY.pw_uid}", f"--regid={NOBODY.pw_gid}",
                    "--clear-groups", "--", "mkdir", "-m", "0777", str(victim_dir)], check=True)
    try:
        planted = planted_state(victim_dir)
        gan = Gantry(rootless.root, user=games, binary=rootless.bin, env={"HOME": "/tmp"})
        res = gan.fail("ps", code=5)
        assert f"the runtime directory {victim_dir} belongs to uid {NOBODY.pw_uid}" in res.err
        assert "victim" not in res.out
        assert sorted(str(p.relative_to(victim_dir)) for p in victim_dir.rglob("*")) == planted
        # once it is gone, the victim's own is made, private
        shutil.rmtree(victim_dir)
        assert gan.run("ps").code == 0
        st = victim_dir.stat()
        assert st.st_uid == games.pw_uid and st.st_mode & 0o777 == 0o700
        # with a login session's /run/user/<uid>, that is where it goes (XDG_RUNTIME_DIR unset)
        login_dir.mkdir(mode=0o700, parents=True)
        os.chown(login_dir, games.pw_uid, games.pw_gid)
        gan.run("ps")
        st = (login_dir / "gantry").stat()
        assert st.st_uid == games.pw_uid and st.st_mode & 0o777 == 0o700
    finally:
        shutil.rmtree(victim_dir, ignore_errors=True)
        shutil.rmtree(login_dir, ignore_errors=True)


def test_gpu_run_does_not_read_a_cache_in_another_users_dir(lab):
    """The GPU host cache lists the host files bound into a GPU container: one planted in a
    directory somebody else controls must never be read."""
    host = gh.build_host(lab.xdg_parent / "gpuhost", gh.preset(1))  # nobody reads it
    flags = ["--gpus", "all", "--driver-root", host.driver_root, "--dev-root", host.dev_root]
    good = lab.xdg_parent / "xdg-good"
    good.mkdir(mode=0o700)
    os.chown(good, NOBODY.pw_uid, NOBODY.pw_gid)
    gan = Gantry(lab.root, user=lab.user, binary=lab.bin,
                 env={"XDG_RUNTIME_DIR": str(good), "FAKE_DEVICE_ROOT": str(host.dev_root)})
    gan.run("run", *flags, "sample:latest", "true")
    cache = good / "gantry" / "gpu-cache"
    assert list(cache.glob("host-*.json")), "the first GPU run caches the host"
    # the same cache, in a runtime dir another user made
    bad = lab.xdg_parent / "xdg-bad"
    bad.mkdir(mode=0o700)
    os.chown(bad, NOBODY.pw_uid, NOBODY.pw_gid)
    shutil.copytree(good / "gantry", bad / "gantry")  # root's copy
    os.chmod(bad / "gantry", 0o777)
    gan.env["XDG_RUNTIME_DIR"] = str(bad)
    res = gan.fail("run", *flags, "sample:latest", "true", code=125)
    assert f"the runtime directory {bad / 'gantry'} belongs to uid 0" in res.err, res
