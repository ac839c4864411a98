"""Self-play's per-leaf and per-move Python overhead (issue 17, item 3): move bookkeeping in one pass over the root
(no move names, no principal variations), no position cache and no copy of the board states where the evaluator
does not read them, the legal moves of a batch in one kernel, and ``igo bench selfplay --evaluator uniform``."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from igo.bench_nn import UniformEvaluator
from igo.engine import board_kernels as K
from igo.engine.board import Board
from igo.engine.pool import copy_to_slot, legal_masks, new_pool, slot_view
from igo.engine.search import MCTS, SearchConfig
from igo.nets.config import get_config
from igo.nets.evaluator import NetEvaluator
from igo.nets.models import build_model
from igo.selfplay.selfplay import SelfPlay, SelfPlayConfig, concat_batches
from tests.test_selfplay import HashEvaluator

torch.set_num_threads(1)


def _zero_net(size: int):
    torch.manual_seed(0)
    return build_model(get_config("zero-tiny"), size)


def _position(size: int, moves: int, seed: int) -> Board:
    rng = np.random.default_rng(seed)
    b = Board(size, komi=0.5)
    for _ in range(moves):
        legal = b.legal_moves()
        if not legal:
            break
        b.play(legal[int(rng.integers(len(legal)))])
    return b


# --- move bookkeeping --------------------------------------------------------------------------------------------


def test_policy_target_and_best_q_match_the_search_readers():
    board = _position(5, 6, seed=2)
    s = MCTS(5, 0.5, SearchConfig.zero(dirichlet_weight=0.0), evaluator=HashEvaluator(), batch_size=4, seed=1)
    s.search(board, 60)
    sp = SelfPlay(HashEvaluator(), SelfPlayConfig(size=5, komi=0.5), seed=0)
    flat, visits, best = sp._root_edges(s)
    target = sp._policy_target(flat, visits)
    assert target.dtype == np.float32 and target.shape == (26,)
    np.testing.assert_allclose(target, s.visit_distribution().astype(np.float32), rtol=1e-6)
    moves = s.root_moves()
    assert sp._q[best] == pytest.approx(moves[0].q) and visits[best] == moves[0].visits


def test_selfplay_moves_read_the_root_without_root_moves(monkeypatch):
    calls = {"root_moves": 0, "visit_distribution": 0, "choose_move": 0}
    for name in calls:
        original = getattr(MCTS, name)

        def counted(self, *a, _name=name, _original=original, **k):
            calls[_name] += 1
            return _original(self, *a, **k)

        monkeypatch.setattr(MCTS, name, counted)
    sp = SelfPlay(HashEvaluator(), SelfPlayConfig(size=5, komi=0.5, simulations=8, parallel_games=2), seed=1)
    sp.play(games=1)
    assert sp.stats.simulations > 0 and calls == {"root_moves": 0, "visit_distribution": 0, "choose_move": 0}


def test_after_the_temperature_moves_the_most_visited_move_is_played(monkeypatch):
    played = []
    original = SelfPlay._move

    def move(self, g):
        flat, visits, best = self._root_edges(g.search)
        expect = g.search.root_moves()[0].move  # the most visited, the first of equals
        before = len(g.board.moves)
        out = original(self, g)
        if len(g.board.moves) > before:
            played.append((expect, g.board.moves[before][1]))
        return out

    monkeypatch.setattr(SelfPlay, "_move", move)
    cfg = SelfPlayConfig(size=5, komi=0.5, simulations=12, parallel_games=2, temperature_moves=0, resign_threshold=-1)
    SelfPlay(HashEvaluator(), cfg, seed=4).play(games=1)
    assert played and all(e.lower() == m.lower() for e, m in played)


def test_temperature_moves_are_drawn_among_visited_moves(monkeypatch):
    seen = []
    original = SelfPlay._move

    def move(self, g):
        flat, visits, _ = self._root_edges(g.search)
        visited = {int(f) for f, v in zip(flat, visits, strict=True) if v > 0}
        before = len(g.board.moves)
        out = original(self, g)
        if len(g.board.moves) > before:
            vertex = g.board.moves[before][1]
            seen.append((visited, 25 if vertex == "pass" else _flat5(vertex)))
        return out

    monkeypatch.setattr(SelfPlay, "_move", move)
    cfg = SelfPlayConfig(size=5, komi=0.5, simulations=16, parallel_games=2, temperature_moves=50, resign_threshold=-1)
    SelfPlay(HashEvaluator(), cfg, seed=5).play(games=1)
    assert seen and all(m in visited for visited, m in seen)
    assert len({m for _, m in seen[:6]}) > 1


def _flat5(vertex: str) -> int:
    from igo.engine.coords import gtp_to_rc

    r, c = gtp_to_rc(vertex, 5)
    return r * 5 + c


# --- no cache, no state copies -----------------------------------------------------------------------------------


def _leaf_batch(size: int, count: int):
    boards = [_position(size, 3 + k, seed=k) for k in range(count)]
    searches = [MCTS(size, 0.5, SearchConfig.zero(dirichlet_weight=0.0), evaluator=HashEvaluator(), seed=k)
                for k in range(count)]  # fmt: skip
    batches = []
    for s, b in zip(searches, boards, strict=True):
        s.set_root(b)
        batches.append(s.begin_batch(b, 2))
    return batches


def test_an_evaluator_without_cache_neither_hashes_nor_copies_states(monkeypatch):
    import igo.nets.evaluator as E

    big = concat_batches(_leaf_batch(5, 3))
    cached = NetEvaluator(_zero_net(5), size=5, device="cpu", symmetry="none", cache_size=100)
    want_p, want_v = cached.evaluate(big)

    def refuse(*a, **k):
        raise AssertionError("no keys and no copies of the states without a cache")

    monkeypatch.setattr(E.NetEvaluator, "_keys", refuse)
    monkeypatch.setattr(E, "take_slots", refuse)
    for max_batch in (512, 4):  # in one piece, and split into pieces of max_batch rows
        ev = NetEvaluator(_zero_net(5), size=5, device="cpu", symmetry="none", cache_size=0, max_batch=max_batch)
        assert not ev.reads_states
        p, v = ev.evaluate(concat_batches(_leaf_batch(5, 3), states=False))
        np.testing.assert_allclose(p, want_p, atol=1e-6)
        np.testing.assert_allclose(v, want_v, atol=1e-6)
        assert ev.stats.positions == big.count and ev.stats.cache_hits == 0


def test_reads_states_only_where_the_states_are_read():
    assert NetEvaluator(_zero_net(5), size=5, device="cpu", cache_size=10).reads_states  # the cache keys: the ko
    assert not NetEvaluator(_zero_net(5), size=5, device="cpu", cache_size=0).reads_states
    torch.manual_seed(0)
    lee = build_model(get_config("lee-policy-tiny"), 5)
    assert NetEvaluator(lee, size=5, device="cpu", cache_size=0).reads_states  # AlphaGo planes read the states


def test_concat_without_states_and_selfplay_hands_states_only_to_who_reads_them():
    batches = _leaf_batch(5, 2)
    full, bare = concat_batches(batches), concat_batches(batches, states=False)
    assert bare.states is None and full.states is not None and bare.count == full.count
    for name in ("history", "to_move", "legal"):
        assert np.array_equal(getattr(bare, name), getattr(full, name))

    class Recorder(UniformEvaluator):
        def __init__(self, reads: bool):
            super().__init__("zero8")
            self.reads_states = reads
            self.states: list = []

        def evaluate(self, batch):
            self.states.append(batch.states)
            return super().evaluate(batch)

    cfg = SelfPlayConfig(size=5, komi=0.5, simulations=4, parallel_games=2)
    for reads in (False, True):
        ev = Recorder(reads)
        SelfPlay(ev, cfg, seed=0).step()
        assert len(ev.states) == 3  # the two roots' priors (from each search itself), then the leaves of both games
        assert all(s is not None for s in ev.states[:2]) and (ev.states[2] is not None) == reads


def test_selfplay_worker_evaluator_has_no_cache():
    from igo.nets.config import config_to_dict
    from igo.selfplay.actors import SelfPlayWorker

    model = _zero_net(5)
    weights = {k: v.numpy().copy() for k, v in model.state_dict().items()}
    spc = SelfPlayConfig(size=5, komi=0.5, simulations=4, parallel_games=2)
    w = SelfPlayWorker(config_to_dict(get_config("zero-tiny")), spc.to_dict(), weights, 0, seed=3)
    assert w.selfplay.evaluator.cache_size == 0


# --- the legal moves of a batch in one kernel --------------------------------------------------------------------


def test_legal_masks_match_legal_mask_per_slot():
    boards = [_position(5, k, seed=10 + k) for k in (0, 5, 11, 17)]
    pool = new_pool(5, len(boards))
    for i, b in enumerate(boards):
        copy_to_slot(pool, i, b.state)
    out = np.zeros((len(boards) + 1, 26), np.bool_)
    assert legal_masks(pool, len(boards), out) == len(boards)
    mask = np.zeros(25, np.bool_)
    for i in range(len(boards)):
        s = slot_view(pool, i)
        K.legal_mask(s, int(s.meta[K.M_TO_MOVE]), mask)
        assert np.array_equal(out[i, :25], mask) and out[i, 25]
    assert not out[len(boards)].any()  # rows past count untouched


# --- the bench ---------------------------------------------------------------------------------------------------


def test_uniform_evaluator_priors_and_values():
    b = concat_batches(_leaf_batch(5, 2))
    p, v = UniformEvaluator("zero8").evaluate(b)
    assert p.dtype == np.float32 and v.dtype == np.float32 and not v.any()
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-6)
    for row, legal in zip(p, b.legal, strict=True):
        assert np.allclose(row[legal], 1.0 / legal.sum()) and not row[~legal].any()


def test_igo_bench_selfplay_uniform_evaluator():
    r = subprocess.run(
        [sys.executable, "-m", "igo", "bench", "selfplay", "--config", "zero-tiny", "--size", "5", "--simulations",
         "16", "--games-per-actor", "4", "--seconds", "1", "--evaluator", "uniform", "--json"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    fig = json.loads(r.stdout.strip().splitlines()[-1])
    assert fig["device"] == "none (uniform)" and fig["simulations_per_sec"] > 0
    assert fig["us_per_leaf_outside_network"] > 0 and fig["tree_full_events"] == 0
    r = subprocess.run(
        [sys.executable, "-m", "igo", "bench", "selfplay", "--config", "zero-tiny", "--size", "5", "--seconds", "1",
         "--evaluator", "uniform", "--actors", "2"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert r.returncode != 0 and "--evaluator uniform runs in this process only" in r.stderr
