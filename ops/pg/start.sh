#!/usr/bin/env bash
# Starts a throwaway PostgreSQL 15 cluster for tests.
#
#   ops/pg/start.sh DIR
#
# DIR is created if needed (use a fresh `mktemp -d`; it must be reachable by
# the postgres user, so keep it under /tmp when running as root). The cluster
# lives in DIR/data, listens on 127.0.0.1 on a free port (and on a unix socket
# in DIR), trusts every local connection and is tuned for speed, not safety.
# On success prints exactly one line on stdout:
#
#   postgres://postgres@127.0.0.1:PORT/postgres
#
# Stop it and remove DIR with ops/pg/stop.sh DIR. Server log: DIR/postgres.log.
set -euo pipefail

if [[ $# -ne 1 || -z $1 ]]; then
    echo "usage: $0 DIR" >&2
    exit 2
fi
mkdir -p "$1"
DIR=$(cd "$1" && pwd -P)
DATA=$DIR/data
LOG=$DIR/postgres.log

log() { echo "pg/start: $*" >&2; }

# Locate the server binaries: $PG_BINDIR, Debian's PostgreSQL 15, pg_config,
# then whatever initdb is on PATH.
find_bindir() {
    local d
    for d in "${PG_BINDIR:-}" /usr/lib/postgresql/15/bin; do
        if [[ -n $d && -x $d/initdb && -x $d/pg_ctl ]]; then
            echo "$d"
            return
        fi
    done
    if command -v pg_config >/dev/null 2>&1; then
        d=$(pg_config --bindir 2>/dev/null || true)
        if [[ -n $d && -x $d/initdb && -x $d/pg_ctl ]]; then
            echo "$d"
            return
        fi
    fi
    if command -v initdb >/dev/null 2>&1; then
        d=$(dirname "$(readlink -f "$(command -v initdb)")")
        if [[ -x $d/pg_ctl ]]; then
            echo "$d"
            return
        fi
    fi
    return 1
}
if ! BINDIR=$(find_bindir); then
    log "PostgreSQL server binaries (initdb, pg_ctl) not found; run ops/deps.sh --test"
    exit 1
fi

# Run as the postgres user when we are root (the server refuses to run as
# root); otherwise as ourselves.
if [[ $(id -u) -eq 0 ]]; then
    if ! id postgres >/dev/null 2>&1; then
        log "no 'postgres' user; install postgresql-15 (ops/deps.sh --test)"
        exit 1
    fi
    chown postgres: "$DIR"
    chmod 700 "$DIR"
    as_pg() { runuser -u postgres -- "$@"; }
else
    as_pg() { "$@"; }
fi

if [[ -e $DATA ]]; then
    log "$DATA already exists; use a fresh directory"
    exit 1
fi

# Work from DIR so that the postgres user is never left in an unreadable cwd.
cd "$DIR"
touch "$DIR/.enkaku-pg" # marker checked by stop.sh before it deletes DIR

as_pg "$BINDIR/initdb" -D "$DATA" -U postgres -A trust -E UTF8 --locale=C.UTF-8 \
    --no-sync >"$DIR/initdb.log" 2>&1 || {
    log "initdb failed:"
    cat "$DIR/initdb.log" >&2
    exit 1
}

# Only the unix socket (in DIR, mode 0700) and IPv4 loopback are accepted.
as_pg tee "$DATA/pg_hba.conf" >/dev/null <<'EOF'
# TYPE  DATABASE  USER  ADDRESS       METHOD
local   all       all                 trust
host    all       all   127.0.0.1/32  trust
EOF

free_port() {
    python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
}

# The port may be taken between picking and binding: retry a few times.
for attempt in 1 2 3 4 5; do
    PORT=$(free_port)
    as_pg tee "$DATA/postgresql.auto.conf" >/dev/null <<EOF
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$DIR'
max_connections = 300
fsync = off
synchronous_commit = off
full_page_writes = off
wal_level = minimal
max_wal_senders = 0
max_wal_size = '1GB'
timezone = 'UTC'
log_timezone = 'UTC'
log_min_duration_statement = -1
EOF
    if as_pg "$BINDIR/pg_ctl" -D "$DATA" -l "$LOG" -w -t 60 -s start >&2; then
        echo "postgres://postgres@127.0.0.1:$PORT/postgres"
        exit 0
    fi
    log "start on port $PORT failed (attempt $attempt); log tail:"
    tail -n 20 "$LOG" >&2 || true
    as_pg "$BINDIR/pg_ctl" -D "$DATA" -m immediate -s stop >/dev/null 2>&1 || true
done
log "could not start PostgreSQL"
exit 1
