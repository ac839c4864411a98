"""Self-play on Ray: :class:`SelfPlayWorker` runs a :class:`igo.selfplay.selfplay.SelfPlay` inside a Ray actor.

The trainer creates ``actors`` of them (``selfplay_actor_class().options(num_cpus=..., num_gpus=...)``) and calls
``play(weights, version, seconds)`` on each in a loop: every call plays for about ``seconds`` — games in progress
carry over from call to call — and returns the games that finished plus counters. New weights travel as an argument
of the next call (a Ray object reference put once and shared by all actors), so an actor never waits for them and
never plays with weights older than one call.

Inference placement: each actor evaluates its own batches, on its CPU (``device="cpu"``, ``threads`` intra-op
threads) or on a GPU (``device="cuda"``; the trainer gives each actor a fraction of a GPU, so several actors share
one). One actor with many parallel games already fills a batch (``parallel_games × leaves_per_game`` leaves), which
is why there is no separate inference server.

``precision="int8"`` (CPU actors): each new network is quantized to int8 (:func:`igo.nets.quantize.quantize_int8`)
before it plays, calibrated on positions of the actor's own recent games — about twice the moves per second of bf16
on a CPU (issue 17). Until the actor has finished a game it plays in float, and it switches to int8 as soon as it
has the positions to calibrate on.
"""

from __future__ import annotations

import logging
import os
import time

import numpy as np

from .selfplay import SelfPlay, SelfPlayConfig

log = logging.getLogger(__name__)

PRECISIONS = ("float", "int8")
CALIBRATION_POSITIONS = 256  # int8: positions of the actor's recent games its activation ranges are observed on


class SelfPlayWorker:
    """Plays self-play games with the latest weights it was given. ``model_config``: the net's config as a dict
    (:func:`igo.nets.config.config_to_dict`); ``weights``: its state dict as numpy arrays
    (:func:`igo.nets.weights.model_to_numpy`)."""

    def __init__(
        self,
        model_config: dict,
        selfplay_config: dict,
        weights: dict[str, np.ndarray],
        version: int = 0,
        *,
        seed: int | None = None,
        device: str = "cpu",
        dtype: str = "auto",
        threads: int = 1,
        name: str = "igo-zero",
        precision: str = "float",
    ):
        import torch

        from igo.nets.config import config_from_dict

        torch.set_num_threads(max(1, threads))
        self.model_config = config_from_dict(model_config)
        self.config = SelfPlayConfig.from_dict(selfplay_config)
        self.device = device
        self.dtype = dtype
        self.threads = max(1, threads)
        self.seed = seed
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
        if precision == "int8" and device != "cpu":
            raise ValueError("int8 self-play runs on the CPU only (--actor-device cpu)")
        self.precision = precision
        self.int8 = False  # whether the current evaluator runs the int8 network
        self._weights = weights
        self._calibration: list[np.ndarray] = []  # packed planes of recent positions, newest last
        self._calibration_rng = np.random.default_rng(seed)
        self.version = -1
        self.selfplay = SelfPlay(self._evaluator(weights), self.config, seed=seed, name=name)
        self.version = int(version)
        self.selfplay.version = self.version

    def _evaluator(self, weights: dict[str, np.ndarray]):
        from igo.nets.evaluator import NetEvaluator
        from igo.nets.models import build_model
        from igo.nets.weights import load_numpy_weights

        model = build_model(self.model_config, self.config.size)
        load_numpy_weights(model, weights)
        self._weights = weights
        planes = self._calibration_planes() if self.precision == "int8" else None
        self.int8 = planes is not None
        if planes is not None:
            from igo.nets.quantize import quantize_int8

            model = quantize_int8(model, planes, {"mode": "int8", "source": "self-play", "positions": len(planes)})
        return NetEvaluator(
            model,
            size=self.config.size,
            device=self.device,
            dtype=self.dtype,
            threads=self.threads,
            cache_size=0,  # self-play positions almost never repeat (Dirichlet noise, sampled moves): no hit to pay for
            seed=None if self.seed is None else self.seed + 7919 * (self.version + 2),
        )

    def play(self, weights: dict[str, np.ndarray] | None = None, version: int | None = None, seconds: float = 30.0):
        """Take ``weights`` (version ``version``) if given, play for about ``seconds``; returns
        ``{"games": [...], "stats": {...}, "version": ..., "pid": ...}``."""
        if weights is not None and version is not None and int(version) != self.version:
            self.version = int(version)
            self.selfplay.set_evaluator(self._evaluator(weights), self.version)
        before = dict(self.selfplay.stats.to_dict())
        t0 = time.perf_counter()
        games = self.selfplay.play(seconds=seconds)
        if self.precision == "int8":
            self._keep_positions(games)
            if not self.int8 and self._calibration:  # the first games: from now on, int8
                self.selfplay.set_evaluator(self._evaluator(self._weights), self.version)
        after = self.selfplay.stats.to_dict()
        delta = {k: after[k] - before[k] for k in after}
        delta["wall_s"] = time.perf_counter() - t0
        return {"games": games, "stats": delta, "version": self.version, "pid": os.getpid(), "int8": self.int8}

    def _keep_positions(self, games: list[dict]) -> None:
        """Keep up to :data:`CALIBRATION_POSITIONS` positions of the newest games, spread over each game."""
        rng = self._calibration_rng
        for g in games:
            packed = np.asarray(g["planes"])
            take = min(len(packed), max(1, CALIBRATION_POSITIONS // 8))
            self._calibration.extend(packed[np.sort(rng.choice(len(packed), take, replace=False))])
        del self._calibration[:-CALIBRATION_POSITIONS]

    def _calibration_planes(self) -> np.ndarray | None:
        if not self._calibration:
            return None
        from igo.engine.planes import unpack_planes

        return unpack_planes(np.stack(self._calibration), self.model_config.input_planes, self.config.size)


_ACTOR = None


def selfplay_actor_class():
    """The Ray actor class of :class:`SelfPlayWorker` (made once; ray imported here)."""
    global _ACTOR
    if _ACTOR is None:
        import ray

        _ACTOR = ray.remote(SelfPlayWorker)
    return _ACTOR


__all__ = ["CALIBRATION_POSITIONS", "PRECISIONS", "SelfPlayWorker", "selfplay_actor_class"]
