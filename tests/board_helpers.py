"""Shared helpers of the board tests: independent ASCII parsing and snapshots of a Board's state."""

from __future__ import annotations

import numpy as np

from igo.engine import board_kernels as K
from igo.engine.board import BLACK, EMPTY, WHITE, Board

KO_RULE_NAMES = ("simple", "positional", "situational")


def grid(text: str) -> np.ndarray:
    """Parse an ASCII diagram (X black, O white, . empty; top row first) independently of Board.from_ascii."""
    rows = [line.split() for line in text.strip().splitlines() if line.strip()]
    values = {".": EMPTY, "X": BLACK, "O": WHITE}
    return np.array([[values[ch] for ch in row] for row in rows], dtype=np.int8)


def assert_position(board: Board, text: str) -> None:
    expected = grid(text)
    actual = board.stones()
    assert actual.shape == expected.shape
    if not np.array_equal(actual, expected):
        raise AssertionError(f"position differs; expected\n{text.strip()}\ngot\n{board}")


POSITION_FIELDS = ("stones", "chain", "nxt", "libs", "size", "empties", "epos", "meta")


def state_arrays(board: Board) -> dict[str, np.ndarray]:
    """Copies of the arrays that make up the position, and the position history cut to the part in use."""
    s = board.state
    n = int(s.meta[K.M_NHIST])
    arrays = {name: getattr(s, name).copy() for name in POSITION_FIELDS}
    arrays["hist_hash"] = s.hist_hash[:n].copy()
    arrays["hist_color"] = s.hist_color[:n].copy()
    return arrays


def assert_same_arrays(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> None:
    assert a.keys() == b.keys()
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)


def snapshot(board: Board) -> dict:
    return {
        "stones": board.stones(),
        "hash": board.hash,
        "ko": board.ko_point,
        "captures": board.captures,
        "move_number": board.move_number,
        "to_move": board.to_move,
        "passes": board.passes,
        "last": board.last_move,
        "moves": board.moves,
        "arrays": state_arrays(board),
    }


def assert_snapshot(board: Board, snap: dict) -> None:
    now = snapshot(board)
    for key in ("hash", "ko", "captures", "move_number", "to_move", "passes", "last", "moves"):
        assert now[key] == snap[key], key
    np.testing.assert_array_equal(now["stones"], snap["stones"])
    assert_same_arrays(now["arrays"], snap["arrays"])


def total_stones(board: Board) -> int:
    return int(np.count_nonzero(board.stones()))
