"""Tests of training/rollout.py and ``igo train rollout``: feature extraction (the expert move's place among the
candidates, the features per candidate, skipped positions and games), training on a tiny GNU Go corpus beats the
uniform policy on held-out games, the checkpoint drives the playout kernels and ``igo gtp --rollout-policy``, the tree
policy, resuming, the command line."""

from __future__ import annotations

import argparse
import json
import logging
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from igo.engine import rollout as R
from igo.engine.board import BLACK, WHITE, Board
from igo.engine.coords import rc_to_padded
from igo.engine.patterns import num_features
from igo.engine.rng import make_rng
from igo.engine.sgf import GameRecord, dump_sgf, iter_positions
from igo.nets.checkpoint import load_checkpoint, read_metadata
from igo.nets.rollout import candidate_features
from igo.training.common import read_metrics
from igo.training.rollout import (
    PREFIX,
    PositionSet,
    RolloutTrainConfig,
    _ragged_arange,
    extract_positions,
    rollout_speed,
    train_rollout,
    uniform_baseline,
)
from igo.training.run import RunDir, RunError
from igo.training.sgf_data import find_sgf_files, load_game

SIZE = 7
GAMES = 36
HOLDOUT = 0.25


def config(corpus: Path, run_dir: Path, **kw) -> RolloutTrainConfig:
    fields = dict(sgf=str(corpus), run_dir=str(run_dir), size=SIZE, holdout=HOLDOUT, batch_size=64, speed_seconds=0.05)
    fields.update(kw)
    return RolloutTrainConfig(**fields)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    """A few dozen GNU Go level-0 7x7 games (both colours GNU Go, 2 random opening stones)."""
    if shutil.which("gnugo") is None and not Path("/usr/games/gnugo").exists():
        pytest.skip("gnugo is not installed")
    from igo.selfplay.corpus import CorpusConfig, openings, play_corpus_game

    gnugo = shutil.which("gnugo") or "/usr/games/gnugo"
    out = tmp_path_factory.mktemp("corpus")
    cfg = CorpusConfig(engine=f"{gnugo} --mode gtp --level 0", size=SIZE, komi=7.0, games=GAMES, out=str(out),
                       opening_moves=2)  # fmt: skip
    ops = openings(SIZE, 2, GAMES, seed=1)
    with ThreadPoolExecutor(2) as pool:
        games = list(pool.map(lambda i: play_corpus_game(cfg, i, ops[i]), range(GAMES)))
    for g in games:
        if g.sgf is not None:
            (out / f"game-{g.index:06d}.sgf").write_bytes(g.sgf)
    if len(find_sgf_files(out)) < GAMES * 3 // 4:
        pytest.skip(f"GNU Go played only {len(find_sgf_files(out))} games: {[g.error for g in games if g.error]}")
    return out


@pytest.fixture(scope="module")
def trained(corpus, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("run")
    result = train_rollout(config(corpus, run_dir, epochs=6))
    return run_dir, result


# --- data ----------------------------------------------------------------------------------------------------------


def test_ragged_arange():
    starts = np.array([5, 0, 9, 2, 7])
    counts = np.array([0, 3, 2, 0, 1])
    want = np.concatenate([np.arange(s, s + c) for s, c in zip(starts, counts, strict=True)])
    assert _ragged_arange(starts, counts).tolist() == want.tolist()
    assert _ragged_arange(starts, np.zeros(5, np.int64)).tolist() == []


def _eye_game(tmp: Path) -> Path:
    """5x5: Black has a single-point eye at (0, 0) and fills it at move 3 (no candidate: skipped)."""
    record = GameRecord(
        size=5,
        komi=0.5,
        black_setup=[(0, 1), (1, 0), (1, 1)],
        white_setup=[(3, 3)],
        moves=[(BLACK, (2, 2)), (WHITE, (3, 2)), (BLACK, (0, 0)), (WHITE, None), (BLACK, (2, 3)), (WHITE, (4, 4))],
    )
    path = tmp / "eye.sgf"
    path.write_bytes(dump_sgf(record))
    return path


def test_extraction_targets_features_and_skips(tmp_path):
    eye = _eye_game(tmp_path)
    other = tmp_path / "other.sgf"
    other.write_bytes(dump_sgf(GameRecord(size=7, moves=[(BLACK, (3, 3))])))
    broken = tmp_path / "broken.sgf"
    broken.write_text("(;GM[1]SZ[5];B[aa")
    data = extract_positions([eye, other, broken], 5, keep_boards=2)
    assert data.files == 3 and data.games == 1
    assert data.skipped["not_candidate"] == 1  # the eye fill
    assert data.skipped["game: size 7, not 5"] == 1
    assert sum(v for k, v in data.skipped.items() if k.startswith("game:")) == 2
    assert len(data) == 4  # 5 moves on the board, one skipped
    assert 1 <= len(data.boards) <= 2

    record, _ = load_game(eye, 5)
    expected = []
    for board, _colour, (r, c) in iter_positions(record):
        moves, index = candidate_features(board)
        if rc_to_padded(r, c, 5) in moves:
            expected.append((moves, index, rc_to_padded(r, c, 5)))
    assert len(expected) == len(data)
    index, mask, target = data.batch(np.arange(len(data)))
    for i, (moves, feats, expert) in enumerate(expected):
        got = data.candidate_moves(i)
        assert got.tolist() == moves
        assert got[data.target[i]] == expert and int(target[i]) == data.target[i]
        assert int(mask[i].sum()) == len(moves)
        for j in range(len(moves)):  # the batch holds each candidate's features, padded with -1
            row = index[i, j].numpy()
            assert sorted(row[row >= 0].tolist()) == sorted(f for f in feats[j].tolist() if f >= 0)
    u = uniform_baseline(data)
    counts = np.array([len(m) for m, _, _ in expected], float)
    assert u["accuracy"] == pytest.approx(np.mean(1 / counts))
    assert u["log_likelihood"] == pytest.approx(-np.mean(np.log(counts)))


def test_batch_of_a_subset_matches(corpus):
    files = find_sgf_files(corpus)[:3]
    data = extract_positions(files, SIZE, tree=True)
    assert isinstance(data, PositionSet) and len(data) > 20 and data.skipped.get("not_candidate", 0) >= 0
    idx = np.array([len(data) - 1, 0, 5])
    index, mask, target = data.batch(idx)
    for b, i in enumerate(idx):
        lo, hi = data.pos_start[i], data.pos_start[i + 1]
        assert int(mask[b].sum()) == hi - lo
        for j, c in enumerate(range(lo, hi)):
            row = index[b, j].numpy()
            assert row[row >= 0].tolist() == data.feats[data.cand_start[c] : data.cand_start[c + 1]].tolist()
        assert (index[b, hi - lo :] == -1).all()
    assert int(index.max()) < num_features(True)


# --- training ------------------------------------------------------------------------------------------------------


def test_training_beats_uniform_on_held_out_games(trained):
    run_dir, result = trained
    assert result.stopped == "epochs" and result.epochs_done == pytest.approx(6)
    assert result.held_out["positions"] > 50
    t, u = result.trained, result.uniform
    assert t["accuracy"] > u["accuracy"] + 0.1
    assert t["log_likelihood"] > u["log_likelihood"] + 0.3
    assert result.train["positions_per_second"] > 0
    speed = result.speed
    assert speed["us_per_move"] > 0 and speed["us_per_move_uniform"] > 0 and speed["us_per_policy_move"] > 0
    kinds = {row["kind"] for row in read_metrics(run_dir)}
    assert {"data", "train", "eval", "speed"} <= kinds
    evals = read_metrics(run_dir, "eval")
    assert evals[-1]["accuracy"] == pytest.approx(t["accuracy"])


def test_checkpoint_drives_the_playout_kernels(trained, corpus):
    run_dir, result = trained
    path = Path(result.checkpoint)
    assert path == run_dir / "rollout.safetensors"
    model, meta = load_checkpoint(path, expect_kind="rollout")
    assert meta.config_name == "rollout" and meta.board_size == SIZE and meta.step == result.step
    assert meta.extra["trainer"] == "rollout"
    assert meta.extra["held_out_accuracy"] == pytest.approx(result.trained["accuracy"])
    assert meta.extra["positions"] == result.train["positions"] and meta.extra["corpus"] == str(corpus)
    assert meta.extra["speed"]["us_per_move"] > 0
    w = model.to_numpy()
    assert w.shape == (num_features(False),) and np.abs(w).max() > 0.1

    board = Board(SIZE, 7.0, ko_rule="simple")
    for move in ("D4", "C3", "E5", "C5"):
        board.play(move)
    s = board.state
    work = R.new_work(SIZE)
    probs = np.zeros(s.stones.shape[0])
    count = R.move_probabilities(s, w, False, work, probs)
    assert count > 10 and probs.sum() == pytest.approx(1.0)
    live = probs[probs > 0]
    assert live.max() > 3 * live.min()  # not uniform
    from igo.engine import board_kernels as K

    scratch = K.new_state(SIZE, K.KO_SIMPLE)
    score, moves = R.policy_playout_from(s, scratch, make_rng(3), 3 * SIZE * SIZE, w, work)
    assert moves > 10 and abs(score) <= SIZE * SIZE
    speed = rollout_speed(w, SIZE, [board], seconds=0.02)
    assert speed["playout_moves"] > 0


def test_igo_gtp_accepts_the_checkpoint(trained):
    from igo.engine.options import PlayerOptions
    from igo.gtp.engine import GTPEngine
    from igo.gtp_cmd import add_arguments
    from igo.nets.player import build_player

    _run_dir, result = trained
    p = argparse.ArgumentParser()
    add_arguments(p)
    args = p.parse_args(["--size", str(SIZE), "--rollout-policy", result.checkpoint, "--playouts", "24"])
    player = build_player(PlayerOptions.from_namespace(args), SIZE)
    assert player.rollout_policy is not None and np.abs(player.rollout_policy).max() > 0.1
    engine = GTPEngine(player, size=SIZE, komi=7.0)
    engine.handle("play b D4")
    reply = engine.handle("genmove w")
    assert reply.startswith("=") and "resign" not in reply.lower()


def test_tree_policy_trains(corpus, tmp_path):
    result = train_rollout(config(corpus, tmp_path / "tree", tree=True, max_steps=4))
    assert result.config == "tree" and result.step == 4 and result.stopped == "max_steps"
    assert Path(result.checkpoint) == tmp_path / "tree" / "tree.safetensors"
    model, meta = load_checkpoint(result.checkpoint, expect_kind="rollout")
    assert meta.config_name == "tree" and model.tree
    w = model.to_numpy()
    assert w.shape == (num_features(True),) and np.abs(w).max() > 0
    assert result.speed is not None and "us_per_move" not in result.speed and result.speed["us_per_policy_move"] > 0
    board = Board(SIZE, ko_rule="simple")
    board.play("D4")
    probs = np.zeros(board.state.stones.shape[0])
    R.move_probabilities(board.state, w, True, R.new_work(SIZE), probs)
    live = probs[probs > 0]
    assert live.max() > live.min()
    with pytest.raises(RunError, match="tree"):  # a run directory is for one kind of policy
        train_rollout(config(corpus, tmp_path / "tree", max_steps=1))


def test_resume(corpus, tmp_path, caplog):
    run_dir = tmp_path / "resume"
    first = train_rollout(config(corpus, run_dir, max_steps=3, checkpoint_every=2, speed_seconds=0))
    assert first.step == 3 and first.resumed_from is None and first.speed is None
    names = [p.name for _, p in RunDir(run_dir, PREFIX).checkpoints()]
    assert names == ["step-00000002.safetensors", "step-00000003.safetensors"]
    w3 = load_checkpoint(first.checkpoint)[0].to_numpy()
    with caplog.at_level(logging.WARNING, logger="igo.training.rollout"):
        second = train_rollout(config(corpus, run_dir, max_steps=5, speed_seconds=0))
    assert "not restored" not in caplog.text
    assert second.resumed_from.endswith("step-00000003.safetensors") and second.step == 5
    assert read_metadata(second.checkpoint).step == 5
    w5 = load_checkpoint(second.checkpoint)[0].to_numpy()
    assert not np.array_equal(w3, w5)
    assert json.loads((run_dir / "config.json").read_text())["max_steps"] == 5


def test_config_validation_and_round_trip(tmp_path):
    c = RolloutTrainConfig(sgf="a", run_dir="b", tree=True, lr=0.1)
    assert RolloutTrainConfig.from_dict(c.to_dict()) == c and c.config_name == "tree"
    for bad in (dict(holdout=1.0), dict(batch_size=0), dict(lr=0), dict(optimizer="adam"), dict(size=1),
                dict(epochs=0), dict(max_minutes=-1)):  # fmt: skip
        with pytest.raises(ValueError):
            RolloutTrainConfig(sgf="a", run_dir="b", **bad)
    with pytest.raises(ValueError, match="unknown"):
        RolloutTrainConfig.from_dict({"sgf": "a", "run_dir": "b", "bogus": 1})


# --- command line --------------------------------------------------------------------------------------------------


def test_cli_smoke(corpus, tmp_path, capsys):
    from igo.cli import main

    run_dir = tmp_path / "cli"
    base = ["train", "rollout", "--sgf", str(corpus), "--size", str(SIZE), "--run-dir", str(run_dir)]
    assert main([*base, "--max-steps", "2", "--holdout", str(HOLDOUT), "--speed-seconds", "0.02"]) == 0
    out = capsys.readouterr().out
    assert "held-out" in out and "uniform" in out and "us per playout move" in out
    assert f"igo gtp --rollout-policy {run_dir / 'rollout.safetensors'}" in out
    assert main([*base, "--max-steps", "3", "--holdout", str(HOLDOUT), "--speed-seconds", "0", "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["step"] == 3 and res["resumed_from"] and res["checkpoint"].endswith("rollout.safetensors")


def test_cli_errors(tmp_path, capsys):
    from igo.cli import main

    empty = tmp_path / "empty"
    empty.mkdir()
    base = ["train", "rollout", "--size", "7", "--run-dir", str(tmp_path / "r")]
    assert main([*base, "--sgf", str(empty), "--holdout", "1.5"]) == 2
    assert "--holdout" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        main([*base, "--sgf", str(empty), "--batch-size", "0"])
    assert e.value.code == 2
    assert main([*base, "--sgf", str(empty)]) == 1
    assert "no SGF files" in capsys.readouterr().err
    assert main([*base, "--sgf", str(tmp_path / "missing")]) == 1
    with pytest.raises(SystemExit) as e:
        main(["train", "rollout", "--help"])
    assert e.value.code == 0
    assert "igo gtp --size 9 --rollout-policy runs/rollout9/rollout.safetensors" in capsys.readouterr().out
