"""Analysis commands of igo's GTP engine, for Sabaki, Lizzie and GoGui (a mixin of :class:`igo.gtp.engine.GTPEngine`).

Live analysis (Leela Zero's and KataGo's extensions)::

    lz-analyze [color] [interval] [interval N] [minmoves N] [maxmoves N]
    kata-analyze [color] [interval] [interval N] [minmoves N] [maxmoves N] [ownership true|false]
    lz-genmove_analyze [color] [interval] ...        kata-genmove_analyze [color] [interval] ...

The interval is in centiseconds (as Leela Zero and KataGo take it), at most :data:`MAX_INTERVAL_CS` (a year).
``*-analyze`` without one reports every second; ``*-genmove_analyze`` without one (or with 0) sends no ``info`` line,
only the move. ``ownership true`` only changes ``kata-analyze`` (lz- lines carry no ownership); ``avoid``/``allow``
and other options are refused (syntax error).

The reply starts at once with ``=id`` on its own line, then one ``info ...`` line per
interval; ``*-analyze`` searches until the next input line arrives (any line, even an empty one), then ends the reply
with an empty line and the next command is answered as usual. ``*-genmove_analyze`` searches with the player's normal
budget, plays the move and ends with ``play <vertex>`` and an empty line; its ``=id`` line is sent with the first
``info`` line (or with the ``play`` line), so that a search that fails before it has anything to report (a network
that gives non-finite values, say) is answered ``? internal error: ...`` as GTP wants, not ``=`` without a move.
(Once ``info`` lines have gone out the reply cannot become a failure: a search that fails after that ends the reply
without a ``play`` line, and the failure is in the log.)

An ``info`` line has one entry per visited root move, most visited first::

    lz-:   info move D4 visits 120 winrate 4821 prior 1532 lcb 4700 order 0 pv D4 C3 ...
    kata-: info move D4 visits 120 utility -0.04 winrate 0.4821 scoreMean 1.5 scoreLead 1.5 prior 0.1532
           lcb 0.47 order 0 pv D4 C3 ...   [ownership <N*N values>]

lz- values are integers ×10000, kata- values floats; win rates, score and ownership are for the player the analysis
is for (KataGo's default). ``ownership`` lists the points row by row from the top left (A19 on 19x19), +1 owned by
that player, -1 by the opponent.

GoGui reads ``gogui-analyze_commands``: the list of the ``igo-*`` commands below with their display types.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from igo.engine.board import BLACK, Board
from igo.engine.limits import MAX_SECONDS
from igo.engine.player import Analysis, Player

from .protocol import GTPFailure, parse_color, parse_int

log = logging.getLogger(__name__)

MAX_INTERVAL_CS = int(MAX_SECONDS) * 100
"""The longest analysis interval, in centiseconds (one year); more is a syntax error."""


class RawReply(str):
    """A reply a command wrote itself (through ``emit``) and ends with this text: sent as it is."""


@dataclass
class AnalyzeRequest:
    color: int
    interval: float  # seconds between reports (0: none until the end)
    min_moves: int = 0
    max_moves: int = 0  # 0: all visited moves
    ownership: bool = False


def parse_analyze_args(args: list[str], to_move: int) -> AnalyzeRequest:
    """``[color] [interval] [key value]...`` -> :class:`AnalyzeRequest`; bad arguments raise
    :class:`~igo.gtp.protocol.GTPFailure` (``syntax error``)."""
    color = to_move
    i = 0
    if i < len(args) and not args[i].isdigit() and args[i].lower() in ("b", "w", "black", "white"):
        color = parse_color(args[i])
        i += 1
    req = AnalyzeRequest(color=color, interval=0.0)
    if i < len(args) and args[i].isdigit():
        req.interval = _interval(args[i])
        i += 1
    while i < len(args):
        key = args[i].lower()
        if i + 1 >= len(args):
            raise GTPFailure("syntax error", f"{args[i]!r} needs a value")
        value = args[i + 1]
        if key == "interval":
            req.interval = _interval(value)
        elif key == "minmoves":
            req.min_moves = max(0, parse_int(value, "minmoves"))
        elif key == "maxmoves":
            req.max_moves = max(0, parse_int(value, "maxmoves"))
        elif key == "ownership":
            if value.lower() not in ("true", "false"):
                raise GTPFailure("syntax error", f"ownership must be true or false, got {value!r}")
            req.ownership = value.lower() == "true"
        else:
            raise GTPFailure("syntax error", f"unsupported analysis option {args[i]!r}")
        i += 2
    return req


def _interval(text: str) -> float:
    """Seconds from an interval in centiseconds (negative: 0; more than MAX_INTERVAL_CS: a syntax error)."""
    centiseconds = max(0, parse_int(text, "interval"))
    if centiseconds > MAX_INTERVAL_CS:
        raise GTPFailure("syntax error", f"interval must be at most {MAX_INTERVAL_CS} centiseconds, got {text[:40]!r}")
    return centiseconds / 100.0


def info_line(analysis: Analysis, req: AnalyzeRequest, size: int, kata: bool) -> str:
    """One ``info ...`` line for an :class:`igo.engine.player.Analysis`."""
    moves = [m for m in analysis.moves if m.visits > 0]
    if len(moves) < req.min_moves:
        moves = analysis.moves[: req.min_moves]
    if req.max_moves:
        moves = moves[: req.max_moves]
    lead = analysis.score_lead
    parts = []
    for order, m in enumerate(moves):
        pv = " ".join(m.pv) if m.pv else m.move
        if kata:
            wr = m.winrate
            lead_text = "" if lead is None else f" scoreMean {lead:.2f} scoreLead {lead:.2f}"
            parts.append(
                f"info move {m.move} visits {m.visits} utility {2 * wr - 1:.4f} winrate {wr:.4f}{lead_text} "
                f"prior {m.prior:.4f} lcb {m.lcb():.4f} order {order} pv {pv}"
            )
        else:
            parts.append(
                f"info move {m.move} visits {m.visits} winrate {round(10000 * m.winrate)} "
                f"prior {round(10000 * m.prior)} lcb {round(10000 * m.lcb())} order {order} pv {pv}"
            )
    line = " ".join(parts)
    if kata and req.ownership:
        own = analysis.ownership
        if own is None:
            own = np.zeros((size, size))
        sign = 1.0 if analysis.color == BLACK else -1.0
        values = " ".join(f"{sign * v:.3f}" for v in own.reshape(-1))
        line = f"{line} ownership {values}" if line else f"ownership {values}"
    return line


class AnalysisCommands:
    """The analysis commands; mixed into :class:`igo.gtp.engine.GTPEngine`, which provides ``board``, ``player``,
    ``emit`` (write a piece of a reply now) and ``input_pending`` (True when a new input line waits)."""

    board: Board
    player: Player
    emit: Callable[[str], None]
    input_pending: Callable[[], bool]

    _ident = ""  # the id of the command being answered (set by GTPEngine._dispatch)

    def _analysis_player(self) -> Player:
        if not self.player.supports_analysis:
            raise GTPFailure("analysis needs the search player", f"{self.player!r} cannot analyse")
        return self.player

    def _stream_analyze(self, ident: str, args: list[str], kata: bool) -> str:
        req = self._parse_analyze(args)
        player = self._analysis_player()
        interval = req.interval if req.interval > 0 else 1.0
        size = self.board.size
        self.emit(f"={ident}\n")

        def report(analysis):
            line = info_line(analysis, req, size, kata)
            if line:
                self.emit(line + "\n")

        player.analyze(self.board, req.color, interval=interval, report=report, stop=self.input_pending)
        return "\n"

    def _stream_genmove_analyze(self, ident: str, args: list[str], kata: bool) -> str:
        req = self._parse_analyze(args)
        self._analysis_player()
        size = self.board.size
        started = False  # the "=id" line goes out with the first info line: until then a failure can still be "?"

        def report(analysis):
            nonlocal started
            if req.interval > 0:
                line = info_line(analysis, req, size, kata)
                if line:
                    if not started:
                        self.emit(f"={ident}\n")
                        started = True
                    self.emit(line + "\n")

        move = self._genmove(req.color, play=True, report=report, interval=req.interval or 1.0)
        if not started:
            self.emit(f"={ident}\n")
        return f"play {move}\n\n"

    def _parse_analyze(self, args: list[str]) -> AnalyzeRequest:
        return parse_analyze_args(args, self.board.to_move)

    def cmd_lz_analyze(self, args: list[str]) -> str:
        return RawReply(self._stream_analyze(self._ident, args, kata=False))

    def cmd_kata_analyze(self, args: list[str]) -> str:
        return RawReply(self._stream_analyze(self._ident, args, kata=True))

    def cmd_lz_genmove_analyze(self, args: list[str]) -> str:
        return RawReply(self._stream_genmove_analyze(self._ident, args, kata=False))

    def cmd_kata_genmove_analyze(self, args: list[str]) -> str:
        return RawReply(self._stream_genmove_analyze(self._ident, args, kata=True))

    # --- GoGui ---------------------------------------------------------------------------------------------------

    def cmd_gogui_analyze_commands(self, args: list[str]) -> str:
        """GoGui's list of analysis commands: ``type/label/command``."""
        return "\n".join(
            [
                "gfx/igo: best moves/igo-best_moves",
                "dboard/igo: ownership/igo-ownership",
                "plist/igo: dead stones/final_status_list dead",
                "string/igo: final score/final_score",
                "string/igo: estimated score/igo-score",
            ]
        )

    def cmd_igo_best_moves(self, args: list[str]) -> str:
        """Search the position with the player's budget (without playing) and draw the best moves: labels with win
        rates, the principal variation of the best as a variation, a status line (GoGui ``gfx``)."""
        player = self._analysis_player()
        color = self.board.to_move
        seconds, visits = player.analysis_budget()
        start = time.perf_counter()
        a = player.analyze(
            self.board,
            color,
            interval=3600.0,
            report=lambda _analysis: None,
            stop=lambda: seconds is not None and time.perf_counter() - start >= seconds,
            max_visits=visits,
        )
        moves = [m for m in a.moves if m.visits > 0][:8]
        lines = []
        if moves:
            lines.append("LABEL " + " ".join(f"{m.move} {round(100 * m.winrate)}%" for m in moves if m.move != "pass"))
            var = []
            c = color
            for v in moves[0].pv:
                var.append(("b" if c == BLACK else "w") + " " + v)
                c = 3 - c
            lines.append("VAR " + " ".join(var))
        lead = a.score_lead
        lead_text = "" if lead is None else f", lead {lead:+.1f}"
        best = moves[0] if moves else None
        summary = f"{a.visits} visits in {a.elapsed:.1f} s" + (
            f", best {best.move} {100 * best.winrate:.1f}%{lead_text}" if best else ""
        )
        lines.append("TEXT " + summary)
        return "\n".join(lines)

    def cmd_igo_ownership(self, args: list[str]) -> str:
        """Mean final ownership of every point (+1 Black, -1 White), one row per line from the top (GoGui
        ``dboard``)."""
        if not self.player.supports_ownership:
            raise GTPFailure("ownership needs the search player")
        own = self.player.ownership(self.board)
        return "\n".join(" ".join(f"{v:.2f}" for v in row) for row in own)

    def cmd_igo_score(self, args: list[str]) -> str:
        """The estimated result with dead stones removed, and how many stones are counted dead."""
        if not self.player.estimates_dead_stones:
            raise GTPFailure("score estimation needs the search player")
        status = self.player.final_status(self.board)
        return f"{self.player.final_score(self.board)} ({len(status['dead'])} dead stones)"


__all__ = ["AnalysisCommands", "AnalyzeRequest", "MAX_INTERVAL_CS", "info_line", "parse_analyze_args"]
