"""``igo train distill``: knowledge distillation of a trained Zero net (the teacher) into another, usually smaller,
Zero net (the student) on SGF games or a Zero run's replay chunks (:mod:`igo.training.distill`)."""

from __future__ import annotations

import argparse
import logging

from igo.engine.options import positive_int

from .train_args import add_intervals, add_optimizer, add_running, add_sampling, add_trainer, run_settings, run_trainer

log = logging.getLogger(__name__)

DISTILL_EPILOG = """\
examples:
  igo train distill --teacher nets/data/igo-9x9-float.safetensors --config zero-b2c32 \\
      --sgf corpus/gnugo9 --run-dir runs/distill9 --max-steps 20000          # T 2, alpha 0.7
  igo train distill --teacher T.safetensors --config zero-b2c32 --sgf corpus/gnugo9 --run-dir runs/hard9 \\
      --alpha 0 --max-steps 20000                                             # the hard-target baseline
  igo train distill --teacher runs/z9/latest.safetensors --student runs/sl9/sl.safetensors \\
      --replay runs/z9/replay --run-dir runs/d9                               # continue a net on self-play data
  igo train distill --run-dir runs/distill9 --max-steps 40000                # resume (settings from config.json)
  igo gtp --model runs/distill9/distill.safetensors                          # play with the student

Loss (Hinton et al. 2015): alpha * T^2 * KL(softmax(teacher/T) || softmax(student/T)) + (1 - alpha) * cross-entropy
with the hard target (the game's move; with --replay the search's visits), plus --value-weight x the value MSE to
alpha * teacher value + (1 - alpha) * outcome (positions without an outcome: the teacher's part only). --alpha 0 is
hard-target training exactly (the teacher is then not run during training). Teacher and student read the same
planes under the same random symmetry, so they must have the same board size and history length. Held-out metrics
every --eval-every steps: agreement with the teacher's top move, top-1 against the game moves, KL(teacher||student)
at T=1, value MSE against the outcomes and against the teacher (the teacher's own figures are printed once). Everything
goes to --run-dir: config.json, checkpoints/, distill.safetensors (the newest student, an ordinary Zero checkpoint),
metrics.jsonl, tb/. Ctrl-C (or SIGTERM) saves a checkpoint and stops; rerunning the same command resumes.
"""

# command-line flag -> DistillConfig field (besides train_args.STEP_FIELDS)
_FIELDS = {"teacher": "teacher", "model": "model", "student": "student", "sgf": "sgf_dir", "replay": "replay_dir",
           "temperature": "temperature", "alpha": "alpha", "value_weight": "value_weight", "holdout": "holdout",
           "max_holdout_positions": "max_holdout_positions",
           "max_replay_positions": "max_replay_positions"}  # fmt: skip
_PATHS = ("teacher", "student", "sgf_dir", "replay_dir")


def add_parser(sub) -> argparse.ArgumentParser:
    """Add ``distill`` to the subparsers of ``igo train``."""
    p = add_trainer(
        sub,
        "distill",
        help="knowledge distillation: train a (smaller) Zero net on a trained Zero net's outputs",
        description="Distil a trained AlphaGo Zero network (the teacher, any zero-* checkpoint) into a student "
        "zero-* network, usually a smaller one, on SGF game records or a Zero run's replay chunks (Hinton, Vinyals "
        "and Dean 2015): the student learns the teacher's policy softened by a temperature and its value, mixed with "
        "the data's hard targets. The teacher runs in inference mode; both nets see each position under the same "
        "random symmetry. Held-out agreement with the teacher, accuracy, KL and value MSE as it goes; SGD with "
        "momentum (or AdamW), checkpoints with the optimizer state, resumable. --alpha 0 trains on the hard "
        "targets only, the baseline to compare with.",
        epilog=DISTILL_EPILOG,
        new_run="--teacher CKPT (--config NAME | --student CKPT) (--sgf DIR | --replay DIR)",
    )
    g = p.add_argument_group("what is trained (fixed for a run)")
    g.add_argument("--teacher", metavar="CKPT", default=None, help="the teacher: a Zero checkpoint (any zero-* "
                   "config); its board size is the run's; required for a new run (a resumed run has it in its "
                   "config.json)")  # fmt: skip
    g.add_argument("--config", dest="model", default=None, metavar="NAME", help="the student's zero-* config, new "
                   "random weights (see 'igo model list'; e.g. zero-b2c32), the same history length as the "
                   "teacher's; this or --student is required for a new run (default: the --student checkpoint's "
                   "config)")  # fmt: skip
    g.add_argument("--student", metavar="CKPT", default=None, help="start the student from this Zero checkpoint "
                   "(e.g. an 'igo train sl' net); its config is the student's (default: random weights of "
                   "--config)")  # fmt: skip
    g.add_argument("--sgf", metavar="DIR", default=None, help="directory of SGF game records (recursive): the hard "
                   "targets are the games' moves and results; this or --replay is required for a new run")  # fmt: skip
    g.add_argument("--replay", metavar="DIR", default=None, help="a Zero run's replay directory (chunk-*.npz, read "
                   "only): the hard targets are the search's visits and the results; this or --sgf is required for "
                   "a new run")  # fmt: skip
    g = p.add_argument_group("distillation")
    g.add_argument("--temperature", type=float, default=None, metavar="T", help="softmax temperature of both "
                   "policies in the KL term, > 0 (default 2)")  # fmt: skip
    g.add_argument("--alpha", type=float, default=None, metavar="A", help="weight of the teacher's targets in "
                   "[0, 1] (default 0.7); 0: the hard targets only (the baseline), 1: the teacher only")  # fmt: skip
    g.add_argument("--value-weight", type=float, default=None, metavar="W", help="weight of the value MSE in the "
                   "loss (default 0.25, as igo train sl)")  # fmt: skip
    g = p.add_argument_group("optimisation")
    add_optimizer(g, optimizer="default sgd (momentum 0.9)", lr="learning rate (default 0.05; try 1e-3 with "
                  "adamw)", momentum="SGD momentum (default 0.9)", weight_decay="L2 / decoupled weight decay "
                  "(default 1e-4)", batch_size="minibatch (default 128)")  # fmt: skip
    add_sampling(g, shuffled="SGF positions")
    g.add_argument("--max-replay-positions", type=positive_int, default=None, help="the newest replay positions "
                   "read, training and held out (default 1000000)")  # fmt: skip
    g = p.add_argument_group("held-out evaluation and checkpoints")
    g.add_argument("--holdout", type=float, default=None, help="share of SGF files (replay: games) held out "
                   "(default 0.05)")  # fmt: skip
    g.add_argument("--max-holdout-positions", type=positive_int, default=None, help="held-out positions evaluated "
                   "(default 20000)")  # fmt: skip
    add_intervals(g)
    add_running(p.add_argument_group("running"))
    p.set_defaults(run=run_distill_cmd)
    return p


def config_from_args(args):
    """The DistillConfig of a new run, or of a resumed one (``config.json``) with the flags given on top (a new
    data flag replaces the stored one of the other kind, so that the identity check names the change)."""
    from igo.training.distill import DistillConfig

    d, stored = run_settings(args, _FIELDS, required="teacher", flag="--teacher CKPT", paths=_PATHS)
    if stored is not None:
        sgf, replay = args.sgf is not None, args.replay is not None
        if sgf and not replay and stored.get("replay_dir") is not None:
            raise ValueError(f"{args.run_dir} is a distillation run on --replay {stored['replay_dir']}; it cannot go "
                             "on with --sgf (use another --run-dir)")  # fmt: skip
        if replay and not sgf and stored.get("sgf_dir") is not None:
            raise ValueError(f"{args.run_dir} is a distillation run on --sgf {stored['sgf_dir']}; it cannot go on "
                             "with --replay (use another --run-dir)")  # fmt: skip
    return DistillConfig.from_dict(d)


def run_distill_cmd(args) -> int:
    from igo.training.distill import train_distill
    from igo.training.run import RunError

    return run_trainer(args, "train distill", config_from_args, train_distill, errors=(RunError,), show=_show,
                       after="play the student: igo gtp --model {run_dir}/distill.safetensors")  # fmt: skip


def _show(bar, st) -> str:
    bar.n = st.step
    e = st.eval or {}
    agree = "-" if e.get("agree") is None else f"{100 * e['agree']:.1f}%"
    top1 = "-" if e.get("top1") is None else f"{100 * e['top1']:.1f}%"
    loss = "-" if st.loss is None else f"{st.loss:.3f}"
    return f"loss {loss} held-out agree {agree} top-1 {top1} {st.positions_per_s:.0f} pos/s"
