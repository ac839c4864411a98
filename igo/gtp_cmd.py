"""``igo gtp``: igo as a GTP v2 engine on stdin/stdout, for Sabaki, GoGui, KGS bridges or a match referee.

The protocol travels on stdout only; logging goes to stderr (``-v`` info, ``-vv`` debug with every GTP line). The
player is the Monte Carlo tree search with ``--playouts`` or ``--time`` per move — with rollouts, or with networks
(``--model``, ``--value-model``, ``--lambda``; see :class:`igo.engine.options.PlayerOptions`) — or the random baseline
with ``--player random``.

On 9x9 without ``--model`` (nor ``--value-model``, ``--rollout-policy``) the player is the network that ships with
igo (:mod:`igo.nets.default`; ``-v`` says which one plays), with the library's play settings and its komi;
``--model none`` plays rollouts. A GUI that then asks for another size (``boardsize``, ``loadsgf``) gets the rollout
search there, as without the network, and the network again on 9x9.

At start the kernels the player needs are loaded from Numba's cache (or compiled, on the first run after an install)
on a background thread, board kernels first, while the engine already answers: ``play`` and ``genmove`` wait only for
the kernels they use (:mod:`igo.engine.warmup`). A compile is announced on stderr, with or without ``-v``:
``igo: compiling search kernels (first run only, about N s)...`` and ``igo: kernels ready in X s``.
"""

from __future__ import annotations

import argparse
import dataclasses
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


def _default_net_engine(player, options: PlayerOptions, **kwargs):
    """The GTP engine of a player with the default network (:mod:`igo.nets.default`): on another board size
    (``boardsize``, ``loadsgf``) it plays with ``options`` without the network (``--model none``: rollouts, as igo
    did before it shipped a network), and with the network again on the network's size."""
    from igo.engine.options import NO_MODEL
    from igo.gtp.engine import GTPEngine
    from igo.nets.player import build_player

    net_size = kwargs["size"]

    class DefaultNetEngine(GTPEngine):
        def __init__(self):
            super().__init__(player, **kwargs)
            self._rollout_player = None

        def _fit_player(self, size: int) -> None:
            if size == net_size:
                chosen = player
            else:
                if self._rollout_player is None:
                    try:
                        self._rollout_player = build_player(dataclasses.replace(options, model=NO_MODEL), size)
                    except ValueError as e:  # e.g. --lambda 0 needs the network: the size stays refused
                        log.warning("no player without the network for %dx%d: %s", size, size, e)
                        return
                    log.info("%dx%d: the rollout search plays (the default network is for %dx%d)", size, size,
                             net_size, net_size)  # fmt: skip
                chosen = self._rollout_player
            if chosen is not self.player:
                self.player = chosen
                self.player.set_clock(self.clock)

        def cmd_boardsize(self, args: list[str]) -> str:
            previous = self.player
            try:
                self._fit_player(int(args[0]))
            except (IndexError, ValueError):
                pass  # the command's own checks answer
            try:
                return super().cmd_boardsize(args)
            except Exception:
                self.player = previous
                raise

        def cmd_loadsgf(self, args: list[str]) -> str:
            previous = self.player
            reply = super().cmd_loadsgf(args)
            self._fit_player(self.board.size)
            if self.player is not previous:
                self.player.new_game(self.board)
            return reply

    return DefaultNetEngine()


def run(args) -> int:
    start = time.perf_counter()
    from igo.gtp.engine import GTPEngine
    from igo.nets.player import build_player, resolve_play

    setup = resolve_play(PlayerOptions.from_namespace(args), args.size, args.komi, DEFAULT_SIZE)
    options, args.size, args.komi, default_net = setup.options, setup.size, setup.komi, setup.default_network
    player = build_player(options, args.size)
    _warm_up(player)  # before the engine's board: its kernels are announced too
    if default_net is None:
        engine = GTPEngine(player, size=args.size, komi=args.komi)
    else:
        from igo.nets.default import default_network_info, describe

        log.info("playing with %s; --model none plays rollouts", describe(default_network_info()))
        # without the network (another board size) the settings that came with it do not apply
        plain = dataclasses.replace(options, **dict.fromkeys(setup.network_play))
        engine = _default_net_engine(player, plain, size=args.size, komi=args.komi)
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
