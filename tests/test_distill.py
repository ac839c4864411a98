"""Tests of training/distill.py and ``igo train distill``: the loss (alpha = 0 is the hard-target gradient exactly,
alpha = 1 the teacher's, the value mix), distillation moving a student toward a teacher on fixed 5x5 data, alpha = 0
giving the very weights of ``igo train sl``, bad options and mismatched networks refused, resume, replay chunks read
read-only (damaged ones skipped), and the command line."""

from __future__ import annotations

import argparse
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from igo.nets.checkpoint import RULES, load_checkpoint, read_metadata, save_checkpoint
from igo.nets.config import ZeroConfig, get_config
from igo.nets.models import build_model, parameter_count
from igo.training.common import read_metrics
from igo.training.distill import (
    PREFIX,
    DistillConfig,
    check_networks,
    distill_loss,
    soft_kl,
    train_distill,
)
from igo.training.distill_data import read_replay
from igo.training.run import RunDir

from .test_sgf_data import random_sgf, write

SIZE = 5
A = SIZE * SIZE + 1


@pytest.fixture(autouse=True)
def one_thread():
    torch.set_num_threads(1)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    """40 random 5x5 games of 30 moves with decisive results, and 4 without a result."""
    root = tmp_path_factory.mktemp("distill-sgf")
    for i in range(40):
        write(root / f"g{i:03d}.sgf", random_sgf(SIZE, 30, i, result="B+R" if i % 2 else "W+3.5", komi=7.0))
    for i in range(40, 44):
        write(root / f"g{i:03d}.sgf", random_sgf(SIZE, 30, i, komi=7.0))
    return root


def zero_net(name: str = "zero-tiny", size: int = SIZE, seed: int = 0, sharpen: float = 1.0, **cfg):
    torch.manual_seed(seed)
    model = build_model(ZeroConfig(name, **cfg) if cfg else get_config(name), size)
    with torch.no_grad():
        model.policy_fc.weight.mul_(sharpen)  # a confident teacher: far from a fresh student's near-uniform policy
    return model


@pytest.fixture(scope="module")
def nets(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("distill-nets")
    out = {
        "teacher": save_checkpoint(root / "teacher.safetensors", zero_net(seed=5, sharpen=30), step=7, komi=7.0),
        "other": save_checkpoint(root / "other.safetensors", zero_net(seed=9, sharpen=30), step=3, komi=7.0),
        "seven": save_checkpoint(root / "seven.safetensors", zero_net(size=7), step=1),
        "h4": save_checkpoint(root / "h4.safetensors", zero_net("zero-h4", blocks=1, channels=8, history=4), step=1),
        "lee": save_checkpoint(root / "lee.safetensors", build_model(get_config("lee-policy-tiny"), SIZE)),
        "student": save_checkpoint(root / "student.safetensors", zero_net("zero-b2c32", seed=2), step=11),
    }
    return out


def config(tmp_path: Path, nets, corpus, name: str = "run", **kw) -> DistillConfig:
    settings = dict(teacher=str(nets["teacher"]), run_dir=str(tmp_path / name), model="zero-tiny",
                    sgf_dir=str(corpus), holdout=0.3, batch_size=32, shuffle_buffer=64, eval_every=20,
                    checkpoint_every=20, log_every=5, threads=1, device="cpu")  # fmt: skip
    settings.update(kw)
    return DistillConfig(**settings)


def grads(loss_fn, *tensors):
    leaves = [t.detach().clone().requires_grad_(True) for t in tensors]
    loss_fn(*leaves).backward()
    return [t.grad for t in leaves]


# --- the loss ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("soft_target", [False, True])
def test_alpha_zero_is_exactly_the_hard_target_gradient(soft_target):
    g = torch.Generator().manual_seed(1)
    logits, value = torch.randn(16, A, generator=g), torch.tanh(torch.randn(16, generator=g))
    target = torch.softmax(3 * torch.randn(16, A, generator=g), 1) if soft_target else torch.randint(0, A, (16,))
    z = torch.tensor([1, -1, 0, 1] * 4, dtype=torch.int8)  # 0: no outcome, left out of the value term
    mask = z != 0
    t_logits, t_value = 5 * torch.randn(16, A, generator=g), torch.randn(16, generator=g)

    def ours(lg, v, teacher=True):
        return distill_loss(lg, v, target, z, mask, t_logits if teacher else None, t_value if teacher else None,
                            temperature=2.0, alpha=0.0, value_weight=0.25)[0]  # fmt: skip

    def manual(lg, v):
        ce = (F.cross_entropy(lg, target) if not soft_target
              else -(target * torch.log_softmax(lg, 1)).sum(1).mean())  # fmt: skip
        return ce + 0.25 * ((v - z.float())[mask] ** 2).mean()

    want = grads(manual, logits, value)
    for teacher in (True, False):  # the teacher's outputs make no difference at alpha 0
        got = grads(lambda lg, v, t=teacher: ours(lg, v, t), logits, value)
        for a, b in zip(got, want, strict=True):
            torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-8)
    assert float(ours(logits, value)) == pytest.approx(float(manual(logits, value)), rel=1e-6)


def test_alpha_one_is_the_teacher_only_and_the_value_mixes():
    g = torch.Generator().manual_seed(2)
    logits, value = torch.randn(8, A, generator=g), torch.tanh(torch.randn(8, generator=g))
    t_logits, t_value = 4 * torch.randn(8, A, generator=g), torch.tanh(torch.randn(8, generator=g))
    z = torch.tensor([1, -1] * 4, dtype=torch.int8)
    mask = z != 0
    T = 3.0

    def ours(target, alpha):
        return lambda lg, v: distill_loss(lg, v, target, z, mask, t_logits, t_value, temperature=T, alpha=alpha,
                                          value_weight=0.5)[0]  # fmt: skip

    def manual_kl(lg):
        p_t = torch.softmax(t_logits / T, 1)
        return (p_t * (torch.log(p_t) - torch.log_softmax(lg / T, 1))).sum(1).mean()

    # alpha 1: T^2 KL + value_weight * MSE to the teacher's values; the hard targets do not matter
    want = grads(lambda lg, v: T * T * manual_kl(lg) + 0.5 * ((v - t_value) ** 2).mean(), logits, value)
    for target in (torch.zeros(8, dtype=torch.long), torch.arange(8)):
        for a, b in zip(grads(ours(target, 1.0), logits, value), want, strict=True):
            torch.testing.assert_close(a, b)
    assert float(soft_kl(logits, t_logits, T)) == pytest.approx(float(manual_kl(logits)), rel=1e-5)
    # alpha 0.3: the value gradient is that of the MSE to the mix 0.3 v_t + 0.7 z (every position has an outcome)
    mix = 0.3 * t_value + 0.7 * z.float()
    got = grads(ours(torch.arange(8), 0.3), logits, value)[1]
    torch.testing.assert_close(got, grads(lambda v: 0.5 * ((v - mix) ** 2).mean(), value)[0])


# --- settings and networks -----------------------------------------------------------------------------------------


def test_bad_options_and_mismatched_networks_are_refused(tmp_path, nets, corpus):
    for kw, words in [
        ({"temperature": 0}, "temperature must be > 0"),
        ({"temperature": -1.0}, "temperature must be > 0"),
        ({"temperature": float("nan")}, "temperature"),
        ({"alpha": -0.1}, "alpha must be in [0, 1]"),
        ({"alpha": 1.5}, "alpha must be in [0, 1]"),
        ({"replay_dir": str(tmp_path)}, "give one data directory"),
        ({"sgf_dir": None}, "give one data directory"),
        ({"model": None}, "give the student"),
        ({"model": "lee-policy-tiny"}, "must be a zero-* config"),
        ({"holdout": 0}, "holdout"),
    ]:
        with pytest.raises(ValueError, match=re.escape(words)):
            config(tmp_path, nets, corpus, **kw)
    with pytest.raises(ValueError, match="unknown network config 'zero-nope'"):
        config(tmp_path, nets, corpus, model="zero-nope")
    # the networks: size and history length must be the teacher's, both Zero nets
    for kw, words in [
        ({"teacher": str(nets["lee"])}, "needs a zero-* teacher"),
        ({"student": str(nets["seven"]), "model": None}, "must read the same board"),
        ({"teacher": str(nets["h4"])}, "must read the same planes"),
        ({"size": 7}, "the teacher plays 5x5"),
        ({"student": str(nets["student"])}, "holds a zero-b2c32 net"),  # --config zero-tiny and a zero-b2c32 file
    ]:
        cfg = config(tmp_path, nets, corpus, **kw)
        with pytest.raises(ValueError, match=re.escape(words)):
            check_networks(cfg, cfg.student)
        with pytest.raises(ValueError, match=re.escape(words)):
            train_distill(cfg)
        assert not Path(cfg.run_dir).exists()  # refused before anything is written
    cfg = config(tmp_path, nets, corpus, student=str(nets["student"]), model=None)
    meta, net = check_networks(cfg, cfg.student)
    assert (cfg.model, cfg.size, net.channels, meta.config_name) == ("zero-b2c32", SIZE, 32, "zero-tiny")


# --- runs ----------------------------------------------------------------------------------------------------------


def test_distillation_moves_the_student_toward_the_teacher(tmp_path, nets, corpus, capsys):
    from igo.engine.board import Board
    from igo.engine.options import PlayerOptions
    from igo.nets.player import build_player

    statuses = []
    result = train_distill(config(tmp_path, nets, corpus, alpha=1.0, max_steps=40), on_status=statuses.append)
    run = tmp_path / "run"
    evals = read_metrics(run, "eval")
    assert [r["step"] for r in evals] == [0, 20, 40]
    first, last = evals[0], evals[-1]
    assert last["kl"] < 0.7 * first["kl"] and last["agree"] > first["agree"]  # the held-out KL falls
    assert last["value_mse_teacher"] < first["value_mse_teacher"]
    assert result.steps == 40 and result.held_out["kl"] == pytest.approx(last["kl"])
    teacher_row = read_metrics(run, "teacher")[0]
    assert teacher_row["config"] == "zero-tiny" and 0 <= teacher_row["top1"] <= 1
    assert result.teacher_held_out["top1"] == pytest.approx(teacher_row["top1"])
    # held out: the files of a 0.3 split, all their positions; value targets only where the game has a result
    assert result.holdout_positions == evals[0]["positions"] > 50
    assert 0 < evals[0]["value_positions"] <= result.holdout_positions
    assert result.student_parameters == parameter_count(zero_net()) and result.teacher_parameters > 0
    train_rows = read_metrics(run, "train")
    assert {"loss", "kd_loss", "hard_loss", "agree", "value_mse"} <= set(train_rows[-1])
    assert "agree" in statuses[-1].line() and statuses[-1].step == 40
    # an ordinary Zero checkpoint: the corpus' komi, igo's rules, the distillation's facts; it plays
    model, meta = load_checkpoint(run / "distill.safetensors", expect_kind="zero")
    assert meta.config_name == "zero-tiny" and meta.step == 40 and meta.komi == 7.0 and meta.rules == RULES
    assert meta.extra["trainer"] == "distill" and meta.extra["alpha"] == 1.0 and meta.extra["temperature"] == 2.0
    assert meta.extra["teacher"] == str(nets["teacher"]) and meta.extra["holdout_kl"] == pytest.approx(last["kl"])
    player = build_player(PlayerOptions(model=str(run / "distill.safetensors"), device="cpu", playouts=8, seed=1,
                                        resign=0.0), SIZE)  # fmt: skip
    board = Board(SIZE, 7.0)
    move = player.genmove(board, board.to_move)
    board.play(None if move == "pass" else move)


def test_alpha_zero_trains_the_same_weights_as_train_sl(tmp_path, nets, corpus):
    """The hard-target baseline is igo train sl's Zero training, step for step: the same seed, data and settings
    give the same weights (the teacher is only evaluated, never run in training)."""
    from igo.training.sl import SLConfig, train_sl

    common = dict(holdout=0.3, batch_size=32, shuffle_buffer=64, max_steps=12, eval_every=5, checkpoint_every=50,
                  log_every=5, threads=1, device="cpu", seed=3)  # fmt: skip
    train_distill(config(tmp_path, nets, corpus, "d", alpha=0.0, **common))
    train_distill(config(tmp_path, nets, corpus, "d2", alpha=0.0, teacher=str(nets["other"]), **common))
    train_sl(SLConfig(sgf_dir=str(corpus), run_dir=str(tmp_path / "sl"), size=SIZE, model="zero-tiny", **common))
    sl = load_checkpoint(tmp_path / "sl" / "sl.safetensors")[0].state_dict()
    for run in ("d", "d2"):
        ours = load_checkpoint(tmp_path / run / "distill.safetensors")[0].state_dict()
        for k, v in sl.items():
            assert torch.equal(ours[k], v), k
    # and distillation (alpha > 0) does change them
    train_distill(config(tmp_path, nets, corpus, "d3", alpha=0.5, **common))
    ours = load_checkpoint(tmp_path / "d3" / "distill.safetensors")[0].state_dict()
    assert not torch.equal(ours["policy_fc.weight"], sl["policy_fc.weight"])


def test_resume_continues_the_step_count(tmp_path, nets, corpus, capsys):
    cfg = config(tmp_path, nets, corpus, max_steps=10, checkpoint_every=4, eval_every=4)
    assert train_distill(cfg).steps == 10
    assert [s for s, _ in RunDir(cfg.run_dir, PREFIX).checkpoints()] == [4, 8, 10]
    capsys.readouterr()
    result = train_distill(config(tmp_path, nets, corpus, max_steps=14, checkpoint_every=4, eval_every=4))
    assert result.steps == 14 and result.samples == 14 * 32
    err = capsys.readouterr().err
    assert "resuming run" in err and "at step 10" in err
    assert [r["step"] for r in read_metrics(cfg.run_dir, "eval")] == [0, 4, 8, 10, 12, 14]
    assert read_metadata(Path(cfg.run_dir) / "distill.safetensors").step == 14
    # the run's identity: another teacher or data directory is refused, nothing trained
    with pytest.raises(ValueError, match="teacher"):
        train_distill(config(tmp_path, nets, corpus, teacher=str(nets["other"]), max_steps=20))
    with pytest.raises(ValueError, match="is zero-b2c32 but .*distill-00000014.safetensors holds a zero-tiny net"):
        train_distill(config(tmp_path, nets, corpus, model="zero-b2c32", max_steps=20))
    with pytest.raises(ValueError, match="sgf_dir"):
        train_distill(config(tmp_path, nets, corpus.parent, max_steps=20))
    assert read_metadata(Path(cfg.run_dir) / "distill.safetensors").step == 14


def test_a_student_checkpoint_is_continued(tmp_path, nets, corpus):
    result = train_distill(config(tmp_path, nets, corpus, student=str(nets["student"]), model=None, max_steps=3))
    meta = read_metadata(tmp_path / "run" / "distill.safetensors")
    assert meta.config_name == "zero-b2c32" and meta.parent == str(nets["student"]) and result.steps == 3
    # its first held-out figures are those of the checkpoint it started from
    from igo.training.distill import held_metrics
    from igo.training.distill_data import HeldOut, forward_all
    from igo.training.sgf_data import encode_positions, find_sgf_files, split_files

    start, _ = load_checkpoint(nets["student"])
    teacher, _ = load_checkpoint(nets["teacher"])
    packed, targets, z, _ = encode_positions(split_files(corpus, find_sgf_files(corpus), 0.3)[1], SIZE,
                                             packed=True, features="zero8")  # fmt: skip
    held = HeldOut(packed, targets, z.astype(np.float32), z != 0)
    want = held_metrics(*forward_all(start, packed, 17, SIZE, "cpu", False), held,
                        forward_all(teacher, packed, 17, SIZE, "cpu", False))  # fmt: skip
    first = read_metrics(tmp_path / "run", "eval")[0]
    assert first["step"] == 0 and result.student_parameters == parameter_count(start)
    assert first["kl"] == pytest.approx(want["kl"], rel=1e-5) and first["top1"] == pytest.approx(want["top1"])
    assert json.loads((tmp_path / "run" / "config.json").read_text())["model"] == "zero-b2c32"


# --- replay chunks -------------------------------------------------------------------------------------------------


def replay_dir(root: Path, games: int = 40, size: int = SIZE, seed: int = 0) -> Path:
    from igo.engine.planes import pack_planes
    from igo.selfplay.replay import ReplayBuffer

    rng = np.random.default_rng(seed)
    buf = ReplayBuffer(size, 17, 10_000, directory=root)
    for _ in range(4):
        batch = []
        for _game in range(games // 4):
            n = int(rng.integers(5, 12))
            planes = pack_planes(rng.integers(0, 2, size=(n, 17, size, size)).astype(np.uint8))
            policy = rng.dirichlet(np.full(size * size + 1, 0.3), size=n).astype(np.float32)
            batch.append({"planes": planes, "policy": policy, "value": rng.choice([-1.0, 1.0], size=n)})
        buf.add(batch)
    return root


def hostile_chunks(root: Path) -> None:
    """A torn chunk, one of pickled objects, and one whose .npy header claims a terabyte."""
    import io
    import zipfile

    (root / "chunk-00000097.npz").write_bytes(b"PK\x03\x04 not a zip")
    np.savez(root / "chunk-00000098.npz", planes=np.array([{"x": 1}], dtype=object), size=np.int32(SIZE))
    head = io.BytesIO()
    np.lib.format.write_array_header_1_0(head, {"descr": "|u1", "fortran_order": False, "shape": (10**12,)})
    with zipfile.ZipFile(root / "chunk-00000099.npz", "w") as zf:
        zf.writestr("planes.npy", head.getvalue() + b"\0" * 64)


def test_replay_chunks_are_read_read_only_and_split_by_game(tmp_path, nets, caplog):
    root = replay_dir(tmp_path / "replay")
    hostile_chunks(root)  # skipped with a warning each, nothing decompressed or unpickled
    before = sorted((p.name, p.stat().st_mtime_ns) for p in root.iterdir())
    train, held, stats = read_replay(root, SIZE, 17, 0.25, 10_000)
    assert stats["skipped"] == 3 and caplog.text.count("skipping unreadable replay chunk") == 3
    assert "Python objects" in caplog.text and "more than 1073741824 bytes" in caplog.text
    assert len(train) + len(held) == stats["positions"] > 0 and 0 < len(held) < len(train)
    assert stats["games"] == 40 and np.allclose(train.policy.astype(np.float32).sum(1), 1, atol=2e-3)
    assert sorted((p.name, p.stat().st_mtime_ns) for p in root.iterdir()) == before  # nothing written or deleted
    again = read_replay(root, SIZE, 17, 0.25, 10_000)[1]
    np.testing.assert_array_equal(again.planes, held.planes)  # the same split every time
    small = read_replay(root, SIZE, 17, 0.25, 1)  # the newest chunk only
    assert small[2]["positions"] < stats["positions"]
    with pytest.raises(ValueError, match="this run needs 17 planes of 7x7"):
        read_replay(root, 7, 17, 0.25, 10_000)

    cfg = config(tmp_path, nets, None, sgf_dir=None, replay_dir=str(root), holdout=0.25, max_steps=20,
                 eval_every=10)  # fmt: skip
    result = train_distill(cfg)
    assert result.steps == 20 and result.holdout_positions == len(held) and result.komi == 7.0
    evals = read_metrics(cfg.run_dir, "eval")
    assert evals[-1]["kl"] < evals[0]["kl"] and evals[-1]["value_positions"] == len(held)
    assert sorted((p.name, p.stat().st_mtime_ns) for p in root.iterdir()) == before


# --- the command line ----------------------------------------------------------------------------------------------


def parser() -> argparse.ArgumentParser:
    from igo.train_distill_cmd import add_parser

    p = argparse.ArgumentParser(prog="igo train")
    add_parser(p.add_subparsers(dest="trainer"))
    return p


def run_cli(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    return args.run(args)


def test_cli_new_run_resume_and_errors(tmp_path, nets, corpus, capsys):
    run = tmp_path / "cli"
    base = ["distill", "--run-dir", str(run), "--nn-threads", "1", "--device", "cpu"]
    new = ["--teacher", str(nets["teacher"]), "--config", "zero-tiny", "--sgf", str(corpus), "--batch-size", "16",
           "--shuffle-buffer", "32", "--holdout", "0.3", "--eval-every", "4", "--alpha", "0.5",
           "--temperature", "3"]  # fmt: skip
    assert run_cli(base + new + ["--max-steps", "4"]) == 0
    out = capsys.readouterr().out
    assert "agrees with the teacher" in out and "distill-00000004.safetensors" in out
    stored = json.loads((run / "config.json").read_text())
    assert stored["alpha"] == 0.5 and stored["temperature"] == 3.0 and stored["size"] == SIZE
    assert run_cli(base + ["--max-steps", "6", "--json"]) == 0  # resume from config.json alone
    d = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert d["steps"] == 6 and d["samples"] == 6 * 16 and 0 <= d["held_out"]["agree"] <= 1
    # bad settings: 2; a mismatched teacher: 2; another data directory for the run: 2; no data: 1
    for bad in (["--alpha", "2"], ["--temperature", "0"], ["--temperature", "-1"]):
        assert run_cli(base + bad + ["--max-steps", "8"]) == 2
    assert "alpha must be in [0, 1]" in capsys.readouterr().err
    fresh = ["distill", "--run-dir", str(tmp_path / "n1"), "--config", "zero-tiny", "--sgf", str(corpus)]
    assert run_cli(fresh) == 2 and "--teacher CKPT is required" in capsys.readouterr().err
    assert run_cli(fresh + ["--teacher", str(nets["h4"])]) == 2 and "same planes" in capsys.readouterr().err
    assert run_cli(base + ["--replay", str(tmp_path)]) == 2
    assert "cannot go on with --replay" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert run_cli(["distill", "--run-dir", str(tmp_path / "n2"), "--teacher", str(nets["teacher"]), "--config",
                    "zero-tiny", "--sgf", str(tmp_path / "empty")]) == 1  # fmt: skip
    assert "no .sgf files" in capsys.readouterr().err


def test_cli_help(capsys):
    with pytest.raises(SystemExit) as e:
        parser().parse_args(["distill", "--help"])
    assert e.value.code == 0
    flat = "".join(capsys.readouterr().out.split())
    for words in ("--teacherCKPT", "--configNAME", "--studentCKPT", "--replayDIR", "--temperatureT", "--alphaA",
                  "examples:", "Hinton", "T^2*KL"):  # fmt: skip
        assert words in flat, words


def test_igo_train_distill_through_the_igo_command(tmp_path, nets, corpus, capsys):
    """Once ``igo train`` registers the subcommand (igo/train_cmd.py), it runs through igo.cli.main."""
    from igo.cli import main

    with pytest.raises(SystemExit):
        main(["train", "--help"])
    if "distill" not in capsys.readouterr().out:
        pytest.skip("igo train does not register 'distill' yet (igo/train_cmd.py)")
    run = tmp_path / "main"
    assert main(["train", "distill", "--run-dir", str(run), "--teacher", str(nets["teacher"]), "--config",
                 "zero-tiny", "--sgf", str(corpus), "--max-steps", "2", "--batch-size", "8", "--shuffle-buffer",
                 "16", "--holdout", "0.3", "--nn-threads", "1", "--device", "cpu"]) == 0  # fmt: skip
    assert read_metadata(run / "distill.safetensors").step == 2
    shutil.rmtree(run)
