"""The arena: games and matches between two GTP engines, refereed.

A player is a GTP command line (:class:`~igo.selfplay.gtp_players.PlayerSpec`);
:func:`~igo.selfplay.gtp_players.igo_command` builds igo's own. :func:`play_game` plays one game, :func:`run_match`
plays N with alternating colours and reuses the two engine processes between games (``clear_board``), restarting one
that died::

    from igo.selfplay.gtp_players import PlayerSpec, igo_command
    from igo.selfplay.match import run_match

    a = PlayerSpec("igo", igo_command(9, 7.5, ["--playouts", "2000"]))
    b = PlayerSpec("gnugo-10", ["gnugo", "--mode", "gtp", "--level", "10", "--chinese-rules"])
    summary = run_match(a, b, 20, size=9, komi=7.5, out_dir="matches/igo-vs-gnugo", referee="gnugo")
    print(summary.a_wins, summary.win_rate_a, summary.interval)

**The referee is the arena, not the engines.** Each game is kept on the arena's own :class:`~igo.engine.board.Board`
(positional superko and no suicide by default, as in Tromp-Taylor) and every move an engine generates is checked
there before the opponent hears of it. How a game can end and how its result and reason read is tabled in
:mod:`igo.selfplay.records`; the score of a finished game comes from a referee (:mod:`igo.selfplay.referee`:
Tromp-Taylor by default, or GNU Go, which removes dead stones; if GNU Go fails, the game is scored by Tromp-Taylor and
the reason says so).

Time: every ``genmove`` has ``move_timeout`` seconds; other commands have ``command_timeout``; an engine's first
command after starting has ``startup_timeout`` (loading Python, Numba caches), so nothing ever waits forever. With
``time_settings=(main, byo_yomi, stones)`` the engines are sent GTP ``time_settings`` and, before each ``genmove``,
``time_left`` from a :class:`~igo.engine.timecontrol.Clock` the arena counts from the measured thinking times
(:meth:`~igo.engine.timecontrol.Clock.after_move`; Canadian overtime as in the GTP spec); the clock is advice for the
engines' time management, only the move timeout is enforced.

A match writes one JSON line per finished game to ``out_dir/results.jsonl`` (flushed and fsynced, so a crash loses
at most the game in progress) and an SGF per game (``game-0001.sgf``, ...; see :mod:`igo.selfplay.records`). Engines
are shut down with ``quit``, then terminated, then killed, also on ``KeyboardInterrupt``.

The win rate of player A counts a draw as half a win and leaves void games out; its 95% interval is the Wilson
score interval (:func:`~igo.selfplay.stats.wilson_interval`).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from igo.engine.board import BLACK, WHITE, Board, color_name, format_result, opponent
from igo.engine.errors import IllegalMoveError, InvalidMoveError
from igo.engine.fileio import append_json_line
from igo.engine.timecontrol import Clock
from igo.gtp.client import (
    GTPCommandError,
    GTPEngineDied,
    GTPError,
    GTPProtocolError,
    GTPTimeoutError,
)

from .gtp_players import (
    DEFAULT_COMMAND_TIMEOUT,
    DEFAULT_STARTUP_TIMEOUT,
    Engine,
    EngineStartError,
    PlayerSpec,
    first_line,
)
from .records import RESULTS_FILE, GameResult, write_game_sgf
from .referee import REFEREES, GnuGoReferee, Referee, RefereeError, make_referee
from .stats import wilson_interval

__all__ = ["GameStopped", "MatchSummary", "ProgressCallback", "play_game", "run_match"]

logger = logging.getLogger(__name__)

_COLOR_LETTER: Final = {BLACK: "B", WHITE: "W"}
_VERTEX_RE: Final = re.compile(r"[A-Za-z][0-9]{1,2}")


# --- one game ------------------------------------------------------------------------------------------------------


class GameStopped(Exception):
    """Raised by :func:`play_game` when its ``stop()`` said so before a move: the game is dropped (its engines shut
    down), not scored."""


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
        said = f"; its last words: {first_line(tail[-1], 120)!r}" if tail else ""
        return _Forfeit(color, "F", f"crash: the engine died during {what} (exit code {err.returncode}){said}")
    if isinstance(err, GTPCommandError):
        return _Forfeit(color, "F", f"forfeit: {what} failed: {first_line(err.message)}")
    if isinstance(err, GTPProtocolError):
        return _Forfeit(color, "F", f"forfeit: bad reply to {what}: {first_line(str(err))}")
    return _Forfeit(color, "F", f"crash: {first_line(str(err))}")


def _setup_engine(
    engine: Engine, color: int, size: int, komi: float, time_settings: tuple[float, float, int] | None
) -> None:
    """Start (or restart) ``engine`` and give it a fresh game; raises :class:`_Forfeit` on failure."""
    try:
        client = engine.ensure()
    except EngineStartError as err:
        raise _Forfeit(color, "F", f"crash: {first_line(str(err))}") from err
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
    stop: Callable[[], bool] | None = None,
) -> GameResult:
    """Play one game between two GTP engines and return how it ended (see the module docstring); never raises for
    anything an engine does, and never waits longer than the timeouts.

    ``black`` and ``white`` are specs (an engine is started for this game and shut down after it) or
    :class:`Engine` s (reused: sent ``boardsize``, ``clear_board`` and ``komi``; restarted if dead; left running).
    ``move_limit`` (default ``3 * size * size`` moves, passes included) ends a game that runs too long; it is then
    scored as it stands. ``sgf_path``, when given, receives the game record (boards up to 19x19). ``opening``:
    moves ``(colour, vertex)`` played for both sides before the engines choose (from an opening book or SGF), so that
    deterministic players do not replay one game; they must be legal (ValueError otherwise) and are sent to both
    engines with ``play``. ``stop``: asked before the engines start and before each move; when it returns True the
    game ends at once with :class:`GameStopped` (its engines shut down, nothing written)."""
    log = log or logger
    if move_timeout <= 0:
        raise ValueError(f"move timeout must be positive, got {move_timeout!r}")
    move_limit = 3 * size * size if move_limit is None else int(move_limit)
    if move_limit < 1:
        raise ValueError(f"move limit must be at least 1, got {move_limit}")
    clock = None  # the time keeper's count of both sides' time, sent to the engines with time_left
    if time_settings is not None:
        main, byo, stones = time_settings
        if main < 0 or byo < 0 or stones < 0:
            raise ValueError(f"time settings must not be negative, got {time_settings!r}")
        clock = Clock.from_time_settings(float(main), float(byo), int(stones)).started()
    board = Board(size, komi, ko_rule=ko_rule)
    opening = [(int(c), str(v)) for c, v in opening]
    check = Board(size, komi, ko_rule=ko_rule)
    for c, v in opening:  # a bad opening is the caller's error, found before any engine starts
        try:
            check.play(None if v.lower() == "pass" else v, c)
        except ValueError as err:
            raise ValueError(f"opening move {color_name(c) if c in (BLACK, WHITE) else c} {v}: {err}") from err
    if stop is not None and stop():
        raise GameStopped("stopped before the game started")
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
        try:
            if len(failures) == 2:
                winner, result = None, "Void"
                reason = f"void: black {failures[BLACK].reason}; white {failures[WHITE].reason}"
            elif failures:
                raise next(iter(failures.values()))
            else:
                _play_opening(board, engines, opening, move_times, comments)
                winner, result, reason, score, extra_note = _play_moves(
                    board, engines, ref, move_limit, move_timeout, clock, times, move_times, comments, log, stop
                )
        except _Forfeit as f:
            winner = _COLOR_LETTER[opponent(f.color)]
            result, reason = f"{winner}+{f.letter}", f.reason
            log.info("%s (%s) forfeits: %s", engines[f.color].name, color_name(f.color), f.reason)
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
        if board.size > 19:
            log.warning("no SGF for a %dx%d game: SGF stops at 19x19", board.size, board.size)
        else:
            game.sgf_path = write_game_sgf(
                sgf_path, board, game, comments, ruleset=ref.ruleset, game_name=game_name, note=extra_note
            )
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
        word = color_name(color)
        for c in (BLACK, WHITE):
            command = f"play {word} {vertex}"
            try:
                engines[c].client.send(command)
            except GTPCommandError as err:
                reason = f"forfeit: refused the opening move {word} {vertex}: {first_line(err.message)}"
                raise _Forfeit(c, "F", reason) from err
            except GTPError as err:
                raise _forfeit_from(err, c, command, engines[c].command_timeout) from err


def _play_moves(
    board: Board,
    engines: dict[int, Engine],
    ref: Referee,
    move_limit: int,
    move_timeout: float,
    clock: Clock | None,
    times: dict[int, list[float]],
    move_times: list[float],
    comments: list[str | None],
    log: logging.Logger,
    stop: Callable[[], bool] | None = None,
) -> tuple[str | None, str, str, float | None, str]:
    """The move loop; returns (winner, result, reason, score, note) or raises :class:`_Forfeit` (or
    :class:`GameStopped` when ``stop()`` says so before a move)."""
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
        if stop is not None and stop():
            raise GameStopped(f"stopped at move {board.move_number + 1}")
        color = board.to_move
        engine, other = engines[color], engines[opponent(color)]
        client = engine.client
        assert client is not None and other.client is not None
        word = color_name(color)
        left = None if clock is None else clock.left(color)
        if left is not None:
            command = f"time_left {word} {int(left.seconds)} {left.stones}"
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
        if clock is not None:
            clock = clock.after_move(color, seconds)
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
            raise _Forfeit(color, "F", f"forfeit: unreadable move {first_line(text, 60)!r}")
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
            reason = f"forfeit: refused the legal move {word} {vertex}: {first_line(err.message)}"
            raise _Forfeit(opponent(color), "F", reason) from err
        except GTPError as err:
            raise _forfeit_from(err, opponent(color), command, other.command_timeout) from err


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
                append_json_line(
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
