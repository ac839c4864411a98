"""What a player is built from: :class:`PlayerOptions`, one typed object with the defaults, its command-line side
(:func:`add_player_arguments`, :meth:`PlayerOptions.from_namespace`) and its way back to flags
(:meth:`PlayerOptions.to_argv`, the ``igo gtp`` arguments of a player in a subprocess).

``igo gtp``, ``igo play``, the tournament and the Zero trainer's evaluation all describe igo's player with this
object; :func:`igo.nets.player.build_player` turns it into a player (it loads networks, so it lives in ``nets``).

The defaults that depend on the networks are decided here too (:meth:`PlayerOptions.resolved_lam`,
:meth:`PlayerOptions.search_config`, :meth:`PlayerOptions.resolved_threads`): λ is 0 with a Zero net, 0.5 with a policy
and a value net, 1 otherwise; c_puct and the other search parameters are :class:`~igo.engine.search.SearchConfig`'s
(AlphaGo Zero's for a Zero net); the search threads and the network's threads split the cores this process may use
(:func:`~igo.engine.cores.split_threads`).

This module imports nothing heavy, so that building a command-line parser stays quick.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass

from .cores import core_budget, split_threads
from .limits import MAX_BATCH, MAX_PLAYOUTS, MAX_THREADS

PLAYER_KINDS = ("mcts", "random", "policy")
SYMMETRIES = ("random", "all", "none")
DTYPES = ("auto", "fp32", "bf16", "fp16")
COMPILE_MODES = ("default", "reduce-overhead", "max-autotune")
DEFAULT_MOVE_TIME = 2.0
"""Seconds per move of the search player when neither ``playouts`` nor ``time`` is given (and no game clock)."""
NO_MODEL = "none"
"""``--model none``: no network at all, where a default network would otherwise play (the shipped 9x9 network,
:mod:`igo.nets.default`); ``PlayerOptions.model`` keeps it (lower case) so that it passes on to ``igo gtp``."""


def positive_int(text: str) -> int:
    """An argparse type: an integer of at least 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def bounded_int(maximum: int):
    """An argparse type: an integer from 1 to ``maximum``."""

    def parse(text: str) -> int:
        value = positive_int(text)
        if value > maximum:
            raise argparse.ArgumentTypeError(f"must be at most {maximum}, got {value}")
        return value

    parse.__name__ = "int"  # argparse names the type in its "invalid int value" message
    return parse


def positive_float(text: str) -> float:
    """An argparse type: a finite number above 0."""
    value = float(text)
    if not value > 0 or not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def _fraction(text: str) -> float:
    value = float(text)
    if not 0.0 <= value < 0.5:
        raise argparse.ArgumentTypeError(f"must be in [0, 0.5), got {text}")
    return value


def _unit(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be in [0, 1], got {text}")
    return value


def _nonnegative(text: str) -> float:
    value = float(text)
    if not (value >= 0.0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text}")
    return value


MAX_VIRTUAL_LOSS = 1000
"""The largest ``--virtual-loss`` (a sanity bound: already 1000 lost visits per simulation in flight repel every
other simulation from a move)."""


def _virtual_loss(text: str) -> int:
    value = int(text)
    if not 0 <= value <= MAX_VIRTUAL_LOSS:
        raise argparse.ArgumentTypeError(f"must be in 0..{MAX_VIRTUAL_LOSS}, got {value}")
    return value


def retire_option(p: argparse.ArgumentParser, flag: str, instead: str) -> None:
    """Add ``flag`` as a hidden option that no longer exists: giving it (with or without a value) is an argparse
    error that says ``instead``, so that an old command line never silently means something else."""

    class Retired(argparse.Action):
        def __call__(self, parser, namespace, values, option_string=None):
            parser.error(f"{option_string} is not an option of this command: {instead}")

    p.add_argument(
        flag, nargs="?", action=Retired, dest=argparse.SUPPRESS, default=argparse.SUPPRESS, help=argparse.SUPPRESS
    )


@dataclass(frozen=True)
class PlayerOptions:
    """Everything igo's player is built from; the defaults are those of ``igo gtp``.

    ``kind``: ``mcts`` (the tree search), ``random`` (random legal moves, a baseline) or ``policy`` (the move of an
    AlphaGo policy net, ``model``, without search, sampled at ``move_temperature``). The search's budget is
    ``playouts`` simulations or ``time`` seconds per move (neither: :data:`DEFAULT_MOVE_TIME`, or less by the game's
    clock); ``threads`` the search threads (they play the rollouts) and ``nn_threads`` torch's threads of the network
    evaluator (None: split the cores this process may use, see :meth:`resolved_threads`); ``resign`` the win rate
    below which it resigns (0 never); ``seed`` its random seed (None: from the system; a search on several threads
    is not reproducible).

    Networks: ``model`` (a Zero net or an AlphaGo policy net; None: the default network where there is one, see
    :func:`igo.nets.player.resolve_play`; :data:`NO_MODEL` ``"none"``: no network), ``value_model`` (an AlphaGo
    value net), ``rollout_policy`` (AlphaGo's fast rollout policy); ``lam`` the weight of rollouts in a leaf's
    value, ``c_puct`` the exploration constant, ``expand_after`` the visits before a leaf is expanded and
    ``virtual_loss`` the lost visits of a simulation in flight (None: by the networks, see
    :meth:`search_config`); ``fpu_reduction``, ``lcb``, ``c_puct_base`` and ``fill_eyes`` the search's first-play
    urgency, move choice by lower confidence bound, growing c_puct and moves into own eyes (None:
    :class:`~igo.engine.search.SearchConfig`'s defaults);
    ``policy_temperature`` the softmax temperature of the priors (None: the evaluator's default); ``symmetry``,
    ``device``, ``dtype``, ``batch`` (leaves per network call, None: the evaluator's) and ``compile`` (a
    ``torch.compile`` mode, None: off) configure the evaluator."""

    kind: str = "mcts"
    move_temperature: float = 1.0
    playouts: int | None = None
    time: float | None = None
    threads: int | None = None
    nn_threads: int | None = None
    resign: float = 0.1
    seed: int | None = None
    model: str | None = None
    value_model: str | None = None
    rollout_policy: str | None = None
    lam: float | None = None
    c_puct: float | None = None
    expand_after: int | None = None
    virtual_loss: int | None = None
    fpu_reduction: float | None = None
    lcb: bool | None = None
    c_puct_base: float | None = None
    fill_eyes: bool | None = None
    policy_temperature: float | None = None
    symmetry: str = "random"
    device: str = "auto"
    dtype: str = "auto"
    batch: int | None = None
    compile: str | None = None

    def __post_init__(self):
        if isinstance(self.model, str) and self.model.strip().lower() == NO_MODEL:
            object.__setattr__(self, "model", NO_MODEL)

        def bad(flag: str, why: str) -> ValueError:
            return ValueError(f"{flag}: {why}")

        def check_int(flag: str, value, low: int = 1, high: int | None = None) -> None:
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < low):
                raise bad(flag, f"must be an integer of at least {low}, got {value!r}")
            if value is not None and high is not None and value > high:
                raise bad(flag, f"must be at most {high}, got {value!r}")

        def check_positive(flag: str, value) -> None:
            if value is not None and not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
                raise bad(flag, f"must be a positive number, got {value!r}")

        for flag, value, choices in (
            ("--player", self.kind, PLAYER_KINDS),
            ("--symmetry", self.symmetry, SYMMETRIES),
            ("--dtype", self.dtype, DTYPES),
            ("--compile", self.compile, (None, *COMPILE_MODES)),
        ):
            if value not in choices:
                raise bad(flag, f"must be one of {', '.join(c for c in choices if c)}, got {value!r}")
        check_int("--playouts", self.playouts, high=MAX_PLAYOUTS)
        check_int("--threads", self.threads, high=MAX_THREADS)
        check_int("--nn-threads", self.nn_threads, high=MAX_THREADS)
        check_int("--expand-after", self.expand_after)
        check_int("--virtual-loss", self.virtual_loss, low=0, high=MAX_VIRTUAL_LOSS)
        check_int("--batch", self.batch, high=MAX_BATCH)
        check_positive("--time", self.time)
        check_positive("--c-puct", self.c_puct)
        for flag, value, high in (
            ("--fpu-reduction", self.fpu_reduction, 2.0),
            ("--c-puct-base", self.c_puct_base, None),
        ):
            if value is not None and not (
                isinstance(value, int | float) and not isinstance(value, bool) and 0.0 <= value <= (high or math.inf)
            ):
                raise bad(flag, f"must be a number in [0, {high or 'inf'}], got {value!r}")
        if self.lcb is not None and not isinstance(self.lcb, bool):
            raise bad("--lcb", f"must be true or false, got {self.lcb!r}")
        if self.fill_eyes is not None and not isinstance(self.fill_eyes, bool):
            raise bad("--fill-eyes", f"must be true or false, got {self.fill_eyes!r}")
        check_positive("--policy-temperature", self.policy_temperature)
        if self.seed is not None and (isinstance(self.seed, bool) or not isinstance(self.seed, int)):
            raise bad("--seed", f"must be an integer, got {self.seed!r}")
        if self.playouts is not None and self.time is not None:
            raise bad("--playouts", "give --playouts or --time, not both")
        if not (isinstance(self.resign, int | float) and 0.0 <= self.resign < 0.5):
            raise bad("--resign", f"must be in [0, 0.5), got {self.resign!r}")
        if self.lam is not None and not (isinstance(self.lam, int | float) and 0.0 <= self.lam <= 1.0):
            raise bad("--lambda", f"must be in [0, 1], got {self.lam!r}")
        if not (isinstance(self.move_temperature, int | float) and self.move_temperature >= 0):
            raise bad("--move-temperature", f"must not be negative, got {self.move_temperature!r}")
        if not isinstance(self.device, str) or not self.device:
            raise bad("--device", f"must be auto, cpu, cuda or cuda:N, got {self.device!r}")
        if self.kind == "random" and self.uses_networks:
            raise ValueError("--player random plays without networks; drop --model/--value-model")
        if self.kind == "policy" and (not self.model_path or self.value_model):
            raise ValueError("--player policy plays the move of one AlphaGo policy net: give --model only")
        if self.lam is not None and self.lam < 1.0 and self.model == NO_MODEL and not self.value_model:
            # without --model the default network may still play (checked when the player is built)
            raise ValueError("--lambda below 1 needs a value network (--model with a Zero net, or --value-model)")

    @property
    def uses_networks(self) -> bool:
        """True when a policy/Zero net or a value net is given (the rollout policy is not a network here)."""
        return bool(self.model_path or self.value_model)

    @property
    def model_path(self) -> str | None:
        """The checkpoint ``model`` names: None when none is given or it is :data:`NO_MODEL`."""
        return None if self.model == NO_MODEL else self.model

    # --- the defaults that depend on the networks ---------------------------------------------------------------

    def resolved_lam(self, net_kind: str | None = None, has_value: bool = False) -> float:
        """λ for these options with a network evaluator of kind ``net_kind`` (``zero``, ``lee-policy``,
        ``lee-value``, or None without networks) that has a value output or not: ``lam`` when given, else 0 with a
        Zero net, 0.5 with a value net, 1 otherwise. Below 1 without a value output is an error."""
        if self.lam is not None:
            lam = float(self.lam)
        else:
            lam = 0.0 if net_kind == "zero" else 0.5 if has_value else 1.0
        if lam < 1.0 and not has_value:
            if net_kind is None:
                raise ValueError("--lambda below 1 needs a value network (--model with a Zero net, or --value-model)")
            raise ValueError("--lambda below 1 needs a value network: add --value-model")
        return lam

    def search_config(self, net_kind: str | None = None, has_value: bool = False):
        """The :class:`~igo.engine.search.SearchConfig` of the search player: AlphaGo Zero's search without root noise
        for a Zero net, AlphaGo's otherwise, with λ from :meth:`resolved_lam` and ``c_puct`` / ``expand_after`` /
        ``virtual_loss`` and the other search fields when given."""
        from .search import SearchConfig

        fields: dict = {"lam": self.resolved_lam(net_kind, has_value)}
        if self.c_puct is not None:
            fields["c_puct"] = float(self.c_puct)
        if self.expand_after is not None:
            fields["n_thr"] = self.expand_after
        if self.virtual_loss is not None:
            fields["n_vl"] = self.virtual_loss
        if self.fpu_reduction is not None:
            fields["fpu_reduction"] = float(self.fpu_reduction)
        if self.lcb is not None:
            fields["lcb_choice"] = self.lcb
        if self.c_puct_base is not None:
            fields["c_puct_base"] = float(self.c_puct_base)
        if self.fill_eyes is not None:
            fields["fill_eyes"] = self.fill_eyes
        if net_kind == "zero":
            return SearchConfig.zero(dirichlet_weight=0.0, **fields)
        return SearchConfig(**fields)

    def resolved_threads(
        self, net_kind: str | None = None, has_value: bool = False, budget: int | None = None
    ) -> tuple[int, int]:
        """``(search threads, network threads)`` for these options with a network evaluator of kind ``net_kind``
        (None without networks) that has a value output or not, given ``budget`` cores (None:
        :func:`~igo.engine.cores.core_budget`): ``threads`` / ``nn_threads`` when given, the rest by
        :func:`~igo.engine.cores.split_threads` — the whole budget to the search without networks, to the network
        with λ = 0 (a Zero net) or without search (``--player policy``), half each when rollouts (λ > 0) run while
        the network evaluates."""
        budget = core_budget() if budget is None else budget
        if self.kind == "policy":
            networks, rollouts = True, False
        elif self.kind == "random":
            networks, rollouts = False, False
        else:
            networks = net_kind is not None
            rollouts = not networks or self.resolved_lam(net_kind, has_value) > 0
        return split_threads(
            budget, networks=networks, rollouts=rollouts, threads=self.threads, nn_threads=self.nn_threads
        )

    def cores_wanted(self, budget: int | None = None, net_kind: str | None = None) -> int:
        """The CPUs one game of this player needs, e.g. the Ray CPUs a tournament reserves for it; at most
        ``budget`` (the CPUs there are) when given. With neither ``threads`` nor ``nn_threads`` given: 1 (the game's
        process then splits the one core it is given: Ray sets ``OMP_NUM_THREADS`` to a task's CPUs, which
        :func:`~igo.engine.cores.core_budget` respects). Otherwise what the given threads use at once, a missing
        one counting 1: the search threads plus the network's when rollouts (λ > 0) run while the network evaluates,
        the larger of the two otherwise. ``net_kind`` (``zero``, ``lee-policy``; None: not known) tells whether a
        ``--model`` alone is a Zero net (λ = 0); unknown, rollouts are assumed."""
        if self.kind == "random" or (self.threads is None and self.nn_threads is None):
            need = 1
        elif self.kind == "policy":
            need = self.nn_threads or 1
        elif not self.uses_networks:
            need = self.threads or 1
        else:
            if self.lam is not None:
                rollouts = self.lam > 0
            elif self.value_model:
                rollouts = True
            else:
                rollouts = net_kind != "zero"
            search, nn = self.threads or 1, self.nn_threads or 1
            need = search + nn if rollouts else max(search, nn)
        return need if budget is None else max(1, min(need, budget))

    # --- flags ----------------------------------------------------------------------------------------------------

    def to_argv(self) -> list[str]:
        """The ``igo gtp`` flags that give these options (only those that differ from the defaults), e.g.
        ``PlayerOptions(playouts=800, resign=0.05).to_argv() == ["--playouts", "800", "--resign", "0.05"]``."""
        argv: list[str] = []
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if value == f.default:
                continue
            if isinstance(value, bool):
                argv.append(_FLAGS[f.name] if value else "--no-" + _FLAGS[f.name][2:])
                continue
            argv += [_FLAGS[f.name], str(value)]
        return argv

    @classmethod
    def from_namespace(cls, ns: argparse.Namespace) -> PlayerOptions:
        """The options from arguments parsed by a parser that :func:`add_player_arguments` set up."""
        return cls(**{f.name: getattr(ns, f.name) for f in dataclasses.fields(cls)})

    @classmethod
    def from_argv(cls, argv: Sequence[str]) -> PlayerOptions:
        """The options from ``igo gtp`` player flags such as ``["--playouts", "800"]``; an unknown flag or a bad
        value is a ValueError that names it."""
        parser = _RaisingParser(prog="igo gtp", add_help=False)
        add_player_arguments(parser)
        return cls.from_namespace(parser.parse_args(list(argv)))


_FLAGS = {
    "kind": "--player",
    "lam": "--lambda",
    **{
        name: "--" + name.replace("_", "-")
        for name in (
            "move_temperature", "playouts", "time", "threads", "nn_threads", "resign", "seed", "model", "value_model",
            "rollout_policy", "c_puct", "expand_after", "policy_temperature", "symmetry", "device", "dtype", "batch",
            "compile", "fpu_reduction", "lcb", "c_puct_base", "virtual_loss", "fill_eyes",
        )
    },
}  # fmt: skip
"""The flag of each field of :class:`PlayerOptions`."""


class _RaisingParser(argparse.ArgumentParser):
    def error(self, message: str):
        raise ValueError(f"bad player options: {message}")


def add_player_arguments(p: argparse.ArgumentParser) -> None:
    """Add the player's options (groups ``player`` and ``networks``) to ``p``; read them back with
    :meth:`PlayerOptions.from_namespace`. The defaults are :class:`PlayerOptions`'s."""
    d = PlayerOptions()
    g = p.add_argument_group("player")
    g.add_argument(
        "--player",
        dest="kind",
        choices=PLAYER_KINDS,
        default=d.kind,
        help="mcts: the Monte Carlo tree search (default); random: random legal moves, a baseline; policy: the move "
        "of an AlphaGo policy net (--model) without search, sampled at --move-temperature",
    )
    g.add_argument(
        "--move-temperature",
        type=float,
        default=d.move_temperature,
        help="with --player policy: 1 samples from the net's softmax as in the paper (default), 0 plays its best move",
    )
    budget = g.add_mutually_exclusive_group()
    budget.add_argument(
        "--playouts",
        type=bounded_int(MAX_PLAYOUTS),
        default=d.playouts,
        help=f"simulations per move (default: think by time; at most {MAX_PLAYOUTS:,}); the search also stops when "
        "its tree is full",
    )
    budget.add_argument(
        "--time",
        type=positive_float,
        default=d.time,
        help=f"seconds per move at most (default {DEFAULT_MOVE_TIME:g}, or less when the game's clock says so)",
    )
    g.add_argument(
        "--threads",
        type=bounded_int(MAX_THREADS),
        default=d.threads,
        help="search threads, which play the rollouts (default: the cores this process may use, OMP_NUM_THREADS "
        "respected, without networks; half of them when rollouts run beside a network; 1 with a Zero net; at most "
        f"{MAX_THREADS}); with --seed, only --threads 1 replays a game move for move",
    )
    g.add_argument(
        "--resign",
        type=_fraction,
        default=d.resign,
        help=f"resign when the best move's win rate falls below this (0 never resigns; default {d.resign:g})",
    )
    g.add_argument("--seed", type=int, default=d.seed, help="random seed of the player (default: from the system)")
    n = p.add_argument_group(
        "networks",
        "Play with neural networks (checkpoints written by 'igo model init' or the trainers). An AlphaGo Zero net "
        "gives priors and values (λ = 0); an AlphaGo policy net gives priors, and with --value-model a value net "
        "evaluates the leaves, mixed with rollouts by --lambda: 0 value net only, 1 rollouts only, 0.5 AlphaGo's mix.",
    )
    n.add_argument(
        "--model",
        metavar="PATH",
        help="checkpoint of a Zero net, or of an AlphaGo SL/RL policy net; 'none': no network, the search plays "
        "rollouts (default: on 9x9 the network that ships with igo, 'igo model info --default', when neither "
        "--value-model nor --rollout-policy is given; rollouts on other sizes)",
    )
    n.add_argument(
        "--value-model", metavar="PATH", help="checkpoint of an AlphaGo value net (lee-value; default: none)"
    )
    n.add_argument(
        "--rollout-policy",
        metavar="PATH",
        help="checkpoint of AlphaGo's fast rollout policy (pattern weights): playouts follow it instead of the light "
        "random policy (default: none, light random playouts)",
    )
    n.add_argument(
        "--lambda",
        dest="lam",
        type=_unit,
        default=d.lam,
        help="weight of rollouts in a leaf's value, 0..1 (default: the network's own play setting when it ships one, "
        "as igo's 9x9 net does; else 0 with a Zero net, 0.5 with a policy and a value net, 1 with a policy net alone)",
    )
    n.add_argument(
        "--c-puct", type=positive_float, default=d.c_puct, help="exploration constant (default 1.5 Zero, 5 AlphaGo)"
    )
    n.add_argument(
        "--expand-after",
        "--expand-threshold",
        dest="expand_after",
        type=positive_int,
        default=d.expand_after,
        help="visits of a leaf before it is expanded, n_thr (AlphaGo: 40; default 1: at once)",
    )
    n.add_argument(
        "--virtual-loss",
        type=_virtual_loss,
        default=d.virtual_loss,
        help="lost visits counted for each simulation in flight through a move while batches of leaves are "
        "selected (threads or a network), n_vl; 0 none (default 1: it beat AlphaGo's 3 at equal simulations, with "
        "rollouts on 2 threads and with a network)",
    )
    n.add_argument(
        "--fpu-reduction",
        type=_nonnegative,
        default=d.fpu_reduction,
        help="first-play urgency as Leela Zero: an unvisited move's value is the node's value minus this times the "
        "square root of the visited moves' priors, in [-1, 1] units (default: off, an unvisited move counts as a draw)",
    )
    n.add_argument(
        "--lcb",
        action=argparse.BooleanOptionalAction,
        default=d.lcb,
        help="play the move of highest lower confidence bound of the win rate among those with at least 10%% of the "
        "most visited move's visits, as Leela Zero and KataGo; --no-lcb: the most visited (default: the most visited)",
    )
    n.add_argument(
        "--fill-eyes",
        action=argparse.BooleanOptionalAction,
        default=d.fill_eyes,
        help="search moves that fill the player's own single-point eyes (default: --no-fill-eyes, they are left out "
        "of the tree as they are out of the rollouts; with a weak network the search otherwise fills its eyes once "
        "the opponent has passed)",
    )
    n.add_argument(
        "--c-puct-base",
        type=_nonnegative,
        default=d.c_puct_base,
        help="grow c_puct with the node's visits N as AlphaZero, c = c_puct + log((1 + N + base) / base) "
        "(AlphaZero: 19652; default 0, a constant c_puct)",
    )
    n.add_argument(
        "--policy-temperature",
        type=positive_float,
        default=d.policy_temperature,
        help="softmax temperature β of the priors (default 1 for Zero nets, 0.67 for AlphaGo policy nets)",
    )
    n.add_argument(
        "--symmetry",
        choices=SYMMETRIES,
        default=d.symmetry,
        help="symmetry of each evaluation: a random one of 8 (default), the mean of all 8, or none",
    )
    n.add_argument("--device", default=d.device, help=f"{d.device} (CUDA when present, default), cpu, cuda or cuda:N")
    n.add_argument(
        "--dtype",
        choices=DTYPES,
        default=d.dtype,
        help=f"{d.dtype} (default): bf16 on a GPU or on a CPU with AMX/AVX512-BF16, else fp32",
    )
    n.add_argument(
        "--batch",
        type=bounded_int(MAX_BATCH),
        default=d.batch,
        help=f"leaves per network call (default 8 on a CPU, 32 on a GPU; at most {MAX_BATCH})",
    )
    n.add_argument(
        "--nn-threads",
        type=bounded_int(MAX_THREADS),
        default=d.nn_threads,
        help="torch threads of the network evaluator (default: by the split: all the cores this process may use "
        "with a Zero net, the other half when rollouts run beside the network; at most "
        f"{MAX_THREADS})",
    )
    n.add_argument(
        "--compile",
        choices=COMPILE_MODES,
        default=d.compile,
        help="compile the nets with torch.compile in this mode (reduce-overhead uses CUDA graphs): slower start, "
        "faster play on a GPU (default: not compiled)",
    )


__all__ = [
    "COMPILE_MODES",
    "DEFAULT_MOVE_TIME",
    "DTYPES",
    "NO_MODEL",
    "PLAYER_KINDS",
    "PlayerOptions",
    "SYMMETRIES",
    "add_player_arguments",
    "bounded_int",
    "positive_float",
    "positive_int",
    "retire_option",
]
