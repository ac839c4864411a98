"""Tests of engine/symmetry.py: group laws, the documented table, and agreement between planes, moves and policies."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from igo.engine import symmetry as sym
from igo.engine.coords import PASS, RESIGN, rc_to_padded

SIZES = (2, 5, 9, 19)
KS = range(sym.NUM_SYMMETRIES)

symmetries = st.integers(0, sym.NUM_SYMMETRIES - 1)
sizes = st.integers(2, 25)


@st.composite
def size_and_point(draw):
    n = draw(sizes)
    return n, draw(st.integers(0, n - 1)), draw(st.integers(0, n - 1))


def expected_rc(row: int, col: int, n: int, k: int) -> tuple[int, int]:
    """The docstring's table, written out independently of the module's definition."""
    m = n - 1
    return [
        (row, col),
        (m - col, row),
        (m - row, m - col),
        (col, m - row),
        (row, m - col),
        (col, row),
        (m - row, col),
        (m - col, m - row),
    ][k]


NUMPY_EXPRESSIONS = [
    lambda x: x,
    lambda x: np.rot90(x, 1),
    lambda x: np.rot90(x, 2),
    lambda x: np.rot90(x, 3),
    np.fliplr,
    lambda x: x.T,
    np.flipud,
    lambda x: np.rot90(x, 2).T,
]


def one_hot_plane(n: int, row: int, col: int) -> np.ndarray:
    plane = np.zeros((n, n), dtype=np.float32)
    plane[row, col] = 1.0
    return plane


def asymmetric_plane(n: int) -> np.ndarray:
    return np.arange(n * n, dtype=np.int64).reshape(n, n)  # all values distinct: no symmetry fixes it


def random_policy(n: int, rng: np.random.Generator, batch: tuple[int, ...] = ()) -> np.ndarray:
    return rng.random((*batch, n * n + 1))


# --- the table and the group laws ----------------------------------------------------------------------------------


def test_constants():
    assert sym.NUM_SYMMETRIES == 8
    assert sym.IDENTITY == 0
    assert len(sym.NAMES) == 8


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("k", KS)
def test_apply_rc_matches_documented_table(n, k):
    for r, c in itertools.product(range(n), repeat=2):
        assert sym.apply_rc(r, c, n, k) == expected_rc(r, c, n, k)


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("k", KS)
def test_apply_planes_matches_documented_numpy_expression(n, k):
    x = asymmetric_plane(n)
    np.testing.assert_array_equal(sym.apply_planes(x, k), NUMPY_EXPRESSIONS[k](x))


def test_hand_checked_group_values():
    assert sym.compose(1, 1) == 2
    assert sym.compose(1, 3) == sym.compose(3, 1) == 0
    assert sym.compose(1, 4) == 5  # mirror first, then a quarter turn: the transpose
    assert sym.compose(4, 1) == 7  # a quarter turn first, then the mirror: the anti-transpose
    assert [sym.inverse(k) for k in KS] == [0, 3, 2, 1, 4, 5, 6, 7]


def test_identity_laws():
    for k in KS:
        assert sym.compose(sym.IDENTITY, k) == k
        assert sym.compose(k, sym.IDENTITY) == k
    assert sym.inverse(sym.IDENTITY) == sym.IDENTITY


def test_compose_closed_and_a_latin_square():
    table = np.array([[sym.compose(a, b) for b in KS] for a in KS])
    assert table.min() >= 0 and table.max() < 8
    for i in KS:  # every row and column of a group table is a permutation
        assert sorted(table[i]) == list(KS)
        assert sorted(table[:, i]) == list(KS)
    np.testing.assert_array_equal(table, sym.COMPOSE_TABLE)


def test_compose_is_associative():
    for a, b, c in itertools.product(KS, repeat=3):
        assert sym.compose(sym.compose(a, b), c) == sym.compose(a, sym.compose(b, c))


def test_compose_is_not_commutative():
    assert any(sym.compose(a, b) != sym.compose(b, a) for a, b in itertools.product(KS, repeat=2))


def test_inverse_laws():
    for k in KS:
        inv = sym.inverse(k)
        assert sym.compose(k, inv) == sym.IDENTITY
        assert sym.compose(inv, k) == sym.IDENTITY
        assert sym.inverse(inv) == k
        assert sym.INVERSE_TABLE[k] == inv


def test_tables_are_read_only():
    with pytest.raises(ValueError):
        sym.COMPOSE_TABLE[0, 0] = 3
    with pytest.raises(ValueError):
        sym.INVERSE_TABLE[1] = 1


# --- planes ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", SIZES)
def test_exactly_eight_distinct_transforms_of_an_asymmetric_plane(n):
    x = asymmetric_plane(n)
    images = {sym.apply_planes(x, k).tobytes() for k in KS}
    assert len(images) == 8


@pytest.mark.parametrize("n", SIZES)
def test_symmetric_plane_is_fixed(n):
    x = np.ones((n, n))
    x[n // 2, n // 2] = 5.0
    x[0, 0] = x[0, -1] = x[-1, 0] = x[-1, -1] = 7.0
    for k in KS:
        np.testing.assert_array_equal(sym.apply_planes(x, k), x)


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("k", KS)
def test_inverse_undoes_planes(n, k):
    x = np.random.default_rng(k * 100 + n).random((3, n, n))
    y = sym.apply_planes(x, k)
    np.testing.assert_array_equal(sym.apply_planes(y, sym.inverse(k)), x)


@pytest.mark.parametrize("n", SIZES)
def test_compose_agrees_with_applying_planes_twice(n):
    x = asymmetric_plane(n)
    for a, b in itertools.product(KS, repeat=2):
        twice = sym.apply_planes(sym.apply_planes(x, b), a)
        np.testing.assert_array_equal(twice, sym.apply_planes(x, sym.compose(a, b)))


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("k", KS)
def test_one_hot_plane_agrees_with_every_move_system(n, k):
    rng = np.random.default_rng(n * 8 + k)
    for r, c in itertools.product(range(n), repeat=2):
        out = sym.apply_planes(one_hot_plane(n, r, c), k)
        r2, c2 = (int(v) for v in np.argwhere(out == 1.0)[0])
        assert out.sum() == 1.0
        assert sym.apply_rc(r, c, n, k) == (r2, c2)
        assert sym.apply_flat(r * n + c, n, k) == r2 * n + c2
        assert sym.apply_padded(rc_to_padded(r, c, n), n, k) == rc_to_padded(r2, c2, n)
        policy = rng.random(n * n + 1)
        policy[r * n + c] = 2.0  # the argmax, at the one-hot point
        moved = sym.apply_policy(policy, n, k)
        assert int(np.argmax(moved)) == r2 * n + c2
        assert moved[n * n] == policy[n * n]


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("k", KS)
def test_batched_planes(n, k):
    x = np.random.default_rng(n + k).random((4, 3, n, n)).astype(np.float32)
    y = sym.apply_planes(x, k)
    assert y.shape == x.shape and y.dtype == x.dtype
    assert y.flags.c_contiguous
    for b, c in itertools.product(range(4), range(3)):
        np.testing.assert_array_equal(y[b, c], NUMPY_EXPRESSIONS[k](x[b, c]))


def test_apply_planes_returns_a_contiguous_copy():
    x = np.arange(2 * 5 * 5).reshape(2, 5, 5)
    for k in KS:
        y = sym.apply_planes(x, k)
        assert y.flags.c_contiguous and y.flags.writeable
        assert not np.shares_memory(x, y)
    x_view = np.arange(2 * 5 * 5).reshape(5, 5, 2).transpose(2, 0, 1)  # a non-contiguous input
    np.testing.assert_array_equal(sym.apply_planes(x_view, 5), x_view.swapaxes(-1, -2))
    assert sym.apply_planes([[1, 2], [3, 4]], 1).tolist() == [[2, 4], [1, 3]]  # lists are accepted


# --- moves -----------------------------------------------------------------------------------------------------------


@given(size_and_point(), symmetries)
def test_inverse_undoes_rc_flat_padded(point, k):
    n, r, c = point
    inv = sym.inverse(k)
    assert sym.apply_rc(*sym.apply_rc(r, c, n, k), n, inv) == (r, c)
    f = r * n + c
    assert sym.apply_flat(sym.apply_flat(f, n, k), n, inv) == f
    p = rc_to_padded(r, c, n)
    assert sym.apply_padded(sym.apply_padded(p, n, k), n, inv) == p


@given(size_and_point(), symmetries, symmetries)
def test_compose_agrees_with_applying_moves_twice(point, a, b):
    n, r, c = point
    ab = sym.compose(a, b)
    assert sym.apply_rc(*sym.apply_rc(r, c, n, b), n, a) == sym.apply_rc(r, c, n, ab)
    f = r * n + c
    assert sym.apply_flat(sym.apply_flat(f, n, b), n, a) == sym.apply_flat(f, n, ab)
    p = rc_to_padded(r, c, n)
    assert sym.apply_padded(sym.apply_padded(p, n, b), n, a) == sym.apply_padded(p, n, ab)


@given(size_and_point(), symmetries)
def test_move_systems_agree(point, k):
    n, r, c = point
    r2, c2 = sym.apply_rc(r, c, n, k)
    assert 0 <= r2 < n and 0 <= c2 < n
    assert sym.apply_flat(r * n + c, n, k) == r2 * n + c2
    assert sym.apply_padded(rc_to_padded(r, c, n), n, k) == rc_to_padded(r2, c2, n)
    assert (r2, c2) == expected_rc(r, c, n, k)


@given(sizes, symmetries)
def test_pass_and_resign_are_fixed(n, k):
    assert sym.apply_flat(n * n, n, k) == n * n
    assert sym.apply_flat(PASS, n, k) == PASS
    assert sym.apply_flat(RESIGN, n, k) == RESIGN
    assert sym.apply_padded(PASS, n, k) == PASS
    assert sym.apply_padded(RESIGN, n, k) == RESIGN
    assert sym.flat_permutation(n, k)[n * n] == n * n


def test_moves_accept_numpy_integers_and_return_ints():
    out = sym.apply_rc(np.int64(0), np.int32(1), np.int64(9), np.int8(1))
    assert out == (7, 0) and all(type(v) is int for v in out)
    assert type(sym.apply_flat(np.int64(3), 9, 2)) is int
    assert type(sym.apply_padded(np.int64(11), 9, 2)) is int


# --- policies and permutations ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("k", KS)
def test_policy_agrees_with_planes(n, k):
    rng = np.random.default_rng(1000 + 8 * n + k)
    policy = random_policy(n, rng, (2, 3))
    out = sym.apply_policy(policy, n, k)
    assert out.shape == policy.shape and out.flags.c_contiguous
    board_part = sym.apply_planes(policy[..., : n * n].reshape(2, 3, n, n), k).reshape(2, 3, n * n)
    np.testing.assert_array_equal(out[..., : n * n], board_part)
    np.testing.assert_array_equal(out[..., n * n], policy[..., n * n])


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("k", KS)
def test_policy_moves_each_point_to_apply_flat(n, k):
    policy = np.arange(n * n + 1, dtype=np.float64)  # distinct values identify their source point
    out = sym.apply_policy(policy, n, k)
    for f in range(n * n + 1):
        assert out[sym.apply_flat(f, n, k)] == policy[f]


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("k", KS)
def test_inverse_undoes_policy_and_compose_agrees(n, k):
    rng = np.random.default_rng(2000 + 8 * n + k)
    policy = random_policy(n, rng, (5,))
    np.testing.assert_array_equal(sym.apply_policy(sym.apply_policy(policy, n, k), n, sym.inverse(k)), policy)
    for a in KS:
        twice = sym.apply_policy(sym.apply_policy(policy, n, k), n, a)
        np.testing.assert_array_equal(twice, sym.apply_policy(policy, n, sym.compose(a, k)))


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("k", KS)
def test_flat_permutation(n, k):
    perm = sym.flat_permutation(n, k)
    assert perm.dtype == np.int64 and perm.shape == (n * n + 1,)
    assert sorted(perm.tolist()) == list(range(n * n + 1))
    for g in range(n * n + 1):
        assert perm[g] == sym.apply_flat(g, n, sym.inverse(k))  # the documented gather convention
    assert sym.flat_permutation(n, k) is perm  # cached
    with pytest.raises(ValueError):
        perm[0] = 1  # read-only, so the cache cannot be corrupted


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("k", KS)
def test_padded_permutation(n, k):
    w = n + 2
    perm = sym.padded_permutation(n, k)
    assert perm.dtype == np.int64 and perm.shape == (w * w,)
    assert sorted(perm.tolist()) == list(range(w * w))
    assert sym.padded_permutation(n, k) is perm
    assert not perm.flags.writeable
    border = np.ones((w, w), dtype=bool)
    border[1:-1, 1:-1] = False
    border = border.ravel()
    for q in range(w * w):
        assert border[perm[q]] == border[q]  # border cells map to border cells
        assert perm[q] == sym.apply_padded(q, n, sym.inverse(k))


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("k", KS)
def test_padded_permutation_transforms_a_padded_board_like_planes(n, k):
    rng = np.random.default_rng(3000 + 8 * n + k)
    interior = rng.integers(0, 3, size=(n, n))
    padded = np.full((n + 2, n + 2), 3)  # 3 marks the border (EDGE)
    padded[1:-1, 1:-1] = interior
    out = padded.ravel()[sym.padded_permutation(n, k)].reshape(n + 2, n + 2)
    np.testing.assert_array_equal(out[1:-1, 1:-1], sym.apply_planes(interior, k))
    assert (out[0] == 3).all() and (out[-1] == 3).all() and (out[:, 0] == 3).all() and (out[:, -1] == 3).all()
    np.testing.assert_array_equal(out, sym.apply_planes(padded, k))  # the border turns with the board


@given(sizes, symmetries, symmetries)
def test_permutations_compose(n, a, b):
    ab = sym.compose(a, b)
    fa, fb = sym.flat_permutation(n, a), sym.flat_permutation(n, b)
    np.testing.assert_array_equal(fb[fa], sym.flat_permutation(n, ab))  # gather b first, then a
    pa, pb = sym.padded_permutation(n, a), sym.padded_permutation(n, b)
    np.testing.assert_array_equal(pb[pa], sym.padded_permutation(n, ab))


# --- validation ------------------------------------------------------------------------------------------------------


BAD_KS = [8, -1, 100, 1.0, True, "1", None]


@pytest.mark.parametrize("k", BAD_KS)
def test_bad_symmetry_is_rejected(k):
    x = np.zeros((3, 3))
    calls = [
        lambda: sym.inverse(k),
        lambda: sym.compose(k, 0),
        lambda: sym.compose(0, k),
        lambda: sym.apply_planes(x, k),
        lambda: sym.apply_rc(0, 0, 3, k),
        lambda: sym.apply_flat(0, 3, k),
        lambda: sym.apply_padded(5, 3, k),
        lambda: sym.flat_permutation(3, k),
        lambda: sym.padded_permutation(3, k),
        lambda: sym.apply_policy(np.zeros(10), 3, k),
    ]
    for call in calls:
        with pytest.raises(ValueError, match="symmetry must be an integer in 0..7"):
            call()


def test_numpy_integer_symmetry_is_accepted():
    assert sym.inverse(np.int64(1)) == 3
    assert sym.compose(np.int32(1), np.uint8(4)) == 5


@pytest.mark.parametrize("size", [1, 0, 26, -3, 9.0, "9", None, True])
def test_bad_size_is_rejected(size):
    calls = [
        lambda: sym.apply_rc(0, 0, size, 0),
        lambda: sym.apply_flat(0, size, 0),
        lambda: sym.apply_padded(0, size, 0),
        lambda: sym.flat_permutation(size, 0),
        lambda: sym.padded_permutation(size, 0),
        lambda: sym.apply_policy(np.zeros(10), size, 0),
    ]
    for call in calls:
        with pytest.raises(ValueError, match="board size"):
            call()


def test_bad_points_are_rejected():
    with pytest.raises(ValueError, match="off the 9x9 board"):
        sym.apply_rc(9, 0, 9, 1)
    with pytest.raises(ValueError, match="off the 9x9 board"):
        sym.apply_rc(0, -1, 9, 1)
    with pytest.raises(ValueError, match="row must be an integer"):
        sym.apply_rc(1.5, 0, 9, 1)
    with pytest.raises(ValueError, match="flat index 82"):
        sym.apply_flat(82, 9, 1)
    with pytest.raises(ValueError, match="flat index -3"):
        sym.apply_flat(-3, 9, 1)
    with pytest.raises(ValueError, match="padded index 121"):
        sym.apply_padded(121, 9, 1)
    with pytest.raises(ValueError, match="padded index -5"):
        sym.apply_padded(-5, 9, 1)


@pytest.mark.parametrize("shape", [(), (5,), (3, 4), (2, 3, 5)])
def test_bad_plane_shapes_are_rejected(shape):
    with pytest.raises(ValueError, match=r"planes must have shape \(\.\.\., N, N\)"):
        sym.apply_planes(np.zeros(shape), 1)


@pytest.mark.parametrize("shape", [(), (81,), (82, 4), (9, 9)])
def test_bad_policy_shapes_are_rejected(shape):
    with pytest.raises(ValueError, match=r"must have shape \(\.\.\., 82\)"):
        sym.apply_policy(np.zeros(shape), 9, 1)
