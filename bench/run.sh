#!/usr/bin/env bash
# Start-time benchmark of gantry (issues 3 and 21): see bench/README.md.
#
#   bench/run.sh [--quick] [--runs N] [--warmup N] [--rounds N] [--keep]
#                [--load N] [--concurrent N] [--scenarios LIST]
#                [--baseline PATH] [--gantry NAME=PATH]... [--all-rows | --core-rows]
#
# Times start-to-exit of /bin/true in a busybox image, rootless, with hyperfine (-N, no
# intermediate shell), in ROUNDS: each round one hyperfine run over all of:
#   unshare -Urpf --mount-proc chroot ROOTFS /bin/true      baseline
#   ch-run ROOTFS -- /bin/true                               Charliecloud, unpacked directory
#   floor ROOTFS SCRATCH /bin/true                           bench/floor.c: gantry's isolation
#                                                            (namespaces, overlay, mounts, caps,
#                                                            seccomp) in the least C it takes
#   gantry run sample /bin/true                              default: overlay root, seccomp
#   gantry run --security-opt seccomp=unconfined ...         without the seccomp filter
#   gantry run --read-only ...                               no writable upper dir
#   gantry run --writable-layer disk ...                     the writable layer in the store
#                                                            (the default is a private tmpfs)
#   crun run / runc run                                      on `gantry bundle` output
#   podman run --rm --network none ... /bin/true             image loaded with `podman load`
# and prints, per row, the wall time (median, spread) and the CPU time (user+sys of the command
# and of everything it started, the processes it left behind included), the ratios against
# unshare+chroot, ch-run and the floor, and the targets of the issues marked PASS/MISS. A peer
# that cannot run here is reported with the reason and left out. A measurement, not a test:
# exits 0 whatever the ratios are, non-zero only if the setup or gantry itself fails.
#
# Run as root, the whole comparison runs as the unprivileged user `nobody` (setpriv), with a
# HOME and XDG dirs it owns in the run directory; run as another user, as that user.
# Installs nothing: missing tools are named (Debian packages).
#
#   --quick      10 runs, 2 warmup runs (smoke run); default 100 runs, 5 warmup runs
#   --runs N     hyperfine runs per command
#   --warmup N   hyperfine warmup runs per command
#   --rounds N   hyperfine runs over all the commands (default 3): a VM drifts by 10-20%
#                between the rows of one run, so the ratios are taken from each command's
#                median of its round medians
#   --keep       keep the run directory for inspection
#   --wait-quiet[=SECONDS]  before timing, wait (default up to 600 s) until the CPUs are less
#                than $BENCH_QUIET_PCT % (default 10) busy for 5 s in a row
# Loaded mode (issue 21), built on bench/startload.c:
#   --load N        N busy loops (pinned nowhere) run while the rows are timed
#   --concurrent N  each timed command is a batch of N concurrent starts (`startload batch N`:
#                   forked at once, the batch's wall and CPU time include what its starts
#                   leave behind)
#   --scenarios LIST  several of those in one run, alternated round by round: a comma list of
#                   quiet, loadN, concN and loadN+concM (e.g. quiet,load2,conc8); --load and
#                   --concurrent make a list of one
#   --baseline PATH   also time this gantry binary ("gantry run [base]"), e.g. a build of
#                   main: the quiet target "no worse than before" compares against it
#   --gantry NAME=PATH  also time this gantry binary as "gantry run [NAME]" (NAME: 1-8 of a-z0-9_-; repeatable:
#                   prototypes, timed alternately with the others in the same run)
#   --all-rows / --core-rows  all rows above, or only unshare+chroot, ch-run, the floor and the
#                   default `gantry run` of each binary (the default when a scenario is not quiet)
# Results (table, hyperfine JSON per scenario and round) go to $BENCH_DIR/results/start-*.
#
# Environment:
#   BENCH_DIR=/var/tmp/gantry-bench   work dir (the run directory is $BENCH_DIR/start-run)
#   GANTRY=path                       gantry binary (default: build/gantry; a private copy is timed)
#   BENCH_PYTHON=/usr/bin/python3     Debian's python (image builder, report)
#   BENCH_USER=nobody                 the unprivileged user when started as root
#   BENCH_MASK_CGROUP2=auto           crun 1.8 refuses cgroup "hybrid" hosts that have controllers
#                                     on cgroup2; as root, auto hides /sys/fs/cgroup/unified behind
#                                     an empty tmpfs in a private mount namespace for the whole
#                                     comparison (nothing changes on the host). 0: do not.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
self=$here/$(basename "${BASH_SOURCE[0]}")
die() { echo "run.sh: $*" >&2; exit 1; }
# shellcheck source=bench/start_lib.sh
. "$here/start_lib.sh"

# =========================================================================================
# Stage 2: everything that runs as the unprivileged user (`run.sh --stage2 W ...`).
# Prepares stores/bundle, checks every command once, then the hyperfine rounds.
# Writes W/out/{hf-SCENARIO-ROUND.json,left-SCENARIO-ROUND.tsv,spin-SCENARIO-ROUND.txt,rows.tsv,
# meta.env}; the report (bench/start_report.py) is printed by stage 1.
# =========================================================================================
stage2() {
    local W=$1 runs=$2 warmup=$3 rounds=$4 scenarios=$5 rowset=$6
    cd "$W"
    local out=$W/out meta=$W/out/meta.env rows=$W/out/rows.tsv
    mkdir -p "$out" "$W/state/crun" "$W/state/runc" "$W/tmp"
    : >"$rows"
    # meta.env: key=value facts for the report
    # rows.tsv: name<TAB>status<TAB>class<TAB>command-or-reason; class: unshare, ch-run, floor,
    # gantry (a binary's default run), variant (other flags), peer (crun, runc, podman)
    m() { printf '%s=%s\n' "$1" "$2" >>"$meta"; }
    row() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$rows"; }
    local G=$W/bin/gantry rootfs=$W/bundle/rootfs nfacts=0 SL=""
    [[ -x $W/bin/startload ]] && SL=$W/bin/startload

    m user "$(id -un) (uid $(id -u), gid $(id -g))"
    echo "== preparing, as $(id -un) (uid $(id -u)) =="

    # ---- gantry store, bundle ------------------------------------------------------------
    "$G" -q load "$W/src/archive.tar"
    "$G" -q bundle --cmd /bin/true sample:latest "$W/bundle"
    echo "gantry: image loaded into $GANTRY_ROOT; OCI bundle (cmd /bin/true) at $W/bundle"

    # ---- isolation facts of the gantry rows (untimed) ---------------------------------------
    # shellcheck disable=SC2016 # expanded inside the container
    local probe='echo "pid=$$ seccomp=$(sed -n "s/^Seccomp:[[:space:]]*//p" /proc/self/status)'
    # shellcheck disable=SC2016
    probe+=' root=$(grep -m1 " / " /proc/mounts | cut -d" " -f3) uid_map=$(cat /proc/self/uid_map | tr -s " " | sed "s/^ //")'
    # shellcheck disable=SC2016
    probe+=' mounts=$(wc -l </proc/mounts)"; touch /.rw 2>/dev/null && echo writable || echo read-only'
    local gflags name facts
    for gflags in "" "--security-opt seccomp=unconfined" "--read-only" "--writable-layer disk"; do
        [[ $rowset == all || -z $gflags ]] || continue
        # shellcheck disable=SC2086
        if facts=$("$G" run $gflags sample /bin/sh -c "$probe" 2>&1); then
            m "gantry_facts_$((++nfacts))" "gantry run ${gflags:-(default)}: $(tr '\n' ' ' <<<"$facts")"
        else
            die "gantry run $gflags failed: $facts"
        fi
    done

    # ---- check each command once; keep those that work ------------------------------------
    check() { # name, class, command...: runs it twice (the first run may be a cold start)
        local name=$1 class=$2 err
        shift 2
        if err=$("$@" 2>&1 </dev/null) && err=$("$@" 2>&1 </dev/null); then
            row "$name" ok "$class" "$*"
            return 0
        fi
        # the last message, without logrus' time=... level=... msg="..." wrapping
        CHECK_ERR=$(grep -v '^[[:space:]]*$' <<<"$err" | tail -1 |
            sed -E 's/^time="[^"]*" level=[a-z]+ msg="(.*)"$/\1/; s/[[:space:]]+$//')
        CHECK_ERR=${CHECK_ERR:-exit status non-zero, no message}
        return 1
    }
    skip() { row "$1" skip "$2" "$3"; echo "  $1: NOT timed: $3"; }
    echo
    echo "== checking each command once (untimed) =="

    check "unshare+chroot" unshare unshare -Urpf --mount-proc chroot "$rootfs" /bin/true ||
        skip "unshare+chroot" unshare "$CHECK_ERR"

    if command -v ch-run >/dev/null; then
        check "ch-run (directory)" ch-run ch-run "$rootfs" -- /bin/true ||
            skip "ch-run (directory)" ch-run "$CHECK_ERR"
    else
        skip "ch-run (directory)" ch-run "ch-run not installed (apt-get install charliecloud)"
    fi

    if [[ -x $W/bin/floor ]]; then
        mkdir -p "$W/floor-mnt"
        check "isolation floor (bench/floor.c)" floor "$W/bin/floor" "$rootfs" "$W/floor-mnt" /bin/true ||
            skip "isolation floor (bench/floor.c)" floor "$CHECK_ERR"
    else
        skip "isolation floor (bench/floor.c)" floor "$(head -1 "$W/bin/floor.skip" 2>/dev/null || echo "not built")"
    fi

    # Every gantry row runs the binary under a name of its own (a hard link or a copy), so that
    # what it leaves behind (its keeper) is told apart by the process name.
    check "gantry run" gantry "$G" run sample /bin/true || die "gantry run failed: $CHECK_ERR"
    local alt
    for alt in "$W"/bin/gantry.*; do
        [[ -x $alt && $alt != *.disk && $alt != *.ro && $alt != *.unconf ]] || continue
        name="gantry run [${alt##*/gantry.}]"
        check "$name" gantry "$alt" run sample /bin/true || skip "$name" gantry "$CHECK_ERR"
    done
    if [[ $rowset == all ]]; then
        local v
        for v in unconf ro disk; do ln -f "$G" "$W/bin/gantry.$v"; done
        check "gantry run, seccomp=unconfined" variant "$W/bin/gantry.unconf" run --security-opt seccomp=unconfined sample /bin/true ||
            die "gantry run --security-opt seccomp=unconfined failed: $CHECK_ERR"
        check "gantry run --read-only" variant "$W/bin/gantry.ro" run --read-only sample /bin/true ||
            die "gantry run --read-only failed: $CHECK_ERR"
        check "gantry run --writable-layer disk" variant "$W/bin/gantry.disk" run --writable-layer disk sample /bin/true ||
            die "gantry run --writable-layer disk failed: $CHECK_ERR"
        check_peers
    fi

    awk -F'\t' '$2 == "ok" {print "  " $1 ": ok"}' "$rows"

    # ---- the hyperfine rounds ----------------------------------------------------------------
    if ((wait_quiet > 0)); then
        local deadline=$((SECONDS + wait_quiet)) calm=0 b
        echo "waiting (up to ${wait_quiet}s) for the CPUs to be < ${QUIET_PCT}% busy for 5 s in a row..."
        while ((SECONDS < deadline)); do
            b=$(cpu_busy 1)
            if ((b < QUIET_PCT)); then calm=$((calm + 1)); else calm=0; fi
            if ((calm >= 5)); then break; fi
        done
        ((calm >= 5)) || echo "  not quiet after ${wait_quiet}s (last: ${b}% busy): timing anyway"
    fi
    local busy_before
    busy_before=$(cpu_busy 2)
    m loadavg "$(cut -d' ' -f1-3 /proc/loadavg)"
    m busy_before "$busy_before"
    echo "== timing: $rounds rounds of hyperfine -N --runs $runs --warmup $warmup, as $(id -un); scenarios: $scenarios =="
    echo "load average before timing: $(cut -d' ' -f1-3 /proc/loadavg); CPUs busy (2 s sample): ${busy_before}% of $(nproc) CPUs (other work on the machine skews the figures)"
    # hyperfine times the rows one command after the other: the light ones first, the peers
    # last (podman is the heaviest: several threads, a vfs copy of the rootfs written and
    # deleted per run, conmon and a pause process left to exit or be reaped), so that their
    # I/O and leftovers cannot spill into another command's runs.
    local -a light=() heavy=() order=() scn=() hf=() reap=()
    local class cmd s0 s1 r i load conc sid t0 b0
    spin_pid=""
    while IFS=$'\t' read -r name status class cmd; do
        [[ $status == ok ]] || continue
        if [[ $class == peer ]]; then heavy+=("$name"$'\t'"$cmd"); else light+=("$name"$'\t'"$cmd"); fi
    done <"$rows"
    trap stop_load EXIT
    IFS=, read -ra scn <<<"$scenarios"
    s0=$(cpu_ticks)
    for ((r = 1; r <= rounds; r++)); do
        # the light rows in the opposite order every other round: no row always follows the same one
        order=("${light[@]}")
        if ((r % 2 == 0)); then
            order=()
            for ((i = ${#light[@]} - 1; i >= 0; i--)); do order+=("${light[i]}"); done
        fi
        order+=("${heavy[@]}")
        for sid in "${scn[@]}"; do
            read -r load conc <<<"$(scenario_parts "$sid")"
            hf=()
            for i in "${order[@]}"; do
                name=${i%%$'\t'*}
                cmd=${i#*$'\t'}
                ((conc > 0)) && cmd="$SL batch $conc $cmd"
                hf+=(-n "$name" "$cmd")
            done
            echo "-- round $r of $rounds, scenario $sid"
            if ((load > 0)); then
                "$SL" spin "$load" >"$out/spin-$sid-$r.txt" &
                spin_pid=$!
                sleep 0.3 # the loops are running
            fi
            t0=$(cut -d' ' -f1 /proc/loadavg)
            b0=$(cpu_ticks)
            reap=()
            [[ -n $SL ]] && reap=("$SL" reap "$out/left-$sid-$r.tsv")
            # -i: a command that fails now and then is timed anyway; the report counts its failures.
            "${reap[@]}" hyperfine -N -i --runs "$runs" --warmup "$warmup" \
                --export-json "$out/hf-$sid-$r.json" "${hf[@]}"
            m "during_${sid}_$r" "load average $t0 -> $(cut -d' ' -f1 /proc/loadavg), CPUs $(busy_between "$b0" "$(cpu_ticks)")% busy"
            stop_load
        done
    done
    s1=$(cpu_ticks)
    m loadavg_after "$(cut -d' ' -f1-3 /proc/loadavg)"
    m busy_during "$(busy_between "$s0" "$s1")"
}

if [[ ${1:-} == --stage2 ]]; then
    PY=${BENCH_PYTHON:-/usr/bin/python3}
    QUIET_PCT=${BENCH_QUIET_PCT:-10}
    wait_quiet=$6
    stage2 "$2" "$3" "$4" "$5" "$7" "$8"
    exit 0
fi

# =========================================================================================
# Stage 1: checks, image, run directory, then stage 2 as the unprivileged user, then report.
# =========================================================================================
runs=100
warmup=5
rounds=3
keep=0
wait_quiet=0
load=0
concurrent=0
scenarios=""
rowset=""
baseline=""
alts=()
usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; }
while (($#)); do
    case $1 in
    --quick) runs=10; warmup=2 ;;
    --runs) runs=${2:?--runs needs a number}; shift ;;
    --runs=*) runs=${1#--runs=} ;;
    --warmup) warmup=${2:?--warmup needs a number}; shift ;;
    --warmup=*) warmup=${1#--warmup=} ;;
    --rounds) rounds=${2:?--rounds needs a number}; shift ;;
    --rounds=*) rounds=${1#--rounds=} ;;
    --keep) keep=1 ;;
    --wait-quiet) wait_quiet=600 ;;
    --wait-quiet=*) wait_quiet=${1#--wait-quiet=} ;;
    --load) load=${2:?--load needs a number}; shift ;;
    --load=*) load=${1#--load=} ;;
    --concurrent) concurrent=${2:?--concurrent needs a number}; shift ;;
    --concurrent=*) concurrent=${1#--concurrent=} ;;
    --scenarios) scenarios=${2:?--scenarios needs a list}; shift ;;
    --scenarios=*) scenarios=${1#--scenarios=} ;;
    --baseline) baseline=${2:?--baseline needs a path}; shift ;;
    --baseline=*) baseline=${1#--baseline=} ;;
    --gantry) alts+=("${2:?--gantry needs NAME=PATH}"); shift ;;
    --gantry=*) alts+=("${1#--gantry=}") ;;
    --all-rows) rowset=all ;;
    --core-rows) rowset=core ;;
    -h | --help) usage; exit 0 ;;
    *) echo "run.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
    esac
    shift
done
[[ $runs =~ ^[1-9][0-9]*$ ]] || die "--runs needs a positive number, not '$runs'"
[[ $warmup =~ ^[0-9]+$ ]] || die "--warmup needs a number, not '$warmup'"
[[ $rounds =~ ^[1-9][0-9]*$ ]] || die "--rounds needs a positive number, not '$rounds'"
[[ $wait_quiet =~ ^[0-9]+$ ]] || die "--wait-quiet needs a number of seconds, not '$wait_quiet'"
[[ $load =~ ^[0-9]+$ ]] || die "--load needs a number of busy loops, not '$load'"
[[ $concurrent =~ ^[0-9]+$ ]] || die "--concurrent needs a number of starts, not '$concurrent'"
if [[ -z $scenarios ]]; then
    scenarios=quiet
    ((load > 0)) && scenarios=load$load
    ((concurrent > 0)) && scenarios=conc$concurrent
    ((load > 0 && concurrent > 0)) && scenarios=load$load+conc$concurrent
elif ((load > 0 || concurrent > 0)); then
    die "--scenarios names the loads and concurrencies itself: leave out --load and --concurrent"
fi
IFS=, read -ra scenario_list <<<"$scenarios"
for s in "${scenario_list[@]}"; do
    scenario_parts "$s" >/dev/null || die "unknown scenario '$s' (quiet, loadN, concN, loadN+concM)"
done
[[ -n $rowset ]] || { [[ $scenarios == quiet ]] && rowset=all || rowset=core; }
loaded=0
[[ $scenarios == quiet ]] || loaded=1
declare -A alt_path=()
for a in "${alts[@]}"; do
    [[ $a =~ ^([a-z0-9_-]{1,8})=(.+)$ ]] ||
        die "--gantry wants NAME=PATH with a NAME of 1-8 of a-z 0-9 _ - (not '$a')"
    [[ ${BASH_REMATCH[1]} != @(unconf|ro|disk|base) ]] || die "--gantry: the name '${BASH_REMATCH[1]}' is taken"
    [[ -x ${BASH_REMATCH[2]} ]] || die "--gantry: no executable at ${BASH_REMATCH[2]}"
    alt_path[${BASH_REMATCH[1]}]=${BASH_REMATCH[2]}
done
[[ -z $baseline || -x $baseline ]] || die "--baseline: no executable at $baseline"
[[ -z $baseline ]] || alt_path[base]=$baseline

BENCH_DIR=${BENCH_DIR:-/var/tmp/gantry-bench}
GANTRY=${GANTRY:-$here/../build/gantry}
PY=${BENCH_PYTHON:-/usr/bin/python3}
BENCH_USER=${BENCH_USER:-nobody}
BENCH_MASK_CGROUP2=${BENCH_MASK_CGROUP2:-auto}
[[ -x $PY ]] || PY=python3
[[ -x $GANTRY ]] || die "no gantry binary at $GANTRY (build it first, or set GANTRY=)"
GANTRY=$(cd "$(dirname "$GANTRY")" && pwd)/$(basename "$GANTRY")

# ---- tools --------------------------------------------------------------------------------
# required: hyperfine, Debian's python3, a static busybox (the image), util-linux
missing=()
pkg_of() {
    case $1 in
    ch-run) echo charliecloud ;; newuidmap) echo uidmap ;; busybox) echo busybox-static ;;
    unshare | setpriv) echo util-linux ;; *) echo "$1" ;;
    esac
}
for t in hyperfine unshare setpriv; do command -v "$t" >/dev/null || missing+=("$(pkg_of "$t")"); done
# the image's /bin/busybox is Debian's static one (tests/fixtures/mkimage.py reads /usr/bin/busybox)
if [[ ! -x /usr/bin/busybox ]] || { command -v file >/dev/null &&
    ! file -L /usr/bin/busybox | grep -q 'statically linked'; }; then
    missing+=(busybox-static)
fi
((${#missing[@]} == 0)) ||
    die "missing required tools; install with: apt-get install --no-install-recommends ${missing[*]}"
"$PY" -c 'import sys; assert sys.version_info >= (3, 9)' 2>/dev/null ||
    die "$PY is not a usable python3 (Debian's /usr/bin/python3 is expected; set BENCH_PYTHON)"
optional=()
for t in ch-run crun runc podman newuidmap; do command -v "$t" >/dev/null || optional+=("$(pkg_of "$t")"); done
if ((${#optional[@]})); then
    echo "run.sh: not installed (their rows are skipped): ${optional[*]}" >&2
    echo "        apt-get install --no-install-recommends ${optional[*]}" >&2
fi

# ---- the unprivileged user ----------------------------------------------------------------
as_root=0
(($(id -u) == 0)) && as_root=1
if ((as_root)); then
    getent passwd "$BENCH_USER" >/dev/null || die "no user '$BENCH_USER' (set BENCH_USER= to an unprivileged user)"
    buid=$(id -u "$BENCH_USER")
    bgid=$(id -g "$BENCH_USER")
    ((buid != 0)) || die "BENCH_USER must not be root"
fi

# ---- run directory --------------------------------------------------------------------------
mkdir -p "$BENCH_DIR"
BENCH_DIR=$(cd "$BENCH_DIR" && pwd)
W=$BENCH_DIR/start-run
[[ $W != *[[:space:]]* ]] || die "BENCH_DIR must not contain white space (hyperfine -N splits commands)"
cleanup() {
    local rc=$?
    # the podman pause process this run started (rootless podman keeps one per user/runtime dir)
    local pp=$W/run/libpod/tmp/pause.pid pid
    if [[ -f $pp ]]; then
        pid=$(cat "$pp")
        if [[ $pid =~ ^[0-9]+$ && $(cat "/proc/$pid/comm" 2>/dev/null) == "podman pause" ]]; then
            kill "$pid" 2>/dev/null || true
        fi
    fi
    if ((keep)); then
        echo "kept: $W" >&2
    elif [[ -d $W ]]; then
        chmod -R u+rwX "$W" 2>/dev/null || true
        rm -rf "$W" 2>/dev/null || true
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
trap 'echo "run.sh: failed (exit $?) at line $LINENO: $BASH_COMMAND" >&2' ERR
rm -rf "$W"
mkdir -p "$W/src" "$W/bin" "$W/home" "$W/run" "$W/out"
chmod 0755 "$W"
chmod 0700 "$W/run"
fstype=$(df --output=fstype "$W" | tail -1)
fsdev=$(df --output=source "$W" | tail -1)

others_start=$(others)
# Private copies of the binaries: a rebuild of build/gantry during the run does no harm.
describe() { # a gantry binary -> its version, commit and sha256
    local d rev v
    v="$("$1" --version 2>&1 | head -1)"
    d=$(dirname "$1")
    if rev=$(git -C "$d" rev-parse --short HEAD 2>/dev/null); then
        git -C "$d" diff --quiet HEAD -- src 2>/dev/null || rev+=", src modified"
        v+=" (commit $rev)"
    fi
    echo "$v, binary sha256 $(sha256sum "$1" | cut -c1-12)"
}
gantry_version=$(describe "$GANTRY")
cp "$GANTRY" "$W/bin/gantry"
chmod 0755 "$W/bin" "$W/bin/gantry"
alt_versions=""
for a in "${!alt_path[@]}"; do
    cp "${alt_path[$a]}" "$W/bin/gantry.$a"
    chmod 0755 "$W/bin/gantry.$a"
    alt_versions+="gantry_$a=${alt_path[$a]}: $(describe "${alt_path[$a]}")"$'\n'
done
# The isolation floor: bench/floor.c with the seccomp filter of the build the binary comes from.
rm -f "$W/bin/floor" "$W/bin/floor.skip"
# (a binary outside a build directory: the filter of this checkout's build/)
floor_inc=$(dirname "$GANTRY")/generated
[[ -f $floor_inc/seccomp_default.inc ]] || floor_inc=$here/../build/generated
if [[ ! -f $floor_inc/seccomp_default.inc ]]; then
    echo "no seccomp_default.inc next to GANTRY or in build/generated (build gantry first)" >"$W/bin/floor.skip"
elif ! command -v cc >/dev/null; then
    echo "no C compiler (apt-get install gcc)" >"$W/bin/floor.skip"
elif ! cc -O2 -Wall -I "$floor_inc" -o "$W/bin/floor" "$here/floor.c" 2>"$W/bin/floor.skip"; then
    sed -i '1s/^/cannot compile bench\/floor.c: /' "$W/bin/floor.skip"
else
    chmod 0755 "$W/bin/floor"
fi
# bench/startload.c: busy loops, concurrent batches, the CPU of what a start leaves behind.
# Static when libc.a is there (a batch's own exec is then cheaper).
if command -v cc >/dev/null && { cc -O2 -Wall -static -o "$W/bin/startload" "$here/startload.c" 2>/dev/null ||
    cc -O2 -Wall -o "$W/bin/startload" "$here/startload.c"; }; then
    chmod 0755 "$W/bin/startload"
elif ((loaded)); then
    die "cannot compile bench/startload.c, which --load, --concurrent and --scenarios need"
else
    echo "run.sh: cannot compile bench/startload.c: the CPU of processes a start leaves behind is not counted" >&2
fi

# ---- the image: busybox, deterministic (tests/fixtures/mkimage.py) -------------------------
"$PY" -B - "$here/../tests" "$W/src/archive.tar" <<'EOF'
import sys
sys.path.insert(0, sys.argv[1])
from fixtures import mkimage as mk
img = mk.busybox_image()
mk.write_docker_archive(sys.argv[2], [(img, ["sample:latest"])])
EOF

meta=$W/out/meta.env
{
    echo "date=$(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "host=$(uname -srm), $(nproc) CPU ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)), $(free -g | awk '/^Mem:/{print $2}') GiB RAM"
    echo "fs=$fstype on $fsdev ($W): gantry store and container dirs, bundle rootfs, podman storage"
    echo "gantry=$gantry_version"
    echo "runs=$runs"
    echo "warmup=$warmup"
    echo "rounds=$rounds"
    echo "scenarios=$scenarios"
    echo "others_start=$others_start"
    printf '%s' "$alt_versions"
    echo "image=busybox-static $(dpkg-query -W -f '${Version}' busybox-static 2>/dev/null || echo '?') single layer ($(stat -c %s "$W/src/archive.tar") byte docker archive, tests/fixtures/mkimage.py)"
    v() { command -v "$1" >/dev/null && "$@" 2>&1 | head -1 | tr -s ' ' || echo "$1 not installed"; }
    echo "tools=$(v hyperfine --version), $(v unshare --version), ch-run $(USER=x v ch-run --version), $(v crun --version), $(v runc --version), $(v podman --version)"
} >"$meta"

# ---- stage 2 as the unprivileged user -------------------------------------------------------
mask=0
if ((as_root)); then
    chown -R "$buid:$bgid" "$W"
    setpriv --reuid="$buid" --regid="$bgid" --clear-groups -- test -w "$W/home" -a -x "$W/bin/gantry" ||
        die "$BENCH_USER cannot reach $W (a parent directory is private?): set BENCH_DIR"
    ctl=/sys/fs/cgroup/unified/cgroup.controllers
    if [[ $BENCH_MASK_CGROUP2 != 0 && -r $ctl && -n $(cat "$ctl") ]] &&
        [[ $(stat -f -c %T /sys/fs/cgroup) == tmpfs ]] && command -v crun >/dev/null; then
        mask=1
        echo "cgroup=hybrid host with controllers on cgroup2 ($(cat $ctl)): crun 1.8 refuses it, so the whole comparison ran in a private mount namespace with an empty tmpfs over /sys/fs/cgroup/unified (host unchanged; BENCH_MASK_CGROUP2=0 to disable)" >>"$meta"
    else
        echo "cgroup=$(stat -f -c %T /sys/fs/cgroup) at /sys/fs/cgroup; not masked" >>"$meta"
    fi
    echo "how=started as root; stage 2 ran as $BENCH_USER via setpriv --reuid=$buid --regid=$bgid --clear-groups, with env -i and HOME, XDG_RUNTIME_DIR, XDG_CONFIG_HOME, XDG_DATA_HOME, GANTRY_ROOT in $W that it owns" >>"$meta"
    env_user=$BENCH_USER
else
    echo "cgroup=not masked (not root)" >>"$meta"
    echo "how=ran as $(id -un) (not root), with HOME, XDG dirs and GANTRY_ROOT in $W" >>"$meta"
    env_user=$(id -un)
fi
stage_env=(env -i "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    "HOME=$W/home" "USER=$env_user" "LOGNAME=$env_user" "LANG=C.UTF-8" "TMPDIR=$W/tmp"
    "XDG_RUNTIME_DIR=$W/run" "XDG_CONFIG_HOME=$W/home/.config" "XDG_DATA_HOME=$W/home/.local/share"
    "XDG_CACHE_HOME=$W/home/.cache" "GANTRY_ROOT=$W/store" "BENCH_PYTHON=$PY"
    "BENCH_QUIET_PCT=${BENCH_QUIET_PCT:-10}")
stage2_cmd=(bash "$self" --stage2 "$W" "$runs" "$warmup" "$rounds" "$wait_quiet" "$scenarios" "$rowset")
echo "gantry start-to-exit benchmark: $(sed -n 's/^how=//p' "$meta")"
if ((as_root)); then
    priv=(setpriv --reuid="$buid" --regid="$bgid" --clear-groups --)
    if ((mask)); then
        # shellcheck disable=SC2016
        unshare -m --propagation private -- sh -c \
            'mount -t tmpfs -o ro,size=0,mode=0555 gantry-bench-hide /sys/fs/cgroup/unified && exec "$@"' \
            sh "${stage_env[@]}" "${priv[@]}" "${stage2_cmd[@]}"
    else
        "${stage_env[@]}" "${priv[@]}" "${stage2_cmd[@]}"
    fi
else
    "${stage_env[@]}" "${stage2_cmd[@]}"
fi

echo "others_end=$(others)" >>"$meta"

# ---- report -----------------------------------------------------------------------------------
stamp=$(date -u +%Y%m%dT%H%M%SZ)
res=$BENCH_DIR/results
mkdir -p "$res"
for f in "$W"/out/hf-*.json; do
    b=${f##*/hf-}
    cp "$f" "$res/start-$stamp-${b%-*}-round${b##*-}"
done
echo
"$PY" -B "$here/start_report.py" "$W/out" | tee "$res/start-$stamp.txt"
echo
echo "results: $res/start-$stamp.txt, $res/start-$stamp-*-round*.json"
