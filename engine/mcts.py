"""APV-MCTS over preallocated arrays (Numba), as in AlphaGo (2016), with an AlphaGo Zero mode.

The tree is a :class:`Tree` of flat arrays, no Python object per node. A *node* is an expanded position; its *edges*
(one per legal move, pass included) are a contiguous slice ``[node_first, node_first + node_nedges)`` of the edge
arrays and carry the statistics, as in the paper:

- ``prior`` P(s, a);
- ``n`` visits through the edge (used by PUCT and the expansion threshold);
- ``nv``/``wv`` value-network evaluations and their summed values, ``nr``/``wr`` rollouts and their summed outcomes;
- ``vl`` simulations in flight through the edge (virtual loss);
- ``child``: the node the edge leads to, or -1 until it is expanded.

Values are stored from the point of view of the player who plays the edge's move, in [-1, 1].

Selection (PUCT): ``a = argmax Q(s,a) + c_puct · P(s,a) · sqrt(N(s)) / (1 + N(s,a))`` with
``Q = (1-λ)·wv/nv + λ·wr/nr`` (either term alone when only one kind of evaluation exists, ``fpu`` for an edge never
evaluated). Virtual loss: each simulation in flight through an edge counts as ``n_vl`` extra visits that all lost, so
a batch of leaves can be selected before any is evaluated. Expansion: when an edge has been visited ``n_thr`` times
(``n_thr <= 1``: at once) its position becomes a node. Evaluation is by rollouts (:mod:`engine.playout`) and/or by an
evaluator (a batch of positions in, priors and values out) outside this module; :func:`backup` adds a result to
either set of statistics.

Inside the tree, legality uses simple ko (the tree has no game history); the root's moves come from the real board,
where superko applies, so a move the game forbids is never chosen at the root.

Kernels here are compiled without reference counting (:mod:`engine.jit`) and never allocate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from . import board_kernels as K
from .jit import kernel
from .playout import is_eye, playout

# tree meta
T_NODES = 0  # nodes in use
T_EDGES = 1  # edges in use
T_ROOT = 2  # root node index
T_FULL = 3  # expansions refused because the tree was full
T_META_LEN = 4

# search parameters, packed for the kernels (see SearchConfig)
P_CPUCT = 0
P_LAMBDA = 1
P_FPU = 2
P_NVL = 3
P_NTHR = 4
P_KOMI = 5
P_PASS_PRIOR = 6
P_MAX_MOVES = 7
P_LEN = 8


@dataclass(frozen=True)
class SearchConfig:
    """Parameters of the search. The defaults are AlphaGo's where the paper gives them (c_puct 5, n_vl 3), and a
    rollout-only search (λ = 1) that expands after ``n_thr`` visits."""

    c_puct: float = 5.0
    lam: float = 1.0  # weight of rollouts in Q: 1 rollouts only, 0 value network only, AlphaGo used 0.5
    fpu: float = 0.0  # Q of an edge never evaluated (first-play urgency), in [-1, 1]
    n_vl: int = 3  # virtual loss per simulation in flight
    n_thr: int = 1  # expand an edge's position after this many visits (AlphaGo: 40; <= 1: at once)
    pass_prior: float = 0.1  # prior weight of pass relative to a board move under the uniform prior
    max_rollout_moves: int = 0  # rollout length cap; 0 = 3 * points

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

    def pack(self, size: int, komi: float) -> np.ndarray:
        p = np.zeros(P_LEN, np.float64)
        p[P_CPUCT] = self.c_puct
        p[P_LAMBDA] = self.lam
        p[P_FPU] = self.fpu
        p[P_NVL] = self.n_vl
        p[P_NTHR] = self.n_thr
        p[P_KOMI] = komi
        p[P_PASS_PRIOR] = self.pass_prior
        p[P_MAX_MOVES] = self.max_rollout_moves or 3 * size * size
        return p


class Tree(NamedTuple):
    node_first: np.ndarray  # int32[M]  first edge
    node_nedges: np.ndarray  # int32[M]
    node_n: np.ndarray  # int32[M]  visits through the node (sum of its edges' n)
    node_color: np.ndarray  # int8[M]  player to move at the node
    node_parent: np.ndarray  # int32[M]  edge leading to the node, -1 at the root
    move: np.ndarray  # int16[E]  padded point or PASS
    prior: np.ndarray  # float32[E]
    n: np.ndarray  # int32[E]
    nv: np.ndarray  # int32[E]
    wv: np.ndarray  # float32[E]
    nr: np.ndarray  # int32[E]
    wr: np.ndarray  # float32[E]
    vl: np.ndarray  # int32[E]
    child: np.ndarray  # int32[E]
    meta: np.ndarray  # int64[T_META_LEN]


def new_tree(max_nodes: int, max_edges: int) -> Tree:
    if max_nodes < 1 or max_edges < 1:
        raise ValueError("a tree needs room for at least one node and one edge")
    t = Tree(
        node_first=np.zeros(max_nodes, np.int32),
        node_nedges=np.zeros(max_nodes, np.int32),
        node_n=np.zeros(max_nodes, np.int32),
        node_color=np.zeros(max_nodes, np.int8),
        node_parent=np.zeros(max_nodes, np.int32),
        move=np.zeros(max_edges, np.int16),
        prior=np.zeros(max_edges, np.float32),
        n=np.zeros(max_edges, np.int32),
        nv=np.zeros(max_edges, np.int32),
        wv=np.zeros(max_edges, np.float32),
        nr=np.zeros(max_edges, np.int32),
        wr=np.zeros(max_edges, np.float32),
        vl=np.zeros(max_edges, np.int32),
        child=np.zeros(max_edges, np.int32),
        meta=np.zeros(T_META_LEN, np.int64),
    )
    clear(t)
    return t


@kernel
def clear(t):
    t.meta[T_NODES] = 0
    t.meta[T_EDGES] = 0
    t.meta[T_ROOT] = -1
    t.meta[T_FULL] = 0


# --- expansion -------------------------------------------------------------------------------------------------------


@kernel
def expand(t, s, parent_edge, priors, params):
    """Make the position ``s`` a node with one edge per legal move (simple ko) and pass.

    ``priors`` is float32[N*N + 1] in flat order (pass last) from an evaluator, or an empty array for the uniform
    prior (own single-point eyes excluded, pass weighted by ``pass_prior``). Priors are renormalised over the legal
    moves. Returns the node, or -1 if the tree is full."""
    n = s.meta[K.M_SIZE]
    w = n + 2
    node = t.meta[T_NODES]
    first = t.meta[T_EDGES]
    if node >= t.node_first.shape[0] or first + n * n + 1 > t.move.shape[0]:
        t.meta[T_FULL] += 1
        return -1
    color = s.meta[K.M_TO_MOVE]
    uniform = priors.shape[0] == 0
    k = first
    total = 0.0
    for i in range(s.meta[K.M_NEMPTY]):
        p = s.empties[i]
        if K.basic_legality(s, p, color) != K.OK:
            continue
        if uniform:
            if is_eye(s, p, color):
                continue
            pr = 1.0
        else:
            r = p // w - 1
            c = p % w - 1
            pr = priors[r * n + c]
        t.move[k] = p
        t.prior[k] = pr
        total += pr
        k += 1
    t.move[k] = K.PASS
    pr = params[P_PASS_PRIOR] if uniform else priors[n * n]
    t.prior[k] = pr
    total += pr
    k += 1
    if total <= 0.0:
        total = 1.0
        for e in range(first, k):
            t.prior[e] = 1.0 / (k - first)
    else:
        for e in range(first, k):
            t.prior[e] = t.prior[e] / total
    for e in range(first, k):
        t.n[e] = 0
        t.nv[e] = 0
        t.wv[e] = 0.0
        t.nr[e] = 0
        t.wr[e] = 0.0
        t.vl[e] = 0
        t.child[e] = -1
    t.node_first[node] = first
    t.node_nedges[node] = k - first
    t.node_n[node] = 0
    t.node_color[node] = color
    t.node_parent[node] = parent_edge
    t.meta[T_NODES] = node + 1
    t.meta[T_EDGES] = k
    if parent_edge >= 0:
        t.child[parent_edge] = node
    return node


# --- selection -------------------------------------------------------------------------------------------------------


@kernel
def edge_q(t, e, lam, fpu, n_vl):
    """Q of edge ``e`` for the player choosing it, with virtual loss counted as lost visits."""
    loss = t.vl[e] * n_vl
    nv = t.nv[e]
    nr = t.nr[e]
    if nv == 0 and nr == 0 and loss == 0:
        return fpu
    if nv + loss > 0:
        qv = (t.wv[e] - loss) / (nv + loss)
    else:
        qv = fpu
    if nr + loss > 0:
        qr = (t.wr[e] - loss) / (nr + loss)
    else:
        qr = fpu
    if nv == 0:
        return qr
    if nr == 0:
        return qv
    return (1.0 - lam) * qv + lam * qr


@kernel
def select_edge(t, node, params):
    """PUCT: the edge of ``node`` maximising Q + c_puct · P · sqrt(N) / (1 + N_a) (virtual loss included)."""
    c = params[P_CPUCT]
    lam = params[P_LAMBDA]
    fpu = params[P_FPU]
    n_vl = np.int64(params[P_NVL])
    first = t.node_first[node]
    end = first + t.node_nedges[node]
    total = t.node_n[node]
    for e in range(first, end):
        total += t.vl[e] * n_vl
    sqrt_total = math.sqrt(max(total, 1))
    best = first
    best_score = -1e30
    for e in range(first, end):
        na = t.n[e] + t.vl[e] * n_vl
        score = edge_q(t, e, lam, fpu, n_vl) + c * t.prior[e] * sqrt_total / (1.0 + na)
        if score > best_score:
            best_score = score
            best = e
    return best


@kernel
def descend(t, s, params, path):
    """From the root, select edges and play their moves on ``s`` (a copy of the root position) until an edge without
    a child or the end of the game (two passes). Adds virtual loss on the way. Writes the edges to ``path`` and
    returns how many."""
    node = t.meta[T_ROOT]
    depth = 0
    while True:
        e = select_edge(t, node, params)
        path[depth] = e
        depth += 1
        t.vl[e] += 1
        p = t.move[e]
        if p == K.PASS:
            K.play_pass(s)
        else:
            K.place(s, p, s.meta[K.M_TO_MOVE])
        child = t.child[e]
        if child < 0 or s.meta[K.M_PASSES] >= 2 or depth >= path.shape[0]:
            return depth
        node = child


@kernel
def backup(t, path, depth, value, has_value, outcome, has_outcome):
    """Add a leaf's evaluation to every edge of ``path`` and take back its virtual loss.

    ``value`` (value network) and ``outcome`` (rollout) are from Black's point of view in [-1, 1]; each edge stores
    them for the player who played it."""
    for i in range(depth):
        e = path[i]
        node = _edge_node(t, e, i, path)
        sign = 1.0 if t.node_color[node] == K.BLACK else -1.0
        t.vl[e] -= 1
        t.n[e] += 1
        t.node_n[node] += 1
        if has_value:
            t.nv[e] += 1
            t.wv[e] += sign * value
        if has_outcome:
            t.nr[e] += 1
            t.wr[e] += sign * outcome


@kernel
def _edge_node(t, e, i, path):
    """The node an edge of the path leaves from: the root for the first, else the child of the previous edge."""
    if i == 0:
        return t.meta[T_ROOT]
    return t.child[path[i - 1]]


# --- whole simulations ---------------------------------------------------------------------------------------------


@kernel
def outcome_of(s, komi):
    """+1 if Black wins the finished position ``s`` by Tromp-Taylor area with ``komi``, -1 if White does, 0 a draw."""
    b, w = K.area(s)
    d = b - w - komi
    if d > 0:
        return 1.0
    if d < 0:
        return -1.0
    return 0.0


@kernel
def simulate(t, root, s, rng, params, path, no_priors, use_rollout):
    """One simulation: descend, expand the leaf if its edge reached ``n_thr`` visits, evaluate by a rollout (or, with
    ``use_rollout`` False, by a dummy value 0 — the tree-overhead benchmark), back up. ``s`` is scratch."""
    K.copy_position(s, root)
    depth = descend(t, s, params, path)
    e = path[depth - 1]
    if t.child[e] < 0 and s.meta[K.M_PASSES] < 2 and t.n[e] + 1 >= params[P_NTHR]:
        expand(t, s, e, no_priors, params)
    if not use_rollout:
        backup(t, path, depth, 0.0, True, 0.0, False)
        return
    if s.meta[K.M_PASSES] < 2:
        playout(s, rng, np.int64(params[P_MAX_MOVES]))
    backup(t, path, depth, 0.0, False, outcome_of(s, params[P_KOMI]), True)


@kernel
def run_simulations(t, root, s, rng, params, path, no_priors, count, use_rollout):
    for _ in range(count):
        simulate(t, root, s, rng, params, path, no_priors, use_rollout)
    return count


# --- reading the root -------------------------------------------------------------------------------------------------


@kernel
def root_counts(t, out_moves, out_n, out_q, out_prior, params):
    """Copy the root's edges (move, visits, Q for the player to move, prior); returns how many."""
    root = t.meta[T_ROOT]
    first = t.node_first[root]
    m = t.node_nedges[root]
    for i in range(m):
        e = first + i
        out_moves[i] = t.move[e]
        out_n[i] = t.n[e]
        out_q[i] = edge_q(t, e, params[P_LAMBDA], params[P_FPU], 0)
        out_prior[i] = t.prior[e]
    return m


@kernel
def principal_variation(t, e, out):
    """Moves along the most visited edges starting with edge ``e``; returns the length."""
    k = 0
    while e >= 0 and k < out.shape[0]:
        out[k] = t.move[e]
        k += 1
        node = t.child[e]
        if node < 0 or t.node_nedges[node] == 0:
            break
        first = t.node_first[node]
        best = -1
        best_n = 0
        for f in range(first, first + t.node_nedges[node]):
            if t.n[f] > best_n:
                best_n = t.n[f]
                best = f
        e = best
    return k


@kernel
def _copy_edge(src, se, dst, de):
    """Copy edge ``se`` of ``src`` to ``de`` of ``dst``: move, prior and statistics (not vl or child)."""
    dst.move[de] = src.move[se]
    dst.prior[de] = src.prior[se]
    dst.n[de] = src.n[se]
    dst.nv[de] = src.nv[se]
    dst.wv[de] = src.wv[se]
    dst.nr[de] = src.nr[se]
    dst.wr[de] = src.wr[se]


@kernel
def compact(src, dst, new_root):
    """Copy the subtree under ``new_root`` of ``src`` into ``dst`` (breadth first), where it becomes the root.

    Tree reuse after a move: the statistics below the move are kept and everything else is dropped. Nodes that do
    not fit are cut off (their edges keep their statistics but lose their child). Returns the number of nodes."""
    clear(dst)
    dst.meta[T_ROOT] = 0
    queue_src = dst.node_n  # until a destination node is filled, its node_n holds its source node
    queue_src[0] = new_root
    dst.node_parent[0] = -1
    reserved = src.node_nedges[new_root]
    head = 0
    tail = 1
    edges = 0
    while head < tail:
        sn = queue_src[head]
        first = src.node_first[sn]
        m = src.node_nedges[sn]
        dst.node_first[head] = edges
        dst.node_nedges[head] = m
        dst.node_color[head] = src.node_color[sn]
        total = 0
        for i in range(m):
            se = first + i
            de = edges + i
            _copy_edge(src, se, dst, de)
            dst.vl[de] = 0
            total += src.n[se]
            c = src.child[se]
            dst.child[de] = -1
            if c >= 0 and tail < dst.node_first.shape[0] and reserved + src.node_nedges[c] <= dst.move.shape[0]:
                dst.child[de] = tail
                dst.node_parent[tail] = de
                queue_src[tail] = c
                reserved += src.node_nedges[c]
                tail += 1
        edges += m
        queue_src[head] = total  # now node_n proper
        head += 1
    dst.meta[T_NODES] = tail
    dst.meta[T_EDGES] = edges
    return tail


@kernel
def prune_root(t, s):
    """Drop the root's edges that the full rules of the game ``s`` forbid (superko), and renormalise the priors."""
    root = t.meta[T_ROOT]
    first = t.node_first[root]
    m = t.node_nedges[root]
    color = s.meta[K.M_TO_MOVE]
    k = first
    total = 0.0
    for e in range(first, first + m):
        p = t.move[e]
        if p != K.PASS and K.legality(s, p, color) != K.OK:
            continue
        _copy_edge(t, e, t, k)
        t.vl[k] = t.vl[e]
        t.child[k] = t.child[e]
        if t.child[k] >= 0:
            t.node_parent[t.child[k]] = k
        total += t.prior[k]
        k += 1
    t.node_nedges[root] = k - first
    if total > 0.0:
        for e in range(first, k):
            t.prior[e] = t.prior[e] / total
    return k - first


# --- the Python API ---------------------------------------------------------------------------------------------------


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


class MCTS:
    """A search tree bound to one board size: rollout search with the uniform prior (λ = 1), or the tree alone with a
    dummy value (for benchmarks). The batched network evaluation path builds on :func:`descend`, :func:`expand` and
    :func:`backup`.

    ``search(board, simulations)`` runs simulations from ``board``'s position, reusing the statistics of the subtree
    when the board is the previous root plus the moves given to :meth:`advance`. A seed makes a single-threaded
    search reproducible."""

    def __init__(
        self,
        size: int,
        komi: float = 7.5,
        config: SearchConfig | None = None,
        *,
        max_nodes: int = 200_000,
        seed: int | None = None,
    ):
        from .rng import make_rng

        self.size = size
        self.komi = float(komi)
        self.config = config or SearchConfig()
        self.params = self.config.pack(size, self.komi)
        edges = max_nodes * min(size * size + 1, 64)
        self._tree = new_tree(max_nodes, max(edges, size * size + 1))
        self._spare = new_tree(max_nodes, max(edges, size * size + 1))
        self._root_hash: int | None = None
        self._root_to_move: int | None = None
        self._scratch = K.new_state(size, K.KO_SIMPLE)
        self._path = np.zeros(4 * size * size + 8, np.int32)
        self._no_priors = np.zeros(0, np.float32)
        self._pv = np.zeros(64, np.int16)
        self.rng = make_rng(seed)

    @property
    def tree(self) -> Tree:
        return self._tree

    @property
    def root_visits(self) -> int:
        root = int(self._tree.meta[T_ROOT])
        return 0 if root < 0 else int(self._tree.node_n[root])

    def set_root(self, board) -> None:
        """Make ``board``'s position the root: keep the tree if it already is, else start afresh."""
        if board.size != self.size:
            raise ValueError(f"this search is for {self.size}x{self.size}, the board is {board.size}x{board.size}")
        s = board.state
        if self._tree.meta[T_ROOT] >= 0 and self._root_hash == board.hash and self._root_to_move == board.to_move:
            prune_root(self._tree, s)
            return
        clear(self._tree)
        root = expand(self._tree, s, -1, self._no_priors, self.params)
        if root < 0:
            raise RuntimeError("search tree too small for one node")
        self._tree.meta[T_ROOT] = root
        prune_root(self._tree, s)
        self._root_hash, self._root_to_move = board.hash, board.to_move

    def advance(self, board) -> bool:
        """Tree reuse: ``board`` is the old root after one more move (its last move). Keep that move's subtree;
        returns whether anything was kept."""
        t = self._tree
        root = int(t.meta[T_ROOT])
        if root < 0 or not board.moves:
            return False
        from .coords import gtp_to_padded

        color, vertex = board.moves[-1]
        p = gtp_to_padded(vertex, self.size)
        first, m = int(t.node_first[root]), int(t.node_nedges[root])
        for e in range(first, first + m):
            if int(t.move[e]) == p and int(t.child[e]) >= 0 and int(t.node_color[root]) == color:
                compact(t, self._spare, int(t.child[e]))
                self._tree, self._spare = self._spare, self._tree
                self._root_hash, self._root_to_move = board.hash, board.to_move
                return True
        clear(t)
        self._root_hash = None
        return False

    def search(self, board, simulations: int, *, rollouts: bool = True) -> list[MoveStats]:
        """Run ``simulations`` simulations from ``board`` and return the root's moves, most visited first."""
        if simulations < 0:
            raise ValueError("simulations must be >= 0")
        self.set_root(board)
        self.run(board, simulations, rollouts)
        return self.root_moves()

    def run(self, board, simulations: int, rollouts: bool = True) -> int:
        """Run more simulations on the current root (already set for ``board``); returns the count."""
        return int(
            run_simulations(
                self._tree,
                board.state,
                self._scratch,
                self.rng,
                self.params,
                self._path,
                self._no_priors,
                simulations,
                rollouts,
            )
        )

    def root_moves(self) -> list[MoveStats]:
        from .coords import padded_to_gtp

        t = self._tree
        root = int(t.meta[T_ROOT])
        if root < 0:
            return []
        m = int(t.node_nedges[root])
        moves = np.zeros(m, np.int16)
        visits = np.zeros(m, np.int32)
        q = np.zeros(m, np.float64)
        prior = np.zeros(m, np.float64)
        root_counts(t, moves, visits, q, prior, self.params)
        out = []
        first = int(t.node_first[root])
        for i in np.argsort(-visits, kind="stable"):
            k = principal_variation(t, first + int(i), self._pv)
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


__all__ = [
    "MCTS",
    "MoveStats",
    "SearchConfig",
    "Tree",
    "new_tree",
    "clear",
    "expand",
    "select_edge",
    "descend",
    "backup",
    "simulate",
    "run_simulations",
    "root_counts",
    "principal_variation",
    "compact",
    "prune_root",
]
