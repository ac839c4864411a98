"""``igo gtp``: igo as a GTP v2 engine on stdin/stdout, for Sabaki, GoGui, KGS bridges or a match referee.

The protocol travels on stdout only; logging goes to stderr (``-v`` info, ``-vv`` debug with every GTP line). The
player is the Monte Carlo tree search with ``--playouts`` or ``--time`` per move — with rollouts, or with networks
(``--model``, ``--value-model``, ``--lambda``; see :class:`igo.engine.options.PlayerOptions`) — or the random baseline
with ``--player random``.

At start the kernels the player needs are loaded from Numba's cache (or compiled, on the first run after an install)
on a background thread, board kernels first, while the engine already answers: ``play`` and ``genmove`` wait only for
the kernels they use (:mod:`igo.engine.warmup`). A compile is announced on stderr, with or without ``-v``:
``igo: compiling search kernels (first run only, about N s)...`` and ``igo: kernels ready in X s``.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time

from igo.engine.coords import DEFAULT_SIZE, MAX_SIZE, MIN_SIZE
from igo.engine.options import PlayerOptions, add_player_arguments

log = logging.getLogger(__name__)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--size", type=int, default=None, help=f"board size at start, {MIN_SIZE}..{MAX_SIZE} "
                   f"(default {DEFAULT_SIZE}, or the network's size)")  # fmt: skip
    p.add_argument("--komi", type=float, default=None, help="komi at start (default: the komi the --model network "
                   "was trained at, as 'igo model info' shows it, else 7.5)")  # fmt: skip
    add_player_arguments(p)
    p.epilog = (
        "Example for Sabaki (Engines > Manage Engines): path 'igo', arguments 'gtp --size 19 --time 5' (with a "
        "network: 'gtp --model zero-9x9.safetensors --time 5'). "
        "Analysis commands: lz-analyze, kata-analyze, lz-genmove_analyze, kata-genmove_analyze, "
        "gogui-analyze_commands."
    )
    p.set_defaults(run=run)


def _warm_up(player) -> None:
    """Load (or, on a cold cache, compile) the kernels ``player`` uses on a background thread, so that the first
    ``play`` and ``genmove`` do not pay for them while the GUI waits, and say so on stderr when that compiles."""
    from igo.engine.warmup import player_steps, start_warm_up

    start = time.perf_counter()
    steps = player_steps(player)

    def done(results) -> None:
        if len(results) == len(steps):
            log.info("kernels ready in %.2f s", time.perf_counter() - start)
        else:  # the failure shows up again, with its traceback, where play uses the kernel
            log.warning("warming up the kernels stopped at %s", steps[len(results)].label)

    start_warm_up(steps, sys.stderr, done)


def run(args) -> int:
    start = time.perf_counter()
    from igo.engine.coords import check_size
    from igo.gtp.engine import GTPEngine
    from igo.nets.player import build_player, resolve_komi, resolve_size

    options = PlayerOptions.from_namespace(args)
    args.size = check_size(resolve_size(options, args.size, DEFAULT_SIZE))
    args.komi = resolve_komi(options, args.komi)
    player = build_player(options, args.size)
    _warm_up(player)  # before the engine's board: its kernels are announced too
    engine = GTPEngine(player, size=args.size, komi=args.komi)
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
