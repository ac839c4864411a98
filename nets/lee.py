"""AlphaGo (2016, the version that played Fan Hui and Lee Sedol) policy and value networks.

From Silver et al. 2016, "Methods: neural network architecture":

- **policy** (:class:`LeePolicyNet`): 48 input planes; layer 1 a ``first_kernel`` x ``first_kernel`` conv (5x5 in the
  paper) with ``filters`` filters and ReLU; layers 2 .. ``layers - 1`` 3x3 convs with ``filters`` filters and ReLU,
  zero-padded to keep N x N; the last layer a 1x1 conv with one filter and a separate bias for every point, then the
  softmax. There is no pass output — the paper's policy never passes; the evaluator adds a pass prior.
- **value** (:class:`LeeValueNet`): 49 input planes (the policy's plus the colour to move); the same trunk
  (``layers - 1`` conv layers: a 5x5 then 3x3s), a 1x1 conv with one filter and ReLU, a fully connected layer of
  ``hidden`` units with ReLU and one tanh output, the value for the player to move.

The convolutions of these nets keep their biases (there is no batch normalisation) except the policy's last one,
whose role the per-point bias takes. The value net's 1x1 head conv starts with non-negative weights and a zero bias
(see :class:`LeeValueNet`); everything else has PyTorch's default initialisation.
"""

from __future__ import annotations

import logging

import torch
from torch import nn

from .config import LeePolicyConfig, LeeValueConfig

logger = logging.getLogger(__name__)


def _trunk(planes: int, filters: int, convs: int, first_kernel: int) -> nn.Sequential:
    """``convs`` conv+ReLU layers: the first ``first_kernel`` wide, the rest 3x3, all ``filters`` filters."""
    first = nn.Conv2d(planes, filters, first_kernel, padding=first_kernel // 2)
    layers: list[nn.Module] = [first, nn.ReLU(inplace=True)]
    for _ in range(convs - 1):
        layers += [nn.Conv2d(filters, filters, 3, padding=1), nn.ReLU(inplace=True)]
    return nn.Sequential(*layers)


class LeePolicyNet(nn.Module):
    """AlphaGo SL/RL policy network; ``forward(x [B, 48, N, N]) -> logits [B, N*N]`` (row-major, no pass)."""

    def __init__(self, config: LeePolicyConfig, board_size: int):
        super().__init__()
        if not isinstance(config, LeePolicyConfig):
            raise ValueError(f"LeePolicyNet needs a LeePolicyConfig, got {type(config).__name__}")
        self.config = config
        self.board_size = int(board_size)
        self.trunk = _trunk(config.input_planes, config.filters, config.layers - 1, config.first_kernel)
        self.head = nn.Conv2d(config.filters, 1, 1, bias=False)
        self.point_bias = nn.Parameter(torch.zeros(self.board_size * self.board_size))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.trunk(x)).flatten(1) + self.point_bias

    def extra_repr(self) -> str:
        return f"config={self.config.name!r}, board_size={self.board_size}"


class LeeValueNet(nn.Module):
    """AlphaGo value network; ``forward(x [B, 49, N, N]) -> value [B]`` in [-1, 1] for the player to move."""

    def __init__(self, config: LeeValueConfig, board_size: int):
        super().__init__()
        if not isinstance(config, LeeValueConfig):
            raise ValueError(f"LeeValueNet needs a LeeValueConfig, got {type(config).__name__}")
        self.config = config
        self.board_size = int(board_size)
        n2 = self.board_size * self.board_size
        self.trunk = _trunk(config.input_planes, config.filters, config.layers - 1, 5)
        self.head = nn.Sequential(nn.Conv2d(config.filters, 1, 1), nn.ReLU(inplace=True))
        # The head's inputs are ReLU outputs (>= 0), so with signed weights its one output plane is often <= 0 at
        # every point for every input — a dead ReLU, no gradient — for about half of the random initialisations.
        # Starting from non-negative weights and a zero bias keeps it alive; training may then make them signed.
        with torch.no_grad():
            self.head[0].weight.abs_()
            self.head[0].bias.zero_()
        self.fc1 = nn.Linear(n2, config.hidden)
        self.fc2 = nn.Linear(config.hidden, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        v = torch.relu(self.fc1(self.head(self.trunk(x)).flatten(1)))
        return torch.tanh(self.fc2(v)).squeeze(1)

    def extra_repr(self) -> str:
        return f"config={self.config.name!r}, board_size={self.board_size}"


__all__ = ["LeePolicyNet", "LeeValueNet"]
