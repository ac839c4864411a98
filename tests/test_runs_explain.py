"""Runs that explain themselves (issue 16, item 4): ``latest.safetensors`` in a Zero run, komi and rules in every
checkpoint's metadata (and used by ``igo gtp`` / ``igo play`` unless ``--komi`` is given), the resume line on stderr,
rates of this invocation only, the false-resignation legend, the default evaluation, and checkpoint retention."""

from __future__ import annotations

import io
import json
import logging
import math
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from igo.nets.checkpoint import (
    RULES,
    CheckpointError,
    load_checkpoint,
    network_komi,
    read_metadata,
    save_checkpoint,
)
from igo.nets.config import get_config
from igo.nets.models import build_model
from igo.training.run import Retention, RunDir

from .checkpoint_helpers import rewrite

ROOT = Path(__file__).resolve().parents[1]
SIZE = 5

torch.set_num_threads(1)


def tiny_net():
    torch.manual_seed(0)
    return build_model(get_config("zero-tiny"), SIZE)


# --- komi and rules in the metadata ----------------------------------------------------------------------------------


def test_komi_and_rules_round_trip_and_old_checkpoints_still_load(tmp_path):
    path = save_checkpoint(tmp_path / "k.safetensors", tiny_net(), step=3, komi=0.5, rules=RULES)
    meta = read_metadata(path)
    assert (meta.komi, meta.rules) == (0.5, "tromp-taylor")
    assert meta.to_dict()["komi"] == 0.5 and meta.to_dict()["rules"] == RULES
    # a checkpoint written before igo recorded them (no fields at all) loads, komi and rules unknown
    old = rewrite(path, tmp_path / "old.safetensors", meta=lambda d: (d.pop("komi"), d.pop("rules")))
    model, meta = load_checkpoint(old, board_size=SIZE, expect_kind="zero")
    assert meta.komi is None and meta.rules is None and "komi" not in meta.to_dict()
    # an integer komi in the JSON reads as a float
    whole = rewrite(path, tmp_path / "whole.safetensors", meta=lambda d: d.update(komi=7))
    assert read_metadata(whole).komi == 7.0 and isinstance(read_metadata(whole).komi, float)


@pytest.mark.parametrize(
    "field, value, fragment",
    [
        ("komi", float("nan"), "komi must be finite"),
        ("komi", float("inf"), "komi must be finite"),
        ("komi", 1000.5, "within +-1000"),
        ("komi", -(10**400), "within +-1000"),
        ("komi", "7.5", "komi must be a number"),
        ("komi", True, "komi must be a number"),
        ("komi", [7.5], "komi must be a number"),
        ("rules", 7, "rules must be a string"),
        ("rules", "x" * 201, "at most 200 characters"),
    ],
)
def test_hostile_komi_or_rules_are_refused(tmp_path, field, value, fragment):
    path = save_checkpoint(tmp_path / "k.safetensors", tiny_net(), komi=7.5, rules=RULES)
    bad = rewrite(path, tmp_path / "bad.safetensors", meta=lambda d: d.update({field: value}))
    with pytest.raises(CheckpointError, match=f"bad.safetensors.*metadata field {field}") as e:
        read_metadata(bad)
    assert fragment in str(e.value)
    with pytest.raises(CheckpointError):
        network_komi(bad, default=7.5)


def test_save_refuses_a_bad_komi(tmp_path):
    for komi in (float("nan"), 1e6, "7"):
        with pytest.raises(ValueError, match="komi"):
            save_checkpoint(tmp_path / "k.safetensors", tiny_net(), komi=komi)
    assert not (tmp_path / "k.safetensors").exists()


def test_network_komi_picks_the_first_recorded(tmp_path):
    with_komi = save_checkpoint(tmp_path / "a.safetensors", tiny_net(), komi=0.5)
    without = save_checkpoint(tmp_path / "b.safetensors", tiny_net())
    assert network_komi(None, without, with_komi, default=7.5) == 0.5
    assert network_komi(without, default=7.5) == 7.5
    assert network_komi(None, None, default=6.5) == 6.5


def test_model_info_shows_komi_and_rules(tmp_path, capsys):
    from igo.cli import main

    path = save_checkpoint(tmp_path / "k.safetensors", tiny_net(), komi=0.5, rules=RULES)
    assert main(["model", "info", str(path)]) == 0
    out = capsys.readouterr().out
    assert "komi         0.5" in out and "rules        tromp-taylor" in out
    assert main(["model", "info", str(path), "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["komi"] == 0.5 and d["rules"] == RULES
    old = save_checkpoint(tmp_path / "old.safetensors", tiny_net())
    assert main(["model", "info", str(old)]) == 0
    assert "komi         - (not recorded)" in capsys.readouterr().out


def _gtp(*args: str) -> str:
    out = subprocess.run([sys.executable, "-m", "igo", "gtp", *args], input="printsgf\nquit\n", capture_output=True,
                         text=True, cwd=ROOT, timeout=300)  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout


def test_gtp_plays_at_the_networks_komi_unless_told(tmp_path):
    path = save_checkpoint(tmp_path / "k.safetensors", tiny_net(), komi=0.5, rules=RULES)
    assert "KM[0.5]" in _gtp("--model", str(path), "--playouts", "4")
    assert "KM[6.5]" in _gtp("--model", str(path), "--playouts", "4", "--komi", "6.5")


def test_play_uses_the_networks_komi_unless_told(tmp_path, capsys, monkeypatch):
    from igo.cli import main

    with_komi = save_checkpoint(tmp_path / "k.safetensors", tiny_net(), komi=0.5)
    without = save_checkpoint(tmp_path / "old.safetensors", tiny_net())
    for argv, komi in (([str(with_komi)], "0.5"), ([str(with_komi), "--komi", "2.5"], "2.5"), ([str(without)], "7.5")):
        monkeypatch.setattr(sys, "stdin", io.StringIO(""))  # input ends at once: the game starts and is left
        assert main(["play", "--playouts", "4", "--model", *argv]) == 0
        assert f"{SIZE}x{SIZE}, komi {komi}." in capsys.readouterr().out


# --- retention -------------------------------------------------------------------------------------------------------


def _fake_run(path: Path, steps) -> RunDir:
    """A run directory whose checkpoints and optimizer files are placeholders (thinning reads no file)."""
    rd = RunDir(path)
    for s in steps:
        rd.checkpoint(s).parent.mkdir(parents=True, exist_ok=True)
        rd.checkpoint(s).write_bytes(b"w")
        rd.checkpoint(s).with_name(f"step-{s:08d}.optim.safetensors").write_bytes(b"o")
    return rd


def _left(rd: RunDir) -> tuple[list[int], list[str]]:
    folder = rd.path / rd.folder
    return [s for s, _ in rd.checkpoints()], sorted(p.name for p in folder.glob("*.optim.safetensors"))


def test_thin_keeps_the_newest_every_mth_and_the_protected(tmp_path):
    rd = _fake_run(tmp_path / "run", range(0, 210, 10))
    (rd.path / "latest.safetensors").write_bytes(b"l")
    (rd.path / "checkpoints" / "notes.txt").write_text("mine")
    (rd.path / "checkpoints" / "iter-000010.safetensors").write_bytes(b"x")  # another prefix: not ours
    removed = rd.thin(3, 5, 10, protect={70})
    steps, optim = _left(rd)
    assert steps == [0, 50, 70, 100, 150, 180, 190, 200]
    assert optim == ["step-00000200.optim.safetensors"]  # optimizer state for the newest only
    assert len(removed) == 13 + 20
    assert (rd.path / "latest.safetensors").exists() and (rd.path / "checkpoints" / "notes.txt").exists()
    assert (rd.path / "checkpoints" / "iter-000010.safetensors").exists()
    # idempotent
    assert rd.thin(3, 5, 10, protect={70}) == [] and _left(rd)[0] == steps


def test_thin_zero_keeps_every_checkpoint_and_current_keeps_its_optimizer(tmp_path):
    rd = _fake_run(tmp_path / "run", range(0, 60, 10))
    rd.thin(0, 0, 10)
    assert _left(rd) == ([0, 10, 20, 30, 40, 50], ["step-00000050.optim.safetensors"])
    # a torn newer file (left by a crash, run resumed from 30): the checkpoint just written keeps its state
    rd = _fake_run(tmp_path / "run2", range(0, 60, 10))
    rd.thin(1, 0, 10, current=30)
    assert _left(rd) == ([30, 50], ["step-00000030.optim.safetensors"])


def test_retention_settings_are_checked():
    from igo.training.zero import ZeroRunConfig

    cfg = ZeroRunConfig(size=SIZE, model="zero-tiny")
    assert (cfg.keep_checkpoints, cfg.keep_every) == (5, 10)
    for bad in ({"keep_checkpoints": -1}, {"keep_every": -2}, {"keep_every": 1.5}, {"keep_checkpoints": True}):
        with pytest.raises(ValueError, match="keep_"):
            ZeroRunConfig(size=SIZE, model="zero-tiny", **bad)
    assert Retention(keep_checkpoints=0).retention_checks()[0][0]


def test_thinned_run_resumes_from_the_newest_with_its_optimizer(tmp_path, caplog):
    from igo.training.learner import LearnerConfig, ZeroLearner

    rd = RunDir(tmp_path / "run")
    keep = Retention(keep_checkpoints=2, keep_every=3)
    learner = ZeroLearner(tiny_net(), LearnerConfig(batch_size=8, optimizer="adamw", lr=1e-3, device="cpu"))
    for s in range(0, 80, 10):
        learner.step = s
        learner.save(rd.checkpoint(s), komi=0.5, rules=RULES)
        keep.thin(rd, 10, s)
    assert _left(rd) == ([0, 30, 60, 70], ["step-00000070.optim.safetensors"])
    assert rd.newest() == (70, rd.checkpoint(70))
    with caplog.at_level(logging.WARNING):
        back = ZeroLearner.resume(rd.checkpoint(70))
    assert back.step == 70 and "optimizer" not in caplog.text
    assert read_metadata(rd.checkpoint(70)).komi == 0.5


# --- the resume line, the status line, the printer -----------------------------------------------------------------


def test_announce_resume_prints_one_line_on_stderr(tmp_path, capsys):
    line = RunDir(tmp_path / "r").announce_resume(1180, "3400 games", "250000 positions")
    assert line == f"resuming run {tmp_path / 'r'} at step 1180, 3400 games, 250000 positions"
    captured = capsys.readouterr()
    assert captured.err == line + "\n" and captured.out == ""
    RunDir(tmp_path / "r").announce_resume(7, "128 games", unit="iteration")
    assert capsys.readouterr().err.startswith(f"resuming run {tmp_path / 'r'} at iteration 7, 128 games")


def test_status_line_explains_false_resignations():
    from igo.training.zero import Status

    assert "false resignations none checked yet" in Status().line()
    st = Status(games=50, would_resign=34, false_resign=1, games_per_hour=120.0, positions_per_s=2.5)
    assert "false resignations 1 of 34 checked" in st.line() and "120 games/h" in st.line()
    assert json.loads(json.dumps(st.__dict__))["false_resign"] == 1


def test_progress_bar_rate_counts_this_invocation_only():
    from tqdm import tqdm

    from igo.train_cmd import _show
    from igo.training.zero import Status

    bar = tqdm(total=None, unit="game", file=io.StringIO())
    # resumed at 10000 games; 72 more in 60 s: 1.2 games/s, 4320 games/h, not 10072 over 60 s
    st = Status(games=10072, new_games=72, elapsed=60.0, games_per_hour=72 / 60 * 3600)
    postfix = _show(bar, st)
    text = tqdm.format_meter(**{**bar.format_dict, "postfix": None})
    bar.close()
    assert "1.20game/s" in text and "4320 g/h" in postfix


def test_help_names_latest_and_explains_the_status_line():
    h = subprocess.run([sys.executable, "-m", "igo", "train", "zero", "--help"], capture_output=True, text=True,
                       cwd=ROOT, timeout=120)  # fmt: skip
    assert h.returncode == 0
    text = " ".join(h.stdout.split())
    assert "igo gtp --model RUN/latest.safetensors" in text
    assert "false resignations F of N checked" in text and "--eval-every 0 turns it off" in text
    assert "--keep-checkpoints K" in text and "--keep-every M" in text


def test_evaluation_is_on_by_default():
    from igo.training.zero import ZeroRunConfig

    cfg = ZeroRunConfig()
    assert cfg.eval_every >= 1 and cfg.eval_games <= 4 and cfg.eval_rollout


# --- a tiny Zero run: latest.safetensors, komi, thinning, the resume line, rates -------------------------------------


@pytest.mark.slow
def test_zero_run_publishes_latest_records_komi_thins_and_says_it_resumes(tmp_path, capfd):
    from igo.training.zero import PREFIX, Limits, ZeroRun

    from .test_train_zero import tiny_config

    run = tmp_path / "run"
    cfg = tiny_config(keep_checkpoints=1, keep_every=2)  # komi 0.5, a checkpoint every 10 steps, no evaluation
    st = ZeroRun(run, cfg, num_cpus=2, learner_threads=1).run(Limits(max_steps=30))
    assert "resuming run" not in capfd.readouterr().err
    rd = RunDir(run, PREFIX)
    # the newest 1, every 2nd (steps 0, 20) and the first; optimizer state only beside the newest
    assert _left(rd) == ([0, 20, 30], ["step-00000030.optim.safetensors"])
    latest = read_metadata(run / "latest.safetensors")
    assert latest.step == 30 and latest.komi == 0.5 and latest.rules == RULES
    assert (run / "latest.safetensors").read_bytes() == rd.checkpoint(30).read_bytes()
    assert read_metadata(rd.checkpoint(0)).komi == 0.5
    assert st.new_games == st.games and st.elapsed > 0
    # resume: one line on stderr; the rates count only the games of this invocation
    st2 = ZeroRun(run, None, num_cpus=2, learner_threads=1).run(Limits(max_steps=40))
    err = capfd.readouterr().err
    assert f"resuming run {run} at step 30, {st.games} games, {st.positions} positions" in err
    assert st2.step == 40 and st2.new_games == st2.games - st.games
    assert math.isclose(st2.games_per_hour, st2.new_games / st2.elapsed * 3600, rel_tol=0.05)
    assert _left(RunDir(run, PREFIX)) == ([0, 20, 40], ["step-00000040.optim.safetensors"])
    assert read_metadata(run / "latest.safetensors").step == 40
