"""``igo bench nn`` and ``igo bench search-nn``: network inference and the search with a network evaluator.

``igo bench nn --config zero-b6c64 --size 9 --batch 1,8,64,256``: positions per second of the network alone (input
planes already on the host; host→device copy, forward, device→host copy of the outputs included) for each batch size,
plus the cost of the feature planes per position. Random weights: speed does not depend on them.

``igo bench search-nn --config zero-b6c64 --size 9``: simulations per second of the search with a
:class:`~igo.nets.evaluator.NetEvaluator` (cache off), with the time split into feature planes, the network and the rest
(tree, batching, Python), so that the overhead around the network is visible.

Threads as in ``igo gtp``: ``--nn-threads`` are torch's threads, ``--threads`` (search-nn) the search threads that play
the rollouts; by default they split the cores this process may use (:func:`igo.engine.cores.split_threads`).
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from igo.engine.limits import MAX_THREADS
from igo.engine.options import bounded_int, positive_int


def _batches(text: str) -> list[int]:
    try:
        values = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated batch sizes, got {text!r}") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"batch sizes must be positive, got {text!r}")
    return values


def _net_arguments(p: argparse.ArgumentParser, default_config: str, nn_threads_help: str, seconds: float = 3.0) -> None:
    p.add_argument("--config", default=default_config, help=f"network config (default {default_config})")
    p.add_argument("--model", default=None, help="a checkpoint instead of --config, with its own size and config "
                   "(default: none, random weights)")  # fmt: skip
    p.add_argument("--size", type=int, default=9, help="board size (default 9)")
    p.add_argument("--device", default="auto", help="auto (default), cpu, cuda, cuda:N")
    p.add_argument(
        "--dtype",
        default="auto",
        choices=("auto", "fp32", "bf16", "fp16"),
        help="auto (default): bf16 on a GPU or a CPU with AMX/AVX512-BF16, else fp32",
    )
    p.add_argument(
        "--channels-last",
        choices=("auto", "yes", "no"),
        default="auto",
        help="memory format (default auto: channels-last with bf16 or CUDA)",
    )
    p.add_argument(
        "--compile",
        choices=("default", "reduce-overhead", "max-autotune"),
        default=None,
        help="torch.compile the network in this mode (default: not compiled)",
    )
    p.add_argument("--nn-threads", type=bounded_int(MAX_THREADS), default=None, help=nn_threads_help)
    p.add_argument("--seconds", type=float, default=seconds, help=f"time per measurement (default {seconds:g})")
    p.add_argument("--seed", type=int, default=1, help="random seed of the weights and the search (default 1)")
    p.add_argument("--json", action="store_true", help="print one JSON object with all figures on the last line")


def add_parsers(sub) -> None:
    nn = sub.add_parser(
        "nn",
        help="network positions per second by batch size",
        description="Positions per second of a network (random weights) by batch size, and the cost of its "
        "feature planes.",
    )
    _net_arguments(nn, "zero-b6c64", "torch threads (default: the cores this process may use, OMP_NUM_THREADS "
                   "respected)")  # fmt: skip
    nn.add_argument("--batch", type=_batches, default=[1, 8, 32, 128], help="batch sizes, e.g. 1,8,64 (default "
                    "1,8,32,128)")  # fmt: skip
    nn.set_defaults(run=run_nn)
    sn = sub.add_parser(
        "search-nn",
        help="search simulations per second with a network evaluator",
        description="Simulations per second of the search with a network evaluator (random weights, cache off) "
        "from the empty board, and where the time goes: feature planes, network, the rest (tree and Python).",
    )
    _net_arguments(sn, "zero-b6c64", "torch threads of the network evaluator (default: by the split, as igo gtp: "
                   "all the cores this process may use with λ = 0, the other half when rollouts run beside the "
                   "network)")  # fmt: skip
    sn.add_argument("--simulations", type=int, default=800, help="simulations per search (default 800)")
    sn.add_argument("--batch", type=int, default=None, help="leaves per network call (default 8 CPU, 32 GPU)")
    sn.add_argument("--lambda", dest="lam", type=float, default=None, help="rollout weight (default 0 for Zero nets, "
                    "1 for a policy net)")  # fmt: skip
    sn.add_argument("--expand-after", type=positive_int, default=1, help="expand a leaf after this many visits, as "
                    "igo gtp's (default 1; AlphaGo used 40): the policy runs only for the leaves expanded, and with "
                    "λ = 1 the others need no network at all")  # fmt: skip
    sn.add_argument("--threads", type=bounded_int(MAX_THREADS), default=None, help="search threads, which play "
                    "the rollouts when λ > 0 (default: by the split, as igo gtp: half the cores this process may use "
                    "with λ > 0, 1 with λ = 0)")  # fmt: skip
    sn.set_defaults(run=run_search_nn)
    sp = sub.add_parser(
        "selfplay",
        help="AlphaGo Zero self-play throughput: games/hour and positions/s",
        description="Self-play as 'igo train zero' plays it (many games at once, their leaves in one network "
        "batch, Dirichlet noise, temperature, tree reuse, resignation) for --seconds, in this process or in "
        "--actors Ray actors; prints positions/s, simulations/s and games/hour. A network with random weights "
        "plays short games (it passes early): give a trained --model for realistic game lengths.",
    )
    _net_arguments(sp, "zero-b6c64", "torch threads: of this process (default: the cores it may use, "
                   "OMP_NUM_THREADS respected), or with --actors of each actor (default 1)", seconds=60.0)  # fmt: skip
    sp.add_argument("--simulations", type=int, default=200, help="simulations per move (default 200)")
    sp.add_argument("--fast-simulations", type=int, default=0, help="playout cap randomisation: fast searches "
                    "of this many simulations, not recorded (default 0: off)")  # fmt: skip
    sp.add_argument("--full-search-fraction", type=float, default=0.25, help="with --fast-simulations: the share "
                    "of full searches (default 0.25)")  # fmt: skip
    sp.add_argument("--games-per-actor", type=int, default=32, help="games played at once (default 32)")
    sp.add_argument("--leaves-per-game", type=int, default=8, help="leaves per game per batch (default 8)")
    sp.add_argument("--actors", type=int, default=0, help="Ray actors (default 0: in this process)")
    sp.add_argument("--komi", type=float, default=7.5, help="komi (default 7.5)")
    sp.add_argument("--evaluator", choices=("net", "uniform"), default="net", help="net: the network (random "
                    "weights or --model); uniform: uniform priors over the legal moves and value 0, no torch work, so "
                    "the figures are the search and self-play bookkeeping alone (in this process only) "
                    "(default net)")  # fmt: skip
    sp.set_defaults(run=run_selfplay)


def _say(args):
    return (lambda *a: print(*a, file=sys.stderr)) if args.json else print


def _model(args):
    import torch

    from igo.nets.checkpoint import load_checkpoint
    from igo.nets.config import get_config
    from igo.nets.models import build_model

    if args.model:
        model, meta = load_checkpoint(args.model)
        return model, meta.config, meta.board_size
    torch.manual_seed(args.seed)
    cfg = get_config(args.config)
    return build_model(cfg, args.size), cfg, args.size


def _evaluator(args, model, size, threads=None, **kw):
    from igo.nets.evaluator import NetEvaluator

    cl = None if args.channels_last == "auto" else args.channels_last == "yes"
    value = None
    if model.config.kind == "lee-value":
        model, value = None, model
    return NetEvaluator(
        model, value, size=size, device=args.device, dtype=args.dtype, channels_last=cl, compile=args.compile,
        threads=threads or args.nn_threads, seed=args.seed, **kw,
    )  # fmt: skip


class UniformEvaluator:
    """Uniform priors over the legal moves (pass included) and value 0, no network: ``igo bench selfplay
    --evaluator uniform`` measures the search alone. ``feature_set`` (a name) sets the history the search provides
    and the planes self-play records, as the network's would. Its ``stats.network_s`` stays 0, so all of its time
    counts as time outside the network."""

    def __init__(self, feature_set_name: str):
        from types import SimpleNamespace

        from igo.engine.features import feature_set

        self._fs = feature_set(feature_set_name)
        self.history_length = self._fs.history
        self.stats = SimpleNamespace(network_s=0.0)
        self.reads_states = False  # self-play may leave the board states out of the batch

    def evaluate(self, batch):
        import numpy as np

        legal = batch.legal[: batch.count]
        priors = legal / np.maximum(legal.sum(axis=1, keepdims=True), 1)
        return priors.astype(np.float32), np.zeros(batch.count, np.float32)


def _sync(ev) -> None:
    import torch

    if ev.device.type == "cuda":
        torch.cuda.synchronize(ev.device)


def _positions(size: int, count: int, seed: int):
    """``count`` mid-game positions of random games (each a Board)."""
    import numpy as np

    from igo.engine.board import Board

    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        b = Board(size)
        for _ in range(int(rng.integers(size, 2 * size * size // 3))):
            moves = b.legal_moves()
            if not moves:
                break
            b.play(moves[int(rng.integers(len(moves)))])
        out.append(b)
    return out


def run_nn(args) -> int:
    import numpy as np
    import torch

    from igo.engine.features import FeatureEncoder, feature_set
    from igo.nets.models import build_model, parameter_count

    say = _say(args)
    model, cfg, size = _model(args)
    ev = _evaluator(args, model, size, cache_size=0, symmetry="none", max_batch=max(args.batch))
    fs = feature_set(cfg.feature_set)
    n2 = size * size
    quantization = getattr(model, "quantization", None)  # an int8 file (igo.nets.quantize.QuantizedNet)
    if quantization is not None:  # its parameters are packed int8 weights, not torch parameters; its kernels int8
        with torch.device("meta"):  # the float network's shape, for its parameter count
            params = parameter_count(build_model(cfg, size))
        what = f"{cfg.kind}, int8 weights, {params:,} parameters"
        dtype = "int8"
        where = f"{ev.device} int8 kernels ({quantization.get('engine', 'x86')})"
    else:
        params, dtype = parameter_count(model), str(ev.dtype).replace("torch.", "")
        what = f"{cfg.kind}, {params:,} parameters"
        where = f"{ev.device} {dtype}, channels-last {ev.channels_last}"
    say(
        f"igo bench nn: {cfg.name} ({what}) on {size}x{size}, {where}, compile {args.compile or 'no'}, torch threads "
        f"{torch.get_num_threads()}"
    )
    rng = np.random.default_rng(args.seed)
    figures = {}
    for b in args.batch:
        planes = (rng.random((b, fs.planes, size, size)) < 0.3).astype(np.float32)
        legal = np.ones((b, n2 + 1), np.bool_)
        sym = np.zeros(b, np.int64)
        for _ in range(3):  # warm-up (and compilation)
            ev.evaluate_planes(planes, legal, sym)
        _sync(ev)

        def step(n, planes=planes, legal=legal, sym=sym):
            for _ in range(n):
                ev.evaluate_planes(planes, legal, sym)
            _sync(ev)
            return n

        count, elapsed = _timed(step, args.seconds)
        pps = count * b / elapsed
        figures[b] = pps
        say(f"  batch {b:5d}   {pps:12,.0f} positions/s   {1e3 * elapsed / count:9.2f} ms/batch")
    # feature planes on real positions
    enc = FeatureEncoder(fs, size)
    boards = _positions(size, 16, args.seed)
    for bd in boards[:2]:
        enc.encode_board(bd)
    t0 = time.perf_counter()
    reps = 0
    while time.perf_counter() - t0 < min(args.seconds, 2.0):
        for bd in boards:
            enc.encode_board(bd)
        reps += len(boards)
    feat_us = 1e6 * (time.perf_counter() - t0) / reps
    say(f"  feature planes ({fs.name}, {fs.planes} planes): {feat_us:.1f} us/position (Board API, mid-game positions)")
    if args.json:
        print(
            json.dumps(
                {
                    "benchmark": "nn",
                    "config": cfg.name,
                    "size": size,
                    "device": str(ev.device),
                    "parameters": params,
                    "dtype": dtype,
                    "channels_last": ev.channels_last,
                    "compile": args.compile,
                    "positions_per_sec": {str(b): round(v, 1) for b, v in figures.items()},
                    "feature_us_per_position": round(feat_us, 2),
                }
            )
        )
    return 0


def _timed(step, seconds: float) -> tuple[int, float]:
    chunk, done = 1, 0
    start = time.perf_counter()
    while True:
        t0 = time.perf_counter()
        done += step(chunk)
        dt = time.perf_counter() - t0
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return done, elapsed
        if dt < 0.2:
            chunk *= 2


def run_search_nn(args) -> int:
    from igo.engine.board import Board
    from igo.engine.cores import core_budget, split_threads
    from igo.engine.search import MCTS, SearchConfig

    say = _say(args)
    model, cfg, size = _model(args)
    zero = cfg.kind == "zero"
    has_value = cfg.kind in ("zero", "lee-value")
    lam = args.lam if args.lam is not None else (0.0 if zero else 1.0 if not has_value else 0.5)
    threads, nn_threads = split_threads(
        core_budget(), networks=True, rollouts=lam > 0, threads=args.threads, nn_threads=args.nn_threads
    )
    ev = _evaluator(args, model, size, threads=nn_threads, cache_size=0)
    fields = {"lam": lam, "n_thr": args.expand_after}
    config = SearchConfig.zero(dirichlet_weight=0.0, **fields) if zero else SearchConfig(**fields)
    search = MCTS(
        size, 7.5, config, evaluator=ev, threads=threads, batch_size=args.batch, max_nodes=args.simulations + 64,
        seed=args.seed,
    )  # fmt: skip
    board = Board(size)
    search.search(board, 2 * search._batch_size)  # warm-up: kernels, first forward passes
    _sync(ev)
    say(
        f"igo bench search-nn: {cfg.name} on {size}x{size}, {ev.device} {str(ev.dtype).replace('torch.', '')}, "
        f"λ = {lam:g}, expansion after {args.expand_after}, {search._batch_size} leaves per call, "
        f"{args.simulations} simulations per search, "
        f"{threads} search thread{'s' if threads > 1 else ''}, {nn_threads} torch thread{'s' if nn_threads > 1 else ''}"
    )
    ev.stats.reset()

    def step(n):
        for _ in range(n):
            search.reset()
            search.search(board, args.simulations)
        return n

    count, elapsed = _timed(step, args.seconds)
    search.close()
    sims = count * args.simulations
    sps = sims / elapsed
    st = ev.stats
    rest = max(0.0, elapsed - st.feature_s - st.network_s)
    say(f"  {sps:10,.0f} simulations/s   {1e6 / sps:9.1f} us/simulation")
    say(f"  per simulation: features {1e6 * st.feature_s / sims:8.1f} us   network {1e6 * st.network_s / sims:8.1f} us"
        f"   tree + Python {1e6 * rest / sims:8.1f} us   ({rest / elapsed:.0%} of the time outside the network "
        f"and features)")  # fmt: skip
    leaves = max(1, st.positions)
    policy = st.policy_rows / max(1, st.rows) if cfg.kind == "lee-policy" else 1.0
    say(f"  leaves evaluated {st.positions:,}: {st.skipped / leaves:.0%} needed no network, the policy ran for "
        f"{policy:.0%} of those that did")  # fmt: skip
    if args.json:
        print(
            json.dumps(
                {
                    "benchmark": "search-nn",
                    "config": cfg.name,
                    "size": size,
                    "device": str(ev.device),
                    "lambda": lam,
                    "batch": search._batch_size,
                    "threads": threads,
                    "nn_threads": nn_threads,
                    "simulations_per_sec": round(sps, 1),
                    "us_features": round(1e6 * st.feature_s / sims, 2),
                    "us_network": round(1e6 * st.network_s / sims, 2),
                    "us_rest": round(1e6 * rest / sims, 2),
                    "expand_after": args.expand_after,
                    "leaves_skipped_share": round(st.skipped / leaves, 4),
                }
            )
        )
    return 0


def run_selfplay(args) -> int:
    import numpy as np

    from igo.selfplay.selfplay import SelfPlay, SelfPlayConfig

    say = _say(args)
    model, cfg, size = _model(args)
    spc = SelfPlayConfig(size=size, komi=args.komi, simulations=args.simulations,
                         parallel_games=args.games_per_actor, leaves_per_game=args.leaves_per_game,
                         fast_simulations=args.fast_simulations,
                         full_search_fraction=args.full_search_fraction)  # fmt: skip
    # simulations per move played: with playout cap randomisation, the expected mix of full and fast searches
    per_move = args.simulations
    if args.fast_simulations > 0:
        f = args.full_search_fraction
        per_move = f * args.simulations + (1 - f) * args.fast_simulations
    where = "this process" if args.actors <= 0 else f"{args.actors} Ray actors"
    say(f"igo bench selfplay: {cfg.name} on {size}x{size}, {args.simulations} simulations/move, "
        f"{args.games_per_actor} games x {args.leaves_per_game} leaves per batch, {where}, "
        f"{args.seconds:g} s")  # fmt: skip
    warm = min(10.0, args.seconds / 6)
    if args.evaluator == "uniform" and args.actors > 0:
        raise SystemExit("--evaluator uniform runs in this process only (give --actors 0)")
    if args.evaluator == "uniform" and cfg.kind != "zero":
        raise SystemExit(f"--evaluator uniform needs a zero config, {cfg.name} is a {cfg.kind} net")
    if args.actors <= 0:
        uniform = args.evaluator == "uniform"
        ev = UniformEvaluator(cfg.feature_set) if uniform else _evaluator(args, model, size, cache_size=0)
        sp = SelfPlay(ev, spc, seed=args.seed)
        sp.play(seconds=warm)
        before = sp.stats.to_dict()
        t0 = time.perf_counter()
        games = sp.play(seconds=args.seconds)
        elapsed = time.perf_counter() - t0
        after = sp.stats.to_dict()
        stats = {k: after[k] - before[k] for k in after}
        device = "none (uniform)" if args.evaluator == "uniform" else str(ev.device)
    else:
        import ray

        from igo.engine.cores import affinity_cores
        from igo.nets.config import config_to_dict
        from igo.nets.weights import model_to_numpy
        from igo.selfplay.actors import selfplay_actor_class
        from igo.selfplay.cluster import init_ray

        started = init_ray(None, max(args.actors, affinity_cores()))
        try:
            weights = model_to_numpy(model)
            ref = ray.put(weights)
            cls = selfplay_actor_class()
            dev = "cpu" if args.device == "auto" else args.device
            actors = [cls.options(num_cpus=1).remote(config_to_dict(cfg), spc.to_dict(), ref, 0, seed=args.seed + i,
                                                     device=dev, threads=args.nn_threads or 1)
                      for i in range(args.actors)]  # fmt: skip
            ray.get([a.play.remote(None, None, warm) for a in actors])
            t0 = time.perf_counter()
            outs = ray.get([a.play.remote(None, None, args.seconds) for a in actors])
            elapsed = time.perf_counter() - t0
        finally:
            if started:
                ray.shutdown()
        games = [g for o in outs for g in o["games"]]
        stats = {k: sum(o["stats"][k] for o in outs) for k in outs[0]["stats"]}
        device = dev
    positions = stats["positions"]
    lengths = [g["meta"]["moves"] for g in games]
    mean_len = float(np.mean(lengths)) if lengths else float("nan")
    # positions are counted when their game finishes; the simulations of every move made are the steady figure
    moves_per_s = stats["simulations"] / per_move / elapsed
    pos_per_s = positions / elapsed
    gph = len(games) / elapsed * 3600
    gph_steady = moves_per_s / mean_len * 3600 if lengths else float("nan")
    # the self-play loop runs on one thread (per actor): its seconds outside the network's calls (tree, batching,
    # feature planes, move bookkeeping, Python) per leaf evaluated are that thread's CPU time per leaf
    leaves = max(stats["evaluations"], 1)
    us_outside = 1e6 * max(0.0, stats["total_s"] - stats["network_s"]) / leaves
    say(f"  {stats['simulations'] / elapsed:10,.0f} simulations/s   {moves_per_s:8.1f} moves/s   "
        f"{pos_per_s:8.1f} positions/s (finished games)")  # fmt: skip
    say(f"  {len(games)} games finished in {elapsed:.0f} s: {gph:,.0f} games/hour; mean length {mean_len:.1f} moves "
        f"-> {gph_steady:,.0f} games/hour at steady state (moves/s / mean length)")  # fmt: skip
    say(f"  network {stats['eval_s'] / max(elapsed * max(1, args.actors), 1e-9):.0%} of the time, "
        f"{stats['evaluations'] / max(stats['eval_calls'], 1):.0f} positions per call; "
        f"resigned {stats['resigned']}, black wins {stats['black_wins']}, draws {stats['draws']}")  # fmt: skip
    say(f"  {us_outside:.1f} us per leaf outside the network (tree, features, Python); "
        f"{stats['tree_full_events']} expansions refused by a full tree")  # fmt: skip
    if args.json:
        print(json.dumps({"benchmark": "selfplay", "config": cfg.name, "size": size, "device": device,
                          "actors": args.actors, "simulations": args.simulations, "seconds": round(elapsed, 2),
                          "fast_simulations": args.fast_simulations,
                          "full_search_fraction": args.full_search_fraction if args.fast_simulations else None,
                          "simulations_per_sec": round(stats["simulations"] / elapsed, 1),
                          "moves_per_sec": round(moves_per_s, 2), "positions_per_sec": round(pos_per_s, 2),
                          "games": len(games), "games_per_hour": round(gph, 1),
                          "mean_moves": round(mean_len, 1) if lengths else None,
                          "games_per_hour_steady": round(gph_steady, 1) if lengths else None,
                          "us_per_leaf_outside_network": round(us_outside, 2),
                          "tree_full_events": int(stats["tree_full_events"])}))  # fmt: skip
    return 0
