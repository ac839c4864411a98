"""The command-line options that choose and configure igo's player, shared by ``igo gtp``, ``igo play`` and the
players of ``igo match``."""

from __future__ import annotations

import argparse
import math


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def positive_float(text: str) -> float:
    value = float(text)
    if not value > 0 or not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def _fraction(text: str) -> float:
    value = float(text)
    if not 0.0 <= value < 0.5:
        raise argparse.ArgumentTypeError(f"must be in [0, 0.5), got {text}")
    return value


def add_player_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("player")
    g.add_argument(
        "--player",
        choices=("mcts", "random"),
        default="mcts",
        help="mcts: the Monte Carlo tree search (default); random: random legal moves, a baseline",
    )
    budget = g.add_mutually_exclusive_group()
    budget.add_argument(
        "--playouts", type=positive_int, default=None, help="simulations per move (default: think by time)"
    )
    budget.add_argument(
        "--time",
        type=positive_float,
        default=None,
        help="seconds per move at most (default 2, or less when the game's clock says so)",
    )
    g.add_argument("--threads", type=positive_int, default=1, help="rollout threads of the search (default 1)")
    g.add_argument(
        "--resign",
        type=_fraction,
        default=0.1,
        help="resign when the best move's win rate falls below this (0 never resigns; default 0.1)",
    )
    g.add_argument("--seed", type=int, default=None, help="random seed of the player (default: from the system)")


def build_player(args: argparse.Namespace):
    """The player the options describe."""
    if args.player == "random":
        from gtp.player import RandomPlayer

        return RandomPlayer(seed=args.seed)
    from engine.player import MCTSPlayer, PlayerConfig

    return MCTSPlayer(
        PlayerConfig(
            playouts=args.playouts,
            time=args.time,
            threads=args.threads,
            resign_threshold=args.resign,
            seed=args.seed,
        )
    )


__all__ = ["add_player_arguments", "build_player", "positive_int", "positive_float"]
