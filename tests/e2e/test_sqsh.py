"""Single-file squashfs images (issue 24, first slice): `save --format squashfs`, `inspect FILE`,
`run FILE.sqsh` / `run sqsh:FILE` served over FUSE from inside gantry, as root and rootless, a
plain mksquashfs image, and damaged or hostile files refused with exit 4.

Rootless runs need /dev/fuse usable by everyone, as distributions ship it (0666); this VM has it
0600 (reference/this-machine.md), so the `fuse_open` fixture sets 0666 for the test and restores
the mode after it."""
import json
import os
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from conftest import fuse_mode, need_tool

SQ = "/usr/bin/unsquashfs"


def sample_image(mk):
    """busybox + two layers: owners, modes, xattrs, a hard link, a whiteout, an opaque dir."""
    E = mk.Entry
    l1 = mk.Layer([
        E.dir("data", 0o755), E.dir("data/keep", 0o750, uid=1000, gid=1000),
        E.file("data/keep/owned", b"owned by 1000\n", 0o640, uid=1000, gid=1000),
        E.file("data/xattr", b"x\n", 0o644, xattrs={"user.color": b"blue"}),
        E.file("data/gone", b"deleted above\n"),
        E.dir("data/opq"), E.file("data/opq/old", b"hidden by the opaque dir\n"),
        E.file("data/link1", b"linked\n", 0o600),
        E.hardlink("data/link2", "data/link1"),
        E.file("data/replaced", b"lower\n"),
        E.file("data/setuid", b"#!/bin/sh\n", 0o4755),
    ])
    l2 = mk.Layer([
        E.whiteout("data/gone"), E.opaque("data/opq"), E.file("data/opq/new", b"new\n"),
        E.file("data/replaced", b"upper\n", 0o600),
    ])
    return mk.busybox_image(extra_layers=[l1, l2], entrypoint=["/bin/sh", "-c"],
                            cmd=["echo from-config; pwd"], working_dir="/data",
                            env=["PATH=/bin", "FROM_IMAGE=yes"])


def load(gan, mk, where):
    archive = Path(where) / "img.tar"
    mk.write_docker_archive(archive, [(sample_image(mk), ["sq:1"])])
    os.chmod(archive, 0o644)
    gan.run("load", archive)
    return "sq:1"


@pytest.fixture
def saved(g, mk, tmp_path):
    need_tool("tar2sqfs")
    ref = load(g, mk, tmp_path)
    out = tmp_path / "img.sqsh"
    g.run("save", ref, "--format", "squashfs", "-o", out)
    return out


def lls(path):
    out = subprocess.run([SQ, "-lln", "-d", "", str(path)], capture_output=True, text=True,
                         check=True).stdout
    rows = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) < 6 or not parts[0][0] in "-dlcbps":
            continue
        name = parts[-1] if parts[0][0] != "l" else parts[-3]
        rows[name] = (parts[0], parts[1])
    return rows


def test_save_writes_flattened_squashfs_that_unsquashfs_agrees_with(saved):
    need_tool("unsquashfs")
    rows = lls(saved)
    assert rows["/data/keep/owned"] == ("-rw-r-----", "1000/1000")
    assert rows["/data/keep"] == ("drwxr-x---", "1000/1000")
    assert rows["/data/setuid"][0] == "-rwsr-xr-x"
    assert rows["/data/replaced"][0] == "-rw-------"  # the upper layer's
    assert "/data/gone" not in rows and "/data/opq/old" not in rows  # whiteout, opaque dir
    assert "/data/opq/new" in rows and "/bin/busybox" in rows
    assert not any(".wh." in n for n in rows)
    sb = subprocess.run([SQ, "-s", str(saved)], capture_output=True, text=True).stdout
    assert "Compression zstd" in sb and "Block size 131072" in sb
    # the recorded xattr is in the file, and the root carries the header
    x = subprocess.run([SQ, "-lls", "-d", "", "-xattrs", str(saved)], capture_output=True,
                       text=True)
    assert x.returncode == 0 and "/data/xattr" in x.stdout


def test_inspect_reads_config_from_the_file(g, saved):
    d = g.run("inspect", "--json", saved).json()[0]
    assert d["config"]["Entrypoint"] == ["/bin/sh", "-c"]
    assert d["config"]["WorkingDir"] == "/data"
    assert d["digest"].startswith("sha256:") and d["squashfs"]["compression"] == "zstd"
    assert "Format:     gantry squashfs" in g.run("inspect", saved).out


def run_checks(gan, image):
    r = gan.run("run", "--rm", image)
    assert r.out.split() == ["from-config", "/data"]  # entrypoint, cmd, workdir from the file
    script = ("cat /data/replaced /data/opq/new; ls /data; stat -c '%i %h' /data/link1 "
              "/data/link2; cat /data/keep/owned; echo w > /data/new && cat /data/new; "
              "rm /data/link1 && ls /data/link1 || echo removed")
    r = gan.run("run", "--rm", "--entrypoint", "/bin/sh", image, "-c", script)
    lines = r.out.splitlines()
    assert lines[0] == "upper" and lines[1] == "new"
    assert "gone" not in r.out.split() and "old" not in r.out.split()  # whiteout, opaque dir
    inode1, inode2 = [l for l in lines if l.count(" ") == 1 and l.split()[1] == "2"][:2]
    assert inode1.split()[0] == inode2.split()[0]  # one inode, two links
    assert "owned by 1000" in r.out and "w" in lines and lines[-1] == "removed"


def test_run_sqsh_as_root(g, saved, fuse_open):
    run_checks(g, saved)
    run_checks(g, f"sqsh:{saved}")
    # owners and xattrs as recorded (root: every id is mapped)
    r = g.run("run", "--rm", "--entrypoint", "/bin/sh", saved, "-c",
              "stat -c '%u:%g %a' /data/keep/owned")
    assert r.out.strip() == "1000:1000 640"
    assert not [l for l in Path("/proc/mounts").read_text().splitlines() if "fuse.gantry" in l]


def test_run_sqsh_rootless(rootless, mk, fuse_open):
    need_tool("tar2sqfs")
    ref = load(rootless, mk, rootless.base)
    out = rootless.base / "img.sqsh"
    rootless.run("save", ref, "--format", "squashfs", "-o", out)
    run_checks(rootless, out)
    # an owner the single-id user namespace cannot map is shown as root
    r = rootless.run("run", "--rm", "--entrypoint", "/bin/sh", out, "-c",
                     "stat -c '%u:%g' /data/keep/owned; id -u")
    assert r.out.split() == ["0:0", "0"]
    # created once, started twice: the file opened again from what create kept (prepared.json),
    # served over FUSE under the container's writable layer on disk
    name = f"sq-kept-{os.getpid()}"
    rootless.run("create", "--name", name, "--entrypoint", "/bin/sh", out, "-c",
                 "cat /data/replaced; echo x >> /data/new; cat /data/new")
    assert rootless.run("start", "-a", name).out == "upper\nx\n"
    assert rootless.run("start", "-a", name).out == "upper\nx\nx\n"
    rootless.run("rm", name)
    assert not [l for l in Path("/proc/mounts").read_text().splitlines() if "fuse.gantry" in l]


def test_run_options_on_sqsh(g, saved, fuse_open, tmp_path):
    vol = tmp_path / "vol"
    vol.mkdir()
    (vol / "in").write_text("from host\n")
    r = g.run("run", "--rm", "-e", "A=1", "-w", "/tmp", "-u", "1000:1000", "-v", f"{vol}:/mnt",
              "--entrypoint", "/bin/sh", saved, "-c",
              "echo $A $FROM_IMAGE; pwd; id -u; cat /mnt/in")
    assert r.out.split() == ["1", "yes", "/tmp", "1000", "from", "host"]
    r = g.run("run", "-d", "--entrypoint", "/bin/sh", saved, "-c", "echo detached")
    cid = r.out.strip()
    g.run("wait", cid)
    assert "detached" in g.run("logs", cid).out
    # started again from what run -d kept: the file mounted again, nothing parsed again
    assert g.run("start", "-a", cid).out == "detached\n"
    g.run("rm", cid)


def test_plain_mksquashfs_image_runs_with_empty_config(g, tmp_path, fuse_open):
    need_tool("mksquashfs")
    root = tmp_path / "root"
    (root / "bin").mkdir(parents=True)
    shutil.copy("/bin/busybox", root / "bin" / "busybox")
    (root / "bin" / "sh").symlink_to("busybox")
    img = tmp_path / "plain.sqsh"
    subprocess.run(["mksquashfs", str(root), str(img), "-comp", "gzip", "-all-root", "-quiet",
                    "-noappend"], check=True, capture_output=True)
    d = g.run("inspect", "--json", img).json()[0]
    assert d["config"] == {} and d["digest"] is None
    r = g.run("run", "--rm", img, "/bin/sh", "-c", "echo plain; echo $PATH")
    assert r.out.splitlines()[0] == "plain"
    g.fail("run", "--rm", img, code=125)  # no command and no config: nothing to run


def test_save_leaves_nothing_on_error(g, mk, tmp_path):
    need_tool("tar2sqfs")
    ref = load(g, mk, tmp_path)
    out = tmp_path / "x.sqsh"
    out.write_text("old content\n")
    # a layer blob damaged in the store: the old file stays, no temporary name is left
    blobs = sorted((g.root / "blobs" / "sha256").iterdir(), key=lambda p: p.stat().st_size)
    big = blobs[-1]
    os.chmod(big, 0o644)
    data = bytearray(big.read_bytes())
    data[len(data) // 2] ^= 0xFF
    big.write_bytes(bytes(data))
    r = g.fail("save", ref, "--format", "squashfs", "-o", out)
    assert r.code in (4, 6), r
    assert out.read_text() == "old content\n"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".x.sqsh")) == []


def corrupt(src, dst, offset, data):
    b = bytearray(Path(src).read_bytes())
    b[offset:offset + len(data)] = data
    Path(dst).write_bytes(bytes(b))


def test_damaged_squashfs_files_fail_with_exit_4(g, saved, tmp_path):
    cases = {}
    cases["truncated"] = Path(saved).read_bytes()[:len(Path(saved).read_bytes()) // 2]
    cases["tiny"] = b"hsqs" + b"\0" * 20
    cases["not-squashfs"] = b"\0" * 4096
    for name, data in cases.items():
        p = tmp_path / f"{name}.sqsh"
        p.write_bytes(data)
        r = g.fail("run", "--rm", p, "/bin/true", code=4)
        assert str(tmp_path) in r.err or name in r.err
        g.fail("inspect", p, code=4)
    huge = tmp_path / "inodes.sqsh"
    corrupt(saved, huge, 4, struct.pack("<I", 0xFFFFFFF0))  # inode count
    assert "inodes cannot fit" in g.fail("run", "--rm", huge, "/bin/true", code=4).err
    bs = tmp_path / "blocksize.sqsh"
    corrupt(saved, bs, 12, struct.pack("<I", 3 << 20))
    assert "block size" in g.fail("inspect", bs, code=4).err
    hdr = tmp_path / "header.sqsh"
    # a header whose config does not match its digest
    need_tool("tar2sqfs")
    tarp = tmp_path / "h.tar"
    import tarfile, io
    with tarfile.open(tarp, "w", format=tarfile.PAX_FORMAT) as t:
        ti = tarfile.TarInfo("./")
        ti.type = tarfile.DIRTYPE
        ti.pax_headers = {"SCHILY.xattr.user.gantry.image": json.dumps(
            {"format": 1, "manifest": "sha256:" + "a" * 64, "config_digest": "sha256:" + "b" * 64,
             "diff_ids": [], "config": "{}"})}
        t.addfile(ti)
        f = tarfile.TarInfo("f")
        f.size = 1
        t.addfile(f, io.BytesIO(b"x"))
    subprocess.run(["tar2sqfs", "-q", "-c", "zstd", str(hdr)], stdin=open(tarp, "rb"), check=True)
    assert "does not match its digest" in g.fail("inspect", hdr, code=4).err


def test_hostile_squashfs_symlink_out_stays_inside(g, tmp_path, fuse_open):
    need_tool("mksquashfs")
    root = tmp_path / "root"
    (root / "bin").mkdir(parents=True)
    shutil.copy("/bin/busybox", root / "bin" / "busybox")
    (root / "bin" / "sh").symlink_to("busybox")
    (root / "escape").symlink_to("../../../../../../etc/hostname")
    (root / "abs").symlink_to("/etc/shadow")
    secret = tmp_path / "host-secret"
    secret.write_text("HOST SECRET\n")
    (root / "secret").symlink_to(str(secret))
    img = tmp_path / "hostile.sqsh"
    subprocess.run(["mksquashfs", str(root), str(img), "-quiet", "-noappend"], check=True,
                   capture_output=True)
    r = g.run("run", "--rm", img, "/bin/sh", "-c",
              "cat /escape /abs /secret 2>&1; echo done", check=False)
    assert "HOST SECRET" not in r.out and "root:" not in r.out and "done" in r.out


def test_file_claiming_more_blocks_than_exist_gives_io_error_not_crash(g, saved, tmp_path,
                                                                       fuse_open):
    # cut the file's data region (keep the tables): the superblock is fine, reads fail with EIO
    b = bytearray(Path(saved).read_bytes())
    start = 96
    b[start:start + 200000] = b"\x55" * 200000  # garbage compressed data blocks
    bad = tmp_path / "baddata.sqsh"
    bad.write_bytes(bytes(b))
    r = g.run("run", "--rm", "--entrypoint", "/bin/true", bad, check=False)
    assert r.code != 0 and r.code != 139 and "Segmentation" not in r.err


def test_missing_dev_fuse_access_is_a_clear_error(rootless, mk):
    need_tool("tar2sqfs")
    if os.geteuid() != 0:
        pytest.skip("needs root to set /dev/fuse to 0600")
    ref = load(rootless, mk, rootless.base)
    out = rootless.base / "img.sqsh"
    rootless.run("save", ref, "--format", "squashfs", "-o", out)
    with fuse_mode(0o600):  # --no-unpack: no fallback to unpacking (test_host_blocks.py)
        r = rootless.fail("run", "--rm", "--no-unpack", out, "/bin/true", code=125)
    assert "/dev/fuse" in r.err and "chmod 0666 /dev/fuse" in r.err


def test_gpus_on_a_sqsh_image(g, tmp_path, fuse_open):
    """--gpus on a simulated one-GPU host: the driver is injected into a .sqsh root as into a
    store image's (the GPU step needs only the rootfs and the config)."""
    need_tool("tar2sqfs")
    import gpu_common as tg
    host = tg.gh.build_host(tmp_path / "host", tg.gh.preset(1), devices="auto")
    archive = tmp_path / "cuda.tar"
    imgs = [i for i in tg._image_set() if i[1] == ["gt/cuda-probe:1"]]
    tg.mk.write_docker_archive(archive, imgs)
    g.run("load", archive)
    out = tmp_path / "cuda.sqsh"
    g.run("save", "gt/cuda-probe:1", "--format", "squashfs", "-o", out)
    gpu = tg.Gantry(g.root, env={"FAKE_DEVICE_ROOT": str(host.dev_root)})
    res = gpu.run("run", "--driver-root", host.driver_root, "--dev-root", host.dev_root,
                  "--gpus", "all", out, "sh", "-c", tg.PROBE)
    tg.check_visible(res, host, [0], [], "--gpus all on a .sqsh")
    # near miss: without --gpus nothing of the driver is there
    res = gpu.run("run", "--driver-root", host.driver_root, "--dev-root", host.dev_root, out,
                  "sh", "-c", "ls /dev | grep -c nvidia || true")
    assert res.out.strip() == "0"
