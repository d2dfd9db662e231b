#!/usr/bin/env bash
# Stops a cluster started by ops/pg/start.sh DIR and removes DIR.
#
#   ops/pg/stop.sh DIR
set -euo pipefail

if [[ $# -ne 1 || -z $1 ]]; then
    echo "usage: $0 DIR" >&2
    exit 2
fi
[[ -d $1 ]] || exit 0
DIR=$(cd "$1" && pwd -P)
DATA=$DIR/data

log() { echo "pg/stop: $*" >&2; }

# Refuse to delete anything start.sh did not create.
if [[ ! -e $DIR/.enkaku-pg ]]; then
    log "$DIR was not created by ops/pg/start.sh; not touching it"
    exit 1
fi

BINDIR=
for d in "${PG_BINDIR:-}" /usr/lib/postgresql/15/bin; do
    if [[ -n $d && -x $d/pg_ctl ]]; then
        BINDIR=$d
        break
    fi
done
if [[ -z $BINDIR ]] && command -v pg_config >/dev/null 2>&1; then
    d=$(pg_config --bindir 2>/dev/null || true)
    [[ -n $d && -x $d/pg_ctl ]] && BINDIR=$d
fi
if [[ -z $BINDIR ]] && command -v pg_ctl >/dev/null 2>&1; then
    BINDIR=$(dirname "$(readlink -f "$(command -v pg_ctl)")")
fi

if [[ -f $DATA/postmaster.pid ]]; then
    cd "$DIR"
    if [[ -z $BINDIR ]]; then
        log "pg_ctl not found; killing the postmaster directly"
        kill -QUIT "$(head -n 1 "$DATA/postmaster.pid")" 2>/dev/null || true
    elif [[ $(id -u) -eq 0 && $(stat -c %U "$DATA") != root ]]; then
        runuser -u "$(stat -c %U "$DATA")" -- "$BINDIR/pg_ctl" -D "$DATA" -m immediate -s -w stop >&2 || true
    else
        "$BINDIR/pg_ctl" -D "$DATA" -m immediate -s -w stop >&2 || true
    fi
    cd /
fi

rm -rf -- "$DIR"
