#!/usr/bin/env bash
# Runs the libFuzzer harnesses built in BUILD/fuzz/ for SECONDS each (fuzz/README.md).
#   fuzz/run.sh BUILD SECONDS [TARGET...]        (default: every fuzz_* binary)
# Environment: FUZZ_JOBS (targets run at once; default: the number of CPUs), FUZZ_ARGS (more
# libFuzzer flags, e.g. "-max_len=65536 -use_value_profile=1").
# Per target: the seeds (fuzz/make_corpus.py) in BUILD/fuzz-seeds/T, the inputs of fixed
# findings in fuzz/regressions/T (replayed first, every run), and the growing corpus in
# BUILD/fuzz-corpus/T (kept between runs); the log in BUILD/fuzz-logs/T.log; a crashing, leaking
# or timing-out input in BUILD/fuzz-artifacts/T/. Prints one line per target (executions, time,
# corpus size, result) and exits 1 when any target found something.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:?usage: fuzz/run.sh BUILD SECONDS [TARGET...]}
seconds=${2:?usage: fuzz/run.sh BUILD SECONDS [TARGET...]}
shift 2
jobs=${FUZZ_JOBS:-$(nproc)}
# LeakSanitizer on in every harness (issue 36): libFuzzer's -detect_leaks is 1 by default, but an
# ASAN_OPTIONS with detect_leaks=0 in the caller's environment would turn it off; the last wins
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=1"
build=$(cd "$build" && pwd)

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for f in "$build"/fuzz/fuzz_*; do targets+=("$(basename "$f" | sed 's/^fuzz_//')"); done
fi
[ ${#targets[@]} -gt 0 ] || { echo "fuzz: no harnesses in $build/fuzz (make fuzz-build)" >&2; exit 2; }

/usr/bin/python3 fuzz/make_corpus.py "$build/fuzz-seeds" >/dev/null
mkdir -p "$build/fuzz-logs" "$build/fuzz-corpus" "$build/fuzz-artifacts"

run_one() {
  local t=$1 build=$2 seconds=$3
  local bin="$build/fuzz/fuzz_$t" corpus="$build/fuzz-corpus/$t" art="$build/fuzz-artifacts/$t/"
  local log="$build/fuzz-logs/$t.log"
  [ -x "$bin" ] || { echo "$t: no binary $bin" >"$log"; echo "$t MISSING"; return 0; }
  mkdir -p "$corpus" "$art"
  local dirs=("$corpus" "$build/fuzz-seeds/$t")
  [ -d "fuzz/regressions/$t" ] && dirs+=("fuzz/regressions/$t")
  local start rc=0
  start=$(date +%s)
  # -timeout: one input taking 20 s is a finding (a hang); -rss_limit_mb: so is 2 GiB of memory
  # shellcheck disable=SC2086
  "$bin" -max_total_time="$seconds" -print_final_stats=1 -timeout=20 -rss_limit_mb=2048 \
    -artifact_prefix="$art" ${FUZZ_ARGS:-} "${dirs[@]}" >"$log" 2>&1 || rc=$?
  local took=$(($(date +%s) - start))
  local execs units
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  units=$(find "$corpus" -type f | wc -l)
  echo "$t execs=${execs:-?} seconds=$took corpus=$units rc=$rc"
}
export -f run_one

printf '%s\n' "${targets[@]}" |
  xargs -P "$jobs" -I{} bash -c 'run_one "$@"' _ {} "$build" "$seconds" |
  sort >"$build/fuzz-logs/summary.txt"

failed=0
printf '%-18s %12s %8s %8s  %s\n' target executions seconds corpus result
while read -r t e s c r; do
  rc=${r#rc=}
  result=ok
  if [ "$e" = MISSING ]; then result="no binary"; failed=1
  elif [ "$rc" != 0 ]; then result="FOUND SOMETHING (exit $rc): see $build/fuzz-logs/$t.log"; failed=1
  fi
  printf '%-18s %12s %8s %8s  %s\n' "$t" "${e#execs=}" "${s#seconds=}" "${c#corpus=}" "$result"
done <"$build/fuzz-logs/summary.txt"
echo "fuzz: logs in $build/fuzz-logs/, crash/leak/timeout inputs in $build/fuzz-artifacts/<target>/"
if [ "$failed" != 0 ]; then
  echo "fuzz: FAILED; reproduce with $build/fuzz/fuzz_<target> <artifact>" >&2
  exit 1
fi
