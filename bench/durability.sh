#!/usr/bin/env bash
# What durable publishes cost `gantry load` or `gantry pull` (issues 36 and 56, docs/storage.md
# "What it costs"), against the disk's own floor, measured in one run:
#
#   bench/durability.sh --no-sync BINARY [--rounds N] [--quick] [--pull]
#   bench/durability.sh --no-sync env [--rounds N] [--quick] [--pull]
#
# In alternated rounds, the page cache dropped before each command, a fresh store each time:
#   durable   gantry load of bench/load.sh's image (make_big_image.py) with this build; with
#             --pull, gantry pull of the same image from a docker-registry on 127.0.0.1 (pushed
#             there once with skopeo, untimed)
#   no-sync   the same load by BINARY: a build of the same tree whose syncs are no-ops, made with
#               sed -i 's/while (::fsync(fd) != 0) {/while ((void)fd, false) {/' src/util/fs.cpp
#               sed -i 's/if (::syncfs(rootfs_.get()) != 0)/if ((void)rootfs_, false)/' \
#                   src/store/store.cpp
#             (fs::sync_file, which every file and directory sync goes through, and the layer
#             tree's syncfs), so that the difference is the syncs and nothing else; or, with
#             `--no-sync env`, this same binary with GANTRY_UNSAFE_NO_SYNC=1 (the same two
#             places made no-ops by an environment variable meant for this bench only)
#   floor     the bytes the store holds after a load, written by dd in 1 MiB blocks to one file on
#             the same filesystem, with conv=fsync and without: what making that much data
#             durable costs this disk, whoever writes it
#   beside    the no-sync command with the floor's durable write (dd conv=fsync) started beside
#             it at the same moment, timed until both end: what that many bytes written durably
#             during the command cost it, written as early and as fast as the disk takes them,
#             by another process; a durable command cannot write its bytes earlier than it
#             makes them, so this is the floor a durable command is measured against
# Prints each one's median wall time, spread (min-max) and CPU time (user, system: medians), the
# durable/no-sync ratio of the medians (issue 56's target: <= 1.10), the durable command's cost
# over the no-sync one, and that cost against the floor's. A measurement, not a test: exits 0
# whatever the numbers are. Root (drop_caches).
#
#   --rounds N   alternated rounds (default 7)
#   --quick      the ~100 MB image of load.sh --quick
#   --pull       gantry pull instead of gantry load (needs docker-registry and skopeo)
#   --sync-calls one more durable command per round under `strace -f -c -w` of its sync calls
#                (fsync, fdatasync, syncfs, sync_file_range): the wall time spent blocked in
#                them, summed over threads, and how many. What the syncs cost without the CPU
#                time around them, which a machine whose CPUs are shared makes noisy.
# Environment: BENCH_DIR (default /var/tmp/gantry-bench, where load.sh caches its image),
# GANTRY (default build/gantry), BENCH_NICE (e.g. -10: every timed command runs under
# `nice -n BENCH_NICE`, so that compilers sharing the CPUs weigh less on the wall times).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
rounds=7
profile=full
nosync=
mode=load
synccalls=
usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; }
while (($#)); do
    case $1 in
    --no-sync) nosync=${2:?--no-sync needs a binary}; shift ;;
    --rounds) rounds=${2:?--rounds needs a number}; shift ;;
    --quick) profile=quick ;;
    --pull) mode=pull ;;
    --sync-calls) synccalls=1 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "durability.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
    esac
    shift
done
die() { echo "durability.sh: $*" >&2; exit 1; }
[[ $nosync == env || ( -n $nosync && -x $nosync ) ]] ||
    die "--no-sync BINARY (or env) is required (see --help for how to build it)"
[[ $rounds =~ ^[1-9][0-9]*$ ]] || die "--rounds needs a positive number, not '$rounds'"
(($(id -u) == 0)) || die "needs root (it drops the page cache before every command)"
GANTRY=${GANTRY:-$here/../build/gantry}
[[ -x $GANTRY ]] || die "no gantry binary at $GANTRY"
BENCH_DIR=${BENCH_DIR:-/var/tmp/gantry-bench}
mkdir -p "$BENCH_DIR"
img=$BENCH_DIR/image-$profile
/usr/bin/python3 "$here/make_big_image.py" --profile "$profile" "$img" >/dev/null
archive=$img/docker-archive.tar
T=$(mktemp -d "$BENCH_DIR/durability.XXXXXX")
# shellcheck source=bench/retire.sh
. "$here/retire.sh"
RETIRED=$T/retired # every round's store and floor file, until the end (retire.sh says why)
reg_pid=
cleanup() {
    if [[ -n $reg_pid ]]; then kill "$reg_pid" 2>/dev/null; wait "$reg_pid" 2>/dev/null || true; fi
    retire_cleanup
    rm -rf "$T"
}
trap cleanup EXIT
gantry_args=(load -q "$archive")
if [[ $mode == pull ]]; then
    for t in docker-registry skopeo; do command -v $t >/dev/null || die "--pull needs $t"; done
    port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    mkdir -p "$T/registry"
    cat >"$T/registry/config.yml" <<CFG
version: 0.1
log: {level: error, accesslog: {disabled: true}}
storage: {filesystem: {rootdirectory: $T/registry/storage}}
http: {addr: "127.0.0.1:$port"}
CFG
    docker-registry serve "$T/registry/config.yml" >"$T/registry/log" 2>&1 &
    reg_pid=$!
    for _ in $(seq 100); do (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
    ref=127.0.0.1:$port/bench/durability:latest
    skopeo copy -q --dest-tls-verify=false "oci-archive:$img/oci-archive.tar" "docker://$ref"
    gantry_args=(pull -q --tls-verify=false "$ref")
fi

drop() { sync; echo 3 >/proc/sys/vm/drop_caches; }
# one timed command: prints "wall_s cpu_s"
timed() {
    /usr/bin/time -o "$T/time" -f '%e %U %S' ${BENCH_NICE:+nice -n "$BENCH_NICE"} "$@" \
        >/dev/null 2>"$T/stderr" ||
        die "$* failed: $(cat "$T/stderr")"
    awk '{printf "%.3f %.3f %.3f\n", $1, $2, $3}' "$T/time"
}
load_with() { # BINARY [no-sync]: a load (or pull) into a fresh store
    retire "$T/store"
    drop
    if [[ ${2:-} == no-sync ]]; then
        GANTRY_UNSAFE_NO_SYNC=1 GANTRY_ROOT=$T/store timed "$1" "${gantry_args[@]}"
    else
        GANTRY_ROOT=$T/store timed "$1" "${gantry_args[@]}"
    fi
}

# the store's size after one load: what the floor writes
GANTRY_ROOT=$T/store "$GANTRY" "${gantry_args[@]}" >/dev/null
bytes=$(du -sb "$T/store" | cut -f1)
mib=$(((bytes + (1 << 20) - 1) >> 20))
floor_with() { # dd flags
    retire "$T/floor"
    drop
    timed dd if=/dev/zero of="$T/floor" bs=1M count="$mib" "$@"
}
beside() { # the no-sync command and the floor's durable write at once, until both end
    retire "$T/store"
    retire "$T/floor"
    drop
    local nosync_cmd=("$nosync")
    [[ $nosync == env ]] && nosync_cmd=(env GANTRY_UNSAFE_NO_SYNC=1 "$GANTRY")
    GANTRY_ROOT=$T/store timed bash -c 'dd if=/dev/zero of="$1" bs=1M count="$2" conv=fsync \
        status=none & shift 2; "$@"; s=$?; wait $! || exit 1; exit $s' beside "$T/floor" "$mib" \
        "${nosync_cmd[@]}" "${gantry_args[@]}"
}

declare -A wall user sys
sync_calls=""
sync_traced() { # a durable command under strace -c: prints "seconds calls" of its sync calls
    retire "$T/store"
    drop
    GANTRY_ROOT=$T/store strace -f -c -w -o "$T/strace" \
        -e trace=fsync,fdatasync,syncfs,sync_file_range "$GANTRY" "${gantry_args[@]}" \
        >/dev/null 2>"$T/stderr" || die "strace $GANTRY failed: $(cat "$T/stderr")"
    awk '$NF == "total" {print $2, $4}' "$T/strace"
}
for ((r = 1; r <= rounds; r++)); do
    for what in durable no-sync floor-fsync floor-cache beside; do
        case $what in
        durable) res=$(load_with "$GANTRY") ;;
        no-sync) if [[ $nosync == env ]]; then res=$(load_with "$GANTRY" no-sync); else
            res=$(load_with "$nosync"); fi ;;
        floor-fsync) res=$(floor_with conv=fsync) ;;
        floor-cache) res=$(floor_with) ;;
        beside) res=$(beside) ;;
        esac
        read -r w u s <<<"$res"
        wall[$what]+="$w "
        user[$what]+="$u "
        sys[$what]+="$s "
    done
    [[ -n $synccalls ]] && sync_calls+="$(sync_traced),"
    echo "round $r/$rounds done" >&2
done
retire "$T/store"
retire "$T/floor"

/usr/bin/python3 - "$rounds" "$mib" "$mode" "${wall[durable]}" "${wall[no-sync]}" \
    "${wall[floor-fsync]}" "${wall[floor-cache]}" "${user[durable]}" "${user[no-sync]}" \
    "${sys[durable]}" "${sys[no-sync]}" "$(cut -d' ' -f1-3 /proc/loadavg)" "$sync_calls" \
    "${wall[beside]}" <<'EOF'
import os, statistics as st, sys
rounds, mib, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
w = {k: [float(x) for x in v.split()] for k, v in zip(
    ["durable", "no-sync", "floor-fsync", "floor-cache"], sys.argv[4:8])}
u = {k: [float(x) for x in v.split()] for k, v in zip(["durable", "no-sync"], sys.argv[8:10])}
s = {k: [float(x) for x in v.split()] for k, v in zip(["durable", "no-sync"], sys.argv[10:12])}
print(f"== gantry {mode} durable vs no-sync, and the disk's floor ({rounds} alternated rounds, "
      f"page cache dropped before each; the floor writes {mib} MiB, what the store holds; "
      f"load average at the end {sys.argv[12]}"
      + (f"; timed commands under nice -n {os.environ['BENCH_NICE']}" if os.environ.get("BENCH_NICE") else "")
      + ")")
print(f"{'command':<14}{'median s':>10}{'min':>8}{'max':>8}{'user s':>8}{'sys s':>8}")
for k in w:
    us = f"{st.median(u[k]):.2f}" if k in u else "-"
    ss = f"{st.median(s[k]):.2f}" if k in s else "-"
    print(f"{k:<14}{st.median(w[k]):>10.3f}{min(w[k]):>8.3f}{max(w[k]):>8.3f}{us:>8}{ss:>8}")
d, n = st.median(w["durable"]), st.median(w["no-sync"])
print(f"durable / no-sync: {d / n:.3f} (medians; issue 56's target: <= 1.10)")
if sys.argv[13]:
    runs = [r.split() for r in sys.argv[13].strip(",").split(",")]
    secs = [float(r[0]) for r in runs]
    print(f"durable, blocked in sync calls (strace -c -w, summed over threads): median "
          f"{st.median(secs):.3f} s ({min(secs):.3f}-{max(secs):.3f}), {runs[0][1]} calls")
floor = st.median(w["floor-fsync"]) - st.median(w["floor-cache"])
print(f"durable publishes cost {d - n:+.3f} s = {100 * (d - n) / n:+.1f}% of the no-sync {mode} "
      f"(issue 36's target: +10%)")
print(f"the disk's floor for making {mib} MiB durable: {floor:+.3f} s = {100 * floor / n:+.1f}% "
      f"of the no-sync {mode}; gantry's cost is {100 * (d - n) / floor if floor > 0 else 0:.0f}% "
      f"of that floor")
b = [float(x) for x in sys.argv[14].split()]
print(f"{'beside':<14}{st.median(b):>10.3f}{min(b):>8.3f}{max(b):>8.3f}: the no-sync {mode} with the "
      f"floor's durable write started beside it, until both end")
print(f"beside / no-sync: {st.median(b) / n:.3f}: {mib} MiB written durably during the {mode}, as "
      f"early as the disk takes them, by another process; durable / beside: {d / st.median(b):.3f}")
EOF
