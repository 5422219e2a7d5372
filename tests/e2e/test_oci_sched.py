"""`gantry oci` applies runtime-spec 1.2's process.scheduler (sched_setattr), process.ioPriority
(ioprio_set) and linux.memoryPolicy (set_mempolicy) in the container's process, as runc 1.2 and
crun do (issue 52), and `exec` honours the process's own (else the container's). Neither runtime
on the test machines takes them (runc 1.1.5 and crun 1.8.1 drop them without a word, `runc
features` lists none), so the container's view is checked against the values the spec asks
for: /proc/self/stat's nice and policy, `busybox ionice -p`, and /proc/self/numa_maps, which
shows the task's policy ("bind:0") on the mappings that have none of their own."""
import json
import os
import subprocess
from pathlib import Path

from ocidiff import bundle, edit_config, oci, oci_bin  # noqa: F401 (fixtures)

ROOT = os.geteuid() == 0
# cgroup v1 with real-time group scheduling (this VM's kernel): a cgroup's real-time budget
RT_GROUPS = Path("/sys/fs/cgroup/cpu/cpu.rt_runtime_us")


def can_sys_nice():
    """Real-time policies take CAP_SYS_NICE in the host's user namespace (root with it)."""
    with open("/proc/self/status") as f:
        eff = next(line for line in f if line.startswith("CapEff:"))
    return ROOT and bool(int(eff.split()[1], 16) >> 23 & 1)


def stat_fields(line):
    """{nice, rt_priority, policy} from a /proc/PID/stat line (proc(5) fields 19, 40, 41)."""
    rest = line[line.rindex(")") + 2:].split()
    return {"nice": int(rest[16]), "rt_priority": int(rest[37]), "policy": int(rest[38])}


def online_nodes():
    text = Path("/sys/devices/system/node/online").read_text().strip()
    nodes = set()
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        nodes.update(range(int(lo), int(hi or lo) + 1))
    return nodes


def run_gantry(oci_bin, bundle, tmp_path, args, edit):
    def apply(cfg):
        cfg["process"]["args"] = args
        cfg["process"]["terminal"] = False
        edit(cfg)
    edit_config(bundle, apply)
    return oci(oci_bin, tmp_path / "state", "run", "--bundle", bundle,
               f"s{os.getpid()}-{tmp_path.name[-12:]}", check=False, stdin=subprocess.DEVNULL)


# the shell (the container's process): its I/O priority, its stat, how many of its mappings show
# the bind policy; then a child's stat (cat's own, forked)
PEEK = "busybox ionice -p $$; cat /proc/$$/stat; grep -c ' bind:0 ' /proc/$$/numa_maps"
SHOW = ["sh", "-c", PEEK + "; cat /proc/self/stat; true"]  # (ash execs a last command: no fork)


def test_scheduler_io_priority_and_memory_policy_applied(oci_bin, bundle, tmp_path):
    def edit(cfg):
        cfg["process"]["scheduler"] = {"policy": "SCHED_BATCH", "nice": 7}
        cfg["process"]["ioPriority"] = {"class": "IOPRIO_CLASS_BE", "priority": 6}
        cfg["linux"]["memoryPolicy"] = {"mode": "MPOL_BIND", "nodes": "0"}
    r = run_gantry(oci_bin, bundle, tmp_path, SHOW, edit)
    assert r.returncode == 0, r
    ionice, mine, bound, child = r.stdout.splitlines()
    assert ionice == "best-effort: prio 6"
    assert stat_fields(mine) == {"nice": 7, "rt_priority": 0, "policy": 3}
    assert int(bound) > 0  # the task's policy, shown on every mapping without one of its own
    assert stat_fields(child) == stat_fields(mine)  # inherited by the workload's children


def test_realtime_policy_reset_on_fork(oci_bin, bundle, tmp_path):
    def edit(cfg):
        cfg["process"]["scheduler"] = {"policy": "SCHED_FIFO", "priority": 10,
                                       "flags": ["SCHED_FLAG_RESET_ON_FORK"]}
        # IDLE has no levels: priority left out, as crun's suite writes it (runc 1.2's zero)
        cfg["process"]["ioPriority"] = {"class": "IOPRIO_CLASS_IDLE"}
        cfg["linux"]["memoryPolicy"] = {"mode": "MPOL_PREFERRED", "nodes": "0"}
        if RT_GROUPS.exists():  # a new cgroup has no real-time runtime: FIFO is EPERM there
            cfg["linux"].setdefault("resources", {})["cpu"] = {"realtimeRuntime": 10000,
                                                               "realtimePeriod": 1000000}
    r = run_gantry(oci_bin, bundle, tmp_path, SHOW, edit)
    if not can_sys_nice():
        assert r.returncode != 0 and "process.scheduler SCHED_FIFO" in r.stderr, r
        assert "CAP_SYS_NICE" in r.stderr, r
        return
    assert r.returncode == 0, r
    ionice, mine, bound, child = r.stdout.splitlines()
    assert ionice == "idle"
    assert stat_fields(mine) == {"nice": 0, "rt_priority": 10, "policy": 1}
    assert bound == "0"  # preferred, not bind
    assert stat_fields(child)["policy"] == 0  # the fork went back to SCHED_OTHER


def test_refusals_name_the_field_and_leave_nothing(oci_bin, bundle, tmp_path):
    absent = max(online_nodes()) + 1
    cases = [
        ({"process": {"scheduler": {"policy": "SCHED_OTHER", "nice": 20}}},
         "process.scheduler.nice"),
        ({"process": {"scheduler": {"policy": "SCHED_OTHER", "priority": 3}}},
         "only for SCHED_FIFO and SCHED_RR"),
        ({"process": {"ioPriority": {"class": "IOPRIO_CLASS_BE", "priority": 8}}},
         "process.ioPriority.priority"),
        ({"linux": {"memoryPolicy": {"mode": "MPOL_BIND", "nodes": "0-"}}},
         "linux.memoryPolicy.nodes"),
        # a node this machine lacks: the kernel refuses it in the container's process, and the
        # create fails saying so
        ({"linux": {"memoryPolicy": {"mode": "MPOL_BIND", "nodes": str(absent)}}},
         f"cannot set linux.memoryPolicy MPOL_BIND nodes \"{absent}\": Invalid argument"),
    ]
    state = tmp_path / "state"
    for i, (extra, words) in enumerate(cases):
        def edit(cfg, extra=extra):
            cfg["process"]["args"] = ["true"]
            cfg["process"]["terminal"] = False
            cfg["process"].pop("scheduler", None)
            cfg["process"].pop("ioPriority", None)
            cfg["linux"].pop("memoryPolicy", None)
            for k, v in extra.items():
                cfg[k].update(v)
        edit_config(bundle, edit)
        r = oci(oci_bin, state, "create", "--bundle", bundle, f"r{i}-{os.getpid()}",
                check=False, stdin=subprocess.DEVNULL)
        assert r.returncode == 1 and words in r.stderr, (extra, r)
        assert json.loads(oci(oci_bin, state, "list", "--format", "json").stdout or "[]") == []


def test_exec_takes_the_process_scheduler_else_the_containers(oci_bin, bundle, tmp_path):
    def edit(cfg):
        cfg["process"]["args"] = ["sleep", "60"]
        cfg["process"]["terminal"] = False
        cfg["process"]["scheduler"] = {"policy": "SCHED_BATCH", "nice": 3}
        cfg["process"]["ioPriority"] = {"class": "IOPRIO_CLASS_BE", "priority": 2}
        cfg["linux"]["memoryPolicy"] = {"mode": "MPOL_BIND", "nodes": "0"}
    edit_config(bundle, edit)
    state, cid = tmp_path / "state", f"x{os.getpid()}-{tmp_path.name[-12:]}"
    show = ["sh", "-c", PEEK]
    own = {"terminal": False, "cwd": "/", "env": ["PATH=/bin"], "args": show,
           "scheduler": {"policy": "SCHED_IDLE"},
           "ioPriority": {"class": "IOPRIO_CLASS_IDLE", "priority": 0}}
    (tmp_path / "own.json").write_text(json.dumps(own))
    (tmp_path / "none.json").write_text(json.dumps(
        {k: v for k, v in own.items() if k not in ("scheduler", "ioPriority")}))
    with open(tmp_path / "create.log", "w") as log:  # a file: the container keeps it open
        created = subprocess.run([str(oci_bin), "--root", str(state), "create", "--bundle",
                                  str(bundle), cid], stdin=subprocess.DEVNULL, stdout=log,
                                 stderr=log, timeout=60)
    assert created.returncode == 0, (tmp_path / "create.log").read_text()
    try:
        oci(oci_bin, state, "start", cid)
        r = oci(oci_bin, state, "exec", "--process", tmp_path / "own.json", cid)
        ionice, stat, bound = r.stdout.splitlines()
        assert (ionice, stat_fields(stat)["policy"], bound != "0") == ("idle", 5, True)
        r = oci(oci_bin, state, "exec", "--process", tmp_path / "none.json", cid)
        ionice, stat, bound = r.stdout.splitlines()
        assert ionice == "best-effort: prio 2"
        assert stat_fields(stat) == {"nice": 3, "rt_priority": 0, "policy": 3}
    finally:
        oci(oci_bin, state, "delete", "--force", cid, check=False)


def test_features_list_the_memory_policy(oci_bin, tmp_path):
    f = json.loads(oci(oci_bin, tmp_path / "state", "features").stdout)
    assert f["linux"]["memoryPolicy"]["modes"][:3] == ["MPOL_DEFAULT", "MPOL_PREFERRED",
                                                       "MPOL_BIND"]
    assert "MPOL_F_STATIC_NODES" in f["linux"]["memoryPolicy"]["flags"]
