"""Synchronous data-parallel training of the Zero learner over several GPUs (or CPU processes), with torch DDP.

:class:`DataParallelLearner` starts ``world`` Ray actors (:class:`LearnerRank`), one per GPU when the cluster has
GPUs (``num_gpus=1`` each, NCCL), else one per CPU process (gloo — what the tests use). Every rank loads the same
checkpoint (weights and optimizer state), wraps its model in ``DistributedDataParallel`` and, per step, samples its
own ``batch_size / world`` positions from the replay buffer actor; DDP averages the gradients, so one step of the
group is one step of SGD on the global batch and every rank holds the same weights. ``step`` counts group steps and
``samples`` global samples (the learning-rate schedule reads that). Rank 0 writes checkpoints and hands out weights.

The ranks load the checkpoint by path: on a cluster the run directory must be on a filesystem the learner nodes share
(or keep the learners on the head node's GPUs).
"""

from __future__ import annotations

import logging
import os
import socket
from pathlib import Path

log = logging.getLogger(__name__)


class LearnerRank:
    """One rank of the data-parallel learner (a Ray actor)."""

    def __init__(self, rank: int, world: int, address: str, port: int, backend: str, checkpoint: str,
                 learner_config: dict, threads: int = 1):  # fmt: skip
        import torch
        import torch.distributed as dist

        from .learner import LearnerConfig, ZeroLearner

        torch.set_num_threads(max(1, threads))
        os.environ["MASTER_ADDR"] = address
        os.environ["MASTER_PORT"] = str(port)
        dist.init_process_group(backend, rank=rank, world_size=world)
        self.rank, self.world = rank, world
        cfg = LearnerConfig.from_dict(learner_config)
        if backend == "gloo" and cfg.device == "auto":
            cfg = LearnerConfig.from_dict({**cfg.to_dict(), "device": "cpu"})
        self.learner = ZeroLearner.resume(checkpoint, cfg)
        self.learner.wrap_ddp()

    def train(self, buffer, steps: int, batch: int) -> list[dict]:
        """``steps`` group steps, each on ``batch`` positions sampled here; returns this rank's losses."""
        import ray

        out = []
        for _ in range(steps):
            planes, policy, value = ray.get(buffer.sample.remote(batch))
            out.append(self.learner.train_step(planes, policy, value))
            self.learner.samples += (self.world - 1) * batch  # the other ranks' share: samples counts globally
        return out

    def position(self) -> tuple[int, int]:
        return self.learner.step, self.learner.samples

    def save(self, path: str, extra: dict | None = None, **meta) -> str:
        return str(self.learner.save(path, extra=extra, **meta))

    def weights(self) -> dict:
        return self.learner.weights()

    def close(self) -> None:
        import torch.distributed as dist

        if dist.is_initialized():
            dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("", 0))
        return s.getsockname()[1]


class DataParallelLearner:
    """``world`` :class:`LearnerRank` actors training together from ``checkpoint``; the learner interface the Zero
    run uses (``step``, ``samples``, ``train``, ``save``, ``weights``)."""

    def __init__(self, world: int, checkpoint: str | os.PathLike, learner_config: dict, *, gpus: float | None = None,
                 threads: int = 1, cpus: float | None = None, batch_size: int = 256):  # fmt: skip
        import ray

        if world < 2:
            raise ValueError("data-parallel training needs at least 2 learners")
        if gpus is None:
            gpus = 1.0 if ray.cluster_resources().get("GPU", 0) >= world else 0.0
        backend = "nccl" if gpus > 0 else "gloo"
        self.world = world
        self.local_batch = max(1, batch_size // world)
        address, port = "127.0.0.1", _free_port()
        if ray.is_initialized() and len(ray.nodes()) > 1:
            address = ray.util.get_node_ip_address()
        cls = ray.remote(LearnerRank)
        self.ranks = [
            cls.options(num_cpus=threads if cpus is None else cpus, num_gpus=gpus).remote(
                k, world, address, port, backend, str(Path(checkpoint)), learner_config, threads
            )
            for k in range(world)
        ]
        self.step, self.samples = ray.get(self.ranks[0].position.remote())
        log.info("data-parallel learner: %d ranks (%s), %d positions per rank per step", world, backend,
                 self.local_batch)  # fmt: skip

    def train(self, buffer, steps: int) -> list[dict]:
        import ray

        outs = ray.get([r.train.remote(buffer, steps, self.local_batch) for r in self.ranks])
        self.step, self.samples = ray.get(self.ranks[0].position.remote())
        return outs[0]

    def save(self, path, extra: dict | None = None, **meta) -> Path:
        """Rank 0 writes the checkpoint; ``meta`` (komi, rules) goes into its metadata."""
        import ray

        return Path(ray.get(self.ranks[0].save.remote(str(path), extra, **meta)))

    def weights(self) -> dict:
        import ray

        return ray.get(self.ranks[0].weights.remote())

    def rank_weights(self) -> list[dict]:
        import ray

        return ray.get([r.weights.remote() for r in self.ranks])

    def close(self) -> None:
        import ray

        try:
            ray.get([r.close.remote() for r in self.ranks], timeout=30)
        except Exception:  # noqa: BLE001 - best effort
            pass
        for r in self.ranks:
            ray.kill(r)


__all__ = ["DataParallelLearner", "LearnerRank"]
