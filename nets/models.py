"""Building networks from configurations, and small helpers shared by inference and training.

:func:`build_model` turns a configuration of :mod:`igo.nets.config` and a board size into a freshly initialised module
with ``config`` and ``board_size`` attributes (what :mod:`igo.nets.checkpoint` stores and :mod:`igo.nets.evaluator`
checks).
:func:`parameter_count` and :func:`count_flops` (multiply-accumulates per position) measure a network;
:func:`masked_log_softmax` is the softmax over legal moves used for both: illegal moves get probability exactly 0 and
the result is never NaN, even for a row without a legal move.
"""

from __future__ import annotations

import logging

import torch
from torch import nn

from igo.engine.coords import MAX_SIZE, MIN_SIZE

from .config import Config, LeePolicyConfig, LeeValueConfig, RolloutConfig, ZeroConfig, describe

logger = logging.getLogger(__name__)

MIN_BOARD_SIZE = MIN_SIZE  # the board's limits: a network exists for every board igo plays
MAX_BOARD_SIZE = MAX_SIZE
ILLEGAL_LOGIT = -1e9


def check_board_size(board_size: object) -> int:
    """``board_size`` as an int if it is one in 2..25 (the board's sizes); ValueError otherwise."""
    if isinstance(board_size, bool) or not isinstance(board_size, int):
        raise ValueError(f"board_size must be an int, got {board_size!r}")
    if not MIN_BOARD_SIZE <= board_size <= MAX_BOARD_SIZE:
        raise ValueError(f"board_size must be in {MIN_BOARD_SIZE}..{MAX_BOARD_SIZE}, got {board_size}")
    return board_size


def build_model(config: Config, board_size: int) -> nn.Module:
    """A new network for ``config`` on a ``board_size`` x ``board_size`` board (PyTorch's default initialisation,
    so seed with ``torch.manual_seed`` for reproducible weights). Builds under the current default device, so
    ``with torch.device("meta"):`` gives a weightless model for counting parameters."""
    board_size = check_board_size(board_size)
    if isinstance(config, ZeroConfig):
        from .zero import ZeroNet

        model = ZeroNet(config, board_size)
    elif isinstance(config, LeePolicyConfig):
        from .lee import LeePolicyNet

        model = LeePolicyNet(config, board_size)
    elif isinstance(config, LeeValueConfig):
        from .lee import LeeValueNet

        model = LeeValueNet(config, board_size)
    elif isinstance(config, RolloutConfig):
        try:
            from .rollout import RolloutPolicy
        except ImportError as e:
            raise ImportError(
                f"cannot build {config.name!r}: rollout models need nets.rollout.RolloutPolicy, which failed to "
                f"import ({e})"
            ) from e
        model = RolloutPolicy(config, board_size)
    else:
        raise ValueError(f"not a network config: {config!r}")
    logger.debug("built %s on %dx%d", describe(config), board_size, board_size)
    return model


def parameter_count(model: nn.Module) -> int:
    """Number of parameters (trainable or not; buffers such as BN statistics excluded)."""
    return sum(p.numel() for p in model.parameters())


def count_flops(model: nn.Module, board_size: int) -> int:
    """Multiply-accumulates (MACs) of one forward pass of ``model`` over one position on a ``board_size`` board.

    Counted from the modules, by running one forward pass of a zero input (batch 1, ``config.input_planes`` planes,
    on the model's device; a model built on the ``meta`` device costs nothing) with hooks on every ``nn.Conv2d`` and
    ``nn.Linear``: a conv adds ``output elements * in_channels / groups * kernel height * kernel width``, a linear
    layer ``in_features * out_features`` per output row. Biases, batch norm, activations, the residual sums and the
    zero padding of shortcuts are not counted (a few elementwise operations per output, small beside the MACs).
    Multiply by 2 for floating-point operations. The model's ``board_size`` (when it has one) must be
    ``board_size``: its linear heads are sized for it. The model is run in eval mode (its mode is restored after)
    under ``torch.inference_mode``, so no statistic or gradient changes. ValueError for a model without input
    planes (the rollout policy) or for a wrong board size."""
    board_size = check_board_size(board_size)
    own = getattr(model, "board_size", None)
    if own is not None and own != board_size:
        raise ValueError(f"board_size {board_size} is not the model's ({own})")
    config = getattr(model, "config", None)
    planes = getattr(config, "input_planes", 0)
    if not planes:
        name = getattr(config, "name", type(model).__name__)
        raise ValueError(f"cannot count the FLOPs of {name!r}: it takes no input planes")
    total = 0

    def conv_hook(module: nn.Conv2d, inputs, output: torch.Tensor) -> None:
        nonlocal total
        kh, kw = module.kernel_size
        total += output[0].numel() * (module.in_channels // module.groups) * kh * kw

    def linear_hook(module: nn.Linear, inputs, output: torch.Tensor) -> None:
        nonlocal total
        total += (output[0].numel() // module.out_features) * module.in_features * module.out_features

    handles = []
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            handles.append(m.register_forward_hook(conv_hook))
        elif isinstance(m, nn.Linear):
            handles.append(m.register_forward_hook(linear_hook))
    param = next(model.parameters(), None)
    device = param.device if param is not None else torch.device("cpu")
    dtype = param.dtype if param is not None and param.is_floating_point() else torch.float32
    training = model.training
    try:
        model.eval()
        with torch.inference_mode():
            model(torch.zeros(1, planes, board_size, board_size, device=device, dtype=dtype))
    finally:
        model.train(training)
        for h in handles:
            h.remove()
    return total


def masked_log_softmax(logits: torch.Tensor, legal_mask: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """``log_softmax`` of ``logits`` over the moves where ``legal_mask`` (bool, broadcastable) is True.

    Illegal moves get the logit :data:`ILLEGAL_LOGIT` (-1e9) before the softmax, so their probability is exactly 0 and
    their log-probability hugely negative but finite: a cross-entropy term ``0 * log p`` is 0, not NaN, and sums do
    not overflow. A row with no legal move comes out uniform (finite, never NaN); callers should not rely on its
    values. Half-precision logits are computed (and returned) in float32."""
    if legal_mask.dtype != torch.bool:
        legal_mask = legal_mask.bool()
    if logits.dtype in (torch.float16, torch.bfloat16):
        logits = logits.float()
    return torch.log_softmax(logits.masked_fill(~legal_mask, ILLEGAL_LOGIT), dim=dim)


__all__ = [
    "ILLEGAL_LOGIT",
    "MAX_BOARD_SIZE",
    "MIN_BOARD_SIZE",
    "build_model",
    "check_board_size",
    "count_flops",
    "masked_log_softmax",
    "parameter_count",
]
