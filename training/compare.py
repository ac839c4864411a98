"""Networks compared on the same held-out positions: how far a quantized, pruned, distilled or averaged network
moved from the one it was made from, and how each predicts the data.

``igo model compare REFERENCE NET [NET...] --replay DIR | --sgf DIR`` runs :func:`compare_networks`. The positions
are those the trainers hold out, chosen exactly as ``igo train distill`` chooses them, so its held-out figures and
these agree: from a Zero replay directory the games that :func:`igo.training.sgf_data.is_holdout` puts aside among
the newest ``max_replay_positions`` positions (:func:`igo.training.distill_data.read_replay`, read-only, damaged
chunks skipped), the hard target the search's most visited move and the outcome the stored result; from SGF games
the held-out files of :func:`igo.training.sgf_data.split_files` (``holdout`` 1 takes every game), the target the
game's move and the outcome its result (games without a decisive result give no outcome). At most
``max_positions`` of them, no symmetry.

Every network is run over the same positions (:func:`igo.training.distill_data.forward_all`; int8 nets on their
quantized kernels; float nets in float32, or with ``dtype="bf16"`` under bfloat16 autocast, the evaluator's default
on CPUs with bf16 arithmetic; ``reference_dtype`` sets the reference's apart, so ``igo model compare NET NET --dtype
bf16 --reference-dtype fp32`` measures what bf16 arithmetic changes). For each: ``top1`` / ``top5`` against the hard
target and ``value_mse`` against the outcomes (:func:`igo.training.distill.held_metrics`), and for every network but
the reference ``agree`` (the same top move as the reference), ``kl`` (KL(reference || net) at T = 1) and
``value_mse_teacher`` (the mean squared difference of the values). The networks must be Zero nets of one board size
reading the same planes; anything else is a ValueError before a position is read.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import torch

from .distill import held_metrics
from .distill_data import HeldOut, forward_all, read_replay
from .sgf_data import LoadStats, encode_positions, find_sgf_files, split_files

log = logging.getLogger(__name__)

DEFAULT_HOLDOUT = 0.05  # igo train distill's and igo train sl's
DEFAULT_POSITIONS = 2000
DEFAULT_REPLAY_POSITIONS = 100_000  # igo train distill's --max-replay-positions
DTYPES = ("fp32", "bf16")


def check_networks(paths: Sequence[str | Path]) -> list:
    """The metadata of every network (the first is the reference). ValueError unless there are at least two, all
    Zero nets of one board size and one history length; CheckpointError (a ValueError) for a file that is not a
    checkpoint."""
    from igo.nets.checkpoint import read_metadata

    if len(paths) < 2:
        raise ValueError("give a reference network and at least one network to compare with it")
    metas = [read_metadata(p) for p in paths]
    ref = metas[0]
    for path, m in zip(paths, metas, strict=True):
        if m.kind != "zero":
            raise ValueError(f"{path} is a {m.kind} net ({m.config_name}); igo model compare reads zero-* nets")
        if m.board_size != ref.board_size:
            raise ValueError(f"{path} is {m.board_size}x{m.board_size}, the reference {paths[0]} "
                             f"{ref.board_size}x{ref.board_size}: compare networks of one board size")  # fmt: skip
        if m.config.history != ref.config.history or m.config.feature_set != ref.config.feature_set:
            raise ValueError(f"{path} reads {m.config.feature_set} planes with {m.config.history} positions of "
                             f"history, the reference {ref.config.feature_set} with {ref.config.history}: they "
                             "must read the same planes")  # fmt: skip
    return metas


def held_positions(meta, *, replay_dir: str | Path | None = None, sgf_dir: str | Path | None = None,
                   holdout: float = DEFAULT_HOLDOUT, max_positions: int = DEFAULT_POSITIONS,
                   max_replay_positions: int = DEFAULT_REPLAY_POSITIONS) -> tuple[HeldOut, dict]:  # fmt: skip
    """``(held-out positions, what they are)`` for networks like ``meta``'s, from exactly one of ``replay_dir`` or
    ``sgf_dir`` (module docstring). ValueError for bad settings or when no position is held out."""
    if (replay_dir is None) == (sgf_dir is None):
        raise ValueError("give the positions: a replay directory or an SGF directory (one of them)")
    if not 0 < holdout <= 1:
        raise ValueError(f"holdout must be in (0, 1], not {holdout}")
    if max_positions < 1 or max_replay_positions < 1:
        raise ValueError("the position limits must be >= 1")
    size, planes = meta.board_size, meta.config.input_planes
    if replay_dir is not None:
        _, held, stats = read_replay(replay_dir, size, planes, holdout, max_replay_positions)
        n = min(max_positions, len(held))
        data = HeldOut(held.planes[:n], held.policy[:n], held.value[:n], np.ones(n, bool))
        info = {"source": "replay", "directory": str(replay_dir), "games_read": stats["games"],
                "positions_read": stats["positions"], "skipped_chunks": stats["skipped"]}  # fmt: skip
    else:
        files = find_sgf_files(sgf_dir)
        _, held_files = split_files(sgf_dir, files, holdout)
        stats = LoadStats()
        packed, targets, values, _ = encode_positions(held_files, size, max_positions, packed=True, stats=stats,
                                                      features=meta.config.feature_set)  # fmt: skip
        data = HeldOut(packed, targets, values.astype(np.float32), values != 0)
        info = {"source": "sgf", "directory": str(sgf_dir), "files": len(files), "held_out_files": len(held_files),
                "games": stats.games, "skipped_games": stats.skipped}  # fmt: skip
    if len(data) == 0:
        raise ValueError(f"no held-out positions in {replay_dir or sgf_dir} (holdout {holdout:g}): more games, or a "
                         "larger --holdout")  # fmt: skip
    info.update(holdout=holdout, positions=len(data), value_positions=int(data.mask.sum()))
    return data, info


def _describe(path, meta) -> dict:
    q = meta.quantization or {}
    return {"path": str(path), "config": meta.config_name, "parameters": meta.parameters, "step": meta.step,
            "quantization": q.get("mode"), "bits": q.get("bits")}  # fmt: skip


def compare_networks(paths: Sequence[str | Path], *, dtype: str = "fp32", reference_dtype: str | None = None,
                     **positions) -> dict:  # fmt: skip
    """Compare ``paths[1:]`` with the reference ``paths[0]`` on held-out positions (``positions``: the keyword
    arguments of :func:`held_positions`); float networks run in ``dtype``, the reference in ``reference_dtype``
    (default: ``dtype``), so one network in float32 and under bf16 autocast compare as two entries. Returns
    ``{"data": ..., "reference": {...}, "networks": [{...}, ...]}``,
    each network's entry its path, config, parameters, step, quantization and the figures of the module
    docstring."""
    from igo.nets.checkpoint import load_checkpoint

    reference_dtype = dtype if reference_dtype is None else reference_dtype
    for d in (dtype, reference_dtype):
        if d not in DTYPES:
            raise ValueError(f"dtype must be one of {', '.join(DTYPES)}, not {d!r}")
    metas = check_networks(paths)
    held, info = held_positions(metas[0], **positions)
    info.update(dtype=dtype, reference_dtype=reference_dtype)
    size, planes = metas[0].board_size, metas[0].config.input_planes
    out: list[dict] = []
    ref_out = None
    for i, (path, meta) in enumerate(zip(paths, metas, strict=True)):
        model, _ = load_checkpoint(path, board_size=size, expect_kind="zero")
        float_net = not meta.quantization or meta.quantization.get("mode") != "int8"
        bf16 = (reference_dtype if i == 0 else dtype) == "bf16" and float_net
        ctx = torch.autocast("cpu", dtype=torch.bfloat16) if bf16 else nullcontext()
        with ctx:
            logits, value = forward_all(model, held.planes, planes, size, "cpu", False)
        figures = held_metrics(logits, value, held, teacher=ref_out)
        out.append({**_describe(path, meta), "dtype": ("bf16" if bf16 else "fp32") if float_net else "int8", **figures})
        if ref_out is None:
            ref_out = (logits, value)
        log.info("%s: top-1 %.3f", path, figures["top1"])
    return {"data": info, "reference": out[0], "networks": out[1:]}


__all__ = ["DEFAULT_HOLDOUT", "DEFAULT_POSITIONS", "DEFAULT_REPLAY_POSITIONS", "DTYPES", "check_networks",
           "compare_networks", "held_positions"]  # fmt: skip
