#!/usr/bin/python3
"""The TLS listener of `gantry system service` under a crowd that never authenticates (issue 73):
a client with a certificate's time to GET /_ping (p50, p95, max over N tries), the service's
threads and descriptors (idle, and the most under the crowd), its CPU seconds, and how often the
crowd reopened. The crowd and the client are tests/e2e/test_engine_api_tls_flood.py's (174
silent connections and 60 dripping a ClientHello, from 127.0.0.1-24).
usage (root): bench/tls_flood.py [GANTRY [N]]   (build/gantry, 50)"""
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO / "tests" / "e2e"), str(REPO / "tests")]
from test_engine_api_tls import _certs, _free_port  # noqa: E402
from test_engine_api_tls_flood import Crowd, held, ping  # noqa: E402

gantry = sys.argv[1] if len(sys.argv) > 1 else str(REPO / "build" / "gantry")
n = int(sys.argv[2]) if len(sys.argv) > 2 else 50
tmp = Path(tempfile.mkdtemp(prefix="tls-flood."))
_certs(tmp)
port = _free_port()
p = subprocess.Popen([gantry, "system", "service", "--time", "0", "--tlscert", tmp / "srv.pem",
                      "--tlskey", tmp / "srv.key", "--tlscacert", tmp / "ca.pem",
                      f"tcp://127.0.0.1:{port}"],
                     env={"PATH": "/usr/bin:/bin", "GANTRY_ROOT": str(tmp / "store")},
                     stderr=subprocess.PIPE, text=True)
lines = queue.Queue()
threading.Thread(target=lambda: [lines.put(line) for line in p.stderr], daemon=True).start()
while "serving" not in lines.get(timeout=30):
    pass


def cpu():
    f = Path(f"/proc/{p.pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


def q(v, x):
    return sorted(v)[min(len(v) - 1, int(x * len(v)))] * 1000 if v else float("nan")


try:
    idle = [ping(tmp, port)[0] for _ in range(n)]
    base = held(p.pid)
    sources = {"127.0.0.1": (30, 0)}
    sources.update({f"127.0.0.{i}": (12, 0) for i in range(2, 14)})
    sources.update({f"127.0.0.{i}": (0, 12) for i in range(20, 25)})
    with Crowd(port, sources) as crowd:
        while crowd.reopened < 50:
            crowd.stop.wait(0.05)
        c0, r0, t0 = cpu(), crowd.reopened, time.monotonic()
        took, most, failed = [], (0, 0), 0
        for i in range(n):
            try:
                t, got = ping(tmp, port, "127.0.0.1" if i % 2 else "127.0.0.99")
                took.append(t) if got.endswith(b"OK") else None
                failed += not got.endswith(b"OK")
            except OSError:
                failed += 1
            most = tuple(map(max, most, held(p.pid)))
        c1, r1, t1 = cpu(), crowd.reopened, time.monotonic()
    print(f"idle: /_ping p50 {q(idle, .5):.1f} ms, max {max(idle) * 1000:.1f} ms; "
          f"threads, fds {base}")
    print(f"under the crowd: {len(took)} answered, {failed} failed; p50 {q(took, .5):.1f} ms, "
          f"p95 {q(took, .95):.1f} ms, max {q(took, 1):.1f} ms; threads, fds at most {most}")
    print(f"the crowd reopened {r1 - r0} connections in {t1 - t0:.1f} s; "
          f"the service used {c1 - c0:.1f} CPU s")
finally:
    p.terminate()
    p.wait(timeout=10)
    shutil.rmtree(tmp, ignore_errors=True)
