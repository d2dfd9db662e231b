#!/usr/bin/env bash
# Starts a throwaway S3-compatible server (moto, from PyPI) for tests.
#
#   ops/s3/start.sh DIR [WATCH_PID]
#
# DIR is created if needed (use a fresh `mktemp -d`). The server listens on
# 127.0.0.1 on a free port, keeps everything in memory and accepts any
# credentials (tests use "test"/"test"). Its pid goes to DIR/pid, its log to
# DIR/log. On success prints exactly one line on stdout:
#
#   http://127.0.0.1:PORT
#
# With WATCH_PID, the server is also stopped when that process exits (so a
# killed test cannot leave it running). Stop it and remove DIR with
# ops/s3/stop.sh DIR. Installs moto[server] with pip if it is missing.
set -euo pipefail

if [[ $# -lt 1 || $# -gt 2 || -z $1 ]]; then
    echo "usage: $0 DIR [WATCH_PID]" >&2
    exit 2
fi
mkdir -p "$1"
DIR=$(cd "$1" && pwd -P)
WATCH_PID=${2:-}

log() { echo "s3/start: $*" >&2; }

if [[ -e $DIR/pid ]]; then
    log "$DIR/pid already exists; use a fresh directory"
    exit 1
fi

if ! python3 -c 'import moto.server' >/dev/null 2>&1; then
    log "installing moto[server] with pip"
    PIP_BREAK_SYSTEM_PACKAGES=1 python3 -m pip install -q --disable-pip-version-check \
        'moto[server]>=5,<6' </dev/null >&2
fi

touch "$DIR/.enkaku-s3" # marker checked by stop.sh before it deletes DIR

free_port() {
    python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
}

# Waits until the server at $1 answers HTTP while pid $2 lives (up to 30 s).
wait_ready() {
    python3 - "$1" "$2" <<'PY'
import os, sys, time, urllib.request, urllib.error
url, pid = sys.argv[1], int(sys.argv[2])
deadline = time.monotonic() + 30
while time.monotonic() < deadline:
    try:
        os.kill(pid, 0)
    except OSError:
        sys.exit(1)
    try:
        urllib.request.urlopen(url + "/moto-api/", timeout=1).close()
        sys.exit(0)
    except urllib.error.HTTPError:
        sys.exit(0)  # any HTTP answer will do
    except Exception:
        time.sleep(0.05)
sys.exit(1)
PY
}

# The port may be taken between picking and binding: retry a few times.
for attempt in 1 2 3 4 5; do
    PORT=$(free_port)
    URL=http://127.0.0.1:$PORT
    # setsid + no inherited stdio: the caller's pipes close as soon as we exit.
    setsid python3 -m moto.server -H 127.0.0.1 -p "$PORT" </dev/null >>"$DIR/log" 2>&1 &
    PID=$!
    echo "$PID" >"$DIR/pid"
    if wait_ready "$URL" "$PID"; then
        if [[ -n $WATCH_PID ]]; then
            # shellcheck disable=SC2016  # expanded by the inner bash
            setsid bash -c 'while kill -0 "$1" 2>/dev/null && kill -0 "$2" 2>/dev/null; do
                    sleep 1
                done
                kill "$2" 2>/dev/null || true' watchdog "$WATCH_PID" "$PID" \
                </dev/null >/dev/null 2>&1 &
        fi
        echo "$URL"
        exit 0
    fi
    log "start on port $PORT failed (attempt $attempt); log tail:"
    tail -n 20 "$DIR/log" >&2 || true
    kill "$PID" 2>/dev/null || true
    wait "$PID" 2>/dev/null || true
    rm -f "$DIR/pid"
done
log "could not start moto"
exit 1
