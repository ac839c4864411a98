"""The ``igo`` command.

Each subcommand is one entry of :data:`COMMANDS`: a function that adds its arguments to a subparser and a function
that runs it. Later features add entries here; nothing else dispatches commands.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import select
import sys
from dataclasses import dataclass

from . import __version__


@dataclass(frozen=True)
class Command:
    """A subcommand: its module provides ``add_arguments(parser)``, which sets ``run`` (a function of the parsed
    arguments returning an exit code) as a parser default."""

    name: str
    module: str
    help: str
    description: str = ""


COMMANDS: list[Command] = [
    Command(
        "bench",
        "igo.bench",
        "measure the speed of the hot paths (board and playouts, search, network inference)",
        "Benchmarks of igo's hot paths on one core. Figures are printed, never asserted.",
    ),
    Command(
        "show",
        "igo.show",
        "replay an SGF game record and print the board and Tromp-Taylor result",
        "Replay the main line of an SGF file under igo's rules and print the final position (or the position "
        "after --move N) with its area score. Errors in the file are reported with the move that caused them.",
    ),
    Command(
        "gtp",
        "igo.gtp_cmd",
        "run igo as a GTP engine on stdin/stdout (for Sabaki, GoGui, match referees)",
        "Speak the Go Text Protocol v2 on stdin/stdout; logs go to stderr (-v search summaries, -vv every GTP "
        "line). igo plays with its Monte Carlo tree search (rollouts, or networks with --model) and streams "
        "analysis to Sabaki and Lizzie (lz-analyze, kata-analyze) and GoGui (gogui-analyze_commands).",
    ),
    Command(
        "play",
        "igo.play_cmd",
        "play a game against igo in the terminal",
        "A game against igo on a text board: type a move (D4), pass, undo, resign, help or quit. The game ends after "
        "two passes or a resignation and is scored by area with dead stones removed.",
    ),
    Command(
        "tournament",
        "igo.tournament_cmd",
        "round-robin or gauntlet between igo settings, checkpoints and GTP engines, on Ray, with Elo ratings",
        "Play a round-robin or a gauntlet between players (igo with given settings or checkpoints, GNU Go, any GTP "
        "engine) with games in parallel on Ray (local by default, or a cluster with --address), record every game "
        "(SGF, results.jsonl; rerunning resumes), and rate the players by Bradley-Terry maximum likelihood with 95% "
        "intervals, likelihood of superiority and a crosstable.",
    ),
    Command(
        "ratings",
        "igo.ratings_cmd",
        "rate the recorded games of several tournament directories together (one Elo scale, the training curve)",
        "Read the finished games of one or more igo tournament directories (each evaluation in its own --out), "
        "check that a player name means the same settings everywhere, and rate all the games together by "
        "Bradley-Terry maximum likelihood with 95% intervals; --plot draws Elo against the training step or "
        "CPU-hours of the players' checkpoints. Plays nothing; writes only the PNG.",
    ),
    Command(
        "train",
        "igo.train_cmd",
        "train networks: AlphaGo's pipeline (sl, rollout, rl, value), AlphaGo Zero (zero) on Ray, distillation",
        "The trainers. AlphaGo (2016): 'igo train sl' learns a policy from SGF games, 'rollout' the fast rollout "
        "policy, 'rl' improves the policy by REINFORCE against its earlier snapshots, 'value' learns to evaluate "
        "positions from games of the SL and RL policies. 'igo train zero' turns compute into playing strength from "
        "nothing: self-play actors on Ray, a replay buffer on disk, a learner, checkpoints, gating and evaluation; "
        "one machine or a Ray cluster. 'igo train distill' distils a trained Zero net into a (smaller) student.",
    ),
    Command(
        "corpus",
        "igo.corpus_cmd",
        "make an expert game corpus (GNU Go against itself on Ray) or summarise an SGF directory",
        "Generate expert games as SGF with a GTP engine (GNU Go level 10 by default) playing both colours from "
        "varied openings, in parallel on Ray; 'igo corpus stats DIR' summarises any SGF directory a trainer reads.",
    ),
    Command(
        "model",
        "igo.model_cmd",
        "list network configs, inspect, quantize, prune, average, compare or write a checkpoint",
        "Network checkpoints: 'igo model list' shows the config registry, 'igo model info PATH' a checkpoint's "
        "metadata, parameter count and sparsity, 'igo model quantize IN -o OUT' makes an int8 (or bf16/fp16) copy "
        "for CPU inference, 'igo model prune IN -o OUT' prunes weights or whole filters and retrains, 'igo model "
        "average' averages checkpoints, 'igo model compare' runs networks side by side on held-out positions, "
        "'igo model ship' installs a trained network as the default, 'igo model "
        "init --config NAME --size N -o PATH' writes a fresh network.",
    ),
    Command(
        "warmup",
        "igo.warmup_cmd",
        "compile igo's Numba kernels once, after installing (also for Ray clusters and CI)",
        "Compile every Numba kernel igo's commands use (board, search, ownership, network searches and features, "
        "rollout policy) into Numba's cache, showing each group with its time, so that no later command waits for "
        "the compiler. A second run only loads them from the cache. torch is not needed.",
    ),
    Command(
        "match",
        "igo.match_cmd",
        "play N games between two players (igo settings or any GTP command line) and report the win rate",
        "Play games between two GTP engines (igo with given settings, or a command line such as "
        "'gnugo --mode gtp --level 10'), alternating colours, with a referee for the score, a move limit and "
        "per-move timeouts; writes an SGF per game and prints each side's wins with a 95% interval.",
    ),
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="igo",
        description="igo: an AlphaGo / AlphaGo Zero Go engine in Python.",
        epilog="Run 'igo COMMAND --help' for the options of a command.",
    )
    parser.add_argument("--version", action="version", version=f"igo {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging (-v info, -vv debug)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for cmd in COMMANDS:
        p = sub.add_parser(cmd.name, help=cmd.help, description=cmd.description or cmd.help)
        importlib.import_module(cmd.module).add_arguments(p)
    return parser


def _stdout_gone() -> bool:
    """Whether stdout is a pipe whose reader has closed it (poll says POLLERR on its write end)."""
    try:
        poll = select.poll()
        poll.register(sys.stdout.fileno(), select.POLLOUT)
        return any(events & select.POLLERR for _, events in poll.poll(0))
    except (OSError, ValueError, AttributeError):  # no real file descriptor (captured), or no poll on this system
        return False


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.WARNING if args.verbose == 0 else logging.INFO if args.verbose == 1 else logging.DEBUG
    logging.basicConfig(level=level, format="%(asctime)s %(name)s %(levelname)s: %(message)s")
    if not hasattr(args, "run"):
        parser.print_help()
        return 0 if args.command is None else 2
    try:
        rc = int(args.run(args) or 0)
        sys.stdout.flush()  # here, where a reader that went away is caught below, not at exit
        return rc
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError as e:
        if not _stdout_gone():  # another pipe (an engine's, say): an error like any other
            print(f"igo {args.command}: error: {e}", file=sys.stderr)
            return 1
        # the reader of our output went away (igo model info X | head): not an error; say nothing more
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so that flushing stdout at exit does not raise again
        return 141  # 128 + SIGPIPE, as a shell tool killed by the signal
    except (ValueError, OSError) as e:
        print(f"igo {args.command}: error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
