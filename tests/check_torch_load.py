"""tests/check_torch_load.py - safetensors files between PyTorch and io/checkpoint, independent
of the five models (DESIGN.md section 4: "A model file (safetensors) written by PyTorch for
these classes must load, and one written here must load into PyTorch").

The safetensors format is written and read by hand here (struct + json + numpy), so the
`safetensors` package is not needed: 8-byte little-endian header length N, N bytes of JSON
({name: {dtype, shape, data_offsets}}, optional "__metadata__"), space-padded to a multiple of
8, then the little-endian data buffer.

Library (import this file; the model checks reuse it):
    write_safetensors(path, tensors, metadata=None)    tensors: ordered {name: torch.Tensor}
    read_safetensors(path) -> (tensors, metadata)      validates like io/safetensors.c
    save_module(module, path, dtype=torch.float32, drop_prefixes=())
                                                       a module's state_dict (e.g. drop
                                                       "features.4." to keep only the
                                                       "_target_layer." copy, as safetensors'
                                                       save_model does)
    load_into_module(module, tensors, aliases=None, ignore_prefixes=())
                                                       load_state_dict(strict=True); keys the
                                                       module has under an alias prefix
                                                       ("_target_layer." -> "features.T.") are
                                                       filled from the other name, and back

Command line:
    selftest            Python only: round trip, strict load, alias-only file, bad files
    write-fixture DIR   the Fixture module's float32 state_dict -> DIR/torch.safetensors (with
                        the _target_layer.* duplicates) and DIR/torch_alias.safetensors
                        (features.1.* dropped, as safetensors' save_model leaves it)
    check-fixture DIR   DIR/ours_f64.safetensors and DIR/ours_f32.safetensors (written by the C
                        test test_checkpoint:test_torch_fixture from torch.safetensors) load with
                        strict=True into a fresh Fixture and equal the original bit for bit
    run --bin EXE       all of the above in a temp folder, running EXE (build/tests/
                        test_checkpoint) in between; prints `RESULT test_torch_load ...`
Without torch (or numpy) it prints "skipped: no torch" and exits 0.
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import tempfile
from collections import OrderedDict

try:
    import numpy as np
    import torch
    import torch.nn as nn
except ImportError:  # pragma: no cover - depends on the machine
    print("skipped: no torch")
    sys.exit(0)

HEADER_MAX = 100_000_000
ALIAS_PREFIX = "_target_layer."

# safetensors dtype -> (numpy little-endian dtype, torch dtype); BF16 goes through int16 bits.
DTYPES = OrderedDict(
    [
        ("F64", ("<f8", torch.float64)),
        ("F32", ("<f4", torch.float32)),
        ("F16", ("<f2", torch.float16)),
        ("BF16", ("<i2", torch.bfloat16)),
        ("I64", ("<i8", torch.int64)),
        ("I32", ("<i4", torch.int32)),
        ("I16", ("<i2", torch.int16)),
        ("I8", ("<i1", torch.int8)),
        ("U8", ("<u1", torch.uint8)),
        ("BOOL", ("<u1", torch.bool)),
    ]
)
TORCH_TO_ST = {v[1]: k for k, v in DTYPES.items()}


def tensor_bytes(t: torch.Tensor) -> tuple[str, bytes]:
    """(safetensors dtype, little-endian bytes) of a CPU tensor."""
    t = t.detach().cpu().contiguous()
    st = TORCH_TO_ST.get(t.dtype)
    if st is None:
        raise ValueError(f"dtype {t.dtype} has no safetensors name here")
    if t.dtype == torch.bfloat16:
        arr = t.view(torch.int16).numpy()
    else:
        arr = t.numpy()
    return st, arr.astype(DTYPES[st][0], copy=False).tobytes()


def write_safetensors(path: str, tensors: "OrderedDict[str, torch.Tensor]", metadata=None) -> None:
    """Header in the given order, data in the same order (space padding to 8 bytes)."""
    header = OrderedDict()
    if metadata:
        header["__metadata__"] = OrderedDict((str(k), str(v)) for k, v in metadata.items())
    blobs = []
    offset = 0
    for name, t in tensors.items():
        st, data = tensor_bytes(t)
        header[name] = {"dtype": st, "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * ((8 - len(text) % 8) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


class FormatError(ValueError):
    pass


def read_safetensors(path: str):
    """-> (OrderedDict name -> tensor in header order, metadata dict). Raises FormatError."""
    with open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 8:
        raise FormatError(f"{path}: too short")
    (n,) = struct.unpack("<Q", raw[:8])
    if n > HEADER_MAX or 8 + n > len(raw):
        raise FormatError(f"{path}: bad header length {n}")

    def no_dups(pairs):
        d = OrderedDict()
        for k, v in pairs:
            if k in d:
                raise FormatError(f"{path}: duplicate key {k!r}")
            d[k] = v
        return d

    try:
        text = raw[8 : 8 + n].decode("utf-8")
        if not text.startswith("{"):
            raise FormatError(f"{path}: header does not start with '{{'")
        header = json.loads(text, object_pairs_hook=no_dups)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FormatError(f"{path}: bad header: {exc}") from None
    metadata = header.pop("__metadata__", {}) or {}
    buf = raw[8 + n :]
    spans = []
    out = OrderedDict()
    for name, info in header.items():
        if set(info) != {"dtype", "shape", "data_offsets"}:
            raise FormatError(f"{path}: {name}: fields {sorted(info)}")
        if info["dtype"] not in DTYPES:
            raise FormatError(f"{path}: {name}: dtype {info['dtype']} not supported here")
        npdt, tdt = DTYPES[info["dtype"]]
        shape = info["shape"]
        begin, end = info["data_offsets"]
        numel = 1
        for s in shape:
            if not isinstance(s, int) or s < 0:
                raise FormatError(f"{path}: {name}: bad shape {shape}")
            numel *= s
        size = np.dtype(npdt).itemsize
        if not (0 <= begin <= end <= len(buf)) or end - begin != numel * size:
            raise FormatError(f"{path}: {name}: bad data_offsets {info['data_offsets']}")
        spans.append((begin, end, name))
        arr = np.frombuffer(buf, dtype=npdt, count=numel, offset=begin).reshape(shape)
        t = torch.from_numpy(arr.astype(arr.dtype.newbyteorder("="), copy=True))
        if tdt == torch.bfloat16:
            t = t.view(torch.bfloat16)
        elif tdt == torch.bool:
            t = t != 0
        out[name] = t
    pos = 0
    for begin, end, name in sorted(spans):
        if begin != pos:
            raise FormatError(f"{path}: {name}: data overlaps or leaves a gap")
        pos = end
    if pos != len(buf):
        raise FormatError(f"{path}: tensors cover {pos} of {len(buf)} data bytes")
    return out, metadata


def save_module(module: nn.Module, path: str, dtype=torch.float32, drop_prefixes=(), metadata=None) -> None:
    """A module's state_dict, floating tensors cast to dtype; keys under drop_prefixes left out."""
    tensors = OrderedDict()
    for k, v in module.state_dict().items():
        if any(k.startswith(p) for p in drop_prefixes):
            continue
        tensors[k] = v.to(dtype) if v.is_floating_point() else v
    write_safetensors(path, tensors, metadata)


def load_into_module(module: nn.Module, tensors, aliases=None, ignore_prefixes=()) -> None:
    """load_state_dict(strict=True) from a file's tensors. aliases maps a prefix the module has
    twice (e.g. "_target_layer.") to the other prefix ("features.4."); either copy in the file
    fills both. Values must agree when the file has both. Keys under ignore_prefixes are
    skipped (e.g. "train."); any other unknown key fails."""
    aliases = aliases or {}
    expected = list(module.state_dict().keys())
    given = OrderedDict((k, v) for k, v in tensors.items() if not any(k.startswith(p) for p in ignore_prefixes))
    sd = OrderedDict()
    for k in expected:
        if k in given:
            sd[k] = given[k]
            continue
        for a, b in aliases.items():
            other = None
            if k.startswith(a):
                other = b + k[len(a) :]
            elif k.startswith(b):
                other = a + k[len(b) :]
            if other is not None and other in given:
                sd[k] = given[other]
                break
    for a, b in aliases.items():
        for k in list(given):
            if k.startswith(a) and (b + k[len(a) :]) in given:
                if not torch.equal(given[k].to(torch.float64), given[b + k[len(a) :]].to(torch.float64)):
                    raise ValueError(f"{k} and {b + k[len(a):]} differ")
    unused = [k for k in given if k not in sd and not any(k.startswith(a) for a in aliases)]
    if unused:
        raise ValueError(f"unexpected keys: {unused}")
    module.load_state_dict(sd, strict=True)


# ----------------------------------------------------------------------------------------------
# The fixture: a published-code-like module that registers its target layer twice.
# Its names are the ones tests/test_checkpoint.c builds by hand.
# ----------------------------------------------------------------------------------------------
FIXTURE_TARGET = 1
FIXTURE_ALIASES = {ALIAS_PREFIX: f"features.{FIXTURE_TARGET}."}


class Fixture(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.BatchNorm2d(2), nn.ReLU(), nn.AdaptiveAvgPool2d(1))
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(2, 3))
        self._target_layer = self.features[FIXTURE_TARGET]

    def forward(self, x):
        return self.classifier(self.features(x))


def fixture(seed: int) -> Fixture:
    torch.manual_seed(seed)
    m = Fixture()
    with torch.no_grad():
        bn = m.features[1]
        bn.weight.uniform_(0.5, 1.5)
        bn.bias.uniform_(-0.5, 0.5)
        bn.running_mean.normal_()
        bn.running_var.uniform_(0.5, 2.0)
        bn.num_batches_tracked.fill_(7 + seed)
    return m.eval()


def same_state(a: nn.Module, b: nn.Module) -> list:
    """Names whose tensors differ (dtype and bits)."""
    sa, sb = a.state_dict(), b.state_dict()
    bad = [k for k in sa if k not in sb or sa[k].dtype != sb[k].dtype or not torch.equal(sa[k], sb[k])]
    return bad + [k for k in sb if k not in sa]


# ----------------------------------------------------------------------------------------------
# Cases
# ----------------------------------------------------------------------------------------------
class Report:
    def __init__(self) -> None:
        self.passed = 0
        self.failed = 0

    def case(self, name: str, fn) -> None:
        try:
            why = fn()
        except Exception as exc:  # a case fails, the run goes on
            why = f"{type(exc).__name__}: {exc}"
        if why:
            self.failed += 1
            print(f"  FAIL {name}: {why}")
        else:
            self.passed += 1
            print(f"  ok   {name}")
        sys.stdout.flush()


def selftest_cases(rep: Report, tmp: str) -> None:
    path = os.path.join(tmp, "self.safetensors")

    def roundtrip():
        ref = fixture(0)
        save_module(ref, path, metadata={"level": "2"})
        tensors, meta = read_safetensors(path)
        if meta != {"level": "2"}:
            return f"metadata {meta}"
        if list(tensors) != list(ref.state_dict()):
            return "key order differs from state_dict"
        if tensors["features.1.num_batches_tracked"].dtype != torch.int64:
            return "num_batches_tracked is not I64"
        other = fixture(1)
        load_into_module(other, tensors, FIXTURE_ALIASES)
        bad = same_state(ref, other)
        return f"differ: {bad}" if bad else None

    def alias_only():
        ref = fixture(0)
        save_module(ref, path, drop_prefixes=(f"features.{FIXTURE_TARGET}.",))
        tensors, _ = read_safetensors(path)
        if any(k.startswith(f"features.{FIXTURE_TARGET}.") for k in tensors):
            return "features.1.* still present"
        other = fixture(2)
        load_into_module(other, tensors, FIXTURE_ALIASES)
        bad = same_state(ref, other)
        return f"differ: {bad}" if bad else None

    def strict_rejects():
        ref = fixture(0)
        sd = OrderedDict(ref.state_dict())
        sd["extra.weight"] = torch.zeros(1)
        write_safetensors(path, sd)
        try:
            load_into_module(fixture(1), read_safetensors(path)[0], FIXTURE_ALIASES)
            return "an unknown key was accepted"
        except ValueError:
            pass
        sd.pop("extra.weight")
        sd.pop("classifier.1.bias")
        write_safetensors(path, sd)
        try:
            load_into_module(fixture(1), read_safetensors(path)[0], FIXTURE_ALIASES)
            return "a missing key was accepted"
        except RuntimeError:
            return None

    def bad_files():
        save_module(fixture(0), path)
        raw = open(path, "rb").read()
        for name, data in [
            ("truncated", raw[:-3]),
            ("huge header length", struct.pack("<Q", 1 << 60) + raw[8:]),
            ("trailing data", raw + b"\0" * 8),
        ]:
            with open(path, "wb") as f:
                f.write(data)
            try:
                read_safetensors(path)
                return f"{name}: accepted"
            except FormatError:
                pass
        return None

    rep.case("selftest_roundtrip", roundtrip)
    rep.case("selftest_alias_only", alias_only)
    rep.case("selftest_strict_rejects", strict_rejects)
    rep.case("selftest_bad_files", bad_files)


def write_fixture(d: str) -> None:
    ref = fixture(0)
    save_module(ref, os.path.join(d, "torch.safetensors"))
    save_module(ref, os.path.join(d, "torch_alias.safetensors"), drop_prefixes=(f"features.{FIXTURE_TARGET}.",))


def check_fixture_cases(rep: Report, d: str) -> None:
    ref = fixture(0)
    names = [k for k in ref.state_dict() if not k.startswith(ALIAS_PREFIX)]

    def check(fname: str, want: str):
        def run():
            tensors, _ = read_safetensors(os.path.join(d, fname))
            if list(tensors) != names:
                return f"keys {list(tensors)} != PyTorch's order {names}"
            header_dtypes = {k: v.dtype for k, v in tensors.items()}
            if header_dtypes["features.1.num_batches_tracked"] != torch.int64:
                return "num_batches_tracked not I64"
            if header_dtypes["features.0.weight"] != want:
                return f"weights stored as {header_dtypes['features.0.weight']}, expected {want}"
            other = fixture(3)
            load_into_module(other, tensors, FIXTURE_ALIASES)
            bad = same_state(ref, other)
            if bad:
                return f"differ from PyTorch's original: {bad}"
            x = torch.randn(2, 1, 5, 5, generator=torch.Generator().manual_seed(4))
            with torch.no_grad():
                if not torch.equal(ref(x), other(x)):
                    return "outputs differ"
            return None

        return run

    rep.case("fixture_ours_f64_loads_strict", check("ours_f64.safetensors", torch.float64))
    rep.case("fixture_ours_f32_loads_strict", check("ours_f32.safetensors", torch.float32))


def run_all(exe: str) -> int:
    rep = Report()
    with tempfile.TemporaryDirectory(prefix="gc-torch-load-") as tmp:
        selftest_cases(rep, tmp)
        rep.case("fixture_write", lambda: write_fixture(tmp))

        def c_side():
            env = dict(os.environ, GC_FIXTURE_DIR=tmp)
            res = subprocess.run([exe, "test_torch_fixture"], env=env, capture_output=True, text=True, timeout=120)
            if res.returncode != 0 or "RESULT" not in res.stdout or "passed=1 failed=0" not in res.stdout:
                return f"{exe} test_torch_fixture failed (status {res.returncode}):\n{res.stdout}{res.stderr}"
            return None

        rep.case("fixture_c_loads_torch_files", c_side)
        check_fixture_cases(rep, tmp)
    print(f"RESULT test_torch_load passed={rep.passed} failed={rep.failed}")
    return 1 if rep.failed else 0


def main(argv) -> int:
    if len(argv) >= 1 and argv[0] == "selftest":
        rep = Report()
        with tempfile.TemporaryDirectory(prefix="gc-torch-load-") as tmp:
            selftest_cases(rep, tmp)
        print(f"RESULT check_torch_load_selftest passed={rep.passed} failed={rep.failed}")
        return 1 if rep.failed else 0
    if len(argv) == 2 and argv[0] == "write-fixture":
        write_fixture(argv[1])
        return 0
    if len(argv) == 2 and argv[0] == "check-fixture":
        rep = Report()
        check_fixture_cases(rep, argv[1])
        return 1 if rep.failed else 0
    if len(argv) == 3 and argv[0] == "run" and argv[1] == "--bin":
        return run_all(argv[2])
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
