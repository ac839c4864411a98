"""igo's GTP engine: the Go Text Protocol, version 2, over a :class:`~igo.engine.board.Board`.

:class:`GTPEngine` owns the game (board, komi, clock) and asks a *player* (:class:`igo.engine.player.Player`) for
moves. It speaks GTP v2 (Gunnar Farnebäck's specification, draft 2)::

    >>> engine = GTPEngine(RandomPlayer(seed=1), size=9)
    >>> engine.handle("1 play black E5")
    '=1 \\n\\n'
    >>> engine.handle("2 play white E5")
    '?2 illegal move\\n\\n'
    >>> engine.handle("# a comment") is None
    True

**Input** (spec section 2): every control character except HT and LF is removed, everything from ``#`` on is
discarded, HT becomes a space, and lines that are then empty are skipped. A command is ``[id] name [arguments]``; the
id, all ASCII digits, is echoed in the reply. Lines longer than :data:`MAX_LINE_BYTES` are refused with ``syntax
error`` without being parsed (:meth:`GTPEngine.serve` reads them in bounded pieces, so a huge line costs no memory).
Bytes that are not UTF-8 are decoded with replacement characters; such a line is just an unknown command or bad
argument.

**Replies**: ``=id text`` or ``?id message``, ended by a blank line. Multi-line replies never contain an empty line
(it would end the reply early). Failures use the spec's canonical texts exactly — ``unknown command``, ``syntax
error`` (a missing, extra or unreadable argument, an unknown colour, a vertex that is not on the board),
``unacceptable size``, ``illegal move``, ``cannot undo``, ``board not empty``, ``invalid number of stones``, ``bad
vertex list``, ``cannot load file`` — and the detail goes to the log (INFO). ``printsgf`` that cannot write answers
``cannot save file: <why>`` (the command is GNU Go's, not the spec's): a board larger than SGF's 19x19, a FIFO,
device or directory at the path (never replaced), an unwritable directory.

**Numbers are bounded** (``syntax error`` beyond, see :mod:`igo.gtp.protocol`): komi within ``±MAX_KOMI`` (1000);
clock seconds (``time_settings``, ``kgs-time_settings``, ``time_left``) at most a year, periods and stones at most
:data:`~igo.engine.limits.MAX_STONES`; the board size 2..25; handicap stones by the board; analysis intervals
at most a year.

**Never dies**: a command that raises is answered ``? internal error: ...`` (logged with its traceback) and the game
is rolled back to where it was before the command: commands check their arguments before they change anything, and
every command not in :data:`READ_ONLY_COMMANDS` runs against a snapshot that is restored on an unexpected error.

**Commands** are the methods named ``cmd_<name>`` (a subclass adds commands by defining more); GTP names with a dash
are private extensions whose prefix is one of :data:`EXTENSION_PREFIXES`, so ``cmd_kgs_time_settings`` is
``kgs-time_settings``. Each takes the list of argument strings and returns the reply text or raises
:class:`~igo.gtp.protocol.GTPFailure`. ``list_commands`` lists exactly the registered commands.

Scoring is area counting with komi: ``final_score`` and ``final_status_list`` are the player's
(:meth:`~igo.engine.player.Player.final_score`, :meth:`~igo.engine.player.Player.final_status`); the search player
removes the stones it estimates dead, a player without an estimate counts every stone alive (Tromp-Taylor).

Clock commands (``time_settings``, ``kgs-time_settings``, ``time_left``) are parsed, validated and kept in
:attr:`GTPEngine.clock` (a :class:`Clock`) and passed to the player's ``set_clock`` for its time management; the
random player ignores them.
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import io
import logging
import os
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO, TextIO

import numpy as np

from igo.engine.board import BLACK, WHITE, Board, color_name, fixed_handicap_points
from igo.engine.board import chains as _chains
from igo.engine.coords import MAX_SIZE, MIN_SIZE, gtp_to_rc, rc_to_gtp
from igo.engine.errors import InvalidMoveError, SGFError
from igo.engine.player import Player, RandomPlayer
from igo.engine.timecontrol import Clock, TimeLeft

from .analysis import AnalysisCommands, RawReply
from .protocol import (
    VERTEX_RE,
    GTPFailure,
    expect_args,
    parse_color,
    parse_count,
    parse_int,
    parse_komi,
    parse_seconds,
    parse_vertex,
)

log = logging.getLogger(__name__)

try:
    _VERSION = importlib.metadata.version("igo")
except importlib.metadata.PackageNotFoundError:  # run from a source tree that was never installed
    _VERSION = "unknown"

MAX_LINE_BYTES = 64 * 1024
"""Longest command line accepted (without its newline); longer lines get ``syntax error``."""

EXTENSION_PREFIXES = ("kgs", "gogui", "lz", "kata", "igo")
"""Prefixes of private GTP extensions: ``cmd_<prefix>_<rest>`` is the command ``<prefix>-<rest>``."""

READ_ONLY_COMMANDS = frozenset(
    {
        "protocol_version",
        "name",
        "version",
        "known_command",
        "list_commands",
        "quit",
        "showboard",
        "final_score",
        "final_status_list",
        "printsgf",
    }
)
"""Commands that never change the game, so they run without a rollback snapshot. Any other command gets one."""

_CHUNK = 64 * 1024  # how much of an overlong line is read (and dropped) at a time
# Control characters other than HT (9) and LF (10) are removed; HT becomes a space. LF is kept here only so that
# serve() can see line ends; inside one line it is whitespace.
_CLEAN = {c: None for c in (*range(0, 9), *range(11, 32), 127)} | {9: " "}


def gtp_command_name(method_name: str) -> str:
    """``cmd_kgs_time_settings`` -> ``kgs-time_settings``, ``cmd_play`` -> ``play``."""
    name = method_name.removeprefix("cmd_")
    prefix, sep, rest = name.partition("_")
    return f"{prefix}-{rest}" if sep and prefix in EXTENSION_PREFIXES else name


# --- handicap placement ------------------------------------------------------------------------------------------


def _fixed_limit(size: int) -> int:
    """Most fixed handicap stones on ``size`` (0 when the spec defines none)."""
    if size < 7:
        return 0
    return 4 if size % 2 == 0 or size == 7 else 9


def free_handicap_points(size: int, count: int) -> list[str]:
    """Where igo puts ``count`` free handicap stones (2 .. size*size-1): the fixed points while they suffice, then
    each further stone as far as possible (Euclidean) from those already placed, off the first line while there is
    room, preferring the third and fourth lines. Deterministic."""
    if not 2 <= count <= size * size - 1:
        raise ValueError(f"free handicap on {size}x{size} must be 2..{size * size - 1} stones, got {count}")
    limit = _fixed_limit(size)
    if count <= limit:
        return fixed_handicap_points(size, count)
    chosen = [gtp_to_rc(v, size) for v in fixed_handicap_points(size, limit)] if limit else []
    rows, cols = np.mgrid[0:size, 0:size]
    edge = np.minimum(np.minimum(rows, cols), np.minimum(size - 1 - rows, size - 1 - cols))
    free = np.ones((size, size), bool)
    far = np.full((size, size), 4 * size * size, np.int64)  # squared distance to the nearest chosen stone
    for r, c in chosen:
        free[r, c] = False
        far = np.minimum(far, (rows - r) ** 2 + (cols - c) ** 2)
    while len(chosen) < count:
        inner = free & (edge >= 1)
        allowed = inner if inner.any() else free
        score = np.where(allowed, far * 4 + np.minimum(edge, 3), -1)
        r, c = divmod(int(np.argmax(score)), size)
        chosen.append((r, c))
        free[r, c] = False
        far = np.minimum(far, (rows - r) ** 2 + (cols - c) ** 2)
    return [rc_to_gtp(r, c, size) for r, c in chosen]


# --- the engine --------------------------------------------------------------------------------------------------


@dataclass
class _Snapshot:
    board: Board
    clock: Clock


class GTPEngine(AnalysisCommands):
    """A GTP v2 engine over a :class:`Board`; see the module docstring.

    ``player`` chooses moves for ``genmove`` (default: :class:`~igo.engine.player.RandomPlayer`). ``size``, ``komi``,
    ``ko_rule`` and ``suicide`` set up the board; ``boardsize`` and ``clear_board`` keep the rules and komi."""

    name = "igo"

    def __init__(
        self,
        player: Player | None = None,
        *,
        size: int = 19,
        komi: float = 7.5,
        ko_rule: str = "positional",
        suicide: bool = False,
    ):
        self.player: Player = player if player is not None else RandomPlayer()
        self.ko_rule = ko_rule
        self.suicide = suicide
        self.board = Board(size, komi, ko_rule=ko_rule, suicide=suicide)
        self.clock = Clock()
        self.quit_requested = False
        self.input_pending: Callable[[], bool] = lambda: True  # serve() replaces it; handle() stops analysis at once
        self._writer: Callable[[str], None] | None = None
        self._emitted: list[str] = []
        self._streamed = False
        self.commands: dict[str, Callable[[list[str]], str]] = {
            gtp_command_name(attr): getattr(self, attr) for attr in dir(type(self)) if attr.startswith("cmd_")
        }

    # --- protocol ----------------------------------------------------------------------------------------------

    def handle(self, line: str) -> str | None:
        """The full reply (``"=id text\\n\\n"`` or ``"?id message\\n\\n"``) to one input line, or None for a line
        that pre-processing leaves empty (blank or comment). Never raises for any input."""
        if len(line) > MAX_LINE_BYTES:
            return self._process(line[:MAX_LINE_BYTES], truncated=True)
        return self._process(line, truncated=False)

    def serve(self, inp: BinaryIO | TextIO, out: BinaryIO | TextIO) -> None:
        """Answer commands from ``inp`` on ``out`` until ``quit`` or end of input. Both may be binary or text
        streams; replies are flushed one by one; a closed ``out`` ends the loop quietly.

        Input is read by a thread into a queue, so that a streaming analysis (``lz-analyze``) can stop the moment the
        next line arrives."""
        binary_out = not isinstance(out, io.TextIOBase)
        lines: queue.Queue = queue.Queue()

        def read() -> None:
            try:
                while True:
                    item = _read_line(inp)
                    lines.put(item)
                    if item is None:
                        return
            except Exception as e:  # a broken input stream ends the session like EOF
                log.warning("GTP input failed (%s); stopping", e)
                lines.put(None)

        threading.Thread(target=read, name="gtp-input", daemon=True).start()

        def write(text: str) -> None:
            out.write(text.encode("utf-8", errors="replace") if binary_out else text)
            out.flush()

        self._writer = write
        self.input_pending = lambda: not lines.empty()
        try:
            while not self.quit_requested:
                item = lines.get()
                if item is None:
                    log.info("end of input without quit")
                    return
                line, truncated = item
                try:
                    reply = self._process(line, truncated=truncated)
                except Exception as e:  # a bug outside any command: answer and go on
                    log.exception("GTP engine failed on input %r", line[:200])
                    reply = f"? internal error: {_one_line(f'{type(e).__name__}: {e}')}\n\n"
                if reply is None:
                    continue
                write(reply)
        except (BrokenPipeError, ConnectionResetError, ValueError, OSError) as e:
            log.warning("GTP output closed (%s); stopping", e)
        finally:
            self._writer = None
            self.input_pending = lambda: True

    def emit(self, text: str) -> None:
        """Send part of a reply now (streaming commands); without :meth:`serve`, keep it for the returned reply."""
        self._streamed = True
        if self._writer is not None:
            self._writer(text)
        else:
            self._emitted.append(text)

    def _process(self, line: str, *, truncated: bool) -> str | None:
        text = line.translate(_CLEAN).replace("\n", " ")
        hash_at = text.find("#")
        if hash_at >= 0:
            text, truncated = text[:hash_at], False  # what was cut off was comment anyway
        parts = text.split()
        if not parts:
            return None
        ident = ""
        if parts[0].isascii() and parts[0].isdigit():
            ident = parts[0].lstrip("0") or "0"
            parts = parts[1:]
        if truncated:
            log.warning("GTP line longer than %d bytes refused (id %s)", MAX_LINE_BYTES, ident or "none")
            return _reply(False, ident, "syntax error")
        log.debug("<< %s", text.strip())
        if not parts:
            reply = _reply(False, ident, "syntax error")
        else:
            reply = self._dispatch(ident, parts[0], parts[1:])
        log.debug(">> %s", reply.rstrip("\n"))
        return reply

    def _dispatch(self, ident: str, name: str, args: list[str]) -> str:
        method = self.commands.get(name)
        if method is None:
            log.info("unknown GTP command %r", name[:100])
            return _reply(False, ident, "unknown command")
        snapshot = None if name in READ_ONLY_COMMANDS else _Snapshot(self.board.copy(), self.clock)
        self._ident = ident
        self._emitted = []
        try:
            result = method(args)
            if isinstance(result, RawReply):
                return "".join(self._emitted) + str(result)
            return _reply(True, ident, result)
        except GTPFailure as e:  # raised before the command changed anything
            log.info("GTP %s %s: %s%s", name, " ".join(args)[:200], e.message, f" ({e.detail})" if e.detail else "")
            return _reply(False, ident, e.message)
        except Exception as e:
            log.exception("GTP command %r failed; the game is rolled back", " ".join([name, *args])[:200])
            if snapshot is not None:
                self._rollback(snapshot)
            if self._emitted or self._streamed:
                return "".join(self._emitted) + "\n"  # a streamed reply already began: end it
            return _reply(False, ident, f"internal error: {type(e).__name__}: {e}")
        finally:
            self._streamed = False

    def _rollback(self, snapshot: _Snapshot) -> None:
        self.board, self.clock = snapshot.board, snapshot.clock
        try:
            self.player.set_clock(self.clock)
            self.player.new_game(self.board)
        except Exception:
            log.exception("the player failed to follow the rolled-back position")

    def _new_board(self, size: int | None = None) -> None:
        size = self.board.size if size is None else size
        self.board = Board(size, self.board.komi, ko_rule=self.ko_rule, suicide=self.suicide)
        self.player.new_game(self.board)

    def _require_empty(self) -> None:
        if self.board.move_number or self.board.stones().any():
            raise GTPFailure("board not empty")

    # --- administrative commands ---------------------------------------------------------------------------------

    def cmd_protocol_version(self, args: list[str]) -> str:
        expect_args(args, 0, "no arguments")
        return "2"

    def cmd_name(self, args: list[str]) -> str:
        expect_args(args, 0, "no arguments")
        return self.name

    def cmd_version(self, args: list[str]) -> str:
        expect_args(args, 0, "no arguments")
        return _VERSION

    def cmd_known_command(self, args: list[str]) -> str:
        expect_args(args, 1, "a command name")
        return "true" if args[0] in self.commands else "false"

    def cmd_list_commands(self, args: list[str]) -> str:
        expect_args(args, 0, "no arguments")
        return "\n".join(sorted(self.commands))

    def cmd_quit(self, args: list[str]) -> str:
        self.quit_requested = True  # quit never fails, whatever follows it
        return ""

    # --- setup ---------------------------------------------------------------------------------------------------

    def cmd_boardsize(self, args: list[str]) -> str:
        expect_args(args, 1, "a board size")
        size = parse_int(args[0], "board size")
        if not MIN_SIZE <= size <= MAX_SIZE:
            raise GTPFailure("unacceptable size", f"igo plays {MIN_SIZE}x{MIN_SIZE} to {MAX_SIZE}x{MAX_SIZE}")
        if not self.player.supports_size(size):
            raise GTPFailure("unacceptable size", f"the player's network is not for {size}x{size}")
        self._new_board(size)
        return ""

    def cmd_clear_board(self, args: list[str]) -> str:
        expect_args(args, 0, "no arguments")
        self._new_board()
        return ""

    def cmd_komi(self, args: list[str]) -> str:
        expect_args(args, 1, "a komi")
        self.board.komi = parse_komi(args[0])
        return ""

    def cmd_fixed_handicap(self, args: list[str]) -> str:
        expect_args(args, 1, "a number of stones")
        count = parse_int(args[0], "number of stones")
        self._require_empty()
        try:
            vertices = fixed_handicap_points(self.board.size, count)
        except ValueError as e:
            raise GTPFailure("invalid number of stones", str(e)) from None
        return self._place_handicap(vertices)

    def cmd_place_free_handicap(self, args: list[str]) -> str:
        expect_args(args, 1, "a number of stones")
        count = parse_int(args[0], "number of stones")
        self._require_empty()
        try:
            vertices = free_handicap_points(self.board.size, count)
        except ValueError as e:
            raise GTPFailure("invalid number of stones", str(e)) from None
        return self._place_handicap(vertices)

    def cmd_set_free_handicap(self, args: list[str]) -> str:
        if not args:
            raise GTPFailure("syntax error", "expected a list of vertices")
        for text in args:
            if not (text.isascii() and (text.lower() == "pass" or VERTEX_RE.fullmatch(text))):
                raise GTPFailure("syntax error", f"invalid vertex {text!r}")
        self._require_empty()
        n = self.board.size
        vertices = [v.upper() for v in args]
        if not 2 <= len(vertices) <= n * n - 1:
            raise GTPFailure("bad vertex list", f"{len(vertices)} stones; a free handicap is 2..{n * n - 1}")
        if len(set(vertices)) != len(vertices) or "PASS" in vertices:
            raise GTPFailure("bad vertex list", "duplicate vertex or pass")
        try:
            for v in vertices:
                gtp_to_rc(v, n)
        except InvalidMoveError as e:
            raise GTPFailure("bad vertex list", str(e)) from None
        self._place_handicap(vertices)
        return ""  # the controller chose the stones: nothing to tell it

    def _place_handicap(self, vertices: list[str]) -> str:
        board = self.board.copy()
        board.setup(black=vertices)
        board.to_move = WHITE
        self.board = board
        self.player.new_game(self.board)
        return " ".join(vertices)

    # --- moves ---------------------------------------------------------------------------------------------------

    def cmd_play(self, args: list[str]) -> str:
        expect_args(args, 2, "a color and a vertex")
        color = parse_color(args[0])
        vertex = parse_vertex(args[1], self.board.size)
        reason = self.board.illegal_reason(vertex, color)
        if reason is not None:
            raise GTPFailure("illegal move", f"{color_name(color)} {vertex}: {reason}")
        self.board.play(vertex, color)
        self.player.played(self.board, color, vertex)
        return ""

    def cmd_genmove(self, args: list[str]) -> str:
        expect_args(args, 1, "a color")
        return self._genmove(parse_color(args[0]), play=True)

    def cmd_kgs_genmove_cleanup(self, args: list[str]) -> str:
        """KGS's cleanup phase (remove dead stones before passing). Under area scoring the player's pass policy
        already refuses to pass while passing loses, so this is ``genmove``."""
        expect_args(args, 1, "a color")
        return self._genmove(parse_color(args[0]), play=True)

    def cmd_reg_genmove(self, args: list[str]) -> str:
        expect_args(args, 1, "a color")
        return self._genmove(parse_color(args[0]), play=False)

    def _genmove(self, color: int, *, play: bool, report=None, interval: float = 1.0) -> str:
        if report is None:
            answer = self.player.genmove(self.board, color)
        else:
            answer = self.player.genmove(self.board, color, report=report, interval=interval)
        if not isinstance(answer, str):
            raise TypeError(f"player {self.player!r} returned {answer!r}, not a GTP vertex")
        move = answer.strip().lower()
        if move == "resign":
            return "resign"
        if move != "pass":
            if not VERTEX_RE.fullmatch(move):
                raise ValueError(f"player {self.player!r} returned {answer!r}, not a GTP vertex")
            move = move.upper()
            reason = self.board.illegal_reason(move, color)  # raises for a vertex off the board
            if reason is not None:
                raise ValueError(f"player {self.player!r} chose an illegal move {move} ({reason})")
        if play:
            self.board.play(None if move == "pass" else move, color)
            self.player.played(self.board, color, move)
        return move

    def cmd_undo(self, args: list[str]) -> str:
        expect_args(args, 0, "no arguments")
        if not self.board.can_undo:
            raise GTPFailure("cannot undo", "no move since the start or the handicap")
        self.board.undo()
        self.player.new_game(self.board)
        return ""

    # --- the position and the score ----------------------------------------------------------------------------

    def cmd_showboard(self, args: list[str]) -> str:
        expect_args(args, 0, "no arguments")
        return "\n" + str(self.board)

    def cmd_final_score(self, args: list[str]) -> str:
        """Area score with komi, the stones the player estimates dead removed (a player without an estimate: every
        stone alive, Tromp-Taylor)."""
        expect_args(args, 0, "no arguments")
        return self.player.final_score(self.board)

    def cmd_final_status_list(self, args: list[str]) -> str:
        """One chain per line, by the player's :meth:`~igo.engine.player.Player.final_status` (a player without a
        dead-stone estimate: every stone alive)."""
        expect_args(args, 1, "a status (alive, dead or seki)")
        status = args[0].lower()
        if status not in ("alive", "dead", "seki"):
            raise GTPFailure("syntax error", f"unknown status {args[0]!r}")
        n = self.board.size
        stones = self.board.stones()
        chains = _chains(stones, BLACK) + _chains(stones, WHITE)
        chains.sort(key=lambda chain: chain[0])
        wanted = set(self.player.final_status(self.board)[status])
        chains = [chain for chain in chains if rc_to_gtp(*chain[0], n) in wanted]
        return "\n".join(" ".join(rc_to_gtp(r, c, n) for r, c in chain) for chain in chains)

    # --- game records --------------------------------------------------------------------------------------------

    def cmd_loadsgf(self, args: list[str]) -> str:
        """``loadsgf FILE [MOVE_NUMBER]``: the position of the file's main line before move MOVE_NUMBER (all moves
        without it), with its size, komi, handicap and setup stones."""
        from igo.engine.sgf import load_sgf_file, replay  # sgfmill is imported on first use: a quicker start

        expect_args(args, (1, 2), "a file name and an optional move number")
        path = args[0]
        keep = None
        if len(args) == 2:
            number = parse_int(args[1], "move number")
            if number < 1:
                raise GTPFailure("syntax error", f"move number must be 1 or more, got {number}")
            keep = number - 1
        if not os.path.isfile(path):
            raise GTPFailure("cannot load file", f"{path!r} is not a readable file")
        try:
            record = load_sgf_file(path, check_legal=False)
            if keep is not None and keep < len(record.moves):
                record = dataclasses.replace(
                    record,
                    moves=record.moves[:keep],
                    comments=record.comments[:keep],
                    setup_events=[ev for ev in record.setup_events if ev.move_index <= keep],
                )
            board = replay(record, ko_rule=self.ko_rule, suicide=self.suicide)
        except (OSError, SGFError, ValueError) as e:
            raise GTPFailure("cannot load file", f"{path}: {e}") from None
        self.board = board
        self.player.new_game(self.board)
        return ""

    def cmd_printsgf(self, args: list[str]) -> str:
        """``printsgf [FILE]``: the game as SGF; with FILE (other than ``-``), written there atomically instead.
        Never replaces anything but a regular file; SGF holds boards up to 19x19 (``cannot save file: ...`` beyond)."""
        from igo.engine.sgf import MAX_SGF_SIZE, dump_sgf, save_sgf

        expect_args(args, (0, 1), "an optional file name")
        n = self.board.size
        if n > MAX_SGF_SIZE:
            raise GTPFailure(f"cannot save file: SGF records boards up to {MAX_SGF_SIZE}x{MAX_SGF_SIZE}, not {n}x{n}")
        meta = {"result": self.board.result()} if self.board.is_over else {}
        try:
            if args and args[0] != "-":
                save_sgf(args[0], self.board, **meta)
                return ""
            return dump_sgf(self.board, **meta).decode("utf-8")
        except OSError as e:
            why = f"{args[0]}: {e.strerror}" if e.strerror else str(e)  # the user's path, not the .tmp beside it
            raise GTPFailure(f"cannot save file: {why}") from None
        except ValueError as e:
            raise GTPFailure(f"cannot save file: {e}") from None

    # --- time ----------------------------------------------------------------------------------------------------

    def cmd_time_settings(self, args: list[str]) -> str:
        expect_args(args, 3, "main_time byo_yomi_time byo_yomi_stones")
        main = parse_seconds(args[0], "main time")
        byo = parse_seconds(args[1], "byo-yomi time")
        stones = parse_count(args[2], "byo-yomi stones")
        self.clock = Clock.from_time_settings(main, byo, stones)
        self.player.set_clock(self.clock)
        return ""

    def cmd_kgs_time_settings(self, args: list[str]) -> str:
        """``none``, ``absolute MAIN``, ``byoyomi MAIN PERIOD_TIME PERIODS`` or ``canadian MAIN PERIOD_TIME STONES``."""
        if not args:
            raise GTPFailure("syntax error", "expected a time system")
        system, rest = args[0].lower(), args[1:]
        if system == "none":
            expect_args(rest, 0, "nothing after 'none'")
            clock = Clock("none")
        elif system == "absolute":
            expect_args(rest, 1, "absolute MAIN_TIME")
            clock = Clock("absolute", parse_seconds(rest[0], "main time"))
        elif system in ("byoyomi", "canadian"):
            expect_args(rest, 3, f"{system} MAIN_TIME PERIOD_TIME {'PERIODS' if system == 'byoyomi' else 'STONES'}")
            main = parse_seconds(rest[0], "main time")
            period = parse_seconds(rest[1], "period time")
            count = parse_count(rest[2], "periods" if system == "byoyomi" else "stones")
            if system == "byoyomi":
                clock = Clock("byoyomi", main, period, periods=count)
            else:
                clock = Clock("canadian", main, period, stones=count)
        else:
            raise GTPFailure("syntax error", f"unknown time system {args[0]!r}")
        self.clock = clock
        self.player.set_clock(self.clock)
        return ""

    def cmd_time_left(self, args: list[str]) -> str:
        expect_args(args, 3, "color time stones")
        color = parse_color(args[0])
        left = TimeLeft(parse_seconds(args[1], "time"), parse_count(args[2], "stones"))
        self.clock = self.clock.with_left(color, left)
        self.player.set_clock(self.clock)
        return ""


# --- I/O helpers ---------------------------------------------------------------------------------------------------


def _one_line(text: str) -> str:
    return " ".join(str(text).translate(_CLEAN).split())[:1000]


def _reply(ok: bool, ident: str, text: str) -> str:
    """A GTP reply: single-line failures; success text without control characters or empty lines."""
    if not ok:
        return f"?{ident} {_one_line(text)}\n\n"
    lines = text.translate(_CLEAN).split("\n")
    body = "\n".join([lines[0].rstrip()] + [ln.rstrip() for ln in lines[1:] if ln.strip()])
    return f"={ident} {body}\n\n"


def _read_line(inp: BinaryIO | TextIO) -> tuple[str, bool] | None:
    """The next line (without its newline) and whether it was longer than MAX_LINE_BYTES (then only its start is
    returned and the rest has been read and dropped); None at end of input."""
    chunk = inp.readline(MAX_LINE_BYTES + 1)
    if not chunk:
        return None
    newline = b"\n" if isinstance(chunk, bytes) else "\n"
    truncated = False
    if chunk.endswith(newline):
        chunk = chunk[:-1]
    elif len(chunk) > MAX_LINE_BYTES:
        truncated = True
        while True:
            more = inp.readline(_CHUNK)
            if not more or more.endswith(newline):
                break
    if len(chunk) > MAX_LINE_BYTES:
        truncated = True
    text = chunk.decode("utf-8", errors="replace") if isinstance(chunk, bytes) else chunk
    return text[:MAX_LINE_BYTES], truncated


__all__ = [
    "GTPEngine",
    "Clock",
    "TimeLeft",
    "MAX_LINE_BYTES",
    "EXTENSION_PREFIXES",
    "READ_ONLY_COMMANDS",
    "free_handicap_points",
    "gtp_command_name",
]
