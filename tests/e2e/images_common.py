"""What tests/e2e/test_images_load.py, test_images_naming.py and test_images_manage.py share:
reading a store (blobs, layer trees, refs through `images --json` and `inspect --json`), the
digests of a sample image, and the checks of an unpacked busybox layer and of `load`'s output.
"""
import os
import stat

from fixtures import mkimage as mk

BUSYBOX_BYTES = open(mk.BUSYBOX, "rb").read()


def hexof(digest):
    assert digest.startswith("sha256:"), digest
    return digest.split(":", 1)[1]


def layer_rootfs(g, diff_id):
    return g.root / "layers" / "sha256" / hexof(diff_id) / "rootfs"


def layer_dirs(g):
    d = g.root / "layers" / "sha256"
    return sorted(os.listdir(d)) if d.exists() else []


def blob_names(g):
    d = g.root / "blobs" / "sha256"
    return sorted(os.listdir(d)) if d.exists() else []


def images_json(g):
    return {e["reference"]: e for e in g.run("images", "--json").json()}


def inspect(g, ref):
    out = g.run("inspect", ref, "--json").json()
    assert isinstance(out, list) and len(out) == 1, out
    return out[0]


def config_bytes(img):
    return mk.canonical_json(img.config())


def config_digest(img):
    return mk.sha256_digest(config_bytes(img))


def assert_busybox_tree(root):
    """The unpacked busybox layer: bytes, symlinks, modes, files."""
    assert root.is_dir(), f"{root} is missing"
    bb = root / "bin" / "busybox"
    assert bb.is_file() and not bb.is_symlink()
    assert bb.read_bytes() == BUSYBOX_BYTES, "bin/busybox differs from /usr/bin/busybox"
    assert stat.S_IMODE(bb.lstat().st_mode) == 0o755
    for applet in mk.BUSYBOX_APPLETS:
        link = root / "bin" / applet
        assert link.is_symlink(), f"bin/{applet} is not a symlink"
        assert os.readlink(link) == "busybox"
    tmp = (root / "tmp").lstat()
    assert stat.S_ISDIR(tmp.st_mode) and stat.S_IMODE(tmp.st_mode) == 0o1777, oct(tmp.st_mode)
    assert stat.S_IMODE((root / "root").lstat().st_mode) == 0o700
    assert (root / "etc" / "passwd").read_text() == mk.PASSWD
    assert (root / "etc" / "group").read_text() == mk.GROUP
    for d in ("dev", "proc", "sys", "home"):
        assert (root / d).is_dir()
    # nothing else at the top level
    assert sorted(os.listdir(root)) == ["bin", "dev", "etc", "home", "proc", "root", "sys", "tmp"]


def assert_loaded(res, *refs):
    for r in refs:
        assert f"Loaded image: {r}" in res.out, res
