"""A GTP v2 client for external engines such as GNU Go.

:class:`GTPClient` starts an engine as a subprocess and talks the Go Text Protocol to it over its stdin and stdout.
Every command is sent with a numeric id, every reply is checked against that id, and every read has a deadline, so a
hung or crashed engine turns into an exception instead of a hung caller::

    from igo.gtp.client import GTPClient, GTPCommandError

    with GTPClient("gnugo --mode gtp --chinese-rules --level 1", timeout=10.0) as engine:
        engine.boardsize(9)
        engine.komi(7.5)
        engine.play("black", "E5")
        reply = engine.genmove("white")        # "C3", "pass" or "resign"
        try:
            engine.play("b", "E5")              # occupied
        except GTPCommandError as err:
            print(err.message)                  # "illegal move"
        print(engine.showboard())
        print(engine.send("final_score"))       # any other command, text of the reply

Programs are looked up on ``PATH`` and, failing that, in ``/usr/games`` and ``/usr/local/games`` (where Debian puts
``gnugo``). The engine's stderr is drained by a daemon thread into a bounded tail (see :attr:`GTPClient.stderr_tail`)
so a chatty engine never blocks, and the tail is quoted when the engine dies.

Errors, all subclasses of :class:`GTPError` (a ``RuntimeError``):

- :class:`GTPCommandError` — the engine answered ``?``; carries ``.command`` and ``.message``.
- :class:`GTPProtocolError` — a reply that is not GTP (junk line, wrong id). The rest of that reply is consumed so later
  commands stay in step.
- :class:`GTPTimeoutError` — no complete reply in time. The engine is killed: a late reply would be read as the answer
  to the next command.
- :class:`GTPEngineDied` — the engine exited or closed its stdout; carries ``.returncode`` and ``.stderr``.

Command text that cannot be sent as one GTP line (empty, containing a newline, control character or ``#``) raises
``ValueError`` before anything is written. Traffic is logged at DEBUG on this module's logger.
"""

from __future__ import annotations

import io
import logging
import os
import queue
import re
import shlex
import shutil
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Final

__all__ = [
    "GTPClient",
    "GTPCommandError",
    "GTPEngineDied",
    "GTPError",
    "GTPProtocolError",
    "GTPTimeoutError",
]

logger = logging.getLogger(__name__)

STDERR_TAIL_BYTES: Final = 64 * 1024
"""How much of the engine's stderr is kept (the most recent bytes)."""

GAMES_DIRS: Final = ("/usr/games", "/usr/local/games")
"""Where to look for a program that is not on ``PATH``."""

_EOF: Final = object()  # pushed by the stdout reader when the engine's stdout closes
_POLL_S: Final = 0.25  # how often a waiting send() checks whether the process has exited
_REPLY_RE: Final = re.compile(r"([=?])(\d*)(.*)", re.DOTALL)
_COLORS: Final = {"b": "black", "black": "black", "w": "white", "white": "white"}


class GTPError(RuntimeError):
    """Base class for everything that goes wrong talking to a GTP engine."""


class GTPCommandError(GTPError):
    """The engine answered a command with a ``?`` failure reply."""

    def __init__(self, command: str, message: str) -> None:
        super().__init__(f"GTP command {command!r} failed: {message}")
        self.command = command
        self.message = message


class GTPProtocolError(GTPError):
    """The engine wrote something that is not a well-formed GTP reply to the command just sent."""


class GTPTimeoutError(GTPError):
    """No complete reply arrived in time; the engine has been killed."""


class GTPEngineDied(GTPError):
    """The engine exited, or closed its stdout, while the client still needed it."""

    def __init__(self, message: str, *, returncode: int | None = None, stderr: str = "") -> None:
        super().__init__(message)
        self.returncode = returncode
        self.stderr = stderr


def _validate_command(command: str) -> str:
    """Return ``command`` stripped, or raise ``ValueError`` if it cannot be sent as a single GTP line."""
    if not isinstance(command, str):
        raise ValueError(f"GTP command must be a str, not {type(command).__name__}")
    text = command.strip()
    if not text:
        raise ValueError("empty GTP command")
    for ch in text:
        if (ord(ch) < 32 and ch != "\t") or ord(ch) == 127:
            raise ValueError(f"GTP command contains a newline or control character {ch!r}: {command!r}")
    if "#" in text:
        # The engine would drop everything after '#' as a comment and the reply could not be matched.
        raise ValueError(f"GTP command contains '#': {command!r}")
    return text


def _resolve_program(program: str, cwd: str | os.PathLike[str] | None, env: Mapping[str, str] | None) -> str:
    """Find ``program`` on PATH (the child's PATH when ``env`` is given), then in the games directories."""
    search_path = env.get("PATH") if env is not None else None
    if os.sep in program or (os.altsep and os.altsep in program):
        candidates = [program]
        if cwd is not None and not os.path.isabs(program):
            candidates.insert(0, os.path.join(os.fspath(cwd), program))
        for candidate in candidates:
            found = shutil.which(candidate)
            if found:
                return found
    else:
        found = shutil.which(program, path=search_path)
        if found:
            return found
        for directory in GAMES_DIRS:
            found = shutil.which(os.path.join(directory, program))
            if found:
                return found
    where = "" if os.sep in program else f" on PATH or in {', '.join(GAMES_DIRS)}"
    raise GTPError(f"GTP engine program {program!r} not found{where} (or not executable)")


class GTPClient:
    """A running GTP engine subprocess and the conversation with it.

    ``command`` is the engine's command line, a string (split with :func:`shlex.split`) or an argument list.
    ``timeout`` is the default number of seconds :meth:`send` waits for a reply. ``name`` labels the engine in logs
    and error messages (default: the program's base name); it is stored as :attr:`label` because :meth:`name` is the
    GTP ``name`` command.

    A client is safe to share between threads (commands are serialised), but not between processes.
    """

    def __init__(
        self,
        command: str | Sequence[str],
        *,
        timeout: float = 30.0,
        cwd: str | os.PathLike[str] | None = None,
        env: Mapping[str, str] | None = None,
        name: str | None = None,
    ) -> None:
        argv = shlex.split(command) if isinstance(command, str) else [os.fspath(a) for a in command]
        if not argv:
            raise GTPError("empty GTP engine command line")
        if timeout <= 0:
            raise ValueError(f"timeout must be positive, got {timeout!r}")
        self.argv: list[str] = [_resolve_program(argv[0], cwd, env), *argv[1:]]
        self.label: str = name or os.path.basename(argv[0])
        self.timeout = float(timeout)
        self._lock = threading.RLock()
        self._next_id = 1
        self._failure: str | None = None  # why the client can no longer be used (timeout, death, close)
        self._closed = False
        self._eof = False
        self._lines: queue.Queue[object] = queue.Queue()
        self._stderr_buf = bytearray()
        self._stderr_lock = threading.Lock()

        logger.debug("starting GTP engine %s: %s", self.label, shlex.join(self.argv))
        try:
            self._proc = subprocess.Popen(
                self.argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                cwd=cwd,
                env=dict(env) if env is not None else None,
            )
        except OSError as err:
            raise GTPError(f"cannot start GTP engine {self.label} ({shlex.join(self.argv)}): {err}") from err
        assert self._proc.stdin is not None and self._proc.stdout is not None and self._proc.stderr is not None
        self._stdin = io.TextIOWrapper(self._proc.stdin, encoding="utf-8", errors="replace", newline="\n")
        self._stdout = io.TextIOWrapper(self._proc.stdout, encoding="utf-8", errors="replace", newline=None)
        self._stderr = self._proc.stderr
        self._stdout_thread = threading.Thread(
            target=self._read_stdout, name=f"gtp-stdout-{self.label}-{self._proc.pid}", daemon=True
        )
        self._stderr_thread = threading.Thread(
            target=self._read_stderr, name=f"gtp-stderr-{self.label}-{self._proc.pid}", daemon=True
        )
        self._stdout_thread.start()
        self._stderr_thread.start()

    # ------------------------------------------------------------------ background readers

    def _read_stdout(self) -> None:
        try:
            for line in self._stdout:
                self._lines.put(line.rstrip("\r\n"))
        except (OSError, ValueError):  # pipe closed under us during close()
            pass
        finally:
            self._lines.put(_EOF)

    def _read_stderr(self) -> None:
        try:
            while True:
                chunk = self._stderr.read1(65536)
                if not chunk:
                    break
                with self._stderr_lock:
                    self._stderr_buf += chunk
                    excess = len(self._stderr_buf) - STDERR_TAIL_BYTES
                    if excess > 0:
                        del self._stderr_buf[:excess]
        except (OSError, ValueError):
            pass

    @property
    def stderr_tail(self) -> str:
        """The most recent (up to 64 KiB) output of the engine on stderr."""
        with self._stderr_lock:
            return self._stderr_buf.decode("utf-8", errors="replace")

    # ------------------------------------------------------------------ state

    @property
    def pid(self) -> int:
        return self._proc.pid

    @property
    def returncode(self) -> int | None:
        """The engine's exit status, or None while it runs."""
        return self._proc.poll()

    @property
    def alive(self) -> bool:
        """True while the engine runs and the client can still send commands."""
        return self._failure is None and self._proc.poll() is None

    def __repr__(self) -> str:
        state = "alive" if self.alive else (self._failure or f"exited {self._proc.poll()}")
        return f"<GTPClient {self.label} pid={self._proc.pid} {state}>"

    # ------------------------------------------------------------------ sending

    def send(self, command: str, *, timeout: float | None = None) -> str:
        """Send one GTP command and return the text of its success reply.

        The text has the ``=id`` prefix and the terminating blank line removed; a multi-line reply is joined with
        ``"\\n"``. Raises :class:`GTPCommandError` for a ``?`` reply, :class:`GTPProtocolError`,
        :class:`GTPTimeoutError` or :class:`GTPEngineDied` as described in the module docstring, and ``ValueError``
        for command text that is not a single GTP line.
        """
        text = _validate_command(command)
        with self._lock:
            if self._closed:
                raise GTPError(f"GTP client for {self.label} is closed")
            return self._send(text, self.timeout if timeout is None else timeout)

    def _send(self, command: str, timeout: float) -> str:
        if self._failure is not None:
            raise GTPError(f"GTP engine {self.label} is unusable: {self._failure}")
        self._discard_stale_lines()
        deadline = time.monotonic() + timeout
        cmd_id = self._next_id
        self._next_id += 1
        line = f"{cmd_id} {command}"
        logger.debug("%s >> %s", self.label, line)
        try:
            self._stdin.write(line + "\n")
            self._stdin.flush()
        except (BrokenPipeError, ConnectionResetError, ValueError, OSError) as err:
            raise self._died(f"could not send {command!r}: {err}") from err

        first = self._next_reply_line(command, deadline, skip_blank=True)
        reply = [first]
        while True:
            more = self._next_reply_line(command, deadline, skip_blank=False)
            if more == "":
                break
            reply.append(more)
        logger.debug("%s << %s", self.label, "\n".join(reply))

        match = _REPLY_RE.fullmatch(first)
        if match is None:
            joined = "\n".join(reply)
            raise GTPProtocolError(f"malformed reply from GTP engine {self.label} to {command!r}: {joined!r}")
        status, reply_id, rest = match.groups()
        if reply_id and int(reply_id) != cmd_id:
            raise GTPProtocolError(
                f"GTP engine {self.label} answered {command!r} (id {cmd_id}) with id {reply_id}: {first!r}"
            )
        if rest and not rest[0].isspace():
            raise GTPProtocolError(f"malformed reply from GTP engine {self.label} to {command!r}: {first!r}")
        reply[0] = rest.lstrip(" \t")
        result = "\n".join(reply).rstrip().lstrip("\n")
        if status == "?":
            raise GTPCommandError(command, result)
        return result

    def _next_reply_line(self, command: str, deadline: float, *, skip_blank: bool) -> str:
        """The next stdout line of the current reply; before the reply starts, blank lines are skipped and any line
        that does not start with ``=``/``?`` is a protocol error (the rest of that junk is drained first)."""
        while True:
            item = self._get_line(command, deadline)
            if not skip_blank:
                return item
            if item.strip() == "":
                continue
            if item[0] in "=?":
                return item
            self._drain_reply(deadline)
            raise GTPProtocolError(
                f"malformed reply from GTP engine {self.label} to {command!r}: line {item!r} does not start with "
                f"'=' or '?'"
            )

    def _get_line(self, command: str, deadline: float) -> str:
        if self._eof:
            raise self._died(f"stdout closed while waiting for the reply to {command!r}")
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise self._timed_out(command)
            try:
                item = self._lines.get(timeout=min(remaining, _POLL_S))
            except queue.Empty:
                if self._proc.poll() is not None:
                    # The process is gone; let the reader deliver what is still in the pipe, then EOF.
                    self._stdout_thread.join(timeout=1.0)
                    try:
                        item = self._lines.get_nowait()
                    except queue.Empty:
                        raise self._died(f"exited while waiting for the reply to {command!r}") from None
                else:
                    continue
            if item is _EOF:
                self._eof = True
                raise self._died(f"stdout closed while waiting for the reply to {command!r}")
            assert isinstance(item, str)
            return item

    def _drain_reply(self, deadline: float) -> None:
        """After junk output, consume lines up to and including the next blank line, briefly, to keep in step."""
        end = min(deadline, time.monotonic() + 1.0)
        while True:
            try:
                item = self._lines.get(timeout=max(0.0, end - time.monotonic()))
            except queue.Empty:
                return
            if item is _EOF:
                self._eof = True
                return
            assert isinstance(item, str)
            logger.debug("%s << (discarded) %s", self.label, item)
            if item.strip() == "":
                return

    def _discard_stale_lines(self) -> None:
        """Drop output nobody asked for (left over after a protocol error) so it is not taken as the next reply."""
        while True:
            try:
                item = self._lines.get_nowait()
            except queue.Empty:
                return
            if item is _EOF:
                self._eof = True
                return
            logger.warning("GTP engine %s: discarding unexpected output %r", self.label, item)

    def _timed_out(self, command: str) -> GTPTimeoutError:
        self._failure = f"timed out waiting for the reply to {command!r}"
        logger.warning("GTP engine %s %s; killing it", self.label, self._failure)
        self._kill()
        return GTPTimeoutError(f"GTP engine {self.label} {self._failure}; the engine was killed")

    def _died(self, what: str) -> GTPEngineDied:
        try:
            returncode: int | None = self._proc.wait(timeout=1.0)
        except subprocess.TimeoutExpired:  # stdout closed but the process lingers
            self._kill()
            returncode = self._proc.poll()
        self._stderr_thread.join(timeout=1.0)
        stderr = self.stderr_tail
        self._failure = f"engine died (exit code {returncode})"
        message = f"GTP engine {self.label} {what} (exit code {returncode})"
        tail = stderr.strip()
        if tail:
            message += "; stderr tail:\n" + tail[-4000:]
        logger.warning("%s", message)
        return GTPEngineDied(message, returncode=returncode, stderr=stderr)

    def _kill(self) -> None:
        if self._proc.poll() is None:
            try:
                self._proc.kill()
            except OSError:
                pass
        try:
            self._proc.wait(timeout=5.0)
        except subprocess.TimeoutExpired:
            logger.error("GTP engine %s (pid %d) did not die after SIGKILL", self.label, self._proc.pid)

    # ------------------------------------------------------------------ shutdown

    def close(self, timeout: float = 5.0) -> None:
        """Shut the engine down: ``quit``, close its stdin, wait; then terminate, then kill. Safe to call twice."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            deadline = time.monotonic() + max(timeout, 0.0)
            if self._failure is None and self._proc.poll() is None:
                try:
                    self._send("quit", max(timeout, 0.01))
                except GTPError as err:
                    logger.debug("GTP engine %s: quit failed: %s", self.label, err)
            self._failure = self._failure or "closed"
            try:
                self._stdin.close()
            except (OSError, ValueError):
                pass
            try:
                self._proc.wait(timeout=max(deadline - time.monotonic(), 0.0))
            except subprocess.TimeoutExpired:
                logger.warning("GTP engine %s did not exit after quit; terminating it", self.label)
                self._proc.terminate()
                try:
                    self._proc.wait(timeout=min(max(timeout, 0.1), 1.0))
                except subprocess.TimeoutExpired:
                    logger.warning("GTP engine %s ignored SIGTERM; killing it", self.label)
                    self._kill()
            for thread in (self._stdout_thread, self._stderr_thread):
                thread.join(timeout=1.0)
            for thread, stream in ((self._stdout_thread, self._stdout), (self._stderr_thread, self._stderr)):
                if not thread.is_alive():  # never close a stream another thread is blocked reading
                    try:
                        stream.close()
                    except (OSError, ValueError):
                        pass
            logger.debug("GTP engine %s closed (exit code %s)", self.label, self._proc.returncode)

    def __enter__(self) -> GTPClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __del__(self) -> None:
        # Last resort only: never leave an orphaned engine running. Use close() for an orderly shutdown.
        proc = getattr(self, "_proc", None)
        if proc is not None and proc.poll() is None:
            try:
                proc.kill()
                proc.wait(timeout=1.0)
            except Exception:  # nothing sensible to do during finalisation
                pass

    # ------------------------------------------------------------------ convenience commands

    def protocol_version(self) -> str:
        return self.send("protocol_version")

    def name(self) -> str:
        """The engine's own name (GTP ``name``); the client's label is :attr:`label`."""
        return self.send("name")

    def version(self) -> str:
        return self.send("version")

    def list_commands(self) -> list[str]:
        return [line.strip() for line in self.send("list_commands").splitlines() if line.strip()]

    def known_command(self, command: str) -> bool:
        return self.send(f"known_command {command}").strip().lower() == "true"

    def boardsize(self, size: int) -> None:
        self.send(f"boardsize {int(size)}")

    def clear_board(self) -> None:
        self.send("clear_board")

    def komi(self, komi: float) -> None:
        self.send(f"komi {float(komi):g}")

    def play(self, color: str, vertex: str) -> None:
        """Play ``vertex`` (``"D4"``, ``"pass"``) for ``color`` (``"b"``, ``"w"``, ``"black"``, ``"white"``)."""
        vertex = vertex.strip()
        if not vertex or any(ch.isspace() for ch in vertex):
            raise ValueError(f"invalid GTP vertex {vertex!r}")
        self.send(f"play {_color(color)} {vertex}")

    def genmove(self, color: str, *, timeout: float | None = None) -> str:
        """Ask the engine for a move; returns an upper-case vertex such as ``"D4"``, or ``"pass"`` / ``"resign"``."""
        reply = self.send(f"genmove {_color(color)}", timeout=timeout).strip()
        lowered = reply.lower()
        if lowered in ("pass", "resign"):
            return lowered
        if not re.fullmatch(r"[a-z][0-9]{1,2}", lowered):
            raise GTPProtocolError(f"GTP engine {self.label} answered genmove with {reply!r}, not a vertex")
        return reply.upper()

    def showboard(self) -> str:
        return self.send("showboard")


def _color(color: str) -> str:
    try:
        return _COLORS[color.strip().lower()]
    except (KeyError, AttributeError):
        raise ValueError(f"invalid GTP color {color!r} (expected 'b', 'w', 'black' or 'white')") from None
