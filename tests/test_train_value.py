"""AlphaGo's value network: data generation as in the paper (one position per game, after a uniformly random move
U) on a local Ray, resume, torn chunks, MSE training on a learnable target, checkpoints and the CLI."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest

from igo.engine.board import Board
from igo.engine.features import FeatureEncoder
from igo.engine.planes import pack_planes, unpack_planes
from igo.nets.checkpoint import load_checkpoint, save_checkpoint
from igo.nets.config import get_config
from igo.nets.models import build_model
from igo.selfplay.policy_games import GameSpec, play_policy_games
from igo.training.run import RunDir
from igo.training.value import (
    PREFIX,
    ValueDataConfig,
    ValueTrainConfig,
    _games_to_arrays,
    _write_chunk,
    data_dir,
    data_summary,
    draw_u,
    generate_value_data,
    holdout_mask,
    load_value_data,
    train_value,
)


def _policy(path, size, seed, cfg="lee-policy-tiny"):
    import torch

    torch.manual_seed(seed)
    return save_checkpoint(path, build_model(get_config(cfg), size))


@pytest.fixture(scope="module")
def ckpts(tmp_path_factory):
    d = tmp_path_factory.mktemp("policies")
    return {
        "sl": str(_policy(d / "sl7.safetensors", 7, 1)),
        "rl": str(_policy(d / "rl7.safetensors", 7, 2)),
        "sl5": str(_policy(d / "sl5.safetensors", 5, 3)),
        "value7": str(save_checkpoint(d / "v7.safetensors", build_model(get_config("lee-value-tiny"), 7))),
    }


@pytest.fixture(scope="module")
def local_ray():
    import ray

    from igo.selfplay.cluster import init_ray

    started = init_ray(None, 2)
    yield
    if started:
        ray.shutdown()


def test_data_config_validation(ckpts):
    c = ValueDataConfig(sl=ckpts["sl"], rl=ckpts["rl"], games=10)
    assert c.size == 7 and c.komi == 7.0 and c.max_u == 49 and c.sl_config == "lee-policy-tiny"
    with pytest.raises(ValueError, match="same board"):
        ValueDataConfig(sl=ckpts["sl"], rl=ckpts["sl5"], games=10)
    with pytest.raises(ValueError, match="lee-policy"):
        ValueDataConfig(sl=ckpts["value7"], rl=ckpts["rl"], games=10)
    with pytest.raises(ValueError, match="max_u"):
        ValueDataConfig(sl=ckpts["sl"], rl=ckpts["rl"], games=10, max_u=0)
    with pytest.raises(ValueError):
        ValueDataConfig(sl=ckpts["sl"], rl="/nonexistent.safetensors", games=10)
    with pytest.raises(ValueError, match="lee-value"):
        ValueTrainConfig(model="lee-policy-tiny")
    with pytest.raises(ValueError, match="holdout"):
        ValueTrainConfig(holdout=1.0)


def test_u_draws_are_seeded_uniform_and_prefix_stable():
    u = draw_u(5, 49, 49 * 400)
    assert u.min() == 1 and u.max() == 49
    counts = np.bincount(u, minlength=50)[1:]
    # 400 expected per value, sd 20: 250..550 is over 7 sd (and the draw is fixed by the seed)
    assert counts.min() > 250 and counts.max() < 550
    assert abs(u.mean() - 25.0) < 0.5
    np.testing.assert_array_equal(draw_u(5, 49, 100), u[:100])
    assert not np.array_equal(draw_u(6, 49, 100), u[:100])


def test_snapshot_is_the_position_after_the_random_move(ckpts):
    sl, _ = load_checkpoint(ckpts["sl"])
    rl, _ = load_checkpoint(ckpts["rl"])
    rng = np.random.default_rng(3)
    us = [1, 2, 7, 20, 49, 30, 11, 400]  # 400: past the end of any game, discarded
    specs = [GameSpec("sl", "sl", random_move_at=u, switch_at=u + 1, switch_black="rl", switch_white="rl") for u in us]
    games = play_policy_games({"sl": sl, "rl": rl}, specs, size=7, komi=7.0, rng=rng)
    arrays = _games_to_arrays(games, list(range(100, 108)), us, 7)
    assert list(arrays["discarded_games"]) == [107]
    assert list(arrays["game"]) == list(range(100, 107)) and list(arrays["u"]) == us[:7]
    enc = FeatureEncoder("alphago49", 7)
    for row, (g, u) in enumerate(zip(games[:7], us[:7], strict=True)):
        b = Board(7, 7.0)
        for color, move in g.moves[:u]:
            b.play(None if move is None else (move // 7, move % 7), color)
        np.testing.assert_array_equal(arrays["planes"][row], pack_planes(enc.encode_board(b)))
        np.testing.assert_array_equal(unpack_planes(arrays["planes"][row], 49, 7), enc.encode_board(b))
        assert arrays["to_move"][row] == b.to_move
        winner_sign = np.sign(g.score) if b.to_move == 1 else -np.sign(g.score)  # BLACK == 1
        assert arrays["z"][row] == winner_sign
        assert arrays["length"][row] == len(g.moves) >= u


def test_generation_on_ray_one_position_per_game_and_resume(ckpts, local_ray, tmp_path):
    run = tmp_path / "run"
    cfg = ValueDataConfig(sl=ckpts["sl"], rl=ckpts["rl"], games=60, seed=4, actors=2, games_per_call=30)
    seen = []
    r = generate_value_data(cfg, run, on_progress=lambda st: seen.append(st.games))
    assert r.new_games == 60 and r.games == 60 and r.positions + r.discarded == 60 and r.positions > 45
    assert seen[-1] == 60 and r.chunks == 2 and r.positions_per_second > 0
    data = load_value_data(run, 7)
    assert len(data) == r.positions and data.discarded == r.discarded
    assert len(np.unique(data.game)) == len(data)  # exactly one position per kept game
    us = draw_u(4, 49, 60)
    np.testing.assert_array_equal(data.u, us[data.game])  # the driver's seeded draws
    assert data.u.min() >= 1 and data.u.max() <= 49 and r.u_min == data.u.min() and r.u_max == data.u.max()
    assert set(np.unique(data.z)) <= {-1.0, 0.0, 1.0} and set(np.unique(data.to_move)) <= {1, 2}
    assert np.all(data.length >= data.u)
    assert data.planes.dtype == np.uint8 and data.planes.shape == (len(data), (49 * 7 * 7 + 7) // 8)
    # resume: only the missing games are played
    cfg2 = ValueDataConfig(sl=ckpts["sl"], rl=ckpts["rl"], games=80, seed=4, actors=2, games_per_call=30)
    r2 = generate_value_data(cfg2, run)
    assert r2.new_games == 20 and r2.games == 80 and r2.chunks == 3
    done, positions, discarded, _, _ = data_summary(run)
    assert done == set(range(80)) and positions + discarded == 80
    r3 = generate_value_data(cfg2, run)
    assert r3.new_games == 0 and r3.games == 80
    with pytest.raises(ValueError, match="max_u"):
        generate_value_data(ValueDataConfig(sl=ckpts["sl"], rl=ckpts["rl"], games=80, seed=4, max_u=20), run)


def _learnable_data(run, size=5, count=800, seed=0):
    """Positions whose outcome is +1 when the player to move has more stones, else -1 (planes 0/1: own/opponent)."""
    rng = np.random.default_rng(seed)
    planes = np.zeros((count, 49, size, size), np.float32)
    colour = rng.integers(0, 3, size=(count, size, size))
    planes[:, 0] = colour == 1
    planes[:, 1] = colour == 2
    planes[:, 2] = colour == 0
    planes[:, 3] = 1
    diff = planes[:, 0].sum((1, 2)) - planes[:, 1].sum((1, 2))
    z = np.where(diff > 0, 1.0, -1.0).astype(np.float32)
    data_dir(run).mkdir(parents=True)
    (data_dir(run) / "config.json").write_text(json.dumps({"size": size, "komi": 7.0, "max_u": 25, "seed": 0}))
    for k in range(0, count, 200):
        sl = slice(k, k + 200)
        n = len(z[sl])
        _write_chunk(data_dir(run) / f"chunk-{k // 200:06d}.npz", {
            "planes": pack_planes(planes[sl]), "z": z[sl], "u": np.ones(n, np.int16), "to_move": np.ones(n, np.int8),
            "length": np.full(n, 30, np.int32), "game": np.arange(k, k + n, dtype=np.int64),
            "discarded_games": np.zeros(0, np.int64),
        })  # fmt: skip
    return z


def test_torn_and_foreign_chunks_are_skipped(tmp_path, caplog):
    run = tmp_path / "run"
    _learnable_data(run, count=400)
    good = (data_dir(run) / "chunk-000000.npz").read_bytes()
    (data_dir(run) / "chunk-000007.npz").write_bytes(good[: len(good) // 2])
    (data_dir(run) / "chunk-000008.npz").write_bytes(b"not a zip file at all")
    with caplog.at_level(logging.WARNING, logger="igo.training.value"):
        data = load_value_data(run, 5)
    assert len(data) == 400
    assert sum("chunk-000007" in r.getMessage() for r in caplog.records) >= 1
    assert sum("chunk-000008" in r.getMessage() for r in caplog.records) >= 1
    assert data_summary(run)[1] == 400


def test_holdout_split_is_stable_as_data_grows():
    a = holdout_mask(np.arange(1000), 0.1, 3)
    b = holdout_mask(np.arange(5000), 0.1, 3)
    np.testing.assert_array_equal(a, b[:1000])
    assert 50 < a.sum() < 150


def test_training_reduces_mse_checkpoints_and_resumes(tmp_path):
    run = tmp_path / "run"
    _learnable_data(run, count=800)
    cfg = ValueTrainConfig(model="lee-value-tiny", optimizer="adamw", lr=3e-3, batch_size=32, epochs=4, holdout=0.1,
                           checkpoint_every=50, threads=1, device="cpu")  # fmt: skip
    statuses = []
    r = train_value(run, cfg, on_status=statuses.append, status_every=0.0)
    assert r.epochs == pytest.approx(4.0) and r.step == 4 * 23  # ceil(720 / 32) steps per epoch
    assert r.train_positions + r.test_positions == 800 and r.test_positions > 30
    assert r.baseline_train_mse > 0.8  # balanced ±1 outcomes
    assert r.train_mse < r.initial_train_mse and r.train_mse < 0.7 * r.baseline_train_mse
    assert r.test_mse < r.baseline_test_mse
    model, meta = load_checkpoint(run / "value.safetensors", expect_kind="lee-value")
    assert meta.step == r.step and meta.board_size == 5 and meta.extra["train_mse"] == pytest.approx(r.train_mse)
    steps = [s for s, _ in RunDir(run, PREFIX).checkpoints()]
    assert steps[0] == 0 and steps[-1] == r.step and 50 in steps
    assert (run / "checkpoints" / f"value-{r.step}.optim.safetensors").exists()
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    epochs = [row for row in rows if row["kind"] == "value_epoch"]
    assert [row["epoch"] for row in epochs] == [1, 2, 3, 4] and all(row["test_mse"] is not None for row in epochs)
    assert statuses and statuses[-1].step == r.step
    # resume: more epochs continue from the last step; another net is refused
    r2 = train_value(run, ValueTrainConfig(**{**cfg.to_dict(), "epochs": 5}))
    assert r2.step > r.step and r2.epochs == pytest.approx(5.0) and r2.initial_train_mse is None
    with pytest.raises(ValueError, match="lee-value-tiny"):
        train_value(run, ValueTrainConfig(**{**cfg.to_dict(), "model": "lee-value-64"}))


def test_cli(ckpts, local_ray, tmp_path, capsys):
    from igo.cli import main

    with pytest.raises(SystemExit) as e:
        main(["train", "value", "--help"])
    assert e.value.code == 0
    text = capsys.readouterr().out
    assert "examples:" in text and "--skip-generate" in text and "--max-u" in text
    run = tmp_path / "run"
    base = ["train", "value", "--sl", ckpts["sl"], "--rl", ckpts["rl"], "--run-dir", str(run)]
    assert main([*base, "--games", "40", "--config", "lee-value-tiny", "--epochs", "2", "--batch-size", "16",
                 "--actors", "2", "--games-per-call", "20", "--holdout", "0.2", "--json"]) == 0  # fmt: skip
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["data"]["games"] == 40 and out["data"]["positions"] + out["data"]["discarded"] == 40
    assert out["train"]["checkpoint"].endswith("value.safetensors") and out["train"]["train_mse"] >= 0
    load_checkpoint(run / "value.safetensors", expect_kind="lee-value")
    assert main([*base, "--skip-generate", "--config", "lee-value-tiny", "--epochs", "3", "--batch-size", "16",
                 "--holdout", "0.2"]) == 0  # fmt: skip
    text = capsys.readouterr().out
    assert "MSE train" in text and "constant predictor" in text and "--value-model" in text and "U in " in text
    bad = ["train", "value", "--sl", ckpts["sl"], "--rl", ckpts["sl5"], "--run-dir", str(tmp_path / "bad")]
    assert main([*bad, "--games", "4"]) == 2
    assert "same board" in capsys.readouterr().err
    assert main([*base, "--skip-generate", "--config", "nonexistent-net"]) == 2
    assert "nonexistent-net" in capsys.readouterr().err


def test_chunks_packed_one_plane_per_row_still_load(tmp_path):
    """Value data written before the one packing format (uint8 [P, 49, ceil(N*N/8)]) loads beside new chunks."""
    rng = np.random.default_rng(5)
    size, n = 5, 6
    planes = rng.random((2 * n, 49, size, size)) < 0.3
    d = data_dir(tmp_path)
    d.mkdir(parents=True)
    for k, packed in enumerate([np.packbits(planes[:n].reshape(n, 49, -1), axis=-1), pack_planes(planes[n:])]):
        _write_chunk(d / f"chunk-{k:06d}.npz", {
            "planes": packed, "z": np.ones(n, np.float32), "u": np.ones(n, np.int16), "to_move": np.ones(n, np.int8),
            "length": np.full(n, 30, np.int32), "game": np.arange(k * n, (k + 1) * n, dtype=np.int64),
            "discarded_games": np.zeros(0, np.int64),
        })  # fmt: skip
    data = load_value_data(tmp_path, size)
    assert len(data) == 2 * n
    np.testing.assert_array_equal(unpack_planes(data.planes, 49, size), planes.astype(np.float32))
