"""Tests of engine/coords.py: every conversion round-trips, the docstring's table holds, bad input is rejected."""

from __future__ import annotations

import pytest

from igo.engine import coords as C
from igo.engine.coords import PASS, RESIGN
from igo.engine.errors import InvalidMoveError

SIZES = (2, 9, 19, 25)


def all_points(n: int):
    return [(r, c) for r in range(n) for c in range(n)]


# --- round trips ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", SIZES)
def test_every_point_round_trips_through_every_system(n):
    seen_gtp, seen_flat, seen_padded, seen_sgf = set(), set(), set(), set()
    for r, c in all_points(n):
        gtp = C.rc_to_gtp(r, c, n)
        flat = C.rc_to_flat(r, c, n)
        padded = C.rc_to_padded(r, c, n)
        sgf = C.rc_to_sgf(r, c)

        assert C.gtp_to_rc(gtp, n) == (r, c)
        assert C.gtp_to_padded(gtp, n) == padded
        assert C.padded_to_gtp(padded, n) == gtp
        assert C.flat_to_rc(flat, n) == (r, c)
        assert C.padded_to_rc(padded, n) == (r, c)
        assert C.flat_to_padded(flat, n) == padded
        assert C.padded_to_flat(padded, n) == flat
        assert C.sgf_to_rc(sgf, n) == (r, c)
        assert C.on_board(r, c, n)

        seen_gtp.add(gtp)
        seen_flat.add(flat)
        seen_padded.add(padded)
        seen_sgf.add(sgf)
    # every system is a bijection onto its range
    assert len(seen_gtp) == len(seen_flat) == len(seen_padded) == len(seen_sgf) == n * n
    assert seen_flat == set(range(n * n))
    assert all(0 <= p < C.padded_len(n) for p in seen_padded)


@pytest.mark.parametrize("n", SIZES)
def test_padded_layout_has_a_one_point_border(n):
    w = C.width(n)
    assert w == n + 2
    assert C.padded_len(n) == w * w
    onboard = {C.rc_to_padded(r, c, n) for r, c in all_points(n)}
    border = set(range(C.padded_len(n))) - onboard
    assert len(border) == 4 * (n + 1)
    for p in border:
        r, c = C.padded_to_rc(p, n)
        assert not C.on_board(r, c, n)
    # neighbours of every on-board point are p-W, p-1, p+1, p+W
    for r, c in all_points(n):
        p = C.rc_to_padded(r, c, n)
        assert C.rc_to_padded(r - 1, c, n) == p - w
        assert C.rc_to_padded(r, c + 1, n) == p + 1


@pytest.mark.parametrize("n", SIZES)
def test_gtp_input_is_case_insensitive(n):
    for r, c in all_points(n):
        gtp = C.rc_to_gtp(r, c, n)
        assert C.gtp_to_rc(gtp.lower(), n) == (r, c)
        assert C.gtp_to_rc(gtp.upper(), n) == (r, c)
    for text in ("pass", "PASS", "Pass", "pAsS"):
        assert C.gtp_to_rc(text, n) == PASS
        assert C.gtp_to_padded(text, n) == PASS
    for text in ("resign", "RESIGN", "Resign"):
        assert C.gtp_to_rc(text, n) == RESIGN
        assert C.gtp_to_padded(text, n) == RESIGN


def test_docstring_table():
    assert C.gtp_to_rc("D4", 19) == (15, 3)
    assert C.rc_to_flat(15, 3, 19) == 288
    assert C.rc_to_padded(15, 3, 19) == 340
    assert C.rc_to_sgf(15, 3) == "dp"
    assert C.gtp_to_rc("A19", 19) == (0, 0)
    assert C.rc_to_padded(0, 0, 19) == 22
    assert C.rc_to_sgf(0, 0) == "aa"
    assert C.padded_to_gtp(340, 19) == "D4"
    assert C.sgf_to_rc("dp", 19) == (15, 3)


def test_gtp_has_no_i_column():
    assert "I" not in C.GTP_COLUMNS
    assert len(C.GTP_COLUMNS) == C.MAX_SIZE == 25
    assert C.gtp_to_rc("H1", 19) == (18, 7)
    assert C.gtp_to_rc("J1", 19) == (18, 8)
    assert C.rc_to_gtp(18, 8, 19) == "J1"
    assert C.gtp_to_rc("T19", 19) == (0, 18)
    assert C.gtp_to_rc("Z25", 25) == (0, 24)
    for text in ("I5", "i5", "I1"):
        with pytest.raises(InvalidMoveError) as e:
            C.gtp_to_rc(text, 19)
        assert repr(text) in str(e.value)


def test_pass_and_resign_are_negative_and_fixed_in_flat_and_padded():
    assert PASS < 0 and RESIGN < 0 and PASS != RESIGN
    for n in SIZES:
        assert C.flat_to_padded(PASS, n) == PASS
        assert C.padded_to_flat(PASS, n) == PASS
        assert C.flat_to_padded(RESIGN, n) == RESIGN
        assert C.padded_to_flat(RESIGN, n) == RESIGN
        assert C.padded_to_gtp(PASS, n) == "pass"
        assert C.padded_to_gtp(RESIGN, n) == "resign"


def test_sgf_pass():
    for n in SIZES:
        assert C.sgf_to_rc("", n) == PASS
    assert C.sgf_to_rc("tt", 9) == PASS
    assert C.sgf_to_rc("tt", 19) == PASS
    # on boards larger than 19x19 "tt" is a real point
    assert C.sgf_to_rc("tt", 20) == (19, 19)
    assert C.sgf_to_rc("tt", 25) == (19, 19)


# --- bad input --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "n"),
    [
        ("T1", 9),  # column past the board
        ("K1", 9),
        ("J10", 9),  # row past the board
        ("A0", 19),
        ("A20", 19),
        ("A26", 25),
        ("Z1", 19),
        ("C3", 2),
        ("A00", 9),
    ],
)
def test_off_board_gtp_vertices_raise_naming_the_input(text, n):
    with pytest.raises(InvalidMoveError) as e:
        C.gtp_to_rc(text, n)
    assert repr(text) in str(e.value)
    with pytest.raises(InvalidMoveError):
        C.gtp_to_padded(text, n)


@pytest.mark.parametrize(
    "text",
    [
        "",
        " ",
        "D",
        "4",
        "4D",
        "D4x",
        "DD4",
        "D-4",
        "D4.0",
        "pass1",
        "passs",
        "resigned",
        "None",
        "null",
        "nan",
        "D\u0664",  # D followed by ARABIC-INDIC DIGIT FOUR
        "D\u00b2",  # superscript two
        "\uff24" + "4",  # FULLWIDTH D
        "D 4",
        "D4 5",
    ],
)
def test_garbage_gtp_raises_naming_the_input(text):
    with pytest.raises(InvalidMoveError) as e:
        C.gtp_to_rc(text, 19)
    assert repr(text) in str(e.value)
    assert isinstance(e.value, ValueError)


def test_non_ascii_letter_that_uppercases_to_a_column_is_rejected():
    """'\u017f' (LATIN SMALL LETTER LONG S) upper-cases to 'S'; it is not a GTP column letter."""
    text = "\u017f4"
    with pytest.raises(InvalidMoveError) as e:
        C.gtp_to_rc(text, 19)
    assert repr(text) in str(e.value)


@pytest.mark.parametrize("value", [None, 4, 4.0, b"D4", ("D", 4), ["D4"]])
def test_non_string_gtp_raises(value):
    with pytest.raises(InvalidMoveError) as e:
        C.gtp_to_rc(value, 19)
    assert repr(value) in str(e.value)


@pytest.mark.parametrize(("text", "n"), [("a", 9), ("abc", 9), ("jj", 9), ("ja", 9), ("aj", 9), ("A1", 19), ("zz", 25)])
def test_bad_sgf_points_raise_naming_the_input(text, n):
    with pytest.raises(InvalidMoveError) as e:
        C.sgf_to_rc(text, n)
    assert repr(text) in str(e.value)


def test_sgf_non_string_raises():
    with pytest.raises(InvalidMoveError):
        C.sgf_to_rc(None, 19)


# --- parse_move -------------------------------------------------------------------------------------------------------


def test_parse_move_accepts_vertices_tuples_and_none():
    assert C.parse_move("D4", 19) == 340
    assert C.parse_move("d4", 19) == 340
    assert C.parse_move((15, 3), 19) == 340
    assert C.parse_move(None, 19) == PASS
    assert C.parse_move("pass", 19) == PASS
    assert C.parse_move("resign", 19) == RESIGN


@pytest.mark.parametrize("move", [340, 3, (19, 0), (0, -1), (1, 2, 3), (1.0, 2.0), [15, 3], "I5", "T20"])
def test_parse_move_rejects_ints_off_board_points_and_garbage(move):
    with pytest.raises(InvalidMoveError):
        C.parse_move(move, 19)


# --- sizes ------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [2, 3, 9, 13, 19, 25])
def test_check_size_accepts_supported_sizes(n):
    assert C.check_size(n) == n


@pytest.mark.parametrize("n", [1, 0, -9, 26, 100, "9", True, False, 9.0, None])
def test_check_size_rejects(n):
    with pytest.raises(ValueError) as e:
        C.check_size(n)
    assert repr(n) in str(e.value)
