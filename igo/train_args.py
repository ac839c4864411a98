"""What the ``igo train *`` and ``igo corpus`` commands share: the trainer's subparser, the flags they have in
common, the flags given on the command line as settings, progress on stderr and the error line."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import textwrap
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from igo.engine.options import positive_float, positive_int

# igo.training.common.OPTIMIZERS, written out so that parsing the command line does not import torch
OPTIMIZERS = ("sgd", "adamw")
RUN_DIR_HELP = "the run directory (created, or resumed when it exists)"
ADDRESS_HELP = "a Ray cluster to join ('auto' or host:port; default: a local Ray)"


def add_trainer(sub, name: str, *, help: str, description: str, epilog: str,
                new_run: str | None = None) -> argparse.ArgumentParser:  # fmt: skip
    """The ``igo train <name>`` subparser: the description wrapped at 100 columns, the epilog as written, and
    ``--run-dir``. ``new_run`` (e.g. ``--sgf DIR``): what a new run needs besides ``--run-dir`` and a resumed one
    does not (it is in the run's ``config.json``); the usage line then shows both forms."""
    usage = None
    if new_run is not None:
        pad = " " * (len(new_run) + 1)
        usage = (f"%(prog)s --run-dir RUN_DIR {new_run} [options]   a new run\n"
                 f"       %(prog)s --run-dir RUN_DIR [options]{pad}   resume it (settings from its "
                 "config.json)")  # fmt: skip
    p = sub.add_parser(
        name,
        help=help,
        usage=usage,
        description=textwrap.fill(description, 100),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=epilog,
    )
    p.add_argument("--run-dir", required=True, help=RUN_DIR_HELP)
    return p


def add_optimizer(
    g,
    *,
    optimizer: str,
    lr: str,
    weight_decay: str | None = None,
    momentum: str | None = None,
    batch_size: str | None = None,
    defaults: Mapping[str, Any] | None = None,
) -> None:
    """``--optimizer``, ``--lr`` and, when their help is given, ``--momentum``, ``--weight-decay``, ``--batch-size``
    (help texts as the arguments; ``defaults`` by setting name, None where not given)."""
    d = dict(defaults or {})
    g.add_argument("--optimizer", choices=OPTIMIZERS, default=d.get("optimizer"), help=optimizer)
    g.add_argument("--lr", type=positive_float, default=d.get("lr"), help=lr)
    if momentum is not None:
        g.add_argument("--momentum", type=float, default=d.get("momentum"), help=momentum)
    if weight_decay is not None:
        g.add_argument("--weight-decay", type=float, default=d.get("weight_decay"), help=weight_decay)
    if batch_size is not None:
        g.add_argument("--batch-size", type=positive_int, default=d.get("batch_size"), help=batch_size)


def add_limits(g, *, max_steps: str | None, max_minutes: str = "stop after this many minutes",
                   steps_type: Callable = positive_int) -> None:  # fmt: skip
    """``--max-steps`` (when its help is given) and ``--max-minutes``, both unset (no limit) by default."""
    if max_steps is not None:
        g.add_argument("--max-steps", type=steps_type, default=None, help=_no_limit(max_steps))
    g.add_argument("--max-minutes", type=positive_float, default=None, help=_no_limit(max_minutes))


def _no_limit(text: str) -> str:
    """``text`` saying that the limit is off by default, inside its closing parenthesis if it ends with one."""
    return f"{text[:-1]}; default: no limit)" if text.endswith(")") else f"{text} (default: no limit)"


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def add_retention(g, *, always: str = "") -> None:
    """``--keep-checkpoints`` and ``--keep-every``: which old checkpoints a run keeps (see
    :meth:`igo.training.run.RunDir.thin`); unset, the run's stored setting or the defaults apply."""
    g.add_argument("--keep-checkpoints", type=_non_negative_int, default=None, metavar="K",
                   help="keep the newest K checkpoints (0: all; default 5); optimizer state is kept for the newest "
                   "only")  # fmt: skip
    g.add_argument("--keep-every", type=_non_negative_int, default=None, metavar="M",
                   help="and every M-th checkpoint (step a multiple of M x --checkpoint-every; 0: none more; default "
                   f"10){always}")  # fmt: skip


def add_ray(g, *, address: str = ADDRESS_HELP) -> None:
    """``--address`` (a Ray cluster) and ``--cpus`` (of a local Ray)."""
    g.add_argument("--address", default=None, help=address)
    g.add_argument("--cpus", type=positive_int, default=None, help="CPUs of the local Ray (default: all)")


def add_output(g, *, json_help: str = "print the result as JSON", status_every: float | None = None,
                    status_help: str = "seconds between status lines") -> None:  # fmt: skip
    """``--status-every`` (when a default is given; its help ends with it) and ``--json``."""
    if status_every is not None:
        g.add_argument("--status-every", type=positive_float, default=status_every,
                       help=f"{status_help} (default {status_every:g})")  # fmt: skip
    g.add_argument("--json", action="store_true", help=json_help)


def given(args: argparse.Namespace, names: Mapping[str, str] | Iterable[str]) -> dict[str, Any]:
    """The settings given on the command line (not None): ``{setting: value}`` for ``names``, a mapping from
    argument name to setting name or the names themselves."""
    pairs = names.items() if isinstance(names, Mapping) else ((n, n) for n in names)
    return {setting: v for arg, setting in pairs if (v := getattr(args, arg, None)) is not None}


def fail(command: str, error: BaseException | str, code: int) -> int:
    """Print ``igo <command>: error: ...`` on stderr (a KeyError by its message) and return ``code``."""
    if isinstance(error, KeyError) and error.args:
        error = error.args[0]
    print(f"igo {command}: error: {error}", file=sys.stderr)
    return code


def print_json(result) -> None:
    """``result`` (a dict or a dataclass) as one line of JSON on stdout."""
    print(json.dumps(result if isinstance(result, dict) else dataclasses.asdict(result), sort_keys=True))


class Progress:
    """Progress on stderr. On a terminal a tqdm bar over ``unit``: ``show(bar, status)`` sets its count (and total)
    and returns the postfix (by default ``status.line()``), shown at most every ``postfix_every`` seconds; with
    ``lazy`` the bar opens at the first status. Elsewhere the line ``[minutes] status.line()`` at most every
    ``every`` seconds."""

    def __init__(
        self,
        total: int | None = None,
        unit: str = "step",
        every: float = 0.0,
        *,
        show: Callable[[Any, Any], str | None] | None = None,
        postfix_every: float = 0.0,
        lazy: bool = False,
    ):
        self.total, self.unit, self.every, self.postfix_every = total, unit, every, postfix_every
        self.tty = sys.stderr.isatty()
        self._show = show
        self._last = time.monotonic()
        self._last_postfix = float("-inf")
        self.bar = None
        if self.tty and not lazy:
            self._open()

    def _open(self) -> None:
        from tqdm import tqdm

        self.bar = tqdm(total=self.total, unit=self.unit, dynamic_ncols=True, file=sys.stderr)

    def __call__(self, st) -> None:
        now = time.monotonic()
        if self.tty:
            if self.bar is None:
                self._open()
            text = st.line() if self._show is None else self._show(self.bar, st)
            if text is not None and now - self._last_postfix >= self.postfix_every:
                self._last_postfix = now
                self.bar.set_postfix_str(text, refresh=True)
        elif now - self._last >= self.every:
            self._last = now
            print(f"[{st.elapsed / 60:5.1f} min] {st.line()}", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


__all__ = [
    "Progress",
    "add_limits",
    "add_optimizer",
    "add_output",
    "add_ray",
    "add_trainer",
    "fail",
    "given",
    "print_json",
]
