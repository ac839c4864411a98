"""Positional superko inside the search tree (issue 17): a move below the root that would repeat a position of the
game or of the path from the root is dropped (Leela Zero's rule), not only the root's moves."""

from __future__ import annotations

import pytest

from igo.engine import mcts as M
from igo.engine import search as S
from igo.engine.board import Board
from igo.engine.coords import padded_to_gtp

from .search_helpers import FakeEvaluator
from .test_search_errors import assert_clean_tree

# Two kos: Black may take at B5 (capturing C5), White at D2 (capturing E2).
TWO_KOS = """
. O X . . .
O . O X . .
. O X . . .
. . . X O .
. . X . X O
. . . X O .
"""


def two_ko_board(ko_rule: str = "positional") -> Board:
    """Black took one ko (B5), White the other (D2), Black passed: White to move. White may retake C5 (simple ko
    allows it after the pass), but then Black's retake at E2 repeats the position before B5: superko forbids it,
    simple ko does not (the ko point is B5)."""
    b = Board.from_ascii(TWO_KOS, to_move="B", komi=0.5, ko_rule=ko_rule)
    for mv in ("B5", "D2", "pass"):
        b.play(mv)
    return b


def illegal_visits(m: S.MCTS, board: Board) -> list[tuple[tuple[str, ...], str, int]]:
    """Every visited edge of the tree whose move the game's full rules forbid where it is played (the path from
    ``board``, the root, replayed on a copy with its history): (path, reason, visits)."""
    t = m.tree
    out = []
    stack = [(int(t.meta[M.T_ROOT]), board.copy(), ())]
    while stack:
        node, b, path = stack.pop()
        f, c = int(t.node_first[node]), int(t.node_nedges[node])
        for e in range(f, f + c):
            if t.n[e] == 0:
                continue
            v = padded_to_gtp(int(t.move[e]), b.size)
            reason = b.illegal_reason(v)
            if reason is not None:
                out.append((path + (v,), reason, int(t.n[e])))
            elif int(t.child[e]) >= 0:
                b2 = b.copy()
                b2.play(v)
                stack.append((int(t.child[e]), b2, path + (v,)))
    return out


def visits_of(m: S.MCTS, path: tuple[str, ...]) -> int:
    """Visits of the edge at the end of ``path`` from the root (0 if the tree does not reach it)."""
    t = m.tree
    node, n = int(t.meta[M.T_ROOT]), 0
    for v in path:
        if node < 0:
            return 0
        f, c = int(t.node_first[node]), int(t.node_nedges[node])
        e = next((e for e in range(f, f + c) if padded_to_gtp(int(t.move[e]), m.size) == v), None)
        if e is None:
            return 0
        n, node = int(t.n[e]), int(t.child[e])
    return n


def test_the_position_needs_superko():
    b = two_ko_board()
    assert b.is_legal("C5")
    b.play("C5")
    assert b.illegal_reason("E2") == "superko"
    simple = two_ko_board("simple")
    simple.play("C5")
    assert simple.is_legal("E2")


SEARCHES = {
    "rollouts": lambda: S.MCTS(6, 0.5, seed=1),
    "rollouts-2-threads": lambda: S.MCTS(6, 0.5, threads=2, seed=1),
    "zero": lambda: S.MCTS(
        6,
        0.5,
        S.SearchConfig.zero(dirichlet_weight=0.0),
        seed=1,
        evaluator=FakeEvaluator(priors={"C5": 1.0, "E2": 1.0, "B5": 1.0, "D2": 1.0}),
    ),  # fmt: skip
}


@pytest.mark.parametrize("kind", SEARCHES)
def test_no_superko_repetition_below_the_root(kind):
    b = two_ko_board()
    m = SEARCHES[kind]()
    m.search(b, 400)
    assert visits_of(m, ("C5",)) > 20  # the line is searched
    assert illegal_visits(m, b) == []
    assert visits_of(m, ("C5", "E2")) == 0
    assert_clean_tree(m)
    m.close()


@pytest.mark.parametrize("kind", ["rollouts", "zero"])
def test_simple_ko_keeps_the_repetition(kind):
    b = two_ko_board("simple")
    m = SEARCHES[kind]()
    m.search(b, 400)
    assert visits_of(m, ("C5", "E2")) > 0
    assert illegal_visits(m, b) == []


def test_reuse_needs_the_same_history():
    # the same stones, side to move and passes, set up without the game: E2 after C5 repeats nothing there
    b = two_ko_board()
    fresh = Board.from_ascii(str(b).rsplit("\n", 1)[0], to_move="B", komi=0.5)
    fresh.play("pass")
    assert (fresh.hash, fresh.to_move, fresh.ko_point, fresh.passes) == (b.hash, b.to_move, b.ko_point, b.passes)
    m = S.MCTS(6, 0.5, seed=1)
    m.search(fresh, 400)
    assert visits_of(m, ("C5", "E2")) > 0  # legal there
    m.search(b, 400)  # the game's history differs: not the same root
    assert m.root_visits == 400
    assert illegal_visits(m, b) == []


def test_tree_reuse_keeps_the_rule():
    b = two_ko_board()
    m = S.MCTS(6, 0.5, seed=1)
    m.search(b, 400)
    b.play("C5")
    assert m.advance(b)
    m.search(b, 400)
    assert "E2" not in {mv.move for mv in m.root_moves()}
    assert illegal_visits(m, b) == []
    assert_clean_tree(m)
