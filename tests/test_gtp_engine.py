"""Tests for gtp.engine (igo's GTP engine) and gtp.player: scripted transcripts through ``handle()``, robustness of
``serve()``, ``igo gtp`` in a subprocess, and a full 9x9 game against GNU Go."""

from __future__ import annotations

import io
import logging
import os
import random
import shutil
import subprocess
import sys

import pytest

import igo
from igo.engine.board import BLACK, WHITE, Board, opponent
from igo.engine.coords import gtp_to_rc
from igo.engine.sgf import load_sgf, replay
from igo.gtp.client import GTPClient, GTPCommandError
from igo.gtp.engine import MAX_LINE_BYTES, Clock, GTPEngine, TimeLeft, free_handicap_points, gtp_command_name
from igo.gtp.player import Player, RandomPlayer

ALL_COMMANDS = {
    "gogui-analyze_commands",
    "igo-best_moves",
    "igo-ownership",
    "igo-score",
    "kata-analyze",
    "kata-genmove_analyze",
    "lz-analyze",
    "lz-genmove_analyze",
    "boardsize",
    "clear_board",
    "final_score",
    "final_status_list",
    "fixed_handicap",
    "genmove",
    "kgs-genmove_cleanup",
    "kgs-time_settings",
    "known_command",
    "komi",
    "list_commands",
    "loadsgf",
    "name",
    "place_free_handicap",
    "play",
    "printsgf",
    "protocol_version",
    "quit",
    "reg_genmove",
    "set_free_handicap",
    "showboard",
    "time_left",
    "time_settings",
    "undo",
    "version",
}


@pytest.fixture
def engine() -> GTPEngine:
    return GTPEngine(RandomPlayer(seed=1), size=9, komi=7.5)


def ok(engine: GTPEngine, line: str) -> str:
    """The text of a success reply (checking the reply's framing)."""
    reply = engine.handle(line)
    assert reply is not None and reply.startswith("=") and reply.endswith("\n\n"), (line, reply)
    assert "\n\n" not in reply[:-2], f"empty line inside the reply to {line!r}: {reply!r}"
    head, _, text = reply[1:-2].partition(" ")
    assert head == "" or head.isdigit(), reply
    return text


def fails(engine: GTPEngine, line: str) -> str:
    """The message of a failure reply, checking that the command left the game exactly as it was."""
    before = game_state(engine)
    reply = engine.handle(line)
    assert reply is not None and reply.startswith("?") and reply.endswith("\n\n"), (line, reply)
    assert "\n" not in reply[:-2], reply
    assert game_state(engine) == before, f"{line!r} changed the game"
    return reply[1:-2].partition(" ")[2]


def game_state(engine: GTPEngine) -> tuple:
    b = engine.board
    return (
        b.size,
        b.komi,
        b.stones().tobytes(),
        b.to_move,
        b.move_number,
        b.hash,
        b.passes,
        b.ko_point,
        tuple(b.moves),
        b.captures[BLACK],
        b.captures[WHITE],
        b.can_undo,
        b.start_position()[0].tobytes(),
        engine.clock,
    )


def play_all(engine: GTPEngine, *moves: str) -> None:
    color = "b"
    for m in moves:
        ok(engine, f"play {color} {m}")
        color = "w" if color == "b" else "b"


# --- administrative commands and the registry ---------------------------------------------------------------------


def test_administrative_commands(engine):
    assert ok(engine, "protocol_version") == "2"
    assert ok(engine, "name") == "igo"
    assert ok(engine, "version") == igo.__version__
    assert ok(engine, "known_command play") == "true"
    assert ok(engine, "known_command kgs-time_settings") == "true"
    assert ok(engine, "known_command foo") == "false"
    assert ok(engine, "known_command kgs_time_settings") == "false"
    assert fails(engine, "known_command") == "syntax error"
    assert fails(engine, "protocol_version 3") == "syntax error"


def test_list_commands_lists_exactly_the_registry(engine):
    listed = ok(engine, "list_commands").split("\n")
    assert listed == sorted(listed)
    assert set(listed) == set(engine.commands) == ALL_COMMANDS
    for name in listed:
        assert ok(engine, f"known_command {name}") == "true"


def test_command_names_and_subclass_commands():
    assert gtp_command_name("cmd_play") == "play"
    assert gtp_command_name("cmd_kgs_time_settings") == "kgs-time_settings"
    assert gtp_command_name("cmd_kgs_genmove_cleanup") == "kgs-genmove_cleanup"
    assert gtp_command_name("cmd_lz_analyze") == "lz-analyze"
    assert gtp_command_name("cmd_final_status_list") == "final_status_list"

    class Extended(GTPEngine):
        def cmd_gogui_analyze_commands(self, args):
            return "none/Nothing/nothing"

    e = Extended(size=9)
    assert "gogui-analyze_commands" in ok(e, "list_commands").split("\n")
    assert ok(e, "gogui-analyze_commands") == "none/Nothing/nothing"


def test_unknown_commands(engine):
    assert engine.handle("foo") == "? unknown command\n\n"
    assert engine.handle("12 foo bar") == "?12 unknown command\n\n"
    assert engine.handle("PLAY b E5") == "? unknown command\n\n"  # command names are case sensitive
    assert engine.handle("kgs_time_settings none") == "? unknown command\n\n"
    assert fails(engine, "\u00e9t\u00e9 1 2") == "unknown command"


def test_ids_are_echoed(engine):
    assert engine.handle("1 name") == "=1 igo\n\n"
    assert engine.handle("42 play b E5") == "=42 \n\n"
    assert engine.handle("43 play b E5") == "?43 illegal move\n\n"
    assert engine.handle("007 name") == "=7 igo\n\n"
    assert engine.handle("0 name") == "=0 igo\n\n"
    assert engine.handle("99") == "?99 syntax error\n\n"  # an id and no command
    assert engine.handle("-1 name") == "? unknown command\n\n"  # not an id: a command named "-1"
    big = "9" * 5000  # beyond Python's int() string limit: echoed as given
    assert engine.handle(f"{big} name") == f"={big} igo\n\n"


def test_input_preprocessing(engine):
    assert engine.handle("") is None
    assert engine.handle("\n") is None
    assert engine.handle("   \t  ") is None
    assert engine.handle("# a comment line") is None
    assert engine.handle("   # indented comment") is None
    assert engine.handle("\x01\x02\x7f") is None
    assert engine.handle("1 name # trailing comment") == "=1 igo\n\n"
    assert engine.handle("2\tname\t") == "=2 igo\n\n"
    assert engine.handle("3 na\x00m\x1be\r\n") == "=3 igo\n\n"  # control characters are removed, CR included
    assert engine.handle("4 play\tb\tE5") == "=4 \n\n"
    assert engine.board.color_at("E5") == BLACK
    assert engine.handle("5 play w #D4") == "?5 syntax error\n\n"  # the vertex was a comment
    assert engine.handle("6 boardsize 1#9") == "?6 unacceptable size\n\n"


# --- board setup ----------------------------------------------------------------------------------------------------


def test_boardsize_and_clear_board(engine):
    play_all(engine, "E5", "C3")
    ok(engine, "komi 6.5")
    assert ok(engine, "boardsize 13") == ""
    assert engine.board.size == 13 and engine.board.move_number == 0 and not engine.board.stones().any()
    assert engine.board.komi == 6.5  # kept
    assert ok(engine, "boardsize 2") == "" and ok(engine, "boardsize 25") == ""
    ok(engine, "boardsize 9")
    play_all(engine, "E5")
    assert ok(engine, "clear_board") == ""
    assert engine.board.size == 9 and engine.board.move_number == 0 and not engine.board.stones().any()
    assert engine.board.to_move == BLACK


@pytest.mark.parametrize("arg", ["1", "0", "26", "-3", "100000000000000000000"])
def test_boardsize_unacceptable(engine, arg):
    play_all(engine, "E5")
    assert fails(engine, f"boardsize {arg}") == "unacceptable size"


@pytest.mark.parametrize("line", ["boardsize", "boardsize x", "boardsize 9.0", "boardsize 9 9", "boardsize \u0669"])
def test_boardsize_syntax_error(engine, line):
    assert fails(engine, line) == "syntax error"


def test_komi(engine):
    assert ok(engine, "komi 6.5") == ""
    assert engine.board.komi == 6.5
    ok(engine, "komi -3")
    assert engine.board.komi == -3
    ok(engine, "komi 0")
    assert ok(engine, "final_score") == "0"
    for bad in ("komi", "komi x", "komi nan", "komi inf", "komi 1e999", "komi 6.5 1", "komi 1_0"):
        assert fails(engine, bad) == "syntax error", bad


# --- moves ----------------------------------------------------------------------------------------------------------


def test_play_and_capture(engine):
    play_all(engine, "E5", "D5", "pass", "F5", "PASS", "e4", "pass", "e6")
    assert engine.board.color_at("E5") == 0  # captured
    assert engine.board.captures[WHITE] == 1
    ok(engine, "play white pass")
    ok(engine, "play BLACK A1")
    ok(engine, "play b B1")  # GTP allows the same colour twice
    assert engine.board.color_at("B1") == BLACK


@pytest.mark.parametrize(
    "line",
    [
        "play",
        "play b",
        "play b E5 E6",
        "play x E5",
        "play bl E5",
        "play 1 E5",
        "play b Z9",
        "play b I5",
        "play b E10",
        "play b E0",
        "play b E",
        "play b 55",
        "play b resign",
        "play b E5x",
        "play b \uff25\uff15",
    ],
)
def test_play_syntax_errors(engine, line):
    play_all(engine, "C3", "D4")
    assert fails(engine, line) == "syntax error"


def test_illegal_moves(engine):
    play_all(engine, "E5")
    assert fails(engine, "play w E5") == "illegal move"  # occupied
    assert fails(engine, "play b E5") == "illegal move"
    ok(engine, "clear_board")
    ok(engine, "play b A2")
    ok(engine, "play b B1")
    assert fails(engine, "play w A1") == "illegal move"  # suicide
    ok(engine, "clear_board")
    # a ko: Black takes at D4, White may not retake at C4 at once
    play_all(engine, "C5", "D5", "B4", "D3", "C3", "E4", "J9", "C4", "D4")
    assert engine.board.color_at("C4") == 0
    assert fails(engine, "play w C4") == "illegal move"
    ok(engine, "play w J1")
    ok(engine, "play b J2")
    ok(engine, "play w C4")  # after a ko threat exchange the retake is legal


SUPERKO_GAME = ("B2", "A1", "B1", "pass", "A2", "A1")  # on 2x2: now Black B2 would repeat the position of move 2


def test_positional_superko_is_enforced():
    e = GTPEngine(RandomPlayer(seed=1), size=2, komi=0)
    play_all(e, *SUPERKO_GAME)
    assert e.board.illegal_reason("B2") == "superko"
    assert fails(e, "play b B2") == "illegal move"
    ok(e, "play b B1")


def test_undo(engine):
    assert fails(engine, "undo") == "cannot undo"
    before = game_state(engine)
    play_all(engine, "E5", "D5")
    assert ok(engine, "undo") == ""
    assert engine.board.move_number == 1 and engine.board.color_at("D5") == 0
    assert ok(engine, "undo") == ""
    assert game_state(engine) == before
    assert fails(engine, "undo") == "cannot undo"
    assert fails(engine, "undo 1") == "syntax error"
    ok(engine, "fixed_handicap 2")
    assert fails(engine, "undo") == "cannot undo"  # handicap stones are the start of the game


# --- genmove and the random player --------------------------------------------------------------------------------


def test_genmove_plays_a_legal_move(engine):
    before = engine.board.copy()
    reply = ok(engine, "genmove b")
    assert reply == reply.upper() and before.is_legal(reply, BLACK)
    assert engine.board.move_number == 1 and engine.board.color_at(reply) == BLACK
    reply = ok(engine, "genmove white")
    assert engine.board.color_at(reply) == WHITE
    reply = ok(engine, "genmove W")  # either colour may be asked, in any order
    assert engine.board.color_at(reply) == WHITE
    reply = ok(engine, "kgs-genmove_cleanup b")
    assert engine.board.color_at(reply) == BLACK and engine.board.move_number == 4


def test_reg_genmove_does_not_play(engine):
    play_all(engine, "E5")
    before = game_state(engine)
    reply = ok(engine, "reg_genmove w")
    assert engine.board.is_legal(reply, WHITE)
    assert game_state(engine) == before


@pytest.mark.parametrize("command", ["genmove", "reg_genmove", "kgs-genmove_cleanup"])
@pytest.mark.parametrize("args", ["", " x", " b w", " pass"])
def test_genmove_syntax_errors(engine, command, args):
    assert fails(engine, command + args) == "syntax error"


def test_random_player_games_are_legal_and_reproducible():
    def game(seed: int) -> list[str]:
        e = GTPEngine(RandomPlayer(seed=seed), size=7, komi=7.5)
        color, moves = "b", []
        for _ in range(300):
            moves.append(ok(e, f"genmove {color}"))
            e.board.check()
            if e.board.is_over:
                break
            color = "w" if color == "b" else "b"
        return moves

    first = game(5)
    assert first == game(5)
    assert first != game(6)
    assert first[-2:] == ["pass", "pass"]
    assert len(first) < 300


def test_random_player_fills_no_own_eye():
    board = Board.from_ascii(
        """
        . X .
        X X X
        . X .
        """,
        to_move=BLACK,
    )
    player = RandomPlayer(seed=3)
    assert {player.genmove(board, BLACK) for _ in range(20)} == {"pass"}
    assert player.genmove(board, WHITE) == "pass"  # every white move is suicide


def test_random_player_pass_policy():
    player = RandomPlayer(seed=1)
    board = Board(5, komi=0.5)
    board.play("C3", BLACK)
    board.play(None, WHITE)  # White passes: Black is ahead, so Black passes too
    assert player.genmove(board, BLACK) == "pass"
    board = Board(5, komi=30)
    board.play("C3", BLACK)
    board.play(None, WHITE)  # White passes but Black would lose by komi: Black plays on
    assert player.genmove(board, BLACK) != "pass"
    board = Board(5, komi=0.5)
    board.play("C3", BLACK)
    assert player.genmove(board, WHITE) != "pass"  # no pass to answer


def test_random_player_respects_superko():
    # Black may play A2, B1 or B2 by simple ko, but B2 repeats a position: the player draws it a third of the time
    # from the playout kernel and must then choose again under the game's rule.
    board = Board(2, komi=0)
    for move in SUPERKO_GAME:
        board.play(None if move == "pass" else move)
    player = RandomPlayer(seed=2)
    moves = {player.genmove(board, BLACK) for _ in range(40)}
    assert moves == {"A2", "B1"}
    assert isinstance(player, Player)


def test_genmove_resign_and_player_failures(engine):
    class Scripted:
        def __init__(self, answer):
            self.answer = answer

        def genmove(self, board, color):
            if isinstance(self.answer, Exception):
                raise self.answer
            return self.answer

    play_all(engine, "E5")
    engine.player = Scripted("resign")
    before = game_state(engine)
    assert ok(engine, "genmove w") == "resign"
    assert game_state(engine) == before
    engine.player = Scripted(" PASS ")
    assert ok(engine, "genmove w") == "pass"
    ok(engine, "undo")
    for answer in ("E5", "Z99", "nonsense", None, RuntimeError("boom\nwith two lines")):
        engine.player = Scripted(answer)
        message = fails(engine, "genmove w")
        assert message.startswith("internal error: "), message
    assert message == "internal error: RuntimeError: boom with two lines"
    assert ok(engine, "name") == "igo"  # still serving


def test_internal_error_rolls_back_a_half_done_command(engine, caplog):
    class Vandal:
        """A player that changes the board it must only read, then crashes."""

        def __init__(self):
            self.resets = 0

        def genmove(self, board, color):
            board.play("A1", color)
            board.komi = 99
            raise RuntimeError("oops")

        def new_game(self, board):
            self.resets += 1

    play_all(engine, "E5")
    vandal = Vandal()
    engine.player = vandal
    with caplog.at_level(logging.ERROR, logger="igo.gtp.engine"):
        assert fails(engine, "genmove w") == "internal error: RuntimeError: oops"
    assert "Traceback" in caplog.text and "oops" in caplog.text
    assert vandal.resets == 1  # told to forget the broken position
    assert engine.board.color_at("A1") == 0 and engine.board.komi == 7.5


def test_player_notifications(engine):
    events = []

    class Listener(RandomPlayer):
        def new_game(self, board):
            events.append(("new_game", board.size, board.move_number))

        def played(self, board, color, vertex):
            events.append(("played", color, vertex, board.move_number))

    engine.player = Listener(seed=1)
    ok(engine, "play b E5")
    move = ok(engine, "genmove w")
    ok(engine, "undo")
    ok(engine, "boardsize 7")
    ok(engine, "fixed_handicap 2")
    fails(engine, "play b E5 x")
    assert events == [
        ("played", BLACK, "E5", 1),
        ("played", WHITE, move, 2),
        ("new_game", 9, 1),
        ("new_game", 7, 0),
        ("new_game", 7, 0),
    ]


# --- the position and scoring ---------------------------------------------------------------------------------------


def test_showboard(engine):
    play_all(engine, "E5", "C3")
    reply = engine.handle("5 showboard")
    assert reply.startswith("=5 \n") and reply.endswith("\n\n")
    body = reply[len("=5 \n") : -2]
    assert body == str(engine.board)
    assert "\n\n" not in body
    rows = body.split("\n")
    assert rows[0].split() == list("ABCDEFGHJ")
    assert rows[5].split()[0] == "5" and "X" in rows[5]
    assert fails(engine, "showboard x") == "syntax error"


def test_final_score(engine):
    assert ok(engine, "final_score") == "W+7.5"
    ok(engine, "play b E5")
    assert ok(engine, "final_score") == "B+73.5"
    ok(engine, "play w D5")
    assert ok(engine, "final_score") == "W+7.5"  # Tromp-Taylor: the rest touches both colours
    ok(engine, "komi 0")
    assert ok(engine, "final_score") == "0"
    assert ok(engine, "final_score") == engine.board.result()
    assert fails(engine, "final_score now") == "syntax error"


def test_final_status_list(engine):
    play_all(engine, "E5", "C3", "E6", "C4", "A9")
    chains = ok(engine, "final_status_list alive").split("\n")
    assert sorted(chains) == sorted(["E6 E5", "C4 C3", "A9"])
    assert ok(engine, "final_status_list dead") == ""
    assert ok(engine, "final_status_list seki") == ""
    assert ok(engine, "final_status_list ALIVE").split("\n") == chains
    ok(engine, "clear_board")
    assert ok(engine, "final_status_list alive") == ""
    for bad in ("final_status_list", "final_status_list unknown", "final_status_list alive dead"):
        assert fails(engine, bad) == "syntax error"


# --- handicap -------------------------------------------------------------------------------------------------------


def test_fixed_handicap(engine):
    assert ok(engine, "fixed_handicap 2") == "C3 G7"
    assert engine.board.to_move == WHITE
    assert {v for v in ("C3", "G7") if engine.board.color_at(v) == BLACK} == {"C3", "G7"}
    ok(engine, "boardsize 19")
    assert ok(engine, "fixed_handicap 9").split() == ["D4", "Q16", "D16", "Q4", "D10", "Q10", "K4", "K16", "K10"]
    assert fails(engine, "fixed_handicap 2") == "board not empty"
    ok(engine, "genmove w")
    ok(engine, "boardsize 9")
    for bad in ("1", "0", "10", "-2"):
        assert fails(engine, f"fixed_handicap {bad}") == "invalid number of stones"
    ok(engine, "boardsize 6")
    assert fails(engine, "fixed_handicap 2") == "invalid number of stones"  # not defined below 7x7
    ok(engine, "boardsize 8")
    assert fails(engine, "fixed_handicap 5") == "invalid number of stones"
    for bad in ("fixed_handicap", "fixed_handicap two", "fixed_handicap 2 3"):
        assert fails(engine, bad) == "syntax error"
    ok(engine, "play b pass")  # a board with moves is not empty, even without stones
    assert fails(engine, "fixed_handicap 2") == "board not empty"


def test_place_free_handicap(engine):
    assert ok(engine, "place_free_handicap 4") == "C3 G7 C7 G3"  # the fixed points while they suffice
    assert engine.board.to_move == WHITE
    assert fails(engine, "place_free_handicap 2") == "board not empty"
    ok(engine, "clear_board")
    stones = ok(engine, "place_free_handicap 12").split()
    assert len(set(stones)) == 12 and all(engine.board.color_at(v) == BLACK for v in stones)
    ok(engine, "boardsize 3")
    stones = ok(engine, "place_free_handicap 8").split()
    assert len(set(stones)) == 8
    ok(engine, "clear_board")
    for bad in ("1", "9", "0"):
        assert fails(engine, f"place_free_handicap {bad}") == "invalid number of stones"
    assert fails(engine, "place_free_handicap x") == "syntax error"


@pytest.mark.parametrize("size", [2, 3, 5, 6, 7, 9, 13, 19, 25])
def test_free_handicap_points_are_distinct_and_spread(size):
    for count in sorted({2, 3, 4, 5, 9, 10, size * size // 2, size * size - 1} & set(range(2, size * size))):
        points = free_handicap_points(size, count)
        assert len(points) == count == len(set(points))
        board = Board(size)
        board.setup(black=points)  # all on the board, no group without a liberty
    if size >= 9:
        edge = (0, size - 1)
        for vertex in free_handicap_points(size, 12):
            r, c = gtp_to_rc(vertex, size)
            assert r not in edge and c not in edge, vertex  # off the first line while there is room


def test_set_free_handicap(engine):
    assert ok(engine, "set_free_handicap D4 f6 E5") == ""
    assert engine.board.to_move == WHITE
    assert all(engine.board.color_at(v) == BLACK for v in ("D4", "F6", "E5"))
    assert fails(engine, "set_free_handicap A1 A2") == "board not empty"
    ok(engine, "clear_board")
    for bad in ("D4", "D4 D4", "D4 d4", "D4 pass", "D4 T19", "D4 E10", " ".join(["A1"] * 81)):
        assert fails(engine, f"set_free_handicap {bad}") == "bad vertex list", bad
    for bad in ("", "D4 xx", "D4 I5", "D4 resign"):
        assert fails(engine, f"set_free_handicap {bad}") == "syntax error", bad
    ok(engine, "boardsize 2")
    assert fails(engine, "set_free_handicap A1 A2 B1 B2") == "bad vertex list"  # at most size*size - 1
    assert ok(engine, "set_free_handicap A1 A2 B1") == ""


# --- game records ---------------------------------------------------------------------------------------------------


def test_printsgf_and_loadsgf_round_trip(engine, tmp_path):
    ok(engine, "komi 5.5")
    play_all(engine, "E5", "C3", "D4", "pass", "G7")
    text = ok(engine, "printsgf")
    record = load_sgf(text)
    assert record.size == 9 and record.komi == 5.5 and len(record.moves) == 5
    assert replay(record).stones().tolist() == engine.board.stones().tolist()
    path = tmp_path / "game.sgf"
    assert ok(engine, f"printsgf {path}") == ""
    assert not (tmp_path / "game.sgf.tmp").exists()
    saved = game_state(engine)
    ok(engine, "boardsize 13")
    ok(engine, "komi 0")
    assert ok(engine, f"loadsgf {path}") == ""
    assert game_state(engine) == saved
    assert ok(engine, f"loadsgf {path} 3") == ""  # the position where move 3 is to be played
    assert engine.board.move_number == 2 and engine.board.to_move == BLACK
    assert engine.board.color_at("C3") == WHITE and engine.board.color_at("D4") == 0
    assert ok(engine, f"loadsgf {path} 1") == "" and engine.board.move_number == 0
    assert ok(engine, f"loadsgf {path} 99") == "" and engine.board.move_number == 5
    ok(engine, "undo")  # a loaded game can be taken back
    assert engine.board.color_at("G7") == 0


def test_sgf_round_trip_with_handicap_and_result(engine, tmp_path):
    ok(engine, "fixed_handicap 3")
    ok(engine, "play w E5")
    ok(engine, "play b pass")
    ok(engine, "play w pass")
    text = ok(engine, "printsgf")
    assert "HA[3]" in text and "RE[" in text
    path = tmp_path / "h.sgf"
    path.write_text(text)
    saved = game_state(engine)
    ok(engine, "clear_board")
    ok(engine, f"loadsgf {path}")
    assert game_state(engine) == saved
    ok(engine, f"loadsgf {path} 1")
    assert engine.board.to_move == WHITE and engine.board.stones().sum() == 3  # three black handicap stones


def test_loadsgf_failures(engine, tmp_path):
    play_all(engine, "E5", "C3")
    bad = tmp_path / "bad.sgf"
    bad.write_bytes(b"(;GM[1]SZ[9];B[ee];W[ee])")  # the second move is illegal
    junk = tmp_path / "junk.sgf"
    junk.write_bytes(os.urandom(2000))
    big = tmp_path / "big.sgf"
    big.write_bytes(b"(;GM[1]SZ[25])")
    for args in (tmp_path / "missing.sgf", tmp_path, bad, junk, big, "/dev/null"):
        assert fails(engine, f"loadsgf {args}") == "cannot load file", args
    assert ok(engine, f"loadsgf {bad} 2") == ""  # the position before the illegal move loads
    for args in ("", f"{bad} 0", f"{bad} x", f"{bad} 1 2"):
        assert fails(engine, f"loadsgf {args}") == "syntax error", args


def test_printsgf_failures(engine, tmp_path):
    assert fails(engine, f"printsgf {tmp_path / 'no' / 'such' / 'dir.sgf'}") == "cannot save file"
    assert fails(engine, "printsgf a b") == "syntax error"
    ok(engine, "boardsize 25")  # SGF stops at 19x19
    assert fails(engine, "printsgf") == "cannot save file"
    ok(engine, "boardsize 9")
    assert ok(engine, "printsgf -").startswith("(;")


# --- time -----------------------------------------------------------------------------------------------------------


def test_time_settings(engine):
    assert engine.clock == Clock()
    assert ok(engine, "time_settings 300 30 5") == ""
    assert engine.clock == Clock("canadian", 300, 30, stones=5)
    ok(engine, "time_settings 600 0 0")
    assert engine.clock == Clock("absolute", 600)
    ok(engine, "time_settings 0 10 0")
    assert engine.clock == Clock("none")
    for bad in (
        "time_settings",
        "time_settings 1 2",
        "time_settings a 2 3",
        "time_settings -1 2 3",
        "time_settings 1 2 1.5",
        "time_settings 1 2 3 4",
        "time_settings 1 nan 3",
    ):
        assert fails(engine, bad) == "syntax error", bad


def test_kgs_time_settings(engine):
    ok(engine, "kgs-time_settings none")
    assert engine.clock == Clock("none")
    ok(engine, "kgs-time_settings absolute 120")
    assert engine.clock == Clock("absolute", 120)
    ok(engine, "kgs-time_settings byoyomi 600 30 5")
    assert engine.clock == Clock("byoyomi", 600, 30, periods=5)
    ok(engine, "kgs-time_settings canadian 600 300 25")
    assert engine.clock == Clock("canadian", 600, 300, stones=25)
    for bad in (
        "",
        "none 1",
        "absolute",
        "absolute x",
        "byoyomi 600 30",
        "canadian 600 300 -1",
        "fischer 60 5",
        "byoyomi 600 30 5 1",
    ):
        assert fails(engine, f"kgs-time_settings {bad}") == "syntax error", bad


def test_time_left(engine):
    ok(engine, "kgs-time_settings byoyomi 600 30 5")
    ok(engine, "time_left b 123.5 0")
    ok(engine, "time_left white 25 1")
    assert engine.clock.left(BLACK) == TimeLeft(123.5, 0)
    assert engine.clock.left(WHITE) == TimeLeft(25, 1)
    assert engine.clock.system == "byoyomi"
    for bad in ("", "b", "b 10", "x 10 0", "b -1 0", "b 10 -1", "b 10 0 0", "b ten 0"):
        assert fails(engine, f"time_left {bad}") == "syntax error", bad
    ok(engine, "time_settings 60 0 0")
    assert engine.clock.left(BLACK) is None  # new settings start a new clock


# --- every rejected command leaves the game as it was ------------------------------------------------------------

REJECTED = [
    "foo",
    "boardsize 30",
    "boardsize x",
    "komi x",
    "play b D4",
    "play w C4",
    "play b Z1",
    "play pass",
    "genmove",
    "genmove red",
    "reg_genmove",
    "undo 2",
    "fixed_handicap 2",
    "place_free_handicap 3",
    "set_free_handicap D4 E5",
    "set_free_handicap",
    "final_status_list foo",
    "loadsgf /nonexistent/file.sgf",
    "loadsgf",
    "printsgf a b",
    "time_settings 1",
    "kgs-time_settings fischer 1",
    "time_left b x 0",
    "known_command",
    "showboard 1",
    "x" * (MAX_LINE_BYTES + 10),
    "1 " + "y" * (MAX_LINE_BYTES + 10),
]


@pytest.mark.parametrize("line", REJECTED, ids=[r[:30] for r in REJECTED])
def test_rejected_commands_change_nothing(engine, line):
    ok(engine, "kgs-time_settings byoyomi 600 30 5")
    ok(engine, "time_left b 100 0")
    play_all(engine, "C5", "D5", "B4", "D3", "C3", "E4", "J9", "C4", "D4")  # a ko is pending for White at C4
    fails(engine, line)


# --- serve(): streams, hostile input, the end of input -------------------------------------------------------------


def serve_bytes(data: bytes, engine: GTPEngine | None = None) -> list[str]:
    """Run serve() over ``data`` and return the replies (without their blank-line terminators)."""
    engine = engine or GTPEngine(RandomPlayer(seed=1), size=9)
    out = io.BytesIO()
    engine.serve(io.BytesIO(data), out)
    text = out.getvalue().decode("utf-8")
    assert text == "" or text.endswith("\n\n")
    return [r for r in text[:-2].split("\n\n")] if text else []


def test_serve_transcript_and_quit():
    replies = serve_bytes(b"1 name\r\n\n# comment\n2 boardsize 7\n3 play b D4\n4 quit\n5 name\n")
    assert replies == ["=1 igo", "=2 ", "=3 ", "=4 "]  # nothing after quit is answered


def test_serve_eof_without_quit():
    e = GTPEngine(size=9)
    assert serve_bytes(b"1 play b E5\n2 name", e) == ["=1 ", "=2 igo"]  # the last line needs no newline
    assert serve_bytes(b"", e) == []
    assert not e.quit_requested and e.board.move_number == 1


def test_serve_text_streams():
    e = GTPEngine(size=9)
    out = io.StringIO()
    e.serve(io.StringIO("1 play b E5\n2 showboard\n3 quit\n"), out)
    replies = out.getvalue().split("\n\n")
    assert replies[0] == "=1 " and replies[1].startswith("=2 \n") and replies[2] == "=3 "


def test_serve_refuses_a_megabyte_line_without_holding_it():
    class Recording(io.BytesIO):
        largest = 0

        def readline(self, size=-1):
            assert size is not None and 0 < size <= MAX_LINE_BYTES + 1, "unbounded readline"
            line = super().readline(size)
            Recording.largest = max(Recording.largest, len(line))
            return line

    mb = 1024 * 1024
    lines = [
        b"1 name\n",
        b"2 play b " + b"E5" * (mb // 2) + b"\n",
        b"x" * mb + b"\n",
        b"# " + b"comment " * (mb // 8) + b"\n",
        b"3 name # " + b"c" * mb + b"\n",
        b"4 name\n",
        b"z" * (MAX_LINE_BYTES + 1),  # an overlong last line without a newline
    ]
    data = b"".join(lines)
    out = io.BytesIO()
    e = GTPEngine(size=9)
    e.serve(Recording(data), out)
    assert out.getvalue().decode().split("\n\n")[:-1] == [
        "=1 igo",
        "?2 syntax error",
        "? syntax error",
        "=3 igo",
        "=4 igo",
        "? syntax error",
    ]
    assert Recording.largest <= MAX_LINE_BYTES + 1
    assert e.board.move_number == 0


def test_line_limit_boundary():
    e = GTPEngine(size=9)
    line = "1 name" + " " * (MAX_LINE_BYTES - 6)
    assert len(line) == MAX_LINE_BYTES
    assert serve_bytes(line.encode() + b"\n", e) == ["=1 igo"]
    assert serve_bytes(line.encode() + b" \n", e) == ["?1 syntax error"]
    assert e.handle(line) == "=1 igo\n\n"
    assert e.handle(line + " ") == "?1 syntax error\n\n"


def test_serve_survives_random_bytes():
    rng = random.Random(20240601)
    e = GTPEngine(RandomPlayer(seed=1), size=9)
    for _ in range(20):
        junk = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 3000)))
        replies = serve_bytes(junk.replace(b"quit", b"") + b"\n77 name\n", e)
        assert replies and replies[-1] == "=77 igo"
        for r in replies:
            assert r[:1] in ("=", "?"), r
        e.board.check()
    e.quit_requested = False
    assert serve_bytes(b"\xff\xfe\x00\x80 play b E5\n\xc3\x28 name\n1 n\xe4me\n", e) == [
        "? unknown command",
        "? unknown command",
        "?1 unknown command",
    ]


def test_serve_stops_quietly_when_output_closes():
    class Closed(io.BytesIO):
        def write(self, data):
            raise BrokenPipeError("gone")

    e = GTPEngine(size=9)
    e.serve(io.BytesIO(b"name\nname\n"), Closed())  # returns instead of raising


# --- igo gtp in a subprocess ------------------------------------------------------------------------------------------


def igo_gtp(*args: str, timeout: float = 60.0) -> GTPClient:
    return GTPClient([sys.executable, "-m", "igo.cli", "gtp", *args], timeout=timeout, name="igo")


def test_igo_gtp_subprocess():
    with igo_gtp("--seed", "3") as client:
        assert client.protocol_version() == "2"
        assert client.name() == "igo" and client.version() == igo.__version__
        assert set(client.list_commands()) == ALL_COMMANDS
        client.boardsize(9)
        client.komi(6.5)
        client.play("black", "E5")
        with pytest.raises(GTPCommandError) as err:
            client.play("white", "E5")
        assert err.value.message == "illegal move"
        move = client.genmove("white")
        assert move == "pass" or len(move) in (2, 3)
        board = client.showboard()
        assert board.split("\n")[0].split() == list("ABCDEFGHJ")
        assert "X" in board and ("O" in board or move == "pass")
        with pytest.raises(GTPCommandError) as err:
            client.send("frobnicate")
        assert err.value.message == "unknown command"
        assert client.send("final_score").startswith(("B+", "W+"))
    assert client.returncode == 0


def test_igo_gtp_exits_on_eof_and_refuses_bad_options():
    r = subprocess.run(
        [sys.executable, "-m", "igo.cli", "gtp", "--size", "9"],
        input=b"1 boardsize 5\n2 play b C3\n3 final_score",
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"=1 \n\n=2 \n\n=3 B+17.5\n\n"
    r = subprocess.run(
        [sys.executable, "-m", "igo.cli", "gtp", "--size", "30"], input=b"", capture_output=True, timeout=60
    )
    assert r.returncode != 0 and b"error" in r.stderr and r.stdout == b""


def test_igo_gtp_logs_traffic_to_stderr_only():
    r = subprocess.run(
        [sys.executable, "-m", "igo.cli", "-vv", "gtp", "--size", "9"],
        input=b"1 name\n2 quit\n",
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert r.returncode == 0
    assert r.stdout == b"=1 igo\n\n=2 \n\n"
    assert b"<< 1 name" in r.stderr and b">> =1 igo" in r.stderr


def test_loadsgf_printsgf_round_trip_through_subprocess(tmp_path):
    path = tmp_path / "g.sgf"
    with igo_gtp("--size", "9", "--seed", "4") as client:
        client.play("b", "E5")
        client.genmove("w")
        client.play("b", "pass")
        client.send(f"printsgf {path}")
        first = client.showboard()
        client.clear_board()
        client.send(f"loadsgf {path}")
        assert client.showboard() == first
        assert load_sgf(path.read_bytes()).moves[0] == (BLACK, (4, 4))


# --- a full game against GNU Go ---------------------------------------------------------------------------------------


def _find_gnugo() -> str | None:
    return shutil.which("gnugo") or next(
        (p for p in ("/usr/games/gnugo", "/usr/local/games/gnugo") if os.access(p, os.X_OK)), None
    )


@pytest.mark.gnugo
@pytest.mark.skipif(_find_gnugo() is None, reason="GNU Go (gnugo) is not installed")
@pytest.mark.parametrize("igo_color", [BLACK, WHITE])
def test_full_game_against_gnugo(igo_color):
    gnugo_cmd = [_find_gnugo(), "--mode", "gtp", "--chinese-rules", "--level", "1", "--seed", "1"]
    igo_args = ("--size", "9", "--komi", "7.5", "--seed", "11", "--playouts", "300", "--resign", "0")
    with igo_gtp(*igo_args) as ours, GTPClient(gnugo_cmd, timeout=60) as gnugo:
        for engine in (ours, gnugo):
            engine.boardsize(9)
            engine.komi(7.5)
            engine.clear_board()
        players = {igo_color: ours, opponent(igo_color): gnugo}
        referee = Board(9, komi=7.5)  # positional superko, suicide illegal: igo's rules
        color, passes, resigned = BLACK, 0, None
        for _ in range(200):
            move = players[color].genmove("b" if color == BLACK else "w")
            if move == "resign":
                resigned = color
                break
            referee.play(None if move == "pass" else move, color)  # raises if the move is illegal
            players[opponent(color)].play("b" if color == BLACK else "w", move)
            passes = passes + 1 if move == "pass" else 0
            color = opponent(color)
            if passes == 2:
                break
        referee.check()
        ours_score = ours.send("final_score")
        gnugo_score = gnugo.send("final_score")  # GNU Go removes the stones it thinks dead: recorded only
        print(referee)
        print(
            f"igo {'black' if igo_color == BLACK else 'white'}: {referee.move_number} moves, passes {passes}, "
            f"resigned {resigned}, igo {ours_score}, GNU Go {gnugo_score}"
        )
        assert ours.showboard() == str(referee)
        assert referee.move_number > 10
        assert passes == 2 or resigned is not None or referee.move_number == 200
        if passes == 2:
            # both count the area with the stones they think dead removed: they must agree on the winner
            assert ours_score[0] == gnugo_score[0], (ours_score, gnugo_score)


@pytest.mark.gnugo
@pytest.mark.skipif(_find_gnugo() is None, reason="GNU Go (gnugo) is not installed")
def test_igo_gtp_with_a_network_plays_a_legal_game_against_gnugo(tmp_path):
    import torch

    from igo.nets.checkpoint import save_checkpoint
    from igo.nets.config import get_config
    from igo.nets.models import build_model

    torch.manual_seed(0)
    model = tmp_path / "zero.safetensors"
    save_checkpoint(model, build_model(get_config("zero-tiny"), 9))
    gnugo_cmd = [_find_gnugo(), "--mode", "gtp", "--chinese-rules", "--level", "0", "--seed", "2"]
    igo_args = ("--model", str(model), "--komi", "7.5", "--seed", "5", "--playouts", "40", "--resign", "0")
    with igo_gtp(*igo_args) as ours, GTPClient(gnugo_cmd, timeout=60) as gnugo:
        for engine in (ours, gnugo):
            engine.boardsize(9)
            engine.komi(7.5)
            engine.clear_board()
        players = {BLACK: ours, WHITE: gnugo}
        referee = Board(9, komi=7.5)
        color, passes = BLACK, 0
        for _ in range(250):
            move = players[color].genmove("b" if color == BLACK else "w")
            if move == "resign":
                break
            referee.play(None if move == "pass" else move, color)  # raises if the move is illegal
            players[opponent(color)].play("b" if color == BLACK else "w", move)
            passes = passes + 1 if move == "pass" else 0
            color = opponent(color)
            if passes == 2:
                break
        referee.check()
        assert ours.showboard() == str(referee)
        assert referee.move_number > 10
        assert ours.send("final_score")[0] in "BW0"
