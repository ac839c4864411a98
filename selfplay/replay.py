"""The AlphaGo Zero replay buffer: the most recent self-play positions, sampled with random symmetries.

Self-play hands over finished games, each a dict::

    {"planes": uint8 [P, B],     # igo.engine.planes.pack_planes of the planes [P, C, N, N], B = ceil(C*N*N/8)
     "policy": float16/32 [P, N*N+1],  # search visit distribution, pass last, each row sums to 1
     "value":  float32 [P],      # final result for the player to move: +1, -1 or 0
     "sgf":    str,              # the game record (optional)
     "meta":   dict}             # JSON-serialisable facts about the game (optional), kept as is

:class:`ReplayBuffer` keeps the newest ``window`` **positions** in preallocated ring arrays (packed planes ``uint8``,
policy ``float16``, value ``float16``: 9x9 with 17 planes is about 340 bytes a position, 19x19 about 1.5 kB).
:meth:`ReplayBuffer.sample` draws positions uniformly from the window (with replacement) and applies one of the 8
board symmetries (:mod:`igo.engine.symmetry`) to each, the same one to its planes and its policy; pass stays last.

**On disk.** With a ``directory`` every :meth:`ReplayBuffer.add` writes its batch of games as one compressed chunk
``chunk-{seq:08d}.npz`` holding plain arrays only (never pickles, read with ``allow_pickle=False``):

=========================  ===============  ==================================================================
array                      dtype, shape     meaning
=========================  ===============  ==================================================================
``planes``                 uint8 [P, B]     packed feature planes of the P positions of the batch
``policy``                 float16 [P, A]   visit distributions, ``A = N*N + 1``
``value``                  float16 [P]      results for the player to move
``game_lengths``           int32 [G]        positions per game, in order (sums to P)
``meta``                   uint8 [M]        UTF-8 JSON: a list with each game's ``meta`` dict
``size``, ``num_planes``   int32 []         board size N and plane count C (must match the buffer)
``games_total_after``      int64 []         games added since the directory was new, this chunk included
``positions_total_after``  int64 []         positions likewise
``format_version``         int32 []         1
=========================  ===============  ==================================================================

With a ``games_dir`` each game's SGF goes to ``games_dir/{game_number:08d}.sgf`` (0-based, in the order added). A
finished record is never replaced: should that name be taken already (only a damaged replay directory can make the
count disagree with the records), the game is written as ``{game_number:08d}-{k}.sgf`` with the first free ``k`` and a
warning.

**Crash safety.** A crash loses no finished game: each ``add()`` is on disk before it returns. Every file is written
atomically (:mod:`igo.engine.fileio`: ``<name>.tmp``, fsync, ``os.replace``; then the directory fsynced), so a file
is either whole or absent. The chunk is written before the SGFs; a crash between them leaves games without a record but
never a record without its training data.

**Restart.** A buffer made on an existing ``directory`` reloads it: the newest chunks, only as many as fill the window,
go back into the ring, and the totals come from the newest readable chunk (each chunk stores the running totals), so a
restart reads little however long the run. The game count is also never below what ``games_dir`` holds: when the
newest chunk is unreadable its games' records are still there, and numbering goes on after the highest record (their
positions are lost with the chunk, so ``positions_total`` stays that of the newest readable chunk). Leftover ``.tmp``
files of the buffer (a crash mid-write: ``chunk-*.npz.tmp``, ``games_dir/<number>.sgf.tmp``) are deleted with a
warning; a chunk that cannot be read (truncated, corrupt) is skipped with a warning and left in place; numbering
continues after the highest chunk file present. A chunk written for another board size or plane count is a ValueError
naming the file. The warnings also wait in :meth:`ReplayBuffer.take_warnings`, so that a driver can show them when
the buffer runs in a Ray worker whose log does not reach the console.

The buffer is not thread-safe. As a Ray actor (:func:`replay_actor_class`) its calls run one at a time::

    Replay = replay_actor_class()
    buf = Replay.remote(9, 17, 500_000, directory=run_dir / "replay", games_dir=run_dir / "games")
    ray.get(buf.add.remote(games))
    planes, policy, value = ray.get(buf.sample.remote(256))
"""

from __future__ import annotations

import json
import logging
import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from igo.engine.coords import check_size
from igo.engine.fileio import atomic_write, atomic_write_stream, fsync_dir
from igo.engine.planes import packed_width, unpack_planes
from igo.engine.symmetry import NUM_SYMMETRIES, apply_planes, apply_policy

__all__ = [
    "CHUNK_FORMAT_VERSION",
    "ReplayBuffer",
    "replay_actor_class",
]

logger = logging.getLogger(__name__)

CHUNK_FORMAT_VERSION = 1
_CHUNK_RE = re.compile(r"^chunk-(\d{8,})\.npz$")
_CHUNK_TMP_RE = re.compile(r"^chunk-\d{8,}\.npz\.tmp$")
_GAME_RE = re.compile(r"^(\d{8,})(?:-\d+)?\.sgf$")
_GAME_TMP_RE = re.compile(r"^\d{8,}(?:-\d+)?\.sgf\.tmp$")
_MAX_WARNINGS = 100  # kept for take_warnings(); more are only logged
_POLICY_SUM_TOL = 1e-2  # float16 rounding of a visit distribution moves its sum by well under 1e-3
_ACTOR_CLASS = None


class _CorruptChunk(Exception):
    """A chunk file that cannot be read back: skipped with a warning."""


class _ChunkMismatch(ValueError):
    """A readable chunk for another board size or plane count: an error, not skipped."""


def _scalar(z, key: str) -> int:
    a = z[key]
    if a.shape != () or not np.issubdtype(a.dtype, np.integer):
        raise _CorruptChunk(f"{key} is not an integer scalar")
    return int(a)


# --- the buffer ------------------------------------------------------------------------------------------------------


class ReplayBuffer:
    """The newest ``window`` self-play positions of ``size x size`` games with ``planes`` feature planes.

    ``directory`` (chunk files) and ``games_dir`` (SGF files) are optional; ``seed`` seeds :meth:`sample`'s default
    random generator. See the module docstring for the formats.
    """

    def __init__(
        self,
        size: int,
        planes: int,
        window: int,
        directory: str | Path | None = None,
        games_dir: str | Path | None = None,
        seed: int | None = None,
    ) -> None:
        self.size = check_size(int(size) if isinstance(size, np.integer) else size)
        if isinstance(planes, bool) or not isinstance(planes, int | np.integer) or planes < 1:
            raise ValueError(f"planes must be a positive integer, got {planes!r}")
        if isinstance(window, bool) or not isinstance(window, int | np.integer) or window < 1:
            raise ValueError(f"window must be a positive integer, got {window!r}")
        self.planes = int(planes)
        self.window = int(window)
        self.actions = self.size * self.size + 1
        self.width = packed_width(self.planes, self.size)
        self.directory = Path(directory) if directory is not None else None
        self.games_dir = Path(games_dir) if games_dir is not None else None
        self._rng = np.random.default_rng(seed)

        self._planes = np.zeros((self.window, self.width), dtype=np.uint8)
        self._policy = np.zeros((self.window, self.actions), dtype=np.float16)
        self._value = np.zeros(self.window, dtype=np.float16)
        self._head = 0  # next slot to write; while not full the filled slots are 0.._count-1
        self._count = 0

        self.games_total = 0
        self.positions_total = 0
        self._next_seq = 0
        self._chunks = 0
        self._warnings: list[str] = []

        if self.directory is not None:
            self.directory.mkdir(parents=True, exist_ok=True)
            self._reload()
        if self.games_dir is not None:
            self.games_dir.mkdir(parents=True, exist_ok=True)
            self._count_records()

    def _warn(self, message: str) -> None:
        logger.warning("%s", message)
        if len(self._warnings) < _MAX_WARNINGS:
            self._warnings.append(message)

    def take_warnings(self) -> list[str]:
        """The warnings logged since the last call (restart and add), oldest first, and forget them: a driver logs
        them where the user sees them (a Ray worker's own log does not reach the console)."""
        out, self._warnings = self._warnings, []
        return out

    def _count_records(self) -> None:
        """Delete the buffer's stale ``.sgf.tmp`` files; raise ``games_total`` to one past the highest game record
        present (the records of an unreadable newest chunk are there although its totals are lost)."""
        highest = -1
        for entry in self.games_dir.iterdir():
            if _GAME_TMP_RE.match(entry.name):
                if entry.is_file():
                    self._warn(f"deleting {entry}, left by a write that did not finish")
                    entry.unlink(missing_ok=True)
                continue
            m = _GAME_RE.match(entry.name)
            if m:
                highest = max(highest, int(m.group(1)))
        if highest + 1 > self.games_total:
            if self.directory is not None:
                self._warn(
                    f"{self.games_dir} holds game records up to number {highest}, more than the replay chunks in "
                    f"{self.directory} count ({self.games_total} games): the newest chunk is damaged or missing; "
                    f"numbering the new games from {highest + 1} so that no record is overwritten"
                )
            self.games_total = highest + 1

    # --- adding ------------------------------------------------------------------------------------------------------

    def add(self, games: list[dict]) -> dict:
        """Append finished games (oldest positions fall out of the window); write their chunk and SGFs if configured.

        Every game is validated before anything changes (ValueError naming the game and the problem). Returns
        ``{"games_total", "positions_total", "positions", "chunk"}`` (``chunk``: the chunk's path or None).
        """
        if isinstance(games, dict):
            raise ValueError("add() takes a list of games, got a single game dict")
        games = list(games)
        checked = [self._check_game(i, g) for i, g in enumerate(games)]
        if not checked:
            return self._result(None)
        planes = np.concatenate([c[0] for c in checked])
        policy = np.concatenate([c[1] for c in checked])
        value = np.concatenate([c[2] for c in checked])
        lengths = np.array([len(c[2]) for c in checked], dtype=np.int32)
        first_game = self.games_total
        games_after = self.games_total + len(checked)
        positions_after = self.positions_total + len(value)

        chunk = None
        if self.directory is not None:
            chunk = self._write_chunk(
                planes, policy, value, lengths, [c[4] for c in checked], games_after, positions_after
            )

        self._append(planes, policy, value)
        self.games_total = games_after
        self.positions_total = positions_after

        if self.games_dir is not None:
            for j, c in enumerate(checked):
                if c[3] is not None:
                    self._write_record(first_game + j, c[3])
            fsync_dir(self.games_dir)
        logger.debug(
            "added %d games, %d positions (totals %d games, %d positions; %d in window)",
            len(checked),
            len(value),
            self.games_total,
            self.positions_total,
            self._count,
        )
        return self._result(chunk)

    def _write_record(self, number: int, sgf: str) -> Path:
        """Write game ``number``'s SGF as ``{number:08d}.sgf``, or under the first free ``{number:08d}-{k}.sgf`` when
        that record exists already: a finished record is never replaced (this buffer is the directory's one writer)."""
        path = self.games_dir / f"{number:08d}.sgf"
        k = 0
        while os.path.lexists(path):
            k += 1
            path = self.games_dir / f"{number:08d}-{k}.sgf"
        if k:
            self._warn(f"{self.games_dir / f'{number:08d}.sgf'} exists already; game {number} is written as {path}")
        atomic_write(path, sgf)
        return path

    def _result(self, chunk: Path | None) -> dict:
        return {
            "games_total": self.games_total,
            "positions_total": self.positions_total,
            "positions": self._count,
            "chunk": str(chunk) if chunk is not None else None,
        }

    def _check_game(self, i: int, game: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, str | None, dict]:
        if not isinstance(game, dict):
            raise ValueError(f"game {i}: expected a dict, got {type(game).__name__}")
        missing = [k for k in ("planes", "policy", "value") if k not in game]
        if missing:
            raise ValueError(f"game {i}: missing {', '.join(missing)}")
        planes = np.asarray(game["planes"])
        policy = np.asarray(game["policy"])
        value = np.asarray(game["value"])
        if planes.dtype != np.uint8 or planes.ndim != 2 or planes.shape[1] != self.width:
            raise ValueError(
                f"game {i}: planes must be packed uint8 [P, {self.width}] ({self.planes} planes of "
                f"{self.size}x{self.size}), got {planes.dtype} {planes.shape}"
            )
        n = planes.shape[0]
        if not np.issubdtype(policy.dtype, np.floating) or policy.shape != (n, self.actions):
            raise ValueError(
                f"game {i}: policy must be float [{n}, {self.actions}] for {n} positions on {self.size}x{self.size}, "
                f"got {policy.dtype} {policy.shape}"
            )
        if not (np.issubdtype(value.dtype, np.floating) or np.issubdtype(value.dtype, np.signedinteger)):
            raise ValueError(f"game {i}: value must be float, got {value.dtype}")
        if value.shape != (n,):
            raise ValueError(f"game {i}: value must have shape [{n}] for {n} positions, got {value.shape}")
        if n:
            if not np.isfinite(policy).all() or (policy < 0).any():
                raise ValueError(f"game {i}: policy has negative or non-finite entries")
            sums = policy.sum(axis=1, dtype=np.float64)
            bad = np.flatnonzero(np.abs(sums - 1.0) > _POLICY_SUM_TOL)
            if len(bad):
                raise ValueError(f"game {i}: policy of position {bad[0]} sums to {sums[bad[0]]:.4f}, not 1")
            if not np.isfinite(value).all() or (np.abs(value) > 1).any():
                raise ValueError(f"game {i}: value must lie in [-1, 1]")
        sgf = game.get("sgf")
        if sgf is not None and not isinstance(sgf, str):
            raise ValueError(f"game {i}: sgf must be a str, got {type(sgf).__name__}")
        meta = game.get("meta", {})
        if meta is None:
            meta = {}
        if not isinstance(meta, dict):
            raise ValueError(f"game {i}: meta must be a dict, got {type(meta).__name__}")
        try:
            json.dumps(meta, allow_nan=False)
        except (TypeError, ValueError) as e:
            raise ValueError(f"game {i}: meta is not JSON-serialisable: {e}") from None
        return planes, policy.astype(np.float16), value.astype(np.float16), sgf, meta

    def _append(self, planes: np.ndarray, policy: np.ndarray, value: np.ndarray) -> None:
        n = len(value)
        if n >= self.window:
            self._planes[:] = planes[-self.window :]
            self._policy[:] = policy[-self.window :]
            self._value[:] = value[-self.window :]
            self._head = 0
            self._count = self.window
            return
        first = min(n, self.window - self._head)
        for dst, src in ((self._planes, planes), (self._policy, policy), (self._value, value)):
            dst[self._head : self._head + first] = src[:first]
            dst[: n - first] = src[first:]
        self._head = (self._head + n) % self.window
        self._count = min(self.window, self._count + n)

    def _write_chunk(
        self,
        planes: np.ndarray,
        policy: np.ndarray,
        value: np.ndarray,
        lengths: np.ndarray,
        metas: list[dict],
        games_after: int,
        positions_after: int,
    ) -> Path:
        meta = np.frombuffer(json.dumps(metas, allow_nan=False).encode("utf-8"), dtype=np.uint8)
        arrays = {
            "planes": planes,
            "policy": policy,
            "value": value,
            "game_lengths": lengths,
            "meta": meta,
            "size": np.int32(self.size),
            "num_planes": np.int32(self.planes),
            "games_total_after": np.int64(games_after),
            "positions_total_after": np.int64(positions_after),
            "format_version": np.int32(CHUNK_FORMAT_VERSION),
        }
        path = self.directory / f"chunk-{self._next_seq:08d}.npz"
        atomic_write_stream(path, lambda f: np.savez_compressed(f, **arrays))
        fsync_dir(self.directory)
        self._next_seq += 1
        self._chunks += 1
        return path

    # --- reloading ---------------------------------------------------------------------------------------------------

    def _reload(self) -> None:
        chunks: list[tuple[int, Path]] = []
        for entry in self.directory.iterdir():
            if _CHUNK_TMP_RE.match(entry.name):
                self._warn(f"deleting {entry}, left by a write that did not finish")
                entry.unlink(missing_ok=True)
                continue
            m = _CHUNK_RE.match(entry.name)
            if m and entry.is_file():
                chunks.append((int(m.group(1)), entry))
        if not chunks:
            return
        chunks.sort()
        self._next_seq = chunks[-1][0] + 1
        self._chunks = len(chunks)

        loaded: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        have = 0
        totals = None
        for _, path in reversed(chunks):
            if have >= self.window:
                break
            try:
                planes, policy, value, games_after, positions_after = self._read_chunk(path)
            except _CorruptChunk as e:
                self._warn(f"skipping unreadable replay chunk {path}: {e}")
                self._chunks -= 1
                continue
            if totals is None:
                totals = (games_after, positions_after)
            loaded.append((planes, policy, value))
            have += len(value)
        if totals is not None:
            self.games_total, self.positions_total = totals
        if loaded:
            loaded.reverse()
            self._append(*(np.concatenate([part[j] for part in loaded]) for j in range(3)))
        logger.info(
            "reloaded %d positions from %d of %d chunks in %s (totals: %d games, %d positions)",
            self._count,
            len(loaded),
            len(chunks),
            self.directory,
            self.games_total,
            self.positions_total,
        )

    def _read_chunk(self, path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, int, int]:
        try:
            with np.load(path, allow_pickle=False) as z:
                size = _scalar(z, "size")
                num_planes = _scalar(z, "num_planes")
                if size != self.size or num_planes != self.planes:
                    raise _ChunkMismatch(
                        f"replay chunk {path} holds {num_planes} planes of {size}x{size}, but this buffer is for "
                        f"{self.planes} planes of {self.size}x{self.size}"
                    )
                planes = z["planes"]
                policy = z["policy"]
                value = z["value"]
                lengths = z["game_lengths"]
                games_after = _scalar(z, "games_total_after")
                positions_after = _scalar(z, "positions_total_after")
        except (_ChunkMismatch, _CorruptChunk):
            raise
        except Exception as e:  # zipfile.BadZipFile, EOFError, OSError, KeyError, zlib.error, ...
            raise _CorruptChunk(f"{type(e).__name__}: {e}") from e
        n = len(value)
        if (
            planes.dtype != np.uint8
            or planes.shape != (n, self.width)
            or policy.shape != (n, self.actions)
            or value.shape != (n,)
            or lengths.ndim != 1
            or int(lengths.sum()) != n
        ):
            raise _CorruptChunk("arrays have inconsistent shapes")
        return planes, policy.astype(np.float16), value.astype(np.float16), games_after, positions_after

    # --- reading -----------------------------------------------------------------------------------------------------

    def sample(self, batch: int, rng: np.random.Generator | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Draw ``batch`` positions uniformly from the window (with replacement), each under a random symmetry.

        Returns ``planes float32 [batch, C, N, N]``, ``policy float32 [batch, N*N+1]`` (pass last, transformed with
        the planes) and ``value float32 [batch]``. ``rng`` defaults to the buffer's own seeded generator.
        """
        if isinstance(batch, bool) or not isinstance(batch, int | np.integer) or batch < 1:
            raise ValueError(f"batch must be a positive integer, got {batch!r}")
        if self._count == 0:
            raise ValueError("cannot sample from an empty replay buffer")
        rng = self._rng if rng is None else rng
        idx = rng.integers(0, self._count, size=batch)
        ks = rng.integers(0, NUM_SYMMETRIES, size=batch)
        n = self.size
        bits = unpack_planes(self._planes[idx], self.planes, n, dtype=np.uint8)
        policy_in = self._policy[idx].astype(np.float32)
        planes = np.empty((batch, self.planes, n, n), dtype=np.float32)
        policy = np.empty((batch, self.actions), dtype=np.float32)
        for k in range(NUM_SYMMETRIES):
            rows = np.flatnonzero(ks == k)
            if len(rows) == 0:
                continue
            planes[rows] = apply_planes(bits[rows], k)
            policy[rows] = apply_policy(policy_in[rows], n, k)
        value = self._value[idx].astype(np.float32)
        return planes, policy, value

    def window_arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Copies of the positions in the window, oldest first: packed planes uint8, policy float16, value float32."""
        if self._count < self.window:
            order = np.arange(self._count)
        else:
            order = (self._head + np.arange(self.window)) % self.window
        return self._planes[order], self._policy[order], self._value[order].astype(np.float32)

    def stats(self) -> dict:
        """Counters: ``games_total``, ``positions_total`` (ever added), ``positions`` (in the window), ``window``,
        ``chunks`` (chunk files in ``directory`` less those found unreadable, 0 without one)."""
        return {
            "games_total": self.games_total,
            "positions_total": self.positions_total,
            "positions": self._count,
            "window": self.window,
            "chunks": self._chunks,
        }

    def __len__(self) -> int:
        return self._count

    def __repr__(self) -> str:
        return (
            f"ReplayBuffer(size={self.size}, planes={self.planes}, window={self.window}, positions={self._count}, "
            f"games_total={self.games_total}, directory={str(self.directory) if self.directory else None!r})"
        )


def replay_actor_class():
    """The Ray actor class of :class:`ReplayBuffer` (``num_cpus=0``: it does not take a self-play slot). Cached."""
    global _ACTOR_CLASS
    if _ACTOR_CLASS is None:
        import ray

        _ACTOR_CLASS = ray.remote(num_cpus=0)(ReplayBuffer)
    return _ACTOR_CLASS
