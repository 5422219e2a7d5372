"""Shared machinery of the crash-consistency and stress suites (tests/stress/).

Knobs (environment):
    STRESS_TRIALS   kill -9 trials per command kind (default 30: the CI budget); raise it for a
                    long run, e.g. STRESS_TRIALS=500
    STRESS_SEED     the seed of every random choice (default 27); a failure names the seed and
                    the trial, so `STRESS_SEED=S` replays the same delays

The invariants checked after every kill (`check_store`) are the suites' definition of
"consistent": `system fsck` finds nothing, every listed image's blobs hash to their names and its
layer trees are complete, no temporary file lies outside tmp/ (which `system prune` empties),
and no gantry process or mount outlives its command.
"""
import hashlib
import json
import os
import random
import re
import signal
import statistics
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from conftest import Gantry, need_tool
from fixtures import mkimage as mk
from fixtures.registry.harness import Registry

TRIALS = int(os.environ.get("STRESS_TRIALS", "30"))
SEED = int(os.environ.get("STRESS_SEED", "27"))
HEX64 = re.compile(r"^[0-9a-f]{64}$")
INSECURE = "--tls-verify=false"


def rng_for(name):
    """One seeded generator per test, so tests do not shift each other's delays."""
    return random.Random(f"{SEED}-{name}")


# ---- images ----------------------------------------------------------------------------------

def random_layer(seed, n_big, big_size, n_small, compression):
    rng = random.Random(seed)
    files = {f"data{seed}/r{j}.bin": rng.randbytes(big_size) for j in range(n_big)}
    files.update({f"small{seed}/f{j}": f"{seed}-{j}\n" for j in range(n_small)})
    return mk.Layer.from_files(files, compression=compression)


class Sample:
    """An image (busybox at the bottom, so it runs) and its docker archive on disk."""

    def __init__(self, img, d, name, ref):
        self.img = img
        self.ref = ref
        self.archive = Path(d) / f"{name}.tar"
        mk.write_docker_archive(self.archive, [(img, [ref])], layer_compression="layer")
        os.chmod(self.archive, 0o644)
        self.diff_ids = {l.diff_id.split(":")[1] for l in img.layers}
        self.layer_digests = {l.digest.split(":")[1] for l in img.layers}


def make_samples(d):
    """big: ~10 MB incompressible in 5 layers over busybox; a and b share two big layers."""
    bb = mk.busybox_layer()
    comps = ["gzip", "none", "zstd", "gzip", "none"]
    big = mk.Image([bb] + [random_layer(i, 4, 512 * 1024, 40, c) for i, c in enumerate(comps)],
                   cmd=["/bin/sh"])
    shared = [random_layer(100, 6, 512 * 1024, 50, "gzip"),
              random_layer(101, 4, 512 * 1024, 50, "zstd")]
    a = mk.Image([bb] + shared + [mk.Layer.from_files({"only-a": "a\n"})], labels={"who": "a"})
    b = mk.Image([bb] + shared + [mk.Layer.from_files({"only-b": "b\n"})], labels={"who": "b"})
    small = mk.Image([bb, mk.Layer.from_files({"hello": "hi\n"})])
    return {"big": Sample(big, d, "big", "docker.io/library/big:1"),
            "a": Sample(a, d, "a", "docker.io/shared/a:1"),
            "b": Sample(b, d, "b", "docker.io/shared/b:1"),
            "small": Sample(small, d, "small", "docker.io/library/small:1")}


@pytest.fixture(scope="session")
def samples(tmp_path_factory):
    return make_samples(tmp_path_factory.mktemp("stress-images"))


@pytest.fixture
def registry(tmp_path):
    for t in ("docker-registry",):
        need_tool(t)
    r = Registry(tmp_path / "reg").start()
    yield r
    r.stop()


# ---- store inspection --------------------------------------------------------------------------

def sha256_file(p):
    h = hashlib.sha256()
    with open(p, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def names(d):
    d = Path(d)
    return set(os.listdir(d)) if d.exists() else set()


def blob_names(root):
    return names(Path(root) / "blobs/sha256")


def layer_names(root):
    return names(Path(root) / "layers/sha256")


def read_json_blob(root, digest):
    return json.loads((Path(root) / "blobs/sha256" / digest.split(":")[1]).read_bytes())


def kept_unpacked(root, diff_hex):
    """The layer is kept as its tree and tar-split only (docs/storage.md, "One copy of a layer"):
    its meta.json says the blob is not kept and the tar-split is there."""
    d = Path(root) / "layers/sha256" / diff_hex
    try:
        meta = json.loads((d / "meta.json").read_text())
    except (OSError, ValueError):
        return False
    return meta.get("blob_kept") is False and (d / "tar-split.json.zst").exists()


def image_blobs(root, manifest_digest):
    """(blob hexes, diffID hexes) one image of the store needs: in blobs/, its manifest, config
    and the layer blobs the store keeps (not those of layers kept unpacked only)."""
    m = read_json_blob(root, manifest_digest)
    cfg = read_json_blob(root, m["config"]["digest"])
    diffs = [d.split(":")[1] for d in cfg["rootfs"]["diff_ids"]]
    blobs = {manifest_digest.split(":")[1], m["config"]["digest"].split(":")[1]}
    blobs |= {l["digest"].split(":")[1] for l, d in zip(m["layers"], diffs)
              if not kept_unpacked(root, d)}
    return blobs, set(diffs)


def stray_temporaries(root):
    """Half-written files outside tmp/ (which prune empties) and outside layer trees (image
    content): an atomic write's `NAME.tmp-*` left by a kill, a `.partial` download."""
    root = Path(root)
    out = []
    for dirpath, dirs, files in os.walk(root):
        rel = Path(dirpath).relative_to(root)
        if rel.parts[:1] in (("tmp",), ("layers",), ("trash",)):
            dirs[:] = []
            continue
        for n in files + dirs:
            if ".tmp-" in n or n.endswith(".partial"):
                out.append(str(rel / n))
    return out


def check_store(g, where):
    """The invariants a store keeps at every moment, right after a kill -9 too."""
    root = g.root
    res = g.run("system", "fsck", "--json", check=False)
    assert res.code == 0 and res.json()["problems"] == [], f"{where}: fsck: {res!r}"
    listed = {i["reference"] for i in g.run("images", "--json").json()}
    refs = g.refs()
    assert listed == set(refs), f"{where}: images lists {listed}, refs.json holds {set(refs)}"
    blobs = blob_names(root)
    for name in blobs:
        assert HEX64.match(name), f"{where}: stray file in blobs/: {name}"
        assert sha256_file(root / "blobs/sha256" / name) == name, f"{where}: bad blob {name}"
    for name in layer_names(root):
        d = root / "layers/sha256" / name
        assert HEX64.match(name), f"{where}: stray entry in layers/: {name}"
        meta = json.loads((d / "meta.json").read_text())
        assert meta["diff_id"] == "sha256:" + name and (d / "rootfs").is_dir(), f"{where}: {d}"
    for ref, md in refs.items():
        need, diffs = image_blobs(root, md)
        assert need <= blobs, f"{where}: {ref} lacks blobs {need - blobs}"
        assert diffs <= layer_names(root), f"{where}: {ref} lacks layers"


def check_pruned(g, where):
    """After `system prune`: tmp/ and trash/ are empty, and no temporary lies anywhere else."""
    g.run("system", "prune")
    root = g.root
    assert names(root / "tmp") == set(), f"{where}: prune left tmp/ {names(root / 'tmp')}"
    assert names(root / "trash") == set(), f"{where}: prune left trash/"
    assert stray_temporaries(root) == [], f"{where}: temporaries: {stray_temporaries(root)}"
    assert [r for r in g.refs() if "gantry-slim-check" in r] == [], f"{where}: {g.refs()}"
    check_store(g, where + " (after prune)")


def check_intact(g, sample, ref=None):
    """The image is referenced and every blob and file of every layer is there and right."""
    ref = ref or sample.ref
    refs = g.refs()
    assert ref in refs, f"{ref} is not in {sorted(refs)}"
    blobs, diffs = image_blobs(g.root, refs[ref])
    assert diffs == sample.diff_ids
    for layer in sample.img.layers[1:]:
        rootfs = g.root / "layers/sha256" / layer.diff_id.split(":")[1] / "rootfs"
        for e in layer.entries:
            if e.kind == "file":
                assert (rootfs / e.name).read_bytes() == e.data, f"{ref}: {e.name} differs"


def gantry_procs(binary, root):
    """Processes still running the gantry binary for the store at ROOT (a leak once their command
    has returned): those with the store in their environment (GANTRY_ROOT, which every process
    gantry starts inherits) or command line. Another suite's gantry processes beside this one
    (make test runs the e2e suite at the same time) are not this test's."""
    out = []
    needle = str(root).encode()
    for p in Path("/proc").iterdir():
        if not p.name.isdigit() or int(p.name) == os.getpid():
            continue
        try:
            if os.readlink(p / "exe") != str(binary):
                continue
            if needle in (p / "environ").read_bytes() or needle in (p / "cmdline").read_bytes():
                out.append(int(p.name))
        except OSError:
            continue
    return out


def mounts_under(path):
    return [line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines()
            if line.split()[4].startswith(str(path))]


def wait_no_procs(binary, root, timeout=10):
    end = time.time() + timeout
    while time.time() < end:
        if not gantry_procs(binary, root):
            return []
        time.sleep(0.05)
    return gantry_procs(binary, root)


# ---- kill trials -------------------------------------------------------------------------------

def timed(g, *args):
    t0 = time.monotonic()
    g.run(*args)
    return time.monotonic() - t0


class CommandTime:
    """How long a command takes, for placing kills inside it: timed once, then the median of that
    and of every trial the command finished before its kill. One first timing alone, taken cold
    or beside a busy CI step, was once 3x the later runs and put 21 of 30 kills past the end."""

    def __init__(self, g, *args):
        self.seen = [timed(g, *args)]

    def draw(self, rng):
        return rng.uniform(0, 1.1 * statistics.median(self.seen))

    def saw(self, seconds):
        self.seen.append(seconds)


def kill_at(g, when, rng, *args):
    """Starts `gantry ARGS`, sends SIGKILL after a delay drawn from WHEN (a CommandTime); True
    when the kill hit it. A run that finished first tells WHEN how long it took."""
    delay = when.draw(rng)
    t0 = time.monotonic()
    p = g.popen(*args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        p.wait(timeout=delay)
        when.saw(time.monotonic() - t0)
    except subprocess.TimeoutExpired:
        p.send_signal(signal.SIGKILL)
    _, err = p.communicate(timeout=60)
    rc = p.returncode
    assert rc in (0, -signal.SIGKILL), f"gantry {args} exited {rc}: {err!r}"
    return rc == -signal.SIGKILL


class Tally:
    """Counts trials and kills per command kind (printed in the pytest summary with -s/-rA)."""
    counts = {}

    @classmethod
    def add(cls, kind, killed):
        t, k = cls.counts.get(kind, (0, 0))
        cls.counts[kind] = (t + 1, k + int(killed))


def new_store(tmp_path, name="store", **kw):
    return Gantry(tmp_path / name, **kw)


def registry_manifest_ok(addr, repo, tag):
    """None when the tag is absent; else asserts that every blob it names is served whole."""
    base = f"http://{addr}/v2/{repo}"
    req = urllib.request.Request(f"{base}/manifests/{tag}", headers={
        "Accept": "application/vnd.oci.image.manifest.v1+json, "
                  "application/vnd.docker.distribution.manifest.v2+json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            doc = json.loads(r.read())
    except urllib.error.HTTPError as e:
        if e.code == 404:
            return None
        raise
    for d in [doc["config"]] + doc["layers"]:
        with urllib.request.urlopen(f"{base}/blobs/{d['digest']}", timeout=30) as r:
            data = r.read()
        assert len(data) == d["size"], f"{repo}:{tag}: blob {d['digest']} has {len(data)} bytes"
        assert "sha256:" + hashlib.sha256(data).hexdigest() == d["digest"], d["digest"]
    return doc
