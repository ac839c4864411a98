"""``igo play``: a game against igo on a text board in the terminal, for people without a GUI.

::

    igo play                                  # 9x9, you are Black, the search player's default budget (with
                                              # the network that ships with igo, at its komi; --model none: rollouts)
    igo play --size 13 --color white --time 5 --sgf game.sgf
    igo play --handicap 4 --komi 0.5          # four fixed handicap stones for Black (you), igo (White) moves first

At the prompt (``Black (you) > ``) type a move such as ``D4`` or ``d4`` (column letter without I, row number from
the bottom), or one of ``pass``, ``undo`` (takes back your last move and igo's reply), ``resign``, ``score`` (an
estimate of the result now: the expected owner of every point over :data:`SCORE_PLAYOUTS` random playouts, and igo's
win rate at its last move), ``board``, ``help``, ``quit`` / ``exit`` (or end of input, Ctrl-D). A mistyped or illegal
move gets a one-line reason and the prompt again.

The game ends after two passes in a row or a resignation. It is then counted exactly, by area (stones plus surrounded
empty points, minus komi) with the dead stones removed: those igo's player judges dead (``final_status``), or, for a
player without that estimate, the chains an ownership estimate calls dead (:func:`igo.engine.player.dead_by_ownership`).
The dead stones are listed and drawn in lower case (``x``, ``o``) on the final board; "no dead stones" when there are
none. The search player passes after your pass only when it wins by this count (see :mod:`igo.engine.player`).
``--sgf PATH`` writes the record at the start, after every move and at the end, atomically, so a crash loses nothing.

:class:`TerminalGame` is the game without the terminal: :meth:`TerminalGame.handle` takes one input line and returns
the text to print, so it can be driven (and tested) without a subprocess. :func:`run` adds the terminal: a flushed
prompt on stdout that works through a pipe as well as a tty (where line editing is on), and clean exits on end of
input and Ctrl-C (exit code 130), saving the record in both cases.

Engine modules are imported on first use, so ``igo --help`` stays quick.
"""

from __future__ import annotations

import argparse
import datetime
import logging
import re
import sys
import time
from collections.abc import Callable
from typing import TextIO

from igo.engine.options import PlayerOptions, add_player_arguments

log = logging.getLogger(__name__)

_VERTEX_RE = re.compile(r"([a-z])\s*([0-9]+)")

ILLEGAL_REASONS = {
    "occupied": "the point is occupied",
    "suicide": "suicide (the stone would have no liberty)",
    "ko": "ko (you may not retake the ko at once; play elsewhere first)",
    "superko": "superko (the move would repeat an earlier position)",
    "off board": "not on the board",
}
"""The one-line explanation of each reason of :meth:`igo.engine.board.Board.illegal_reason`."""

SCORE_PLAYOUTS = 5000
"""Random playouts behind ``score``'s ownership estimate (and the dead stones at the end when the player has no
estimate of its own): about 0.1 s on 9x9 and 0.4 s on 19x19 on one loaded core, the estimate's margin within about a
point from one call to the next."""

HELP = """\
Commands:
  D4, d4      play a stone there: column letter (there is no I), then row number from the bottom
  pass        pass; two passes in a row end the game, which is then counted by area with the dead stones removed
              (listed, and drawn as x and o on the final board)
  undo        take back your last move and igo's reply to it
  resign      give up the game
  score       an estimate of the result now (who owns each point, from random playouts, and igo's win rate at its
              last move); the exact count comes at the end
  board       draw the board again
  help        this list
  quit, exit  leave the game (Ctrl-D too); with --sgf the record is saved
"""


class TerminalGame:
    """A game between a person at a terminal and an igo ``player`` (an :class:`igo.engine.player.Player`).

    ``human`` is the person's colour (``BLACK`` or ``WHITE``); ``handicap`` places that many fixed handicap stones
    for Black (White then moves first); ``sgf_path`` saves the record after every move. ``on_think`` is called with
    the text produced so far just before igo starts thinking (the terminal prints it at once; that text is then not
    part of what :meth:`handle` returns). ``clock`` measures igo's thinking time. ``seed`` seeds the ownership
    estimates made here (``score``; the dead stones of a player without an estimate of its own).

    Call :meth:`start` once (it may include igo's first move), then :meth:`handle` for each input line until
    :attr:`finished`; :meth:`leave` ends the game early. :attr:`result` is ``B+R``, ``W+3.5``... once the game is
    over, None while it goes on or when it was left unfinished."""

    def __init__(
        self,
        player,
        *,
        size: int = 9,
        komi: float = 7.5,
        human: int = 1,
        handicap: int = 0,
        sgf_path: str | None = None,
        on_think: Callable[[str], None] | None = None,
        clock: Callable[[], float] = time.perf_counter,
        seed: int | None = None,
    ):
        from igo.engine.board import BLACK, WHITE, Board, opponent

        if human not in (BLACK, WHITE):
            raise ValueError(f"human colour must be BLACK or WHITE, got {human!r}")
        if sgf_path is not None and size > 19:
            raise ValueError(f"SGF records hold boards up to 19x19; drop --sgf to play on {size}x{size}")
        self.player = player
        self.board = Board(size, komi)
        self.human = human
        self.igo = opponent(human)
        self.handicap_stones: list[str] = self.board.place_handicap(handicap) if handicap else []
        self.sgf_path = sgf_path
        self.on_think = on_think
        self.clock = clock
        self.finished = False
        self.result: str | None = None
        self.seed = seed
        self._search = None  # (move number, Analysis) of igo's last search, for its win rate in ``score``
        self._out: list[str] = []
        self._save_failed = False
        self.player.new_game(self.board)
        if sgf_path is not None:
            self._save(strict=True)  # an unwritable path is an error now, not after the first move

    # --- the interface ---------------------------------------------------------------------------------------------

    @property
    def prompt(self) -> str:
        return f"{_name(self.human)} (you) > "

    def start(self) -> str:
        """The greeting, the board, and igo's first move when igo is to move."""
        b = self.board
        player_name = self.player.name
        self._say(
            f"igo play: {b.size}x{b.size}, komi {b.komi:g}. You are {_name(self.human)} ({_stone(self.human)}), "
            f"igo is {_name(self.igo)} ({_stone(self.igo)}) with the {player_name} player."
        )
        if self.handicap_stones:
            self._say(f"Handicap {len(self.handicap_stones)}: Black stones at {' '.join(self.handicap_stones)}.")
        self._say("Type a move such as C3, or pass, undo, resign, score, board, help, quit.")
        if self.board.to_move == self.igo:
            self._igo_turn()
        else:
            self._say(str(b))
        return self._take()

    def handle(self, line: str) -> str:
        """Carry out one line of input (a move or a command; see :data:`HELP`) and return the text to print."""
        text = line.strip()
        if not text:
            return ""
        if self.finished:
            return f"The game is over ({self.result or 'left'}).\n"
        word = text.lower()
        if word.startswith("play "):
            word = word[5:].strip()
        command = _COMMANDS.get(word)
        if command is not None:
            command(self)
        else:
            self._human_move(text, word)
        return self._take()

    def leave(self, why: str = "You left the game") -> str:
        """End the game unfinished (quit, end of input, Ctrl-C): save the record and say so; return the text."""
        self._leave(why)
        return self._take()

    # --- commands --------------------------------------------------------------------------------------------------

    def _cmd_pass(self) -> None:
        self._play_human("pass")

    def _cmd_undo(self) -> None:
        b = self.board
        if not any(color == self.human for color, _ in b.moves):
            self._say("Nothing to undo: you have not moved yet.")
            return
        taken = []
        while True:
            color, vertex = b.moves[-1]
            b.undo()
            taken.append(f"{vertex} ({'yours' if color == self.human else 'igo'})")
            if color == self.human:
                break
        self.player.new_game(b)
        self._search = None
        self._save()
        self._say(f"Took back {', '.join(reversed(taken))}.")
        self._say(str(b))

    def _cmd_resign(self) -> None:
        self._finish(f"{_letter(self.igo)}+R", "You resign.", draw_board=False)

    def _cmd_score(self) -> None:
        """An estimate, labelled as one: Black's expected area minus White's by the ownership of every point, minus
        komi, rounded to a whole point; with igo's win rate from its last search when its player reports one."""
        from igo.engine.board import format_result

        b = self.board
        own = self.ownership(SCORE_PLAYOUTS)
        estimate = format_result(round(float(own.sum())) - b.komi)
        notes = [f"ownership from {SCORE_PLAYOUTS} playouts"]
        if self._search is not None and self._search[1].moves:
            move_number, analysis = self._search
            notes.append(f"igo's win rate {100 * analysis.moves[0].winrate:.0f}% at move {move_number}")
        self._say(
            f"Estimate: {_describe(estimate, self.human, final=False)} ({'; '.join(notes)}). "
            "The exact count comes at the end, after two passes."
        )

    def ownership(self, playouts: int):
        """The expected final owner of every point now, ``(N, N)``, +1 Black: the player's estimate when it has one
        (``supports_ownership``), else the mean over ``playouts`` random playouts."""
        import numpy as np

        from igo.engine.player import estimate_ownership

        b = self.board
        if self.player.supports_ownership:
            own = np.asarray(self.player.ownership(b, playouts), dtype=np.float64)
            if own.shape != (b.size, b.size) or not np.isfinite(own).all():
                raise ValueError(
                    f"igo's player {self.player!r} gave an ownership of shape {own.shape}, not {b.size}x{b.size} "
                    "finite values"
                )
            return own
        return estimate_ownership(b, playouts, seed=self.seed)

    def _cmd_board(self) -> None:
        self._say(str(self.board))

    def _cmd_help(self) -> None:
        self._say(HELP.rstrip("\n"))

    def _cmd_quit(self) -> None:
        self._leave("You left the game")

    def _leave(self, why: str) -> None:
        if not self.finished:
            self.finished = True
            self._save()
            n = self.board.move_number
            self._say(f"{why} after {n} move{'' if n == 1 else 's'}; it is unfinished.")
            self._saved_note()

    # --- moves -----------------------------------------------------------------------------------------------------

    def _human_move(self, text: str, word: str) -> None:
        from igo.engine.coords import GTP_COLUMNS

        n = self.board.size
        m = _VERTEX_RE.fullmatch(word) if word.isascii() else None
        if m is None:
            self._say(f"Unknown command {text!r}: type a move such as C3, or help.")
            return
        column, row = m.group(1).upper(), int(m.group(2))
        where = f"columns A-{GTP_COLUMNS[n - 1]}, rows 1-{n}"
        if column == "I":
            self._say(f"{text.upper()} is not on the board: there is no column I in Go coordinates ({where}).")
            return
        if GTP_COLUMNS.index(column) >= n or not 1 <= row <= n:
            self._say(f"{text.upper()} is not on the board ({where}).")
            return
        vertex = f"{column}{row}"
        reason = self.board.illegal_reason(vertex, self.human)
        if reason is not None:
            self._say(f"{vertex} is illegal: {ILLEGAL_REASONS.get(reason, reason)}.")
            return
        self._play_human(vertex)

    def _play_human(self, vertex: str) -> None:
        self._play(vertex, self.human)
        if self.board.is_over:
            self._say("You pass too: both players passed and the game is over.")
            self._finish_by_count()
        else:
            self._igo_turn()

    def _igo_turn(self) -> None:
        from igo.engine.errors import InvalidMoveError

        b, color = self.board, self.igo
        if self.on_think is not None:
            self._say(f"igo ({_name(color)}) is thinking...")
            self.on_think(self._take())
        start = self.clock()
        self._search = None
        if self.player.supports_analysis:  # its final report carries the win rate that ``score`` shows
            move_number = b.move_number + 1

            def keep(analysis) -> None:
                self._search = (move_number, analysis)

            answer = self.player.genmove(b, color, report=keep, interval=3600.0)
        else:
            answer = self.player.genmove(b, color)
        took = f"{self.clock() - start:.2f} s"
        move = answer.strip().lower() if isinstance(answer, str) else ""
        if move == "resign":
            self._finish(f"{_letter(self.human)}+R", f"igo ({_name(color)}) resigns ({took}).")
            return
        if move != "pass":
            try:
                reason = b.illegal_reason(move.upper() or "?", color)
            except InvalidMoveError:
                reason = "not a vertex on the board"
            if reason is not None:
                raise ValueError(f"igo's player {self.player!r} chose {answer!r}, which is illegal ({reason})")
            move = move.upper()
        captured = b.captures[color]
        self._play(move, color)
        captured = b.captures[color] - captured
        if move == "pass":
            self._say(f"igo ({_name(color)}) passes ({took}).")
            if b.is_over:
                self._say("Both players passed: the game is over.")
                self._finish_by_count()
                return
            self._say("Pass too to end the game, or play on.")
        else:
            caps = f", capturing {captured} stone{'s' if captured != 1 else ''}" if captured else ""
            self._say(f"igo ({_name(color)}) plays {move}{caps} ({took}).")
        self._say(str(b))

    def _play(self, vertex: str, color: int) -> None:
        self.board.play(None if vertex == "pass" else vertex, color)
        self.player.played(self.board, color, vertex)
        self._save()

    # --- the end of the game ----------------------------------------------------------------------------------------

    def _finish_by_count(self) -> None:
        from igo.engine.board import BLACK, WHITE, format_result

        b = self.board
        dead, source = self._judge_dead()
        scored = b.copy()
        if dead:
            scored.setup(empty=dead)
        black, white = scored.area()
        result = format_result(black - white - b.komi)
        lines = [_mark_dead(str(b), dead, b.size)]
        if dead:
            by_color = {c: [v for v in dead if b.color_at(v) == c] for c in (BLACK, WHITE)}
            listed = "; ".join(f"{_name(c)} {' '.join(vs)}" for c, vs in by_color.items() if vs)
            lines.append(f"Dead stones ({source}; drawn as x and o above), removed before counting: {listed}.")
            how = "area, dead stones removed"
        else:
            lines.append(f"No dead stones ({source}).")
            how = "area, no dead stones"
        lines.append(f"Final count ({how}): Black {black}, White {white}, komi {b.komi:g}.")
        self._finish(result, "\n".join(lines), draw_board=False)

    def dead_stones(self) -> list[str]:
        """The vertices of the dead stones, sorted: those the player's ``final_status`` calls dead when it
        ``estimates_dead_stones``, else (or when its answer does not fit the board) those of the chains an ownership
        estimate (:meth:`ownership`, :data:`SCORE_PLAYOUTS` playouts) calls dead."""
        return self._judge_dead()[0]

    def _judge_dead(self) -> tuple[list[str], str]:
        """The dead stones (sorted vertices) and where they come from, for the final count."""
        from igo.engine.board import EMPTY
        from igo.engine.coords import gtp_to_rc
        from igo.engine.player import dead_by_ownership

        b = self.board
        dead: set[str] | None = None
        source = "by igo's estimate"
        if self.player.estimates_dead_stones:
            try:
                dead = {str(v).strip().upper() for v in self.player.final_status(b).get("dead", ())}
                for v in dead:
                    if b.color_at(v) == EMPTY:
                        raise ValueError(f"{v} is empty")
            except Exception as e:  # the player's estimate is a courtesy; a wrong one must not lose the game record
                log.warning("ignoring the player's dead stones (%s); using an ownership estimate", e)
                dead = None
        if dead is None:
            source = f"by an ownership estimate from {SCORE_PLAYOUTS} playouts"
            try:
                dead = set(dead_by_ownership(b, self.ownership(SCORE_PLAYOUTS)))
            except Exception as e:  # as above: count every stone rather than lose the game
                log.warning("no dead-stone estimate (%s); counting every stone alive", e)
                return [], "no estimate could be made, so every stone counts"
        return sorted(dead, key=lambda v: gtp_to_rc(v, b.size)[::-1]), source

    def _finish(self, result: str, text: str, *, draw_board: bool = True) -> None:
        self.finished = True
        self.result = result
        if draw_board:
            self._say(str(self.board))
        self._say(text)
        self._say(f"Result: {_describe(result, self.human)}.")
        self._save()
        self._saved_note()

    # --- output, notifications and the record ---------------------------------------------------------------------

    def _say(self, text: str) -> None:
        self._out.append(text + "\n")

    def _take(self) -> str:
        text = "".join(self._out)
        self._out.clear()
        return text

    def _save(self, *, strict: bool = False) -> None:
        """Write the record to :attr:`sgf_path` (if any). A failure during the game is reported once and play goes
        on (the game matters more than its file); ``strict`` raises it instead."""
        if self.sgf_path is None:
            return
        from igo.engine.sgf import save_sgf

        from . import __version__

        player_name = self.player.name
        names = {self.human: "human", self.igo: f"igo {__version__} ({player_name})"}
        try:
            save_sgf(
                self.sgf_path,
                self.board,
                result=self.result,
                black_player=names[1],
                white_player=names[2],
                date=datetime.date.today().isoformat(),
            )
        except (OSError, ValueError) as e:
            if strict:
                raise OSError(f"cannot write the SGF record {self.sgf_path}: {e}") from e
            if not self._save_failed:
                self._save_failed = True
                self._say(f"Warning: cannot save the game to {self.sgf_path}: {e}")
            log.warning("cannot save %s: %s", self.sgf_path, e)
        else:
            self._save_failed = False

    def _saved_note(self) -> None:
        if self.sgf_path is not None and not self._save_failed:
            self._say(f"Game saved to {self.sgf_path}.")


_COMMANDS: dict[str, Callable[[TerminalGame], None]] = {
    "pass": TerminalGame._cmd_pass,
    "undo": TerminalGame._cmd_undo,
    "resign": TerminalGame._cmd_resign,
    "score": TerminalGame._cmd_score,
    "board": TerminalGame._cmd_board,
    "help": TerminalGame._cmd_help,
    "?": TerminalGame._cmd_help,
    "quit": TerminalGame._cmd_quit,
    "exit": TerminalGame._cmd_quit,
}


def _mark_dead(drawing: str, dead: list[str], size: int) -> str:
    """``str(board)`` with the stones at ``dead`` in lower case (``x``, ``o``)."""
    from igo.engine.coords import gtp_to_rc

    if not dead:
        return drawing
    lines = drawing.split("\n")
    for v in dead:
        r, c = gtp_to_rc(v, size)
        row = lines[1 + r]  # the column letters, then rows from the top: "NN" and a separator before each point
        i = 3 + 2 * c
        lines[1 + r] = row[:i] + row[i].lower() + row[i + 1 :]
    return "\n".join(lines)


def _name(color: int) -> str:
    return "Black" if color == 1 else "White"


def _letter(color: int) -> str:
    return "B" if color == 1 else "W"


def _stone(color: int) -> str:
    return "X" if color == 1 else "O"


def _describe(result: str, human: int, *, final: bool = True) -> str:
    """``B+3.5`` -> ``B+3.5, you win`` (``igo wins``, a draw; ``you lead``... when not ``final``) for ``human``."""
    if result == "0":
        return "0, a draw" if final else "0, even"
    ahead = (1 if result.startswith("B") else 2) == human
    if final:
        return f"{result}, {'you win' if ahead else 'igo wins'}"
    return f"{result}, {'you lead' if ahead else 'igo leads'}"


# --- the command -----------------------------------------------------------------------------------------------------


def add_arguments(p: argparse.ArgumentParser) -> None:
    from igo.engine.coords import DEFAULT_SIZE, MAX_SIZE, MIN_SIZE

    p.add_argument("--size", type=int, default=None, help=f"board size, {MIN_SIZE}..{MAX_SIZE} (default "
                   f"{DEFAULT_SIZE}, or the network's size)")  # fmt: skip
    p.add_argument("--komi", type=float, default=None, help="komi (default: the komi the --model network was "
                   "trained at, else 7.5; 0.5 is usual with a handicap)")  # fmt: skip
    p.add_argument("--color", choices=("black", "white"), default="black", help="your colour (default black)")
    p.add_argument(
        "--handicap",
        type=int,
        default=0,
        metavar="N",
        help="N fixed handicap stones for Black, 2..9 on 7x7 and larger (default 0); the komi stays as given",
    )
    p.add_argument("--sgf", metavar="PATH", default=None,
                   help="save the game there, after every move and at the end (default: not saved)")  # fmt: skip
    add_player_arguments(p)
    p.set_defaults(run=run)


def _warm_up(player) -> None:
    """Load the kernels ``player`` uses before the board is drawn. On the first run after an install they compile,
    and stderr says so first: ``igo: compiling search kernels (first run only, about N s)...`` (then ``igo: kernels
    ready in X s``); from the cache they load in a fraction of a second, silently."""
    from igo.engine.warmup import Announcer, player_steps, warm_up

    steps = player_steps(player)
    try:
        with Announcer(sum(s.seconds for s in steps), sys.stderr):
            warm_up(steps)
    except Exception as e:  # noqa: BLE001  (the game itself reports a kernel that fails, with its traceback)
        log.warning("warming up the kernels failed: %s", e)


def run(args) -> int:
    if args.handicap < 0:
        raise ValueError(f"--handicap must be 0 or 2 and more, got {args.handicap}")
    from igo.engine.coords import DEFAULT_SIZE
    from igo.nets.player import build_player, resolve_play

    setup = resolve_play(PlayerOptions.from_namespace(args), args.size, args.komi, DEFAULT_SIZE)
    options, args.size, args.komi, default_net = setup.options, setup.size, setup.komi, setup.default_network
    if default_net is not None:  # one line: which network plays, and how to play without it
        from igo.nets.default import default_network_info, describe

        print(f"igo: playing with {describe(default_network_info())}; --model none plays rollouts", file=sys.stderr)
    try:
        player = build_player(options, args.size)
    except ImportError as e:
        raise ValueError(f"the {options.kind} player is not available ({e}); try --player random") from None
    _warm_up(player)
    stdin, stdout = sys.stdin, sys.stdout
    if hasattr(stdin, "reconfigure"):
        stdin.reconfigure(errors="replace")  # stray bytes are an unknown command, not a UnicodeDecodeError
    interactive = stdin.isatty() and stdout.isatty()

    def write(text: str) -> None:
        stdout.write(text)
        stdout.flush()

    game = TerminalGame(
        player,
        size=args.size,
        komi=args.komi,
        human=1 if args.color == "black" else 2,
        handicap=args.handicap,
        sgf_path=args.sgf,
        on_think=write if interactive else None,
        seed=options.seed,
    )
    return play(game, stdin, write, interactive=interactive)


def play(game: TerminalGame, stdin: TextIO, write: Callable[[str], None], *, interactive: bool) -> int:
    """The terminal loop: prompt, read a line, print what the game says, until the game is over (0), input ends
    (0) or Ctrl-C (130). On a tty the prompt has line editing (readline) when Python has it."""
    if interactive:
        try:
            import readline  # noqa: F401  (input() edits lines and keeps history once it is imported)
        except ImportError:
            pass

    def read_line() -> str | None:
        if interactive:
            try:
                return input(game.prompt)
            except EOFError:
                return None
        write(game.prompt)
        line = stdin.readline()
        return line if line else None

    try:
        write(game.start())
        while not game.finished:
            line = read_line()
            if line is None:
                write("\n" + game.leave("End of input: you left the game"))
                break
            write(game.handle(line))
    except KeyboardInterrupt:
        write("\n" + game.leave("Interrupted: you left the game"))
        return 130
    return 0


__all__ = ["HELP", "ILLEGAL_REASONS", "SCORE_PLAYOUTS", "TerminalGame", "add_arguments", "play", "run"]
