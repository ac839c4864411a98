"""Players of arena games: GTP engines in subprocesses.

A player is a name, a GTP command line and extra environment variables (:class:`PlayerSpec`); :func:`igo_command`
builds igo's own command line and :func:`thread_env` the environment that holds it to a share of the cores. An
:class:`Engine` is that player's process, started on demand, reused from game to game (``clear_board``) and restarted
when it has died; an engine's first command after starting has ``startup_timeout`` seconds (loading Python, Numba
caches), every other command ``command_timeout``, so nothing ever waits forever. Engines are shut down with ``quit``,
then terminated, then killed.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from igo.gtp.client import GTPClient, GTPCommandError, GTPError

__all__ = [
    "DEFAULT_COMMAND_TIMEOUT",
    "DEFAULT_STARTUP_TIMEOUT",
    "Engine",
    "EngineStartError",
    "PlayerSpec",
    "first_line",
    "igo_command",
    "thread_env",
]

logger = logging.getLogger(__name__)

DEFAULT_STARTUP_TIMEOUT: Final = 120.0
DEFAULT_COMMAND_TIMEOUT: Final = 30.0


@dataclass
class PlayerSpec:
    """A player: its name (for SGF files and reports), the GTP command line that starts its engine and the
    environment variables its engine gets on top of the inherited ones (``env``, e.g. :func:`thread_env`)."""

    name: str
    command: list[str]
    env: dict[str, str] | None = None

    def __post_init__(self) -> None:
        self.command = [os.fspath(a) for a in self.command]
        if not self.command:
            raise ValueError(f"player {self.name!r}: empty command line")
        if not self.name or not self.name.strip():
            raise ValueError("a player needs a name")
        if self.env is not None:
            bad = [
                k for k, v in self.env.items() if not (isinstance(k, str) and k and "=" not in k and isinstance(v, str))
            ]
            if bad:
                raise ValueError(f"player {self.name!r}: bad environment variables {bad!r} (names and values are text)")


def thread_env(cpus: float) -> dict[str, str]:
    """The environment that holds igo's engine to ``cpus`` cores (a game's Ray CPUs, at least 1): ``OMP_NUM_THREADS``,
    which igo's thread defaults (search and network threads) and torch follow."""
    if not (isinstance(cpus, int | float) and cpus > 0):
        raise ValueError(f"cpus must be a positive number, got {cpus!r}")
    return {"OMP_NUM_THREADS": str(max(1, int(cpus)))}


def igo_command(size: int, komi: float, extra_args: Sequence[str] = ()) -> list[str]:
    """The command line of igo's own GTP engine (this Python, ``-m igo gtp``) with ``extra_args`` such as
    ``["--player", "mcts", "--playouts", "2000"]``."""
    return [sys.executable, "-m", "igo", "gtp", "--size", str(int(size)), "--komi", f"{float(komi):g}", *extra_args]


class EngineStartError(OSError):
    """An engine (or the GNU Go referee) could not be started or did not answer its first command."""


def first_line(text: str, limit: int = 300) -> str:
    """The first line of an engine's message, cut to ``limit`` characters, for reasons and logs."""
    line = str(text).strip().splitlines()[0] if str(text).strip() else ""
    return line if len(line) <= limit else line[: limit - 3] + "..."


class Engine:
    """A player's engine process: started on demand, reused from game to game, restarted when it has died.

    ``client`` is the running :class:`~igo.gtp.client.GTPClient` (or None); :meth:`ensure` returns a live one.
    ``starts`` counts the processes started."""

    def __init__(
        self,
        spec: PlayerSpec,
        *,
        startup_timeout: float = DEFAULT_STARTUP_TIMEOUT,
        command_timeout: float = DEFAULT_COMMAND_TIMEOUT,
        cwd: str | os.PathLike[str] | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.spec = spec
        self.startup_timeout = float(startup_timeout)
        self.command_timeout = float(command_timeout)
        self.cwd = cwd
        self.env = env
        self.client: GTPClient | None = None
        self.starts = 0

    @property
    def name(self) -> str:
        return self.spec.name

    def environment(self) -> dict[str, str] | None:
        """The environment the engine process starts with: ``env`` (default: this process's) plus the player's
        ``spec.env``; just ``env`` (None: inherit this process's unchanged) when the player adds nothing."""
        if not self.spec.env:
            return self.env
        return {**(self.env if self.env is not None else os.environ), **self.spec.env}

    def ensure(self) -> GTPClient:
        """The running engine, started (again) if there is none or it died. Raises :class:`EngineStartError`."""
        if self.client is not None and self.client.alive:
            return self.client
        if self.client is not None:
            logger.info("engine %s is gone (%r); restarting it", self.name, self.client)
            self.client.close(timeout=1.0)
            self.client = None
        try:
            client = GTPClient(
                self.spec.command, timeout=self.command_timeout, cwd=self.cwd, env=self.environment(), name=self.name
            )
        except GTPError as err:
            raise EngineStartError(f"cannot start {self.name}: {err}") from err
        self.starts += 1
        try:
            client.send("protocol_version", timeout=self.startup_timeout)
        except GTPCommandError:
            pass  # alive and talking GTP; protocol_version is required by the spec, but be lenient
        except GTPError as err:
            client.close(timeout=1.0)
            raise EngineStartError(f"{self.name} did not start: {err}") from err
        self.client = client
        return client

    def close(self, timeout: float = 5.0) -> None:
        """``quit``, then terminate, then kill. Safe to call twice."""
        if self.client is not None:
            self.client.close(timeout=timeout)
            self.client = None

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Engine {self.name} {self.client!r} starts={self.starts}>"
