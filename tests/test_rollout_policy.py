"""Tests of engine/rollout.py and nets/rollout.py: the pattern softmax policy (zero weights are uniform, a large
weight picks its feature's move), the incremental playout bookkeeping, playouts end legal and score by area, the
pool rollouts, and the torch module agrees with the kernels."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pytest
import torch

from igo.engine import board_kernels as K
from igo.engine import patterns as P
from igo.engine import rollout as R
from igo.engine.board import Board
from igo.engine.coords import gtp_to_padded
from igo.engine.mcts import LEAF_READY, LEAF_TERMINAL
from igo.engine.pool import copy_to_slot, new_pool, slot_view
from igo.engine.rng import make_rng
from igo.nets.rollout import MASKED_LOGIT, RolloutPolicy, candidate_features


@dataclass(frozen=True)
class Cfg:  # stands in for nets.config.RolloutConfig
    name: str = "test"
    tree: bool = False


def zeros(tree: bool = False) -> np.ndarray:
    return np.zeros(P.num_features(tree), np.float32)


def random_weights(tree: bool = False, scale: float = 1.0, seed: int = 0) -> np.ndarray:
    return (np.random.default_rng(seed).normal(0, scale, P.num_features(tree))).astype(np.float32)


def random_board(n: int, moves: int, seed: int) -> Board:
    b = Board(n, komi=0, ko_rule="simple")
    rng = np.random.default_rng(seed)
    for _ in range(moves):
        legal = b.legal_moves()
        b.play(legal[int(rng.integers(len(legal)))])
    return b


def candidates(s: K.BoardState) -> list[int]:
    color = int(s.meta[K.M_TO_MOVE])
    return [int(p) for p in range(s.stones.shape[0]) if R.is_candidate(s, p, color)]


def first_moves(s: K.BoardState, weights: np.ndarray, count: int, seed: int) -> np.ndarray:
    """The first move of ``count`` policy playouts from ``s`` (the incremental sampler)."""
    n = int(s.meta[K.M_SIZE])
    scratch = K.new_state(n, K.KO_SIMPLE)
    work = R.new_work(n)
    rng = make_rng(seed)
    out = np.empty(count, np.int64)
    for i in range(count):
        R.policy_playout_from(s, scratch, rng, 1, weights, work)
        out[i] = scratch.meta[K.M_LAST]
    return out


SAVE = """
. . . . .
. . O . .
. O X O .
. . . . .
. . . . .
"""


# --- the distribution -------------------------------------------------------------------------------------------------


def test_zero_weights_give_uniform_probabilities():
    b = random_board(9, 20, 1)
    s = b.state
    out = np.zeros(s.stones.shape[0])
    work = R.new_work(9)
    for tree in (False, True):
        count = R.move_probabilities(s, zeros(tree), tree, work, out)
        cands = candidates(s)
        assert count == len(cands) > 0
        np.testing.assert_allclose(out[cands], 1.0 / count)
        assert out.sum() == pytest.approx(1.0)


def test_zero_weights_playout_draws_uniformly():
    b = random_board(9, 20, 2)
    cands = candidates(b.state)
    k = len(cands)
    draws = first_moves(b.state, zeros(), 60 * k, seed=7)
    counts = np.array([np.count_nonzero(draws == p) for p in cands])
    assert counts.sum() == len(draws)  # never a non-candidate
    expected = 60.0
    chi2 = float(((counts - expected) ** 2 / expected).sum())
    # chi-square with k-1 degrees of freedom: mean k-1, sd sqrt(2(k-1)); 5 sd is far out
    assert chi2 < (k - 1) + 5 * math.sqrt(2 * (k - 1)), chi2


def test_policy_move_uniform_never_fills_own_eye():
    b = Board.from_ascii(
        """
        . X . . .
        X X . . .
        . . . . .
        . . . . .
        . . . . .
        """
    )
    s = b.state
    work = R.new_work(5)
    rng = make_rng(3)
    seen = {R.policy_move(s, rng, zeros(), False, work) for _ in range(2000)}
    assert gtp_to_padded("A5", 5) not in seen
    assert seen == set(candidates(s))


def test_no_candidate_means_pass():
    b = Board.from_ascii(". X .\nX X X\n. X .")
    work = R.new_work(3)
    for color in ("b", "w"):
        b.to_move = color
        assert R.policy_move(b.state, make_rng(1), zeros(), False, work) == -1
        out = np.ones(b.state.stones.shape[0])
        assert R.move_probabilities(b.state, zeros(), False, work, out) == 0 and not out.any()
        assert (first_moves(b.state, zeros(), 3, 1) == K.PASS).all()


def test_large_save_atari_weight_always_saves():
    b = Board.from_ascii(SAVE)
    w = zeros()
    w[P.SAVE_ATARI] = 40.0
    save = gtp_to_padded("C2", 5)
    assert (first_moves(b.state, w, 300, seed=5) == save).all()
    work = R.new_work(5)
    rng = make_rng(2)
    assert all(R.policy_move(b.state, rng, w, False, work) == save for _ in range(100))
    out = np.zeros(b.state.stones.shape[0])
    R.move_probabilities(b.state, w, False, work, out)
    assert out[save] == pytest.approx(1.0)


def test_large_response_weight_answers_next_to_the_last_move():
    b = Board(9)
    b.play("E5")
    w = zeros()
    w[P.NEIGHBOUR + 1] = 30.0  # straight above the previous move
    assert (first_moves(b.state, w, 200, seed=9) == gtp_to_padded("E6", 9)).all()
    w = zeros()
    w[P.RESPONSE] = 30.0
    near = {gtp_to_padded(v, 9) for v in ("E7", "D6", "E6", "F6", "C5", "D5", "F5", "G5", "D4", "E4", "F4", "E3")}
    assert set(first_moves(b.state, w, 600, seed=9).tolist()) == near


def test_playout_sampler_matches_move_probabilities():
    b = random_board(9, 25, 4)
    w = random_weights(scale=1.5, seed=3)
    s = b.state
    work = R.new_work(9)
    out = np.zeros(s.stones.shape[0])
    R.move_probabilities(s, w, False, work, out)
    draws = first_moves(s, w, 20000, seed=11)
    freq = np.bincount(draws, minlength=out.shape[0]) / len(draws)
    assert np.abs(freq - out).max() < 0.02
    # the most likely moves are drawn about as often as they should be
    top = np.argsort(out)[-3:]
    np.testing.assert_allclose(freq[top], out[top], atol=0.015)


def test_kept_local_weights_equal_the_full_features():
    """The playouts' shared computation of the local features (_refresh) agrees with patterns.local_features."""
    b = random_board(9, 40, 6)
    s = b.state
    s.meta[K.M_LAST] = K.NO_POINT  # no previous-move features: the full logits are the local ones
    s.meta[K.M_LAST2] = K.NO_POINT
    w = random_weights(scale=2.0, seed=5)
    work = R.new_work(9)
    R.refresh_all(s, w, work)
    R.candidate_logits(s, w, False, work)
    color = int(s.meta[K.M_TO_MOVE])
    for p in candidates(s):
        assert work.wexp[color - 1, p] == pytest.approx(math.exp(work.logit[p]), rel=1e-9)


@pytest.mark.parametrize("n,seeds", [(9, range(6)), (19, range(2))])
def test_incremental_weights_match_a_full_recompute(n, seeds):
    w = random_weights(scale=2.0, seed=1)
    work, fresh = R.new_work(n), R.new_work(n)
    for seed in seeds:
        s = K.new_state(n, K.KO_SIMPLE)
        bad, moves = R.check_incremental(s, make_rng(seed), 3 * n * n, w, work, fresh)
        assert bad == 0 and moves > n * n // 2
        assert K.check_invariants(s) == 0


# --- playouts ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [5, 9, 19])
def test_policy_playout_ends_legal_and_scores_by_area(n):
    for seed, w in ((1, zeros()), (2, random_weights(seed=2))):
        s = K.new_state(n, K.KO_SIMPLE)
        score, moves = R.policy_playout(s, make_rng(seed), 3 * n * n + 50, w, R.new_work(n))
        assert K.check_invariants(s) == 0
        assert s.meta[K.M_PASSES] == 2
        assert moves == s.meta[K.M_MOVES]
        b, wh = K.area(s)
        assert score == b - wh
        assert abs(score) <= n * n


def test_policy_playout_is_reproducible_and_leaves_source_alone():
    b = random_board(9, 10, 3)
    before = b.state.stones.copy(), b.state.meta.copy()
    w = random_weights(seed=4)
    s1, s2 = K.new_state(9, K.KO_SIMPLE), K.new_state(9, K.KO_SIMPLE)
    r1 = R.policy_playout_from(b.state, s1, make_rng(5), 300, w, R.new_work(9))
    r2 = R.policy_playout_from(b.state, s2, make_rng(5), 300, w, R.new_work(9))
    assert r1 == r2
    np.testing.assert_array_equal(s1.stones, s2.stones)
    np.testing.assert_array_equal(b.state.stones, before[0])
    np.testing.assert_array_equal(b.state.meta, before[1])
    wins, moves, total = R.run_policy_playouts(b.state, s1, make_rng(6), 20, 300, w, R.new_work(9))
    assert 0 <= wins <= 20 and moves > 20 and abs(total) <= 20 * 81


def test_policy_playout_respects_max_moves():
    s = K.new_state(9, K.KO_SIMPLE)
    _, moves = R.policy_playout(s, make_rng(1), 10, zeros(), R.new_work(9))
    assert moves == 10 and s.meta[K.M_MOVES] == 10


def test_policy_rollout_slots_on_a_pool():
    n = 9
    pool = new_pool(n, 4)
    root = random_board(n, 12, 8).state
    done = K.new_state(n, K.KO_SIMPLE)
    K.play_pass(done)
    K.play_pass(done)
    status = np.array([LEAF_READY, LEAF_TERMINAL, LEAF_READY, LEAF_READY], np.int8)
    for i in range(4):
        copy_to_slot(pool, i, done if status[i] == LEAF_TERMINAL else root)
    copies = [K.copy_state(slot_view(pool, i)) for i in range(4)]
    w = random_weights(seed=9)
    scores = np.zeros(4, np.int64)
    assert R.policy_rollout_slots(pool, 0, 4, status, make_rng(3), 300, scores, w, R.new_work(n)) == 4
    assert scores[1] == 0  # the empty board's area: nobody's
    rng, work = make_rng(3), R.new_work(n)
    for i in (0, 2, 3):
        expected, _ = R.policy_playout(copies[i], rng, 300, w, work)
        assert scores[i] == expected
        assert K.check_invariants(slot_view(pool, i)) == 0
        b, wh = K.area(slot_view(pool, i))
        assert scores[i] == b - wh


# --- the torch module -------------------------------------------------------------------------------------------------


def test_module_shapes_masks_and_numpy_roundtrip():
    m = RolloutPolicy(Cfg(), 9)
    assert m.weight.shape == (P.num_features(False),) and m.weight.dtype == torch.float32
    assert not m.weight.detach().any()
    assert RolloutPolicy(Cfg(tree=True), 9).weight.shape == (P.num_features(True),)
    w = random_weights(seed=1)
    m.load_numpy(w)
    np.testing.assert_array_equal(m.to_numpy(), w)
    with pytest.raises(ValueError):
        m.load_numpy(w[:-1])
    idx = torch.tensor([[[0, 5, -1], [2, -1, -1], [-1, -1, -1]]])
    mask = torch.tensor([[True, True, False]])
    logits = m(idx, mask)
    assert logits.shape == (1, 3)
    assert logits[0, 0].item() == pytest.approx(float(w[0] + w[5]))
    assert logits[0, 1].item() == pytest.approx(float(w[2]))
    assert logits[0, 2].item() == MASKED_LOGIT
    logits.sum().backward()
    assert m.weight.grad[5].item() == 1.0 and m.weight.grad[2].item() == 1.0 and m.weight.grad[7].item() == 0.0


@pytest.mark.parametrize("tree", [False, True])
def test_kernel_probabilities_equal_torch_softmax(tree):
    b = random_board(9, 30, 12)
    m = RolloutPolicy(Cfg(tree=tree), 9)
    with torch.no_grad():
        m.weight.normal_(0.0, 1.0, generator=torch.Generator().manual_seed(0))
    moves, index = candidate_features(b, tree=tree)
    assert moves == candidates(b.state) and index.shape == (len(moves), P.MAX_FEATURES)
    for p, row in zip(moves, index, strict=True):
        k = int((row >= 0).sum())
        assert (row[k:] == -1).all()
        assert sorted(row[:k].tolist()) == sorted(P.features_of(b, p, tree))
    feats = torch.from_numpy(index)[None]
    mask = torch.ones(1, len(moves), dtype=torch.bool)
    probs = torch.softmax(m(feats, mask).double(), dim=-1)[0].detach().numpy()
    out = np.zeros(b.state.stones.shape[0])
    R.move_probabilities(b.state, m.to_numpy(), tree, R.new_work(9), out)
    np.testing.assert_allclose(out[moves], probs, rtol=1e-5, atol=1e-9)
    assert out.sum() == pytest.approx(1.0)
