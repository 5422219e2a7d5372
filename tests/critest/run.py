#!/usr/bin/python3
"""critest (the CRI validation suite of kubernetes-sigs/cri-tools, v1.26.1) against gantry-oci and
runc, differentially (`make critest`; not part of make test: minutes per handler, docs/testing.md).

Starts the CRI node of tests/e2e/cri_node.py (a containerd 1.6 with its own config, root, state
and socket; handlers `runc` and `gantry`, whose BinaryName is this tree's gantry-oci, added by
`gantry k8s install`) in a network namespace of its own, with a bridge for the pods' network
(NETWORK), serves stand-ins for critest's images from the test registry through containerd's
mirrors of registry.k8s.io and gcr.io (standins.py), runs critest once per handler with the same
skips, and prints which tests passed with both, with runc only, with gantry only, with neither.

    tests/critest/run.py [--critest PATH] [--out DIR] [--handlers runc,gantry] [--focus REGEX]

--critest: default /var/cache/gantry-critest/critest (tests/critest/build.sh makes it).
--out: where each handler's critest log and JSON report, containerd's log and summary.md go (default a new
/tmp/gantry-critest-* directory). As root (containerd's CRI runs pods as root).
"""
import argparse
import json
import re
import shutil
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent / "e2e"), str(HERE.parent), str(HERE)]

import cri_node  # noqa: E402
import standins  # noqa: E402

MIRRORED = ("registry.k8s.io", "gcr.io")
assert standins.PAUSE == cri_node.PAUSE  # the node's sandbox_image, replaced by the stand-in
# The same for both handlers: tests that need what this node does not give, with why.
SKIPS = {
    r"public image with digest should be pulled":
        "pulls test-image-digest@sha256:9700f9...: only the real image has that digest, and the "
        "real registry is not reachable here",
}
# The pods' network, as a node's: a bridge with an address per pod and host ports (CNI's bridge,
# host-local and portmap plugins of Debian's containernetworking-plugins), in the network
# namespace the runner makes for itself, the registry, containerd and critest: nothing of the
# host's network changes, and it is gone when the runner exits.
NETWORK = ({"cniVersion": "0.4.0", "name": "critest",
            "plugins": [{"type": "bridge", "bridge": "cni0", "isGateway": True, "ipMasq": False,
                         "hairpinMode": True,
                         "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.88.0.0/16"}]],
                                  "routes": [{"dst": "0.0.0.0/0"}]}},
                        {"type": "portmap", "capabilities": {"portMappings": True}}]},
           ["bridge", "host-local", "portmap"])
NETNS_ENV = "GANTRY_CRITEST_NETNS"


class _Dirs:
    """What cri_node._start_node wants of pytest's tmp_path_factory."""

    def __init__(self, root):
        self.root = Path(root)

    def mktemp(self, name):
        return Path(tempfile.mkdtemp(prefix=name, dir=self.root))


def spec_name(spec):
    return " ".join(t for t in spec["ContainerHierarchyTexts"] + [spec["LeafNodeText"]] if t)


def results(report):
    """{test name: (state, first line of the failure)} of a ginkgo JSON report."""
    out = {}
    for suite in json.loads(Path(report).read_text()):
        for spec in suite.get("SpecReports") or []:
            if spec.get("LeafNodeType") != "It":
                continue
            msg = (spec.get("Failure") or {}).get("Message", "").strip()
            out[spec_name(spec)] = (spec["State"], msg.splitlines()[0][:200] if msg else "")
    return out


def host_shm_segments():
    """{shmid: (size, nattch, uid)} of the host's System V shared memory segments."""
    out = {}
    for line in Path("/proc/sysvipc/shm").read_text().splitlines()[1:]:
        f = line.split()
        out[f[1]] = (int(f[3]), int(f[6]), int(f[7]))
    return out


def remove_critests_segments(before):
    """critest's HostIpc tests make 1 MiB segments on the host (`ipcmk -M 1048576`) and leave
    them: those made since BEFORE, root's, unattached, of that size, are removed."""
    for shmid, (size, nattch, uid) in host_shm_segments().items():
        if shmid not in before and size == 1048576 and nattch == 0 and uid == 0:
            subprocess.run(["ipcrm", "-m", shmid], capture_output=True)


HEX_ID = re.compile(r"[0-9a-f]{64}")


def container_cgroups():
    """The cgroups (of the memory and pids hierarchies) named by a container's or a pod's ID."""
    out = set()
    for top in ("memory", "pids"):
        for d, subdirs, _ in os.walk(f"/sys/fs/cgroup/{top}"):
            out.update(f"{d}/{s}" for s in subdirs if HEX_ID.fullmatch(s))
    return out


def leftovers(node, cgroups_before):
    """What is left of critest's pods after its run: pods and containers containerd lists,
    processes of the node's (shims, containers: all but containerd and the registry), mounts
    under the node's directory, the containers' cgroups that were not there before."""
    left = {"pods": [p.id for p in node.cri.ListPodSandbox({}).items],
            "containers": [c.id for c in node.cri.ListContainers({}).containers],
            "processes": cri_node.our_processes(node.base, but=(node.proc.pid, node.reg.proc.pid)),
            "mounts": cri_node.our_mounts(node.base),
            "cgroups": sorted(container_cgroups() - cgroups_before)}
    return {k: v for k, v in left.items() if v}


def run_critest(critest, node, handler, out, focus):
    sock = f"unix://{node.base}/containerd.sock"
    args = [critest, f"--runtime-endpoint={sock}", f"--image-endpoint={sock}",
            f"--runtime-handler={handler}", f"--ginkgo.json-report={out}/{handler}.json",
            "--ginkgo.no-color", "--ginkgo.v", f"--ginkgo.skip={'|'.join(SKIPS)}"]
    if focus:
        args.append(f"--ginkgo.focus={focus}")
    roots = {h: node.base / f"{h}-root" / "k8s.io" for h in ("runc", "gantry")}
    existed = {h: r.is_dir() for h, r in roots.items()}
    start = time.monotonic()
    shm = host_shm_segments()
    cgroups = container_cgroups()
    try:
        with open(out / f"{handler}.log", "w") as log:
            # critest exits 1 when a test fails: the report says which
            subprocess.run(args, stdout=log, stderr=subprocess.STDOUT, cwd=out)
    finally:
        remove_critests_segments(shm)
    took = time.monotonic() - start
    # the handler's runtime ran the containers: its state directory (the handler's options.Root)
    # was made, and the other runtime's was not
    other = "runc" if handler == "gantry" else "gantry"
    if not roots[handler].is_dir():
        sys.exit(f"critest --runtime-handler={handler}: {roots[handler]} was not made: no "
                 f"container ran under {handler}")
    if roots[other].is_dir() and not existed[other]:
        sys.exit(f"critest --runtime-handler={handler}: {roots[other]} appeared: containers ran "
                 f"under {other}")
    report = out / f"{handler}.json"
    if not report.exists():
        sys.exit(f"critest wrote no report for {handler}: see {out}/{handler}.log")
    return results(report), took, leftovers(node, cgroups)


def table(res, handlers, took):
    a, b = handlers
    names = sorted(set(res[a]) | set(res[b]))
    passed = lambda h, n: res[h].get(n, ("missing", ""))[0] == "passed"  # noqa: E731
    skipped = [n for n in names if all(res[h].get(n, ("",))[0] == "skipped" for h in handlers)]
    groups = {"both": [], f"{a} only": [], f"{b} only": [], "neither": []}
    for n in names:
        if n in skipped:
            continue
        pa, pb = passed(a, n), passed(b, n)
        key = "both" if pa and pb else f"{a} only" if pa else f"{b} only" if pb else "neither"
        groups[key].append(n)
    containerd = subprocess.run(["containerd", "--version"], capture_output=True,
                                text=True).stdout.split()[2]
    lines = [f"critest v1.26.1, {time.strftime('%Y-%m-%d')}, containerd {containerd}", ""]
    for h in handlers:
        counts = {}
        for state, _ in res[h].values():
            counts[state] = counts.get(state, 0) + 1
        lines.append(f"- {h}: " + ", ".join(f"{v} {k}" for k, v in sorted(counts.items())) +
                     f" ({took[h]:.0f} s)")
    lines += ["", "| passed by | tests |", "|---|---|"]
    lines += [f"| {k} | {len(v)} |" for k, v in groups.items()]
    lines.append(f"| skipped (both) | {len(skipped)} |")
    for key in (f"{a} only", f"{b} only", "neither"):
        if groups[key]:
            lines += ["", f"{key}:"]
            for n in groups[key]:
                why = "; ".join(f"{h}: {res[h].get(n, ('missing', ''))[1]}" for h in handlers
                                if not passed(h, n))
                lines.append(f"- {n} ({why})")
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--critest", default="/var/cache/gantry-critest/critest")
    ap.add_argument("--out")
    ap.add_argument("--handlers", default="runc,gantry")
    ap.add_argument("--focus")
    opts = ap.parse_args()
    handlers = opts.handlers.split(",")
    if len(handlers) != 2 or any(h not in ("runc", "gantry") for h in handlers):
        sys.exit("run.py: --handlers: two of runc and gantry, comma-separated")
    for what, path in (("critest", opts.critest), ("busybox", standins.BUSYBOX)):
        if not os.access(path, os.X_OK):
            sys.exit(f"run.py: no {what} at {path}: tests/critest/build.sh makes it")
    if os.geteuid() != 0:
        sys.exit("run.py: run as root (containerd's CRI runs pods as root)")
    if os.environ.get(NETNS_ENV) != "1":  # again, in a network namespace of its own
        os.execvpe("unshare", ["unshare", "--net", "--", sys.executable, __file__, *sys.argv[1:]],
                   dict(os.environ, **{NETNS_ENV: "1"}))
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    out = Path(opts.out or tempfile.mkdtemp(prefix="gantry-critest-", dir="/tmp")).resolve()
    out.mkdir(parents=True, exist_ok=True)
    sys.path.insert(0, str(HERE.parent / "fixtures" / "gpuhost"))
    import gpuhost as gh

    work = Path(tempfile.mkdtemp(prefix="gcrit-", dir="/tmp"))
    node = cri_node.Node()
    try:
        cri_node._start_node(node, _Dirs(work), gh, MIRRORED, NETWORK)
        standins.push(node.reg, work)
        res, took, left = {}, {}, {}
        for h in handlers:
            print(f"critest --runtime-handler={h} (log: {out}/{h}.log)", flush=True)
            res[h], took[h], left[h] = run_critest(opts.critest, node, h, out, opts.focus)
        summary = table(res, handlers, took)
        summary += "\nLeft after the run (pods, containers, processes, mounts, cgroups):\n"
        summary += "".join(f"- {h}: {json.dumps(left[h]) if left[h] else 'nothing'}\n"
                           for h in handlers)
        summary += "\nSkipped for both, with why:\n" + "".join(
            f"- /{k}/: {v}\n" for k, v in SKIPS.items())
        (out / "summary.md").write_text(summary)
        print(summary)
    finally:
        if node.base is not None and (node.base / "containerd.log").exists():
            shutil.copy(node.base / "containerd.log", out / "containerd.log")
        cri_node._teardown(node)
        subprocess.run(["rm", "-rf", str(work)])
    return 0


if __name__ == "__main__":
    sys.exit(main())
