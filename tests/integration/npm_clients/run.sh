#!/bin/sh
# CTest driver: installs the pinned npm packages (package-lock.json) and runs run.mjs against
# a mock-llm child process. Exit 77 (skipped) only when node/npm are missing or the packages
# cannot be downloaded for lack of network.
set -u
host_bin="$1"
here="$(cd "$(dirname "$0")" && pwd)"
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "SKIP: node and npm are needed for the official-client test (apt-get install nodejs npm)"
  exit 77
fi
work="${ATLAS_NPM_WORK_DIR:-$here}"
cd "$work" || exit 1
log="$(mktemp)"
if ! npm ci --offline --no-audit --no-fund >"$log" 2>&1; then
  if ! npm ci --no-audit --no-fund >"$log" 2>&1; then
    if grep -Eq 'ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ETIMEDOUT|ENETUNREACH|ECONNRESET|network' "$log"; then
      echo "SKIP: npm ci could not download openai/@anthropic-ai/sdk (no network):"
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
exec node "$here/run.mjs" "$host_bin"
