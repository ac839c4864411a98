"""``igo train rl``: AlphaGo's RL policy by REINFORCE against a pool of earlier snapshots (:mod:`igo.training.rl`)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import textwrap

from .player_args import positive_float, positive_int

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
    p = sub.add_parser(
        "rl",
        help="AlphaGo RL policy: REINFORCE from games against a pool of earlier snapshots (Ray actors)",
        description=textwrap.fill(
            "Improve an SL policy net by policy-gradient self-play as in AlphaGo (2016): each iteration plays a "
            "minibatch of games (no search, moves sampled from the policy) against an opponent drawn from a pool of "
            "the net's earlier snapshots (the SL net first), on Ray actors, then moves the weights along "
            "(z - baseline) * grad log p(a|s) of the net's own moves. The win rate against the SL net is measured "
            "every --eval-every iterations.",
            100,
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=EPILOG,
    )
    p.add_argument("--run-dir", required=True, help="run directory (created, or resumed when it exists)")
    p.add_argument("--init", default=None, help="the SL policy checkpoint to start from (fixed for a run)")
    p.add_argument("--komi", type=float, default=None, help="komi (default 7 on 9x9 and smaller, 7.5 above)")
    g = p.add_argument_group("training")
    g.add_argument("--games", type=positive_int, default=None, help="games per iteration, even (default 64; paper 128)")
    g.add_argument("--pool-every", type=positive_int, default=None, help="add a snapshot to the opponent pool every "
                   "K iterations (default 20; paper 500)")  # fmt: skip
    g.add_argument("--optimizer", choices=("sgd", "adamw"), default=None, help="default sgd (as the paper)")
    g.add_argument("--lr", type=positive_float, default=None, help="learning rate (default 0.01)")
    g.add_argument("--momentum", type=float, default=None, help="SGD momentum (default 0)")
    g.add_argument("--temperature", type=positive_float, default=None, help="sampling temperature (default 1)")
    g.add_argument("--move-limit", type=positive_int, default=None, help="moves before a game is scored as it stands")
    g.add_argument("--seed", type=int, default=None, help="seed (default 0)")
    g = p.add_argument_group("evaluation and checkpoints")
    g.add_argument("--eval-every", type=positive_int, default=None, help="iterations between evaluations (default 10)")
    g.add_argument("--eval-games", type=int, default=None, help="games against the SL net per evaluation "
                   "(default 100; 0: none)")  # fmt: skip
    g.add_argument("--checkpoint-every", type=positive_int, default=None, help="iterations between checkpoints "
                   "(default 10)")  # fmt: skip
    g = p.add_argument_group("limits and resources")
    g.add_argument("--max-iterations", type=positive_int, default=None, help="stop at this iteration")
    g.add_argument("--max-minutes", type=positive_float, default=None, help="stop after this many minutes")
    g.add_argument("--actors", type=positive_int, default=None, help="Ray actors playing the games (default: CPUs)")
    g.add_argument("--threads", type=positive_int, default=1, help="torch threads per actor (default 1)")
    g.add_argument("--device", default="auto", help="where the update runs: auto, cpu, cuda (default auto)")
    g.add_argument("--address", default=None, help="Ray cluster address (default: a local Ray)")
    g.add_argument("--cpus", type=positive_int, default=None, help="CPUs of the local Ray (default: all)")
    g.add_argument("--json", action="store_true", help="print the final status as JSON")
    p.set_defaults(run=run)


_FIELDS = {
    "games": "games_per_iteration",
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

    run_dir = Path(args.run_dir)
    given = {f: getattr(args, a) for a, f in _FIELDS.items() if getattr(args, a) is not None}
    try:
        if (run_dir / "config.json").exists():
            stored = json.loads((run_dir / "config.json").read_text(encoding="utf-8")).get("rl", {})
            base = {**stored, **given}
            if args.init is not None:
                base["init"] = args.init
            if args.komi is not None:
                base["komi"] = args.komi
            config = RLConfig.from_dict(base)
        else:
            if args.init is None:
                print("igo train rl: error: --init SL.safetensors is needed to start a run", file=sys.stderr)
                return 2
            config = RLConfig(init=args.init, komi=args.komi, **given)
        runner = RLRun(run_dir, config)
    except (ValueError, TypeError, CheckpointError, json.JSONDecodeError) as e:
        print(f"igo train rl: error: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"igo train rl: error: {e}", file=sys.stderr)
        return 1
    printer = _Printer(args.max_iterations)
    try:
        status = runner.run(
            RLLimits(args.max_iterations, args.max_minutes), actors=args.actors, address=args.address,
            num_cpus=args.cpus, threads=args.threads, device=args.device, on_status=printer,
        )  # fmt: skip
    except (ClusterError, CheckpointError, FloatingPointError) as e:
        print(f"igo train rl: error: {e}", file=sys.stderr)
        return 1
    finally:
        printer.close()
    if args.json:
        print(json.dumps(dataclasses.asdict(status), sort_keys=True))
    else:
        print(f"stopped: {status.line()}")
        if status.win_rate_vs_sl is not None:
            print(f"win rate against the SL net: {100 * status.win_rate_vs_sl:.1f}% "
                  f"(95% {100 * status.win_rate_low:.1f}-{100 * status.win_rate_high:.1f}%)")  # fmt: skip
        print(f"checkpoint: {run_dir / 'rl.safetensors'}  (resume with the same command; "
              f"tensorboard --logdir {run_dir / 'tb'})")  # fmt: skip
    return 0


class _Printer:
    def __init__(self, total: int | None):
        self._bar = None
        if sys.stderr.isatty():
            from tqdm import tqdm

            self._bar = tqdm(total=total, unit="it", dynamic_ncols=True, file=sys.stderr)

    def __call__(self, st) -> None:
        if self._bar is not None:
            self._bar.n = st.iteration
            self._bar.set_postfix_str(st.line(), refresh=True)
        else:
            print(f"[{st.elapsed / 60:5.1f} min] {st.line()}", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
