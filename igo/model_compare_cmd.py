"""``igo model compare REFERENCE NET [NET...] --replay DIR | --sgf DIR``: networks side by side on the same held-out
positions (:mod:`igo.training.compare`) — how much a quantized, pruned, distilled or averaged network agrees with the
one it came from, and how well each predicts the data's moves and results. The figures of the README's lighter-network
tables come from this command.
"""

from __future__ import annotations

import argparse

DEFAULT_HOLDOUT = 0.05  # igo.training.compare.DEFAULT_HOLDOUT (building the parser must not import torch)
DEFAULT_POSITIONS = 2000
DEFAULT_REPLAY_POSITIONS = 100_000

EPILOG = """\
examples:
  igo model compare zero9.safetensors zero9-int8.safetensors zero9-bf16.safetensors --replay runs/z9/replay
  igo model compare teacher.safetensors runs/d/distill.safetensors --sgf corpus/gnugo9 --holdout 1 --json
  igo model compare zero9.safetensors zero9.safetensors --replay runs/z9/replay --dtype bf16 --reference-dtype fp32
      # the same network in float32 (the reference) and under bf16 autocast

columns: top-1 / top-5 against the data's move (replay: the search's most visited move), value MSE against the
results; for each network after the reference: agrees (the same top move as the reference), KL(reference || net)
and the mean squared difference of the values from the reference's.
"""


def add_parser(sub) -> argparse.ArgumentParser:
    """Add ``compare`` to the subparsers of ``igo model``."""
    p = sub.add_parser(
        "compare",
        help="networks side by side on the same held-out positions (agreement, top-1, value MSE)",
        description="Run a reference network and one or more others (quantized, pruned, distilled, averaged: any "
        "zero-* checkpoints of one board size) over the same held-out positions and print, for each, its policy "
        "top-1/top-5 against the data's moves and its value MSE against the results, and for the others their "
        "top-1 agreement with the reference, KL(reference || net) and the value difference. The positions are the "
        "held-out games of a Zero replay directory (--replay) or of an SGF directory (--sgf), chosen as igo train "
        "distill chooses them. Nothing is written; checkpoints are validated, never unpickled.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("reference", metavar="REFERENCE", help="the network the others are compared with (.safetensors)")
    p.add_argument("networks", nargs="+", metavar="NET", help="networks to compare with it (.safetensors)")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--replay", metavar="DIR", help="a Zero replay directory (chunk-*.npz): its held-out games "
                     "among the newest --max-replay-positions positions (this or --sgf is required to give the "
                     "positions)")  # fmt: skip
    src.add_argument("--sgf", metavar="DIR", help="a directory of SGF games: its held-out files (this or --replay is "
                     "required to give the positions)")  # fmt: skip
    p.add_argument("--holdout", type=float, default=DEFAULT_HOLDOUT, help="share of the games held out, as the "
                   f"trainers split them; 1 takes every game (default {DEFAULT_HOLDOUT})")  # fmt: skip
    p.add_argument("--positions", type=int, default=DEFAULT_POSITIONS, help="at most this many held-out positions "
                   f"(default {DEFAULT_POSITIONS})")  # fmt: skip
    p.add_argument("--max-replay-positions", type=int, default=DEFAULT_REPLAY_POSITIONS, help="--replay: read the "
                   f"newest chunks up to this many positions, as igo train distill (default "
                   f"{DEFAULT_REPLAY_POSITIONS})")  # fmt: skip
    p.add_argument("--dtype", choices=("fp32", "bf16"), default="fp32", help="float networks: run in float32 or "
                   "under bfloat16 autocast (the evaluator's default on CPUs with bf16 arithmetic); int8 networks "
                   "always run their int8 kernels (default fp32)")  # fmt: skip
    p.add_argument("--reference-dtype", choices=("fp32", "bf16"), default=None, help="the reference's dtype, when "
                   "it differs: NET NET --dtype bf16 --reference-dtype fp32 measures what bf16 arithmetic changes "
                   "(default: --dtype)")  # fmt: skip
    p.add_argument("--nn-threads", type=int, default=None, help="torch threads (default: the cores this process may "
                   "use)")  # fmt: skip
    p.add_argument("--json", action="store_true", help="print the result as one JSON object on the last line")
    p.set_defaults(run=run)
    return p


def _pct(x) -> str:
    return "—" if x is None else f"{100 * x:.1f}%"


def _num(x, fmt: str = ".4f") -> str:
    return "—" if x is None else format(x, fmt)


def table(result: dict) -> str:
    """The comparison as a text table, the reference first."""
    rows = [("network", "params", "dtype", "top-1", "top-5", "value MSE", "agrees", "KL", "value diff²")]
    for i, r in enumerate([result["reference"], *result["networks"]]):
        name = ("ref  " if i == 0 else f"{i:<4} ") + r["path"]
        vs_ref = (_pct(r["agree"]), _num(r["kl"]), _num(r["value_mse_teacher"], ".2e")) if i else ("—",) * 3
        rows.append((name, f"{r['parameters']:,}", r["dtype"], _pct(r["top1"]), _pct(r["top5"]), _num(r["value_mse"]),
                     *vs_ref))  # fmt: skip
    widths = [max(len(row[j]) for row in rows) for j in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) if j == 0 else c.rjust(w) for j, (c, w) in enumerate(zip(row, widths, strict=True)))
             for row in rows]  # fmt: skip
    return "\n".join(lines)


def run(args) -> int:
    import torch

    from igo.engine.cores import core_budget
    from igo.training.compare import compare_networks

    from .train_args import print_json

    if args.nn_threads is not None and args.nn_threads < 1:
        raise ValueError(f"--nn-threads must be >= 1, got {args.nn_threads}")
    torch.set_num_threads(args.nn_threads or core_budget())
    paths = [args.reference, *args.networks]
    result = compare_networks(paths, dtype=args.dtype, reference_dtype=args.reference_dtype, replay_dir=args.replay,
                              sgf_dir=args.sgf, holdout=args.holdout, max_positions=args.positions,
                              max_replay_positions=args.max_replay_positions)  # fmt: skip
    if args.json:
        print_json(result)
        return 0
    d = result["data"]
    where = (f"held-out games of the replay {d['directory']} (newest {d['positions_read']:,} positions read)"
             if d["source"] == "replay" else
             f"{d['held_out_files']} held-out SGF files of {d['files']} in {d['directory']}")  # fmt: skip
    print(f"{d['positions']:,} positions ({d['value_positions']:,} with a result) from {where}, holdout "
          f"{d['holdout']:g}; float networks in {d['dtype']}"
          + (f", the reference in {d['reference_dtype']}" if d["reference_dtype"] != d["dtype"] else ""))  # fmt: skip
    print(table(result))
    return 0
