"""gantry-oci under Kubernetes' Container Runtime Interface (issue 52): what kubelet does, done
by a CRI client (tests/e2e/cri_client.py) against a real containerd started for this module
(tests/e2e/cri_node.py) with a `gantry` runtime handler beside `runc`, so the pod flow is
differential. PullImage from the test registry; pods with the node's network, one with a pod
network of its own, one sharing its PID namespace; a resize (UpdateContainerResources) and an
OOM kill; GPUs on the simulated 2-GPU NVIDIA host by
each contract the device plugins use: NVIDIA_VISIBLE_DEVICES, a CDI annotation, and CDI device
names (CRI's CDIDevices, which containerd 1.6 does not read); on the same node's simulated AMD
MI300X GPUs by AMD_VISIBLE_DEVICES and an amd.com/gpu CDI annotation. Every pod and container
is removed by the tests, and the last test checks nothing is left: no container, no shim, no
mount, no cgroup, no runtime state."""
import json
import os
import re
import select
import time
from pathlib import Path

import pytest

from conftest import IN_CI
from test_oci_resources import MB, limit
from cri_node import (BUSYBOX, CNI_LOOPBACK, cdi_edits_as_cri,  # noqa: F401 (fixture)
                      container_config, create, exec_sync, has_cap_sys_resource, node,
                      our_mounts, our_processes, pod_config, remove, remove_pod, run_pod,
                      start_sleeper)


@pytest.fixture(scope="module")
def image(node):
    r = node.cri.PullImage({"image": {"image": f"{node.reg.addr}/{BUSYBOX}"}})
    return r.image_ref


@pytest.fixture(scope="module")
def gantry_pod(node, image):
    pod = run_pod(node, "gantry-pod", "gantry")
    yield pod
    import grpc
    try:  # test_nothing_is_left_after_the_pods_are_removed removes it
        remove_pod(node, pod[0])
    except grpc.RpcError as e:
        if e.code() != grpc.StatusCode.NOT_FOUND:
            raise


def test_pull_image_from_the_registry(node, image):
    st = node.cri.ImageStatus({"image": {"image": f"{node.reg.addr}/{BUSYBOX}"}}).image
    assert st.id == image and image.startswith("sha256:")
    assert f"{node.reg.addr}/{BUSYBOX}" in st.repo_tags
    # the manifest pushed, by its digest
    assert f"{node.reg.addr}/cri/busybox@{node.busybox_digest}" in st.repo_digests
    names = [t for i in node.cri.ListImages({}).images for t in i.repo_tags]
    assert f"{node.reg.addr}/{BUSYBOX}" in names


def test_the_handler_is_the_one_gantry_k8s_install_added(node):
    # the node's containerd runs with the config `gantry k8s install` wrote (cri_node.py); the
    # pods of this module run under it. What containerd read of it:
    assert node.install.out == ("apiVersion: node.k8s.io/v1\nkind: RuntimeClass\nmetadata:\n"
                                "  name: gantry\nhandler: gantry\n")
    cfg = json.loads(node.cri.Status({"verbose": True}).info["config"])
    rt = cfg["containerd"]["runtimes"]["gantry"]
    assert rt["runtimeType"] == "io.containerd.runc.v2"
    assert rt["options"]["BinaryName"] == str(node.base / "bin" / "gantry-oci")
    assert rt["options"]["Root"] == str(node.base / "gantry-root")  # the node's own key kept
    assert rt["ContainerAnnotations"] == ["cdi.k8s.io/*", "io.gantry.kernel-cache"]
    # install adds the kernel cache's; the fixture adds gantry's GPU share annotations as an
    # admin would
    assert rt["PodAnnotations"] == ["io.gantry.kernel-cache", "io.gantry.gpu-*", "io.gantry.mps"]


def test_pod_sandbox_runs_under_gantry_oci(node, gantry_pod):
    pod_id, _ = gantry_pod
    st = node.cri.PodSandboxStatus({"pod_sandbox_id": pod_id}).status
    assert st.state == node.api.SANDBOX_READY and st.runtime_handler == "gantry"
    info = json.loads(node.cri.PodSandboxStatus({"pod_sandbox_id": pod_id, "verbose": True})
                      .info["info"])
    pause = Path(f"/proc/{info['pid']}")
    # kubelet's pause asks for -998 (clamped to containerd's own where root cannot lower it)
    want = "-998" if has_cap_sys_resource() else (Path("/proc") / str(node.proc.pid) /
                                                    "oom_score_adj").read_text().strip()
    assert (pause / "oom_score_adj").read_text().strip() == want
    # the pause container's record is gantry-oci's (the handler's Root), not runc's
    assert (node.base / "gantry-root" / "k8s.io" / pod_id / "state.json").exists()
    assert not (node.base / "runc-root" / "k8s.io" / pod_id).exists()


def check_container_lifecycle(node, pod, name):
    """Create, start, status, exec, logs, stop (SIGTERM reaches the process), remove: what
    each handler's container shows, for the differential test."""
    cid = start_sleeper(node, pod, name)
    st = node.cri.ContainerStatus({"container_id": cid}).status
    assert st.state == node.api.CONTAINER_RUNNING, st
    assert exec_sync(node, cid, "sh", "-c", "echo out; echo err >&2; exit 7") == (7, "out\n",
                                                                                 "err\n")
    code, ident, _ = exec_sync(node, cid, "sh", "-c", "id; hostname; cat /proc/1/cmdline | "
                               "tr '\\0' ' '; grep -E '^(CapEff|NoNewPrivs|Seccomp):' "
                               "/proc/self/status; ls /dev")
    assert code == 0
    node.cri.StopContainer({"container_id": cid, "timeout": 20})
    st = node.cri.ContainerStatus({"container_id": cid}).status
    assert st.state == node.api.CONTAINER_EXITED and st.exit_code == 3, st
    log = Path(pod[1]["log_directory"]) / f"{name}.log"
    lines = log.read_text().splitlines()
    # the CRI log format: RFC 3339 time, stream, P(artial)/F(ull), the line
    cri_line = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+(Z|[+-]\d\d:\d\d) "
                          r"(stdout|stderr) [PF] (.*)$")
    assert all(cri_line.match(line) for line in lines), lines
    assert [cri_line.match(line).group(3) for line in lines] == ["started", "got TERM"]
    node.cri.RemoveContainer({"container_id": cid})
    assert cid not in [c.id for c in node.cri.ListContainers({}).containers]
    return ident


def test_container_lifecycle_gantry_as_runc(node, gantry_pod, image):
    got = check_container_lifecycle(node, gantry_pod, "life")
    runc_pod = run_pod(node, "runc-pod", "runc")
    try:
        assert node.cri.PodSandboxStatus({"pod_sandbox_id": runc_pod[0]}).status.state == \
            node.api.SANDBOX_READY
        want = check_container_lifecycle(node, runc_pod, "life")
    finally:
        remove_pod(node, runc_pod[0])
    assert got.replace("gantry-pod", "POD") == want.replace("runc-pod", "POD")


def pod_network_view(node, handler):
    """A pod with a network of its own (CNI: loopback and FAKE_IP_PLUGIN) under HANDLER: its
    container's network, UTS and IPC namespaces are the pause's (joined by path), not the
    host's; returns what the container sees (hostname, network interfaces). The pod's network
    namespace is gone once the pod is removed."""
    pod = run_pod(node, f"net-{handler}", handler, network="POD")
    try:
        info = json.loads(node.cri.PodSandboxStatus({"pod_sandbox_id": pod[0], "verbose": True})
                          .info["info"])
        pause = Path(f"/proc/{info['pid']}/ns")
        netns = next(n["path"] for n in info["runtimeSpec"]["linux"]["namespaces"]
                     if n["type"] == "network")
        assert Path(netns).exists()  # containerd 1.6's: /var/run/netns/cni-UUID
        cid = start_sleeper(node, pod, "c", network="POD")
        code, out, err = exec_sync(node, cid, "sh", "-c", "for n in net uts ipc; do readlink "
                                   "/proc/self/ns/$n; done; hostname; "
                                   "tail -n +3 /proc/net/dev | cut -d: -f1")
        assert code == 0, err
        net, uts, ipc, *rest = out.split()
        assert [net, uts, ipc] == [os.readlink(pause / n) for n in ("net", "uts", "ipc")]
        assert net != os.readlink("/proc/self/ns/net") and uts != os.readlink("/proc/self/ns/uts")
    finally:
        remove_pod(node, pod[0])
    assert not Path(netns).exists()
    return [r.replace(handler, "H") for r in rest]


def test_pod_network_and_uts_are_the_pauses_as_runc(node, image):
    if not os.path.exists(CNI_LOOPBACK):
        if IN_CI:
            pytest.fail(f"containernetworking-plugins ({CNI_LOOPBACK}) is required in CI")
        pytest.skip(f"{CNI_LOOPBACK} is missing (containernetworking-plugins)")
    got = pod_network_view(node, "gantry")
    assert got == pod_network_view(node, "runc") == ["net-H", "lo"]


def gpu_listing(node, cid):
    code, out, err = exec_sync(node, cid, "sh", "-c",
                               "ls /dev; ls /usr/lib/x86_64-linux-gnu 2>/dev/null; true")
    assert code == 0, err
    return out.split()


def gpu_access(node, cid):
    """{minor: "allowed" | "denied"}: the device cgroup's answer for each GPU of the node, by
    opening a node made with mknod in the container (CRI's containers may mknod; the cgroup
    decides what opens): EPERM is the cgroup's refusal; anything else (here ENXIO: the
    simulated host's major 195 has no driver) got through it."""
    out = {}
    for minor in (0, 1):
        _, _, err = exec_sync(node, cid, "sh", "-c", f"busybox mknod /tmp/gpu{minor} c 195 "
                              f"{minor}; cat /tmp/gpu{minor} </dev/null")
        assert "No such file" not in err and "mknod" not in err, err
        out[minor] = "denied" if "Operation not permitted" in err else "allowed"
    return out


def test_gpu_by_nvidia_visible_devices(node, gantry_pod):
    cid = start_sleeper(node, gantry_pod, "gpu-env",
                        env={"NVIDIA_VISIBLE_DEVICES": "1",
                             "NVIDIA_DRIVER_CAPABILITIES": "compute,utility"})
    try:
        got = gpu_listing(node, cid)
        assert "nvidia1" in got and "nvidia0" not in got and "nvidiactl" in got, got
        assert "libcuda.so.1" in got
        assert gpu_access(node, cid) == {0: "denied", 1: "allowed"}
    finally:
        remove(node, cid)


def test_gpu_by_cdi_annotation(node, gantry_pod):
    cid = start_sleeper(node, gantry_pod, "gpu-cdi",
                        annotations={"cdi.k8s.io/gpu": "nvidia.com/gpu=0"})
    try:
        got = gpu_listing(node, cid)
        assert "nvidia0" in got and "nvidia1" not in got and "libcuda.so.1" in got, got
        assert gpu_access(node, cid) == {0: "allowed", 1: "denied"}
    finally:
        remove(node, cid)


def test_cdi_devices_field_is_not_read_by_containerd_1_6(node, gantry_pod):
    """CRI's CDIDevices (what kubelet sends for a device plugin's CDI names) exists from
    containerd 1.7: 1.6 drops the field, so the container gets no GPU (docs/kubernetes.md)."""
    version = node.cri.Version({"version": "v1"}).runtime_version
    if not version.startswith("1.6."):
        pytest.skip(f"containerd {version} may read CDIDevices: this test is 1.6's")
    cid = start_sleeper(node, gantry_pod, "gpu-cdi-field",
                        CDI_devices=[{"name": "nvidia.com/gpu=1"}])
    try:
        got = gpu_listing(node, cid)
        assert not [d for d in got if d.startswith("nvidia")], got
        assert gpu_access(node, cid) == {0: "denied", 1: "denied"}
    finally:
        remove(node, cid)


def test_gpu_by_cdi_edits_containerd_applied(node, gantry_pod):
    """containerd 1.7.2+ with enable_cdi (2.x: by default) resolves CRI's CDIDevices and the
    cdi.k8s.io annotations itself and writes the CDI spec's edits into the OCI spec before it
    calls the runtime: gantry-oci gets a plain spec with the GPU's nodes, mounts and variables.
    Made here with 1.6 by sending nvidia.com/gpu=1's edits as CRI devices, mounts and envs,
    which containerd writes into the spec the same way (the spec's hooks have no CRI field):
    the GPU's node and the driver's library, the device cgroup letting only that GPU through."""
    edits, _ = cdi_edits_as_cri(node.base / "cdi" / "nvidia.yaml", "1")
    cid = start_sleeper(node, gantry_pod, "gpu-edits", devices=edits["devices"],
                        mounts=edits["mounts"],
                        env={e["key"]: e["value"] for e in edits["envs"]})
    try:
        got = gpu_listing(node, cid)
        assert "nvidia1" in got and "nvidia0" not in got, got
        assert any(f.startswith("libcuda.so.") for f in got), got
        assert gpu_access(node, cid) == {0: "denied", 1: "allowed"}
    finally:
        remove(node, cid)


def amd_access(node, cid, minors):
    """{render minor: "allowed" | "denied"}: as gpu_access, for /dev/dri's render nodes (226)."""
    out = {}
    for minor in minors:
        _, _, err = exec_sync(node, cid, "sh", "-c", f"busybox mknod /tmp/r{minor} c 226 "
                              f"{minor}; cat /tmp/r{minor} </dev/null")
        assert "No such file" not in err and "mknod" not in err, err
        out[minor] = "denied" if "Operation not permitted" in err else "allowed"
    return out


@pytest.mark.parametrize("index, ask", [
    (1, {"env": {"AMD_VISIBLE_DEVICES": "1"}}),
    (0, {"annotations": {"cdi.k8s.io/gpu": "amd.com/gpu=0"}}),
], ids=["amd-env", "amd-cdi-annotation"])
def test_amd_gpu_by_env_and_cdi_annotation(node, gantry_pod, index, ask):
    """AMD's device plugin's contracts on the simulated 8-GPU MI300X host: /dev/kfd and the
    GPU's render node, and a device cgroup rule for that GPU's render node only."""
    gpus = node.amd["gpus"]  # "render": "/dev/dri/renderD128"
    mine, other = (int(gpus[i]["render"].rsplit("renderD", 1)[1]) for i in (index, 1 - index))
    cid = start_sleeper(node, gantry_pod, f"amd-{index}", **ask)
    try:
        code, out, err = exec_sync(node, cid, "sh", "-c", "ls /dev /dev/dri")
        assert code == 0, err
        got = out.split()
        assert "kfd" in got and [d for d in got if d.startswith("renderD")] == \
            [f"renderD{mine}"], got
        assert not [d for d in got if d.startswith("nvidia")], got
        assert amd_access(node, cid, (mine, other)) == {mine: "allowed", other: "denied"}
    finally:
        remove(node, cid)


def test_gpu_share_from_the_pods_annotations(node, image):
    """A pod's io.gantry.* annotations (containerd passes them with pod_annotations) reach
    gantry oci for its containers and its sandbox: the sandbox starts as without them, and
    io.gantry.gpu-compute 25 on an MI300X (304 CUs) is ROCm's HSA_CU_MASK=0:0-75 in the
    container, the advisory share docs/gpu-sharing.md describes."""
    cfg = pod_config(node, "share-pod")
    cfg["annotations"] = {"io.gantry.gpu-compute": "25"}
    pod_id = node.cri.RunPodSandbox({"config": cfg, "runtime_handler": "gantry"}).pod_sandbox_id
    try:
        cid = start_sleeper(node, (pod_id, cfg), "share", env={"AMD_VISIBLE_DEVICES": "1"})
        try:
            code, out, err = exec_sync(node, cid, "sh", "-c",
                                       "tr '\\0' '\\n' </proc/1/environ | grep ^HSA_CU_MASK=")
            assert (code, out) == (0, "HSA_CU_MASK=0:0-75\n"), (out, err)
        finally:
            remove(node, cid)
    finally:
        remove_pod(node, pod_id)


@pytest.mark.parametrize("ask, named", [
    ({"env": {"NVIDIA_VISIBLE_DEVICES": "5"}}, ("NVIDIA_VISIBLE_DEVICES", 'unknown GPU "5"')),
    ({"annotations": {"cdi.k8s.io/gpu": "nvidia.com/gpu=9"}},
     ("unresolvable CDI device nvidia.com/gpu=9",)),
    ({"env": {"AMD_VISIBLE_DEVICES": "9"}}, ("AMD_VISIBLE_DEVICES", 'unknown AMD GPU "9"')),
], ids=["env", "cdi-annotation", "amd-env"])
def test_a_gpu_the_node_lacks_fails_at_create_naming_it(node, gantry_pod, ask, named):
    import grpc
    cid = create(node, gantry_pod, container_config(node, "gpu-missing", ["true"], **ask))
    try:
        # containerd's CreateContainer only records the container; the runtime's create runs
        # at StartContainer, and its error is the call's
        with pytest.raises(grpc.RpcError) as e:
            node.cri.StartContainer({"container_id": cid})
        assert all(n in e.value.details() for n in named), e.value.details()
    finally:
        node.cri.RemoveContainer({"container_id": cid})


def resources_view(node, handler):
    """A container with limits in a pod under HANDLER, resized as kubelet resizes it
    (UpdateContainerResources: containerd hands the runtime's `update` the container's whole
    linux.resources, its device rules included), then one that outgrows its memory limit:
    (its limits on the host before and after, the status's resources, the OOM-killed one's
    state, exit code and reason)."""
    ns = {"namespace_options": {"network": "NODE", "pid": "CONTAINER", "ipc": "POD"}}
    pod = run_pod(node, f"res-{handler}", handler)
    try:
        cid = create(node, pod, container_config(node, "res", ["sleep", "inf"], linux={
            "resources": {"memory_limit_in_bytes": 64 * MB, "cpu_quota": 20000,
                          "cpu_period": 100000}, "security_context": ns}))
        node.cri.StartContainer({"container_id": cid})
        pid = json.loads(node.cri.ContainerStatus({"container_id": cid, "verbose": True})
                         .info["info"])["pid"]
        before = limit(pid, "memory"), limit(pid, "cpu")
        node.cri.UpdateContainerResources({"container_id": cid, "linux": {
            "memory_limit_in_bytes": 96 * MB, "cpu_quota": 50000, "cpu_period": 100000}})
        after = limit(pid, "memory"), limit(pid, "cpu")
        res = node.cri.ContainerStatus({"container_id": cid}).status.resources.linux
        remove(node, cid)
        cid = create(node, pod, container_config(node, "oom", ["sh", "-c", "exec tail /dev/zero"],
                                                 linux={"resources": {"memory_limit_in_bytes":
                                                                      32 * MB},
                                                        "security_context": ns}))
        node.cri.StartContainer({"container_id": cid})
        deadline = time.monotonic() + 30  # containerd reports the exit by its task event
        while (st := node.cri.ContainerStatus({"container_id": cid}).status).state != \
                node.api.CONTAINER_EXITED and time.monotonic() < deadline:
            time.sleep(0.05)
        node.cri.RemoveContainer({"container_id": cid})
    finally:
        remove_pod(node, pod[0])
    return (before, after, (res.memory_limit_in_bytes, res.cpu_quota, res.cpu_period),
            (st.state, st.exit_code, st.reason))


def test_update_container_resources_and_oom_as_runc(node, image):
    """kubelet's resize reaches gantry-oci's `update` with the container's device rules (which
    it once refused: critest does not call UpdateContainerResources); an OOM kill is reported
    as containerd reports runc's."""
    got = resources_view(node, "gantry")
    assert got == resources_view(node, "runc")
    before, after, res, oom = got
    assert after[0] == str(96 * MB) and res == (96 * MB, 50000, 100000), got
    assert before[0] == str(64 * MB) and oom == (node.api.CONTAINER_EXITED, 137, "OOMKilled")


def pod_pid_view(node, handler):
    """A pod sharing its PID namespace (shareProcessNamespace: true) under HANDLER, a container
    in it: (PID 1's command line, every process's), as the container's exec sees them; the
    container stops on SIGTERM with its trap's status."""
    pod = run_pod(node, f"pid-{handler}", handler, pid="POD")
    try:
        cid = start_sleeper(node, pod, "joiner", pid="POD")
        # the container's sh forks its `sleep inf` after it starts: the exec waits (up to 10 s)
        # for that child to exist before it lists, else the list races the fork
        code, out, err = exec_sync(node, cid, "sh", "-c", "list() { for p in $*; do tr '\\0' ' ' "
                                   "<$p/cmdline 2>/dev/null; echo; done; }; i=0; "
                                   "until list /proc/[0-9]* | grep -qx 'sleep inf ' || "
                                   "[ $i -ge 100 ]; do i=$((i+1)); sleep 0.1; done; "
                                   "list /proc/1 /proc/[0-9]*")
        assert code == 0, err
        node.cri.StopContainer({"container_id": cid, "timeout": 20})
        st = node.cri.ContainerStatus({"container_id": cid}).status
        assert st.state == node.api.CONTAINER_EXITED and st.exit_code == 3, st
        node.cri.RemoveContainer({"container_id": cid})
    finally:
        remove_pod(node, pod[0])
    lines = [line.strip() for line in out.splitlines()]
    return lines[0], sorted(line for line in lines[1:] if line)


def test_containers_in_the_pods_pid_namespace_as_runc(node, image):
    """shareProcessNamespace: true (critest's pods): the container joins the pause's PID
    namespace, the pause is its PID 1, exec and stop work there, as under runc."""
    got = pod_pid_view(node, "gantry")
    assert got == pod_pid_view(node, "runc")
    pid1, everyone = got
    assert pid1 == "/bin/sleep inf" and len(everyone) == 4, got  # the pause, sh, sleep, exec


def run_to_exit(node, pod, name, script, annotations=None):
    """A container running SCRIPT to its end, then removed: its log's lines."""
    cid = create(node, pod, container_config(node, name, ["sh", "-c", script],
                                             annotations=annotations))
    node.cri.StartContainer({"container_id": cid})
    deadline = time.monotonic() + 30
    while node.cri.ContainerStatus({"container_id": cid}).status.state != \
            node.api.CONTAINER_EXITED:
        assert time.monotonic() < deadline, f"{name} still runs"
        time.sleep(0.05)
    node.cri.RemoveContainer({"container_id": cid})
    log = Path(pod[1]["log_directory"]) / f"{name}.log"
    return [line.split(" ", 3)[3] for line in log.read_text().splitlines()]


def test_kernel_cache_by_a_pods_annotation(node, gantry_pod):
    """io.gantry.kernel-cache=auto on a pod (containerd passes it: `gantry k8s install` lists it
    in the handler's pod_annotations) or on a container (container_annotations) gets the key's
    cache; containerd 1.6 names the image by its tag, so the key is its layers on this node. The
    first container's additions are published once it has exited (before containerd's delete
    returns): the next container of the image finds them."""
    from cri_node import pod_config
    cfg = pod_config(node, "kc-pod")
    cfg["annotations"] = {"io.gantry.kernel-cache": "auto"}
    pod_id = node.cri.RunPodSandbox({"config": cfg, "runtime_handler": "gantry"}).pod_sandbox_id
    try:
        first = run_to_exit(node, (pod_id, cfg), "kc1",
                            'echo "$CCACHE_DIR"; echo compiled > "$CCACHE_DIR/kernel"')
    finally:
        remove_pod(node, pod_id)
    assert first == ["/var/cache/gantry/kernels/ccache"], first
    second = run_to_exit(node, gantry_pod, "kc2", 'cat "$CCACHE_DIR/kernel"',
                         annotations={"io.gantry.kernel-cache": "auto"})
    assert second == ["compiled"]
    # one key, the image's layers (the pause container's sandbox got none)
    caches = node.base / "store" / "kernel-caches"
    facts = [json.loads((k / "facts.json").read_text()) for k in caches.iterdir() if k.is_dir()]
    assert len(facts) == 1 and facts[0]["image"].startswith("rootfs:sha256:"), facts
    # without the annotation: no cache, nothing pointed
    assert run_to_exit(node, gantry_pod, "kc3", 'echo "[$CCACHE_DIR]"') == ["[]"]


def test_nothing_is_left_after_the_pods_are_removed(node, gantry_pod):
    remove_pod(node, gantry_pod[0])
    assert list(node.cri.ListPodSandbox({}).items) == []
    assert list(node.cri.ListContainers({}).containers) == []
    # the shims end once their pod's sandbox task is deleted: wait for their exit
    but = (node.proc.pid, node.reg.proc.pid)
    pids = our_processes(node.base, but)
    fds = []
    for p in pids:
        try:
            fds.append(os.pidfd_open(p))
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + 10
    for fd in fds:
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        os.close(fd)
        assert ready, f"a process of the pods still runs: {our_processes(node.base, but)}"
    assert our_mounts(node.base) == []
    # each container's cgroup is gone; what is left is the pods' parents (/BASE/POD), which
    # kubelet owns and runc leaves as well
    for top in Path("/sys/fs/cgroup").glob(f"*/{node.base.name}"):
        assert [p for p in top.glob("*/*") if p.is_dir()] == [], top
    for root in ("gantry-root", "runc-root"):
        assert list((node.base / root / "k8s.io").iterdir()) == []
