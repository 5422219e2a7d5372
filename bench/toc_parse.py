#!/usr/bin/python3
"""The CPU of lazy::Toc::parse before and after a change (bench/toc_parse_bench.cpp).

    bench/toc_parse.py BEFORE_BIN AFTER_BIN [--rounds 6] [--entries 57000] [--format estargz]

Each BIN is toc-parse-bench built from one commit (`ninja -C build toc-parse-bench`; for an older
commit, copy bench/toc_parse_bench.cpp and its CMakeLists.txt lines into its checkout). Prints:
- the instructions of the parse (valgrind --tool=callgrind, only inside Toc::parse, one parse of
  the same generated TOC; deterministic, the figure to compare on a busy machine);
- the parse's CPU time (user + system of the parsing thread, CLOCK_THREAD_CPUTIME_ID), ROUNDS
  processes of each binary alternated, 3 parses each: median (min-max) in ms.
"""
import argparse
import re
import statistics
import subprocess
import tempfile


def instructions(binary, entries, fmt):
    with tempfile.NamedTemporaryFile() as out:
        r = subprocess.run(["valgrind", "--tool=callgrind", "--toggle-collect=*Toc::parse*",
                            f"--callgrind-out-file={out.name}", binary, "--entries",
                            str(entries), "--format", fmt, "--rounds", "1"],
                           capture_output=True, text=True, check=True)
    m = re.search(r"Collected : (\d+)", r.stderr)
    return int(m.group(1))


def parse_ms(binary, entries, fmt):
    r = subprocess.run([binary, "--entries", str(entries), "--format", fmt, "--rounds", "3"],
                       capture_output=True, text=True, check=True)
    ms = [float(x) for x in re.findall(r"parse cpu ms: ([\d.]+)", r.stdout)]
    return ms, r.stdout.split("\n")[0]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("before")
    ap.add_argument("after")
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--entries", type=int, default=57000)
    ap.add_argument("--format", default="estargz", choices=["estargz", "zstd"])
    a = ap.parse_args()
    ms = {"before": [], "after": []}
    for r in range(a.rounds):
        order = ["before", "after"] if r % 2 == 0 else ["after", "before"]
        for which in order:
            got, head = parse_ms(getattr(a, which), a.entries, a.format)
            ms[which] += got
    print(head)
    ir = {w: instructions(getattr(a, w), a.entries, a.format) for w in ("before", "after")}
    for w in ("before", "after"):
        v = ms[w]
        print(f"{w}: {ir[w]:,} instructions; CPU {statistics.median(v):.1f} ms "
              f"({min(v):.1f}-{max(v):.1f}, {len(v)} parses)")
    print(f"after/before: instructions {ir['after'] / ir['before']:.3f}, CPU "
          f"{statistics.median(ms['after']) / statistics.median(ms['before']):.3f}")


if __name__ == "__main__":
    main()
