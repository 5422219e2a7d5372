"""Registry faults: the fault-injecting proxy (tests/fixtures/registry/harness.py) corrupts,
truncates, drops or answers 401/403/404/429/500; a registry killed mid-pull and resumed; a
manifest whose config is gone, an unknown repository, an unreachable registry. Fixtures in
registry_common.py."""
import json
import os
import shutil
import subprocess
import time

import pytest

from conftest import Gantry, tmp_entries
from fixtures.registry import harness
from fixtures.registry.harness import Proxy, Registry
from registry_common import INSECURE, blob_gets, publish, store_blobs
from registry_common import _tools, gr, proxy, reg  # noqa: F401 (fixtures)


# ---- faults -------------------------------------------------------------------------------

def test_registry_killed_mid_pull_resumes(gr, tmp_path, mk):
    big = mk.Layer.from_files({"big/random": os.urandom(6 << 20)})  # incompressible
    small = mk.Layer.from_files({"small/file": "x"})
    img = mk.Image([mk.busybox_layer(), small, big], cmd=["/bin/sh"])
    reg = Registry(tmp_path / "reg").start()
    px = Proxy(tmp_path / "px", reg.addr).start()
    try:
        img = publish(mk, tmp_path, f"{reg.addr}/kill/app:1", img)
        px.set_faults([{"method": "GET", "path": big.digest, "action": "throttle", "rate": 1 << 20}])
        p = gr.popen("pull", INSECURE, "--retry", "0", f"{px.addr}/kill/app:1",
                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        partial = gr.root / "tmp" / f"pull-{big.digest[7:]}.partial"
        end = time.time() + 30
        while time.time() < end and not (partial.exists() and partial.stat().st_size > (2 << 20)):
            time.sleep(0.05)
        assert partial.exists(), "the download never started"
        reg.kill()
        px.kill()
        out, err = p.communicate(timeout=60)
        assert p.returncode == 8, err
        assert "pull again to resume" in err
        kept = partial.stat().st_size
        assert 0 < kept < len(big.blob())
        assert gr.refs() == {}
        first = {r["path"] for r in px.requests() if r["method"] == "GET" and "/blobs/" in r["path"]}
        # a layer done is kept as its tree and tar-split (docs/storage.md, "One copy of a layer")
        done_before = {l.digest for l in img.layers
                       if (gr.root / "blobs/sha256" / l.digest[7:]).exists()
                       or (gr.root / "layers/sha256" / l.diff_id[7:] / "tar-split.json.zst").exists()}
        assert big.digest not in done_before and done_before, "the small layers should be in"
        # restart both on the same ports and storage; the next pull fetches only what is missing
        reg = Registry(tmp_path / "reg", port=reg.port).start()
        px2 = Proxy(tmp_path / "px", reg.addr, port=px.port).start()
        px2.clear_log()
        r = gr.run("pull", INSECURE, f"{px.addr}/kill/app:1")
        gets = blob_gets(px2)
        fetched = [q for q in gets if "/blobs/sha256:" in q["path"]]
        assert not [q for q in fetched if any(d in q["path"] for d in done_before)]
        big_gets = [q for q in fetched if big.digest in q["path"]]
        assert len(big_gets) == 1 and big_gets[0]["range"] == f"bytes={kept}-"
        assert big_gets[0]["sent"] == len(big.blob()) - kept
        assert f"Digest: {img.digest}" in r.out
        assert tmp_entries(gr.root) == []
        assert first  # the first run did fetch blobs
        px2.kill()
    finally:
        reg.stop()
        px.kill()


def test_corrupt_blob_stores_nothing(gr, reg, proxy, mk, tmp_path):
    img = publish(mk, tmp_path, f"{reg.addr}/bad/app:1")
    layer = img.layers[0].digest
    proxy.set_faults([{"method": "GET", "path": layer, "action": "corrupt", "offset": 1000}])
    r = gr.fail("pull", INSECURE, f"{proxy.addr}/bad/app:1", code=4)
    assert "digest mismatch" in r.err or "corrupt" in r.err
    assert gr.run("images", "-q").out.strip() == ""
    assert store_blobs(gr) == [] and tmp_entries(gr.root) == []
    assert os.listdir(gr.root / "layers/sha256") == []


def test_truncated_blob_is_resumed_or_reported(gr, reg, proxy, mk, tmp_path):
    img = publish(mk, tmp_path, f"{reg.addr}/trunc/app:1")
    layer = img.layers[0].digest
    # cut once: the pull resumes the same blob with a Range request and succeeds
    proxy.set_faults([{"method": "GET", "path": layer, "action": "truncate", "offset": 50000,
                       "times": 1}])
    gr.run("pull", INSECURE, "--retry-delay", "0.1", f"{proxy.addr}/trunc/app:1")
    gets = blob_gets(proxy, layer)
    assert [q["range"] for q in gets] == [None, "bytes=50000-"]
    # cut every time with no retries: exit 8, nothing stored but the partial bytes in tmp/
    g2 = Gantry(tmp_path / "store2", env=gr.env)
    proxy.set_faults([{"method": "GET", "path": layer, "action": "truncate", "offset": 50000}])
    r = g2.fail("pull", INSECURE, "--retry", "0", f"{proxy.addr}/trunc/app:1", code=8)
    assert "pull again to resume" in r.err
    assert g2.refs() == {} and store_blobs(g2) == []
    assert tmp_entries(g2.root) == [f"pull-{layer[7:]}.partial"]


def test_dropped_connection_is_retried(gr, reg, proxy, mk, tmp_path):
    publish(mk, tmp_path, f"{reg.addr}/drop/app:1")
    proxy.set_faults([{"method": "GET", "path": "/manifests/", "action": "drop", "times": 1}])
    gr.run("pull", INSECURE, "--retry-delay", "0.1", f"{proxy.addr}/drop/app:1")
    assert [q["fault"] for q in proxy.requests() if "/manifests/" in q["path"]][:2] == ["drop", None]


@pytest.mark.parametrize("status,code,words", [
    (401, 9, "gantry login"), (403, 9, "denied"), (404, 3, "not found"),
    (429, 8, "rate-limiting"), (500, 8, "HTTP 500")])
def test_http_errors_are_explained(gr, reg, proxy, mk, tmp_path, status, code, words):
    publish(mk, tmp_path, f"{reg.addr}/err/app:1")
    proxy.set_faults([{"method": "GET", "path": "/manifests/", "action": "status", "status": status,
                       "headers": {"Retry-After": "0"},
                       "body": json.dumps({"errors": [{"code": "TEST", "message": "injected"}]})}])
    r = gr.fail("pull", INSECURE, "--retry", "1", "--retry-delay", "0.1",
                f"{proxy.addr}/err/app:1", code=code)
    assert words in r.err and "injected" in r.err
    n = len([q for q in proxy.requests() if "/manifests/" in q["path"]])
    assert n == (2 if status in (429, 500) else 1)


def test_429_retry_after_and_500_are_retried(gr, reg, proxy, mk, tmp_path):
    img = publish(mk, tmp_path, f"{reg.addr}/retry/app:1")
    proxy.set_faults([
        {"method": "GET", "path": "/manifests/", "action": "status", "status": 429,
         "headers": {"Retry-After": "1"}, "times": 1},
        {"method": "GET", "path": img.layers[0].digest, "action": "status", "status": 503, "times": 2}])
    t0 = time.time()
    gr.run("pull", INSECURE, "--retry-delay", "0.1", f"{proxy.addr}/retry/app:1")
    assert time.time() - t0 >= 1.0  # Retry-After honoured
    statuses = [q["status"] for q in blob_gets(proxy, img.layers[0].digest)]
    assert statuses == [503, 503, 200]


def test_manifest_with_missing_config(gr, reg, mk, tmp_path):
    img = publish(mk, tmp_path, f"{reg.addr}/noconf/app:1")
    cfg = img.config_digest
    # remove the config blob from the registry's storage (docker-registry keeps blob data here)
    data = reg.storage / "docker/registry/v2/blobs/sha256" / cfg[7:9] / cfg[7:]
    assert data.exists()
    shutil.rmtree(data)
    r = gr.fail("pull", INSECURE, f"{reg.addr}/noconf/app:1", code=3)
    assert cfg in r.err and "push it again" in r.err
    assert gr.refs() == {}


def test_unknown_repository_and_unreachable_registry(gr, reg):
    r = gr.fail("pull", INSECURE, f"{reg.addr}/nope/nothing:1", code=3)
    assert "not found" in r.err and "check the repository name" in r.err
    port = harness.free_port()
    r = gr.fail("pull", INSECURE, "--retry", "0", f"127.0.0.1:{port}/x/y:1", code=8)
    assert f"127.0.0.1:{port}" in r.err
