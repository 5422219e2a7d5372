"""A registry that misbehaves on the wire (issue 57, docs/lazy-pull.md "Faults"): one valid
eStargz image served by tests/fixtures/hostile_registry.py (a thread of this process on
127.0.0.1), which drips bytes, sends too slowly, ignores Range, cuts bodies short, changes a
blob's bytes on a second request, fails with 500 once a container runs, redirects in a loop or
answers another range than asked. `pull`, `pull --lazy` and `run --pull lazy` each end in a clear
error or a correct run: never a hang, a crash, a byte served that its digest does not name, or a
process or FUSE mount left behind; `rm -f`, `gantry oci delete --force` and SIGKILL of `gantry`
take the serving process with them while a read hangs; tables of contents over the image's memory
budget are refused. The transfer bounds are set low here (GANTRY_LAZY_RATE_WINDOW=2,
GANTRY_LAZY_REQUEST_TIME=3) so that the whole file runs in seconds."""
import os
import random
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from conftest import Gantry
from fixtures import mkimage
from fixtures.hostile_registry import HostileRegistry, crafted_toc_layer, layout_with_layers
from ocidiff import oci, oci_bin, set_process  # noqa: F401 (fixture)

INSECURE = "--tls-verify=false"
BIG = random.Random(57).randbytes(1 << 20)  # incompressible: one chunk, one Range request
SMALL = b"hello hostile\n"
# bounds a 2 bytes/s drip fails within 2 s, a slow body within 3 s + its size at 16 KiB/s
BOUNDS = {"GANTRY_LAZY_RATE_WINDOW": "2", "GANTRY_LAZY_REQUEST_TIME": "3",
          "GANTRY_LAZY_PREFETCH": "0"}
# bounds no read of this file reaches: a hanging read ends only by rm -f or gantry's death
LONG = {"GANTRY_LAZY_RATE_WINDOW": "120", "GANTRY_LAZY_REQUEST_TIME": "300",
        "GANTRY_LAZY_PREFETCH": "0"}


@pytest.fixture(scope="module", autouse=True)
def _fuse():
    if not os.path.exists("/dev/fuse"):
        pytest.skip("/dev/fuse is missing")


@pytest.fixture(scope="module")
def reg(tmp_path_factory, gantry_bin):
    """The sample image (busybox, a layer with BIG and SMALL) saved as eStargz and served."""
    d = tmp_path_factory.mktemp("hostile")
    E = mkimage.Entry
    data = mkimage.Layer([E.dir("data"), E.file("data/big.bin", BIG),
                          E.file("data/small.txt", SMALL)])
    mkimage.write_docker_archive(d / "img.tar",
                                 [(mkimage.busybox_image(extra_layers=[data]), ["hostile:1"])])
    gan = Gantry(d / "store")
    gan.run("load", d / "img.tar")
    gan.run("save", "--format", "oci-dir", "--compression", "estargz", "-o", d / "layout",
            "hostile:1")
    r = HostileRegistry(d / "layout").start()
    yield r
    r.stop()


@pytest.fixture
def honest(reg):
    reg.set_mode("honest")
    yield reg
    reg.set_mode("honest")


def store(tmp_path, env=BOUNDS, name="store"):
    return Gantry(tmp_path / name, env=env)


def gantry_processes(root):
    """The pids of processes started for the store ROOT (gantry, a monitor, a serving process:
    GANTRY_ROOT in their environment) or holding a file under it."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            env = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
            if f"GANTRY_ROOT={root}".encode() in env:
                found.append(int(pid))
                continue
            for fd in os.listdir(f"/proc/{pid}/fd"):
                if os.readlink(f"/proc/{pid}/fd/{fd}").startswith(str(root)):
                    found.append(int(pid))
                    break
        except OSError:
            continue
    return found


def assert_nothing_left(gan, within=10.0):
    """No process of the store's, nothing of it mounted, within WITHIN seconds."""
    end = time.monotonic() + within
    while True:
        left = gantry_processes(gan.root)
        mounted = str(gan.root) in Path("/proc/self/mounts").read_text()
        if not left and not mounted:
            return
        if time.monotonic() > end:
            cmds = {p: Path(f"/proc/{p}/cmdline").read_bytes().replace(b"\0", b" ")
                    for p in left if os.path.exists(f"/proc/{p}")}
            raise AssertionError(f"left behind: processes {cmds}, mounted: {mounted}")
        time.sleep(0.1)


def wait_for(cond, within=10.0, what="the condition"):
    end = time.monotonic() + within
    while not cond():
        assert time.monotonic() < end, f"{what} did not happen within {within} s"
        time.sleep(0.05)


def timed_fail(gan, *args, within):
    t0 = time.monotonic()
    r = gan.fail(*args, timeout=within + 30)
    took = time.monotonic() - t0
    assert took < within, f"took {took:.1f} s (bound {within} s): {r!r}"
    assert "Traceback" not in r.err and "terminate called" not in r.err, r
    return r, took


def test_an_honest_registry_serves_every_path(honest, tmp_path):
    gan = store(tmp_path)
    gan.run("pull", INSECURE, honest.ref)
    lazy = store(tmp_path, name="lazy")
    lazy.run("pull", "--lazy", INSECURE, honest.ref)
    assert lazy.run("run", "--rm", "--pull", "lazy", INSECURE, honest.ref, "cat",
                    "/data/small.txt").out == SMALL.decode()
    assert_nothing_left(lazy)


def test_a_drip_fails_a_read_with_eio_within_the_window(honest, tmp_path):
    gan = store(tmp_path)
    gan.run("pull", "--lazy", INSECURE, honest.ref)
    honest.set_mode("drip", top_only=True)  # the container starts, its read of the data drips
    r, took = timed_fail(gan, "run", "--rm", "--pull", "lazy", INSECURE, honest.ref,
                         "busybox", "md5sum", "/data/big.bin", within=12)
    assert "Input/output error" in r.err, r
    assert "sent too slowly" in r.err and honest.addr in r.err and "layer 2/2" in r.err, r
    print(f"drip: the read failed with EIO after {took:.2f} s of the run")
    assert_nothing_left(gan)


def test_a_drip_of_the_toc_fails_pull_lazy_and_run(reg, tmp_path):
    reg.set_mode("drip")
    gan = store(tmp_path)
    r, _ = timed_fail(gan, "pull", "--lazy", INSECURE, reg.ref, within=10)
    assert "sent too slowly" in r.err and reg.addr in r.err, r
    assert "GANTRY_LAZY_MIN_RATE" in r.err, r  # the hint names the bounds
    r, _ = timed_fail(gan, "run", "--rm", "--pull", "lazy", INSECURE, reg.ref, "true",
                      within=10)
    assert "sent too slowly" in r.err, r
    assert_nothing_left(gan)


def test_a_slow_body_is_bounded_overall(honest, tmp_path):
    # 8 KiB/s passes the low-speed check (1 KiB/s); the request's bound (3 s + 1 MiB at
    # 1 MiB/s) ends it
    gan = store(tmp_path, env={**BOUNDS, "GANTRY_LAZY_REQUEST_RATE": str(1 << 20)})
    gan.run("pull", "--lazy", INSECURE, honest.ref)
    honest.set_mode("slow", top_only=True)
    r, took = timed_fail(gan, "run", "--rm", "--pull", "lazy", INSECURE, honest.ref,
                         "busybox", "md5sum", "/data/big.bin", within=12)
    assert "Input/output error" in r.err and "sent too slowly" in r.err, r
    print(f"slow body: the read failed with EIO after {took:.2f} s of the run")
    assert_nothing_left(gan)


def test_rm_f_takes_the_serving_process_of_a_hanging_read(honest, tmp_path):
    gan = store(tmp_path, env=LONG)
    gan.run("pull", "--lazy", INSECURE, honest.ref)
    honest.set_mode("drip", top_only=True)
    name = f"hostile-stuck-{os.getpid()}"  # names are the host's: unique to this run
    gan.run("run", "-d", "--name", name, "--pull", "lazy", INSECURE, honest.ref,
            "busybox", "md5sum", "/data/big.bin")
    wait_for(lambda: any(m == "drip" for *_, m in honest.requests()), what="the dripped read")
    t0 = time.monotonic()
    try:
        gan.run("rm", "-f", name, timeout=30)
        took = time.monotonic() - t0
    finally:
        gan.run("rm", "-f", name, check=False)  # after a failed one: nothing left either
    assert took < 8, f"rm -f took {took:.1f} s"
    print(f"rm -f of a container whose read hangs: {took:.2f} s")
    assert_nothing_left(gan)
    assert name not in gan.run("ps", "-a").out


def test_sigkill_of_gantry_takes_the_serving_process(honest, tmp_path):
    gan = store(tmp_path, env=LONG)
    gan.run("pull", "--lazy", INSECURE, honest.ref)
    honest.set_mode("drip", top_only=True)
    p = gan.popen("run", "--rm", "--pull", "lazy", INSECURE, honest.ref, "busybox",
                  "md5sum", "/data/big.bin", stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: any(m == "drip" for *_, m in honest.requests()),
                 what="the dripped read")
        os.kill(p.pid, signal.SIGKILL)
        p.wait(10)
        assert_nothing_left(gan, within=5)
    finally:
        if p.poll() is None:
            p.kill()


def test_oci_delete_force_takes_a_lazy_bundles_hanging_read(honest, tmp_path, oci_bin):
    gan = store(tmp_path, env=LONG)
    b = tmp_path / "bundle"
    gan.run("bundle", "--pull", "lazy", INSECURE, honest.ref, b)
    set_process(b, ["busybox", "md5sum", "/data/big.bin"])
    honest.set_mode("drip", top_only=True)
    root, env = tmp_path / "state", gan.environ()
    with open(tmp_path / "out", "w") as out:
        subprocess.run([str(oci_bin), "--root", str(root), "create", "--bundle", str(b), "hang"],
                       stdin=subprocess.DEVNULL, stdout=out, stderr=out, timeout=60, check=True,
                       env=env)
    try:
        oci(oci_bin, root, "start", "hang", env=env)
        wait_for(lambda: any(m == "drip" for *_, m in honest.requests()),
                 what="the dripped read")
        t0 = time.monotonic()
        oci(oci_bin, root, "delete", "--force", "hang", env=env)
        took = time.monotonic() - t0
    finally:
        oci(oci_bin, root, "delete", "--force", "hang", env=env, check=False)
    assert took < 8, f"delete --force took {took:.1f} s"
    print(f"gantry oci delete --force of a container whose read hangs: {took:.2f} s")
    assert_nothing_left(gan)


def test_a_registry_that_ignores_range(reg, tmp_path):
    reg.set_mode("ignore_range")
    gan = store(tmp_path)
    r = gan.fail("pull", "--lazy", INSECURE, reg.ref)
    assert "ignored the Range request" in r.err and reg.addr in r.err, r
    plain = store(tmp_path, name="plain")  # a plain pull asks for no range: it works
    plain.run("pull", INSECURE, reg.ref)
    assert plain.run("run", "--rm", reg.ref, "cat", "/data/small.txt").out == SMALL.decode()


def test_short_bodies(reg, tmp_path):
    reg.set_mode("short")
    gan = store(tmp_path)
    for args in (["pull", "--lazy"], ["pull"]):
        r = gan.fail(*args, "--retry", "1", "--retry-delay", "0.1", INSECURE, reg.ref)
        assert reg.addr in r.err and "Traceback" not in r.err, r
    assert_nothing_left(gan)


def test_a_blob_that_changes_is_never_served(reg, tmp_path):
    # a plain pull reads each blob once: the first answer is honest, the image is whole
    reg.set_mode("swap")
    plain = store(tmp_path, name="plain")
    plain.run("pull", INSECURE, reg.ref)
    # again, from a fresh store: every blob is another now, and refused
    r = store(tmp_path, name="again").fail("pull", INSECURE, reg.ref)
    assert "digest" in r.err or "sha256" in r.err, r
    # lazily: the TOC (the blob's second request, after its footer) is refused
    reg.set_mode("swap")
    r = store(tmp_path, name="toc").fail("pull", "--lazy", INSECURE, reg.ref)
    assert "damaged or altered" in r.err or "digest" in r.err, r
    # and the chunks of a container's reads, once the metadata was honest
    reg.set_mode("honest")
    gan = store(tmp_path)
    gan.run("pull", "--lazy", INSECURE, reg.ref)
    reg.set_mode("swap", top_only=True)
    r = gan.run("run", "--rm", "--pull", "lazy", INSECURE, reg.ref, "sh", "-c",
                "cat /data/small.txt; busybox md5sum /data/big.bin", check=False)
    assert "/data/big.bin" not in r.out, r  # md5sum printed no sum: no byte of it served
    assert r.code != 0 and "digest" in r.err, r
    assert_nothing_left(gan)


def test_500s_once_the_container_runs(honest, tmp_path):
    gan = store(tmp_path)
    gan.run("pull", "--lazy", INSECURE, honest.ref)
    name = f"hostile-500-{os.getpid()}"
    gan.run("run", "-d", "--name", name, "--pull", "lazy", INSECURE, honest.ref, "sh", "-c",
            "busybox md5sum /data/small.txt; sleep 1; busybox md5sum /data/big.bin; echo rc=$?")
    honest.set_mode("status500", top_only=True)
    t0 = time.monotonic()
    gan.run("wait", name, timeout=60)
    assert time.monotonic() - t0 < 15
    logs = gan.run("logs", name)
    out = logs.out + logs.err
    assert "rc=1" in out and "Input/output error" in out, out
    assert any(m == "status500" for *_, m in honest.requests())
    gan.run("rm", name)
    assert_nothing_left(gan)


def test_a_redirect_loop(reg, tmp_path):
    reg.set_mode("redirect_loop")
    gan = store(tmp_path)
    for args in (["pull", "--lazy"], ["pull"]):
        r = gan.fail(*args, "--retry", "0", INSECURE, reg.ref)
        assert "redirect" in r.err.lower() and reg.addr in r.err, r


def test_a_content_range_that_is_not_the_one_asked(reg, tmp_path):
    reg.set_mode("bad_content_range")
    gan = store(tmp_path)
    r = gan.fail("pull", "--lazy", INSECURE, reg.ref)
    assert "Content-Range" in r.err and reg.addr in r.err, r
    reg.set_mode("honest")
    gan.run("pull", "--lazy", INSECURE, reg.ref)
    reg.set_mode("bad_content_range", top_only=True)
    r = gan.fail("run", "--rm", "--pull", "lazy", INSECURE, reg.ref, "busybox", "md5sum",
                 "/data/big.bin")
    assert "Input/output error" in r.err and "Content-Range" in r.err, r
    assert_nothing_left(gan)


def test_tables_of_contents_over_the_memory_budget_are_refused(reg, tmp_path):
    # two layers of 12,000 directories each: each fits a 16 MiB budget, together they do not
    blobs = [crafted_toc_layer([{"name": f"l{n}/d{i:05d}/", "type": "dir", "mode": 493}
                                for i in range(12000)]) for n in range(2)]
    one = HostileRegistry(layout_with_layers(reg.layout, tmp_path / "one", blobs[:1])).start()
    two = HostileRegistry(layout_with_layers(reg.layout, tmp_path / "two", blobs)).start()
    env = {**BOUNDS, "GANTRY_LAZY_TOC_MEMORY": "16m"}
    try:
        store(tmp_path, env=env, name="one").run("run", "--rm", "--pull", "lazy", INSECURE,
                                                 one.ref, "true")
        gan = store(tmp_path, env=env, name="two")
        for args in (["pull", "--lazy"], ["run", "--rm", "--pull", "lazy"]):
            r = gan.fail(*args, INSECURE, two.ref, *(["true"] if args[0] == "run" else []))
            for part in (f"tables of contents of {two.addr}/hostile/img:1", "16 MiB",
                         "GANTRY_LAZY_TOC_MEMORY"):
                assert part in r.err, r
            assert re.search(r"layer [1-4]/4 \(sha256:[0-9a-f]{64}\) of .* went over it", r.err), r
        assert_nothing_left(gan)
    finally:
        one.stop()
        two.stop()
