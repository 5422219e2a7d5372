"""The file tree and config of a saved image (docker-archive), for comparing gantry build's
results with podman build's: layers applied in order (whiteouts and opaque directories
honoured), each path's type, mode, owner, size and content digest (or link target); timestamps
left out."""
import gzip
import hashlib
import io
import json
import tarfile

# what podman/buildah add to every image it builds (not part of the Dockerfile's result)
BUILDER_LABELS = {"io.buildah.version"}
CONFIG_KEYS = ("Env", "Cmd", "Entrypoint", "WorkingDir", "User", "Labels", "ExposedPorts",
               "Volumes", "StopSignal", "Healthcheck", "OnBuild")


def _open_layer(data: bytes):
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    return tarfile.open(fileobj=io.BytesIO(data))


def _norm(name: str) -> str:
    # "./.wh.x" -> ".wh.x": a leading dot of the name itself is kept
    return name.removeprefix("./").strip("/")


def tree_and_config(archive):
    with tarfile.open(archive) as t:
        manifest = json.load(t.extractfile("manifest.json"))[0]
        config = json.load(t.extractfile(manifest["Config"]))
        tree = {}
        for layer in manifest["Layers"]:
            with _open_layer(t.extractfile(layer).read()) as lt:
                members = lt.getmembers()
                for m in members:  # whiteouts first: they apply to the layers below
                    name = _norm(m.name)
                    base = name.rsplit("/", 1)[-1]
                    parent = name[: -len(base)].rstrip("/")
                    if base == ".wh..wh..opq":
                        for p in [p for p in tree if p.startswith(parent + "/")]:
                            del tree[p]
                    elif base.startswith(".wh."):
                        gone = (parent + "/" if parent else "") + base[4:]
                        for p in [p for p in tree if p == gone or p.startswith(gone + "/")]:
                            del tree[p]
                for m in members:
                    name = _norm(m.name)
                    if not name or name.rsplit("/", 1)[-1].startswith(".wh."):
                        continue
                    if m.isfile():
                        what = ("file", hashlib.sha256(lt.extractfile(m).read()).hexdigest())
                    elif m.issym():
                        what = ("symlink", m.linkname)
                    elif m.islnk():
                        what = ("file", tree.get(_norm(m.linkname), (None,) * 5)[4])
                    elif m.isdir():
                        what = ("dir", "")
                    else:
                        what = ("other", f"{m.type}:{m.devmajor}:{m.devminor}")
                    tree[name] = (what[0], m.mode & 0o7777, m.uid, m.gid, what[1])
    cfg = {k: v for k, v in (config.get("config") or {}).items() if k in CONFIG_KEYS and v}
    labels = {k: v for k, v in (cfg.get("Labels") or {}).items() if k not in BUILDER_LABELS}
    if labels:
        cfg["Labels"] = labels
    else:
        cfg.pop("Labels", None)
    return tree, cfg


def differences(a, b):
    """Human-readable differences between two trees."""
    out = []
    for p in sorted(set(a) | set(b)):
        if a.get(p) != b.get(p):
            out.append(f"{p}: {a.get(p)} != {b.get(p)}")
    return out
