"""The site's image policy: registries.conf (short names, aliases, blocked, mirrors, insecure)
and policy.json (insecureAcceptAnything, reject, signedBy with GPG simple signing from a
lookaside), each case run by gantry and by podman on the same files against the same
docker-registry instances, their verdicts compared. Two registries are started once for the
module (a primary and a mirror), and one location is a port nobody listens on. Signatures are
made by skopeo standalone-sign with a throwaway GnuPG home. A refused pull leaves gantry's
store as it was."""
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from conftest import Gantry, need_tool, store_files, tmp_entries
from fixtures import mkimage, sigstore
from fixtures.registry.harness import Registry, free_port, skopeo_push


class Site:
    """Module-wide: registries A (primary) and B (mirror), a DOWN address, the sample image's
    layout and manifest digest, a GnuPG home with two keys (TRUSTED, OTHER)."""


def _gpg(site, *args, **kw):
    return subprocess.run(["gpg", "--batch", "--no-tty", *args], env=site.gpg_env, check=True,
                          capture_output=True, **kw)


def _new_key(site, uid):
    _gpg(site, "--passphrase", "", "--quick-gen-key", uid, "ed25519", "sign", "never")
    out = _gpg(site, "--with-colons", "--list-keys", uid, text=True).stdout
    fpr = next(line.split(":")[9] for line in out.splitlines() if line.startswith("fpr:"))
    pub = site.dir / f"{uid.split()[0]}.gpg"
    pub.write_bytes(_gpg(site, "--export", fpr).stdout)
    return fpr, pub


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    for t in ("docker-registry", "skopeo", "gpg"):
        need_tool(t)
    s = Site()
    s.dir = tmp_path_factory.mktemp("site")
    s.a = Registry(s.dir / "a").start()
    s.b = Registry(s.dir / "b").start()
    s.down = f"127.0.0.1:{free_port()}"
    s.runroots = []
    s.layout = s.dir / "layout"
    mkimage.write_oci_layout(s.layout, [(mkimage.busybox_image(cmd=["/bin/sh"]), ["latest"])])
    s.digest = json.loads((s.layout / "index.json").read_text())["manifests"][0]["digest"]
    s.manifest = s.layout / "blobs/sha256" / s.digest[7:]
    for dest in (f"{s.a.addr}/gt/app", f"{s.a.addr}/gt/copy", f"{s.a.addr}/gtshort/alpha",
                 f"{s.b.addr}/gt/app"):
        skopeo_push(s.layout, dest + ":1", "latest")
    s.gnupg = s.dir / "gnupg"
    s.gnupg.mkdir(mode=0o700)
    s.gpg_env = dict(os.environ, GNUPGHOME=str(s.gnupg))
    s.fpr, s.pub = _new_key(s, "trusted <trusted@example.com>")
    s.other_fpr, _ = _new_key(s, "other <other@example.com>")
    yield s
    subprocess.run(["gpgconf", "--kill", "gpg-agent"], env=s.gpg_env, capture_output=True)
    s.a.stop()
    s.b.stop()
    for d in s.runroots:
        shutil.rmtree(d, ignore_errors=True)


def sign(site, identity, fpr=None, manifest=None):
    """A simple-signing signature (bytes) of MANIFEST (the sample's) for IDENTITY."""
    out = site.dir / "sig.tmp"
    subprocess.run(["skopeo", "standalone-sign", str(manifest or site.manifest), identity,
                    fpr or site.fpr, "-o", str(out)], env=site.gpg_env, check=True,
                   capture_output=True, timeout=60)
    return out.read_bytes()


def content(files):
    return [f for f in files if f != "tmp" and not f.startswith("locks")]


class Case:
    """One configuration (registries.conf, policy.json, registries.d, signatures) in its own
    directory, and the two engines pulling under it."""

    def __init__(self, site, tmp_path, conf="", policy=None, sigs=None):
        self.site, self.dir = site, tmp_path
        self.home = tmp_path / "home"
        cfg = self.home / ".config/containers"
        (cfg / "registries.d").mkdir(parents=True)
        self.conf = tmp_path / "registries.conf"
        self.conf.write_text(conf)
        self.policy = tmp_path / "policy.json"
        self.policy.write_text(json.dumps(policy or {"default": [{"type":
                                                                   "insecureAcceptAnything"}]}))
        self.lookaside = tmp_path / "sigstore"
        (cfg / "registries.d/test.yaml").write_text(
            f"default-docker:\n  lookaside: file://{self.lookaside}\n")
        for repo, blobs in (sigs or {}).items():  # "gt/app" -> [bytes, ...]
            d = self.lookaside / f"{repo}@sha256={site.digest[7:]}"
            d.mkdir(parents=True)
            for i, b in enumerate(blobs, 1):
                (d / f"signature-{i}").write_bytes(b)
        self.runroot = Path(tempfile.mkdtemp(prefix="pm", dir="/tmp"))  # podman: <= 50 chars
        site.runroots.append(self.runroot)
        self.env = {"HOME": str(self.home), "CONTAINERS_REGISTRIES_CONF": str(self.conf)}
        self.g = Gantry(tmp_path / "store", env=dict(self.env, XDG_CONFIG_HOME=str(
            self.home / ".config")))

    def gantry(self, ref, *extra):
        self.g.run("images")  # the store's skeleton, made before the pull
        before = store_files(self.g.root)
        r = self.g.run("pull", "-q", "--retry", "0", "--signature-policy", str(self.policy),
                       *extra, ref, check=False, timeout=120)
        if r.code != 0:  # nothing stored (the pull's lock files and empty tmp/ aside)
            assert content(store_files(self.g.root)) == content(before), \
                "a refused pull changed the store"
            assert tmp_entries(self.g.root) == []
        return r

    def podman(self, ref):
        need_tool("podman")
        root = self.dir / "podman"
        run = self.runroot
        env = dict(os.environ, **self.env)
        env.pop("CONTAINERS_POLICY_JSON", None)
        r = subprocess.run(["podman", "--root", str(root / "root"), "--runroot",
                            str(run), "--storage-driver", "vfs", "pull", "-q",
                            "--signature-policy", str(self.policy), ref],
                           env=env, capture_output=True, text=True, timeout=120,
                           stdin=subprocess.DEVNULL)
        names = []
        if r.returncode == 0:
            out = subprocess.run(["podman", "--root", str(root / "root"), "--runroot",
                                  str(run), "--storage-driver", "vfs", "images",
                                  "--format", "{{.Repository}}:{{.Tag}}"], env=env,
                                 capture_output=True, text=True, timeout=60)
            names = out.stdout.split()
        return r, names

    def both(self, ref, *extra):
        """Pulls REF with both; asserts the same verdict (and the same stored name); returns
        gantry's result."""
        r = self.gantry(ref, *extra)
        p, names = self.podman(ref)
        assert (r.code == 0) == (p.returncode == 0), \
            f"gantry: {r.code} {r.err.strip()}\npodman: {p.returncode} {p.stderr.strip()}"
        if r.code == 0:
            pulled = next(line.split(": ", 1)[1] for line in r.out.splitlines()
                          if line.startswith("Pulled image:"))
            if "@" in pulled:  # podman lists a digest pull untagged
                names = [n.rsplit(":", 1)[0] for n in names]
                pulled = pulled.split("@")[0]
            assert pulled in names, (pulled, names)
        return r


def insecure_tables(*addrs):
    return "".join(f'[[registry]]\nlocation = "{a}"\ninsecure = true\n' for a in addrs)


# ---- registries.conf ------------------------------------------------------------------------

def test_insecure_table_allows_plain_http(site, tmp_path):
    c = Case(site, tmp_path, conf="")
    r = c.both(f"{site.a.addr}/gt/app:1")
    assert r.code == 8  # an http registry that registries.conf does not mark insecure
    c.conf.write_text(insecure_tables(site.a.addr))
    assert c.both(f"{site.a.addr}/gt/app:1").code == 0


def test_blocked_registry(site, tmp_path):
    conf = f'[[registry]]\nlocation = "{site.a.addr}"\ninsecure = true\nblocked = true\n'
    r = Case(site, tmp_path, conf=conf).both(f"{site.a.addr}/gt/app:1")
    assert r.code == 11 and "blocked" in r.err and str(tmp_path / "registries.conf") in r.err


def test_mirror_serves_when_the_primary_is_down(site, tmp_path):
    conf = (f'[[registry]]\nprefix = "{site.down}/gt"\nlocation = "{site.down}/gt"\n'
            f'insecure = true\n[[registry.mirror]]\nlocation = "{site.b.addr}/gt"\n'
            f'insecure = true\n')
    c = Case(site, tmp_path, conf=conf)
    r = c.both(f"{site.down}/gt/app:1")
    assert r.code == 0 and f"Pulled image: {site.down}/gt/app:1" in r.out  # the logical name


def test_location_rewriting(site, tmp_path):
    conf = (f'[[registry]]\nprefix = "example.invalid/vendor"\nlocation = "{site.a.addr}/gt"\n'
            f'insecure = true\n')
    r = Case(site, tmp_path, conf=conf).both("example.invalid/vendor/app:1")
    assert "Pulled image: example.invalid/vendor/app:1" in r.out


def test_mirror_by_digest_only(site, tmp_path):
    conf = (f'[[registry]]\nprefix = "{site.down}/gt"\nlocation = "{site.down}/gt"\n'
            f'insecure = true\nmirror-by-digest-only = true\n[[registry.mirror]]\n'
            f'location = "{site.b.addr}/gt"\ninsecure = true\n')
    c = Case(site, tmp_path, conf=conf)
    r = c.both(f"{site.down}/gt/app:1")  # a tag: the primary only, which is down
    assert r.code == 8 and site.b.addr not in r.err
    assert c.both(f"{site.down}/gt/app@{site.digest}").code == 0


def test_pull_from_mirror_tag_only_and_every_location_named(site, tmp_path):
    # pull-from-mirror is newer than Debian 12's podman (c/image 5.23 ignores it): gantry only
    other_down = f"127.0.0.1:{free_port()}"
    conf = (f'[[registry]]\nprefix = "{site.down}/gt"\nlocation = "{site.down}/gt"\n'
            f'insecure = true\n[[registry.mirror]]\nlocation = "{site.b.addr}/gt"\n'
            f'insecure = true\npull-from-mirror = "tag-only"\n[[registry.mirror]]\n'
            f'location = "{other_down}/gt"\ninsecure = true\n')
    c = Case(site, tmp_path, conf=conf)
    assert c.gantry(f"{site.down}/gt/app:1").code == 0
    r = c.gantry(f"{site.down}/gt/app@{site.digest}")  # not from the tag-only mirror
    assert r.code == 8
    assert f"{other_down}/gt/app" in r.err and f"{site.down}/gt/app" in r.err
    assert site.b.addr not in r.err


def test_short_name_search_and_alias(site, tmp_path):
    conf = (f'unqualified-search-registries = ["{site.down}", "{site.a.addr}"]\n'
            f'short-name-mode = "permissive"\n' + insecure_tables(site.a.addr, site.down) +
            f'[aliases]\n"gtalias" = "{site.a.addr}/gtshort/alpha"\n')
    c = Case(site, tmp_path, conf=conf)
    r = c.both("gtshort/alpha:1")  # no TTY: every candidate, the first that answers wins
    assert f"Pulled image: {site.a.addr}/gtshort/alpha:1" in r.out
    r = c.both("gtalias:1")
    assert f"Pulled image: {site.a.addr}/gtshort/alpha:1" in r.out


def test_short_name_enforcing_without_a_tty(site, tmp_path):
    conf = (f'unqualified-search-registries = ["{site.down}", "{site.a.addr}"]\n'
            f'short-name-mode = "enforcing"\n' + insecure_tables(site.a.addr))
    c = Case(site, tmp_path, conf=conf)
    r = c.both("gtshort/alpha:1")
    assert r.code != 0 and "cannot prompt without a TTY" in r.err
    c.conf.write_text(f'unqualified-search-registries = ["{site.a.addr}"]\n'
                      f'short-name-mode = "enforcing"\n' + insecure_tables(site.a.addr))
    assert c.both("gtshort/alpha:1").code == 0  # one search registry: no prompt needed


def test_short_name_without_search_registries(site, tmp_path):
    r = Case(site, tmp_path, conf=insecure_tables(site.a.addr)).both("gtshort/alpha:1")
    assert "unqualified-search-registries" in r.err


@pytest.mark.parametrize("text,words", [
    ('[[registry]\nlocation = "x"\n', ":1: malformed TOML"),
    ('unqualified-search-registries = ["a"]\n\n[[registry]]\nlocation = "x"\nbogus = 1\n',
     ':5: unknown key "bogus"'),
    ('[[registry]]\nlocation = "https://x.example"\n', "URI schemes are not supported"),
    ('[registries.search]\nregistries = ["x.example"]\n', "v1 format"),
    ('[[registry]]\nprefix = "a.*.example"\nlocation = "x.example"\n', "wildcard"),
])
def test_malformed_registries_conf_names_file_and_line(site, tmp_path, text, words):
    c = Case(site, tmp_path, conf=text)
    r = c.gantry(f"{site.a.addr}/gt/app:1")
    assert r.code == 4 and str(c.conf) in r.err and words in r.err, r.err


# ---- policy.json ----------------------------------------------------------------------------

def signed_policy(site, scope, identity=None):
    req = {"type": "signedBy", "keyType": "GPGKeys", "keyPath": str(site.pub)}
    if identity:
        req["signedIdentity"] = identity
    return {"default": [{"type": "reject"}], "transports": {"docker": {scope: [req]}}}


def test_reject_and_accept_anything(site, tmp_path):
    a = site.a.addr
    pol = {"default": [{"type": "insecureAcceptAnything"}],
           "transports": {"docker": {f"{a}/gt/app": [{"type": "reject"}]}}}
    c = Case(site, tmp_path, conf=insecure_tables(a), policy=pol)
    r = c.both(f"{a}/gt/app:1")
    assert r.code == 11 and "reject" in r.err and f'"{a}/gt/app"' in r.err
    assert c.both(f"{a}/gt/copy:1").code == 0


def test_signed_by_good_missing_and_foreign_key(site, tmp_path):
    a = site.a.addr
    good = sign(site, f"{a}/gt/app:1")
    c = Case(site, tmp_path, conf=insecure_tables(a), policy=signed_policy(site, f"{a}/gt"),
             sigs={"gt/app": [good], "gtshort/alpha": [sign(site, f"{a}/gtshort/alpha:1",
                                                               fpr=site.other_fpr)]})
    assert c.both(f"{a}/gt/app:1").code == 0
    # images --json: accepted under which policy file (and its bytes), scope and requirements
    (img,) = [i for i in c.g.run("images", "--json").json() if i["reference"] == f"{a}/gt/app:1"]
    assert img["policy"]["policy"] == str(c.policy)
    assert img["policy"]["policy_digest"] == "sha256:" + hashlib.sha256(
        c.policy.read_bytes()).hexdigest()
    assert img["policy"]["scope"] == f'transports.docker["{a}/gt"]'
    assert img["policy"]["requirements"] == ["signedBy"] and img["policy"]["signature_verified"]
    # the record goes with the image (rmi collects it as it collects the image's run view)
    digest = c.g.run("inspect", "--json", f"{a}/gt/app:1").json()[0]["digest"]
    record = c.g.root / "verdicts" / (digest.split(":", 1)[1] + ".json")
    assert record.exists()
    c.g.run("rmi", f"{a}/gt/app:1")
    assert not record.exists()
    r = c.both(f"{a}/gt/copy:1")
    assert r.code == 11 and "no signature exists" in r.err
    c.policy.write_text(json.dumps(signed_policy(site, f"{a}/gtshort")))
    r = c.both(f"{a}/gtshort/alpha:1")
    assert r.code == 11 and ("No public key" in r.err or "does not trust" in r.err)


@pytest.mark.parametrize("identity,ok", [
    (None, False),  # matchRepoDigestOrExact: copy:1 is not app:1
    ({"type": "matchRepository"}, False),
    ({"type": "exactRepository", "dockerRepository": "{a}/gt/app"}, True),
    ({"type": "exactReference", "dockerReference": "{a}/gt/app:1"}, True),
    ({"type": "remapIdentity", "prefix": "{a}/gt/copy", "signedPrefix": "{a}/gt/app"}, True),
    ({"type": "matchExact"}, False),
])
def test_signed_identity_kinds(site, tmp_path, identity, ok):
    a = site.a.addr
    if identity:
        identity = {k: v.replace("{a}", a) for k, v in identity.items()}
    # the signature of app:1, found for copy:1 (same digest): its identity decides
    c = Case(site, tmp_path, conf=insecure_tables(a),
             policy=signed_policy(site, f"{a}/gt", identity),
             sigs={"gt/copy": [sign(site, f"{a}/gt/app:1")]})
    r = c.both(f"{a}/gt/copy:1")
    assert (r.code == 0) == ok
    if not ok:
        assert "not accepted" in r.err


def test_hostile_signatures(site, tmp_path):
    a = site.a.addr
    good = sign(site, f"{a}/gt/app:1")
    other = site.dir / "other-manifest.json"
    other.write_bytes(site.manifest.read_bytes() + b"\n")
    cases = {
        "truncated": [good[: len(good) // 2]],
        "garbage": [b"\x00not a signature" * 10],
        "huge": [b"\x90" * (5 << 20)],
        "other digest": [sign(site, f"{a}/gt/app:1", manifest=other)],
    }
    for i, (name, blobs) in enumerate(cases.items()):
        c = Case(site, tmp_path / str(i), conf=insecure_tables(a),
                 policy=signed_policy(site, f"{a}/gt"), sigs={"gt/app": blobs})
        r = c.both(f"{a}/gt/app:1")
        assert r.code == 11, (name, r.err)
        if name == "other digest":
            assert "does not match the manifest" in r.err
        if name == "huge":
            assert "larger than 4 MiB" in r.err


@pytest.mark.parametrize("text,words", [
    ('{"default": [{"type": "insecureAcceptAnything"}]\n,\n}', "line 3"),
    ('{"default": []}', "empty list"),
    ('{"default": [{"type": "reject", "extra": 1}]}', 'unknown field "extra"'),
    ('{"default": [{"type": "signedByX"}]}', 'unknown policy requirement type "signedByX"'),
    ('{"default": [{"type": "reject"}], "default": [{"type": "reject"}]}', "appears twice"),
    ('{"default": [{"type": "reject"}], "transports": {"docker": {"busybox": '
     '[{"type": "reject"}]}}}', "fully qualified"),
])
def test_malformed_policy_is_refused(site, tmp_path, text, words):
    c = Case(site, tmp_path, conf=insecure_tables(site.a.addr))
    c.policy.write_text(text)
    r = c.gantry(f"{site.a.addr}/gt/app:1")
    assert r.code == 4 and str(c.policy) in r.err and words in r.err, r.err


# ---- sigstoreSigned (public keys; attachments made to the cosign specification) ---------------
# No peer here: Debian 12's podman and skopeo are built without sigstore (podman refuses every
# sigstoreSigned image), so these cases check gantry alone against tests/fixtures/sigstore.py.

def sigstore_case(site, tmp_path, key_path, identity=None, extra=None, attachments=True):
    req = {"type": "sigstoreSigned", "keyPath": str(key_path)}
    req.update({"signedIdentity": identity} if identity else {})
    req.update(extra or {})
    pol = {"default": [{"type": "reject"}],
           "transports": {"docker": {f"{site.a.addr}/gt": [req]}}}
    c = Case(site, tmp_path, conf=insecure_tables(site.a.addr), policy=pol)
    if attachments:
        (c.home / ".config/containers/registries.d/sigstore.yaml").write_text(
            f"docker:\n  {site.a.addr}:\n    use-sigstore-attachments: true\n")
    return c


@pytest.fixture(scope="module")
def cosign_key(site):
    pytest.importorskip("cryptography", reason="python3-cryptography makes the sigstore fixtures")
    k = sigstore.Key()
    (site.dir / "cosign.pub").write_bytes(k.pem)
    return k


SIGSTORE_CASES = {  # name -> (exit code, words in the error)
    "good": (0, ""), "tagged identity, default signedIdentity": (0, ""),
    "another key": (11, "verification failed"),
    "another digest": (11, "does not match the manifest"),
    "another identity": (11, "not accepted"),
    "unknown critical field": (11, 'unknown field "x"'),
    "truncated signature": (11, "signature 1"),
    "no annotation": (11, "annotation"),
    "huge payload": (11, "larger than 4 MiB"),
    "foreign media type": (11, "unsupported media type"),
}


def sigstore_layers(name, key, a, d):
    """The attachment of case NAME for gt/copy: (payload, signature, media type) per layer."""
    p = sigstore.payload(d, f"{a}/gt/copy")
    if name == "tagged identity, default signedIdentity":
        p = sigstore.payload(d, f"{a}/gt/copy:1")
    elif name == "another digest":
        p = sigstore.payload("sha256:" + "0" * 64, f"{a}/gt/copy")
    elif name == "another identity":
        p = sigstore.payload(d, f"{a}/gt/app")
    elif name == "unknown critical field":
        p = sigstore.payload(d, f"{a}/gt/copy", {"x": 1})
    elif name == "huge payload":
        p = b" " * (5 << 20)
    sig = (sigstore.Key() if name == "another key" else key).sign(p)
    return [(p, {"truncated signature": sig[:20], "no annotation": None}.get(name, sig),
             "text/plain" if name == "foreign media type" else None)]


@pytest.mark.parametrize("name", list(SIGSTORE_CASES))
def test_sigstore_signed_with_a_public_key(site, cosign_key, tmp_path, name):
    code, words = SIGSTORE_CASES[name]
    identity = None if "default" in name else {"type": "matchRepository"}
    c = sigstore_case(site, tmp_path, site.dir / "cosign.pub", identity)
    sigstore.attach(site.a.addr, "gt/copy", site.digest,
                    sigstore_layers(name, cosign_key, site.a.addr, site.digest))
    r = c.gantry(f"{site.a.addr}/gt/copy:1")
    assert r.code == code and words in r.err, (name, r.err)


def test_sigstore_without_attachments_or_with_fulcio_is_refused(site, cosign_key, tmp_path):
    # app:1 has no attachment; copy's is not read without use-sigstore-attachments
    c = sigstore_case(site, tmp_path / "a", site.dir / "cosign.pub", attachments=False)
    for ref in (f"{site.a.addr}/gt/app:1", f"{site.a.addr}/gt/copy:1"):
        r = c.gantry(ref)
        assert r.code == 11 and "no signature exists" in r.err, r.err
    bad_key = tmp_path / "bad.pub"
    bad_key.write_text("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")
    r = sigstore_case(site, tmp_path / "b", bad_key).gantry(f"{site.a.addr}/gt/copy:1")
    assert r.code == 11 and "not a PEM public key" in r.err
    c = sigstore_case(site, tmp_path / "c", site.dir / "cosign.pub",
                      extra={"rekorPublicKeyPath": str(site.dir / "cosign.pub")})
    r = c.both(f"{site.a.addr}/gt/copy:1")  # podman: sigstore disabled; gantry: Rekor unverified
    assert r.code == 11 and '"rekorPublicKeyPath"' in r.err


# ---- signing: push --sign-by ------------------------------------------------------------------

def test_push_sign_by_verifies_in_podman_and_gantry(site, tmp_path):
    a = site.a.addr
    pol = signed_policy(site, f"{a}/gt/signed")
    pol["default"] = [{"type": "insecureAcceptAnything"}]  # for gt/copy
    c = Case(site, tmp_path, conf=insecure_tables(a), policy=pol)
    assert c.gantry(f"{a}/gt/copy:1").code == 0
    g = Gantry(c.g.root, env=dict(c.g.env, GNUPGHOME=str(site.gnupg)))
    r = g.run("push", "-q", "--sign-by", "nokey@example.com", f"{a}/gt/copy:1",
              f"{a}/gt/signed:1", check=False)
    assert r.code == 4 and "nokey@example.com" in r.err
    with pytest.raises(urllib.error.HTTPError):  # nothing was pushed
        urllib.request.urlopen(f"http://{a}/v2/gt/signed/manifests/1")
    r = g.run("push", "-q", "--sign-by", site.fpr, f"{a}/gt/copy:1", f"{a}/gt/signed:1")
    sig = c.lookaside / f"gt/signed@sha256={site.digest[7:]}/signature-1"
    assert f"Signature: {sig}" in r.out and sig.exists()
    assert c.both(f"{a}/gt/signed:1").code == 0  # podman accepts gantry's signature
    pol["transports"]["docker"][f"{a}/gt/signed"][0]["signedIdentity"] = {"type": "matchExact"}
    c.policy.write_text(json.dumps(pol))
    assert c.both(f"{a}/gt/signed:1").code == 0


def test_push_sign_by_sigstore_private_key(site, cosign_key, tmp_path):
    a = site.a.addr
    key = tmp_path / "cosign.key"
    key.write_text(cosign_key.encrypted_pem(b"pass phrase"))
    (tmp_path / "pass").write_text("pass phrase\n")
    (tmp_path / "wrong").write_text("other\n")
    c = sigstore_case(site, tmp_path, site.dir / "cosign.pub")
    c.policy.write_text(json.dumps({"default": [{"type": "insecureAcceptAnything"}], "transports": {
        "docker": {f"{a}/gt/cosign": [{"type": "sigstoreSigned",  # default signedIdentity
                                       "keyPath": str(site.dir / "cosign.pub")}]}}}))
    assert c.gantry(f"{a}/gt/copy:1").code == 0
    r = c.g.run("push", "-q", "--sign-by-sigstore-private-key", key, "--sign-passphrase-file",
                tmp_path / "wrong", f"{a}/gt/copy:1", f"{a}/gt/cosign:1", check=False)
    assert r.code == 4 and "wrong passphrase" in r.err and str(key) in r.err
    with pytest.raises(urllib.error.HTTPError):  # nothing was pushed
        urllib.request.urlopen(f"http://{a}/v2/gt/cosign/manifests/1")
    r = c.g.run("push", "-q", "--sign-by-sigstore-private-key", key, "--sign-passphrase-file",
                tmp_path / "pass", f"{a}/gt/copy:1", f"{a}/gt/cosign:1")
    tag = site.digest.replace(":", "-") + ".sig"
    assert f"Signature: {a}/gt/cosign:{tag}" in r.out
    # the attachment, read and checked to the specification outside gantry
    ((payload, notes),) = sigstore.read_attachment(a, "gt/cosign", site.digest)
    cosign_key.verify(payload, notes["dev.cosignproject.cosign/signature"])
    doc = json.loads(payload)
    assert doc["critical"] == {"identity": {"docker-reference": f"{a}/gt/cosign:1"},
                               "image": {"docker-manifest-digest": site.digest},
                               "type": "cosign container image signature"}
    assert c.gantry(f"{a}/gt/cosign:1").code == 0  # and gantry's reader accepts it


# ---- a lookaside server that redirects or hangs --------------------------------------------

@pytest.fixture(scope="module")
def lookaside_server(site, tmp_path_factory):
    from fixtures.lookaside_server import TrickServer
    srv = TrickServer(tmp_path_factory.mktemp("lookaside"))
    d = srv.root / f"gt/app@sha256={site.digest[7:]}"
    d.mkdir(parents=True)
    (d / "signature-1").write_bytes(sign(site, f"{site.a.addr}/gt/app:1"))
    yield srv.url
    srv.stop()


@pytest.mark.parametrize("kind,code,words", [
    ("redirect", 0, ""),  # followed, as containers/image's HTTP client does (up to 10)
    ("file", 8, "signature lookaside"),  # only http(s) redirects are followed
    ("loop", 8, "signature lookaside"),
    ("hang", 8, "signature lookaside"),  # a bounded wait, then this error
])
def test_lookaside_server_that_redirects_or_hangs(site, lookaside_server, tmp_path, kind, code,
                                                  words):
    a = site.a.addr
    c = Case(site, tmp_path, conf=insecure_tables(a), policy=signed_policy(site, f"{a}/gt"))
    (c.home / ".config/containers/registries.d/test.yaml").write_text(
        f"default-docker:\n  lookaside: {lookaside_server}/{kind}\n")
    r = c.gantry(f"{a}/gt/app:1")
    assert r.code == code and words in r.err, r.err
