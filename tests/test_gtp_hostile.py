"""Hostile input against igo's GTP engine and its SGF reading: special files (FIFOs, devices) never replaced or
waited on, a failed streamed genmove answered ``?``, clock/komi/interval numbers bounded, boards SGF cannot hold
refused clearly, SGF text that would cost memory refused before it is unescaped, and seeded fuzzers of
:meth:`GTPEngine.handle` (bounded here; ``IGO_LONG_FUZZ=1`` runs a longer one)."""

from __future__ import annotations

import io
import os
import random
import re
import stat
import threading

import pytest

from igo import cli
from igo.engine import sgf as sgf_module
from igo.engine.limits import MAX_KOMI
from igo.engine.player import MCTSPlayer, PlayerConfig, RandomPlayer
from igo.gtp.engine import MAX_LINE_BYTES, GTPEngine

from .gtp_helpers import fails, game_state, ok

YEAR = 365 * 24 * 3600


def search_engine(size: int = 7) -> GTPEngine:
    return GTPEngine(MCTSPlayer(PlayerConfig(playouts=8, seed=1, resign_threshold=0.0)), size=size)


def no_hang(call, fifo=None):
    """``call()``'s result, run in a thread; fails (instead of hanging the test run) when it is still waiting after
    60 s, and then releases a reader blocked in ``open()`` of ``fifo`` by opening it for writing."""
    out = {}

    def run():
        try:
            out["value"] = call()
        except BaseException as e:  # noqa: BLE001 - handed to the test
            out["error"] = e

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(60)
    if thread.is_alive():
        if fifo is not None:
            try:
                os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
            except OSError:
                pass
        pytest.fail(f"{call} hung (a FIFO opened for reading waits for a writer)")
    if "error" in out:
        raise out["error"]
    return out.get("value")


# --- 5b: special files are never replaced, never waited on -----------------------------------------------------------


def test_printsgf_never_replaces_a_fifo_or_a_directory(tmp_path):
    engine = GTPEngine(RandomPlayer(seed=1), size=9)
    ok(engine, "play b E5")
    fifo = tmp_path / "game.sgf"
    os.mkfifo(fifo)
    (tmp_path / "dir.sgf").mkdir()
    for target, kind in ((fifo, "a FIFO"), (tmp_path / "dir.sgf", "a directory")):
        message = fails(engine, f"printsgf {target}")
        assert message.startswith(f"cannot save file: {target}: {kind}"), message
    assert stat.S_ISFIFO(os.stat(fifo).st_mode) and (tmp_path / "dir.sgf").is_dir()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dir.sgf", "game.sgf"]  # no .tmp left
    ok(engine, f"printsgf {tmp_path / 'real.sgf'}")  # a regular file is still written
    assert (tmp_path / "real.sgf").read_bytes().startswith(b"(;")


def test_printsgf_dev_null_is_refused_before_anything_is_written(monkeypatch):
    """``/dev/null`` (a device): refused before a byte is written (atomic_write would replace the node as root)."""

    def must_not_write(*args, **kwargs):
        raise AssertionError("printsgf tried to write over a device")

    monkeypatch.setattr(sgf_module, "atomic_write", must_not_write)
    engine = GTPEngine(RandomPlayer(seed=1), size=9)
    assert fails(engine, "printsgf /dev/null").startswith("cannot save file: /dev/null: a character device")
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_sgf_readers_refuse_a_fifo_at_once(tmp_path, capsys):
    """``igo show``, ``loadsgf`` and the corpus reader (all through engine/sgf.py's file reader) on a FIFO named
    ``*.sgf``: a clear error, no wait for a writer."""
    from igo.training.sgf_data import load_game_detail

    fifo = tmp_path / "fifo.sgf"
    os.mkfifo(fifo)
    with pytest.raises(OSError, match="a FIFO, not a regular file"):
        no_hang(lambda: sgf_module.load_sgf_file(fifo), fifo)
    assert no_hang(lambda: cli.main(["show", str(fifo)]), fifo) == 1
    err = capsys.readouterr().err
    assert err.startswith("igo show: error: ") and "a FIFO, not a regular file" in err and err.count("\n") == 1, err
    record, reason, detail = no_hang(lambda: load_game_detail(fifo), fifo)
    assert record is None and reason == "unreadable" and "FIFO" in detail
    engine = GTPEngine(RandomPlayer(seed=1), size=9)
    assert no_hang(lambda: fails(engine, f"loadsgf {fifo}"), fifo) == "cannot load file"
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)


# --- 6b: a failed genmove_analyze is a "?" reply ----------------------------------------------------------------------


class FailingSearch(MCTSPlayer):
    """A search player whose search fails before it reports anything (as with non-finite network outputs)."""

    def genmove(self, board, color, **kwargs):
        raise FloatingPointError("the network gave non-finite values")


@pytest.mark.parametrize("command", ["lz-genmove_analyze b 10", "kata-genmove_analyze b 10", "lz-genmove_analyze b",
                                     "kata-genmove_analyze w 0 ownership true"])  # fmt: skip
def test_failed_genmove_analyze_is_an_error_reply(command):
    engine = GTPEngine(FailingSearch(PlayerConfig(playouts=8, seed=1)), size=7)
    ok(engine, "play b D4")
    before = game_state(engine)
    reply = engine.handle(f"5 {command}")
    assert reply == "?5 internal error: FloatingPointError: the network gave non-finite values\n\n", reply
    assert game_state(engine) == before
    out = io.StringIO()  # through serve(): nothing but the "?" reply goes out
    engine.serve(io.StringIO(f"6 {command}\nquit\n"), out)
    assert out.getvalue() == "?6 internal error: FloatingPointError: the network gave non-finite values\n\n= \n\n"


def test_genmove_analyze_still_streams_and_plays():
    engine = search_engine()
    reply = engine.handle("3 kata-genmove_analyze b 1")
    lines = reply[:-2].split("\n")
    assert lines[0] == "=3" and all(ln.startswith("info move ") for ln in lines[1:-1]), lines[:3]
    assert re.fullmatch(r"play [A-HJ-Z][0-9]+", lines[-1]) and len(engine.board.moves) == 1
    reply = engine.handle("4 lz-genmove_analyze w")
    assert re.fullmatch(r"=4\nplay [A-HJ-Z][0-9]+\n\n", reply), reply


# --- 7a: clock, komi, counts and intervals are bounded -------------------------------------------------------------


@pytest.mark.parametrize(
    "line",
    [
        "time_settings 1e308 0 0",
        "time_settings 10 1e308 1",
        f"time_settings {YEAR + 1} 0 0",
        "time_settings 10 5 10001",
        "time_settings 1 1 2147483648000000000000000",
        "time_left b 1e306 0",
        f"time_left w {YEAR + 0.5} 0",
        "time_left b 10 1000000",
        "kgs-time_settings absolute 1e308",
        "kgs-time_settings byoyomi 1e308 1e308 1",
        "kgs-time_settings byoyomi 0 30 99999999999",
        "kgs-time_settings canadian 1e308 1e308 1",
        "kgs-time_settings canadian 600 1e300 25",
        "komi 1e308",
        "komi -1e308",
        "komi 1000.5",
        "komi 99999",
        "lz-analyze b 99999999999999999999",
        "kata-analyze b interval 3153600001",
        "lz-genmove_analyze b 1e5",
        "kata-genmove_analyze b interval 99999999999999999999999",
    ],
)
def test_huge_numbers_are_refused_and_genmove_still_works(line):
    engine = search_engine()
    ok(engine, "kgs-time_settings byoyomi 60 5 3")
    assert fails(engine, line) == "syntax error"
    assert re.fullmatch(r"[A-HJ-Z][0-9]+|pass", ok(engine, "genmove b"))


@pytest.mark.parametrize(
    "line",
    [
        f"time_settings {YEAR} 0 0",
        f"time_settings {YEAR} {YEAR} 1",
        f"time_settings 0 {YEAR} 10000",
        f"kgs-time_settings byoyomi {YEAR} {YEAR} 10000",
        f"kgs-time_settings canadian {YEAR} {YEAR} 10000",
        f"kgs-time_settings absolute {YEAR}",
    ],
)
def test_the_largest_clock_is_accepted_and_genmove_answers(line):
    """A year of seconds and 10,000 periods or stones are taken; genmove then answers a move (was
    ``? internal error: OverflowError`` for 1e308)."""
    engine = search_engine()
    ok(engine, line)
    assert re.fullmatch(r"[A-HJ-Z][0-9]+|pass", ok(engine, "genmove b"))
    ok(engine, f"time_left w {YEAR} 0")
    ok(engine, "time_left b 0 10000")
    assert re.fullmatch(r"[A-HJ-Z][0-9]+|pass", ok(engine, "genmove w"))


def test_komi_is_bounded():
    assert MAX_KOMI == sgf_module.MAX_KOMI == 1000  # GTP's komi and SGF's KM share the bound
    engine = GTPEngine(RandomPlayer(seed=1), size=9)
    for good in ("1000", "-1000", "999.5", "0", "-7.5", "1e3"):
        ok(engine, f"komi {good}")
        assert engine.board.komi == float(good)
    for bad in ("1e308", "1000.001", "-1e4", "1e999"):
        assert fails(engine, f"komi {bad}") == "syntax error"
    ok(engine, "komi 7.5")
    ok(engine, "play b pass")
    ok(engine, "play w pass")
    assert ok(engine, "final_score") == "W+7.5"


def test_loadsgf_refuses_a_komi_out_of_range(tmp_path):
    engine = GTPEngine(RandomPlayer(seed=1), size=9)
    path = tmp_path / "komi.sgf"
    path.write_bytes(b"(;GM[1]SZ[9]KM[1e308];B[ee])")
    assert fails(engine, f"loadsgf {path}") == "cannot load file"
    path.write_bytes(b"(;GM[1]SZ[9]KM[-1000];B[ee])")
    ok(engine, f"loadsgf {path}")
    assert engine.board.komi == -1000


# --- the fuzzer ------------------------------------------------------------------------------------------------------

COLORS = ["b", "w", "B", "white", "BLACK", "x", "é", "", "bl\x00ack", "Ｂ"]
VERTICES = ["A1", "D4", "E5", "T19", "Z25", "Z99", "I5", "pass", "PASS", "resign", "A0", "A100", "٣٣", "a1", "J9",
            "C3", "H8", "e\u0301", "A-1", "0"]  # fmt: skip
NUMBERS = ["0", "1", "-1", "2", "9", "19", "25", "26", "7.5", "-7.5", "1e308", "-1e308", "1e306", "1e-308", "nan",
           "inf", "-inf", "1e999", "9" * 100, "9" * 101, "1_0", "0x10", "٣", "²", "+5", ".5", "5.", "1e5", "31536000",
           "31536001", "100000", "-0", "3600", "100", "2147483648", "18446744073709551616"]  # fmt: skip
WORDS = ["none", "absolute", "byoyomi", "canadian", "fischer", "true", "false", "interval", "minmoves", "maxmoves",
         "ownership", "avoid", "alive", "dead", "seki", "-", "\u202e", "\ufeff", "日本語", "\x00", "#", "\t", "=", "?",
         "play", "quit"]  # fmt: skip
TEMPLATES = [
    "play {c} {v}", "genmove {c}", "reg_genmove {c}", "kgs-genmove_cleanup {c}", "komi {n}", "boardsize {n}",
    "clear_board", "undo", "fixed_handicap {n}", "place_free_handicap {n}", "set_free_handicap {v} {v} {v}",
    "time_settings {n} {n} {n}", "time_left {c} {n} {n}", "kgs-time_settings {w} {n} {n} {n}",
    "kgs-time_settings absolute {n}", "kgs-time_settings byoyomi {n} {n} {n}", "kgs-time_settings canadian {n} {n} {n}",
    "final_score", "final_status_list {w}", "showboard", "printsgf", "printsgf -", "printsgf {f}", "loadsgf {f}",
    "loadsgf {f} {n}", "lz-analyze {c} {n}", "kata-analyze {n} interval {n} maxmoves {n} minmoves {n}",
    "kata-analyze {c} {n} ownership {w}", "lz-genmove_analyze {c} {n}", "kata-genmove_analyze {c} {n}",
    "known_command {w}", "list_commands", "protocol_version", "name", "version", "igo-score", "igo-ownership",
    "igo-best_moves", "gogui-analyze_commands",
]  # fmt: skip
FILES = ["game.sgf", "fifo.sgf", "missing.sgf", "sub", "sub/x.sgf", "big.sgf", "comment.sgf", "-", "\x00.sgf"]
REPLY = re.compile(r"\A[=?][0-9]*(?: |\n)")
STREAMED = ("lz-analyze", "kata-analyze", "lz-genmove_analyze", "kata-genmove_analyze")


def _noise(rng: random.Random, text: str) -> str:
    """``text`` with some control characters, unicode or a long run inserted."""
    for _ in range(rng.choice((0, 0, 0, 1, 2))):
        at = rng.randrange(len(text) + 1)
        piece = rng.choice(["\x00", "\x01", "\x7f", "\t", "\r", "\x1b[31m", "é", "\U0001f600", "\ud800", " ", "#x",
                            "\u2028", "9" * 30])  # fmt: skip
        text = text[:at] + piece + text[at:]
    return text


def fuzz_lines(seed: int, count: int) -> list[str]:
    """``count`` seeded lines: commands from templates filled with good and bad arguments, random tokens, noise,
    ids, comments and now and then an overlong line."""
    rng = random.Random(seed)
    lines = []
    for _ in range(count):
        roll = rng.random()
        if roll < 0.01:
            line = rng.choice(["play b ", "x", "komi "]) + "9" * (MAX_LINE_BYTES + rng.randrange(10))
        elif roll < 0.08:
            pool = COLORS + VERTICES + NUMBERS + WORDS
            line = " ".join(rng.choice(pool) for _ in range(rng.randrange(1, 5)))
        else:
            template = rng.choice(TEMPLATES)
            line = re.sub(
                r"\{(\w)\}",
                lambda m: rng.choice({"c": COLORS, "v": VERTICES, "n": NUMBERS, "w": WORDS, "f": FILES}[m.group(1)]),
                template,
            )
            if rng.random() < 0.1:  # drop or add an argument
                parts = line.split(" ")
                line = " ".join(parts[:-1]) if rng.random() < 0.5 else f"{line} {rng.choice(NUMBERS + WORDS)}"
        if rng.random() < 0.2:
            line = f"{rng.randrange(1000)} {line}"
        lines.append(_noise(rng, line))
    return lines


def _fuzz_dir(path) -> None:
    """The files the fuzz lines name (relative to the working directory): a game, a FIFO, a directory, a file too
    large, a comment that costs memory to unescape."""
    os.mkfifo(path / "fifo.sgf")
    (path / "sub").mkdir()
    (path / "game.sgf").write_bytes(b"(;GM[1]SZ[9]KM[6.5];B[ee];W[cc];B[gg])")
    (path / "big.sgf").write_bytes(b"(;GM[1]SZ[9]C[" + b"x" * (11 * 1024 * 1024) + b"])")
    (path / "comment.sgf").write_bytes(b"(;GM[1]SZ[9];B[ee]C[" + b"\\]" * 300_000 + b"])")


def run_fuzz(engine: GTPEngine, lines: list[str]) -> dict:
    """Send ``lines`` to ``engine.handle`` and check every reply; returns counts (internal errors are counted and
    listed, the other checks assert)."""
    counts = {"lines": len(lines), "ok": 0, "failed": 0, "none": 0, "internal": 0, "internal_lines": []}
    for line in lines:
        before = game_state(engine)
        engine.quit_requested = False
        reply = engine.handle(line)  # never raises
        if reply is None:
            counts["none"] += 1
            assert game_state(engine) == before, line
            continue
        assert isinstance(reply, str) and reply.endswith("\n\n"), (line[:200], reply[-200:])
        assert REPLY.match(reply), (line[:200], reply[:200])
        streamed = reply.startswith("=") and reply.split(" ", 1)[0].split("\n", 1)[0] != reply.split("\n", 1)[0]
        if not streamed:
            assert "\n\n" not in reply[:-2], (line[:200], reply[:300])
        if "internal error" in reply:
            counts["internal"] += 1
            counts["internal_lines"].append(line[:120])
        if reply.startswith("?"):
            counts["failed"] += 1
            assert "\n" not in reply[:-2], (line[:200], reply[:300])
            assert game_state(engine) == before, f"{line[:200]!r} was refused but changed the game"
        else:
            counts["ok"] += 1
        assert engine.board.size <= 25 and abs(engine.board.komi) <= MAX_KOMI
    return counts


def test_fuzz_random_player(tmp_path, monkeypatch):
    """2,000 seeded lines against the random player: every reply is a GTP reply, none is an internal error, a
    refused command changes nothing, no special file is replaced."""
    _fuzz_dir(tmp_path)
    monkeypatch.chdir(tmp_path)
    engine = GTPEngine(RandomPlayer(seed=3), size=9)
    counts = run_fuzz(engine, fuzz_lines(seed=15, count=2000))
    assert counts["internal"] == 0, counts["internal_lines"][:10]
    assert counts["ok"] > 300 and counts["failed"] > 300, counts
    assert stat.S_ISFIFO(os.stat(tmp_path / "fifo.sgf").st_mode) and (tmp_path / "sub").is_dir()


def test_fuzz_search_player_clock_and_komi(tmp_path, monkeypatch):
    """The search player (which reads the clock) under the same fuzz, fewer lines: no internal error."""
    _fuzz_dir(tmp_path)
    monkeypatch.chdir(tmp_path)
    engine = GTPEngine(MCTSPlayer(PlayerConfig(playouts=4, seed=1, default_time=0.05)), size=5)
    engine.handle("boardsize 5")
    lines = [ln for ln in fuzz_lines(seed=7, count=600) if not re.search(r"boardsize\s+(1[0-9]|2[0-5])\b", ln)]
    counts = run_fuzz(engine, lines)
    assert counts["internal"] == 0, counts["internal_lines"][:10]
    assert stat.S_ISFIFO(os.stat(tmp_path / "fifo.sgf").st_mode)


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("IGO_LONG_FUZZ") != "1", reason="set IGO_LONG_FUZZ=1 for the long GTP fuzz")
def test_fuzz_long(tmp_path, monkeypatch):
    _fuzz_dir(tmp_path)
    monkeypatch.chdir(tmp_path)
    for seed in range(10):
        engine = GTPEngine(RandomPlayer(seed=seed), size=9)
        counts = run_fuzz(engine, fuzz_lines(seed=1000 + seed, count=5000))
        assert counts["internal"] == 0, counts["internal_lines"][:10]
