"""The gantry binary's start-up layout: no iostream initializer or shared library but libc,
packed relocations, a small TLS block, the run path's functions linked together, and
bench/floor.c's isolation floor building the container a rootless run builds."""
import os
import re
import subprocess
from pathlib import Path

import pytest

from conftest import REPO, load_busybox, need_tool


@pytest.mark.not_under_sanitizer("the ASan build links libasan and libubsan and registers "
                                  "every object's globals with a static initializer")
def test_start_up_loads_no_iostream_initializer_and_no_shared_library(g):
    """What every start pays for is kept out: <iostream>'s static initializer (the eight
    streams and the classic locale, ~0.1 ms; gantry prints with stdio, CLI11 comes in through
    cli/cli11.hpp, YAML is read with libyaml) and shared libraries (~80 us for ISA-L's alone).
    CLI11's own printing still works."""
    need_tool("nm")
    syms = subprocess.run(["nm", "-C", str(g.bin)], capture_output=True, text=True, check=True)
    assert "std::__ioinit" not in syms.stdout
    # and no shared library but libc: ISA-L (gzip) and libcurl are loaded by the commands that
    # use them, with dlopen
    need_tool("ldd")
    libs = subprocess.run(["ldd", str(g.bin)], capture_output=True, text=True, check=True).stdout
    names = sorted(line.split()[0] for line in libs.splitlines() if line.strip())
    assert [n for n in names if not n.startswith(("linux-vdso", "/lib64/ld-linux", "ld-linux"))] \
        == ["libc.so.6"], libs
    # no namespace-scope object of gantry's is built at start (a set of strings, a vector...:
    # heap allocations and page faults at every run); the one initializer left is the CLI's,
    # for the validator objects CLI11's header defines
    plain = subprocess.run(["nm", str(g.bin)], capture_output=True, text=True, check=True).stdout
    ctors = sorted({line.split()[-1] for line in plain.splitlines()
                    if " _GLOBAL__sub_I_" in line and not line.endswith((".cc", ".cold"))})
    assert len(ctors) == 1 and ctors[0].startswith("_GLOBAL__sub_I__ZN6gantry3cli"), ctors
    # the PIE's relative relocations are packed (DT_RELR, lld-16): ld.so reads under a KB of
    # them, not the ~118 KB of RELA entries
    dyn = subprocess.run(["readelf", "-dW", str(g.bin)], capture_output=True, text=True,
                         check=True).stdout
    assert "(RELR)" in dyn, "gantry was linked without -z pack-relative-relocs (lld-16)"
    rela = [line.split() for line in dyn.splitlines() if "(RELASZ)" in line]
    assert rela and int(rela[0][2]) < 8192, rela
    # the static TLS block is small: ld.so zeroes it at every start (and each new thread its
    # own); an 87 KB thread_local there cost 22 page faults of every `gantry run`
    tls = [line.split() for line in subprocess.run(
        ["readelf", "-lW", str(g.bin)], capture_output=True, text=True,
        check=True).stdout.splitlines() if line.split()[:1] == ["TLS"]]
    assert tls and int(tls[0][5], 16) < 4096, tls
    assert g.run("--version").out.strip() == "gantry 0.1.0"
    assert "--writable-layer" in g.run("run", "--help").out
    assert "Usage" in g.run("--help").out


def test_run_path_functions_are_laid_out_together(g):
    """The functions in tools/run-path.order (what `gantry run` executes) are linked first in
    .text, in that order, so a start faults in a few 64 KB windows of text instead of ~35
    scattered over 4.5 MB. Fails when the build did not apply the order (no lld, a dropped
    linker flag) or when the list has gone stale (then: tools/link_order.py)."""
    need_tool("nm")
    need_tool("ld.lld")  # the build links with lld when it is installed (CMakeLists.txt)
    listed = [line.strip() for line in (REPO / "tools/run-path.order").read_text().splitlines()
              if line.strip() and not line.startswith("#")]
    out = subprocess.run(["nm", "--defined-only", "-S", "--no-demangle", str(g.bin)],
                         capture_output=True, text=True, check=True).stdout
    where = {}
    for line in out.splitlines():
        f = line.split()
        if len(f) == 4 and f[2] in "tTwW":
            where.setdefault(f[3], []).append((int(f[0], 16), int(f[1], 16)))
    present = [n for n in listed if n in where]
    assert len(present) >= 0.9 * len(listed), \
        f"only {len(present)} of {len(listed)} listed functions exist: run tools/link_order.py"
    # in the listed order (names defined in several objects, local helpers, count once: first copy)
    addrs = [min(where[n])[0] for n in present]
    rising = sum(1 for a, b in zip(addrs, addrs[1:]) if b > a)
    assert rising >= 0.95 * (len(addrs) - 1), f"{rising} of {len(addrs) - 1} pairs in order"
    # and together: the span they occupy is about their own size, not the whole text
    size = sum(min(where[n])[1] for n in present)
    span = max(addrs) - min(addrs)
    text = max(a for v in where.values() for a, _ in v) - min(a for v in where.values() for a, _ in v)
    assert span < 1.5 * size + 65536 and span < text / 4, (span, size, text)


def test_isolation_floor_builds_gantrys_container(rootless, mk):
    """bench/floor.c, the benchmark's "isolation floor", must build the container a default
    rootless `gantry run` builds (else the floor row measures something else): the same mount
    points, capability sets, seccomp filter mode, no_new_privs, PID 1, /dev entries and new
    namespaces. Fails when either side changes without the other."""
    need_tool("cc")
    from conftest import GANTRY, NOBODY
    image = load_busybox(rootless, mk, rootless.base)
    bundle = rootless.base / "bundle"
    rootless.run("bundle", image, bundle)
    bindir = Path(str(rootless.base) + "-bin")  # executable by nobody (the fixture's copy of gantry)
    bindir.mkdir(mode=0o755, exist_ok=True)  # the fixture makes it only when run as root
    floor = bindir / "floor"
    subprocess.run(["cc", "-O2", "-Wall", "-Werror", "-I", str(GANTRY.parent / "generated"),
                    "-o", str(floor), str(REPO / "bench/floor.c")], check=True)
    os.chmod(floor, 0o755)
    scratch = rootless.base / "floor-mnt"
    scratch.mkdir()
    if os.geteuid() == 0:
        os.chown(scratch, NOBODY.pw_uid, NOBODY.pw_gid)
    from conftest import Gantry
    as_floor = Gantry(rootless.root, user=rootless.user, binary=floor)
    probe = ("cut -d' ' -f5 /proc/self/mountinfo | sort; "
             "grep -E '^(Cap(Inh|Prm|Eff|Bnd|Amb)|Seccomp|NoNewPrivs):' /proc/self/status; "
             "echo pid=$$; ls -A /dev; "
             "for n in user mnt pid ipc uts net cgroup; do echo $n $(readlink /proc/self/ns/$n); done")
    got = {}
    for who, res in (("gantry", rootless.run("run", image, "sh", "-c", probe)),
                     ("floor", as_floor.run(bundle / "rootfs", scratch, "/bin/sh", "-c", probe))):
        got[who] = res.out.splitlines()
    ns = {}
    for who, lines in got.items():
        ns[who] = {l.split()[0] for l in lines if re.match(r"^(user|mnt|pid|ipc|uts|net|cgroup) ", l)
                   and l.split()[1] != os.readlink(f"/proc/self/ns/{l.split()[0]}")}
        got[who] = [l for l in lines if not re.match(r"^(user|mnt|pid|ipc|uts|net|cgroup) ", l)]
    assert ns["gantry"] == ns["floor"] == {"user", "mnt", "pid", "ipc", "uts"}, ns
    assert got["gantry"] == got["floor"]
    assert "pid=1" in got["floor"] and "Seccomp:\t2" in got["floor"]
    assert len([l for l in got["floor"] if l.startswith("/")]) > 30  # the mount points
