"""The Slurm SPANK plugin (spank_gantry.so, docs/slurm.md) in a real 4-node Slurm cluster on this
machine (tests/fixtures/slurm_cluster.py): munged, slurmctld and four slurmd started here, the
plugin loaded through plugstack.conf, jobs submitted as `nobody` with srun and sbatch. This file:
the lifecycle (4 nodes x 2 tasks, pulls per node, a shared .sqsh, sbatch, the environment
variables, failures, scancel, a hostile step directory); test_slurm_options.py: the options,
GPUs, MPI, Slurm's own --container.

Each emulated node has its own store (store=.../%n/%u), so "one pull per node" is countable."""
import hashlib
import json
import os
import random
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from conftest import NOBODY
from fixtures.slurm_cluster import NODES
from slurm_common import (  # noqa: F401 (pytest fixtures, used as test arguments)
    assert_clean, cluster, fuse_open, gantry, image, leftovers, user_file, user_procs)


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
            sleepers = user_procs("sleep", "300")
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


def test_kernel_cache_through_the_jobs_config_file(cluster, image):
    """The plugin runs `gantry run -d` with the job's XDG_CONFIG_HOME: a config file's
    `kernel_cache: auto` gives every step the key's cache in the node's store
    (docs/kernel-caches.md); the second step on a node finds what the first compiled, another
    node starts its own key."""
    xdg = cluster.home / "kc-config"
    (xdg / "gantry").mkdir(parents=True, exist_ok=True)
    (xdg / "gantry" / "config.yaml").write_text("kernel_cache: auto\n")
    for p in (xdg, xdg / "gantry", xdg / "gantry" / "config.yaml"):
        os.chown(p, NOBODY.pw_uid, NOBODY.pw_gid)
    work = ('f="$CCACHE_DIR/obj"; if [ -f "$f" ]; then echo "hit $(cat "$f")"; '
            'else echo miss; echo "$SLURM_JOB_ID" > "$f"; fi')
    env = {"XDG_CONFIG_HOME": str(xdg)}
    out = []
    for node in (NODES[0], NODES[0], NODES[1]):
        r = cluster.srun("-N1", "-w", node, f"--container-image={image}", "sh", "-c", work,
                         env=env)
        assert r.returncode == 0, r
        out.append(r.stdout.split()[0])
    assert out == ["miss", "hit", "miss"], out
    assert [p for p in (cluster.node_store(NODES[0]) / "kernel-caches").iterdir() if p.is_dir()]
    assert_clean(cluster)


@pytest.fixture(scope="module")
def remote_image(cluster):
    """A busybox image in a local registry, behind the request-logging proxy; the job user's
    registries.json lists the proxy as insecure (plain http)."""
    from conftest import need_tool
    from fixtures import mkimage as mk
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


def test_concurrent_steps_on_one_node_share_its_store(cluster, remote_image):
    """Three steps started at once on a node whose store lacks the image: each succeeds, the
    store's own locks keep the pulls from colliding, and the image is there once after."""
    proxy, ref = remote_image
    store = cluster.node_store("n4")
    shutil.rmtree(store, ignore_errors=True)
    procs = [subprocess.Popen(cluster.as_user(["srun", "-w", "n4", f"--container-image={ref}",
                                               "sh", "-c", "echo $FROMIMAGE"]),
                              env=cluster.env(), cwd=str(cluster.home), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(3)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], outs
    assert [o.split() for o, _ in outs] == [["remote"]] * 3, outs
    assert len(gantry(cluster, "n4", "images", "-q").stdout.split()) == 1
    assert gantry(cluster, "n4", "system", "fsck").returncode == 0
    assert_clean(cluster)


LAZY_FILES = [random.Random(i).randbytes(1 << 20) for i in range(8)]  # incompressible


@pytest.fixture(scope="module")
def lazy_image(cluster, remote_image):
    """remote_image's registry holding an eStargz image (busybox and a layer of data files),
    pushed by gantry; its reference and its manifest."""
    import urllib.request
    from conftest import Gantry
    from fixtures import mkimage as mk
    proxy, _ = remote_image
    E = mk.Entry
    data = mk.Layer([E.dir("data")] + [E.file(f"data/f{i}", LAZY_FILES[i]) for i in range(8)])
    archive = cluster.dir / "lazy.tar"
    mk.write_docker_archive(archive, [(mk.busybox_image(env=["PATH=/bin"], extra_layers=[data]),
                                       ["lz:1"])])
    g = Gantry(cluster.dir / "push-store")
    g.run("load", archive)
    ref = f"{proxy.addr}/team/lz:1"
    g.run("push", "--tls-verify=false", "--compression", "estargz", "lz:1", ref)
    req = urllib.request.Request(f"http://{proxy.addr}/v2/team/lz/manifests/1",
                                 headers={"Accept": "application/vnd.oci.image.manifest.v1+json"})
    return proxy, ref, json.loads(urllib.request.urlopen(req).read())


def test_lazy_nodes_share_the_working_set(cluster, lazy_image, fuse_open):
    """--container-pull=lazy: a node starts the image from the registry (Range requests, no
    pull); when its step ends, the chunks its tasks read are recorded in the site's shared
    working_sets= directory; another node (its own store) then fetches those chunks first."""
    proxy, ref, manifest = lazy_image
    layers = [l["digest"] for l in manifest["layers"]]
    shared = cluster.dir / "ws" / str(NOBODY.pw_uid)
    cmd = ["--container-pull=lazy", f"--container-image={ref}", "/bin/busybox", "md5sum", "/data/f3",
           "/data/f6"]
    sums = [hashlib.md5(LAZY_FILES[i]).hexdigest() for i in (3, 6)]
    proxy.clear_log()
    r = cluster.srun("-w", "n1", *cmd)
    assert r.returncode == 0, r
    assert [line.split()[0] for line in r.stdout.splitlines()] == sums, r
    assert any(x.get("range") and "/blobs/" in x["path"] for x in proxy.requests())
    assert f"pulled {ref}" not in cluster.log("slurmd.n1")  # started lazily, not pulled
    assert_clean(cluster)  # the monitor and its FUSE server ended with the step
    assert str(cluster.node_store("n1")) not in Path("/proc/self/mountinfo").read_text()
    (ws,) = list(shared.iterdir())
    assert ws.name == manifest_hex(proxy, ref)
    recorded = [(layers[int(a)], int(b)) for a, b in
                (line.split() for line in ws.read_text().splitlines())]
    assert {d for d, _ in recorded} == set(layers)  # passwd, the shell, the files read

    proxy.clear_log()
    r = cluster.srun("-w", "n2", *cmd)  # another node: its store has nothing of the image
    assert r.returncode == 0, r
    assert [line.split()[0] for line in r.stdout.splitlines()] == sums, r
    toc_at = {d: toc_offset(proxy, d) for d in layers}
    gets = [g for g in dict.fromkeys(
        (next(d for d in layers if d in x["path"]), *map(int, x["range"][6:].split("-")))
        for x in proxy.requests() if x.get("range") and "/blobs/" in x["path"])
        if g[1] < toc_at[g[0]]]  # the chunks' requests, not the start's TOC reads

    def first_covering(c):
        return next((i for i, (d, a, b) in enumerate(gets) if d == c[0] and a <= c[1] <= b),
                    None)
    at = [first_covering(c) for c in recorded]
    assert None not in at, (recorded, gets)
    # the recorded chunks come first (a request may carry several close ones); the start's own
    # first reads and a piece the second prefetch thread began meanwhile are the only others
    assert max(at) < len(recorded) + 2, (recorded, gets)
    assert at[0] == 0, (recorded, gets)
    # f6, read, before f0, not read (which a start without the record fetches first: blob order);
    # f0 may not be fetched at all: with a working set the prefetch of the rest waits while the
    # container reads, and md5sum may be done first
    f6 = max(off for d, off in recorded if d == layers[-1])
    f0_at = first_covering((layers[-1], 4096))
    assert f0_at is None or at[recorded.index((layers[-1], f6))] < f0_at, gets
    assert_clean(cluster)
    assert [p.name for p in shared.iterdir()] == [ws.name]  # still the first node's record


def manifest_hex(proxy, ref):
    import urllib.request
    req = urllib.request.Request(f"http://{proxy.addr}/v2/team/lz/manifests/1",
                                 headers={"Accept": "application/vnd.oci.image.manifest.v1+json"})
    return hashlib.sha256(urllib.request.urlopen(req).read()).hexdigest()


def toc_offset(proxy, digest):
    """Where the eStargz blob DIGEST's table of contents begins (its footer says)."""
    import urllib.request
    blob = urllib.request.urlopen(f"http://{proxy.addr}/v2/team/lz/blobs/{digest}").read()
    at = blob.rindex(b"STARGZ")
    return int(blob[at - 16:at], 16)


@pytest.fixture(scope="module")
def hostile_lazy(cluster):
    """An eStargz image (busybox and a layer with one 1 MiB file) served by
    tests/fixtures/hostile_registry.py (a thread of this process: it misbehaves as a test sets),
    listed insecure for the job user."""
    from conftest import Gantry
    from fixtures import mkimage as mk
    from fixtures.hostile_registry import HostileRegistry
    E = mk.Entry
    data = mk.Layer([E.dir("data"), E.file("data/big.bin", LAZY_FILES[0])])
    archive = cluster.dir / "hostile.tar"
    mk.write_docker_archive(archive, [(mk.busybox_image(env=["PATH=/bin"], extra_layers=[data]),
                                       ["hz:1"])])
    g = Gantry(cluster.dir / "hostile-store")
    g.run("load", archive)
    g.run("save", "--format", "oci-dir", "--compression", "estargz", "-o",
          cluster.dir / "hostile-layout", "hz:1")
    reg = HostileRegistry(cluster.dir / "hostile-layout", repo="team/hz", tag="1").start()
    conf = cluster.home / ".config" / "gantry"
    conf.mkdir(parents=True, exist_ok=True)
    f = conf / "registries.json"
    old = f.read_text() if f.exists() else None
    listed = json.loads(old).get("insecure-registries", []) if old else []
    f.write_text(json.dumps({"insecure-registries": listed + [reg.addr]}))
    for p in (conf, f):
        os.chown(p, NOBODY.pw_uid, NOBODY.pw_gid)
    yield reg
    reg.stop()
    if old is None:
        f.unlink()
    else:
        f.write_text(old)


def test_lazy_step_whose_registry_fails_reads_eio_and_leaves_nothing(cluster, hostile_lazy,
                                                                     fuse_open):
    """--container-pull=lazy from a registry that serves the image's start (footers, TOCs) and
    then answers 500 to every request for the data layer's chunks: the task's read fails with
    EIO at once (not a hang), the step ends, and the node keeps no process, container or FUSE
    mount. (A drip instead is bounded by the lazy path's window, 10 s on a node: the same read
    path, tested with the window shortened by tests/e2e/test_lazy_hostile_registry.py and
    test_registry_hostile_wire.py.)"""
    reg = hostile_lazy
    reg.set_mode("status500", top_only=True, chunks_only=True)
    try:
        t0 = time.monotonic()
        r = cluster.srun("-w", "n3", "--container-pull=lazy", f"--container-image={reg.ref}",
                         "sh", "-c", "busybox md5sum /data/big.bin; echo rc=$?", timeout=120)
        took = time.monotonic() - t0
        log = reg.requests()
    finally:
        reg.set_mode("honest")
    out = r.stdout + r.stderr
    assert "rc=1" in r.stdout and "Input/output error" in out, r
    assert hashlib.md5(LAZY_FILES[0]).hexdigest() not in out, r  # no byte of it served
    assert any(m == "status500" for *_, m in log), log
    assert_clean(cluster)
    assert str(cluster.node_store("n3")) not in Path("/proc/self/mountinfo").read_text()
    print(f"a lazy step whose registry answers 500: srun returned after {took:.2f} s")
