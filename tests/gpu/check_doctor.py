"""tests/gpu: judges `gantry doctor --json` (stdin) of a healthy image on a real host: no
failure, the driver version nvidia-smi reports (argv[1]) and its compute capability (argv[2], "9.0")
in the findings. Prints one line; exit 1 when something is off."""
import json
import sys

driver, cc = sys.argv[1], sys.argv[2]
try:
    doc = json.load(sys.stdin)
except ValueError as e:
    print(f"doctor --json did not print JSON: {e}")
    sys.exit(1)
findings = doc.get("findings", [])
fails = [f for f in findings if f["severity"] == "fail"]
if fails:
    print("false failure on a healthy image: " + "; ".join(f"{f['id']}: {f['message']}" for f in fails))
    sys.exit(1)
text = " ".join(f["message"] for f in findings)
missing = [what for what, s in ((f"driver {driver}", f"driver {driver}"),
                                (f"compute capability {cc}", f"compute capability {cc}")) if s not in text]
if missing:
    print("doctor does not report " + " and ".join(missing))
    sys.exit(1)
print(f"result {doc.get('result')}, {len(findings)} findings, driver {driver}, cc {cc}")
