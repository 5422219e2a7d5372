"""`gantry attach` (docker's attach) to a running detached container, through a real pty
(python's pty module) as a user's terminal: the output from then on, the terminal's keys written
to the container's stdin (the pipe its monitor holds, the Engine API attach's path), docker's
detach keys (ctrl-p,ctrl-q, or --detach-keys) ending the attach and leaving the container
running, the container's exit status when it ends; without a terminal, stdin piped in and
docker's --sig-proxy; `exec -it`'s detach keys; side by side with podman 4.3's `podman attach` where podman does the same
(podman detaches with status 0 and no message, docker with "read escape sequence" and 1: gantry
keeps docker's)."""
import os
import select
import subprocess
import time

from conftest import load_busybox
from ocidiff import oci_bin  # noqa: F401 (a fixture)
from test_oci_runtime import podman  # noqa: F401 (a fixture)


class Pty:
    """ARGV run with a new pty as its stdin, stdout and stderr, as from a terminal."""

    def __init__(self, argv, env=None, cwd=None):
        self.master, slave = os.openpty()
        self.p = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env,
                                  cwd=cwd, start_new_session=True)
        os.close(slave)
        self.out = b""

    def read_until(self, needle, within=30):
        """What the process wrote until NEEDLE (an AssertionError when it does not come)."""
        deadline = time.monotonic() + within
        while needle not in self.out:
            left = deadline - time.monotonic()
            assert left > 0, f"no {needle!r} in {self.out!r}"
            if select.select([self.master], [], [], left)[0]:
                try:
                    self.out += os.read(self.master, 4096)
                except OSError:  # EIO: the process and its terminal are gone
                    assert needle in self.out, f"no {needle!r} in {self.out!r}"
        return self.out

    def send(self, data):
        os.write(self.master, data)

    def wait(self):
        code = self.p.wait(timeout=60)
        try:
            while select.select([self.master], [], [], 0)[0]:
                self.out += os.read(self.master, 4096)
        except OSError:
            pass
        os.close(self.master)
        return code


def running(g, name):
    return g.run("inspect", "-f", "{{.State.Running}}", name).out.strip() == "true"


def test_attach_to_a_terminal_detach_keys_and_the_exit_status(g, mk, tmp_path):
    img = load_busybox(g, mk, tmp_path)
    name = f"att{os.getpid()}"
    g.run("run", "-dit", "--name", name, img, "sh")
    try:
        a = Pty(g.cmd("attach", name), env=g.environ())
        a.send(b"echo at-$((6*7))\r")  # the shell's echo of it, then its output
        a.read_until(b"at-42\r\n")
        a.send(b"\x10\x11")  # ctrl-p ctrl-q: docker's default keys
        assert a.wait() == 1 and b"read escape sequence" in a.out, a.out
        assert running(g, name)
        # other keys; a key that only begins the sequence goes on to the container
        a = Pty(g.cmd("attach", "--detach-keys", "q,z", name), env=g.environ())
        a.send(b"echo qy-$((1+1))\r")
        a.read_until(b"qy-2")
        a.send(b"qz")
        assert a.wait() == 1 and running(g, name)
        # the container's end ends the attach, with its status
        a = Pty(g.cmd("attach", name), env=g.environ())
        a.send(b"exit 3\r")
        assert a.wait() == 3
        assert not running(g, name)
        r = g.run("attach", name, check=False)
        assert r.code == 5 and "You cannot attach to a stopped container" in r.err, r.err
        r = g.run("attach", "--detach-keys", "ctrl-1", name, check=False)
        assert r.code == 2 and "Invalid detach keys" in r.err, r.err
    finally:
        g.run("rm", "-f", name, check=False)


def test_exec_it_detach_keys_leave_the_process_running(g, mk, tmp_path):
    """`exec -it`'s detach keys (docker's): the exec'd shell runs on after the client left
    (its terminal drained by a process of its own session), found by a second exec; the
    container's own process is untouched."""
    img = load_busybox(g, mk, tmp_path)
    name = f"ate{os.getpid()}"
    g.run("run", "-d", "--name", name, img, "sleep", "300")
    try:
        a = Pty(g.cmd("exec", "-it", "--detach-keys", "ctrl-x", name, "sh"), env=g.environ())
        a.send(b"exec sleep 271\r")  # the shell becomes a process a second exec can find
        a.read_until(b"exec sleep 271\r\n")  # the line taken
        a.send(b"\x18")
        assert a.wait() == 1 and b"read escape sequence" in a.out, a.out
        deadline = time.monotonic() + 30  # (its exec, right after the line, is not observable)
        while "sleep 271" not in (ps := g.run("exec", name, "ps", "-o", "args").out):
            assert time.monotonic() < deadline, ps
            time.sleep(0.05)
        assert "sleep 300" in ps, ps
        r = g.run("exec", "-t", "--detach-keys", "ctrl-1", name, "true", check=False)
        assert r.code == 2 and "Invalid detach keys" in r.err, r.err
    finally:
        g.run("rm", "-f", name, check=False)


def test_attach_without_a_terminal_pipes_stdin_and_proxies_signals(g, mk, tmp_path):
    img = load_busybox(g, mk, tmp_path)
    name = f"atp{os.getpid()}"
    g.run("run", "-di", "--name", name, img, "sh", "-c",
          'trap "echo got-term >&2; exit 7" TERM; while read l; do echo "in:$l"; done')
    try:
        a = g.popen("attach", name, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE)
        a.stdin.write(b"hello\n")
        a.stdin.flush()
        assert a.stdout.readline() == b"in:hello\n"
        a.terminate()  # SIGTERM to attach: sent on to the container's process (--sig-proxy)
        assert a.wait(timeout=60) == 7
        assert a.stderr.read().startswith(b"got-term\n")
    finally:
        g.run("rm", "-f", name, check=False)


def test_detach_keys_leave_it_running_as_podman_attach_does(g, mk, tmp_path, podman):  # noqa: F811
    """The same container and keys under podman 4.3 and gantry: both print what the shell
    answers, both leave the container running; their statuses differ as podman's and docker's
    do."""
    img = load_busybox(g, mk, tmp_path)
    podman("load", "-i", tmp_path / "bb.tar")
    name = f"atd{os.getpid()}"
    podman("run", "-dit", "--name", name, img, "sh")
    g.run("run", "-dit", "--name", name, img, "sh")
    try:
        seen = {}
        for tool, argv, env, cwd in (
                ("podman", podman.cmd, podman.env, podman.cwd), ("gantry", g.cmd(), g.environ(),
                                                                  None)):
            a = Pty(argv + ["attach", "--detach-keys", "ctrl-x", name], env=env, cwd=cwd)
            a.send(b"echo both-$((2+3))\r")
            a.read_until(b"both-5\r\n")
            a.send(b"\x18")
            seen[tool] = a.wait()
        assert seen == {"podman": 0, "gantry": 1}, seen
        assert podman("inspect", "-f", "{{.State.Running}}", name).stdout.strip() == "true"
        assert running(g, name)
    finally:
        g.run("rm", "-f", name, check=False)
        podman("rm", "-f", "-t", "0", name, check=False)

