"""The AlphaGo Zero learner: one optimizer step at a time on batches of self-play positions.

A self-play position is ``(s, π, z)``: the input planes, the search's visit distribution (the policy target, ``N*N + 1``
moves, pass last) and the game's outcome for the player to move (the value target, ±1). The network ``f(s) = (p, v)``
is trained on the AlphaGo Zero loss (Silver et al. 2017, eq. 1)::

    l = (z - v)^2  -  π^T log p  +  c ||θ||^2

averaged over the batch: :meth:`ZeroLearner.train_step` computes ``value_weight * mean((z - v)^2)`` plus the
cross-entropy with soft targets ``mean(-Σ π · log_softmax(logits))``; the L2 term is not in the computed loss but in
the optimizer's weight decay (SGD's ``weight_decay`` λ adds ``λ θ`` to the gradient, the gradient of
``(λ/2) ||θ||²``, so the paper's ``c = 1e-4`` is ``weight_decay = 2e-4``; AdamW's decay is decoupled from the
gradient and is not an L2 loss at all). The reported ``l2`` is ``weight_decay * Σ θ²`` over all parameters, for the
log only. ``policy_entropy_target`` (the mean entropy of the targets π) is the floor of ``policy_loss``: the policy
has fitted the targets exactly when the two are equal.

Keys of the dicts that :meth:`~ZeroLearner.train_step` and :meth:`~ZeroLearner.evaluate` return (plain floats):

.. code-block:: text

    loss                    policy_loss + value_loss (what the gradient is taken of)
    policy_loss             mean cross-entropy -Σ π log p
    value_loss              value_weight * value_mse (the value term as it enters the loss)
    value_mse               mean (z - v)^2
    l2                      weight_decay * Σ θ^2 (not part of loss; see above)
    policy_entropy_target   mean -Σ π log π
    lr                      the learning rate used (train_step only)

The learning rate is piecewise constant in the number of **samples** trained, not in optimizer steps, so changing the
batch size does not move the schedule: ``lr_schedule=[(0, 0.02), (2_000_000, 0.002)]`` trains the first two million
positions at 0.02 and the rest at 0.002 (a boundary belongs to the interval it starts). The rate for a step is the one
at the samples trained *before* it.

:meth:`ZeroLearner.save` writes a normal checkpoint (:func:`igo.nets.checkpoint.save_checkpoint`; ``extra`` holds
``samples`` and the learner config) and, next to it, ``<stem>.optim.safetensors`` with the optimizer state, the fp16
GradScaler state and ``samples``, as every trainer does (:func:`igo.training.common.save_with_optimizer`). Nothing is
ever pickled or unpickled. :meth:`ZeroLearner.resume` restores both; an optimizer file that is missing, unreadable, of
another optimizer kind or from another step is reported with a warning and the optimizer starts fresh (the weights
are what matter). :meth:`ZeroLearner.weights` gives the weights as numpy arrays for self-play actors
(:func:`igo.nets.weights.model_to_numpy`).
"""

from __future__ import annotations

import bisect
import contextlib
import dataclasses
import logging
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from igo.nets.checkpoint import CheckpointError, load_checkpoint
from igo.nets.device import resolve_device
from igo.nets.weights import model_to_numpy

from .common import OPTIMIZERS, build_optimizer, load_optimizer, optimizer_path, save_with_optimizer

logger = logging.getLogger(__name__)

AMP_MODES = ("auto", "none", "bf16", "fp16")
RESERVED_EXTRA = ("samples", "learner")

_AMP_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


# --- configuration ---------------------------------------------------------------------------------------------------


def _check_float(name: str, value: object, *, minimum: float = 0.0, strict: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    if value < minimum or (strict and value == minimum):
        raise ValueError(f"{name} must be {'>' if strict else '>='} {minimum}, got {value!r}")
    return float(value)


def _check_int(name: str, value: object, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
    return value


@dataclass
class LearnerConfig:
    """How :class:`ZeroLearner` trains; see the module docstring.

    ``optimizer``: ``"sgd"`` (momentum ``momentum``, L2 through ``weight_decay``, as in AlphaGo Zero) or ``"adamw"``
    (decoupled ``weight_decay``; ``momentum`` is unused, betas are AdamW's defaults). ``lr_schedule``: piecewise
    constant ``[(samples, lr), ...]``, first boundary 0, strictly increasing; empty means the constant ``lr`` (a
    schedule, when given, replaces ``lr``). ``batch_size`` is for the loop that feeds the learner (and the chunk size
    of :meth:`ZeroLearner.evaluate`); :meth:`ZeroLearner.train_step` takes whatever batch it is given. ``device``:
    ``"auto"`` (CUDA when available) or a torch device string. ``amp``: ``"auto"`` (bf16 autocast on CUDA, none
    elsewhere), ``"none"``, ``"bf16"`` or ``"fp16"`` (with a GradScaler). ``grad_clip``: max global grad norm, or
    None."""

    optimizer: str = "sgd"
    lr: float = 0.02
    momentum: float = 0.9
    weight_decay: float = 1e-4
    lr_schedule: list[tuple[int, float]] = field(default_factory=list)
    batch_size: int = 256
    value_weight: float = 1.0
    device: str = "auto"
    amp: str = "auto"
    grad_clip: float | None = None

    def __post_init__(self) -> None:
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, got {self.optimizer!r}")
        self.lr = _check_float("lr", self.lr, strict=True)
        self.momentum = _check_float("momentum", self.momentum)
        if self.momentum >= 1.0:
            raise ValueError(f"momentum must be < 1, got {self.momentum!r}")
        self.weight_decay = _check_float("weight_decay", self.weight_decay)
        self.value_weight = _check_float("value_weight", self.value_weight)
        self.batch_size = _check_int("batch_size", self.batch_size, 1)
        if self.grad_clip is not None:
            self.grad_clip = _check_float("grad_clip", self.grad_clip, strict=True)
        self.lr_schedule = self._checked_schedule(self.lr_schedule)
        if not isinstance(self.device, str) or not self.device:
            raise ValueError(f"device must be 'auto' or a torch device string, got {self.device!r}")
        if self.device != "auto":
            try:
                torch.device(self.device)
            except (RuntimeError, ValueError) as e:
                raise ValueError(f"device must be 'auto' or a torch device string, got {self.device!r} ({e})") from None
        if self.amp not in AMP_MODES:
            raise ValueError(f"amp must be one of {', '.join(AMP_MODES)}, got {self.amp!r}")

    @staticmethod
    def _checked_schedule(schedule: object) -> list[tuple[int, float]]:
        if not isinstance(schedule, list | tuple):
            raise ValueError(f"lr_schedule must be a list of (samples, lr) pairs, got {schedule!r}")
        out: list[tuple[int, float]] = []
        for i, entry in enumerate(schedule):
            if not isinstance(entry, list | tuple) or len(entry) != 2:
                raise ValueError(f"lr_schedule[{i}] must be a (samples, lr) pair, got {entry!r}")
            samples = _check_int(f"lr_schedule[{i}] samples", entry[0])
            lr = _check_float(f"lr_schedule[{i}] lr", entry[1], strict=True)
            if out and samples <= out[-1][0]:
                raise ValueError(
                    f"lr_schedule must be sorted by samples, strictly increasing: {samples} follows {out[-1][0]}"
                )
            out.append((samples, lr))
        if out and out[0][0] != 0:
            raise ValueError(f"lr_schedule must start at 0 samples, got {out[0][0]}")
        return out

    def lr_at(self, samples: int) -> float:
        """The learning rate after ``samples`` samples trained."""
        samples = _check_int("samples", samples)
        if not self.lr_schedule:
            return self.lr
        i = bisect.bisect_right([s for s, _ in self.lr_schedule], samples) - 1
        return self.lr_schedule[i][1]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON values (the schedule as a list of ``[samples, lr]`` lists)."""
        d = dataclasses.asdict(self)
        d["lr_schedule"] = [[s, lr] for s, lr in self.lr_schedule]
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> LearnerConfig:
        """The config :meth:`to_dict` wrote; ValueError for unknown fields or bad values."""
        if not isinstance(d, Mapping):
            raise ValueError(f"a learner config must be a JSON object, got {type(d).__name__}")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown learner config field(s): {', '.join(unknown)}")
        return cls(**d)


# --- helpers ---------------------------------------------------------------------------------------------------------


def _grad_scaler(device: torch.device) -> Any:
    try:
        return torch.amp.GradScaler(device.type)
    except AttributeError:  # torch < 2.3
        if device.type == "cuda":
            return torch.cuda.amp.GradScaler()
        raise ValueError(f"fp16 training on {device.type} needs torch >= 2.3") from None


def _sum_of_squares(params: list[torch.Tensor]) -> torch.Tensor:
    if not params:
        return torch.zeros(())
    get_total_norm = getattr(torch.nn.utils, "get_total_norm", None)  # torch >= 2.6: one foreach kernel
    if get_total_norm is not None:
        return get_total_norm(params, 2.0).float() ** 2
    return torch.stack([p.float().pow(2).sum() for p in params]).sum()


# --- the learner -----------------------------------------------------------------------------------------------------


class ZeroLearner:
    """Trains a Zero network (``forward(x) -> (policy_logits [B, N*N+1], value [B])``) on the AlphaGo Zero loss.

    The model is moved to the config's device and trained in place. ``step`` counts optimizer steps, ``samples``
    positions trained; both are saved in checkpoints and drive nothing but the learning-rate schedule (``samples``)."""

    def __init__(self, model: nn.Module, config: LearnerConfig | None = None, *, step: int = 0, samples: int = 0):
        self.config = config if config is not None else LearnerConfig()
        if not isinstance(self.config, LearnerConfig):
            raise ValueError(f"config must be a LearnerConfig, got {type(self.config).__name__}")
        self.step = _check_int("step", step)
        self.samples = _check_int("samples", samples)
        self.device = resolve_device(self.config.device)
        self.amp = self.config.amp
        if self.amp == "auto":
            self.amp = "bf16" if self.device.type == "cuda" else "none"
        self.model = model.to(self.device)
        self.forward_module: nn.Module = self.model  # the model, or its DistributedDataParallel wrapper
        self.board_size: int | None = getattr(model, "board_size", None)
        self.input_planes: int | None = getattr(getattr(model, "config", None), "input_planes", None)
        self.optimizer = self._build_optimizer()
        self.scaler = _grad_scaler(self.device) if self.amp == "fp16" else None
        # BatchNorm running statistics, saved before each training forward and put back if the loss is not finite
        self._buffers = [b for b in self.model.buffers()]
        self._buffer_backup = [torch.empty_like(b) for b in self._buffers]
        logger.info(
            "learner: %s, lr %s, on %s, amp %s, step %d, %d samples",
            self.config.optimizer,
            self.config.lr_schedule or self.config.lr,
            self.device,
            self.amp,
            self.step,
            self.samples,
        )

    # --- optimizer ---

    def _build_optimizer(self) -> torch.optim.Optimizer:
        c = self.config
        return build_optimizer(
            self.model.parameters(), c.optimizer, self.lr_at(self.samples), momentum=c.momentum,
            weight_decay=c.weight_decay,
        )  # fmt: skip

    def _apply_hyperparameters(self) -> None:
        for group in self.optimizer.param_groups:
            group["lr"] = self.lr_at(self.samples)
            group["weight_decay"] = self.config.weight_decay
            if self.config.optimizer == "sgd":
                group["momentum"] = self.config.momentum

    def lr_at(self, samples: int) -> float:
        """The learning rate after ``samples`` samples trained (see :meth:`LearnerConfig.lr_at`)."""
        return self.config.lr_at(samples)

    # --- batches ---

    def _check_shapes(self, planes: Any, policy: Any, value: Any) -> int:
        shapes = []
        for name, x in (("planes", planes), ("policy", policy), ("value", value)):
            if not hasattr(x, "shape"):
                raise ValueError(f"{name} must be a numpy array or a torch tensor, got {type(x).__name__}")
            shapes.append(tuple(x.shape))
        ps, pol, val = shapes
        if len(ps) != 4 or ps[2] != ps[3]:
            raise ValueError(f"planes must be [B, C, N, N], got shape {list(ps)}")
        b, c, n, _ = ps
        if b < 1:
            raise ValueError("empty batch")
        if self.board_size is not None and n != self.board_size:
            raise ValueError(f"planes are {n}x{n}, the model is for {self.board_size}x{self.board_size}")
        if self.input_planes is not None and c != self.input_planes:
            raise ValueError(f"planes have {c} channels, the model expects {self.input_planes}")
        if pol != (b, n * n + 1):
            raise ValueError(f"policy must be [B, N*N+1] = {[b, n * n + 1]}, got {list(pol)}")
        if val != (b,):
            raise ValueError(f"value must be [B] = {[b]}, got {list(val)}")
        return b

    def _tensor(self, x: Any) -> torch.Tensor:
        if not isinstance(x, torch.Tensor):
            x = torch.from_numpy(np.require(x, requirements=["C", "W"]))  # Ray hands out read-only arrays
        return x.to(device=self.device, dtype=torch.float32, non_blocking=True)

    def _autocast(self) -> contextlib.AbstractContextManager:
        if self.amp == "none":
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=_AMP_DTYPES[self.amp])

    def _losses(self, planes: torch.Tensor, policy: torch.Tensor, value: torch.Tensor) -> dict[str, torch.Tensor]:
        with self._autocast():
            out = (self.forward_module if self.model.training else self.model)(planes)
        if not isinstance(out, tuple | list) or len(out) != 2:
            raise ValueError("the model must return (policy_logits, value)")
        logits, v = out[0].float(), out[1].float()
        if logits.shape != policy.shape or v.shape != value.shape:
            raise ValueError(
                f"the model returned logits {list(logits.shape)} and value {list(v.shape)} for targets "
                f"{list(policy.shape)} and {list(value.shape)}"
            )
        policy_loss = -(policy * torch.log_softmax(logits, dim=1)).sum(dim=1).mean()
        value_mse = (value - v).pow(2).mean()
        value_loss = self.config.value_weight * value_mse
        return {
            "loss": policy_loss + value_loss,
            "policy_loss": policy_loss,
            "value_loss": value_loss,
            "value_mse": value_mse,
            "policy_entropy_target": -torch.special.xlogy(policy, policy).sum(dim=1).mean(),
        }

    def _l2(self) -> torch.Tensor:
        with torch.no_grad():
            params = [p.detach() for p in self.model.parameters()]
            return _sum_of_squares(params).to(self.device) * self.config.weight_decay

    @staticmethod
    def _floats(terms: dict[str, torch.Tensor]) -> dict[str, float]:
        names = list(terms)
        values = torch.stack([terms[k].detach().float().reshape(()) for k in names]).tolist()  # one device sync
        return dict(zip(names, values, strict=True))

    def _backup_buffers(self) -> None:
        if self._buffers:
            torch._foreach_copy_(self._buffer_backup, self._buffers)

    def _restore_buffers(self) -> None:
        if self._buffers:
            with torch.no_grad():
                torch._foreach_copy_(self._buffers, self._buffer_backup)

    # --- training ---

    def train_step(self, planes: Any, policy: Any, value: Any) -> dict[str, float]:
        """One optimizer step on a batch: ``planes`` float ``[B, C, N, N]``, ``policy`` ``[B, N*N+1]`` target
        distributions, ``value`` ``[B]`` targets in [-1, 1] (numpy arrays or tensors; cast to float32). Returns the
        losses (see the module docstring) as floats. ValueError for bad shapes; FloatingPointError, with the model,
        its BatchNorm statistics, ``step`` and ``samples`` unchanged, if the loss is not finite."""
        b = self._check_shapes(planes, policy, value)
        planes, policy, value = self._tensor(planes), self._tensor(policy), self._tensor(value)
        lr = self.lr_at(self.samples)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        self.model.train()
        self._backup_buffers()
        self.optimizer.zero_grad(set_to_none=True)
        try:
            stats = self._backward(planes, policy, value, self.scaler)
        except BaseException:
            self.optimizer.zero_grad(set_to_none=True)
            self._restore_buffers()
            raise
        if not math.isfinite(stats["loss"]):
            self.optimizer.zero_grad(set_to_none=True)
            self._restore_buffers()
            raise FloatingPointError(
                f"non-finite loss at step {self.step} ({self.samples} samples): "
                + ", ".join(f"{k} {v:.6g}" for k, v in stats.items())
            )
        clip = self.config.grad_clip
        if self.scaler is not None:
            if clip is not None:
                self.scaler.unscale_(self.optimizer)
                nn.utils.clip_grad_norm_(self.model.parameters(), clip)
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            if clip is not None:
                nn.utils.clip_grad_norm_(self.model.parameters(), clip)
            self.optimizer.step()
        self.step += 1
        self.samples += b
        stats["lr"] = lr
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("step %d (%d samples): %s", self.step, self.samples, stats)
        return stats

    def gradient(self, planes: Any, policy: Any, value: Any) -> tuple[dict[str, float], int]:
        """The gradient of :meth:`train_step`'s loss on one batch at the current weights, left in the parameters'
        ``.grad`` (replaced, not accumulated; no AMP scaling, no clipping, no optimizer step, ``step`` and
        ``samples`` unchanged), with the losses as floats (:meth:`train_step`'s, less ``lr``) and the batch size. In
        train mode, so the BatchNorm running statistics move as in a step. ValueError for bad shapes; a loss that
        is not finite is returned as it is, for the caller to refuse (:mod:`igo.training.async_dp`'s workers)."""
        b = self._check_shapes(planes, policy, value)
        planes, policy, value = self._tensor(planes), self._tensor(policy), self._tensor(value)
        self.model.train()
        self.model.zero_grad(set_to_none=True)
        return self._backward(planes, policy, value), b

    def _backward(self, planes: torch.Tensor, policy: torch.Tensor, value: torch.Tensor, scaler=None) -> dict:
        """The loss terms of one batch as floats, after the (``scaler``-scaled) loss's backward pass."""
        terms = self._losses(planes, policy, value)
        terms["l2"] = self._l2()
        loss = terms["loss"]
        (scaler.scale(loss) if scaler is not None else loss).backward()
        return self._floats(terms)

    def wrap_ddp(self) -> None:
        """Train data-parallel: forward passes go through :class:`torch.nn.parallel.DistributedDataParallel`
        (the default process group must be initialised), so gradients are averaged over the ranks at every step
        and all ranks keep identical weights (rank 0's are broadcast now). See :mod:`igo.training.distributed`."""
        from torch.nn.parallel import DistributedDataParallel

        ids = [self.device.index or 0] if self.device.type == "cuda" else None
        self.forward_module = DistributedDataParallel(self.model, device_ids=ids)

    def evaluate(self, planes: Any, policy: Any, value: Any) -> dict[str, float]:
        """The losses of :meth:`train_step` (less ``lr``) on held-out data, in eval mode and without gradients, in
        chunks of ``config.batch_size`` (averaged over all positions). Changes nothing; the model's train/eval mode
        is put back."""
        n = self._check_shapes(planes, policy, value)
        was_training = self.model.training
        self.model.eval()
        totals: dict[str, torch.Tensor] = {}
        try:
            with torch.no_grad():
                for start in range(0, n, self.config.batch_size):
                    chunk = slice(start, min(start + self.config.batch_size, n))
                    terms = self._losses(
                        self._tensor(planes[chunk]), self._tensor(policy[chunk]), self._tensor(value[chunk])
                    )
                    size = chunk.stop - chunk.start
                    for k, v in terms.items():
                        totals[k] = totals.get(k, 0.0) + v * size
                result = {k: v / n for k, v in totals.items()}
                result["l2"] = self._l2()
                return self._floats(result)
        finally:
            self.model.train(was_training)

    # --- weights for actors ---

    def weights(self) -> dict[str, np.ndarray]:
        """CPU numpy copies of the model's weights for self-play actors (:func:`igo.nets.weights.model_to_numpy`;
        :func:`igo.nets.weights.load_numpy_weights` loads them)."""
        return model_to_numpy(self.model)

    # --- checkpoints ---

    def save(
        self,
        checkpoint_path: str | os.PathLike,
        *,
        extra: dict[str, Any] | None = None,
        parent: str | None = None,
        komi: float | None = None,
        rules: str | None = None,
    ) -> Path:
        """Write the checkpoint (weights, ``step``, ``parent``, ``extra`` plus ``samples`` and the learner config;
        ``komi`` and ``rules`` of the games it learnt from, when given) and the optimizer state next to it
        (:func:`igo.training.common.optimizer_path`), both atomically; returns the checkpoint path. ``extra`` must be
        JSON-serialisable and may not use the keys ``samples`` and ``learner``."""
        extra = dict(extra or {})
        clash = [k for k in RESERVED_EXTRA if k in extra]
        if clash:
            raise ValueError(f"extra may not set {', '.join(clash)} (the learner writes them)")
        return save_with_optimizer(
            checkpoint_path,
            self.model,
            self.optimizer,
            kind=self.config.optimizer,
            step=self.step,
            parent=parent,
            extra={"samples": self.samples, "learner": self.config.to_dict(), **extra},
            optimizer_meta={"samples": self.samples},
            scaler=self.scaler,
            komi=komi,
            rules=rules,
        )

    def _load_optimizer_state(self, checkpoint_path: Path) -> str | None:
        """Restore the optimizer (and GradScaler) saved beside ``checkpoint_path``, then apply the config's
        hyper-parameters; the reason as a string (and a fresh optimizer) if it cannot be used."""
        reason = load_optimizer(
            self.optimizer,
            checkpoint_path,
            kind=self.config.optimizer,
            step=self.step,
            expect={"samples": self.samples},
            scaler=self.scaler,
        )
        if reason is not None:
            self.optimizer = self._build_optimizer()
            return reason
        self._apply_hyperparameters()
        return None

    @classmethod
    def resume(cls, checkpoint_path: str | os.PathLike, config: LearnerConfig | None = None) -> ZeroLearner:
        """A learner continuing from a checkpoint :meth:`save` wrote: its weights, ``step`` and ``samples``, its
        learner config unless ``config`` is given (which then wins, e.g. for a new schedule), and the optimizer state
        when the ``.optim.safetensors`` file is there and fits (a warning and a fresh optimizer otherwise). A Zero
        checkpoint without learner metadata starts at 0 samples with ``config`` or the default config.
        CheckpointError for an unreadable checkpoint or bad learner metadata. Never unpickles."""
        path = Path(checkpoint_path)
        model, meta = load_checkpoint(path, expect_kind="zero")
        samples = meta.extra.get("samples", 0)
        if isinstance(samples, bool) or not isinstance(samples, int) or samples < 0:
            raise CheckpointError(f"checkpoint {path}: extra.samples must be a non-negative int, got {samples!r}")
        if config is None:
            stored = meta.extra.get("learner")
            if stored is None:
                logger.warning("checkpoint %s has no learner config; using the defaults", path)
                config = LearnerConfig()
            else:
                try:
                    config = LearnerConfig.from_dict(stored)
                except (ValueError, TypeError) as e:
                    raise CheckpointError(f"checkpoint {path}: bad learner config ({e})") from None
        learner = cls(model, config, step=meta.step, samples=samples)
        optim_path = optimizer_path(path)
        if not optim_path.is_file():
            logger.warning("no optimizer state %s; starting the optimizer fresh", optim_path)
        else:
            reason = learner._load_optimizer_state(path)
            if reason is not None:
                logger.warning("not using optimizer state %s: %s; starting the optimizer fresh", optim_path, reason)
            else:
                logger.info("restored optimizer state %s", optim_path)
        logger.info("resumed %s at step %d, %d samples", path, learner.step, learner.samples)
        return learner


__all__ = [
    "AMP_MODES",
    "LearnerConfig",
    "ZeroLearner",
]
