#!/bin/sh
# tests/test_data_prep.sh - data_prep.sh on small trees made here: chest and
# brain layouts (with each installed converter: ImageMagick and/or netpbm),
# skipped non-images, re-runs, a corrupt image, the source left untouched,
# fashion IDX unpacking, synth export through the train program, and usage
# errors. Cases whose tools are missing print "skip" and count neither as
# passed nor failed.
. "$(dirname "$0")/lib.sh"
root=$(cd "$(dirname "$0")/.." && pwd)
dp="$root/data_prep.sh"
work=$(mktemp -d "${TMPDIR:-/tmp}/gc-dataprep.XXXXXX")
trap 'rm -rf "$work"' EXIT
skip() { echo "  skip $1: $2"; }

have_im=0
have_netpbm=0
if command -v magick >/dev/null 2>&1 ||
    { command -v convert >/dev/null 2>&1 && convert -version 2>/dev/null | grep -q ImageMagick; }; then
    have_im=1
fi
if command -v jpegtopnm >/dev/null 2>&1 && command -v pnmtojpeg >/dev/null 2>&1 &&
    command -v pamscale >/dev/null 2>&1 && command -v ppmtopgm >/dev/null 2>&1 &&
    command -v pgmramp >/dev/null 2>&1; then
    have_netpbm=1
fi

# make_image PATH W H: a gradient JPEG (or PNG by extension) with whatever is installed
make_image() {
    case "$1" in
        *.png)
            if [ $have_im = 1 ]; then convert -size "$2x$3" gradient:white-black "$1"
            else pgmramp -lr "$2" "$3" | pnmtopng >"$1" 2>/dev/null; fi ;;
        *)
            if [ $have_im = 1 ]; then convert -size "$2x$3" gradient:white-black "$1"
            else pgmramp -lr "$2" "$3" | pnmtojpeg >"$1" 2>/dev/null; fi ;;
    esac
}

# snapshot DIR: every path with type and checksum, to prove DIR is untouched
snapshot() {
    (cd "$1" && find . -print | sort && find . -type f -exec cksum {} + | sort)
}

# pgm_header FILE: its first 13 bytes in hex ("P5\n16 16\n255\n" for an
# 8-bit 16x16 PGM is HDR16)
pgm_header() { dd if="$1" bs=13 count=1 2>/dev/null | od -An -tx1 | tr -d ' \n'; }
HDR16=50350a31362031360a3235350a

# --- usage errors (no converter needed) ---
sh "$dp" >/dev/null 2>"$work/err" && st=0 || st=$?
if [ "$st" = 2 ] && grep -q "usage:" "$work/err"; then ok usage_without_arguments
else fail usage_without_arguments "status $st: $(cat "$work/err")"; fi
sh "$dp" cats a b >/dev/null 2>"$work/err" && st=0 || st=$?
if [ "$st" = 2 ] && grep -q "unknown data set 'cats'" "$work/err"; then ok unknown_data_set
else fail unknown_data_set "status $st: $(cat "$work/err")"; fi
sh "$dp" chest "$work/nowhere" "$work/out0" >/dev/null 2>"$work/err" && st=0 || st=$?
if [ "$st" = 1 ] && grep -q "nowhere: no such folder" "$work/err"; then ok missing_source
else fail missing_source "status $st: $(cat "$work/err")"; fi
sh "$dp" chest "$work" "$work/out0" 12x >/dev/null 2>"$work/err" && st=0 || st=$?
if [ "$st" = 1 ] && grep -q "SIZE must be a positive integer" "$work/err"; then ok bad_size
else fail bad_size "status $st: $(cat "$work/err")"; fi

# --- chest layout, once per installed converter ---
tools=
[ $have_im = 1 ] && tools="$tools imagemagick"
[ $have_netpbm = 1 ] && tools="$tools netpbm"
if [ -z "$tools" ]; then
    skip chest_conversion "neither ImageMagick nor netpbm is installed"
    skip chest_rerun_skips_done "no converter"
    skip chest_source_untouched "no converter"
    skip corrupt_image_reported "no converter"
    skip out_inside_source_refused "no converter"
    skip brain_conversion "no converter"
else
    src="$work/chest_src/chest_xray"
    for d in train/NORMAL train/PNEUMONIA test/NORMAL test/PNEUMONIA val/NORMAL val/PNEUMONIA; do
        mkdir -p "$src/$d"
    done
    make_image "$src/train/NORMAL/a.jpeg" 40 30
    make_image "$src/train/NORMAL/b.jpeg" 20 50
    echo notes >"$src/train/NORMAL/notes.txt"
    echo junk >"$src/train/NORMAL/.DS_Store"   # hidden: ignored, not counted
    make_image "$src/train/PNEUMONIA/c.jpeg" 33 33
    make_image "$src/test/NORMAL/d.jpeg" 64 48
    make_image "$src/test/PNEUMONIA/e.jpeg" 16 16
    make_image "$src/test/PNEUMONIA/f.png" 30 20
    make_image "$src/val/NORMAL/a.jpeg" 40 30
    make_image "$src/val/PNEUMONIA/g.JPG" 24 24
    snapshot "$work/chest_src" >"$work/before"
    for tool in $tools; do
        out="$work/chest_out_$tool"
        # SRC given as the folder holding chest_xray/, as Kaggle's archive unpacks
        if DATA_PREP_TOOL=$tool sh "$dp" chest "$work/chest_src" "$out" 16 >"$work/log" 2>&1; then
            want="train/NORMAL/a.pgm train/NORMAL/b.pgm train/NORMAL/val_a.pgm train/PNEUMONIA/c.pgm
                  train/PNEUMONIA/val_g.pgm test/NORMAL/d.pgm test/PNEUMONIA/e.pgm test/PNEUMONIA/f.pgm"
            missing=
            for f in $want; do
                [ -f "$out/$f" ] || missing="$missing $f"
            done
            n=$(find "$out" -type f | wc -l)
            hdr=$(pgm_header "$out/test/NORMAL/d.pgm")
            size=$(wc -c <"$out/test/NORMAL/d.pgm" | tr -d ' ')
            if [ -z "$missing" ] && [ "$n" -eq 8 ] && [ "$size" -eq $((13 + 256)) ] &&
                [ "$hdr" = "$HDR16" ] &&
                grep -q "^train/NORMAL: 3$" "$work/log" && grep -q "^test/PNEUMONIA: 2$" "$work/log" &&
                grep -q "converted 8, already done 0, non-image entries skipped 1, failed 0" "$work/log"; then
                ok "chest_conversion_$tool"
            else
                fail "chest_conversion_$tool" "missing:$missing files:$n size:$size header:$hdr log: $(cat "$work/log")"
            fi
        else
            fail "chest_conversion_$tool" "exit status non-zero: $(cat "$work/log")"
        fi
        if DATA_PREP_TOOL=$tool sh "$dp" chest "$src" "$out" 16 >"$work/log" 2>&1 &&
            grep -q "converted 0, already done 8" "$work/log"; then
            ok "chest_rerun_skips_done_$tool"
        else
            fail "chest_rerun_skips_done_$tool" "$(cat "$work/log")"
        fi
    done
    snapshot "$work/chest_src" >"$work/after"
    if cmp -s "$work/before" "$work/after"; then ok chest_source_untouched
    else fail chest_source_untouched "the source tree changed"; fi
    tmps=$(find "$work" -name '*.tmp.*' | wc -l)
    if [ "$tmps" -eq 0 ]; then ok no_temp_files_left
    else fail no_temp_files_left "$tmps temp files left"; fi

    # a corrupt image: reported, the others still converted, non-zero exit
    bad="$work/bad_src"
    mkdir -p "$bad/train/A" "$bad/test/A"
    make_image "$bad/train/A/good.jpeg" 20 20
    echo "not a jpeg" >"$bad/train/A/broken.jpeg"
    make_image "$bad/test/A/t.jpeg" 20 20
    if sh "$dp" chest "$bad" "$work/bad_out" 8 >"$work/log" 2>&1; then
        fail corrupt_image_reported "exit status 0: $(cat "$work/log")"
    elif grep -q "cannot convert $bad/train/A/broken.jpeg" "$work/log" &&
        [ -f "$work/bad_out/train/A/good.pgm" ] && [ ! -e "$work/bad_out/train/A/broken.pgm" ] &&
        [ "$(find "$work/bad_out" -name '*.tmp.*' | wc -l)" -eq 0 ]; then
        ok corrupt_image_reported
    else
        fail corrupt_image_reported "$(cat "$work/log")"
    fi

    # OUT inside SRC is refused before anything is written
    snapshot "$bad" >"$work/before"
    if sh "$dp" chest "$bad" "$bad/train/converted" 8 >"$work/log" 2>&1; then
        fail out_inside_source_refused "exit status 0"
    elif grep -q "lies inside SRC" "$work/log" && snapshot "$bad" | cmp -s - "$work/before"; then
        ok out_inside_source_refused
    else
        fail out_inside_source_refused "$(cat "$work/log")"
    fi

    # brain layout
    bsrc="$work/brain_src"
    mkdir -p "$bsrc/Training/glioma" "$bsrc/Training/notumor" "$bsrc/Testing/glioma" "$bsrc/Testing/notumor"
    make_image "$bsrc/Training/glioma/Tr-gl_0010.jpg" 30 30
    make_image "$bsrc/Training/notumor/Tr-no_0010.jpg" 30 20
    make_image "$bsrc/Training/notumor/Tr-no_0011.jpg" 30 20
    make_image "$bsrc/Testing/glioma/Te-gl_0010.jpg" 30 30
    make_image "$bsrc/Testing/notumor/Te-no_0010.jpg" 30 30
    if sh "$dp" brain "$bsrc" "$work/brain_out" 12 >"$work/log" 2>&1 &&
        [ -f "$work/brain_out/train/notumor/Tr-no_0011.pgm" ] &&
        [ -f "$work/brain_out/test/glioma/Te-gl_0010.pgm" ] &&
        grep -q "^train/notumor: 2$" "$work/log" && grep -q "^test/glioma: 1$" "$work/log"; then
        ok brain_conversion
    else
        fail brain_conversion "$(cat "$work/log")"
    fi
fi

# --- fashion: IDX files unpacked (gz) or copied, classes.txt written ---
if command -v gzip >/dev/null 2>&1 && command -v od >/dev/null 2>&1; then
    fsrc="$work/fashion_src"
    mkdir -p "$fsrc"
    # 2 images of 2x2, 2 labels (printf octal escapes: binary-safe in POSIX sh)
    printf '\000\000\010\003\000\000\000\002\000\000\000\002\000\000\000\002abcdefgh' >"$work/img"
    printf '\000\000\010\001\000\000\000\002\001\011' >"$work/lab"
    gzip -c "$work/img" >"$fsrc/train-images-idx3-ubyte.gz"
    gzip -c "$work/lab" >"$fsrc/train-labels-idx1-ubyte.gz"
    cp "$work/img" "$fsrc/t10k-images-idx3-ubyte"
    gzip -c "$work/lab" >"$fsrc/t10k-labels-idx1-ubyte.gz"
    fout="$work/fashion_out"
    if sh "$dp" fashion "$fsrc" "$fout" >"$work/log" 2>&1 &&
        cmp -s "$work/img" "$fout/train-images-idx3-ubyte" &&
        cmp -s "$work/img" "$fout/t10k-images-idx3-ubyte" &&
        cmp -s "$work/lab" "$fout/t10k-labels-idx1-ubyte" &&
        [ "$(wc -l <"$fout/classes.txt" | tr -d ' ')" -eq 10 ] &&
        [ "$(sed -n 10p "$fout/classes.txt")" = ankle_boot ] &&
        grep -q "train: 2 images" "$work/log" && grep -q "class 9: 1" "$work/log"; then
        ok fashion_unpack
    else
        fail fashion_unpack "$(cat "$work/log")"
    fi
    if sh "$dp" fashion "$fsrc" "$fout" >"$work/log" 2>&1 && grep -q "already done 4" "$work/log"; then
        ok fashion_rerun
    else
        fail fashion_rerun "$(cat "$work/log")"
    fi
    echo "garbage" | gzip -c >"$fsrc/train-labels-idx1-ubyte.gz"
    if sh "$dp" fashion "$fsrc" "$work/fashion_bad" >"$work/log" 2>&1; then
        fail fashion_bad_idx_refused "exit status 0"
    elif grep -q "not an IDX file" "$work/log" && [ ! -e "$work/fashion_bad/train-labels-idx1-ubyte" ]; then
        ok fashion_bad_idx_refused
    else
        fail fashion_bad_idx_refused "$(cat "$work/log")"
    fi
else
    skip fashion_unpack "gzip or od missing"
fi

# --- synth: through the train program ---
mkdir -p "$work/empty_bin"
if GC_BIN="$work/empty_bin" sh "$dp" synth "$work/syn" 16 >"$work/log" 2>&1; then
    fail synth_needs_train "exit status 0"
elif grep -q "run make first" "$work/log"; then
    ok synth_needs_train
else
    fail synth_needs_train "$(cat "$work/log")"
fi
bin=${GC_BIN:-$root/build/float}
if [ -x "$bin/train" ] && "$bin/train" --help 2>&1 | grep -q -- --export-synth; then
    if GC_BIN="$bin" sh "$dp" synth "$work/syn" 16 3 9 >"$work/log" 2>&1 &&
        grep -q "^train/no_finding: 3$" "$work/log" && grep -q "^test/lesion_b: 1$" "$work/log" &&
        [ "$(pgm_header "$work/syn/train/lesion_a/000001.pgm")" = "$HDR16" ]; then
        ok synth_export
    else
        fail synth_export "$(cat "$work/log")"
    fi
else
    skip synth_export "$bin/train with --export-synth is not built"
fi
finish
