"""AlphaGo's (2016) value network: its training data, generated as in the paper, and MSE regression on it.

From Silver et al. 2016, "Methods: reinforcement learning of value networks": successive positions of one game are
strongly correlated (they differ by one stone and share the outcome), so a value net regressed on whole games
memorises outcomes instead of generalising. The paper therefore takes **one position per game**, from 30 million
distinct games, each played so:

1. draw ``U ~ uniform{1, ..., 450}``;
2. moves ``1 .. U-1`` from the SL policy (sampled);
3. move ``U`` uniformly at random among the legal moves;
4. the RL policy plays both colours from move ``U+1`` to the end of the game;
5. keep only the position ``s_{U+1}`` (right after the random move) with the game's outcome ``z`` from the view of
   the player to move there.

The value net ``v(s)`` is trained by SGD on the mean squared error ``(z - v(s))^2`` (paper: MSE 0.226 on the
training set, 0.234 on the test set).

:func:`generate_value_data` plays these games on Ray (:class:`igo.selfplay.policy_games.PolicyGameWorker` actors, many
games in lock step per actor call) and writes ``run_dir/data/chunk-XXXXXX.npz``: per kept game the ``alphago49``
planes (bit-packed ``uint8``), ``z`` (float32, for the player to move), ``u``, ``to_move``, the game's length and
index; per chunk also the indices of the games *discarded* because they ended before move ``U``. The driver draws
every game's ``U`` from one seeded generator (:func:`draw_u`: game ``i`` always gets the same ``U``), so rerunning
resumes: the games whose index no chunk covers are played, nothing else. :func:`load_value_data` reads the chunks
back (never unpickling; a torn or foreign chunk is skipped with a warning).

:func:`train_value` regresses a ``lee-value-*`` net on them: a hold-out split (each position is from a distinct
game, so a random split of positions is a split by game; the split is a fixed function of the seed and the game
index, so it does not move when more games are generated), random dihedral symmetries as augmentation, metrics
(train MSE per epoch, held-out MSE) to ``metrics.jsonl`` and TensorBoard, checkpoints
``run_dir/checkpoints/value-<step>.safetensors`` with their optimizer state (rerunning resumes from the newest), and
``run_dir/value.safetensors`` at the end, for ``igo gtp --value-model``.
"""

from __future__ import annotations

import io
import logging
import math
import os
import re
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from igo.engine.cores import core_budget
from igo.engine.fileio import atomic_write
from igo.engine.planes import pack_planes, packed_width, unpack_planes

from .run import ConfigDict, Retention, RunDir, check_settings, restore_optimizer, shown

log = logging.getLogger(__name__)

VALUE_PLANES = 49
CHUNK_RE = re.compile(r"^chunk-(\d{6,})\.npz$")
PREFIX = "value"  # checkpoints/value-<step>.safetensors, the step not padded
DIGITS = 1
DATA_IDENTITY = ("size", "komi", "max_u", "seed")


def default_komi(size: int) -> float:
    """7 on boards up to 9x9 (a fair komi for small boards under area scoring), 7.5 above."""
    return 7.0 if size <= 9 else 7.5


# --- data generation ------------------------------------------------------------------------------------------------


@dataclass
class ValueDataConfig(ConfigDict):
    """How the value data of a run is generated.

    ``sl`` and ``rl`` are ``lee-policy`` checkpoints of the same board size (the RL one may be the SL one when no RL
    net has been trained yet). ``games`` is the number of games to play (each keeps at most one position).

    ``max_u`` bounds the move ``U`` at which the random move is played (default ``N*N``, 81 on 9x9). The paper's
    450 is for 19x19, where games last 200+ moves, so that ``U`` covers the whole game; our policies play until only
    eyes are left (they never pass while a sensible move remains), so games last longer than ``N*N`` moves and
    ``U <= N*N`` almost always falls inside the game: positions from the opening, middle game and end game alike.
    A game that ends before move ``U`` keeps nothing and is counted as discarded.

    ``actors`` Ray actors (default: the Ray cluster's CPUs) each play ``games_per_call`` games in lock step per call
    (their network evaluations batched) with ``threads`` torch threads. ``move_limit`` ends a game (scored as it
    stands; default ``3*N*N``). ``komi`` defaults to :func:`default_komi`.
    """

    sl: str
    rl: str
    games: int
    komi: float | None = None
    max_u: int | None = None
    temperature: float = 1.0
    seed: int = 0
    actors: int | None = None
    games_per_call: int = 64
    threads: int = 1
    move_limit: int | None = None
    size: int = field(default=0, init=False)
    sl_config: str = field(default="", init=False)
    rl_config: str = field(default="", init=False)

    def __post_init__(self) -> None:
        from igo.nets.checkpoint import read_metadata

        metas = {}
        for which in ("sl", "rl"):
            path = getattr(self, which)
            if not path:
                raise ValueError(f"the {which.upper()} policy checkpoint is required")
            meta = read_metadata(path)  # CheckpointError (a ValueError) naming the file
            if meta.kind != "lee-policy":
                raise ValueError(f"{which.upper()} checkpoint {path} holds a {meta.kind} net ({meta.config_name}); "
                                 "value data needs lee-policy nets")  # fmt: skip
            metas[which] = meta
        sl, rl = metas["sl"], metas["rl"]
        if sl.board_size != rl.board_size:
            raise ValueError(
                f"the SL policy {self.sl} is for {sl.board_size}x{sl.board_size} but the RL policy {self.rl} is for "
                f"{rl.board_size}x{rl.board_size}: both must be for the same board"
            )
        self.size = sl.board_size
        self.sl_config, self.rl_config = sl.config_name, rl.config_name
        if self.komi is None:
            self.komi = default_komi(self.size)
        if self.max_u is None:
            self.max_u = self.size * self.size
        check_settings([
            (isinstance(self.games, int) and self.games >= 0, "games must be >= 0"),
            (math.isfinite(self.komi), "komi must be finite"),
            (isinstance(self.max_u, int) and self.max_u >= 1, "max_u must be >= 1"),
            (self.max_u < 2**15, "max_u must be < 32768"),
            (math.isfinite(self.temperature) and self.temperature >= 0, "temperature must be >= 0"),
            (self.actors is None or self.actors >= 1, "actors must be >= 1"),
            (self.games_per_call >= 1, "games_per_call must be >= 1"),
            (self.threads >= 1, "threads must be >= 1"),
            (self.move_limit is None or self.move_limit >= 1, "move_limit must be >= 1"),
        ])  # fmt: skip
        self.komi = float(self.komi)


def draw_u(seed: int, max_u: int, count: int) -> np.ndarray:
    """``U`` of games ``0 .. count-1``: uniform on ``1 .. max_u``, from one generator seeded by ``seed`` (so the
    first ``k`` values do not depend on ``count``: game ``i`` always gets the same ``U``)."""
    rng = np.random.default_rng([int(seed), 0x5641])
    return rng.integers(1, int(max_u) + 1, size=int(count), dtype=np.int64)


@dataclass
class ValueDataStatus:
    """Progress of :func:`generate_value_data`: games done (kept + discarded) of ``target``."""

    games: int = 0
    target: int = 0
    positions: int = 0
    discarded: int = 0
    new_positions: int = 0
    elapsed: float = 0.0

    @property
    def positions_per_second(self) -> float:
        return self.new_positions / self.elapsed if self.elapsed > 0 else 0.0

    def line(self) -> str:
        return (f"games {self.games}/{self.target}, positions {self.positions}, discarded {self.discarded}, "
                f"{self.positions_per_second:.1f} positions/s")  # fmt: skip


@dataclass
class ValueDataResult:
    games: int  # games done (kept + discarded)
    positions: int
    discarded: int
    u_min: int
    u_max: int
    new_games: int  # played by this call
    new_positions: int
    seconds: float
    positions_per_second: float  # of this call
    chunks: int
    data_dir: str


def data_dir(run_dir: str | os.PathLike) -> Path:
    return Path(run_dir) / "data"


def _chunk_paths(run_dir) -> list[Path]:
    d = data_dir(run_dir)
    if not d.is_dir():
        return []
    return sorted((p for p in d.iterdir() if CHUNK_RE.match(p.name)), key=lambda p: int(CHUNK_RE.match(p.name)[1]))


CHUNK_KEYS = ("planes", "z", "u", "to_move", "length", "game", "discarded_games")


def _read_chunk(path: Path, size: int | None = None, planes: bool = True) -> dict[str, np.ndarray] | None:
    """A chunk's arrays (without ``planes`` when not asked for), or None (with a warning) when it is torn, foreign
    or inconsistent."""
    try:
        with np.load(path, allow_pickle=False) as f:
            d = {k: f[k] for k in CHUNK_KEYS if planes or k != "planes"}
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as e:
        log.warning("skipping unreadable value-data chunk %s (%s)", path, e)
        return None
    n = len(d["z"])
    ok = all(len(d[k]) == n for k in ("planes", "u", "to_move", "length", "game") if k in d)
    if ok and size is not None and "planes" in d:
        if d["planes"].shape[1:] == (VALUE_PLANES, (size * size + 7) // 8):
            d["planes"] = _repack_per_plane(d["planes"], size)
        ok = d["planes"].shape[1:] == (packed_width(VALUE_PLANES, size),)
    if not ok:
        log.warning("skipping inconsistent value-data chunk %s", path)
        return None
    return d


def _repack_per_plane(packed: np.ndarray, size: int) -> np.ndarray:
    """Planes packed one byte row per plane, ``uint8 [P, C, ceil(N*N/8)]`` (how value data was stored before it used
    :mod:`igo.engine.planes`), in the :func:`igo.engine.planes.pack_planes` format."""
    bits = np.unpackbits(packed, axis=-1, count=size * size)
    return pack_planes(bits.reshape(*packed.shape[:-1], size, size))


def _write_chunk(path: Path, arrays: dict[str, np.ndarray]) -> None:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    atomic_write(path, buf.getvalue(), parents=True)


def _prepare_data_dir(run_dir: Path, config: ValueDataConfig) -> None:
    """Create ``run_dir/data`` with ``config.json``, or check that the existing data was made with the same board,
    komi, ``max_u`` and seed (the games to play and the running settings may change)."""
    d = data_dir(run_dir)
    rd = RunDir(d)
    stored = rd.read_config()
    if stored is not None:
        rd.check_unchanged(stored, config.to_dict(), DATA_IDENTITY, what="value data")
    rd.write_config(config.to_dict())


def data_summary(run_dir) -> tuple[set[int], int, int, int, int]:
    """``(games done, positions, discarded, u_min, u_max)`` of the chunks in ``run_dir/data``."""
    done: set[int] = set()
    positions = discarded = 0
    u_min, u_max = None, 0
    for p in _chunk_paths(run_dir):
        d = _read_chunk(p, planes=False)
        if d is None:
            continue
        done.update(int(g) for g in d["game"])
        done.update(int(g) for g in d["discarded_games"])
        positions += len(d["z"])
        discarded += len(d["discarded_games"])
        if len(d["u"]):
            u_min = min(int(d["u"].min()), u_min if u_min is not None else 1 << 30)
            u_max = max(u_max, int(d["u"].max()))
    return done, positions, discarded, u_min or 0, u_max


def _games_to_arrays(games, indices, us, size: int) -> dict[str, np.ndarray]:
    kept = [(g, i, u) for g, i, u in zip(games, indices, us, strict=True) if g.snapshot is not None]
    planes = np.zeros((len(kept), packed_width(VALUE_PLANES, size)), np.uint8)
    z = np.zeros(len(kept), np.float32)
    u_arr = np.zeros(len(kept), np.int16)
    to_move = np.zeros(len(kept), np.int8)
    length = np.zeros(len(kept), np.int32)
    game = np.zeros(len(kept), np.int64)
    for row, (g, i, u) in enumerate(kept):
        if g.snapshot_move != u:
            raise RuntimeError(f"game {i}: snapshot after move {g.snapshot_move}, expected U={u}")
        planes[row] = g.snapshot
        z[row] = g.outcome_for(g.snapshot_to_move)
        u_arr[row] = u
        to_move[row] = g.snapshot_to_move
        length[row] = len(g.moves)
        game[row] = i
    discarded = np.array([i for g, i in zip(games, indices, strict=True) if g.snapshot is None], np.int64)
    return {"planes": planes, "z": z, "u": u_arr, "to_move": to_move, "length": length, "game": game,
            "discarded_games": discarded}  # fmt: skip


def generate_value_data(
    config: ValueDataConfig,
    run_dir: str | os.PathLike,
    *,
    address: str | None = None,
    num_cpus: int | None = None,
    on_progress: Callable[[ValueDataStatus], None] | None = None,
) -> ValueDataResult:
    """Play the games of ``config`` that ``run_dir/data`` does not hold yet (see the module docstring) on Ray
    (a local Ray with ``num_cpus`` CPUs, or the cluster at ``address``) and write their positions as chunks."""
    import ray

    from igo.nets.checkpoint import load_checkpoint
    from igo.nets.weights import model_to_numpy
    from igo.selfplay.cluster import init_ray
    from igo.selfplay.policy_games import GameSpec, policy_game_actor_class

    run_dir = Path(run_dir)
    _prepare_data_dir(run_dir, config)
    done, positions, discarded, u_min, u_max = data_summary(run_dir)
    us = draw_u(config.seed, config.max_u, config.games)
    todo = [i for i in range(config.games) if i not in done]
    status = ValueDataStatus(games=len(done & set(range(config.games))), target=config.games, positions=positions,
                             discarded=discarded)  # fmt: skip
    t0 = time.monotonic()
    chunks_before = _chunk_paths(run_dir)
    next_chunk = int(CHUNK_RE.match(chunks_before[-1].name)[1]) + 1 if chunks_before else 0
    new_games = new_positions = 0
    if todo:
        log.info("value data: %d of %d games to play (%d done)", len(todo), config.games, status.games)
        if status.games:
            RunDir(run_dir).announce_resume(status.games, f"{positions} positions", f"{len(todo)} games to play",
                                            unit="game")  # fmt: skip
        sl, _ = load_checkpoint(config.sl, expect_kind="lee-policy")
        rl, _ = load_checkpoint(config.rl, expect_kind="lee-policy")
        started = init_ray(address, num_cpus)
        try:
            cpus = max(1.0, float(ray.cluster_resources().get("CPU", 1)))
            actors_n = config.actors or int(cpus)
            # more actors than CPUs share them (a whole CPU each would leave the extra ones waiting forever)
            actor_cls = policy_game_actor_class(min(1.0, cpus / actors_n))
            weights = ray.put({"sl": model_to_numpy(sl), "rl": model_to_numpy(rl)})
            actors = [actor_cls.remote(config.size, config.komi, {"sl": sl.config.name, "rl": rl.config.name},
                                       threads=config.threads, seed=config.seed * 1000 + a)  # fmt: skip
                      for a in range(actors_n)]  # fmt: skip
            batches = [todo[k : k + config.games_per_call] for k in range(0, len(todo), config.games_per_call)]
            batches.reverse()
            loaded: set[int] = set()
            pending: dict = {}

            def submit(a: int) -> None:
                if not batches:
                    return
                idx = batches.pop()
                specs = [GameSpec(black="sl", white="sl", random_move_at=int(us[i]), switch_at=int(us[i]) + 1,
                                  switch_black="rl", switch_white="rl") for i in idx]  # fmt: skip
                w = {"sl": None, "rl": None} if a in loaded else weights
                loaded.add(a)
                ref = actors[a].play.remote(w, specs, temperature=config.temperature, move_limit=config.move_limit)
                pending[ref] = (a, idx)

            for a in range(len(actors)):
                submit(a)
            while pending:
                ready, _ = ray.wait(list(pending), num_returns=1)
                a, idx = pending.pop(ready[0])
                games, _seconds = ray.get(ready[0])
                submit(a)
                arrays = _games_to_arrays(games, idx, [int(us[i]) for i in idx], config.size)
                _write_chunk(data_dir(run_dir) / f"chunk-{next_chunk:06d}.npz", arrays)
                next_chunk += 1
                kept = len(arrays["z"])
                if kept:
                    lo, hi = int(arrays["u"].min()), int(arrays["u"].max())
                    u_min = lo if status.positions == 0 else min(u_min, lo)
                    u_max = max(u_max, hi)
                new_games += len(idx)
                new_positions += kept
                status.games += len(idx)
                status.positions += kept
                status.discarded += len(arrays["discarded_games"])
                status.new_positions = new_positions
                status.elapsed = time.monotonic() - t0
                if on_progress is not None:
                    on_progress(status)
        finally:
            if started:
                ray.shutdown()
    seconds = time.monotonic() - t0
    status.elapsed = seconds
    return ValueDataResult(
        games=status.games, positions=status.positions, discarded=status.discarded, u_min=u_min, u_max=u_max,
        new_games=new_games, new_positions=new_positions, seconds=seconds,
        positions_per_second=new_positions / seconds if new_positions and seconds > 0 else 0.0,
        chunks=len(_chunk_paths(run_dir)), data_dir=str(data_dir(run_dir)),
    )  # fmt: skip


@dataclass
class ValueData:
    """The positions of a run: ``planes`` packed ``uint8 [P, ceil(49*N*N/8)]``
    (:func:`igo.engine.planes.unpack_planes`), ``z`` float32 (outcome for the player to move), ``u``, ``to_move``,
    ``length`` (moves in the game) and ``game`` (the game's index), plus the number of discarded games."""

    size: int
    planes: np.ndarray
    z: np.ndarray
    u: np.ndarray
    to_move: np.ndarray
    length: np.ndarray
    game: np.ndarray
    discarded: int = 0

    def __len__(self) -> int:
        return len(self.z)

    def __iter__(self):  # planes, z, u, to_move, length, game = load_value_data(...)
        return iter((self.planes, self.z, self.u, self.to_move, self.length, self.game))


def load_value_data(run_dir: str | os.PathLike, size: int) -> ValueData:
    """All positions in ``run_dir/data`` (torn or unreadable chunks skipped with a warning; a game found twice is
    kept once)."""
    parts = []
    discarded: set[int] = set()
    for p in _chunk_paths(run_dir):
        d = _read_chunk(p, size)
        if d is not None:
            parts.append(d)
            discarded.update(int(g) for g in d["discarded_games"])
    if not parts:
        e = np.zeros(0)
        return ValueData(size, np.zeros((0, packed_width(VALUE_PLANES, size)), np.uint8), e.astype(np.float32),
                         e.astype(np.int16), e.astype(np.int8), e.astype(np.int32), e.astype(np.int64))  # fmt: skip
    cat = {k: np.concatenate([d[k] for d in parts]) for k in ("planes", "z", "u", "to_move", "length", "game")}
    _, first = np.unique(cat["game"], return_index=True)
    if len(first) < len(cat["game"]):
        log.warning("%d duplicate games in %s dropped", len(cat["game"]) - len(first), data_dir(run_dir))
        first.sort()
        cat = {k: v[first] for k, v in cat.items()}
    return ValueData(size=size, discarded=len(discarded), **cat)


# --- training -------------------------------------------------------------------------------------------------------


@dataclass
class ValueTrainConfig(Retention, ConfigDict):
    """How the value net is trained.

    ``model`` is a ``lee-value-*`` config (the paper's ``lee-value-192``; ``lee-value-64`` for 9x9 on CPUs).

    Optimizer: the paper used plain SGD (minibatches of 32, 50 million steps on 50 GPUs). The default here is AdamW
    (lr ``1e-3``): these nets have no batch normalisation and PyTorch's default initialisation shrinks the signal at
    every layer, so at the start ``v(s)`` hardly depends on ``s`` (output std ~1e-5 for ``lee-value-64``) and the
    gradients of the early layers are tiny. Adam's per-parameter step normalisation leaves that plateau within about
    a hundred steps (a stone-count target on 9x9: MSE 1.0 -> 0.1 in 350 steps), where SGD with momentum 0.9 at 0.01
    was still at the constant predictor's MSE after 400 steps. ``sgd`` (``momentum`` 0.9; 0 is the paper's plain
    SGD) stays available, e.g. to fine-tune a trained net. ``weight_decay`` is decoupled (AdamW) or L2 (SGD). The
    target is in {-1, 0, 1} and ``v`` is a tanh, so the MSE of the constant predictor (the variance of z, about 1
    for balanced outcomes) is the reference to beat.

    ``holdout`` is the fraction of positions held out for the test MSE: each position is from a distinct game, so a
    random split of positions is a split by game. ``augment`` applies a random one of the 8 dihedral symmetries to
    each training position. Training stops after ``epochs`` passes over the training positions, ``max_steps`` steps
    or ``max_minutes`` minutes, whichever comes first; ``checkpoint_every`` steps (and at each epoch's end) a
    checkpoint is written. ``device`` is ``auto``, ``cpu`` or ``cuda``; ``threads`` sets torch's CPU threads
    (``--nn-threads``; None: the cores this process may use, :func:`~igo.engine.cores.core_budget`).
    """

    model: str = "lee-value-192"
    optimizer: str = "adamw"
    lr: float = 1e-3
    momentum: float = 0.9
    weight_decay: float = 1e-4
    batch_size: int = 128
    epochs: int = 10
    max_steps: int | None = None
    max_minutes: float | None = None
    holdout: float = 0.05
    augment: bool = True
    checkpoint_every: int = 1000
    eval_batch: int = 1024
    seed: int = 0
    device: str = "auto"
    threads: int | None = None

    def __post_init__(self) -> None:
        from igo.nets.config import get_config

        cfg = get_config(self.model)  # KeyError with the known names
        if cfg.kind != "lee-value":
            raise ValueError(f"model {self.model!r} is a {cfg.kind} net; the value net needs a lee-value-* config")
        from .common import OPTIMIZERS

        check_settings([
            (self.optimizer in OPTIMIZERS, f"optimizer must be one of {', '.join(OPTIMIZERS)}"),
            (math.isfinite(self.lr) and self.lr > 0, "lr must be positive"),
            (0 <= self.momentum < 1, "momentum must be in [0, 1)"),
            (self.weight_decay >= 0, "weight_decay must be >= 0"),
            (self.batch_size >= 1, "batch_size must be >= 1"),
            (self.epochs >= 1, "epochs must be >= 1"),
            (self.max_steps is None or self.max_steps >= 1, "max_steps must be >= 1"),
            (self.max_minutes is None or self.max_minutes > 0, "max_minutes must be positive"),
            (0 <= self.holdout < 1, "holdout must be in [0, 1)"),
            (self.checkpoint_every >= 1, "checkpoint_every must be >= 1"),
            (self.eval_batch >= 1, "eval_batch must be >= 1"),
            *self.retention_checks(),
            (self.threads is None or self.threads >= 1, "threads must be >= 1"),
        ])  # fmt: skip


@dataclass
class ValueTrainStatus:
    step: int = 0
    epoch: int = 0  # completed epochs
    steps_total: int = 0  # the steps the epochs ask for
    loss: float | None = None  # running training MSE (augmented, train mode)
    test_mse: float | None = None
    elapsed: float = 0.0

    def line(self) -> str:
        return (f"step {self.step}/{self.steps_total}, epoch {self.epoch}, train MSE {shown(self.loss, '.4f')}, test "
                f"MSE {shown(self.test_mse, '.4f')}")  # fmt: skip


@dataclass
class ValueTrainResult:
    step: int
    epochs: float  # passes over the training positions, fractional
    train_positions: int
    test_positions: int
    train_mse: float  # whole training set, eval mode, no augmentation
    test_mse: float | None  # None without a hold-out set
    baseline_train_mse: float  # constant predictor: the training set's mean z
    baseline_test_mse: float | None
    mean_z: float
    initial_train_mse: float | None  # at step 0 (when this call started the run)
    checkpoint: str
    seconds: float


def holdout_mask(game: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """True for the positions held out: a fixed function of the seed and each position's game index, so the split
    does not change when more games are added."""
    if fraction <= 0 or len(game) == 0:
        return np.zeros(len(game), bool)
    draws = np.random.default_rng([int(seed), 0x484F]).random(int(game.max()) + 1)
    return draws[game] < fraction


def batch_tensor(planes_packed: np.ndarray, size: int, rng: np.random.Generator | None = None) -> np.ndarray:
    """Unpacked float32 planes of a batch; with ``rng``, each position under a random dihedral symmetry."""
    from igo.engine.symmetry import apply_planes

    x = unpack_planes(planes_packed, VALUE_PLANES, size)
    if rng is not None:
        ks = rng.integers(0, 8, size=len(x))
        for k in range(1, 8):
            idx = np.flatnonzero(ks == k)
            if len(idx):
                x[idx] = apply_planes(x[idx], k)
    return x


def evaluate_mse(model, planes_packed: np.ndarray, z: np.ndarray, size: int, device, batch: int = 1024) -> float:
    """Mean of ``(z - v(s))^2`` over the positions (eval mode, no augmentation)."""
    import torch

    if len(z) == 0:
        return float("nan")
    was_training = model.training
    model.eval()
    total = 0.0
    with torch.no_grad():
        for k in range(0, len(z), batch):
            x = torch.from_numpy(batch_tensor(planes_packed[k : k + batch], size)).to(device)
            v = model(x).float().cpu().numpy()
            total += float(np.sum((v - z[k : k + batch]) ** 2))
    model.train(was_training)
    return total / len(z)


def train_value(
    run_dir: str | os.PathLike,
    config: ValueTrainConfig,
    *,
    on_status: Callable[[ValueTrainStatus], None] | None = None,
    status_every: float = 5.0,
) -> ValueTrainResult:
    """Train the value net on ``run_dir/data`` (see :class:`ValueTrainConfig`), resuming from the newest
    ``run_dir/checkpoints/value-<step>.safetensors``; writes ``run_dir/value.safetensors`` at the end."""
    import torch

    from igo.nets.checkpoint import RULES, load_checkpoint, read_metadata
    from igo.nets.config import get_config
    from igo.nets.device import resolve_device
    from igo.nets.models import build_model

    from .common import Metrics, build_optimizer, save_with_optimizer

    run_dir = Path(run_dir)
    t0 = time.monotonic()
    data_config = RunDir(data_dir(run_dir)).read_config()
    if data_config is None:
        raise ValueError(f"{run_dir} holds no value data ({data_dir(run_dir) / 'config.json'} is missing); generate "
                         "it first")  # fmt: skip
    size = int(data_config["size"])
    data = load_value_data(run_dir, size)
    if len(data) == 0:
        raise ValueError(f"{data_dir(run_dir)} holds no positions")
    torch.set_num_threads(config.threads or core_budget())
    device = resolve_device(config.device)
    held = holdout_mask(data.game, config.holdout, config.seed)
    train_idx, test_idx = np.flatnonzero(~held), np.flatnonzero(held)
    if len(train_idx) == 0:
        raise ValueError(f"all {len(data)} positions fell in the hold-out set; generate more games")
    # the order of the training positions is by game index, so an epoch's permutation does not depend on chunk order
    train_idx = train_idx[np.argsort(data.game[train_idx], kind="stable")]
    test_idx = test_idx[np.argsort(data.game[test_idx], kind="stable")]
    tr_planes, tr_z = data.planes[train_idx], data.z[train_idx]
    te_planes, te_z = data.planes[test_idx], data.z[test_idx]
    mean_z = float(tr_z.mean())
    base_train = float(np.mean((tr_z - mean_z) ** 2))
    base_test = float(np.mean((te_z - mean_z) ** 2)) if len(te_z) else None
    steps_per_epoch = math.ceil(len(tr_z) / config.batch_size)
    steps_total = steps_per_epoch * config.epochs
    if config.max_steps is not None:
        steps_total = min(steps_total, config.max_steps)

    torch.manual_seed(config.seed)
    rd = RunDir(run_dir, PREFIX, DIGITS)
    found = rd.newest()  # the newest checkpoint that reads (a torn newer one is skipped with a warning)
    if found:
        step, path = found
        meta = read_metadata(path)
        if meta.config_name != config.model or meta.board_size != size:
            raise ValueError(f"{path} is a {meta.config_name} net for {meta.board_size}x{meta.board_size}; this run "
                             f"trains {config.model} for {size}x{size} (use another --run-dir)")  # fmt: skip
        model, meta = load_checkpoint(path, expect_kind="lee-value", device=device)
        step = meta.step
        rd.announce_resume(step, f"epoch {step / steps_per_epoch:.2f} of {config.epochs}")
    else:
        model = build_model(get_config(config.model), size).to(device)
        path, step = None, 0
    model.train()
    optimizer = build_optimizer(model.parameters(), config.optimizer, config.lr, momentum=config.momentum,
                                weight_decay=config.weight_decay)  # fmt: skip
    if path is not None:
        restore_optimizer(optimizer, path, kind=config.optimizer, step=step)

    metrics = Metrics(run_dir)
    st = ValueTrainStatus(step=step, epoch=step // steps_per_epoch, steps_total=steps_total)
    initial = None
    rd.write_config(config.to_dict(), "train_config.json")
    known = {"komi": data_config.get("komi"), "rules": RULES}  # the games' komi and rules go into every checkpoint

    def checkpoint() -> Path:
        p = rd.checkpoint(st.step)
        extra = {"trainer": "value", "train_positions": int(len(tr_z)), "test_positions": int(len(te_z)),
                 "epoch": st.step / steps_per_epoch, "data_games": int(data.game.max()) + 1}  # fmt: skip
        save_with_optimizer(p, model, optimizer, kind=config.optimizer, step=st.step, extra=extra, **known)
        config.thin(rd, config.checkpoint_every, st.step)
        return p

    def evaluate(final: bool = False) -> tuple[float, float | None]:
        train_mse = evaluate_mse(model, tr_planes, tr_z, size, device, config.eval_batch) if final else None
        test_mse = evaluate_mse(model, te_planes, te_z, size, device, config.eval_batch) if len(te_z) else None
        st.test_mse = test_mse
        return train_mse, test_mse

    try:
        if step == 0:
            initial, test0 = evaluate(final=True)
            metrics.write("value_eval", 0, train_mse=initial, test_mse=test0, baseline_train_mse=base_train,
                          baseline_test_mse=base_test, mean_z=mean_z)  # fmt: skip
            path = checkpoint()
        loss_sum, loss_n, epoch_sum, epoch_n = 0.0, 0, 0.0, 0
        last_status = time.monotonic()
        stopped_by_time = False
        while st.step < steps_total:
            epoch = st.step // steps_per_epoch
            perm = np.random.default_rng([config.seed, epoch]).permutation(len(tr_z))
            aug_rng = np.random.default_rng([config.seed, epoch, 1]) if config.augment else None
            start = st.step % steps_per_epoch
            if aug_rng is not None and start:
                for b in range(start):  # replay the augmentation draws of the steps already done
                    aug_rng.integers(0, 8, size=len(perm[b * config.batch_size : (b + 1) * config.batch_size]))
            for b in range(start, steps_per_epoch):
                idx = np.sort(perm[b * config.batch_size : (b + 1) * config.batch_size])
                x = torch.from_numpy(batch_tensor(tr_planes[idx], size, aug_rng)).to(device)
                target = torch.from_numpy(tr_z[idx]).to(device)
                v = model(x)
                loss = torch.mean((v.float() - target) ** 2)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                st.step += 1
                lv = float(loss.detach())
                loss_sum += lv * len(idx)
                loss_n += len(idx)
                epoch_sum += lv * len(idx)
                epoch_n += len(idx)
                st.loss = loss_sum / loss_n
                st.elapsed = time.monotonic() - t0
                if st.step % config.checkpoint_every == 0 or st.step == steps_total:
                    path = checkpoint()
                if on_status is not None and time.monotonic() - last_status >= status_every:
                    on_status(st)
                    last_status = time.monotonic()
                    loss_sum, loss_n = 0.0, 0
                if st.step >= steps_total:
                    break
                if config.max_minutes is not None and st.elapsed >= config.max_minutes * 60:
                    stopped_by_time = True
                    break
            if st.step % steps_per_epoch == 0 and st.step > 0:
                st.epoch = st.step // steps_per_epoch
                _, test_mse = evaluate()
                metrics.write("value_epoch", st.step, epoch=st.epoch, train_mse=epoch_sum / max(1, epoch_n),
                              test_mse=test_mse)  # fmt: skip
                epoch_sum, epoch_n = 0.0, 0
                if path != rd.checkpoint(st.step):  # not saved at this step yet
                    path = checkpoint()
                if on_status is not None:
                    on_status(st)
                    last_status = time.monotonic()
            if stopped_by_time:
                break
        if path != rd.checkpoint(st.step):
            path = checkpoint()
        train_mse, test_mse = evaluate(final=True)
        final = run_dir / "value.safetensors"
        from igo.nets.checkpoint import save_checkpoint

        extra = {"trainer": "value", "train_mse": train_mse, "test_mse": test_mse, "baseline_train_mse": base_train,
                 "baseline_test_mse": base_test, "train_positions": int(len(tr_z)),
                 "test_positions": int(len(te_z))}  # fmt: skip
        save_checkpoint(final, model, step=st.step, parent=str(path), extra=_finite(extra), **known)
        metrics.write("value_final", st.step, train_mse=train_mse, test_mse=test_mse, baseline_train_mse=base_train,
                      baseline_test_mse=base_test, mean_z=mean_z)  # fmt: skip
        if on_status is not None and time.monotonic() - last_status > 0.5:  # not just reported at the epoch's end
            on_status(st)
    finally:
        metrics.close()
    return ValueTrainResult(
        step=st.step, epochs=st.step / steps_per_epoch, train_positions=len(tr_z), test_positions=len(te_z),
        train_mse=train_mse, test_mse=test_mse, baseline_train_mse=base_train, baseline_test_mse=base_test,
        mean_z=mean_z, initial_train_mse=initial, checkpoint=str(final), seconds=time.monotonic() - t0,
    )  # fmt: skip


def _finite(d: dict) -> dict:
    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in d.items()}


__all__ = [
    "ValueData",
    "ValueDataConfig",
    "ValueDataResult",
    "ValueDataStatus",
    "ValueTrainConfig",
    "ValueTrainResult",
    "ValueTrainStatus",
    "data_summary",
    "default_komi",
    "draw_u",
    "evaluate_mse",
    "generate_value_data",
    "holdout_mask",
    "load_value_data",
    "train_value",
]
