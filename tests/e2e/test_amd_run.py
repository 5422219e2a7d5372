"""AMD GPUs in `gantry run` end to end, on simulated AMD hosts (tests/fixtures/amdhost: 8x MI300X,
4x MI250X = 8 GCDs, RX 7900 XTX + iGPU).

What is injected is proven from inside the container by amd_probe (amdhost/amd_probe.c), which
does what libhsakmt does at start: it reads the KFD topology (the simulated sys root, bound
read-only at /amdsys: inside a container /sys is the host's sysfs), opens /dev/kfd and each GPU's
render node, makes the NUMA syscalls ROCm makes, and prints ROCR_VISIBLE_DEVICES and its groups.
The hosts' device nodes are real char nodes (root builds them), mode 0660, group render (gid 109;
card nodes video, 44), so a caller opens them only through its groups, as on a real host.

Cases run as root and as the unprivileged user nobody with the render and video groups
(setpriv --groups), the way gpu_common.py runs nobody; nobody without them gets the access error.

Run: flock /tmp/gantry-e2e.lock /usr/bin/python3 -m pytest -p no:cacheprovider -q \
         tests/e2e/test_amd_run.py
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from conftest import GANTRY, NOBODY, TESTS, Gantry, need_tool
from fixtures import mkimage as mk

sys.path.insert(0, str(TESTS / "fixtures" / "amdhost"))
sys.path.insert(0, str(TESTS / "fixtures" / "gpuhost"))
import amd_image  # noqa: E402
import amdhost  # noqa: E402
import gpuhost as gh  # noqa: E402

ROOT = os.geteuid() == 0
SHAPES = ("mi300x", "mi250x", "rx7900")
RENDER_GID, VIDEO_GID = amdhost.RENDER_GID, amdhost.VIDEO_GID

pytestmark = pytest.mark.skipif(not ROOT, reason="the simulated hosts' device nodes need root "
                                                 "(mknod, chown to the render group)")


class GroupGantry(Gantry):
    """gantry as USER with exactly the supplementary GROUPS (None: clear them)."""

    def __init__(self, root, user, groups, binary, env=None):
        super().__init__(root, user=user, binary=binary, env=env)
        self.groups = groups

    def cmd(self, *args):
        grp = ["--groups=" + ",".join(map(str, self.groups))] if self.groups else \
            ["--clear-groups"]
        return ["setpriv", f"--reuid={self.user.pw_uid}", f"--regid={self.user.pw_gid}",
                *grp, "--", str(self.bin), *map(str, args)]


class Lab:
    pass


@pytest.fixture(scope="module")
def lab(gantry_bin):
    need_tool("setpriv")
    lab = Lab()
    base = Path(tempfile.mkdtemp(prefix="gantry-amd-", dir="/tmp"))
    os.chmod(base, 0o755)
    lab.base = base
    try:
        lab.hosts = {}
        for shape in SHAPES:
            out = base / "hosts" / shape
            desc = amdhost.build(out, shape, devices="nodes")
            lab.hosts[shape] = (out, desc)
        # An NVIDIA host too, and a dev root holding both vendors' nodes.
        lab.nv = gh.build_host(base / "hosts" / "nvidia", gh.preset(1), devices="nodes")
        both = base / "hosts" / "both"
        both.mkdir()
        subprocess.run(["cp", "-a", f"{lab.nv.dev_root}/dev", str(both)], check=True)
        subprocess.run(["cp", "-a", f"{base}/hosts/mi300x/dev/dev/.", str(both / "dev")],
                       check=True)
        lab.both_dev = both
        archive = base / "images.tar"
        mk.write_docker_archive(archive, [
            (amd_image.probe_image(), ["amd/probe:1"]),
            (amd_image.probe_image(env=["AMD_VISIBLE_DEVICES=1"]), ["amd/env1:1"]),
            (amd_image.probe_image(env=["AMD_VISIBLE_DEVICES=void"]), ["amd/void:1"]),
        ])
        os.chmod(archive, 0o644)
        binary = Path(str(base) + "-bin") / "gantry"
        binary.parent.mkdir(mode=0o755)
        shutil.copy2(GANTRY, binary)
        os.chmod(binary, 0o755)
        (base / "store").mkdir()
        os.chown(base / "store", NOBODY.pw_uid, NOBODY.pw_gid)
        lab.users = {
            "root": Gantry(base / "root-store"),
            "rootless": GroupGantry(base / "store", NOBODY, [RENDER_GID, VIDEO_GID], binary),
            "nogroups": GroupGantry(base / "store", NOBODY, None, binary),
        }
        lab.users["root"].run("load", archive)
        lab.users["rootless"].run("load", archive)
        yield lab
    finally:
        shutil.rmtree(base, ignore_errors=True)
        shutil.rmtree(str(base) + "-bin", ignore_errors=True)


def run(lab, who, shape, *args, image="amd/probe:1", cmd=(), check=False):
    out, _ = lab.hosts[shape]
    return lab.users[who].run("run", "--sys-root", out / "sys", "--dev-root", out / "dev",
                              "-v", f"{out}/sys:{amd_image.SYS_IN_CONTAINER}:ro",
                              "-e", f"AMDPROBE_SYS={amd_image.SYS_IN_CONTAINER}",
                              *args, image, *cmd, check=check)


def probe(res):
    """The probe's report: {"kfd", "gpus": {uuid: open}, "visible": [...], "rocr", "numa", ...}."""
    rep = {"gpus": {}, "visible": [], "rocr": None, "numa": {}, "groups": [], "dri": []}
    for line in res.out.splitlines():
        w = line.split()
        if not w:
            continue
        if w[0] == "kfd":
            rep["kfd"] = w[1]
        elif w[0] == "gpu":
            kv = dict(x.split("=", 1) for x in w[1:])
            rep["gpus"][kv["uuid"]] = kv["open"]
        elif w[0] == "visible":
            rep["visible"] = w[1].split(",") if len(w) > 1 else []
        elif line.startswith("ROCR_VISIBLE_DEVICES="):
            v = line.split("=", 1)[1]
            rep["rocr"] = None if v == "(unset)" else v.split(",")
        elif w[0] == "numa":
            rep["numa"] = dict(x.split("=", 1) for x in w[1:])
        elif w[0] == "groups":
            rep["groups"] = [int(x) for x in w[1:]]
        elif w[0].startswith(("renderD", "card")):
            rep["dri"].append(w[0])
    return rep


def uuids(lab, shape, indices=None):
    gpus = lab.hosts[shape][1]["gpus"]
    if indices is None:
        return [g["uuid"] for g in gpus]
    by_index = {g["index"]: g["uuid"] for g in gpus}
    return [by_index[i] for i in indices]


def nodes_of(lab, shape, indices):
    gpus = {g["index"]: g for g in lab.hosts[shape][1]["gpus"]}
    return sorted(p.rsplit("/", 1)[1] for i in indices for p in (gpus[i]["render"],
                                                                  gpus[i]["card"]))


WHO = ["root", "rootless"]
PROBE_AND_DRI = ["sh", "-c", "amd_probe; rc=$?; ls /dev/dri; exit $rc"]


@pytest.mark.parametrize("who", WHO)
@pytest.mark.parametrize("shape", SHAPES)
def test_gpus_all(lab, who, shape):
    res = run(lab, who, shape, "--gpus", "all", cmd=PROBE_AND_DRI)
    assert res.code == 0, res
    rep = probe(res)
    n = len(lab.hosts[shape][1]["gpus"])
    assert rep["kfd"] == "ok"
    assert sorted(rep["visible"]) == sorted(uuids(lab, shape)) and len(rep["visible"]) == n
    assert rep["rocr"] == uuids(lab, shape)  # index order (by PCI address)
    assert sorted(rep["dri"]) == nodes_of(lab, shape, range(n))
    # the NUMA calls ROCm's thunk makes pass gantry's seccomp profile (docker's needs SYS_NICE)
    assert rep["numa"]["get_mempolicy"] == "ok" and rep["numa"]["mbind"] == "ok", rep["numa"]
    assert rep["numa"]["set_mempolicy"] == "ok", rep["numa"]
    assert rep["numa"]["set_mempolicy_home_node"] != "EPERM", rep["numa"]


@pytest.mark.parametrize("who", WHO)
def test_selection_forms(lab, who):
    desc = lab.hosts["mi300x"][1]
    uid5 = "0x" + uuids(lab, "mi300x", [5])[0][4:].upper()
    cases = [
        (["-e", f"AMD_VISIBLE_DEVICES=0-1,{uid5}"], [0, 1, 5]),
        (["-e", f"AMD_VISIBLE_DEVICES={uuids(lab, 'mi300x', [7])[0]},3"], [7, 3]),
        (["--gpus", "2"], [0, 1]),
        (["--gpus", "device=6,4"], [6, 4]),
        # --gpus overrides the variable, as with docker
        (["-e", "AMD_VISIBLE_DEVICES=all", "--gpus", "device=2"], [2]),
    ]
    for args, want in cases:
        res = run(lab, who, "mi300x", *args, cmd=PROBE_AND_DRI)
        assert res.code == 0, (args, res)
        rep = probe(res)
        assert rep["rocr"] == uuids(lab, "mi300x", want), args
        assert sorted(rep["visible"]) == sorted(uuids(lab, "mi300x", want)), args
        assert sorted(rep["dri"]) == nodes_of(lab, "mi300x", want), args
        closed = [u for u, st in rep["gpus"].items() if st != "ok"]
        assert len(closed) == len(desc["gpus"]) - len(want) and \
            all(rep["gpus"][u] == "missing" for u in closed), args


def test_image_env_and_void(lab):
    rep = probe(run(lab, "rootless", "mi250x", image="amd/env1:1", check=True))
    assert rep["rocr"] == uuids(lab, "mi250x", [1])
    # -e overrides the image's value; void injects nothing (and the probe finds no kfd)
    res = run(lab, "rootless", "mi250x", "-e", "AMD_VISIBLE_DEVICES=0", image="amd/env1:1")
    assert probe(res)["rocr"] == uuids(lab, "mi250x", [0])
    for image, args in (("amd/void:1", []), ("amd/probe:1", ["-e", "AMD_VISIBLE_DEVICES=none"])):
        res = run(lab, "rootless", "mi250x", *args, image=image)
        assert res.code == 3, res  # kfd missing
        rep = probe(res)
        assert rep["kfd"] == "missing" and rep["visible"] == [] and rep["rocr"] is None


def test_no_request_reads_nothing(lab):
    # no --gpus, no AMD_VISIBLE_DEVICES: nothing injected, even on an AMD host
    res = run(lab, "rootless", "rx7900")
    assert res.code == 3 and probe(res)["kfd"] == "missing" and probe(res)["rocr"] is None


@pytest.mark.parametrize("args,code,needles", [
    (["--gpus", "device=9"], 125, ["unknown AMD GPU", "GPU-"]),
    (["-e", "AMD_VISIBLE_DEVICES=0x1234"], 125, ["unknown AMD GPU", "AMD_VISIBLE_DEVICES"]),
    (["-e", "AMD_VISIBLE_DEVICES=3-1"], 2, ["AMD_VISIBLE_DEVICES", "3-1", "hint:"]),
    (["-e", "AMD_VISIBLE_DEVICES=gpu0"], 2, ["AMD_VISIBLE_DEVICES", "gpu0"]),
    (["--gpus", "device=0:1"], 2, ["--gpus", "0:1"]),
])
def test_unknown_and_malformed(lab, args, code, needles):
    res = run(lab, "rootless", "rx7900", *args, cmd=["sh", "-c", "echo started"])
    assert res.code == code, res
    assert "started" not in res.out
    for n in needles:
        assert n in res.err, (n, res.err)
    if code == 125 and "device=9" in args:
        for u in uuids(lab, "rx7900"):
            assert u in res.err  # the error lists what the host has


@pytest.mark.parametrize("who", WHO)
def test_amd_docker_line_keeps_working(lab, who):
    """`--device /dev/kfd --device /dev/dri`, AMD's documented line, without --gpus."""
    out, _ = lab.hosts["rx7900"]
    res = run(lab, who, "rx7900", "--device", f"{out}/dev/dev/kfd:/dev/kfd",
              "--device", f"{out}/dev/dev/dri:/dev/dri", cmd=PROBE_AND_DRI)
    assert res.code == 0, res
    rep = probe(res)
    assert rep["kfd"] == "ok" and sorted(rep["visible"]) == sorted(uuids(lab, "rx7900"))
    assert rep["rocr"] is None  # no request, no ROCR_VISIBLE_DEVICES
    # with --gpus as well: the nodes are not doubled
    res = run(lab, who, "rx7900", "--device", f"{out}/dev/dev/kfd:/dev/kfd", "--gpus", "1",
              cmd=PROBE_AND_DRI)
    assert res.code == 0, res
    assert probe(res)["rocr"] == uuids(lab, "rx7900", [0])


def test_kfd_permission_error(lab):
    res = run(lab, "nogroups", "mi300x", "--gpus", "all", cmd=["sh", "-c", "echo started"])
    assert res.code == 125, res
    assert "started" not in res.out
    for n in ("/dev/kfd", f"gid {RENDER_GID}", "mode 0660", "uid 65534", "hint:", "udev"):
        assert n in res.err, (n, res.err)
    # near miss: the same user with the render group runs
    assert run(lab, "rootless", "mi300x", "--gpus", "all").code == 0


def test_root_with_a_non_root_user_gets_the_node_groups(lab):
    res = run(lab, "root", "mi250x", "-u", "1000:1000", "--gpus", "device=3")
    assert res.code == 0, res
    rep = probe(res)
    assert RENDER_GID in rep["groups"] and VIDEO_GID in rep["groups"], rep
    assert rep["visible"] == uuids(lab, "mi250x", [3])


def test_subordinate_ids_keep_the_callers_groups(lab, subid_user):
    """A caller with subordinate ids (conftest's subid_user, with the render and video groups)
    gets a full id map and still opens the device nodes through its groups."""
    user = subid_user.user
    g = GroupGantry(subid_user.root, user, [RENDER_GID, VIDEO_GID], subid_user.bin)
    g.run("load", lab.base / "images.tar")
    out, _ = lab.hosts["mi300x"]
    res = g.run("run", "--sys-root", out / "sys", "--dev-root", out / "dev",
                "-v", f"{out}/sys:{amd_image.SYS_IN_CONTAINER}:ro",
                "-e", f"AMDPROBE_SYS={amd_image.SYS_IN_CONTAINER}", "--gpus", "device=0",
                "amd/probe:1", "sh", "-c", "cat /proc/self/uid_map; amd_probe", check=False)
    assert res.code == 0, res
    assert f"0 {user.pw_uid} 1" in " ".join(res.out.split())  # the caller is root inside
    assert "300000" in res.out  # a full subordinate map
    rep = probe(res)
    assert rep["kfd"] == "ok" and rep["visible"] == uuids(lab, "mi300x", [0]), res


def test_gpu_vendor_choice(lab):
    out, _ = lab.hosts["mi300x"]
    both = ["--driver-root", lab.nv.driver_root, "--dev-root", lab.both_dev,
            "--sys-root", out / "sys"]
    ls = ["sh", "-c", "ls /dev; echo ROCR=$ROCR_VISIBLE_DEVICES"]
    g = lab.users["root"]

    def devs(*args, gpus="all"):
        res = g.run("run", *both, *args, "--gpus", gpus, "amd/probe:1", *ls, check=False)
        assert res.code == 0, res
        return res.out.split()

    default = devs()
    assert "nvidia0" in default and "kfd" not in default  # both vendors: NVIDIA by default
    amd = devs("--gpu-vendor", "amd")
    assert "kfd" in amd and "nvidia0" not in amd
    assert "ROCR=" + ",".join(uuids(lab, "mi300x")) in amd
    nv = devs("--gpu-vendor", "nvidia")
    assert "nvidia0" in nv and "kfd" not in nv
    # docker's (and compose's) driver= names the vendor too
    amd = devs(gpus="all,driver=amd")
    assert "kfd" in amd and "nvidia0" not in amd
    res = g.run("run", *both, "--gpu-vendor", "nvidia", "--gpus", "all,driver=amd", "amd/probe:1",
                "true", check=False)
    assert res.code == 2 and "name different GPU vendors" in res.err, res
    # an AMD-only host: AMD without asking
    res = g.run("run", "--sys-root", out / "sys", "--dev-root", out / "dev", "--gpus", "1",
                "amd/probe:1", *ls)
    assert "kfd" in res.out.split() and "nvidia0" not in res.out.split()
