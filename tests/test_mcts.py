"""Tests of the MCTS kernels and the MCTS class: statistics laws, golden tiny-board searches, tree reuse."""

from __future__ import annotations

import numpy as np
import pytest

from igo.engine import mcts as M
from igo.engine import search as S
from igo.engine.board import Board


def test_visits_add_up_and_virtual_loss_is_taken_back():
    b = Board(5, 0.5)
    m = S.MCTS(5, 0.5, seed=1, max_nodes=5000)
    m.search(b, 300)
    t = m.tree
    root = int(t.meta[M.T_ROOT])
    first, k = int(t.node_first[root]), int(t.node_nedges[root])
    assert int(t.n[first : first + k].sum()) == 300 == m.root_visits
    used = int(t.meta[M.T_EDGES])
    assert not t.vl[:used].any()
    # every expanded node's visits equal the sum of its edges' visits
    for node in range(int(t.meta[M.T_NODES])):
        f, c = int(t.node_first[node]), int(t.node_nedges[node])
        assert int(t.node_n[node]) == int(t.n[f : f + c].sum())
    # rollout statistics only (lambda = 1): nr == n, nv == 0
    assert (t.nr[:used] == t.n[:used]).all() and not t.nv[:used].any()


def test_a_seed_reproduces_a_search():
    b = Board(7, 7.5)
    b.play("D4")
    runs = []
    for _ in range(2):
        m = S.MCTS(7, 7.5, seed=42, max_nodes=20000)
        runs.append([(s.move, s.visits, round(s.q, 9)) for s in m.search(b, 500)])
    assert runs[0] == runs[1]
    other = S.MCTS(7, 7.5, seed=43, max_nodes=20000).search(b, 500)
    assert [(s.move, s.visits) for s in other] != [(m_, v) for m_, v, _ in runs[0]]


def test_capture_that_wins_is_found():
    # A race: Black's corner group (A4 B4 B5) has one liberty, A5; White's five stones have one liberty, A2. Black
    # to move must capture at A2, or White captures first at A5.
    b = Board.from_ascii(
        """
        . X O X .
        X X O X .
        O O O X .
        . X X X .
        . . . . .
        """,
        komi=0.5,
    )
    m = S.MCTS(5, 0.5, seed=7, max_nodes=50000)
    best = m.search(b, 3000)[0]
    assert best.move == "A2", [(s.move, s.visits) for s in m.root_moves()[:5]]
    assert best.winrate > 0.6
    assert best.pv[0] == "A2" and len(best.pv) > 1


def test_superko_moves_are_pruned_at_the_root():
    # a ko: White just captured at B3; Black may not retake at C3 immediately (simple ko) -> not a root move
    b = Board.from_ascii(
        """
        . X O .
        X O . O
        . X O .
        . . . .
        """,
        komi=0.5,
    )
    b.play("C3")  # Black captures B3
    assert b.ko_point == "B3"
    m = S.MCTS(4, 0.5, seed=1, max_nodes=20000)
    moves = {s.move for s in m.search(b, 200)}
    assert "B3" not in moves and "pass" in moves


def test_tree_reuse_keeps_the_subtree_statistics():
    b = Board(7, 7.5)
    m = S.MCTS(7, 7.5, seed=5, max_nodes=50000)
    moves = m.search(b, 2000)
    best = moves[0]
    b.play(best.move)
    assert m.advance(b)
    # the new root's visits are the old edge's visits (minus the simulation that stopped at the edge itself)
    assert best.visits - 1 <= m.root_visits <= best.visits
    kept = m.root_visits
    m.search(b, 500)
    assert m.root_visits == kept + 500
    t = m.tree
    for node in range(int(t.meta[M.T_NODES])):
        f, c = int(t.node_first[node]), int(t.node_nedges[node])
        assert int(t.node_n[node]) == int(t.n[f : f + c].sum())


def test_compact_copies_a_subtree_exactly():
    b = Board(5, 0.5)
    m = S.MCTS(5, 0.5, seed=9, max_nodes=20000)
    m.search(b, 1000)
    t = m.tree
    root = int(t.meta[M.T_ROOT])
    e = int(t.node_first[root] + np.argmax(t.n[t.node_first[root] : t.node_first[root] + t.node_nedges[root]]))
    child = int(t.child[e])
    dst = M.new_tree(20000, 20000 * 26)
    nodes = M.compact(t, dst, child)
    assert nodes >= 1 and int(dst.meta[M.T_ROOT]) == 0

    def walk(tree, node, depth=0):
        f, c = int(tree.node_first[node]), int(tree.node_nedges[node])
        out = []
        for i in range(c):
            ed = f + i
            sub = walk(tree, int(tree.child[ed]), depth + 1) if tree.child[ed] >= 0 and depth < 3 else None
            out.append((int(tree.move[ed]), int(tree.n[ed]), float(tree.wr[ed]), sub))
        return out

    assert walk(t, child) == walk(dst, 0)


@pytest.mark.parametrize("rollouts", [False, True])
def test_tree_full_is_survived(rollouts):
    b = Board(9, 7.5)
    m = S.MCTS(9, 7.5, seed=1, max_nodes=50)
    m.search(b, 2000, rollouts=rollouts)
    assert m.root_visits == 2000
    assert int(m.tree.meta[M.T_FULL]) > 0


def test_config_is_validated():
    with pytest.raises(ValueError):
        M.SearchConfig(c_puct=0)
    with pytest.raises(ValueError):
        M.SearchConfig(lam=1.5)
    with pytest.raises(ValueError):
        M.SearchConfig(fpu=2)
    with pytest.raises(ValueError):
        S.MCTS(9).search(Board(7), 10)
