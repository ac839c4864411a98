"""Shared helpers of the search tests (tests/test_search.py, tests/test_search_evaluator.py): move lookups, the
statistics laws of a tree at rest, and a fake evaluator."""

from __future__ import annotations

import numpy as np

from igo.engine import mcts as M
from igo.engine import search as S
from igo.engine.coords import gtp_to_rc


def flat(vertex: str, size: int) -> int:
    """Flat policy index of a vertex (pass is N*N)."""
    if vertex == "pass":
        return size * size
    r, c = gtp_to_rc(vertex, size)
    return r * size + c


def by_move(moves: list[S.MoveStats]) -> dict[str, S.MoveStats]:
    return {m.move: m for m in moves}


def summary(moves: list[S.MoveStats], k: int = 6) -> list[tuple[str, int, float]]:
    return [(m.move, m.visits, round(m.winrate, 3)) for m in moves[:k]]


def root_edges(m: S.MCTS) -> tuple[int, int]:
    t = m.tree
    root = int(t.meta[M.T_ROOT])
    return int(t.node_first[root]), int(t.node_nedges[root])


def check_tree(m: S.MCTS, exact_expansion: bool = True) -> None:
    """Statistics laws of a tree at rest: no virtual loss left, a node's visits are the sum of its edges', and an
    expanded edge has exactly one visit more than its child node (the simulation that expanded it). With an evaluator,
    two leaves of one batch may stop at the same unexpanded edge, which is then expanded once: ``exact_expansion``
    False allows more than one."""
    t = m.tree
    nodes, edges = int(t.meta[M.T_NODES]), int(t.meta[M.T_EDGES])
    assert not t.vl[:edges].any(), "virtual loss left after the search"
    for node in range(nodes):
        f, c = int(t.node_first[node]), int(t.node_nedges[node])
        assert int(t.node_n[node]) == int(t.n[f : f + c].sum()), f"node {node}"
    for e in range(edges):
        child = int(t.child[e])
        if child >= 0:
            extra = int(t.n[e]) - int(t.node_n[child])
            assert extra == 1 or (extra > 1 and not exact_expansion), f"edge {e}: n {t.n[e]}, child {t.node_n[child]}"


class FakeEvaluator:
    """Uniform priors over the legal moves (or the weights ``priors`` by vertex), a constant value for the player to
    move, and a record of every batch."""

    def __init__(self, history_length: int = 1, value: float = 0.0, priors: dict[str, float] | None = None):
        self.history_length = history_length
        self.value = value
        self.priors = priors
        self.calls = 0
        self.positions = 0
        self.batches: list[dict] = []

    def evaluate(self, batch: S.LeafBatch):
        self.calls += 1
        self.positions += batch.count
        n = batch.size
        self.batches.append(
            {
                "count": batch.count,
                "history": batch.history.copy(),
                "stones": batch.states.stones[: batch.count].copy(),
                "to_move": batch.to_move.copy(),
                "legal": batch.legal.copy(),
            }
        )
        if self.priors is None:
            priors = batch.legal.astype(np.float32)
        else:
            priors = np.zeros((batch.count, n * n + 1), np.float32)
            for vertex, weight in self.priors.items():
                priors[:, flat(vertex, n)] = weight
        return priors, np.full(batch.count, self.value, np.float32)
