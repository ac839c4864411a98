"""Supervised learning from SGF game records: AlphaGo's (2016) SL policy network, or a warm start of an AlphaGo Zero
ResNet (the Zero paper's supervised baseline; AlphaGo Master's start before self-play).

``igo train sl`` runs :func:`train_sl`. The SGF directory is split once into training and held-out files by a hash
of each path (:func:`igo.training.sgf_data.split_files`, ``holdout`` of the files); the held-out games are encoded once
(at most ``max_holdout_positions`` positions, no symmetry) and the training games stream through
:class:`igo.training.sgf_data.PositionStream` (a new file order each epoch, passes left out, a shuffle buffer, a random
symmetry per sample). The loss is the cross-entropy of the ``N*N`` logits of :class:`igo.nets.lee.LeePolicyNet` against
the expert's move.

A ``zero-*`` config trains a :class:`igo.nets.zero.ZeroNet` on its own planes (``zero8``: 17) with both heads, as the
AlphaGo Zero paper's supervised net: loss = policy cross-entropy on the expert's move (``N*N + 1`` logits, pass
included; passes themselves are left out of the data) + ``value_weight`` * MSE(value, z) + L2 (the optimizer's weight
decay), z the game's result for the player to move (:func:`igo.training.sgf_data.value_target`); positions of games
without a decisive ``B+``/``W+`` result have no value target and are masked out of the value term (counted as
``undecided``). The paper used value weight 0.01 on KGS against over-fitting of the value head; the default here is
0.25 and the held-out value MSE (and the share of positions whose value has z's sign) is reported beside top-1/top-5
to watch for it. Its checkpoints are ordinary Zero checkpoints (``igo gtp --model RUN/sl.safetensors`` plays with them,
lambda = 0 search; a Zero run can start from one) and record the komi most of the corpus' games were played at
(:func:`igo.training.sgf_data.corpus_komi`) and igo's rules, as Zero runs do, so players resolve the komi the same way.

**The run directory** holds ``config.json``, ``checkpoints/sl-XXXXXXXX.safetensors`` (thinned as
:class:`igo.training.run.Retention` says; ``.optim.safetensors``, the optimizer state, beside the newest),
``sl.safetensors`` (a copy of the newest checkpoint for users, e.g. ``igo gtp --model RUN/sl.safetensors``),
``metrics.jsonl`` (``kind`` ``train`` and ``eval`` rows; for Zero nets also ``value_mse`` in both, ``policy_loss`` in
``train`` rows, ``value_sign`` in ``eval`` rows) and ``tb/`` (TensorBoard). Running the same command again resumes
(and says so on stderr) from the newest checkpoint: weights, optimizer state, step, samples, epoch and the files of
that epoch already read (positions that were waiting in the shuffle buffer are not kept). A run directory keeps its
board size, network config and SGF directory (another is refused); the optimizer settings (``value_weight`` too),
limits and intervals may change between invocations.

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

from igo.engine.planes import unpack_planes
from igo.nets.checkpoint import RULES

from .common import Metrics, TrainerSettings, cpu_hours, finish, keep_config, load_weights, optimize, save_and_publish
from .run import ConfigDict, Retention, RunDir, RunError, check_settings, restore_optimizer, shown, stop_on_signals
from .sgf_data import LoadStats, PositionStream, corpus_komi, encode_positions, find_sgf_files, split_files

log = logging.getLogger(__name__)

PREFIX = "sl"  # checkpoints/sl-<step>.safetensors
PUBLISHED = "sl.safetensors"  # a copy of the newest checkpoint
IDENTITY = ("size", "model", "sgf_dir")
EVAL_BATCH = 512
KINDS = ("lee-policy", "zero")  # the network kinds SL trains
DEFAULT_VALUE_WEIGHT = 0.25  # zero nets; the AlphaGo Zero paper used 0.01 on KGS


class SLRunError(RunError):
    """The run cannot start or go on (no SGF files, no usable games, unreadable checkpoint): the message says why."""


@dataclass
class SLConfig(TrainerSettings, Retention, ConfigDict):
    """Everything about an SL run; ``config.json`` keeps it (the optimizer, limits, intervals, device and shuffle
    buffer: :class:`igo.training.common.TrainerSettings`). ``sgf_dir`` is stored absolute."""

    SETTINGS = "SL settings"

    sgf_dir: str
    run_dir: str
    size: int = 19
    model: str = "lee-policy-192"  # the paper's 13 layers x 192 filters; lee-policy-64 is the CPU-friendly one
    value_weight: float | None = None  # zero-* nets only (None: DEFAULT_VALUE_WEIGHT); lee-policy nets have no value
    holdout: float = 0.05  # share of the SGF files held out
    max_holdout_positions: int = 20_000

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
        if cfg.kind not in KINDS:
            raise ValueError(
                f"model {self.model!r} is a {cfg.kind} net; SL training needs a lee-policy-* or zero-* config"
            )
        if cfg.kind == "zero":
            if self.value_weight is None:
                self.value_weight = DEFAULT_VALUE_WEIGHT
            if not (_finite(self.value_weight) and self.value_weight >= 0):
                raise ValueError(f"value_weight must be >= 0, got {self.value_weight!r}")
        elif self.value_weight is not None:
            raise ValueError(
                f"value_weight is for zero-* configs (a value head); {self.model!r} is a policy-only {cfg.kind} net"
            )
        check_settings([
            *self.optimizer_checks(_finite),
            (_finite(self.holdout) and 0 <= self.holdout < 1, "holdout must be in [0, 1)"),
            (self.max_holdout_positions >= 0, "max_holdout_positions must be >= 0"),
            *self.running_checks(_finite),
            *self.retention_checks(),
        ])  # fmt: skip
        self.check_device()


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
    zero: bool = False  # a Zero net: the held-out value figures below are shown
    eval_value_mse: float | None = None
    eval_value_sign: float | None = None  # share of held-out positions whose value has the sign of z

    def line(self) -> str:
        ev = shown(self.eval_top1, ".1f", percent=True)
        if self.eval_top1 is not None:
            ev += "/" + shown(self.eval_top5, ".1f", percent=True)
        if self.zero:
            ev += (f" value MSE {shown(self.eval_value_mse)} sign "
                   f"{shown(self.eval_value_sign, '.1f', percent=True)}")  # fmt: skip
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
    # zero nets (None / 0 for lee-policy nets)
    value_mse: float | None = None  # held-out, over the positions with a value target
    value_sign: float | None = None  # held-out share of those positions whose value has the sign of z
    value_positions: int = 0  # held-out positions with a value target
    undecided: int = 0  # games read by this call (training reads and held-out) without a decisive B+/W+ result
    komi: float | None = None  # recorded in the checkpoints

    def line(self) -> str:
        ev = (
            "no held-out positions"
            if self.top1 is None
            else f"held-out top-1 {100 * self.top1:.1f}%, top-5 {100 * self.top5:.1f}%, loss {self.loss:.3f}"
        )
        if self.value_mse is not None:
            ev += (f", value MSE {self.value_mse:.3f}, sign {100 * self.value_sign:.1f}% "
                   f"({self.value_positions} with a result)")  # fmt: skip
        return (
            f"{self.steps} steps ({self.samples} samples, epoch {self.epoch}); {ev} on {self.holdout_positions} "
            f"positions; {self.train_positions} training positions read; {self.skipped} games skipped; "
            + (
                f"{self.undecided} games without a result (no value target); komi {self.komi:g}; "
                if self.komi is not None
                else ""
            )
            + f"checkpoint {self.checkpoint}"
        )


# --- the run directory -------------------------------------------------------------------------------------------


def prepare_run_dir(config: SLConfig) -> None:
    """Write ``config.json``, or check the existing one: its size, model and SGF directory must be the same."""
    keep_config(RunDir(config.run_dir, PREFIX), config, IDENTITY, what="an SL run")


# --- evaluation --------------------------------------------------------------------------------------------------


def _accuracy(logits: torch.Tensor, target: torch.Tensor) -> tuple[int, int]:
    top5 = logits.topk(min(5, logits.shape[1]), dim=1).indices
    hit = top5 == target[:, None]
    return int(hit[:, 0].sum()), int(hit.any(dim=1).sum())


def _value_error(value: torch.Tensor, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(sum of (v - z)^2, positions whose v has the sign of z, positions)`` over the positions with a value target
    (z != 0)."""
    mask = z != 0
    zf = z.to(value.dtype)
    err = ((value - zf).pow(2) * mask).sum()
    sign = ((value * zf > 0) & mask).sum()
    return err, sign, mask.sum()


@torch.no_grad()
def evaluate(
    model,
    packed: np.ndarray,
    targets: np.ndarray,
    size: int,
    device,
    amp: bool,
    *,
    values: np.ndarray | None = None,
    planes: int = 48,
) -> dict | None:
    """Held-out policy loss (cross-entropy), top-1 and top-5 of ``model`` over packed positions of ``planes`` planes
    (:func:`encode_positions`); for a Zero net (a model that returns ``(logits, value)``) with ``values``, also
    ``value_mse`` and ``value_sign`` (the share whose value has the sign of z) over the ``value_positions`` with a
    value target (None without one)."""
    n = len(targets)
    if n == 0:
        return None
    was_training = model.training
    model.eval()
    loss_sum = 0.0
    top1 = top5 = 0
    err = sign = counted = 0.0
    zero = False
    for i in range(0, n, EVAL_BATCH):
        x = torch.from_numpy(unpack_planes(packed[i : i + EVAL_BATCH], planes, size, dtype=np.uint8)).to(device).float()
        y = torch.from_numpy(targets[i : i + EVAL_BATCH]).to(device)
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=amp):
            out = model(x)
        if isinstance(out, tuple):
            zero = True
            logits, value = out[0].float(), out[1].float()
            if values is not None:
                e, s, c = _value_error(value, torch.from_numpy(values[i : i + EVAL_BATCH]).to(device))
                err, sign, counted = err + float(e), sign + float(s), counted + float(c)
        else:
            logits = out.float()
        loss_sum += float(F.cross_entropy(logits, y, reduction="sum"))
        a, b = _accuracy(logits, y)
        top1 += a
        top5 += b
    model.train(was_training)
    res = {"loss": loss_sum / n, "top1": top1 / n, "top5": top5 / n, "positions": n}
    if zero and values is not None:
        res.update(value_mse=err / counted if counted else None, value_sign=sign / counted if counted else None,
                   value_positions=int(counted))  # fmt: skip
    return res


# --- training ------------------------------------------------------------------------------------------------------


def train_sl(
    config: SLConfig,
    *,
    on_status: Callable[[SLStatus], None] | None = None,
    stop: threading.Event | None = None,
) -> SLResult:
    """Train (or resume) the SL network of ``config`` (a policy net, or a Zero net's both heads) until
    ``max_steps``, ``max_minutes``, SIGINT/SIGTERM or ``stop`` is set; a checkpoint is saved at the end. SLRunError
    when there is nothing to train on; ValueError for a run directory of another size / model / SGF directory."""
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
    net_config = get_config(config.model)
    zero = net_config.kind == "zero"
    features = net_config.feature_set
    planes = net_config.input_planes

    held_stats = LoadStats()
    held_packed, held_targets, held_values, _ = encode_positions(
        held_files, config.size, config.max_holdout_positions, packed=True, stats=held_stats, features=features
    )
    log.info("held-out: %d positions from %d games (%d skipped)", len(held_targets), held_stats.games,
             held_stats.skipped)  # fmt: skip

    device, threads, amp = config.start_device()
    torch.manual_seed(config.seed)
    model = build_model(net_config, config.size).to(device)
    optimizer = config.build_optimizer(model.parameters())
    step = samples = epoch = files_read = 0
    cpu_hours_before = 0.0  # earlier invocations' (their newest checkpoint's extra.cpu_hours)
    komi: float | None = None  # zero nets: recorded in their checkpoints
    rd = RunDir(run_dir, PREFIX)
    newest = rd.newest()
    if newest is not None:
        last = newest[1]
        meta = load_weights(model, last, size=config.size, kind=net_config.kind, name=config.model, error=SLRunError)
        restore_optimizer(optimizer, last, kind=config.optimizer, step=meta.step)
        step, samples, epoch, files_read, cpu_hours_before = config.resume_counts(meta)
        komi = meta.komi
        log.info("resuming from %s: step %d, %d samples, epoch %d", last.name, step, samples, epoch)
        rd.announce_resume(step, f"{samples} samples", f"epoch {epoch}")
    if zero and komi is None:
        komi, counts = corpus_komi(files, config.size)
        if len(counts) > 1:
            log.warning("the %dx%d games disagree on komi (%s); recording the most common, %g", config.size,
                        config.size, ", ".join(f"{k:g}: {n}" for k, n in counts.most_common()), komi)  # fmt: skip
    model.train()

    stream = PositionStream(
        train_files,
        config.size,
        batch_size=config.batch_size,
        seed=config.seed,
        shuffle_buffer=config.shuffle_buffer,
        epoch=epoch,
        skip_files=files_read if files_read < len(train_files) else 0,
        features=features,
    )
    stop = stop if stop is not None else threading.Event()
    metrics = Metrics(run_dir)
    deadline = config.deadline(t0)
    last_eval: dict | None = None
    eval_step = -1
    ckpt: Path | None = None if newest is None else newest[1]
    ckpt_step = -1 if newest is None else step
    window = {"loss": 0.0, "top1": 0, "top5": 0, "n": 0, "steps": 0, "t": time.monotonic(), "policy": 0.0,
              "verr": 0.0, "vn": 0}  # fmt: skip
    run_loss = run_top1 = None
    pps = 0.0
    positions_start = 0

    def skipped() -> int:  # distinct files: the stream meets a broken training file again every epoch
        return len(stream.skipped_files) + held_stats.skipped

    def reasons() -> dict:
        return dict(Counter(stream.skipped_files.values()) + held_stats.skipped_by_reason)

    def do_eval() -> None:
        nonlocal last_eval, eval_step
        res = evaluate(model, held_packed, held_targets, config.size, device, amp, values=held_values, planes=planes)
        eval_step = step
        if res is not None:
            last_eval = res
            metrics.write("eval", step, samples=samples, epoch=stream.epoch, **res)
            log.info("step %d: held-out loss %.3f top-1 %.3f top-5 %.3f", step, res["loss"], res["top1"],
                     res["top5"])  # fmt: skip
            if zero:
                log.info("step %d: held-out value MSE %s sign %s on %d positions", step, shown(res["value_mse"]),
                         shown(res["value_sign"]), res["value_positions"])  # fmt: skip

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
            # wall time x torch threads, all invocations: the cost of this net on the curve of Elo against CPU-hours
            "cpu_hours": cpu_hours(cpu_hours_before, t0, threads),
        }
        if last_eval is not None:
            extra.update(holdout_top1=last_eval["top1"], holdout_top5=last_eval["top5"],
                         holdout_loss=last_eval["loss"])  # fmt: skip
        known = {}
        if zero:
            extra["value_weight"] = config.value_weight
            if last_eval is not None:
                extra.update(holdout_value_mse=last_eval["value_mse"], holdout_value_sign=last_eval["value_sign"])
            known = {"komi": komi, "rules": RULES}
        path = save_and_publish(rd, config, step, model, optimizer, PUBLISHED, extra=extra, **known)
        ckpt, ckpt_step = path, step
        log.info("checkpoint %s", path)
        return path

    with stop_on_signals(stop), metrics:
        batches = iter(stream)
        while (stopped := config.stop_reason(step, deadline, stop)) is None:
            try:
                batch, target, value_target = next(batches)
            except ValueError as e:  # a whole epoch without a usable position
                raise SLRunError(str(e)) from None
            lr = config.set_lr(optimizer, samples)
            x = torch.from_numpy(batch).to(device, non_blocking=True).float()
            y = torch.from_numpy(target).to(device, non_blocking=True)
            with torch.autocast("cuda", dtype=torch.bfloat16, enabled=amp):
                out = model(x)
            if zero:
                logits, value = out[0].float(), out[1].float()
                err, _sign, counted = _value_error(value, torch.from_numpy(value_target).to(device, non_blocking=True))
                policy_loss = F.cross_entropy(logits, y)
                loss = policy_loss + config.value_weight * err / counted.clamp(min=1)
                window["policy"] += float(policy_loss.detach()) * len(target)
                window["verr"] += float(err.detach())
                window["vn"] += int(counted)
            else:
                logits = out.float()
                loss = F.cross_entropy(logits, y)
            optimize(optimizer, loss)
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
                heads = {}
                if zero:
                    heads = {"policy_loss": window["policy"] / n, "undecided": stream.stats.undecided,
                             "value_mse": window["verr"] / window["vn"] if window["vn"] else None}  # fmt: skip
                metrics.write(
                    "train", step, loss=run_loss, top1=run_top1, top5=window["top5"] / n, lr=lr,
                    positions_per_s=pps, samples=samples, epoch=stream.epoch, skipped=skipped(),
                    positions_read=stream.stats.positions, **heads,
                )  # fmt: skip
                window.update(loss=0.0, top1=0, top5=0, n=0, steps=0, t=time.monotonic(), policy=0.0, verr=0.0, vn=0)
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
                        zero,
                        last_eval and last_eval.get("value_mse"),
                        last_eval and last_eval.get("value_sign"),
                    )  # fmt: skip
                )
        finish(rd, PUBLISHED, step, eval_step=eval_step, do_eval=do_eval, ckpt_step=ckpt_step, save=save, ckpt=ckpt)
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
        value_mse=None if last_eval is None else last_eval.get("value_mse"),
        value_sign=None if last_eval is None else last_eval.get("value_sign"),
        value_positions=int(np.count_nonzero(held_values)) if zero else 0,
        undecided=stream.stats.undecided + held_stats.undecided,
        komi=komi,
    )


__all__ = ["PREFIX", "SLConfig", "SLResult", "SLRunError", "SLStatus", "evaluate", "prepare_run_dir", "train_sl"]
