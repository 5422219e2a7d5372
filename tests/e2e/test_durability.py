"""Crash consistency of the stores (issue 36): every command that publishes into a store syncs
the data before the name, the directory after it, and the reference last, checked on the
system calls it makes (tests/e2e/durability.py; pull's check is in
test_registry_pull_push.py). docs/storage.md says what is durable and what is exempt."""
import pytest

from conftest import load_busybox, need_tool
from durability import parse, publishes, traced, violations


@pytest.fixture(autouse=True)
def _strace():
    need_tool("strace")


def test_load_tag_and_rmi_publish_durably(g, mk, tmp_path):
    img = mk.busybox_image()
    archive = tmp_path / "bb.tar"
    mk.write_docker_archive(archive, [(img, ["sample:latest"])])
    _, t = traced(g, tmp_path / "load.log", "load", archive)
    assert violations(t, [g.root]) == []
    names = [dst for _, _, dst, _ in publishes(t, [g.root])]
    assert any("/blobs/sha256/" in n for n in names) and any("/layers/sha256/" in n for n in names)
    assert names[-1].endswith("/refs.json"), names  # the reference last
    # each layer: its tree, tar-split and meta.json made durable by one syncfs before the rename
    # (checked above: nothing written in it after), none of them fsync'd one by one
    assert sum(c[1] == "syncfs" for c in t.calls) >= len(img.layers)
    one_by_one = [c for c in t.calls if c[1] in ("fsync", "fdatasync") and "/tmp/layer-" in c[2]]
    assert one_by_one == [], one_by_one
    # a blob the store does not keep (one copy: the tree) is never written beside the tree to be
    # deleted after: a layer's syncfs would write those bytes to the disk for nothing
    published = {src for _, src, _, _ in publishes(t, [g.root])}
    made = {p for i, p in t.paths.items() if t.calls[i][1] == "openat" and "/tmp/blob-" in p}
    assert made and made <= published, made - published  # the manifest and config are kept
    _, t = traced(g, tmp_path / "tag.log", "tag", "sample:latest", "other:1")
    assert violations(t, [g.root]) == []
    _, t = traced(g, tmp_path / "rmi.log", "rmi", "other:1")
    assert violations(t, [g.root]) == []


def test_build_publishes_durably(g, mk, tmp_path):
    load_busybox(g, mk, tmp_path)
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "f").write_text("payload\n")
    # two stages with a RUN step each: two work images, two run views (issue 56's trace found
    # 2 of a build's 13 files, its views/*.json, published unsynced)
    (ctx / "Dockerfile").write_text("FROM sample:latest AS one\nCOPY f /f\nRUN cp /f /g\n"
                                    "FROM sample:latest\nCOPY --from=one /g /h\n"
                                    "RUN cp /h /i\n")
    _, t = traced(g, tmp_path / "build.log", "build", "-t", "built:1", ctx)
    assert violations(t, [g.root]) == []
    # the RUN steps' run views (views/) too: no file of the store is published unsynced
    names = [dst for _, _, dst, _ in publishes(t, [g.root])]
    assert sum("/views/" in n for n in names) >= 2, names
    assert any("/build-cache/steps/" in n for n in names), names


def test_unsafe_no_sync_makes_no_sync_and_says_so(g, mk, tmp_path):
    """GANTRY_UNSAFE_NO_SYNC=1 (bench/durability.sh's comparison, benchmarks only): the same
    load makes no fsync, fdatasync nor syncfs, and warns on standard error."""
    img = mk.busybox_image()
    archive = tmp_path / "bb.tar"
    mk.write_docker_archive(archive, [(img, ["sample:latest"])])
    env = dict(g.environ(), GANTRY_UNSAFE_NO_SYNC="1")
    r, t = traced(g, tmp_path / "load.log", "load", archive, env=env)
    assert [c for c in t.calls if c[1] in ("fsync", "fdatasync", "syncfs")] == []
    assert "GANTRY_UNSAFE_NO_SYNC" in r.stderr and "benchmarks only" in r.stderr, r.stderr
    assert "docker.io/library/sample:latest" in g.refs()


def test_squashfs_save_and_shared_store_push_publish_durably(g, mk, tmp_path):
    load_busybox(g, mk, tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    _, t = traced(g, tmp_path / "save.log", "save", "sample:latest", "--format", "squashfs",
                  "-o", out / "sample.sqsh")
    assert violations(t, [out], reference_last=False) == []
    shared = tmp_path / "shared"
    _, t = traced(g, tmp_path / "push.log", "push", "--image-store", shared, "sample:latest")
    assert violations(t, [shared]) == []


def test_the_checker_finds_each_kind_of_missing_sync():
    """The check itself: a rename with no data sync, one with no directory sync after, a
    reference published before the object it names is durable, and an object published after the
    last reference are each reported."""
    ok = ('1 openat(AT_FDCWD</>, "/s/tmp/b", O_WRONLY) = 3</s/tmp/b>\n'
          '1 fsync(3</s/tmp/b>) = 0\n'
          '1 rename("/s/tmp/b", "/s/blobs/sha256/aa") = 0\n'
          '1 fsync(4</s/blobs/sha256>) = 0\n'
          '1 fsync(5</s/refs.json.tmp-1>) = 0\n'
          '1 rename("/s/refs.json.tmp-1", "/s/refs.json") = 0\n'
          '1 fsync(6</s>) = 0\n')
    assert violations(parse(ok), ["/s"]) == []
    no_data = ok.replace("1 fsync(3</s/tmp/b>) = 0\n", "")
    assert violations(parse(no_data), ["/s"]) == [
        "/s/blobs/sha256/aa: published from /s/tmp/b with no sync of its data before"]
    no_dir = ok.replace("1 fsync(4</s/blobs/sha256>) = 0\n", "")
    assert violations(parse(no_dir), ["/s"]) == [
        "/s/blobs/sha256/aa: its directory /s/blobs/sha256 is not synced after",
        "/s/refs.json was published before /s/blobs/sha256/aa was durable"]
    split = ok.replace('1 rename("/s/tmp/b", "/s/blobs/sha256/aa") = 0\n',
                       '1 rename("/s/tmp/b", <unfinished ...>\n'
                       '1 <... rename resumed>"/s/blobs/sha256/aa") = 0\n')
    assert violations(parse(split), ["/s"]) == []
    # a reference on the way (a build's RUN step names its work image), then more objects and
    # the last reference: fine; an object published after the last reference is reported
    blob2 = ('1 fsync(7</s/tmp/c>) = 0\n'
             '1 rename("/s/tmp/c", "/s/blobs/sha256/bb") = 0\n'
             '1 fsync(8</s/blobs/sha256>) = 0\n')
    ref2 = ('1 fsync(9</s/refs.json.tmp-2>) = 0\n'
            '1 rename("/s/refs.json.tmp-2", "/s/refs.json") = 0\n'
            '1 fsync(6</s>) = 0\n')
    assert violations(parse(ok + blob2 + ref2), ["/s"]) == []
    assert violations(parse(ok + blob2), ["/s"]) == [
        "/s/blobs/sha256/bb was published after the reference /s/refs.json"]
    # a layer: its tree, tar-split and meta.json written unsynced, one syncfs, the rename, its
    # directory: fine; meta.json written (or renamed into place) after the syncfs is reported
    tree = ('1 openat(3</s/tmp/l/rootfs/etc>, "f", O_WRONLY|O_CREAT|O_EXCL) = 4</s/tmp/l/rootfs/etc/f>\n'
            '1 openat(AT_FDCWD</>, "/s/tmp/l/tar-split.json.zst.tmp-1", O_WRONLY|O_CREAT|O_EXCL, 0644)'
            ' = 5</s/tmp/l/tar-split.json.zst.tmp-1>\n'
            '1 rename("/s/tmp/l/tar-split.json.zst.tmp-1", "/s/tmp/l/tar-split.json.zst") = 0\n')
    meta = ('1 openat(AT_FDCWD</>, "/s/tmp/l/meta.json.tmp-2", O_WRONLY|O_CREAT|O_EXCL, 0644)'
            ' = 6</s/tmp/l/meta.json.tmp-2>\n'
            '1 rename("/s/tmp/l/meta.json.tmp-2", "/s/tmp/l/meta.json") = 0\n')
    sync = '1 syncfs(7</s/tmp/l/rootfs>) = 0\n'
    publish = ('1 rename("/s/tmp/l", "/s/layers/sha256/cc") = 0\n'
               '1 fsync(8</s/layers/sha256>) = 0\n')
    assert violations(parse(tree + meta + sync + publish + ref2), ["/s"]) == []
    assert violations(parse(tree + sync + meta + publish + ref2), ["/s"]) == [
        "/s/layers/sha256/cc: /s/tmp/l/meta.json.tmp-2 was written after the syncfs that covers"
        " its publish",
        "/s/layers/sha256/cc: /s/tmp/l/meta.json was written after the syncfs that covers its"
        " publish"]
    # ... unless it was synced itself before the publish (the scheme before this one: the
    # file's fsync, the rename, its directory's fsync)
    meta_synced = meta.replace("\n1 rename", "\n1 fsync(6</s/tmp/l/meta.json.tmp-2>) = 0\n"
                               "1 rename", 1) + "1 fsync(9</s/tmp/l>) = 0\n"
    assert violations(parse(tree + sync + meta_synced + publish + ref2), ["/s"]) == []
