"""The Slurm plugin's options (docs/slurm.md's table) on the 4-node cluster, GPUs from GRES, PMI2
and PMIx (an Open MPI hello world), and Slurm's own `srun --container` running `gantry oci`;
the lifecycle is in test_slurm.py."""
import contextlib
import os
import shutil
import subprocess
import time

import pytest

from conftest import NOBODY
from slurm_common import (  # noqa: F401 (pytest fixtures, used as test arguments)
    assert_clean, cluster, fuse_open, gantry, image, user_file)


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


@contextlib.contextmanager
def gpu_0_held(cluster, node):
    """A job holding GPU 0 of NODE while the block runs: the next step there gets GPU 1."""
    holder = subprocess.Popen(cluster.as_user(["srun", "-w", node, "--gres=gpu:1", "sleep", "60"]),
                              env=cluster.env(), cwd=str(cluster.home))
    try:
        end = time.time() + 20  # until the holder's job runs (holds its GPU)
        while time.time() < end and not cluster.run("squeue", "-h", "-t", "R").stdout.strip():
            time.sleep(0.1)
        yield
    finally:
        holder.kill()
        holder.wait()


def test_gpus_from_gres(cluster, image):
    # the next step on n1 gets GPU 1 from Slurm, and its container gets that GPU only, numbered
    # 0 inside
    with gpu_0_held(cluster, "n1"):
        r = cluster.srun("-w", "n1", "--gres=gpu:1", f"--container-image={image}", "sh", "-c",
                         'echo "$SLURM_STEP_GPUS $CUDA_VISIBLE_DEVICES"; ls /dev | grep "^nvidia[0-9]"')
        assert r.returncode == 0, r
        assert r.stdout.split() == ["1", "0", "nvidia1"], r
    r = cluster.srun("-w", "n2", "--gres=gpu:2", f"--container-image={image}", "sh", "-c",
                     'echo "$CUDA_VISIBLE_DEVICES"; ls /dev | grep "^nvidia[0-9]"')
    assert r.returncode == 0, r
    assert r.stdout.split() == ["0,1", "nvidia0", "nvidia1"], r
    # no GRES, no GPU
    r = cluster.srun("-w", "n3", f"--container-image={image}", "sh", "-c",
                     'ls /dev | grep -c "^nvidia" || true')
    assert r.stdout.strip() == "0", r
    assert_clean(cluster)


def test_intel_gpus_from_gres(cluster, image):
    # n4's GPUs are Intel's (slurm_common): Slurm numbers them in ZE_AFFINITY_MASK alone
    # (gres.conf Flags=intel_gpu_env), a variable the plugin knows from the gantry binary (its
    # Intel backend), and n4's GPU roots are plugstack.conf's driver_root=, dev_root= and
    # sys_root= with %n. The step gets GPU 1: its render node only, Level Zero's mask numbered 0
    with gpu_0_held(cluster, "n4"):
        r = cluster.srun("-w", "n4", "--gres=gpu:1", f"--container-image={image}", "sh", "-c",
                         'echo "$SLURM_STEP_GPUS $ZE_AFFINITY_MASK ${CUDA_VISIBLE_DEVICES-unset}"; '
                         'ls /dev/dri | grep "^renderD"')
        assert r.returncode == 0, r
        assert r.stdout.split() == ["1", "0", "unset", "renderD129"], r
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
    # Both containers must be alive at once for their mount namespaces to differ: a namespace's
    # inode number is reused once the first container is gone. Each task leaves a file in a
    # shared volume and waits (up to 60 s) until the other task's file is there.
    sync = shared / "sync"
    shutil.rmtree(sync, ignore_errors=True)
    sync.mkdir()
    os.chown(sync, NOBODY.pw_uid, NOBODY.pw_gid)
    gantry(cluster, "n1", "bundle", "-v", f"{sync}:/sync", image, shared / "bundle")
    r = cluster.srun("-N2", f"--container={shared / 'bundle'}", "sh", "-c",
                     'mktemp /sync/task.XXXXXX >/dev/null; i=0; '
                     'while [ "$(ls /sync | wc -l)" -lt 2 ] && [ $i -lt 1200 ]; do '
                     'sleep 0.05; i=$((i+1)); done; '
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


def test_container_entrypoint(cluster, image, mk):
    """--container-entrypoint: the image's entrypoint runs (once per node, the holder as its
    command); what it exports reaches every task. Without the flag it does not run."""
    from fixtures.mkimage import Entry, busybox_layer
    # it takes its time: the tasks must wait until it has exec'ed the holder to see its env
    ep = Entry.file("ep.sh", "#!/bin/sh\nsleep 1\nexport FROM_EP=ran\nexec \"$@\"\n", 0o755)
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
    # pyxis' spellings: the file named without ./ (pyxis#168: the job's directory's), and
    # REGISTRY#IMAGE (pyxis#67)
    r = cluster.srun("-w", "n3", "--container-image=saved.sqsh", "cat", "/saved.txt")
    assert r.returncode == 0 and r.stdout == "written on n1\n", r
    r = cluster.srun("-w", "n2", f"--container-image=docker.io#library/{image}", "true")
    assert r.returncode == 0, r
    assert_clean(cluster)
