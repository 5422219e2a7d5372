"""GPUs and devices in `gantry build` (issue 41): `--device`, `--gpus` and `RUN --device=NAME
[,required]`, gated by `--allow device`; optional devices skipped with a line on a host without
them, required ones refused before any step runs; the step cache key holds what a step saw; and
nothing of the injected driver in the committed layer (mount targets, SONAME links, ld.so.conf.d
drop-ins, /etc/ld.so.cache), on simulated NVIDIA (tests/fixtures/gpuhost), AMD
(tests/fixtures/amdhost) and WSL2 (tests/fixtures/wslhost) hosts, as root and rootless."""
import io
import json
import os
import shutil
import sys
import tarfile
import tempfile
from pathlib import Path

import pytest

from conftest import TESTS
from fixtures import mkimage as mk

sys.path.insert(0, str(TESTS / "fixtures" / "gpuhost"))
sys.path.insert(0, str(TESTS / "fixtures" / "amdhost"))
sys.path.insert(0, str(TESTS / "fixtures" / "wslhost"))
import amd_image  # noqa: E402
import amdhost  # noqa: E402
import cuda_image as ci  # noqa: E402
import gpuhost as gh  # noqa: E402
import wslhost  # noqa: E402

# what a layer must never hold after a step that had the driver injected
DRIVER_TRACES = ("libcuda", "libnvidia", "nvidia-smi", "ld.so.cache", "ld.so.conf.d", "dev/",
                 "libcuda.so.1", "proc/driver", "kfd", "dri/", "usr/lib/wsl", "dxg", "libdxcore")


@pytest.fixture(scope="module")
def lab(gantry_bin):
    base = Path(tempfile.mkdtemp(prefix="gantry-bdev-", dir="/tmp"))
    os.chmod(base, 0o755)
    try:
        lab = type("Lab", (), {})()
        lab.base = base
        lab.nv = gh.build_host(base / "nvidia", gh.preset(1), devices="nodes")
        lab.amd = base / "amd"
        lab.wsl = wslhost.build_host(base / "wsl")
        lab.empty = base / "empty"  # an empty --sys-root: no KFD topology
        lab.empty.mkdir()
        amdhost.build(lab.amd, "mi300x", devices="nodes")
        lab.archive = base / "images.tar"
        mk.write_docker_archive(lab.archive, [(ci.cuda_image(), ["gt/cuda:1"]),
                                              (amd_image.probe_image(), ["amd/probe:1"])])
        os.chmod(lab.archive, 0o644)
        yield lab
    finally:
        shutil.rmtree(base, ignore_errors=True)


def context(tmp_path: Path, dockerfile: str) -> Path:
    ctx = tmp_path / "ctx"
    ctx.mkdir(exist_ok=True)
    (ctx / "Dockerfile").write_text(dockerfile)
    return ctx


def nv_flags(lab):
    return ["--driver-root", lab.nv.driver_root, "--dev-root", lab.nv.dev_root]


def last_layer(g, ref, tmp_path):
    """The entry names of REF's last layer (from `gantry save`)."""
    out = tmp_path / "img.tar"
    g.run("save", "-o", out, ref)
    with tarfile.open(out) as t:
        manifest = json.load(t.extractfile("manifest.json"))[0]
        blob = t.extractfile(manifest["Layers"][-1]).read()
    with tarfile.open(fileobj=io.BytesIO(blob)) as lt:
        return sorted(m.name for m in lt.getmembers())


def traces(names):
    return [n for n in names if any(t in n for t in DRIVER_TRACES)]


NV_STEP = """\
FROM gt/cuda:1
RUN --device=nvidia.com/gpu=all cuda_probe > /probe.txt; nvidia-smi -L >> /probe.txt; \\
    ls /usr/lib/x86_64-linux-gnu > /libs.txt; echo "arch=$CMAKE_CUDA_ARCHITECTURES" >> /probe.txt
"""


def test_nvidia_step_sees_the_gpu_and_its_layer_holds_no_driver(g, lab, tmp_path):
    g.run("load", lab.archive)
    g.env["FAKE_DEVICE_ROOT"] = str(lab.nv.dev_root)
    r = g.run("build", "-t", "nvb:1", "--allow", "device", "--gpu-arch", "host", *nv_flags(lab),
              context(tmp_path, NV_STEP))
    assert "compiling for GPUs: sm_80" in r.err, r
    probe = g.run("run", "--rm", "nvb:1", "cat", "/probe.txt", "/libs.txt").out
    assert "GPU 0:" in probe, probe  # nvidia-smi -L inside the step saw the simulated GPU
    assert "libcuda.so.1" in probe, probe  # the driver was there while the step ran
    assert "arch=80" in probe, probe  # --gpu-arch host beside the devices
    names = last_layer(g, "nvb:1", tmp_path)
    assert names == ["libs.txt", "probe.txt"], names
    assert traces(names) == []
    # the image run without GPUs has no driver file, link or cache entry left behind
    res = g.run("run", "--rm", "nvb:1", "sh", "-c",
                "ls /usr/lib/x86_64-linux-gnu; ls /etc/ld.so.conf.d 2>/dev/null; true").out
    assert "libcuda" not in res and "gantry" not in res, res
    # the cache key holds the devices: the same step without them runs again
    r2 = g.run("build", "-t", "nvb:2", "--allow", "device", "--gpu-arch", "host",
               *nv_flags(lab), context(tmp_path, NV_STEP))
    assert "\n  cached\n" in r2.err, r2
    plain = NV_STEP.replace("--device=nvidia.com/gpu=all ", "")
    r3 = g.run("build", "-t", "nvb:3", "--gpu-arch", "host", *nv_flags(lab),
               context(tmp_path, plain))
    assert "\n  cached\n" not in r3.err and "1 step(s), 0 cached" in r3.err, r3


WSL_STEP = """\
FROM gt/cuda:1
RUN --device=nvidia.com/gpu=all cuda_probe > /probe.txt; nvidia-smi -L >> /probe.txt; \\
    ls /usr/lib/wsl/lib > /share.txt
"""


def test_wsl_step_sees_the_gpu_and_its_layer_holds_no_driver(g, lab, tmp_path):
    """On a WSL2 host the step gets /dev/dxg, libdxcore.so and the driver store (as `run`), and
    the layer holds none of them: no store or share path, no nvidia-smi link, no linker cache."""
    g.run("load", lab.archive)
    g.env["FAKE_DEVICE_ROOT"] = str(lab.wsl.dev_root)
    g.run("build", "-t", "wslb:1", "--allow", "device", "--driver-root", lab.wsl.driver_root,
          "--dev-root", lab.wsl.dev_root, "--sys-root", lab.empty, context(tmp_path, WSL_STEP))
    probe = g.run("run", "--rm", "wslb:1", "cat", "/probe.txt", "/share.txt").out
    assert f"libcuda: /usr/lib/wsl/drivers/{wslhost.NVIDIA_STORE}/libcuda.so.1.1" in probe, probe
    assert "GPU 0:" in probe and "libdxcore.so" in probe, probe
    names = last_layer(g, "wslb:1", tmp_path)
    assert names == ["probe.txt", "share.txt"], names
    assert traces(names) == []


def test_build_gpus_flag_gives_every_step_the_gpus_rootless(rootless, lab, tmp_path):
    g = rootless
    g.run("load", lab.archive)
    g.env["FAKE_DEVICE_ROOT"] = str(lab.nv.dev_root)
    ctx = Path(g.base) / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text("FROM gt/cuda:1\nRUN nvidia-smi -L > /smi.txt\n")
    os.chmod(ctx, 0o755)
    os.chmod(ctx / "Dockerfile", 0o644)
    r = g.run("build", "-t", "nvg:1", "--gpus", "all", "--allow", "device", *nv_flags(lab), ctx,
              check=False)
    assert r.code == 0, r
    assert "GPU 0:" in g.run("run", "--rm", "nvg:1", "cat", "/smi.txt").out
    names = last_layer(g, "nvg:1", Path(g.base))
    assert names == ["smi.txt"], names


def test_amd_step_layer_holds_no_device_node(g, lab, tmp_path):
    g.run("load", lab.archive)
    df = ("FROM amd/probe:1\n"
          "RUN --device=amd.com/gpu=all ls /dev /dev/dri > /devs.txt\n")
    g.run("build", "-t", "amdb:1", "--allow", "device", "--sys-root", lab.amd / "sys",
          "--dev-root", lab.amd / "dev", context(tmp_path, df))
    devs = g.run("run", "--rm", "amdb:1", "cat", "/devs.txt").out
    assert "kfd" in devs and "renderD128" in devs, devs
    names = last_layer(g, "amdb:1", tmp_path)
    assert names == ["devs.txt"], names


def test_devices_need_allow_device(g, lab, tmp_path):
    g.run("load", lab.archive)
    ctx = context(tmp_path, NV_STEP)
    r = g.fail("build", *nv_flags(lab), ctx, code=2)
    assert ("Dockerfile:2:1: RUN --device=nvidia.com/gpu=all: devices in a build need the "
            "device entitlement") in r.err, r
    assert "--allow device" in r.err
    r = g.fail("build", "--gpus", "all", *nv_flags(lab), ctx, code=2)
    assert "--gpus all: devices in a build need" in r.err
    r = g.fail("build", "--allow", "network.host", ctx, code=2)
    assert "--allow network.host: gantry build grants only the device entitlement" in r.err
    # an entitlement for another kind does not cover this one
    r = g.fail("build", "--allow", "device=amd.com/gpu", *nv_flags(lab), ctx, code=2)
    assert "devices in a build need the device entitlement" in r.err
    assert g.refs().get("docker.io/library/nvb:x") is None


def test_optional_device_skipped_required_refused_first(g, lab, tmp_path):
    g.run("load", lab.archive)
    empty = tmp_path / "nohost"
    (empty / "dev").mkdir(parents=True)
    (empty / "sys").mkdir()
    flags = ["--driver-root", empty, "--dev-root", empty, "--sys-root", empty,
             "--cdi-spec-dir", empty]
    df = ("FROM gt/cuda:1\n"
          "RUN --device=nvidia.com/gpu=all echo optional > /a.txt\n"
          "RUN --device=vendor.example/fpga=0 echo cdi > /b.txt\n")
    r = g.run("build", "-t", "opt:1", "--allow", "device", *flags, context(tmp_path, df))
    assert "skipped device nvidia.com/gpu=all (line 2: RUN --device): this host has no " \
           "nvidia GPU driver" in r.err, r
    assert "skipped device vendor.example/fpga=0" in r.err and "no CDI spec in" in r.err, r
    # required: refused before the first step runs, naming the line and the fix
    req = df.replace("fpga=0 echo", "fpga=0,required echo").replace("echo optional",
                                                                     "touch /ran; echo")
    r = g.fail("build", "-t", "opt:2", "--allow", "device", *flags,
               context(tmp_path, req), code=3)
    assert "Dockerfile:3:1: RUN --device=vendor.example/fpga=0: no CDI spec in" in r.err, r
    assert "[2/3] RUN" not in r.err, r  # nothing ran
    # a command line device the host lacks: refused too
    r = g.fail("build", "--allow", "device", "--device", "/dev/gantry-none", *flags,
               context(tmp_path, df), code=3)
    assert "--device /dev/gantry-none: this host has no device /dev/gantry-none" in r.err
    r = g.fail("build", "--allow", "device", *flags,
               context(tmp_path, "FROM gt/cuda:1\nRUN --device=nvidia.com/gpu=all,bogus true\n"),
               code=2)
    assert "'bogus' is not name=, required or required=true|false" in r.err


def test_cdi_spec_with_hooks_leaves_no_links_or_cache(g, lab, tmp_path):
    """A CDI spec of another kind (gantry's NVIDIA spec renamed), with its create-symlinks and
    update-ldcache hooks: the step sees the GPU, the layer holds none of what the hooks make."""
    g.run("load", lab.archive)
    g.env["FAKE_DEVICE_ROOT"] = str(lab.nv.dev_root)
    spec_dir = tmp_path / "cdi"
    spec_dir.mkdir()
    g.run("cdi", "generate", "--driver-root", lab.nv.driver_root, "--dev-root",
          lab.nv.dev_root, "--output", spec_dir / "nvidia.yaml")
    text = (spec_dir / "nvidia.yaml").read_text()
    assert "create-symlinks" in text and "update-ldcache" in text
    (spec_dir / "nvidia.yaml").unlink()
    (spec_dir / "example.yaml").write_text(text.replace("nvidia.com/gpu", "example.com/gpu"))
    df = ("FROM gt/cuda:1\n"
          "RUN --device=example.com/gpu=all,required nvidia-smi -L > /smi.txt; "
          "echo LD_LIBRARY_PATH=$LD_LIBRARY_PATH >> /smi.txt\n")
    g.run("build", "-t", "cdib:1", "--allow", "device=example.com/gpu", "--cdi-spec-dir",
          spec_dir, context(tmp_path, df))
    smi = g.run("run", "--rm", "cdib:1", "cat", "/smi.txt").out
    assert "GPU 0:" in smi and "LD_LIBRARY_PATH=/" in smi, smi
    names = last_layer(g, "cdib:1", tmp_path)
    assert names == ["smi.txt"], names
