#!/usr/bin/env bash
# Installs the system packages needed to build (and, with --test, to test)
# Enkaku on Debian 12 (bookworm). Idempotent: when everything is already
# installed it does nothing and touches no network.
#
#   ops/deps.sh           build dependencies only
#   ops/deps.sh --test    build + test dependencies (PostgreSQL 15, Chromium,
#                         CJK fonts, DCMTK, pip, the PyPI packages of ops/requirements-test.txt) and the
#                         e2e npm packages
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

WITH_TEST=0
for arg in "$@"; do
    case "$arg" in
        --test) WITH_TEST=1 ;;
        -h | --help)
            sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'
            exit 0
            ;;
        *)
            echo "deps.sh: unknown argument: $arg" >&2
            exit 2
            ;;
    esac
done

log() { echo "deps: $*" >&2; }

# Debian package names (bookworm).
BUILD_PKGS=(pkg-config libpq-dev libssl-dev cmake)
# At run time: dcmtk's dcmdjpeg decodes 12-bit JPEG frames for the viewer (without it those
# frames are answered 406).
RUNTIME_PKGS=(dcmtk)
TEST_PKGS=(postgresql-15 chromium fonts-noto-cjk dcmtk)

wanted=("${BUILD_PKGS[@]}" "${RUNTIME_PKGS[@]}")
# A C toolchain is needed for bundled SQLite / native crates. The Rust image
# normally has it; a bare Debian with only rustup may not.
if ! command -v cc >/dev/null 2>&1 || ! command -v make >/dev/null 2>&1; then
    wanted+=(gcc libc6-dev make)
fi
if [[ $WITH_TEST == 1 ]]; then
    wanted+=("${TEST_PKGS[@]}")
    # pip is only needed if the python3 on PATH has none (the image's pyenv
    # python ships its own; Debian's python3 does not).
    if ! python3 -m pip --version >/dev/null 2>&1; then
        wanted+=(python3-pip)
    fi
    # psql is used by the e2e harness to create its databases.
    if ! command -v psql >/dev/null 2>&1; then
        wanted+=(postgresql-client-15)
    fi
fi

installed() {
    # dpkg -s succeeds for removed-but-not-purged packages too; require the
    # "install ok installed" status.
    [[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" == "install ok installed" ]]
}

missing=()
for p in "${wanted[@]}"; do
    installed "$p" || missing+=("$p")
done

if ((${#missing[@]} > 0)); then
    if [[ $(id -u) -ne 0 ]]; then
        log "missing system packages: ${missing[*]}"
        log "install them with:"
        log "  sudo apt-get update && sudo apt-get install -y --no-install-recommends ${missing[*]}"
        exit 1
    fi
    log "installing: ${missing[*]}"
    start=$SECONDS
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q </dev/null
    apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null
    log "apt install done in $((SECONDS - start))s"
else
    log "system packages present (${#wanted[@]} checked)"
fi

# Python peers and sample data for the tests (ops/requirements-test.txt): pydicom and
# pydicom-data (real sample images), pynetdicom (a DICOM peer), dicomweb-client (a STOW-RS
# client) and moto[server] (the throwaway S3-compatible store, ops/s3/start.sh).
if [[ $WITH_TEST == 1 ]]; then
    if python3 -c 'import pydicom, pynetdicom, dicomweb_client, moto.server, data_store' >/dev/null 2>&1; then
        log "python test packages present"
    else
        log "pip install -r ops/requirements-test.txt"
        PIP_BREAK_SYSTEM_PACKAGES=1 python3 -m pip install -q --disable-pip-version-check \
            -r ops/requirements-test.txt </dev/null >&2
    fi
fi

if [[ $WITH_TEST == 1 && -f tests/e2e/package.json ]]; then
    e2e=tests/e2e
    need_npm=0
    if [[ ! -d $e2e/node_modules ]]; then
        need_npm=1
    elif [[ -f $e2e/package-lock.json ]]; then
        # npm writes node_modules/.package-lock.json on every install.
        stamp=$e2e/node_modules/.package-lock.json
        if [[ ! -f $stamp || $e2e/package-lock.json -nt $stamp || $e2e/package.json -nt $stamp ]]; then
            need_npm=1
        fi
    fi
    if [[ $need_npm == 1 ]]; then
        if ! command -v npm >/dev/null 2>&1; then
            log "npm not found: install Node.js 20 and npm"
            exit 1
        fi
        # playwright-core never downloads browsers; we use Debian's chromium.
        export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
        if [[ -f $e2e/package-lock.json ]]; then
            log "npm ci in $e2e"
            (cd "$e2e" && npm ci --no-audit --no-fund </dev/null >&2)
        else
            log "npm install in $e2e"
            (cd "$e2e" && npm install --no-audit --no-fund </dev/null >&2)
        fi
    else
        log "e2e node_modules up to date"
    fi
fi
