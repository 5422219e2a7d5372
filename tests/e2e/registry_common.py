"""Shared by the registry tests (test_registry_*.py, test_sqsh_pull.py): the fixtures that start
a real docker-registry on 127.0.0.1 (tests/fixtures/registry/harness.py) and the fault-injecting
proxy in front of it, and publish(), which pushes a sample image there with skopeo."""
import json
import os

import pytest

from conftest import Gantry, need_tool
from fixtures.registry import harness
from fixtures.registry.harness import Proxy, Registry, skopeo_push

INSECURE = "--tls-verify=false"


@pytest.fixture(autouse=True)
def _tools():
    for t in ("docker-registry", "skopeo", "openssl", "htpasswd"):
        need_tool(t)


@pytest.fixture
def gr(tmp_path, gantry_bin):
    """gantry with a fresh store and private HOME / XDG_CONFIG_HOME (auth files, certs)."""
    home = tmp_path / "home"
    (home / ".config").mkdir(parents=True)
    gan = Gantry(tmp_path / "store", env={"HOME": str(home),
                                          "XDG_CONFIG_HOME": str(home / ".config")})
    gan.home = home
    return gan


@pytest.fixture
def reg(tmp_path):
    r = Registry(tmp_path / "reg").start()
    yield r
    r.stop()


@pytest.fixture
def proxy(tmp_path, reg):
    p = Proxy(tmp_path / "proxy", reg.addr).start()
    yield p
    p.kill()


class Published:
    """What a layout holds: .digest (top manifest or index), .config_digest, .layers (mkimage
    Layer objects), .manifests ({architecture: digest} of an index)."""

    def __init__(self, layout, obj):
        top = json.loads((layout / "index.json").read_text())["manifests"][0]
        self.digest = top["digest"]
        doc = json.loads((layout / "blobs/sha256" / self.digest[7:]).read_text())
        self.config_digest = doc.get("config", {}).get("digest")
        self.layers = getattr(obj, "layers", [])
        self.manifests = {m["platform"]["architecture"]: m["digest"]
                          for m in doc.get("manifests", [])}


def publish(mk, tmp_path, dest, image=None, tag="latest", all_platforms=False, raw=False):
    """Writes an OCI layout with mkimage and copies it into the registry with skopeo (raw: with
    plain HTTP requests, as skopeo compresses uncompressed layers on the way)."""
    image = image or mk.busybox_image(cmd=["/bin/sh"])
    d = tmp_path / ("layout-" + dest.replace("/", "_").replace(":", "_"))
    mk.write_oci_layout(d, [(image, [tag])])
    if raw:
        host, _, rest = dest.partition("/")
        repo, _, rtag = rest.rpartition(":")
        harness.raw_push(d, host, repo, rtag)
    elif all_platforms:
        harness.skopeo_push_all(d, dest, tag)
    else:
        skopeo_push(d, dest, tag)
    return Published(d, image)


def blob_gets(px, digest=None):
    return [r for r in px.requests() if r["method"] == "GET" and "/blobs/" in r["path"]
            and (digest is None or digest in r["path"])]


def store_blobs(g):
    d = g.root / "blobs" / "sha256"
    return sorted(os.listdir(d)) if d.exists() else []
