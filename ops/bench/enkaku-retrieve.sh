#!/usr/bin/env bash
# One retrieval benchmark run against a FRESH Enkaku (release build): a new data directory,
# the demo prefecture seeded, a DICOM node registered for the benchmark's calling AE title
# (BENCHSCU, 127.0.0.1), the study sent with storescu, then ../shared/bench/retrieve.sh times
# WADO-RS (series, frames), metadata and QIDO-RS with the clinic physician's API token.
#
#   ops/bench/enkaku-retrieve.sh STUDY_DIR [BIN]
#
# BIN defaults to target/release/enkaku (cargo build --release -p portal --bin enkaku).
# Env passed on to retrieve.sh: REPS, LAT_REPS, RETRIEVE_RESULTS. Prints the results table.
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
export ENKAKU_DICOMWEB="http://127.0.0.1:$http/dicom-web" ENKAKU_PORT=$dicom ENKAKU_PID=$pid \
  ENKAKU_AET=ENKAKU ENKAKU_SEND=1 CURL_OPTS="--oauth2-bearer $reader"
out=${RETRIEVE_RESULTS:-$(mktemp /tmp/enkaku-retrieve.XXXXXX.tsv)}
RETRIEVE_RESULTS=$out "$bench/retrieve.sh" enkaku "$study"
column -t -s $'\t' "$out"
