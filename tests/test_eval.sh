#!/bin/sh
# tests/test_eval.sh - the evaluation program (eval.c) end to end: eval of
# checkpoints on tiny synthetic data (outputs, JSON contents, determinism,
# --json), the model comparison, --correlate on hand-written logs with known
# correlations, bad command lines and bad files (exit status, message, no
# output), and - when train is built - "train two epochs, then eval of the
# checkpoint reproduces the training-time metrics exactly".
# Checkpoints come from tests/tool_make_ckpt.c (no training needed).
. "$(dirname "$0")/lib.sh"
: "${GC_BIN:=$(dirname "$0")/../build/float}"
: "${GC_TOOLS:=$(dirname "$0")/../build/tests}"
EVAL=$GC_BIN/eval
TRAIN=$GC_BIN/train
MK=$GC_TOOLS/tool_make_ckpt
T=$(mktemp -d "${TMPDIR:-/tmp}/test_eval.XXXXXX")
trap 'rm -rf "$T"' EXIT INT TERM

PY=
if command -v python3 >/dev/null 2>&1 && python3 -c 'import json' >/dev/null 2>&1; then
    PY=python3
else
    echo "  note: no python3: JSON contents are checked with grep only"
fi

# py NAME SCRIPT ARGS...: run a python check (an assert failing = case fails)
py() {
    name=$1
    shift
    if [ -z "$PY" ]; then
        echo "  skip $name (no python3)"
        return
    fi
    if out=$("$PY" - "$@" 2>&1); then ok "$name"; else fail "$name" "$out"; fi
}

# expect_fail NAME STATUS PATTERN cmd...: exit status STATUS and PATTERN on stderr
expect_fail() {
    name=$1
    want=$2
    pat=$3
    shift 3
    "$@" >"$T/out.txt" 2>"$T/err.txt"
    st=$?
    if [ "$st" -ne "$want" ]; then
        fail "$name" "exit status $st, expected $want (stderr: $(head -c 300 "$T/err.txt"))"
    elif ! grep -q -- "$pat" "$T/err.txt"; then
        fail "$name" "stderr lacks '$pat': $(head -c 300 "$T/err.txt")"
    elif [ -s "$T/out.txt" ]; then
        fail "$name" "stdout not empty: $(head -c 200 "$T/out.txt")"
    else
        ok "$name"
    fi
}

is_png() { [ "$(head -c 8 "$1" | od -An -tx1 | tr -d ' \n')" = "89504e470d0a1a0a" ]; }

if [ ! -x "$EVAL" ] || [ ! -x "$MK" ]; then
    fail setup "missing $EVAL or $MK"
    finish
    exit 1
fi

# ---------------------------------------------------------------- help
"$EVAL" --help >"$T/help.txt" 2>&1
st=$?
missing=
for f in --model --data --split --limit --data-seed --batch --target --distance --cam-grid \
    --bootstrap --seed --gallery --out --json --correlate --variant; do
    grep -q -- "$f" "$T/help.txt" || missing="$missing $f"
done
if [ "$st" -eq 0 ] && [ -z "$missing" ] && [ "$(grep -c default "$T/help.txt")" -ge 10 ]; then
    ok "help lists every flag with defaults"
else
    fail "help lists every flag with defaults" "status $st, missing:$missing"
fi

# ---------------------------------------------------------------- checkpoints
mkdir -p "$T/ck"
check "make level-1 checkpoint" "$MK" "$T/ck/m1.safetensors" 1 16 synth:4:256 1
check "make level-2 checkpoint" "$MK" "$T/ck/m2.safetensors" 2 16 synth:4:256 2 lambda_max=50

# ---------------------------------------------------------------- one model
"$EVAL" --model "$T/ck/m1.safetensors" --limit 64 --out "$T/e1" >"$T/e1.out" 2>"$T/e1.err"
st=$?
if [ "$st" -eq 0 ] && [ -s "$T/e1/eval.json" ] && [ -s "$T/e1/report.html" ] &&
    is_png "$T/e1/class_maps.png" && is_png "$T/e1/gallery.png"; then
    ok "eval writes eval.json, report.html, class_maps.png, gallery.png"
else
    fail "eval writes eval.json, report.html, class_maps.png, gallery.png" \
        "status $st: $(cat "$T/e1.err")"
fi
if [ "$(tail -n 1 "$T/e1.out")" = "report: $T/e1/report.html" ]; then
    ok "last stdout line names the report"
else
    fail "last stdout line names the report" "$(tail -n 1 "$T/e1.out")"
fi
if grep -q '"l2sq"' "$T/e1/eval.json" && grep -q '"l2"' "$T/e1/eval.json" &&
    ! grep -q -i 'nan' "$T/e1/eval.json"; then
    ok "eval.json names both variants and has no NaN literal"
else
    fail "eval.json names both variants and has no NaN literal" "$(head -c 400 "$T/e1/eval.json")"
fi
if ls "$T/e1" | grep -q '\.tmp\.'; then
    fail "no temp files left" "$(ls "$T/e1")"
else
    ok "no temp files left"
fi
if grep -q 'data:image/png;base64,' "$T/e1/report.html" &&
    grep -q 'Models side by side' "$T/e1/report.html"; then
    ok "report embeds the pictures and the summary table"
else
    fail "report embeds the pictures and the summary table" "missing content"
fi

py "eval.json contents are consistent" "$T/e1/eval.json" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["variants"] == ["l2sq", "l2"], d["variants"]
assert d["split"] == "test"
assert d["bootstrap"]["resamples"] == 1000
m = d["models"][0]
assert m["level"] == 1 and m["classes"] == 4 and m["size"] == 16
assert m["lambda_max"] == 0 and m["epoch"] == 0
assert m["data"]["count"] == 64 and m["data"]["limit"] == 64 and m["data"]["spec"] == "synth:4:256"
assert m["cam"]["h"] == 8 and m["cam"]["w"] == 8 and m["cam"]["layer"] == "features.4"
cm = m["confusion"]["matrix"]
assert sum(map(sum, cm)) == 64
diag = sum(cm[i][i] for i in range(4))
assert m["correct"] == diag
assert abs(m["accuracy"] - diag / 64.0) < 1e-15, (m["accuracy"], diag)
assert [c["count"] for c in m["per_class"]] == [sum(r) for r in cm]
assert m["metadata"]["level"] == "1" and m["metadata"]["class_names"].startswith("no_finding,")
for v in ("l2sq", "l2"):
    r = m["l_cam"][v]
    assert r["h"] == 8 and r["w"] == 8 and r["grid"] == 0
    assert sum(c["count"] for c in r["per_class"]) == diag
    if r["value"] is None:
        assert r["value_reason"] and r["ci"] is None
    else:
        assert r["value"] > 0 and r["ci"]["resamples"] == 1000
        assert r["ci"]["lo"] <= r["ci"]["hi"]
        used = [c for c in r["per_class"] if c["count"] >= 2]
        assert r["n_used"] == sum(c["count"] for c in used)
        # L_CAM = count-weighted mean of the per-class means
        w = sum(c["count"] * c["value"] for c in used) / r["n_used"]
        assert abs(w - r["value"]) <= 1e-12 * r["value"], (w, r["value"])
    for c in r["per_class"]:
        if c["count"] < 2:
            assert c["value"] is None and "fewer than 2" in c["value_reason"]
assert m["outputs"]["class_maps"] == "class_maps.png" and m["outputs"]["gallery_samples"] == 16
EOF

# determinism: a second run gives the same bytes
"$EVAL" --model "$T/ck/m1.safetensors" --limit 64 --out "$T/e1b" >/dev/null 2>&1
if cmp -s "$T/e1/eval.json" "$T/e1b/eval.json" && cmp -s "$T/e1/report.html" "$T/e1b/report.html" &&
    cmp -s "$T/e1/gallery.png" "$T/e1b/gallery.png"; then
    ok "eval is deterministic (same JSON, report and PNG bytes)"
else
    fail "eval is deterministic (same JSON, report and PNG bytes)" "outputs differ"
fi

# --json: stdout is exactly eval.json
"$EVAL" --model "$T/ck/m1.safetensors" --limit 64 --out "$T/e1c" --json >"$T/j.out" 2>"$T/j.err"
st=$?
if [ "$st" -eq 0 ] && cmp -s "$T/j.out" "$T/e1c/eval.json" && grep -q '^report: ' "$T/j.err"; then
    ok "--json prints only the JSON on stdout (report line on stderr)"
else
    fail "--json prints only the JSON on stdout (report line on stderr)" "status $st"
fi
py "--json stdout parses as JSON" "$T/j.out" <<'EOF'
import json, sys
json.load(open(sys.argv[1]))
EOF

# variants: --distance l2sq --cam-grid 4, bootstrap off
"$EVAL" --model "$T/ck/m2.safetensors" --limit 64 --distance l2sq --cam-grid 4 --bootstrap 0 \
    --gallery 0 --out "$T/e2" >/dev/null 2>"$T/e2.err"
st=$?
if [ "$st" -eq 0 ] && [ ! -e "$T/e2/gallery.png" ]; then
    ok "--cam-grid/--bootstrap 0/--gallery 0 run"
else
    fail "--cam-grid/--bootstrap 0/--gallery 0 run" "status $st: $(cat "$T/e2.err")"
fi
py "grid variant and bootstrap off in the JSON" "$T/e2/eval.json" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["variants"] == ["l2sq", "l2sq@grid4"], d["variants"]
assert d["bootstrap"] is None and "off" in d["bootstrap_reason"]
m = d["models"][0]
assert m["level"] == 2 and m["lambda_max"] == 50
assert (m["cam"]["h"], m["cam"]["w"]) == (2, 2)
g = m["l_cam"]["l2sq@grid4"]
assert (g["h"], g["w"], g["grid"]) == (4, 4, 4)
assert m["l_cam"]["l2sq"]["ci"] is None and "bootstrap off" in m["l_cam"]["l2sq"]["ci_reason"]
assert m["outputs"]["gallery"] is None
EOF

# two models side by side; default --out for several models is DIR/compare
"$EVAL" --model "$T/ck/m1.safetensors" --model "$T/ck/m2.safetensors" --limit 64 --bootstrap 50 \
    >"$T/c.out" 2>"$T/c.err"
st=$?
C=$T/ck/compare
if [ "$st" -eq 0 ] && is_png "$C/model1_class_maps.png" && is_png "$C/model2_gallery.png" &&
    grep -q 'Change relative to model 1' "$C/report.html" &&
    [ "$(tail -n 1 "$T/c.out")" = "report: $C/report.html" ]; then
    ok "two models: comparison report in DIR/compare"
else
    fail "two models: comparison report in DIR/compare" "status $st: $(cat "$T/c.err")"
fi
py "two models in the JSON" "$C/eval.json" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
assert [m["level"] for m in d["models"]] == [1, 2]
assert [m["index"] for m in d["models"]] == [1, 2]
assert d["models"][1]["outputs"]["class_maps"] == "model2_class_maps.png"
EOF
# default --out for one model is DIR/eval
if "$EVAL" --model "$T/ck/m1.safetensors" --limit 32 --bootstrap 10 >/dev/null 2>&1 &&
    [ -s "$T/ck/eval/eval.json" ]; then
    ok "default --out is DIR/eval"
else
    fail "default --out is DIR/eval" "no $T/ck/eval/eval.json"
fi

# ---------------------------------------------------------------- bad command lines (2)
M1=$T/ck/m1.safetensors
expect_fail "unknown flag" 2 "unknown flag '--bogus'" "$EVAL" --model "$M1" --bogus
expect_fail "bad number" 2 "\-\-batch: 'abc' is not an integer" "$EVAL" --model "$M1" --batch abc
expect_fail "zero --limit" 2 "\-\-limit" "$EVAL" --model "$M1" --limit 0
expect_fail "bad --distance" 2 "\-\-distance: 'l3'" "$EVAL" --model "$M1" --distance l3
expect_fail "bad --split" 2 "\-\-split" "$EVAL" --model "$M1" --split val
expect_fail "negative --bootstrap" 2 "\-\-bootstrap" "$EVAL" --model "$M1" --bootstrap -1
expect_fail "missing value" 2 "\-\-model: missing value" "$EVAL" --model
expect_fail "no --model" 2 "no --model" "$EVAL" --limit 5
expect_fail "stray argument" 2 "unexpected argument" "$EVAL" --model "$M1" foo.csv
expect_fail "--model with --correlate" 2 "does not apply to --correlate" \
    "$EVAL" --correlate a.csv --model "$M1"
expect_fail "--variant without --correlate" 2 "needs --correlate" "$EVAL" --model "$M1" --variant x

# ---------------------------------------------------------------- bad files (1), no output
printf 'hello, not safetensors\n' >"$T/ck/text.safetensors"
head -c 1000 "$M1" >"$T/ck/trunc.safetensors"
"$MK" "$T/ck/nolevel.safetensors" 1 16 synth:4:256 1 -level >/dev/null 2>&1
"$MK" "$T/ck/names.safetensors" 1 16 synth:4:256 1 class_names=a,b,c,d >/dev/null 2>&1
"$MK" "$T/ck/wronglevel.safetensors" 1 16 synth:4:256 1 level=2 >/dev/null 2>&1
"$MK" "$T/ck/nodata.safetensors" 1 16 synth:4:256 1 -data >/dev/null 2>&1
expect_fail "missing checkpoint" 1 "$T/ck/none.safetensors" \
    "$EVAL" --model "$T/ck/none.safetensors" --out "$T/bad1"
expect_fail "not a safetensors file" 1 "text.safetensors" \
    "$EVAL" --model "$T/ck/text.safetensors" --out "$T/bad2"
expect_fail "truncated checkpoint" 1 "trunc.safetensors" \
    "$EVAL" --model "$T/ck/trunc.safetensors" --out "$T/bad3"
expect_fail "checkpoint without model metadata" 1 "not a model checkpoint" \
    "$EVAL" --model "$T/ck/nolevel.safetensors" --out "$T/bad4"
expect_fail "class names differ from the data" 1 "class 0 is 'a' in the checkpoint" \
    "$EVAL" --model "$T/ck/names.safetensors" --out "$T/bad5"
expect_fail "tensors do not fit the level" 1 "wronglevel.safetensors" \
    "$EVAL" --model "$T/ck/wronglevel.safetensors" --out "$T/bad6"
expect_fail "class count differs from the data" 1 "has 3" \
    "$EVAL" --model "$M1" --data synth:3:64 --out "$T/bad7"
expect_fail "no data anywhere" 1 "give --data" \
    "$EVAL" --model "$T/ck/nodata.safetensors" --out "$T/bad8"
expect_fail "bad second model stops before any output" 1 "none.safetensors" \
    "$EVAL" --model "$M1" --model "$T/ck/none.safetensors" --out "$T/bad9"
expect_fail "--target outside the model" 1 "target 20" \
    "$EVAL" --model "$M1" --target 20 --out "$T/bad10"
nout=0
for k in 1 2 3 4 5 6 7 8 9 10; do [ -e "$T/bad$k" ] && nout=$((nout + 1)); done
if [ "$nout" -eq 0 ]; then ok "failed runs write nothing"; else fail "failed runs write nothing" "$nout output dirs"; fi

# ---------------------------------------------------------------- --correlate
mkdir -p "$T/logs"
# Level 1, two seeds: kappa = 0.9 - 10 L exactly (r = -1), accuracy = 0.1 + 2 L (r = +1);
# Level 2: kappa = L^3 (monotone, not linear: Spearman 1, Pearson < 1), one NaN L_CAM epoch.
cat >"$T/logs/a.csv" <<'EOF'
# a provenance comment line
level,lambda_max,seed,epoch,accuracy,kappa,l_cam_l2sq,l_cam_l2
1,0,0,1,0.12,0.8,0.01,0.1
1,0,0,2,0.14,0.7,0.02,0.2
1,0,0,3,0.18,0.5,0.04,0.3
1,0,1,1,0.11,0.85,0.005,0.1
1,0,1,2,0.13,0.75,0.015,0.2
1,0,1,3,0.15,0.65,0.025,0.1
EOF
cat >"$T/logs/b.csv" <<'EOF'
level,lambda_max,seed,epoch,accuracy,kappa,l_cam_l2sq,l_cam_l2
2,0,0,3,0.5,0.125,0.5,1
2,0,0,1,0.3,0.001,0.1,1
2,0,0,2,0.6,0.027,0.3,2
2,0,0,4,0.7,0.729,0.9,3
2,0,0,5,0.8,0.5,nan,3
EOF
"$EVAL" --correlate "$T/logs/a.csv" "$T/logs/b.csv" --out "$T/corr" >"$T/corr.out" 2>"$T/corr.err"
st=$?
missing=
for f in correlate.json correlate.csv report.html scatter_kappa.svg scatter_accuracy.svg \
    curves_accuracy.svg curves_kappa.svg curves_lcam.svg; do
    [ -s "$T/corr/$f" ] || missing="$missing $f"
done
if [ "$st" -eq 0 ] && [ -z "$missing" ] && [ "$(tail -n 1 "$T/corr.out")" = "report: $T/corr/report.html" ]; then
    ok "--correlate writes its outputs"
else
    fail "--correlate writes its outputs" "status $st, missing:$missing $(cat "$T/corr.err")"
fi
if grep -q '0.735' "$T/corr/report.html" && grep -q -- '-0.559' "$T/corr/report.html" &&
    grep -q '<svg' "$T/corr/report.html"; then
    ok "correlate report holds the paper's Table 2 and the charts"
else
    fail "correlate report holds the paper's Table 2 and the charts" "missing content"
fi
py "known correlations" "$T/corr/correlate.json" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["variant"] == "l_cam_l2sq"
ms = {m["name"]: m for m in d["models"]}
assert set(ms) == {"Level 1, lambda_max 0", "Level 2, lambda_max 0"}, list(ms)
a, b = ms["Level 1, lambda_max 0"], ms["Level 2, lambda_max 0"]
assert a["runs"] == 2 and a["points"] == 6 and a["points_used"] == 6
assert abs(a["pearson_kappa"] + 1) < 1e-12 and abs(a["spearman_kappa"] + 1) < 1e-12
assert abs(a["pearson_accuracy"] - 1) < 1e-12 and abs(a["spearman_accuracy"] - 1) < 1e-12
assert abs(a["mean_run_pearson_kappa"] + 1) < 1e-12
assert a["paper_table2_pearson_kappa"] == {"brain_mri": 0.735, "chest_xray": -0.559}
assert b["runs"] == 1 and b["points"] == 5 and b["points_used"] == 4
assert abs(b["spearman_kappa"] - 1) < 1e-12
# Pearson of (0.1,0.3,0.5,0.9) with their cubes
x = [0.1, 0.3, 0.5, 0.9]; y = [v ** 3 for v in x]
mx, my = sum(x) / 4, sum(y) / 4
r = sum((p - mx) * (q - my) for p, q in zip(x, y)) / (
    sum((p - mx) ** 2 for p in x) * sum((q - my) ** 2 for q in y)) ** 0.5
assert abs(b["pearson_kappa"] - r) < 1e-12 and r < 0.999, (b["pearson_kappa"], r)
assert b["sd_run_pearson_kappa"] is None and b["sd_run_pearson_kappa_reason"]
runs = [r["name"] for r in d["runs"]]
assert runs == ["Level 1, lambda_max 0, seed 0", "Level 1, lambda_max 0, seed 1",
                "Level 2, lambda_max 0, seed 0"], runs
assert d["paper_table2"]["chest_xray"] == [-0.559, -0.59, -0.096, 0.006, -0.325]
EOF
py "correlate.csv rows" "$T/corr/correlate.csv" <<'EOF'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
assert [r["kind"] for r in rows] == ["model", "model", "run", "run", "run"], rows
assert float(rows[0]["pearson_kappa"]) == -1.0 or abs(float(rows[0]["pearson_kappa"]) + 1) < 1e-8
assert rows[1]["points"] == "4" and rows[0]["paper_brain_mri"] == "0.735"
EOF
# curves are drawn in epoch order (b.csv rows are shuffled): the polyline's x increase
if grep -q 'polyline' "$T/corr/curves_accuracy.svg"; then
    ok "learning curves are polylines"
else
    fail "learning curves are polylines" "no polyline in curves_accuracy.svg"
fi

# a log without level/seed: one model per file; --variant picks the column
cat >"$T/logs/c.csv" <<'EOF'
epoch,accuracy,kappa,l_cam_l2
1,0.2,0.1,0.3
2,0.3,0.2,0.2
3,0.4,0.3,0.1
EOF
"$EVAL" --correlate "$T/logs/c.csv" --json >"$T/cj.out" 2>"$T/cj.err"
st=$?
if [ "$st" -eq 0 ] && [ -s "$T/logs/correlate/correlate.json" ] &&
    cmp -s "$T/cj.out" "$T/logs/correlate/correlate.json"; then
    ok "--correlate --json prints only correlate.json; default --out DIR/correlate"
else
    fail "--correlate --json prints only correlate.json; default --out DIR/correlate" \
        "status $st: $(cat "$T/cj.err")"
fi
py "per-file grouping and automatic l_cam column" "$T/cj.out" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["variant"] == "l_cam_l2", d["variant"]
assert len(d["models"]) == 1 and d["models"][0]["name"].endswith("c.csv")
assert abs(d["models"][0]["pearson_kappa"] + 1) < 1e-12
assert d["models"][0]["paper_table2_pearson_kappa"] is None
EOF
"$EVAL" --correlate "$T/logs/a.csv" --variant l_cam_l2 --out "$T/corr2" >/dev/null 2>&1
py "--variant selects the column" "$T/corr2/correlate.json" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["variant"] == "l_cam_l2"
assert d["models"][0]["pearson_kappa"] > -0.99
EOF

printf 'epoch,accuracy,l_cam_l2sq\n1,0.5,0.1\n' >"$T/logs/nokappa.csv"
printf 'epoch,accuracy,kappa\n1,0.5,0.1\n' >"$T/logs/nolcam.csv"
printf 'epoch,accuracy,kappa,l_cam_l2sq\n1,0.5,x,0.1\n' >"$T/logs/notnum.csv"
printf 'epoch,accuracy,kappa,l_cam_l2sq\n1,0.5\n' >"$T/logs/ragged.csv"
expect_fail "correlate: missing log" 1 "none.csv" \
    "$EVAL" --correlate "$T/logs/none.csv" --out "$T/cbad1"
expect_fail "correlate: no kappa column" 1 "nokappa.csv: no column 'kappa'" \
    "$EVAL" --correlate "$T/logs/nokappa.csv" --out "$T/cbad2"
expect_fail "correlate: no l_cam column" 1 "nolcam.csv: no L_CAM column" \
    "$EVAL" --correlate "$T/logs/nolcam.csv" --out "$T/cbad3"
expect_fail "correlate: not a number" 1 "notnum.csv" \
    "$EVAL" --correlate "$T/logs/notnum.csv" --out "$T/cbad4"
expect_fail "correlate: ragged row" 1 "ragged.csv" \
    "$EVAL" --correlate "$T/logs/ragged.csv" --out "$T/cbad5"
expect_fail "correlate: --variant absent" 1 "no column 'l_cam_x'" \
    "$EVAL" --correlate "$T/logs/a.csv" --variant l_cam_x --out "$T/cbad6"
expect_fail "correlate: no files" 2 "no log file" "$EVAL" --correlate
nout=0
for k in 1 2 3 4 5 6; do [ -e "$T/cbad$k" ] && nout=$((nout + 1)); done
if [ "$nout" -eq 0 ]; then ok "failed correlations write nothing"; else fail "failed correlations write nothing" "$nout dirs"; fi

# ---------------------------------------------------------------- with train
if [ -x "$TRAIN" ]; then
    "$TRAIN" --data synth:4:160 --size 16 --level 1,2 --lambda 0,50 --epochs 2 --batch 16 \
        --lr 3e-3 --t0 1 --t1 2 --limit-test 30 --out "$T/runs" --quiet >"$T/train.out" 2>&1
    st=$?
    if [ "$st" -eq 0 ]; then ok "train: 2 epochs, levels 1-2, lambda 0 and 50"; else
        fail "train: 2 epochs, levels 1-2, lambda 0 and 50" "status $st: $(tail -n 3 "$T/train.out")"; fi
    for run in L1_lam0 L1_lam50 L2_lam0 L2_lam50; do
        "$EVAL" --model "$T/runs/$run/checkpoint.safetensors" --bootstrap 20 --json \
            >"$T/$run.json" 2>"$T/$run.err"
        py "eval of $run reproduces train's last epoch exactly" "$T/$run.json" \
            "$T/runs/$run/log.csv" <<'EOF'
import csv, json, sys
m = json.load(open(sys.argv[1]))["models"][0]
last = list(csv.DictReader(open(sys.argv[2])))[-1]
assert last["epoch"] == "2" and m["epoch"] == 2
assert m["data"]["count"] == 30, m["data"]
got = {"val_ce": m["ce"], "accuracy": m["accuracy"], "kappa": m["kappa"],
       "l_cam_l2sq": m["l_cam"]["l2sq"]["value"], "l_cam_l2": m["l_cam"]["l2"]["value"],
       "l_cam_n": m["l_cam"]["l2sq"]["n_used"], "l_cam_classes": m["l_cam"]["l2sq"]["classes_used"]}
bad = []
for k, v in got.items():
    s = "nan" if v is None else "%.9g" % v
    if s != last[k]:
        bad.append("%s: log %s, eval %s" % (k, last[k], s))
assert not bad, "; ".join(bad)
EOF
    done
    "$EVAL" --model "$T/runs/L2_lam0/checkpoint.safetensors" \
        --model "$T/runs/L2_lam50/checkpoint.safetensors" --bootstrap 50 --out "$T/cmp" \
        >"$T/cmp.out" 2>&1
    if [ $? -eq 0 ] && [ "$(tail -n 1 "$T/cmp.out")" = "report: $T/cmp/report.html" ]; then
        ok "compare lambda 0 with lambda 50"
    else
        fail "compare lambda 0 with lambda 50" "$(tail -n 3 "$T/cmp.out")"
    fi
    "$EVAL" --correlate "$T"/runs/*/log.csv --out "$T/tc" >"$T/tc.out" 2>&1
    py "correlate train's logs (grouped by level and lambda)" "$T/tc/correlate.json" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
names = sorted(m["name"] for m in d["models"])
assert names == ["Level 1, lambda_max 0", "Level 1, lambda_max 50", "Level 2, lambda_max 0",
                 "Level 2, lambda_max 50"], names
assert all(m["points"] == 2 for m in d["models"])
EOF
else
    echo "  note: $TRAIN not built: train-then-eval check not run"
fi

finish
