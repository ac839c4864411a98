"""The AlphaGo Zero network: a residual tower with a policy head (``N*N + 1`` logits, pass last) and a value head.

Layout (Silver et al. 2017, "Methods: neural network architecture"):

- stem: 3x3 conv to ``channels`` -> BN -> ReLU;
- ``blocks`` residual blocks, one of three kinds:

  - ``basic``: conv3x3 -> BN -> ReLU -> conv3x3 -> BN -> + input -> ReLU (the paper's block);
  - ``preact``: BN -> ReLU -> conv3x3 -> BN -> ReLU -> conv3x3 -> + input (He et al. 2016, identity mappings); the
    tower then ends with BN -> ReLU, since the last block's output has not been normalised;
  - ``bottleneck``: conv1x1 down to ``bottleneck_channels`` -> BN -> ReLU -> conv3x3 -> BN -> ReLU -> conv1x1 up ->
    BN -> + input -> ReLU;

- policy head: conv1x1 to ``policy_filters`` -> BN -> ReLU -> linear to ``N*N + 1`` logits;
- value head: conv1x1 to ``value_filters`` -> BN -> ReLU -> linear to ``value_hidden`` -> ReLU -> linear to 1 -> tanh.

Convolutions followed by BN have no bias (BN's shift does that job). Input ``[B, 2*history + 1, N, N]`` float (the
``zeroH`` feature set of :mod:`igo.engine.features`); the value is for the player to move. The module works in
channels-last memory format and under ``torch.autocast``.
"""

from __future__ import annotations

import logging

import torch
from torch import nn

from .config import ZeroConfig

logger = logging.getLogger(__name__)


def _conv(cin: int, cout: int, k: int) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, k, padding=k // 2, bias=False)


class BasicBlock(nn.Module):
    """conv3x3-BN-ReLU-conv3x3-BN, add the input, ReLU."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv1 = _conv(channels, channels, 3)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = _conv(channels, channels, 3)
        self.bn2 = nn.BatchNorm2d(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return torch.relu(x + y)


class PreActBlock(nn.Module):
    """BN-ReLU-conv3x3-BN-ReLU-conv3x3, add the input (no activation after the sum)."""

    def __init__(self, channels: int):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv1 = _conv(channels, channels, 3)
        self.bn2 = nn.BatchNorm2d(channels)
        self.conv2 = _conv(channels, channels, 3)

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
        c = config.channels
        self.stem = nn.Sequential(_conv(config.input_planes, c, 3), nn.BatchNorm2d(c), nn.ReLU(inplace=True))
        if config.block == "basic":
            blocks = [BasicBlock(c) for _ in range(config.blocks)]
        elif config.block == "preact":
            blocks = [PreActBlock(c) for _ in range(config.blocks)]
        else:
            blocks = [BottleneckBlock(c, config.bottleneck_width) for _ in range(config.blocks)]
        self.tower = nn.Sequential(*blocks)
        # pre-activation blocks leave the sum un-normalised: finish the tower with BN-ReLU
        self.tower_out = nn.Sequential(nn.BatchNorm2d(c), nn.ReLU(inplace=True)) if config.block == "preact" else None

        self.policy_conv = nn.Sequential(
            _conv(c, config.policy_filters, 1), nn.BatchNorm2d(config.policy_filters), nn.ReLU(inplace=True)
        )
        self.policy_fc = nn.Linear(config.policy_filters * n2, n2 + 1)
        self.value_conv = nn.Sequential(
            _conv(c, config.value_filters, 1), nn.BatchNorm2d(config.value_filters), nn.ReLU(inplace=True)
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


__all__ = ["ZeroNet", "BasicBlock", "PreActBlock", "BottleneckBlock"]
