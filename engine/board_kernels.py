"""Numba kernels of the Go board. The Python API lives in :mod:`igo.engine.board`; read that first.

State is a :class:`BoardState` of contiguous arrays over the *padded* layout (see :mod:`igo.engine.coords`): a one-point
border of ``EDGE`` cells around the ``N x N`` points, so neighbours are ``p-W, p-1, p+1, p+W`` with no bounds checks.

Chains are kept incrementally, as in libego and pachi:

- ``chain[p]`` is the head (representative point) of the chain through stone ``p``;
- ``nxt[p]`` links the stones of a chain in a circular list (splicing two lists merges two chains in O(1));
- ``libs[head]`` counts *pseudo-liberties*: (empty point, adjacent stone of the chain) pairs. It is zero exactly when
  the chain has no liberty, which is all that captures and suicide need; true liberties are counted on demand;
- ``size[head]`` is the number of stones.

Merging relabels the smaller chain. ``empties[:meta[M_NEMPTY]]`` lists the empty points (with ``epos`` its inverse)
so that a playout draws a random empty point in O(1). ``meta`` holds the scalars (``M_*`` indices below).

Kernels never raise for user errors: legality checks return status codes (``OK``, ``OCCUPIED`` ...) and the Python
layer turns them into exceptions. ``place`` is the unchecked make: it trusts its caller that the move is legal.

Make/undo: :func:`push` copies the state onto an :class:`UndoStack` (a few KB; cheaper and far simpler than undoing
chain merges) and :func:`pop` copies it back, so undo restores everything exactly, including the hash, ko point,
captures, move number and the length of the position history used for superko.

Helpers that only other kernels call are declared with :func:`inner_kernel` (compiled without an entry point for
Python), here and in the other kernel modules. Points are passed between kernels as int64 (a point read from an int16
array is widened first), so that each kernel compiles once rather than once per integer type of its callers.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .jit import inner_kernel, kernel

# --- cell values and colours ---------------------------------------------------------------------------------------
EMPTY = 0
BLACK = 1
WHITE = 2
EDGE = 3

# --- status codes of legality checks -------------------------------------------------------------------------------
OK = 0
OCCUPIED = 1
SUICIDE = 2
KO = 3
SUPERKO = 4
OFF_BOARD = 5

# --- ko rules ------------------------------------------------------------------------------------------------------
KO_SIMPLE = 0
KO_POSITIONAL = 1
KO_SITUATIONAL = 2

PASS = -1  # same constant as engine.coords.PASS
NO_POINT = -3  # "no point": no ko, no last move yet (distinct from PASS and RESIGN = -2)

# --- meta indices ---------------------------------------------------------------------------------------------------
M_SIZE = 0  # board size N
M_TO_MOVE = 1  # BLACK or WHITE
M_KO = 2  # point forbidden by simple ko for the player to move, or NO_POINT
M_MOVES = 3  # moves (including passes) played since the start or the last setup
M_PASSES = 4  # consecutive passes at the end of the game so far
M_CAPS_B = 5  # stones captured by Black (white stones removed)
M_CAPS_W = 6  # stones captured by White
M_HASH = 7  # Zobrist hash of the stones (not the player to move)
M_NEMPTY = 8  # number of entries of empties[] in use
M_KO_RULE = 9  # KO_SIMPLE / KO_POSITIONAL / KO_SITUATIONAL
M_SUICIDE = 10  # 1 if (multi-stone) suicide is allowed
M_LAST = 11  # last move (padded index or PASS), NO_POINT at the start
M_LAST2 = 12  # the move before the last
M_NHIST = 13  # number of entries in the position history (hist_hash / hist_color)
META_LEN = 16

MAX_PADDED = 27 * 27  # padded length of the largest board (25x25)


def _zobrist_table() -> np.ndarray:
    rng = np.random.default_rng(0x1600_60_2016)
    z = rng.integers(np.iinfo(np.int64).min, np.iinfo(np.int64).max, size=(3, MAX_PADDED), dtype=np.int64)
    z[EMPTY, :] = 0
    return z


ZOBRIST = _zobrist_table()  # ZOBRIST[colour, point]; frozen into the compiled kernels


class BoardState(NamedTuple):
    stones: np.ndarray  # int8[P]   EMPTY / BLACK / WHITE / EDGE
    chain: np.ndarray  # int16[P]  head of the chain through a stone
    nxt: np.ndarray  # int16[P]  next stone of the same chain (circular)
    libs: np.ndarray  # int16[P]  pseudo-liberties, at heads
    size: np.ndarray  # int16[P]  stones in the chain, at heads
    empties: np.ndarray  # int16[P]  the empty points, first meta[M_NEMPTY] entries
    epos: np.ndarray  # int16[P]  index of an empty point in empties
    meta: np.ndarray  # int64[META_LEN]
    hist_hash: np.ndarray  # int64[H]  hash of every position of the game so far (for superko)
    hist_color: np.ndarray  # int8[H]  player to move in that position (situational superko)
    scratch: np.ndarray  # int16[2P]  work space of flood fills (not part of the position)


class UndoStack(NamedTuple):
    stones: np.ndarray  # int8[D, P]
    chain: np.ndarray
    nxt: np.ndarray
    libs: np.ndarray
    size: np.ndarray
    empties: np.ndarray
    epos: np.ndarray
    meta: np.ndarray  # int64[D, META_LEN]


def _position_arrays(size: int, lead: tuple, alloc) -> dict:
    """The arrays of a ``size`` position that :func:`push` saves (the fields of an :class:`UndoStack`), made by
    ``alloc`` (``np.zeros`` or ``np.empty``), each with the leading shape ``lead``."""
    p = (size + 2) * (size + 2)
    return dict(
        stones=alloc((*lead, p), np.int8),
        chain=alloc((*lead, p), np.int16),
        nxt=alloc((*lead, p), np.int16),
        libs=alloc((*lead, p), np.int16),
        size=alloc((*lead, p), np.int16),
        empties=alloc((*lead, p), np.int16),
        epos=alloc((*lead, p), np.int16),
        meta=alloc((*lead, META_LEN), np.int64),
    )


def alloc_states(size: int, lead: tuple = (), history: int = 0) -> BoardState:
    """Zeroed arrays of ``size`` board states, each with the leading shape ``lead``: ``()`` one state (not yet a board:
    :func:`new_state` initialises it), ``(count,)`` a pool (:func:`igo.engine.pool.new_pool`). ``history`` is a
    lower bound on the length of the position history."""
    p = (size + 2) * (size + 2)
    h = max(history, 4 * size * size + 16)
    return BoardState(
        **_position_arrays(size, lead, np.zeros),
        hist_hash=np.zeros((*lead, h), np.int64),
        hist_color=np.zeros((*lead, h), np.int8),
        scratch=np.zeros((*lead, 2 * p), np.int16),
    )


def new_state(size: int, ko_rule: int = KO_POSITIONAL, suicide: bool = False, history: int = 0) -> BoardState:
    """Allocate and initialise the state of an empty ``size x size`` board."""
    s = alloc_states(size, history=history)
    init_state(s, size, ko_rule, 1 if suicide else 0)
    return s


def new_undo_stack(size: int, depth: int) -> UndoStack:
    return UndoStack(**_position_arrays(size, (depth,), np.empty))


def copy_state(s: BoardState, history: bool = True) -> BoardState:
    """A deep copy. ``history=False`` gives the copy a fresh, empty position history (for playouts and search)."""
    if history:
        return BoardState(*(a.copy() for a in s))
    c = BoardState(*(a.copy() for a in s[:8]), np.zeros(1, np.int64), np.zeros(1, np.int8), s.scratch.copy())
    c.meta[M_NHIST] = 0
    c.meta[M_KO_RULE] = KO_SIMPLE  # without the history, only simple ko can be checked
    return c


# --- construction --------------------------------------------------------------------------------------------------


@kernel
def init_state(s, n, ko_rule, suicide):
    w = n + 2
    for p in range(s.stones.shape[0]):
        s.stones[p] = EDGE
        s.chain[p] = 0
        s.nxt[p] = 0
        s.libs[p] = 0
        s.size[p] = 0
    for i in range(s.meta.shape[0]):
        s.meta[i] = 0
    k = 0
    for r in range(n):
        for c in range(n):
            p = (r + 1) * w + c + 1
            s.stones[p] = EMPTY
            s.empties[k] = p
            s.epos[p] = k
            k += 1
    s.meta[M_SIZE] = n
    s.meta[M_TO_MOVE] = BLACK
    s.meta[M_KO] = NO_POINT
    s.meta[M_NEMPTY] = k
    s.meta[M_KO_RULE] = ko_rule
    s.meta[M_SUICIDE] = suicide
    s.meta[M_LAST] = NO_POINT
    s.meta[M_LAST2] = NO_POINT
    s.meta[M_HASH] = 0
    record_position(s)


@inner_kernel
def _remove_empty(s, p):
    n = s.meta[M_NEMPTY] - 1
    i = s.epos[p]
    last = s.empties[n]
    s.empties[i] = last
    s.epos[last] = i
    s.meta[M_NEMPTY] = n


@inner_kernel
def _add_empty(s, p):
    n = s.meta[M_NEMPTY]
    s.empties[n] = p
    s.epos[p] = n
    s.meta[M_NEMPTY] = n + 1


@kernel
def record_position(s):
    """Append the current position (hash, player to move) to the history used by superko."""
    k = s.meta[M_NHIST]
    if k < s.hist_hash.shape[0]:
        s.hist_hash[k] = s.meta[M_HASH]
        s.hist_color[k] = s.meta[M_TO_MOVE]
        s.meta[M_NHIST] = k + 1


# --- making moves --------------------------------------------------------------------------------------------------


@inner_kernel
def _merge(s, a, b):
    """Merge the chains with heads a and b; return the new head (the larger chain's)."""
    if s.size[a] < s.size[b]:
        a, b = b, a
    q = b
    while True:
        s.chain[q] = a
        q = s.nxt[q]
        if q == b:
            break
    t = s.nxt[a]
    s.nxt[a] = s.nxt[b]
    s.nxt[b] = t
    s.size[a] += s.size[b]
    s.libs[a] += s.libs[b]
    return a


@inner_kernel
def _remove_chain(s, head):
    """Take a chain off the board; give its neighbours their liberties back. Returns the number of stones."""
    w = s.meta[M_SIZE] + 2
    color = s.stones[head]
    h = s.meta[M_HASH]
    count = 0
    q = head
    while True:
        s.stones[q] = EMPTY
        h ^= ZOBRIST[color, q]
        _add_empty(s, q)
        count += 1
        for r in (q - w, q - 1, q + 1, q + w):
            v = s.stones[r]
            if v == BLACK or v == WHITE:
                s.libs[s.chain[r]] += 1
        nq = s.nxt[q]
        s.chain[q] = 0
        s.nxt[q] = 0
        q = nq
        if q == head:
            break
    s.meta[M_HASH] = h
    return count


@kernel
def place(s, p, color):
    """Unchecked make: put a ``color`` stone on the empty point ``p`` and resolve captures (and suicide).

    The caller guarantees the move is legal (or, for suicide, allowed). Updates hash, ko point, captures, the player
    to move, move counters and the last moves, but does not record the position in the history (see
    :func:`record_position`), so playouts do not pay for it.
    """
    w = s.meta[M_SIZE] + 2
    opp = 3 - color
    _remove_empty(s, p)
    s.stones[p] = color
    s.chain[p] = p
    s.nxt[p] = p
    s.size[p] = 1
    s.meta[M_HASH] ^= ZOBRIST[color, p]
    nlib = 0
    for q in (p - w, p - 1, p + 1, p + w):
        v = s.stones[q]
        if v == EMPTY:
            nlib += 1
        elif v == BLACK or v == WHITE:
            s.libs[s.chain[q]] -= 1
    s.libs[p] = nlib
    head = p
    for q in (p - w, p - 1, p + 1, p + w):
        if s.stones[q] == color:
            hq = s.chain[q]
            if hq != head:
                head = _merge(s, head, hq)
    captured = 0
    ko = NO_POINT
    for q in (p - w, p - 1, p + 1, p + w):
        if s.stones[q] == opp:
            hq = s.chain[q]
            if s.libs[hq] == 0:
                n = _remove_chain(s, np.int64(hq))
                captured += n
                if n == 1:
                    ko = q
    if captured > 0:
        if color == BLACK:
            s.meta[M_CAPS_B] += captured
        else:
            s.meta[M_CAPS_W] += captured
        if captured == 1 and s.size[head] == 1 and s.libs[head] == 1:
            s.meta[M_KO] = ko
        else:
            s.meta[M_KO] = NO_POINT
    else:
        s.meta[M_KO] = NO_POINT
        if s.libs[head] == 0:  # suicide (the caller allowed it)
            n = _remove_chain(s, head)
            if color == BLACK:
                s.meta[M_CAPS_W] += n
            else:
                s.meta[M_CAPS_B] += n
    s.meta[M_TO_MOVE] = opp
    s.meta[M_MOVES] += 1
    s.meta[M_PASSES] = 0
    s.meta[M_LAST2] = s.meta[M_LAST]
    s.meta[M_LAST] = p
    return captured


@kernel
def play_pass(s):
    s.meta[M_TO_MOVE] = 3 - s.meta[M_TO_MOVE]
    s.meta[M_KO] = NO_POINT
    s.meta[M_MOVES] += 1
    s.meta[M_PASSES] += 1
    s.meta[M_LAST2] = s.meta[M_LAST]
    s.meta[M_LAST] = PASS


@kernel
def play_recorded(s, p, color):
    """Make a move (``p`` may be PASS) for ``color`` and record the new position for superko."""
    if p == PASS:
        play_pass(s)
        s.meta[M_TO_MOVE] = 3 - color
    else:
        place(s, p, color)
    record_position(s)


# --- legality -------------------------------------------------------------------------------------------------------


@kernel(inline="always")
def basic_legality(s, p, color):
    """OK, OCCUPIED, SUICIDE or KO (simple ko only) for ``color`` playing at ``p``; suicide per the rule set."""
    v = s.stones[p]
    if v != EMPTY:
        return OFF_BOARD if v == EDGE else OCCUPIED
    if p == s.meta[M_KO] and color == s.meta[M_TO_MOVE]:
        return KO
    w = s.meta[M_SIZE] + 2
    if s.stones[p - w] == EMPTY or s.stones[p - 1] == EMPTY or s.stones[p + 1] == EMPTY or s.stones[p + w] == EMPTY:
        return OK
    if s.meta[M_SUICIDE] != 0:
        return OK
    opp = 3 - color
    for q in (p - w, p - 1, p + 1, p + w):
        v = s.stones[q]
        if v == color:
            if s.libs[s.chain[q]] > _adjacency(s, p, s.chain[q]):
                return OK  # joins a chain that keeps another liberty
        elif v == opp:
            if s.libs[s.chain[q]] == _adjacency(s, p, s.chain[q]):
                return OK  # captures
    return SUICIDE


@inner_kernel
def _chain_hash(s, head, color):
    h = np.int64(0)
    r = head
    while True:
        h ^= ZOBRIST[color, r]
        r = s.nxt[r]
        if r == head:
            break
    return h


@inner_kernel
def _adjacency(s, p, head):
    """How many of p's neighbours belong to the chain ``head`` (= its pseudo-liberties at p)."""
    w = s.meta[M_SIZE] + 2
    k = 0
    for r in (p - w, p - 1, p + 1, p + w):
        if s.chain[r] == head and (s.stones[r] == BLACK or s.stones[r] == WHITE):
            k += 1
    return k


@inner_kernel
def _neighbour_chains(s, p, color, heads):
    """Write the distinct heads of ``color`` chains next to p into ``heads``; return how many."""
    w = s.meta[M_SIZE] + 2
    nh = 0
    for q in (p - w, p - 1, p + 1, p + w):
        if s.stones[q] == color:
            hq = s.chain[q]
            new = True
            for i in range(nh):
                if heads[i] == hq:
                    new = False
            if new:
                heads[nh] = hq
                nh += 1
    return nh


@kernel
def hash_after(s, p, color):
    """Zobrist hash of the position after ``color`` plays the (basically legal) move ``p``, captures and (where the
    rules allow it) suicide included, without making the move."""
    w = s.meta[M_SIZE] + 2
    opp = 3 - color
    h = s.meta[M_HASH] ^ ZOBRIST[color, p]
    heads = s.scratch[:4]
    captured = False
    nh = _neighbour_chains(s, p, opp, heads)
    for i in range(nh):
        if s.libs[heads[i]] == _adjacency(s, p, heads[i]):
            captured = True
            h ^= _chain_hash(s, heads[i], opp)
    if captured or s.meta[M_SUICIDE] == 0:
        return h
    for q in (p - w, p - 1, p + 1, p + w):
        if s.stones[q] == EMPTY:
            return h
    nh = _neighbour_chains(s, p, color, heads)
    for i in range(nh):
        if s.libs[heads[i]] > _adjacency(s, p, heads[i]):
            return h
    h ^= ZOBRIST[color, p]  # suicide: the new stone and every chain it joins leave the board
    for i in range(nh):
        h ^= _chain_hash(s, heads[i], color)
    return h


@inner_kernel
def repeats_position(s, h, color_after):
    """True if the position with hash ``h`` (``color_after`` to move) breaks the superko rule in force."""
    rule = s.meta[M_KO_RULE]
    if rule == KO_SIMPLE:
        return False
    n = s.meta[M_NHIST]
    if rule == KO_POSITIONAL:
        for i in range(n):
            if s.hist_hash[i] == h:
                return True
    else:
        for i in range(n):
            if s.hist_hash[i] == h and s.hist_color[i] == color_after:
                return True
    return False


@kernel
def legality(s, p, color):
    """Full legality under the rule set in force: OK, OCCUPIED, OFF_BOARD, SUICIDE, KO or SUPERKO."""
    code = basic_legality(s, p, color)
    if code != OK or s.meta[M_KO_RULE] == KO_SIMPLE:
        return code
    if repeats_position(s, hash_after(s, p, color), 3 - color):
        return SUPERKO
    return OK


@kernel
def legal_mask(s, color, out):
    """Fill ``out`` (bool[N*N], flat order) with the legality of every point for ``color``."""
    n = s.meta[M_SIZE]
    w = n + 2
    for r in range(n):
        for c in range(n):
            out[r * n + c] = legality(s, (r + 1) * w + c + 1, color) == OK


# --- scoring --------------------------------------------------------------------------------------------------------


@kernel
def area(s):
    """Tromp-Taylor area: (black points, white points). A point counts for a colour if it holds such a stone or is
    empty and reaches only stones of that colour through empty points."""
    n = s.meta[M_SIZE]
    w = n + 2
    P = s.stones.shape[0]
    mark = s.scratch[:P]
    stack = s.scratch[P:]
    for i in range(P):
        mark[i] = 0
    black = 0
    white = 0
    for r in range(n):
        for c in range(n):
            p = (r + 1) * w + c + 1
            v = s.stones[p]
            if v == BLACK:
                black += 1
            elif v == WHITE:
                white += 1
            elif mark[p] == 0:
                reach = 0
                count = 0
                top = 0
                stack[top] = p
                top += 1
                mark[p] = 1
                while top > 0:
                    top -= 1
                    q = stack[top]
                    count += 1
                    for t in (q - w, q - 1, q + 1, q + w):
                        u = s.stones[t]
                        if u == EMPTY:
                            if mark[t] == 0:
                                mark[t] = 1
                                stack[top] = t
                                top += 1
                        elif u == BLACK:
                            reach |= 1
                        elif u == WHITE:
                            reach |= 2
                if reach == 1:
                    black += count
                elif reach == 2:
                    white += count
    return black, white


# --- queries --------------------------------------------------------------------------------------------------------


@kernel
def chain_liberties(s, p, out_mark):
    """Number of true liberties of the chain through stone ``p``. ``out_mark`` is a zeroed uint8[P] scratch array
    (left zeroed on return)."""
    w = s.meta[M_SIZE] + 2
    head = s.chain[p]
    count = 0
    q = head
    while True:
        for r in (q - w, q - 1, q + 1, q + w):
            if s.stones[r] == EMPTY and out_mark[r] == 0:
                out_mark[r] = 1
                count += 1
        q = s.nxt[q]
        if q == head:
            break
    q = head
    while True:
        for r in (q - w, q - 1, q + 1, q + w):
            out_mark[r] = 0
        q = s.nxt[q]
        if q == head:
            break
    return count


@kernel
def fresh_hash(s):
    h = np.int64(0)
    for p in range(s.stones.shape[0]):
        v = s.stones[p]
        if v == BLACK or v == WHITE:
            h ^= ZOBRIST[v, p]
    return h


@kernel
def check_invariants(s):
    """Recompute chains, pseudo-liberties, sizes, hash and the empty list from the stones alone and compare.

    Returns 0 if consistent, else a code naming the first broken invariant (for tests)."""
    n = s.meta[M_SIZE]
    w = n + 2
    P = s.stones.shape[0]
    if fresh_hash(s) != s.meta[M_HASH]:
        return 1
    ne = 0
    for p in range(P):
        if s.stones[p] == EMPTY:
            ne += 1
            i = s.epos[p]
            if i >= s.meta[M_NEMPTY] or s.empties[i] != p:
                return 2
    if ne != s.meta[M_NEMPTY]:
        return 3
    for p in range(P):
        v = s.stones[p]
        if v != BLACK and v != WHITE:
            continue
        h = s.chain[p]
        if s.stones[h] != v or s.chain[h] != h:
            return 4
        if h != p:
            continue
        # walk the circular list: every member has head h, count matches size
        cnt = 0
        plibs = 0
        q = h
        while True:
            if s.chain[q] != h or s.stones[q] != v:
                return 5
            cnt += 1
            for r in (q - w, q - 1, q + 1, q + w):
                if s.stones[r] == EMPTY:
                    plibs += 1
                elif s.stones[r] == v and s.chain[r] != h:
                    return 6  # two adjacent stones of one colour in different chains
            q = s.nxt[q]
            if q == h or cnt > P:
                break
        if cnt != s.size[h]:
            return 7
        if plibs != s.libs[h] or plibs == 0:
            return 8
    # every stone is reachable from its head's list
    total = 0
    for p in range(P):
        v = s.stones[p]
        if (v == BLACK or v == WHITE) and s.chain[p] == p:
            total += s.size[p]
    stones = 0
    for p in range(P):
        v = s.stones[p]
        if v == BLACK or v == WHITE:
            stones += 1
    if total != stones:
        return 9
    return 0


# --- undo -----------------------------------------------------------------------------------------------------------


@inner_kernel
def _copy(dst, src):
    for i in range(src.shape[0]):
        dst[i] = src[i]


@kernel
def copy_position(dst, src):
    """Copy the position arrays and meta of ``src`` into ``dst`` (same size); histories and scratch are left alone."""
    _copy(dst.stones, src.stones)
    _copy(dst.chain, src.chain)
    _copy(dst.nxt, src.nxt)
    _copy(dst.libs, src.libs)
    _copy(dst.size, src.size)
    _copy(dst.empties, src.empties)
    _copy(dst.epos, src.epos)
    _copy(dst.meta, src.meta)


@kernel
def push(s, u, depth):
    """Save the state at ``u[depth]``."""
    _copy(u.stones[depth], s.stones)
    _copy(u.chain[depth], s.chain)
    _copy(u.nxt[depth], s.nxt)
    _copy(u.libs[depth], s.libs)
    _copy(u.size[depth], s.size)
    _copy(u.empties[depth], s.empties)
    _copy(u.epos[depth], s.epos)
    _copy(u.meta[depth], s.meta)


@kernel
def pop(s, u, depth):
    """Restore the state saved at ``u[depth]``."""
    _copy(s.stones, u.stones[depth])
    _copy(s.chain, u.chain[depth])
    _copy(s.nxt, u.nxt[depth])
    _copy(s.libs, u.libs[depth])
    _copy(s.size, u.size[depth])
    _copy(s.empties, u.empties[depth])
    _copy(s.epos, u.epos[depth])
    _copy(s.meta, u.meta[depth])
