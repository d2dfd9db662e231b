#!/usr/bin/env bash
# Stops a server started by ops/s3/start.sh DIR and removes DIR.
#
#   ops/s3/stop.sh DIR
set -euo pipefail

if [[ $# -ne 1 || -z $1 ]]; then
    echo "usage: $0 DIR" >&2
    exit 2
fi
[[ -d $1 ]] || exit 0
DIR=$(cd "$1" && pwd -P)

log() { echo "s3/stop: $*" >&2; }

# Refuse to delete anything start.sh did not create.
if [[ ! -e $DIR/.enkaku-s3 ]]; then
    log "$DIR was not created by ops/s3/start.sh; not touching it"
    exit 1
fi

if [[ -f $DIR/pid ]]; then
    PID=$(head -n 1 "$DIR/pid")
    # Only signal it if it still is the moto server we started.
    if [[ $PID =~ ^[0-9]+$ ]] && grep -qs 'moto.server' "/proc/$PID/cmdline"; then
        kill "$PID" 2>/dev/null || true
        # Done once it is gone or a zombie (its parent, init, reaps it later).
        running() { grep -qs 'moto.server' "/proc/$PID/cmdline"; }
        for _ in $(seq 1 50); do
            running || break
            sleep 0.05
        done
        if running; then
            kill -KILL "$PID" 2>/dev/null || true
        fi
    fi
fi

rm -rf -- "$DIR"
