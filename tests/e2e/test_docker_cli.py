"""docker's command lines where users type them first (issue 51): `run` pulls a missing image
(docker's --pull missing|always|newer|never, and the config file's pull_policy), `import` makes an
image of a root filesystem tar (a file, compressed, standard input or a URL, with --change and
--message), `history`, `version`, docker's groups (`image ls`, `container ls`), and every verb
or flag gantry does not have refused by name with the equivalent. Against a real docker-registry
(tests/fixtures/registry/harness.py) behind the request-logging proxy."""
import http.server
import io
import json
import os
import subprocess
import tarfile
import threading
from pathlib import Path

import pytest

from conftest import Gantry, gantry_copy, load_busybox, need_tool
from fixtures import mkimage
from fixtures.registry.harness import Proxy, Registry

INSECURE = "--tls-verify=false"


@pytest.fixture(scope="module")
def pushed(tmp_path_factory, gantry_bin):
    """A registry behind the logging proxy holding the busybox sample as PROXY/cli/bb:1."""
    need_tool("docker-registry")
    tmp = tmp_path_factory.mktemp("cli-reg")
    reg = Registry(tmp / "reg").start()
    px = Proxy(tmp / "proxy", reg.addr).start()
    src = Gantry(tmp / "src")
    load_busybox(src, mkimage, tmp)
    ref = f"{px.addr}/cli/bb:1"
    src.run("push", INSECURE, "sample:latest", ref)
    yield px, reg, ref
    px.kill()
    reg.stop()


def manifest_gets(px):
    return [r for r in px.requests() if "/manifests/" in r.get("path", "")
            and r.get("method") in ("GET", "HEAD")]


def config_file(tmp_path, text):
    p = tmp_path / "config.yaml"
    p.write_text(text)
    return {"GANTRY_CONFIG": str(p)}


def test_run_pulls_a_missing_image_once(g, pushed, tmp_path):
    px, _, ref = pushed
    px.clear_log()
    r = g.run("run", "--rm", INSECURE, ref, "echo", "pulled")
    assert r.out == "pulled\n"
    assert f"unable to find image {ref} locally: pulling it" in r.err
    assert ref in g.refs()
    # in the store now: no message, no request (missing is the default)
    px.clear_log()
    r = g.run("run", "--rm", INSECURE, ref, "true")
    assert "unable to find" not in r.err and manifest_gets(px) == []
    # always: asks the registry again (the blobs are reused), newer too
    for policy in ("always", "newer"):
        px.clear_log()
        g.run("run", "--rm", INSECURE, "--pull", policy, ref, "true")
        assert manifest_gets(px), policy


def test_never_refuses_and_names_the_policy(g, pushed, tmp_path):
    px, _, ref = pushed
    px.clear_log()
    r = g.fail("run", "--rm", INSECURE, "--pull", "never", ref, "true", code=125)
    assert "not in the store" in r.err and "pull policy is never" in r.err
    assert manifest_gets(px) == [] and g.refs() == {}
    # the site's default: config.yaml's pull_policy, which --pull overrides
    site = Gantry(g.root, env=config_file(tmp_path, "pull_policy: never\n"))
    r = site.fail("run", "--rm", INSECURE, ref, "true", code=125)
    assert "pull policy is never" in r.err and "config file's pull_policy" in r.err
    assert site.run("run", "--rm", INSECURE, "--pull", "missing", ref, "echo", "ok").out == "ok\n"
    # a bad value names the file's line; an unknown key is refused, nothing silently ignored
    bad = Gantry(g.root, env=config_file(tmp_path, "image_stores: []\npull_policy: sometimes\n"))
    r = bad.fail("run", "--rm", ref, "true")
    assert 'line 2: pull_policy: "sometimes" is not a pull policy' in r.err
    typo = Gantry(g.root, env=config_file(tmp_path, "pull-policy: never\n"))
    assert 'line 1: unknown key "pull-policy"' in typo.fail("run", "--rm", ref, "true").err


def test_newer_runs_the_stored_image_when_the_registry_is_gone(g, pushed, tmp_path):
    _, _, ref = pushed
    g.run("pull", INSECURE, ref)
    gone = ref.replace(ref.split("/")[0], "127.0.0.1:1")  # nothing listens there
    g.run("tag", ref, gone)
    r = g.run("run", "--rm", INSECURE, "--pull", "newer", gone, "echo", "stored")
    assert r.out == "stored\n" and "running the stored one" in r.err
    r = g.fail("run", "--rm", INSECURE, "--pull", "always", gone, "true", code=125)
    assert "127.0.0.1:1" in r.err
    # nothing stored and nothing reachable: the pull's error, no word of a stored image
    r = g.fail("run", "--rm", INSECURE, "--pull", "newer", "127.0.0.1:1/none:1", "true", code=125)
    assert "127.0.0.1:1" in r.err and "stored one" not in r.err


def rootfs_tar(path, mode="w", extra=()):
    """A root filesystem as `tar -C root -c .` writes it: "." first, then ./bin/busybox and
    ./bin/sh -> busybox, ./etc/passwd."""
    busybox = Path(mkimage.BUSYBOX).read_bytes()
    with tarfile.open(path, mode) as t:
        def add(name, kind=tarfile.DIRTYPE, data=b"", mode=0o755, link=""):
            i = tarfile.TarInfo(name)
            i.type, i.mode, i.linkname, i.size = kind, mode, link, len(data)
            t.addfile(i, io.BytesIO(data) if data else None)
        add(".")
        add("./bin")
        add("./bin/busybox", tarfile.REGTYPE, busybox)
        add("./bin/sh", tarfile.SYMTYPE, link="busybox", mode=0o777)
        add("./etc")
        add("./etc/passwd", tarfile.REGTYPE, b"root:x:0:0:root:/root:/bin/sh\n", 0o644)
        for args in extra:
            add(*args)
    return path


def test_import_a_root_filesystem_as_docker_does(g, tmp_path):
    plain = rootfs_tar(tmp_path / "root.tar")
    out = g.run("import", plain, "imp:plain", "--change", 'CMD ["/bin/sh", "-c", "echo $A"]',
                "-c", "ENV A=from-change", "-m", "the first image")
    assert out.out.startswith("sha256:") and "imp:plain" in out.err
    assert g.run("run", "--rm", "imp:plain").out == "from-change\n"
    hist = json.loads(g.run("history", "--json", "imp:plain").out)
    assert [h["comment"] for h in hist] == ["the first image"] and hist[0]["diff_id"]
    assert g.run("history", "-q", "imp:plain").out.strip() in out.out
    # compressed, and from standard input: the same layer (entries copied as they are)
    for mode, name in (("w:gz", "root.tgz"), ("w:xz", "root.txz"), ("w:bz2", "root.tbz")):
        g.run("import", rootfs_tar(tmp_path / name, mode), "imp:" + name.replace(".", "-"))
    with open(plain, "rb") as f:
        p = subprocess.run(g.cmd("import", "-", "imp:stdin"), stdin=f, env=g.environ(),
                           capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    layers = {json.loads(g.run("inspect", "--json", r).out)[0]["layers"][0]["diff_id"]
              for r in ("imp:plain", "imp:root-tgz", "imp:root-txz", "imp:root-tbz", "imp:stdin")}
    assert len(layers) == 1
    hist = json.loads(g.run("history", "--json", "imp:stdin").out)
    assert hist[0]["comment"] == "Imported from -"
    # docker's advice: `load` of a root filesystem says to import it
    r = g.fail("load", plain, code=4)
    assert "is a root filesystem" in r.err and f"gantry import {plain} NAME[:TAG]" in r.err


def test_import_from_a_url(g, tmp_path):
    rootfs_tar(tmp_path / "root.tar.gz", "w:gz")

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *a):
            pass

    srv = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), lambda *a: Quiet(*a, directory=str(tmp_path)))
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{srv.server_port}/root.tar.gz"
        g.run("import", url, "imp:url")
        assert g.run("run", "--rm", "imp:url", "busybox", "cat", "/etc/passwd").out.startswith("root:")
        r = g.fail("import", url.replace("root.tar.gz", "missing.tar"), "imp:none", code=8)
        assert "404" in r.err
    finally:
        srv.shutdown()
    assert not list((g.root / "tmp").iterdir())  # the download is gone


def test_import_refuses_what_it_cannot_honour(g, tmp_path):
    plain = rootfs_tar(tmp_path / "root.tar")
    r = g.fail("import", plain, "x:1", "--change", "RUN true", code=2)
    assert "--change RUN: import applies only" in r.err and "gantry build" in r.err
    assert "name is required" in g.fail("import", plain, code=2).err
    r = g.fail("import", tmp_path / "nope.tar", "x:1", code=3)
    assert "nope.tar" in r.err
    r = g.fail("import", tmp_path, "x:1", code=2)
    assert "is a directory, not a tar" in r.err and f"tar -C {tmp_path} -c ." in r.err
    (tmp_path / "text").write_text("not a tar\n" * 100)
    r = g.fail("import", tmp_path / "text", "x:1", code=4)
    assert "text" in r.err
    # a hostile entry is the store's to refuse, as in any layer: nothing escapes or is named
    evil = rootfs_tar(tmp_path / "evil.tar", extra=[("../escape", tarfile.REGTYPE, b"x", 0o644)])
    g.fail("import", evil, "x:1")
    assert not (tmp_path / "escape").exists() and not (g.root.parent / "escape").exists()
    assert g.refs() == {}
    assert not (g.root / "tmp").exists() or list((g.root / "tmp").iterdir()) == []


def test_docker_groups_and_aliases(g, tmp_path):
    load_busybox(g, mkimage, tmp_path)
    listed = g.run("images", "-q").out
    assert g.run("image", "ls", "-q").out == listed == g.run("images", "-a", "-q").out
    # the same listing (its header; the rows are every test's containers, as root, and change)
    # (the columns' widths follow the rows, which other tests change between the two calls)
    assert g.run("container", "ls").out.splitlines()[0].split() == \
        g.run("ps").out.splitlines()[0].split()
    assert g.run("container", "ls", "--help").out == g.run("ps", "--help").out
    hist = g.run("image", "history", "sample:latest").out
    assert hist.splitlines()[0].split() == ["IMAGE", "CREATED", "CREATED", "BY", "SIZE",
                                            "COMMENT"]
    assert g.run("version").out.startswith("gantry ")
    assert json.loads(g.run("version", "--json").out)["version"]
    h = g.run("import", "--help").out
    assert "Make an image of a root filesystem tar" in h and "--change" in h


@pytest.mark.parametrize("line,words", [
    (["export", "x"], ["unknown command `export`", "gantry save"]),
    (["container", "export", "x"], ["unknown command `container export`", "gantry save"]),
    (["frobnicate", "--help"], ["unknown command `frobnicate`", "gantry --help"]),
    (["secret", "ls"], ["unknown command `secret`", "-v /path/secret"]),
    (["run", "--dns", "1.1.1.1", "x"], ["unknown flag `--dns`", "resolv.conf",
                                        "gantry run --help"]),
    (["images", "--filter", "x"], ["bad format of filter \"x\"", "expected name=value"]),
    (["ps", "--filter", "colour=red"], ["invalid filter 'colour' for ps", "label"]),
    (["ps", "--bogus"], ["unknown flag `--bogus`", "gantry ps --help"]),
])
def test_unknown_verbs_and_flags_are_refused_by_name(g, line, words):
    r = g.fail(*line, code=2)
    for w in words:
        assert w in r.err, (w, r.err)
    assert r.err.endswith("\n") and r.out == ""


def test_a_chroot_is_named_when_namespaces_are_refused(g, tmp_path):
    """The kernel refuses a chrooted process a user namespace, root too: the error says so. The
    chroot is a directory of its own with the host's /usr, /lib, /etc, /proc and /tmp bound in
    (gantry and its libraries, the store), in a mount namespace of its own."""
    if os.geteuid() != 0:
        pytest.skip("chroot needs root")
    need_tool("unshare")
    root = tmp_path / "chroot"
    dirs = [d for d in ("usr", "lib", "lib64", "bin", "etc", "proc", "dev", "tmp")
            if os.path.isdir("/" + d) and not os.path.islink("/" + d)]
    binds = " && ".join(f"mkdir -p {root}/{d} && mount --rbind /{d} {root}/{d}" for d in dirs)
    links = " && ".join(f"ln -s {os.readlink('/' + d)} {root}/{d}"
                        for d in ("bin", "lib", "lib64", "sbin") if os.path.islink("/" + d))
    image = load_busybox(g, mkimage, tmp_path)
    binary = gantry_copy(tmp_path / "gantry")  # under /tmp, which the chroot has
    script = (f"{binds} && {links or 'true'} && exec chroot {root} env GANTRY_ROOT={g.root} "
              f"{binary} run --rm {image} true")
    p = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", script],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 125, p
    assert "runs in a chroot" in p.stderr and "pivot_root" in p.stderr, p.stderr


def test_a_missing_image_file_is_named_as_a_file(g, tmp_path):
    r = g.fail("run", "--rm", tmp_path / "missing.sqsh", "true", code=125)
    assert f"no image file {tmp_path}/missing.sqsh" in r.err and "reference" not in r.err


def test_a_build_on_an_overlayfs_store_refuses_instead_of_losing_the_step(g, tmp_path):
    """A store on overlayfs (a container's root, say) cannot hold an overlay's upper directory:
    `run` falls back to a flattened copy, but a build's RUN step, whose changes are that upper
    directory, fails naming the fix instead of committing a layer without them."""
    if os.geteuid() != 0:
        pytest.skip("mounting an overlay needs root")
    for d in ("lower", "upper", "work", "merged"):
        (tmp_path / d).mkdir()
    merged = tmp_path / "merged"
    subprocess.run(["mount", "-t", "overlay", "overlay", "-o",
                    f"lowerdir={tmp_path}/lower,upperdir={tmp_path}/upper,workdir={tmp_path}/work",
                    merged], check=True)
    try:
        on_overlay = Gantry(merged / "store")
        image = load_busybox(on_overlay, mkimage, tmp_path)
        r = on_overlay.run("run", "--rm", "--writable-layer", "disk", image, "echo", "ran")
        assert r.out == "ran\n" and "flattened copy" in r.err
        ctx = tmp_path / "ctx"
        ctx.mkdir()
        (ctx / "Dockerfile").write_text(f"FROM {image}\nRUN echo made > /made\n")
        r = on_overlay.fail("build", "-t", "lost:1", ctx)
        assert "a build step's changes are the overlay's upper directory" in r.err, r.err
        assert "lost:1" not in str(on_overlay.refs())
    finally:
        subprocess.run(["umount", "-l", merged], check=False)
