"""tests/check_torch_models.py - the five model levels against PyTorch (DESIGN.md section 4:
"A model file (safetensors) written by PyTorch for these classes must load, and one written
here must load into PyTorch").

For each level the published PyTorch class (Model1..Model5, mirrored from
/work/shared/bench/torch_baseline.py, with the `_target_layer` duplicate attribute that makes
PyTorch register the target layer twice) is built with random weights, non-default BatchNorm
affine parameters and running statistics; its float32 state_dict is written as safetensors
(written by hand in tests/check_torch_load.py: 8-byte little-endian header length, JSON header, data).
The C tool build/tests/tool_load_state (tests/tool_load_state.c, found via $GC_TOOLS) loads
it into our model of that level (io/checkpoint), runs an eval-mode forward on a fixed input
written here, and writes the logits and its own state_dict. Checked, per level:

  full        file with features.*, _target_layer.* (duplicates) and classifier.*: C logits
              match PyTorch's (float32: 1e-4 relative; float64 reference: 1e-9)
  alias_only  only the _target_layer.* copy of the target layer (what safetensors'
              save_model keeps): same logits
  roundtrip   the state_dict C writes has PyTorch's keys in PyTorch's order (without the
              duplicates), each tensor bit-equal to the one loaded, loads into a fresh
              PyTorch model with load_state_dict(strict=True) (after adding the alias keys)
              and gives the same outputs
  conflict    _target_layer.* differing from features.<T>.*: the C tool must refuse it

Prints one line per case and `RESULT test_torch_models passed=P failed=F` (tests/run.sh).
Usage: python3 tests/check_torch_models.py [--tools DIR] [--tmp DIR] [--keep]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from collections import OrderedDict

import torch
import torch.nn as nn
from torch import Tensor


# ----------------------------------------------------------------------------
# Models: the published models.py, as in /work/shared/bench/torch_baseline.py
# (GradCAM base reduced to what matters for the state_dict: _target_layer).
# ----------------------------------------------------------------------------
class GradCAMBase(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self._target_layer = None

    def _register_target_layer(self, layer: nn.Module) -> None:
        self._target_layer = layer


class ResidualBlock(nn.Module):
    def __init__(self, in_ch: int, out_ch: int, stride: int = 1):
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv2d(in_ch, out_ch, kernel_size=3, stride=stride, padding=1),
            nn.BatchNorm2d(out_ch),
            nn.ReLU(),
            nn.Conv2d(out_ch, out_ch, kernel_size=3, padding=1),
            nn.BatchNorm2d(out_ch),
        )
        self.skip = (
            nn.Identity()
            if in_ch == out_ch and stride == 1
            else nn.Conv2d(in_ch, out_ch, 1, stride=stride)
        )
        self.relu = nn.ReLU()

    def forward(self, x: Tensor) -> Tensor:
        return self.relu(self.conv(x) + self.skip(x))


class SEBlock(nn.Module):
    def __init__(self, channels: int, reduction: int = 16):
        super().__init__()
        self.fc = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Linear(channels, channels // reduction),
            nn.ReLU(),
            nn.Linear(channels // reduction, channels),
            nn.Sigmoid(),
        )

    def forward(self, x: Tensor) -> Tensor:
        w = self.fc(x).view(x.size(0), -1, 1, 1)
        return x * w


class Model1(GradCAMBase):
    def __init__(self, num_classes: int, num_channels: int) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(num_channels, 16, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(16, 32, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
        )
        self.classifier = nn.Sequential(
            nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(), nn.Linear(32, num_classes)
        )
        self._register_target_layer(self.features[-2])

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.features(x))


class Model2(GradCAMBase):
    def __init__(self, num_classes: int, num_channels: int) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(num_channels, 32, 3, padding=1),
            nn.BatchNorm2d(32),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1),
            nn.BatchNorm2d(64),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(64, 128, 3, padding=1),
            nn.BatchNorm2d(128),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(128, 256, 3, padding=1),
            nn.BatchNorm2d(256),
            nn.ReLU(),
        )
        self.classifier = nn.Sequential(
            nn.AdaptiveAvgPool2d((1, 1)),
            nn.Flatten(),
            nn.Dropout(0.5),
            nn.Linear(256, num_classes),
        )
        self._register_target_layer(self.features[-2])

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.features(x))


class Model3(GradCAMBase):
    def __init__(self, num_classes: int, num_channels: int) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(num_channels, 32, 3, padding=1),
            nn.BatchNorm2d(32),
            nn.ReLU(),
            nn.MaxPool2d(2),
            ResidualBlock(32, 64),
            nn.MaxPool2d(2),
            ResidualBlock(64, 128),
            nn.MaxPool2d(2),
            ResidualBlock(128, 256),
        )
        self.classifier = nn.Sequential(
            nn.AdaptiveAvgPool2d((1, 1)),
            nn.Flatten(),
            nn.Dropout(0.5),
            nn.Linear(256, num_classes),
        )
        self._register_target_layer(self.features[-1])

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.features(x))


class Model4(GradCAMBase):
    def __init__(self, num_classes: int, num_channels: int) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(num_channels, 32, 3, padding=1),
            nn.BatchNorm2d(32),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1),
            nn.BatchNorm2d(64),
            nn.ReLU(),
            SEBlock(64),
            nn.MaxPool2d(2),
            nn.Conv2d(64, 128, 3, padding=1),
            nn.BatchNorm2d(128),
            nn.ReLU(),
            SEBlock(128),
            nn.MaxPool2d(2),
            nn.Conv2d(128, 256, 3, padding=1),
            nn.BatchNorm2d(256),
            nn.ReLU(),
            SEBlock(256),
        )
        self.classifier = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Dropout(0.5),
            nn.Linear(256, num_classes),
        )
        self._register_target_layer(self.features[-1])

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.features(x))


class Model5(GradCAMBase):
    def __init__(self, num_classes: int, num_channels: int) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(num_channels, 64, 3, padding=1),
            nn.BatchNorm2d(64),
            nn.ReLU(),
            nn.MaxPool2d(2),
            ResidualBlock(64, 128),
            nn.MaxPool2d(2),
            ResidualBlock(128, 256),
            nn.MaxPool2d(2),
            ResidualBlock(256, 512),
        )
        self.classifier = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Dropout(0.6),
            nn.Linear(512, num_classes),
        )
        self._register_target_layer(self.features[-1])

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.features(x))


MODELS = {1: Model1, 2: Model2, 3: Model3, 4: Model4, 5: Model5}
TARGET = {1: 4, 2: 13, 3: 8, 4: 17, 5: 8}  # features index of _target_layer
# (in_c, height, width, classes, batch) per level: odd and non-square sizes exercise the
# floor of the max-pools; more than one channel and class count.
CONFIG = {
    1: (1, 28, 28, 2, 3),
    2: (1, 30, 26, 2, 3),
    3: (2, 28, 28, 3, 3),
    4: (1, 33, 29, 4, 3),
    5: (3, 24, 24, 2, 2),
}
ALIAS = "_target_layer."

# ----------------------------------------------------------------------------
# safetensors: the by-hand reader and writer of tests/check_torch_load.py
# (struct + json + numpy; independent of the C code and of the safetensors package)
# ----------------------------------------------------------------------------
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from check_torch_load import read_safetensors, write_safetensors  # noqa: E402


st_write = write_safetensors


def st_read(path: str) -> "OrderedDict[str, Tensor]":
    return read_safetensors(path)[0]   # (tensors, metadata)


# ----------------------------------------------------------------------------
# the check
# ----------------------------------------------------------------------------
class Report:
    def __init__(self) -> None:
        self.passed = 0
        self.failed = 0

    def ok(self, name: str, detail: str = "") -> None:
        self.passed += 1
        print(f"  ok   {name}" + (f" ({detail})" if detail else ""), flush=True)

    def fail(self, name: str, why: str) -> None:
        self.failed += 1
        print(f"  FAIL {name}: {why}", flush=True)


def make_model(level: int, seed: int) -> nn.Module:
    """Random weights, BatchNorm with non-default affine parameters and running stats."""
    in_c, h, w, classes, n = CONFIG[level]
    torch.manual_seed(seed)
    m = MODELS[level](classes, in_c)
    with torch.no_grad():
        for mod in m.modules():
            if isinstance(mod, nn.BatchNorm2d):
                mod.weight.uniform_(0.5, 1.5)
                mod.bias.uniform_(-0.3, 0.3)
    m.train()
    with torch.no_grad():
        for _ in range(2):  # running_mean/var and num_batches_tracked move away from defaults
            m(torch.randn(4, in_c, h, w))
    m.eval()
    return m


def run_tool(tool: str, level: int, state: str, xfile: str, out_logits: str, out_state: str):
    in_c, h, w, classes, _ = CONFIG[level]
    argv = [tool, str(level), str(in_c), str(h), str(w), str(classes), state, xfile, out_logits,
            out_state]
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return p.returncode, p.stdout.strip()


def rel_err(a: Tensor, b: Tensor) -> float:
    a, b = a.double(), b.double()
    return float((a - b).abs().max() / max(float(b.abs().max()), 1e-30))


def compare_logits(rep: Report, name: str, got: Tensor, ref32: Tensor, ref64: Tensor) -> None:
    if tuple(got.shape) != tuple(ref32.shape):
        rep.fail(name, f"logits shape {tuple(got.shape)}, expected {tuple(ref32.shape)}")
        return
    e32, e64 = rel_err(got, ref32), rel_err(got, ref64)
    if e32 <= 1e-4 and e64 <= 1e-9:
        rep.ok(name, f"max rel err vs float32 torch {e32:.2e}, vs float64 torch {e64:.2e}")
    else:
        rep.fail(name, f"logits differ: rel err vs float32 torch {e32:.3e} (tol 1e-4), "
                       f"vs float64 torch {e64:.3e} (tol 1e-9)")


def check_level(rep: Report, level: int, tool: str, tmp: str) -> None:
    in_c, h, w, classes, n = CONFIG[level]
    T = TARGET[level]
    tag = f"level{level}"
    model = make_model(level, 1000 + level)
    sd = model.state_dict()  # features.*, _target_layer.* (levels 2-5), classifier.*
    n_alias = sum(k.startswith(ALIAS) for k in sd)
    if (level == 1) != (n_alias == 0):
        rep.fail(f"{tag} torch state_dict", f"{n_alias} _target_layer keys")
    torch.manual_seed(7 + level)
    x = torch.randn(n, in_c, h, w)
    with torch.no_grad():
        ref32 = model(x)
        ref64 = model.double()(x.double())
        model.float()

    xfile = os.path.join(tmp, f"{tag}_x.safetensors")
    st_write(xfile, OrderedDict(x=x))

    # 1. the full state_dict, with the duplicates
    full = os.path.join(tmp, f"{tag}_full.safetensors")
    st_write(full, OrderedDict(sd))
    out_l = os.path.join(tmp, f"{tag}_full_logits.safetensors")
    out_s = os.path.join(tmp, f"{tag}_full_state.safetensors")
    rc, msg = run_tool(tool, level, full, xfile, out_l, out_s)
    if rc != 0:
        rep.fail(f"{tag} full", f"tool exit {rc}: {msg}")
        return
    compare_logits(rep, f"{tag} full", st_read(out_l)["logits"], ref32, ref64)

    # 2. only the _target_layer copy (safetensors' save_model); level 1 has none
    if n_alias:
        prefix = f"features.{T}."
        only = OrderedDict((k, v) for k, v in sd.items() if not k.startswith(prefix))
        path = os.path.join(tmp, f"{tag}_alias.safetensors")
        st_write(path, only)
        out_l2 = os.path.join(tmp, f"{tag}_alias_logits.safetensors")
        out_s2 = os.path.join(tmp, f"{tag}_alias_state.safetensors")
        rc, msg = run_tool(tool, level, path, xfile, out_l2, out_s2)
        if rc != 0:
            rep.fail(f"{tag} alias_only", f"tool exit {rc}: {msg}")
        else:
            compare_logits(rep, f"{tag} alias_only", st_read(out_l2)["logits"], ref32, ref64)

    # 3. our state_dict back into PyTorch
    ours = st_read(out_s)
    want_keys = [k for k in sd if not k.startswith(ALIAS)]
    problems = []
    if list(ours.keys()) != want_keys:
        missing = [k for k in want_keys if k not in ours]
        extra = [k for k in ours if k not in sd]
        problems.append(f"keys differ (missing {missing[:3]}, extra {extra[:3]}, "
                        f"or another order)")
    for k in want_keys:
        if k not in ours:
            continue
        a, b = ours[k], sd[k]
        if tuple(a.shape) != tuple(b.shape):
            problems.append(f"{k}: shape {tuple(a.shape)} vs {tuple(b.shape)}")
        elif b.dtype == torch.int64:
            if a.dtype != torch.int64 or not torch.equal(a, b):
                problems.append(f"{k}: {a.dtype} {a.tolist()} vs {b.tolist()}")
        elif not torch.equal(a.to(b.dtype), b) or not torch.equal(a.double(), b.double()):
            problems.append(f"{k}: values differ (max {float((a.double() - b.double()).abs().max()):.3g})")
    if problems:
        rep.fail(f"{tag} roundtrip", "; ".join(problems[:4]))
    else:
        fresh = MODELS[level](classes, in_c)
        load = OrderedDict((k, v.to(sd[k].dtype)) for k, v in ours.items())
        for k in list(load):
            if k.startswith(f"features.{T}."):
                load[ALIAS + k[len(f"features.{T}."):]] = load[k]
        try:
            fresh.load_state_dict(load, strict=True)
        except RuntimeError as e:
            rep.fail(f"{tag} roundtrip", f"load_state_dict(strict=True): {str(e)[:300]}")
        else:
            fresh.eval()
            with torch.no_grad():
                y = fresh(x)
            if torch.equal(y, ref32):
                rep.ok(f"{tag} roundtrip", f"{len(ours)} tensors, strict load, identical outputs")
            else:
                rep.fail(f"{tag} roundtrip", f"outputs differ by {rel_err(y, ref32):.3g}")

    # 4. a duplicate that disagrees with features.<T> must be refused
    if n_alias:
        bad = OrderedDict(sd)
        key = next(k for k in bad if k.startswith(ALIAS) and bad[k].is_floating_point())
        bad[key] = bad[key].clone()
        bad[key].view(-1)[0] += 1.0
        path = os.path.join(tmp, f"{tag}_conflict.safetensors")
        st_write(path, bad)
        rc, msg = run_tool(tool, level, path, xfile, os.path.join(tmp, f"{tag}_c_l.safetensors"),
                           os.path.join(tmp, f"{tag}_c_s.safetensors"))
        if rc != 0 and msg:
            rep.ok(f"{tag} conflict", f"refused: {msg.splitlines()[-1][:120]}")
        else:
            rep.fail(f"{tag} conflict", f"tool exit {rc} on a conflicting {key}: {msg[:200]}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--tools", default=os.environ.get("GC_TOOLS",
                                                      os.path.join(here, "..", "build", "tests")))
    ap.add_argument("--tmp", default=None, help="work directory (default: a fresh temp dir)")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    ap.add_argument("--levels", default="1,2,3,4,5")
    args = ap.parse_args()
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    tool = os.path.join(args.tools, "tool_load_state")
    rep = Report()
    print(f"torch {torch.__version__}, tool {tool}", flush=True)
    if not os.access(tool, os.X_OK):
        rep.fail("tool", f"{tool} not found or not executable")
        print(f"RESULT test_torch_models passed={rep.passed} failed={rep.failed}")
        return 1
    tmp = args.tmp or tempfile.mkdtemp(prefix="gc-torch-models.")
    os.makedirs(tmp, exist_ok=True)
    try:
        for level in [int(s) for s in args.levels.split(",") if s]:
            try:
                check_level(rep, level, tool, tmp)
            except Exception as e:  # a crash in one level is a failure, not the end of the run
                rep.fail(f"level{level}", f"{type(e).__name__}: {e}")
    finally:
        if not args.keep and args.tmp is None:
            shutil.rmtree(tmp, ignore_errors=True)
    print(f"RESULT test_torch_models passed={rep.passed} failed={rep.failed}")
    return 0 if rep.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
