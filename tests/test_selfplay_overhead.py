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
from igo.engine import mcts as M
from igo.engine.board import Board
from igo.engine.leafbatch import LeafRows, root_history
from igo.engine.playout import is_eye
from igo.engine.pool import copy_to_slot, legal_masks, new_pool, slot_view
from igo.engine.search import MCTS, SearchConfig
from igo.nets.config import get_config
from igo.nets.evaluator import NetEvaluator
from igo.nets.models import build_model
from igo.selfplay.selfplay import SelfPlay, SelfPlayConfig, concat_batches
from tests.test_eyes import eye_board
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
    boards = [_position(5, k, seed=10 + k) for k in (0, 5, 11, 17)] + [eye_board()]
    pool = new_pool(5, len(boards))
    for i, b in enumerate(boards):
        copy_to_slot(pool, i, b.state)
    out = np.zeros((len(boards) + 1, 26), np.bool_)
    assert legal_masks(pool, len(boards), out, True) == len(boards)
    no_eyes = np.zeros_like(out)
    legal_masks(pool, len(boards), no_eyes, False)
    mask = np.zeros(25, np.bool_)
    eyes = 0
    for i in range(len(boards)):
        s = slot_view(pool, i)
        color = int(s.meta[K.M_TO_MOVE])
        K.legal_mask(s, color, mask)
        assert np.array_equal(out[i, :25], mask) and out[i, 25]
        eye = np.array([is_eye(s, (f // 5 + 1) * 7 + f % 5 + 1, color) and mask[f] for f in range(25)])
        eyes += int(eye.sum())
        assert np.array_equal(no_eyes[i, :25], mask & ~eye) and no_eyes[i, 25]
    assert eyes >= 3  # eye_board's
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
    r = subprocess.run(  # playout cap randomisation: 16 or 4 simulations a move, half each: 10 a move on average
        [sys.executable, "-m", "igo", "bench", "selfplay", "--config", "zero-tiny", "--size", "5", "--simulations",
         "16", "--fast-simulations", "4", "--full-search-fraction", "0.5", "--games-per-actor", "4", "--seconds", "1",
         "--evaluator", "uniform", "--json"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    fig = json.loads(r.stdout.strip().splitlines()[-1])
    assert fig["fast_simulations"] == 4 and fig["full_search_fraction"] == 0.5
    assert fig["moves_per_sec"] == pytest.approx(fig["simulations_per_sec"] / 10, rel=0.01)
    r = subprocess.run(
        [sys.executable, "-m", "igo", "bench", "selfplay", "--config", "zero-tiny", "--size", "5", "--seconds", "1",
         "--evaluator", "uniform", "--actors", "2"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert r.returncode != 0 and "--evaluator uniform runs in this process only" in r.stderr


# --- the leaves of all games in one preallocated batch (engine.leafbatch) -----------------------------------------


def _searches(size: int, count: int, **kw):
    boards = [_position(size, 4 + 2 * k, seed=10 + k) for k in range(count)]
    searches = [MCTS(size, 0.5, SearchConfig.zero(dirichlet_weight=0.0), evaluator=HashEvaluator(), seed=k, **kw)
                for k in range(count)]  # fmt: skip
    for s, b in zip(searches, boards, strict=True):
        s.set_root(b)
    return boards, searches


def _tree_arrays(s: MCTS) -> dict:
    t = s.tree
    edges, nodes = int(t.meta[M.T_EDGES]), int(t.meta[M.T_NODES])
    out = {name: getattr(t, name)[:edges].copy() for name in ("move", "prior", "n", "nv", "wv", "vl", "child")}
    out.update(node_n=t.node_n[:nodes].copy(), meta=t.meta.copy())
    return out


def _same_trees(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


def test_leaf_rows_give_the_batches_and_trees_of_begin_end_batch():
    """One kernel call per game into one batch gives what begin_batch/end_batch per game gave: the same rows
    (history of 8 positions, player to move, legal moves, positions) and the same trees after many rounds."""
    ev = HashEvaluator()
    boards, old = _searches(5, 3)
    _, new = _searches(5, 3)
    rows = LeafRows(5, 3 * 4, history_length=ev.history_length)
    for _ in range(12):
        batches = [s.begin_batch(b, 4) for s, b in zip(old, boards, strict=True)]
        for s, b in zip(new, boards, strict=True):
            rows.select(s, b.state, root_history(b, ev.history_length), 4)
        big = rows.batch()
        ref = concat_batches(batches)
        assert big.count == ref.count == 12
        for name in ("history", "to_move", "legal"):
            assert np.array_equal(getattr(big, name), getattr(ref, name)), name
        assert np.array_equal(big.states.stones[:12], ref.states.stones)
        p, v = ev.evaluate(ref)
        lo = 0
        for s, b in zip(old, batches, strict=True):
            s.end_batch(p[lo : lo + b.count], v[lo : lo + b.count])
            lo += b.count
        assert rows.finish(p, v) == 12
    for a, b in zip(old, new, strict=True):
        assert a.root_visits == b.root_visits == 48
        assert _same_trees(_tree_arrays(a), _tree_arrays(b))
        assert not _tree_arrays(b)["vl"].any()


class _Failing(UniformEvaluator):
    def __init__(self, mode: str):
        super().__init__("zero8")
        self.mode = mode

    def evaluate(self, batch):
        priors, values = super().evaluate(batch)
        if self.mode == "raise":
            raise RuntimeError("network down")
        if self.mode == "shape":
            return priors[:-1], values[:-1]
        if self.mode == "nan":
            values[0] = np.nan
        if self.mode == "negative":
            priors[0, 0] = -1.0
        return priors, values


@pytest.mark.parametrize("mode", ["raise", "shape", "nan", "negative"])
def test_selfplay_step_that_fails_leaves_every_tree_as_it_was(mode):
    cfg = SelfPlayConfig(size=5, komi=0.5, simulations=40, parallel_games=3, leaves_per_game=4)
    sp = SelfPlay(UniformEvaluator("zero8"), cfg, seed=3)
    for _ in range(3):
        sp.step()
    before = [_tree_arrays(g.search) for g in sp._games]
    sp.set_evaluator(_Failing(mode))
    with pytest.raises(RuntimeError if mode == "raise" else ValueError):
        sp.step()
    for g, b in zip(sp._games, before, strict=True):
        assert _same_trees(_tree_arrays(g.search), b)  # no virtual loss, no node left behind
    sp.set_evaluator(UniformEvaluator("zero8"))
    visits = [g.search.root_visits for g in sp._games]
    sp.step()  # the batch is usable again
    assert [g.search.root_visits for g in sp._games] == [v + 4 for v in visits]


def test_an_interrupt_between_two_games_takes_the_rest_back(monkeypatch):
    import igo.engine.leafbatch as LB

    ev = HashEvaluator()
    boards, searches = _searches(5, 3)
    rows = LeafRows(5, 12, history_length=ev.history_length)
    before = [_tree_arrays(s) for s in searches]
    for s, b in zip(searches, boards, strict=True):
        rows.select(s, b.state, root_history(b, ev.history_length), 4)
    p, v = ev.evaluate(rows.batch())
    calls = []
    original = LB._finish_flat

    def once_then_interrupt(*a):
        if calls:
            raise KeyboardInterrupt
        calls.append(1)
        return original(*a)

    monkeypatch.setattr(LB, "_finish_flat", once_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        rows.finish(p, v)
    visits = [s.root_visits for s in searches]
    assert sorted(visits) == [0, 0, 4]  # the game finished is backed up, the others are as before
    for s, b in zip(searches, before, strict=True):
        assert not _tree_arrays(s)["vl"].any()
        if s.root_visits == 0:
            assert _same_trees(_tree_arrays(s), b)
    assert rows.count == 0 and rows.cancel() == 0


def test_leaf_rows_input_checks():
    ev = HashEvaluator()
    boards, searches = _searches(5, 2)
    rows = LeafRows(5, 6, history_length=8)
    hist = root_history(boards[0], 8)
    rows.select(searches[0], boards[0].state, hist, 4)
    with pytest.raises(ValueError, match="once"):
        rows.select(searches[0], boards[0].state, hist, 1)
    with pytest.raises(ValueError, match="count must be in 1..2"):
        rows.select(searches[1], boards[1].state, root_history(boards[1], 8), 3)
    with pytest.raises(ValueError, match="5x5"):
        rows.select(searches[1], Board(7).state, root_history(boards[1], 8), 1)
    assert rows.cancel() == 4 and not _tree_arrays(searches[0])["vl"].any()
    with pytest.raises(ValueError, match="λ = 0"):
        rows.select(MCTS(5, 0.5, SearchConfig(lam=0.5), evaluator=ev), boards[0].state, hist, 1)
    with pytest.raises(RuntimeError, match="set_root"):
        rows.select(MCTS(5, 0.5, SearchConfig.zero(), evaluator=ev), boards[0].state, hist, 1)
    with pytest.raises(ValueError, match="capacity"):
        LeafRows(5, 0)


def test_selfplay_step_selects_into_one_batch_without_begin_batch(monkeypatch):
    def refuse(*a, **k):
        raise AssertionError("per-search batches are not used by self-play")

    for name in ("begin_batch", "end_batch"):
        monkeypatch.setattr(MCTS, name, refuse)
    seen = []

    class Recorder(UniformEvaluator):
        def evaluate(self, batch):
            seen.append(batch)
            return super().evaluate(batch)

    cfg = SelfPlayConfig(size=5, komi=0.5, simulations=8, parallel_games=3, leaves_per_game=4)
    sp = SelfPlay(Recorder("zero8"), cfg, seed=2)
    sp.step()
    leaves = seen[-1]
    assert leaves.count == 12 and leaves.history.shape == (12, 8, 5, 5)
    assert np.shares_memory(leaves.history, sp._rows.history) and np.shares_memory(leaves.legal, sp._rows.legal)
    assert all(g.search.root_visits == 4 for g in sp._games)
