#!/usr/bin/env bash
# Runs every libFuzzer target for a fixed time and prints executions and findings per target.
#
#   fuzz/run.sh [SECONDS_PER_TARGET] [TARGET...]     (default 15 s, every target)
#   ATLAS_FUZZ_RUNS=N fuzz/run.sh 0 [TARGET...]      (N inputs per target, seed ATLAS_FUZZ_SEED or 1:
#                                                     the same inputs on every machine; what CI runs)
#
# Needs the fuzz build (cmake --preset fuzz && cmake --build --preset fuzz). Each target starts
# from its seed corpus fuzz/corpus/<target>/ (read-only here) plus a working corpus in
# build/fuzz/work/<target>/ that grows across runs. A crash, leak, timeout or out-of-memory
# leaves its input in build/fuzz/artifacts/ and makes the script exit 1; copy that input into
# fuzz/corpus/<target>/ once fixed, as the regression input. docs/fuzzing.md has the long run.
set -uo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
build="${ATLAS_FUZZ_BUILD_DIR:-$root/build/fuzz}"
seconds="${1:-15}"
shift || true

if [[ ! -d "$build/fuzz" ]]; then
  echo "fuzz/run.sh: no fuzz build in $build (run: cmake --preset fuzz && cmake --build --preset fuzz)" >&2
  exit 2
fi
targets=("$@")
if ((${#targets[@]} == 0)); then
  for t in "$root"/fuzz/corpus/*/; do targets+=("$(basename "$t")"); done
fi

mkdir -p "$build/artifacts" "$build/work" "$build/logs"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1:suppressions=$root/fuzz/ubsan.supp}"

failed=0
printf '%-16s %12s %10s %8s  %s\n' target executions exec/s corpus result
for t in "${targets[@]}"; do
  bin="$build/fuzz/fuzz_$t"
  if [[ ! -x "$bin" ]]; then
    printf '%-16s %12s %10s %8s  %s\n' "$t" - - - "MISSING ($bin)"
    failed=1
    continue
  fi
  mkdir -p "$build/work/$t"
  log="$build/logs/$t.log"
  # -timeout: one input taking longer is a finding (a hang); -rss_limit_mb bounds memory blow-ups.
  if [[ -n "${ATLAS_FUZZ_RUNS:-}" ]]; then
    budget=(-runs="$ATLAS_FUZZ_RUNS" -seed="${ATLAS_FUZZ_SEED:-1}")
  else
    budget=(-max_total_time="$seconds")
  fi
  "$bin" "${budget[@]}" -timeout=10 -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
    -artifact_prefix="$build/artifacts/$t-" "$build/work/$t" "$root/fuzz/corpus/$t" >"$log" 2>&1
  rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  corpus=$(find "$build/work/$t" -type f | wc -l)
  if ((rc == 0)); then
    result=ok
  else
    result="FAILED (exit $rc): $(grep -m1 -E 'ERROR: |runtime error|Test unit written' "$log" | cut -c1-120); log $log"
    failed=1
  fi
  printf '%-16s %12s %10s %8s  %s\n' "$t" "${execs:--}" "${rate:--}" "$corpus" "$result"
done
exit $failed
