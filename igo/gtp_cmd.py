"""``igo gtp``: igo as a GTP v2 engine on stdin/stdout, for Sabaki, GoGui, KGS bridges or a match referee.

The protocol travels on stdout only; logging goes to stderr (``-v`` info, ``-vv`` debug with every GTP line). Until
the search player arrives (issue 3) igo plays with :class:`gtp.player.RandomPlayer`, a weak baseline.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time

log = logging.getLogger(__name__)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--size", type=int, default=19, help="board size at start, 2..25 (default 19)")
    p.add_argument("--komi", type=float, default=7.5, help="komi at start (default 7.5)")
    p.add_argument("--seed", type=int, default=None, help="random seed of the player (default: from the system)")
    p.set_defaults(run=run)


def run(args) -> int:
    start = time.perf_counter()
    from engine.coords import check_size
    from gtp.engine import GTPEngine
    from gtp.player import RandomPlayer

    check_size(args.size)
    engine = GTPEngine(RandomPlayer(seed=args.seed), size=args.size, komi=args.komi)
    log.info("igo gtp ready in %.3f s: %dx%d, komi %g", time.perf_counter() - start, args.size, args.size, args.komi)
    out = sys.stdout.buffer
    sys.stdout = sys.stderr  # a stray print() must never corrupt the protocol stream
    try:
        engine.serve(sys.stdin.buffer, out)
    finally:
        sys.stdout = sys.__stdout__
    return 0
