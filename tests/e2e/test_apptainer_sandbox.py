"""`gantry apptainer build --sandbox` (issue 77): the shared SIF (apptainer_common.py) unpacked
as a directory in the tree Apptainer's sandbox build writes, run, exec'd, tested and inspected as
the SIF is, packed back into a SIF the reference's tool reads, built from a definition file and
from another sandbox; `--writable` runs in the directory itself, and links in it that point out
of the tree lead back into it. No Apptainer is installed here: the expected values are its user
guide's (docs/apptainer.md)."""
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from apptainer_common import RUNSCRIPT, apptainer, places, sif  # noqa: F401 (fixtures)
from conftest import GANTRY, Gantry


@pytest.fixture(scope="module")
def sandbox(sif):
    """`apptainer build --sandbox DIR app.sif`: the module's SIF as a sandbox directory."""
    d = Path(tempfile.mkdtemp(prefix=".apptainer-sandbox-", dir=GANTRY.parent))
    os.chmod(d, 0o755)
    sb = d / "sb"
    r = Gantry(d / "store").run("apptainer", "build", "--sandbox", sb, sif)
    assert "Build complete" in r.err
    yield sb
    shutil.rmtree(d, ignore_errors=True)


def test_sandbox_build_run_inspect_and_back_to_a_sif(g, sif, sandbox, places):
    # the tree Apptainer's sandbox build writes: the image's root, /.singularity.d in it, and
    # the directories of its base environment
    meta = sandbox / ".singularity.d"
    assert (meta / "runscript").read_text() == "#!/bin/sh\n" + RUNSCRIPT + "\n"
    assert json.loads((meta / "labels.json").read_text())["maintainer"] == "a&b <x>"
    assert sorted(os.listdir(meta / "env")) == ["10-docker2singularity.sh", "90-environment.sh"]
    for d in ("proc", "sys", "dev", "tmp", "var/tmp", "home", "root"):
        assert (sandbox / d).is_dir(), d
    assert (sandbox / "usr/bin/busybox").stat().st_uid == os.geteuid()
    # run, exec, test, inspect and run-help of the directory, as of the SIF
    assert apptainer(g, places, "run", sandbox, "--help").stdout == \
        "runscript hello args: --help\n"
    p = apptainer(g, places, "exec", sandbox, "sh", "-c",
                  'echo "$APPTAINER_CONTAINER $APPTAINER_NAME"; touch /x 2>/dev/null || echo ro')
    assert p.stdout == f"{sandbox} sb\nro\n"
    r = apptainer(g, places, "test", sandbox, check=False)
    assert (r.returncode, r.stdout) == (3, "test hello \n")
    assert apptainer(g, places, "inspect", "--runscript", sandbox).stdout == \
        "#!/bin/sh\n" + RUNSCRIPT + "\n"
    assert "maintainer: a&b <x>" in apptainer(g, places, "inspect", sandbox).stdout
    assert apptainer(g, places, "run-help", sandbox).stdout == "Says hello.\n"
    # an existing target is refused (Apptainer's words) unless --force
    r = apptainer(g, places, "build", "--sandbox", sandbox, sif, check=False)
    assert r.returncode == 5 and "already exists" in r.stderr, r.stderr
    # back to a SIF: the reference's tool reads it, and it runs
    out = places["cwd"] / "from-sandbox.sif"
    apptainer(g, places, "build", out, sandbox)
    listing = subprocess.run(["siftool", "list", str(out)], check=True, capture_output=True,
                             text=True).stdout
    assert "Squashfs" in listing and "System" in listing, listing
    assert apptainer(g, places, "run", out, "z").stdout == "runscript hello args: z\n"
    # --writable of a SIF: refused with Apptainer's reason
    r = apptainer(g, places, "exec", "--writable", out, "true", check=False)
    assert r.returncode == 2 and "no SIF writable overlay partition found" in r.stderr, r.stderr
    # a definition file as the source: built as a SIF, then unpacked
    d = places["cwd"] / "on-sif.def"
    d.write_text(f"Bootstrap: localimage\nFrom: {sif}\n%runscript\n  echo from-def\n")
    sb2 = places["cwd"] / "sb2"
    apptainer(g, places, "build", "--sandbox", sb2, d)
    assert apptainer(g, places, "run", sb2).stdout == "from-def\n"
    assert apptainer(g, places, "inspect", "--deffile", sb2).stdout == d.read_text()
    # a sandbox from a sandbox; --force replaces it
    apptainer(g, places, "build", "--force", "--sandbox", sb2, sandbox)
    assert apptainer(g, places, "run", sb2, "y").stdout == "runscript hello args: y\n"


def test_sandbox_writable_and_hostile_links(g, sandbox, places, tmp_path):
    # --writable: the directory itself is the root; what the run writes stays
    sb = places["base"] / "w"
    shutil.copytree(sandbox, sb, symlinks=True)
    p = apptainer(g, places, "exec", "--writable", sb, "sh", "-c", "echo kept > /made")
    assert (sb / "made").read_text() == "kept\n"
    # binds whose mount point it lacks are skipped, as Apptainer's (the working directory)
    assert "doesn't exist in container" in p.stderr
    r = apptainer(g, places, "exec", "--writable", "--writable-tmpfs", sb, "true", check=False)
    assert r.returncode == 2
    # links that point out of the tree lead back into it: the runscript and labels.json at
    # host files, /dev at a host directory (a mount point the run makes)
    secret = places["base"] / "secret"
    secret.write_text("host secret\n")
    outside = places["base"] / "outside"
    outside.mkdir()
    meta = sb / ".singularity.d"
    for name in ("runscript", "labels.json"):
        (meta / name).unlink()
        (meta / name).symlink_to(secret)
    shutil.rmtree(sb / "dev")
    (sb / "dev").symlink_to(outside)
    assert "host secret" not in apptainer(g, places, "inspect", "--runscript", "--json",
                                          sb).stdout
    for flags in ([], ["--writable"]):
        # no runscript there: Apptainer's run action starts /bin/sh with the arguments
        r = apptainer(g, places, "run", *flags, sb, "-c",
                      "cat /.singularity.d/runscript; exit 7", check=False)
        assert "host secret" not in r.stdout + r.stderr
        assert r.returncode != 0, (r.stdout, r.stderr)
    assert os.listdir(outside) == []
    assert secret.read_text() == "host secret\n"
