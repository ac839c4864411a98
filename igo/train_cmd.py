"""``igo train``: the trainers. ``igo train zero`` runs AlphaGo Zero training (:mod:`igo.training.zero`); ``sl``,
``rollout``, ``rl`` and ``value`` are the AlphaGo (2016) pipeline (their own modules ``train_*_cmd``); ``distill``
distils a trained Zero net into a (smaller) student (:mod:`igo.train_distill_cmd`)."""

from __future__ import annotations

import argparse
import logging
import time

from igo.engine.coords import DEFAULT_SIZE
from igo.engine.options import positive_float, positive_int

from .train_args import (
    Progress,
    add_limits,
    add_optimizer,
    add_output,
    add_ray,
    add_retention,
    add_trainer,
    fail,
    given,
    print_json,
)
from .train_distill_cmd import add_parser as add_distill
from .train_rl_cmd import add_parser as add_rl
from .train_rollout_cmd import add_parser as add_rollout
from .train_sl_cmd import add_parser as add_sl
from .train_value_cmd import add_parser as add_value

log = logging.getLogger(__name__)

ZERO_EPILOG = """\
examples:
  igo train zero --size 9 --config zero-b6c64 --run-dir runs/z9            # local Ray, this machine's cores
  igo train zero --size 7 --komi 9 --config zero-b2c32 --run-dir runs/z7 --simulations 64 --max-minutes 30
  igo train zero --run-dir runs/z9                                          # resume (settings from config.json)
  igo train zero --size 9 --run-dir runs/z9b --init runs/sl9/sl.safetensors # warm start from a trained zero-b6c64
  igo train zero --run-dir runs/z9 --address auto --actors 30               # on a Ray cluster (ray start --head)
  igo train zero --run-dir runs/z9 --learners 4 --async                     # 4 learners, parameter server

Everything goes to --run-dir: latest.safetensors (the newest network, replaced at every checkpoint: play it with
igo gtp --model RUN/latest.safetensors; it records the komi), config.json, checkpoints/ (safetensors; the newest
--keep-checkpoints and every --keep-every-th are kept, optimizer state for the newest only), games/ (SGF), replay/
(.npz chunks), eval/ (evaluation tournaments), tb/ (TensorBoard: tensorboard --logdir RUN/tb), metrics.jsonl.
Ctrl-C (or SIGTERM) stops cleanly: the games in flight finish, a checkpoint is saved. A hard kill loses no finished
game and at most --checkpoint-every learner steps; rerunning the same command resumes ("resuming run ... at step N").

The status line: games/h and pos/s count the games of this invocation only. Elo: the newest evaluated checkpoint's
rating, the first checkpoint being 0; an evaluation (every --eval-every checkpoints, default every 2nd) plays
--eval-games games (default 4) against each of the first checkpoint and rollout-only igo, every game two 'igo gtp'
processes of one thread on one Ray CPU, at --eval-simulations: 8 short games, one evaluation at a time (a due one is
skipped while the last still plays); --eval-every 0 turns it off. "false resignations F of N checked": of the games
played out without resigning (--no-resign-fraction), N had a side fall below --resign-threshold, and that side won
F of them, where resigning would have lost a won game; keep F/N under 5% (AlphaGo Zero) by lowering the threshold.
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="trainer", metavar="TRAINER")
    add_sl(sub)  # the AlphaGo (2016) pipeline, in its order
    add_rollout(sub)
    add_rl(sub)
    add_value(sub)
    z = add_trainer(
        sub,
        "zero",
        help="AlphaGo Zero: self-play actors on Ray, replay buffer, learner, gating and evaluation",
        description="Train an AlphaGo Zero network from nothing: self-play actors (Ray) play games with the latest "
        "network (Dirichlet noise, temperature, tree reuse, resignation with a no-resign share), a replay buffer "
        "keeps the newest positions (on disk as it goes), the learner trains on them (SGD with momentum or AdamW, "
        "value MSE + policy cross-entropy + L2), checkpoints are published to the actors (or gated), and "
        "evaluation gauntlets rate them by Elo.",
        epilog=ZERO_EPILOG,
    )
    g = z.add_argument_group("what is trained (fixed for a run)")
    g.add_argument("--size", type=int, default=None, help=f"board size (default {DEFAULT_SIZE})")
    g.add_argument("--komi", type=float, default=None, help="komi (default 7.5)")
    g.add_argument("--config", dest="model", default=None, help="network config, see 'igo model list' "
                   "(default zero-b6c64)")  # fmt: skip
    g.add_argument("--init", default=None, metavar="CHECKPOINT", help="a new run's first network is this Zero "
                   "checkpoint's weights (same --config and --size; e.g. an 'igo train sl' net or the shipped one), "
                   "recorded as the run's parent; on resume it must be the same; 'default': the network that ships "
                   "with igo (default: random weights)")  # fmt: skip
    g = z.add_argument_group("self-play")
    g.add_argument("--actors", type=positive_int, default=None, help="self-play actors (default 1)")
    g.add_argument("--games-per-actor", type=positive_int, default=None, help="games each actor plays at once, "
                   "their leaves in one network batch (default 32)")  # fmt: skip
    g.add_argument("--simulations", type=positive_int, default=None, help="simulations per move (default 200)")
    g.add_argument("--leaves-per-game", type=positive_int, default=None, help="leaves per game per batch "
                   "(virtual loss; default 8)")  # fmt: skip
    g.add_argument("--fast-simulations", type=int, default=None, metavar="N", help="playout cap randomisation "
                   "(KataGo): a move that is not a full search is a fast one of N simulations, without Dirichlet "
                   "noise, whose position is not recorded for training; below --simulations (default 0: every move "
                   "a full search)")  # fmt: skip
    g.add_argument("--full-search-fraction", type=float, default=None, metavar="P", help="with --fast-simulations: "
                   "the share of moves that are full searches (--simulations, noise, recorded; "
                   "default 0.25)")  # fmt: skip
    g.add_argument("--temperature-moves", type=int, default=None, help="moves drawn with temperature 1 "
                   "(default 30 x points / 361)")  # fmt: skip
    g.add_argument("--resign-threshold", type=float, default=None, help="resign when the root Q is below this "
                   "(-1 never; default -0.9)")  # fmt: skip
    g.add_argument("--no-resign-fraction", type=float, default=None, help="share of games without resignation "
                   "(false-resignation check; default 0.1)")  # fmt: skip
    g.add_argument("--actor-seconds", type=positive_float, default=None, help="seconds per actor call: finished "
                   "games come back, new weights go out, this often (default 20)")  # fmt: skip
    g.add_argument("--actor-cpus", type=positive_float, default=None, help="Ray CPUs per actor (default 1)")
    g.add_argument("--actor-threads", type=positive_int, default=None, help="torch threads per actor (default 1)")
    g.add_argument("--actor-device", choices=("cpu", "cuda"), default=None, help="where actors run the network "
                   "(default cpu)")  # fmt: skip
    g.add_argument("--actor-gpus", type=float, default=None, help="GPU share per actor with --actor-device cuda "
                   "(e.g. 0.25: four actors per GPU; default 0)")  # fmt: skip
    g.add_argument("--actor-precision", choices=("float", "int8"), default=None, help="float, or int8: CPU "
                   "actors quantize each new network, calibrated on their own games (about 2x the moves/s; "
                   "default float)")  # fmt: skip
    g = z.add_argument_group("replay buffer and learner")
    g.add_argument("--window", type=positive_int, default=None, help="positions in the replay window "
                   "(default 100000)")  # fmt: skip
    g.add_argument("--min-positions", type=positive_int, default=None, help="positions before training starts "
                   "(default 2000)")  # fmt: skip
    g.add_argument("--train-ratio", type=positive_float, default=None, help="samples trained per position "
                   "generated (default 4)")  # fmt: skip
    add_optimizer(g, optimizer="default sgd (momentum 0.9)", lr="learning rate (default 0.02)",
                       weight_decay="L2 coefficient (default 1e-4)",
                       batch_size="learner batch (default 256)")  # fmt: skip
    g.add_argument("--lr-schedule", default=None, metavar="SAMPLES:LR,...", help="piecewise-constant learning "
                   "rate by samples trained, e.g. 0:0.02,2000000:0.002; it replaces --lr (default: none, the constant "
                   "--lr)")  # fmt: skip
    g.add_argument("--checkpoint-every", type=positive_int, default=None, help="learner steps between checkpoints "
                   "(default 200)")  # fmt: skip
    add_retention(g, always="; the first, the best and those being evaluated are always kept")
    g.add_argument("--learners", type=positive_int, default=None, help="data-parallel learners: one per GPU, or "
                   "CPU processes without GPUs (default 1: in this process); see --sync and --async")  # fmt: skip
    mode = g.add_mutually_exclusive_group()
    mode.add_argument("--sync", dest="learner_mode", action="store_const", const="sync", default=None,
                      help="with --learners N: synchronous torch DDP, every step averages the N learners' gradients "
                      "on batch-size / N positions each (NCCL on GPUs, gloo on CPUs; the default)")  # fmt: skip
    mode.add_argument("--async", dest="learner_mode", action="store_const", const="async", default=None,
                      help="with --learners N (N >= 2): asynchronous, a parameter server applies each worker's "
                      "gradient (batch-size positions) as it arrives, workers never wait for each other; the status "
                      "line and metrics.jsonl show the gradients' staleness. The mode is kept in config.json: a "
                      "resume keeps it unless --sync or --async is given")  # fmt: skip
    g.add_argument("--learner-cpus", type=positive_float, default=None, help="Ray CPUs each of --learners N > 1 "
                   "reserves (default 1; on a local Ray the actors' and learners' CPUs must fit in "
                   "--cpus)")  # fmt: skip
    g.add_argument("--learner-device", default=None, help="auto (default: a GPU when there is one), cpu or cuda")
    g.add_argument("--learner-threads", type=positive_int, default=None, help="torch threads of the learner, "
                   "of each with --learners > 1 (default: on a local Ray the cores the self-play actors leave, at "
                   "least 1; on a cluster the cores this process may use; OMP_NUM_THREADS respected; 1 each with "
                   "--learners > 1)")  # fmt: skip
    g = z.add_argument_group("evaluation and gating")
    g.add_argument("--eval-every", type=int, default=None, help="checkpoints between evaluation gauntlets, which "
                   "give the Elo of the status line (0: none; default 2: see below for the cost)")  # fmt: skip
    g.add_argument("--eval-games", type=positive_int, default=None, help="games per opponent (default 4)")
    g.add_argument("--eval-simulations", type=int, default=None, help="simulations per move in evaluation "
                   "(default: the self-play simulations)")  # fmt: skip
    g.add_argument("--eval-opponent", action="append", default=None, metavar="COMMAND", help="a GTP engine to "
                   "evaluate against, e.g. 'gnugo --mode gtp --level 1' (repeatable; default: none)")  # fmt: skip
    g.add_argument("--no-eval-rollout", action="store_true", help="no rollout-only igo opponent in evaluations")
    g.add_argument("--gating-games", type=int, default=None, help="AlphaGo Zero gating: games of each checkpoint "
                   "against the best (0: continuous update, the default)")  # fmt: skip
    g.add_argument("--gating-threshold", type=float, default=None, help="win rate to be promoted (default 0.55)")
    g = z.add_argument_group("running")
    add_ray(g)
    g.add_argument("--max-games", type=positive_int, default=None, help="stop after this many games (in all; "
                   "default: no limit)")  # fmt: skip
    add_limits(g, max_steps="stop after this many learner steps")
    g.add_argument("--seed", type=int, default=None, help="random seed of a new run (default 0)")
    add_output(g, json_help="print the final status as JSON", status_every=10.0)
    z.set_defaults(run=run_zero_cmd)
    add_distill(sub)  # after zero: a trained Zero net into a (smaller) student
    p.set_defaults(run=lambda args: (p.print_help(), 2)[1])


def parse_schedule(text: str) -> list[list]:
    out = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        try:
            samples, lr = part.split(":")
            out.append([int(float(samples)), float(lr)])
        except ValueError:
            raise ValueError(f"--lr-schedule: {part!r} is not SAMPLES:LR") from None
    if not out:
        raise ValueError("--lr-schedule is empty")
    return out


def overrides_from(args) -> dict:
    """The settings given on the command line, as :class:`igo.training.zero.ZeroRunConfig` overrides."""
    top = given(args, ("size", "komi", "model", "actors", "games_per_actor", "actor_cpus", "actor_threads",
                       "actor_device", "actor_gpus", "actor_precision", "actor_seconds", "window", "min_positions",
                       "train_ratio",
                       "checkpoint_every", "keep_checkpoints", "keep_every", "eval_every", "eval_games",
                       "eval_simulations", "gating_games", "gating_threshold", "learners", "learner_cpus",
                       "learner_mode", "seed"))  # fmt: skip
    if args.init is not None:
        from pathlib import Path

        init = args.init
        if init == "default":
            from igo.nets.default import default_training_path

            found = default_training_path()
            if found is None:
                raise ValueError("--init default: this igo has no default network (igo model info --default)")
            init = found
        top["parent"] = str(Path(init).expanduser().resolve())
    if args.eval_opponent is not None:
        top["eval_opponents"] = list(args.eval_opponent)
    if args.no_eval_rollout:
        top["eval_rollout"] = False
    sp = given(args, ("simulations", "leaves_per_game", "temperature_moves", "resign_threshold", "no_resign_fraction",
                      "fast_simulations", "full_search_fraction"))  # fmt: skip
    if sp:
        top["selfplay"] = sp
    lr = given(args, ("batch_size", "optimizer", "lr", "weight_decay"))
    if args.lr_schedule is not None:
        lr["lr_schedule"] = parse_schedule(args.lr_schedule)
    if lr:
        top["learner"] = lr
    return top


def run_zero_cmd(args) -> int:
    from pathlib import Path

    from igo.training.run import RunError
    from igo.training.zero import Limits, ZeroRunConfig, run_zero

    run_dir = Path(args.run_dir)
    try:
        overrides = overrides_from(args)
        config = None if (run_dir / "config.json").exists() else ZeroRunConfig()
        bar = Progress(args.max_games, "game", show=_show)
        status = run_zero(
            run_dir,
            config,
            Limits(max_games=args.max_games, max_steps=args.max_steps, max_minutes=args.max_minutes),
            overrides=overrides,
            address=args.address,
            num_cpus=args.cpus,
            learner_device=args.learner_device,
            learner_threads=args.learner_threads,
            on_status=bar,
            status_every=args.status_every,
        )
        bar.close()
    except RunError as e:
        return fail("train zero", e, 1)
    except (KeyError, ValueError, TypeError) as e:  # KeyError: an unknown network config name
        return fail("train zero", e, 2)
    if args.json:
        print_json(status)
    else:
        print(f"stopped: {status.line()}")
        print(f"network: {run_dir / 'latest.safetensors'}  (play it: igo gtp --model {run_dir / 'latest.safetensors'})")
        print(f"run directory: {run_dir}  (resume with the same command; tensorboard --logdir {run_dir / 'tb'})")
    return 0


def _show(bar, st) -> str:
    # tqdm's rate is (n - initial) / elapsed: count this invocation's games over its time, as games/h does
    bar.n, bar.initial = st.games, st.games - st.new_games
    bar.start_t = time.time() - st.elapsed
    loss = "-" if st.loss is None else f"{st.loss:.3f}"
    elo = "-" if st.elo is None else f"{st.elo:+.0f}"
    stale = "" if st.staleness_mean is None else f" staleness {st.staleness_mean:.1f} (max {st.staleness_max})"
    return f"pos {st.positions} step {st.step} loss {loss}{stale} Elo {elo} {st.games_per_hour:.0f} g/h"
