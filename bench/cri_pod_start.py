#!/usr/bin/python3
"""Pod start through CRI: RunPodSandbox -> CreateContainer -> StartContainer, until the
container is RUNNING, with containerd's `gantry` handler (gantry-oci, added by `gantry k8s
install`) and its `runc` handler in one containerd 1.6 (tests/e2e/cri_node.py's node: its own
config, root, socket, the test registry, the simulated 2-GPU NVIDIA host), alternated rounds;
then the same with one GPU: gantry by CDI annotation (gantry-oci applies the CDI spec's edits),
runc with the same GPU's CDI edits applied by containerd (containerd 1.6 applies no CDI itself:
the bench writes the spec's device nodes, mounts and environment for nvidia.com/gpu=0 into the
CRI request as CRI `devices`, `mounts` and `envs`, which containerd puts into the OCI spec as
containerd 1.7's CDI support would; the spec's createContainer hooks, gantry's
create-symlinks, update-ldcache and disable-device-node-modification, cannot go through CRI:
runc's row runs without them). Medians, spread
(min..max), and the CPU time of containerd, its shims and the runtime per pod start (a cpuacct
cgroup of the bench's that containerd is moved into: the shims and runtimes it starts inherit
it; the containers' own processes are in their pods' cgroups, not counted). As root; not part of make test.

  sudo bench/cri_pod_start.py [--rounds 15]
"""
import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO / "tests"), str(REPO / "tests" / "e2e"),
                str(REPO / "tests" / "fixtures" / "gpuhost")]

import cri_node  # noqa: E402
import gpuhost  # noqa: E402


class _Factory:
    """pytest's tmp_path_factory, as cri_node's node wants it."""
    def __init__(self):
        self.root = Path(tempfile.mkdtemp(prefix="gcri-bench-"))

    def mktemp(self, name):
        return Path(tempfile.mkdtemp(prefix=name, dir=self.root))


class NodeCpu:
    """CPU seconds used in a cgroup holding containerd (v1 cpuacct, else v2 cpu.stat)."""
    def __init__(self, pid):
        v1 = Path("/sys/fs/cgroup/cpuacct")
        self.dir = (v1 if v1.is_dir() else Path("/sys/fs/cgroup")) / f"gcri-bench-{os.getpid()}"
        self.dir.mkdir()
        (self.dir / "cgroup.procs").write_text(str(pid))

    def seconds(self):
        if (self.dir / "cpuacct.usage").exists():
            return int((self.dir / "cpuacct.usage").read_text()) / 1e9
        for line in (self.dir / "cpu.stat").read_text().splitlines():
            if line.startswith("usage_usec "):
                return int(line.split()[1]) / 1e6
        raise RuntimeError(f"{self.dir}: no CPU usage")

    def remove(self):
        for pid in (self.dir / "cgroup.procs").read_text().split():  # back to the root
            (self.dir.parent / "cgroup.procs").write_text(pid)
        self.dir.rmdir()


cdi_edits_as_cri = cri_node.cdi_edits_as_cri  # shared with test_cri.py


def gpu_seen(node, handler, annotations=None, edits=None):
    """What a GPU container of HANDLER sees: the nvidia nodes in /dev and libcuda.so.1."""
    pod = cri_node.run_pod(node, f"check-{handler}", handler)
    cfg = cri_node.container_config(node, f"check-{handler}", ["sleep", "inf"],
                                    annotations=annotations)
    for k, v in (edits or {}).items():
        cfg[k] = cfg.get(k, []) + v
    cid = cri_node.create(node, pod, cfg)
    node.cri.StartContainer({"container_id": cid})
    _, out, err = cri_node.exec_sync(node, cid, "sh", "-c", "ls /dev | grep nvidia; "
                                     "ls /usr/lib/x86_64-linux-gnu | grep -x libcuda.so.1")
    cri_node.remove(node, cid)
    cri_node.remove_pod(node, pod[0])
    return out.split()


def pod_start(node, cpu, name, handler, annotations=None, edits=None):
    """Seconds and CPU seconds to a RUNNING container; the pod removed afterwards (untimed).
    EDITS: CRI ContainerConfig fields added (the GPU for runc)."""
    c0, t0 = cpu.seconds(), time.perf_counter()
    pod = cri_node.run_pod(node, name, handler)
    cfg = cri_node.container_config(node, name, ["sleep", "inf"], annotations=annotations)
    for k, v in (edits or {}).items():
        cfg[k] = cfg.get(k, []) + v
    cid = cri_node.create(node, pod, cfg)
    node.cri.StartContainer({"container_id": cid})
    st = node.cri.ContainerStatus({"container_id": cid}).status
    t1, c1 = time.perf_counter(), cpu.seconds()
    assert st.state == node.api.CONTAINER_RUNNING, st
    cri_node.remove(node, cid)
    cri_node.remove_pod(node, pod[0])
    return t1 - t0, c1 - c0


def summary(xs):
    return (f"median {statistics.median(xs) * 1000:7.1f} ms  "
            f"(min {min(xs) * 1000:.1f}, max {max(xs) * 1000:.1f})")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=15)
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("cri_pod_start.py: containerd's CRI runs pods as root: run it as root")
    fac = _Factory()
    n = cri_node.Node()
    cpu = None
    try:
        cri_node._start_node(n, fac, gpuhost)
        cpu = NodeCpu(n.proc.pid)
        n.cri.PullImage({"image": {"image": f"{n.reg.addr}/{cri_node.BUSYBOX}"}})
        gpu = {"cdi.k8s.io/gpu": "nvidia.com/gpu=0"}
        edits, hooks = cdi_edits_as_cri(n.base / "cdi" / "nvidia.yaml", "0")
        print(f"runc+gpu through CRI: {len(edits['devices'])} device nodes, "
              f"{len(edits['mounts'])} mounts, {len(edits['envs'])} variables; "
              f"not applied (no CRI field): {len(hooks)} hooks")
        for handler, ann, ed in (("runc", None, edits), ("gantry", gpu, None)):
            print(f"  {handler}+gpu sees: {' '.join(gpu_seen(n, handler, ann, ed))}")
        kinds = [("runc", "runc", None, None), ("gantry", "gantry", None, None),
                 ("runc+gpu", "runc", None, edits), ("gantry+gpu", "gantry", gpu, None)]
        for kind, handler, ann, ed in kinds:  # warm-up: image unpacked, caches filled
            pod_start(n, cpu, f"warm-{kind.replace('+', '-')}", handler, ann, ed)
        wall = {k[0]: [] for k in kinds}
        cpus = {k[0]: [] for k in kinds}
        for r in range(args.rounds):
            order = kinds if r % 2 == 0 else list(reversed(kinds))
            for kind, handler, ann, ed in order:
                w, c = pod_start(n, cpu, f"p{r}-{kind.replace('+', '-')}", handler, ann, ed)
                wall[kind].append(w)
                cpus[kind].append(c)
        print(f"pod start to container RUNNING through CRI, containerd "
              f"{n.cri.Version({'version': 'v1'}).runtime_version}, {args.rounds} rounds "
              f"alternated, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}")
        for kind in wall:
            print(f"  {kind:11s} wall {summary(wall[kind])}   CPU {summary(cpus[kind])}")
        med = {k: statistics.median(v) for k, v in wall.items()}
        print(f"  ratio gantry/runc {med['gantry'] / med['runc']:.2f}x, "
              f"gantry+gpu/runc+gpu {med['gantry+gpu'] / med['runc+gpu']:.2f}x, "
              f"gantry+gpu/runc {med['gantry+gpu'] / med['runc']:.2f}x")
    finally:
        import shutil
        cri_node._teardown(n)
        shutil.rmtree(fac.root, ignore_errors=True)
        if cpu is not None:
            cpu.remove()


if __name__ == "__main__":
    main()
