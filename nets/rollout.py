"""AlphaGo's fast rollout policy (or its tree policy) as a torch module, to train its weights.

The policy is a linear softmax over the binary pattern features of :mod:`igo.engine.patterns`: the logit of a candidate
move is the sum of the weights of its active features. :class:`RolloutPolicy` holds the weight vector; training
feeds it the feature indices of every candidate of a position (:func:`candidate_features`) and a cross-entropy loss
against the expert's move. :meth:`RolloutPolicy.to_numpy` gives the float32 vector the playout kernels of
:mod:`igo.engine.rollout` read.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn

from igo.engine.board_kernels import M_SIZE
from igo.engine.patterns import MAX_FEATURES, num_features
from igo.engine.rollout import fill_candidates

if TYPE_CHECKING:
    from igo.nets.config import RolloutConfig

MASKED_LOGIT = -1e9  # the logit of a masked candidate


class RolloutPolicy(nn.Module):
    """``weight``: float32 ``[num_features(config.tree)]``, zeros at first (the uniform policy)."""

    def __init__(self, config: RolloutConfig, board_size: int):
        super().__init__()
        self.config = config
        self.board_size = int(board_size)
        self.tree = bool(config.tree)
        self.weight = nn.Parameter(torch.zeros(num_features(self.tree), dtype=torch.float32))

    def forward(self, feature_index: torch.Tensor, candidate_mask: torch.Tensor) -> torch.Tensor:
        """Logits ``[B, M]`` of ``M`` candidate moves from their feature indices ``[B, M, K]`` (int64, rows padded
        with -1); candidates where ``candidate_mask`` ``[B, M]`` is False get :data:`MASKED_LOGIT`."""
        active = feature_index >= 0
        w = self.weight[feature_index.clamp(min=0)]
        logits = torch.where(active, w, torch.zeros((), dtype=w.dtype, device=w.device)).sum(dim=-1)
        return logits.masked_fill(~candidate_mask, MASKED_LOGIT)

    def to_numpy(self) -> np.ndarray:
        """The weights as a contiguous float32 numpy vector (a copy), for the kernels of :mod:`igo.engine.rollout`."""
        return np.ascontiguousarray(self.weight.detach().cpu().numpy(), dtype=np.float32).copy()

    def load_numpy(self, w: np.ndarray) -> None:
        w = np.asarray(w, dtype=np.float32)
        if w.shape != tuple(self.weight.shape):
            raise ValueError(f"weight vector of shape {w.shape}; expected {tuple(self.weight.shape)}")
        with torch.no_grad():
            self.weight.copy_(torch.from_numpy(w.copy()))


def candidate_features(board, tree: bool = False, max_features: int = MAX_FEATURES) -> tuple[list[int], np.ndarray]:
    """The candidates of the player to move of an :class:`igo.engine.board.Board` (or a ``BoardState``) — the legal
    points under simple ko that are not its own single-point eyes, in board order, as padded indices — and their
    feature indices, int64 ``[M, max_features]`` padded with -1. A position without candidates gives ``M = 0``.
    Note that superko and eye filling are not in the candidate set: an expert move outside it cannot be learned."""
    if max_features < MAX_FEATURES:
        raise ValueError(f"max_features must be >= {MAX_FEATURES}")
    s = getattr(board, "state", board)
    n = int(s.meta[M_SIZE])
    moves = np.zeros(n * n, np.int64)
    index = np.full((n * n, max_features), -1, np.int64)
    m = fill_candidates(s, tree, moves, index)
    return [int(p) for p in moves[:m]], index[:m].copy()
