"""Tests of training/sl.py and ``igo train sl``: the symmetric sample transform, a tiny run on GNU Go games that beats
the uniform guess, resume (steps, optimizer), refusing another model in a run directory, stopping, broken SGFs skipped
and counted, the command line; and a Zero net's warm start (policy + value heads, masked value targets, komi in the
checkpoint, playing with the result, resume)."""

from __future__ import annotations

import json
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from igo.engine.sgf import iter_positions
from igo.engine.symmetry import NUM_SYMMETRIES, apply_planes, apply_rc
from igo.nets.checkpoint import load_checkpoint, read_metadata
from igo.training.common import read_metrics
from igo.training.run import RunDir
from igo.training.sgf_data import (
    PositionStream,
    encode_positions,
    find_sgf_files,
    load_game,
    move_map,
    split_files,
    transform_sample,
)
from igo.training.sl import PREFIX, SLConfig, SLRunError, train_sl

from .test_sgf_data import GNUGO, random_sgf, write

needs_gnugo = pytest.mark.skipif(GNUGO is None, reason="GNU Go (gnugo) is not installed")
SIZE = 7
GAMES = 48


def tiny(tmp_path: Path, sgf_dir: Path, name: str = "run", **kw) -> SLConfig:
    settings = dict(
        sgf_dir=str(sgf_dir),
        run_dir=str(tmp_path / name),
        size=SIZE,
        model="lee-policy-tiny",
        batch_size=32,
        holdout=0.2,
        eval_every=1000,
        checkpoint_every=1000,
        log_every=5,
        threads=1,
        shuffle_buffer=256,
        device="cpu",
    )
    settings.update(kw)
    return SLConfig(**settings)


# --- the symmetric transform ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("k", range(NUM_SYMMETRIES))
def test_transform_sample_moves_target_with_planes(k):
    rng = np.random.default_rng(k)
    n = 5
    planes = rng.integers(0, 2, size=(3, 48, n, n)).astype(np.uint8)
    targets = rng.integers(0, n * n, size=3)
    planes[:, 0] = 0
    planes[np.arange(3), 0, targets // n, targets % n] = 1  # plane 0 marks the target
    out, t2 = transform_sample(planes, targets, k)
    for i in range(3):
        r, c = divmod(int(t2[i]), n)
        assert (r, c) == apply_rc(*divmod(int(targets[i]), n), n, k)
        assert out[i, 0, r, c] == 1 and out[i, 0].sum() == 1
        np.testing.assert_array_equal(out[i], apply_planes(planes[i], k))
    assert sorted(move_map(n, k)) == list(range(n * n + 1)) and move_map(n, k)[n * n] == n * n  # pass stays pass


def test_stream_samples_are_symmetric_images_of_real_positions(tmp_path):
    for i in range(4):
        write(tmp_path / f"g{i}.sgf", random_sgf(SIZE, 30, 40 + i))
    files = find_sgf_files(tmp_path)
    planes, targets, _, _ = encode_positions(files, SIZE)
    images: dict[bytes, set] = {}
    for p, t in zip(planes, targets, strict=True):
        for k in range(NUM_SYMMETRIES):
            q, u = transform_sample(p, t, k)
            images.setdefault(q.tobytes(), set()).add((int(u), k))
    stream = PositionStream(files, SIZE, batch_size=16, seed=3, shuffle_buffer=40)
    used = set()
    batches = iter(stream)
    for _ in range(12):
        x, y, _ = next(batches)
        for p, t in zip(x, y, strict=True):
            matches = {k for u, k in images.get(p.tobytes(), set()) if u == t}
            assert matches, "a sample is not a symmetric image of any position with its own move"
            used |= matches
    assert len(used) >= 6  # random symmetries, not always the identity


# --- runs on GNU Go games -------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """48 GNU Go level-0 7x7 games (2 random opening stones as setup), plus broken and other-size files."""
    if GNUGO is None:
        pytest.skip("GNU Go (gnugo) is not installed")
    from igo.selfplay.corpus import CorpusConfig, openings, play_corpus_game

    root = tmp_path_factory.mktemp("sl-corpus")
    cfg = CorpusConfig(engine=f"{GNUGO} --mode gtp --level 0", size=SIZE, komi=7.0, opening_moves=2, seed=0)
    opens = openings(SIZE, 2, GAMES, 0)
    with ThreadPoolExecutor(2) as ex:
        games = list(ex.map(lambda i: play_corpus_game(cfg, i, opens[i]), range(GAMES)))
    ok = [g for g in games if g.sgf is not None]
    assert len(ok) >= GAMES - 2, [g.error for g in games if g.sgf is None]
    for g in ok:
        write(root / f"part{g.index % 3}" / f"game-{g.index:06d}.sgf", g.sgf)
    write(root / "broken" / "truncated.sgf", b"(;GM[1]SZ[7];B[dd];W[cc")
    write(root / "broken" / "junk.sgf", bytes(range(256)) * 3)
    write(root / "broken" / "illegal.sgf", b"(;GM[1]SZ[7];B[aa];W[aa])")
    write(root / "nine.sgf", random_sgf(9, 20, 1))
    return root


def uniform_top1(sgf_dir: Path, holdout: float) -> float:
    """1 / (mean number of legal moves) over the held-out positions: the top-1 of a uniform guess."""
    files = find_sgf_files(sgf_dir)
    _, held = split_files(sgf_dir, files, holdout)
    legal = []
    for f in held:
        record, _ = load_game(f, SIZE)
        if record is not None:
            legal += [int(b.legal_mask()[:-1].sum()) for b, _, _ in iter_positions(record)]
    return 1.0 / float(np.mean(legal))


@needs_gnugo
def test_tiny_run_beats_the_uniform_guess_and_counts_broken_files(tmp_path, corpus):
    config = tiny(tmp_path, corpus, max_steps=240, eval_every=80, checkpoint_every=120, batch_size=64)
    result = train_sl(config)
    run = Path(config.run_dir)
    assert result.steps == 240 and result.samples == 240 * 64 and result.stopped == "max_steps"
    assert result.holdout_positions > 50 and result.train_files > result.holdout_files > 0
    uniform = uniform_top1(corpus, 0.2)
    assert result.top1 > 3 * uniform + 0.05, (result.top1, uniform)
    assert result.top5 >= result.top1
    # broken and other-size files: each skipped once with its reason, training and held-out files together
    assert result.skipped == 4
    assert result.skipped_by_reason == {"parse error": 2, "illegal move": 1, "size 9, not 7": 1}
    # run directory
    assert [s for s, _ in RunDir(run, PREFIX).checkpoints()] == [120, 240]
    assert Path(result.checkpoint) == run / "checkpoints" / "sl-00000240.safetensors"
    assert (run / "checkpoints" / "sl-00000240.optim.safetensors").exists()
    assert (run / "sl.safetensors").read_bytes() == Path(result.checkpoint).read_bytes()
    model, meta = load_checkpoint(run / "sl.safetensors", expect_kind="lee-policy")
    assert meta.step == 240 and meta.extra["trainer"] == "sl" and meta.extra["samples"] == 240 * 64
    assert meta.extra["holdout_top1"] == pytest.approx(result.top1) and meta.extra["corpus"] == str(corpus.resolve())
    assert json.loads((run / "config.json").read_text())["model"] == "lee-policy-tiny"
    evals = read_metrics(run, "eval")
    assert [r["step"] for r in evals] == [80, 160, 240]
    assert evals[-1]["top1"] == pytest.approx(result.top1)
    train_rows = read_metrics(run, "train")
    assert len(train_rows) == 240 // 5
    assert {"loss", "top1", "top5", "lr", "positions_per_s", "skipped"} <= set(train_rows[-1])
    assert train_rows[-1]["loss"] < train_rows[0]["loss"]
    assert (run / "tb").is_dir()


@needs_gnugo
def test_resume_continues_steps_and_keeps_the_optimizer(tmp_path, corpus, caplog):
    first = train_sl(tiny(tmp_path, corpus, max_steps=12, checkpoint_every=6))
    assert first.steps == 12
    ckpt12 = Path(first.checkpoint)
    caplog.set_level(logging.INFO, logger="igo.training.sl")
    again = train_sl(tiny(tmp_path, corpus, max_steps=12))  # nothing left to do: the same weights come back
    assert again.steps == 12 and Path(again.checkpoint) == ckpt12
    caplog.clear()
    second = train_sl(tiny(tmp_path, corpus, max_steps=20, checkpoint_every=6, lr=0.02))
    assert second.steps == 20 and second.samples == 20 * 32
    assert "resuming from sl-00000012.safetensors" in caplog.text
    assert "not restored" not in caplog.text
    run = Path(tmp_path / "run")
    assert [s for s, _ in RunDir(run, PREFIX).checkpoints()] == [6, 12, 18, 20]
    meta = read_metadata(run / "sl.safetensors")
    assert meta.step == 20 and meta.extra["samples"] == 640 and meta.extra["lr"] == pytest.approx(0.02)
    steps = [r["step"] for r in read_metrics(run, "train")]
    assert steps == [5, 10, 15, 20]
    # another optimizer: the weights go on, its state starts fresh (with a warning)
    caplog.clear()
    third = train_sl(tiny(tmp_path, corpus, max_steps=22, optimizer="adamw", lr=1e-3))
    assert third.steps == 22 and "optimizer state not restored" in caplog.text


@needs_gnugo
def test_refuses_another_model_size_or_corpus_in_a_run_dir(tmp_path, corpus):
    train_sl(tiny(tmp_path, corpus, max_steps=2))
    with pytest.raises(ValueError, match="model='lee-policy-tiny'"):
        train_sl(tiny(tmp_path, corpus, max_steps=4, model="lee-policy-64"))
    with pytest.raises(ValueError, match="size=7"):
        train_sl(tiny(tmp_path, corpus, max_steps=4, size=9))
    other = tmp_path / "other"
    write(other / "g.sgf", random_sgf(SIZE, 20, 1))
    with pytest.raises(ValueError, match="sgf_dir"):
        train_sl(tiny(tmp_path, other, max_steps=4))
    assert [s for s, _ in RunDir(tmp_path / "run", PREFIX).checkpoints()] == [2]


@needs_gnugo
def test_stop_event_saves_a_checkpoint(tmp_path, corpus):
    stop = threading.Event()

    def on_status(st):
        if st.step >= 7:
            stop.set()

    result = train_sl(tiny(tmp_path, corpus), on_status=on_status, stop=stop)
    assert result.stopped == "signal" and result.steps == 7
    assert read_metadata(tmp_path / "run" / "sl.safetensors").step == 7
    assert result.top1 is not None  # evaluated at the end


def test_no_sgf_files_and_bad_settings(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(SLRunError, match="no .sgf files"):
        train_sl(tiny(tmp_path, tmp_path / "empty", max_steps=1))
    write(tmp_path / "bad" / "x.sgf", b"nonsense")
    with pytest.raises(SLRunError, match="no usable 7x7 positions"):
        train_sl(tiny(tmp_path, tmp_path / "bad", name="bad-run", max_steps=1, holdout=0.0))
    for bad in ({"lr": 0.0}, {"optimizer": "adam"}, {"holdout": 1.0}, {"model": "lee-value-tiny"}, {"batch_size": 0},
                {"momentum": 1.0}, {"shuffle_buffer": 8}, {"model": "zero-tiny", "value_weight": -1.0},
                {"model": "zero-tiny", "value_weight": float("nan")}):  # fmt: skip
        with pytest.raises(ValueError):
            tiny(tmp_path, tmp_path / "empty", **bad)
    with pytest.raises(ValueError, match="unknown network config"):
        tiny(tmp_path, tmp_path / "empty", model="no-such-net")
    with pytest.raises(ValueError, match="unknown SL settings"):
        SLConfig.from_dict({"sgf_dir": "x", "run_dir": "y", "bogus": 1})
    with pytest.raises(ValueError, match="value_weight is for zero-\\* configs"):
        tiny(tmp_path, tmp_path / "empty", value_weight=0.1)  # a lee-policy net has no value head
    assert tiny(tmp_path, tmp_path / "empty").value_weight is None
    assert tiny(tmp_path, tmp_path / "empty", model="zero-tiny").value_weight == 0.25
    c = tiny(tmp_path, tmp_path / "empty", lr=0.1, lr_halve_every=1000)
    assert [c.lr_at(s) for s in (0, 999, 1000, 2500)] == [0.1, 0.1, 0.05, 0.025]
    assert SLConfig.from_dict(c.to_dict()) == c


# --- the command line -----------------------------------------------------------------------------------------------


@needs_gnugo
def test_cli_train_sl(tmp_path, corpus, capsys):
    from igo.cli import main

    run = tmp_path / "cli-run"
    base = ["train", "sl", "--run-dir", str(run), "--nn-threads", "1", "--device", "cpu"]
    new = ["--sgf", str(corpus), "--size", "7", "--config", "lee-policy-tiny", "--batch-size", "16",
           "--eval-every", "4", "--holdout", "0.2"]  # fmt: skip
    assert main(base + new + ["--max-steps", "6", "--shuffle-buffer", "64"]) == 0
    out = capsys.readouterr().out
    assert "held-out top-1" in out and "games skipped" in out and "sl-00000006.safetensors" in out
    # resume from config.json alone, JSON result
    assert main(base + ["--max-steps", "9", "--json"]) == 0
    d = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert d["steps"] == 9 and d["samples"] == 9 * 16 and d["skipped"] <= 4 and 0 <= d["top1"] <= 1
    # bad settings: 2; another size in the run dir: 2; nothing to train on: 1
    assert main(base + ["--holdout", "1.5"]) == 2
    assert main(base + ["--size", "9", "--max-steps", "12"]) == 2
    assert main(["train", "sl", "--run-dir", str(tmp_path / "new"), "--size", "7"]) == 2  # no --sgf
    assert main(["train", "sl", "--run-dir", str(tmp_path / "n2"), "--sgf", str(corpus), "--config", "nope"]) == 2
    (tmp_path / "none").mkdir()
    assert main(["train", "sl", "--run-dir", str(tmp_path / "n3"), "--sgf", str(tmp_path / "none")]) == 1
    assert "no .sgf files" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        main(["train", "sl", "--run-dir", str(run), "--lr", "-1"])
    assert e.value.code == 2


def test_cli_help(capsys):
    from igo.cli import main

    with pytest.raises(SystemExit) as e:
        main(["train", "sl", "--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert "--sgf DIR" in out and "examples:" in out and "lee-policy-64" in out
    flat = "".join(out.split())  # argparse wraps at hyphens too
    assert "lee-policy-*orzero-*" in flat and "--configzero-b6c64" in flat and "--value-weightW" in flat


# --- a Zero net's warm start ----------------------------------------------------------------------------------------


def zero_tiny(tmp_path: Path, sgf_dir: Path, name: str = "zrun", **kw) -> SLConfig:
    return tiny(tmp_path, sgf_dir, name, model="zero-tiny", **kw)


@needs_gnugo
def test_zero_tiny_run_writes_a_zero_checkpoint_that_plays(tmp_path, corpus, capsys):
    from igo.cli import main
    from igo.engine.board import BLACK, Board
    from igo.engine.options import PlayerOptions
    from igo.nets.checkpoint import RULES, network_komi
    from igo.nets.player import build_player

    statuses = []
    config = zero_tiny(tmp_path, corpus, max_steps=120, eval_every=60, checkpoint_every=60, batch_size=64)
    result = train_sl(config, on_status=statuses.append)
    run = Path(config.run_dir)
    assert result.steps == 120 and result.stopped == "max_steps"
    # the held-out value figures: over the held-out positions of decided games (7x7 at komi 7: GNU Go draws some)
    _, held = split_files(corpus, find_sgf_files(corpus), 0.2)
    decided = 0
    for f in held:
        record, _ = load_game(f, SIZE)
        if record is not None and record.result[:2] in ("B+", "W+"):
            decided += sum(1 for _ in iter_positions(record, include_passes=True))  # Zero nets learn passes
    assert result.value_positions == decided > 50 and result.holdout_positions >= decided
    assert 0 < result.value_mse < 4 and 0 <= result.value_sign <= 1
    assert result.top1 > uniform_top1(corpus, 0.2) and result.top5 >= result.top1
    assert result.komi == 7.0  # two broken 7x7 files without KM count as komi 0: the most common wins
    assert "value MSE" in result.line() and "komi 7" in result.line()
    assert "value MSE" in statuses[-1].line() and statuses[-1].eval_value_mse == pytest.approx(result.value_mse)
    # an ordinary Zero checkpoint: the komi of the corpus and igo's rules, the held-out figures
    model, meta = load_checkpoint(run / "sl.safetensors", expect_kind="zero")
    assert meta.config_name == "zero-tiny" and meta.feature_set == "zero8" and meta.step == 120
    assert meta.komi == 7.0 and meta.rules == RULES and network_komi(run / "sl.safetensors", default=7.5) == 7.0
    assert meta.extra["trainer"] == "sl" and meta.extra["value_weight"] == 0.25
    assert meta.extra["holdout_value_mse"] == pytest.approx(result.value_mse)
    assert [s for s, _ in RunDir(run, PREFIX).checkpoints()] == [60, 120]
    evals = read_metrics(run, "eval")
    assert [r["step"] for r in evals] == [60, 120] and evals[-1]["value_mse"] == pytest.approx(result.value_mse)
    assert {"value_sign", "value_positions"} <= set(evals[-1])
    train_rows = read_metrics(run, "train")
    assert {"loss", "policy_loss", "value_mse", "top1"} <= set(train_rows[-1])
    assert train_rows[-1]["loss"] < train_rows[0]["loss"]
    # loss = policy + 0.25 * value MSE, up to how the window averages: each step's loss divides the value error by its
    # own batch's decided positions, the window's value MSE by all of them (undecided games make these differ)
    for row in train_rows:
        assert row["loss"] == pytest.approx(row["policy_loss"] + 0.25 * row["value_mse"], rel=1e-2)
    # igo model info reads it; the normal player plays a legal move with it (lambda = 0 search)
    assert main(["model", "info", str(run / "sl.safetensors")]) == 0
    out = capsys.readouterr().out
    assert "zero-tiny (zero)" in out and "komi         7" in out
    player = build_player(PlayerOptions(model=str(run / "sl.safetensors"), device="cpu", playouts=16, seed=1,
                                        resign=0.0), SIZE)  # fmt: skip
    assert player.evaluator is not None and player.config.search.lam == 0
    board = Board(SIZE, 7.0)
    for _ in range(4):
        move = player.genmove(board, board.to_move)
        assert move != "resign"
        board.play(None if move == "pass" else move)  # IllegalMoveError for an illegal move
    assert board.to_move == BLACK


def test_zero_value_targets_of_undecided_games_are_masked(tmp_path):
    """Games that are draws or have no result train the policy only: with no weight decay the value head's weights
    stay exactly as they were built; the games are counted and no held-out value figure comes."""
    import torch

    from igo.nets.config import get_config
    from igo.nets.models import build_model

    corpus = tmp_path / "undecided"
    for i in range(12):
        write(corpus / f"g{i:02d}.sgf", random_sgf(SIZE, 30, 60 + i, **({"result": "0"} if i % 2 else {})))
    config = zero_tiny(tmp_path, corpus, max_steps=6, weight_decay=0.0, holdout=0.3, seed=4)
    result = train_sl(config)
    assert result.steps == 6 and result.holdout_positions > 0
    assert result.value_positions == 0 and result.value_mse is None and result.value_sign is None
    assert result.undecided >= 12
    torch.manual_seed(4)
    fresh = build_model(get_config("zero-tiny"), SIZE)
    trained, _ = load_checkpoint(Path(config.run_dir) / "sl.safetensors", expect_kind="zero")
    fresh_params, trained_params = dict(fresh.named_parameters()), dict(trained.named_parameters())
    value_head = [k for k in fresh_params if k.startswith("value")]
    policy_head = [k for k in fresh_params if k.startswith("policy")]
    assert value_head and policy_head
    for k in value_head:
        torch.testing.assert_close(trained_params[k], fresh_params[k], rtol=0, atol=0)
    assert any(not torch.equal(trained_params[k], fresh_params[k]) for k in policy_head)
    rows = read_metrics(Path(config.run_dir), "train")
    assert rows and all(r["value_mse"] is None and r["loss"] == pytest.approx(r["policy_loss"]) for r in rows)


def test_zero_evaluate_masks_positions_without_a_result():
    import torch

    from igo.training.sl import evaluate

    class Fixed(torch.nn.Module):  # logits favour point 0; the value of sample i is given
        def __init__(self, values):
            super().__init__()
            self.v = torch.tensor(values)

        def forward(self, x):
            logits = torch.zeros(len(x), SIZE * SIZE + 1)
            logits[:, 0] = 5.0
            return logits, self.v[: len(x)]

    packed = np.zeros((4, (17 * SIZE * SIZE + 7) // 8), np.uint8)
    targets = np.array([0, 1, 0, 2])
    z = np.array([1, -1, 0, -1], np.int8)
    res = evaluate(Fixed([0.5, 0.5, 0.9, -0.2]), packed, targets, SIZE, "cpu", False, values=z, planes=17)
    assert res["value_positions"] == 3
    assert res["value_mse"] == pytest.approx((0.25 + 2.25 + 0.64) / 3)  # the third position is left out
    assert res["value_sign"] == pytest.approx(2 / 3) and res["top1"] == 0.5
    none = evaluate(Fixed([0.5] * 4), packed, targets, SIZE, "cpu", False, values=np.zeros(4, np.int8), planes=17)
    assert none["value_positions"] == 0 and none["value_mse"] is None


@needs_gnugo
def test_zero_resume_keeps_steps_komi_and_value_weight(tmp_path, corpus, caplog):
    first = train_sl(zero_tiny(tmp_path, corpus, max_steps=6, checkpoint_every=3))
    assert first.steps == 6 and first.komi == 7.0
    hours6 = read_metadata(tmp_path / "zrun" / "sl.safetensors").extra["cpu_hours"]
    assert hours6 > 0
    caplog.set_level(logging.INFO, logger="igo.training.sl")
    second = train_sl(zero_tiny(tmp_path, corpus, max_steps=10, value_weight=0.01))
    assert second.steps == 10 and second.samples == 10 * 32 and second.komi == 7.0
    assert "resuming from sl-00000006.safetensors" in caplog.text and "not restored" not in caplog.text
    meta = read_metadata(tmp_path / "zrun" / "sl.safetensors")
    assert meta.step == 10 and meta.komi == 7.0 and meta.extra["value_weight"] == 0.01
    assert meta.extra["cpu_hours"] > hours6  # CPU-hours add up over invocations
    with pytest.raises(ValueError, match="model='zero-tiny'"):
        train_sl(tiny(tmp_path, corpus, "zrun", max_steps=12))  # a lee-policy net in a Zero run directory


@needs_gnugo
def test_cli_train_sl_zero(tmp_path, corpus, capsys):
    from igo.cli import main

    run = tmp_path / "cli-zero"
    base = ["train", "sl", "--run-dir", str(run), "--nn-threads", "1", "--device", "cpu"]
    new = ["--sgf", str(corpus), "--size", "7", "--config", "zero-tiny", "--batch-size", "16", "--eval-every", "4",
           "--holdout", "0.2", "--shuffle-buffer", "64", "--value-weight", "0.5"]  # fmt: skip
    assert main(base + new + ["--max-steps", "4"]) == 0
    out = capsys.readouterr().out
    assert "value MSE" in out and "komi 7" in out and "sl-00000004.safetensors" in out
    assert json.loads((run / "config.json").read_text())["value_weight"] == 0.5
    assert main(base + ["--max-steps", "6", "--json"]) == 0
    d = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert d["steps"] == 6 and d["komi"] == 7.0 and 0 <= d["value_mse"] and d["value_positions"] > 0
    # --value-weight with a lee-policy config: a usage error that names the option
    lee = ["train", "sl", "--run-dir", str(tmp_path / "lee"), "--sgf", str(corpus), "--config", "lee-policy-tiny"]
    assert main(lee + ["--value-weight", "0.1"]) == 2
    assert "value_weight is for zero-* configs" in capsys.readouterr().err
    assert not (tmp_path / "lee").exists()
