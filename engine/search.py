"""The search as a Python object: :class:`MCTS` drives the kernels of :mod:`igo.engine.mcts` and
:mod:`igo.engine.mcts_batch` over one tree, with the parameters of a :class:`SearchConfig`.

Three ways to run simulations, chosen by the constructor:

- **rollouts on one thread, no evaluator** (the default): one kernel call runs a whole budget of simulations —
  descend with PUCT, expand, random playout, back up — with no Python in the loop;
- **rollouts on several threads** (``threads > 1``): batches of leaves are selected one after another with virtual
  loss (:func:`~igo.engine.mcts_batch.select_leaves`) into a board-state pool (:mod:`igo.engine.pool`), played out
  in parallel by kernels that release the GIL, each thread with its own random stream, and backed up; the selection
  and backup of one batch run while the threads play out the other (:mod:`igo.engine.search_threads`);
- **an evaluator** (``evaluator=...``, anything with the :class:`Evaluator` protocol — a network in :mod:`nets`, or
  :class:`PlayoutEvaluator` here): each batch of leaves goes to ``evaluator.evaluate`` at once; its priors expand the
  leaves and its values are backed up as value statistics. With ``0 < λ`` the leaves are also played out and Q mixes
  both, ``Q = (1-λ)·Wv/Nv + λ·Wr/Nr``, as in AlphaGo. With ``λ = 0`` (AlphaGo Zero) there are no rollouts.

**Memory.** A node stores one edge per legal move of its position, in one pool of edges. The tree starts small and
grows between batches (:func:`igo.engine.mcts.reserve`: before each kernel call, room for every leaf it may expand,
N*N + 1 edges each; capacities double), up to ``max_nodes`` nodes and ``max_edges`` edges (default
``max_nodes * min(N*N + 1, 64)``; 13 bytes a node, 34 an edge), twice (the tree and the spare that tree reuse
compacts into), :func:`tree_bytes` in all: about 1.75 GB for the player's default of 400,000 nodes on 9x9 and larger
(0.7 GB on 5x5). Only at those limits is an expansion refused: :attr:`MCTS.tree_full` says so, a warning is logged
once per search (the player then stops the search: more simulations could only revisit the same leaves), and
:meth:`MCTS.reset` with ``release=True`` gives the memory back to the system.

Root statistics besides the edges: the mean final ownership of every point and the mean area margin over the
rollouts of the current root (kata-analyze's ``ownership`` and ``scoreLead``, and the player's dead-stone estimate).

A seed makes a single-threaded search reproducible (several threads interleave their random streams by timing).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from . import board_kernels as K
from . import mcts as M
from . import mcts_batch as MB
from .coords import padded_to_gtp
from .limits import MAX_BATCH, MAX_THREADS, MAX_TREE_EDGES, MAX_TREE_NODES
from .pool import copy_slots, copy_to_slot, legal_masks, new_pool, slot_view
from .rng import make_rng
from .search_threads import LeafSlots, RolloutThreads

log = logging.getLogger(__name__)

NODE_BYTES = 4 + 4 + 4 + 1
"""Bytes per node of the tree (first edge, edge count, visits, colour)."""
EDGE_BYTES = 2 + 4 * 8
"""Bytes per edge of the tree (move, prior, n, nv, wv, nr, wr, vl, child)."""


def tree_edges(max_nodes: int, size: int) -> int:
    """The edges of a tree of ``max_nodes`` nodes on ``size`` x ``size``: room for 64 edges a node on average (a node
    holds one edge per legal move), and for one full node at least."""
    return max(max_nodes * min(size * size + 1, 64), size * size + 1)


def tree_bytes(max_nodes: int, size: int, max_edges: int | None = None) -> int:
    """The memory of :class:`MCTS`'s trees (the tree and the spare of tree reuse) of ``max_nodes`` nodes and
    ``max_edges`` edges (default :func:`tree_edges`) on ``size`` x ``size``: the most a search takes for its trees,
    as they grow."""
    edges = tree_edges(max_nodes, size) if max_edges is None else max_edges
    return 2 * (max_nodes * NODE_BYTES + edges * EDGE_BYTES + M.T_META_LEN * 8)


@dataclass(frozen=True)
class SearchConfig:
    """Parameters of the search. The defaults are AlphaGo's where the paper gives them (c_puct 5), and a rollout-only
    search (λ = 1) that expands after ``n_thr`` visits. Virtual loss is 1, not AlphaGo's 3: measured at equal
    simulations (issue 17), n_vl 1 beat 3 by +155 ± 53 Elo with rollouts on 2 threads and 3 lost −45 ± 48 to 1 with a
    network."""

    c_puct: float = 5.0
    lam: float = 1.0  # weight of rollouts in Q: 1 rollouts only, 0 value network only, AlphaGo used 0.5
    fpu: float = 0.0  # Q of an edge never evaluated (first-play urgency), in [-1, 1]
    n_vl: int = 1  # virtual loss per simulation in flight (measured: 1 beats AlphaGo's 3, see above)
    n_thr: int = 1  # expand an edge's position after this many visits (AlphaGo: 40; <= 1: at once)
    pass_prior: float = 0.1  # prior weight of pass relative to a board move under the uniform prior
    max_rollout_moves: int = 0  # rollout length cap; 0 = 3 * points
    dirichlet_weight: float = 0.0  # share of Dirichlet noise in the root priors (AlphaGo Zero: 0.25; 0 = none)
    dirichlet_alpha: float = 0.0  # its concentration; 0 = scaled to the board, 0.03 * 361 / points
    heuristic_prior: bool = True  # without an evaluator: the cheap Go prior of heuristic_prior(), else uniform
    # first-play urgency relative to the node (Leela Zero): an unvisited edge's Q is the node's value minus
    # fpu_reduction · sqrt(visited priors) (igo.engine.mcts.node_fpu); None: the absolute ``fpu``
    fpu_reduction: float | None = None
    lcb_choice: bool = False  # play the move of best lower confidence bound among the well visited (player)
    c_puct_base: float = 0.0  # > 0: c = c_puct + log((1 + N + base) / base) (AlphaZero: 19652); 0: c_puct constant
    # moves into the player's own single-point eyes (igo.engine.playout.is_eye) are searched; False: they get no edge
    # (with a network's priors too; the uniform prior never has them): a weak value net cannot tell that filling an
    # eye kills the group, and the search then fills them once the opponent has passed
    fill_eyes: bool = False

    @classmethod
    def zero(cls, **overrides) -> SearchConfig:
        """AlphaGo Zero's search: value network only (λ = 0), expansion at once, Dirichlet noise 0.25 at the root,
        c_puct and virtual loss as for the rest (override any field)."""
        fields = {"lam": 0.0, "n_thr": 1, "dirichlet_weight": 0.25, "c_puct": 1.5, "n_vl": 1} | overrides
        return cls(**fields)

    def alpha(self, size: int) -> float:
        return self.dirichlet_alpha or 0.03 * 361 / (size * size)

    def __post_init__(self):
        if self.c_puct <= 0:
            raise ValueError(f"c_puct must be positive, got {self.c_puct}")
        if not 0.0 <= self.lam <= 1.0:
            raise ValueError(f"lam must be in [0, 1], got {self.lam}")
        if not -1.0 <= self.fpu <= 1.0:
            raise ValueError(f"fpu must be in [-1, 1], got {self.fpu}")
        if self.n_vl < 0:
            raise ValueError(f"n_vl must be >= 0, got {self.n_vl}")
        if self.pass_prior < 0:
            raise ValueError(f"pass_prior must be >= 0, got {self.pass_prior}")
        if not 0.0 <= self.dirichlet_weight <= 1.0:
            raise ValueError(f"dirichlet_weight must be in [0, 1], got {self.dirichlet_weight}")
        if self.dirichlet_alpha < 0:
            raise ValueError(f"dirichlet_alpha must be >= 0, got {self.dirichlet_alpha}")
        if self.fpu_reduction is not None and not 0.0 <= self.fpu_reduction <= 2.0:
            raise ValueError(f"fpu_reduction must be in [0, 2] or None, got {self.fpu_reduction}")
        if not (self.c_puct_base >= 0.0 and math.isfinite(self.c_puct_base)):
            raise ValueError(f"c_puct_base must be >= 0 (0: constant c_puct), got {self.c_puct_base}")

    def pack(self, size: int, komi: float) -> np.ndarray:
        """The parameters as the kernels read them: float64[P_LEN] indexed by the ``P_*`` constants of
        :mod:`igo.engine.mcts`."""
        p = np.zeros(M.P_LEN, np.float64)
        p[M.P_CPUCT] = self.c_puct
        p[M.P_LAMBDA] = self.lam
        p[M.P_FPU] = self.fpu
        p[M.P_NVL] = self.n_vl
        p[M.P_NTHR] = self.n_thr
        p[M.P_KOMI] = komi
        p[M.P_PASS_PRIOR] = self.pass_prior
        p[M.P_MAX_MOVES] = self.max_rollout_moves or 3 * size * size
        p[M.P_HEURISTIC] = 1.0 if self.heuristic_prior else 0.0
        p[M.P_FPU_REDUCTION] = -1.0 if self.fpu_reduction is None else self.fpu_reduction
        p[M.P_CPUCT_BASE] = self.c_puct_base
        p[M.P_FILL_EYES] = 1.0 if self.fill_eyes else 0.0
        return p


@dataclass
class LeafBatch:
    """Positions for an evaluator. Rows ``0 .. count-1`` are valid.

    - ``states``: the leaves' :class:`~igo.engine.board_kernels.BoardState` with a leading batch axis (padded layout;
      :func:`igo.engine.pool.slot_view` gives one) — for feature kernels that need chains and liberties;
    - ``history``: ``int8[count, H, N, N]`` stones (0 empty, 1 black, 2 white; row 0 the top) of the leaf
      (``[:, 0]``) and the ``H - 1`` positions before it; ``H`` is the evaluator's ``history_length`` (default 1);
    - ``to_move``: ``int8[count]``, BLACK or WHITE;
    - ``legal``: ``bool[count, N*N + 1]``, the moves the tree would consider (simple ko; pass last);
    - ``expand``: ``bool[count]``, the rows whose priors the search will read (the leaves it expands), or None for
      all rows: an evaluator may skip the policy for the others (their priors are then any valid ones; AlphaGo's
      policy net runs only for expanding leaves, the value net and the rollouts for all);
    - ``values_needed``: False when the search reads no network value (λ = 1, rollouts only): then only the
      ``expand`` rows need the network at all (the others may get any valid priors and value 0).
    """

    size: int
    count: int
    states: K.BoardState
    history: np.ndarray
    to_move: np.ndarray
    legal: np.ndarray
    expand: np.ndarray | None = None
    values_needed: bool = True


@runtime_checkable
class Evaluator(Protocol):
    """Leaf evaluation for the search: a batch of positions in, move priors and values out.

    ``evaluate(batch)`` returns ``(priors, values)``: ``priors`` float ``[count, N*N + 1]`` non-negative weights in
    flat order (row-major from the top-left, pass last; the search masks illegal moves and renormalises), ``values``
    float ``[count]`` in [-1, 1] for the player to move at each leaf. An optional attribute ``history_length`` asks
    for that many positions per leaf in ``batch.history``."""

    def evaluate(self, batch: LeafBatch) -> tuple[np.ndarray, np.ndarray]: ...


class PlayoutEvaluator:
    """An evaluator without a network: uniform priors over legal moves (pass weighted like the uniform tree prior)
    and the mean result of ``playouts`` random playouts as the value. It makes Zero mode (λ = 0) usable and testable
    before any network is trained; it is not a substitute for one."""

    history_length = 1

    def __init__(self, playouts: int = 8, seed: int | None = None, pass_weight: float = 0.1, komi: float = 7.5):
        if playouts < 1:
            raise ValueError("playouts must be >= 1")
        self.playouts = playouts
        self.pass_weight = pass_weight
        self.komi = komi
        self._rng = make_rng(seed)
        self._scratch: K.BoardState | None = None

    def evaluate(self, batch: LeafBatch) -> tuple[np.ndarray, np.ndarray]:
        from .playout import playout_from

        n = batch.size
        if self._scratch is None or int(self._scratch.meta[K.M_SIZE]) != n:
            self._scratch = K.new_state(n, K.KO_SIMPLE)
        priors = batch.legal.astype(np.float32)
        priors[:, -1] *= self.pass_weight
        values = np.zeros(batch.count, np.float32)
        for i in range(batch.count):
            s = slot_view(batch.states, i)
            total = 0.0
            for _ in range(self.playouts):
                score, _moves = playout_from(s, self._scratch, self._rng, 3 * n * n)
                d = score - self.komi
                total += 1.0 if d > 0 else -1.0 if d < 0 else 0.0
            v = total / self.playouts
            values[i] = v if int(batch.to_move[i]) == K.BLACK else -v
        return priors, values


@dataclass(frozen=True)
class MoveStats:
    """One root move after a search: visits, Q for the player to move (in [-1, 1]), prior and principal variation."""

    move: str
    visits: int
    q: float
    prior: float
    pv: tuple[str, ...]

    @property
    def winrate(self) -> float:
        return (self.q + 1.0) / 2.0

    def lcb(self, z: float = 1.96) -> float:
        """A lower confidence bound of the win rate (normal approximation, variance at most 1/4 per visit)."""
        if self.visits == 0:
            return 0.0
        w = self.winrate
        var = max(w * (1.0 - w), 0.01)
        return max(0.0, w - z * math.sqrt(var / self.visits))


class MCTS(RolloutThreads):
    """A search tree bound to one board size; see the module docstring.

    ``search(board, simulations)`` runs simulations from ``board``'s position, reusing the statistics of the subtree
    when the board is the previous root plus the moves given to :meth:`advance`."""

    def __init__(
        self,
        size: int,
        komi: float = 7.5,
        config: SearchConfig | None = None,
        *,
        evaluator: Evaluator | None = None,
        threads: int = 1,
        batch_size: int | None = None,
        max_nodes: int = 200_000,
        seed: int | None = None,
        rollout_policy: np.ndarray | None = None,
        max_edges: int | None = None,
    ):
        if threads < 1:
            raise ValueError(f"threads must be >= 1, got {threads}")
        if threads > MAX_THREADS:
            raise ValueError(f"threads must be at most {MAX_THREADS}, got {threads}")
        if batch_size is not None and not 1 <= batch_size <= MAX_BATCH:
            raise ValueError(f"batch_size must be at least 1 and at most {MAX_BATCH}, got {batch_size}")
        if not 1 <= max_nodes <= MAX_TREE_NODES:
            raise ValueError(f"max_nodes must be in 1..{MAX_TREE_NODES}, got {max_nodes}")
        if max_edges is not None and not size * size + 1 <= max_edges <= MAX_TREE_EDGES:
            raise ValueError(f"max_edges must be in {size * size + 1}..{MAX_TREE_EDGES}, got {max_edges}")
        self.size = size
        self.komi = float(komi)
        self.config = config or SearchConfig()
        self.params = self.config.pack(size, self.komi)
        self.evaluator = evaluator
        self.max_nodes = max_nodes
        self.max_edges = tree_edges(max_nodes, size) if max_edges is None else max_edges
        self._tree = self._new_tree()
        self._spare = self._new_tree()
        self._full_mark = 0  # the tree's count of refused expansions when the root was set
        self._full_warned = False  # the warning of a refusal was logged for the current root
        self._root_key: tuple | None = None  # MB.position_key of the root board
        self._root_hash: int | None = None
        self._root_to_move: int | None = None
        self._root_state = K.new_state(size, K.KO_SIMPLE)  # the root's position (advance() replays a move on it)
        self._root_noised = False  # Dirichlet noise is in the root's priors
        self._root_hist = np.zeros((1, (size + 2) ** 2), np.int8)
        self._scratch = K.new_state(size, K.KO_SIMPLE)
        self._path = np.zeros(4 * size * size + 8, np.int32)
        self._no_priors = np.zeros(0, np.float32)
        self._pv = np.zeros(64, np.int16)
        self.seed = seed
        self.rng = make_rng(seed)
        self._np_rng = np.random.default_rng(seed)
        self.own = np.zeros((size + 2) ** 2, np.float64)
        self.stats = np.zeros(M.S_LEN, np.float64)
        self._batch_size = batch_size or (16 * threads if evaluator is None else getattr(evaluator, "batch_size", 8))
        self._batch_size = min(int(self._batch_size), MAX_BATCH)
        self._pool: K.BoardState | None = None
        self._pool_capacity = 0
        self._pending, self._pending_marks = 0, (0, 0)  # a begin_batch's leaves; the tree's nodes, edges before it
        self._init_threads(size, threads, seed, rollout_policy)

    # --- the root ----------------------------------------------------------------------------------------------

    def _new_tree(self) -> M.Tree:
        """A small tree; :meth:`_reserve` grows it up to ``max_nodes`` and ``max_edges``."""
        nodes = min(self.max_nodes, M.INITIAL_NODES)
        return M.new_tree(nodes, min(self.max_edges, max(nodes * (self.size * self.size + 1), 1)))

    def _reserve(self, count: int) -> int:
        """Grow the tree (between kernel calls) so that ``count`` more expansions fit, as far as the limits allow;
        returns how many simulations to run in the next kernel call: ``count``, or the expansions that surely fit
        when the limits stop short of it (``count`` again once nothing more fits: refusals are then counted)."""
        self._tree = M.reserve(self._tree, count, self.size, self.max_nodes, self.max_edges)
        fit = M.room(self._tree, self.size)
        return count if fit >= count or fit == 0 else fit

    def _note_full(self) -> None:
        """Log a warning, once per search (root), when an expansion was refused: the tree reached its limits."""
        if not self._full_warned and self.tree_full:
            self._full_warned = True
            nodes, edges = M.capacity(self._tree)
            log.warning(
                "search tree full: %d expansions refused at %d of %d nodes, %d of %d edges (max_nodes %d, "
                "max_edges %d); the leaves there are evaluated again instead of growing the tree",
                int(self._tree.meta[M.T_FULL]) - self._full_mark, int(self._tree.meta[M.T_NODES]), nodes,
                int(self._tree.meta[M.T_EDGES]), edges, self.max_nodes, self.max_edges,
            )  # fmt: skip

    @property
    def tree(self) -> M.Tree:
        return self._tree

    @property
    def tree_full(self) -> bool:
        """True when an expansion was refused since the root was set (the tree reached ``max_nodes`` or
        ``max_edges``): further simulations only revisit the leaves there are."""
        return int(self._tree.meta[M.T_FULL]) > self._full_mark

    def memory_bytes(self) -> int:
        """The memory of the trees (:func:`tree_bytes`): what this search takes at most for them."""
        return sum(a.nbytes for a in self._tree) + sum(a.nbytes for a in self._spare)

    @property
    def root_visits(self) -> int:
        root = int(self._tree.meta[M.T_ROOT])
        return 0 if root < 0 else int(self._tree.node_n[root])

    def set_root(self, board) -> None:
        """Make ``board``'s position the root: keep the tree if it already is (stones, player to move, ko point,
        passes and the game's earlier positions all the same), else start afresh. With Dirichlet noise configured,
        noise is mixed into a root's priors once. A pending :meth:`begin_batch` is cancelled."""
        if board.size != self.size:
            raise ValueError(f"this search is for {self.size}x{self.size}, the board is {board.size}x{board.size}")
        self.cancel_batch()
        s = board.state
        keep = self._tree.meta[M.T_ROOT] >= 0 and self._root_key == MB.position_key(board)
        if not keep:
            M.clear(self._tree)
            self._reset_root_stats()
            if self.evaluator is None:
                root = M.expand(self._tree, s, -1, self._no_priors, self.params)
            else:
                root = M.expand(self._tree, s, -1, self._evaluate_root(board), self.params)
            if root < 0:
                raise RuntimeError("search tree too small for one node")
            self._tree.meta[M.T_ROOT] = root
            self._new_root(board)
        self._full_mark = int(self._tree.meta[M.T_FULL])
        self._full_warned = False
        M.prune_root(self._tree, s)
        hlen = self._history_length()
        if hlen > 1:
            w = self.size + 2
            hist = board.history(hlen)
            self._root_hist = np.zeros((hlen, w * w), np.int8)
            self._root_hist.reshape(hlen, w, w)[:, 1:-1, 1:-1] = hist
        if self.config.dirichlet_weight > 0 and not self._root_noised:
            self.add_noise()

    def _new_root(self, board) -> None:
        self._root_key = MB.position_key(board)
        self._root_hash, self._root_to_move = board.hash, board.to_move
        self._root_noised = False
        K.copy_position(self._root_state, board.state)

    def reset(self, release: bool = False) -> None:
        """Forget the tree: the next search starts from scratch. ``release``: also give the trees' memory back to
        the system (fresh arrays, whose pages are only touched again as a new tree fills) rather than keep the
        pages the old tree filled."""
        self.cancel_batch()
        if release:
            self._tree = self._new_tree()
            self._spare = self._new_tree()
        else:
            M.clear(self._tree)
        self._full_mark = 0
        self._root_key = self._root_hash = None
        self._reset_root_stats()

    def _reset_root_stats(self) -> None:
        self.own[:] = 0.0
        self.stats[:] = 0.0

    def add_noise(self) -> None:
        """Mix Dirichlet(α) noise into the root priors with weight ε: P = (1-ε)·P + ε·η (AlphaGo Zero).
        :meth:`set_root` calls it once per root."""
        self._root_noised = True
        t = self._tree
        root = int(t.meta[M.T_ROOT])
        first, m = int(t.node_first[root]), int(t.node_nedges[root])
        if m < 2:
            return
        eps = self.config.dirichlet_weight
        eta = self._np_rng.dirichlet(np.full(m, self.config.alpha(self.size)))
        p = t.prior[first : first + m].astype(np.float64)
        t.prior[first : first + m] = ((1.0 - eps) * p + eps * eta).astype(np.float32)

    def advance(self, board) -> bool:
        """Tree reuse: if ``board`` is the root's position after one more move (its last move), keep that move's
        subtree; returns whether anything was kept (else the tree is cleared)."""
        self.cancel_batch()
        t = self._tree
        root = int(t.meta[M.T_ROOT])
        last = board.last_played  # not board.moves, which names every move of the game (O(moves) per call)
        if root < 0 or last is None:
            return False
        color, p = last
        first, m = int(t.node_first[root]), int(t.node_nedges[root])
        self._reset_root_stats()
        follows = MB.follows(self._root_key, self._root_state, self._scratch, board, color, p)
        for e in range(first, first + m) if follows else ():
            if int(t.move[e]) == p and int(t.child[e]) >= 0:
                self._spare = M.spare_for(self._spare, t)
                M.compact(t, self._spare, int(t.child[e]))
                self._tree, self._spare = self._spare, self._tree
                self._new_root(board)
                return True
        M.clear(t)
        self._root_key = self._root_hash = None
        return False

    # --- running simulations -----------------------------------------------------------------------------------

    def search(self, board, simulations: int, *, rollouts: bool = True) -> list[MoveStats]:
        """Run ``simulations`` simulations from ``board`` and return the root's moves, most visited first."""
        if simulations < 0:
            raise ValueError("simulations must be >= 0")
        self.set_root(board)
        self.run(board, simulations, rollouts)
        return self.root_moves()

    def run(self, board, simulations: int, rollouts: bool = True) -> int:
        """Run more simulations on the current root (already set for ``board``); returns the count.

        ``rollouts=False`` without an evaluator backs up a dummy value 0 (the tree-overhead benchmark). A pending
        :meth:`begin_batch` is cancelled."""
        self.cancel_batch()
        if simulations <= 0:
            return 0
        done = 0
        if self.evaluator is None and self.threads == 1 and self.rollout_policy is None:
            while done < simulations:
                # a kernel call at a time, the tree grown before it (by 4096 at most: it grows as it fills)
                count = self._reserve(min(simulations - done, 4096))
                done += int(M.run_simulations(
                    self._tree, board.state, self._scratch, self.rng, self.params, self._path, self._no_priors, count,
                    rollouts, self.own, self.stats,
                ))  # fmt: skip
            self._note_full()
            return done
        if self.evaluator is None and self.threads > 1 and rollouts:
            done = self._run_pipelined(board, simulations)
            self._note_full()
            return done
        while done < simulations:
            done += self._run_batch(board, min(self._batch_size, simulations - done), rollouts)
        self._note_full()
        return done

    def _ensure_pool(self, want: int | None = None) -> None:
        if self._pool is None or (want is not None and want > self._pool_capacity):
            b = max(self._batch_size, want or 0)
            self._pool_capacity = b
            sl = self._slots = LeafSlots(self.size, b, self._path.shape[0], self.evaluator is not None)
            self._pool, self._rpool, self._paths, self._depths = sl.pool, sl.rpool, sl.paths, sl.depths
            self._status, self._scores, self._values, self._priors = sl.status, sl.scores, sl.values, sl.priors

    def _run_batch(self, board, count: int, rollouts: bool) -> int:
        self._ensure_pool()
        self._reserve(count)
        t, pool = self._tree, self._pool
        with_eval = self.evaluator is not None
        marks = int(t.meta[M.T_NODES]), int(t.meta[M.T_EDGES])
        MB.select_leaves(
            t, board.state, pool, self.params, self._paths, self._depths, self._status, count, not with_eval,
            self._no_priors,
        )  # fmt: skip
        use_rollouts = rollouts and (not with_eval or self.config.lam > 0)
        try:  # on any error (evaluator, malformed output, rollouts, Ctrl-C) the batch is taken back from the tree
            if with_eval:
                # the rollouts play out copies of the leaves on other threads while the evaluator reads the
                # originals (the kernels and torch both release the GIL), so the network and the playouts overlap
                pending = []
                try:
                    if use_rollouts:
                        copy_slots(self._rpool, pool, count)
                        pending = self._start_rollouts(self._slots, count)
                    self._evaluate_leaves(board, count)
                finally:
                    MB.join_all(pending)
            elif use_rollouts:
                self._rollouts(self._slots, count)
        except BaseException:
            MB.undo_leaves(t, self._paths, self._depths, count, *marks)
            raise
        if with_eval:
            MB.expand_leaves(t, pool, self._paths, self._depths, self._status, count, self._priors, self.params)
            final = self._rpool
        else:
            self._values[:count] = 0.0
            final = pool
        has_value = with_eval or not rollouts
        MB.backup_leaves(
            t, final, self._paths, self._depths, self._status, count, self._values, has_value, self._scores,
            use_rollouts, self.params, self.own, self.stats,
        )  # fmt: skip
        return count

    # --- evaluation by the caller (many searches, one network batch) ---------------------------------------------

    def begin_batch(self, board, count: int) -> LeafBatch:
        """Select up to ``count`` leaves (with virtual loss) from the current root, already set for ``board`` with
        :meth:`set_root`, and return them as a :class:`LeafBatch` for the caller to evaluate; hand the results to
        :meth:`end_batch`. Self-play uses this to put the leaves of many games into one network call. Zero mode
        only (λ = 0: there are no rollouts to run) and only with an evaluator (for the root's priors and
        ``history_length``). The batch's arrays are this search's work space: copy what must outlive
        :meth:`end_batch`. A batch still pending is cancelled first (:meth:`cancel_batch`)."""
        self.cancel_batch()
        if self.evaluator is None:
            raise ValueError("begin_batch needs an evaluator (for the root's priors and the history length)")
        if self.config.lam > 0:
            raise ValueError("begin_batch is for λ = 0 (no rollouts); use run() for mixed evaluation")
        if int(self._tree.meta[M.T_ROOT]) < 0:
            raise RuntimeError("set_root first")
        count = max(1, int(count))
        self._ensure_pool(count)
        self._reserve(count)
        self._pending_marks = int(self._tree.meta[M.T_NODES]), int(self._tree.meta[M.T_EDGES])
        MB.select_leaves(
            self._tree, board.state, self._pool, self.params, self._paths, self._depths, self._status, count, False,
            self._no_priors,
        )  # fmt: skip
        self._pending = count
        try:
            return self._leaf_batch(board, count)
        except BaseException:
            self.cancel_batch()
            raise

    def end_batch(self, priors: np.ndarray, values: np.ndarray) -> int:
        """Expand and back up the leaves of the last :meth:`begin_batch` with the evaluator's outputs for them
        (``priors [count, N*N+1]``, ``values [count]`` for the player to move at each leaf); returns the count.
        Malformed outputs raise ValueError and cancel the batch."""
        count = self._pending
        if count <= 0:
            raise RuntimeError("end_batch without begin_batch")
        try:
            priors, values = self._check_output(count, priors, values)
        except BaseException:
            self.cancel_batch()
            raise
        self._pending = 0
        to_move = self._pool.meta[:count, K.M_TO_MOVE]
        self._priors[:count] = priors
        self._values[:count] = np.where(to_move == K.WHITE, -values, values)
        t = self._tree
        MB.expand_leaves(t, self._pool, self._paths, self._depths, self._status, count, self._priors, self.params)
        MB.backup_leaves(
            t, self._pool, self._paths, self._depths, self._status, count, self._values, True, self._scores,
            False, self.params, self.own, self.stats,
        )  # fmt: skip
        self._note_full()
        return count

    def cancel_batch(self) -> int:
        """Drop a :meth:`begin_batch` that gets no :meth:`end_batch`: take back its virtual loss; returns its leaves."""
        count, self._pending = self._pending, 0
        if count > 0:
            MB.undo_leaves(self._tree, self._paths, self._depths, count, *self._pending_marks)
        return count

    def _history_length(self) -> int:
        if self.evaluator is None:
            return 1
        return max(1, int(getattr(self.evaluator, "history_length", 1)))

    def _make_batch(self, count: int, states: K.BoardState, history: np.ndarray) -> LeafBatch:
        n = self.size
        w = n + 2
        hist = history[:count].reshape(count, -1, w, w)[:, :, 1:-1, 1:-1]
        to_move = states.meta[:count, K.M_TO_MOVE].astype(np.int8)
        legal = np.zeros((count, n * n + 1), np.bool_)
        legal_masks(states, count, legal, self.config.fill_eyes)
        return LeafBatch(n, count, states, np.ascontiguousarray(hist), to_move, legal)

    def _call_evaluator(self, batch: LeafBatch) -> tuple[np.ndarray, np.ndarray]:
        priors, values = self.evaluator.evaluate(batch)
        return self._check_output(batch.count, priors, values)

    def _check_output(self, count: int, priors, values) -> tuple[np.ndarray, np.ndarray]:
        priors = np.asarray(priors, np.float32)
        values = np.asarray(values, np.float64).reshape(-1)
        want = (count, self.size * self.size + 1)
        if priors.shape != want or values.shape != (count,):
            raise ValueError(
                f"evaluator returned priors {priors.shape} and values {values.shape}, expected {want} and ({count},)"
            )
        if not (np.isfinite(priors).all() and np.isfinite(values).all()) or (priors < 0).any():
            raise ValueError("evaluator returned negative or non-finite priors or non-finite values")
        return priors, np.clip(values, -1.0, 1.0)

    def _evaluate_root(self, board) -> np.ndarray:
        pool = new_pool(self.size, 1)
        copy_to_slot(pool, 0, board.state)  # simple ko, no game history (superko is pruned at the root)
        hlen = self._history_length()
        w = self.size + 2
        hist = np.zeros((1, hlen, w, w), np.int8)
        hist[0, :, 1:-1, 1:-1] = board.history(hlen)
        priors, _ = self._call_evaluator(self._make_batch(1, pool, hist.reshape(1, hlen, w * w)))
        return priors[0]

    def _evaluate_leaves(self, board, count: int) -> None:
        batch = self._leaf_batch(board, count)
        priors, values = self._call_evaluator(batch)
        self._priors[:count] = priors
        self._values[:count] = np.where(batch.to_move == K.WHITE, -values, values)  # Black's point of view

    def _leaf_batch(self, board, count: int) -> LeafBatch:
        hlen = self._history_length()
        w = self.size + 2
        hist = np.zeros((count, hlen, w * w), np.int8)
        if hlen == 1:
            hist[:, 0, :] = self._pool.stones[:count]
        else:
            MB.leaf_history(self._tree, board.state, self._root_hist, self._paths, self._depths, count,
                           self._scratch, hist)  # fmt: skip
        batch = self._make_batch(count, self._pool, hist)
        batch.expand = self._status[:count] == M.LEAF_EXPAND
        batch.values_needed = self.config.lam < 1.0
        return batch

    # --- reading the root --------------------------------------------------------------------------------------

    def root_moves(self) -> list[MoveStats]:
        t = self._tree
        root = int(t.meta[M.T_ROOT])
        if root < 0:
            return []
        m = int(t.node_nedges[root])
        moves = np.zeros(m, np.int16)
        visits = np.zeros(m, np.int32)
        q = np.zeros(m, np.float64)
        prior = np.zeros(m, np.float64)
        M.root_counts(t, moves, visits, q, prior, self.params)
        out = []
        first = int(t.node_first[root])
        for i in np.argsort(-visits, kind="stable"):
            k = M.principal_variation(t, first + int(i), self._pv)
            pv = tuple(padded_to_gtp(int(x), self.size) for x in self._pv[:k])
            out.append(
                MoveStats(padded_to_gtp(int(moves[i]), self.size), int(visits[i]), float(q[i]), float(prior[i]), pv)
            )
        return out

    def best_move(self) -> str:
        moves = self.root_moves()
        if not moves:
            raise RuntimeError("no search has been run")
        return moves[0].move

    def choose_move(self, temperature: float = 0.0) -> str:
        """The move to play: the most visited (temperature 0), or one drawn with probability ∝ N^(1/τ)."""
        moves = self.root_moves()
        if not moves:
            raise RuntimeError("no search has been run")
        if temperature <= 0 or moves[0].visits == 0:
            return moves[0].move
        n = np.array([m.visits for m in moves], np.float64)
        logits = np.log(np.maximum(n, 1e-12)) / temperature
        p = np.exp(logits - logits.max()) * (n > 0)
        p /= p.sum()
        return moves[int(self._np_rng.choice(len(moves), p=p))].move

    def visit_distribution(self) -> np.ndarray:
        """Root visit counts as a distribution over flat moves (N*N + 1, pass last): the training target of Zero."""
        n = self.size
        out = np.zeros(n * n + 1, np.float64)
        for m in self.root_moves():
            out[n * n if m.move == "pass" else _flat(m.move, n)] = m.visits
        total = out.sum()
        return out / total if total > 0 else out

    @property
    def rollouts(self) -> int:
        """Rollouts counted in the root statistics (ownership, score) since the root was set."""
        return int(self.stats[M.S_COUNT])

    def ownership(self) -> np.ndarray | None:
        """Mean final owner of every point over the root's rollouts, ``(N, N)`` float in [-1, 1], +1 Black;
        None before any rollout."""
        count = self.stats[M.S_COUNT]
        if count <= 0:
            return None
        w = self.size + 2
        return (self.own.reshape(w, w)[1:-1, 1:-1] / count).copy()

    def score_mean(self) -> float | None:
        """Mean of Black's area margin minus komi over the root's rollouts; None before any rollout."""
        count = self.stats[M.S_COUNT]
        return None if count <= 0 else float(self.stats[M.S_SCORE] / count)


def _flat(vertex: str, n: int) -> int:
    from .coords import gtp_to_rc

    r, c = gtp_to_rc(vertex, n)
    return r * n + c


__all__ = [
    "EDGE_BYTES",
    "NODE_BYTES",
    "SearchConfig",
    "MCTS",
    "MoveStats",
    "Evaluator",
    "LeafBatch",
    "PlayoutEvaluator",
    "tree_bytes",
    "tree_edges",
]
