"""Where the store lives: $GANTRY_ROOT, else --root, else ${XDG_DATA_HOME:-~/.local/share}/gantry
(root and rootless), and the global options in every spelling."""
import json
import os
import pwd
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import GANTRY
from fixtures import mkimage as mk
from store_common import images  # noqa: F401 (fixture)

NOBODY = pwd.getpwnam("nobody")


# --------------------------------------------------------------------------------------------
# where the store lives
# --------------------------------------------------------------------------------------------

def run_bin(args, env, user=None, binary=None):
    argv = [str(binary or GANTRY), *map(str, args)]
    if user is not None:
        argv = ["setpriv", f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}",
                "--clear-groups", "--"] + argv
    base_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"}
    base_env.update(env)
    return subprocess.run(argv, env=base_env, capture_output=True, text=True, timeout=60)


def loaded_into(root, ref):
    p = Path(root) / "refs.json"
    return p.exists() and ref in json.loads(p.read_text())["refs"]


def test_gantry_root_wins_over_root_flag(tmp_path, images):
    small = images["small"]
    env_root, flag_root = tmp_path / "from-env", tmp_path / "from-flag"
    r = run_bin(["--root", flag_root, "load", small.oci], {"GANTRY_ROOT": str(env_root),
                                                          "HOME": str(tmp_path)})
    assert r.returncode == 0, r
    assert loaded_into(env_root, small.oci_ref)
    assert not flag_root.exists(), "--root must be ignored when GANTRY_ROOT is set"
    r = run_bin(["--root", flag_root, "system", "df", "--json"], {"GANTRY_ROOT": str(env_root)})
    assert r.returncode == 0 and json.loads(r.stdout)["root"] == str(env_root), r
    assert json.loads(r.stdout)["images"] == 1


def test_root_flag_used_without_gantry_root(tmp_path, images):
    small = images["small"]
    flag_root = tmp_path / "from-flag"
    r = run_bin(["--root", flag_root, "load", small.oci], {"HOME": str(tmp_path)})
    assert r.returncode == 0, r
    assert loaded_into(flag_root, small.oci_ref)
    r = run_bin(["--root", flag_root, "images", "--json"], {"HOME": str(tmp_path)})
    assert r.returncode == 0, r
    assert [i["reference"] for i in json.loads(r.stdout)] == [small.oci_ref]
    # an empty GANTRY_ROOT counts as unset
    r = run_bin(["--root", flag_root, "system", "df", "--json"], {"GANTRY_ROOT": ""})
    assert r.returncode == 0 and json.loads(r.stdout)["root"] == str(flag_root), r


def test_global_flags_in_every_spelling(tmp_path, images):
    """The global options are built only when the command line names them (cli::LazyOptions),
    so each spelling must still reach them: --root=DIR, --debug, -q, --version, --help."""
    small = images["small"]
    root = tmp_path / "r"
    r = run_bin([f"--root={root}", "load", small.oci], {"HOME": str(tmp_path)})
    assert r.returncode == 0 and loaded_into(root, small.oci_ref), r
    assert "manifest sha256:" in r.stderr, r  # the id line, on stderr
    r = run_bin(["-q", "--root", root, "load", small.oci], {"HOME": str(tmp_path)})
    assert r.returncode == 0 and "manifest sha256:" not in r.stderr, r
    # --debug: a run whose view cannot be saved (views/ is a file here) says so, and runs
    bb = tmp_path / "bb.tar"
    mk.write_docker_archive(bb, [(mk.busybox_image(compression="none"), ["bb:1"])])
    assert run_bin(["--root", root, "load", bb], {"HOME": str(tmp_path)}).returncode == 0
    shutil.rmtree(root / "views", ignore_errors=True)
    (root / "views").write_text("")
    # (--debug wins over --quiet)
    for flags, said in ((["--debug"], True), ([], False), (["--quiet", "--debug"], True)):
        r = run_bin([*flags, "--root", root, "run", "bb:1", "echo", "ran"], {"HOME": str(tmp_path)})
        assert r.returncode == 0 and r.stdout == "ran\n", r
        assert ("run view not saved" in r.stderr) == said, (flags, r)
    assert run_bin(["--version"], {}).stdout.strip() == "gantry 0.1.0"
    for line in (["--help"], ["-h"], ["--root", root, "--help"]):
        out = run_bin(line, {}).stdout
        for name in ("--version", "--root", "--debug", "-q,--quiet", "run", "pull"):
            assert name in out, (line, name)
    r = run_bin(["--bogus", "images"], {"HOME": str(tmp_path)})
    assert r.returncode == 2 and "--bogus" in r.stderr, r


@pytest.fixture
def nobody_home(rootless):
    if os.geteuid() != 0:
        pytest.skip("needs root to switch to user nobody")
    home = rootless.base / "home"
    home.mkdir()
    os.chown(home, NOBODY.pw_uid, NOBODY.pw_gid)
    return home


@pytest.fixture
def nobody_archive(rootless, images):
    dst = rootless.base / "small.oci.tar"
    shutil.copy(images["small"].oci, dst)
    os.chmod(dst, 0o644)
    return dst


def test_rootless_default_uses_xdg_data_home(nobody_home, nobody_archive, images):
    xdg = nobody_home / "xdg-data"
    env = {"HOME": str(nobody_home), "XDG_DATA_HOME": str(xdg)}
    r = run_bin(["load", nobody_archive], env, NOBODY, Path(str(nobody_archive.parent) + "-bin") / "gantry")
    assert r.returncode == 0, r
    assert loaded_into(xdg / "gantry", images["small"].oci_ref)
    assert not (nobody_home / ".local").exists(), "XDG_DATA_HOME must win over ~/.local/share"
    r = run_bin(["system", "df", "--json"], env, NOBODY, Path(str(nobody_archive.parent) + "-bin") / "gantry")
    assert json.loads(r.stdout)["root"] == str(xdg / "gantry")
    assert json.loads(r.stdout)["images"] == 1


@pytest.mark.parametrize("xdg", [None, ""])
def test_rootless_default_home_local_share(nobody_home, nobody_archive, images, xdg):
    env = {"HOME": str(nobody_home)}
    if xdg is not None:
        env["XDG_DATA_HOME"] = xdg  # empty counts as unset: ${XDG_DATA_HOME:-~/.local/share}
    r = run_bin(["load", nobody_archive], env, NOBODY, Path(str(nobody_archive.parent) + "-bin") / "gantry")
    assert r.returncode == 0, r
    store = nobody_home / ".local" / "share" / "gantry"
    assert loaded_into(store, images["small"].oci_ref)
    r = run_bin(["images", "--json"], env, NOBODY, Path(str(nobody_archive.parent) + "-bin") / "gantry")
    assert r.returncode == 0, r
    assert [i["reference"] for i in json.loads(r.stdout)] == [images["small"].oci_ref]
    st = os.stat(store / "blobs")
    assert st.st_uid == NOBODY.pw_uid, "the rootless store belongs to its user"


def test_rootless_gantry_root_wins_over_xdg(nobody_home, nobody_archive, images):
    env_root = nobody_home / "env-root"
    env = {"HOME": str(nobody_home), "XDG_DATA_HOME": str(nobody_home / "xdg"),
           "GANTRY_ROOT": str(env_root)}
    r = run_bin(["load", nobody_archive], env, NOBODY, Path(str(nobody_archive.parent) + "-bin") / "gantry")
    assert r.returncode == 0, r
    assert loaded_into(env_root, images["small"].oci_ref)
    assert not (nobody_home / "xdg").exists()
    assert not (nobody_home / ".local").exists()
