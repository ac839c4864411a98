"""``igo train rollout``: train AlphaGo's fast rollout policy (or its tree policy) from SGF game records
(:mod:`igo.training.rollout`)."""

from __future__ import annotations

import argparse
import sys

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

ROLLOUT_EPILOG = """\
examples:
  igo train rollout --sgf corpus/ --size 9 --run-dir runs/rollout9                 # 5 epochs, AdamW
  igo train rollout --sgf corpus/ --size 9 --run-dir runs/rollout9 --epochs 8      # resume: 3 more epochs
  igo train rollout --sgf corpus/ --size 9 --run-dir runs/tree9 --tree --max-minutes 10
  igo gtp --size 9 --rollout-policy runs/rollout9/rollout.safetensors              # playouts follow the weights

--run-dir holds config.json, rollout.safetensors (tree.safetensors with --tree: the final weights, an igo
checkpoint), checkpoints/ (the newest few with optimizer state), metrics.jsonl and tb/ (tensorboard --logdir RUN/tb).
Held-out games (--holdout, a stable hash of each file's path) give the top-1 accuracy and log-likelihood of the expert
move, next to the uniform policy's; the speed figure is microseconds per playout move with the trained weights.
Rerunning the command resumes from the newest checkpoint (raise --epochs or --max-steps to train further).
"""


def add_parser(sub) -> argparse.ArgumentParser:
    r = add_trainer(
        sub,
        "rollout",
        help="AlphaGo's fast rollout policy (or --tree: its tree policy) from SGF game records",
        description="Train AlphaGo's fast rollout policy (a linear softmax over 3x3 and 12-point-diamond response "
        "patterns, save-atari, neighbour and nakade features) on the moves of expert games, or with --tree its larger "
        "tree policy (also self-atari, distance to the last moves and 12-point diamond patterns). Every position is "
        "read once into flat arrays, then epochs of cross-entropy against the expert move among the candidate "
        "moves. Reports held-out accuracy (trained and uniform), the positions used and skipped, and the cost "
        "of a playout move with the weights.",
        epilog=ROLLOUT_EPILOG,
    )
    r.add_argument("--sgf", required=True, metavar="DIR", help="directory of SGF game records (searched recursively)")
    r.add_argument("--size", type=positive_int, default=DEFAULT_SIZE, help="board size; games of other sizes are "
                   f"skipped (default {DEFAULT_SIZE})")  # fmt: skip
    r.add_argument("--tree", action="store_true", help="train the tree policy (config 'tree') instead")
    g = r.add_argument_group("training")
    g.add_argument("--epochs", type=positive_int, default=5, help="passes over the training positions (default 5)")
    add_limits(g, max_steps="stop after this many batches in all")
    add_optimizer(g, optimizer="default adamw", lr="learning rate (default 0.02 adamw, 1.0 sgd)",
                       weight_decay="L2 / decoupled weight decay (default 0)",
                       batch_size="positions per batch (default 256)",
                       defaults={"optimizer": "adamw", "weight_decay": 0.0, "batch_size": 256})  # fmt: skip
    g.add_argument("--holdout", type=float, default=0.05, help="share of games held out (default 0.05)")
    g.add_argument("--max-games", type=positive_int, default=None, help="read at most this many training games "
                   "(default: all)")  # fmt: skip
    g.add_argument("--checkpoint-every", type=positive_int, default=1000, help="batches between checkpoints "
                   "(default 1000)")  # fmt: skip
    add_retention(g)
    g.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    g.add_argument("--nn-threads", type=positive_int, default=None, help="torch threads (default: the cores this "
                   "process may use, OMP_NUM_THREADS respected)")  # fmt: skip
    retire_option(g, "--threads", "use --nn-threads (torch threads)")
    g.add_argument("--speed-seconds", type=float, default=1.0, help="seconds per speed measurement (0: none; "
                   "default 1)")  # fmt: skip
    add_output(g)
    r.set_defaults(run=run_rollout_cmd)
    return r


DEFAULT_LR = {"adamw": 0.02, "sgd": 1.0}


def config_from(args):
    from igo.training.rollout import RolloutTrainConfig

    return RolloutTrainConfig(
        sgf=args.sgf,
        run_dir=args.run_dir,
        size=args.size,
        tree=args.tree,
        holdout=args.holdout,
        epochs=args.epochs,
        max_steps=args.max_steps,
        max_minutes=args.max_minutes,
        batch_size=args.batch_size,
        optimizer=args.optimizer,
        lr=args.lr if args.lr is not None else DEFAULT_LR[args.optimizer],
        weight_decay=args.weight_decay,
        seed=args.seed,
        threads=args.nn_threads,
        **given(args, ("keep_checkpoints", "keep_every")),
        max_games=args.max_games,
        checkpoint_every=args.checkpoint_every,
        speed_seconds=args.speed_seconds,
    )


def run_rollout_cmd(args) -> int:
    from igo.training.rollout import train_rollout
    from igo.training.run import RunError

    try:
        config = config_from(args)
    except (ValueError, TypeError) as e:
        return fail("train rollout", e, 2)
    progress = _Progress(None, "step", show=_show, lazy=True)
    try:
        result = train_rollout(config, on_status=progress)
    except (RunError, OSError, ValueError) as e:
        return fail("train rollout", e, 1)
    finally:
        progress.close()
    if args.json:
        print_json(result.to_dict())
        return 0
    for line in summary_lines(result):
        print(line)
    return 0


def summary_lines(result) -> list[str]:
    tr, ho = result.train, result.held_out
    out = [
        f"{result.config} policy: {result.step} steps ({result.epochs_done:.2f} epochs, stopped by {result.stopped}) "
        f"in {result.seconds:.0f} s" + (f", resumed from {result.resumed_from}" if result.resumed_from else ""),
        f"training positions: {tr['positions']} from {tr['games']} games ({tr['candidates_per_position']:.1f} "
        f"candidates each; read at {tr['positions_per_second']:.0f} positions/s)",
    ]
    skipped = {**tr["skipped"]}
    for k, v in ho["skipped"].items():
        skipped[k] = skipped.get(k, 0) + v
    if skipped:
        out.append("skipped: " + ", ".join(f"{k} {v}" for k, v in sorted(skipped.items())))
    if result.trained is not None and result.uniform is not None:
        t, u = result.trained, result.uniform
        out.append(
            f"held-out ({ho['positions']} positions, {ho['games']} games): top-1 accuracy {t['accuracy']:.3f} "
            f"(uniform {u['accuracy']:.3f}), log-likelihood {t['log_likelihood']:.3f} (uniform "
            f"{u['log_likelihood']:.3f})"
        )
    else:
        out.append("held-out: no held-out games (raise --holdout or add games)")
    sp = result.speed
    if sp:
        parts = []
        if "us_per_move" in sp:
            parts.append(f"{sp['us_per_move']:.2f} us per playout move (zero weights {sp['us_per_move_uniform']:.2f})")
        parts.append(f"{sp['us_per_policy_move']:.1f} us per policy move from scratch")
        out.append("speed (one thread): " + ", ".join(parts))
    out.append(f"checkpoint: {result.checkpoint}")
    if result.config == "rollout":
        out.append(f"use it: igo gtp --rollout-policy {result.checkpoint}")
    return out


class _Progress(Progress):
    """While the games are read, a line rewritten in place on a terminal; then a bar over the training steps."""

    def __call__(self, st) -> None:
        if self.tty and st.phase == "extract":
            print(f"\r{st.line()}", end="", file=sys.stderr, flush=True)
            return
        if self.tty and self.bar is None:
            print(file=sys.stderr)
        super().__call__(st)


def _show(bar, st) -> str:
    bar.total = st.total_steps
    bar.n = st.step
    loss = "-" if st.loss is None else f"{st.loss:.3f}"
    acc = "-" if st.accuracy is None else f"{st.accuracy:.3f}"
    held = "-" if st.held_out_accuracy is None else f"{st.held_out_accuracy:.3f}"
    return f"loss {loss} acc {acc} held-out {held}"


__all__ = ["add_parser", "run_rollout_cmd", "summary_lines"]
