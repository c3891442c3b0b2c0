#!/usr/bin/env bash
# Throw-away PostgreSQL cluster for the storage tests (unix socket only, no TCP listener).
#
#   bash tests/support/postgres.sh start    # prints `export ATLAS_TEST_PG_URL=...` lines on stdout
#   bash tests/support/postgres.sh stop     # stops the cluster and deletes its folder
#   bash tests/support/postgres.sh pause    # pg_ctl stop -m fast (the cluster is kept)
#   bash tests/support/postgres.sh resume   # starts a paused cluster again on the same socket
#
# Runs initdb/pg_ctl as the `postgres` user when invoked as root (PostgreSQL refuses to run as
# root). The cluster's location is kept in the file $ATLAS_TEST_PG_STATE names; `start` exports
# it (by default a file inside the cluster's own folder, so two checkouts running tests at once
# never stop each other's cluster) and stop/pause/resume/createdb read it. Progress goes to
# stderr; stdout carries only the exports.
set -euo pipefail

STATE="${ATLAS_TEST_PG_STATE:-}"

pg_bin() {
  local d
  for d in /usr/lib/postgresql/*/bin; do
    if [[ -x "$d/pg_ctl" ]]; then echo "$d"; return 0; fi
  done
  command -v pg_ctl >/dev/null 2>&1 && dirname "$(command -v pg_ctl)" && return 0
  echo "postgres.sh: pg_ctl not found; install postgresql (packaging/install-deps.sh)" >&2
  return 1
}

as_pg() {
  if [[ "$(id -u)" == "0" ]]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

load_state() {
  if [[ -z "$STATE" ]]; then
    echo "postgres.sh: ATLAS_TEST_PG_STATE is not set; eval the output of 'postgres.sh start' first" >&2
    return 1
  fi
  if [[ ! -f "$STATE" ]]; then
    echo "postgres.sh: no cluster recorded in $STATE (run 'start' first)" >&2
    return 1
  fi
  # shellcheck disable=SC1090
  source "$STATE"
}

cmd="${1:-}"
case "$cmd" in
  start)
    BIN="$(pg_bin)"
    ROOT="$(mktemp -d /tmp/atlas-pg.XXXXXX)"
    DATA="$ROOT/data"
    SOCK="$ROOT/sock"
    mkdir -p "$DATA" "$SOCK"
    if [[ "$(id -u)" == "0" ]]; then chown -R postgres: "$ROOT"; fi
    chmod 700 "$ROOT"
    if [[ "$(id -u)" == "0" ]]; then chmod 755 "$ROOT"; fi
    # With listen_addresses='' the port only names the socket file, so it cannot clash with
    # another server; still pick one that is unlikely to be used by a system cluster.
    PORT=$(( 20000 + RANDOM % 20000 ))
    as_pg "$BIN/initdb" -D "$DATA" -A trust -U postgres -E UTF8 --no-sync >&2
    as_pg "$BIN/pg_ctl" -D "$DATA" -l "$ROOT/server.log" -w -t 60 \
      -o "-p $PORT -k $SOCK -c listen_addresses='' -c fsync=off -c max_connections=200" start >&2
    as_pg "$BIN/createdb" -h "$SOCK" -p "$PORT" -U postgres atlas_test >&2
    [[ -n "$STATE" ]] || STATE="$ROOT/state.env"
    cat > "$STATE" <<STATE_EOF
BIN='$BIN'
ROOT='$ROOT'
DATA='$DATA'
SOCK='$SOCK'
PORT='$PORT'
STATE_EOF
    echo "export ATLAS_TEST_PG_URL='postgresql://postgres@/atlas_test?host=$SOCK&port=$PORT'"
    echo "export ATLAS_TEST_PG_STATE='$STATE'"
    ;;
  stop)
    load_state || exit 0
    as_pg "$BIN/pg_ctl" -D "$DATA" -m immediate stop >&2 || true
    rm -rf "$ROOT" "$STATE"
    ;;
  pause)
    load_state
    as_pg "$BIN/pg_ctl" -D "$DATA" -m fast -w stop >&2
    ;;
  resume)
    load_state
    as_pg "$BIN/pg_ctl" -D "$DATA" -l "$ROOT/server.log" -w -t 60 \
      -o "-p $PORT -k $SOCK -c listen_addresses='' -c fsync=off -c max_connections=200" start >&2
    ;;
  createdb)
    load_state
    as_pg "$BIN/createdb" -h "$SOCK" -p "$PORT" -U postgres "${2:?database name}" >&2
    echo "postgresql://postgres@/${2}?host=$SOCK&port=$PORT"
    ;;
  *)
    echo "usage: postgres.sh start|stop|pause|resume|createdb NAME" >&2
    exit 2
    ;;
esac
