"""``igo gtp``: igo as a GTP v2 engine on stdin/stdout, for Sabaki, GoGui, KGS bridges or a match referee.

The protocol travels on stdout only; logging goes to stderr (``-v`` info, ``-vv`` debug with every GTP line). The
player is the Monte Carlo tree search with ``--playouts`` or ``--time`` per move — with rollouts, or with networks
(``--model``, ``--value-model``, ``--lambda``; see :class:`igo.engine.options.PlayerOptions`) — or the random baseline
with ``--player random``.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import threading
import time

from igo.engine.options import PlayerOptions, add_player_arguments

log = logging.getLogger(__name__)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--size", type=int, default=None, help="board size at start, 2..25 (default 19, or the network's size)"
    )
    p.add_argument("--komi", type=float, default=7.5, help="komi at start (default 7.5)")
    add_player_arguments(p)
    p.epilog = (
        "Example for Sabaki (Engines > Manage Engines): path 'igo', arguments 'gtp --size 19 --time 5' (with a "
        "network: 'gtp --model zero-9x9.safetensors --time 5'). "
        "Analysis commands: lz-analyze, kata-analyze, lz-genmove_analyze, kata-genmove_analyze, "
        "gogui-analyze_commands."
    )
    p.set_defaults(run=run)


def _warm_up(threads: int) -> None:
    """Load (or, on a cold cache, compile) the search kernels in the background, so that the first genmove does not
    pay for it while the GUI waits."""
    try:
        from igo.engine.board import Board
        from igo.engine.player import estimate_ownership
        from igo.engine.search import MCTS

        t = time.perf_counter()
        MCTS(5, 7.5, max_nodes=64, seed=0).search(Board(5), 16)
        if threads > 1:
            m = MCTS(5, 7.5, max_nodes=256, seed=0, threads=2)
            m.search(Board(5), 64)
            m.close()
        estimate_ownership(Board(5), 4, seed=0)
        log.info("search kernels ready in %.2f s", time.perf_counter() - t)
    except Exception:  # a failure here shows up again, with its traceback, at the first genmove
        log.exception("warming up the search failed")


def run(args) -> int:
    start = time.perf_counter()
    from igo.engine.coords import check_size
    from igo.gtp.engine import GTPEngine
    from igo.nets.player import build_player, resolve_size

    options = PlayerOptions.from_namespace(args)
    args.size = check_size(resolve_size(options, args.size, 19))
    player = build_player(options, args.size)
    engine = GTPEngine(player, size=args.size, komi=args.komi)
    if options.kind == "mcts":
        threading.Thread(target=_warm_up, args=(options.threads,), name="igo-warm-up", daemon=True).start()
    log.info("igo gtp ready in %.3f s: %dx%d, komi %g", time.perf_counter() - start, args.size, args.size, args.komi)
    out = sys.stdout.buffer
    sys.stdout = sys.stderr  # a stray print() must never corrupt the protocol stream
    try:
        engine.serve(sys.stdin.buffer, out)
    finally:
        sys.stdout = sys.__stdout__
    # The input thread may still be blocked reading stdin; a normal interpreter shutdown would then abort on the
    # stdin lock. Everything is answered and flushed: leave at once.
    logging.shutdown()
    sys.stderr.flush()
    os._exit(0)
