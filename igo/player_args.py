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
        choices=("mcts", "random", "policy"),
        default="mcts",
        help="mcts: the Monte Carlo tree search (default); random: random legal moves, a baseline; policy: the move "
        "of an AlphaGo policy net (--model) without search, sampled at --move-temperature",
    )
    g.add_argument(
        "--move-temperature",
        type=float,
        default=1.0,
        help="with --player policy: 1 samples from the net's softmax as in the paper (default), 0 plays its best move",
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
    n = p.add_argument_group(
        "networks",
        "Play with neural networks (checkpoints written by 'igo model init' or the trainers). An AlphaGo Zero net "
        "gives priors and values (λ = 0); an AlphaGo policy net gives priors, and with --value-model a value net "
        "evaluates the leaves, mixed with rollouts by --lambda: 0 value net only, 1 rollouts only, 0.5 AlphaGo's mix.",
    )
    n.add_argument("--model", metavar="PATH", help="checkpoint of a Zero net, or of an AlphaGo SL/RL policy net")
    n.add_argument("--value-model", metavar="PATH", help="checkpoint of an AlphaGo value net (lee-value)")
    n.add_argument(
        "--rollout-policy",
        metavar="PATH",
        help="checkpoint of AlphaGo's fast rollout policy (pattern weights): playouts follow it instead of the light "
        "random policy",
    )
    n.add_argument(
        "--lambda",
        dest="lam",
        type=_unit,
        default=None,
        help="weight of rollouts in a leaf's value, 0..1 (default: 0 with a Zero net, 0.5 with a policy and a value "
        "net, 1 with a policy net alone)",
    )
    n.add_argument(
        "--c-puct", type=positive_float, default=None, help="exploration constant (default 1.5 Zero, 5 AlphaGo)"
    )
    n.add_argument(
        "--expand-after", type=positive_int, default=None, help="visits of a leaf before it is expanded (default 1)"
    )
    n.add_argument(
        "--policy-temperature",
        type=positive_float,
        default=None,
        help="softmax temperature β of the priors (default 1 for Zero nets, 0.67 for AlphaGo policy nets)",
    )
    n.add_argument(
        "--symmetry",
        choices=("random", "all", "none"),
        default="random",
        help="symmetry of each evaluation: a random one of 8 (default), the mean of all 8, or none",
    )
    n.add_argument("--device", default="auto", help="auto (CUDA when present, default), cpu, cuda or cuda:N")
    n.add_argument(
        "--dtype",
        choices=("auto", "fp32", "bf16", "fp16"),
        default="auto",
        help="auto (default): bf16 on a GPU or on a CPU with AMX/AVX512-BF16, else fp32",
    )
    n.add_argument(
        "--batch", type=positive_int, default=None, help="leaves per network call (default 8 on a CPU, 32 on a GPU)"
    )
    n.add_argument(
        "--compile",
        choices=("default", "reduce-overhead", "max-autotune"),
        default=None,
        help="torch.compile the nets (reduce-overhead uses CUDA graphs); slower start, faster play on a GPU",
    )


def _unit(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be in [0, 1], got {text}")
    return value


def uses_networks(args: argparse.Namespace) -> bool:
    return bool(getattr(args, "model", None) or getattr(args, "value_model", None))


def resolve_size(args: argparse.Namespace, default: int) -> int:
    """The board size: ``--size``, else the networks' size, else ``default``. A network made for another size than
    ``--size`` is an error (its fully connected heads fix the size)."""
    sizes = set()
    if uses_networks(args):
        from igo.nets.checkpoint import read_metadata

        for path in (args.model, args.value_model):
            if path:
                sizes.add(read_metadata(path).board_size)
        if len(sizes) > 1:
            raise ValueError(f"--model and --value-model are for different board sizes: {sorted(sizes)}")
    if args.size is None:
        return sizes.pop() if sizes else default
    if sizes and args.size not in sizes:
        raise ValueError(f"the network is for {min(sizes)}x{min(sizes)}, but --size is {args.size}")
    return args.size


def build_evaluator(args: argparse.Namespace, size: int):
    """The network evaluator the options describe and the search settings that go with it, or (None, None)."""
    if not uses_networks(args):
        if getattr(args, "lam", None) is not None and args.lam < 1.0:
            raise ValueError("--lambda below 1 needs a value network (--model with a Zero net, or --value-model)")
        return None, None
    from igo.engine.mcts import SearchConfig
    from igo.nets.checkpoint import load_checkpoint
    from igo.nets.evaluator import NetEvaluator

    model = value = None
    if args.model:
        model, meta = load_checkpoint(args.model, board_size=size)
        if meta.kind not in ("zero", "lee-policy"):
            raise ValueError(f"--model {args.model} is a {meta.kind} net; give a zero or lee-policy net")
    if args.value_model:
        value, meta = load_checkpoint(args.value_model, board_size=size, expect_kind="lee-value")
    ev = NetEvaluator(
        model,
        value,
        size=size,
        device=args.device,
        dtype=args.dtype,
        symmetry=args.symmetry,
        policy_temperature=args.policy_temperature,
        compile=args.compile,
        seed=args.seed,
    )
    zero = ev.kind == "zero"
    if args.lam is not None:
        lam = args.lam
    else:
        lam = 0.0 if zero else 0.5 if ev.has_value else 1.0
    if lam < 1.0 and not ev.has_value:
        raise ValueError("--lambda below 1 needs a value network: add --value-model")
    fields = {"lam": lam}
    if args.c_puct is not None:
        fields["c_puct"] = args.c_puct
    if args.expand_after is not None:
        fields["n_thr"] = args.expand_after
    search = SearchConfig.zero(dirichlet_weight=0.0, **fields) if zero else SearchConfig(**fields)
    return ev, search


def build_player(args: argparse.Namespace, size: int | None = None):
    """The player the options describe (``size``: the board size, needed with networks)."""
    if args.player == "random":
        if uses_networks(args):
            raise ValueError("--player random plays without networks; drop --model/--value-model")
        from igo.gtp.player import RandomPlayer

        return RandomPlayer(seed=args.seed)
    if args.player == "policy":
        if not getattr(args, "model", None) or getattr(args, "value_model", None):
            raise ValueError("--player policy plays the move of one AlphaGo policy net: give --model only")
        from igo.nets.checkpoint import load_checkpoint
        from igo.selfplay.policy_games import PolicyNetPlayer

        model, meta = load_checkpoint(args.model, expect_kind="lee-policy")
        if size is not None and meta.board_size != size:
            n = meta.board_size
            raise ValueError(f"--model {args.model} is for {n}x{n}, the game is {size}x{size}")
        return PolicyNetPlayer(model, temperature=args.move_temperature, seed=args.seed)
    from igo.engine.player import MCTSPlayer, PlayerConfig

    evaluator, search = build_evaluator(args, size or 19)
    fields = {}
    if search is not None:
        fields["search"] = search
    elif getattr(args, "lam", None) is not None or getattr(args, "c_puct", None) or getattr(args, "expand_after", None):
        from igo.engine.mcts import SearchConfig

        fields["search"] = SearchConfig(
            lam=1.0,
            c_puct=args.c_puct or 5.0,
            n_thr=args.expand_after or 1,
        )
    rollout = None
    if getattr(args, "rollout_policy", None):
        from igo.nets.checkpoint import load_checkpoint

        model, _meta = load_checkpoint(args.rollout_policy, expect_kind="rollout")
        rollout = model.to_numpy()
    return MCTSPlayer(
        PlayerConfig(
            playouts=args.playouts,
            time=args.time,
            threads=args.threads,
            resign_threshold=args.resign,
            seed=args.seed,
            batch_size=getattr(args, "batch", None),
            **fields,
        ),
        evaluator,
        rollout,
    )


__all__ = [
    "add_player_arguments",
    "build_player",
    "build_evaluator",
    "resolve_size",
    "uses_networks",
    "positive_int",
    "positive_float",
]
