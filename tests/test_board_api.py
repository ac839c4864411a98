"""Tests of engine/board.py beyond the capture rules: errors, passes, scoring, handicap, setup, sizes, laws over random
games (make/undo, hashing, legality mask, invariants) and the text form."""

from __future__ import annotations

import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from igo.engine import board_kernels as K
from igo.engine.board import (
    BLACK,
    EMPTY,
    WHITE,
    Board,
    IllegalMoveError,
    InvalidMoveError,
    fixed_handicap_points,
    format_result,
)
from igo.engine.coords import gtp_to_rc, rc_to_padded

from .board_helpers import (
    KO_RULE_NAMES,
    assert_position,
    assert_snapshot,
    snapshot,
    total_stones,
)

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
