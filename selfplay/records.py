"""What an arena game leaves behind: its :class:`GameResult` (one JSON line of a match's ``results.jsonl``, appended
with :func:`igo.engine.fileio.append_json_line`) and its SGF (:func:`write_game_sgf`: names, komi, result, date,
rules, the reason in the root comment, the seconds each move took in its comment; written atomically).

How a game ends, and how it is written:

============================================  ==========  ==========================================================
what happened                                 result      ``reason`` (starts with the kind)
============================================  ==========  ==========================================================
two consecutive passes                        ``B+3.5``   ``score``
the move limit was reached                    ``W+0.5``   ``move limit: ...`` (scored as the board stands)
an engine answered ``resign``                 ``W+R``     ``resign``
an illegal or unreadable move                 ``W+F``     ``forfeit: illegal move E5 (ko)``, ``forfeit: unreadable
                                                          move 'Z99'``
a refused command (genmove, a legal play)     ``W+F``     ``forfeit: ...``
no reply within the move timeout              ``W+T``     ``timeout: ...`` (the engine is killed and restarted)
the engine died or cannot be (re)started      ``W+F``     ``crash: ...``
both engines failed before the first move     ``Void``    ``void: ...``
equal score (integer komi)                    ``0``       ``score``
============================================  ==========  ==========================================================
"""

from __future__ import annotations

import dataclasses
import datetime
import os
from dataclasses import dataclass, field
from typing import Final

from igo.engine.board import Board
from igo.engine.sgf import record_from_board, save_sgf

__all__ = ["RESULTS_FILE", "GameResult", "write_game_sgf"]

RESULTS_FILE: Final = "results.jsonl"


@dataclass
class GameResult:
    """How one game ended. ``winner`` is ``"B"``, ``"W"`` or None (a draw or a void game); ``result`` is the SGF
    ``RE`` (``B+3.5``, ``W+R``, ``B+F``, ``W+T``, ``0``, ``Void``); ``reason`` starts with its kind (``score``,
    ``move limit``, ``resign``, ``forfeit``, ``timeout``, ``crash``, ``void``), see the module docstring.
    ``score`` is the referee's margin for Black when the game was scored. Times are seconds of wall clock spent in
    ``genmove``; ``move_times`` has one entry per move on the board, in order."""

    black: str
    white: str
    winner: str | None
    result: str
    reason: str
    moves: int
    black_time: float
    white_time: float
    black_moves: int
    white_moves: int
    score: float | None = None
    referee: str = "tromp-taylor"
    sgf_path: str | None = None
    move_times: list[float] = field(default_factory=list)

    @property
    def kind(self) -> str:
        """The reason's kind: ``score``, ``move limit``, ``resign``, ``forfeit``, ``timeout``, ``crash`` or ``void``."""
        return self.reason.split(":", 1)[0]

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def write_game_sgf(
    path: str | os.PathLike[str],
    board: Board,
    game: GameResult,
    comments: list[str | None],
    *,
    ruleset: str,
    game_name: str | None = None,
    note: str = "",
) -> str:
    """Write the SGF of the game played on ``board`` (at most 19x19) to ``path``: ``comments`` has one comment per
    move, the root comment sums ``game`` up (``note`` is added after the referee's name), ``ruleset`` is the SGF
    ``RU``. Returns the path."""
    summary = (
        f"{game.result}: {game.reason}. Black {game.black_moves} moves in {game.black_time:.1f} s, "
        f"white {game.white_moves} moves in {game.white_time:.1f} s. Referee: {game.referee}{note}."
    )
    record = record_from_board(
        board,
        result=game.result,
        black_player=game.black,
        white_player=game.white,
        date=datetime.date.today().isoformat(),
        ruleset=ruleset,
        game_name=game_name,
        root_comment=summary,
        comments=comments,
    )
    path = os.fspath(path)
    save_sgf(path, record)
    return path
