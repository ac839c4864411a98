"""A network's weights as plain numpy arrays, the form in which they travel to self-play and game actors.

:func:`model_to_numpy` copies a model's ``state_dict`` to CPU numpy arrays (floating-point tensors as float32, integer
buffers such as BatchNorm's ``num_batches_tracked`` in their own dtype); :func:`load_numpy_weights` copies such a dict
back into a model of the same architecture, checking every name and shape first (:func:`state_mismatch`, which
checkpoint loading uses too).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch import nn

__all__ = ["load_numpy_weights", "model_to_numpy", "state_mismatch"]


def _to_numpy(t: torch.Tensor) -> np.ndarray:
    t = t.detach().to("cpu")
    if t.is_floating_point():
        t = t.float()
    return t.contiguous().numpy().copy()


def model_to_numpy(model: nn.Module) -> dict[str, np.ndarray]:
    """CPU numpy copies of ``model.state_dict()`` (floating point as float32, integers in their dtype): name -> array.
    The arrays share no memory with the model."""
    return {k: _to_numpy(v) for k, v in model.state_dict().items()}


def state_mismatch(model: nn.Module, tensors: Mapping[str, Any]) -> str | None:
    """Why ``tensors`` (name -> numpy array or tensor) do not fit ``model.state_dict()``: the missing names, the
    unexpected ones, or the first tensor of another shape. None when they fit."""
    expected = model.state_dict()
    missing = [k for k in expected if k not in tensors]
    if missing:
        return f"missing tensor(s) {', '.join(missing)}"
    unexpected = [k for k in tensors if k not in expected]
    if unexpected:
        return f"unexpected tensor(s) {', '.join(unexpected)}"
    for k, want in expected.items():
        shape = tuple(np.shape(tensors[k]))
        if shape != tuple(want.shape):
            return f"tensor {k} has shape {list(shape)}, the model expects {list(want.shape)}"
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
