"""Light random playouts (Numba).

A light playout plays uniformly random moves among the legal points that do not fill one of the mover's own
single-point eyes, until two consecutive passes (or a length cap), and returns the Tromp-Taylor area score.

Move choice is libego's: draw a random entry of the empty-point list; if that point is an own eye or illegal, swap it
to the end of the list's candidate range and draw again from the rest, so each move costs O(1) expected draws and a
pass is found after at most one scan. Playouts use simple ko for speed (superko needs the game's history); the real
game uses the configured rule. The random state is an explicit ``uint64[1]`` (:mod:`igo.engine.rng`), so a seed
reproduces a playout exactly.
"""

from __future__ import annotations

import numpy as np

from .board_kernels import (
    EDGE,
    EMPTY,
    KO_SIMPLE,
    M_KO_RULE,
    M_LAST,
    M_NEMPTY,
    M_PASSES,
    M_SIZE,
    M_TO_MOVE,
    OK,
    area,
    basic_legality,
    copy_position,
    place,
    play_pass,
    pop,
    push,
)
from .jit import inner_kernel, kernel
from .rng import randint


@kernel(inline="always")
def is_eye(s, p, color):
    """True if the empty point ``p`` is a single-point eye of ``color``: every orthogonal neighbour is ``color`` or
    the edge, and the opponent holds fewer than two diagonal points (none, on the edge) — otherwise it may be false."""
    w = s.meta[M_SIZE] + 2
    st = s.stones
    for q in (p - w, p - 1, p + 1, p + w):
        v = st[q]
        if v != color and v != EDGE:
            return False
    opp = 3 - color
    bad = 0
    edge = 0
    for q in (p - w - 1, p - w + 1, p + w - 1, p + w + 1):
        v = st[q]
        if v == opp:
            bad += 1
        elif v == EDGE:
            edge = 1
    return bad + edge < 2


@kernel
def random_move(s, rng):
    """A random legal move for the player to move that fills none of its own eyes, or -1 (pass) if none exists."""
    color = s.meta[M_TO_MOVE]
    n = s.meta[M_NEMPTY]
    empties = s.empties
    epos = s.epos
    while n > 0:
        i = randint(rng, n)
        p = np.int64(empties[i])
        if not is_eye(s, p, color) and basic_legality(s, p, color) == OK:
            return p
        n -= 1
        last = empties[n]
        empties[i] = last
        epos[last] = i
        empties[n] = p
        epos[p] = n
    return -1


@inner_kernel
def _liberty(s, head):
    """A liberty of the chain ``head`` (its only one when it is in atari), or -1."""
    w = s.meta[M_SIZE] + 2
    st = s.stones
    p = head
    while True:
        for q in (p - w, p - 1, p + 1, p + w):
            if st[q] == EMPTY:
                return q
        p = s.nxt[p]
        if p == head:
            return -1


@kernel
def tactical_move(s):
    """The urgent answer to the last move, as in MoGo's playouts, or -1: capture a chain next to it that is in atari
    (the last stone itself included), else extend a chain of the player to move that it put in atari when the
    extension has at least two empty neighbours."""
    last = s.meta[M_LAST]
    if last < 0:
        return -1
    w = s.meta[M_SIZE] + 2
    color = s.meta[M_TO_MOVE]
    opp = 3 - color
    st = s.stones
    for q in (last, last - w, last - 1, last + 1, last + w):
        if st[q] == opp and s.libs[s.chain[q]] == 1:
            lib = _liberty(s, s.chain[q])
            if lib >= 0 and basic_legality(s, lib, color) == OK:
                return lib
    for q in (last - w, last - 1, last + 1, last + w):
        if st[q] == color and s.libs[s.chain[q]] == 1:
            lib = _liberty(s, s.chain[q])
            if lib < 0:
                continue
            free = 0
            for r in (lib - w, lib - 1, lib + 1, lib + w):
                if st[r] == EMPTY:
                    free += 1
            if free >= 2 and basic_legality(s, lib, color) == OK:
                return lib
    return -1


@kernel
def playout(s, rng, max_moves):
    """Play a light random playout on ``s`` in place (simple ko) and return ``(black_area - white_area, moves)``.

    ``max_moves`` caps the length; the game normally ends earlier by two consecutive passes."""
    moves = 0
    while s.meta[M_PASSES] < 2 and moves < max_moves:
        p = tactical_move(s)
        if p < 0:
            p = random_move(s, rng)
        if p < 0:
            play_pass(s)
        else:
            place(s, p, s.meta[M_TO_MOVE])
        moves += 1
    b, w = area(s)
    return b - w, moves


@kernel
def playout_from(s, scratch, rng, max_moves):
    """Copy ``s`` into ``scratch`` (same board size) and run a playout there; ``s`` is left untouched."""
    copy_position(scratch, s)
    scratch.meta[M_KO_RULE] = KO_SIMPLE
    return playout(scratch, rng, max_moves)


@kernel
def run_playouts(s, scratch, rng, count, max_moves):
    """Run ``count`` playouts from ``s``; return (black wins, total moves, sum of scores) — the benchmark loop."""
    wins = 0
    total_moves = 0
    total_score = 0
    for _ in range(count):
        score, moves = playout_from(s, scratch, rng, max_moves)
        if score > 0:
            wins += 1
        total_moves += moves
        total_score += score
    return wins, total_moves, total_score


@kernel
def make_undo_loop(s, undo, rng, count):
    """Benchmark kernel: ``count`` times, save the state, make one random move and take it back."""
    made = 0
    for _ in range(count):
        p = random_move(s, rng)
        push(s, undo, np.int64(0))  # (not a literal 0: push and pop would compile once more)
        if p < 0:
            play_pass(s)
        else:
            place(s, p, s.meta[M_TO_MOVE])
        made += 1
        pop(s, undo, np.int64(0))
    return made
