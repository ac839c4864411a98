"""The search's tree after every error path (issue 17): virtual loss taken back when the evaluator raises, returns a
malformed batch, a rollout fails, or a batch of ``begin_batch`` is never ended; Dirichlet noise once per root; tree
reuse keyed by the whole position (ko point included)."""

from __future__ import annotations

import numpy as np
import pytest

from igo.engine import mcts as M
from igo.engine import search as S
from igo.engine.board import Board

from .search_helpers import FakeEvaluator


def assert_clean_tree(m: S.MCTS) -> int:
    """Walk the tree from the root and assert the laws of a tree at rest: no edge carries virtual loss, a node's
    visits are the sum of its edges' visits, an edge's value and rollout counts are at most its visits, and an
    expanded edge has more visits than its child node (the simulations that ended at the edge before or when it
    was expanded). Every edge in use (reachable or not) must be free of virtual loss. Returns the nodes walked."""
    t = m.tree
    edges = int(t.meta[M.T_EDGES])
    assert not t.vl[:edges].any(), f"virtual loss left on edges {np.flatnonzero(t.vl[:edges])[:8].tolist()}"
    root = int(t.meta[M.T_ROOT])
    if root < 0:
        return 0
    stack, walked = [root], 0
    while stack:
        node = stack.pop()
        walked += 1
        f, c = int(t.node_first[node]), int(t.node_nedges[node])
        assert c >= 1, f"node {node} has no edge"
        assert int(t.node_n[node]) == int(t.n[f : f + c].sum()), f"node {node}: N {t.node_n[node]} != sum of edges"
        for e in range(f, f + c):
            assert t.vl[e] == 0, f"edge {e} of node {node}: virtual loss {t.vl[e]}"
            assert 0 <= t.nv[e] <= t.n[e] and 0 <= t.nr[e] <= t.n[e], f"edge {e}: counts above its visits"
            child = int(t.child[e])
            if child >= 0:
                assert int(t.n[e]) > int(t.node_n[child]), f"edge {e}: n {t.n[e]} <= child's N {t.node_n[child]}"
                stack.append(child)
    return walked


class FailingEvaluator(FakeEvaluator):
    """A :class:`FakeEvaluator` that fails on call ``fail_on`` (1 = the root's evaluation) in the way ``mode`` says:
    ``raise`` an error, ``interrupt`` (KeyboardInterrupt), ``shape`` (one row short), ``nan`` (a NaN value) or
    ``negative`` (a negative prior)."""

    def __init__(self, fail_on: int, mode: str = "raise", **kw):
        super().__init__(**kw)
        self.fail_on = fail_on
        self.mode = mode

    def evaluate(self, batch):
        priors, values = super().evaluate(batch)
        if self.calls != self.fail_on:
            return priors, values
        if self.mode == "raise":
            raise RuntimeError("evaluator failed")
        if self.mode == "interrupt":
            raise KeyboardInterrupt
        if self.mode == "shape":
            return priors[:-1], values[:-1]
        if self.mode == "nan":
            values = values.copy()
            values[0] = np.nan
            return priors, values
        priors = priors.copy()
        priors[0, 0] = -1.0
        return priors, values


def _board() -> Board:
    b = Board(5, 0.5)
    for mv in ("C3", "C4", "D3"):
        b.play(mv)
    return b


# --- run(): the evaluator or the rollouts fail -------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["raise", "interrupt", "shape", "nan", "negative"])
@pytest.mark.parametrize("lam", [0.0, 0.5])
def test_failed_evaluation_takes_back_virtual_loss(mode, lam):
    b = _board()
    ev = FailingEvaluator(fail_on=4, mode=mode)
    cfg = S.SearchConfig.zero(dirichlet_weight=0.0, lam=lam, n_vl=3)
    m = S.MCTS(5, 0.5, cfg, evaluator=ev, threads=2, batch_size=4, seed=1)
    error = KeyboardInterrupt if mode == "interrupt" else (RuntimeError if mode == "raise" else ValueError)
    with pytest.raises(error):
        m.search(b, 64)
    assert ev.calls == 4
    assert m.root_visits == 8  # the two batches before the failure
    assert_clean_tree(m)
    # the kept tree searches on as if the failed batch had never been selected
    m.run(b, 32)
    assert m.root_visits == 40
    assert_clean_tree(m)


@pytest.mark.parametrize("lam", [1.0, 0.5])
def test_failed_rollouts_take_back_virtual_loss(monkeypatch, lam):
    b = _board()
    ev = None if lam == 1.0 else FakeEvaluator()
    cfg = S.SearchConfig(lam=lam, n_thr=1)
    m = S.MCTS(5, 0.5, cfg, evaluator=ev, threads=2, batch_size=8, seed=1)
    m.search(b, 16)
    nodes = int(m.tree.meta[M.T_NODES])
    real = m._rollout_range

    def failing(pool, lo, hi, k):
        real(pool, lo, hi, k)
        if k == 1:
            raise RuntimeError("rollout failed")

    monkeypatch.setattr(m, "_rollout_range", failing)
    with pytest.raises(RuntimeError, match="rollout failed"):
        m.run(b, 8)
    assert m.root_visits == 16
    assert_clean_tree(m)
    # nodes the failed batch expanded are given back with it
    assert int(m.tree.meta[M.T_NODES]) == nodes
    monkeypatch.setattr(m, "_rollout_range", real)
    m.run(b, 16)
    assert m.root_visits == 32
    assert_clean_tree(m)


# --- begin_batch / end_batch -------------------------------------------------------------------------------------


def _zero_search(seed: int = 1) -> tuple[S.MCTS, Board, FakeEvaluator]:
    b = _board()
    ev = FakeEvaluator(value=0.1)
    m = S.MCTS(5, 0.5, S.SearchConfig.zero(dirichlet_weight=0.0, n_vl=2), evaluator=ev, seed=seed)
    m.set_root(b)
    return m, b, ev


def _step(m: S.MCTS, b: Board, ev: FakeEvaluator, count: int = 4) -> None:
    batch = m.begin_batch(b, count)
    m.end_batch(*ev.evaluate(batch))


def test_begin_batch_twice_then_end_batch_once():
    m, b, ev = _zero_search()
    _step(m, b, ev)
    m.begin_batch(b, 4)
    batch = m.begin_batch(b, 4)  # abandons the first batch
    m.end_batch(*ev.evaluate(batch))
    assert m.root_visits == 8
    assert_clean_tree(m)


@pytest.mark.parametrize("mode", ["shape", "nan", "negative"])
def test_malformed_end_batch_abandons_the_batch(mode):
    m, b, ev = _zero_search()
    _step(m, b, ev)
    batch = m.begin_batch(b, 4)
    priors, values = FailingEvaluator(fail_on=1, mode=mode).evaluate(batch)
    with pytest.raises(ValueError):
        m.end_batch(priors, values)
    assert m.root_visits == 4
    assert_clean_tree(m)
    with pytest.raises(RuntimeError, match="without begin_batch"):
        m.end_batch(*ev.evaluate(batch))
    _step(m, b, ev)
    assert m.root_visits == 8
    assert_clean_tree(m)


def test_cancel_batch():
    m, b, ev = _zero_search()
    _step(m, b, ev)
    assert m.cancel_batch() == 0  # nothing pending
    m.begin_batch(b, 4)
    assert m.cancel_batch() == 4
    assert_clean_tree(m)
    with pytest.raises(RuntimeError, match="without begin_batch"):
        m.end_batch(np.ones((4, 26)), np.zeros(4))


@pytest.mark.parametrize("then", ["set_root", "run", "search", "reset"])
def test_a_pending_batch_is_abandoned_by_other_calls(then):
    m, b, ev = _zero_search()
    _step(m, b, ev)
    m.begin_batch(b, 4)
    if then == "set_root":
        m.set_root(b)  # the same position: the tree is kept
        assert m.root_visits == 4
    elif then == "run":
        m.run(b, 4)
        assert m.root_visits == 8
    elif then == "search":
        m.search(b, 4)
        assert m.root_visits == 8
    else:
        m.reset()
        m.set_root(b)
    assert_clean_tree(m)
    with pytest.raises(RuntimeError, match="without begin_batch"):
        m.end_batch(np.ones((4, 26)), np.zeros(4))


# --- Dirichlet noise once per root -------------------------------------------------------------------------------


def _root_priors(m: S.MCTS) -> dict[str, float]:
    return {mv.move: mv.prior for mv in m.root_moves()}


def test_noise_is_added_once_per_root():
    b = Board(5, 0.5)
    b.play("C3")
    m = S.MCTS(5, 0.5, S.SearchConfig.zero(), evaluator=FakeEvaluator(), seed=3)
    m.set_root(b)
    first = _root_priors(m)
    assert max(first.values()) - min(first.values()) > 1e-3  # noisy
    m.set_root(b)
    assert _root_priors(m) == first  # the kept root is not noised again
    m.search(b, 40)
    m.search(b, 40)
    assert _root_priors(m) == first
    # the next root (tree reuse) gets its own noise, once
    move = m.best_move()
    b.play(move)
    assert m.advance(b)
    kept = _root_priors(m)
    assert max(kept.values()) - min(kept.values()) < 1e-6  # the evaluator's uniform priors, not noised yet
    m.set_root(b)
    noised = _root_priors(m)
    assert max(noised.values()) - min(noised.values()) > 1e-3
    m.search(b, 40)
    assert _root_priors(m) == noised
    # a fresh root after reset is noised again
    m.reset()
    m.set_root(b)
    assert _root_priors(m) != noised


# --- tree reuse keyed by the whole position ----------------------------------------------------------------------

KO = """
. . . . .
. X O . .
X O . O .
. X O . .
. . . . .
"""


def _ko_boards() -> tuple[Board, Board]:
    """Two boards with the same stones and White to move, one right after Black took the ko (White may not take back
    at B3) and one set up so (White may)."""
    taken = Board.from_ascii(KO, to_move="B", komi=0.5)
    taken.play("C3")  # captures B3
    assert taken.ko_point == "B3"
    free = Board.from_ascii(str(taken).rsplit("\n", 1)[0], to_move="W", komi=0.5)
    assert free.ko_point is None and free.hash == taken.hash and free.to_move == taken.to_move
    return taken, free


@pytest.mark.parametrize("evaluator", [False, True])
def test_root_reuse_sees_the_ko_point(evaluator):
    taken, free = _ko_boards()
    cfg = S.SearchConfig.zero(dirichlet_weight=0.0) if evaluator else S.SearchConfig()
    m = S.MCTS(5, 0.5, cfg, evaluator=FakeEvaluator() if evaluator else None, seed=1)
    m.search(taken, 50)
    assert "B3" not in _root_priors(m)
    m.search(free, 50)  # not the same position: a new tree, where White may take the ko
    assert "B3" in _root_priors(m)
    assert m.root_visits == 50
    assert_clean_tree(m)
    m.search(taken, 50)
    assert "B3" not in _root_priors(m)
    assert m.root_visits == 50


def test_advance_checks_the_position_before_the_move():
    taken, free = _ko_boards()
    m = S.MCTS(5, 0.5, seed=1)
    moves = m.search(free, 300)  # the root is `free` (no ko point)
    reply = next(mv.move for mv in moves if mv.move not in ("B3", "pass") and mv.visits > 1)
    after = taken.copy()
    after.play(reply)  # its position before the move has the stones of the root but a ko point
    assert not m.advance(after)
    assert m.root_visits == 0
    m.search(free, 300)
    after = free.copy()
    after.play(reply)
    assert m.advance(after)
    assert m.root_visits > 0
    assert_clean_tree(m)
