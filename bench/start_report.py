#!/usr/bin/python3
"""Print bench/run.sh's start-time tables (issues 3 and 21) from its output directory.

    start_report.py OUT

OUT holds meta.env (facts, key=value), rows.tsv (name, status, class, command or reason),
and per scenario SID and round R: hf-SID-R.json (hyperfine), left-SID-R.tsv (the processes
the timed commands left behind, "COMM<TAB>CPU_US", from `startload reap`) and, for a loaded
scenario, spin-SID-R.txt (what the busy loops got).

Per row: the wall time (median of the round medians, their spread, mean and sd of all runs),
the CPU time (user+sys, the median of the rounds' means, plus the mean CPU of what the row
left behind, e.g. a keeper that outlives gantry), and the ratios against unshare+chroot,
ch-run and the isolation floor. A batch row (concN) is N concurrent starts: its times are
the batch's.

Targets: issue 3 (quiet): gantry <= ch-run, <= 1.5x unshare+chroot. Issue 21: a single start
under load <= 1.6x ch-run, N concurrent starts <= 1.5x ch-run's batch, and the quiet figure
no worse than the baseline binary's (--baseline; within 5 %).
"""

import glob
import json
import os
import re
import statistics
import sys

CH_TARGET = 1.0       # issue 3: gantry / ch-run <= this, quiet
BASE_TARGET = 1.5     # issue 3: gantry / unshare+chroot <= this, quiet
LOAD_TARGET = 1.6     # issue 21: gantry / ch-run <= this, a single start under load
CONC_TARGET = 1.5     # issue 21: gantry / ch-run <= this, concurrent starts
NO_WORSE = 1.05       # issue 21: quiet gantry / the baseline binary <= this

UNSHARE, CHRUN, FLOOR = "unshare+chroot", "ch-run (directory)", "isolation floor (bench/floor.c)"
BASELINE = "gantry run [base]"


def scenario_parts(sid):
    load = conc = 0
    if sid != "quiet":
        for p in sid.split("+"):
            if p.startswith("load"):
                load = int(p[4:])
            elif p.startswith("conc"):
                conc = int(p[4:])
    return load, conc


def describe(sid):
    load, conc = scenario_parts(sid)
    what = [f"{load} busy loop{'s' if load > 1 else ''}" if load else "no busy loops",
            f"batches of {conc} concurrent starts (times per batch)" if conc
            else "one start at a time"]
    return ", ".join(what)


def comm_of(command):
    """The process name a command's leftovers carry: its program's file name, 15 characters."""
    return os.path.basename(command.split()[0])[:15]


def main():
    out = sys.argv[1]
    env = {}
    for line in open(os.path.join(out, "meta.env")):
        if "=" in line:
            k, v = line.rstrip("\n").split("=", 1)
            env[k] = v
    rows = []
    for line in open(os.path.join(out, "rows.tsv")):
        if line.strip():
            name, status, cls, cmd = line.rstrip("\n").split("\t", 3)
            rows.append({"name": name, "status": status, "class": cls, "cmd": cmd})
    runs, warmup = int(env["runs"]), int(env["warmup"])
    scenarios = env["scenarios"].split(",")
    p = print

    p(f"gantry start-to-exit benchmark (/bin/true, busybox image, rootless), {env['date']}")
    p(f"machine: {env['host']}")
    p(f"user: {env['user']}; {env['how']}")
    p(f"filesystem: {env['fs']}")
    p(f"cgroup: {env['cgroup']}")
    p(f"at the start: {env.get('others_start', '?')}")
    p(f"at the end:   {env.get('others_end', '?')}")
    p(f"load average before timing: {env['loadavg']} (after: {env['loadavg_after']}); CPUs busy: "
      f"{env['busy_before']}% in the 2 s before timing, {env['busy_during']}% during it "
      "(all processes, the benchmark's own and its busy loops included)")
    p(f"gantry: {env['gantry']}")
    for k, v in env.items():
        if k.startswith("gantry_") and not k.startswith("gantry_facts_"):
            p(f"gantry run [{k[7:]}]: {v}")
    p(f"tools: {env['tools']}")
    p(f"image: {env['image']}")
    if env.get("podman_info"):
        p(f"podman: {env['podman_info']}")
    for k in ("runc_note", "podman_note"):
        if env.get(k):
            p(f"note: {env[k]}")
    for k, v in env.items():
        if k.startswith("gantry_facts_"):
            p(v.strip())
    p("CPU: user+sys of the command and of all it waited for (hyperfine), plus what it left "
      "behind (\"left\": a keeper that outlives its runtime, reaped by startload)")

    ok_rows = [r for r in rows if r["status"] == "ok"]
    targets = []
    for sid in scenarios:
        files = sorted(glob.glob(os.path.join(out, f"hf-{sid}-*.json")),
                       key=lambda f: int(re.search(r"-(\d+)\.json$", f).group(1)))
        if not files:
            continue
        rounds = [{r["command"]: r for r in json.load(open(f))["results"]} for f in files]
        left = {}
        for f in glob.glob(os.path.join(out, f"left-{sid}-*.tsv")):
            for line in open(f):
                parts = line.rstrip("\n").split("\t")
                if len(parts) == 2:
                    left.setdefault(parts[0], []).append(int(parts[1]))
        load, conc = scenario_parts(sid)
        stats = {}
        for r in ok_rows:
            per = [rnd[r["name"]] for rnd in rounds if r["name"] in rnd]
            if not per:
                continue
            times = [t for x in per for t in x["times"]]
            meds = [statistics.median(x["times"]) for x in per]
            cpu = statistics.median(x["user"] + x["system"] for x in per)
            comm = comm_of(r["cmd"])
            lft = sum(left.pop(comm, [])) / 1e6 / (len(per) * (runs + warmup)) if not conc else 0
            fails = sum(1 for x in per for c in (x.get("exit_codes") or []) if c)
            stats[r["name"]] = dict(row=r, wall=statistics.median(meds), meds=meds, times=times,
                                    cpu=cpu + lft, left=lft, fails=fails)

        def wall(name):
            return stats[name]["wall"] if name in stats else None

        def cpu(name):
            return stats[name]["cpu"] if name in stats else None

        p("")
        p(f"== {sid}: {describe(sid)}; hyperfine -N, {len(rounds)} rounds of {runs} runs, "
          f"{warmup} warmup ==")
        p("  " + "; ".join(f"round {i + 1}: {env.get(f'during_{sid}_{i + 1}', '?')}"
                           for i in range(len(rounds))))
        spins = []
        for f in glob.glob(os.path.join(out, f"spin-{sid}-*.txt")):
            m = re.search(r"([0-9.]+) CPUs", open(f).read())
            if m:
                spins.append(float(m.group(1)))
        if spins:
            p(f"  the {load} busy loops got {statistics.mean(spins):.2f} CPUs on average "
              f"(rounds: {', '.join(f'{s:.2f}' for s in spins)})")
        w = max(len(n) for n in stats) + 2
        p("wall: median of the round medians, mean ± sd of all runs; CPU: median of the round "
          "means, of which left behind; ratios of the medians")
        p("".ljust(w) + f"{'wall':>9} {'mean':>9} {'± sd':>7}  {'CPU':>8} {'left':>6}  "
          f"{'÷unshare':>8} {'÷ch-run':>7} {'÷floor':>6}  {'CPU÷ch-run':>10} {'÷floor':>6}"
          "  round medians")

        def ratio(a, b, width):
            return f"{a / b:{width - 1}.2f}x" if a and b else "-".rjust(width)

        for name, s in stats.items():
            sd = statistics.stdev(s["times"]) if len(s["times"]) > 1 else 0.0
            line = (name.ljust(w) + f"{s['wall'] * 1e3:6.2f} ms {statistics.mean(s['times']) * 1e3:6.2f} ms "
                    f"{sd * 1e3:6.2f}  {s['cpu'] * 1e3:5.2f} ms {s['left'] * 1e3:5.2f}  "
                    f"{ratio(s['wall'], wall(UNSHARE), 8)} {ratio(s['wall'], wall(CHRUN), 7)} "
                    f"{ratio(s['wall'], wall(FLOOR), 6)}  {ratio(s['cpu'], cpu(CHRUN), 10)} "
                    f"{ratio(s['cpu'], cpu(FLOOR), 6)}  "
                    + " ".join(f"{m * 1e3:.2f}" for m in s["meds"]))
            if s["fails"]:
                line += f"  ({s['fails']} of {len(s['times'])} runs failed)"
            p(line)
        for r in rows:
            if r["status"] != "ok":
                p(f"{r['name'].ljust(w)}not timed: {r['cmd']}")
        if left:
            p("  also left behind: " + ", ".join(f"{len(v)} × {k} ({sum(v) / 1e3:.1f} ms CPU)"
                                                 for k, v in sorted(left.items())))
        if conc:
            p(f"  per start: divide the times by {conc}")

        def verdict(ok):
            return "PASS" if ok else "MISS"

        def paired(name):  # round by round against the baseline: robust to the VM's drift
            a, b = stats[name], stats.get(BASELINE)
            if not b:
                return ""
            pairs = list(zip(a["meds"], b["meds"]))
            return f"faster in {sum(1 for x, y in pairs if x < y)} of {len(pairs)} rounds"

        for name, s in stats.items():
            if s["row"]["class"] != "gantry":
                continue
            g, gc = s["wall"], s["cpu"]
            ch, chc = wall(CHRUN), cpu(CHRUN)
            cpu_note = f"(CPU {gc / chc:.2f}x)" if chc else "(CPU -)"
            if not load and not conc:
                parts = []
                if ch:
                    parts.append(f"/ ch-run {g / ch:.2f}x (<= {CH_TARGET:.1f}x) "
                                 f"{verdict(g / ch <= CH_TARGET)}")
                if wall(UNSHARE):
                    b = wall(UNSHARE)
                    parts.append(f"/ unshare+chroot {g / b:.2f}x (<= {BASE_TARGET:.1f}x) "
                                 f"{verdict(g / b <= BASE_TARGET)}")
                targets.append(f"issue 3, {sid}: {name}  {'   '.join(parts)}")
                base = wall(BASELINE)
                if base and name != BASELINE:
                    targets.append(
                        f"issue 21, {sid}: {name} / the baseline binary {g / base:.2f}x "
                        f"(<= {NO_WORSE:.2f}x: no worse than before) {verdict(g / base <= NO_WORSE)}"
                        f" (CPU {gc / cpu(BASELINE):.2f}x; {paired(name)})")
            elif ch:
                limit, what = ((CONC_TARGET, f"{conc} concurrent starts") if conc > 1
                               else (LOAD_TARGET, "a single start under load"))
                vs_base = (f"; / the baseline binary {g / wall(BASELINE):.2f}x, {paired(name)}"
                           if wall(BASELINE) and name != BASELINE else "")
                targets.append(f"issue 21, {sid}: {name} / ch-run {g / ch:.2f}x (<= {limit:.1f}x, "
                               f"{what}) {verdict(g / ch <= limit)} {cpu_note}{vs_base}")
        if wall(FLOOR) and wall(CHRUN):
            targets.append(f"information, {sid}: isolation floor / ch-run {wall(FLOOR) / wall(CHRUN):.2f}x "
                           f"(CPU {cpu(FLOOR) / cpu(CHRUN):.2f}x): what the same isolation costs "
                           "against ch-run's lighter container")
    p("")
    p("targets")
    for t in targets:
        p("  " + t)


if __name__ == "__main__":
    main()
