"""AlphaGo's (2016) RL policy network: REINFORCE from games against a pool of its own earlier snapshots.

Silver et al. 2016, "Methods: reinforcement learning of policy networks": the RL net starts as a copy of the SL net;
every iteration it plays a minibatch of ``n`` games (no search, moves sampled from the policy) against an opponent
drawn uniformly from a pool of its earlier versions (the pool starts with the SL net and gets a snapshot every
``pool_every`` iterations; playing the latest version only overfits to it), and its weights move by

    Δρ ∝ (1/n) Σ_games Σ_t (z_t − b) ∇ log p_ρ(a_t | s_t)

over its own moves, where ``z_t`` = ±1 is the game's outcome for the player who moved. ``b`` is a baseline (variance
reduction, not bias): here the mean outcome of the current net's games *with the same colour* in the minibatch (the
paper used the value net in its second pass; with komi the colours have different expected outcomes). ``p`` is the
softmax over the sensible moves the net sampled from (see :mod:`igo.selfplay.policy_games`).

The games of an iteration are split across Ray actors (:class:`igo.selfplay.policy_games.PolicyGameWorker`, local Ray by
default or a cluster), the update runs in the driver. Every ``eval_every`` iterations ``eval_games`` games against
the SL net measure the win rate (TensorBoard ``eval/win_rate_vs_sl``). A run directory holds ``config.json``,
``checkpoints/rl-<iteration>.safetensors`` (+ optimizer state), ``pool/`` (the opponents), ``rl.safetensors`` (the
latest), ``metrics.jsonl`` and ``tb/``; rerunning the same command resumes.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from igo.engine.board_kernels import BLACK, WHITE
from igo.engine.features import P_SENSIBLE
from igo.engine.planes import unpack_planes
from igo.nets.checkpoint import RULES, load_checkpoint, read_metadata, save_checkpoint
from igo.nets.device import resolve_device
from igo.nets.weights import model_to_numpy
from igo.selfplay.policy_games import GameSpec
from igo.selfplay.stats import wilson_interval

from .common import Metrics, build_optimizer, save_with_optimizer
from .run import ConfigDict, Retention, RunDir, check_settings, restore_optimizer, shown, stop_on_signals

log = logging.getLogger(__name__)


PREFIX = "rl"  # checkpoints/rl-<iteration>.safetensors
DIGITS = 6
POOL = "pool"  # pool/iter-<iteration>.safetensors


@dataclass
class RLConfig(Retention, ConfigDict):
    SETTINGS = "RL setting(s)"

    init: str = ""  # the SL checkpoint
    komi: float | None = None  # default 7 on 9x9 and smaller, 7.5 above
    games_per_iteration: int = 64  # the paper's n = 128
    pool_every: int = 20  # the paper: 500 iterations
    optimizer: str = "sgd"
    lr: float = 0.01
    momentum: float = 0.0
    weight_decay: float = 0.0
    temperature: float = 1.0
    move_limit: int | None = None
    eval_every: int = 10
    eval_games: int = 100
    checkpoint_every: int = 10
    seed: int = 0

    def __post_init__(self) -> None:
        if not self.init:
            raise ValueError("--init: give the SL policy checkpoint the RL net starts from")
        for name in ("games_per_iteration", "pool_every", "eval_every", "checkpoint_every"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be a positive integer, got {v!r}")
        if self.games_per_iteration < 2 or self.games_per_iteration % 2:
            raise ValueError(f"games_per_iteration must be even (half as Black, half as White), got "
                             f"{self.games_per_iteration}")  # fmt: skip
        if isinstance(self.eval_games, bool) or not isinstance(self.eval_games, int) or self.eval_games < 0:
            raise ValueError(f"eval_games must be >= 0, got {self.eval_games!r}")
        if self.optimizer not in ("sgd", "adamw"):
            raise ValueError(f"optimizer must be sgd or adamw, got {self.optimizer!r}")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise ValueError(f"lr must be positive, got {self.lr!r}")
        if not 0 <= self.momentum < 1:
            raise ValueError(f"momentum must be in [0, 1), got {self.momentum!r}")
        if self.weight_decay < 0:
            raise ValueError(f"weight_decay must be >= 0, got {self.weight_decay!r}")
        if self.temperature <= 0:
            raise ValueError(f"temperature must be positive, got {self.temperature!r}")
        if self.move_limit is not None and self.move_limit < 1:
            raise ValueError(f"move_limit must be positive, got {self.move_limit!r}")
        check_settings(self.retention_checks())


# settings a resumed run may not change
FIXED = ("init", "komi")


@dataclass
class RLStatus:
    iteration: int = 0
    games: int = 0
    positions: int = 0
    loss: float | None = None
    train_win_rate: float | None = None  # against the pool, last iteration
    win_rate_vs_sl: float | None = None
    win_rate_low: float | None = None
    win_rate_high: float | None = None
    pool: int = 1
    elapsed: float = 0.0
    games_per_second: float = 0.0
    checkpoint: str | None = None
    eval_history: list[tuple[int, float]] = field(default_factory=list)

    def line(self) -> str:
        return (
            f"iteration {self.iteration}, {self.games} games ({self.games_per_second:.1f}/s), loss "
            f"{shown(self.loss, '+.4f')}, wins vs pool {shown(self.train_win_rate, '.0f', percent=True)}, vs SL "
            f"{shown(self.win_rate_vs_sl, '.1f', percent=True)}, pool {self.pool}"
        )


@dataclass
class RLLimits:
    max_iterations: int | None = None
    max_minutes: float | None = None


def prepare_run_dir(run_dir: Path, config: RLConfig | None) -> RLConfig:
    """The run's config: ``config`` for a new run (written to ``config.json``), or the stored one for a resume —
    where ``config`` (when given) may change everything but :data:`FIXED`."""
    rd = RunDir(run_dir, PREFIX, DIGITS)
    found = rd.read_config()
    if found is not None:
        try:
            stored = RLConfig.from_dict(found["rl"])
        except (KeyError, TypeError, ValueError) as e:
            raise ValueError(f"{run_dir / 'config.json'} is not the config of an RL run ({e})") from None
        if config is None:
            return stored
        given = {k: v for k, v in config.to_dict().items() if v is not None}
        rd.check_unchanged(stored.to_dict(), given, FIXED, what="an RL run")
        config.komi = stored.komi
    elif config is None:
        raise ValueError(f"{run_dir} has no config.json: give --init to start a run")
    meta = read_metadata(config.init)
    if meta.kind != "lee-policy":
        raise ValueError(f"--init {config.init} is a {meta.kind} net; RL starts from an SL policy (lee-policy)")
    if config.komi is None:
        config.komi = 7.0 if meta.board_size <= 9 else 7.5
    rd.write_config({"rl": config.to_dict()}, subdirs=("checkpoints", POOL, "tb"))
    return config


def reinforce_loss(
    model: torch.nn.Module, planes: torch.Tensor, actions: torch.Tensor, advantages: torch.Tensor, games: int
) -> torch.Tensor:
    """−(1/games) Σ advantage · log p(action | planes), p the softmax over the sensible moves (plane 46)."""
    logits = model(planes).float()
    sensible = planes[:, P_SENSIBLE].flatten(1) > 0.5
    logits = logits.masked_fill(~sensible, -1e9)
    logp = torch.log_softmax(logits, dim=1).gather(1, actions[:, None]).squeeze(1)
    return -(advantages * logp).sum() / games


class RLRun:
    """One RL run in ``run_dir`` (see the module docstring)."""

    def __init__(self, run_dir: str | Path, config: RLConfig | None = None):
        self.run_dir = Path(run_dir)
        self.config = prepare_run_dir(self.run_dir, config)
        self.stop = threading.Event()

    # --- the run ---

    def run(
        self,
        limits: RLLimits,
        *,
        actors: int | None = None,
        address: str | None = None,
        num_cpus: int | None = None,
        threads: int = 1,
        device: str = "auto",
        on_status: Callable[[RLStatus], None] | None = None,
    ) -> RLStatus:
        import ray

        from igo.selfplay.cluster import init_ray
        from igo.selfplay.policy_games import policy_game_actor_class

        if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
            raise ValueError(f"threads (torch threads per actor) must be an integer of at least 1, got {threads!r}")
        cfg = self.config
        dev = resolve_device(device)
        sl_model, sl_meta = load_checkpoint(cfg.init, expect_kind="lee-policy")
        size, config_name = sl_meta.board_size, sl_meta.config_name
        rd, pool_rd = RunDir(self.run_dir, PREFIX, DIGITS), RunDir(self.run_dir, "iter", DIGITS, POOL)
        newest = rd.newest()
        latest = None if newest is None else newest[1]
        if latest is not None:
            model, meta = load_checkpoint(latest, expect_kind="lee-policy")
            if meta.config_name != config_name or meta.board_size != size:
                raise ValueError(f"{latest} is a {meta.config_name} {meta.board_size}x{meta.board_size} net, the SL "
                                 f"net a {config_name} {size}x{size} one")  # fmt: skip
            iteration = meta.step
            games_total = int(meta.extra.get("games", 0))
            rd.announce_resume(iteration, f"{games_total} games", unit="iteration")
        else:  # a fresh copy of the SL net
            model, iteration, games_total = load_checkpoint(cfg.init, expect_kind="lee-policy")[0], 0, 0
        model = model.to(dev).train()
        optimizer = build_optimizer(model.parameters(), cfg.optimizer, cfg.lr, momentum=cfg.momentum,
                                    weight_decay=cfg.weight_decay)  # fmt: skip
        if latest is not None:
            restore_optimizer(optimizer, latest, kind=cfg.optimizer, step=iteration)
        pool = [p for _, p in pool_rd.checkpoints()]
        sl_weights = model_to_numpy(sl_model)
        status = RLStatus(iteration=iteration, games=games_total, pool=1 + len(pool), checkpoint=str(latest or ""))
        rng = np.random.default_rng([cfg.seed, iteration])
        started = init_ray(address, num_cpus)
        metrics = Metrics(self.run_dir)
        t0 = time.monotonic()
        with stop_on_signals(self.stop, "signal %d: stopping after this iteration, saving a checkpoint"):
            try:
                # an actor takes as many Ray CPUs as its torch threads (fewer when --actors asks for more than fit)
                cpus = max(1.0, float(ray.available_resources().get("CPU", 1)))
                n_actors = actors or max(1, int(cpus) // threads)
                Actor = policy_game_actor_class(min(float(threads), cpus / n_actors))
                workers = [
                    Actor.remote(
                        size,
                        cfg.komi,
                        {"current": config_name, "opponent": config_name},
                        threads=threads,
                        seed=cfg.seed * 1000 + iteration * 10 + k,
                    )  # fmt: skip
                    for k in range(n_actors)
                ]
                sl_ref = ray.put(sl_weights)
                while not self.stop.is_set():
                    if limits.max_iterations is not None and iteration >= limits.max_iterations:
                        break
                    if limits.max_minutes is not None and time.monotonic() - t0 >= 60 * limits.max_minutes:
                        break
                    # opponents: the SL net and every pool snapshot, uniformly
                    k = int(rng.integers(len(pool) + 1))
                    opp_ref = sl_ref if k == 0 else ray.put(model_to_numpy(load_checkpoint(pool[k - 1])[0]))
                    cur_ref = ray.put(model_to_numpy(model))
                    games = self._play(workers, cur_ref, opp_ref, cfg.games_per_iteration, record=True)
                    stats = self._update(model, optimizer, games, dev, size)
                    iteration += 1
                    games_total += len(games)
                    elapsed = time.monotonic() - t0
                    status.iteration, status.games, status.loss = iteration, games_total, stats["loss"]
                    status.positions += stats["positions"]
                    status.train_win_rate = stats["win_rate"]
                    status.elapsed = elapsed
                    status.games_per_second = stats["games_per_second"]
                    metrics.write("train", iteration, opponent=("sl" if k == 0 else pool[k - 1].stem), **stats)
                    if iteration % cfg.pool_every == 0:
                        snap = pool_rd.checkpoint(iteration)
                        save_checkpoint(snap, model, step=iteration, parent=str(cfg.init), extra={"trainer": "rl"},
                                        komi=cfg.komi, rules=RULES)  # fmt: skip
                        pool.append(snap)
                        status.pool = 1 + len(pool)
                    if cfg.eval_games and iteration % cfg.eval_every == 0:
                        self._evaluate(workers, model, sl_ref, status, metrics, iteration)
                    if iteration % cfg.checkpoint_every == 0:
                        status.checkpoint = str(self._save(model, optimizer, iteration, games_total, status))
                    if on_status is not None:
                        on_status(status)
                if status.checkpoint != str(rd.checkpoint(iteration)) and iteration > 0:
                    status.checkpoint = str(self._save(model, optimizer, iteration, games_total, status))
            finally:
                metrics.close()
                if started:
                    ray.shutdown()
        return status

    def _play(self, workers, cur_ref, opp_ref, n: int, *, record: bool) -> list:
        """``n`` games, half with the current net as Black, spread over the workers; ``opponent`` is the other."""
        import ray

        cfg = self.config
        specs = [GameSpec("current", "opponent") if i % 2 == 0 else GameSpec("opponent", "current") for i in range(n)]
        shares = [specs[k :: len(workers)] for k in range(len(workers))]
        refs = [
            w.play.remote(
                {"current": cur_ref, "opponent": opp_ref},
                share,
                temperature=cfg.temperature,
                record=["current"] if record else [],
                move_limit=cfg.move_limit,
            )  # fmt: skip
            for w, share in zip(workers, shares, strict=True)
            if share
        ]
        games = []
        self._last_play_seconds = 0.0
        for part, seconds in ray.get(refs):
            games.extend(part)
            self._last_play_seconds = max(self._last_play_seconds, seconds)
        return games

    def _update(self, model, optimizer, games, dev, size: int) -> dict[str, Any]:
        """One REINFORCE step on the current net's moves of ``games``."""
        t0 = time.monotonic()
        outcome = {BLACK: [], WHITE: []}
        for g in games:
            color = BLACK if g.spec.black == "current" else WHITE
            outcome[color].append(g.outcome_for(color))
        baseline = {c: (float(np.mean(v)) if v else 0.0) for c, v in outcome.items()}
        planes, actions, adv = [], [], []
        for g in games:
            color = BLACK if g.spec.black == "current" else WHITE
            z = g.outcome_for(color)
            a = z - baseline[color]
            if not g.actions:
                continue
            planes.append(np.stack(g.planes))
            actions.extend(g.actions)
            adv.extend([a] * len(g.actions))
        positions = len(actions)
        loss_value = 0.0
        if positions:
            x = torch.from_numpy(unpack_planes(np.concatenate(planes), model.config.input_planes, size)).to(dev)
            act = torch.as_tensor(actions, dtype=torch.int64, device=dev)
            advantages = torch.as_tensor(adv, dtype=torch.float32, device=dev)
            optimizer.zero_grad(set_to_none=True)
            total = 0.0
            for lo in range(0, positions, 2048):  # chunks keep memory flat; gradients add up
                loss = reinforce_loss(model, x[lo : lo + 2048], act[lo : lo + 2048], advantages[lo : lo + 2048],
                                      len(games))  # fmt: skip
                loss.backward()
                total += float(loss.detach())
            if not math.isfinite(total):
                raise FloatingPointError(f"non-finite REINFORCE loss {total}")
            optimizer.step()
            loss_value = total
        wins = sum(1 for c in outcome for z in outcome[c] if z > 0)
        play = getattr(self, "_last_play_seconds", 0.0)
        return {
            "loss": loss_value,
            "positions": positions,
            "win_rate": wins / max(1, len(games)),
            "black_baseline": baseline[BLACK],
            "white_baseline": baseline[WHITE],
            "mean_moves": float(np.mean([len(g.moves) for g in games])) if games else 0.0,
            "play_seconds": play,
            "update_seconds": time.monotonic() - t0,
            "games_per_second": len(games) / max(play, 1e-9),
        }

    def _evaluate(self, workers, model, sl_ref, status: RLStatus, metrics: Metrics, iteration: int) -> None:
        import ray

        cfg = self.config
        n = cfg.eval_games + cfg.eval_games % 2
        games = self._play(workers, ray.put(model_to_numpy(model)), sl_ref, n, record=False)
        score = 0.0
        for g in games:
            color = BLACK if g.spec.black == "current" else WHITE
            score += (g.outcome_for(color) + 1) / 2
        rate = score / len(games)
        low, high = wilson_interval(score, len(games))
        status.win_rate_vs_sl, status.win_rate_low, status.win_rate_high = rate, low, high
        status.eval_history.append((iteration, rate))
        metrics.write("eval", iteration, win_rate_vs_sl=rate, low=low, high=high, games=len(games))
        log.info("iteration %d: %.1f%% against the SL net (%d games)", iteration, 100 * rate, len(games))

    def _save(self, model, optimizer, iteration: int, games: int, status: RLStatus) -> Path:
        cfg = self.config
        rd = RunDir(self.run_dir, PREFIX, DIGITS)
        path = rd.checkpoint(iteration)
        extra = {"trainer": "rl", "games": games, "komi": cfg.komi}
        if status.win_rate_vs_sl is not None:
            extra["win_rate_vs_sl"] = status.win_rate_vs_sl
        save_with_optimizer(path, model, optimizer, kind=cfg.optimizer, step=iteration, extra=extra,
                            parent=str(cfg.init), komi=cfg.komi, rules=RULES)  # fmt: skip
        rd.publish(path, "rl.safetensors")
        cfg.thin(rd, cfg.checkpoint_every, iteration)
        return path


__all__ = ["RLConfig", "RLLimits", "RLRun", "RLStatus", "prepare_run_dir", "reinforce_loss"]
