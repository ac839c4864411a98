"""Batched simulations over the tree of :mod:`igo.engine.mcts`: a batch of leaves selected one after another with
virtual loss (:func:`select_leaves`), their positions kept in a board-state pool (:mod:`igo.engine.pool`), expanded
with an evaluator's priors (:func:`expand_leaves`), played out on threads (:func:`rollout_slots`) and backed up
(:func:`backup_leaves`), plus the history planes of each leaf for feature encoders (:func:`leaf_history`).

Kernels here are compiled without reference counting (:mod:`igo.engine.jit`) and never allocate.
"""

from __future__ import annotations

import numpy as np

from . import board_kernels as K
from .jit import inner_kernel, kernel
from .mcts import (
    LEAF_EXPAND,
    LEAF_READY,
    LEAF_TERMINAL,
    P_KOMI,
    P_NTHR,
    backup,
    descend,
    expand,
    record_final,
    result_sign,
)
from .playout import playout
from .pool import copy_to_slot, pool_slot

# --- batched simulations (an evaluator, or rollouts on several threads) ----------------------------------------------


@kernel
def select_leaves(t, root, pool, params, paths, depths, status, count, expand_now, no_priors):
    """Select ``count`` leaves one after another (virtual loss spreads them), leaving leaf ``i``'s position in pool
    slot ``i``, its path in ``paths[i, :depths[i]]`` and its :data:`LEAF_*` status in ``status[i]``. With
    ``expand_now`` leaves that reached the expansion threshold are expanded at once with the uniform prior;
    otherwise they are marked ``LEAF_EXPAND`` for :func:`expand_leaves` once an evaluator has given priors."""
    for i in range(count):
        copy_to_slot(pool, i, root)  # simple ko, no game history (superko is pruned at the root)
        s = pool_slot(pool, i)
        path = paths[i]
        d = descend(t, s, params, path)
        depths[i] = d
        e = np.int64(path[d - 1])
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
        e = np.int64(paths[i, depths[i] - 1])
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
                v = result_sign(b - w - komi)
            else:
                v = values[i]
        outcome = 0.0
        if has_rollout:
            outcome = result_sign(scores[i] - komi)
            record_final(s, scores[i], komi, own, stats)
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
                p = np.int64(t.move[paths[i, j]])
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


@inner_kernel
def _copy8(dst, src):
    for i in range(src.shape[0]):
        dst[i] = src[i]


__all__ = ["select_leaves", "expand_leaves", "rollout_slots", "backup_leaves", "leaf_history"]
