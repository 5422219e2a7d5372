"""Shared by the hostile-layer tests (test_hostile_*.py): the host guard that snapshots the host
before a hostile load and checks nothing changed after, and the checks of a refused or loaded
layer."""
import hashlib
import os
import re
import shutil
import stat
import uuid
from pathlib import Path

from conftest import tmp_entries
from fixtures import mkimage as mk

E = mk.Entry
HEX64 = re.compile(r"^[0-9a-f]{64}$")

# Names the hostile entries use: none may appear in / or /tmp.
TARGET_NAMES = {
    "escaped", "escaped2", "abs-escape", "abs-escape-dir", "pwned", "outside", "hl-abs",
    "mynull", "myloop", "myfifo", "long-symlink", "long-hardlink", "xattr-file", "binary-xattr",
    "trusted-opaque", "user-opaque", "dot-prefixed", "gantry-hostile-marker",
}


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------

def sha256_file(p):
    h = hashlib.sha256()
    with open(p, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def passwd_state():
    st = os.stat("/etc/passwd")
    return sha256_file("/etc/passwd"), st.st_nlink, st.st_mtime_ns, st.st_ino


def present_targets(d):
    try:
        return {n for n in os.listdir(d) if n in TARGET_NAMES}
    except FileNotFoundError:
        return set()


class Guard:
    """Snapshots the host before a hostile load and checks nothing changed after."""

    def __init__(self, base, victim_state):
        self.base = Path(base)
        self.victim = Path(f"/tmp/gantry-victim-{uuid.uuid4().hex[:12]}")
        self.victim_state = victim_state
        if victim_state == "exists":
            self.victim.mkdir()
            os.chmod(self.victim, 0o777)  # writable by nobody too: a leak could land here
            self.victim_stat = self._vstat()
        self.passwd = passwd_state()
        self.root_names = present_targets("/")
        self.tmp_names = present_targets("/tmp")

    def _vstat(self):
        st = os.lstat(self.victim)
        return stat.S_IFMT(st.st_mode), stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid

    def check(self, g, archive):
        if self.victim_state == "exists":
            assert self.victim.is_dir() and not self.victim.is_symlink()
            assert self._vstat() == self.victim_stat, "victim's mode or owner changed"
            assert os.listdir(self.victim) == [], f"victim {self.victim} was written into"
            assert not os.listxattr(self.victim), "victim got xattrs"
        else:
            assert not os.path.lexists(self.victim), f"victim {self.victim} was created"
        assert passwd_state() == self.passwd, "/etc/passwd changed"
        assert present_targets("/") == self.root_names, "a hostile name appeared in /"
        assert present_targets("/tmp") == self.tmp_names, "a hostile name appeared in /tmp"
        assert not os.path.lexists("/abs-escape") or "abs-escape" in self.root_names
        assert_only_store_layout(self.base, g.root, archive)

    def cleanup(self):
        if os.path.lexists(self.victim):
            if self.victim.is_dir() and not self.victim.is_symlink():
                shutil.rmtree(self.victim, ignore_errors=True)
            else:
                self.victim.unlink()


def assert_only_store_layout(base, store, archive):
    """Everything under base outside layer roots is the archive or the store's own layout."""
    base, store, archive = Path(base), Path(store), Path(archive)
    unexpected = []
    for dirpath, dirnames, filenames in os.walk(base):
        d = Path(dirpath)
        for name in dirnames + filenames:
            p = d / name
            if p == archive or p == store:
                continue
            try:
                rel = p.relative_to(store).parts
            except ValueError:
                unexpected.append(str(p))
                continue
            ok = (
                rel in {("blobs",), ("blobs", "sha256"), ("layers",), ("layers", "sha256"),
                        ("tmp",), ("locks",), ("holds",), ("refs.json",)}
                or (len(rel) == 2 and rel[0] == "locks")
                or (len(rel) == 3 and rel[:2] == ("blobs", "sha256") and HEX64.match(rel[2]))
                or (len(rel) == 3 and rel[:2] == ("layers", "sha256") and HEX64.match(rel[2]))
                or (len(rel) == 4 and rel[:2] == ("layers", "sha256")
                    and rel[3] in ("rootfs", "meta.json", "tar-split.json.zst"))
                or (len(rel) > 4 and rel[:2] == ("layers", "sha256") and rel[3] == "rootfs")
            )
            if not ok:
                unexpected.append(str(p))
        # do not descend into layer roots: whatever the layer holds is contained there
        if d.parent.parent == store / "layers":
            dirnames[:] = [n for n in dirnames if n != "rootfs"]
    assert not unexpected, f"files outside the store layout: {unexpected}"


def as_user(request, user):
    return request.getfixturevalue("g" if user == "root" else "rootless")


def workdir(gan, tmp_path):
    return Path(getattr(gan, "base", tmp_path))


def write_archive(image, fmt, where, name):
    where = Path(where)
    if fmt == "docker-archive":
        path = where / f"{name}.docker.tar"
        mk.write_docker_archive(path, [(image, [f"hostile/{name}:latest"])])
    else:
        path = where / f"{name}.oci.tar"
        mk.write_oci_archive(path, image, tags="latest")
    os.chmod(path, 0o644)
    return path


def layer_root(gan, layer):
    return gan.root / "layers" / "sha256" / layer.diff_id.split(":")[1] / "rootfs"


def blob_names(gan):
    d = gan.root / "blobs" / "sha256"
    return sorted(os.listdir(d)) if d.exists() else []


def layer_names(gan):
    d = gan.root / "layers" / "sha256"
    return sorted(os.listdir(d)) if d.exists() else []


def assert_refused(gan, res, entries, layer):
    assert res.code == 4, f"hostile layer should be refused with exit 4: {res!r}"
    for e in entries:
        assert f'"{e}"' in res.err, f"error should name the entry {e!r}: {res!r}"
    assert gan.refs() == {}, "a refused image must not be referenced"
    assert layer_names(gan) == [], "a refused layer left an unpacked tree"
    assert tmp_entries(gan.root) == [], "a refused load left work files in tmp/"
    assert layer.digest.split(":")[1] not in blob_names(gan), "the refused layer blob was stored"
    assert gan.run("images", "--json").json() == []


def assert_loaded(gan, res, layer):
    assert res.code == 0, f"load should succeed: {res!r}"
    assert len(gan.refs()) == 1
    assert tmp_entries(gan.root) == []
    assert layer_root(gan, layer).is_dir(), "the layer tree is missing"
    fsck = gan.run("system", "fsck", "--json").json()
    assert fsck["problems"] == []


def all_files(root):
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        for n in dirnames + filenames:
            out.append(Path(dirpath) / n)
    return out


def xattrs_of(p):
    return {k: os.getxattr(p, k, follow_symlinks=False)
            for k in os.listxattr(p, follow_symlinks=False)}

def read(p):
    return Path(p).read_bytes()


def _contained_pwned(root, content):
    hits = [p for p in all_files(root) if p.name in ("pwned", "x") and p.is_file()
            and not p.is_symlink() and read(p) == content]
    assert hits, f"loaded, but the entry's content is nowhere inside the layer root {root}"
