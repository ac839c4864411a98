"""Plain tests of the board kernels themselves (the Board class is tested in test_board.py)."""

from __future__ import annotations

import numpy as np
import pytest

from igo.engine import board_kernels as K
from igo.engine.board import Board
from igo.engine.playout import random_move
from igo.engine.rng import make_rng


def random_states(size: int, suicide: bool, games: int, seed: int):
    """Positions along seeded random games (the playout move choice), with the move colour alternating."""
    rng = make_rng(seed)
    for _ in range(games):
        s = K.new_state(size, K.KO_SIMPLE, suicide)
        for _ in range(3 * size * size):
            yield s
            p = random_move(s, rng)
            if p < 0:
                break
            K.place(s, p, s.meta[K.M_TO_MOVE])


@pytest.mark.parametrize("suicide", [False, True])
@pytest.mark.parametrize("size", [3, 5, 9])
def test_hash_after_equals_the_hash_after_playing(size, suicide):
    checked = captures = suicides = 0
    for s in random_states(size, suicide, games=6, seed=size):
        for color in (K.BLACK, K.WHITE):
            for p in s.empties[: s.meta[K.M_NEMPTY]]:
                if K.basic_legality(s, p, color) != K.OK:
                    continue
                t = K.copy_state(s)
                before = int(t.meta[K.M_CAPS_B] + t.meta[K.M_CAPS_W])
                K.place(t, p, color)
                after = int(t.meta[K.M_CAPS_B] + t.meta[K.M_CAPS_W])
                assert K.hash_after(s, p, color) == t.meta[K.M_HASH] == K.fresh_hash(t)
                assert K.check_invariants(t) == 0
                checked += 1
                if after > before:
                    captures += 1
                    if t.stones[p] == K.EMPTY:
                        suicides += 1
    assert checked > 300 and captures > 0
    if suicide and size >= 5:
        assert suicides > 0  # the suicide branch of hash_after was exercised


def test_basic_legality_codes():
    b = Board.from_ascii(
        """
        . X O .
        X O . O
        . X O .
        . . . .
        """,
        ko_rule="simple",
    )
    s = b.state

    def at(v):
        from igo.engine.coords import gtp_to_padded

        return gtp_to_padded(v, 4)

    assert K.basic_legality(s, at("B4"), K.BLACK) == K.OCCUPIED
    assert K.basic_legality(s, 0, K.BLACK) == K.OFF_BOARD  # a border cell
    assert K.basic_legality(s, at("C3"), K.BLACK) == K.OK  # captures B3
    K.place(s, at("C3"), K.BLACK)
    assert s.meta[K.M_KO] == at("B3")
    assert K.basic_legality(s, at("B3"), K.WHITE) == K.KO
    assert K.basic_legality(s, at("B3"), K.BLACK) == K.OK  # the ko binds only White, who is to move
    assert K.basic_legality(s, at("A4"), K.WHITE) == K.SUICIDE  # B4 and A3 keep B3's liberty
    assert K.check_invariants(s) == 0


def test_push_pop_and_copy_position_restore_everything():
    for s in random_states(7, False, games=2, seed=3):
        u = K.new_undo_stack(7, 1)
        before = K.copy_state(s)
        K.push(s, u, 0)
        p = random_move(s, make_rng(int(s.meta[K.M_MOVES])))
        if p >= 0:
            K.place(s, p, s.meta[K.M_TO_MOVE])
        K.pop(s, u, 0)
        for name in ("stones", "chain", "nxt", "libs", "size", "meta"):
            np.testing.assert_array_equal(getattr(s, name), getattr(before, name), err_msg=name)
        assert sorted(s.empties[: s.meta[K.M_NEMPTY]]) == sorted(before.empties[: before.meta[K.M_NEMPTY]])
        t = K.new_state(7)
        K.copy_position(t, s)
        assert K.check_invariants(t) == 0
        np.testing.assert_array_equal(t.stones, s.stones)


def test_area_counts_stones_and_single_colour_regions():
    b = Board.from_ascii(
        """
        . X . O .
        X X . O O
        . . . . .
        O O . X X
        . O . X .
        """
    )
    # 6 stones each; A5 and E1 reach only black, E5 and A1 only white; the middle region reaches both
    assert K.area(b.state) == (6 + 2, 6 + 2)


def test_chain_liberties_counts_each_liberty_once():
    b = Board.from_ascii(
        """
        . . . .
        . X X .
        . X . .
        . . . .
        """
    )
    from igo.engine.coords import gtp_to_padded

    mark = np.zeros(b.state.stones.shape[0], np.uint8)
    # the chain B3 C3 B2: liberties B4 C4 A3 D3 A2 C2 B1 -> 7 (C2 touches two stones but counts once)
    assert K.chain_liberties(b.state, gtp_to_padded("B3", 4), mark) == 7
    assert not mark.any()  # the scratch array is left zeroed
    assert b.state.libs[b.state.chain[gtp_to_padded("B3", 4)]] == 8  # pseudo-liberties count C2 twice
