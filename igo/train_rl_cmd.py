"""``igo train rl``: AlphaGo's RL policy by REINFORCE against a pool of earlier snapshots (:mod:`igo.training.rl`)."""

from __future__ import annotations

import argparse

from igo.engine.options import positive_float, positive_int, retire_option

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

EPILOG = """\
examples:
  igo train rl --init runs/sl9/sl.safetensors --run-dir runs/rl9 --max-minutes 30
  igo train rl --run-dir runs/rl9 --max-iterations 500                 # resume, settings from config.json
  igo train rl --init sl.safetensors --run-dir runs/rl19 --address auto --actors 60 --games 128   # a Ray cluster

The run directory holds config.json, checkpoints/rl-NNNNNN.safetensors (+ optimizer state), pool/ (the opponents),
rl.safetensors (the latest net), metrics.jsonl and tb/ (tensorboard --logdir RUN/tb: eval/win_rate_vs_sl).
Ctrl-C stops after the current iteration and saves a checkpoint; rerunning the same command resumes.
"""


def add_parser(sub) -> None:
    p = add_trainer(
        sub,
        "rl",
        help="AlphaGo RL policy: REINFORCE from games against a pool of earlier snapshots (Ray actors)",
        description="Improve an SL policy net by policy-gradient self-play as in AlphaGo (2016): each iteration plays "
        "a minibatch of games (no search, moves sampled from the policy) against an opponent drawn from a pool of "
        "the net's earlier snapshots (the SL net first), on Ray actors, then moves the weights along "
        "(z - baseline) * grad log p(a|s) of the net's own moves. The win rate against the SL net is measured "
        "every --eval-every iterations.",
        epilog=EPILOG,
        new_run="--init SL.safetensors",
    )
    p.add_argument("--init", default=None, metavar="SL.safetensors", help="the SL policy checkpoint to start from; "
                   "required for a new run (a resumed run takes it from its config.json)")  # fmt: skip
    p.add_argument("--komi", type=float, default=None, help="komi (default 7 on 9x9 and smaller, 7.5 above)")
    g = p.add_argument_group("training")
    g.add_argument("--games", type=positive_int, default=None, help="games per iteration, even (default 64; paper 128)")
    g.add_argument("--pool-every", type=positive_int, default=None, help="add a snapshot to the opponent pool every "
                   "K iterations (default 20; paper 500)")  # fmt: skip
    add_optimizer(g, optimizer="default sgd (as the paper)", lr="learning rate (default 0.01)",
                       momentum="SGD momentum (default 0)")  # fmt: skip
    g.add_argument("--temperature", type=positive_float, default=None, help="sampling temperature (default 1)")
    g.add_argument("--move-limit", type=positive_int, default=None, help="moves before a game is scored as it stands "
                   "(default 3 x size x size)")  # fmt: skip
    g.add_argument("--seed", type=int, default=None, help="seed (default 0)")
    g = p.add_argument_group("evaluation and checkpoints")
    g.add_argument("--eval-every", type=positive_int, default=None, help="iterations between evaluations (default 10)")
    g.add_argument("--eval-games", type=int, default=None, help="games against the SL net per evaluation "
                   "(default 100; 0: none)")  # fmt: skip
    g.add_argument("--checkpoint-every", type=positive_int, default=None, help="iterations between checkpoints "
                   "(default 10)")  # fmt: skip
    add_retention(g, always="; the opponent pool is never thinned")
    g = p.add_argument_group("limits and resources")
    g.add_argument("--max-iterations", type=positive_int, default=None, help="stop at this iteration (counting "
                   "resumed ones; default: no limit)")  # fmt: skip
    add_limits(g, max_steps=None)
    g.add_argument("--actors", type=positive_int, default=None, help="Ray actors playing the games (default: CPUs)")
    g.add_argument("--nn-threads", type=positive_int, default=1, help="torch threads per actor; each actor takes as "
                   "many Ray CPUs (default 1)")  # fmt: skip
    retire_option(g, "--threads", "use --nn-threads (torch threads per actor)")
    g.add_argument("--device", default="auto", help="where the update runs: auto, cpu, cuda (default auto)")
    add_ray(g, address="Ray cluster address (default: a local Ray)")
    add_output(g, json_help="print the final status as JSON")
    p.set_defaults(run=run)


_FIELDS = {
    "games": "games_per_iteration",
    "keep_checkpoints": "keep_checkpoints",
    "keep_every": "keep_every",
    "pool_every": "pool_every",
    "optimizer": "optimizer",
    "lr": "lr",
    "momentum": "momentum",
    "temperature": "temperature",
    "move_limit": "move_limit",
    "seed": "seed",
    "eval_every": "eval_every",
    "eval_games": "eval_games",
    "checkpoint_every": "checkpoint_every",
}


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from igo.nets.checkpoint import CheckpointError
    from igo.selfplay.cluster import ClusterError
    from igo.training.rl import RLConfig, RLLimits, RLRun
    from igo.training.run import RunDir

    run_dir = Path(args.run_dir)
    settings = given(args, _FIELDS)
    try:
        stored = RunDir(run_dir).read_config()
        if stored is not None:
            config = RLConfig.from_dict({**stored.get("rl", {}), **settings, **given(args, ("init", "komi"))})
        else:
            if args.init is None:
                return fail("train rl", f"--init SL.safetensors is required for a new run ({run_dir} has no "
                            "config.json to resume)", 2)  # fmt: skip
            config = RLConfig(init=args.init, komi=args.komi, **settings)
        runner = RLRun(run_dir, config)
    except (ValueError, TypeError, CheckpointError) as e:
        return fail("train rl", e, 2)
    except OSError as e:
        return fail("train rl", e, 1)
    printer = Progress(args.max_iterations, "it", show=_show)
    try:
        status = runner.run(
            RLLimits(args.max_iterations, args.max_minutes), actors=args.actors, address=args.address,
            num_cpus=args.cpus, threads=args.nn_threads, device=args.device, on_status=printer,
        )  # fmt: skip
    except (ClusterError, CheckpointError, FloatingPointError) as e:
        return fail("train rl", e, 1)
    finally:
        printer.close()
    if args.json:
        print_json(status)
    else:
        print(f"stopped: {status.line()}")
        if status.win_rate_vs_sl is not None:
            print(f"win rate against the SL net: {100 * status.win_rate_vs_sl:.1f}% "
                  f"(95% {100 * status.win_rate_low:.1f}-{100 * status.win_rate_high:.1f}%)")  # fmt: skip
        print(f"checkpoint: {run_dir / 'rl.safetensors'}  (resume with the same command; "
              f"tensorboard --logdir {run_dir / 'tb'})")  # fmt: skip
    return 0


def _show(bar, st) -> str:
    bar.n = st.iteration
    return st.line()
