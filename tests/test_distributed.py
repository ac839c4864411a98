"""Data-parallel Zero learner (torch DDP over Ray actors, gloo on the CPU): ranks stay identical, counts are global,
checkpoints resume, and a Zero run trains with two learners."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from igo.nets.config import get_config
from igo.nets.models import build_model
from igo.training.learner import LearnerConfig, ZeroLearner

ray = pytest.importorskip("ray")

pytestmark = pytest.mark.slow


def _random_games(n_games: int, positions: int, size: int, planes: int, rng) -> list[dict]:
    from igo.engine.planes import pack_planes

    games = []
    for _ in range(n_games):
        x = rng.random((positions, planes, size, size)) < 0.3
        p = rng.dirichlet(np.ones(size * size + 1) * 0.3, positions).astype(np.float32)
        v = rng.choice([-1.0, 1.0], positions).astype(np.float32)
        games.append({"planes": pack_planes(x), "policy": p, "value": v})
    return games


@pytest.fixture
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def test_two_ranks_train_in_step(tmp_path, local_ray):
    from igo.selfplay.replay import replay_actor_class
    from igo.training.distributed import DataParallelLearner

    torch.manual_seed(0)
    cfg = LearnerConfig(optimizer="sgd", lr=0.05, batch_size=32, device="cpu")
    learner = ZeroLearner(build_model(get_config("zero-tiny"), 5), cfg)
    start = learner.save(tmp_path / "step-00000000.safetensors")
    buffer = replay_actor_class().remote(5, 17, 10_000, None, None, 1)
    ray.get(buffer.add.remote(_random_games(8, 40, 5, 17, np.random.default_rng(1))))
    dp = DataParallelLearner(2, start, cfg.to_dict(), threads=1, cpus=1, batch_size=32)
    try:
        assert dp.local_batch == 16 and dp.step == 0
        losses = dp.train(buffer, 6)
        assert len(losses) == 6 and all(np.isfinite(x["loss"]) for x in losses)
        assert dp.step == 6 and dp.samples == 6 * 32
        w0, w1 = dp.rank_weights()
        # gradients are averaged: both ranks hold the same weights, and they moved from the start
        for k in w0:
            if w0[k].dtype.kind == "f" and "running" not in k:
                assert np.array_equal(w0[k], w1[k]), k
        first = learner.weights()
        assert any(not np.allclose(first[k], w0[k]) for k in first if first[k].dtype.kind == "f")
        path = dp.save(tmp_path / "step-00000006.safetensors", {"games": 8})
    finally:
        dp.close()
    resumed = ZeroLearner.resume(path)
    assert resumed.step == 6 and resumed.samples == 6 * 32
    for k, v in resumed.weights().items():
        assert np.allclose(v, w0[k])


def test_zero_run_with_two_learners(tmp_path):
    from igo.training.common import read_metrics
    from igo.training.run import RunDir
    from igo.training.zero import PREFIX, Limits, ZeroRun, ZeroRunConfig

    cfg = ZeroRunConfig(
        size=5, komi=0.5, model="zero-tiny", actors=1, games_per_actor=8, actor_seconds=2.0, actor_cpus=0.5,
        window=4000, min_positions=150, train_ratio=2.0, checkpoint_every=10, eval_every=0, learners=2,
        learner_cpus=0.5,
        selfplay={"simulations": 8, "leaves_per_game": 4}, learner={"batch_size": 32, "device": "cpu"},
    )  # fmt: skip
    st = ZeroRun(tmp_path / "run", cfg, num_cpus=2, learner_threads=1).run(Limits(max_steps=20))
    assert st.step == 20 and st.samples == 20 * 32
    assert [s for s, _ in RunDir(tmp_path / "run", PREFIX).checkpoints()] == [0, 10, 20]
    assert read_metrics(tmp_path / "run", "train")
