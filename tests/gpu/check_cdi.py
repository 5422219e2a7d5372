"""tests/gpu: compares `gantry cdi generate --format json` (stdin) with the host's real file set:
every host path the spec names exists, every /dev/nvidiaN on the host is a device, and the
driver's libcuda.so.1 (ldconfig's, or under the driver root argv[1]) is mounted. One line; exit 1
when something is off."""
import glob
import json
import os
import subprocess
import sys

driver_root = sys.argv[1]
try:
    spec = json.load(sys.stdin)
except ValueError as e:
    print(f"cdi generate did not print JSON: {e}")
    sys.exit(1)
edits = [spec.get("containerEdits", {})] + [d.get("containerEdits", {}) for d in spec.get("devices", [])]
nodes = {n.get("hostPath") or n["path"] for e in edits for n in e.get("deviceNodes", [])}
mounts = {m["hostPath"] for e in edits for m in e.get("mounts", [])}
missing = sorted(p for p in nodes | mounts if not os.path.exists(p))
if missing:
    print("spec names host paths that do not exist: " + ", ".join(missing[:5]))
    sys.exit(1)
gpus = sorted(p for p in glob.glob("/dev/nvidia[0-9]*") if p[len("/dev/nvidia"):].isdigit())
absent = [g for g in gpus if g not in nodes]
if absent:
    print("host GPU nodes missing from the spec: " + ", ".join(absent))
    sys.exit(1)
if driver_root != "/":
    libcuda = sorted(glob.glob(os.path.join(driver_root, "**", "libcuda.so.1"), recursive=True))
else:
    out = subprocess.run(["/sbin/ldconfig", "-p"], capture_output=True, text=True).stdout
    libcuda = [l.split("=>")[-1].strip() for l in out.splitlines() if "libcuda.so.1 " in l]
real = {os.path.realpath(p) for p in libcuda}
if not real or not any(os.path.realpath(m) in real for m in mounts):
    print(f"the driver's libcuda.so.1 ({', '.join(libcuda) or 'none found'}) is not mounted")
    sys.exit(1)
print(f"{len(spec.get('devices', []))} devices, {len(nodes)} nodes, {len(mounts)} mounts, all on the host")
