"""Durable writes: a whole file replaced atomically, a JSON line appended and synced.

:func:`atomic_write` (bytes or text) and :func:`atomic_write_stream` (a callback that writes to the open file, e.g.
``np.savez_compressed``) write ``<path>.tmp`` in the same directory, flush and fsync it, then ``os.replace`` it over
``path``: a reader, or the file after a crash, holds the old contents or the new, never half of them. On any failure
(an exception in the callback, a full disk, an interrupt) the ``.tmp`` is removed and the exception goes on.
:func:`fsync_dir` makes the renames in a directory durable too. :func:`append_json_line` appends one JSON object
as a line and fsyncs it, so a crash loses at most the line being written; when the file ends in a torn line (no
newline: a crash in the middle of a write), the new line starts on a line of its own, so the torn line stays one
unreadable line that readers skip (:func:`read_json_lines`) and the new record is whole.

Hostile paths: :func:`open_regular` opens a file for reading only when it is a regular file, without blocking on a
FIFO or a device (``open()`` of a FIFO waits forever for a writer); :func:`check_write_target` refuses to write over
anything that exists and is not a regular file (a FIFO, a device node such as ``/dev/null``, a directory).
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

__all__ = [
    "append_json_line",
    "atomic_write",
    "atomic_write_stream",
    "check_write_target",
    "fsync_dir",
    "open_regular",
    "read_json_lines",
]


class NotARegularFileError(OSError):
    """A path that must name a regular file names a FIFO, a device, a socket or a directory."""


def _kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return name
    return "not a regular file"


def open_regular(path: str | os.PathLike, max_bytes: int | None = None) -> BinaryIO:
    """Open ``path`` for binary reading if it is a regular file (of at most ``max_bytes`` when given); a FIFO, device,
    socket or directory is a :class:`NotARegularFileError` at once, never a hang. Other OSErrors (missing file, no
    permission) propagate as they are."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise NotARegularFileError(f"{os.fspath(path)}: {_kind(st.st_mode)}, not a regular file")
        if max_bytes is not None and st.st_size > max_bytes:
            raise ValueError(f"{os.fspath(path)}: {st.st_size:,} bytes, more than the {max_bytes:,} allowed")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def check_write_target(path: str | os.PathLike) -> Path:
    """``path`` as a Path if writing a file there replaces at most a regular file; a FIFO, device, socket or
    directory at ``path`` is a :class:`NotARegularFileError` (nothing is written or removed)."""
    path = Path(path)
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return path
    if stat.S_ISLNK(st.st_mode):
        try:
            st = os.stat(path)
        except FileNotFoundError:  # a dangling link: replacing the link itself is fine
            return path
    if not stat.S_ISREG(st.st_mode):
        raise NotARegularFileError(f"{path}: {_kind(st.st_mode)}; refusing to replace it with a file")
    return path


def atomic_write_stream(path: str | os.PathLike, write: Callable[[BinaryIO], object], *, parents: bool = False) -> Path:
    """Call ``write(f)`` on ``<path>.tmp`` opened for binary writing, fsync it and ``os.replace`` it over ``path``;
    no ``.tmp`` is left behind on failure. ``parents``: create the missing parent directories first. Returns
    ``path`` as a Path."""
    path = Path(path)
    if parents:
        path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    try:
        with open(tmp, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def atomic_write(path: str | os.PathLike, data: bytes | str, *, encoding: str = "utf-8", parents: bool = False) -> Path:
    """Replace ``path`` with ``data`` (text is encoded with ``encoding``) atomically, as
    :func:`atomic_write_stream` does. Returns ``path`` as a Path."""
    if isinstance(data, str):
        data = data.encode(encoding)
    elif not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError(f"atomic_write needs bytes or str, got {type(data).__name__}")
    return atomic_write_stream(path, lambda f: f.write(data), parents=parents)


def fsync_dir(directory: str | os.PathLike) -> None:
    """fsync ``directory`` so that the renames in it survive a power cut; a no-op where directories cannot be opened
    (Windows, where the rename is durable anyway)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def append_json_line(path: str | os.PathLike, obj: Any, **dumps_kwargs: Any) -> None:
    """Append ``json.dumps(obj, **dumps_kwargs)`` and a newline to ``path`` (created when missing), flush and
    fsync. After a torn last line (the file does not end in a newline) the record starts on a new line."""
    line = (json.dumps(obj, **dumps_kwargs) + "\n").encode("utf-8")
    with open(path, "a+b") as f:
        end = f.seek(0, os.SEEK_END)
        if end > 0:
            f.seek(end - 1)
            if f.read(1) != b"\n":
                line = b"\n" + line
        f.write(line)
        f.flush()
        os.fsync(f.fileno())


def read_json_lines(path: str | os.PathLike, *, what: str = "record") -> tuple[list[Any], int]:
    """The JSON values of the lines of ``path`` (none when it is missing) and the number of lines skipped because
    they do not parse (torn by a crash, or damaged). Blank lines are ignored."""
    try:
        f = open_regular(path)
    except FileNotFoundError:
        return [], 0
    rows: list[Any] = []
    bad = 0
    with f:
        for raw in f:
            text = raw.strip()
            if not text:
                continue
            try:
                rows.append(json.loads(text))
            except (ValueError, RecursionError):
                bad += 1
    return rows, bad
