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

The trainers that step through minibatches of a data set (``igo train sl``, ``igo train distill``) share more: their
settings (:class:`TrainerSettings`, a config mixin: optimizer, step-size halving, limits, intervals, device), the
config check on resume (:func:`keep_config`), loading the weights they resume from (:func:`load_weights`), and the
pieces of their loop (:func:`optimize`, :func:`save_and_publish`, :func:`finish`, :func:`cpu_hours`).
"""

from __future__ import annotations

import json
import logging
import math
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file as st_load_file
from safetensors.torch import save as st_save
from torch import nn

from igo.engine.cores import core_budget
from igo.engine.fileio import atomic_write, read_json_lines
from igo.nets.checkpoint import CheckpointError, hours, load_checkpoint, save_checkpoint
from igo.nets.device import resolve_device

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


# --- the trainers that step through minibatches (sl, distill) ---------------------------------------------------


@dataclass(kw_only=True)
class TrainerSettings:
    """The settings of a trainer that steps through minibatches (``igo train sl``, ``igo train distill``): the
    optimizer, the step size halved every ``lr_halve_every`` samples, the limits, the intervals, the device and
    threads. A config mixin (keyword-only fields, so that a config with required fields can take it): call
    :meth:`optimizer_checks` and :meth:`running_checks` in the config's validation, :meth:`check_device` after it."""

    optimizer: str = "sgd"
    lr: float = 0.05
    momentum: float = 0.9
    weight_decay: float = 1e-4
    lr_halve_every: int = 20_000_000  # samples; 0: never
    batch_size: int = 128
    max_steps: int | None = None  # steps of the whole run (resumed steps count)
    max_minutes: float | None = None  # minutes of this invocation
    eval_every: int = 1000  # steps
    checkpoint_every: int = 2000  # steps
    log_every: int = 100  # steps between train rows in metrics.jsonl
    device: str = "auto"
    threads: int | None = None  # torch threads, --nn-threads (None: the cores this process may use, core_budget())
    seed: int = 0
    shuffle_buffer: int = 20_000  # SGF positions

    def optimizer_checks(self, finite: Callable[[Any], bool]) -> list[tuple[bool, str]]:
        """The checks of the optimizer settings (``finite``: the config's test of a finite number), for
        :func:`igo.training.run.check_settings`."""
        return [
            (self.optimizer in OPTIMIZERS, f"optimizer must be one of {', '.join(OPTIMIZERS)}"),
            (finite(self.lr) and self.lr > 0, "lr must be positive"),
            (finite(self.momentum) and 0 <= self.momentum < 1, "momentum must be in [0, 1)"),
            (finite(self.weight_decay) and self.weight_decay >= 0, "weight_decay must be >= 0"),
            (self.lr_halve_every >= 0, "lr_halve_every must be >= 0 (0: never)"),
            (self.batch_size >= 1, "batch_size must be >= 1"),
        ]

    def running_checks(self, finite: Callable[[Any], bool]) -> list[tuple[bool, str]]:
        """The checks of the limits, intervals, threads and shuffle buffer, as :meth:`optimizer_checks`."""
        return [
            (self.max_steps is None or self.max_steps >= 0, "max_steps must be >= 0"),
            (
                self.max_minutes is None or (finite(self.max_minutes) and self.max_minutes > 0),
                "max_minutes must be positive",
            ),
            (self.eval_every >= 1, "eval_every must be >= 1"),
            (self.checkpoint_every >= 1, "checkpoint_every must be >= 1"),
            (self.log_every >= 1, "log_every must be >= 1"),
            (self.threads is None or self.threads >= 1, "threads must be >= 1"),
            (self.shuffle_buffer >= self.batch_size, "shuffle_buffer must be at least batch_size"),
        ]

    def check_device(self) -> None:
        """ValueError (RuntimeError for nonsense) unless ``device`` is auto, cpu or cuda[:N]."""
        if self.device != "auto":
            torch.device(self.device)  # RuntimeError for nonsense
            if not self.device.startswith(("cpu", "cuda")):
                raise ValueError(f"device must be auto, cpu or cuda[:N], got {self.device!r}")

    def lr_at(self, samples: int) -> float:
        """The step size after ``samples`` training samples: ``lr`` halved every ``lr_halve_every`` samples."""
        if not self.lr_halve_every:
            return self.lr
        return self.lr * 0.5 ** (samples // self.lr_halve_every)

    def start_device(self) -> tuple[torch.device, int, bool]:
        """``(device, threads, amp)``: the torch device of ``device``, the torch threads (``threads``, or the cores
        this process may use), now set, and whether to autocast to bfloat16 (on CUDA)."""
        device = resolve_device(self.device)
        threads = self.threads or core_budget()
        torch.set_num_threads(threads)
        return device, threads, device.type == "cuda"

    def build_optimizer(self, params) -> torch.optim.Optimizer:
        """:func:`build_optimizer` of these settings."""
        return build_optimizer(params, self.optimizer, self.lr, momentum=self.momentum, weight_decay=self.weight_decay)

    def set_lr(self, optimizer: torch.optim.Optimizer, samples: int) -> float:
        """Set the step size after ``samples`` training samples (:meth:`lr_at`) in every param group of
        ``optimizer``; returns it."""
        lr = self.lr_at(samples)
        for g in optimizer.param_groups:
            g["lr"] = lr
        return lr

    def resume_counts(self, meta) -> tuple[int, int, int, int, float]:
        """``(step, samples, epoch, files_read, cpu_hours)`` of the checkpoint a run resumes from, by its metadata
        ``meta`` (``samples`` of an older checkpoint without them: ``step`` batches of ``batch_size``)."""
        step = meta.step
        samples = int(meta.extra.get("samples", step * self.batch_size))
        epoch = int(meta.extra.get("epoch", 0))
        files_read = int(meta.extra.get("files_read", 0))
        return step, samples, epoch, files_read, hours(meta.extra.get("cpu_hours"))

    def deadline(self, t0: float) -> float | None:
        """The ``time.monotonic()`` at which an invocation that started at ``t0`` stops (None: no ``max_minutes``)."""
        return None if self.max_minutes is None else t0 + 60 * self.max_minutes

    def stop_reason(self, step: int, deadline: float | None, stop: threading.Event) -> str | None:
        """Why the loop stops before ``step`` (``max_steps``, ``max_minutes`` past ``deadline``, ``signal`` when
        ``stop`` is set), or None while it goes on."""
        if self.max_steps is not None and step >= self.max_steps:
            return "max_steps"
        if deadline is not None and time.monotonic() >= deadline:
            return "max_minutes"
        if stop.is_set():
            return "signal"
        return None


def keep_config(rd, config, identity: Iterable[str], *, what: str) -> None:
    """Write ``config.json`` of the run directory ``rd`` (an :class:`igo.training.run.RunDir`), or check the
    existing one first: the settings of ``identity`` must be the same (ValueError naming ``what`` run it is)."""
    stored = rd.read_config()
    if stored is not None:
        rd.check_unchanged(stored, config.to_dict(), identity, what=what)
    rd.write_config(config.to_dict())


def load_weights(
    model: nn.Module,
    path: str | os.PathLike,
    *,
    size: int,
    kind: str,
    name: str,
    error: type[Exception],
    what: str = "resume",
):
    """Load the weights of the checkpoint ``path`` (a ``kind`` net of board ``size``) into ``model`` and return
    the checkpoint's metadata: ``error`` (``cannot <what> from <path>: ...``) when it cannot be read, ValueError
    when it holds another config than ``name``."""
    try:
        loaded, meta = load_checkpoint(path, board_size=size, expect_kind=kind)
    except (CheckpointError, OSError, ValueError) as e:
        raise error(f"cannot {what} from {path}: {e}") from None
    if meta.config_name != name:
        raise ValueError(f"{path} holds a {meta.config_name} network, this run trains {name}")
    model.load_state_dict(loaded.state_dict())
    del loaded
    return meta


def cpu_hours(before: float, t0: float, threads: int) -> float:
    """``before`` plus this invocation's wall time since ``t0`` x ``threads``: a net's cost in CPU-hours, all
    invocations."""
    return before + (time.monotonic() - t0) * threads / 3600.0


def optimize(optimizer: torch.optim.Optimizer, loss: torch.Tensor) -> None:
    """One optimizer step down the gradient of ``loss`` (the gradients cleared first)."""
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()


def save_and_publish(rd, config, step: int, model: nn.Module, optimizer: torch.optim.Optimizer, published: str,
                     **kwargs) -> Path:  # fmt: skip
    """Save the checkpoint of ``step`` in the run directory ``rd`` (:func:`save_with_optimizer` with ``kwargs``:
    ``extra``, ``komi``...), publish it as ``published`` and thin the older ones as ``config`` (a
    :class:`TrainerSettings` with :class:`igo.training.run.Retention`) says."""
    path = save_with_optimizer(rd.checkpoint(step), model, optimizer, kind=config.optimizer, step=step, **kwargs)
    rd.publish(path, published)
    config.thin(rd, config.checkpoint_every, step)
    return path


def finish(rd, published: str, step: int, *, eval_step: int, do_eval: Callable[[], Any], ckpt_step: int,
           save: Callable[[], Any], ckpt: Path | None) -> None:  # fmt: skip
    """The end of a run's loop at ``step``: evaluate and save unless that was done at this step (``eval_step``,
    ``ckpt_step``), and publish the newest checkpoint ``ckpt`` as ``published`` when that copy is missing."""
    if eval_step != step:
        do_eval()
    if ckpt_step != step:
        save()
    elif ckpt is not None and not (rd.path / published).exists():
        rd.publish(ckpt, published)


__all__ = [
    "OPTIMIZERS",
    "Metrics",
    "TrainerSettings",
    "build_optimizer",
    "cpu_hours",
    "finish",
    "keep_config",
    "load_optimizer",
    "load_weights",
    "optimize",
    "optimizer_bytes",
    "optimizer_path",
    "read_metrics",
    "save_and_publish",
    "save_with_optimizer",
    "write_json",
]
