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
``Q = (1-λ)·wv/nv + λ·wr/nr`` (either term alone when only one kind of evaluation exists; for an edge never
evaluated ``fpu``, or the node's value minus a reduction, :func:`node_fpu`), c_puct constant or growing with N(s).
Virtual loss: each simulation in flight through an edge counts as ``n_vl`` extra visits that all lost, so a batch of
leaves can be selected before any is evaluated. Expansion: when an edge has been visited ``n_thr`` times
(``n_thr <= 1``: at once) its position becomes a node. Evaluation is by rollouts (:mod:`igo.engine.playout`) and/or
by an evaluator (a batch of positions in, priors and values out) outside this module; :func:`backup` adds a result
to either set of statistics.

Superko: a node's edges are its moves legal under simple ko; the root's are pruned with the real board's rules
(:func:`prune_root`), and below the root :func:`descend` drops an edge (``child`` :data:`EDGE_DEAD`, never selected
again) the first time it is selected if its move would repeat a position of the game or of the path from the root
under the root board's superko rule, as Leela Zero does. The check costs one hash and a scan of the game's and the
path's positions per leaf, and nothing under simple ko.

The batched simulations (a pool of leaves for an evaluator or for rollouts on threads) are in
:mod:`igo.engine.mcts_batch`; the search as a Python object, with its :class:`~igo.engine.search.SearchConfig` (packed
into the ``P_*`` parameter array read here), is :class:`igo.engine.search.MCTS`.

Kernels here are compiled without reference counting (:mod:`igo.engine.jit`) and never allocate.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from . import board_kernels as K
from .jit import inner_kernel, kernel
from .playout import is_eye, playout

# tree meta
T_NODES = 0  # nodes in use
T_EDGES = 1  # edges in use
T_ROOT = 2  # root node index
T_FULL = 3  # expansions refused because the tree was full
T_META_LEN = 4

EDGE_DEAD = -2  # ``child`` of an edge dropped because its move repeats a position (superko): never selected

# root statistics of rollouts (see record_final)
S_COUNT = 0  # rollouts finished
S_SCORE = 1  # sum of Black's area margin minus komi
S_LEN = 2

# leaf status in a batch (select_leaves)
LEAF_TERMINAL = 0  # the game ended at the leaf (two passes): its value is the exact area result
LEAF_READY = 1  # to evaluate; expanded already, or not due for expansion
LEAF_EXPAND = 2  # due for expansion once the evaluator has given priors

# search parameters, packed for the kernels (igo.engine.search.SearchConfig.pack)
P_CPUCT = 0
P_LAMBDA = 1
P_FPU = 2
P_NVL = 3
P_NTHR = 4
P_KOMI = 5
P_PASS_PRIOR = 6
P_MAX_MOVES = 7
P_HEURISTIC = 8
P_FPU_REDUCTION = 9  # < 0: unvisited edges score P_FPU; >= 0: the node's value minus this · sqrt(visited priors)
P_CPUCT_BASE = 10  # > 0: c_puct grows with the node's visits (AlphaZero); 0: constant
P_FILL_EYES = 11  # 1: a node has edges into its player's own single-point eyes; 0: not (the uniform prior never has)
P_LEN = 12


class Tree(NamedTuple):
    node_first: np.ndarray  # int32[M]  first edge
    node_nedges: np.ndarray  # int32[M]
    node_n: np.ndarray  # int32[M]  visits through the node (sum of its edges' n)
    node_color: np.ndarray  # int8[M]  player to move at the node
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


# --- capacity: the tree grows between kernel calls ------------------------------------------------------------------

INITIAL_NODES = 256
"""Nodes a search's tree starts with; :func:`reserve` grows it (19x19: 256 nodes of 362 edges, 3 MB)."""


def capacity(t: Tree) -> tuple[int, int]:
    """The nodes and edges ``t`` has room for."""
    return int(t.node_first.shape[0]), int(t.move.shape[0])


def room(t: Tree, size: int) -> int:
    """How many more positions of ``size`` x ``size`` surely fit as nodes: a free node each and N*N + 1 free edges
    each (the most a position has: every point and pass)."""
    nodes, edges = capacity(t)
    return max(0, min(nodes - int(t.meta[T_NODES]), (edges - int(t.meta[T_EDGES])) // (size * size + 1)))


def resized(t: Tree, nodes: int, edges: int) -> Tree:
    """A copy of ``t`` with room for ``nodes`` nodes and ``edges`` edges (at least what ``t`` uses)."""
    used_nodes, used_edges = int(t.meta[T_NODES]), int(t.meta[T_EDGES])
    if nodes < used_nodes or edges < used_edges:
        raise ValueError(f"a tree using {used_nodes} nodes and {used_edges} edges does not fit in {nodes} and {edges}")
    u = new_tree(nodes, edges)
    for name, a in zip(Tree._fields, t, strict=True):
        b = getattr(u, name)
        if name == "meta":
            b[:] = a
        else:
            used = used_nodes if name.startswith("node_") else used_edges
            b[:used] = a[:used]
    return u


def reserve(t: Tree, expansions: int, size: int, max_nodes: int, max_edges: int) -> Tree:
    """``t``, or a larger copy of it, in which ``expansions`` more positions of ``size`` x ``size`` surely fit
    (:func:`room`), or as many as ``max_nodes`` and ``max_edges`` allow. Capacities at least double when they grow,
    so a tree filled a batch at a time is copied a few times only; call it between kernel calls (a kernel never
    allocates) and use the tree it returns."""
    edges_each = size * size + 1
    nodes, edges = capacity(t)
    want_nodes = min(max_nodes, int(t.meta[T_NODES]) + expansions)
    want_edges = min(max_edges, int(t.meta[T_EDGES]) + expansions * edges_each)
    if want_nodes <= nodes and want_edges <= edges:
        return t
    new_nodes = max(nodes, min(max_nodes, max(want_nodes, 2 * nodes)))
    new_edges = max(edges, min(max_edges, max(want_edges, 2 * edges)))
    return resized(t, new_nodes, new_edges)


def spare_for(spare: Tree, t: Tree) -> Tree:
    """``spare``, if it can hold all that ``t`` uses (then :func:`compact` from ``t`` into it cuts nothing off), else
    a new empty tree with ``t``'s capacity."""
    nodes, edges = capacity(spare)
    if nodes >= int(t.meta[T_NODES]) and edges >= int(t.meta[T_EDGES]):
        return spare
    return new_tree(*capacity(t))


# --- expansion -------------------------------------------------------------------------------------------------------


@kernel
def heuristic_prior(s, p, color):
    """A cheap prior weight of the move ``p`` for ``color`` (the search's prior without a network): captures and
    escapes from atari are urgent, answers next to the last move likely, self-ataris and first-line moves early in
    the game unlikely. Uses pseudo-liberties: a chain with one pseudo-liberty has exactly one liberty."""
    n = s.meta[K.M_SIZE]
    w = n + 2
    last = s.meta[K.M_LAST]
    lr = last // w if last >= 0 else -10
    return _heuristic(s, p, color, w, lr, last - lr * w, s.meta[K.M_NEMPTY] > (n * n * 2) // 3)


@kernel(inline="always")
def _heuristic(s, p, color, w, lr, lc, early):
    """:func:`heuristic_prior` with what is the same for every move of the position computed once by the caller:
    the padded width ``w``, the last move's row and column (``lr`` -10 when there is none) and whether the game is
    early (more than two thirds of the points empty). One integer division per move."""
    st = s.stones
    opp = 3 - color
    weight = 1.0
    empties = 0
    captures = 0
    saves = 0
    own_libs = 0
    for q in (p - w, p - 1, p + 1, p + w):
        v = st[q]
        if v == K.EMPTY:
            empties += 1
        elif v == opp:
            h = s.chain[q]
            if s.libs[h] == 1:
                captures += s.size[h]
        elif v == color:
            h = s.chain[q]
            if s.libs[h] == 1:
                saves += s.size[h]
            else:
                own_libs += s.libs[h] - 1
    if captures > 0:
        weight *= 6.0 + 2.0 * min(captures, 10)
    elif saves > 0 and empties + own_libs >= 2:
        weight *= 4.0 + min(saves, 10)
    if captures == 0 and empties + own_libs <= 1:
        weight *= 0.15  # self-atari (or suicide-like filling)
    r = p // w
    c = p - r * w
    dr = abs(r - lr)
    dc = abs(c - lc)
    if dr <= 1 and dc <= 1:
        weight *= 2.5
    elif dr + dc <= 3:
        weight *= 1.5
    n1 = w - 1  # n + 1
    line = min(min(r, c), min(n1 - r, n1 - c))
    if line == 1 and captures == 0 and saves == 0 and early:
        weight *= 0.3
    return weight


@kernel
def expand(t, s, parent_edge, priors, params):
    """Make the position ``s`` a node with one edge per legal move (simple ko) and pass.

    ``priors`` is float32[N*N + 1] in flat order (pass last) from an evaluator, or an empty array for the uniform
    prior (pass weighted by ``pass_prior``). Moves into the player's own single-point eyes (:func:`is_eye`) get no
    edge unless ``params[P_FILL_EYES]`` is set (never under the uniform prior). Priors are renormalised over the legal
    moves. Returns the node, or -1 if the tree is full: no free node, or fewer free edges than the position has
    moves (an exact fit, not the worst case N*N + 1; the edges written before the refusal lie beyond the ones in
    use, so nothing changes). A refusal is counted in ``meta[T_FULL]``; :func:`reserve` grows the tree between
    kernel calls so that it does not happen below the search's limits."""
    n = s.meta[K.M_SIZE]
    w = n + 2
    node = t.meta[T_NODES]
    first = t.meta[T_EDGES]
    capacity = t.move.shape[0]
    if node >= t.node_first.shape[0] or first >= capacity:
        t.meta[T_FULL] += 1
        return -1
    color = s.meta[K.M_TO_MOVE]
    uniform = priors.shape[0] == 0
    heuristic = uniform and params[P_HEURISTIC] != 0.0
    skip_eyes = uniform or params[P_FILL_EYES] == 0.0
    last = s.meta[K.M_LAST]
    lr = last // w if last >= 0 else -10
    lc = last - lr * w
    early = s.meta[K.M_NEMPTY] > (n * n * 2) // 3
    k = first
    total = 0.0
    for i in range(s.meta[K.M_NEMPTY]):
        p = np.int64(s.empties[i])
        if K.basic_legality(s, p, color) != K.OK:
            continue
        if skip_eyes and is_eye(s, p, color):
            continue
        if uniform:
            pr = _heuristic(s, p, color, w, lr, lc, early) if heuristic else 1.0
        else:
            r = p // w - 1
            c = p % w - 1
            pr = priors[r * n + c]
        if k + 1 >= capacity:  # no room for this move and pass
            t.meta[T_FULL] += 1
            return -1
        t.move[k] = p
        t.prior[k] = pr
        total += pr
        k += 1
    t.move[k] = K.PASS
    pr = params[P_PASS_PRIOR] if uniform else priors[n * n]
    t.prior[k] = pr
    total += pr
    k += 1
    return finish_node(t, node, first, k, total, color, parent_edge)


@inner_kernel
def finish_node(t, node, first, k, total, color, parent_edge):
    """The end of an expansion whose edges ``first..k-1`` hold their moves and raw priors (summing to ``total``):
    priors normalised (uniform when they sum to 0), edge statistics zeroed, ``node`` recorded for ``color`` to move
    and linked from ``parent_edge`` (if >= 0). Returns ``node``."""
    if total <= 0.0:
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
    t.meta[T_NODES] = node + 1
    t.meta[T_EDGES] = k
    if parent_edge >= 0:
        t.child[parent_edge] = node
    return node


# --- selection -------------------------------------------------------------------------------------------------------


@inner_kernel
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


@inner_kernel
def node_fpu(t, node, lam, reduction):
    """First-play urgency relative to the node (Leela Zero's ``fpu_reduction``; KataGo's ``fpuReductionMax`` is the
    same form): the node's value for the player to move there — the visit-weighted mean Q of its visited edges, 0
    before any — minus ``reduction · sqrt(sum of the priors of the visited edges)``, at least -1. An unvisited move
    is then assumed a little worse than the node's moves so far, rather than a draw whoever is winning."""
    first = t.node_first[node]
    w = 0.0
    n = 0
    visited = 0.0
    for e in range(first, first + t.node_nedges[node]):
        if t.n[e] > 0:
            w += t.n[e] * edge_q(t, e, lam, 0.0, np.int64(0))
            n += t.n[e]
            visited += t.prior[e]
    value = w / n if n > 0 else 0.0
    return max(-1.0, value - reduction * math.sqrt(visited))


@inner_kernel
def select_edge(t, node, params):
    """PUCT: the edge of ``node`` maximising Q + c · P · sqrt(N) / (1 + N_a) (virtual loss included), with Q of an
    unvisited edge from :func:`node_fpu` when ``P_FPU_REDUCTION >= 0`` (else ``P_FPU``), and c = c_puct, or with
    ``P_CPUCT_BASE`` > 0 AlphaZero's ``c(N) = log((1 + N + c_base) / c_base) + c_init`` (c_init = c_puct)."""
    c = params[P_CPUCT]
    base = params[P_CPUCT_BASE]
    if base > 0.0:
        c += math.log((1.0 + t.node_n[node] + base) / base)
    lam = params[P_LAMBDA]
    fpu = params[P_FPU]
    if params[P_FPU_REDUCTION] >= 0.0:
        fpu = node_fpu(t, node, lam, params[P_FPU_REDUCTION])
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
        if t.child[e] == EDGE_DEAD:
            continue
        na = t.n[e] + t.vl[e] * n_vl
        score = edge_q(t, e, lam, fpu, n_vl) + c * t.prior[e] * sqrt_total / (1.0 + na)
        if score > best_score:
            best_score = score
            best = e
    return best


@inner_kernel
def descend(t, root, s, params, path):
    """From the root, select edges and play their moves on ``s`` (a copy of the position ``root``, the game's board)
    until an edge without a child or the end of the game (two passes). Adds virtual loss on the way. Writes the edges
    to ``path`` and returns how many. An unexpanded edge whose move repeats a position of the game (``root``'s
    history) or of the path breaks ``root``'s superko rule: it is marked :data:`EDGE_DEAD` and another is selected.
    The positions of the path are recorded in ``s.hist_hash``/``s.hist_color`` (a leaf's own history is unused)."""
    node = t.meta[T_ROOT]
    depth = 0
    superko = root.meta[K.M_KO_RULE] != K.KO_SIMPLE
    while True:
        e = select_edge(t, node, params)
        p = np.int64(t.move[e])
        color = s.meta[K.M_TO_MOVE]
        if superko and p != K.PASS and t.child[e] == -1 and _repeats(root, s, depth, K.hash_after(s, p, color)):
            t.child[e] = EDGE_DEAD
            continue
        path[depth] = e
        depth += 1
        t.vl[e] += 1
        if p == K.PASS:
            K.play_pass(s)
        else:
            K.place(s, p, color)
        if depth <= s.hist_hash.shape[0]:
            s.hist_hash[depth - 1] = s.meta[K.M_HASH]
            s.hist_color[depth - 1] = s.meta[K.M_TO_MOVE]
        child = t.child[e]
        if child < 0 or s.meta[K.M_PASSES] >= 2 or depth >= path.shape[0]:
            return depth
        node = child


@inner_kernel
def _repeats(root, s, depth, h):
    """True if the position of hash ``h`` (the player to move in ``s`` has just played) repeats a position of the
    game before ``root`` or of the first ``depth`` moves of the path (recorded in ``s``), under ``root``'s rule."""
    color_after = 3 - s.meta[K.M_TO_MOVE]
    if K.repeats_position(root, h, color_after):
        return True
    situational = root.meta[K.M_KO_RULE] == K.KO_SITUATIONAL
    for i in range(min(depth, s.hist_hash.shape[0])):
        if s.hist_hash[i] == h and (not situational or s.hist_color[i] == color_after):
            return True
    return False


@inner_kernel
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


@inner_kernel
def _edge_node(t, e, i, path):
    """The node an edge of the path leaves from: the root for the first, else the child of the previous edge."""
    if i == 0:
        return t.meta[T_ROOT]
    return t.child[path[i - 1]]


# --- whole simulations ---------------------------------------------------------------------------------------------


@inner_kernel
def add_ownership(s, own):
    """Add the owner of every point of the finished position ``s`` to ``own`` (float64[P], padded): +1 Black, -1 White,
    0 neither. A stone belongs to its colour; an empty point to the colour of its orthogonal neighbours when they
    are all one colour (after a playout the empty points left are eyes)."""
    n = s.meta[K.M_SIZE]
    w = n + 2
    st = s.stones
    for r in range(1, n + 1):
        for c in range(1, n + 1):
            p = r * w + c
            v = st[p]
            if v == K.BLACK:
                own[p] += 1.0
            elif v == K.WHITE:
                own[p] -= 1.0
            else:
                b = False
                wh = False
                for q in (p - w, p - 1, p + 1, p + w):
                    if st[q] == K.BLACK:
                        b = True
                    elif st[q] == K.WHITE:
                        wh = True
                if b and not wh:
                    own[p] += 1.0
                elif wh and not b:
                    own[p] -= 1.0


@inner_kernel
def record_final(s, score, komi, own, stats):
    """Root statistics of one finished rollout: ownership, and the score (Black's area margin minus komi)."""
    add_ownership(s, own)
    d = score - komi
    stats[S_COUNT] += 1.0
    stats[S_SCORE] += d


@inner_kernel
def simulate(t, root, s, rng, params, path, no_priors, use_rollout, own, stats):
    """One simulation: descend, expand the leaf if its edge reached ``n_thr`` visits, evaluate by a rollout (or, with
    ``use_rollout`` False, by a dummy value 0 — the tree-overhead benchmark), back up. ``s`` is scratch. Rollouts
    add their final position's ownership and score to ``own`` and ``stats``."""
    K.copy_position(s, root)
    s.meta[K.M_KO_RULE] = K.KO_SIMPLE
    depth = descend(t, root, s, params, path)
    e = np.int64(path[depth - 1])
    if t.child[e] < 0 and s.meta[K.M_PASSES] < 2 and t.n[e] + 1 >= params[P_NTHR]:
        expand(t, s, e, no_priors, params)
    # the flags are passed as variables: literal True/False would compile backup once more per combination
    if not use_rollout:
        backup(t, path, depth, 0.0, not use_rollout, 0.0, use_rollout)  # a value of 0, no outcome
        return
    if s.meta[K.M_PASSES] < 2:
        score, _ = playout(s, rng, np.int64(params[P_MAX_MOVES]))
    else:
        b, w = K.area(s)
        score = b - w
    record_final(s, np.float64(score), params[P_KOMI], own, stats)
    backup(t, path, depth, 0.0, not use_rollout, result_sign(score - params[P_KOMI]), use_rollout)  # the outcome


@inner_kernel
def result_sign(d):
    """The game result for Black of a final margin ``d`` (Black's area minus White's minus komi): +1, -1, or 0."""
    if d > 0:
        return 1.0
    if d < 0:
        return -1.0
    return 0.0


@kernel
def run_simulations(t, root, s, rng, params, path, no_priors, count, use_rollout, own, stats):
    for _ in range(count):
        simulate(t, root, s, rng, params, path, no_priors, use_rollout, own, stats)
    return count


@kernel
def ownership_playouts(s, scratch, rng, count, max_moves, own):
    """Add the final ownership of ``count`` random playouts from ``s`` to ``own`` (the dead-stone estimate)."""
    for _ in range(count):
        K.copy_position(scratch, s)
        scratch.meta[K.M_KO_RULE] = K.KO_SIMPLE
        if scratch.meta[K.M_PASSES] >= 2:
            scratch.meta[K.M_PASSES] = 0
        playout(scratch, rng, max_moves)
        add_ownership(scratch, own)
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
        out_q[i] = edge_q(t, e, params[P_LAMBDA], params[P_FPU], np.int64(0))
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


@inner_kernel
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
            _copy_edge(src, np.int64(se), dst, np.int64(de))
            dst.vl[de] = 0
            total += src.n[se]
            c = src.child[se]
            dst.child[de] = -1
            if c >= 0 and tail < dst.node_first.shape[0] and reserved + src.node_nedges[c] <= dst.move.shape[0]:
                dst.child[de] = tail
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
    """Drop the root's edges that the full rules of the game ``s`` forbid (superko), with their visits, and
    renormalise the priors."""
    root = t.meta[T_ROOT]
    first = t.node_first[root]
    m = t.node_nedges[root]
    color = s.meta[K.M_TO_MOVE]
    k = first
    total = 0.0
    for e in range(first, first + m):
        p = np.int64(t.move[e])
        if p != K.PASS and K.legality(s, p, color) != K.OK:
            t.node_n[root] -= t.n[e]
            continue
        _copy_edge(t, np.int64(e), t, np.int64(k))
        t.vl[k] = t.vl[e]
        t.child[k] = t.child[e]
        total += t.prior[k]
        k += 1
    t.node_nedges[root] = k - first
    if total > 0.0:
        for e in range(first, k):
            t.prior[e] = t.prior[e] / total
    return k - first


__all__ = [
    "Tree",
    "new_tree",
    "clear",
    "INITIAL_NODES",
    "capacity",
    "room",
    "resized",
    "reserve",
    "spare_for",
    "expand",
    "heuristic_prior",
    "edge_q",
    "node_fpu",
    "select_edge",
    "descend",
    "EDGE_DEAD",
    "backup",
    "add_ownership",
    "record_final",
    "result_sign",
    "simulate",
    "run_simulations",
    "ownership_playouts",
    "root_counts",
    "principal_variation",
    "compact",
    "prune_root",
]
