"""The leaves of many searches in one preallocated evaluator batch, without Python per leaf.

Self-play keeps many games going, each with its own :class:`igo.engine.search.MCTS`, and evaluates the leaves of all
of them in one network call. :class:`LeafRows` owns that call's batch: one board-state pool, one path array and the
evaluator's inputs (``history``, ``to_move``, ``legal`` of a :class:`~igo.engine.search.LeafBatch`) for up to
``capacity`` leaves. Per game and network call there is one kernel call to select the game's leaves and one to take
their results back:

- :func:`select_rows` descends a game's tree ``count`` times with virtual loss (the superko edge check of
  :func:`igo.engine.mcts.descend` included) and writes each leaf's position, path, history planes (unpadded, as the
  evaluator reads them), player to move and legal moves (simple ko, pass last) straight into its rows of the batch;
- :func:`finish_rows` expands the leaves due for expansion with the evaluator's priors (the legal moves computed at
  selection are reused, not recomputed) and backs up every leaf's value (turned to Black's point of view here; a
  finished game's leaf gets its exact area result).

:meth:`LeafRows.finish` validates the evaluator's output for the whole batch before touching any tree, and
:meth:`LeafRows.cancel` (called on every error path: an evaluator that raises, malformed output, an interrupt between
two games) takes the virtual loss of every leaf not backed up out of its tree again.
"""

from __future__ import annotations

import numpy as np

from . import board_kernels as K
from . import mcts as M
from .jit import inner_kernel, kernel
from .mcts_batch import undo_leaves
from .playout import is_eye
from .pool import copy_to_slot, new_pool, pool_slot


@inner_kernel
def _unpad(dst, stones, n):
    """Stones of a padded board into ``dst`` (int8[N, N])."""
    w = n + 2
    for r in range(n):
        for c in range(n):
            dst[r, c] = stones[(r + 1) * w + c + 1]


@inner_kernel
def _leaf_planes(t, root, root_hist, s, path, d, scratch, hist):
    """``hist[k]`` (int8[H, N, N]): the stones ``k`` moves before the leaf ``s`` reached by ``path[:d]`` from
    ``root``, going back through the path (replayed on ``scratch``) and then the game (``root_hist[j]``, padded, is
    the root ``j`` moves earlier); positions before the game's start repeat the earliest."""
    n = s.meta[K.M_SIZE]
    hlen = hist.shape[0]
    _unpad(hist[0], s.stones, n)
    if hlen == 1:
        return
    if d >= 1:
        K.copy_position(scratch, root)
        for j in range(d):  # the position after j path moves is the leaf - (d - j) moves
            k = d - j
            if k < hlen:
                _unpad(hist[k], scratch.stones, n)
            p = np.int64(t.move[path[j]])
            if p == K.PASS:
                K.play_pass(scratch)
            else:
                K.place(scratch, p, scratch.meta[K.M_TO_MOVE])
    for k in range(d + 1, hlen):
        j = k - d
        if j < root_hist.shape[0]:
            _unpad(hist[k], root_hist[j], n)
        else:
            for r in range(n):
                for c in range(n):
                    hist[k, r, c] = hist[k - 1, r, c]


@inner_kernel
def select_rows(t, root, root_hist, pool, params, paths, depths, status, lo, count, scratch, hist, to_move, legal):
    """Select ``count`` leaves of the tree ``t`` (rooted at the position ``root``, the game's board) one after another
    with virtual loss into rows ``lo .. lo+count-1``: the leaf's position in pool slot ``i`` (simple ko, no history),
    its path in ``paths[i, :depths[i]]``, its :data:`~igo.engine.mcts.LEAF_TERMINAL`/``LEAF_READY``/``LEAF_EXPAND``
    status, its history planes ``hist[i]`` (``root_hist``: the padded stones of the root and the positions before it),
    its player to move and its legal moves ``legal[i]`` (flat order, pass last; own single-point eyes left out
    unless ``params[P_FILL_EYES]``, as :func:`~igo.engine.mcts.expand` leaves them out). Returns ``count``."""
    nthr = params[M.P_NTHR]
    fill_eyes = params[M.P_FILL_EYES] != 0.0
    for i in range(lo, lo + count):
        copy_to_slot(pool, i, root)  # simple ko in the slot; descend checks superko against root's history
        s = pool_slot(pool, i)
        path = paths[i]
        d = M.descend(t, root, s, params, path)
        depths[i] = d
        e = np.int64(path[d - 1])
        if s.meta[K.M_PASSES] >= 2:
            status[i] = M.LEAF_TERMINAL
        elif t.child[e] < 0 and t.n[e] + 1 >= nthr:
            status[i] = M.LEAF_EXPAND
        else:
            status[i] = M.LEAF_READY
        color = s.meta[K.M_TO_MOVE]
        to_move[i] = color
        n = s.meta[K.M_SIZE]
        w = n + 2
        row = legal[i]
        for j in range(n * n):
            row[j] = False
        for j in range(s.meta[K.M_NEMPTY]):
            p = np.int64(s.empties[j])
            if K.basic_legality(s, p, color) == K.OK and (fill_eyes or not is_eye(s, p, color)):
                row[(p // w - 1) * n + p % w - 1] = True
        row[n * n] = True
        _leaf_planes(t, root, root_hist, s, path, d, scratch, hist[i])
    return count


@inner_kernel
def _expand_masked(t, s, parent_edge, priors, legal, params):
    """:func:`igo.engine.mcts.expand` with an evaluator's ``priors`` for a position whose legal moves (simple ko) are
    already known (``legal``, flat order): the same node (edges in the order of ``s.empties``, then pass; priors
    renormalised over them; an exact-fit refusal counted in ``T_FULL``), without testing legality again."""
    n = s.meta[K.M_SIZE]
    w = n + 2
    node = t.meta[M.T_NODES]
    first = t.meta[M.T_EDGES]
    capacity = t.move.shape[0]
    if node >= t.node_first.shape[0] or first >= capacity:
        t.meta[M.T_FULL] += 1
        return -1
    k = first
    total = 0.0
    for i in range(s.meta[K.M_NEMPTY]):
        p = np.int64(s.empties[i])
        f = (p // w - 1) * n + p % w - 1
        if not legal[f]:
            continue
        if k + 1 >= capacity:  # no room for this move and pass
            t.meta[M.T_FULL] += 1
            return -1
        pr = priors[f]
        t.move[k] = p
        t.prior[k] = pr
        total += pr
        k += 1
    t.move[k] = K.PASS
    pr = priors[n * n]
    t.prior[k] = pr
    total += pr
    k += 1
    return M.finish_node(t, node, first, k, total, s.meta[K.M_TO_MOVE], parent_edge)


@inner_kernel
def finish_rows(t, pool, paths, depths, status, lo, count, legal, priors, values, params):
    """Take rows ``lo .. lo+count-1`` of a batch that :func:`select_rows` filled from ``t`` back into it: expand the
    ``LEAF_EXPAND`` leaves with ``priors[i]`` (unless an earlier leaf expanded the same edge), then back up
    ``values[i]`` (for the player to move at the leaf; a terminal leaf's exact area result instead) along each path,
    taking its virtual loss back. Returns the nodes made."""
    made = 0
    for i in range(lo, lo + count):
        if status[i] == M.LEAF_EXPAND:
            e = np.int64(paths[i, depths[i] - 1])
            if t.child[e] < 0 and _expand_masked(t, pool_slot(pool, i), e, priors[i], legal[i], params) >= 0:
                made += 1
    komi = params[M.P_KOMI]
    for i in range(lo, lo + count):
        s = pool_slot(pool, i)
        if status[i] == M.LEAF_TERMINAL:
            b, w = K.area(s)
            v = M.result_sign(b - w - komi)
        elif s.meta[K.M_TO_MOVE] == K.WHITE:
            v = -values[i]
        else:
            v = values[i]
        M.backup(t, paths[i], depths[i], v, True, 0.0, False)
    return made


# Entry points from Python. Numba types a NamedTuple argument in Python, element by element, on every call (~8 us for
# a Tree of 14 arrays), but a bare array in C: the trees and board states therefore come in as their arrays, one by
# one (star arguments: the tree's, then each state's), and are put back together here.
_T = len(M.Tree._fields)
_S = len(K.BoardState._fields)
_T_S = _T + _S  # the slices' bounds as single names: Numba slices a tuple statically by constants only
_T_2S = _T + 2 * _S
_T_3S = _T + 3 * _S


@kernel
def _select_flat(root_hist, params, paths, depths, status, lo, count, hist, to_move, legal, *a):
    """:func:`select_rows` with ``a`` = the arrays of the tree, the root, the pool and the scratch state."""
    t = M.Tree(*a[0:_T])
    root = K.BoardState(*a[_T:_T_S])
    pool = K.BoardState(*a[_T_S:_T_2S])
    scratch = K.BoardState(*a[_T_2S:_T_3S])
    return select_rows(t, root, root_hist, pool, params, paths, depths, status, lo, count, scratch, hist, to_move,
                       legal)  # fmt: skip


@kernel
def _finish_flat(paths, depths, status, lo, count, legal, priors, values, params, *a):
    """:func:`finish_rows` with ``a`` = the arrays of the tree and the pool."""
    t = M.Tree(*a[0:_T])
    pool = K.BoardState(*a[_T:_T_S])
    return finish_rows(t, pool, paths, depths, status, lo, count, legal, priors, values, params)


# --- the Python side ---------------------------------------------------------------------------------------------


def root_history(board, length: int) -> np.ndarray:
    """The padded stones (int8 ``[length, (N+2)**2]``) of ``board`` and the ``length - 1`` positions before it, as
    :func:`select_rows` reads them."""
    n = board.size
    w = n + 2
    out = np.zeros((length, w, w), np.int8)
    out[:, 1:-1, 1:-1] = board.history(length)
    return out.reshape(length, w * w)


class LeafRows:
    """One preallocated evaluator batch for the leaves of many searches (see the module docstring).

    Per network call: :meth:`select` for each search (its rows follow the previous search's), :meth:`batch` for the
    evaluator, then :meth:`finish` with the evaluator's output, or :meth:`cancel` if anything went wrong. Searches
    are :class:`igo.engine.search.MCTS` objects with an evaluator and λ = 0, their roots set (``set_root``)."""

    def __init__(self, size: int, capacity: int, history_length: int = 1):
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1, got {capacity}")
        if history_length < 1:
            raise ValueError(f"history_length must be >= 1, got {history_length}")
        n = size
        self.size = n
        self.capacity = capacity
        self.history_length = history_length
        self.pool = new_pool(n, capacity)
        self.paths = np.zeros((capacity, 4 * n * n + 8), np.int32)  # the depth limit of MCTS's own paths
        self.depths = np.zeros(capacity, np.int64)
        self.status = np.zeros(capacity, np.int8)
        self.history = np.zeros((capacity, history_length, n, n), np.int8)
        self.to_move = np.zeros(capacity, np.int8)
        self.legal = np.zeros((capacity, n * n + 1), np.bool_)
        self._scratch = K.new_state(n, K.KO_SIMPLE)
        self._edges_each = n * n + 1
        self.count = 0
        self._pending: list[tuple] = []  # (search, tree, lo, count, nodes, edges, refusals) not yet backed up
        self._searches: set[int] = set()  # ids of the searches in the batch

    def select(self, search, root, root_hist: np.ndarray, count: int) -> int:
        """Select ``count`` leaves of ``search`` (root position ``root``, a Board's ``state``; ``root_hist`` from
        :func:`root_history`) into the next rows; returns the first row. The tree is grown first so that every leaf
        can be expanded, within the search's limits."""
        lo = self.count
        if count < 1 or lo + count > self.capacity:
            raise ValueError(f"count must be in 1..{self.capacity - lo} (rows left), got {count}")
        if id(search) in self._searches:
            raise ValueError("a search can give leaves to a batch once (finish or cancel the batch first)")
        points = self.pool.stones.shape[1]
        if search.size != self.size or root.stones.shape[0] != points or root_hist.shape[1:] != (points,):
            raise ValueError(f"the search, root and root_hist must be for {self.size}x{self.size}")
        if search.config.lam > 0:
            raise ValueError("LeafRows is for λ = 0 (no rollouts); use MCTS.run() for mixed evaluation")
        t = search.tree
        if t.meta[M.T_ROOT] < 0:
            raise RuntimeError("set_root first")
        meta = t.meta
        if (
            t.node_first.shape[0] - meta[M.T_NODES] < count
            or t.move.shape[0] - meta[M.T_EDGES] < count * self._edges_each
        ):
            search._reserve(count)  # grows the tree (a new one) as far as the search's max_nodes/max_edges allow
            t = search.tree
        meta = t.meta
        nodes, edges, full = int(meta[M.T_NODES]), int(meta[M.T_EDGES]), int(meta[M.T_FULL])
        _select_flat(root_hist, search.params, self.paths, self.depths, self.status, lo, count, self.history,
                     self.to_move, self.legal, *t, *root, *self.pool, *self._scratch)  # fmt: skip
        # recorded once the kernel ran (a kernel runs to its end or fails before it starts)
        self._pending.append((search, t, lo, count, nodes, edges, full))
        self._searches.add(id(search))
        self.count = lo + count
        return lo

    def batch(self, states: bool = True):
        """The selected leaves as a :class:`~igo.engine.search.LeafBatch` of views into this object's arrays (valid
        until the next :meth:`select`); ``states=False`` leaves the board states out (``None``)."""
        from .search import LeafBatch

        c = self.count
        return LeafBatch(self.size, c, self.pool if states else None, self.history[:c], self.to_move[:c],
                         self.legal[:c])  # fmt: skip

    def check_output(self, priors, values) -> tuple[np.ndarray, np.ndarray]:
        """The evaluator's output for the selected rows as float32 priors ``[count, N*N+1]`` and float64 values in
        [-1, 1]; ValueError if malformed (shape, negative or non-finite)."""
        c = self.count
        priors = np.ascontiguousarray(priors, np.float32)
        values = np.asarray(values, np.float64).reshape(-1)
        want = (c, self._edges_each)
        if priors.shape != want or values.shape != (c,):
            raise ValueError(
                f"evaluator returned priors {priors.shape} and values {values.shape}, expected {want} and ({c},)"
            )
        if not (np.isfinite(priors).all() and np.isfinite(values).all()) or (priors < 0).any():
            raise ValueError("evaluator returned negative or non-finite priors or non-finite values")
        return priors, np.clip(values, -1.0, 1.0)

    def finish(self, priors, values) -> int:
        """Expand and back up every selected leaf with the evaluator's output (``priors [count, N*N+1]``, ``values
        [count]`` for the player to move at each leaf); returns the count. Malformed output raises ValueError after
        cancelling the whole batch; so does any error on the way (the leaves not yet backed up are taken back)."""
        try:
            priors, values = self.check_output(priors, values)
            while self._pending:
                search, t, lo, count, _nodes, _edges, full = self._pending[-1]
                _finish_flat(self.paths, self.depths, self.status, lo, count, self.legal, priors, values,
                             search.params, *t, *self.pool)  # fmt: skip
                self._pending.pop()
                if t.meta[M.T_FULL] != full:
                    search._note_full()  # the search's warning, once per root
        except BaseException:
            self.cancel()
            raise
        count, self.count = self.count, 0
        self._searches.clear()
        return count

    def cancel(self) -> int:
        """Take back the virtual loss (and any node made) of every leaf selected and not backed up, so that each tree
        is as it was before; returns how many leaves. Call it on every error path between :meth:`select` and
        :meth:`finish`."""
        dropped = 0
        while self._pending:
            _search, t, lo, count, nodes, edges, _full = self._pending.pop()
            undo_leaves(t, self.paths[lo:], self.depths[lo:], count, nodes, edges)
            dropped += count
        self.count = 0
        self._searches.clear()
        return dropped


__all__ = ["LeafRows", "finish_rows", "root_history", "select_rows"]
