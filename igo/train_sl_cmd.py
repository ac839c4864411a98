"""``igo train sl``: supervised learning from SGF game records (:mod:`igo.training.sl`): AlphaGo's SL policy network, or
a warm start of an AlphaGo Zero net (policy and value heads) for Zero self-play."""

from __future__ import annotations

import argparse
import logging

from igo.engine.coords import DEFAULT_SIZE
from igo.engine.options import positive_int, retire_option

from .train_args import (
    Progress,
    add_limits,
    add_optimizer,
    add_output,
    add_retention,
    add_trainer,
    fail,
    given,
    print_json,
)

log = logging.getLogger(__name__)

SL_EPILOG = """\
examples:
  igo corpus stats corpus/gnugo9 --size 9                                   # what the trainer will read
  igo train sl --sgf corpus/gnugo9 --size 9 --config lee-policy-64 --run-dir runs/sl9 --max-minutes 60
  igo train sl --sgf kgs/ --size 19 --run-dir runs/sl19                     # the paper's 13x192 net, on a GPU
  igo train sl --sgf corpus/gnugo9 --size 9 --config zero-b6c64 --run-dir runs/slz9 --max-minutes 60
                                                          # a Zero net's warm start (policy + value, komi recorded)
  igo train sl --run-dir runs/sl9 --max-steps 50000                         # resume (settings from config.json)
  igo gtp --model runs/sl9/sl.safetensors                                   # play with the trained policy
  igo gtp --model runs/slz9/sl.safetensors                                  # the Zero net, lambda = 0 search

Every .sgf file under --sgf is read (recursively); a share (--holdout, by a hash of the path, the same on every run)
is held out and its positions (at most 20000) measure top-1/top-5 accuracy every --eval-every steps (for a zero-*
net also the value MSE and the share of positions whose value has the sign of the result). Broken games, games of
another size and passes are skipped and counted; games without a B+/W+ result give no value target. Everything goes
to --run-dir: config.json, checkpoints/ (safetensors + optimizer state), sl.safetensors (the newest weights),
metrics.jsonl and tb/ (tensorboard --logdir RUN/tb). Ctrl-C (or SIGTERM) saves a checkpoint and stops; rerunning the
same command resumes.
"""

# command-line flag -> SLConfig field
_FIELDS = {
    "sgf": "sgf_dir",
    "keep_checkpoints": "keep_checkpoints",
    "keep_every": "keep_every",
    "size": "size",
    "model": "model",
    "value_weight": "value_weight",
    "optimizer": "optimizer",
    "lr": "lr",
    "momentum": "momentum",
    "weight_decay": "weight_decay",
    "batch_size": "batch_size",
    "lr_halve_every": "lr_halve_every",
    "holdout": "holdout",
    "max_holdout_positions": "max_holdout_positions",
    "max_steps": "max_steps",
    "max_minutes": "max_minutes",
    "eval_every": "eval_every",
    "checkpoint_every": "checkpoint_every",
    "device": "device",
    "nn_threads": "threads",
    "seed": "seed",
    "shuffle_buffer": "shuffle_buffer",
}


def add_parser(sub) -> argparse.ArgumentParser:
    """Add ``sl`` to the subparsers of ``igo train``."""
    p = add_trainer(
        sub,
        "sl",
        help="supervised learning from SGF game records: AlphaGo's SL policy net or a Zero net's warm start",
        description="Train a network on SGF game records. A lee-policy-* config is AlphaGo's supervised-learning "
        "policy network (13 conv layers, 48 input planes): cross-entropy of the expert's move. A zero-* config is "
        "an AlphaGo Zero ResNet (17 planes, policy and value heads) trained as the Zero paper's supervised net, a "
        "warm start for Zero self-play: policy cross-entropy + --value-weight x MSE(value, game result for the "
        "player to move) + L2 (weight decay); its checkpoints record the corpus' komi and play with 'igo gtp "
        "--model'. A random one of the 8 symmetries per sample, held-out accuracy (and value MSE) as it goes. SGD "
        "with momentum (or AdamW), checkpoints with the optimizer state, resumable.",
        epilog=SL_EPILOG,
        new_run="--sgf DIR",
    )
    g = p.add_argument_group("what is trained (fixed for a run)")
    g.add_argument("--sgf", metavar="DIR", default=None, help="directory of SGF game records (recursive); required "
                   "for a new run (a resumed run takes it from its config.json)")  # fmt: skip
    g.add_argument("--size", type=int, default=None, help="board size; games of other sizes are skipped (default "
                   f"{DEFAULT_SIZE})")  # fmt: skip
    g.add_argument("--config", dest="model", default=None, help="network config, lee-policy-* or zero-*, see 'igo "
                   "model list' (default lee-policy-192, the paper's; lee-policy-64 trains on a CPU; zero-b6c64 is a "
                   "Zero net's warm start)")  # fmt: skip
    g = p.add_argument_group("optimisation")
    add_optimizer(g, optimizer="default sgd (momentum 0.9)", lr="learning rate (default 0.05; try 1e-3 with "
                       "adamw)", momentum="SGD momentum (default 0.9; 0 is the paper's plain SGD)",
                       weight_decay="L2 / decoupled weight decay (default 1e-4)",
                       batch_size="minibatch (default 128; the paper: 16)")  # fmt: skip
    g.add_argument("--value-weight", type=float, default=None, metavar="W", help="weight of the value MSE in the "
                   "loss, zero-* configs only (default 0.25; the AlphaGo Zero paper used 0.01 on KGS against "
                   "over-fitting: watch the held-out value MSE)")  # fmt: skip
    g.add_argument("--lr-halve-every", type=int, default=None, metavar="SAMPLES", help="halve the learning rate "
                   "every this many samples (default 20000000; 0 never)")  # fmt: skip
    g.add_argument("--shuffle-buffer", type=positive_int, default=None, help="positions in the shuffle buffer "
                   "(default 20000)")  # fmt: skip
    g = p.add_argument_group("held-out evaluation and checkpoints")
    g.add_argument("--holdout", type=float, default=None, help="share of SGF files held out (default 0.05)")
    g.add_argument("--max-holdout-positions", type=int, default=None, help="held-out positions evaluated "
                   "(default 20000)")  # fmt: skip
    g.add_argument("--eval-every", type=positive_int, default=None, help="steps between held-out evaluations "
                   "(default 1000)")  # fmt: skip
    g.add_argument("--checkpoint-every", type=positive_int, default=None, help="steps between checkpoints "
                   "(default 2000)")  # fmt: skip
    add_retention(g)
    g = p.add_argument_group("running")
    add_limits(g, max_steps="stop at this step (counting resumed steps)", steps_type=int)
    g.add_argument("--device", default=None, help="auto (default: a GPU when there is one), cpu or cuda")
    g.add_argument("--nn-threads", type=positive_int, default=None, help="torch threads (default: the cores this "
                   "process may use, OMP_NUM_THREADS respected)")  # fmt: skip
    retire_option(g, "--threads", "use --nn-threads (torch threads)")
    g.add_argument("--seed", type=int, default=None, help="random seed (default 0)")
    add_output(g, status_every=10.0, status_help="seconds between status lines when not on a terminal")
    p.set_defaults(run=run_sl_cmd)
    return p


def config_from_args(args):
    """The SLConfig of a new run, or of a resumed one (``config.json``) with the flags given on top."""
    from pathlib import Path

    from igo.training.run import RunDir
    from igo.training.sl import SLConfig

    settings = given(args, _FIELDS)
    stored = RunDir(args.run_dir).read_config()
    if stored is None:
        if "sgf_dir" not in settings:
            raise ValueError(f"--sgf DIR is required for a new run ({args.run_dir} has no config.json to resume)")
        d = {"run_dir": args.run_dir, "size": DEFAULT_SIZE, **settings}
    else:
        d = {**stored, **settings, "run_dir": args.run_dir}
        if "sgf_dir" in settings:
            d["sgf_dir"] = str(Path(settings["sgf_dir"]).expanduser().resolve())
    return SLConfig.from_dict(d)


def run_sl_cmd(args) -> int:
    from igo.training.sl import SLRunError, train_sl

    try:
        config = config_from_args(args)
    except (KeyError, ValueError, TypeError, RuntimeError) as e:  # KeyError: an unknown network config name
        return fail("train sl", e, 2)
    printer = Progress(config.max_steps, "step", args.status_every, show=_show, postfix_every=0.5)
    try:
        result = train_sl(config, on_status=printer)
    except (FileNotFoundError, NotADirectoryError, SLRunError, OSError) as e:
        return fail("train sl", e, 1)
    except ValueError as e:  # a run directory of another size / model / SGF directory
        return fail("train sl", e, 2)
    finally:
        printer.close()
    if args.json:
        print_json(result)
    else:
        print(f"stopped ({result.stopped}): {result.line()}")
        print(f"run directory: {config.run_dir}  (resume with the same command; tensorboard --logdir "
              f"{config.run_dir}/tb)")  # fmt: skip
    return 0


def _show(bar, st) -> str:
    bar.n = st.step
    loss = "-" if st.loss is None else f"{st.loss:.3f}"
    ev = "-" if st.eval_top1 is None else f"{100 * st.eval_top1:.1f}%"
    if st.zero:
        ev += " value MSE " + ("-" if st.eval_value_mse is None else f"{st.eval_value_mse:.3f}")
    return f"loss {loss} held-out top-1 {ev} {st.positions_per_s:.0f} pos/s ep {st.epoch}"
