"""AlphaGo Zero training on Ray: self-play actors → replay buffer → learner → checkpoints → (gating) → actors.

``igo train zero`` runs :func:`run_zero`. The driver process owns the learner (GPU when there is one) and talks to
Ray actors:

- ``actors`` × :class:`igo.selfplay.actors.SelfPlayWorker`, each playing ``games_per_actor`` games at once with the
  latest published weights (each ``play`` call lasts ``actor_seconds`` and returns the games that finished);
- one :class:`igo.selfplay.replay.ReplayBuffer` actor: finished games are written to ``replay/chunk-*.npz`` and
  ``games/*.sgf`` before they are counted, so killing the run loses no finished game;
- evaluation and gating games through :class:`igo.selfplay.tournament.Tournament` (Ray tasks; GTP subprocesses
  ``igo gtp --model CKPT``), run on a background thread so the learner does not wait for them.

The learner trains while ``samples trained < train_ratio × positions generated`` (and the window holds at least
``min_positions``), saves a checkpoint every ``checkpoint_every`` steps (weights + metadata + optimizer state) and
publishes it to the actors — at once (AlphaZero's continuous update, the default), or only when it beats the current
best in ``gating_games`` games by ``gating_threshold`` (AlphaGo Zero's gating). Every ``eval_every`` checkpoints (one
at a time: a due one is skipped while the last plays) the new checkpoint plays a gauntlet against fixed opponents
(the first checkpoint, rollout-only igo at the same simulations, any GTP commands given); Elo over all evaluation
games (anchored at the first checkpoint = 0) goes to the status line, ``metrics.jsonl`` and TensorBoard.

**Several learners** (``--learners N``): ``learner_mode`` ``"sync"`` (``--sync``, default; torch DDP,
:mod:`igo.training.distributed`) or ``"async"`` (``--async``; a parameter server, :mod:`igo.training.async_dp`, whose
gradient staleness goes to the ``train`` rows of ``metrics.jsonl`` and the status line). Same checkpoints either way;
``config.json`` keeps the mode. A local Ray must have CPUs for the actors and learners together (checked at start).

**The run directory** holds everything: ``config.json``, ``latest.safetensors`` (the newest checkpoint, for users),
``checkpoints/step-XXXXXXXX.safetensors`` (thinned: :class:`igo.training.run.Retention`, never the first or the best;
``.optim.safetensors`` beside the newest), ``state.json`` (best checkpoint, published version), ``replay/``,
``games/``, ``eval/``, ``gating/``, ``tb/`` (TensorBoard) and ``metrics.jsonl``. Rerunning the same command resumes
(and says so on stderr): the learner from the newest checkpoint (step and samples continue), the buffer from its
chunks, the totals from both.

**Crash safety of resume.** The learner resumes from the newest checkpoint that loads: a torn or truncated newer one is
skipped with a warning (and overwritten when the run gets to its step again). The game count never falls below the
game records in ``games/`` (a damaged newest replay chunk loses its positions, not the numbering), and a finished
record is never overwritten; the replay buffer's warnings (it runs in a Ray worker, whose log does not reach the
console) are logged by the driver. Stale ``.tmp`` files of interrupted writes are deleted at start-up.
``state.json`` is a cache of facts the run directory also holds: when it is damaged (not a JSON object, ``best`` or
``version`` not a non-negative integer, its checkpoint unreadable) the run warns and recomputes it — the best
checkpoint is the last one ``metrics.jsonl`` records as promoted by gating, or the learner's checkpoint — and writes
it afresh, rather than stopping until the user deletes the file.

**Warm start and CPU-hours** (:mod:`igo.training.zero_start`): ``parent`` (``--init CHECKPOINT``, a new run only)
makes a checkpoint of the same config and board size the run's first network and is recorded in ``config.json`` and
every checkpoint; the CPU-hours of all invocations (wall time x Ray CPUs) go into each checkpoint's
``extra.cpu_hours``, ``state.json``, ``metrics.jsonl`` and the status.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from igo.engine.cores import core_budget
from igo.engine.fileio import open_regular, read_json_lines
from igo.nets.checkpoint import RULES
from igo.selfplay.actors import PRECISIONS
from igo.selfplay.selfplay import SelfPlayConfig

from . import zero_start
from .common import Metrics, write_json
from .learner import LearnerConfig, ZeroLearner
from .run import ConfigDict, Retention, RunDir, RunError, check_settings, checkpoint_problem, shown, stop_on_signals
from .zero_eval import PREFIX, _igo_player, eval_ratings, evaluation_config
from .zero_start import CpuHours, check_parent, parent_cpu_hours, parent_model, ray_cpus, recorded_cpu_hours

log = logging.getLogger(__name__)

LEARNER_MODES = ("sync", "async")
LATEST = "latest.safetensors"  # a copy of the newest checkpoint: igo gtp --model RUN/latest.safetensors
STATE = "state.json"
STATE_MAX_BYTES = 1 << 20


@dataclass
class ZeroRunConfig(Retention, ConfigDict):
    """Everything about a run that ``config.json`` keeps. ``selfplay`` and ``learner`` are dicts of
    :class:`SelfPlayConfig` and :class:`igo.training.learner.LearnerConfig` fields."""

    size: int = 9
    komi: float = 7.5
    model: str = "zero-b6c64"
    actors: int = 1
    games_per_actor: int = 32
    actor_cpus: float = 1.0
    actor_threads: int = 1
    actor_device: str = "cpu"  # cpu | cuda (actors share the GPU: num_gpus = actor_gpus each)
    actor_gpus: float = 0.0
    actor_precision: str = "float"  # float | int8 (CPU actors quantize each network, selfplay/actors.py)
    actor_seconds: float = 20.0
    window: int = 100_000  # positions in the replay window
    min_positions: int = 2_000  # positions in the buffer before the learner starts
    train_ratio: float = 4.0  # samples trained per position generated
    checkpoint_every: int = 200  # learner steps between checkpoints
    eval_every: int = 2  # checkpoints between evaluations (0: none)
    eval_games: int = 4  # games per opponent per evaluation
    eval_simulations: int = 0  # simulations per move in evaluation games (0: the self-play simulations)
    eval_opponents: list[str] = field(default_factory=list)  # extra GTP commands (e.g. GNU Go levels)
    eval_rollout: bool = True  # rollout-only igo at the same simulations as an opponent
    gating_games: int = 0  # 0: continuous update; else candidate vs best, promote at gating_threshold
    gating_threshold: float = 0.55
    learners: int = 1  # > 1: data-parallel training over that many GPUs / processes
    learner_cpus: float = 1.0  # Ray CPUs per data-parallel learner
    learner_mode: str = "sync"  # with learners > 1: sync (torch DDP) | async (parameter server, training/async_dp.py)
    seed: int = 0
    parent: str | None = None  # --init: the checkpoint whose weights are the first network (a new run only)
    selfplay: dict = field(default_factory=dict)
    learner: dict = field(default_factory=dict)

    SETTINGS = "run settings"

    def __post_init__(self) -> None:
        from igo.engine.coords import check_size
        from igo.nets.config import get_config

        check_size(self.size)
        cfg = get_config(self.model)  # KeyError with the known names
        if cfg.kind != "zero":
            raise ValueError(f"model {self.model!r} is a {cfg.kind} net; Zero training needs a zero-* config")
        check_settings([
            (self.actors >= 1, "actors must be >= 1"),
            (self.games_per_actor >= 1, "games_per_actor must be >= 1"),
            (self.actor_cpus > 0, "actor_cpus must be positive"),
            (self.actor_threads >= 1, "actor_threads must be >= 1"),
            (self.actor_device in ("cpu", "cuda"), "actor_device must be cpu or cuda"),
            (self.actor_gpus >= 0, "actor_gpus must be >= 0"),
            (self.actor_precision in PRECISIONS and (self.actor_precision == "float" or self.actor_device == "cpu"),
             f"actor_precision must be one of {', '.join(PRECISIONS)}, and int8 needs actor_device cpu"),
            (self.actor_seconds > 0, "actor_seconds must be positive"),
            (self.window >= 1, "window must be >= 1"),
            (self.min_positions >= 1, "min_positions must be >= 1"),
            (self.train_ratio > 0, "train_ratio must be positive"),
            (self.checkpoint_every >= 1, "checkpoint_every must be >= 1"),
            (self.eval_every >= 0, "eval_every must be >= 0"),
            (self.eval_games >= 1, "eval_games must be >= 1"),
            (self.eval_simulations >= 0, "eval_simulations must be >= 0"),
            (self.gating_games >= 0, "gating_games must be >= 0"),
            (self.learners >= 1, "learners must be >= 1"),
            (self.learner_cpus > 0, "learner_cpus must be positive"),
            (self.learner_mode in LEARNER_MODES, f"learner_mode must be one of {', '.join(LEARNER_MODES)}"),
            (self.learner_mode != "async" or self.learners >= 2,
             "learner_mode 'async' needs learners >= 2 (--async needs --learners 2 or more)"),
            (0.5 <= self.gating_threshold <= 1.0, "gating_threshold must be in [0.5, 1]"),
            (math.isfinite(self.komi), "komi must be finite"),
            *self.retention_checks(),
        ])  # fmt: skip
        if self.min_positions > self.window:
            raise ValueError(f"min_positions ({self.min_positions}) must not exceed window ({self.window})")
        self.selfplay = {**self.selfplay, "size": self.size, "komi": self.komi, "parallel_games": self.games_per_actor}
        self.selfplay_config()  # validates
        lc = self.learner_config()
        if self.learner_mode == "async" and lc.amp == "fp16":
            raise ValueError("learner_mode 'async' does not support amp 'fp16' (use bf16 or none)")

    def selfplay_config(self) -> SelfPlayConfig:
        return SelfPlayConfig.from_dict(self.selfplay)

    def learner_config(self) -> LearnerConfig:
        return LearnerConfig.from_dict(self.learner)

    def with_overrides(self, overrides: dict) -> ZeroRunConfig:
        """A copy with ``overrides`` on top (``selfplay`` and ``learner`` are merged key by key)."""
        d = self.to_dict()
        for k, v in overrides.items():
            d[k] = {**d[k], **v} if k in ("selfplay", "learner") else v
        return ZeroRunConfig.from_dict(d)


# --- the run directory -------------------------------------------------------------------------------------------


IDENTITY = ("size", "komi", "model", "parent")
SUBDIRS = ("checkpoints", "replay", "games", "eval", "tb")


def prepare_run_dir(run_dir: Path, config: ZeroRunConfig | None, overrides: dict | None = None) -> ZeroRunConfig:
    """Create the run directory with ``config``, or read the existing one. On resume, ``overrides`` (settings given
    on the command line) may change how the run goes on (actors, ratios, evaluation...) but not what it trains
    (size, komi, model, parent): that is refused. A new run's ``parent`` is checked before anything is written."""
    run_dir = Path(run_dir)
    rd = RunDir(run_dir, PREFIX)
    found = rd.read_config(error=RunError)
    if found is not None:
        try:
            stored = ZeroRunConfig.from_dict(found)
        except (ValueError, TypeError, KeyError) as e:
            raise RunError(f"{run_dir / 'config.json'} is not a valid run configuration: {e}") from None
        rd.check_unchanged(stored.to_dict(), overrides or {}, IDENTITY, error=RunError)
        if overrides:
            stored = stored.with_overrides(overrides)
            rd.write_config(stored.to_dict())
        return stored
    rd.check_is_run_dir()
    if config is None:
        raise RunError(f"{run_dir} has no config.json")
    if overrides:
        config = config.with_overrides(overrides)
    check_parent(config)
    rd.write_config(config.to_dict(), subdirs=SUBDIRS)
    return config


# --- evaluation and gating: the tournaments are built in zero_eval.py ---------------------------------------------


class _Background:
    """One thread that plays evaluation and gating tournaments, one at a time, while the learner trains."""

    def __init__(self):
        self.jobs: queue.Queue = queue.Queue()
        self.results: queue.Queue = queue.Queue()
        self.busy = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="igo-eval", daemon=True)
        self._thread.start()

    def submit(self, kind: str, step: int, fn: Callable[[], object]) -> None:
        self.jobs.put((kind, step, fn))

    def _loop(self) -> None:
        while True:
            kind, step, fn = self.jobs.get()
            if fn is None:
                return
            self.busy.set()
            try:
                self.results.put((kind, step, fn(), None))
            except Exception as e:  # noqa: BLE001 - reported to the driver, the run goes on
                self.results.put((kind, step, None, e))
            finally:
                self.busy.clear()

    @property
    def idle(self) -> bool:
        return self.jobs.empty() and not self.busy.is_set()

    def stop(self) -> None:
        self.jobs.put((None, None, None))


# --- the run -------------------------------------------------------------------------------------------------------


@dataclass
class Limits:
    max_games: int | None = None  # total games (this run and earlier ones)
    max_steps: int | None = None  # total learner steps
    max_minutes: float | None = None  # wall time of this invocation


@dataclass
class Status:
    games: int = 0
    positions: int = 0
    step: int = 0
    samples: int = 0
    version: int = 0
    loss: float | None = None
    policy_loss: float | None = None
    value_loss: float | None = None
    elo: float | None = None
    new_games: int = 0  # games of this invocation: the rates count these only
    games_per_hour: float = 0.0
    positions_per_s: float = 0.0
    cpu_hours: float = 0.0  # wall time x Ray CPUs, all invocations of the run
    would_resign: int = 0  # no-resign games (this invocation) in which a side fell below the resign threshold
    false_resign: int = 0  # ... and that side won after all: resigning there would have been wrong
    elapsed: float = 0.0
    staleness_mean: float | None = None  # --async: gradient staleness over this invocation (None: sync, or none yet)
    staleness_max: int | None = None

    def line(self) -> str:
        loss = "-" if self.loss is None else f"{self.loss:.3f} (p {self.policy_loss:.3f} v {self.value_loss:.3f})"
        fr = f"{self.false_resign} of {self.would_resign} checked" if self.would_resign else "none checked yet"
        stale = ""
        if self.staleness_mean is not None:
            stale = f"  staleness mean {self.staleness_mean:.2f} max {self.staleness_max}"
        return (
            f"games {self.games}  positions {self.positions}  step {self.step}  samples {self.samples}  "
            f"loss {loss}{stale}  Elo {shown(self.elo, '+.0f')}  {self.games_per_hour:.0f} games/h  "
            f"{self.positions_per_s:.1f} pos/s (this run)  {self.cpu_hours:.2f} CPU-h  false resignations {fr}"
        )


class ZeroRun:
    """One ``igo train zero`` invocation over a run directory; :meth:`run` until a limit or a signal."""

    def __init__(
        self,
        run_dir: str | os.PathLike,
        config: ZeroRunConfig | None = None,
        *,
        overrides: dict | None = None,
        address: str | None = None,
        num_cpus: int | None = None,
        learner_device: str | None = None,
        learner_threads: int | None = None,
        on_status: Callable[[Status], None] | None = None,
        status_every: float = 10.0,
    ):
        self.run_dir = Path(run_dir)
        self.rd = RunDir(self.run_dir, PREFIX)
        self.config = prepare_run_dir(self.run_dir, config, overrides)
        self.address = address
        self.num_cpus = num_cpus
        self.learner_device = learner_device
        self.learner_threads = learner_threads
        self.on_status = on_status
        self.status_every = status_every
        self.stop_requested = threading.Event()
        self.status = Status()
        self._cpu_hours: Callable[[], float] = lambda: self.status.cpu_hours  # run() counts from its start

    # --- set-up ------------------------------------------------------------------------------------------------

    def _learner(self) -> ZeroLearner:
        import torch

        from igo.nets.config import get_config
        from igo.nets.models import build_model

        lc = self.config.learner_config()
        if self.learner_device:
            lc = dataclasses.replace(lc, device=self.learner_device)
        from igo.nets.checkpoint import CheckpointError

        found = self.rd.checkpoints()
        first_problem = None
        for _, path in reversed(found):
            why = checkpoint_problem(path)
            if why is None:
                try:
                    learner = ZeroLearner.resume(path, lc)
                except (CheckpointError, OSError) as e:
                    why = str(e).splitlines()[0] if str(e) else type(e).__name__
                else:
                    if first_problem is not None:
                        log.warning("resuming the learner from %s, the newest checkpoint that loads", path)
                    else:
                        log.info("resuming the learner from %s", path)
                    return learner
            log.warning("skipping checkpoint %s: %s", path, why)
            first_problem = first_problem or f"{path.name}: {why}"
        if found:
            raise RunError(
                f"no checkpoint in {self.rd.path / self.rd.folder} can be resumed from (newest {first_problem}); move "
                "the damaged files out of it to start the learner afresh"
            )
        torch.manual_seed(self.config.seed)
        if self.config.parent:
            model = parent_model(self.config)
            log.info("the run starts from the weights of %s", self.config.parent)
        else:
            model = build_model(get_config(self.config.model), self.config.size)
        learner = ZeroLearner(model, lc)
        extra = {"run": str(self.run_dir), "cpu_hours": 0.0, "parent_cpu_hours": parent_cpu_hours(self.config)}
        learner.save(self.rd.checkpoint(0), extra=extra, parent=self.config.parent, komi=self.config.komi,
                     rules=RULES)  # fmt: skip
        return learner

    def _state(self, *, warn: bool = False) -> dict | None:
        """``state.json`` as a dict (``{}`` when there is none), or None when it is damaged: unreadable, not a JSON
        object, or ``best`` / ``version`` not a non-negative integer (``warn``: say so)."""
        path = self.run_dir / STATE
        try:
            with open_regular(path, STATE_MAX_BYTES) as f:
                d = json.loads(f.read().decode("utf-8"))
            problem = _state_problem(d)
        except FileNotFoundError:
            return {}
        except (OSError, ValueError, RecursionError) as e:  # JSONDecodeError, UnicodeDecodeError are ValueErrors
            problem = f"is unreadable ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})"
        if problem is None:
            return d
        if warn:
            log.warning("%s %s; recomputing it from the run directory", path, problem)
        return None

    def _save_state(self, **changes) -> None:
        st = (self._state() or {}) | changes
        try:
            write_json(self.run_dir / STATE, st)
        except OSError as e:
            raise RunError(f"cannot write {self.run_dir / STATE}: {e}") from None

    def _resume_best(self, learner_step: int) -> int:
        """The step of the best checkpoint (the one the actors play with) on resume: ``state.json``'s ``best`` when
        the file is sound and that checkpoint reads, else recomputed with a warning (see the module docstring) and
        written back; ``learner_step`` when there is no state yet."""
        state = self._state(warn=True)
        if state is not None:
            best = state.get("best", learner_step)
            if best == learner_step or (best < learner_step and checkpoint_problem(self.rd.checkpoint(best)) is None):
                return best
            log.warning("%s names best checkpoint %d, which is missing, unreadable or newer than the learner's; "
                        "recomputing it",
                        self.run_dir / STATE, best)  # fmt: skip
        best = learner_step
        if self.config.gating_games > 0:
            rows, _ = read_json_lines(self.run_dir / "metrics.jsonl")
            promoted = [r.get("step") for r in rows
                        if isinstance(r, dict) and r.get("kind") == "gating" and r.get("promoted") is True]  # fmt: skip
            for step in reversed(promoted):
                ok = isinstance(step, int) and not isinstance(step, bool) and 0 <= step <= learner_step
                if ok and checkpoint_problem(self.rd.checkpoint(step)) is None:
                    best = step
                    break
        log.warning("best checkpoint: step %d (recomputed)", best)
        self._save_state(best=best, version=best)
        return best

    def _init_ray(self):
        from igo.selfplay.cluster import ClusterError, init_ray

        try:
            return init_ray(self.address, self.num_cpus)
        except ClusterError as e:
            raise RunError(str(e)) from None

    # --- the loop ----------------------------------------------------------------------------------------------

    def _learner_thread_count(self) -> int:
        """torch threads of the learner: ``learner_threads`` when given; on a local Ray the cores left over by the
        self-play actors (at least 1), so that learner and actors together never oversubscribe the machine; on a
        cluster the cores of this process."""
        if self.learner_threads:
            return self.learner_threads
        budget = core_budget()
        if self.address is None:
            cfg = self.config
            return max(1, budget - int(cfg.actors * max(cfg.actor_cpus, cfg.actor_threads)))
        return budget

    def run(self, limits: Limits | None = None) -> Status:
        import ray
        import torch

        from igo.nets.config import config_to_dict, get_config
        from igo.selfplay.actors import selfplay_actor_class
        from igo.selfplay.replay import replay_actor_class

        limits = limits or Limits()
        cfg = self.config
        clock = CpuHours()
        torch.set_num_threads(self._learner_thread_count())
        self.rd.remove_stale_tmp()
        resuming = bool(self.rd.checkpoints())
        learner = trainer = self._learner()
        if not (self.run_dir / LATEST).exists():  # a new run, or one from before igo published it
            self._publish(learner.step)
        first_step = self.rd.checkpoints()[0][0]
        best_step = self._resume_best(learner.step)
        clock.before = recorded_cpu_hours(self._state(), self.rd.checkpoint(learner.step))
        in_use: dict[tuple[str, int], tuple[int, ...]] = {}  # checkpoints that evaluation and gating jobs play
        last_ckpt_step = learner.step
        started_ray = self._init_ray()
        clock.start(ray_cpus(cfg, self.address))
        self._cpu_hours = clock.total
        metrics = Metrics(self.run_dir)
        background = _Background()
        actors: dict = {}
        dp = None
        with stop_on_signals(
            self.stop_requested, "signal %d: finishing the games in flight, saving a checkpoint, then stopping"
        ):
            try:
                planes = get_config(cfg.model).input_planes
                buffer = replay_actor_class().remote(
                    cfg.size, planes, cfg.window, str(self.run_dir / "replay"), str(self.run_dir / "games"), cfg.seed
                )
                _log_buffer_warnings(buffer)
                bstats = ray.get(buffer.stats.remote())
                if cfg.learners > 1:
                    zero_start.check_local_cpus(cfg, self.address)
                    if cfg.learner_mode == "async":
                        from .async_dp import AsyncDataParallelLearner as Parallel
                    else:
                        from .distributed import DataParallelLearner as Parallel

                    dp = trainer = Parallel(
                        cfg.learners, self.rd.checkpoint(learner.step), learner.config.to_dict(),
                        threads=self.learner_threads or 1, cpus=cfg.learner_cpus, batch_size=learner.config.batch_size,
                    )  # fmt: skip
                st = self.status
                st.games, st.positions = int(bstats["games_total"]), int(bstats["positions_total"])
                st.step, st.samples, st.cpu_hours = learner.step, learner.samples, clock.before
                log.info("run %s: %d games, %d positions, learner step %d", self.run_dir, st.games, st.positions,
                         st.step)  # fmt: skip
                if resuming:
                    self.rd.announce_resume(st.step, f"{st.games} games", f"{st.positions} positions")
                games0, positions0 = st.games, st.positions

                def published_weights():
                    if best_step == trainer.step:
                        return trainer.weights()
                    return _checkpoint_weights(self.rd.checkpoint(best_step))

                version = best_step
                weights_ref = ray.put(published_weights())
                model_cfg = config_to_dict(get_config(cfg.model))
                sp_cfg = cfg.selfplay_config().to_dict()
                actor_cls = selfplay_actor_class()
                base_seed = cfg.seed * 1000 + st.games
                for i in range(cfg.actors):
                    a = actor_cls.options(num_cpus=cfg.actor_cpus, num_gpus=cfg.actor_gpus).remote(
                        model_cfg, sp_cfg, weights_ref, version, seed=base_seed + i, device=cfg.actor_device,
                        threads=cfg.actor_threads, precision=cfg.actor_precision,
                    )  # fmt: skip
                    actors[a.play.remote(None, None, cfg.actor_seconds)] = a
                t_start = time.time()
                last_status = 0.0
                losses: list[dict] = []
                while True:
                    # 1. games from the actors
                    timeout = 0.0 if self._wants_training(st, bstats) else 0.5
                    ready, _ = ray.wait(list(actors), num_returns=1, timeout=timeout)
                    for ref in ready:
                        actor = actors.pop(ref)
                        out = ray.get(ref)
                        if out["games"]:
                            bstats = self._add_games(buffer, out["games"])
                            st.games, st.positions = int(bstats["games_total"]), int(bstats["positions_total"])
                        s = out["stats"]
                        st.would_resign += s["would_resign"]
                        st.false_resign += s["false_resign"]
                        metrics.write("selfplay", st.step, cpu_hours=round(clock.total(), 4),
                                      games_total=st.games, positions_total=st.positions,
                                      games=s["games"], positions=s["positions"], evaluations=s["evaluations"],
                                      wall_s=round(s["wall_s"], 3), eval_s=round(s["eval_s"], 3),
                                      resigned=s["resigned"],
                                      no_resign_games=s["no_resign_games"], would_resign=s["would_resign"],
                                      false_resign=s["false_resign"], black_wins=s["black_wins"], draws=s["draws"],
                                      fast_moves=s.get("fast_moves", 0), version=out["version"])  # fmt: skip
                        if self._limit_reached(limits, st, t_start) or self.stop_requested.is_set():
                            continue  # do not start more games
                        new = weights_ref if out["version"] != version else None
                        actors[actor.play.remote(new, version if new is not None else None, cfg.actor_seconds)] = actor
                    # 2. learning
                    t_train = time.perf_counter()
                    while self._wants_training(st, bstats) and time.perf_counter() - t_train < 2.0:
                        if limits.max_steps is not None and st.step >= limits.max_steps:
                            break
                        if dp is None:
                            planes_b, policy_b, value_b = ray.get(buffer.sample.remote(learner.config.batch_size))
                            losses.append(learner.train_step(planes_b, policy_b, value_b))
                        else:
                            k = min(10, cfg.checkpoint_every - (st.step - last_ckpt_step))
                            if limits.max_steps is not None:
                                k = min(k, limits.max_steps - st.step)
                            losses.extend(dp.train(buffer, max(1, k)))
                        st.step, st.samples = trainer.step, trainer.samples
                        if len(losses) >= 10:
                            mean = {k: float(np.mean([x[k] for x in losses])) for k in losses[0]}
                            losses.clear()
                            st.loss, st.policy_loss = mean["loss"], mean["policy_loss"]
                            st.value_loss = mean["value_loss"]
                            metrics.write("train", st.step, samples=st.samples, cpu_hours=round(clock.total(), 4),
                                          **mean, **zero_start.staleness_fields(dp, st))  # fmt: skip
                        if st.step - last_ckpt_step >= cfg.checkpoint_every:
                            last_ckpt_step = st.step
                            if cfg.gating_games == 0:  # continuous update: the new checkpoint is the best
                                best_step = version = st.step
                            self._checkpoint(trainer, metrics, st, {first_step, best_step, *_steps(in_use)})
                            if cfg.gating_games > 0:
                                in_use["gating", st.step] = (st.step, best_step)
                                background.submit("gating", st.step, self._gating_job(st.step, best_step))
                            else:
                                weights_ref = ray.put(trainer.weights())
                                self._save_state(best=best_step, version=version)
                            due = cfg.eval_every and (st.step // cfg.checkpoint_every) % cfg.eval_every == 0
                            if due and any(kind == "eval" for kind, _ in in_use):
                                log.info("step %d: evaluation skipped, the last one still plays", st.step)
                            elif due:
                                in_use["eval", st.step] = (st.step,)
                                background.submit("eval", st.step, self._eval_job(st.step, first_step))
                    # 3. evaluation and gating results
                    while not background.results.empty():
                        kind, step, res, err = background.results.get()
                        in_use.pop((kind, step), None)
                        if err is not None:
                            log.error("%s of step %d failed: %s: %s", kind, step, type(err).__name__, err)
                            metrics.write(kind, step, error=f"{type(err).__name__}: {err}")
                            continue
                        if kind == "gating":
                            rate, promoted = res
                            metrics.write("gating", step, win_rate=rate, promoted=promoted, best=best_step)
                            if promoted:
                                best_step = version = step
                                weights_ref = ray.put(_checkpoint_weights(self.rd.checkpoint(step)))
                                self._save_state(best=best_step, version=version)
                                log.info("step %d promoted (%.1f%% against the best)", step, 100 * rate)
                        else:
                            ratings, table = res
                            if ratings is not None:
                                name = f"step-{step}"
                                st.elo = ratings.elo.get(name)
                                metrics.write("eval", step, elo=st.elo, elo_all=dict(ratings.elo),
                                              cpu_hours=round(clock.total(), 4),
                                              interval=dict(ratings.interval), score=table)  # fmt: skip
                    # 4. status and limits
                    now = time.time()
                    st.new_games, st.elapsed = st.games - games0, now - t_start
                    if st.elapsed > 0:  # one counter, since this invocation started
                        st.games_per_hour = st.new_games / st.elapsed * 3600
                        st.positions_per_s = (st.positions - positions0) / st.elapsed
                    st.version, st.cpu_hours = version, clock.total()
                    if self.on_status is not None and now - last_status >= self.status_every:
                        last_status = now
                        self.on_status(st)
                    stopping = self._limit_reached(limits, st, t_start) or self.stop_requested.is_set()
                    if stopping and not actors:
                        if (background.idle and background.results.empty()) or self.stop_requested.is_set():
                            break
                        time.sleep(0.2)
                if st.step > last_ckpt_step:
                    best = best_step if cfg.gating_games > 0 else st.step
                    self._checkpoint(trainer, metrics, st, {first_step, best, *_steps(in_use)})
                    if cfg.gating_games == 0:
                        self._save_state(best=st.step, version=st.step)
                st.cpu_hours = clock.total()
                self._save_state(cpu_hours=st.cpu_hours)  # the games since the last checkpoint are kept: their time too
                if self.on_status is not None:
                    self.on_status(st)
                return st
            finally:
                background.stop()
                if dp is not None:
                    dp.close()
                for a in list(actors.values()):
                    try:
                        ray.kill(a)
                    except Exception:  # noqa: BLE001
                        pass
                metrics.close()
                if started_ray:
                    ray.shutdown()

    def _wants_training(self, st: Status, bstats: dict) -> bool:
        cfg = self.config
        if int(bstats.get("positions", 0)) < cfg.min_positions:
            return False
        return st.samples < cfg.train_ratio * st.positions

    def _limit_reached(self, limits: Limits, st: Status, t_start: float) -> bool:
        if limits.max_games is not None and st.games >= limits.max_games:
            return True
        if limits.max_steps is not None and st.step >= limits.max_steps:
            return True
        return limits.max_minutes is not None and time.time() - t_start >= 60 * limits.max_minutes

    def _add_games(self, buffer, games: list[dict]) -> dict:
        import ray

        try:
            out = ray.get(buffer.add.remote(games))
            _log_buffer_warnings(buffer)
            return out
        except ray.exceptions.RayTaskError as e:
            cause = getattr(e, "cause", None)
            if isinstance(cause, OSError):
                raise RunError(
                    f"cannot write games to {self.run_dir} ({cause}); the games written before are safe — free some "
                    "disk space and rerun the same command to resume"
                ) from None
            raise

    def _checkpoint(self, learner, metrics: Metrics, st: Status, protect: set[int]) -> Path:
        """Save the learner's checkpoint, publish it as ``latest.safetensors`` and thin the older ones (never those
        in ``protect``)."""
        cfg, path = self.config, self.rd.checkpoint(learner.step)
        known = {"komi": cfg.komi, "rules": RULES, "parent": cfg.parent}
        st.cpu_hours = self._cpu_hours()
        try:
            extra = {"games": st.games, "positions": st.positions, "cpu_hours": st.cpu_hours,
                     "parent_cpu_hours": parent_cpu_hours(cfg, self.rd.checkpoint(0))}  # fmt: skip
            learner.save(path, extra=extra, **known)
        except OSError as e:
            raise RunError(f"cannot write checkpoint {path}: {e}") from None
        self._publish(learner.step)
        self._save_state(cpu_hours=st.cpu_hours)
        metrics.write("checkpoint", learner.step, path=str(path), samples=learner.samples, games=st.games,
                      cpu_hours=round(st.cpu_hours, 4))  # fmt: skip
        log.info("checkpoint %s", path)
        cfg.thin(self.rd, cfg.checkpoint_every, learner.step, protect)
        return path

    def _publish(self, step: int) -> None:
        try:
            self.rd.publish(self.rd.checkpoint(step), LATEST)
        except OSError as e:
            raise RunError(f"cannot write {self.run_dir / LATEST}: {e}") from None

    def _eval_job(self, step: int, first_step: int):
        run_dir, cfg = self.run_dir, self.config

        def job():
            from igo.selfplay.tournament import Tournament

            tc = evaluation_config(cfg, run_dir, step, first_step)
            if tc is None:
                return None, None
            t = Tournament(tc, run_dir / "eval" / f"step-{step:08d}")
            rows = t.run()
            table = {}
            for r in rows:
                if r.get("status") != "done":
                    continue
                opp = r["b"] if r["a"] == tc.candidates[0] else r["a"]
                w = table.setdefault(opp, [0.0, 0])
                w[0] += 1.0 if r.get("winner") == tc.candidates[0] else 0.5 if r.get("winner") is None else 0.0
                w[1] += 1
            return eval_ratings(run_dir, f"step-{first_step}"), {k: f"{v[0]:g}/{v[1]}" for k, v in table.items()}

        return job

    def _gating_job(self, step: int, best: int):
        run_dir, rd, cfg = self.run_dir, self.rd, self.config

        def job():
            from igo.selfplay.tournament import Tournament, TournamentConfig

            sims = cfg.eval_simulations or cfg.selfplay_config().simulations
            cand, champ = f"step-{step}", f"step-{best}"
            tc = TournamentConfig(
                players=[_igo_player(cand, rd.checkpoint(step), sims, step),
                         _igo_player(champ, rd.checkpoint(best), sims, best)],  # fmt: skip
                format="gauntlet", candidates=[cand], games_per_pairing=cfg.gating_games, size=cfg.size,
                komi=cfg.komi, name=f"gating-{step}",
            )  # fmt: skip
            t = Tournament(tc, run_dir / "gating" / f"step-{step:08d}")
            t.run()
            rows = [r for r in t.results() if r.get("status") == "done"]
            pts = sum(1.0 if r.get("winner") == cand else 0.5 if r.get("winner") is None else 0.0 for r in rows)
            rate = pts / len(rows) if rows else 0.0
            return rate, rate >= cfg.gating_threshold

        return job


def _state_problem(d) -> str | None:
    """What is wrong with the contents of ``state.json``, or None."""
    if not isinstance(d, dict):
        return f"holds a JSON {type(d).__name__}, not an object"
    for key in ("best", "version"):
        if key in d:
            v = d[key]
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                return f"has {key}={json.dumps(v)[:40]}, not a non-negative integer step"
    return None


def _steps(in_use: dict[tuple[str, int], tuple[int, ...]]) -> set[int]:
    """The checkpoints that the evaluation and gating jobs in flight play with (thinning keeps them)."""
    return {s for steps in in_use.values() for s in steps}


def _log_buffer_warnings(buffer) -> None:
    """Log here, on the driver, the warnings of the replay buffer actor: a Ray worker's log does not reach the
    console (``log_to_driver=False``)."""
    import ray

    for message in ray.get(buffer.take_warnings.remote()):
        log.warning("replay buffer: %s", message)


def _checkpoint_weights(path: Path) -> dict[str, np.ndarray]:
    """The weights of a checkpoint as numpy arrays, as the self-play actors take them."""
    from igo.nets.checkpoint import load_checkpoint
    from igo.nets.weights import model_to_numpy

    return model_to_numpy(load_checkpoint(path)[0])


def run_zero(run_dir, config: ZeroRunConfig | None = None, limits: Limits | None = None, **kwargs) -> Status:
    """Start or resume the run in ``run_dir`` and train until ``limits`` (or a signal)."""
    return ZeroRun(run_dir, config, **kwargs).run(limits)


__all__ = [
    "PREFIX",
    "Limits",
    "Status",
    "ZeroRun",
    "ZeroRunConfig",
    "eval_ratings",
    "evaluation_config",
    "prepare_run_dir",
    "run_zero",
]
