"""``igo train sl``: supervised learning from SGF game records (:mod:`igo.training.sl`): AlphaGo's SL policy network, or
a warm start of an AlphaGo Zero net (policy and value heads) for Zero self-play."""

from __future__ import annotations

import argparse
import logging

from igo.engine.coords import DEFAULT_SIZE

from .train_args import add_intervals, add_optimizer, add_running, add_sampling, add_trainer, run_settings, run_trainer

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

# command-line flag -> SLConfig field (besides train_args.STEP_FIELDS)
_FIELDS = {"sgf": "sgf_dir", "size": "size", "model": "model", "value_weight": "value_weight", "holdout": "holdout",
           "max_holdout_positions": "max_holdout_positions"}  # fmt: skip


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
    add_sampling(g)
    g = p.add_argument_group("held-out evaluation and checkpoints")
    g.add_argument("--holdout", type=float, default=None, help="share of SGF files held out (default 0.05)")
    g.add_argument("--max-holdout-positions", type=int, default=None, help="held-out positions evaluated "
                   "(default 20000)")  # fmt: skip
    add_intervals(g)
    add_running(p.add_argument_group("running"), retire_threads=True)
    p.set_defaults(run=run_sl_cmd)
    return p


def config_from_args(args):
    """The SLConfig of a new run, or of a resumed one (``config.json``) with the flags given on top."""
    from pathlib import Path

    from igo.training.sl import SLConfig

    d, stored = run_settings(args, _FIELDS, required="sgf_dir", flag="--sgf DIR", new={"size": DEFAULT_SIZE})
    if stored is not None and args.sgf is not None:
        d["sgf_dir"] = str(Path(args.sgf).expanduser().resolve())
    return SLConfig.from_dict(d)


def run_sl_cmd(args) -> int:
    from igo.training.sl import SLRunError, train_sl

    return run_trainer(args, "train sl", config_from_args, train_sl, errors=(SLRunError,), show=_show,
                       after="tensorboard --logdir {run_dir}/tb")  # fmt: skip


def _show(bar, st) -> str:
    bar.n = st.step
    loss = "-" if st.loss is None else f"{st.loss:.3f}"
    ev = "-" if st.eval_top1 is None else f"{100 * st.eval_top1:.1f}%"
    if st.zero:
        ev += " value MSE " + ("-" if st.eval_value_mse is None else f"{st.eval_value_mse:.3f}")
    return f"loss {loss} held-out top-1 {ev} {st.positions_per_s:.0f} pos/s ep {st.epoch}"
