"""Bugs that black-box fuzzing of the binary found (issue 27), each through the binary as a user
meets it: the exit status (docs/exit-codes.md), the message naming the culprit, and no crash.
A near miss beside each case shows the check does not fire on good input."""
import hashlib
import io
import json
import os
import struct
import tarfile

import pytest

from fixtures import mkimage as mk

INVALID = 4
DEEP = 1_000_000  # far past the 512 levels util/json and util/yaml allow


def nested(depth, leaf='"v"'):
    return '{"a":' * depth + leaf + "}" * depth


def assert_no_crash(res):
    assert res.code >= 0 and res.code < 128, f"killed by a signal: {res!r}"
    assert "internal error" not in res.err, res


# --------------------------------------------------------------------------------------------
# 1. cdi validate on JSON nested a million deep (SIGSEGV)
# --------------------------------------------------------------------------------------------

CDI_JSON = {"cdiVersion": "0.6.0", "kind": "a.com/b",
            "devices": [{"name": "x", "containerEdits": {"env": ["A=1"]}}]}


@pytest.mark.parametrize("shape", ["arrays", "annotations"])
def test_cdi_validate_deep_json_is_invalid_not_a_crash(g, tmp_path, shape):
    f = tmp_path / "deep.json"
    if shape == "arrays":
        f.write_text("[" * DEEP + "]" * DEEP)
    else:
        f.write_text(json.dumps(CDI_JSON)[:-1] + ', "annotations": ' + nested(DEEP) + "}")
    res = g.fail("cdi", "validate", f, code=INVALID)
    assert_no_crash(res)
    assert "deep.json: invalid JSON: the document nests deeper than 512 levels" in res.err


def test_cdi_validate_good_json_near_miss(g, tmp_path):
    f = tmp_path / "ok.json"
    f.write_text(json.dumps(CDI_JSON))
    assert "ok.json: ok" in g.run("cdi", "validate", f).out


# --------------------------------------------------------------------------------------------
# 7. cdi validate: a YAML tag that contradicts its value
# --------------------------------------------------------------------------------------------

HOOK_SPEC = """cdiVersion: 0.6.0
kind: a.com/b
devices:
- name: x
  containerEdits:
    hooks:
    - hookName: {}
      path: /bin/true
"""


@pytest.mark.parametrize("value", ["!!int createContainer", "!!bool createContainer",
                                   "!custom createContainer"])
def test_cdi_validate_refuses_tag_that_contradicts_value(g, tmp_path, value):
    f = tmp_path / "spec.yaml"
    f.write_text(HOOK_SPEC.format(value))
    res = g.fail("cdi", "validate", f, code=INVALID)
    tag = value.split()[0]
    assert (f"spec.yaml: devices[0].containerEdits.hooks[0].hookName: YAML tag {tag} does not "
            f'fit "createContainer" (line 7)') in res.err, res


@pytest.mark.parametrize("value", ["!!str createContainer", "createContainer"])
def test_cdi_validate_tag_that_fits_near_miss(g, tmp_path, value):
    f = tmp_path / "spec.yaml"
    f.write_text(HOOK_SPEC.format(value))
    assert "spec.yaml: ok" in g.run("cdi", "validate", f).out


# --------------------------------------------------------------------------------------------
# 2. image config Labels nested deep: loaded, then inspect and analyze died
# --------------------------------------------------------------------------------------------

def write_with_labels(path, labels_json):
    """An OCI archive whose config's Labels are the raw JSON text `labels_json`."""
    img = mk.busybox_image(labels={"deep": "PLACEHOLDER"})
    orig = mk.canonical_json

    def patched(obj):
        return orig(obj).replace(b'{"deep":"PLACEHOLDER"}', labels_json.encode())
    mk.canonical_json = patched
    try:
        mk.write_oci_archive(path, img, tags="docker.io/library/labels:1")
    finally:
        mk.canonical_json = orig


def test_load_refuses_config_nested_too_deep(g, tmp_path):
    path = tmp_path / "deep.tar"
    write_with_labels(path, '{"deep":' + nested(DEEP) + "}")
    res = g.fail("load", path, code=INVALID)
    assert_no_crash(res)
    assert "image config nests deeper than 512 levels" in res.err
    assert g.refs() == {}


def test_load_refuses_labels_that_are_not_strings(g, tmp_path):
    path = tmp_path / "nested.tar"
    write_with_labels(path, '{"ok":"1","deep":' + nested(3) + "}")
    res = g.fail("load", path, code=INVALID)
    assert 'image config: config.Labels["deep"] must be a string, not object' in res.err
    assert res.err.count("hint:") == 1
    assert g.refs() == {}


def test_string_labels_load_inspect_and_analyze_near_miss(g, tmp_path):
    path = tmp_path / "ok.tar"
    write_with_labels(path, '{"ok":"1","deep":"' + "x" * 1000 + '"}')
    g.run("load", path)
    doc = g.run("inspect", "labels:1", "--json").json()
    assert "x" * 1000 in json.dumps(doc)
    g.run("analyze", "labels:1")


# --------------------------------------------------------------------------------------------
# 3. a failed multi-image load tags nothing
# --------------------------------------------------------------------------------------------

def two_images(broken_fault):
    good = mk.busybox_image()
    ex = mk.Layer.from_files({"etc/second": "the second image\n" * 50})
    bad = mk.busybox_image(extra_layers=[ex],
                           faults=frozenset([broken_fault]) if broken_fault else frozenset())
    return [(good, "docker.io/library/first:1"), (bad, "docker.io/library/second:1")]


def write_two(fmt, path, fault):
    if fmt == "docker-archive":
        mk.write_docker_archive(path, two_images(fault and "missing-layer-blob"))
    else:
        mk.write_oci_archive(path, two_images(fault and "missing-manifest-blob"))


@pytest.mark.parametrize("fmt", ["docker-archive", "oci-archive"])
def test_failed_multi_image_load_tags_nothing(g, tmp_path, fmt):
    path = tmp_path / "two.tar"
    write_two(fmt, path, True)
    kept = tmp_path / "kept.tar"
    mk.write_oci_archive(kept, mk.busybox_image(cmd=["/bin/true"]),
                         tags="docker.io/library/kept:1")
    g.run("load", kept)
    before = (g.root / "refs.json").read_bytes()
    res = g.fail("load", path, code=3)  # a missing blob: not found
    assert_no_crash(res)
    assert (g.root / "refs.json").read_bytes() == before, "a tag of the failed archive remained"
    assert list(g.refs()) == ["docker.io/library/kept:1"]
    # what stayed is verified, unreferenced content that prune collects
    for b in (g.root / "blobs/sha256").iterdir():
        assert hashlib.sha256(b.read_bytes()).hexdigest() == b.name
    g.run("system", "prune")
    g.run("rmi", "kept:1")
    g.run("system", "prune")
    assert os.listdir(g.root / "blobs/sha256") == []


@pytest.mark.parametrize("fmt", ["docker-archive", "oci-archive"])
def test_good_multi_image_load_tags_every_image_near_miss(g, tmp_path, fmt):
    path = tmp_path / "two.tar"
    write_two(fmt, path, False)
    g.run("load", path)
    assert sorted(g.refs()) == ["docker.io/library/first:1", "docker.io/library/second:1"]


# --------------------------------------------------------------------------------------------
# 4. tar headers with a bad checksum
# --------------------------------------------------------------------------------------------

def ustar(files):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tf:
        for name, data in files:
            ti = tarfile.TarInfo(name)
            ti.size, ti.mtime = len(data), 0
            tf.addfile(ti, io.BytesIO(data))
    return bytearray(buf.getvalue())


def header_offsets(data):
    out, o = {}, 0
    while o + 512 <= len(data) and data[o:o + 512] != bytes(512):
        h = data[o:o + 512]
        size = int(h[124:136].strip(b"\0 ") or b"0", 8)
        out[h[:100].rstrip(b"\0").decode()] = o
        o += 512 + (size + 511) // 512 * 512
    return out


def damage(data, offset):
    data[offset + 148:offset + 156] = b"0000000\0"


@pytest.mark.parametrize("which", ["a.txt", "b.txt", "c.txt"])
@pytest.mark.parametrize("compression", ["none", "gzip"])
def test_layer_entry_with_bad_checksum_is_invalid(g, tmp_path, which, compression):
    tar = ustar([("a.txt", b"A" * 100), ("b.txt", b"B" * 700), ("c.txt", b"C" * 10)])
    at = header_offsets(tar)[which]
    damage(tar, at)
    layer = mk.Layer.raw(bytes(tar), compression=compression)
    path = tmp_path / "img.tar"
    mk.write_oci_archive(path, mk.busybox_image(extra_layers=[layer]), tags="csum:1")
    res = g.fail("load", path, code=INVALID)
    assert_no_crash(res)
    assert (f"layer 2/2 ({layer.digest[:19]}): the tar header at byte offset {at} has a bad "
            "checksum") in res.err, res
    assert g.refs() == {}


def test_layer_with_intact_headers_near_miss(g, tmp_path):
    tar = ustar([("a.txt", b"A" * 100), ("b.txt", b"B" * 700), ("c.txt", b"C" * 10)])
    layer = mk.Layer.raw(bytes(tar), compression="gzip")
    path = tmp_path / "img.tar"
    mk.write_oci_archive(path, mk.busybox_image(extra_layers=[layer]), tags="csum:1")
    g.run("load", path)
    assert list(g.refs()) == ["docker.io/library/csum:1"]


@pytest.mark.parametrize("member", ["manifest.json", "repositories"])
def test_image_archive_member_with_bad_checksum_is_invalid(g, tmp_path, member):
    """The outer archive: a damaged manifest.json header gave exit 7 ("legacy docker archive"),
    a damaged `repositories` header was skipped and the load succeeded."""
    data = bytearray(mk.write_docker_archive(None, [(mk.busybox_image(), "outer:1")]))
    at = header_offsets(data)[member]
    damage(data, at)
    path = tmp_path / "outer.tar"
    path.write_bytes(bytes(data))
    res = g.fail("load", path, code=INVALID)
    assert f"outer.tar: the tar header at byte offset {at} has a bad checksum" in res.err, res
    assert g.refs() == {}


# --------------------------------------------------------------------------------------------
# 5. doctor --fatbin on a damaged container
# --------------------------------------------------------------------------------------------

def fatbin_container():
    payload = b".version 9.0\n\0\0\0"
    entry = (struct.pack("<HHIQ", 1, 0x0101, 64, len(payload)) + bytes(8) +
             struct.pack("<HHI", 0, 9, 90) + bytes(8) + struct.pack("<Q", 0x11) + bytes(16))
    body = entry + payload
    return struct.pack("<IHHQ", 0xBA55ED50, 1, 16, len(body)) + body


@pytest.mark.parametrize("damage_kind", ["truncated", "huge-entry"])
def test_doctor_fatbin_reports_damaged_container(g, tmp_path, damage_kind):
    data = bytearray(fatbin_container())
    if damage_kind == "truncated":
        data = data[:50]
        why = "truncated entry header"
    else:
        data[16 + 8:16 + 16] = b"\xff" * 8
        why = "entry of 18446744073709551615 bytes runs past the container end"
    f = tmp_path / "k.fatbin"
    f.write_bytes(bytes(data))
    res = g.fail("doctor", "--fatbin", f, code=INVALID)
    assert f"fatbin container at 0x0 in file: entry at 0x10: {why}" in res.err, res
    assert "1 fatbin container, 0 entries" in res.out
    res = g.fail("doctor", "--fatbin", f, "--json", code=INVALID)
    doc = json.loads(res.out)
    assert len(doc["problems"]) == 1 and why in doc["problems"][0]
    assert doc["containers"][0]["error"]


def test_doctor_fatbin_intact_container_near_miss(g, tmp_path):
    f = tmp_path / "k.fatbin"
    f.write_bytes(fatbin_container())
    res = g.run("doctor", "--fatbin", f)
    assert "1 fatbin container, 1 entry" in res.out
    assert g.run("doctor", "--fatbin", f, "--json").json()["problems"] == []


# --------------------------------------------------------------------------------------------
# 8. lint on a CUDA version past 32 bits (fixed in main before this branch; kept fixed)
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("base", ["nvidia/cuda:4294967296.1.0-devel",
                                  "nvidia/cuda:12.4294967296.0-devel",
                                  "nvidia/cuda:99999999999999999999.1-runtime"])
def test_lint_huge_cuda_version_is_no_internal_error(g, tmp_path, base):
    f = tmp_path / "Dockerfile"
    f.write_text(f"FROM {base}\nRUN pip install --no-cache-dir torch==2.0.1+cu118\n")
    res = g.run("lint", f, "--json", check=False)
    assert_no_crash(res)
    assert res.code in (0, 10), res
    codes = [x["code"] for x in json.loads(res.out)]
    assert "GL008" not in codes  # no CUDA version to compare against


def test_lint_cuda_mismatch_still_found_near_miss(g, tmp_path):
    f = tmp_path / "Dockerfile"
    f.write_text("FROM nvidia/cuda:12.1.0-devel-ubuntu22.04\n"
                 "RUN pip install --no-cache-dir torch==2.0.1+cu118\n")
    res = g.run("lint", f, check=False)
    assert res.code == 10 and "GL008" in res.out, res
