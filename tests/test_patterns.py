"""Tests of engine/patterns.py: the feature layout, and the pattern features of the rollout and tree policies on small
ASCII fixtures (save atari, neighbour, response, 3x3 pattern, nakade, self-atari, distance)."""

from __future__ import annotations

import numpy as np
import pytest

from igo.engine import patterns as P
from igo.engine.board import Board
from igo.engine.coords import gtp_to_padded


def feats(board: Board, vertex: str, tree: bool = False) -> list[int]:
    return P.features_of(board, vertex, tree)


def family(fs: list[int], name: str) -> list[int]:
    return [i for i in fs if P.family_of(i) == name]


def random_board(n: int, moves: int, seed: int) -> Board:
    b = Board(n, komi=0)
    rng = np.random.default_rng(seed)
    for _ in range(moves):
        legal = b.legal_moves()
        b.play(legal[int(rng.integers(len(legal)))])
    return b


# --- layout -----------------------------------------------------------------------------------------------------------


def test_layout_is_contiguous_and_sized():
    end = 0
    for f in P.LAYOUT:
        assert f.offset == end, f.name
        end += f.count
    assert end == P.num_features(True) == P.TREE_FEATURES
    assert P.num_features(False) == P.SELF_ATARI == P.ROLLOUT_FEATURES
    assert [f.count for f in P.LAYOUT] == [1, 1, 8, 1024, 1 << 15, 1 << 16, 1, 34, 1 << 16]
    assert P.family_of(0) == "response" and P.family_of(P.NEIGHBOUR + 7) == "neighbour"
    assert P.family_of(P.NON_RESPONSE) == "non_response" and P.family_of(P.TREE_FEATURES - 1) == "diamond"
    with pytest.raises(ValueError):
        P.family_of(P.TREE_FEATURES)


@pytest.mark.parametrize("tree", [False, True])
def test_features_in_range_and_well_formed(tree):
    limit = P.num_features(tree)
    for seed, n in ((1, 9), (2, 9), (3, 13)):
        b = random_board(n, 40, seed)
        s = b.state
        for p in np.flatnonzero(s.stones == P.EMPTY):
            fs = P.features_of(b, int(p), tree)
            assert 1 <= len(fs) <= P.MAX_FEATURES
            assert all(0 <= i < limit for i in fs)
            names = [P.family_of(i) for i in fs]
            assert len(set(names)) == len(names) or (tree and names.count("last_distance") == 2)
            assert names.count("non_response") == 1
            assert ("response" in names) == ("response_pattern" in names)
            if tree:
                assert names.count("diamond") == 1 and names.count("last_distance") == 2


def test_features_of_rejects_stones():
    b = Board.from_ascii(". . .\n. X .\n. . .")
    with pytest.raises(ValueError):
        P.features_of(b, "B2")


# --- save atari, self-atari -------------------------------------------------------------------------------------------

SAVE = """
. . . . .
. . O . .
. O X O .
. . . . .
. . . . .
"""

NO_SAVE = """
. . O . .
. O X O .
. O . O .
. . . . .
. . . . .
"""


def test_save_atari_set_for_an_extension_that_escapes():
    b = Board.from_ascii(SAVE)
    assert P.SAVE_ATARI in feats(b, "C2")
    assert P.SAVE_ATARI not in feats(b, "A1")
    assert P.SAVE_ATARI not in feats(b, "B2")
    assert P.SELF_ATARI not in feats(b, "C2", tree=True)


def test_extension_into_one_liberty_is_no_save_but_self_atari():
    b = Board.from_ascii(NO_SAVE)
    assert P.SAVE_ATARI not in feats(b, "C3")
    assert P.SELF_ATARI in feats(b, "C3", tree=True)
    assert P.SELF_ATARI not in feats(b, "A1", tree=True)


def test_liberties_after_count_captures():
    # Black C4 is in atari at C3; playing there captures White C2, whose point becomes the only liberty.
    b = Board.from_ascii(
        """
        . . O . .
        . O X O .
        . O . O .
        . X O X .
        . . X . .
        """
    )
    assert P.libs_after(b.state, gtp_to_padded("C3", 5), P.BLACK) == 1
    assert P.SAVE_ATARI not in feats(b, "C3")
    assert P.SELF_ATARI in feats(b, "C3", tree=True)
    assert P.libs_after(b.state, gtp_to_padded("A1", 5), P.BLACK) == 2


def test_save_atari_only_for_the_player_to_move():
    b = Board.from_ascii(SAVE, to_move="w")
    assert P.SAVE_ATARI not in feats(b, "C2")


# --- previous-move features -------------------------------------------------------------------------------------------


def test_neighbour_feature_depends_on_relative_position():
    b = Board(9)
    b.play("E5")
    around = ["D6", "E6", "F6", "D5", "F5", "D4", "E4", "F4"]
    got = [family(feats(b, v), "neighbour") for v in around]
    assert got == [[P.NEIGHBOUR + k] for k in range(8)]
    assert family(feats(b, "E7"), "neighbour") == []
    assert family(feats(b, "G7"), "neighbour") == []


def test_response_only_near_the_last_move():
    b = Board(9)
    assert all(P.RESPONSE not in feats(b, v) for v in ("E5", "E6", "A1"))
    b.play("E5")
    near = ["E7", "D6", "E6", "F6", "C5", "D5", "F5", "G5", "D4", "E4", "F4", "E3"]
    for v in near:
        fs = feats(b, v)
        assert P.RESPONSE in fs and len(family(fs, "response_pattern")) == 1, v
    for v in ("E8", "D7", "C6", "H5", "A1", "E2"):
        fs = feats(b, v)
        assert P.RESPONSE not in fs and family(fs, "response_pattern") == [], v
    # the response pattern index tells the candidate's place in the diamond apart
    assert len({family(feats(b, v), "response_pattern")[0] for v in near}) == 12
    b.pass_move()
    assert P.RESPONSE not in feats(b, "E6")


def test_response_pattern_sees_the_stones_around_the_last_move():
    a = Board(9)
    a.play("E5")
    b = Board(9)
    b.play("A9", "w")  # far from the diamond: the same response pattern
    b.play("E5", "b")
    c = Board(9)
    c.play("E7", "w")  # inside the diamond of E5
    c.play("E5", "b")
    ra, rb, rc = (family(feats(x, "E6"), "response_pattern") for x in (a, b, c))
    assert ra == rb != rc


def test_last_distance_buckets():
    b = Board(9)
    b.play("E5")
    b.play("C3")
    fs = family(feats(b, "E6", tree=True), "last_distance")
    assert fs == [P.LAST_DISTANCE + 5, P.LAST_DISTANCE + P.DISTANCE_CAP + 1 + 1]
    fresh = Board(19)
    fs = family(feats(fresh, "K10", tree=True), "last_distance")
    assert fs == [P.LAST_DISTANCE + P.DISTANCE_CAP, P.LAST_DISTANCE + 2 * P.DISTANCE_CAP + 1]


# --- 3x3 pattern ------------------------------------------------------------------------------------------------------


def pattern(board: Board, vertex: str, name: str = "non_response") -> int:
    (i,) = family(feats(board, vertex, tree=True), name)
    return i


def test_3x3_same_local_pattern_same_index():
    a = Board(9)
    a.setup(black=["C3"])
    b = Board(9)
    b.setup(black=["G7"], white=["A9"])
    assert pattern(a, "D3") == pattern(b, "H7")
    assert pattern(a, "D3") != pattern(a, "B3")  # the stone on the other side
    b.setup(white=["H8"])
    assert pattern(a, "D3") != pattern(b, "H7")  # a changed neighbour
    # the same stones with fewer liberties
    c = Board(9)
    c.setup(black=["C3"], white=["C4", "B3", "C2"])
    d = Board(9)
    d.setup(black=["C3"], white=["C4", "B3"])
    assert len({pattern(a, "D3"), pattern(c, "D3"), pattern(d, "D3")}) == 3


def test_3x3_colours_are_relative_to_the_player_to_move():
    a = Board(9)
    a.setup(black=["C3"])
    b = Board(9)
    b.setup(white=["C3"])
    b.to_move = "w"
    assert pattern(a, "D3") == pattern(b, "D3")
    b.to_move = "b"
    assert pattern(a, "D3") != pattern(b, "D3")


def test_3x3_edge_and_symmetry():
    b = Board(9)
    assert pattern(b, "E5") == pattern(b, "D4")  # open board
    assert len({pattern(b, "A1"), pattern(b, "J9"), pattern(b, "A5"), pattern(b, "E5")}) == 4
    # a pattern symmetric under the left-right flip is the same on both sides
    c = Board(9)
    c.setup(black=["D4", "F4"])
    assert pattern(c, "E4") == pattern(c, "E4")
    c2 = Board(9)
    c2.setup(black=["D6", "F6"])
    assert pattern(c, "E4") == pattern(c2, "E6")


def test_tree_diamond_pattern_sees_distance_two():
    a = Board(9)
    b = Board(9)
    b.setup(black=["E7"])
    assert pattern(a, "E5") == pattern(b, "E5", "non_response")
    assert pattern(a, "E5", "diamond") != pattern(b, "E5", "diamond")


# --- nakade -----------------------------------------------------------------------------------------------------------

STRAIGHT_THREE = """
. . . . .
O O O O O
O . . . O
O O O O O
. . . . .
"""


def test_nakade_vital_point_of_straight_three():
    b = Board.from_ascii(STRAIGHT_THREE)
    assert len(family(feats(b, "C3"), "nakade")) == 1
    assert family(feats(b, "B3"), "nakade") == []
    assert family(feats(b, "D3"), "nakade") == []
    assert family(feats(b, "A1"), "nakade") == []
    # own eye space gives another index than the opponent's
    w = Board.from_ascii(STRAIGHT_THREE, to_move="w")
    assert family(feats(w, "C3"), "nakade") != family(feats(b, "C3"), "nakade")


def test_nakade_pyramid_four_and_not_straight_four():
    pyramid = Board.from_ascii(
        """
        . . . . . .
        X X X X X .
        X . . . X .
        X X . X X .
        . X X X . .
        . . . . . .
        """
    )
    assert len(family(feats(pyramid, "C4"), "nakade")) == 1
    assert all(family(feats(pyramid, v), "nakade") == [] for v in ("B4", "D4", "C3"))
    straight = Board.from_ascii(
        """
        . . . . . .
        X X X X X X
        X . . . . X
        X X X X X X
        . . . . . .
        . . . . . .
        """
    )
    assert all(family(feats(straight, v), "nakade") == [] for v in ("B4", "C4", "D4", "E4"))
    assert family(feats(Board(9), "E5"), "nakade") == []


def test_gtp_helper_roundtrip():
    b = Board(9)
    assert P.features_of(b, gtp_to_padded("E5", 9)) == P.features_of(b, "E5")
