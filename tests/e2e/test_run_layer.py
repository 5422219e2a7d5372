"""gantry run's writable layer (in memory or on disk, its size, the large-write hint), mount
targets (symlinks in the image, a link to the targets' directory, non-recursive binds of locked
mounts) and the run view of the image it reads."""
import json
import os
import re
from pathlib import Path

import pytest

from conftest import load_busybox
from run_common import runner  # noqa: F401 (runner: a pytest fixture)


@pytest.mark.parametrize("layer", ["memory", "disk"])
def test_large_writes_get_a_bind_mount_hint(runner, layer):
    r = runner.run("run", "--writable-layer", layer, "--write-warn", "1MiB", runner.image, "sh",
                   "-c",
                   "mkdir -p /out/ckpt && dd if=/dev/zero of=/out/ckpt/big bs=1024 count=3000 2>/dev/null")
    assert re.search(r"wrote 3\.\d\d MB", r.err), r.err  # 3000 KiB, in blocks used
    assert "/out/ckpt" in r.err and "-v /scratch/out:/out/ckpt" in r.err
    assert ("held in memory" in r.err) == (layer == "memory"), r.err
    small = runner.run("run", "--writable-layer", layer, "--write-warn", "1MiB", runner.image,
                       "sh", "-c", "dd if=/dev/zero of=/x bs=1024 count=100 2>/dev/null")
    assert "wrote" not in small.err
    # a detached run's report goes where its output goes: gantry logs
    name = f"writer{os.getpid()}"
    runner.run("run", "-d", "--name", name, "--writable-layer", layer, "--write-warn", "1MiB",
               runner.image, "sh", "-c",
               "mkdir -p /out/ckpt && dd if=/dev/zero of=/out/ckpt/big bs=1024 count=3000 2>/dev/null")
    try:
        assert runner.run("wait", name).out == "0\n"
        log = runner.run("logs", name).err  # the monitor's report: its stderr
        assert re.search(r"wrote 3\.\d\d MB", log) and "-v /scratch/out:/out/ckpt" in log, log
    finally:
        runner.run("rm", "-f", name, check=False)


def root_upperdir(runner, *flags, env=None):
    saved = dict(runner.env)
    runner.env.update(env or {})
    try:
        info = runner.run("run", *flags, runner.image, "cat", "/proc/self/mountinfo").out
    finally:
        runner.env = saved
    root = [line for line in info.splitlines() if line.split()[4] == "/"][0]
    opts = root.split(" - ")[1].split()[2].split(",")
    return next((o.split("=", 1)[1] for o in opts if o.startswith("upperdir=")), None)


def test_writable_layer_in_memory_by_default(runner):
    """The writable layer is a private tmpfs on STORE/mnt, seen only in the container's mount
    namespace; --writable-layer disk (or GANTRY_WRITABLE_LAYER=disk) puts it in the store."""
    assert root_upperdir(runner) == f"{runner.root}/mnt/upper"
    assert root_upperdir(runner, "--writable-layer", "memory:64m") == f"{runner.root}/mnt/upper"
    disk = root_upperdir(runner, "--writable-layer", "disk")
    assert disk.startswith(f"{runner.root}/containers/") and disk.endswith("/upper"), disk
    env = root_upperdir(runner, env={"GANTRY_WRITABLE_LAYER": "disk"})
    assert env.startswith(f"{runner.root}/containers/"), env
    assert root_upperdir(runner, "--read-only") is None
    # nothing of the memory layer is visible on the host, during or after the run
    out = runner.run("run", runner.image, "sh", "-c", "echo data > /f; cat /f").out
    assert out == "data\n"
    assert not any(p.name == "f" for p in runner.root.rglob("f"))
    assert list((runner.root / "mnt").iterdir()) == []
    # the root directory keeps its mode whatever the umask
    mode = runner.run("run", runner.image, "stat", "-c", "%a", "/").out.strip()
    assert mode == "755"


def test_memory_layer_size_and_full_layer_are_explained(runner):
    r = runner.run("run", "--writable-layer", "memory:1MiB", runner.image, "sh", "-c",
                   "dd if=/dev/zero of=/big bs=1024 count=3000", check=False)
    assert r.code == 1, r  # dd's own failure
    assert "No space left on device" in r.err
    assert "filled up (1.05 MB)" in r.err and "--writable-layer disk" in r.err, r.err
    for bad, code in (("memory:0", 2), ("memory:lots", 2), ("ram", 2)):
        res = runner.run("run", "--writable-layer", bad, runner.image, "echo", "ran", check=False)
        assert res.code == code and "--writable-layer" in res.err and "hint:" in res.err, res
        assert "ran" not in res.out


def test_symlinked_mount_target_stays_inside(g, mk, tmp_path):
    # The image makes /data a symlink to a host path; a -v onto /data/x must land inside.
    victim = Path("/tmp") / f"gantry-victim-{os.getpid()}"
    victim.mkdir(exist_ok=True)
    try:
        layer = mk.Layer([mk.Entry.symlink("data", str(victim))], compression="none")
        img = mk.busybox_image(extra_layers=[layer])
        archive = tmp_path / "sym.tar"
        mk.write_docker_archive(archive, [(img, ["sym:1"])])
        g.run("load", archive)
        vol = tmp_path / "vol"
        vol.mkdir()
        r = g.run("run", "-v", f"{vol}:/data/x", "sym:1", "true", check=False)
        # Refused (the symlink leads nowhere inside the root) or contained: never on the host.
        assert r.code in (0, 125), r
        assert list(victim.iterdir()) == []
    finally:
        for p in victim.iterdir():
            p.rmdir() if p.is_dir() else p.unlink()
        victim.rmdir()


def test_mount_over_a_link_to_the_targets_directory(g, mk, tmp_path):
    """Mount targets created one after the other in a directory reuse its descriptor
    (runtime/in_root.hpp, TargetDir); a mount in between that covers that directory through a
    link (/data/up -> /data) must not send the next target into the covered directory."""
    layer = mk.Layer([mk.Entry.dir("data"), mk.Entry.symlink("data/up", "/data")],
                     compression="none")
    archive = tmp_path / "up.tar"
    mk.write_docker_archive(archive, [(mk.busybox_image(extra_layers=[layer]), ["up:1"])])
    g.run("load", archive)
    out = g.run("run", "--tmpfs", "/data/a", "--tmpfs", "/data/up", "--tmpfs", "/data/b", "up:1",
                "sh", "-c", "stat -f -c %T /data/b; ls /data").out.split()
    # /data is now the tmpfs mounted through the link; /data/b was made in it, /data/a is below
    assert out == ["tmpfs", "b"], out


def view_files(store):
    d = Path(store) / "views"
    return sorted(q.name for q in d.iterdir()) if d.exists() else []


def test_run_view_is_written_once_used_and_rebuilt_when_damaged(g, mk, tmp_path):
    """`run` reads the image through a run view (rootfs/run_view.hpp): the config without its
    history and etc/passwd, one file per manifest, built at the first run. A damaged view, or
    one naming another manifest, is rebuilt; rmi and prune remove views of images gone."""
    load_busybox(g, mk, tmp_path)
    manifest = g.refs()["docker.io/library/sample:latest"]
    assert view_files(g.root) == []
    assert g.run("run", "sample:latest", "true").code == 0
    assert view_files(g.root) == [manifest[7:] + ".json"]
    view = g.root / "views" / (manifest[7:] + ".json")
    doc = json.loads(view.read_text())
    assert doc["manifest"] == manifest and "history" not in doc["config"]
    assert doc["passwd"].startswith("root:x:0:0:")
    # used: what the view says is what runs (here: an Env only the view has)
    doc["config"]["config"]["Env"].append("FROM_VIEW=1")
    view.write_text(json.dumps(doc))
    assert "FROM_VIEW=1" in g.run("run", "sample:latest", "env").out
    # damaged, or of another manifest: built again from the blobs and layers
    for bad in ("{not json", json.dumps(dict(doc, manifest="sha256:" + "0" * 64)),
                json.dumps(dict(doc, format=99)), json.dumps(dict(doc, passwd=None))):
        view.write_text(bad)
        out = g.run("run", "-w", "/tmp", "sample:latest", "sh", "-c", "env; pwd").out
        assert "FROM_VIEW" not in out and "/tmp" in out
        rebuilt = json.loads(view.read_text())
        assert rebuilt["manifest"] == manifest and rebuilt["format"] == 1
    # gc: prune removes views of images gone and leftovers of interrupted writes
    (g.root / "views" / ("f" * 64 + ".json")).write_text("{}")
    (g.root / "views" / (manifest[7:] + ".json.tmp-x")).write_text("{}")
    (g.root / "views" / "junk").write_text("{}")
    g.run("system", "prune")
    assert view_files(g.root) == [manifest[7:] + ".json"]
    g.run("rmi", "sample:latest")
    assert view_files(g.root) == []


def test_non_recursive_bind_of_locked_mounts_is_explained(rootless, mk, tmp_path):
    """A CDI spec may bind a host tree without "rbind"; rootless, the kernel refuses to leave
    out the host's mounts below it (/sys holds the cgroup hierarchies): the error names the
    mount and the option that fixes it, and nothing runs."""
    load_busybox(rootless, mk, rootless.base)
    specs = Path(rootless.base) / "cdi"
    specs.mkdir()
    spec = specs / "t.yaml"
    spec.write_text("cdiVersion: 0.6.0\nkind: test.example/x\ndevices:\n  - name: a\n"
                    "    containerEdits:\n      mounts:\n        - hostPath: /sys\n"
                    "          containerPath: /hostsys\n          options: [bind, ro]\n")
    os.chmod(specs, 0o755)
    os.chmod(spec, 0o644)
    r = rootless.fail("run", "--cdi-spec-dir", specs, "--device", "test.example/x=a",
                      "sample:latest", "echo", "ran", code=125)
    assert "cannot bind /sys to /hostsys without the mounts under it" in r.err, r.err
    assert "hint:" in r.err and "rbind" in r.err, r.err
    assert "ran" not in r.out
    spec.write_text(spec.read_text().replace("[bind, ro]", "[rbind, ro]"))
    assert rootless.run("run", "--cdi-spec-dir", specs, "--device", "test.example/x=a",
                        "sample:latest", "ls", "/hostsys/fs").code == 0
