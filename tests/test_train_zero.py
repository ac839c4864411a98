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
    # resume: the learner goes on from step 30, the games on disk are all still counted
    games_before = st.games
    st2 = ZeroRun(run, None, num_cpus=2, learner_threads=1).run(Limits(max_steps=40))
    assert st2.step == 40 and st2.samples == 40 * 32
    assert st2.games >= games_before and _sgf_count(run) == st2.games


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
