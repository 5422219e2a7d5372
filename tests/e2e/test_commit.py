"""gantry commit (issue 76): a container's writable layer as one new layer on its image, its run
settings and the --change instructions in the config, named or kept untagged (<none>:<none>),
root and rootless; and the same container actions committed by podman 4.3 give the same files,
whiteouts and config fields."""
import gzip
import io
import json
import os
import tarfile

import pytest

from build_compare import differences, tree_and_config
from run_common import runner  # noqa: F401 (a pytest fixture)
from test_build_podman import podman  # noqa: F401 (a pytest fixture)
from conftest import load_busybox

# the same actions in both engines: a file added, one changed, one deleted, a directory
# replaced (an opaque directory), a directory removed
SCRIPT = ("echo new > /added; echo more >> /etc/passwd; rm /etc/group; rm -rf /home; "
          "rm -rf /root && mkdir -p /root/fresh && echo f > /root/fresh/file")
# what podman leaves in a committed layer: the empty targets it mounted over
PODMAN_STUBS = {"etc/hosts", "etc/resolv.conf", "etc/hostname", "run", "run/.containerenv"}
EMPTY = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
CHANGES = ["EXPOSE 8000", 'CMD ["cat", "/added"]', "ENV FROM_CHANGE=1", "LABEL committed=yes"]


def last_layer_names(archive):
    """The entry names of the last layer of a docker-archive, sorted."""
    with tarfile.open(archive) as t:
        manifest = json.load(t.extractfile("manifest.json"))[0]
        data = t.extractfile(manifest["Layers"][-1]).read()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    with tarfile.open(fileobj=io.BytesIO(data)) as lt:
        return sorted(m.name.removeprefix("./").strip("/") for m in lt.getmembers())


def test_commit_a_container(runner):
    name = f"commit{os.getpid()}"
    image = f"committed{os.getpid()}:v1"
    try:
        runner.run("run", "-d", "--writable-layer", "disk", "--name", name, "-e", "RUN_ENV=2",
                   "-w", "/etc",
                   "--label", "from-run=1", runner.image, "sh", "-c", SCRIPT)
        runner.run("wait", name)
        # a change commit does not apply is refused by name, before anything is written
        r = runner.fail("commit", "--change", "RUN true", name, image, code=2)
        assert "--change RUN: commit applies only CMD" in r.err, r
        r = runner.fail("commit", "--change", "STOPSIGNAL SIGINT", name, image, code=2)
        assert "--change STOPSIGNAL" in r.err, r
        assert image.split(":")[0] not in runner.run("images").out
        out = runner.run("commit", "-m", "a message", "-a", "Jane <j@example.com>",
                         *[a for c in CHANGES for a in ("-c", c)], name, image).out.strip()
        assert out.startswith("sha256:") and len(out) == 71, out
        assert runner.run("inspect", "--format", "{{.Id}}", image).out.strip() == out
        # the committed image runs: its new file, its config (the run's -e and -w, the changes)
        r = runner.run("run", "--rm", image)
        assert r.out == "new\n", r
        r = runner.run("run", "--rm", image, "sh", "-c",
                       'echo "$RUN_ENV $FROM_CHANGE $(pwd)"; ls /root; test -e /etc/group || '
                       'echo no-group; test -e /home || echo no-home; tail -n1 /etc/passwd')
        assert r.out == "2 1 /etc\nfresh\nno-group\nno-home\nmore\n", r
        # the container keeps its changes: its diff is unchanged by the commit
        assert "A /added" in runner.run("diff", name).out
        # history: the commit's entry last, with its comment and author
        hist = runner.run("history", "--json", image).json()
        assert hist[0]["comment"] == "a message", hist[0]
        # untagged: <none>:<none>, found by ID, listed as dangling, removed by ID
        untagged = runner.run("commit", name).out.strip()
        rows = [l.split() for l in runner.run("images").out.splitlines()]
        assert ["<none>", "<none>", untagged[7:19]] in [row[:3] for row in rows], rows
        dangling = runner.run("images", "-q", "--filter", "dangling=true").out.split()
        assert dangling == [untagged[7:19]], dangling
        assert runner.run("run", "--rm", untagged[7:19], "cat", "/added").out == "new\n"
        runner.run("system", "prune", "-f")  # kept: an untagged image is a root
        assert runner.run("inspect", "--format", "{{.Id}}", untagged).out.strip() == untagged
        runner.run("rmi", untagged[7:19])
        assert runner.run("images", "-q", "--filter", "dangling=true").out.split() == []
        r = runner.fail("commit", "no-such-container" + name)
        assert "no-such-container" in r.err
    finally:
        runner.run("rm", "-f", name, check=False)
        runner.run("rmi", image, check=False)


def test_commit_a_running_container(runner):
    """A running container is paused for its commit where it has a freezer (docker's default),
    and goes on running after it; --pause=false commits it as it runs."""
    name = f"commitrun{os.getpid()}"
    try:
        runner.run("run", "-d", "--writable-layer", "disk", "--name", name, runner.image, "sh",
                   "-c", "echo one > /state; sleep 600")
        runner.run("exec", name, "test", "-e", "/state")
        for pause in ("--pause=true", "--pause=false"):
            image = runner.run("commit", pause, name).out.strip()
            assert runner.run("inspect", "--format", "{{.State.Status}}", name).out == \
                "running\n"
            assert runner.run("run", "--rm", image, "cat", "/state").out == "one\n"
            runner.run("rmi", image)
    finally:
        runner.run("rm", "-f", name, check=False)


def test_commit_matches_podman_commit(g, mk, tmp_path, podman):
    """The same container actions committed by podman 4.3 and by gantry: the same files,
    whiteouts (.wh.NAME, and .wh..wh..opq for a directory replaced) and config fields."""
    load_busybox(g, mk, tmp_path)
    podman("load", "-i", tmp_path / "bb.tar")
    name = f"pcommit{os.getpid()}"
    run = ["run", "--name", name, "-e", "RUN_ENV=2", "-w", "/etc", "--label", "from-run=1"]
    changes = [a for c in CHANGES for a in ("--change", c)]
    try:
        g.run(*run, "-d", "--writable-layer", "disk", "sample:latest", "sh", "-c", SCRIPT)
        g.run("wait", name)
        g.run("commit", *changes, name, "cmp:gantry")
        g.run("save", "-o", tmp_path / "g.tar", "cmp:gantry")
    finally:
        g.run("rm", "-f", name, check=False)
    podman(*run, "--network", "none", "sample:latest", "sh", "-c", SCRIPT)
    podman("commit", *changes, name, "cmp:podman")
    podman("save", "--format", "docker-archive", "-o", tmp_path / "p.tar", "cmp:podman")
    gt, gc = tree_and_config(tmp_path / "g.tar")
    pt, pc = tree_and_config(tmp_path / "p.tar")
    for stub in PODMAN_STUBS:  # podman's own mount targets, empty; never gantry's
        assert stub not in gt
        if stub in pt and pt[stub][0] in ("file", "dir") and pt[stub][4] in ("", EMPTY):
            del pt[stub]
    if pt.get("etc/mtab", ("",) * 5)[4] == "/proc/mounts":  # podman's link, made at its start
        assert "etc/mtab" not in gt
        del pt["etc/mtab"]
    assert differences(gt, pt) == []
    # the new layer: the same entries, whiteouts as OCI writes them (podman's stubs aside)
    gl, pl = last_layer_names(tmp_path / "g.tar"), last_layer_names(tmp_path / "p.tar")
    assert ".wh.home" in gl and "etc/.wh.group" in gl and "root/.wh..wh..opq" in gl, gl
    assert gl == [n for n in pl if n not in PODMAN_STUBS | {"etc/mtab"}], (gl, pl)
    # the config: podman's Env adds its own container=, HOSTNAME= and TERM= words, and its
    # order varies from run to run (podman 4.3 merges the variables in a Go map): compared as
    # sets; gantry's in docker's order, the image's, then the run's -e, then the changes'
    penv = [e for e in pc.pop("Env") if not e.startswith(("container=", "HOSTNAME=", "TERM="))]
    genv = gc.pop("Env")
    assert sorted(genv) == sorted(penv), (genv, penv)
    assert genv[1:] == ["RUN_ENV=2", "FROM_CHANGE=1"] and genv[0].startswith("PATH="), genv
    assert gc == pc
    assert gc["Cmd"] == ["cat", "/added"] and "8000/tcp" in gc["ExposedPorts"], gc
    assert gc["WorkingDir"] == "/etc" and gc["Labels"]["from-run"] == "1", gc
