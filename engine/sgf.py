"""Game records: reading and writing SGF through sgfmill.

A :class:`GameRecord` is the plain data of one game: board size, komi, handicap, setup stones, the moves of the main
line, the result, player names and ranks, date, ruleset, game name and comments. Points are ``(row, col)`` with row 0
at the top (see :mod:`igo.engine.coords`); a pass is ``None``; colours are ``BLACK`` / ``WHITE`` as in
:mod:`igo.engine.board`::

    >>> rec = load_sgf(b"(;GM[1]SZ[9]KM[7]PB[Ann]PW[Bob];B[ee];W[cc]C[hane?];B[])")
    >>> rec.size, rec.komi, rec.moves, rec.comments
    (9, 7.0, [(1, (4, 4)), (2, (2, 2)), (1, None)], [None, 'hane?', None])
    >>> int(replay(rec).stones()[4, 4])
    1
    >>> load_sgf(dump_sgf(rec)) == rec
    True

Parsing and serialising are sgfmill's (``sgf_grammar`` and ``Sgf_game``); this module interprets the Go properties
and checks everything a hostile file could get wrong, so that a bad record gives an :class:`~igo.engine.errors.SGFError`
naming the problem and never a crash, a hang or a silently partial load:

- input larger than ``max_bytes``, or with more ``;`` (an upper bound on the nodes) than ``max_nodes``, or with
  more backslashes (escapes) than :data:`MAX_ESCAPES`, is refused before parsing (sgfmill's tokeniser and unescaping
  cost about 200 bytes of memory per escape in one value: 10 MB of ``\\]`` took 800 MB); a main line of more than
  ``max_moves`` moves is refused while reading; a text value (a comment, a name) with more than
  :data:`MAX_TEXT_BREAKS` line breaks and escapes is refused before it is unescaped (for the same reason);
- ``SZ`` must be one square size 2..19 (SGF passes are ``tt`` only up to 19x19; igo's 20x20 to 25x25 games cannot be
  written as SGF); ``KM`` must be a number within ``±MAX_KOMI``; ``HA``, ``PL`` and every point must be well formed
  and on the board; a node may hold only one move (not both ``B`` and ``W``);
- text is decoded by the ``CA`` character set; an unknown or non-ASCII-compatible set, or bytes that are not valid in
  it, are errors. Without ``CA`` the SGF default ISO-8859-1 applies, except that input which is valid UTF-8 is read
  as UTF-8 (what most modern programs write without saying so);
- with ``check_legal`` (the default) the game is replayed on a :class:`~igo.engine.board.Board` (simple ko, suicide
  illegal, as on the servers whose records we read) and an illegal move names its number and vertex.

Only the main line (the first variation at each node) is read. Setup (``AB``/``AW``/``AE``) in nodes before the first
move is merged into the root setup; setup after a move is kept as a :class:`SetupEvent` and applied in order by
:func:`replay`. A comment on a move node belongs to that move (``GameRecord.comments`` is aligned with ``moves``); the
root comment is ``root_comment``; comments of other nodes are dropped. Unknown properties are ignored.

``HA[n]`` without ``AB`` stones is taken to mean the GTP fixed handicap points, unless Black's first ``n`` moves are
the handicap stones (as some servers write free handicap). The player to move at the start (:func:`first_player`) is
``PL`` when given, else White after handicap setup stones, else the colour of the first move. :func:`replay` gives
the final board, :func:`iter_positions` the board before every move (the one path from a record to positions).

Files are read only when they are regular files (:func:`igo.engine.fileio.open_regular`: a FIFO or a device named
``*.sgf`` is an OSError at once, never a hang). Writing builds an ``Sgf_game`` (UTF-8) and serialises it;
:func:`save_sgf` writes it atomically (:func:`igo.engine.fileio.atomic_write`), so a reader never sees half a file,
and never over anything but a regular file (:func:`igo.engine.fileio.check_write_target`: a FIFO, a device such as
``/dev/null`` or a directory stays as it is).
"""

from __future__ import annotations

import codecs
import dataclasses
import logging
import operator
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from sgfmill import sgf, sgf_grammar, sgf_properties

from .board import BLACK, WHITE, Board, color_name, fixed_handicap_points
from .coords import PASS, gtp_to_rc, rc_to_gtp, rc_to_sgf, sgf_to_rc
from .errors import IllegalMoveError, InvalidMoveError, SGFError
from .fileio import atomic_write, check_write_target, open_regular
from .limits import MAX_KOMI

log = logging.getLogger(__name__)

MIN_SGF_SIZE = 2
MAX_SGF_SIZE = 19
DEFAULT_MAX_BYTES = 10 * 1024 * 1024
DEFAULT_MAX_MOVES = 10_000
DEFAULT_MAX_NODES = 200_000
_VALUES_PER_NODE = 5  # property values allowed per node on average before a file is refused as hostile
MAX_ESCAPES = 200_000
"""Most backslashes (SGF escapes) a file may hold; more is refused before parsing."""
MAX_TEXT_BREAKS = 100_000
"""Most line breaks and backslashes one text value (a comment, a name) may hold; more is refused before unescaping."""
Point = tuple[int, int]
Move = tuple[int, "Point | None"]

_SGF_COLOR = {BLACK: "b", WHITE: "w"}
_COLOR_OF = {"b": BLACK, "w": WHITE}


def _points(points: Iterable, what: str, size: int | None = None) -> list[Point]:
    """Sorted, de-duplicated ``(row, col)`` tuples; checked against ``size`` when given."""
    out = set()
    for p in points:
        try:
            r, c = p
            r, c = operator.index(r), operator.index(c)
        except (TypeError, ValueError):
            raise ValueError(f"{what}: {p!r} is not a (row, col) point") from None
        if size is not None and not (0 <= r < size and 0 <= c < size):
            raise ValueError(f"{what}: point {p!r} is off the {size}x{size} board")
        out.add((r, c))
    return sorted(out)


def _color(value, what: str) -> int:
    if value in (BLACK, WHITE) and not isinstance(value, bool):
        return int(value)
    raise ValueError(f"{what}: colour must be BLACK (1) or WHITE (2), got {value!r}")


@dataclass
class SetupEvent:
    """Setup stones (``AB``/``AW``/``AE``) and/or player to move (``PL``) of a node after ``move_index`` moves."""

    move_index: int
    black: list[Point] = field(default_factory=list)
    white: list[Point] = field(default_factory=list)
    empty: list[Point] = field(default_factory=list)
    to_move: int | None = None

    def __post_init__(self) -> None:
        self.black = _points(self.black, "SetupEvent.black")
        self.white = _points(self.white, "SetupEvent.white")
        self.empty = _points(self.empty, "SetupEvent.empty")
        if self.to_move is not None:
            self.to_move = _color(self.to_move, "SetupEvent.to_move")


@dataclass
class GameRecord:
    """One game: the root properties and the main line. See the module docstring for conventions.

    Construction normalises the data: setup lists become sorted lists of ``(row, col)`` tuples, moves become
    ``(colour, (row, col) or None)`` tuples, and ``comments`` is padded with ``None`` to the length of ``moves``.
    """

    size: int = 19
    komi: float = 7.5
    handicap: int = 0
    black_setup: list[Point] = field(default_factory=list)
    white_setup: list[Point] = field(default_factory=list)
    moves: list[Move] = field(default_factory=list)
    result: str | None = None
    black_player: str | None = None
    white_player: str | None = None
    black_rank: str | None = None
    white_rank: str | None = None
    date: str | None = None
    ruleset: str | None = None
    game_name: str | None = None
    comments: list[str | None] = field(default_factory=list)
    first_player: int | None = None  # PL of the root; None: as :func:`first_player` infers it
    root_comment: str | None = None
    setup_events: list[SetupEvent] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not isinstance(self.size, int) or not MIN_SGF_SIZE <= self.size <= MAX_SGF_SIZE:
            raise ValueError(f"SGF board size must be {MIN_SGF_SIZE}..{MAX_SGF_SIZE}, got {self.size!r}")
        self.komi = float(self.komi)
        if not isinstance(self.handicap, int) or self.handicap < 0:
            raise ValueError(f"handicap must be a non-negative integer, got {self.handicap!r}")
        n = self.size
        self.black_setup = _points(self.black_setup, "black_setup", n)
        self.white_setup = _points(self.white_setup, "white_setup", n)
        both = set(self.black_setup) & set(self.white_setup)
        if both:
            raise ValueError(f"setup points given both colours: {sorted(both)}")
        moves = []
        for i, m in enumerate(self.moves, 1):
            try:
                color, point = m
            except (TypeError, ValueError):
                raise ValueError(f"move {i}: {m!r} is not a (colour, point) pair") from None
            color = _color(color, f"move {i}")
            moves.append((color, None if point is None else _points([point], f"move {i}", n)[0]))
        self.moves = moves
        comments = list(self.comments)
        if len(comments) > len(moves):
            raise ValueError(f"{len(comments)} comments for {len(moves)} moves")
        self.comments = comments + [None] * (len(moves) - len(comments))
        if self.first_player is not None:
            self.first_player = _color(self.first_player, "first_player")
        events = []
        for ev in self.setup_events:
            if not isinstance(ev, SetupEvent):
                raise ValueError(f"setup_events must hold SetupEvent objects, got {ev!r}")
            if not 0 <= ev.move_index <= len(moves):
                raise ValueError(f"setup event after move {ev.move_index} but the game has {len(moves)} moves")
            for what, pts in (("black", ev.black), ("white", ev.white), ("empty", ev.empty)):
                _points(pts, f"setup event {what}", n)
            events.append(ev)
        self.setup_events = sorted(events, key=lambda ev: ev.move_index)


# --- reading -------------------------------------------------------------------------------------------------------


def load_sgf(
    data: bytes | str,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_moves: int = DEFAULT_MAX_MOVES,
    max_nodes: int = DEFAULT_MAX_NODES,
    check_legal: bool = True,
    ko_rule: str = "simple",
    suicide: bool = False,
) -> GameRecord:
    """Read the first game of SGF ``data`` (bytes in the file's ``CA`` encoding, or already decoded text).

    Raises SGFError for anything malformed, hostile, too large (see the module docstring) or, with ``check_legal``,
    illegal under ``ko_rule`` / ``suicide``."""
    raw, text = _as_bytes(data, max_bytes)
    _check_counts(raw, max_nodes)
    try:
        coarse = sgf_grammar.parse_sgf_game(raw)
    except RecursionError:
        raise SGFError("SGF nesting too deep") from None
    except ValueError as e:
        raise SGFError(_parse_message(e)) from None
    record = _read_coarse(coarse, raw, text, max_moves)
    if check_legal:
        replay(record, ko_rule=ko_rule, suicide=suicide)
    log.debug("loaded SGF game: %dx%d, %d moves", record.size, record.size, len(record.moves))
    return record


def load_sgf_file(path: str | os.PathLike, *, max_bytes: int = DEFAULT_MAX_BYTES, **kwargs) -> GameRecord:
    """:func:`load_sgf` of a file; a file larger than ``max_bytes`` is refused before it is read.

    OSError (missing file, no permission) propagates as it is."""
    return load_sgf(_read_file(path, max_bytes), max_bytes=max_bytes, **kwargs)


def load_sgf_collection(
    data: bytes | str,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_moves: int = DEFAULT_MAX_MOVES,
    max_nodes: int = DEFAULT_MAX_NODES,
    check_legal: bool = True,
    ko_rule: str = "simple",
    suicide: bool = False,
) -> list[GameRecord]:
    """Every game of an SGF collection (the limits apply to the whole input, ``max_moves`` to each game).

    An error names the game (counted from 1)."""
    raw, text = _as_bytes(data, max_bytes)
    _check_counts(raw, max_nodes)
    try:
        trees = sgf_grammar.parse_sgf_collection(raw)
    except RecursionError:
        raise SGFError("SGF nesting too deep") from None
    except ValueError as e:
        raise SGFError(_parse_message(e)) from None
    records = []
    for i, coarse in enumerate(trees, 1):
        try:
            record = _read_coarse(coarse, raw, text, max_moves)
            if check_legal:
                replay(record, ko_rule=ko_rule, suicide=suicide)
        except SGFError as e:
            raise SGFError(f"game {i}: {e}") from None
        records.append(record)
    return records


def _as_bytes(data: bytes | str, max_bytes: int) -> tuple[bytes, bool]:
    """The raw bytes to parse and whether they came from text (then they are UTF-8)."""
    if isinstance(data, str):
        try:
            raw = data.encode("utf-8")
        except UnicodeEncodeError as e:
            raise SGFError(f"SGF text cannot be encoded as UTF-8: {e.reason}") from None
        text = True
    elif isinstance(data, (bytes, bytearray, memoryview)):
        raw, text = bytes(data), False
    else:
        raise TypeError(f"SGF data must be bytes or str, got {type(data).__name__}")
    if len(raw) > max_bytes:
        raise SGFError(f"SGF data too large: {len(raw)} bytes (limit {max_bytes})")
    return raw, text


def _read_file(path: str | os.PathLike, max_bytes: int) -> bytes:
    with open_regular(path) as f:  # a FIFO or a device: NotARegularFileError (an OSError), never a hang
        size = os.fstat(f.fileno()).st_size
        if size > max_bytes:
            raise SGFError(f"SGF file {os.fspath(path)!r} too large: {size} bytes (limit {max_bytes})")
        raw = f.read(max_bytes + 1)
    if len(raw) > max_bytes:
        raise SGFError(f"SGF file {os.fspath(path)!r} too large: more than {max_bytes} bytes")
    return raw


def _check_counts(raw: bytes, max_nodes: int) -> None:
    """Refuse input with too many nodes or values before sgfmill builds them all (it holds every token)."""
    nodes = raw.count(b";")
    if nodes > max_nodes:
        raise SGFError(f"too many SGF nodes: up to {nodes} (limit {max_nodes})")
    values = raw.count(b"[")
    if values > _VALUES_PER_NODE * max_nodes:
        raise SGFError(f"too many SGF property values: up to {values} (limit {_VALUES_PER_NODE * max_nodes})")
    escapes = raw.count(b"\\")
    if escapes > MAX_ESCAPES:
        raise SGFError(f"too many escaped characters (backslashes) in SGF data: {escapes} (limit {MAX_ESCAPES})")


def _parse_message(e: ValueError) -> str:
    msg = str(e)
    if "no SGF data" in msg:
        return "not SGF: no game found (a game starts with '(;')"
    if "unexpected end" in msg:
        return "SGF data truncated or unbalanced: unexpected end of SGF data"
    return f"malformed SGF: {msg}"


def _show(raw: bytes, limit: int = 40) -> str:
    text = raw.decode("ascii", "backslashreplace")
    return text if len(text) <= limit else text[:limit] + "..."


def _root_size(props: dict) -> int:
    values = props.get("SZ")
    if values is None:
        return 19
    raw = values[0]
    if b":" in raw:
        raise SGFError(f"non-square board SZ[{_show(raw)}] is not supported")
    try:
        size = int(raw.strip())
    except ValueError:
        raise SGFError(f"bad board size SZ[{_show(raw)}]") from None
    if not MIN_SGF_SIZE <= size <= MAX_SGF_SIZE:
        raise SGFError(f"board size SZ[{size}] is not supported (must be {MIN_SGF_SIZE}..{MAX_SGF_SIZE})")
    return size


def _encoding_override(props: dict, raw: bytes, text: bool) -> str | None:
    """Encoding to force on sgfmill, or None to let it use CA (checked here) or its ISO-8859-1 default."""
    if text:
        return "UTF-8"
    values = props.get("CA")
    if values is not None:
        name = values[0].decode("ascii", "backslashreplace").strip()
        try:
            norm = sgf_properties.normalise_charset_name(name)
            ascii_ok = b"(;GM[1]) \\".decode(codecs.lookup(norm).name) == "(;GM[1]) \\"
        except (LookupError, ValueError, UnicodeError):
            raise SGFError(f"unknown or unsupported character set CA[{name}]") from None
        if not ascii_ok:
            raise SGFError(f"character set CA[{name}] is not ASCII-compatible")
        return norm if norm != name else None
    if raw.isascii():
        return None
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return "UTF-8"


def _read_coarse(coarse, raw: bytes, text: bool, max_moves: int) -> GameRecord:
    root_props = coarse.sequence[0]
    size = _root_size(root_props)
    encoding = _encoding_override(root_props, raw, text)
    try:
        game = sgf.Sgf_game.from_coarse_game_tree(coarse, override_encoding=encoding)
        return _Reader(game, size, max_moves).read()
    except SGFError:
        raise
    except RecursionError:
        raise SGFError("SGF nesting too deep") from None
    except (ValueError, LookupError) as e:
        raise SGFError(f"malformed SGF: {e}") from None


class _Reader:
    """Walks the main line of an ``Sgf_game`` into a GameRecord."""

    def __init__(self, game: sgf.Sgf_game, size: int, max_moves: int):
        self.game = game
        self.size = size
        self.max_moves = max_moves
        self.encoding = game.get_root().get_encoding()

    def read(self) -> GameRecord:
        nodes = self.game.main_sequence_iter()
        root = next(nodes)
        black, white = set(), set()
        self._setup(root, black, white, 0)
        first_player = self._player(root, 0)
        moves: list[Move] = []
        comments: list[str | None] = []
        events: list[SetupEvent] = []
        move = self._move(root, 1)
        if move is not None:
            moves.append(move)
            comments.append(None)
        root_comment = self._text(root, "C", simple=False)
        for index, node in enumerate(nodes, 1):
            if moves:
                ev = self._setup_event(node, len(moves), index)
                if ev is not None:
                    events.append(ev)
            else:
                self._setup(node, black, white, index)
                first_player = self._player(node, index) or first_player
            move = self._move(node, len(moves) + 1)
            comment = self._text(node, "C", simple=False)
            if move is None:
                if comment is not None:
                    log.debug("dropping the comment of SGF node %d, which has no move", index)
                continue
            moves.append(move)
            comments.append(comment)
            if len(moves) > self.max_moves:
                raise SGFError(f"too many moves: more than {self.max_moves}")
        root = self.game.get_root()
        return GameRecord(
            size=self.size,
            komi=self._komi(root),
            handicap=self._handicap(root),
            black_setup=sorted(black),
            white_setup=sorted(white),
            moves=moves,
            result=self._text(root, "RE"),
            black_player=self._text(root, "PB"),
            white_player=self._text(root, "PW"),
            black_rank=self._text(root, "BR"),
            white_rank=self._text(root, "WR"),
            date=self._text(root, "DT"),
            ruleset=self._text(root, "RU"),
            game_name=self._text(root, "GN"),
            comments=comments,
            first_player=first_player,
            root_comment=root_comment,
            setup_events=events,
        )

    # --- properties -------------------------------------------------------------------------------------------

    def _text(self, node, ident: str, *, simple: bool = True) -> str | None:
        if not node.has_property(ident):
            return None
        raw = node.get_raw(ident)
        breaks = raw.count(b"\n") + raw.count(b"\r") + raw.count(b"\\")
        if breaks > MAX_TEXT_BREAKS:  # sgfmill's unescaping holds an object for each
            raise SGFError(f"{ident} property has too many line breaks and escapes: {breaks} (limit {MAX_TEXT_BREAKS})")
        value = sgf_grammar.simpletext_value(raw) if simple else sgf_grammar.text_value(raw)
        try:
            return value.decode(self.encoding)
        except UnicodeDecodeError as e:
            raise SGFError(
                f"{ident} property is not valid {self.encoding} text ({e.reason} at byte {e.start}); "
                "check the CA property"
            ) from None

    def _komi(self, root) -> float:
        if not root.has_property("KM"):
            return 0.0
        try:
            komi = float(root.get("KM"))
        except ValueError:
            raise SGFError(f"bad komi KM[{_show(root.get_raw('KM'))}]") from None
        if not abs(komi) <= MAX_KOMI:
            raise SGFError(f"komi KM[{_show(root.get_raw('KM'))}] out of range (at most {MAX_KOMI:g} either way)")
        return komi

    def _handicap(self, root) -> int:
        if not root.has_property("HA"):
            return 0
        try:
            ha = int(root.get("HA"))
        except ValueError:
            raise SGFError(f"bad handicap HA[{_show(root.get_raw('HA'))}]") from None
        if not 0 <= ha < self.size * self.size:
            raise SGFError(f"handicap HA[{ha}] out of range on {self.size}x{self.size}")
        return ha

    def _player(self, node, index: int) -> int | None:
        if not node.has_property("PL"):
            return None
        try:
            return _COLOR_OF[node.get("PL")]
        except ValueError:
            raise SGFError(f"bad player to move PL[{_show(node.get_raw('PL'))}] in node {index}") from None

    def _setup_points(self, node, ident: str, index: int) -> set[Point]:
        if not node.has_property(ident):
            return set()
        presenter = node.get_presenter()
        out = set()
        n = self.size
        for raw in node.get_raw_list(ident):
            try:
                pts = presenter.interpret(ident, [raw])
            except ValueError:
                where = "the root" if index == 0 else f"node {index}"
                raise SGFError(
                    f"bad setup point {ident}[{_show(raw)}] in {where}: malformed or off the {n}x{n} board"
                ) from None
            out.update((n - 1 - r, c) for r, c in pts)  # sgfmill counts rows from the bottom
        return out

    def _setup(self, node, black: set, white: set, index: int) -> None:
        """Apply AB/AW/AE of a node before the first move to the root setup."""
        add_b, add_w, clear = (self._setup_points(node, ident, index) for ident in ("AB", "AW", "AE"))
        self._check_overlap(add_b, add_w, clear, index)
        black -= add_w | clear
        white -= add_b | clear
        black |= add_b
        white |= add_w

    def _setup_event(self, node, move_index: int, index: int) -> SetupEvent | None:
        add_b, add_w, clear = (self._setup_points(node, ident, index) for ident in ("AB", "AW", "AE"))
        player = self._player(node, index)
        if not (add_b or add_w or clear or player):
            return None
        self._check_overlap(add_b, add_w, clear, index)
        return SetupEvent(move_index, sorted(add_b), sorted(add_w), sorted(clear), player)

    def _check_overlap(self, add_b: set, add_w: set, clear: set, index: int) -> None:
        both = (add_b & add_w) | (add_b & clear) | (add_w & clear)
        if both:
            where = "the root" if index == 0 else f"node {index}"
            r, c = min(both)
            raise SGFError(f"setup point {rc_to_sgf(r, c)} given two values (AB/AW/AE) in {where}")

    def _move(self, node, number: int) -> Move | None:
        has_b, has_w = node.has_property("B"), node.has_property("W")
        if not (has_b or has_w):
            return None
        if has_b and has_w:
            raise SGFError(f"move {number}: one node holds both a B and a W move")
        ident = "B" if has_b else "W"
        values = node.get_raw_list(ident)
        if len(values) != 1:
            raise SGFError(f"move {number}: {ident} has {len(values)} values")
        raw = values[0]
        try:
            text = raw.decode("ascii")
            rc = sgf_to_rc(text, self.size)
        except (UnicodeDecodeError, InvalidMoveError) as e:
            why = str(e) if isinstance(e, InvalidMoveError) else "not ASCII"
            raise SGFError(f"move {number}: bad move {ident}[{_show(raw)}]: {why}") from None
        return (BLACK if has_b else WHITE, None if rc == PASS else rc)


# --- replaying -----------------------------------------------------------------------------------------------------


def _handicap_as_moves(record: GameRecord) -> bool:
    """True when Black's first ``handicap`` moves are the handicap stones (free handicap written as moves)."""
    h = record.handicap
    first = record.moves[:h]
    return len(first) == h and all(color == BLACK and point is not None for color, point in first)


def handicap_points(record: GameRecord) -> list[Point]:
    """The handicap stones :func:`replay` adds for ``HA`` without ``AB`` (the GTP fixed points), else ``[]``."""
    if record.handicap < 2 or record.black_setup or _handicap_as_moves(record):
        return []
    try:
        vertices = fixed_handicap_points(record.size, record.handicap)
    except ValueError as e:
        raise SGFError(f"HA[{record.handicap}] without AB stones: {e}") from None
    return [gtp_to_rc(v, record.size) for v in vertices]


def _usual_first_player(record: GameRecord) -> int:
    """The player to move at the start by convention alone (PL and the moves aside): White after handicap setup
    stones, else Black. :func:`record_from_board` writes ``PL`` when the start differs from it."""
    if record.handicap < 2:
        return BLACK
    if record.black_setup:
        return WHITE
    try:
        return WHITE if handicap_points(record) else BLACK
    except SGFError:
        return BLACK


def first_player(record: GameRecord) -> int:
    """Who is to move at the start of ``record``: its ``PL`` when given; else White after handicap setup stones
    (``HA`` >= 2 with ``AB`` stones or the fixed points, not handicap stones written as Black's first moves); else the
    colour of the first move; Black in a record without moves."""
    if record.first_player is not None:
        return record.first_player
    if _usual_first_player(record) == WHITE:
        return WHITE
    return record.moves[0][0] if record.moves else BLACK


def _setup(board: Board, black, white, empty, where: str) -> None:
    try:
        board.setup(black=black, white=white, empty=empty)
    except (IllegalMoveError, InvalidMoveError) as e:
        raise SGFError(f"bad setup {where}: {str(e).splitlines()[0]}") from None


def _replay_moves(record: GameRecord, board: Board) -> Iterator[tuple[int, int, Point | None]]:
    """Set up ``board`` (fresh, of the record's size) and play the record on it: yields ``(index, colour, point)``
    with the board before each move and ``board.to_move`` the mover, then plays the move (checked). Setup events
    come before the move they precede; those after the last move are applied when the generator is exhausted."""
    n = record.size
    black = list(record.black_setup) + handicap_points(record)
    if black or record.white_setup:
        _setup(board, black, record.white_setup, (), "in the root")
    board.to_move = first_player(record)
    events = list(record.setup_events)
    for i, (color, point) in enumerate(record.moves):
        while events and events[0].move_index <= i:
            _apply_event(board, events.pop(0))
        board.to_move = color  # a record may give one colour two moves in a row
        yield i, color, point
        try:
            board.play(point, color)
        except (IllegalMoveError, InvalidMoveError) as e:
            where = "pass" if point is None else f"{rc_to_gtp(*point, n)} (SGF {rc_to_sgf(*point)})"
            reason = getattr(e, "reason", str(e))
            raise SGFError(f"move {i + 1}: {color_name(color)} {where} is illegal: {reason}") from None
    for ev in events:
        _apply_event(board, ev)


def replay(record: GameRecord, *, ko_rule: str = "simple", suicide: bool = False) -> Board:
    """A Board with the record's setup stones, handicap and every move played (checked); the player to move at the
    start is :func:`first_player`.

    Raises SGFError naming the move number and vertex for an illegal move, or the setup for a bad setup."""
    board = Board(record.size, record.komi, ko_rule=ko_rule, suicide=suicide)
    for _ in _replay_moves(record, board):
        pass
    return board


def iter_positions(
    record: GameRecord, *, include_passes: bool = False, ko_rule: str = "simple", suicide: bool = False
) -> Iterator[tuple[Board, int, Point | None]]:
    """Replay ``record`` as :func:`replay` does and yield ``(board, colour, point)`` for every move with the board
    *before* it, then play it.

    The board is the same object every time and changes after the yield: do not keep it. ``board.to_move`` is the
    mover. Passes are played but only yielded with ``include_passes``. SGFError for an illegal move or setup."""
    board = Board(record.size, record.komi, ko_rule=ko_rule, suicide=suicide)
    for _, color, point in _replay_moves(record, board):
        if point is not None or include_passes:
            yield board, color, point


def _apply_event(board: Board, ev: SetupEvent) -> None:
    if ev.black or ev.white or ev.empty:
        _setup(board, ev.black, ev.white, ev.empty, f"after move {ev.move_index}")
    if ev.to_move is not None:
        board.to_move = ev.to_move


# --- writing -------------------------------------------------------------------------------------------------------


def record_from_board(board: Board, **meta) -> GameRecord:
    """A GameRecord of ``board``'s game: its moves since the last setup, and as setup the stones it held then.

    The setup position is :meth:`Board.start_position`. A handicap is inferred when that position has only
    black stones (2 or more) and White was to move (as after :meth:`Board.place_handicap`). ``meta`` sets or
    overrides any GameRecord field (``result=board.result()``, ``black_player=...``, ``handicap=...``)."""
    stones, start_to_move = board.start_position()
    n = board.size
    black = [(r, c) for r in range(n) for c in range(n) if stones[r, c] == BLACK]
    white = [(r, c) for r in range(n) for c in range(n) if stones[r, c] == WHITE]
    moves = []
    for color, vertex in board.moves:
        rc = gtp_to_rc(vertex, n)
        moves.append((color, None if rc == PASS else rc))
    fields: dict = {"size": n, "komi": board.komi, "black_setup": black, "white_setup": white, "moves": moves}
    fields["handicap"] = len(black) if len(black) >= 2 and not white and start_to_move == WHITE else 0
    fields.update(meta)
    record = GameRecord(**fields)
    if "first_player" not in meta and start_to_move != _usual_first_player(record):
        record.first_player = start_to_move
    return record


def dump_sgf(
    source: GameRecord | Board,
    *,
    comments: Sequence[str | None] | None = None,
    wrap: int | None = 79,
    **meta,
) -> bytes:
    """SGF bytes (UTF-8, ``CA[UTF-8]``) of a GameRecord or a Board (through :func:`record_from_board`).

    ``comments`` (aligned with the moves) replaces the record's; ``meta`` sets GameRecord fields."""
    if isinstance(source, Board):
        record = record_from_board(source, **meta)
    elif isinstance(source, GameRecord):
        record = dataclasses.replace(source, **meta) if meta else source
    else:
        raise TypeError(f"dump_sgf needs a GameRecord or a Board, got {type(source).__name__}")
    if comments is not None:
        record = dataclasses.replace(record, comments=list(comments))
    return _to_sgf_game(record).serialise(wrap=wrap)


def save_sgf(path: str | os.PathLike, source: GameRecord | Board, **kwargs) -> None:
    """Write :func:`dump_sgf` ``(source, **kwargs)`` to ``path`` atomically (:func:`igo.engine.fileio.atomic_write`);
    anything at ``path`` but a regular file is a :class:`~igo.engine.fileio.NotARegularFileError` (an OSError) and
    stays as it is."""
    check_write_target(path)  # a FIFO, device or directory there: NotARegularFileError, nothing written
    data = dump_sgf(source, **kwargs)
    atomic_write(path, data)
    log.debug("saved SGF game to %s (%d bytes)", path, len(data))


def _to_sgf_game(record: GameRecord) -> sgf.Sgf_game:
    n = record.size

    def pt(p: Point) -> tuple[int, int]:
        return n - 1 - p[0], p[1]  # sgfmill counts rows from the bottom

    game = sgf.Sgf_game(size=n, encoding="UTF-8")
    root = game.get_root()
    root.set("KM", record.komi)
    if record.handicap:
        root.set("HA", record.handicap)
    root.set_setup_stones([pt(p) for p in record.black_setup], [pt(p) for p in record.white_setup])
    if record.first_player is not None:
        root.set("PL", _SGF_COLOR[record.first_player])
    for ident, value in (
        ("RE", record.result),
        ("PB", record.black_player),
        ("PW", record.white_player),
        ("BR", record.black_rank),
        ("WR", record.white_rank),
        ("DT", record.date),
        ("RU", record.ruleset),
        ("GN", record.game_name),
        ("C", record.root_comment),
    ):
        if value is not None:
            root.set(ident, value)
    events = list(record.setup_events)
    node = root

    def add_events(before: int):
        nonlocal node
        while events and events[0].move_index <= before:
            ev = events.pop(0)
            node = node.new_child()
            node.set_setup_stones([pt(p) for p in ev.black], [pt(p) for p in ev.white], [pt(p) for p in ev.empty])
            if ev.to_move is not None:
                node.set("PL", _SGF_COLOR[ev.to_move])

    for i, ((color, point), comment) in enumerate(zip(record.moves, record.comments, strict=True)):
        add_events(i)
        node = node.new_child()
        if point is None:
            node.set_raw(_SGF_COLOR[color].upper(), b"")  # FF[4] pass; sgfmill's set_move would write "tt"
        else:
            node.set_move(_SGF_COLOR[color], pt(point))
        if comment is not None:
            node.set("C", comment)
    add_events(len(record.moves))
    return game


__all__ = [
    "GameRecord",
    "SetupEvent",
    "load_sgf",
    "load_sgf_file",
    "load_sgf_collection",
    "replay",
    "iter_positions",
    "first_player",
    "handicap_points",
    "record_from_board",
    "dump_sgf",
    "save_sgf",
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_MOVES",
    "DEFAULT_MAX_NODES",
    "MAX_ESCAPES",
    "MAX_SGF_SIZE",
    "MAX_TEXT_BREAKS",
]
