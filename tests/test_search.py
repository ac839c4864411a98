"""Tests of engine/search.py: golden searches on small boards, reproducibility, threads, move choice with
temperature, root statistics and tree reuse. The evaluator protocol and Zero mode are in
tests/test_search_evaluator.py.

The kernels themselves are covered by tests/test_mcts.py; everything here goes through :class:`igo.engine.search.MCTS`.
Golden positions are checked for what they claim (the capture, the ladder, its breaker) before the search is run.
"""

from __future__ import annotations

import numpy as np
import pytest

from igo.engine import mcts as M
from igo.engine import search as S
from igo.engine.board import BLACK, WHITE, Board
from igo.engine.coords import gtp_to_rc

from .search_helpers import FakeEvaluator, by_move, check_tree, flat, summary

# --- golden positions ------------------------------------------------------------------------------------------------

# Two chains in mutual atari across the middle of the board: White's row 4 (six stones) has one liberty, G4, and so
# has Black's row 3 (six stones), G3. The top rows are Black's and the bottom rows White's, both alive. Black to move
# wins by capturing at G4 (B+13.5 with komi 7.5); anything else and White captures row 3 at G3 and wins.
RACE = """
    . X . X . X .
    X X X X X X X
    X X X X X X X
    O O O O O O .
    X X X X X X .
    O O O O O O O
    . O . O . O .
"""

# Black's E4-E3-E2 is in atari (liberty D4), hemmed in by White's living group; D4 connects it to Black's living group
# on the left. If Black plays elsewhere, White captures three stones at D4 and breaks into Black's area.
SAVE = """
    . X . X O . O
    X X X X O O O
    . . . X O . O
    X X X . X O O
    . . X O X O .
    . . X O X O O
    . . X O O O .
"""

# A ladder. White's D4 has two liberties, C4 and E4; at E4 it would connect to White's living group on the right and
# cut Black's D3-E3-E2-E1 off. Black's atari at E4 starts a ladder that runs to the lower-left corner:
# E4 C4 B4 C3 C2 B3 A3 B2 A2 B1 C1, after which the white chain cannot escape (A1 is suicide). With komi 20.5 Black
# must take the whole left side to win, so the ladder decides the game.
LADDER = """
    . X . X X O .
    X X X X X O O
    X X X X X O .
    . . . O . O O
    . . . X X O .
    . . . . X O O
    . . . . X O .
"""
LADDER_KOMI = 20.5
LADDER_LINE = ["E4", "C4", "B4", "C3", "C2", "B3", "A3", "B2", "A2", "B1", "C1"]


def with_stone(text: str, vertex: str, stone: str) -> str:
    rows = [line.split() for line in text.strip().splitlines()]
    r, c = gtp_to_rc(vertex, len(rows))
    rows[r][c] = stone
    return "\n".join(" ".join(row) for row in rows)


# The same with a white ladder breaker at B3: after E4 C4 B4 C3 the white chain joins B3 and has three liberties.
LADDER_BROKEN = with_stone(LADDER, "B3", "O")


def test_golden_positions_are_what_they_claim():
    race = Board.from_ascii(RACE)
    assert race.liberties("A4") == 1 and race.liberties("A3") == 1
    assert race.liberties("A6") > 1 and race.liberties("A2") > 1

    save = Board.from_ascii(SAVE)
    assert save.liberties("E4") == 1
    save.play("D4")
    assert save.liberties("E4") > 3
    save = Board.from_ascii(SAVE, to_move=WHITE)
    save.play("D4")
    assert save.color_at("E3") == 0  # White captures

    # the ladder, played out: after every black move the chain is in atari, after every white move it has two
    # liberties, and at the end the chain can neither extend (suicide) nor survive Black's capture
    b = Board.from_ascii(LADDER)
    assert b.liberties("D4") == 2
    for i, move in enumerate(LADDER_LINE):
        b.play(move)
        assert b.liberties("D4") == (1 if i % 2 == 0 else 2), (move, str(b))
    assert b.illegal_reason("A1") == "suicide"
    b.play("pass")
    b.play("A1")
    assert b.color_at("D4") == 0 and b.captures[BLACK] == 6
    # without the atari, White connects at E4 and is out
    b = Board.from_ascii(LADDER, to_move=WHITE)
    b.play("E4")
    assert b.liberties("D4") > 3

    # with the breaker, the same ladder fails at the fourth move: the chain reaches B3 and has three liberties
    b = Board.from_ascii(LADDER_BROKEN)
    for move in LADDER_LINE[:4]:
        b.play(move)
    assert b.liberties("D4") == 3


def test_search_captures_the_big_group_in_atari():
    b = Board.from_ascii(RACE, komi=7.5)
    m = S.MCTS(7, 7.5, seed=3, max_nodes=100_000)
    moves = m.search(b, 4000)
    best = moves[0]
    assert best.move == "G4", summary(moves)
    assert best.winrate > 0.9
    others = [mv.winrate for mv in moves[1:] if mv.visits >= 20]
    assert all(w < best.winrate - 0.3 for w in others), summary(moves)
    assert best.pv[0] == "G4"


def test_search_saves_the_group_in_atari():
    b = Board.from_ascii(SAVE, komi=0.5)
    m = S.MCTS(7, 0.5, seed=4, max_nodes=100_000)
    moves = m.search(b, 4000)
    best = moves[0]
    assert best.move == "D4", summary(moves)
    assert best.winrate > 0.9
    assert all(mv.winrate < 0.5 for mv in moves[1:] if mv.visits >= 10), summary(moves)


def ladder_search(text: str) -> list[S.MoveStats]:
    m = S.MCTS(7, LADDER_KOMI, seed=1, max_nodes=200_000)
    return m.search(Board.from_ascii(text, komi=LADDER_KOMI), 20_000)


def test_search_plays_the_ladder():
    moves = ladder_search(LADDER)
    best = moves[0]
    assert best.move == "E4", summary(moves)
    assert best.winrate > 0.85
    assert best.visits > 0.8 * 20_000
    assert all(mv.winrate < best.winrate - 0.3 for mv in moves[1:] if mv.visits >= 20), summary(moves)


def test_search_values_the_broken_ladder_lower():
    # E4 still has to be played (it also stops the connection), but the search values it lower than when it captures
    working = by_move(ladder_search(LADDER))["E4"]
    broken_moves = ladder_search(LADDER_BROKEN)
    broken = by_move(broken_moves)["E4"]
    assert broken.winrate < working.winrate - 0.05, (summary(broken_moves), working)


# --- reproducibility and threads -------------------------------------------------------------------------------------


def _zero_search(seed: int, evaluator_seed: int = 1) -> tuple[list[S.MoveStats], np.ndarray]:
    b = Board(5, 0.5)
    b.play("C3")
    m = S.MCTS(5, 0.5, S.SearchConfig.zero(), evaluator=S.PlayoutEvaluator(2, seed=evaluator_seed), seed=seed)
    moves = m.search(b, 200)
    return moves, m.visit_distribution()


def test_a_seed_reproduces_an_evaluator_search_with_noise():
    a, da = _zero_search(seed=11)
    b, db = _zero_search(seed=11)
    assert a == b  # moves, visits, Q, priors (noise included) and principal variations
    np.testing.assert_array_equal(da, db)
    c, dc = _zero_search(seed=12)
    assert [m.prior for m in c] != [m.prior for m in a]  # other noise
    assert not np.array_equal(dc, da)


def test_a_seed_reproduces_root_statistics():
    b = Board(5, 0.5)
    runs = []
    for _ in range(2):
        m = S.MCTS(5, 0.5, seed=21, max_nodes=20_000)
        moves = m.search(b, 500)
        runs.append((moves, m.ownership(), m.score_mean(), m.rollouts))
    assert runs[0][0] == runs[1][0]
    np.testing.assert_array_equal(runs[0][1], runs[1][1])
    assert runs[0][2] == runs[1][2] and runs[0][3] == runs[1][3] == 500
    other = S.MCTS(5, 0.5, seed=22, max_nodes=20_000).search(b, 500)
    assert [(m.move, m.visits) for m in other] != [(m.move, m.visits) for m in runs[0][0]]


def test_two_threads_find_the_capture_and_keep_the_tree_consistent():
    b = Board.from_ascii(RACE, komi=7.5)
    m = S.MCTS(7, 7.5, threads=2, seed=5, max_nodes=100_000)
    try:
        moves = m.search(b, 1000)
        assert moves[0].move == "G4", summary(moves)
        assert moves[0].winrate > 0.9
        assert m.root_visits == 1000 == sum(mv.visits for mv in moves)
        check_tree(m)
    finally:
        m.close()


def test_two_threads_save_the_group_and_keep_the_tree_consistent():
    b = Board.from_ascii(SAVE, komi=0.5)
    m = S.MCTS(7, 0.5, threads=2, seed=5, max_nodes=100_000)
    try:
        moves = m.search(b, 3000)
        assert moves[0].move == "D4", summary(moves)
        assert moves[0].winrate > 0.9
        assert m.root_visits == 3000 == sum(mv.visits for mv in moves)
        assert m.rollouts == 3000
        check_tree(m)
        # more simulations on the same root add up
        assert m.run(b, 500) == 500
        assert m.root_visits == 3500
        check_tree(m)
        # reuse after a move
        b.play("D4")
        assert m.advance(b)
        kept = m.root_visits
        assert kept > 0
        m.search(b, 400)
        assert m.root_visits == kept + 400
        check_tree(m)
    finally:
        m.close()
    m.close()  # twice is harmless


def test_two_threads_on_an_open_board():
    b = Board(7, 7.5)
    b.play("D4")
    m = S.MCTS(7, 7.5, threads=2, seed=2, max_nodes=100_000)
    try:
        moves = m.search(b, 2000)
        assert m.root_visits == 2000 == sum(mv.visits for mv in moves)
        assert int(m.tree.meta[M.T_NODES]) > 500
        check_tree(m)
        assert m.rollouts == 2000 and m.ownership().shape == (7, 7)
    finally:
        m.close()


def test_single_thread_tree_is_consistent():
    b = Board.from_ascii(SAVE, komi=0.5)
    m = S.MCTS(7, 0.5, seed=6, max_nodes=100_000)
    m.search(b, 1500)
    check_tree(m)


def test_bad_arguments_raise():
    with pytest.raises(ValueError):
        S.MCTS(5, threads=0)
    m = S.MCTS(5, seed=1)
    with pytest.raises(ValueError):
        m.search(Board(5), -1)
    with pytest.raises(RuntimeError):
        m.choose_move()
    with pytest.raises(RuntimeError):
        m.best_move()
    assert m.root_moves() == []
    assert m.search(Board(5), 0)  # zero simulations: the root's moves, unvisited
    assert m.root_visits == 0


def test_lower_confidence_bound():
    m = S.MoveStats("C3", visits=100, q=0.5, prior=0.1, pv=("C3",))
    assert m.winrate == 0.75
    assert 0.0 < m.lcb() < m.winrate
    assert m.lcb(z=3.0) < m.lcb()
    assert S.MoveStats("C3", 10_000, 0.5, 0.1, ("C3",)).lcb() > m.lcb()  # more visits, tighter bound
    assert S.MoveStats("C3", 0, 0.0, 0.1, ()).lcb() == 0.0
    assert S.MoveStats("C3", 5, -1.0, 0.1, ("C3",)).lcb() == 0.0


# --- choosing a move -------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def spread_search() -> S.MCTS:
    """A 5x5 opening searched with a high c_puct, so that visits are spread over many moves."""
    m = S.MCTS(5, 0.5, S.SearchConfig(c_puct=20.0), seed=13, max_nodes=20_000)
    m.search(Board(5, 0.5), 600)
    return m


def test_temperature_zero_plays_the_most_visited(spread_search):
    m = spread_search
    moves = m.root_moves()
    assert moves == sorted(moves, key=lambda mv: -mv.visits)
    assert all(m.choose_move(0) == moves[0].move for _ in range(5))
    assert m.best_move() == moves[0].move


def test_temperature_one_draws_in_proportion_to_visits(spread_search):
    m = spread_search
    moves = m.root_moves()
    visits = np.array([mv.visits for mv in moves], float)
    p = visits / visits.sum()
    assert (p > 0.02).sum() >= 5  # a spread worth testing
    draws = 2000
    index = {mv.move: i for i, mv in enumerate(moves)}
    counts = np.zeros(len(moves))
    for _ in range(draws):
        counts[index[m.choose_move(1.0)]] += 1
    assert counts[visits == 0].sum() == 0
    freq = counts / draws
    np.testing.assert_allclose(freq, p, atol=0.035)
    # chi-square over the moves expected at least 5 times (the rest pooled)
    expected = p * draws
    big = expected >= 5
    obs = np.append(counts[big], counts[~big].sum())
    exp = np.append(expected[big], expected[~big].sum())
    keep = exp > 0
    chi2 = (((obs - exp) ** 2)[keep] / exp[keep]).sum()
    dof = keep.sum() - 1
    assert chi2 < dof + 6 * np.sqrt(2 * dof), (chi2, dof)


def test_lower_temperature_is_sharper(spread_search):
    m = spread_search
    moves = m.root_moves()
    top = moves[0].move
    draws = 1500
    hot = sum(m.choose_move(1.0) == top for _ in range(draws)) / draws
    warm = sum(m.choose_move(0.5) == top for _ in range(draws)) / draws
    visits = np.array([mv.visits for mv in moves], float)
    assert hot == pytest.approx(visits[0] / visits.sum(), abs=0.04)
    assert warm == pytest.approx(visits[0] ** 2 / (visits**2).sum(), abs=0.04)
    assert warm > hot + 0.03


def test_visit_distribution(spread_search):
    m = spread_search
    d = m.visit_distribution()
    assert d.shape == (26,)
    assert d.sum() == pytest.approx(1.0)
    assert (d >= 0).all()
    for mv in m.root_moves():
        assert d[flat(mv.move, 5)] == pytest.approx(mv.visits / m.root_visits)
    # before a search: all zeros
    assert not S.MCTS(5).visit_distribution().any()


# --- ownership and score ---------------------------------------------------------------------------------------------

BLACK_AHEAD = """
    . X . O .
    X X X O O
    . X X O .
    X X X O O
    . X . O .
"""


def test_ownership_and_score_follow_the_position():
    b = Board.from_ascii(BLACK_AHEAD, komi=0.5)
    m = S.MCTS(5, 0.5, seed=8, max_nodes=20_000)
    assert m.ownership() is None and m.score_mean() is None and m.rollouts == 0
    m.set_root(b)
    assert m.ownership() is None and m.score_mean() is None
    m.search(b, 1000)
    own = m.ownership()
    assert own.shape == (5, 5)
    assert np.all(np.abs(own) <= 1.0)
    stones = b.stones()
    assert (own[stones == BLACK] > 0.5).all()
    assert (own[stones == WHITE] < -0.5).all()
    assert own[:, :3].mean() > 0.7  # Black's side
    assert m.score_mean() > 0
    assert m.rollouts == 1000
    # a colour-swapped position gives the opposite picture
    swapped = BLACK_AHEAD.replace("X", "x").replace("O", "X").replace("x", "O")
    b2 = Board.from_ascii(swapped, komi=0.5)
    m2 = S.MCTS(5, 0.5, seed=8, max_nodes=20_000)
    m2.search(b2, 1000)
    assert m2.score_mean() < 0 and m2.ownership()[:, :3].mean() < -0.7


# --- tree reuse ------------------------------------------------------------------------------------------------------


def test_advance_keeps_the_subtree_of_both_moves():
    b = Board(5, 0.5)
    m = S.MCTS(5, 0.5, seed=9, max_nodes=50_000)
    moves = m.search(b, 3000)
    best = moves[0]
    board = b.copy()
    board.play(best.move)
    assert m.advance(board)
    # the child's visits, less the simulation that expanded it
    assert m.root_visits == best.visits - 1
    assert m.ownership() is None and m.rollouts == 0  # root statistics start again
    reply = m.root_moves()[0]
    assert reply.visits > 0
    board.play(reply.move)
    assert m.advance(board)
    assert m.root_visits == reply.visits - 1 > 0
    kept = m.root_visits
    m.search(board, 200)  # set_root finds the same position and keeps the tree
    assert m.root_visits == kept + 200
    check_tree(m)


def test_advance_without_a_subtree_starts_afresh():
    # expansion after 40 visits: most root moves have no subtree to keep
    b = Board(5, 0.5)
    m = S.MCTS(5, 0.5, S.SearchConfig(n_thr=40), seed=9, max_nodes=50_000)
    moves = m.search(b, 600)
    assert moves[0].visits >= 40 > moves[-1].visits
    board = b.copy()
    board.play(moves[-1].move if moves[-1].move != "pass" else moves[-2].move)
    assert not m.advance(board)
    assert m.root_visits == 0 and m.root_moves() == []
    m.search(board, 50)
    assert m.root_visits == 50
    # a move visited once (expanded at once, never visited below) is kept with no visits
    m = S.MCTS(5, 0.5, seed=9, max_nodes=50_000)
    once = [mv for mv in m.search(b, 300) if mv.visits == 1 and mv.move != "pass"][0]
    board = b.copy()
    board.play(once.move)
    assert m.advance(board)
    assert m.root_visits == 0 and m.root_moves()
    # nothing to advance to: no search yet, or a board without moves
    assert not S.MCTS(5).advance(board)
    assert not m.advance(Board(5))


def test_advance_keeps_value_statistics_in_zero_mode():
    b = Board(5, 0.5)
    m = S.MCTS(5, 0.5, S.SearchConfig.zero(dirichlet_weight=0.0), evaluator=FakeEvaluator(value=0.2), seed=1)
    moves = m.search(b, 300)
    best = moves[0]
    b.play(best.move)
    assert m.advance(b)
    kept = m.root_visits
    assert 0 < kept <= best.visits - 1
    t = m.tree
    edges = int(t.meta[M.T_EDGES])
    np.testing.assert_array_equal(t.nv[:edges], t.n[:edges])
    m.search(b, 100)
    assert m.root_visits == kept + 100
    check_tree(m, exact_expansion=False)


@pytest.mark.parametrize("threads", [1, 2])
def test_rollouts_can_follow_the_pattern_rollout_policy(threads):
    from igo.engine.patterns import SAVE_ATARI, num_features

    weights = np.zeros(num_features(False), np.float32)
    weights[SAVE_ATARI] = 3.0  # the policy likes saving chains in atari: the race is still won by capturing first
    b = Board.from_ascii(RACE, komi=7.5)
    m = S.MCTS(7, 7.5, seed=3, max_nodes=100_000, threads=threads, rollout_policy=weights)
    moves = m.search(b, 1500)
    m.close()
    assert moves[0].move == "G4", summary(moves)
    assert m.rollouts == 1500
    check_tree(m, exact_expansion=False)


# --- the rollout pipeline on several threads (issue 17 item 4) -------------------------------------------------------


def _walked_nodes(m: S.MCTS) -> int:
    """The nodes reachable from the root (every node of a tree at rest without superko or tree reuse)."""
    t = m.tree
    stack, walked = [int(t.meta[M.T_ROOT])], 0
    while stack:
        node = stack.pop()
        walked += 1
        f, c = int(t.node_first[node]), int(t.node_nedges[node])
        stack += [int(x) for x in t.child[f : f + c] if x >= 0]
    return walked


def test_selection_of_the_next_batch_overlaps_the_rollouts():
    """While the worker plays out batch k (slowed down here), the calling thread selects batch k + 1."""
    import threading
    import time

    b = Board(7, 7.5)
    m = S.MCTS(7, 7.5, threads=2, batch_size=8, seed=3, max_nodes=10_000)
    real_rollouts, real_select = m._rollout_range, m._select
    busy = threading.Event()
    playing = [None]  # the batch the worker plays out
    overlapped = []

    def slow_rollouts(slots, lo, hi, k):
        if k == 1:
            playing[0] = slots
            busy.set()
            time.sleep(0.05)  # sleep releases the GIL
        real_rollouts(slots, lo, hi, k)
        if k == 1:
            busy.clear()

    def select(slots, board, count):
        # a sequential search never has the worker busy here: the wait then times out
        overlapped.append(bool(overlapped) and busy.wait(5.0) and playing[0] is not slots)
        real_select(slots, board, count)

    m._rollout_range, m._select = slow_rollouts, select
    try:
        assert m.search(b, 64) and m.root_visits == 64
    finally:
        m.close()
    assert overlapped == [False] + [True] * 7  # every batch but the first selected during the rollouts of another
    check_tree(m)
    assert _walked_nodes(m) == int(m.tree.meta[M.T_NODES])


@pytest.mark.parametrize("where", ["worker", "select", "caller"])
def test_an_error_in_the_pipeline_takes_both_batches_back(where):
    """A rollout failing on a worker, Ctrl-C just after a selection (two batches in flight) or in the calling
    thread's own rollouts: the search raises, the batches not backed up are taken back whole (virtual loss and the
    nodes they expanded), and the tree searches on."""
    import time

    b = Board(7, 7.5)
    b.play("D4")
    m = S.MCTS(7, 7.5, threads=2, batch_size=8, seed=4, max_nodes=10_000)
    real_rollouts, real_select = m._rollout_range, m._select
    calls = {"worker": 0, "select": 0, "caller": 0}

    def rollouts(slots, lo, hi, k):
        who = "worker" if k == 1 else "caller"
        calls[who] += 1
        if who == "worker" and where == "caller":
            time.sleep(0.005)  # leave chunks to the calling thread
        if where == who and calls[who] == 6:
            raise KeyboardInterrupt if who == "caller" else RuntimeError("rollout failed")
        real_rollouts(slots, lo, hi, k)

    def select(slots, board, count):
        real_select(slots, board, count)
        calls["select"] += 1
        if where == "select" and calls["select"] == 4:
            raise KeyboardInterrupt

    m._rollout_range, m._select = rollouts, select
    m.search(b, 0)
    error = RuntimeError if where == "worker" else KeyboardInterrupt
    for _ in range(20):  # the calling thread takes a chunk whenever the worker has not taken them all first
        try:
            m.run(b, 64)
        except error:
            break
    else:
        pytest.fail(f"no {where} error in 20 searches")
    try:
        visits = m.root_visits
        assert visits % 8 == 0  # whole batches only
        check_tree(m)
        assert _walked_nodes(m) == int(m.tree.meta[M.T_NODES])  # no node of a batch taken back is left
        m._rollout_range, m._select = real_rollouts, real_select
        assert m.run(b, 40) == 40 and m.root_visits == visits + 40
        check_tree(m)
        assert _walked_nodes(m) == int(m.tree.meta[M.T_NODES])
    finally:
        m.close()


# --- the expansion threshold -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("threads", [1, 2])
def test_expansion_threshold_expands_a_leaf_after_n_thr_visits(threads):
    b = Board(7, 7.5)
    n_thr, sims = 6, 1200
    m = S.MCTS(7, 7.5, S.SearchConfig(n_thr=n_thr), threads=threads, seed=5, max_nodes=10_000)
    try:
        m.search(b, sims)
    finally:
        m.close()
    t = m.tree
    nodes, edges = int(t.meta[M.T_NODES]), int(t.meta[M.T_EDGES])
    # each expansion took n_thr simulations that ended at its edge: far fewer nodes than with n_thr = 1
    assert 1 + sims // (4 * n_thr) < nodes <= 1 + sims // n_thr
    expanded = t.child[:edges] >= 0
    assert (t.n[:edges][expanded] >= n_thr).all()
    if threads == 1:  # without simulations in flight, exactly on the n_thr-th visit
        assert (t.n[:edges][~expanded] < n_thr).all()
    check_tree(m, exact_expansion=False)
    assert m.root_visits == sims == m.rollouts
