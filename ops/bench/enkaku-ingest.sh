#!/usr/bin/env bash
# One ingest benchmark run against a FRESH Enkaku (release build): a new data directory,
# the demo prefecture seeded, a DICOM node registered for the benchmark's calling AE title
# (BENCHSCU, 127.0.0.1) through the API, then ../shared/bench/ingest.sh sends the study and
# checks the stored count through /api/v1/studies. Prints ingest.sh's result line.
#
#   ops/bench/enkaku-ingest.sh STUDY_DIR [BIN]
#
# WARMUP_STUDY=DIR first sends another study (different UIDs: gen-study.py --seed 2) and
# waits until the journal has copied it into the blob store, so that the measured study
# meets the journal as a server in service does: segments recycled, not new files.
#
# BIN defaults to target/release/enkaku (cargo build --release -p portal --bin enkaku).
# Needs ../shared/bench (the team handbook) and what its README installs.
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
study=$1
bin=${2:-$here/target/release/enkaku}
bench=${BENCH_DIR:-$here/../shared/bench}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
http=$(free_port); dicom=$(free_port)
data=$(mktemp -d /tmp/enkaku-bench.XXXXXX)
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$data"' EXIT
RUST_LOG=warn "$bin" demo --data-dir "$data" --http "127.0.0.1:$http" --dicom "127.0.0.1:$dicom" >"$data.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$http/healthz" >/dev/null && break; sleep 0.1; done
tok() { python3 -c "import json,sys; print([u['token'] for u in json.load(open('$data/demo-accounts.json'))['users'] if u['username']=='$1'][0])"; }
admin=$(tok fadmin.sanuki); reader=$(tok dr.sanuki)
curl -sf -H "Authorization: Bearer $admin" -H 'Content-Type: application/json' \
  -d '{"ae_title":"BENCHSCU","allowed_addresses":["127.0.0.1"],"description":"benchmark","is_enabled":true}' \
  "http://127.0.0.1:$http/api/v1/dicom-nodes" >/dev/null
if [ -n "${WARMUP_STUDY:-}" ]; then
  n=$(ls "$WARMUP_STUDY" | wc -l)
  TCP_NODELAY=1 storescu -q -aet BENCHSCU -aec ENKAKU -xe +sd +r +sp '*.dcm' 127.0.0.1 "$dicom" "$WARMUP_STUDY"
  for _ in $(seq 1 600); do
    [ "$(find "$data/blobs/sha256" -type f 2>/dev/null | wc -l)" -ge "$n" ] && break
    sleep 0.5
  done
  sleep 2 # the copier recycles the segments right after the last copy
  echo "warm-up: $n instances copied; journal: $(ls "$data/journal" | wc -l) segments, $(du -sm "$data/journal" | cut -f1) MB" >&2
fi
export ENKAKU_PORT=$dicom ENKAKU_PID=$pid ENKAKU_AET=ENKAKU
export ENKAKU_VERIFY_CMD="curl -s -H 'Authorization: Bearer $reader' 'http://127.0.0.1:$http/api/v1/studies?per_page=200' | python3 -c 'import json,sys,os; d=json.load(sys.stdin); print(next((s[\"num_instances\"] for s in d[\"studies\"] if s[\"study_uid\"]==os.environ[\"STUDY_UID\"]), 0))'"
"$bench/ingest.sh" enkaku "$study"
