"""A network's weights as plain numpy arrays, the form in which they travel to self-play and game actors.

:func:`model_to_numpy` copies a model's ``state_dict`` to CPU numpy arrays (floating-point tensors as float32, integer
buffers such as BatchNorm's ``num_batches_tracked`` in their own dtype); :func:`load_numpy_weights` copies such a dict
back into a model of the same architecture, checking every name and shape first (:func:`state_mismatch`, which
checkpoint loading uses too, through :func:`shape_mismatch` on the shapes in a file's header).
:func:`value_problem` says why a tensor's values cannot be a trained network's: non-finite values, values beyond
:data:`MAX_ABS_WEIGHT` in magnitude (1e6: far beyond any trained weight or batch-norm statistic of these networks; a
flipped exponent bit gives such values) or a negative batch-norm running variance.
:func:`weight_sparsity` counts the zero weights of every layer (``igo model info``), of a float checkpoint's tensors
or of an int8 one's (a quantized weight is zero when it equals its zero point).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from .config import printable

__all__ = [
    "MAX_ABS_WEIGHT",
    "load_numpy_weights",
    "model_to_numpy",
    "shape_mismatch",
    "state_mismatch",
    "value_problem",
    "weight_sparsity",
]

MAX_ABS_WEIGHT = 1e6


def _to_numpy(t: torch.Tensor) -> np.ndarray:
    t = t.detach().to("cpu")
    if t.is_floating_point():
        t = t.float()
    return t.contiguous().numpy().copy()


def model_to_numpy(model: nn.Module) -> dict[str, np.ndarray]:
    """CPU numpy copies of ``model.state_dict()`` (floating point as float32, integers in their dtype): name -> array.
    The arrays share no memory with the model. ValueError for an int8 quantized network (its weights are not a
    float network's: self-play and training take its float source)."""
    if getattr(model, "cpu_only", False) and getattr(model, "quantization", None) is not None:
        raise ValueError("an int8 quantized network has no float weights to copy; use the float checkpoint it was "
                         "made from (its metadata's quantization.source)")  # fmt: skip
    return {k: _to_numpy(v) for k, v in model.state_dict().items()}


def _names(names: list[str], most: int = 20) -> str:
    """The names, escaped (they may come from a file), at most ``most`` of them and how many more."""
    shown = ", ".join(printable(k) for k in names[:most])
    return shown if len(names) <= most else f"{shown} and {len(names) - most:,} more"


def shape_mismatch(expected: Mapping[str, Sequence[int]], got: Mapping[str, Sequence[int]]) -> str | None:
    """Why the tensor shapes ``got`` (name -> shape) do not fit ``expected``: the missing names, the unexpected ones
    (escaped when not printable) or the first tensor of another shape. None when they fit."""
    missing = [k for k in expected if k not in got]
    if missing:
        return f"missing tensor(s) {_names(missing)}"
    unexpected = [k for k in got if k not in expected]
    if unexpected:
        return f"unexpected tensor(s) {_names(unexpected)}"
    for k, want in expected.items():
        shape = tuple(got[k])
        if shape != tuple(want):
            return f"tensor {k} has shape {list(shape)}, the model expects {list(want)}"
    return None


def state_mismatch(model: nn.Module, tensors: Mapping[str, Any]) -> str | None:
    """Why ``tensors`` (name -> numpy array or tensor) do not fit ``model.state_dict()``: the missing names, the
    unexpected ones, or the first tensor of another shape. None when they fit."""
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    return shape_mismatch(expected, {k: tuple(np.shape(v)) for k, v in tensors.items()})


def value_problem(name: str, tensor: torch.Tensor, bound: float = MAX_ABS_WEIGHT) -> str | None:
    """Why the values of the floating-point tensor ``name`` cannot be a network's: NaN or infinite values, a value
    of magnitude above ``bound``, or (for a batch-norm ``running_var``) a negative variance. None when they can;
    integer tensors always can."""
    if not tensor.is_floating_point():
        return None
    x = tensor.detach().float().reshape(-1)
    bad = ~torch.isfinite(x)
    if bad.any():
        i = int(bad.nonzero()[0])
        return f"tensor {name} holds {int(bad.sum())} non-finite value(s) (the first, {x[i].item()}, at index {i})"
    bad = x.abs() > bound
    if bad.any():
        i = int(bad.nonzero()[0])
        return (
            f"tensor {name} holds {int(bad.sum())} value(s) beyond +-{bound:g} (the first, {x[i].item():g}, at "
            f"index {i}): a corrupt file?"
        )
    if name.endswith("running_var"):
        bad = x < 0
        if bad.any():
            i = int(bad.nonzero()[0])
            first = f"the first, {x[i].item():g}, at index {i}"
            return f"tensor {name} holds {int(bad.sum())} negative variance(s) ({first})"
    return None


def load_numpy_weights(model: nn.Module, weights: Mapping[str, np.ndarray]) -> None:
    """Copy ``weights`` (name -> array, as :func:`model_to_numpy` gives) into ``model``, converting to each tensor's
    dtype and device. ValueError naming the tensors when names or shapes do not match the model's
    (:func:`state_mismatch`); the model is unchanged then."""
    why = state_mismatch(model, weights)
    if why is not None:
        raise ValueError(f"weights do not fit the model: {why}")
    # np.require copies only what torch cannot take as is (Ray hands out read-only arrays)
    tensors = {k: torch.from_numpy(np.require(np.asarray(v), requirements=["C", "W"])) for k, v in weights.items()}
    model.load_state_dict(tensors, strict=True)


def weight_sparsity(tensors: Mapping[str, torch.Tensor]) -> dict[str, tuple[int, int]]:
    """Layer weight name -> ``(zeros, total)`` for every convolution and linear weight among ``tensors`` (a
    checkpoint's: the tensors called ``*weight`` of two or more dimensions; batch-norm scales and biases are not
    weights of a layer). An int8 file's weight ``W`` counts as zero where it equals its zero point
    (``W.q_zero_point``, per output channel); the float network's zeros stay zeros through quantization, and weights
    smaller than half a quantization step become zeros too. In the order of ``tensors``."""
    out = {}
    for name, t in tensors.items():
        if not name.endswith("weight") or t.dim() < 2:
            continue
        zero_point = tensors.get(name + ".q_zero_point")
        if zero_point is not None and not t.is_floating_point():
            zp = zero_point.reshape((-1,) + (1,) * (t.dim() - 1)) if zero_point.dim() else zero_point
            zeros = int((t.to(torch.int64) == zp).sum())
        else:
            zeros = int((t == 0).sum())
        out[name] = (zeros, t.numel())
    return out
