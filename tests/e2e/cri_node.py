"""The CRI node of test_cri.py: a containerd 1.6 started for one test module with its own config,
root, state and socket, two runtime handlers (`gantry`: io.containerd.runc.v2 with BinaryName =
gantry-oci and `cdi.k8s.io/*` annotations passed through, added by `gantry k8s install` as an
admin adds it, and a pod's `io.gantry.gpu-*` annotations, added as docs/gpu-sharing.md says;
`runc`), the test registry
holding the images (the pause image as sandbox_image), a pod network that changes nothing of the
host's (CNI's loopback and FAKE_IP_PLUGIN), and the simulated 2-GPU NVIDIA host and 8-GPU AMD
host (tests/fixtures/amdhost's MI300X: its /dev nodes beside NVIDIA's, its /sys) in the runtime's
environment with their CDI specs. The `node` fixture makes it and removes all of it (pods,
containerd, shims, mounts, cgroups); the helpers write requests as kubelet writes them."""
import importlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import yaml

from conftest import GANTRY, IN_CI, Gantry, need_tool
from cri_client import Cri, load_api
from fixtures import mkimage
from fixtures.registry.harness import Registry, raw_push

ROOT = os.geteuid() == 0
BUSYBOX = "cri/busybox:1"
PAUSE = "cri/pause:1"
CNI_LOOPBACK = "/usr/lib/cni/loopback"  # Debian's containernetworking-plugins
# A CNI plugin of the test's: reports an address on eth0 (containerd wants one for the pod) and
# configures nothing, so a pod network changes nothing of the host's
FAKE_IP_PLUGIN = """#!/bin/sh
cat >/dev/null
case "$CNI_COMMAND" in
ADD) printf '{"cniVersion":"0.4.0","interfaces":[{"name":"eth0","sandbox":"%s"}],'\
'"ips":[{"version":"4","address":"10.254.254.2/24","interface":0}]}' "$CNI_NETNS" ;;
VERSION) echo '{"cniVersion":"0.4.0","supportedVersions":["0.3.1","0.4.0"]}' ;;
esac
"""


def has_cap_sys_resource():
    with open("/proc/self/status") as f:
        eff = next(line for line in f if line.startswith("CapEff:"))
    return bool(int(eff.split()[1], 16) >> 24 & 1)


def _containerd_config(base, reg, mirrored=()):
    """The node's config; MIRRORED: registry hosts (registry.k8s.io...) whose images are served
    by the test registry under the same paths (containerd's registry mirrors)."""
    cri = 'plugins."io.containerd.grpc.v1.cri"'
    # The pause container asks for oomScoreAdj -998 and containers their QoS class's: lowering
    # it takes CAP_SYS_RESOURCE, which a root in a container (this machine's) lacks, and both
    # runtimes then refuse the pod. containerd's own answer for such nodes: clamp to its own.
    restrict = "false" if has_cap_sys_resource() else "true"
    rt = f"{cri}.containerd.runtimes"
    return f"""version = 2
root = "{base}/root"
state = "{base}/state"
[grpc]
  address = "{base}/containerd.sock"
[ttrpc]
  address = "{base}/containerd.sock.ttrpc"
[{cri}]
  sandbox_image = "{reg.addr}/{PAUSE}"
  restrict_oom_score_adj = {restrict}
  enable_selinux = false
  [{cri}.containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
  [{rt}.runc]
    runtime_type = "io.containerd.runc.v2"
  [{rt}.runc.options]
    Root = "{base}/runc-root"
  [{rt}.gantry.options]
    Root = "{base}/gantry-root"
  [{cri}.cni]
    bin_dir = "{base}/cni-bin"
    conf_dir = "{base}/cni-conf"
  [{cri}.registry.mirrors."{reg.addr}"]
    endpoint = ["http://{reg.addr}"]
""" + "".join(f'  [{cri}.registry.mirrors."{host}"]\n    endpoint = ["http://{reg.addr}"]\n'
              for host in mirrored)


def _push(reg, repo, image):
    layout = Path(tempfile.mkdtemp(prefix="gcri-img-", dir=reg.dir))
    top = mkimage.write_oci_layout(layout, [image])
    repo, tag = repo.split(":")
    raw_push(layout, reg.addr, repo, tag)
    return top["manifests"][0]["digest"]


def our_processes(base, but=()):
    """PIDs of the processes started for this containerd (its shims name its socket), but
    those in BUT (containerd's and the registry's own)."""
    out = []
    for p in Path("/proc").iterdir():
        if not p.name.isdigit() or int(p.name) in but:
            continue
        try:
            if str(base).encode() in (p / "cmdline").read_bytes():
                out.append(int(p.name))
        except OSError:
            pass
    return out


def our_mounts(base):
    with open("/proc/self/mountinfo") as f:
        return [line.split()[4] for line in f if line.split()[4].startswith(str(base))]


class Node:
    """The module's containerd: `cri` (the client), `reg` (the registry), `host` (the simulated
    NVIDIA host), `amd` (the simulated AMD host's description: amdhost.build's), `base` (its
    directory), `proc`, `install` (`gantry k8s install`'s result); None until made."""
    base = reg = host = amd = proc = api = cri = busybox_digest = install = None


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    if not ROOT:
        pytest.skip("containerd's CRI runs pods as root")
    for tool in ("containerd", "protoc", "docker-registry"):
        need_tool(tool)
    for module, package in (("grpc", "python3-grpcio"), ("google.protobuf", "python3-protobuf")):
        try:
            importlib.import_module(module)
        except ImportError:
            if IN_CI:
                pytest.fail(f"{package} is required in CI but is not installed")
            pytest.skip(f"{package} is not installed")
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "fixtures" / "gpuhost"))
    import gpuhost as gh

    n = Node()
    try:
        yield _start_node(n, tmp_path_factory, gh)
    finally:
        _teardown(n)


def _start_node(n, tmp_path_factory, gh, mirrored=(), network=None):
    """Starts the node into N. tests/critest/run.py starts one too, with MIRRORED hosts and its
    own NETWORK: (conflist, [CNI plugins of Debian's to link]), in a network namespace of its
    own."""
    # /tmp, not pytest's tmp: unix socket paths are short, and every user can enter it
    n.base = base = Path(tempfile.mkdtemp(prefix="gcri-", dir="/tmp"))
    os.chmod(base, 0o755)
    for d in ("cni-bin", "cni-conf", "bin"):
        (base / d).mkdir()
    # a pod network: its own namespace with the loopback up, and an address reported, not
    # made (no interface, route or firewall rule of the host's changes)
    (base / "cni-bin" / "loopback").symlink_to(CNI_LOOPBACK)
    (base / "cni-bin" / "fake-ip").write_text(FAKE_IP_PLUGIN)
    os.chmod(base / "cni-bin" / "fake-ip", 0o755)
    conflist, plugins = network or ({"cniVersion": "0.4.0", "name": "gantry-test",
                                     "plugins": [{"type": "loopback"}, {"type": "fake-ip"}]}, [])
    for plugin in plugins:
        (base / "cni-bin" / plugin).symlink_to(Path(CNI_LOOPBACK).parent / plugin)
    (base / "cni-conf" / "10-test.conflist").write_text(json.dumps(conflist))
    oci_bin = base / "bin" / "gantry-oci"
    oci_bin.symlink_to(GANTRY)  # argv[0] picks `gantry oci`
    n.reg = Registry(base / "reg").start()
    n.busybox_digest = _push(n.reg, BUSYBOX, mkimage.busybox_image())
    _push(n.reg, PAUSE, mkimage.busybox_image(entrypoint=["/bin/sleep", "inf"], cmd=None))
    n.host = gh.build_host(tmp_path_factory.mktemp("gpuhost"), gh.preset(2, cc="8.0"))
    cdi = base / "cdi"
    cdi.mkdir()
    gen = Gantry(base / "store", env={"FAKE_DEVICE_ROOT": str(n.host.dev_root)})
    gen.run("cdi", "generate", "--driver-root", n.host.driver_root, "--dev-root",
            n.host.dev_root, "--output", cdi / "nvidia.yaml")
    # the AMD GPUs on the same node: their nodes (/dev/kfd, /dev/dri) in the NVIDIA host's /dev
    # root, their /sys the runtime's GANTRY_SYS_ROOT, amd-ctk's CDI spec beside NVIDIA's
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "fixtures" / "amdhost"))
    import amdhost
    amd = base / "amdhost"
    n.amd = amdhost.build(amd, "mi300x", devices="nodes")
    for d in ("kfd", "dri"):
        subprocess.run(["cp", "-a", str(amd / "dev" / "dev" / d), str(n.host.dev_root / "dev")],
                       check=True)
    gen.run("cdi", "generate", "--vendor", "amd", "--sys-root", amd / "sys", "--dev-root",
            n.host.dev_root, "--output", cdi / "amd.yaml")
    # the gantry handler as an admin adds it: `gantry k8s install` (runtime_type, BinaryName, the
    # CDI annotations) over the node's config, which gives the handler only its state directory
    (base / "config.toml").write_text(_containerd_config(base, n.reg, mirrored))
    n.install = gen.run("k8s", "install", "--containerd-config", base / "config.toml",
                        "--binary", oci_bin)
    # and a pod's GPU share annotations passed on, as docs/gpu-sharing.md has an admin add them
    text = (base / "config.toml").read_text()
    installed = 'pod_annotations = [ "io.gantry.kernel-cache" ]'
    assert installed in text, text
    (base / "config.toml").write_text(text.replace(
        installed, 'pod_annotations = [ "io.gantry.kernel-cache", "io.gantry.gpu-*", '
                   '"io.gantry.mps" ]'))
    # the runtime's environment is containerd's (the shim passes it on): where the simulated
    # host's driver and /dev are, and the CDI specs
    env = dict(os.environ, GANTRY_DRIVER_ROOT=str(n.host.driver_root),
               GANTRY_DEV_ROOT=str(n.host.dev_root), FAKE_DEVICE_ROOT=str(n.host.dev_root),
               GANTRY_SYS_ROOT=str(amd / "sys"), GANTRY_CDI_SPEC_DIRS=str(cdi),
               GANTRY_ROOT=str(base / "store"))
    log = open(base / "containerd.log", "w")
    n.proc = subprocess.Popen(["containerd", "--config", str(base / "config.toml")], stdout=log,
                              stderr=subprocess.STDOUT, env=env, start_new_session=True)
    log.close()
    n.api = load_api(base / "api")
    n.cri = Cri(base / "containerd.sock", n.api)
    import grpc
    try:
        grpc.channel_ready_future(n.cri.channel).result(timeout=30)
        n.cri.Version({"version": "v1"}, timeout=30)
    except Exception:
        n.proc.kill()
        raise AssertionError((base / "containerd.log").read_text()[-5000:])
    return n


def _teardown(n):
    """Whatever of the node was made, gone: pods, containerd, the registry, processes left in
    the pods' cgroups, mounts under the node's directory, the cgroups, the directory."""
    if n.base is None:
        return
    if n.cri is not None:
        try:
            for s in n.cri.ListPodSandbox({}, timeout=30).items:
                n.cri.StopPodSandbox({"pod_sandbox_id": s.id}, timeout=30)
                n.cri.RemovePodSandbox({"pod_sandbox_id": s.id}, timeout=30)
        except Exception:  # a failed test's leftovers: the kills below end them
            pass
        n.cri.close()
    if n.proc is not None:
        n.proc.terminate()
        try:
            n.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            n.proc.kill()
            n.proc.wait()
    if n.reg is not None:
        try:  # the rest of the teardown runs whatever the registry's stop says
            n.reg.stop()
        except Exception:
            pass
    cgroups = list(Path("/sys/fs/cgroup").glob(f"*/{n.base.name}"))
    leftovers = our_processes(n.base)
    for top in cgroups:  # what a failed test left running in the pods' cgroups
        for procs in top.rglob("cgroup.procs"):
            try:  # a shim's cleanup removes its pod's cgroup while this walks
                leftovers += [int(p) for p in procs.read_text().split()]
            except OSError:
                pass
    for pid in leftovers:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    for m in sorted(our_mounts(n.base), reverse=True):
        subprocess.run(["umount", "-l", m], capture_output=True)
    for top in cgroups:  # the pods' cgroup parents (runc leaves them too), deepest first
        for d in sorted((p for p in top.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
            try:
                d.rmdir()
            except OSError:
                pass
        try:
            top.rmdir()
        except OSError:
            pass
    shutil.rmtree(n.base, ignore_errors=True)


def pod_config(node, name, pid="CONTAINER", network="NODE"):
    """A pod as kubelet writes one: the node's network (no CNI; and so no hostname, which
    kubelet leaves out for such pods: both runtimes refuse a hostname without a UTS namespace),
    a log directory, a cgroup parent of this module's (the teardown removes it)."""
    logs = node.base / "logs" / name
    logs.mkdir(parents=True, exist_ok=True)
    cfg = {"metadata": {"name": name, "uid": f"uid-{name}", "namespace": "gantry-test",
                        "attempt": 0},
           "log_directory": str(logs),
           "linux": {"cgroup_parent": f"/{node.base.name}/{name}",
                     "security_context": {"namespace_options": {"network": network, "pid": pid,
                                                                 "ipc": "POD"}}}}
    if network == "POD":
        cfg["hostname"] = name
    return cfg


def run_pod(node, name, handler, pid="CONTAINER", network="NODE"):
    cfg = pod_config(node, name, pid, network)
    r = node.cri.RunPodSandbox({"config": cfg, "runtime_handler": handler})
    return r.pod_sandbox_id, cfg


def remove_pod(node, pod_id):
    node.cri.StopPodSandbox({"pod_sandbox_id": pod_id})
    node.cri.RemovePodSandbox({"pod_sandbox_id": pod_id})


def container_config(node, name, args, env=None, annotations=None, pid="CONTAINER",
                     network="NODE", **extra):
    cfg = {"metadata": {"name": name, "attempt": 0},
           "image": {"image": f"{node.reg.addr}/{BUSYBOX}"},
           "args": args, "log_path": f"{name}.log",
           "envs": [{"key": k, "value": v} for k, v in (env or {}).items()],
           "annotations": annotations or {},
           "linux": {"security_context": {"namespace_options": {"network": network, "pid": pid,
                                                                 "ipc": "POD"}}}}
    cfg.update(extra)
    return cfg


def create(node, pod, cfg, **kw):
    pod_id, pod_cfg = pod
    return node.cri.CreateContainer({"pod_sandbox_id": pod_id, "config": cfg,
                                     "sandbox_config": pod_cfg}, **kw).container_id


def start_sleeper(node, pod, name, **kw):
    """A running container whose first process waits for SIGTERM, saying so in its log."""
    cid = create(node, pod, container_config(
        node, name, ["sh", "-c", "trap 'echo got TERM; exit 3' TERM; echo started; "
                     "sleep inf & wait"], **kw))
    node.cri.StartContainer({"container_id": cid})
    return cid


def exec_sync(node, cid, *cmd):
    r = node.cri.ExecSync({"container_id": cid, "cmd": list(cmd), "timeout": 30})
    return r.exit_code, r.stdout.decode(), r.stderr.decode()


def remove(node, cid, timeout=0):
    node.cri.StopContainer({"container_id": cid, "timeout": timeout})
    node.cri.RemoveContainer({"container_id": cid})


def cdi_edits_as_cri(spec_file, device):
    """The CDI spec's edits for DEVICE (its common edits and the device's own) as CRI's
    ContainerConfig fields: devices (nodes, rwm), mounts (binds, ro when the spec says so), envs.
    Hooks have no CRI field: returned apart, not applied."""
    spec = yaml.safe_load(Path(spec_file).read_text())
    edits = [spec.get("containerEdits") or {}]
    edits += [d["containerEdits"] for d in spec["devices"] if d["name"] == device]
    cfg = {"devices": [], "mounts": [], "envs": []}
    hooks = []
    for e in edits:
        for d in e.get("deviceNodes") or []:
            cfg["devices"].append({"container_path": d["path"],
                                   "host_path": d.get("hostPath", d["path"]),
                                   "permissions": "rwm"})
        for m in e.get("mounts") or []:
            cfg["mounts"].append({"container_path": m["containerPath"],
                                  "host_path": m["hostPath"],
                                  "readonly": "ro" in (m.get("options") or [])})
        for kv in e.get("env") or []:
            k, _, v = kv.partition("=")
            cfg["envs"].append({"key": k, "value": v})
        hooks += e.get("hooks") or []
    return cfg, hooks
