"""Asynchronous data-parallel Zero learner (parameter server + gradient workers on Ray): one update is one
ZeroLearner step, staleness is counted as versions since the pull, two workers train a tiny net on a fixed buffer,
and ``igo train zero --learners 2 --async`` runs, checkpoints, plays and resumes in the same mode."""

from __future__ import annotations

import asyncio
import itertools
import json

import numpy as np
import pytest
import torch

from igo.nets.config import get_config
from igo.nets.models import build_model
from igo.training.async_dp import STALENESS_LABELS, GradientWorker, ParameterServer, Staleness
from igo.training.learner import LearnerConfig, ZeroLearner

SIZE, PLANES = 5, 17


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _start(tmp_path, cfg: LearnerConfig, name: str = "start.safetensors"):
    torch.manual_seed(0)
    learner = ZeroLearner(build_model(get_config("zero-tiny"), SIZE), cfg)
    return learner, learner.save(tmp_path / name)


def _batches(n: int, b: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        planes = (rng.random((b, PLANES, SIZE, SIZE)) < 0.3).astype(np.float32)
        policy = rng.dirichlet(np.ones(SIZE * SIZE + 1) * 0.5, b).astype(np.float32)
        value = rng.choice([-1.0, 1.0], b).astype(np.float32)
        out.append((planes, policy, value))
    return out


def _float_keys(w: dict) -> list[str]:
    return [k for k in w if w[k].dtype.kind == "f"]


def test_staleness_histogram():
    s = Staleness()
    assert s.summary() == {"count": 0, "mean": None, "max": 0, "hist": dict.fromkeys(STALENESS_LABELS, 0)}
    for x in (0, 0, 1, 2, 3, 4, 5, 8, 9, 40):
        s.add(x)
    got = s.summary()
    assert got["count"] == 10 and got["max"] == 40 and got["mean"] == pytest.approx(7.2)
    assert got["hist"] == {"0": 2, "1": 1, "2": 1, "3-4": 2, "5-8": 2, "9-16": 1, "17-32": 0, "33+": 1}
    for bad in (-1, 1.5, True):
        with pytest.raises(ValueError, match="staleness"):
            s.add(bad)


def test_one_worker_without_staleness_is_train_step(tmp_path):
    """With nothing else in flight, pull + gradient + push == ZeroLearner.train_step on the same batch: SGD with
    momentum, weight decay, gradient clipping and the lr schedule by samples, BatchNorm running statistics too; and
    the server's weights change with each push."""
    cfg = LearnerConfig(optimizer="sgd", lr=0.05, lr_schedule=[(0, 0.05), (32, 0.01)], weight_decay=1e-3,
                        grad_clip=1.0, batch_size=16, device="cpu")  # fmt: skip
    ref, start = _start(tmp_path, cfg)
    server = ParameterServer(str(start), cfg.to_dict())
    worker = GradientWorker(0, str(start), cfg.to_dict())

    async def steps():
        seen, out = [], []
        await server.allow(4)
        seen.append(await server.weights())
        for batch in _batches(4, 16):
            version, weights = await server.pull(worker.version)
            worker.load(version, weights)
            grads, norms, stats, b = worker.gradient(*batch)
            out.append((await server.push(0, version, grads, norms, stats, b), stats, ref.train_step(*batch)))
            seen.append(await server.weights())
        return seen, out, await server.wait_for(4)

    seen, out, (step, samples, losses) = asyncio.run(steps())
    assert [s for s, _, _ in out] == [0, 0, 0, 0]
    for _, stats, want in out:
        assert stats["loss"] == pytest.approx(want["loss"], rel=1e-6)
    assert step == ref.step == 4 and samples == ref.samples == 64
    assert [x["lr"] for x in losses] == [0.05, 0.05, 0.01, 0.01]  # the schedule by samples, as the learner's
    final, expected = seen[-1], ref.weights()
    for k in expected:
        assert np.allclose(final[k], expected[k], rtol=1e-5, atol=1e-6), k
    assert any("running_var" in k for k in expected) and final["stem.1.num_batches_tracked"] == 4
    for before, after in itertools.pairwise(seen):  # every push moved the weights
        assert any(not np.array_equal(before[k], after[k]) for k in _float_keys(before) if "running" not in k)


def test_staleness_counts_versions_since_the_pull_and_quota_bounds_pulls(tmp_path):
    cfg = LearnerConfig(optimizer="adamw", lr=0.003, batch_size=8, device="cpu")
    _, start = _start(tmp_path, cfg)
    server = ParameterServer(str(start), cfg.to_dict())
    a, b = (GradientWorker(i, str(start), cfg.to_dict()) for i in range(2))
    batches = _batches(3, 8, seed=1)

    async def scenario():
        assert await server.allow(3) == 3
        pa, pb = await server.pull(a.version), await server.pull(b.version)  # both on version 0
        a.load(*pa)
        b.load(*pb)
        first = await server.push(0, pa[0], *a.gradient(*batches[0]))
        second = await server.push(1, pb[0], *b.gradient(*batches[1]))  # the server moved on once since b pulled
        again = await server.pull(a.version)  # a pulls after its push: version 2
        a.load(*again)
        third = await server.push(0, again[0], *a.gradient(*batches[2]))
        with pytest.raises(TimeoutError):  # the quota of 3 is spent: the next pull waits for allow()
            await asyncio.wait_for(server.pull(a.version), 0.2)
        stale = await server.take_staleness()
        await server.stop()
        stopped = await server.pull(a.version)
        with pytest.raises(ValueError, match="shape"):
            grads, norms, stats, n = a.gradient(*batches[0])
            grads = {k: np.zeros((2, 2), np.float32) for k in grads}
            await server.push(0, 3, grads, norms, stats, n)
        return first, second, third, again[0], stale, stopped, await server.position(), await server.push_counts()

    first, second, third, version, stale, stopped, position, counts = asyncio.run(scenario())
    assert (first, second, version, third) == (0, 1, 2, 0)
    assert stale["recent"]["count"] == 3 and stale["recent"]["hist"]["0"] == 2 and stale["recent"]["hist"]["1"] == 1
    assert stale["overall"]["max"] == 1 and stale["overall"]["mean"] == pytest.approx(1 / 3)
    assert stopped is None and position == (3, 24) and counts == {0: 2, 1: 1}


def test_fp16_is_refused(tmp_path):
    from igo.training.async_dp import AsyncDataParallelLearner

    with pytest.raises(ValueError, match="fp16"):
        AsyncDataParallelLearner(2, tmp_path / "x.safetensors", {"amp": "fp16"})
    with pytest.raises(ValueError, match="at least 2"):
        AsyncDataParallelLearner(1, tmp_path / "x.safetensors", {})


def _learnable_games(n_games: int, positions: int, rng) -> list[dict]:
    """Positions whose targets follow from the planes and survive the buffer's random symmetries: a stone on the
    centre of plane 0 means pass and a win, none means the centre point and a loss (a tiny net learns it in a few
    dozen steps)."""
    from igo.engine.planes import pack_planes

    c = SIZE // 2
    games = []
    for _ in range(n_games):
        x = rng.random((positions, PLANES, SIZE, SIZE)) < 0.2
        x[:, 0, c, c] = rng.random(positions) < 0.5
        on = x[:, 0, c, c]
        p = np.zeros((positions, SIZE * SIZE + 1), np.float32)
        p[on, SIZE * SIZE] = 1.0
        p[~on, c * SIZE + c] = 1.0
        v = np.where(on, 1.0, -1.0).astype(np.float32)
        games.append({"planes": pack_planes(x), "policy": p, "value": v})
    return games


@pytest.mark.slow
def test_two_async_workers_train_on_a_fixed_buffer(tmp_path, ray_local):
    from igo.selfplay.replay import replay_actor_class
    from igo.training.async_dp import AsyncDataParallelLearner

    ray = ray_local
    cfg = LearnerConfig(optimizer="adamw", lr=0.01, batch_size=32, device="cpu")
    first, start = _start(tmp_path, cfg)
    buffer = replay_actor_class().remote(SIZE, PLANES, 10_000, None, None, 1)
    ray.get(buffer.add.remote(_learnable_games(8, 40, np.random.default_rng(3))))
    adp = AsyncDataParallelLearner(2, start, cfg.to_dict(), threads=1, cpus=1, batch_size=32)
    try:
        assert adp.step == 0
        losses = []
        for _ in range(4):
            losses += adp.train(buffer, 10)
            assert adp.step == len(losses) and adp.samples == 32 * len(losses)  # exactly the quota, no more
        assert all(np.isfinite(x["loss"]) for x in losses)
        early = np.mean([x["loss"] for x in losses[:5]])
        late = np.mean([x["loss"] for x in losses[-5:]])
        assert late < 0.5 * early, (early, late)
        stale = adp.staleness()["overall"]
        assert stale["count"] == 40 and sum(stale["hist"].values()) == 40
        assert stale["hist"]["0"] < 40 and stale["max"] >= 1 and stale["mean"] > 0  # two workers: some stale
        counts = adp.push_counts()
        assert sorted(counts) == [0, 1] and sum(counts.values()) == 40
        weights = adp.weights()
        path = adp.save(tmp_path / "step-00000040.safetensors", {"games": 8})
    finally:
        adp.close()
    assert [s["gradients"] for s in sorted(adp.worker_stats, key=lambda s: s["worker"])] == [counts[0], counts[1]]
    resumed = ZeroLearner.resume(path)
    assert resumed.step == 40 and resumed.samples == 40 * 32 and resumed.config.optimizer == "adamw"
    start_w = first.weights()
    for k, v in resumed.weights().items():
        assert np.allclose(v, weights[k]), k
    assert any(not np.allclose(start_w[k], weights[k]) for k in _float_keys(start_w))


def test_cli_refuses_async_without_two_learners(tmp_path, capsys):
    from igo.cli import main
    from igo.training.run import RunError
    from igo.training.zero import ZeroRunConfig, prepare_run_dir

    base = ["train", "zero", "--size", "5", "--config", "zero-tiny"]
    for extra in (["--async"], ["--async", "--learners", "1"]):
        run = tmp_path / "r"
        assert main([*base, "--run-dir", str(run), *extra]) == 2
        assert "--async needs --learners 2 or more" in capsys.readouterr().err
        assert not run.exists()
    with pytest.raises(SystemExit) as e:
        main([*base, "--run-dir", str(tmp_path / "r"), "--sync", "--async"])
    assert e.value.code == 2 and "not allowed with" in capsys.readouterr().err
    # a run's mode is in config.json; resuming keeps it, and learners cannot drop below 2 while it is async
    run = tmp_path / "kept"
    cfg = ZeroRunConfig(size=5, model="zero-tiny", learners=2, learner_mode="async")
    prepare_run_dir(run, cfg)
    assert json.loads((run / "config.json").read_text())["learner_mode"] == "async"
    assert prepare_run_dir(run, None).learner_mode == "async"
    with pytest.raises(ValueError, match="needs learners >= 2"):
        prepare_run_dir(run, None, {"learners": 1})
    assert prepare_run_dir(run, None, {"learner_mode": "sync"}).learner_mode == "sync"
    with pytest.raises(RunError, match="no config.json"):
        prepare_run_dir(tmp_path / "empty", None)


@pytest.mark.slow
def test_zero_run_async_checkpoints_plays_and_resumes_async(tmp_path, ray_local, capsys):
    from igo.cli import main
    from igo.nets.checkpoint import load_checkpoint
    from igo.training.common import read_metrics

    run = tmp_path / "run"
    args = ["train", "zero", "--run-dir", str(run), "--cpus", "2", "--learner-threads", "1", "--status-every", "1"]
    new = ["--size", "5", "--komi", "0.5", "--config", "zero-tiny", "--simulations", "8", "--leaves-per-game", "4",
           "--games-per-actor", "8", "--actor-seconds", "1", "--actor-cpus", "0.5", "--min-positions", "150",
           "--window", "4000", "--train-ratio", "4", "--checkpoint-every", "10", "--eval-every", "0",
           "--batch-size", "32", "--optimizer", "adamw", "--lr", "0.003", "--learners", "2", "--async",
           "--learner-cpus", "0.5"]  # fmt: skip
    assert main([*args, *new, "--max-steps", "10", "--json"]) == 0
    status = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert status["step"] == 10 and status["samples"] == 10 * 32
    assert status["staleness_mean"] is not None and status["staleness_max"] >= 0
    assert json.loads((run / "config.json").read_text())["learner_mode"] == "async"
    rows = read_metrics(run, "train")
    assert rows and all(r["staleness_max"] >= 0 and sum(r["staleness_hist"].values()) == 10 for r in rows)
    model, meta = load_checkpoint(run / "latest.safetensors", expect_kind="zero")  # what igo gtp --model loads
    assert meta.step == 10 and meta.komi == 0.5
    with torch.no_grad():
        logits, value = model(torch.zeros(1, PLANES, SIZE, SIZE))
    assert logits.shape == (1, SIZE * SIZE + 1) and bool(torch.isfinite(logits).all()) and abs(float(value)) <= 1
    # resume with no mode flag: still asynchronous, the step count goes on from the checkpoint
    assert main([*args, "--max-steps", "20"]) == 0
    out = capsys.readouterr()
    assert "staleness mean" in out.out and "resuming run" in out.err
    assert json.loads((run / "config.json").read_text())["learner_mode"] == "async"
    rows = read_metrics(run, "train")
    assert rows[-1]["step"] == 20 and "staleness_hist" in rows[-1]
    assert load_checkpoint(run / "latest.safetensors")[1].step == 20


def test_learners_that_do_not_fit_the_local_ray_are_refused(tmp_path, ray_local, capsys):
    """1 actor x 1 CPU + 2 learners x 1 CPU on a local Ray of 2: the learners would wait for CPUs forever."""
    from igo.cli import main

    run = tmp_path / "run"
    assert main(["train", "zero", "--run-dir", str(run), "--size", "5", "--config", "zero-tiny", "--eval-every", "0",
                 "--learners", "2", "--async", "--max-steps", "1"]) == 1  # fmt: skip
    assert "reserves 3 Ray CPUs" in capsys.readouterr().err
