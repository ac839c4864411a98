"""Batched simulations over the tree of :mod:`igo.engine.mcts`: a batch of leaves selected one after another with
virtual loss (:func:`select_leaves`), their positions kept in a board-state pool (:mod:`igo.engine.pool`), expanded
with an evaluator's priors (:func:`expand_leaves`), played out on threads (:func:`rollout_slots`) and backed up
(:func:`backup_leaves`), plus the history planes of each leaf for feature encoders (:func:`leaf_history`).

Kernels here are compiled without reference counting (:mod:`igo.engine.jit`) and never allocate. The Python helpers
at the end serve :class:`igo.engine.search.MCTS`: a root's identity for tree reuse, and joining rollout threads.
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
    T_EDGES,
    T_NODES,
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
        copy_to_slot(pool, i, root)  # simple ko in the slot; descend checks superko against root's history
        s = pool_slot(pool, i)
        path = paths[i]
        d = descend(t, root, s, params, path)
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
def undo_leaves(t, paths, depths, count, nodes, edges):
    """Abandon a batch that :func:`select_leaves` selected and that will not be backed up (the evaluator or a rollout
    failed, or the caller dropped it): take back the virtual loss of every leaf's path, and give back the nodes
    expanded since the tree used ``nodes`` nodes and ``edges`` edges (detaching them from their edges), so that the
    tree is as it was before the selection. Returns ``count``."""
    for i in range(count):
        for j in range(depths[i]):
            e = paths[i, j]
            t.vl[e] -= 1
            if t.child[e] >= nodes:
                t.child[e] = -1
    t.meta[T_NODES] = nodes
    t.meta[T_EDGES] = edges
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


# --- Python helpers of the search's batches and root (igo.engine.search.MCTS) --------------------------------------


def position_key(board) -> tuple:
    """What makes two boards the same root of a search: stones (hash), player to move, ko point, passes, ko rule, and
    the game's positions with their players to move (superko inside the tree depends on them)."""
    s = board.state
    m, n = s.meta, int(s.meta[K.M_NHIST])
    head = (int(m[K.M_HASH]), int(m[K.M_TO_MOVE]), int(m[K.M_KO]), int(m[K.M_PASSES]), int(m[K.M_KO_RULE]))
    return (*head, s.hist_hash[:n].tobytes(), s.hist_color[:n].tobytes())


def follows(key, root, scratch, board, color: int, p: int) -> bool:
    """Whether ``board`` is the position ``root`` (whose :func:`position_key` is ``key``) after ``color`` played
    ``p`` (a padded point or PASS), with ``root``'s game history before it. ``scratch`` is a state of the size."""
    s = board.state
    n = int(s.meta[K.M_NHIST])
    if key is None or n < 1 or int(root.meta[K.M_TO_MOVE]) != color:
        return False
    if key[5:] != (s.hist_hash[: n - 1].tobytes(), s.hist_color[: n - 1].tobytes()):
        return False
    K.copy_position(scratch, root)
    if p == K.PASS:
        K.play_pass(scratch)
    elif K.basic_legality(scratch, p, color) != K.OK:
        return False
    else:
        K.place(scratch, p, color)
    return all(int(scratch.meta[i]) == int(s.meta[i]) for i in (K.M_HASH, K.M_TO_MOVE, K.M_KO, K.M_PASSES))


def join_all(futures) -> None:
    """Wait for every future, even after one failed or the wait was interrupted (the threads write into the pool
    that the next batch reuses), then raise the first error."""
    error = None
    for f in futures:
        try:
            f.result()
        except BaseException as exc:  # re-raised below, once every thread is done
            error = error or exc
    if error is not None:
        raise error


__all__ = [
    "select_leaves",
    "undo_leaves",
    "expand_leaves",
    "rollout_slots",
    "backup_leaves",
    "leaf_history",
    "position_key",
    "follows",
    "join_all",
]
