#!/usr/bin/python3
"""Regenerates tools/run-path.order: the functions `gantry run` executes, in the order it first
executes them, which CMakeLists.txt hands to lld (--symbol-ordering-file) so that they sit
together at the start of .text.

Why: the kernel maps a binary's text 64 KB at a time on a page fault. Left where the linker puts
them, the ~600 functions a run executes (gantry's, CLI11's, nlohmann's, libstdc++'s) are spread
over 4.5 MB and cost ~35 more page faults at every start (~3 us each here). See bench/README.md.

How: tools/trace_ips.c single-steps gantry (and its container child until the workload's exec)
through a set of runs on the busybox sample image, as the current user and, when that is root,
also rootless as nobody; the instruction offsets are mapped to the binary's function symbols.

Run it after changes to the run path (a stale list costs start time, never correctness: lld
ignores names it does not find):

    tools/link_order.py [--gantry build/gantry] [--output tools/run-path.order]

then rebuild. Needs a C compiler, and root for the rootless runs (setpriv); single-stepping
makes each run take 30 s (rootless) to 2 min (root): 15-35 min in all on 2 cores.
"""
import argparse
import bisect
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent

# Each entry: gantry arguments. The first ones weigh most (they decide the order).
SCENARIOS = [
    ["run", "sample", "true"],
    ["run", "--rm", "sample", "true"],
    ["run", "--read-only", "sample", "true"],
    ["run", "-v", "/tmp:/data:ro", "-e", "A=B", "-w", "/w", "--tmpfs", "/scratch", "sample", "true"],
    ["run", "--network", "none", "--hostname", "h", "sample", "true"],
    ["run", "--init", "sample", "true"],
    ["run", "--writable-layer", "disk", "sample", "true"],
    ["run", "--security-opt", "seccomp=unconfined", "sample", "true"],
    ["run", "sample", "false"],
]
# As root (traced runs are slow there, ~2 min each): the common ones only.
ROOT_SCENARIOS = SCENARIOS[:3]


def text_delta(binary: Path) -> int:
    """vaddr - file offset of the executable PT_LOAD segment."""
    out = subprocess.run(["readelf", "-lW", str(binary)], capture_output=True, text=True,
                         check=True).stdout
    for line in out.splitlines():
        f = line.split()
        if f and f[0] == "LOAD" and "E" in f[6:-1]:
            return int(f[2], 16) - int(f[1], 16)
    sys.exit(f"link_order: {binary} has no executable LOAD segment")


def function_symbols(binary: Path):
    out = subprocess.run(["nm", "--defined-only", "-S", "--no-demangle", str(binary)],
                         capture_output=True, text=True, check=True).stdout
    syms = []
    for line in out.splitlines():
        f = line.split()
        if len(f) == 4 and f[2] in "tTwW":
            syms.append((int(f[0], 16), int(f[1], 16), f[3]))
    if not syms:
        sys.exit(f"link_order: {binary} has no symbols (stripped?)")
    syms.sort()
    return syms


def order_names(binary: Path, trace: Path):
    delta = text_delta(binary)
    syms = function_symbols(binary)
    starts = [s[0] for s in syms]
    names, seen, outside = [], set(), 0
    for line in trace.read_text().splitlines():
        if not line or line == "--":
            continue
        addr = int(line, 16) + delta
        i = bisect.bisect_right(starts, addr) - 1
        if i < 0 or not syms[i][0] <= addr < syms[i][0] + max(syms[i][1], 1):
            outside += 1  # PLT stubs
            continue
        name = syms[i][2]
        if name not in seen:
            seen.add(name)
            names.append(name)
    return names, outside


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--gantry", type=Path, default=REPO / "build" / "gantry")
    ap.add_argument("--output", type=Path, default=HERE / "run-path.order")
    args = ap.parse_args()
    gantry = args.gantry.resolve()
    if not gantry.is_file():
        sys.exit(f"link_order: {gantry} not found: build gantry first (make build)")

    with tempfile.TemporaryDirectory(prefix="gantry-order-", dir="/var/tmp") as tmp:
        tmp = Path(tmp)
        os.chmod(tmp, 0o755)
        # a copy every user can execute, wherever the checkout lives (same bytes, same offsets)
        binary = tmp / "gantry"
        shutil.copy2(gantry, binary)
        os.chmod(binary, 0o755)
        tracer = tmp / "trace_ips"
        subprocess.run([os.environ.get("CC", "cc"), "-O2", "-o", str(tracer), str(HERE / "trace_ips.c")],
                       check=True)
        image = tmp / "busybox.tar"
        subprocess.run([sys.executable, str(REPO / "tests/fixtures/mkimage.py"), "busybox", "--format",
                        "docker-archive", "--tag", "sample:latest", str(image)], check=True,
                       stdout=subprocess.DEVNULL)
        os.chmod(image, 0o644)
        trace = tmp / "trace.txt"
        trace.touch()
        os.chmod(trace, 0o666)

        users = []
        if os.geteuid() == 0:  # rootless first: it is the common case and decides the order
            users.append(pwd.getpwnam("nobody"))
        users.append(pwd.getpwuid(os.geteuid()))
        for user in users:
            home = tmp / f"home-{user.pw_name}"
            for d in (home, home / "run"):
                d.mkdir()
                if os.geteuid() == 0:
                    os.chown(d, user.pw_uid, user.pw_gid)
                os.chmod(d, 0o700)
            env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": str(home), "USER": user.pw_name,
                   "XDG_RUNTIME_DIR": str(home / "run"), "GANTRY_ROOT": str(home / "store")}
            prefix = []
            if user.pw_uid != os.geteuid():
                prefix = ["setpriv", f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}", "--clear-groups",
                          "--"]
            subprocess.run(prefix + [str(binary), "load", str(image)], env=env, check=True,
                           stdout=subprocess.DEVNULL)
            for scenario in (ROOT_SCENARIOS if user.pw_uid == 0 and len(users) > 1 else SCENARIOS):
                r = subprocess.run(prefix + [str(tracer), str(trace), str(binary)] + scenario, env=env,
                                   capture_output=True, text=True)
                expected = 1 if scenario[-1] == "false" else 0
                if r.returncode != expected:
                    sys.exit(f"link_order: `gantry {' '.join(scenario)}` as {user.pw_name} exited "
                             f"{r.returncode}:\n{r.stderr}")
        names, outside = order_names(gantry, trace)

    header = ("# Functions `gantry run` executes, in first-execution order: lld places them first in\n"
              "# .text (CMakeLists.txt). Generated by tools/link_order.py; regenerate after changes to\n"
              "# the run path. Mangled names; names missing from a build are ignored.\n")
    tmp_out = args.output.with_suffix(".tmp")
    tmp_out.write_text(header + "".join(n + "\n" for n in names))
    os.replace(tmp_out, args.output)
    print(f"link_order: {len(names)} functions ({outside} instructions outside functions, PLT) "
          f"-> {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
