"""The search's rollout threads: :class:`RolloutThreads`, the part of :class:`igo.engine.search.MCTS` that plays out
batches of leaves on several threads, and :class:`LeafSlots`, the work space of one batch.

**The pipeline** (rollouts without an evaluator on ``threads > 1``, :meth:`RolloutThreads._run_pipelined`): while the
worker threads play out the leaves of batch *k* (the playout kernels release the GIL), the calling thread selects
batch *k + 1* with virtual loss (selection only reads and writes the tree; the rollouts only their own slots), then
joins the rollouts of batch *k*; as soon as they are done the workers start on batch *k + 1* and the calling thread
backs batch *k* up, selects batch *k + 2*, and so on. So selection and backup, the tree's serial work, run beside the
rollouts instead of between them. The rollouts of a batch are shared out in chunks of a few leaves that each thread
takes as it becomes free (a shared ticket counter), so a thread slowed by its share of tree work takes fewer.

At most two batches are in flight: the one being played out and the one just selected. Any error (a rollout kernel,
Ctrl-C on the calling thread) stops the workers after their current chunk, waits for them, and takes both batches
back from the tree (:func:`igo.engine.mcts_batch.undo_leaves`: virtual loss and the nodes they expanded, the later
batch first), so the tree is as it was after the last batch backed up.

Random streams: thread ``k`` (0 the calling thread, ``1 .. threads - 1`` the workers) draws from its own
``rng``; which leaf a thread plays depends on timing, so a search on several threads is not reproducible.
"""

from __future__ import annotations

import itertools
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from . import mcts as M
from . import mcts_batch as MB
from .pool import new_pool
from .rng import make_rng

CHUNKS_PER_THREAD = 4
"""A batch's rollouts are split into about this many chunks per thread, which the threads take as they get free."""


class LeafSlots:
    """The work space of one batch of up to ``capacity`` leaves: their positions (``pool``; ``rpool`` the copies that
    rollouts play out beside an evaluator, else ``pool`` itself), paths and depths, :data:`~igo.engine.mcts.LEAF_*`
    status, rollout scores, evaluator values and priors; ``count`` the leaves selected and not yet backed up or
    taken back, ``marks`` the tree's nodes and edges before their selection."""

    def __init__(self, size: int, capacity: int, path_len: int, with_eval: bool):
        self.capacity = capacity
        self.pool = new_pool(size, capacity)
        self.rpool = new_pool(size, capacity) if with_eval else self.pool
        self.paths = np.zeros((capacity, path_len), np.int32)
        self.depths = np.zeros(capacity, np.int64)
        self.status = np.zeros(capacity, np.int8)
        self.scores = np.zeros(capacity, np.float64)
        self.values = np.zeros(capacity, np.float64)
        self.priors = np.zeros((capacity, size * size + 1), np.float32)
        self.count = 0
        self.marks = (0, 0)


class RolloutThreads:
    """Rollouts on threads for :class:`~igo.engine.search.MCTS` (a mixin: it uses the search's ``_tree``,
    ``_reserve``, ``params``, ``own``, ``stats``, ``_batch_size`` and ``_path``); see the module docstring."""

    def _init_threads(self, size: int, threads: int, seed: int | None, rollout_policy: np.ndarray | None) -> None:
        self.threads = threads
        self._executor: ThreadPoolExecutor | None = None
        self._thread_rngs = [make_rng(None if seed is None else seed + 1 + k) for k in range(threads)]
        self._pipe: list[LeafSlots] | None = None  # the pipeline's two batches
        # AlphaGo's fast rollout policy (engine.rollout): playouts draw moves from a linear softmax over pattern
        # features with these weights instead of the light random policy
        self.rollout_policy = None if rollout_policy is None else np.ascontiguousarray(rollout_policy, np.float32)
        self._rollout_work = None
        if self.rollout_policy is not None:
            from .rollout import new_work

            self._rollout_work = [new_work(size) for _ in range(threads)]

    def _executor_for(self, workers: int) -> ThreadPoolExecutor:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="igo-rollout")
        return self._executor

    def _rollout_range(self, slots: LeafSlots, lo: int, hi: int, k: int) -> None:
        """Play out leaves ``lo .. hi-1`` of ``slots.rpool`` with thread ``k``'s random stream (and work space)."""
        max_moves = np.int64(self.params[M.P_MAX_MOVES])
        if self.rollout_policy is None:
            MB.rollout_slots(slots.rpool, lo, hi, slots.status, self._thread_rngs[k], max_moves, slots.scores)
        else:
            from .rollout import policy_rollout_slots

            policy_rollout_slots(slots.rpool, lo, hi, slots.status, self._thread_rngs[k], max_moves, slots.scores,
                                 self.rollout_policy, self._rollout_work[k])  # fmt: skip

    def _rollouts(self, slots: LeafSlots, count: int) -> None:
        """Play out ``count`` leaves of ``slots`` on the calling thread and ``threads - 1`` others."""
        k = self.threads
        if k == 1 or count < 2 * k:
            self._rollout_range(slots, 0, count, 0)
            return
        ex = self._executor_for(self.threads)
        bounds = [count * i // k for i in range(k + 1)]
        futures = [ex.submit(self._rollout_range, slots, bounds[i], bounds[i + 1], i) for i in range(1, k)]
        try:
            self._rollout_range(slots, bounds[0], bounds[1], 0)
        finally:
            MB.join_all(futures)

    def _start_rollouts(self, slots: LeafSlots, count: int) -> list:
        """Start playing out ``count`` leaves of ``slots`` on ``threads`` background threads; returns the futures."""
        k = min(self.threads, count)
        ex = self._executor_for(self.threads)
        bounds = [count * i // k for i in range(k + 1)]
        return [ex.submit(self._rollout_range, slots, bounds[i], bounds[i + 1], i) for i in range(k)]

    # --- the pipeline --------------------------------------------------------------------------------------------

    def _pipeline_slots(self) -> list[LeafSlots]:
        if self._pipe is None or self._pipe[0].capacity < self._batch_size:
            self._pipe = [LeafSlots(self.size, self._batch_size, self._path.shape[0], False) for _ in range(2)]
        return self._pipe

    def _select(self, slots: LeafSlots, board, count: int) -> None:
        """Select ``count`` leaves into ``slots`` (virtual loss, expansion at once with the search's prior)."""
        self._reserve(count)
        t = self._tree
        slots.marks = int(t.meta[M.T_NODES]), int(t.meta[M.T_EDGES])
        slots.depths[:count] = 0  # taken back before the selection ran, the batch undoes nothing
        slots.count = count
        MB.select_leaves(
            t, board.state, slots.pool, self.params, slots.paths, slots.depths, slots.status, count, True,
            self._no_priors,
        )  # fmt: skip

    def _drain(self, slots: LeafSlots, tickets, chunk: int, k: int, stop: list, first: int | None = None) -> None:
        """Play out chunks of ``slots`` with thread ``k``'s stream, chunk ``first`` (if given) and then those of
        the shared ``tickets``, until none is left (or ``stop[0]``)."""
        count = slots.count
        ticket = first
        while not stop[0]:
            if ticket is None:
                ticket = next(tickets)  # one ticket at a time: next() on itertools.count holds the GIL
            lo = ticket * chunk
            if lo >= count:
                return
            self._rollout_range(slots, lo, min(lo + chunk, count), k)
            ticket = None

    def _start_drain(self, slots: LeafSlots, stop: list) -> tuple:
        """Start the workers (threads ``1 .. threads - 1``) on the rollouts of ``slots``; returns the tickets and chunk
        size for the calling thread to join in with :meth:`_drain`, and the futures. Worker ``k`` starts with chunk
        ``k - 1`` (so every worker has a share, however quickly the others start), then takes tickets."""
        workers = self.threads - 1
        chunk = max(1, slots.count // (CHUNKS_PER_THREAD * self.threads))
        tickets = itertools.count(workers)
        ex = self._executor_for(self.threads)
        futures = [ex.submit(self._drain, slots, tickets, chunk, k, stop, k - 1) for k in range(1, workers + 1)]
        return tickets, chunk, futures

    def _backup(self, slots: LeafSlots) -> None:
        count = slots.count
        MB.backup_leaves(
            self._tree, slots.pool, slots.paths, slots.depths, slots.status, count, slots.values, False, slots.scores,
            True, self.params, self.own, self.stats,
        )  # fmt: skip
        slots.count = 0

    def _run_pipelined(self, board, simulations: int) -> int:
        """Run ``simulations`` rollout simulations (no evaluator) on ``threads`` threads, selection and backup of
        one batch overlapping the rollouts of the other; returns the count."""
        a, b = self._pipeline_slots()
        a.count = b.count = 0
        stop = [False]
        futures: list = []
        done = 0
        cur = None
        try:
            self._select(a, board, min(self._batch_size, simulations))
            remaining = simulations - a.count
            cur = a
            tickets, chunk, futures = self._start_drain(cur, stop)
            while cur is not None:
                nxt = None
                if remaining > 0:
                    nxt = b if cur is a else a
                    self._select(nxt, board, min(self._batch_size, remaining))
                    remaining -= nxt.count
                self._drain(cur, tickets, chunk, 0, stop)
                MB.join_all(futures)
                futures = []
                if nxt is not None:
                    tickets, chunk, futures = self._start_drain(nxt, stop)
                done += cur.count
                self._backup(cur)
                cur = nxt
        except BaseException:
            stop[0] = True
            try:
                MB.join_all(futures)
            except BaseException:  # the error that stopped the pipeline is raised below
                pass
            for slots in sorted((a, b), key=lambda sl: sl.marks, reverse=True):  # the later batch first
                if slots.count > 0:
                    MB.undo_leaves(self._tree, slots.paths, slots.depths, slots.count, *slots.marks)
                    slots.count = 0
            raise
        return done

    def close(self) -> None:
        """Stop the rollout threads (a later search starts them again)."""
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None


__all__ = ["CHUNKS_PER_THREAD", "LeafSlots", "RolloutThreads"]
