"""AlphaGo's fast rollout policy (and its tree policy) as Numba kernels: a linear softmax over the pattern features of
:mod:`igo.engine.patterns`, ``p(a) ∝ exp(Σ_{f active for a} weights[f])`` over the *candidates*: the empty points where
the player to move may play (simple ko) that are not one of its own single-point eyes
(:func:`igo.engine.playout.is_eye`). No candidate: pass. ``weights`` is a float32 vector of length
``num_features(tree)`` (:class:`igo.nets.rollout.RolloutPolicy` trains it); all zeros give the uniform light playout
without its tactical answers.

Two ways to compute the policy:

- :func:`move_probabilities` / :func:`policy_move` compute every candidate's logit afresh (tree policy or rollout
  policy; the softmax subtracts the largest logit, so any weights are safe). For priors, tests and single moves.
- :func:`policy_playout` keeps, per colour, ``wexp[c, p] = exp(local logit)`` of every empty point (0 when it is no
  candidate, simple ko aside) where *local* means the features that do not depend on the previous move (save atari,
  nakade, 3x3 pattern). After a move only the points whose features may have changed are recomputed: the 8
  neighbours of the move and of the stones it captured, the 8 neighbours of every stone of the chains next to those
  whose liberties changed (unless they had and keep >= 3) and the small empty regions next to them (nakade
  shapes); a suicide recomputes everything. The features of the previous move (response, response pattern,
  neighbour) touch at most 12 points and are multiplied in when sampling, and the simple-ko point is left out then.
  Each move sums ``wexp`` over the empty points and draws once: O(empty points) per move plus the dirty points.
  :func:`check_incremental` checks the bookkeeping against a full recompute. Local and response logits are each
  clamped to ±60 here so that exp() cannot overflow (the full computation does not clamp).

Every kernel takes a :class:`PolicyWork` (:func:`new_work`), its caller's, so nothing is allocated; threads need one
each (and their own ``rng``).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from .board_kernels import (
    BLACK,
    EDGE,
    EMPTY,
    KO,
    KO_SIMPLE,
    M_KO,
    M_KO_RULE,
    M_LAST,
    M_NEMPTY,
    M_PASSES,
    M_SIZE,
    M_TO_MOVE,
    OK,
    WHITE,
    _adjacency,
    area,
    basic_legality,
    copy_position,
    place,
    play_pass,
)
from .jit import inner_kernel, kernel
from .mcts import LEAF_TERMINAL
from .patterns import (
    KEY_3X3,
    MAX_FEATURES,
    NAKADE,
    NB_DC,
    NB_DR,
    NON_RESPONSE,
    NON_RESPONSE_SIZE,
    SAVE_ATARI,
    diamond_point,
    lib_class,
    local_features,
    nakade_index,
    nakade_shape,
    response_features,
    response_hash,
    saves_atari,
)
from .playout import is_eye
from .pool import pool_slot
from .rng import random_float

LOGIT_CLAMP = 60.0


class PolicyWork(NamedTuple):
    wexp: np.ndarray  # float64[2, P]  exp(local logit) of each empty point for Black / White (0: no candidate)
    logit: np.ndarray  # float64[P]  full logits of the candidates (-inf: no candidate), move_probabilities
    feat: np.ndarray  # int64[MAX_FEATURES]  feature indices of one move
    mark: np.ndarray  # int64[P]  generation stamps (dirty points, walked chains, points left out of a draw)
    dirty: np.ndarray  # int64[P]  the points to recompute after a move
    caps: np.ndarray  # int64[P]  the stones the move being made captures
    cmark: np.ndarray  # int64[P]  generation stamps of those stones
    dpts: np.ndarray  # int64[12]  candidates near the previous move in this draw
    dw: np.ndarray  # float64[12]  and their weights
    cls: np.ndarray  # int64[P]  liberty class (lib_class) of chains, at heads, cached for one board version
    cls_ver: np.ndarray  # int64[P]  the board version of each cached class
    ctl: np.ndarray  # int64[4]  [0] the current generation, [1] the board version, [2] flag of before_move


def new_work(size: int) -> PolicyWork:
    """Work arrays for the policy kernels on a ``size x size`` board."""
    p = (size + 2) * (size + 2)
    return PolicyWork(
        wexp=np.zeros((2, p), np.float64),
        logit=np.zeros(p, np.float64),
        feat=np.zeros(MAX_FEATURES, np.int64),
        mark=np.zeros(p, np.int64),
        dirty=np.zeros(p, np.int64),
        caps=np.zeros(p, np.int64),
        cmark=np.zeros(p, np.int64),
        dpts=np.zeros(12, np.int64),
        dw=np.zeros(12, np.float64),
        cls=np.zeros(p, np.int64),
        cls_ver=np.zeros(p, np.int64),
        ctl=np.zeros(4, np.int64),
    )


@kernel
def _clamp(x):
    return min(max(x, -LOGIT_CLAMP), LOGIT_CLAMP)


@inner_kernel
def _next_gen(work):
    work.ctl[0] += 1
    return work.ctl[0]


@kernel
def is_candidate(s, p, color):
    """True if ``color`` may play at ``p`` (simple ko) and ``p`` is not one of its own single-point eyes."""
    return s.stones[p] == EMPTY and not is_eye(s, p, color) and basic_legality(s, p, color) == OK


@inner_kernel
def _weight_sum(weights, feat, k):
    x = 0.0
    for i in range(k):
        x += weights[feat[i]]
    return x


# --- full computation -------------------------------------------------------------------------------------------------


@kernel
def candidate_logits(s, weights, tree, work):
    """Write the logit of every candidate of the player to move into ``work.logit`` (``-inf`` for the other empty
    points; entries of stones are stale). Returns ``(candidates, largest logit)``."""
    color = s.meta[M_TO_MOVE]
    last = s.meta[M_LAST]
    rh = response_hash(s, last, color) if last >= 0 else np.int64(0)
    count = 0
    best = -np.inf
    for i in range(s.meta[M_NEMPTY]):
        p = np.int64(s.empties[i])
        if is_candidate(s, p, color):
            k = local_features(s, p, color, tree, work.feat, 0)
            k = response_features(s, p, color, tree, rh, work.feat, k)
            x = _weight_sum(weights, work.feat, k)
            work.logit[p] = x
            best = max(best, x)
            count += 1
        else:
            work.logit[p] = -np.inf
    return count, best


@kernel
def move_probabilities(s, weights, tree, work, out):
    """Fill ``out`` (float64[P], padded indices) with the policy's probability of each move of the player to move
    (0 for non-candidates; all 0 when it must pass). Returns the number of candidates."""
    for i in range(out.shape[0]):
        out[i] = 0.0
    count, best = candidate_logits(s, weights, tree, work)
    if count == 0:
        return 0
    z = 0.0
    for i in range(s.meta[M_NEMPTY]):
        p = s.empties[i]
        x = work.logit[p]
        if x > -np.inf:
            e = math.exp(x - best)
            out[p] = e
            z += e
    for i in range(s.meta[M_NEMPTY]):
        out[s.empties[i]] /= z
    return count


@kernel
def policy_move(s, rng, weights, tree, work):
    """A move of the player to move drawn from the policy (full computation), or -1 (pass) if it has none."""
    count, best = candidate_logits(s, weights, tree, work)
    if count == 0:
        return -1
    n = s.meta[M_NEMPTY]
    z = 0.0
    for i in range(n):
        x = work.logit[s.empties[i]]
        if x > -np.inf:
            z += math.exp(x - best)
    u = random_float(rng) * z
    fallback = -1
    for i in range(n):
        p = s.empties[i]
        x = work.logit[p]
        if x > -np.inf:
            fallback = p
            u -= math.exp(x - best)
            if u < 0.0:
                return p
    return fallback


@kernel
def fill_candidates(s, tree, moves, index):
    """Training inputs: the candidates of the player to move in board order into ``moves`` and their feature indices
    into the rows of ``index`` (int64[>= candidates, >= MAX_FEATURES], rows padded with -1). Returns the count."""
    n = s.meta[M_SIZE]
    w = n + 2
    color = s.meta[M_TO_MOVE]
    last = s.meta[M_LAST]
    rh = response_hash(s, last, color) if last >= 0 else np.int64(0)
    m = 0
    for r in range(1, n + 1):
        for c in range(1, n + 1):
            p = r * w + c
            if is_candidate(s, p, color):
                row = index[m]
                for j in range(row.shape[0]):
                    row[j] = -1
                k = local_features(s, p, color, tree, row, 0)
                response_features(s, p, color, tree, rh, row, k)
                moves[m] = p
                m += 1
    return m


# --- incremental playouts ---------------------------------------------------------------------------------------------


@inner_kernel
def _cached_class(s, head, work):
    if work.cls_ver[head] != work.ctl[1]:
        work.cls_ver[head] = work.ctl[1]
        work.cls[head] = lib_class(s, head)
    return work.cls[head]


@inner_kernel
def _pattern_pair(s, a, work):
    """:func:`igo.engine.patterns.pattern_3x3` for Black and for White at once, with cached liberty classes."""
    w = s.meta[M_SIZE] + 2
    hb = np.int64(0)
    hw = np.int64(0)
    for k in range(8):
        q = a + NB_DR[k] * w + NB_DC[k]
        v = s.stones[q]
        if v == EMPTY or v == EDGE:
            hb ^= KEY_3X3[k, v // 3]  # cell state 0 (empty) or 1 (off board)
            hw ^= KEY_3X3[k, v // 3]
        else:
            c = _cached_class(s, s.chain[q], work)
            if v == BLACK:
                hb ^= KEY_3X3[k, 1 + c]
                hw ^= KEY_3X3[k, 4 + c]
            else:
                hb ^= KEY_3X3[k, 4 + c]
                hw ^= KEY_3X3[k, 1 + c]
    return hb & (NON_RESPONSE_SIZE - 1), hw & (NON_RESPONSE_SIZE - 1)


@inner_kernel
def _refresh(s, p, weights, work):
    """Recompute ``work.wexp[:, p]`` of the empty point ``p``: exp(local logit) for each colour, or 0 if it is no
    candidate (simple ko ignored). The local features of :func:`igo.engine.patterns.local_features` (rollout policy),
    with the work common to both colours (3x3 pattern, nakade shape) done once."""
    hb, hw = _pattern_pair(s, p, work)
    nk, owner = nakade_shape(s, p)
    for ci in range(2):
        color = ci + 1
        work.wexp[ci, p] = 0.0
        if is_eye(s, p, color):
            continue
        code = basic_legality(s, p, color)
        if code != OK and code != KO:
            continue
        x = np.float64(weights[NON_RESPONSE + (hb if ci == 0 else hw)])
        if nk >= 0:
            x += weights[NAKADE + nakade_index(nk, owner, color)]
        if saves_atari(s, p, color):
            x += weights[SAVE_ATARI]
        work.wexp[ci, p] = math.exp(_clamp(x))


@kernel
def refresh_all(s, weights, work):
    """Recompute ``work.wexp`` of every empty point (the start of a playout)."""
    work.ctl[1] += 1
    for i in range(s.meta[M_NEMPTY]):
        _refresh(s, np.int64(s.empties[i]), weights, work)


@inner_kernel
def _mark(s, work, q, gen, nd):
    if s.stones[q] == EMPTY and work.mark[q] != gen:
        work.mark[q] = gen
        work.dirty[nd] = q
        return nd + 1
    return nd


@inner_kernel
def _mark_around(s, work, q, gen, nd):
    w = s.meta[M_SIZE] + 2
    for r in (q - w - 1, q - w, q - w + 1, q - 1, q + 1, q + w - 1, q + w, q + w + 1):
        nd = _mark(s, work, r, gen, nd)
    return nd


@inner_kernel
def _mark_region(s, work, start, gen, nd, excl):
    """Mark the empty region of ``start`` if it has at most 6 points (a possible nakade shape), not entering the
    points stamped ``excl`` in ``work.cmark`` (the stones just captured: this finds the regions as they were before
    the move). Uses ``s.scratch[8:14]``."""
    w = s.meta[M_SIZE] + 2
    buf = s.scratch
    buf[8] = start
    n = 1
    i = 0
    while i < n:
        q = buf[8 + i]
        i += 1
        for r in (q - w, q - 1, q + 1, q + w):
            if s.stones[r] == EMPTY and work.cmark[r] != excl:
                seen = False
                for j in range(n):
                    if buf[8 + j] == r:
                        seen = True
                        break
                if not seen:
                    if n == 6:
                        return nd  # larger than any nakade shape, before this move too: nothing changed
                    buf[8 + n] = r
                    n += 1
    for j in range(n):
        nd = _mark(s, work, np.int64(buf[8 + j]), gen, nd)
    return nd


@inner_kernel
def before_move(s, m, color, work):
    """Before ``color`` plays ``m``: write the stones the move will capture into ``work.caps`` and return how many;
    note in ``work.ctl[2]`` whether every own chain next to ``m`` has >= 3 liberties."""
    w = s.meta[M_SIZE] + 2
    opp = 3 - color
    nc = 0
    offs = (-w, -1, 1, w)
    work.ctl[2] = 1
    for i in range(4):
        r = m + offs[i]
        if s.stones[r] == color and lib_class(s, s.chain[r]) < 3:
            work.ctl[2] = 0
        if s.stones[r] != opp:
            continue
        head = s.chain[r]
        seen = False
        for j in range(i):
            t = m + offs[j]
            if s.stones[t] == opp and s.chain[t] == head:
                seen = True
        if seen or s.libs[head] != _adjacency(s, m, head):
            continue
        q = head
        while True:
            work.caps[nc] = q
            nc += 1
            q = s.nxt[q]
            if q == head:
                break
    return nc


@inner_kernel
def _mark_chain(s, work, r, gen, nd):
    """Mark the 8 neighbours of every stone of the chain through ``r`` (once per generation)."""
    head = s.chain[r]
    if work.mark[head] == gen:  # stones are never dirty points, so their stamp can flag walked chains
        return nd
    work.mark[head] = gen
    q = head
    while True:
        nd = _mark_around(s, work, np.int64(q), gen, nd)
        q = s.nxt[q]
        if q == head:
            break
    return nd


@inner_kernel
def update_after_move(s, m, color, ncaps, weights, work):
    """Bring ``work.wexp`` up to date after ``color`` played ``m``, capturing the ``ncaps`` stones listed in
    ``work.caps`` (:func:`before_move`, called before the move)."""
    if s.stones[m] != color:  # suicide
        refresh_all(s, weights, work)
        return
    w = s.meta[M_SIZE] + 2
    gen = _next_gen(work)
    work.ctl[1] += 1
    nd = _mark_around(s, work, m, gen, np.int64(0))
    # The chain of m and the chains that lost the liberty m: their liberties changed, which matters to the points
    # around them unless they had and have >= 3 (3x3 classes, atari, captures and suicide all stay the same).
    if work.ctl[2] == 0 or _cached_class(s, s.chain[m], work) < 3:
        nd = _mark_chain(s, work, m, gen, nd)
    for r in (m - w, m - 1, m + 1, m + w):
        if s.stones[r] == 3 - color and _cached_class(s, s.chain[r], work) < 3:
            nd = _mark_chain(s, work, r, gen, nd)
    for i in range(ncaps):
        x = work.caps[i]
        work.cmark[x] = gen
        nd = _mark(s, work, x, gen, nd)
        nd = _mark_around(s, work, x, gen, nd)
        for r in (x - w, x - 1, x + 1, x + w):  # chains that gained the liberty x
            v = s.stones[r]
            if v == BLACK or v == WHITE:
                nd = _mark_chain(s, work, r, gen, nd)
    # small empty regions (nakade shapes) that changed: as they were before the move, and new ones with the
    # captured points
    for r in (m - w, m - 1, m + 1, m + w):
        if s.stones[r] == EMPTY:
            nd = _mark_region(s, work, r, gen, nd, gen)
    for i in range(ncaps):
        x = work.caps[i]
        nd = _mark_region(s, work, x, gen, nd, np.int64(-1))
        for r in (x - w, x - 1, x + 1, x + w):
            if s.stones[r] == EMPTY and work.cmark[r] != gen:
                nd = _mark_region(s, work, r, gen, nd, gen)
    for i in range(nd):
        _refresh(s, work.dirty[i], weights, work)


@inner_kernel
def _sample(s, rng, weights, work):
    """Draw a candidate of the player to move from the kept ``wexp`` times the previous-move features; -1: none."""
    color = s.meta[M_TO_MOVE]
    ci = color - 1
    wexp = work.wexp
    mark = work.mark
    gen = _next_gen(work)
    ko = s.meta[M_KO]
    if ko >= 0:
        mark[ko] = gen  # illegal now: left out
    total = 0.0
    nd = 0
    last = s.meta[M_LAST]
    if last >= 0:
        n = s.meta[M_SIZE]
        w = n + 2
        lr = last // w
        lc = last % w
        rh = response_hash(s, last, color)
        for j in range(12):
            q = diamond_point(n, lr, lc, j)
            if q < 0 or s.stones[q] != EMPTY or mark[q] == gen:
                continue
            mark[q] = gen
            base = wexp[ci, q]
            if base <= 0.0:
                continue
            k = response_features(s, q, color, np.bool_(False), rh, work.feat, np.int64(0))
            v = base * math.exp(_clamp(_weight_sum(weights, work.feat, k)))
            work.dpts[nd] = q
            work.dw[nd] = v
            nd += 1
            total += v
    ne = s.meta[M_NEMPTY]
    for i in range(ne):
        p = s.empties[i]
        if mark[p] != gen:
            total += wexp[ci, p]
    if total <= 0.0:
        return -1
    u = random_float(rng) * total
    fallback = -1
    for j in range(nd):
        fallback = work.dpts[j]
        u -= work.dw[j]
        if u < 0.0:
            return fallback
    for i in range(ne):
        p = s.empties[i]
        if mark[p] != gen:
            x = wexp[ci, p]
            if x > 0.0:
                fallback = p
                u -= x
                if u < 0.0:
                    return p
    return fallback


@inner_kernel
def _policy_step(s, rng, weights, work):
    """Draw the move of the player to move (or a pass) and play it, keeping ``work.wexp`` up to date."""
    p = _sample(s, rng, weights, work)
    if p < 0:
        play_pass(s)
    else:
        color = s.meta[M_TO_MOVE]
        ncaps = before_move(s, p, color, work)
        place(s, p, color)
        update_after_move(s, p, color, ncaps, weights, work)


@kernel
def policy_playout(s, rng, max_moves, weights, work):
    """Play a rollout-policy playout on ``s`` in place (simple ko) and return ``(black_area - white_area, moves)``;
    it ends after two consecutive passes or ``max_moves`` moves."""
    refresh_all(s, weights, work)
    moves = 0
    while s.meta[M_PASSES] < 2 and moves < max_moves:
        _policy_step(s, rng, weights, work)
        moves += 1
    b, w = area(s)
    return b - w, moves


@kernel
def policy_playout_from(s, scratch, rng, max_moves, weights, work):
    """Copy ``s`` into ``scratch`` (same board size) and run a policy playout there; ``s`` is left untouched."""
    copy_position(scratch, s)
    scratch.meta[M_KO_RULE] = KO_SIMPLE
    return policy_playout(scratch, rng, max_moves, weights, work)


@kernel
def policy_rollout_slots(pool, lo, hi, status, rng, max_moves, scores, weights, work):
    """:func:`igo.engine.mcts_batch.rollout_slots` with policy playouts: play out the leaves ``lo .. hi-1`` of a pool
    in place and store Black's area margin in ``scores`` (terminal leaves are just counted). Runs without the GIL:
    threads take disjoint ranges, each with its own ``rng`` and ``work``."""
    for i in range(lo, hi):
        s = pool_slot(pool, i)
        if status[i] == LEAF_TERMINAL:
            b, w = area(s)
            scores[i] = b - w
        else:
            score, _ = policy_playout(s, rng, max_moves, weights, work)
            scores[i] = score
    return hi - lo


@kernel
def run_policy_playouts(s, scratch, rng, count, max_moves, weights, work):
    """Run ``count`` policy playouts from ``s``; return (black wins, total moves, sum of scores) — the benchmark."""
    wins = 0
    total_moves = 0
    total_score = 0
    for _ in range(count):
        score, moves = policy_playout_from(s, scratch, rng, max_moves, weights, work)
        if score > 0:
            wins += 1
        total_moves += moves
        total_score += score
    return wins, total_moves, total_score


@kernel
def check_incremental(s, rng, max_moves, weights, work, fresh):
    """Test helper: a policy playout on ``s`` that, after every move, recomputes all weights in ``fresh`` and counts
    the (empty point, colour) pairs where the incrementally kept ``work.wexp`` differs. Returns (mismatches, moves)."""
    refresh_all(s, weights, work)
    moves = 0
    bad = 0
    while s.meta[M_PASSES] < 2 and moves < max_moves:
        _policy_step(s, rng, weights, work)
        moves += 1
        refresh_all(s, weights, fresh)
        for i in range(s.meta[M_NEMPTY]):
            q = s.empties[i]
            for c in range(2):
                if work.wexp[c, q] != fresh.wexp[c, q]:
                    bad += 1
    return bad, moves
