#!/bin/sh
# data_prep.sh - convert the paper's data sets into what the programs read
# (DESIGN.md section 5): grayscale 8-bit binary PGM, resized to SIZE x SIZE
# (default 224, aspect ratio not kept, as Resize((224, 224)) does), in an
# ImageFolder tree OUT/{train,test}/<class>/<name>.pgm; or unpacked IDX files.
#
#   data_prep.sh chest SRC OUT [SIZE]     Kaggle "Chest X-Ray Images (Pneumonia)":
#       SRC/{train,test,val}/{NORMAL,PNEUMONIA}/*.jpeg (SRC may also be the
#       folder holding chest_xray/). val/ (16 images) is merged into train,
#       its files prefixed "val_".
#   data_prep.sh brain SRC OUT [SIZE]     Kaggle "Brain Tumor MRI Dataset":
#       SRC/Training/<class>/*.jpg -> OUT/train, SRC/Testing/<class>/ -> OUT/test.
#   data_prep.sh fashion [SRC] OUT        Fashion-MNIST IDX files (SRC default
#       /usr/share/datasets/fashion-mnist, Debian package dataset-fashion-mnist):
#       *.gz unpacked (plain files copied) into OUT, plus OUT/classes.txt.
#   data_prep.sh synth OUT [SIZE] [K] [N] the built-in synthetic set as a PGM
#       tree (SIZE default 224, K classes default 4, N train images default
#       2000; test gets max(K, ceil(N/4))), written by
#       ${GC_BIN:-build/float}/train --export-synth OUT --data synth:K:N --size SIZE
#
# Images (.jpg .jpeg .png, any case) are converted with ImageMagick (magick or
# convert: -colorspace Gray -filter Triangle -resize SxS!) or else netpbm
# (jpegtopnm / pngtopnm | ppmtopgm | pamscale -filter=triangle); set
# DATA_PREP_TOOL=imagemagick or netpbm to choose. Other files are skipped and
# counted (hidden files, names starting with '.', are ignored). The source is never written to (OUT may not lie inside SRC). Each
# output is written to a temp file and renamed, and existing outputs are
# skipped, so an interrupted run can simply be started again. Two sources
# with the same name but different extensions in one class folder map to the
# same output; the second is skipped. Ends with per-class counts; exits
# non-zero if any conversion failed.
set -eu

PROG=data_prep.sh
FASHION_DEFAULT=/usr/share/datasets/fashion-mnist
DEFAULT_SIZE=224
MAX_SIZE=4096

usage() {
    cat >&2 <<EOF
usage: $PROG chest SRC OUT [SIZE]
       $PROG brain SRC OUT [SIZE]
       $PROG fashion [SRC] OUT          (SRC default $FASHION_DEFAULT)
       $PROG synth OUT [SIZE] [K] [N]
EOF
    exit 2
}

die() {
    echo "$PROG: $*" >&2
    exit 1
}

CUR_TMP=
cleanup() { if [ -n "$CUR_TMP" ]; then rm -f "$CUR_TMP"; fi; }
trap cleanup EXIT
trap 'cleanup; exit 130' INT TERM

check_number() { # name value max
    case "$2" in
        '' | *[!0-9]*) die "$1 must be a positive integer, not '$2'" ;;
    esac
    if [ "$2" -lt 1 ] || [ "$2" -gt "$3" ]; then die "$1 must be 1..$3, not $2"; fi
}

# Refuse an OUT inside SRC (or equal to it): the source is never written to.
# Checked before OUT is created, from OUT's deepest existing ancestor.
check_outside() { # src out
    src_abs=$(cd "$1" && pwd -P)
    p=$2
    while [ ! -d "$p" ]; do p=$(dirname "$p"); done
    out_abs=$(cd "$p" && pwd -P)
    case "$out_abs/" in
        "$src_abs/"*) die "OUT ($2) lies inside SRC ($1): choose another folder" ;;
    esac
    mkdir -p "$2"
}

TOOL=
pick_tool() {
    want=${DATA_PREP_TOOL:-}
    if [ -z "$want" ] || [ "$want" = imagemagick ]; then
        if command -v magick >/dev/null 2>&1; then
            TOOL=magick
            return
        fi
        if command -v convert >/dev/null 2>&1 && convert -version 2>/dev/null | grep -q ImageMagick; then
            TOOL=convert
            return
        fi
        [ -z "$want" ] || die "DATA_PREP_TOOL=imagemagick but ImageMagick is not installed (Debian package imagemagick)"
    fi
    if [ -z "$want" ] || [ "$want" = netpbm ]; then
        if command -v jpegtopnm >/dev/null 2>&1 && command -v pamscale >/dev/null 2>&1 &&
            command -v ppmtopgm >/dev/null 2>&1; then
            TOOL=netpbm
            return
        fi
        [ -z "$want" ] || die "DATA_PREP_TOOL=netpbm but netpbm is not installed (Debian package netpbm)"
    fi
    [ -z "$want" ] || die "DATA_PREP_TOOL must be imagemagick or netpbm, not '$want'"
    die "no image converter: install ImageMagick (Debian package imagemagick) or netpbm (Debian package netpbm)"
}

# convert_one SRC DST SIZE: one image to an 8-bit grayscale SIZE x SIZE PGM.
convert_one() {
    CUR_TMP="$2.tmp.$$"
    case "$TOOL" in
        magick | convert)
            "$TOOL" "$1[0]" -colorspace Gray -filter Triangle -resize "$3x$3!" -depth 8 \
                "pgm:$CUR_TMP" 2>/dev/null || return 1
            ;;
        netpbm)
            case "$1" in
                *.[pP][nN][gG]) decode=pngtopnm ;;
                *) decode=jpegtopnm ;;
            esac
            "$decode" "$1" 2>/dev/null | ppmtopgm 2>/dev/null |
                pamscale -xsize="$3" -ysize="$3" -filter=triangle >"$CUR_TMP" 2>/dev/null || return 1
            ;;
    esac
    # the result must be a binary PGM
    magic=$(dd if="$CUR_TMP" bs=2 count=1 2>/dev/null) || return 1
    [ "$magic" = P5 ] || return 1
    mv -f "$CUR_TMP" "$2" || return 1
    CUR_TMP=
}

CONVERTED=0
SKIPPED_DONE=0
SKIPPED_OTHER=0
FAILED=0

# convert_class SRC_CLASS_DIR OUT_CLASS_DIR SIZE PREFIX
convert_class() {
    mkdir -p "$2"
    for f in "$1"/*; do
        [ -e "$f" ] || continue
        name=${f##*/}
        case "$name" in
            .*) SKIPPED_OTHER=$((SKIPPED_OTHER + 1)); continue ;;
            *.[jJ][pP][gG] | *.[jJ][pP][eE][gG] | *.[pP][nN][gG]) ;;
            *) SKIPPED_OTHER=$((SKIPPED_OTHER + 1)); continue ;;
        esac
        [ -f "$f" ] || { SKIPPED_OTHER=$((SKIPPED_OTHER + 1)); continue; }
        dst="$2/$4${name%.*}.pgm"
        if [ -s "$dst" ]; then
            SKIPPED_DONE=$((SKIPPED_DONE + 1))
            continue
        fi
        if convert_one "$f" "$dst" "$3"; then
            CONVERTED=$((CONVERTED + 1))
        else
            cleanup
            CUR_TMP=
            FAILED=$((FAILED + 1))
            echo "$PROG: cannot convert $f" >&2
        fi
    done
}

# convert_split SRC_SPLIT_DIR OUT_SPLIT_DIR SIZE PREFIX: every class folder.
convert_split() {
    found=0
    for d in "$1"/*; do
        [ -d "$d" ] || continue
        case "${d##*/}" in .*) continue ;; esac
        found=1
        convert_class "$d" "$2/${d##*/}" "$3" "$4"
    done
    [ "$found" = 1 ] || die "$1: no class folders"
}

report() { # OUT
    for split in train test; do
        [ -d "$1/$split" ] || continue
        for d in "$1/$split"/*; do
            [ -d "$d" ] || continue
            n=0
            for f in "$d"/*.pgm; do
                if [ -e "$f" ]; then n=$((n + 1)); fi
            done
            echo "$split/${d##*/}: $n"
        done
    done
    echo "converted $CONVERTED, already done $SKIPPED_DONE, non-image entries skipped $SKIPPED_OTHER, failed $FAILED"
    [ "$FAILED" -eq 0 ] || die "$FAILED images could not be converted (see above)"
}

cmd_chest() {
    if [ $# -lt 2 ] || [ $# -gt 3 ]; then usage; fi
    src=$1 out=$2 size=${3:-$DEFAULT_SIZE}
    check_number SIZE "$size" "$MAX_SIZE"
    [ -d "$src" ] || die "$src: no such folder"
    if [ ! -d "$src/train" ] && [ -d "$src/chest_xray/train" ]; then src=$src/chest_xray; fi
    if [ ! -d "$src/train" ] || [ ! -d "$src/test" ]; then
        die "$src: expected train/ and test/ (chest_xray/{train,test,val}/{NORMAL,PNEUMONIA})"
    fi
    check_outside "$src" "$out"
    pick_tool
    convert_split "$src/train" "$out/train" "$size" ""
    if [ -d "$src/val" ]; then convert_split "$src/val" "$out/train" "$size" val_; fi
    convert_split "$src/test" "$out/test" "$size" ""
    report "$out"
}

cmd_brain() {
    if [ $# -lt 2 ] || [ $# -gt 3 ]; then usage; fi
    src=$1 out=$2 size=${3:-$DEFAULT_SIZE}
    check_number SIZE "$size" "$MAX_SIZE"
    [ -d "$src" ] || die "$src: no such folder"
    if [ ! -d "$src/Training" ] || [ ! -d "$src/Testing" ]; then
        die "$src: expected Training/<class>/ and Testing/<class>/"
    fi
    check_outside "$src" "$out"
    pick_tool
    convert_split "$src/Training" "$out/train" "$size" ""
    convert_split "$src/Testing" "$out/test" "$size" ""
    report "$out"
}

# Number of items of an IDX file (big-endian uint32 at offset 4).
idx_count() {
    od -An -tu1 -j4 -N4 "$1" | awk '{ print (($1 * 256 + $2) * 256 + $3) * 256 + $4 }'
}

cmd_fashion() {
    case $# in
        1) src=$FASHION_DEFAULT out=$1 ;;
        2) src=$1 out=$2 ;;
        *) usage ;;
    esac
    [ -d "$src" ] || die "$src: no such folder (Debian package dataset-fashion-mnist installs $FASHION_DEFAULT)"
    check_outside "$src" "$out"
    for base in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do
        dst=$out/$base
        if [ -s "$dst" ]; then
            SKIPPED_DONE=$((SKIPPED_DONE + 1))
            continue
        fi
        CUR_TMP="$dst.tmp.$$"
        if [ -f "$src/$base.gz" ]; then
            gzip -dc "$src/$base.gz" >"$CUR_TMP" || die "$src/$base.gz: cannot unpack"
        elif [ -f "$src/$base" ]; then
            cp "$src/$base" "$CUR_TMP" || die "$src/$base: cannot copy"
        else
            die "$src: no $base(.gz)"
        fi
        case "$base" in *images*) want="0 0 8 3" ;; *) want="0 0 8 1" ;; esac
        got=$(od -An -tu1 -N4 "$CUR_TMP" | tr -s ' ' ' ' | sed 's/^ //; s/ $//')
        [ "$got" = "$want" ] || die "$src/$base: not an IDX file of the expected kind (magic $got)"
        mv -f "$CUR_TMP" "$dst"
        CUR_TMP=
        CONVERTED=$((CONVERTED + 1))
    done
    CUR_TMP="$out/classes.txt.tmp.$$"
    printf '%s\n' tshirt_top trouser pullover dress coat sandal shirt sneaker bag ankle_boot >"$CUR_TMP"
    mv -f "$CUR_TMP" "$out/classes.txt"
    CUR_TMP=
    for split in train t10k; do
        echo "$split: $(idx_count "$out/$split-images-idx3-ubyte") images, per class:"
        od -An -v -tu1 -j8 "$out/$split-labels-idx1-ubyte" | tr -s ' ' '\n' | grep -v '^$' |
            sort -n | uniq -c | awk '{ printf "  class %s: %s\n", $2, $1 }'
    done
    echo "unpacked $CONVERTED, already done $SKIPPED_DONE"
}

cmd_synth() {
    if [ $# -lt 1 ] || [ $# -gt 4 ]; then usage; fi
    out=$1 size=${2:-$DEFAULT_SIZE} k=${3:-4} n=${4:-2000}
    check_number SIZE "$size" "$MAX_SIZE"
    check_number K "$k" 16
    check_number N "$n" 10000000
    bin=${GC_BIN:-build/float}
    [ -x "$bin/train" ] || die "$bin/train not found: run make first (or set GC_BIN)"
    "$bin/train" --export-synth "$out" --data "synth:$k:$n" --size "$size" ||
        die "$bin/train --export-synth failed"
    report "$out"
}

[ $# -ge 1 ] || usage
what=$1
shift
case "$what" in
    chest) cmd_chest "$@" ;;
    brain) cmd_brain "$@" ;;
    fashion) cmd_fashion "$@" ;;
    synth) cmd_synth "$@" ;;
    -h | --help | help) usage ;;
    *) echo "$PROG: unknown data set '$what'" >&2; usage ;;
esac
