#!/usr/bin/env bash
# Lazy pull benchmark (issue 40, "Benchmark"): see docs/lazy-pull.md.
#
#   bench/lazy.sh [--size 1g|5g] [--rounds N] [--delay MS] [--cases LIST] [--keep] [--reuse]
#
# As root. The image (bench/make_big_image.py, built once in $BENCH_DIR): --size 1g (default)
# the ~0.94 GB / 5-layer "full" profile (CUDA libraries, ~12k small files, 200 MB incompressible,
# docs, config; shared with pull.sh and load.sh); --size 5g issue 40's image, 5.3 GB in 6 layers
# (CUDA libraries 2.5 GB, a Python-like tree of 50k small files, 1.3 GB incompressible, system
# libraries, docs, config; building it once took 23 min on this 2-core VM under load and keeps
# 3.4 GB in $BENCH_DIR; a run of all cases needs ~30 GB free there, --cases full,lazy,lazy-ws
# ~19 GB). It is pushed to a docker-registry in a network namespace
# behind a veth whose both ends `tc tbf` limits to 1 Gbit/s, as gzip (bench/plain:1), eStargz
# (bench/lazy:1), zstd:chunked (bench/zstd:1) and gantry's squashfs artifact (bench/sqsh:1).
# The pulls go through bench/delay_proxy.c in the namespace, which adds DELAY ms (default 2)
# each way: this kernel has no sch_netem, so `tc` cannot; the script checks the added round
# trip (keep-alive GETs, direct and through the proxy) and prints it.
# The workload reads ~5% of the image the way `import torch` does (a few big libraries, many
# small files: the list is made from the image) and prints "ready"; the container's shell is
# the host's static busybox, bind-mounted (the image has none). Each round, in alternating
# order, each case in a fresh store:
#   full       gantry pull (gzip) + gantry run, to "ready"
#   lazy       gantry run --pull lazy of the eStargz image, to "ready" (background prefetch on)
#   lazy-np    the same with the background prefetch off (GANTRY_LAZY_PREFETCH=0): what it
#              costs the start
#   lazy-ws    the same on "another node": a fresh store given the working set the lazy run
#              recorded (ROOT/lazy/working-sets/), to "ready"
#   lazy-zstd  gantry run --pull lazy of the zstd:chunked image; lazy-sqsh: of the squashfs one
#   podman     podman pull + podman run (overlay, runc), to "ready"
#   read-full  gantry pull + run reading every file; read-lazy: the same read, lazily started
# and, with lazy-ws, the working set's floor after the rounds (three times each): floor-link, the
# bytes lazy-ws fetched as one Range of the largest blob over the same link; floor-local, the
# workload on the local image (a full pull, untimed, and one run to fill the page cache);
# and prints medians with min-max, the targets' ratios, and the CPU seconds per fetched MB
# (the veth's bytes). --cases picks some (comma-separated; lazy-ws needs lazy before it).
# --keep leaves $BENCH_DIR/lazy (the registry's storage, the workload's list) after the run;
# --reuse starts from what a --keep run of the same --size left there: no load, and no push of
# an image the registry has (an eStargz conversion of the 5g image takes ~3.5 min).
# A measurement, not a test: exits 0 whatever the ratios.
#
# Environment: BENCH_DIR=/var/tmp/gantry-bench, GANTRY=build/gantry, BENCH_PYTHON=/usr/bin/python3
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
rounds=3
keep=0
reuse=0
size=1g
delay=2
cases=full,lazy,lazy-ws,lazy-zstd,lazy-sqsh,podman,read-full,read-lazy
while (($#)); do
    case $1 in
    --rounds) rounds=${2:?--rounds needs a number}; shift ;;
    --size) size=${2:?--size needs 1g or 5g}; shift ;;
    --delay) delay=${2:?--delay needs milliseconds}; shift ;;
    --cases) cases=${2:?--cases needs a list}; shift ;;
    --keep) keep=1 ;;
    --reuse) reuse=1 keep=1 ;;
    -h | --help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "lazy.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
    esac
    shift
done
[[ $rounds =~ ^[1-9][0-9]*$ ]] || { echo "lazy.sh: --rounds needs a positive number" >&2; exit 2; }
case $size in
1g) profile=full ;;
5g) profile=5g ;;
*) echo "lazy.sh: --size is 1g or 5g, not '$size'" >&2; exit 2 ;;
esac
[[ $delay =~ ^[0-9]+(\.[0-9]+)?$ ]] || { echo "lazy.sh: --delay needs milliseconds (0 for none)" >&2; exit 2; }
for c in ${cases//,/ }; do
    [[ " full lazy lazy-np lazy-ws lazy-zstd lazy-sqsh podman read-full read-lazy " == *" $c "* ]] ||
        { echo "lazy.sh: unknown case '$c' in --cases" >&2; exit 2; }
done
die() { echo "lazy.sh: $*" >&2; exit 1; }
((EUID == 0)) || die "run as root (a network namespace, tc)"

BENCH_DIR=${BENCH_DIR:-/var/tmp/gantry-bench}
GANTRY=$(realpath "${GANTRY:-$here/../build/gantry}")
PY=${BENCH_PYTHON:-/usr/bin/python3}
[[ -x $GANTRY ]] || die "no gantry binary at $GANTRY (build it first, or set GANTRY=)"
missing=()
for t in docker-registry ip tc busybox podman runc curl cc; do command -v "$t" >/dev/null || missing+=("$t"); done
((${#missing[@]} == 0)) || die "missing tools: ${missing[*]}"

mkdir -p "$BENCH_DIR"
img=$BENCH_DIR/image-$profile
t0=$(date +%s)
"$PY" "$here/make_big_image.py" --profile "$profile" "$img" >/dev/null
echo "image ($profile): $(($(date +%s) - t0)) s (built once, then cached in $img)" >&2
T=$BENCH_DIR/lazy
if ((reuse)) && [[ -f $T/pushed && $(head -1 "$T/pushed") == "$profile" && -s $T/bb/list ]]; then
    find "$T" -mindepth 1 -maxdepth 1 ! -name registry ! -name pushed ! -name bb -exec rm -rf {} +
    echo "reusing the registry and workload of $T ($(tail -n +2 "$T/pushed" | tr '\n' ' '))" >&2
else
    reuse=0
    rm -rf "$T"
    mkdir -p "$T"
    echo "$profile" >"$T/pushed"
fi
ns=gantry-lazy-bench
host_if=glzb0
reg_pid=
proxy_pid=
cleanup() {
    local rc=$?
    for p in $proxy_pid $reg_pid; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null || true; done
    ip link del "$host_if" 2>/dev/null || true
    ip netns del "$ns" 2>/dev/null || true
    if ((keep)); then echo "kept: $T" >&2; else rm -rf "$T"; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# the registry's network: 1 Gbit/s each way
ip netns del "$ns" 2>/dev/null || true
ip link del "$host_if" 2>/dev/null || true
ip netns add "$ns"
ip link add "$host_if" type veth peer name glzb1
ip link set glzb1 netns "$ns"
ip addr add 10.240.40.1/24 dev "$host_if"
ip link set "$host_if" up
ip netns exec "$ns" ip addr add 10.240.40.2/24 dev glzb1
ip netns exec "$ns" ip link set glzb1 up
ip netns exec "$ns" ip link set lo up
# the rate is tbf's; the delay is bench/delay_proxy.c's (this kernel has no sch_netem)
tc qdisc add dev "$host_if" root tbf rate 1gbit burst 512kb latency 20ms
ip netns exec "$ns" tc qdisc add dev glzb1 root tbf rate 1gbit burst 512kb latency 20ms
REG=10.240.40.2:5000  # pushes go straight to the registry
PULL=10.240.40.2:5001 # pulls go through the delay proxy
cat >"$T/registry.yml" <<YML
version: 0.1
storage:
  filesystem:
    rootdirectory: $T/registry
  delete:
    enabled: true
http:
  addr: 0.0.0.0:5000
log:
  level: info
  accesslog:
    disabled: true
YML
ip netns exec "$ns" docker-registry serve "$T/registry.yml" >"$T/registry.log" 2>&1 &
reg_pid=$!
for _ in $(seq 100); do curl -fs "http://$REG/v2/" >/dev/null && break; sleep 0.1; done
curl -fs "http://$REG/v2/" >/dev/null || die "the registry did not start ($T/registry.log)"
cc -O2 -o "$T/delay_proxy" "$here/delay_proxy.c"
ip netns exec "$ns" "$T/delay_proxy" "${PULL%:*}:5001" 127.0.0.1:5000 "$delay" &
proxy_pid=$!
for _ in $(seq 100); do curl -fs "http://$PULL/v2/" >/dev/null && break; sleep 0.1; done
"$PY" - "$REG" "$PULL" "$delay" <<'PY'
import http.client, statistics, sys, time
def rtt(hostport, n=60):  # one keep-alive connection, request -> whole response
    h, p = hostport.rsplit(":", 1)
    c = http.client.HTTPConnection(h, int(p), timeout=10)
    out = []
    for _ in range(n):
        t = time.monotonic()
        c.request("GET", "/v2/")
        c.getresponse().read()
        out.append(time.monotonic() - t)
    return statistics.median(out[10:])
d, p = rtt(sys.argv[1]), rtt(sys.argv[2])
print(f"delay proxy ({sys.argv[3]} ms each way): GET /v2/ round trip {d * 1e3:.2f} ms direct, "
      f"{p * 1e3:.2f} ms through it: +{(p - d) * 1e3:.2f} ms", file=sys.stderr)
PY

# the image, pushed as gzip, eStargz, zstd:chunked and a squashfs artifact
export GANTRY_ROOT=$T/push-store
tag=gantry-bench:$profile
((reuse)) || "$GANTRY" load "$img/docker-archive.tar" >/dev/null
push() { # WHAT REF [push options]
    local what=$1 ref=$2 t0
    shift 2
    if grep -qx "$ref" "$T/pushed"; then
        echo "$what: reused" >&2
        return
    fi
    [[ -d $GANTRY_ROOT ]] || "$GANTRY" load "$img/docker-archive.tar" >/dev/null
    t0=$(date +%s.%N)
    "$GANTRY" push --tls-verify=false "$@" "$tag" "$REG/$ref" >"$T/push.log" 2>&1 ||
        die "push of $what failed: $(tail -3 "$T/push.log")"
    echo "$ref" >>"$T/pushed"
    echo "$what push: $(echo "$(date +%s.%N) - $t0" | bc) s" >&2
}
push gzip bench/plain:1
push eStargz bench/lazy:1 --compression estargz
[[ ,$cases, == *,lazy-zstd,* ]] && push zstd:chunked bench/zstd:1 --compression zstd:chunked
[[ ,$cases, == *,lazy-sqsh,* ]] && push squashfs bench/sqsh:1 --format squashfs

# the workload: the 4 largest libraries of the library layer under 4% of the image, and the
# first small files (sorted) of the small-files layer up to 1% more: ~5% read
mkdir -p "$T/bb"
cp "$(command -v busybox)" "$T/bb/busybox"
((reuse)) || "$PY" - "$GANTRY_ROOT" "$img/info.json" "$T/bb/list" <<'PY'
import json, os, sys
root, info, out = sys.argv[1:4]
info = json.load(open(info))
total = info["content_bytes"]
def files(diff_id):
    base = os.path.join(root, "layers", "sha256", diff_id.split(":")[1], "rootfs")
    for d, _, names in os.walk(base):
        for n in names:
            p = os.path.join(d, n)
            if os.path.isfile(p) and not os.path.islink(p):
                yield "/" + os.path.relpath(p, base), os.path.getsize(p)
lib = next(l for l in info["layers"] if l["kind"] == "library")
small = next(l for l in info["layers"] if l["kind"] == "small")
picked, size = [], 0
for p, s in sorted(files(lib["diff_id"]), key=lambda x: -x[1]):
    if size + s <= 0.04 * total and len([x for x in picked]) < 4:
        picked.append(p); size += s
# what an upper layer replaces or hides (a whiteout, an opaque directory) is not read
shadow = set()
for l in info["layers"][info["layers"].index(small) + 1:]:
    base = os.path.join(root, "layers", "sha256", l["diff_id"].split(":")[1], "rootfs")
    for d, dirs, names in os.walk(base):
        rel = "/" + os.path.relpath(d, base)
        for x in ("trusted.overlay.opaque", "user.overlay.opaque"):
            try:
                if os.getxattr(d, x) == b"y":
                    shadow.add(rel)
            except OSError:
                pass
        for n in names:
            shadow.add(os.path.normpath(rel + "/" + n))
def hidden(p):
    parts = p.split("/")
    return any("/".join(parts[:i]) in shadow for i in range(2, len(parts) + 1))
for p, s in sorted(files(small["diff_id"])):
    if hidden(p):
        continue
    if size + s > 0.05 * total:
        break
    picked.append(p); size += s
open(out, "w").write("\n".join(picked) + "\n")
print(f"workload: {len(picked)} files, {size / 1e6:.1f} MB of {total / 1e6:.1f} MB "
      f"({100 * size / total:.1f}%)", file=sys.stderr)
PY
((reuse)) && echo "workload: $(wc -l <"$T/bb/list") files (the reused list)" >&2
unset GANTRY_ROOT
rm -rf "$T/push-store"

BB="-v $T/bb:/bb:ro"
WORK="/bb/busybox sh -c '/bb/busybox xargs /bb/busybox cat </bb/list >/dev/null; echo ready'"
READ="/bb/busybox sh -c '/bb/busybox find / -xdev -type f -print0 | /bb/busybox xargs -0 /bb/busybox cat >/dev/null; echo ready'"
G="$GANTRY"
cat >"$T/containers.conf" <<'CONF'
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
CONF
P="podman --root $T/podman/root --runroot $T/podman/run --storage-driver overlay --runtime runc"
export CONTAINERS_CONF=$T/containers.conf

measure() { # LABEL COMMAND: a fresh store at $T/s, dropped afterwards
    local label=$1 cmd=$2
    rm -rf "$T/s" "$T/podman"
    mkdir -p "$T/s"
    [[ $label == lazy-ws && -d $T/ws ]] && mkdir -p "$T/s/lazy" && cp -r "$T/ws" "$T/s/lazy/working-sets"
    sync
    local before after
    before=$(grep -c 'http.request.method=GET.*blobs/sha256' "$T/registry.log" || true)
    GANTRY_ROOT=$T/s "$PY" "$here/lazy_measure.py" "$label" ready "$host_if" "$cmd" >"$T/one.json" ||
        echo "lazy.sh: $label failed" >&2
    after=$(grep -c 'http.request.method=GET.*blobs/sha256' "$T/registry.log" || true)
    "$PY" -c 'import json,sys; r=json.load(open(sys.argv[1])); r["gets"]=int(sys.argv[2]); print(json.dumps(r))' \
        "$T/one.json" "$((after - before))" >>"$T/results.jsonl"
    if [[ $label == lazy && -d $T/s/lazy/working-sets ]]; then
        rm -rf "$T/ws"
        cp -r "$T/s/lazy/working-sets" "$T/ws"
        rm -f "$T"/ws/*.rec-*
    fi
    [[ $label == podman ]] && $P rmi -a -f >/dev/null 2>&1 || true
    rm -rf "$T/s" "$T/podman"
}

R=$PULL
declare -A CMD=(
    [full]="$G pull -q --tls-verify=false $R/bench/plain:1 >/dev/null && $G run --rm $BB $R/bench/plain:1 $WORK"
    [lazy]="$G run --rm --pull lazy --tls-verify=false $BB $R/bench/lazy:1 $WORK"
    [lazy-np]="GANTRY_LAZY_PREFETCH=0 $G run --rm --pull lazy --tls-verify=false $BB $R/bench/lazy:1 $WORK"
    [lazy-ws]="$G run --rm --pull lazy --tls-verify=false $BB $R/bench/lazy:1 $WORK"
    [lazy-zstd]="$G run --rm --pull lazy --tls-verify=false $BB $R/bench/zstd:1 $WORK"
    [lazy-sqsh]="$G run --rm --pull lazy --tls-verify=false $BB $R/bench/sqsh:1 $WORK"
    [podman]="$P pull -q --tls-verify=false $R/bench/plain:1 >/dev/null && $P run --rm --net none $BB $R/bench/plain:1 $WORK"
    [read-full]="$G pull -q --tls-verify=false $R/bench/plain:1 >/dev/null && $G run --rm $BB $R/bench/plain:1 $READ"
    [read-lazy]="$G run --rm --pull lazy --tls-verify=false $BB $R/bench/lazy:1 $READ"
)
read -r -a order <<<"${cases//,/ }"
reverse=()
for c in "${order[@]}"; do [[ $c == lazy-ws ]] || reverse=("$c" "${reverse[@]}"); done
# lazy-ws needs the working set of a lazy run before it: right after lazy in both orders
for i in "${!reverse[@]}"; do
    [[ ${reverse[$i]} == lazy && " ${order[*]} " == *" lazy-ws "* ]] &&
        reverse=("${reverse[@]:0:i+1}" lazy-ws "${reverse[@]:i+1}")
done
for ((r = 0; r < rounds; r++)); do
    if ((r % 2)); then seq=("${reverse[@]}"); else seq=("${order[@]}"); fi
    for label in "${seq[@]}"; do
        echo "round $((r + 1))/$rounds: $label" >&2
        measure "$label" "${CMD[$label]}"
    done
done
# The working set's physical floor, in the same run (after the rounds, three times each): the
# bytes the lazy-ws runs fetched (their median) read as one Range of the image's largest blob
# through the same link and proxy (floor-link), and the workload on the image once it is local,
# its files in the page cache as a lazy start's are once fetched (floor-local), and what a start
# does before its first read: `gantry pull --lazy` (manifest, config, the TOCs fetched, verified,
# parsed and stored; floor-meta)
if [[ ,$cases, == *,lazy-ws,* ]]; then
    ws_bytes=$("$PY" -c 'import json,statistics,sys
v=[json.loads(l) for l in open(sys.argv[1])]
print(int(statistics.median(r["rx"] for r in v if r["label"]=="lazy-ws" and r["rc"]==0)))' "$T/results.jsonl")
    blob=$(curl -fs -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
        "http://$REG/v2/bench/plain/manifests/1" |
        "$PY" -c 'import json,sys; print(max(json.load(sys.stdin)["layers"], key=lambda l: l["size"])["digest"])')
    rm -rf "$T/s" && mkdir -p "$T/s"
    GANTRY_ROOT=$T/s $G pull -q --tls-verify=false "$R/bench/plain:1" >/dev/null
    GANTRY_ROOT=$T/s bash -c "$G run --rm $BB $R/bench/plain:1 $WORK" >/dev/null
    for ((r = 0; r < 3; r++)); do
        echo "floor $((r + 1))/3: $ws_bytes bytes over the link, the workload on the local image" >&2
        "$PY" "$here/lazy_measure.py" floor-link ready "$host_if" \
            "curl -fs -o /dev/null -r 0-$((ws_bytes - 1)) http://$R/v2/bench/plain/blobs/$blob && echo ready" \
            >>"$T/results.jsonl" || echo "lazy.sh: floor-link failed" >&2
        GANTRY_ROOT=$T/s "$PY" "$here/lazy_measure.py" floor-local ready "$host_if" \
            "$G run --rm $BB $R/bench/plain:1 $WORK" >>"$T/results.jsonl" ||
            echo "lazy.sh: floor-local failed" >&2
        rm -rf "$T/meta" && mkdir -p "$T/meta"
        GANTRY_ROOT=$T/meta "$PY" "$here/lazy_measure.py" floor-meta ready "$host_if" \
            "$G pull -q --lazy --tls-verify=false $R/bench/lazy:1 >/dev/null && echo ready" \
            >>"$T/results.jsonl" || echo "lazy.sh: floor-meta failed" >&2
    done
    rm -rf "$T/meta"
    rm -rf "$T/s"
fi
"$PY" - "$T/results.jsonl" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
by = {}
for r in rows:
    by.setdefault(r["label"], []).append(r)
def med(label, key):
    v = [r.get(key) for r in by.get(label, []) if r.get(key) is not None and r["rc"] == 0]
    return (statistics.median(v), min(v), max(v)) if v else None
print("| case | to \"ready\" (median, min-max) s | total s | CPU s | MB fetched | CPU s per fetched MB | blob GETs |")
print("|---|---|---|---|---|---|---|")
for label in ["full", "lazy", "lazy-np", "lazy-ws", "lazy-zstd", "lazy-sqsh", "podman",
              "read-full", "read-lazy", "floor-link", "floor-local", "floor-meta"]:
    if label not in by:
        continue
    f, t, c, x, g = (med(label, k) for k in ("first", "total", "cpu", "rx", "gets"))
    if not f:
        print(f"| {label} | failed | | | | | |"); continue
    per = c[0] / (x[0] / 1e6) if x and x[0] else float("nan")
    gets = f"{g[0]:.0f}" if g else ""  # the floor's cases count none
    print(f"| {label} | {f[0]:.2f} ({f[1]:.2f}-{f[2]:.2f}) | {t[0]:.2f} | {c[0]:.2f} | "
          f"{x[0] / 1e6:.0f} | {per:.4f} | {gets} |")
def ratio(a, b):
    x, y = med(a, "first"), med(b, "first")
    return f"{x[0] / y[0]:.3f}" if x and y else "n/a"
print()
print(f"lazy / full: {ratio('lazy', 'full')} (target <= 0.10); lazy-zstd / full: "
      f"{ratio('lazy-zstd', 'full')}; lazy-sqsh / full: {ratio('lazy-sqsh', 'full')}; "
      f"lazy-ws / full: {ratio('lazy-ws', 'full')} (target <= 0.05); read-lazy / read-full: "
      f"{ratio('read-lazy', 'read-full')} (target <= 1.3)")
def per_mb(label):
    c, x = med(label, "cpu"), med(label, "rx")
    return c[0] / (x[0] / 1e6) if c and x and x[0] else None
link, local, full = med("floor-link", "first"), med("floor-local", "first"), med("full", "first")
if link and local and full:
    floor = link[0] + local[0]
    print(f"working-set floor: its bytes over the link {link[0]:.2f} s + the workload on the "
          f"local image {local[0]:.2f} s = {floor:.2f} s, {floor / full[0]:.3f} of full "
          f"(lazy-ws: {ratio('lazy-ws', 'full')}; target <= 0.05)")
    meta = med("floor-meta", "first")
    if meta:
        print(f"with the metadata first (pull --lazy {meta[0]:.2f} s): {floor + meta[0]:.2f} s, "
              f"{(floor + meta[0]) / full[0]:.3f} of full")
a, b = per_mb("read-lazy"), per_mb("read-full")
if a and b:
    print(f"CPU per fetched MB, read-lazy / read-full: {a / b:.2f}x (target <= 1.5x)")
PY
