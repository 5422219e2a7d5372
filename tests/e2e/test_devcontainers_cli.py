"""The real client (issue 54): the Dev Containers CLI (npm @devcontainers/cli, the engine of VS
Code's Dev Containers and GitHub Codespaces) brings a devcontainer.json up with
`--docker-path gantry`, runs its postCreateCommand, and execs in it, as root and rootless. What
it drives, in order: `buildx version`, `-v`, `version --format`, `ps -q -a --filter label=...`,
`inspect --type image`, `events --format {{json .}} --filter event=start` (it waits for the
start event with its labels), `run --sig-proxy=false -a STDOUT -a STDERR --mount type=bind,...
-l ... --entrypoint /bin/sh IMAGE -c ...`, `inspect --type container`, and `exec -i -u USER -e
... -w ... ID /bin/sh` with commands written into its stdin.

The CLI is fetched once from the npm registry (pinned, `npm pack`) into the test cache; it needs
Node.js 20 (its package.json's engines), which this project's CI machine has."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import IN_CI, load_busybox, need_tool
from fixtures import mkimage
from fixtures.debian_base import CACHE, _locked

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "fixtures" / "gpuhost"))
import gpuhost as gh  # noqa: E402

VERSION = "0.89.0"


def devcontainer_cli():
    need_tool("node")
    need_tool("npm")
    major = int(subprocess.run(["node", "--version"], capture_output=True, text=True,
                               check=True).stdout.strip().lstrip("v").split(".")[0])
    if major < 20:
        msg = f"the Dev Containers CLI {VERSION} needs Node.js 20 or later (this is {major})"
        if IN_CI:
            pytest.fail(msg)
        pytest.skip(msg)
    with _locked("devcontainers"):
        out = CACHE / f"devcontainers-cli-{VERSION}"
        if not (out / "package" / "devcontainer.js").exists():
            tmp = CACHE / f"devcontainers-cli-{VERSION}.tmp"
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir()
            subprocess.run(["npm", "pack", "--silent", f"@devcontainers/cli@{VERSION}"],
                           cwd=tmp, check=True, capture_output=True, timeout=300)
            [tgz] = tmp.glob("*.tgz")
            subprocess.run(["tar", "xzf", tgz.name], cwd=tmp, check=True)
            os.chmod(tmp, 0o755)
            tmp.rename(out)
    return out / "package" / "devcontainer.js"


def wrapper(g, where: Path) -> Path:
    """A `docker` for the CLI: gantry with the test's store (the CLI runs as its user)."""
    w = where / "gantry-docker"
    argv = f"'{g.bin}'"
    env = " ".join(f"{k}='{v}'" for k, v in g.environ().items())
    w.write_text(f"#!/bin/sh\necho \"$*\" >> '{where}/calls.log'\nexec env {env} {argv} \"$@\"\n")
    w.chmod(0o755)
    return w


def cli(js, docker, *args, user=None):
    # its options before the command `exec` runs (after it they are that command's words)
    argv = ["node", str(js), args[0], "--docker-path", str(docker), *args[1:]]
    if user is not None:  # the CLI itself as the user (its temp files, its HOME)
        argv = ["setpriv", f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}", "--clear-groups",
                "--"] + argv
    # TMPDIR: the CLI's own /tmp/devcontainercli-USER otherwise outlives the test
    env = {"PATH": os.environ["PATH"], "HOME": str(docker.parent), "TMPDIR": str(docker.parent)}
    p = subprocess.run(argv, capture_output=True, text=True, timeout=120, env=env)
    return p


def workspace(where: Path, config: dict, files=None) -> Path:
    ws = where / "ws"
    (ws / ".devcontainer").mkdir(parents=True)
    (ws / "hello.txt").write_text("from the host\n")
    (ws / ".devcontainer" / "devcontainer.json").write_text(json.dumps(config))
    for name, text in (files or {}).items():
        (ws / ".devcontainer" / name).write_text(text)
    return ws


def up_exec_and_rm(g, where: Path, user=None):
    js = devcontainer_cli()
    ws = workspace(where, {"image": "sample:latest", "remoteUser": "root",
                           "postCreateCommand": "echo created > /tmp/post-create"})
    if user is not None:
        subprocess.run(["chown", "-R", f"{user.pw_uid}:{user.pw_gid}", str(where)], check=True)
    docker = wrapper(g, where)
    p = cli(js, docker, "up", "--workspace-folder", str(ws), user=user)
    assert p.returncode == 0, (p.stdout[-3000:], p.stderr[-3000:])
    result = json.loads(p.stdout.strip().splitlines()[-1])
    assert result["outcome"] == "success", result
    cid = result["containerId"]
    calls = (where / "calls.log").read_text().splitlines()
    assert "events --format {{json .}} --filter event=start" in calls, calls
    try:
        assert result["remoteWorkspaceFolder"] == "/workspaces/ws"
        # the container it made carries its labels, and the CLI finds it again by them
        labels = json.loads(g.run("inspect", "--type", "container", cid).out)[0]["Config"][
            "Labels"]
        assert labels["devcontainer.local_folder"] == str(ws), labels
        p = cli(js, docker, "exec", "--workspace-folder", str(ws), "sh", "-c",
                "cat /tmp/post-create hello.txt; pwd", user=user)
        assert p.returncode == 0, (p.stdout[-3000:], p.stderr[-3000:])
        assert p.stdout.splitlines()[-3:] == ["created", "from the host", "/workspaces/ws"], \
            p.stdout
        # up again: the running container is reused, not made twice
        p = cli(js, docker, "up", "--workspace-folder", str(ws), user=user)
        assert json.loads(p.stdout.strip().splitlines()[-1])["containerId"] == cid, p.stdout
        assert g.run("ps", "-q", "--filter", f"label=devcontainer.local_folder={ws}").out \
            .split() == [cid]
    finally:
        g.run("rm", "-f", cid, check=False)


def test_devcontainer_up_and_exec_as_root(g, tmp_path):
    load_busybox(g, mkimage, tmp_path)
    up_exec_and_rm(g, tmp_path / "dc")


def test_devcontainer_up_and_exec_rootless(rootless):
    load_busybox(rootless, mkimage, rootless.base)
    where = rootless.base / "dc"
    where.mkdir()
    up_exec_and_rm(rootless, where, user=rootless.user)


def test_devcontainer_built_from_a_dockerfile_with_the_gpus(g, tmp_path):
    """A devcontainer.json that builds its image (the CLI's `build -f ... --target ...
    --build-arg ...` of its generated Dockerfile) and asks for the GPUs in runArgs, on the
    simulated NVIDIA host: the device nodes and the driver's libcuda are in the container."""
    js = devcontainer_cli()
    load_busybox(g, mkimage, tmp_path)
    host = gh.build_host(tmp_path / "gpuhost", gh.preset(1, cc="8.0"))
    g.env["FAKE_DEVICE_ROOT"] = str(host.dev_root)
    ws = workspace(tmp_path / "dc", {
        "build": {"dockerfile": "Dockerfile"}, "remoteUser": "root",
        "runArgs": ["--gpus", "all", "--driver-root", str(host.driver_root), "--dev-root",
                    str(host.dev_root)],
        "postCreateCommand": "cat /built > /tmp/post-create"},
        {"Dockerfile": "FROM sample:latest\nRUN echo built > /built\n"})
    docker = wrapper(g, tmp_path / "dc")
    p = cli(js, docker, "up", "--workspace-folder", str(ws))
    assert p.returncode == 0, (p.stdout[-3000:], p.stderr[-3000:])
    cid = json.loads(p.stdout.strip().splitlines()[-1])["containerId"]
    try:
        calls = (tmp_path / "dc" / "calls.log").read_text()
        assert "build -f " in calls and "--target dev_containers_target_stage" in calls, calls
        p = cli(js, docker, "exec", "--workspace-folder", str(ws), "sh", "-c",
                "cat /tmp/post-create; ls /dev/nvidia0 /dev/nvidiactl; "
                "ls /usr/lib64/libcuda.so.1")  # busybox has no multiarch dir
        assert p.returncode == 0, (p.stdout[-3000:], p.stderr[-3000:])
        assert p.stdout.splitlines()[-4:] == [
            "built", "/dev/nvidia0", "/dev/nvidiactl",
            "/usr/lib64/libcuda.so.1"], p.stdout
    finally:
        g.run("rm", "-f", cid, check=False)


def debian_up_exec(g, where: Path, user=None):
    """A Debian 12 devcontainer (tests/fixtures/debian_base.py) built from a Dockerfile that adds
    a user, remoteUser that user: the CLI reads the image's /etc/passwd through `exec`, runs
    postCreateCommand and `exec` as the user, in the user's home. Rootless (a user with
    subordinate ids) the CLI also builds its updateUID image (dev gets the caller's uid and
    chowns /home/dev); the store applies the image's owners on disk as subordinate ids
    (docs/storage.md "Owners in a rootless store"), so dev writes its home."""
    from fixtures import debian_base
    js = devcontainer_cli()
    g.run("load", debian_base.debian_archive())
    ws = workspace(where, {
        "build": {"dockerfile": "Dockerfile"}, "remoteUser": "dev",
        "postCreateCommand": "id -un > /tmp/post-create; echo $HOME >> /tmp/post-create"},
        {"Dockerfile": f"FROM {debian_base.BASE}\nRUN useradd -m -u 1500 -s /bin/bash dev\n"})
    if user is not None:
        subprocess.run(["chown", "-R", f"{user.pw_uid}:{user.pw_gid}", str(where)], check=True)
    docker = wrapper(g, where)
    p = cli(js, docker, "up", "--workspace-folder", str(ws), user=user)
    assert p.returncode == 0, (p.stdout[-3000:], p.stderr[-3000:])
    cid = json.loads(p.stdout.strip().splitlines()[-1])["containerId"]
    try:
        p = cli(js, docker, "exec", "--workspace-folder", str(ws), "bash", "-c",
                "cat /tmp/post-create; id -un; id -u; cat /etc/debian_version; "
                "touch ~/.written && stat -c %u ~ ~/.written", user=user)
        assert p.returncode == 0, (p.stdout[-3000:], p.stderr[-3000:])
        out = p.stdout.splitlines()[-7:]
        assert out[:3] == ["dev", "/home/dev", "dev"], p.stdout
        # rootless, the CLI gives dev the caller's uid (its updateUID image); as root it keeps
        # the image's
        assert out[3] == (str(user.pw_uid) if user is not None else "1500"), p.stdout
        assert out[4].startswith("12."), p.stdout
        # dev owns its home and writes it
        assert out[5:] == [out[3], out[3]], p.stdout
        calls = (where / "calls.log").read_text()
        if user is not None:
            assert "updateUID.Dockerfile" in calls, calls
    finally:
        g.run("rm", "-f", cid, check=False)


def test_devcontainer_on_debian_with_a_remote_user(g, tmp_path):
    debian_up_exec(g, tmp_path / "dc")


def test_devcontainer_on_debian_with_a_remote_user_rootless(subid_user):
    where = subid_user.base / "dc"
    where.mkdir()
    debian_up_exec(subid_user, where, user=subid_user.user)


def test_devcontainer_through_the_engine_api_socket(g, tmp_path):
    """The Dev Containers CLI with docker's own CLI (`--docker-path docker`, Debian's 20.10)
    talking to `gantry system service`: events followed, the container run attached, `exec -i`
    with commands written into its stdin, all through the socket."""
    from test_engine_api import start_service
    js = devcontainer_cli()
    load_busybox(g, mkimage, tmp_path)
    sock = tmp_path / "run" / "api.sock"
    svc = start_service(g, sock, "--time", "0")
    where = tmp_path / "dcapi"
    ws = workspace(where, {"image": "sample:latest", "remoteUser": "root",
                           "postCreateCommand": "echo created > /tmp/post-create"})
    env = {"PATH": os.environ["PATH"], "HOME": str(where), "DOCKER_HOST": f"unix://{sock}",
           "DOCKER_CONFIG": str(where / "docker-config"), "TMPDIR": str(where)}

    def dc(*args):
        argv = ["node", str(js), args[0], "--docker-path", "/usr/bin/docker", *args[1:]]
        return subprocess.run(argv, capture_output=True, text=True, timeout=120, env=env)

    cid = None
    try:
        p = dc("up", "--workspace-folder", str(ws))
        assert p.returncode == 0, (p.stdout[-3000:], p.stderr[-3000:])
        cid = json.loads(p.stdout.strip().splitlines()[-1])["containerId"]
        p = dc("exec", "--workspace-folder", str(ws), "sh", "-c",
               "cat /tmp/post-create hello.txt; pwd")
        assert p.returncode == 0, (p.stdout[-3000:], p.stderr[-3000:])
        assert p.stdout.splitlines()[-3:] == ["created", "from the host", "/workspaces/ws"], \
            p.stdout
        # gantry's own CLI sees the container the API made, with the CLI's labels
        labels = json.loads(g.run("inspect", "--type", "container", cid).out)[0]["Config"][
            "Labels"]
        assert labels["devcontainer.local_folder"] == str(ws), labels
    finally:
        if cid:
            g.run("rm", "-f", cid, check=False)
        svc.terminate()
        svc.wait(timeout=10)
