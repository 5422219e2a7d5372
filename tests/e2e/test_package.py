"""gantry's Debian packages as an admin gets them (issues 42 and 51, docs/packaging.md): `make
deb`'s packages of the tree already built (CPack over the install rules; nothing is compiled
here), installed with `apt-get install ./gantry_*.deb` into a fresh Debian 12 root
(tests/fixtures/debian_base.py's debootstrap base with man-db, as an overlay: nothing is copied),
so that apt brings what the package declares from Debian's mirror and nothing else is added by
hand, used there as a user would, then purged. apt's lists and downloaded .debs are kept in
$GANTRY_TEST_CACHE/apt between runs.

Inside the root: `gantry --version`, `man gantry-run`, the bash completion answering partial
commands, and as an unprivileged user (the root pivoted into, as a container engine would: the
kernel refuses user namespaces in a chroot) the first hour of issue 51: `pull` from a registry on
127.0.0.1 (the host's gantry pushed the image), `build` FROM it (gzip layers: ISA-L), `run`, `save
--format squashfs` and `run FILE.sqsh` (FUSE, through a /dev/fuse node of mode 0666 as udev makes
it), then `rm -rf ~/.local/share/gantry` as that user and `system reset`. Then the AppArmor
profile's postinst where AppArmor 4 is, and `apt-get purge` leaving no file behind, root's store
and runtime directory included. Outside it, against the installed tree (the root has no podman,
Slurm or zsh): the host's podman with `--runtime ROOT/usr/bin/gantry-oci`, the host's Slurm 22.05
loading the plugin from its installed path, and zsh running the zsh completion. lintian runs
beside them, and every library gantry loads with dlopen is checked to be declared.
"""
import fnmatch
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from conftest import GANTRY, IN_CI, REPO, need_tool

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from fixtures import debian_base  # noqa: E402
from fixtures import mkimage  # noqa: E402
from fixtures.registry.harness import Registry  # noqa: E402

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
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                   env={**os.environ, "TMPDIR": str(out)})  # its MLDBM dirs
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


def relations(deb):
    """The package names of a .deb's Depends, Recommends and Suggests, each field's own set."""
    out = {}
    for field in ("Depends", "Recommends", "Suggests"):
        text = sh("dpkg-deb", "-f", deb, field)
        out[field] = {alt.split("(")[0].strip() for rel in text.split(",") for alt in
                      rel.split("|") if alt.strip()}
    return out


def loaded_by_gantry():
    """What src/ loads with dlopen (util/library.hpp's Library, by SONAME), the programs it runs
    by name (fs::find_program, the id-map helpers) and the policy file pull reads, as host paths
    dpkg -S can name."""
    text = "\n".join(p.read_text() for p in (REPO / "src").rglob("*.cpp"))
    sonames = set(re.findall(r'\bLibrary\s+\w+\(\s*"(lib[^"]+\.so\.\d+)"', text))
    programs = set(re.findall(r'find_program\("([^"]+)"\)', text))
    programs |= set(re.findall(r'"/usr/bin/(new[ug]idmap)"', text))
    assert {"libcurl.so.4", "libisal.so.2", "libfuse3.so.3"} <= sonames, sonames
    assert "tar2sqfs" in programs, programs
    # and the site's policy file, without which pull refuses (src/site/policy.cpp)
    assert '"policy.json"' in text
    return [f"*/{s}" for s in sorted(sonames)] + [f"*bin/{p}" for p in sorted(programs)] + \
        ["/etc/containers/policy.json"]


def test_every_library_and_program_gantry_loads_is_declared(packages):
    """dpkg-shlibdeps cannot see dlopen: each SONAME src/ loads, and each program it runs, must be
    a package gantry Depends on, Recommends or Suggests (docs/packaging.md's table)."""
    debs, _ = packages
    rel = relations(debs["gantry"])
    declared = rel["Depends"] | rel["Recommends"] | rel["Suggests"]
    assert "libc6" in rel["Depends"]  # dpkg-shlibdeps' own, still there
    patterns = loaded_by_gantry()
    owners = subprocess.run(["dpkg", "-S", *patterns], capture_output=True, text=True).stdout
    for pattern in patterns:  # dpkg -S prints "pkg[:arch][, pkg...]: path" per file found
        names = {name.split(":")[0].strip() for line in owners.splitlines() if ": " in line
                 and fnmatch.fnmatch(line.split(": ", 1)[1], pattern)
                 for name in line.split(": ", 1)[0].split(",")}
        found = shutil.which(pattern[5:], path="/usr/sbin:/usr/bin:/sbin:/bin") \
            if pattern.startswith("*bin/") else None
        if not names and found:  # an alternatives link (ip6tables): the file it leads to
            real = subprocess.run(["dpkg", "-S", os.path.realpath(found)], capture_output=True,
                                  text=True).stdout
            names = {n.split(":")[0].strip() for n in real.split(": ", 1)[0].split(",") if n}
        if not names:
            if IN_CI:
                pytest.fail(f"no installed package has {pattern} (scripts/install-deps.sh)")
            continue
        assert names & declared, f"{pattern} ({sorted(names)}) is not declared: {rel}"
    # what pull, run and build need is a Depends, never left to Recommends
    assert {"libcurl4", "libisal2", "libnettle8", "libsquashfs1", "libfuse3-3",
            "ca-certificates", "golang-github-containers-common"} <= rel["Depends"], rel


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
        # apt's lists and downloaded packages, kept between runs (apt locks them itself)
        for inside in ("var/lib/apt/lists", "var/cache/apt/archives"):
            kept = debian_base.CACHE / "apt" / inside.split("/")[-1]
            (kept / "partial").mkdir(parents=True, exist_ok=True)
            sh("mount", "--bind", kept, root / inside)
        yield root
    finally:
        subprocess.run(["umount", "-R", "-l", str(root)], capture_output=True)


def in_root(root, *args, **kw):
    return sh("chroot", root, *args, **kw)


COMPLETE = """source /usr/share/bash-completion/completions/gantry
t() { COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); _gantry; echo "${COMPREPLY[*]}"; }
t gantry ru; t gantry system pr; t gantry run --gpu-v; t gantry --root /tmp/store rmi sam
"""


def test_install_use_and_purge_in_a_fresh_debian_root(packages, fresh_root, tmp_path):
    debs, _ = packages
    root = fresh_root
    # AppArmor 4's ABI file, as Ubuntu 23.10+ has it: the postinst then installs the profile
    (root / "etc/apparmor.d/abi").mkdir(parents=True, exist_ok=True)
    (root / "etc/apparmor.d/abi/4.0").write_text("# AppArmor 4 (simulated)\n")
    # every installed system has /etc/hosts (the installer writes it; debootstrap does not):
    # netbase, which apt brings for gantry's dependencies, would write it and keep it on purge
    (root / "etc/hosts").write_text("127.0.0.1\tlocalhost\n")
    before = file_list(root)
    for name, deb in debs.items():
        shutil.copy(deb, root / "tmp" / f"{name}.deb")
    # apt, as an admin would: what gantry Depends on and Recommends comes from Debian's mirror
    apt = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    in_root(root, "apt-get", "update", "-qq", env=apt)
    out = in_root(root, "apt-get", "install", "-y", "/tmp/gantry.deb", env=apt)
    new = re.search(r"NEW packages will be installed:\n((?:  .*\n)+)", out)
    print(f"apt-get install ./gantry.deb: {len(new.group(1).split()) if new else '?'} packages")
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
    assert answers == ["run", "prune", "--gpu-vendor", "sample:latest"], answers

    first_hour(root, tmp_path)
    host_side_checks(root, debs, tmp_path)

    # what gantry makes for root at run time: its store and its runtime directory
    in_root(root, "gantry", "images")
    in_root(root, "gantry", "ps")
    assert (root / "var/lib/gantry").is_dir() and (root / "run/gantry").is_dir()
    # --autoremove: what apt installed for gantry goes too, so that nothing of it is left
    in_root(root, "apt-get", "purge", "--autoremove", "-y", "-qq", *debs, env=apt)
    assert not (root / "var/lib/gantry").exists() and not (root / "run/gantry").exists()
    assert "no packages found" in subprocess.run(
        ["chroot", root, "dpkg", "-l", "gantry"], capture_output=True, text=True).stderr.lower()
    after = file_list(root)
    assert not after - before, f"left behind after apt-get purge: {sorted(after - before)}"
    assert not before - after, f"removed by apt-get purge: {sorted(before - after)}"


# The first hour of issue 51, as the root's user `tester` with the default store
# (~/.local/share/gantry): each command's output is kept, and its exit status printed after it.
FIRST_HOUR = r"""
step() { echo "@@ $*"; "$@" 2>&1; echo "@@ exit $?"; }
cd /tmp/ctx
step gantry pull --tls-verify=false "$REF"
step gantry build -t built:1 .
step gantry run --rm built:1 cat /built
step gantry save --format squashfs -o /tmp/ctx/built.sqsh built:1
step gantry run --rm /tmp/ctx/built.sqsh cat /built
step gantry system reset </dev/null
step rm -rf "$HOME/.local/share/gantry"
step gantry pull -q --tls-verify=false "$REF"
step gantry run --writable-layer disk "$REF" sh -c 'mkdir /o && echo x >/o/f && chown -R 5:5 /o'
step stat -c %u "$HOME"/.local/share/gantry/trash/*/upper/o/f
step gantry system reset --force
"""


def first_hour(root, tmp_path):
    """pull, build, run, save --format squashfs, run FILE.sqsh, then the store removed by its
    owner: each with nothing but what apt installed for the package."""
    need_tool("docker-registry")
    reg = Registry(tmp_path / "reg").start()
    try:
        # the image pushed by the host's gantry, its layers gzip (ISA-L's in the root)
        archive = tmp_path / "first.tar"
        mkimage.write_docker_archive(archive, [(mkimage.busybox_image(), ["first:1"])],
                                     layer_compression="gzip")
        host = ["env", f"GANTRY_ROOT={tmp_path / 'host-store'}", GANTRY]
        sh(*host, "load", archive)
        ref = f"{reg.addr}/first/sample:1"
        sh(*host, "push", "--tls-verify=false", "first:1", ref)
        ctx = root / "tmp/ctx"
        ctx.mkdir(mode=0o777)
        os.chmod(ctx, 0o777)
        (ctx / "Dockerfile").write_text(f"FROM {ref}\nRUN echo built in a RUN step > /built\n")
        # /dev/fuse as udev makes it on a stock host (0666): a node of the root's own, bound over
        # the host's (this VM's is 0600), so the host's is left as it is
        node = tmp_path / "fuse"
        sh("mknod", "-m", "0666", node, "c", "10", "229")
        os.chmod(node, 0o666)
        sh("mount", "--bind", node, root / "dev/fuse")
        # tester's home on the host's filesystem, as a home is: the root is an overlay, and
        # overlayfs refuses an overlay as the upper layer of a container's (EINVAL)
        home = tmp_path / "home"
        home.mkdir(mode=0o755)
        os.chown(home, *(int(in_root(root, "id", flag, "tester")) for flag in ("-u", "-g")))
        sh("mount", "--bind", home, root / "home/tester")
        env = ["env", "-i", "HOME=/home/tester", "PATH=/usr/bin:/bin", f"REF={ref}"]
        start = time.monotonic()
        out = sh("unshare", "-m", "--propagation", "private", "sh", "-c",
                 'cd "$1" && pivot_root . mnt && cd / && umount -l /mnt && shift && exec "$@"',
                 "-", root, "setpriv", "--reuid=tester", "--regid=tester", "--init-groups",
                 *env, "sh", "-c", FIRST_HOUR)
        print(f"first hour: {time.monotonic() - start:.1f} s")
        store_left = (root / "home/tester/.local/share/gantry").exists()
    finally:
        reg.stop()
        subprocess.run(["umount", "-l", str(root / "home/tester")], capture_output=True)
    results = [(int(status), text) for _, text, status in
               re.findall(r"^@@ (.*)\n((?:.*\n)*?)@@ exit (\d+)\n", out, re.M)]
    assert len(results) == 11, out
    (pull, build, run, save, run_sqsh, reset_asks, rm, pull2, owned, owner, reset) = results
    for status, text in (pull, build, run, save, run_sqsh, rm, pull2, owned, owner, reset):
        assert status == 0, out
        assert "apt-get install" not in text, out  # no "needs X ... install Y"
    # apt brought uidmap (Recommends) and useradd gave tester a range: RUN had subordinate ids
    assert "subordinate ids" in build[1] and "flattened copy" not in out, out
    assert run[1].endswith("built in a RUN step\n"), out
    # served over FUSE, as on a stock host: not the unpack fallback of a closed /dev/fuse
    assert run_sqsh[1].endswith("built in a RUN step\n") and "unpack" not in run_sqsh[1], out
    assert reset_asks[0] == 2 and "--force" in reset_asks[1], out
    # the store of a run whose writable layer holds files of uid 5 in the container, a
    # subordinate id of tester (100000 + 5 - 1) that tester alone cannot delete (`rm -rf` would
    # fail): reset deletes them in a user namespace with tester's maps
    assert owner[1] == "100004\n", out
    assert "Removed 0 container(s) and the store /home/tester/.local/share/gantry" in reset[1], out
    uid = in_root(root, "id", "-u", "tester").strip()
    assert not store_left
    assert not (root / f"tmp/gantry-{uid}").exists()  # reset: the runtime directory too


def host_side_checks(root, debs, tmp_path):
    """What the root cannot run, against the tree installed in it."""
    # zsh: the zsh completion script, its compadd answering
    if shutil.which("zsh"):
        script = ("compadd() { shift; print -r -- \"$*\"; }; _files() { print FILES; }; "
                  "words=(gantry system pr); CURRENT=3; "
                  f"source {root}/usr/share/zsh/vendor-completions/_gantry")
        assert sh("zsh", "-f", "-c", script) == "df prune reset service boot fsck migrate\n"  # zsh filters
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
