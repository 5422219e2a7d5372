#!/usr/bin/python3
"""The CPU of a lazy start with a large table of contents, two gantry binaries alternated.

    sudo bench/lazy_start_cpu.py BEFORE_GANTRY AFTER_GANTRY [--files 57000] [--rounds 6]
                                 [--dir /var/tmp/gantry-lazy-start] [--callgrind]

The image (built once in DIR): busybox and a layer of FILES small files in a site-packages-like
tree (bench/image_profiles.py's "pytree" shape, files of 50 B-8 KB so that it builds in a minute),
pushed with AFTER_GANTRY as eStargz to a docker-registry on 127.0.0.1 (tests/fixtures/registry).
Each round runs `gantry run --rm --pull lazy --tls-verify=false IMAGE true` with each binary in
a fresh store (the order reversed every other round) and takes the CPU (user + system) of every
process it ran and waited for, and the wall time (--no-prefetch: GANTRY_LAZY_PREFETCH=0, the
start without the background fetch of the rest). --callgrind adds the instructions of one
`gantry pull --lazy` per binary (valgrind --tool=callgrind; the pull is the start's TOC work:
fetching, verifying, parsing and storing the TOCs).
"""
import argparse
import random
import resource
import shutil
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
from fixtures import mkimage  # noqa: E402
from fixtures.registry.harness import Registry  # noqa: E402


def make_archive(path, files):
    E = mkimage.Entry
    rnd = random.Random(40)
    base = "usr/lib/python3/site-packages"
    entries = [E.dir("usr/lib/python3"), E.dir(base)]
    n = pkg = 0
    while n < files:
        top = f"{base}/pkg{pkg:04d}"
        pkg += 1
        for sub in range(rnd.randint(1, 6)):
            d = top if sub == 0 else f"{top}/sub{sub}"
            entries.append(E.dir(d))
            for m in range(rnd.randint(3, 16)):
                if n >= files:
                    break
                name = "__init__" if m == 0 else f"mod{m:02d}"
                size = min(int(rnd.lognormvariate(6.5, 1.0)), 8000)
                entries.append(E.file(f"{d}/{name}.py", rnd.randbytes(size)))
                n += 1
                if m % 2 == 0:
                    entries.append(E.file(f"{d}/__pycache__/{name}.cpython-311.pyc",
                                          rnd.randbytes(size // 2 + 50)))
                    n += 1
    layer = mkimage.Layer(entries, sort=False)
    img = mkimage.busybox_image(extra_layers=[layer])
    tmp = path.with_suffix(".tmp")
    mkimage.write_docker_archive(tmp, [(img, ["bigtoc:latest"])])
    tmp.rename(path)


def pushed(reg, files):
    req = urllib.request.Request(
        f"http://{reg.addr}/v2/bench/bigtoc/manifests/{files}", method="HEAD",
        headers={"Accept": "application/vnd.oci.image.manifest.v1+json"})
    try:
        urllib.request.urlopen(req)
        return True
    except urllib.error.HTTPError:
        return False


EXTRA_ENV = {}


def gantry(binary, root, *args, check=True):
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "GANTRY_ROOT": str(root), "LANG": "C.UTF-8",
           **EXTRA_ENV}
    r = subprocess.run([str(binary), *args], env=env, capture_output=True, text=True)
    if check and r.returncode != 0:
        raise SystemExit(f"gantry {' '.join(args)}: {r.returncode}\n{r.stderr}")
    return r


def start(binary, root, ref):
    shutil.rmtree(root, ignore_errors=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    gantry(binary, root, "run", "--rm", "--pull", "lazy", "--tls-verify=false", ref, "true")
    wall = time.monotonic() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    shutil.rmtree(root, ignore_errors=True)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), wall


def instructions(binary, root, ref):
    shutil.rmtree(root, ignore_errors=True)
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "GANTRY_ROOT": str(root)}
    r = subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={root}.callgrind",
                        str(binary), "pull", "--lazy", "--tls-verify=false", ref],
                       env=env, capture_output=True, text=True)
    shutil.rmtree(root, ignore_errors=True)
    total = 0
    for line in r.stderr.splitlines():  # one "Collected" per process valgrind followed
        if "Collected :" in line:
            total += int(line.split(":")[-1])
    return total


def med(v):
    return f"{statistics.median(v):.3f} ({min(v):.3f}-{max(v):.3f})"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("before")
    ap.add_argument("after")
    ap.add_argument("--files", type=int, default=57000)
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--dir", default="/var/tmp/gantry-lazy-start")
    ap.add_argument("--callgrind", action="store_true")
    ap.add_argument("--no-prefetch", action="store_true",
                    help="GANTRY_LAZY_PREFETCH=0: the start alone, no background fetch")
    a = ap.parse_args()
    if a.no_prefetch:
        EXTRA_ENV["GANTRY_LAZY_PREFETCH"] = "0"
    d = Path(a.dir)
    d.mkdir(parents=True, exist_ok=True)
    archive = d / f"bigtoc-{a.files}.tar"
    if not archive.exists():
        make_archive(archive, a.files)
    reg = Registry(d / "reg").start()
    try:
        ref = f"{reg.addr}/bench/bigtoc:{a.files}"
        if not pushed(reg, a.files):  # the registry's storage is kept in DIR between runs
            push = d / "push-store"
            shutil.rmtree(push, ignore_errors=True)
            gantry(a.after, push, "load", str(archive))
            t0 = time.monotonic()
            gantry(a.after, push, "push", "--tls-verify=false", "--compression", "estargz",
                   "bigtoc:latest", ref)
            print(f"pushed {ref} as eStargz in {time.monotonic() - t0:.1f} s", flush=True)
            shutil.rmtree(push, ignore_errors=True)
        cpu = {"before": [], "after": []}
        wall = {"before": [], "after": []}
        for r in range(a.rounds):
            for which in (["before", "after"] if r % 2 == 0 else ["after", "before"]):
                c, w = start(getattr(a, which), d / f"store-{which}", ref)
                cpu[which].append(c)
                wall[which].append(w)
                print(f"round {r + 1} {which}: cpu {c:.3f} s, wall {w:.3f} s", flush=True)
        for which in ("before", "after"):
            print(f"{which}: CPU s {med(cpu[which])}, wall s {med(wall[which])}")
        ratio = statistics.median(cpu["after"]) / statistics.median(cpu["before"])
        print(f"after/before CPU: {ratio:.3f}")
        if a.callgrind:
            for which in ("before", "after"):
                n = instructions(getattr(a, which), d / f"store-cg-{which}", ref)
                print(f"{which}: gantry pull --lazy: {n:,} instructions (callgrind)", flush=True)
    finally:
        reg.stop()


if __name__ == "__main__":
    main()
