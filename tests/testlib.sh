# shellcheck shell=bash
# Shared by the shell tests (source it): pass/fail counters, check, and the summary line.
# Not a test itself (CTest runs tests/test_*.sh).
passed=0 failed=0

ok() { passed=$((passed + 1)); }
bad() { failed=$((failed + 1)); echo "FAIL $*"; }

check() { # check NAME EXPECTED_EXIT PATTERN -- command...
    local name=$1 want=$2 pattern=$3
    shift 4
    local out rc
    out=$("$@" 2>&1)
    rc=$?
    if [ "$rc" -eq "$want" ] && grep -qE -- "$pattern" <<<"$out"; then
        ok
    else
        bad "$name: exit $rc (expected $want), output lacks /$pattern/:"
        echo "$out" | tail -5 | sed 's/^/    /'
    fi
}

# Print 'N passed, N failed'; the exit status of the test.
finish() {
    echo "$passed passed, $failed failed"
    [ "$failed" -eq 0 ]
}
