"""The GTP traffic Sabaki sends to an engine, replayed against ``igo gtp``; run it to print a readable transcript::

    .venv/bin/python tests/sabaki_transcript.py [--analyze SECONDS] [-- IGO GTP OPTIONS...]

(default options ``--size 9 --time 1``). ``tests/test_gtp_analysis.py`` runs the same session and checks every reply.

What Sabaki sends, from its sources (SabakiHQ/Sabaki ``src/modules/enginesyncer.js``, ``src/modules/sabaki.js`` and
``src/setting.js``; its GTP library SabakiHQ/gtp ``src/ControllerStateTracker.js``, ``src/StreamController.js`` and
``src/Command.js``):

- Commands carry no ids (``Command.toString`` writes ``id`` only when set; Sabaki never sets it). A reply is the lines
  from the first one starting with ``=`` or ``?`` (earlier lines are ignored) up to the first empty line.
- Engine started (``EngineSyncer``, on ``started``): ``name``, ``version``, ``protocol_version``, ``list_commands``,
  then the engine's "initial commands" from its settings, split at ``;`` — all written at once. Sabaki sends no time
  commands of its own; ``time_settings ...`` only arrives as such a user-configured initial command.
- Syncing a position (``ControllerStateTracker._sync``): ``komi K`` when it changed (first sync: always), then
  ``boardsize N`` when it changed, then the history: when the engine's known history and the wanted one share
  ``s > 0`` commands and fewer than ``s`` must be taken back, ``undo`` for each extra command and then the missing
  ``play``s; otherwise ``clear_board`` and every command from the start (so an empty position is re-sent as
  ``clear_board`` at every sync). History commands are ``play B|W <vertex>`` and, for two or more AB stones on an empty
  board when the engine knows the command, ``set_free_handicap <vertices>`` (sorted). The history commands are
  written at once (``Promise.all``).
- Before every sync and every queued command Sabaki aborts what runs: ``EngineSyncer.sendAbort`` sends
  ``protocol_version`` while the engine is busy (that is what ends a running analysis); older Sabaki and the library's
  ``StreamController.sendAbort`` write a bare newline instead.
- Analysis (``analyzeMove``): the first of ``engines.analyze_commands`` = ``analyze``, ``kata-analyze``,
  ``lz-analyze`` that ``list_commands`` lists, with ``<B|W> <board.analysis_interval>`` (default 50 centiseconds),
  plus ``ownership true`` for ``kata-analyze``. For igo: ``kata-analyze B 50 ownership true``.
- Engine moves (``generateMove``): the first of ``genmove_analyze``, ``kata-genmove_analyze``,
  ``lz-genmove_analyze`` listed (else ``genmove``) with ``<B|W> <interval>``; the move is read from the ``play``
  line. For igo: ``kata-genmove_analyze W 50``.
- Detaching an engine: ``quit`` (killed after ``gtp.engine_quit_timeout``, 3 s).
"""

from __future__ import annotations

import argparse
import collections
import os
import queue
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ANALYZE_RE = re.compile(r"^(lz-|kata-)?analyze\b")
PLAY_RE = re.compile(r"^play (\S+)$")


@dataclass
class Exchange:
    """One command Sabaki wrote and the reply it got."""

    command: str
    note: str = ""
    reply: list[str] = field(default_factory=list)  # the reply's lines, without the empty line that ends it
    junk: list[str] = field(default_factory=list)  # lines before the reply's first line (Sabaki skips them)
    stopped_by: str | None = None  # analysis: the line that ended it
    info_before_stop: int = 0  # analysis: info lines that arrived before that line was written
    analysed_for: float = 0.0  # analysis: seconds between the command and the line that ended it
    stop_latency: float | None = None  # analysis: seconds from that line to the end of the reply

    @property
    def play(self) -> str | None:
        """The move of a ``*genmove_analyze`` reply (its ``play`` line)."""
        for line in self.reply:
            m = PLAY_RE.match(line)
            if m:
                return m.group(1)
        return None


class LineEngine:
    """A GTP engine in a subprocess, driven line by line the way Sabaki's StreamController does: write whole batches
    of lines, read stdout lines (time-stamped by a reader thread) and cut replies at empty lines."""

    def __init__(self, argv: list[str], timeout: float = 60.0):
        self.timeout = timeout
        self.proc = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO
        )
        self.lines: queue.Queue = queue.Queue()
        self.stderr_tail: collections.deque[str] = collections.deque(maxlen=40)
        threading.Thread(target=self._read_stdout, daemon=True).start()
        threading.Thread(target=self._read_stderr, daemon=True).start()

    def _read_stdout(self) -> None:
        for raw in self.proc.stdout:
            self.lines.put((time.monotonic(), raw.decode("utf-8", "replace").rstrip("\n")))
        self.lines.put((time.monotonic(), None))

    def _read_stderr(self) -> None:
        for raw in self.proc.stderr:
            self.stderr_tail.append(raw.decode("utf-8", "replace").rstrip("\n"))

    def write(self, lines: list[str]) -> float:
        """Write lines at once; the time they were written."""
        self.proc.stdin.write("".join(f"{line}\n" for line in lines).encode())
        self.proc.stdin.flush()
        return time.monotonic()

    def read_line(self, timeout: float | None = None) -> tuple[float, str]:
        try:
            stamp, line = self.lines.get(timeout=self.timeout if timeout is None else timeout)
        except queue.Empty:
            raise TimeoutError(f"no line from the engine; its stderr ends:\n{self._stderr()}") from None
        if line is None:
            raise EOFError(f"the engine closed its output; its stderr ends:\n{self._stderr()}")
        return stamp, line

    def read_reply(self, exchange: Exchange) -> list[tuple[float, str]]:
        """The reply's lines with their arrival times (the ending empty line last), as Sabaki cuts it."""
        while True:
            stamp, line = self.read_line()
            if line[:1] in ("=", "?"):
                break
            exchange.junk.append(line)
        out = [(stamp, line)]
        while line != "":
            stamp, line = self.read_line()
            out.append((stamp, line))
        return out

    def close(self, timeout: float = 10.0) -> int | None:
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return None

    def _stderr(self) -> str:
        return "\n".join(self.stderr_tail)


class SabakiSession:
    """Replays Sabaki's traffic: :meth:`send` writes a batch of commands at once and reads their replies; an
    analysis command left running (``analyze > 0``) is ended by the next batch, as Sabaki ends it."""

    def __init__(self, engine: LineEngine, *, analyze: float = 1.0, on_exchange: Callable | None = None):
        self.engine = engine
        self.analyze = analyze
        self.exchanges: list[Exchange] = []
        self.on_exchange = on_exchange
        self._running: tuple[Exchange, float, list[tuple[float, str]]] | None = None

    def send(self, *commands: str, note: str = "", analyze: bool = False) -> list[Exchange]:
        """Write ``commands`` at once (an empty string is a bare newline) and read their replies. With ``analyze``
        the last command is an analysis left running: it is read for at least ``self.analyze`` seconds and until
        its first ``info`` line, and the next :meth:`send` ends it."""
        written = self.engine.write(list(commands))
        if self._running is not None:
            self._finish_analysis(commands[0], written)
        out = []
        for i, command in enumerate(commands):
            ex = Exchange(command, note if i == 0 else "")
            out.append(ex)
            if command == "":
                self._record(ex)  # a bare newline gets no reply
                continue
            if analyze and i == len(commands) - 1:
                self._start_analysis(ex, written)
                continue
            ex.reply = [line for _, line in self.engine.read_reply(ex)][:-1]
            self._record(ex)
        return out

    def _start_analysis(self, ex: Exchange, written: float) -> None:
        lines: list[tuple[float, str]] = []
        deadline = written + self.analyze
        give_up = written + self.engine.timeout
        while True:
            now = time.monotonic()
            has_info = any(line.startswith("info") for _, line in lines)
            if now >= deadline and has_info:
                break
            if now >= give_up:
                raise TimeoutError(f"{ex.command!r}: no info line in {self.engine.timeout} s")
            try:
                stamp, line = self.engine.read_line(timeout=max(0.01, (deadline if now < deadline else give_up) - now))
            except TimeoutError:
                continue
            if not lines and line[:1] not in ("=", "?"):
                ex.junk.append(line)
                continue
            lines.append((stamp, line))
            if line == "":  # the engine ended it by itself (an error, or a bad reply)
                ex.reply = [text for _, text in lines][:-1]
                self._record(ex)
                return
        self._running = (ex, written, lines)

    def _finish_analysis(self, stopper: str, written: float) -> None:
        ex, started, lines = self._running
        self._running = None
        while not lines or lines[-1][1] != "":
            lines.append(self.engine.read_line())
        ex.reply = [text for _, text in lines][:-1]
        ex.stopped_by = stopper
        ex.analysed_for = written - started
        ex.info_before_stop = sum(1 for stamp, text in lines if stamp < written and text.startswith("info"))
        ex.stop_latency = lines[-1][0] - written
        self._record(ex)

    def _record(self, ex: Exchange) -> None:
        self.exchanges.append(ex)
        if self.on_exchange is not None:
            self.on_exchange(ex)


def free_vertex(taken: set[str], preferences: list[str]) -> str:
    return next(v for v in preferences if v.upper() not in taken)


def sabaki_session(s: SabakiSession) -> list[Exchange]:
    """What Sabaki writes, step by step, for: attach the engine, analyse a new 9x9 game, a user move, an engine
    move, another user move, a step back, stop analysing, a new 2-stone handicap game with an engine move, the older
    ``lz-analyze`` stopped by a bare newline, detach."""
    s.send(
        "name",
        "version",
        "protocol_version",
        "list_commands",
        "time_settings 0 1 0",
        note="engine started (the last line: the engine's initial commands, when configured; here no time limit)",
    )
    s.send("komi 6.5", note="start analysis: sync the new 9x9 game (komi, board size, history)")
    s.send("boardsize 9")
    s.send("clear_board")
    s.send("kata-analyze B 50 ownership true", analyze=True)
    taken = {"E5"}
    s.send("protocol_version", note="the user plays B E5: abort the analysis, sync, analyse again")
    s.send("clear_board", "play B E5")
    s.send("kata-analyze W 50 ownership true", analyze=True)
    s.send("protocol_version", note="the engine plays White: abort, sync (nothing to send), genmove_analyze")
    (white,) = s.send("kata-genmove_analyze W 50")
    if white.play and white.play.lower() not in ("pass", "resign"):
        taken.add(white.play.upper())
    s.send("kata-analyze B 50 ownership true", note="analysis goes on", analyze=True)
    user = free_vertex(taken, ["C3", "G7", "C7", "G3", "D4"])
    s.send("protocol_version", note=f"the user plays B {user}: abort, sync the one new move, analyse again")
    s.send(f"play B {user}")
    s.send("kata-analyze W 50 ownership true", analyze=True)
    s.send("protocol_version", note="the user steps back one move: abort, sync by undo, analyse again")
    s.send("undo")
    s.send("kata-analyze B 50 ownership true", analyze=True)
    s.send("protocol_version", note="the user stops the analysis")
    s.send("komi 0.5", note="a new game with 2 handicap stones, the engine plays White: sync, genmove_analyze")
    s.send("clear_board", "set_free_handicap C3 G7")
    s.send("kata-genmove_analyze W 50")
    s.send("lz-analyze B 50", note="older Sabaki: lz-analyze, stopped by a bare newline", analyze=True)
    s.send("")
    s.send("quit", note="detach the engine")
    return s.exchanges


# --- the transcript --------------------------------------------------------------------------------------------------


def shorten(line: str, keep: int = 2) -> str:
    """An ``info`` line with its first ``keep`` moves only, and its ownership as a count."""
    head, sep, own = line.partition("ownership ")
    head = head.rstrip()
    entries = [e for e in re.split(r" (?=info move )", head) if e]
    text = " ".join(entries[:keep])
    if len(entries) > keep:
        text += f" ... ({len(entries)} moves)"
    if sep:
        text = f"{text} ownership <{len(own.split())} values>".strip()
    return text


def format_exchange(ex: Exchange) -> list[str]:
    out = []
    if ex.note:
        out += ["", f"# {ex.note}"]
    out.append(">> " + (ex.command if ex.command else "(a bare newline)"))
    out += [f"<< (junk, ignored by Sabaki) {line}" for line in ex.junk]
    for line in ex.reply:
        out.append("<< " + (shorten(line) if line.startswith(("info", "ownership")) else line))
    if ex.stopped_by is not None:
        stopper = ex.stopped_by if ex.stopped_by else "a bare newline"
        out.append(
            f"   ({ex.info_before_stop} info lines in {ex.analysed_for:.1f} s; ended by {stopper!r}, "
            f"the empty line {1000 * ex.stop_latency:.0f} ms after it)"
        )
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--analyze", type=float, default=1.2, help="seconds each analysis runs before Sabaki stops it")
    p.add_argument("igo_args", nargs="*", default=["--size", "9", "--time", "1"], help="options of igo gtp")
    args = p.parse_args(argv)
    command = [sys.executable, "-m", "igo", "gtp", *args.igo_args]
    print("$ igo gtp " + " ".join(args.igo_args))

    def show(ex: Exchange) -> None:
        print("\n".join(format_exchange(ex)), flush=True)

    engine = LineEngine(command)
    try:
        sabaki_session(SabakiSession(engine, analyze=args.analyze, on_exchange=show))
    finally:
        code = engine.close()
    print(f"\n(igo gtp exited with {code})")
    return 0 if code == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
