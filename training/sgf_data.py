"""Game records as training data: finding SGF files, the held-out split, reading games (skipping broken ones with a
reason), replaying them position by position, corpus statistics, and the supervised-learning data: positions encoded
as a network's input planes (the 48 ``alphago48`` planes of AlphaGo 2016's SL policy network, the default, or a Zero
net's ``zeroK`` planes), the expert's move as the policy target and the game's result as the value target.

- :func:`find_sgf_files` / :func:`split_files`: every ``.sgf`` under a directory (recursive, sorted); a file is held
  out by the sha1 of its path relative to the root, so the split is the same on every run and machine and a file never
  changes side when more games are added.
- :func:`load_game` never raises for what a file holds: a broken, hostile, illegal or other-size record comes back as
  ``(None, reason)`` ("parse error", "illegal move", "unreadable", "size 19, not 9", "no moves", ...);
  :func:`load_game_detail` also gives the detailed message.
- Positions come from :func:`igo.engine.sgf.iter_positions`, which replays a record (setup stones, handicap, first
  player, setup events) and yields the board before every move with the colour and point of the move.
- :class:`PositionStream` is the endless training stream: files in a new seeded order each epoch, passes left out of
  AlphaGo nets' data (as in the paper; a Zero net's policy has a pass output and learns the expert's passes), each
  position encoded once (Numba, many positions per call), kept bit-packed in a shuffle buffer (positions of one game
  are strongly correlated), and given out in batches with a random one of the 8 symmetries per sample applied to the
  planes and the target together (the value target stays). :func:`encode_positions` encodes held-out games once, in
  their own orientation.
- :func:`corpus_stats` summarises a directory (``igo corpus stats DIR``); :func:`corpus_komi` the komi most of its
  games of one size were played at, from a quick look at each file's root node.

Targets are flat indices ``r * N + c`` (row 0 on top), the order of :class:`igo.nets.lee.LeePolicyNet`'s logits and of
the first ``N*N`` logits of :class:`igo.nets.zero.ZeroNet`. Value targets ``z`` (int8) are the game's result for the
player to move: +1 a win, -1 a loss, and 0 for no target, every position of a game whose result is not a decisive
``B+``/``W+`` (a draw, an unknown or void result); :attr:`LoadStats.undecided` counts those games.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import re
import statistics
import types
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from igo.engine.board import BLACK, WHITE, Board
from igo.engine.errors import SGFError
from igo.engine.features import FeatureEncoder, feature_set
from igo.engine.planes import pack_planes, packed_width, unpack_planes
from igo.engine.pool import copy_to_slot, new_pool
from igo.engine.sgf import GameRecord, iter_positions, load_sgf_file
from igo.engine.symmetry import NUM_SYMMETRIES, apply_planes, flat_permutation, inverse

log = logging.getLogger(__name__)

FEATURES = "alphago48"  # the default feature set: AlphaGo's SL policy network
PLANES = 48

__all__ = [
    "CorpusStats",
    "LoadStats",
    "PositionStream",
    "corpus_komi",
    "corpus_stats",
    "encode_positions",
    "find_sgf_files",
    "is_holdout",
    "load_game",
    "load_game_detail",
    "move_map",
    "packed_bytes",
    "split_files",
    "transform_sample",
    "value_target",
]


# --- files ---------------------------------------------------------------------------------------------------------


def find_sgf_files(root: str | os.PathLike) -> list[Path]:
    """Every ``*.sgf`` (any case) under ``root``, recursively (symbolic links to directories are not followed),
    sorted. FileNotFoundError / NotADirectoryError when ``root`` is not a directory."""
    root = Path(root)
    if not root.exists():
        raise FileNotFoundError(f"SGF directory {str(root)!r} does not exist")
    if not root.is_dir():
        raise NotADirectoryError(f"{str(root)!r} is not a directory (give the directory that holds the SGF files)")
    out = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames.sort()
        for name in filenames:
            if name.lower().endswith(".sgf"):
                out.append(Path(dirpath) / name)
    return sorted(out)


def is_holdout(rel_path: str, fraction: float) -> bool:
    """Whether the file at ``rel_path`` (relative to the corpus root, POSIX separators) is held out: the first 8
    bytes of its sha1 as a number in [0, 1) below ``fraction``. The same on every run and machine."""
    if fraction <= 0:
        return False
    if fraction >= 1:
        return True
    digest = hashlib.sha1(rel_path.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64 < fraction


def _rel(root: Path, path: Path) -> str:
    try:
        return Path(path).relative_to(root).as_posix()
    except ValueError:
        return Path(path).as_posix()


def split_files(
    root: str | os.PathLike, files: Sequence[str | os.PathLike], fraction: float
) -> tuple[list[Path], list[Path]]:
    """``(train, held_out)``: ``files`` split by :func:`is_holdout` of their paths relative to ``root``."""
    root = Path(root)
    train: list[Path] = []
    held: list[Path] = []
    for f in files:
        f = Path(f)
        (held if is_holdout(_rel(root, f), fraction) else train).append(f)
    return train, held


# --- games ---------------------------------------------------------------------------------------------------------


def _sgf_reason(message: str) -> str:
    m = message.lower()
    if "is illegal" in m:
        return "illegal move"
    if "bad setup" in m:
        return "bad setup"
    if "larger than" in m or "too many" in m or "too large" in m or "too deep" in m:
        return "too large"
    if "encod" in m or "decode" in m or "character set" in m:
        return "bad encoding"
    return "parse error"


def load_game_detail(
    path: str | os.PathLike, size: int | None = None
) -> tuple[GameRecord | None, str | None, str | None]:
    """:func:`load_game` with the detailed message as a third item (None when the game is good)."""
    try:
        record = load_sgf_file(path)
    except SGFError as e:
        return None, _sgf_reason(str(e)), str(e).splitlines()[0] if str(e) else "SGF error"
    except UnicodeError as e:
        return None, "bad encoding", str(e)
    except OSError as e:
        return None, "unreadable", f"{type(e).__name__}: {e.strerror or e}"
    except (ValueError, RecursionError, MemoryError) as e:
        return None, "parse error", f"{type(e).__name__}: {e}"
    if size is not None and record.size != size:
        return None, f"size {record.size}, not {size}", f"a {record.size}x{record.size} game"
    if not any(point is not None for _, point in record.moves):
        return None, "no moves", f"{len(record.moves)} moves, none on the board"
    return record, None, None


def load_game(path: str | os.PathLike, size: int | None = None) -> tuple[GameRecord | None, str | None]:
    """``(record, None)`` for a good game (of ``size`` when given, with at least one move on the board), else
    ``(None, short reason)``. Never raises for what the file holds or for an unreadable file."""
    record, reason, detail = load_game_detail(path, size)
    if reason is not None:
        log.debug("skipping %s: %s (%s)", path, reason, detail)
    return record, reason


@dataclass
class LoadStats:
    """What a reader has read: files tried, games used, games skipped (by reason), positions given out and
    positions left out (passes); ``undecided``: games used whose result is not a decisive B+/W+ (their positions
    have no value target), ``positions_undecided`` their positions."""

    files: int = 0
    games: int = 0
    skipped: int = 0
    skipped_by_reason: Counter = field(default_factory=Counter)
    positions: int = 0
    positions_skipped: int = 0
    undecided: int = 0
    positions_undecided: int = 0

    def skip(self, reason: str) -> None:
        self.skipped += 1
        self.skipped_by_reason[reason] += 1

    def to_dict(self) -> dict:
        return {
            "files": self.files,
            "games": self.games,
            "skipped": self.skipped,
            "skipped_by_reason": dict(sorted(self.skipped_by_reason.items())),
            "positions": self.positions,
            "positions_skipped": self.positions_skipped,
            "undecided": self.undecided,
            "positions_undecided": self.positions_undecided,
        }


# --- corpus statistics ---------------------------------------------------------------------------------------------


def _result_kind(result: str | None) -> str:
    r = (result or "").strip().upper()
    if r in ("0", "DRAW", "JIGO") or r.startswith("0") or r == "D":
        return "draws"
    if r.startswith("B+"):
        return "black_wins"
    if r.startswith("W+"):
        return "white_wins"
    return "unknown"


@dataclass
class CorpusStats:
    """The summary of an SGF directory that :func:`corpus_stats` makes."""

    root: str
    files: int = 0
    games: int = 0
    skipped: int = 0
    skipped_by_reason: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)  # "path: reason (detail)", the first 1000
    sizes: dict[int, int] = field(default_factory=dict)
    handicap_games: int = 0
    moves_mean: float = 0.0
    moves_min: int = 0
    moves_max: int = 0
    positions: int = 0  # moves on the board (passes left out), what an SL trainer sees
    results: dict[str, int] = field(default_factory=dict)  # black_wins white_wins draws resignations unknown
    komi: dict[str, int] = field(default_factory=dict)
    size: int | None = None
    usable: int | None = None  # games of ``size`` (when given)
    usable_positions: int | None = None

    def to_dict(self) -> dict:
        return {
            "root": self.root,
            "files": self.files,
            "games": self.games,
            "skipped": self.skipped,
            "skipped_by_reason": dict(self.skipped_by_reason),
            "errors": list(self.errors),
            "sizes": {str(k): v for k, v in sorted(self.sizes.items())},
            "handicap_games": self.handicap_games,
            "moves": {"mean": self.moves_mean, "min": self.moves_min, "max": self.moves_max},
            "positions": self.positions,
            "results": dict(self.results),
            "komi": dict(self.komi),
            "size": self.size,
            "usable": self.usable,
            "usable_positions": self.usable_positions,
        }

    def lines(self, show_errors: int = 10) -> list[str]:
        out = [f"{self.root}: {self.files} SGF files, {self.games} games read, {self.skipped} skipped"]
        if self.skipped:
            reasons = ", ".join(f"{r} {n}" for r, n in sorted(self.skipped_by_reason.items(), key=lambda x: -x[1]))
            out.append(f"  skipped: {reasons}")
            for e in self.errors[: max(show_errors, 0)]:
                out.append(f"    {e}")
            if len(self.errors) > show_errors > 0 or (self.skipped > len(self.errors) and show_errors > 0):
                out.append(f"    ... ({self.skipped - min(show_errors, len(self.errors))} more)")
        sizes = ", ".join(f"{k}x{k} {v}" for k, v in sorted(self.sizes.items())) or "-"
        out.append(f"board sizes: {sizes}")
        out.append(f"handicap games: {self.handicap_games}")
        if self.games:
            out.append(f"moves per game: mean {self.moves_mean:.1f}, min {self.moves_min}, max {self.moves_max}")
        out.append(f"positions (moves on the board, passes left out): {self.positions}")
        r = self.results
        out.append(
            f"results: Black wins {r.get('black_wins', 0)}, White wins {r.get('white_wins', 0)}, draws "
            f"{r.get('draws', 0)}, unknown {r.get('unknown', 0)}; by resignation {r.get('resignations', 0)}"
        )
        komi = ", ".join(f"{k} ({v})" for k, v in sorted(self.komi.items(), key=lambda x: -x[1])) or "-"
        out.append(f"komi: {komi}")
        if self.size is not None:
            out.append(f"usable {self.size}x{self.size} games: {self.usable} ({self.usable_positions} positions)")
        return out


def _komi_text(k: float) -> str:
    return f"{k:g}"


def corpus_stats(root: str | os.PathLike, size: int | None = None, *, max_errors: int = 1000) -> CorpusStats:
    """Read every SGF file under ``root`` (:func:`find_sgf_files`) and summarise it (:class:`CorpusStats`); with
    ``size``, also the number of usable games (and positions) of that size."""
    root = Path(root)
    files = find_sgf_files(root)
    st = CorpusStats(root=str(root), files=len(files), size=size)
    skipped: Counter = Counter()
    sizes: Counter = Counter()
    results: Counter = Counter({"black_wins": 0, "white_wins": 0, "draws": 0, "resignations": 0, "unknown": 0})
    komi: Counter = Counter()
    moves: list[int] = []
    usable = usable_positions = 0
    for path in files:
        record, reason, detail = load_game_detail(path)
        if record is None:
            st.skipped += 1
            skipped[reason] += 1
            if len(st.errors) < max_errors:
                st.errors.append(f"{_rel(root, path)}: {reason}" + (f" ({detail})" if detail else ""))
            continue
        st.games += 1
        sizes[record.size] += 1
        if record.handicap >= 2:
            st.handicap_games += 1
        moves.append(len(record.moves))
        positions = sum(1 for _, p in record.moves if p is not None)
        st.positions += positions
        kind = _result_kind(record.result)
        results[kind] += 1
        if kind in ("black_wins", "white_wins") and (record.result or "").upper()[2:3] == "R":
            results["resignations"] += 1
        komi[_komi_text(record.komi)] += 1
        if size is not None and record.size == size:
            usable += 1
            usable_positions += positions
    st.skipped_by_reason = dict(skipped)
    st.sizes = dict(sorted(sizes.items()))
    st.results = dict(results)
    st.komi = dict(komi)
    if moves:
        st.moves_mean = round(statistics.fmean(moves), 2)
        st.moves_min, st.moves_max = min(moves), max(moves)
    if size is not None:
        st.usable, st.usable_positions = usable, usable_positions
    return st


_MOVE_RE = re.compile(rb";\s*[BW]\[")
_KM_RE = re.compile(rb"(?<![A-Za-z])KM\[\s*([^\]]*?)\s*\]")
_SZ_RE = re.compile(rb"(?<![A-Za-z])SZ\[\s*(\d+)")
_HEAD_BYTES = 65536


def corpus_komi(files: Iterable[str | os.PathLike], size: int) -> tuple[float | None, Counter]:
    """``(komi, counts)``: the komi most games of ``size`` in ``files`` were played at (the first met among equals;
    None when there is none) and the count of each komi. A quick look, not a parse: the ``KM`` and ``SZ`` of each
    file's first 64 KB before its first move (no ``KM`` is komi 0 and no ``SZ`` is 19, as when the file is read);
    unreadable files and unreadable values are passed over (the trainer skips those games anyway)."""
    from igo.engine.limits import MAX_KOMI

    counts: Counter = Counter()
    for path in files:
        try:
            with open(path, "rb") as f:
                head = f.read(_HEAD_BYTES)
        except OSError:
            continue
        m = _MOVE_RE.search(head)
        if m is not None:
            head = head[: m.start()]
        sz = _SZ_RE.search(head)
        if (int(sz.group(1)) if sz else 19) != size:
            continue
        km = _KM_RE.search(head)
        try:
            komi = float(km.group(1)) if km else 0.0
        except ValueError:
            continue
        if math.isfinite(komi) and abs(komi) <= MAX_KOMI:
            counts[komi] += 1
    return (counts.most_common(1)[0][0] if counts else None), counts


# --- encoding ------------------------------------------------------------------------------------------------------


def packed_bytes(size: int, planes: int = PLANES) -> int:
    """Bytes of one position's ``planes`` planes (48 by default) packed 8 to a byte
    (:func:`igo.engine.planes.packed_width`)."""
    return packed_width(planes, size)


def move_map(size: int, k: int) -> np.ndarray:
    """Forward map of flat points under symmetry ``k``: ``move_map(N, k)[f]`` is where point ``f`` goes (int64);
    pass (``N*N``) stays pass."""
    return flat_permutation(size, inverse(k))


def transform_sample(planes: np.ndarray, target: int | np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The planes ``[..., N, N]`` and flat targets of a position under symmetry ``k``, transformed together (a value
    target does not change)."""
    n = planes.shape[-1]
    return apply_planes(planes, k), move_map(n, k)[np.asarray(target)]


def value_target(result: str | None, color: int) -> int:
    """The value target of a position of a game with SGF ``result`` where ``color`` (BLACK / WHITE) is to move: +1
    when that colour won, -1 when it lost, 0 (no target) for a draw or an unknown or void result."""
    kind = _result_kind(result)
    if kind == "black_wins":
        winner = BLACK
    elif kind == "white_wins":
        winner = WHITE
    else:
        return 0
    return 1 if color == winner else -1


class _Encoder:
    """Encodes many positions per Numba call: positions are queued with their history (and, for AlphaGo planes,
    copied into a pool of board slots), then :class:`igo.engine.features.FeatureEncoder` fills ``[count, C, N, N]``
    at once; rows are kept bit-packed."""

    def __init__(self, size: int, chunk: int = 256, features: str = FEATURES):
        fs = feature_set(features)
        self.size = size
        self.chunk = chunk
        self.planes = fs.planes
        self.history_length = fs.history
        self.zero = fs.is_zero  # Zero planes read only the history and the colour to move, not the pool
        self.encoder = FeatureEncoder(fs, size)
        self.pool = new_pool(size, chunk)
        self.history = np.zeros((chunk, fs.history, size, size), np.int8)
        self.to_move = np.zeros(chunk, np.int8)
        self.out = np.empty((chunk, fs.planes, size, size), np.float32)
        self.targets = np.empty(chunk, np.int64)
        self.values = np.empty(chunk, np.int8)
        self.count = 0

    def add(self, board: Board, point: tuple[int, int] | None, z: int = 0) -> bool:
        """Queue one position with its move (None: a pass, target ``N*N``; Zero nets only, whose policy has a pass
        output) and value target; True when the chunk is full (call :meth:`flush`)."""
        i = self.count
        if not self.zero:
            copy_to_slot(self.pool, i, board.state)
        self.history[i] = board.history(self.history_length)
        self.to_move[i] = board.to_move
        self.targets[i] = self.size * self.size if point is None else point[0] * self.size + point[1]
        self.values[i] = z
        self.count += 1
        return self.count == self.chunk

    def flush(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The queued positions: packed planes ``[count, packed_bytes]``, targets ``[count]`` and value targets
        ``[count]``."""
        k = self.count
        self.count = 0
        if k == 0:
            return (
                np.empty((0, packed_bytes(self.size, self.planes)), np.uint8),
                np.empty(0, np.int64),
                np.empty(0, np.int8),
            )
        batch = types.SimpleNamespace(
            size=self.size, count=k, states=self.pool, history=self.history, to_move=self.to_move
        )
        planes = self.encoder.encode(batch, out=self.out)
        packed = pack_planes(planes)
        return packed, self.targets[:k].copy(), self.values[:k].copy()


def _game_positions(
    record: GameRecord, enc: _Encoder, stats: LoadStats
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    z_black = value_target(record.result, BLACK)  # 0: no value target in this game
    if not z_black:
        stats.undecided += 1
    for board, color, point in iter_positions(record, include_passes=True):
        if point is None and not enc.zero:  # AlphaGo's policy nets have no pass output (the paper left passes out)
            stats.positions_skipped += 1
            continue
        stats.positions += 1
        if not z_black:
            stats.positions_undecided += 1
        if enc.add(board, point, z_black if color == BLACK else -z_black):
            yield enc.flush()


def encode_positions(
    files: Iterable[str | os.PathLike],
    size: int,
    max_positions: int | None = None,
    *,
    packed: bool = False,
    stats: LoadStats | None = None,
    chunk: int = 256,
    features: str = FEATURES,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, LoadStats]:
    """Every position (passes only for Zero features) of the good ``size`` games in ``files`` (in order, no
    symmetry), at most
    ``max_positions``: ``(planes, targets, values, stats)`` with planes uint8 ``[M, C, N, N]`` (``C`` the planes of
    ``features``), or packed rows ``[M, packed_bytes(N, C)]`` with ``packed``
    (:func:`igo.engine.planes.unpack_planes`), int64 flat targets ``[M]`` and int8 value targets ``[M]``
    (:func:`value_target`; 0: none)."""
    stats = stats if stats is not None else LoadStats()
    enc = _Encoder(size, chunk, features)
    parts: list[np.ndarray] = []
    targets: list[np.ndarray] = []
    values: list[np.ndarray] = []
    have = 0
    cap = max_positions if max_positions is not None else float("inf")
    for path in files:
        if have >= cap:
            break
        stats.files += 1
        record, reason = load_game(path, size)
        if record is None:
            stats.skip(reason)
            continue
        stats.games += 1
        before = stats.positions
        for p, t, z in _game_positions(record, enc, stats):
            parts.append(p)
            targets.append(t)
            values.append(z)
        have += stats.positions - before
    if enc.count:
        p, t, z = enc.flush()
        parts.append(p)
        targets.append(t)
        values.append(z)
    planes = np.concatenate(parts) if parts else np.empty((0, packed_bytes(size, enc.planes)), np.uint8)
    target = np.concatenate(targets) if targets else np.empty(0, np.int64)
    value = np.concatenate(values) if values else np.empty(0, np.int8)
    if max_positions is not None and len(target) > max_positions:
        planes, target, value = planes[:max_positions], target[:max_positions], value[:max_positions]
    if not packed:
        planes = unpack_planes(planes, enc.planes, size, dtype=np.uint8)
    return planes, target, value, stats


class PositionStream:
    """The SL training stream: an endless iterator of batches ``(planes, targets, values)``, planes uint8
    ``[B, C, N, N]`` (0/1; ``float32`` with ``dtype=np.float32``; ``C`` the planes of ``features``, 48 by default),
    int64 flat targets ``[B]`` and int8 value targets ``[B]`` (:func:`value_target`; 0: none).

    Each epoch reads ``files`` in a new order (a permutation seeded by ``seed`` and the epoch number); broken and
    other-size games are skipped and counted in :attr:`stats`; passes are left out of AlphaGo data. Positions wait in a
    shuffle
    buffer of ``shuffle_buffer`` positions (bit-packed: 6*N*N bytes each for 48 planes) and each batch takes random
    ones out; a random symmetry (0..7) is applied to each sample's planes and target (the value target stays).
    ``epoch`` is the epoch being read (start a resumed run with the stored value; ``skip_files`` skips the files of
    that epoch already read). :attr:`stats` counts every read (a broken file again each epoch), :attr:`skipped_files`
    each skipped file once. A ValueError comes when a whole epoch yields no position."""

    def __init__(
        self,
        files: Sequence[str | os.PathLike],
        size: int,
        *,
        batch_size: int = 128,
        seed: int = 0,
        shuffle_buffer: int = 20_000,
        symmetries: bool = True,
        epoch: int = 0,
        skip_files: int = 0,
        dtype=np.uint8,
        chunk: int = 256,
        features: str = FEATURES,
    ):
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if shuffle_buffer < batch_size:
            raise ValueError(f"shuffle_buffer ({shuffle_buffer}) must be at least batch_size ({batch_size})")
        self.files = [Path(f) for f in files]
        if not self.files:
            raise ValueError("no SGF files to train on")
        self.size = int(size)
        self.batch_size = int(batch_size)
        self.seed = int(seed)
        self.symmetries = symmetries
        self.dtype = dtype
        self.epoch = int(epoch)
        self.files_read = int(skip_files)  # files of the current epoch read so far
        self.stats = LoadStats()  # counts every read: a broken file counts again each epoch
        self.skipped_files: dict[Path, str] = {}  # each skipped file once, with its reason
        self._enc = _Encoder(self.size, chunk, features)
        self.planes = self._enc.planes
        self._rng = np.random.default_rng([self.seed, self.epoch, self.files_read, 1])
        nb = packed_bytes(self.size, self.planes)
        self._cap = int(shuffle_buffer)
        self._buf = np.empty((self._cap, nb), np.uint8)
        self._buf_t = np.empty(self._cap, np.int64)
        self._buf_z = np.empty(self._cap, np.int8)
        self._fill = 0
        self._out: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []  # positions out of the buffer, in order
        self._out_n = 0
        self._positions_this_epoch = 0
        self._maps = np.stack([move_map(self.size, k) for k in range(NUM_SYMMETRIES)])

    def _order(self, epoch: int) -> list[Path]:
        perm = np.random.default_rng([self.seed, epoch]).permutation(len(self.files))
        return [self.files[i] for i in perm]

    def _chunks(self) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        while True:
            order = self._order(self.epoch)
            started_at = self.files_read
            for path in order[self.files_read :]:
                self.files_read += 1
                self.stats.files += 1
                record, reason = load_game(path, self.size)
                if record is None:
                    self.stats.skip(reason)
                    self.skipped_files[path] = reason
                    continue
                self.stats.games += 1
                before = self.stats.positions
                try:
                    yield from _game_positions(record, self._enc, self.stats)
                except SGFError as e:  # load_game replayed it already; only a bug gets here
                    self.stats.skip("illegal move")
                    log.warning("skipping %s: %s", path, e)
                self._positions_this_epoch += self.stats.positions - before
            if self._enc.count:
                yield self._enc.flush()
            if self._positions_this_epoch == 0 and started_at == 0:
                raise ValueError(
                    f"no usable {self.size}x{self.size} positions in {len(self.files)} SGF files "
                    f"(skipped: {dict(self.stats.skipped_by_reason)})"
                )
            self.epoch += 1
            self.files_read = 0
            self._positions_this_epoch = 0
            log.info("SGF stream: epoch %d begins (%s)", self.epoch, self.stats.to_dict())

    def _take(self, packed: np.ndarray, targets: np.ndarray, values: np.ndarray) -> None:
        """Put new positions into the buffer; once it is full, each new one replaces a random one, which goes out."""
        k = len(targets)
        room = min(self._cap - self._fill, k)
        if room:
            self._buf[self._fill : self._fill + room] = packed[:room]
            self._buf_t[self._fill : self._fill + room] = targets[:room]
            self._buf_z[self._fill : self._fill + room] = values[:room]
            self._fill += room
        i = room
        while i < k:
            n = min(k - i, self._cap)
            idx = self._rng.choice(self._cap, size=n, replace=False)
            self._out.append((self._buf[idx], self._buf_t[idx], self._buf_z[idx]))  # fancy indexing copies
            self._out_n += n
            self._buf[idx] = packed[i : i + n]
            self._buf_t[idx] = targets[i : i + n]
            self._buf_z[idx] = values[i : i + n]
            i += n

    def _batch(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        b = self.batch_size
        packed = np.concatenate([p for p, _, _ in self._out])
        targets = np.concatenate([t for _, t, _ in self._out])
        values = np.concatenate([z for _, _, z in self._out])
        rest_p, rest_t, rest_z = packed[b:], targets[b:], values[b:]
        self._out = [(rest_p, rest_t, rest_z)] if len(rest_t) else []
        self._out_n = len(rest_t)
        planes = unpack_planes(packed[:b], self.planes, self.size, dtype=np.uint8)
        target = targets[:b].copy()
        value = values[:b].copy()
        if self.symmetries:
            ks = self._rng.integers(0, NUM_SYMMETRIES, size=b)
            target = self._maps[ks, target]
            for k in range(1, NUM_SYMMETRIES):
                sel = np.flatnonzero(ks == k)
                if len(sel):
                    planes[sel] = apply_planes(planes[sel], k)
        if self.dtype is not np.uint8:
            planes = planes.astype(self.dtype)
        return planes, target, value

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        chunks = self._chunks()
        while True:
            while self._out_n < self.batch_size:
                self._take(*next(chunks))
            yield self._batch()
