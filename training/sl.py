"""AlphaGo (2016) supervised-learning policy network: predict the expert's move from SGF game records.

``igo train sl`` runs :func:`train_sl`. The SGF directory is split once into training and held-out files by a hash
of each path (:func:`igo.training.sgf_data.split_files`, ``holdout`` of the files); the held-out games are encoded once
(at most ``max_holdout_positions`` positions, no symmetry) and the training games stream through
:class:`igo.training.sgf_data.PositionStream` (a new file order each epoch, passes left out, a shuffle buffer, a random
symmetry per sample). The loss is the cross-entropy of the ``N*N`` logits of :class:`igo.nets.lee.LeePolicyNet` against
the expert's move.

**The run directory** holds ``config.json``, ``checkpoints/sl-XXXXXXXX.safetensors`` (thinned as
:class:`igo.training.run.Retention` says; ``.optim.safetensors``, the optimizer state, beside the newest),
``sl.safetensors`` (a copy of the newest checkpoint for users, e.g. ``igo gtp --model RUN/sl.safetensors``),
``metrics.jsonl`` (``kind`` ``train`` and ``eval`` rows) and ``tb/`` (TensorBoard). Running the same command again
resumes (and says so on stderr) from the newest checkpoint: weights, optimizer state, step, samples, epoch and the
files of that epoch already read (positions that were waiting in the shuffle buffer are not kept). A run directory
keeps its board size, network config and SGF directory (another is refused); the optimizer settings, limits and
intervals may change between invocations.

The paper trained with plain SGD, step size 0.003 halved every 80M steps, minibatches of 16, asynchronously on 50
GPUs for three weeks. On one CPU or GPU we want far fewer, larger steps, so the defaults are SGD with momentum 0.9,
lr 0.05, batch 128, weight decay 1e-4 and the step size halved every 20M samples (a run of a few million samples on
9x9 sees a constant rate; a long 19x19 run decays it as the paper did). Measured on lee-policy-tiny, 7x7 GNU Go games,
400 steps of 128: held-out top-1 45.5% with SGD 0.05 / momentum 0.9, 41.7% with SGD 0.1, 39.5% / 40.8% with AdamW
1e-3 / 3e-3, and 7.3% with the paper's plain SGD at 0.003 (far too slow at this scale). ``--optimizer adamw --lr
1e-3`` selects AdamW.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from igo.engine.cores import core_budget
from igo.engine.planes import unpack_planes
from igo.nets.device import resolve_device

from .common import OPTIMIZERS, Metrics, build_optimizer, save_with_optimizer
from .run import ConfigDict, Retention, RunDir, RunError, check_settings, restore_optimizer, shown, stop_on_signals
from .sgf_data import PLANES, LoadStats, PositionStream, encode_positions, find_sgf_files, split_files

log = logging.getLogger(__name__)

PREFIX = "sl"  # checkpoints/sl-<step>.safetensors
IDENTITY = ("size", "model", "sgf_dir")
EVAL_BATCH = 512


class SLRunError(RunError):
    """The run cannot start or go on (no SGF files, no usable games, unreadable checkpoint): the message says why."""


@dataclass
class SLConfig(Retention, ConfigDict):
    """Everything about an SL run; ``config.json`` keeps it. ``sgf_dir`` is stored absolute."""

    SETTINGS = "SL settings"

    sgf_dir: str
    run_dir: str
    size: int = 19
    model: str = "lee-policy-192"  # the paper's 13 layers x 192 filters; lee-policy-64 is the CPU-friendly one
    optimizer: str = "sgd"
    lr: float = 0.05
    momentum: float = 0.9
    weight_decay: float = 1e-4
    lr_halve_every: int = 20_000_000  # samples; 0: never
    batch_size: int = 128
    holdout: float = 0.05  # share of the SGF files held out
    max_holdout_positions: int = 20_000
    max_steps: int | None = None  # steps of the whole run (resumed steps count)
    max_minutes: float | None = None  # minutes of this invocation
    eval_every: int = 1000  # steps
    checkpoint_every: int = 2000  # steps
    log_every: int = 100  # steps between train rows in metrics.jsonl
    device: str = "auto"
    threads: int | None = None  # torch threads, --nn-threads (None: the cores this process may use, core_budget())
    seed: int = 0
    shuffle_buffer: int = 20_000  # positions

    def __post_init__(self) -> None:
        from igo.engine.coords import check_size
        from igo.nets.config import get_config

        if not self.sgf_dir:
            raise ValueError("give the SGF directory (--sgf DIR)")
        if not self.run_dir:
            raise ValueError("give the run directory (--run-dir DIR)")
        self.sgf_dir = str(Path(self.sgf_dir).expanduser().resolve())
        self.run_dir = str(self.run_dir)
        check_size(self.size)
        cfg = get_config(self.model)  # ValueError naming the known configs
        if cfg.kind != "lee-policy":
            raise ValueError(f"model {self.model!r} is a {cfg.kind} net; SL training needs a lee-policy-* config")
        check_settings([
            (self.optimizer in OPTIMIZERS, f"optimizer must be one of {', '.join(OPTIMIZERS)}"),
            (_finite(self.lr) and self.lr > 0, "lr must be positive"),
            (_finite(self.momentum) and 0 <= self.momentum < 1, "momentum must be in [0, 1)"),
            (_finite(self.weight_decay) and self.weight_decay >= 0, "weight_decay must be >= 0"),
            (self.lr_halve_every >= 0, "lr_halve_every must be >= 0 (0: never)"),
            (self.batch_size >= 1, "batch_size must be >= 1"),
            (_finite(self.holdout) and 0 <= self.holdout < 1, "holdout must be in [0, 1)"),
            (self.max_holdout_positions >= 0, "max_holdout_positions must be >= 0"),
            (self.max_steps is None or self.max_steps >= 0, "max_steps must be >= 0"),
            (
                self.max_minutes is None or (_finite(self.max_minutes) and self.max_minutes > 0),
                "max_minutes must be positive",
            ),  # fmt: skip
            (self.eval_every >= 1, "eval_every must be >= 1"),
            (self.checkpoint_every >= 1, "checkpoint_every must be >= 1"),
            (self.log_every >= 1, "log_every must be >= 1"),
            (self.threads is None or self.threads >= 1, "threads must be >= 1"),
            (self.shuffle_buffer >= self.batch_size, "shuffle_buffer must be at least batch_size"),
            *self.retention_checks(),
        ])  # fmt: skip
        if self.device != "auto":
            torch.device(self.device)  # RuntimeError for nonsense
            if not self.device.startswith(("cpu", "cuda")):
                raise ValueError(f"device must be auto, cpu or cuda[:N], got {self.device!r}")

    def lr_at(self, samples: int) -> float:
        """The step size after ``samples`` training samples: ``lr`` halved every ``lr_halve_every`` samples."""
        if not self.lr_halve_every:
            return self.lr
        return self.lr * 0.5 ** (samples // self.lr_halve_every)


def _finite(x) -> bool:
    return isinstance(x, int | float) and math.isfinite(x)


@dataclass
class SLStatus:
    """Where a run stands, given to ``on_status`` after every step."""

    step: int
    samples: int
    epoch: int
    loss: float | None  # running train loss
    top1: float | None  # running train top-1
    lr: float
    positions_per_s: float
    elapsed: float
    max_steps: int | None
    eval_top1: float | None = None
    eval_top5: float | None = None
    skipped: int = 0

    def line(self) -> str:
        ev = shown(self.eval_top1, ".1f", percent=True)
        if self.eval_top1 is not None:
            ev += "/" + shown(self.eval_top5, ".1f", percent=True)
        return (
            f"step {self.step} samples {self.samples} epoch {self.epoch} loss {shown(self.loss)} top-1 "
            f"{shown(self.top1, '.1f', percent=True)} held-out top-1/5 {ev} lr {self.lr:.3g} "
            f"{self.positions_per_s:.0f} pos/s skipped {self.skipped}"
        )


@dataclass
class SLResult:
    steps: int
    samples: int
    epoch: int
    top1: float | None  # held-out
    top5: float | None
    loss: float | None
    train_positions: int  # training positions read by this invocation
    holdout_positions: int
    train_files: int
    holdout_files: int
    skipped: int  # games skipped (broken, other size, no moves), training and held-out files
    skipped_by_reason: dict
    checkpoint: str | None
    seconds: float
    stopped: str  # max_steps | max_minutes | signal

    def line(self) -> str:
        ev = (
            "no held-out positions"
            if self.top1 is None
            else f"held-out top-1 {100 * self.top1:.1f}%, top-5 {100 * self.top5:.1f}%, loss {self.loss:.3f}"
        )
        return (
            f"{self.steps} steps ({self.samples} samples, epoch {self.epoch}); {ev} on {self.holdout_positions} "
            f"positions; {self.train_positions} training positions read; {self.skipped} games skipped; "
            f"checkpoint {self.checkpoint}"
        )


# --- the run directory -------------------------------------------------------------------------------------------


def prepare_run_dir(config: SLConfig) -> None:
    """Write ``config.json``, or check the existing one: its size, model and SGF directory must be the same."""
    rd = RunDir(config.run_dir, PREFIX)
    stored = rd.read_config()
    if stored is not None:
        rd.check_unchanged(stored, config.to_dict(), IDENTITY, what="an SL run")
    rd.write_config(config.to_dict())


# --- evaluation --------------------------------------------------------------------------------------------------


def _accuracy(logits: torch.Tensor, target: torch.Tensor) -> tuple[int, int]:
    top5 = logits.topk(min(5, logits.shape[1]), dim=1).indices
    hit = top5 == target[:, None]
    return int(hit[:, 0].sum()), int(hit.any(dim=1).sum())


@torch.no_grad()
def evaluate(model, packed: np.ndarray, targets: np.ndarray, size: int, device, amp: bool) -> dict | None:
    """Held-out loss, top-1 and top-5 of ``model`` over packed positions (:func:`encode_positions`)."""
    n = len(targets)
    if n == 0:
        return None
    was_training = model.training
    model.eval()
    loss_sum = 0.0
    top1 = top5 = 0
    for i in range(0, n, EVAL_BATCH):
        x = torch.from_numpy(unpack_planes(packed[i : i + EVAL_BATCH], PLANES, size, dtype=np.uint8)).to(device).float()
        y = torch.from_numpy(targets[i : i + EVAL_BATCH]).to(device)
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=amp):
            logits = model(x)
        logits = logits.float()
        loss_sum += float(F.cross_entropy(logits, y, reduction="sum"))
        a, b = _accuracy(logits, y)
        top1 += a
        top5 += b
    model.train(was_training)
    return {"loss": loss_sum / n, "top1": top1 / n, "top5": top5 / n, "positions": n}


# --- training ------------------------------------------------------------------------------------------------------


def train_sl(
    config: SLConfig,
    *,
    on_status: Callable[[SLStatus], None] | None = None,
    stop: threading.Event | None = None,
) -> SLResult:
    """Train (or resume) the SL policy network of ``config`` until ``max_steps``, ``max_minutes``, SIGINT/SIGTERM or
    ``stop`` is set; a checkpoint is saved at the end. SLRunError when there is nothing to train on; ValueError for
    a run directory of another size / model / SGF directory."""
    from igo.nets.checkpoint import CheckpointError, load_checkpoint
    from igo.nets.config import get_config
    from igo.nets.models import build_model

    t0 = time.monotonic()
    run_dir = Path(config.run_dir)
    files = find_sgf_files(config.sgf_dir)
    if not files:
        raise SLRunError(f"no .sgf files under {config.sgf_dir}")
    prepare_run_dir(config)
    train_files, held_files = split_files(config.sgf_dir, files, config.holdout)
    if not train_files:
        raise SLRunError(f"all {len(files)} SGF files are held out; lower --holdout or add games")
    log.info("%d SGF files: %d for training, %d held out", len(files), len(train_files), len(held_files))

    held_stats = LoadStats()
    held_packed, held_targets, _ = encode_positions(
        held_files, config.size, config.max_holdout_positions, packed=True, stats=held_stats
    )
    log.info("held-out: %d positions from %d games (%d skipped)", len(held_targets), held_stats.games,
             held_stats.skipped)  # fmt: skip

    device = resolve_device(config.device)
    torch.set_num_threads(config.threads or core_budget())
    amp = device.type == "cuda"
    torch.manual_seed(config.seed)
    model = build_model(get_config(config.model), config.size).to(device)
    optimizer = build_optimizer(
        model.parameters(), config.optimizer, config.lr, momentum=config.momentum, weight_decay=config.weight_decay
    )
    step = samples = epoch = files_read = 0
    rd = RunDir(run_dir, PREFIX)
    newest = rd.newest()
    if newest is not None:
        last = newest[1]
        try:
            loaded, meta = load_checkpoint(last, board_size=config.size, expect_kind="lee-policy")
        except (CheckpointError, OSError, ValueError) as e:
            raise SLRunError(f"cannot resume from {last}: {e}") from None
        if meta.config_name != config.model:
            raise ValueError(f"{last} holds a {meta.config_name} network, this run trains {config.model}")
        model.load_state_dict(loaded.state_dict())
        del loaded
        restore_optimizer(optimizer, last, kind=config.optimizer, step=meta.step)
        step = meta.step
        samples = int(meta.extra.get("samples", step * config.batch_size))
        epoch = int(meta.extra.get("epoch", 0))
        files_read = int(meta.extra.get("files_read", 0))
        log.info("resuming from %s: step %d, %d samples, epoch %d", last.name, step, samples, epoch)
        rd.announce_resume(step, f"{samples} samples", f"epoch {epoch}")
    model.train()

    stream = PositionStream(
        train_files,
        config.size,
        batch_size=config.batch_size,
        seed=config.seed,
        shuffle_buffer=config.shuffle_buffer,
        epoch=epoch,
        skip_files=files_read if files_read < len(train_files) else 0,
    )
    stop = stop if stop is not None else threading.Event()
    metrics = Metrics(run_dir)
    deadline = None if config.max_minutes is None else t0 + 60 * config.max_minutes
    last_eval: dict | None = None
    eval_step = -1
    ckpt: Path | None = None if newest is None else newest[1]
    ckpt_step = -1 if newest is None else step
    window = {"loss": 0.0, "top1": 0, "top5": 0, "n": 0, "steps": 0, "t": time.monotonic()}
    run_loss = run_top1 = None
    pps = 0.0
    stopped = "max_steps"
    positions_start = 0

    def skipped() -> int:  # distinct files: the stream meets a broken training file again every epoch
        return len(stream.skipped_files) + held_stats.skipped

    def reasons() -> dict:
        return dict(Counter(stream.skipped_files.values()) + held_stats.skipped_by_reason)

    def do_eval() -> None:
        nonlocal last_eval, eval_step
        res = evaluate(model, held_packed, held_targets, config.size, device, amp)
        eval_step = step
        if res is not None:
            last_eval = res
            metrics.write("eval", step, samples=samples, epoch=stream.epoch, **res)
            log.info("step %d: held-out loss %.3f top-1 %.3f top-5 %.3f", step, res["loss"], res["top1"],
                     res["top5"])  # fmt: skip

    def save() -> Path:
        nonlocal ckpt, ckpt_step
        extra = {
            "trainer": "sl",
            "samples": samples,
            "epoch": stream.epoch,
            "files_read": stream.files_read,
            "corpus": config.sgf_dir,
            "optimizer": config.optimizer,
            "lr": config.lr_at(samples),
        }
        if last_eval is not None:
            extra.update(holdout_top1=last_eval["top1"], holdout_top5=last_eval["top5"],
                         holdout_loss=last_eval["loss"])  # fmt: skip
        path = save_with_optimizer(rd.checkpoint(step), model, optimizer, kind=config.optimizer, step=step, extra=extra)
        rd.publish(path, "sl.safetensors")
        config.thin(rd, config.checkpoint_every, step)
        ckpt, ckpt_step = path, step
        log.info("checkpoint %s", path)
        return path

    with stop_on_signals(stop), metrics:
        batches = iter(stream)
        while True:
            if config.max_steps is not None and step >= config.max_steps:
                stopped = "max_steps"
                break
            if deadline is not None and time.monotonic() >= deadline:
                stopped = "max_minutes"
                break
            if stop.is_set():
                stopped = "signal"
                break
            try:
                planes, target = next(batches)
            except ValueError as e:  # a whole epoch without a usable position
                raise SLRunError(str(e)) from None
            lr = config.lr_at(samples)
            for g in optimizer.param_groups:
                g["lr"] = lr
            x = torch.from_numpy(planes).to(device, non_blocking=True).float()
            y = torch.from_numpy(target).to(device, non_blocking=True)
            with torch.autocast("cuda", dtype=torch.bfloat16, enabled=amp):
                logits = model(x)
            logits = logits.float()
            loss = F.cross_entropy(logits, y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            step += 1
            samples += len(target)
            with torch.no_grad():
                a, b = _accuracy(logits.detach(), y)
            window["loss"] += float(loss.detach()) * len(target)
            window["top1"] += a
            window["top5"] += b
            window["n"] += len(target)
            window["steps"] += 1
            if step % config.log_every == 0:
                dt = max(time.monotonic() - window["t"], 1e-9)
                n = window["n"]
                run_loss, run_top1 = window["loss"] / n, window["top1"] / n
                pps = n / dt
                metrics.write(
                    "train", step, loss=run_loss, top1=run_top1, top5=window["top5"] / n, lr=lr,
                    positions_per_s=pps, samples=samples, epoch=stream.epoch, skipped=skipped(),
                    positions_read=stream.stats.positions,
                )  # fmt: skip
                window.update(loss=0.0, top1=0, top5=0, n=0, steps=0, t=time.monotonic())
            elif run_loss is None:
                run_loss, run_top1 = window["loss"] / window["n"], window["top1"] / window["n"]
                pps = window["n"] / max(time.monotonic() - window["t"], 1e-9)
            if step % config.eval_every == 0:
                do_eval()
            if step % config.checkpoint_every == 0:
                save()
            if on_status is not None:
                on_status(
                    SLStatus(
                        step,
                        samples,
                        stream.epoch,
                        run_loss,
                        run_top1,
                        lr,
                        pps,
                        time.monotonic() - t0,
                        config.max_steps,
                        last_eval and last_eval["top1"],
                        last_eval and last_eval["top5"],
                        skipped(),
                    )  # fmt: skip
                )
        if eval_step != step:
            do_eval()
        if ckpt_step != step:
            save()
        elif ckpt is not None and not (run_dir / "sl.safetensors").exists():
            rd.publish(ckpt, "sl.safetensors")
    positions_start = stream.stats.positions
    return SLResult(
        steps=step,
        samples=samples,
        epoch=stream.epoch,
        top1=None if last_eval is None else last_eval["top1"],
        top5=None if last_eval is None else last_eval["top5"],
        loss=None if last_eval is None else last_eval["loss"],
        train_positions=positions_start,
        holdout_positions=len(held_targets),
        train_files=len(train_files),
        holdout_files=len(held_files),
        skipped=skipped(),
        skipped_by_reason=reasons(),
        checkpoint=None if ckpt is None else str(ckpt),
        seconds=time.monotonic() - t0,
        stopped=stopped,
    )


__all__ = ["PREFIX", "SLConfig", "SLResult", "SLRunError", "SLStatus", "evaluate", "prepare_run_dir", "train_sl"]
