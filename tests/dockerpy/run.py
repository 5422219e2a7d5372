#!/usr/bin/env python3
"""docker-py 5.0.3's own integration tests against gantry's Engine API and podman 4.3's service,
side by side on this machine (issue 76's Done-when; docs/testing.md, "docker-py's suite").

    tests/dockerpy/run.py --src DOCKERPY_SRC [--gantry BIN] [--out DIR] [--only REGEX] [SUITE...]

DOCKERPY_SRC is `git archive 5.0.3` of github.com/docker/docker-py (its tests/ tree; the client
it imports is Debian's python3-docker 5.0.3, the same release). SUITE: module names under
tests/integration (default: the container, exec and image suites, API and models). As root.

Each engine gets a store of its own in a temporary directory, the same stand-in images loaded
into it (docker-py pulls alpine:3.10 and uses busybox and alpine tags; no registry is reachable
here, so they are busybox images under those names, made by tests/fixtures/mkimage), and a
service on a unix socket that DOCKER_HOST points at. Prints the counts per engine, then every
test whose outcome differs, and writes OUT/<engine>.xml (JUnit), OUT/<engine>.log and
OUT/summary.txt (OUT: --out, default build/dockerpy); the temporary directory is removed."""
import argparse
import json
import os
import resource
import select
import shutil
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from fixtures import mkimage  # noqa: E402

DEFAULT_SUITES = ["api_container_test", "api_exec_test", "api_image_test",
                  "models_containers_test", "models_images_test"]
# the tags docker-py's tests name (tests/integration/base.py TEST_IMG, helpers, the tests)
STANDIN_TAGS = ["alpine:3.10", "alpine:latest", "busybox:latest", "busybox:buildroot-2014.02"]


def standin_archive(path):
    image = mkimage.busybox_image(cmd=["/bin/sh"])
    mkimage.write_docker_archive(path, [(image, STANDIN_TAGS)])


def wait_for_socket(sock, proc, what, within=60):
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{what} exited ({proc.returncode}) before it served {sock}")
        if sock.exists():
            return
        time.sleep(0.05)
    raise SystemExit(f"{what} did not serve {sock} within {within} s")


class Engine:
    def __init__(self, name, work):
        self.name, self.work = name, work
        self.sock = work / "api.sock"
        self.proc = None

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class GantryEngine(Engine):
    def __init__(self, work, binary):
        super().__init__("gantry", work)
        self.bin = binary
        self.env = dict(os.environ, GANTRY_ROOT=str(work / "store"))

    def load(self, archive):
        subprocess.run([self.bin, "load", "-i", str(archive)], env=self.env, check=True,
                       capture_output=True)

    def _serve(self):
        self.proc = subprocess.Popen([self.bin, "system", "service", "--time", "0",
                                      f"unix://{self.sock}"], env=self.env,
                                     stderr=subprocess.PIPE, text=True)
        ready, _, _ = select.select([self.proc.stderr], [], [], 60)
        line = self.proc.stderr.readline() if ready else ""
        if "serving" not in line:
            self.stop()
            raise SystemExit(f"gantry system service did not start: {line!r}")

    def start(self):
        self._serve()

    def records(self):
        """{id: record directory} of the containers kept on this store. As root the records live
        in /run/gantry beside other stores' (records/state.hpp runtime_dir()); a record names
        its store (state.json's store_root), so a container the suite made on an image it
        removed, or renamed, is still found."""
        store, found = str(self.work / "store"), {}
        for state in Path("/run/gantry").glob("*/state.json"):
            try:
                rec = json.loads(state.read_text())
            except (OSError, ValueError):
                continue
            root = rec.get("store_root", "")
            if rec.get("id") and (root == store or root.startswith(store + "/")):
                found[rec["id"]] = state.parent
        return found

    def cleanup(self):
        # the containers the suite left, through gantry itself so that their mounts and
        # monitors go too; a record gantry could not remove is deleted, never left to name a
        # store that is about to be gone
        left = self.records()
        if left:
            subprocess.run([self.bin, "rm", "-f", "-v", *left], env=self.env,
                           capture_output=True)
        for rec in self.records().values():
            shutil.rmtree(rec, ignore_errors=True)


class PodmanEngine(Engine):
    def __init__(self, work):
        super().__init__("podman", work)
        self.base = ["podman", "--root", str(work / "root"), "--runroot", str(work / "runroot"),
                     "--tmpdir", str(work / "tmp")]

    def load(self, archive):
        subprocess.run(self.base + ["load", "-i", str(archive)], check=True, capture_output=True)

    def start(self):
        # podman gives a root container RLIMIT_NOFILE and RLIMIT_NPROC of 1048576 unless told
        # otherwise, which crun cannot set where the service lacks CAP_SYS_RESOURCE (this VM's
        # sandbox): the limits it has, NPROC at most 32768 (crun's setrlimit was refused above
        # that here, 65536 and the hard limit 96365 included, for no reason found)
        limits = []
        for name, res in (("nofile", resource.RLIMIT_NOFILE), ("nproc", resource.RLIMIT_NPROC)):
            hard = resource.getrlimit(res)[1]
            if name == "nproc":
                hard = 32768 if hard == resource.RLIM_INFINITY else min(hard, 32768)
            if hard != resource.RLIM_INFINITY:
                limits.append(f'"{name}={hard}:{hard}"')
        conf = self.work / "containers.conf"
        conf.write_text(f'[containers]\ndefault_ulimits = [{", ".join(limits)}]\n')
        self.proc = subprocess.Popen(self.base + ["system", "service", "--time", "0",
                                                  f"unix://{self.sock}"],
                                     env=dict(os.environ, CONTAINERS_CONF=str(conf)),
                                     stderr=subprocess.DEVNULL)
        wait_for_socket(self.sock, self.proc, "podman system service")

    def cleanup(self):
        subprocess.run(self.base + ["rm", "-f", "-a"], capture_output=True)
        subprocess.run(self.base + ["system", "reset", "-f"], capture_output=True)


def unmount_under(path):
    """Unmounts whatever is mounted at or below PATH, deepest first: podman's overlay driver
    bind-mounts its root/overlay onto itself and `system reset` leaves that mount, which made
    shutil.rmtree leave the directory behind."""
    prefix = str(path)
    with open("/proc/self/mountinfo") as f:
        points = [line.split()[4] for line in f]
    points = [p.replace("\\040", " ") for p in points]
    for p in sorted({p for p in points if p == prefix or p.startswith(prefix + "/")},
                    key=len, reverse=True):
        subprocess.run(["umount", "-l", p], capture_output=True)


def run_suite(engine, src, suites, out, only, timeout):
    xml = out / f"{engine.name}.xml"
    files = [f"tests/integration/{s}.py" for s in suites]
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "timeout",
           f"--timeout={timeout}", f"--junitxml={xml}", "-o", "junit_family=xunit1",
           "--rootdir", str(src), *files]
    if only:
        cmd += ["-k", only]
    # Debian 12's setuptools warns in distutils' Version classes, which docker-py 5.0.3 compares
    # API versions with, and its conftest turns every warning into an error: the standard
    # library's distutils (Python 3.11) has the same classes without the warning
    env = dict(os.environ, DOCKER_HOST=f"unix://{engine.sock}", PYTHONDONTWRITEBYTECODE="1",
               SETUPTOOLS_USE_DISTUTILS="stdlib")
    env.pop("DOCKER_TLS_VERIFY", None)
    start = time.monotonic()
    with open(out / f"{engine.name}.log", "w") as log:
        subprocess.run(cmd, cwd=src, env=env, stdout=log, stderr=subprocess.STDOUT)
    return xml, time.monotonic() - start


def outcomes(xml):
    """{test id: passed|failed|error|skipped} from a JUnit file."""
    res = {}
    for case in ET.parse(xml).getroot().iter("testcase"):
        tid = f"{case.get('classname')}::{case.get('name')}"
        kinds = [c.tag for c in case]
        res[tid] = ("failed" if "failure" in kinds else "error" if "error" in kinds
                    else "skipped" if "skipped" in kinds else "passed")
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--src", required=True, type=Path)
    ap.add_argument("--gantry", default=os.environ.get("GANTRY_BIN", "build/gantry"))
    ap.add_argument("--out", type=Path, default=None,
                    help="where the logs, JUnit files and summary go (default build/dockerpy)")
    ap.add_argument("--only", default=None, help="pytest -k expression")
    ap.add_argument("--timeout", type=int, default=120, help="seconds per test")
    ap.add_argument("--engines", default="gantry,podman")
    ap.add_argument("suites", nargs="*", default=DEFAULT_SUITES)
    args = ap.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("tests/dockerpy/run.py runs as root (podman's root service beside gantry's)")
    if not (args.src / "tests" / "integration" / "base.py").exists():
        raise SystemExit(f"{args.src}: not a docker-py source tree (git archive 5.0.3 of docker-py)")
    gantry_bin = str(Path(args.gantry).resolve())
    work = Path(tempfile.mkdtemp(prefix="dockerpy-"))
    out = args.out or Path("build/dockerpy")
    out.mkdir(parents=True, exist_ok=True)
    archive = work / "standins.tar"
    standin_archive(archive)
    results, walls = {}, {}
    try:
        for name in args.engines.split(","):
            (work / name).mkdir()
            engine = (GantryEngine(work / name, gantry_bin) if name == "gantry"
                      else PodmanEngine(work / name))
            engine.load(archive)
            engine.start()
            try:
                xml, walls[name] = run_suite(engine, args.src, args.suites, out, args.only,
                                             args.timeout)
            finally:
                engine.stop()
                engine.cleanup()
            results[name] = outcomes(xml) if xml.exists() else {}
    finally:
        for name in ("gantry", "podman"):
            unmount_under(work / name)
            shutil.rmtree(work / name, ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)  # its logs and JUnit files are in OUT
    lines = []
    for name, res in results.items():
        counts = {k: sum(1 for v in res.values() if v == k)
                  for k in ("passed", "failed", "error", "skipped")}
        lines.append(f"{name}: {len(res)} tests, " + ", ".join(f"{v} {k}" for k, v in
                                                              counts.items())
                     + f" ({walls[name]:.0f} s)")
    if len(results) == 2:
        a, b = list(results)
        ids = sorted(set(results[a]) | set(results[b]))
        diff = [(t, results[a].get(t, "-"), results[b].get(t, "-")) for t in ids
                if results[a].get(t) != results[b].get(t)]
        lines.append(f"differences ({a} / {b}): {len(diff)}")
        lines += [f"  {ra:8} {rb:8} {t}" for t, ra, rb in diff]
    text = "\n".join(lines) + "\n"
    (out / "summary.txt").write_text(text)
    print(text + f"logs and JUnit files: {out}")


if __name__ == "__main__":
    main()
