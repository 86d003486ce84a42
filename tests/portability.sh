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
# On an x86-64 CPU with FMA, the gcc build's test_checksum also runs with
# glibc's FMA code paths for exp/pow/sin/cos turned off (GLIBC_TUNABLES):
# pseudo-configuration gcc-nofma, checksums only.
#
# A configuration whose compiler or emulator is missing is reported as SKIPPED
# with the package to install, never as passed. Exit status 0 only if every
# configuration that ran built without warnings and passed all tests, and
# configurations whose libm gives the same bits for exp, log, pow and sqrt
# (the functions the training run calls) have the same training checksums.
# Training checksums of configurations whose libm differs are compared and
# reported, not required to agree (docs/PORTABILITY.md says why).
# PORT_REQUIRE_ALL=1 makes a skipped configuration a failure too.
#
# Usage: sh tests/portability.sh [config ...]       (default: all six)
# Environment: PORT_DIR, PORT_JOBS (make -j, default 2), PORT_QEMU_SKIP,
#              PORT_REQUIRE_ALL, PORT_CLEAN=1 (rebuild from scratch),
#              PORT_MAKE_EXTRA (more make VAR=value lines, one per line, for
#              every configuration, e.g. 'CFLAGS=-D_FILE_OFFSET_BITS=64'),
#              PORT_MAKE_EXTRA_<cfg> (the same for one configuration).
# All configurations build one snapshot of the tree taken at the start.
# Packages (Debian): gcc clang tcc musl-tools gcc-arm-linux-gnueabihf
#   gcc-s390x-linux-gnu libc6-dev-armhf-cross libc6-dev-s390x-cross qemu-user
set -u

SRC=$(cd "$(dirname "$0")/.." && pwd)
ROOT=${PORT_DIR:-${TMPDIR:-/tmp}/gc-portability}
JOBS=${PORT_JOBS:-2}
CONFIGS=${*:-gcc clang tcc musl armhf s390x}
# program:case pairs not run under qemu (each costs minutes there)
# (about 50x slower than native for double arithmetic on qemu-arm)
QEMU_SKIP_DEFAULT="test_step:test_level2_gradient test_step:test_level3_gradient
test_step:test_level4_gradient test_step:test_level5_gradient
test_step:test_exact_detached_differ_only_in_classifier_weight
test_model:test_forward_finite_and_targets test_model:test_backward_any_target
test_model:test_gradcheck_level3 test_model:test_gradcheck_level5"
QEMU_SKIP=${PORT_QEMU_SKIP-$QEMU_SKIP_DEFAULT}

mkdir -p "$ROOT" || exit 1
SUMMARY=$ROOT/summary.txt
: >"$SUMMARY"
any_failed=0
ran=""
ckcfgs=""

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
    # PORT_MAKE_EXTRA, PORT_MAKE_EXTRA_<cfg>: more VAR=value lines for every
    # configuration, for this one (experiments)
    cv_extra=""
    eval "cv_extra=\${PORT_MAKE_EXTRA_$1:-}"
    for cv_x in "${PORT_MAKE_EXTRA:-}" "$cv_extra"; do
        [ -n "$cv_x" ] && MAKEVARS="$MAKEVARS
$cv_x"
    done
    return 0
}

# mk DIR LOG [VAR=value ...] target...: make in DIR with the configuration's
# variables (each MAKEVARS line one argument), output appended to LOG.
mk() {
    mk_dir=$1; mk_log=$2; shift 2
    (
        cd "$mk_dir" || exit 1
        old_ifs=$IFS
        IFS='
'
        # shellcheck disable=SC2086
        set -- $MAKEVARS "$@"
        IFS=$old_ifs
        make -j"$JOBS" "$@"
    ) >>"$mk_log" 2>&1
}

# Copy the snapshot of the source tree into $1/src; keep $1/src/build unless
# the file list or the variables changed (make's dependency files take care of
# changed files; cp -p keeps their times).
copy_tree() {
    ct_dest=$1/src
    ct_stamp=$1/stamp
    ct_new=$( (cd "$SNAP" && find . -type f -print | LC_ALL=C sort); say "$MAKEVARS")
    if [ "${PORT_CLEAN:-0}" = 1 ] || [ ! -f "$ct_stamp" ] || [ "$(cat "$ct_stamp")" != "$ct_new" ]; then
        rm -rf "$ct_dest"
    fi
    mkdir -p "$ct_dest" || return 1
    for ct_f in "$ct_dest"/* ; do
        case $(basename "$ct_f") in build) ;; '*') ;; *) rm -rf "$ct_f" ;; esac
    done
    for ct_f in "$SNAP"/*; do
        cp -Rp "$ct_f" "$ct_dest"/ || return 1
    done
    say "$ct_new" >"$ct_stamp"
}

# run_prog LOG name cmd...: run one test program, append its output to LOG,
# add its RESULT counts to P and F (a crash or a missing RESULT line is one
# failure, as in tests/run.sh).
run_prog() {
    rp_log=$1; rp_name=$2; shift 2
    rp_out=$CFGDIR/last.out
    rp_t0=$(date +%s)
    "$@" >"$rp_out" 2>&1
    rp_status=$?
    rp_secs=$(($(date +%s) - rp_t0))
    { say "== $rp_name"; cat "$rp_out"; } >>"$rp_log"
    rp_line=$(grep '^RESULT ' "$rp_out" | tail -n 1)
    if [ -z "$rp_line" ]; then
        say "  FAIL $rp_name: exited with status $rp_status and no RESULT line" | tee -a "$rp_log"
        F=$((F + 1))
        return
    fi
    rp_p=$(say "$rp_line" | sed -n 's/.*passed=\([0-9]*\).*/\1/p')
    rp_f=$(say "$rp_line" | sed -n 's/.*failed=\([0-9]*\).*/\1/p')
    if [ "$rp_status" -ne 0 ] && [ "$rp_f" -eq 0 ]; then
        say "  FAIL $rp_name: exit status $rp_status although no case failed" | tee -a "$rp_log"
        rp_f=1
    fi
    [ "$rp_f" -eq 0 ] || grep -E '^  FAIL|^    [^ ]+:[0-9]+: ' "$rp_out" | sed 's/^/  /'
    say "  $rp_name: passed=$rp_p failed=$rp_f (${rp_secs}s)"
    P=$((P + rp_p)); F=$((F + rp_f))
}

# Cases of tests/<prog>.c (the names in its TEST_CASE(...) list).
case_names() { sed -n 's/.*TEST_CASE(\([A-Za-z0-9_]*\)).*/\1/p' "$1"; }

skip_cases_of() {
    for sc_s in $QEMU_SKIP; do
        case $sc_s in "$1":*) say "${sc_s#*:}" ;; esac
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
    cfg_t0=$(date +%s)
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
        nskipped=0
        for t in $tests; do
            tname=$(basename "$t")
            skip=$(skip_cases_of "$tname")
            cases=""
            [ -n "$skip" ] && cases=$(case_names "$D/tests/$tname.c")
            if [ -z "$cases" ]; then
                run_prog "$TLOG" "$tname" "$QEMU" "$D/$t"
                continue
            fi
            # run the program once per case that is not in the skip list
            for c in $cases; do
                if say "$skip" | grep -qx "$c"; then
                    say "  NOT RUN under $QEMU (too slow emulated): $tname $c"
                    nskipped=$((nskipped + 1))
                    continue
                fi
                run_prog "$TLOG" "$tname $c" "$QEMU" "$D/$t" "$c"
            done
        done
        notes="$notes; $nskipped slow cases not run (PORT_QEMU_SKIP)"
        run_prog "$TLOG" "test_checksum (float)" "$QEMU" "$D/build/float/tests/test_checksum"
    fi
    grep '^CHECKSUM ' "$TLOG" | sort -u >"$CFGDIR/checksums.txt"
    status=passed
    if [ "$F" -ne 0 ] || [ "$nwarn" -ne 0 ]; then status=FAILED; any_failed=1; fi
    if [ "$P" -eq 0 ]; then status=FAILED; any_failed=1; fi
    say "$cfg: $P passed, $F failed, $nwarn compiler warnings -> $status ($(($(date +%s) - cfg_t0))s)"
    [ -n "$notes" ] && say "  ($notes)"
    say "$cfg $status ($P passed, $F failed, $nwarn warnings${notes:+; $notes})" >>"$SUMMARY"
    ran="$ran $cfg"
    ckcfgs="$ckcfgs $cfg"
    # glibc on x86-64 picks FMA versions of exp, pow, sin, cos at run time
    # (ifunc) when the CPU has FMA: the same binary then computes other bits
    # than on a CPU without FMA. Rerun the checksum with those versions off.
    if [ "$cfg" = gcc ] && grep -qw fma /proc/cpuinfo 2>/dev/null; then
        mkdir -p "$ROOT/gcc-nofma"
        for b in "$D/build/tests/test_checksum" "$D/build/float/tests/test_checksum"; do
            GLIBC_TUNABLES=glibc.cpu.hwcaps=-AVX2_Usable,-FMA_Usable,-AVX2,-FMA "$b"
        done 2>&1 | grep '^CHECKSUM ' | sort -u >"$ROOT/gcc-nofma/checksums.txt"
        if [ -s "$ROOT/gcc-nofma/checksums.txt" ]; then
            ckcfgs="$ckcfgs gcc-nofma"
            say "  gcc-nofma: the gcc build's test_checksum rerun with GLIBC_TUNABLES turning off glibc's FMA code paths (checksums only)"
        fi
    fi
}

say "portability: configurations: $CONFIGS"
say "source $SRC, builds in $ROOT"
# One snapshot of the tree (top level without build/, out/ and hidden entries)
# for every configuration, so all of them build the same sources.
SNAP=$ROOT/snapshot
rm -rf "$SNAP" && mkdir -p "$SNAP" || exit 1
for f in "$SRC"/*; do
    case $(basename "$f") in build|out) continue ;; esac
    cp -Rp "$f" "$SNAP"/ || exit 1
done
say "snapshot of the sources taken $(date '+%Y-%m-%d %H:%M:%S') in $SNAP"
for cfg in $CONFIGS; do
    run_config "$cfg"
done

# --- checksum comparison -----------------------------------------------------
# Every CHECKSUM line of every configuration as "config real name hex". The
# training computation calls exp, log, pow and sqrt from libm: configurations
# whose libm gives the same bits for those (the libm-* checksums) must give the
# same training bits; a difference there is a failure (compiler, flags or code),
# a difference between configurations whose libm differs is reported only.
say ""
say "================ checksums (FNV-1a of IEEE bits, little-endian; tests/test_checksum.c)"
ALLCK=$ROOT/checksums.txt
: >"$ALLCK"
for c in $ckcfgs; do
    sed -n "s/^CHECKSUM /$c /p" "$ROOT/$c/checksums.txt" >>"$ALLCK"
done
if [ -z "$ckcfgs" ]; then
    say "(no configuration ran: nothing to compare)"
elif ! awk -v order="$ckcfgs" '
    { key = $2 " " $3; val[key, $1] = $4; if (!(key in seen)) { seen[key] = 1; keys[++nk] = key } }
    $2 == "double" && ($3 == "libm-exp" || $3 == "libm-log" || $3 == "libm-pow" || $3 == "libm-sqrt") {
        sig[$1] = sig[$1] $3 "=" $4 " "
    }
    END {
        nc = split(order, cfg, " ")
        # sort keys for a stable table
        for (i = 1; i <= nk; i++) for (j = i + 1; j <= nk; j++) if (keys[j] < keys[i]) { t = keys[i]; keys[i] = keys[j]; keys[j] = t }
        bad = 0
        for (i = 1; i <= nk; i++) {
            k = keys[i]; nv = 0; split("", who)
            for (c = 1; c <= nc; c++) {
                v = ((k, cfg[c]) in val) ? val[k, cfg[c]] : "missing"
                if (!(v in who)) { vs[++nv] = v; who[v] = "" }
                who[v] = who[v] " " cfg[c]
            }
            if (nv == 1) printf "%-22s all agree: %s (%s)\n", k, vs[1], substr(who[vs[1]], 2)
            else {
                printf "%-22s DIFFER:\n", k
                for (j = 1; j <= nv; j++) printf "    %s %s\n", vs[j], who[vs[j]]
            }
            if (k !~ / train-/) continue
            for (a = 1; a <= nc; a++) for (b = a + 1; b <= nc; b++) {
                va = ((k, cfg[a]) in val) ? val[k, cfg[a]] : "missing"
                vb = ((k, cfg[b]) in val) ? val[k, cfg[b]] : "missing"
                if (va != vb && sig[cfg[a]] != "" && sig[cfg[a]] == sig[cfg[b]]) {
                    printf "    FAIL: %s and %s have the same libm results but different %s\n", cfg[a], cfg[b], k
                    bad = 1
                }
            }
        }
        printf "libm groups (same exp/log/pow/sqrt bits):\n"
        ng = 0
        for (c = 1; c <= nc; c++) {
            s = sig[cfg[c]]
            if (s in gi) continue
            gi[s] = ++ng; members = ""
            for (d = 1; d <= nc; d++) if (sig[cfg[d]] == s) members = members " " cfg[d]
            printf "    group %d:%s\n", ng, members
        }
        exit bad
    }' "$ALLCK"; then
    say "checksums FAILED: training bits differ between configurations with the same libm" >>"$SUMMARY"
    any_failed=1
fi

say ""
say "================ portability summary"
cat "$SUMMARY"
nskip=$(grep -c ' SKIPPED ' "$SUMMARY")
if [ "$nskip" -gt 0 ] && [ "${PORT_REQUIRE_ALL:-0}" = 1 ]; then any_failed=1; fi
if [ -z "$ran" ]; then
    say "portability: no configuration ran"
    any_failed=1
fi
if [ "$any_failed" -ne 0 ]; then
    say "portability: FAILED"
    exit 1
fi
say "portability: all configurations that ran passed ($nskip skipped)"
exit 0
