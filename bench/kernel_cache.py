#!/usr/bin/python3
"""What --kernel-cache saves a start whose workload compiles into an on-disk cache, on the CPU
(issue 79; docs/kernel-caches.md). The stand-in for a GPU JIT is ccache over g++: the variable
gantry points into the key's cache is CCACHE_DIR, as it points CUDA_CACHE_PATH, TRITON_CACHE_DIR
and the others. The workload compiles FILES (4) C++ translation units (each including <regex>,
<map>, <string>, <vector>, <iostream> and instantiating std::regex: seconds of g++ -O2 each) from /src into /tmp in the
container; the image is busybox, the compiler and ccache are the host's, bound read-only
(/usr, and /usr/lib and /usr/lib64 at /lib and /lib64, as Debian's merged /usr links them).

Three kinds of start, alternated round by round:
  cold        the first start of a fresh key: every unit compiled, the writer's results
              published at exit
  second      the next start of that key: every unit a ccache hit
  concurrent  two starts of a key at once (a key with one published start): one writes, the
              other reads; both hit
  other node  the key pushed to a shared image store (`kernel-cache push --image-store`), then
              the first start of another caches' root (a second node) reading that store
Wall time per start and CPU time (user+sys of gantry and everything it forked, the container's
compilers included): medians over the rounds, with min-max. A check that the second start
compiled nothing (ccache's own statistics inside the container: hits == FILES) is printed with
the figures.

    bench/kernel_cache.py [--gantry build/gantry] [--rounds 5] [--files 4]

A measurement, not a test: exits 0 whatever the figures (non-zero when a command fails).
Root or not: a private store under $BENCH_DIR (default /var/tmp/gantry-bench).
"""
import argparse
import atexit
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

TESTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests")
sys.path.insert(0, TESTS)
from fixtures import mkimage as mk  # noqa: E402

UNIT = r"""
#include <iostream>
#include <map>
#include <regex>
#include <string>
#include <vector>
std::map<std::string, int> count_{n}(const std::vector<std::string>& lines) {{
    std::map<std::string, int> out;
    std::regex word("[a-z]+_{n}");
    for (const auto& l : lines)
        for (std::sregex_iterator i(l.begin(), l.end(), word), e; i != e; ++i) ++out[i->str()];
    return out;
}}
"""

# compile every unit through ccache, then print ccache's hit count for this start
WORK = ("set -e; ccache -z >/dev/null; cd /src; for f in *.cpp; do "
        "ccache g++ -O2 -c \"$f\" -o \"/tmp/${f%.cpp}.o\"; done; "
        "ccache --print-stats | awk -F'\\t' "
        "'/^(direct|preprocessed)_cache_hit\\t/ {s += $2} END {print \"hits=\" s}'")


def children_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--gantry", default=os.path.join(TESTS, "..", "build", "gantry"))
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--files", type=int, default=4)
    args = ap.parse_args()
    for tool in ("g++", "ccache"):
        if not shutil.which(tool):
            sys.exit(f"kernel_cache.py: needs {tool} (Debian packages g++ and ccache)")
    base = os.environ.get("BENCH_DIR", "/var/tmp/gantry-bench")
    os.makedirs(base, exist_ok=True)
    work = tempfile.mkdtemp(prefix="kernel-cache-", dir=base)
    atexit.register(shutil.rmtree, work, True)  # a failed start too
    gantry = os.path.join(work, "gantry")
    shutil.copy2(args.gantry, gantry)
    env = dict(os.environ, GANTRY_ROOT=os.path.join(work, "store"))
    env.pop("GANTRY_CONFIG", None)
    src = os.path.join(work, "src")
    os.makedirs(src)
    for n in range(args.files):
        with open(os.path.join(src, f"unit{n}.cpp"), "w") as f:
            f.write(UNIT.format(n=n))
    archive = os.path.join(work, "bb.tar")
    mk.write_docker_archive(archive, [(mk.busybox_image(), ["bench/busybox:1"])])
    subprocess.run([gantry, "load", archive], env=env, check=True, capture_output=True)

    def start(root, out, shared=None):
        t0, c0 = time.monotonic(), children_cpu()
        store = ["--image-store", shared] if shared else []
        p = subprocess.run([gantry, *store, "run", f"--kernel-cache={root}", "-v", "/usr:/usr:ro",
                            "-v", "/usr/lib:/lib:ro", "-v", "/usr/lib64:/lib64:ro",
                            "-v", f"{src}:/src:ro",
                            "bench/busybox:1", "sh", "-c", WORK],
                           env=env, capture_output=True, text=True)
        if p.returncode != 0:
            sys.exit(f"start failed: {p.stdout}{p.stderr}")
        hits = p.stdout.strip().splitlines()[-1]
        out.append((time.monotonic() - t0, children_cpu() - c0, hits))

    figures = {"cold": [], "second": [], "concurrent": [], "other node": []}
    for r in range(args.rounds):
        root = os.path.join(work, f"caches-{r}")  # a fresh key every round
        for kind in figures:
            if kind == "other node":
                # the key pushed to a shared image store; a node with none of its own (another
                # caches' root) that reads the store: its first start
                shared = os.path.join(work, f"shared-{r}")
                os.makedirs(shared)
                key = subprocess.run([gantry, "kernel-cache", "ls", "-q", "--dir", root], env=env,
                                     check=True, capture_output=True, text=True).stdout.split()
                subprocess.run([gantry, "kernel-cache", "push", "--dir", root, "--image-store",
                                shared, *key], env=env, check=True, capture_output=True)
                start(os.path.join(work, f"node-b-{r}"), figures[kind], shared)
            elif kind == "concurrent":
                # CPU time of two starts at once: measured as a whole, halved per start
                got = []
                c0 = children_cpu()
                ts = [threading.Thread(target=start, args=(root, got)) for _ in range(2)]
                for t in ts:
                    t.start()
                for t in ts:
                    t.join()
                cpu = (children_cpu() - c0) / 2
                figures[kind] += [(w, cpu, h) for w, _, h in got]
            else:
                start(root, figures[kind])

    print(f"kernel cache benchmark: {args.files} C++ units, ccache over g++ -O2, "
          f"{args.rounds} rounds, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")
    print(f"{'start':<12} {'wall s (median, min-max)':<28} {'CPU s (median, min-max)':<28} hits")
    for kind, rows in figures.items():
        wall = [w for w, _, _ in rows]
        cpu = [c for _, c, _ in rows]
        hits = sorted({h for _, _, h in rows})
        print(f"{kind:<12} {statistics.median(wall):6.2f} ({min(wall):.2f}-{max(wall):.2f})"
              f"{'':<12} {statistics.median(cpu):6.2f} ({min(cpu):.2f}-{max(cpu):.2f})"
              f"{'':<12} {','.join(hits)}")


if __name__ == "__main__":
    main()
