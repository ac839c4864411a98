"""A pool of board states: ``count`` positions of one size in one :class:`~igo.engine.board_kernels.BoardState` whose
arrays have a leading batch axis.

The search keeps the leaves of a batch here, feature encoders read a batch of positions from here, and trainers and
self-play load many boards here to encode them in one call. A slot holds a position without its game history, under
simple ko (the rule that needs no history), as the search's leaves are: :func:`copy_to_slot` loads one so.

- :func:`new_pool` makes a pool; :func:`slot_view` is one slot as numpy views (Python), :func:`pool_slot` the same
  inside kernels;
- :func:`legal_masks` fills the legal moves of the first slots (a search batch's ``legal``);
- :func:`copy_to_slot` copies a position (``board.state`` of an :class:`igo.engine.board.Board`, or any state) into
  a slot; :func:`copy_slots` copies the first slots of one pool into another; :func:`take_slots` and
  :func:`concat_slots` gather slots of one or several pools into a new pool.
"""

from __future__ import annotations

import numpy as np

from . import board_kernels as K
from .jit import inner_kernel, kernel
from .playout import is_eye


def new_pool(size: int, count: int) -> K.BoardState:
    """``count`` board states of ``size`` in one :class:`~igo.engine.board_kernels.BoardState` whose arrays have a
    leading batch axis; :func:`pool_slot` (kernels) and :func:`slot_view` (Python) are one of them."""
    return K.alloc_states(size, (count,))


def slot_view(pool: K.BoardState, i: int) -> K.BoardState:
    """The ``i``-th state of a pool as numpy views, for Python code (kernels use :func:`pool_slot`)."""
    return K.BoardState(*(a[i] for a in pool))


def take_slots(pool: K.BoardState, rows) -> K.BoardState:
    """A new pool of the states ``pool[rows]`` (copies), ``rows`` an integer array or sequence."""
    rows = np.asarray(rows, np.int64)
    return K.BoardState(*(a[rows] for a in pool))


def concat_slots(pools, counts) -> K.BoardState:
    """A new pool of the first ``counts[k]`` states of each ``pools[k]``, in order (copies)."""
    parts = list(zip(pools, counts, strict=True))
    return K.BoardState(*(np.concatenate([pool[k][:c] for pool, c in parts]) for k in range(len(K.BoardState._fields))))


@inner_kernel
def pool_slot(pool, i):
    """The ``i``-th state of a pool (views, no copy), inside kernels only: never return it to Python."""
    return K.BoardState(
        pool.stones[i],
        pool.chain[i],
        pool.nxt[i],
        pool.libs[i],
        pool.size[i],
        pool.empties[i],
        pool.epos[i],
        pool.meta[i],
        pool.hist_hash[i],
        pool.hist_color[i],
        pool.scratch[i],
    )


@kernel
def copy_to_slot(pool, i, src):
    """Copy the position ``src`` (a :class:`~igo.engine.board_kernels.BoardState` of the pool's size, e.g. a Board's
    ``state``) into slot ``i`` of ``pool``, without its game history and under simple ko: a search leaf. Callable from
    Python and from kernels."""
    s = pool_slot(pool, i)
    K.copy_position(s, src)
    s.meta[K.M_KO_RULE] = K.KO_SIMPLE
    s.meta[K.M_NHIST] = 0


@kernel
def copy_slots(dst, src, count):
    """Copy the positions of the first ``count`` slots of pool ``src`` into pool ``dst`` (rollouts then run on the
    copies while an evaluator reads the originals)."""
    for i in range(count):
        K.copy_position(pool_slot(dst, i), pool_slot(src, i))
    return count


@kernel
def legal_masks(pool, count, out, fill_eyes):
    """Row ``i < count`` of ``out`` (bool ``[>=count, N*N + 1]``): the legal points (flat order) of slot ``i`` for
    its player to move, without its own single-point eyes unless ``fill_eyes`` (as the search's nodes), then pass
    (always legal): a search batch's ``legal`` in one call. Returns ``count``."""
    for i in range(count):
        s = pool_slot(pool, i)
        row = out[i]
        color = np.int64(s.meta[K.M_TO_MOVE])
        K.legal_mask(s, color, row)
        if not fill_eyes:
            n = s.meta[K.M_SIZE]
            w = n + 2
            for j in range(s.meta[K.M_NEMPTY]):
                p = np.int64(s.empties[j])
                f = (p // w - 1) * n + p % w - 1
                if row[f] and is_eye(s, p, color):
                    row[f] = False
        row[row.shape[0] - 1] = True
    return count


__all__ = [
    "legal_masks",
    "new_pool",
    "slot_view",
    "take_slots",
    "concat_slots",
    "pool_slot",
    "copy_to_slot",
    "copy_slots",
]
