"""Hostile checkpoints (issue 15): a small file that claims a huge network, bad weight values and dtypes, metadata
nested deep or out of range, control characters for ``igo model info``, and a FIFO named ``*.safetensors``. Each
must give a CheckpointError naming the path and the problem: no memory blow-up, no hang, no traceback."""

from __future__ import annotations

import contextlib
import io
import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import igo.nets.checkpoint as ckpt
from igo.nets.checkpoint import CheckpointError, load_checkpoint, load_state, read_metadata, save_checkpoint
from igo.nets.config import get_config
from igo.nets.models import build_model

from .checkpoint_helpers import header, rewrite

torch.set_num_threads(1)


def net(name: str = "zero-tiny", size: int = 5, seed: int = 0):
    torch.manual_seed(seed)
    return build_model(get_config(name), size)


@pytest.fixture
def zero(tmp_path) -> Path:
    return save_checkpoint(tmp_path / "zero.safetensors", net(), step=3, notes="ok")


def fails(path: Path, *fragments: str, reader=load_checkpoint) -> str:
    with pytest.raises(CheckpointError) as info:
        reader(path)
    message = str(info.value)
    assert str(path) in message, message
    for fragment in fragments:
        assert fragment in message, message
    assert "\n" not in message, message
    return message


# --- 1: a small file claiming a huge network --------------------------------------------------------------------------

# Loads the files under an address-space limit of 1 GiB above what the interpreter already maps: building the
# network that the header claims before checking the tensors dies there (it grew to 7.4 GB before the fix).
LIMITED_LOAD = r"""
import resource, sys
import torch
torch.set_num_threads(1)
from igo.nets.checkpoint import CheckpointError, load_checkpoint

def mapped():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024

limit = mapped() + (1 << 30)
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
for path in sys.argv[1:]:
    try:
        load_checkpoint(path)
        print("loaded", path)
    except CheckpointError as e:
        print("CheckpointError:", e)
"""

HUGE_CLAIMS = [
    ({"blocks": 100000, "channels": 4096}, "blocks"),
    ({"blocks": 1000, "channels": 4096}, "blocks"),
    ({"blocks": 20, "channels": 1024}, "parameters"),
    ({"blocks": 1, "channels": 8, "value_hidden": 60000}, "parameters"),
    ({"blocks": 1, "channels": 10**12}, "channels"),
]


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc to bound the address space")
def test_small_file_claiming_a_huge_network_fails_fast(tmp_path, zero):
    paths = []
    for i, (config, _) in enumerate(HUGE_CLAIMS):
        paths.append(rewrite(zero, tmp_path / f"huge{i}.safetensors", meta=lambda d, c=config: d["config"].update(c)))
        assert paths[-1].stat().st_size < 100_000
    r = subprocess.run([sys.executable, "-c", LIMITED_LOAD, *map(str, paths)], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    lines = r.stdout.splitlines()
    assert len(lines) == len(paths), (r.stdout, r.stderr[-2000:])
    for line, path, (_, fragment) in zip(lines, paths, HUGE_CLAIMS, strict=True):
        assert line.startswith("CheckpointError:") and str(path) in line and fragment in line, line


def test_huge_claim_is_refused_before_any_model_is_built(tmp_path, zero, monkeypatch):
    built = []
    real = ckpt.build_model

    def spy(config, board_size):
        built.append(torch.empty(0).device.type)  # the default device the model is built on
        return real(config, board_size)

    monkeypatch.setattr(ckpt, "build_model", spy)
    bad = rewrite(zero, tmp_path / "wide.safetensors", meta=lambda d: d["config"].update(channels=1024))
    fails(bad, "parameters")
    assert "cpu" not in built  # only weightless (meta) models, if any
    bad = rewrite(zero, tmp_path / "deep.safetensors", meta=lambda d: d["config"].update(blocks=900))
    fails(bad, "blocks")
    assert "cpu" not in built


def test_parameter_count_in_metadata_must_match(tmp_path, zero):
    bad = rewrite(zero, tmp_path / "count.safetensors", meta=lambda d: d.update(parameters=d["parameters"] + 1))
    fails(bad, "parameters")


# --- 6a: bad weight values and dtypes ---------------------------------------------------------------------------------


def poke(name: str, value: float, index=0):
    def edit(t):
        t[name].view(-1)[index] = value

    return edit


@pytest.mark.parametrize(
    "edit, tensor, fragment",
    [
        (poke("stem.0.weight", float("nan")), "stem.0.weight", "non-finite"),
        (poke("policy_fc.bias", float("inf"), 3), "policy_fc.bias", "non-finite"),
        (poke("value_fc2.weight", float("-inf")), "value_fc2.weight", "non-finite"),
        (poke("tower.0.conv1.weight", 1e30, 5), "tower.0.conv1.weight", "1e+06"),
        (poke("tower.0.bn1.running_mean", -2e6), "tower.0.bn1.running_mean", "1e+06"),
        (poke("stem.1.running_var", -0.5), "stem.1.running_var", "negative"),
        (poke("stem.1.running_var", float("nan")), "stem.1.running_var", "non-finite"),
    ],
)
def test_bad_weight_values_are_refused(tmp_path, zero, edit, tensor, fragment):
    bad = rewrite(zero, tmp_path / "bad.safetensors", tensors=edit)
    fails(bad, tensor, fragment)
    fails(bad, tensor, fragment, reader=load_state)


def test_bad_values_in_half_precision_are_refused(tmp_path, zero):
    def edit(t):
        t["stem.0.weight"] = t["stem.0.weight"].to(torch.bfloat16)
        t["stem.0.weight"][0, 0, 0, 0] = float("nan")

    fails(rewrite(zero, tmp_path / "bad.safetensors", tensors=edit), "stem.0.weight", "non-finite")


def test_bound_is_documented_and_inclusive(tmp_path, zero):
    bound = getattr(ckpt, "MAX_ABS_WEIGHT", None)
    assert bound == 1e6
    ok = rewrite(zero, tmp_path / "edge.safetensors", tensors=poke("stem.0.weight", bound))
    model, _ = load_checkpoint(ok)
    assert model.state_dict()["stem.0.weight"].view(-1)[0] == bound
    fails(rewrite(zero, tmp_path / "over.safetensors", tensors=poke("stem.0.weight", -1.0001e6)), "stem.0.weight")


@pytest.mark.parametrize(
    "tensor, dtype",
    [
        ("stem.0.weight", torch.bool),
        ("stem.0.weight", torch.float64),
        ("policy_fc.weight", torch.int32),
        ("policy_fc.weight", torch.int64),
        ("policy_fc.weight", torch.uint8),
        ("value_fc1.weight", torch.float8_e4m3fn),
        ("stem.1.num_batches_tracked", torch.float32),
        ("stem.1.num_batches_tracked", torch.int32),
        ("stem.1.num_batches_tracked", torch.bool),
    ],
)
def test_unexpected_dtypes_are_refused(tmp_path, zero, tensor, dtype):
    def edit(t):
        t[tensor] = t[tensor].to(dtype)

    fails(rewrite(zero, tmp_path / "dtype.safetensors", tensors=edit), tensor, "dtype")


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_loads_losslessly_as_float32(tmp_path, zero, dtype):
    def edit(t):
        for k, v in t.items():
            if v.is_floating_point():
                t[k] = v.to(dtype)

    path = rewrite(zero, tmp_path / "half.safetensors", tensors=edit)
    stored, _ = load_state(path)
    model, _ = load_checkpoint(path)
    for k, v in model.state_dict().items():
        if stored[k].is_floating_point():
            assert v.dtype == torch.float32 and torch.equal(v, stored[k].float()), k


# --- 8a: metadata nested deep, of the wrong type or out of range; control characters in `igo model info` -------------


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


PLACE = "PLACEHOLDER"


@pytest.mark.parametrize(
    "field, raw",
    [
        (None, nested(100_000)),
        ("extra", nested(100_000)),
        ("extra", '{"a": ' + nested(500) + "}"),
        ("notes", nested(100_000)),
        ("step", "9" * 100_000),
        ("config", nested(100_000)),
        (None, "[1, 2]"),
        (None, '"x"'),
        (None, "null"),
        (None, "1e400"),
    ],
)
def test_hostile_metadata_json(tmp_path, zero, field, raw):
    if field is not None:
        d = header(zero)
        d[field] = PLACE
        raw = json.dumps(d).replace(json.dumps(PLACE), raw)
    bad = rewrite(zero, tmp_path / "meta.safetensors", raw=raw)
    fails(bad, reader=read_metadata)
    fails(bad)


@pytest.mark.parametrize(
    "edit, fragment",
    [
        (lambda d: d.update(step=-1), "step"),
        (lambda d: d.update(step=2**70), "step"),
        (lambda d: d.update(parameters=-5), "parameters"),
        (lambda d: d.update(format_version=0), "format_version"),
        (lambda d: d.update(format_version=-3), "format_version"),
        (lambda d: d.update(extra=[1, 2]), "extra"),
        (lambda d: d.update(notes=None), "notes"),
        (lambda d: d.update(created=5), "created"),
        (lambda d: d["config"].update(blocks=2**80), "blocks"),
        (lambda d: d["config"].update({"\x1b[2Jfield": 1}), "\\x1b"),
    ],
)
def test_metadata_out_of_range(tmp_path, zero, edit, fragment):
    bad = rewrite(zero, tmp_path / "range.safetensors", meta=edit)
    message = fails(bad, fragment, reader=read_metadata)
    assert "\x1b" not in message


def test_unexpected_tensor_names_are_escaped(tmp_path, zero):
    bad = rewrite(zero, tmp_path / "names.safetensors", tensors=lambda t: t.update({"\x1b[31mevil": torch.zeros(1)}))
    message = fails(bad, "unexpected tensor", "evil")
    assert "\x1b" not in message


def model_info(*args: str) -> tuple[int, str, str]:
    from igo.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main(["model", "info", *args])
    return rc, out.getvalue(), err.getvalue()


def test_model_info_escapes_control_characters(tmp_path, zero):
    evil = "\x1b[31mred\x1b[0m \x07bell\rover\nline \u202eevil \x9bcsi"

    def edit(d):
        d.update(notes=evil, parent=evil, created=evil, igo_version=evil, extra={evil: evil, "n": [evil]})
        d["config"]["name"] = evil
        d["config_name"] = evil

    bad = rewrite(zero, tmp_path / "ansi.safetensors", meta=edit)
    for args in ((str(bad),), (str(bad), "--json")):
        rc, out, err = model_info(*args)
        assert rc == 0, err
        for ch in ("\x1b", "\x07", "\r", "\u202e", "\x9b"):
            assert ch not in out, (args, out)
        assert "red" in out and "evil" in out
    rc, out, _ = model_info(str(bad))
    assert len(out.splitlines()) == len(model_info(str(zero))[1].splitlines()) + 2  # two extra.* lines, no more
    assert "\\x1b[31mred" in out


def test_model_info_of_a_valid_checkpoint_is_unchanged(zero):
    rc, out, err = model_info(str(zero))
    assert rc == 0 and err == ""
    assert "zero-tiny (zero)" in out and "notes        ok" in out and "step         3" in out


# --- 5a: a FIFO named *.safetensors -----------------------------------------------------------------------------------


FIFO_READ = r"""
import sys
from igo.cli import main
from igo.nets.checkpoint import CheckpointError, load_checkpoint, load_state, read_metadata
for reader in (read_metadata, load_state, load_checkpoint):
    try:
        reader(sys.argv[1])
    except CheckpointError as e:
        print(reader.__name__, e)
print("rc", main(["model", "info", sys.argv[1]]))
"""


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_fifo_is_refused_without_hanging(tmp_path):
    # in a subprocess with a timeout: without the fix, open() of the FIFO waits for a writer (holding the GIL)
    fifo = tmp_path / "net.safetensors"
    os.mkfifo(fifo)
    r = subprocess.run([sys.executable, "-c", FIFO_READ, str(fifo)], capture_output=True, text=True, timeout=60)
    lines = r.stdout.splitlines()
    assert r.returncode == 0 and len(lines) == 4, (r.stdout, r.stderr[-2000:])
    for line in lines[:3]:
        assert str(fifo) in line and "is a FIFO, not a regular file" in line, line
    assert lines[3] == "rc 1"  # igo model info: exit status 1 and one line on stderr
    assert r.stderr.strip().splitlines() == [f"igo model: error: checkpoint {fifo} is a FIFO, not a regular file"]


# --- a seeded fuzzer: mutated checkpoints give a model with sane weights or a CheckpointError, nothing else ----------

HOSTILE_VALUES = [-1, 0, 2**31, 2**63, 2**70, 10**30, 1.5, float("nan"), "", "x" * 300, "\x1b[2J", None, True, [], {},
                  [[[[1]]]], {"a": {"b": {"c": 1}}}]


def mutate(rng, data: bytes, d: dict) -> bytes | dict:
    """One random mutation: bytes for a damaged file, or a dict for edited metadata."""
    choice = rng.randrange(6)
    if choice == 0:  # flip a random bit anywhere
        b = bytearray(data)
        i = rng.randrange(len(b))
        b[i] ^= 1 << rng.randrange(8)
        return bytes(b)
    if choice == 1:  # flip a bit in the header (8-byte length then JSON)
        n = int.from_bytes(data[:8], "little")
        b = bytearray(data)
        i = rng.randrange(min(len(b), 8 + n))
        b[i] ^= 1 << rng.randrange(8)
        return bytes(b)
    if choice == 2:  # truncate or extend
        cut = rng.randrange(len(data) + 64)
        return data[:cut] if cut < len(data) else data + os.urandom(cut - len(data))
    d = json.loads(json.dumps(d))
    if choice == 3:  # a metadata field gets a hostile value
        d[rng.choice(sorted(d))] = rng.choice(HOSTILE_VALUES)
    elif choice == 4:  # a config field gets a hostile value
        d["config"][rng.choice(sorted(d["config"]))] = rng.choice(HOSTILE_VALUES)
    else:  # a config int scaled up or down
        key = rng.choice([k for k, v in d["config"].items() if type(v) is int] or ["blocks"])
        d["config"][key] = rng.choice([0, 1, 2, 3, 7, 64, 900, 1000, 1001, 4096, 65536, 65537, 10**9])
    return d


def fuzz_checkpoints(tmp_path: Path, seed: int, rounds: int) -> dict[str, int]:
    rng = random.Random(seed)
    counts = {"loaded": 0, "refused": 0}
    sources = [save_checkpoint(tmp_path / f"{n}.safetensors", net(n, 5)) for n in ("zero-tiny", "lee-policy-tiny")]
    for r in range(rounds):
        src = rng.choice(sources)
        data = src.read_bytes()
        m = mutate(rng, data, header(src))
        path = tmp_path / f"fuzz{r % 4}.safetensors"
        if isinstance(m, bytes):
            path.write_bytes(m)
        else:
            rewrite(src, path, raw=json.dumps(m))
        try:
            model, meta = load_checkpoint(path)
        except CheckpointError as e:
            assert str(path) in str(e) and "\n" not in str(e) and "\x1b" not in str(e), str(e)
            counts["refused"] += 1
            continue
        for k, v in model.state_dict().items():
            if v.is_floating_point():
                assert torch.isfinite(v).all() and v.abs().max() <= 1e6, k
        counts["loaded"] += 1
    return counts


def test_fuzzed_checkpoints(tmp_path):
    counts = fuzz_checkpoints(tmp_path, seed=15, rounds=500)
    assert counts["refused"] > 250 and counts["loaded"] > 20, counts


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("IGO_LONG_FUZZ") != "1", reason="set IGO_LONG_FUZZ=1 for the long checkpoint fuzz")
def test_fuzzed_checkpoints_long(tmp_path):
    counts = fuzz_checkpoints(tmp_path, seed=1515, rounds=5000)
    assert counts["refused"] > 2000, counts
