"""Every coordinate system of igo in one place.

A board of size ``N`` (2..25) has points addressed in these ways; the example is the lower-left star point of 19x19
(GTP ``D4``) and the upper-left corner:

===============  ==========================  =================  ==========  ==========================================
system           type                        D4 on 19x19        A19 corner  notes
===============  ==========================  =================  ==========  ==========================================
GTP vertex       str                         ``"D4"``           ``"A19"``   columns A..Z without I, rows 1..N from the
                                                                            bottom; ``"pass"``, ``"resign"``;
                                                                            case-insensitive on input
SGF point        str                         ``"dp"``           ``"aa"``    column then row, both ``a``.. from the top
                                                                            left; ``""`` (and ``"tt"`` on <= 19x19) is
                                                                            a pass
row, col         tuple[int, int]             ``(15, 3)``        ``(0, 0)``  row 0 is the *top* row, as numpy prints a
                                                                            plane ``plane[row, col]``
flat             int                         ``15*19+3 = 288``  ``0``       ``row*N + col``; index into policy vectors,
                                                                            whose pass entry is ``N*N``
padded           int                         ``16*21+4 = 340``  ``22``      ``(row+1)*(N+2) + (col+1)``; what the
                                                                            Numba kernels use: a one-point border of
                                                                            EDGE cells removes bounds checks
===============  ==========================  =================  ==========  ==========================================

``PASS`` and ``RESIGN`` are the same negative constants in the flat and padded systems.
"""

from __future__ import annotations

from .errors import InvalidMoveError

PASS = -1
RESIGN = -2

MIN_SIZE = 2
MAX_SIZE = 25
DEFAULT_SIZE = 9
"""The board size of every command (play, gtp, match, tournament, corpus, the trainers, ``model list``) when neither
``--size`` nor a network says otherwise."""

GTP_COLUMNS = "ABCDEFGHJKLMNOPQRSTUVWXYZ"  # no I, 25 letters
SGF_LETTERS = "abcdefghijklmnopqrstuvwxyz"


def check_size(size: int) -> int:
    """Return ``size`` if it is a supported board size, else raise ValueError."""
    if not isinstance(size, int) or isinstance(size, bool) or not MIN_SIZE <= size <= MAX_SIZE:
        raise ValueError(f"board size must be an integer in {MIN_SIZE}..{MAX_SIZE}, got {size!r}")
    return size


# --- row/col <-> flat / padded -------------------------------------------------------------------------------------


def width(size: int) -> int:
    """Row stride of the padded layout."""
    return size + 2


def padded_len(size: int) -> int:
    return (size + 2) * (size + 2)


def rc_to_padded(row: int, col: int, size: int) -> int:
    return (row + 1) * (size + 2) + col + 1


def padded_to_rc(p: int, size: int) -> tuple[int, int]:
    w = size + 2
    return p // w - 1, p % w - 1


def rc_to_flat(row: int, col: int, size: int) -> int:
    return row * size + col


def flat_to_rc(f: int, size: int) -> tuple[int, int]:
    return divmod(f, size)


def flat_to_padded(f: int, size: int) -> int:
    if f < 0:
        return f
    r, c = divmod(f, size)
    return (r + 1) * (size + 2) + c + 1


def padded_to_flat(p: int, size: int) -> int:
    if p < 0:
        return p
    w = size + 2
    return (p // w - 1) * size + p % w - 1


def on_board(row: int, col: int, size: int) -> bool:
    return 0 <= row < size and 0 <= col < size


# --- GTP -----------------------------------------------------------------------------------------------------------


def rc_to_gtp(row: int, col: int, size: int) -> str:
    return f"{GTP_COLUMNS[col]}{size - row}"


def gtp_to_rc(text: str, size: int) -> tuple[int, int] | int:
    """Parse a GTP vertex. Returns ``(row, col)``, or :data:`PASS` / :data:`RESIGN`."""
    if not isinstance(text, str):
        raise InvalidMoveError(f"vertex must be a string, got {text!r}")
    if not text.isascii():  # before upper(): "ſ".upper() is "S"
        raise InvalidMoveError(f"invalid vertex {text!r}")
    t = text.strip().upper()
    if t == "PASS":
        return PASS
    if t == "RESIGN":
        return RESIGN
    if len(t) < 2 or len(t) > 3 or t[0] not in GTP_COLUMNS or not t[1:].isdigit():
        raise InvalidMoveError(f"invalid vertex {text!r}")
    col = GTP_COLUMNS.index(t[0])
    row = size - int(t[1:])
    if not on_board(row, col, size):
        raise InvalidMoveError(f"vertex {text!r} is off the {size}x{size} board")
    return row, col


def padded_to_gtp(p: int, size: int) -> str:
    if p == PASS:
        return "pass"
    if p == RESIGN:
        return "resign"
    return rc_to_gtp(*padded_to_rc(p, size), size)


def gtp_to_padded(text: str, size: int) -> int:
    rc = gtp_to_rc(text, size)
    return rc if isinstance(rc, int) else rc_to_padded(*rc, size)


# --- SGF -----------------------------------------------------------------------------------------------------------


def rc_to_sgf(row: int, col: int) -> str:
    return SGF_LETTERS[col] + SGF_LETTERS[row]


def sgf_to_rc(text: str, size: int) -> tuple[int, int] | int:
    """Parse an SGF point. ``""`` is a pass, and so is ``"tt"`` on boards up to 19x19."""
    if not isinstance(text, str):
        raise InvalidMoveError(f"SGF point must be a string, got {text!r}")
    if text == "" or (text == "tt" and size <= 19):
        return PASS
    if len(text) != 2 or text[0] not in SGF_LETTERS or text[1] not in SGF_LETTERS:
        raise InvalidMoveError(f"invalid SGF point {text!r}")
    col, row = SGF_LETTERS.index(text[0]), SGF_LETTERS.index(text[1])
    if not on_board(row, col, size):
        raise InvalidMoveError(f"SGF point {text!r} is off the {size}x{size} board")
    return row, col


# --- any of the above --------------------------------------------------------------------------------------------


def parse_move(move: str | int | tuple[int, int] | None, size: int) -> int:
    """Turn a user's move into a padded index (or PASS / RESIGN).

    Accepts a GTP vertex (``"D4"``, ``"pass"``), ``(row, col)``, or ``None`` for a pass. Integers are *not* accepted
    here because flat and padded indices would be ambiguous; use :func:`flat_to_padded` explicitly.
    """
    if move is None:
        return PASS
    if isinstance(move, str):
        return gtp_to_padded(move, size)
    if isinstance(move, tuple) and len(move) == 2 and all(isinstance(v, int) for v in move):
        row, col = move
        if not on_board(row, col, size):
            raise InvalidMoveError(f"point {move!r} is off the {size}x{size} board")
        return rc_to_padded(row, col, size)
    raise InvalidMoveError(f"cannot read a move from {move!r}; use a GTP vertex such as 'D4', (row, col) or None")
