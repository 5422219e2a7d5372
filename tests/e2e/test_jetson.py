"""A Jetson (Tegra) board (issue 80), simulated: its driver root holds /etc/nv_tegra_release and
the L4T mount lists nvidia-container-toolkit reads in its csv mode
(/etc/nvidia-container-runtime/host-files-for-container.d/*.csv), its dev root the board's nodes
(real character nodes with an Orin's numbers as root, regular stand-ins otherwise), its sys root
the SoC (devices/soc0/family, the device tree's compatible and model).

`gantry cdi generate` writes the board's spec (the nodes in its device, the files, the link chain
and the linker cache hook in common), `gantry run --gpus all` gives a container those nodes and
files (listed from inside), and `gantry doctor` names the board, its GPU's compute capability
8.7 and the hostile lines it skipped. As root and as the unprivileged user nobody.
"""
import json
import os
import stat
import subprocess
from pathlib import Path

import pytest

from conftest import Gantry
from gpu_common import lab_dirs, user_stores, who  # noqa: F401 (who: a fixture)
from fixtures import mkimage as mk

LIB = "/usr/lib/aarch64-linux-gnu"
LISTS = "etc/nvidia-container-runtime/host-files-for-container.d"
# An AGX Orin's nodes: nvmap is a misc device; the nvgpu nodes' major is dynamic (here 492)
NODES = {"nvmap": (10, 121), "nvhost-ctrl-gpu": (492, 0), "nvhost-gpu": (492, 1),
         "nvgpu/igpu0/ctrl": (492, 2), "nvgpu/igpu0/channel": (492, 3), "dri/card0": (226, 0),
         "dri/card1": (226, 1), "dri/renderD128": (226, 128)}
DEVICES_CSV = """\
dev, /dev/nvmap
dev, /dev/nvhost-ctrl-gpu
dev, /dev/nvhost-gpu
dev, /dev/nvgpu/igpu0/ctrl
dev, /dev/nvgpu/igpu0/channel
dev, /dev/dri/card*
dev, /dev/nvhost-not-on-this-board
"""
DRIVERS_CSV = f"""\
lib, {LIB}/nvidia/libcuda.so.1.1
sym, {LIB}/libcuda.so
lib, /etc/vulkansc/icd.d/nvidia_icd_vksc.json
dir, {LIB}/tegra-egl
lib, /../../etc/shadow
dev, /etc/passwd
"""


class Board:
    pass


def _write(path: Path, data, mode=0o644):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data if isinstance(data, bytes) else data.encode())
    os.chmod(path, mode)


def _build_board(base: Path) -> Board:
    b = Board()
    b.driver, b.dev, b.sys = base / "driver", base / "dev", base / "sys"
    _write(b.driver / "etc/nv_tegra_release",
           "# R35 (release), REVISION: 4.1, GCID: 33958178, BOARD: t186ref, EABI: aarch64\n")
    _write(b.driver / LISTS / "devices.csv", DEVICES_CSV)
    _write(b.driver / LISTS / "drivers.csv", DRIVERS_CSV)
    libcuda = b.driver / LIB.lstrip("/") / "nvidia/libcuda.so.1.1"
    libcuda.parent.mkdir(parents=True)
    subprocess.run(["gcc", "-shared", "-Wl,-soname,libcuda.so.1", "-o", libcuda, "-x", "c",
                    "/dev/null"], check=True)
    os.chmod(libcuda, 0o755)
    os.symlink("libcuda.so.1", b.driver / LIB.lstrip("/") / "libcuda.so")
    os.symlink("nvidia/libcuda.so.1.1", b.driver / LIB.lstrip("/") / "libcuda.so.1")
    _write(b.driver / "etc/vulkansc/icd.d/nvidia_icd_vksc.json", "{}\n")
    _write(b.driver / LIB.lstrip("/") / "tegra-egl/nvidia.json", "{}\n")
    b.real_nodes = os.geteuid() == 0
    for name, (major, minor) in NODES.items():
        p = b.dev / "dev" / name
        p.parent.mkdir(parents=True, exist_ok=True)
        if b.real_nodes:
            os.mknod(p, stat.S_IFCHR | 0o666, os.makedev(major, minor))
            os.chmod(p, 0o666)
        else:
            _write(p, "", 0o666)
    _write(b.sys / "sys/devices/soc0/family", "Tegra\n")
    dt = b.sys / "sys/firmware/devicetree/base"
    _write(dt / "compatible", b"nvidia,p3737-0000+p3701-0005\0nvidia,p3701-0005\0nvidia,tegra234\0")
    _write(dt / "model", b"NVIDIA Jetson AGX Orin Developer Kit\0")
    subprocess.run(["chmod", "-R", "a+rX", str(base)], check=True)
    return b


@pytest.fixture(scope="module")
def lab(gantry_bin):
    lab = Board()
    with lab_dirs("gantry-jetson-") as (base, bindir):
        lab.base = base
        lab.board = _build_board(base / "orin")
        archive = base / "images.tar"
        mk.write_docker_archive(archive, [(mk.busybox_image(env=["PATH=/bin"]), ["jet/bb:1"])])
        os.chmod(archive, 0o644)
        lab.users = user_stores(base, bindir, gantry_bin, archive)
        yield lab


def gantry(lab, who):
    root, user, binary = lab.users[who]
    return Gantry(root, user=user, binary=binary)


def roots(lab):
    b = lab.board
    return ["--driver-root", b.driver, "--dev-root", b.dev, "--sys-root", b.sys]


def test_cdi_spec_of_the_board(lab):
    out = lab.base / "spec.json"
    res = gantry(lab, next(iter(lab.users))).run("cdi", "generate", *roots(lab), "-o", out)
    spec = json.loads(out.read_text())
    assert [d["name"] for d in spec["devices"]] == ["0", "all"], spec
    nodes = [n["path"] for n in spec["devices"][0]["containerEdits"]["deviceNodes"]]
    assert nodes == ["/dev/nvmap", "/dev/nvhost-ctrl-gpu", "/dev/nvhost-gpu",
                     "/dev/nvgpu/igpu0/ctrl", "/dev/nvgpu/igpu0/channel", "/dev/dri/card0",
                     "/dev/dri/card1"], nodes  # the pattern matched cards, not renderD128
    edits = spec["containerEdits"]
    mounts = [m["containerPath"] for m in edits["mounts"]]
    assert mounts == [f"{LIB}/nvidia/libcuda.so.1.1", "/etc/nv_tegra_release",
                      "/etc/vulkansc/icd.d/nvidia_icd_vksc.json", f"{LIB}/tegra-egl"], mounts
    hooks = {h["args"][2]: h["args"][3:] for h in edits["hooks"]}
    assert sorted(hooks) == ["create-symlinks", "update-ldcache"], hooks
    assert f"nvidia/libcuda.so.1.1::{LIB}/libcuda.so.1" in hooks["create-symlinks"]
    assert f"libcuda.so.1::{LIB}/libcuda.so" in hooks["create-symlinks"]
    assert hooks["update-ldcache"] == ["--folder", LIB, "--folder", f"{LIB}/nvidia"]
    assert f"NVIDIA_CTK_LIBCUDA_DIR={LIB}/nvidia" in edits["env"]
    assert "warning" in res.err and "no UUID" in res.err, res  # no NVML: named by index only


def test_run_gets_the_boards_nodes_and_files(lab, who):
    script = ('find /dev/nvmap /dev/nvhost-* /dev/nvgpu /dev/dri ! -type d; '
              f'echo "@@"; for l in {LIB}/libcuda.so {LIB}/libcuda.so.1 {LIB}/nvidia/libcuda.so.1; '
              'do readlink $l; done; '
              f'ls {LIB}/tegra-egl; head -c 14 /etc/nv_tegra_release; echo; '
              'stat -c "%F %t:%T" /dev/nvmap; echo "nvd=$NVIDIA_VISIBLE_DEVICES"')
    res = gantry(lab, who).run("run", "--rm", "--gpus", "all", *roots(lab), "jet/bb:1",
                               "sh", "-c", script)
    nodes, rest = res.out.split("@@\n")
    assert sorted(nodes.split()) == ["/dev/dri/card0", "/dev/dri/card1", "/dev/nvgpu/igpu0/channel",
                             "/dev/nvgpu/igpu0/ctrl", "/dev/nvhost-ctrl-gpu", "/dev/nvhost-gpu",
                             "/dev/nvmap"], res.out
    lines = rest.splitlines()
    assert lines[:3] == ["libcuda.so.1", "nvidia/libcuda.so.1.1", "libcuda.so.1.1"], res.out
    assert "nvidia.json" in lines and "# R35 (release" in lines, res.out
    if lab.board.real_nodes:
        assert "character special file a:79" in res.out, res.out  # 10:121 in hex
    assert "nvd=void" in res.out, res.out


def test_doctor_names_the_board_its_gpu_and_the_skipped_lines(lab, who):
    res = gantry(lab, who).run("doctor", "--json", *roots(lab), check=False)
    findings = res.json()["findings"]
    by_id = {}
    for f in findings:
        by_id.setdefault(f["id"], []).append(f["message"])
    assert "SoC tegra234" in by_id["HOST-TEGRA"][0], findings
    assert ("GPU 0: NVIDIA Jetson AGX Orin Developer Kit (integrated), compute capability 8.7"
            in by_id["HOST-GPU"]), findings
    skipped = " ".join(by_id["HOST-TEGRA-CSV-SKIPPED"])
    assert "drivers.csv:5: a \"..\" component" in skipped, skipped
    assert "drivers.csv:6: a device outside /dev" in skipped, skipped
    assert "HOST-NO-DRIVER" not in by_id and "HOST-TEGRA-NO-NODES" not in by_id, findings
