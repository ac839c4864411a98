"""Tests of engine/board.py (and its kernels): the rules as ASCII fixtures, scoring, handicap, setup, and law tests over
random games (make/undo, hashing, legality mask, invariants)."""

from __future__ import annotations

import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine import board_kernels as K
from engine.board import (
    BLACK,
    EMPTY,
    WHITE,
    Board,
    IllegalMoveError,
    InvalidMoveError,
    fixed_handicap_points,
    format_result,
)
from engine.coords import gtp_to_rc, rc_to_padded

KO_RULE_NAMES = ("simple", "positional", "situational")


# --- helpers ----------------------------------------------------------------------------------------------------------


def grid(text: str) -> np.ndarray:
    """Parse an ASCII diagram (X black, O white, . empty; top row first) independently of Board.from_ascii."""
    rows = [line.split() for line in text.strip().splitlines() if line.strip()]
    values = {".": EMPTY, "X": BLACK, "O": WHITE}
    return np.array([[values[ch] for ch in row] for row in rows], dtype=np.int8)


def assert_position(board: Board, text: str) -> None:
    expected = grid(text)
    actual = board.stones()
    assert actual.shape == expected.shape
    if not np.array_equal(actual, expected):
        raise AssertionError(f"position differs; expected\n{text.strip()}\ngot\n{board}")


POSITION_FIELDS = ("stones", "chain", "nxt", "libs", "size", "empties", "epos", "meta")


def state_arrays(board: Board) -> dict[str, np.ndarray]:
    """Copies of the arrays that make up the position, and the position history cut to the part in use."""
    s = board.state
    n = int(s.meta[K.M_NHIST])
    arrays = {name: getattr(s, name).copy() for name in POSITION_FIELDS}
    arrays["hist_hash"] = s.hist_hash[:n].copy()
    arrays["hist_color"] = s.hist_color[:n].copy()
    return arrays


def assert_same_arrays(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> None:
    assert a.keys() == b.keys()
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)


def snapshot(board: Board) -> dict:
    return {
        "stones": board.stones(),
        "hash": board.hash,
        "ko": board.ko_point,
        "captures": board.captures,
        "move_number": board.move_number,
        "to_move": board.to_move,
        "passes": board.passes,
        "last": board.last_move,
        "moves": board.moves,
        "arrays": state_arrays(board),
    }


def assert_snapshot(board: Board, snap: dict) -> None:
    now = snapshot(board)
    for key in ("hash", "ko", "captures", "move_number", "to_move", "passes", "last", "moves"):
        assert now[key] == snap[key], key
    np.testing.assert_array_equal(now["stones"], snap["stones"])
    assert_same_arrays(now["arrays"], snap["arrays"])


def total_stones(board: Board) -> int:
    return int(np.count_nonzero(board.stones()))


# --- captures ---------------------------------------------------------------------------------------------------------


def test_single_stone_capture_in_the_centre():
    b = Board.from_ascii(
        """
        . . . . .
        . . X . .
        . X O X .
        . . . . .
        . . . . .
        """
    )
    b.play("C2")
    assert_position(
        b,
        """
        . . . . .
        . . X . .
        . X . X .
        . . X . .
        . . . . .
        """,
    )
    assert b.captures == {BLACK: 1, WHITE: 0}
    assert b.to_move == WHITE
    b.check()


def test_multi_stone_capture():
    b = Board.from_ascii(
        """
        . . . . .
        . X X . .
        X O O X .
        . X . . .
        . . . . .
        """
    )
    assert b.liberties("B3") == 1
    b.play("C2")
    assert_position(
        b,
        """
        . . . . .
        . X X . .
        X . . X .
        . X X . .
        . . . . .
        """,
    )
    assert b.captures == {BLACK: 2, WHITE: 0}
    assert b.ko_point is None  # two stones taken: no ko
    b.check()


def test_one_move_captures_three_groups_at_once():
    b = Board.from_ascii(
        """
        . X O X .
        X O . O X
        . X . X .
        . . . . .
        . . . . .
        """
    )
    b.play("C4")
    assert_position(
        b,
        """
        . X . X .
        X . X . X
        . X . X .
        . . . . .
        . . . . .
        """,
    )
    assert b.captures[BLACK] == 3
    assert b.ko_point is None
    b.check()


def test_capture_leaves_groups_with_liberties_alone():
    b = Board.from_ascii(
        """
        . X . . .
        X O . O .
        . X . . .
        . . . . .
        . . . . .
        """
    )
    b.play("C4")
    assert_position(
        b,
        """
        . X . . .
        X . X O .
        . X . . .
        . . . . .
        . . . . .
        """,
    )
    assert b.captures[BLACK] == 1


def test_capture_on_the_edge():
    b = Board.from_ascii(
        """
        . X O O .
        . . X X .
        . . . . .
        . . . . .
        . . . . .
        """
    )
    assert b.liberties("C5") == 1
    b.play("E5")
    assert_position(
        b,
        """
        . X . . X
        . . X X .
        . . . . .
        . . . . .
        . . . . .
        """,
    )
    assert b.captures[BLACK] == 2
    b.check()


def test_capture_in_the_corner():
    b = Board.from_ascii(
        """
        O X . .
        . . . .
        . . . .
        . . . .
        """
    )
    b.play("A3")
    assert_position(
        b,
        """
        . X . .
        X . . .
        . . . .
        . . . .
        """,
    )
    assert b.captures[BLACK] == 1
    # a corner group of three
    b = Board.from_ascii(
        """
        . . . .
        . . . .
        O X . .
        O O X .
        """
    )
    b.play("A3")
    assert_position(
        b,
        """
        . . . .
        X . . .
        . X . .
        . . X .
        """,
    )
    assert b.captures[BLACK] == 3
    b.check()


def test_white_captures_count_for_white():
    b = Board.from_ascii(
        """
        . O . .
        O X O .
        . . . .
        . . . .
        """,
        to_move="w",
    )
    b.play("B2")
    assert b.captures == {BLACK: 0, WHITE: 1}
    assert b.color_at("B3") == EMPTY


def test_snapback():
    b = Board.from_ascii(
        """
        . . O . .
        X X O . .
        O O . . .
        . . . . .
        . . . . .
        """,
        to_move="w",
    )
    b.play("A5")  # throw-in: one white stone in atari
    b.play("B5")  # Black takes it ...
    assert_position(
        b,
        """
        . X O . .
        X X O . .
        O O . . .
        . . . . .
        . . . . .
        """,
    )
    assert b.captures == {BLACK: 1, WHITE: 0}
    assert b.ko_point is None  # not a ko: the capturing chain has three stones
    assert b.liberties("B5") == 1
    assert b.is_legal("A5")
    b.play("A5")  # ... and White takes three back at once
    assert_position(
        b,
        """
        O . O . .
        . . O . .
        O O . . .
        . . . . .
        . . . . .
        """,
    )
    assert b.captures == {BLACK: 1, WHITE: 3}
    b.check()


# --- ko ---------------------------------------------------------------------------------------------------------------

KO = """
. . . . .
. X O . .
X O . O .
. X O . .
. . . . .
"""


@pytest.mark.parametrize("ko_rule", KO_RULE_NAMES)
def test_immediate_ko_retake_is_illegal(ko_rule):
    b = Board.from_ascii(KO, ko_rule=ko_rule)
    b.play("C3")
    assert b.captures[BLACK] == 1
    assert b.ko_point == "B3"
    assert b.illegal_reason("B3") == "ko"
    assert not b.is_legal("B3")
    assert not b.legal_mask()[2 * 5 + 1]
    assert "B3" not in b.legal_moves()
    before = snapshot(b)
    with pytest.raises(IllegalMoveError) as e:
        b.play("B3")
    assert e.value.reason == "ko"
    assert e.value.move == "B3"
    assert "B3" in str(e.value)
    assert_snapshot(b, before)


@pytest.mark.parametrize("ko_rule", KO_RULE_NAMES)
def test_ko_retake_after_threat_and_answer(ko_rule):
    b = Board.from_ascii(KO, ko_rule=ko_rule)
    b.play("C3")
    b.play("E1")  # white ko threat
    assert b.ko_point is None
    b.play("D1")  # black answers
    assert b.is_legal("B3")
    b.play("B3")  # white retakes
    assert_position(
        b,
        """
        . . . . .
        . X O . .
        X O . O .
        . X O . .
        . . . X O
        """,
    )
    assert b.captures == {BLACK: 1, WHITE: 1}
    assert b.ko_point == "C3"
    assert b.illegal_reason("C3") == "ko"  # now Black must wait
    b.check()


@pytest.mark.parametrize("ko_rule", KO_RULE_NAMES)
def test_ko_point_clears_after_a_pass(ko_rule):
    b = Board.from_ascii(KO, ko_rule=ko_rule)
    b.play("C3")
    assert b.ko_point == "B3"
    b.pass_move()
    assert b.ko_point is None
    b.play("E5")  # Black plays elsewhere: the position has changed, so no superko either
    assert b.is_legal("B3")
    b.play("B3")
    assert b.color_at("C3") == EMPTY
    b.undo()
    b.undo()
    b.undo()
    assert b.ko_point == "B3"  # undo restores the ko point


def test_retake_after_two_passes_repeats_the_position():
    """B takes, W passes, B passes, W retakes: simple ko allows it; both superko rules forbid it (the first position
    recurs with Black to move, as it was)."""
    for ko_rule, expected in (("simple", None), ("positional", "superko"), ("situational", "superko")):
        b = Board.from_ascii(KO, ko_rule=ko_rule)
        b.play("C3")
        b.pass_move()
        b.pass_move()
        assert b.ko_point is None
        assert b.illegal_reason("B3") == expected, ko_rule


def test_ko_binds_only_the_player_to_move():
    b = Board.from_ascii(KO, ko_rule="simple")  # (under superko the retake would repeat the position)
    b.play("C3")
    assert b.illegal_reason("B3", "w") == "ko"
    assert b.illegal_reason("B3", "b") is None  # Black filling its own point is no ko
    # changing the player to move drops the ko point
    b.to_move = BLACK
    assert b.ko_point is None
    assert b.illegal_reason("B3", "w") is None


# --- superko ----------------------------------------------------------------------------------------------------------

TRIPLE_KO = """
X O . O . X . X O
. X O . . . X O .
. . . . . . . . .
. . . . . . . . .
. . . . . . . . .
. . . . . . . . .
. . . . . . . . .
. X O . . . . . .
X O . O . . . . .
"""
# Three independent kos: Black can take at C9 and C1, White at G9.
TRIPLE_KO_CYCLE = ["C9", "G9", "C1", "B9", "H9", "B1"]


def test_triple_ko_fixture_steps():
    b = Board.from_ascii(TRIPLE_KO, komi=0, ko_rule="simple")
    expected_ko = ["B9", "H9", "B1", "C9", "G9", "C1"]
    for move, ko in zip(TRIPLE_KO_CYCLE, expected_ko, strict=True):
        caps = sum(b.captures.values())
        b.play(move)
        assert sum(b.captures.values()) == caps + 1, move
        assert b.ko_point == ko, move
        b.check()


def test_triple_ko_cycle_is_forbidden_by_positional_superko():
    b = Board.from_ascii(TRIPLE_KO, komi=0)
    start = b.stones()
    for move in TRIPLE_KO_CYCLE[:-1]:
        b.play(move)
    last = TRIPLE_KO_CYCLE[-1]
    assert b.ko_point != last  # simple ko would allow it
    assert b.illegal_reason(last) == "superko"
    assert last not in b.legal_moves()
    before = snapshot(b)
    with pytest.raises(IllegalMoveError) as e:
        b.play(last)
    assert e.value.reason == "superko"
    assert last in str(e.value)
    assert_snapshot(b, before)
    assert not np.array_equal(b.stones(), start)


def test_triple_ko_cycle_is_forbidden_by_situational_superko():
    # the cycle has an even length, so the same player is to move when the position recurs
    b = Board.from_ascii(TRIPLE_KO, komi=0, ko_rule="situational")
    for move in TRIPLE_KO_CYCLE[:-1]:
        b.play(move)
    assert b.illegal_reason(TRIPLE_KO_CYCLE[-1]) == "superko"


def test_simple_ko_allows_the_triple_ko_cycle_forever():
    b = Board.from_ascii(TRIPLE_KO, komi=0, ko_rule="simple")
    start, start_hash = b.stones(), b.hash
    hashes = [b.hash]
    for _ in range(3):
        for move in TRIPLE_KO_CYCLE:
            b.play(move)
            hashes.append(b.hash)
        np.testing.assert_array_equal(b.stones(), start)
        assert b.hash == start_hash
        assert b.to_move == BLACK
    assert len(set(hashes)) == 6  # six distinct positions, visited three times
    assert b.captures == {BLACK: 9, WHITE: 9}
    b.check()


# White at A5 takes two black stones; Black at B5 takes one back and the first position recurs, with the *other*
# player to move (White) than when it first occurred (Black).
TWO_FOR_ONE = """
. X . O .
X O O . .
. . . . .
. . . . .
. . . . .
"""


def test_two_for_one_cycle_steps():
    b = Board.from_ascii(TWO_FOR_ONE, ko_rule="simple")
    start = b.stones()
    b.play("C5")
    assert b.liberties("B5") == 1
    b.play("A5")
    assert_position(
        b,
        """
        O . . O .
        X O O . .
        . . . . .
        . . . . .
        . . . . .
        """,
    )
    assert b.captures[WHITE] == 2
    assert b.ko_point is None
    b.play("B5")
    np.testing.assert_array_equal(b.stones(), start)
    assert b.to_move == WHITE
    assert b.captures == {BLACK: 1, WHITE: 2}


@pytest.mark.parametrize(("ko_rule", "expected"), [("simple", None), ("positional", "superko"), ("situational", None)])
def test_recreating_a_position_with_the_other_player_to_move(ko_rule, expected):
    b = Board.from_ascii(TWO_FOR_ONE, ko_rule=ko_rule)
    b.play("C5")
    b.play("A5")
    assert b.ko_point is None
    assert b.illegal_reason("B5") == expected
    assert ("B5" in b.legal_moves()) == (expected is None)
    if expected is None:
        b.play("B5")
        np.testing.assert_array_equal(b.stones(), grid(TWO_FOR_ONE))
        b.check()
    else:
        with pytest.raises(IllegalMoveError) as e:
            b.play("B5")
        assert e.value.reason == "superko"


def test_situational_superko_after_passes_same_player_to_move():
    """The same repetition with a pass pair inserted: the position recurs with White to move both times."""
    b = Board.from_ascii(TWO_FOR_ONE, ko_rule="situational")
    b.pass_move()  # Black passes: (start, White to move) is now in the history
    b.pass_move()
    b.play("C5")
    b.play("A5")
    assert b.illegal_reason("B5") == "superko"


# Black's ko: White (to move) takes at C3; after pass-pass Black retakes at B3 and the first position recurs with
# White to move, as it was at the start.
KO_WHITE_TAKES = """
. . . . .
. O X . .
O X . X .
. O X . .
. . . . .
"""


def test_situational_superko_respects_the_player_to_move_of_the_setup_position():
    b = Board.from_ascii(KO_WHITE_TAKES, ko_rule="situational", to_move="w")
    b.play("C3")
    b.pass_move()
    b.pass_move()
    assert b.to_move == BLACK
    # Black's retake recreates the starting position with White to move: the very situation the game started in
    assert b.illegal_reason("B3") == "superko"


def test_superko_counts_positions_before_setup():
    b = Board(5)
    b.play("C3")
    b.setup(empty=["C3"])  # back to the empty board: still in the history
    assert b.move_number == 0
    assert b.illegal_reason("C3", "b") == "superko"  # a black stone on C3 alone has been seen
    assert b.illegal_reason("C3", "w") is None


# --- suicide ----------------------------------------------------------------------------------------------------------

SINGLE_SUICIDE = """
. O . . .
O . . . .
. . . . .
. . . . .
. . . . .
"""

MULTI_SUICIDE = """
X . O . .
O X O . .
. O . . .
. . . . .
. . . . .
"""


@pytest.mark.parametrize("ko_rule", KO_RULE_NAMES)
def test_suicide_is_illegal_by_default(ko_rule):
    for text, move in ((SINGLE_SUICIDE, "A5"), (MULTI_SUICIDE, "B5")):
        b = Board.from_ascii(text, ko_rule=ko_rule)
        assert not b.suicide_allowed
        assert b.illegal_reason(move) == "suicide"
        before = snapshot(b)
        with pytest.raises(IllegalMoveError) as e:
            b.play(move)
        assert e.value.reason == "suicide"
        assert move in str(e.value)
        assert_snapshot(b, before)


def test_single_stone_suicide_allowed_removes_the_stone():
    b = Board.from_ascii(SINGLE_SUICIDE, ko_rule="simple", suicide=True)
    assert b.suicide_allowed
    assert b.is_legal("A5")
    h = b.hash
    b.play("A5")
    assert_position(b, SINGLE_SUICIDE)
    assert b.hash == h
    assert b.captures == {BLACK: 0, WHITE: 1}
    assert b.to_move == WHITE
    assert b.move_number == 1
    assert b.ko_point is None
    b.check()
    b.undo()
    assert b.captures == {BLACK: 0, WHITE: 0}


def test_single_stone_suicide_repeats_the_position():
    """Tromp-Taylor: a single-stone suicide recreates the current position, so positional superko forbids it;
    situational superko allows it (the other player is to move now)."""
    b = Board.from_ascii(SINGLE_SUICIDE, suicide=True)
    assert b.illegal_reason("A5") == "superko"
    b = Board.from_ascii(SINGLE_SUICIDE, suicide=True, ko_rule="situational")
    assert b.illegal_reason("A5") is None


@pytest.mark.parametrize("ko_rule", KO_RULE_NAMES)
def test_multi_stone_suicide_allowed_removes_the_group(ko_rule):
    b = Board.from_ascii(MULTI_SUICIDE, ko_rule=ko_rule, suicide=True)
    assert b.is_legal("B5")
    b.play("B5")
    assert_position(
        b,
        """
        . . O . .
        O . O . .
        . O . . .
        . . . . .
        . . . . .
        """,
    )
    assert b.captures == {BLACK: 0, WHITE: 3}
    assert b.hash == K.fresh_hash(b.state)
    b.check()


@pytest.mark.parametrize("suicide", [False, True])
def test_move_that_looks_like_suicide_but_captures_is_legal(suicide):
    b = Board.from_ascii(
        """
        . O X . .
        O X . . .
        . . . . .
        . . . . .
        . . . . .
        """,
        suicide=suicide,
    )
    assert b.illegal_reason("A5") is None
    b.play("A5")
    assert_position(
        b,
        """
        X . X . .
        O X . . .
        . . . . .
        . . . . .
        . . . . .
        """,
    )
    assert b.captures == {BLACK: 1, WHITE: 0}
    # filling the last liberty of one's own group while capturing is legal too
    b = Board.from_ascii(
        """
        . X O . .
        O X O . .
        X O . . .
        . . . . .
        . . . . .
        """,
        to_move="w",
        suicide=suicide,
    )
    assert b.liberties("A4") == 1
    assert b.illegal_reason("A5") is None
    b.play("A5")
    assert_position(
        b,
        """
        O . O . .
        O . O . .
        X O . . .
        . . . . .
        . . . . .
        """,
    )
    assert b.captures[WHITE] == 2
    assert b.liberties("A5") == 2


# --- errors -----------------------------------------------------------------------------------------------------------


def test_occupied_points():
    b = Board(9)
    b.play("E5")
    for color in ("b", "w"):
        assert b.illegal_reason("E5", color) == "occupied"
    before = snapshot(b)
    with pytest.raises(IllegalMoveError) as e:
        b.play("e5")
    assert e.value.reason == "occupied"
    assert e.value.move == "E5"
    assert "E5" in str(e.value)
    assert_snapshot(b, before)


def test_error_types():
    assert issubclass(IllegalMoveError, ValueError)
    assert issubclass(InvalidMoveError, ValueError)
    assert set(IllegalMoveError.REASONS) >= {"occupied", "suicide", "ko", "superko"}


@pytest.mark.parametrize("move", ["Z9", "J10", "I5", "A0", "", "D4x", 40, (9, 0), (0, -1), "resign", 3.5])
def test_unreadable_moves_raise_invalid_move_error_and_change_nothing(move):
    b = Board(9)
    b.play("E5")
    before = snapshot(b)
    with pytest.raises(InvalidMoveError) as e:
        b.play(move)
    if isinstance(move, str) and move != "resign":
        assert repr(move) in str(e.value)
    assert_snapshot(b, before)
    with pytest.raises(InvalidMoveError):
        b.is_legal(move)


def test_moves_in_every_accepted_form():
    b = Board(9)
    b.play("e5")
    b.play((0, 0))
    b.play("pass")
    b.play(None)
    assert b.moves == [(BLACK, "E5"), (WHITE, "A9"), (BLACK, "pass"), (WHITE, "pass")]
    assert b.color_at("E5") == BLACK and b.color_at((0, 0)) == WHITE


def test_play_for_a_given_colour():
    b = Board(9)
    b.play("E5", "w")
    assert b.color_at("E5") == WHITE
    assert b.to_move == BLACK
    b.play("D5", "white")
    assert b.color_at("D5") == WHITE and b.to_move == BLACK
    with pytest.raises(ValueError):
        b.play("C5", "red")


def test_undo_on_a_fresh_board_raises():
    b = Board(9)
    assert not b.can_undo
    with pytest.raises(IndexError):
        b.undo()


# --- passes and the end of the game -----------------------------------------------------------------------------------


def test_two_consecutive_passes_end_the_game():
    b = Board(9)
    assert not b.is_over
    b.pass_move()
    assert b.passes == 1 and not b.is_over
    assert b.to_move == WHITE
    b.pass_move()
    assert b.passes == 2 and b.is_over
    assert b.move_number == 2
    assert b.moves == [(BLACK, "pass"), (WHITE, "pass")]
    b.undo()
    assert not b.is_over and b.passes == 1


def test_last_move_tells_a_pass_from_no_move():
    b = Board(9)
    assert b.last_move is None  # nothing played yet
    b.play("E5")
    assert b.last_move == "E5"
    b.pass_move()
    assert b.last_move == "pass"


def test_pass_move_pass_does_not_end_the_game():
    b = Board(9)
    b.pass_move()
    b.play("E5", "w")
    assert b.passes == 0
    b.pass_move()
    assert b.passes == 1
    assert not b.is_over


def test_pass_after_a_move_then_two_passes():
    b = Board(9)
    b.play("E5")
    b.pass_move()
    assert not b.is_over
    b.pass_move()
    assert b.is_over


# --- scoring ----------------------------------------------------------------------------------------------------------

TERRITORY = """
. . X O .
. . X O .
. . X O .
. . X O .
. . X O .
"""


def test_area_counts_territory_and_stones():
    b = Board.from_ascii(TERRITORY, komi=0)
    assert b.area() == (15, 10)
    assert b.score() == 5
    assert b.result() == "B+5"


@pytest.mark.parametrize(("komi", "result"), [(1.5, "B+3.5"), (5.5, "W+0.5"), (5, "0"), (7.5, "W+2.5"), (-2, "B+7")])
def test_result_strings_with_komi(komi, result):
    b = Board.from_ascii(TERRITORY, komi=komi)
    assert b.score() == 5 - komi
    assert b.result() == result


def test_format_result():
    assert format_result(3.5) == "B+3.5"
    assert format_result(-0.5) == "W+0.5"
    assert format_result(0) == "0"
    assert format_result(0.0) == "0"
    assert format_result(12) == "B+12"


def test_dame_counts_for_nobody():
    b = Board.from_ascii(
        """
        . X . O .
        . X . O .
        . X . O .
        . X . O .
        . X . O .
        """,
        komi=0,
    )
    assert b.area() == (10, 10)
    assert b.result() == "0"


def test_seki_shared_liberties_count_for_nobody():
    # White's big group and Black's two inner stones share the liberties B5 and D5; neither side can approach
    b = Board.from_ascii(
        """
        O . X . O
        O O X O O
        X O O O X
        X X X X X
        . . . . .
        """,
        komi=0,
    )
    assert b.liberties("A5") == 2 and b.liberties("C5") == 2
    # filling a shared liberty is self-atari for either side
    for color in ("b", "w"):
        trial = b.copy()
        trial.play("B5", color)
        assert trial.liberties("B5") == 1
    assert b.area() == (14, 9)
    assert b.result() == "B+5"


def test_empty_board_scores_nothing():
    for n in (2, 9, 19):
        b = Board(n, komi=0)
        assert b.area() == (0, 0)
        assert b.score() == 0
        assert b.result() == "0"
    assert Board(9, komi=7.5).result() == "W+7.5"


def test_single_stone_owns_the_whole_board():
    b = Board(5, komi=0.5)
    b.play("C3")
    assert b.area() == (25, 0)
    assert b.result() == "B+24.5"
    b.play("D3")
    assert b.area() == (1, 1)


# --- handicap ---------------------------------------------------------------------------------------------------------

HANDICAP_19 = {
    2: "D4 Q16",
    3: "D4 Q16 D16",
    4: "D4 Q16 D16 Q4",
    5: "D4 Q16 D16 Q4 K10",
    6: "D4 Q16 D16 Q4 D10 Q10",
    7: "D4 Q16 D16 Q4 D10 Q10 K10",
    8: "D4 Q16 D16 Q4 D10 Q10 K4 K16",
    9: "D4 Q16 D16 Q4 D10 Q10 K4 K16 K10",
}
HANDICAP_13 = {
    2: "D4 K10",
    3: "D4 K10 D10",
    4: "D4 K10 D10 K4",
    5: "D4 K10 D10 K4 G7",
    6: "D4 K10 D10 K4 D7 K7",
    7: "D4 K10 D10 K4 D7 K7 G7",
    8: "D4 K10 D10 K4 D7 K7 G4 G10",
    9: "D4 K10 D10 K4 D7 K7 G4 G10 G7",
}
HANDICAP_9 = {
    2: "C3 G7",
    3: "C3 G7 C7",
    4: "C3 G7 C7 G3",
    5: "C3 G7 C7 G3 E5",
    6: "C3 G7 C7 G3 C5 G5",
    7: "C3 G7 C7 G3 C5 G5 E5",
    8: "C3 G7 C7 G3 C5 G5 E3 E7",
    9: "C3 G7 C7 G3 C5 G5 E3 E7 E5",
}


@pytest.mark.parametrize(("size", "table"), [(19, HANDICAP_19), (13, HANDICAP_13), (9, HANDICAP_9)])
def test_fixed_handicap_points_follow_the_gtp_table(size, table):
    for count, expected in table.items():
        points = fixed_handicap_points(size, count)
        assert len(points) == count
        assert set(points) == set(expected.split()), count


def test_fixed_handicap_first_stones_in_gtp_order():
    assert fixed_handicap_points(19, 2) == ["D4", "Q16"]
    assert fixed_handicap_points(19, 4)[:3] == ["D4", "Q16", "D16"]


@pytest.mark.parametrize(
    ("size", "count"),
    [
        (19, 1),
        (19, 0),
        (19, 10),
        (19, -1),
        (13, 10),
        (9, 10),
        (9, 1),
        (7, 5),
        (8, 5),
        (10, 5),
        (18, 9),
        (6, 2),
        (5, 2),
        (2, 2),
    ],
)
def test_fixed_handicap_rejects_bad_counts_and_small_boards(size, count):
    with pytest.raises(ValueError):
        fixed_handicap_points(size, count)


def test_fixed_handicap_on_even_and_7x7_boards_goes_up_to_four():
    assert set(fixed_handicap_points(7, 4)) == {"C3", "E5", "C5", "E3"}
    assert set(fixed_handicap_points(8, 2)) == {"C3", "F6"}
    assert len(fixed_handicap_points(10, 4)) == 4
    assert set(fixed_handicap_points(25, 9)) == {"D4", "W22", "D22", "W4", "D13", "W13", "N4", "N22", "N13"}


def test_place_handicap_leaves_white_to_move():
    b = Board(19, komi=0.5)
    vertices = b.place_handicap(4)
    assert set(vertices) == {"D4", "Q16", "D16", "Q4"}
    assert b.to_move == WHITE
    assert b.move_number == 0
    assert total_stones(b) == 4
    assert all(b.color_at(v) == BLACK for v in vertices)
    b.play("K10")
    assert b.color_at("K10") == WHITE
    with pytest.raises(ValueError):
        b.place_handicap(2)  # not on an empty board
    with pytest.raises(ValueError):
        Board(5).place_handicap(2)
    b.check()


# --- setup ------------------------------------------------------------------------------------------------------------


def test_setup_places_stones_without_moves():
    b = Board(9)
    b.setup(black=["C3", (0, 0)], white=["D4"])
    assert b.color_at("C3") == BLACK and b.color_at("A9") == BLACK and b.color_at("D4") == WHITE
    assert b.to_move == BLACK
    assert b.move_number == 0
    assert not b.can_undo
    assert b.hash == K.fresh_hash(b.state)
    b.setup(empty=["C3"], white=["E5"])
    assert b.color_at("C3") == EMPTY and b.color_at("E5") == WHITE
    b.check()


def test_setup_cannot_leave_a_group_without_liberties():
    b = Board(9)
    b.setup(black=["B9", "A8"])
    before = snapshot(b)
    with pytest.raises(IllegalMoveError):
        b.setup(white=["A9"])
    assert_snapshot(b, before)
    with pytest.raises(IllegalMoveError):
        Board(2).setup(black=["A1", "A2", "B1", "B2"])


@pytest.mark.parametrize("point", ["T1", "J10", "pass", None, (9, 9), "I3"])
def test_setup_off_board_raises(point):
    b = Board(9)
    with pytest.raises(InvalidMoveError):
        b.setup(black=[point])
    assert total_stones(b) == 0


def test_setup_rejects_two_colours_on_one_point():
    with pytest.raises(InvalidMoveError):
        Board(9).setup(black=["C3"], white=["C3"])


def test_from_ascii_rejects_non_square_diagrams():
    with pytest.raises(ValueError):
        Board.from_ascii(". . .\n. . .")
    with pytest.raises(ValueError):
        Board.from_ascii("")


# --- sizes ------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", range(2, 26))
def test_every_size_can_be_created(n):
    b = Board(n)
    assert b.size == n
    assert b.stones().shape == (n, n)
    assert len(b.legal_moves()) == n * n
    assert b.legal_mask().shape == (n * n + 1,)
    b.check()
    b.play((n - 1, n - 1))
    b.check()


@pytest.mark.parametrize("n", [0, 1, 26, "9", True, 9.5])
def test_unsupported_sizes_are_rejected(n):
    with pytest.raises(ValueError):
        Board(n)


def test_unknown_ko_rule_is_rejected():
    with pytest.raises(ValueError):
        Board(9, ko_rule="japanese")


def random_game(board: Board, rng: random.Random, max_moves: int, pass_rate: float = 0.05) -> list:
    """Play random legal moves (and occasional passes) until two passes or ``max_moves``; return the moves."""
    n = board.size
    played = []
    for _ in range(max_moves):
        legal = np.flatnonzero(board.legal_mask()[:-1])
        if len(legal) == 0 or rng.random() < pass_rate:
            move = None
        else:
            f = int(legal[rng.randrange(len(legal))])
            move = (f // n, f % n)
        board.play(move)
        played.append(move)
        if board.is_over:
            break
    return played


@pytest.mark.parametrize(
    ("n", "games", "max_moves", "pass_rate"), [(2, 30, 40, 0.05), (3, 30, 60, 0.05), (25, 1, 900, 0.0)]
)
def test_random_games_on_small_and_large_boards(n, games, max_moves, pass_rate):
    rng = random.Random(n)
    for _ in range(games):
        for ko_rule in KO_RULE_NAMES:
            b = Board(n, komi=0, ko_rule=ko_rule)
            moves = random_game(b, rng, max_moves, pass_rate)
            b.check()
            assert b.hash == K.fresh_hash(b.state)
            black, white = b.area()
            assert 0 <= black + white <= n * n
            if n == 25:
                assert len(moves) == max_moves and sum(b.captures.values()) > 0
            for _ in moves:
                b.undo()
            assert total_stones(b) == 0 and b.hash == 0 and b.move_number == 0


# --- laws over random games -------------------------------------------------------------------------------------------


@st.composite
def games(draw):
    size = draw(st.integers(2, 9))
    ko_rule = draw(st.sampled_from(KO_RULE_NAMES))
    suicide = draw(st.booleans())
    seed = draw(st.integers(0, 2**32 - 1))
    moves = draw(st.integers(0, min(3 * size * size, 150)))
    return size, ko_rule, suicide, seed, moves


def check_laws(b: Board, placed: int) -> None:
    n = b.size
    b.check()
    assert b.hash == K.fresh_hash(b.state)
    caps = b.captures
    assert total_stones(b) == placed - caps[BLACK] - caps[WHITE]
    stones = b.stones()
    for r, c in zip(*np.nonzero(stones), strict=True):
        assert b.liberties((int(r), int(c))) > 0
    for color in (BLACK, WHITE):
        mask = b.legal_mask(color)
        assert mask[-1]
        for f in range(n * n):
            move = (f // n, f % n)
            reason = b.illegal_reason(move, color)
            assert mask[f] == (reason is None) == b.is_legal(move, color), (move, color, reason)
            if stones[move] != EMPTY:
                assert reason == "occupied"
            elif reason == "suicide":
                assert not b.suicide_allowed
            elif reason == "superko":
                assert b.ko_rule != "simple"
            if stones[move] == EMPTY:
                # the simple-ko point binds exactly the player to move
                at_ko = color == b.to_move and b.ko_point is not None and move == gtp_to_rc(b.ko_point, n)
                assert (reason == "ko") == at_ko, (move, color, reason)


@settings(max_examples=150, deadline=None)
@given(games())
def test_laws_of_random_games(game):
    size, ko_rule, suicide, seed, nmoves = game
    rng = random.Random(seed)
    b = Board(size, komi=0.5, ko_rule=ko_rule, suicide=suicide)
    snaps = [snapshot(b)]
    seen = {(b.hash, b.to_move)}
    played = []
    placed = 0
    for _ in range(nmoves):
        legal = b.legal_moves()
        if not legal or rng.random() < 0.08:
            move = "pass"
        else:
            move = rng.choice(legal)
        b.play(move)
        played.append(move)
        if move != "pass":
            placed += 1
            # superko laws: a move never recreates a position (positional) or situation (situational)
            if ko_rule == "positional":
                assert b.hash not in {h for h, _ in seen}
            elif ko_rule == "situational":
                assert (b.hash, b.to_move) not in seen
        seen.add((b.hash, b.to_move))
        check_laws(b, placed)
        snaps.append(snapshot(b))

    # copy() is independent of the original
    c = b.copy()
    before = snapshot(b)
    random_game(c, rng, 10)
    if c.can_undo:
        c.undo()
    assert_snapshot(b, before)
    c.check()

    # the same moves give the same positions and hashes
    replay = Board(size, komi=0.5, ko_rule=ko_rule, suicide=suicide)
    for move, snap in zip(played, snaps[1:], strict=True):
        replay.play(move)
        assert replay.hash == snap["hash"]
        np.testing.assert_array_equal(replay.stones(), snap["stones"])

    # undo every move, restoring everything exactly
    for snap in reversed(snaps[:-1]):
        b.undo()
        assert_snapshot(b, snap)
    assert not b.can_undo


def test_make_and_undo_on_hot_path_indices():
    b = Board(9)
    before = snapshot(b)
    p = rc_to_padded(4, 4, 9)
    b.make(p)
    assert b.color_at("E5") == BLACK
    b.make(K.PASS)
    assert b.passes == 1
    b.undo()
    b.undo()
    assert_snapshot(b, before)


def test_undo_stack_grows_for_long_games():
    b = Board(3, ko_rule="simple")
    for _ in range(200):  # far beyond the initial undo depth and history length
        b.pass_move()
    assert b.move_number == 200
    for _ in range(200):
        b.undo()
    assert b.move_number == 0 and not b.can_undo


def test_copy_is_independent():
    b = Board(9)
    b.play("E5")
    c = b.copy()
    c.play("D4")
    c.play("C3")
    assert b.color_at("D4") == EMPTY and b.move_number == 1 and b.to_move == WHITE
    b.undo()
    assert c.color_at("E5") == BLACK and c.move_number == 3
    c.undo()
    c.undo()
    c.undo()
    assert not c.can_undo
    assert total_stones(c) == 0


# --- text -------------------------------------------------------------------------------------------------------------


def test_str_shows_coordinates_and_marks_the_last_move():
    b = Board(9, komi=6.5)
    b.play("C3")
    b.play("E5")
    text = str(b)
    lines = text.splitlines()
    assert lines[0].split() == list("ABCDEFGHJ")
    assert lines[-2].split() == list("ABCDEFGHJ")
    assert lines[1].split()[0] == "9" and lines[1].split()[-1] == "9"
    assert lines[9].split()[0] == "1"
    assert "(O)" in lines[5]  # E5 is the last move
    assert "Black to move" in lines[-1] and "komi 6.5" in lines[-1]


@pytest.mark.parametrize("n", [2, 5, 9, 19, 25])
def test_str_reads_back_through_from_ascii(n):
    rng = random.Random(n)
    b = Board(n, ko_rule="simple")
    random_game(b, rng, n * n, pass_rate=0.0)
    copy = Board.from_ascii(str(b))
    np.testing.assert_array_equal(copy.stones(), b.stones())
    assert copy.hash == b.hash
    copy.check()


def test_from_ascii_accepts_plus_and_labels():
    b = Board.from_ascii(
        """
           A B C
         3 X + O 3
         2 + + + 2
         1 . O X 1
           A B C
        """,
        to_move="white",
        komi=3,
    )
    assert b.size == 3 and b.komi == 3 and b.to_move == WHITE
    assert_position(
        b,
        """
        X . O
        . . .
        . O X
        """,
    )
