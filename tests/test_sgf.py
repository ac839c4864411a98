"""Tests of engine/sgf.py: round trips, a real-looking fixture game, hostile input, and random games as a property."""

from __future__ import annotations

import os
import random
import stat
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from igo.engine.board import BLACK, EMPTY, WHITE, Board
from igo.engine.coords import gtp_to_rc
from igo.engine.errors import SGFError
from igo.engine.sgf import (
    MAX_ESCAPES,
    MAX_KOMI,
    MAX_TEXT_BREAKS,
    GameRecord,
    SetupEvent,
    dump_sgf,
    first_player,
    iter_positions,
    load_sgf,
    load_sgf_collection,
    load_sgf_file,
    record_from_board,
    replay,
    save_sgf,
)

DATA = Path(__file__).parent / "data" / "sgf"
FIXTURE = DATA / "ko_and_captures.sgf"


def random_game(size: int, n_moves: int, seed: int, *, pass_rate: float = 0.05, board: Board | None = None) -> Board:
    """Play up to ``n_moves`` random legal moves (and the odd pass) on ``board`` or a fresh one."""
    rng = random.Random(seed)
    board = Board(size, 7.5) if board is None else board
    for _ in range(n_moves):
        legal = board.legal_moves()
        if not legal or rng.random() < pass_rate:
            board.play(None)
        else:
            board.play(rng.choice(legal))
    return board


def rc(vertex: str, size: int = 19) -> tuple[int, int]:
    return gtp_to_rc(vertex, size)


# --- round trips -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("komi", [6.5, 7.5, 0.0])
@pytest.mark.parametrize("size", [5, 9, 13, 19])
def test_round_trip_through_bytes(size, komi):
    board = Board(size, komi)
    if size >= 9:
        board.place_handicap(2)
    else:
        board.setup(black=[(0, 0)], white=[(size - 1, size - 1)])
    random_game(size, 3 * size, seed=size, board=board)
    board.play(None)
    board.play(None)
    comments = [None] * len(board.moves)
    comments[0] = "first move"
    comments[-1] = "both passed; a ] and a \\ and\na second line, ünïcode 围棋"
    record = record_from_board(board, result="B+R", black_player="Ann", white_player="Bob", comments=comments)
    assert (record.handicap == 2) == (size >= 9)
    data = dump_sgf(record)
    assert f"KM[{komi:g}]".encode() in data
    assert b"[]" in data  # passes are written empty
    back = load_sgf(data)
    assert back == record
    assert np.array_equal(replay(back).stones(), board.stones())
    assert replay(back).to_move == board.to_move


def test_round_trip_of_every_field():
    record = GameRecord(
        size=9,
        komi=-2.5,
        handicap=3,
        black_setup=[(2, 2), (6, 6), (2, 6)],
        white_setup=[(4, 4)],
        moves=[(WHITE, (4, 5)), (BLACK, None), (WHITE, (0, 0)), (BLACK, (8, 8))],
        result="W+0.5",
        black_player="黒",
        white_player="",
        black_rank="3k",
        white_rank="1d?",
        date="2024-01-02,03",
        ruleset="Chinese",
        game_name="all fields",
        comments=["", None, "c\nd"],
        first_player=WHITE,
        root_comment="root [comment]",
        setup_events=[SetupEvent(3, black=[(8, 0)], empty=[(0, 0)], to_move=WHITE), SetupEvent(4, white=[(7, 7)])],
    )
    assert record.comments == ["", None, "c\nd", None]  # padded to the moves
    assert record.black_setup == [(2, 2), (2, 6), (6, 6)]  # sorted
    back = load_sgf(dump_sgf(record))
    assert back == record
    board = replay(back)
    assert board.color_at((8, 0)) == BLACK and board.color_at((0, 0)) == EMPTY and board.color_at((7, 7)) == WHITE


def test_dump_board_with_meta_and_comment_override():
    board = random_game(9, 20, seed=3)
    data = dump_sgf(board, comments=["hello"], black_player="igo", result=board.result(), date="2024-05-06")
    back = load_sgf(data)
    assert back.black_player == "igo" and back.date == "2024-05-06" and back.result == board.result()
    assert back.comments[0] == "hello" and back.comments[1:] == [None] * (len(back.moves) - 1)
    assert back.komi == 7.5
    assert b"CA[UTF-8]" in data


def test_record_from_board_with_handicap_and_setup():
    board = Board(19, 0.5)
    vertices = board.place_handicap(4)
    record = record_from_board(board)
    assert record.handicap == 4 and record.first_player is None
    assert record.black_setup == sorted(rc(v) for v in vertices)
    back = load_sgf(dump_sgf(record))
    assert b"HA[4]" in dump_sgf(record)
    assert replay(back).to_move == WHITE

    board = Board.from_ascii(
        """
        . X .
        X O .
        . . .
        """,
        to_move=WHITE,
    )
    board.play((2, 1))
    record = record_from_board(board)
    assert record.black_setup == [(0, 1), (1, 0)] and record.white_setup == [(1, 1)]
    assert record.first_player == WHITE and record.handicap == 0 and record.moves == [(WHITE, (2, 1))]
    assert np.array_equal(replay(load_sgf(dump_sgf(record))).stones(), board.stones())


def test_save_and_load_file_atomically(tmp_path):
    board = random_game(9, 30, seed=1)
    path = tmp_path / "game.sgf"
    path.write_bytes(b"old contents")
    save_sgf(path, board, result="W+R")
    assert not (tmp_path / "game.sgf.tmp").exists()
    back = load_sgf_file(path)
    assert back.result == "W+R" and back == record_from_board(board, result="W+R")
    with pytest.raises(SGFError, match="too large"):
        load_sgf_file(path, max_bytes=10)


# --- the fixture game -------------------------------------------------------------------------------------------------


def test_fixture_game_replays_to_the_right_position():
    record = load_sgf_file(FIXTURE)
    assert (record.size, record.komi, record.handicap) == (19, 6.5, 0)
    assert (record.black_player, record.white_player) == ("李昌镐", "Lee Sedol")
    assert (record.black_rank, record.white_rank, record.date) == ("9d", "9p", "2003-05-12")
    assert (record.ruleset, record.result, record.game_name) == ("Japanese", "B+3.5", "Fixture: ko and captures")
    assert record.root_comment.startswith("A made-up game")
    assert len(record.moves) == 33  # the main line only: the variation B[aa] is not read
    assert record.moves[0] == (BLACK, rc("Q16")) and record.moves[-2:] == [(WHITE, None), (BLACK, None)]
    assert record.comments[12] == "Black takes the ko." and record.comments[-1] == "Game over."

    board = replay(record)
    assert board.captures == {BLACK: 4, WHITE: 2}
    stones = {v: board.color_at(v) for v in ("A10", "A11", "T19", "K10", "L10", "L11", "S19", "T18", "A12", "F17")}
    assert stones == {
        "A10": EMPTY,  # captured with A11
        "A11": EMPTY,
        "T19": EMPTY,  # captured by S19 + T18
        "K10": BLACK,  # the ko, filled
        "L10": BLACK,
        "L11": WHITE,
        "S19": WHITE,
        "T18": WHITE,
        "A12": BLACK,
        "F17": WHITE,
    }
    assert board.to_move == WHITE and board.is_over
    assert int(np.count_nonzero(board.stones() == BLACK)) == 14
    assert int(np.count_nonzero(board.stones() == WHITE)) == 11


def test_fixture_round_trips():
    record = load_sgf_file(FIXTURE)
    assert load_sgf(dump_sgf(record)) == record


# --- reading details -------------------------------------------------------------------------------------------------


def test_defaults_and_lenient_values():
    record = load_sgf(b"(;GM[1])")
    assert (record.size, record.komi, record.handicap, record.moves, record.result) == (19, 0.0, 0, [], None)
    assert load_sgf(b"(;KM[375])").komi == 375.0  # some files mean 3.75; read as written
    assert load_sgf(b"(;SZ[9];B[tt];W[])").moves == [(BLACK, None), (WHITE, None)]
    assert load_sgf("junk before (;SZ[9];B[ee]) junk after").moves == [(BLACK, (4, 4))]
    assert load_sgf(b"(;SZ[9]XX[unknown]MULTIGOGM[1];B[ee]ZZ[?])").moves == [(BLACK, (4, 4))]


def test_encodings():
    assert load_sgf(b"(;CA[ISO-8859-1]PB[J\xf6rg])").black_player == "Jörg"
    assert load_sgf(b"(;PB[J\xf6rg])").black_player == "Jörg"  # no CA: the SGF default, ISO-8859-1
    assert load_sgf("(;PB[李世乭])".encode()).black_player == "李世乭"  # no CA but valid UTF-8
    assert load_sgf("(;CA[ISO-8859-1]PB[李世乭])").black_player == "李世乭"  # text is already decoded
    assert load_sgf("(;CA[GB2312]PB[李])".encode("gb2312")).black_player == "李"


def test_setup_in_later_nodes():
    record = load_sgf(b"(;SZ[9];AB[aa][bb];AW[cc]AE[aa];B[ee];W[dd];AE[ee]AB[ai:bi]PL[W];W[ee])")
    assert record.black_setup == [(1, 1)] and record.white_setup == [(2, 2)]  # merged before the first move
    assert record.setup_events == [SetupEvent(2, black=[(8, 0), (8, 1)], empty=[(4, 4)], to_move=WHITE)]
    board = replay(record)
    assert board.color_at((4, 4)) == WHITE and board.color_at((8, 1)) == BLACK and board.to_move == BLACK
    assert load_sgf(dump_sgf(record)) == record


def test_handicap_without_setup_stones():
    board = replay(load_sgf(b"(;SZ[9]HA[2])"))
    assert board.color_at("C3") == BLACK and board.color_at("G7") == BLACK and board.to_move == WHITE
    # free handicap written as Black's first moves: no fixed stones are added
    board = replay(load_sgf(b"(;SZ[9]HA[2]KM[0.5];B[cc];B[ee];W[gg])"))
    assert int(np.count_nonzero(board.stones())) == 3 and board.to_move == BLACK
    assert replay(load_sgf(b"(;SZ[9]HA[2]AB[ee][cc])")).to_move == WHITE
    assert replay(load_sgf(b"(;SZ[9]HA[2]AB[ee][cc]PL[B])")).to_move == BLACK
    assert replay(load_sgf(b"(;SZ[9]AB[ee][cc])")).to_move == BLACK


def test_first_player_rule():
    """PL first; else White after handicap setup stones; else the colour of the first move; Black without moves."""
    assert first_player(load_sgf(b"(;SZ[9]PL[W];B[ee])")) == WHITE
    assert first_player(load_sgf(b"(;SZ[9]HA[2]AB[ee][cc];W[gg])")) == WHITE
    assert first_player(load_sgf(b"(;SZ[9]HA[2];W[ee])")) == WHITE  # the fixed points
    assert first_player(load_sgf(b"(;SZ[9]HA[2]KM[0.5];B[cc];B[ee];W[gg])")) == BLACK  # handicap as moves
    assert first_player(load_sgf(b"(;SZ[9];B[ee])")) == BLACK
    assert first_player(load_sgf(b"(;SZ[9])")) == BLACK


def test_white_moving_first_without_pl():
    """A record without PL or handicap whose first move is White's (a problem or a setup position) starts with White
    to move, in replay and in iter_positions alike (replay used to start such a game with Black to move)."""
    record = load_sgf(b"(;SZ[9]AB[cc][gg]AW[ee];W[ce];B[ec])")
    assert first_player(record) == WHITE
    board = replay(record)
    stones, start_to_move = board.start_position()
    assert start_to_move == WHITE and board.to_move == WHITE
    first, color, point = next(iter_positions(record))
    assert color == WHITE and first.to_move == WHITE and point == (4, 2)
    assert [c for _, c, _ in iter_positions(record)] == [WHITE, BLACK]
    # and it survives a round trip through a Board
    back = load_sgf(dump_sgf(board))
    assert back.moves == record.moves and replay(back).start_position()[1] == WHITE


def test_check_legal_off_loads_an_illegal_game():
    record = load_sgf(b"(;SZ[9];B[aa];W[aa])", check_legal=False)
    assert record.moves == [(BLACK, (0, 0)), (WHITE, (0, 0))]
    with pytest.raises(SGFError, match="move 2: white A9 .*occupied"):
        replay(record)


def test_collection():
    records = load_sgf_collection(b"(;SZ[9];B[ee])\n(;SZ[13]KM[7.5];B[gg];W[dd])")
    assert [(r.size, len(r.moves)) for r in records] == [(9, 1), (13, 2)]
    assert load_sgf(b"(;SZ[9];B[ee])(;SZ[13])").size == 9  # the first game only
    with pytest.raises(SGFError, match="game 2: .*occupied"):
        load_sgf_collection(b"(;SZ[9];B[ee])(;SZ[9];B[ee];W[ee])")


# --- hostile input ----------------------------------------------------------------------------------------------------

HOSTILE = [
    (b"", "no game found"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)), "no game found"),
    (b"(;SZ[9];B[aa];W[b", "truncated"),
    (b"(;SZ[9];B[aa];W[bb]", "truncated"),
    (b"(;SZ[9]()", "malformed SGF"),
    (b"(;SZ[9];[aa])", "malformed SGF"),
    (b"(;SZ[9];B[zz])", "'zz' is off the 9x9 board"),
    (b"(;SZ[9];B[a])", "invalid SGF point 'a'"),
    (b"(;SZ[9];B[AA])", "invalid SGF point"),
    (b"(;SZ[9];B[\xff\xfe])", "not ASCII"),
    (b"(;SZ[9];B[aa][bb])", "B has 2 values"),
    (b"(;SZ[9];B[ee];W[cc];B[ee])", "move 3: black E5 (SGF ee) is illegal: occupied"),
    (b"(;SZ[9];B[ee]W[dd])", "both a B and a W"),
    (b"(;SZ[20])", "SZ[20]"),
    (b"(;SZ[27])", "SZ[27]"),
    (b"(;SZ[0])", "SZ[0]"),
    (b"(;SZ[1])", "SZ[1]"),
    (b"(;SZ[19:13])", "non-square"),
    (b"(;SZ[nine])", "bad board size SZ[nine]"),
    (b"(;KM[six])", "bad komi KM[six]"),
    (b"(;KM[inf])", "bad komi KM[inf]"),
    (b"(;HA[two])", "bad handicap HA[two]"),
    (b"(;SZ[9]HA[81])", "HA[81] out of range"),
    (b"(;SZ[5]HA[3])", "HA[3] without AB stones"),
    (b"(;PL[X])", "PL[X]"),
    (b"(;SZ[9]AB[zz])", "AB[zz]"),
    (b"(;SZ[9]AW[a])", "AW[a]"),
    (b"(;SZ[9]AB[tt])", "AB[tt]"),
    (b"(;SZ[9];B[ee];AB[jj])", "AB[jj] in node 2"),
    (b"(;SZ[9]AB[aa]AW[aa])", "given two values"),
    (b"(;SZ[9]AB[aa]AW[ab][ba])", "without a liberty"),
    (b"(;SZ[9];B[ee];AB[aa]AW[ab][ba])", "after move 1"),
    (b"(;SZ[9]AB[ab][ba];W[aa])", "suicide"),
    (b"(;SZ[9]AB[ba][ab][bc]AW[ca][db][cc][bb];B[cb];W[bb])", "move 2: white B8 (SGF bb) is illegal: ko"),
    (b"(;CA[UTF-8]PB[\xff\xfe])", "PB property is not valid UTF-8"),
    (b"(;CA[UTF-8];B[aa]C[caf\xe9])", "C property is not valid UTF-8"),
    (b"(;CA[klingon])", "CA[klingon]"),
    (b"(;CA[UTF-16])", "not ASCII-compatible"),
]


@pytest.mark.parametrize(("data", "message"), HOSTILE, ids=[repr(d[:24]) for d, _ in HOSTILE])
def test_hostile_input_gives_sgf_error(data, message):
    with pytest.raises(SGFError) as info:
        load_sgf(data)
    assert message in str(info.value)


def test_size_limits():
    big = b"(;SZ[9]C[" + b"x" * 2000 + b"])"
    with pytest.raises(SGFError, match="too large"):
        load_sgf(big, max_bytes=1000)
    with pytest.raises(SGFError, match="too large"):
        load_sgf(big.decode(), max_bytes=1000)
    game = ("(;SZ[19]" + "".join(f";B[{c}{r}];W[{r}{c}]" for r in "ab" for c in "cdefghij") + ")").encode()
    assert len(load_sgf(game).moves) == 32
    with pytest.raises(SGFError, match="too many moves: more than 10"):
        load_sgf(game, max_moves=10)
    with pytest.raises(SGFError, match="too many SGF nodes"):
        load_sgf(b"(;" + b";" * 300_000 + b")")
    with pytest.raises(SGFError, match="too many SGF property values"):
        load_sgf(b"(;" + b"C[]" * 1_100_000 + b")")


def test_escapes_and_line_breaks_that_would_cost_memory_are_refused():
    """10 MB of escaped ``\\]`` in a comment took 9 s and 800 MB in sgfmill's tokeniser and unescaping (an object per
    escape or line break): more than MAX_ESCAPES backslashes in a file, or MAX_TEXT_BREAKS breaks and escapes in one
    text value, are refused before that work; up to the limits the text loads exactly."""
    head = b"(;GM[1]SZ[9];B[ee]C["
    with pytest.raises(SGFError, match=r"too many escaped characters \(backslashes\) in SGF data: 200001"):
        load_sgf(head + b"\\]" * (MAX_ESCAPES + 1) + b"])")
    for piece in (b"\n", b"\r\n", b"\\]", b"\r"):
        n = MAX_TEXT_BREAKS // (piece.count(b"\n") + piece.count(b"\r") + piece.count(b"\\")) + 1
        with pytest.raises(SGFError, match=r"C property has too many line breaks and escapes: 10000[0-9] "):
            load_sgf(head + piece * n + b"])")
    with pytest.raises(SGFError, match="PB property has too many line breaks"):
        load_sgf(b"(;GM[1]SZ[9]PB[" + b"\n" * (MAX_TEXT_BREAKS + 1) + b"])")
    record = load_sgf(head + b"\\]" * (MAX_TEXT_BREAKS // 2) + b"\n" * (MAX_TEXT_BREAKS // 2) + b"])")
    assert record.comments == ["]" * (MAX_TEXT_BREAKS // 2) + "\n" * (MAX_TEXT_BREAKS // 2)]
    record = load_sgf(head + b"x" * (9 * 1024 * 1024) + b"])")  # a long comment without breaks is no cost
    assert len(record.comments[0]) == 9 * 1024 * 1024


def test_komi_must_be_within_the_bound():
    for km in (b"1e308", b"-1e308", b"1000.5", b"99999"):
        with pytest.raises(SGFError, match=r"komi KM\[.*\] out of range"):
            load_sgf(b"(;GM[1]SZ[9]KM[" + km + b"])")
    assert load_sgf(b"(;GM[1]SZ[9]KM[-1000])").komi == -1000 == -MAX_KOMI


def test_files_are_read_and_written_only_when_regular(tmp_path):
    """A FIFO named ``*.sgf`` is refused at once (``open()`` would wait for a writer); saving over a FIFO, a
    directory or a device is refused and leaves it as it is."""
    fifo = tmp_path / "fifo.sgf"
    os.mkfifo(fifo)
    with pytest.raises(OSError, match="a FIFO, not a regular file"):
        load_sgf_file(fifo)
    (tmp_path / "dir.sgf").mkdir()
    with pytest.raises(OSError, match="a directory, not a regular file"):
        load_sgf_file(tmp_path / "dir.sgf")
    board = Board(9)
    board.play("E5")
    for target, kind in ((fifo, "a FIFO"), (tmp_path / "dir.sgf", "a directory")):
        with pytest.raises(OSError, match=f"{kind}; refusing to replace it"):
            save_sgf(target, board)
    assert stat.S_ISFIFO(os.stat(fifo).st_mode) and (tmp_path / "dir.sgf").is_dir()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dir.sgf", "fifo.sgf"]
    save_sgf(tmp_path / "game.sgf", board)
    assert load_sgf_file(tmp_path / "game.sgf").moves == [(BLACK, gtp_to_rc("E5", 9))]


def test_deep_nesting_is_an_error_or_a_load_never_a_recursion_error():
    depth = 100_000
    # no closing parens: truncated
    with pytest.raises(SGFError, match="truncated"):
        load_sgf(b"(;SZ[9]" + b"(;B[aa]" * depth)
    # balanced, every move on the same point: too many moves, or the second move is illegal
    nested = b"(;SZ[9]" + b"(;B[aa]" * depth + b")" * (depth + 1)
    with pytest.raises(SGFError, match="too many moves"):
        load_sgf(nested)
    with pytest.raises(SGFError, match="move 2: black A9 .*occupied"):
        load_sgf(nested, max_moves=depth)
    # balanced and legal (passes): a valid load
    passes = b"(;SZ[9]" + b"(;B[]" * depth + b")" * (depth + 1)
    record = load_sgf(passes, max_moves=depth, check_legal=False)
    assert len(record.moves) == depth and record.moves[0] == (BLACK, None)


def test_bad_records_are_refused_on_construction():
    with pytest.raises(ValueError, match="size"):
        GameRecord(size=25)
    with pytest.raises(ValueError, match="off the 9x9 board"):
        GameRecord(size=9, moves=[(BLACK, (9, 0))])
    with pytest.raises(ValueError, match="colour"):
        GameRecord(size=9, moves=[(3, (0, 0))])
    with pytest.raises(ValueError, match="comments"):
        GameRecord(size=9, comments=["too many"])
    with pytest.raises(ValueError, match="both colours"):
        GameRecord(size=9, black_setup=[(0, 0)], white_setup=[(0, 0)])


# --- property: random legal games round-trip --------------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(size=st.sampled_from([2, 3, 5, 7, 9, 13, 19]), n_moves=st.integers(0, 120), seed=st.integers(0, 2**32 - 1))
def test_random_legal_games_round_trip(size, n_moves, seed):
    board = random_game(size, n_moves, seed)
    record = load_sgf(dump_sgf(board))
    assert record.moves == record_from_board(board).moves
    again = replay(record)
    assert np.array_equal(again.stones(), board.stones())
    assert again.captures == board.captures and again.to_move == board.to_move


texts = st.text(st.characters(blacklist_categories=("Cc", "Cs")), max_size=30)


@settings(max_examples=60, deadline=None)
@given(
    names=st.tuples(texts, texts, texts),
    comments=st.lists(st.one_of(st.none(), texts, st.text("ab\n]\\[:", max_size=10)), min_size=4, max_size=4),
)
def test_text_round_trips(names, comments):
    moves = [(BLACK, (2, 2)), (WHITE, None), (BLACK, (0, 1)), (WHITE, (4, 4))]
    record = GameRecord(
        size=5, moves=moves, comments=comments, black_player=names[0], game_name=names[1], root_comment=names[2]
    )
    assert load_sgf(dump_sgf(record)) == record


@settings(max_examples=150, deadline=None)
@given(edits=st.lists(st.tuples(st.floats(0, 1), st.integers(0, 4), st.binary(max_size=4)), min_size=1, max_size=5))
def test_mutated_files_give_sgf_error_or_a_record(edits):
    raw = bytearray(FIXTURE.read_bytes())
    for where, cut, insert in edits:
        pos = int(where * len(raw))
        raw[pos : pos + cut] = insert
    try:
        record = load_sgf(bytes(raw))
    except SGFError:
        return
    assert isinstance(record, GameRecord)
