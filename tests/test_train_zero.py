"""AlphaGo Zero training end to end on a tiny board and net: local Ray, self-play, learner, checkpoints,
evaluation, resume after a stop and after a hard kill."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from igo.training.common import read_metrics
from igo.training.run import RunDir, RunError
from igo.training.zero import (
    PREFIX,
    Limits,
    ZeroRun,
    ZeroRunConfig,
    eval_ratings,
    evaluation_config,
    prepare_run_dir,
)

ROOT = Path(__file__).resolve().parents[1]


def tiny_config(**kw) -> ZeroRunConfig:
    fields = dict(
        size=5,
        komi=0.5,
        model="zero-tiny",
        actors=1,
        games_per_actor=8,
        actor_seconds=2.0,
        window=4000,
        min_positions=150,
        train_ratio=2.0,
        checkpoint_every=10,
        eval_every=0,  # the default evaluates every 2nd checkpoint: the tests that want it ask for it
        selfplay={"simulations": 8, "leaves_per_game": 4},
        learner={"batch_size": 32, "optimizer": "adamw", "lr": 0.003},
    )
    fields.update(kw)
    return ZeroRunConfig(**fields)


def test_run_config_validation():
    with pytest.raises(ValueError, match="zero-nonexistent"):
        ZeroRunConfig(model="zero-nonexistent")
    with pytest.raises(ValueError, match="zero"):
        ZeroRunConfig(model="lee-policy-tiny")
    with pytest.raises(ValueError, match="actors"):
        ZeroRunConfig(actors=0)
    with pytest.raises(ValueError, match="min_positions"):
        ZeroRunConfig(window=100, min_positions=200)
    with pytest.raises(ValueError):
        ZeroRunConfig(selfplay={"simulations": 0})
    with pytest.raises(ValueError):
        ZeroRunConfig(learner={"optimizer": "rmsprop"})
    with pytest.raises(ValueError, match="unknown"):
        ZeroRunConfig.from_dict({"bogus": 1})
    with pytest.raises(ValueError, match="actor_precision"):
        ZeroRunConfig(actor_precision="int4")
    with pytest.raises(ValueError, match="actor_device cpu"):
        ZeroRunConfig(actor_precision="int8", actor_device="cuda")
    c = tiny_config()
    assert ZeroRunConfig.from_dict(json.loads(json.dumps(c.to_dict()))) == c
    assert c.selfplay["size"] == 5 and c.selfplay["parallel_games"] == 8


def test_run_directory_rules(tmp_path):
    run = tmp_path / "run"
    cfg = prepare_run_dir(run, tiny_config())
    assert (run / "config.json").exists() and (run / "checkpoints").is_dir()
    # resume with new running settings: kept; with another board or net: refused
    again = prepare_run_dir(run, None, {"actors": 2, "selfplay": {"simulations": 12}})
    assert again.actors == 2 and again.selfplay["simulations"] == 12 and again.selfplay["leaves_per_game"] == 4
    assert json.loads((run / "config.json").read_text())["actors"] == 2
    with pytest.raises(RunError, match="size"):
        prepare_run_dir(run, None, {"size": 7})
    with pytest.raises(RunError, match="model"):
        prepare_run_dir(run, None, {"model": "zero-b2c32"})
    other = tmp_path / "other"
    other.mkdir()
    (other / "something.txt").write_text("x")
    with pytest.raises(RunError, match="not a run directory"):
        prepare_run_dir(other, cfg)
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "config.json").write_text('{"size": 99}')
    with pytest.raises(RunError, match="not a valid run configuration"):
        prepare_run_dir(bad, None)


def test_evaluation_config(tmp_path):
    cfg = tiny_config(eval_games=4, eval_opponents=["gnugo --mode gtp --level 1"])
    tc = evaluation_config(cfg, tmp_path, 40, 0)
    names = [p.name for p in tc.players]
    assert names == ["step-40", "step-0", "rollout-8", "gnugo-1"]
    assert tc.format == "gauntlet" and tc.candidates == ["step-40"] and tc.anchor == "step-0"
    assert tc.players[0].model.endswith("step-00000040.safetensors") and "--playouts 8" in tc.players[0].igo
    assert tc.games_per_pairing == 4 and tc.size == 5 and tc.komi == 0.5


def _zero_net(path: Path, size: int = 5, config: str = "zero-tiny", seed: int = 3, extra: dict | None = None) -> Path:
    import torch

    from igo.nets.checkpoint import save_checkpoint
    from igo.nets.config import get_config
    from igo.nets.models import build_model

    torch.manual_seed(seed)
    return save_checkpoint(path, build_model(get_config(config), size), komi=0.5, extra=extra)


def test_init_warm_starts_a_new_run_from_a_checkpoint(tmp_path):
    import torch

    from igo.nets.checkpoint import load_state

    parent = _zero_net(tmp_path / "parent.safetensors", extra={"cpu_hours": 1.25, "parent_cpu_hours": 0.5})
    run = tmp_path / "run"
    zr = ZeroRun(run, tiny_config(parent=str(parent)), learner_threads=1)
    assert json.loads((run / "config.json").read_text())["parent"] == str(parent)
    learner = zr._learner()  # the run's first network, before any training
    assert learner.step == 0
    want, _ = load_state(parent)
    got, meta = load_state(RunDir(run, PREFIX).checkpoint(0))
    assert want.keys() == got.keys() and all(torch.equal(want[k], got[k]) for k in want)
    assert meta.parent == str(parent) and meta.extra["cpu_hours"] == 0.0
    assert meta.extra["parent_cpu_hours"] == 1.75  # what the parent cost: its own hours and its parent's
    # the figure the run recorded at its start stays, even when the parent file is replaced by a costlier network
    from igo.training.zero_start import parent_cpu_hours

    first = RunDir(run, PREFIX).checkpoint(0)
    _zero_net(parent, extra={"cpu_hours": 4.0, "parent_cpu_hours": 1.75})
    assert parent_cpu_hours(zr.config) == 5.75 and parent_cpu_hours(zr.config, first) == 1.75
    assert parent_cpu_hours(zr.config, tmp_path / "missing.safetensors") == 5.75
    # a resume keeps its parent; another one is refused
    assert prepare_run_dir(run, None, {"parent": str(parent)}).parent == str(parent)
    with pytest.raises(RunError, match="parent"):
        prepare_run_dir(run, None, {"parent": str(tmp_path / "other.safetensors")})
    # --init on a run that started without one is refused too
    plain = tmp_path / "plain"
    prepare_run_dir(plain, tiny_config())
    with pytest.raises(RunError, match="parent"):
        prepare_run_dir(plain, None, {"parent": str(parent)})


def test_init_of_another_config_or_size_is_refused_before_anything_is_written(tmp_path, capsys):
    from igo.cli import main

    seven = _zero_net(tmp_path / "seven.safetensors", size=7)
    with pytest.raises(ValueError, match="is a zero-tiny net for 7x7, this run trains zero-tiny for 5x5"):
        prepare_run_dir(tmp_path / "r1", tiny_config(parent=str(seven)))
    assert not (tmp_path / "r1").exists()
    wider = _zero_net(tmp_path / "wider.safetensors", config="zero-b2c32")
    with pytest.raises(ValueError, match="is a zero-b2c32 net for 5x5, this run trains zero-tiny for 5x5"):
        prepare_run_dir(tmp_path / "r2", tiny_config(parent=str(wider)))
    args = ["train", "zero", "--run-dir", str(tmp_path / "r3"), "--size", "5", "--config", "zero-tiny"]
    assert main([*args, "--init", str(seven)]) == 2
    assert "is a zero-tiny net for 7x7, this run trains zero-tiny for 5x5" in capsys.readouterr().err
    assert main([*args, "--init", str(tmp_path / "missing.safetensors")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert not (tmp_path / "r3" / "config.json").exists()


def test_cpu_hours_add_up_over_invocations(tmp_path):
    from igo.training.zero_start import CpuHours, recorded_cpu_hours

    now = [100.0]
    clock = CpuHours(before=2.0, clock=lambda: now[0])
    clock.start(4)
    now[0] += 1800  # half an hour on 4 CPUs
    assert clock.total() == pytest.approx(4.0)
    ckpt = _zero_net(tmp_path / "c.safetensors")
    assert recorded_cpu_hours({"cpu_hours": 2.5}, ckpt) == 2.5  # a checkpoint without the figure
    from igo.nets.checkpoint import load_checkpoint, save_checkpoint

    model, _ = load_checkpoint(ckpt)
    ckpt3 = save_checkpoint(tmp_path / "c3.safetensors", model, extra={"cpu_hours": 3.0})
    assert recorded_cpu_hours({"cpu_hours": 2.5}, ckpt3) == 3.0  # the larger: state.json is written after it
    assert recorded_cpu_hours({"cpu_hours": 5.0}, ckpt3) == 5.0
    assert recorded_cpu_hours(None, tmp_path / "missing.safetensors") == 0.0
    assert recorded_cpu_hours({"cpu_hours": "lots"}, None) == 0.0


def _sgf_count(run: Path) -> int:
    return len(list((run / "games").glob("*.sgf")))


@pytest.mark.slow
def test_tiny_run_trains_checkpoints_evaluates_and_resumes(tmp_path):
    run = tmp_path / "run"
    cfg = tiny_config(eval_every=2, eval_games=2)
    st = ZeroRun(run, cfg, num_cpus=2, learner_threads=1).run(Limits(max_steps=30))
    steps = [s for s, _ in RunDir(run, PREFIX).checkpoints()]
    assert steps[0] == 0 and 30 in steps and {10, 20} <= set(steps)
    assert st.step == 30 and st.samples == 30 * 32
    assert st.games > 0 and _sgf_count(run) == st.games
    assert list((run / "replay").glob("chunk-*.npz"))
    kinds = {r["kind"] for r in read_metrics(run)}
    assert {"train", "selfplay", "checkpoint", "eval"} <= kinds
    train = read_metrics(run, "train")
    assert all(np.isfinite(r["loss"]) for r in train)
    ev = read_metrics(run, "eval")
    assert ev and ev[0]["step"] == 20 and "step-20" in ev[0]["elo_all"] and "rollout-8" in ev[0]["elo_all"]
    results = (run / "eval" / "step-00000020" / "results.jsonl").read_text().splitlines()
    assert len(results) == 4  # 2 games against step-0 and 2 against rollout-only igo
    ratings = eval_ratings(run, "step-0")
    assert ratings.elo["step-0"] == 0.0
    state = json.loads((run / "state.json").read_text())
    assert state["best"] == 30
    assert (run / "tb").is_dir() and any((run / "tb").iterdir())
    # CPU-hours: wall time x the 2 Ray CPUs, in the status, the checkpoints, state.json and the metrics rows
    from igo.nets.checkpoint import read_metadata

    at30 = read_metadata(RunDir(run, PREFIX).checkpoint(30)).extra["cpu_hours"]
    assert 0 < at30 <= st.cpu_hours and "CPU-h" in st.line()
    assert state["cpu_hours"] == st.cpu_hours  # the time after the last checkpoint too (a clean stop saves it)
    assert all(r["cpu_hours"] > 0 for r in train) and read_metrics(run, "checkpoint")[-1]["cpu_hours"] > 0
    # resume (with int8 actors): the learner goes on from step 30, the games on disk are all still counted, the
    # CPU-hours too
    games_before = st.games
    resumed = ZeroRun(run, None, overrides={"actor_precision": "int8"}, num_cpus=2, learner_threads=1)
    assert resumed.config.actor_precision == "int8"
    st2 = resumed.run(Limits(max_steps=40))
    assert st2.step == 40 and st2.samples == 40 * 32
    assert st2.games >= games_before and _sgf_count(run) == st2.games
    at40 = read_metadata(RunDir(run, PREFIX).checkpoint(40)).extra["cpu_hours"]
    assert st.cpu_hours < at40 <= st2.cpu_hours
    assert json.loads((run / "state.json").read_text())["cpu_hours"] == st2.cpu_hours


@pytest.mark.slow
def test_gating_promotes_only_winners(tmp_path):
    run = tmp_path / "run"
    cfg = tiny_config(gating_games=2, gating_threshold=0.5, eval_rollout=False)
    ZeroRun(run, cfg, num_cpus=2, learner_threads=1).run(Limits(max_steps=20))
    rows = read_metrics(run, "gating")
    assert [r["step"] for r in rows] == [10, 20]
    for r in rows:
        assert 0.0 <= r["win_rate"] <= 1.0 and r["promoted"] == (r["win_rate"] >= 0.5)
        assert len((run / "gating" / f"step-{r['step']:08d}" / "results.jsonl").read_text().splitlines()) == 2
    promoted = [r["step"] for r in rows if r["promoted"]]
    state = json.loads((run / "state.json").read_text()) if (run / "state.json").exists() else {}
    assert state.get("best", 0) == (promoted[-1] if promoted else 0)
    # the actors only ever played with the best network: versions in the self-play metrics are promoted steps
    versions = {r["version"] for r in read_metrics(run, "selfplay")}
    assert versions <= {0, *promoted}


@pytest.mark.slow
def test_hard_kill_loses_no_finished_game(tmp_path):
    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "igo", "train", "zero", "--run-dir", str(run), "--size", "5", "--komi", "0.5",
           "--config", "zero-tiny", "--simulations", "8", "--leaves-per-game", "4", "--games-per-actor", "8",
           "--actor-seconds", "1", "--min-positions", "150", "--window", "4000", "--train-ratio", "2",
           "--checkpoint-every", "10", "--eval-every", "0", "--batch-size", "32", "--cpus", "2",
           "--learner-threads", "1", "--status-every", "1"]  # fmt: skip
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.time() + 240
        while time.time() < deadline and len(RunDir(run, PREFIX).checkpoints()) < 3:
            assert proc.poll() is None, proc.stdout.read().decode()[-2000:]
            time.sleep(0.5)
        assert len(RunDir(run, PREFIX).checkpoints()) >= 3, "no checkpoints within 4 minutes"
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the driver and its local Ray, at once
        proc.wait(30)
    time.sleep(1.0)
    games_on_disk = _sgf_count(run)
    last_step = RunDir(run, PREFIX).checkpoints()[-1][0]
    assert games_on_disk > 0 and last_step >= 20
    out = subprocess.run(
        [*cmd[:7], "--max-steps", str(last_step + 10), "--json"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    status = json.loads(out.stdout.strip().splitlines()[-1])
    assert status["step"] == last_step + 10  # the step count goes on from the last checkpoint
    assert status["games"] >= games_on_disk  # every game finished before the kill is still there
    assert _sgf_count(run) == status["games"]


def test_cli_help_and_errors(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    h = subprocess.run([sys.executable, "-m", "igo", "train", "zero", "--help"], capture_output=True, text=True,
                       cwd=ROOT, env=env, timeout=120)  # fmt: skip
    assert h.returncode == 0 and "--run-dir" in h.stdout
    assert "--games-per-actor" in h.stdout and "resume" in h.stdout
    bad = subprocess.run([sys.executable, "-m", "igo", "train", "zero", "--run-dir", str(tmp_path / "r"),
                          "--config", "zero-nope"], capture_output=True, text=True, cwd=ROOT, env=env,
                         timeout=120)  # fmt: skip
    assert bad.returncode == 2 and "zero-nope" in bad.stderr
    bad = subprocess.run([sys.executable, "-m", "igo", "train", "zero", "--run-dir", str(tmp_path / "r2"),
                          "--lr-schedule", "0:0.1,abc"], capture_output=True, text=True, cwd=ROOT, env=env,
                         timeout=120)  # fmt: skip
    assert bad.returncode == 2 and "lr-schedule" in bad.stderr
    assert not (tmp_path / "r2").exists()
    down = subprocess.run([sys.executable, "-m", "igo", "train", "zero", "--run-dir", str(tmp_path / "r3"),
                           "--size", "5", "--config", "zero-tiny", "--address", "127.0.0.1:1"],
                          capture_output=True, text=True, cwd=ROOT, env=env, timeout=120)  # fmt: skip
    assert down.returncode == 1 and "cannot reach the Ray cluster at 127.0.0.1:1" in down.stderr


def test_check_reachable():
    from igo.selfplay.cluster import ClusterError, check_reachable

    check_reachable("auto")  # nothing to probe: ray.init finds the local cluster itself
    with pytest.raises(ClusterError, match="cannot reach"):
        check_reachable("127.0.0.1:1", timeout=2)
    with pytest.raises(ClusterError, match="bad Ray address"):
        check_reachable("host:port")
