#!/bin/sh
# tests/portability.sh - builds and runs the test suite in several
# configurations (docs/PORTABILITY.md):
#
#   gcc     gcc   -std=c99 -Wall -Wextra -pedantic, glibc      full `make test`
#   clang   clang -std=c99 -Wall -Wextra -pedantic, glibc      full `make test`
#   tcc     tcc   -std=c99 -Wall (no -pedantic, no -ffp-contract; tcc never
#           contracts), glibc                                   full `make test`
#   musl    musl-gcc -static, pedantic                         full `make test`
#   armhf   arm-linux-gnueabihf-gcc -static (32-bit ARM), run under qemu-arm
#   s390x   s390x-linux-gnu-gcc -static (64-bit big-endian), run under qemu-s390x
#
# Every configuration builds a copy of the source tree in its own directory,
# $PORT_DIR/<config>/ (default ${TMPDIR:-/tmp}/gc-portability), with the
# Makefile's own rules, float and double, programs and test programs, and
# prints its compiler warnings and its test summary. Under qemu only the C test
# programs (build/tests/test_*) run - the shell tests need the host's python3
# and torch - and the cases listed in PORT_QEMU_SKIP are left out as too slow
# under emulation; both are said in the output. tests/test_checksum.c is also
# built and run in float. Its CHECKSUM lines (FNV-1a of the parameters after a
# short deterministic training run, and of libm results) are compared across
# configurations at the end.
#
# A configuration whose compiler or emulator is missing is reported as SKIPPED
# with the package to install, never as passed. Exit status 0 only if every
# configuration that ran built without warnings and passed all tests, and the
# training checksums of the configurations that share one C library (gcc,
# clang, tcc on glibc x86-64) agree bit for bit. PORT_REQUIRE_ALL=1 makes a
# skipped configuration a failure too.
#
# Usage: sh tests/portability.sh [config ...]       (default: all six)
# Environment: PORT_DIR, PORT_JOBS (make -j, default 2), PORT_QEMU_SKIP,
#              PORT_REQUIRE_ALL, PORT_CLEAN=1 (rebuild from scratch).
# Packages (Debian): gcc clang tcc musl-tools gcc-arm-linux-gnueabihf
#   gcc-s390x-linux-gnu libc6-dev-armhf-cross libc6-dev-s390x-cross qemu-user
set -u

SRC=$(cd "$(dirname "$0")/.." && pwd)
ROOT=${PORT_DIR:-${TMPDIR:-/tmp}/gc-portability}
JOBS=${PORT_JOBS:-2}
CONFIGS=${*:-gcc clang tcc musl armhf s390x}
# program:case pairs not run under qemu (each costs minutes there)
QEMU_SKIP=${PORT_QEMU_SKIP-test_step:test_level5_gradient test_step:test_level3_gradient}

mkdir -p "$ROOT" || exit 1
SUMMARY=$ROOT/summary.txt
: >"$SUMMARY"
any_failed=0
ran=""

say() { printf '%s\n' "$*"; }

# --- configuration table ---------------------------------------------------
# Sets CC_BIN (the compiler to look for), PKG, MAKEVARS (one per line),
# QEMU (empty: native).
config_vars() {
    QEMU=""
    case $1 in
    gcc)   CC_BIN=gcc; PKG=gcc
           MAKEVARS="CC=gcc" ;;
    clang) CC_BIN=clang; PKG=clang
           MAKEVARS="CC=clang" ;;
    tcc)   CC_BIN=tcc; PKG=tcc
           MAKEVARS="CC=tcc
FPFLAGS=
WARN=-Wall" ;;
    musl)  CC_BIN=musl-gcc; PKG=musl-tools
           MAKEVARS="CC=musl-gcc
LDFLAGS=-static" ;;
    armhf) CC_BIN=arm-linux-gnueabihf-gcc; PKG="gcc-arm-linux-gnueabihf libc6-dev-armhf-cross"
           QEMU=qemu-arm
           MAKEVARS="CC=arm-linux-gnueabihf-gcc
AR=arm-linux-gnueabihf-ar
LDFLAGS=-static" ;;
    s390x) CC_BIN=s390x-linux-gnu-gcc; PKG="gcc-s390x-linux-gnu libc6-dev-s390x-cross"
           QEMU=qemu-s390x
           MAKEVARS="CC=s390x-linux-gnu-gcc
AR=s390x-linux-gnu-ar
LDFLAGS=-static" ;;
    *) return 1 ;;
    esac
    return 0
}

# mk DIR LOG [VAR=value ...] target...: make in DIR with the configuration's
# variables (each MAKEVARS line one argument), output appended to LOG.
mk() {
    d=$1; log=$2; shift 2
    (
        cd "$d" || exit 1
        old_ifs=$IFS
        IFS='
'
        # shellcheck disable=SC2086
        set -- $MAKEVARS "$@"
        IFS=$old_ifs
        make -j"$JOBS" "$@"
    ) >>"$log" 2>&1
}

# Copy the source tree (top level, without build/, out/ and hidden entries)
# into $1/src; keep $1/src/build unless the file list or the variables changed.
copy_tree() {
    dest=$1/src
    stamp=$1/stamp
    new=$( (cd "$SRC" && find . -path ./build -prune -o -path ./out -prune -o \
        -name '.*' ! -name . -prune -o -type f -print | LC_ALL=C sort); say "$MAKEVARS")
    if [ "${PORT_CLEAN:-0}" = 1 ] || [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$new" ]; then
        rm -rf "$dest"
    fi
    mkdir -p "$dest" || return 1
    for f in "$dest"/* ; do
        case $(basename "$f") in build) ;; '*') ;; *) rm -rf "$f" ;; esac
    done
    for f in "$SRC"/*; do
        case $(basename "$f") in build|out) continue ;; esac
        cp -Rp "$f" "$dest"/ || return 1
    done
    say "$new" >"$stamp"
}

# run_prog LOG name cmd...: run one test program, append its output to LOG,
# add its RESULT counts to P and F (a crash or a missing RESULT line is one
# failure, as in tests/run.sh).
run_prog() {
    log=$1; name=$2; shift 2
    out=$CFGDIR/last.out
    "$@" >"$out" 2>&1
    status=$?
    { say "== $name"; cat "$out"; } >>"$log"
    line=$(grep '^RESULT ' "$out" | tail -n 1)
    if [ -z "$line" ]; then
        say "  FAIL $name: exited with status $status and no RESULT line" | tee -a "$log"
        F=$((F + 1))
        return
    fi
    p=$(say "$line" | sed -n 's/.*passed=\([0-9]*\).*/\1/p')
    f=$(say "$line" | sed -n 's/.*failed=\([0-9]*\).*/\1/p')
    if [ "$status" -ne 0 ] && [ "$f" -eq 0 ]; then
        say "  FAIL $name: exit status $status although no case failed" | tee -a "$log"
        f=1
    fi
    [ "$f" -eq 0 ] || grep -E '^  FAIL|^    [^ ]+:[0-9]+: ' "$out" | sed 's/^/  /'
    say "  $name: passed=$p failed=$f"
    P=$((P + p)); F=$((F + f))
}

# Cases of tests/<prog>.c (the names in its TEST_CASE(...) list).
case_names() { sed -n 's/.*TEST_CASE(\([A-Za-z0-9_]*\)).*/\1/p' "$1"; }

skip_cases_of() {
    for s in $QEMU_SKIP; do
        case $s in "$1":*) say "${s#*:}" ;; esac
    done
}

run_config() {
    cfg=$1
    CFGDIR=$ROOT/$cfg
    if ! config_vars "$cfg"; then
        say "== $cfg: unknown configuration (known: gcc clang tcc musl armhf s390x)"
        any_failed=1
        say "$cfg FAILED unknown configuration" >>"$SUMMARY"
        return
    fi
    say ""
    say "================ $cfg"
    if ! command -v "$CC_BIN" >/dev/null 2>&1; then
        say "SKIPPED $cfg: $CC_BIN not found (Debian package: $PKG)"
        say "$cfg SKIPPED ($CC_BIN not found; install $PKG)" >>"$SUMMARY"
        return
    fi
    if [ -n "$QEMU" ] && ! command -v "$QEMU" >/dev/null 2>&1; then
        say "SKIPPED $cfg: $QEMU not found (Debian package: qemu-user)"
        say "$cfg SKIPPED ($QEMU not found; install qemu-user)" >>"$SUMMARY"
        return
    fi
    mkdir -p "$CFGDIR"
    # tcc does not know the Makefile's -MMD -MP: without a DEPFLAGS variable in
    # the Makefile, a wrapper drops them
    if [ "$cfg" = tcc ]; then
        if grep -q 'DEPFLAGS' "$SRC/Makefile"; then
            MAKEVARS="$MAKEVARS
DEPFLAGS="
        else
            mkdir -p "$CFGDIR/bin"
            cat >"$CFGDIR/bin/tcc" <<'EOF'
#!/bin/sh
# drops the gcc-only dependency flags the Makefile passes
for a; do shift; case $a in -MMD|-MP) ;; *) set -- "$@" "$a" ;; esac; done
exec tcc "$@"
EOF
            chmod +x "$CFGDIR/bin/tcc"
            MAKEVARS=$(say "$MAKEVARS" | sed "s|^CC=tcc\$|CC=$CFGDIR/bin/tcc|")
        fi
    fi
    copy_tree "$CFGDIR" || { say "FAILED $cfg: cannot copy the tree"; any_failed=1; return; }
    D=$CFGDIR/src
    BLOG=$CFGDIR/build.log
    TLOG=$CFGDIR/test.log
    : >"$BLOG"; : >"$TLOG"
    say "$(say "$MAKEVARS" | tr '\n' ' ')(copy in $D, logs $BLOG $TLOG)"
    $CC_BIN --version 2>/dev/null | head -n 1 | sed 's/^/compiler: /'
    [ "$cfg" = tcc ] && tcc -v 2>&1 | head -n 1 | sed 's/^/compiler: /'

    # 1. build: library and programs in float and double, test programs and
    # tools, test_checksum in float (linked with the float library)
    ok=1
    tests=$(cd "$D" && for f in tests/test_*.c; do [ -f "$f" ] && say "build/tests/$(basename "$f" .c)"; done)
    tools=$(cd "$D" && for f in tests/tool_*.c; do [ -f "$f" ] && say "build/tests/$(basename "$f" .c)"; done)
    mk "$D" "$BLOG" REAL=float all || ok=0
    mk "$D" "$BLOG" REAL=double all || ok=0
    # shellcheck disable=SC2086
    mk "$D" "$BLOG" $tests $tools || ok=0
    mkdir -p "$D/build/float/tests"
    mk "$D" "$BLOG" REAL=float build/float/obj/tests/testlib.o || ok=0
    mk "$D" "$BLOG" REAL=float build/float/tests/test_checksum \
        "LDLIBS=build/float/obj/tests/testlib.o -lm" || ok=0
    nwarn=$(grep -c 'warning:' "$BLOG")
    if [ "$nwarn" -gt 0 ]; then
        say "compiler warnings ($nwarn):"
        grep 'warning:' "$BLOG" | sort -u | sed 's/^/  /'
    else
        say "compiler warnings: none"
    fi
    if [ "$ok" = 0 ]; then
        say "BUILD FAILED $cfg:"
        grep -i 'error' "$BLOG" | head -n 20 | sed 's/^/  /'
        say "$cfg FAILED (build; $nwarn warnings)" >>"$SUMMARY"
        any_failed=1
        return
    fi

    # 2. tests
    P=0; F=0
    notes=""
    if [ -z "$QEMU" ]; then
        if mk "$D" "$TLOG" test; then :; fi
        grep -E '^RESULT |^  FAIL' "$TLOG" | sed 's/^/  /'
        line=$(grep '^[0-9]* passed, [0-9]* failed$' "$TLOG" | tail -n 1)
        if [ -n "$line" ]; then
            P=${line%% passed*}
            F=$(say "$line" | sed 's/.* passed, \([0-9]*\) failed/\1/')
            say "  make test: $line"
        else
            say "  FAIL make test ended without a summary line (see $TLOG)"
            F=$((F + 1))
        fi
        run_prog "$TLOG" "test_checksum (float)" "$D/build/float/tests/test_checksum"
    else
        notes="C test programs only, under $QEMU; shell tests (tests/test_*.sh) not run"
        for t in $tests; do
            name=$(basename "$t")
            skip=$(skip_cases_of "$name")
            if [ -z "$skip" ]; then
                run_prog "$TLOG" "$name" "$QEMU" "$D/$t"
                continue
            fi
            for c in $(case_names "$D/tests/$name.c"); do
                if say "$skip" | grep -qx "$c"; then
                    say "  NOT RUN under qemu (too slow emulated): $name $c"
                    notes="$notes; not run: $name $c"
                    continue
                fi
                run_prog "$TLOG" "$name $c" "$QEMU" "$D/$t" "$c"
            done
        done
        run_prog "$TLOG" "test_checksum (float)" "$QEMU" "$D/build/float/tests/test_checksum"
    fi
    grep '^CHECKSUM ' "$TLOG" | sort -u >"$CFGDIR/checksums.txt"
    status=passed
    if [ "$F" -ne 0 ] || [ "$nwarn" -ne 0 ]; then status=FAILED; any_failed=1; fi
    if [ "$P" -eq 0 ]; then status=FAILED; any_failed=1; fi
    say "$cfg: $P passed, $F failed, $nwarn compiler warnings -> $status"
    [ -n "$notes" ] && say "  ($notes)"
    say "$cfg $status ($P passed, $F failed, $nwarn warnings${notes:+; $notes})" >>"$SUMMARY"
    ran="$ran $cfg"
}

say "portability: configurations: $CONFIGS"
say "source $SRC, builds in $ROOT"
for cfg in $CONFIGS; do
    run_config "$cfg"
done

# --- checksum comparison -----------------------------------------------------
say ""
say "================ checksums (FNV-1a of IEEE bits, little-endian; tests/test_checksum.c)"
keys=$(for c in $ran; do cut -d' ' -f2,3 "$ROOT/$c/checksums.txt"; done | LC_ALL=C sort -u)
old_ifs=$IFS
IFS='
'
for k in $keys; do
    IFS=$old_ifs
    groups=""
    for c in $ran; do
        v=$(grep "^CHECKSUM $k " "$ROOT/$c/checksums.txt" | cut -d' ' -f4)
        [ -n "$v" ] || v=missing
        groups="$groups$v $c
"
    done
    vals=$(say "$groups" | sed '/^$/d' | cut -d' ' -f1 | LC_ALL=C sort -u)
    nvals=$(say "$vals" | wc -l)
    if [ "$nvals" -eq 1 ]; then
        say "$(printf '%-22s' "$k") all agree: $vals ($(say $ran))"
    else
        say "$(printf '%-22s' "$k") DIFFER:"
        for v in $vals; do
            who=$(say "$groups" | awk -v v="$v" '$1 == v { printf "%s ", $2 }')
            say "    $v  $who"
        done
    fi
    # gcc, clang and tcc link the same glibc: their training checksums must agree
    case $k in *train*)
        same=$(for c in gcc clang tcc; do
                   case " $ran " in *" $c "*) say "$groups" | awk -v c="$c" '$2 == c { print $1 }' ;; esac
               done | LC_ALL=C sort -u | wc -l)
        if [ "$same" -gt 1 ]; then
            say "    FAIL: gcc / clang / tcc on the same glibc disagree on $k"
            say "checksum $k FAILED: compilers on one C library disagree" >>"$SUMMARY"
            any_failed=1
        fi ;;
    esac
    IFS='
'
done
IFS=$old_ifs

say ""
say "================ portability summary"
cat "$SUMMARY"
nskip=$(grep -c ' SKIPPED ' "$SUMMARY")
if [ "$nskip" -gt 0 ] && [ "${PORT_REQUIRE_ALL:-0}" = 1 ]; then any_failed=1; fi
if [ "$any_failed" -ne 0 ]; then
    say "portability: FAILED"
    exit 1
fi
say "portability: all configurations that ran passed ($nskip skipped)"
exit 0
