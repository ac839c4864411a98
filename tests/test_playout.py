"""Tests of engine/playout.py: light random playouts are reproducible, terminate, keep the board consistent, score by
area, never fill their own single-point eyes, and leave the states they must not touch alone."""

from __future__ import annotations

import numpy as np
import pytest

from igo.engine import board_kernels as K
from igo.engine.board import BLACK, EMPTY, WHITE, Board
from igo.engine.coords import gtp_to_padded
from igo.engine.playout import is_eye, make_undo_loop, playout, playout_from, random_move, run_playouts, tactical_move
from igo.engine.rng import make_rng

POSITION_FIELDS = ("stones", "chain", "nxt", "libs", "size", "empties", "epos", "meta")


def fresh(n: int) -> K.BoardState:
    return K.new_state(n, K.KO_SIMPLE)


def arrays(s: K.BoardState, fields=K.BoardState._fields) -> dict[str, np.ndarray]:
    return {name: getattr(s, name).copy() for name in fields if name != "scratch"}


def assert_arrays_equal(a: dict, b: dict, skip=()) -> None:
    assert a.keys() == b.keys()
    for name in a:
        if name not in skip:
            np.testing.assert_array_equal(a[name], b[name], err_msg=name)


def cap(n: int) -> int:
    return 3 * n * n + 50


def midgame(n: int = 9, moves: int = 30, seed: int = 5) -> Board:
    """A board with some random stones on it (played through the checked API)."""
    b = Board(n, komi=0)
    rng = np.random.default_rng(seed)
    for _ in range(moves):
        legal = b.legal_moves()
        b.play(legal[int(rng.integers(len(legal)))])
    return b


# --- reproducibility and termination ----------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [5, 9, 19])
def test_seeded_playout_is_reproducible(n):
    s1, s2 = fresh(n), fresh(n)
    r1 = playout(s1, make_rng(1234), cap(n))
    r2 = playout(s2, make_rng(1234), cap(n))
    assert r1 == r2
    assert_arrays_equal(arrays(s1), arrays(s2))


def test_different_seeds_usually_differ():
    results = set()
    finals = set()
    for seed in range(20):
        s = fresh(9)
        results.add(tuple(int(v) for v in playout(s, make_rng(seed), cap(9))))
        finals.add(s.stones.tobytes())
    assert len(results) >= 10
    assert len(finals) >= 18


@pytest.mark.parametrize("n", [5, 9, 19])
def test_playouts_terminate_by_two_passes_within_the_cap(n):
    for seed in range(10):
        s = fresh(n)
        score, moves = playout(s, make_rng(seed), cap(n))
        assert 0 < moves < cap(n)
        assert s.meta[K.M_PASSES] >= 2
        assert s.meta[K.M_MOVES] == moves
        assert -n * n <= score <= n * n
        assert K.check_invariants(s) == 0


@pytest.mark.parametrize("n", [5, 9, 19])
def test_the_cap_stops_a_playout(n):
    s = fresh(n)
    score, moves = playout(s, make_rng(3), 7)
    assert moves == 7
    assert s.meta[K.M_MOVES] == 7
    assert K.check_invariants(s) == 0
    b, w = K.area(s)
    assert score == b - w
    # zero moves: the score of the position as it stands
    s = fresh(n)
    assert tuple(playout(s, make_rng(3), 0)) == (0, 0)


@pytest.mark.parametrize("n", [2, 3, 5, 9, 13, 19, 25])
def test_state_is_consistent_and_score_is_the_area_difference(n):
    for seed in range(5):
        s = fresh(n)
        score, moves = playout(s, make_rng(seed), cap(n))
        assert K.check_invariants(s) == 0
        b, w = K.area(s)
        assert score == b - w
        assert b + w <= n * n
        assert K.fresh_hash(s) == s.meta[K.M_HASH]
        # every chain left on the board has a liberty
        for p in np.flatnonzero((s.stones == BLACK) | (s.stones == WHITE)):
            assert K.chain_liberties(s, p, np.zeros(s.stones.shape[0], np.uint8)) > 0


def test_playout_from_a_midgame_position_is_consistent():
    board = midgame()
    scratch = fresh(9)
    for seed in range(10):
        score, moves = playout_from(board.state, scratch, make_rng(seed), cap(9))
        assert K.check_invariants(scratch) == 0
        b, w = K.area(scratch)
        assert score == b - w
        assert scratch.meta[K.M_MOVES] == board.move_number + moves


# --- eyes -----------------------------------------------------------------------------------------------------------


def eye(text: str, vertex: str, color: int) -> bool:
    b = Board.from_ascii(text)
    p = gtp_to_padded(vertex, b.size)
    assert b.state.stones[p] == EMPTY
    return bool(is_eye(b.state, p, color))


CENTRE_EYE = """
. . . . .
. . X . .
. X . X .
. . X . .
. . . . .
"""


def test_is_eye_centre():
    assert eye(CENTRE_EYE, "C3", BLACK)
    assert not eye(CENTRE_EYE, "C3", WHITE)
    # one opponent diagonal: still an eye
    assert eye(
        """
        . . . . .
        . O X . .
        . X . X .
        . . X . .
        . . . . .
        """,
        "C3",
        BLACK,
    )
    # two opponent diagonals: a false eye
    assert not eye(
        """
        . . . . .
        . O X . .
        . X . X .
        . . X O .
        . . . . .
        """,
        "C3",
        BLACK,
    )
    # own diagonals do not matter
    assert eye(
        """
        . . . . .
        . X X X .
        . X . X .
        . X X X .
        . . . . .
        """,
        "C3",
        BLACK,
    )


def test_is_eye_needs_all_orthogonal_neighbours():
    for text in (
        """
        . . . . .
        . . X . .
        . X . . .
        . . X . .
        . . . . .
        """,
        """
        . . . . .
        . . X . .
        . X . O .
        . . X . .
        . . . . .
        """,
    ):
        assert not eye(text, "C3", BLACK)
        assert not eye(text, "C3", WHITE)


def test_is_eye_on_the_edge():
    edge = """
    . X . X .
    . . X . .
    . . . . .
    . . . . .
    . . . . .
    """
    assert eye(edge, "C5", BLACK)
    # on the edge a single opponent diagonal makes the eye false
    assert not eye(
        """
        . X . X .
        . O X . .
        . . . . .
        . . . . .
        . . . . .
        """,
        "C5",
        BLACK,
    )


def test_is_eye_in_the_corner():
    corner = """
    . X . . .
    X . . . .
    . . . . .
    . . . . .
    . . . . .
    """
    assert eye(corner, "A5", BLACK)
    assert not eye(corner, "A5", WHITE)
    assert not eye(
        """
        . X . . .
        X O . . .
        . . . . .
        . . . . .
        . . . . .
        """,
        "A5",
        BLACK,
    )


ONLY_EYES = """
. X X X X
X X . X X
X X X X X
X X X . X
X X X X .
"""


@pytest.mark.parametrize("to_move", ["b", "w"])
def test_random_move_passes_when_only_own_eyes_remain(to_move):
    # Black would fill its own eyes; for White every point is suicide
    b = Board.from_ascii(ONLY_EYES, to_move=to_move)
    for seed in range(5):
        assert random_move(b.state, make_rng(seed)) == -1
    assert K.check_invariants(b.state) == 0


def test_playout_ends_at_once_when_only_eyes_remain():
    b = Board.from_ascii(ONLY_EYES, komi=0)
    scratch = fresh(5)
    score, moves = playout_from(b.state, scratch, make_rng(0), 100)
    assert (score, moves) == (25, 2)


def test_random_move_chooses_among_the_points_that_are_not_eyes():
    b = Board.from_ascii(
        """
        . X X X X
        X X . X X
        X X X X X
        X X X . X
        X X X . .
        """
    )
    allowed = {gtp_to_padded(v, 5) for v in ("D2", "D1", "E1")}  # A5 and C4 are eyes
    chosen = {int(random_move(b.state, make_rng(seed))) for seed in range(40)}
    assert chosen == allowed
    assert K.check_invariants(b.state) == 0


def test_random_move_is_legal_and_no_own_eye():
    board = midgame(9, 50)
    s = board.state
    color = int(s.meta[K.M_TO_MOVE])
    rng = make_rng(11)
    for _ in range(300):
        p = random_move(s, rng)
        assert p >= 0
        assert K.basic_legality(s, p, color) == K.OK
        assert not is_eye(s, p, color)
    assert K.check_invariants(s) == 0


@pytest.mark.parametrize("n", [5, 9, 13])
def test_no_playout_fills_its_own_eye(n):
    """Step through playouts move by move: no move fills a single-point eye of the mover, every move is legal, and at
    the end every empty point is an eye of, or illegal for, the player who passed last."""
    for seed in range(5):
        s = fresh(n)
        rng = make_rng(seed)
        moves = 0
        while s.meta[K.M_PASSES] < 2:
            color = int(s.meta[K.M_TO_MOVE])
            p = random_move(s, rng)
            if p < 0:
                K.play_pass(s)
            else:
                assert s.stones[p] == EMPTY
                assert not is_eye(s, p, color), (seed, moves)
                assert K.basic_legality(s, p, color) == K.OK
                K.place(s, p, color)
            moves += 1
            assert moves < cap(n)
        last = 3 - int(s.meta[K.M_TO_MOVE])
        for p in np.flatnonzero(s.stones == EMPTY):
            assert is_eye(s, p, last) or K.basic_legality(s, p, last) != K.OK
        assert K.check_invariants(s) == 0


def test_playout_matches_a_step_by_step_replay():
    """``playout`` is the loop of ``tactical_move`` (else ``random_move``) / ``place`` / ``play_pass`` and nothing
    else."""
    s1, s2 = fresh(9), fresh(9)
    r1, r2 = make_rng(77), make_rng(77)
    score, moves = playout(s1, r1, cap(9))
    count = 0
    while s2.meta[K.M_PASSES] < 2:
        p = tactical_move(s2)
        if p < 0:
            p = random_move(s2, r2)
        if p < 0:
            K.play_pass(s2)
        else:
            K.place(s2, p, s2.meta[K.M_TO_MOVE])
        count += 1
    assert count == moves
    b, w = K.area(s2)
    assert score == b - w
    assert_arrays_equal(arrays(s1), arrays(s2))
    np.testing.assert_array_equal(r1, r2)


# --- states left alone ------------------------------------------------------------------------------------------------


def test_playout_from_leaves_the_source_untouched():
    board = midgame()
    before = arrays(board.state)
    scratch = fresh(9)
    for seed in range(5):
        playout_from(board.state, scratch, make_rng(seed), cap(9))
    assert_arrays_equal(arrays(board.state), before)
    board.check()


def test_playout_from_equals_a_playout_on_a_copy():
    board = midgame()
    scratch = fresh(9)
    result = playout_from(board.state, scratch, make_rng(9), cap(9))
    copy = K.copy_state(board.state)
    copy.meta[K.M_KO_RULE] = K.KO_SIMPLE
    assert playout(copy, make_rng(9), cap(9)) == result
    assert_arrays_equal(arrays(copy, POSITION_FIELDS), arrays(scratch, POSITION_FIELDS))


def test_run_playouts_sums_individual_playouts():
    board = midgame()
    scratch = fresh(9)
    wins, total_moves, total_score = run_playouts(board.state, scratch, make_rng(21), 25, cap(9))
    rng = make_rng(21)
    results = [playout_from(board.state, scratch, rng, cap(9)) for _ in range(25)]
    assert wins == sum(1 for score, _ in results if score > 0)
    assert total_moves == sum(m for _, m in results)
    assert total_score == sum(score for score, _ in results)


def test_make_undo_loop_leaves_an_empty_board_unchanged():
    s = fresh(9)
    before = arrays(s)
    undo = K.new_undo_stack(9, 1)
    assert make_undo_loop(s, undo, make_rng(4), 500) == 500
    assert_arrays_equal(arrays(s), before)


def test_make_undo_loop_leaves_the_position_unchanged():
    """From a position with eyes and illegal points, random_move reorders the empty-point list (by design: it swaps
    rejected candidates to the back); everything else must come back exactly."""
    for text in (ONLY_EYES, None):
        board = Board.from_ascii(text) if text else midgame(9, 60)
        s = board.state
        before = arrays(s)
        undo = K.new_undo_stack(board.size, 1)
        assert make_undo_loop(s, undo, make_rng(8), 300) == 300
        after = arrays(s)
        assert_arrays_equal(after, before, skip=("empties", "epos"))
        n = int(s.meta[K.M_NEMPTY])
        assert sorted(after["empties"][:n]) == sorted(before["empties"][:n])
        for i in range(n):
            assert s.epos[s.empties[i]] == i
        assert K.check_invariants(s) == 0
        board.check()


# --- a sanity statistic ---------------------------------------------------------------------------------------------


def test_black_win_rate_on_an_empty_9x9_with_komi_0():
    s = fresh(9)
    scratch = fresh(9)
    count = 2000
    wins, total_moves, total_score = run_playouts(s, scratch, make_rng(2016), count, cap(9))
    rate = wins / count
    assert 0.4 <= rate <= 0.65, rate
    assert 60 < total_moves / count < 200  # a light 9x9 playout is about a hundred moves
    assert_arrays_equal(arrays(s), arrays(fresh(9)))


def test_tactical_move_captures_and_escapes():
    """The playouts' urgent answers to the last move: capture what it left in atari, else save what it ataried."""
    position = """
        . . . . .
        . . . . .
        . . O . .
        . O X O .
        . . . . .
        """
    # Black's stone C2 has one liberty, C1: after Black's C2, White captures there
    s = Board.from_ascii(position, to_move=WHITE).state
    s.meta[K.M_LAST] = gtp_to_padded("C2", 5)
    assert tactical_move(s) == gtp_to_padded("C1", 5)
    # after White's atari B2, Black extends to C1, which has two empty neighbours
    s = Board.from_ascii(position, to_move=BLACK).state
    s.meta[K.M_LAST] = gtp_to_padded("B2", 5)
    assert tactical_move(s) == gtp_to_padded("C1", 5)
    # nothing urgent: no last move, or a last move that ataris nothing
    s.meta[K.M_LAST] = K.NO_POINT
    assert tactical_move(s) == -1
    s.meta[K.M_LAST] = gtp_to_padded("C4", 5)
    assert tactical_move(s) == -1
