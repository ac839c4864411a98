"""The network that ships with igo: ``nets/data/igo-9x9.safetensors``, installed as package data of ``igo.nets``.

When the board is 9x9 and no network is named, ``igo gtp``, ``igo play`` and the igo players of ``igo match`` and
``igo tournament`` (which run ``igo gtp``) play with it: a Zero net, searched with the play settings it ships with
(its provenance's ``play`` block, :mod:`igo.nets.play_settings`: λ = 0.5, rollouts mixed into the value net's
evaluations, for the current net) wherever the command line leaves them unset, and at the komi it was trained at
(:func:`igo.nets.player.resolve_play`).
``--model none`` plays rollouts instead; other board sizes keep rollouts. Without the file (a source tree before a
network was trained) everything is as if there were no default network.

The environment variable :data:`ENV_VAR` (``IGO_DEFAULT_NET``) overrides the file, e.g. for tests: a path to a 9x9
Zero checkpoint is the default network instead; the empty string or ``none`` means no default network. A path that
is not a file is an error (ValueError), so that a typo does not silently play rollouts.

Its metadata (:func:`default_network_info`, ``igo model info --default``) is that of any checkpoint plus the
provenance that ``igo model ship`` writes (:func:`igo.nets.checkpoint.check_provenance`): the commands and settings
that made it, games, positions, learner steps, CPU-hours, its parent and its Elo against GNU Go level 10.

The shipped file may be int8 (:mod:`igo.nets.quantize`: the search gets about twice the evaluations a second on a
CPU); its float weights then ship beside it as ``igo-9x9-float.safetensors`` (:func:`float_twin`), which
``igo train zero --init default`` trains from (:func:`default_training_path`).

Finding the file imports nothing heavy; reading its metadata imports the checkpoint code (torch).
"""

from __future__ import annotations

import importlib.resources
import os
from pathlib import Path
from typing import Any

ENV_VAR = "IGO_DEFAULT_NET"
FILENAME = "igo-9x9.safetensors"
BOARD_SIZE = 9
"""The board size the default network plays; other sizes keep rollouts."""


def packaged_path() -> Path:
    """Where the shipped network lives in this installation (in a source tree: ``nets/data/igo-9x9.safetensors``),
    whether or not the file is there; ``igo model ship`` writes it there by default."""
    resource = importlib.resources.files("igo.nets").joinpath("data", FILENAME)
    if isinstance(resource, Path):
        return resource
    return Path(__file__).resolve().parent / "data" / FILENAME  # a zipped install: the source layout


def default_network_path() -> Path | None:
    """The default network's checkpoint: :data:`ENV_VAR` when set (None for ``""`` or ``none``), else the shipped
    file when it exists, else None. ValueError when :data:`ENV_VAR` names no regular file."""
    override = os.environ.get(ENV_VAR)
    if override is not None:
        if override.strip().lower() in ("", "none"):
            return None
        path = Path(override).expanduser()
        if not path.is_file():
            raise ValueError(f"{ENV_VAR}={override}: no such file (set it to a checkpoint, or to 'none')")
        return path
    path = packaged_path()
    return path if path.is_file() else None


def default_network_info() -> dict[str, Any] | None:
    """The default network's metadata as JSON (:meth:`~igo.nets.checkpoint.CheckpointMeta.to_dict`) with ``path``,
    and at the top level ``elo``, ``elo_low``, ``elo_high`` and ``elo_games`` from its provenance (None when it has
    none); None when there is no default network."""
    path = default_network_path()
    if path is None:
        return None
    from .checkpoint import read_metadata

    meta = read_metadata(path)
    elo = (meta.provenance or {}).get("elo_vs_gnugo10") or {}
    return {
        "path": str(path),
        **meta.to_dict(),
        "elo": elo.get("elo"),
        "elo_low": elo.get("low"),
        "elo_high": elo.get("high"),
        "elo_games": elo.get("games"),
    }


def float_twin(path: Path) -> Path:
    """Where the float weights of an int8 network ``path`` live: ``<stem>-float.safetensors`` beside it."""
    return path.with_name(f"{path.stem}-float{path.suffix}")


def default_training_path() -> Path | None:
    """The default network's weights to train from (``igo train zero --init default``): the default network itself
    when it is a float checkpoint, its float twin (:func:`float_twin`) when it is int8 (an int8 file holds a quantized
    graph for inference, not weights a learner can update); None without a default network, ValueError for an int8
    network without its twin."""
    path = default_network_path()
    if path is None:
        return None
    from .checkpoint import read_metadata

    if read_metadata(path).quantized_mode != "int8":
        return path
    twin = float_twin(path)
    if not twin.is_file():
        raise ValueError(f"the default network {path} is int8, for play only, and its float weights {twin} are missing")
    return twin


def describe(info: dict[str, Any]) -> str:
    """One line about the network of :func:`default_network_info`, for the notice of ``igo play`` and ``igo gtp``."""
    n = info["board_size"]
    text = f"the default network {Path(info['path']).name} ({info['config_name']}, {n}x{n}"
    if info.get("elo") is not None:
        text += (
            f", Elo {info['elo']:+.0f} [{info['elo_low']:+.0f}, {info['elo_high']:+.0f}] against GNU Go level 10 "
            f"over {info['elo_games']} games"
        )
    return text + ")"


__all__ = ["BOARD_SIZE", "ENV_VAR", "FILENAME", "default_network_info", "default_network_path",
           "default_training_path", "describe", "float_twin", "packaged_path"]  # fmt: skip
