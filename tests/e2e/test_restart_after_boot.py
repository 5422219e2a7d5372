"""Restart policies after a reboot (issue 76): records live in the runtime directory, which a
boot clears; a container started with --restart always, or unless-stopped and not stopped by
its user, keeps a copy of its record in the store, and `gantry system boot` (what the package's
gantry-restart.service runs) records and starts it again under its name and ID, on its volume.
The reboot is simulated: every process of the containers' monitors' sessions killed (as a
power-off ends them: nothing recorded), the runtime directory removed, then the unit's
ExecStart run. Rootless, with a runtime directory of the test's own (XDG_RUNTIME_DIR); root's
is /run/gantry, shared with every other test, and takes the same path through the code."""
import json
import os
import shutil
import signal
import time
from pathlib import Path

from conftest import load_busybox
from fixtures import mkimage

UNIT = Path(__file__).resolve().parents[2] / "packaging" / "systemd" / "gantry-restart.service.in"


def sessions_of(sids):
    """Pids of every live process whose session is one of SIDS (a monitor's setsid: its
    copier, health checker, network stack and container processes); an exited one not yet
    reaped is gone."""
    out = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if fields[0] != "Z" and int(fields[3]) in sids:  # field 6: the session id
            out.append(int(d.name))
    return out


def power_off(g, xdg):
    """What a reboot does to the containers: their processes gone without a word, the runtime
    directory empty."""
    sids = set()
    for state in (xdg / "gantry").glob("*/state.json"):
        monitor = json.loads(state.read_text()).get("monitor", 0)
        if monitor > 0:
            sids.add(monitor)
    for _ in range(3):  # a process forked while we looked is found the next time
        for pid in sessions_of(sids):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.1)
    assert not sessions_of(sids)
    shutil.rmtree(xdg / "gantry")


def unit_command(g):
    """The unit's ExecStart, with the binary under test for its installed path."""
    line = next(x for x in UNIT.read_text().splitlines() if x.startswith("ExecStart="))
    argv = line[len("ExecStart="):].split()
    assert argv[0] == "@CMAKE_INSTALL_FULL_BINDIR@/gantry", argv
    return argv[1:]


def test_system_boot_brings_back_always_and_unless_stopped(rootless):
    g = rootless
    xdg = g.base / "xdg"
    xdg.mkdir(mode=0o700)
    if os.geteuid() == 0:
        os.chown(xdg, g.user.pw_uid, g.user.pw_gid)
    g.env["XDG_RUNTIME_DIR"] = str(xdg)
    load_busybox(g, mkimage, g.base)
    loop = "echo started >> /v/starts; exec sleep 1000"
    names = {}
    for name, policy in [("always", "always"), ("unless", "unless-stopped"),
                         ("stopped", "unless-stopped"), ("astopped", "always"),
                         ("onfail", "on-failure"), ("none", "no")]:
        names[name] = g.run("run", "-d", "--name", name, "--restart", policy, "-v",
                            f"vol-{name}:/v", "sample:latest", "sh", "-c", loop).out.strip()
    g.run("stop", "-t", "0", "stopped", "astopped")
    # nothing half-written: each kept record is whole JSON in its container's directory
    kept = sorted(p.parent.name for p in (g.root / "containers").glob("*/boot.json"))
    assert kept == sorted([names["always"], names["unless"], names["astopped"]]), kept
    g.run("rename", "unless", "unless2")
    assert not list((g.root / "containers").glob("*/boot.json.tmp*"))

    power_off(g, xdg)
    assert g.run("ps", "-a", "-q").out == ""  # the records went with the runtime directory
    r = g.run(*unit_command(g))
    # docker's daemon at its start: always (even one its user stopped), and unless-stopped
    # not stopped by its user; never on-failure or no
    assert sorted(r.out.split()) == ["always", "astopped", "unless2"], r
    ps = g.run("ps", "-a", "--no-trunc", "--format", "{{.Names}} {{.ID}} {{.State}}").out
    assert sorted(ps.splitlines()) == sorted(
        [f"always {names['always']} running", f"astopped {names['astopped']} running",
         f"unless2 {names['unless']} running"]), ps
    # on its own volume: the second start appended to what the first wrote
    deadline = time.monotonic() + 20
    while (r := g.run("exec", "always", "cat", "/v/starts")).out != "started\nstarted\n":
        assert time.monotonic() < deadline and r.out == "started\n", r
        time.sleep(0.05)  # its start returned once the workload ran; its echo follows
    # a second run finds them recorded: nothing started twice
    assert g.run(*unit_command(g)).out == ""
    # stopped by its user now: an unless-stopped container stays down at the next boot
    g.run("stop", "-t", "0", "unless2")
    power_off(g, xdg)
    r = g.run(*unit_command(g))
    assert sorted(r.out.split()) == ["always", "astopped"], r
    g.run("rm", "-f", "always", "astopped")
    assert not list((g.root / "containers").glob("*/boot.json"))  # gone with their directories
