#!/usr/bin/env bash
# One copy of a layer (issue 56, docs/storage.md): store bytes on disk and `gantry load` time with
# one copy (the default: tree + tar-split), with store.keep_compressed: true (tree + tar-split +
# blob), and with a gantry built before this (BEFORE=path: tree + blob), and podman's store after
# `podman load` of the same archive (when podman is installed).
#
#   bench/one_copy.sh [--rounds N] IMAGE_DIR
#
# IMAGE_DIR holds docker-archive.tar (bench/make_big_image.py --profile full IMAGE_DIR). Rounds
# alternate the variants, each into a fresh store on the same filesystem ($BENCH_DIR, default
# /var/tmp/gantry-bench-store); the page cache is not dropped. Prints one line per run and the
# medians. A measurement, not a test.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
rounds=3
if [[ ${1:-} == --rounds ]]; then rounds=$2; shift 2; fi
img=${1:?usage: bench/one_copy.sh [--rounds N] IMAGE_DIR}
archive=$img/docker-archive.tar
gantry=${GANTRY:-$here/../build/gantry}
before=${BEFORE:-}
work=${BENCH_DIR:-/var/tmp/gantry-bench-store}/one-copy.$$
mkdir -p "$work"
trap 'rm -rf "$work"' EXIT
printf 'store:\n  keep_compressed: true\n' >"$work/keep.yaml"

run() { # NAME BINARY [CONFIG]
    local name=$1 bin=$2 cfg=${3:-} root=$work/store
    rm -rf "$root"
    local t
    t=$( { /usr/bin/time -f '%e %U %S' env GANTRY_ROOT="$root" ${cfg:+GANTRY_CONFIG=$cfg} \
        "$bin" load "$archive" >/dev/null; } 2>&1 | tail -1)
    local du
    du=$(du -s --block-size=1M "$root" | cut -f1)
    echo "$name wall_s=$(cut -d' ' -f1 <<<"$t") user_s=$(cut -d' ' -f2 <<<"$t") sys_s=$(cut -d' ' -f3 <<<"$t") store_MiB=$du"
    rm -rf "$root"
}

for ((i = 1; i <= rounds; i++)); do
    run one-copy "$gantry"
    run keep-compressed "$gantry" "$work/keep.yaml"
    [[ -n $before ]] && run before "$before"
done | tee "$work/runs.txt"

if command -v podman >/dev/null; then
    p=$work/podman
    t=$( { /usr/bin/time -f '%e %U %S' podman --root "$p/root" --runroot "$p/run" \
        --storage-driver overlay load -i "$archive" >/dev/null; } 2>&1 | tail -1)
    echo "podman wall_s=$(cut -d' ' -f1 <<<"$t") store_MiB=$(du -s --block-size=1M "$p/root" | cut -f1)"
    podman --root "$p/root" --runroot "$p/run" --storage-driver overlay system reset -f \
        >/dev/null 2>&1 || true
    rm -rf "$p"
fi

echo "medians:"
for name in one-copy keep-compressed before; do
    grep "^$name " "$work/runs.txt" >/dev/null || continue
    python3 - "$name" "$work/runs.txt" <<'EOF'
import statistics, sys
name, path = sys.argv[1], sys.argv[2]
rows = [dict(kv.split("=") for kv in l.split()[1:]) for l in open(path) if l.startswith(name + " ")]
med = {k: statistics.median(float(r[k]) for r in rows) for k in rows[0]}
print(f"  {name}: " + " ".join(f"{k}={v:g}" for k, v in med.items()) + f" ({len(rows)} rounds)")
EOF
done
