#!/usr/bin/env bash
# shellcheck disable=SC2317  # step functions are invoked indirectly via run_step
# The whole Enkaku test suite. CI runs exactly this (via .ci/run).
#
#   ops/test.sh            everything: deps, fmt, clippy, build, tests on SQLite,
#                          tests on PostgreSQL 15, browser tests on both
#   ops/test.sh --quick    deps, build and the SQLite test run only
#   ops/test.sh --no-e2e   everything except the browser tests
#
# Every step runs even if an earlier one failed (steps that need the build are
# skipped when it fails); the exit status is non-zero if any step failed.
# Browser-test screenshots go to target/e2e-artifacts/{sqlite,postgres}/.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD

QUICK=0
E2E=1
for arg in "$@"; do
    case "$arg" in
        --quick) QUICK=1 ;;
        --no-e2e) E2E=0 ;;
        -h | --help)
            sed -n '3,12p' "$0" | sed 's/^# \{0,1\}//'
            exit 0
            ;;
        *)
            echo "test.sh: unknown argument: $arg (try --help)" >&2
            exit 2
            ;;
    esac
done

export RUST_BACKTRACE=${RUST_BACKTRACE:-1}
# Use a [profile.ci] from .config/nextest.toml on CI if the project defines one.
if [[ ${CI:-} == true && -z ${NEXTEST_PROFILE:-} ]] &&
    grep -qs '^\[profile\.ci\]' .config/nextest.toml; then
    export NEXTEST_PROFILE=ci
fi

T0=$SECONDS
SUMMARY=()
FAILED=()

fmt_secs() { printf '%dm%02ds' $(($1 / 60)) $(($1 % 60)); }

header() {
    printf '\n==================== %s  [%s, +%s] ====================\n' \
        "$1" "$(date +%H:%M:%S)" "$(fmt_secs $((SECONDS - T0)))"
}

record() { # record STATUS NAME SECONDS [NOTE]
    SUMMARY+=("$(printf '  %-5s %-26s %6s  %s' "$1" "$2" "$3" "${4:-}")")
    if [[ $1 != PASS && $1 != SKIP ]]; then
        FAILED+=("$2")
    fi
}

# run_step NAME COMMAND... : runs COMMAND with errexit in a subshell, records
# the outcome and never aborts this script. Sets STEP_RC.
STEP_RC=0
run_step() {
    local name=$1
    shift
    header "$name"
    local start=$SECONDS
    set +e
    (
        set -e
        "$@"
    )
    STEP_RC=$?
    set -e
    local took
    took=$(fmt_secs $((SECONDS - start)))
    if [[ $STEP_RC -eq 0 ]]; then
        record PASS "$name" "$took"
        echo "---- $name: passed in $took"
    else
        record FAIL "$name" "$took" "exit $STEP_RC"
        echo "---- $name: FAILED (exit $STEP_RC) in $took"
    fi
}

skip_step() { # skip_step NAME REASON [FAIL]
    header "$1"
    echo "---- $1: skipped: $2"
    record "${3:-SKIP}" "$1" "-" "$2"
}

finish() {
    header "Summary (total $(fmt_secs $((SECONDS - T0))))"
    printf '%s\n' "${SUMMARY[@]}"
    echo
    if ((${#FAILED[@]} > 0)); then
        local IFS=,
        echo "ops/test.sh: FAILED: ${FAILED[*]}"
        exit 1
    fi
    echo "ops/test.sh: all steps passed"
    exit 0
}

PG_DIR=
cleanup() {
    if [[ -n $PG_DIR ]]; then
        "$ROOT/ops/pg/stop.sh" "$PG_DIR" || true
        PG_DIR=
    fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- a. system packages and npm deps -----------------------------------------
run_step "deps" ./ops/deps.sh --test
if [[ $STEP_RC -ne 0 ]]; then
    echo "ops/test.sh: cannot continue without the dependencies" >&2
    finish
fi

# --- b/c. formatting and lints (failures do not stop the tests) --------------
if [[ $QUICK == 1 ]]; then
    skip_step "fmt" "--quick"
    skip_step "clippy" "--quick"
else
    run_step "fmt" cargo fmt --all -- --check
    run_step "clippy" cargo clippy --workspace --all-targets --locked -- -D warnings
fi

# --- d. build + tests on SQLite ------------------------------------------------
run_step "build" cargo build --workspace --locked
BUILD_OK=$((STEP_RC == 0))

nextest() {
    cargo nextest run --workspace --locked --no-fail-fast
}
test_sqlite() {
    unset ENKAKU_TEST_DATABASE_URL
    export ENKAKU_TEST_DB=sqlite
    nextest
}
if [[ $BUILD_OK == 1 ]]; then
    run_step "tests (sqlite)" test_sqlite
else
    skip_step "tests (sqlite)" "build failed" FAIL
fi

# --- e. tests on PostgreSQL -----------------------------------------------------
PG_URL=
start_pg() {
    header "start postgresql"
    local start=$SECONDS
    PG_DIR=$(mktemp -d /tmp/enkaku-pg.XXXXXX)
    if PG_URL=$("$ROOT/ops/pg/start.sh" "$PG_DIR"); then
        echo "---- postgres running at $PG_URL (data in $PG_DIR)"
        record PASS "start postgresql" "$(fmt_secs $((SECONDS - start)))"
    else
        PG_URL=
        record FAIL "start postgresql" "$(fmt_secs $((SECONDS - start)))"
        echo "---- start postgresql: FAILED"
    fi
}
test_postgres() {
    export ENKAKU_TEST_DB=postgres
    export ENKAKU_TEST_DATABASE_URL=$PG_URL
    nextest
}
if [[ $QUICK == 1 ]]; then
    skip_step "tests (postgres)" "--quick"
elif [[ $BUILD_OK != 1 ]]; then
    skip_step "tests (postgres)" "build failed" FAIL
else
    start_pg
    if [[ -z $PG_URL ]]; then
        skip_step "tests (postgres)" "postgresql did not start" FAIL
    else
        run_step "tests (postgres)" test_postgres
    fi
fi

# --- f. browser tests -------------------------------------------------------------
E2E_DIR=tests/e2e
# node --test only picks these names up (Node 20 default patterns).
have_e2e_tests() {
    [[ -d $E2E_DIR/tests ]] &&
        [[ -n $(find "$E2E_DIR/tests" -type f -regextype posix-extended \
            -regex '.*/([^/]*[._-]test|test-[^/]*|test)\.[cm]?js' -print -quit) ]]
}
e2e() { # e2e sqlite|postgres
    local art=$ROOT/target/e2e-artifacts/$1
    rm -rf "$art"
    mkdir -p "$art"
    export ENKAKU_BIN=$ROOT/target/debug/enkaku
    export ENKAKU_E2E_ARTIFACTS=$art
    export ENKAKU_TEST_DB=$1
    if [[ $1 == postgres ]]; then
        export ENKAKU_TEST_DATABASE_URL=$PG_URL
    else
        unset ENKAKU_TEST_DATABASE_URL
    fi
    if [[ ! -x $ENKAKU_BIN ]]; then
        echo "$ENKAKU_BIN not found (did the build produce the enkaku binary?)" >&2
        return 1
    fi
    npm --prefix "$E2E_DIR" test </dev/null
}
for db in sqlite postgres; do
    name="browser tests ($db)"
    if [[ $QUICK == 1 ]]; then
        skip_step "$name" "--quick"
    elif [[ $E2E == 0 ]]; then
        skip_step "$name" "--no-e2e"
    elif [[ ! -f $E2E_DIR/package.json ]]; then
        skip_step "$name" "no $E2E_DIR/package.json"
    elif ! have_e2e_tests; then
        skip_step "$name" "no *.test.js files in $E2E_DIR/tests"
    elif [[ $BUILD_OK != 1 ]]; then
        skip_step "$name" "build failed" FAIL
    elif [[ $db == postgres && -z $PG_URL ]]; then
        skip_step "$name" "postgresql did not start" FAIL
    else
        run_step "$name" e2e "$db"
    fi
done

cleanup
finish
