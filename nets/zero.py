"""The AlphaGo Zero network: a residual tower with a policy head (``N*N + 1`` logits, pass last) and a value head.

Layout (Silver et al. 2017, "Methods: neural network architecture"):

- stem: 3x3 conv to ``channels`` -> BN -> ReLU;
- ``blocks`` residual blocks, one of six kinds:

  - ``basic``: conv3x3 -> BN -> ReLU -> conv3x3 -> BN -> + input -> ReLU (the paper's block);
  - ``preact``: BN -> ReLU -> conv3x3 -> BN -> ReLU -> conv3x3 -> + input (He et al. 2016, identity mappings); the
    tower then ends with BN -> ReLU, since the last block's output has not been normalised;
  - ``bottleneck``: conv1x1 down to ``bottleneck_channels`` -> BN -> ReLU -> conv3x3 -> BN -> ReLU -> conv1x1 up ->
    BN -> + input -> ReLU;
  - ``wide`` (WideResNet, Zagoruyko & Komodakis 2016): pre-activation blocks of ``channels * widen`` channels. The
    paper's three groups of widths ``16k, 32k, 64k`` double the width where they halve the resolution, which keeps
    the cost per group about level; a Go network must keep the board's resolution (every point gets a policy
    logit), so doubling would only quadruple the cost of each later group. Here every group has the same width
    ``k * channels`` (the groups merge into one tower), and the paper's 1x1 projection shortcut sits where the
    width changes: in the first block, from the stem's ``channels`` (the paper's 16) to ``k * channels``; its
    input BN-ReLU is shared by the shortcut and the residual branch, as in the authors' code. No dropout (AlphaGo
    Zero nets train on a stream of fresh self-play positions). Ends with BN -> ReLU, as ``preact``;
  - ``pyramid`` (PyramidNet, Han, Kim & Kim 2017, additive): block ``k`` of ``blocks`` widens to
    ``floor(channels + alpha * k / blocks)``: BN -> conv3x3 -> BN -> ReLU -> conv3x3 -> BN -> + the input
    zero-padded to the new width (the paper's parameter-free shortcut; no downsampling). Ends with BN -> ReLU, as
    in the paper;
  - ``mobile`` (MobileNetV2 inverted residual, Sandler et al. 2018; for Go, Cazenave 2020, "Mobile Networks for
    Computer Go"): conv1x1 expand to ``channels * expansion`` -> BN -> ReLU6 -> depthwise conv3x3 (one filter per
    expanded channel) -> BN -> ReLU6 -> conv1x1 project back to ``channels`` -> BN (linear: no activation) ->
    + input;

- policy head: conv1x1 to ``policy_filters`` -> BN -> ReLU -> linear to ``N*N + 1`` logits;
- value head: conv1x1 to ``value_filters`` -> BN -> ReLU -> linear to ``value_hidden`` -> ReLU -> linear to 1 -> tanh.

The heads read the tower's output, ``config.tower_width`` channels. Convolutions followed by BN have no bias (BN's
shift does that job). Input ``[B, 2*history + 1, N, N]`` float (the ``zeroH`` feature set of
:mod:`igo.engine.features`); the value is for the player to move. The module works in channels-last memory format
and under ``torch.autocast``.
"""

from __future__ import annotations

import logging

import torch
import torch.nn.functional as F
from torch import nn

from .config import ZeroConfig

logger = logging.getLogger(__name__)


def _conv(cin: int, cout: int, k: int) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, k, padding=k // 2, bias=False)


class BasicBlock(nn.Module):
    """conv3x3-BN-ReLU-conv3x3-BN, add the input, ReLU; ``mid`` channels between the convs (default ``channels``)."""

    def __init__(self, channels: int, mid: int | None = None):
        super().__init__()
        mid = channels if mid is None else mid
        self.conv1 = _conv(channels, mid, 3)
        self.bn1 = nn.BatchNorm2d(mid)
        self.conv2 = _conv(mid, channels, 3)
        self.bn2 = nn.BatchNorm2d(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return torch.relu(x + y)


class PreActBlock(nn.Module):
    """BN-ReLU-conv3x3-BN-ReLU-conv3x3, add the input (no activation after the sum); ``mid`` channels between the
    convs (default ``channels``)."""

    def __init__(self, channels: int, mid: int | None = None):
        super().__init__()
        mid = channels if mid is None else mid
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv1 = _conv(channels, mid, 3)
        self.bn2 = nn.BatchNorm2d(mid)
        self.conv2 = _conv(mid, channels, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv1(torch.relu(self.bn1(x)))
        y = self.conv2(torch.relu(self.bn2(y)))
        return x + y


class BottleneckBlock(nn.Module):
    """conv1x1 down-BN-ReLU-conv3x3-BN-ReLU-conv1x1 up-BN, add the input, ReLU."""

    def __init__(self, channels: int, inner: int):
        super().__init__()
        self.conv1 = _conv(channels, inner, 1)
        self.bn1 = nn.BatchNorm2d(inner)
        self.conv2 = _conv(inner, inner, 3)
        self.bn2 = nn.BatchNorm2d(inner)
        self.conv3 = _conv(inner, channels, 1)
        self.bn3 = nn.BatchNorm2d(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.relu(self.bn1(self.conv1(x)))
        y = torch.relu(self.bn2(self.conv2(y)))
        y = self.bn3(self.conv3(y))
        return torch.relu(x + y)


class WideBlock(nn.Module):
    """WideResNet's pre-activation block from ``cin`` to ``cout`` channels: BN-ReLU-conv3x3-BN-ReLU-conv3x3, add the
    input, or where the width changes a 1x1 conv of the pre-activated input (``shortcut``)."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(cin)
        self.conv1 = _conv(cin, cout, 3)
        self.bn2 = nn.BatchNorm2d(cout)
        self.conv2 = _conv(cout, cout, 3)
        self.shortcut = _conv(cin, cout, 1) if cin != cout else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        o = torch.relu(self.bn1(x))
        y = self.conv2(torch.relu(self.bn2(self.conv1(o))))
        return (x if self.shortcut is None else self.shortcut(o)) + y


class PyramidBlock(nn.Module):
    """PyramidNet's block from ``cin`` to ``cout`` >= ``cin`` channels: BN-conv3x3-BN-ReLU-conv3x3-BN, add the input
    zero-padded with ``cout - cin`` channels (no activation after the sum)."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        if cout < cin:
            raise ValueError(f"a pyramid block cannot narrow ({cin} -> {cout} channels)")
        self.pad = cout - cin
        self.bn1 = nn.BatchNorm2d(cin)
        self.conv1 = _conv(cin, cout, 3)
        self.bn2 = nn.BatchNorm2d(cout)
        self.conv2 = _conv(cout, cout, 3)
        self.bn3 = nn.BatchNorm2d(cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.relu(self.bn2(self.conv1(self.bn1(x))))
        y = self.bn3(self.conv2(y))
        if self.pad:
            x = F.pad(x, (0, 0, 0, 0, 0, self.pad))  # (W, H, C): new channels of zeros after the old ones
        return x + y


class MobileBlock(nn.Module):
    """MobileNetV2's inverted residual: conv1x1 to ``hidden`` channels-BN-ReLU6, depthwise conv3x3-BN-ReLU6,
    conv1x1 back to ``channels``-BN, add the input (no activation after the sum)."""

    def __init__(self, channels: int, hidden: int):
        super().__init__()
        self.conv1 = _conv(channels, hidden, 1)
        self.bn1 = nn.BatchNorm2d(hidden)
        self.conv2 = nn.Conv2d(hidden, hidden, 3, padding=1, groups=hidden, bias=False)
        self.bn2 = nn.BatchNorm2d(hidden)
        self.conv3 = _conv(hidden, channels, 1)
        self.bn3 = nn.BatchNorm2d(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu6(self.bn1(self.conv1(x)))
        y = F.relu6(self.bn2(self.conv2(y)))
        return x + self.bn3(self.conv3(y))


def _tower(config: ZeroConfig) -> list[nn.Module]:
    """The residual blocks of ``config``'s tower."""
    c = config.channels
    if config.block == "basic":
        return [BasicBlock(c, m) for m in config.mid_widths]
    if config.block == "preact":
        return [PreActBlock(c, m) for m in config.mid_widths]
    if config.block == "bottleneck":
        return [BottleneckBlock(c, config.bottleneck_width) for _ in range(config.blocks)]
    if config.block == "wide":
        w = config.tower_width
        return [WideBlock(c if i == 0 else w, w) for i in range(config.blocks)]
    if config.block == "pyramid":
        widths = (c, *config.pyramid_widths)
        return [PyramidBlock(widths[i], widths[i + 1]) for i in range(config.blocks)]
    if config.block == "mobile":
        return [MobileBlock(c, c * config.expansion_ratio) for _ in range(config.blocks)]
    raise ValueError(f"unknown block kind {config.block!r}")


# the block kinds whose last sum is not normalised: the tower ends with BN-ReLU
_CLOSING_BN = ("preact", "wide", "pyramid")


class ZeroNet(nn.Module):
    """AlphaGo Zero dual-head ResNet for one board size; see the module docstring.

    ``forward(x)`` with ``x`` float ``[B, config.input_planes, N, N]`` returns ``(policy_logits [B, N*N + 1],
    value [B])``, the value in [-1, 1] for the player to move."""

    def __init__(self, config: ZeroConfig, board_size: int):
        super().__init__()
        if not isinstance(config, ZeroConfig):
            raise ValueError(f"ZeroNet needs a ZeroConfig, got {type(config).__name__}")
        self.config = config
        self.board_size = int(board_size)
        n2 = self.board_size * self.board_size
        c, w = config.channels, config.tower_width
        self.stem = nn.Sequential(_conv(config.input_planes, c, 3), nn.BatchNorm2d(c), nn.ReLU(inplace=True))
        self.tower = nn.Sequential(*_tower(config))
        # pre-activation blocks leave the sum un-normalised: finish the tower with BN-ReLU
        closing = config.block in _CLOSING_BN
        self.tower_out = nn.Sequential(nn.BatchNorm2d(w), nn.ReLU(inplace=True)) if closing else None

        self.policy_conv = nn.Sequential(
            _conv(w, config.policy_filters, 1), nn.BatchNorm2d(config.policy_filters), nn.ReLU(inplace=True)
        )
        self.policy_fc = nn.Linear(config.policy_filters * n2, n2 + 1)
        self.value_conv = nn.Sequential(
            _conv(w, config.value_filters, 1), nn.BatchNorm2d(config.value_filters), nn.ReLU(inplace=True)
        )
        self.value_fc1 = nn.Linear(config.value_filters * n2, config.value_hidden)
        self.value_fc2 = nn.Linear(config.value_hidden, 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.tower(self.stem(x))
        if self.tower_out is not None:
            x = self.tower_out(x)
        p = self.policy_fc(self.policy_conv(x).flatten(1))
        v = torch.relu(self.value_fc1(self.value_conv(x).flatten(1)))
        v = torch.tanh(self.value_fc2(v)).squeeze(1)
        return p, v

    def extra_repr(self) -> str:
        return f"config={self.config.name!r}, board_size={self.board_size}"


__all__ = ["ZeroNet", "BasicBlock", "PreActBlock", "BottleneckBlock", "WideBlock", "PyramidBlock", "MobileBlock"]
