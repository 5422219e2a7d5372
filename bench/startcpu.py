#!/usr/bin/python3
"""Where a start's CPU time goes, by process and phase (issue 21, bench/README.md session 12).

    startcpu.py [--runs N] [--run-dir DIR] [--load N] [--concurrent N] [--keep FILE]
                [--startload PATH] -- CMD [ARG...]
    startcpu.py --from FILE -- CMD [ARG...]     (analyse a trace kept with --keep again)

Records the scheduler of the whole machine (`perf record -a`: sched_switch, sched_process_fork,
exec and exit) while `startload repeat N CMD...` (or `startload batch`) runs CMD N times, then
adds up each process's time on a CPU from the switch events, split at its execs:

  runtime                the process that exec'ed CMD, until it execs something else
  runtime -> exec F      the same process after it exec'ed F (ch-run execs the workload itself)
  child L<d>             a clone at depth d (a child of the runtime is L1) that never execs: an
                         early-start helper, a keeper, an init
  child L<d> setup       a clone before its exec: the container process building the container
  child L<d> -> exec F   after it exec'ed F: the workload (/bin/true), or a tool (chroot)

and prints the mean per start, the processes and context switches per start, and the time of
the kernel's threads (kworkers, RCU, softirqs) over the same window, divided by the runs: on a
machine where others work, that last figure is theirs too. The time of a process that exits
after the trace stopped is cut off (a keeper exits just after its runtime: the last run's).

--run-dir: a run directory kept by `bench/run.sh --keep`: the loop runs as its owner with the
environment stage 2 used (HOME, XDG dirs, GANTRY_ROOT), and startload is its bin/startload.
--load N: N busy loops (`startload spin`) run during the trace. --concurrent N: each of the
runs is a batch of N concurrent starts (`startload batch`). --startload: the startload binary
(without --run-dir: `startload` on PATH; build it from bench/startload.c). Needs root (or
perf_event_paranoid <= -1) for the machine-wide trace.
"""

import argparse
import collections
import os
import pwd
import re
import shutil
import subprocess
import sys
import tempfile

EVENTS = ["sched:sched_switch", "sched:sched_process_fork", "sched:sched_process_exec",
          "sched:sched_process_exit"]
KERNEL_THREADS = re.compile(r"^(kworker|ksoftirqd|rcu_|migration|kcompactd|kswapd|kdamond)")
LINE = re.compile(r"^\s*(.+?)\s+(\d+)/(\d+)\s+\[(\d+)\]\s+([\d.]+):\s+([\w:]+):\s*(.*)$")


def stage2_env(run_dir):
    w = run_dir
    user = pwd.getpwuid(os.stat(w).st_uid).pw_name
    return ["env", "-i", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            f"HOME={w}/home", f"USER={user}", f"LOGNAME={user}", "LANG=C.UTF-8",
            f"TMPDIR={w}/tmp", f"XDG_RUNTIME_DIR={w}/run", f"XDG_CONFIG_HOME={w}/home/.config",
            f"XDG_DATA_HOME={w}/home/.local/share", f"XDG_CACHE_HOME={w}/home/.cache",
            f"GANTRY_ROOT={w}/store"]


def record(args, data):
    startload = args.startload or (os.path.join(args.run_dir, "bin/startload") if args.run_dir
                                   else "startload")
    loop = ([startload, "batch", str(args.concurrent)] if args.concurrent else []) + args.cmd
    loop = [startload, "repeat", str(args.runs)] + loop
    if args.run_dir:
        st = os.stat(args.run_dir)
        if os.geteuid() == 0 and st.st_uid != 0:
            loop = ["setpriv", f"--reuid={st.st_uid}", f"--regid={st.st_gid}", "--clear-groups",
                    "--"] + loop
        loop = stage2_env(args.run_dir) + loop
    spin = None
    if args.load:
        spin = subprocess.Popen([startload, "spin", str(args.load)], stdout=subprocess.DEVNULL)
    try:
        cmd = ["perf", "record", "-q", "-a", "-o", data] + [a for e in EVENTS for a in ("-e", e)]
        subprocess.run(cmd + ["--"] + loop, check=True, stdout=subprocess.DEVNULL)
    finally:
        if spin:
            spin.terminate()
            spin.wait()


def analyse(data, cmd0):
    text = subprocess.run(["perf", "script", "-i", data, "-F", "comm,pid,tid,cpu,time,event,trace"],
                          check=True, capture_output=True, text=True).stdout
    cur, since = {}, {}                      # per CPU: the task on it, since when
    seg = collections.defaultdict(int)       # task -> its exec count (segment)
    runtime = collections.defaultdict(float)  # (task, segment) -> seconds on a CPU
    switches = collections.Counter()         # task -> times switched in
    exe = {}                                 # (task, segment) -> the file exec'ed
    parent = {}
    comm = {}
    t_first = t_last = None
    for line in text.splitlines():
        m = LINE.match(line)
        if not m:
            continue
        _, _, tid, cpu, t, ev, trace = m.groups()
        tid, cpu, t = int(tid), int(cpu), float(t)
        t_first = t if t_first is None else t_first
        t_last = t
        if ev == "sched:sched_switch":
            f = dict(re.findall(r"(\w+)=(\S+)", trace))
            prev, nxt = int(f["prev_pid"]), int(f["next_pid"])
            if cpu in cur and cur[cpu] == prev:
                runtime[(prev, seg[prev])] += t - since[cpu]
            comm.setdefault(prev, f["prev_comm"])
            comm[nxt] = f["next_comm"]
            cur[cpu], since[cpu] = nxt, t
            switches[nxt] += 1
        elif ev == "sched:sched_process_fork":
            f = dict(re.findall(r"(\w+)=(\S+)", trace))
            parent[int(f["child_pid"])] = int(f["pid"])
        elif ev == "sched:sched_process_exec":
            if cur.get(cpu) == tid:
                runtime[(tid, seg[tid])] += t - since[cpu]
                since[cpu] = t
            seg[tid] += 1
            exe[(tid, seg[tid])] = re.search(r"filename=(\S+)", trace).group(1)
    # a start: a process that exec'ed CMD (from the loop, or from a batch)
    first_seg = {}
    for (tid, s), f in exe.items():
        if f == cmd0 and s < first_seg.get(tid, 1 << 30):
            first_seg[tid] = s
    roots = sorted(first_seg)
    depth = {}
    for r in roots:
        depth[r] = 0
    changed = True
    while changed:
        changed = False
        for c, p in parent.items():
            if p in depth and c not in depth:
                depth[c] = depth[p] + 1
                changed = True
    per_role = collections.defaultdict(float)
    procs = switch_ins = 0
    for (tid, s), secs in runtime.items():
        if tid not in depth:
            continue
        d = depth[tid]
        if d == 0:
            if s < first_seg[tid]:
                continue  # the loop's fork, before the exec of CMD
            role = "runtime" if s == first_seg[tid] else f"runtime -> exec {exe[(tid, s)]}"
        elif s == 0:
            role = f"child L{d}" + (" setup" if seg[tid] > 0 else "")
        else:
            role = f"child L{d} -> exec {exe[(tid, s)]}"
        per_role[role] += secs
    for tid in depth:
        procs += 1
        switch_ins += switches[tid]
    kernel = sum(secs for (tid, _), secs in runtime.items()
                 if tid not in depth and KERNEL_THREADS.match(comm.get(tid, "")))
    n = len(roots)
    return dict(n=n, per_role=per_role, procs=procs, switches=switch_ins, kernel=kernel,
                window=(t_last - t_first) if t_first else 0.0)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--run-dir")
    ap.add_argument("--startload")
    ap.add_argument("--load", type=int, default=0)
    ap.add_argument("--concurrent", type=int, default=0)
    ap.add_argument("--keep", help="keep the perf data in this file")
    ap.add_argument("--from", dest="src", help="analyse this perf data (recorded by --keep)")
    ap.add_argument("cmd", nargs="+")
    args = ap.parse_args()
    # the file as exec reports it: others' runs of a program of the same name are not ours
    cmd0 = os.path.abspath(args.cmd[0]) if "/" in args.cmd[0] else shutil.which(args.cmd[0])
    if not cmd0:
        sys.exit(f"startcpu: no {args.cmd[0]} on PATH")
    tmp = None
    if args.src:
        data = args.src
    elif args.keep:
        data = args.keep
    else:
        tmp = tempfile.mkdtemp(prefix="startcpu-")
        data = os.path.join(tmp, "perf.data")
    try:
        if not args.src:
            record(args, data)
        r = analyse(data, cmd0)
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    n = r["n"]
    if not n:
        sys.exit(f"startcpu: no exec of {cmd0} in the trace")
    print(f"{' '.join(args.cmd)}: {n} starts"
          + (f" (in batches of {args.concurrent})" if args.concurrent else "")
          + (f", {args.load} busy loops" if args.load else ""))
    print(f"  {'CPU ms per start':<40}{'ms':>8}")
    total = 0.0
    for role, secs in sorted(r["per_role"].items(), key=lambda kv: kv[0]):
        print(f"  {role:<40}{secs / n * 1e3:8.3f}")
        total += secs
    print(f"  {'all of the above':<40}{total / n * 1e3:8.3f}")
    print(f"  processes per start: {r['procs'] / n:.2f}; times switched in per start: "
          f"{r['switches'] / n:.1f}")
    print(f"  kernel threads (kworkers, RCU, softirqs; machine-wide, others' included): "
          f"{r['kernel'] / n * 1e3:.3f} ms per start over a {r['window']:.2f} s window")


if __name__ == "__main__":
    main()
