"""What the ``igo train *`` and ``igo corpus`` commands share: the trainer's subparser, the flags they have in
common, the flags given on the command line as settings, progress on stderr and the error line; for the trainers that
step through minibatches (``igo train sl``, ``igo train distill``) also their common flags (:data:`STEP_FIELDS`), the
settings of a new or resumed run (:func:`run_settings`) and the run itself (:func:`run_trainer`)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import textwrap
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from igo.engine.options import positive_float, positive_int, retire_option

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


# the flags of add_optimizer (all of them), add_sampling, add_intervals and add_running that set a trainer's
# settings (igo.training.common.TrainerSettings, igo.training.run.Retention): argument name -> setting name, for
# run_settings
STEP_FIELDS = {name: name for name in (
    "optimizer", "lr", "momentum", "weight_decay", "batch_size", "lr_halve_every", "shuffle_buffer", "eval_every",
    "checkpoint_every", "keep_checkpoints", "keep_every", "max_steps", "max_minutes", "device", "seed",
)} | {"nn_threads": "threads"}  # fmt: skip


def add_sampling(g, *, shuffled: str = "positions") -> None:
    """``--lr-halve-every`` and ``--shuffle-buffer`` (of ``shuffled``) of a trainer that steps through
    minibatches."""
    g.add_argument("--lr-halve-every", type=int, default=None, metavar="SAMPLES", help="halve the learning rate "
                   "every this many samples (default 20000000; 0 never)")  # fmt: skip
    g.add_argument("--shuffle-buffer", type=positive_int, default=None, help=f"{shuffled} in the shuffle buffer "
                   "(default 20000)")  # fmt: skip


def add_intervals(g) -> None:
    """``--eval-every`` and ``--checkpoint-every`` (steps) and the retention flags (:func:`add_retention`)."""
    g.add_argument("--eval-every", type=positive_int, default=None, help="steps between held-out evaluations "
                   "(default 1000)")  # fmt: skip
    g.add_argument("--checkpoint-every", type=positive_int, default=None, help="steps between checkpoints "
                   "(default 2000)")  # fmt: skip
    add_retention(g)


def add_running(g, *, retire_threads: bool = False) -> None:
    """The limits (:func:`add_limits`), ``--device``, ``--nn-threads`` (``retire_threads``: and the retired
    ``--threads``), ``--seed`` and the output flags (:func:`add_output`) of a trainer that steps through
    minibatches."""
    add_limits(g, max_steps="stop at this step (counting resumed steps)", steps_type=int)
    g.add_argument("--device", default=None, help="auto (default: a GPU when there is one), cpu or cuda")
    g.add_argument("--nn-threads", type=positive_int, default=None, help="torch threads (default: the cores this "
                   "process may use, OMP_NUM_THREADS respected)")  # fmt: skip
    if retire_threads:
        retire_option(g, "--threads", "use --nn-threads (torch threads)")
    g.add_argument("--seed", type=int, default=None, help="random seed (default 0)")
    add_output(g, status_every=10.0, status_help="seconds between status lines when not on a terminal")


def given(args: argparse.Namespace, names: Mapping[str, str] | Iterable[str]) -> dict[str, Any]:
    """The settings given on the command line (not None): ``{setting: value}`` for ``names``, a mapping from
    argument name to setting name or the names themselves."""
    pairs = names.items() if isinstance(names, Mapping) else ((n, n) for n in names)
    return {setting: v for arg, setting in pairs if (v := getattr(args, arg, None)) is not None}


def run_settings(
    args: argparse.Namespace,
    fields: Mapping[str, str],
    *,
    required: str,
    flag: str,
    new: Mapping[str, Any] | None = None,
    paths: Iterable[str] = (),
) -> tuple[dict[str, Any], dict | None]:
    """``(settings, stored)`` of the run in ``args.run_dir`` of a trainer that steps through minibatches: the
    settings given on the command line (:func:`given` of ``fields`` and :data:`STEP_FIELDS`; those of ``paths`` made
    absolute) on top of the run's stored ones (``stored``, from its ``config.json``), or of ``new`` for a new run
    (``stored`` None), which needs the setting ``required`` (ValueError naming its ``flag`` without it)."""
    from pathlib import Path

    from igo.training.run import RunDir

    settings = given(args, {**fields, **STEP_FIELDS})
    for k in paths:
        if k in settings:
            settings[k] = str(Path(settings[k]).expanduser().resolve())
    stored = RunDir(args.run_dir).read_config()
    if stored is None:
        if required not in settings:
            raise ValueError(f"{flag} is required for a new run ({args.run_dir} has no config.json to resume)")
        return {"run_dir": args.run_dir, **(new or {}), **settings}, None
    return {**stored, **settings, "run_dir": args.run_dir}, stored


def run_trainer(
    args: argparse.Namespace,
    command: str,
    config_from_args: Callable,
    train: Callable,
    *,
    errors: tuple[type[BaseException], ...],
    show: Callable[[Any, Any], str | None],
    after: str,
) -> int:
    """``igo <command>`` of a trainer that steps through minibatches: the config (``config_from_args(args)``; an
    error is exit code 2), ``train(config, on_status=...)`` with progress on stderr (``show`` on a terminal;
    ``errors`` and file errors are exit code 1, a ValueError 2), then the result as JSON or as two lines, the second
    ``run directory: DIR  (resume with the same command; <after>)``, ``{run_dir}`` in ``after`` filled in."""
    try:
        config = config_from_args(args)
    except (KeyError, ValueError, TypeError, RuntimeError) as e:  # KeyError: an unknown network config name
        return fail(command, e, 2)
    printer = Progress(config.max_steps, "step", args.status_every, show=show, postfix_every=0.5)
    try:
        result = train(config, on_status=printer)
    except (FileNotFoundError, NotADirectoryError, *errors, OSError) as e:
        return fail(command, e, 1)
    except ValueError as e:  # a run directory of another identity, mismatched networks, a bad checkpoint file
        return fail(command, e, 2)
    finally:
        printer.close()
    if args.json:
        print_json(result)
    else:
        print(f"stopped ({result.stopped}): {result.line()}")
        hint = after.format(run_dir=config.run_dir)
        print(f"run directory: {config.run_dir}  (resume with the same command; {hint})")
    return 0


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
    "STEP_FIELDS",
    "Progress",
    "add_intervals",
    "add_limits",
    "add_optimizer",
    "add_output",
    "add_ray",
    "add_running",
    "add_sampling",
    "add_trainer",
    "fail",
    "given",
    "print_json",
    "run_settings",
    "run_trainer",
]
