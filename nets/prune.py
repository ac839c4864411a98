"""Pruning igo's networks: magnitude (unstructured) pruning of every layer, filter (structured) pruning of Zero
residual blocks, and the retraining that recovers the accuracy lost.

**Magnitude pruning** (Han et al. 2015, "Learning both Weights and Connections for Efficient Neural Networks"): in every
convolution and fully connected layer (:func:`prunable_weights`: the ``weight`` of each ``nn.Conv2d`` and ``nn.Linear``;
biases, batch-norm parameters and the AlphaGo policy's per-point bias are kept) the weights whose magnitude is below
``alpha`` times the standard deviation of that layer's weights (the population one, ``std`` with no Bessel correction)
become 0 (:func:`magnitude_masks`, :func:`apply_masks`). ``alpha`` is the paper's "quality parameter": 0 prunes nothing,
1 removes about 68% of a layer whose weights are normal (``erf(1/sqrt 2)``), 1.5 about 87% (measured on the 9x9
zero-b6c64 candidate: 69.6% and 87.5%). A layer of a few weights can lie wholly below its threshold, or wholly above it
(a 1x1 head conv of 8 weights far from 0 on average). The masks are kept, and :func:`retrain` trains the survivors while
the pruned weights stay exactly 0 (their gradients are masked before each optimizer step and the weights masked again
after it, so momentum and weight decay cannot revive them). The zeros are stored in an ordinary checkpoint, which loads
everywhere; dense kernels gain no speed from them (the network is as large as before, only compressible).

**Filter pruning** (Li et al. 2017, "Pruning Filters for Efficient ConvNets"): in each residual block of a Zero net
of ``basic`` or ``preact`` blocks (:class:`igo.nets.zero.BasicBlock`, :class:`~igo.nets.zero.PreActBlock`), the
output filters of the block's first 3x3 convolution are ranked by their L1 norm (the sum of the magnitudes of their
weights) and the weakest removed, with the batch-norm channels that follow them and the matching input channels of
the block's second convolution (:func:`prune_filters`). The block's output width (``channels``, which the skip
connection fixes) does not change; its inner width becomes ``round(keep * width)`` (at least 1), recorded in the new
config's ``mid_channels``, and the network is genuinely smaller: a dense CPU convolution runs faster. Without
retraining the smaller network computes exactly what the original computes with the removed channels silenced.

Both work on a model built by :func:`igo.nets.models.build_model` (or loaded by :func:`igo.nets.checkpoint.
load_checkpoint`). :func:`layer_table` measures what was removed, layer by layer, from the weights themselves, as in
Han et al.'s tables. Retraining reads batches of encoded positions, ``(planes uint8 [B, C, N, N], flat move targets
int64 [B], value targets int8 [B])`` as :class:`igo.training.sgf_data.PositionStream` gives them (``igo model prune
--sgf`` builds one), or a Zero replay buffer's samples with distributions as policy targets (``float32 [B, N*N+1]``,
``--replay``); the loss is that of ``igo train sl`` (or ``igo train zero``): the policy's cross-entropy on the
expert's move (or the search's visit distribution), plus for a Zero net ``value_weight`` times the value's squared
error over the positions with a result (z != 0).
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .config import MAX_NAME, ZeroConfig
from .models import build_model

logger = logging.getLogger(__name__)

FILTER_BLOCKS = ("basic", "preact")
"""The block kinds :func:`prune_filters` prunes (a bottleneck block's inner width is ``bottleneck_channels``)."""
MAX_ALPHA = 100.0  # far beyond any useful threshold (alpha 5 already removes all but 6 weights in 10 million)
PRUNED_SUFFIX = "-pruned"


# --- measuring ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LayerPruning:
    """One row of :func:`layer_table`: the parameter ``name`` (``tower.0.conv1.weight``), its ``params``, how many of
    them are 0 (``removed``) and the layer's dense multiply-adds per position (``macs``: a convolution's weights
    times the ``N*N`` points, a linear layer's weights)."""

    name: str
    params: int
    removed: int
    macs: int

    @property
    def fraction(self) -> float:
        """The share of the layer's weights that are 0."""
        return self.removed / self.params if self.params else 0.0


def prunable_weights(model: nn.Module) -> list[tuple[str, nn.Parameter]]:
    """``(name, weight)`` of every ``nn.Conv2d`` and ``nn.Linear`` of ``model``, in module order (the names of its
    ``state_dict``); biases and batch norm are not pruned. ValueError for a model without any (the rollout policy)."""
    out = [(f"{name}.weight", m.weight) for name, m in model.named_modules() if isinstance(m, nn.Conv2d | nn.Linear)]
    if not out:
        kind = getattr(getattr(model, "config", None), "kind", type(model).__name__)
        raise ValueError(f"a {kind} network has no convolution or linear layer to prune")
    return out


def layer_table(model: nn.Module) -> list[LayerPruning]:
    """Every prunable layer of ``model`` with its count of zero weights, measured from the weights."""
    n2 = int(getattr(model, "board_size", 1)) ** 2
    rows = []
    modules = dict(model.named_modules())
    for name, w in prunable_weights(model):
        module = modules[name.rsplit(".", 1)[0]]
        macs = w.numel() * (n2 if isinstance(module, nn.Conv2d) else 1)
        rows.append(LayerPruning(name, w.numel(), int((w == 0).sum()), macs))
    return rows


def table_totals(rows: Iterable[LayerPruning]) -> LayerPruning:
    """The total of ``rows`` as one row named ``total``."""
    rows = list(rows)
    return LayerPruning("total", sum(r.params for r in rows), sum(r.removed for r in rows), sum(r.macs for r in rows))


def format_table(rows: list[LayerPruning], *, reference: list[LayerPruning] | None = None) -> list[str]:
    """The per-layer table as lines, in the shape of Han et al.'s: layer, weights, weights removed and their share,
    the dense multiply-adds per position the layer runs and their share of the unpruned layer's, and the total.
    ``reference`` is the unpruned net's rows (matched by name): a filter-pruned net has fewer weights and
    multiply-adds than it, and what it lacks counts as removed. Without one the rows are their own reference (zeros
    are removed weights; a dense kernel still runs all of them)."""
    ref = {r.name: r for r in reference} if reference is not None else {}
    width = max([len(r.name) for r in rows] + [5])
    out = [f"{'layer':{width}}  {'weights':>10}  {'removed':>10}  {'% removed':>9}  {'MACs/pos':>11}  {'% MACs':>6}"]

    def line(r: LayerPruning, base: LayerPruning | None) -> str:
        base = base if base is not None else r
        removed = base.params - r.params + r.removed
        share = 100.0 * removed / base.params if base.params else 0.0
        macs = 100.0 * r.macs / base.macs if base.macs else 0.0
        return f"{r.name:{width}}  {base.params:>10,}  {removed:>10,}  {share:>8.1f}%  {r.macs:>11,}  {macs:>5.0f}%"

    for r in rows:
        out.append(line(r, ref.get(r.name)))
    out.append(line(table_totals(rows), table_totals(reference) if reference is not None else None))
    return out


# --- magnitude pruning -------------------------------------------------------------------------------------------


def check_alpha(alpha: object) -> float:
    """``alpha`` as a float when it is a finite number in 0..MAX_ALPHA; ValueError naming ``--alpha`` otherwise."""
    if isinstance(alpha, bool) or not isinstance(alpha, int | float) or not math.isfinite(alpha):
        raise ValueError(f"--alpha must be a finite number, got {alpha!r}")
    if not 0 <= alpha <= MAX_ALPHA:
        raise ValueError(f"--alpha must be in 0..{MAX_ALPHA:g} (the threshold in standard deviations), got {alpha}")
    return float(alpha)


@torch.no_grad()
def magnitude_masks(model: nn.Module, alpha: float) -> dict[str, torch.Tensor]:
    """Keep-masks (bool, the weights' shapes) of magnitude pruning: in every layer of :func:`prunable_weights`, False
    where ``|w| < alpha * std(w)`` (the layer's population standard deviation). The model is not changed."""
    alpha = check_alpha(alpha)
    masks = {}
    for name, w in prunable_weights(model):
        threshold = alpha * float(w.detach().float().std(correction=0)) if w.numel() > 1 else 0.0
        masks[name] = w.detach().abs() >= threshold
    return masks


@torch.no_grad()
def apply_masks(model: nn.Module, masks: dict[str, torch.Tensor]) -> None:
    """Zero the weights of ``model`` where their mask is False (in place). ValueError for a mask of a name or shape
    that ``model`` does not have."""
    params = dict(model.named_parameters())
    for name, mask in masks.items():
        p = params.get(name)
        if p is None:
            raise ValueError(f"mask for {name!r}, which the model does not have")
        if tuple(mask.shape) != tuple(p.shape):
            raise ValueError(f"mask for {name} has shape {tuple(mask.shape)}, the weight {tuple(p.shape)}")
        p.mul_(mask.to(device=p.device, dtype=p.dtype))


def prune_magnitude(model: nn.Module, alpha: float) -> dict[str, torch.Tensor]:
    """Magnitude-prune ``model`` in place (:func:`magnitude_masks` then :func:`apply_masks`) and return the masks,
    which :func:`retrain` keeps."""
    masks = magnitude_masks(model, alpha)
    apply_masks(model, masks)
    return masks


# --- filter pruning ----------------------------------------------------------------------------------------------


def check_keep(keep: object) -> float:
    """``keep`` as a float when it is a number in (0, 1]; ValueError naming ``--keep`` otherwise."""
    if isinstance(keep, bool) or not isinstance(keep, int | float) or not math.isfinite(keep):
        raise ValueError(f"--keep must be a number in (0, 1], got {keep!r}")
    if not 0 < keep <= 1:
        raise ValueError(f"--keep must be in (0, 1] (the share of each block's inner filters kept), got {keep}")
    return float(keep)


def _first_conv_and_bn(block: nn.Module, kind: str) -> tuple[nn.Conv2d, nn.BatchNorm2d, nn.Conv2d]:
    """The block's first 3x3 conv, the BN that normalises its output and the conv that reads it."""
    if kind == "basic":
        return block.conv1, block.bn1, block.conv2
    return block.conv1, block.bn2, block.conv2  # preact: bn1 normalises the block's input, bn2 conv1's output


def _check_filter_model(model: nn.Module) -> ZeroConfig:
    cfg = getattr(model, "config", None)
    if not isinstance(cfg, ZeroConfig):
        kind = getattr(cfg, "kind", type(model).__name__)
        raise ValueError(f"--structured prunes the filters of Zero nets' residual blocks, not a {kind} net")
    if cfg.block not in FILTER_BLOCKS:
        raise ValueError(f"--structured prunes {' and '.join(FILTER_BLOCKS)} blocks; {cfg.name} has {cfg.block} blocks")
    if "mid_channels" not in {f.name for f in dataclasses.fields(ZeroConfig)}:
        raise ValueError("this igo's ZeroConfig has no mid_channels field: it cannot describe a filter-pruned net")
    return cfg


def filter_norms(model: nn.Module) -> list[torch.Tensor]:
    """The L1 norm of every output filter of each residual block's first 3x3 conv (one float32 vector per block,
    the ranking of :func:`prune_filters`)."""
    cfg = _check_filter_model(model)
    out = []
    for block in model.tower:
        conv, _, _ = _first_conv_and_bn(block, cfg.block)
        out.append(conv.weight.detach().abs().sum(dim=(1, 2, 3)).float().cpu())
    return out


def kept_filters(model: nn.Module, keep: float) -> list[torch.Tensor]:
    """The indices (int64, ascending) of the filters :func:`prune_filters` keeps in each block: the
    ``max(1, round(keep * width))`` of largest L1 norm (ties go to the lower index)."""
    keep = check_keep(keep)
    out = []
    for norms in filter_norms(model):
        n = max(1, round(keep * len(norms)))
        order = torch.argsort(-norms, stable=True)
        out.append(torch.sort(order[:n]).values)
    return out


@torch.no_grad()
def prune_filters(model: nn.Module, keep: float) -> tuple[nn.Module, list[torch.Tensor]]:
    """A new, smaller Zero net: each residual block keeps the ``keep`` share of its first conv's output filters of
    largest L1 norm (:func:`kept_filters`) with their batch-norm channels (weights and running statistics) and the
    matching input channels of its second conv; everything else is copied. Its config is the original's with
    ``mid_channels`` (the blocks' inner widths) and the name suffixed ``-pruned``. Returns the network (in the
    original's training mode, on its device) and the kept indices. ``model`` is not changed. ValueError for a net
    that is not a Zero net of basic or preact blocks, or a bad ``keep``."""
    cfg = _check_filter_model(model)
    kept = kept_filters(model, keep)
    name = cfg.name if cfg.name.endswith(PRUNED_SUFFIX) else cfg.name[: MAX_NAME - len(PRUNED_SUFFIX)] + PRUNED_SUFFIX
    new_cfg = dataclasses.replace(cfg, name=name, mid_channels=tuple(len(k) for k in kept))
    device = next(model.parameters()).device
    state = {k: v.clone() for k, v in model.state_dict().items()}
    modules = {id(m): n for n, m in model.named_modules()}
    for block, idx in zip(model.tower, kept, strict=True):
        conv1, bn, conv2 = _first_conv_and_bn(block, cfg.block)
        i = idx.to(device)
        state[f"{modules[id(conv1)]}.weight"] = conv1.weight.index_select(0, i).clone()
        for key in ("weight", "bias", "running_mean", "running_var"):
            state[f"{modules[id(bn)]}.{key}"] = getattr(bn, key).index_select(0, i).clone()
        state[f"{modules[id(conv2)]}.weight"] = conv2.weight.index_select(1, i).clone()
    with torch.device(device):
        smaller = build_model(new_cfg, model.board_size)
    smaller.load_state_dict(state, strict=True)  # the shapes of the smaller net: a slip here is a bug, not input
    smaller.train(model.training)
    return smaller, kept


# --- retraining --------------------------------------------------------------------------------------------------


@dataclass
class RetrainStatus:
    """Where :func:`retrain` stands, given to ``on_status`` after every step: running means over the steps since the
    last report."""

    step: int
    steps: int
    loss: float
    policy_loss: float
    value_mse: float | None  # Zero nets, over the positions with a result
    top1: float  # training batches' policy top-1
    positions_per_s: float
    elapsed: float

    def line(self) -> str:
        value = "" if self.value_mse is None else f" value MSE {self.value_mse:.3f}"
        return (
            f"retrain step {self.step}/{self.steps} loss {self.loss:.3f} policy {self.policy_loss:.3f}{value} "
            f"top-1 {100 * self.top1:.1f}% {self.positions_per_s:.0f} pos/s"
        )


@dataclass
class RetrainResult:
    """What :func:`retrain` did: ``steps``, ``positions`` trained on, ``seconds``, and the last status (None after
    0 steps)."""

    steps: int
    positions: int
    seconds: float
    last: RetrainStatus | None


def check_retrain_settings(steps: int, lr: float, momentum: float, weight_decay: float, value_weight: float) -> None:
    """ValueError naming the flag (``--retrain-steps``, ``--lr``, ``--momentum``, ``--weight-decay``,
    ``--value-weight``) for a setting out of range."""

    def finite(x) -> bool:
        return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)

    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
        raise ValueError(f"--retrain-steps must be an integer >= 0, got {steps!r}")
    if not (finite(lr) and lr > 0):
        raise ValueError(f"--lr must be a positive number, got {lr!r}")
    if not (finite(momentum) and 0 <= momentum < 1):
        raise ValueError(f"--momentum must be in [0, 1), got {momentum!r}")
    if not (finite(weight_decay) and weight_decay >= 0):
        raise ValueError(f"--weight-decay must be >= 0, got {weight_decay!r}")
    if not (finite(value_weight) and value_weight >= 0):
        raise ValueError(f"--value-weight must be >= 0, got {value_weight!r}")


def retrain(
    model: nn.Module,
    batches: Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]],
    steps: int,
    *,
    masks: dict[str, torch.Tensor] | None = None,
    lr: float = 0.002,
    momentum: float = 0.9,
    weight_decay: float = 1e-4,
    value_weight: float = 1.0,
    report_every: int = 10,
    on_status: Callable[[RetrainStatus], None] | None = None,
) -> RetrainResult:
    """Train ``model`` (a Zero net's both heads, or an AlphaGo policy net) for ``steps`` SGD steps (``lr``,
    ``momentum``, ``weight_decay``) on ``batches`` (see the module docstring), keeping every weight whose mask in
    ``masks`` is False at exactly 0. The loss is the policy's cross-entropy, plus ``value_weight`` times the value's
    mean squared error over the positions with a result for a Zero net. ``on_status`` gets a
    :class:`RetrainStatus` every ``report_every`` steps and after the last. The model is left in eval mode, on its
    device. ValueError for a network kind it cannot train (a value or rollout net) or a setting out of range."""
    kind = getattr(getattr(model, "config", None), "kind", None)
    if kind not in ("zero", "lee-policy"):
        raise ValueError(f"retraining needs a Zero or an AlphaGo policy net (what igo train sl trains), not a {kind} "
                         "net")  # fmt: skip
    check_retrain_settings(steps, lr, momentum, weight_decay, value_weight)
    if isinstance(report_every, bool) or not isinstance(report_every, int) or report_every < 1:
        raise ValueError(f"report_every must be an integer >= 1, got {report_every!r}")
    zero = kind == "zero"
    device = next(model.parameters()).device
    params = dict(model.named_parameters())
    if masks:
        apply_masks(model, masks)  # names and shapes checked; a mask that was not applied yet is applied now
    pairs = [(params[name], mask.to(device=device, dtype=params[name].dtype)) for name, mask in (masks or {}).items()]
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay)
    t0 = time.monotonic()
    window = {"loss": 0.0, "policy": 0.0, "verr": 0.0, "vn": 0, "top1": 0, "n": 0, "t": t0}
    last: RetrainStatus | None = None
    positions = 0
    model.train()
    for step in range(1, steps + 1):
        planes, target, value_target = next(batches)
        x = torch.from_numpy(np.asarray(planes)).to(device).float()
        y = torch.from_numpy(np.asarray(target)).to(device)
        out = model(x)
        if zero:
            logits, value = out[0], out[1]
            z = torch.from_numpy(np.asarray(value_target)).to(device)
            has = z != 0
            err = ((value - z.to(value.dtype)).pow(2) * has).sum()
            policy_loss = F.cross_entropy(logits, y)
            loss = policy_loss + value_weight * err / has.sum().clamp(min=1)
            window["verr"] += float(err.detach())
            window["vn"] += int(has.sum())
        else:
            logits = out
            loss = policy_loss = F.cross_entropy(logits, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        with torch.no_grad():
            for p, mask in pairs:  # no gradient, hence no momentum, for a pruned weight
                if p.grad is not None:
                    p.grad.mul_(mask)
        optimizer.step()
        with torch.no_grad():
            for p, mask in pairs:  # weight decay of a 0 is 0, but keep the guarantee exact whatever the optimizer
                p.mul_(mask)
        b = len(y)
        positions += b
        window["loss"] += float(loss.detach()) * b
        window["policy"] += float(policy_loss.detach()) * b
        hard = y if y.dim() == 1 else y.argmax(dim=1)  # a visit distribution's most visited move
        window["top1"] += int((logits.detach().argmax(dim=1) == hard).sum())
        window["n"] += b
        if step % report_every == 0 or step == steps:
            now = time.monotonic()
            n = window["n"]
            last = RetrainStatus(
                step=step, steps=steps, loss=window["loss"] / n, policy_loss=window["policy"] / n,
                value_mse=(window["verr"] / window["vn"] if window["vn"] else None) if zero else None,
                top1=window["top1"] / n, positions_per_s=n / max(now - window["t"], 1e-9), elapsed=now - t0,
            )  # fmt: skip
            window.update(loss=0.0, policy=0.0, verr=0.0, vn=0, top1=0, n=0, t=now)
            if on_status is not None:
                on_status(last)
    model.eval()
    return RetrainResult(steps=steps, positions=positions, seconds=time.monotonic() - t0, last=last)


__all__ = [
    "FILTER_BLOCKS",
    "LayerPruning",
    "MAX_ALPHA",
    "RetrainResult",
    "RetrainStatus",
    "apply_masks",
    "check_alpha",
    "check_keep",
    "check_retrain_settings",
    "filter_norms",
    "format_table",
    "kept_filters",
    "layer_table",
    "magnitude_masks",
    "prunable_weights",
    "prune_filters",
    "prune_magnitude",
    "retrain",
    "table_totals",
]
