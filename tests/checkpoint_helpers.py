"""Helpers shared by the checkpoint tests: read a checkpoint's igo header, and copy a checkpoint with its metadata or
tensors edited (to make damaged and hostile files from a valid one)."""

from __future__ import annotations

import json
from pathlib import Path

from safetensors import safe_open
from safetensors.torch import load_file, save_file


def header(path: Path) -> dict:
    with safe_open(str(path), framework="pt") as f:
        return json.loads(f.metadata()["igo"])


def rewrite(src: Path, dst: Path, *, meta=None, tensors=None, raw=None, raw_metadata=None) -> Path:
    """Copy ``src`` to ``dst`` with its igo metadata edited by ``meta(d)`` (or replaced by the string ``raw``, or the
    whole safetensors metadata replaced by ``raw_metadata``) and its tensors edited by ``tensors(t)``, in place."""
    t = load_file(str(src))
    d = header(src)
    if meta:
        meta(d)
    if tensors:
        tensors(t)
    if raw_metadata is None:
        raw_metadata = {"igo": raw if raw is not None else json.dumps(d)}
    save_file(t, str(dst), metadata=raw_metadata)
    return dst
