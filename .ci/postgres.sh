#!/usr/bin/env bash
# A throwaway PostgreSQL server for the tests and benchmarks (O1).
#
#   eval "$(bash .ci/postgres.sh start)"   # prints: export KIOSK_TEST_PG_URL=postgresql://...
#   bash .ci/postgres.sh stop
#
# Installs PostgreSQL with apt-get when initdb/pg_ctl are missing. PostgreSQL refuses to run as
# root, so the cluster belongs to the `postgres` user (created if missing). It lives in a
# temporary folder, listens on 127.0.0.1 only (port KIOSK_PG_PORT, default 55432), trusts local
# connections, and has an empty database kiosk_test. Everything but the export line goes to stderr.
#
# default_statistics_target=1000: with the default 100, ANALYZE keeps only the 100 commonest
# family/given names and guesses the rest from a histogram, so a prefix such as 'cox' (4,970
# patients of 1,000,000) is estimated at 66 rows; the planner then fetches every match from the
# heap and sorts instead of walking the (family_key, given_key, dob) index to the first 100.
set -euo pipefail

PORT="${KIOSK_PG_PORT:-55432}"
DIR="${KIOSK_PG_DIR:-${TMPDIR:-/tmp}/kiosk-postgres-$PORT}"
DB=kiosk_test
RUN_AS=postgres

log() { echo "postgres.sh: $*" >&2; }

find_bin() {
    local name="$1" found
    found="$(command -v "$name" 2>/dev/null || true)"
    if [ -z "$found" ]; then
        found="$(ls -d /usr/lib/postgresql/*/bin/"$name" 2>/dev/null | sort -V | tail -n 1 || true)"
    fi
    echo "$found"
}

ensure_installed() {
    # pgbouncer: the connection pooler docs/postgresql.md describes, which a test puts between
    # a read-only command and the desks (O1)
    if [ -z "$(find_bin initdb)" ] || [ -z "$(find_bin pg_ctl)" ] || ! command -v pgbouncer >/dev/null; then
        log "initdb/pg_ctl or pgbouncer not found: installing postgresql and pgbouncer with apt-get"
        if [ "$(id -u)" -ne 0 ]; then
            log "need root to install postgresql"; exit 1
        fi
        DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql pgbouncer >&2
        pkill -x pgbouncer 2>/dev/null || true  # the package may start its own; tests start theirs
    fi
    INITDB="$(find_bin initdb)"
    PG_CTL="$(find_bin pg_ctl)"
    BIN_DIR="$(dirname "$(readlink -f "$PG_CTL")")"
    PSQL="$BIN_DIR/psql"
    [ -x "$PSQL" ] || PSQL="$(find_bin psql)"
}

# Run a command as the cluster's owner (or as ourselves when we are not root).
as_owner() {
    if [ "$(id -u)" -eq 0 ]; then
        if ! id "$RUN_AS" >/dev/null 2>&1; then
            useradd --system --no-create-home --shell /usr/sbin/nologin "$RUN_AS" >&2
        fi
        if command -v runuser >/dev/null 2>&1; then
            runuser -u "$RUN_AS" -- "$@"
        else
            su -s /bin/sh "$RUN_AS" -c "$(printf '%q ' "$@")"
        fi
    else
        "$@"
    fi
}

owner_name() {
    if [ "$(id -u)" -eq 0 ]; then echo "$RUN_AS"; else id -un; fi
}

start() {
    ensure_installed
    mkdir -p "$DIR"
    if [ "$(id -u)" -eq 0 ]; then
        as_owner true  # creates the user if needed
        chown "$RUN_AS" "$DIR"
    fi
    chmod 700 "$DIR"
    if [ ! -f "$DIR/data/PG_VERSION" ]; then
        log "initdb in $DIR/data"
        as_owner "$INITDB" -D "$DIR/data" --locale=C -E UTF8 -A trust -U "$(owner_name)" >/dev/null
    fi
    if as_owner "$PG_CTL" -D "$DIR/data" status >/dev/null 2>&1; then
        log "already running on port $PORT"
    else
        as_owner "$PG_CTL" -D "$DIR/data" -l "$DIR/server.log" -w -t 60 \
            -o "-p $PORT -k $DIR -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=100 -c shared_buffers=512MB -c default_statistics_target=1000" start >&2
    fi
    if ! as_owner "$PSQL" -h 127.0.0.1 -p "$PORT" -U "$(owner_name)" -d postgres -tAc \
            "SELECT 1 FROM pg_database WHERE datname = '$DB'" | grep -q 1; then
        as_owner "$PSQL" -h 127.0.0.1 -p "$PORT" -U "$(owner_name)" -d postgres -qc "CREATE DATABASE $DB" >&2
    fi
    log "PostgreSQL ready on 127.0.0.1:$PORT (data in $DIR/data, log $DIR/server.log)"
    echo "export KIOSK_TEST_PG_URL=postgresql://$(owner_name)@127.0.0.1:$PORT/$DB"
}

stop() {
    ensure_installed
    if [ -f "$DIR/data/PG_VERSION" ] && as_owner "$PG_CTL" -D "$DIR/data" status >/dev/null 2>&1; then
        as_owner "$PG_CTL" -D "$DIR/data" -m fast -w stop >&2
    fi
    rm -rf "$DIR"
    log "stopped and removed $DIR"
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
