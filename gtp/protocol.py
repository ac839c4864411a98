"""What every GTP command module shares: :class:`GTPFailure` (an expected failure and its canonical reply text) and
the parsers of command arguments, each of which raises ``GTPFailure("syntax error", detail)`` for bad input.

Numbers are bounded where they are read: seconds (clock settings and reports) at most
:data:`~igo.engine.limits.MAX_SECONDS` (one year), counts of periods or stones at most
:data:`~igo.engine.limits.MAX_STONES`, komi within ``±MAX_KOMI``; a larger value is a ``syntax error`` (the
bound is in the log), never clamped, so the controller learns that its setting was not taken.

:mod:`igo.gtp.engine` (the commands) and :mod:`igo.gtp.analysis` (the analysis commands) both import this module and
not each other's internals.
"""

from __future__ import annotations

import math
import re

from igo.engine.board import BLACK, WHITE
from igo.engine.coords import gtp_to_rc
from igo.engine.errors import InvalidMoveError
from igo.engine.limits import MAX_KOMI, MAX_SECONDS, MAX_STONES

COLORS = {"b": BLACK, "black": BLACK, "w": WHITE, "white": WHITE}
"""The colour names GTP accepts (any case)."""

VERTEX_RE = re.compile(r"[A-HJ-Za-hj-z][0-9]{1,2}")
"""The shape of a GTP vertex (any case, no column I); whether it is on the board is checked separately."""


class GTPFailure(Exception):
    """A command failed in an expected way: ``message`` is the reply text (canonical where the spec has one),
    ``detail`` says why, for the log."""

    def __init__(self, message: str, detail: str = ""):
        super().__init__(message if not detail else f"{message} ({detail})")
        self.message = message
        self.detail = detail


def expect_args(args: list[str], count: int | tuple[int, int], usage: str) -> None:
    """``args`` has ``count`` items (or ``lo..hi`` for a pair), else a syntax error naming ``usage``."""
    lo, hi = (count, count) if isinstance(count, int) else count
    if not lo <= len(args) <= hi:
        raise GTPFailure("syntax error", f"expected {usage}, got {len(args)} argument(s)")


def parse_int(text: str, what: str) -> int:
    if not (text.isascii() and re.fullmatch(r"[+-]?[0-9]{1,100}", text)):
        raise GTPFailure("syntax error", f"{what} must be an integer, got {text!r}")
    return int(text)


def parse_float(text: str, what: str) -> float:
    if not (text.isascii() and re.fullmatch(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?", text)):
        raise GTPFailure("syntax error", f"{what} must be a number, got {text!r}")
    value = float(text)
    if not math.isfinite(value):
        raise GTPFailure("syntax error", f"{what} must be finite, got {text!r}")
    return value


def parse_seconds(text: str, what: str) -> float:
    """Seconds on a clock: 0 .. MAX_SECONDS (one year)."""
    value = parse_float(text, what)
    if value < 0:
        raise GTPFailure("syntax error", f"{what} must not be negative, got {text!r}")
    if value > MAX_SECONDS:
        raise GTPFailure("syntax error", f"{what} must be at most {MAX_SECONDS:.0f} seconds (a year), got {text!r}")
    return value


def parse_count(text: str, what: str, most: int = MAX_STONES) -> int:
    """A count of periods or stones: 0 .. ``most``."""
    value = parse_int(text, what)
    if value < 0:
        raise GTPFailure("syntax error", f"{what} must not be negative, got {text!r}")
    if value > most:
        raise GTPFailure("syntax error", f"{what} must be at most {most}, got {text[:40]!r}")
    return value


def parse_komi(text: str) -> float:
    """A komi: a finite number within ``±MAX_KOMI``."""
    value = parse_float(text, "komi")
    if abs(value) > MAX_KOMI:
        raise GTPFailure("syntax error", f"komi must be within -{MAX_KOMI:g}..{MAX_KOMI:g}, got {text[:40]!r}")
    return value


def parse_color(text: str) -> int:
    color = COLORS.get(text.lower()) if text.isascii() else None
    if color is None:
        raise GTPFailure("syntax error", f"invalid color {text!r}")
    return color


def parse_vertex(text: str, size: int) -> str:
    """An upper-case vertex on the board, or ``"pass"``; anything else is a syntax error."""
    if text.isascii() and text.lower() == "pass":
        return "pass"
    if not VERTEX_RE.fullmatch(text):
        raise GTPFailure("syntax error", f"invalid vertex {text!r}")
    try:
        gtp_to_rc(text, size)
    except InvalidMoveError as e:
        raise GTPFailure("syntax error", str(e)) from None
    return text.upper()


__all__ = [
    "COLORS",
    "GTPFailure",
    "VERTEX_RE",
    "expect_args",
    "parse_color",
    "parse_count",
    "parse_float",
    "parse_int",
    "parse_komi",
    "parse_seconds",
    "parse_vertex",
]
