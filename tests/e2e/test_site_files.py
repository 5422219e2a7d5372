"""The site's policy for what is not pulled, and `gantry info`: a .sqsh image file (or a shared
store's object) carries a detached GPG simple signature FILE.sig over the file's sha256, made by
`gantry sign` and checked before the file is mounted when policy.json's "sif" transport asks for
a signature (Apptainer checks SIF files before it runs them; no peer here reads gantry's .sqsh,
so these cases check gantry alone). `gantry info` reports the registries.conf and policy.json in
force and what they make of an image name."""
import hashlib
import json
import os
import shutil
import subprocess

import pytest

from conftest import Gantry, need_tool
from fixtures import mkimage


def _gpg(home, *args, **kw):
    return subprocess.run(["gpg", "--batch", "--no-tty", *args], check=True, capture_output=True,
                          env=dict(os.environ, GNUPGHOME=str(home)), **kw)


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    """A GnuPG home with two signing keys: TRUSTED (exported to trusted.gpg) and OTHER."""
    need_tool("gpg")
    d = tmp_path_factory.mktemp("keys")
    home = d / "gnupg"
    home.mkdir(mode=0o700)
    fprs = []
    for uid in ("trusted <t@example.com>", "other <o@example.com>"):
        _gpg(home, "--passphrase", "", "--quick-gen-key", uid, "ed25519", "sign", "never")
        out = _gpg(home, "--with-colons", "--list-keys", uid, text=True).stdout
        fprs.append(next(l.split(":")[9] for l in out.splitlines() if l.startswith("fpr:")))
    (d / "trusted.gpg").write_bytes(_gpg(home, "--export", fprs[0]).stdout)
    yield {"home": home, "trusted": fprs[0], "other": fprs[1], "pub": d / "trusted.gpg"}
    subprocess.run(["gpgconf", "--kill", "gpg-agent"], capture_output=True,
                   env=dict(os.environ, GNUPGHOME=str(home)))


def test_sqsh_signature_is_checked_before_mount(tmp_path, keys, fuse_open):
    need_tool("tar2sqfs")
    policy = tmp_path / "policy.json"
    signed_dir = tmp_path / "signed"
    signed_dir.mkdir()
    policy.write_text(json.dumps({
        "default": [{"type": "insecureAcceptAnything"}],
        "transports": {"sif": {str(signed_dir): [{"type": "signedBy", "keyType": "GPGKeys",
                                                  "keyPath": str(keys["pub"])}],
                               str(tmp_path / "banned"): [{"type": "reject"}]}}}))
    g = Gantry(tmp_path / "store", env={"CONTAINERS_POLICY_JSON": str(policy),
                                        "GNUPGHOME": str(keys["home"])})
    archive = tmp_path / "img.tar"
    mkimage.write_docker_archive(archive, [(mkimage.busybox_image(cmd=["echo", "ran"]),
                                            ["sq:1"])])
    g.run("load", archive)
    f = signed_dir / "img.sqsh"
    g.run("save", "sq:1", "--format", "squashfs", "-o", f)
    unsigned = tmp_path / "elsewhere.sqsh"  # outside the scope: the default accepts it
    shutil.copy(f, unsigned)
    assert g.run("run", "--rm", unsigned).out.strip() == "ran"

    r = g.run("run", "--rm", f, check=False)
    assert r.code == 11 and f"{f}.sig does not exist" in r.err and "gantry sign" in r.err
    g.run("sign", f, "--sign-by", keys["other"])
    r = g.run("run", "--rm", f, check=False)
    assert r.code == 11 and ("No public key" in r.err or "does not trust" in r.err), r.err
    assert g.run("sign", f, "--sign-by", keys["trusted"]).out.strip() == f"Signature: {f}.sig"
    assert g.run("run", "--rm", f).out.strip() == "ran"
    assert g.run("run", "--rm", f"sqsh:{f}").out.strip() == "ran"

    payload = _gpg(keys["home"], "--decrypt", f"{f}.sig").stdout  # what gpg itself reads
    doc = json.loads(payload)
    assert doc["critical"]["image"]["docker-manifest-digest"] == \
        "sha256:" + hashlib.sha256(f.read_bytes()).hexdigest()
    assert doc["critical"]["type"] == "atomic container signature"

    tampered = signed_dir / "tampered.sqsh"  # a signature of other bytes
    tampered.write_bytes(f.read_bytes() + b"\0" * 4096)
    shutil.copy(f"{f}.sig", f"{tampered}.sig")
    r = g.run("run", "--rm", tampered, check=False)
    assert r.code == 11 and "does not match" in r.err, r.err
    (tmp_path / "banned").mkdir()
    shutil.copy(f, tmp_path / "banned/img.sqsh")
    r = g.run("run", "--rm", tmp_path / "banned/img.sqsh", check=False)
    assert r.code == 11 and "rejects" in r.err and 'transports.sif["' in r.err
    assert not [l for l in open("/proc/mounts") if "fuse.gantry" in l]

    r = g.run("sign", f, "--sign-by", "nobody@example.com", check=False)
    assert r.code == 4 and "nobody@example.com" in r.err


def test_shared_store_object_signature(tmp_path, keys, fuse_open):
    need_tool("tar2sqfs")
    shared = tmp_path / "shared"
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps({
        "default": [{"type": "insecureAcceptAnything"}],
        "transports": {"sif": {str(shared): [{"type": "signedBy", "keyType": "GPGKeys",
                                              "keyPath": str(keys["pub"])}]}}}))
    env = {"CONTAINERS_POLICY_JSON": str(policy), "GNUPGHOME": str(keys["home"])}
    g = Gantry(tmp_path / "store", env=env)
    archive = tmp_path / "img.tar"
    mkimage.write_docker_archive(archive, [(mkimage.busybox_image(cmd=["echo", "ran"]),
                                            ["sq:1"])])
    g.run("load", archive)
    g.run("push", "--image-store", shared, "sq:1")
    (obj,) = (shared / "sqsh").glob("*.sqsh")
    node = Gantry(tmp_path / "node", env=env)  # another node: the image only in the store
    r = node.run("--image-store", shared, "run", "--rm", "sq:1", check=False)
    assert r.code == 11 and f"{obj}.sig does not exist" in r.err, r.err
    g.run("sign", obj, "--sign-by", keys["trusted"])
    assert node.run("--image-store", shared, "run", "--rm", "sq:1").out.strip() == "ran"


def test_info_reports_files_mirrors_and_policy(tmp_path):
    conf = tmp_path / "registries.conf"
    conf.write_text('unqualified-search-registries = ["reg.example"]\n'
                    '[[registry]]\nprefix = "reg.example/vendor"\nlocation = "primary.example/v"\n'
                    '[[registry.mirror]]\nlocation = "mirror.example/v"\ninsecure = true\n'
                    '[[registry]]\nlocation = "bad.example"\nblocked = true\n')
    key = tmp_path / "k.gpg"
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps({"default": [{"type": "reject"}], "transports": {"docker": {
        "reg.example/vendor": [{"type": "signedBy", "keyType": "GPGKeys", "keyPath": str(key),
                                "signedIdentity": {"type": "matchRepository"}}]}}}))
    g = Gantry(tmp_path / "store", env={"CONTAINERS_REGISTRIES_CONF": str(conf),
                                        "CONTAINERS_POLICY_JSON": str(policy),
                                        "HOME": str(tmp_path / "home")})
    r = g.run("info", "--json", "--reference", "vendor/app:2").json()
    assert r["registries_conf"]["files"][0] == str(conf)
    assert r["policy"] == {"file": str(policy),
                           "digest": "sha256:" + hashlib.sha256(policy.read_bytes()).hexdigest()}
    (c,) = r["reference"]["candidates"]
    assert c["name"] == "reg.example/vendor/app:2"
    assert [(s["location"], s["mirror"], s["insecure"]) for s in c["sources"]] == [
        ("mirror.example/v/app:2", True, True), ("primary.example/v/app:2", False, False)]
    assert c["policy"]["scope"] == 'transports.docker["reg.example/vendor"]'
    (req,) = c["policy"]["requirements"]
    assert req["type"] == "signedBy" and req["keyPaths"] == [str(key)]
    assert req["signedIdentity"]["type"] == "matchRepository"
    blocked = g.run("info", "--json", "--reference", "bad.example/x:1").json()
    (b,) = blocked["reference"]["candidates"]
    assert b["sources"][0]["blocked"] and b["policy"]["requirements"] == [{"type": "reject"}]
    text = g.run("info", "--reference", "bad.example/x:1").out
    assert str(conf) in text and "BLOCKED" in text and str(policy) in text
    policy.write_text("{")
    r = g.run("info", check=False)
    assert r.code == 4 and str(policy) in r.err
