"""Asynchronous data-parallel training of the Zero learner on Ray: a parameter server and gradient workers.

Beside the synchronous torch-DDP learners of :mod:`igo.training.distributed` (every step waits for all ranks),
:class:`AsyncDataParallelLearner` runs ``world`` :class:`GradientWorker` actors and one :class:`ParameterServer`
actor (``igo train zero --learners N --async``):

- the **server** holds the weights, the optimizer (its state, the learning-rate schedule by samples, weight decay,
  gradient clipping) and the BatchNorm running statistics, in a :class:`~igo.training.learner.ZeroLearner` resumed
  from the run's checkpoint; its ``step`` is the weights' **version** (one per gradient applied);
- each **worker** pulls the newest weights, samples its own ``batch_size`` positions from the replay buffer actor,
  computes the gradient of the AlphaGo Zero loss there (:class:`~igo.training.learner.ZeroLearner`'s loss: policy
  cross-entropy + ``value_weight`` x value MSE, the same code) and pushes it, never waiting for the other workers;
  it pulls again as soon as it has pushed;
- the server applies each gradient as it arrives, in arrival order: one optimizer step at the rate
  ``lr_at(samples trained so far)``, weight decay on the server's current weights, ``grad_clip`` on the pushed
  gradient, then ``step += 1`` and ``samples += batch``. It records the gradient's **staleness**: the server's
  version when the gradient arrives minus the version the worker pulled (0: computed on the newest weights; with
  ``world`` workers about ``world - 1`` on average). :class:`Staleness` keeps the distribution (mean, max, histogram
  over :data:`STALENESS_BUCKETS`).

One update is one full batch (``batch_size`` positions, not ``batch_size / world`` as a DDP rank takes), so ``step``
and ``samples`` mean what they mean for one learner (``samples == step * batch_size``) and a checkpoint written here
resumes in one process, in sync mode or here alike. With one worker and no other gradient in flight a step equals
:meth:`~igo.training.learner.ZeroLearner.train_step` on the same batch (the tests check it).

**BatchNorm.** A worker's forward pass in training mode normalises with its batch's statistics (as in one process)
and moves its running statistics ``R = (1 - m) P + m B`` from the pulled ``P`` toward the batch's ``B`` (``m`` the
layer's momentum). It pushes its share ``R - (1 - m) P = m B``, and the server applies ``S <- (1 - m) S + m B`` to its
own statistics ``S`` and counts the batch: exactly the update one process would make, batch by batch in arrival
order, whatever the staleness. Layers with ``momentum=None`` (a cumulative average) are refused.

**Quotas.** The driver asks for a number of updates (:meth:`AsyncDataParallelLearner.train`): the server grants a
worker's pull only while updates are left in the quota, so ``train(k)`` applies exactly ``k`` gradients and returns
with none in flight; a checkpoint then holds a consistent state at an exact step. While the quota lasts the workers
run free; at its end a worker waits for the next quota (the driver's loop between two calls is short).

The server runs on the CPU (``num_cpus=0``, as the replay buffer: it only applies updates); workers take
``num_gpus=1`` each when the cluster has a GPU per worker, else ``cpus`` Ray CPUs and ``threads`` torch threads.
fp16 autocast (a GradScaler per process) is refused; bf16 and none work. The workers load the checkpoint by path: on
a cluster the run directory must be on a filesystem they share.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

# lower edges of the staleness histogram's buckets: 0, 1, 2, 3-4, 5-8, 9-16, 17-32, 33+
STALENESS_BUCKETS = (0, 1, 2, 3, 5, 9, 17, 33)


def _bucket_labels() -> list[str]:
    labels = []
    for i, lo in enumerate(STALENESS_BUCKETS):
        hi = STALENESS_BUCKETS[i + 1] - 1 if i + 1 < len(STALENESS_BUCKETS) else None
        labels.append(f"{lo}+" if hi is None else str(lo) if hi == lo else f"{lo}-{hi}")
    return labels


STALENESS_LABELS = tuple(_bucket_labels())


class Staleness:
    """The distribution of gradient staleness (server version at arrival minus the version the worker pulled):
    count, sum, max and a histogram over :data:`STALENESS_BUCKETS` (labels :data:`STALENESS_LABELS`)."""

    def __init__(self) -> None:
        self.count = 0
        self.total = 0
        self.max = 0
        self.hist = [0] * len(STALENESS_BUCKETS)

    def add(self, staleness: int) -> None:
        """Count one gradient of ``staleness`` versions (an int >= 0; ValueError otherwise)."""
        if isinstance(staleness, bool) or not isinstance(staleness, int | np.integer) or staleness < 0:
            raise ValueError(f"staleness must be an int >= 0, got {staleness!r}")
        s = int(staleness)
        self.count += 1
        self.total += s
        self.max = max(self.max, s)
        i = len(STALENESS_BUCKETS) - 1
        while STALENESS_BUCKETS[i] > s:
            i -= 1
        self.hist[i] += 1

    def summary(self) -> dict[str, Any]:
        """``{"count", "mean" (None when empty), "max", "hist": {label: count}}`` (plain JSON values)."""
        return {
            "count": self.count,
            "mean": self.total / self.count if self.count else None,
            "max": self.max,
            "hist": dict(zip(STALENESS_LABELS, self.hist, strict=True)),
        }


def _batchnorms(model) -> list[tuple[str, Any]]:
    """``(name, module)`` of the BatchNorm layers that keep running statistics; ValueError for a cumulative one."""
    from torch import nn

    out = []
    for name, m in model.named_modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats and m.running_mean is not None:
            if m.momentum is None:
                raise ValueError(f"BatchNorm {name!r} has momentum=None (a cumulative average): asynchronous "
                                 "training needs an exponential average")  # fmt: skip
            out.append((name, m))
    return out


def _checked_config(learner_config: Mapping[str, Any]):
    """The :class:`~igo.training.learner.LearnerConfig` of ``learner_config``; ValueError for fp16 autocast."""
    from .learner import LearnerConfig

    cfg = LearnerConfig.from_dict(learner_config)
    if cfg.amp == "fp16":
        raise ValueError("asynchronous training does not support amp 'fp16' (a GradScaler per process): use "
                         "'bf16' or 'none'")  # fmt: skip
    return cfg


# --- the parameter server ------------------------------------------------------------------------------------------


class ParameterServer:
    """The weights, optimizer and BatchNorm statistics of the asynchronous learner (a Ray async actor: its methods
    are coroutines run one at a time on one event loop, so an update is never interleaved with another call).

    ``checkpoint``: the run's checkpoint to resume from (weights, step, samples, optimizer state);
    ``learner_config``: a :class:`~igo.training.learner.LearnerConfig` dict (the optimizer, schedule, weight decay
    and clipping used here; the checkpoints record it as given, though the server computes on the CPU)."""

    def __init__(self, checkpoint: str, learner_config: dict, threads: int = 1):
        import torch

        from .learner import LearnerConfig, ZeroLearner

        torch.set_num_threads(max(1, threads))
        cfg = _checked_config(learner_config)
        self.learner = ZeroLearner.resume(checkpoint, LearnerConfig.from_dict({**cfg.to_dict(), "device": "cpu",
                                                                              "amp": "none"}))  # fmt: skip
        # device and amp are read only when the learner is built: checkpoints record the run's own config
        self.learner.config = cfg
        self.params = dict(self.learner.model.named_parameters())
        self.norms = _batchnorms(self.learner.model)
        self.limit = self.granted = self.learner.step  # quota: updates allowed / pulls granted, in versions
        self.stopping = False
        self.losses: list[dict] = []
        self.recent, self.overall = Staleness(), Staleness()
        self.pushes: dict[int, int] = {}
        self._cache: tuple[int, dict] | None = None
        self._changed = asyncio.Condition()

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def allow(self, updates: int) -> int:
        """Grant ``updates`` more gradients (pulls); returns the version at which the quota ends."""
        if isinstance(updates, bool) or not isinstance(updates, int) or updates < 1:
            raise ValueError(f"updates must be an int >= 1, got {updates!r}")
        self.limit += updates
        await self._notify()
        return self.limit

    async def pull(self, have: int = -1) -> tuple[int, dict | None] | None:
        """Wait for a gradient of the quota, then ``(version, weights)``: the newest weights (a state dict of numpy
        arrays, BatchNorm statistics included), or None when the caller already has ``version`` (``have``). None
        once :meth:`stop` was called."""
        async with self._changed:
            await self._changed.wait_for(lambda: self.stopping or self.granted < self.limit)
            if self.stopping:
                return None
            self.granted += 1
        version = self.learner.step
        return version, (None if have == version else self._weights())

    def _weights(self) -> dict:
        if self._cache is None or self._cache[0] != self.learner.step:
            self._cache = (self.learner.step, self.learner.weights())
        return self._cache[1]

    async def push(self, worker: int, version: int, grads: dict, norms: dict, stats: dict, batch: int) -> int:
        """Apply one worker's gradient (see the module docstring) computed on the weights of ``version`` from
        ``batch`` positions: ``grads`` parameter name -> gradient, ``norms`` ``<layer>.running_mean`` /
        ``<layer>.running_var`` -> the batch's share ``m B``, ``stats`` its losses. Returns its staleness.
        ValueError (and nothing changed) for a gradient that does not fit the model or is not finite."""
        import torch
        from torch import nn

        learner = self.learner
        if isinstance(version, bool) or not isinstance(version, int) or not 0 <= version <= learner.step:
            raise ValueError(f"version must be an int in [0, {learner.step}], got {version!r}")
        if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
            raise ValueError(f"batch must be an int >= 1, got {batch!r}")
        tensors = {}
        for name, g in grads.items():
            p = self.params.get(name)
            if p is None:
                raise ValueError(f"gradient for unknown parameter {name!r}")
            t = torch.as_tensor(np.asarray(g, dtype=np.float32))
            if tuple(t.shape) != tuple(p.shape):
                raise ValueError(f"gradient {name} has shape {list(t.shape)}, the parameter {list(p.shape)}")
            if not bool(torch.isfinite(t).all()):
                raise ValueError(f"gradient {name} is not finite")
            tensors[name] = t
        shares = {}
        for name, m in self.norms:
            for key in ("running_mean", "running_var"):
                full = f"{name}.{key}"
                if full not in norms:
                    raise ValueError(f"BatchNorm statistics {full} missing")
                t = torch.as_tensor(np.asarray(norms[full], dtype=np.float32))
                if tuple(t.shape) != tuple(getattr(m, key).shape) or not bool(torch.isfinite(t).all()):
                    raise ValueError(f"BatchNorm statistics {full} do not fit the model or are not finite")
                shares[full] = t
        staleness = learner.step - version
        lr = learner.lr_at(learner.samples)
        for group in learner.optimizer.param_groups:
            group["lr"] = lr
        learner.model.train()
        learner.optimizer.zero_grad(set_to_none=True)
        for name, t in tensors.items():
            p = self.params[name]
            p.grad = t.to(device=p.device, dtype=p.dtype)
        if learner.config.grad_clip is not None:
            nn.utils.clip_grad_norm_(self.params.values(), learner.config.grad_clip)
        learner.optimizer.step()
        learner.optimizer.zero_grad(set_to_none=True)
        with torch.no_grad():
            for name, m in self.norms:
                mom = float(m.momentum)
                for key in ("running_mean", "running_var"):
                    buf = getattr(m, key)
                    buf.mul_(1.0 - mom).add_(shares[f"{name}.{key}"].to(buf.device))
                m.num_batches_tracked.add_(1)
        learner.step += 1
        learner.samples += batch
        self.losses.append({**{k: float(v) for k, v in stats.items()}, "lr": lr})
        self.recent.add(staleness)
        self.overall.add(staleness)
        self.pushes[worker] = self.pushes.get(worker, 0) + 1
        await self._notify()
        return staleness

    async def push_pull(self, worker: int, version: int, grads: dict, norms: dict, stats: dict, batch: int
                        ) -> tuple[int, tuple[int, dict | None] | None]:  # fmt: skip
        """:meth:`push`, then :meth:`pull` for the same worker, in one call (one round trip less per gradient):
        ``(staleness, pull's answer)``."""
        staleness = await self.push(worker, version, grads, norms, stats, batch)
        return staleness, await self.pull(version)

    async def wait_for(self, version: int) -> tuple[int, int, list[dict]]:
        """Wait until the server is at ``version`` (or stopping); ``(step, samples, losses)``, the losses of the
        gradients applied since the last call."""
        async with self._changed:
            await self._changed.wait_for(lambda: self.stopping or self.learner.step >= version)
        losses, self.losses = self.losses, []
        return self.learner.step, self.learner.samples, losses

    async def take_staleness(self) -> dict:
        """``{"recent": ..., "overall": ...}`` :meth:`Staleness.summary` of the gradients since the last call and
        since the server started; the recent ones are forgotten."""
        out = {"recent": self.recent.summary(), "overall": self.overall.summary()}
        self.recent = Staleness()
        return out

    async def position(self) -> tuple[int, int]:
        return self.learner.step, self.learner.samples

    async def push_counts(self) -> dict[int, int]:
        """Gradients applied per worker index."""
        return dict(self.pushes)

    async def weights(self) -> dict:
        return self._weights()

    async def save(self, path: str, extra: dict | None = None, **meta) -> str:
        """Write the checkpoint and optimizer state (:meth:`~igo.training.learner.ZeroLearner.save`)."""
        return str(self.learner.save(path, extra=extra, **meta))

    async def stop(self) -> None:
        """Answer every waiting and later pull with None (the workers' loops end)."""
        self.stopping = True
        await self._notify()


# --- the workers ---------------------------------------------------------------------------------------------------


class GradientWorker:
    """Computes gradients of the Zero loss on replay samples for a :class:`ParameterServer` (a Ray actor; also
    usable in-process through :meth:`gradient`)."""

    def __init__(self, index: int, checkpoint: str, learner_config: dict, threads: int = 1, cpu: bool = True):
        import torch

        from igo.nets.checkpoint import load_checkpoint

        from .learner import LearnerConfig, ZeroLearner

        torch.set_num_threads(max(1, threads))
        cfg = _checked_config(learner_config)
        if cpu and cfg.device == "auto":
            cfg = LearnerConfig.from_dict({**cfg.to_dict(), "device": "cpu"})
        model, _ = load_checkpoint(checkpoint, expect_kind="zero")
        self.index = index
        self.learner = ZeroLearner(model, cfg)
        self.params = [(n, p) for n, p in self.learner.model.named_parameters()]
        self.norms = _batchnorms(self.learner.model)
        self.version = -1

    def load(self, version: int, weights: Mapping[str, np.ndarray]) -> None:
        """Take the server's weights of ``version``."""
        from igo.nets.weights import load_numpy_weights

        load_numpy_weights(self.learner.model, weights)
        self.version = version

    def gradient(self, planes: Any, policy: Any, value: Any) -> tuple[dict, dict, dict, int]:
        """``(grads, norms, stats, batch)`` of one batch on the current weights: the gradient of
        :class:`~igo.training.learner.ZeroLearner`'s loss per parameter name, the BatchNorm shares (module docstring),
        the losses as floats (as ``train_step`` reports them, less ``lr``). ValueError for bad shapes,
        FloatingPointError for a loss that is not finite."""
        import torch

        learner = self.learner
        before = {f"{n}.{k}": getattr(m, k).detach().clone() for n, m in self.norms
                  for k in ("running_mean", "running_var")}  # fmt: skip
        stats, b = learner.gradient(planes, policy, value)  # the loss ZeroLearner.train_step takes
        if not math.isfinite(stats["loss"]):
            raise FloatingPointError(
                f"worker {self.index}: non-finite loss on the weights of version {self.version}: "
                + ", ".join(f"{k} {v:.6g}" for k, v in stats.items())
            )
        grads = {n: p.grad.detach().float().cpu().numpy() for n, p in self.params if p.grad is not None}
        norms = {}
        with torch.no_grad():
            for n, m in self.norms:
                for k in ("running_mean", "running_var"):
                    full = f"{n}.{k}"
                    share = getattr(m, k).detach().float() - (1.0 - float(m.momentum)) * before[full].float()
                    norms[full] = share.cpu().numpy()
        learner.model.zero_grad(set_to_none=True)
        return grads, norms, stats, b

    def ready(self) -> int:
        return self.index

    def run(self, server, buffer, batch: int) -> dict:
        """Pull, sample ``batch`` positions, compute, push, until the server stops: returns the gradients pushed and
        the seconds spent with the server (push, pull and loading its weights), waiting for samples, and computing."""
        import ray

        pushed, wait_s, sample_s, compute_s = 0, 0.0, 0.0, 0.0
        pending = buffer.sample.remote(batch)  # the next batch is drawn while this one is computed
        t0 = time.perf_counter()
        reply = ray.get(server.pull.remote(self.version))
        wait_s += time.perf_counter() - t0
        while reply is not None:
            t0 = time.perf_counter()
            version, weights = reply
            if weights is not None:
                self.load(version, weights)
            t1 = time.perf_counter()
            wait_s += t1 - t0
            planes, policy, value = ray.get(pending)
            pending = buffer.sample.remote(batch)
            t2 = time.perf_counter()
            sample_s += t2 - t1
            grads, norms, stats, b = self.gradient(planes, policy, value)
            t3 = time.perf_counter()
            compute_s += t3 - t2
            _, reply = ray.get(server.push_pull.remote(self.index, version, grads, norms, stats, b))  # push, pull
            wait_s += time.perf_counter() - t3
            pushed += 1
        return {"worker": self.index, "gradients": pushed, "wait_s": wait_s, "sample_s": sample_s,
                "compute_s": compute_s}  # fmt: skip


# --- the driver's handle -------------------------------------------------------------------------------------------


class AsyncDataParallelLearner:
    """``world`` :class:`GradientWorker` actors and a :class:`ParameterServer` training from ``checkpoint``; the
    learner interface the Zero run uses (``step``, ``samples``, ``train``, ``save``, ``weights``, ``close``, as
    :class:`igo.training.distributed.DataParallelLearner`) plus :meth:`staleness`.

    ``gpus``: GPUs per worker (default: 1 when the cluster has one per worker, else 0); ``threads``: torch threads
    per worker; ``cpus``: Ray CPUs per worker (default ``threads``); ``batch_size``: positions per gradient."""

    def __init__(self, world: int, checkpoint: str | os.PathLike, learner_config: dict, *, gpus: float | None = None,
                 threads: int = 1, cpus: float | None = None, batch_size: int = 256):  # fmt: skip
        import ray

        if isinstance(world, bool) or not isinstance(world, int) or world < 2:
            raise ValueError(f"asynchronous data-parallel training needs at least 2 learners, got {world!r}")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be an int >= 1, got {batch_size!r}")
        _checked_config(learner_config)
        if gpus is None:
            gpus = 1.0 if ray.cluster_resources().get("GPU", 0) >= world else 0.0
        self.world, self.batch = world, batch_size
        path = str(Path(checkpoint))
        self.server = ray.remote(ParameterServer).options(num_cpus=0).remote(path, learner_config, 1)
        cls = ray.remote(GradientWorker)
        self.workers = [
            cls.options(num_cpus=threads if cpus is None else cpus, num_gpus=gpus).remote(
                k, path, learner_config, threads, gpus == 0
            )
            for k in range(world)
        ]
        ray.get([w.ready.remote() for w in self.workers])  # all loaded: the first quota is shared from the start
        self.step, self.samples = ray.get(self.server.position.remote())
        self._loops: list | None = None
        self.worker_stats: list[dict] = []
        log.info("asynchronous data-parallel learner: %d workers (%s), %d positions per gradient", world,
                 "GPU" if gpus > 0 else "CPU", batch_size)  # fmt: skip

    def train(self, buffer, steps: int) -> list[dict]:
        """Apply exactly ``steps`` gradients (from whichever workers push first) and return their losses, in the order
        applied; the workers' loops start at the first call, on ``buffer``. A worker's error is raised here."""
        import ray

        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
            raise ValueError(f"steps must be an int >= 1, got {steps!r}")
        if self._loops is None:
            self._loops = [w.run.remote(self.server, buffer, self.batch) for w in self.workers]
        target = ray.get(self.server.allow.remote(steps))
        done = self.server.wait_for.remote(target)
        while True:
            ready, _ = ray.wait([done, *self._loops], num_returns=1)
            if done in ready:
                break
            for ref in ready:  # a worker's loop ended before the quota did: its error, or a stop from elsewhere
                ray.get(ref)
                raise RuntimeError("a gradient worker stopped while training")
        self.step, self.samples, losses = ray.get(done)
        return losses

    def staleness(self) -> dict:
        """The staleness distribution: ``{"recent": summary since the last call, "overall": since the start}``
        (:meth:`Staleness.summary`)."""
        import ray

        return ray.get(self.server.take_staleness.remote())

    def push_counts(self) -> dict[int, int]:
        """Gradients applied per worker."""
        import ray

        return ray.get(self.server.push_counts.remote())

    def save(self, path, extra: dict | None = None, **meta) -> Path:
        """The server writes the checkpoint (a normal learner checkpoint with its optimizer state); ``meta`` (komi,
        rules, parent) goes into its metadata."""
        import ray

        return Path(ray.get(self.server.save.remote(str(path), extra, **meta)))

    def weights(self) -> dict:
        import ray

        return ray.get(self.server.weights.remote())

    def close(self) -> None:
        """Stop the workers' loops (their summaries go to ``worker_stats``) and end the actors."""
        import ray

        try:
            ray.get(self.server.stop.remote(), timeout=30)
            if self._loops:
                self.worker_stats = ray.get(self._loops, timeout=60)
                log.info("gradient workers: %s", self.worker_stats)
        except Exception as e:  # noqa: BLE001 - best effort: the actors are killed below anyway
            log.debug("closing the asynchronous learner: %s", e)
        for a in [*self.workers, self.server]:
            try:
                ray.kill(a)
            except Exception:  # noqa: BLE001
                pass


__all__ = [
    "STALENESS_BUCKETS",
    "STALENESS_LABELS",
    "AsyncDataParallelLearner",
    "GradientWorker",
    "ParameterServer",
    "Staleness",
]
