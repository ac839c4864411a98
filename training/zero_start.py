"""How a Zero run starts and what it spends: the warm start from ``--init`` and the CPU-hours.

**Warm start.** ``igo train zero --init CHECKPOINT`` (``ZeroRunConfig.parent``, a new run only) makes that checkpoint's
weights the run's first network (``step-0``, published to the actors before any training); it must be a Zero net of
the run's config and board size (:func:`check_parent`, before the run directory is written). The path is the run's
``parent`` in ``config.json`` and in every checkpoint's metadata.

**CPU-hours.** Each invocation adds its wall time times the Ray CPUs it used (:func:`ray_cpus`: a local Ray's CPUs;
on a cluster the CPUs the run reserves, actors and learners) to the total of the invocations before it
(:class:`CpuHours`). The total is written into each checkpoint's metadata (``extra.cpu_hours``), ``state.json``
(``cpu_hours``), the ``metrics.jsonl`` rows and the status; a resume starts from the larger of ``state.json``'s and
the resumed checkpoint's, so a crash loses at most the time since the last checkpoint.

**Learners.** :func:`check_local_cpus` refuses a local Ray too small for the actors and data-parallel learners
together; :func:`staleness_fields` reads the asynchronous learner's gradient staleness for ``metrics.jsonl`` and the
status.
"""

from __future__ import annotations

import time
from pathlib import Path


def check_parent(config) -> None:
    """ValueError unless ``config.parent`` (a :class:`~igo.training.zero.ZeroRunConfig`'s) is None or a readable
    Zero checkpoint of the run's network config and board size; reads only its header."""
    if config.parent is None:
        return
    from igo.nets.checkpoint import read_metadata
    from igo.nets.config import config_to_dict, get_config

    meta = read_metadata(config.parent)  # CheckpointError (a ValueError) names the path and the problem
    if meta.quantized_mode == "int8":
        source = (meta.quantization or {}).get("source") or "its float checkpoint"
        raise ValueError(f"--init {config.parent} is an int8 network, for play only; train from its float weights "
                         f"({source})")  # fmt: skip
    same = config_to_dict(meta.config) == config_to_dict(get_config(config.model))
    if not same or meta.board_size != config.size:
        n, s = meta.board_size, config.size
        raise ValueError(f"--init {config.parent} is a {meta.config_name} net for {n}x{n}, this run trains "
                         f"{config.model} for {s}x{s}")  # fmt: skip


def parent_model(config):
    """The network of ``config.parent`` (checked by :func:`check_parent`), to train from."""
    from igo.nets.checkpoint import load_checkpoint

    check_parent(config)
    model, _meta = load_checkpoint(config.parent, board_size=config.size, expect_kind="zero")
    return model.train()


def parent_cpu_hours(config, first: Path | None = None) -> float:
    """What the ``--init`` network cost before this run: its checkpoint's ``extra.cpu_hours`` plus its own
    ``extra.parent_cpu_hours`` (an ``igo train sl`` net records its training's; a Zero net its run's and its
    parent's); 0 without a parent or a readable figure. Checkpoints of the run record it as ``parent_cpu_hours``, so
    that Elo can be drawn against all the CPU-hours that made a network (``igo tournament --plot-x cpu-hours``).
    ``first``: the run's step-0 checkpoint; the figure it recorded when the run began wins, so that a parent file
    replaced since (a candidate overwritten by a newer one) does not change what the run's checkpoints say."""
    if not config.parent:
        return 0.0
    from igo.nets.checkpoint import CheckpointError, network_cpu_hours, read_metadata

    if first is not None and first.is_file():
        try:
            recorded = read_metadata(first).extra.get("parent_cpu_hours")
        except (CheckpointError, OSError):
            recorded = None
        if isinstance(recorded, int | float) and not isinstance(recorded, bool) and 0 <= recorded < 1e9:
            return float(recorded)
    try:
        return network_cpu_hours(read_metadata(config.parent).extra) or 0.0
    except (CheckpointError, OSError):
        return 0.0


def ray_cpus(config, address: str | None) -> float:
    """The Ray CPUs this invocation uses: all of a local Ray's (the run has the machine); on a cluster, what the
    run reserves (its actors and data-parallel learners, or one CPU for a learner in the driver)."""
    import ray

    if address is None:
        return float(ray.cluster_resources().get("CPU", 1.0))
    learners = config.learners * config.learner_cpus if config.learners > 1 else 1.0
    return config.actors * config.actor_cpus + learners


def recorded_cpu_hours(state: dict | None, checkpoint: Path | None) -> float:
    """The CPU-hours spent before this invocation: the larger of ``state.json``'s ``cpu_hours`` and the resumed
    ``checkpoint``'s ``extra.cpu_hours`` (a value that is not a finite number >= 0 counts 0)."""
    found = [(state or {}).get("cpu_hours")]
    from igo.nets.checkpoint import CheckpointError, hours, read_metadata

    if checkpoint is not None:
        try:
            found.append(read_metadata(checkpoint).extra.get("cpu_hours"))
        except CheckpointError:
            pass
    return max(hours(v) for v in found)


class CpuHours:
    """The run's CPU-hours: ``before`` (earlier invocations) plus this invocation's wall time since
    :meth:`start` times ``cpus``."""

    def __init__(self, before: float = 0.0, clock=time.monotonic):
        self.before = float(before)
        self.cpus = 0.0
        self._clock = clock
        self._t0 = clock()

    def start(self, cpus: float) -> None:
        """Count from now on, at ``cpus`` CPUs (the invocation's time before Ray was up counts at that rate too)."""
        self.cpus = float(cpus)

    def total(self) -> float:
        return self.before + (self._clock() - self._t0) / 3600.0 * self.cpus


__all__ = ["CpuHours", "check_parent", "parent_model", "ray_cpus", "recorded_cpu_hours"]


def check_local_cpus(config, address: str | None) -> None:
    """RunError when a local Ray (``address`` None) has fewer CPUs than the self-play actors and data-parallel learners
    of ``config`` (a ZeroRunConfig) reserve together: the learners would wait for CPUs forever. A cluster may grow,
    so it is not checked."""
    import ray

    from .run import RunError

    if address is not None:
        return
    need = config.actors * config.actor_cpus + config.learners * config.learner_cpus
    have = float(ray.cluster_resources().get("CPU", 0.0))
    if need > have + 1e-9:
        raise RunError(
            f"the run reserves {need:g} Ray CPUs ({config.actors} actor(s) x {config.actor_cpus:g} + "
            f"{config.learners} learners x {config.learner_cpus:g}) but the local Ray has {have:g}: lower --actors, "
            "--actor-cpus or --learner-cpus, or raise --cpus"
        )


def staleness_fields(dp, status) -> dict:
    """With the asynchronous learner ``dp`` (:mod:`igo.training.async_dp`): the staleness of the gradients since the
    last ``train`` row, for ``metrics.jsonl`` (``staleness_mean``, ``staleness_max``, ``staleness_hist`` {bucket:
    count}), and, into ``status``, that of all gradients of this invocation. Nothing otherwise (sync or one learner)."""
    if dp is None or not hasattr(dp, "staleness"):
        return {}
    s = dp.staleness()
    recent, overall = s["recent"], s["overall"]
    status.staleness_mean, status.staleness_max = overall["mean"], overall["max"]
    if not recent["count"]:
        return {}
    return {"staleness_mean": recent["mean"], "staleness_max": recent["max"], "staleness_hist": recent["hist"]}
