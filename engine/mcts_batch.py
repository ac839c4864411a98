"""Batched simulations over the tree of :mod:`igo.engine.mcts`: a *pool* of leaf positions selected one after another
with virtual loss (:func:`select_leaves`), expanded with an evaluator's priors (:func:`expand_leaves`), played out on
threads (:func:`rollout_slots`) and backed up (:func:`backup_leaves`), plus the history planes of each leaf for
feature encoders (:func:`leaf_history`). :mod:`igo.engine.mcts` re-exports everything here, so callers use ``M.*``.

Kernels here are compiled without reference counting (:mod:`igo.engine.jit`) and never allocate.
"""

from __future__ import annotations

import numpy as np

from . import board_kernels as K
from .jit import kernel
from .mcts import (
    LEAF_EXPAND,
    LEAF_READY,
    LEAF_TERMINAL,
    P_KOMI,
    P_NTHR,
    _record_final,
    _sign,
    backup,
    descend,
    expand,
)
from .playout import playout

# --- batched simulations (an evaluator, or rollouts on several threads) ----------------------------------------------


def new_pool(size: int, count: int) -> K.BoardState:
    """``count`` board states of ``size`` in one :class:`~igo.engine.board_kernels.BoardState` whose arrays have a
    leading batch axis; :func:`pool_slot` is one of them. The leaves of a batch live here."""
    p = (size + 2) * (size + 2)
    h = 4 * size * size + 16
    pool = K.BoardState(
        stones=np.zeros((count, p), np.int8),
        chain=np.zeros((count, p), np.int16),
        nxt=np.zeros((count, p), np.int16),
        libs=np.zeros((count, p), np.int16),
        size=np.zeros((count, p), np.int16),
        empties=np.zeros((count, p), np.int16),
        epos=np.zeros((count, p), np.int16),
        meta=np.zeros((count, K.META_LEN), np.int64),
        hist_hash=np.zeros((count, h), np.int64),
        hist_color=np.zeros((count, h), np.int8),
        scratch=np.zeros((count, 2 * p), np.int16),
    )
    return pool


def slot_view(pool: K.BoardState, i: int) -> K.BoardState:
    """The ``i``-th state of a pool as numpy views, for Python code (kernels use :func:`pool_slot`)."""
    return K.BoardState(*(a[i] for a in pool))


@kernel
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
def select_leaves(t, root, pool, params, paths, depths, status, count, expand_now, no_priors):
    """Select ``count`` leaves one after another (virtual loss spreads them), leaving leaf ``i``'s position in pool
    slot ``i``, its path in ``paths[i, :depths[i]]`` and its :data:`LEAF_*` status in ``status[i]``. With
    ``expand_now`` leaves that reached the expansion threshold are expanded at once with the uniform prior;
    otherwise they are marked ``LEAF_EXPAND`` for :func:`expand_leaves` once an evaluator has given priors."""
    for i in range(count):
        s = pool_slot(pool, i)
        K.copy_position(s, root)
        s.meta[K.M_KO_RULE] = K.KO_SIMPLE
        s.meta[K.M_NHIST] = 0  # the pool keeps no game history
        path = paths[i]
        d = descend(t, s, params, path)
        depths[i] = d
        e = path[d - 1]
        if s.meta[K.M_PASSES] >= 2:
            status[i] = LEAF_TERMINAL
        elif t.child[e] < 0 and t.n[e] + 1 >= params[P_NTHR]:
            if expand_now:
                expand(t, s, e, no_priors, params)
                status[i] = LEAF_READY
            else:
                status[i] = LEAF_EXPAND
        else:
            status[i] = LEAF_READY
    return count


@kernel
def expand_leaves(t, pool, paths, depths, status, count, priors, params):
    """Expand the ``LEAF_EXPAND`` leaves with the evaluator's ``priors[i]`` (unless an earlier leaf of the batch
    expanded the same position). Returns how many nodes were made."""
    made = 0
    for i in range(count):
        if status[i] != LEAF_EXPAND:
            continue
        e = paths[i, depths[i] - 1]
        if t.child[e] < 0:
            if expand(t, pool_slot(pool, i), e, priors[i], params) >= 0:
                made += 1
    return made


@kernel
def rollout_slots(pool, lo, hi, status, rng, max_moves, scores):
    """Play out the leaves ``lo .. hi-1`` of a pool in place and store Black's area margin in ``scores`` (terminal
    leaves are just counted). Runs without the GIL: threads take disjoint ranges, each with its own ``rng``."""
    for i in range(lo, hi):
        s = pool_slot(pool, i)
        if status[i] == LEAF_TERMINAL:
            b, w = K.area(s)
            scores[i] = b - w
        else:
            score, _ = playout(s, rng, max_moves)
            scores[i] = score
    return hi - lo


@kernel
def copy_slots(dst, src, count):
    """Copy the positions of the first ``count`` slots of pool ``src`` into pool ``dst`` (rollouts then run on the
    copies while an evaluator reads the originals)."""
    for i in range(count):
        K.copy_position(pool_slot(dst, i), pool_slot(src, i))
    return count


@kernel
def backup_leaves(t, pool, paths, depths, status, count, values, has_value, scores, has_rollout, params, own, stats):
    """Back up a batch: ``values[i]`` (evaluator, from **Black's** point of view — the caller turns the evaluator's
    side-to-move values around, since a rollout may already have changed the slot) and/or the rollout ``scores[i]``.
    A terminal leaf's value is its exact area result. ``pool`` holds the leaves after their rollouts (the final
    positions give the ownership statistics)."""
    komi = params[P_KOMI]
    for i in range(count):
        s = pool_slot(pool, i)
        v = 0.0
        if has_value:
            if status[i] == LEAF_TERMINAL:
                b, w = K.area(s)
                v = _sign(b - w - komi)
            else:
                v = values[i]
        outcome = 0.0
        if has_rollout:
            outcome = _sign(scores[i] - komi)
            _record_final(s, scores[i], komi, own, stats)
        backup(t, paths[i], depths[i], v, has_value, outcome, has_rollout)
    return count


@kernel
def leaf_history(t, root, root_hist, paths, depths, count, scratch, out):
    """Stones of the last ``H = out.shape[1]`` positions of each leaf: ``out[i, 0]`` the leaf, ``out[i, k]`` the
    position ``k`` moves earlier, going back through the path and then the game (``root_hist[j]`` is the root ``j``
    moves earlier). Padded layout, int8."""
    hlen = out.shape[1]
    for i in range(count):
        d = depths[i]
        K.copy_position(scratch, root)
        # position after j path moves is leaf - (d - j); record those within reach
        for j in range(d + 1):
            k = d - j
            if k < hlen:
                _copy8(out[i, k], scratch.stones)
            if j < d:
                p = t.move[paths[i, j]]
                if p == K.PASS:
                    K.play_pass(scratch)
                else:
                    K.place(scratch, p, scratch.meta[K.M_TO_MOVE])
        for k in range(d + 1, hlen):
            j = k - d
            if j < root_hist.shape[0]:
                _copy8(out[i, k], root_hist[j])
            else:
                _copy8(out[i, k], out[i, k - 1])
    return count


@kernel
def _copy8(dst, src):
    for i in range(src.shape[0]):
        dst[i] = src[i]
