"""Tests of ``GTPEngine.serve`` (streams, hostile input, the end of input, a closed output), of ``igo gtp`` in a
subprocess, and full games against GNU Go."""

from __future__ import annotations

import io
import logging
import os
import random
import shutil
import subprocess
import sys

import pytest

import igo
from igo.engine.board import BLACK, WHITE, Board, opponent
from igo.engine.player import RandomPlayer
from igo.engine.sgf import load_sgf
from igo.gtp.client import GTPClient, GTPCommandError
from igo.gtp.engine import MAX_LINE_BYTES, GTPEngine

from .gtp_helpers import ALL_COMMANDS

# --- serve(): streams, hostile input, the end of input -------------------------------------------------------------


def serve_bytes(data: bytes, engine: GTPEngine | None = None) -> list[str]:
    """Run serve() over ``data`` and return the replies (without their blank-line terminators)."""
    engine = engine or GTPEngine(RandomPlayer(seed=1), size=9)
    out = io.BytesIO()
    engine.serve(io.BytesIO(data), out)
    text = out.getvalue().decode("utf-8")
    assert text == "" or text.endswith("\n\n")
    return [r for r in text[:-2].split("\n\n")] if text else []


def test_serve_transcript_and_quit():
    replies = serve_bytes(b"1 name\r\n\n# comment\n2 boardsize 7\n3 play b D4\n4 quit\n5 name\n")
    assert replies == ["=1 igo", "=2 ", "=3 ", "=4 "]  # nothing after quit is answered


def test_serve_eof_without_quit():
    e = GTPEngine(size=9)
    assert serve_bytes(b"1 play b E5\n2 name", e) == ["=1 ", "=2 igo"]  # the last line needs no newline
    assert serve_bytes(b"", e) == []
    assert not e.quit_requested and e.board.move_number == 1


def test_serve_text_streams():
    e = GTPEngine(size=9)
    out = io.StringIO()
    e.serve(io.StringIO("1 play b E5\n2 showboard\n3 quit\n"), out)
    replies = out.getvalue().split("\n\n")
    assert replies[0] == "=1 " and replies[1].startswith("=2 \n") and replies[2] == "=3 "


def test_serve_refuses_a_megabyte_line_without_holding_it():
    class Recording(io.BytesIO):
        largest = 0

        def readline(self, size=-1):
            assert size is not None and 0 < size <= MAX_LINE_BYTES + 1, "unbounded readline"
            line = super().readline(size)
            Recording.largest = max(Recording.largest, len(line))
            return line

    mb = 1024 * 1024
    lines = [
        b"1 name\n",
        b"2 play b " + b"E5" * (mb // 2) + b"\n",
        b"x" * mb + b"\n",
        b"# " + b"comment " * (mb // 8) + b"\n",
        b"3 name # " + b"c" * mb + b"\n",
        b"4 name\n",
        b"z" * (MAX_LINE_BYTES + 1),  # an overlong last line without a newline
    ]
    data = b"".join(lines)
    out = io.BytesIO()
    e = GTPEngine(size=9)
    e.serve(Recording(data), out)
    assert out.getvalue().decode().split("\n\n")[:-1] == [
        "=1 igo",
        "?2 syntax error",
        "? syntax error",
        "=3 igo",
        "=4 igo",
        "? syntax error",
    ]
    assert Recording.largest <= MAX_LINE_BYTES + 1
    assert e.board.move_number == 0


def test_line_limit_boundary():
    e = GTPEngine(size=9)
    line = "1 name" + " " * (MAX_LINE_BYTES - 6)
    assert len(line) == MAX_LINE_BYTES
    assert serve_bytes(line.encode() + b"\n", e) == ["=1 igo"]
    assert serve_bytes(line.encode() + b" \n", e) == ["?1 syntax error"]
    assert e.handle(line) == "=1 igo\n\n"
    assert e.handle(line + " ") == "?1 syntax error\n\n"


def test_serve_survives_random_bytes():
    rng = random.Random(20240601)
    e = GTPEngine(RandomPlayer(seed=1), size=9)
    for _ in range(20):
        junk = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 3000)))
        replies = serve_bytes(junk.replace(b"quit", b"") + b"\n77 name\n", e)
        assert replies and replies[-1] == "=77 igo"
        for r in replies:
            assert r[:1] in ("=", "?"), r
        e.board.check()
    e.quit_requested = False
    assert serve_bytes(b"\xff\xfe\x00\x80 play b E5\n\xc3\x28 name\n1 n\xe4me\n", e) == [
        "? unknown command",
        "? unknown command",
        "?1 unknown command",
    ]


def test_serve_stops_quietly_when_output_closes(caplog):
    class Closed(io.BytesIO):
        writes = 0

        def write(self, data):
            Closed.writes += 1
            raise BrokenPipeError("gone")

    e = GTPEngine(size=9)
    with caplog.at_level(logging.WARNING, logger="igo.gtp.engine"):
        e.serve(io.BytesIO(b"play b E5\nplay w D5\nname\n"), Closed())  # returns instead of raising
    assert Closed.writes == 1  # the first reply failed to go out and the loop stopped there
    assert e.board.move_number == 1 and e.board.color_at("E5") == BLACK  # the second move was never read
    assert "GTP output closed" in caplog.text


# --- igo gtp in a subprocess ------------------------------------------------------------------------------------------


def igo_gtp(*args: str, timeout: float = 60.0) -> GTPClient:
    return GTPClient([sys.executable, "-m", "igo.cli", "gtp", *args], timeout=timeout, name="igo")


def test_igo_gtp_subprocess():
    with igo_gtp("--seed", "3") as client:
        assert client.protocol_version() == "2"
        assert client.name() == "igo" and client.version() == igo.__version__
        assert set(client.list_commands()) == ALL_COMMANDS
        client.boardsize(9)
        client.komi(6.5)
        client.play("black", "E5")
        with pytest.raises(GTPCommandError) as err:
            client.play("white", "E5")
        assert err.value.message == "illegal move"
        move = client.genmove("white")
        assert move == "pass" or len(move) in (2, 3)
        board = client.showboard()
        assert board.split("\n")[0].split() == list("ABCDEFGHJ")
        assert "X" in board and ("O" in board or move == "pass")
        with pytest.raises(GTPCommandError) as err:
            client.send("frobnicate")
        assert err.value.message == "unknown command"
        assert client.send("final_score").startswith(("B+", "W+"))
    assert client.returncode == 0


def test_igo_gtp_exits_on_eof_and_refuses_bad_options():
    r = subprocess.run(
        [sys.executable, "-m", "igo.cli", "gtp", "--size", "9"],
        input=b"1 boardsize 5\n2 play b C3\n3 final_score",
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"=1 \n\n=2 \n\n=3 B+17.5\n\n"
    r = subprocess.run(
        [sys.executable, "-m", "igo.cli", "gtp", "--size", "30"], input=b"", capture_output=True, timeout=60
    )
    assert r.returncode != 0 and b"error" in r.stderr and r.stdout == b""


def test_igo_gtp_logs_traffic_to_stderr_only():
    r = subprocess.run(
        [sys.executable, "-m", "igo.cli", "-vv", "gtp", "--size", "9"],
        input=b"1 name\n2 quit\n",
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert r.returncode == 0
    assert r.stdout == b"=1 igo\n\n=2 \n\n"
    assert b"<< 1 name" in r.stderr and b">> =1 igo" in r.stderr


def test_loadsgf_printsgf_round_trip_through_subprocess(tmp_path):
    path = tmp_path / "g.sgf"
    with igo_gtp("--size", "9", "--seed", "4") as client:
        client.play("b", "E5")
        client.genmove("w")
        client.play("b", "pass")
        client.send(f"printsgf {path}")
        first = client.showboard()
        client.clear_board()
        client.send(f"loadsgf {path}")
        assert client.showboard() == first
        assert load_sgf(path.read_bytes()).moves[0] == (BLACK, (4, 4))


# --- a full game against GNU Go ---------------------------------------------------------------------------------------


def _find_gnugo() -> str | None:
    return shutil.which("gnugo") or next(
        (p for p in ("/usr/games/gnugo", "/usr/local/games/gnugo") if os.access(p, os.X_OK)), None
    )


def _play_out(players: dict, referee: Board, max_moves: int) -> tuple[int, int | None]:
    """Play ``players`` (colour -> GTP client) against each other from Black's move until two passes, a
    resignation or ``max_moves``, checking every move on ``referee``; returns (final passes, colour that resigned)."""
    color, passes, resigned = BLACK, 0, None
    for _ in range(max_moves):
        move = players[color].genmove("b" if color == BLACK else "w")
        if move == "resign":
            resigned = color
            break
        referee.play(None if move == "pass" else move, color)  # raises if the move is illegal
        players[opponent(color)].play("b" if color == BLACK else "w", move)
        passes = passes + 1 if move == "pass" else 0
        color = opponent(color)
        if passes == 2:
            break
    referee.check()
    return passes, resigned


@pytest.mark.gnugo
@pytest.mark.skipif(_find_gnugo() is None, reason="GNU Go (gnugo) is not installed")
@pytest.mark.parametrize("igo_color", [BLACK, WHITE])
def test_full_game_against_gnugo(igo_color):
    gnugo_cmd = [_find_gnugo(), "--mode", "gtp", "--chinese-rules", "--level", "1", "--seed", "1"]
    igo_args = ("--size", "9", "--komi", "7.5", "--seed", "11", "--playouts", "300", "--resign", "0")
    with igo_gtp(*igo_args) as ours, GTPClient(gnugo_cmd, timeout=60) as gnugo:
        for engine in (ours, gnugo):
            engine.boardsize(9)
            engine.komi(7.5)
            engine.clear_board()
        players = {igo_color: ours, opponent(igo_color): gnugo}
        referee = Board(9, komi=7.5)  # positional superko, suicide illegal: igo's rules
        passes, resigned = _play_out(players, referee, 200)
        ours_score = ours.send("final_score")
        gnugo_score = gnugo.send("final_score")  # GNU Go removes the stones it thinks dead: recorded only
        print(referee)
        print(
            f"igo {'black' if igo_color == BLACK else 'white'}: {referee.move_number} moves, passes {passes}, "
            f"resigned {resigned}, igo {ours_score}, GNU Go {gnugo_score}"
        )
        assert ours.showboard() == str(referee)
        assert referee.move_number > 10
        assert passes == 2 or resigned is not None or referee.move_number == 200
        if passes == 2:
            # both count the area with the stones they think dead removed: they must agree on the winner
            assert ours_score[0] == gnugo_score[0], (ours_score, gnugo_score)


@pytest.mark.gnugo
@pytest.mark.skipif(_find_gnugo() is None, reason="GNU Go (gnugo) is not installed")
def test_igo_gtp_with_a_network_plays_a_legal_game_against_gnugo(tmp_path):
    import torch

    from igo.nets.checkpoint import save_checkpoint
    from igo.nets.config import get_config
    from igo.nets.models import build_model

    torch.manual_seed(0)
    model = tmp_path / "zero.safetensors"
    save_checkpoint(model, build_model(get_config("zero-tiny"), 9))
    gnugo_cmd = [_find_gnugo(), "--mode", "gtp", "--chinese-rules", "--level", "0", "--seed", "2"]
    igo_args = ("--model", str(model), "--komi", "7.5", "--seed", "5", "--playouts", "40", "--resign", "0")
    with igo_gtp(*igo_args) as ours, GTPClient(gnugo_cmd, timeout=60) as gnugo:
        for engine in (ours, gnugo):
            engine.boardsize(9)
            engine.komi(7.5)
            engine.clear_board()
        players = {BLACK: ours, WHITE: gnugo}
        referee = Board(9, komi=7.5)
        _play_out(players, referee, 250)
        assert ours.showboard() == str(referee)
        assert referee.move_number > 10
        assert ours.send("final_score")[0] in "BW0"
