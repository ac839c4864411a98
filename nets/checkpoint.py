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
    komi            the komi it was trained at    rules           the rules it was trained under (RULES)
    provenance      how a shipped network was made (check_provenance), or absent
    quantization    a quantized network's mode, bits, source and calibration
                    (igo.nets.quantize.check_quantization), or absent

``komi`` and ``rules`` are absent when the trainer does not know them (a network learnt from a corpus of games at
various komi; files written before igo recorded them): :func:`network_komi` then falls back to a default. A komi
must be a finite number within +-:data:`igo.engine.limits.MAX_KOMI`, the rules a short string. ``provenance`` is
written by ``igo model ship`` (:func:`ship_checkpoint`) and absent from other checkpoints; files without it read as
before (format version 1: an optional field, which older igo versions ignore).

``quantization`` is written by ``igo model quantize`` (:mod:`igo.nets.quantize`). A bf16 / fp16 file is an ordinary
format-1 checkpoint whose float parameters are stored as BF16 / F16 (any igo loads it, into float32). An int8 file
has ``format_version`` 2 (an older igo says "upgrade igo") and the tensors of a quantized graph instead of the float
network's: int8 weights (I8) with their scales (F32) and zero points (I64), float biases and activation scales;
:func:`load_checkpoint` gives a :class:`igo.nets.quantize.QuantizedNet` (CPU only, inference only) for it.

Writes are atomic (:func:`igo.engine.fileio.atomic_write`: ``<path>.tmp`` in the same directory, fsync,
``os.replace``); a crash leaves either the old file or the new one. Reading never unpickles: the
header is parsed by safetensors (:func:`read_metadata` reads only the header), tensors are memory-mapped, and every
failure — missing file, a directory, truncated or foreign bytes, no igo metadata, an unknown config, a missing,
unexpected or misshapen tensor, the wrong board size or kind — raises :class:`CheckpointError` naming the path and
the problem.

One validation, in this order, before any real tensor memory is used (:func:`load_state`, which
:func:`load_checkpoint` calls, so every loader gets it):

1. the path is a regular file (a FIFO or a device is refused at once, never waited on);
2. the igo metadata (at most :data:`MAX_METADATA_BYTES`, nested at most :data:`MAX_METADATA_DEPTH` deep) is a JSON
   object whose fields have their types and ranges (``step``, ``parameters`` in 0..2**63-1, ``format_version`` >= 1)
   and whose config passes the config's own bounds (:mod:`igo.nets.config`);
3. the config is compared with the tensors listed in the safetensors header without reading them: its depth
   (blocks or layers) cannot exceed the number of tensors; a weightless copy of the network built on the ``meta``
   device gives the expected names, shapes and dtypes, which must be those of the header (whose sizes safetensors
   has checked against the file's: so the weights to load are bounded by the file's size; a config too large for
   the file says so), and its parameter count must match the ``parameters`` field;
4. dtypes: float parameters and buffers must be stored as F32, or F16/BF16 (which load losslessly into float32);
   integer buffers as I64; nothing else (bool, F64, integers for floats, FP8) is ever converted;
5. values: every floating-point tensor must be finite and within +-:data:`MAX_ABS_WEIGHT` (1e6), and batch-norm
   running variances non-negative (:func:`igo.nets.weights.value_problem`).

An int8 file (``quantization.mode`` "int8") replaces steps 3 and 4: the file must hold at least one byte per weight
of the float network's convolutions and linear layers (else it is refused before anything is built); then the
quantized graph of its config is built (:func:`igo.nets.quantize.int8_skeleton`: placeholder weights, a few times
the file's size in memory) and the header's names, shapes and dtypes must be exactly its layout
(:func:`igo.nets.quantize.int8_layout`; I8, F32 and I64 only, nothing converted); step 5 adds finite positive
scales and zero points in range (:func:`igo.nets.quantize.int8_value_problem`).

Text from a file that goes into an error message is escaped (:func:`igo.nets.config.printable`).
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import json
import logging
import math
import os
import stat
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save as st_save
from torch import nn

from igo.engine.fileio import NotARegularFileError, atomic_write, open_regular
from igo.engine.limits import MAX_KOMI

from .config import Config, config_depth, config_from_dict, config_to_dict, printable
from .models import build_model, check_board_size, parameter_count
from .weights import MAX_ABS_WEIGHT, shape_mismatch, state_mismatch, value_problem

logger = logging.getLogger(__name__)

FORMAT = "igo-checkpoint"
FORMAT_VERSION = 2
"""The newest ``format_version`` this igo reads (2: int8 quantized files); other checkpoints are written as
:data:`BASE_FORMAT_VERSION`, so that older igo versions read them."""
BASE_FORMAT_VERSION = 1
METADATA_KEY = "igo"
MAX_METADATA_BYTES = 4 << 20
MAX_METADATA_DEPTH = 32
MAX_COUNT = 2**63 - 1
FLOAT_DTYPES = ("F32", "F16", "BF16")  # F16 and BF16 load losslessly into float32 parameters
_TORCH_TO_SAFETENSORS = {torch.float32: "F32", torch.int64: "I64", torch.int8: "I8"}
RULES = "tromp-taylor"
"""The rules igo plays and trains under: area scoring as in Tromp-Taylor, positional superko, suicide illegal (as
igo's boards and the SGF records of its self-play games, ``RU[Tromp-Taylor]``, have them)."""
MAX_RULES_CHARS = 200


class CheckpointError(ValueError):
    """A checkpoint file that cannot be read or does not fit what was asked of it."""


def _short_repr(value: object, limit: int = 80) -> str:
    """``repr(value)`` cut to ``limit`` characters (a value from a file may be megabytes long); never raises."""
    try:
        text = repr(value)
    except ValueError:  # an int too long to write in decimal
        return f"<{type(value).__name__} too long to show>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


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
    format_version: int = BASE_FORMAT_VERSION
    komi: float | None = None  # None: not recorded (unknown)
    rules: str | None = None
    provenance: dict[str, Any] | None = None  # a shipped network's (check_provenance); None: not recorded
    quantization: dict[str, Any] | None = None  # a quantized network's (igo.nets.quantize); None: float

    @property
    def quantized_mode(self) -> str | None:
        """``"int8"``, ``"bf16"`` or ``"fp16"`` for a quantized network, None for a float one."""
        return None if self.quantization is None else self.quantization["mode"]

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
        } | {
            k: v
            for k, v in (
                ("komi", self.komi),
                ("rules", self.rules),
                ("provenance", self.provenance),
                ("quantization", self.quantization),
            )
            if v is not None
        }

    @classmethod
    def from_dict(cls, d: Any, where: str = "checkpoint") -> CheckpointMeta:
        """Parse and check the ``"igo"`` object; CheckpointError prefixed by ``where`` for anything wrong."""

        def bad(what: str) -> CheckpointError:
            return CheckpointError(f"{where}: {what}")

        if not isinstance(d, dict):
            raise bad(f"igo metadata must be a JSON object, got {type(d).__name__}")
        if d.get("format") != FORMAT:
            raise bad(f"not an igo checkpoint (metadata format is {_short_repr(d.get('format'))}, expected {FORMAT!r})")
        version = d.get("format_version")
        if isinstance(version, bool) or not isinstance(version, int):
            raise bad(f"format_version must be an int, got {_short_repr(version)}")
        if version < 1:
            raise bad(f"format_version must be >= 1, got {_short_repr(version)}")
        if version > FORMAT_VERSION:
            newer = _short_repr(version)
            raise bad(f"format_version {newer} is newer than this igo reads ({FORMAT_VERSION}); upgrade igo")
        for key in ("config", "board_size"):
            if key not in d:
                raise bad(f"metadata has no {key!r}")
        try:
            config = config_from_dict(d["config"])
        except ValueError as e:
            raise bad(f"bad network config: {e}") from None
        if "kind" in d and d["kind"] != config.kind:
            raise bad(f"metadata kind {_short_repr(d['kind'])} disagrees with its config's kind {config.kind!r}")
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
                    raise bad(f"metadata field {key} must be {t.__name__}, got {_short_repr(v)}")
                if t is int and not 0 <= v <= MAX_COUNT:
                    raise bad(f"metadata field {key} must be in 0..2**63-1, got {_short_repr(v)}")
                values[key] = v
        parent = d.get("parent")
        if parent is not None and not isinstance(parent, str):
            raise bad(f"metadata field parent must be a string or null, got {_short_repr(parent)}")
        try:
            komi, rules = check_komi(d.get("komi")), check_rules(d.get("rules"))
        except ValueError as e:
            raise bad(f"metadata field {e}") from None
        provenance = d.get("provenance")
        if provenance is not None:
            try:
                provenance = check_provenance(provenance)
            except ValueError as e:
                raise bad(f"metadata field {e}") from None
        quantization = d.get("quantization")
        if quantization is not None:
            from .quantize import INT8_FORMAT_VERSION, check_quantization

            try:
                quantization = check_quantization(quantization)
            except ValueError as e:
                raise bad(f"metadata field {e}") from None
            if quantization["mode"] == "int8" and version < INT8_FORMAT_VERSION:
                raise bad(f"an int8 quantized checkpoint must have format_version {INT8_FORMAT_VERSION}, got {version}")
            if config.kind not in ("zero", "lee-policy", "lee-value"):
                raise bad(f"a {config.kind} net cannot be quantized")
        elif version >= 2:
            raise bad(f"format_version {version} is for int8 quantized checkpoints, and this one has no quantization")
        return cls(config=config, board_size=board_size, parent=parent, format_version=version, komi=komi,
                   rules=rules, provenance=provenance, quantization=quantization, **values)  # fmt: skip


def check_komi(komi: Any) -> float | None:
    """``komi`` as a float when it is a finite number within +-MAX_KOMI (None stays None); ValueError
    ``komi must be ...`` otherwise."""
    if komi is None:
        return None
    if isinstance(komi, bool) or not isinstance(komi, int | float):
        raise ValueError(f"komi must be a number or null, got {_short_repr(komi)}")
    try:
        value = float(komi)
    except OverflowError:  # an integer of hundreds of digits
        value = float("inf")
    if not (math.isfinite(value) and abs(value) <= MAX_KOMI):
        raise ValueError(f"komi must be finite and within +-{MAX_KOMI:g}, got {_short_repr(komi)}")
    return value


def check_rules(rules: Any) -> str | None:
    """``rules`` when it is a string of at most MAX_RULES_CHARS characters (None stays None); ValueError
    ``rules must be ...`` otherwise."""
    if rules is not None and (not isinstance(rules, str) or len(rules) > MAX_RULES_CHARS):
        raise ValueError(f"rules must be a string of at most {MAX_RULES_CHARS} characters or null, got "
                         f"{_short_repr(rules)}")  # fmt: skip
    return rules


PROVENANCE_COUNTS = ("games", "positions", "learner_steps")
ELO_KEYS = ("elo", "low", "high")


def check_provenance(d: Any) -> dict[str, Any]:
    """``d`` when it is a valid provenance block (a JSON object), else ValueError ``provenance: ...`` naming the
    key. Required: ``commands`` (a non-empty list of strings: the command sequence that made the network),
    ``games``, ``positions``, ``learner_steps`` (integers >= 0), ``cpu_hours`` (a finite number >= 0), ``parent``
    (a string or null) and ``elo_vs_gnugo10``: ``{"elo", "low", "high"}`` (finite numbers, low <= elo <= high: the
    Elo against GNU Go level 10 and its 95% interval) and ``games`` (an integer >= 1, the games behind it).
    Optional: ``play``, the search settings it plays with (:func:`igo.nets.play_settings.check_play`). Other keys
    (``settings``, ``notes``...) are kept as they are."""

    def bad(what: str) -> ValueError:
        return ValueError(f"provenance: {what}")

    def number(v: Any) -> bool:
        return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)

    def count(v: Any, low: int = 0) -> bool:
        return isinstance(v, int) and not isinstance(v, bool) and low <= v <= MAX_COUNT

    if not isinstance(d, dict):
        raise bad(f"must be a JSON object, got {type(d).__name__}")
    required = ("commands", *PROVENANCE_COUNTS, "cpu_hours", "parent", "elo_vs_gnugo10")
    missing = [k for k in required if k not in d]
    if missing:
        raise bad(f"missing key{'s' if len(missing) > 1 else ''} {', '.join(repr(k) for k in missing)}")
    commands = d["commands"]
    if not (isinstance(commands, list) and commands and all(isinstance(c, str) and c.strip() for c in commands)):
        raise bad(f"'commands' must be a non-empty list of command lines (strings), got {_short_repr(commands)}")
    for key in PROVENANCE_COUNTS:
        if not count(d[key]):
            raise bad(f"{key!r} must be an integer >= 0, got {_short_repr(d[key])}")
    if not (number(d["cpu_hours"]) and d["cpu_hours"] >= 0):
        raise bad(f"'cpu_hours' must be a finite number >= 0, got {_short_repr(d['cpu_hours'])}")
    if d["parent"] is not None and not isinstance(d["parent"], str):
        raise bad(f"'parent' must be a string or null, got {_short_repr(d['parent'])}")
    elo = d["elo_vs_gnugo10"]
    if not isinstance(elo, dict):
        raise bad(f"'elo_vs_gnugo10' must be an object {{elo, low, high, games}}, got {_short_repr(elo)}")
    missing = [k for k in (*ELO_KEYS, "games") if k not in elo]
    if missing:
        raise bad(f"'elo_vs_gnugo10' has no {', '.join(repr(k) for k in missing)}")
    for key in ELO_KEYS:
        if not number(elo[key]):
            raise bad(f"'elo_vs_gnugo10.{key}' must be a finite number, got {_short_repr(elo[key])}")
    if not elo["low"] <= elo["elo"] <= elo["high"]:
        raise bad(f"'elo_vs_gnugo10' must have low <= elo <= high, got {elo['low']}, {elo['elo']}, {elo['high']}")
    if not count(elo["games"], 1):
        raise bad(f"'elo_vs_gnugo10.games' must be an integer >= 1, got {_short_repr(elo['games'])}")
    if "play" in d:
        from .play_settings import check_play

        try:
            check_play(d["play"])
        except ValueError as e:
            raise bad(str(e)) from None  # "provenance: play: ..."
    return d


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
    komi: float | None = None,
    rules: str | None = None,
) -> Path:
    """Write ``model`` (built by :func:`igo.nets.models.build_model`: it needs ``config`` and ``board_size``) to
    ``path`` atomically, creating parent directories; returns the path. ``extra`` must be JSON-serialisable;
    ``komi`` and ``rules`` (e.g. :data:`RULES`) are what the network was trained with, None when unknown."""
    path = Path(path)
    config = getattr(model, "config", None)
    board_size = getattr(model, "board_size", None)
    if config is None or board_size is None:
        raise ValueError("the model has no config/board_size (build it with nets.models.build_model)")
    if isinstance(step, bool) or not isinstance(step, int) or not 0 <= step <= MAX_COUNT:
        raise ValueError(f"step must be an int in 0..2**63-1, got {step!r}")
    if parent is not None:
        parent = str(parent)
    komi, rules = check_komi(komi), check_rules(rules)
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
        komi=komi,
        rules=rules,
    )
    data = _encode(_state_tensors(model), meta)
    atomic_write(path, data, parents=True)
    logger.info("saved %s (%s, %dx%d, step %d, %d bytes)", path, config.name, board_size, board_size, step, len(data))
    return path


def _encode(tensors: dict[str, torch.Tensor], meta: CheckpointMeta) -> bytes:
    """The safetensors bytes of ``tensors`` with ``meta`` in the header; ValueError for metadata that the reader
    would refuse."""
    try:
        header = json.dumps(meta.to_dict(), sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as e:
        raise ValueError(f"checkpoint metadata is not JSON-serialisable (check extra): {e}") from None
    # what the reader refuses is not written
    if len(header) > MAX_METADATA_BYTES or _too_deep(meta.to_dict(), MAX_METADATA_DEPTH):
        raise ValueError(
            f"checkpoint metadata must be at most {MAX_METADATA_BYTES:,} characters and nested at most "
            f"{MAX_METADATA_DEPTH} deep (check notes, extra and provenance)"
        )
    return st_save(tensors, metadata={METADATA_KEY: header})


def write_tensors(path: str | os.PathLike, tensors: dict[str, torch.Tensor], meta: CheckpointMeta) -> Path:
    """Write ``tensors`` (name -> CPU tensor, stored as they are) with ``meta`` to ``path`` atomically, creating
    parent directories; returns the path. For writers of checkpoints whose tensors are not a float network's
    ``state_dict`` (:mod:`igo.nets.quantize`); ValueError for metadata the reader would refuse."""
    path = Path(path)
    data = _encode({k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}, meta)
    atomic_write(path, data, parents=True)
    n = meta.board_size
    logger.info("saved %s (%s, %dx%d, %d bytes)", path, meta.config_name, n, n, len(data))
    return path


def ship_checkpoint(src: str | os.PathLike, dst: str | os.PathLike, provenance: Any) -> CheckpointMeta:
    """Copy the checkpoint ``src`` to ``dst`` (atomically, parents created) with ``provenance``
    (:func:`check_provenance`) in its metadata; the weights are copied as they are stored (validated by
    :func:`load_state`, never unpickled), the rest of the metadata kept. Returns the new metadata."""
    provenance = check_provenance(provenance)
    tensors, meta = load_state(src)
    meta = dataclasses.replace(meta, provenance=provenance)
    atomic_write(Path(dst), _encode({k: v.contiguous() for k, v in tensors.items()}, meta), parents=True)
    logger.info("shipped %s as %s (%s, %dx%d)", src, dst, meta.config_name, meta.board_size, meta.board_size)
    return meta


# --- reading ---------------------------------------------------------------------------------------------------------


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "a special file"


def _check_file(path: Path) -> int:
    """The size of the regular file at ``path``; CheckpointError for anything else, without blocking on a FIFO."""
    try:
        with open_regular(path) as f:
            return os.fstat(f.fileno()).st_size
    except FileNotFoundError:
        raise CheckpointError(f"checkpoint {path} does not exist") from None
    except NotARegularFileError:
        try:
            kind = _kind(os.stat(path).st_mode)
        except OSError:
            kind = "a special file"
        raise CheckpointError(f"checkpoint {path} is {kind}, not a regular file") from None
    except OSError as e:
        raise CheckpointError(f"checkpoint {path} cannot be opened ({e.strerror or e})") from None


def _not_safetensors(path: Path, e: Exception) -> CheckpointError:
    return CheckpointError(f"checkpoint {path} is truncated or not a safetensors file ({printable(e)})")


def _too_deep(value: Any, limit: int) -> bool:
    """Whether the JSON value nests lists/objects more than ``limit`` deep (iterative: no recursion)."""
    stack = [(value, 1)]
    while stack:
        v, depth = stack.pop()
        if isinstance(v, dict | list):
            if depth > limit:
                return True
            stack.extend((c, depth + 1) for c in (v.values() if isinstance(v, dict) else v))
    return False


def _meta_from_header(path: Path, header: dict[str, str] | None) -> CheckpointMeta:
    raw = (header or {}).get(METADATA_KEY)
    if raw is None:
        raise CheckpointError(f"checkpoint {path}: not an igo checkpoint (the safetensors header has no igo metadata)")
    if len(raw) > MAX_METADATA_BYTES:
        raise CheckpointError(
            f"checkpoint {path}: igo metadata of {len(raw):,} characters, more than the {MAX_METADATA_BYTES:,} allowed"
        )
    try:
        d = json.loads(raw)
    except RecursionError:
        raise CheckpointError(f"checkpoint {path}: igo metadata is nested too deep") from None
    except ValueError as e:  # JSONDecodeError, or an integer of too many digits
        raise CheckpointError(f"checkpoint {path}: igo metadata is not valid JSON ({printable(e)})") from None
    if _too_deep(d, MAX_METADATA_DEPTH):
        raise CheckpointError(f"checkpoint {path}: igo metadata is nested more than {MAX_METADATA_DEPTH} deep")
    try:
        return CheckpointMeta.from_dict(d, where=f"checkpoint {path}")
    except RecursionError:
        raise CheckpointError(f"checkpoint {path}: igo metadata is nested too deep") from None


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


def network_komi(*paths: str | os.PathLike | None, default: float) -> float:
    """The komi the first of the checkpoints ``paths`` (None entries skipped) that records one was trained at,
    else ``default``: what ``igo gtp`` and ``igo play`` play at when ``--komi`` is not given. Reads headers only;
    CheckpointError for an unreadable file or a komi out of bounds (the metadata's check)."""
    for path in paths:
        if path:
            komi = read_metadata(path).komi
            if komi is not None:
                return komi
    return default


def hours(value: Any) -> float:
    """A recorded CPU-hours figure as a float: 0 when it is absent or not a finite number >= 0 (metadata is
    untrusted)."""
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value) and value >= 0
    return float(value) if ok else 0.0


def network_cpu_hours(extra: dict[str, Any]) -> float | None:
    """The CPU-hours that made a network, from its checkpoint's ``extra``: ``cpu_hours`` (its own training, which
    ``igo train sl`` and ``igo train zero`` record) plus ``parent_cpu_hours`` (what its ``--init`` network cost);
    None when it records neither."""
    if "cpu_hours" not in extra and "parent_cpu_hours" not in extra:
        return None
    return hours(extra.get("cpu_hours")) + hours(extra.get("parent_cpu_hours"))


def _check_request(path: Path, meta: CheckpointMeta, board_size: int | None, expect_kind: str | None) -> None:
    if board_size is not None and board_size != meta.board_size:
        n = meta.board_size
        raise CheckpointError(f"checkpoint {path} is for {n}x{n}, asked for {board_size}x{board_size}")
    if expect_kind is not None and expect_kind != meta.kind:
        name = printable(meta.config_name)
        raise CheckpointError(f"checkpoint {path} holds a {meta.kind} net ({name}), expected {expect_kind}")


def _check_header(path: Path, meta: CheckpointMeta, names: list[str], slice_of, size: int):
    """Steps 3 and 4 of the module docstring: the config against the tensor ``names`` of the header, their dtypes
    and shapes (``slice_of(name)``, read from the header only) and the file's ``size``, building nothing but a
    weightless (meta device) network; for an int8 file, its quantized skeleton (returned; None otherwise)."""
    where = f"checkpoint {path} ({printable(meta.config_name)})"
    field, depth = config_depth(meta.config)
    if depth > len(names):
        held = len(names)
        raise CheckpointError(f"{where}: the config claims {depth} {field} but the file holds only {held} tensors")
    try:
        with torch.device("meta"):  # shapes only: no memory, no initialisation
            skeleton = build_model(meta.config, meta.board_size)
    except ImportError as e:
        raise CheckpointError(f"checkpoint {path}: {e}") from None
    except (RuntimeError, ValueError, OverflowError, MemoryError) as e:
        raise CheckpointError(f"{where}: cannot build the network of its config ({printable(e)})") from None
    expected = skeleton.state_dict()
    params = parameter_count(skeleton)
    if meta.quantized_mode == "int8":
        return _check_int8_header(path, meta, names, slice_of, size, expected, params)
    if len(names) != len(expected) or any(k not in expected for k in names):
        got = dict.fromkeys(names, ())  # the names differ: shape_mismatch says which, before comparing any shape
    else:
        header = {k: slice_of(k) for k in names}
        got = {k: tuple(s.get_shape()) for k, s in header.items()}
    why = shape_mismatch({k: tuple(v.shape) for k, v in expected.items()}, got)
    if why is not None:
        least = sum(v.numel() * (2 if v.is_floating_point() else v.element_size()) for v in expected.values())
        if least > size:  # say so first: a small file whose header claims a huge network
            why = (
                f"the config claims {params:,} parameters ({least:,} bytes at least), more than the file's {size:,} "
                f"bytes hold; {why}"
            )
        raise CheckpointError(f"{where}: {why}")
    if meta.parameters not in (0, params):
        raise CheckpointError(f"{where}: the metadata says {meta.parameters:,} parameters, its config has {params:,}")
    for k, want in expected.items():
        dtype = header[k].get_dtype()
        if want.is_floating_point():
            if dtype not in FLOAT_DTYPES:
                raise CheckpointError(
                    f"{where}: tensor {k} has dtype {printable(dtype)}, expected F32 (or F16/BF16, which load "
                    "losslessly)"
                )
        elif dtype != _TORCH_TO_SAFETENSORS.get(want.dtype):
            expect = _TORCH_TO_SAFETENSORS.get(want.dtype, str(want.dtype))
            raise CheckpointError(f"{where}: tensor {k} has dtype {printable(dtype)}, expected {expect}")
    return None


def _check_int8_header(path: Path, meta: CheckpointMeta, names: list[str], slice_of, size: int, expected, params):
    """Steps 3 and 4 for an int8 file (module docstring): enough bytes for the float network's weights, then the
    header against the layout of the quantized skeleton, which is returned."""
    from .quantize import int8_layout, int8_skeleton

    where = f"checkpoint {path} ({printable(meta.config_name)}, int8)"
    least = sum(v.numel() for v in expected.values() if v.is_floating_point() and v.dim() >= 2)
    if least > size:
        raise CheckpointError(
            f"{where}: the config claims {params:,} parameters ({least:,} bytes of int8 weights at least), more than "
            f"the file's {size:,} bytes hold"
        )
    if meta.parameters not in (0, params):
        raise CheckpointError(f"{where}: the metadata says {meta.parameters:,} parameters, its config has {params:,}")
    try:
        skeleton = int8_skeleton(meta.config, meta.board_size)
        layout = int8_layout(skeleton)
    except ImportError as e:
        raise CheckpointError(f"checkpoint {path}: int8 networks need torch.ao.quantization ({printable(e)})") from None
    except (RuntimeError, ValueError, OverflowError, MemoryError) as e:
        raise CheckpointError(f"{where}: cannot build the quantized network of its config ({printable(e)})") from None
    if len(names) != len(layout) or any(k not in layout for k in names):
        got = dict.fromkeys(names, ())
    else:
        got = {k: tuple(slice_of(k).get_shape()) for k in names}
    why = shape_mismatch({k: shape for k, (shape, _) in layout.items()}, got)
    if why is not None:
        torch_version = printable(meta.quantization.get("torch", "?"))
        raise CheckpointError(
            f"{where}: {why} (written by torch {torch_version}, read by torch {torch.__version__}; re-quantize the "
            "source checkpoint if their quantized graphs differ)"
        )
    for k, (_, dtype) in layout.items():
        want = _TORCH_TO_SAFETENSORS[dtype]
        got_dtype = slice_of(k).get_dtype()
        if got_dtype != want:
            raise CheckpointError(f"{where}: tensor {k} has dtype {printable(got_dtype)}, expected {want}")
    return skeleton


def _load_validated(
    path: Path,
    device: str | torch.device = "cpu",
    board_size: int | None = None,
    expect_kind: str | None = None,
) -> tuple[dict[str, torch.Tensor], CheckpointMeta, Any]:
    """The tensors and metadata of the checkpoint at ``path`` after the whole validation, and for an int8 file its
    quantized skeleton (None otherwise)."""
    size = _check_file(path)
    try:
        with safe_open(str(path), framework="pt", device=str(device)) as f:
            meta = _meta_from_header(path, f.metadata())
            _check_request(path, meta, board_size, expect_kind)
            names = list(f.keys())
            skeleton = _check_header(path, meta, names, f.get_slice, size)
            if skeleton is not None:
                from .quantize import int8_value_problem
            tensors = {}
            for k in names:
                t = f.get_tensor(k)
                why = value_problem(k, t)
                if why is None and skeleton is not None:
                    why = int8_value_problem(k, t)
                if why is not None:
                    raise CheckpointError(f"checkpoint {path} ({printable(meta.config_name)}): {why}")
                tensors[k] = t
    except (SafetensorError, OSError) as e:
        raise _not_safetensors(path, e) from None
    return tensors, meta, skeleton


def load_state(
    path: str | os.PathLike, device: str | torch.device = "cpu"
) -> tuple[dict[str, torch.Tensor], CheckpointMeta]:
    """All tensors of the checkpoint (name -> tensor, in their stored dtypes, on ``device``) and its metadata, after
    the whole validation of the module docstring (an int8 file's are the plain tensors of its quantized graph)."""
    tensors, meta, _skeleton = _load_validated(Path(path), device)
    return tensors, meta


def load_checkpoint(
    path: str | os.PathLike,
    *,
    board_size: int | None = None,
    device: str | torch.device = "cpu",
    expect_kind: str | None = None,
) -> tuple[nn.Module, CheckpointMeta]:
    """The model stored at ``path`` (built from its config, weights loaded strictly, float32 parameters, in eval
    mode, on ``device``) and its metadata. ``board_size`` and ``expect_kind``, when given, must match the file's.
    The network is built only after the file passed the validation of the module docstring. An int8 file gives a
    :class:`igo.nets.quantize.QuantizedNet` (quantized kernels, on the CPU only: another ``device`` is an error)."""
    path = Path(path)
    tensors, meta, skeleton = _load_validated(path, "cpu", board_size, expect_kind)
    if skeleton is not None:
        return _load_int8(path, meta, skeleton, tensors, device), meta
    try:
        model = build_model(meta.config, meta.board_size)
    except ImportError as e:
        raise CheckpointError(f"checkpoint {path}: {e}") from None
    why = state_mismatch(model, tensors)
    if why is not None:
        raise CheckpointError(f"checkpoint {path} ({printable(meta.config_name)}): {why}")
    try:
        model.load_state_dict(tensors, strict=True)
    except RuntimeError as e:  # dtype or other mismatch that the checks above did not catch
        raise CheckpointError(f"checkpoint {path}: cannot load the weights ({printable(e)})") from None
    model = model.to(device).eval()
    logger.info("loaded %s (%s, %dx%d, step %d)", path, meta.config_name, meta.board_size, meta.board_size, meta.step)
    return model, meta


def _load_int8(path: Path, meta: CheckpointMeta, skeleton, tensors: dict[str, torch.Tensor], device) -> nn.Module:
    from .quantize import load_int8

    if torch.device(device).type != "cpu":
        raise CheckpointError(f"checkpoint {path} is an int8 quantized network, which runs on the CPU only, not on "
                              f"{device}")  # fmt: skip
    try:
        model = load_int8(skeleton, tensors, meta.quantization)
    except (RuntimeError, ValueError) as e:
        raise CheckpointError(f"checkpoint {path}: cannot load the int8 weights ({printable(e)})") from None
    logger.info("loaded %s (%s int8, %dx%d, step %d)", path, meta.config_name, meta.board_size, meta.board_size,
                meta.step)  # fmt: skip
    return model


__all__ = [
    "BASE_FORMAT_VERSION",
    "CheckpointError",
    "CheckpointMeta",
    "FORMAT",
    "FORMAT_VERSION",
    "MAX_ABS_WEIGHT",
    "MAX_METADATA_BYTES",
    "MAX_METADATA_DEPTH",
    "METADATA_KEY",
    "RULES",
    "check_komi",
    "check_provenance",
    "check_rules",
    "hours",
    "igo_version",
    "load_checkpoint",
    "load_state",
    "network_cpu_hours",
    "network_komi",
    "read_metadata",
    "save_checkpoint",
    "ship_checkpoint",
    "write_tensors",
]
