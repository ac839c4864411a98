"""Tests of engine/search.py with an evaluator: the :class:`~igo.engine.search.Evaluator` protocol (leaf batches,
their history, legal moves and board states; priors and values and the side they count for; λ mixing with rollouts;
bad output), :class:`~igo.engine.search.PlayoutEvaluator`, and Zero mode (Dirichlet noise at the root)."""

from __future__ import annotations

import numpy as np
import pytest

from igo.engine import board_kernels as K
from igo.engine import mcts as M
from igo.engine import search as S
from igo.engine.board import BLACK, WHITE, Board
from igo.engine.coords import padded_to_gtp

from .search_helpers import FakeEvaluator, by_move, flat, root_edges, summary

# --- the evaluator protocol ------------------------------------------------------------------------------------------


def test_leaf_batches_carry_the_history_of_each_leaf():
    b = Board(5, 0.5)
    for move in ("C3", "D3", "C2"):
        b.play(move)
    ev = FakeEvaluator(history_length=3)
    m = S.MCTS(5, 0.5, S.SearchConfig(lam=0.0), evaluator=ev, batch_size=8, seed=1)
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
    m = S.MCTS(5, 0.5, S.SearchConfig(lam=0.0), evaluator=ev, seed=1)
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
    m = S.MCTS(4, 0.5, S.SearchConfig(lam=0.0), evaluator=ev, seed=1)
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
    S.MCTS(5, 0.5, S.SearchConfig(lam=0.0), evaluator=ev, seed=1).search(b, 16)
    for recorded, room in ev.states:
        assert (recorded <= room).all(), (recorded, room)


def test_evaluator_priors_become_the_root_priors():
    b = Board(5, 0.5)
    b.play("C3")
    # weights on two points, pass, and an occupied point (masked): renormalised over the legal ones
    ev = FakeEvaluator(priors={"B2": 2.0, "D4": 2.0, "pass": 1.0, "C3": 50.0})
    m = S.MCTS(5, 0.5, S.SearchConfig(lam=0.0), evaluator=ev, seed=1)
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
    m = S.MCTS(5, 0.5, S.SearchConfig(lam=0.0), evaluator=ev, seed=1)
    moves = m.search(b, 200)
    assert moves[0].move == "B4" and moves[0].prior == pytest.approx(1.0)
    assert moves[0].visits >= 190, summary(moves)


@pytest.mark.parametrize("value", [1.0, -1.0])
def test_leaf_values_count_for_the_player_to_move_at_the_leaf(value):
    # one batch of 8 leaves, each one move below the root: "the player to move at the leaf (the opponent) wins"
    # is a loss for the root's player, and the other way round
    b = Board(5, 0.5)
    b.play("C3")
    m = S.MCTS(5, 0.5, S.SearchConfig(lam=0.0), evaluator=FakeEvaluator(value=value), batch_size=8, seed=1)
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
    m = S.MCTS(5, 0.5, S.SearchConfig(lam=0.0), evaluator=BlackWins(black_value), seed=1)
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
    m = S.MCTS(5, 0.5, S.SearchConfig(lam=0.5), evaluator=FakeEvaluator(value=0.5), seed=1)
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
    m = S.MCTS(5, 0.5, S.SearchConfig(lam=0.5), evaluator=BlackWins(black_value), threads=threads, seed=1)
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
    m = S.MCTS(5, 0.5, S.SearchConfig(lam=0.0), evaluator=BadEvaluator(kind, leaves_only), seed=1)
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
    S.MCTS(5, 0.5, S.SearchConfig.zero(dirichlet_weight=0.0), evaluator=ev, seed=1).search(b, 40)
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


# --- Zero mode -------------------------------------------------------------------------------------------------------


def test_zero_mode_noise_changes_the_root_priors():
    b = Board(5, 7.5)
    b.play("C3")
    plain = S.MCTS(5, 7.5, S.SearchConfig.zero(dirichlet_weight=0.0), evaluator=S.PlayoutEvaluator(2, seed=1), seed=3)
    noisy = S.MCTS(5, 7.5, S.SearchConfig.zero(), evaluator=S.PlayoutEvaluator(2, seed=1), seed=3)
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
    # searching keeps the noisy priors (the tree is kept; set_root keeps the root's noise) and runs no rollouts
    moves = noisy.search(b, 64)
    assert sum(mv.visits for mv in moves) == noisy.root_visits == 64
    assert noisy.rollouts == 0


def test_dirichlet_noise_has_the_expected_mean_and_variance():
    size, eps = 5, 0.25
    config = S.SearchConfig.zero()
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
    flat_config = S.SearchConfig.zero(dirichlet_alpha=10.0)
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
    m = S.MCTS(2, 0.5, S.SearchConfig.zero(), evaluator=FakeEvaluator(), seed=1)
    m.set_root(b)
    assert [(mv.move, mv.prior) for mv in m.root_moves()] == [("pass", 1.0)]
    m.add_noise()
    assert [(mv.move, mv.prior) for mv in m.root_moves()] == [("pass", 1.0)]
