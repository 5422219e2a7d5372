"""What the `gantry oci` tests share: gantry under the name gantry-oci, a bundle of the busybox
sample, and a differential runner that runs one bundle under runc (Debian's, as root) and under
gantry oci, so a test compares what the container observed in both. Test files import the
fixtures by name (`from ocidiff import oci_bin, bundle`)."""
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from conftest import GANTRY, load_busybox, need_tool

ROOT = os.geteuid() == 0


@pytest.fixture
def oci_bin(tmp_path):
    """gantry under the name gantry-oci (argv[0] picks `gantry oci`)."""
    d = Path(tempfile.mkdtemp(prefix="goci-", dir="/tmp"))
    os.chmod(d, 0o755)
    link = d / "gantry-oci"
    link.symlink_to(GANTRY)
    yield link
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def bundle(g, mk, tmp_path):
    """A runtime bundle (config.json + rootfs) of the busybox sample, made by `gantry bundle`."""
    ref = load_busybox(g, mk, tmp_path)
    b = tmp_path / "bundle"
    g.run("bundle", ref, b)
    return b


def oci(oci_bin, root, *args, check=True, **kw):
    """`gantry-oci --root ROOT ARGS`; CHECK: asserts exit 0."""
    p = subprocess.run([str(oci_bin), "--root", str(root), *map(str, args)], capture_output=True,
                       text=True, timeout=60, **kw)
    if check:
        assert p.returncode == 0, f"gantry-oci {args}: {p.returncode}\n{p.stdout}\n{p.stderr}"
    return p


def edit_config(bundle, edit):
    """Calls EDIT(cfg) on the bundle's config.json and writes it back."""
    cfg = json.loads((bundle / "config.json").read_text())
    edit(cfg)
    (bundle / "config.json").write_text(json.dumps(cfg))


def set_process(bundle, args, terminal=False):
    def edit(cfg):
        cfg["process"]["args"] = args
        cfg["process"]["terminal"] = terminal
    edit_config(bundle, edit)


def runtimes(oci_bin):
    """[(name, binary)]: runc first when the tests run as root (CI), then gantry oci."""
    out = [("gantry", str(oci_bin))]
    if ROOT:
        need_tool("runc")
        out.insert(0, ("runc", shutil.which("runc")))
    return out


def run_both(oci_bin, bundle, tmp_path, args=None, edit=None, timeout=60):
    """Runs the bundle (process.args = ARGS, no terminal; EDIT(cfg) applied) with `run` under
    runc (as root) and gantry oci, each with a state root of its own:
    {"runc": CompletedProcess, "gantry": CompletedProcess}."""
    def apply(cfg):
        if args is not None:
            cfg["process"]["args"] = args
        cfg["process"]["terminal"] = False
        if edit is not None:
            edit(cfg)
    edit_config(bundle, apply)
    out = {}
    for name, binary in runtimes(oci_bin):
        cid = f"d{os.getpid()}-{tmp_path.name[-12:]}-{name}"
        out[name] = subprocess.run([binary, "--root", str(tmp_path / f"{name}-state"), "run",
                                    "--bundle", str(bundle), cid], capture_output=True,
                                   text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    return out


def same_as_runc(runs, returncode, stdout=None):
    """Both runtimes exited with RETURNCODE (and printed STDOUT, when given)."""
    for name, r in runs.items():
        assert r.returncode == returncode, f"{name}: {r}"
        if stdout is not None:
            assert r.stdout == stdout, f"{name}: {r}"
