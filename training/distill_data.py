"""Data of ``igo train distill`` (:mod:`igo.training.distill`): a Zero run's replay chunks read read-only, the
held-out positions, and a network's outputs over packed positions.

:func:`read_replay` reads the ``chunk-*.npz`` files that :class:`igo.selfplay.replay.ReplayBuffer` writes (the format
is in that module's docstring) without writing or deleting anything in the directory (a live Zero run may be writing
there; the buffer's own reload would delete its ``.tmp`` files): the newest chunks first, whole chunks, until
``max_positions``; whole games held out by a hash of ``"<chunk name>/<game index>"``
(:func:`igo.training.sgf_data.is_holdout`, the same split on every run). Chunks are treated as hostile: every
array's ``.npy`` header is read before anything is decompressed (no Python objects, at most
:data:`MAX_CHUNK_BYTES` in all: numpy allocates the declared shape before it reads), ``np.load`` never unpickles, and
shapes, dtypes, finite values, values in [-1, 1] and policies summing to 1 are checked. A chunk that fails is skipped
with a warning; a readable chunk of another board size or plane count is a ValueError (the wrong directory).
"""

from __future__ import annotations

import logging
import math
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from igo.engine.planes import packed_width, unpack_planes

from .sgf_data import is_holdout

log = logging.getLogger(__name__)

EVAL_BATCH = 512
MAX_CHUNK_BYTES = 1 << 30  # uncompressed bytes of one replay chunk's arrays (a hostile zip could claim far more)


# --- replay chunks -----------------------------------------------------------------------------------------------


@dataclass
class ReplayData:
    """Positions read from replay chunks: packed planes ``uint8 [P, W]``, visit distributions ``float16 [P, A]``,
    results ``float32 [P]``."""

    planes: np.ndarray
    policy: np.ndarray
    value: np.ndarray

    def __len__(self) -> int:
        return len(self.value)


class _ChunkMismatch(ValueError):
    """A readable chunk of another board size or plane count: an error, not skipped."""


def _check_members(path: Path) -> None:
    """Refuse a chunk whose arrays, as their ``.npy`` headers declare them, would take more than
    :data:`MAX_CHUNK_BYTES` or hold Python objects: checked before anything is decompressed into memory (numpy
    allocates an array of the declared shape before it reads the data)."""
    fmt = np.lib.format
    total = 0
    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            with zf.open(info) as f:
                version = fmt.read_magic(f)
                if version not in ((1, 0), (2, 0)):
                    raise _BadChunk(f"{info.filename} is a .npy file of version {version}")
                read = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
                shape, _, dtype = read(f)
            if dtype.hasobject:
                raise _BadChunk(f"{info.filename} holds Python objects")
            total += math.prod(shape) * dtype.itemsize
            if total > MAX_CHUNK_BYTES:
                raise _BadChunk(f"its arrays would take more than {MAX_CHUNK_BYTES} bytes")


def _read_chunk(path: Path, size: int, planes: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(planes, policy, value, game_lengths)`` of one chunk, checked (shapes, types, finite values, policies
    summing to 1, renormalised). _ChunkMismatch for a chunk of another size or plane count; any other exception for
    an unreadable one."""
    _check_members(path)
    with np.load(path, allow_pickle=False) as z:
        n_size, n_planes = z["size"], z["num_planes"]
        if n_size.shape != () or n_planes.shape != () or (int(n_size), int(n_planes)) != (size, planes):
            raise _ChunkMismatch(f"replay chunk {path} holds {n_planes} planes of {n_size}x{n_size}; this run needs "
                                 f"{planes} planes of {size}x{size}")  # fmt: skip
        p, pol, val, lengths = z["planes"], z["policy"], z["value"], z["game_lengths"]
    n = len(val)
    ok = (p.dtype == np.uint8 and p.shape == (n, packed_width(planes, size)) and pol.shape == (n, size * size + 1)
          and np.issubdtype(pol.dtype, np.floating) and val.shape == (n,) and np.issubdtype(val.dtype, np.floating)
          and lengths.ndim == 1 and np.issubdtype(lengths.dtype, np.integer) and (lengths >= 0).all()
          and (lengths <= n).all() and int(lengths.astype(np.int64).sum()) == n)  # fmt: skip
    if not ok:
        raise _BadChunk("arrays of inconsistent shapes or types")
    pol = pol.astype(np.float32)
    val = val.astype(np.float32)
    if not (np.isfinite(pol).all() and (pol >= 0).all() and np.isfinite(val).all() and (np.abs(val) <= 1).all()):
        raise _BadChunk("negative or non-finite policies, or values outside [-1, 1]")
    sums = pol.sum(axis=1, keepdims=True)
    if (np.abs(sums - 1) > 1e-2).any():
        raise _BadChunk("a policy row does not sum to 1")
    return p, (pol / np.maximum(sums, 1e-6)).astype(np.float16), val, lengths.astype(np.int64)


class _BadChunk(Exception):
    """A chunk that cannot be used: skipped with a warning."""


def read_replay(directory: str | Path, size: int, planes: int, holdout: float,
                max_positions: int) -> tuple[ReplayData, ReplayData, dict]:  # fmt: skip
    """``(train, held_out, stats)`` from the ``chunk-*.npz`` files of a replay directory, newest chunks first until
    ``max_positions`` positions (whole chunks), never writing or deleting anything there. Game ``g`` of chunk
    ``chunk-X.npz`` is held out when :func:`igo.training.sgf_data.is_holdout` of ``"chunk-X.npz/g"`` says so (the
    same split on every run). Unreadable chunks are skipped with a warning (``stats["skipped"]``); a chunk of
    another board size or plane count is a ValueError. FileNotFoundError / NotADirectoryError for a missing
    directory."""
    root = Path(directory)
    if not root.exists():
        raise FileNotFoundError(f"replay directory {str(root)!r} does not exist")
    if not root.is_dir():
        raise NotADirectoryError(f"{str(root)!r} is not a directory (give a Zero run's replay/ directory)")
    pattern = re.compile(r"^chunk-(\d{8,})\.npz$")
    chunks = sorted((int(m.group(1)), p) for p in root.iterdir() if (m := pattern.match(p.name)) and p.is_file())
    parts: dict[bool, list] = {False: [], True: []}
    have = skipped = games = 0
    for _, path in reversed(chunks):
        if have >= max_positions:
            break
        try:
            p, pol, val, lengths = _read_chunk(path, size, planes)
        except _ChunkMismatch:
            raise
        except Exception as e:  # _BadChunk, zipfile.BadZipFile, EOFError, OSError, KeyError, ValueError, zlib.error...
            log.warning("skipping unreadable replay chunk %s: %s", path, e)
            skipped += 1
            continue
        held = np.repeat([is_holdout(f"{path.name}/{g}", holdout) for g in range(len(lengths))], lengths)
        for side in (False, True):
            sel = held == side
            parts[side].append((p[sel], pol[sel], val[sel]))
        have += len(val)
        games += len(lengths)

    def join(side: bool) -> ReplayData:
        got = parts[side][::-1]  # oldest first
        if not got:
            return ReplayData(np.empty((0, packed_width(planes, size)), np.uint8),
                              np.empty((0, size * size + 1), np.float16), np.empty(0, np.float32))  # fmt: skip
        return ReplayData(*(np.concatenate([g[j] for g in got]) for j in range(3)))

    train, held = join(False), join(True)
    stats = {"chunks": len(chunks), "chunks_read": len(chunks) - skipped if have < max_positions else None,
             "skipped": skipped, "games": games, "positions": have}  # fmt: skip
    return train, held, stats


# --- held-out data -----------------------------------------------------------------------------------------------


@dataclass
class HeldOut:
    """Held-out positions: packed planes, hard targets (move indices ``int64 [M]`` or distributions ``[M, A]``),
    outcomes ``z float32 [M]`` and their mask ``bool [M]`` (False: no outcome)."""

    planes: np.ndarray
    target: np.ndarray
    z: np.ndarray
    mask: np.ndarray

    def __len__(self) -> int:
        return len(self.z)


@torch.no_grad()
def forward_all(model, packed: np.ndarray, planes: int, size: int, device, amp: bool) -> tuple[torch.Tensor, ...]:
    """``(logits float32 [M, A], value float32 [M])`` of a Zero ``model`` (in eval mode for the call) over packed
    positions, on the CPU."""
    was_training = model.training
    model.eval()
    out_l, out_v = [], []
    for i in range(0, len(packed), EVAL_BATCH):
        x = torch.from_numpy(unpack_planes(packed[i : i + EVAL_BATCH], planes, size, dtype=np.uint8))
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=amp):
            logits, value = model(x.to(device).float())
        out_l.append(logits.float().cpu())
        out_v.append(value.float().cpu())
    model.train(was_training)
    if not out_l:
        return torch.empty(0, size * size + 1), torch.empty(0)
    return torch.cat(out_l), torch.cat(out_v)


__all__ = ["EVAL_BATCH", "MAX_CHUNK_BYTES", "HeldOut", "ReplayData", "forward_all", "read_replay"]
