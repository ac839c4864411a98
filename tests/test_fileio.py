"""Tests of engine/fileio.py: atomic replacement (bytes, text, a writer callback), no .tmp left on failure, JSON
lines."""

from __future__ import annotations

import json
import os
import stat

import pytest

from igo.engine import fileio
from igo.engine.fileio import append_json_line, atomic_write, atomic_write_stream, fsync_dir


def test_atomic_write_bytes_and_text(tmp_path):
    path = tmp_path / "a.bin"
    assert atomic_write(path, b"\x00\x01") == path
    assert path.read_bytes() == b"\x00\x01"
    atomic_write(path, "é\n")
    assert path.read_bytes() == "é\n".encode()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.bin"]
    with pytest.raises(TypeError):
        atomic_write(path, 3)


def test_parents_are_made_only_when_asked(tmp_path):
    with pytest.raises(FileNotFoundError):
        atomic_write(tmp_path / "x" / "y.txt", "hi")
    atomic_write(tmp_path / "x" / "y.txt", "hi", parents=True)
    assert (tmp_path / "x" / "y.txt").read_text() == "hi"


def test_a_failing_writer_leaves_the_old_file_and_no_tmp(tmp_path):
    path = tmp_path / "f.txt"
    atomic_write(path, "old")

    def half(f):
        f.write(b"new but ")
        raise RuntimeError("writer failed")

    with pytest.raises(RuntimeError, match="writer failed"):
        atomic_write_stream(path, half)
    assert path.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.txt"]


def test_a_failing_rename_leaves_the_old_file_and_no_tmp(tmp_path, monkeypatch):
    path = tmp_path / "f.txt"
    atomic_write(path, "old")

    def crash(src, dst):
        raise OSError("disk on fire")

    monkeypatch.setattr(fileio.os, "replace", crash)
    with pytest.raises(OSError, match="disk on fire"):
        atomic_write(path, "new")
    monkeypatch.undo()
    assert path.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.txt"]


def test_append_json_line(tmp_path):
    path = tmp_path / "rows.jsonl"
    append_json_line(path, {"b": 1, "a": [1, 2]})
    append_json_line(path, {"b": 2, "a": None}, sort_keys=True)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line) for line in lines] == [{"b": 1, "a": [1, 2]}, {"a": None, "b": 2}]
    assert lines[1] == '{"a": null, "b": 2}'
    fsync_dir(tmp_path)  # does not raise


def test_an_append_after_a_torn_line_starts_a_new_line(tmp_path):
    path = tmp_path / "results.jsonl"
    append_json_line(path, {"id": 1})
    with open(path, "ab") as f:
        f.write(b'{"id": 2, "resu')  # a kill in the middle of a write
    append_json_line(path, {"id": 3})
    rows, bad = fileio.read_json_lines(path)
    assert rows == [{"id": 1}, {"id": 3}] and bad == 1
    assert fileio.read_json_lines(tmp_path / "missing.jsonl") == ([], 0)


def test_open_regular_refuses_fifos_and_devices_without_hanging(tmp_path):
    fifo = tmp_path / "game.sgf"
    os.mkfifo(fifo)  # open() for reading would wait for a writer forever
    with pytest.raises(fileio.NotARegularFileError, match="FIFO"):
        fileio.open_regular(fifo)
    with pytest.raises(fileio.NotARegularFileError, match="character device"):
        fileio.open_regular("/dev/null")
    with pytest.raises(fileio.NotARegularFileError, match="directory"):
        fileio.open_regular(tmp_path)
    (tmp_path / "ok.sgf").write_bytes(b"(;)")
    with fileio.open_regular(tmp_path / "ok.sgf") as f:
        assert f.read() == b"(;)"
    with pytest.raises(ValueError, match="more than the 2 allowed"):
        fileio.open_regular(tmp_path / "ok.sgf", max_bytes=2)
    with pytest.raises(FileNotFoundError):
        fileio.open_regular(tmp_path / "missing.sgf")


def test_check_write_target_refuses_special_files(tmp_path):
    fifo = tmp_path / "out.sgf"
    os.mkfifo(fifo)
    with pytest.raises(fileio.NotARegularFileError, match="refusing"):
        fileio.check_write_target(fifo)
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)  # still the FIFO
    with pytest.raises(fileio.NotARegularFileError):
        fileio.check_write_target("/dev/null")
    with pytest.raises(fileio.NotARegularFileError):
        fileio.check_write_target(tmp_path)
    (tmp_path / "old.sgf").write_text("x")
    assert fileio.check_write_target(tmp_path / "old.sgf") == tmp_path / "old.sgf"
    assert fileio.check_write_target(tmp_path / "new.sgf") == tmp_path / "new.sgf"
