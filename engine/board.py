"""The Go board: rules, make/undo, hashing, legality and Tromp-Taylor scoring.

:class:`Board` is the checked Python API over the Numba kernels of :mod:`igo.engine.board_kernels`::

    >>> b = Board(9, komi=7.0)
    >>> b.play("E5"); b.play("C3")
    >>> b.to_move == BLACK, b.move_number
    (True, 2)
    >>> b.undo(); b.move_number
    1
    >>> b.is_legal("E5"), b.illegal_reason("E5")
    (False, 'occupied')

Rules: any size 2..25; komi; ko by positional superko (default), situational superko or simple ko; suicide
illegal (default) or allowed, multi-stone suicide included, as in Tromp-Taylor; the game is over after two consecutive
passes (play may go on, as GTP allows); area scoring as in Tromp-Taylor.

Moves are GTP vertices (``"D4"``, ``"pass"``), ``(row, col)`` tuples (row 0 at the top) or ``None`` for pass; the
hot paths use padded indices directly (:meth:`make`). Colours are ``BLACK`` / ``WHITE`` (1 / 2) or the strings
``"b"``, ``"w"``, ``"black"``, ``"white"``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import numpy as np

from . import board_kernels as K
from .board_kernels import BLACK, EDGE, EMPTY, WHITE, BoardState
from .coords import (
    GTP_COLUMNS,
    PASS,
    RESIGN,
    check_size,
    padded_to_gtp,
    padded_to_rc,
    parse_move,
    rc_to_padded,
)
from .errors import IllegalMoveError, InvalidMoveError

log = logging.getLogger(__name__)

KO_RULES = {"simple": K.KO_SIMPLE, "positional": K.KO_POSITIONAL, "situational": K.KO_SITUATIONAL}
_KO_RULE_NAMES = {v: k for k, v in KO_RULES.items()}
_REASONS = {K.OCCUPIED: "occupied", K.SUICIDE: "suicide", K.KO: "ko", K.SUPERKO: "superko", K.OFF_BOARD: "off board"}
_COLOR_NAMES = {"b": BLACK, "black": BLACK, "w": WHITE, "white": WHITE}

ASCII_STONES = {EMPTY: ".", BLACK: "X", WHITE: "O"}


def parse_color(color: int | str) -> int:
    """``BLACK``/``WHITE`` from 1/2 or ``"b"``/``"w"``/``"black"``/``"white"`` (any case)."""
    if isinstance(color, str):
        c = _COLOR_NAMES.get(color.strip().lower())
        if c is not None:
            return c
    elif color in (BLACK, WHITE) and not isinstance(color, bool):
        return int(color)
    raise ValueError(f"invalid colour {color!r}; use 'b', 'w', 'black', 'white', BLACK or WHITE")


def color_name(color: int) -> str:
    return "black" if color == BLACK else "white"


def opponent(color: int) -> int:
    return 3 - color


def format_result(margin: float) -> str:
    """``B+3.5``, ``W+0.5`` or ``0`` from a Black-minus-White margin."""
    if margin > 0:
        return f"B+{margin:g}"
    if margin < 0:
        return f"W+{-margin:g}"
    return "0"


class Board:
    """A Go position with its game history (for superko and undo). See the module docstring."""

    def __init__(self, size: int = 19, komi: float = 7.5, *, ko_rule: str = "positional", suicide: bool = False):
        check_size(size)
        if ko_rule not in KO_RULES:
            raise ValueError(f"unknown ko rule {ko_rule!r}; choose one of {', '.join(KO_RULES)}")
        self.size = size
        self.komi = float(komi)
        self._state = K.new_state(size, KO_RULES[ko_rule], suicide)
        self._undo = K.new_undo_stack(size, 16)
        self._depth = 0
        self._moves: list[tuple[int, int]] = []  # (colour, padded point or PASS) of each undoable move
        self._scratch = np.zeros(self._state.stones.shape[0], np.uint8)
        self._mask = np.zeros(size * size, np.bool_)

    # --- rule set and state -------------------------------------------------------------------------------------

    @property
    def state(self) -> BoardState:
        """The kernels' arrays (read them; change them only through kernels)."""
        return self._state

    @property
    def ko_rule(self) -> str:
        return _KO_RULE_NAMES[int(self._state.meta[K.M_KO_RULE])]

    @property
    def suicide_allowed(self) -> bool:
        return bool(self._state.meta[K.M_SUICIDE])

    @property
    def to_move(self) -> int:
        return int(self._state.meta[K.M_TO_MOVE])

    @to_move.setter
    def to_move(self, color: int | str) -> None:
        c = parse_color(color)
        if c != self.to_move:
            s = self._state
            s.meta[K.M_TO_MOVE] = c
            s.meta[K.M_KO] = K.NO_POINT  # the ko point binds only the player who was to move
            s.hist_color[s.meta[K.M_NHIST] - 1] = c  # the current position is now one with c to move

    @property
    def move_number(self) -> int:
        """Moves (passes included) played since the start or the last :meth:`setup`."""
        return int(self._state.meta[K.M_MOVES])

    @property
    def passes(self) -> int:
        """Consecutive passes just played."""
        return int(self._state.meta[K.M_PASSES])

    @property
    def is_over(self) -> bool:
        """True after two consecutive passes."""
        return self.passes >= 2

    @property
    def hash(self) -> int:
        """Zobrist hash of the stones (positional: the player to move is not included)."""
        return int(self._state.meta[K.M_HASH])

    @property
    def ko_point(self) -> str | None:
        p = int(self._state.meta[K.M_KO])
        return None if p == K.NO_POINT else padded_to_gtp(p, self.size)

    @property
    def captures(self) -> dict[int, int]:
        """Stones captured so far *by* each colour."""
        return {BLACK: int(self._state.meta[K.M_CAPS_B]), WHITE: int(self._state.meta[K.M_CAPS_W])}

    @property
    def last_move(self) -> str | None:
        p = int(self._state.meta[K.M_LAST])
        return None if p == K.NO_POINT else padded_to_gtp(p, self.size)

    @property
    def moves(self) -> list[tuple[int, str]]:
        """(colour, GTP vertex) of every move since the start or the last setup."""
        return [(c, padded_to_gtp(p, self.size)) for c, p in self._moves]

    @property
    def last_played(self) -> tuple[int, int] | None:
        """(colour, padded point or PASS) of the last move, without naming every move as :attr:`moves` does; None
        before any move (or after a setup)."""
        return self._moves[-1] if self._moves else None

    def stones(self) -> np.ndarray:
        """An ``(N, N)`` int8 array: 0 empty, 1 black, 2 white; row 0 is the top row."""
        n = self.size
        return self._state.stones.reshape(n + 2, n + 2)[1:-1, 1:-1].copy()

    def start_position(self) -> tuple[np.ndarray, int]:
        """The stones (as :meth:`stones`) and the player to move where the undo history begins: the start of the game
        or the last :meth:`setup`, so handicap and setup stones are there but no move is."""
        if self._depth == 0:
            return self.stones(), self.to_move
        n = self.size
        stones = self._undo.stones[0].reshape(n + 2, n + 2)[1:-1, 1:-1].copy()
        return stones, int(self._undo.meta[0, K.M_TO_MOVE])

    def history(self, length: int) -> np.ndarray:
        """The last ``length`` positions as an ``(length, N, N)`` int8 array like :meth:`stones`: index 0 is the
        current position, 1 the one before the last move, and so on. Positions before the start of the undo history
        (the game's start or the last :meth:`setup`) repeat the earliest one known."""
        n = self.size
        out = np.empty((length, n, n), np.int8)
        for k in range(length):
            if k == 0:
                out[0] = self.stones()
            elif k <= self._depth:
                out[k] = self._undo.stones[self._depth - k].reshape(n + 2, n + 2)[1:-1, 1:-1]
            else:
                out[k] = out[k - 1]
        return out

    def color_at(self, move) -> int:
        p = self._point(move)
        if p < 0:
            raise InvalidMoveError(f"{move!r} is not a point")
        return int(self._state.stones[p])

    def copy(self) -> Board:
        b = Board.__new__(Board)
        b.size, b.komi = self.size, self.komi
        b._state = K.copy_state(self._state)
        b._undo = K.UndoStack(*(a.copy() for a in self._undo))
        b._depth = self._depth
        b._moves = list(self._moves)
        b._scratch = np.zeros_like(self._scratch)
        b._mask = np.zeros_like(self._mask)
        return b

    # --- moves ----------------------------------------------------------------------------------------------------

    def _point(self, move) -> int:
        if isinstance(move, (int, np.integer)) and not isinstance(move, bool):
            raise InvalidMoveError(
                f"ambiguous integer move {move!r}: use a GTP vertex, (row, col), or make() for padded indices"
            )
        return parse_move(move, self.size)

    def _color(self, color) -> int:
        return self.to_move if color is None else parse_color(color)

    def illegal_reason(self, move, color=None) -> str | None:
        """Why ``move`` is illegal for ``color`` (default: the player to move): ``"occupied"``, ``"suicide"``,
        ``"ko"`` or ``"superko"``; None if it is legal. Raises InvalidMoveError for unreadable moves."""
        p = self._point(move)
        c = self._color(color)
        if p == PASS:
            return None
        if p == RESIGN:
            raise InvalidMoveError("resign is not a move on the board")
        code = K.legality(self._state, p, c)
        return None if code == K.OK else _REASONS[code]

    def is_legal(self, move, color=None) -> bool:
        return self.illegal_reason(move, color) is None

    def play(self, move, color=None) -> None:
        """Play a checked move (or pass) for ``color`` (default: the player to move).

        Raises InvalidMoveError for unreadable input and IllegalMoveError (with ``.reason``) for illegal moves; the
        board is unchanged in both cases."""
        p = self._point(move)
        c = self._color(color)
        if p == RESIGN:
            raise InvalidMoveError("resign is not a move on the board")
        if p != PASS:
            code = K.legality(self._state, p, c)
            if code != K.OK:
                reason = _REASONS[code]
                vertex = padded_to_gtp(p, self.size)
                raise IllegalMoveError(
                    f"illegal move {color_name(c)} {vertex} ({reason}) at move {self.move_number + 1}\n{self}",
                    reason,
                    vertex,
                )
        self.make(p, c)

    def make(self, p: int, color: int | None = None) -> None:
        """Unchecked make for hot paths: ``p`` is a padded index or PASS, assumed legal. Undoable."""
        c = self.to_move if color is None else color
        self._reserve()
        K.push(self._state, self._undo, self._depth)
        self._depth += 1
        K.play_recorded(self._state, p, c)
        self._moves.append((c, p))

    def pass_move(self, color=None) -> None:
        self.play(None, color)

    def undo(self) -> None:
        """Take back the last move, restoring stones, captures, ko, hash, history and move number exactly."""
        if self._depth == 0:
            raise IndexError("no move to undo")
        self._depth -= 1
        K.pop(self._state, self._undo, self._depth)
        self._moves.pop()

    @property
    def can_undo(self) -> bool:
        return self._depth > 0

    def _reserve(self) -> None:
        """Grow the undo stack and the position history before they fill up."""
        if self._depth >= self._undo.stones.shape[0]:
            d = self._undo.stones.shape[0]
            new = K.new_undo_stack(self.size, 2 * d)
            for old_a, new_a in zip(self._undo, new, strict=True):
                new_a[:d] = old_a
            self._undo = new
        s = self._state
        if s.meta[K.M_NHIST] >= s.hist_hash.shape[0]:
            h = s.hist_hash.shape[0]
            hh = np.zeros(2 * h, np.int64)
            hc = np.zeros(2 * h, np.int8)
            hh[:h] = s.hist_hash
            hc[:h] = s.hist_color
            self._state = s._replace(hist_hash=hh, hist_color=hc)

    # --- setup and handicap ---------------------------------------------------------------------------------------

    def setup(self, black: Iterable = (), white: Iterable = (), empty: Iterable = ()) -> None:
        """Put setup stones on the board (SGF AB/AW/AE, free handicap) without playing moves.

        Every point must be on the board and no group may be left without a liberty (setup never captures). The
        player to move is unchanged. Setup cannot be undone: it starts a new undo history, but the positions
        before it still count for superko."""
        plan: dict[int, int] = {}
        for color, points in ((EMPTY, empty), (BLACK, black), (WHITE, white)):
            for m in points:
                p = self._point(m)
                if p < 0:
                    raise InvalidMoveError(f"setup point {m!r} is not a point")
                if p in plan and plan[p] != color:
                    raise InvalidMoveError(f"setup point {padded_to_gtp(p, self.size)} given two colours")
                plan[p] = color
        stones = self._state.stones.copy()
        for p, color in plan.items():
            stones[p] = color
        self._rebuild(stones)
        self._depth = 0
        self._moves = []

    def _rebuild(self, stones: np.ndarray) -> None:
        """Replace the stones (keeping meta) and rebuild the chains; raise if any chain has no liberty."""
        s = self._state
        new = K.new_state(self.size, int(s.meta[K.M_KO_RULE]), bool(s.meta[K.M_SUICIDE]), s.hist_hash.shape[0])
        for i in range(s.meta[K.M_NHIST]):
            new.hist_hash[i], new.hist_color[i] = s.hist_hash[i], s.hist_color[i]
        new.meta[K.M_NHIST] = s.meta[K.M_NHIST]
        for p in np.flatnonzero((stones == BLACK) | (stones == WHITE)):
            K.place(new, int(p), int(stones[p]))
        if int(np.count_nonzero(new.stones != stones)):
            bad = np.flatnonzero(new.stones != stones)[0]
            raise IllegalMoveError(
                f"setup leaves the group at {padded_to_gtp(int(bad), self.size)} without a liberty", "suicide"
            )
        for key in (K.M_TO_MOVE, K.M_CAPS_B, K.M_CAPS_W):
            new.meta[key] = s.meta[key]
        new.meta[K.M_KO] = K.NO_POINT
        new.meta[K.M_MOVES] = 0
        new.meta[K.M_PASSES] = 0
        new.meta[K.M_LAST] = K.NO_POINT
        new.meta[K.M_LAST2] = K.NO_POINT
        K.record_position(new)
        self._state = new

    def place_handicap(self, count: int, fixed: bool = True) -> list[str]:
        """Place ``count`` handicap stones at the GTP spec's fixed points; White moves next. Returns the vertices."""
        if self.move_number or np.any(self.stones()):
            raise ValueError("handicap stones go on an empty board")
        vertices = fixed_handicap_points(self.size, count)
        self.setup(black=vertices)
        self.to_move = WHITE
        return vertices

    # --- scoring --------------------------------------------------------------------------------------------------

    def area(self) -> tuple[int, int]:
        """Tromp-Taylor area (points of Black, points of White)."""
        b, w = K.area(self._state)
        return int(b), int(w)

    def score(self) -> float:
        """Black's area minus White's area minus komi (positive: Black wins)."""
        b, w = self.area()
        return b - w - self.komi

    def result(self) -> str:
        """``B+3.5``, ``W+0.5`` or ``0`` by Tromp-Taylor area scoring with komi."""
        return format_result(self.score())

    # --- masks and queries ------------------------------------------------------------------------------------------

    def legal_mask(self, color=None) -> np.ndarray:
        """Bool array of shape ``(N*N + 1,)`` in flat order (``row*N + col``), the last entry being pass (always
        legal)."""
        c = self._color(color)
        K.legal_mask(self._state, c, self._mask)
        out = np.empty(self.size * self.size + 1, np.bool_)
        out[:-1] = self._mask
        out[-1] = True
        return out

    def legal_moves(self, color=None) -> list[str]:
        """GTP vertices of the legal moves (pass excluded)."""
        n = self.size
        return [padded_to_gtp(rc_to_padded(f // n, f % n, n), n) for f in np.flatnonzero(self.legal_mask(color)[:-1])]

    def liberties(self, move) -> int:
        """True liberties of the chain through the stone at ``move``."""
        p = self._point(move)
        if p < 0 or self._state.stones[p] not in (BLACK, WHITE):
            raise InvalidMoveError(f"no stone at {move!r}")
        return int(K.chain_liberties(self._state, p, self._scratch))

    def check(self) -> None:
        """Assert the internal invariants (chains, pseudo-liberties, hash, empty list). For tests and debugging."""
        code = K.check_invariants(self._state)
        if code:
            raise AssertionError(f"board invariant {code} broken\n{self}")

    # --- text ---------------------------------------------------------------------------------------------------------

    def __str__(self) -> str:
        n = self.size
        cols = "  " + "".join(" " + ch for ch in GTP_COLUMNS[:n])
        grid = self.stones()
        last = int(self._state.meta[K.M_LAST])
        lr, lc = padded_to_rc(last, n) if last >= 0 else (-1, -1)
        rows = [cols]
        for r in range(n):
            line = f"{n - r:2d}"
            for c in range(n):
                sep = "(" if (r, c) == (lr, lc) else ")" if (r, c - 1) == (lr, lc) else " "
                line += sep + ASCII_STONES[int(grid[r, c])]
            line += (")" if (r, n - 1) == (lr, lc) else " ") + f"{n - r}"
            rows.append(line)
        rows.append(cols)
        who = "Black" if self.to_move == BLACK else "White"
        caps = self.captures
        rows.append(f"{who} to move; captures B {caps[BLACK]} W {caps[WHITE]}; komi {self.komi:g}")
        return "\n".join(rows)

    def __repr__(self) -> str:
        return (
            f"<Board {self.size}x{self.size} komi={self.komi:g} move={self.move_number} hash={self.hash & 0xFFFF:04x}>"
        )

    @classmethod
    def from_ascii(cls, text: str, *, to_move: int | str = BLACK, komi: float = 7.5, **rules) -> Board:
        """A board from rows of ``X`` (black), ``O`` (white) and ``.`` (empty), top row first; spaces, row numbers and
        column letters are ignored, so ``str(board)`` output (without its status line) reads back. ``+`` also
        means empty."""
        rows = []
        for line in text.strip("\n").splitlines():
            body = "".join(ch for ch in line if not (ch.isspace() or ch.isdigit() or ch in "()"))
            if body and all(ch in "XO.+" for ch in body):
                rows.append(body)
        n = len(rows)
        if n == 0 or any(len(r) != n for r in rows):
            raise ValueError(f"ASCII board must be square; got rows of lengths {[len(r) for r in rows]}")
        board = cls(n, komi, **rules)
        black, white = [], []
        for r, cells in enumerate(rows):
            for c, ch in enumerate(cells):
                if ch == "X":
                    black.append((r, c))
                elif ch == "O":
                    white.append((r, c))
        board.setup(black=black, white=white)
        board.to_move = to_move
        return board


# --- handicap ------------------------------------------------------------------------------------------------------


def fixed_handicap_points(size: int, count: int) -> list[str]:
    """The GTP v2 spec's fixed handicap vertices (section 4.1.1), in its order.

    Defined for boards of 7x7 and larger; at most 4 stones on even sizes and on 7x7, at most 9 otherwise. Checked
    against GNU Go's ``fixed_handicap`` on every size 2..19 (tests/test_gnugo_crosscheck.py)."""
    if size < 7:
        raise ValueError(f"fixed handicap is not defined on {size}x{size} (the GTP spec needs 7x7 or more)")
    limit = 4 if size % 2 == 0 or size == 7 else 9
    if not 2 <= count <= limit:
        raise ValueError(f"fixed handicap on {size}x{size} must be 2..{limit} stones, got {count}")
    # 4th line from 12x12 up, else the 3rd (0-based distance from the edge). The spec tables only 9x9, 13x13 and 19x19;
    # for other sizes we follow GNU Go, the protocol's reference implementation (gomill uses the 3rd line on 12x12).
    edge = 3 if size >= 12 else 2
    lo, hi, mid = edge, size - 1 - edge, size // 2
    # (col, row-from-bottom) pairs, 0-based
    corner = [(lo, lo), (hi, hi), (lo, hi), (hi, lo)]
    side = [(lo, mid), (hi, mid)]
    tb = [(mid, lo), (mid, hi)]
    center = [(mid, mid)]
    table = {
        2: corner[:2],
        3: corner[:3],
        4: corner,
        5: corner + center,
        6: corner + side,
        7: corner + side + center,
        8: corner + side + tb,
        9: corner + side + tb + center,
    }
    return [f"{GTP_COLUMNS[c]}{r + 1}" for c, r in table[count]]


__all__ = [
    "Board",
    "BLACK",
    "WHITE",
    "EMPTY",
    "EDGE",
    "PASS",
    "RESIGN",
    "IllegalMoveError",
    "InvalidMoveError",
    "KO_RULES",
    "parse_color",
    "color_name",
    "opponent",
    "format_result",
    "fixed_handicap_points",
]


def chains(stones: np.ndarray, color: int) -> list[list[tuple[int, int]]]:
    """The chains of ``color`` as lists of (row, col), each sorted, in board order."""
    n = stones.shape[0]
    seen = np.zeros_like(stones, bool)
    out = []
    for r0 in range(n):
        for c0 in range(n):
            if stones[r0, c0] != color or seen[r0, c0]:
                continue
            chain, todo = [], [(r0, c0)]
            seen[r0, c0] = True
            while todo:
                r, c = todo.pop()
                chain.append((r, c))
                for rr, cc in ((r - 1, c), (r + 1, c), (r, c - 1), (r, c + 1)):
                    if 0 <= rr < n and 0 <= cc < n and not seen[rr, cc] and stones[rr, cc] == color:
                        seen[rr, cc] = True
                        todo.append((rr, cc))
            out.append(sorted(chain))
    return out
