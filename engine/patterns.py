"""Pattern features of AlphaGo's (2016) fast rollout policy and tree policy (Extended Data Table 4 of Silver et al.).

A candidate move ``a`` (an empty point, for the player to move) activates a handful of *binary* features; the
policy is a linear softmax ``p(a) ∝ exp(Σ_{f active for a} w_f)`` over one float32 weight vector. Every feature is an
index into that vector; the families and their offsets are in :data:`LAYOUT`:

======================  ======  =====  =============================================================================
family                  offset  count  active when
======================  ======  =====  =============================================================================
response                0       1      ``a`` is one of the 12 points of the diamond (Manhattan distance <= 2) around
                                       the previous move
save_atari              1       1      ``a`` is the liberty of an own chain in atari and the chain then has >= 2
                                       liberties (captures made by ``a`` counted)
neighbour               2       8      ``a`` is 8-connected to the previous move; one feature per relative position
nakade                  10      1024   ``a`` is the vital point (the unique point with most empty neighbours, >= 2) of
                                       an empty region of 3..6 points bordered by stones of one colour; hash of the
                                       region's shape (relative to ``a``) and of that colour (own / opponent)
response_pattern        1034    32768  hash of the 12-point diamond around the previous move (empty / own / opponent /
                                       off board) and of ``a``'s place in it (only when ``response`` is active)
non_response            33802   65536  hash of the 3x3 pattern around ``a``: each of the 8 neighbours empty, off board,
                                       own or opponent stone with 1, 2 or >= 3 liberties
self_atari (tree)       99338   1      after ``a`` its chain has exactly one liberty
last_distance (tree)    99339   34     ``min(d, 16)`` for the Manhattan distance ``d`` to the previous move (first 17)
                                       and to the move before it (next 17); bucket 16 also means "no such move"
diamond (tree)          99373   65536  hash of the 12-point diamond around ``a`` (states as ``non_response``)
======================  ======  =====  =============================================================================

The rollout policy uses the first six families (``num_features(False) == 99338``), the tree policy all nine
(``num_features(True) == 164909``). A move has at most :data:`MAX_FEATURES` active features.

Hashing: each (cell of the pattern, state of the cell) has a fixed random 64-bit key (Zobrist hashing; the seed is
fixed below, so indices are stable across runs and machines); a pattern's hash is the XOR of its cells' keys and its
index is ``hash mod table size`` (the table sizes are powers of two, so: the low bits). Distinct patterns therefore
*collide* in a table now and then: with ``k`` distinct patterns met in a table of ``m`` entries about ``k²/2m`` pairs
share a weight. The 3x3 table has 8^8 possible codes, far fewer of which occur in games (tens of thousands), so most
frequent patterns get a weight of their own; collisions only tie the weights of a few rare patterns (like AlphaGo's
own pattern tables, which count only patterns seen in training). Patterns are not reduced under the board's
symmetries: the eight orientations of a pattern are distinct features (training sees them all).

The kernels here take the board state of :mod:`igo.engine.board_kernels` and never allocate; :func:`features_of` and
:func:`family_of` are the Python debugging helpers.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .board_kernels import BLACK, EDGE, EMPTY, M_LAST, M_LAST2, M_SIZE, M_TO_MOVE, WHITE
from .jit import inner_kernel, kernel


class FeatureLayout(NamedTuple):
    name: str
    offset: int
    count: int


# --- table sizes ------------------------------------------------------------------------------------------------------
NAKADE_SIZE = 1 << 10
RESPONSE_PATTERN_SIZE = 1 << 15
NON_RESPONSE_SIZE = 1 << 16
DIAMOND_SIZE = 1 << 16
DISTANCE_CAP = 16  # distance buckets 0 .. 16 per previous move

# --- offsets ----------------------------------------------------------------------------------------------------------
RESPONSE = 0
SAVE_ATARI = 1
NEIGHBOUR = 2
NAKADE = NEIGHBOUR + 8
RESPONSE_PATTERN = NAKADE + NAKADE_SIZE
NON_RESPONSE = RESPONSE_PATTERN + RESPONSE_PATTERN_SIZE
ROLLOUT_FEATURES = NON_RESPONSE + NON_RESPONSE_SIZE
SELF_ATARI = ROLLOUT_FEATURES
LAST_DISTANCE = SELF_ATARI + 1
DIAMOND = LAST_DISTANCE + 2 * (DISTANCE_CAP + 1)
TREE_FEATURES = DIAMOND + DIAMOND_SIZE

MAX_FEATURES = 10  # most features one move can activate (6 in the rollout policy, 10 in the tree policy)

LAYOUT = (
    FeatureLayout("response", RESPONSE, 1),
    FeatureLayout("save_atari", SAVE_ATARI, 1),
    FeatureLayout("neighbour", NEIGHBOUR, 8),
    FeatureLayout("nakade", NAKADE, NAKADE_SIZE),
    FeatureLayout("response_pattern", RESPONSE_PATTERN, RESPONSE_PATTERN_SIZE),
    FeatureLayout("non_response", NON_RESPONSE, NON_RESPONSE_SIZE),
    FeatureLayout("self_atari", SELF_ATARI, 1),
    FeatureLayout("last_distance", LAST_DISTANCE, 2 * (DISTANCE_CAP + 1)),
    FeatureLayout("diamond", DIAMOND, DIAMOND_SIZE),
)


def num_features(tree: bool) -> int:
    """Length of the weight vector of the tree policy (``tree=True``) or of the rollout policy."""
    return TREE_FEATURES if tree else ROLLOUT_FEATURES


def family_of(index: int) -> str:
    """The family name of a feature index (``"non_response"`` ...), for debugging."""
    for f in LAYOUT:
        if f.offset <= index < f.offset + f.count:
            return f.name
    raise ValueError(f"feature index {index} out of range 0..{TREE_FEATURES - 1}")


# --- pattern geometry -------------------------------------------------------------------------------------------------
# The 8 neighbours (row-major) and the 12-point diamond (Manhattan distance 1 or 2, row-major) as (row, col) offsets.
NB_DR = np.array([-1, -1, -1, 0, 0, 1, 1, 1], np.int64)
NB_DC = np.array([-1, 0, 1, -1, 1, -1, 0, 1], np.int64)
DM_DR = np.array([-2, -1, -1, -1, 0, 0, 0, 0, 1, 1, 1, 2], np.int64)
DM_DC = np.array([0, -1, 0, 1, -2, -1, 1, 2, -1, 0, 1, 0], np.int64)
# (dr + 2) * 5 + (dc + 2) -> index in the diamond or -1; (dr + 1) * 3 + (dc + 1) -> neighbour index or -1
DM_INDEX = np.full(25, -1, np.int64)
DM_INDEX[(DM_DR + 2) * 5 + DM_DC + 2] = np.arange(12)
NB_INDEX = np.full(9, -1, np.int64)
NB_INDEX[(NB_DR + 1) * 3 + NB_DC + 1] = np.arange(8)

# Cell states: 0 empty, 1 off board, 2..4 own stone with 1 / 2 / >= 3 liberties, 5..7 opponent stone likewise. The
# response pattern uses only 0 empty, 1 off board, 2 own, 3 opponent.
N_STATES = 8
NAKADE_RADIUS = 5  # a connected region of <= 6 points lies within 5 rows / columns of any of its points


def _keys(seed: int, shape) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(np.iinfo(np.int64).min, np.iinfo(np.int64).max, size=shape, dtype=np.int64)


KEY_3X3 = _keys(0xA16_0001, (8, N_STATES))
KEY_DIAMOND = _keys(0xA16_0002, (12, N_STATES))
KEY_RESPONSE = _keys(0xA16_0003, (12, 4))
KEY_RESPONSE_AT = _keys(0xA16_0004, 12)  # where the candidate lies in the response diamond
_NW = 2 * NAKADE_RADIUS + 1
KEY_NAKADE = _keys(0xA16_0005, _NW * _NW + 2)  # one key per relative point of the region, + 2 for the border colour


# --- kernels ----------------------------------------------------------------------------------------------------------


@inner_kernel
def lib_class(s, head):
    """``min(true liberties, 3)`` of the chain ``head`` (0 only for a captured chain)."""
    if s.libs[head] <= 1:
        return np.int64(s.libs[head])  # one pseudo-liberty is one liberty
    w = s.meta[M_SIZE] + 2
    st = s.stones
    l1 = -1
    l2 = -1
    q = head
    while True:
        for r in (q - w, q - 1, q + 1, q + w):
            if st[r] == EMPTY and r != l1 and r != l2:
                if l1 < 0:
                    l1 = r
                elif l2 < 0:
                    l2 = r
                else:
                    return np.int64(3)
        q = s.nxt[q]
        if q == head:
            break
    return np.int64(1 if l2 < 0 else 2)


@inner_kernel
def cell_state(s, q, color):
    """State (0..7, see ``N_STATES``) of the padded point ``q`` seen by ``color``."""
    v = s.stones[q]
    if v == EMPTY:
        return np.int64(0)
    if v == EDGE:
        return np.int64(1)
    c = lib_class(s, s.chain[q])
    if v == color:
        return 1 + c
    return 4 + c


@inner_kernel
def _touches_group(s, x, a, color):
    """True if ``x`` is next to ``a`` or to a ``color`` chain next to ``a`` (the chain ``a`` would join)."""
    w = s.meta[M_SIZE] + 2
    for t in (x - w, x - 1, x + 1, x + w):
        if t == a:
            return True
        if s.stones[t] == color:
            h = s.chain[t]
            for u in (a - w, a - 1, a + 1, a + w):
                if s.stones[u] == color and s.chain[u] == h:
                    return True
    return False


@kernel
def libs_after(s, a, color):
    """Liberties (capped at 2) of the chain a ``color`` stone at the empty point ``a`` would form, stones it
    captures included; 0 means suicide."""
    w = s.meta[M_SIZE] + 2
    st = s.stones
    opp = 3 - color
    l1 = -1
    for r in (a - w, a - 1, a + 1, a + w):
        if st[r] == EMPTY:
            if l1 < 0:
                l1 = r
            elif r != l1:
                return 2
    for r in (a - w, a - 1, a + 1, a + w):
        if st[r] == color:
            head = s.chain[r]
            q = head
            while True:
                for t in (q - w, q - 1, q + 1, q + w):
                    if st[t] == EMPTY and t != a:
                        if l1 < 0:
                            l1 = t
                        elif t != l1:
                            return 2
                q = s.nxt[q]
                if q == head:
                    break
    for r in (a - w, a - 1, a + 1, a + w):
        if st[r] == opp and lib_class(s, s.chain[r]) == 1:  # captured by a: its stones next to our chain free up
            head = s.chain[r]
            q = head
            while True:
                if _touches_group(s, q, a, color):
                    if l1 < 0:
                        l1 = q
                    elif q != l1:
                        return 2
                q = s.nxt[q]
                if q == head:
                    break
    return 0 if l1 < 0 else 1


@inner_kernel
def saves_atari(s, a, color):
    """True if ``a`` is the liberty of a ``color`` chain in atari and the chain then has >= 2 liberties."""
    w = s.meta[M_SIZE] + 2
    for r in (a - w, a - 1, a + 1, a + w):
        if s.stones[r] == color and lib_class(s, s.chain[r]) == 1:
            return libs_after(s, a, color) >= 2
    return False


@inner_kernel
def nakade_shape(s, a):
    """``(shape hash, border colour)`` of the nakade shape whose vital point is ``a`` (the hash still lacks the key of
    the border colour), or ``(-1, 0)``; see the module doc. Uses ``s.scratch[:6]``."""
    w = s.meta[M_SIZE] + 2
    st = s.stones
    free = 0
    for r in (a - w, a - 1, a + 1, a + w):
        if st[r] == EMPTY:
            free += 1
    if free < 2:  # the vital point has the most empty neighbours, at least 2
        return np.int64(-1), 0
    buf = s.scratch
    buf[0] = a
    n = 1
    i = 0
    owner = 0
    while i < n:
        q = buf[i]
        i += 1
        for r in (q - w, q - 1, q + 1, q + w):
            v = st[r]
            if v == EMPTY:
                seen = False
                for j in range(n):
                    if buf[j] == r:
                        seen = True
                        break
                if not seen:
                    if n == 6:
                        return np.int64(-1), 0
                    buf[n] = r
                    n += 1
            elif v == BLACK or v == WHITE:
                if owner == 0:
                    owner = v
                elif owner != v:
                    return np.int64(-1), 0
    if n < 3 or owner == 0:
        return np.int64(-1), 0
    best = 0
    ties = 0
    da = 0
    for j in range(n):
        q = buf[j]
        d = 0
        for r in (q - w, q - 1, q + 1, q + w):
            if st[r] == EMPTY:
                d += 1
        if j == 0:
            da = d
        if d > best:
            best = d
            ties = 1
        elif d == best:
            ties += 1
    if da != best or ties != 1 or best < 2:
        return np.int64(-1), 0
    ar = a // w
    ac = a % w
    h = np.int64(0)
    for j in range(n):
        q = buf[j]
        h ^= KEY_NAKADE[(q // w - ar + NAKADE_RADIUS) * _NW + (q % w - ac + NAKADE_RADIUS)]
    return h & np.int64(0x3FFFFFFFFFFFFFFF), owner  # >= 0: -1 means "no shape"


@inner_kernel
def nakade_index(h, owner, color):
    """The table index (0 .. NAKADE_SIZE-1) of a shape from :func:`nakade_shape` seen by ``color``."""
    return (h ^ KEY_NAKADE[_NW * _NW + (1 if owner == color else 0)]) & (NAKADE_SIZE - 1)


@inner_kernel
def nakade_hash(s, a, color):
    """Index (0 .. NAKADE_SIZE-1) of the nakade shape whose vital point is ``a`` seen by ``color``, or -1."""
    h, owner = nakade_shape(s, a)
    if h < 0:
        return np.int64(-1)
    return nakade_index(h, owner, color)


@inner_kernel
def pattern_3x3(s, a, color):
    """Index (0 .. NON_RESPONSE_SIZE-1) of the 3x3 pattern around ``a`` seen by ``color``."""
    w = s.meta[M_SIZE] + 2
    h = np.int64(0)
    for k in range(8):
        h ^= KEY_3X3[k, cell_state(s, a + NB_DR[k] * w + NB_DC[k], color)]
    return h & (NON_RESPONSE_SIZE - 1)


@inner_kernel
def diamond_point(n, ar, ac, k):
    """The padded point of the ``k``-th (0..11) point of the 12-point diamond around the point in padded row ``ar``,
    column ``ac`` of an ``n x n`` board, or -1 where that is off the board (past the one-point border)."""
    r = ar + DM_DR[k]
    c = ac + DM_DC[k]
    if r < 1 or r > n or c < 1 or c > n:
        return np.int64(-1)
    return r * (n + 2) + c


@inner_kernel
def diamond_hash(s, a, color):
    """Index (0 .. DIAMOND_SIZE-1) of the 12-point diamond around ``a`` (states with liberties) seen by ``color``."""
    n = s.meta[M_SIZE]
    w = n + 2
    ar = a // w
    ac = a % w
    h = np.int64(0)
    for k in range(12):
        q = diamond_point(n, ar, ac, k)
        h ^= KEY_DIAMOND[k, 1 if q < 0 else cell_state(s, q, color)]
    return h & (DIAMOND_SIZE - 1)


@inner_kernel
def response_hash(s, last, color):
    """Hash (all 64 bits) of the 12-point diamond around the previous move ``last``: empty / off board / own /
    opponent for ``color``. Combine with ``KEY_RESPONSE_AT`` of the candidate's place for the feature."""
    n = s.meta[M_SIZE]
    w = n + 2
    lr = last // w
    lc = last % w
    h = np.int64(0)
    for k in range(12):
        q = diamond_point(n, lr, lc, k)
        v = EDGE if q < 0 else s.stones[q]
        if v == EMPTY:
            h ^= KEY_RESPONSE[k, 0]
        elif v == EDGE:
            h ^= KEY_RESPONSE[k, 1]
        elif v == color:
            h ^= KEY_RESPONSE[k, 2]
        else:
            h ^= KEY_RESPONSE[k, 3]
    return h


@inner_kernel
def local_features(s, a, color, tree, out, k):
    """Write the features of ``a`` that do not depend on the previous moves into ``out[k:]``; return the new count."""
    if saves_atari(s, a, color):
        out[k] = SAVE_ATARI
        k += 1
    nk = nakade_hash(s, a, color)
    if nk >= 0:
        out[k] = NAKADE + nk
        k += 1
    out[k] = NON_RESPONSE + pattern_3x3(s, a, color)
    k += 1
    if tree:
        if libs_after(s, a, color) == 1:
            out[k] = SELF_ATARI
            k += 1
        out[k] = DIAMOND + diamond_hash(s, a, color)
        k += 1
    return k


@inner_kernel
def _distance_bucket(s, a, m):
    if m < 0:
        return DISTANCE_CAP
    w = s.meta[M_SIZE] + 2
    d = abs(a // w - m // w) + abs(a % w - m % w)
    return min(d, DISTANCE_CAP)


@inner_kernel
def response_features(s, a, color, tree, rh, out, k):
    """Write the features of ``a`` that depend on the previous moves into ``out[k:]``; return the new count.
    ``rh`` is ``response_hash(s, meta[M_LAST], color)`` (anything when the last move is not a point)."""
    last = s.meta[M_LAST]
    if last >= 0:
        w = s.meta[M_SIZE] + 2
        dr = a // w - last // w
        dc = a % w - last % w
        if abs(dr) + abs(dc) <= 2:
            j = DM_INDEX[(dr + 2) * 5 + dc + 2]
            if j >= 0:
                out[k] = RESPONSE
                out[k + 1] = RESPONSE_PATTERN + ((rh ^ KEY_RESPONSE_AT[j]) & (RESPONSE_PATTERN_SIZE - 1))
                k += 2
        if abs(dr) <= 1 and abs(dc) <= 1:
            j = NB_INDEX[(dr + 1) * 3 + dc + 1]
            if j >= 0:
                out[k] = NEIGHBOUR + j
                k += 1
    if tree:
        out[k] = LAST_DISTANCE + _distance_bucket(s, a, last)
        out[k + 1] = LAST_DISTANCE + DISTANCE_CAP + 1 + _distance_bucket(s, a, s.meta[M_LAST2])
        k += 2
    return k


@inner_kernel
def features_for(s, a, color, tree, out):
    """All active features of the empty point ``a`` for ``color`` into ``out`` (length >= MAX_FEATURES)."""
    k = local_features(s, a, color, tree, out, 0)
    last = s.meta[M_LAST]
    rh = response_hash(s, last, color) if last >= 0 else np.int64(0)
    return response_features(s, a, color, tree, rh, out, k)


@kernel
def move_features(s, a, tree, out_idx):
    """Indices of the active features of the empty point ``a`` for the player to move, into ``out_idx``
    (length >= MAX_FEATURES); returns how many."""
    return features_for(s, a, s.meta[M_TO_MOVE], tree, out_idx)


# --- Python helpers ---------------------------------------------------------------------------------------------------


def features_of(board, move, tree: bool = False) -> list[int]:
    """Active feature indices of ``move`` (a padded index, a GTP vertex or ``(row, col)``) for the player to move of
    a :class:`~igo.engine.board.Board` or a :class:`~igo.engine.board_kernels.BoardState`. For debugging and tests."""
    from .coords import parse_move

    s = getattr(board, "state", board)
    n = int(s.meta[M_SIZE])
    p = int(move) if isinstance(move, (int, np.integer)) else parse_move(move, n)
    if p < 0 or s.stones[p] != EMPTY:
        raise ValueError(f"features are defined for empty points only, not {move!r}")
    out = np.zeros(MAX_FEATURES, np.int64)
    k = move_features(s, p, tree, out)
    return [int(i) for i in out[:k]]
