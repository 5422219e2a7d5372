"""The arm64 Debian package (issue 80, docs/aarch64.md): CPack's DEB generator over the aarch64
cross build's tree (GANTRY_AARCH64_BUILD, `make build-aarch64`), as `make deb-arm64` runs it over
the optimised one. Checked as dpkg sees it: its architecture, its files, its Depends computed from
the arm64 libraries, and the packaged gantry an aarch64 ELF executable that runs under
qemu-aarch64-static. Run by make test's aarch64 stage (`make aarch64-package-check`)."""
import os
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

EM_AARCH64 = 183  # the ELF e_machine of aarch64 (elf(5))


def need(tool):
    if not shutil.which(tool):
        pytest.skip(f"{tool} not installed (scripts/install-deps.sh installs it)")


@pytest.fixture(scope="module")
def deb(tmp_path_factory):
    need("cpack")
    need("dpkg-deb")
    build = Path(os.environ.get("GANTRY_AARCH64_BUILD", "build-aarch64"))
    assert (build / "gantry").is_file(), f"no aarch64 build in {build}: run make build-aarch64"
    out = tmp_path_factory.mktemp("deb")
    env = dict(os.environ, DEB_HOST_ARCH="arm64", DEB_HOST_MULTIARCH="aarch64-linux-gnu")
    # the gantry package only: the check build does not build the Slurm plugin
    r = subprocess.run(["cpack", "-G", "DEB", "-B", str(out), "-D", "CPACK_COMPONENTS_ALL=gantry"],
                       cwd=build, env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    debs = sorted(out.glob("gantry_*.deb"))
    assert len(debs) == 1, (list(out.iterdir()), r.stdout)
    return debs[0]


def field(deb, name):
    return subprocess.run(["dpkg-deb", "--field", str(deb), name], check=True,
                          capture_output=True, text=True).stdout.strip()


def test_package_is_arm64_with_arm64_dependencies(deb):
    assert deb.name.endswith("_arm64.deb"), deb.name
    info = subprocess.run(["dpkg-deb", "--info", str(deb)], check=True, capture_output=True,
                          text=True).stdout
    assert "Architecture: arm64" in info, info
    assert field(deb, "Package") == "gantry"
    # dpkg-shlibdeps read the aarch64 binary's needs from the arm64 libraries
    depends = field(deb, "Depends")
    assert "libc6 (>=" in depends, depends
    assert "libseccomp2" in depends and "libisal2" in depends, depends


def test_packaged_gantry_is_an_aarch64_executable(deb, tmp_path):
    contents = subprocess.run(["dpkg-deb", "--contents", str(deb)], check=True,
                              capture_output=True, text=True).stdout
    names = [line.split()[-1] for line in contents.splitlines()]
    assert "./usr/bin/gantry" in names, contents
    assert any(n.startswith("./usr/share/man/man1/gantry") for n in names), contents
    subprocess.run(["dpkg-deb", "-x", str(deb), str(tmp_path)], check=True)
    head = (tmp_path / "usr/bin/gantry").read_bytes()[:20]
    assert head[:4] == b"\x7fELF" and head[4] == 2, head  # ELF64
    assert struct.unpack_from("<H", head, 18)[0] == EM_AARCH64, head
    need("qemu-aarch64-static")
    r = subprocess.run(["qemu-aarch64-static", str(tmp_path / "usr/bin/gantry"), "--version"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "gantry" in r.stdout, r
