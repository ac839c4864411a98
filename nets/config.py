"""Typed network configurations and the registry of named ones (``zero-b6c64``, ``lee-policy-192``, ...).

A configuration is a frozen dataclass that says everything needed to build a network except the board size, which is
given when the model is built (:func:`igo.nets.models.build_model`) and stored next to the config in a checkpoint. Four
kinds:

- ``zero`` (:class:`ZeroConfig`): AlphaGo Zero ResNet, policy (with pass) and value heads; features ``zeroH``; its
  tower of basic, pre-activation or bottleneck residual blocks, or of the variants (WideResNet, PyramidNet,
  MobileNetV2 blocks), optionally pruned (``mid_channels``);
- ``lee-policy`` (:class:`LeePolicyConfig`): AlphaGo (2016) SL/RL policy net, no pass output; ``alphago48``;
- ``lee-value`` (:class:`LeeValueConfig`): AlphaGo (2016) value net; ``alphago49``;
- ``rollout`` (:class:`RolloutConfig`): AlphaGo's fast rollout (or tree) policy, a linear softmax over patterns.

``kind`` is a class attribute (not a dataclass field); :func:`config_to_dict` writes it next to the fields and
:func:`config_from_dict` dispatches on it, checking every field's name and type. This module does not import torch.

Sizes are bounded so that a config read from a file cannot ask for an absurd network: depth (``blocks``, ``layers``)
at most :data:`MAX_DEPTH` (1000; the largest registered net has 40 blocks), widths (channels, filters, hidden units) at
most :data:`MAX_WIDTH` (65536) and ``first_kernel`` at most :data:`MAX_KERNEL` (37). :func:`config_depth` names the
repeated unit of a config, which a checkpoint reader compares with the number of tensors in the file before building
anything (every block or layer has tensors of its own). :func:`printable` escapes control characters in text taken
from a file before it is printed or put in an error message.
"""

from __future__ import annotations

import dataclasses
import logging
import types
import typing
from dataclasses import dataclass
from typing import Any, ClassVar

logger = logging.getLogger(__name__)

BLOCK_KINDS = ("basic", "preact", "bottleneck", "wide", "pyramid", "mobile")
DEFAULT_EXPANSION = 6  # MobileNetV2's expansion factor
MID_CHANNEL_BLOCKS = ("basic", "preact")  # the block kinds whose inner width mid_channels sets
MAX_HISTORY = 16
MAX_DEPTH = 1000
MAX_WIDTH = 65536
MAX_KERNEL = 37
MAX_NAME = 200


def printable(text: object) -> str:
    """``str(text)`` with every non-printable character (ANSI escapes, other control characters, bidi overrides,
    newlines) written as a Python escape such as ``\\x1b``; printable text comes back unchanged."""
    s = str(text)
    if s.isprintable():
        return s
    return "".join(c if c.isprintable() else ascii(c)[1:-1] for c in s)


def _check_name(name: object) -> None:
    if not isinstance(name, str) or not name:
        raise ValueError(f"name must be a non-empty string, got {name!r}")
    if len(name) > MAX_NAME:
        raise ValueError(f"name must be at most {MAX_NAME} characters, got {len(name)}")


def _check_int(field: str, value: object, minimum: int = 1, maximum: int | None = None) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{field} must be an int, got {value!r}")
    if value < minimum or (maximum is not None and value > maximum):
        bounds = f">= {minimum}" if maximum is None else f"in {minimum}..{maximum}"
        raise ValueError(f"{field} must be {bounds}, got {value}")


@dataclass(frozen=True)
class ZeroConfig:
    """AlphaGo Zero residual network (:class:`igo.nets.zero.ZeroNet`).

    ``blocks`` residual blocks of ``channels`` channels, of kind ``block``:

    - ``basic`` (two 3x3 convs, the paper's block);
    - ``preact`` (pre-activation: BN-ReLU before each conv);
    - ``bottleneck`` (1x1 reduce to ``bottleneck_channels``, default ``channels // 2``, 3x3, 1x1 expand);
    - ``wide`` (WideResNet: pre-activation blocks ``widen`` times as wide, ``channels * widen`` channels; a 1x1
      projection in the first block takes the stem's ``channels`` to that width);
    - ``pyramid`` (PyramidNet: pre-activation-style blocks whose width grows by ``alpha / blocks`` per block, from
      ``channels`` to ``channels + alpha``, zero-padded shortcuts);
    - ``mobile`` (MobileNetV2 inverted residuals: 1x1 expand by ``expansion``, default 6, depthwise 3x3, 1x1
      project).

    :mod:`igo.nets.zero` says more about each. No kind ever changes the board's resolution: every point keeps its
    own features up to the policy logits. ``tower_width`` is the number of channels the heads read.

    Input: ``history`` positions of own and opponent stones plus the colour to move, ``2 * history + 1`` planes.
    Heads as in the paper: ``policy_filters`` 1x1 filters then a linear layer to ``N*N + 1`` logits;
    ``value_filters`` 1x1 filters, a hidden layer of ``value_hidden`` units and a tanh output.

    ``mid_channels`` (``basic`` and ``preact`` blocks only; None: ``channels`` everywhere) gives each block's inner
    width, the channels between its two 3x3 convs, one entry per block: what structured (filter) pruning produces
    by removing output filters of a block's first conv and the matching input channels of its second, which keeps
    every residual shape. A list (as JSON stores it) is turned into a tuple.

    A field that only one block kind uses (``bottleneck_channels``, ``mid_channels``, ``widen``, ``alpha``,
    ``expansion``) must keep its default for the other kinds, so that a config never says what its network is not.
    Every width a config implies (``channels * widen``, ``channels + alpha``, ``channels * expansion``) is at most
    :data:`MAX_WIDTH`."""

    kind: ClassVar[str] = "zero"

    name: str
    blocks: int
    channels: int
    block: str = "basic"
    history: int = 8
    policy_filters: int = 2
    value_filters: int = 1
    value_hidden: int = 256
    bottleneck_channels: int | None = None
    mid_channels: tuple[int, ...] | None = None
    widen: int = 1
    alpha: int = 0
    expansion: int | None = None

    def __post_init__(self) -> None:
        _check_name(self.name)
        _check_int("blocks", self.blocks, 1, MAX_DEPTH)
        _check_int("channels", self.channels, 1, MAX_WIDTH)
        if self.block not in BLOCK_KINDS:
            raise ValueError(f"block must be one of {', '.join(BLOCK_KINDS)}, got {self.block!r}")
        _check_int("history", self.history, 1, MAX_HISTORY)
        _check_int("policy_filters", self.policy_filters, 1, MAX_WIDTH)
        _check_int("value_filters", self.value_filters, 1, MAX_WIDTH)
        _check_int("value_hidden", self.value_hidden, 1, MAX_WIDTH)
        if self.bottleneck_channels is not None:
            _check_int("bottleneck_channels", self.bottleneck_channels, 1, MAX_WIDTH)
            if self.block != "bottleneck":
                raise ValueError(f"bottleneck_channels is only used by bottleneck blocks, not {self.block!r} ones")
        elif self.block == "bottleneck" and self.channels < 2:
            raise ValueError("channels must be >= 2 for bottleneck blocks (the default bottleneck is channels // 2)")
        if self.mid_channels is not None:
            self._check_mid_channels()
        _check_int("widen", self.widen, 1, MAX_WIDTH)
        self._check_used_by("widen", self.widen != 1, "wide", "1")
        if self.channels * self.widen > MAX_WIDTH:
            raise ValueError(f"widen: channels * widen must be at most {MAX_WIDTH}, got {self.channels * self.widen}")
        _check_int("alpha", self.alpha, 0, MAX_WIDTH)
        self._check_used_by("alpha", self.alpha != 0, "pyramid", "0")
        if self.channels + self.alpha > MAX_WIDTH:
            raise ValueError(f"alpha: channels + alpha must be at most {MAX_WIDTH}, got {self.channels + self.alpha}")
        if self.expansion is not None:
            _check_int("expansion", self.expansion, 1, MAX_WIDTH)
            self._check_used_by("expansion", True, "mobile", "None")
        if self.block == "mobile" and self.channels * self.expansion_ratio > MAX_WIDTH:
            width = self.channels * self.expansion_ratio
            raise ValueError(f"expansion: channels * expansion must be at most {MAX_WIDTH}, got {width}")

    def _check_used_by(self, field: str, set_: bool, block: str, default: str) -> None:
        if set_ and self.block != block:
            raise ValueError(f"{field} is only used by {block} blocks (keep it {default} for {self.block!r} ones)")

    def _check_mid_channels(self) -> None:
        mid = self.mid_channels
        if isinstance(mid, list):  # a list (as JSON has it) becomes the tuple a frozen, hashable config needs
            mid = tuple(mid)
            object.__setattr__(self, "mid_channels", mid)
        if not isinstance(mid, tuple):
            raise ValueError(f"mid_channels must be a tuple of ints (one per block) or None, got {mid!r}")
        if self.block not in MID_CHANNEL_BLOCKS:
            raise ValueError(
                f"mid_channels is only used by {' and '.join(MID_CHANNEL_BLOCKS)} blocks, not {self.block!r} ones"
            )
        if len(mid) != self.blocks:
            raise ValueError(f"mid_channels must have one entry per block ({self.blocks}), got {len(mid)}")
        for i, m in enumerate(mid):
            _check_int(f"mid_channels[{i}]", m, 1, MAX_WIDTH)

    @property
    def feature_set(self) -> str:
        return f"zero{self.history}"

    @property
    def input_planes(self) -> int:
        return 2 * self.history + 1

    @property
    def mid_widths(self) -> tuple[int, ...]:
        """The inner width of every block of a ``basic`` or ``preact`` tower (``mid_channels`` or ``channels``)."""
        return self.mid_channels if self.mid_channels is not None else (self.channels,) * self.blocks

    @property
    def tower_width(self) -> int:
        """Channels of the tower's output, which the heads read: ``channels * widen`` for ``wide`` blocks,
        ``channels + alpha`` for ``pyramid`` ones, ``channels`` otherwise."""
        if self.block == "wide":
            return self.channels * self.widen
        if self.block == "pyramid":
            return self.channels + self.alpha
        return self.channels

    @property
    def pyramid_widths(self) -> tuple[int, ...]:
        """Output width of each block of a ``pyramid`` tower: ``floor(channels + alpha * k / blocks)`` for block
        ``k`` = 1..blocks (the additive PyramidNet), so the last is exactly ``channels + alpha``."""
        return tuple(self.channels + self.alpha * k // self.blocks for k in range(1, self.blocks + 1))

    @property
    def expansion_ratio(self) -> int:
        """Expansion factor of a ``mobile`` block (``expansion`` or :data:`DEFAULT_EXPANSION`, 6 as in
        MobileNetV2)."""
        return self.expansion if self.expansion is not None else DEFAULT_EXPANSION

    @property
    def bottleneck_width(self) -> int:
        """Channels inside a bottleneck block (``bottleneck_channels`` or ``channels // 2``)."""
        return self.bottleneck_channels if self.bottleneck_channels is not None else self.channels // 2


@dataclass(frozen=True)
class LeePolicyConfig:
    """AlphaGo (2016) policy network (:class:`igo.nets.lee.LeePolicyNet`): a ``first_kernel`` conv, ``layers - 2``
    3x3 convs, all with ``filters`` filters and ReLU, then a 1x1 conv to one plane plus a per-point bias. 48 input
    planes; ``N*N`` logits (no pass)."""

    kind: ClassVar[str] = "lee-policy"

    name: str
    filters: int = 192
    layers: int = 13
    first_kernel: int = 5

    def __post_init__(self) -> None:
        _check_name(self.name)
        _check_int("filters", self.filters, 1, MAX_WIDTH)
        _check_int("layers", self.layers, 2, MAX_DEPTH)
        _check_int("first_kernel", self.first_kernel, 1, MAX_KERNEL)
        if self.first_kernel % 2 == 0:
            raise ValueError(f"first_kernel must be odd (to keep the board size), got {self.first_kernel}")

    @property
    def feature_set(self) -> str:
        return "alphago48"

    @property
    def input_planes(self) -> int:
        return 48


@dataclass(frozen=True)
class LeeValueConfig:
    """AlphaGo (2016) value network (:class:`igo.nets.lee.LeeValueNet`): the policy net's trunk (a 5x5 conv then 3x3
    convs, ``layers - 1`` in all, ``filters`` filters), a 1x1 conv to one plane, a hidden layer of ``hidden`` units
    and a tanh output. 49 input planes (the policy's 48 plus the colour to move)."""

    kind: ClassVar[str] = "lee-value"

    name: str
    filters: int = 192
    layers: int = 13
    hidden: int = 256

    def __post_init__(self) -> None:
        _check_name(self.name)
        _check_int("filters", self.filters, 1, MAX_WIDTH)
        _check_int("layers", self.layers, 2, MAX_DEPTH)
        _check_int("hidden", self.hidden, 1, MAX_WIDTH)

    @property
    def feature_set(self) -> str:
        return "alphago49"

    @property
    def input_planes(self) -> int:
        return 49


@dataclass(frozen=True)
class RolloutConfig:
    """AlphaGo's fast rollout policy, or with ``tree=True`` its larger tree policy
    (:class:`igo.nets.rollout.RolloutPolicy`): a linear softmax over pattern features. ``input_planes`` is 0: it reads
    patterns, not planes."""

    kind: ClassVar[str] = "rollout"

    name: str
    tree: bool = False

    def __post_init__(self) -> None:
        _check_name(self.name)
        if not isinstance(self.tree, bool):
            raise ValueError(f"tree must be a bool, got {self.tree!r}")

    @property
    def feature_set(self) -> str:
        return "patterns"

    @property
    def input_planes(self) -> int:
        return 0


Config = ZeroConfig | LeePolicyConfig | LeeValueConfig | RolloutConfig

CONFIG_CLASSES: dict[str, type] = {c.kind: c for c in (ZeroConfig, LeePolicyConfig, LeeValueConfig, RolloutConfig)}


def _registry(*configs: Config) -> dict[str, Config]:
    return {c.name: c for c in configs}


CONFIGS: dict[str, Config] = _registry(
    ZeroConfig("zero-tiny", blocks=1, channels=8, value_hidden=16),
    ZeroConfig("zero-b2c32", blocks=2, channels=32),
    ZeroConfig("zero-b6c64", blocks=6, channels=64),
    ZeroConfig("zero-b6c64-preact", blocks=6, channels=64, block="preact"),
    ZeroConfig("zero-b6c64-bottleneck", blocks=6, channels=64, block="bottleneck"),
    # variants of the same cost as zero-b6c64 (within 1% of its parameters, 1-5% of its FLOPs on 9x9): see describe
    ZeroConfig("zero-b3c32k3-wide", blocks=3, channels=32, block="wide", widen=3),
    ZeroConfig("zero-b6c32a56-pyramid", blocks=6, channels=32, block="pyramid", alpha=56),
    ZeroConfig("zero-b8c64e6-mobile", blocks=8, channels=64, block="mobile", expansion=6),
    ZeroConfig("zero-b10c128", blocks=10, channels=128),
    ZeroConfig("zero-b15c192", blocks=15, channels=192),
    ZeroConfig("zero-b20c256", blocks=20, channels=256),
    ZeroConfig("zero-b40c256", blocks=40, channels=256),
    LeePolicyConfig("lee-policy-tiny", filters=8, layers=3),
    LeePolicyConfig("lee-policy-64", filters=64, layers=8),
    LeePolicyConfig("lee-policy-128", filters=128),
    LeePolicyConfig("lee-policy-192", filters=192),
    LeePolicyConfig("lee-policy-256", filters=256),
    LeeValueConfig("lee-value-tiny", filters=8, layers=3, hidden=16),
    LeeValueConfig("lee-value-64", filters=64, layers=8, hidden=128),
    LeeValueConfig("lee-value-192", filters=192),
    RolloutConfig("rollout"),
    RolloutConfig("tree", tree=True),
    RolloutConfig("tree", tree=True),
)


def get_config(name: str) -> Config:
    """The registered configuration called ``name``; ValueError listing the known names otherwise."""
    try:
        return CONFIGS[name]
    except KeyError:
        raise ValueError(f"unknown network config {name!r}; known: {', '.join(CONFIGS)}") from None


def config_to_dict(cfg: Config) -> dict[str, Any]:
    """``{"kind": ..., <every field>: ...}``: plain JSON values."""
    if type(cfg) not in CONFIG_CLASSES.values():
        raise ValueError(f"not a network config: {cfg!r}")
    d = dataclasses.asdict(cfg)
    return {"kind": cfg.kind, **{k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}}


def _allowed_types(hint: object) -> tuple[type, ...]:
    """The plain classes a value of the annotation ``hint`` may be (``tuple[int, ...] | None`` -> tuple, NoneType)."""
    allowed = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
    return tuple(type(None) if a is None else (typing.get_origin(a) or a) for a in allowed)


def _type_ok(value: object, hint: object) -> bool:
    allowed = _allowed_types(hint)
    if isinstance(value, bool) and bool not in allowed:
        return False  # bool is an int subclass, but True is not a channel count
    return isinstance(value, allowed)


def _type_name(hint: object) -> str:
    return getattr(hint, "__name__", None) or str(hint)


def config_from_dict(d: dict[str, Any]) -> Config:
    """The configuration :func:`config_to_dict` wrote. ValueError (naming the field) for a missing or unknown kind,
    unknown or missing fields, values of the wrong type and values the config's own checks refuse."""
    if not isinstance(d, dict):
        raise ValueError(f"a network config must be a JSON object, got {type(d).__name__}")
    kind = d.get("kind")
    if kind is None:
        raise ValueError("network config has no 'kind'")
    cls = CONFIG_CLASSES.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise ValueError(f"unknown network config kind {kind!r}; known: {', '.join(CONFIG_CLASSES)}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    values = {k: v for k, v in d.items() if k != "kind"}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise ValueError(f"unknown field(s) for a {kind} config: {', '.join(map(repr, unknown))}")
    missing = [
        name
        for name, f in fields.items()
        if name not in values and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    ]
    if missing:
        raise ValueError(f"missing field(s) for a {kind} config: {', '.join(missing)}")
    for name, value in values.items():
        if isinstance(value, list) and tuple in _allowed_types(hints[name]):
            value = values[name] = tuple(value)  # JSON has lists; the config keeps tuples (its entries are checked)
        if not _type_ok(value, hints[name]):
            raise ValueError(f"field {name} of a {kind} config must be {_type_name(hints[name])}, got {value!r}")
    return cls(**values)


def config_depth(cfg: Config) -> tuple[str, int]:
    """The field that counts a config's repeated units and its value: ``("blocks", n)`` for zero nets (of every
    block kind: each block, widened, pyramidal or inverted, holds convs and batch norms of its own), ``("layers",
    n)`` for the AlphaGo nets, ``("layers", 0)`` for the rollout policy. Each unit adds tensors of its own to the
    network's state, so a checkpoint holding fewer tensors than this cannot be of this config."""
    if isinstance(cfg, ZeroConfig):
        return "blocks", cfg.blocks
    if isinstance(cfg, LeePolicyConfig | LeeValueConfig):
        return "layers", cfg.layers
    if isinstance(cfg, RolloutConfig):
        return "layers", 0
    raise ValueError(f"not a network config: {cfg!r}")


def _count(n: int, noun: str) -> str:
    """``1 layer``, ``6 layers``."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _tower_text(cfg: ZeroConfig) -> str:
    """``6 basic blocks of 64 channels``, ``3 wide blocks of 96 channels (32 x widen 3)``, ..."""
    blocks = cfg.blocks
    if cfg.block == "bottleneck":
        return f"{_count(blocks, f'bottleneck({cfg.bottleneck_width}) block')} of {_count(cfg.channels, 'channel')}"
    if cfg.block == "wide":
        width = _count(cfg.tower_width, "channel")
        return f"{_count(blocks, 'wide (WideResNet) block')} of {width} ({cfg.channels} x widen {cfg.widen})"
    if cfg.block == "pyramid":
        widths = f"{cfg.channels} to {cfg.tower_width} channels (alpha {cfg.alpha})"
        return f"{_count(blocks, 'pyramid (PyramidNet) block')} widening from {widths}"
    if cfg.block == "mobile":
        hidden = cfg.channels * cfg.expansion_ratio
        return (f"{_count(blocks, 'mobile (MobileNetV2 inverted residual) block')} of "
                f"{_count(cfg.channels, 'channel')} (expanded x{cfg.expansion_ratio} to {hidden})")  # fmt: skip
    text = f"{_count(blocks, cfg.block + ' block')} of {_count(cfg.channels, 'channel')}"
    if cfg.mid_channels is not None:
        low, high = min(cfg.mid_channels), max(cfg.mid_channels)
        text += f" (pruned: {low}..{high} channels inside)" if low != high else f" ({low} channels inside)"
    return text


def describe(cfg: Config, *, name: bool = True) -> str:
    """One line for logs and ``igo model list`` (``name``: starting with ``NAME: ``)."""
    if isinstance(cfg, ZeroConfig):
        text = (
            f"AlphaGo Zero ResNet, {_tower_text(cfg)}, {_count(cfg.input_planes, 'input plane')} ({cfg.feature_set}), "
            f"value head of {_count(cfg.value_hidden, 'hidden unit')}"
        )
    elif isinstance(cfg, LeePolicyConfig):
        text = (
            f"AlphaGo policy net, {_count(cfg.layers, 'conv layer')} of {_count(cfg.filters, 'filter')} "
            f"(first kernel {cfg.first_kernel}x{cfg.first_kernel}), {_count(cfg.input_planes, 'input plane')}"
        )
    elif isinstance(cfg, LeeValueConfig):
        text = (
            f"AlphaGo value net, {_count(cfg.layers, 'conv layer')} of {_count(cfg.filters, 'filter')}, "
            f"{_count(cfg.hidden, 'hidden unit')}, {_count(cfg.input_planes, 'input plane')}"
        )
    elif isinstance(cfg, RolloutConfig):
        text = f"AlphaGo {'tree' if cfg.tree else 'fast rollout'} policy (linear softmax over patterns)"
    else:
        raise ValueError(f"not a network config: {cfg!r}")
    return f"{cfg.name}: {text}" if name else text


__all__ = [
    "BLOCK_KINDS",
    "CONFIGS",
    "DEFAULT_EXPANSION",
    "CONFIG_CLASSES",
    "Config",
    "MAX_DEPTH",
    "MAX_KERNEL",
    "MAX_NAME",
    "MAX_WIDTH",
    "MID_CHANNEL_BLOCKS",
    "LeePolicyConfig",
    "LeeValueConfig",
    "RolloutConfig",
    "ZeroConfig",
    "config_depth",
    "config_from_dict",
    "config_to_dict",
    "describe",
    "get_config",
    "printable",
]
