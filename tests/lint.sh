#!/usr/bin/env bash
# tests/lint.sh — clang-format and clang-tidy with the repository's .clang-format/.clang-tidy.
# Run by tests/run-all.sh (CI) after the ASan build; docs/lint.md says what is checked and why.
#
#   tests/lint.sh                 check; exits non-zero on any finding
#   tests/lint.sh --fix-format    reformat every file the format check covers, then check
#
# Environment:
#   ATLAS_LINT_BUILD=DIR   build tree whose compile_commands.json clang-tidy uses (default build/asan)
#   ATLAS_LINT_BASE=REF    also clang-tidy every host/plugin/sdk .cpp changed since REF (git diff REF)
#   ATLAS_LINT_JOBS=N      parallel clang-tidy processes (default: number of CPUs)
set -euo pipefail
cd "$(dirname "$0")/.."

fix_format=0
case "${1:-}" in
  "") ;;
  --fix-format) fix_format=1 ;;
  *) echo "usage: tests/lint.sh [--fix-format]" >&2; exit 2 ;;
esac
for tool in clang-format clang-tidy git; do
  command -v "$tool" >/dev/null 2>&1 || { echo "lint: $tool is not installed (packaging/install-deps.sh installs it)" >&2; exit 1; }
done
status=0

bash tests/lint/citations.sh || status=1

# ---- clang-format -------------------------------------------------------------------------
# Every tracked C/C++ file except generator output compared byte for byte (scan golden files,
# scan input fixtures) and the files still listed in tests/lint/format-pending.txt (written
# before formatting was checked; the list may only shrink: remove a file once it is formatted).
pending_list=tests/lint/format-pending.txt
mapfile -t pending < <(grep -v '^\s*#' "$pending_list" | sed '/^\s*$/d')
for p in "${pending[@]}"; do
  [ -f "$p" ] || { echo "lint: $pending_list lists $p, which does not exist: remove the line" >&2; status=1; }
done
mapfile -t format_files < <(git ls-files '*.c' '*.h' '*.cpp' '*.hpp' |
  grep -vE '^tests/integration/scan/(golden|fixtures)/' |
  grep -vxF -f <(printf '%s\n' "${pending[@]}" "/nonexistent/"))
if [ "$fix_format" = 1 ]; then
  clang-format -i "${format_files[@]}"
fi
echo "lint: clang-format --dry-run -Werror on ${#format_files[@]} files (${#pending[@]} pending in $pending_list)"
if ! clang-format --dry-run -Werror "${format_files[@]}"; then
  echo "lint: FAIL: the files above are not formatted; run tests/lint.sh --fix-format (or clang-format -i FILE)" >&2
  status=1
fi

# ---- clang-tidy ---------------------------------------------------------------------------
# A fixed subset (tests/lint/tidy-files.txt: the plugin boundary and the SDK headers, chosen to
# stay within ~3 minutes on 2 cores) plus, with ATLAS_LINT_BASE, every changed source.
build="${ATLAS_LINT_BUILD:-build/asan}"
if [ ! -f "$build/compile_commands.json" ]; then
  echo "lint: FAIL: $build/compile_commands.json not found; build first (cmake --preset asan)" >&2
  exit 1
fi
mapfile -t tidy_files < <(grep -v '^\s*#' tests/lint/tidy-files.txt | sed '/^\s*$/d')
if [ -n "${ATLAS_LINT_BASE:-}" ]; then
  mapfile -t -O "${#tidy_files[@]}" tidy_files < <(git diff --name-only --diff-filter=d "$ATLAS_LINT_BASE" -- \
    'host/src/*.cpp' 'plugins/*.cpp')
fi
mapfile -t tidy_files < <(printf '%s\n' "${tidy_files[@]}" | sort -u)
jobs="${ATLAS_LINT_JOBS:-$(nproc)}"
echo "lint: clang-tidy on ${#tidy_files[@]} files with $build/compile_commands.json ($jobs jobs)"
tidy_log=$(mktemp)
trap 'rm -f "$tidy_log"' EXIT
start=$(date +%s)
# --quiet drops the "N warnings generated" chatter; every finding is an error.
if ! printf '%s\n' "${tidy_files[@]}" |
  xargs -P "$jobs" -n 1 clang-tidy --quiet -p "$build" --warnings-as-errors='*' \
    --extra-arg=-Wno-unknown-warning-option --extra-arg=-Wno-ambiguous-reversed-operator > "$tidy_log" 2>&1; then
  grep -E 'error:|warning:|note:' "$tidy_log" >&2 || cat "$tidy_log" >&2
  echo "lint: FAIL: clang-tidy findings above; fix them or suppress one with // NOLINT(<check>): <reason>" >&2
  status=1
fi
echo "lint: clang-tidy took $(($(date +%s) - start)) s"
[ "$status" = 0 ] && echo "lint: OK"
exit "$status"
