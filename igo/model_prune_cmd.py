"""``igo model prune``: make a network sparse (magnitude pruning) or smaller (filter pruning), retrain it on SGF games
and write it as an ordinary checkpoint (:mod:`igo.nets.prune`).

- ``igo model prune IN -o OUT --alpha A``: Han et al. (2015): in every conv and linear layer, the weights below
  ``A`` standard deviations of that layer's weights become 0;
- ``igo model prune IN -o OUT --structured --keep F``: Li et al. (2017): each residual block of a Zero net (basic or
  preact blocks) keeps the share ``F`` of its first conv's filters of largest L1 norm (the fraction is ``--keep``;
  ``--alpha`` keeps its meaning, and given too it magnitude-prunes the smaller net afterwards);
- ``--sgf DIR``: the games the accuracy is measured on (the held-out share, ``--holdout``, split by a hash of each
  path as ``igo train sl`` splits it) before pruning, after it and after retraining; ``--retrain-steps N`` trains
  the pruned net N SGD steps on the other games with the pruned weights held at 0 (the SL trainer's loss: policy
  cross-entropy, plus ``--value-weight`` times the value MSE for a Zero net);
- ``--replay DIR`` (Zero nets): a Zero run's replay directory instead, read as ``igo train distill`` reads it (the
  newest ``--max-replay-positions``, whole games held out by hash): measured against the search's most visited move,
  retrained on the visit distributions under random symmetries.

The command prints the per-layer table (layer, weights, % removed, multiply-adds per position) and the total, and
writes OUT with the source's komi and rules, ``parent`` the source, and ``extra.pruning``: the method, alpha, keep,
the blocks' inner widths, every layer's ``[name, weights, removed]``, the retraining's settings and steps and the
held-out accuracies.
"""

from __future__ import annotations

import argparse
import logging
import sys
import textwrap
import time
from pathlib import Path

log = logging.getLogger(__name__)

EPILOG = """\
examples:
  igo model prune zero9.safetensors -o zero9-a1.safetensors --alpha 1.0
  igo model prune zero9.safetensors -o zero9-a1.safetensors --alpha 1.0 --sgf corpus/gnugo9 --retrain-steps 500
  igo model prune zero9.safetensors -o zero9-a1.safetensors --alpha 1.0 --replay runs/z9/replay --retrain-steps 500
  igo model prune zero9.safetensors -o zero9-k50.safetensors --structured --keep 0.5 --sgf corpus/gnugo9 \\
      --retrain-steps 500
  igo gtp --model zero9-k50.safetensors                   # a pruned net plays like any other

Magnitude pruning leaves the network's shape as it is (its zeros are stored; dense kernels run no faster); filter
pruning makes the residual blocks narrower inside, so the network is smaller and faster on a CPU. Without --sgf or
--replay nothing is measured and nothing retrained.
"""

DEFAULT_LR = 0.002  # a tenth of the step size the 9x9 Zero run trained at (Han et al. retrain at a lower rate)
DEFAULT_BATCH = 128
DEFAULT_HOLDOUT = 0.05
DEFAULT_SHUFFLE = 5000
DEFAULT_REPLAY_POSITIONS = 100_000  # igo train distill's --max-replay-positions


def add_parser(sub) -> argparse.ArgumentParser:
    """Add ``prune`` to the subparsers of ``igo model``."""
    p = sub.add_parser(
        "prune",
        help="prune a network (magnitude or filter pruning), retrain it on SGF games, write it as a checkpoint",
        description=textwrap.fill(
            "Prune a network checkpoint and write the result as an ordinary checkpoint. --alpha A zeroes, in every "
            "conv and linear layer, the weights whose magnitude is below A times the standard deviation of the "
            "layer's weights (Han et al. 2015); --structured --keep F removes whole filters of each residual block's "
            "first conv of a Zero net, keeping the share F of largest L1 norm (Li et al. 2017), so the net becomes "
            "smaller. With --sgf (or --replay, a Zero run's self-play positions) the held-out policy top-1 (and a Zero "
            "net's value MSE) is measured before pruning, "
            "after it and after --retrain-steps steps of retraining on the other games, the pruned weights held at 0.",
            100,
        ),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("input", metavar="IN", help="the checkpoint to prune (.safetensors)")
    p.add_argument("-o", "--output", required=True, metavar="OUT", help="the pruned checkpoint to write")
    p.add_argument("--alpha", type=float, default=None, metavar="A", help="magnitude pruning: zero the weights "
                   "below A standard deviations of their layer's weights (0 prunes nothing, 1 about 68%% of normal "
                   "weights, 1.5 about 87%%; default: no magnitude pruning)")  # fmt: skip
    p.add_argument("--structured", action="store_true", help="filter pruning of a Zero net's residual blocks "
                   "(basic or preact), by --keep")  # fmt: skip
    p.add_argument("--keep", type=float, default=None, metavar="F", help="with --structured: the share (0, 1] of "
                   "each block's inner filters kept, those of largest L1 norm (no default: required with "
                   "--structured)")  # fmt: skip
    data = p.add_mutually_exclusive_group()
    data.add_argument("--sgf", default=None, metavar="DIR", help="SGF games (of the network's board size) to measure "
                      "held-out accuracy on and to retrain on (default: none)")  # fmt: skip
    data.add_argument("--replay", default=None, metavar="DIR", help="Zero nets: a Zero replay directory "
                      "(chunk-*.npz) instead, its held-out games measured (the hard target the search's most visited "
                      "move) and the others retrained on (the target the visit distribution), as igo train distill "
                      "reads it (default: none)")  # fmt: skip
    p.add_argument("--retrain-steps", type=int, default=0, metavar="N", help="SGD steps of retraining on --sgf or "
                   "--replay (default 0)")  # fmt: skip
    p.add_argument("--batch-size", type=int, default=DEFAULT_BATCH, help=f"retraining batch (default "
                   f"{DEFAULT_BATCH})")  # fmt: skip
    p.add_argument("--lr", type=float, default=DEFAULT_LR, help=f"retraining step size, SGD (default {DEFAULT_LR})")
    p.add_argument("--momentum", type=float, default=0.9, help="SGD momentum (default 0.9)")
    p.add_argument("--weight-decay", type=float, default=1e-4, help="L2 weight decay (default 1e-4)")
    p.add_argument("--value-weight", type=float, default=None, help="Zero nets: weight of the value MSE in the loss "
                   "(default 0.25, as igo train sl)")  # fmt: skip
    p.add_argument("--holdout", type=float, default=DEFAULT_HOLDOUT, help="share of the --sgf files (--replay: "
                   f"games) held out for measuring, split as igo train sl and igo train distill split them (default "
                   f"{DEFAULT_HOLDOUT})")  # fmt: skip
    p.add_argument("--max-replay-positions", type=int, default=DEFAULT_REPLAY_POSITIONS, help="--replay: read the "
                   f"newest chunks up to this many positions (default {DEFAULT_REPLAY_POSITIONS})")  # fmt: skip
    p.add_argument("--max-holdout-positions", type=int, default=20_000, help="at most this many held-out positions "
                   "(default 20000)")  # fmt: skip
    p.add_argument("--shuffle-buffer", type=int, default=DEFAULT_SHUFFLE, help="positions in the retraining shuffle "
                   f"buffer (default {DEFAULT_SHUFFLE})")  # fmt: skip
    p.add_argument("--nn-threads", type=int, default=None, help="torch threads (default: the cores this process may "
                   "use)")  # fmt: skip
    p.add_argument("--device", default="cpu", help="cpu (default), cuda, cuda:N or auto")
    p.add_argument("--seed", type=int, default=0, help="seed of the retraining's data order and symmetries (default 0)")
    p.add_argument("--json", action="store_true", help="print the result as one JSON object on the last line")
    p.add_argument("--force", action="store_true", help="overwrite an existing OUT")
    p.set_defaults(run=run)
    return p


def _check_args(args) -> None:
    """ValueError naming the flag for options that do not go together or are out of range."""
    from igo.nets.prune import check_alpha, check_keep

    if args.alpha is None and not args.structured:
        raise ValueError("give --alpha A (magnitude pruning) or --structured --keep F (filter pruning), or both")
    if args.alpha is not None:
        check_alpha(args.alpha)
    if args.structured:
        if args.keep is None:
            raise ValueError("--structured needs --keep F, the share (0, 1] of each block's inner filters kept")
        check_keep(args.keep)
    elif args.keep is not None:
        raise ValueError("--keep is the share of filters kept by --structured; give --structured too")
    if args.retrain_steps and not (args.sgf or args.replay):
        raise ValueError("--retrain-steps needs --sgf DIR or --replay DIR, the games to retrain on")
    if args.max_replay_positions < 1:
        raise ValueError(f"--max-replay-positions must be >= 1, got {args.max_replay_positions}")
    if args.batch_size < 1:
        raise ValueError(f"--batch-size must be >= 1, got {args.batch_size}")
    if args.shuffle_buffer < args.batch_size:
        raise ValueError(f"--shuffle-buffer ({args.shuffle_buffer}) must be at least --batch-size ({args.batch_size})")
    if not 0 <= args.holdout < 1:
        raise ValueError(f"--holdout must be in [0, 1), got {args.holdout}")
    if args.max_holdout_positions < 0:
        raise ValueError(f"--max-holdout-positions must be >= 0, got {args.max_holdout_positions}")
    if args.nn_threads is not None and args.nn_threads < 1:
        raise ValueError(f"--nn-threads must be >= 1, got {args.nn_threads}")
    if Path(args.output).exists() and not args.force:
        raise ValueError(f"{args.output} exists; use --force to overwrite it")


def _show(bar, st) -> str:
    bar.n = st.step
    return st.line()


def run(args) -> int:
    """``igo model prune``: see the module docstring. ValueError (which ``igo`` prints) for bad options, an
    unreadable checkpoint or SGF directory, or a network that the chosen pruning does not apply to."""
    import torch

    from igo.engine.cores import core_budget
    from igo.nets.checkpoint import load_checkpoint, network_cpu_hours, read_metadata, save_checkpoint
    from igo.nets.config import printable
    from igo.nets.device import resolve_device
    from igo.nets.prune import (
        check_retrain_settings,
        format_table,
        layer_table,
        prune_filters,
        prune_magnitude,
        retrain,
        table_totals,
    )
    from igo.training.sl import DEFAULT_VALUE_WEIGHT

    from .train_args import Progress, print_json

    _check_args(args)
    value_weight = DEFAULT_VALUE_WEIGHT if args.value_weight is None else args.value_weight
    check_retrain_settings(args.retrain_steps, args.lr, args.momentum, args.weight_decay, value_weight)
    device = resolve_device(args.device)
    threads = args.nn_threads or core_budget()
    torch.set_num_threads(threads)
    torch.manual_seed(args.seed)
    say = (lambda *a: print(*a, file=sys.stderr)) if args.json else print

    quantized = getattr(read_metadata(args.input), "quantization", None)  # headers only; None for a float network
    if isinstance(quantized, dict) and quantized.get("mode") == "int8":
        raise ValueError(f"{args.input} is an int8 quantized network; prune the float network it was made from, "
                         "then quantize the pruned one")  # fmt: skip
    model, meta = load_checkpoint(args.input, device=device)
    size, cfg = meta.board_size, meta.config
    if args.sgf and cfg.kind not in ("zero", "lee-policy"):
        raise ValueError(f"--sgf measures and retrains Zero and AlphaGo policy nets; {args.input} holds a {cfg.kind} "
                         "net (prune it without --sgf)")  # fmt: skip
    if args.replay and cfg.kind != "zero":
        raise ValueError(f"--replay holds Zero self-play positions; {args.input} holds a {cfg.kind} net (give --sgf "
                         "games, or prune it without data)")  # fmt: skip
    data = _Data(args, cfg, size, device) if args.sgf else _ReplayData(args, cfg, size, device) if args.replay else None
    accuracy: dict[str, dict | None] = {}
    if data is not None:
        accuracy["original"] = data.evaluate(model)
        say(f"original:  {data.describe(accuracy['original'])}")

    reference = layer_table(model)
    mid_channels = None
    if args.structured:
        model, kept = prune_filters(model, args.keep)
        mid_channels = [len(k) for k in kept]
        log.info("filter pruning: inner widths %s", mid_channels)
    masks = prune_magnitude(model, args.alpha) if args.alpha is not None else None
    if data is not None:
        accuracy["pruned"] = data.evaluate(model)
        say(f"pruned:    {data.describe(accuracy['pruned'])}")

    t0 = time.monotonic()
    steps_done = 0
    if args.retrain_steps:
        batches = data.stream(args.batch_size, args.shuffle_buffer, args.seed)
        bar = Progress(args.retrain_steps, "step", every=10.0, show=_show)
        try:
            result = retrain(model, batches, args.retrain_steps, masks=masks, lr=args.lr, momentum=args.momentum,
                             weight_decay=args.weight_decay, value_weight=value_weight, on_status=bar)  # fmt: skip
        finally:
            bar.close()
        steps_done = result.steps
        accuracy["retrained"] = data.evaluate(model)
        say(f"retrained: {data.describe(accuracy['retrained'])} ({result.steps} steps, {result.positions:,} "
            f"positions, {result.seconds:.0f} s)")  # fmt: skip
    retrain_hours = (time.monotonic() - t0) * threads / 3600.0 if args.retrain_steps else 0.0

    rows = layer_table(model)
    for line in format_table(rows, reference=reference):
        say(line)
    total, ref_total = table_totals(rows), table_totals(reference)
    removed = ref_total.params - total.params + total.removed
    method = "+".join(m for m, on in (("filter", args.structured), ("magnitude", args.alpha is not None)) if on)
    pruning = {
        "method": method,
        "alpha": args.alpha,
        "keep": args.keep if args.structured else None,
        "mid_channels": mid_channels,
        "layers": [[r.name, r.params, r.removed] for r in rows],
        "weights_before": ref_total.params,
        "weights_removed": removed,
        "retrain_steps": steps_done,
        "sgf": str(Path(args.sgf).resolve()) if args.sgf else None,
        "replay": str(Path(args.replay).resolve()) if args.replay else None,
        "holdout": args.holdout if data is not None else None,
        "accuracy": accuracy,
    }
    if steps_done:
        pruning.update(lr=args.lr, momentum=args.momentum, weight_decay=args.weight_decay, batch_size=args.batch_size,
                       value_weight=value_weight if cfg.kind == "zero" else None, seed=args.seed)  # fmt: skip
    extra = {"pruning": pruning, "cpu_hours": retrain_hours,
             "parent_cpu_hours": network_cpu_hours(meta.extra) or 0.0}  # fmt: skip
    what = f"alpha {args.alpha:g}" if args.alpha is not None else ""
    if args.structured:
        what = f"filters kept {args.keep:g}" + (f", {what}" if what else "")
    notes = f"pruned ({method}: {what}) from {printable(args.input)}, retrained {steps_done} steps"
    path = save_checkpoint(args.output, model.cpu(), step=meta.step, parent=str(args.input), notes=notes, extra=extra,
                           komi=meta.komi, rules=meta.rules)  # fmt: skip
    share = 100.0 * removed / ref_total.params if ref_total.params else 0.0
    say(f"wrote {path}: {model.config.name} for {size}x{size}, {removed:,} of {ref_total.params:,} conv/linear weights "
        f"removed ({share:.1f}%), {total.macs:,} of {ref_total.macs:,} multiply-adds per position left")  # fmt: skip
    if args.json:
        print_json({"output": str(path), "config": model.config.name, **pruning})
    return 0


class _Data:
    """The ``--sgf`` games of one network: the held-out positions (encoded once) and the retraining stream."""

    def __init__(self, args, cfg, size: int, device):
        from igo.training.sgf_data import LoadStats, encode_positions, find_sgf_files, split_files

        try:
            files = find_sgf_files(args.sgf)
        except OSError as e:  # FileNotFoundError, NotADirectoryError: the message names the directory
            raise ValueError(f"--sgf: {e}") from None
        if not files:
            raise ValueError(f"--sgf: no .sgf files under {args.sgf}")
        self.train_files, held = split_files(args.sgf, files, args.holdout)
        if args.retrain_steps and not self.train_files:
            raise ValueError(f"--sgf: all {len(files)} SGF files are held out; lower --holdout or add games")
        self.size, self.device, self.zero = size, device, cfg.kind == "zero"
        self.features, self.planes = cfg.feature_set, cfg.input_planes
        stats = LoadStats()
        self.packed, self.targets, self.values, _ = encode_positions(
            held, size, args.max_holdout_positions, packed=True, stats=stats, features=self.features
        )
        log.info("held out: %d positions from %d of %d files (%d skipped)", len(self.targets), len(held), len(files),
                 stats.skipped)  # fmt: skip

    def evaluate(self, model) -> dict | None:
        """Held-out policy loss, top-1, top-5 (and value MSE and sign for a Zero net); None without positions."""
        from igo.training.sl import evaluate

        return evaluate(model, self.packed, self.targets, self.size, self.device, False, values=self.values,
                        planes=self.planes)  # fmt: skip

    @staticmethod
    def describe(res: dict | None) -> str:
        if res is None:
            return "no held-out positions"
        text = f"held-out top-1 {100 * res['top1']:.1f}%, top-5 {100 * res['top5']:.1f}%, loss {res['loss']:.3f}"
        if res.get("value_mse") is not None:
            text += f", value MSE {res['value_mse']:.3f}"
        return text + f" ({res['positions']} positions)"

    def stream(self, batch_size: int, shuffle_buffer: int, seed: int):
        from igo.training.sgf_data import PositionStream

        stream = PositionStream(self.train_files, self.size, batch_size=batch_size, seed=seed,
                                shuffle_buffer=shuffle_buffer, features=self.features)  # fmt: skip
        it = iter(stream)
        while True:
            try:
                yield next(it)
            except ValueError as e:  # a whole epoch without a usable position
                raise ValueError(f"--sgf: {e}") from None


class _ReplayData(_Data):
    """The ``--replay`` positions of a Zero net: the held-out games of the newest chunks (hard target: the most
    visited move) and the retraining samples (target: the visit distribution, a random symmetry each)."""

    def __init__(self, args, cfg, size: int, device):
        import numpy as np

        from igo.selfplay.replay import ReplayBuffer
        from igo.training.distill_data import read_replay

        self.size, self.device, self.zero = size, device, True
        self.features, self.planes = cfg.feature_set, cfg.input_planes
        try:
            train, held, stats = read_replay(args.replay, size, self.planes, args.holdout, args.max_replay_positions)
        except OSError as e:  # FileNotFoundError, NotADirectoryError: the message names the directory
            raise ValueError(f"--replay: {e}") from None
        if len(train) + len(held) == 0:
            raise ValueError(f"--replay: no readable replay chunks in {args.replay}")
        if args.retrain_steps and len(train) == 0:
            raise ValueError(f"--replay: all {len(held)} positions read are held out; lower --holdout or add games")
        cap = args.max_holdout_positions
        self.packed = held.planes[:cap]
        self.targets = held.policy[:cap].astype(np.float32).argmax(axis=1).astype(np.int64)
        self.values = held.value[:cap]
        self.buffer = None
        if len(train):
            self.buffer = ReplayBuffer(size, self.planes, len(train), seed=args.seed)
            self.buffer.add([{"planes": train.planes, "policy": train.policy, "value": train.value}])
        log.info("replay: %d positions of %d games read, %d held out, %d to retrain on", stats["positions"],
                 stats["games"], len(self.targets), len(train))  # fmt: skip

    def stream(self, batch_size: int, shuffle_buffer: int, seed: int):
        import numpy as np

        rng = np.random.default_rng([seed, 3])
        while True:
            yield self.buffer.sample(batch_size, rng)


__all__ = ["add_parser", "run"]
