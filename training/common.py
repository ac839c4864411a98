"""Pieces every trainer shares: JSON settings files, checkpoints with their optimizer state (safetensors + JSON, never
a pickle), the optimizer menu, and the run's metrics (``metrics.jsonl`` + TensorBoard).

A trainer saves ``<name>.safetensors`` with :func:`save_with_optimizer`, which also writes
``<name>.optim.safetensors``: the optimizer's tensors ``state.<param index>.<name>`` (``momentum_buffer``,
``exp_avg``, ...) and, under the header key ``"igo_optim"``, JSON with the optimizer kind, the ``step`` it belongs
to, the param groups' hyper-parameters, any non-tensor state, the fp16 GradScaler state when there is one, and any
further facts the trainer adds (the Zero learner's ``samples``). Both files are written atomically
(:func:`igo.engine.fileio.atomic_write`), the optimizer file first. :func:`load_optimizer` restores it into a freshly
built optimizer of the same kind, or says why it cannot (then the trainer warns and starts the optimizer fresh:
weights are never lost for that).
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file as st_load_file
from safetensors.torch import save as st_save
from torch import nn

from igo.engine.fileio import atomic_write, read_json_lines
from igo.nets.checkpoint import save_checkpoint

log = logging.getLogger(__name__)

OPTIMIZERS = ("sgd", "adamw")
OPTIM_SUFFIX = ".optim.safetensors"
OPTIM_METADATA_KEY = "igo_optim"
OPTIM_FORMAT = "igo-optimizer"
OPTIM_FORMAT_VERSION = 1


def write_json(path: str | os.PathLike, obj: Any) -> None:
    """``obj`` as indented, key-sorted JSON (numpy numbers and paths allowed) written atomically to ``path``; missing
    parent directories are created."""
    atomic_write(path, json.dumps(obj, indent=2, sort_keys=True, default=_json_default) + "\n", parents=True)


def build_optimizer(
    params, name: str, lr: float, *, momentum: float = 0.9, weight_decay: float = 0.0
) -> torch.optim.Optimizer:
    """``sgd`` (with ``momentum``; 0 is the paper's plain SGD; ``weight_decay`` is the gradient of (λ/2)‖θ‖²) or
    ``adamw`` (decoupled weight decay)."""
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    raise ValueError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, got {name!r}")


def optimizer_path(checkpoint_path: str | os.PathLike) -> Path:
    """``<dir>/<stem>.optim.safetensors`` beside ``checkpoint_path``."""
    path = Path(checkpoint_path)
    return path.with_name(path.stem + OPTIM_SUFFIX)


def optimizer_bytes(
    optimizer: torch.optim.Optimizer,
    kind: str,
    step: int,
    *,
    meta: Mapping[str, Any] | None = None,
    scaler: Any = None,
) -> bytes:
    """The optimizer's state as safetensors bytes (tensors) with the rest as JSON in the header; ``meta`` adds JSON
    facts for :func:`load_optimizer` to check, ``scaler`` a GradScaler whose state goes along. ValueError when the
    state is not JSON-serialisable or ``meta`` uses a reserved key."""
    sd = optimizer.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for index, state in sd["state"].items():
        for name, v in state.items():
            if isinstance(v, torch.Tensor):
                tensors[f"state.{index}.{name}"] = v.detach().to("cpu").contiguous().clone()
            else:
                scalars.setdefault(str(index), {})[name] = v
    groups = []
    for group in sd["param_groups"]:
        groups.append({k: (v.item() if isinstance(v, torch.Tensor) else list(v) if isinstance(v, tuple) else v)
                       for k, v in group.items()})  # fmt: skip
    header = {
        "format": OPTIM_FORMAT,
        "format_version": OPTIM_FORMAT_VERSION,
        "optimizer": kind,
        "step": int(step),
        "param_groups": groups,
        "scalars": scalars,
        "scaler": scaler.state_dict() if scaler is not None else None,
    }
    clash = sorted(set(meta or {}) & set(header))
    if clash:
        raise ValueError(f"optimizer meta may not set {', '.join(clash)}")
    header.update(meta or {})
    try:
        text = json.dumps(header, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as e:
        raise ValueError(f"optimizer state is not JSON-serialisable: {e}") from None
    return st_save(tensors, metadata={OPTIM_METADATA_KEY: text})


def save_with_optimizer(
    path: str | os.PathLike,
    model: nn.Module,
    optimizer: torch.optim.Optimizer | None,
    *,
    kind: str,
    step: int,
    extra: dict[str, Any] | None = None,
    parent: str | None = None,
    optimizer_meta: Mapping[str, Any] | None = None,
    scaler: Any = None,
    komi: float | None = None,
    rules: str | None = None,
) -> Path:
    """Write the checkpoint (:func:`igo.nets.checkpoint.save_checkpoint`; ``komi`` and ``rules``, when known, go
    into its metadata) and, when ``optimizer`` is given, its state beside it (:func:`optimizer_path`;
    ``optimizer_meta`` and ``scaler`` as :func:`optimizer_bytes` takes them); the optimizer file first, so a
    checkpoint never lacks the state it was saved with. ``kind`` names the optimizer (``sgd`` / ``adamw``)."""
    path = Path(path)
    if optimizer is not None:
        data = optimizer_bytes(optimizer, kind, step, meta=optimizer_meta, scaler=scaler)
        atomic_write(optimizer_path(path), data, parents=True)
        log.debug("saved optimizer state %s (%d bytes)", optimizer_path(path), len(data))
    return save_checkpoint(path, model, step=step, parent=parent, extra=extra, komi=komi, rules=rules)


def load_optimizer(
    optimizer: torch.optim.Optimizer,
    checkpoint_path: str | os.PathLike,
    *,
    kind: str,
    step: int,
    expect: Mapping[str, Any] | None = None,
    scaler: Any = None,
) -> str | None:
    """Restore the state :func:`save_with_optimizer` wrote for ``checkpoint_path`` into ``optimizer`` (built for the
    same parameters), and into ``scaler`` when given and saved. ``expect``: further facts the file must hold (as
    ``optimizer_meta`` was saved). Returns None when restored, else why not (missing file, other optimizer, other
    step or facts, shapes)."""
    path = optimizer_path(checkpoint_path)
    if not path.is_file():
        return f"there is no {path.name}"
    try:
        with safe_open(str(path), framework="pt") as f:
            header = f.metadata() or {}
        tensors = st_load_file(str(path), device="cpu")
        meta = json.loads(header[OPTIM_METADATA_KEY])
    except (SafetensorError, OSError, KeyError, json.JSONDecodeError) as e:
        return f"{path.name} is unreadable ({e!r})"
    if not isinstance(meta, dict) or meta.get("format") != OPTIM_FORMAT:
        return f"{path.name} is not an igo optimizer file"
    if meta.get("format_version") != OPTIM_FORMAT_VERSION:
        return f"{path.name} has format_version {meta.get('format_version')!r}, this igo reads {OPTIM_FORMAT_VERSION}"
    if meta.get("optimizer") != kind:
        return f"{path.name} holds {meta.get('optimizer')!r} state, not {kind!r}"
    if meta.get("step") != step:
        return f"{path.name} was written at step {meta.get('step')}, the checkpoint is at step {step}"
    for k, want in (expect or {}).items():
        if meta.get(k) != want:
            return f"{path.name} was written with {k} {meta.get(k)!r}, the checkpoint has {want!r}"
    params = [p for g in optimizer.param_groups for p in g["params"]]
    state: dict[int, dict[str, Any]] = {}
    try:
        for name, t in tensors.items():
            prefix, index, key = name.split(".", 2)
            i = int(index)
            if prefix != "state" or not 0 <= i < len(params):
                raise ValueError(f"unexpected tensor {name}")
            if t.dim() > 0 and t.shape != params[i].shape:
                raise ValueError(f"tensor {name} has shape {list(t.shape)}, parameter {i} {list(params[i].shape)}")
            state.setdefault(i, {})[key] = t.to(params[i].device)
        for index, values in meta.get("scalars", {}).items():
            state.setdefault(int(index), {}).update(values)
        groups = [{k: tuple(v) if k == "betas" else v for k, v in g.items()} for g in meta["param_groups"]]
        optimizer.load_state_dict({"state": state, "param_groups": groups})
        if scaler is not None and meta.get("scaler"):
            scaler.load_state_dict(meta["scaler"])
    except (ValueError, KeyError, TypeError, AttributeError, RuntimeError) as e:
        return f"{path.name} does not fit the model ({e})"
    return None


class Metrics:
    """``metrics.jsonl`` in ``run_dir`` (one JSON object per line, flushed) and TensorBoard scalars under
    ``run_dir/tb`` (tag ``<kind>/<name>``) when tensorboard is installed."""

    def __init__(self, run_dir: str | os.PathLike, tensorboard: bool = True):
        run_dir = Path(run_dir)
        run_dir.mkdir(parents=True, exist_ok=True)
        self.path = run_dir / "metrics.jsonl"
        self._f = open(self.path, "a", encoding="utf-8")  # noqa: SIM115
        if _ends_torn(self.path):  # a kill tore the last line: the first new row starts a line of its own
            self._f.write("\n")
        self._tb = None
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self._tb = SummaryWriter(str(run_dir / "tb"))
            except Exception as e:  # tensorboard missing: the JSON lines still have everything
                log.warning("no TensorBoard logs: %s", e)

    def write(self, kind: str, step: int, **values) -> dict:
        row = {"time": round(time.time(), 3), "kind": kind, "step": step, **values}
        self._f.write(json.dumps(row, sort_keys=True, default=_json_default) + "\n")
        self._f.flush()
        if self._tb is not None:
            for k, v in values.items():
                if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v):
                    self._tb.add_scalar(f"{kind}/{k}", v, step)
                elif isinstance(v, dict):
                    for k2, v2 in v.items():
                        if isinstance(v2, int | float) and not isinstance(v2, bool) and math.isfinite(v2):
                            self._tb.add_scalar(f"{kind}/{k}/{k2}", v2, step)
        return row

    def close(self) -> None:
        self._f.close()
        if self._tb is not None:
            self._tb.close()

    def __enter__(self) -> Metrics:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _json_default(o):
    if isinstance(o, np.integer | np.floating):
        return o.item()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON: {type(o).__name__}")


def _ends_torn(path: Path) -> bool:
    """Whether ``path`` is a non-empty file whose last byte is not a newline."""
    try:
        with open(path, "rb") as f:
            if f.seek(0, os.SEEK_END) == 0:
                return False
            f.seek(-1, os.SEEK_END)
            return f.read(1) != b"\n"
    except OSError:
        return False


def read_metrics(run_dir: str | os.PathLike, kind: str | None = None) -> list[dict]:
    """The rows of ``run_dir/metrics.jsonl`` (of one ``kind`` when given); a line torn by a kill, or one that is not
    a JSON object, is skipped."""
    rows, _ = read_json_lines(Path(run_dir) / "metrics.jsonl")
    return [r for r in rows if isinstance(r, dict) and (kind is None or r.get("kind") == kind)]


__all__ = [
    "OPTIMIZERS",
    "Metrics",
    "build_optimizer",
    "load_optimizer",
    "optimizer_bytes",
    "optimizer_path",
    "read_metrics",
    "save_with_optimizer",
    "write_json",
]
