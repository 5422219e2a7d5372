"""gantry's Debian packages as an admin gets them (issue 42, docs/packaging.md): `make deb`'s
packages of the tree already built (CPack over the install rules; nothing is compiled here),
installed with dpkg into a fresh Debian 12 root (tests/fixtures/debian_base.py's debootstrap base
with man-db, as an overlay: nothing is copied), used there as a user would, then purged.

Inside the root: `gantry --version`, `man gantry-run`, the bash completion answering partial
commands, `gantry run` of the sample image as an unprivileged user (the root pivoted into, as a
container engine would: the kernel refuses user namespaces in a chroot), the AppArmor profile's
postinst where AppArmor 4 is, and `apt-get purge` leaving no file behind. Outside it, against the
installed tree (the root has no podman, Slurm or zsh): the host's podman with `--runtime
ROOT/usr/bin/gantry-oci`, the host's Slurm 22.05 loading the plugin from its installed path, and
zsh running the zsh completion. lintian runs beside them.
"""
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from conftest import GANTRY, IN_CI, need_tool

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from fixtures import debian_base  # noqa: E402
from fixtures import mkimage  # noqa: E402

BUILD = GANTRY.parent
# What dpkg and the tools it runs write for themselves, and the mounts: not the package's files
NOT_PACKAGE = ("proc", "dev", "sys", "tmp", "run", "var/lib/dpkg", "var/log", "var/cache/man",
               "var/cache/debconf", "var/cache/ldconfig", "var/lib/apt", "var/cache/apt")


def sh(*args, **kw):
    p = subprocess.run([str(a) for a in args], capture_output=True, text=True, **kw)
    assert p.returncode == 0, f"{args}: exit {p.returncode}\n{p.stdout}\n{p.stderr}"
    return p.stdout


@pytest.fixture(scope="module")
def packages():
    """The .debs (cpack over BUILD), and lintian started on them (it takes ~30 s)."""
    need_tool("cpack")
    need_tool("dpkg-deb")
    if not (BUILD / "generated" / "docs.stamp").exists():
        pytest.fail(f"{BUILD} has no generated man pages: build the gantry-docs target "
                    "(make build-gantry does)")
    out = Path(tempfile.mkdtemp(prefix="gantry-deb-"))
    sh("cpack", "-G", "DEB", "-B", out, "--config", BUILD / "CPackConfig.cmake", cwd=BUILD)
    debs = {p.name.split("_")[0]: p for p in out.glob("*.deb")}
    lintian = None
    if shutil.which("lintian"):
        lintian = subprocess.Popen(["lintian", "--fail-on", "error,warning", *debs.values()],
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    elif IN_CI:
        pytest.fail("lintian is required in CI (scripts/install-deps.sh)")
    yield debs, lintian
    if lintian and lintian.poll() is None:
        lintian.kill()
        lintian.wait()
    shutil.rmtree(out, ignore_errors=True)


def deb_files(deb):
    """The files and links a .deb installs, as absolute paths."""
    out = set()
    for line in sh("dpkg-deb", "-c", deb).splitlines():
        if line.startswith("d"):
            continue
        name = line.split(None, 5)[5].split(" -> ")[0]
        out.add(name[1:])  # "./usr/bin/gantry" -> "/usr/bin/gantry"
    return out


def test_each_package_holds_its_components_install_manifest(packages, tmp_path):
    debs, _ = packages
    assert "gantry" in debs
    for component, deb in debs.items():
        dest = tmp_path / component
        sh("cmake", "--install", BUILD, "--prefix", "/usr", "--component", component,
           env=dict(os.environ, DESTDIR=str(dest)))
        # CMake's manifest names what it installed without DESTDIR
        installed = set((BUILD / f"install_manifest_{component}.txt").read_text().split())
        assert installed == deb_files(deb), component
        assert all(os.path.lexists(f"{dest}{f}") for f in installed)
    gantry = deb_files(debs["gantry"])
    for f in ("/usr/bin/gantry", "/usr/bin/gantry-oci", "/usr/share/man/man1/gantry-run.1.gz",
              "/usr/share/bash-completion/completions/gantry",
              "/usr/share/zsh/vendor-completions/_gantry", "/usr/share/gantry/apparmor/gantry",
              "/usr/share/doc/gantry/copyright", "/usr/share/doc/gantry/examples/config.yaml"):
        assert f in gantry, f
    if "gantry-slurm" in debs:
        assert deb_files(debs["gantry-slurm"]) >= {
            "/usr/libexec/gantry/gantry-hold",
            "/usr/lib/x86_64-linux-gnu/slurm-wlm/spank_gantry.so"}
        depends = sh("dpkg-deb", "-f", debs["gantry-slurm"], "Depends")
        assert "gantry (= " in depends and "slurm-wlm-basic-plugins (<< " in depends


def test_lintian_has_nothing_left_to_say(packages):
    _, lintian = packages
    if lintian is None:
        pytest.skip("lintian is not installed")
    out, _ = lintian.communicate(timeout=300)
    tags = [line for line in out.splitlines() if line[:2] in ("E:", "W:")]
    assert lintian.returncode == 0 and not tags, out


def file_list(root):
    out = set()
    for dirpath, dirnames, filenames in os.walk(root):
        rel = os.path.relpath(dirpath, root)
        if rel != "." and any(rel == p or rel.startswith(p + "/") for p in NOT_PACKAGE):
            dirnames[:] = []
            continue
        for n in dirnames + filenames:
            out.add(os.path.normpath(os.path.join(rel, n)))
    return out


@pytest.fixture
def fresh_root(tmp_path):
    """An overlay over the cached Debian root, with /proc, /dev and a tmpfs /tmp."""
    if os.geteuid() != 0:  # mounts, dpkg in a root
        if IN_CI:
            pytest.fail("the package test installs into a root: CI runs it as root")
        pytest.skip("installing packages into a root needs root")
    need_tool("debootstrap")
    base = debian_base.package_root()
    root = tmp_path / "root"
    for d in ("upper", "work", "root"):
        (tmp_path / d).mkdir()
    sh("mount", "-t", "overlay", "overlay", "-o",
       f"lowerdir={base},upperdir={tmp_path / 'upper'},workdir={tmp_path / 'work'}", root)
    try:
        sh("mount", "-t", "proc", "proc", root / "proc")
        sh("mount", "--rbind", "/dev", root / "dev")
        sh("mount", "--make-rslave", root / "dev")
        sh("mount", "-t", "tmpfs", "-o", "mode=1777", "tmpfs", root / "tmp")
        yield root
    finally:
        subprocess.run(["umount", "-R", "-l", str(root)], capture_output=True)


def in_root(root, *args, **kw):
    return sh("chroot", root, *args, **kw)


COMPLETE = """source /usr/share/bash-completion/completions/gantry
t() { COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); _gantry; echo "${COMPREPLY[*]}"; }
t gantry ru; t gantry system pr; t gantry run --gp; t gantry --root /tmp/store rmi sam
"""


def test_install_use_and_purge_in_a_fresh_debian_root(packages, fresh_root, tmp_path):
    debs, _ = packages
    root = fresh_root
    # AppArmor 4's ABI file, as Ubuntu 23.10+ has it: the postinst then installs the profile
    (root / "etc/apparmor.d/abi").mkdir(parents=True, exist_ok=True)
    (root / "etc/apparmor.d/abi/4.0").write_text("# AppArmor 4 (simulated)\n")
    before = file_list(root)
    for name, deb in debs.items():
        shutil.copy(deb, root / "tmp" / f"{name}.deb")
    in_root(root, "dpkg", "-i", "/tmp/gantry.deb")
    if "gantry-slurm" in debs:  # its Slurm is the host's, not in this root
        in_root(root, "dpkg", "-i", "--force-depends", "/tmp/gantry-slurm.deb")

    assert in_root(root, "gantry", "--version").strip() == "gantry 0.1.0"
    page = in_root(root, "man", "-P", "cat", "gantry-run", env=dict(os.environ, MANWIDTH="100"))
    assert "gantry-run - Run a command in a new container" in page and "--gpus" in page
    assert (root / "etc/apparmor.d/gantry").read_text() == \
        (root / "usr/share/gantry/apparmor/gantry").read_text()

    # the sample image, loaded and run by an unprivileged user of the root
    archive = root / "tmp" / "sample.tar"
    mkimage.write_docker_archive(archive, [(mkimage.busybox_image(), ["sample:latest"])])
    os.chmod(archive, 0o644)
    user_env = ["env", "-i", "HOME=/home/tester", "PATH=/usr/bin:/bin", "GANTRY_ROOT=/tmp/store"]
    as_tester = ["setpriv", "--reuid=tester", "--regid=tester", "--init-groups", *user_env]
    in_root(root, *as_tester, "gantry", "load", "/tmp/sample.tar")
    # pivoted into (not chrooted: the kernel refuses a user namespace in a chroot)
    run = sh("unshare", "-m", "--propagation", "private", "sh", "-c",
             'cd "$1" && pivot_root . mnt && cd / && umount -l /mnt && shift && exec "$@"',
             "-", root, *as_tester, "gantry", "run", "--rm", "sample:latest", "sh", "-c",
             "echo hello from $(id -u) in the container")
    assert run == "hello from 0 in the container\n"
    answers = in_root(root, "bash", "-c", COMPLETE).splitlines()
    assert answers == ["run", "prune", "--gpus --gpu-vendor", "sample:latest"], answers

    host_side_checks(root, debs, tmp_path)

    in_root(root, "apt-get", "purge", "-y", "-qq", *debs)
    assert "no packages found" in subprocess.run(
        ["chroot", root, "dpkg", "-l", "gantry"], capture_output=True, text=True).stderr.lower()
    after = file_list(root)
    assert not after - before, f"left behind after apt-get purge: {sorted(after - before)}"
    assert not before - after, f"removed by apt-get purge: {sorted(before - after)}"


def host_side_checks(root, debs, tmp_path):
    """What the root cannot run, against the tree installed in it."""
    # zsh: the zsh completion script, its compadd answering
    if shutil.which("zsh"):
        script = ("compadd() { shift; print -r -- \"$*\"; }; _files() { print FILES; }; "
                  "words=(gantry system pr); CURRENT=3; "
                  f"source {root}/usr/share/zsh/vendor-completions/_gantry")
        assert sh("zsh", "-f", "-c", script) == "df prune fsck\n"  # zsh filters by prefix
    elif IN_CI:
        pytest.fail("zsh is required in CI (scripts/install-deps.sh)")
    # the Slurm plugin from its installed path, loaded by the host's srun (it prints the
    # plugin's options in its help only when it loaded the plugin)
    if "gantry-slurm" in debs and shutil.which("srun"):
        plugin = root / "usr/lib/x86_64-linux-gnu/slurm-wlm/spank_gantry.so"
        (tmp_path / "plugstack.conf").write_text(f"required {plugin}\n")
        (tmp_path / "slurm.conf").write_text(
            f"ClusterName=pkgtest\nSlurmctldHost=localhost\n"
            f"PlugStackConfig={tmp_path}/plugstack.conf\nNodeName=n1 CPUs=1\n"
            "PartitionName=p Nodes=n1\n")
        out = sh("srun", "--help", env=dict(os.environ, SLURM_CONF=str(tmp_path / "slurm.conf")))
        assert "--container-image" in out and "[gantry]" in out
    # podman with the installed gantry-oci as its runtime
    if shutil.which("podman"):
        base = Path(tempfile.mkdtemp(prefix="gpkg-", dir="/tmp"))  # runroot: short
        conf = base / "containers.conf"  # as tests/e2e/test_oci_runtime.py's podman
        conf.write_text('[containers]\ndefault_ulimits = ["nofile=20000:20000", '
                        '"nproc=32768:32768"]\n')
        env = dict(os.environ, CONTAINERS_CONF=str(conf))
        podman = ["podman", "--root", base / "root", "--runroot", base / "run",
                  "--storage-driver", "overlay", "--runtime", root / "usr/bin/gantry-oci"]
        try:
            sh(*podman, "load", "-i", root / "tmp" / "sample.tar", env=env)
            out = sh(*podman, "run", "--rm", "sample:latest", "sh", "-c", "echo hi from podman",
                     env=env)
            assert out == "hi from podman\n"
        finally:
            subprocess.run(podman + ["rmi", "-a", "-f"], capture_output=True, env=env)
            subprocess.run(["umount", "-R", str(base / "root" / "overlay")], capture_output=True)
            shutil.rmtree(base, ignore_errors=True)
    elif IN_CI:
        pytest.fail("podman is required in CI")
