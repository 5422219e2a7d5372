"""The Slurm SPANK plugin (spank_gantry.so, docs/slurm.md) in a real 4-node Slurm cluster on this
machine (tests/fixtures/slurm_cluster.py): munged, slurmctld and four slurmd started here, the
plugin loaded through plugstack.conf, jobs submitted as `nobody` with srun and sbatch.

Each emulated node has its own store (store=.../%n/%u), so "one pull per node" is countable."""
import json
import os
import re
import shutil
import subprocess
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
    c = SlurmCluster(d, PLUGIN, GANTRY, HOLD).start()
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
    """What a finished step must not leave on any node: gantry-hold processes, containers named
    slurm.*, step directories."""
    holds = subprocess.run(["pgrep", "-f", str(cluster.dir / "bin" / "gantry-hold")],
                           capture_output=True, text=True).stdout.split()
    ps = gantry(cluster, "n1", "ps", "-a", "--json").stdout
    names = [c.get("name", "") for c in json.loads(ps or "[]")]
    slurm = [n for n in names if str(n).startswith("slurm.")]
    run = cluster.dir / "run" / str(NOBODY.pw_uid)
    dirs = sorted(os.listdir(run)) if run.exists() else []
    return holds, slurm, dirs


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
    assert leftovers(cluster) == ([], [], [])


@pytest.mark.parametrize("bad,says", [
    ("Bad::ref", 'invalid image reference "Bad::ref"'),
    ("/nonexistent/img.sqsh", "--container-image /nonexistent/img.sqsh: No such file"),
])
def test_bad_image_fails_the_step(cluster, image, bad, says):
    r = cluster.srun("-N2", "-n4", f"--container-image={bad}", "true")
    assert r.returncode != 0, r
    assert says in r.stderr, r.stderr
    assert leftovers(cluster) == ([], [], [])
