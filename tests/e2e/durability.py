"""The ALICE check (Pillai et al., OSDI'14: "All File Systems Are Not Created Equal"), on a
recorded trace: gantry's system calls under strace, and for every name it publishes in a store,

- the data was synced before the rename or link that publishes it: an fsync/fdatasync of the
  file, or a syncfs of the store's file system (through the tree renamed, or another file of
  the same store: a set of layers published with one syncfs), and then nothing in that tree
  is written, created or renamed between the syncfs and the publish (a layer's meta.json and
  tar-split are written unsynced beside its tree, before its one syncfs);
- the directory holding the new name was synced after it (else the name itself may be lost);
- the reference that names an image (refs.json, refs/*) is published after everything else in
  the same command is durable, so that after a crash a tag never names missing content.

docs/storage.md lists what is published and what is exempt (and why)."""
import os
import re
import subprocess
from dataclasses import dataclass, field

import strace_log

TRACED = "openat,rename,renameat,renameat2,link,linkat,fsync,fdatasync,syncfs"
# Under a store: what never outlives a run or a boot, or is a cache that detects a torn entry
EXEMPT = ("tmp/", "trash/", "holds/", "locks/")
LINE = re.compile(r"^(\d+) +(\w+)\((.*)\) += (-?\d+)")
FD = re.compile(r"^(\d+)<(.*?)>")
STRING = re.compile(r'"((?:[^"\\]|\\.)*)"')


RESULT_PATH = re.compile(r"= -?\d+<(.*)>$")
WRITE_FLAGS = re.compile(r"\bO_(WRONLY|RDWR|CREAT|TRUNC)\b")


@dataclass
class Trace:
    calls: list = field(default_factory=list)  # (tid, name, args text, result)
    paths: dict = field(default_factory=dict)  # call index -> the path its result fd names


def traced(gan, log, *args, env=None):
    """Runs `gantry ARGS` under strace -f (decoded fd paths), returns (result, Trace)."""
    argv = ["strace", "-f", "-qq", "-y", "-s", "4096", "-e", f"trace={TRACED}", "-o", str(log),
            *gan.cmd(*args)]
    r = subprocess.run(argv, capture_output=True, text=True, env=env or gan.environ(),
                       timeout=300)
    assert r.returncode == 0, f"gantry {' '.join(map(str, args))} failed: {r.stderr}"
    return r, parse(log.read_text())


def parse(text):
    """strace -f output, with the <unfinished ...> / <... resumed> halves of a call joined."""
    t = Trace()
    for tid, rest in strace_log.calls(text):
        m = LINE.match(f"{tid} {rest}")
        if m:
            r = RESULT_PATH.search(rest)
            if r:
                t.paths[len(t.calls)] = _norm(r.group(1))
            t.calls.append((m.group(1), m.group(2), m.group(3), int(m.group(4))))
    return t


def _norm(p):
    return os.path.normpath(p)


def publishes(trace, roots):
    """(index, source, destination, tid) of each rename/link into ROOTS that is not exempt."""
    out = []
    for i, (tid, name, args, res) in enumerate(trace.calls):
        if res != 0 or name not in ("rename", "renameat", "renameat2", "link", "linkat"):
            continue
        paths = [_norm(s) for s in STRING.findall(args)]
        if len(paths) < 2:
            continue
        src, dst = paths[0], paths[1]
        for root in roots:
            root = _norm(str(root))
            if not dst.startswith(root + "/"):
                continue
            rel = dst[len(root) + 1:]
            if rel.startswith(EXEMPT) or ".tmp-" in os.path.basename(dst):
                break
            out.append((i, src, dst, tid))
            break
    return out


def violations(trace, roots, reference_last=True):
    """What the trace does against the three rules, as readable lines (empty: none)."""
    bad = []
    synced_paths, synced_fds, syncfs_paths = {}, {}, []
    for i, (tid, name, args, res) in enumerate(trace.calls):
        if res != 0:
            continue
        m = FD.match(args)
        if name in ("fsync", "fdatasync") and m:
            synced_paths.setdefault(_norm(m.group(2)), []).append(i)
            synced_fds.setdefault((tid, m.group(1)), []).append(i)
        elif name == "syncfs" and m:
            syncfs_paths.append((i, _norm(m.group(2))))
    # a synced file keeps its data under the names it is linked or renamed to afterwards
    for i, (tid, name, args, res) in enumerate(trace.calls):
        paths = [_norm(s) for s in STRING.findall(args)]
        if res != 0 or name not in ("rename", "renameat", "renameat2", "link", "linkat") or \
                len(paths) < 2:
            continue
        fdm = re.match(r"/proc/self/fd/(\d+)$", paths[0])
        before = synced_fds.get((tid, fdm.group(1)), []) if fdm else synced_paths.get(paths[0], [])
        if any(j < i for j in before):
            synced_paths.setdefault(paths[1], []).append(i)
    pubs = publishes(trace, roots)
    if not pubs:
        return ["nothing was published under " + ", ".join(map(str, roots))]
    last_durable = {}
    for i, src, dst, tid in pubs:
        fdm = re.match(r"/proc/self/fd/(\d+)$", src)
        if fdm:
            data = [j for j in synced_fds.get((tid, fdm.group(1)), []) if j < i]
        else:
            data = [j for j in synced_paths.get(src, []) if j < i]
            data += [j for j, p in syncfs_paths if j < i and _covers(p, src, roots)]
        if not data:
            bad.append(f"{dst}: published from {src} with no sync of its data before")
        elif not fdm:
            bad += _changed_after_syncfs(trace, syncfs_paths, synced_paths, i, src, dst, roots)
        after = [j for j in synced_paths.get(os.path.dirname(dst), []) if j > i]
        if not after:
            bad.append(f"{dst}: its directory {os.path.dirname(dst)} is not synced after")
        last_durable[dst] = min(after) if after else None
    if reference_last:
        # each reference after what was published before it is durable; the last reference
        # after everything (a build's RUN steps name their work images on the way)
        refs = [(i, dst) for i, _, dst, _ in pubs if is_reference(dst)]
        for ri, rdst in refs:
            for i, _, dst, _ in pubs:
                if is_reference(dst) or i > ri:
                    if not is_reference(dst) and ri == refs[-1][0]:
                        bad.append(f"{dst} was published after the reference {rdst}")
                    continue
                if last_durable[dst] is None or last_durable[dst] > ri:
                    bad.append(f"{rdst} was published before {dst} was durable")
    return bad


def _covers(synced, src, roots):
    """Whether a syncfs through a file SYNCED makes SRC durable: syncfs writes the whole file
    system, and a store is one (a layer set's one syncfs goes through one layer's tree)."""
    if synced == src or synced.startswith(src + "/"):
        return True
    return any(synced.startswith(f"{r}/") and src.startswith(f"{r}/") for r in map(str, roots))


def _changed_after_syncfs(trace, syncfs_paths, synced_paths, i, src, dst, roots):
    """What in the tree SRC (published at call I) was written or renamed into after the last
    syncfs covering it, with no fsync of its own before the publish."""
    covering = [j for j, p in syncfs_paths if j < i and _covers(p, src, roots)]
    if not covering:
        return []
    last, bad = max(covering), []
    for k in range(last + 1, i):
        tid, name, args, res = trace.calls[k]
        if res < 0:
            continue
        if name == "openat" and WRITE_FLAGS.search(args):
            path = trace.paths.get(k)
        elif name in ("rename", "renameat", "renameat2", "link", "linkat"):
            paths = STRING.findall(args)
            path = _norm(paths[1]) if len(paths) >= 2 else None
        else:
            continue
        if not path or not (path == src or path.startswith(src + "/")):
            continue
        # its own sync before the publish: the file's fsync, or a rename's directory's
        own = synced_paths.get(os.path.dirname(path) if name != "openat" else path, [])
        if any(k < j < i for j in own):
            continue
        bad.append(f"{dst}: {path} was written after the syncfs that covers its publish")
    return bad


def is_reference(path):
    return os.path.basename(path) == "refs.json" or os.path.basename(os.path.dirname(path)) == "refs"
