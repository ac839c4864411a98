"""The RL policy trainer (REINFORCE against a pool) and the batched policy games it plays."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from igo.engine.board import Board
from igo.engine.board_kernels import BLACK, WHITE
from igo.engine.features import P_SENSIBLE, FeatureEncoder
from igo.engine.planes import pack_planes, unpack_planes
from igo.nets.checkpoint import load_checkpoint, save_checkpoint
from igo.nets.config import get_config
from igo.nets.models import build_model
from igo.nets.weights import model_to_numpy
from igo.selfplay.policy_games import GameSpec, PolicyGameWorker, play_policy_games
from igo.training.common import read_metrics
from igo.training.rl import RLConfig, RLLimits, RLRun, reinforce_loss

SIZE = 5


def _net(seed: int = 0, size: int = SIZE):
    torch.manual_seed(seed)
    return build_model(get_config("lee-policy-tiny"), size).eval()


@pytest.fixture(scope="module")
def sl_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("sl") / "sl.safetensors"
    save_checkpoint(path, _net(1))
    return path


def test_pack_round_trip():
    rng = np.random.default_rng(0)
    planes = (rng.random((3, 48, 7, 7)) < 0.3).astype(np.float32)
    assert np.array_equal(unpack_planes(pack_planes(planes), 48, 7), planes)


def test_policy_games_are_legal_games_scored_by_area():
    nets = {"a": _net(1), "b": _net(2)}
    specs = [GameSpec("a", "b"), GameSpec("b", "a"), GameSpec("a", "a")]
    games = play_policy_games(nets, specs, size=SIZE, komi=0.5, rng=np.random.default_rng(3), record=["a"])
    assert len(games) == 3
    for g in games:
        board = Board(SIZE, 0.5, ko_rule="positional")
        for color, move in g.moves:  # every move legal for the side to move, in turn
            assert color == board.to_move
            board.play(None if move is None else (move // SIZE, move % SIZE), color)
        assert g.ended_by == "passes" and g.moves[-1][1] is None and g.moves[-2][1] is None
        assert g.score == board.score()
        assert g.winner == (BLACK if g.score > 0 else WHITE)
        # recorded positions: a's moves only, each a sensible move of that position
        assert len(g.actions) == sum(1 for c, m in g.moves if m is not None and (g.spec.black if c == BLACK else
                                                                                  g.spec.white) == "a")  # fmt: skip
        for packed, a in zip(g.planes, g.actions, strict=True):
            assert unpack_planes(packed, 48, SIZE)[P_SENSIBLE].reshape(-1)[a] == 1.0


def test_random_move_and_switch_and_snapshot():
    nets = {"sl": _net(1), "rl": _net(2)}
    u = 4
    spec = GameSpec("sl", "sl", random_move_at=u, switch_at=u + 1, switch_black="rl", switch_white="rl")
    (g,) = play_policy_games(nets, [spec], size=SIZE, komi=0.5, rng=np.random.default_rng(0))
    assert g.snapshot_move == u and g.snapshot is not None
    board = Board(SIZE, 0.5, ko_rule="positional")
    for color, move in g.moves[:u]:
        board.play(None if move is None else (move // SIZE, move % SIZE), color)
    assert g.snapshot_to_move == board.to_move
    want = FeatureEncoder("alphago49", SIZE).encode_board(board)
    assert np.array_equal(unpack_planes(g.snapshot, 49, SIZE), want)


def test_temperature_zero_plays_the_argmax():
    net = _net(5)
    (g,) = play_policy_games({"a": net}, [GameSpec("a", "a")], size=SIZE, komi=0.5, rng=np.random.default_rng(0),
                             temperature=0.0, record=["a"])  # fmt: skip
    for packed, a in zip(g.planes[:5], g.actions[:5], strict=True):
        x = torch.from_numpy(unpack_planes(packed, 48, SIZE)[None])
        logits = net(x)[0].detach().numpy()
        sensible = x[0, P_SENSIBLE].reshape(-1).numpy() > 0.5
        assert a == int(np.argmax(np.where(sensible, logits, -np.inf)))


def test_reinforce_step_moves_probability_with_the_advantage():
    """A winning move gets likelier, a losing one less likely."""
    board = Board(SIZE, 0.5)
    x = torch.from_numpy(FeatureEncoder("alphago48", SIZE).encode_board(board)[None])
    for adv, sign in ((1.0, 1), (-1.0, -1)):
        net = _net(7).train()
        opt = torch.optim.SGD(net.parameters(), lr=0.5)
        a = torch.tensor([12])
        p0 = torch.softmax(net(x)[0], 0)[12].item()
        loss = reinforce_loss(net, x, a, torch.tensor([adv]), games=1)
        opt.zero_grad()
        loss.backward()
        opt.step()
        p1 = torch.softmax(net(x)[0], 0)[12].item()
        assert (p1 - p0) * sign > 0


def test_worker_takes_weights():
    worker = PolicyGameWorker(SIZE, 0.5, {"current": "lee-policy-tiny", "opponent": "lee-policy-tiny"})
    net = _net(9)
    games, seconds = worker.play({"current": model_to_numpy(net), "opponent": model_to_numpy(net)},
                                 [GameSpec("current", "opponent")], temperature=0.0)  # fmt: skip
    assert len(games) == 1 and seconds >= 0
    for k, v in net.state_dict().items():
        assert torch.equal(worker.nets["current"].state_dict()[k], v)


def test_config_checks(tmp_path, sl_path):
    with pytest.raises(ValueError, match="--init"):
        RLConfig()
    with pytest.raises(ValueError, match="even"):
        RLConfig(init=str(sl_path), games_per_iteration=3)
    with pytest.raises(ValueError, match="unknown"):
        RLConfig.from_dict({"init": str(sl_path), "bogus": 1})
    value = tmp_path / "v.safetensors"
    save_checkpoint(value, build_model(get_config("lee-value-tiny"), SIZE))
    with pytest.raises(ValueError, match="lee-value"):
        RLRun(tmp_path / "r", RLConfig(init=str(value)))


def test_tiny_run_on_ray_resumes(tmp_path, sl_path):
    """Iterations on a local Ray (2 CPUs): pool snapshots, evaluation against SL, checkpoints, resume."""
    cfg = RLConfig(init=str(sl_path), games_per_iteration=8, pool_every=2, eval_every=2, eval_games=8,
                   checkpoint_every=2, lr=0.05)  # fmt: skip
    run = RLRun(tmp_path / "rl", cfg)
    st = run.run(RLLimits(max_iterations=4), num_cpus=2, actors=2)
    assert st.iteration == 4 and st.games == 32 and st.pool == 3
    assert st.win_rate_vs_sl is not None and 0 <= st.win_rate_vs_sl <= 1
    rows = read_metrics(tmp_path / "rl", "train")
    assert [r["step"] for r in rows] == [1, 2, 3, 4] and all(r["positions"] > 0 for r in rows)
    assert len(read_metrics(tmp_path / "rl", "eval")) == 2
    model, meta = load_checkpoint(tmp_path / "rl" / "rl.safetensors", expect_kind="lee-policy")
    assert meta.step == 4 and meta.extra["games"] == 32
    sl = load_checkpoint(sl_path)[0]
    assert any(
        not torch.equal(a, b) for a, b in zip(model.state_dict().values(), sl.state_dict().values(), strict=True)
    )
    # resume: continues the iteration count, keeps the pool
    st2 = RLRun(tmp_path / "rl").run(RLLimits(max_iterations=5), num_cpus=2, actors=2)
    assert st2.iteration == 5 and st2.games == 40 and st2.pool == 3
    # the stored config cannot change its starting net
    with pytest.raises(ValueError, match="cannot go on with init="):
        RLRun(tmp_path / "rl", RLConfig(init=str(tmp_path / "other.safetensors")))


def test_cli(tmp_path, sl_path, capsys):
    from igo.cli import main

    rc = main(["train", "rl", "--init", str(sl_path), "--run-dir", str(tmp_path / "c"), "--games", "4",
               "--max-iterations", "1", "--eval-games", "0", "--cpus", "2", "--actors", "1", "--json"])  # fmt: skip
    assert rc == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["iteration"] == 1 and out["games"] == 4
    assert main(["train", "rl", "--run-dir", str(tmp_path / "none")]) == 2
    assert "--init" in capsys.readouterr().err


def test_policy_player_without_search(sl_path):
    """``igo gtp --player policy --model SL``: the net's best move at temperature 0, legal, never an own eye."""
    from igo.engine.options import PlayerOptions
    from igo.engine.player import PolicyPlayer
    from igo.nets.player import build_player, torch_policy

    options = PlayerOptions.from_argv(["--player", "policy", "--model", str(sl_path), "--move-temperature", "0"])
    player = build_player(options, SIZE)
    assert isinstance(player, PolicyPlayer)
    board = Board(SIZE, 0.5)
    net = load_checkpoint(sl_path)[0]
    x = torch.from_numpy(FeatureEncoder("alphago48", SIZE).encode_board(board)[None])
    best = int(torch.argmax(net(x)[0]))
    from igo.engine.coords import rc_to_gtp

    assert player.genmove(board, BLACK) == rc_to_gtp(best // SIZE, best % SIZE, SIZE)
    for _ in range(40):  # a game of sampled moves stays legal
        move = PolicyPlayer(torch_policy(net), SIZE, 1.0, seed=1).genmove(board, board.to_move)
        board.play(None if move == "pass" else move)
        if board.is_over:
            break
    with pytest.raises(ValueError, match="--model only"):
        PlayerOptions.from_argv(["--player", "policy"])
    with pytest.raises(ValueError, match="7x7"):
        build_player(options, 7)
