#!/usr/bin/env bash
# Runs the Enkaku demo on loopback: installs build dependencies if missing (Debian), builds,
# seeds a small prefecture once into ./enkaku-demo (SQLite, files, mail to files) and serves
# http://127.0.0.1:8080. Extra arguments go to `enkaku demo` (see `enkaku demo --help`),
# e.g. ./ops/run-demo.sh --data-dir /tmp/demo --http 127.0.0.1:9090
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
./ops/deps.sh
exec cargo run --locked -p portal --bin enkaku -- demo "$@"
