"""The 8 dihedral symmetries of a square Go board, for feature planes and for moves.

A symmetry ``k`` (0..7) is an optional left-right mirror followed by ``k % 4`` quarter turns counter-clockwise, as the
board is printed (row 0 on top, the way numpy prints ``plane[row, col]``)::

    k = 4 * mirror + quarter_turns        mirror = k // 4 (flip the columns first), quarter_turns = k % 4

With ``n = N - 1`` the point ``(row, col)`` of an ``N x N`` board moves to:

===  ======  =============  ============  ==================================  ============================
k    mirror  quarter turns  name          ``(r, c)`` moves to                 numpy on ``plane[r, c]``
===  ======  =============  ============  ==================================  ============================
0    no      0              identity      ``(r, c)``                          ``x``
1    no      1              rot90 (ccw)   ``(n - c, r)``                      ``np.rot90(x, 1)``
2    no      2              rot180        ``(n - r, n - c)``                  ``np.rot90(x, 2)``
3    no      3              rot270 (ccw)  ``(c, n - r)``                      ``np.rot90(x, 3)``
4    yes     0              flip cols     ``(r, n - c)``                      ``np.fliplr(x)``
5    yes     1              transpose     ``(c, r)``                          ``x.T``
6    yes     2              flip rows     ``(n - r, c)``                      ``np.flipud(x)``
7    yes     3              anti-transp.  ``(n - c, n - r)``                  ``np.rot90(x, 2).T``
===  ======  =============  ============  ==================================  ============================

Only the definition (:func:`_rc_unchecked`: mirror, then turns) is written by hand; the table above is its consequence
and the tests check it point by point. The group tables are derived from the definition at import:

- ``compose(a, b)`` is the symmetry that equals applying ``b`` **first, then** ``a`` (like function composition
  ``a ∘ b``): ``apply_rc(*apply_rc(r, c, N, b), N, a) == apply_rc(r, c, N, compose(a, b))``. The group is not
  commutative, e.g. ``compose(1, 4) == 5`` but ``compose(4, 1) == 7``.
- ``inverse(k)`` undoes ``k``: ``compose(k, inverse(k)) == compose(inverse(k), k) == IDENTITY``. Mirrors (k >= 4) and
  rot180 are their own inverses; rot90 and rot270 are each other's.

Every ``apply_*`` function means the same thing: *what happens at the original ``(r, c)`` happens at
``apply_rc(r, c, N, k)`` in the transformed position*. So a plane with a single 1 at ``(r, c)`` becomes, under
:func:`apply_planes`, a plane whose 1 sits at ``apply_rc(r, c, N, k)``; :func:`apply_flat` and :func:`apply_padded` move
indices the same way (pass and resign stay put); :func:`apply_policy` moves the probability of flat point ``f`` to
``apply_flat(f, N, k)`` and keeps the pass entry last.

The permutation arrays are *gather* indices (``out = inp[perm]``), cached and read-only:

- ``flat_permutation(N, k)[g] == apply_flat(g, N, inverse(k))`` for ``g`` in ``0..N*N`` (``perm[N*N] == N*N``, pass), so
  ``policy_in[..., perm]`` is the policy of the transformed position. The forward map of moves (where does flat ``f``
  go?) is ``flat_permutation(N, inverse(k))``.
- ``padded_permutation(N, k)`` is the same for the padded layout of ``(N+2)**2`` cells: ``board_out = board_in[perm]``
  transforms a padded board array. The border is transformed as the ``(N+2) x (N+2)`` square it is, so border cells
  map to border cells (corners to corners) and EDGE stays EDGE. The forward map of padded moves is
  ``padded_permutation(N, inverse(k))``.
"""

from __future__ import annotations

import functools
import operator

import numpy as np

from .coords import PASS, RESIGN, check_size

__all__ = [
    "COMPOSE_TABLE",
    "IDENTITY",
    "INVERSE_TABLE",
    "NAMES",
    "NUM_SYMMETRIES",
    "apply_flat",
    "apply_padded",
    "apply_planes",
    "apply_policy",
    "apply_rc",
    "check_symmetry",
    "compose",
    "flat_permutation",
    "inverse",
    "padded_permutation",
]

NUM_SYMMETRIES = 8
IDENTITY = 0
NAMES = ("identity", "rot90", "rot180", "rot270", "flip-cols", "transpose", "flip-rows", "anti-transpose")


def check_symmetry(k: int) -> int:
    """Return ``k`` as an ``int`` if it names a symmetry (an integer in 0..7), else raise ValueError."""
    if isinstance(k, bool | np.bool_):
        raise ValueError(f"symmetry must be an integer in 0..{NUM_SYMMETRIES - 1}, got {k!r}")
    try:
        value = operator.index(k)
    except TypeError:
        raise ValueError(f"symmetry must be an integer in 0..{NUM_SYMMETRIES - 1}, got {k!r}") from None
    if not 0 <= value < NUM_SYMMETRIES:
        raise ValueError(f"symmetry must be an integer in 0..{NUM_SYMMETRIES - 1}, got {k!r}")
    return value


def _check_size(size: int) -> int:
    if isinstance(size, np.integer) and not isinstance(size, bool | np.bool_):
        size = int(size)
    return check_size(size)


def _check_index(value: int, what: str) -> int:
    if isinstance(value, bool | np.bool_):
        raise ValueError(f"{what} must be an integer, got {value!r}")
    try:
        return operator.index(value)
    except TypeError:
        raise ValueError(f"{what} must be an integer, got {value!r}") from None


# --- the definition ------------------------------------------------------------------------------------------------


def _rc_unchecked(row: int, col: int, size: int, k: int) -> tuple[int, int]:
    """The definition: mirror the columns if ``k >= 4``, then ``k % 4`` quarter turns counter-clockwise."""
    n = size - 1
    if k >= 4:
        col = n - col
    for _ in range(k % 4):
        row, col = n - col, row  # one quarter turn ccw: the top-right corner (0, n) goes to the top-left (0, 0)
    return row, col


# --- group tables, derived from the definition ---------------------------------------------------------------------


def _build_tables() -> tuple[np.ndarray, np.ndarray]:
    probe = 3  # on a 3x3 board the 8 symmetries are 8 different maps of the points
    points = [(r, c) for r in range(probe) for c in range(probe)]

    def image(k: int) -> tuple[tuple[int, int], ...]:
        return tuple(_rc_unchecked(r, c, probe, k) for r, c in points)

    index = {image(k): k for k in range(NUM_SYMMETRIES)}
    if len(index) != NUM_SYMMETRIES or index[tuple(points)] != IDENTITY:
        raise AssertionError("symmetry definitions are not 8 distinct maps with identity 0")
    compose_table = np.empty((NUM_SYMMETRIES, NUM_SYMMETRIES), dtype=np.int64)
    for a in range(NUM_SYMMETRIES):
        for b in range(NUM_SYMMETRIES):
            after = tuple(_rc_unchecked(*_rc_unchecked(r, c, probe, b), probe, a) for r, c in points)
            compose_table[a, b] = index[after]  # KeyError would mean the definitions are not closed
    inverse_table = np.array([int(np.flatnonzero(compose_table[k] == IDENTITY)[0]) for k in range(NUM_SYMMETRIES)])
    compose_table.flags.writeable = False
    inverse_table.flags.writeable = False
    return compose_table, inverse_table


COMPOSE_TABLE, INVERSE_TABLE = _build_tables()
"""``COMPOSE_TABLE[a, b] == compose(a, b)`` (b first, then a); ``INVERSE_TABLE[k] == inverse(k)``. Read-only int64."""


def inverse(k: int) -> int:
    """The symmetry that undoes ``k``."""
    return int(INVERSE_TABLE[check_symmetry(k)])


def compose(a: int, b: int) -> int:
    """The symmetry equal to applying ``b`` first, then ``a``."""
    return int(COMPOSE_TABLE[check_symmetry(a), check_symmetry(b)])


# --- moves ---------------------------------------------------------------------------------------------------------


def apply_rc(row: int, col: int, size: int, k: int) -> tuple[int, int]:
    """Where the point ``(row, col)`` of a ``size x size`` board goes under symmetry ``k``."""
    size = _check_size(size)
    k = check_symmetry(k)
    row = _check_index(row, "row")
    col = _check_index(col, "col")
    if not (0 <= row < size and 0 <= col < size):
        raise ValueError(f"point ({row}, {col}) is off the {size}x{size} board")
    return _rc_unchecked(row, col, size, k)


def apply_flat(f: int, size: int, k: int) -> int:
    """Where flat index ``f`` goes under ``k``. Pass (``N*N`` in policy vectors, or PASS) and RESIGN stay put."""
    size = _check_size(size)
    k = check_symmetry(k)
    f = _check_index(f, "flat index")
    if f in (PASS, RESIGN) or f == size * size:
        return f
    if not 0 <= f < size * size:
        raise ValueError(
            f"flat index {f} is not a point (0..{size * size - 1}), pass ({size * size} or {PASS}) "
            f"or resign ({RESIGN}) on a {size}x{size} board"
        )
    r, c = _rc_unchecked(*divmod(f, size), size, k)
    return r * size + c


def apply_padded(p: int, size: int, k: int) -> int:
    """Where padded index ``p`` goes under ``k``. PASS and RESIGN stay put; border cells go to border cells."""
    size = _check_size(size)
    k = check_symmetry(k)
    p = _check_index(p, "padded index")
    if p in (PASS, RESIGN):
        return p
    w = size + 2
    if not 0 <= p < w * w:
        raise ValueError(
            f"padded index {p} is not a cell (0..{w * w - 1}), pass ({PASS}) or resign ({RESIGN}) "
            f"on a {size}x{size} board"
        )
    r, c = _rc_unchecked(*divmod(p, w), w, k)  # the padded grid is itself a (N+2)x(N+2) square
    return r * w + c


# --- arrays --------------------------------------------------------------------------------------------------------


def apply_planes(planes: np.ndarray, k: int) -> np.ndarray:
    """Transform an array whose last two axes are ``(row, col)`` of a square board: shape ``(..., N, N)``.

    The value at ``[..., r, c]`` moves to ``[..., *apply_rc(r, c, N, k)]``. Returns a new C-contiguous array (a copy
    even for the identity, so the result never aliases the input).
    """
    k = check_symmetry(k)
    planes = np.asarray(planes)
    if planes.ndim < 2 or planes.shape[-1] != planes.shape[-2]:
        raise ValueError(f"planes must have shape (..., N, N), got {planes.shape}")
    out = planes
    if k >= 4:
        out = out[..., :, ::-1]
    out = np.rot90(out, k % 4, axes=(-2, -1))
    return np.array(out, order="C", copy=True)


def flat_permutation(size: int, k: int) -> np.ndarray:
    """Gather indices of length ``N*N + 1`` (int64, read-only): ``policy_in[..., perm]`` is the transformed policy.

    ``perm[g] == apply_flat(g, N, inverse(k))``, so the entry of flat point ``f`` lands at ``apply_flat(f, N, k)``;
    ``perm[N*N] == N*N`` keeps pass last. Cached: the same array comes back for the same arguments.
    """
    return _flat_permutation(_check_size(size), check_symmetry(k))


def padded_permutation(size: int, k: int) -> np.ndarray:
    """Gather indices of length ``(N+2)**2`` (int64, read-only): ``board_in[perm]`` is the transformed padded board.

    ``perm[q] == apply_padded(q, N, inverse(k))``; border cells map to border cells. For the Numba kernels. Cached.
    """
    return _padded_permutation(_check_size(size), check_symmetry(k))


@functools.lru_cache(maxsize=256)  # 24 sizes x 8 symmetries fit
def _flat_permutation(size: int, k: int) -> np.ndarray:
    inv = int(INVERSE_TABLE[k])
    perm = np.empty(size * size + 1, dtype=np.int64)
    for g in range(size * size):
        r, c = _rc_unchecked(*divmod(g, size), size, inv)
        perm[g] = r * size + c
    perm[size * size] = size * size
    perm.flags.writeable = False
    return perm


@functools.lru_cache(maxsize=256)  # 24 sizes x 8 symmetries fit
def _padded_permutation(size: int, k: int) -> np.ndarray:
    inv = int(INVERSE_TABLE[k])
    w = size + 2
    perm = np.empty(w * w, dtype=np.int64)
    for q in range(w * w):
        r, c = _rc_unchecked(*divmod(q, w), w, inv)
        perm[q] = r * w + c
    perm.flags.writeable = False
    return perm


def apply_policy(policy: np.ndarray, size: int, k: int) -> np.ndarray:
    """Transform policy vectors of shape ``(..., N*N + 1)`` the way :func:`apply_planes` transforms the board.

    The value at flat ``f`` moves to ``apply_flat(f, N, k)``; the pass entry stays last. Returns a new C-contiguous
    array.
    """
    size = _check_size(size)
    k = check_symmetry(k)
    policy = np.asarray(policy)
    if policy.ndim < 1 or policy.shape[-1] != size * size + 1:
        raise ValueError(
            f"policy for a {size}x{size} board must have shape (..., {size * size + 1}), got {policy.shape}"
        )
    return np.ascontiguousarray(policy[..., flat_permutation(size, k)])
