"""What the `gantry oci` tests share: gantry under the name gantry-oci, a bundle of the busybox
sample, and a differential runner that runs one bundle under runc (Debian's, as root) and under
gantry oci, so a test compares what the container observed in both (`each_runtime`: a command
sequence, `Seq`, per runtime, with /obs bound for what the hooks and the container record;
`no_125`, `gist`: runc's error conventions). Test files import the
fixtures by name (`from ocidiff import oci_bin, bundle`)."""
import json
import os
import shutil
import subprocess
import tempfile
import time
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


class Seq:
    """One runtime's run of a command sequence: its binary, state root, container id, and the
    directory its hooks and container write to (bound at /obs)."""

    def __init__(self, name, binary, tmp_path):
        self.name, self.binary = name, binary
        self.root = tmp_path / f"{name}-state"
        self.cid = f"l{os.getpid()}-{tmp_path.name[-10:]}-{name}"
        self.obs = tmp_path / f"obs-{name}"
        self.obs.mkdir()
        os.chmod(self.obs, 0o777)
        self.tmp = tmp_path
        self.results = []

    def __call__(self, *args, keep=True, timeout=60):
        """Runs `RUNTIME --root ROOT ARGS` ("ID": the container id); `create`/`run` write to
        files (the container keeps their stdio). Returns the CompletedProcess, also kept in
        .results unless KEEP is false."""
        args = [self.cid if a == "ID" else str(a) for a in args]
        cmd = [self.binary, "--root", str(self.root), *args]
        if args[0] in ("create", "run"):
            out = self.tmp / f"{self.name}-{len(self.results)}.out"
            with open(out, "w") as f:
                p = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=f, stderr=f,
                                   timeout=timeout)
            p = subprocess.CompletedProcess(cmd, p.returncode, "", out.read_text())
        else:
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                               stdin=subprocess.DEVNULL)
        if keep:
            self.results.append(p)
        return p

    def status(self):
        p = self("state", "ID", keep=False)
        return json.loads(p.stdout)["status"] if p.returncode == 0 else None

    def wait_status(self, want, within=15):
        deadline = time.time() + within
        while (st := self.status()) != want:
            assert time.time() < deadline, f"{self.name}: {st}, not {want}"
            time.sleep(0.05)

    def hooks(self):
        f = self.obs / "hooks.jsonl"
        return [json.loads(x) for x in f.read_text().splitlines()] if f.exists() else []

    def order(self):
        f = self.obs / "order"
        return f.read_text().split() if f.exists() else []

    def pid(self):
        return json.loads(self("state", "ID", keep=False).stdout)["pid"]


def each_runtime(oci_bin, bundle, tmp_path, edit, body, tag=""):
    """For runc, then gantry oci: the bundle's config edited by EDIT(cfg, seq) (with /obs bound
    from seq.obs and no terminal), then BODY(seq). Returns {name: seq}; containers are deleted
    with -f after."""
    out = {}
    for name, binary in runtimes(oci_bin):
        seq = Seq(tag + name, binary, tmp_path)

        def apply(cfg):
            cfg["process"]["terminal"] = False
            cfg["mounts"].append({"destination": "/obs", "type": "bind",
                                  "source": str(seq.obs), "options": ["rbind", "rw"]})
            if edit:
                edit(cfg, seq)
        edit_config(bundle, apply)
        try:
            body(seq)
        finally:
            subprocess.run([binary, "--root", str(seq.root), "delete", "-f", seq.cid],
                           capture_output=True, timeout=60)
        out[name] = seq
    return out


def no_125(p):
    assert "125 " not in p.stderr and p.returncode != 125, p


def gist(p, *words):
    """P's stderr mentions one of WORDS (case-insensitive)."""
    low = p.stderr.lower()
    assert any(w.lower() in low for w in words), p
