"""The search tree's capacity (issue 17): nodes hold one edge per legal move in a pool that grows between kernel
calls, so 19x19 self-play at AlphaGo Zero's 1,600 simulations with tree reuse refuses no expansion; at a hard limit
the refusals are counted and logged."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest

from igo.engine import board_kernels as K
from igo.engine import mcts as M
from igo.engine import search as S
from igo.engine.board import Board
from igo.selfplay.selfplay import SelfPlay, SelfPlayConfig


class PeakedEvaluator:
    """Priors peaked on one legal move chosen by a hash of the position (so searches go deep and the subtrees kept
    by tree reuse are large), value 0: as cheap as an evaluator gets."""

    history_length = 1

    def evaluate(self, batch):
        priors = batch.legal.astype(np.float32)
        stones = batch.history[:, 0].reshape(batch.count, -1).astype(np.int64)
        key = (stones * (np.arange(stones.shape[1]) % 31 + 1)).sum(axis=1)
        for i in range(batch.count):
            legal = np.flatnonzero(batch.legal[i, :-1])
            if len(legal):
                priors[i, legal[key[i] % len(legal)]] = 3000.0
        priors[:, -1] = 0.01
        return priors, np.zeros(batch.count, np.float32)


def _reachable(t: M.Tree, node: int) -> int:
    """Nodes of the subtree under ``node``."""
    count, stack = 0, [node]
    while stack:
        n = stack.pop()
        count += 1
        first = int(t.node_first[n])
        stack.extend(int(c) for c in t.child[first : first + int(t.node_nedges[n])] if c >= 0)
    return count


def test_19x19_selfplay_at_1600_simulations_with_tree_reuse_refuses_nothing():
    cfg = SelfPlayConfig(
        size=19, simulations=1600, parallel_games=1, leaves_per_game=16, resign_threshold=-1.0, temperature_moves=0
    )
    sp = SelfPlay(PeakedEvaluator(), cfg, seed=5)
    most_nodes = most_root_visits = 0
    while sp.stats.simulations < 4 * cfg.simulations:
        sp.step()
        (g,) = sp._games
        t = g.search.tree
        assert int(t.meta[M.T_FULL]) == 0, f"{int(t.meta[M.T_FULL])} expansions refused at move {g.board.move_number}"
        most_nodes = max(most_nodes, int(t.meta[M.T_NODES]))
        most_root_visits = max(most_root_visits, g.search.root_visits)
    assert sp.stats.tree_full_events == 0
    # the old fixed budget (max(4096, 4*sims + 64) nodes x 64 edges) held ~720 nodes of 19x19; reuse kept subtrees
    assert most_nodes > 2 * cfg.simulations
    assert most_root_visits > 2 * cfg.simulations


@pytest.mark.parametrize("batched", [False, True])
def test_a_tree_that_grows_searches_exactly_as_one_allocated_at_full_size(monkeypatch, batched):
    """Rollouts in one kernel call per 4096 simulations, or batches of 8 leaves for an evaluator (the tree grows
    many times, doubling): the same search as in a tree that never grows."""
    b = Board(7, 7.5)
    for m in ("D4", "C3", "E5"):
        b.play(m)

    def search(initial: int):
        monkeypatch.setattr(M, "INITIAL_NODES", initial)
        if batched:
            ev = S.PlayoutEvaluator(playouts=1, seed=4)
            m = S.MCTS(7, 7.5, S.SearchConfig.zero(), evaluator=ev, batch_size=8, seed=11, max_nodes=20_000)
        else:
            m = S.MCTS(7, 7.5, seed=11, max_nodes=20_000)
        moves = [(x.move, x.visits, round(x.q, 6), x.pv) for x in m.search(b, 1500 if batched else 6000)]
        return moves, M.capacity(m.tree)

    grown, grown_capacity = search(1)
    big, big_capacity = search(20_000)
    assert grown == big
    assert grown_capacity[0] < big_capacity[0]  # it did grow from one node


def test_tree_reuse_after_growth_keeps_the_whole_subtree():
    b = Board(7, 7.5)
    m = S.MCTS(7, 7.5, seed=3, max_nodes=50_000)
    m.search(b, 4000)
    t = m.tree
    assert M.capacity(t)[0] > M.INITIAL_NODES  # grew
    best = m.best_move()
    root = int(t.meta[M.T_ROOT])
    first = int(t.node_first[root])
    e = next(e for e in range(first, first + int(t.node_nedges[root])) if S.padded_to_gtp(int(t.move[e]), 7) == best)
    kept = _reachable(t, int(t.child[e]))
    b.play(best)
    assert m.advance(b)
    assert int(m.tree.meta[M.T_NODES]) == kept > 100


def test_expansion_fits_the_legal_moves_exactly():
    """A position with few legal moves is expanded into the last free edges: the check is not N*N + 1."""
    b = Board(9, 7.5)
    for r in range(9):  # Black fills all but the last column, leaving 9 empty points and pass
        for c in range(8):
            K.place(b.state, np.int64((r + 1) * 11 + c + 1), K.BLACK)
    t = M.new_tree(1, 10)
    params = S.SearchConfig(heuristic_prior=False).pack(9, 7.5)
    b.state.meta[K.M_TO_MOVE] = K.WHITE
    assert M.expand(t, b.state, -1, np.zeros(0, np.float32), params) == 0
    assert int(t.meta[M.T_EDGES]) == 10 and int(t.meta[M.T_FULL]) == 0
    t = M.new_tree(2, 9)  # one edge short
    assert M.expand(t, b.state, -1, np.zeros(0, np.float32), params) == -1
    assert int(t.meta[M.T_FULL]) == 1 and int(t.meta[M.T_NODES]) == 0 and int(t.meta[M.T_EDGES]) == 0


def test_reserve_keeps_the_content_and_respects_the_limits():
    t = M.new_tree(4, 4 * 26)
    b = Board(5, 0.5)
    params = S.SearchConfig().pack(5, 0.5)
    M.expand(t, b.state, -1, np.zeros(0, np.float32), params)
    u = M.reserve(t, 100, 5, 1000, 1000 * 26)
    assert M.capacity(u) == (101, 101 * 26)
    for name in M.Tree._fields:
        a, c = getattr(t, name), getattr(u, name)
        n = a.shape[0] if name == "meta" else int(t.meta[M.T_NODES if name.startswith("node_") else M.T_EDGES])
        assert np.array_equal(a[:n], c[:n]), name
    assert M.capacity(M.reserve(t, 1000, 5, 50, 50 * 26)) == (50, 50 * 26)  # the limits
    assert M.reserve(t, 3, 5, 50, 50 * 26) is t  # room already


def test_a_forced_tiny_limit_logs_one_warning_per_search(caplog):
    b = Board(9, 7.5)
    m = S.MCTS(9, 7.5, seed=1, max_nodes=50)
    with caplog.at_level(logging.WARNING, logger="igo.engine.search"):
        m.search(b, 1000)
        m.run(b, 500)  # the same search goes on: no second warning
    warnings = [r for r in caplog.records if "search tree full" in r.getMessage()]
    assert len(warnings) == 1 and warnings[0].levelno == logging.WARNING
    assert m.tree_full and m.root_visits == 1500
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="igo.engine.search"):
        m.search(b, 1000)  # a new search: a new warning
    assert len([r for r in caplog.records if "search tree full" in r.getMessage()]) == 1


def test_selfplay_counts_and_logs_refusals_at_a_forced_tiny_limit(caplog):
    cfg = SelfPlayConfig(size=9, simulations=200, parallel_games=2, leaves_per_game=8, max_nodes=20)
    sp = SelfPlay(PeakedEvaluator(), cfg, seed=1)
    with caplog.at_level(logging.WARNING, logger="igo.engine.search"):
        while sp.stats.positions == 0 and sp.stats.simulations < 2000:
            sp.step()
            if any(g.board.move_number > 0 for g in sp._games):
                break
    assert sp.stats.tree_full_events > 0
    assert any("search tree full" in r.getMessage() for r in caplog.records)
    assert SelfPlayConfig(size=19, simulations=1600).resolved().max_nodes == 16 * (1600 + 8) + 64
    with pytest.raises(ValueError, match="max_nodes"):
        SelfPlayConfig(max_nodes=0)


def test_bench_selfplay_json_has_the_tree_and_overhead_keys(capsys):
    from igo.cli import main

    argv = ["bench", "selfplay", "--config", "zero-tiny", "--size", "5", "--device", "cpu", "--seconds", "0.6",
            "--simulations", "16", "--games-per-actor", "2", "--leaves-per-game", "4", "--nn-threads", "1",
            "--json"]  # fmt: skip
    assert main(argv) == 0
    figures = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert isinstance(figures["tree_full_events"], int) and figures["tree_full_events"] == 0
    us = figures["us_per_leaf_outside_network"]
    assert isinstance(us, float) and 0.0 < us < 1e6
