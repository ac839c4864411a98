"""Writing a quantized copy of a checkpoint (``igo model quantize``): the source read with
:func:`igo.nets.checkpoint.load_checkpoint`, quantized by :mod:`igo.nets.quantize`, written with
:func:`igo.nets.checkpoint.write_tensors`. Its own module because the checkpoint reader imports the quantizer (to
load int8 files): here both are imported, and neither imports this one."""

from __future__ import annotations

import dataclasses
import logging
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from .checkpoint import CheckpointMeta, igo_version, load_checkpoint, write_tensors
from .quantize import (
    BITS,
    HALF_SCHEME,
    INT8_FORMAT_VERSION,
    INT8_SCHEME,
    MODES,
    Progress,
    check_quantization,
    half_state,
    int8_tensors,
    quantize_int8,
    quantized_engine,
)

log = logging.getLogger(__name__)


def quantize_checkpoint(
    src: str | os.PathLike,
    dst: str | os.PathLike,
    mode: str = "int8",
    *,
    planes: np.ndarray | None = None,
    calibration: dict[str, Any] | None = None,
    progress: Progress | None = None,
) -> tuple[Any, nn.Module]:
    """Quantize the checkpoint ``src`` (a ``zero``, ``lee-policy`` or ``lee-value`` net) in ``mode`` and write it
    to ``dst`` (atomically, parents created): returns ``(meta, model)``, the new file's metadata and the network
    as loading it gives (a :class:`QuantizedNet` for int8, the float32 network for bf16/fp16). int8 needs the
    calibration ``planes`` (``[M, C, N, N]``) and ``calibration``, what they are (``{"source", "path",
    "positions", "seed"}``, see :func:`check_quantization`) and calls ``progress(done, total)`` as it calibrates;
    bf16/fp16 take none of them. The metadata of ``src`` is
    kept (config, board size, step, komi, rules, extra), with ``parent`` the source, ``quantization`` added and no
    ``provenance`` (a shipped network's describes the float weights)."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    model, meta = load_checkpoint(src)
    if meta.kind not in ("zero", "lee-policy", "lee-value"):
        raise ValueError(f"{src} holds a {meta.kind} net; igo quantizes zero, lee-policy and lee-value nets")
    if meta.quantization is not None:
        raise ValueError(f"{src} is already quantized ({meta.quantization['mode']}); quantize its float source")
    info: dict[str, Any] = {"mode": mode, "bits": BITS[mode], "source": str(src), "source_step": meta.step}
    if mode == "int8":
        if planes is None or calibration is None:
            raise ValueError("int8 quantization needs calibration planes and their description")
        cal = dict(calibration, positions=int(np.shape(planes)[0]))
        info |= {"scheme": INT8_SCHEME, "engine": quantized_engine(), "torch": torch.__version__, "calibration": cal}
        check_quantization(info)
        net: nn.Module = quantize_int8(model, planes, info, progress)
        tensors = int8_tensors(net)
        version = INT8_FORMAT_VERSION
    else:
        if planes is not None:
            raise ValueError(f"{mode} needs no calibration positions")
        info |= {"scheme": HALF_SCHEME}
        check_quantization(info)
        tensors = half_state(model, mode)
        net = model
        version = meta.format_version
    new = dataclasses.replace(
        meta,
        parent=str(src),
        quantization=info,
        format_version=version,
        igo_version=igo_version(),
        created=datetime.now(UTC).isoformat(timespec="seconds"),
        provenance=None,  # it describes the source (its Elo was measured with the float weights): see parent
    )
    assert isinstance(new, CheckpointMeta)
    write_tensors(Path(dst), tensors, new)
    log.info("quantized %s (%s) to %s: %s", src, meta.config_name, dst, mode)
    if mode != "int8":
        net = load_checkpoint(dst)[0]  # the rounded weights, as a player gets them
    return new, net


__all__ = ["quantize_checkpoint"]
