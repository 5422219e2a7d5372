# Functions of bench/run.sh (sourced): scenarios, the busy loops' end, the peers that are not
# among the core rows, CPU use of the machine.
# shellcheck shell=bash
# shellcheck disable=SC2154 # W, rootfs, PY, check, skip, m: set by run.sh's stage 2

# A scenario "quiet", "loadN", "concN" or "loadN+concM" -> "LOAD CONCURRENCY" (0: none)
scenario_parts() {
    local s=$1 load=0 conc=0 p
    local -a part
    [[ $s == quiet ]] && { echo "0 0"; return 0; }
    IFS=+ read -ra part <<<"$s"
    for p in "${part[@]}"; do
        case $p in
        load[1-9]*) [[ ${p#load} =~ ^[0-9]+$ ]] || return 1; load=${p#load} ;;
        conc[1-9]*) [[ ${p#conc} =~ ^[0-9]+$ ]] || return 1; conc=${p#conc} ;;
        *) return 1 ;;
        esac
    done
    echo "$load $conc"
}

# The busy loops of a loaded scenario end with it (and, by PR_SET_PDEATHSIG, with us).
stop_load() {
    if [[ -n ${spin_pid:-} ]]; then
        kill "$spin_pid" 2>/dev/null || true
        wait "$spin_pid" 2>/dev/null || true
        spin_pid=""
    fi
}

# The peers that are not among the core rows: crun, runc, podman (class peer).
check_peers() {
    if command -v crun >/dev/null; then
        if ! check "crun run" peer crun --root "$W/state/crun" run --bundle "$W/bundle" bench-crun; then
            if [[ $CHECK_ERR == *"hybrid mode"* ]]; then
                skip "crun run" peer "$CHECK_ERR (crun 1.8 refuses cgroup hybrid hosts; run bench/run.sh as root with BENCH_MASK_CGROUP2=auto, or move hugetlb to v1: this-machine.md)"
            else
                skip "crun run" peer "$CHECK_ERR"
            fi
        fi
    else
        skip "crun run" peer "crun not installed (apt-get install crun)"
    fi

    if command -v runc >/dev/null; then
        if ! check "runc run" peer runc --root "$W/state/runc" run --bundle "$W/bundle" bench-runc; then
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
                if check "runc run" peer runc --root "$W/state/runc" run --bundle "$W/bundle-runc" bench-runc; then
                    m runc_note "runc cannot run gantry's bundle unchanged here ($err1); timed on a copy of config.json without the /dev/tty bind mount (runc adds /dev/tty itself), same rootfs"
                    echo "  runc run: the unchanged bundle fails ($err1); timing a config.json without the /dev/tty bind"
                else
                    skip "runc run" peer "$err1; without the /dev/tty bind: $CHECK_ERR"
                fi
            else
                skip "runc run" peer "$err1"
            fi
        fi
    else
        skip "runc run" peer "runc not installed (apt-get install runc)"
    fi

    if command -v podman >/dev/null; then
        # this-machine.md: explicit rlimits (podman's defaults cannot be set here), no network
        # (slirp4netns cannot open /dev/net/tun); limits clamped to our hard limits.
        local nofile=20000 nproc=32768 perr h
        h=$(ulimit -Hn); [[ $h == unlimited ]] || ((h >= nofile)) || nofile=$h
        h=$(ulimit -Hu); [[ $h == unlimited ]] || ((h >= nproc)) || nproc=$h
        local -a pflags=(--rm --network none --ulimit "nofile=$nofile:$nofile" --ulimit "nproc=$nproc:$nproc")
        if perr=$(podman load -q -i "$W/src/archive.tar" 2>&1); then
            if check "podman run --rm" peer podman run "${pflags[@]}" localhost/sample:latest /bin/true; then
                :
            elif [[ $CHECK_ERR == *"hybrid mode"* ]] && command -v runc >/dev/null &&
                check "podman run --rm" peer podman run --runtime runc "${pflags[@]}" localhost/sample:latest /bin/true; then
                m podman_note "podman's default runtime crun refuses this cgroup hybrid host: timed with --runtime runc"
                echo "  podman: crun refuses the hybrid cgroup layout; timing podman --runtime runc"
            else
                skip "podman run --rm" peer "$CHECK_ERR"
            fi
            m podman_info "$(podman info --format '{{.Store.GraphDriverName}} storage, {{.Host.CgroupManager}} cgroup manager (cgroup {{.Host.CgroupsVersion}}), runtime {{.Host.OCIRuntime.Name}}' 2>/dev/null || echo '?')"
        else
            skip "podman run --rm" peer "podman load failed: $(tail -1 <<<"$perr")"
        fi
    else
        skip "podman run --rm" peer "podman not installed (apt-get install podman uidmap)"
    fi
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
# What else runs: uptime, and the processes that used 5 % of a CPU or more over one second.
others() {
    printf '%s; busiest: ' "$(uptime | sed 's/^ *//')"
    top -b -n 2 -d 1 -w 200 2>/dev/null | awk '/^top -/ {n++}
        n == 2 && $1 ~ /^[0-9]+$/ && $9 + 0 >= 5 {printf "%s%s %s%%", sep, $12, $9; sep = ", "}'
}
