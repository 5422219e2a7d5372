"""The defect classes issue 36's black-box campaign found: unbounded variable expansion in
`build` (a value, and the config it makes, bounded with a Dockerfile error at FILE:LINE and
nothing tagged), exit codes and messages that lied (WORKDIR with "..", EXPOSE of a port out of
range, E2BIG from execve, a squashfs image holding a file name that is not UTF-8), and a store
damaged as a crash after tagging would leave it (fsck reports it with the fix, run refuses it)."""
import hashlib
import json
import os
import shutil
import subprocess
import time

import pytest

from conftest import Gantry, load_busybox, need_tool

MAX_WORD = 128 * 1024 - 1  # dockerfile::kMaxExpandedWord


def write(ctx, files):
    ctx.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (ctx / name).write_text(text)
    return ctx


@pytest.fixture
def bb(g, mk, tmp_path):
    load_busybox(g, mk, tmp_path)
    return g, tmp_path


def build(g, ctx, *args, check=True, timeout=120):
    return g.run("build", *args, str(ctx), check=check, timeout=timeout)


# --- 1. unbounded expansion -------------------------------------------------------------------

def doubling_chain(levels, base=1024):
    """ENV lines, each value twice the one before: A0 (BASE bytes), A1=$A0$A0, ..."""
    lines = [f"ENV A0={'x' * base}"]
    lines += [f"ENV A{i}=$A{i - 1}$A{i - 1}" for i in range(1, levels)]
    return lines


def test_nested_env_expansion_stops_at_the_bound_with_file_and_line(bb):
    g, tmp = bb
    lines = ["FROM sample:latest"] + doubling_chain(12) + ['CMD ["true"]']
    # the first level whose value exceeds the bound: 1024 * 2**i > MAX_WORD
    first_bad = next(i for i in range(12) if 1024 * 2 ** i > MAX_WORD)
    ctx = write(tmp / "ctx", {"Dockerfile": "\n".join(lines) + "\n"})
    t0 = time.monotonic()
    r = g.fail("build", "-t", "boom:1", str(ctx), code=4, timeout=120)
    assert time.monotonic() - t0 < 60, "the bound must stop the growth early"
    assert f"Dockerfile:{first_bad + 2}:1: " in r.err, r  # line 1 is FROM
    assert "more than 131071 bytes" in r.err and "hint:" in r.err, r
    assert not g.refs().get("docker.io/library/boom:1")


def test_nested_references_in_one_word_are_bounded_too(bb):
    g, tmp = bb
    # one word with many references to a value under the bound: 64 * 64 KiB = 4 MiB
    df = "FROM sample:latest\n" + "\n".join(doubling_chain(7)) + "\nENV B=" + "$A6" * 64 + "\n"
    ctx = write(tmp / "ctx", {"Dockerfile": df})
    r = g.fail("build", "-t", "boom:2", str(ctx), code=4)
    assert "Dockerfile:9:1: " in r.err, r
    assert "docker.io/library/boom:2" not in g.refs()


def test_a_config_the_store_would_refuse_is_never_tagged(bb):
    g, tmp = bb
    # 64 KiB values, each under the bound, in labels adding up to more than 64 MiB (few LABEL
    # lines of many labels: every step's config is stored, so many small steps cost ~1 GB of writes)
    chain = doubling_chain(7)  # A6 is 64 KiB
    label_lines = [" ".join(f"l{n}_{k}=$A6" for k in range(200)) for n in range(8)]
    df = "FROM sample:latest\n" + "\n".join(chain) + "\n" + \
        "\n".join("LABEL " + line for line in label_lines) + "\n"
    ctx = write(tmp / "ctx", {"Dockerfile": df})
    r = g.fail("build", "-t", "big:1", str(ctx), code=4, timeout=240)
    # 64 MiB / (200 * 64 KiB) = 5.12: the 6th LABEL line (line 1 + 7 + 6) crosses it
    assert "Dockerfile:14:1: " in r.err and "more than an image config may have" in r.err, r
    assert "docker.io/library/big:1" not in g.refs()


# --- 2. exit codes and messages ---------------------------------------------------------------

def test_workdir_climbing_above_root_is_the_root_child(bb):
    """BuildKit keeps "/../../x" and the kernel resolves it to /x: it must just work."""
    g, tmp = bb
    df = "FROM sample:latest\nWORKDIR /../../x\nRUN pwd > /pwd.txt\nWORKDIR ../y\n"
    ctx = write(tmp / "ctx", {"Dockerfile": df})
    build(g, ctx, "-t", "wd:1")
    assert g.run("run", "--rm", "wd:1", "cat", "/pwd.txt").out == "/x\n"
    c = json.loads(g.run("inspect", "--json", "wd:1").out)[0]["config"]
    assert c["WorkingDir"] == "/y"
    assert g.run("run", "--rm", "wd:1", "pwd").out == "/y\n"
    # and at run time, cleaned as docker's daemon does
    assert g.run("run", "--rm", "-w", "/../../z/", "sample:latest", "pwd").out == "/z\n"


@pytest.mark.parametrize("port", ["99999999999999999999/tcp", "65536", "80/icmp", "90-80"])
def test_expose_of_an_invalid_port_is_a_dockerfile_error(bb, port):
    g, tmp = bb
    ctx = write(tmp / "ctx", {"Dockerfile": f"FROM sample:latest\nEXPOSE 80 {port}\n"})
    r = g.fail("build", "-t", "port:1", str(ctx), code=4)
    assert "Dockerfile:2:1: " in r.err and f'invalid port "{port}"' in r.err, r
    assert "docker.io/library/port:1" not in g.refs()


def test_expose_range_is_expanded_as_buildkit_does(bb):
    g, tmp = bb
    ctx = write(tmp / "ctx", {"Dockerfile": "FROM sample:latest\nEXPOSE 8000-8002/UDP 53\n"})
    build(g, ctx, "-t", "port:2")
    c = json.loads(g.run("inspect", "--json", "port:2").out)[0]["config"]
    assert set(c["ExposedPorts"]) == {"8000/udp", "8001/udp", "8002/udp", "53/tcp"}


def test_argument_list_too_long_says_so_with_dockers_code(bb):
    g, tmp = bb
    env_file = tmp / "big.env"
    env_file.write_text("BIG=" + "y" * (200 * 1024) + "\n")  # one string over 128 KiB
    r = g.fail("run", "--rm", "--env-file", env_file, "sample:latest", "true", code=125)
    assert "argument list too long" in r.err and "permissions" not in r.err, r
    assert "hint:" in r.err and "131072" in r.err, r


LATIN1 = b"caf\xe9"  # "café" in Latin-1: not UTF-8


def latin1_tree(tmp):
    root = tmp / "root"
    (root / "bin").mkdir(parents=True)
    shutil.copy("/bin/busybox", root / "bin" / "busybox")
    (root / "bin" / "sh").symlink_to("busybox")
    (root / "data").mkdir()
    with open(os.path.join(os.fsencode(root / "data"), LATIN1), "wb") as f:
        f.write(b"latin-1 name\n")
    (root / "data" / "plain").write_text("plain\n")
    return root


def check_latin1(g, ref):
    # the shell's glob prints the name's bytes (busybox ls would print '?' for 0xe9)
    out = g.run("run", "--rm", ref, "/bin/sh", "-c", "printf '%s\\n' /data/c* | od -An -tx1").out
    assert "63 61 66 e9 0a" in out, out  # the name's bytes, kept
    assert g.run("run", "--rm", ref, "/bin/sh", "-c", "cat /data/caf*").out == "latin-1 name\n"


def test_load_squashfs_with_a_name_that_is_not_utf8(g, tmp_path):
    need_tool("mksquashfs")
    need_tool("sqfs2tar")
    img = tmp_path / "latin.sqsh"
    subprocess.run(["mksquashfs", str(latin1_tree(tmp_path)), str(img), "-all-root", "-quiet",
                    "-noappend"], check=True, capture_output=True)
    g.run("load", "--name", "latin:1", img)
    check_latin1(g, "latin:1")
    # and back through gantry's own squashfs format
    need_tool("tar2sqfs")
    saved = tmp_path / "saved.sqsh"
    g.run("save", "--format", "squashfs", "-o", saved, "latin:1")
    g.run("load", "--name", "latin:2", saved)
    check_latin1(g, "latin:2")


def test_a_kept_container_refuses_bytes_that_are_not_utf8_naming_them(bb):
    """A Linux argument, environment value or path may be any bytes; a kept container's request
    and state are JSON, which holds UTF-8 only (docker and podman keep U+FFFD and later run
    another command than the one given; gantry died with nlohmann's type_error). Refused before
    anything is made, naming the value; a foreground run without --name keeps the bytes."""
    g, _ = bb
    latin = os.fsdecode(LATIN1)
    out = g.run("run", "--rm", "sample:latest", "/bin/sh", "-c", 'printf %s "$1" | od -An -tx1',
                "sh", latin).out
    assert out.split() == ["63", "61", "66", "e9"], out
    cases = [
        (["run", "-d", "--name", "k1", "sample:latest", "true", latin], 125, "command[1]"),
        (["create", "--name", "k2", "-e", "A=" + latin, "sample:latest", "true"], 4, "env[0]"),
        (["run", "--name", "k3", "-w", "/" + latin, "sample:latest", "true"], 125,
         "spec.process.cwd"),
        (["create", "--name", "k4", "-l", "k=" + latin, "sample:latest", "true"], 4,
         "labels[0]"),
        (["run", "-d", "sample:latest", "true", latin], 125, "command[1]"),
    ]
    for args, code, where in cases:
        r = g.fail(*args, code=code)
        assert f'its {where} "' in r.err and "caf\ufffd" in r.err, r
        assert "not UTF-8" in r.err and "internal error" not in r.err, r
        assert "hint: give it as UTF-8" in r.err, r
    # as root every store's containers share /run/gantry, so a plain `ps -a` also lists the
    # parallel tests' containers (CI saw one): the names refused, and this store's container
    # directories, where every recorded container (the unnamed -d one too) has its own
    names = {c["name"] for c in g.run("ps", "-a", "--json").json()}
    assert not names & {"k1", "k2", "k3", "k4"}, names
    assert not any((g.root / "containers").glob("*")), list((g.root / "containers").iterdir())


def test_a_build_refuses_text_that_is_not_utf8_and_copies_names_that_are_not(bb):
    """A Dockerfile or definition file saved as Latin-1, a --build-arg or --label value: the
    image's config, history and the build cache are JSON (gantry died with nlohmann's type_error;
    docker writes U+FFFD into the config, so the image's ENV holds another value). Refused at
    FILE:LINE:COLUMN with the fix, nothing tagged; a context file's name is any bytes and is
    copied as it is."""
    g, tmp = bb
    ctx = tmp / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_bytes(b"FROM sample:latest\nRUN true\nENV A=" + LATIN1 + b"\n")
    r = g.fail("build", "--no-lint", "-t", "latin:1", ctx, code=4)
    assert "Dockerfile:3:10: the byte 0xE9 is not UTF-8" in r.err, r
    assert "hint: save the file as UTF-8 (iconv -f latin1 -t utf-8 Dockerfile)" in r.err, r
    (ctx / "Dockerfile").write_text("FROM sample:latest\nARG X\nRUN true\n")
    for flag in ["--build-arg", "--label"]:
        r = g.fail("build", "--no-lint", flag, "X=" + os.fsdecode(LATIN1), "-t", "latin:1", ctx,
                   code=4)
        assert f"{flag} X: its name or value holds bytes that are not UTF-8" in r.err, r
    deffile = tmp / "latin.def"
    deffile.write_bytes(b"Bootstrap: scratch\n%environment\n    export A=" + LATIN1 + b"\n")
    r = g.fail("build", "-f", deffile, "-t", "latin:1", code=4)
    assert f"{deffile}:3:17: the byte 0xE9 is not UTF-8" in r.err, r
    assert "docker.io/library/latin:1" not in g.refs()
    rootfs = tmp / "rootfs.tar"
    subprocess.run(["tar", "-C", ctx, "-cf", rootfs, "Dockerfile"], check=True)
    r = g.fail("import", "--change", "ENV A=" + os.fsdecode(LATIN1), rootfs, "latin:1", code=2)
    assert "--change 'ENV A=caf\ufffd' holds bytes that are not UTF-8" in r.err, r
    r = g.fail("import", "-m", os.fsdecode(LATIN1), rootfs, "latin:1", code=2)
    assert "--message holds bytes that are not UTF-8" in r.err, r
    r = g.fail("bundle", "--cmd", "true", "--cmd", os.fsdecode(LATIN1), "sample:latest",
               tmp / "bundle", code=4)
    assert 'the bundle: its process.args[1] "caf\ufffd" holds bytes that are not UTF-8' in r.err
    assert not (tmp / "bundle").exists() and not list(tmp.glob("bundle.tmp-*"))
    assert "docker.io/library/latin:1" not in g.refs()

    (ctx / "Dockerfile").write_text("FROM sample:latest\nCOPY data /data\n")
    (ctx / "data").mkdir()
    with open(os.path.join(os.fsencode(ctx / "data"), LATIN1), "wb") as f:
        f.write(b"latin-1 name\n")
    g.run("build", "--no-lint", "-t", "latin:1", ctx)
    out = g.run("run", "--rm", "latin:1", "/bin/sh", "-c", "printf '%s' /data/c* | od -An -tx1")
    assert out.out.split()[-4:] == ["63", "61", "66", "e9"], out


# --- 3. a store damaged as a crash after tagging leaves it ------------------------------------

def layer_dirs(g):
    return sorted((g.root / "layers" / "sha256").iterdir())


def busybox_layer(g):
    """The unpacked layer that holds /bin/busybox (the sample's big one)."""
    return next(d for d in layer_dirs(g) if (d / "rootfs" / "bin" / "busybox").exists())


@pytest.mark.parametrize("damage", ["tree-gone", "meta-empty", "meta-other"])
def test_fsck_reports_an_incomplete_layer_and_run_refuses_it(bb, mk, damage):
    g, tmp = bb
    assert "0 problem(s)" in g.run("system", "fsck").out
    layer = busybox_layer(g)
    if damage == "tree-gone":  # the tree lost, its completion record kept
        shutil.rmtree(layer / "rootfs")
    elif damage == "meta-empty":  # the record's data never reached the disk
        (layer / "meta.json").write_text("")
    else:
        meta = json.loads((layer / "meta.json").read_text())
        meta["diff_id"] = "sha256:" + "0" * 64
        (layer / "meta.json").write_text(json.dumps(meta))
    r = g.fail("system", "fsck", code=4)
    assert "incomplete-layer sha256:" + layer.name in r.out, r
    assert "image docker.io/library/sample:latest" in r.out and "--repair" in r.out, r
    if damage == "tree-gone":
        run = g.fail("run", "--rm", "sample:latest", "true", code=125)
        assert "incomplete in the store" in run.err and "fsck" in run.err, run
    # the fix the report names: repair, then load again, and the image runs
    rep = g.run("system", "fsck", "--repair")  # exit 0: every problem repaired
    assert "(removed)" in rep.out, rep
    assert not layer.exists()
    load_busybox(g, mk, tmp)
    assert g.run("run", "--rm", "sample:latest", "echo", "ok").out == "ok\n"
    assert "0 problem(s)" in g.run("system", "fsck").out


@pytest.mark.parametrize("damage", ["tree-gone", "meta-empty"])
def test_load_again_unpacks_an_incomplete_layer_again(bb, mk, damage):
    """load tags only what is complete: a damaged tree already in the store is not reused."""
    g, tmp = bb
    layer = busybox_layer(g)
    if damage == "tree-gone":
        shutil.rmtree(layer / "rootfs")
    else:
        (layer / "meta.json").write_text("")
    img = mk.busybox_image()
    archive = tmp / "again.tar"
    mk.write_docker_archive(archive, [(img, ["sample:latest"])])
    r = g.run("load", archive)
    assert "incomplete" in r.err and "unpacking it again" in r.err, r
    assert g.run("run", "--rm", "sample:latest", "echo", "ok").out == "ok\n"
    assert "0 problem(s)" in g.run("system", "fsck").out


def test_fsck_names_the_image_a_missing_blob_breaks(bb):
    g, _ = bb
    m = g.refs()["docker.io/library/sample:latest"]
    manifest = json.loads((g.root / "blobs" / "sha256" / m.split(":")[1]).read_text())
    cfg = manifest["config"]["digest"].split(":")[1]
    (g.root / "blobs" / "sha256" / cfg).unlink()
    r = g.fail("system", "fsck", code=4)
    assert "docker.io/library/sample:latest" in r.out, r
    run = g.fail("run", "--rm", "sample:latest", "true")
    assert cfg in run.err or "sample:latest" in run.err, run


def test_load_killed_at_each_publish_leaves_no_tag_to_incomplete_content(g, mk, tmp_path):
    """kill -9 at the Nth rename (every publish is one) for each N: the tag exists only when
    everything it names is complete (fsck clean, the image runs); else nothing is tagged."""
    need_tool("strace")
    archive = tmp_path / "bb.tar"
    mk.write_docker_archive(archive, [(mk.busybox_image(), ["killed:1"])])
    renames = "rename,renameat,renameat2"
    killed = 0
    for n in range(1, 40):
        gn = Gantry(tmp_path / f"store{n}")
        r = subprocess.run(["strace", "-f", "-qq", "-o", "/dev/null", "-e", f"trace={renames}",
                            "-e", f"inject={renames}:signal=SIGKILL:when={n}", str(gn.bin),
                            "load", str(archive)], env=gn.environ(), capture_output=True,
                           timeout=120)
        if r.returncode == 0:
            break  # fewer than N renames: the load finished
        killed += 1
        fsck = gn.run("system", "fsck")
        assert "0 problem(s)" in fsck.out, (n, fsck)
        if "docker.io/library/killed:1" in gn.refs():
            assert gn.run("run", "--rm", "killed:1", "echo", "ok").out == "ok\n", n
    assert killed >= 4, "the load publishes blobs, a layer, its record and the tag"
    assert "docker.io/library/killed:1" in gn.refs()


# --- 4. fsck --deep: the unpacked trees against the digest recorded at unpack ------------------

def deep(g, *args, code=0):
    r = g.run("system", "fsck", "--deep", "--json", *args, check=False)
    assert r.code == code, r
    return r.json()


def test_fsck_deep_passes_a_clean_store_and_checks_every_tree(bb):
    g, _ = bb
    layers = layer_dirs(g)
    for d in layers:  # recorded when unpacked, beside the completion marker
        tree = json.loads((d / "meta.json").read_text())["tree"]
        assert tree["scheme"] == "gantry-tree-v4" and tree["digest"].startswith("sha256:"), tree
    rep = deep(g)
    assert rep["problems"] == [] and rep["notes"] == [], rep
    assert rep["trees_checked"] == len(layers) >= 1, rep
    assert rep["tree_bytes_checked"] >= (busybox_layer(g) / "rootfs/bin/busybox").stat().st_size
    assert "layer tree(s)" in g.run("system", "fsck", "--deep").out


def damage_tree(rootfs, how):
    busybox = rootfs / "bin" / "busybox"
    if how == "edit":  # same size, one byte changed
        data = bytearray(busybox.read_bytes())
        data[len(data) // 2] ^= 0xFF
        busybox.write_bytes(bytes(data))
    elif how == "delete":
        busybox.unlink()
    elif how == "add":
        (rootfs / "bin" / "implant").write_text("#!/bin/sh\n")
    elif how == "chmod":
        busybox.chmod(busybox.stat().st_mode ^ 0o4000)  # setuid, the content unchanged
    elif how == "chown":
        os.lchown(busybox, 4242, 4242)
    elif how == "symlink":
        (rootfs / "bin" / "sh2").symlink_to("busybox")
    elif how == "xattr":
        os.setxattr(busybox, "user.gantry-test", b"1")


@pytest.mark.parametrize("who", ["root", "rootless"])
def test_the_digest_recorded_at_unpack_is_the_one_fsck_deep_computes(request, mk, tmp_path, who):
    """What the importer records must be what fsck --deep computes, in either scheme: a layer the
    store keeps once (its tar-split pins the files' data: gantry-tree-v4, no file read) and one
    that keeps its blob (a name given twice, a file written through a symlinked directory:
    gantry-tree-v3, every file read). Holes and a tail of zeros, a hole of 80 MiB, a hard link,
    an empty file; and a mode-000 file, which a rootless store cannot read back, so that layer
    keeps its blob there and digests its data."""
    gan = request.getfixturevalue("g" if who == "root" else "rootless")
    replaced = mk.Layer([
        mk.Entry.file("r/a", b"first"), mk.Entry.file("r/a", b"second, and longer"),
        mk.Entry.file("r/s", b"a file first"), mk.Entry.symlink("r/s", "a"),
        # a file written again through a symlinked directory: the same file, another name
        mk.Entry.file("r/t/x", b"one"), mk.Entry.symlink("r/u", "t"),
        mk.Entry.file("r/u/x", b"two"),
    ], compression="gzip")
    once = mk.Layer([
        mk.Entry.sparse("d/sparse", [(0, b"head"), (65536, b"m" * 700)], 1 << 20),
        mk.Entry.sparse("d/vast", [(0, b"v")], 80 << 20),
        mk.Entry.file("d/b", b"bee" * 1000), mk.Entry.hardlink("d/c", "d/b"),
        mk.Entry.file("d/empty", b""), mk.Entry.file("d/secret", b"x" * 5000, mode=0o000),
    ], compression="gzip")
    archive = (tmp_path if who == "root" else gan.base) / "mixed.tar"  # where the user reads
    mk.write_docker_archive(archive,
                            [(mk.busybox_image(extra_layers=[replaced, once]), ["mixed:1"])])
    os.chmod(archive, 0o644)
    gan.run("load", archive)
    schemes = {}
    for d in layer_dirs(gan):
        meta = json.loads((d / "meta.json").read_text())
        names = {p.name for p in (d / "rootfs").iterdir()}
        schemes[("r" in names, "d" in names)] = (meta["tree"]["scheme"], meta["blob_kept"])
    assert schemes[(True, False)] == ("gantry-tree-v3", True), schemes
    assert schemes[(False, True)] == (("gantry-tree-v4", False) if who == "root" else
                                      ("gantry-tree-v3", True)), schemes
    rep = deep(gan)
    assert rep["problems"] == [] and rep["trees_checked"] == 3, rep
    out = gan.run("run", "--rm", "mixed:1", "/bin/busybox", "sha256sum", "/d/sparse").out
    assert out.split()[0] == hashlib.sha256(
        b"head" + b"\0" * (65536 - 4) + b"m" * 700 + b"\0" * ((1 << 20) - 65536 - 700)).hexdigest()
    assert gan.run("run", "--rm", "mixed:1", "/bin/busybox", "cat", "/r/t/x").out == "two"
    if who == "root":  # v2: a sparse file's data are not in the rebuilt tar's reads: walked
        [once_dir] = [d for d in layer_dirs(gan) if (d / "rootfs" / "d").is_dir()]
        with open(once_dir / "rootfs/d/sparse", "r+b") as f:
            f.write(b"HEAD")  # in place: the same size, mode and owner
        rep = deep(gan, code=4)
        assert [p["object"] for p in rep["problems"]] == ["sha256:" + once_dir.name], rep
        assert "hashes to" in rep["problems"][0]["detail"], rep


@pytest.mark.parametrize("how", ["edit", "delete", "add", "chmod", "chown", "symlink", "xattr"])
def test_fsck_deep_reports_each_kind_of_change_with_the_image_and_the_fix(bb, how):
    g, _ = bb
    layer = busybox_layer(g)
    if how == "chown" and os.geteuid() != 0:
        pytest.fail("the e2e suite runs as root (chown of a store file)")
    damage_tree(layer / "rootfs", how)
    assert "0 problem(s)" in g.run("system", "fsck").out  # the shallow check reads no tree
    rep = deep(g, code=4)
    probs = [p for p in rep["problems"] if p["kind"] == "damaged-layer"]
    assert [p["object"] for p in probs] == ["sha256:" + layer.name], rep
    assert "image docker.io/library/sample:latest" in probs[0]["detail"], probs
    assert "fsck --repair" in probs[0]["detail"] and not probs[0]["repaired"], probs
    if how == "edit":  # the metadata walk (v2) sees nothing: the tar rebuilt against the diff_id
        assert "its files' data no longer match its diff_id" in probs[0]["detail"], probs
        assert "keeps no other copy" in probs[0]["detail"], probs
    assert layer.exists(), "fsck without --repair removes nothing"
    text = g.fail("system", "fsck", "--deep", code=4).out
    assert "damaged-layer sha256:" + layer.name in text and "1 problem(s)" in text, text


def test_fsck_deep_repair_removes_a_damaged_tree_and_loading_again_fixes_it(bb, mk):
    g, tmp = bb
    layer = busybox_layer(g)
    damage_tree(layer / "rootfs", "edit")
    rep = deep(g, "--repair")  # exit 0: every problem repaired
    assert [(p["kind"], p["repaired"]) for p in rep["problems"]] == [("damaged-layer", True)]
    assert not layer.exists()
    load_busybox(g, mk, tmp)
    assert g.run("run", "--rm", "sample:latest", "echo", "ok").out == "ok\n"
    assert deep(g)["problems"] == []


def test_fsck_deep_notes_a_tree_unpacked_before_digests_were_recorded(bb):
    g, _ = bb
    layer = busybox_layer(g)
    meta = json.loads((layer / "meta.json").read_text())
    del meta["tree"]  # as the importer wrote it before this change
    (layer / "meta.json").write_text(json.dumps(meta))
    damage_tree(layer / "rootfs", "add")  # unverifiable: a note, not a problem
    rep = deep(g)
    assert rep["problems"] == [], rep
    assert [(n["kind"], n["object"]) for n in rep["notes"]] == [("no-tree-digest",
                                                                 "sha256:" + layer.name)], rep
    assert "gantry rmi" in rep["notes"][0]["detail"], rep
    assert "image docker.io/library/sample:latest" in rep["notes"][0]["detail"], rep
    out = g.run("system", "fsck", "--deep").out
    assert "note: no-tree-digest sha256:" + layer.name in out and "0 problem(s)" in out, out
