"""The Slurm SPANK plugin (spank_gantry.so, docs/slurm.md) in a real 4-node Slurm cluster on this
machine (tests/fixtures/slurm_cluster.py): munged, slurmctld and four slurmd started here, the
plugin loaded through plugstack.conf, jobs submitted as `nobody` with srun and sbatch.

Each emulated node has its own store (store=.../%n/%u), so "one pull per node" is countable."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from conftest import GANTRY, IN_CI, NOBODY
from fixtures.slurm_cluster import NODES, SlurmCluster, missing_tools

PLUGIN = GANTRY.parent / "spank_gantry.so"
HOLD = GANTRY.parent / "gantry-hold"


@pytest.fixture(scope="module")
def cluster():
    missing = missing_tools()
    if missing:
        if IN_CI:
            pytest.fail(f"Slurm is required in CI; missing: {', '.join(missing)}")
        pytest.skip(f"Slurm is not installed (missing {', '.join(missing)}: "
                    "apt-get install slurm-wlm munge)")
    assert PLUGIN.exists(), f"{PLUGIN} is missing: install libslurm-dev and rebuild"
    d = Path(tempfile.mkdtemp(prefix="gantry-slurm-", dir="/tmp"))
    os.chmod(d, 0o755)
    # every node has the GPUs of one simulated NVIDIA host (two GPUs) as Slurm GRES
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "fixtures" / "gpuhost"))
    import gpuhost as gh
    host = gh.build_host(d / "gpuhost", gh.preset(2))
    c = SlurmCluster(d / "cluster", PLUGIN, GANTRY, HOLD,
                     plugin_args=[f"driver_root={host.driver_root}", f"dev_root={host.dev_root}"],
                     gpus=(2, f"{host.dev_root}/dev/nvidia[0-1]")).start()
    yield c
    c.stop()
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module")
def image(cluster, mk):
    """sample:latest (busybox, with FROMIMAGE=1 in its env) loaded into every node's store."""
    img = mk.busybox_image(env=["PATH=/usr/local/bin:/usr/bin:/bin", "FROMIMAGE=1"])
    archive = cluster.dir / "bb.tar"
    mk.write_docker_archive(archive, [(img, ["sample:latest"])])
    os.chmod(archive, 0o644)
    for n in NODES:
        gantry(cluster, n, "load", "-q", archive)
    return "sample:latest"


@pytest.fixture(scope="module")
def mk():
    from fixtures import mkimage
    return mkimage


def gantry(cluster, node, *args, check=True):
    """gantry as the job user, on NODE's store."""
    r = subprocess.run(cluster.as_user([str(cluster.dir / "bin" / "gantry"), "--root",
                                        str(cluster.node_store(node)), *map(str, args)]),
                       capture_output=True, text=True, env=cluster.env())
    if check:
        assert r.returncode == 0, r
    return r


def leftovers(cluster):
    """What a finished step must not leave on any node: container processes (gantry-hold) and
    their gantry monitors, containers named slurm.*, step directories."""
    holds = subprocess.run(["pgrep", "-u", str(NOBODY.pw_uid), "-x", ".gantry-hold"],
                           capture_output=True, text=True).stdout.split()
    holds += subprocess.run(["pgrep", "-f", str(cluster.dir / "bin" / "gantry")],
                            capture_output=True, text=True).stdout.split()
    ps = gantry(cluster, "n1", "ps", "-a", "--json").stdout
    names = [c.get("name", "") for c in json.loads(ps or "[]")]
    slurm = [n for n in names if str(n).startswith("slurm.")]
    run = cluster.dir / "run" / str(NOBODY.pw_uid)
    dirs = sorted(os.listdir(run)) if run.exists() else []
    return holds, slurm, dirs


def assert_clean(cluster, timeout=15):
    """Nothing left once the steps' slurmstepd have ended (srun returns before they clean up)."""
    cluster.wait_idle()
    end = time.time() + timeout
    while time.time() < end and leftovers(cluster) != ([], [], []):
        time.sleep(0.1)
    assert leftovers(cluster) == ([], [], [])


def test_srun_4_nodes_8_tasks(cluster, image):
    r = cluster.srun("-N4", "-n8", f"--container-image={image}", "sh", "-c",
                     'echo "$SLURMD_NODENAME $SLURM_PROCID $FROMIMAGE $(readlink /proc/self/ns/mnt)'
                     ' $(cat /etc/gantry-marker 2>/dev/null || echo none) $(id -u)"')
    assert r.returncode == 0, r
    rows = [line.split() for line in r.stdout.splitlines()]
    assert sorted(int(x[1]) for x in rows) == list(range(8)), r.stdout
    per_node = {}
    for node, rank, from_image, mnt, _marker, uid in rows:
        assert from_image == "1", r.stdout  # the image's environment reached the task
        assert uid == "0", r.stdout  # root in the container (gantry's single-id map)
        per_node.setdefault(node, set()).add(mnt)
    assert sorted(per_node) == NODES, r.stdout  # two tasks on each of the four nodes
    # one container per node: both tasks of a node share its mount namespace, nodes do not
    assert all(len(m) == 1 for m in per_node.values()), per_node
    assert len({next(iter(m)) for m in per_node.values()}) == 4, per_node
    # the host's mount namespace is not the container's
    host_mnt = os.readlink("/proc/self/ns/mnt")
    assert host_mnt not in {next(iter(m)) for m in per_node.values()}
    assert "ready in" in cluster.log("slurmd.n1")  # phase timings in the slurmd log
    assert_clean(cluster)


@pytest.mark.parametrize("bad,says", [
    ("Bad::ref", 'invalid image reference "Bad::ref"'),
    ("/nonexistent/img.sqsh", "--container-image /nonexistent/img.sqsh: No such file"),
])
def test_bad_image_fails_the_step(cluster, image, bad, says):
    r = cluster.srun("-N2", "-n4", f"--container-image={bad}", "true")
    assert r.returncode != 0, r
    assert says in r.stderr, r.stderr
    assert_clean(cluster)


def user_file(cluster, name, text, mode=0o755):
    p = cluster.home / name
    p.write_text(text)
    os.chmod(p, mode)
    os.chown(p, NOBODY.pw_uid, NOBODY.pw_gid)
    return p


def test_sbatch_script_runs_in_the_container(cluster, image):
    script = user_file(cluster, "job.sh", f"""#!/bin/sh
#SBATCH --container-image={image}
#SBATCH -N1
#SBATCH -o {cluster.home}/job.out
echo "batch $FROMIMAGE $(readlink /proc/1/exe 2>/dev/null) $(ls /.gantry-hold)"
""")
    r = cluster.run("sbatch", "--wait", script)
    assert r.returncode == 0, r
    out = (cluster.home / "job.out").read_text()
    assert out.startswith("batch 1 "), out  # the image's env: the script ran in the container
    assert "/.gantry-hold" in out, out
    assert_clean(cluster)


def test_pyxis_environment_variables(cluster, image):
    r = cluster.srun("-N1", "sh", "-c", "echo $FROMIMAGE; pwd",
                     env={"PYXIS_CONTAINER_IMAGE": image, "PYXIS_CONTAINER_WORKDIR": "/bin"})
    assert r.returncode == 0, r
    assert r.stdout.split() == ["1", "/bin"], r


def test_pyxis_sbatch_option_variables(cluster, image):
    """A job whose environment carries pyxis' own option variables (an sbatch made where pyxis
    was the plugin) runs in the container all the same."""
    r = cluster.srun("-N1", "sh", "-c", "echo $FROMIMAGE; pwd",
                     env={"SLURM_SPANK__SLURM_SPANK_OPTION_pyxis_container_image": image,
                          "SLURM_SPANK__SLURM_SPANK_OPTION_pyxis_container_workdir": "/etc"})
    assert r.returncode == 0, r
    assert r.stdout.split() == ["1", "/etc"], r


def test_mounts_workdir_readonly(cluster, image):
    data = cluster.dir / "data"
    data.mkdir(exist_ok=True)
    (data / "f").write_text("hello\n")
    os.chown(data, NOBODY.pw_uid, NOBODY.pw_gid)
    os.chmod(data, 0o755)
    r = cluster.srun("-N2", "-n2", f"--container-image={image}",
                     f"--container-mounts={data}:/data:ro,{data}:/rw",
                     "--container-workdir=/data", "--container-readonly", "sh", "-c",
                     "pwd; cat f; touch /data/x 2>/dev/null || echo ro-mount;"
                     " touch /rw/y$SLURM_PROCID && echo rw-mount;"
                     " touch /z 2>/dev/null || echo ro-root")
    assert r.returncode == 0, r
    lines = r.stdout.splitlines()
    for want in ("/data", "hello", "ro-mount", "rw-mount", "ro-root"):
        assert lines.count(want) == 2, r.stdout
    assert sorted(os.listdir(data)) == ["f", "y0", "y1"]


def test_remap_root(cluster, image):
    r = cluster.srun("-N1", f"--container-image={image}", "--container-remap-root", "sh", "-c",
                     "id -u; cat /proc/self/uid_map")
    assert r.returncode == 0, r
    assert r.stdout.split() == ["0", "0", str(NOBODY.pw_uid), "1"], r
    r = cluster.srun("-N1", f"--container-image={image}", "--no-container-remap-root", "sh",
                     "-c", "id -u; cat /proc/self/uid_map")
    assert r.returncode == 0, r
    assert r.stdout.split() == [str(NOBODY.pw_uid)] * 3 + ["1"], r  # keep-id: its own ids
    r = cluster.srun("-N1", f"--container-image={image}", "sh", "-c", "id -u")
    assert r.stdout.split() == ["0"], r  # the default: gantry's (pyxis' is the user's own)
    r = cluster.srun("-N1", "--container-image=/shared/app.sqsh", "--no-container-remap-root",
                     "true")
    assert r.returncode != 0, r
    assert "--no-container-remap-root is not supported with a .sqsh image" in r.stderr, r


def test_writable_root_is_the_default(cluster, image):
    r = cluster.srun("-N1", f"--container-image={image}", "sh", "-c",
                     "touch /z && echo written")
    assert r.returncode == 0 and r.stdout.strip() == "written", r


def test_container_env_and_mount_home(cluster, image):
    # FROMIMAGE is the image's; --container-env keeps the host's value instead
    r = cluster.srun("-N1", f"--container-image={image}", "--container-env=FROMIMAGE",
                     "--container-mount-home", "sh", "-c",
                     'echo "$FROMIMAGE $HOME $(ls -d $HOME) $SLURM_JOB_ID"',
                     env={"FROMIMAGE": "host"})
    assert r.returncode == 0, r
    words = r.stdout.split()
    assert words[:3] == ["host", str(cluster.home), str(cluster.home)], r
    assert words[3].isdigit(), r  # Slurm's variables reach the task
    r = cluster.srun("-N1", f"--container-image={image}", "sh", "-c", 'echo "$FROMIMAGE $HOME"',
                     env={"FROMIMAGE": "host"})
    assert r.stdout.split() == ["1", "/root"], r  # the image's env wins by default


def test_container_name_reused_by_later_steps_and_removed_with_the_job(cluster, image):
    script = user_file(cluster, "named.sh", f"""#!/bin/sh
srun -N1 -w n2 --container-name=c1 --container-image={image} sh -c 'echo kept > /m'
srun -N1 -w n2 --container-name=c1 cat /m
srun -N1 -w n2 --container-name=c1:create true; echo create=$?
srun -N1 -w n2 --container-name=other:exec true; echo exec=$?
""")
    r = cluster.run("sbatch", "-N2", "-o", cluster.home / "named.out", "--wait", script)
    assert r.returncode == 0, r
    out = (cluster.home / "named.out").read_text()
    assert "kept\n" in out, out
    assert "create=1" in out and "container c1 already exists" in out, out
    assert "exec=1" in out and "no running container other on node n2" in out, out
    assert_clean(cluster)  # the job epilog (slurmd) removes the job's named containers


@pytest.mark.parametrize("option,says", [
    ("--container-workdir=/nope", "--container-workdir /nope: No such file or directory"),
    ("--container-mounts=/nonexistent:/x", "--container-mounts /nonexistent:/x: /nonexistent: "
                                            "No such file or directory on node n1"),
    ("--container-mounts=/tmp:/x:exec", 'unknown flag "exec"'),
    ("--container-name=bad/name", "--container-name: \"bad/name\" may hold only"),
])
def test_bad_options_fail_the_step(cluster, image, option, says):
    r = cluster.srun("-N1", "-w", "n1", f"--container-image={image}", option, "true")
    assert r.returncode != 0, r
    assert says in r.stderr, r.stderr
    assert_clean(cluster)


def test_scancel_leaves_nothing(cluster, image):
    p = subprocess.Popen(cluster.as_user(["srun", "-N4", "-n8", f"--container-image={image}",
                                          "sleep", "300"]),
                         env=cluster.env(), cwd=str(cluster.home),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        end = time.time() + 30  # until the 4 containers run
        while time.time() < end and len(leftovers(cluster)[1]) < 4:
            time.sleep(0.1)
        assert len(leftovers(cluster)[1]) == 4, leftovers(cluster)
        sleepers = []
        while time.time() < end and len(sleepers) < 8:
            sleepers = subprocess.run(["pgrep", "-u", str(NOBODY.pw_uid), "-x", "sleep"],
                                      capture_output=True, text=True).stdout.split()
        assert len(sleepers) >= 8, sleepers
        q = subprocess.run(["squeue", "-h", "-o", "%i"], capture_output=True, text=True,
                           env=cluster.env())
        for job in q.stdout.split():
            assert cluster.run("scancel", job).returncode == 0
        p.wait(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
    assert_clean(cluster)
    still = [pid for pid in sleepers if os.path.exists(f"/proc/{pid}")]
    assert still == [], still
    # no container mount left in the host's mount table either
    assert str(cluster.dir / "store") not in Path("/proc/self/mountinfo").read_text()


@pytest.fixture(scope="module")
def remote_image(cluster, mk):
    """A busybox image in a local registry, behind the request-logging proxy; the job user's
    registries.json lists the proxy as insecure (plain http)."""
    from conftest import need_tool
    from fixtures.registry.harness import Proxy, Registry, skopeo_push
    need_tool("docker-registry")
    need_tool("skopeo")
    reg = Registry(cluster.dir / "reg").start()
    proxy = Proxy(cluster.dir / "proxy", reg.addr).start()
    layout = cluster.dir / "layout"
    mk.write_oci_layout(layout, [(mk.busybox_image(env=["PATH=/bin", "FROMIMAGE=remote"]),
                                  ["latest"])])
    skopeo_push(layout, f"{reg.addr}/team/bb", "latest")
    conf = cluster.home / ".config" / "gantry"
    conf.mkdir(parents=True, exist_ok=True)
    (conf / "registries.json").write_text(json.dumps({"insecure-registries": [proxy.addr]}))
    for p in (conf, conf / "registries.json"):
        os.chown(p, NOBODY.pw_uid, NOBODY.pw_gid)
    yield proxy, f"{proxy.addr}/team/bb:latest"
    proxy.kill()
    reg.stop()


def config_fetches(proxy):
    return [r for r in proxy.requests()
            if r["method"] == "GET" and "/blobs/" in r["path"] and r["status"] == 200]


def test_cold_pull_once_per_node_then_warm(cluster, remote_image):
    proxy, ref = remote_image
    proxy.clear_log()
    r = cluster.srun("-N4", "-n8", f"--container-image={ref}", "sh", "-c", "echo $FROMIMAGE")
    assert r.returncode == 0, r
    assert r.stdout.split() == ["remote"] * 8, r
    # each node pulled once (its own store), whatever its number of tasks: 4 pulls in the slurmd
    # logs, and 4 x (config + layer) blobs fetched from the registry
    pulls = [line for n in NODES for line in cluster.log(f"slurmd.{n}").splitlines()
             if f"pulled {ref}" in line]
    assert len(pulls) == 4, pulls
    assert len(config_fetches(proxy)) == 8, proxy.requests()
    for n in NODES:
        assert gantry(cluster, n, "inspect", ref).returncode == 0
    proxy.clear_log()
    r = cluster.srun("-N4", "-n8", f"--container-image={ref}", "true")
    assert r.returncode == 0, r
    assert proxy.requests() == []  # warm: the node stores have it, nothing is asked
    assert_clean(cluster)


@pytest.fixture
def fuse_open():
    """/dev/fuse 0666 (a distribution's default; this VM has 0600), restored after the test."""
    if not os.path.exists("/dev/fuse"):
        pytest.skip("/dev/fuse is missing")
    mode = os.stat("/dev/fuse").st_mode & 0o7777
    os.chmod("/dev/fuse", 0o666)
    yield
    os.chmod("/dev/fuse", mode)


def test_shared_sqsh_used_by_every_node_without_pull(cluster, image, fuse_open, mk):
    img = mk.busybox_image(env=["PATH=/bin", "FROMIMAGE=sqsh"])
    archive = cluster.dir / "sq.tar"
    mk.write_docker_archive(archive, [(img, ["sq:latest"])])
    os.chmod(archive, 0o644)
    shared = cluster.dir / "shared"
    shared.mkdir(exist_ok=True)
    os.chown(shared, NOBODY.pw_uid, NOBODY.pw_gid)
    gantry(cluster, "n1", "load", "-q", archive)
    gantry(cluster, "n1", "save", "sq:latest", "--format", "squashfs", "-o", shared / "sq.sqsh")
    gantry(cluster, "n1", "rmi", "sq:latest")
    stores_before = {n: gantry(cluster, n, "images").stdout for n in NODES}
    r = cluster.srun("-N4", "-n8", f"--container-image={shared / 'sq.sqsh'}", "sh", "-c",
                     "echo $FROMIMAGE")
    assert r.returncode == 0, r
    assert r.stdout.split() == ["sqsh"] * 8, r
    assert {n: gantry(cluster, n, "images").stdout for n in NODES} == stores_before
    assert not any("pulled" in cluster.log(f"slurmd.{n}") and "sq.sqsh" in cluster.log(
        f"slurmd.{n}") for n in NODES)
    assert_clean(cluster)


def test_gpus_from_gres(cluster, image):
    # a job holds GPU 0 of n1; the next step there gets GPU 1 from Slurm, and its container gets
    # that GPU only, numbered 0 inside
    holder = subprocess.Popen(cluster.as_user(["srun", "-w", "n1", "--gres=gpu:1", "sleep", "60"]),
                              env=cluster.env(), cwd=str(cluster.home))
    try:
        end = time.time() + 20
        while time.time() < end and not subprocess.run(
                ["pgrep", "-u", str(NOBODY.pw_uid), "-x", "sleep"], capture_output=True).stdout:
            time.sleep(0.1)
        r = cluster.srun("-w", "n1", "--gres=gpu:1", f"--container-image={image}", "sh", "-c",
                         'echo "$SLURM_STEP_GPUS $CUDA_VISIBLE_DEVICES"; ls /dev | grep "^nvidia[0-9]"')
        assert r.returncode == 0, r
        assert r.stdout.split() == ["1", "0", "nvidia1"], r
    finally:
        holder.kill()
        holder.wait()
    r = cluster.srun("-w", "n2", "--gres=gpu:2", f"--container-image={image}", "sh", "-c",
                     'echo "$CUDA_VISIBLE_DEVICES"; ls /dev | grep "^nvidia[0-9]"')
    assert r.returncode == 0, r
    assert r.stdout.split() == ["0,1", "nvidia0", "nvidia1"], r
    # no GRES, no GPU
    r = cluster.srun("-w", "n3", f"--container-image={image}", "sh", "-c",
                     'ls /dev | grep -c "^nvidia" || true')
    assert r.stdout.strip() == "0", r
    assert_clean(cluster)


def test_pmi2_socket_reaches_every_task(cluster, image):
    r = cluster.srun("-N2", "-n4", "--mpi=pmi2", f"--container-image={image}", "sh", "-c",
                     'echo "$SLURM_PROCID $PMI_RANK $(readlink /proc/self/fd/$PMI_FD)"')
    assert r.returncode == 0, r
    rows = sorted(line.split() for line in r.stdout.splitlines())
    assert [(a, b) for a, b, _ in rows] == [(str(i), str(i)) for i in range(4)], r
    assert all(s.startswith("socket:[") for _, _, s in rows), r  # PMI_FD, inherited


def test_mpi_hello_over_pmix(cluster, image):
    """Open MPI's hello world launched by srun --mpi=pmix inside the container. The image brings
    no MPI: the host's Open MPI is bound in (/usr), as Sarus' MPI hook swaps in the host's MPI.
    One node: on this single-machine emulation Slurm's PMIx cannot wire up two slurmd of the same
    host even without containers (`srun -N2 --mpi=pmix` fails to launch)."""
    from conftest import need_tool
    need_tool("mpicc")
    if not os.path.exists("/usr/lib/x86_64-linux-gnu/slurm-wlm/mpi_pmix.so"):
        pytest.skip("Slurm's mpi_pmix plugin is not installed")
    mpi = cluster.dir / "mpi"
    mpi.mkdir(exist_ok=True)
    (mpi / "hello.c").write_text(r"""#include <mpi.h>
#include <stdio.h>
int main(int argc, char **argv) {
    int rank, size, sum = 0;
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    MPI_Allreduce(&rank, &sum, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    printf("hello rank %d of %d sum %d\n", rank, size, sum);
    MPI_Finalize();
    return 0;
}
""")
    subprocess.run(["mpicc", "-o", mpi / "hello", mpi / "hello.c"], check=True)
    os.chmod(mpi, 0o755)
    ld = "/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"
    r = cluster.srun("-N1", "-n2", "--mpi=pmix", f"--container-image={image}",
                     f"--container-mounts=/usr:/usr:ro,/etc/openmpi:/etc/openmpi:ro,{mpi}:/mpi:ro",
                     "/bin/sh", "-c", 'grep -c " ${PMIX_SERVER_TMPDIR%/} " /proc/self/mountinfo && '
                     f'exec {ld} --library-path /usr/lib/x86_64-linux-gnu /mpi/hello')
    assert r.returncode == 0, r
    lines = r.stdout.splitlines()
    assert lines.count("1") == 2, r  # $PMIX_SERVER_TMPDIR is mounted in the container
    hello = sorted(line for line in lines if line.startswith("hello"))
    assert hello == ["hello rank 0 of 2 sum 1", "hello rank 1 of 2 sum 1"], r
    assert_clean(cluster)


def test_slurm_container_option_runs_gantry_oci(cluster, image):
    """Slurm's own `srun --container BUNDLE` (oci.conf, written by the fixture: RunTimeRun,
    Query, Kill, Delete are `gantry oci`; 22.05 allows one task per node) on a bundle that
    `gantry bundle` wrote on the shared filesystem."""
    shared = cluster.dir / "shared"
    shared.mkdir(exist_ok=True)
    os.chown(shared, NOBODY.pw_uid, NOBODY.pw_gid)
    gantry(cluster, "n1", "bundle", image, shared / "bundle")
    r = cluster.srun("-N2", f"--container={shared / 'bundle'}", "sh", "-c",
                     'echo "$FROMIMAGE $(readlink /proc/self/ns/mnt) $(cat /proc/self/uid_map)"')
    assert r.returncode == 0, r
    rows = [line.split() for line in r.stdout.splitlines()]
    assert len(rows) == 2, r
    host_mnt = os.readlink("/proc/self/ns/mnt")
    for from_image, mnt, inside, outside, count in rows:
        assert from_image == "1" and mnt != host_mnt, r  # in the bundle's root
        assert (inside, outside, count) == ("0", str(NOBODY.pw_uid), "1"), r  # rootless
    assert rows[0][1] != rows[1][1], r  # one container per node
    cluster.wait_idle()
    oci_root = cluster.dir / "oci" / NOBODY.pw_name  # oci.conf's %u is the user name
    assert oci_root.is_dir()
    end = time.time() + 10
    while time.time() < end and os.listdir(oci_root):
        time.sleep(0.1)
    assert os.listdir(oci_root) == []  # deleted by RunTimeDelete


def test_step_directory_planted_as_a_symlink_leads_root_nowhere(cluster, image):
    """The step directories are the user's, and slurmstepd's cleanup runs as root: a user who
    plants runtime_path/<uid>/step.<job>.<step>.<node> as a symbolic link to a root-owned
    directory gets a failed step, and root removes nothing there."""
    victim = cluster.dir / "victim"
    victim.mkdir(exist_ok=True)
    (victim / "keep").write_text("root's\n")
    (victim / "lock").write_text("root's too\n")
    script = user_file(cluster, "held.sh", f"#!/bin/sh\n#SBATCH --container-image={image}\n"
                       f"#SBATCH -w n1\n#SBATCH -o {cluster.home}/held.out\ntrue\n")
    r = cluster.run("sbatch", "--hold", "--parsable", script)
    assert r.returncode == 0, r
    job = r.stdout.strip().split(";")[0]
    run = cluster.dir / "run" / str(NOBODY.pw_uid)
    run.mkdir(exist_ok=True)  # as init_post_opt makes it: the user's
    os.chown(run, NOBODY.pw_uid, NOBODY.pw_gid)
    link = run / f"step.{job}.4294967291.n1"  # the batch step
    subprocess.run(cluster.as_user(["ln", "-s", str(victim), str(link)]), check=True)
    assert cluster.run("scontrol", "release", job).returncode == 0
    cluster.wait_idle(60)
    out = (cluster.home / "held.out").read_text()
    assert "gantry:" in out, out  # the step failed, saying why
    assert sorted(os.listdir(victim)) == ["keep", "lock"]
    assert (victim / "lock").read_text() == "root's too\n"
    os.unlink(link)
    assert_clean(cluster)


def test_container_entrypoint(cluster, image, mk):
    """--container-entrypoint: the image's entrypoint runs (once per node, the holder as its
    command); what it exports reaches every task. Without the flag it does not run."""
    from fixtures.mkimage import Entry, busybox_layer
    ep = Entry.file("ep.sh", "#!/bin/sh\nexport FROM_EP=ran\nexec \"$@\"\n", 0o755)
    img = mk.Image([busybox_layer(extra=[ep])], env=["PATH=/bin"], entrypoint=["/ep.sh"],
                   cmd=["/bin/sh"])
    archive = cluster.dir / "ep.tar"
    mk.write_docker_archive(archive, [(img, ["ep:latest"])])
    os.chmod(archive, 0o644)
    for n in ("n1", "n2"):
        gantry(cluster, n, "load", "-q", archive)
    r = cluster.srun("-N2", "-n4", "-w", "n1,n2", "--container-image=ep:latest",
                     "--container-entrypoint",
                     "sh", "-c", 'echo "${FROM_EP:-none}"')
    assert r.returncode == 0, r
    assert r.stdout.split() == ["ran"] * 4, r
    r = cluster.srun("-N1", "-w", "n1", "--container-image=ep:latest", "sh", "-c",
                     'echo "${FROM_EP:-none}"')
    assert r.stdout.split() == ["none"], r
    assert_clean(cluster)


def test_container_save(cluster, image, fuse_open):
    """--container-save PATH: the first node's container, with what its tasks wrote, becomes a
    squashfs file at the end of the step (relative to the job's directory), that a later step on
    another node runs; the mounts (/proc, binds) are not in it."""
    need = shutil.which("mksquashfs")
    if not need:
        pytest.skip("mksquashfs is not installed (squashfs-tools)")
    out = cluster.home / "saved.sqsh"
    r = cluster.srun("-N2", "-w", "n1,n2", f"--container-image={image}",
                     "--container-save=saved.sqsh", f"--container-mounts={cluster.home}:/data",
                     "sh", "-c", 'echo "written on $SLURMD_NODENAME" > /saved.txt')
    assert r.returncode == 0, r
    end = time.time() + 15  # written by slurmstepd's exit, after srun returned
    while time.time() < end and not out.exists():
        time.sleep(0.1)
    assert out.exists(), cluster.log("slurmd.n1")
    assert "saved to" in cluster.log("slurmd.n1")
    assert [p for p in os.listdir(cluster.home) if ".tmp" in p] == []
    listing = subprocess.run(["unsquashfs", "-l", out], capture_output=True, text=True).stdout
    assert "squashfs-root/saved.txt" in listing
    assert "squashfs-root/data/" not in listing and "squashfs-root/proc/" not in listing
    r = cluster.srun("-w", "n3", f"--container-image={out}", "cat", "/saved.txt")
    assert r.returncode == 0, r
    assert r.stdout == "written on n1\n", r
    assert_clean(cluster)
