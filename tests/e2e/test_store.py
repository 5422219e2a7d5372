"""The content-addressed store: crash safety, concurrency, df/prune/fsck and where it lives.

(1) `gantry load` killed with SIGKILL at many moments leaves a store every later command reads
    without error: fsck clean, no reference to a missing blob, no half-written blob or layer.
(2) Two loads of one image at once, and a load racing an `rmi` of an image sharing its layers,
    both complete and leave one copy of each blob and one tree per diffID.
(3) `system df --json` numbers, `system prune` of unreferenced blobs/layers/tmp leftovers,
    `system fsck` (and --repair) on a corrupted blob.
(4) Store location: $GANTRY_ROOT, else --root, else ${XDG_DATA_HOME:-~/.local/share}/gantry.

These run with both copies of each layer (`store.keep_compressed: true`, the `g` fixture below):
what they check of layer blobs (their publishing, fsck of a corrupt one, prune counting them)
needs them; the default, one copy (tree + tar-split, docs/storage.md), is test_one_copy.py's and
tests/stress/test_crash.py's.
"""
import hashlib
import json
import os
import pwd
import random
import re
import shutil
import signal
import stat
import subprocess
import time
from pathlib import Path

import pytest

from conftest import GANTRY, Gantry, tmp_entries
from fixtures import mkimage as mk

HEX64 = re.compile(r"^[0-9a-f]{64}$")
NOBODY = pwd.getpwnam("nobody")


# --------------------------------------------------------------------------------------------
# sample images
# --------------------------------------------------------------------------------------------

def random_layer(seed, n_big, big_size, n_small, compression):
    rng = random.Random(seed)
    files = {f"data{seed}/r{j}.bin": rng.randbytes(big_size) for j in range(n_big)}
    files.update({f"small{seed}/f{j}": f"{seed}-{j}\n" for j in range(n_small)})
    return mk.Layer.from_files(files, compression=compression)


def config_digest(img):
    return mk.sha256_digest(mk.canonical_json(img.config()))


class Sample:
    """An image and its archives on disk."""

    def __init__(self, img, d, name, tag):
        self.img = img
        self.oci = d / f"{name}.oci.tar"
        self.docker = d / f"{name}.docker.tar"
        mk.write_oci_archive(self.oci, img, tags="latest")
        mk.write_docker_archive(self.docker, [(img, [tag])], layer_compression="layer")
        self.oci_ref = f"localhost/{name}:latest"
        self.docker_ref = "docker.io/" + (tag if "/" in tag.split(":")[0] else "library/" + tag)
        self.layer_digests = {l.digest.split(":")[1] for l in img.layers}
        self.diff_ids = {l.diff_id.split(":")[1] for l in img.layers}
        self.config = config_digest(img).split(":")[1]

    def archive(self, fmt):
        return self.oci if fmt == "oci-archive" else self.docker

    def ref(self, fmt):
        return self.oci_ref if fmt == "oci-archive" else self.docker_ref


@pytest.fixture
def g(tmp_path, gantry_bin):
    """gantry with a fresh store that keeps each layer's blob beside its tree."""
    cfg = tmp_path / "keep-compressed.yaml"
    cfg.write_text("store:\n  keep_compressed: true\n")
    return Gantry(tmp_path / "store", env={"GANTRY_CONFIG": str(cfg)})


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    d = tmp_path_factory.mktemp("store-images")
    # "big": ~12 MB of incompressible data in 6 layers of every compression
    comps = ["gzip", "none", "zstd", "gzip", "none", "gzip"]
    big = mk.Image([random_layer(i, 4, 512 * 1024, 60, c) for i, c in enumerate(comps)])
    # "a" and "b" share two big layers and have one small layer of their own each
    shared = [random_layer(100, 6, 512 * 1024, 50, "gzip"),
              random_layer(101, 4, 512 * 1024, 50, "zstd")]
    a = mk.Image(shared + [mk.Layer.from_files({"only-a": "a\n"})], labels={"who": "a"})
    b = mk.Image(shared + [mk.Layer.from_files({"only-b": "b\n"})], labels={"who": "b"})
    small = mk.Image([mk.Layer.from_files({"hello": "hi\n", "etc/motd": "motd\n"})])
    out = {"big": Sample(big, d, "big", "big:1"), "a": Sample(a, d, "shared-a", "shared/a:1"),
           "b": Sample(b, d, "shared-b", "shared/b:1"),
           "small": Sample(small, d, "small", "small:1")}
    for p in d.iterdir():
        os.chmod(p, 0o644)
    return out


# --------------------------------------------------------------------------------------------
# store inspection
# --------------------------------------------------------------------------------------------

def sha256_file(p):
    h = hashlib.sha256()
    with open(p, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def blob_names(root):
    d = Path(root) / "blobs" / "sha256"
    return set(os.listdir(d)) if d.exists() else set()


def layer_names(root):
    d = Path(root) / "layers" / "sha256"
    return set(os.listdir(d)) if d.exists() else set()


def read_json_blob(root, digest):
    return json.loads((Path(root) / "blobs" / "sha256" / digest.split(":")[1]).read_bytes())


def kept_unpacked(root, diff_hex):
    """The layer is kept as its tree and tar-split only (docs/storage.md, "One copy of a layer")."""
    d = Path(root) / "layers/sha256" / diff_hex
    try:
        meta = json.loads((d / "meta.json").read_text())
    except (OSError, ValueError):
        return False
    return meta.get("blob_kept") is False and (d / "tar-split.json.zst").exists()


def image_blobs(root, manifest_digest):
    """(blob hexes, diffID hexes) an image in the store needs: in blobs/, its manifest, config
    and the layer blobs the store keeps (not those of layers kept unpacked only)."""
    m = read_json_blob(root, manifest_digest)
    cfg = read_json_blob(root, m["config"]["digest"])
    order = [d.split(":")[1] for d in cfg["rootfs"]["diff_ids"]]
    blobs = {manifest_digest.split(":")[1], m["config"]["digest"].split(":")[1]}
    blobs |= {l["digest"].split(":")[1] for l, d in zip(m["layers"], order)
              if not kept_unpacked(root, d)}
    return blobs, set(order)


def fsck_clean(g):
    res = g.run("system", "fsck", "--json", check=False)
    assert res.code == 0, f"fsck found problems: {res!r}"
    assert res.json()["problems"] == [], res
    return res.json()


def check_consistent(g, where=""):
    """The invariants a store must keep at every moment, even right after a kill -9."""
    root = g.root
    imgs = g.run("images", "--json")
    listed = {i["reference"] for i in imgs.json()}
    fsck_clean(g)
    # every blob is complete: its content hashes to its name
    for name in blob_names(root):
        p = root / "blobs" / "sha256" / name
        assert HEX64.match(name), f"{where}: stray file in blobs/: {name}"
        assert p.is_file() and not p.is_symlink(), f"{where}: {p} is not a regular file"
        assert sha256_file(p) == name, f"{where}: partially written blob {name}"
    # every layer tree is complete: it has its metadata and its root
    for name in layer_names(root):
        d = root / "layers" / "sha256" / name
        assert HEX64.match(name), f"{where}: stray entry in layers/: {name}"
        assert (d / "meta.json").is_file(), f"{where}: layer {name} has no meta.json"
        meta = json.loads((d / "meta.json").read_text())
        assert meta["diff_id"] == "sha256:" + name, f"{where}: {meta}"
        assert (d / "rootfs").is_dir(), f"{where}: layer {name} has no rootfs"
    # every reference leads to blobs and layer trees that exist
    refs = g.refs()
    assert listed == set(refs), f"{where}: images lists {listed}, refs.json has {set(refs)}"
    for ref, md in refs.items():
        assert md.split(":")[1] in blob_names(root), f"{where}: {ref} -> missing blob {md}"
        blobs, diffs = image_blobs(root, md)
        assert blobs <= blob_names(root), f"{where}: {ref} misses blobs {blobs - blob_names(root)}"
        assert diffs <= layer_names(root), f"{where}: {ref} misses layers"


def check_image_intact(g, sample, fmt):
    """The image is referenced, and its blobs and layer trees are all there and right."""
    refs = g.refs()
    ref = sample.ref(fmt)
    assert ref in refs, f"{ref} not in {refs}"
    blobs, diffs = image_blobs(g.root, refs[ref])
    assert diffs == sample.diff_ids
    assert sample.layer_digests | {sample.config} <= blobs
    for name in blobs:
        assert sha256_file(g.root / "blobs" / "sha256" / name) == name
    for layer in sample.img.layers:
        rootfs = g.root / "layers" / "sha256" / layer.diff_id.split(":")[1] / "rootfs"
        # every regular file of the layer is there with its content
        for e in layer.entries:
            if e.kind == "file":
                assert (rootfs / e.name).read_bytes() == e.data, f"{e.name} differs"
    return blobs, diffs


# --------------------------------------------------------------------------------------------
# (1) crash safety
# --------------------------------------------------------------------------------------------

# kill points: fixed moments (ms after start) plus fractions of a measured full load, so the
# kills spread over the whole load whatever the machine's speed
FIXED_DELAYS_MS = {"oci-archive": [5, 50, 200], "docker-archive": [2, 20, 100]}
LOAD_FRACTIONS = {"oci-archive": [0.25, 0.55, 0.85], "docker-archive": [0.1, 0.4, 0.7]}


def kill_after(g, delay_ms, *args):
    p = g.popen(*args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(delay_ms / 1000)
    p.send_signal(signal.SIGKILL)
    return p.wait(timeout=60)


@pytest.mark.parametrize("fmt", ["oci-archive", "docker-archive"])
def test_kill9_during_load(g, images, fmt):
    big = images["big"]
    archive = big.archive(fmt)
    t0 = time.monotonic()
    g.run("load", archive)
    full_ms = (time.monotonic() - t0) * 1000
    delays = FIXED_DELAYS_MS[fmt] + [f * full_ms for f in LOAD_FRACTIONS[fmt]]
    interrupted = 0
    for delay in delays:
        shutil.rmtree(g.root, ignore_errors=True)
        rc = kill_after(g, delay, "load", archive)
        assert rc in (0, -signal.SIGKILL), rc
        interrupted += rc == -signal.SIGKILL
        check_consistent(g, f"after kill at {delay} ms")
        # a second crash on top of the first one's debris
        rc = kill_after(g, delay / 2, "load", archive)
        interrupted += rc == -signal.SIGKILL
        check_consistent(g, f"after second kill at {delay / 2} ms")
        # the next load completes the image
        g.run("load", archive)
        check_consistent(g, f"after reload ({delay} ms)")
        check_image_intact(g, big, fmt)
        g.run("system", "prune")
        assert tmp_entries(g.root) == [], f"prune left {tmp_entries(g.root)}"
        check_consistent(g, f"after prune ({delay} ms)")
    assert interrupted >= 3, \
        f"only {interrupted} kills hit a running load: the test did not exercise crashes"


def test_kill9_during_rmi_and_prune(g, images):
    big = images["big"]
    for delay in [1, 3, 6, 10, 20]:
        g.run("load", big.oci)
        (g.root / "tmp" / "leftover").mkdir(parents=True, exist_ok=True)
        (g.root / "tmp" / "leftover" / "junk").write_bytes(os.urandom(1 << 20))
        kill_after(g, delay, "rmi", big.oci_ref)
        check_consistent(g, f"after rmi killed at {delay} ms")
        kill_after(g, delay, "system", "prune")
        check_consistent(g, f"after prune killed at {delay} ms")
        g.run("system", "prune")
        assert tmp_entries(g.root) == []
        if big.oci_ref not in g.refs():
            assert blob_names(g.root) == set() and layer_names(g.root) == set()
        else:
            check_image_intact(g, big, "oci-archive")
    g.run("load", big.oci)
    check_image_intact(g, big, "oci-archive")


# --------------------------------------------------------------------------------------------
# (2) concurrency
# --------------------------------------------------------------------------------------------

def run_together(procs_args, g, stagger=0.0):
    procs = []
    for i, args in enumerate(procs_args):
        if i and stagger:
            time.sleep(stagger)
        procs.append(g.popen(*args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    out = []
    for p in procs:
        o, e = p.communicate(timeout=120)
        out.append((p.returncode, o, e))
    return out


@pytest.mark.parametrize("pair", [("oci-archive", "oci-archive"),
                                  ("docker-archive", "docker-archive"),
                                  ("oci-archive", "docker-archive")])
def test_two_loads_of_one_image_at_once(g, images, pair):
    big = images["big"]
    for it in range(3):
        shutil.rmtree(g.root, ignore_errors=True)
        fa, fb = pair if it % 2 == 0 else pair[::-1]
        results = run_together([("load", big.archive(fa)), ("load", big.archive(fb))], g)
        for rc, o, e in results:
            assert rc == 0, f"iteration {it}: concurrent load failed: {o}\n{e}"
        check_consistent(g, f"iteration {it}")
        for f in {fa, fb}:
            check_image_intact(g, big, f)
        # exactly one copy of each blob, one tree per diffID, nothing left in tmp/
        want = set()
        for md in set(g.refs().values()):
            want |= image_blobs(g.root, md)[0]
        assert set(g.refs()) == {big.ref(fa), big.ref(fb)}
        assert blob_names(g.root) == want, f"extra blobs: {blob_names(g.root) - want}"
        assert layer_names(g.root) == big.diff_ids
        assert tmp_entries(g.root) == [], f"iteration {it}: tmp/ holds {tmp_entries(g.root)}"


def test_load_while_rmi_of_image_sharing_layers(g, images):
    a, b = images["a"], images["b"]
    unique_layer = {"a": a.img.layers[-1], "b": b.img.layers[-1]}
    g.run("load", a.docker)
    have, other = "a", "b"
    staggers = [0.0, 0.002, 0.005, 0.01, 0.02, 0.04, 0.0, 0.008]
    for it, stagger in enumerate(staggers):
        s_have, s_other = images[have], images[other]
        fmt = "docker-archive" if it % 3 else "oci-archive"
        rmi = ("rmi", s_have.docker_ref)
        load = ("load", s_other.archive(fmt))
        order = [rmi, load] if it % 2 == 0 else [load, rmi]
        results = run_together(order, g, stagger)
        for (rc, o, e), args in zip(results, order):
            assert rc == 0, f"iteration {it}: {' '.join(map(str, args))} failed: {o}\n{e}"
        check_consistent(g, f"iteration {it}")
        assert set(g.refs()) == {s_other.ref(fmt)}, g.refs()
        blobs, diffs = check_image_intact(g, s_other, fmt)
        fsck_clean(g)
        # the removed image's own content is gone, the shared layers stay
        assert unique_layer[have].diff_id.split(":")[1] not in layer_names(g.root)
        assert unique_layer[have].digest.split(":")[1] not in blob_names(g.root)
        assert blob_names(g.root) == blobs, "rmi left blobs behind or load lost some"
        assert layer_names(g.root) == diffs
        assert tmp_entries(g.root) == []
        # the next round removes what we just loaded (always by its docker name)
        if fmt == "oci-archive":
            g.run("tag", s_other.oci_ref, s_other.docker_ref)
            g.run("rmi", s_other.oci_ref)
        have, other = other, have


def test_load_while_prune_runs(g, images):
    """prune waits for a running load (or the load for prune): neither breaks the other."""
    big = images["big"]
    for it, stagger in enumerate([0.0, 0.01, 0.03, 0.0]):
        shutil.rmtree(g.root, ignore_errors=True)
        g.run("load", images["small"].oci)  # something to keep
        refs = json.loads((g.root / "refs.json").read_text())
        refs["refs"].clear()  # ... and then make it garbage
        (g.root / "refs.json").write_text(json.dumps(refs))
        (g.root / "tmp" / "leftover-dir").mkdir()
        (g.root / "tmp" / "leftover-dir" / "f").write_bytes(b"x" * 1000)
        order = [("load", big.oci), ("system", "prune")]
        if it % 2:
            order.reverse()
        for (rc, o, e), args in zip(run_together(order, g, stagger), order):
            assert rc == 0, f"iteration {it}: {' '.join(map(str, args))} failed: {o}\n{e}"
        check_consistent(g, f"iteration {it}")
        blobs, diffs = check_image_intact(g, big, "oci-archive")
        assert blob_names(g.root) == blobs and layer_names(g.root) == diffs
        assert tmp_entries(g.root) == []


def test_rootless_rmi_and_prune_remove_read_only_trees(rootless, images):
    """Layer trees with read-only directories are still removed by their rootless owner."""
    E = mk.Entry
    layer = mk.Layer([E.dir("ro", mode=0o555), E.file("ro/f", "x\n", mode=0o444),
                      E.dir("ro/sub", mode=0o500), E.file("ro/sub/g", "y\n", mode=0o400),
                      E.dir("none", mode=0o000), E.file("none/h", "z\n")],
                     compression="gzip", sort=False)
    img = mk.Image([layer])
    archive = rootless.base / "ro.tar"
    mk.write_oci_archive(archive, img, tags="latest")
    os.chmod(archive, 0o644)
    rootless.run("load", archive)
    rootfs = rootless.root / "layers" / "sha256" / layer.diff_id.split(":")[1] / "rootfs"
    assert stat.S_IMODE(os.stat(rootfs / "ro").st_mode) == 0o555
    assert stat.S_IMODE(os.stat(rootfs / "none").st_mode) == 0o000
    ref = next(iter(rootless.refs()))
    rootless.run("rmi", ref)
    assert layer_names(rootless.root) == set(), "rmi left the read-only layer tree"
    assert blob_names(rootless.root) == set()
    assert tmp_entries(rootless.root) == [], "rmi left a half-removed tree in tmp/"
    # the same through prune, after the reference vanished behind gantry's back
    rootless.run("load", archive)
    (rootless.root / "refs.json").write_text('{"refs": {}}')
    rootless.run("system", "prune")
    assert layer_names(rootless.root) == set() and blob_names(rootless.root) == set()
    assert tmp_entries(rootless.root) == []
    assert rootless.run("system", "fsck", "--json").json()["problems"] == []


# --------------------------------------------------------------------------------------------
# (3) df, prune, fsck
# --------------------------------------------------------------------------------------------

def df(g):
    return g.run("system", "df", "--json").json()


def blob_bytes(root, names):
    return sum(os.path.getsize(Path(root) / "blobs" / "sha256" / n) for n in names)


def layer_tar_bytes(*samples):
    seen = {}
    for s in samples:
        for l in s.img.layers:
            seen[l.diff_id] = len(l.tar_bytes())
    return seen


def test_df_numbers(g, images):
    a, b = images["a"], images["b"]
    u = df(g)
    assert u["images"] == 0
    assert (u["blobs"]["count"], u["blobs"]["bytes"]) == (0, 0)
    assert (u["layers"]["count"], u["layers"]["bytes"]) == (0, 0)
    assert u["tmp_bytes"] == 0
    assert Path(u["root"]) == g.root

    g.run("load", a.oci)
    g.run("load", b.docker)
    ablobs, _ = image_blobs(g.root, g.refs()[a.oci_ref])
    bblobs, _ = image_blobs(g.root, g.refs()[b.docker_ref])
    sizes = layer_tar_bytes(a, b)
    u = df(g)
    assert u["images"] == 2
    assert u["blobs"]["count"] == len(ablobs | bblobs) == 8  # 2 manifests, 2 configs, 4 layers
    assert u["blobs"]["bytes"] == blob_bytes(g.root, ablobs | bblobs)
    assert u["blobs"]["bytes"] >= sum(len(l.blob()) for l in a.img.layers)
    assert (u["blobs"]["unused"], u["blobs"]["unused_bytes"]) == (0, 0)
    assert u["layers"]["count"] == len(sizes) == 4
    assert u["layers"]["bytes"] == sum(sizes.values())
    assert (u["layers"]["unused"], u["layers"]["unused_bytes"]) == (0, 0)

    # a second name for b is not a second image
    g.run("tag", b.docker_ref, "docker.io/library/other:2")
    assert df(g)["images"] == 2

    # drop a's reference behind gantry's back (as a crash after untagging would): its own
    # blobs and layer become unused, the shared ones do not
    refs = json.loads((g.root / "refs.json").read_text())
    del refs["refs"][a.oci_ref]
    (g.root / "refs.json").write_text(json.dumps(refs))
    only_a = ablobs - bblobs
    u = df(g)
    assert u["images"] == 1
    assert u["blobs"]["count"] == len(ablobs | bblobs)
    assert u["blobs"]["unused"] == len(only_a) == 3
    assert u["blobs"]["unused_bytes"] == blob_bytes(g.root, only_a)
    assert u["layers"]["unused"] == 1
    assert u["layers"]["unused_bytes"] == len(a.img.layers[-1].tar_bytes())

    # rmi frees b's own content right away; the shared layers stay while a's tree lingers
    g.run("load", a.oci)
    g.run("rmi", b.docker_ref, "docker.io/library/other:2")
    u = df(g)
    assert u["images"] == 1
    assert u["blobs"]["count"] == len(ablobs)
    assert blob_names(g.root) == ablobs
    assert (u["blobs"]["unused"], u["blobs"]["unused_bytes"]) == (0, 0)
    assert u["layers"]["count"] == 3 and u["layers"]["unused"] == 0

    # temporary leftovers are counted
    (g.root / "tmp" / "blob-leftover").write_bytes(os.urandom(100_000))
    assert df(g)["tmp_bytes"] >= 100_000


def test_df_in_dockers_shape_and_verbose(g, images):
    """docker's columns (TYPE TOTAL ACTIVE SIZE RECLAIMABLE), a row per kind of space, and -v's
    per-image table: SIZE is the image's unpacked size, as `images` shows it."""
    a = images["a"]
    g.run("load", a.oci)
    lines = g.run("system", "df").out.splitlines()
    assert lines[1].split() == ["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"], lines
    kinds = [ln.split("  ")[0] for ln in lines[2:]]
    assert kinds == ["Images", "Blobs", "Layer trees", "Lazy caches", "Squashfs cache",
                     "Build Cache", "Temporary"], lines
    assert lines[2].split()[1:3] == ["1", "0"]  # one image, no container uses it
    v = g.run("system", "df", "-v").out
    assert "Images space usage:" in v and "Build cache usage: 0 B" in v, v
    repo = a.oci_ref.split(":")[0]  # localhost/shared-a
    listed = next(ln for ln in g.run("images").out.splitlines() if ln.startswith(repo + " "))
    size = " ".join(listed.split()[-2:])  # SIZE: "1.23 MB"
    row = next(ln for ln in v.splitlines() if ln.startswith(repo + " "))
    assert row.split()[:2] == [repo, "latest"] and f"  {size}  " in row, (size, row)


def test_prune_removes_only_unreferenced(g, images):
    a, small = images["a"], images["small"]
    g.run("load", a.oci)
    g.run("load", small.docker)
    keep_blobs, keep_layers = image_blobs(g.root, g.refs()[a.oci_ref])
    # small becomes unreferenced behind gantry's back
    refs = json.loads((g.root / "refs.json").read_text())
    del refs["refs"][small.docker_ref]
    (g.root / "refs.json").write_text(json.dumps(refs))
    small_blobs = blob_names(g.root) - keep_blobs
    assert len(small_blobs) == 3
    # a stray blob, a stray (complete) layer tree, and tmp/ leftovers of a crashed command
    stray = b"a stray blob nobody references\n"
    stray_hex = hashlib.sha256(stray).hexdigest()
    (g.root / "blobs" / "sha256" / stray_hex).write_bytes(stray)
    stray_layer = g.root / "layers" / "sha256" / ("ab" * 32)
    (stray_layer / "rootfs" / "d").mkdir(parents=True)
    (stray_layer / "rootfs" / "d" / "f").write_text("x")
    (stray_layer / "meta.json").write_text(json.dumps({"diff_id": "sha256:" + "ab" * 32}))
    tmp = g.root / "tmp"
    (tmp / "layer-12345-0-1" / "rootfs" / "usr").mkdir(parents=True)
    (tmp / "layer-12345-0-1" / "rootfs" / "usr" / "f").write_bytes(b"x" * 5000)
    os.chmod(tmp / "layer-12345-0-1" / "rootfs" / "usr", 0o500)  # prune must cope with this
    (tmp / "blob-12345-1-1").write_bytes(b"half a blob")
    before = df(g)
    assert before["blobs"]["unused"] == len(small_blobs) + 1
    assert before["layers"]["unused"] == 2
    assert before["tmp_bytes"] > 0

    res = g.run("system", "prune")
    assert re.search(r"Removed 4 blob\(s\), 2 layer tree\(s\), 2 temporary entr", res.out), res
    # docker's words: each deleted object, then the total
    assert "deleted: sha256:" + stray_hex in res.out and "deleted: sha256:" + "ab" * 32 in res.out
    assert re.search(r"^Total reclaimed space: [0-9.]+[kMG]?B$", res.out, re.M), res.out
    assert blob_names(g.root) == keep_blobs
    assert layer_names(g.root) == keep_layers
    assert tmp_entries(g.root) == []
    u = df(g)
    assert (u["blobs"]["unused"], u["layers"]["unused"], u["tmp_bytes"]) == (0, 0, 0)
    check_consistent(g)
    check_image_intact(g, a, "oci-archive")
    # nothing left to do the second time
    res = g.run("system", "prune")
    assert re.search(r"Removed 0 blob\(s\), 0 layer tree\(s\), 0 temporary entr", res.out), res
    check_image_intact(g, a, "oci-archive")


@pytest.mark.parametrize("which", ["layer", "config", "manifest"])
def test_fsck_detects_and_repairs_corrupt_blob(g, images, which):
    big = images["big"]
    g.run("load", big.oci)
    md = g.refs()[big.oci_ref]
    m = read_json_blob(g.root, md)
    target = {"manifest": md, "config": m["config"]["digest"],
              "layer": m["layers"][2]["digest"]}[which].split(":")[1]
    p = g.root / "blobs" / "sha256" / target
    data = bytearray(p.read_bytes())
    data[len(data) // 2] ^= 0x5A
    os.chmod(p, 0o644)
    p.write_bytes(bytes(data))
    actual = hashlib.sha256(data).hexdigest()

    res = g.run("system", "fsck", check=False)
    assert res.code != 0, f"fsck missed a corrupt blob: {res!r}"
    assert res.code == 4, res
    assert f"sha256:{target}" in res.out + res.err, res
    assert f"sha256:{actual}" in res.out + res.err, res
    res = g.run("system", "fsck", "--json", check=False)
    assert res.code == 4
    probs = [pr for pr in res.json()["problems"] if pr["kind"] == "corrupt-blob"]
    assert [pr["object"] for pr in probs] == [f"sha256:{target}"]
    assert actual in probs[0]["detail"]
    assert p.exists(), "fsck without --repair must not remove anything"

    res = g.run("system", "fsck", "--repair", "--json", check=False)
    probs = [pr for pr in res.json()["problems"] if pr["kind"] == "corrupt-blob"]
    assert [(pr["object"], pr["repaired"]) for pr in probs] == [(f"sha256:{target}", True)], res
    assert not p.exists(), "--repair must remove the corrupt blob"
    # the image is still broken until it is loaded again: fsck says so
    res = g.run("system", "fsck", check=False)
    assert res.code != 0 and target in res.out, res
    assert g.run("images", check=False).code == 0

    g.run("load", big.oci)
    check_consistent(g, "after reload")
    check_image_intact(g, big, "oci-archive")
    assert sha256_file(p) == target


def test_fsck_clean_store(g, images):
    g.run("load", images["small"].oci)
    rep = fsck_clean(g)
    assert rep["blobs_checked"] == len(blob_names(g.root)) == 3
    assert rep["bytes_checked"] == blob_bytes(g.root, blob_names(g.root))


# --------------------------------------------------------------------------------------------
# (4) where the store lives
# --------------------------------------------------------------------------------------------

def run_bin(args, env, user=None, binary=None):
    argv = [str(binary or GANTRY), *map(str, args)]
    if user is not None:
        argv = ["setpriv", f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}",
                "--clear-groups", "--"] + argv
    base_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"}
    base_env.update(env)
    return subprocess.run(argv, env=base_env, capture_output=True, text=True, timeout=60)


def loaded_into(root, ref):
    p = Path(root) / "refs.json"
    return p.exists() and ref in json.loads(p.read_text())["refs"]


def test_gantry_root_wins_over_root_flag(tmp_path, images):
    small = images["small"]
    env_root, flag_root = tmp_path / "from-env", tmp_path / "from-flag"
    r = run_bin(["--root", flag_root, "load", small.oci], {"GANTRY_ROOT": str(env_root),
                                                          "HOME": str(tmp_path)})
    assert r.returncode == 0, r
    assert loaded_into(env_root, small.oci_ref)
    assert not flag_root.exists(), "--root must be ignored when GANTRY_ROOT is set"
    r = run_bin(["--root", flag_root, "system", "df", "--json"], {"GANTRY_ROOT": str(env_root)})
    assert r.returncode == 0 and json.loads(r.stdout)["root"] == str(env_root), r
    assert json.loads(r.stdout)["images"] == 1


def test_root_flag_used_without_gantry_root(tmp_path, images):
    small = images["small"]
    flag_root = tmp_path / "from-flag"
    r = run_bin(["--root", flag_root, "load", small.oci], {"HOME": str(tmp_path)})
    assert r.returncode == 0, r
    assert loaded_into(flag_root, small.oci_ref)
    r = run_bin(["--root", flag_root, "images", "--json"], {"HOME": str(tmp_path)})
    assert r.returncode == 0, r
    assert [i["reference"] for i in json.loads(r.stdout)] == [small.oci_ref]
    # an empty GANTRY_ROOT counts as unset
    r = run_bin(["--root", flag_root, "system", "df", "--json"], {"GANTRY_ROOT": ""})
    assert r.returncode == 0 and json.loads(r.stdout)["root"] == str(flag_root), r


def test_global_flags_in_every_spelling(tmp_path, images):
    """The global options are built only when the command line names them (cli::LazyOptions),
    so each spelling must still reach them: --root=DIR, --debug, -q, --version, --help."""
    small = images["small"]
    root = tmp_path / "r"
    r = run_bin([f"--root={root}", "load", small.oci], {"HOME": str(tmp_path)})
    assert r.returncode == 0 and loaded_into(root, small.oci_ref), r
    assert "manifest sha256:" in r.stderr, r  # the id line, on stderr
    r = run_bin(["-q", "--root", root, "load", small.oci], {"HOME": str(tmp_path)})
    assert r.returncode == 0 and "manifest sha256:" not in r.stderr, r
    # --debug: a run whose view cannot be saved (views/ is a file here) says so, and runs
    bb = tmp_path / "bb.tar"
    mk.write_docker_archive(bb, [(mk.busybox_image(compression="none"), ["bb:1"])])
    assert run_bin(["--root", root, "load", bb], {"HOME": str(tmp_path)}).returncode == 0
    shutil.rmtree(root / "views", ignore_errors=True)
    (root / "views").write_text("")
    # (--debug wins over --quiet)
    for flags, said in ((["--debug"], True), ([], False), (["--quiet", "--debug"], True)):
        r = run_bin([*flags, "--root", root, "run", "bb:1", "echo", "ran"], {"HOME": str(tmp_path)})
        assert r.returncode == 0 and r.stdout == "ran\n", r
        assert ("run view not saved" in r.stderr) == said, (flags, r)
    assert run_bin(["--version"], {}).stdout.strip() == "gantry 0.1.0"
    for line in (["--help"], ["-h"], ["--root", root, "--help"]):
        out = run_bin(line, {}).stdout
        for name in ("--version", "--root", "--debug", "-q,--quiet", "run", "pull"):
            assert name in out, (line, name)
    r = run_bin(["--bogus", "images"], {"HOME": str(tmp_path)})
    assert r.returncode == 2 and "--bogus" in r.stderr, r


@pytest.fixture
def nobody_home(rootless):
    if os.geteuid() != 0:
        pytest.skip("needs root to switch to user nobody")
    home = rootless.base / "home"
    home.mkdir()
    os.chown(home, NOBODY.pw_uid, NOBODY.pw_gid)
    return home


@pytest.fixture
def nobody_archive(rootless, images):
    dst = rootless.base / "small.oci.tar"
    shutil.copy(images["small"].oci, dst)
    os.chmod(dst, 0o644)
    return dst


def test_rootless_default_uses_xdg_data_home(nobody_home, nobody_archive, images):
    xdg = nobody_home / "xdg-data"
    env = {"HOME": str(nobody_home), "XDG_DATA_HOME": str(xdg)}
    r = run_bin(["load", nobody_archive], env, NOBODY, Path(str(nobody_archive.parent) + "-bin") / "gantry")
    assert r.returncode == 0, r
    assert loaded_into(xdg / "gantry", images["small"].oci_ref)
    assert not (nobody_home / ".local").exists(), "XDG_DATA_HOME must win over ~/.local/share"
    r = run_bin(["system", "df", "--json"], env, NOBODY, Path(str(nobody_archive.parent) + "-bin") / "gantry")
    assert json.loads(r.stdout)["root"] == str(xdg / "gantry")
    assert json.loads(r.stdout)["images"] == 1


@pytest.mark.parametrize("xdg", [None, ""])
def test_rootless_default_home_local_share(nobody_home, nobody_archive, images, xdg):
    env = {"HOME": str(nobody_home)}
    if xdg is not None:
        env["XDG_DATA_HOME"] = xdg  # empty counts as unset: ${XDG_DATA_HOME:-~/.local/share}
    r = run_bin(["load", nobody_archive], env, NOBODY, Path(str(nobody_archive.parent) + "-bin") / "gantry")
    assert r.returncode == 0, r
    store = nobody_home / ".local" / "share" / "gantry"
    assert loaded_into(store, images["small"].oci_ref)
    r = run_bin(["images", "--json"], env, NOBODY, Path(str(nobody_archive.parent) + "-bin") / "gantry")
    assert r.returncode == 0, r
    assert [i["reference"] for i in json.loads(r.stdout)] == [images["small"].oci_ref]
    st = os.stat(store / "blobs")
    assert st.st_uid == NOBODY.pw_uid, "the rootless store belongs to its user"


def test_rootless_gantry_root_wins_over_xdg(nobody_home, nobody_archive, images):
    env_root = nobody_home / "env-root"
    env = {"HOME": str(nobody_home), "XDG_DATA_HOME": str(nobody_home / "xdg"),
           "GANTRY_ROOT": str(env_root)}
    r = run_bin(["load", nobody_archive], env, NOBODY, Path(str(nobody_archive.parent) + "-bin") / "gantry")
    assert r.returncode == 0, r
    assert loaded_into(env_root, images["small"].oci_ref)
    assert not (nobody_home / "xdg").exists()
    assert not (nobody_home / ".local").exists()
