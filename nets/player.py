"""Players built from :class:`~igo.engine.options.PlayerOptions`: the networks they name are loaded here (checkpoints,
the :class:`~igo.nets.evaluator.NetEvaluator`), the players themselves are :mod:`igo.engine.player`'s.

::

    options = PlayerOptions(playouts=800, model="zero-9x9.safetensors")
    size = resolve_size(options, None, default=19)
    player = build_player(options, size)

The commands that play (``igo gtp``, ``igo play``; ``igo match`` and ``igo tournament`` run ``igo gtp``) resolve
their options in one place, :func:`resolve_play`: the board size, the default network (the one that ships with igo,
:mod:`igo.nets.default`, on 9x9 when no network is named; ``--model none`` plays rollouts) and the komi.

torch and the checkpoint code are imported on first use, so a player without networks (``--player random``, the
rollout search) starts without them. The search threads and torch's threads are those of
:meth:`~igo.engine.options.PlayerOptions.resolved_threads`: the cores this process may use, split so that the
search and the network never oversubscribe them.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from igo.engine.options import PlayerOptions
from igo.engine.player import MCTSPlayer, Player, PlayerConfig, PolicyFunction, PolicyPlayer, RandomPlayer

if TYPE_CHECKING:
    import torch

    from .evaluator import NetEvaluator


def torch_policy(model: torch.nn.Module) -> PolicyFunction:
    """A policy net as the function :class:`~igo.engine.player.PolicyPlayer` takes: ``alphago48`` planes (numpy) in,
    float32 logits (numpy) out, on the model's device, without gradients."""
    import torch

    model.eval()

    def policy(planes: np.ndarray) -> np.ndarray:
        device = next(model.parameters()).device
        with torch.no_grad():
            return model(torch.from_numpy(planes).to(device)).float().cpu().numpy()

    return policy


def resolve_size(options: PlayerOptions, size: int | None, default: int) -> int:
    """The board size: ``size`` (``--size``), else the networks' size, else ``default``. A network made for another
    size than ``size`` is an error (its fully connected heads fix the size)."""
    sizes = set()
    for path in (options.model_path, options.value_model):
        if path:
            from .checkpoint import read_metadata

            sizes.add(read_metadata(path).board_size)
    if len(sizes) > 1:
        raise ValueError(f"--model and --value-model are for different board sizes: {sorted(sizes)}")
    if size is None:
        return sizes.pop() if sizes else default
    if sizes and size not in sizes:
        raise ValueError(f"the network is for {min(sizes)}x{min(sizes)}, but --size is {size}")
    return size


def resolve_komi(options: PlayerOptions, komi: float | None, default: float = 7.5) -> float:
    """The komi: ``komi`` (``--komi``), else the komi the networks were trained at (their metadata), else
    ``default``. Only checkpoint headers are read."""
    if komi is not None:
        return komi
    if not options.uses_networks:
        return default
    from .checkpoint import network_komi

    return network_komi(options.model_path, options.value_model, default=default)


def with_default_network(options: PlayerOptions, size: int) -> tuple[PlayerOptions, Path | None]:
    """``options`` with the default network (:func:`igo.nets.default.default_network_path`) as ``model`` when it
    applies — the search player (``--player mcts``) on a board of the default network's size with no network named
    (no ``--model``, ``--value-model`` nor ``--rollout-policy``) — and its path; else ``options`` unchanged and
    None. ``--model none`` names no network and gets none."""
    from .default import BOARD_SIZE, default_network_path

    if options.kind != "mcts" or options.model is not None or options.value_model or options.rollout_policy:
        return options, None
    if size != BOARD_SIZE:
        return options, None
    path = default_network_path()
    if path is None:
        return options, None
    return dataclasses.replace(options, model=str(path)), path


def network_play(path: str) -> dict[str, Any]:
    """The ``play`` block of the checkpoint at ``path`` (its provenance's), ``{}`` when it has none. Reads the
    header only; a bad block is a CheckpointError (a ValueError) of :func:`~igo.nets.checkpoint.read_metadata`, which
    validates the provenance (:func:`igo.nets.play_settings.check_play`)."""
    from .checkpoint import read_metadata

    return dict((read_metadata(path).provenance or {}).get("play") or {})


class PlaySetup(NamedTuple):
    """What :func:`resolve_play` decided: the player's ``options`` (``model`` set to the default network when it
    plays), the board ``size`` and ``komi``, ``default_network`` (its path, None when it does not play) and
    ``network_play``: the settings that the network's own play settings filled in (:mod:`igo.nets.play_settings`,
    ``{field: value}``; a player without the network drops them)."""

    options: PlayerOptions
    size: int
    komi: float
    default_network: Path | None
    network_play: dict


def resolve_play(options: PlayerOptions, size: int | None, komi: float | None, default_size: int) -> PlaySetup:
    """The one place where a command that plays resolves its player: the board size (:func:`resolve_size`, checked),
    then the default network (:func:`with_default_network`), then the search settings the search player's network
    ships with for those the options leave unset (:func:`igo.nets.play_settings.apply_play`: the shipped net's λ),
    then the komi (:func:`resolve_komi`: the default network's, like any Zero checkpoint's, when ``komi`` is None)."""
    from igo.engine.coords import check_size

    size = check_size(resolve_size(options, size, default_size))
    options, default = with_default_network(options, size)
    filled: dict = {}
    if options.kind == "mcts" and options.model_path:
        from .play_settings import apply_play

        options, filled = apply_play(options, network_play(options.model_path))
    return PlaySetup(options, size, resolve_komi(options, komi), default, filled)


def build_evaluator(options: PlayerOptions, size: int) -> NetEvaluator | None:
    """The network evaluator the options describe, or None without networks; torch gets the network's share of the
    cores (:meth:`~igo.engine.options.PlayerOptions.resolved_threads`)."""
    if not options.uses_networks:
        return None
    from .checkpoint import load_checkpoint
    from .evaluator import NetEvaluator

    model = value = None
    kind = "lee-value"
    if options.model_path:
        model, meta = load_checkpoint(options.model_path, board_size=size)
        if meta.kind not in ("zero", "lee-policy"):
            raise ValueError(f"--model {options.model} is a {meta.kind} net; give a zero or lee-policy net")
        kind = meta.kind
    if options.value_model:
        value, _meta = load_checkpoint(options.value_model, board_size=size, expect_kind="lee-value")
    has_value = kind == "zero" or value is not None
    _search_threads, nn_threads = options.resolved_threads(kind, has_value)
    return NetEvaluator(
        model,
        value,
        size=size,
        device=options.device,
        dtype=options.dtype,
        symmetry=options.symmetry,
        policy_temperature=options.policy_temperature,
        compile=options.compile,
        threads=nn_threads,
        seed=options.seed,
    )


def build_player(options: PlayerOptions, size: int) -> Player:
    """The player the options describe, for ``size`` x ``size`` boards (networks must be for that size)."""
    if options.kind == "random":
        return RandomPlayer(seed=options.seed)
    if options.kind == "policy":
        from .checkpoint import load_checkpoint

        model, meta = load_checkpoint(options.model_path, expect_kind="lee-policy")
        if meta.board_size != size:
            n = meta.board_size
            raise ValueError(f"--model {options.model} is for {n}x{n}, the game is {size}x{size}")
        import torch

        _search_threads, nn_threads = options.resolved_threads(meta.kind)
        if torch.get_num_threads() != nn_threads:
            torch.set_num_threads(nn_threads)
        return PolicyPlayer(torch_policy(model), size, temperature=options.move_temperature, seed=options.seed)
    evaluator = build_evaluator(options, size)
    if evaluator is None:
        search = options.search_config()
        threads, _nn_threads = options.resolved_threads()
    else:
        search = options.search_config(evaluator.kind, evaluator.has_value)
        threads, _nn_threads = options.resolved_threads(evaluator.kind, evaluator.has_value)
    rollout = None
    if options.rollout_policy:
        from .checkpoint import load_checkpoint

        rollout_model, _meta = load_checkpoint(options.rollout_policy, expect_kind="rollout")
        rollout = rollout_model.to_numpy()
    config = PlayerConfig(
        playouts=options.playouts,
        time=options.time,
        threads=threads,
        resign_threshold=options.resign,
        seed=options.seed,
        batch_size=options.batch,
        search=search,
    )
    return MCTSPlayer(config, evaluator, rollout)


__all__ = [
    "PlaySetup",
    "build_evaluator",
    "build_player",
    "resolve_komi",
    "network_play",
    "resolve_play",
    "resolve_size",
    "torch_policy",
    "with_default_network",
]
