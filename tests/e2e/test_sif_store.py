"""Apptainer's images beyond one file (issue 53): a directory of SIF files is an image store
(as the shared stores of docs/sqsh.md are: --image-store, GANTRY_IMAGE_STORES, the config
file's image_stores), `run NAME` finding NAME.sif or the file `apptainer pull` names; a SIF's
run gets the variables Apptainer's runtime sets (APPTAINER_CONTAINER, APPTAINER_NAME, their
SINGULARITY_ twins); `gantry test` runs /.singularity.d/test as `apptainer test`, and
`run -d FILE.sif` without a command the startscript, as `apptainer instance start`.

The SIFs are made by the reference's tool (siftool) around a busybox squashfs; the OCI-SIF by
tests/fixtures/sif_files.py (SingularityCE's layout)."""
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import Gantry, need_tool

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fixtures"))
import sif_files  # noqa: E402

SCRIPTS = {
    "runscript": 'echo "runscript $GREETING $*"',
    "startscript": 'echo "startscript $GREETING $APPTAINER_INSTANCE"',
    "test": 'echo "test $GREETING $*"; exit "${1:-0}"',
}


def make_sif(d: Path, name: str, scripts: dict) -> Path:
    root = d / f"{name}-root"
    (root / "usr" / "bin").mkdir(parents=True)
    (root / "bin").symlink_to("usr/bin")
    shutil.copy("/bin/busybox", root / "usr" / "bin" / "busybox")
    for tool in ("sh", "echo", "env", "sort", "grep"):
        (root / "usr" / "bin" / tool).symlink_to("busybox")
    meta = root / ".singularity.d"
    (meta / "env").mkdir(parents=True)
    (meta / "env" / "90-environment.sh").write_text("export GREETING=hello\n")
    for script, body in scripts.items():
        (meta / script).write_text("#!/bin/sh\n" + body + "\n")
        (meta / script).chmod(0o755)
    sqsh = d / f"{name}.sqsh"
    subprocess.run(["mksquashfs", str(root), str(sqsh), "-quiet", "-noappend", "-all-root"],
                   check=True, capture_output=True)
    sif = d / f"{name}.sif"
    subprocess.run(["siftool", "new", str(sif)], check=True, capture_output=True)
    subprocess.run(["siftool", "add", str(sif), str(sqsh), "--datatype", "4", "--parttype", "2",
                    "--partfs", "1", "--partarch", "2"], check=True, capture_output=True)
    return sif


@pytest.fixture(scope="module")
def lib(tmp_path_factory):
    """A site's library of SIFs: tool.sif (runscript, startscript, test), bare_1.0.sif (a
    runscript only; `apptainer pull docker://example.com/lab/bare:1.0`'s name), and an
    OCI-SIF ocisif.sif."""
    need_tool("mksquashfs")
    need_tool("siftool")
    d = tmp_path_factory.mktemp("siflib")
    work = d / "work"
    work.mkdir()
    store = d / "store"
    store.mkdir()
    tool = make_sif(work, "tool", SCRIPTS)
    bare = make_sif(work, "bare", {"runscript": SCRIPTS["runscript"]})
    shutil.move(tool, store / "tool.sif")
    shutil.move(bare, store / "bare_1.0.sif")
    config = {"architecture": "amd64", "os": "linux",
              "config": {"Cmd": ["/bin/sh", "-c", 'echo "oci-sif $APPTAINER_NAME"'],
                         "Env": ["PATH=/usr/bin:/bin"]},
              "rootfs": {"type": "layers", "diff_ids": []}}
    (store / "ocisif.sif").write_bytes(sif_files.oci_sif((work / "bare.sqsh").read_bytes(),
                                                         config))
    return store


def test_a_directory_of_sif_files_is_an_image_store(tmp_path, gantry_bin, lib):
    g = Gantry(tmp_path / "store", env={"GANTRY_IMAGE_STORES": str(lib)})
    # NAME.sif; then the file `apptainer pull` names for a reference; an OCI-SIF as its image
    assert g.run("run", "--rm", "tool").out == "runscript hello \n"
    assert g.run("run", "--rm", "tool.sif", "sh", "-c", "echo $GREETING").out == "hello\n"
    assert g.run("run", "--rm", "example.com/lab/bare:1.0").out == "runscript hello \n"
    assert g.run("run", "--rm", "ocisif").out == "oci-sif ocisif.sif\n"
    # --image-store and the config file's image_stores, as for a store of .sqsh files
    plain = Gantry(tmp_path / "store")
    assert plain.run("--image-store", lib, "run", "--rm", "bare_1.0").out == "runscript hello \n"
    cfg = tmp_path / "config.yaml"
    cfg.write_text(f"image_stores: [{lib}]\n")
    byconf = Gantry(tmp_path / "store", env={"GANTRY_CONFIG": str(cfg)})
    assert byconf.run("run", "--rm", "tool").out == "runscript hello \n"
    # listed with the store they are in; inspect finds them
    rows = {j["reference"]: j for j in g.run("images", "--json").json()}
    for name in ("tool", "bare_1.0", "ocisif"):
        assert rows[name]["format"] == "sif" and rows[name]["image_store"] == str(lib)
        assert rows[name]["file"] == f"{lib}/{name}.sif"
    table = g.run("images").out
    assert any(l.split()[:2] == ["tool", "-"] and l.rstrip().endswith(str(lib))
               for l in table.splitlines()), table
    j = g.run("inspect", "--json", "tool").json()[0]
    assert j["format"].startswith("Apptainer SIF") and j["image_store"] == str(lib)
    # a name no store has is still a pull's: not found here
    r = g.fail("run", "--rm", "--pull", "never", "absent")
    assert "absent" in r.err


def test_apptainers_runtime_variables_are_set_in_a_sif_run(tmp_path, gantry_bin, lib):
    g = Gantry(tmp_path / "store")
    env = g.run("run", "--rm", lib / "tool.sif", "env").out.splitlines()
    for prefix in ("APPTAINER", "SINGULARITY"):
        assert f"{prefix}_CONTAINER={lib}/tool.sif" in env
        assert f"{prefix}_NAME=tool.sif" in env
        assert f"{prefix}_ENVIRONMENT=/.singularity.d/env/91-environment.sh" in env
    # a store's SIF: the file it runs; -e still wins
    g = Gantry(tmp_path / "store", env={"GANTRY_IMAGE_STORES": str(lib)})
    r = g.run("run", "--rm", "-e", "APPTAINER_NAME=mine", "bare_1.0", "env")
    assert f"APPTAINER_CONTAINER={lib}/bare_1.0.sif" in r.out.splitlines()
    assert "APPTAINER_NAME=mine" in r.out.splitlines()


def test_gantry_test_runs_the_test_script_as_apptainer_test(tmp_path, gantry_bin, lib):
    g = Gantry(tmp_path / "store", env={"GANTRY_IMAGE_STORES": str(lib)})
    r = g.run("test", lib / "tool.sif", "0", "x")
    assert r.out == "test hello 0 x\n"
    r = g.fail("test", "tool", "3")  # its status is the command's
    assert r.code == 3 and r.out == "test hello 3\n"
    # none: said, and a success, as Apptainer's "No test script found"
    r = g.run("test", "bare_1.0")
    assert r.out == "" and "has no test script" in r.err
    g.fail("test", "--entrypoint", "sh", "tool", code=2)
    g.fail("test", "-d", "tool", code=2)


def test_run_detached_without_a_command_runs_the_startscript(tmp_path, gantry_bin, lib):
    g = Gantry(tmp_path / "store", env={"GANTRY_IMAGE_STORES": str(lib)})
    name = f"sifstart-{tmp_path.name}"[:60]
    r = g.run("run", "-d", "--name", name, "tool")
    assert "startscript" in r.err and "apptainer instance start" in r.err
    try:
        assert g.run("wait", name).out.strip() == "0"
        assert g.run("logs", name).out == f"startscript hello {name}\n"
    finally:
        g.run("rm", "-f", name, check=False)
    # with a command, the command; without a startscript, the runscript as before
    for image, args, want in (("tool", ["echo", "cmd"], "cmd\n"),
                              ("bare_1.0", [], "runscript hello \n")):
        cid = g.run("run", "-d", image, *args).out.strip()
        try:
            assert g.run("wait", cid).out.strip() == "0"
            assert g.run("logs", cid).out == want
        finally:
            g.run("rm", "-f", cid, check=False)
