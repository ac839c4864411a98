"""Zero self-play: batched searches across games, training records, resignation accounting, the actor wrapper."""

from __future__ import annotations

import numpy as np
import pytest

from igo.engine import board_kernels as K
from igo.engine.board import Board
from igo.engine.features import FeatureEncoder
from igo.engine.planes import unpack_planes
from igo.engine.search import MCTS, SearchConfig
from igo.engine.sgf import load_sgf, replay
from igo.selfplay.selfplay import SelfPlay, SelfPlayConfig, concat_batches


class StubEvaluator:
    """Deterministic priors (uniform over legal moves, pass down-weighted) and a value chosen per colour."""

    history_length = 8

    def __init__(self, black_value: float = 0.0, white_value: float = 0.0):
        self.black_value = black_value
        self.white_value = white_value
        self.calls = 0
        self.sizes: list[int] = []

    def evaluate(self, batch):
        self.calls += 1
        self.sizes.append(batch.count)
        priors = batch.legal.astype(np.float32)
        priors[:, -1] *= 0.1
        values = np.where(batch.to_move == K.BLACK, self.black_value, self.white_value).astype(np.float32)
        return priors, values


class HashEvaluator(StubEvaluator):
    """Priors and values that depend on the position (a hash of the stones), so trees differ by position."""

    def evaluate(self, batch):
        priors, _ = super().evaluate(batch)
        h = batch.history[:, 0].reshape(batch.count, -1).astype(np.int64)
        weights = (np.arange(h.shape[1]) * 7919 + 13) % 101
        key = (h * weights).sum(axis=1)
        rng_vals = np.sin(key * 0.37)
        priors = priors * (1.0 + 0.5 * np.cos(np.arange(priors.shape[1])[None, :] + key[:, None]))
        return priors.astype(np.float32), (0.8 * rng_vals).astype(np.float32)


def test_begin_end_batch_matches_run():
    ev = HashEvaluator()
    board = Board(5, komi=0.5)
    for m in ("C3", "B2", "D4"):
        board.play(m)
    cfg = SearchConfig.zero(dirichlet_weight=0.0)
    a = MCTS(5, 0.5, cfg, evaluator=ev, batch_size=4, seed=1)
    a.search(board, 64)
    b = MCTS(5, 0.5, cfg, evaluator=ev, batch_size=4, seed=1)
    b.set_root(board)
    while b.root_visits < a.root_visits:
        batch = b.begin_batch(board, 4)
        p, v = ev.evaluate(batch)
        b.end_batch(p, v)
    assert [(m.move, m.visits) for m in a.root_moves()] == [(m.move, m.visits) for m in b.root_moves()]
    assert np.allclose([m.q for m in a.root_moves()], [m.q for m in b.root_moves()])


def test_begin_batch_errors():
    ev = StubEvaluator()
    board = Board(5)
    s = MCTS(5, 7.5, SearchConfig.zero(), evaluator=ev)
    with pytest.raises(RuntimeError):
        s.begin_batch(board, 4)
    with pytest.raises(RuntimeError):
        s.end_batch(np.zeros((1, 26)), np.zeros(1))
    with pytest.raises(ValueError):
        MCTS(5, 7.5, SearchConfig(lam=0.5), evaluator=ev).begin_batch(board, 4)
    with pytest.raises(ValueError):
        MCTS(5, 7.5, SearchConfig.zero()).begin_batch(board, 4)
    s.set_root(board)
    batch = s.begin_batch(board, 4)
    with pytest.raises(ValueError):
        s.end_batch(np.zeros((batch.count + 1, 26)), np.zeros(batch.count + 1))


def test_concat_batches_rows():
    ev = HashEvaluator()
    boards = [Board(5), Board(5)]
    boards[1].play("C3")
    searches = [MCTS(5, 7.5, SearchConfig.zero(dirichlet_weight=0.0), evaluator=ev, seed=k) for k in range(2)]
    batches = []
    for s, b in zip(searches, boards, strict=True):
        s.set_root(b)
        batches.append(s.begin_batch(b, 3))
    big = concat_batches(batches)
    assert big.count == sum(b.count for b in batches)
    lo = 0
    for b in batches:
        assert np.array_equal(big.history[lo : lo + b.count], b.history[: b.count])
        assert np.array_equal(big.legal[lo : lo + b.count], b.legal[: b.count])
        assert np.array_equal(big.states.stones[lo : lo + b.count], b.states.stones[: b.count])
        lo += b.count
    p_big, v_big = ev.evaluate(big)
    lo = 0
    for b in batches:
        p, v = ev.evaluate(b)
        assert np.allclose(p_big[lo : lo + b.count], p) and np.allclose(v_big[lo : lo + b.count], v)
        lo += b.count


def _check_game(game: dict, size: int, komi: float) -> None:
    meta = game["meta"]
    n2 = size * size
    policy, value, planes = game["policy"], game["value"], game["planes"]
    p = meta["positions"]
    assert policy.shape == (p, n2 + 1) and value.shape == (p,) and planes.shape[0] == p
    assert np.allclose(policy.sum(axis=1), 1.0, atol=1e-5) and (policy >= 0).all()
    record = load_sgf(game["sgf"])
    assert record.result == meta["result"] and record.size == size and record.komi == komi
    board = replay(record)
    assert board.move_number == meta["moves"]
    if not meta["resigned"]:
        assert board.score() == pytest.approx(meta["score"])
        assert meta["result"] == board.result()
    winner = meta["winner"]
    enc = FeatureEncoder("zero8", size)
    replayed = Board(size, komi=komi)
    for i in range(p):
        color = replayed.to_move
        expect = 0.0 if winner is None else (1.0 if "BW"[color - 1] == winner else -1.0)
        assert value[i] == expect
        assert np.array_equal(unpack_planes(planes[i : i + 1], 17, size)[0], enc.encode_board(replayed))
        if i < len(record.moves):
            c, rc = record.moves[i]
            assert c == color
            # the move played was visited by the search
            flat = n2 if rc is None else rc[0] * size + rc[1]
            assert policy[i, flat] > 0
            replayed.play("pass" if rc is None else rc)


def test_selfplay_records_are_consistent():
    ev = HashEvaluator()
    cfg = SelfPlayConfig(size=5, komi=0.5, simulations=24, parallel_games=3, leaves_per_game=4, resign_threshold=-1.0)
    sp = SelfPlay(ev, cfg, seed=7)
    games = sp.play(games=4)
    assert len(games) >= 4
    for g in games:
        _check_game(g, 5, 0.5)
    # one network call per step for all games in progress: batches of up to 3 games x 4 leaves
    assert max(ev.sizes) <= 12 and max(ev.sizes) > 4
    st = sp.stats
    assert st.games == len(games) and st.positions == sum(g["meta"]["positions"] for g in games)
    assert st.resigned == 0


def test_resignation_and_false_resign_accounting():
    # Black always believes it is lost: it resigns at once where it may
    ev = StubEvaluator(black_value=-0.99, white_value=0.99)
    cfg = SelfPlayConfig(size=5, komi=0.5, simulations=8, parallel_games=4, resign_min_moves=0, no_resign_fraction=0.0)
    games = SelfPlay(ev, cfg, seed=1).play(games=4)
    for g in games:
        assert g["meta"]["resigned"] and g["meta"]["result"] == "W+R" and g["meta"]["positions"] == 1
        assert g["value"].tolist() == [-1.0]
        _check_game(g, 5, 0.5)
    # every game without resignation: Black would have resigned; a false resignation when Black wins after all
    cfg = SelfPlayConfig(size=5, komi=0.5, simulations=8, parallel_games=4, resign_min_moves=0, no_resign_fraction=1.0)
    sp = SelfPlay(ev, cfg, seed=2)
    games = sp.play(games=8)
    assert all(g["meta"]["resign_disabled"] and not g["meta"]["resigned"] for g in games)
    assert all(g["meta"]["would_resign"] == "B" for g in games)
    black_wins = sum(g["meta"]["winner"] == "B" for g in games)
    assert sum(bool(g["meta"]["false_resign"]) for g in games) == black_wins
    assert sp.stats.would_resign == len(games) and sp.stats.false_resign == black_wins
    assert sp.stats.no_resign_games == len(games)


def test_selfplay_config_validation_and_defaults():
    with pytest.raises(ValueError):
        SelfPlayConfig(simulations=0)
    with pytest.raises(ValueError):
        SelfPlayConfig(no_resign_fraction=1.5)
    with pytest.raises(ValueError):
        SelfPlayConfig(size=1)
    with pytest.raises(ValueError):
        SelfPlayConfig.from_dict({"bogus": 1})
    r = SelfPlayConfig(size=19).resolved()
    assert r.temperature_moves == 30 and r.move_limit == 722 and r.resign_min_moves == 90
    assert SelfPlayConfig(size=9).resolved().temperature_moves == 7
    assert SelfPlayConfig.from_dict(SelfPlayConfig(size=7).to_dict()) == SelfPlayConfig(size=7)


def test_worker_plays_and_takes_new_weights():
    import torch

    from igo.nets.config import config_to_dict, get_config
    from igo.nets.models import build_model
    from igo.selfplay.actors import SelfPlayWorker

    torch.manual_seed(0)
    cfg = get_config("zero-tiny")
    model = build_model(cfg, 5)
    weights = {k: v.numpy().copy() for k, v in model.state_dict().items()}
    spc = SelfPlayConfig(size=5, komi=0.5, simulations=8, parallel_games=4, leaves_per_game=4)
    w = SelfPlayWorker(config_to_dict(cfg), spc.to_dict(), weights, 0, seed=3)
    out = w.play(seconds=1.5)
    assert out["version"] == 0 and out["stats"]["simulations"] > 0
    for g in out["games"]:
        _check_game(g, 5, 0.5)
        assert g["meta"]["versions"] == [0]
    old = w.selfplay.evaluator
    new = {k: v + 0.01 if v.dtype == np.float32 else v for k, v in weights.items()}
    out = w.play(new, 5, seconds=0.5)
    assert out["version"] == 5 and w.selfplay.evaluator is not old
    assert all(g.search.evaluator is w.selfplay.evaluator for g in w.selfplay._games)


def test_worker_int8_precision_switches_after_first_games_and_requantizes():
    import torch

    from igo.nets.config import config_to_dict, get_config
    from igo.nets.models import build_model
    from igo.nets.quantize import QuantizedNet
    from igo.selfplay.actors import CALIBRATION_POSITIONS, SelfPlayWorker

    torch.manual_seed(0)
    cfg = get_config("zero-tiny")
    weights = {k: v.numpy().copy() for k, v in build_model(cfg, 5).state_dict().items()}
    spc = SelfPlayConfig(size=5, komi=0.5, simulations=8, parallel_games=4, leaves_per_game=4)
    with pytest.raises(ValueError, match="precision"):
        SelfPlayWorker(config_to_dict(cfg), spc.to_dict(), weights, 0, precision="int4")
    with pytest.raises(ValueError, match="CPU only"):
        SelfPlayWorker(config_to_dict(cfg), spc.to_dict(), weights, 0, device="cuda", precision="int8")
    w = SelfPlayWorker(config_to_dict(cfg), spc.to_dict(), weights, 0, seed=3, precision="int8")
    assert not w.int8  # no positions to calibrate on yet: float
    out = w.play(seconds=1.5)
    while not out["games"]:
        out = w.play(seconds=1.0)
    assert out["int8"] and w.int8 and isinstance(w.selfplay.evaluator.model, QuantizedNet)
    assert 0 < len(w._calibration) <= CALIBRATION_POSITIONS
    out = w.play(seconds=1.0)  # plays on in int8; games stay valid
    for g in out["games"]:
        _check_game(g, 5, 0.5)
    old = w.selfplay.evaluator
    new = {k: v + 0.01 if v.dtype == np.float32 else v for k, v in weights.items()}
    out = w.play(new, 2, seconds=0.3)  # a new network is quantized again
    assert out["version"] == 2 and out["int8"] and w.selfplay.evaluator is not old
    assert isinstance(w.selfplay.evaluator.model, QuantizedNet)
