"""`gantry system reset` (podman's, docs/storage.md): the store removed whole with its containers,
a detached one stopped first, the runtime directory with it once no container is left; the
question it asks, and what makes it refuse, removing nothing. As nobody with a runtime directory
of the test's own ($XDG_RUNTIME_DIR), so that no other test's containers or caches are touched.
"""
import json
import os
import subprocess
from pathlib import Path

from conftest import NOBODY, load_busybox


def with_own_runtime_dir(gan):
    run = gan.base / "run"
    run.mkdir()
    if os.geteuid() == 0:
        os.chown(run, NOBODY.pw_uid, NOBODY.pw_gid)
    gan.env["XDG_RUNTIME_DIR"] = str(run)
    return run / "gantry"


def gone_or_zombie(pid):
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def test_reset_stops_the_containers_and_removes_the_store(rootless, mk):
    gan = rootless
    run_dir = with_own_runtime_dir(gan)
    load_busybox(gan, mk, gan.base)
    gan.run("run", "-d", "--name", "long", "sample:latest", "sleep", "600")
    [c] = gan.run("ps", "--json").json()
    assert c["status"] == "running", c
    # a discarded writable layer on disk: overlayfs's mode-000 work directories in trash/
    gan.run("run", "--writable-layer", "disk", "sample:latest", "sh", "-c", "echo x > /f")

    asks = gan.fail("system", "reset", code=2)  # no terminal to ask on: refused, with the fix
    assert "--force" in asks.err and gan.refs(), asks
    res = gan.run("system", "reset", "--force")
    assert f"Removed 1 container(s) and the store {gan.root}" in res.out, res
    assert not gan.root.exists() and not run_dir.exists(), res
    assert gone_or_zombie(c["pid"]), c
    assert not [p for p in gan.base.iterdir() if ".reset-" in p.name]  # renamed, then deleted
    again = gan.run("system", "reset", "-f")
    assert "Removed 0 container(s) and no store" in again.out, again


def test_reset_refuses_while_a_foreground_run_uses_the_store(rootless, mk):
    gan = rootless
    with_own_runtime_dir(gan)
    load_busybox(gan, mk, gan.base)
    fg = gan.popen("run", "-i", "sample:latest", "sh", "-c", "echo started; read line",
                   stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert fg.stdout.readline() == "started\n"  # it runs: its image's use lock is held
        res = gan.fail("system", "reset", "--force", code=5)
        assert "foreground" in res.err and "nothing was removed" in res.err, res
        assert gan.refs() and json.loads(gan.run("images", "--json").out), res
    finally:
        fg.communicate(timeout=60)  # its stdin closed: `read` ends, and the container with it
    gan.run("system", "reset", "--force")  # once it has ended
    assert not gan.root.exists()


def test_reset_refuses_a_directory_that_is_not_a_store(rootless):
    gan = rootless
    with_own_runtime_dir(gan)
    home = gan.base / "home"
    (home / "notes").mkdir(parents=True)
    if os.geteuid() == 0:
        os.chown(home, NOBODY.pw_uid, NOBODY.pw_gid)
    gan.root = home  # `--root ~` typed by mistake
    res = gan.fail("system", "reset", "--force", code=4)
    assert "is not a gantry store" in res.err and (home / "notes").is_dir(), res


def answer(gan, reply):
    """`system reset` on a terminal (a pty), answering REPLY to its question: what it printed."""
    master, slave = os.openpty()
    proc = gan.popen("system", "reset", stdin=slave, stdout=slave, stderr=slave)
    os.close(slave)
    seen = b""
    while not seen.endswith(b"[y/N] "):  # the question, then the answer
        seen += os.read(master, 4096)
    os.write(master, reply.encode() + b"\n")
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # EIO: the other end closed, gantry has exited
            break
        if not chunk:
            break
        seen += chunk
    os.close(master)
    assert proc.wait(timeout=60) == 0
    return seen.decode().replace("\r\n", "\n")


def test_reset_asks_on_a_terminal(rootless, mk):
    gan = rootless
    with_own_runtime_dir(gan)
    load_busybox(gan, mk, gan.base)
    out = answer(gan, "n")
    assert "WARNING! This will remove:" in out and str(gan.root) in out, out
    assert "1 image reference(s)" in out and "Nothing was removed" in out, out
    assert gan.refs()
    out = answer(gan, "y")
    assert f"Removed 0 container(s) and the store {gan.root}" in out, out
    assert not gan.root.exists()
