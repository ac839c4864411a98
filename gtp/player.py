"""Players for igo's GTP engine: the small protocol :class:`~igo.gtp.engine.GTPEngine` drives, and a baseline player.

A player chooses moves; the engine owns the game. The engine calls::

    player.genmove(board, color) -> str    # a GTP vertex such as "D4", or "pass", or "resign"

with the game's :class:`~igo.engine.board.Board` (read it; do not change it, copy it to think) and the colour to play
(``BLACK`` or ``WHITE``, which need not be ``board.to_move``: GTP lets a controller ask either colour). The engine
checks the answer and plays it. Two notifications are optional; the engine calls them when a player defines them:

- ``new_game(board)``: the position was replaced or rewound rather than extended by a move (``boardsize``,
  ``clear_board``, handicap, ``loadsgf``, ``undo``, a rolled-back failure): forget anything derived from the old one;
- ``played(board, color, vertex)``: a move (``play`` or ``genmove``) was just played; ``board`` already holds it.

:class:`RandomPlayer` is the baseline until the MCTS player (issue 3) replaces it: a uniformly random legal move that
fills none of its own single-point eyes, and a pass when the opponent has just passed and ending the game there does
not lose by Tromp-Taylor area count. It is weak on purpose and honest about it.
"""

from __future__ import annotations

import logging
from typing import Protocol, runtime_checkable

from igo.engine.board import BLACK, Board, opponent
from igo.engine.coords import padded_to_gtp, rc_to_padded
from igo.engine.playout import is_eye, random_move
from igo.engine.rng import make_rng, randint

log = logging.getLogger(__name__)


@runtime_checkable
class Player(Protocol):
    """What :class:`~igo.gtp.engine.GTPEngine` needs of a player (``new_game`` and ``played`` are optional)."""

    def genmove(self, board: Board, color: int) -> str:
        """A GTP vertex, ``"pass"`` or ``"resign"`` for ``color`` to play on ``board`` (which must be left as it
        was)."""
        ...


class RandomPlayer:
    """Random legal moves that fill no own eye; passes after the opponent's pass when passing does not lose.

    ``seed`` makes the choice of moves reproducible (None: a seed from the operating system)."""

    name = "random"

    def __init__(self, seed: int | None = None):
        self.seed = seed
        self._rng = make_rng(seed)

    def genmove(self, board: Board, color: int) -> str:
        if self._should_pass(board, color):
            return "pass"
        trial = board.copy()
        trial.to_move = color
        p = int(random_move(trial.state, self._rng))  # simple ko only; the game's rule is checked below
        if p < 0:
            return "pass"  # no legal point outside its own eyes even under simple ko
        vertex = padded_to_gtp(p, board.size)
        if board.is_legal(vertex, color):
            return vertex
        # The random point repeats a position (superko): choose among all legal non-eye points instead.
        candidates = self._candidates(board, color)
        if not candidates:
            return "pass"
        return candidates[int(randint(self._rng, len(candidates)))]

    @staticmethod
    def _should_pass(board: Board, color: int) -> bool:
        """True when the opponent has just passed and a pass, ending the game, does not lose by area count."""
        if board.passes == 0 or not board.moves or board.moves[-1][0] != opponent(color):
            return False
        margin = board.score() if color == BLACK else -board.score()
        return margin >= 0

    @staticmethod
    def _candidates(board: Board, color: int) -> list[str]:
        n = board.size
        mask = board.legal_mask(color)[:-1]
        out = []
        for f in range(n * n):
            if mask[f]:
                p = rc_to_padded(f // n, f % n, n)
                if not is_eye(board.state, p, color):
                    out.append(padded_to_gtp(p, n))
        return out

    def __repr__(self) -> str:
        return f"RandomPlayer(seed={self.seed!r})"


__all__ = ["Player", "RandomPlayer"]
