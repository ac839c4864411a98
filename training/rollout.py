"""Training AlphaGo's fast rollout policy (or its tree policy) from expert game records: ``igo train rollout``.

The policy (:class:`igo.nets.rollout.RolloutPolicy`) is a linear softmax over the binary pattern features of
:mod:`igo.engine.patterns`; training maximises the likelihood of the expert's move among the *candidates* of each
position (:func:`igo.engine.rollout.fill_candidates`: the legal points under simple ko that are not the mover's own
single-point eyes). A position whose expert move is not a candidate (filling an own eye, ...) cannot be learned and is
skipped and counted.

Data. Feature extraction is a Numba kernel called once per position from Python, so the corpus is read once into flat
arrays (:class:`PositionSet`, CSR style: positions -> candidates -> feature indices) and the epochs draw batches from
them; the held-out games (:func:`igo.training.sgf_data.split_files`, a stable hash of each file's relative path) are
extracted the same way.

Run directory::

    RUN/config.json                   the settings (size and policy kind are fixed for a run)
    RUN/rollout.safetensors           the final weights (RUN/tree.safetensors for the tree policy): an igo checkpoint
                                      of the ``rollout`` / ``tree`` config, for ``igo gtp --rollout-policy``
    RUN/checkpoints/step-NNNNNNNN.safetensors   thinned (:class:`igo.training.run.Retention`); .optim.safetensors
                                      beside the newest, for resuming
    RUN/metrics.jsonl, RUN/tb/        train loss / accuracy, held-out accuracy and log-likelihood, data and speed rows

Rerunning resumes (and says so on stderr) from the newest checkpoint with its optimizer state (more epochs or steps
train further).
Metrics: held-out top-1 accuracy counts a position as ``1/k`` when the expert move is one of ``k`` candidates tied
for the largest logit (so the zero-weight, uniform policy scores the mean of ``1/candidates``), and the mean
log-likelihood of the expert move. :func:`rollout_speed` measures what the weights cost in the playout kernels.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from igo.engine import board_kernels as K
from igo.engine import rollout as R
from igo.engine.coords import rc_to_padded
from igo.engine.cores import core_budget
from igo.engine.errors import SGFError
from igo.engine.patterns import MAX_FEATURES
from igo.engine.rng import make_rng
from igo.nets.checkpoint import CheckpointError, load_checkpoint
from igo.nets.config import get_config
from igo.nets.models import build_model

from .common import OPTIMIZERS, Metrics, build_optimizer, save_with_optimizer
from .run import ConfigDict, Retention, RunDir, RunError, check_settings, restore_optimizer, shown

log = logging.getLogger(__name__)

TRAINER = "rollout"
PREFIX = "step"  # checkpoints/step-<step>.safetensors
IDENTITY = ("size", "tree")
SPEED_POSITIONS = 64  # held-out positions kept for the speed figure


@dataclass
class RolloutTrainConfig(Retention, ConfigDict):
    """Settings of ``igo train rollout``. ``tree``: train the tree policy (config ``tree``) instead of the fast
    rollout policy (config ``rollout``). Training stops after ``epochs`` passes over the training positions, or
    earlier at ``max_steps`` batches (counted over the whole run, resumes included) or ``max_minutes``."""

    sgf: str
    run_dir: str
    size: int = 9
    tree: bool = False
    holdout: float = 0.05
    epochs: int = 5
    max_steps: int | None = None
    max_minutes: float | None = None
    batch_size: int = 256
    optimizer: str = "adamw"
    lr: float = 0.02
    weight_decay: float = 0.0
    momentum: float = 0.9
    seed: int = 0
    threads: int | None = None  # torch threads, --nn-threads (None: the cores this process may use, core_budget())
    max_games: int | None = None  # read at most this many training games (a quick look at a large corpus)
    checkpoint_every: int = 1000
    log_every: int = 50
    speed_seconds: float = 1.0  # per measurement of rollout_speed (0: no speed figure)

    SETTINGS = "rollout training setting(s)"

    def __post_init__(self) -> None:
        if not str(self.sgf).strip():
            raise ValueError("--sgf: give the directory of SGF game records")
        if not str(self.run_dir).strip():
            raise ValueError("--run-dir: give the run directory")
        _int_in("size", self.size, 2, 25)
        if not isinstance(self.tree, bool):
            raise ValueError(f"tree must be a bool, got {self.tree!r}")
        if not isinstance(self.holdout, int | float) or not 0.0 <= self.holdout < 1.0:
            raise ValueError(f"--holdout must be in [0, 1), got {self.holdout!r}")
        _int_in("epochs", self.epochs, 1)
        if self.max_steps is not None:
            _int_in("max_steps", self.max_steps, 1)
        if self.max_minutes is not None and not (
            isinstance(self.max_minutes, int | float) and math.isfinite(self.max_minutes) and self.max_minutes > 0
        ):
            raise ValueError(f"--max-minutes must be positive, got {self.max_minutes!r}")
        _int_in("batch_size", self.batch_size, 1)
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"--optimizer must be one of {', '.join(OPTIMIZERS)}, got {self.optimizer!r}")
        for name in ("lr", "weight_decay", "momentum", "speed_seconds"):
            v = getattr(self, name)
            if not isinstance(v, int | float) or not math.isfinite(v) or v < 0:
                raise ValueError(f"{name} must be a finite number >= 0, got {v!r}")
        if self.lr <= 0:
            raise ValueError(f"--lr must be positive, got {self.lr}")
        _int_in("seed", self.seed, 0)
        if self.threads is not None:
            _int_in("threads", self.threads, 1)
        if self.max_games is not None:
            _int_in("max_games", self.max_games, 1)
        _int_in("checkpoint_every", self.checkpoint_every, 1)
        check_settings(self.retention_checks())
        _int_in("log_every", self.log_every, 1)

    @property
    def config_name(self) -> str:
        return "tree" if self.tree else "rollout"

    @property
    def output(self) -> Path:
        """The final checkpoint: ``RUN/rollout.safetensors`` or ``RUN/tree.safetensors``."""
        return Path(self.run_dir) / f"{self.config_name}.safetensors"


def _int_in(name: str, value, lo: int, hi: int | None = None) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < lo or (hi is not None and value > hi):
        bounds = f">= {lo}" if hi is None else f"in {lo}..{hi}"
        raise ValueError(f"{name} must be an integer {bounds}, got {value!r}")


# --- data -------------------------------------------------------------------------------------------------------------


@dataclass
class PositionSet:
    """Positions of expert games as flat arrays. Position ``i`` has the candidates ``pos_start[i] ..
    pos_start[i+1]-1`` (padded board indices in ``cand_move``), the expert's among them at ``target[i]`` (relative
    to the position's first); candidate ``c`` has the feature indices ``feats[cand_start[c] : cand_start[c+1]]``."""

    size: int
    tree: bool
    pos_start: np.ndarray  # int64[N + 1]
    target: np.ndarray  # int32[N]
    cand_start: np.ndarray  # int64[C + 1]
    cand_move: np.ndarray  # int16[C]
    feats: np.ndarray  # int32[F]
    games: int = 0
    files: int = 0
    skipped: dict[str, int] = field(default_factory=dict)  # positions ("not_candidate") and games (skip reasons)
    seconds: float = 0.0  # extraction time
    boards: list = field(default_factory=list)  # a few BoardState copies (for rollout_speed)

    def __len__(self) -> int:
        return len(self.target)

    @property
    def candidates(self) -> int:
        return len(self.cand_move)

    @property
    def positions_per_second(self) -> float:
        return len(self) / self.seconds if self.seconds > 0 else 0.0

    def candidate_moves(self, i: int) -> np.ndarray:
        return self.cand_move[self.pos_start[i] : self.pos_start[i + 1]].astype(np.int64)

    def summary(self) -> dict[str, Any]:
        return {
            "files": self.files,
            "games": self.games,
            "positions": len(self),
            "candidates_per_position": self.candidates / max(1, len(self)),
            "skipped": dict(self.skipped),
            "seconds": round(self.seconds, 3),
            "positions_per_second": round(self.positions_per_second, 1),
        }

    def batch(self, idx: np.ndarray) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The positions ``idx`` as the inputs of :meth:`igo.nets.rollout.RolloutPolicy.forward`: feature indices int64
        ``[B, M, K]`` padded with -1 (``M``, ``K``: the most candidates / features in this batch), the candidate
        mask ``[B, M]`` and the targets int64 ``[B]``."""
        idx = np.asarray(idx, np.int64)
        starts = self.pos_start[idx]
        counts = self.pos_start[idx + 1] - starts
        b = len(idx)
        m = int(counts.max()) if b else 0
        cands = _ragged_arange(starts, counts)  # candidate ids, position by position
        row = np.repeat(np.arange(b), counts)
        slot = cands - np.repeat(starts, counts)
        fstart = self.cand_start[cands]
        fcount = self.cand_start[cands + 1] - fstart
        k = max(1, int(fcount.max()) if len(fcount) else 1)
        fidx = _ragged_arange(fstart, fcount)
        frow = np.repeat(row, fcount)
        fslot = np.repeat(slot, fcount)
        fcol = fidx - np.repeat(fstart, fcount)
        index = np.full((b, m, k), -1, np.int64)
        index[frow, fslot, fcol] = self.feats[fidx]
        mask = np.zeros((b, m), bool)
        mask[row, slot] = True
        return torch.from_numpy(index), torch.from_numpy(mask), torch.from_numpy(self.target[idx].astype(np.int64))


def _ragged_arange(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """``concatenate([arange(s, s + c) for s, c in zip(starts, counts)])`` without the loop."""
    total = int(counts.sum())
    if total == 0:
        return np.zeros(0, np.int64)
    ends = np.cumsum(counts)
    out = np.ones(total, np.int64)
    nz = counts > 0
    s, c, e = starts[nz], counts[nz], ends[nz]
    out[0] = s[0]
    # at each segment's first element, jump from the previous segment's last value to this start
    out[e[:-1]] = s[1:] - (s[:-1] + c[:-1] - 1)
    return np.cumsum(out)


class _Builder:
    """Appends positions to growing arrays (numpy chunks) and makes a :class:`PositionSet`."""

    def __init__(self, size: int, tree: bool, keep_boards: int = 0):
        self.size, self.tree = size, tree
        p = (size + 2) * (size + 2)
        self.moves = np.zeros(p, np.int64)
        self.index = np.full((p, MAX_FEATURES), -1, np.int64)
        self.targets: list[int] = []
        self.counts: list[int] = []
        self.cand_moves: list[np.ndarray] = []
        self.feat_counts: list[np.ndarray] = []
        self.feats: list[np.ndarray] = []
        self.skipped: Counter = Counter()
        self.games = 0
        self.files = 0
        self.keep_boards = keep_boards
        self.boards: list = []
        self._seen = 0

    def add(self, board, point: tuple[int, int]) -> bool:
        """Extract the position before the expert's move ``point``; False (and counted) when it is no candidate."""
        s = board.state
        m = R.fill_candidates(s, self.tree, self.moves, self.index)
        expert = rc_to_padded(point[0], point[1], self.size)
        hits = np.flatnonzero(self.moves[:m] == expert)
        if len(hits) == 0:
            self.skipped["not_candidate"] += 1
            return False
        index = self.index[:m]
        active = index >= 0
        self.targets.append(int(hits[0]))
        self.counts.append(m)
        self.cand_moves.append(self.moves[:m].astype(np.int16))
        self.feat_counts.append(active.sum(axis=1))
        self.feats.append(index[active].astype(np.int32))  # row-major: candidate by candidate, in feature order
        self._seen += 1
        if len(self.boards) < self.keep_boards and self._seen % 7 == 1:
            self.boards.append(K.copy_state(s, history=False))
        return True

    def build(self, seconds: float) -> PositionSet:
        counts = np.asarray(self.counts, np.int64)
        fc = np.concatenate(self.feat_counts) if self.feat_counts else np.zeros(0, np.int64)
        return PositionSet(
            size=self.size,
            tree=self.tree,
            pos_start=np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
            target=np.asarray(self.targets, np.int32),
            cand_start=np.concatenate([[0], np.cumsum(fc)]).astype(np.int64),
            cand_move=np.concatenate(self.cand_moves) if self.cand_moves else np.zeros(0, np.int16),
            feats=np.concatenate(self.feats) if self.feats else np.zeros(0, np.int32),
            games=self.games,
            files=self.files,
            skipped=dict(self.skipped),
            seconds=seconds,
            boards=self.boards,
        )


def extract_positions(
    files: Iterable[str | Path],
    size: int,
    tree: bool = False,
    *,
    keep_boards: int = 0,
    on_file: Callable[[int], None] | None = None,
) -> PositionSet:
    """Read the games in ``files`` (of board size ``size``; others are skipped and counted by reason) and extract every
    position before a move: candidates, their features and the expert move's place. ``keep_boards``: also keep up to
    that many positions (``BoardState`` copies) for :func:`rollout_speed`. ``on_file(i)`` after each file."""
    from igo.engine.sgf import iter_positions

    from .sgf_data import load_game

    t0 = time.perf_counter()
    b = _Builder(size, tree, keep_boards)
    for i, path in enumerate(files):
        b.files += 1
        record, reason = load_game(Path(path), size=size)
        if record is None:
            b.skipped[f"game: {reason}"] += 1
        else:
            b.games += 1
            try:
                for board, _colour, point in iter_positions(record):
                    b.add(board, point)
            except SGFError as e:  # load_game replayed it already: only a bug gets here; keep what was read
                b.skipped["game: illegal move"] += 1
                log.warning("stopped reading %s: %s", path, e)
        if on_file is not None:
            on_file(i + 1)
    return b.build(time.perf_counter() - t0)


# --- evaluation -------------------------------------------------------------------------------------------------------


@torch.no_grad()
def evaluate(model, data: PositionSet, batch_size: int = 1024) -> dict[str, float] | None:
    """Held-out figures of ``model`` on ``data``: top-1 ``accuracy`` (ties at the largest logit share the credit)
    and the mean ``log_likelihood`` of the expert move; None without positions."""
    n = len(data)
    if n == 0:
        return None
    was_training = model.training
    model.eval()
    acc = 0.0
    ll = 0.0
    for lo in range(0, n, batch_size):
        index, mask, target = data.batch(np.arange(lo, min(n, lo + batch_size)))
        logits = model(index, mask)
        logp = torch.log_softmax(logits, dim=-1)
        ll += float(logp.gather(1, target[:, None]).sum())
        best = logits.max(dim=1, keepdim=True).values
        ties = (logits == best) & mask
        hit = ties.gather(1, target[:, None])[:, 0]
        acc += float((hit.float() / ties.sum(dim=1).float()).sum())
    model.train(was_training)
    return {"accuracy": acc / n, "log_likelihood": ll / n, "positions": n}


def uniform_baseline(data: PositionSet) -> dict[str, float] | None:
    """The figures of :func:`evaluate` for all-zero weights (uniform over the candidates)."""
    n = len(data)
    if n == 0:
        return None
    counts = np.diff(data.pos_start).astype(np.float64)
    return {"accuracy": float(np.mean(1.0 / counts)), "log_likelihood": float(-np.mean(np.log(counts))), "positions": n}


# --- speed ------------------------------------------------------------------------------------------------------------


def rollout_speed(
    weights: np.ndarray,
    size: int,
    positions: Iterable,
    *,
    seconds: float = 1.0,
    tree: bool = False,
    seed: int = 0,
) -> dict[str, float]:
    """What ``weights`` cost in the kernels of :mod:`igo.engine.rollout`, one thread: ``us_per_move`` of full policy
    playouts (incremental, :func:`igo.engine.rollout.run_policy_playouts`) from ``positions`` (``Board`` or
    ``BoardState`` objects, cycled) until ``seconds`` have passed, the same with all-zero weights
    (``us_per_move_uniform``), and ``us_per_policy_move``: one :func:`igo.engine.rollout.policy_move` from scratch
    (every candidate's features). Playouts are measured for the rollout policy only (``tree=False``)."""
    states = [getattr(p, "state", p) for p in positions]
    if not states:
        raise ValueError("rollout_speed needs at least one position")
    weights = np.ascontiguousarray(weights, np.float32)
    rng = make_rng(seed)
    work = R.new_work(size)
    scratch = K.new_state(size, K.KO_SIMPLE)
    max_moves = 3 * size * size
    out: dict[str, float] = {"positions": len(states), "seconds": seconds}

    def playouts(w: np.ndarray) -> tuple[float, int]:
        R.run_policy_playouts(states[0], scratch, rng, 1, max_moves, w, work)  # compiled before the clock starts
        moves = 0
        t0 = time.perf_counter()
        i = 0
        while True:
            _, m, _ = R.run_policy_playouts(states[i % len(states)], scratch, rng, 4, max_moves, w, work)
            moves += m
            i += 1
            dt = time.perf_counter() - t0
            if dt >= seconds:
                return 1e6 * dt / max(1, moves), moves

    if not tree:
        out["us_per_move"], out["playout_moves"] = playouts(weights)
        out["us_per_move_uniform"], _ = playouts(np.zeros_like(weights))
    for s in states:
        R.policy_move(s, rng, weights, tree, work)
    calls = 0
    t0 = time.perf_counter()
    while True:
        for s in states:
            R.policy_move(s, rng, weights, tree, work)
        calls += len(states)
        dt = time.perf_counter() - t0
        if dt >= seconds / 2:
            break
    out["us_per_policy_move"] = 1e6 * dt / calls
    return {k: (round(v, 3) if isinstance(v, float) else v) for k, v in out.items()}


# --- training ---------------------------------------------------------------------------------------------------------


@dataclass
class RolloutStatus:
    """Progress for the command's display."""

    phase: str  # "extract", "train", "done"
    elapsed: float
    step: int = 0
    total_steps: int = 0
    epoch: int = 0
    files_done: int = 0
    files_total: int = 0
    loss: float | None = None
    accuracy: float | None = None
    held_out_accuracy: float | None = None

    def line(self) -> str:
        if self.phase == "extract":
            return f"reading games {self.files_done}/{self.files_total}"
        held = shown(self.held_out_accuracy)
        if self.phase == "done":
            return f"done: step {self.step}, held-out accuracy {held}"
        return (f"step {self.step}/{self.total_steps} epoch {self.epoch} loss {shown(self.loss)} train acc "
                f"{shown(self.accuracy)} held-out acc {held}")  # fmt: skip


@dataclass
class RolloutResult:
    checkpoint: str
    config: str
    step: int
    epochs_done: float
    stopped: str  # "epochs", "max_steps", "max_minutes"
    train: dict[str, Any]
    held_out: dict[str, Any]
    trained: dict[str, float] | None
    uniform: dict[str, float] | None
    speed: dict[str, float] | None
    resumed_from: str | None = None
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _prepare_run_dir(config: RolloutTrainConfig) -> None:
    rd = RunDir(config.run_dir, PREFIX)
    stored = rd.read_config(error=RunError)
    if stored is not None:
        rd.check_unchanged(stored, config.to_dict(), IDENTITY, what="a rollout run", error=RunError)
    rd.check_is_run_dir(marks=("metrics.jsonl",))
    rd.write_config(config.to_dict())


def train_rollout(
    config: RolloutTrainConfig,
    *,
    on_status: Callable[[RolloutStatus], None] | None = None,
    status_every: float = 5.0,
) -> RolloutResult:
    """Extract the corpus, train (or resume), evaluate, measure speed, save; see the module docstring."""
    from .sgf_data import find_sgf_files, split_files

    t_start = time.perf_counter()
    deadline = None if config.max_minutes is None else t_start + 60.0 * config.max_minutes
    root = Path(config.sgf)
    if not root.is_dir():
        raise RunError(f"--sgf {root} is not a directory")
    files = find_sgf_files(root)
    if not files:
        raise RunError(f"no SGF files under {root}")
    _prepare_run_dir(config)
    torch.set_num_threads(config.threads or core_budget())
    torch.manual_seed(config.seed)

    train_files, held_files = split_files(root, files, config.holdout)
    if config.max_games is not None:
        train_files = train_files[: config.max_games]
        held_files = held_files[: max(1, math.ceil(config.max_games * config.holdout))] if held_files else []
    if config.holdout > 0 and not held_files:
        log.warning("no held-out games (%d files, --holdout %g): no held-out figures", len(files), config.holdout)

    def notify(st: RolloutStatus) -> None:
        if on_status is not None:
            on_status(st)

    last_note = [0.0]
    total_files = len(train_files) + len(held_files)

    def on_file(done: int, offset: int = 0) -> None:
        now = time.perf_counter()
        if now - last_note[0] >= status_every or done + offset == total_files:
            last_note[0] = now
            notify(RolloutStatus("extract", now - t_start, files_done=done + offset, files_total=total_files))

    train = extract_positions(train_files, config.size, config.tree, on_file=on_file)
    held = extract_positions(
        held_files,
        config.size,
        config.tree,
        keep_boards=SPEED_POSITIONS,
        on_file=lambda d: on_file(d, len(train_files)),
    )
    if len(train) == 0:
        raise RunError(f"no training positions in {len(train_files)} files under {root} (skipped: {train.skipped})")
    log.info(
        "extracted %d training positions from %d games (%.0f positions/s), %d held-out positions from %d games",
        len(train),
        train.games,
        train.positions_per_second,
        len(held),
        held.games,
    )

    run_dir = Path(config.run_dir)
    metrics = Metrics(run_dir)
    try:
        return _train(config, train, held, metrics, t_start, deadline, notify, status_every, root)
    finally:
        metrics.close()


def _train(config, train, held, metrics, t_start, deadline, notify, status_every, root) -> RolloutResult:
    run_dir = Path(config.run_dir)
    model = build_model(get_config(config.config_name), config.size)
    params = [model.weight]
    optimizer = build_optimizer(
        params, config.optimizer, config.lr, momentum=config.momentum, weight_decay=config.weight_decay
    )
    step = 0
    resumed_from = None
    found = RunDir(run_dir, PREFIX).newest()
    if found is not None:
        newest = found[1]
        try:
            loaded, meta = load_checkpoint(newest, expect_kind="rollout", board_size=config.size)
        except CheckpointError as e:
            raise RunError(f"cannot resume from {newest}: {e}") from None
        if meta.config_name != config.config_name:
            raise RunError(f"{newest} holds the {meta.config_name} policy, this run trains {config.config_name}")
        model.load_numpy(loaded.to_numpy())
        step = meta.step
        resumed_from = str(newest)
        restore_optimizer(optimizer, newest, kind=config.optimizer, step=step)
        RunDir(run_dir, PREFIX).announce_resume(step)

    uniform = uniform_baseline(held)
    metrics.write(
        "data",
        step,
        train=train.summary(),
        held_out=held.summary(),
        uniform_accuracy=None if uniform is None else uniform["accuracy"],
        uniform_log_likelihood=None if uniform is None else uniform["log_likelihood"],
        corpus=str(root),
    )

    n = len(train)
    bs = min(config.batch_size, n)
    steps_per_epoch = math.ceil(n / bs)
    total = config.epochs * steps_per_epoch
    if config.max_steps is not None:
        total = min(total, config.max_steps)
    stopped = "max_steps" if config.max_steps is not None and total == config.max_steps else "epochs"
    model.train()
    last_status = 0.0
    run_loss = run_acc = None
    held_acc = None
    perm_epoch = -1
    perm = None
    while step < total:
        if deadline is not None and time.perf_counter() >= deadline:
            stopped = "max_minutes"
            break
        epoch, k = divmod(step, steps_per_epoch)
        if epoch != perm_epoch:  # the same order for an epoch when resumed in its middle
            perm = np.random.default_rng([config.seed, epoch]).permutation(n)
            perm_epoch = epoch
        idx = perm[k * bs : (k + 1) * bs]
        index, mask, target = train.batch(idx)
        logits = model(index, mask)
        loss = torch.nn.functional.cross_entropy(logits, target)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        step += 1
        with torch.no_grad():
            acc = float((logits.argmax(dim=1) == target).float().mean())
        lv = loss.item()
        run_loss = lv if run_loss is None else 0.95 * run_loss + 0.05 * lv
        run_acc = acc if run_acc is None else 0.95 * run_acc + 0.05 * acc
        if step % config.log_every == 0 or step == total:
            metrics.write("train", step, loss=lv, accuracy=acc, epoch=step / steps_per_epoch)
        end_of_epoch = step % steps_per_epoch == 0
        if end_of_epoch and step < total:
            ev = evaluate(model, held)
            if ev is not None:
                held_acc = ev["accuracy"]
                metrics.write("eval", step, **ev, epoch=step / steps_per_epoch)
        if step % config.checkpoint_every == 0 and step < total:
            _save_step(config, model, optimizer, step, {"trainer": TRAINER, "corpus": str(root)})
        now = time.perf_counter()
        if now - last_status >= status_every or step == total:
            last_status = now
            notify(
                RolloutStatus(
                    "train",
                    now - t_start,
                    step,
                    total,
                    epoch + 1,
                    loss=run_loss,
                    accuracy=run_acc,
                    held_out_accuracy=held_acc,
                )  # fmt: skip
            )

    trained = evaluate(model, held)
    if trained is not None:
        metrics.write("eval", step, **trained, epoch=step / steps_per_epoch)
    speed = None
    if config.speed_seconds > 0 and held.boards:
        speed = rollout_speed(
            model.to_numpy(), config.size, held.boards, seconds=config.speed_seconds, tree=config.tree,
            seed=config.seed,
        )  # fmt: skip
        metrics.write("speed", step, **speed)
    extra = {
        "trainer": TRAINER,
        "policy": config.config_name,
        "corpus": str(root),
        "games": train.games,
        "positions": len(train),
        "skipped": train.skipped,
        "held_out_games": held.games,
        "held_out_positions": len(held),
        "held_out_accuracy": None if trained is None else trained["accuracy"],
        "held_out_log_likelihood": None if trained is None else trained["log_likelihood"],
        "uniform_accuracy": None if uniform is None else uniform["accuracy"],
        "uniform_log_likelihood": None if uniform is None else uniform["log_likelihood"],
        "epochs": step / steps_per_epoch,
        "speed": speed,
    }
    _save_step(config, model, optimizer, step, extra)
    out = save_with_optimizer(config.output, model, None, kind=config.optimizer, step=step, extra=extra)
    seconds = time.perf_counter() - t_start
    notify(
        RolloutStatus(
            "done",
            seconds,
            step,
            total,
            math.ceil(step / steps_per_epoch),
            loss=run_loss,
            accuracy=run_acc,
            held_out_accuracy=None if trained is None else trained["accuracy"],
        )  # fmt: skip
    )
    return RolloutResult(
        checkpoint=str(out),
        config=config.config_name,
        step=step,
        epochs_done=step / steps_per_epoch,
        stopped=stopped,
        train=train.summary(),
        held_out=held.summary(),
        trained=trained,
        uniform=uniform,
        speed=speed,
        resumed_from=resumed_from,
        seconds=seconds,
    )


def _save_step(config: RolloutTrainConfig, model, optimizer, step: int, extra: dict) -> Path:
    rd = RunDir(config.run_dir, PREFIX)
    path = rd.checkpoint(step)
    save_with_optimizer(path, model, optimizer, kind=config.optimizer, step=step, extra=extra)
    config.thin(rd, config.checkpoint_every, step)
    return path


__all__ = [
    "PositionSet",
    "RolloutResult",
    "RolloutStatus",
    "RolloutTrainConfig",
    "evaluate",
    "extract_positions",
    "rollout_speed",
    "train_rollout",
    "uniform_baseline",
]
