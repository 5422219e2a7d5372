"""Registry authentication and transport: login/logout, basic auth, docker's config.json and
credential helpers, the bearer-token flow and identity tokens; TLS with a self-signed CA, plain
HTTP only for insecure registries, and no libcurl/libssl in the binary. Fixtures in
registry_common.py."""
import json
import os
import shutil
import stat
import subprocess

import pytest

from conftest import Gantry
from fixtures.registry.harness import Registry, make_ca, skopeo_push
from registry_common import INSECURE, publish
from registry_common import _tools, gr, reg  # noqa: F401 (fixtures)


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



def test_gantry_binary_does_not_link_libcurl(gantry_bin):
    out = subprocess.run(["ldd", str(gantry_bin)], capture_output=True, text=True).stdout
    assert "libcurl" not in out and "libssl" not in out
