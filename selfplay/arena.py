"""The arena: games and matches between two GTP engines, refereed.

A player is a GTP command line (:class:`PlayerSpec`); :func:`igo_command` builds igo's own. :func:`play_game` plays
one game, :func:`run_match` plays N with alternating colours and reuses the two engine processes between games
(``clear_board``), restarting one that died::

    from igo.selfplay.arena import PlayerSpec, igo_command, run_match

    a = PlayerSpec("igo", igo_command(9, 7.5, ["--playouts", "2000"]))
    b = PlayerSpec("gnugo-10", ["gnugo", "--mode", "gtp", "--level", "10", "--chinese-rules"])
    summary = run_match(a, b, 20, size=9, komi=7.5, out_dir="matches/igo-vs-gnugo", referee="gnugo")
    print(summary.a_wins, summary.win_rate_a, summary.interval)

**The referee is the arena, not the engines.** Each game is kept on the arena's own :class:`~igo.engine.board.Board`
(positional superko and no suicide by default, as in Tromp-Taylor) and every move an engine generates is checked
there before the opponent hears of it. How a game ends, and how it is written:

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

The score of a finished game comes from the referee: ``"tromp-taylor"`` (default) counts area on the final board
as it stands, so stones the players left on the board count as alive; ``"gnugo"`` replays the game in a separate
GNU Go process (``gnugo --mode gtp --chinese-rules``) and takes its ``final_score``, which removes dead stones. If
GNU Go fails, the game is scored by Tromp-Taylor and the reason says so.

Time: every ``genmove`` has ``move_timeout`` seconds; other commands have ``command_timeout``; an engine's first
command after starting has ``startup_timeout`` (loading Python, Numba caches), so nothing ever waits forever. With
``time_settings=(main, byo_yomi, stones)`` the engines are sent GTP ``time_settings`` and, before each ``genmove``,
``time_left`` from a clock the arena keeps from the measured thinking times (Canadian overtime as in the GTP spec);
the clock is advice for the engines' time management, only the move timeout is enforced.

A match writes one JSON line per finished game to ``out_dir/results.jsonl`` (flushed and fsynced, so a crash loses
at most the game in progress) and an SGF per game (``game-0001.sgf``, ...; written atomically; names, komi, result,
date, rules, the reason in the root comment, the seconds each move took in its comment). Engines are shut down with
``quit``, then terminated, then killed, also on ``KeyboardInterrupt``.

The win rate of player A counts a draw as half a win and leaves void games out; its 95% interval is the Wilson
score interval (:func:`wilson_interval`), which, unlike the normal approximation, stays inside [0, 1] and is
sensible for small matches and for 0 or N wins.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import logging
import math
import os
import re
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Protocol

from igo.engine.board import BLACK, WHITE, Board, format_result, opponent
from igo.engine.errors import IllegalMoveError, InvalidMoveError
from igo.engine.sgf import record_from_board, save_sgf
from igo.gtp.client import (
    GTPClient,
    GTPCommandError,
    GTPEngineDied,
    GTPError,
    GTPProtocolError,
    GTPTimeoutError,
)

__all__ = [
    "Engine",
    "EngineStartError",
    "GameResult",
    "GnuGoReferee",
    "MatchSummary",
    "PlayerSpec",
    "Referee",
    "RefereeError",
    "TrompTaylorReferee",
    "igo_command",
    "make_referee",
    "play_game",
    "run_match",
    "wilson_interval",
]

logger = logging.getLogger(__name__)

REFEREES: Final = ("tromp-taylor", "gnugo")
GNUGO_REFEREE_COMMAND: Final = ("gnugo", "--mode", "gtp", "--chinese-rules")
RESULTS_FILE: Final = "results.jsonl"
DEFAULT_STARTUP_TIMEOUT: Final = 120.0
DEFAULT_COMMAND_TIMEOUT: Final = 30.0

_COLOR_LETTER: Final = {BLACK: "B", WHITE: "W"}
_COLOR_WORD: Final = {BLACK: "black", WHITE: "white"}
_VERTEX_RE: Final = re.compile(r"[A-Za-z][0-9]{1,2}")
_SCORE_RE: Final = re.compile(r"([BW])\+(\d+(?:\.\d+)?)|0(?:\.0*)?")


# --- statistics ----------------------------------------------------------------------------------------------------


def wilson_interval(wins: float, n: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval for a success rate of ``wins`` out of ``n`` (``z`` = 1.96: 95%).

    With p = wins / n: ``(p + z²/2n ± z·sqrt(p(1-p)/n + z²/4n²)) / (1 + z²/n)``. It stays inside [0, 1], is not
    degenerate at 0 or n wins (0 of 10 gives (0, 0.278)), and covers close to the nominal 95% even for small n,
    which the normal approximation p ± z·sqrt(p(1-p)/n) does not. ``wins`` may be fractional (a draw counts half).
    With n = 0 nothing is known: (0, 1)."""
    if n < 0 or not 0 <= wins <= n:
        raise ValueError(f"need 0 <= wins <= n, got wins={wins!r} n={n!r}")
    if z <= 0:
        raise ValueError(f"z must be positive, got {z!r}")
    if n == 0:
        return 0.0, 1.0
    p = wins / n
    z2 = z * z
    denom = 1.0 + z2 / n
    centre = (p + z2 / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


# --- players and engines -------------------------------------------------------------------------------------------


@dataclass
class PlayerSpec:
    """A player: its name (for SGF files and reports) and the GTP command line that starts its engine."""

    name: str
    command: list[str]

    def __post_init__(self) -> None:
        self.command = [os.fspath(a) for a in self.command]
        if not self.command:
            raise ValueError(f"player {self.name!r}: empty command line")
        if not self.name or not self.name.strip():
            raise ValueError("a player needs a name")


def igo_command(size: int, komi: float, extra_args: Sequence[str] = ()) -> list[str]:
    """The command line of igo's own GTP engine (this Python, ``-m igo gtp``) with ``extra_args`` such as
    ``["--player", "mcts", "--playouts", "2000"]``."""
    return [sys.executable, "-m", "igo", "gtp", "--size", str(int(size)), "--komi", f"{float(komi):g}", *extra_args]


class EngineStartError(OSError):
    """An engine (or the GNU Go referee) could not be started or did not answer its first command."""


def _first_line(text: str, limit: int = 300) -> str:
    line = str(text).strip().splitlines()[0] if str(text).strip() else ""
    return line if len(line) <= limit else line[: limit - 3] + "..."


class Engine:
    """A player's engine process: started on demand, reused from game to game, restarted when it has died.

    ``client`` is the running :class:`~igo.gtp.client.GTPClient` (or None); :meth:`ensure` returns a live one.
    ``starts`` counts the processes started."""

    def __init__(
        self,
        spec: PlayerSpec,
        *,
        startup_timeout: float = DEFAULT_STARTUP_TIMEOUT,
        command_timeout: float = DEFAULT_COMMAND_TIMEOUT,
        cwd: str | os.PathLike[str] | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.spec = spec
        self.startup_timeout = float(startup_timeout)
        self.command_timeout = float(command_timeout)
        self.cwd = cwd
        self.env = env
        self.client: GTPClient | None = None
        self.starts = 0

    @property
    def name(self) -> str:
        return self.spec.name

    def ensure(self) -> GTPClient:
        """The running engine, started (again) if there is none or it died. Raises :class:`EngineStartError`."""
        if self.client is not None and self.client.alive:
            return self.client
        if self.client is not None:
            logger.info("engine %s is gone (%r); restarting it", self.name, self.client)
            self.client.close(timeout=1.0)
            self.client = None
        try:
            client = GTPClient(
                self.spec.command, timeout=self.command_timeout, cwd=self.cwd, env=self.env, name=self.name
            )
        except GTPError as err:
            raise EngineStartError(f"cannot start {self.name}: {err}") from err
        self.starts += 1
        try:
            client.send("protocol_version", timeout=self.startup_timeout)
        except GTPCommandError:
            pass  # alive and talking GTP; protocol_version is required by the spec, but be lenient
        except GTPError as err:
            client.close(timeout=1.0)
            raise EngineStartError(f"{self.name} did not start: {err}") from err
        self.client = client
        return client

    def close(self, timeout: float = 5.0) -> None:
        """``quit``, then terminate, then kill. Safe to call twice."""
        if self.client is not None:
            self.client.close(timeout=timeout)
            self.client = None

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Engine {self.name} {self.client!r} starts={self.starts}>"


# --- referees ------------------------------------------------------------------------------------------------------


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
                gnugo.send(f"play {_COLOR_WORD[color]} {vertex}")
            reply = gnugo.send("final_score").strip()
        except (GTPError, EngineStartError) as err:
            raise RefereeError(f"GNU Go referee failed: {_first_line(str(err))}") from err
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


# --- one game ------------------------------------------------------------------------------------------------------


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

    @property
    def winner_name(self) -> str | None:
        return self.black if self.winner == "B" else self.white if self.winner == "W" else None

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


class _Forfeit(Exception):
    """Internal: ``color`` loses the game (``letter`` F or T) for ``reason``."""

    def __init__(self, color: int, letter: str, reason: str) -> None:
        super().__init__(reason)
        self.color = color
        self.letter = letter
        self.reason = reason


def _forfeit_from(err: GTPError, color: int, what: str, timeout: float) -> _Forfeit:
    if isinstance(err, GTPTimeoutError):
        return _Forfeit(color, "T", f"timeout: no reply to {what} within {timeout:g} s")
    if isinstance(err, GTPEngineDied):
        tail = err.stderr.strip().splitlines()
        said = f"; its last words: {_first_line(tail[-1], 120)!r}" if tail else ""
        return _Forfeit(color, "F", f"crash: the engine died during {what} (exit code {err.returncode}){said}")
    if isinstance(err, GTPCommandError):
        return _Forfeit(color, "F", f"forfeit: {what} failed: {_first_line(err.message)}")
    if isinstance(err, GTPProtocolError):
        return _Forfeit(color, "F", f"forfeit: bad reply to {what}: {_first_line(str(err))}")
    return _Forfeit(color, "F", f"crash: {_first_line(str(err))}")


class _Clock:
    """One side's game clock as GTP ``time_settings`` describes it: ``main`` seconds, then Canadian overtime of
    ``byo`` seconds for every ``stones`` moves (``byo`` 0: absolute time)."""

    def __init__(self, main: float, byo: float, stones: int) -> None:
        self.byo, self.stones = float(byo), int(stones)
        self.main_left = float(main)
        self.period_left = 0.0
        self.stones_left = 0  # 0 while in main time

    @property
    def limited(self) -> bool:
        return not (self.byo > 0 and self.stones == 0)

    def time_left(self) -> tuple[float, int]:
        if self.stones_left:
            return max(self.period_left, 0.0), self.stones_left
        return max(self.main_left, 0.0), 0

    def spend(self, seconds: float) -> None:
        if not self.limited:
            return
        if not self.stones_left:
            used = min(seconds, self.main_left)
            self.main_left -= used
            seconds -= used
            if self.main_left > 0 or self.byo <= 0:
                self.main_left -= seconds
                return
            self.period_left, self.stones_left = self.byo, self.stones  # main time over: overtime starts
        self.period_left -= seconds
        self.stones_left -= 1
        if self.stones_left == 0:
            self.period_left, self.stones_left = self.byo, self.stones  # a new period


def _setup_engine(
    engine: Engine, color: int, size: int, komi: float, time_settings: tuple[float, float, int] | None
) -> None:
    """Start (or restart) ``engine`` and give it a fresh game; raises :class:`_Forfeit` on failure."""
    try:
        client = engine.ensure()
    except EngineStartError as err:
        raise _Forfeit(color, "F", f"crash: {_first_line(str(err))}") from err
    timeout = engine.command_timeout
    for command in (f"boardsize {size}", "clear_board", f"komi {komi:g}"):
        try:
            client.send(command)
        except GTPError as err:
            raise _forfeit_from(err, color, command, timeout) from err
    if time_settings is not None:
        main, byo, stones = time_settings
        command = f"time_settings {main:g} {byo:g} {int(stones)}"
        try:
            client.send(command)
        except GTPCommandError as err:
            logger.warning("%s does not take %r (%s); playing on without a clock", engine.name, command, err.message)
        except GTPError as err:
            raise _forfeit_from(err, color, command, timeout) from err


def play_game(
    black: PlayerSpec | Engine,
    white: PlayerSpec | Engine,
    *,
    size: int = 9,
    komi: float = 7.5,
    move_limit: int | None = None,
    move_timeout: float = 60.0,
    referee: str | Referee = "tromp-taylor",
    sgf_path: str | os.PathLike[str] | None = None,
    time_settings: tuple[float, float, int] | None = None,
    ko_rule: str = "positional",
    game_name: str | None = None,
    log: logging.Logger | None = None,
    opening: Sequence[tuple[int, str]] = (),
) -> GameResult:
    """Play one game between two GTP engines and return how it ended (see the module docstring); never raises for
    anything an engine does, and never waits longer than the timeouts.

    ``black`` and ``white`` are specs (an engine is started for this game and shut down after it) or
    :class:`Engine` s (reused: sent ``boardsize``, ``clear_board`` and ``komi``; restarted if dead; left running).
    ``move_limit`` (default ``3 * size * size`` moves, passes included) ends a game that runs too long; it is then
    scored as it stands. ``sgf_path``, when given, receives the game record (boards up to 19x19). ``opening``:
    moves ``(colour, vertex)`` played for both sides before the engines choose (from an opening book or SGF), so that
    deterministic players do not replay one game; they must be legal (ValueError otherwise) and are sent to both
    engines with ``play``."""
    log = log or logger
    if move_timeout <= 0:
        raise ValueError(f"move timeout must be positive, got {move_timeout!r}")
    move_limit = 3 * size * size if move_limit is None else int(move_limit)
    if move_limit < 1:
        raise ValueError(f"move limit must be at least 1, got {move_limit}")
    if time_settings is not None:
        main, byo, stones = time_settings
        if main < 0 or byo < 0 or stones < 0:
            raise ValueError(f"time settings must not be negative, got {time_settings!r}")
    board = Board(size, komi, ko_rule=ko_rule)
    opening = [(int(c), str(v)) for c, v in opening]
    check = Board(size, komi, ko_rule=ko_rule)
    for c, v in opening:  # a bad opening is the caller's error, found before any engine starts
        try:
            check.play(None if v.lower() == "pass" else v, c)
        except ValueError as err:
            raise ValueError(f"opening move {_COLOR_WORD.get(c, c)} {v}: {err}") from err
    engines = {
        BLACK: Engine(black) if isinstance(black, PlayerSpec) else black,
        WHITE: Engine(white) if isinstance(white, PlayerSpec) else white,
    }
    owned_engines = [engines[c] for c, p in ((BLACK, black), (WHITE, white)) if isinstance(p, PlayerSpec)]
    ref = make_referee(referee)
    own_referee = isinstance(referee, str)
    times: dict[int, list[float]] = {BLACK: [], WHITE: []}
    move_times: list[float] = []
    comments: list[str | None] = []
    extra_note = ""
    score: float | None = None
    try:
        # setup: both engines are asked, so that a game where both fail is void rather than a win for one of them
        failures: dict[int, _Forfeit] = {}
        for color in (BLACK, WHITE):
            try:
                _setup_engine(engines[color], color, size, komi, time_settings)
            except _Forfeit as f:
                failures[color] = f
        clocks = {c: _Clock(*time_settings) for c in (BLACK, WHITE)} if time_settings is not None else None
        try:
            if len(failures) == 2:
                winner, result = None, "Void"
                reason = f"void: black {failures[BLACK].reason}; white {failures[WHITE].reason}"
            elif failures:
                raise next(iter(failures.values()))
            else:
                _play_opening(board, engines, opening, move_times, comments)
                winner, result, reason, score, extra_note = _play_moves(
                    board, engines, ref, move_limit, move_timeout, clocks, times, move_times, comments, log
                )
        except _Forfeit as f:
            winner = _COLOR_LETTER[opponent(f.color)]
            result, reason = f"{winner}+{f.letter}", f.reason
            log.info("%s (%s) forfeits: %s", engines[f.color].name, _COLOR_WORD[f.color], f.reason)
    finally:
        for engine in owned_engines:
            engine.close()
        if own_referee:
            ref.close()
    game = GameResult(
        black=engines[BLACK].name,
        white=engines[WHITE].name,
        winner=winner,
        result=result,
        reason=reason,
        moves=board.move_number,
        black_time=round(sum(times[BLACK]), 3),
        white_time=round(sum(times[WHITE]), 3),
        black_moves=len(times[BLACK]),
        white_moves=len(times[WHITE]),
        score=score,
        referee=ref.name,
        sgf_path=None,
        move_times=[round(t, 3) for t in move_times],
    )
    if sgf_path is not None:
        game.sgf_path = _write_sgf(board, game, comments, ref, sgf_path, game_name, extra_note, log)
    return game


def _play_opening(
    board: Board,
    engines: dict[int, Engine],
    opening: list[tuple[int, str]],
    move_times: list[float],
    comments: list[str | None],
) -> None:
    """Play the opening moves on the board and tell both engines; an engine that refuses one forfeits."""
    for color, vertex in opening:
        board.play(None if vertex.lower() == "pass" else vertex, color)
        move_times.append(0.0)
        comments.append("opening")
        word = _COLOR_WORD[color]
        for c in (BLACK, WHITE):
            command = f"play {word} {vertex}"
            try:
                engines[c].client.send(command)
            except GTPCommandError as err:
                reason = f"forfeit: refused the opening move {word} {vertex}: {_first_line(err.message)}"
                raise _Forfeit(c, "F", reason) from err
            except GTPError as err:
                raise _forfeit_from(err, c, command, engines[c].command_timeout) from err


def _play_moves(
    board: Board,
    engines: dict[int, Engine],
    ref: Referee,
    move_limit: int,
    move_timeout: float,
    clocks: dict[int, _Clock] | None,
    times: dict[int, list[float]],
    move_times: list[float],
    comments: list[str | None],
    log: logging.Logger,
) -> tuple[str | None, str, str, float | None, str]:
    """The move loop; returns (winner, result, reason, score, note) or raises :class:`_Forfeit`."""
    while True:
        if board.is_over or board.move_number >= move_limit:
            reason = "score" if board.is_over else f"move limit: {board.move_number} moves, scored as it stands"
            note = ""
            try:
                score = float(ref.score(board))
            except RefereeError as err:
                log.warning("%s; scoring by Tromp-Taylor instead", err)
                score = board.score()
                note = f" ({err}; scored by Tromp-Taylor)"
                reason += note
            result = format_result(score)
            winner = "B" if score > 0 else "W" if score < 0 else None
            return winner, result, reason, score, note
        color = board.to_move
        engine, other = engines[color], engines[opponent(color)]
        client = engine.client
        assert client is not None and other.client is not None
        word = _COLOR_WORD[color]
        if clocks is not None and clocks[color].limited:
            seconds, stones = clocks[color].time_left()
            command = f"time_left {word} {int(seconds)} {stones}"
            try:
                client.send(command)
            except GTPCommandError:
                pass  # an engine without time_left just does not hear about its clock
            except GTPError as err:
                raise _forfeit_from(err, color, command, engine.command_timeout) from err
        command = f"genmove {word}"
        start = time.monotonic()
        try:
            reply = client.send(command, timeout=move_timeout)
        except GTPError as err:
            times[color].append(time.monotonic() - start)
            raise _forfeit_from(err, color, command, move_timeout) from err
        seconds = time.monotonic() - start
        times[color].append(seconds)
        if clocks is not None:
            clocks[color].spend(seconds)
        text = reply.strip()
        lowered = text.lower()
        if lowered == "resign":
            winner = _COLOR_LETTER[opponent(color)]
            log.info("%s (%s) resigns at move %d", engine.name, word, board.move_number + 1)
            return winner, f"{winner}+R", "resign", None, ""
        if lowered == "pass":
            vertex = "pass"
        elif _VERTEX_RE.fullmatch(text):
            vertex = text.upper()
        else:
            raise _Forfeit(color, "F", f"forfeit: unreadable move {_first_line(text, 60)!r}")
        try:
            board.play(None if vertex == "pass" else vertex, color)
        except IllegalMoveError as err:
            raise _Forfeit(color, "F", f"forfeit: illegal move {vertex} ({err.reason})") from err
        except InvalidMoveError as err:
            raise _Forfeit(color, "F", f"forfeit: unreadable move {vertex!r} (off the board)") from err
        move_times.append(seconds)
        comments.append(f"{seconds:.2f} s")
        log.debug("move %d: %s %s (%.2f s)", board.move_number, word, vertex, seconds)
        command = f"play {word} {vertex}"
        try:
            other.client.send(command)
        except GTPCommandError as err:
            reason = f"forfeit: refused the legal move {word} {vertex}: {_first_line(err.message)}"
            raise _Forfeit(opponent(color), "F", reason) from err
        except GTPError as err:
            raise _forfeit_from(err, opponent(color), command, other.command_timeout) from err


def _write_sgf(
    board: Board,
    game: GameResult,
    comments: list[str | None],
    ref: Referee,
    path: str | os.PathLike[str],
    game_name: str | None,
    note: str,
    log: logging.Logger,
) -> str | None:
    if board.size > 19:
        log.warning("no SGF for a %dx%d game: SGF stops at 19x19", board.size, board.size)
        return None
    summary = (
        f"{game.result}: {game.reason}. Black {game.black_moves} moves in {game.black_time:.1f} s, "
        f"white {game.white_moves} moves in {game.white_time:.1f} s. Referee: {ref.name}{note}."
    )
    record = record_from_board(
        board,
        result=game.result,
        black_player=game.black,
        white_player=game.white,
        date=datetime.date.today().isoformat(),
        ruleset=ref.ruleset,
        game_name=game_name,
        root_comment=summary,
        comments=comments,
    )
    path = os.fspath(path)
    save_sgf(path, record)
    return path


# --- a match -------------------------------------------------------------------------------------------------------


@dataclass
class MatchSummary:
    """The running totals of a match between players A and B. ``a_wins_black`` counts A's wins with Black, and so
    on; ``a_time``/``a_moves`` are A's thinking seconds and generated moves over all games; ``reasons`` counts
    games by the kind of their ending."""

    a: str
    b: str
    games: int
    played: int = 0
    a_wins: int = 0
    b_wins: int = 0
    a_wins_black: int = 0
    a_wins_white: int = 0
    b_wins_black: int = 0
    b_wins_white: int = 0
    draws: int = 0
    voids: int = 0
    a_time: float = 0.0
    b_time: float = 0.0
    a_moves: int = 0
    b_moves: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    wall_time: float = 0.0
    out_dir: str | None = None

    def add(self, game: GameResult, a_color: str) -> None:
        """Count a finished game in which A had ``a_color`` (``"B"`` or ``"W"``)."""
        self.played += 1
        self.reasons[game.kind] = self.reasons.get(game.kind, 0) + 1
        a_black = a_color == "B"
        self.a_time += game.black_time if a_black else game.white_time
        self.b_time += game.white_time if a_black else game.black_time
        self.a_moves += game.black_moves if a_black else game.white_moves
        self.b_moves += game.white_moves if a_black else game.black_moves
        if game.winner is None:
            if game.kind == "void":
                self.voids += 1
            else:
                self.draws += 1
        elif game.winner == a_color:
            self.a_wins += 1
            if a_black:
                self.a_wins_black += 1
            else:
                self.a_wins_white += 1
        else:
            self.b_wins += 1
            if a_black:
                self.b_wins_white += 1
            else:
                self.b_wins_black += 1

    @property
    def decided(self) -> int:
        """Games that count for the win rate: all but the void ones."""
        return self.played - self.voids

    @property
    def win_rate_a(self) -> float | None:
        """A's score fraction: wins plus half the draws, over the games not void (None before any)."""
        return (self.a_wins + 0.5 * self.draws) / self.decided if self.decided else None

    @property
    def interval(self) -> tuple[float, float]:
        """95% Wilson score interval of :attr:`win_rate_a`."""
        return wilson_interval(self.a_wins + 0.5 * self.draws, self.decided)

    @property
    def a_seconds_per_move(self) -> float | None:
        return self.a_time / self.a_moves if self.a_moves else None

    @property
    def b_seconds_per_move(self) -> float | None:
        return self.b_time / self.b_moves if self.b_moves else None

    def score_line(self) -> str:
        """``A 3 - B 1 (draws 0)``, for progress lines."""
        line = f"{self.a} {self.a_wins} - {self.b} {self.b_wins}"
        if self.draws or self.voids:
            line += f" (draws {self.draws}, void {self.voids})"
        return line

    def to_dict(self) -> dict:
        data = dataclasses.asdict(self)
        low, high = self.interval
        rate = self.win_rate_a
        data.update(
            a_time=round(self.a_time, 3),
            b_time=round(self.b_time, 3),
            wall_time=round(self.wall_time, 3),
            win_rate_a=None if rate is None else round(rate, 4),
            interval_95=[round(low, 4), round(high, 4)],
            a_seconds_per_move=None if self.a_seconds_per_move is None else round(self.a_seconds_per_move, 4),
            b_seconds_per_move=None if self.b_seconds_per_move is None else round(self.b_seconds_per_move, 4),
        )
        return data


ProgressCallback = Callable[[int, GameResult, str, MatchSummary], None]
"""``progress(game_number, result, a_color, summary)`` after each finished game (game numbers start at 1)."""


def _append_line(path: Path, data: dict) -> None:
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(data, sort_keys=False) + "\n")
        f.flush()
        os.fsync(f.fileno())


def run_match(
    a: PlayerSpec,
    b: PlayerSpec,
    games: int,
    *,
    size: int = 9,
    komi: float = 7.5,
    move_limit: int | None = None,
    move_timeout: float = 60.0,
    referee: str | Referee = "tromp-taylor",
    time_settings: tuple[float, float, int] | None = None,
    ko_rule: str = "positional",
    alternate: bool = True,
    out_dir: str | os.PathLike[str] | None = None,
    progress: ProgressCallback | None = None,
    startup_timeout: float = DEFAULT_STARTUP_TIMEOUT,
    command_timeout: float = DEFAULT_COMMAND_TIMEOUT,
) -> MatchSummary:
    """Play ``games`` games between A and B and return the summary.

    Game ``i`` (from 0) has A as Black when ``i`` is even (always, with ``alternate=False``). The two engines are
    started once, checked before the first game (an engine that cannot start raises :class:`EngineStartError`, as
    does a GNU Go referee that cannot), and reused with ``clear_board``; one that dies or times out during the match
    is restarted for the next game. With ``out_dir`` (created if needed; it must not already hold a
    ``results.jsonl``) every finished game is appended to ``results.jsonl`` and written to ``game-NNNN.sgf``.
    Engines are shut down at the end, also after an exception or ``KeyboardInterrupt``."""
    if games < 1:
        raise ValueError(f"the number of games must be at least 1, got {games}")
    if a.name == b.name:
        raise ValueError(f"the two players need different names, both are {a.name!r}")
    if move_timeout <= 0 or startup_timeout <= 0 or command_timeout <= 0:
        raise ValueError("timeouts must be positive")
    if isinstance(referee, str) and referee not in REFEREES:
        raise ValueError(f"unknown referee {referee!r}; choose one of {', '.join(REFEREES)}")
    out = None if out_dir is None else Path(out_dir)
    results_path = None if out is None else out / RESULTS_FILE
    if results_path is not None and results_path.exists() and results_path.stat().st_size > 0:
        raise ValueError(f"{out} already holds a match ({RESULTS_FILE}); choose another output directory")
    summary = MatchSummary(a=a.name, b=b.name, games=games, out_dir=None if out is None else str(out))
    engine_a = Engine(a, startup_timeout=startup_timeout, command_timeout=command_timeout)
    engine_b = Engine(b, startup_timeout=startup_timeout, command_timeout=command_timeout)
    ref = make_referee(referee)
    start = time.monotonic()
    try:
        for engine in (engine_a, engine_b):
            engine.ensure()
        if isinstance(ref, GnuGoReferee):
            try:
                ref.start()
            except EngineStartError as err:
                raise EngineStartError(f"the GNU Go referee cannot start: {err}") from err
        if out is not None:
            out.mkdir(parents=True, exist_ok=True)
        logger.info("match %s vs %s: %d games on %dx%d, komi %g", a.name, b.name, games, size, size, komi)
        for i in range(games):
            a_black = i % 2 == 0 or not alternate
            black, white = (engine_a, engine_b) if a_black else (engine_b, engine_a)
            sgf_path = None if out is None else out / f"game-{i + 1:04d}.sgf"
            game = play_game(
                black,
                white,
                size=size,
                komi=komi,
                move_limit=move_limit,
                move_timeout=move_timeout,
                referee=ref,
                sgf_path=sgf_path,
                time_settings=time_settings,
                ko_rule=ko_rule,
                game_name=f"{a.name} vs {b.name}, game {i + 1}",
            )
            a_color = "B" if a_black else "W"
            summary.add(game, a_color)
            summary.wall_time = time.monotonic() - start
            if results_path is not None:
                _append_line(
                    results_path, {"game": i + 1, "a": a.name, "b": b.name, "a_color": a_color, **game.to_dict()}
                )
            if progress is not None:
                progress(i + 1, game, a_color, summary)
    finally:
        for engine in (engine_a, engine_b):
            engine.close()
        ref.close()
        summary.wall_time = time.monotonic() - start
    return summary
