"""Playout cap randomisation (KataGo) in Zero self-play: full searches (noise, recorded) and fast ones (no noise, not
recorded), games without a recorded position, the config checks and the ``igo train zero`` flags."""

from __future__ import annotations

import numpy as np
import pytest

from igo.engine.board import Board
from igo.engine.features import FeatureEncoder
from igo.engine.planes import unpack_planes
from igo.engine.search import MCTS
from igo.engine.sgf import load_sgf
from igo.selfplay.replay import ReplayBuffer
from igo.selfplay.selfplay import SelfPlay, SelfPlayConfig
from tests.test_selfplay import HashEvaluator

SIMS, FAST = 16, 4


def _config(**kw) -> SelfPlayConfig:
    fields = dict(size=5, komi=0.5, simulations=SIMS, parallel_games=3, leaves_per_game=4, resign_threshold=-1.0)
    return SelfPlayConfig(**(fields | kw))


def _visits(comment: str) -> int:
    return int(comment.split("n=")[1].split()[0])


def _count_noise(monkeypatch) -> list[MCTS]:
    """Every root noised (MCTS.add_noise calls), by search."""
    calls: list[MCTS] = []
    original = MCTS.add_noise

    def counted(self):
        calls.append(self)
        return original(self)

    monkeypatch.setattr(MCTS, "add_noise", counted)
    return calls


def _check_recorded(game: dict, size: int, komi: float) -> list[bool]:
    """The recorded positions are exactly those of the moves without 'fast' in their SGF comment, in order, with
    their planes, a π that visited the move played and z from the mover's view. Returns the moves' fast flags."""
    meta, policy, value, planes = game["meta"], game["policy"], game["value"], game["planes"]
    record = load_sgf(game["sgf"])
    fast = [c is not None and c.endswith(" fast") for c in record.comments]
    p = meta["positions"]
    assert len(fast) == meta["moves"] and p == fast.count(False) == meta["full_moves"]
    assert meta["fast_moves"] == fast.count(True)
    assert policy.shape == (p, size * size + 1) and value.shape == (p,) and planes.shape[0] == p
    enc = FeatureEncoder("zero8", size)
    board = Board(size, komi=komi)
    i = 0
    for (color, rc), is_fast in zip(record.moves, fast, strict=True):
        if not is_fast:
            assert np.array_equal(unpack_planes(planes[i : i + 1], 17, size)[0], enc.encode_board(board))
            flat = size * size if rc is None else rc[0] * size + rc[1]
            assert policy[i, flat] > 0 and policy[i].sum() == pytest.approx(1.0, abs=1e-5)
            winner = meta["winner"]
            assert value[i] == (0.0 if winner is None else (1.0 if "BW"[color - 1] == winner else -1.0))
            i += 1
        board.play("pass" if rc is None else rc)
    assert i == p
    return fast


@pytest.mark.parametrize("tree_reuse", [False, True])
def test_fast_searches_are_played_but_not_recorded(monkeypatch, tree_reuse):
    noised = _count_noise(monkeypatch)
    cfg = _config(fast_simulations=FAST, full_search_fraction=0.3, tree_reuse=tree_reuse)
    sp = SelfPlay(HashEvaluator(), cfg, seed=11)
    games = sp.play(games=6)
    moves = positions = 0
    for g in games:
        fast = _check_recorded(g, 5, 0.5)
        assert g["meta"]["fast_simulations"] == FAST and g["meta"]["simulations"] == SIMS
        comments = load_sgf(g["sgf"]).comments
        if not tree_reuse:  # every search from a fresh root: its visits are exactly its new simulations
            assert all(_visits(c) == (FAST if f else SIMS) for c, f in zip(comments, fast, strict=True))
        else:  # the reused subtree adds to them
            assert all(_visits(c) >= (FAST if f else SIMS) for c, f in zip(comments, fast, strict=True))
        moves += g["meta"]["moves"]
        positions += g["meta"]["positions"]
    st = sp.stats
    assert st.games == len(games) and st.positions == positions < moves
    assert st.full_moves + st.fast_moves == moves and st.full_moves == positions
    assert 0.15 < positions / moves < 0.45  # about full_search_fraction (seeded: a fixed draw)
    # the root of every full search got Dirichlet noise (once), that of no fast one
    searches_begun = st.full_moves + sum(g.full_moves + (not g.fast) for g in sp._games)
    assert len(noised) == searches_begun


def test_full_search_fraction_one_records_every_move(monkeypatch):
    noised = _count_noise(monkeypatch)
    sp = SelfPlay(HashEvaluator(), _config(fast_simulations=FAST, full_search_fraction=1.0), seed=3)
    games = sp.play(games=3)
    for g in games:
        assert not any(_check_recorded(g, 5, 0.5))
        assert g["meta"]["positions"] == g["meta"]["moves"] and g["meta"]["fast_moves"] == 0
    assert sp.stats.fast_moves == 0 and sp.stats.full_moves == sp.stats.positions == sum(
        g["meta"]["moves"] for g in games
    )
    assert len(noised) == sp.stats.full_moves + sum(g.full_moves + 1 for g in sp._games)  # + the searches going on


def test_off_by_default_is_todays_self_play():
    """fast_simulations 0: full_search_fraction is not drawn against (no generator draw), every move recorded."""
    cfg = _config(parallel_games=2)
    assert cfg.fast_simulations == 0
    a = SelfPlay(HashEvaluator(), cfg, seed=5).play(games=2)
    sp = SelfPlay(HashEvaluator(), _config(parallel_games=2, full_search_fraction=0.5), seed=5)
    b = sp.play(games=2)
    assert [load_sgf(g["sgf"]).moves for g in a] == [load_sgf(g["sgf"]).moves for g in b]
    for x, y in zip(a, b, strict=True):
        assert np.array_equal(x["planes"], y["planes"]) and np.array_equal(x["policy"], y["policy"])
        assert x["meta"]["positions"] == x["meta"]["moves"] == x["meta"]["full_moves"]
    assert sp.stats.fast_moves == 0 and sp.stats.full_moves == sp.stats.positions


def test_a_game_without_recorded_positions(monkeypatch, tmp_path):
    noised = _count_noise(monkeypatch)
    sp = SelfPlay(HashEvaluator(), _config(fast_simulations=FAST, full_search_fraction=1e-9), seed=2)
    games = sp.play(games=2)
    assert len(noised) == 0  # fast searches only: no root noise
    width = None
    for g in games:
        assert g["meta"]["positions"] == 0 and g["meta"]["moves"] == g["meta"]["fast_moves"] > 0
        assert g["planes"].dtype == np.uint8 and g["planes"].ndim == 2 and g["planes"].shape[0] == 0
        assert g["policy"].shape == (0, 26) and g["value"].shape == (0,)
        assert all(_check_recorded(g, 5, 0.5))
        width = g["planes"].shape[1]
    st = sp.stats
    assert st.games == len(games) and st.positions == 0 and st.full_moves == 0
    assert st.fast_moves == sum(g["meta"]["moves"] for g in games)
    # the replay buffer takes such games: counted, SGFs written, nothing in the window
    buf = ReplayBuffer(5, 17, 100, directory=tmp_path / "replay", games_dir=tmp_path / "games")
    assert buf.width == width
    out = buf.add(games)
    assert out["games_total"] == len(games) and out["positions_total"] == 0 and len(buf) == 0
    assert len(list((tmp_path / "games").glob("*.sgf"))) == len(games)
    again = ReplayBuffer(5, 17, 100, directory=tmp_path / "replay")  # and reloads its chunk
    assert again.games_total == len(games) and again.positions_total == 0


def test_resignation_is_checked_on_fast_searches():
    from tests.test_selfplay import StubEvaluator

    # Black always believes it is lost and resigns at once: as a fast search, nothing is recorded
    ev = StubEvaluator(black_value=-0.99, white_value=0.99)
    cfg = SelfPlayConfig(size=5, komi=0.5, simulations=8, parallel_games=4, resign_min_moves=0, no_resign_fraction=0.0,
                         fast_simulations=2, full_search_fraction=1e-9)  # fmt: skip
    sp = SelfPlay(ev, cfg, seed=1)
    games = sp.play(games=4)
    for g in games:
        assert g["meta"]["resigned"] and g["meta"]["result"] == "W+R" and g["meta"]["moves"] == 0
        assert g["meta"]["positions"] == 0 and g["meta"]["fast_moves"] == 1
    assert sp.stats.fast_moves == len(games) and sp.stats.resigned == len(games)


def test_config_validation():
    with pytest.raises(ValueError, match="fast_simulations"):
        SelfPlayConfig(fast_simulations=-1)
    with pytest.raises(ValueError, match="below simulations"):
        SelfPlayConfig(simulations=16, fast_simulations=16)
    with pytest.raises(ValueError, match="full_search_fraction"):
        SelfPlayConfig(fast_simulations=4, full_search_fraction=0.0)
    with pytest.raises(ValueError, match="full_search_fraction"):
        SelfPlayConfig(full_search_fraction=1.5)
    c = SelfPlayConfig(simulations=16, fast_simulations=15, full_search_fraction=1.0)
    assert SelfPlayConfig.from_dict(c.to_dict()) == c
    # the tree's default capacity is set by the full searches, which the fast ones stay below
    assert c.resolved().max_nodes == SelfPlayConfig(simulations=16).resolved().max_nodes


def test_train_zero_flags_reach_the_self_play_config(tmp_path):
    from igo.cli import build_parser
    from igo.train_cmd import overrides_from
    from igo.training.zero import ZeroRunConfig

    parser = build_parser()
    args = parser.parse_args(["train", "zero", "--run-dir", str(tmp_path / "r"), "--simulations", "32",
                              "--fast-simulations", "8", "--full-search-fraction", "0.3"])  # fmt: skip
    over = overrides_from(args)
    assert over["selfplay"] == {"simulations": 32, "fast_simulations": 8, "full_search_fraction": 0.3}
    spc = ZeroRunConfig(size=5, model="zero-tiny").with_overrides(over).selfplay_config()
    assert spc.fast_simulations == 8 and spc.full_search_fraction == 0.3 and spc.simulations == 32
    # not given: nothing overridden (a resumed run keeps its own)
    args = parser.parse_args(["train", "zero", "--run-dir", str(tmp_path / "r")])
    assert "selfplay" not in overrides_from(args)
    # a resume may change them (not what the run trains)
    from igo.training.zero import prepare_run_dir

    run = tmp_path / "run"
    prepare_run_dir(run, ZeroRunConfig(size=5, model="zero-tiny", selfplay={"simulations": 8}))
    again = prepare_run_dir(run, None, {"selfplay": {"fast_simulations": 2, "full_search_fraction": 0.5}})
    assert again.selfplay_config().fast_simulations == 2 and again.selfplay_config().full_search_fraction == 0.5
    with pytest.raises(ValueError, match="below simulations"):
        ZeroRunConfig(size=5, model="zero-tiny", selfplay={"simulations": 8, "fast_simulations": 8})


def test_worker_with_a_tiny_net_hands_back_games_without_positions():
    import torch

    from igo.nets.config import config_to_dict, get_config
    from igo.nets.models import build_model
    from igo.selfplay.actors import SelfPlayWorker

    torch.manual_seed(0)
    cfg = get_config("zero-tiny")
    weights = {k: v.numpy().copy() for k, v in build_model(cfg, 5).state_dict().items()}
    spc = _config(simulations=8, parallel_games=4, fast_simulations=2, full_search_fraction=1e-9)
    w = SelfPlayWorker(config_to_dict(cfg), spc.to_dict(), weights, 0, seed=3, precision="int8")
    out = w.play(seconds=1.0)
    while not out["games"]:
        out = w.play(seconds=1.0)
    assert all(g["meta"]["positions"] == 0 for g in out["games"])
    assert out["stats"]["positions"] == 0 and out["stats"]["full_moves"] == 0 and out["stats"]["fast_moves"] > 0
    assert not out["int8"]  # nothing to calibrate on: it plays on in float
