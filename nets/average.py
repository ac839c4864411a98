"""Checkpoint averaging (``igo model average``): the mean of the weights of several checkpoints of one run.

Averaging the last few checkpoints of a training run (Polyak averaging over checkpoints, as in stochastic weight
averaging, Izmailov et al. 2018; KataGo and Leela Zero play with averaged or EMA weights) smooths out the noise of
the last SGD steps: the average sits nearer the middle of the basin the run is wandering in. The checkpoints must
share the network (config and board size) and should come from one run, close together: the weights of unrelated
networks do not average into a network.

Every floating-point tensor — weights, biases and the batch-norm running means and variances — is the plain mean
over the checkpoints (computed in float64); integer buffers (batch norm's ``num_batches_tracked``) are the newest
checkpoint's. Averaging the running variances is an approximation of the variance of the averaged network's
activations; between neighbouring checkpoints of a run it is close (the held-out figures of ``igo train distill``
or a tournament tell). The metadata is the newest checkpoint's (step, komi, rules, the run's ``extra``: games,
positions, CPU-hours — the average cost nothing more), with ``parent`` the newest file and ``extra.averaged`` the
list of ``{path, step}`` averaged. Quantized inputs are refused (average the float checkpoints, then quantize), and
a shipped network's provenance is not carried over: it described other weights.
"""

from __future__ import annotations

import dataclasses
import os
from datetime import UTC, datetime
from pathlib import Path

import torch

from .checkpoint import CheckpointError, CheckpointMeta, load_state, write_tensors
from .config import config_to_dict, printable

MAX_CHECKPOINTS = 64
OPTIMIZER_SUFFIX = ".optim.safetensors"


def average_checkpoints(paths: list[str | os.PathLike]) -> tuple[dict[str, torch.Tensor], CheckpointMeta]:
    """The averaged tensors and the metadata to write them with (see the module docstring). ValueError for fewer
    than two checkpoints, the same file twice, an optimizer-state file, a quantized checkpoint or checkpoints of
    different networks; CheckpointError for a file that is not a valid checkpoint."""
    paths = [Path(p) for p in paths]
    if len(paths) < 2:
        raise ValueError(f"averaging needs at least two checkpoints, got {len(paths)}")
    if len(paths) > MAX_CHECKPOINTS:
        raise ValueError(f"at most {MAX_CHECKPOINTS} checkpoints are averaged, got {len(paths)}")
    seen: dict[Path, Path] = {}
    for p in paths:
        if p.name.endswith(OPTIMIZER_SUFFIX):
            raise ValueError(f"{p} is a learner's optimizer state, not a network (leave out *{OPTIMIZER_SUFFIX})")
        key = p.resolve()
        if key in seen:
            raise ValueError(f"{p} is given twice (as {seen[key]})")
        seen[key] = p

    sums: dict[str, torch.Tensor] = {}
    newest: tuple[int, int, dict[str, torch.Tensor], CheckpointMeta] | None = None
    first: tuple[Path, CheckpointMeta, dict[str, torch.Size]] | None = None
    steps = []
    for i, p in enumerate(paths):
        tensors, meta = load_state(p)
        if meta.quantization is not None:
            raise ValueError(f"{p} is quantized ({meta.quantized_mode}); average the float checkpoints it "
                             "was made from, then quantize the average")  # fmt: skip
        shapes = {k: t.shape for k, t in tensors.items()}
        if first is None:
            first = (p, meta, shapes)
        else:
            p0, m0, shapes0 = first
            if (config_to_dict(meta.config), meta.board_size) != (config_to_dict(m0.config), m0.board_size):
                raise ValueError(
                    f"{p} holds {printable(meta.config_name)} {meta.board_size}x{meta.board_size}, {p0} "
                    f"{printable(m0.config_name)} {m0.board_size}x{m0.board_size}: only checkpoints of the same "
                    "network average"
                )
            if shapes != shapes0:  # the same config builds the same tensors; a file that disagrees is refused anyway
                raise CheckpointError(f"{p}: its tensors differ from {p0}'s")
        for k, t in tensors.items():
            if t.is_floating_point():
                sums[k] = sums[k] + t.double() if k in sums else t.double()
        steps.append({"path": str(p), "step": meta.step})
        if newest is None or meta.step >= newest[0]:
            newest = (meta.step, i, tensors, meta)
    assert newest is not None
    _, i_newest, newest_tensors, newest_meta = newest
    n = len(paths)
    out = {k: (sums[k] / n).to(t.dtype) if t.is_floating_point() else t.clone() for k, t in newest_tensors.items()}
    extra = dict(newest_meta.extra)
    extra["averaged"] = steps
    lo, hi = min(s["step"] for s in steps), max(s["step"] for s in steps)
    meta = dataclasses.replace(
        newest_meta,
        parent=str(paths[i_newest]),
        notes=f"mean of {n} checkpoints, steps {lo}..{hi}",
        created=datetime.now(UTC).isoformat(timespec="seconds"),
        extra=extra,
        provenance=None,
    )
    return out, meta


def write_average(paths: list[str | os.PathLike], out: str | os.PathLike) -> CheckpointMeta:
    """Average ``paths`` (:func:`average_checkpoints`) and write the result to ``out`` atomically; its metadata."""
    tensors, meta = average_checkpoints(paths)
    write_tensors(out, tensors, meta)
    return meta
