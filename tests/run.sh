#!/bin/sh
# tests/run.sh - runs every test program given as argument (and every
# tests/*.sh script named test_*.sh), sums their RESULT lines and ends with the
# suite's summary line `N passed, N failed`. A program that crashes or prints
# no RESULT line counts as one failure. Exit status: 0 only if nothing failed.
passed=0
failed=0
log=${TMPDIR:-/tmp}/gc-test.$$
for t in "$@"; do
    name=$(basename "$t")
    echo "== $name"
    case "$t" in
        *.sh) sh "$t" >"$log" 2>&1 ;;
        *) "$t" >"$log" 2>&1 ;;
    esac
    status=$?
    cat "$log"
    line=$(grep '^RESULT ' "$log" | tail -n 1)
    if [ -z "$line" ]; then
        echo "  FAIL $name: exited with status $status and no RESULT line"
        failed=$((failed + 1))
        continue
    fi
    p=$(echo "$line" | sed -n 's/.*passed=\([0-9]*\).*/\1/p')
    f=$(echo "$line" | sed -n 's/.*failed=\([0-9]*\).*/\1/p')
    if [ "$status" -ne 0 ] && [ "$f" -eq 0 ]; then
        echo "  FAIL $name: exit status $status although no case failed"
        f=1
    fi
    passed=$((passed + p))
    failed=$((failed + f))
done
rm -f "$log"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
