"""Tests of engine/fileio.py: atomic replacement (bytes, text, a writer callback), no .tmp left on failure, JSON
lines."""

from __future__ import annotations

import json

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
