"""`gantry verify FILE.sif --key KEY.asc` (issue 53, signatures): the OpenPGP signatures Apptainer
and SingularityCE write into a SIF, checked as github.com/sylabs/sif's pkg/integrity checks
them. A SIF written by `gantry save --format sif` is signed by the reference implementation
itself (tests/fixtures/sifsign: sif's integrity.Signer with a ProtonMail go-crypto key made
here), then changed byte by byte; on every case the reference verifier's verdict is compared
with gantry's (the differential), and gantry's refusal names the object."""
import json
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import IN_CI, Gantry, need_tool

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fixtures"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import sifsign  # noqa: E402
from fixtures import mkimage  # noqa: E402

SIG = 0x4005


def descriptors(path):
    """(file offset of the descriptor, type, id, linked, data offset, size) of each used one."""
    b = Path(path).read_bytes()
    total, at = struct.unpack_from("<qq", b, 88)[0], struct.unpack_from("<q", b, 96)[0]
    out = []
    for i in range(total):
        d = at + i * 585
        typ, used, oid, _grp, linked, off, size = struct.unpack_from("<iBIIIqq", b, d)
        if used:
            out.append((d, typ, oid, linked, off, size))
    return out


def patched(src, dst, at, data):
    shutil.copy(src, dst)
    with open(dst, "r+b") as f:
        f.seek(at)
        f.write(data)
    return dst


@pytest.fixture(scope="module")
def signed(tmp_path_factory, gantry_bin):
    if not sifsign.available():
        if IN_CI:
            pytest.fail("golang-go and golang-github-sylabs-sif-dev are required in CI")
        pytest.skip("Go or golang-github-sylabs-sif-dev is not installed")
    need_tool("siftool")
    ref = sifsign.binary()
    d = tmp_path_factory.mktemp("sifv")
    g = Gantry(d / "store")
    archive = d / "img.tar"
    mkimage.write_docker_archive(archive, [(mkimage.busybox_image(), ["sv:1"])])
    g.run("load", archive)
    base = d / "base.sif"
    g.run("save", "sv:1", "--format", "sif", "-o", base)
    for name, algo in (("alice", "rsa"), ("bob", "ed25519")):
        (d / name).mkdir()
        subprocess.run([ref, "keygen", algo, name, d / name], check=True)
    good = d / "signed.sif"
    shutil.copy(base, good)
    subprocess.run([ref, "sign", good, d / "alice"], check=True)
    # a group of two, as Apptainer's build writes (the partition and a JSON.Labels object):
    # the metadata's IDs relative to the group's least
    multi = d / "multi.sif"
    shutil.copy(base, multi)
    (d / "labels.json").write_text('{"org.example": "yes"}')
    subprocess.run(["siftool", "add", multi, d / "labels.json", "--datatype", "3",
                    "--groupid", "1"], check=True, capture_output=True)
    subprocess.run([ref, "sign", multi, d / "alice"], check=True)
    by_bob = d / "by-bob.sif"
    shutil.copy(base, by_bob)
    subprocess.run([ref, "sign", by_bob, d / "bob"], check=True)
    return {"dir": d, "g": g, "ref": ref, "base": base, "good": good, "by_bob": by_bob,
            "multi": multi,
            "alice": d / "alice" / "public.asc", "bob": d / "bob" / "public.asc"}


def reference_verifies(s, path, key):
    return subprocess.run([s["ref"], "verify", path, key], capture_output=True).returncode == 0


def test_verify_reports_the_signer_and_the_objects_it_covers(signed):
    s = signed
    assert reference_verifies(s, s["good"], s["alice"])
    r = s["g"].run("verify", s["good"], "--key", s["alice"])
    assert "verified" in r.out and "object 1 (FS)" in r.out and "alice@example.org" in r.out, r
    j = s["g"].run("verify", s["good"], "--key", s["bob"], "--key", s["alice"], "--json").json()
    assert j["verified"] and len(j["signatures"]) == 1, j
    sig = j["signatures"][0]
    assert sig["verified"] and sig["group"] == 1 and sig["hash"] == "sha256"
    assert sig["signer"]["fingerprint"] == sig["fingerprint"] and len(sig["fingerprint"]) == 40
    assert [o["type"] for o in sig["covers"]] == ["FS"]
    # a group of two objects
    assert reference_verifies(s, s["multi"], s["alice"])
    j = s["g"].run("verify", s["multi"], "--key", s["alice"], "--json").json()
    assert [o["type"] for o in j["signatures"][0]["covers"]] == ["FS", "JSON.Labels"], j
    # an Ed25519 key verifies too
    assert reference_verifies(s, s["by_bob"], s["bob"])
    s["g"].run("verify", s["by_bob"], "--key", s["bob"])


def test_unsigned_and_keyless_are_refused_with_a_sentence(signed):
    s = signed
    r = s["g"].fail("verify", s["base"], "--key", s["alice"], code=3)
    assert "has no signature object: it is not signed" in r.err, r
    r = s["g"].fail("verify", s["good"], code=2)
    assert "--key" in r.err and "not checked" in r.out, r
    junk = s["dir"] / "junk.asc"
    junk.write_text("not a key\n")
    r = s["g"].fail("verify", s["good"], "--key", junk, code=2)
    assert "the --key files hold no usable OpenPGP public key" in r.err, r


def cases(s):
    d = s["dir"]
    descs = descriptors(s["good"])
    part = next(x for x in descs if x[1] == 0x4004)
    sig = next(x for x in descs if x[1] == SIG)
    data = Path(s["good"]).read_bytes()
    flip = part[4] + part[5] // 2
    yield ("flipped byte in the partition",
           patched(s["good"], d / "flip.sif", flip, bytes([data[flip] ^ 1])), s["alice"],
           "the data of object 1 (FS) does not match the signature")
    yield ("partition's descriptor name changed",
           patched(s["good"], d / "name.sif", part[0] + 73, b"X"), s["alice"],
           "the descriptor of object 1 (FS) does not match the signature")
    yield ("header id changed", patched(s["good"], d / "hdr.sif", 48, b"\x00\x01"), s["alice"],
           "the SIF header does not match the signature")
    lab = next(x for x in descriptors(s["multi"]) if x[1] == 0x4003)
    yield ("a byte of the labels object", patched(s["multi"], d / "lab.sif", lab[4] + 3, b"X"),
           s["alice"], "the data of object 2 (JSON.Labels) does not match")
    yield ("signed by another key", s["by_bob"], s["alice"], "which the --key files do not hold")
    yield ("signature linked to an object, not the group",
           patched(s["good"], d / "link.sif", sig[0] + 13, struct.pack("<I", 1)), s["alice"],
           "linked to object 1 rather than to an object group")
    yield ("signature linked to another group",
           patched(s["good"], d / "group.sif", sig[0] + 13, struct.pack("<I", 0xf0000002)),
           s["alice"], "linked to object group 2, which")
    yield ("garbage signature",
           patched(s["good"], d / "garbage.sif", sig[4], b"\x00garbage" * (sig[5] // 8)),
           s["alice"], "not a valid OpenPGP signature")
    yield ("truncated signature",
           patched(s["good"], d / "trunc.sif", sig[0] + 25, struct.pack("<q", sig[5] // 2)),
           s["alice"], "signature object 2")


def test_modified_files_fail_and_the_reference_agrees(signed):
    s = signed
    for name, path, key, said in cases(s):
        assert not reference_verifies(s, path, key), f"the reference verified: {name}"
        r = s["g"].fail("verify", path, "--key", key, code=11)
        assert said in r.err and "does not verify" in r.err, f"{name}: {r!r}"
        for crash in ("Segmentation", "AddressSanitizer", "Aborted"):
            assert crash not in r.err
