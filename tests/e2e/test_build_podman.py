"""gantry build against podman build (buildah), the peer issue 26 names: the same Dockerfiles and
contexts built by both, from the same busybox base, give the same file trees (type, mode, owner,
content, link targets; timestamps aside) and the same config. The one difference allowed is
buildah's: it leaves the empty files and directories it mounted over (/etc/hosts,
/etc/resolv.conf, /etc/hostname, /run) in the layers, which BuildKit and gantry do not."""
import os
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

import pytest

from build_compare import differences, tree_and_config
from conftest import load_busybox, need_tool

# buildah's mount stubs: empty, in its image only
BUILDAH_STUBS = {"etc/hosts", "etc/resolv.conf", "etc/hostname", "run"}

CASES = {
    "instructions": ("""\
FROM sample:latest
ARG GREETING=hello
ENV APP=/app PATH=/app/bin:$PATH
WORKDIR $APP
COPY app.txt ./
COPY tree/ /opt/tree/
COPY --chown=7:9 --chmod=640 app.txt /opt/owned.txt
ADD bundle.tar /opt/unpacked/
RUN echo "$GREETING" > run.txt && mkdir -p bin /data/sub && echo x > /data/sub/f \\
    && ln /data/sub/f /data/hard && ln -s ../sub/f /data/sub/link && rm -f /bin/yes \\
    && chown 5:6 /data/hard && chmod 4755 /data/sub/f
USER 1000:1000
LABEL org.example.a=1 org.example.b="two words"
EXPOSE 8080/udp 9090
VOLUME ["/data"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["/bin/sh", "-c"]
CMD ["cat /app/run.txt"]
""", {"app.txt": "app\n", "tree/a": "a\n", "tree/sub/b": "b\n"}),
    "multistage": ("""\
FROM sample:latest AS build
RUN mkdir /out && echo artifact > /out/a && echo junk > /junk
FROM sample:latest
COPY --from=build /out /dist
RUN rm -rf /usr && mkdir -p /usr/local && touch /usr/local/new
""", {}),
}


@pytest.fixture
def podman(tmp_path):
    need_tool("podman")
    need_tool("runc")
    if os.geteuid() != 0:
        pytest.skip("compared as root (podman rootless needs subordinate ids here)")
    conf = tmp_path / "containers.conf"
    conf.write_text('[containers]\ndefault_ulimits = ["nofile=20000:20000", '
                    '"nproc=32768:32768"]\n')
    base = Path(tempfile.mkdtemp(prefix="gpod-", dir="/tmp"))  # runroot: 50 characters at most
    # runc: crun 1.8 refuses this VM's hybrid cgroups (reference/this-machine.md)
    cmd = ["podman", "--root", str(base / "root"), "--runroot", str(base / "run"),
           "--tmpdir", str(base / "tmp"), "--storage-driver", "overlay", "--runtime", "runc"]
    env = dict(os.environ, CONTAINERS_CONF=str(conf))

    def run(*args):
        p = subprocess.run(cmd + [str(a) for a in args], capture_output=True, text=True,
                           env=env, timeout=300, cwd=base)  # conmon's `oom` file lands there
        assert p.returncode == 0, f"podman {args}: {p.stdout}\n{p.stderr}"
        return p

    yield run
    # buildah's working containers (a build that stopped half-way) outlive `rmi -a -f`, and with
    # them their overlay mounts under /tmp (seen after a CI run): reset removes and unmounts all
    # of this podman's own (--root, --runroot and --tmpdir above are the fixture's: never reset
    # a podman whose tmpdir is the shared /run/libpod, where other tests' podman runs live)
    subprocess.run(cmd + ["system", "reset", "-f"], capture_output=True, env=env)
    # a podman process still ending keeps a mount busy (mounts left under /tmp after a CI run):
    # then detach them lazily, which the kernel finishes once the last user is gone
    if subprocess.run(["umount", "-R", str(base / "root" / "overlay")],
                      capture_output=True).returncode != 0:
        subprocess.run(["umount", "-R", "-l", str(base / "root" / "overlay")], capture_output=True)
    shutil.rmtree(base, ignore_errors=True)


@pytest.mark.parametrize("case", sorted(CASES))
def test_same_tree_and_config_as_podman_build(g, mk, tmp_path, podman, case):
    dockerfile, files = CASES[case]
    base = tmp_path / "bb.tar"
    load_busybox(g, mk, tmp_path)
    podman("load", "-i", base)
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(dockerfile)
    for name, text in files.items():
        (ctx / name).parent.mkdir(parents=True, exist_ok=True)
        (ctx / name).write_text(text)
    if case == "instructions":
        (ctx / "tree" / "link").symlink_to("a")
        with tarfile.open(ctx / "bundle.tar", "w") as t:
            t.add(ctx / "tree" / "a", arcname="pkg/a")
    for p in [ctx, *ctx.rglob("*")]:
        if not p.is_symlink():
            os.chmod(p, 0o755 if p.is_dir() else 0o644)
    g.run("build", "-q", "-t", "cmp:gantry", ctx)
    g.run("save", "-o", tmp_path / "g.tar", "cmp:gantry")
    podman("build", "-q", "--network", "host", "-t", "cmp:podman", ctx)
    podman("save", "--format", "docker-archive", "-o", tmp_path / "p.tar", "cmp:podman")
    gt, gc = tree_and_config(tmp_path / "g.tar")
    pt, pc = tree_and_config(tmp_path / "p.tar")
    for stub in BUILDAH_STUBS:  # buildah's own, empty; never gantry's
        assert stub not in gt
        if stub in pt and pt[stub][0] in ("file", "dir") and pt[stub][4] in (
                "", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"):
            del pt[stub]
    assert differences(gt, pt) == []
    assert gc == pc
    assert len(gt) > 40  # the busybox base is there
    if case == "instructions":  # what the comparison covers
        assert gt["data/hard"][2:4] == (5, 6) and gt["data/sub/f"][1] == 0o4755
        assert gt["opt/owned.txt"][1:4] == (0o640, 7, 9) and gt["opt/unpacked/pkg/a"][0] == "file"
        assert "bin/yes" not in gt and gc["User"] == "1000:1000"
