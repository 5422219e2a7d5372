"""GPU support end to end through CDI: `gantry cdi generate` / validate / list on a simulated
MIG host, CDI hooks run with their declared env only, `gantry run --device` with a generated
spec, the update-ldcache hook for an image without /etc/ld.so.conf, and podman consuming a
spec gantry generated.

The simulated hosts, images and users are gpu_common.py's (module fixture `lab`); malformed and
nvidia-ctk specs are validated in test_gpu_cdi_validate.py.

Run: cd /work/main && /usr/bin/python3 -m pytest -q -p no:cacheprovider \
         tests/e2e/test_gpu_cdi.py
"""
import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from conftest import host_lock, need_tool
from fixtures import mkimage as mk
from gpu_common import (  # noqa: F401 (pytest fixtures, used as test arguments)
    DRIVER, LIBDIR, PROBE, _poc_images, cdi_run_supported, ci, ctx, expect_dev, expect_probe,
    expect_smi, gpu, lab, mig, poc, resolve, root_ctx, sections)


# --------------------------------------------------------------------------
# CDI
# --------------------------------------------------------------------------

def generate(gan, host, *args):
    return gan.run("cdi", "generate", "--driver-root", host.driver_root, "--dev-root",
                   host.dev_root, *args)


def test_cdi_generate_validates_and_lists(ctx, lab):
    host = lab.hosts["mig"]
    d = host.desc
    gan = ctx.gantry(host)
    out = ctx.mkdir("cdi-gen")
    other = ctx.mkdir("cdi-gen-variants")
    generate(gan, host, "--output", out)  # a directory: nvidia.yaml inside
    generate(gan, host, "--format", "json", "--device-name-strategy", "uuid", "--output",
             other / "uuid.json")
    idx = generate(gan, host, "--device-name-strategy", "index").out
    (other / "index.yaml").write_text(idx)
    os.chmod(other / "index.yaml", 0o644)
    for f in (out / "nvidia.yaml", other / "uuid.json", other / "index.yaml"):
        res = gan.run("cdi", "validate", f)
        assert res.code == 0 and "ok" in res.out and "nvidia.com/gpu" in res.out, res

    listed = set(ctx.gan.run("cdi", "list", "--spec-dir", out).out.split())
    uuids = {f"nvidia.com/gpu={g['uuid']}" for g in d["gpus"]}
    uuids |= {f"nvidia.com/gpu={m['uuid']}" for g in d["gpus"] for m in g["mig"] or []}
    indices = {"nvidia.com/gpu=0", "nvidia.com/gpu=1", "nvidia.com/gpu=1:0",
               "nvidia.com/gpu=1:1", "nvidia.com/gpu=1:2"}
    assert uuids | indices | {"nvidia.com/gpu=all"} <= listed, listed

    spec = json.loads((other / "uuid.json").read_text())
    names = [dev["name"] for dev in spec["devices"]]
    assert sorted(names) == sorted([u.split("=")[1] for u in uuids] + ["all"]), names
    assert spec["kind"] == "nvidia.com/gpu"
    dev0 = next(dev for dev in spec["devices"] if dev["name"] == d["gpus"][0]["uuid"])
    assert [n["path"] for n in dev0["containerEdits"]["deviceNodes"]] == ["/dev/nvidia0"]
    m = mig(host, 1, 0)
    devm = next(dev for dev in spec["devices"] if dev["name"] == m["uuid"])
    assert sorted(n["path"] for n in devm["containerEdits"]["deviceNodes"]) == sorted(
        ["/dev/nvidia1", f"/dev/nvidia-caps/nvidia-cap{m['gi_cap']}",
         f"/dev/nvidia-caps/nvidia-cap{m['ci_cap']}"])
    edits = spec["containerEdits"]
    common = {n["path"] for n in edits["deviceNodes"]}
    assert {"/dev/nvidiactl", "/dev/nvidia-uvm", "/dev/nvidia-uvm-tools"} <= common
    libcuda = [mt for mt in edits["mounts"]
               if mt["containerPath"] == f"{LIBDIR}/libcuda.so.{DRIVER}"]
    assert len(libcuda) == 1 and libcuda[0]["hostPath"] == str(host.lib_dir /
                                                               f"libcuda.so.{DRIVER}")
    assert {"ro", "nosuid", "nodev"} <= set(libcuda[0]["options"])
    for hook in edits.get("hooks", []):
        assert os.path.isabs(hook["path"]) and "env" in hook, hook
    assert "NVIDIA_VISIBLE_DEVICES=void" in edits["env"]
    assert not [n for n in names if n[:1].isdigit()]  # uuid naming only
    assert not [n for n in (line.strip() for line in idx.splitlines())
                if n.startswith("- name: GPU-") or n.startswith("- name: MIG-")]


HOOK_PY = """\
import json, os, sys
fds = os.listdir("/proc/self/fd")
fds = sorted(int(f) for f in fds if os.path.exists("/proc/self/fd/" + f))
env = [e.decode() for e in open("/proc/self/environ", "rb").read().split(b"\\0") if e]
json.dump({"env": env, "cwd": os.getcwd(), "fds": fds, "state": json.loads(sys.stdin.read())},
          open(sys.argv[1], "w"))
"""


def test_cdi_hooks_run_with_declared_env_only(ctx, lab, poc):
    """CVE-2025-23266 class: a CDI hook gets exactly its declared env (none declared: empty),
    cwd /, no inherited fds, the container state on stdin, whatever the image's env says."""
    if not cdi_run_supported(ctx.gan):
        pytest.skip("gantry run --help lists no --device / --cdi-spec-dir yet")
    ctx.load(_poc_images(poc[0]), "preload")
    out = ctx.mkdir("hook-env")
    spec = {"cdiVersion": "0.5.0", "kind": "example.com/hooktest",
            "devices": [{"name": "x", "containerEdits": {"env": ["FROM_CDI=1"], "hooks": [
                {"hookName": "createContainer", "path": "/usr/bin/python3",
                 "args": ["python3", "-c", HOOK_PY, str(out / "noenv.json")]},
                {"hookName": "createContainer", "path": "/usr/bin/python3",
                 "args": ["python3", "-c", HOOK_PY, str(out / "env.json")],
                 "env": ["FOO=bar", "NVIDIA_CTK_DEBUG=false"]}]}}]}
    (out / "hooks.json").write_text(json.dumps(spec))
    os.chmod(out / "hooks.json", 0o644)
    ctx.gan.run("cdi", "validate", out / "hooks.json")
    res = ctx.gan.run("run", "--cdi-spec-dir", out, "--device", "example.com/hooktest=x",
                      "-e", "LD_PRELOAD=/proc/self/cwd/poc.so", "-e", "SECRET=1",
                      "-e", "NVIDIA_VISIBLE_DEVICES=void",
                      "gt/preload-cwd:1", "sh", "-c", "echo $FROM_CDI")
    assert res.out == "1\n", res
    noenv = json.loads((out / "noenv.json").read_text())
    env = json.loads((out / "env.json").read_text())
    assert noenv["env"] == [], noenv
    assert env["env"] == ["FOO=bar", "NVIDIA_CTK_DEBUG=false"], env
    for h in (noenv, env):
        assert h["cwd"] == "/", h
        assert h["fds"] == [0, 1, 2], h
        assert h["state"]["status"] == "creating" and h["state"]["pid"] > 0, h
    assert not os.path.exists("/owned")


def test_cdi_run_device(ctx, lab):
    if not cdi_run_supported(ctx.gan):
        pytest.skip("gantry run --help lists no --device / --cdi-spec-dir yet")
    host = lab.hosts["mig"]
    d = host.desc
    spec_dir = ctx.mkdir("cdi-run")
    generate(ctx.gantry(host), host, "--output", spec_dir / "nvidia.yaml")
    cases = [("nvidia.com/gpu=0", resolve(d, [0])),
             ("nvidia.com/gpu=all", resolve(d, all_=True)),
             ("nvidia.com/gpu=1:1", resolve(d, migs=[(1, 1)])),
             (f"nvidia.com/gpu={gpu(host, 0)['uuid']}", resolve(d, [0]))]
    for dev, (gpus, migs) in cases:
        res = ctx.gan.run("run", "--cdi-spec-dir", spec_dir, "--device", dev,
                          "gt/cuda-probe:1", "sh", "-c", PROBE)
        s = sections(res.out)
        want = expect_probe(d, gpus, migs)
        assert f"libcuda: {LIBDIR}/libcuda.so.{DRIVER}" in s["probe"], f"{dev}: {res!r}"
        assert [line for line in s["probe"] if "\t" in line] == want, f"{dev}: {res!r}"
        assert s["smi"] == expect_smi(d, gpus, migs), f"{dev}: {res!r}"
        for node in expect_dev(d, gpus, migs):
            assert node in s["dev"], f"{dev}: {node} missing: {res!r}"
        selected = {f"/dev/nvidia{g['minor']}" for g in d["gpus"] if g["index"] in gpus}
        assert {n for n in s["dev"] if re.fullmatch(r"/dev/nvidia\d+", n)} == selected, res
    # two devices at once
    res = ctx.gan.run("run", "--cdi-spec-dir", spec_dir, "--device", "nvidia.com/gpu=0",
                      "--device", "nvidia.com/gpu=1:0", "gt/cuda-probe:1")
    assert [line for line in res.out.splitlines() if "\t" in line] == expect_probe(
        d, *resolve(d, [0], [(1, 0)])), res
    # unknown device / kind
    for dev in ("nvidia.com/gpu=7", "example.com/none=0"):
        res = ctx.gan.run("run", "--cdi-spec-dir", spec_dir, "--device", dev,
                          "gt/cuda-probe:1", "sh", "-c", "echo started", check=False)
        assert res.code == 125 and "started" not in res.out and dev in res.err, res


def test_cdi_ldcache_for_an_image_without_ld_so_conf(ctx, lab):
    """A program staged alone (no /etc/ld.so.conf: tests/gpu/build.sh's image) given a driver
    in a directory its loader does not search by itself (/usr/lib64 for a Debian-built loader;
    GKE's /usr/local/nvidia/lib64): the update-ldcache hook names the folders to ldconfig, not
    only in ld.so.conf.d, which no ld.so.conf includes there. Found on an H100: the CDI run
    failed with cudaErrorInsufficientDriver while --gpus passed."""
    host = lab.hosts["lib64"]
    with tempfile.TemporaryDirectory(prefix="cuda-bare-") as tmp:
        root = Path(tmp) / "root"
        root.mkdir()
        ci._stage(root, False, None, False)
        shutil.rmtree(root / "etc")
        img = mk.Image([mk.busybox_layer(), mk.Layer(ci._entries(root))],
                       cmd=["/usr/bin/cuda_probe"])
    ctx.load([(img, ["gt/bare-probe:1"])], "bare-probe")
    spec_dir = ctx.mkdir("cdi-lib64")
    generate(ctx.gantry(host), host, "--output", spec_dir / "nvidia.yaml")
    res = ctx.gan.run("run", "--rm", "--cdi-spec-dir", spec_dir, "--device",
                      "nvidia.com/gpu=all", "gt/bare-probe:1", "sh", "-c",
                      "cuda_probe; echo probe_rc=$?; cat /etc/ld.so.conf.d/00-gantry-cdi.conf")
    assert f"libcuda: /usr/lib64/libcuda.so.{host.desc['driver']}" in res.out, res
    assert "probe_rc=0" in res.out and "/usr/lib64" in res.out, res
    # a folder that is not an absolute path never reaches ldconfig as an option
    spec = (spec_dir / "nvidia.yaml").read_text()
    assert spec.count("- /usr/lib64\n") == 1, spec
    (spec_dir / "nvidia.yaml").write_text(spec.replace("- /usr/lib64\n", "- -X\n"))
    res = ctx.gan.run("run", "--rm", "--cdi-spec-dir", spec_dir, "--device",
                      "nvidia.com/gpu=all", "gt/bare-probe:1", "true", check=False)
    assert res.code == 125 and "--folder '-X' is not an absolute path" in res.err, res


# --------------------------------------------------------------------------
# podman consumes a spec gantry generated
# --------------------------------------------------------------------------

SANDBOX_ERRORS = ("setrlimit", "Operation not permitted")


def test_podman_runs_with_gantry_cdi_spec(root_ctx, lab, poc):
    need_tool("podman")
    host = lab.hosts["mig"]
    d = host.desc
    gan = root_ctx.gantry(host)
    base = lab.base / "podman"
    base.mkdir(exist_ok=True)
    conf = base / "containers.conf"
    conf.write_text('[containers]\ndefault_ulimits = ["nofile=20000:20000", '
                    '"nproc=32768:32768"]\n')
    pod = ["podman", "--root", str(base / "root"), "--runroot", str(base / "runroot"),
           "--tmpdir", str(base / "tmp"), "--storage-driver", "overlay"]
    env = dict(os.environ, CONTAINERS_CONF=str(conf))
    # podman >= 4.7 takes a global --cdi-spec-dir; 4.3 (Debian 12) has none: then the spec goes
    # to /var/run/cdi for the test's duration
    helps = "".join(subprocess.run(pod + h, capture_output=True, text=True, env=env).stdout
                    for h in (["--help"], ["run", "--help"]))
    if "--cdi-spec-dir" in helps:
        (base / "cdi").mkdir(exist_ok=True)
        spec = base / "cdi" / "gantry-test.yaml"
        pod += ["--cdi-spec-dir", str(base / "cdi")]
    else:
        spec = Path("/var/run/cdi/gantry-test.yaml")

    def podman(*args, check=True):
        p = subprocess.run(pod + [str(a) for a in args], capture_output=True, text=True,
                           env=env, timeout=120)
        if check and p.returncode != 0:
            err = p.stderr.strip()
            if all(e in err for e in SANDBOX_ERRORS):
                pytest.skip(f"podman cannot run containers in this sandbox: {err}")
            raise AssertionError(f"podman {' '.join(map(str, args))} failed "
                                 f"({p.returncode}):\n{p.stdout}\n{p.stderr}")
        return p

    # /var/run/cdi: test_cdi_amd.py may make (and remove) /run/cdi meanwhile
    with host_lock("cdi"):
        # another nvidia.com/gpu spec in the system dirs would make podman drop the devices as
        # conflicting (a real GPU host with /var/run/cdi/nvidia.yaml)
        others = [str(f) for dname in ("/etc/cdi", "/var/run/cdi") if os.path.isdir(dname)
                  for f in Path(dname).iterdir() if f != spec and f.is_file()
                  and re.search(r'kind"?\s*:\s*"?nvidia\.com/gpu', f.read_text(errors="replace"))]
        assert not others, f"CDI specs of kind nvidia.com/gpu already installed: {others}"
        try:
            spec.parent.mkdir(parents=True, exist_ok=True)
            generate(gan, host, "--output", base / "nvidia.yaml")
            gan.run("cdi", "validate", base / "nvidia.yaml")
            shutil.copyfile(base / "nvidia.yaml", spec)
            archive = base / "probe.tar"
            ci.write_cuda_image(archive, "cuda-probe", tag="gt/probe:1")
            podman("load", "-i", archive)
            run = ["run", "--rm", "--runtime", "runc", "--network", "none"]
            for dev, (gpus, migs) in (("all", resolve(d, all_=True)), ("0", resolve(d, [0])),
                                      ("1:2", resolve(d, migs=[(1, 2)]))):
                p = podman(*run, "--device", f"nvidia.com/gpu={dev}", "localhost/gt/probe:1",
                           "sh", "-c", PROBE)
                s = sections(p.stdout)
                want = expect_probe(d, gpus, migs)
                assert f"libcuda: {LIBDIR}/libcuda.so.{DRIVER}" in s["probe"], p.stdout + p.stderr
                assert f"cuda_driver_version: {d['cuda_version']}" in s["probe"], p.stdout
                assert [line for line in s["probe"] if "\t" in line] == want, p.stdout
                assert s["smi"] == expect_smi(d, gpus, migs), p.stdout
                selected = {f"/dev/nvidia{g['minor']}" for g in d["gpus"] if g["index"] in gpus}
                assert {n for n in s["dev"] if re.fullmatch(r"/dev/nvidia\d+", n)} == selected
                assert "/dev/nvidiactl" in s["dev"]
            # the spec's hooks run with their declared env: an image LD_PRELOAD reaches no hook
            poc_bytes, mark2 = poc
            assert not os.path.exists("/owned")
            pa = base / "preload.tar"
            mk.write_docker_archive(pa, _poc_images(poc_bytes))
            podman("load", "-i", pa)
            for name in ("abs", "cwd"):
                p = podman(*run, "--device", "nvidia.com/gpu=all", f"localhost/gt/preload-{name}:1",
                           "sh", "-c", "cat /owned 2>/dev/null; echo done")
                assert p.stdout == "done\n", p.stdout + p.stderr
                assert not os.path.exists("/owned") and not os.path.exists(mark2), \
                    f"podman + gantry hooks loaded the image's LD_PRELOAD on the host ({name})"
        finally:
            spec.unlink(missing_ok=True)
            subprocess.run(pod + ["rmi", "-a", "-f"], capture_output=True, env=env, timeout=120)
            with open("/proc/self/mounts") as f:
                stale = [line.split()[1] for line in f if str(base) in line.split()[1]]
            for m in sorted(stale, key=len, reverse=True):
                subprocess.run(["umount", "-l", m], capture_output=True)
