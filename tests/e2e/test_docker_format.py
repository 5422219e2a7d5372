"""The docker CLI's machine-readable surface (issue 54, section 1): `--format` (Go templates,
`table`, `json`) on version, info, ps, images and inspect; `--filter` on ps and images with
docker's semantics; labels on containers (`run -l`, `--label-file`); `inspect --type` in docker's
JSON shapes; `gantry -v`. One store and two detached containers for the whole file (seconds).
As root every test's containers share /run/gantry: each query here is narrowed to this file's
containers by name or by a label value no other test uses."""
import json
import os
import shutil
import subprocess

import pytest

from conftest import Gantry, load_busybox
from fixtures import mkimage

TOKEN = f"fmt{os.getpid()}"


@pytest.fixture(scope="module")
def fx(tmp_path_factory, gantry_bin):
    tmp = tmp_path_factory.mktemp("docker-format")
    g = Gantry(tmp / "store")
    load_busybox(g, mkimage, tmp, labels={"org.example.base": "bb", "tier": "image"})
    labels = tmp / "labels"
    labels.write_text("# from a file\nfrom.file=yes\n\n")
    up, done = f"{TOKEN}-up", f"{TOKEN}-exit"
    g.run("run", "-d", "--name", up, "-l", f"tier={TOKEN}", "--label",
          "devcontainer.local_folder=/src", "-v", f"{tmp}:/work:ro", "sample:latest",
          "sleep", "60")
    g.run("run", "-d", "--name", done, "--label-file", labels, "sample:latest",
          "sh", "-c", "exit 3")
    g.run("wait", done, check=False)
    yield g, up, done
    g.run("rm", "-f", up, check=False)
    g.run("rm", "-f", done, check=False)


def test_version_info_and_v_in_dockers_shapes(fx):
    g, _, _ = fx
    version = g.run("--version").out.split()[-1]
    assert g.run("-v").out == g.run("--version").out
    assert g.run("version", "--format", "{{.Server.Version}}").out == version + "\n"
    assert g.run("version", "-f", "{{.Client.Version}} {{.Server.Os}}").out == f"{version} linux\n"
    v = json.loads(g.run("version", "--format", "{{json .}}").out)
    assert v["Server"]["Components"][0]["Name"] == "Engine"
    info = json.loads(g.run("info", "--format", "{{json .}}").out)
    assert info["DockerRootDir"] == str(g.root) and info["ServerVersion"] == version
    assert info["Images"] == 1 and info["OSType"] == "linux"
    assert g.run("info", "-f", "{{.DockerRootDir}}").out == f"{g.root}\n"
    r = g.fail("version", "--format", "{{.Server.Verison}}", code=2)
    assert "no field .Verison in .Server" in r.err and ".Version" in r.err, r.err


def test_version_has_the_real_docker_clis_client_fields(fx):
    """The docker CLI prints its own Client fields without a daemon: gantry's has them all.
    scripts/install-deps.sh does not install docker's CLI (issue 54's section 2 adds docker.io):
    where it is missing this comparison is skipped, in CI too."""
    g, _, _ = fx
    if not shutil.which("docker"):
        pytest.skip("docker's CLI is not installed")
    p = subprocess.run(["docker", "version", "--format", "{{json .Client}}"],
                       capture_output=True, text=True, timeout=30,
                       env={"PATH": os.environ["PATH"], "DOCKER_HOST": "unix:///nonexistent"})
    docker_client = json.loads(p.stdout.splitlines()[0])
    ours = json.loads(g.run("version", "--format", "{{json .Client}}").out)
    assert set(docker_client) <= set(ours), set(docker_client) - set(ours)


def test_ps_format_filters_and_labels(fx):
    g, up, done = fx
    mine = ["--filter", f"name=^/{TOKEN}-"]
    out = g.run("ps", "-a", *mine, "--format",
                '{{.Names}} {{.State}} {{.Label "tier"}}|{{.Label "from.file"}}').out
    assert sorted(out.splitlines()) == [f"{done} exited image|yes", f"{up} running {TOKEN}|"]
    # the Dev Containers CLI's probe: -q -a, labels all matching
    ids = g.run("ps", "-q", "-a", "--filter", f"label=tier={TOKEN}", "--filter",
                "label=devcontainer.local_folder=/src").out.split()
    assert ids == [g.run("ps", "-q", "--filter", f"name=^/{up}$").out.strip()]
    assert g.run("ps", "-q", "-a", "--filter", f"label=tier={TOKEN}",
                 "--filter", "label=devcontainer.local_folder=/other").out == ""
    # status implies -a (exited does not, as docker's); a key repeated is any of its values
    assert g.run("ps", *mine, "--filter", "status=exited", "--format", "{{.Names}}").out == f"{done}\n"
    assert g.run("ps", *mine, "--filter", "exited=3", "--format", "{{.Names}}").out == ""
    assert g.run("ps", "-a", *mine, "--filter", "exited=3", "--format", "{{.Names}}").out == f"{done}\n"
    both = g.run("ps", *mine, "--filter", "status=exited", "--filter", "status=running",
                 "--format", "{{.Names}}").out
    assert sorted(both.split()) == sorted([up, done])
    assert g.run("ps", *mine, "--filter", "ancestor=sample", "--format", "{{.Names}}").out == f"{up}\n"
    table = g.run("ps", *mine, "--format", "table {{.Names}}\\t{{.Status}}").out.splitlines()
    assert table[0].split() == ["NAMES", "STATUS"] and table[1].startswith(up + "   ")
    assert json.loads(g.run("ps", *mine, "--format", "json").out)["Names"] == up
    r = g.fail("ps", *mine, "--format", "{{.Nmes}}", code=2)
    assert "no field .Nmes in a container (ps)" in r.err and ".Names" in r.err, r.err
    r = g.fail("ps", "--filter", "colour=red", code=2)
    assert "invalid filter 'colour' for ps" in r.err, r.err
    r = g.fail("run", "--label", "=x", "sample:latest", "true", code=2)
    assert "has no key" in r.err, r.err


def test_images_format_and_filters(fx):
    g, _, _ = fx
    assert g.run("images", "--format", "{{.Repository}}:{{.Tag}}").out == "sample:latest\n"
    row = json.loads(g.run("images", "--format", "{{json .}}").out)
    assert len(row["ID"]) == 12 and row["Size"].endswith("B") and row["Digest"].startswith("sha256:")
    assert g.run("images", "-q", "--filter", "reference=sam*").out.strip() == row["ID"]
    assert g.run("images", "-q", "--filter", "reference=other").out == ""
    assert g.run("images", "--filter", "label=org.example.base=bb", "--format",
                 "{{.Repository}}").out == "sample\n"
    assert g.run("images", "--format", "table").out.split("\n")[0].split() == \
        ["REPOSITORY", "TAG", "IMAGE", "ID", "CREATED", "SIZE"]
    r = g.fail("images", "--filter", "until=1h", code=2)
    assert "invalid filter 'until' for images" in r.err, r.err


def test_inspect_in_dockers_json_shapes(fx):
    g, up, done = fx
    c = json.loads(g.run("inspect", "--type", "container", up).out)[0]
    assert c["Name"] == f"/{up}" and c["State"]["Running"] is True and c["State"]["Pid"] > 0
    assert c["Config"]["Labels"]["tier"] == TOKEN and c["Config"]["Labels"]["org.example.base"] == "bb"
    assert c["Config"]["Image"] == "sample:latest" and c["Path"] == "sleep"
    assert [(m["Destination"], m["RW"]) for m in c["Mounts"]] == [("/work", False)]
    assert c["HostConfig"]["NetworkMode"] == "host"
    assert json.loads(g.run("container", "inspect", up).out)[0]["Id"] == c["Id"]
    assert g.run("inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}", done).out == "exited 3\n"
    # a name that is only a container's: docker's JSON without --type
    assert json.loads(g.run("inspect", done).out)[0]["Name"] == f"/{done}"
    i = json.loads(g.run("inspect", "--type", "image", "sample:latest").out)[0]
    assert i["Id"].startswith("sha256:") and i["Config"]["Labels"]["tier"] == "image"
    assert i["RepoTags"] == ["sample:latest"]
    assert json.loads(g.run("image", "inspect", "sample:latest").out)[0]["Id"] == i["Id"]
    assert g.run("inspect", "-f", '{{index .Config.Labels "org.example.base"}}',
                 "sample:latest").out == "bb\n"
    assert g.run("inspect", "sample:latest").out.startswith("Image:")  # gantry's own view
    g.fail("inspect", "--type", "container", "sample:latest", code=3)
    r = g.fail("inspect", "--type", "volume", up, code=2)
    assert "--type volume" in r.err
