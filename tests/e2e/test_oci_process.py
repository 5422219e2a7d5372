"""`gantry oci` honours a bundle's process fields and kernel settings as runc 1.1 does (issue 37):
process.capabilities (all five sets), process.user.umask, HOME from the container's
/etc/passwd, process.oomScoreAdj, a missing process.cwd (also on a read-only root),
linux.sysctl (checked against the namespaces as runc's validator checks it), hostname and
domainname. Each case runs one bundle under the real runc (as root) and under gantry oci and
compares what the container observed; where gantry deliberately differs (it refuses what runc
1.1 drops with a warning or without a word) the test says so. Rootless, gantry alone is checked
against the values runc gave here."""
import json
import os
import subprocess

import pytest

from conftest import load_busybox
from ocidiff import (bundle, edit_config, oci_bin, run_both,  # noqa: F401 (fixtures)
                     runtimes, same_as_runc)

STATUS_CAPS = ["grep", "^Cap", "/proc/self/status"]


def caps_mask(*names):
    bits = {"CAP_CHOWN": 0, "CAP_KILL": 5, "CAP_SETPCAP": 8, "CAP_NET_BIND_SERVICE": 10,
            "CAP_NET_ADMIN": 12, "CAP_NET_RAW": 13, "CAP_SYS_ADMIN": 21}
    return f"{sum(1 << bits[n] for n in names):016x}"


def with_caps(caps, user=None):
    def edit(cfg):
        cfg["process"]["capabilities"] = caps
        if user is not None:
            cfg["process"]["user"] = user
    return edit


def runs_with_umask(mask, fn):
    """FN() with this process's umask MASK (the runtimes inherit it), restored after."""
    old = os.umask(mask)
    try:
        return fn()
    finally:
        os.umask(old)


def run_each(oci_bin, bundle, tmp_path, args, edit, prepare):
    """As run_both, with PREPARE(rootfs) called before each runtime's run (to undo what the
    previous one left in the bundle's root)."""
    def apply(cfg):
        cfg["process"]["args"] = args
        cfg["process"]["terminal"] = False
        edit(cfg)
    edit_config(bundle, apply)
    rootfs = bundle / json.loads((bundle / "config.json").read_text())["root"]["path"]
    out = {}
    for name, binary in runtimes(oci_bin):
        prepare(rootfs)
        cid = f"e{os.getpid()}-{tmp_path.name[-12:]}-{name}"
        out[name] = subprocess.run([binary, "--root", str(tmp_path / f"{name}-state"), "run",
                                    "--bundle", str(bundle), cid], capture_output=True,
                                   text=True, timeout=60, stdin=subprocess.DEVNULL)
    return out


def refused(runs, *words, runtimes_=("runc", "gantry")):
    """Each of RUNTIMES_ that ran exited 1 (at create); gantry's message names WORDS."""
    for name in runtimes_:
        if name in runs:
            assert runs[name].returncode == 1, f"{name}: {runs[name]}"
    for w in words:
        assert w in runs["gantry"].stderr, runs["gantry"]


# ---- 1. process.capabilities: the five sets ----

FIVE = {"bounding": ["CAP_CHOWN", "CAP_KILL", "CAP_SETPCAP", "CAP_NET_ADMIN", "CAP_NET_RAW",
                     "CAP_SYS_ADMIN"],
        "effective": ["CAP_CHOWN", "CAP_KILL"],
        "permitted": ["CAP_CHOWN", "CAP_KILL", "CAP_NET_ADMIN"],
        "inheritable": ["CAP_KILL", "CAP_NET_ADMIN"],
        "ambient": ["CAP_KILL"]}


@pytest.mark.parametrize("nnp", [True, False])
def test_capabilities_five_sets_as_root(oci_bin, bundle, tmp_path, nnp):
    def edit(cfg):
        with_caps(FIVE)(cfg)
        cfg["process"]["noNewPrivileges"] = nnp
    runs = run_both(oci_bin, bundle, tmp_path, STATUS_CAPS, edit)
    # root's exec gains inheritable | bounding (capabilities(7)), unless no_new_privs holds it
    # to what it had
    prm = caps_mask(*FIVE["permitted"]) if nnp else caps_mask(*FIVE["bounding"])
    same_as_runc(runs, 0, f"CapInh:\t{caps_mask('CAP_KILL', 'CAP_NET_ADMIN')}\n"
                          f"CapPrm:\t{prm}\nCapEff:\t{prm}\n"
                          f"CapBnd:\t{caps_mask(*FIVE['bounding'])}\n"
                          f"CapAmb:\t{caps_mask('CAP_KILL')}\n")


def test_capabilities_five_sets_as_another_user(oci_bin, bundle, tmp_path):
    runs = run_both(oci_bin, bundle, tmp_path, STATUS_CAPS,
                    with_caps(FIVE, {"uid": 1000, "gid": 1000}))
    # a user other than root keeps only its ambient set across the exec
    kill = caps_mask("CAP_KILL")
    same_as_runc(runs, 0, f"CapInh:\t{caps_mask('CAP_KILL', 'CAP_NET_ADMIN')}\n"
                          f"CapPrm:\t{kill}\nCapEff:\t{kill}\n"
                          f"CapBnd:\t{caps_mask(*FIVE['bounding'])}\nCapAmb:\t{kill}\n")
    # docker's shape (no inheritable, no ambient): nothing is left after the exec
    caps = {k: ["CAP_NET_BIND_SERVICE", "CAP_CHOWN"] for k in ("bounding", "effective",
                                                                "permitted")}
    runs = run_both(oci_bin, bundle, tmp_path, STATUS_CAPS,
                    with_caps(caps, {"uid": 1000, "gid": 1000}))
    zero = caps_mask()
    same_as_runc(runs, 0, f"CapInh:\t{zero}\nCapPrm:\t{zero}\nCapEff:\t{zero}\n"
                          f"CapBnd:\t{caps_mask('CAP_NET_BIND_SERVICE', 'CAP_CHOWN')}\n"
                          f"CapAmb:\t{zero}\n")


def test_capability_unknown_name_refused(oci_bin, bundle, tmp_path):
    caps = {k: ["CAP_CHOWN", "CAP_EXPLODE"] for k in ("bounding", "effective", "permitted")}
    runs = run_both(oci_bin, bundle, tmp_path, ["true"], with_caps(caps))
    # runc 1.1 warns and leaves the name out; gantry refuses it at create, naming it
    if "runc" in runs:
        assert runs["runc"].returncode == 0, runs["runc"]
        assert "ignoring unknown or unavailable capabilities" in runs["runc"].stderr
    refused(runs, "process.capabilities.bounding", "CAP_EXPLODE", runtimes_=("gantry",))


def test_capability_ambient_outside_inheritable_refused(oci_bin, bundle, tmp_path):
    caps = dict(FIVE, inheritable=["CAP_NET_ADMIN"])  # CAP_KILL ambient, not inheritable
    runs = run_both(oci_bin, bundle, tmp_path, ["grep", "^CapAmb", "/proc/self/status"],
                    with_caps(caps))
    # runc 1.1 ignores the kernel's refusal to raise it (the container runs without it)
    if "runc" in runs:
        assert runs["runc"].returncode == 0 and runs["runc"].stdout == f"CapAmb:\t{caps_mask()}\n"
    refused(runs, "process.capabilities.ambient", "CAP_KILL", runtimes_=("gantry",))


# ---- 2. process.user.umask ----

UMASK = ["sh", "-c", "umask; touch /tmp/um-f; mkdir /tmp/um-d; stat -c %a /tmp/um-f /tmp/um-d; "
                     "rm -rf /tmp/um-f /tmp/um-d"]


def test_umask_of_the_process(oci_bin, bundle, tmp_path):
    def edit(cfg):
        cfg["process"]["user"]["umask"] = 0o027
    runs = run_both(oci_bin, bundle, tmp_path, UMASK, edit)
    same_as_runc(runs, 0, "0027\n640\n750\n")


def test_umask_default_is_0022_whatever_the_callers(oci_bin, bundle, tmp_path):
    def edit(cfg):
        cfg["process"]["user"].pop("umask", None)
    runs = runs_with_umask(0o077, lambda: run_both(oci_bin, bundle, tmp_path, UMASK, edit))
    same_as_runc(runs, 0, "0022\n644\n755\n")


# ---- 3. HOME ----

HOME = ["sh", "-c", "env | grep ^HOME= || echo no-home"]


def home_runs(oci_bin, bundle, tmp_path, env_home, uid):
    def edit(cfg):
        env = [e for e in cfg["process"]["env"] if not e.startswith("HOME=")]
        if env_home is not None:
            env.append("HOME=" + env_home)
        cfg["process"]["env"] = env
        cfg["process"]["user"] = {"uid": uid, "gid": uid}
    return run_both(oci_bin, bundle, tmp_path, HOME, edit)


def test_home_from_the_containers_passwd(oci_bin, bundle, tmp_path):
    same_as_runc(home_runs(oci_bin, bundle, tmp_path, None, 0), 0, "HOME=/root\n")
    same_as_runc(home_runs(oci_bin, bundle, tmp_path, None, 65534), 0, "HOME=/nonexistent\n")
    # no entry for the uid: "/"
    same_as_runc(home_runs(oci_bin, bundle, tmp_path, None, 1234), 0, "HOME=/\n")
    # an empty HOME is replaced as a missing one
    same_as_runc(home_runs(oci_bin, bundle, tmp_path, "", 0), 0, "HOME=/root\n")
    # the env's own is kept
    same_as_runc(home_runs(oci_bin, bundle, tmp_path, "/work", 0), 0, "HOME=/work\n")


# ---- 4. process.oomScoreAdj ----

def has_cap_sys_resource():
    with open("/proc/self/status") as f:
        eff = next(line for line in f if line.startswith("CapEff:"))
    return bool(int(eff.split()[1], 16) >> 24 & 1)


def test_oom_score_adj(oci_bin, bundle, tmp_path):
    for adj in (500, -300):
        def edit(cfg, adj=adj):
            cfg["process"]["oomScoreAdj"] = adj
        runs = run_both(oci_bin, bundle, tmp_path, ["cat", "/proc/self/oom_score_adj"], edit)
        if adj < 0 and not has_cap_sys_resource():
            # lowering it takes CAP_SYS_RESOURCE, which a root without it (this machine's, in
            # a container) lacks: runc's nsexec fails, and so does gantry, naming the field
            refused(runs, "process.oomScoreAdj", "CAP_SYS_RESOURCE")
        else:
            same_as_runc(runs, 0, f"{adj}\n")


def test_oom_score_adj_out_of_range_refused(oci_bin, bundle, tmp_path):
    def edit(cfg):
        cfg["process"]["oomScoreAdj"] = 1001
    refused(run_both(oci_bin, bundle, tmp_path, ["true"], edit), "process.oomScoreAdj")


# ---- 5. process.cwd ----

def test_missing_cwd_made_on_a_read_only_root(oci_bin, bundle, tmp_path):
    def edit(cfg):
        cfg["process"]["cwd"] = "/made/by/runtime"
        cfg["root"]["readonly"] = True

    def clean(rootfs):
        subprocess.run(["rm", "-rf", str(rootfs / "made")], check=True)
    args = ["sh", "-c", "pwd; stat -c %a /made /made/by /made/by/runtime"]
    runs = runs_with_umask(0o022, lambda: run_each(oci_bin, bundle, tmp_path, args, edit,
                                                   clean))
    same_as_runc(runs, 0, "/made/by/runtime\n755\n755\n755\n")


def test_cwd_that_is_a_file_refused(oci_bin, bundle, tmp_path):
    def edit(cfg):
        cfg["process"]["cwd"] = "/etc/passwd"
    refused(run_both(oci_bin, bundle, tmp_path, ["true"], edit), "/etc/passwd")


# ---- 6. linux.sysctl ----

def sysctl_edit(sysctl, add=(), drop=()):
    def edit(cfg):
        cfg["linux"]["sysctl"] = sysctl
        ns = [n for n in cfg["linux"]["namespaces"] if n["type"] not in drop]
        ns += [{"type": t} for t in add if t not in [n["type"] for n in ns]]
        cfg["linux"]["namespaces"] = ns
    return edit


def test_sysctl_written_in_the_containers_namespaces(oci_bin, bundle, tmp_path):
    args = ["cat", "/proc/sys/net/ipv4/ip_forward", "/proc/sys/net/ipv4/conf/lo/forwarding",
            "/proc/sys/kernel/shmmni", "/proc/sys/kernel/domainname"]
    edit = sysctl_edit({"net.ipv4.ip_forward": "1", "net/ipv4/conf/lo/forwarding": "1",
                        "kernel.shmmni": "1234", "kernel.domainname": "sysctl.example"},
                       add=("network", "ipc", "uts"))
    same_as_runc(run_both(oci_bin, bundle, tmp_path, args, edit), 0,
                 "1\n1\n1234\nsysctl.example\n")
    # the host's are untouched
    with open("/proc/sys/kernel/domainname") as f:
        assert f.read().strip() != "sysctl.example"


def test_sysctl_outside_the_containers_namespaces_refused(oci_bin, bundle, tmp_path):
    cases = [({"net.ipv4.ip_forward": "1"}, (), ("network",), "network namespace"),
             ({"kernel.shmmni": "1234"}, (), ("ipc",), "IPC namespace"),
             ({"kernel.hostname": "x"}, ("uts",), (), "hostname"),
             ({"vm.swappiness": "10"}, (), (), "not in a separate kernel namespace")]
    for sysctl, add, drop, words in cases:
        runs = run_both(oci_bin, bundle, tmp_path, ["true"], sysctl_edit(sysctl, add, drop))
        refused(runs, "linux.sysctl", list(sysctl)[0], words)


# ---- 7. hostname and domainname ----

def test_hostname(oci_bin, bundle, tmp_path):
    def edit(cfg):
        cfg["hostname"] = "box-one"
    same_as_runc(run_both(oci_bin, bundle, tmp_path, ["hostname"], edit), 0, "box-one\n")

    def no_uts(cfg):
        cfg["hostname"] = "box-one"
        cfg["linux"]["namespaces"] = [n for n in cfg["linux"]["namespaces"]
                                      if n["type"] != "uts"]
    refused(run_both(oci_bin, bundle, tmp_path, ["true"], no_uts), "hostname", "UTS namespace")


def test_domainname(oci_bin, bundle, tmp_path):
    # runtime-spec 1.1's domainname: runc 1.1 does not read the field (runc 1.2 sets it, as
    # gantry does); what runc 1.1 offers is the kernel.domainname sysctl, which gives the
    # container the same view
    args = ["cat", "/proc/sys/kernel/domainname"]

    def field(cfg):
        cfg["domainname"] = "field.example"
        cfg["linux"].pop("sysctl", None)
    runs = run_both(oci_bin, bundle, tmp_path, args, field)
    assert runs["gantry"].returncode == 0 and runs["gantry"].stdout == "field.example\n", runs
    if "runc" in runs:
        via_sysctl = run_both(oci_bin, bundle, tmp_path, args,
                              sysctl_edit({"kernel.domainname": "field.example"}, add=("uts",)))
        assert via_sysctl["runc"].stdout == runs["gantry"].stdout, via_sysctl

    def no_uts(cfg):
        cfg["domainname"] = "field.example"
        cfg.pop("hostname", None)
        cfg["linux"].pop("sysctl", None)
        cfg["linux"]["namespaces"] = [n for n in cfg["linux"]["namespaces"]
                                      if n["type"] != "uts"]
    runs = run_both(oci_bin, bundle, tmp_path, ["true"], no_uts)
    refused(runs, "domainname", "UTS namespace", runtimes_=("gantry",))


# ---- exec: the same steps for a process started in a running container ----

def exec_both(oci_bin, bundle, tmp_path, process, edit):
    """Creates and starts the bundle (sleeping; EDIT(cfg) applied) under runc (as root) and
    gantry oci, then `exec --process` PROCESS in it: {"runc": ..., "gantry": ...}."""
    def apply(cfg):
        cfg["process"]["args"] = ["sleep", "60"]
        cfg["process"]["terminal"] = False
        edit(cfg)
    edit_config(bundle, apply)
    pfile = tmp_path / "process.json"
    pfile.write_text(json.dumps(process))
    out = {}
    for name, binary in runtimes(oci_bin):
        base = [binary, "--root", str(tmp_path / f"{name}-state")]
        cid = f"x{os.getpid()}-{tmp_path.name[-12:]}-{name}"
        with open(tmp_path / f"{name}-create.log", "w") as log:  # files: the container keeps them
            created = subprocess.run(base + ["create", "--bundle", str(bundle), cid],
                                     stdin=subprocess.DEVNULL, stdout=log, stderr=log, timeout=60)
        assert created.returncode == 0, (tmp_path / f"{name}-create.log").read_text()
        try:
            subprocess.run(base + ["start", cid], check=True, timeout=60)
            out[name] = subprocess.run(base + ["exec", "--process", str(pfile), cid],
                                       capture_output=True, text=True, timeout=60,
                                       stdin=subprocess.DEVNULL)
        finally:
            subprocess.run(base + ["delete", "--force", cid], timeout=60)
    return out


def test_exec_process_capabilities_home_and_the_containers_oom_score_adj(oci_bin, bundle,
                                                                       tmp_path):
    def edit(cfg):
        cfg["process"]["oomScoreAdj"] = 300
    process = {"terminal": False, "user": {"uid": 65534, "gid": 65534}, "cwd": "/",
               "env": ["PATH=/bin"], "noNewPrivileges": True, "capabilities": FIVE,
               "oomScoreAdj": 700,  # runc takes the container's, not the process's
               "args": ["sh", "-c", "env | grep ^HOME=; grep -E '^Cap(Inh|Eff|Amb)' "
                                    "/proc/self/status; cat /proc/self/oom_score_adj"]}
    runs = exec_both(oci_bin, bundle, tmp_path, process, edit)
    kill = caps_mask("CAP_KILL")
    same_as_runc(runs, 0, f"HOME=/nonexistent\nCapInh:\t{caps_mask('CAP_KILL', 'CAP_NET_ADMIN')}"
                          f"\nCapEff:\t{kill}\nCapAmb:\t{kill}\n300\n")


# ---- gantry run: its flags reach the same steps ----

def test_gantry_run_capabilities_and_umask(g, mk, tmp_path):
    ref = load_busybox(g, mk, tmp_path)
    args = ["sh", "-c", "umask; grep -E '^Cap(Inh|Eff|Bnd|Amb)' /proc/self/status"]
    r = runs_with_umask(0o077, lambda: g.run("run", "--rm", "--cap-drop", "ALL", "--cap-add",
                                             "KILL", ref, *args))
    kill, zero = caps_mask("CAP_KILL"), caps_mask()
    assert r.out == (f"0022\nCapInh:\t{zero}\nCapEff:\t{kill}\nCapBnd:\t{kill}\n"
                     f"CapAmb:\t{zero}\n"), r
    r = g.run("run", "--rm", "-u", "1000", "--cap-drop", "ALL", "--cap-add", "KILL", ref,
              "grep", "^CapEff", "/proc/self/status")
    assert r.out == f"CapEff:\t{zero}\n", r
