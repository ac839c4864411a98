"""Tests of gtp/engine.py (igo's GTP engine) through scripted transcripts of ``handle()``: the administrative,
setup, move, scoring, handicap, game-record and clock commands, the player's notifications, and that every rejected
command leaves the game as it was. ``serve()`` and ``igo gtp`` in a subprocess are in test_gtp_engine_serve.py."""

from __future__ import annotations

import logging
import os

import pytest

import igo
from igo.engine.board import BLACK, WHITE, Board
from igo.engine.coords import gtp_to_rc
from igo.engine.player import Player, RandomPlayer
from igo.engine.sgf import load_sgf, replay
from igo.gtp.engine import MAX_LINE_BYTES, Clock, GTPEngine, TimeLeft, free_handicap_points, gtp_command_name

from .gtp_helpers import ALL_COMMANDS, fails, game_state, ok, play_all


@pytest.fixture
def engine() -> GTPEngine:
    return GTPEngine(RandomPlayer(seed=1), size=9, komi=7.5)


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


def test_genmove_resign_and_player_failures(engine):
    class Scripted(Player):
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
    class Vandal(Player):
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
    assert fails(engine, f"printsgf {tmp_path / 'no' / 'such' / 'dir.sgf'}").startswith("cannot save file: ")
    assert fails(engine, "printsgf a b") == "syntax error"
    for size in (20, 25):
        ok(engine, f"boardsize {size}")  # SGF stops at 19x19: the reply says so
        message = f"cannot save file: SGF records boards up to 19x19, not {size}x{size}"
        assert fails(engine, "printsgf") == message
        assert fails(engine, f"printsgf {tmp_path / 'big.sgf'}") == message
        assert not (tmp_path / "big.sgf").exists()
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
    before = game_state(engine)
    message = fails(engine, line)
    assert message in (
        "unknown command", "syntax error", "unacceptable size", "illegal move", "cannot undo", "board not empty",
        "bad vertex list", "invalid number of stones", "cannot load file",
    ), message  # fmt: skip
    assert game_state(engine) == before
