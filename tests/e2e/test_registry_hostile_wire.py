"""A registry that misbehaves on the wire, against the transfers outside the lazy path (issue 57,
docs/registry.md "Slow registries"): a plain `pull`, `pull --format squashfs`, and a bundle of a
lazily pulled image run by `gantry oci` once its registry drips or fails. The registry is
tests/fixtures/hostile_registry.py (a thread of this process on 127.0.0.1) serving one eStargz
image (busybox and a layer with a 1 MiB file).

Every registry transfer is bounded (registry/transfer_bounds.hpp): a rate floor over a window
(1024 bytes/s over 30 s by default) and an overall bound on documents (60 s). The window is set
to 2 s here, the floor left at its default, so that a 2 bytes/s drip fails in seconds: what the
default does in 30 s (the unit test tests/unit/registry/test_transfer_bounds.cpp proves that the
default floor refuses a 2 bytes/s drip over the default window). --retry 0 keeps each case to one
attempt, but for the one that shows that the retries are bounded too."""
import hashlib
import os
import random
import subprocess
import time
from pathlib import Path

import pytest

from conftest import Gantry
from fixtures import mkimage
from fixtures.hostile_registry import HostileRegistry
from ocidiff import oci, oci_bin, set_process  # noqa: F401 (fixture)

INSECURE = "--tls-verify=false"
NO_RETRY = ("--retry", "0")
BIG = random.Random(5757).randbytes(1 << 20)  # incompressible
SMALL = b"hello wire\n"
# the window shortened, the floor (1024 bytes/s) and the document bound (60 s) the defaults
WIRE = {"GANTRY_REGISTRY_RATE_WINDOW": "2"}
# the lazy path's own bounds, short too (docs/lazy-pull.md, Faults)
LAZY = {**WIRE, "GANTRY_LAZY_RATE_WINDOW": "2", "GANTRY_LAZY_REQUEST_TIME": "3",
        "GANTRY_LAZY_PREFETCH": "0"}
KNOB = ("GANTRY_REGISTRY_MIN_RATE", "GANTRY_REGISTRY_RATE_WINDOW", "registry_transfer")


@pytest.fixture(scope="module")
def reg(tmp_path_factory):
    d = tmp_path_factory.mktemp("wire")
    E = mkimage.Entry
    data = mkimage.Layer([E.dir("data"), E.file("data/big.bin", BIG),
                          E.file("data/small.txt", SMALL)])
    mkimage.write_docker_archive(d / "img.tar",
                                 [(mkimage.busybox_image(extra_layers=[data]), ["wire:1"])])
    gan = Gantry(d / "store")
    gan.run("load", d / "img.tar")
    gan.run("save", "--format", "oci-dir", "--compression", "estargz", "-o", d / "layout",
            "wire:1")
    r = HostileRegistry(d / "layout", repo="hostile/wire", tag="1").start()
    r.archive = d / "img.tar"  # the image, for a store to push from
    yield r
    r.stop()


@pytest.fixture
def honest(reg):
    reg.set_mode("honest")
    yield reg
    reg.set_mode("honest")


def timed_fail(gan, *args, within, code=None):
    t0 = time.monotonic()
    r = gan.fail(*args, code=code, timeout=within + 60)
    took = time.monotonic() - t0
    assert took < within, f"took {took:.1f} s (bound {within} s): {r!r}"
    assert "Traceback" not in r.err and "terminate called" not in r.err, r
    return r, took


def files(d):
    d = Path(d)
    return sorted(str(p.relative_to(d)) for p in d.rglob("*") if not p.is_dir()) \
        if d.exists() else []


def assert_store_whole(gan):
    """Nothing half-written: no image recorded, tmp/ empty, and every blob in blobs/ whole (its
    bytes hash to its name: the layers that arrived before the one that failed)."""
    assert gan.run("images", "-q").out.strip() == ""
    assert files(gan.root / "tmp") == [], files(gan.root / "tmp")
    for p in (gan.root / "blobs").rglob("*"):
        if p.is_file() and len(p.name) == 64:
            assert hashlib.sha256(p.read_bytes()).hexdigest() == p.name, p


def what(reg, target):
    return {"manifest": f"manifest hostile/wire:1 from registry {reg.addr}",
            "config": f"blob {reg.config} of hostile/wire from registry {reg.addr}",
            "layer": f"blob {reg.layers[-1]} of hostile/wire from registry {reg.addr}"}[target]


def test_an_honest_registry_passes_the_short_window(honest, tmp_path):
    gan = Gantry(tmp_path / "store", env=WIRE)
    gan.run("pull", *NO_RETRY, INSECURE, honest.ref)
    assert gan.run("run", "--rm", honest.ref, "cat", "/data/small.txt").out == SMALL.decode()


@pytest.mark.parametrize("target", ["manifest", "config", "layer"])
def test_a_drip_fails_a_plain_pull_at_the_default_floor(reg, tmp_path, target):
    """2 bytes a second on the manifest, the config or the top layer's blob: the default floor
    (1024 bytes/s) refuses it after the window; the message names the registry, the object, the
    rate seen and the knobs; nothing half-written stays in the store."""
    reg.set_mode("drip", target={"layer": "top"}.get(target, target))
    gan = Gantry(tmp_path / "store", env=WIRE)
    r, took = timed_fail(gan, "pull", *NO_RETRY, INSECURE, reg.ref, within=8, code=8)
    assert what(reg, target) in r.err, r
    assert "was sent too slowly" in r.err and "under the floor of 1024 bytes/s over 2 s" in r.err
    assert " bytes/s)" in r.err, r  # the rate seen
    for knob in KNOB:
        assert knob in r.err, r
    assert any(m == "drip" for *_, m in reg.requests())
    assert_store_whole(gan)
    print(f"drip on the {target}: pull failed after {took:.2f} s")


def test_the_retries_of_a_dripped_layer_are_bounded_and_leave_nothing(reg, tmp_path):
    """With its retries (3, resuming each time), a dripped layer still fails within the windows
    and the backoff; the few bytes it received are not kept for resuming (less than one window
    at the floor)."""
    reg.set_mode("drip", top_only=True)
    gan = Gantry(tmp_path / "store", env={"GANTRY_REGISTRY_RATE_WINDOW": "1"})
    r, took = timed_fail(gan, "pull", "--retry-delay", "0.1", INSECURE, reg.ref, within=12,
                         code=8)
    assert "failed after 4 attempt(s)" in r.err and what(reg, "layer") in r.err, r
    assert "GANTRY_REGISTRY_MIN_RATE" in r.err and "kept" not in r.err, r
    assert sum(1 for _, p, _, m in reg.requests() if m == "drip") == 4
    assert_store_whole(gan)
    print(f"4 dripped attempts: pull failed after {took:.2f} s")


def test_a_document_above_the_floor_is_bounded_overall(reg, tmp_path):
    """The manifest dripped at 2 bytes/s passes a floor lowered to 1 byte/s: the document
    bound ends it."""
    reg.set_mode("drip", target="manifest")
    gan = Gantry(tmp_path / "store", env={"GANTRY_REGISTRY_MIN_RATE": "1",
                                          "GANTRY_REGISTRY_RATE_WINDOW": "2",
                                          "GANTRY_REGISTRY_DOCUMENT_TIME": "3"})
    r, took = timed_fail(gan, "pull", *NO_RETRY, INSECURE, reg.ref, within=8, code=8)
    assert what(reg, "manifest") in r.err, r
    assert "was sent too slowly: not done within its bound of 3.0 s" in r.err, r
    assert "GANTRY_REGISTRY_DOCUMENT_TIME" in r.err, r
    assert_store_whole(gan)


def test_the_config_file_sets_the_bounds_and_refuses_nonsense(reg, tmp_path):
    conf = tmp_path / "config.yaml"
    conf.write_text("registry_transfer:\n  rate_window: 2\n")
    reg.set_mode("drip", target="manifest")
    gan = Gantry(tmp_path / "store", env={"GANTRY_CONFIG": str(conf)})
    r, _ = timed_fail(gan, "pull", *NO_RETRY, INSECURE, reg.ref, within=8, code=8)
    assert "under the floor of 1024 bytes/s over 2 s" in r.err, r
    reg.set_mode("honest")
    conf.write_text("registry_transfer:\n  min_rate: fast\n")
    r = gan.fail("pull", INSECURE, reg.ref, code=4)
    assert f"{conf} line 2: registry_transfer.min_rate is \"fast\", not a whole number" in r.err
    conf.write_text("registry_transfer:\n  min_speed: 10\n")
    r = gan.fail("pull", INSECURE, reg.ref, code=4)
    assert "registry_transfer.min_speed is not a setting" in r.err, r
    for var, bad in (("GANTRY_REGISTRY_MIN_RATE", "0"), ("GANTRY_REGISTRY_RATE_WINDOW", "2s"),
                     ("GANTRY_REGISTRY_DOCUMENT_TIME", "-1")):
        r = Gantry(tmp_path / "store", env={var: bad}).fail("pull", INSECURE, reg.ref, code=2)
        assert f"{var}={bad} is not a whole number" in r.err, r
    assert reg.requests() == []  # refused before any request


def test_a_dripping_token_service_fails_a_pull(reg, tmp_path):
    """A registry that asks for a bearer token, whose token service drips its answer: the
    token request is bounded as the rest (an honest one passes)."""
    reg.set_mode("honest")
    reg.set_auth("drip")
    gan = Gantry(tmp_path / "store", env=WIRE)
    r, took = timed_fail(gan, "pull", *NO_RETRY, INSECURE, reg.ref, within=8, code=8)
    assert f"token service of {reg.addr}: the answer to /token from {reg.addr}" in r.err, r
    assert "was sent too slowly" in r.err and "under the floor of 1024 bytes/s" in r.err, r
    for knob in KNOB:
        assert knob in r.err, r
    assert ("GET", "/token", None, "auth-drip") in reg.requests()
    assert_store_whole(gan)
    reg.set_auth("honest")
    gan.run("pull", *NO_RETRY, INSECURE, reg.ref)
    reg.set_mode("honest")
    print(f"a dripping token service: pull failed after {took:.2f} s")


def test_a_registry_that_reads_an_upload_slowly_fails_a_push(reg, tmp_path):
    """A registry that accepts an upload and then reads its body at 2 bytes a second (or
    never answers once it has it): the push is abandoned within the window, naming the
    upload and the registry."""
    reg.set_mode("honest")
    reg.set_uploads("drip")
    gan = Gantry(tmp_path / "store", env={**WIRE, "GANTRY_REGISTRY_DOCUMENT_TIME": "2"})
    gan.run("load", reg.archive)
    r, took = timed_fail(gan, "push", *NO_RETRY, INSECURE, "wire:1",
                         f"{reg.addr}/hostile/wire:pushed", within=10, code=8)
    assert f"registry {reg.addr} took an upload to hostile/wire too slowly" in r.err or \
        f"registry {reg.addr} did not answer an upload to hostile/wire" in r.err, r
    assert "GANTRY_REGISTRY_" in r.err, r
    assert any(m == "upload-drip" and meth in ("PUT", "PATCH")
               for meth, _, _, m in reg.requests()), reg.requests()
    reg.set_mode("honest")
    print(f"a registry reading an upload slowly: push failed after {took:.2f} s")


SQUASHFS_CASES = {
    "corrupt": ("sha256", "digest"),  # the top layer's bytes are not its digest's
    "short": ("hostile/wire",),       # half its body, then the connection closed
    "drip": ("was sent too slowly",),
    "status500": ("500",),
}


def test_pull_format_squashfs_from_an_honest_registry(honest, tmp_path):
    gan = Gantry(tmp_path / "store", env=WIRE)
    out = gan.run("pull", "--format", "squashfs", *NO_RETRY, INSECURE, honest.ref).out
    assert "File: " in out, out
    assert files(gan.root / "tmp") == []


@pytest.mark.parametrize("mode", list(SQUASHFS_CASES))
def test_pull_format_squashfs_against_a_hostile_registry(reg, tmp_path, mode):
    """A clear error, and nothing left: no temporary store under tmp/, no squashfs file (half
    written or whole) in the cache or at -o."""
    reg.set_mode(mode, top_only=True)
    gan = Gantry(tmp_path / "store", env=WIRE)
    r, took = timed_fail(gan, "pull", "--format", "squashfs", *NO_RETRY, INSECURE, reg.ref,
                         within=10)
    assert reg.addr in r.err and any(w in r.err for w in SQUASHFS_CASES[mode]), r
    assert files(gan.root / "tmp") == [], files(gan.root / "tmp")
    assert files(gan.root / "sqsh-cache") == [], files(gan.root / "sqsh-cache")
    out = tmp_path / "out" / "img.sqsh"
    out.parent.mkdir()
    timed_fail(gan, "pull", "--format", "squashfs", "-o", out, *NO_RETRY, INSECURE, reg.ref,
               within=10)
    assert files(out.parent) == [] and files(gan.root / "tmp") == []
    print(f"pull --format squashfs, {mode}: failed after {took:.2f} s")


def gantry_processes(root):
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            env = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
            if f"GANTRY_ROOT={root}".encode() in env:
                found.append(int(pid))
        except OSError:
            continue
    return found


def assert_nothing_left(gan, within=10.0):
    end = time.monotonic() + within
    while True:
        left = gantry_processes(gan.root)
        mounted = str(gan.root) in Path("/proc/self/mounts").read_text()
        if not left and not mounted:
            return
        assert time.monotonic() < end, f"left behind: processes {left}, mounted: {mounted}"
        time.sleep(0.1)


@pytest.mark.parametrize("mode", ["drip", "status500"])
def test_a_lazy_bundle_whose_registry_fails_reads_eio_and_leaves_nothing(reg, tmp_path, mode,
                                                                         oci_bin):
    """`gantry bundle --pull lazy` then `gantry oci create/start` (what a Slurm step or another
    OCI caller does with a lazily pulled image): once the registry drips or answers 500, the
    container's read fails with EIO within the lazy bounds, the container ends, and `gantry oci
    delete` leaves no process and no FUSE mount."""
    if not os.path.exists("/dev/fuse"):
        pytest.skip("/dev/fuse is missing")
    reg.set_mode("honest")
    gan = Gantry(tmp_path / "store", env=LAZY)
    b = tmp_path / "bundle"
    gan.run("bundle", "--pull", "lazy", INSECURE, reg.ref, b)
    set_process(b, ["sh", "-c", "cat /data/small.txt; busybox md5sum /data/big.bin; echo rc=$?"])
    reg.set_mode(mode, top_only=True)
    root, env = tmp_path / "state", gan.environ()
    log = tmp_path / "out"
    with open(log, "w") as out:
        subprocess.run([str(oci_bin), "--root", str(root), "create", "--bundle", str(b), "c"],
                       stdin=subprocess.DEVNULL, stdout=out, stderr=out, timeout=60, check=True,
                       env=env)
    try:
        t0 = time.monotonic()
        oci(oci_bin, root, "start", "c", env=env)
        end = t0 + 20
        while '"stopped"' not in oci(oci_bin, root, "state", "c", env=env).stdout:
            assert time.monotonic() < end, log.read_text()
            time.sleep(0.1)
        took = time.monotonic() - t0
        text = log.read_text()
        assert "Input/output error" in text and "rc=1" in text, text
        assert any(m == mode for *_, m in reg.requests())
        oci(oci_bin, root, "delete", "c", env=env)
    finally:
        oci(oci_bin, root, "delete", "--force", "c", env=env, check=False)
    assert_nothing_left(gan)
    print(f"lazy bundle, {mode}: the read failed with EIO {took:.2f} s after start")
