"""Input feature planes of the networks (Numba), AlphaGo's and AlphaGo Zero's.

Every plane is **relative to the player to move** ("own" = the player to move at the current position, "opponent" =
the other colour, for every history step too), so one network plays both colours; only the colour planes say which
colour that is. Output is ``float32[count, C, N, N]``, row 0 the top row, as :meth:`igo.engine.board.Board.stones`.

History convention: ``history[k]`` is the position ``k`` moves before the current one (``history[0]`` the current
position); positions before the start of the game (or the last setup) repeat the earliest one known, as
:meth:`igo.engine.board.Board.history` and :func:`igo.engine.mcts_batch.leaf_history` produce them.

Feature sets (:func:`feature_set`):

``zeroK`` (K = 1..16, ``zero8`` is AlphaGo Zero's 17 planes), ``2K + 1`` planes, history K, interleaved as in the
paper: ``[X_0, Y_0, X_1, Y_1, ..., X_{K-1}, Y_{K-1}, C]`` with ``X_k`` own stones and ``Y_k`` opponent stones of
``history[k]``, and ``C`` all ones if Black is to move, else zeros.

``alphago48`` (the policy network's planes of Silver et al. 2016, Extended Data Table 2), history 8; ``alphago49``
adds the player colour for the value network:

=======  ======================  ====================================================================================
planes   name                    meaning
=======  ======================  ====================================================================================
0-2      stone colour            own stone / opponent stone / empty
3        ones                    constant 1
4-11     turns since 1..7, >=8   one-hot: a stone was played ``k`` turns ago, ``k`` the smallest ``k >= 1`` with
                                 ``history[k]`` not holding that stone; >=8 if all 8 positions hold it; empty: 0
12-19    liberties 1..7, >=8     one-hot true liberties of the chain through the stone (both colours)
20-27    capture size 0..6, >=7  legal moves: opponent stones the move would capture
28-35    self-atari size 1..7,   legal moves that leave the moved chain with exactly one liberty: the size of that
         >=8                     chain (the new stone included)
36-43    liberties after move    legal moves: true liberties of the moved chain after the move (captures counted)
         1..7, >=8
44       ladder capture          the move wins a ladder (below)
45       ladder escape           the move escapes a ladder (below)
46       sensibleness            legal and does not fill one of the mover's own single-point eyes
                                 (:func:`igo.engine.playout.is_eye`)
47       zeros                   constant 0
48       player colour           (``alphago49`` only) all ones if Black is to move
=======  ======================  ====================================================================================

Legality here is simple-ko legality (:func:`igo.engine.board_kernels.basic_legality`) of the state given, which is
what the search's pool states have (no history, ``KO_SIMPLE``); suicide follows the state's rule set.

Ladders are read out by a real search (:func:`ladder_captured`), not a pattern. A chain of the *defender* is in the
ladder when it has one liberty and the defender is to move. The defender may extend at that liberty or capture an
attacker chain that touches the ladder chain and is in atari (legal moves only). After the defender's move the chain
has escaped with three or more liberties; with one, the attacker captures it (when that is legal); with two, the
attacker tries an atari at each of the two liberties (legal moves only) and the reading goes on. The attacker wins if
some atari works against every defence. The search is depth-first with make/undo on a work state, limited to
:data:`LADDER_MAX_DEPTH` plies and :data:`LADDER_BUDGET` moves per query; a query that runs out counts as *not
captured* (the only case where the order of the moves tried, and so the board's orientation, could matter).

- **ladder capture** at an empty point ``p`` (the player to move attacks): ``p`` is legal, it leaves an adjacent
  opponent chain (one that had two liberties) with exactly one, and that chain is captured by the ladder with the
  opponent to move.
- **ladder escape** at an empty point ``p`` (the player to move defends): some own chain is in atari, ``p`` is its
  liberty or the liberty of an opponent chain in atari that touches it (a capture), ``p`` is legal, and afterwards
  that chain is not captured by the ladder with the opponent to move. Extending to three liberties, or capturing into
  safety, is an escape too.

Searches run only where they can matter (next to chains with one or two liberties), so a typical position is cheap.

Kernels never allocate (:mod:`igo.engine.jit`); :class:`FeatureEncoder` owns their work arrays, so use one per thread.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from . import board_kernels as K
from .board_kernels import BLACK, EMPTY, KO_SIMPLE, M_KO_RULE, M_NHIST, M_SIZE, M_TO_MOVE, OK, WHITE
from .jit import inner_kernel, kernel
from .playout import is_eye
from .pool import copy_to_slot, new_pool, pool_slot

__all__ = [
    "ALPHAGO_PLANE_NAMES",
    "LADDER_BUDGET",
    "LADDER_MAX_DEPTH",
    "PLANE_NAMES",
    "FeatureEncoder",
    "FeatureSet",
    "LadderWork",
    "alphago_planes",
    "feature_set",
    "ladder_captured",
    "new_ladder_work",
    "plane_names",
    "zero_planes",
]

LADDER_MAX_DEPTH = 200  # plies of one ladder reading
LADDER_BUDGET = 2000  # moves made per ladder query; a query over budget is "not captured"
_MAX_CANDIDATES = 16  # defender moves considered per node (extension + captures)
_MAX_HEADS = 64  # attacker chains around a ladder chain looked at for captures

# --- plane layout of alphago48/49 ----------------------------------------------------------------------------------
P_OWN = 0
P_OPP = 1
P_EMPTY = 2
P_ONES = 3
P_TURNS = 4  # 8 planes: 1..7, >=8
P_LIBS = 12  # 8 planes: 1..7, >=8
P_CAPTURE = 20  # 8 planes: 0..6, >=7
P_SELF_ATARI = 28  # 8 planes: 1..7, >=8
P_LIBS_AFTER = 36  # 8 planes: 1..7, >=8
P_LADDER_CAPTURE = 44
P_LADDER_ESCAPE = 45
P_SENSIBLE = 46
P_ZEROS = 47
P_COLOUR = 48


def _one_hot_names(prefix: str, first: int) -> list[str]:
    return [f"{prefix} {first + i}" for i in range(7)] + [f"{prefix} >={first + 7}"]


ALPHAGO_PLANE_NAMES: tuple[str, ...] = tuple(
    ["own stones", "opponent stones", "empty", "ones"]
    + _one_hot_names("turns since", 1)
    + _one_hot_names("liberties", 1)
    + _one_hot_names("capture size", 0)
    + _one_hot_names("self-atari size", 1)
    + _one_hot_names("liberties after move", 1)
    + ["ladder capture", "ladder escape", "sensibleness", "zeros", "player colour"]
)
assert len(ALPHAGO_PLANE_NAMES) == 49


@dataclass(frozen=True)
class FeatureSet:
    """A family of input planes: ``planes`` planes computed from ``history`` positions (the current one included)."""

    name: str
    planes: int
    history: int

    @property
    def is_zero(self) -> bool:
        return self.name.startswith("zero")


_ZERO_RE = re.compile(r"zero([1-9][0-9]?)")
VALID_NAMES = "zero1 .. zero16 (zero8 is AlphaGo Zero's), alphago48, alphago49"


def feature_set(name: str | FeatureSet = "zero8") -> FeatureSet:
    """The feature set called ``name``: ``"zeroK"`` (K = 1..16), ``"alphago48"`` or ``"alphago49"``."""
    if isinstance(name, FeatureSet):
        return feature_set(name.name)
    if isinstance(name, str):
        m = _ZERO_RE.fullmatch(name)
        if m and 1 <= int(m.group(1)) <= 16:
            k = int(m.group(1))
            return FeatureSet(name, 2 * k + 1, k)
        if name == "alphago48":
            return FeatureSet(name, 48, 8)
        if name == "alphago49":
            return FeatureSet(name, 49, 8)
    raise ValueError(f"unknown feature set {name!r}; valid names: {VALID_NAMES}")


def plane_names(fs: str | FeatureSet) -> list[str]:
    """The name of every plane of a feature set, in order (e.g. ``"own stones t-1"``, ``"liberties 3"``)."""
    fs = feature_set(fs)
    if fs.is_zero:
        names = []
        for k in range(fs.history):
            t = "t" if k == 0 else f"t-{k}"
            names += [f"own stones {t}", f"opponent stones {t}"]
        return names + ["black to move"]
    return list(ALPHAGO_PLANE_NAMES[: fs.planes])


_feature_set = feature_set  # FeatureEncoder's argument shadows the name

PLANE_NAMES: dict[str, tuple[str, ...]] = {
    name: tuple(plane_names(name)) for name in ("zero8", "alphago48", "alphago49")
}


# --- work space -------------------------------------------------------------------------------------------------------


class LadderWork(NamedTuple):
    """Work arrays of :func:`alphago_planes` and :func:`ladder_captured` for one board size (see
    :func:`new_ladder_work`)."""

    state: K.BoardState  # the position being read (simple ko, no history)
    undo: K.UndoStack  # depth LADDER_MAX_DEPTH + 2: level 0 the query's root, 1.. the search
    moves: np.ndarray  # int64[D, _MAX_CANDIDATES] candidate moves per ply
    nmoves: np.ndarray  # int32[D]
    idx: np.ndarray  # int32[D] next candidate per ply
    tmp: np.ndarray  # int64[8] liberties found
    heads: np.ndarray  # int64[_MAX_HEADS] chain heads found
    hl: np.ndarray  # int16[P] true liberties of the chain, at heads
    mark: np.ndarray  # int32[P] marks of liberty counting (value == stamp[0] means marked)
    stamp: np.ndarray  # int64[1]
    nb: np.ndarray  # int16[8] neighbour chain heads of a move: own [0:4], opponent [4:8]
    cand: np.ndarray  # int64[_MAX_HEADS] escape moves of a chain in atari
    queries: np.ndarray  # int64[4P, 3] ladder queries of a position: move, chain, capture (0) or escape (1)


def new_ladder_work(size: int, max_depth: int = LADDER_MAX_DEPTH) -> LadderWork:
    """Work arrays for a ``size`` board; ``max_depth`` bounds the plies of a ladder reading."""
    p = (size + 2) * (size + 2)
    return LadderWork(
        state=K.new_state(size, K.KO_SIMPLE),
        undo=K.new_undo_stack(size, max_depth + 2),
        moves=np.zeros((max_depth, _MAX_CANDIDATES), np.int64),  # points are int64 between kernels (board_kernels)
        nmoves=np.zeros(max_depth, np.int32),
        idx=np.zeros(max_depth, np.int32),
        tmp=np.zeros(8, np.int64),
        heads=np.zeros(_MAX_HEADS, np.int64),
        hl=np.zeros(p, np.int16),
        mark=np.zeros(p, np.int32),
        stamp=np.zeros(1, np.int64),
        nb=np.zeros(8, np.int16),
        cand=np.zeros(_MAX_HEADS, np.int64),
        queries=np.zeros((4 * p, 3), np.int64),
    )


# --- zero planes ------------------------------------------------------------------------------------------------------


@kernel
def zero_planes(history, to_move, count, out):
    """AlphaGo Zero planes: ``history`` int8[>=count, >=K, N, N], ``to_move`` int8[>=count], ``out``
    float32[>=count, 2K+1, N, N] with K = (C - 1) // 2 (see the module docstring)."""
    hk = (out.shape[1] - 1) // 2
    n = out.shape[2]
    for i in range(count):
        own = to_move[i]
        opp = 3 - own
        for k in range(hk):
            for r in range(n):
                for c in range(n):
                    v = history[i, k, r, c]
                    out[i, 2 * k, r, c] = 1.0 if v == own else 0.0
                    out[i, 2 * k + 1, r, c] = 1.0 if v == opp else 0.0
        colour = 1.0 if own == BLACK else 0.0
        for r in range(n):
            for c in range(n):
                out[i, 2 * hk, r, c] = colour


# --- ladders ---------------------------------------------------------------------------------------------------------

_ATT_WIN = -1
_DEF_WIN = -2


@inner_kernel
def _add_new(out, n, x):
    """Append ``x`` to the ``n`` values of ``out`` unless it is one of them or ``out`` is full; return the new count."""
    for j in range(n):
        if out[j] == x:
            return n
    if n < out.shape[0]:
        out[n] = x
        n += 1
    return n


@inner_kernel
def _chain_neighbours(s, head, v, out, cap):
    """Write up to ``cap`` distinct neighbours of the chain ``head`` whose cell value is ``v`` into ``out``: the points
    for ``v == EMPTY`` (the chain's liberties), else the heads of their chains; return how many (at most cap)."""
    w = s.meta[M_SIZE] + 2
    n = np.int64(0)  # not a literal 0: that would compile _add_new once more
    q = head
    while True:
        for r in (q - w, q - 1, q + 1, q + w):
            if s.stones[r] == v:
                n = _add_new(out, n, r if v == EMPTY else s.chain[r])
                if n >= cap:
                    return n
        q = s.nxt[q]
        if q == head:
            break
    return n


@kernel(inline="always")
def _chain_libs(s, head, out, cap):
    """Write up to ``cap`` distinct liberties of the chain ``head`` into ``out``; return how many (at most cap)."""
    return _chain_neighbours(s, np.int64(head), np.int64(EMPTY), out, np.int64(cap))


@inner_kernel
def _ladder_node(s, target, attacker, attacker_turn, moves, tmp, heads):
    """Judge a node of the ladder search: ``_ATT_WIN``, ``_DEF_WIN``, or the number (>= 1) of candidate moves
    written into ``moves``."""
    defender = 3 - attacker
    if s.stones[target] != defender:
        return _ATT_WIN
    head = s.chain[target]
    nl = _chain_libs(s, head, tmp, 3)
    if attacker_turn:
        if nl >= 3:
            return _DEF_WIN
        if nl <= 1:
            if nl == 1 and K.basic_legality(s, tmp[0], attacker) != OK:
                return _DEF_WIN
            return _ATT_WIN
        n = 0
        for j in range(2):
            if K.basic_legality(s, tmp[j], attacker) == OK:
                moves[n] = tmp[j]
                n += 1
        return n if n > 0 else _DEF_WIN
    if nl >= 2:
        return _DEF_WIN
    if nl == 0:
        return _ATT_WIN
    n = 0
    lib = tmp[0]
    if K.basic_legality(s, lib, defender) == OK:
        moves[0] = lib
        n = 1
    # attacker chains touching the ladder chain
    nh = _chain_neighbours(s, np.int64(head), attacker, heads, heads.shape[0])
    sub = tmp[3:]
    for j in range(nh):
        if _chain_libs(s, heads[j], sub, 2) == 1:
            m = sub[0]
            dup = False
            for t in range(n):
                if moves[t] == m:
                    dup = True
            if not dup and n < moves.shape[0] and K.basic_legality(s, m, defender) == OK:
                moves[n] = m
                n += 1
    return n if n > 0 else _ATT_WIN


@kernel
def ladder_captured(s, target, attacker_to_move, work, base, budget):
    """True if the chain through the stone ``target`` is captured by a ladder (module docstring), the attacker being
    the other colour. ``attacker_to_move`` says whose turn it is in ``s`` (the defender's turn needs the chain in
    atari, the attacker's turn two liberties, or the reading stops at once). ``s`` is restored on return; the search
    uses ``work.undo`` from level ``base`` up. More than ``budget`` moves, or more plies than ``work.moves`` has rows,
    means not captured."""
    attacker = 3 - s.stones[target]
    u = work.undo
    moves = work.moves
    nmoves = work.nmoves
    idx = work.idx
    tmp = work.tmp
    heads = work.heads
    maxd = min(moves.shape[0], u.meta.shape[0] - base)
    r = _ladder_node(s, target, attacker, attacker_to_move, moves[0], tmp, heads)
    if r == _ATT_WIN:
        return True
    if r == _DEF_WIN:
        return False
    K.push(s, u, base)
    nmoves[0] = r
    idx[0] = 0
    d = 0
    made = 0
    res = False
    while True:
        att = (d % 2 == 0) == attacker_to_move
        if idx[d] < nmoves[d]:
            m = moves[d, idx[d]]
            idx[d] += 1
            made += 1
            if made > budget or d + 1 >= maxd:
                res = False
                break
            K.place(s, m, attacker if att else 3 - attacker)
            r = _ladder_node(s, target, attacker, not att, moves[d + 1], tmp, heads)
            if r >= 0:
                K.push(s, u, base + d + 1)
                nmoves[d + 1] = r
                idx[d + 1] = 0
                d += 1
                continue
            res = r == _ATT_WIN
        else:
            # every move tried: an attacker node failed, a defender node lost
            res = not att
            if d == 0:
                break
            d -= 1
        # ``res`` is the result of a child of frame d; it decides the frame when an attacker node's try worked or a
        # defender node's defence failed, and then the frame's parent gets it in turn
        decided = False
        while ((d % 2 == 0) == attacker_to_move) == res:
            if d == 0:
                decided = True
                break
            d -= 1
        if decided:
            break
        K.pop(s, u, base + d)  # back to frame d's position, to try its next move
    K.pop(s, u, base)
    return res


# --- alphago planes --------------------------------------------------------------------------------------------------


@inner_kernel
def _next_stamp(work):
    st = work.stamp[0] + 1
    if st >= 2_000_000_000:
        for i in range(work.mark.shape[0]):
            work.mark[i] = 0
        st = 1
    work.stamp[0] = st
    return np.int32(st)


@inner_kernel
def _true_liberties(s, hl):
    """hl[head] = true liberties of every chain (other entries of hl are left as they were)."""
    n = s.meta[M_SIZE]
    w = n + 2
    for r in range(n):
        for c in range(n):
            p = (r + 1) * w + c + 1
            v = s.stones[p]
            if v == BLACK or v == WHITE:
                if s.chain[p] == p:
                    hl[p] = 0
    for r in range(n):
        for c in range(n):
            p = (r + 1) * w + c + 1
            if s.stones[p] != EMPTY:
                continue
            h0 = -1
            h1 = -1
            h2 = -1
            for q in (p - w, p - 1, p + 1, p + w):
                v = s.stones[q]
                if v == BLACK or v == WHITE:
                    h = s.chain[q]
                    if h != h0 and h != h1 and h != h2:
                        hl[h] += 1
                        if h0 < 0:
                            h0 = h
                        elif h1 < 0:
                            h1 = h
                        else:
                            h2 = h


@kernel(inline="always")  # called with many constant bases: inlined rather than compiled once per constant
def _set_one_hot(out, base, value, first, r, c):
    """out[base + min(value - first, 7), r, c] = 1 for value >= first."""
    k = value - first
    if k < 0:
        return
    if k > 7:
        k = 7
    out[base + k, r, c] = 1.0


@inner_kernel
def _move_features(s, p, me, work, out, r, c):
    """Capture size, self-atari size and liberties after the legal move ``p`` of ``me``."""
    w = s.meta[M_SIZE] + 2
    opp = 3 - me
    hl = work.hl
    nb = work.nb
    nown = 0
    nopp = 0
    for q in (p - w, p - 1, p + 1, p + w):
        v = s.stones[q]
        if v == me or v == opp:
            h = s.chain[q]
            if v == me:
                new = True
                for j in range(nown):
                    if nb[j] == h:
                        new = False
                if new:
                    nb[nown] = h
                    nown += 1
            else:
                new = True
                for j in range(nopp):
                    if nb[4 + j] == h:
                        new = False
                if new and hl[h] == 1:  # captured (p is its only liberty)
                    nb[4 + nopp] = h
                    nopp += 1
    captured = 0
    for j in range(nopp):
        captured += s.size[nb[4 + j]]
    _set_one_hot(out, P_CAPTURE, captured, 0, r, c)
    size = 1
    for j in range(nown):
        size += s.size[nb[j]]
    # liberties of the new chain, counted up to 8
    mark = work.mark
    st = _next_stamp(work)
    mark[p] = st
    libs = 0
    for q in (p - w, p - 1, p + 1, p + w):
        if s.stones[q] == EMPTY and mark[q] != st:
            mark[q] = st
            libs += 1
    for j in range(nown):
        if libs >= 8:
            break
        h = nb[j]
        q = h
        while True:
            for t in (q - w, q - 1, q + 1, q + w):
                if s.stones[t] == EMPTY and mark[t] != st:
                    mark[t] = st
                    libs += 1
            q = s.nxt[q]
            if q == h or libs >= 8:
                break
    for j in range(nopp):
        if libs >= 8:
            break
        h = nb[4 + j]
        q = h
        while True:
            # a captured stone becomes a liberty if it touches the new chain
            touches = False
            for t in (q - w, q - 1, q + 1, q + w):
                if t == p:
                    touches = True
                elif s.stones[t] == me:
                    ht = s.chain[t]
                    for i in range(nown):
                        if nb[i] == ht:
                            touches = True
            if touches:
                libs += 1
            q = s.nxt[q]
            if q == h or libs >= 8:
                break
    _set_one_hot(out, P_LIBS_AFTER, libs, 1, r, c)
    if libs == 1:
        _set_one_hot(out, P_SELF_ATARI, size, 1, r, c)


@inner_kernel
def _ladder_planes(s, me, work, out):
    """The ladder capture and escape planes of ``s`` (``work.hl`` holds its chains' true liberties)."""
    n = s.meta[M_SIZE]
    w = n + 2
    opp = 3 - me
    hl = work.hl
    tmp = work.tmp
    cand = work.cand
    queries = work.queries
    nq = 0
    # collect the queries: (move, a stone of the chain, 0 = capture it / 1 = save it)
    for rr in range(n):
        for cc in range(n):
            p = (rr + 1) * w + cc + 1
            v = s.stones[p]
            if (v != me and v != opp) or s.chain[p] != p:
                continue
            if v == opp and hl[p] == 2:
                # ladder capture: an atari at either liberty
                _chain_libs(s, p, tmp, 2)
                for j in range(2):
                    if nq < queries.shape[0] and K.basic_legality(s, tmp[j], me) == OK:
                        queries[nq, 0] = tmp[j]
                        queries[nq, 1] = p
                        queries[nq, 2] = 0
                        nq += 1
            elif v == me and hl[p] == 1:
                # ladder escape: extend, or capture an attacker chain in atari that touches the chain
                _chain_libs(s, p, tmp, 1)
                cand[0] = tmp[0]
                nc = np.int64(1)
                q = p
                while True:
                    for t in (q - w, q - 1, q + 1, q + w):
                        if s.stones[t] == opp and hl[s.chain[t]] == 1:
                            _chain_libs(s, s.chain[t], tmp, 1)
                            nc = _add_new(cand, nc, tmp[0])
                    q = s.nxt[q]
                    if q == p:
                        break
                for j in range(nc):
                    if nq < queries.shape[0] and K.basic_legality(s, cand[j], me) == OK:
                        queries[nq, 0] = cand[j]
                        queries[nq, 1] = p
                        queries[nq, 2] = 1
                        nq += 1
    if nq == 0:
        return
    ws = work.state
    u = work.undo
    K.copy_position(ws, s)
    ws.meta[M_KO_RULE] = KO_SIMPLE
    ws.meta[M_NHIST] = 0
    for i in range(nq):
        m = queries[i, 0]
        escape = queries[i, 2] == 1
        plane = P_LADDER_ESCAPE if escape else P_LADDER_CAPTURE
        mr = m // w - 1
        mc = m % w - 1
        if out[plane, mr, mc] != 0.0:
            continue
        K.push(ws, u, np.int64(0))
        K.place(ws, m, me)
        if ladder_captured(ws, queries[i, 1], escape, work, np.int64(1), np.int64(LADDER_BUDGET)) != escape:
            out[plane, mr, mc] = 1.0
        K.pop(ws, u, np.int64(0))


@kernel
def alphago_planes(pool, history, count, work, out, with_colour):
    """AlphaGo's planes (module docstring) of pool slots ``0 .. count-1``: ``pool`` a batched BoardState
    (:func:`igo.engine.pool.new_pool`), ``history`` int8[>=count, H, N, N] (only ``[:, 1:8]`` is read, for the turns
    since), ``work`` a :class:`LadderWork`, ``out`` float32[>=count, 48 or 49, N, N]; ``with_colour`` writes plane 48.
    The player to move is each slot's ``meta[M_TO_MOVE]``."""
    hl = work.hl
    hlen = min(history.shape[1], 8)
    nplanes = out.shape[1]
    for i in range(count):
        s = pool_slot(pool, i)
        o = out[i]
        n = s.meta[M_SIZE]
        w = n + 2
        me = s.meta[M_TO_MOVE]
        for k in range(nplanes):
            for r in range(n):
                for c in range(n):
                    o[k, r, c] = 0.0
        _true_liberties(s, hl)
        for r in range(n):
            for c in range(n):
                p = (r + 1) * w + c + 1
                v = s.stones[p]
                o[P_ONES, r, c] = 1.0
                if with_colour and me == BLACK:
                    o[P_COLOUR, r, c] = 1.0
                if v == EMPTY:
                    o[P_EMPTY, r, c] = 1.0
                    if K.basic_legality(s, p, me) == OK:
                        if not is_eye(s, p, me):
                            o[P_SENSIBLE, r, c] = 1.0
                        _move_features(s, p, me, work, o, r, c)
                    continue
                o[P_OWN if v == me else P_OPP, r, c] = 1.0
                _set_one_hot(o, P_LIBS, hl[s.chain[p]], 1, r, c)
                age = 8
                for k in range(1, hlen):
                    if history[i, k, r, c] != v:
                        age = k
                        break
                _set_one_hot(o, P_TURNS, age, 1, r, c)
        _ladder_planes(s, me, work, o)


# --- Python API ------------------------------------------------------------------------------------------------------


class FeatureEncoder:
    """Turns positions into the planes of one feature set for one board size. Owns its work arrays: not thread-safe,
    use one per thread."""

    def __init__(self, feature_set: str | FeatureSet = "zero8", size: int = 19):
        self.feature_set = _feature_set(feature_set)
        n = int(size)
        if not 2 <= n <= 25:
            raise ValueError(f"board size must be 2..25, got {size}")
        self.size = n
        self._work = None if self.feature_set.is_zero else new_ladder_work(n)

    @property
    def planes(self) -> int:
        return self.feature_set.planes

    @property
    def history_length(self) -> int:
        """Positions of history needed (the current one included); what an evaluator asks the search for."""
        return self.feature_set.history

    def _out(self, count: int, out: np.ndarray | None) -> np.ndarray:
        n = self.size
        want = (count, self.planes, n, n)
        if out is None:
            return np.empty(want, np.float32)
        if (
            not isinstance(out, np.ndarray)
            or out.dtype != np.float32
            or out.ndim != 4
            or out.shape[0] < count
            or out.shape[1:] != want[1:]
            or not out.flags.c_contiguous
        ):
            raise ValueError(f"out must be a C-contiguous float32 array of shape {want}")
        return out[:count]

    def encode(self, batch, out: np.ndarray | None = None) -> np.ndarray:
        """The planes of a :class:`igo.engine.search.LeafBatch` (uses only its ``size, count, states, history,
        to_move``): float32 ``[count, C, N, N]``, written into ``out`` when given (its first ``count`` rows; ``out``
        may have more). ``history`` may hold more positions than the feature set needs (the first ones are used),
        not fewer. AlphaGo planes take the player to move from each state's ``meta[M_TO_MOVE]`` (the same as
        ``to_move`` for a search's leaves), Zero planes from ``to_move``."""
        if batch.size != self.size:
            raise ValueError(f"batch of size {batch.size} given to an encoder of size {self.size}")
        return self._encode(batch.states, batch.history, batch.to_move, int(batch.count), out)

    def encode_board(self, board, out: np.ndarray | None = None) -> np.ndarray:
        """The planes ``[C, N, N]`` of an :class:`igo.engine.board.Board`'s position, its history from
        ``board.history(H)``; legality is simple-ko legality, as in the search's leaves."""
        n = self.size
        if board.size != n:
            raise ValueError(f"board of size {board.size} given to an encoder of size {n}")
        if out is not None and (not isinstance(out, np.ndarray) or out.shape != (self.planes, n, n)):
            raise ValueError(f"out must have shape {(self.planes, n, n)}")
        pool = new_pool(n, 1)
        copy_to_slot(pool, 0, board.state)
        hist = board.history(self.feature_set.history)[None]
        to_move = np.array([board.to_move], np.int8)
        return self._encode(pool, hist, to_move, 1, None if out is None else out[None])[0]

    def _encode(self, states, history, to_move, count: int, out: np.ndarray | None) -> np.ndarray:
        n = self.size
        fs = self.feature_set
        hist = np.asarray(history)
        if hist.ndim != 4 or hist.shape[0] < count or hist.shape[2:] != (n, n):
            raise ValueError(f"history must have shape (count, H, {n}, {n}), got {hist.shape}")
        if hist.shape[1] < fs.history:
            raise ValueError(f"{fs.name} needs {fs.history} positions of history, the batch has {hist.shape[1]}")
        hist = np.ascontiguousarray(hist[:count, : fs.history], dtype=np.int8)
        res = self._out(count, out)
        if count == 0:
            return res
        if fs.is_zero:
            tm = np.ascontiguousarray(np.asarray(to_move)[:count], dtype=np.int8)
            if tm.shape != (count,):
                raise ValueError(f"to_move must have {count} entries")
            zero_planes(hist, tm, count, res)
            return res
        p = (n + 2) * (n + 2)
        if (
            not isinstance(states, K.BoardState)
            or states.stones.ndim != 2
            or states.stones.shape[0] < count
            or states.stones.shape[1] != p
            or (states.meta[:count, M_SIZE] != n).any()
        ):
            raise ValueError(f"states must be a pool of at least {count} states of size {n} (igo.engine.pool.new_pool)")
        alphago_planes(states, hist, count, self._work, res, fs.planes == 49)
        return res
