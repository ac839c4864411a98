"""Tests of engine/search.py: golden searches on small boards, reproducibility, threads, the evaluator protocol, Zero
mode (Dirichlet noise), move choice with temperature, root statistics and tree reuse.

The kernels themselves are covered by tests/test_mcts.py; everything here goes through :class:`igo.engine.search.MCTS`.
Golden positions are checked for what they claim (the capture, the ladder, its breaker) before the search is run.
"""

from __future__ import annotations

import numpy as np
import pytest

from igo.engine import board_kernels as K
from igo.engine import mcts as M
from igo.engine import search as S
from igo.engine.board import BLACK, WHITE, Board
from igo.engine.coords import gtp_to_rc, padded_to_gtp

# --- helpers ---------------------------------------------------------------------------------------------------------


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
            assert int(t.node_parent[child]) == e


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
    m = S.MCTS(5, 0.5, M.SearchConfig.zero(), evaluator=S.PlayoutEvaluator(2, seed=evaluator_seed), seed=seed)
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


# --- the evaluator protocol ------------------------------------------------------------------------------------------


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


def test_leaf_batches_carry_the_history_of_each_leaf():
    b = Board(5, 0.5)
    for move in ("C3", "D3", "C2"):
        b.play(move)
    ev = FakeEvaluator(history_length=3)
    m = S.MCTS(5, 0.5, M.SearchConfig(lam=0.0), evaluator=ev, batch_size=8, seed=1)
    m.search(b, 40)
    assert ev.positions == 1 + 40  # the root, then one leaf per simulation
    assert ev.calls == 1 + 5  # batches of 8
    want = b.history(3)
    root = ev.batches[0]
    assert root["count"] == 1
    assert root["history"].shape == (1, 3, 5, 5) and root["history"].dtype == np.int8
    np.testing.assert_array_equal(root["history"][0], want)
    assert root["to_move"][0] == WHITE
    np.testing.assert_array_equal(root["legal"][0], b.legal_mask())

    # the first batch of leaves: one move below the root each (virtual loss spreads them over 8 root moves)
    first = ev.batches[1]
    hist = first["history"]
    assert hist.shape == (8, 3, 5, 5)
    for i in range(first["count"]):
        np.testing.assert_array_equal(hist[i, 1], want[0])  # the position before the leaf's move: the root
        np.testing.assert_array_equal(hist[i, 2], want[1])  # and the one before that, from the game
        stones = first["stones"][i].reshape(7, 7)[1:-1, 1:-1]
        np.testing.assert_array_equal(hist[i, 0], stones)  # the leaf itself
        added = np.argwhere(hist[i, 0] != want[0])
        assert len(added) <= 1 and all(hist[i, 0][tuple(p)] == WHITE for p in added)  # one white move (or a pass)
        assert first["to_move"][i] == BLACK
    assert len({hist[i, 0].tobytes() for i in range(8)}) == 8
    # deeper leaves: row k is always k moves before row 0, so consecutive rows differ by at most one new stone
    # (captures aside, which this opening has none of)
    for batch in ev.batches[1:]:
        h = batch["history"]
        for i in range(batch["count"]):
            for k in range(2):
                assert np.count_nonzero(h[i, k] != h[i, k + 1]) <= 1


def test_history_length_one_is_the_leaf_only():
    ev = FakeEvaluator()
    del ev.history_length  # the attribute is optional
    m = S.MCTS(5, 0.5, M.SearchConfig(lam=0.0), evaluator=ev, seed=1)
    m.search(Board(5, 0.5), 16)
    for batch in ev.batches:
        assert batch["history"].shape == (batch["count"], 1, 5, 5)
        for i in range(batch["count"]):
            np.testing.assert_array_equal(batch["history"][i, 0], batch["stones"][i].reshape(7, 7)[1:-1, 1:-1])


def test_legal_moves_of_the_root_batch_follow_the_ko():
    # Black's C3 captures White's B3 and leaves a ko: White may not take back at B3 at once
    b = Board.from_ascii(
        """
        . X O .
        X O . O
        . X O .
        . . . .
        """,
        komi=0.5,
    )
    b.play("C3")
    assert b.ko_point == "B3"
    ev = FakeEvaluator()
    m = S.MCTS(4, 0.5, M.SearchConfig(lam=0.0), evaluator=ev, seed=1)
    moves = m.search(b, 24)
    root = ev.batches[0]
    np.testing.assert_array_equal(root["legal"][0], b.legal_mask())
    assert not root["legal"][0, flat("B3", 4)] and root["legal"][0, -1]
    assert "B3" not in {mv.move for mv in moves}
    # a leaf's legal moves are its own: never an occupied point, pass always
    for batch in ev.batches[1:]:
        for i in range(batch["count"]):
            occupied = batch["stones"][i].reshape(6, 6)[1:-1, 1:-1].reshape(-1) != 0
            assert batch["legal"][i, -1]
            assert not (batch["legal"][i, :-1] & occupied).any()


class StateRecorder(FakeEvaluator):
    """Keeps the history bookkeeping of the board states handed over: positions recorded, room for them, ko rule."""

    def __init__(self):
        super().__init__()
        self.states = []

    def evaluate(self, batch):
        st = batch.states
        self.states.append((st.meta[: batch.count, K.M_NHIST].copy(), st.hist_hash.shape[1]))
        return super().evaluate(batch)


def test_board_states_given_to_the_evaluator_are_consistent_in_a_long_game():
    rng = np.random.default_rng(1)
    b = Board(5, 0.5)
    while b.move_number < 130:
        legal = b.legal_moves()
        if legal and (b.passes or rng.random() > 0.05):
            b.play(legal[rng.integers(len(legal))])
        else:
            b.play("pass")
    ev = StateRecorder()
    S.MCTS(5, 0.5, M.SearchConfig(lam=0.0), evaluator=ev, seed=1).search(b, 16)
    for recorded, room in ev.states:
        assert (recorded <= room).all(), (recorded, room)


def test_evaluator_priors_become_the_root_priors():
    b = Board(5, 0.5)
    b.play("C3")
    # weights on two points, pass, and an occupied point (masked): renormalised over the legal ones
    ev = FakeEvaluator(priors={"B2": 2.0, "D4": 2.0, "pass": 1.0, "C3": 50.0})
    m = S.MCTS(5, 0.5, M.SearchConfig(lam=0.0), evaluator=ev, seed=1)
    m.set_root(b)
    priors = {mv.move: mv.prior for mv in m.root_moves()}
    assert "C3" not in priors
    assert priors["B2"] == pytest.approx(0.4) and priors["D4"] == pytest.approx(0.4)
    assert priors["pass"] == pytest.approx(0.2)
    assert sum(priors.values()) == pytest.approx(1.0)
    assert all(p == 0 for move, p in priors.items() if move not in ("B2", "D4", "pass"))


def test_all_prior_on_one_move_gets_almost_all_visits():
    b = Board(5, 0.5)
    ev = FakeEvaluator(priors={"B4": 1.0})
    m = S.MCTS(5, 0.5, M.SearchConfig(lam=0.0), evaluator=ev, seed=1)
    moves = m.search(b, 200)
    assert moves[0].move == "B4" and moves[0].prior == pytest.approx(1.0)
    assert moves[0].visits >= 190, summary(moves)


@pytest.mark.parametrize("value", [1.0, -1.0])
def test_leaf_values_count_for_the_player_to_move_at_the_leaf(value):
    # one batch of 8 leaves, each one move below the root: "the player to move at the leaf (the opponent) wins"
    # is a loss for the root's player, and the other way round
    b = Board(5, 0.5)
    b.play("C3")
    m = S.MCTS(5, 0.5, M.SearchConfig(lam=0.0), evaluator=FakeEvaluator(value=value), batch_size=8, seed=1)
    moves = m.search(b, 8)
    visited = [mv for mv in moves if mv.visits > 0]
    assert len(visited) == 8 and all(mv.visits == 1 for mv in visited)
    assert all(mv.q == pytest.approx(-value) for mv in visited)


class BlackWins(FakeEvaluator):
    """Says "Black wins" everywhere, as a value for the player to move at each leaf."""

    def __init__(self, black_value: float):
        super().__init__()
        self.black_value = black_value

    def evaluate(self, batch):
        priors, _ = super().evaluate(batch)
        values = np.where(batch.to_move == BLACK, self.black_value, -self.black_value).astype(np.float32)
        return priors, values


@pytest.mark.parametrize("black_value", [1.0, -1.0])
@pytest.mark.parametrize("root_color", [BLACK, WHITE])
def test_values_are_backed_up_for_the_right_player(black_value, root_color):
    b = Board(5, 0.5)
    b.play("C3")
    b.to_move = root_color
    m = S.MCTS(5, 0.5, M.SearchConfig(lam=0.0), evaluator=BlackWins(black_value), seed=1)
    moves = m.search(b, 200)
    visited = [mv for mv in moves if mv.visits > 0]
    total = sum(mv.visits for mv in visited)
    assert total == 200
    mean_q = sum(mv.q * mv.visits for mv in visited) / total
    want = black_value if root_color == BLACK else -black_value
    assert mean_q == pytest.approx(want, abs=0.05)
    t = m.tree
    edges = int(t.meta[M.T_EDGES])
    assert not t.nr[:edges].any()  # lambda 0: no rollouts
    assert m.ownership() is None and m.score_mean() is None and m.rollouts == 0


def test_lambda_mixes_value_and_rollout_statistics():
    b = Board(5, 0.5)
    m = S.MCTS(5, 0.5, M.SearchConfig(lam=0.5), evaluator=FakeEvaluator(value=0.5), seed=1)
    moves = m.search(b, 120)
    t = m.tree
    edges = int(t.meta[M.T_EDGES])
    np.testing.assert_array_equal(t.nv[:edges], t.n[:edges])
    np.testing.assert_array_equal(t.nr[:edges], t.n[:edges])
    assert m.rollouts == 120
    first, count = root_edges(m)
    stats = by_move(moves)
    for e in range(first, first + count):
        if t.n[e] == 0:
            continue
        move = padded_to_gtp(int(t.move[e]), 5)
        want = 0.5 * t.wv[e] / t.nv[e] + 0.5 * t.wr[e] / t.nr[e]
        assert stats[move].q == pytest.approx(want, abs=1e-5)


@pytest.mark.parametrize("black_value", [1.0, -1.0])
@pytest.mark.parametrize("threads", [1, 2])
def test_values_keep_their_side_when_rollouts_run_beside_the_evaluator(black_value, threads):
    # λ = 0.5: the leaves are played out (on copies, while the evaluator runs) — the value must still be counted for
    # the player to move at the leaf, not at the end of its rollout
    b = Board(5, 0.5)
    b.play("C3")
    m = S.MCTS(5, 0.5, M.SearchConfig(lam=0.5), evaluator=BlackWins(black_value), threads=threads, seed=1)
    m.search(b, 160)
    t = m.tree
    first, count = root_edges(m)
    visited = [e for e in range(first, first + count) if t.nv[e] > 0]
    assert sum(int(t.n[e]) for e in visited) == 160
    for e in visited:  # White (to move at the root) played these edges: "Black wins" is -1 for White
        assert t.wv[e] / t.nv[e] == pytest.approx(-black_value), e
        assert t.nr[e] == t.nv[e]
    assert m.rollouts == 160
    m.close()


class BadEvaluator:
    """Broken output of one ``kind``, for every batch or only for the leaves (the root's batch has one position)."""

    def __init__(self, kind: str, leaves_only: bool):
        self.kind = kind
        self.leaves_only = leaves_only

    def evaluate(self, batch):
        n2 = batch.size * batch.size + 1
        priors = np.ones((batch.count, n2), np.float32)
        values = np.zeros(batch.count, np.float32)
        if self.leaves_only and batch.count == 1:
            return priors, values
        if self.kind == "priors shape":
            priors = priors[:, :-1]
        elif self.kind == "values shape":
            values = np.zeros(batch.count + 1, np.float32)
        elif self.kind == "nan value":
            values[0] = np.nan
        elif self.kind == "nan prior":
            priors[0, 3] = np.nan
        elif self.kind == "negative prior":
            priors[0, 3] = -0.5
        elif self.kind == "inf value":
            values[0] = np.inf
        return priors, values


@pytest.mark.parametrize("leaves_only", [False, True])
@pytest.mark.parametrize(
    "kind", ["priors shape", "values shape", "nan value", "nan prior", "negative prior", "inf value"]
)
def test_bad_evaluator_output_raises(kind, leaves_only):
    m = S.MCTS(5, 0.5, M.SearchConfig(lam=0.0), evaluator=BadEvaluator(kind, leaves_only), seed=1)
    with pytest.raises(ValueError):
        m.search(Board(5, 0.5), 16)


def test_evaluator_protocol_is_runtime_checkable():
    assert isinstance(FakeEvaluator(), S.Evaluator)
    assert isinstance(S.PlayoutEvaluator(1), S.Evaluator)
    with pytest.raises(ValueError):
        S.PlayoutEvaluator(0)


class Recorder:
    """Wraps an evaluator and keeps what it returned, with the player to move of each leaf."""

    def __init__(self, inner):
        self.inner = inner
        self.history_length = getattr(inner, "history_length", 1)
        self.seen: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []

    def evaluate(self, batch):
        priors, values = self.inner.evaluate(batch)
        self.seen.append((batch.to_move.copy(), np.asarray(priors).copy(), np.asarray(values).copy()))
        return priors, values


def test_playout_evaluator_values_are_for_the_player_to_move():
    # Black is far ahead: its playouts say Black wins, so the value is +1 with Black to move and -1 with White to move
    b = Board.from_ascii(
        """
        . X . O .
        X X X O O
        . X X O .
        X X X O O
        . X . O .
        """,
        komi=0.5,
    )
    ev = Recorder(S.PlayoutEvaluator(4, seed=2, komi=0.5))
    S.MCTS(5, 0.5, M.SearchConfig.zero(dirichlet_weight=0.0), evaluator=ev, seed=1).search(b, 40)
    to_move = np.concatenate([t for t, _, _ in ev.seen])
    values = np.concatenate([v for _, _, v in ev.seen])
    assert (to_move == WHITE).any() and (to_move == BLACK).any()
    assert values[0] == 1.0 and to_move[0] == BLACK  # the root
    # below it some moves throw the game away (filling Black's own eyes), but most do not
    assert values[to_move == BLACK].mean() > 0.5
    assert values[to_move == WHITE].mean() < -0.5
    # its priors: the legal moves, pass weighted 0.1
    for _, priors, _ in ev.seen:
        assert ((priors[:, :-1] == 0) | (priors[:, :-1] == 1)).all()
        np.testing.assert_allclose(priors[:, -1], 0.1)


def test_lower_confidence_bound():
    m = S.MoveStats("C3", visits=100, q=0.5, prior=0.1, pv=("C3",))
    assert m.winrate == 0.75
    assert 0.0 < m.lcb() < m.winrate
    assert m.lcb(z=3.0) < m.lcb()
    assert S.MoveStats("C3", 10_000, 0.5, 0.1, ("C3",)).lcb() > m.lcb()  # more visits, tighter bound
    assert S.MoveStats("C3", 0, 0.0, 0.1, ()).lcb() == 0.0
    assert S.MoveStats("C3", 5, -1.0, 0.1, ("C3",)).lcb() == 0.0


# --- Zero mode -------------------------------------------------------------------------------------------------------


def test_zero_mode_noise_changes_the_root_priors():
    b = Board(5, 7.5)
    b.play("C3")
    plain = S.MCTS(5, 7.5, M.SearchConfig.zero(dirichlet_weight=0.0), evaluator=S.PlayoutEvaluator(2, seed=1), seed=3)
    noisy = S.MCTS(5, 7.5, M.SearchConfig.zero(), evaluator=S.PlayoutEvaluator(2, seed=1), seed=3)
    plain.set_root(b)
    noisy.set_root(b)
    p = {mv.move: mv.prior for mv in plain.root_moves()}
    q = {mv.move: mv.prior for mv in noisy.root_moves()}
    assert p.keys() == q.keys() == set(b.legal_moves()) | {"pass"}
    # without noise: the evaluator's priors, uniform with pass weighted 0.1
    assert p["pass"] == pytest.approx(0.1 / 24.1, rel=1e-5)
    assert all(v == pytest.approx(1 / 24.1, rel=1e-5) for k, v in p.items() if k != "pass")
    assert sum(q.values()) == pytest.approx(1.0, abs=1e-5)
    assert min(q.values()) >= 0.0
    diff = np.array([q[k] - p[k] for k in p])
    assert np.abs(diff).max() > 1e-3
    # the noise has weight 0.25: no prior moves by more than that
    assert np.abs(diff).max() <= 0.25 + 1e-6
    # searching keeps the noisy priors (the tree is kept; set_root mixes in fresh noise) and runs no rollouts
    moves = noisy.search(b, 64)
    assert sum(mv.visits for mv in moves) == noisy.root_visits == 64
    assert noisy.rollouts == 0


def test_dirichlet_noise_has_the_expected_mean_and_variance():
    size, eps = 5, 0.25
    config = M.SearchConfig.zero()
    alpha = config.alpha(size)
    assert alpha == pytest.approx(0.03 * 361 / 25)
    assert config.dirichlet_weight == eps
    m = S.MCTS(size, 7.5, config, evaluator=FakeEvaluator(), seed=7)  # uniform priors, pass included
    b = Board(size, 7.5)
    k = size * size + 1
    trials = 1500
    samples = np.empty((trials, k))
    for i in range(trials):
        M.clear(m.tree)  # a fresh root: set_root expands it again and adds fresh noise
        m.set_root(b)
        first, count = root_edges(m)
        assert count == k
        samples[i] = m.tree.prior[first : first + count]
    np.testing.assert_allclose(samples.sum(axis=1), 1.0, atol=1e-5)
    assert samples.min() >= 0.0
    # mean stays uniform
    np.testing.assert_allclose(samples.mean(axis=0), 1 / k, atol=6 * np.sqrt(2e-4 / trials))
    # variance: eps^2 * Var(Dirichlet(alpha)_i) = eps^2 (K-1) / (K^2 (K alpha + 1))
    want = eps**2 * (k - 1) / (k**2 * (k * alpha + 1))
    got = samples.var(axis=0).mean()
    assert got == pytest.approx(want, rel=0.1)
    # a larger alpha spreads the noise less
    flat_config = M.SearchConfig.zero(dirichlet_alpha=10.0)
    m2 = S.MCTS(size, 7.5, flat_config, evaluator=FakeEvaluator(), seed=7)
    vals = []
    for _ in range(300):
        M.clear(m2.tree)
        m2.set_root(b)
        first, count = root_edges(m2)
        vals.append(m2.tree.prior[first : first + count].copy())
    want10 = eps**2 * (k - 1) / (k**2 * (k * 10.0 + 1))
    assert np.var(vals, axis=0).mean() == pytest.approx(want10, rel=0.2)


def test_add_noise_leaves_a_single_move_alone():
    # Black's only point is its own eye, which is suicide: pass is the root's only move
    b = Board.from_ascii(
        """
        . X
        X X
        """
    )
    m = S.MCTS(2, 0.5, M.SearchConfig.zero(), evaluator=FakeEvaluator(), seed=1)
    m.set_root(b)
    assert [(mv.move, mv.prior) for mv in m.root_moves()] == [("pass", 1.0)]
    m.add_noise()
    assert [(mv.move, mv.prior) for mv in m.root_moves()] == [("pass", 1.0)]


# --- choosing a move -------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def spread_search() -> S.MCTS:
    """A 5x5 opening searched with a high c_puct, so that visits are spread over many moves."""
    m = S.MCTS(5, 0.5, M.SearchConfig(c_puct=20.0), seed=13, max_nodes=20_000)
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
    m = S.MCTS(5, 0.5, M.SearchConfig(n_thr=40), seed=9, max_nodes=50_000)
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
    m = S.MCTS(5, 0.5, M.SearchConfig.zero(dirichlet_weight=0.0), evaluator=FakeEvaluator(value=0.2), seed=1)
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
