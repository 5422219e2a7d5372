#!/usr/bin/python3
"""Where a command's threads wait: runs COMMAND and every 5 ms reads the state of each of its
threads (and its children's) from /proc; for a thread in D (uninterruptible: waiting on the disk
or a kernel lock) it also reads the kernel stack (/proc/PID/task/TID/stack, root only). Prints
each thread's samples by state, then the commonest D stacks (innermost 7 frames) with counts.

    sudo bench/offcpu_stacks.py [--top N] COMMAND [ARG...]

A sampler, not a profiler: a sample is a glance, and a loaded machine samples less often. Used
for issue 56 (docs/storage.md, "The extra bytes were a load's throw-away blobs")."""
import collections
import os
import subprocess
import sys
import time


def frames(text):
    return [line.split()[1].split("+")[0] for line in text.splitlines() if len(line.split()) > 1]


def threads(pid):
    try:
        return os.listdir(f"/proc/{pid}/task")
    except OSError:
        return []


def children(pid):
    out = []
    for tid in threads(pid):
        try:
            out += open(f"/proc/{pid}/task/{tid}/children").read().split()
        except OSError:
            pass
    return out


def main():
    args = sys.argv[1:]
    top = 25
    if args[:1] == ["--top"]:
        top, args = int(args[1]), args[2:]
    if not args:
        sys.exit(__doc__)
    p = subprocess.Popen(args, stdout=subprocess.DEVNULL)
    states, stacks = collections.Counter(), collections.Counter()
    t0 = time.monotonic()
    while p.poll() is None:
        todo, seen = [str(p.pid)], set()
        while todo:
            pid = todo.pop()
            if pid in seen:
                continue
            seen.add(pid)
            todo += children(pid)
            for tid in threads(pid):
                try:
                    stat = open(f"/proc/{pid}/task/{tid}/stat").read()
                    name = f"{tid}:{stat[stat.index('(') + 1:stat.rindex(')')]}"
                    state = stat[stat.rindex(")") + 2]
                    states[(name, state)] += 1
                    if state == "D":
                        stack = frames(open(f"/proc/{pid}/task/{tid}/stack").read())
                        stacks[(name, " < ".join(stack[:7]))] += 1
                except OSError:  # the thread ended meanwhile
                    pass
        time.sleep(0.005)
    print(f"wall {time.monotonic() - t0:.2f} s, exit status {p.returncode}")
    by = collections.defaultdict(dict)
    for (name, state), n in states.items():
        by[name][state] = n
    for name in sorted(by):
        print(name, dict(sorted(by[name].items())))
    print("--- commonest stacks in state D (samples, thread, innermost frame first)")
    for (name, stack), n in stacks.most_common(top):
        print(n, name, stack)
    sys.exit(p.returncode)


if __name__ == "__main__":
    main()
