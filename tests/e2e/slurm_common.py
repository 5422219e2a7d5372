"""What tests/e2e/test_slurm*.py share: the 4-node cluster (tests/fixtures/slurm_cluster.py)
with the plugin loaded, each node's store holding the sample image, and the checks that a step
left nothing behind. Each test module starts its own cluster (module scope, ~3 s) on the fixed
ports of tests/fixtures/slurm_cluster.py, holding the "slurm" host lock while it runs: one
cluster at a time, whichever pytest process (xdist worker) runs the module."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from conftest import GANTRY, IN_CI, NOBODY, fuse_mode, host_lock
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
    if os.geteuid() != 0:
        pytest.skip("the Slurm tests start munged, slurmctld and slurmd: they need root")
    assert PLUGIN.exists(), f"{PLUGIN} is missing: install libslurm-dev and rebuild"
    d = Path(tempfile.mkdtemp(prefix="gantry-slurm-", dir="/tmp"))
    os.chmod(d, 0o755)
    # n1-n3 have the GPUs of one simulated NVIDIA host (two GPUs) as Slurm GRES, n4 two of a
    # simulated Intel host's (Slurm sets ZE_AFFINITY_MASK for them): each node's GPU roots are
    # links under roots/NODE (plugstack.conf's NAME_root=, %n the node)
    fixtures = Path(__file__).resolve().parent.parent / "fixtures"
    sys.path.insert(0, str(fixtures / "gpuhost"))
    sys.path.insert(0, str(fixtures / "intelhost"))
    import gpuhost as gh
    import intelhost as ih
    host = gh.build_host(d / "gpuhost", gh.preset(2))
    intel = d / "intelhost"
    ih.build(intel, "max1550", devices="nodes")
    dri = intel / "dev" / "dev" / "dri"
    for node in [*dri.glob("card*"), *dri.glob("renderD*")]:
        os.chmod(node, 0o666)  # the job's user is in no render or video group
    roots = {"driver": (host.driver_root, intel),  # (n1-n3's, n4's)
             "dev": (host.dev_root, intel / "dev"),
             "sys": (d / "no-sys", intel / "sys")}
    (d / "no-sys").mkdir()
    for n in NODES:
        (d / "roots" / n).mkdir(parents=True)
        for name, (nvidia_root, intel_root) in roots.items():
            os.symlink(intel_root if n == "n4" else nvidia_root, d / "roots" / n / name)
    with host_lock("slurm"):  # the ports, munged
        c = SlurmCluster(d / "cluster", PLUGIN, GANTRY, HOLD,
                         plugin_args=[f"{name}_root={d}/roots/%n/{name}" for name in roots],
                         gpus=(2, {"n[1-3]": f"File={host.dev_root}/dev/nvidia[0-1]",
                                   "n4": f"File={intel}/dev/dev/dri/renderD[128-129] "
                                         "Flags=intel_gpu_env"}))
        try:
            yield c.start()
        finally:
            c.stop()
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module")
def image(cluster):
    """sample:latest (busybox, with FROMIMAGE=1 in its env) loaded into every node's store."""
    from fixtures import mkimage as mk
    img = mk.busybox_image(env=["PATH=/usr/local/bin:/usr/bin:/bin", "FROMIMAGE=1"])
    archive = cluster.dir / "bb.tar"
    mk.write_docker_archive(archive, [(img, ["sample:latest"])])
    os.chmod(archive, 0o644)
    for n in NODES:
        gantry(cluster, n, "load", "-q", archive)
    return "sample:latest"


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
    left = leftovers(cluster)
    assert left == ([], [], []), f"left behind (processes, containers, state dirs): {left}"


def user_procs(*argv):
    """PIDs of the job user's processes whose command line is ARGV (argv[0] compared by its base
    name). Other tests run processes as that user too (nobody: every rootless test), so a test
    here looks for a command line only its own jobs run."""
    pids = subprocess.run(["pgrep", "-u", str(NOBODY.pw_uid), "-x", os.path.basename(argv[0])],
                          capture_output=True, text=True).stdout.split()
    found = []
    for pid in pids:
        try:
            args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[:-1]
        except OSError:
            continue
        if args and [os.path.basename(args[0].decode())] + [a.decode() for a in args[1:]] == \
                [os.path.basename(argv[0]), *argv[1:]]:
            found.append(pid)
    return found


def user_file(cluster, name, text, mode=0o755):
    p = cluster.home / name
    p.write_text(text)
    os.chmod(p, mode)
    os.chown(p, NOBODY.pw_uid, NOBODY.pw_gid)
    return p


@pytest.fixture
def fuse_open():
    """/dev/fuse 0666 (a distribution's default; this VM has 0600), restored after the test."""
    if not os.path.exists("/dev/fuse"):
        pytest.skip("/dev/fuse is missing")
    with fuse_mode(0o666):
        yield
