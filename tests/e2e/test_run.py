"""gantry run, the core: exit codes, isolation, docker's env, entrypoint and working-directory
rules, how run's options are spelled, user IDs, bind mounts, masked paths, the network and the
private writable layer, as root and as an unprivileged user. The other run tests are in
test_run_*.py by theme (cleanup, layer, detached, limits, start, security, cgroups_ids, oci,
layout); run_common.py holds what they share."""
import os

from conftest import load_busybox
from run_common import runner, trash_settled  # noqa: F401 (runner: a pytest fixture)


def test_exit_codes(runner):
    img = runner.image
    assert runner.run("run", img, "true").code == 0
    assert runner.run("run", img, "sh", "-c", "exit 42", check=False).code == 42
    r = runner.run("run", img, "no-such-command", check=False)
    assert r.code == 127 and "executable file not found" in r.err
    r = runner.run("run", img, "/etc/passwd", check=False)
    assert r.code == 126 and "permission denied" in r.err.lower()
    # PID 1 ignores signals it has no handler for (as in docker), so kill from PID 2
    r = runner.run("run", "--init", img, "sh", "-c", "kill -KILL $$", check=False)
    assert r.code == 128 + 9
    r = runner.run("run", "--pull", "never", "no-such-image:1", "true", check=False)
    assert r.code == 125 and "not in the store" in r.err
    # docker's default, --pull missing: tried as a pull (a short name no registry resolves)
    r = runner.run("run", "no-such-image:1", "true", check=False)
    assert r.code == 125 and "unable to find image no-such-image:1 locally" in r.err


def test_output_and_isolation(runner):
    out = runner.run("run", runner.image, "sh", "-c",
                     "echo pid=$$; cat /proc/self/uid_map; hostname; ls /proc/self/fd | wc -l").out
    lines = out.split()
    assert lines[0] == "pid=1"  # a new PID namespace
    assert lines[1] == "0"  # uid 0 inside
    # fds 0,1,2 plus the one ls opens for reading the directory: nothing leaked
    assert lines[-1] == "4"


def test_env_precedence(runner, tmp_path):
    envfile = runner.where / "env.list"
    envfile.write_text("# comment\nFROM_FILE=file\nBOTH=file\n")
    os.chmod(envfile, 0o644)
    out = runner.run("run", "--env-file", envfile, "-e", "BOTH=cli", "-e", "ONLY=cli",
                     runner.image, "env").out
    env = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    assert env["FROM_FILE"] == "file"
    assert env["BOTH"] == "cli"
    assert env["ONLY"] == "cli"
    assert env["PATH"].startswith("/usr/local/sbin")
    assert env["HOME"] == "/root"


def test_option_spellings(runner):
    """run builds only the options its command line can name (cli::LazyOptions): every way of
    writing an option must still reach it. A short option clustered with a flag and its value
    attached, a long option with =, a value in the next token."""
    out = runner.run("run", "-ieA=1", "--env=B=2", "-e", "C=3", "-w/tmp/wd", "--hostname=h1",
                     "--user=0:0", "--tmpfs=/scratch", runner.image, "sh", "-c",
                     "echo $A $B $C; pwd; hostname; id -u; grep -c ' /scratch tmpfs' /proc/mounts"
                     ).out
    assert out.split() == ["1", "2", "3", "/tmp/wd", "h1", "0", "1"]
    # a missing working directory is made before the root turns read-only, as runc (docker)
    # makes it (issue 37); the root is read-only all the same
    out = runner.run("run", "--read-only", "-w/new/wd", runner.image, "sh", "-c",
                     "pwd; touch /new/wd/f 2>&1 || true").out
    assert out.startswith("/new/wd\n") and "Read-only file system" in out, out
    # help anywhere on the line lists every option, in its group, even in a cluster
    for line in (["--help"], ["-ih"], ["-e", "A=1", "--help", runner.image]):
        help_text = runner.run("run", *line).out
        assert "Usage: gantry run [OPTIONS] IMAGE [COMMAND [ARG...]]" in help_text
        for name in ("-e,--env", "--env-file", "-v,--volume", "--gpus", "--cdi-spec-dir",
                     "--writable-layer", "-t,--tty", "--no-require", "GPUs and devices"):
            assert name in help_text, (line, name)
    # an empty argument is an (invalid) image, never a sub-command: CLI11 2.1 took it for one
    # of its nameless option groups and looped forever when an option of that group followed
    for line in (["", "--pids-limit=10"], ["", "--cpus", "1", "--help"], [""]):
        r = runner.fail("run", *line, timeout=20)
        assert r.code == 125 and 'invalid image reference ""' in r.err, (line, r)
    # an option run does not have is named as such (it was passed on as the image), with
    # run's own help in the hint
    r = runner.fail("run", "--bogus=1", runner.image, "true", code=2)
    assert "unknown flag `--bogus`" in r.err and "see `gantry run --help`" in r.err, r
    # "--" ends run's options (as docker's); after IMAGE, everything is the command's
    out = runner.run("run", "-e", "A=1", "--", runner.image, "sh", "-c", "echo $A $0 $1", "-e",
                     "--help").out
    assert out.split() == ["1", "-e", "--help"]
    r = runner.fail("run", runner.image, "--", "true", code=127)  # "--" is the command here
    assert 'exec: "--"' in r.err


def test_user_ids_never_wrap_around_to_root(runner, mk):
    """IDs are 32-bit: `-u 4294967296` ran as uid 0 (root) and `exec -u -5` as 4294967291.
    A number out of range is a usage error, (uid_t)-1 too; an /etc/passwd entry whose IDs are
    not whole numbers ("-1", "10x", 4294967296) is no entry."""
    passwd = (b"root:x:0:0:root:/root:/bin/sh\n"
              b"neg:x:-1:0::/:/bin/sh\nhex:x:10x:0::/:/bin/sh\nbig:x:4294967296:0::/:/bin/sh\n"
              b"ok:x:1234:5678::/home/ok:/bin/sh\n")
    layer = mk.Layer([mk.Entry.file("etc/passwd", passwd)], "none")
    img = load_busybox(runner, mk, runner.where, extra_layers=[layer])
    for user in ("4294967296", "4294967295", "0:4294967296", "99999999999999999999999"):
        r = runner.fail("run", "-u", user, img, "id", code=2)
        assert "out of range" in r.err and "0 to 4294967294" in r.err, (user, r)
    for user in ("neg", "hex", "big"):
        r = runner.fail("run", "-u", user, img, "id", code=125)
        assert "not in the image's /etc/passwd" in r.err, (user, r)
    # every ID is mapped as root; rootless with a single-ID map, only 0 is
    all_ids = runner.run("run", img, "cat", "/proc/self/uid_map").out.split() == \
        ["0", "0", "4294967295"]
    if all_ids:
        assert runner.run("run", "-u", "4294967294", img, "id", "-u").out.split() == \
            ["4294967294"]
        assert runner.run("run", "-u", "ok", img, "sh", "-c",
                          "id -u; id -g; echo $HOME").out.split() == ["1234", "5678", "/home/ok"]
    name = f"ids{os.getpid()}"
    runner.run("run", "-d", "--name", name, img, "sleep", "30")
    try:
        for user in ("4294967296", "-5", "1:-5", "10x", ":1"):
            r = runner.fail("exec", "-u", user, name, "id", code=2)
            assert "out of range" in r.err or "numeric UID[:GID]" in r.err, (user, r)
        if all_ids:
            assert runner.run("exec", "-u", "7:8", name, "id").out.split()[:2] == \
                ["uid=7", "gid=8"]
    finally:
        runner.run("rm", "-f", name, check=False)


def test_entrypoint_rules(g, mk, tmp_path):
    img = mk.busybox_image(entrypoint=["/bin/echo", "ep"], cmd=["default-cmd"])
    archive = tmp_path / "ep.tar"
    mk.write_docker_archive(archive, [(img, ["ep:1"])])
    g.run("load", archive)
    assert g.run("run", "ep:1").out.strip() == "ep default-cmd"
    assert g.run("run", "ep:1", "a", "b").out.strip() == "ep a b"
    # --entrypoint replaces ENTRYPOINT and discards the image's CMD (docker)
    assert g.run("run", "--entrypoint", "/bin/echo", "ep:1").out.strip() == ""
    assert g.run("run", "--entrypoint", "/bin/echo", "ep:1", "x").out.strip() == "x"
    r = g.run("run", "--entrypoint", "", "ep:1", check=False)
    assert r.code == 125 and "no command" in r.err.lower()


def test_workdir_created_inside_root(runner):
    out = runner.run("run", "-w", "/new/work/dir", runner.image, "pwd").out.strip()
    assert out == "/new/work/dir"


def test_bind_mounts_and_read_only(runner):
    vol = runner.where / "vol"
    vol.mkdir()
    (vol / "f").write_text("data")
    os.chmod(vol, 0o777)
    r = runner.run("run", "-v", f"{vol}:/data:ro", runner.image, "sh", "-c",
                   "cat /data/f; echo x > /data/g", check=False)
    assert r.code != 0 and "data" in r.out and "Read-only" in r.err
    assert not (vol / "g").exists()
    runner.run("run", "--mount", f"type=bind,src={vol},dst=/rw", runner.image, "sh", "-c",
               "echo hi > /rw/h")
    assert (vol / "h").read_text() == "hi\n"
    r = runner.run("run", "--read-only", runner.image, "touch", "/x", check=False)
    assert r.code != 0 and "Read-only" in r.err
    assert runner.run("run", "--read-only", "--tmpfs", "/scratch", runner.image, "sh", "-c",
                      "echo ok > /scratch/x && cat /scratch/x").out.strip() == "ok"


def test_masked_and_readonly_paths(runner):
    masked = [p for p in ("/proc/keys", "/proc/timer_list", "/proc/kcore") if os.path.exists(p)]
    assert masked, "the host has none of the masked /proc files"
    for p in masked:
        assert runner.run("run", runner.image, "cat", p).out == ""
    r = runner.run("run", runner.image, "sh", "-c", "echo x > /proc/sys/kernel/domainname",
                   check=False)
    assert r.code != 0 and "Read-only" in r.err


def test_network_none_has_only_loopback(runner):
    out = runner.run("run", "--network", "none", runner.image, "cat", "/proc/net/dev").out
    ifaces = [line.split(":")[0].strip() for line in out.splitlines()[2:]]
    assert ifaces == ["lo"]


def test_container_layer_is_private_and_ephemeral(runner):
    runner.run("run", runner.image, "sh", "-c", "echo x > /etc/leak")
    r = runner.run("run", runner.image, "cat", "/etc/leak", check=False)
    assert r.code != 0
    containers = runner.root / "containers"
    assert not containers.exists() or list(containers.iterdir()) == []
    assert list((runner.root / "holds").iterdir()) == []
    trash_settled(runner.root)
