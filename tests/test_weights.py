"""Tests of nets/weights.py (model <-> numpy weights) and nets/device.py (device and dtype resolution)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from igo.nets.config import get_config
from igo.nets.device import resolve_device, resolve_dtype
from igo.nets.models import build_model
from igo.nets.weights import load_numpy_weights, model_to_numpy, state_mismatch

torch.set_num_threads(1)


def net(seed: int, name: str = "zero-tiny"):
    torch.manual_seed(seed)
    return build_model(get_config(name), 5)


def test_round_trip_keeps_dtypes_and_copies():
    a, b = net(0), net(1)
    a.train()
    with torch.no_grad():
        a(torch.rand(2, a.config.input_planes, 5, 5))  # move the BatchNorm statistics and counters
    w = model_to_numpy(a)
    assert set(w) == set(a.state_dict())
    assert all(v.dtype == np.float32 for k, v in w.items() if not k.endswith("num_batches_tracked"))
    assert all(v.dtype == np.int64 for k, v in w.items() if k.endswith("num_batches_tracked"))
    for v in w.values():
        v.flags.writeable = False  # as Ray hands them out
    load_numpy_weights(b, w)
    for k, v in a.state_dict().items():
        assert torch.equal(b.state_dict()[k], v), k
    w = model_to_numpy(a)
    for v in w.values():
        v[...] = 0  # copies: the model is untouched
    assert any(bool(t.abs().sum() > 0) for t in a.state_dict().values())


def test_mismatches_are_named_and_leave_the_model_alone():
    a, b = net(0), net(1)
    w = model_to_numpy(a)
    before = {k: v.clone() for k, v in b.state_dict().items()}
    assert state_mismatch(b, w) is None
    cases = [
        ({k: v for k, v in w.items() if k != "policy_fc.bias"}, "missing tensor.*policy_fc.bias"),
        ({**w, "extra.weight": np.zeros(3, np.float32)}, "unexpected tensor.*extra.weight"),
        ({**w, "policy_fc.bias": np.zeros(3, np.float32)}, r"policy_fc.bias has shape \[3\]"),
    ]
    for bad, match in cases:
        with pytest.raises(ValueError, match=match):
            load_numpy_weights(b, bad)
    with pytest.raises(ValueError, match="missing"):
        load_numpy_weights(net(0, "lee-policy-tiny"), w)  # another architecture
    for k, v in b.state_dict().items():
        assert torch.equal(v, before[k]), k


def test_resolve_device_and_dtype():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA"):
            resolve_device("cuda")
    with pytest.raises(RuntimeError):
        resolve_device("gpu7")
    assert resolve_dtype("fp32", torch.device("cpu")) == torch.float32
    assert resolve_dtype("auto", torch.device("cpu")) in (torch.float32, torch.bfloat16)
    with pytest.raises(ValueError, match="unknown dtype"):
        resolve_dtype("fp8", torch.device("cpu"))
