"""`gantry build` (issue 26) on the busybox sample base: instructions with BuildKit's semantics,
the step cache (hits, misses, a changed source re-running only from the step that reads it),
.dockerignore, multi-stage builds, RUN mounts (cache, secret, bind, tmpfs), SOURCE_DATE_EPOCH
reproducibility, errors with FILE:LINE, rootless (fake-root) and root builds, and the build
cache in `system df` / `system prune`."""
import json
import os
import subprocess
import tarfile
import time
from pathlib import Path

import pytest

from conftest import load_busybox


def write(ctx: Path, files: dict):
    for name, text in files.items():
        p = ctx / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    for d in [ctx, *ctx.rglob("*")]:
        os.chmod(d, 0o755 if d.is_dir() else 0o644)
    return ctx


@pytest.fixture
def bb(g, mk, tmp_path):
    return g, load_busybox(g, mk, tmp_path), tmp_path


def inspect(g, ref):
    return json.loads(g.run("inspect", "--json", ref).out)[0]


def build(g, ctx, *args, check=True, env=None):
    if env:
        g.env.update(env)
    try:
        return g.run("build", *args, str(ctx), check=check)
    finally:
        if env:
            for k in env:
                g.env.pop(k, None)


BASIC = """\
FROM sample:latest
ARG GREETING=hello
ENV APP=/app
WORKDIR $APP
COPY app.txt ./
RUN echo "$GREETING from run" > run.txt && ls -la /app > listing.txt
LABEL org.example.kind=test
EXPOSE 8080
CMD ["cat", "/app/run.txt"]
"""


def test_basic_build_runs_and_has_the_config(bb):
    g, _, tmp = bb
    ctx = write(tmp / "ctx", {"Dockerfile": BASIC, "app.txt": "app contents\n"})
    r = build(g, ctx, "-t", "built:one")
    image_id = r.out.strip()
    assert image_id.startswith("sha256:") and len(image_id) == 71, r
    assert "Tagged docker.io/library/built:one" in r.err
    assert "RUN steps ran as root" in r.err
    out = g.run("run", "--rm", "built:one").out
    assert out == "hello from run\n"
    assert g.run("run", "--rm", "built:one", "cat", "/app/app.txt").out == "app contents\n"
    # WORKDIR is the image's; ENV and LABEL are in its config
    assert g.run("run", "--rm", "built:one", "pwd").out.strip() == "/app"
    c = inspect(g, "built:one")["config"]
    assert "APP=/app" in c["Env"] and c["Labels"] == {"org.example.kind": "test"}
    assert c["ExposedPorts"] == {"8080/tcp": {}} and c["WorkingDir"] == "/app"
    assert c["Cmd"] == ["cat", "/app/run.txt"]


def test_build_arg_overrides_and_history(bb):
    g, _, tmp = bb
    ctx = write(tmp / "ctx", {"Dockerfile": BASIC, "app.txt": "x\n"})
    build(g, ctx, "-t", "built:arg", "--build-arg", "GREETING=bonjour")
    assert g.run("run", "--rm", "built:arg").out == "bonjour from run\n"
    hist = inspect(g, "built:arg")["history"]
    mine = [h for h in hist if h["comment"] == "buildkit.dockerfile.v0"]
    assert [h["created_by"] for h in mine] == [
        "ARG GREETING=bonjour", "ENV APP=/app", "WORKDIR $APP", "COPY app.txt ./ # buildkit",
        'RUN /bin/sh -c echo "$GREETING from run" > run.txt && ls -la /app > listing.txt'
        " # buildkit", "LABEL org.example.kind=test", "EXPOSE 8080",
        'CMD ["cat", "/app/run.txt"]']
    assert [h["empty_layer"] for h in mine] == [True, True, False, False, False, True, True, True]


def test_cache_hits_and_a_changed_source_reruns_from_its_step(bb):
    g, _, tmp = bb
    df = ("FROM sample:latest\n"
          "RUN echo first > /first\n"
          "COPY src.txt /src.txt\n"
          "RUN cat /src.txt > /copy\n")
    ctx = write(tmp / "ctx", {"Dockerfile": df, "src.txt": "v1\n"})
    first = build(g, ctx, "-t", "c:1")
    assert first.err.count("  cached") == 0
    time.sleep(1.1)  # a later second: a build whose steps all hit is still the same image
    again = build(g, ctx, "-t", "c:2")
    assert again.err.count("  cached") == 3, again.err
    assert again.out == first.out  # same steps, same image ID
    (ctx / "src.txt").write_text("v2\n")
    third = build(g, ctx, "-t", "c:3")
    assert third.err.count("  cached") == 1, third.err  # only the first RUN
    assert g.run("run", "--rm", "c:3", "cat", "/copy").out == "v2\n"
    nocache = build(g, ctx, "--no-cache", "-t", "c:4")
    assert nocache.err.count("  cached") == 0
    # removed and built again (issue 76): `rmi` collects the RUN step's layer, so that step
    # runs again and makes another layer; the steps after it are keyed on that layer, so the
    # config-only ENV is not taken from the entry made over the removed one (the rebuilt image
    # named the removed layer: "layer ... is not unpacked in the store")
    ctx2 = write(tmp / "ctx2", {"Dockerfile": "FROM sample:latest\n"
                                              "RUN cat /proc/sys/kernel/random/uuid > /t\n"
                                              "ENV A=1\n"})
    built = build(g, ctx2, "-t", "rb:1").out
    g.run("rmi", "rb:1")
    rebuilt = build(g, ctx2, "-t", "rb:1")
    assert rebuilt.err.count("  cached") == 0 and rebuilt.out != built, rebuilt.err
    assert g.run("run", "--rm", "rb:1", "sh", "-c", "cat /t; echo $A").out.endswith("\n1\n")


def test_dockerignore_leaves_files_out(bb):
    g, _, tmp = bb
    ctx = write(tmp / "ctx", {
        "Dockerfile": "FROM sample:latest\nCOPY . /ctx/\n",
        ".dockerignore": "secret.txt\n*.log\n!keep.log\n",
        "secret.txt": "s", "a.log": "a", "keep.log": "k", "sub/b.txt": "b"})
    build(g, ctx, "-t", "ign:1")
    out = g.run("run", "--rm", "ign:1", "find", "/ctx", "-type", "f").out.split()
    assert sorted(out) == ["/ctx/.dockerignore", "/ctx/Dockerfile", "/ctx/keep.log",
                           "/ctx/sub/b.txt"]


def test_multi_stage_copies_only_what_it_names(bb):
    g, _, tmp = bb
    df = ("FROM sample:latest AS builder\n"
          "RUN mkdir -p /out && echo built > /out/artifact && echo junk > /junk\n"
          "FROM sample:latest\n"
          "COPY --from=builder /out/artifact /artifact\n"
          "FROM sample:latest AS unused\n"
          "RUN exit 1\n"
          "FROM 1\n")
    ctx = write(tmp / "ctx", {"Dockerfile": df})
    r = build(g, ctx, "--target", "1", "-t", "ms:1", check=False)
    assert r.code != 0  # --target names a stage by name only
    df = df.replace("FROM sample:latest\nCOPY", "FROM sample:latest AS final\nCOPY")
    write(ctx, {"Dockerfile": df})
    r = build(g, ctx, "--target", "final", "-t", "ms:1")
    assert "RUN exit 1" not in r.err  # a stage the target does not need is not built
    assert g.run("run", "--rm", "ms:1", "cat", "/artifact").out == "built\n"
    assert g.run("run", "--rm", "ms:1", "test", "-e", "/junk", check=False).code == 1


def test_failing_run_reports_status_and_output_and_tags_nothing(bb):
    g, _, tmp = bb
    df = "FROM sample:latest\nRUN echo line-one; echo line-two >&2; exit 3\n"
    ctx = write(tmp / "ctx", {"Dockerfile": df})
    r = build(g, ctx, "-t", "bad:1", check=False)
    assert r.code == 125, r
    assert "exit status 3" in r.err and "line-two" in r.err
    assert "Dockerfile:2:1" in r.err
    assert "docker.io/library/bad:1" not in g.refs()


@pytest.mark.parametrize("df,code,needle", [
    ("FROM sample:latest\nFROOM x\n", 4, "Dockerfile:2:1: unknown instruction: FROOM"),
    ("FROM sample:latest\nCOPY missing.txt /\n", 3, "missing.txt"),
    ("FROM sample:latest AS a\nFROM sample:latest\nCOPY --from=a /nonexistent /x\n", 3,
     "Dockerfile:3:1: "),
    ("FROM sample:latest\nRUN --mount=type=ssh true\n", 7, "type=ssh"),
    ("FROM --platform=linux//arm64 sample:latest\n", 4, "Dockerfile:1:1: "),
])
def test_errors_name_the_file_and_line(bb, df, code, needle):
    g, _, tmp = bb
    ctx = write(tmp / "ctx", {"Dockerfile": df})
    r = build(g, ctx, check=False)
    assert r.code == code, r
    assert needle in r.err, r


def test_bad_flags_are_refused_before_anything_runs(bb):
    g, _, tmp = bb
    ctx = write(tmp / "ctx", {"Dockerfile": "FROM sample:latest\nRUN touch /ran\n"})
    assert build(g, ctx, "--build-arg", "=x", check=False).code == 2
    assert build(g, ctx, "--progress", "fancy", check=False).code == 2
    r = build(g, ctx, "--platform", "linux/amd64,linux/amd64", check=False)
    assert r.code == 2 and "names linux/amd64 twice" in r.err, r
    assert build(g, ctx, "--platform", "linux/amd64,", check=False).code == 2
    assert build(g, ctx, "--platform", "linux//arm64", check=False).code == 2
    r = build(g, ctx, "--secret", "id=x,src=/nonexistent", check=False)
    assert r.code == 3 and "/nonexistent" in r.err


def test_secret_mount_never_lands_in_a_layer(bb):
    g, _, tmp = bb
    secret = tmp / "token"
    secret.write_text("TOPSECRET-4711")
    df = ("FROM sample:latest\n"
          "RUN --mount=type=secret,id=tok,required=true "
          "wc -c < /run/secrets/tok > /count\n")
    ctx = write(tmp / "ctx", {"Dockerfile": df})
    r = build(g, ctx, "--secret", f"id=tok,src={secret}", "-t", "sec:1")
    assert g.run("run", "--rm", "sec:1", "cat", "/count").out.strip() == "14"
    assert g.run("run", "--rm", "sec:1", "test", "-e", "/run/secrets/tok", check=False).code == 1
    out = tmp / "sec.tar"
    g.run("save", "-o", out, "sec:1")
    data = out.read_bytes()
    import gzip
    with tarfile.open(out) as t:
        for m in t.getmembers():
            if m.isfile():
                blob = t.extractfile(m).read()
                try:
                    blob = gzip.decompress(blob)
                except OSError:
                    pass
                assert b"TOPSECRET" not in blob, m.name
    assert b"TOPSECRET" not in data
    missing = build(g, ctx, check=False)
    assert missing.code != 0 and "secret tok" in missing.err


def test_cache_mount_persists_across_builds(bb):
    g, _, tmp = bb
    df = ("FROM sample:latest\n"
          "RUN --mount=type=cache,target=/cache "
          "echo x >> /cache/log && wc -l < /cache/log > /n\n")
    ctx = write(tmp / "ctx", {"Dockerfile": df})
    build(g, ctx, "--no-cache", "-t", "cm:1")
    build(g, ctx, "--no-cache", "-t", "cm:2")
    assert g.run("run", "--rm", "cm:1", "cat", "/n").out.strip() == "1"
    assert g.run("run", "--rm", "cm:2", "cat", "/n").out.strip() == "2"
    assert g.run("run", "--rm", "cm:2", "test", "-e", "/cache", check=False).code == 1
    # the mount as written is part of the step's key: another cache id runs the step again
    write(ctx, {"Dockerfile": df.replace("target=/cache", "id=other,target=/cache")})
    r = build(g, ctx, "-t", "cm:3")
    assert r.err.count("  cached") == 0, r.err
    assert g.run("run", "--rm", "cm:3", "cat", "/n").out.strip() == "1"


def test_bind_and_tmpfs_mounts(bb):
    g, _, tmp = bb
    df = ("FROM sample:latest\n"
          "RUN --mount=type=bind,source=data,target=/data "
          "--mount=type=tmpfs,target=/scratch "
          "cat /data/in > /out && touch /scratch/t && ! touch /data/new\n")
    ctx = write(tmp / "ctx", {"Dockerfile": df, "data/in": "bound\n"})
    build(g, ctx, "-t", "bm:1")
    assert g.run("run", "--rm", "bm:1", "cat", "/out").out == "bound\n"
    # the mount targets are not in the layer
    r = g.run("run", "--rm", "bm:1", "sh", "-c", "test -e /data || test -e /scratch", check=False)
    assert r.code == 1
    (ctx / "data/in").write_text("changed\n")
    r = build(g, ctx, "-t", "bm:2")
    assert r.err.count("  cached") == 0  # the bound file changed: the step reruns
    assert g.run("run", "--rm", "bm:2", "cat", "/out").out == "changed\n"


def test_source_date_epoch_gives_the_same_image(bb):
    g, _, tmp = bb
    ctx = write(tmp / "ctx", {"Dockerfile": BASIC, "app.txt": "same\n"})
    env = {"SOURCE_DATE_EPOCH": "1700000000"}
    a = build(g, ctx, "--no-cache", env=env).out.strip()
    b = build(g, ctx, "--no-cache", env=env).out.strip()
    assert a == b
    c = build(g, ctx, "--no-cache").out.strip()
    assert c != a


def test_add_extracts_a_local_tar_and_copy_chown_chmod(bb):
    g, _, tmp = bb
    ctx = tmp / "ctx"
    (ctx / "pkg").mkdir(parents=True)
    (ctx / "pkg" / "a.txt").write_text("from tar\n")
    with tarfile.open(ctx / "bundle.tar.gz", "w:gz") as t:
        t.add(ctx / "pkg" / "a.txt", arcname="pkg/a.txt")
    df = ("FROM sample:latest\n"
          "ADD bundle.tar.gz /opt/\n"
          "COPY --chown=1000:1000 --chmod=700 pkg/a.txt /home/a.txt\n")
    write(ctx, {"Dockerfile": df})
    build(g, ctx, "-t", "add:1")
    assert g.run("run", "--rm", "add:1", "cat", "/opt/pkg/a.txt").out == "from tar\n"
    st = g.run("run", "--rm", "add:1", "stat", "-c", "%u:%g %a", "/home/a.txt").out.strip()
    assert st == "1000:1000 700"


def test_heredoc_shell_and_healthcheck(bb):
    g, _, tmp = bb
    df = ("FROM sample:latest\n"
          "RUN <<EOF\n"
          "echo one > /h1\n"
          "echo two >> /h1\n"
          "EOF\n"
          "SHELL [\"/bin/sh\", \"-ec\"]\n"
          "RUN echo shelled > /h2\n"
          "HEALTHCHECK --interval=30s --retries=2 CMD true\n"
          "STOPSIGNAL SIGINT\n")
    ctx = write(tmp / "ctx", {"Dockerfile": df})
    build(g, ctx, "-t", "hd:1")
    assert g.run("run", "--rm", "hd:1", "cat", "/h1", "/h2").out == "one\ntwo\nshelled\n"
    c = inspect(g, "hd:1")["config"]
    assert c["Healthcheck"] == {"Test": ["CMD-SHELL", "true"], "Interval": 30000000000,
                                "Retries": 2}
    assert c["StopSignal"] == "SIGINT" and c["Shell"] == ["/bin/sh", "-ec"]


def test_onbuild_triggers_run_in_the_child(bb):
    g, _, tmp = bb
    ctx = write(tmp / "ctx", {"Dockerfile": "FROM sample:latest\nONBUILD RUN touch /triggered\n"})
    build(g, ctx, "-t", "parent:1")
    write(ctx, {"Dockerfile": "FROM parent:1\nRUN true\n"})
    build(g, ctx, "-t", "child:1")
    assert g.run("run", "--rm", "child:1", "test", "-e", "/triggered", check=False).code == 0
    assert g.run("run", "--rm", "parent:1", "test", "-e", "/triggered", check=False).code == 1


def test_deleted_files_become_whiteouts(bb):
    g, _, tmp = bb
    df = ("FROM sample:latest\n"
          "RUN mkdir /d && echo a > /d/a && echo b > /d/b\n"
          "RUN rm /d/a\n")
    ctx = write(tmp / "ctx", {"Dockerfile": df})
    build(g, ctx, "-t", "wh:1")
    assert g.run("run", "--rm", "wh:1", "ls", "/d").out.split() == ["b"]


def test_iidfile_and_quiet(bb):
    g, _, tmp = bb
    ctx = write(tmp / "ctx", {"Dockerfile": "FROM sample:latest\nENV A=1\n"})
    iid = tmp / "iid"
    r = build(g, ctx, "-q", "--iidfile", str(iid))
    assert r.err == "" and iid.read_text() == r.out.strip()


def test_build_cache_in_system_df_and_prune(bb):
    g, _, tmp = bb
    ctx = write(tmp / "ctx", {"Dockerfile": "FROM sample:latest\nRUN echo x > /x\n"})
    build(g, ctx)
    df = json.loads(g.run("system", "df", "--json").out)
    assert df["build_cache"]["steps"] >= 1 and df["build_cache"]["bytes"] > 0
    g.run("system", "prune")  # docker's: the build cache stays without --build-cache
    df = json.loads(g.run("system", "df", "--json").out)
    assert df["build_cache"]["steps"] >= 1
    assert "  cached" in build(g, ctx).err  # and still serves (its layers were kept)
    r = g.run("system", "prune", "--build-cache")
    assert "Deleted build cache objects:" in r.out and "Total reclaimed space: " in r.out, r.out
    df = json.loads(g.run("system", "df", "--json").out)
    assert df["build_cache"]["steps"] == 0
    assert "  cached" not in build(g, ctx).err  # the cache is gone; the build still works


def test_rootless_build_uses_fake_root(rootless, mk):
    g = rootless
    load_busybox(g, mk, g.base)
    ctx = Path(g.base) / "ctx"
    ctx.mkdir()
    write(ctx, {"Dockerfile": ("FROM sample:latest\n"
                               "RUN touch /f && chown 5:5 /f && mknod /dev/x c 1 3; "
                               "echo ok > /ok\n"
                               "COPY a.txt /a.txt\n"),
                "a.txt": "a\n"})
    os.chown(ctx, 65534, 65534)
    r = g.run("build", "-t", "rl:1", str(ctx))
    assert "RUN steps ran as fake-root" in r.err, r
    assert g.run("run", "--rm", "rl:1", "cat", "/ok", "/a.txt").out == "ok\na\n"
    # the store's tree is the caller's; the layer says root owns what RUN made
    out = Path(g.base) / "rl.tar"
    g.run("save", "-o", str(out), "rl:1")
    owners = {}
    with tarfile.open(out) as t:
        for m in t.getmembers():
            if m.name.endswith(".tar"):
                with tarfile.open(fileobj=t.extractfile(m)) as lt:
                    owners.update({e.name: (e.uid, e.gid) for e in lt.getmembers()})
    # what RUN made is root's in the layer (the one mapped id), never the caller's uid
    assert owners["ok"] == (0, 0) and owners["f"] == (0, 0) and owners["a.txt"] == (0, 0)


PARALLEL = """\
FROM sample:latest AS a
RUN --mount=type=cache,id=sync,target=/sync touch /sync/a-{n} \\
    && for i in $(seq 50); do [ -e /sync/b-{n} ] && exit 0; sleep 0.1; done; exit 1
RUN echo a > /a
FROM sample:latest AS b
RUN --mount=type=cache,id=sync,target=/sync touch /sync/b-{n} \\
    && for i in $(seq 50); do [ -e /sync/a-{n} ] && exit 0; sleep 0.1; done; exit 1
RUN echo b > /b
FROM sample:latest
COPY --from=a /a /a
COPY --from=b /b /b
"""


def test_independent_stages_build_at_once(bb):
    """Stages a and b each wait for the other's marker: the build succeeds only when they run
    at the same time (--jobs 2); one at a time (--jobs 1) the first one gives up."""
    g, _, tmp = bb
    ctx = write(tmp / "ctx", {"Dockerfile": PARALLEL.format(n=1)})
    r = build(g, ctx, "--jobs", "2", "-t", "par:1")
    assert g.run("run", "--rm", "par:1", "cat", "/a", "/b").out == "a\nb\n"
    assert "[1/9] FROM sample:latest AS a" in r.err and "[4/9] FROM sample:latest AS b" in r.err
    write(ctx, {"Dockerfile": PARALLEL.format(n=2)})
    r = build(g, ctx, "--jobs", "1", check=False)
    assert r.code == 125 and "exit status 1" in r.err


@pytest.fixture
def http_files(tmp_path):
    """A local HTTP server over tmp_path/www (Python's http.server)."""
    import http.server
    import threading
    www = tmp_path / "www"
    www.mkdir()
    handler = lambda *a, **kw: http.server.SimpleHTTPRequestHandler(*a, directory=str(www), **kw)
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield www, f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()


def test_add_url_fetches_checks_and_caches(bb, http_files):
    import hashlib
    g, _, tmp = bb
    www, base = http_files
    (www / "tool.tar.gz").write_bytes(b"not extracted\n")
    good = "sha256:" + hashlib.sha256(b"not extracted\n").hexdigest()
    df = f"FROM sample:latest\nADD --checksum={good} {base}/tool.tar.gz /dl/\nRUN cat /dl/*\n"
    ctx = write(tmp / "ctx", {"Dockerfile": df})
    build(g, ctx, "-t", "url:1")
    st = g.run("run", "--rm", "url:1", "stat", "-c", "%a %u", "/dl/tool.tar.gz").out.strip()
    assert st == "600 0"  # as BuildKit: mode 0600, root's, a remote archive is not extracted
    assert g.run("run", "--rm", "url:1", "cat", "/dl/tool.tar.gz").out == "not extracted\n"
    assert build(g, ctx).err.count("  cached") == 2  # same bytes: a hit
    (www / "tool.tar.gz").write_bytes(b"changed\n")
    r = build(g, ctx, check=False)
    assert r.code == 4 and "checksum mismatch" in r.err, r
    write(ctx, {"Dockerfile": f"FROM sample:latest\nADD {base}/missing /x\n"})
    r = build(g, ctx, check=False)
    assert r.code == 8 and "HTTP 404" in r.err, r


def test_a_killed_build_breaks_nothing(bb):
    g, _, tmp = bb
    # sleep 39: a command line no other test runs (they may run beside this one, pytest -n)
    ctx = write(tmp / "ctx", {"Dockerfile": "FROM sample:latest\nRUN echo $$ > /pid; sleep 39\n"})
    p = g.popen("build", "-t", "killed:1", str(ctx), stdout=subprocess.PIPE,
                stderr=subprocess.PIPE)
    deadline = time.time() + 20
    while not any(l.strip() == "sleep 39" for l in _proc_cmdlines()):
        assert time.time() < deadline and p.poll() is None
        time.sleep(0.05)
    p.kill()  # SIGKILL: no cleanup of its own
    p.wait()
    deadline = time.time() + 10  # the container dies with its PID namespace
    while any(l.strip() == "sleep 39" for l in _proc_cmdlines()):
        assert time.time() < deadline, "the RUN step outlived the killed build"
        time.sleep(0.05)
    assert "docker.io/library/killed:1" not in g.refs()
    write(ctx, {"Dockerfile": "FROM sample:latest\nRUN echo done > /d\n"})
    build(g, ctx, "-t", "after:1")  # the next build works
    assert g.run("run", "--rm", "after:1", "cat", "/d").out == "done\n"
    g.run("system", "prune")  # and prune removes what the killed one left
    assert not any(r.startswith("localhost/gantry-slim-check") for r in g.refs())
    assert not list((g.root / "tmp").glob("build-*"))


def _proc_cmdlines():
    out = []
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                out.append((p / "cmdline").read_bytes().replace(b"\0", b" ").decode())
            except OSError:
                pass
    return out


def test_damaged_cache_is_one_clear_line(bb):
    g, _, tmp = bb
    ctx = write(tmp / "ctx", {"Dockerfile": "FROM sample:latest\nRUN echo x > /x\n"})
    (g.root / "build-cache").mkdir(parents=True)
    (g.root / "build-cache" / "steps").write_text("not a directory")
    r = build(g, ctx, check=False)
    assert r.code == 6 and "build cache" in r.err and "damaged" in r.err, r
    assert "gantry builder prune" in r.err
    g.run("builder", "prune")
    build(g, ctx)
    # an entry that is not JSON is a miss, not an error
    for f in (g.root / "build-cache" / "steps").iterdir():
        f.write_text("{broken")
    assert "  cached" not in build(g, ctx).err


def test_lint_first_and_analyze_summary(bb):
    g, _, tmp = bb
    ctx = write(tmp / "ctx", {"Dockerfile": "FROM sample:latest\nRUN echo x > /x\n"})
    r = build(g, ctx)
    assert "GL003" in r.err  # lint's finding on the moving tag, before the steps
    assert "efficiency" in r.err and "layers," in r.err  # analyze's summary of the result
    assert build(g, ctx, "--no-lint").err.count("GL003") == 0
    bad = write(tmp / "bad", {"Dockerfile": "FROM nvidia/cuda:12.4.1-devel-ubuntu22.04\n"
                                            "RUN pip install torch==2.3.0+cu118\n"})
    r = build(g, bad, "--lint-fail", check=False)
    assert r.code == 4 and "gantry lint found errors" in r.err, r


def test_bind_mount_source_cannot_leave_the_context(bb):
    """A context's symbolic link to / (or ../..) as a RUN bind source binds the context's own
    directory, resolved in-root: the host's files never reach the build (security.md: symlinks
    in untrusted input)."""
    g, _, tmp = bb
    ctx = write(tmp / "ctx", {"Dockerfile": (
        "FROM sample:latest\n"
        "RUN --mount=type=bind,source=escape,target=/h ls /h > /abs\n"
        "RUN --mount=type=bind,source=up,target=/h ls /h > /rel\n")})
    (ctx / "escape").symlink_to("/")
    (ctx / "up").symlink_to("../../../../../../..")
    build(g, ctx, "-t", "esc:1")
    listed = g.run("run", "--rm", "esc:1", "cat", "/abs", "/rel").out.split()
    assert sorted(listed) == ["Dockerfile", "Dockerfile", "escape", "escape", "up", "up"], listed
    # the host's /etc through the link is the context's etc/, which is not there
    write(ctx, {"Dockerfile": "FROM sample:latest\n"
                              "RUN --mount=type=bind,source=up/etc,target=/h cat /h/hostname\n"})
    r = build(g, ctx, check=False)
    assert r.code == 4 and "bind source up/etc does not exist" in r.err, r


def test_unsupported_syntax_is_refused_before_any_step_runs(bb):
    g, _, tmp = bb
    for bad, needle in [("COPY --parents a /b", "--parents"),
                        ("RUN --mount=type=ssh true", "type=ssh"),
                        ("RUN --security=insecure true", "--security=insecure")]:
        ctx = write(tmp / "ctx", {"Dockerfile": f"FROM sample:latest\nRUN echo ran\n{bad}\n"})
        r = build(g, ctx, check=False)
        assert r.code in (4, 7) and "Dockerfile:3:1: " in r.err and needle in r.err, r
        assert "[2/3] RUN echo ran" not in r.err and "ran\n" not in r.err  # nothing ran
