"""Reading `strace -f -o LOG` output: one (pid, call) per system call.

When traced processes interleave, strace splits a call into `NAME(ARGS <unfinished ...>` and,
later, `<... NAME resumed>REST) = RESULT` on the same pid's line; a test that reads the first half
alone sees no result (a seccomp filter that loaded reads as one that did not). These helpers join
the halves, so a check holds on a busy machine as on a quiet one."""
import re
from dataclasses import dataclass

_RESUMED = re.compile(r"<\.\.\. \w+ resumed>(.*)")
_UNFINISHED = "<unfinished ...>"


def calls(text):
    """Yields (pid, call) for each whole call in TEXT, the halves of split calls joined."""
    pending = {}
    for raw in text.splitlines():
        pid, _, rest = raw.partition(" ")
        rest = rest.lstrip()
        if rest.endswith(_UNFINISHED):
            pending[pid] = rest[: -len(_UNFINISHED)]
            continue
        m = _RESUMED.match(rest)
        if m:
            rest = pending.pop(pid, "") + m.group(1)
        yield pid, rest


def reads_of(text, path):
    """For `strace -f -y -e trace=pread64,seccomp,...` of a gantry run: (main, reads), main
    being gantry's own pid (the log's first) and reads a Read for each pread64 of PATH, in order;
    Read.confined says whether its pid had loaded a seccomp filter before that read."""
    main, confined, reads = None, set(), []
    for pid, call in calls(text):
        main = main or pid
        if call.startswith("seccomp(SECCOMP_SET_MODE_FILTER") and re.search(r"\) += 0$", call):
            confined.add(pid)
        if call.startswith("pread64(") and str(path) in call.split(",")[0]:
            m = re.search(r", (\d+), (\d+)\) += ", call)
            assert m, f"an unreadable pread64 line: {pid} {call}"
            reads.append(Read(pid, f"{pid} {call}", int(m[1]), int(m[2]), pid in confined))
    return main, reads


@dataclass
class Read:
    pid: str
    line: str  # as strace wrote it, halves joined
    size: int
    offset: int
    confined: bool
