"""Tests for gtp.client: a scripted fake engine for the protocol edge cases, then real GNU Go."""

from __future__ import annotations

import os
import shutil
import sys
import textwrap
import time
from pathlib import Path

import pytest

from igo.gtp.client import (
    STDERR_TAIL_BYTES,
    GTPClient,
    GTPCommandError,
    GTPEngineDied,
    GTPError,
    GTPProtocolError,
    GTPTimeoutError,
)

# A tiny GTP engine. Each command name selects a behaviour; unknown commands echo their arguments.
FAKE_ENGINE = textwrap.dedent(
    r"""
    import signal
    import sys
    import time

    STUBBORN = "--stubborn" in sys.argv


    def out(text):
        sys.stdout.write(text)
        sys.stdout.flush()


    for raw in sys.stdin:
        line = raw.strip()
        if not line:
            continue
        first, _, rest = line.partition(" ")
        if first.isdigit():
            cid, line = first, rest
        else:
            cid = ""
        cmd, _, args = line.partition(" ")
        if cmd == "quit":
            out(f"={cid}\n\n")
            if STUBBORN:
                signal.signal(signal.SIGTERM, signal.SIG_IGN)
                while True:
                    time.sleep(1)
            break
        elif cmd == "raw":  # the exact line received, to check the wire format
            out(f"={cid} {raw.rstrip(chr(10))}\n\n")
        elif cmd == "multi":
            out(f"={cid} first\nsecond\n  third\n\n")
        elif cmd == "board":  # like GNU Go's showboard: nothing on the first line
            out(f"={cid}\n   A B\n 2 . .\n 1 . X\n\n")
        elif cmd == "noid":
            out("= hello\n\n")
        elif cmd == "crlf":
            out(f"={cid} windows\r\n\r\n")
        elif cmd == "blank":
            out(f"\n\n={cid} after blanks\n\n")
        elif cmd == "fail":
            out(f"?{cid} unknown thing\n\n")
        elif cmd == "garbage":
            out(f"this is not gtp\n={cid} ok\n\n")
        elif cmd == "wrongid":
            out("=999 stale\n\n")
        elif cmd == "sleep":
            time.sleep(float(args))
            out(f"={cid}\n\n")
        elif cmd == "die":
            sys.stderr.write("fatal: engine exploded\n")
            sys.stderr.flush()
            sys.exit(3)
        elif cmd == "halfdie":  # starts a reply, then dies
            out(f"={cid} partial\n")
            sys.exit(4)
        elif cmd == "spam":
            sys.stderr.write("x" * (1 << 20) + "\nEND-OF-SPAM\n")
            sys.stderr.flush()
            out(f"={cid} done\n\n")
        elif cmd == "protocol_version":
            out(f"={cid} 2\n\n")
        elif cmd == "name":
            out(f"={cid} Fake\n\n")
        elif cmd == "version":
            out(f"={cid} 0.1\n\n")
        elif cmd == "list_commands":
            out(f"={cid} name\nplay\ngenmove\nquit\n\n")
        elif cmd == "known_command":
            out(f"={cid} {'true' if args in ('name', 'play', 'genmove', 'quit') else 'false'}\n\n")
        elif cmd == "genmove":
            reply = {"black": "d4", "white": "PASS"}.get(args, "resign")
            out(f"={cid} {reply}\n\n")
        else:
            out(f"={cid} {args}\n\n")
    """
)


@pytest.fixture
def fake_engine(tmp_path: Path) -> list[str]:
    script = tmp_path / "fake_gtp.py"
    script.write_text(FAKE_ENGINE)
    return [sys.executable, "-u", str(script)]


@pytest.fixture
def client(fake_engine: list[str]):
    c = GTPClient(fake_engine, timeout=5.0, name="fake")
    yield c
    c.close(timeout=1.0)


def _gone(c: GTPClient) -> bool:
    return c.returncode is not None


# ---------------------------------------------------------------------------- replies


def test_simple_reply_and_wire_format(client: GTPClient) -> None:
    assert client.send("echo hello world") == "hello world"
    # Ids increase with each command and are sent as "{id} {command}".
    assert client.send("raw x") == "2 raw x"
    assert client.send("  raw   y ") == "3 raw   y"


def test_multiline_reply(client: GTPClient) -> None:
    assert client.send("multi") == "first\nsecond\n  third"


def test_multiline_reply_with_empty_first_line_keeps_indentation(client: GTPClient) -> None:
    assert client.send("board") == "   A B\n 2 . .\n 1 . X"


def test_reply_without_id_is_accepted(client: GTPClient) -> None:
    assert client.send("noid") == "hello"
    assert client.send("echo still in step") == "still in step"


def test_crlf_and_leading_blank_lines(client: GTPClient) -> None:
    assert client.send("crlf") == "windows"
    assert client.send("blank") == "after blanks"


def test_empty_success_reply(client: GTPClient) -> None:
    assert client.send("echo") == ""


def test_failure_reply_raises_command_error(client: GTPClient) -> None:
    with pytest.raises(GTPCommandError) as info:
        client.send("fail now")
    assert info.value.command == "fail now"
    assert info.value.message == "unknown thing"
    assert "unknown thing" in str(info.value)
    assert isinstance(info.value, GTPError)
    assert client.alive
    assert client.send("echo ok") == "ok"


def test_malformed_line_raises_protocol_error_and_stays_in_step(client: GTPClient) -> None:
    with pytest.raises(GTPProtocolError, match="not gtp"):
        client.send("garbage")
    assert client.send("echo next") == "next"


def test_wrong_reply_id_raises_protocol_error(client: GTPClient) -> None:
    with pytest.raises(GTPProtocolError, match="999"):
        client.send("wrongid")
    assert client.send("echo next") == "next"


@pytest.mark.parametrize("bad", ["", "   ", "name\nquit", "name\rquit", "a\x00b", "play b d4 # comment"])
def test_invalid_command_text_raises_value_error(client: GTPClient, bad: str) -> None:
    with pytest.raises(ValueError):
        client.send(bad)
    assert client.send("echo fine") == "fine"  # nothing was written


# ---------------------------------------------------------------------------- failures of the engine


def test_timeout_kills_engine(fake_engine: list[str]) -> None:
    c = GTPClient(fake_engine, timeout=5.0)
    try:
        with pytest.raises(GTPTimeoutError):
            c.send("sleep 30", timeout=0.5)
        # Killed while it was still sleeping (had send waited for the reply, it would have returned it instead).
        assert not c.alive
        assert _gone(c)
        with pytest.raises(GTPError):
            c.send("echo too late")
    finally:
        c.close(timeout=1.0)


def test_default_timeout_from_constructor(fake_engine: list[str]) -> None:
    with GTPClient(fake_engine, timeout=0.5) as c, pytest.raises(GTPTimeoutError):
        c.send("sleep 30")


def test_engine_exit_mid_command_raises_engine_died_with_stderr(fake_engine: list[str]) -> None:
    c = GTPClient(fake_engine, timeout=5.0)
    try:
        with pytest.raises(GTPEngineDied) as info:
            c.send("die")
        assert info.value.returncode == 3
        assert "engine exploded" in info.value.stderr
        assert "engine exploded" in str(info.value)
        assert "exit code 3" in str(info.value)
        assert not c.alive
        with pytest.raises(GTPError):
            c.send("echo anyone")
    finally:
        c.close(timeout=1.0)


def test_engine_exit_in_the_middle_of_a_reply(fake_engine: list[str]) -> None:
    with GTPClient(fake_engine, timeout=5.0) as c:
        with pytest.raises(GTPEngineDied) as info:
            c.send("halfdie")
        assert info.value.returncode == 4


def test_write_to_dead_engine_raises_engine_died(fake_engine: list[str]) -> None:
    with GTPClient(fake_engine, timeout=5.0) as c:
        c._proc.kill()  # from outside, between commands
        c._proc.wait()
        with pytest.raises(GTPEngineDied):
            c.send("echo hello")


def test_lots_of_stderr_does_not_deadlock(client: GTPClient) -> None:
    assert client.send("spam", timeout=5.0) == "done"
    assert client.send("spam", timeout=5.0) == "done"
    # stderr is a separate pipe read by its own thread: its end may arrive a little after the reply
    deadline = time.monotonic() + 10.0
    while not client.stderr_tail.endswith("END-OF-SPAM\n") and time.monotonic() < deadline:
        time.sleep(0.02)
    tail = client.stderr_tail
    assert tail.endswith("END-OF-SPAM\n")
    assert len(tail) <= STDERR_TAIL_BYTES


# ---------------------------------------------------------------------------- lifecycle


def test_close_is_idempotent_and_process_is_gone(fake_engine: list[str]) -> None:
    c = GTPClient(fake_engine)
    assert c.alive
    c.close()
    assert _gone(c)
    assert c.returncode == 0  # it obeyed quit
    assert not c.alive
    c.close()
    with pytest.raises(GTPError, match="closed"):
        c.send("echo x")


def test_close_escalates_when_engine_ignores_quit_and_sigterm(fake_engine: list[str]) -> None:
    c = GTPClient([*fake_engine, "--stubborn"])
    c.close(timeout=0.3)
    assert _gone(c)  # it ignores quit and SIGTERM: only the escalation to SIGKILL ends it


def test_context_manager_closes(fake_engine: list[str]) -> None:
    with GTPClient(fake_engine) as c:
        assert c.send("echo x") == "x"
    assert _gone(c)


def test_missing_program_raises_gtp_error() -> None:
    with pytest.raises(GTPError, match="no-such-gtp-engine-xyz"):
        GTPClient("no-such-gtp-engine-xyz --mode gtp")
    with pytest.raises(GTPError):
        GTPClient("")


# ---------------------------------------------------------------------------- convenience helpers


def test_helpers_against_fake(client: GTPClient) -> None:
    assert client.protocol_version() == "2"
    assert client.name() == "Fake"
    assert client.label == "fake"
    assert client.version() == "0.1"
    assert client.list_commands() == ["name", "play", "genmove", "quit"]
    assert client.known_command("play") is True
    assert client.known_command("frobnicate") is False
    assert client.genmove("b") == "D4"
    assert client.genmove("White") == "pass"
    client.boardsize(9)
    client.clear_board()
    client.komi(7.5)
    client.play("black", "D4")
    with pytest.raises(ValueError):
        client.play("red", "D4")
    with pytest.raises(ValueError):
        client.genmove("")


# ---------------------------------------------------------------------------- GNU Go

GNUGO = shutil.which("gnugo") or ("/usr/games/gnugo" if os.access("/usr/games/gnugo", os.X_OK) else None)
needs_gnugo = pytest.mark.skipif(GNUGO is None, reason="GNU Go is not installed")


@pytest.fixture(scope="module")
def gnugo():
    # Plain "gnugo": the client finds it in /usr/games even when that is not on PATH.
    c = GTPClient("gnugo --mode gtp --chinese-rules --level 1", timeout=20.0)
    yield c
    c.close()


@pytest.mark.gnugo
@needs_gnugo
def test_gnugo_session(gnugo: GTPClient) -> None:
    assert gnugo.protocol_version() == "2"
    assert gnugo.name() == "GNU Go"
    assert gnugo.known_command("genmove")
    assert "showboard" in gnugo.list_commands()
    gnugo.boardsize(9)
    gnugo.clear_board()
    gnugo.komi(7.5)
    for color, vertex in [("b", "E5"), ("w", "C3"), ("black", "G7"), ("white", "c7")]:
        gnugo.play(color, vertex)
    move = gnugo.genmove("black")
    assert move == "pass" or (move[0] in "ABCDEFGHJ" and 1 <= int(move[1:]) <= 9)

    board = gnugo.showboard()
    assert len(board.splitlines()) >= 9
    assert "A B C D E F G H J" in board
    assert "X" in board and "O" in board


@pytest.mark.gnugo
@needs_gnugo
def test_gnugo_illegal_move(gnugo: GTPClient) -> None:
    gnugo.boardsize(9)
    gnugo.clear_board()
    gnugo.play("b", "E5")
    with pytest.raises(GTPCommandError) as info:
        gnugo.play("w", "E5")
    assert "illegal move" in info.value.message
    with pytest.raises(GTPCommandError):
        gnugo.send("boardsize 1000")
    assert gnugo.alive
    assert gnugo.send("protocol_version") == "2"
