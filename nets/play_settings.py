"""The play settings that ship with a network: the search options it was measured with.

A network's strength is measured with some search settings — the shipped 9x9 net wins most with rollouts mixed into
its value (λ = 0.5), not with the Zero default λ = 0. ``igo model ship`` records them in the provenance block as
``"play": {"lambda": 0.5}`` (keys: :data:`PLAY_KEYS`, the ``igo gtp`` flags without their dashes), and a player
that plays with that network takes every setting its command line leaves unset from there
(:func:`igo.nets.player.resolve_play`, :func:`igo.nets.player.network_play`); a flag given on the command line wins.

::

    check_play({"lambda": 0.5})                   # {"lambda": 0.5}; ValueError for an unknown key or a bad value
    options, filled = apply_play(PlayerOptions(model="net.safetensors"), {"lambda": 0.5})
    # options.lam == 0.5, filled == {"lam": 0.5}; with PlayerOptions(lam=0.0, ...) nothing is filled

The block comes from a file, so it is validated like any hostile input: unknown keys and values of the wrong type
or out of range are errors (the same checks as the flags, :class:`~igo.engine.options.PlayerOptions`).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from igo.engine.options import PlayerOptions

PLAY_KEYS: dict[str, str] = {
    "lambda": "lam",
    "c_puct": "c_puct",
    "c_puct_base": "c_puct_base",
    "fpu_reduction": "fpu_reduction",
    "lcb": "lcb",
    "expand_after": "expand_after",
    "virtual_loss": "virtual_loss",
    "fill_eyes": "fill_eyes",
    "policy_temperature": "policy_temperature",
}
"""The keys of a ``play`` block and the :class:`~igo.engine.options.PlayerOptions` field each one sets."""

_BOOLEAN = ("lcb", "fill_eyes")


def check_play(play: Any) -> dict[str, Any]:
    """``play`` when it is a valid block of play settings (a JSON object of :data:`PLAY_KEYS`), else ValueError
    ``play: ...``."""
    if not isinstance(play, dict):
        raise ValueError(f"play: must be a JSON object of search settings, got {type(play).__name__}")
    unknown = sorted(str(k)[:40] for k in play if k not in PLAY_KEYS)
    if unknown:
        raise ValueError(f"play: unknown key {unknown[0]!r} (known: {', '.join(PLAY_KEYS)})")
    for key, value in play.items():
        if key in _BOOLEAN:
            if not isinstance(value, bool):
                raise ValueError(f"play: {key!r} must be true or false, got {str(value)[:40]!r}")
        elif isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise ValueError(f"play: {key!r} must be a number, got {str(value)[:40]!r}")
    try:  # the flags' own checks (ranges, integers), with a network so that λ < 1 is allowed
        PlayerOptions(model="network", **{PLAY_KEYS[k]: v for k, v in play.items()})
    except ValueError as e:
        raise ValueError(f"play: {e}") from None
    return play


def apply_play(options: PlayerOptions, play: dict[str, Any] | None) -> tuple[PlayerOptions, dict[str, Any]]:
    """``options`` with every setting of ``play`` (:func:`check_play`) that they leave unset (None), and those
    settings as ``{field: value}`` — what a fallback without the network must drop again."""
    if not play:
        return options, {}
    filled = {}
    for key, value in check_play(play).items():
        field = PLAY_KEYS[key]
        if getattr(options, field) is None:
            filled[field] = value
    return (dataclasses.replace(options, **filled) if filled else options), filled


__all__ = ["PLAY_KEYS", "apply_play", "check_play"]
