"""Knowledge distillation of AlphaGo Zero nets: a (usually smaller) student ``zero-*`` net learns from a trained
teacher ``zero-*`` net's outputs as well as from the data's hard targets (Hinton, Vinyals & Dean 2015, "Distilling
the Knowledge in a Neural Network").

``igo train distill`` runs :func:`train_distill`. The teacher is a Zero checkpoint (any ``zero-*`` config) and runs in
inference mode (eval mode, no gradient); the student is a ``zero-*`` config trained from random weights
(``--config``) or a Zero checkpoint it continues from (``--student``). Both read the same planes, so the teacher and
the student must be of the same board size and history length (a mismatch is a ValueError before anything is
written). Each training position is fed to both nets under the same random symmetry (one of the 8, applied to the
planes once), so the teacher's outputs are in the student's frame by construction.

**Data.** ``sgf_dir``: SGF game records, read exactly as ``igo train sl`` reads them
(:class:`igo.training.sgf_data.PositionStream`, the held-out split by a hash of each path,
:func:`~igo.training.sgf_data.encode_positions` for the held-out games); the hard policy target is the game's move
(passes included: a Zero net has a pass output), the outcome ``z`` the game's result for the player to move (no
outcome for games without a decisive ``B+``/``W+`` result). ``replay_dir``: the ``chunk-*.npz`` files of a Zero
run's replay buffer (:mod:`igo.selfplay.replay`), read read-only and checked as hostile files
(:func:`igo.training.distill_data.read_replay`: the newest chunks, at most ``max_replay_positions`` positions; whole
games held out by a hash of ``chunk name/game index``), sampled uniformly with a random symmetry; the hard target is
the search's visit distribution, ``z`` the stored result.

**The loss** of a batch of ``B`` positions, student logits ``s``, teacher logits ``t``, temperature ``T``, weight
``alpha`` in [0, 1] (mean over the batch)::

    policy = alpha * T^2 * KL(softmax(t / T) || softmax(s / T))  +  (1 - alpha) * CE(hard target, softmax(s))
    value  = alpha * mean_B (v - v_t)^2  +  (1 - alpha) * sum_{z known} (v - z)^2 / #{z known}
    loss   = policy + value_weight * value       (+ L2 as the optimizer's weight decay)

The KL and the cross-entropies run over all ``N*N + 1`` outputs (pass included, illegal moves not masked: the
teacher gives occupied points almost no mass and the student learns to). ``T^2`` keeps the soft term's gradient of
the same size whatever ``T`` (Hinton et al., section 2). For a position with an outcome the value term has the
gradient of the MSE to the mix ``alpha * v_t + (1 - alpha) * z`` (``alpha (v - v_t)^2 + (1 - alpha) (v - z)^2`` is
``(v - mix)^2`` plus a constant); a position without one (an SGF game without a result) keeps only the teacher's part.
The outcome part is normalised by the positions with an outcome, as ``igo train sl`` does. With ``alpha = 0`` the
teacher is not run during training and the loss is exactly ``igo train sl``'s Zero loss (policy cross-entropy +
``value_weight`` x masked value MSE): same seed, same data, same settings give the same weights, so "distilled vs
hard-target student at equal steps" is one flag.

Defaults: ``T = 2`` (Hinton et al. found intermediate temperatures best when the student is much smaller than the
teacher; at T = 1 the soft targets of a confident Go policy are nearly one-hot and carry little more than the top
move, at higher T the student spends capacity on the teacher's noise among bad moves), ``alpha = 0.7`` (mostly the
teacher, whose targets are far less noisy than one sampled game move, but enough of the data's hard target to
correct the teacher where the data knows better) and ``value_weight = 0.25`` (``igo train sl``'s default, against
over-fitting the value head on few games). The optimizer and its defaults are ``igo train sl``'s.

**Held-out metrics** (``eval`` rows of ``metrics.jsonl``, the status line and the result): the student's ``agree``
(top-1 agreement with the teacher), ``top1`` / ``top5`` against the hard target (the game move; for replay data the
most visited move), ``kl`` (mean KL(teacher || student) at T = 1), ``value_mse`` against the outcomes (positions with
one) and ``value_mse_teacher`` against the teacher's values. The teacher's own held-out figures (``top1``, ``top5``,
``value_mse``) are computed once per invocation (a ``teacher`` row) as the ceiling to compare with.

**The run directory** is the other trainers' (:mod:`igo.training.run`): ``config.json``,
``checkpoints/distill-XXXXXXXX.safetensors`` (+ the optimizer state beside the newest), ``distill.safetensors`` (a
copy of the newest: an ordinary Zero checkpoint, ``igo gtp --model RUN/distill.safetensors`` plays with it; it records
the komi of the data: the corpus' for SGF, the teacher's for replay data, and igo's rules), ``metrics.jsonl`` and
``tb/``. The same command resumes (and says so on stderr): weights, optimizer state, step, samples and, for SGF data,
the epoch and files read. The board size, student config, teacher and data directory are the run's identity (another
is refused); temperature, alpha and the optimizer settings may change between invocations (each checkpoint records
those it was trained with last).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from igo.nets.checkpoint import RULES

from .common import Metrics, TrainerSettings, cpu_hours, finish, keep_config, load_weights, optimize, save_and_publish
from .distill_data import HeldOut, forward_all, read_replay
from .run import ConfigDict, Retention, RunDir, RunError, check_settings, restore_optimizer, shown, stop_on_signals
from .sgf_data import LoadStats, PositionStream, corpus_komi, encode_positions, find_sgf_files, split_files

log = logging.getLogger(__name__)

PREFIX = "distill"  # checkpoints/distill-<step>.safetensors
PUBLISHED = "distill.safetensors"
IDENTITY = ("size", "model", "teacher", "sgf_dir", "replay_dir")
DEFAULT_TEMPERATURE = 2.0
DEFAULT_ALPHA = 0.7
DEFAULT_VALUE_WEIGHT = 0.25


class DistillRunError(RunError):
    """The run cannot start or go on (no data, an unreadable checkpoint): the message says why."""


def _finite(x) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


def _path(p: str | None) -> str | None:
    return None if p is None else str(Path(p).expanduser().resolve())


@dataclass
class DistillConfig(TrainerSettings, Retention, ConfigDict):
    """Everything about a distillation run; ``config.json`` keeps it (the optimizer, limits, intervals, device and
    shuffle buffer: :class:`igo.training.common.TrainerSettings`, ``igo train sl``'s). Paths are stored absolute.
    ``model`` (the student's config) may be left out when ``student`` names a checkpoint, ``size`` always (both come
    from the checkpoints: :func:`check_networks`)."""

    SETTINGS = "distillation settings"

    teacher: str
    run_dir: str
    model: str | None = None  # the student's zero-* config
    student: str | None = None  # a Zero checkpoint a new run's student starts from
    sgf_dir: str | None = None
    replay_dir: str | None = None
    size: int | None = None  # the teacher's board size
    temperature: float = DEFAULT_TEMPERATURE
    alpha: float = DEFAULT_ALPHA  # weight of the teacher's targets; 0: hard-target training only
    value_weight: float = DEFAULT_VALUE_WEIGHT
    holdout: float = 0.05  # share of SGF files (replay: games) held out
    max_holdout_positions: int = 20_000
    max_replay_positions: int = 1_000_000  # the newest replay positions read (training and held out)

    def __post_init__(self) -> None:
        from igo.nets.config import get_config

        if not self.teacher:
            raise ValueError("give the teacher network (--teacher CHECKPOINT)")
        if not self.run_dir:
            raise ValueError("give the run directory (--run-dir DIR)")
        if (self.sgf_dir is None) == (self.replay_dir is None):
            raise ValueError("give one data directory: --sgf DIR (game records) or --replay DIR (a Zero run's replay "
                             "chunks)")  # fmt: skip
        if self.model is None and self.student is None:
            raise ValueError("give the student: --config NAME (a new zero-* net) or --student CHECKPOINT")
        self.teacher, self.student = _path(self.teacher), _path(self.student)
        self.sgf_dir, self.replay_dir = _path(self.sgf_dir), _path(self.replay_dir)
        self.run_dir = str(self.run_dir)
        if self.model is not None and self.student is None:  # a student checkpoint may hold an unregistered config
            cfg = get_config(self.model)  # KeyError / ValueError naming the known configs
            if cfg.kind != "zero":
                raise ValueError(f"--config {self.model!r} is a {cfg.kind} net; the student must be a zero-* config")
        if self.size is not None:
            from igo.engine.coords import check_size

            check_size(self.size)
        check_settings([
            (_finite(self.temperature) and self.temperature > 0, f"temperature must be > 0, got {self.temperature!r}"),
            (_finite(self.alpha) and 0 <= self.alpha <= 1, f"alpha must be in [0, 1], got {self.alpha!r}"),
            (_finite(self.value_weight) and self.value_weight >= 0, "value_weight must be >= 0"),
            *self.optimizer_checks(_finite),
            (_finite(self.holdout) and 0 < self.holdout < 1, "holdout must be in (0, 1): the metrics need held-out "
             "data"),
            (self.max_holdout_positions >= 1, "max_holdout_positions must be >= 1"),
            (self.max_replay_positions >= 1, "max_replay_positions must be >= 1"),
            *self.running_checks(_finite),
            *self.retention_checks(),
        ])  # fmt: skip
        self.check_device()


def check_networks(config: DistillConfig, student: str | Path | None = None):
    """Read the headers of the teacher and of ``student`` (the checkpoint the student starts from: ``config.student``
    for a new run, the run's newest checkpoint on resume; None: a new net of ``config.model``) and complete
    ``config``: ``size`` from the teacher, ``model`` from the student checkpoint. Returns ``(teacher_meta,
    student_net_config)``. ValueError when a network is not a Zero net, when the student's board size or history
    length differs from the teacher's, or when ``config.model`` and the student checkpoint disagree;
    CheckpointError (a ValueError) for a file that is not a checkpoint."""
    from igo.nets.checkpoint import read_metadata
    from igo.nets.config import get_config

    t = read_metadata(config.teacher)
    if t.kind != "zero":
        raise ValueError(f"teacher {config.teacher} is a {t.kind} net ({t.config_name}); distillation needs a zero-* "
                         "teacher")  # fmt: skip
    if config.size is not None and config.size != t.board_size:
        raise ValueError(f"the teacher plays {t.board_size}x{t.board_size}, the run is {config.size}x{config.size}")
    config.size = t.board_size
    if student is not None:
        s = read_metadata(student)
        if s.kind != "zero":
            raise ValueError(f"student {student} is a {s.kind} net; the student must be a zero-* net")
        if s.board_size != t.board_size:
            raise ValueError(f"the student {student} is {s.board_size}x{s.board_size}, the teacher "
                             f"{t.board_size}x{t.board_size}: they must read the same board")  # fmt: skip
        if config.model is not None and config.model != s.config_name:
            raise ValueError(f"the student is {config.model} but {student} holds a {s.config_name} net")
        config.model, net_config = s.config_name, s.config
    elif config.model is None:
        raise ValueError("give the student: --config NAME (a new zero-* net) or --student CHECKPOINT")
    else:
        net_config = get_config(config.model)
        if net_config.kind != "zero":
            raise ValueError(f"--config {config.model!r} is a {net_config.kind} net; the student must be a zero-* "
                             "config")  # fmt: skip
    if net_config.history != t.config.history:
        raise ValueError(f"the student ({config.model}) reads {net_config.history} positions of history, the "
                         f"teacher ({t.config_name}) {t.config.history}: they must read the same planes")  # fmt: skip
    return t, net_config


# --- the loss ----------------------------------------------------------------------------------------------------


def hard_policy_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of ``logits [B, A]`` with the hard target: flat move indices ``[B]`` (a game's move) or
    distributions ``[B, A]`` (a search's visits)."""
    if target.dim() == 1:
        return F.cross_entropy(logits, target)
    return -(target * torch.log_softmax(logits, dim=1)).sum(dim=1).mean()


def soft_kl(student_logits: torch.Tensor, teacher_logits: torch.Tensor, temperature: float = 1.0,
            reduction: str = "batchmean") -> torch.Tensor:  # fmt: skip
    """KL(softmax(teacher / T) || softmax(student / T)): the mean over the batch (``batchmean``) or per position
    (``none``, ``[B]``)."""
    log_s = torch.log_softmax(student_logits / temperature, dim=1)
    log_t = torch.log_softmax(teacher_logits / temperature, dim=1)
    kl = F.kl_div(log_s, log_t, log_target=True, reduction="none").sum(dim=1)
    return kl.mean() if reduction == "batchmean" else kl


def distill_loss(
    logits: torch.Tensor,
    value: torch.Tensor,
    target: torch.Tensor,
    z: torch.Tensor,
    mask: torch.Tensor,
    teacher_logits: torch.Tensor | None,
    teacher_value: torch.Tensor | None,
    *,
    temperature: float,
    alpha: float,
    value_weight: float,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """The loss of the module docstring and its parts (detached): ``policy_loss``, ``hard_loss`` (cross-entropy
    with the hard ``target``), ``kd_loss`` (KL at ``temperature``, without the T^2), ``value_loss`` (the value term
    before ``value_weight``), ``value_err`` / ``value_n`` (summed squared error to the outcomes ``z`` where ``mask``
    and their count). With ``alpha == 0`` the teacher's outputs may be None and are not used: the loss is then
    exactly ``igo train sl``'s Zero loss."""
    zf = z.to(value.dtype)
    err = ((value - zf).pow(2) * mask).sum()
    counted = mask.sum()
    hard = hard_policy_loss(logits, target)
    parts = {"hard_loss": hard.detach(), "value_err": err.detach(), "value_n": counted.detach()}
    if alpha == 0:  # igo train sl's expression, operation for operation
        loss = hard + value_weight * err / counted.clamp(min=1)
        parts.update(policy_loss=hard.detach(), value_loss=(err / counted.clamp(min=1)).detach())
        return loss, parts
    if teacher_logits is None or teacher_value is None:
        raise ValueError("alpha > 0 needs the teacher's logits and values")
    kd = soft_kl(logits, teacher_logits.float(), temperature)
    policy = alpha * temperature * temperature * kd + (1 - alpha) * hard
    vloss = alpha * (value - teacher_value.float()).pow(2).mean() + (1 - alpha) * err / counted.clamp(min=1)
    parts.update(policy_loss=policy.detach(), kd_loss=kd.detach(), value_loss=vloss.detach())
    return policy + value_weight * vloss, parts


# --- evaluation --------------------------------------------------------------------------------------------------


def held_metrics(logits: torch.Tensor, value: torch.Tensor, held: HeldOut,
                 teacher: tuple[torch.Tensor, torch.Tensor] | None = None) -> dict:  # fmt: skip
    """Held-out figures of a net's outputs: ``top1`` / ``top5`` / ``loss`` (cross-entropy) against the hard targets
    (a distribution's most likely move), ``value_mse`` against the outcomes (None without any), ``positions``,
    ``value_positions``; with the ``teacher``'s outputs also ``agree`` (same top move), ``kl`` (KL(teacher ||
    net) at T = 1) and ``value_mse_teacher``."""
    target = torch.from_numpy(np.asarray(held.target))
    if target.dim() == 2:
        target = target.float()
    hard = target if target.dim() == 1 else target.argmax(dim=1)
    top5 = logits.topk(min(5, logits.shape[1]), dim=1).indices
    hit = top5 == hard[:, None]
    z = torch.from_numpy(held.z)
    mask = torch.from_numpy(held.mask)
    counted = int(mask.sum())
    n = len(held)
    res = {
        "positions": n,
        "top1": float(hit[:, 0].float().mean()),
        "top5": float(hit.any(dim=1).float().mean()),
        "loss": float(hard_policy_loss(logits, target)),
        "value_mse": float(((value - z).pow(2) * mask).sum()) / counted if counted else None,
        "value_positions": counted,
    }
    if teacher is not None:
        t_logits, t_value = teacher
        agree = (logits.argmax(dim=1) == t_logits.argmax(dim=1)).float().mean()
        res.update(agree=float(agree), kl=float(soft_kl(logits, t_logits)),
                   value_mse_teacher=float((value - t_value).pow(2).mean()))  # fmt: skip
    return res


# --- status and result -------------------------------------------------------------------------------------------


@dataclass
class DistillStatus:
    """Where a run stands, given to ``on_status`` after every step."""

    step: int
    samples: int
    epoch: int
    loss: float | None  # running train loss
    agree: float | None  # running train top-1 agreement with the teacher (None with alpha 0: no teacher run)
    lr: float
    positions_per_s: float
    elapsed: float
    max_steps: int | None
    eval: dict | None = None  # the last held-out figures (held_metrics)

    def line(self) -> str:
        e = self.eval or {}
        return (
            f"step {self.step} samples {self.samples} epoch {self.epoch} loss {shown(self.loss)} held-out agree "
            f"{shown(e.get('agree'), '.1f', percent=True)} top-1 {shown(e.get('top1'), '.1f', percent=True)} KL "
            f"{shown(e.get('kl'))} value MSE {shown(e.get('value_mse'))} (to the teacher's "
            f"{shown(e.get('value_mse_teacher'))}) lr {self.lr:.3g} {self.positions_per_s:.0f} pos/s"
        )


@dataclass
class DistillResult:
    steps: int
    samples: int
    epoch: int
    held_out: dict | None  # the student's held-out figures (held_metrics with the teacher)
    teacher_held_out: dict | None  # the teacher's own (top1, top5, loss, value_mse)
    holdout_positions: int
    student_parameters: int
    teacher_parameters: int
    checkpoint: str | None
    seconds: float
    stopped: str  # max_steps | max_minutes | signal
    komi: float | None
    data: dict  # what was read: files / games / positions / skipped

    def line(self) -> str:
        e, t = self.held_out or {}, self.teacher_held_out or {}
        return (
            f"{self.steps} steps ({self.samples} samples, epoch {self.epoch}); student ({self.student_parameters} "
            f"parameters) held-out: agrees with the teacher {shown(e.get('agree'), '.1f', percent=True)}, top-1 "
            f"{shown(e.get('top1'), '.1f', percent=True)} (teacher {shown(t.get('top1'), '.1f', percent=True)}), "
            f"KL {shown(e.get('kl'))}, value MSE {shown(e.get('value_mse'))} (teacher {shown(t.get('value_mse'))}), "
            f"MSE to the teacher's values {shown(e.get('value_mse_teacher'))} on {self.holdout_positions} positions; "
            f"checkpoint {self.checkpoint}"
        )


# --- the run -----------------------------------------------------------------------------------------------------


def prepare_run_dir(config: DistillConfig) -> None:
    """Write ``config.json``, or check the existing one: its identity (size, student config, teacher, data
    directory) must be the same."""
    keep_config(RunDir(config.run_dir, PREFIX), config, IDENTITY, what="a distillation run")


def _sgf_data(config: DistillConfig, features: str):
    files = find_sgf_files(config.sgf_dir)
    if not files:
        raise DistillRunError(f"no .sgf files under {config.sgf_dir}")
    train_files, held_files = split_files(config.sgf_dir, files, config.holdout)
    if not train_files or not held_files:
        raise DistillRunError(f"{len(files)} SGF files give {len(train_files)} for training and {len(held_files)} "
                              "held out: both are needed (change --holdout or add games)")  # fmt: skip
    stats = LoadStats()
    packed, targets, values, _ = encode_positions(held_files, config.size, config.max_holdout_positions, packed=True,
                                                  stats=stats, features=features)  # fmt: skip
    held = HeldOut(packed, targets, values.astype(np.float32), values != 0)
    komi, counts = corpus_komi(files, config.size)
    if len(counts) > 1:
        log.warning("the games disagree on komi (%s); recording the most common, %g",
                    ", ".join(f"{k:g}: {n}" for k, n in counts.most_common()), komi)  # fmt: skip
    info = {"files": len(files), "train_files": len(train_files), "holdout_files": len(held_files),
            "holdout_games": stats.games, "holdout_skipped": stats.skipped}  # fmt: skip
    return train_files, held, komi, info


def train_distill(
    config: DistillConfig,
    *,
    on_status: Callable[[DistillStatus], None] | None = None,
    stop: threading.Event | None = None,
) -> DistillResult:
    """Distil ``config.teacher`` into the student of ``config`` (or resume the run) until ``max_steps``,
    ``max_minutes``, SIGINT/SIGTERM or ``stop``; a checkpoint is saved at the end. ValueError for mismatched
    networks or a run directory of another identity; DistillRunError when there is nothing to train on or a
    checkpoint cannot be read."""
    from igo.nets.checkpoint import CheckpointError, load_checkpoint
    from igo.nets.models import build_model, parameter_count
    from igo.selfplay.replay import ReplayBuffer

    t0 = time.monotonic()
    run_dir = Path(config.run_dir)
    rd = RunDir(run_dir, PREFIX)
    rd.check_is_run_dir()
    newest = rd.newest()
    start = newest[1] if newest is not None else config.student
    teacher_meta, net_config = check_networks(config, start)
    prepare_run_dir(config)
    planes, size = net_config.input_planes, config.size
    if config.sgf_dir is not None:
        train_files, held, komi, data_info = _sgf_data(config, net_config.feature_set)
        replay = None
    else:
        train, held_r, info = read_replay(config.replay_dir, size, planes, config.holdout, config.max_replay_positions)
        if len(train) == 0 or len(held_r) == 0:
            raise DistillRunError(f"{config.replay_dir}: {len(train)} training and {len(held_r)} held-out positions "
                                  "(both are needed: more games, or change --holdout)")  # fmt: skip
        cap = config.max_holdout_positions
        held = HeldOut(held_r.planes[:cap], held_r.policy[:cap], held_r.value[:cap], np.ones(min(cap, len(held_r)),
                       bool))  # fmt: skip
        replay = ReplayBuffer(size, planes, len(train), seed=config.seed)
        replay.add([{"planes": train.planes, "policy": train.policy, "value": train.value}])
        del train, held_r
        komi, data_info = teacher_meta.komi, {**info, "train_positions": len(replay)}
    if len(held) == 0:
        raise DistillRunError("no held-out positions (all held-out games unusable): add games or change --holdout")
    if config.alpha > 0 and teacher_meta.komi is not None and komi is not None and komi != teacher_meta.komi:
        log.warning("the teacher was trained at komi %g, the data's games at %g: the value targets mix the two",
                    teacher_meta.komi, komi)  # fmt: skip

    device, threads, amp = config.start_device()
    try:
        teacher, _ = load_checkpoint(config.teacher, board_size=size, device=device, expect_kind="zero")
    except (CheckpointError, OSError) as e:
        raise DistillRunError(f"cannot load the teacher: {e}") from None
    teacher.requires_grad_(False)
    teacher_out = forward_all(teacher, held.planes, planes, size, device, amp)
    teacher_eval = held_metrics(*teacher_out, held)
    log.info("teacher %s on %d held-out positions: top-1 %.3f value MSE %s", teacher_meta.config_name, len(held),
             teacher_eval["top1"], shown(teacher_eval["value_mse"]))  # fmt: skip

    torch.manual_seed(config.seed)
    model = build_model(net_config, size).to(device)
    optimizer = config.build_optimizer(model.parameters())
    step = samples = epoch = files_read = 0
    cpu_hours_before = 0.0
    if start is not None:
        meta = load_weights(model, start, size=size, kind="zero", name=config.model, error=DistillRunError,
                            what="resume" if newest else "start")  # fmt: skip
        if newest is not None:
            restore_optimizer(optimizer, start, kind=config.optimizer, step=meta.step)
            step, samples, epoch, files_read, cpu_hours_before = config.resume_counts(meta)
            rd.announce_resume(step, f"{samples} samples", f"epoch {epoch}")
    model.train()

    if replay is None:
        stream = PositionStream(train_files, size, batch_size=config.batch_size, seed=config.seed,
                                shuffle_buffer=config.shuffle_buffer, epoch=epoch,
                                skip_files=files_read if files_read < len(train_files) else 0,
                                features=net_config.feature_set)  # fmt: skip

        def batches():
            for x, y, z in stream:
                yield x, y, z, z != 0
    else:
        stream = None
        rng = np.random.default_rng([config.seed, step, 2])

        def batches():
            while True:
                x, pi, v = replay.sample(config.batch_size, rng)
                yield x, pi, v, np.ones(len(v), bool)

    stop = stop if stop is not None else threading.Event()
    metrics = Metrics(run_dir)
    deadline = config.deadline(t0)
    last_eval: dict | None = None
    eval_step = -1
    ckpt: Path | None = None if newest is None else newest[1]
    ckpt_step = -1 if newest is None else step
    keys = ("loss", "policy_loss", "hard_loss", "kd_loss", "value_loss", "verr", "vn", "top1", "agree", "n", "an")
    window = dict.fromkeys(keys, 0.0) | {"t": time.monotonic()}
    run_loss = run_agree = None
    pps = 0.0
    student_parameters, teacher_parameters = parameter_count(model), parameter_count(teacher)
    metrics.write("teacher", step, **teacher_eval, config=teacher_meta.config_name, parameters=teacher_parameters)

    def do_eval() -> None:
        nonlocal last_eval, eval_step
        last_eval = held_metrics(*forward_all(model, held.planes, planes, size, device, amp), held, teacher_out)
        eval_step = step
        metrics.write("eval", step, samples=samples, **last_eval)
        log.info("step %d: held-out agree %.3f top-1 %.3f KL %.3f value MSE %s", step, last_eval["agree"],
                 last_eval["top1"], last_eval["kl"], shown(last_eval["value_mse"]))  # fmt: skip

    def save() -> Path:
        nonlocal ckpt, ckpt_step
        extra = {
            "trainer": "distill", "samples": samples, "teacher": config.teacher,
            "teacher_config": teacher_meta.config_name, "teacher_step": teacher_meta.step,
            "temperature": config.temperature, "alpha": config.alpha, "value_weight": config.value_weight,
            "data": config.sgf_dir or config.replay_dir, "optimizer": config.optimizer, "lr": config.lr_at(samples),
            "cpu_hours": cpu_hours(cpu_hours_before, t0, threads),
        }  # fmt: skip
        if stream is not None:
            extra.update(epoch=stream.epoch, files_read=stream.files_read)
        if last_eval is not None:
            extra.update({f"holdout_{k}": v for k, v in last_eval.items() if k != "positions"})
        path = save_and_publish(rd, config, step, model, optimizer, PUBLISHED, extra=extra, parent=config.student,
                                komi=komi, rules=RULES)  # fmt: skip
        ckpt, ckpt_step = path, step
        log.info("checkpoint %s", path)
        return path

    with stop_on_signals(stop), metrics:
        if newest is None:  # where the student starts: the first point of the curves
            do_eval()
        it = batches()
        while (stopped := config.stop_reason(step, deadline, stop)) is None:
            try:
                batch, target, z, mask = next(it)
            except ValueError as e:  # a whole SGF epoch without a usable position
                raise DistillRunError(str(e)) from None
            lr = config.set_lr(optimizer, samples)
            x = torch.from_numpy(batch).to(device, non_blocking=True).float()
            y = torch.from_numpy(target).to(device, non_blocking=True)
            zt = torch.from_numpy(z).to(device, non_blocking=True)
            mt = torch.from_numpy(mask).to(device, non_blocking=True)
            t_logits = t_value = None
            if config.alpha > 0:
                with torch.no_grad(), torch.autocast("cuda", dtype=torch.bfloat16, enabled=amp):
                    t_logits, t_value = teacher(x)
            with torch.autocast("cuda", dtype=torch.bfloat16, enabled=amp):
                out = model(x)
            logits, value = out[0].float(), out[1].float()
            loss, parts = distill_loss(logits, value, y, zt, mt, t_logits, t_value, temperature=config.temperature,
                                       alpha=config.alpha, value_weight=config.value_weight)  # fmt: skip
            optimize(optimizer, loss)
            step += 1
            b = len(z)
            samples += b
            with torch.no_grad():
                top = logits.detach().argmax(dim=1)
                hard = y if y.dim() == 1 else y.argmax(dim=1)
                window["top1"] += float((top == hard).sum())
                if t_logits is not None:
                    window["agree"] += float((top == t_logits.argmax(dim=1)).sum())
                    window["an"] += b
                    window["kd_loss"] += float(parts["kd_loss"]) * b
            for k in ("policy_loss", "hard_loss", "value_loss"):
                window[k] += float(parts[k]) * b
            window["loss"] += float(loss.detach()) * b
            window["verr"] += float(parts["value_err"])
            window["vn"] += float(parts["value_n"])
            window["n"] += b
            n = window["n"]
            run_loss = window["loss"] / n
            run_agree = window["agree"] / window["an"] if window["an"] else run_agree
            pps = n / max(time.monotonic() - window["t"], 1e-9)
            if step % config.log_every == 0:
                row = {k: window[k] / n for k in ("loss", "policy_loss", "hard_loss", "value_loss", "top1")}
                row.update(value_mse=window["verr"] / window["vn"] if window["vn"] else None,
                           agree=window["agree"] / window["an"] if window["an"] else None,
                           kd_loss=window["kd_loss"] / window["an"] if window["an"] else None)  # fmt: skip
                metrics.write("train", step, **row, lr=lr, positions_per_s=pps, samples=samples,
                              epoch=stream.epoch if stream is not None else 0)  # fmt: skip
                window = dict.fromkeys(keys, 0.0) | {"t": time.monotonic()}
            if step % config.eval_every == 0:
                do_eval()
            if step % config.checkpoint_every == 0:
                save()
            if on_status is not None:
                on_status(DistillStatus(step, samples, stream.epoch if stream is not None else 0, run_loss, run_agree,
                                        lr, pps, time.monotonic() - t0, config.max_steps, last_eval))  # fmt: skip
        finish(rd, PUBLISHED, step, eval_step=eval_step, do_eval=do_eval, ckpt_step=ckpt_step, save=save, ckpt=ckpt)
    if stream is not None:
        data_info.update(positions_read=stream.stats.positions, games_read=stream.stats.games,
                         skipped=len(stream.skipped_files) + data_info["holdout_skipped"])  # fmt: skip
    return DistillResult(
        steps=step,
        samples=samples,
        epoch=stream.epoch if stream is not None else 0,
        held_out=last_eval,
        teacher_held_out=teacher_eval,
        holdout_positions=len(held),
        student_parameters=student_parameters,
        teacher_parameters=teacher_parameters,
        checkpoint=None if ckpt is None else str(ckpt),
        seconds=time.monotonic() - t0,
        stopped=stopped,
        komi=komi,
        data=data_info,
    )


__all__ = [
    "DEFAULT_ALPHA",
    "DEFAULT_TEMPERATURE",
    "DEFAULT_VALUE_WEIGHT",
    "PREFIX",
    "PUBLISHED",
    "DistillConfig",
    "DistillResult",
    "DistillRunError",
    "DistillStatus",
    "check_networks",
    "distill_loss",
    "hard_policy_loss",
    "held_metrics",
    "prepare_run_dir",
    "soft_kl",
    "train_distill",
]
