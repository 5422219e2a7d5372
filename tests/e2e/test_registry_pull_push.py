"""gantry pull and push against a real docker-registry on 127.0.0.1 (started per test by
tests/fixtures/registry/harness.py, fixtures in registry_common.py): single-arch, every layer
compression, a multi-arch index, digest pins, blobs not fetched twice, durable publishing;
chunked push read back by skopeo, cross-repository blob mounts; rootless pull."""
import json
import os
import subprocess

import pytest

from conftest import Gantry, need_tool, tmp_entries
from durability import publishes, traced, violations
from registry_common import INSECURE, Published, blob_gets, publish, store_blobs
from registry_common import _tools, gr, proxy, reg  # noqa: F401 (fixtures)


# ---- pull --------------------------------------------------------------------------------

def test_pull_single_arch_is_runnable(gr, reg, mk, tmp_path):
    img = publish(mk, tmp_path, f"{reg.addr}/sample/busybox:1.0")
    r = gr.run("pull", INSECURE, f"{reg.addr}/sample/busybox:1.0")
    assert f"Pulled image: {reg.addr}/sample/busybox:1.0" in r.out
    assert f"Digest: {img.digest}" in r.out
    assert gr.refs() == {f"{reg.addr}/sample/busybox:1.0": img.digest}
    assert gr.run("run", f"{reg.addr}/sample/busybox:1.0", "echo", "hello").out.strip() == "hello"
    assert tmp_entries(gr.root) == []


def test_pull_publishes_durably(gr, reg, mk, tmp_path):
    """Each blob and layer synced before its name and its directory after, the tag last (issue
    36's check, tests/e2e/durability.py)."""
    need_tool("strace")
    extra = mk.Layer.from_files({"etc/motd": "second layer\n"})
    publish(mk, tmp_path, f"{reg.addr}/sample/busybox:1.0",
            mk.Image([mk.busybox_layer(), extra], cmd=["/bin/sh"]))
    _, t = traced(gr, tmp_path / "pull.log", "pull", INSECURE, f"{reg.addr}/sample/busybox:1.0")
    assert violations(t, [gr.root]) == []
    assert publishes(t, [gr.root])[-1][2].endswith("/refs.json")
    # the layers are published as one set, with one syncfs once both are unpacked and their
    # downloads dropped: a layer's own syncfs wrote the other's download to the disk too
    syncs = [i for i, c in enumerate(t.calls) if c[1] == "syncfs"]
    assert len(syncs) == 1, [t.calls[i] for i in syncs]
    tmp = f"{gr.root}/tmp/"
    trees = {i: p[len(tmp):].split("/")[0] for i, p in t.paths.items()
             if p.startswith(tmp + "layer-") and t.calls[i][1] == "openat"}
    assert len(set(trees.values())) == 2 and max(trees) < syncs[0], trees
    partials = [i for i, p in t.paths.items() if p.endswith(".partial")]
    assert partials and max(partials) < syncs[0]


@pytest.mark.parametrize("compression", ["gzip", "zstd", "none"])
def test_pull_layer_compressions(gr, reg, mk, tmp_path, compression):
    need_tool("zstd")
    base = mk.busybox_layer(compression=compression)
    extra = mk.Layer.from_files({"etc/motd": f"{compression} layer\n"}, compression=compression)
    img = publish(mk, tmp_path, f"{reg.addr}/comp/{compression}:v1",
                  mk.Image([base, extra], cmd=["/bin/sh"]), raw=compression == "none")
    r = gr.run("pull", INSECURE, f"{reg.addr}/comp/{compression}:v1")
    assert f"Digest: {img.digest}" in r.out
    layers = gr.run("inspect", "--json", f"{reg.addr}/comp/{compression}:v1").json()
    meta = [json.loads((gr.root / "layers/sha256" / l.diff_id[7:] / "meta.json").read_text())
            for l in img.layers]
    assert {m["compression"] for m in meta} == {compression}
    assert layers
    out = gr.run("run", f"{reg.addr}/comp/{compression}:v1", "cat", "/etc/motd").out
    assert out == f"{compression} layer\n"


def test_pull_multiarch_index_with_platform(gr, reg, mk, tmp_path):
    index = publish(mk, tmp_path, f"{reg.addr}/multi/app:latest", mk.multiarch_index(),
                    all_platforms=True)
    arm = gr.run("pull", INSECURE, "--platform", "linux/arm64", f"{reg.addr}/multi/app")
    cfg = gr.run("inspect", "--json", f"{reg.addr}/multi/app").json()
    text = json.dumps(cfg)
    assert "arm64" in text
    arm_digest = index.manifests["arm64"]
    assert f"Digest: {arm_digest}" in arm.out
    amd = gr.run("pull", INSECURE, f"{reg.addr}/multi/app:latest")  # default: the host (amd64)
    amd_digest = index.manifests["amd64"]
    assert f"Digest: {amd_digest}" in amd.out
    bad = gr.fail("pull", INSECURE, "--platform", "linux/s390x", f"{reg.addr}/multi/app", code=3)
    assert "no image for platform linux/s390x" in bad.err and "--platform" in bad.err
    # pinning the index digest picks the platform inside it
    pin = gr.run("pull", INSECURE, "--platform", "linux/arm64", f"{reg.addr}/multi/app@{index.digest}")
    assert f"Digest: {arm_digest}" in pin.out


def test_pull_digest_pins(gr, reg, proxy, mk, tmp_path):
    img = publish(mk, tmp_path, f"{reg.addr}/pin/app:1")
    ok = gr.run("pull", INSECURE, f"{proxy.addr}/pin/app@{img.digest}")
    assert f"Digest: {img.digest}" in ok.out
    assert gr.refs() == {f"{proxy.addr}/pin/app@{img.digest}": img.digest}
    wrong = "sha256:" + "0" * 64
    r = gr.fail("pull", INSECURE, f"{proxy.addr}/pin/app@{wrong}", code=3)
    assert "not found" in r.err and "MANIFEST_UNKNOWN" in r.err
    # a proxy that alters the manifest served for a pinned digest is caught
    g2 = Gantry(tmp_path / "store2", env=gr.env)
    proxy.set_faults([{"method": "GET", "path": "/manifests/", "action": "corrupt", "offset": 5}])
    r = g2.fail("pull", INSECURE, f"{proxy.addr}/pin/app@{img.digest}", code=4)
    assert "not the pinned" in r.err
    assert g2.refs() == {} and store_blobs(g2) == []


def test_blobs_in_store_are_not_fetched_again(gr, reg, proxy, mk, tmp_path):
    img = publish(mk, tmp_path, f"{reg.addr}/again/app:1")
    gr.run("pull", INSECURE, f"{proxy.addr}/again/app:1")
    assert len(blob_gets(proxy)) == 1 + len(img.layers)  # config + layers
    proxy.clear_log()
    r = gr.run("pull", INSECURE, f"{proxy.addr}/again/app:1")
    assert blob_gets(proxy) == []
    assert "0 of 1 layers fetched" in r.err


# ---- push --------------------------------------------------------------------------------

def test_push_read_back_by_skopeo_then_pull_and_run(gr, reg, proxy, mk, tmp_path):
    # byte-identical re-export of a loaded image needs its compressed blobs kept (without,
    # push compresses the layers again under a new manifest: test_one_copy.py)
    cfg = tmp_path / "keep.yaml"
    cfg.write_text("store:\n  keep_compressed: true\n")
    gr.env["GANTRY_CONFIG"] = str(cfg)
    img = mk.busybox_image(cmd=["/bin/sh"], extra_layers=[
        mk.Layer.from_files({"data/blob": os.urandom(3 << 20)})])
    mk.write_oci_layout(tmp_path / "src", [(img, ["v1"])])
    img = Published(tmp_path / "src", img)
    gr.run("load", "--name", "localhost/pushme", tmp_path / "src")
    # chunk size 1 MiB: the 3 MiB layer goes up in PATCH chunks, the others in one PUT
    r = gr.run("push", INSECURE, "--chunk-size", "1", "localhost/pushme:v1",
               f"{proxy.addr}/pushed/app:v1")
    assert f"Digest: {img.digest}" in r.out
    patches = [q for q in proxy.requests() if q["method"] == "PATCH"]
    assert len(patches) >= 3
    out = subprocess.run(["skopeo", "inspect", "--tls-verify=false", "--raw",
                          f"docker://{reg.addr}/pushed/app:v1"], capture_output=True, check=True)
    assert "sha256:" + __import__("hashlib").sha256(out.stdout).hexdigest() == img.digest
    subprocess.run(["skopeo", "copy", "-q", "--src-tls-verify=false",
                    f"docker://{reg.addr}/pushed/app:v1", f"oci:{tmp_path}/back:v1"],
                   check=True, capture_output=True)
    assert (tmp_path / "back/blobs/sha256" / img.digest[7:]).exists()
    # a second push finds every blob in the registry
    proxy.clear_log()
    r = gr.run("push", INSECURE, "localhost/pushme:v1", f"{proxy.addr}/pushed/app:v1")
    assert "already there" in r.err
    assert not [q for q in proxy.requests() if q["method"] in ("PUT", "PATCH", "POST")
                and "/blobs/" in q["path"]]
    # pulled into an empty store, the pushed image runs
    g2 = Gantry(tmp_path / "store2", env=gr.env)
    g2.run("pull", INSECURE, f"{reg.addr}/pushed/app:v1")
    assert g2.run("run", f"{reg.addr}/pushed/app:v1", "sh", "-c", "wc -c < /data/blob").out.strip() == str(3 << 20)


def test_push_mounts_blobs_across_repositories(gr, reg, proxy, mk, tmp_path):
    publish(mk, tmp_path, f"{reg.addr}/mount/src:1")
    gr.run("pull", INSECURE, f"{proxy.addr}/mount/src:1")
    proxy.clear_log()
    r = gr.run("push", INSECURE, f"{proxy.addr}/mount/src:1", f"{proxy.addr}/mount/dst:1")
    mounts = [q for q in proxy.requests() if q["method"] == "POST" and "mount=" in q["path"]]
    assert mounts and all(q["status"] == 201 for q in mounts)
    assert "mounted" in r.err
    assert not [q for q in proxy.requests() if q["method"] in ("PUT", "PATCH") and "/blobs/" in q["path"]]
    subprocess.run(["skopeo", "inspect", "--tls-verify=false", f"docker://{reg.addr}/mount/dst:1"],
                   check=True, capture_output=True)



def test_rootless_pull_and_run(rootless, reg, mk, tmp_path):
    img = publish(mk, tmp_path, f"{reg.addr}/rootless/app:1")
    r = rootless.run("pull", INSECURE, f"{reg.addr}/rootless/app:1")
    assert f"Digest: {img.digest}" in r.out
    out = rootless.run("run", f"{reg.addr}/rootless/app:1", "echo", "ok").out
    assert out.strip() == "ok"
