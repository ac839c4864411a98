"""Tests of the rules of engine/board.py as ASCII fixtures: captures, snapback, ko, superko, suicide."""

from __future__ import annotations

import numpy as np
import pytest

from igo.engine import board_kernels as K
from igo.engine.board import (
    BLACK,
    EMPTY,
    WHITE,
    Board,
    IllegalMoveError,
)

from .board_helpers import (
    KO_RULE_NAMES,
    assert_position,
    assert_snapshot,
    grid,
    snapshot,
)

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
