"""``igo bench``: speed of the hot paths, measured on one core and printed (never asserted).

``igo bench mcts`` measures simulations per second of the rollout search (on one thread and on ``--threads``) and of
the tree alone (dummy evaluator), beside the raw playout rate.
``igo bench nn`` and ``igo bench search-nn`` (:mod:`igo.bench_nn`) measure network inference and the search with a
network evaluator.

``igo bench board`` measures, from the empty board:

- light random playouts per second and moves per playout (:func:`igo.engine.playout.run_playouts`);
- make/undo pairs per second inside Numba (:func:`igo.engine.playout.make_undo_loop`, positions of a random game);
- checked ``Board.play`` + ``Board.undo`` pairs per second through the Python API, for comparison.
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import sys
import time

log = logging.getLogger(__name__)


def _common_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--size", type=int, default=9, help="board size (default 9)")
    p.add_argument("--seconds", type=float, default=3.0, help="time spent on each measurement (default 3)")
    p.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    p.add_argument("--json", action="store_true", help="print one JSON object with all figures on the last line")


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="target", metavar="TARGET")
    b = sub.add_parser(
        "board",
        help="light random playouts, make/undo",
        description="Light random playouts per second and moves per playout on one core, plus make/undo per "
        "second, from the empty board.",
    )
    _common_arguments(b)
    b.set_defaults(run=run_board)
    m = sub.add_parser(
        "mcts",
        help="simulations per second of the search",
        description="Simulations per second of the rollout search on one thread and on --threads threads (and the "
        "speed-up), of the tree alone with a dummy evaluator (value 0, uniform priors, one thread), and of raw light "
        "playouts on one thread, all from the empty board, each search starting from a fresh tree. The ratio of the "
        "one-thread rollout search to the raw playouts is the share of the search's time spent playing out.",
    )
    _common_arguments(m)
    m.add_argument("--simulations", type=int, default=10_000, help="simulations per search (default 10000)")
    m.add_argument(
        "--threads",
        type=int,
        default=None,
        help="search threads, which play the rollouts, as igo gtp's --threads (default: as igo gtp, the cores this "
        "process may use, OMP_NUM_THREADS respected); with more than one the rollout search runs in batches of "
        "leaves selected with virtual loss and played out in parallel, selection and backup overlapping the rollouts",
    )
    m.add_argument(
        "--expand-after",
        type=int,
        default=None,
        help="the rollout search's expansion threshold n_thr, as igo gtp's (default: the search's, 1)",
    )
    m.add_argument(
        "--virtual-loss",
        type=int,
        default=None,
        help="the rollout search's virtual loss n_vl on several threads, as igo gtp's (default: the search's, 1)",
    )
    m.set_defaults(run=run_mcts)
    from .bench_nn import add_parsers

    add_parsers(sub)
    p.set_defaults(run=lambda args: (p.print_help(), 2)[1])


def _timed_loop(step, seconds: float) -> tuple[int, float, list]:
    """Call ``step(n)`` with growing chunks until ``seconds`` have passed; return (count, elapsed, results)."""
    chunk = 1
    done = 0
    results = []
    start = time.perf_counter()
    while True:
        t0 = time.perf_counter()
        results.append(step(chunk))
        done += chunk
        dt = time.perf_counter() - t0
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return done, elapsed, results
        if dt < 0.05:
            chunk *= 2


def _say(args):
    return (lambda *a: print(*a, file=sys.stderr)) if args.json else print


def run_mcts(args) -> int:
    from igo.engine import board_kernels as K
    from igo.engine import playout as P
    from igo.engine.board import Board
    from igo.engine.coords import check_size
    from igo.engine.cores import core_budget
    from igo.engine.rng import make_rng
    from igo.engine.search import MCTS, SearchConfig

    size = check_size(args.size)
    threads = core_budget() if args.threads is None else args.threads
    if args.seconds <= 0 or args.simulations < 1 or threads < 1:
        raise ValueError("--seconds, --simulations and --threads must be positive")
    if args.expand_after is not None and args.expand_after < 1:
        raise ValueError(f"--expand-after must be at least 1, got {args.expand_after}")
    if args.virtual_loss is not None and args.virtual_loss < 0:
        raise ValueError(f"--virtual-loss must be at least 0, got {args.virtual_loss}")
    tuned = {"n_thr": args.expand_after, "n_vl": args.virtual_loss}
    config = SearchConfig(**{k: v for k, v in tuned.items() if v is not None})
    say = _say(args)
    board = Board(size)
    # the tree alone: uniform priors (no heuristic prior), value 0 — the cost of selection, expansion and backup
    # room for every simulation's node with all its moves: the bench measures searches, not a full tree
    room = {"max_nodes": args.simulations + 1, "max_edges": (args.simulations + 1) * (size * size + 1)}
    tree_search = MCTS(size, 7.5, SearchConfig(heuristic_prior=False), seed=args.seed, **room)
    searches = {1: MCTS(size, 7.5, config, seed=args.seed, threads=1, **room)}
    if threads > 1:
        searches[threads] = MCTS(size, 7.5, config, seed=args.seed, threads=threads, **room)
    state = K.new_state(size, K.KO_SIMPLE)
    scratch = K.copy_state(state, history=False)
    rng = make_rng(args.seed)
    t0 = time.perf_counter()
    tree_search.search(board, 10, rollouts=False)
    for search in searches.values():
        search.search(board, 64)
    P.run_playouts(state, scratch, rng, 2, 3 * size * size)
    say(
        f"igo bench mcts: {size}x{size}, {args.simulations} simulations per search, {threads} search thread"
        f"{'s' if threads > 1 else ''}, n_thr {config.n_thr}, n_vl {config.n_vl}"
    )
    say(f"  kernels ready in {time.perf_counter() - t0:.2f} s")
    figures = {}
    runs = [("tree only (dummy evaluator)", tree_search, False), ("rollout search, one thread", searches[1], True)]
    if threads > 1:
        runs.append((f"rollout search, {threads} threads", searches[threads], True))
    for label, search, rollouts in runs:

        def one_search(n, search=search, rollouts=rollouts):
            for _ in range(n):
                search.reset()
                search.search(board, args.simulations, rollouts=rollouts)
            return n

        count, elapsed, _ = _timed_loop(one_search, args.seconds)
        sps = count * args.simulations / elapsed
        figures[label] = sps
        say(f"  {label:28s} {sps:12,.0f} simulations/s   {1e6 / sps:8.2f} us/simulation")
    one = figures[runs[1][0]]
    sps = figures[runs[-1][0]]
    if threads > 1:
        say(f"  {threads} threads / one thread     {sps / one:12.2f}x")
    count, elapsed, _ = _timed_loop(lambda n: P.run_playouts(state, scratch, rng, n, 3 * size * size), args.seconds)
    pps = count / elapsed
    for search in searches.values():
        search.close()
    say(f"  raw playouts, one thread     {pps:12,.0f} /s   (one-thread rollout search: {one / pps:.0%} of it)")
    if args.json:
        print(
            json.dumps(
                {
                    "benchmark": "mcts",
                    "size": size,
                    "threads": threads,
                    "expand_after": config.n_thr,
                    "virtual_loss": config.n_vl,
                    "simulations_per_search": args.simulations,
                    "simulations_per_sec": round(sps, 1),
                    "simulations_per_sec_one_thread": round(one, 1),
                    "threads_speedup": round(sps / one, 3),
                    "tree_simulations_per_sec": round(figures[runs[0][0]], 1),
                    "playouts_per_sec": round(pps, 1),
                    "rollout_search_vs_playouts": round(one / pps, 3),
                }
            )
        )
    return 0


def run_board(args) -> int:
    from igo.engine import board_kernels as K
    from igo.engine import playout as P
    from igo.engine.board import Board
    from igo.engine.coords import check_size
    from igo.engine.rng import make_rng

    size = check_size(args.size)
    if args.seconds <= 0:
        raise ValueError("--seconds must be positive")
    say = _say(args)

    t0 = time.perf_counter()
    state = K.new_state(size, K.KO_SIMPLE)
    scratch = K.copy_state(state, history=False)
    rng = make_rng(args.seed)
    max_moves = 3 * size * size
    P.run_playouts(state, scratch, rng, 2, max_moves)
    undo = K.new_undo_stack(size, 1)
    P.make_undo_loop(scratch, undo, rng, 2)
    warmup = time.perf_counter() - t0
    say(f"igo bench board: {size}x{size}, {args.seconds:g} s per measurement, one core")
    say(f"  kernels ready in {warmup:.2f} s (compiled on the first run, then loaded from the Numba cache)")

    # playouts
    count, elapsed, res = _timed_loop(lambda n: P.run_playouts(state, scratch, rng, n, max_moves), args.seconds)
    pps = count / elapsed
    mpp = sum(r[1] for r in res) / count
    say(f"  light playouts      {pps:12,.0f} /s   {mpp:6.1f} moves/playout   {1e6 / pps:8.2f} us/playout")
    say(f"  moves in playouts   {pps * mpp:12,.0f} /s")

    # make/undo inside Numba, from positions of a random game
    positions = []
    s = K.new_state(size, K.KO_SIMPLE)
    for _ in range(size * size):
        positions.append(K.copy_state(s, history=False))
        p = P.random_move(s, rng)
        if p < 0:
            break
        K.place(s, p, s.meta[K.M_TO_MOVE])
    pos_i = [0]

    def make_undo(n):
        st = positions[pos_i[0] % len(positions)]
        pos_i[0] += 1
        return P.make_undo_loop(st, undo, rng, n)

    count, elapsed, _ = _timed_loop(make_undo, args.seconds)
    mups = count / elapsed
    say(f"  make+undo (Numba)   {mups:12,.0f} /s   {1e9 / mups:8.1f} ns/pair")

    # checked play + undo through the Python API
    board = Board(size)
    moves_list = []
    b2 = Board(size, ko_rule="simple")
    while len(moves_list) < min(40, size * size // 2):
        legal = b2.legal_moves()
        if not legal:
            break
        m = legal[len(moves_list) * 7919 % len(legal)]
        b2.play(m)
        moves_list.append(m)

    def py_play_undo(n):
        k = 0
        while k < n:
            for m in moves_list:
                board.play(m)
            for _ in moves_list:
                board.undo()
            k += len(moves_list)
        return k

    count, elapsed, res = _timed_loop(lambda n: py_play_undo(max(n, 1)), min(args.seconds, 2.0))
    done = sum(res)
    pyups = done / elapsed
    say(f"  play+undo (Python)  {pyups:12,.0f} /s   {1e6 / pyups:8.2f} us/pair (checked, superko history)")

    if args.json:
        print(
            json.dumps(
                {
                    "benchmark": "board",
                    "size": size,
                    "seconds": args.seconds,
                    "playouts_per_sec": round(pps, 1),
                    "moves_per_playout": round(mpp, 2),
                    "us_per_playout": round(1e6 / pps, 3),
                    "make_undo_per_sec": round(mups, 1),
                    "python_play_undo_per_sec": round(pyups, 1),
                    "warmup_sec": round(warmup, 3),
                    "cpu": platform.processor() or platform.machine(),
                    "python": platform.python_version(),
                }
            )
        )
    return 0
