"""Tests of training/sgf_data.py: finding files, the held-out split, skip reasons for broken records, replaying
handicap / setup games position by position, encoding, the position stream, and ``igo corpus stats``."""

from __future__ import annotations

import dataclasses
import json
import os
import random
import shutil
from pathlib import Path

import numpy as np
import pytest

from igo.engine.board import BLACK, WHITE, Board
from igo.engine.features import FeatureEncoder
from igo.engine.sgf import GameRecord, SetupEvent, dump_sgf, iter_positions, load_sgf, replay
from igo.training.sgf_data import (
    LoadStats,
    PositionStream,
    corpus_komi,
    corpus_stats,
    encode_positions,
    find_sgf_files,
    is_holdout,
    load_game,
    load_game_detail,
    split_files,
    value_target,
)


def _find_gnugo() -> str | None:
    found = shutil.which("gnugo")
    if found:
        return found
    for candidate in ("/usr/games/gnugo", "/usr/local/games/gnugo"):
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


GNUGO = _find_gnugo()
needs_gnugo = [pytest.mark.gnugo, pytest.mark.skipif(GNUGO is None, reason="GNU Go (gnugo) is not installed")]


def random_board(size: int, n_moves: int, seed: int, *, board: Board | None = None, pass_rate: float = 0.05) -> Board:
    """Up to ``n_moves`` random legal moves (and the odd pass, never two in a row) on ``board`` or a fresh one."""
    rng = random.Random(seed)
    board = Board(size, 7.0, ko_rule="simple") if board is None else board
    last_pass = False
    for _ in range(n_moves):
        legal = board.legal_moves()
        if (not legal or rng.random() < pass_rate) and not last_pass:
            board.play(None)
            last_pass = True
        elif legal:
            board.play(rng.choice(legal))
            last_pass = False
    return board


def random_sgf(size: int, n_moves: int, seed: int, **meta) -> bytes:
    return dump_sgf(random_board(size, n_moves, seed), **meta)


def write(path: Path, data: bytes | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def check_replay(record: GameRecord) -> int:
    """Every board iter_positions yields equals a replay of the record cut before that move; returns the count."""
    on_board = [i for i, (_, p) in enumerate(record.moves) if p is not None]
    count = 0
    for k, (board, color, point) in enumerate(iter_positions(record)):
        i = on_board[k]
        assert (color, point) == record.moves[i]
        assert board.to_move == color
        cut = dataclasses.replace(
            record,
            moves=record.moves[:i],
            comments=[],
            setup_events=[ev for ev in record.setup_events if ev.move_index <= i],
        )
        np.testing.assert_array_equal(board.stones(), replay(cut).stones(), err_msg=f"before move {i + 1}")
        count += 1
    return count


# --- files and split -----------------------------------------------------------------------------------------------


def test_find_sgf_files_nested_sorted_case_insensitive(tmp_path):
    for rel in ("b.sgf", "a/x.SGF", "a/deeper/y.sgf", "a/notes.txt", "c/z.sgf.bak", "c/w.Sgf"):
        write(tmp_path / rel, "(;SZ[9])")
    files = find_sgf_files(tmp_path)
    rel = [f.relative_to(tmp_path).as_posix() for f in files]
    assert rel == sorted(rel)
    assert set(rel) == {"b.sgf", "a/x.SGF", "a/deeper/y.sgf", "c/w.Sgf"}


def test_find_sgf_files_does_not_follow_directory_links(tmp_path):
    write(tmp_path / "real" / "g.sgf", "(;SZ[9])")
    (tmp_path / "root").mkdir()
    write(tmp_path / "root" / "own.sgf", "(;SZ[9])")
    try:
        os.symlink(tmp_path / "real", tmp_path / "root" / "link")
    except OSError:
        pytest.skip("no symbolic links here")
    assert [f.name for f in find_sgf_files(tmp_path / "root")] == ["own.sgf"]


def test_find_sgf_files_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        find_sgf_files(tmp_path / "missing")
    f = write(tmp_path / "file.sgf", "(;SZ[9])")
    with pytest.raises(NotADirectoryError, match="not a directory"):
        find_sgf_files(f)


def test_holdout_is_stable_and_near_the_fraction():
    names = [f"games/{i // 100}/game-{i:06d}.sgf" for i in range(4000)]
    held = [n for n in names if is_holdout(n, 0.1)]
    assert held == [n for n in names if is_holdout(n, 0.1)]
    assert 300 < len(held) < 500
    # a larger fraction only adds files; 0 and 1 are all or none
    assert set(held) <= {n for n in names if is_holdout(n, 0.3)}
    assert not any(is_holdout(n, 0.0) for n in names[:50])
    assert all(is_holdout(n, 1.0) for n in names[:50])
    # fixed values: the split must not change between versions or machines (sha1 of the POSIX path)
    expected = [False, True, False, True, False, False, False, True]
    assert [is_holdout(f"game-{i:06d}.sgf", 0.5) for i in range(8)] == expected


def test_split_files_uses_paths_relative_to_root(tmp_path):
    for i in range(60):
        write(tmp_path / "c" / f"g{i}.sgf", "(;SZ[9])")
    files = find_sgf_files(tmp_path / "c")
    train, held = split_files(tmp_path / "c", files, 0.25)
    assert sorted(train + held) == files and not set(train) & set(held)
    assert held == [f for f in files if is_holdout(f.name, 0.25)]
    # the same corpus moved elsewhere splits the same way
    shutil.copytree(tmp_path / "c", tmp_path / "moved" / "c2")
    train2, held2 = split_files(tmp_path / "moved" / "c2", find_sgf_files(tmp_path / "moved" / "c2"), 0.25)
    assert [f.name for f in held2] == [f.name for f in held]


# --- load_game -----------------------------------------------------------------------------------------------------


BROKEN = {
    "truncated.sgf": (b"(;GM[1]SZ[9]KM[7];B[ee];W[cc];B[gg", "parse error"),
    "junk.sgf": (bytes(random.Random(3).randrange(256) for _ in range(400)), "parse error"),
    "illegal.sgf": (b"(;GM[1]SZ[9];B[aa];W[aa])", "illegal move"),
    "text.sgf": (b"This is not a game record.\nJust notes.\n", "parse error"),
    "empty.sgf": (b"", "parse error"),
    "nineteen.sgf": (b"(;GM[1]SZ[19];B[pd];W[dp])", "size 19, not 9"),
    "nomoves.sgf": (b"(;GM[1]SZ[9]AB[cc]AW[gg])", "no moves"),
    "passes.sgf": (b"(;GM[1]SZ[9];B[];W[])", "no moves"),
    "badsetup.sgf": (b"(;GM[1]SZ[9]AB[aa]AW[ab][ba];B[ee])", "bad setup"),
}


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_load_game_reasons(tmp_path, name):
    data, reason = BROKEN[name]
    path = write(tmp_path / name, data)
    record, why = load_game(path, 9)
    assert record is None and why == reason
    _, why2, detail = load_game_detail(path, 9)
    assert why2 == reason and detail


def test_load_game_unreadable_and_good(tmp_path):
    assert load_game(tmp_path / "missing.sgf") == (None, "unreadable")
    (tmp_path / "dir.sgf").mkdir()
    assert load_game(tmp_path / "dir.sgf") == (None, "unreadable")
    path = write(tmp_path / "good.sgf", random_sgf(9, 30, 1))
    record, why = load_game(path, 9)
    assert why is None and record.size == 9
    assert load_game(path)[1] is None
    assert load_game(path, 13) == (None, "size 9, not 13")


# --- iter_positions ------------------------------------------------------------------------------------------------


def test_iter_positions_plain_game_matches_replay():
    record = load_sgf(random_sgf(7, 60, 5))
    n = check_replay(record)
    assert n == sum(1 for _, p in record.moves if p is not None) > 20
    with_passes = list(iter_positions(record, include_passes=True))
    assert len(with_passes) == len(record.moves)


def test_iter_positions_handicap_with_ab_stones():
    board = Board(9, 0.5, ko_rule="simple")
    board.setup(black=[(2, 6), (6, 2), (4, 4)])
    board.to_move = WHITE
    random_board(9, 40, 7, board=board)
    data = dump_sgf(board, result="W+R")
    assert b"HA[3]" in data and b"AB[" in data
    record = load_sgf(data)
    assert record.handicap == 3 and record.moves[0][0] == WHITE
    first_board, color, _ = next(iter_positions(record))
    assert color == WHITE and first_board.to_move == WHITE
    assert int((first_board.stones() == BLACK).sum()) == 3
    assert check_replay(record) == sum(1 for _, p in record.moves if p is not None)


def test_iter_positions_handicap_without_ab_uses_fixed_points():
    record = load_sgf(b"(;GM[1]SZ[9]HA[2]KM[0.5];W[ee];B[cc];W[ge])")
    board, color, point = next(iter_positions(record))
    assert color == WHITE and point == (4, 4)
    assert int((board.stones() == BLACK).sum()) == 2  # the GTP fixed handicap points
    assert check_replay(record) == 3


def test_iter_positions_setup_stones_events_and_colour_switch():
    # corpus style: the opening as setup stones with PL, a setup event mid-game, and two moves by one colour
    record = GameRecord(
        size=7,
        komi=7.0,
        black_setup=[(1, 1), (5, 5)],
        white_setup=[(1, 5)],
        first_player=WHITE,
        moves=[(WHITE, (3, 3)), (BLACK, (3, 4)), (BLACK, (2, 2)), (WHITE, None), (WHITE, (4, 4)), (BLACK, (0, 0))],
        setup_events=[SetupEvent(move_index=4, black=[(6, 6)], empty=[(1, 1)], to_move=WHITE)],
    )
    record = load_sgf(dump_sgf(record))  # through SGF and back
    positions = [(b.stones().copy(), c, p) for b, c, p in iter_positions(record)]
    assert [c for _, c, _ in positions] == [WHITE, BLACK, BLACK, WHITE, BLACK]
    assert positions[0][0][1, 1] == BLACK and positions[0][0][1, 5] == WHITE
    assert positions[3][0][6, 6] == BLACK and positions[3][0][1, 1] == 0  # the event before move 5
    assert check_replay(record) == 5


@pytest.mark.gnugo
@pytest.mark.parametrize("seed", [0, 1])
def test_iter_positions_gnugo_game(tmp_path, seed):
    if GNUGO is None:
        pytest.skip("GNU Go (gnugo) is not installed")
    from igo.selfplay.corpus import CorpusConfig, openings, play_corpus_game

    cfg = CorpusConfig(engine=f"{GNUGO} --mode gtp --level 0", size=7, komi=7.0, opening_moves=2, seed=seed)
    game = play_corpus_game(cfg, seed, openings(7, 2, 2, seed)[seed])
    assert game.sgf is not None, game.error
    path = write(tmp_path / "g.sgf", game.sgf)
    record, why = load_game(path, 7)
    assert why is None
    first, color, _ = next(iter_positions(record))
    assert int((first.stones() != 0).sum()) == 2 and color == record.first_player
    assert check_replay(record) == sum(1 for _, p in record.moves if p is not None)


# --- encoding and the stream ---------------------------------------------------------------------------------------


def test_encode_positions_matches_encode_board(tmp_path):
    paths = [write(tmp_path / f"g{i}.sgf", random_sgf(7, 40, 10 + i)) for i in range(3)]
    write(tmp_path / "broken.sgf", b"(;GM[1]SZ[7];B[aa];W[aa])")
    files = find_sgf_files(tmp_path)
    planes, targets, values, stats = encode_positions(files, 7, chunk=16)
    assert planes.dtype == np.uint8 and planes.shape[1:] == (48, 7, 7) and targets.dtype == np.int64
    assert stats.games == 3 and stats.skipped == 1 and stats.skipped_by_reason == {"illegal move": 1}
    enc = FeatureEncoder("alphago48", 7)
    want_planes, want_targets = [], []
    for p in paths:
        for board, _, (r, c) in iter_positions(load_game(p)[0]):
            want_planes.append(enc.encode_board(board))
            want_targets.append(r * 7 + c)
    assert stats.positions == len(want_targets) == len(targets)
    np.testing.assert_array_equal(targets, want_targets)
    np.testing.assert_array_equal(planes, np.array(want_planes).astype(np.uint8))
    # the cap, and packed rows
    capped, t2, v2, _ = encode_positions(files, 7, 25, packed=True)
    assert len(t2) == 25 and capped.shape == (25, (48 * 49 + 7) // 8)
    np.testing.assert_array_equal(t2, targets[:25])
    np.testing.assert_array_equal(v2, values[:25])


def test_position_stream_epochs_symmetries_and_skips(tmp_path):
    for i in range(6):
        write(tmp_path / f"g{i}.sgf", random_sgf(7, 30, 20 + i))
    write(tmp_path / "bad.sgf", b"not sgf")
    write(tmp_path / "big.sgf", random_sgf(9, 10, 1))
    files = find_sgf_files(tmp_path)
    _, all_targets, _, st = encode_positions(files, 7)
    total = len(all_targets)
    stream = PositionStream(files, 7, batch_size=32, seed=1, shuffle_buffer=64, chunk=16)
    seen = 0
    for planes, target, _values in stream:
        assert planes.shape == (32, 48, 7, 7) and planes.dtype == np.uint8
        assert target.dtype == np.int64 and ((0 <= target) & (target < 49)).all()
        # the target point is empty and legal in the (transformed) planes: plane 3 is "empty"
        assert planes[np.arange(32), 3, target // 7, target % 7].all()
        seen += 32
        if seen > 3 * total:
            break
    assert stream.epoch >= 2
    assert stream.stats.skipped_by_reason["parse error"] >= 2 and stream.stats.skipped_by_reason["size 9, not 7"] >= 2
    assert isinstance(stream.stats, LoadStats)


def test_position_stream_no_usable_games(tmp_path):
    write(tmp_path / "bad.sgf", b"not sgf")
    stream = PositionStream(find_sgf_files(tmp_path), 7, batch_size=4, shuffle_buffer=8)
    with pytest.raises(ValueError, match="no usable 7x7 positions"):
        next(iter(stream))


# --- Zero planes and value targets ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("result", "black", "white"),
    [("B+R", 1, -1), ("B+3.5", 1, -1), ("b+t", 1, -1), ("W+R", -1, 1), ("W+0.5", -1, 1), ("0", 0, 0),
     ("Draw", 0, 0), ("Void", 0, 0), ("?", 0, 0), ("", 0, 0), (None, 0, 0)],
)  # fmt: skip
def test_value_target_is_the_result_for_the_player_to_move(result, black, white):
    assert (value_target(result, BLACK), value_target(result, WHITE)) == (black, white)


def test_encode_positions_zero_planes_and_value_targets(tmp_path):
    """zero8 planes as the player's encoder makes them; z = +1 for the winner to move, -1 for the loser; no target
    (0) in a draw or a game without a result, counted as undecided."""
    won = write(tmp_path / "a-black-wins.sgf", random_sgf(7, 30, 5, result="B+R"))
    lost = write(tmp_path / "b-white-wins.sgf", random_sgf(7, 30, 6, result="W+2.5"))
    write(tmp_path / "c-draw.sgf", random_sgf(7, 20, 7, result="0"))
    write(tmp_path / "d-unknown.sgf", random_sgf(7, 20, 8))
    files = find_sgf_files(tmp_path)
    planes, targets, values, stats = encode_positions(files, 7, features="zero8", chunk=8)
    enc = FeatureEncoder("zero8", 7)
    want_planes, want_targets, want_values, colours = [], [], [], []
    for path in files:
        record = load_game(path)[0]
        for board, color, point in iter_positions(record, include_passes=True):
            want_planes.append(enc.encode_board(board))
            want_targets.append(49 if point is None else point[0] * 7 + point[1])  # a Zero net learns passes too
            winner = {won: BLACK, lost: WHITE}.get(path)
            want_values.append(0 if winner is None else (1 if color == winner else -1))
            colours.append(color)
    assert planes.shape == (len(want_targets), 17, 7, 7) and values.dtype == np.int8
    np.testing.assert_array_equal(planes, np.array(want_planes).astype(np.uint8))
    np.testing.assert_array_equal(targets, want_targets)
    np.testing.assert_array_equal(values, want_values)
    colours = np.array(colours)
    first = stats.positions - stats.positions_undecided  # the two decided games come first (sorted names)
    assert (values[:first][colours[:first] == BLACK] != 0).all() and set(values[:first]) == {-1, 1}
    assert (values[first:] == 0).all() and first > 0
    assert stats.games == 4 and stats.undecided == 2 and stats.to_dict()["undecided"] == 2
    # packed rows have the zero8 width
    packed, _, _, _ = encode_positions(files, 7, 5, packed=True, features="zero8")
    assert packed.shape == (5, (17 * 49 + 7) // 8)


def test_position_stream_keeps_value_targets_with_their_samples(tmp_path):
    """Through the shuffle buffer and the symmetries a sample keeps its own z: in games Black won, z = +1 exactly
    when the colour plane (Black to move) is ones."""
    for i in range(5):
        write(tmp_path / f"g{i}.sgf", random_sgf(7, 30, 30 + i, result="B+R"))
    write(tmp_path / "draw.sgf", random_sgf(7, 30, 50, result="Draw"))
    stream = PositionStream(find_sgf_files(tmp_path), 7, batch_size=32, seed=2, shuffle_buffer=64, chunk=16,
                            features="zero8")  # fmt: skip
    batches = iter(stream)
    seen = set()
    for _ in range(10):
        planes, target, z = next(batches)
        assert planes.shape == (32, 17, 7, 7) and z.dtype == np.int8
        black_to_move = planes[:, 16].reshape(32, -1)
        assert (black_to_move.min(axis=1) == black_to_move.max(axis=1)).all()
        decided = z != 0
        np.testing.assert_array_equal(z[decided], np.where(black_to_move[decided, 0] == 1, 1, -1))
        seen |= set(z.tolist())
        # the target is a pass (49) or empty in the (transformed) current position: neither own nor opponent stones
        on = target < 49
        rows, pts = np.arange(32)[on], target[on]
        assert not planes[rows, 0, pts // 7, pts % 7].any() and not planes[rows, 1, pts // 7, pts % 7].any()
    assert seen == {-1, 0, 1}
    assert stream.stats.undecided >= 1


def test_corpus_komi_most_common_of_the_size(tmp_path):
    for i, km in enumerate([6.5, 6.5, 7.5]):
        write(tmp_path / f"k{i}.sgf", random_sgf(7, 10, i, komi=km))
    write(tmp_path / "nine.sgf", random_sgf(9, 10, 1, komi=0.5))
    write(tmp_path / "nine2.sgf", random_sgf(9, 10, 2, komi=0.5))
    write(tmp_path / "no-km.sgf", b"(;GM[1]SZ[7];B[dd];W[cc])")  # no KM: komi 0, as when read
    write(tmp_path / "comment.sgf", b"(;GM[1]SZ[7]KM[6.5];B[dd]C[KM[99] is not the komi])")
    write(tmp_path / "broken.sgf", b"(;GM[1]SZ[7]KM[lots];B[dd])")
    write(tmp_path / "nineteen.sgf", b"(;GM[1]KM[5.5];B[dd])")  # no SZ: 19x19
    files = find_sgf_files(tmp_path)
    komi, counts = corpus_komi(files, 7)
    assert komi == 6.5 and counts == {6.5: 3, 7.5: 1, 0.0: 1}
    assert corpus_komi(files, 9)[0] == 0.5 and corpus_komi(files, 19)[0] == 5.5
    assert corpus_komi(files, 13) == (None, {})


# --- corpus statistics ---------------------------------------------------------------------------------------------


@pytest.fixture
def crafted(tmp_path):
    root = tmp_path / "corpus"
    a = random_sgf(9, 30, 1, result="B+R")
    b = random_sgf(9, 50, 2, result="W+3.5")
    c = random_sgf(7, 20, 3, result="0")
    board = Board(9, 0.5, ko_rule="simple")
    board.setup(black=[(2, 6), (6, 2)])
    board.to_move = WHITE
    h = dump_sgf(random_board(9, 25, 4, board=board))
    write(root / "a.sgf", a)
    write(root / "sub" / "b.sgf", b)
    write(root / "sub" / "c.SGF", c)
    write(root / "sub" / "deep" / "h.sgf", h)
    write(root / "illegal.sgf", b"(;GM[1]SZ[9];B[aa];W[aa])")
    write(root / "sub" / "empty.sgf", b"")
    write(root / "junk.sgf", bytes(range(256)))
    write(root / "readme.txt", "not a game")
    records = [load_sgf(x) for x in (a, b, c, h)]
    return root, records


def test_corpus_stats_numbers(crafted):
    root, records = crafted
    st = corpus_stats(root, size=9)
    assert st.files == 7 and st.games == 4 and st.skipped == 3
    assert st.skipped_by_reason == {"illegal move": 1, "parse error": 2}
    assert any(e.startswith("illegal.sgf: illegal move") for e in st.errors)
    assert any(e.startswith("sub/empty.sgf: parse error") for e in st.errors)
    assert st.sizes == {7: 1, 9: 3}
    assert st.handicap_games == 1
    moves = [len(r.moves) for r in records]
    assert (st.moves_min, st.moves_max) == (min(moves), max(moves))
    assert st.moves_mean == pytest.approx(sum(moves) / 4, abs=0.01)
    positions = [sum(1 for _, p in r.moves if p is not None) for r in records]
    assert st.positions == sum(positions)
    assert st.results == {"black_wins": 1, "white_wins": 1, "draws": 1, "resignations": 1, "unknown": 1}
    assert st.komi == {"7": 3, "0.5": 1}
    assert st.usable == 3 and st.usable_positions == positions[0] + positions[1] + positions[3]
    d = st.to_dict()
    assert json.loads(json.dumps(d)) == d
    text = "\n".join(st.lines(show_errors=1))
    assert "7 SGF files, 4 games read, 3 skipped" in text
    assert "usable 9x9 games: 3" in text and "9x9 3" in text and "(2 more)" in text
    assert corpus_stats(root).usable is None


def test_corpus_stats_cli(crafted, capsys):
    from igo.cli import main

    root, _ = crafted
    assert main(["corpus", "stats", str(root), "--size", "9"]) == 0
    out = capsys.readouterr().out
    assert "4 games read" in out and "illegal.sgf: illegal move" in out and "usable 9x9 games: 3" in out
    assert main(["corpus", "stats", str(root), "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["games"] == 4 and d["sizes"] == {"7": 1, "9": 3} and d["skipped_by_reason"]["parse error"] == 2
    assert main(["corpus", "stats", str(root / "missing")]) == 1
    assert "does not exist" in capsys.readouterr().err


def test_zero_data_keeps_the_experts_passes_alphago_data_leaves_them_out(tmp_path):
    sgf = "(;GM[1]FF[4]SZ[7]KM[7]RE[B+3];B[dd];W[cc];B[];W[ee];B[];W[])"
    files = [write(tmp_path / "passes.sgf", sgf)]
    _, targets, values, stats = encode_positions(files, 7, features="zero8")
    assert list(targets) == [3 * 7 + 3, 2 * 7 + 2, 49, 4 * 7 + 4, 49, 49] and stats.positions_skipped == 0
    assert list(values) == [1, -1, 1, -1, 1, -1]
    # the pass stays pass under every symmetry (the stream's target map)
    from igo.training.sgf_data import move_map

    assert all(move_map(7, k)[49] == 49 for k in range(8))
    _, lee_targets, _, lee_stats = encode_positions(files, 7)
    assert list(lee_targets) == [3 * 7 + 3, 2 * 7 + 2, 4 * 7 + 4] and lee_stats.positions_skipped == 3
