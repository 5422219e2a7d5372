"""GPU limits and placement (docs/gpu-sharing.md): --gpu-numa auto, --gpu-memory,
--gpu-memory-reservation, --gpu-compute and --mps on one simulated NVIDIA host with two GPUs
(tests/fixtures/gpuhost), a fake PCI sysfs under --sys-root that puts them on NUMA nodes 0 and 1,
a fake cgroup v2 tree whose dmem.capacity lists one GPU's region ($GANTRY_CGROUP_ROOT, the
override the cgroup code writes like a real tree), and a fake MPS control daemon (a unix socket
bound at PIPE_DIR/control). What is checked is what the container sees (its
/proc/self/status, environment, mounts and /dev/shm) or what gantry wrote to the container's
cgroup, and the refusals' words. As root: the simulated host's device nodes need root."""
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from conftest import REPO, Gantry, mkimage
from test_engine_api import UnixHTTP, start_service

GPUHOST = REPO / "tests" / "fixtures" / "gpuhost" / "gpuhost.py"
GPU0, GPU1 = "0000:07:00.0", "0000:0f:00.0"  # the simulated host's PCI addresses (DGX's)


class Host:
    pass


@pytest.fixture(scope="module")
def host(tmp_path_factory, gantry_bin):
    if os.geteuid() != 0:
        pytest.skip("the simulated host's device nodes need root to be made")
    if os.cpu_count() < 2:
        pytest.skip("needs two CPUs to pin one")
    base = tmp_path_factory.mktemp("gpushare")
    h = Host()
    out = base / "gpuhost"
    subprocess.run([sys.executable, str(GPUHOST), "build", "--gpus", "2", str(out)], check=True,
                   capture_output=True)
    h.roots = ["--driver-root", str(out / "driver"), "--dev-root", str(out / "dev"),
               "--sys-root", str(base / "sysroot")]
    # GPU 0 on node 0 next to CPU 0, GPU 1 on node 1 next to CPU 1
    for bdf, node, cpus in ((GPU0, 0, "0"), (GPU1, 1, "1")):
        d = base / "sysroot/sys/bus/pci/devices" / bdf
        d.mkdir(parents=True)
        (d / "numa_node").write_text(f"{node}\n")
        (d / "local_cpulist").write_text(f"{cpus}\n")
    # the server's /dev/shm, under the dev root
    h.shm = out / "dev" / "dev" / "shm"
    h.shm.mkdir(parents=True, exist_ok=True)
    (h.shm / "mps-marker").write_text("shared\n")
    # a cgroup v2 tree with dmem, whose capacity lists GPU 0 only
    h.cg = base / "cgroup"
    h.cg.mkdir()
    (h.cg / "cgroup.controllers").write_text("cpuset cpu memory pids dmem\n")
    (h.cg / "cgroup.subtree_control").write_text("")
    (h.cg / "cgroup.procs").write_text("")
    (h.cg / "dmem.capacity").write_text(f"nvidia/{GPU0}/vidmem 85899345920\n")
    # an MPS control daemon's pipe and log directories
    h.pipe = base / "mps-pipe"
    h.pipe.mkdir()
    h.log = base / "mps-log"
    h.log.mkdir()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(str(h.pipe / "control"))
    h.g = Gantry(base / "store")
    archive = base / "bb.tar"
    mkimage.write_docker_archive(archive, [(mkimage.busybox_image(), ["sample:latest"])])
    h.g.run("load", archive)
    yield h
    sock.close()


def run(h, *args, env=None, check=True):
    g = Gantry(h.g.root, env=env) if env else h.g
    return g.run("run", "--rm", *h.roots, *args, check=check)


STATUS = "grep -E '^(Cpus|Mems)_allowed_list' /proc/self/status"


def allowed(out):
    return dict(line.split(":\t") for line in out.splitlines() if "_allowed_list" in line)


def test_gpu_numa_pins_cpus_and_memory_to_the_gpus_nodes(host):
    # GPU 0: node 0 and CPU 0, seen inside
    r = run(host, "--gpus", "device=0", "--gpu-numa", "auto", "sample:latest", "sh", "-c", STATUS)
    assert allowed(r.out) == {"Cpus_allowed_list": "0", "Mems_allowed_list": "0"}, r
    # both GPUs: the CPUs of both nodes, memory on the online node, and a warning that they span
    r = run(host, "--gpus", "all", "--gpu-numa", "auto", "sample:latest", "sh", "-c", STATUS)
    assert allowed(r.out)["Cpus_allowed_list"] == "0-1", r
    assert "span NUMA nodes 0-1" in r.err, r
    # GPU 1's node is not online on this machine: nothing left of its memory nodes, refused
    r = run(host, "--gpus", "device=1", "--gpu-numa", "auto", "sample:latest", "true",
            check=False)
    assert r.code == 125 and "NUMA nodes of GPU 0000:0f:00.0 (1)" in r.err, r
    # the cpuset is gantry's to choose, or the user's: not both
    r = run(host, "--gpus", "device=0", "--gpu-numa", "auto", "--cpuset-cpus", "0", "sample:latest",
            "true", check=False)
    assert r.code == 2 and "give one of them" in r.err, r
    # CPUs pinned by hand far from the GPU: said, with the way to fix it
    r = run(host, "--gpus", "device=0", "--cpuset-cpus", "1", "sample:latest", "sh", "-c", STATUS)
    assert allowed(r.out)["Cpus_allowed_list"] == "1", r
    assert "holds none of the CPUs local to the GPUs (0)" in r.err, r
    # and without a GPU there is nothing to be near
    r = run(host, "--gpu-numa", "auto", "sample:latest", "true", check=False)
    assert r.code == 2 and "--gpus" in r.err, r


def test_gpu_memory_through_dmem(host):
    env = {"GANTRY_CGROUP_ROOT": str(host.cg)}
    g = Gantry(host.g.root, env=env)
    name = "gpushare-dmem"
    g.run("run", "-d", "--name", name, *host.roots, "--gpus", "device=0", "--gpu-memory", "8g",
          "--gpu-memory-reservation", "2g", "sample:latest", "sleep", "300")
    try:
        dirs = [d for d in host.cg.iterdir() if d.is_dir() and d.name.startswith("gantry-")]
        assert len(dirs) == 1, list(host.cg.iterdir())
        assert (dirs[0] / "dmem.max").read_text() == f"nvidia/{GPU0}/vidmem 8589934592\n"
        assert (dirs[0] / "dmem.min").read_text() == f"nvidia/{GPU0}/vidmem 2147483648\n"
        assert "dmem" in (host.cg / "cgroup.subtree_control").read_text().split()
        # inspect: each region's limit, reservation and usage (the kernel's dmem.current)
        (dirs[0] / "dmem.current").write_text(f"nvidia/{GPU0}/vidmem 1048576\n")
        shown = g.run("inspect", "--format", "{{json .GantryGpuMemory}}", name).out
        assert json.loads(shown) == [{"Region": f"nvidia/{GPU0}/vidmem", "Limit": 8589934592,
                                      "Reservation": 2147483648, "Usage": 1048576}], shown
        # stats: usage against the limit, a column of the default table too
        r = g.run("stats", "--no-stream", "--format", "{{.GpuMemUsage}}", name)
        assert r.out == "1MiB / 8GiB\n", r
        table = g.run("stats", "--no-stream", name).out.splitlines()
        assert table[0].endswith("GPU MEM USAGE / LIMIT") and table[1].endswith("1MiB / 8GiB")
        # and the Engine API's stats, in a field of gantry's
        sock = host.cg.parent / "api" / "api.sock"
        p = start_service(g, sock, "--time", "0")
        try:
            c = UnixHTTP(str(sock))
            c.request("GET", f"/containers/{name}/stats?stream=false")
            stats = json.loads(c.getresponse().read())
            c.close()
        finally:
            p.terminate()
            p.wait(timeout=10)
        assert stats["gantry_gpu_memory"] == [
            {"region": f"nvidia/{GPU0}/vidmem", "usage": 1048576, "limit": 8589934592,
             "reservation": 2147483648}], stats
    finally:
        g.run("rm", "-f", name)
    # GPU 1 has no region, and no MPS daemon is at the default place: refused, naming both
    r = run(host, "--gpus", "all", "--gpu-memory", "8g", "sample:latest", "true", env=env,
            check=False)
    assert r.code == 125, r
    assert f"lists no region of GPU {GPU1}" in r.err and "no MPS control daemon" in r.err, r
    # a reservation has no MPS equivalent
    r = run(host, "--gpus", "device=1", "--gpu-memory-reservation", "1g", "sample:latest", "true",
            env=env, check=False)
    assert r.code == 125 and "needs the cgroup dmem controller" in r.err, r
    # a cgroup tree without the dmem controller: the cgroup code says so
    nodmem = host.cg.parent / "cgroup-nodmem"
    nodmem.mkdir(exist_ok=True)
    for f, text in (("cgroup.controllers", "cpu memory pids\n"), ("cgroup.subtree_control", ""),
                    ("cgroup.procs", ""), ("dmem.capacity", f"nvidia/{GPU0}/vidmem 1073741824\n")):
        (nodmem / f).write_text(text)
    r = run(host, "--gpus", "device=0", "--gpu-memory", "1g", "sample:latest", "true",
            env={"GANTRY_CGROUP_ROOT": str(nodmem)}, check=False)
    assert r.code == 125 and "--gpu-memory" in r.err and "dmem" in r.err, r


def test_mps_client(host):
    env = {"CUDA_MPS_LOG_DIRECTORY": str(host.log)}
    show = ("env | grep ^CUDA_MPS | sort; ls " + str(host.pipe) + "; cat /dev/shm/mps-marker; "
            "grep -c ' " + str(host.log) + " ' /proc/self/mounts")
    # no dmem on this kernel: --gpu-memory is the MPS client's limit, in the container's numbering
    r = run(host, "--gpus", "all", f"--mps={host.pipe}", "--gpu-memory", "0=1g,1=512m",
            "--gpu-compute", "25", "sample:latest", "sh", "-c", show, env=env)
    lines = r.out.splitlines()
    assert f"CUDA_MPS_PIPE_DIRECTORY={host.pipe}" in lines, r
    assert f"CUDA_MPS_LOG_DIRECTORY={host.log}" in lines, r
    assert "CUDA_MPS_PINNED_DEVICE_MEM_LIMIT=0=1024M,1=512M" in lines, r
    assert "CUDA_MPS_ACTIVE_THREAD_PERCENTAGE=25" in lines, r
    assert "control" in lines and "shared" in lines, r  # the pipe directory, the server's shm
    assert lines[-1] == "1", r  # the log directory is mounted
    # CUDA_MPS_PIPE_DIRECTORY of the caller is where --mps looks
    r = run(host, "--gpus", "device=0", "--mps", "sample:latest", "sh", "-c", "ls $CUDA_MPS_PIPE_DIRECTORY",
            env={"CUDA_MPS_PIPE_DIRECTORY": str(host.pipe)})
    assert r.out.split() == ["control"], r
    # no daemon there: refused, naming the place
    r = run(host, "--gpus", "device=0", "--gpu-compute", "50", "-e",
            f"CUDA_MPS_PIPE_DIRECTORY={host.log}", "sample:latest", "true", check=False)
    assert r.code == 125 and f"no MPS control daemon at {host.log}" in r.err, r
    # a limit without GPUs
    r = run(host, "--gpu-memory", "1g", "sample:latest", "true", check=False)
    assert r.code == 2 and "gets none" in r.err, r


def test_a_created_container_starts_with_the_placement_create_chose(host):
    name = "gpushare-created"
    host.g.run("create", "--name", name, *host.roots, "--gpus", "device=0", "--gpu-numa", "auto",
               "sample:latest", "sh", "-c", STATUS)
    try:
        r = host.g.run("start", "-a", name)
        assert allowed(r.out) == {"Cpus_allowed_list": "0", "Mems_allowed_list": "0"}, r
    finally:
        host.g.run("rm", "-f", name)


def simulated(vendor, out):
    """An AMD (rx7900, amdgpu) or Intel (Arc on xe) host: its --*-root flags and GPU 0's
    dmem region as its driver names it."""
    if vendor == "intel":
        sys.path.insert(0, str(REPO / "tests" / "fixtures" / "intelhost"))
        import intelhost as ih
        bdf = ih.build(out, "arc-xe", devices="nodes")["gpus"][0]["bdf"]
        region = f"drm/{bdf}/vram0"
    else:
        sys.path.insert(0, str(REPO / "tests" / "fixtures" / "amdhost"))
        import amdhost as ah
        ah.build(out, "rx7900", devices="nodes")
        gpu0 = min(ah.bdf(g["bus"]) for g in ah.shape_desc("rx7900")["gpus"])  # PCI order
        region = f"drm/{gpu0}/vram"
    return ["--sys-root", out / "sys", "--dev-root", out / "dev", "--driver-root", out / "none",
            "--gpu-vendor", vendor, "--gpus", "device=0"], region


@pytest.mark.parametrize("vendor", ["amd", "intel"])
def test_gpu_memory_through_the_drm_drivers_dmem_and_no_compute_share(host, tmp_path, vendor):
    roots, region = simulated(vendor, tmp_path / vendor)
    cg = tmp_path / "cgroup"
    cg.mkdir()
    for f, text in (("cgroup.controllers", "cpu memory pids dmem\n"),
                    ("cgroup.subtree_control", ""), ("cgroup.procs", ""),
                    ("dmem.capacity", f"{region} 8573157376\n")):
        (cg / f).write_text(text)
    g = Gantry(host.g.root, env={"GANTRY_CGROUP_ROOT": str(cg)})
    name = "gpushare-" + vendor
    g.run("run", "-d", "--name", name, *roots, "--gpu-memory", "4g", "sample:latest",
          "sleep", "300")
    try:
        dirs = [d for d in cg.iterdir() if d.is_dir() and d.name.startswith("gantry-")]
        assert len(dirs) == 1 and (dirs[0] / "dmem.max").read_text() == \
            f"{region} 4294967296\n", list(cg.iterdir())
    finally:
        g.run("rm", "-f", name)
    # a compute share: AMD's is ROCm's CU mask, said to be advisory (the rx7900xtx's 96 CUs,
    # half of them); Intel's GPUs have none
    r = g.run("run", "--rm", *roots, "--gpu-compute", "50", "sample:latest", "sh", "-c",
              "echo $HSA_CU_MASK", check=False)
    if vendor == "amd":
        assert r.code == 0 and r.out == "0:0-47\n", r
        assert "--gpu-compute 50 on AMD GPUs is advisory: HSA_CU_MASK=0:0-47" in r.err, r
        assert "the kernel enforces no share" in r.err, r
    else:
        assert r.code == 125 and "intel's GPUs have no sharing daemon" in r.err, r
    # no dmem region: refused, naming both ways
    (cg / "dmem.capacity").write_text("")
    r = g.run("run", "--rm", *roots, "--gpu-memory", "4g", "sample:latest", "true", check=False)
    assert r.code == 125 and "lists no device memory region" in r.err, r
    assert "no sharing daemon" in r.err, r


def test_rootless_gpu_memory_through_a_delegated_dmem_tree(rootless):
    """As nobody: the Intel host's nodes opened to everyone, and a cgroup tree it owns (a
    delegated one) whose dmem.capacity lists the GPU's region."""
    if rootless.user is None:
        pytest.skip("needs root to act as nobody")
    sys.path.insert(0, str(REPO / "tests" / "fixtures" / "intelhost"))
    import intelhost as ih
    base = rootless.base
    out = base / "arc"
    bdf = ih.build(out, "arc-xe", devices="nodes")["gpus"][0]["bdf"]
    for node in (out / "dev" / "dev" / "dri").iterdir():
        if node.is_char_device():
            node.chmod(0o666)
    cg = base / "cgroup"
    cg.mkdir()
    for f, text in (("cgroup.controllers", "cpu memory pids dmem\n"),
                    ("cgroup.subtree_control", ""), ("cgroup.procs", ""),
                    ("dmem.capacity", f"drm/{bdf}/vram0 8573157376\n")):
        (cg / f).write_text(text)
    subprocess.run(["chown", "-R", f"{rootless.user.pw_uid}:{rootless.user.pw_gid}", str(cg)],
                   check=True)
    archive = base / "bb.tar"
    mkimage.write_docker_archive(archive, [(mkimage.busybox_image(), ["sample:latest"])])
    os.chmod(archive, 0o644)
    rootless.run("load", archive)
    g = Gantry(rootless.root, user=rootless.user, binary=rootless.bin,
               env={"GANTRY_CGROUP_ROOT": str(cg)})
    roots = ["--sys-root", out / "sys", "--dev-root", out / "dev", "--driver-root", out / "none",
             "--gpu-vendor", "intel", "--gpus", "device=0"]
    g.run("run", "-d", "--name", "gpushare-rootless", *roots, "--gpu-memory", "2g",
          "sample:latest", "sleep", "300")
    try:
        dirs = [d for d in cg.iterdir() if d.is_dir() and d.name.startswith("gantry-")]
        assert len(dirs) == 1 and (dirs[0] / "dmem.max").read_text() == \
            f"drm/{bdf}/vram0 2147483648\n", list(cg.iterdir())
        assert dirs[0].stat().st_uid == rootless.user.pw_uid
    finally:
        g.run("rm", "-f", "gpushare-rootless")


def oci_bundle(h, tmp_path, script, annotations, env=()):
    """A bundle of the sample asking for GPU 0 (NVIDIA's environment contract) with ANNOTATIONS,
    and `gantry oci` (gantry under the name gantry-oci) to run it."""
    b = tmp_path / "bundle"
    h.g.run("bundle", "sample:latest", b)
    cfg = json.loads((b / "config.json").read_text())
    cfg["process"]["args"] = ["sh", "-c", script]
    cfg["process"]["terminal"] = False
    cfg["process"]["env"] += ["NVIDIA_VISIBLE_DEVICES=0", *env]
    cfg["annotations"] = annotations
    (b / "config.json").write_text(json.dumps(cfg))
    link = tmp_path / "gantry-oci"
    link.symlink_to(h.g.bin)
    return b, link


def oci_env(h, **extra):
    roots = dict(zip(h.roots[::2], h.roots[1::2]))
    return dict(os.environ, GANTRY_DRIVER_ROOT=roots["--driver-root"],
                GANTRY_DEV_ROOT=roots["--dev-root"], GANTRY_SYS_ROOT=roots["--sys-root"],
                FAKE_DEVICE_ROOT=roots["--dev-root"], **extra)


def oci(link, state, *args, env):
    """`gantry-oci --root STATE ARGS`, its output through files (a created container keeps the
    runtime's stdio, as runc's)."""
    out, err = state.parent / "oci.out", state.parent / "oci.err"
    with open(out, "w") as o, open(err, "w") as e:
        p = subprocess.run([str(link), "--root", str(state), *map(str, args)], env=env,
                           stdin=subprocess.DEVNULL, stdout=o, stderr=e, timeout=60)
    return subprocess.CompletedProcess(p.args, p.returncode, out.read_text(), err.read_text())


def test_the_cri_path_takes_the_same_limits_as_annotations(host, tmp_path):
    """`gantry oci` (what containerd's shim runs for a Kubernetes pod) reads the share from the
    bundle's io.gantry.* annotations and applies it through run's code: the cpuset next to the
    GPU in the container's real cgroup, the MPS client, dmem in the (fake) cgroup v2 tree."""
    state = tmp_path / "state"
    b, oci_bin = oci_bundle(host, tmp_path, STATUS + "; env | grep ^CUDA_MPS | sort; "
                            "cat /dev/shm/mps-marker", {
                                "io.gantry.gpu-numa": "auto", "io.gantry.mps": str(host.pipe),
                                "io.gantry.gpu-compute": "25", "io.gantry.gpu-memory": "1g"})
    r = oci(oci_bin, state, "run", "--bundle", b, "c1", env=oci_env(host))
    assert r.returncode == 0, r
    lines = r.stdout.splitlines()
    assert allowed(r.stdout) == {"Cpus_allowed_list": "0", "Mems_allowed_list": "0"}, r
    assert "CUDA_MPS_PINNED_DEVICE_MEM_LIMIT=0=1024M" in lines, r
    assert "CUDA_MPS_ACTIVE_THREAD_PERCENTAGE=25" in lines and "shared" in lines, r
    oci(oci_bin, state, "delete", "c1", env=oci_env(host))
    # where the host lists the GPU's dmem region: dmem.max and dmem.min in the container's cgroup
    cfg = json.loads((b / "config.json").read_text())
    cfg["annotations"] = {"io.gantry.gpu-memory": "8g", "io.gantry.gpu-memory-reservation": "2g"}
    cfg["process"]["args"] = ["true"]
    (b / "config.json").write_text(json.dumps(cfg))
    env = oci_env(host, GANTRY_CGROUP_ROOT=str(host.cg))
    r = oci(oci_bin, state, "create", "--bundle", b, "c2", env=env)
    assert r.returncode == 0, r
    try:
        cg = host.cg / "c2"
        assert (cg / "dmem.max").read_text() == f"nvidia/{GPU0}/vidmem 8589934592\n"
        assert (cg / "dmem.min").read_text() == f"nvidia/{GPU0}/vidmem 2147483648\n"
        assert "dmem" in (host.cg / "cgroup.subtree_control").read_text().split()
    finally:
        oci(oci_bin, state, "delete", "--force", "c2", env=env)
    assert not (host.cg / "c2").exists()
    # a pod's sandbox (its pause container) gets a pod's annotations too: they are not its
    cfg["annotations"] = {"io.gantry.gpu-memory": "8g",
                          "io.kubernetes.cri.container-type": "sandbox"}
    cfg["process"]["env"].remove("NVIDIA_VISIBLE_DEVICES=0")
    (b / "config.json").write_text(json.dumps(cfg))
    r = oci(oci_bin, state, "create", "--bundle", b, "pause", env=oci_env(host))
    assert r.returncode == 0, r
    oci(oci_bin, state, "delete", "--force", "pause", env=oci_env(host))
    cfg["process"]["env"].append("NVIDIA_VISIBLE_DEVICES=0")
    # where the host lacks the mechanism, the create fails naming the annotation
    for annotations, words in (
            ({"io.gantry.gpu-memory-reservation": "1g"},
             "io.gantry.gpu-memory-reservation needs the cgroup dmem controller"),
            ({"io.gantry.gpu-compute": "50"}, "io.gantry.gpu-compute: no MPS control daemon at"),
            ({"io.gantry.gpu-numa": "near"}, 'unknown io.gantry.gpu-numa "near"')):
        cfg["annotations"] = annotations
        (b / "config.json").write_text(json.dumps(cfg))
        r = oci(oci_bin, state, "create", "--bundle", b, "c3", env=oci_env(host))
        assert r.returncode == 1 and words in r.stderr, (annotations, r)
        assert not (state / "c3").exists()


def test_cpusets_are_checked_against_the_callers_cgroup(host, tmp_path):
    """A cgroup whose cpuset allows CPU 0 and node 0 only (a fake tree's
    cpuset.cpus.effective): --cpuset-cpus/--cpuset-mems beyond it are refused naming the file,
    and --gpu-numa auto cannot pin next to GPU 1 (CPU 1)."""
    cg = tmp_path / "cgroup"
    cg.mkdir()
    for f, text in (("cgroup.controllers", "cpuset cpu memory pids\n"),
                    ("cgroup.subtree_control", ""), ("cgroup.procs", ""),
                    ("cpuset.cpus.effective", "0\n"), ("cpuset.mems.effective", "0\n")):
        (cg / f).write_text(text)
    env = {"GANTRY_CGROUP_ROOT": str(cg)}
    r = run(host, "--cpuset-cpus", "0-1", "sample:latest", "true", env=env, check=False)
    assert r.code == 2, r
    assert (f"--cpuset-cpus: CPU 1 is not allowed to this process's cgroup "
            f"({cg}/cpuset.cpus.effective: 0)") in r.err, r
    r = run(host, "--cpuset-mems", "1", "sample:latest", "true", env=env, check=False)
    assert r.code == 2 and "memory node 1 is not allowed" in r.err, r
    r = run(host, "--gpus", "device=1", "--gpu-numa", "auto", "sample:latest", "true", env=env,
            check=False)
    assert r.code == 125, r
    assert "GPU 0000:0f:00.0 (1) are none of those this process may use (0)" in r.err, r


def test_mps_v3_namespaces(host):
    """A v3 daemon's pipe tree (PIPE/control, PIPE/SERVER/control, PIPE/SERVER/NS/control, each a
    unix socket): --mps=PIPE says its namespaces are not chosen; --mps=PIPE/SERVER/NS gives the
    container that namespace's socket alone, as its CUDA_MPS_PIPE_DIRECTORY."""
    top = Path(tempfile.mkdtemp(prefix="mps3-", dir="/tmp"))
    socks = []
    try:
        for d in ("", "training", "training/high_priority"):
            (top / d).mkdir(parents=True, exist_ok=True)
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.bind(str(top / d / "control"))
            socks.append(s)
        r = run(host, "--gpus", "device=0", f"--mps={top}", "sample:latest", "true")
        assert f"{top} has MPS v3 namespaces (training/high_priority)" in r.err, r
        ns = top / "training" / "high_priority"
        r = run(host, "--gpus", "device=0", f"--mps={ns}", "sample:latest", "sh", "-c",
                f"echo $CUDA_MPS_PIPE_DIRECTORY; ls $CUDA_MPS_PIPE_DIRECTORY; ls {top}/control",
                check=False)
        assert r.out.splitlines()[:2] == [str(ns), "control"], r
        assert r.code == 1 and "No such file" in r.err and "v3 namespaces" not in r.err, r
    finally:
        for s in socks:
            s.close()
        shutil.rmtree(top)


def test_doctor_says_when_the_cpus_are_far_from_the_gpu(host):
    """GPU 1 sits on node 1 next to CPU 1 (the two-node fake PCI sysfs): doctor warns, naming the
    GPU, its node and the fix, for a run pinned to CPU 0 or a caller that may only use CPU 0."""
    far = "GPU 0000:0f:00.0 is on NUMA node 1 (its CPUs 1)"
    r = host.g.run("doctor", *host.roots, "--gpus", "device=1", "--cpuset-cpus", "0", check=False)
    lines = [line for line in r.out.splitlines() if "GPU-NUMA-FAR" in line]
    assert len(lines) == 1 and lines[0].startswith("warn ") and far in lines[0], r
    assert "none of --cpuset-cpus (0) is" in lines[0], r
    assert "fix: --gpu-numa auto (the GPUs' CPUs and memory), or --cpuset-cpus 1" in r.out, r
    # near its GPU: nothing said
    r = host.g.run("doctor", *host.roots, "--gpus", "device=0", "--cpuset-cpus", "0", check=False)
    assert "GPU-NUMA-FAR" not in r.out, r
    # no --cpuset-cpus: the CPUs the caller may use (taskset: CPU 0 only)
    p = subprocess.run(["taskset", "-c", "0", *host.g.cmd("doctor", *host.roots, "--gpus",
                                                          "device=1")],
                       env=host.g.environ(), capture_output=True, text=True, timeout=60)
    assert far in p.stdout and "none of the CPUs gantry may use" in p.stdout, p
