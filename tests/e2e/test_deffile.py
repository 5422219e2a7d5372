"""`gantry build -f FILE.def` (issue 53): Apptainer definition files built by gantry's own
builder (the Dockerfile path's stages, RUN steps, COPY layers and cache) into a store image, or
a SIF with -o. The recipes are tests/fixtures/deffiles/, shaped after the Apptainer
documentation's CUDA, ROCm, Python, MPI and multi-stage examples on the busybox sample image: built
offline, then run as `apptainer run`/`exec` would (the runscript, %environment sourced).
Sections gantry does not honour are refused with FILE:LINE and a sentence."""
import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from conftest import load_busybox, need_tool

DEFS = Path(__file__).resolve().parents[1] / "fixtures" / "deffiles"


@pytest.fixture
def bb(g, mk, tmp_path):
    load_busybox(g, mk, tmp_path)
    return g, tmp_path


def config(g, ref):
    return json.loads(g.run("inspect", "--json", ref).out)[0]["config"]


def test_recipe_corpus_builds_and_runs(bb):
    g, tmp = bb
    # CUDA-shaped: %arguments overridden by --build-arg, %environment, %runscript, %labels, %help
    r = g.run("build", "-f", DEFS / "cuda.def", "--build-arg", "CUDA_ARCH=sm_90", "-t", "cuda")
    assert "RUN steps ran as" in r.err, r
    assert g.run("run", "--rm", "cuda").out == "nvcc 12.4 for sm_90: \n"
    assert g.run("run", "--rm", "cuda", "/.singularity.d/runscript", "-o", "x").out == \
        "nvcc 12.4 for sm_90: -o x\n"
    c = config(g, "cuda")
    assert c["Labels"]["org.example.cuda.arch"] == "sm_90"
    assert c["Cmd"] == ["/.singularity.d/runscript"]
    files = g.run("run", "--rm", "cuda", "cat", "/.singularity.d/labels.json",
                  "/.singularity.d/runscript.help").out
    assert '"org.example.gpu.vendor": "nvidia"' in files and "compiles for sm_90" in files
    # exec-like: another command, with %environment applied
    assert g.run("run", "--rm", "cuda", "sh", "-c", "echo $CUDA_HOME").out == \
        "/usr/local/cuda-12.4\n"

    # ROCm-shaped: several --build-arg values, %test with %environment applied, a link in %post
    r = g.run("build", "-f", DEFS / "rocm.def", "--build-arg", "GPU_TARGETS=gfx90a,gfx942",
              "-t", "rocm")
    assert "[test] /.singularity.d/test" in r.err, r
    assert g.run("run", "--rm", "rocm", "/.singularity.d/runscript", "k.hip").out == \
        "hipcc 6.1.0 --offload-arch=gfx90a,gfx942 k.hip\n"
    assert g.run("run", "--rm", "rocm", "readlink", "/opt/rocm").out == "/opt/rocm-6.1.0\n"
    assert config(g, "rocm")["Labels"]["org.example.rocm.targets"] == "gfx90a,gfx942"

    # Python-shaped: %files relative to the current directory (no CONTEXT given), %test run
    # at the end of the build, %startscript stored
    ctx = tmp / "py"
    ctx.mkdir()
    (ctx / "app.py").write_text("print('app')\n")
    shutil.copy(DEFS / "python.def", ctx / "python.def")
    proc = subprocess.run(g.cmd("build", "-f", "python.def", "-t", "py"), cwd=ctx,
                          env=g.environ(), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "[test] /.singularity.d/test" in proc.stderr and "passed" in proc.stderr
    out = g.run("run", "--rm", "py", "/.singularity.d/runscript", "a", "b").out
    assert out == "hello from python: built with print('app') args=a b\n"
    assert g.run("run", "--rm", "py", "/.singularity.d/startscript").out == "service started\n"
    assert config(g, "py")["Labels"] == {"Author": "gantry-tests", "Version": "v1.0"}

    # MPI-shaped: docker-daemon (the store), %post -c, no %runscript: the command at run time
    # gets %environment's PATH
    # on stdin (recognised by its Bootstrap: line), with a CONTEXT as a Dockerfile on stdin
    g.run("build", "-f", "-", "-t", "mpi", ".", input=(DEFS / "mpi.def").read_text())
    assert g.run("run", "--rm", "mpi", "mpirun", "-n", "2", "app").out == \
        "mpirun 4.1.5 -n 2 app\n"
    assert config(g, "mpi")["Cmd"] == ["/bin/sh"]  # the base's, kept
    # what %post appended to $APPTAINER_ENVIRONMENT is sourced too
    assert g.run("run", "--rm", "mpi", "sh", "-c", "echo $MPI_BUILT").out == "4.1.5\n"


def test_multistage_files_from_and_sif_output(bb):
    need_tool("siftool")
    g, tmp = bb
    sif = tmp / "app.sif"
    g.run("build", "-f", DEFS / "multistage.def", "-o", sif, "-t", "ms")
    assert g.run("run", "--rm", "ms").out == "compiled in the build stage\n"
    assert "junk" not in g.run("run", "--rm", "ms", "ls", "/usr/local/share").out
    listing = subprocess.run(["siftool", "list", str(sif)], check=True, capture_output=True,
                             text=True).stdout
    assert "Squashfs" in listing and "System" in listing, listing
    assert g.run("run", "--rm", sif).out == "compiled in the build stage\n"
    # the runscript in the SIF is the definition's (Apptainer runs that file)
    assert "cat /usr/local/share/app.txt" in g.run(
        "run", "--rm", sif, "cat", "/.singularity.d/runscript").out
    # localimage: a SIF as the base of another definition
    d = tmp / "local.def"
    d.write_text(f"Bootstrap: localimage\nFrom: {sif}\n%runscript\n  echo again\n")
    g.run("build", "-f", d, "-t", "local", tmp)
    assert g.run("run", "--rm", "local", "cat", "/usr/local/share/app.txt").out == \
        "compiled in the build stage\n"
    assert g.run("run", "--rm", "local").out == "again\n"
    # docker-archive: the busybox archive load_busybox wrote, loaded as gantry load loads it
    d.write_text(f"Bootstrap: docker-archive\nFrom: {tmp / 'bb.tar'}\n"
                 "%runscript\n  echo archived\n")
    g.run("build", "-f", d, "-t", "archived", tmp)
    assert g.run("run", "--rm", "archived").out == "archived\n"


def test_repeated_sections_are_concatenated(bb):
    # HPC Container Maker's output: one %post per building block, concatenated as Apptainer's
    # parser does; built and run through `gantry apptainer` (build delegates to gantry build)
    g, tmp = bb
    # and %files from a host path outside the build context (the working directory), as
    # Apptainer reads them
    (tmp / "host.txt").write_text("from the host\n")
    d = tmp / "hpccm.def"
    d.write_text("Bootstrap: docker\nFrom: sample:latest\n"
                 "%post\n  cp /.singularity.d/env/10-docker2singularity.sh /env-in-post\n"
                 "  echo one > /a\n"
                 "%environment\n  export A=1\n%post\n  echo two >> /a\n%post\n  cat /a > /b\n"
                 f"%files\n  {tmp}/host.txt /opt/host.txt\n"
                 "%setup\n  # as the user, rootless, before %files\n"
                 "  mkdir -p $APPTAINER_ROOTFS/opt/s && id -u > $SINGULARITY_ROOTFS/opt/s/uid\n"
                 f"  echo setup >> {tmp}/order\n"
                 # Apptainer 1.x runs %pre on the host too, first (build.go, Full)
                 f"%pre\n  echo pre >> {tmp}/order; mkdir $APPTAINER_ROOTFS/p\n"
                 "  echo pre > $APPTAINER_ROOTFS/p/pre\n"
                 "%runscript\n  cat /b /opt/host.txt /opt/s/uid /p/pre; echo \"A=$A\"\n")
    out = tmp / "hpccm.sif"
    g.run("apptainer", "build", out, d)
    assert (tmp / "order").read_text() == "pre\nsetup\n"
    assert g.run("apptainer", "run", out).out == \
        f"one\ntwo\nfrom the host\n{os.geteuid()}\npre\nA=1\n"
    # Apptainer's docker environment file was there for %post (the base image's Env)
    env = g.run("apptainer", "exec", out, "cat", "/env-in-post").out
    base_env = config(g, "sample:latest")["Env"]
    assert env.startswith("#!/bin/sh\nexport PATH=\"") and base_env, env
    assert env.count("\n") == 1 + len(base_env), (env, base_env)
    # the definition file kept in the image as Apptainer's build keeps it
    assert g.run("apptainer", "inspect", "--deffile", out).out == d.read_text()
    assert "already exists" in g.fail("apptainer", "build", out, d, code=5).err
    # an image of gantry's store as a sandbox's source (saved as a SIF, then unpacked)
    sb = tmp / "sb"
    g.run("apptainer", "build", "--sandbox", sb, "sample:latest")
    assert (sb / ".singularity.d" / "env" / "10-docker2singularity.sh").is_file()
    assert g.run("apptainer", "exec", sb, "sh", "-c", "echo from-store").out == "from-store\n"
    # ... and as a SIF's (saved), and a SIF as one's (rebuilt through a sandbox, as Apptainer's)
    store_sif, again = tmp / "store.sif", tmp / "again.sif"
    g.run("apptainer", "build", store_sif, "sample:latest")
    g.run("apptainer", "build", again, out)
    assert g.run("apptainer", "exec", store_sif, "sh", "-c", "echo from-store").out == \
        "from-store\n"
    assert g.run("apptainer", "run", again).out == \
        f"one\ntwo\nfrom the host\n{os.geteuid()}\npre\nA=1\n"
    assert "already exists" in g.fail("apptainer", "build", again, out, code=5).err
    g.run("apptainer", "build", "--force", again, store_sif)
    assert g.run("apptainer", "exec", again, "cat", "/env-in-post", check=False).code == 1


def test_scif_apps_are_laid_out_as_apptainers(bb):
    # SCIF apps (%app* sections) as Apptainer's build lays them out
    # (internal/pkg/build/apps/apps.go): /scif/apps/NAME with its metadata, %appinstall run
    # after %post in the app's directory with its SCIF_ variables, %appfiles copied into it
    g, tmp = bb
    (tmp / "app-host.txt").write_text("from the host\n")
    d = tmp / "scif.def"
    d.write_text("Bootstrap: docker\nFrom: sample:latest\n"
                 "%appinstall foo\n  echo \"in $(pwd) as $SCIF_APPNAME\" > built.txt\n"
                 "%apprun foo\n  echo \"foo runs $*\"\n"
                 "%appenv foo\n  export FOO_ENV=1\n"
                 "%applabels foo\n  Maintainer someone\n"
                 f"%appfiles foo\n  {tmp}/app-host.txt host.txt\n"
                 "%apphelp foo\n  Foo helps.\n"
                 "%apptest foo\n  test -f \"$SCIF_APPROOT/built.txt\" && echo \"$SCIF_APPNAME tested\"\n"
                 "%post\n  echo post > /post.txt\n"
                 "%appinstall bar\n  cat /post.txt > bar-installed\n"
                 # a daemon that forks and returns, writing where it was started
                 "%appstart foo\n  sleep 600 & echo \"$SCIF_APPNAME $FOO_ENV $*\" > \"$1/started\"\n"
                 "%runscript\n  echo main\n")
    out = tmp / "scif.sif"
    g.run("apptainer", "build", out, d)
    show = ("cat /scif/apps/foo/built.txt /scif/apps/foo/host.txt /scif/apps/bar/bar-installed "
            "/scif/apps/foo/scif/labels.json; echo; sh /scif/apps/foo/scif/runscript a; "
            "echo \"$SCIF_APPROOT_foo $SCIF_APPRUN_foo $SCIF_APPENV_foo\"; "
            "cat /scif/apps/foo/scif/runscript.help; ls -d /scif/data/bar/input /scif/apps/bar/bin")
    lines = g.run("apptainer", "exec", out, "sh", "-c", show).out.splitlines()
    assert lines[:3] == ["in /scif/apps/foo as foo", "from the host", "post"], lines
    assert json.loads("\n".join(lines[3:7])) == {"Maintainer": "someone", "SCIF_APP_NAME": "foo"}
    assert lines[7:] == ["foo runs a",
                         "/scif/apps/foo /scif/apps/foo/scif/runscript "
                         "/scif/apps/foo/scif/env/90-environment.sh",
                         "  Foo helps.", "/scif/apps/bar/bin", "/scif/data/bar/input"], lines
    assert g.run("apptainer", "run", out).out == "main\n"
    # --app: the app's environment (Apptainer's 95-apps.sh) and its runscript or test
    assert g.run("apptainer", "run", "--app", "foo", out, "a").out == "foo runs a\n"
    lines = g.run("apptainer", "exec", "--app", "foo", out, "sh", "-c",
                  'echo "$FOO_ENV $SCIF_APPNAME $SCIF_APPROOT"; echo "$PATH"').out.splitlines()
    assert lines[0] == "1 foo /scif/apps/foo"
    assert lines[1].startswith("/scif/apps/foo/bin:/scif/apps/foo:"), lines
    assert g.run("apptainer", "test", "--app", "foo", out).out == "foo tested\n"
    r = g.fail("apptainer", "run", "--app", "bar", out)
    assert "No Apptainer runscript for contained app: bar" in r.out + r.err
    r = g.fail("apptainer", "run", "--app", "nope", out)
    assert "Could not locate the container application: nope" in r.out + r.err
    assert g.run("apptainer", "inspect", "--list-apps", out).out == "bar\nfoo\n"
    assert g.run("apptainer", "inspect", "--app", "foo", out).out == \
        "Maintainer: someone\nSCIF_APP_NAME: foo\n"
    assert g.run("apptainer", "run-help", "--app", "foo", out).out == "  Foo helps.\n"
    assert "has no app nope" in g.fail("apptainer", "inspect", "--app", "nope", out, code=3).err
    # instance start --app: the app's %appstart (Apptainer's action script, start)
    name = f"app{os.getpid()}"
    g.run("apptainer", "instance", "start", "--app", "foo", out, name, tmp)
    try:
        started, deadline = tmp / "started", time.monotonic() + 30
        while not (started.exists() and started.read_text().endswith("\n")):
            assert time.monotonic() < deadline, "the app's startscript never ran"
            time.sleep(0.05)
        assert started.read_text() == f"foo 1 {tmp}\n"
        assert name in g.run("apptainer", "instance", "list").out
    finally:
        g.run("apptainer", "instance", "stop", "-t", "1", name)


REFUSED = [
    ("%setup\n  cat $APPTAINER_ROOTFS/etc/passwd\n", 125, "x.def:3: %setup failed (exit 1)"),
    ("%pre\n  exit 4\n", 125, "x.def:3: %pre failed (exit 4)"),
    ("%apprun\n  true\n", 4, "x.def:3: %apprun needs the app's name"),
    ("%bogus\n", 4, "x.def:3: unknown section %bogus"),
    ("%post\n  echo {{ NOPE }}\n", 4, "x.def:4: the build variable NOPE is not defined"),
    ("%files from nowhere\n  /a /b\n", 4, "x.def:3: %files from nowhere"),
    ("%files\n  missing.txt /x\n", 3, "x.def:4:1: "),
]


def test_refusals_name_the_line(bb):
    g, tmp = bb
    for body, code, says in REFUSED:
        d = tmp / "x.def"
        d.write_text("Bootstrap: docker\nFrom: sample:latest\n" + body)
        r = g.fail("build", "-f", d, tmp, code=code)
        assert says in r.err, (body, r.err)
    d.write_text("Bootstrap: library\nFrom: alpine\n")
    assert "bootstrap agent library is not supported" in g.fail("build", "-f", d, code=7).err
    d.write_text("Bootstrap: docker-daemon\nFrom: not-here:1\n")
    assert "not in gantry's store" in g.fail("build", "-f", d, code=3).err
    d.write_text("Bootstrap: docker\nFrom: sample:latest\n")
    assert "--target is for Dockerfiles" in g.fail("build", "-f", d, "--target", "x",
                                                    code=2).err
    assert "writes a SIF file" in g.fail("build", "-f", d, "-o", tmp / "x.tar", code=2).err
    assert "--lint-fail lints Dockerfiles" in g.fail("build", "-f", d, "--lint-fail", code=2).err
    # a failing %test fails the build (the step's status, as a RUN step's) and tags nothing
    d.write_text("Bootstrap: docker\nFrom: sample:latest\n%test\n  exit 3\n")
    r = g.fail("build", "-f", d, "-t", "tested", code=125)
    assert "exit status 3" in r.err
    assert not any("tested" in ref for ref in g.refs())
    # --notest skips it
    g.run("build", "-f", d, "-t", "tested", "--notest")


def test_rootless_definition_build(rootless, mk):
    """A rootless caller (fake-root RUN steps): the /.singularity.d files and %files are root's
    in the image, the %test runs, the runscript runs with %environment applied."""
    g = rootless
    load_busybox(g, mk, g.base)
    ctx = Path(g.base) / "ctx"
    ctx.mkdir()
    (ctx / "app.py").write_text("print('app')\n")
    shutil.copy(DEFS / "python.def", ctx / "python.def")
    for p in (ctx, ctx / "app.py", ctx / "python.def"):
        os.chown(p, 65534, 65534)
    r = g.run("build", "-f", ctx / "python.def", "-t", "rl-def", ctx)
    assert "RUN steps ran as fake-root" in r.err and "passed" in r.err, r
    assert g.run("run", "--rm", "rl-def").out == \
        "hello from python: built with print('app') args=\n"
    assert g.run("run", "--rm", "rl-def", "stat", "-c", "%u %a",
                 "/.singularity.d/runscript", "/opt/app/app.py").out == "0 755\n0 644\n"
