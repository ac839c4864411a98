"""Durable writes: a whole file replaced atomically, a JSON line appended and synced.

:func:`atomic_write` (bytes or text) and :func:`atomic_write_stream` (a callback that writes to the open file, e.g.
``np.savez_compressed``) write ``<path>.tmp`` in the same directory, flush and fsync it, then ``os.replace`` it over
``path``: a reader, or the file after a crash, holds the old contents or the new, never half of them. On any failure
(an exception in the callback, a full disk, an interrupt) the ``.tmp`` is removed and the exception goes on.
:func:`fsync_dir` makes the renames in a directory durable too. :func:`append_json_line` appends one JSON object
as a line and fsyncs it, so a crash loses at most the line being written (readers skip a torn last line).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

__all__ = ["append_json_line", "atomic_write", "atomic_write_stream", "fsync_dir"]


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
    fsync."""
    line = json.dumps(obj, **dumps_kwargs) + "\n"
    with open(path, "a", encoding="utf-8") as f:
        f.write(line)
        f.flush()
        os.fsync(f.fileno())
