#!/usr/bin/env bash
# install_quickstart.sh BUILD_DIR CMAKE
# `cmake --install` of the host component into a temporary prefix, then the installed binary's
# quickstart run from an unrelated folder with no provider key: it must find its scenario (and
# the example configs) under <prefix>/share/atlas-host, not in a source or build tree.
set -euo pipefail
build=$1 cmake=$2
fail() { echo "FAIL: $*" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/atlas-install-qs-XXXXXX")
trap 'rm -rf "$work"' EXIT
prefix="$work/prefix"

echo "== cmake --install --component host --prefix $prefix"
"$cmake" --install "$build" --prefix "$prefix" --component host > "$work/install.log" 2>&1 ||
  { cat "$work/install.log"; fail "cmake --install failed"; }
share="$prefix/share/atlas-host"
for f in configs/quickstart-scenario.json configs/quickstart.toml configs/command-agent.toml \
         plugins/adapters/command/examples/echo_agent.py; do
  [ -f "$share/$f" ] || fail "not installed: share/atlas-host/$f"
done

echo "== installed quickstart from another folder"
mkdir -p "$work/elsewhere"
cd "$work/elsewhere"
set +e
env -u OPENAI_API_KEY -u OPENAI_BASE_URL -u ANTHROPIC_API_KEY -u GEMINI_API_KEY \
  "$prefix/bin/atlas-host" quickstart --tasks 1 > "$work/out.txt" 2> "$work/err.txt"
code=$?
set -e
if [ "$code" -ne 0 ]; then cat "$work/out.txt" "$work/err.txt"; fail "installed quickstart exited $code"; fi
grep -q "SCRIPTED ($share/configs/quickstart-scenario.json)" "$work/err.txt" ||
  { cat "$work/err.txt"; fail "quickstart did not use the installed scenario"; }
grep -q "Sessions stored in sqlite $work/elsewhere/.atlas/atlas.db" "$work/out.txt" ||
  { cat "$work/out.txt"; fail "quickstart did not store in the working folder"; }
echo "ok: installed quickstart ran with $share/configs/quickstart-scenario.json"
