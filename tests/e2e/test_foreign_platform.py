"""Images of another platform (issue 80): `run` of an arm64 image on this amd64 host through the
kernel's binfmt_misc handler (qemu-user-static's qemu-aarch64, registered with the F flag as
Debian registers it), as docker and podman run them, as root and rootless; the refusal naming
what is missing and the remedy where no handler runs them (hosts simulated with
GANTRY_PROC_ROOT/sys/fs/binfmt_misc); `run --platform`, which pulls the platform asked for as
docker does; doctor's PLATFORM-EMULATION and IMAGE-ELF-PLATFORM (an image whose ELF files are
not of the platform its config says).

The arm64 program is built here from tests/fixtures/foreign/aarch64_hello.c (clang, lld): a
static binary with no libc that prints uname's machine."""
import contextlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import host_lock, need_tool
from registry_common import INSECURE, publish
from registry_common import _tools, gr, reg  # noqa: F401 (fixtures)

HERE = Path(__file__).resolve().parent
SOURCE = HERE.parent / "fixtures" / "foreign" / "aarch64_hello.c"
BINFMT = Path("/proc/sys/fs/binfmt_misc")
QEMU_CONF = Path("/usr/lib/binfmt.d/qemu-aarch64.conf")  # qemu-user-static's registration line
INTERPRETER = "/usr/libexec/qemu-binfmt/aarch64-binfmt-P"


@pytest.fixture(scope="module")
def hello(tmp_path_factory):
    need_tool("clang")
    need_tool("ld.lld")
    out = tmp_path_factory.mktemp("aarch64") / "hello"
    subprocess.run(["clang", "--target=aarch64-linux-gnu", "-O1", "-nostdlib", "-static",
                    "-ffreestanding", "-fno-stack-protector", "-fuse-ld=lld", SOURCE, "-o", out],
                   check=True)
    return out.read_bytes()


@pytest.fixture(scope="module")
def handler():
    """qemu-aarch64 registered with binfmt_misc for the module (as qemu-user-static's
    systemd-binfmt would); unregistered after it when this fixture registered it."""
    if os.geteuid() != 0:
        pytest.skip("registering a binfmt_misc handler needs root")
    need_tool("qemu-aarch64-static")
    with host_lock("binfmt"):
        if not (BINFMT / "status").exists():
            subprocess.run(["mount", "-t", "binfmt_misc", "binfmt_misc", BINFMT], check=True)
        mine = not (BINFMT / "qemu-aarch64").exists()
        if mine:
            (BINFMT / "register").write_text(QEMU_CONF.read_text().strip())
        assert (BINFMT / "qemu-aarch64").read_text().startswith("enabled\n")
    yield "qemu-aarch64"
    if mine:
        with host_lock("binfmt"), contextlib.suppress(FileNotFoundError):
            (BINFMT / "qemu-aarch64").write_text("-1")


def arm_image(mk, hello, busybox=False, arch="arm64"):
    entries = [mk.Entry.file("hello", hello, 0o755)]
    if busybox:
        return mk.busybox_image(arch=arch, extra_layers=[mk.Layer(entries)], entrypoint=["/hello"])
    return mk.Image([mk.Layer(entries)], architecture=arch, entrypoint=["/hello"])


def load(g, mk, tmp_path, image, name):
    archive = tmp_path / f"{name.replace(':', '-')}.tar"
    mk.write_docker_archive(archive, [(image, [name])])
    os.chmod(archive, 0o644)
    g.run("load", archive)


def simulated_proc(tmp_path, entries=None):
    """A GANTRY_PROC_ROOT whose binfmt_misc holds ENTRIES (name -> text), or is not mounted
    (None); this host's cpuinfo beside it, which run's CPU check reads."""
    proc = tmp_path / "proc"
    (proc / "sys/fs/binfmt_misc").mkdir(parents=True)
    shutil.copy("/proc/cpuinfo", proc / "cpuinfo")
    if entries is not None:
        (proc / "sys/fs/binfmt_misc/status").write_text("enabled\n")
        for name, text in entries.items():
            (proc / "sys/fs/binfmt_misc" / name).write_text(text)
    return proc


def test_arm64_image_runs_under_its_handler(g, mk, tmp_path, hello, handler):
    load(g, mk, tmp_path, arm_image(mk, hello), "arm:1")
    r = g.run("run", "--rm", "arm:1")
    assert r.out == "aarch64\n", r
    assert (f"image arm:1 is built for linux/arm64, this host is linux/amd64: its programs run "
            f"under {INTERPRETER} (binfmt_misc handler {handler})") in r.err, r
    # asked for by name: no warning
    r = g.run("run", "--rm", "--platform", "linux/arm64", "arm:1")
    assert r.out == "aarch64\n" and "is built for" not in r.err, r
    # another platform than the stored image's, with a policy that may not pull
    r = g.fail("run", "--rm", "--pull", "never", "--platform", "linux/amd64", "arm:1", code=125)
    assert "is built for linux/arm64, not the linux/amd64 that --platform asks for" in r.err, r
    assert "gantry pull --platform linux/amd64 arm:1" in r.err, r
    # none of this image (root's containers of other tests share the runtime directory)
    assert g.run("ps", "-a", "-q", "--filter", "ancestor=arm:1").out == ""


def test_arm64_image_runs_rootless(rootless, mk, hello, handler):
    image = arm_image(mk, hello)
    archive = rootless.base / "arm.tar"
    mk.write_docker_archive(archive, [(image, ["arm:1"])])
    os.chmod(archive, 0o644)
    rootless.run("load", archive)
    r = rootless.run("run", "--rm", "--platform", "linux/arm64", "arm:1")
    assert r.out == "aarch64\n", r


@pytest.mark.parametrize("case", ["unmounted", "no-handler", "disabled", "no-F"])
def test_no_handler_is_refused_with_the_remedy(g, mk, tmp_path, hello, case):
    load(g, mk, tmp_path, arm_image(mk, hello), "arm:1")
    qemu = ("enabled\ninterpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P\nflags: POF\n"
            "offset 0\nmagic 7f454c460201010000000000000000000200b700\n"
            "mask ffffffffffffff00fffffffffffffffffeffffff\n")
    python = "enabled\ninterpreter /usr/bin/python3.11\nflags: \noffset 0\nmagic a70d0d0a\n"
    entries, why, fix = {
        "unmounted": (None, "binfmt_misc is not mounted at", "mount binfmt_misc -t binfmt_misc"),
        "no-handler": ({"python3.11": python},
                       "no binfmt_misc handler for linux/arm64 programs is registered",
                       "apt-get install qemu-user-static"),
        "disabled": ({"qemu-aarch64": qemu.replace("enabled", "disabled", 1)},
                     "handler qemu-aarch64 for linux/arm64 programs is disabled", "echo 1 > "),
        "no-F": ({"qemu-aarch64": qemu.replace("POF", "P")}, "(the handler has no F flag)",
                 "register it again with the F (fix binary) flag"),
    }[case]
    g.env["GANTRY_PROC_ROOT"] = str(simulated_proc(tmp_path, entries))
    r = g.fail("run", "--rm", "arm:1", code=125)
    assert "image arm:1 is built for linux/arm64, this host is linux/amd64, and " in r.err, r
    assert why in r.err and fix in r.err, r
    # none of this image (root's containers of other tests share the runtime directory)
    assert g.run("ps", "-a", "-q", "--filter", "ancestor=arm:1").out == ""
    found = findings_of(g, tmp_path, "arm:1")
    assert found["PLATFORM-EMULATION"]["severity"] == "fail" and why in \
        found["PLATFORM-EMULATION"]["message"], found


def test_handler_without_f_runs_the_images_own_emulator(g, mk, tmp_path, hello, handler):
    """A handler without F makes the kernel look its interpreter up in the container at each
    exec: an image that ships the emulator at that path (the way images were made before F)
    runs, named as the image's own; the same image without it is refused (the case above).
    The simulated host's handler names /usr/bin/qemu-aarch64-static; the kernel's own (with F)
    runs the program either way, so what is checked is gantry's decision."""
    emulator = Path("/usr/bin/qemu-aarch64-static").read_bytes()
    image = mk.Image([mk.Layer([mk.Entry.file("hello", hello, 0o755),
                                mk.Entry.dir("usr"), mk.Entry.dir("usr/bin"),
                                mk.Entry.file("usr/bin/qemu-aarch64-static", emulator, 0o755)])],
                     architecture="arm64", entrypoint=["/hello"])
    load(g, mk, tmp_path, image, "own:1")
    qemu = ("enabled\ninterpreter /usr/bin/qemu-aarch64-static\nflags: \n"
            "offset 0\nmagic 7f454c460201010000000000000000000200b700\n"
            "mask ffffffffffffff00fffffffffffffffffeffffff\n")
    g.env["GANTRY_PROC_ROOT"] = str(simulated_proc(tmp_path, {"qemu-aarch64": qemu}))
    r = g.run("run", "--rm", "own:1")
    assert r.out == "aarch64\n", r
    assert "run under /usr/bin/qemu-aarch64-static (the image's own; binfmt_misc handler " \
           "qemu-aarch64)" in r.err, r
    found = findings_of(g, tmp_path, "own:1")
    assert found["PLATFORM-EMULATION"]["severity"] == "warn", found
    assert "(the image's own;" in found["PLATFORM-EMULATION"]["message"], found


def findings_of(g, tmp_path, ref):
    res = g.run("doctor", "--json", ref, "--driver-root", tmp_path / "none", check=False)
    return {f["id"]: f for f in res.json()["findings"]}


def test_doctor_reads_the_platform_of_the_images_files(g, mk, tmp_path, hello, handler):
    load(g, mk, tmp_path, arm_image(mk, hello), "arm:1")
    found = findings_of(g, tmp_path, "arm:1")
    assert found["PLATFORM-EMULATION"]["severity"] == "warn", found
    assert INTERPRETER in found["PLATFORM-EMULATION"]["message"]
    assert found["IMAGE-ELF-PLATFORM"]["severity"] == "pass", found
    # labelled amd64, holding busybox (amd64) and the aarch64 program: the label lies about one
    load(g, mk, tmp_path, arm_image(mk, hello, busybox=True, arch="amd64"), "lie:1")
    found = findings_of(g, tmp_path, "lie:1")
    assert "PLATFORM-EMULATION" not in found
    f = found["IMAGE-ELF-PLATFORM"]
    assert f["severity"] == "fail", found
    assert "1 ELF file(s) of the image are not built for the linux/amd64 its config says: " \
           "1 for arm64 (/hello); 1 are" in f["message"], f


def test_run_platform_pulls_the_platform_asked_for(gr, reg, mk, tmp_path, handler):
    # the index's arm64 image holds amd64 busybox bytes (mkimage): it runs here either way, so
    # what is checked is which image the tag gets
    index = publish(mk, tmp_path, f"{reg.addr}/multi/app:latest", mk.multiarch_index(),
                    all_platforms=True)
    ref = f"{reg.addr}/multi/app:latest"
    r = gr.run("run", "--rm", INSECURE, "--platform", "linux/arm64", ref, "echo", "hi")
    assert r.out == "hi\n", r
    assert gr.refs()[ref] == index.manifests["arm64"]
    r = gr.run("run", "--rm", INSECURE, "--platform", "linux/amd64", ref, "echo", "hi")
    assert f"image {ref} in the store is built for linux/arm64/v8: pulling it for " \
           "linux/amd64" in r.err, r
    # the name holds both now (the host's its default); arm64 runs without a pull
    assert gr.refs()[ref] == index.manifests["amd64"]
    assert platforms_of(gr, ref) == {"linux/amd64": index.manifests["amd64"],
                                     "linux/arm64/v8": index.manifests["arm64"]}
    r = gr.run("run", "--rm", "--pull", "never", "--platform", "linux/arm64", ref, "echo", "hi")
    assert r.out == "hi\n" and "pulling" not in r.err, r
    r = gr.run("rmi", "--platform", "linux/arm64", ref)
    assert f"Untagged: {ref} (linux/arm64)" in r.out, r
    assert platforms_of(gr, ref) == {"linux/amd64": index.manifests["amd64"]}


def platforms_of(g, ref, key="digest"):
    """{platform: manifest digest (or KEY)} of the images REF holds, from `images --json`."""
    return {i["platform"]: i[key] for i in g.run("images", "--json").json()
            if i["reference"] == ref}


CROSS = """\
FROM --platform=$BUILDPLATFORM sample:latest AS tools
ARG TARGETARCH BUILDARCH
RUN echo "target=$TARGETARCH build=$BUILDARCH" > /made && cat /made
FROM scratch
ARG TARGETARCH
LABEL arch=$TARGETARCH
COPY --from=tools /made /made
COPY hello /hello
RUN ["/hello"]
ENTRYPOINT ["/hello"]
"""


def cross_context(tmp_path, hello):
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(CROSS)
    (ctx / "hello").write_bytes(hello)
    (ctx / "hello").chmod(0o755)
    return ctx


def inspect(g, ref):
    return g.run("inspect", "--json", ref).json()[0]


def test_build_for_arm64_runs_its_steps_under_the_handler(g, mk, tmp_path, hello, handler):
    """build --platform linux/arm64: a native tools stage (FROM --platform=$BUILDPLATFORM) and
    an arm64 stage whose RUN step is an aarch64 program, run under qemu-aarch64; the image is
    arm64, with TARGETARCH's label, and runs. The same file for amd64 is another image (the
    cache is per platform); its RUN step runs too, since the kernel hands an aarch64 program
    to the handler whatever the image's label says (doctor's IMAGE-ELF-PLATFORM tells)."""
    mk_img = mk.busybox_image()
    archive = tmp_path / "bb.tar"
    mk.write_docker_archive(archive, [(mk_img, ["sample:latest"])])
    g.run("load", archive)
    ctx = cross_context(tmp_path, hello)
    r = g.run("build", "--progress", "plain", "--platform", "linux/arm64", "-t", "x:arm", ctx)
    assert "target=arm64 build=amd64" in r.err + r.out, r
    assert "aarch64" in r.err + r.out, r  # the RUN step's program, under emulation
    info = inspect(g, "x:arm")
    assert info["platform"] == "linux/arm64" and info["config"]["Labels"]["arch"] == "arm64"
    assert g.run("run", "--rm", "x:arm").out == "aarch64\n"
    r = g.run("build", "--progress", "plain", "--platform", "linux/amd64", "-t", "x:amd", ctx)
    info = inspect(g, "x:amd")
    assert info["platform"] == "linux/amd64" and info["config"]["Labels"]["arch"] == "amd64"
    assert info["id"] != inspect(g, "x:arm")["id"]


def test_build_for_a_platform_nothing_runs_is_refused(g, mk, tmp_path, hello):
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text("FROM scratch\nCOPY hello /hello\nRUN [\"/hello\"]\n")
    (ctx / "hello").write_bytes(hello)
    (ctx / "hello").chmod(0o755)
    g.env["GANTRY_PROC_ROOT"] = str(simulated_proc(tmp_path, {}))
    r = g.fail("build", "--platform", "linux/arm64", "-t", "x:arm", ctx)
    assert "no binfmt_misc handler for linux/arm64 programs is registered" in r.err, r
    assert "apt-get install qemu-user-static" in r.err, r
    assert g.refs() == {}


def test_build_for_two_platforms_makes_one_index(gr, reg, mk, tmp_path, hello, handler):
    """build --platform linux/amd64,linux/arm64: one build each (the tools stage native in
    both), one name holding both, each image labelled with its TARGETARCH; the index pushed to
    a registry, pulled back with --all-platforms, saved and loaded as an OCI archive."""
    archive = tmp_path / "bb.tar"
    mk.write_docker_archive(archive, [(mk.busybox_image(), ["sample:latest"])])
    gr.run("load", archive)
    ctx = cross_context(tmp_path, hello)
    ref = "docker.io/library/x:both"
    r = gr.run("build", "--progress", "plain", "--platform", "linux/amd64,linux/arm64",
               "-t", "x:both", ctx)
    out = r.err + r.out
    assert "target=amd64 build=amd64" in out and "target=arm64 build=amd64" in out, r
    built = platforms_of(gr, ref)
    assert sorted(built) == ["linux/amd64", "linux/arm64"], built
    labels = {p: inspect(gr, d)["config"]["Labels"]["arch"] for p, d in built.items()}
    assert labels == {"linux/amd64": "amd64", "linux/arm64": "arm64"}, labels
    assert inspect(gr, "x:both")["platform"] == "linux/amd64"  # the host's is the default
    assert gr.run("run", "--rm", "--platform", "linux/arm64", "x:both").out == "aarch64\n"
    # the index to a registry, and back
    dest = f"{reg.addr}/multi/x:both"
    r = gr.run("push", INSECURE, "x:both", dest)
    assert f"Pushed image: {dest} (an index of 2 platforms)" in r.out, r
    gr.run("rmi", "x:both")
    r = gr.run("pull", INSECURE, "--all-platforms", dest)
    assert f"Pulled image: {dest} (linux/amd64, linux/arm64)" in r.out, r
    assert platforms_of(gr, dest) == built
    # an OCI archive of the name holds its index; loading it gives the name both again
    saved = tmp_path / "both.tar"
    ids = platforms_of(gr, dest, "id")
    gr.run("save", "--format", "oci-archive", "-o", saved, dest)
    gr.run("rmi", dest)
    gr.run("load", "-i", saved)
    # (the same configs; the manifests are new: save writes the layers the store keeps
    # unpacked uncompressed)
    assert platforms_of(gr, dest, "id") == ids
