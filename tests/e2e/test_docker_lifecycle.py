"""docker's container lifecycle beyond run (issue 54, section 1): `create`, `start [-a]`,
`restart`, `rename`, `cp` (in and out, `-` tar streams), as root and rootless. A created
container keeps its run request and its writable layer on disk, so `start` runs it again on the
same layer; `cp` resolves every path inside the container's root (a link planted there that
points at a host directory leads back into the root, never out of it)."""
import io
import os
import subprocess
import tarfile
import time
import uuid
from pathlib import Path

import pytest

from conftest import load_busybox

TOKEN = "lc" + uuid.uuid4().hex[:8]


@pytest.fixture(params=["root", "rootless"])
def runner(request, g, rootless, mk, tmp_path):
    if request.param == "root":
        if os.geteuid() != 0:
            pytest.skip("needs root")
        gan, where = g, tmp_path
    else:
        gan, where = rootless, rootless.base
    gan.image = load_busybox(gan, mk, where)
    gan.where = Path(where)
    gan.tag = f"{TOKEN}-{request.param}"
    created = []
    gan.created = created
    yield gan
    for name in created:
        gan.run("rm", "-f", name, check=False)


def entry(gan, name):
    mine = [c for c in gan.run("ps", "-a", "--json").json() if c["name"] == name]
    return mine[0] if mine else None


def events(gan, name, since):
    return gan.run("events", "--since", f"{since:.9f}", "--until", f"{time.time():.9f}",
                   "--filter", f"container={name}", "--format", "{{.Action}}").out.split()


def test_create_then_start_attached_and_again_on_the_same_layer(runner):
    name = f"{runner.tag}-create"
    runner.created.append(name)
    t = time.time()
    script = ("cat /kept /copied /vol1/in-volume 2>/dev/null; rm -f /copied /vol1/in-volume; "
              "echo run >> /kept; echo out; echo err >&2; exit 3")
    rodir = runner.where / "rodir"
    rodir.mkdir()
    r = runner.run("create", "--name", name, "-e", "X=1", "-v", "/vol1", "-v",
                   f"{rodir}:/ro:ro", runner.image, "sh", "-c", script)
    cid = r.out.strip()
    assert len(cid) == 12 and int(cid, 16) >= 0, r
    assert entry(runner, name)["status"] == "created"
    # cp into the created container: its root mounted for the copy, the file in its layer
    src = runner.where / "copied"
    src.write_text("copied\n")
    os.chmod(src, 0o644)
    runner.run("cp", src, f"{name}:/")
    # ... and into its anonymous volume: the volume, mounted where the run mounts it (docker's)
    runner.run("cp", src, f"{name}:/vol1/in-volume")
    # ... but never into a read-only bind: the host's directory stays as it was
    runner.fail("cp", src, f"{name}:/ro/x")
    assert list(rodir.iterdir()) == []
    # nothing ran: start -a runs it in the foreground, its exit status gantry's
    r = runner.run("start", "-a", name, check=False)
    assert r.code == 3 and r.out == "copied\ncopied\nout\n" and r.err.endswith("err\n"), r
    # cp out of the exited container: what its run wrote
    runner.run("cp", f"{name}:/kept", runner.where / "kept")
    assert (runner.where / "kept").read_text() == "run\n"
    st = entry(runner, name)
    assert st["status"] == "exited" and st["exit_code"] == 3, st
    # started again: the same container, on its same writable layer
    r = runner.run("start", "-a", name, check=False)
    assert r.code == 3 and r.out == "run\nout\n", r
    # detached (docker's start prints the name)
    assert runner.run("start", cid).out == f"{cid}\n"
    assert runner.run("wait", name).out == "3\n"
    assert runner.run("logs", name).out.startswith("run\nrun\nout\n")
    assert events(runner, name, t).count("start") == 3
    assert "create" in events(runner, name, t)
    # -i: stdin attached too
    reader = f"{runner.tag}-stdin"
    runner.created.append(reader)
    runner.run("create", "--name", reader, runner.image, "sh", "-c", "read x; echo got $x")
    assert runner.run("start", "-i", reader, input="typed\n").out == "got typed\n"
    # a name in use by a created container is docker's conflict
    r = runner.fail("create", "--name", name, runner.image, "true", code=5)
    assert f'The container name "/{name}" is already in use by container "{cid}"' in r.err, r


def test_restart_a_detached_container_and_rename_it(runner):
    name, other = f"{runner.tag}-restart", f"{runner.tag}-other"
    runner.created += [name, other, f"{name}-new"]
    t = time.time()
    runner.run("run", "-d", "--name", name, runner.image, "sh", "-c",
               "echo up; exec sleep 60")
    first = entry(runner, name)
    assert first["status"] == "running", first
    assert runner.run("restart", "-t", "0", name).out == f"{name}\n"
    again = entry(runner, name)
    assert again["status"] == "running" and again["pid"] != first["pid"], (first, again)
    # restart returns once the workload runs; its echo reaches the output file a moment later
    # (the output copier): read until it is there, bounded
    end = time.monotonic() + 10
    while (out := runner.run("logs", name).out) != "up\nup\n" and time.monotonic() < end:
        time.sleep(0.05)
    assert out == "up\nup\n"
    acts = events(runner, name, t)
    assert acts.index("stop") < acts.index("restart") and acts[-1] == "restart", acts
    assert acts.count("start") == 2, acts
    # rename: docker's messages for a taken name and the same name; a running one too
    runner.run("create", "--name", other, runner.image, "true")
    cid = entry(runner, other)["id"]
    r = runner.fail("rename", name, other, code=5)
    assert f'Conflict. The container name "/{other}" is already in use by container "{cid}"' \
        in r.err, r
    r = runner.fail("rename", name, name, code=2)
    assert "Renaming a container with the same name as its current name" in r.err, r
    runner.run("rename", name, f"{name}-new")
    assert entry(runner, name) is None and entry(runner, f"{name}-new")["status"] == "running"
    assert "rename" in events(runner, f"{name}-new", t)
    # its monitor records its end under the new name
    runner.run("stop", "-t", "0", f"{name}-new")
    assert entry(runner, f"{name}-new")["status"] == "exited"
    # docker's group aliases
    assert runner.run("container", "start", f"{name}-new").out == f"{name}-new\n"
    runner.run("container", "rename", f"{name}-new", name)
    runner.run("container", "restart", "-t", "0", name)
    assert entry(runner, name)["status"] == "running"


def test_cp_both_ways_stays_inside_the_root(runner):
    name = f"{runner.tag}-cp"
    runner.created.append(name)
    where = runner.where
    outside = where / "outside"
    outside.mkdir()
    (outside / "secret").write_text("host secret\n")
    os.chmod(outside, 0o777)
    r = runner.fail("cp", where, f"{name}:/tmp/", code=3)  # no such container yet
    runner.run("run", "-d", "--name", name, "--writable-layer", "disk", runner.image, "sh", "-c",
               f"mkdir -p /data/sub; echo inside > /data/sub/f; ln -s {outside} /escape; "
               "ln -s / /rootlink; touch /ready; exec sleep 60")
    for _ in range(100):
        if runner.run("exec", name, "test", "-e", "/ready", check=False).code == 0:
            break
        time.sleep(0.05)
    # in: a file, into a directory
    src = where / "in.txt"
    src.write_text("from host\n")
    os.chmod(src, 0o644)
    runner.run("cp", src, f"{name}:/tmp/")
    assert runner.run("exec", name, "cat", "/tmp/in.txt").out == "from host\n"
    runner.run("container", "cp", src, f"{name}:/tmp/renamed.txt")
    assert runner.run("exec", name, "cat", "/tmp/renamed.txt").out == "from host\n"
    # out: a directory, and its contents with /.
    runner.run("cp", f"{name}:/data", where / "got")
    assert (where / "got" / "sub" / "f").read_text() == "inside\n"
    runner.run("cp", f"{name}:/data/.", where / "contents")
    assert (where / "contents" / "sub" / "f").read_text() == "inside\n"
    # a link in the root that names a host directory leads into the root, never out of it
    r = runner.fail("cp", src, f"{name}:/escape/pwned", code=3)
    assert not (outside / "pwned").exists()
    runner.fail("cp", f"{name}:/escape/secret", where / "stolen", code=3)
    assert not (where / "stolen").exists()
    runner.run("cp", src, f"{name}:/rootlink/../../../../tmp/up.txt")
    assert runner.run("exec", name, "cat", "/tmp/up.txt").out == "from host\n"
    assert not Path("/tmp/up.txt").exists() or Path("/tmp/up.txt").read_text() != "from host\n"
    # the link itself is copied out as a link; -L follows it (in the root)
    runner.run("cp", f"{name}:/escape", where / "link")
    assert os.readlink(where / "link") == str(outside)
    runner.fail("cp", "-L", f"{name}:/escape", where / "followed", code=3)
    # - : a tar stream out, and one in
    p = subprocess.run(runner.cmd("cp", f"{name}:/data", "-"), env=runner.environ(),
                       capture_output=True, timeout=60)
    assert p.returncode == 0, p.stderr
    with tarfile.open(fileobj=io.BytesIO(p.stdout)) as tf:
        names = tf.getnames()
        assert "data/sub/f" in names, names
        assert tf.extractfile("data/sub/f").read() == b"inside\n"
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        data = b"streamed\n"
        info = tarfile.TarInfo("in/s.txt")
        info.size = len(data)
        tf.addfile(info, io.BytesIO(data))
    p = subprocess.run(runner.cmd("cp", "-", f"{name}:/tmp"), env=runner.environ(),
                       input=buf.getvalue(), capture_output=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert runner.run("exec", name, "cat", "/tmp/in/s.txt").out == "streamed\n"
    # a stream whose names climb out is refused
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        info = tarfile.TarInfo("../../evil")
        tf.addfile(info, io.BytesIO(b""))
    p = subprocess.run(runner.cmd("cp", "-", f"{name}:/tmp"), env=runner.environ(),
                       input=buf.getvalue(), capture_output=True, timeout=60)
    assert p.returncode == 4 and b"names a parent" in p.stderr, p.stderr
    # refused: -a, two containers, none, a stopped container
    assert "not supported" in runner.fail("cp", "-a", src, f"{name}:/tmp", code=7).err
    runner.fail("cp", f"{name}:/a", f"{name}:/b", code=2)
    runner.fail("cp", src, where / "x", code=2)
    # stopped: its root mounted for the copy, paths still resolved in it
    runner.run("stop", "-t", "0", name)
    runner.run("cp", src, f"{name}:/tmp/stopped.txt")
    runner.run("cp", f"{name}:/tmp/stopped.txt", where / "back.txt")
    assert (where / "back.txt").read_text() == "from host\n"
    runner.fail("cp", src, f"{name}:/escape/pwned", code=3)
    assert not (outside / "pwned").exists()
    # a layer kept in memory is gone with its run: nothing to copy
    mem = f"{runner.tag}-mem"
    runner.created.append(mem)
    runner.run("run", "-d", "--name", mem, "--writable-layer", "memory", runner.image, "true",
               check=False)
    if entry(runner, mem):
        runner.run("wait", mem)
        r = runner.fail("cp", src, f"{mem}:/tmp/", code=5)
        assert "kept no writable layer" in r.err and "gantry start" in r.err, r


def test_kill_sends_the_signal_asked_and_sigkill_by_default(runner):
    """docker kill [-s SIGNAL]: the first process gets the signal (a trapped HUP keeps it
    running, SIGKILL ends it as exit 137), each event journalled kill then die; a container
    that is not running, a name there is none of and an unknown signal are refused."""
    name = f"{runner.tag}-kill"
    runner.created.append(name)
    runner.run("run", "-d", "--name", name, runner.image, "sh", "-c",
               "trap 'echo got-hup' HUP; echo trapped; while :; do sleep 0.05; done")
    runner.wait_logged(name, "trapped")
    t = time.time()
    assert runner.run("kill", "-s", "HUP", name).out == f"{name}\n"
    runner.wait_logged(name, "got-hup")
    assert entry(runner, name)["status"] == "running"
    assert runner.run("container", "kill", "--signal=SIGKILL", name).out == f"{name}\n"
    assert runner.run("wait", name).out == "137\n"
    acts = events(runner, name, t)
    assert acts == ["kill", "kill", "die"], acts
    r = runner.fail("kill", name, code=5)
    assert f"cannot kill container {name}: it is not running" in r.err, r
    assert "gantry start" in r.err, r
    assert runner.fail("kill", f"{name}-none", code=3).err
    r = runner.fail("kill", "-s", "NOPE", name, code=2)
    assert "NOPE" in r.err, r
    # default: SIGKILL
    runner.run("start", name)
    runner.wait_logged(name, "trapped")
    runner.run("kill", name)
    # SIGKILL returns once the exit is recorded, as docker's daemon waits: no moment between
    # the process's end and its monitor's record in which inspect says running or exit 0
    state = runner.run("inspect", name).json()[0]["State"]
    assert (state["Status"], state["Running"], state["ExitCode"]) == ("exited", False, 137)
    assert runner.run("wait", name).out == "137\n"


def test_container_prune_removes_what_is_not_running(runner):
    """docker's container prune: every container not running (exited, created) goes with its
    directory; a running one stays; --filter label=/label!=/until= select, and without -f it
    asks first (no on an empty answer). Each prune also selects this test's own label: the
    containers of every store (and every parallel test) share the runtime directory."""
    names = {k: f"{runner.tag}-pr-{k}" for k in ("up", "done", "made", "kept")}
    runner.created.extend(names.values())
    own = f"owner={runner.tag}"
    mine = ("--filter", f"label={own}")
    runner.run("run", "-d", "--name", names["up"], "-l", own, runner.image, "sleep", "60")
    runner.run("run", "-d", "--name", names["done"], "-l", "prune=me", "-l", own, runner.image,
               "true")
    runner.run("create", "--name", names["made"], "-l", "prune=me", "-l", own, runner.image,
               "true")
    runner.run("run", "-d", "--name", names["kept"], "-l", "keep=1", "-l", own, runner.image,
               "true")
    for n in (names["done"], names["kept"]):
        runner.run("wait", n)
    ids = {k: entry(runner, n)["id"] for k, n in names.items()}
    # without -f: the question; an empty answer removes nothing
    r = runner.run("container", "prune", *mine, input="")
    assert "Are you sure you want to continue? [y/N]" in r.out and "Deleted" not in r.out, r
    assert all(entry(runner, n) for n in names.values())
    # until=: all were created just now
    r = runner.run("container", "prune", "-f", *mine, "--filter", "until=1h")
    assert r.out == "Total reclaimed space: 0B\n", r
    r = runner.run("container", "prune", *mine, "--filter", "label!=keep", input="y\n")
    deleted = r.out.split("Deleted Containers:\n")[1].split("\n\n")[0].split()
    assert sorted(deleted) == sorted([ids["done"], ids["made"]]), r
    assert "Total reclaimed space:" in r.out
    assert entry(runner, names["done"]) is None and entry(runner, names["made"]) is None
    assert entry(runner, names["up"])["status"] == "running"
    r = runner.run("container", "prune", "-f", *mine, "--filter", "label=keep=1")
    assert ids["kept"] in r.out and entry(runner, names["kept"]) is None, r
    assert entry(runner, names["up"])["status"] == "running"
    r = runner.fail("container", "prune", "-f", "--filter", "status=exited", code=2)
    assert "status" in r.err and "until, label, label!" in r.err, r
    runner.run("rm", "-f", names["up"])


def test_stats_one_table_a_stream_and_every_container(runner):
    """`gantry stats` (docker's): a table of the running containers, or the named ones, with
    docker's columns and figures (docs/docker-cli.md); -a adds those not running, at zero; a
    stream redraws each second, and a named container removed meanwhile shows docker's "--"."""
    busy, idle, made = (f"{runner.tag}-st{n}" for n in ("busy", "idle", "made"))
    runner.created += [busy, idle, made]
    limit = ["--memory", "64m"] if runner.user is None else []  # a cgroup of its own as root
    runner.run("run", "-d", "--name", busy, *limit, runner.image, "sh", "-c",
               "i=0; while [ $i -lt 100000 ]; do i=$((i+1)); done; exec sleep 60")
    runner.run("run", "-d", "--name", idle, runner.image, "sleep", "60")
    runner.run("create", "--name", made, runner.image, "true")
    fields = "{{.Name}}|{{.CPUPerc}}|{{.MemUsage}}|{{.MemPerc}}|{{.NetIO}}|{{.BlockIO}}|{{.PIDs}}"
    rows = {r.split("|")[0]: r.split("|") for r in
            runner.run("stats", "--no-stream", "--format", fields).out.splitlines()}
    assert busy in rows and idle in rows and made not in rows, rows
    for name in (busy, idle):
        _, cpu, mem, mem_perc, net, _, pids = rows[name]
        assert cpu.endswith("%") and float(cpu[:-1]) >= 0 and mem_perc.endswith("%"), rows
        assert net == "0B / 0B" and int(pids) >= 1, rows
        used, lim = mem.split(" / ")
        assert used[0].isdigit() and used.endswith("B"), rows
    total = next(int(line.split()[1]) * 1024 for line in open("/proc/meminfo")
                 if line.startswith("MemTotal:"))
    units, v, i = ["B", "KiB", "MiB", "GiB", "TiB"], float(total), 0
    while v >= 1024 and i < len(units) - 1:
        v, i = v / 1024, i + 1
    assert rows[idle][2].split(" / ")[1] == f"{v:.4g}{units[i]}", rows  # no limit: the host's
    if limit:
        assert rows[busy][2].endswith(" / 64MiB"), rows
    # docker's default table; -a adds the created one at zero; names pick, IDs whole
    table = runner.run("stats", "--no-stream", "-a").out.splitlines()
    assert table[0].split("   ")[0] == "CONTAINER ID" and "MEM USAGE / LIMIT" in table[0]
    made_row = next(r for r in table if made in r)
    assert "0.00%" in made_row and "0B / 0B" in made_row, table
    whole = runner.run("stats", "--no-stream", "--no-trunc", "--format", "{{.ID}} {{.Name}}",
                       idle).out.split()
    assert whole == [entry(runner, idle)["id"], idle], whole  # gantry's IDs are whole at 12
    r = runner.run("stats", "--no-stream", f"{runner.tag}-nosuch", check=False)
    assert r.code != 0 and f"{runner.tag}-nosuch" in r.err, r
    # streamed: a row a second; the container removed meanwhile reads "--"
    p = runner.popen("stats", "--format", "{{.Name}} {{.PIDs}}", idle, stdout=subprocess.PIPE,
                     text=True)
    try:
        assert p.stdout.readline().split()[0] == idle
        runner.run("rm", "-f", idle)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            line = p.stdout.readline()
            if line.split() == [idle, "--"]:
                break
        else:
            pytest.fail("no row of the removed container read --")
    finally:
        p.kill()
        p.wait()
