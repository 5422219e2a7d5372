"""Hostile squashfs files (issue 36): each class of defect the black-box campaign found in the
old reader (Debian's libsquashfuse trusted every table past the superblock), crafted on purpose,
then read by `gantry inspect` (the reads before mounting) and by `gantry run` served over FUSE
(GANTRY_SQSH_FUSE=1: the FUSE server thread of the gantry process). gantry must refuse the file
or give the container an I/O error for the damaged part, and never crash: no signal, no "stack
smashing", no sanitizer report. Run against the old reader, the name-size case smashed its
stack, the xattr key size overflowed its heap, and the id, fragment and xattr-id cases read out
of bounds (SIGSEGV). fuzz/fuzz_sqsh_reader covers the classes beyond these inputs.

The image is written by mksquashfs with uncompressed metadata (-noI -noD -noF -noX), so each
structure is found and patched at its byte offset."""
import os
import shutil
import struct
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from conftest import Gantry, need_tool
import strace_log

CRASH_MARKS = ("stack smashing", "Segmentation", "AddressSanitizer", "double free",
               "corrupted", "Aborted", "core dumped")
SIGNAL_CODES = {128 + 6, 128 + 7, 128 + 11, -6, -7, -11}  # SIGABRT, SIGBUS, SIGSEGV
LINK_TARGET = "TARGET-of-the-victim-link"
SMALL_SIZE = 1234  # the victim file's size: unique, so its inode can be found


def superblock(b):
    f = struct.unpack_from("<IIIIIHHHHHHQQQQQQQQ", b, 0)
    keys = ("magic inodes mtime block_size frags comp block_log flags ids vmaj vmin root "
            "bytes_used id_table xattr_table inode_table dir_table frag_table export_table").split()
    return dict(zip(keys, f))


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    need_tool("mksquashfs")
    need_tool("setfattr")
    d = tmp_path_factory.mktemp("hostile")
    root = d / "root"
    (root / "bin").mkdir(parents=True)
    shutil.copy("/bin/busybox", root / "bin" / "busybox")
    (root / "bin" / "sh").symlink_to("busybox")
    v = root / "victim"
    v.mkdir()
    (v / "small").write_bytes(b"s" * SMALL_SIZE)
    (v / "a-victim-entry-name").write_text("entry\n")
    (v / "link").symlink_to(LINK_TARGET)
    (v / "xattr").write_text("x\n")
    subprocess.run(["setfattr", "-n", "user.colorkey", "-v", "bluevalue", str(v / "xattr")],
                   check=True)
    img = d / "pristine.sqsh"
    subprocess.run(["mksquashfs", str(root), str(img), "-noI", "-noD", "-noF", "-noX",
                    "-all-root", "-quiet", "-noappend"], check=True, capture_output=True)
    return img


def patched(pristine, tmp, name, edits):
    """A copy of the pristine image with EDITS ({offset: bytes}) applied."""
    b = bytearray(pristine.read_bytes())
    for off, data in edits.items():
        b[off:off + len(data)] = data
    p = tmp / f"{name}.sqsh"
    p.write_bytes(bytes(b))
    return p


def find_once(b, needle, start, end):
    at = b.find(needle, start, end)
    assert at >= 0 and b.find(needle, at + 1, end) < 0, f"{needle!r} not unique in the table"
    return at


def hostile_cases(pristine):
    b = pristine.read_bytes()
    sb = superblock(b)
    it, dt = sb["inode_table"], sb["dir_table"]
    cases = {}
    # a directory entry's name size: 0xffff (the name is 1..256 bytes; size stores len - 1)
    name = find_once(b, b"a-victim-entry-name", dt, sb["frag_table"])
    cases["dir-entry-name-size"] = {name - 2: struct.pack("<H", 0xFFFF)}
    # an xattr key's size and a value's size, in the key-value pairs
    kv = struct.unpack_from("<Q", b, sb["xattr_table"])[0]
    key = find_once(b, b"colorkey", kv, sb["xattr_table"])
    cases["xattr-key-size"] = {key - 2: struct.pack("<H", 0xFFFF)}
    cases["xattr-value-size"] = {key + len(b"colorkey"): struct.pack("<I", 0xFFFFFFF0)}
    # the xattr id table's count, and a symlink's target size
    cases["xattr-id-count"] = {sb["xattr_table"] + 8: struct.pack("<I", 0xFFFFFFFF)}
    target = find_once(b, LINK_TARGET.encode(), it, dt)
    cases["symlink-target-size"] = {target - 4: struct.pack("<I", 0xFFFFFFFF)}
    # the small file's inode: its fragment index, its owner's index in the id table
    for base in range(it, dt - 32):
        if (struct.unpack_from("<H", b, base)[0] == 2
                and struct.unpack_from("<I", b, base + 28)[0] == SMALL_SIZE):
            break
    else:
        raise AssertionError("the small file's inode was not found")
    cases["fragment-index"] = {base + 20: struct.pack("<I", 0x7FFFFFF0)}
    cases["id-index"] = {base + 4: struct.pack("<H", 0xFFF0)}
    cases["file-size-huge"] = {base + 28: struct.pack("<I", 0xFFFFFFF0),
                               base + 20: struct.pack("<I", 0xFFFFFFFF)}
    # the superblock's counts of the fragment and id tables
    cases["fragment-count"] = {16: struct.pack("<I", 0xFFFFFFFF)}
    cases["id-count"] = {26: struct.pack("<H", 0xFFFF)}
    # a loop: victim/a-victim-entry-name made an entry of the victim directory itself (its
    # inode's offset, type directory; entry: offset u16, inode delta s16, type u16, size u16)
    victim = find_once(b, b"\x05\x00victim", dt, sb["frag_table"]) + 2
    cases["dir-loop"] = {name - 8: b[victim - 8:victim - 6], name - 4: struct.pack("<H", 1)}
    return cases


def assert_no_crash(r, what):
    assert r.code not in SIGNAL_CODES, f"{what}: gantry died of a signal: {r!r}"
    for mark in CRASH_MARKS:
        assert mark not in r.err and mark not in r.out, f"{what}: {mark!r}: {r!r}"


def test_pristine_image_reads_and_runs(g, pristine, tmp_path):
    fuse = Gantry(g.root, env={"GANTRY_SQSH_FUSE": "1"})
    r = fuse.run("run", "--rm", pristine, "/bin/sh", "-c",
                 "wc -c < /victim/small; readlink /victim/link; cat /victim/a-victim-entry-name")
    assert r.out.split() == [str(SMALL_SIZE), LINK_TARGET, "entry"]


@pytest.mark.parametrize("case", ["dir-entry-name-size", "xattr-key-size", "xattr-value-size",
                                  "xattr-id-count", "symlink-target-size", "fragment-index",
                                  "id-index", "file-size-huge", "fragment-count", "id-count"])
def test_hostile_table_is_refused_or_unreadable_never_a_crash(g, pristine, tmp_path, case):
    img = patched(pristine, tmp_path, case, hostile_cases(pristine)[case])
    r = g.run("inspect", img, check=False)
    assert_no_crash(r, f"inspect {case}")
    assert r.code in (0, 4), f"inspect {case}: exit 0 or 4 (invalid): {r!r}"
    if r.code == 4:
        assert str(img) in r.err and "damaged squashfs image" in r.err
    # the FUSE server reads every victim: the container sees an I/O error for the damaged
    # part (or gantry refuses the file before it starts), the server keeps serving
    fuse = Gantry(g.root, env={"GANTRY_SQSH_FUSE": "1"})
    r = fuse.run("run", "--rm", img, "/bin/sh", "-c",
                 "ls -la /victim; cat /victim/* ; readlink /victim/link; "
                 "/bin/busybox true && echo still-served", check=False, timeout=60)
    assert_no_crash(r, f"run {case}")
    if r.code == 4:  # refused before the container started: the reads before mounting
        assert str(img) in r.err and "damaged squashfs image" in r.err
    else:
        assert "still-served" in r.out, f"run {case}: the server stopped serving: {r!r}"
        assert "Input/output error" in r.out + r.err or case == "id-index", r


@pytest.mark.parametrize("case", ["dir-entry-name-size", "xattr-key-size", "xattr-value-size",
                                  "xattr-id-count", "symlink-target-size", "fragment-index",
                                  "id-index", "file-size-huge", "fragment-count", "id-count",
                                  "dir-loop"])
def test_hostile_table_load_is_refused_never_a_crash(g, pristine, tmp_path, case):
    """load reads the whole image (its tar written by the confined reader): a damaged table is
    exit 4 naming the file, nothing tagged; a directory that contains itself is a loop, not an
    endless tar."""
    img = patched(pristine, tmp_path, case, hostile_cases(pristine)[case])
    before = g.refs()
    r = g.run("load", "--name", "hostile:1", img, check=False, timeout=60)
    said = r.err.replace("(damaged squashfs image: corrupted)", "")  # libsquashfs' word
    assert_no_crash(SimpleNamespace(code=r.code, out=r.out, err=said), f"load {case}")
    assert r.code == 4, f"load {case}: exit 4 (invalid): {r!r}"
    assert str(img) in r.err and "damaged" in r.err, r
    assert g.refs() == before
    if case == "dir-loop":
        assert "victim/a-victim-entry-name: a directory reached twice (a loop)" in r.err, r


def test_byte_mutations_of_every_table_never_crash_inspect(g, pristine, tmp_path):
    """A sweep over the tables (every 5th byte of the inode table through the end, set to 0xff
    and to 0x00): inspect reads the header, etc/passwd and the run view of each."""
    b = pristine.read_bytes()
    sb = superblock(b)
    seen = {0: 0, 4: 0}
    for off in range(sb["inode_table"], sb["bytes_used"], 5):
        for value in (0xFF, 0x00):
            if b[off] == value:
                continue
            img = patched(pristine, tmp_path, "m", {off: bytes([value])})
            r = g.run("inspect", img, check=False)
            assert_no_crash(r, f"byte {off} = {value:#x}")
            assert r.code in (0, 4), f"byte {off} = {value:#x}: {r!r}"
            seen[r.code] += 1
    assert seen[4] > 0 and seen[0] > 0, seen  # the sweep reached both outcomes


def proc_status(pid, task=None):
    text = Path(f"/proc/{pid}" + (f"/task/{task}" if task else "") + "/status").read_text()
    return {k: v.strip() for k, v in (line.split(":", 1) for line in text.splitlines())}


def test_fuse_server_is_a_confined_process(g, pristine, tmp_path):
    """The process that parses the image (forked by gantry, serving FUSE) runs, in every one of its
    threads, as nobody with no capability, no_new_privs and its own seccomp filter, outside the
    terminal's process group;
    gantry itself is untouched. It goes when the run ends."""
    import time
    vol = tmp_path / "vol"
    vol.mkdir()
    # two reader threads beside the serving one (gantry starts none on fewer than 4 CPUs)
    fuse = Gantry(g.root, env={"GANTRY_SQSH_FUSE": "1", "GANTRY_SQSH_READERS": "2"})
    p = fuse.popen("run", "--rm", "-v", f"{vol}:/v", pristine, "/bin/sh", "-c",
                   "cat /victim/small > /dev/null; touch /v/started; "
                   "while [ ! -e /v/stop ]; do usleep 20000; done",
                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while not (vol / "started").exists():
            assert p.poll() is None, p.communicate()
            assert time.monotonic() < deadline, "the container did not start"
            time.sleep(0.02)
        children = Path(f"/proc/{p.pid}/task/{p.pid}/children").read_text().split()
        servers = [c for c in children if proc_status(c)["Seccomp"] == "2"
                   and Path(f"/proc/{c}/exe").resolve() == fuse.bin.resolve()]
        assert len(servers) == 1, {c: proc_status(c) for c in children}
        # every thread serving it is confined (each confines itself: ids, capabilities,
        # no_new_privs and the filter are a thread's own)
        tasks = os.listdir(f"/proc/{servers[0]}/task")
        assert len(tasks) == int(proc_status(servers[0])["Threads"]) == 3
        for task in tasks:
            s = proc_status(servers[0], task)
            assert s["Uid"].split() == ["65534"] * 4 and s["Gid"].split() == ["65534"] * 4, s
            assert s["CapEff"] == s["CapPrm"] == s["CapBnd"] == "0" * 16, s
            assert s["NoNewPrivs"] == "1" and s["Seccomp"] == "2", s
        assert os.getpgid(int(servers[0])) != os.getpgid(p.pid)
        main = proc_status(p.pid)
        assert main["Seccomp"] == "0" and main["CapEff"] != "0" * 16, main
    finally:
        (vol / "stop").touch()
        out, err = p.communicate(timeout=30)
    assert p.returncode == 0, (out, err)
    assert not Path(f"/proc/{servers[0]}").exists()  # killed and reaped with the run


@pytest.mark.parametrize("command", ["inspect", "run", "run-gpus", "load"])
def test_gantry_reads_only_the_superblock_the_rest_is_read_confined(g, pristine, tmp_path,
                                                                     command):
    """Before mounting (run) or to describe (inspect), gantry reads the 96-byte superblock of a
    .sqsh itself (load also its magic); every other read of the file is made by a process it forked, after that
    process gave up root's ids and loaded its seccomp filter (the reader of sqsh/facts.hpp; for
    run also the FUSE server; with --gpus also the readers of the image files the GPU step and
    the CPU check look at, sqsh::SquashFiles). load: gantry reads the superblock, a confined
    reader the header and another one writes the whole image as a tar (sqsh/image_tar.hpp);
    nothing is exec'd to read it (sqfs2tar was, unconfined, before)."""
    need_tool("strace")
    log = tmp_path / "trace"
    args = ["inspect", pristine]
    if command == "run":
        args = ["run", "--rm", pristine, "/bin/sh", "-c", "cat /victim/small"]
    if command == "run-gpus":  # a simulated one-GPU host (tests/fixtures/gpuhost)
        sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fixtures" / "gpuhost"))
        import gpuhost as gh
        host = gh.build_host(tmp_path / "host", gh.preset(1), devices="files")
        args = ["run", "--rm", "--gpus", "all", "--driver-root", host.driver_root,
                "--dev-root", host.dev_root, pristine, "/bin/sh", "-c", "cat /victim/small"]
    if command == "load":
        args = ["load", "--name", "hostile-load:1", pristine]
    env = g.environ() | {"GANTRY_SQSH_FUSE": "1"}
    if command == "run-gpus":
        env["FAKE_DEVICE_ROOT"] = str(host.dev_root)
    r = subprocess.run(["strace", "-f", "-qq", "-y", "-e", "trace=pread64,seccomp,setresuid,"
                        "clone,clone3,fork,vfork,execve", "-o", log, *g.cmd(*args)],
                       capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r
    text = log.read_text()
    main, image_reads = strace_log.reads_of(text, pristine)
    for pid, call in strace_log.calls(text):
        if call.startswith("execve(") and pid != main:  # the container's own, not a reader's
            assert command.startswith("run"), f"a program exec'd to read the image: {call}"
    reads = {}  # pid -> [lines of its preads of the image, in order]
    for read in image_reads:
        if read.pid == main:  # SIZE, OFFSET: within the superblock
            assert read.size + read.offset <= 96, \
                f"gantry itself read more than the superblock of the image: {read.line}"
        else:  # after its setresuid and seccomp filter
            assert read.confined, f"a read of the image before confinement: {read.line}"
        reads.setdefault(read.pid, []).append(read.line)
    assert reads.get(main), "gantry did not read the superblock itself"
    assert any(p != main for p in reads), "no confined process read the image"
    if command == "load":  # the tar's reader: every file's data read there, confined
        assert sum(len(r) for p, r in reads.items() if p != main) > 10, reads


def test_strace_log_joins_the_halves_of_a_split_call():
    """On a busy machine strace splits a call that another traced process interrupts; the
    confinement checks above read its joined form (a seccomp filter loaded in halves is loaded,
    a read in halves is a read). A log as strace -f writes it, halves interleaved:"""
    path = "/tmp/x.sqsh"
    log = "\n".join([
        "10 pread64(3</tmp/x.sqsh>, \"hsqs\"..., 96, 0) = 96",
        "11 seccomp(SECCOMP_SET_MODE_FILTER, 0, {len=60, filter=0x1} <unfinished ...>",
        "12 pread64(4</tmp/x.sqsh>, <unfinished ...>",
        "11 <... seccomp resumed>) = 0",
        "12 <... pread64 resumed>\"hsqs\"..., 96, 0) = 96",
        "11 pread64(5</tmp/x.sqsh>, \"\"..., 4096, 1024) = 4096",
        "12 seccomp(SECCOMP_SET_MODE_FILTER, 0, {len=60, filter=0x1}) = -1 EINVAL",
    ])
    main, reads = strace_log.reads_of(log, path)
    assert main == "10"
    assert [(r.pid, r.size, r.offset, r.confined) for r in reads] == \
        [("10", 96, 0, False), ("12", 96, 0, False), ("11", 4096, 1024, True)]
