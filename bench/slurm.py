#!/usr/bin/python3
"""Time of `srun -N4 -n8 ... /bin/true` on the 4-node Slurm of tests/fixtures/slurm_cluster.py
(one machine, four slurmd), issue 25's benchmark. Cases, interleaved round by round so that the
machine's drift hits them alike:

  plain    srun -N4 -n8 /bin/true
  warm     srun --container-image=REF: the image already in every node's store
  sqsh     srun --container-image=/shared/img.sqsh: no store involved
  cold     srun --container-image=REF with every node's store emptied first: 4 parallel pulls
           from the local registry (plus `pull1`: one `gantry pull` alone into an empty store)
  ch-run   srun ch-run DIR -- /bin/true on the same image unpacked (Charliecloud)

srun's wall time is the time to the last task's exit; for /bin/true it is the time to the first
task within a few ms. A measurement, not a test: exits 0 whatever the figures are."""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
from fixtures import mkimage as mk  # noqa: E402
from fixtures.registry.harness import Registry, skopeo_push  # noqa: E402
from fixtures.slurm_cluster import NODES, SlurmCluster  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--build", default=str(REPO / "build"))
    args = ap.parse_args()
    build = Path(args.build)
    d = Path(tempfile.mkdtemp(prefix="gantry-bench-slurm-", dir="/tmp"))
    os.chmod(d, 0o755)
    c = SlurmCluster(d / "cluster", build / "spank_gantry.so", build / "gantry",
                     build / "gantry-hold").start()
    reg = None
    fuse_mode = os.stat("/dev/fuse").st_mode & 0o7777 if os.path.exists("/dev/fuse") else None
    try:
        gbin = str(c.dir / "bin" / "gantry")

        def gantry(store, *a):
            return subprocess.run(c.as_user([gbin, "--root", str(store), *map(str, a)]),
                                  capture_output=True, text=True, env=c.env(), check=True)

        # the image: busybox, in the registry, in every node's store, as a .sqsh, unpacked
        reg = Registry(d / "reg").start()
        layout = d / "layout"
        mk.write_oci_layout(layout, [(mk.busybox_image(), ["latest"])])
        skopeo_push(layout, f"{reg.addr}/bench/bb", "latest")
        ref = f"{reg.addr}/bench/bb:latest"
        conf = c.home / ".config" / "gantry"
        conf.mkdir(parents=True, exist_ok=True)
        (conf / "registries.json").write_text(json.dumps({"insecure-registries": [reg.addr]}))
        subprocess.run(["chown", "-R", f"{c.user.pw_uid}:{c.user.pw_gid}", str(c.home)])
        for n in NODES:
            gantry(c.node_store(n), "pull", "-q", ref)
        shared = d / "shared"
        shared.mkdir()
        os.chown(shared, c.user.pw_uid, c.user.pw_gid)
        gantry(c.node_store("n1"), "save", ref, "--format", "squashfs", "-o", shared / "bb.sqsh")
        gantry(c.node_store("n1"), "bundle", ref, shared / "bundle")
        if fuse_mode is not None:
            os.chmod("/dev/fuse", 0o666)  # a distribution's default; restored at the end

        def cold_prep():
            for n in NODES:
                shutil.rmtree(c.node_store(n), ignore_errors=True)

        def pull1():
            s = d / "pull1"
            shutil.rmtree(s, ignore_errors=True)
            s.mkdir()
            os.chown(s, c.user.pw_uid, c.user.pw_gid)
            t = time.perf_counter()
            gantry(s / "store", "pull", "-q", ref)
            return time.perf_counter() - t

        cases = {
            "plain": ([], None),
            "warm": ([f"--container-image={ref}"], None),
            "sqsh": ([f"--container-image={shared / 'bb.sqsh'}"], None),
            "cold": ([f"--container-image={ref}"], cold_prep),
            "ch-run": (["ch-run", str(shared / "bundle" / "rootfs"), "--"], None),
        }
        have_ch = shutil.which("ch-run") is not None
        times = {k: [] for k in cases}
        times["pull1"] = []
        for _ in range(2):  # warm-up: page cache, slurmd connections
            c.srun("-N4", "-n8", "/bin/true")
        for i in range(args.runs):
            for name, (pre, prep) in cases.items():
                if name == "ch-run" and not have_ch:
                    continue
                if prep:
                    prep()
                argv = ["-N4", "-n8"] + pre + ["/bin/true"]
                t = time.perf_counter()
                r = c.srun(*argv)
                dt = time.perf_counter() - t
                if r.returncode != 0:
                    print(f"{name}: srun failed: {r.stderr}", file=sys.stderr)
                    continue
                times[name].append(dt)
                if name == "cold":  # restore the warm stores for the next round
                    for n in NODES:
                        gantry(c.node_store(n), "pull", "-q", ref)
            times["pull1"].append(pull1())
            c.wait_idle()
        load = os.getloadavg()
        print(f"srun -N4 -n8 /bin/true, 4 slurmd on one machine ({os.cpu_count()} CPUs), "
              f"{args.runs} interleaved runs; load average at the end {load[0]:.2f}")
        print(f"{'case':8} {'median ms':>10} {'min':>8} {'max':>8} {'vs plain':>9}")
        base = statistics.median(times["plain"]) if times["plain"] else None
        for name, ts in times.items():
            if not ts:
                print(f"{name:8} (not run)")
                continue
            med = statistics.median(ts)
            extra = f"{(med - base) * 1000:+8.0f}" if base and name != "pull1" else ""
            print(f"{name:8} {med * 1000:10.0f} {min(ts) * 1000:8.0f} {max(ts) * 1000:8.0f} "
                  f"{extra:>9}")
        if times["cold"] and times["pull1"] and times["warm"]:
            cold, warm = statistics.median(times["cold"]), statistics.median(times["warm"])
            one = statistics.median(times["pull1"])
            print(f"cold - warm (the 4 parallel pulls' cost) = {(cold - warm) * 1000:.0f} ms = "
                  f"{(cold - warm) / one:.2f}x one node's pull alone ({one * 1000:.0f} ms)")
        out = d.parent / "gantry-bench-slurm.json"
        out.write_text(json.dumps(times, indent=1))
        print(f"every run's time: {out}")
    finally:
        if fuse_mode is not None:
            os.chmod("/dev/fuse", fuse_mode)
        if reg:
            reg.stop()
        c.stop()
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
