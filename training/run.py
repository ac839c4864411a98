"""What every trainer does with its run directory: settings in and out of ``config.json``, the resume check, the
checkpoints by step, the newest one published under a fixed name, and SIGINT/SIGTERM that ask the run to stop.

A run directory (:class:`RunDir`) holds ``config.json`` (the settings; some of them, the run's identity, may not
change on resume: :meth:`RunDir.check_unchanged`), ``checkpoints/<prefix>-<step>.safetensors`` (+
``.optim.safetensors``; :meth:`RunDir.checkpoints`, :meth:`RunDir.newest`), a copy of the newest for users
(:meth:`RunDir.publish`), ``metrics.jsonl`` and ``tb/``. A trainer's config dataclass gets ``to_dict`` /
``from_dict`` from :class:`ConfigDict`; :func:`check_settings` turns a list of ``(ok, message)`` into the first
ValueError; :func:`stop_on_signals` turns SIGINT/SIGTERM into a stop request.

Checkpoints are thinned as they come (:meth:`RunDir.thin`): the newest ``keep_checkpoints`` (default
:data:`KEEP_CHECKPOINTS`) stay, and every ``keep_every``-th (default :data:`KEEP_EVERY`: the checkpoints whose step is
a multiple of ``keep_every`` checkpoint intervals, step 0 among them) for the record; the others are deleted, and the
optimizer state is kept for the newest checkpoint only (the one a resume needs). Published copies
(``latest.safetensors``, ``sl.safetensors``...) live outside ``checkpoints/`` and are never thinned; a trainer
protects the checkpoints it still uses (the Zero run's first and best checkpoints, those being evaluated). On resume a
trainer says so on stderr (:meth:`RunDir.announce_resume`): ``resuming run DIR at step N, G games, ...``.

Resume is crash-safe: :meth:`RunDir.newest`, which the trainers resume from, is the newest checkpoint whose file reads
(a torn or truncated newer one is skipped with a warning and left in place; the run overwrites it when it gets to that
step again), and it first deletes the ``.tmp`` files that an interrupted atomic write of the run left
(:meth:`RunDir.remove_stale_tmp`; only names the trainers write, never a user's file).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import re
import signal
import sys
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from igo.engine.fileio import atomic_write

from .common import OPTIM_SUFFIX, write_json

log = logging.getLogger(__name__)

CONFIG = "config.json"
CHECKPOINTS = "checkpoints"
KEEP_CHECKPOINTS = 5  # the newest checkpoints kept (0: all)
KEEP_EVERY = 10  # and every 10th checkpoint interval's (0: none beyond the newest)
# .tmp files a trainer's atomic writes leave in the run directory when interrupted: settings and state files,
# published checkpoints (sl.safetensors ...); in the checkpoint folder <prefix>-<step>[.optim].safetensors.tmp
_ROOT_TMP = re.compile(r"^[A-Za-z0-9_-]+\.(?:json|safetensors)\.tmp$")


class RunError(RuntimeError):
    """The run cannot start or go on (no data, a bad run directory, disk full, an unreadable checkpoint): the
    message says why."""


class ConfigDict:
    """``to_dict`` / ``from_dict`` for a config dataclass, as ``config.json`` keeps it. ``from_dict`` refuses keys
    that are not fields (ValueError ``unknown <SETTINGS>: a, b``)."""

    SETTINGS: ClassVar[str] = "settings"

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)  # type: ignore[call-overload]

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]):
        names = {f.name for f in dataclasses.fields(cls) if f.init}  # type: ignore[arg-type]
        unknown = sorted(set(d) - names)
        if unknown:
            raise ValueError(f"unknown {cls.SETTINGS}: {', '.join(unknown)}")
        return cls(**d)


def check_settings(checks: Iterable[tuple[bool, str]]) -> None:
    """ValueError with the message of the first check that is not ok."""
    for ok, message in checks:
        if not ok:
            raise ValueError(message)


def shown(value: float | None, spec: str = ".3f", *, percent: bool = False) -> str:
    """``value`` for a status line: formatted by ``spec`` (times 100 with a ``%`` with ``percent``), ``-`` for
    None."""
    if value is None:
        return "-"
    return f"{100 * value:{spec}}%" if percent else f"{value:{spec}}"


# --- the run directory ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunDir:
    """A trainer's run directory ``path``: its settings files and its checkpoints
    ``<folder>/<prefix>-<step>.safetensors``, the step zero-padded to ``digits``."""

    path: Path
    prefix: str = "step"
    digits: int = 8
    folder: str = CHECKPOINTS

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", Path(self.path))

    # settings

    def read_config(self, name: str = CONFIG, *, error: type[Exception] = ValueError) -> dict | None:
        """The settings in ``<path>/<name>`` (None when there is none); ``error`` when it is unreadable or not a
        JSON object."""
        path = self.path / name
        if not path.exists():
            return None
        try:
            d = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as e:
            raise error(f"{path} is not a readable run configuration: {e}") from None
        if not isinstance(d, dict):
            raise error(f"{path} is not a run configuration")
        return d

    def write_config(self, settings: Mapping[str, Any], name: str = CONFIG, *, subdirs: Iterable[str] = ()) -> Path:
        """Create the directory (and ``subdirs`` in it) and write ``settings`` to ``<path>/<name>`` atomically."""
        self.path.mkdir(parents=True, exist_ok=True)
        for sub in subdirs:
            (self.path / sub).mkdir(exist_ok=True)
        write_json(self.path / name, dict(settings))
        return self.path / name

    def check_unchanged(
        self,
        stored: Mapping[str, Any],
        current: Mapping[str, Any],
        keys: Iterable[str],
        *,
        what: str = "a run",
        error: type[Exception] = ValueError,
    ) -> None:
        """``error`` when a setting of ``keys`` (the run's identity) in ``current`` differs from ``stored``; a key
        missing on either side is not compared."""
        for k in keys:
            if k in stored and k in current and stored[k] != current[k]:
                raise error(f"{self.path} is {what} with {k}={stored[k]!r}; it cannot go on with {k}={current[k]!r} "
                            "(use another --run-dir)")  # fmt: skip

    def check_is_run_dir(self, *, marks: Iterable[str] = (), error: type[Exception] = RunError) -> None:
        """``error`` when the directory exists, is not empty and holds neither ``config.json`` nor any of
        ``marks``: it is not a run directory (a typo would otherwise write a run into someone's files)."""
        if not self.path.is_dir() or (self.path / CONFIG).exists() or any((self.path / m).exists() for m in marks):
            return
        if any(self.path.iterdir()):
            raise error(f"{self.path} exists, is not empty and has no {CONFIG}: not a run directory")

    # checkpoints

    def checkpoint(self, step: int) -> Path:
        """``<path>/<folder>/<prefix>-<step>.safetensors``."""
        return self.path / self.folder / f"{self.prefix}-{step:0{max(1, self.digits)}d}.safetensors"

    def checkpoints(self) -> list[tuple[int, Path]]:
        """The checkpoints, ``(step, path)`` by step (their optimizer files are not listed)."""
        d = self.path / self.folder
        pattern = re.compile(rf"^{re.escape(self.prefix)}-(\d+)\.safetensors$")
        out = []
        if d.is_dir():
            for p in d.iterdir():
                m = pattern.match(p.name)
                if m:
                    out.append((int(m.group(1)), p))
        return sorted(out)

    def newest(self) -> tuple[int, Path] | None:
        """The ``(step, path)`` of the newest checkpoint that reads (:func:`checkpoint_problem`), or None when there
        is none. Newer ones that do not read (torn by a crash, truncated, not a checkpoint) are skipped with a
        warning; when none reads, the newest is returned as it is, so that the trainer's load says why. Deletes the
        run's stale ``.tmp`` files first (:meth:`remove_stale_tmp`): trainers call this when they start or resume."""
        self.remove_stale_tmp()
        found = self.checkpoints()
        for step, path in reversed(found):
            why = checkpoint_problem(path)
            if why is None:
                if (step, path) != found[-1]:
                    log.warning("resuming from %s, the newest checkpoint that reads", path)
                return step, path
            log.warning("skipping checkpoint %s: %s", path, why)
        return found[-1] if found else None

    def remove_stale_tmp(self) -> list[Path]:
        """Delete the ``.tmp`` files that an interrupted atomic write of the run left: ``<name>.json.tmp`` and
        ``<name>.safetensors.tmp`` in the run directory, ``<prefix>-<step>[.optim].safetensors.tmp`` in the
        checkpoint folder (regular files only; a warning each). Returns them."""
        ckpt_tmp = re.compile(rf"^{re.escape(self.prefix)}-\d+(?:\.optim)?\.safetensors\.tmp$")
        removed = []
        for folder, pattern in ((self.path, _ROOT_TMP), (self.path / self.folder, ckpt_tmp)):
            if not folder.is_dir():
                continue
            for p in folder.iterdir():
                if pattern.match(p.name) and p.is_file() and not p.is_symlink():
                    log.warning("deleting %s, left by a write that did not finish", p)
                    p.unlink(missing_ok=True)
                    removed.append(p)
        return removed

    def thin(
        self,
        keep_last: int = KEEP_CHECKPOINTS,
        keep_every: int = KEEP_EVERY,
        interval: int = 1,
        *,
        current: int | None = None,
        protect: Iterable[int] = (),
    ) -> list[Path]:
        """Delete the checkpoints a run no longer needs; returns the deleted files. Kept: the newest ``keep_last``
        (0: every checkpoint), those whose step is a multiple of ``keep_every * interval`` (``interval``: the
        trainer's steps between checkpoints; ``keep_every`` 0: none of these), ``current`` (the checkpoint just
        written, by default the newest) and the steps in ``protect``. Optimizer state is deleted for every checkpoint
        but ``current``. Each deletion is one unlink of a file the run will not read again (optimizer files first,
        then the oldest checkpoints), so an interruption at any point leaves a run that resumes from ``current``."""
        found = self.checkpoints()
        if not found:
            return []
        steps = [s for s, _ in found]
        current = steps[-1] if current is None else current
        keep = {current, *protect}
        keep.update(steps if keep_last <= 0 else steps[-keep_last:])
        if keep_every > 0 and interval > 0:
            keep.update(s for s in steps if s % (keep_every * interval) == 0)
        removed = []
        optim = re.compile(rf"^{re.escape(self.prefix)}-(\d+){re.escape(OPTIM_SUFFIX)}$")
        folder = self.path / self.folder
        for p in sorted(folder.iterdir()):
            m = optim.match(p.name)
            if m and int(m.group(1)) != current and p.is_file() and not p.is_symlink():
                p.unlink(missing_ok=True)
                removed.append(p)
        for step, p in found:
            if step not in keep:
                p.unlink(missing_ok=True)
                removed.append(p)
        if removed:
            log.info("deleted %d old checkpoint file(s) in %s", len(removed), folder)
        return removed

    def announce_resume(self, step: int, *facts: str, unit: str = "step") -> str:
        """Say on stderr (and in the log) that the run goes on: ``resuming run DIR at step N, FACT, FACT`` (e.g.
        ``"1200 games"``); returns the line. Printed, not only logged: it is what a user rerunning a command needs
        to see, and the commands log warnings only by default."""
        line = ", ".join([f"resuming run {self.path} at {unit} {step}", *facts])
        log.info(line)
        print(line, file=sys.stderr, flush=True)
        return line

    def publish(self, checkpoint: str | os.PathLike, name: str) -> Path:
        """Copy ``checkpoint`` to ``<path>/<name>`` (e.g. ``sl.safetensors``) atomically: a reader sees the old file
        or the new."""
        atomic_write(self.path / name, Path(checkpoint).read_bytes())
        return self.path / name


def checkpoint_problem(path: str | os.PathLike) -> str | None:
    """Why the checkpoint file at ``path`` cannot be resumed from (not a regular file, or its safetensors header and
    igo metadata do not read: a torn or truncated write), or None. Reads the header only."""
    from igo.nets.checkpoint import read_metadata

    path = Path(path)
    if not path.is_file():
        return "not a regular file"
    try:
        read_metadata(path)
    except (ValueError, OSError, RecursionError) as e:  # CheckpointError is a ValueError
        return str(e).splitlines()[0] if str(e) else type(e).__name__
    return None


def restore_optimizer(optimizer, checkpoint: str | os.PathLike, *, kind: str, step: int) -> bool:
    """Load the optimizer state saved beside ``checkpoint``; when it cannot be, warn and keep the fresh optimizer
    (the weights are never lost for that). True when restored."""
    from .common import load_optimizer

    why = load_optimizer(optimizer, checkpoint, kind=kind, step=step)
    if why is not None:
        log.warning("optimizer state not restored (%s): starting it fresh", why)
    return why is None


@dataclass(kw_only=True)
class Retention:
    """A trainer config's checkpoint retention (a mixin; keyword-only fields, so that a config with required
    fields can take it): ``keep_checkpoints`` newest (0: all) plus every ``keep_every``-th (0: none more), as
    :meth:`RunDir.thin` keeps them. Call :meth:`retention_checks` in the config's validation."""

    keep_checkpoints: int = KEEP_CHECKPOINTS
    keep_every: int = KEEP_EVERY

    def retention_checks(self) -> list[tuple[bool, str]]:
        """The checks of the two settings, for :func:`check_settings`."""

        def count(v) -> bool:
            return isinstance(v, int) and not isinstance(v, bool) and v >= 0

        k, m = self.keep_checkpoints, self.keep_every
        return [
            (count(k), f"keep_checkpoints must be an integer >= 0 (0: keep every checkpoint), got {k!r}"),
            (count(m), f"keep_every must be an integer >= 0 (0: none beyond the newest), got {m!r}"),
        ]

    def thin(self, rd: RunDir, interval: int, current: int, protect: Iterable[int] = ()) -> list[Path]:
        """:meth:`RunDir.thin` with these settings (``interval``: the trainer's steps between checkpoints); a file
        that cannot be deleted is a warning, not the end of the run (the next checkpoint tries again)."""
        try:
            return rd.thin(self.keep_checkpoints, self.keep_every, interval, current=current, protect=protect)
        except OSError as e:
            log.warning("cannot delete old checkpoints in %s: %s", rd.path / rd.folder, e)
            return []


# --- signals -----------------------------------------------------------------------------------------------------


@contextmanager
def stop_on_signals(
    stop: threading.Event, message: str = "signal %d: saving a checkpoint, then stopping (again to abort)"
) -> Iterator[threading.Event]:
    """While inside, SIGINT and SIGTERM set ``stop`` (the trainer saves and stops; ``message`` is logged with the
    signal number) and a second one raises KeyboardInterrupt; the previous handlers come back on exit. Outside the
    main thread signals cannot be caught: nothing is installed."""
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def handler(signum, frame):
        if stop.is_set():
            raise KeyboardInterrupt
        log.warning(message, signum)
        stop.set()

    old = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for sig, h in old.items():
            signal.signal(sig, h)


__all__ = [
    "KEEP_CHECKPOINTS",
    "KEEP_EVERY",
    "ConfigDict",
    "Retention",
    "RunDir",
    "RunError",
    "check_settings",
    "checkpoint_problem",
    "restore_optimizer",
    "shown",
    "stop_on_signals",
]
