"""gantry pull / push / login / logout against a real docker-registry on 127.0.0.1 (started per
test by tests/fixtures/registry/harness.py): skopeo pushes the sample images, a fault-injecting
proxy logs every request and corrupts, truncates, drops or answers 401/404/429/500."""
import json
import os
import shutil
import stat
import subprocess
import time
from pathlib import Path

import pytest

from conftest import Gantry, need_tool, store_files, tmp_entries
from durability import publishes, traced, violations
from fixtures.registry import harness
from fixtures.registry.harness import Proxy, Registry, make_ca, skopeo_push

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


# ---- authentication -----------------------------------------------------------------------

@pytest.fixture
def basic_reg(tmp_path, mk):
    """A registry that wants alice:s3cret (basic auth), holding the sample as priv/app:1."""
    reg = Registry(tmp_path / "reg", htpasswd={"alice": "s3cret"}).start()
    try:
        publish_dir = tmp_path / "lay"
        mk.write_oci_layout(publish_dir, [(mk.busybox_image(), ["latest"])])
        skopeo_push(publish_dir, f"{reg.addr}/priv/app:1", creds="alice:s3cret")
        reg.ref = f"{reg.addr}/priv/app:1"
        yield reg
    finally:
        reg.stop()

def test_basic_auth_login_logout_and_docker_config(gr, tmp_path, basic_reg):
    reg, ref = basic_reg, basic_reg.ref
    r = gr.fail("pull", INSECURE, ref, code=9)
    assert "requires authentication" in r.err and f"gantry login {reg.addr}" in r.err
    bad = gr.run("login", INSECURE, "-u", "alice", "--password-stdin", reg.addr,
                 input="wrong\n", check=False)
    assert bad.code == 9, bad
    auth = gr.home / ".config/gantry/auth.json"
    assert not auth.exists()
    ok = gr.run("login", INSECURE, "-u", "alice", "--password-stdin", reg.addr, input="s3cret\n")
    assert "Login Succeeded" in ok.out
    assert stat.S_IMODE(auth.stat().st_mode) == 0o600
    assert reg.addr in json.loads(auth.read_text())["auths"]
    gr.run("pull", INSECURE, ref)
    gr.run("logout", reg.addr)
    assert json.loads(auth.read_text())["auths"] == {}
    gr.fail("logout", reg.addr, code=3)
    g2 = Gantry(tmp_path / "store2", env=gr.env)
    g2.fail("pull", INSECURE, ref, code=9)
    # docker's config.json is read
    (gr.home / ".docker").mkdir()
    import base64
    (gr.home / ".docker/config.json").write_text(json.dumps(
        {"auths": {reg.addr: {"auth": base64.b64encode(b"alice:s3cret").decode()}}}))
    g2.run("pull", INSECURE, ref)
    r = g2.fail("logout", reg.addr, code=3)
    assert "config.json" in r.err
    # wrong credentials from docker's file: exit 9 naming the user
    (gr.home / ".docker/config.json").write_text(json.dumps(
        {"auths": {reg.addr: {"auth": base64.b64encode(b"alice:nope").decode()}}}))
    g3 = Gantry(tmp_path / "store3", env=gr.env)
    r = g3.fail("pull", INSECURE, ref, code=9)
    assert "alice" in r.err


def test_docker_credential_helpers(gr, tmp_path, basic_reg):
    """docker's credHelpers and credsStore: the program docker-credential-NAME is asked
    (`get`, the server on stdin), before the file's own "auths", as docker does; its failures
    are explained."""
    reg, ref = basic_reg, basic_reg.ref
    bindir = tmp_path / "helpers"
    bindir.mkdir()
    asked = tmp_path / "asked.log"

    def helper(name, body):
        p = bindir / f"docker-credential-{name}"
        p.write_text("#!/bin/sh\n" + body)
        p.chmod(0o755)

    # answers for our registry only, as a keychain holding one login would
    helper("fake", f'line=$(cat); echo "$1 $line" >> {asked}\n'
                   f'if [ "$1" = get ] && [ "$line" = "{reg.addr}" ]; then\n'
                   '  printf \'{"ServerURL":"%s","Username":"alice","Secret":"s3cret"}\\n\' "$line"\n'
                   "else echo 'credentials not found in native keychain'; exit 1; fi\n")
    helper("empty", "cat >/dev/null; echo 'credentials not found in native keychain'; exit 1\n")
    helper("broken", "cat >/dev/null; echo 'gpg: decryption failed: No secret key'; exit 3\n")
    helper("token", 'cat >/dev/null; echo \'{"ServerURL":"x","Username":"<token>","Secret":"r"}\'\n')
    helper("flood", "cat >/dev/null; head -c 3000000 /dev/zero | tr '\\0' x\n")
    (gr.home / ".docker").mkdir()
    config = gr.home / ".docker/config.json"
    n = iter(range(100))

    def pull(cfg, code=None):
        config.write_text(json.dumps(cfg))
        g = Gantry(tmp_path / f"store{next(n)}",
                   env={**gr.env, "PATH": f"{bindir}:{os.environ.get('PATH', '/usr/bin:/bin')}"})
        return g.run("pull", INSECURE, ref) if code is None else g.fail("pull", INSECURE, ref,
                                                                         code=code)

    import base64
    wrong = {reg.addr: {"auth": base64.b64encode(b"alice:nope").decode()}}
    # credHelpers for this registry wins over the file's own (wrong) credentials
    pull({"credHelpers": {reg.addr: "fake"}, "auths": wrong})
    assert f"get {reg.addr}" in asked.read_text()
    # credsStore: docker's own "auths" then hold empty placeholders
    asked.unlink()
    pull({"credsStore": "fake", "auths": {reg.addr: {}}})
    assert asked.read_text().splitlines() == [f"get {reg.addr}"]
    # a credHelpers entry for another registry does not apply; credsStore does
    pull({"credHelpers": {"other.example:5000": "broken"}, "credsStore": "fake"})
    # the helper has nothing for this registry: anonymous, then "requires authentication"
    r = pull({"credsStore": "empty"}, code=9)
    assert "requires authentication" in r.err, r.err
    # not installed: named, with the file it comes from
    r = pull({"credsStore": "missing"}, code=9)
    assert "docker-credential-missing" in r.err and "config.json" in r.err, r.err
    assert "not installed" in r.err and "hint:" in r.err
    # logout has nothing of gantry's to remove, whatever the helper does
    r = Gantry(tmp_path / "storeL", env={**gr.env, "PATH": f"{bindir}:/usr/bin:/bin"}).fail(
        "logout", reg.addr, code=3)
    assert "not logged in" in r.err, r.err
    # its own failure is reported with what it said
    r = pull({"credHelpers": {reg.addr: "broken"}}, code=9)
    assert "docker-credential-broken" in r.err and "No secret key" in r.err, r.err
    # an identity token (an OAuth refresh token) needs a token service, not basic auth
    r = pull({"credsStore": "token"}, code=9)
    assert "identity token" in r.err and "password" in r.err, r.err
    # one printing megabytes is cut off (it gets EPIPE rather than gantry waiting for ever)
    r = pull({"credsStore": "flood"}, code=9)
    assert "docker-credential-flood" in r.err and "failed" in r.err, r.err
    # a name that is not a program name is refused before anything runs
    r = pull({"credHelpers": {reg.addr: "../fake"}}, code=4)
    assert "not a credential helper name" in r.err, r.err


def test_bearer_token_flow(gr, tmp_path, mk):
    from fixtures.registry.token_server import TokenServer
    ts = TokenServer(tmp_path / "token", users={"alice": "pw", "bob": "pw2"},
                     grants={"private/*": {"alice": ["pull", "push"]},
                             "public/*": {"*": ["pull"], "alice": ["pull", "push"]}})
    reg = Registry(tmp_path / "reg", token=ts).start()
    try:
        lay = tmp_path / "lay"
        img = mk.busybox_image(extra_layers=[mk.Layer.from_files({"a": "1"})])
        mk.write_oci_layout(lay, [(img, ["latest"])])
        skopeo_push(lay, f"{reg.addr}/public/app:1", creds="alice:pw")
        skopeo_push(lay, f"{reg.addr}/private/app:1", creds="alice:pw")
        ts.requests.clear()
        gr.run("pull", INSECURE, f"{reg.addr}/public/app:1")
        # one anonymous token for the repository, reused for the manifest, config and 2 layers
        assert len(ts.requests) == 1, ts.requests
        assert ts.requests[0]["account"] is None
        assert ts.requests[0]["scope"] == ["repository:public/app:pull"]
        r = gr.fail("pull", INSECURE, f"{reg.addr}/private/app:1", code=9)
        assert "gantry login" in r.err
        bad = gr.run("login", INSECURE, "-u", "alice", "--password-stdin", reg.addr,
                     input="nope", check=False)
        assert bad.code == 9, bad
        gr.run("login", INSECURE, "-u", "alice", "--password-stdin", reg.addr, input="pw")
        ts.requests.clear()
        g2 = Gantry(tmp_path / "store2", env=gr.env)
        g2.run("pull", INSECURE, f"{reg.addr}/private/app:1")
        assert [q["account"] for q in ts.requests] == ["alice"]
        assert ts.requests[0]["scope"] == ["repository:private/app:pull"]
        # bob may not read private/*: the registry denies with his valid token
        g3 = Gantry(tmp_path / "store3", env=gr.env)
        r = g3.fail("pull", INSECURE, "--creds", "bob:pw2", f"{reg.addr}/private/app:1", code=9)
        assert "bob" in r.err
        # push with a token scoped pull,push
        ts.requests.clear()
        g2.run("push", INSECURE, f"{reg.addr}/private/app:1", f"{reg.addr}/private/copy:1")
        assert any("repository:private/copy:pull,push" in q["scope"] for q in ts.requests)
    finally:
        reg.stop()
        ts.stop()


def test_identity_token_from_a_credential_helper(gr, tmp_path, mk):
    """A credential helper's identity token (username "<token>") is exchanged at the token
    service with the OAuth2 refresh-token grant (POST, the token in the body), as docker does;
    a refused one exits 9 saying so."""
    from fixtures.registry.token_server import TokenServer
    ts = TokenServer(tmp_path / "token", users={"alice": "pw"},
                     grants={"private/*": {"alice": ["pull", "push"]}},
                     refresh_tokens={"rt-alice-1": "alice"})
    reg = Registry(tmp_path / "reg", token=ts).start()
    try:
        lay = tmp_path / "lay"
        mk.write_oci_layout(lay, [(mk.busybox_image(), ["latest"])])
        skopeo_push(lay, f"{reg.addr}/private/app:1", creds="alice:pw")
        bindir = tmp_path / "helpers"
        bindir.mkdir()
        for name, secret in (("good", "rt-alice-1"), ("stale", "rt-revoked")):
            p = bindir / f"docker-credential-{name}"
            p.write_text("#!/bin/sh\ncat >/dev/null\n"
                         f'echo \'{{"ServerURL":"x","Username":"<token>","Secret":"{secret}"}}\'\n')
            p.chmod(0o755)
        (gr.home / ".docker").mkdir()
        env = {**gr.env, "PATH": f"{bindir}:{os.environ.get('PATH', '/usr/bin:/bin')}"}
        (gr.home / ".docker/config.json").write_text(json.dumps({"credsStore": "good"}))
        ts.requests.clear()
        Gantry(tmp_path / "s1", env=env).run("pull", INSECURE, f"{reg.addr}/private/app:1")
        assert [(q["account"], q["grant"]) for q in ts.requests] == [("alice", "refresh_token")]
        assert ts.requests[0]["scope"] == ["repository:private/app:pull"]
        (gr.home / ".docker/config.json").write_text(json.dumps({"credsStore": "stale"}))
        r = Gantry(tmp_path / "s2", env=env).fail("pull", INSECURE, f"{reg.addr}/private/app:1",
                                                  code=9)
        assert "refused the identity token" in r.err and "docker-credential-stale" in r.err, r.err
    finally:
        reg.stop()
        ts.stop()


# ---- TLS ------------------------------------------------------------------------------------

def test_tls_self_signed_ca(gr, tmp_path, mk):
    certs = make_ca(tmp_path / "ca")
    reg = Registry(tmp_path / "reg", tls=certs).start()
    try:
        lay = tmp_path / "lay"
        mk.write_oci_layout(lay, [(mk.busybox_image(), ["latest"])])
        skopeo_push(lay, f"{reg.addr}/tls/app:1")
        ref = f"{reg.addr}/tls/app:1"
        r = gr.fail("pull", "--retry", "0", ref, code=8)
        assert "certificate" in r.err.lower() and "certs.d" in r.err
        gr.run("pull", INSECURE, ref)
        # trusting the CA: --cert-dir, then gantry's certs.d
        g2 = Gantry(tmp_path / "s2", env=gr.env)
        cdir = tmp_path / "cdir"
        cdir.mkdir()
        shutil.copy(certs["ca"], cdir / "ca.crt")
        g2.run("pull", "--cert-dir", cdir, ref)
        g3 = Gantry(tmp_path / "s3", env=gr.env)
        d = gr.home / ".config/gantry/certs.d" / reg.addr
        d.mkdir(parents=True)
        shutil.copy(certs["ca"], d / "ca.crt")
        g3.run("pull", ref)
    finally:
        reg.stop()


def test_plain_http_only_for_insecure_registries(gr, reg, mk, tmp_path):
    publish(mk, tmp_path, f"{reg.addr}/http/app:1")
    r = gr.fail("pull", "--retry", "0", f"{reg.addr}/http/app:1", code=8)
    assert "tls-verify=false" in r.err
    cfg = gr.home / ".config/gantry/registries.json"
    cfg.parent.mkdir(parents=True)
    cfg.write_text(json.dumps({"insecure-registries": [reg.addr]}))
    gr.run("pull", f"{reg.addr}/http/app:1")


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


def test_gantry_binary_does_not_link_libcurl(gantry_bin):
    out = subprocess.run(["ldd", str(gantry_bin)], capture_output=True, text=True).stdout
    assert "libcurl" not in out and "libssl" not in out


def test_rootless_pull_and_run(rootless, reg, mk, tmp_path):
    img = publish(mk, tmp_path, f"{reg.addr}/rootless/app:1")
    r = rootless.run("pull", INSECURE, f"{reg.addr}/rootless/app:1")
    assert f"Digest: {img.digest}" in r.out
    out = rootless.run("run", f"{reg.addr}/rootless/app:1", "echo", "ok").out
    assert out.strip() == "ok"
