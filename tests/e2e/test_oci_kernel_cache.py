"""`gantry oci`'s kernel cache (docs/kernel-caches.md, "gantry oci"): a bundle's
io.gantry.kernel-cache=auto annotation (what a pod's annotation becomes through containerd or
CRI-O) gets the key's cache as `gantry run --kernel-cache` does, keyed on the image the CRI
annotations name by digest, else on the layers under the container's overlay root; a writer's
additions are published once it has exited (before `delete` returns), so the next container of
the key finds them. test_cri.py runs the same through containerd's CRI."""
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import Gantry
from ocidiff import ROOT, bundle, edit_config, oci, oci_bin, set_process  # noqa: F401

DIGEST = "sha256:" + "5e" * 32
WORK = 'f="$CCACHE_DIR/obj"; if [ -f "$f" ]; then echo "hit $(cat "$f")"; else echo miss; ' \
       'echo "$TAG" > "$f"; fi'


@pytest.fixture
def env(tmp_path):
    # the store (auto's kernel-caches/ is under it) and no setting of the machine's config file
    (tmp_path / "config.yaml").write_text("# nothing set\n")
    return dict(os.environ, GANTRY_ROOT=str(tmp_path / "store"),
                GANTRY_CONFIG=str(tmp_path / "config.yaml"))


def start(oci_bin, bundle, env, name, tag, annotations):
    def edit(cfg):
        cfg["annotations"] = dict(annotations, **{"io.gantry.kernel-cache": "auto"})
        cfg["process"]["env"] = [e for e in cfg["process"]["env"] if not e.startswith("TAG=")]
        cfg["process"]["env"].append(f"TAG={tag}")
    edit_config(bundle, edit)
    set_process(bundle, ["sh", "-c", WORK])
    return oci(oci_bin, env["GANTRY_ROOT"] + "-state", "run", "--bundle", bundle, name,
               check=False, stdin=subprocess.DEVNULL, env=env)


def keys(env):
    g = Gantry(env["GANTRY_ROOT"], env={"GANTRY_CONFIG": env["GANTRY_CONFIG"]})
    return g.run("kernel-cache", "ls", "--json").json()


def facts(env, key):
    g = Gantry(env["GANTRY_ROOT"], env={"GANTRY_CONFIG": env["GANTRY_CONFIG"]})
    return g.run("kernel-cache", "inspect", key).json()[0]


def test_a_digest_in_the_cri_annotations_keys_the_cache(oci_bin, bundle, env):
    cri = {"io.kubernetes.cri.image-name": f"reg.example:5000/team/model@{DIGEST}"}
    first = start(oci_bin, bundle, env, "kc1", "one", cri)
    assert (first.returncode, first.stdout) == (0, "miss\n"), first
    # published before `run` (create, start, wait, delete) returned: the next one hits
    second = start(oci_bin, bundle, env, "kc2", "two", cri)
    assert (second.returncode, second.stdout) == (0, "hit one\n"), second
    [key] = keys(env)
    f = facts(env, key["Key"])
    assert f["Facts"]["image"] == DIGEST and f["Facts"]["vendor"] == "cpu", f
    runs = Path(f["Dir"]) / "runs"  # the containers' own layers: gone with them
    assert not runs.exists() or not [p for p in runs.iterdir() if p.is_dir()], list(runs.iterdir())
    # CRI-O's image-ref names the same image by its repository digest: the same key
    crio = {"io.kubernetes.cri-o.ImageRef": f"quay.io/team/model@{DIGEST}"}
    third = start(oci_bin, bundle, env, "kc3", "three", crio)
    assert third.stdout == "hit one\n", third
    assert [k["Key"] for k in keys(env)] == [key["Key"]]


def test_refusals_name_the_annotation(oci_bin, bundle, env):
    # a tag and a root that is a plain directory: nothing tells the image, nothing is made
    r = start(oci_bin, bundle, env, "kc4", "x",
              {"io.kubernetes.cri.image-name": "docker.io/library/busybox:latest"})
    assert r.returncode != 0 and "io.gantry.kernel-cache" in r.stderr, r
    assert "name the image by digest" in r.stderr, r.stderr
    # a host directory chosen by the bundle's author
    edit_config(bundle, lambda cfg: cfg.update(annotations={"io.gantry.kernel-cache": "/etc"}))
    r = oci(oci_bin, env["GANTRY_ROOT"] + "-state", "run", "--bundle", bundle, "kc5",
            check=False, stdin=subprocess.DEVNULL, env=env)
    assert r.returncode != 0 and "auto or off" in r.stderr and "kernel_cache: DIR" in r.stderr, r
    assert not os.path.exists(os.path.join(env["GANTRY_ROOT"], "kernel-caches")) or \
        keys(env) == []


@pytest.mark.skipif(not ROOT, reason="mounts an overlay root as a snapshotter does (root)")
def test_a_tag_keys_on_the_layers_under_the_overlay_root(oci_bin, bundle, env, tmp_path):
    """containerd 1.6 names the image by its tag: the key is the layers under the container's
    overlay root. The same layers hit; other layers (another image, or the tag pulled again)
    are a new key, never a stale hit."""
    rootfs = bundle / "rootfs"
    lower = tmp_path / "layer-a"
    shutil.move(str(rootfs), str(lower))
    other = tmp_path / "layer-b"
    shutil.copytree(lower, other, symlinks=True)
    rootfs.mkdir()
    cri = {"io.kubernetes.cri.image-name": "docker.io/library/busybox:latest"}
    out = []
    for n, layer in enumerate([lower, lower, other]):
        upper, work = tmp_path / f"upper{n}", tmp_path / f"work{n}"
        upper.mkdir()
        work.mkdir()
        subprocess.run(["mount", "-t", "overlay", "overlay", "-o",
                        f"lowerdir={layer},upperdir={upper},workdir={work}", str(rootfs)],
                       check=True)
        try:
            r = start(oci_bin, bundle, env, f"kc-ov{n}", f"run{n}", cri)
        finally:
            subprocess.run(["umount", str(rootfs)], check=True)
        assert r.returncode == 0, r
        out.append(r.stdout)
    assert out == ["miss\n", "hit run0\n", "miss\n"]
    images = sorted(facts(env, k["Key"])["Facts"]["image"] for k in keys(env))
    assert len(images) == 2 and all(i.startswith("rootfs:sha256:") for i in images), images
    assert json.dumps(images).count(DIGEST) == 0
