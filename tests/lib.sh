# tests/lib.sh - helpers for shell tests (tests/test_*.sh). Source it, call
# `ok NAME` / `fail NAME WHY` per case (or `check NAME cmd...`), end with
# `finish`, which prints the RESULT line tests/run.sh sums.
T_PASSED=0
T_FAILED=0
T_NAME=$(basename "$0" .sh)
ok() { T_PASSED=$((T_PASSED + 1)); echo "  ok   $1"; }
fail() { T_FAILED=$((T_FAILED + 1)); echo "  FAIL $1: $2"; }
check() { name=$1; shift; if "$@"; then ok "$name"; else fail "$name" "command failed: $*"; fi; }
finish() { echo "RESULT $T_NAME passed=$T_PASSED failed=$T_FAILED"; [ "$T_FAILED" -eq 0 ]; }
