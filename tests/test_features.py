"""Tests of engine/features.py: the plane sets, ASCII fixtures of every AlphaGo feature (ladders and their breakers
included), agreement with a plain-Python reference on random positions, symmetry equivariance, and encoding of search
pools.

The reference (``ref_alphago``) is written from the definitions in the module docstring with flood fills and
:class:`Board` make/undo only, sharing no code with the kernels."""

from __future__ import annotations

import numpy as np
import pytest

from igo.engine import board_kernels as K
from igo.engine import symmetry as sym
from igo.engine.board import BLACK, EMPTY, WHITE, Board
from igo.engine.coords import gtp_to_rc, rc_to_padded
from igo.engine.features import (
    ALPHAGO_PLANE_NAMES,
    LADDER_BUDGET,
    PLANE_NAMES,
    FeatureEncoder,
    FeatureSet,
    feature_set,
    ladder_captured,
    new_ladder_work,
    plane_names,
)
from igo.engine.pool import copy_to_slot, new_pool, take_slots
from igo.engine.search import MCTS, LeafBatch, SearchConfig

NAMES = list(ALPHAGO_PLANE_NAMES)


def idx(name: str) -> int:
    return NAMES.index(name)


def rc(vertex: str, n: int) -> tuple[int, int]:
    return gtp_to_rc(vertex, n)


def points(plane: np.ndarray) -> set[tuple[int, int]]:
    return {(int(r), int(c)) for r, c in zip(*np.nonzero(plane), strict=True)}


def ascii_board(text: str, to_move=BLACK) -> Board:
    return Board.from_ascii(text, to_move=to_move, ko_rule="simple")


_ENCODERS: dict[tuple[str, int], FeatureEncoder] = {}


def encoder(name: str, n: int) -> FeatureEncoder:
    key = (name, n)
    if key not in _ENCODERS:
        _ENCODERS[key] = FeatureEncoder(name, n)
    return _ENCODERS[key]


def ag(board: Board, name: str = "alphago48") -> np.ndarray:
    return encoder(name, board.size).encode_board(board)


def random_game(n: int, moves: int, seed: int) -> tuple[Board, list]:
    """A board after ``moves`` random legal moves that fill no own eye (passes when none), and the moves played."""
    rng = np.random.default_rng(seed)
    b = Board(n, ko_rule="simple")
    played = []
    for _ in range(moves):
        legal = [m for m in b.legal_moves() if not ref_is_eye(b.stones(), *rc(m, n), b.to_move)]
        if not legal:
            b.pass_move()
            played.append(None)
            continue
        m = legal[rng.integers(len(legal))]
        b.play(m)
        played.append(rc(m, n))
    return b, played


# --- reference -------------------------------------------------------------------------------------------------------


def neighbours(r: int, c: int, n: int):
    for dr, dc in ((-1, 0), (0, -1), (0, 1), (1, 0)):
        rr, cc = r + dr, c + dc
        if 0 <= rr < n and 0 <= cc < n:
            yield rr, cc


def flood(stones: np.ndarray, r: int, c: int) -> tuple[set, set]:
    """(stones, liberties) of the chain through (r, c)."""
    n = stones.shape[0]
    colour = stones[r, c]
    chain, libs, todo = {(r, c)}, set(), [(r, c)]
    while todo:
        p = todo.pop()
        for q in neighbours(*p, n):
            if stones[q] == EMPTY:
                libs.add(q)
            elif stones[q] == colour and q not in chain:
                chain.add(q)
                todo.append(q)
    return chain, libs


def ref_is_eye(stones: np.ndarray, r: int, c: int, colour: int) -> bool:
    n = stones.shape[0]
    if any(stones[q] != colour for q in neighbours(r, c, n)):
        return False
    bad = edge = 0
    for dr, dc in ((-1, -1), (-1, 1), (1, -1), (1, 1)):
        rr, cc = r + dr, c + dc
        if not (0 <= rr < n and 0 <= cc < n):
            edge = 1
        elif stones[rr, cc] == 3 - colour:
            bad += 1
    return bad + edge < 2


def after(board: Board, move, colour: int) -> Board:
    b = board.copy()
    b.play(move, colour)
    return b


def ref_captured(board: Board, target, attacker_turn: bool, defender: int) -> bool:
    """The ladder definition of the module docstring, read out by plain recursion."""
    attacker = 3 - defender
    stones = board.stones()
    if stones[target] != defender:
        return True
    chain, libs = flood(stones, *target)
    libs = sorted(libs)
    if attacker_turn:
        if len(libs) >= 3:
            return False
        if len(libs) == 1:
            return board.is_legal(libs[0], attacker)
        return any(
            board.is_legal(a, attacker) and ref_captured(after(board, a, attacker), target, False, defender)
            for a in libs
        )
    if len(libs) >= 2:
        return False
    moves = {libs[0]}
    for p in chain:
        for q in neighbours(*p, board.size):
            if stones[q] == attacker:
                _, alibs = flood(stones, *q)
                if len(alibs) == 1:
                    moves |= alibs
    return all(
        not board.is_legal(m, defender) or ref_captured(after(board, m, defender), target, True, defender)
        for m in moves
    )


def one_hot(planes: np.ndarray, first_plane: int, value: int, first: int, r: int, c: int) -> None:
    if value >= first:
        planes[first_plane + min(value - first, 7), r, c] = 1


def ref_alphago(board: Board, colour_plane: bool = False) -> np.ndarray:
    n = board.size
    me, opp = board.to_move, 3 - board.to_move
    st = board.stones()
    hist = board.history(8)
    out = np.zeros((49 if colour_plane else 48, n, n), np.float32)
    out[idx("own stones")] = st == me
    out[idx("opponent stones")] = st == opp
    out[idx("empty")] = st == EMPTY
    out[idx("ones")] = 1
    if colour_plane:
        out[48] = me == BLACK
    for r in range(n):
        for c in range(n):
            v = st[r, c]
            if v != EMPTY:
                age = next((k for k in range(1, 8) if hist[k, r, c] != v), 8)
                one_hot(out, idx("turns since 1"), age, 1, r, c)
                one_hot(out, idx("liberties 1"), len(flood(st, r, c)[1]), 1, r, c)
                continue
            if not board.is_legal((r, c), me):
                continue
            out[idx("sensibleness"), r, c] = not ref_is_eye(st, r, c, me)
            b2 = after(board, (r, c), me)
            st2 = b2.stones()
            one_hot(out, idx("capture size 0"), int(np.sum((st == opp) & (st2 == EMPTY))), 0, r, c)
            chain, libs = flood(st2, r, c)
            one_hot(out, idx("liberties after move 1"), len(libs), 1, r, c)
            if len(libs) == 1:
                one_hot(out, idx("self-atari size 1"), len(chain), 1, r, c)
            for q in neighbours(r, c, n):
                if st2[q] == opp and len(flood(st2, *q)[1]) == 1 and ref_captured(b2, q, False, opp):
                    out[idx("ladder capture"), r, c] = 1
    # ladder escapes: chains of the player to move in atari
    for r in range(n):
        for c in range(n):
            if st[r, c] != me:
                continue
            chain, libs = flood(st, r, c)
            if len(libs) != 1 or min(chain) != (r, c):
                continue
            moves = set(libs)
            for p in chain:
                for q in neighbours(*p, n):
                    if st[q] == opp:
                        _, olibs = flood(st, *q)
                        if len(olibs) == 1:
                            moves |= olibs
            for m in moves:
                if board.is_legal(m, me) and not ref_captured(after(board, m, me), (r, c), True, me):
                    out[idx("ladder escape"), m[0], m[1]] = 1
    return out


def assert_planes_equal(got: np.ndarray, want: np.ndarray, board: Board) -> None:
    for k in range(want.shape[0]):
        if not np.array_equal(got[k], want[k]):
            raise AssertionError(
                f"plane {k} ({NAMES[k]}) differs\n{board}\ngot\n{got[k].astype(int)}\nwant\n{want[k].astype(int)}"
            )


# --- feature sets ----------------------------------------------------------------------------------------------------


def test_feature_sets():
    assert feature_set() == FeatureSet("zero8", 17, 8)
    assert feature_set("zero1") == FeatureSet("zero1", 3, 1)
    assert feature_set("zero16") == FeatureSet("zero16", 33, 16)
    assert feature_set("alphago48") == FeatureSet("alphago48", 48, 8)
    assert feature_set("alphago49") == FeatureSet("alphago49", 49, 8)
    assert feature_set(feature_set("zero4")).planes == 9
    for bad in ("zero0", "zero17", "zero08", "alphago", "Zero8", "", "alphago50"):
        with pytest.raises(ValueError, match="alphago48"):
            feature_set(bad)
    for name in ("zero3", "zero8", "alphago48", "alphago49"):
        names = plane_names(name)
        assert len(names) == feature_set(name).planes and len(set(names)) == len(names)
    assert PLANE_NAMES["alphago49"][-1] == "player colour"
    assert PLANE_NAMES["alphago48"][44:48] == ("ladder capture", "ladder escape", "sensibleness", "zeros")
    assert PLANE_NAMES["zero8"][:3] == ("own stones t", "opponent stones t", "own stones t-1")


# --- zero planes -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [9, 19])
def test_zero_planes_shape_and_colour(n):
    enc = encoder("zero8", n)
    b = Board(n)
    f = enc.encode_board(b)
    assert f.shape == (17, n, n) and f.dtype == np.float32
    assert not f[:16].any() and (f[16] == 1).all()
    b.play("C3")
    f = enc.encode_board(b)
    assert (f[16] == 0).all()  # White to move
    assert points(f[1]) == {rc("C3", n)} and not f[0].any()


def test_zero_planes_history_and_swap():
    n = 9
    b = Board(n)
    for m in ("C3", "D4", "E5"):
        b.play(m)
    f = encoder("zero8", n).encode_board(b)  # White to move: own = white
    c3, d4, e5 = rc("C3", n), rc("D4", n), rc("E5", n)
    assert points(f[0]) == {d4} and points(f[1]) == {c3, e5}  # now
    assert points(f[2]) == {d4} and points(f[3]) == {c3}  # before E5
    assert points(f[4]) == set() and points(f[5]) == {c3}  # before D4
    for k in range(6, 16):  # the empty board, and before the start repeats it
        assert not f[k].any()
    assert not f[16].any()
    b.to_move = BLACK  # same stones, the other player to move: own and opponent swap
    g = encoder("zero8", n).encode_board(b)
    np.testing.assert_array_equal(g[0:16:2], f[1:16:2])
    np.testing.assert_array_equal(g[1:16:2], f[0:16:2])
    assert (g[16] == 1).all()
    # zero2 is the first planes of zero8 plus the colour
    h = FeatureEncoder("zero2", n).encode_board(b)
    np.testing.assert_array_equal(h[:4], g[:4])
    np.testing.assert_array_equal(h[4], g[16])


# --- alphago fixtures ----------------------------------------------------------------------------------------------


def test_stone_colour_ones_zeros_and_player_colour():
    text = """
        . . . . .
        . X O . .
        . . X . .
        . . . O .
        . . . . .
        """
    for to_move in (BLACK, WHITE):
        b = ascii_board(text, to_move)
        f = ag(b, "alphago49")
        assert f.shape == (49, 5, 5)
        st = b.stones()
        np.testing.assert_array_equal(f[idx("own stones")], st == to_move)
        np.testing.assert_array_equal(f[idx("opponent stones")], st == 3 - to_move)
        np.testing.assert_array_equal(f[idx("empty")], st == EMPTY)
        assert (f[idx("ones")] == 1).all() and not f[idx("zeros")].any()
        assert (f[48] == (1 if to_move == BLACK else 0)).all()
        np.testing.assert_array_equal(ag(b), f[:48])


def test_turns_since():
    n = 9
    b = Board(n, ko_rule="simple")
    moves = ["A1", "J9", "A3", "J7", "A5", "J5", "A7", "J3", "A9", "J1"]  # 10 moves, no captures
    for m in moves:
        b.play(m)
    f = ag(b)
    # the k-th last move was played k turns ago; 8 or more turns ago (or before the start) is ">=8"
    for i, m in enumerate(reversed(moves)):
        k = i + 1
        want = f"turns since {k}" if k <= 7 else "turns since >=8"
        plane = f[idx("turns since 1") : idx("turns since 1") + 8, *rc(m, n)]
        assert plane.sum() == 1 and plane[NAMES.index(want) - idx("turns since 1")] == 1, (m, k)
    assert not f[idx("turns since 1") : idx("turns since 1") + 8][:, f[idx("empty")] == 1].any()
    # setup stones have always been there
    b = ascii_board(". . .\n. X .\n. . O")
    f = ag(b)
    assert f[idx("turns since >=8"), 1, 1] == 1 and f[idx("turns since >=8"), 2, 2] == 1
    assert f[idx("turns since 1") : idx("turns since 1") + 7].sum() == 0


def test_liberties_one_hot_and_big_chain():
    b = ascii_board(
        """
        . . . . . . . . .
        . X X X X X X . .
        . . . . . . X . .
        . . . . . . . . .
        . . . . . . . . .
        . . . . . . . . .
        . . . . . . . O X
        . . . . . . . X .
        . . . . . . . . .
        """
    )
    f = ag(b)
    libs = f[idx("liberties 1") : idx("liberties 1") + 8]
    assert (libs.sum(axis=0) == (b.stones() != EMPTY)).all()  # one-hot on stones, zero elsewhere
    assert points(f[idx("liberties >=8")]) == {(1, c) for c in range(1, 7)} | {(2, 6)}  # 15 liberties
    assert points(f[idx("liberties 2")]) == {(6, 7), (6, 8)}
    assert points(f[idx("liberties 3")]) == {(7, 7)}


def test_capture_size_three():
    b = ascii_board(
        """
        . . . . . . .
        . . X X X . .
        . X O O O . .
        . . X X X . .
        . . . . . . .
        . . . . . . .
        . . . . . . .
        """
    )
    f = ag(b)
    assert points(f[idx("capture size 3")]) == {(2, 5)}
    caps = f[idx("capture size 0") : idx("capture size 0") + 8]
    legal = b.legal_mask()[:-1].reshape(7, 7)
    np.testing.assert_array_equal(caps.sum(axis=0), legal)
    assert points(f[idx("capture size 0")]) == points(legal) - {(2, 5)}
    # after the capture the new stone has (1,5) (3,5) (2,6) and the captured point (2,4) next to it
    assert f[idx("liberties after move 4"), 2, 5] == 1


def test_self_atari_size():
    b = ascii_board(
        """
        . X O . .
        . O . . .
        . . . . .
        . . . . .
        . . . . .
        """
    )
    f = ag(b)
    assert points(f[idx("self-atari size 2")]) == {(0, 0)}
    assert f[idx("liberties after move 1"), 0, 0] == 1
    sa = f[idx("self-atari size 1") : idx("self-atari size 1") + 8]
    assert points(sa.sum(axis=0)) == {(0, 0)}
    # White to move: the capture at (0,0) is of size 1, and no move is a self-atari
    w = ag(ascii_board(str(b).rsplit("\n", 1)[0], WHITE))
    assert w[idx("capture size 1"), 0, 0] == 1 and not w[idx("self-atari size 1") : idx("self-atari size 1") + 8].any()


def test_liberties_after_move():
    b = ascii_board(
        """
        . . . . .
        . . . . .
        . . . . .
        . . . X .
        . . . . .
        """
    )
    f = ag(b)
    la = f[idx("liberties after move 1") : idx("liberties after move 1") + 8]
    assert la[4 - 1, 1, 1] == 1  # open point: 4
    assert la[2 - 1, 0, 0] == 1  # corner: 2
    assert la[3 - 1, 0, 2] == 1  # edge: 3
    assert la[6 - 1, 2, 3] == 1  # joins X: (1,3) (2,2) (2,4) (3,2) (3,4) (4,3)
    np.testing.assert_array_equal(la.sum(axis=0), b.stones() == EMPTY)


LADDER = """
    . . . . . . . . .
    . . . . . . . . .
    . . . . . . . . .
    . . . X O . . . .
    . . . X O X . . .
    . . . . X . . . .
    . . . . . . . . .
    . . . . . . . . .
    . . . . . . . . .
    """


def with_stone(text: str, row: int, col: int, ch: str) -> str:
    rows = [r.split() for r in text.strip().splitlines()]
    rows[row][col] = ch
    return "\n".join(" ".join(r) for r in rows)


def test_working_ladder():
    # the white pair has two liberties, (2,4) and (3,5); Black's atari at (2,4) drives it up the ladder to the top
    # right (the atari at (3,5) lets it out at (2,4) with three liberties)
    b = ascii_board(LADDER, BLACK)
    assert ref_captured(after(b, (2, 4), BLACK), (3, 4), False, WHITE)
    f = ag(b)
    assert points(f[idx("ladder capture")]) == {(2, 4)}
    # White in atari after the atari: extending at (3,5) is no escape
    w = after(b, (2, 4), BLACK)
    g = ag(w)
    assert not g[idx("ladder escape")].any()
    assert g[idx("sensibleness"), 3, 5] == 1 and g[idx("liberties after move 2"), 3, 5] == 1
    np.testing.assert_array_equal(g, ref_alphago(w))


def test_ladder_breaker():
    b = ascii_board(with_stone(LADDER, 1, 7, "O"), BLACK)  # a white stone on the ladder's path
    assert not ref_captured(after(b, (2, 4), BLACK), (3, 4), False, WHITE)
    f = ag(b)
    assert f[idx("ladder capture"), 2, 4] == 0 and not f[idx("ladder capture")].any()
    w = after(b, (2, 4), BLACK)
    g = ag(w)
    assert points(g[idx("ladder escape")]) == {(3, 5)}
    np.testing.assert_array_equal(f, ref_alphago(b))
    np.testing.assert_array_equal(g, ref_alphago(w))


def long_ladder(breaker: tuple[int, int] | None = None) -> Board:
    """The ladder of LADDER in the lower left of 19x19: it runs up and right across the whole board."""
    st = np.zeros((19, 19), np.int8)
    for r, c in [(15, 2), (16, 2), (16, 4), (17, 3)]:
        st[r, c] = BLACK
    for r, c in [(15, 3), (16, 3)]:
        st[r, c] = WHITE
    if breaker:
        st[breaker] = WHITE
    return board_from(st, BLACK)


def test_long_ladder_on_19x19():
    b = long_ladder()
    assert ref_captured(after(b, (14, 3), BLACK), (15, 3), False, WHITE)
    assert points(ag(b)[idx("ladder capture")]) == {(14, 3)}
    assert not ag(after(b, (14, 3), BLACK))[idx("ladder escape")].any()
    b = long_ladder(breaker=(8, 10))  # far away, on the ladder's diagonal
    assert not ref_captured(after(b, (14, 3), BLACK), (15, 3), False, WHITE)
    assert not ag(b)[idx("ladder capture")].any()
    assert points(ag(after(b, (14, 3), BLACK))[idx("ladder escape")]) == {(15, 4)}


def test_ladder_search_budget_and_undo():
    n = 19
    b = after(long_ladder(), (14, 3), BLACK)  # White to move, in atari
    s = K.copy_state(b.state, history=False)
    before = s.stones.copy(), s.meta.copy()
    work = new_ladder_work(n)
    target = rc_to_padded(15, 3, n)
    assert ladder_captured(s, target, False, work, 1, LADDER_BUDGET)
    np.testing.assert_array_equal(s.stones, before[0])
    np.testing.assert_array_equal(s.meta, before[1])
    assert not ladder_captured(s, target, False, work, 1, 10)  # over budget: not captured
    np.testing.assert_array_equal(s.stones, before[0])
    short = new_ladder_work(n, max_depth=8)  # too shallow to read the ladder out
    assert not ladder_captured(s, target, False, short, 1, LADDER_BUDGET)
    np.testing.assert_array_equal(s.stones, before[0])


ESCAPE_BY_CAPTURE = """
    . . . . . . . . .
    . . . O . . . . .
    . . O X . . . . .
    . . X O . . X . .
    . . . X X . . . .
    . . . . . . . . .
    . . . . . . . . .
    . . . . . . . . .
    . . . . . . . . .
    """


def test_ladder_escape_by_capture():
    # White (3,3) is in atari; extending at (3,4) runs into a working ladder (the black stone (3,6) stops the way
    # right), but the black stone (2,3) is in atari too: capturing it at (2,4) escapes
    b = ascii_board(ESCAPE_BY_CAPTURE, WHITE)
    f = ag(b)
    assert points(f[idx("ladder escape")]) == {(2, 4)}
    assert f[idx("capture size 1"), 2, 4] == 1
    assert f[idx("sensibleness"), 3, 4] == 1 and f[idx("liberties after move 2"), 3, 4] == 1
    np.testing.assert_array_equal(f, ref_alphago(b))
    # without the stone at (3,6) the extension escapes too
    b = ascii_board(with_stone(ESCAPE_BY_CAPTURE, 3, 6, "."), WHITE)
    assert points(ag(b)[idx("ladder escape")]) == {(2, 4), (3, 4)}


def test_sensibleness():
    b = ascii_board(
        """
        . X . X O
        X X X X O
        . . . . O
        . . O O .
        . O . O .
        """
    )
    f = ag(b)
    s = f[idx("sensibleness")]
    assert s[0, 0] == 0  # own eye in the corner
    assert s[0, 2] == 0  # own eye on the edge
    assert s[4, 2] == 0  # suicide
    assert s[1, 1] == 0 and s[0, 4] == 0  # occupied
    assert s[2, 0] == 1 and s[4, 4] == 1 and s[4, 0] == 1
    assert f[idx("capture size 0"), 4, 2] == 0  # illegal: no move features
    assert f[idx("capture size 0"), 0, 0] == 1  # filling an own eye is legal: move features are there
    np.testing.assert_array_equal(s, ref_alphago(b)[idx("sensibleness")])
    w = ag(ascii_board(str(b).rsplit("\n", 1)[0], WHITE))[idx("sensibleness")]
    assert w[0, 0] == 0 and w[0, 2] == 0  # suicide for White
    assert w[4, 2] == 0  # White's own eye


# --- random positions: reference and symmetry -----------------------------------------------------------------------


GAMES = [(9, 30, 1), (9, 45, 2), (9, 60, 3), (7, 40, 4)]


@pytest.mark.parametrize(("n", "moves", "seed"), GAMES)
def test_matches_the_reference_on_random_positions(n, moves, seed):
    b, _ = random_game(n, moves, seed)
    for colour in (b.to_move, 3 - b.to_move):
        b.to_move = colour
        assert_planes_equal(ag(b, "alphago49"), ref_alphago(b, colour_plane=True), b)


def replay(n: int, played: list, k: int) -> Board:
    b = Board(n, ko_rule="simple")
    for m in played:
        if m is None:
            b.pass_move()
        else:
            b.play(sym.apply_rc(*m, n, k))
    return b


@pytest.mark.parametrize(("n", "moves", "seed"), [(9, 30, 11), (9, 50, 12)])
def test_symmetry_equivariance(n, moves, seed):
    _, played = random_game(n, moves, seed)
    base = replay(n, played, 0)
    f = ag(base, "alphago49")
    z = encoder("zero8", n).encode_board(base)
    for k in range(sym.NUM_SYMMETRIES):
        bk = replay(n, played, k)
        assert_planes_equal(ag(bk, "alphago49"), sym.apply_planes(f, k), bk)
        np.testing.assert_array_equal(encoder("zero8", n).encode_board(bk), sym.apply_planes(z, k))


def test_symmetry_of_ladders():
    b = ascii_board(LADDER, BLACK)
    f = ag(b)
    assert f[idx("ladder capture")].any()
    for breaker in (None, (1, 7)):
        st = b.stones()
        if breaker:
            st[breaker] = WHITE
        f = ag(board_from(st, BLACK))
        for k in range(1, sym.NUM_SYMMETRIES):
            g = ag(board_from(sym.apply_planes(st, k), BLACK))
            np.testing.assert_array_equal(g, sym.apply_planes(f, k))


def board_from(stones: np.ndarray, to_move: int) -> Board:
    b = Board(stones.shape[0], ko_rule="simple")
    black = [(int(r), int(c)) for r, c in zip(*np.nonzero(stones == BLACK), strict=True)]
    white = [(int(r), int(c)) for r, c in zip(*np.nonzero(stones == WHITE), strict=True)]
    b.setup(black=black, white=white)
    b.to_move = to_move
    return b


# --- batches ---------------------------------------------------------------------------------------------------------


def batch_of(boards: list[Board], hlen: int) -> LeafBatch:
    n = boards[0].size
    pool = new_pool(n, len(boards) + 2)  # a pool larger than the batch, as the search's
    for i, b in enumerate(boards):
        copy_to_slot(pool, i, b.state)
    hist = np.stack([b.history(hlen) for b in boards])
    to_move = np.array([b.to_move for b in boards], np.int8)
    return LeafBatch(n, len(boards), pool, hist, to_move, np.ones((len(boards), n * n + 1), np.bool_))


@pytest.mark.parametrize("name", ["alphago49", "zero8"])
def test_encode_batch_matches_encode_board(name):
    boards = [random_game(9, m, 20 + m)[0] for m in (0, 10, 25, 40)]
    enc = encoder(name, 9)
    batch = batch_of(boards, 10)  # more history than needed: the first positions are used
    f = enc.encode(batch)
    assert f.shape == (4, enc.planes, 9, 9) and f.dtype == np.float32
    for i, b in enumerate(boards):
        np.testing.assert_array_equal(f[i], enc.encode_board(b))
    out = np.full((6, enc.planes, 9, 9), 7, np.float32)
    res = enc.encode(batch, out=out)
    assert np.shares_memory(res, out)
    np.testing.assert_array_equal(out[:4], f)
    assert (out[4:] == 7).all()
    with pytest.raises(ValueError, match="history"):
        enc.encode(batch_of(boards, 7 if name != "zero8" else 3))
    with pytest.raises(ValueError):
        enc.encode(batch, out=np.zeros((4, enc.planes, 9, 9), np.float64))
    with pytest.raises(ValueError):
        encoder(name, 19).encode(batch)


class FeatureEvaluator:
    """An evaluator that encodes every batch the search hands it (uniform priors, value 0)."""

    batch_size = 4

    def __init__(self, name: str, n: int):
        self.enc = FeatureEncoder(name, n)
        self.history_length = self.enc.history_length
        self.seen = []

    def evaluate(self, batch):
        f = self.enc.encode(batch)
        self.seen.append((f.copy(), batch.history[: batch.count].copy(), batch.to_move[: batch.count].copy()))
        for i in range(batch.count):  # each row is the row's own position: encode it alone
            rows = slice(i, i + 1)
            one = LeafBatch(batch.size, 1, take_slots(batch.states, [i]), batch.history[rows], batch.to_move[rows],
                            batch.legal[rows])  # fmt: skip
            np.testing.assert_array_equal(self.enc.encode(one)[0], f[i])
        return batch.legal.astype(np.float32), np.zeros(batch.count, np.float32)


@pytest.mark.parametrize("name", ["alphago48", "zero8"])
def test_encode_in_a_real_search(name):
    n = 9
    board, _ = random_game(n, 20, 7)
    ev = FeatureEvaluator(name, n)
    m = MCTS(n, config=SearchConfig.zero(dirichlet_weight=0.0), evaluator=ev, seed=1)
    m.search(board, 24)
    assert ev.seen
    for f, hist, to_move in ev.seen:
        for i in range(len(to_move)):
            own, opp = to_move[i], 3 - to_move[i]
            np.testing.assert_array_equal(f[i, 0], hist[i, 0] == own)
            np.testing.assert_array_equal(f[i, 1], hist[i, 0] == opp)
            if name == "zero8":
                np.testing.assert_array_equal(f[i, 2], hist[i, 1] == own)
                assert (f[i, 16] == (own == BLACK)).all()
