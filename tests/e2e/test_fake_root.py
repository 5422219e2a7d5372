"""`gantry run --fake-root` (issue 26's fake-root mode, Charliecloud's seccomp model): in a user
namespace that maps one id, chown to another id, the setuid family, setgroups and device mknod
fail (EINVAL/EPERM), which breaks apt-get and dpkg; with --fake-root they return success without
doing anything. Sockets and fifos are still made for real; `gantry exec` gets the same filter."""
import pytest

from conftest import load_busybox

SCRIPT = ("touch /tmp/f; chown 5:7 /tmp/f && echo chown-ok; "
          "mknod /tmp/c c 1 3 && echo mknod-ok; test -e /tmp/c || echo no-node; "
          "mkfifo /tmp/p && test -p /tmp/p && echo fifo-real; "
          "stat -c %u:%g /tmp/f")


@pytest.fixture
def rl(rootless, mk):
    return rootless, load_busybox(rootless, mk, rootless.base)


def test_without_fake_root_the_calls_fail(rl):
    g, ref = rl
    r = g.run("run", "--rm", ref, "sh", "-c", SCRIPT, check=False)
    assert "chown-ok" not in r.out and "mknod-ok" not in r.out
    assert "fifo-real" in r.out


def test_fake_root_makes_them_succeed_without_doing_them(rl):
    g, ref = rl
    r = g.run("run", "--rm", "--fake-root", ref, "sh", "-c", SCRIPT)
    lines = r.out.split()
    assert lines[:4] == ["chown-ok", "mknod-ok", "no-node", "fifo-real"], r
    assert lines[4] == "0:0"  # nothing changed: the file is the one mapped id's
    # setgroups/setgid/setuid: su to nobody "succeeds" and the process stays the one mapped id
    su = 'su -s /bin/sh nobody -c "id -u"; echo rc=$?'
    r = g.run("run", "--rm", ref, "sh", "-c", su)
    assert "can't set groups" in r.out + r.err and "rc=1" in r.out
    r = g.run("run", "--rm", "--fake-root", ref, "sh", "-c", su)
    assert r.out.split() == ["0", "rc=0"], r


def test_exec_gets_the_same_filter(rl):
    g, ref = rl
    g.run("run", "-d", "--name", "fr", "--fake-root", ref, "sleep", "30")
    try:
        r = g.run("exec", "fr", "sh", "-c", "touch /tmp/x; chown 9 /tmp/x && echo exec-chown-ok")
        assert "exec-chown-ok" in r.out
    finally:
        g.run("rm", "-f", "fr", check=False)


def test_fake_root_needs_seccomp(g, mk, tmp_path):
    ref = load_busybox(g, mk, tmp_path)
    r = g.fail("run", "--rm", "--fake-root", "--security-opt", "seccomp=unconfined", ref, "true",
               code=2)
    assert "--fake-root" in r.err
