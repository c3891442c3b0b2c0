#!/bin/sh
# CTest driver for the npm-based tests: installs the pinned packages of DIR (its
# package-lock.json) and runs DIR/run.mjs with the atlas-host binary. Exit 77 (skipped) only
# when node/npm are missing or the packages cannot be downloaded for lack of network.
#   sh tests/support/npm_test.sh DIR /path/to/atlas-host
set -u
dir="$(cd "$1" && pwd)"
host_bin="$2"
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "SKIP: node and npm are needed for this test (apt-get install nodejs npm)"
  exit 77
fi
cd "$dir" || exit 1
log="$(mktemp)"
if ! npm ci --offline --no-audit --no-fund >"$log" 2>&1; then
  if ! npm ci --no-audit --no-fund >"$log" 2>&1; then
    if grep -Eq 'ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ETIMEDOUT|ENETUNREACH|ECONNRESET|network' "$log"; then
      echo "SKIP: npm ci could not download the packages of $dir (no network):"
      tail -5 "$log"
      rm -f "$log"
      exit 77
    fi
    echo "npm ci failed:"
    cat "$log"
    rm -f "$log"
    exit 1
  fi
fi
rm -f "$log"
exec node "$dir/run.mjs" "$host_bin"
