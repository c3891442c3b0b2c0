#!/usr/bin/env bash
# Builds everything under AddressSanitizer + UndefinedBehaviorSanitizer and runs the whole
# test suite, with a throw-away PostgreSQL 15 cluster for the PostgreSQL storage tests.
# This is the README's second command and what CI (.ci/run) runs. Run as root on Debian 12.
set -euo pipefail
cd "$(dirname "$0")/.."

bash packaging/install-deps.sh

# ccache (when present) may reuse objects across clones of the repository.
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=1

cmake --preset asan
cmake --build --preset asan

# A private PostgreSQL cluster on a unix socket and a free port; stopped on exit whatever happens.
pg_env="$(mktemp)"
cleanup() {
  bash tests/support/postgres.sh stop || true
  rm -f "$pg_env"
}
trap cleanup EXIT
bash tests/support/postgres.sh start > "$pg_env"
# shellcheck disable=SC1090
source "$pg_env"
echo "run-all: PostgreSQL for tests at ${ATLAS_TEST_PG_URL}"

ctest --preset asan

# Lint: citations, clang-format, clang-tidy on a fixed subset (docs/lint.md).
bash tests/lint.sh

# libFuzzer targets (docs/fuzzing.md): a clang build of the parsers, each run over its seed
# corpus (regression inputs first) and a fixed number of inputs from a fixed seed, so every
# machine runs the same inputs; any crash, leak, hang or out-of-memory fails the run. Open-ended
# campaigns are `fuzz/run.sh SECONDS`. ATLAS_RUN_FUZZ=0 skips the step.
if [[ "${ATLAS_RUN_FUZZ:-1}" == 1 ]]; then
  cmake --preset fuzz
  cmake --build --preset fuzz
  ATLAS_FUZZ_RUNS="${ATLAS_FUZZ_RUNS:-50000}" bash fuzz/run.sh 0
fi
