"""tests/crosscheck.py - one regularised training step, C against PyTorch, tensor by tensor
(DESIGN.md section 3, "Against PyTorch": same weights, same batch; logits, CAMs, L_CAM and
every parameter gradient in both modes, create_graph=True vs without).

For each model level (1-5), each target (the paper's and one earlier one: 1, 9, 6, 16, 6 for
Levels 1-5, so the head holds conv / BatchNorm / SE / residual blocks), each CAM gradient mode
(exact: autograd.grad(create_graph=True); detached: without) and each distance (l2sq, l2):

  1. the published model class (tests/check_torch_models.py, mirrored from the published
     models.py) is built with random weights from a seed, BatchNorm affine parameters and
     running statistics randomised, the classifier weight scaled so that the logits differ
     between samples by about 1, dropout p = 0, in float64 (--real double) or float32
     (--real float); its state_dict (with the published code's `_target_layer.*` duplicates)
     goes to a safetensors file;
  2. a batch x (N=8, C, H, W), y: the labels are the model's own train-mode predictions after
     a shift of the classifier bias chosen so that every class is predicted at least twice
     with a clear margin, then one sample's label is changed (a wrong sample: in CE, not in
     B+'); Levels 1 and 4 have a class with a single sample (left out of C');
  3. the C program (`EXE --dump-step OUT --model ... --dropout 0`, cam/dump.h) runs one step;
  4. the same step in PyTorch, written like the published loss_func.py: train mode, forward
     hook at features[T], CE mean; per class in sorted order with >= 2 correctly classified
     samples one autograd.grad of sum_{n in B_c+} z[n,c] w.r.t. A (create_graph=exact), rows
     B_c+; Grad-CAM, min-max normalised (eps 1e-8); fresh EMA = the class's batch mean,
     detached; l2sq = ||cam - ref||^2, l2 = ||cam - ref|| per sample; loss_cam = sum /
     (count * H' * W'); loss = CE + lambda * loss_cam; backward;
  5. every tensor of the dump is compared with the PyTorch step computed in float64: the
     largest relative difference max|a - b| / max(max|b|, tiny) per tensor must be <= 1e-9
     (double build) or 1e-4 (float build). For the float build the float64 step runs on the
     file's float32 values (exactly what the C program read), so the figure is the C float
     build's own error; the same step in PyTorch float32 is compared too and its figures
     printed, but not judged: PyTorch's float32 error is of the same size as ours (on a
     classifier bias gradient that is a difference of nearly equal terms it is 3x ours).
     Exceptions: cam_index and num_batches_tracked must be equal; the gradient of a
     convolution bias that feeds a train-mode BatchNorm is exactly 0 in truth, so it is
     measured against the largest gradient of that convolution's weight instead.

Also checked (--real double): at the paper targets exact and detached differ only in the
classifier weight's gradient (docs/path-through-G.md), in PyTorch and in C; and a perturbed
copy of one dumped gradient is reported as a failure (the check can fail).

Prints one line per case (worst tensor and its relative difference), details of any failure,
a per-level summary, and `RESULT <name> passed=P failed=F`; exit status 1 on any failure.

Usage: /usr/bin/python3 tests/crosscheck.py --exe EXE --real double|float
           [--quick] [--levels 1,2] [--tmp DIR] [--keep] [--name NAME] [--verbose]
  --quick   the `make test` subset: every level at the paper target (exact, l2sq), detached
            l2 at Level 2, exact at each earlier target of Levels 3 and 4, the perturbation
            self-test.
"""

from __future__ import annotations

import argparse
import copy
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import OrderedDict

try:
    import numpy  # noqa: F401  (check_torch_load needs it)
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except ImportError:
    print("crosscheck: no torch (/usr/bin/python3 -c 'import torch, numpy' failed)")
    sys.exit(2)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from check_torch_load import read_safetensors, write_safetensors  # noqa: E402
from check_torch_models import MODELS, TARGET as PAPER_TARGET, Report as ModelsReport  # noqa: E402

EARLY_TARGET = {1: 1, 2: 9, 3: 6, 4: 16, 5: 6}
# (in_c, height, width, classes) per level: small inputs, non-square and 2 channels somewhere
CONFIG = {
    1: (1, 20, 20, 3),
    2: (1, 24, 24, 2),
    3: (2, 24, 20, 3),
    4: (1, 25, 23, 3),
    5: (1, 24, 24, 2),
}
# class counts of the labels (sum N = 8); a count of 1 leaves that class out of C'
COUNTS = {1: (3, 4, 1), 2: (4, 4), 3: (3, 3, 2), 4: (4, 3, 1), 5: (5, 3)}
N = 8
LAMBDA = 1.5
EPS = 1e-8
TOL = {"double": 1e-9, "float": 1e-4}
TINY = 1e-300
MARGIN = 1e-2  # smallest top-1 minus top-2 logit gap accepted in the batch (logits ~ 1)


# ----------------------------------------------------------------------------------------------
# model and batch
# ----------------------------------------------------------------------------------------------
def make_model(level: int, dtype: torch.dtype, seed: int) -> nn.Module:
    in_c, _, _, classes = CONFIG[level]
    torch.manual_seed(seed)
    m = MODELS[level](classes, in_c)
    with torch.no_grad():
        for mod in m.modules():
            if isinstance(mod, nn.BatchNorm2d):
                mod.weight.uniform_(0.5, 1.5)
                mod.bias.uniform_(-0.3, 0.3)
                mod.running_mean.uniform_(-0.2, 0.2)
                mod.running_var.uniform_(0.5, 2.0)
                mod.num_batches_tracked.fill_(3)
            if isinstance(mod, nn.Dropout):
                mod.p = 0.0
    return m.to(dtype)


def train_logits(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Train-mode logits without touching the model's buffers."""
    saved = {k: v.clone() for k, v in model.state_dict().items()}
    model.train()
    with torch.no_grad():
        z = model(x)
    model.load_state_dict(saved)
    return z


def make_batch(level: int, model: nn.Module, dtype: torch.dtype, seed: int, all_wrong: bool = False):
    """x and labels: predictions made to follow COUNTS by a bias shift, one label changed
    (all_wrong: every label is another class than the prediction, so B+' is empty)."""
    in_c, h, w, classes = CONFIG[level]
    g = torch.Generator().manual_seed(seed)
    x = (torch.rand(N, in_c, h, w, generator=g, dtype=torch.float64) * 2 - 1).to(dtype)
    lin = model.classifier[-1]
    z = train_logits(model, x).double()
    # logits of random weights hardly vary between samples: scale the classifier weight so
    # that they do (about 1 logit), which a margin needs
    with torch.no_grad():
        lin.weight *= 1.0 / max(float((z - z.mean(0)).std()), 1e-6)
    z = train_logits(model, x).double()
    bias = lin.bias
    base = -z.mean(0)
    spread = float((z - z.mean(0)).abs().max()) + 1e-3
    want = tuple(sorted(COUNTS[level]))
    for attempt in range(20000):
        shift = base + (torch.rand(classes, generator=g, dtype=torch.float64) - 0.5) * 2 * spread
        zz = z + shift
        pred = zz.argmax(1)
        counts = tuple(int((pred == c).sum()) for c in range(classes))
        top2 = zz.topk(2, dim=1).values
        if tuple(sorted(counts)) == want and float((top2[:, 0] - top2[:, 1]).min()) > MARGIN:
            break
    else:
        raise RuntimeError(f"level {level}: no bias shift gives class counts {COUNTS[level]}")
    with torch.no_grad():
        bias += shift.to(dtype)
    y = pred.clone()
    if all_wrong:
        return x, (pred + 1) % classes
    # one wrong label: a sample of the largest class gets the next class's label
    big = max(range(classes), key=lambda c: counts[c])
    i = int((pred == big).nonzero()[0])
    y[i] = (big + 1) % classes
    return x, y


# ----------------------------------------------------------------------------------------------
# the step in PyTorch (the published loss_func.py / grad_cam.py, with create_graph switched)
# ----------------------------------------------------------------------------------------------
def torch_step(model: nn.Module, x: torch.Tensor, y: torch.Tensor, target: int, exact: bool,
               distance: str, lam: float):
    model.train()
    model.zero_grad(set_to_none=True)
    acts = {}
    hook = model.features[target].register_forward_hook(lambda mod, inp, out: acts.__setitem__("A", out))
    try:
        z = model(x)
    finally:
        hook.remove()
    A = acts["A"]
    hh, ww = A.shape[2], A.shape[3]
    ce = F.cross_entropy(z, y)
    pred = z.argmax(dim=1)
    loss_sum = torch.zeros((), dtype=z.dtype)
    count = 0
    cams, index = [], []
    for c in y.unique():  # sorted, as the published code
        c = int(c)
        idx = ((y == c) & (pred == c)).nonzero(as_tuple=False).squeeze(1)
        if idx.numel() < 2:
            continue
        score = z[idx].gather(1, y[idx].unsqueeze(1)).sum()
        grads = torch.autograd.grad(score, A, retain_graph=True, create_graph=exact)[0][idx]
        weights = grads.mean(dim=(2, 3), keepdim=True)
        cam = F.relu((weights * A[idx]).sum(dim=1, keepdim=True))
        cmin = cam.amin(dim=(2, 3), keepdim=True)
        cmax = cam.amax(dim=(2, 3), keepdim=True)
        cam = (cam - cmin) / (cmax - cmin + EPS)
        ref = cam.mean(dim=0, keepdim=True).detach()  # fresh EMA: the batch mean
        diff = (cam - ref).flatten(start_dim=1)
        if distance == "l2sq":
            d = (diff * diff).sum(dim=1)
        else:
            d = torch.norm(diff, p=2, dim=1)
        loss_sum = loss_sum + d.sum()
        count += d.numel()
        cams.append(cam.detach()[:, 0])
        index.append(idx)
    loss_cam = loss_sum / (count * hh * ww) if count else torch.zeros((), dtype=z.dtype)
    loss = ce + lam * loss_cam
    loss.backward()
    out = OrderedDict()
    out["logits"] = z.detach().clone()
    out["cam"] = torch.cat(cams) if cams else torch.zeros(0, hh, ww, dtype=z.dtype)
    out["cam_index"] = torch.cat(index) if index else torch.zeros(0, dtype=torch.long)
    out["loss_ce"] = ce.detach().clone()
    out["loss_cam"] = loss_cam.detach().clone()
    out["loss"] = loss.detach().clone()
    for name, p in model.named_parameters():
        out["grad." + name] = p.grad.detach().clone() if p.grad is not None else torch.zeros_like(p)
    for name, b in model.named_buffers():
        if name.startswith("_target_layer."):
            continue
        out["buffer." + name] = b.detach().clone()
    return out


def bias_feeding_bn(model: nn.Module) -> dict:
    """{conv bias name: conv weight name} for each Conv2d followed directly by a BatchNorm2d
    inside a Sequential: in train mode their bias's true gradient is exactly 0."""
    out = {}
    for prefix, mod in model.named_modules():
        if not isinstance(mod, nn.Sequential) or prefix.startswith("_target_layer"):
            continue
        kids = list(mod.named_children())
        for (n1, a), (_, b) in zip(kids, kids[1:]):
            if isinstance(a, nn.Conv2d) and isinstance(b, nn.BatchNorm2d):
                base = f"{prefix}.{n1}" if prefix else n1
                out[f"grad.{base}.bias"] = f"grad.{base}.weight"
    return out


# ----------------------------------------------------------------------------------------------
# comparison
# ----------------------------------------------------------------------------------------------
def rel_diff(a: torch.Tensor, b: torch.Tensor, scale=None) -> float:
    a, b = a.double(), b.double()
    if a.numel() == 0:
        return 0.0
    den = float(b.abs().max()) if scale is None else scale
    return float((a - b).abs().max()) / max(den, TINY)


class Report(ModelsReport):
    """ok/fail counting of tests/check_torch_models.py, plus the worst differences per case."""

    def __init__(self, verbose: bool) -> None:
        super().__init__()
        self.verbose = verbose
        self.summary = OrderedDict()  # (level, target kind, mode) -> worst rel diff
        self.summary32 = OrderedDict()  # the same against PyTorch float32 (float run)


def compare(got: "OrderedDict[str, torch.Tensor]", ref: "OrderedDict[str, torch.Tensor]",
            tol: float, zero_bias: dict):
    """-> (list of (tensor, rel diff, note)), list of problems)."""
    rows, problems = [], []
    for name in ref:
        if name not in got:
            problems.append(f"{name}: missing from the dump")
    for name in got:
        if name not in ref:
            problems.append(f"{name}: in the dump but not in the PyTorch step")
    for name, r in ref.items():
        if name not in got:
            continue
        a = got[name]
        if tuple(a.shape) != tuple(r.shape):
            problems.append(f"{name}: shape {tuple(a.shape)} vs PyTorch {tuple(r.shape)}")
            continue
        if not r.is_floating_point():
            same = torch.equal(a.long(), r.long())
            rows.append((name, 0.0 if same else float("inf"), "exact"))
            if not same:
                problems.append(f"{name}: {a.tolist()} vs PyTorch {r.tolist()}")
            continue
        if not torch.isfinite(a).all():
            problems.append(f"{name}: not finite in the dump")
            rows.append((name, float("inf"), ""))
            continue
        note = ""
        scale = None
        if name in zero_bias:
            scale = float(ref[zero_bias[name]].abs().max())
            note = "true value 0: vs the weight gradient's max"
        d = rel_diff(a, r, scale)
        rows.append((name, d, note))
        if not d <= tol:
            problems.append(f"{name}: largest relative difference {d:.3e} > {tol:g} "
                            f"(max|C| {float(a.double().abs().max()):.3e}, "
                            f"max|torch| {float(r.double().abs().max()):.3e})")
    return rows, problems


def run_c(exe: str, out: str, model_file: str, level: int, batch: str, target: int, mode: str,
          distance: str, lam: float) -> None:
    argv = [exe, "--dump-step", out, "--model", model_file, "--level", str(level), "--batch", batch,
            "--lambda", repr(lam), "--distance", distance, "--cam-grad", mode, "--dropout", "0",
            "--target", str(target), "--seed", "7"]
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({p.returncode}): {p.stdout.strip()}")


def differing(a: "OrderedDict[str, torch.Tensor]", b: "OrderedDict[str, torch.Tensor]",
              tol: float) -> list:
    """Gradient tensors where a and b differ by more than tol relative."""
    out = []
    for k in a:
        if k.startswith("grad.") and rel_diff(a[k], b[k], float(b[k].abs().max()) or 1.0) > tol:
            out.append(k)
    return out


def classifier_weight(level: int) -> str:
    return "grad.classifier.2.weight" if level == 1 else "grad.classifier.3.weight"


def check_level(rep: Report, args, level: int, tmp: str, cases, all_wrong: bool = False) -> None:
    dtype = torch.float64 if args.real == "double" else torch.float32
    tol = TOL[args.real]
    t0 = time.time()
    model = make_model(level, dtype, seed=100 + level)
    x, y = make_batch(level, model, dtype, seed=200 + level, all_wrong=all_wrong)
    tag = "-nosel" if all_wrong else ""
    model_file = os.path.join(tmp, f"model{level}{tag}.safetensors")
    batch_file = os.path.join(tmp, f"batch{level}{tag}.safetensors")
    write_safetensors(model_file, model.state_dict())  # with the _target_layer.* duplicates
    write_safetensors(batch_file, OrderedDict([("x", x), ("y", y)]))
    state0 = {k: v.clone() for k, v in model.state_dict().items()}
    zero_bias = bias_feeding_bn(model)
    # the reference: PyTorch in float64 on the file's values (for the float run, the float32
    # values upcast); the float run is also compared with PyTorch in float32, for information
    if args.real == "double":
        pm, px = model, x
    else:
        pm, px = copy.deepcopy(model).double(), x.double()
    pstate = {k: v.clone() for k, v in pm.state_dict().items()}
    dumps = {}
    for target, mode, distance in cases:
        kind = "paper" if target == PAPER_TARGET[level] else "early"
        name = f"L{level} T={target} {mode} {distance} {args.real}" + (", every label wrong (S = 0)" if all_wrong else "")
        out = os.path.join(tmp, f"dump{level}{tag}_{target}_{mode}_{distance}.safetensors")
        try:
            run_c(args.exe, out, model_file, level, batch_file, target, mode, distance, LAMBDA)
            got, meta = read_safetensors(out)
        except Exception as exc:  # noqa: BLE001 - reported as a failed case
            rep.fail(name, str(exc))
            continue
        pm.load_state_dict(pstate)
        ref = torch_step(pm, px, y, target, mode == "exact", distance, LAMBDA)
        dumps[(target, mode, distance)] = (got, ref)
        rows, problems = compare(got, ref, tol, zero_bias)
        vs32 = ""
        if pm is not model:
            model.load_state_dict(state0)
            ref32 = torch_step(model, x, y, target, mode == "exact", distance, LAMBDA)
            rows32, problems32 = compare(got, ref32, tol, zero_bias)
            w32 = max(rows32, key=lambda r: r[1]) if rows32 else ("-", 0.0, "")
            vs32 = f"; vs PyTorch float32: worst {w32[0]} {w32[1]:.2e}"
            if problems32:
                vs32 += " (above the tolerance: information only, see docs/CROSSCHECK.md)"
            key32 = (level, "paper" if target == PAPER_TARGET[level] else "early", mode)
            rep.summary32[key32] = max(rep.summary32.get(key32, 0.0), w32[1])
        want_meta = {"level": str(level), "target": str(target), "cam_grad": mode,
                     "distance": distance, "real": args.real, "n_selected": str(len(ref["cam_index"]))}
        for k, v in want_meta.items():
            if meta.get(k) != v:
                problems.append(f"metadata {k} = {meta.get(k)!r}, expected {v!r}")
        worst = max(rows, key=lambda r: r[1]) if rows else ("-", 0.0, "")
        key = (level, kind, mode)
        rep.summary[key] = max(rep.summary.get(key, 0.0), worst[1])
        if args.verbose or problems:
            for tname, d, note in rows:
                print(f"       {tname:<42} {d:10.3e}" + (f"  ({note})" if note else ""))
        detail = (f"{len(rows)} tensors, S={len(ref['cam_index'])}, worst {worst[0]} {worst[1]:.2e}, "
                  f"loss_cam {float(ref['loss_cam']):.4e}{vs32}")
        if problems:
            rep.fail(name, "; ".join(problems[:6]) + (f"; ... {len(problems)} problems" if len(problems) > 6 else ""))
        else:
            rep.ok(name, detail)
    # exact and detached differ only in the classifier weight's gradient at the paper target
    if args.real == "double":
        for distance in ("l2sq", "l2"):
            pe = dumps.get((PAPER_TARGET[level], "exact", distance))
            pd = dumps.get((PAPER_TARGET[level], "detached", distance))
            if not pe or not pd:
                continue
            name = f"L{level} paper target {distance}: exact and detached differ only in the classifier weight"
            want = [classifier_weight(level)]
            c_diff = differing(pe[0], pd[0], 1e-9)
            t_diff = differing(pe[1], pd[1], 1e-9)
            if c_diff == want and t_diff == want:
                rep.ok(name, f"C and PyTorch: {want[0]}")
            else:
                rep.fail(name, f"C differs in {c_diff}, PyTorch in {t_diff}")
        early = [(k, v) for k, v in dumps.items() if k[0] != PAPER_TARGET[level] and k[1] == "exact"]
        for (target, _, distance), (got, _) in early:
            other = dumps.get((target, "detached", distance))
            if other:
                diff = differing(got, other[0], 1e-9)
                big = max((rel_diff(got[k], other[0][k]) for k in diff), default=0.0)
                print(f"       note: L{level} T={target} {distance}: exact and detached differ in "
                      f"{len(diff)} gradient tensors, by up to {big:.2e} relative (the path through G)")
    # how much the regulariser moves the gradients (so that a wrong term could not hide)
    for (target, mode, distance), (_, ref) in dumps.items():
        if mode != "exact" or distance != "l2sq" or args.quick:
            continue
        pm.load_state_dict(pstate)
        ce_only = torch_step(pm, px, y, target, True, distance, 0.0)
        moved = max(rel_diff(ref[k], ce_only[k]) for k in ref if k.startswith("grad."))
        print(f"       note: L{level} T={target}: lambda = {LAMBDA} changes the CE gradients by up to "
              f"{moved:.2e} relative (largest over tensors)")
    print(f"       [level {level}: {time.time() - t0:.1f} s]", flush=True)


def selftest_perturbed(rep: Report, args, tmp: str) -> None:
    """The comparison must fail when one dumped gradient is off by 10 x tol in one element."""
    level = 1
    dtype = torch.float64 if args.real == "double" else torch.float32
    tol = TOL[args.real]
    model = make_model(level, dtype, seed=100 + level)
    x, y = make_batch(level, model, dtype, seed=200 + level)
    model_file = os.path.join(tmp, "st_model.safetensors")
    batch_file = os.path.join(tmp, "st_batch.safetensors")
    write_safetensors(model_file, model.state_dict())
    write_safetensors(batch_file, OrderedDict([("x", x), ("y", y)]))
    out = os.path.join(tmp, "st_dump.safetensors")
    name = f"self-test: a gradient perturbed by 10 x tol is detected ({args.real})"
    try:
        run_c(args.exe, out, model_file, level, batch_file, PAPER_TARGET[level], "exact", "l2sq", LAMBDA)
        got, _ = read_safetensors(out)
    except Exception as exc:  # noqa: BLE001
        rep.fail(name, str(exc))
        return
    ref = torch_step(copy.deepcopy(model).double(), x.double(), y, PAPER_TARGET[level], True, "l2sq",
                     LAMBDA)
    _, clean = compare(got, ref, tol, bias_feeding_bn(model))
    victim = "grad.features.0.weight"
    g = got[victim].clone()
    flat = g.view(-1)
    k = int(flat.abs().argmax())
    flat[k] += 10 * tol * float(ref[victim].abs().max())
    got[victim] = g
    _, bad = compare(got, ref, tol, bias_feeding_bn(model))
    if not clean and len(bad) == 1 and bad[0].startswith(victim):
        rep.ok(name, bad[0])
    else:
        rep.fail(name, f"unperturbed problems {clean}, perturbed problems {bad}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--exe", required=True, help="train program or tests/tool_dump_step")
    ap.add_argument("--real", choices=("double", "float"), required=True,
                    help="the precision of EXE's build (PyTorch runs in the same)")
    ap.add_argument("--quick", action="store_true", help="the make-test subset")
    ap.add_argument("--levels", default="1,2,3,4,5")
    ap.add_argument("--tmp", default=None)
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--name", default="crosscheck")
    ap.add_argument("--verbose", action="store_true", help="every tensor's relative difference")
    args = ap.parse_args()
    torch.set_num_threads(1)
    levels = [int(s) for s in args.levels.split(",") if s]
    tmp = args.tmp or tempfile.mkdtemp(prefix="gc-crosscheck-")
    os.makedirs(tmp, exist_ok=True)
    rep = Report(args.verbose)
    print(f"crosscheck: {args.exe} ({args.real}) against torch {torch.__version__}, "
          f"tolerance {TOL[args.real]:g}, lambda {LAMBDA}, N = {N}", flush=True)
    try:
        for level in levels:
            if args.quick:
                cases = [(PAPER_TARGET[level], "exact", "l2sq")]
                if level == 2:
                    cases.append((PAPER_TARGET[level], "detached", "l2"))
                if level in (3, 4):
                    cases.append((EARLY_TARGET[level], "exact", "l2sq"))
            else:
                cases = [(t, m, d) for t in (PAPER_TARGET[level], EARLY_TARGET[level])
                         for m in ("exact", "detached") for d in ("l2sq", "l2")]
            check_level(rep, args, level, tmp, cases)
        if 2 in levels:
            check_level(rep, args, 2, tmp, [(PAPER_TARGET[2], "exact", "l2sq")], all_wrong=True)
        selftest_perturbed(rep, args, tmp)
    finally:
        if not args.keep and args.tmp is None:
            shutil.rmtree(tmp, ignore_errors=True)
    if rep.summary:
        print("  summary: largest relative difference over all tensors (per level, target, mode)")
        for (level, kind, mode), d in rep.summary.items():
            extra = rep.summary32.get((level, kind, mode))
            print(f"    level {level} {kind:<5} target {mode:<8} {d:.2e}"
                  + (f"   (vs PyTorch float32: {extra:.2e})" if extra is not None else ""))
    print(f"RESULT {args.name} passed={rep.passed} failed={rep.failed}")
    return 0 if rep.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
