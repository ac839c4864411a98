"""Tests of the MCTS kernels and the MCTS class: statistics laws, golden tiny-board searches, tree reuse."""

from __future__ import annotations

import numpy as np
import pytest

from igo.engine import mcts as M
from igo.engine import search as S
from igo.engine.board import Board
from igo.engine.coords import gtp_to_padded


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


def test_a_simple_ko_retake_is_not_a_root_move():
    # a ko: Black just captured at C3; White may not retake at B3 immediately (simple ko) -> not a root move
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


SUPERKO_GAME = ("A2", "B2", "B3", "B1", "A1", "A3")  # White's A3 captures A1 and A2


def superko_board(ko_rule: str) -> Board:
    """After :data:`SUPERKO_GAME` Black's A2 would capture A3 and repeat the whole-board position after White's B1
    (Black A2 B3, White B2 B1): no simple ko, as White captured two stones, but positional superko forbids it.

    ::

           A B C                A B C
         3 O X .   Black A2   3 . X .
         2 . O .   --------> 2 X O .   (= the position after B1)
         1 . O .              1 . O .
    """
    b = Board(3, 0.5, ko_rule=ko_rule)
    for move in SUPERKO_GAME:
        b.play(move)
    return b


def test_positional_superko_moves_are_pruned_at_the_root():
    b = superko_board("positional")
    assert b.ko_point is None and b.illegal_reason("A2") == "superko"
    a2 = gtp_to_padded("A2", 3)
    # the kernel: the root is expanded under simple ko (the tree has no history), so A2 is an edge until prune_root
    t = M.new_tree(4, 64)
    root = M.expand(t, b.state, -1, np.zeros(0, np.float32), S.SearchConfig().pack(3, 0.5))
    t.meta[M.T_ROOT] = root
    first = int(t.node_first[root])
    before = [int(x) for x in t.move[first : first + int(t.node_nedges[root])]]
    assert a2 in before
    assert M.prune_root(t, b.state) == len(before) - 1
    after = [int(x) for x in t.move[first : first + int(t.node_nedges[root])]]
    assert after == [p for p in before if p != a2]
    assert float(t.prior[first : first + len(after)].sum()) == pytest.approx(1.0)
    # the search: never a root move under positional superko, a root move under simple ko
    assert "A2" not in {s.move for s in S.MCTS(3, 0.5, seed=1).search(b, 200)}
    assert "A2" in {s.move for s in S.MCTS(3, 0.5, seed=1).search(superko_board("simple"), 200)}


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
        S.SearchConfig(c_puct=0)
    with pytest.raises(ValueError):
        S.SearchConfig(lam=1.5)
    with pytest.raises(ValueError):
        S.SearchConfig(fpu=2)
    with pytest.raises(ValueError):
        S.MCTS(9).search(Board(7), 10)
