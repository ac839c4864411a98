"""Tests of the search's strength settings (issue 17): first-play urgency relative to the node (Leela Zero), the move
chosen by lower confidence bound (Leela Zero, KataGo) and a c_puct that grows with the visits (AlphaZero)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from igo.engine import mcts as M
from igo.engine import search as S
from igo.engine.board import Board
from igo.engine.options import PlayerOptions
from igo.engine.player import MCTSPlayer, PlayerConfig, lcb_move
from igo.engine.search import MoveStats, SearchConfig


def rooted(config: SearchConfig, stats: dict[int, tuple[int, float]], priors: dict[int, float] | None = None):
    """A search on the empty 5x5 board whose root edges ``i`` have ``n`` rollouts of mean outcome ``q`` (stats) and
    the given priors (the others keep the uniform prior)."""
    b = Board(5, 0.5)
    m = S.MCTS(5, 0.5, config, seed=1, max_nodes=1000)
    m.set_root(b)
    t = m.tree
    root = int(t.meta[M.T_ROOT])
    first = int(t.node_first[root])
    for i, (n, q) in stats.items():
        t.n[first + i], t.nr[first + i], t.wr[first + i] = n, n, n * q
    for i, p in (priors or {}).items():
        t.prior[first + i] = p
    t.node_n[root] = sum(n for n, _ in stats.values())
    return m, b, first, int(t.node_nedges[root])


def chosen(m: S.MCTS, b: Board, first: int, k: int) -> int:
    """The root edge that the next simulation goes through (a dummy evaluation, so no randomness)."""
    before = m.tree.n[first : first + k].copy()
    m.run(b, 1, rollouts=False)
    (moved,) = np.nonzero(m.tree.n[first : first + k] - before)
    return int(moved[0])


def reference(m: S.MCTS, first: int, k: int, config: SearchConfig) -> int:
    """PUCT at the root computed here from the formulas (Leela Zero's FPU, AlphaZero's c(N))."""
    t = m.tree
    n = t.n[first : first + k].astype(float)
    q = np.where(n > 0, t.wr[first : first + k] / np.maximum(n, 1), 0.0)
    p = t.prior[first : first + k].astype(float)
    total = n.sum()
    fpu = config.fpu
    if config.fpu_reduction is not None:
        value = (n * q).sum() / total if total else 0.0
        fpu = max(-1.0, value - config.fpu_reduction * math.sqrt(p[n > 0].sum()))
    c = config.c_puct
    if config.c_puct_base > 0:
        c += math.log((1 + total + config.c_puct_base) / config.c_puct_base)
    score = np.where(n > 0, q, fpu) + c * p * math.sqrt(max(total, 1)) / (1 + n)
    return int(np.argmax(score))


def test_fpu_from_the_node_value_explores_a_winning_node_wider():
    # one move visited 10 times with Q = 0.6: an unvisited move counted as a draw (fpu 0) loses to it, one counted as
    # the node's value minus 0.25 * sqrt(its prior) beats it
    stats = {0: (10, 0.6)}
    absolute = SearchConfig(heuristic_prior=False)
    relative = SearchConfig(heuristic_prior=False, fpu_reduction=0.25)
    m, b, first, k = rooted(absolute, stats)
    assert reference(m, first, k, absolute) == 0 == chosen(m, b, first, k)
    m, b, first, k = rooted(relative, stats)
    r = reference(m, first, k, relative)
    assert r != 0 and chosen(m, b, first, k) == r


def test_fpu_from_the_node_value_keeps_a_losing_node_narrow():
    # a losing node (Q = -0.8 after 40 visits, prior 0.5; the others 0.01): a draw for an unvisited move (fpu 0) beats
    # it, the node's value minus the reduction does not
    stats, priors = {0: (40, -0.8)}, {i: (0.5 if i == 0 else 0.01) for i in range(26)}
    absolute = SearchConfig(heuristic_prior=False)
    relative = SearchConfig(heuristic_prior=False, fpu_reduction=0.2)
    m, b, first, k = rooted(absolute, stats, priors)
    assert chosen(m, b, first, k) != 0
    m, b, first, k = rooted(relative, stats, priors)
    assert reference(m, first, k, relative) == 0 == chosen(m, b, first, k)


def test_c_puct_grows_with_the_visits_as_alphazero():
    # two moves share the prior; A (300 visits, Q 0.5) wins with c = 5, B (60 visits, Q -0.5) once c grows to
    # 5 + log((1 + 360 + 10) / 10) ≈ 8.6
    stats = {0: (300, 0.5), 1: (60, -0.5)}
    priors = {i: (0.5 if i < 2 else 0.0) for i in range(26)}
    constant = SearchConfig(heuristic_prior=False)
    growing = SearchConfig(heuristic_prior=False, c_puct_base=10.0)
    m, b, first, k = rooted(constant, stats, priors)
    assert reference(m, first, k, constant) == 0 == chosen(m, b, first, k)
    m, b, first, k = rooted(growing, stats, priors)
    assert reference(m, first, k, growing) == 1 == chosen(m, b, first, k)
    assert SearchConfig(c_puct_base=19652.0).pack(9, 7.5)[M.P_CPUCT_BASE] == 19652.0


def test_lcb_prefers_a_sure_move_to_a_slightly_more_visited_poor_one():
    moves = [
        MoveStats("A1", 100, 0.0, 0.3, ()),  # win rate 0.50, lcb ~0.40
        MoveStats("B1", 90, 0.4, 0.3, ()),  # win rate 0.70, lcb ~0.61
        MoveStats("C1", 9, 0.9, 0.3, ()),  # lcb ~0.81 but fewer than 10% of the most visits: not a candidate
    ]
    assert moves[1].lcb() > moves[0].lcb() and moves[2].lcb() > moves[1].lcb()
    assert lcb_move(moves) == "B1"
    assert lcb_move(moves, min_share=0.05) == "C1"
    # all bounds 0 (a lost position): the most visited
    lost = [MoveStats("A1", 50, -0.99, 0.5, ()), MoveStats("B1", 40, -0.98, 0.5, ())]
    assert lcb_move(lost) == "A1"


@pytest.mark.parametrize("lcb", [False, True])
def test_the_player_chooses_by_lcb_when_configured(lcb):
    player = MCTSPlayer(PlayerConfig(playouts=10, search=SearchConfig(heuristic_prior=False, lcb_choice=lcb)))
    b = Board(5, 0.5)
    m = player._get_mcts(b)
    m.set_root(b)
    t = m.tree
    root = int(t.meta[M.T_ROOT])
    first = int(t.node_first[root])
    for i, (n, q) in {0: (100, 0.0), 1: (90, 0.4)}.items():
        t.n[first + i], t.nr[first + i], t.wr[first + i] = n, n, n * q
    t.node_n[root] = 190
    names = [mv.move for mv in m.root_moves()]
    assert player._decide(b, b.to_move) == (names[1] if lcb else names[0])


def test_options_give_the_strength_settings_to_the_search():
    o = PlayerOptions.from_argv(["--fpu-reduction", "0.3", "--lcb", "--c-puct-base", "500"])
    assert o.search_config() == SearchConfig(fpu_reduction=0.3, lcb_choice=True, c_puct_base=500.0)
    assert PlayerOptions.from_argv(o.to_argv()) == o
    assert PlayerOptions.from_argv(["--no-lcb"]).search_config().lcb_choice is False
    assert PlayerOptions().search_config() == SearchConfig()
    with pytest.raises(ValueError, match="--fpu-reduction"):
        PlayerOptions.from_argv(["--fpu-reduction", "-1"])
    with pytest.raises(ValueError, match="fpu_reduction"):
        SearchConfig(fpu_reduction=3.0)
    with pytest.raises(ValueError, match="c_puct_base"):
        SearchConfig(c_puct_base=-1.0)


# --- the expansion threshold and the virtual loss as player options ----------------------------------------------


def test_expansion_threshold_and_virtual_loss_are_player_options():
    d = PlayerOptions()
    assert (d.search_config().n_thr, d.search_config().n_vl) == (1, 1)  # measured: n_vl 1 beat 3, expansion at once
    assert d.search_config("zero", True).n_vl == 1  # AlphaGo Zero's
    o = PlayerOptions.from_argv(["--expand-threshold", "8", "--virtual-loss", "0"])
    assert (o.expand_after, o.virtual_loss) == (8, 0)
    assert (o.search_config().n_thr, o.search_config().n_vl) == (8, 0)
    assert PlayerOptions(model="z", virtual_loss=2).search_config("zero", True).n_vl == 2
    assert o.to_argv() == ["--expand-after", "8", "--virtual-loss", "0"]
    assert PlayerOptions.from_argv(o.to_argv()) == o


@pytest.mark.parametrize(
    ("kwargs", "argv"),
    [({"virtual_loss": -1}, ["--virtual-loss", "-1"]), ({"virtual_loss": 1001}, ["--virtual-loss", "1001"]),
     ({"expand_after": 0}, ["--expand-threshold", "0"])],
)  # fmt: skip
def test_bad_expansion_threshold_or_virtual_loss_names_the_flag(kwargs, argv):
    flag = "--virtual-loss" if "virtual_loss" in kwargs else "--expand-after|--expand-threshold"
    with pytest.raises(ValueError, match=flag):
        PlayerOptions(**kwargs)
    with pytest.raises(ValueError, match=flag):
        PlayerOptions.from_argv(argv)


def test_the_player_searches_with_the_virtual_loss_it_is_given():
    from igo.nets.player import build_player

    player = build_player(PlayerOptions(playouts=8, threads=2, virtual_loss=5, expand_after=3), 5)
    assert (player.config.search.n_vl, player.config.search.n_thr) == (5, 3)
