"""``igo play``: the game logic through :class:`igo.play_cmd.TerminalGame` with a scripted player, then the command
itself in a subprocess through a pipe and through a pseudo-terminal, on 5x5 with the random player."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time

import pytest

from igo.engine.board import BLACK, WHITE, Board, format_result
from igo.engine.errors import IllegalMoveError
from igo.engine.player import Player, RandomPlayer, dead_by_ownership, estimate_ownership, score_without
from igo.engine.sgf import load_sgf_file
from igo.play_cmd import ILLEGAL_REASONS, SCORE_PLAYOUTS, TerminalGame


class Scripted(Player):
    """A player that answers its script in order (then passes) and records every call it gets."""

    name = "scripted"

    def __init__(self, moves=()):
        self.moves = list(moves)
        self.calls: list[tuple] = []

    def genmove(self, board: Board, color: int) -> str:
        self.calls.append(("genmove", board.move_number, color))
        return self.moves.pop(0) if self.moves else "pass"

    def new_game(self, board: Board) -> None:
        self.calls.append(("new_game", board.move_number))

    def played(self, board: Board, color: int, vertex: str) -> None:
        on_board = None if vertex == "pass" else board.color_at(vertex)
        self.calls.append(("played", color, vertex, on_board))


class Judging(Scripted):
    """A scripted player that also says which stones are dead at the end."""

    def __init__(self, moves=(), dead=()):
        super().__init__(moves)
        self.dead = list(dead)

    @property
    def estimates_dead_stones(self) -> bool:
        return True

    def final_status(self, board: Board) -> dict[str, list[str]]:
        return {"alive": [], "dead": list(self.dead), "seki": []}


def new_game(moves=(), player=None, **kwargs) -> tuple[TerminalGame, str]:
    game = TerminalGame(player or Scripted(moves), size=5, **kwargs)
    return game, game.start()


# --- the game, without a terminal -----------------------------------------------------------------------------------


def test_start_draws_the_board_and_the_prompt_names_the_human():
    game, out = new_game()
    assert "5x5, komi 7.5" in out and "You are Black (X)" in out and "igo is White (O)" in out
    assert str(game.board) in out
    assert game.prompt == "Black (you) > "
    assert game.player.calls == [("new_game", 0)]


def test_a_move_gets_igos_reply_and_both_are_notified():
    game, _ = new_game(["C4"])
    out = game.handle("  d4 ")
    assert "igo (White) plays C4 (" in out and " s)." in out
    assert str(game.board) in out  # the board after igo's reply
    assert game.board.moves == [(BLACK, "D4"), (WHITE, "C4")]
    calls = game.player.calls
    assert ("played", BLACK, "D4", BLACK) in calls and ("played", WHITE, "C4", WHITE) in calls
    assert calls.index(("played", BLACK, "D4", BLACK)) < calls.index(("genmove", 1, WHITE))
    game.handle("PLAY B2")  # 'play' is allowed in front of a vertex, and case does not matter
    assert game.board.moves[2] == (BLACK, "B2")


def test_captures_are_reported():
    game, _ = new_game(["B1"])
    game.board = Board.from_ascii(
        """
        . . . . .
        . . . . .
        . . . . .
        O . . . .
        X . . . .
        """
    )
    out = game.handle("e5")
    assert "igo (White) plays B1, capturing 1 stone (" in out
    assert "captures B 0 W 1" in out


@pytest.mark.parametrize(
    "line, message",
    [
        ("Z99", "Z99 is not on the board (columns A-E, rows 1-5)."),
        ("f1", "F1 is not on the board (columns A-E, rows 1-5)."),
        ("a6", "A6 is not on the board"),
        ("a0", "A0 is not on the board"),
        ("i3", "there is no column I"),
        ("foo", "Unknown command 'foo'"),
        ("pass please", "Unknown command 'pass please'"),
        ("ｄ４", "Unknown command"),
        ("d4d4", "Unknown command"),
    ],
)
def test_bad_input_gets_one_line_and_changes_nothing(line, message):
    game, _ = new_game()
    out = game.handle(line)
    assert message in out
    assert out.count("\n") == 1
    assert game.board.move_number == 0 and not game.finished


def test_occupied():
    game, _ = new_game(["C4"])
    game.handle("c3")
    assert game.handle("c3") == "C3 is illegal: the point is occupied.\n"
    assert game.handle("c4") == "C4 is illegal: the point is occupied.\n"
    assert game.board.move_number == 2


def test_suicide_and_ko_are_named():
    game = TerminalGame(Scripted(["C4"]), size=5, human=WHITE)
    game.board = Board.from_ascii(
        """
        . X O . .
        X O . O .
        . X O . .
        . . . . .
        . . . . .
        """,
        to_move=BLACK,
    )
    out = game.start()  # igo (Black) captures B4 at C4
    assert "igo (Black) plays C4, capturing 1 stone" in out
    assert game.handle("B4") == "B4 is illegal: ko (you may not retake the ko at once; play elsewhere first).\n"
    game = TerminalGame(Scripted(), size=5)
    game.board = Board.from_ascii(". O . . .\nO . . . .\n. . . . .\n. . . . .\n. . . . .")
    assert game.handle("a5") == "A5 is illegal: suicide (the stone would have no liberty).\n"
    assert game.board.move_number == 0


def test_every_illegal_reason_has_an_explanation():
    assert set(IllegalMoveError.REASONS) <= set(ILLEGAL_REASONS)
    assert "superko" in ILLEGAL_REASONS["superko"]


def test_undo_takes_back_the_human_move_and_igos_reply():
    game, _ = new_game(["C4", "B2"])
    game.handle("D4")
    game.handle("D3")
    calls = len(game.player.calls)
    out = game.handle("undo")
    assert "Took back D3 (yours), B2 (igo)." in out
    assert game.board.moves == [(BLACK, "D4"), (WHITE, "C4")]
    assert game.board.to_move == BLACK
    assert game.player.calls[calls:] == [("new_game", 2)]
    game.handle("undo")
    game.handle("undo")
    assert game.handle("undo") == "Nothing to undo: you have not moved yet.\n"
    assert game.board.move_number == 0


def test_undo_when_igo_moved_first():
    game, out = new_game(["C3", "D3"], human=WHITE)
    assert "igo (Black) plays C3" in out and game.prompt == "White (you) > "
    assert "Nothing to undo" in game.handle("undo")
    game.handle("B2")
    assert "Took back B2 (yours), D3 (igo)." in game.handle("undo")
    assert game.board.moves == [(BLACK, "C3")] and game.board.to_move == WHITE


def test_handicap_gives_igo_the_first_move_as_white(tmp_path):
    path = tmp_path / "h.sgf"
    game = TerminalGame(Scripted(["E5"]), size=9, komi=0.5, handicap=2, sgf_path=str(path))
    out = game.start()
    assert "Handicap 2: Black stones at " in out
    assert len(game.handicap_stones) == 2 and all(game.board.color_at(v) == BLACK for v in game.handicap_stones)
    assert "igo (White) plays E5" in out and game.prompt == "Black (you) > "
    record = load_sgf_file(path)
    assert record.handicap == 2 and record.komi == 0.5 and record.moves == [(WHITE, (4, 4))]


def test_handicap_player_answer_checked():
    with pytest.raises(ValueError, match="illegal"):
        TerminalGame(Scripted(["C3"]), size=9, handicap=2).start()  # C3 holds a handicap stone on 9x9


@pytest.mark.parametrize("answer", ["Z9", "D4 D5", "", None, "C3"])
def test_an_illegal_answer_of_the_player_is_an_error(answer):
    game, _ = new_game(["C3"])
    game.player.moves = [answer]
    with pytest.raises(ValueError, match="igo's player"):
        game.handle("c3")


def test_two_passes_end_the_game_with_the_count():
    game, _ = new_game()
    out = game.handle("pass")
    assert "igo (White) passes (" in out and "Both players passed: the game is over." in out
    assert "No dead stones (by an ownership estimate from 5000 playouts)." in out
    assert "Final count (area, no dead stones): Black 0, White 0, komi 7.5." in out
    assert "Result: W+7.5, igo wins." in out
    assert game.finished and game.result == "W+7.5"
    assert game.handle("d4") == "The game is over (W+7.5).\n"


def test_igo_passes_first_then_the_human():
    game, _ = new_game(["pass"])
    game.handle("c3")
    out = game.handle("PASS")
    assert "You pass too: both players passed" in out and "Result: B+17.5, you win." in out


def test_dead_stones_are_listed_and_removed():
    game, _ = new_game(player=Judging(["A1", "pass"], dead=["a1"]))
    game.handle("c3")
    out = game.handle("pass")
    assert "Dead stones (by igo's estimate; drawn as x and o above), removed before counting: White A1." in out
    assert " 1 o . . . . 1" in out
    assert "Final count (area, dead stones removed): Black 25, White 0, komi 7.5." in out
    assert "Result: B+17.5, you win." in out
    assert game.board.color_at("A1") == WHITE  # the game's board keeps them
    assert game.dead_stones() == ["A1"]


@pytest.mark.parametrize("dead", [["C4"], ["Z9"], None])
def test_a_wrong_dead_stone_list_falls_back_to_the_ownership_estimate(dead):
    game, _ = new_game(player=Judging(["A1", "pass"], dead=dead or []), seed=1)
    if dead is None:
        game.player.final_status = lambda board: 1 / 0
    game.handle("c3")
    out = game.handle("pass")
    expected = dead_by_ownership(game.board, estimate_ownership(game.board, SCORE_PLAYOUTS, seed=1))
    assert "by an ownership estimate from 5000 playouts" in out and game.dead_stones() == expected
    margin = score_without(game.board, expected)
    assert f"Result: {format_result(margin)}, " in out


def test_no_estimate_at_all_counts_every_stone():
    game, _ = new_game(player=Judging(["A1", "pass"], dead=["C4"]))
    game.ownership = lambda playouts: 1 / 0
    game.handle("c3")
    out = game.handle("pass")
    assert "No dead stones (no estimate could be made, so every stone counts)." in out
    assert "Final count (area, no dead stones): Black 1, White 1, komi 7.5." in out and "Result: W+7.5" in out


def test_resign_by_either_side():
    game, _ = new_game()
    out = game.handle("Resign")
    assert out.endswith("You resign.\nResult: W+R, igo wins.\n")
    assert game.result == "W+R" and game.finished
    game, _ = new_game(["resign"], human=WHITE)
    assert game.finished and game.result == "W+R"
    game, _ = new_game(["C4", "resign"])
    game.handle("d4")
    out = game.handle("d3")
    assert "igo (White) resigns (" in out and "Result: B+R, you win." in out
    assert str(game.board) in out


def test_score_help_board_and_blank_lines():
    game, _ = new_game(["C4"])
    game.handle("c3")
    out = game.handle("score")
    assert out.startswith("Estimate: W+") and ", igo leads (ownership from 5000 playouts)." in out
    for word in ("pass", "undo", "resign", "score", "help", "quit"):
        assert word in game.handle("help")
    assert game.handle("board") == str(game.board) + "\n"
    assert game.handle("   ") == ""
    assert game.board.move_number == 2


def test_quit_saves_the_unfinished_game(tmp_path):
    path = tmp_path / "g.sgf"
    game, _ = new_game(["C4"], sgf_path=str(path))
    game.handle("c3")
    out = game.handle("quit")
    assert out == f"You left the game after 2 moves; it is unfinished.\nGame saved to {path}.\n"
    record = load_sgf_file(path)
    assert record.result is None and len(record.moves) == 2
    assert game.finished and game.leave() == ""


def test_the_record_is_saved_after_every_move(tmp_path):
    path = tmp_path / "g.sgf"
    game, _ = new_game(["C4"], sgf_path=str(path))
    assert load_sgf_file(path).moves == []
    game.handle("c3")
    record = load_sgf_file(path)
    assert record.moves == [(BLACK, (2, 2)), (WHITE, (1, 2))]
    assert record.black_player == "human" and record.white_player.startswith("igo ")
    game.handle("undo")
    assert load_sgf_file(path).moves == []
    game.handle("pass")
    record = load_sgf_file(path)
    assert record.result == "W+7.5" and record.moves == [(BLACK, None), (WHITE, None)]


def test_an_unwritable_record_fails_at_the_start_and_warns_later(tmp_path):
    with pytest.raises(OSError, match="cannot write"):
        TerminalGame(Scripted(), size=5, sgf_path=str(tmp_path / "missing" / "g.sgf"))
    with pytest.raises(ValueError, match="19x19"):
        TerminalGame(Scripted(), size=21, sgf_path=str(tmp_path / "g.sgf"))
    game, _ = new_game(["C4", "D4"], sgf_path=str(tmp_path / "g.sgf"))
    game.sgf_path = str(tmp_path / "gone" / "g.sgf")
    out = game.handle("c3")
    assert out.startswith("Warning: cannot save the game to") and "igo (White) plays C4" in out
    assert "Warning" not in game.handle("b2")  # reported once
    assert "Game saved" not in game.handle("quit")


def test_on_think_gets_the_text_before_igo_thinks():
    shown = []
    game = TerminalGame(Scripted(["C4"]), size=5, on_think=shown.append, clock=iter([0.0, 1.25]).__next__)
    game.start()
    out = game.handle("c3")
    assert shown == ["igo (White) is thinking...\n"]
    assert out.startswith("igo (White) plays C4 (1.25 s).\n")


def test_a_random_game_to_the_end():
    game, _ = new_game(player=RandomPlayer(seed=1))
    for _ in range(200):
        if game.finished:
            break
        moves = game.board.legal_moves()
        game.handle(moves[len(moves) // 2] if moves and game.board.move_number < 30 else "pass")
    assert game.finished and game.result and game.result[0] in "BW0"


# --- the command in a subprocess --------------------------------------------------------------------------------------

PLAY = [sys.executable, "-m", "igo", "play", "--size", "5", "--player", "random", "--seed", "1"]


def play(*args: str, script: str | bytes = "", timeout: float = 60) -> subprocess.CompletedProcess:
    text = isinstance(script, str)
    r = subprocess.run([*PLAY, *args], input=script, capture_output=True, text=text, timeout=timeout, check=False)
    if not text:
        r.stdout, r.stderr = r.stdout.decode(), r.stderr.decode()
    # the first run after an engine change compiles kernels and says so (igo.engine.warmup)
    r.stderr = "".join(
        line
        for line in r.stderr.splitlines(keepends=True)
        if not line.startswith(("igo: compiling ", "igo: kernels ready in "))
    )
    return r


def test_pipe_game_with_errors_undo_and_two_passes(tmp_path):
    path = tmp_path / "game.sgf"
    r = play("--sgf", str(path), script="c3\nC3\nz99\nundo\npass\n")
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""
    out = r.stdout
    assert out.count("Black (you) > ") == 5
    assert "Black (you) > C3 is illegal: the point is occupied.\n" in out
    assert "Black (you) > Z99 is not on the board (columns A-E, rows 1-5).\n" in out
    assert "Took back C3 (yours)" in out
    assert "igo (White) passes" in out and "Result: W+7.5, igo wins." in out
    assert out.endswith(f"Game saved to {path}.\n")
    record = load_sgf_file(path)
    assert record.size == 5 and record.result == "W+7.5"
    assert record.moves == [(BLACK, None), (WHITE, None)]


def test_pipe_resign_after_junk_bytes(tmp_path):
    path = tmp_path / "game.sgf"
    r = play("--sgf", str(path), script=b"\xff\xfe\x00\nc3\nresign\nd4\n")
    assert r.returncode == 0, r.stderr
    assert "Black (you) > Unknown command" in r.stdout  # bytes that are not UTF-8 are just an unknown command
    assert "You resign.\nResult: W+R, igo wins." in r.stdout
    assert r.stdout.count("Black (you) > ") == 3  # the line after the end is not read
    record = load_sgf_file(path)
    assert record.result == "W+R" and len(record.moves) == 2


def test_pipe_white_and_end_of_input(tmp_path):
    path = tmp_path / "game.sgf"
    r = play("--color", "white", "--komi", "6.5", "--sgf", str(path), script="")
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""
    assert "You are White (O), igo is Black (X)" in r.stdout and "igo (Black) plays " in r.stdout
    assert r.stdout.endswith(
        f"White (you) > \nEnd of input: you left the game after 1 move; it is unfinished.\nGame saved to {path}.\n"
    )
    record = load_sgf_file(path)
    assert record.komi == 6.5 and record.result is None and [c for c, _ in record.moves] == [BLACK]


@pytest.mark.parametrize(
    "args, message",
    [(["--handicap", "2"], "fixed handicap is not defined on 5x5"), (["--size", "30"], "board size")],
)
def test_bad_options_are_errors(args, message):
    r = play(*args)
    assert r.returncode == 1
    assert r.stderr.startswith("igo play: error: ") and message in r.stderr


def _read_until(fd: int, needle: bytes, seen: bytearray, start: int = 0, timeout: float = 30) -> int:
    """Read the terminal into ``seen`` until ``needle`` appears after ``start``; return the index after it."""
    deadline = time.monotonic() + timeout
    while needle not in seen[start:]:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"no {needle!r} in {bytes(seen[start:])!r}")
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # EIO: the child closed the terminal
                chunk = b""
            if not chunk:
                raise AssertionError(f"the terminal closed before {needle!r}: {bytes(seen[start:])!r}")
            seen += chunk
    return seen.index(needle, start) + len(needle)


def test_on_a_terminal():
    """The prompt, a move, igo's thinking line (shown on a terminal only) and Ctrl-C at the prompt, on a real tty."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: its stdin, stdout and stderr are the terminal, which is its controlling terminal
        try:
            os.execve(sys.executable, PLAY, {**os.environ, "TERM": "dumb"})
        finally:
            os._exit(127)
    try:
        seen = bytearray()
        at = _read_until(fd, b"Black (you) > ", seen)
        os.write(fd, b"c3\n")
        at = _read_until(fd, b"igo (White) is thinking...", seen, at)
        at = _read_until(fd, b"igo (White) plays ", seen, at)
        at = _read_until(fd, b"Black (you) > ", seen, at)
        time.sleep(0.2)
        os.write(fd, b"\x03")  # Ctrl-C at the prompt: SIGINT from the terminal
        bye = b"Interrupted: you left the game after 2 moves; it is unfinished."
        try:
            _read_until(fd, bye, seen, at, timeout=3)
        except AssertionError:
            # CPython's readline prompt sees a SIGINT that arrives before it waits for input only with the next
            # key (a race no person at a keyboard can hit); press Enter.
            os.write(fd, b"\n")
            _read_until(fd, bye, seen, at)
        _, status = os.waitpid(pid, 0)
        pid = 0
        assert os.waitstatus_to_exitcode(status) == 130
        assert b"Traceback" not in seen
    finally:
        if pid:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
        os.close(fd)
