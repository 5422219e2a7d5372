"""Apptainer's SIF files (issue 53): `gantry run/inspect/load FILE.sif` read the SIF container as
the reference implementation defines it (sif/container.hpp) and mount its squashfs partition in
place through gantry's own reader, with Apptainer's metadata as the run's defaults (labels,
/.singularity.d/env/*.sh sourced in order, the runscript as the default command).

The SIFs are made by the reference's own tool (`siftool new` + `siftool add`, Debian's siftool)
around a squashfs that mksquashfs writes; the hostile ones are written byte by byte by
tests/fixtures/sif_files.py: each is refused with a sentence naming the file, nothing crashes."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import Gantry, need_tool
import strace_log

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fixtures"))
import sif_files  # noqa: E402

RUNSCRIPT = '#!/bin/sh\necho "runscript says $GREETING, args: $*"\n'
CRASH_MARKS = ("stack smashing", "Segmentation", "AddressSanitizer", "Aborted", "core dumped")


@pytest.fixture(scope="module")
def sifs(tmp_path_factory):
    """A busybox root with Apptainer's /.singularity.d, as squashfs and as a SIF made by siftool
    (the partition, then a JSON.Labels object), and the partition's offset siftool reports."""
    need_tool("mksquashfs")
    need_tool("siftool")
    d = tmp_path_factory.mktemp("sif")
    root = d / "root"
    (root / "usr" / "bin").mkdir(parents=True)  # a merged /usr: /bin is a link to usr/bin
    (root / "bin").symlink_to("usr/bin")
    shutil.copy("/bin/busybox", root / "usr" / "bin" / "busybox")
    for tool in ("sh", "echo", "cat", "env"):
        (root / "usr" / "bin" / tool).symlink_to("busybox")
    meta = root / ".singularity.d"
    (meta / "env").mkdir(parents=True)
    (meta / "runscript").write_text(RUNSCRIPT)
    (meta / "runscript").chmod(0o755)
    # sourced in glob order: 90 sets it, 95 builds on it (an evaluation of export lines
    # alone would not see 95's shell)
    (meta / "env" / "90-environment.sh").write_text("#!/bin/sh\nexport GREETING=hello\n")
    (meta / "env" / "95-apps.sh").write_text(
        '#!/bin/sh\nif [ -n "$GREETING" ]; then GREETING="$GREETING-world"; fi\n'
        "export GREETING\n")
    (meta / "labels.json").write_text(json.dumps({"org.label-schema.usage": "from-labels.json",
                                                  "shared": "labels.json wins"}))
    sqsh = d / "root.sqsh"
    subprocess.run(["mksquashfs", str(root), str(sqsh), "-quiet", "-noappend", "-all-root"],
                   check=True, capture_output=True)
    sif = d / "app.sif"
    labels = d / "labels-object.json"
    labels.write_text(json.dumps({"from-object": "yes", "shared": "object"}))
    subprocess.run(["siftool", "new", str(sif)], check=True, capture_output=True)
    subprocess.run(["siftool", "add", str(sif), str(sqsh), "--datatype", "4", "--parttype", "2",
                    "--partfs", "1", "--partarch", "2"], check=True, capture_output=True)
    subprocess.run(["siftool", "add", str(sif), str(labels), "--datatype", "3"], check=True,
                   capture_output=True)
    listing = subprocess.run(["siftool", "list", str(sif)], check=True, capture_output=True,
                             text=True).stdout
    line = next(l for l in listing.splitlines() if "FS (Squashfs/*System/amd64)" in l)
    start, end = (int(x) for x in line.split("|")[3].strip().split("-"))
    return {"dir": d, "sif": sif, "sqsh": sqsh, "offset": start, "size": end - start}


def test_run_sif_applies_apptainers_runscript_environment_and_args(g, sifs):
    sif = sifs["sif"]
    # no command: the runscript, after the environment scripts, in their order; as root the
    # kernel's squashfs on a loop device limited to the partition, else (and with
    # GANTRY_SQSH_FUSE=1) gantry's FUSE server reading at the partition's offset
    assert g.run("run", "--rm", sif).out == "runscript says hello-world, args: \n"
    fuse = Gantry(g.root, env={"GANTRY_SQSH_FUSE": "1"})
    assert fuse.run("run", "--rm", sif).out == "runscript says hello-world, args: \n"
    # a command: run as `apptainer exec` runs it, with the same environment
    r = g.run("run", "--rm", f"sif:{sif}", "sh", "-c", 'echo "$GREETING"; echo "$0 $1"', "a", "b")
    assert r.out == "hello-world\na b\n"
    # arguments to the runscript go through --entrypoint-less COMMAND as apptainer run's do
    assert g.run("run", "--rm", sif, "/.singularity.d/runscript", "x").out.endswith("args: x\n")


def test_apptainerenv_variables_of_the_caller(g, sifs):
    # Apptainer's precedence: the image's environment scripts, then SINGULARITYENV_X, then
    # APPTAINERENV_X, then -e; PREPEND_PATH/APPEND_PATH extend PATH
    caller = Gantry(g.root, env={"APPTAINERENV_GREETING": "from-caller",
                                 "SINGULARITYENV_GREETING": "older-prefix",
                                 "SINGULARITYENV_OTHER": "s", "APPTAINERENV_PREPEND_PATH": "/opt/a",
                                 "APPTAINERENV_APPEND_PATH": "/opt/z"})
    show = ["sh", "-c", 'echo "$GREETING $OTHER"; echo "$PATH"']
    out = caller.run("run", "--rm", sifs["sif"], *show).out.splitlines()
    assert out[0] == "from-caller s", out
    assert out[1].startswith("/opt/a:") and out[1].endswith(":/opt/z"), out
    assert caller.run("run", "--rm", "-e", "GREETING=flag", sifs["sif"],
                      *show).out.startswith("flag s\n")
    # a squashfs image of the same root is docker's: the caller's environment is not read
    assert caller.run("run", "--rm", sifs["sqsh"], "sh", "-c",
                      'echo "${GREETING:-unset}"').out == "unset\n"


def test_run_sif_rootless(rootless, sifs, fuse_open):
    f = rootless.base / "app.sif"
    shutil.copy(sifs["sif"], f)
    os.chmod(f, 0o644)
    assert rootless.run("run", "--rm", f).out == "runscript says hello-world, args: \n"


def test_inspect_sif_reports_the_partition_siftool_lists_and_the_labels(g, sifs):
    j = g.run("inspect", "--json", sifs["sif"]).json()[0]
    assert j["format"].startswith("Apptainer SIF")
    assert j["sif"]["mounted"] == {"offset": sifs["offset"], "size": sifs["size"]}
    types = [o["type"] for o in j["sif"]["objects"]]
    assert types == ["FS", "JSON.Labels"]
    assert j["sif"]["objects"][0]["partition"] == {"fs": "Squashfs", "type": "*System",
                                                   "arch": "amd64"}
    labels = j["config"]["Labels"]
    assert labels == {"org.label-schema.usage": "from-labels.json", "from-object": "yes",
                      "shared": "labels.json wins"}
    assert j["config"]["Cmd"] == ["/.singularity.d/runscript"]
    assert j["platform"] == "linux/amd64"
    text = g.run("inspect", sifs["sif"]).out
    assert f"the squashfs partition at byte {sifs['offset']}" in text
    assert "Format:     Apptainer SIF" in text and '"from-object":"yes"' in text


def test_load_sif_makes_a_store_image_with_its_defaults(g, sifs):
    r = g.run("load", sifs["sif"])
    assert r.out == "Loaded image: docker.io/library/app:latest\n"
    assert "of a SIF: Apptainer's metadata as its config" in r.err
    assert g.run("run", "--rm", "app").out == "runscript says hello-world, args: \n"
    cfg = g.run("inspect", "--json", "app").json()[0]["config"]
    assert cfg["Labels"]["from-object"] == "yes"
    assert cfg["Cmd"] == ["/.singularity.d/runscript"]


def test_site_policy_sif_scope_applies_to_sif_files(tmp_path, gantry_bin, sifs):
    banned = tmp_path / "banned"
    banned.mkdir()
    f = banned / "app.sif"
    shutil.copy(sifs["sif"], f)
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps({"default": [{"type": "insecureAcceptAnything"}],
                                  "transports": {"sif": {str(banned): [{"type": "reject"}]}}}))
    g = Gantry(tmp_path / "store", env={"CONTAINERS_POLICY_JSON": str(policy)})
    r = g.run("run", "--rm", f, "true", check=False)
    assert r.code == 11, r


def test_nv_and_rocm_are_gpus_all_with_the_vendor(g, sifs):
    r = g.run("run", "--rm", "--nv", "--gpus", "0", sifs["sif"], "true", check=False)
    assert r.code == 2 and "--nv means --gpus all" in r.err, r
    r = g.run("run", "--rm", "--nv", "--rocm", sifs["sif"], "true", check=False)
    assert r.code == 2 and "--nv and --rocm" in r.err, r
    r = g.run("run", "--rm", "--rocm", "--gpu-vendor", "nvidia", sifs["sif"], "true", check=False)
    assert r.code == 2 and "--rocm asks for amd GPUs" in r.err, r


@pytest.mark.parametrize("case", sorted(sif_files.hostile(b"").keys()))
def test_hostile_sif_is_refused_with_a_sentence(g, sifs, case):
    data, words = sif_files.hostile(sifs["sqsh"].read_bytes())[case]
    f = sifs["dir"] / f"hostile-{case}.sif"
    f.write_bytes(data)
    # a valid SIF gantry does not run is unsupported (7; run: 125), a damaged one invalid (4)
    unsupported = case in ("ext3", "encrypted", "overlay", "other-arch", "oci-sif-two-layers",
                           "oci-sif-tar-layer", "oci-sif-other-arch")
    for args in (("inspect", f), ("run", "--rm", f, "true"), ("load", f)):
        r = g.run(*args, check=False)
        want = 4 if not unsupported else 125 if args[0] == "run" else 7
        assert r.code == want, (args, r)
        assert words in r.err and str(f) in r.err, (args, r)
        for mark in CRASH_MARKS:
            assert mark not in r.err, (args, r)


def test_save_format_sif_is_a_sif_the_reference_lists_and_apptainers_files_say_the_config(g, sifs):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from fixtures import mkimage
    archive = sifs["dir"] / "img.tar"
    mkimage.write_docker_archive(archive, [(mkimage.busybox_image(
        entrypoint=["/bin/sh", "-c", 'echo "$GREETING from $(pwd):" "$@"', "sh"], cmd=["it's"],
        env=["PATH=/usr/bin:/bin", "GREETING=it's hello"], working_dir="/tmp",
        labels={"org.example": "yes"}), ["sv:1"])])
    g.run("load", archive)
    out = sifs["dir"] / "saved.sif"
    r = g.run("save", "sv:1", "--format", "sif", "-o", out)
    assert "(SIF, a squashfs partition" in r.err
    # the reference reads it: one primary squashfs partition for amd64 at 32768
    listing = subprocess.run(["siftool", "list", str(out)], check=True, capture_output=True,
                             text=True).stdout
    assert "32768-" in listing and "FS (Squashfs/*System/amd64)" in listing, listing
    header = subprocess.run(["siftool", "header", str(out)], check=True, capture_output=True,
                            text=True).stdout
    assert "Descriptors Total:    48" in header and "Primary Architecture: amd64" in header
    dumped = subprocess.run(["siftool", "dump", "1", str(out)], check=True,
                            capture_output=True).stdout
    assert dumped[:4] == b"hsqs"
    # gantry runs it with the image's own config (its gantry header)
    assert g.run("run", "--rm", out).out == "it's hello from /tmp: it's\n"
    # Apptainer's files say the same: the runscript after the env script, as apptainer run
    # does it, with and without arguments
    run = ". /.singularity.d/env/10-docker2singularity.sh; /.singularity.d/runscript"
    r = g.run("run", "--rm", "--entrypoint", "/bin/sh", "-w", "/", out, "-c",
              f'{run}; {run} a b; cat /.singularity.d/labels.json')
    lines = r.out.splitlines()
    assert lines[:2] == ["it's hello from /tmp: it's", "it's hello from /tmp: a b"], r.out
    assert json.loads("\n".join(lines[2:])) == {"org.example": "yes"}


def test_gantry_itself_reads_only_the_sif_header_table_labels_and_superblock(g, sifs, tmp_path):
    """As for a .sqsh (test_sqsh_hostile.py): gantry's own process parses only bounded,
    fixed-size structures, here the SIF header, the descriptor table, the JSON.Labels object
    and the partition's superblock; the partition's tables and files are read by confined
    processes (the facts reader, the FUSE server)."""
    need_tool("strace")
    sif = sifs["sif"]
    listing = subprocess.run(["siftool", "list", str(sif)], check=True, capture_output=True,
                             text=True).stdout
    line = next(l for l in listing.splitlines() if "JSON.Labels" in l)
    labels = tuple(int(x) for x in line.split("|")[3].strip().split("-"))
    allowed = [(0, 128), (4096, 4096 + 48 * 585), (sifs["offset"], sifs["offset"] + 96), labels]
    log = tmp_path / "trace"
    r = subprocess.run(["strace", "-f", "-qq", "-y", "-e", "trace=pread64,seccomp", "-o", log,
                        *g.cmd("run", "--rm", sif, "cat", "/.singularity.d/labels.json")],
                       capture_output=True, text=True, env=g.environ() | {"GANTRY_SQSH_FUSE": "1"},
                       timeout=120)
    assert r.returncode == 0 and "from-labels.json" in r.stdout, r
    main, reads = strace_log.reads_of(log.read_text(), sif)
    mine, theirs = [], []
    for read in reads:
        if read.pid == main:
            assert any(a <= read.offset and read.offset + read.size <= b for a, b in allowed), \
                read.line
            mine.append((read.offset, read.size))
        else:
            assert read.confined, f"a read of the image before confinement: {read.line}"
            theirs.append(read.line)
    assert (sifs["offset"], 96) in mine and theirs


def test_oci_sif_runs_inspects_and_loads_as_its_image(g, sifs):
    """An OCI-SIF (SingularityCE 4's layout, written by tests/fixtures/sif_files.py: Debian's
    siftool 2.8.3 cannot add OCI objects): its one squashfs layer mounted in place, its config
    the run's."""
    config = {"architecture": "amd64", "os": "linux",
              "config": {"Cmd": ["/bin/sh", "-c", 'echo "oci-sif says $X"'],
                         "Env": ["PATH=/usr/bin:/bin", "X=hello"], "Labels": {"k": "v"}},
              "rootfs": {"type": "layers", "diff_ids": []}}
    f = sifs["dir"] / "oci.sif"
    f.write_bytes(sif_files.oci_sif(sifs["sqsh"].read_bytes(), config))
    assert g.run("run", "--rm", f).out == "oci-sif says hello\n"
    j = g.run("inspect", "--json", f).json()[0]
    assert j["format"].startswith("OCI-SIF")
    assert j["config"]["Labels"] == {"k": "v"}
    layer = j["sif"]["objects"][0]
    assert j["sif"]["mounted"] == {"offset": layer["offset"], "size": layer["size"]}
    assert layer["type"] == "OCI.Blob" and layer["digest"].startswith("sha256:")
    g.run("load", "--name", "ocisif:1", f)
    assert g.run("run", "--rm", "ocisif:1").out == "oci-sif says hello\n"


def test_env_scripts_without_a_shell_are_said_not_applied(g, sifs):
    root = sifs["dir"] / "noshell"
    (root / ".singularity.d" / "env").mkdir(parents=True)
    shutil.copy("/bin/busybox", root / "busybox")
    (root / ".singularity.d" / "env" / "90-environment.sh").write_text("export X=1\n")
    sqsh, sif = sifs["dir"] / "noshell.sqsh", sifs["dir"] / "noshell.sif"
    subprocess.run(["mksquashfs", str(root), str(sqsh), "-quiet", "-noappend", "-all-root"],
                   check=True, capture_output=True)
    subprocess.run(["siftool", "new", str(sif)], check=True, capture_output=True)
    subprocess.run(["siftool", "add", str(sif), str(sqsh), "--datatype", "4", "--parttype", "2",
                    "--partfs", "1", "--partarch", "2"], check=True, capture_output=True)
    r = g.run("run", "--rm", sif, "/busybox", "echo", "ran")
    assert r.out == "ran\n"
    assert "no /bin/sh to source them" in r.err, r
