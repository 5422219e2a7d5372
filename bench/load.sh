#!/usr/bin/env bash
# Load benchmark of gantry (issue 2, "Benchmark"): see bench/README.md.
#
#   bench/load.sh [--quick] [--runs N] [--keep]
#
# Builds (once, cached in $BENCH_DIR) a ~1 GB / ~18k-entry / 5-layer `docker save` archive
# with gzip layers from files on this machine, then times with hyperfine, in one run and on
# one filesystem:
#   gantry load                      into an empty store, until every layer is unpacked
#   skopeo copy + umoci unpack       docker-archive: -> oci: -> unpacked bundle
#   pigz -dc (decompress only)       all layer blobs, sequentially, to /dev/null
#   igzip -dc (decompress only)      the same with ISA-L's igzip (if installed; informational)
#   pigz -dc | tar -x                decompress + untar each layer into its own directory
# and prints medians and the ratios the issue asks for, with PASS/MISS. A measurement, not a
# test: exits 0 whatever the ratios are, non-zero only if a command fails.
#
#   --quick    a ~100 MB image of the same shape (smoke run, e.g. in CI)
#   --runs N   hyperfine runs per command (default 3, no warmup)
#   --keep     keep the run directory (and the tmpfs mount) for inspection
# Results (table, hyperfine JSON) go to $BENCH_DIR/results/.
#
# Environment:
#   BENCH_DIR=/var/tmp/gantry-bench   work dir: image cache, stores, results (ext4 here)
#   BENCH_TMPFS=1                     put the source copies and all outputs on a tmpfs mounted
#                                     at $BENCH_DIR/tmpfs (root only; unmounted at the end)
#   GANTRY=path                       gantry binary (default: build/gantry next to bench/)
#   BENCH_PYTHON=/usr/bin/python3     Debian's python (stdlib only is needed)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=bench/retire.sh
. "$here/retire.sh"
profile=full
runs=3
keep=0
usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; }
while (($#)); do
    case $1 in
    --quick) profile=quick ;;
    --runs) runs=${2:?--runs needs a number}; shift ;;
    --runs=*) runs=${1#--runs=} ;;
    --keep) keep=1 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "load.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
    esac
    shift
done

[[ $runs =~ ^[1-9][0-9]*$ ]] || { echo "load.sh: --runs needs a positive number, not '$runs'" >&2; exit 2; }

BENCH_DIR=${BENCH_DIR:-/var/tmp/gantry-bench}
BENCH_TMPFS=${BENCH_TMPFS:-0}
GANTRY=${GANTRY:-$here/../build/gantry}
PY=${BENCH_PYTHON:-/usr/bin/python3}
[[ -x $PY ]] || PY=python3

die() { echo "load.sh: $*" >&2; exit 1; }
[[ -x $GANTRY ]] || die "no gantry binary at $GANTRY (build it first, or set GANTRY=)"
GANTRY=$(cd "$(dirname "$GANTRY")" && pwd)/$(basename "$GANTRY")
missing=()
for t in hyperfine skopeo umoci pigz tar; do command -v "$t" >/dev/null || missing+=("$t"); done
((${#missing[@]} == 0)) || die "missing tools: ${missing[*]} (apt-get install --no-install-recommends ${missing[*]})"
have_igzip=0
command -v igzip >/dev/null && have_igzip=1

mkdir -p "$BENCH_DIR"
BENCH_DIR=$(cd "$BENCH_DIR" && pwd)

# ---- 1. the image (cached) -------------------------------------------------------------
img=$BENCH_DIR/image-$profile
"$PY" "$here/make_big_image.py" --profile "$profile" "$img"
archive_cached=$img/docker-archive.tar
info=$img/info.json

# ---- where the runs happen ---------------------------------------------------------------
mnt=
cleanup() {
    local rc=$?
    if ((keep)); then
        [[ -n ${T:-} ]] && echo "kept: $T${mnt:+ (tmpfs still mounted at $mnt: umount it when done)}" >&2
    else
        retire_cleanup
        if [[ -n ${T:-} && -d $T ]]; then rm -rf "$T"; fi
        if [[ -n $mnt ]]; then umount "$mnt" 2>/dev/null || true; rmdir "$mnt" 2>/dev/null || true; fi
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
trap 'echo "load.sh: failed (exit $?) at line $LINENO: $BASH_COMMAND" >&2' ERR
if [[ $BENCH_TMPFS == 1 ]]; then
    (($(id -u) == 0)) || die "BENCH_TMPFS=1 mounts a tmpfs and needs root (or point BENCH_DIR at a tmpfs)"
    tmnt=$BENCH_DIR/tmpfs
    mkdir -p "$tmnt"
    mountpoint -q "$tmnt" && die "$tmnt is already a mount point (a previous run still going, or kept with --keep?)"
    mount -t tmpfs -o size=16g,mode=0755 gantry-bench "$tmnt"
    mnt=$tmnt
    T=$mnt/run
else
    T=$BENCH_DIR/run-$profile
fi
rm -rf "$T"
mkdir -p "$T/src/layers" "$T/out"
RETIRED=$T/retired # each run's outputs, kept until the end (bench/retire.sh says why)
fstype=$(df --output=fstype "$T" | tail -1)
fsdev=$(df --output=source "$T" | tail -1)

# Time a private copy of the binary, so that a rebuild of build/gantry during the run
# (a developer's `make`) neither breaks the run nor mixes two versions in one table.
gantry_version="$("$GANTRY" --version 2>&1 | head -1)"
if rev=$(git -C "$here/.." rev-parse --short HEAD 2>/dev/null); then
    git -C "$here/.." diff --quiet HEAD -- src 2>/dev/null || rev+=", src modified"
    gantry_version+=" (commit $rev)"
fi
cp "$GANTRY" "$T/gantry"
GANTRY=$T/gantry

# The archive and the layer blobs the baselines read live on the same filesystem as the
# outputs. On ext4 the cached archive is used in place; on tmpfs it is copied in (untimed).
if [[ -n $mnt ]]; then
    cp "$archive_cached" "$T/src/docker-archive.tar"
    ARCHIVE=$T/src/docker-archive.tar
else
    ARCHIVE=$archive_cached
fi
# Extract the layer files from the archive (outside the timing), in manifest order.
mapfile -t members < <(tar -xOf "$ARCHIVE" manifest.json |
    "$PY" -c 'import json,sys; print("\n".join(json.load(sys.stdin)[0]["Layers"]))')
layers=()
for i in "${!members[@]}"; do
    n=$((i + 1))
    tar -xOf "$ARCHIVE" "${members[$i]}" >"$T/src/layers/layer$n.tar.gz"
    layers+=("$T/src/layers/layer$n.tar.gz")
done
tag=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["tag"])' "$info")

# Cold-ish caches: drop the page cache before every run when we may.
drop=0
if (($(id -u) == 0)) && { sync && echo 3 >/proc/sys/vm/drop_caches; } 2>/dev/null; then drop=1; fi
prepare="$(retire_cmd "$T/out") && sync"
((drop)) && prepare+=" && echo 3 > /proc/sys/vm/drop_caches"

q() { printf '%q' "$1"; }
cmd_gantry="$(q "$GANTRY") -q --root $(q "$T/out/store") load $(q "$ARCHIVE")"
umoci_flags=--rootless
cmd_pair() { echo "skopeo copy -q docker-archive:$(q "$ARCHIVE") oci:$(q "$T/out/oci"):bench && umoci unpack $umoci_flags --image $(q "$T/out/oci"):bench $(q "$T/out/bundle")"; }
layer_args=$(printf '%q ' "${layers[@]}")
cmd_pigz="pigz -dc $layer_args>/dev/null"
cmd_igzip="igzip -dc $layer_args>/dev/null"
cmd_untar="i=0; for l in $layer_args; do i=\$((i+1)); mkdir -p $(q "$T/out/x")/\$i && pigz -dc \"\$l\" | tar -xf - -C $(q "$T/out/x")/\$i; done"

# ---- sanity: one untimed load each, checked ---------------------------------------------
echo
echo "== checking the commands once (untimed) =="
"$GANTRY" -q --root "$T/out/store" load "$ARCHIVE"
"$GANTRY" --root "$T/out/store" images | grep -q "${tag##*:}" || die "gantry images does not list $tag after load"
"$PY" - "$info" "$T/out/store" <<'EOF'
import json, sys, pathlib
info = json.load(open(sys.argv[1]))
root = pathlib.Path(sys.argv[2]) / "layers" / "sha256"
for i, l in enumerate(info["layers"], 1):
    meta = root / l["diff_id"][7:] / "meta.json"
    if not meta.is_file():
        sys.exit(f"load.sh: layer {i} ({l['diff_id']}) was not unpacked by gantry")
    m = json.loads(meta.read_text())
    if m.get("entries") != l["entries"]:
        sys.exit(f"load.sh: layer {i}: gantry unpacked {m.get('entries')} entries, "
                 f"the layer has {l['entries']}")
print(f"gantry: all {len(info['layers'])} layers unpacked, "
      f"{sum(l['entries'] for l in info['layers'])} entries as in the image")
EOF
umoci_note=
if ! out=$(bash -c "$(cmd_pair)" 2>&1); then
    umoci_flags=
    rm -rf "$T/out/oci" "$T/out/bundle"
    if (($(id -u) == 0)) && bash -c "$(cmd_pair)"; then
        umoci_note="umoci unpack --rootless failed as root ($(tail -1 <<<"$out")); timed without --rootless"
    else
        die "skopeo copy + umoci unpack failed: $out"
    fi
fi
echo "skopeo+umoci: bundle has $(find "$T/out/bundle/rootfs" | wc -l) entries (layers merged, whiteouts applied)${umoci_note:+; $umoci_note}"
retire "$T/out"
mkdir -p "$T/out"

# ---- 2. measure ---------------------------------------------------------------------------
stamp=$(date -u +%Y%m%dT%H%M%SZ)
res=$BENCH_DIR/results
mkdir -p "$res"
json=$res/load-$profile-$stamp.json
names=(-n "gantry load" -n "skopeo copy + umoci unpack" -n "pigz -dc (decompress only)")
cmds=("$cmd_gantry" "$(cmd_pair)" "$cmd_pigz")
if ((have_igzip)); then
    names+=(-n "igzip -dc (decompress only)")
    cmds+=("$cmd_igzip")
fi
names+=(-n "pigz -dc | tar -x (decompress+untar)")
cmds+=("$cmd_untar")

loadavg=$(cut -d' ' -f1-3 /proc/loadavg)
echo
echo "== timing: hyperfine --runs $runs --warmup 0, on $fstype ($fsdev) at $T =="
if ((drop)); then
    echo "page cache dropped before every run (sync; echo 3 > /proc/sys/vm/drop_caches)"
else
    echo "page cache NOT dropped (not root, or /proc/sys/vm/drop_caches not writable): runs after the first are warm"
fi
hyperfine --runs "$runs" --warmup 0 --prepare "$prepare" --export-json "$json" \
    "${names[@]}" "${cmds[@]}"

# ---- 3. report ---------------------------------------------------------------------------
meta=$res/load-$profile-$stamp.env
{
    echo "date=$(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "host=$(uname -srm), $(nproc) CPU ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)), $(free -g | awk '/^Mem:/{print $2}') GiB RAM"
    echo "fs=$fstype on $fsdev ($T)${mnt:+, tmpfs mounted by load.sh}"
    echo "drop=$drop"
    echo "runs=$runs"
    echo "gantry=$gantry_version"
    echo "load=$loadavg"
    echo "tools=skopeo $(skopeo --version | awk '{print $3}'), umoci $(umoci --version | awk '{print $3}') ${umoci_flags:-(no --rootless)}, pigz $(pigz --version 2>&1 | awk '{print $2}'), $(tar --version | head -1), hyperfine $(hyperfine --version | awk '{print $2}')$( ((have_igzip)) && echo ", igzip $(igzip --version 2>&1 | awk '{print $NF}')")"
    echo "note=$umoci_note"
} >"$meta"
"$PY" "$here/report.py" "$json" "$info" "$meta" | tee "$res/load-$profile-$stamp.txt"
echo
echo "results: $res/load-$profile-$stamp.{txt,json}"
