"""Checkpoints: one safetensors file per network — weights plus JSON metadata in the header. Never pickle.

The file is a plain safetensors file (readable by any safetensors tool): the model's ``state_dict`` (contiguous, on
CPU, in its own dtypes) and, in the header's string-to-string metadata, one key ``"igo"`` whose value is a JSON object:

.. code-block:: text

    format          "igo-checkpoint"              format_version  1
    config          config_to_dict(cfg)           config_name     cfg.name
    kind            "zero" | "lee-policy" | ...   board_size      N
    feature_set     e.g. "zero8", "alphago48"     step            training step (int)
    parent          the checkpoint it came from, or null
    notes           free text                     created         ISO 8601 time, UTC
    igo_version     installed igo version, or "dev"
    parameters      parameter count               extra           any JSON object (Elo, data set, ...)

Writes are atomic (:func:`igo.engine.fileio.atomic_write`: ``<path>.tmp`` in the same directory, fsync,
``os.replace``); a crash leaves either the old file or the new one. Reading never unpickles: the
header is parsed by safetensors (:func:`read_metadata` reads only the header), tensors are memory-mapped, and every
failure — missing file, a directory, truncated or foreign bytes, no igo metadata, an unknown config, a missing,
unexpected or misshapen tensor, the wrong board size or kind — raises :class:`CheckpointError` naming the path and
the problem.
"""

from __future__ import annotations

import importlib.metadata
import json
import logging
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save as st_save
from torch import nn

from igo.engine.fileio import atomic_write

from .config import Config, config_from_dict, config_to_dict
from .models import build_model, check_board_size, parameter_count
from .weights import state_mismatch

logger = logging.getLogger(__name__)

FORMAT = "igo-checkpoint"
FORMAT_VERSION = 1
METADATA_KEY = "igo"


class CheckpointError(ValueError):
    """A checkpoint file that cannot be read or does not fit what was asked of it."""


def igo_version() -> str:
    """The installed igo package's version, or ``"dev"`` when running from a source tree."""
    try:
        return importlib.metadata.version("igo")
    except importlib.metadata.PackageNotFoundError:
        return "dev"


@dataclass
class CheckpointMeta:
    """The metadata of a checkpoint (see the module docstring); ``config`` is the configuration object."""

    config: Config
    board_size: int
    step: int = 0
    parent: str | None = None
    notes: str = ""
    created: str = ""
    igo_version: str = "dev"
    parameters: int = 0
    extra: dict[str, Any] = field(default_factory=dict)
    format_version: int = FORMAT_VERSION

    @property
    def kind(self) -> str:
        return self.config.kind

    @property
    def config_name(self) -> str:
        return self.config.name

    @property
    def feature_set(self) -> str:
        return self.config.feature_set

    def to_dict(self) -> dict[str, Any]:
        """The JSON object stored under ``"igo"`` in the header."""
        return {
            "format": FORMAT,
            "format_version": self.format_version,
            "config": config_to_dict(self.config),
            "config_name": self.config_name,
            "kind": self.kind,
            "board_size": self.board_size,
            "feature_set": self.feature_set,
            "step": self.step,
            "parent": self.parent,
            "notes": self.notes,
            "created": self.created,
            "igo_version": self.igo_version,
            "parameters": self.parameters,
            "extra": self.extra,
        }

    @classmethod
    def from_dict(cls, d: Any, where: str = "checkpoint") -> CheckpointMeta:
        """Parse and check the ``"igo"`` object; CheckpointError prefixed by ``where`` for anything wrong."""

        def bad(what: str) -> CheckpointError:
            return CheckpointError(f"{where}: {what}")

        if not isinstance(d, dict):
            raise bad(f"igo metadata must be a JSON object, got {type(d).__name__}")
        if d.get("format") != FORMAT:
            raise bad(f"not an igo checkpoint (metadata format is {d.get('format')!r}, expected {FORMAT!r})")
        version = d.get("format_version")
        if isinstance(version, bool) or not isinstance(version, int):
            raise bad(f"format_version must be an int, got {version!r}")
        if version > FORMAT_VERSION:
            raise bad(f"format_version {version} is newer than this igo reads ({FORMAT_VERSION}); upgrade igo")
        for key in ("config", "board_size"):
            if key not in d:
                raise bad(f"metadata has no {key!r}")
        try:
            config = config_from_dict(d["config"])
        except ValueError as e:
            raise bad(f"bad network config: {e}") from None
        if "kind" in d and d["kind"] != config.kind:
            raise bad(f"metadata kind {d['kind']!r} disagrees with its config's kind {config.kind!r}")
        try:
            board_size = check_board_size(d["board_size"])
        except ValueError as e:
            raise bad(str(e)) from None
        typed = {"step": int, "notes": str, "created": str, "igo_version": str, "parameters": int, "extra": dict}
        values: dict[str, Any] = {}
        for key, t in typed.items():
            if key in d:
                v = d[key]
                if not isinstance(v, t) or (t is int and isinstance(v, bool)):
                    raise bad(f"metadata field {key} must be {t.__name__}, got {v!r}")
                values[key] = v
        parent = d.get("parent")
        if parent is not None and not isinstance(parent, str):
            raise bad(f"metadata field parent must be a string or null, got {parent!r}")
        return cls(config=config, board_size=board_size, parent=parent, format_version=version, **values)


# --- writing ---------------------------------------------------------------------------------------------------------


def _state_tensors(model: nn.Module) -> dict[str, torch.Tensor]:
    # clone: safetensors refuses tensors that share storage, and contiguous() alone may return the parameter itself
    return {k: v.detach().to("cpu").contiguous().clone() for k, v in model.state_dict().items()}


def save_checkpoint(
    path: str | os.PathLike,
    model: nn.Module,
    *,
    step: int = 0,
    parent: str | None = None,
    notes: str = "",
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write ``model`` (built by :func:`igo.nets.models.build_model`: it needs ``config`` and ``board_size``) to
    ``path`` atomically, creating parent directories; returns the path. ``extra`` must be JSON-serialisable."""
    path = Path(path)
    config = getattr(model, "config", None)
    board_size = getattr(model, "board_size", None)
    if config is None or board_size is None:
        raise ValueError("the model has no config/board_size (build it with nets.models.build_model)")
    if isinstance(step, bool) or not isinstance(step, int) or step < 0:
        raise ValueError(f"step must be a non-negative int, got {step!r}")
    if parent is not None:
        parent = str(parent)
    meta = CheckpointMeta(
        config=config,
        board_size=int(board_size),
        step=step,
        parent=parent,
        notes=str(notes),
        created=datetime.now(UTC).isoformat(timespec="seconds"),
        igo_version=igo_version(),
        parameters=parameter_count(model),
        extra=dict(extra or {}),
    )
    try:
        header = json.dumps(meta.to_dict(), sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as e:
        raise ValueError(f"checkpoint metadata is not JSON-serialisable (check extra): {e}") from None
    data = st_save(_state_tensors(model), metadata={METADATA_KEY: header})

    atomic_write(path, data, parents=True)
    logger.info("saved %s (%s, %dx%d, step %d, %d bytes)", path, config.name, board_size, board_size, step, len(data))
    return path


# --- reading ---------------------------------------------------------------------------------------------------------


def _check_file(path: Path) -> None:
    if not path.exists():
        raise CheckpointError(f"checkpoint {path} does not exist")
    if path.is_dir():
        raise CheckpointError(f"checkpoint {path} is a directory, not a file")


def _not_safetensors(path: Path, e: Exception) -> CheckpointError:
    return CheckpointError(f"checkpoint {path} is truncated or not a safetensors file ({e})")


def _meta_from_header(path: Path, header: dict[str, str] | None) -> CheckpointMeta:
    raw = (header or {}).get(METADATA_KEY)
    if raw is None:
        raise CheckpointError(f"checkpoint {path}: not an igo checkpoint (the safetensors header has no igo metadata)")
    try:
        d = json.loads(raw)
    except json.JSONDecodeError as e:
        raise CheckpointError(f"checkpoint {path}: igo metadata is not valid JSON ({e})") from None
    return CheckpointMeta.from_dict(d, where=f"checkpoint {path}")


def read_metadata(path: str | os.PathLike) -> CheckpointMeta:
    """The metadata of the checkpoint at ``path``, reading only the file's header."""
    path = Path(path)
    _check_file(path)
    try:
        with safe_open(str(path), framework="pt") as f:
            header = f.metadata()
    except (SafetensorError, OSError) as e:
        raise _not_safetensors(path, e) from None
    return _meta_from_header(path, header)


def load_state(
    path: str | os.PathLike, device: str | torch.device = "cpu"
) -> tuple[dict[str, torch.Tensor], CheckpointMeta]:
    """All tensors of the checkpoint (name -> tensor, in their stored dtypes, on ``device``) and its metadata."""
    path = Path(path)
    _check_file(path)
    try:
        with safe_open(str(path), framework="pt", device=str(device)) as f:
            meta = _meta_from_header(path, f.metadata())
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except (SafetensorError, OSError) as e:
        raise _not_safetensors(path, e) from None
    return tensors, meta


def load_checkpoint(
    path: str | os.PathLike,
    *,
    board_size: int | None = None,
    device: str | torch.device = "cpu",
    expect_kind: str | None = None,
) -> tuple[nn.Module, CheckpointMeta]:
    """The model stored at ``path`` (built from its config, weights loaded strictly, float32 parameters, in eval
    mode, on ``device``) and its metadata. ``board_size`` and ``expect_kind``, when given, must match the file's."""
    path = Path(path)
    tensors, meta = load_state(path)
    if board_size is not None and board_size != meta.board_size:
        n = meta.board_size
        raise CheckpointError(f"checkpoint {path} is for {n}x{n}, asked for {board_size}x{board_size}")
    if expect_kind is not None and expect_kind != meta.kind:
        raise CheckpointError(f"checkpoint {path} holds a {meta.kind} net ({meta.config_name}), expected {expect_kind}")
    try:
        model = build_model(meta.config, meta.board_size)
    except ImportError as e:
        raise CheckpointError(f"checkpoint {path}: {e}") from None
    why = state_mismatch(model, tensors)
    if why is not None:
        raise CheckpointError(f"checkpoint {path} ({meta.config_name}): {why}")
    try:
        model.load_state_dict(tensors, strict=True)
    except RuntimeError as e:  # dtype or other mismatch that the checks above did not catch
        raise CheckpointError(f"checkpoint {path}: cannot load the weights ({e})") from None
    model = model.to(device).eval()
    logger.info("loaded %s (%s, %dx%d, step %d)", path, meta.config_name, meta.board_size, meta.board_size, meta.step)
    return model, meta


__all__ = [
    "CheckpointError",
    "CheckpointMeta",
    "FORMAT",
    "FORMAT_VERSION",
    "METADATA_KEY",
    "igo_version",
    "load_checkpoint",
    "load_state",
    "read_metadata",
    "save_checkpoint",
]
