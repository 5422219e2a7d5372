#!/usr/bin/env bash
# Start-time benchmark of gantry (issue 3, "Benchmark"): see bench/README.md.
#
#   bench/run.sh [--quick] [--runs N] [--warmup N] [--rounds N] [--keep]
#
# Times start-to-exit of /bin/true in a busybox image, rootless, with hyperfine (-N, no
# intermediate shell), in ROUNDS: each round one hyperfine run over all of:
#   unshare -Urpf --mount-proc chroot ROOTFS /bin/true      baseline
#   ch-run ROOTFS -- /bin/true                               Charliecloud, unpacked directory
#   floor ROOTFS SCRATCH /bin/true                           bench/floor.c: gantry's isolation
#                                                            (namespaces, overlay, mounts, caps,
#                                                            seccomp) in the least C it takes
#   crun run / runc run                                      on `gantry bundle` output
#   podman run --rm --network none ... /bin/true             image loaded with `podman load`
#   gantry run sample /bin/true                              default: overlay root, seccomp
#   gantry run --security-opt seccomp=unconfined ...         without the seccomp filter
#   gantry run --read-only ...                               no writable upper dir
#   gantry run --writable-layer disk ...                     the writable layer in the store
#                                                            (the default is a private tmpfs)
# and prints medians and the ratios against unshare+chroot and ch-run, with the targets of
# the issue (gantry <= ch-run; gantry <= 1.5x unshare+chroot) marked PASS/MISS. A peer that
# cannot run here is reported with the reason and left out. A measurement, not a test: exits
# 0 whatever the ratios are, non-zero only if the setup or gantry itself fails.
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
# Results (table, hyperfine JSON per round) go to $BENCH_DIR/results/start-*.
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

# =========================================================================================
# Stage 2: everything that runs as the unprivileged user (`run.sh --stage2 W`).
# Prepares stores/bundle, checks every command once, then the one hyperfine run.
# Writes W/out/{hyperfine-ROUND.json,rows.tsv,meta.env}; the report is printed by stage 1.
# =========================================================================================
stage2() {
    local W=$1 runs=$2 warmup=$3 rounds=$4
    cd "$W"
    local out=$W/out meta=$W/out/meta.env rows=$W/out/rows.tsv
    mkdir -p "$out" "$W/state/crun" "$W/state/runc" "$W/tmp"
    : >"$rows"
    # meta.env: key=value facts for the report; rows.tsv: name<TAB>status<TAB>command-or-reason
    m() { printf '%s=%s\n' "$1" "$2" >>"$meta"; }
    row() { printf '%s\t%s\t%s\n' "$1" "$2" "$3" >>"$rows"; }
    local G=$W/bin/gantry rootfs=$W/bundle/rootfs nfacts=0

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
        # shellcheck disable=SC2086
        if facts=$("$G" run $gflags sample /bin/sh -c "$probe" 2>&1); then
            m "gantry_facts_$((++nfacts))" "gantry run ${gflags:-(default)}: $(tr '\n' ' ' <<<"$facts")"
        else
            die "gantry run $gflags failed: $facts"
        fi
    done

    # ---- check each command once; keep those that work ------------------------------------
    check() { # name, command...: runs it twice (the first run may be a cold start)
        local name=$1 err
        shift
        if err=$("$@" 2>&1 </dev/null) && err=$("$@" 2>&1 </dev/null); then
            row "$name" ok "$*"
            return 0
        fi
        # the last message, without logrus' time=... level=... msg="..." wrapping
        CHECK_ERR=$(grep -v '^[[:space:]]*$' <<<"$err" | tail -1 |
            sed -E 's/^time="[^"]*" level=[a-z]+ msg="(.*)"$/\1/; s/[[:space:]]+$//')
        CHECK_ERR=${CHECK_ERR:-exit status non-zero, no message}
        return 1
    }
    skip() { row "$1" skip "$2"; echo "  $1: NOT timed: $2"; }
    echo
    echo "== checking each command once (untimed) =="

    check "unshare+chroot" unshare -Urpf --mount-proc chroot "$rootfs" /bin/true ||
        skip "unshare+chroot" "$CHECK_ERR"

    if command -v ch-run >/dev/null; then
        check "ch-run (directory)" ch-run "$rootfs" -- /bin/true || skip "ch-run (directory)" "$CHECK_ERR"
    else
        skip "ch-run (directory)" "ch-run not installed (apt-get install charliecloud)"
    fi

    if [[ -x $W/bin/floor ]]; then
        mkdir -p "$W/floor-mnt"
        check "isolation floor (bench/floor.c)" "$W/bin/floor" "$rootfs" "$W/floor-mnt" /bin/true ||
            skip "isolation floor (bench/floor.c)" "$CHECK_ERR"
    else
        skip "isolation floor (bench/floor.c)" "$(head -1 "$W/bin/floor.skip" 2>/dev/null || echo "not built")"
    fi

    # hyperfine times the rows in this order, one command after the other: the light ones
    # first, podman last (the heaviest: several threads, a vfs copy of the rootfs written and
    # deleted per run, conmon and a pause process left to exit or be reaped), so that its
    # I/O and leftovers cannot spill into another command's runs.
    check "gantry run" "$G" run sample /bin/true || die "gantry run failed: $CHECK_ERR"
    check "gantry run, seccomp=unconfined" "$G" run --security-opt seccomp=unconfined sample /bin/true ||
        die "gantry run --security-opt seccomp=unconfined failed: $CHECK_ERR"
    check "gantry run --read-only" "$G" run --read-only sample /bin/true ||
        die "gantry run --read-only failed: $CHECK_ERR"
    check "gantry run --writable-layer disk" "$G" run --writable-layer disk sample /bin/true ||
        die "gantry run --writable-layer disk failed: $CHECK_ERR"

    if command -v crun >/dev/null; then
        if ! check "crun run" crun --root "$W/state/crun" run --bundle "$W/bundle" bench-crun; then
            if [[ $CHECK_ERR == *"hybrid mode"* ]]; then
                skip "crun run" "$CHECK_ERR (crun 1.8 refuses cgroup hybrid hosts; run bench/run.sh as root with BENCH_MASK_CGROUP2=auto, or move hugetlb to v1: this-machine.md)"
            else
                skip "crun run" "$CHECK_ERR"
            fi
        fi
    else
        skip "crun run" "crun not installed (apt-get install crun)"
    fi

    if command -v runc >/dev/null; then
        if ! check "runc run" runc --root "$W/state/runc" run --bundle "$W/bundle" bench-runc; then
            local err1=$CHECK_ERR
            if [[ $err1 == */dev/tty* ]]; then
                # runc creates /dev/tty itself (a default device); in a user namespace it
                # bind-mounts it, opening the target first, and the target is already gantry's
                # /dev/tty bind of the host's: ENXIO without a controlling terminal.
                mkdir -p "$W/bundle-runc"
                "$PY" -B - "$W/bundle/config.json" "$W/bundle-runc/config.json" "$rootfs" <<'EOF'
import json, sys
c = json.load(open(sys.argv[1]))
c["mounts"] = [x for x in c["mounts"] if x["destination"] != "/dev/tty"]
c["root"]["path"] = sys.argv[3]
json.dump(c, open(sys.argv[2], "w"), indent=1)
EOF
                if check "runc run" runc --root "$W/state/runc" run --bundle "$W/bundle-runc" bench-runc; then
                    m runc_note "runc cannot run gantry's bundle unchanged here ($err1); timed on a copy of config.json without the /dev/tty bind mount (runc adds /dev/tty itself), same rootfs"
                    echo "  runc run: the unchanged bundle fails ($err1); timing a config.json without the /dev/tty bind"
                else
                    skip "runc run" "$err1; without the /dev/tty bind: $CHECK_ERR"
                fi
            else
                skip "runc run" "$err1"
            fi
        fi
    else
        skip "runc run" "runc not installed (apt-get install runc)"
    fi

    if command -v podman >/dev/null; then
        # this-machine.md: explicit rlimits (podman's defaults cannot be set here), no network
        # (slirp4netns cannot open /dev/net/tun); limits clamped to our hard limits.
        local nofile=20000 nproc=32768 perr h
        h=$(ulimit -Hn); [[ $h == unlimited ]] || ((h >= nofile)) || nofile=$h
        h=$(ulimit -Hu); [[ $h == unlimited ]] || ((h >= nproc)) || nproc=$h
        local -a pflags=(--rm --network none --ulimit "nofile=$nofile:$nofile" --ulimit "nproc=$nproc:$nproc")
        if perr=$(podman load -q -i "$W/src/archive.tar" 2>&1); then
            if check "podman run --rm" podman run "${pflags[@]}" localhost/sample:latest /bin/true; then
                :
            elif [[ $CHECK_ERR == *"hybrid mode"* ]] && command -v runc >/dev/null &&
                check "podman run --rm" podman run --runtime runc "${pflags[@]}" localhost/sample:latest /bin/true; then
                m podman_note "podman's default runtime crun refuses this cgroup hybrid host: timed with --runtime runc"
                echo "  podman: crun refuses the hybrid cgroup layout; timing podman --runtime runc"
            else
                skip "podman run --rm" "$CHECK_ERR"
            fi
            m podman_info "$(podman info --format '{{.Store.GraphDriverName}} storage, {{.Host.CgroupManager}} cgroup manager (cgroup {{.Host.CgroupsVersion}}), runtime {{.Host.OCIRuntime.Name}}' 2>/dev/null || echo '?')"
        else
            skip "podman run --rm" "podman load failed: $(tail -1 <<<"$perr")"
        fi
    else
        skip "podman run --rm" "podman not installed (apt-get install podman uidmap)"
    fi

    awk -F'\t' '$2 == "ok" {print "  " $1 ": ok"}' "$rows"

    # ---- the hyperfine rounds ----------------------------------------------------------------
    local -a hf=()
    while IFS=$'\t' read -r name status cmd; do
        [[ $status == ok ]] && hf+=(-n "$name" "$cmd")
    done <"$rows"
    echo
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
    echo "== timing: $rounds rounds of hyperfine -N --runs $runs --warmup $warmup, as $(id -un) =="
    echo "load average before timing: $(cut -d' ' -f1-3 /proc/loadavg); CPUs busy (2 s sample): ${busy_before}% of $(nproc) CPUs (other work on the machine skews the figures)"
    local s0 s1
    s0=$(cpu_ticks)
    # -i: a command that fails now and then is timed anyway; the report counts its failures.
    local r
    for ((r = 1; r <= rounds; r++)); do
        echo "-- round $r of $rounds"
        hyperfine -N -i --runs "$runs" --warmup "$warmup" --export-json "$out/hyperfine-$r.json" \
            "${hf[@]}"
    done
    s1=$(cpu_ticks)
    m loadavg_after "$(cut -d' ' -f1-3 /proc/loadavg)"
    m busy_during "$(busy_between "$s0" "$s1")"
}

# CPU ticks from /proc/stat: "busy total" (idle and iowait count as not busy)
cpu_ticks() {
    awk '/^cpu /{t=0; for (i=2; i<=NF; i++) t+=$i; print t-$5-$6, t; exit}' /proc/stat
}
busy_between() { # "busy total" "busy total" -> percent of all CPUs busy in between
    local -a a b
    read -ra a <<<"$1"
    read -ra b <<<"$2"
    echo $(((b[0] - a[0]) * 100 / (b[1] - a[1] > 0 ? b[1] - a[1] : 1)))
}
cpu_busy() { # SECONDS -> percent of all CPUs busy over that time
    local s0
    s0=$(cpu_ticks)
    sleep "$1"
    busy_between "$s0" "$(cpu_ticks)"
}

if [[ ${1:-} == --stage2 ]]; then
    PY=${BENCH_PYTHON:-/usr/bin/python3}
    QUIET_PCT=${BENCH_QUIET_PCT:-10}
    wait_quiet=$6
    stage2 "$2" "$3" "$4" "$5"
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
    -h | --help) usage; exit 0 ;;
    *) echo "run.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
    esac
    shift
done
[[ $runs =~ ^[1-9][0-9]*$ ]] || die "--runs needs a positive number, not '$runs'"
[[ $warmup =~ ^[0-9]+$ ]] || die "--warmup needs a number, not '$warmup'"
[[ $rounds =~ ^[1-9][0-9]*$ ]] || die "--rounds needs a positive number, not '$rounds'"
[[ $wait_quiet =~ ^[0-9]+$ ]] || die "--wait-quiet needs a number of seconds, not '$wait_quiet'"

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

# A private copy of the binary: a rebuild of build/gantry during the run does no harm.
gantry_version="$("$GANTRY" --version 2>&1 | head -1)"
if rev=$(git -C "$here/.." rev-parse --short HEAD 2>/dev/null); then
    git -C "$here/.." diff --quiet HEAD -- src 2>/dev/null || rev+=", src modified"
    gantry_version+=" (commit $rev)"
fi
cp "$GANTRY" "$W/bin/gantry"
chmod 0755 "$W/bin" "$W/bin/gantry"
gantry_version+=", binary sha256 $(sha256sum "$W/bin/gantry" | cut -c1-12)"
# The isolation floor: bench/floor.c with the seccomp filter of the build the binary comes from.
rm -f "$W/bin/floor" "$W/bin/floor.skip"
floor_inc=$(dirname "$GANTRY")/generated
if [[ ! -f $floor_inc/seccomp_default.inc ]]; then
    echo "no $floor_inc/seccomp_default.inc (GANTRY is not in a build directory)" >"$W/bin/floor.skip"
elif ! command -v cc >/dev/null; then
    echo "no C compiler (apt-get install gcc)" >"$W/bin/floor.skip"
elif ! cc -O2 -Wall -I "$floor_inc" -o "$W/bin/floor" "$here/floor.c" 2>"$W/bin/floor.skip"; then
    sed -i '1s/^/cannot compile bench\/floor.c: /' "$W/bin/floor.skip"
else
    chmod 0755 "$W/bin/floor"
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
stage2_cmd=(bash "$self" --stage2 "$W" "$runs" "$warmup" "$rounds" "$wait_quiet")
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

# ---- report -----------------------------------------------------------------------------------
stamp=$(date -u +%Y%m%dT%H%M%SZ)
res=$BENCH_DIR/results
mkdir -p "$res"
round_files=()
for ((r = 1; r <= rounds; r++)); do
    round_files+=("$W/out/hyperfine-$r.json")
    cp "$W/out/hyperfine-$r.json" "$res/start-$stamp-round$r.json"
done
echo
"$PY" -B - "$W/out/rows.tsv" "$meta" "${round_files[@]}" <<'EOF' | tee "$res/start-$stamp.txt"
import json, statistics, sys

CH_TARGET = 1.0       # gantry / ch-run <= this
BASE_TARGET = 1.5     # gantry / unshare+chroot <= this

rounds = [json.load(open(f))["results"] for f in sys.argv[3:]]
rows = [l.rstrip("\n").split("\t", 2) for l in open(sys.argv[1]) if l.strip()]
env = {}
for line in open(sys.argv[2]):
    if "=" in line:
        k, v = line.rstrip("\n").split("=", 1)
        env[k] = v
res = rounds[0]  # the commands, in hyperfine's order
per = {r["command"]: [next(x for x in rnd if x["command"] == r["command"]) for rnd in rounds]
       for r in res}


def med(name):  # the median of the command's round medians
    if name not in per:
        return None
    return statistics.median(statistics.median(x["times"]) for x in per[name])

p = print
p(f"gantry start-to-exit benchmark (/bin/true, busybox image, rootless), {env['date']}")
p(f"machine: {env['host']}")
p(f"user: {env['user']}; {env['how']}")
p(f"filesystem: {env['fs']}")
p(f"cgroup: {env['cgroup']}")
p(f"load average before timing: {env['loadavg']} (after: {env['loadavg_after']}); CPUs busy: "
  f"{env['busy_before']}% in the 2 s before timing, {env['busy_during']}% during it "
  "(all processes, the benchmark's own included; other work on the machine skews the figures)")
p(f"gantry: {env['gantry']}")
p(f"tools: {env['tools']}")
p(f"image: {env['image']}")
if env.get("podman_info"):
    p(f"podman: {env['podman_info']}")
for k in ("runc_note", "podman_note"):
    if env.get(k):
        p(f"note: {env[k]}")
for k, v in env.items():
    if k.startswith("gantry_facts_"):
        p(v.strip())
p("")
base, ch = med("unshare+chroot"), med("ch-run (directory)")
w = max(len(r["command"]) for r in res) + 2
p(f"hyperfine -N, {len(rounds)} rounds of {env['runs']} runs, {env['warmup']} warmup; median: of "
  "the round medians; mean, sd, min, max: of all runs")
p("".ljust(w) + f"{'median':>9} {'mean':>9} {'± sd':>7} {'min':>8} {'max':>8}  {'vs unshare':>10} "
  f"{'vs ch-run':>9}  round medians")
for r in res:
    m = med(r["command"])
    times = [t for x in per[r["command"]] for t in x["times"]]
    fails = sum(1 for x in per[r["command"]] for c in (x.get("exit_codes") or []) if c)
    vb = f"{m / base:9.2f}x" if base else f"{'-':>10}"
    vc = f"{m / ch:8.2f}x" if ch else f"{'-':>9}"
    sd = statistics.stdev(times) if len(times) > 1 else 0.0
    rm = " ".join(f"{statistics.median(x['times']) * 1e3:.2f}" for x in per[r["command"]])
    line = (r["command"].ljust(w) + f"{m * 1e3:6.2f} ms {statistics.mean(times) * 1e3:6.2f} ms "
            f"{sd * 1e3:5.2f}  {min(times) * 1e3:5.2f} ms {max(times) * 1e3:5.2f} ms  {vb} {vc}  {rm}")
    if fails:
        line += f"  ({fails} of {len(times)} runs failed)"
    p(line)
for name, status, why in rows:
    if status != "ok":
        p(f"{name.ljust(w)}not timed: {why}")
p("")

def verdict(ok):
    return "PASS" if ok else "MISS"

p("targets (issue 3): gantry at or below ch-run, and within 1.5x of unshare+chroot")
for name in ("gantry run", "gantry run, seccomp=unconfined", "gantry run --read-only",
             "gantry run --writable-layer disk"):
    g = med(name)
    if g is None:
        continue
    parts = []
    if ch:
        parts.append(f"/ ch-run {g / ch:5.2f}x (<= {CH_TARGET:.1f}x) {verdict(g / ch <= CH_TARGET)}")
    else:
        parts.append("/ ch-run: not measured")
    if base:
        parts.append(f"/ unshare+chroot {g / base:5.2f}x (<= {BASE_TARGET:.1f}x) "
                     f"{verdict(g / base <= BASE_TARGET)}")
    else:
        parts.append("/ unshare+chroot: not measured")
    tag = "" if name == "gantry run" else "  (information)"
    p(f"  {name:<32} {'   '.join(parts)}{tag}")
floor = med("isolation floor (bench/floor.c)")
if floor and med("gantry run"):
    g = med("gantry run")
    p(f"gantry run / isolation floor: {g / floor:.2f}x ({(g - floor) * 1e3:+.2f} ms): what gantry adds "
      "to the cost of the same isolation (information)")
if floor and ch:
    # ch-run isolates less (no PID namespace, /proc, /dev, overlay or seccomp): when the
    # floor alone is slower than ch-run, the ch-run target cannot be met on this machine.
    why = ("the isolation the target asks for costs more than ch-run's whole run here"
           if floor > ch else "the ch-run target is within reach of a runtime here")
    p(f"isolation floor / ch-run: {floor / ch:.2f}x: {why} (information)")
EOF
echo
echo "results: $res/start-$stamp.txt, $res/start-$stamp-round*.json"
