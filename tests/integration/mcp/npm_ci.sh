#!/bin/sh
# Installs the npm MCP servers the tests use into DEST (a build folder) with `npm ci`.
# Exit 77 (CTest "skipped") when npm is not installed. Safe to run concurrently (flock).
# usage: npm_ci.sh SRC_NODE_DIR DEST_DIR
set -eu
SRC=$1
DEST=$2
if ! command -v npm >/dev/null 2>&1; then
  echo "SKIP: npm is not installed; the MCP integration tests need Node.js 18+ and npm" \
       "(apt-get install nodejs npm) to install @modelcontextprotocol/server-filesystem and server-everything" >&2
  exit 77
fi
mkdir -p "$DEST"
exec 9>"$DEST/.install.lock"
flock 9
if [ -f "$DEST/node_modules/.package-lock.json" ] && cmp -s "$SRC/package-lock.json" "$DEST/package-lock.json" \
   && [ -x "$DEST/node_modules/.bin/mcp-server-filesystem" ] && [ -x "$DEST/node_modules/.bin/mcp-server-everything" ]; then
  exit 0
fi
cp "$SRC/package.json" "$SRC/package-lock.json" "$DEST/"
cd "$DEST"
npm ci --no-audit --no-fund --loglevel=error >&2
