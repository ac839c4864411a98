"""Referees: how a finished arena game is scored.

``"tromp-taylor"`` (:class:`TrompTaylorReferee`, the default) counts area on the final board as it stands, so stones
the players left on the board count as alive; ``"gnugo"`` (:class:`GnuGoReferee`) replays the game in a separate GNU Go
process (``gnugo --mode gtp --chinese-rules``) and takes its ``final_score``, which removes dead stones. A referee that
cannot score raises :class:`RefereeError`; the game loop then scores by Tromp-Taylor and says so.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final, Protocol

from igo.engine.board import Board, color_name
from igo.gtp.client import GTPError

from .gtp_players import Engine, EngineStartError, PlayerSpec, first_line

__all__ = [
    "GNUGO_REFEREE_COMMAND",
    "REFEREES",
    "GnuGoReferee",
    "Referee",
    "RefereeError",
    "TrompTaylorReferee",
    "make_referee",
]

REFEREES: Final = ("tromp-taylor", "gnugo")
GNUGO_REFEREE_COMMAND: Final = ("gnugo", "--mode", "gtp", "--chinese-rules")

_SCORE_RE: Final = re.compile(r"([BW])\+(\d+(?:\.\d+)?)|0(?:\.0*)?")


class RefereeError(RuntimeError):
    """The referee could not score a game."""


class Referee(Protocol):
    """Scores a finished game: Black's points minus White's, komi included."""

    name: str
    ruleset: str  # the SGF RU of games it scores

    def score(self, board: Board) -> float: ...

    def close(self) -> None: ...


class TrompTaylorReferee:
    """Tromp-Taylor area count of the board as it stands (every stone on the board is alive)."""

    name = "tromp-taylor"
    ruleset = "Tromp-Taylor"

    def score(self, board: Board) -> float:
        return board.score()

    def close(self) -> None:
        pass


class GnuGoReferee:
    """GNU Go replays the game (``boardsize``, ``komi``, ``clear_board``, ``play``...) and answers ``final_score``,
    with dead stones removed by its own analysis. The process is started on first use and kept for later games."""

    name = "gnugo"
    ruleset = "Chinese"

    def __init__(self, command: Sequence[str] = GNUGO_REFEREE_COMMAND, *, timeout: float = 120.0) -> None:
        self.engine = Engine(PlayerSpec("gnugo-referee", list(command)), command_timeout=timeout)

    def start(self) -> None:
        self.engine.ensure()

    def score(self, board: Board) -> float:
        try:
            gnugo = self.engine.ensure()
            gnugo.send(f"boardsize {board.size}")
            gnugo.send("clear_board")
            gnugo.send(f"komi {board.komi:g}")
            for color, vertex in board.moves:
                gnugo.send(f"play {color_name(color)} {vertex}")
            reply = gnugo.send("final_score").strip()
        except (GTPError, EngineStartError) as err:
            raise RefereeError(f"GNU Go referee failed: {first_line(str(err))}") from err
        match = _SCORE_RE.fullmatch(reply)
        if match is None:
            raise RefereeError(f"GNU Go referee answered final_score with {reply!r}")
        if match.group(1) is None:
            return 0.0
        margin = float(match.group(2))
        return margin if match.group(1) == "B" else -margin

    def close(self) -> None:
        self.engine.close()


def make_referee(referee: str | Referee) -> Referee:
    """A referee from its name (``"tromp-taylor"`` or ``"gnugo"``), or the referee given."""
    if not isinstance(referee, str):
        return referee
    if referee == "tromp-taylor":
        return TrompTaylorReferee()
    if referee == "gnugo":
        return GnuGoReferee()
    raise ValueError(f"unknown referee {referee!r}; choose one of {', '.join(REFEREES)}")
