"""Tests for gtp.analysis (the analysis commands of igo's GTP engine): the argument parser and the ``info`` line
formats, every command through ``handle()``, live streaming through ``serve()`` over real pipes, the GoGui commands
and dead stones, the random player's refusals, and the exact traffic Sabaki sends against ``igo gtp`` in a subprocess
(the session is in ``tests/sabaki_transcript.py``, which also prints it)."""

from __future__ import annotations

import os
import queue
import re
import sys
import threading
import time

import numpy as np
import pytest

from igo.engine.board import BLACK, WHITE
from igo.engine.coords import gtp_to_rc
from igo.engine.player import Analysis, MCTSPlayer, PlayerConfig, RandomPlayer
from igo.engine.search import MoveStats
from igo.gtp.analysis import AnalyzeRequest, info_line, parse_analyze_args
from igo.gtp.engine import GTPEngine
from igo.gtp.protocol import GTPFailure

from .sabaki_transcript import LineEngine, SabakiSession, sabaki_session

V = r"(?:[A-HJ-Z][1-9][0-9]?|pass)"
F = r"-?[0-9]+(?:\.[0-9]+)?"
PV = rf"{V}(?: {V})*"
LZ_ENTRY = re.compile(
    rf"info move (?P<move>{V}) visits (?P<visits>[0-9]+) winrate (?P<winrate>[0-9]+) prior (?P<prior>[0-9]+) "
    rf"lcb (?P<lcb>[0-9]+) order (?P<order>[0-9]+) pv (?P<pv>{PV})"
)
KATA_ENTRY = re.compile(
    rf"info move (?P<move>{V}) visits (?P<visits>[0-9]+) utility (?P<utility>{F}) winrate (?P<winrate>{F}) "
    rf"scoreMean (?P<scoreMean>{F}) scoreLead (?P<scoreLead>{F}) prior (?P<prior>{F}) lcb (?P<lcb>{F}) "
    rf"order (?P<order>[0-9]+) pv (?P<pv>{PV})"
)
PLAY_LINE = re.compile(rf"play ({V}|resign)")
GOGUI_TYPES = {"bwboard", "cboard", "dboard", "gfx", "hstring", "hpstring", "none", "param", "plist", "pspairs",
               "sboard", "string", "var", "varb", "varc", "varp", "varpo", "varw"}  # fmt: skip


# --- helpers ----------------------------------------------------------------------------------------------------------


def on_board(vertex: str, size: int) -> bool:
    if vertex == "pass":
        return True
    try:
        gtp_to_rc(vertex, size)
    except ValueError:
        return False
    return True


def parse_info(line: str, size: int, *, kata: bool, ownership: bool = False) -> list[dict]:
    """Check one ``info`` line (every entry, the order, the value ranges, the ownership) and return its entries."""
    head, sep, own = line.partition("ownership ")
    if ownership:
        assert sep, f"no ownership in {line[:200]!r}"
        values = [float(x) for x in own.split()]
        assert len(values) == size * size, f"{len(values)} ownership values on {size}x{size}"
        assert all(-1.0 <= x <= 1.0 for x in values)
    else:
        assert not sep, f"unasked ownership in {line[:200]!r}"
    head = head.strip()
    entries = [e for e in re.split(r" (?=info move )", head) if e] if head else []
    assert entries or ownership, f"an empty info line {line!r}"
    pattern = KATA_ENTRY if kata else LZ_ENTRY
    out = []
    for text in entries:
        m = pattern.fullmatch(text)
        assert m, f"malformed {'kata' if kata else 'lz'} entry {text!r}"
        e = m.groupdict()
        e["visits"], e["order"] = int(e["visits"]), int(e["order"])
        e["pv"] = e["pv"].split()
        assert on_board(e["move"], size) and all(on_board(v, size) for v in e["pv"]), text
        assert e["pv"][0] == e["move"], text
        if kata:
            winrate, prior, lcb = float(e["winrate"]), float(e["prior"]), float(e["lcb"])
            assert all(0.0 <= x <= 1.0 for x in (winrate, prior, lcb)), text
            assert -1.0 <= float(e["utility"]) <= 1.0, text
            assert e["scoreMean"] == e["scoreLead"], text
        else:
            winrate, prior, lcb = int(e["winrate"]), int(e["prior"]), int(e["lcb"])
            assert all(0 <= x <= 10000 for x in (winrate, prior, lcb)), text
        assert lcb <= winrate, text
        e["winrate"] = winrate
        out.append(e)
    assert [e["order"] for e in out] == list(range(len(out))), line[:300]
    visits = [e["visits"] for e in out]
    assert visits == sorted(visits, reverse=True), f"not most visited first: {visits}"
    assert len({e["move"] for e in out}) == len(out)
    return out


def streamed_lines(reply: str, ident: str = "") -> list[str]:
    """The lines of a streamed reply after its ``=id`` line; checks that one empty line ends it and none is inside."""
    assert reply.endswith("\n\n") and not reply.endswith("\n\n\n"), repr(reply[-300:])
    body = reply[:-2]
    assert "\n\n" not in body, "an empty line inside the reply"
    lines = body.split("\n")
    assert lines[0] == f"={ident}", lines[0]
    return lines[1:]


def simple_reply(reply: str, ident: str = "") -> str:
    """The text of a ``=`` reply."""
    assert reply.startswith(f"={ident}") and reply.endswith("\n\n"), repr(reply)
    return reply[len(ident) + 1 : -2].removeprefix(" ")


def state(engine: GTPEngine) -> tuple:
    b = engine.board
    return str(b), b.hash, b.to_move, b.move_number, b.komi, b.passes


def mcts_engine(size: int = 7, playouts: int = 64, komi: float = 7.5) -> GTPEngine:
    player = MCTSPlayer(PlayerConfig(playouts=playouts, seed=1, resign_threshold=0.0))
    return GTPEngine(player, size=size, komi=komi)


def opening(engine: GTPEngine) -> GTPEngine:
    for line in ("play b D4", "play w C3", "play b C5"):
        assert engine.handle(line) == "= \n\n"
    return engine


@pytest.fixture
def engine() -> GTPEngine:
    return opening(mcts_engine())


def dead_stone_engine() -> GTPEngine:
    """7x7, komi 0.5: Black walls D1-D7 with A-C behind it (stones B2, B6), White walls E1-E7 with F-G behind it,
    and a lone white stone on B4 inside Black's area: dead. Counted with B4 removed, Black has 28 points, White 21:
    B+6.5; Tromp-Taylor (B4 alive, A-C neutral) gives Black 9 and White 22: W+13.5."""
    e = mcts_engine(size=7, komi=0.5)
    for r in range(1, 8):
        assert e.handle(f"play b D{r}") == "= \n\n"
        assert e.handle(f"play w E{r}") == "= \n\n"
    for line in ("play b B2", "play b B6", "play w B4"):
        assert e.handle(line) == "= \n\n"
    return e


def analysis(color: int) -> Analysis:
    moves = [
        MoveStats("D4", 10, 0.2, 0.5, ("D4", "C3")),
        MoveStats("C3", 5, -0.2, 0.3, ()),
        MoveStats("E5", 0, 0.0, 0.2, ()),
    ]
    return Analysis(color, moves, 15, np.full((5, 5), 0.5), 2.0, 0.1)


# --- the argument parser and the info lines ------------------------------------------------------------------------


def parse(args: list[str], to_move: int = BLACK) -> AnalyzeRequest:
    return parse_analyze_args(args, to_move)


@pytest.mark.parametrize(
    "args, expected",
    [
        ([], AnalyzeRequest(WHITE, 0.0)),
        (["b"], AnalyzeRequest(BLACK, 0.0)),
        (["B", "50"], AnalyzeRequest(BLACK, 0.5)),
        (["white", "10"], AnalyzeRequest(WHITE, 0.1)),
        (["25"], AnalyzeRequest(WHITE, 0.25)),
        (["w", "interval", "20", "maxmoves", "3"], AnalyzeRequest(WHITE, 0.2, max_moves=3)),
        (["interval", "100", "minmoves", "2"], AnalyzeRequest(WHITE, 1.0, min_moves=2)),
        (["b", "50", "ownership", "true"], AnalyzeRequest(BLACK, 0.5, ownership=True)),
        (["10", "ownership", "FALSE", "maxmoves", "0"], AnalyzeRequest(WHITE, 0.1)),
        (["10", "interval", "30"], AnalyzeRequest(WHITE, 0.3)),  # the key wins: the last value given
    ],
)
def test_parse_analyze_args(args, expected):
    assert parse(args, to_move=WHITE) == expected


@pytest.mark.parametrize(
    "args",
    [
        ["foo"],
        ["interval"],
        ["x", "10"],
        ["b", "10", "bogus", "1"],
        ["10", "b"],
        ["b", "w"],
        ["interval", "ten"],
        ["maxmoves", "-"],
        ["10", "ownership", "maybe"],
        ["10", "ownership"],
        ["10", "20"],
    ],
)
def test_parse_analyze_args_refuses_with_syntax_error(args):
    with pytest.raises(GTPFailure) as err:
        parse(args)
    assert err.value.message == "syntax error"


def test_lz_info_line_format():
    a = analysis(BLACK)
    d4, c3 = a.moves[0], a.moves[1]
    line = info_line(a, AnalyzeRequest(BLACK, 0.1), 5, kata=False)
    assert line == (
        f"info move D4 visits 10 winrate 6000 prior 5000 lcb {round(10000 * d4.lcb())} order 0 pv D4 C3 "
        f"info move C3 visits 5 winrate 4000 prior 3000 lcb {round(10000 * c3.lcb())} order 1 pv C3"
    )
    assert [e["move"] for e in parse_info(line, 5, kata=False)] == ["D4", "C3"]  # unvisited E5 left out


def test_kata_info_line_format_and_ownership_for_the_analysed_player():
    black = info_line(analysis(BLACK), AnalyzeRequest(BLACK, 0.1, ownership=True), 5, kata=True)
    white = info_line(analysis(WHITE), AnalyzeRequest(WHITE, 0.1, ownership=True), 5, kata=True)
    assert black.startswith(
        "info move D4 visits 10 utility 0.2000 winrate 0.6000 scoreMean 2.00 scoreLead 2.00 prior 0.5000 lcb "
    )
    assert white.startswith("info move D4 visits 10 utility 0.2000 winrate 0.6000 scoreMean -2.00 scoreLead -2.00 ")
    assert black.endswith(" ownership " + " ".join(["0.500"] * 25))
    assert white.endswith(" ownership " + " ".join(["-0.500"] * 25))  # Black's +0.5 is the opponent's for White
    for line in (black, white):
        parse_info(line, 5, kata=True, ownership=True)
    plain = info_line(analysis(BLACK), AnalyzeRequest(BLACK, 0.1), 5, kata=True)
    assert "ownership" not in plain and len(parse_info(plain, 5, kata=True)) == 2


def test_info_line_min_and_max_moves():
    a = analysis(BLACK)
    three = parse_info(info_line(a, AnalyzeRequest(BLACK, 0.1, min_moves=3), 5, kata=False), 5, kata=False)
    assert [(e["move"], e["visits"]) for e in three] == [("D4", 10), ("C3", 5), ("E5", 0)]
    one = parse_info(info_line(a, AnalyzeRequest(BLACK, 0.1, max_moves=1), 5, kata=True), 5, kata=True)
    assert [e["move"] for e in one] == ["D4"]


# --- through handle(): one final report ----------------------------------------------------------------------------


def test_lz_analyze_through_handle(engine):
    before = state(engine)
    lines = streamed_lines(engine.handle("lz-analyze"))
    assert len(lines) == 1  # handle() stops at once: one final report
    entries = parse_info(lines[0], 7, kata=False)
    assert len(entries) >= 2 and entries[0]["visits"] > 0
    assert state(engine) == before


def test_kata_analyze_through_handle(engine):
    before = state(engine)
    lines = streamed_lines(engine.handle("3 kata-analyze b 10"), "3")
    assert len(lines) == 1
    entries = parse_info(lines[0], 7, kata=True)
    assert all(e["move"] not in ("D4", "C3", "C5") for e in entries)  # occupied points are no moves
    assert state(engine) == before  # analysing Black with White to move changed nothing
    move = simple_reply(engine.handle("4 genmove w"), "4")  # and the search still plays for White
    assert on_board(move, 7) and engine.board.moves[-1] == (WHITE, move) and engine.board.to_move == BLACK


def test_lz_analyze_maxmoves_and_colour(engine):
    before = state(engine)
    lines = streamed_lines(engine.handle("12 lz-analyze w interval 20 maxmoves 3"), "12")
    assert len(lines) == 1 and 1 <= len(parse_info(lines[0], 7, kata=False)) <= 3
    assert state(engine) == before


def test_kata_analyze_ownership_signs():
    e = dead_stone_engine()
    before = state(e)
    rows = {}
    for color in ("b", "w"):
        lines = streamed_lines(e.handle(f"5 kata-analyze {color} 10 ownership true"), "5")
        assert len(lines) == 1
        parse_info(lines[0], 7, kata=True, ownership=True)
        own = np.array([float(x) for x in lines[0].partition("ownership ")[2].split()]).reshape(7, 7)
        rows[color] = own
        assert state(e) == before
    # the left side is Black's, the right side White's, each seen from the analysed player
    assert rows["b"][:, :3].mean() > 0.2 and rows["b"][:, 4:].mean() < -0.2
    assert rows["w"][:, :3].mean() < -0.2 and rows["w"][:, 4:].mean() > 0.2


def test_ids_and_the_ending_blank_line(engine):
    for line, ident in (("7 lz-analyze", "7"), ("kata-analyze 10", ""), ("0 lz-analyze b 5 minmoves 2", "0")):
        reply = engine.handle(line)
        assert reply.startswith(f"={ident}\ninfo move ")
        streamed_lines(reply, ident)


@pytest.mark.parametrize(
    "line",
    [
        "5 lz-analyze foo",
        "5 lz-analyze interval",
        "5 lz-analyze x 10",
        "5 lz-analyze 10 avoid b D4 1",
        "5 kata-analyze 10 ownership maybe",
        "5 kata-analyze b 10 rootInfo true",
        "5 kata-genmove_analyze w 10 bogus 1",
        "5 lz-genmove_analyze purple 10",
    ],
)
def test_bad_analysis_arguments(engine, line):
    before = state(engine)
    assert engine.handle(line) == "?5 syntax error\n\n"
    assert state(engine) == before


def test_genmove_analyze_without_arguments_plays_for_the_side_to_move(engine):
    lines = streamed_lines(engine.handle("lz-genmove_analyze"))
    move = PLAY_LINE.fullmatch(lines[-1]).group(1)
    assert lines[:-1] == []  # no interval: no info lines
    assert engine.board.to_move == BLACK and engine.board.moves[-1] == (WHITE, move)


@pytest.mark.parametrize("command, color, kata", [("lz-genmove_analyze b 10", BLACK, False),
                                                  ("kata-genmove_analyze w 10", WHITE, True)])  # fmt: skip
def test_genmove_analyze_plays_the_move(engine, command, color, kata):
    before = state(engine)
    number = engine.board.move_number
    lines = streamed_lines(engine.handle(f"8 {command}"), "8")
    assert len(lines) >= 2
    for line in lines[:-1]:
        entries = parse_info(line, 7, kata=kata)
        assert entries
    m = PLAY_LINE.fullmatch(lines[-1])
    assert m, lines[-1]
    move = m.group(1)
    assert move not in ("resign",)
    assert engine.board.move_number == number + 1
    assert engine.board.moves[-1] == (color, move)
    if move != "pass":
        assert engine.board.color_at(move) == color
    assert engine.handle("9 undo") == "=9 \n\n"
    assert state(engine) == before


def test_genmove_analyze_with_interval_zero_only_plays(engine):
    for command in ("lz-genmove_analyze b 0", "kata-genmove_analyze w"):
        lines = streamed_lines(engine.handle(f"2 {command}"), "2")
        assert len(lines) == 1 and PLAY_LINE.fullmatch(lines[0]), lines


# --- GoGui, dead stones, the score ---------------------------------------------------------------------------------


def test_gogui_analyze_commands(engine):
    lines = simple_reply(engine.handle("1 gogui-analyze_commands"), "1").split("\n")
    assert len(lines) >= 4
    for line in lines:
        kind, label, command = line.split("/", 2)
        assert kind in GOGUI_TYPES and label and command, line
        assert engine.handle(f"known_command {command.split()[0]}") == "= true\n\n", line
        before = state(engine)
        reply = engine.handle(f"2 {command}")
        assert reply.startswith("=2"), (command, reply)
        assert state(engine) == before


def test_igo_ownership(engine):
    rows = simple_reply(engine.handle("igo-ownership")).split("\n")
    assert len(rows) == 7
    for row in rows:
        values = [float(x) for x in row.split()]
        assert len(values) == 7 and all(-1.0 <= x <= 1.0 for x in values)


def test_igo_best_moves_is_gogui_gfx(engine):
    before = state(engine)
    lines = simple_reply(engine.handle("igo-best_moves")).split("\n")
    kinds = [line.split()[0] for line in lines]
    assert set(kinds) <= {"LABEL", "VAR", "TEXT"} and kinds[-1] == "TEXT", lines
    for line in lines:
        kind, *rest = line.split()
        if kind == "LABEL":
            assert rest and len(rest) % 2 == 0
            for vertex, label in zip(rest[::2], rest[1::2], strict=True):
                assert on_board(vertex, 7) and vertex != "pass" and re.fullmatch(r"[0-9]+%", label), line
        elif kind == "VAR":
            assert rest and len(rest) % 2 == 0
            colors = rest[::2]
            assert colors[0] == "w"  # White to move
            assert all(c != d for c, d in zip(colors, colors[1:], strict=False)), line
            assert all(on_board(v, 7) for v in rest[1::2]), line
    assert state(engine) == before


def test_igo_score_format(engine):
    assert re.fullmatch(r"= (B\+[0-9.]+|W\+[0-9.]+|0) \([0-9]+ dead stones\)\n\n", engine.handle("igo-score"))


def test_dead_stone_is_listed_and_counted_for_black():
    e = dead_stone_engine()
    before = state(e)
    assert e.board.result() == "W+13.5"  # Tromp-Taylor: B4 alive, A-C neutral
    assert e.handle("1 final_status_list dead") == "=1 B4\n\n"
    assert e.handle("2 final_status_list alive") == "=2 D7 D6 D5 D4 D3 D2 D1\nE7 E6 E5 E4 E3 E2 E1\nB6\nB2\n\n"
    assert e.handle("3 final_status_list seki") == "=3 \n\n"
    assert e.handle("4 final_score") == "=4 B+6.5\n\n"
    assert e.handle("5 igo-score") == "=5 B+6.5 (1 dead stones)\n\n"
    assert state(e) == before


# --- the random player cannot analyse -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [
        "lz-analyze",
        "kata-analyze b 10 ownership true",
        "lz-genmove_analyze b 10",
        "kata-genmove_analyze w 10",
        "igo-best_moves",
        "igo-ownership",
        "igo-score",
    ],
)
def test_random_player_answers_an_error(command):
    e = GTPEngine(RandomPlayer(seed=1), size=7)
    opening(e)
    before = state(e)
    reply = e.handle(f"3 {command}")
    assert re.fullmatch(r"\?3 [^\n]+\n\n", reply), reply
    assert "internal error" not in reply
    assert state(e) == before
    assert e.handle("4 name") == "=4 igo\n\n"


# --- streaming through serve() over real pipes ----------------------------------------------------------------------


class PipeServer:
    """``engine.serve`` on a thread over two ``os.pipe()`` pairs (binary files), with a reader thread that time-stamps
    the engine's output lines."""

    def __init__(self, engine: GTPEngine):
        r_in, w_in = os.pipe()
        r_out, w_out = os.pipe()
        self._inp, self._to_engine = os.fdopen(r_in, "rb"), os.fdopen(w_in, "wb", buffering=0)
        self._out, self._from_engine = os.fdopen(w_out, "wb"), os.fdopen(r_out, "rb")
        self.lines: queue.Queue = queue.Queue()
        self.server = threading.Thread(target=self._serve, args=(engine,), daemon=True)
        self.server.start()
        threading.Thread(target=self._read, daemon=True).start()

    def _serve(self, engine: GTPEngine) -> None:
        try:
            engine.serve(self._inp, self._out)
        finally:
            self._out.close()

    def _read(self) -> None:
        for raw in self._from_engine:
            self.lines.put((time.monotonic(), raw.decode()))
        self.lines.put((time.monotonic(), None))

    def send(self, text: str) -> None:
        self._to_engine.write(text.encode())

    def line(self, timeout: float = 30.0) -> str:
        _, line = self.lines.get(timeout=timeout)
        assert line is not None, "the engine closed its output"
        assert line.endswith("\n"), repr(line)
        return line[:-1]

    def reply(self) -> list[str]:
        out = [self.line()]
        while out[-1] != "":
            out.append(self.line())
        return out

    def info_lines(self, count: int, timeout: float = 20.0) -> list[str]:
        """At least ``count`` streamed lines (read for up to ``timeout`` seconds)."""
        out = []
        deadline = time.monotonic() + timeout
        while len(out) < count and time.monotonic() < deadline:
            try:
                line = self.line(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                break
            assert line != "", f"the analysis ended by itself after {out}"
            out.append(line)
        return out

    def close(self) -> None:
        self._to_engine.close()  # end of input: serve() returns
        self.server.join(10)
        assert not self.server.is_alive()
        self._inp.close()
        self._from_engine.close()


@pytest.fixture
def served(engine):
    server = PipeServer(engine)
    yield server
    server.close()


def total_visits(line: str, kata: bool, ownership: bool = False) -> int:
    return sum(e["visits"] for e in parse_info(line, 7, kata=kata, ownership=ownership))


def test_serve_lz_analyze_streams_until_the_next_line(served):
    served.send("1 showboard\n")
    before = served.reply()
    served.send("2 lz-analyze 10\n")
    assert served.line() == "=2"
    lines = served.info_lines(3)
    assert len(lines) == 3, lines
    visits = [total_visits(line, kata=False) for line in lines]
    assert visits == sorted(visits) and visits[-1] > visits[0], visits
    served.send("3 name\n")
    rest = served.reply()  # maybe more info lines, then the empty line that ends the analysis
    assert all(line.startswith("info move ") for line in rest[:-1]), rest
    for line in rest[:-1]:
        total_visits(line, kata=False)
    assert served.reply() == ["=3 igo", ""]
    served.send("1 showboard\n")
    assert served.reply() == before


def test_serve_kata_analyze_stopped_by_an_empty_line(served):
    served.send("1 showboard\n")
    before = served.reply()
    served.send("kata-analyze b 10 ownership true\n")
    assert served.line() == "="
    lines = served.info_lines(2)
    assert len(lines) == 2
    visits = [total_visits(line, kata=True, ownership=True) for line in lines]
    assert visits[1] > visits[0]
    served.send("\n")
    rest = served.reply()
    for line in rest[:-1]:
        total_visits(line, kata=True, ownership=True)
    served.send("4 name\n")
    assert served.reply() == ["=4 igo", ""]  # nothing answered the empty line
    served.send("1 showboard\n")
    assert served.reply() == before


def test_serve_quit_ends_an_analysis_and_the_session(served):
    served.send("lz-analyze 10\n")
    assert served.line() == "="
    assert len(served.info_lines(1)) == 1
    served.send("quit\n")
    rest = served.reply()
    assert all(line.startswith("info ") for line in rest[:-1])
    assert served.reply() == ["= ", ""]
    served.server.join(10)
    assert not served.server.is_alive()


def test_serve_genmove_analyze(served):
    served.send("5 kata-genmove_analyze w 10\n")
    lines = served.reply()
    assert lines[0] == "=5" and lines[-1] == ""
    for line in lines[1:-2]:
        parse_info(line, 7, kata=True)
    move = PLAY_LINE.fullmatch(lines[-2]).group(1)
    served.send("6 showboard\n")
    board = "\n".join(served.reply())
    assert move == "pass" or "(O)" in board
    served.send("7 undo\n8 undo\n")
    assert served.reply() == ["=7 ", ""] and served.reply() == ["=8 ", ""]


# --- Sabaki's traffic against igo gtp in a subprocess ---------------------------------------------------------------


def test_sabaki_session_against_igo_gtp():
    argv = [sys.executable, "-m", "igo", "gtp", "--size", "9", "--playouts", "200", "--seed", "1"]
    engine = LineEngine(argv, timeout=60.0)
    try:
        exchanges = sabaki_session(SabakiSession(engine, analyze=0.6))
    finally:
        code = engine.close()
    assert code == 0
    by_command = {ex.command: ex for ex in exchanges}
    assert by_command["name"].reply == ["= igo"]
    assert by_command["protocol_version"].reply == ["= 2"]
    commands = by_command["list_commands"].reply
    assert commands[0].startswith("= ")
    listed = {commands[0][2:], *commands[1:]}
    assert {"kata-analyze", "kata-genmove_analyze", "lz-analyze", "set_free_handicap", "undo"} <= listed
    assert "analyze" not in listed and "genmove_analyze" not in listed  # so Sabaki picks the kata- commands
    analyses = genmoves = 0
    for ex in exchanges:
        assert ex.junk == [], (ex.command, ex.junk)
        if ex.command == "":
            assert ex.reply == []  # a bare newline gets no reply
            continue
        assert ex.reply and ex.reply[0].startswith("="), (ex.command, ex.reply)
        if re.match(r"(lz|kata)-analyze ", ex.command):
            analyses += 1
            kata = ex.command.startswith("kata")
            assert ex.reply[0] == "=" and len(ex.reply) >= 2, ex.reply
            for line in ex.reply[1:]:
                parse_info(line, 9, kata=kata, ownership=kata)
            assert ex.stopped_by is not None and ex.info_before_stop >= 1
            assert ex.stop_latency is not None and ex.stop_latency < 5.0, ex.stop_latency
        elif "genmove_analyze" in ex.command:
            genmoves += 1
            assert ex.reply[0] == "=" and PLAY_LINE.fullmatch(ex.reply[-1]), ex.reply
            assert ex.play not in ("resign",)
            for line in ex.reply[1:-1]:
                parse_info(line, 9, kata=True)
        elif ex.command not in ("list_commands", "name", "protocol_version", "version"):
            assert ex.reply == ["= "], (ex.command, ex.reply)
    assert analyses == 6 and genmoves == 2
    assert [ex.stopped_by for ex in exchanges if ex.stopped_by is not None][-1] == ""  # the bare newline
