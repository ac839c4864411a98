"""``igo model``: inspect and create network checkpoints.

- ``igo model list`` — the config registry (names, kinds, parameters on a board size);
- ``igo model info PATH [--json]`` — a checkpoint's metadata and parameter count (reads only the header);
- ``igo model init --config NAME --size N -o PATH`` — a freshly initialised net, e.g. to start training or to try the
  GTP engine with a network before one is trained.
"""

from __future__ import annotations

import argparse
import json

from igo.engine.coords import DEFAULT_SIZE, MAX_SIZE, MIN_SIZE


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="action", metavar="ACTION")
    ls = sub.add_parser("list", help="the network configs igo knows", description="The network config registry.")
    ls.add_argument("--size", type=int, default=DEFAULT_SIZE, help="board size for the parameter counts "
                    f"(default {DEFAULT_SIZE})")  # fmt: skip
    ls.set_defaults(run=run_list)
    info = sub.add_parser(
        "info",
        help="print a checkpoint's metadata and parameter count",
        description="Print a checkpoint's metadata (config, board size, features, training step, parent, notes) and "
        "its parameter count. Only the file's header is read; nothing is unpickled.",
    )
    info.add_argument("path", help="a checkpoint (.safetensors)")
    info.add_argument("--json", action="store_true", help="print the metadata as JSON")
    info.set_defaults(run=run_info)
    init = sub.add_parser(
        "init",
        help="write a freshly initialised network",
        description="Write a network with random initial weights as a checkpoint (safetensors + JSON metadata).",
        epilog="Example: igo model init --config zero-b6c64 --size 9 -o zero-9x9.safetensors",
    )
    init.add_argument("--config", required=True, help="a config name (see 'igo model list'), e.g. zero-b6c64")
    init.add_argument("--size", type=int, required=True, help=f"board size of the network, {MIN_SIZE}..{MAX_SIZE}")
    init.add_argument("-o", "--output", required=True, help="the checkpoint file to write")
    init.add_argument("--seed", type=int, default=None, help="seed of the initial weights (default: from the system)")
    init.add_argument("--notes", default="", help="free text kept in the metadata (default: none)")
    init.add_argument("--force", action="store_true", help="overwrite an existing file")
    init.set_defaults(run=run_init)
    p.set_defaults(run=lambda args: (p.print_help(), 2)[1])


def run_list(args) -> int:
    from igo.engine.coords import check_size
    from igo.nets.config import CONFIGS, describe

    size = check_size(args.size)
    params = _param_counts(size)
    print(f"{'name':24} {'kind':11} {f'params {size}x{size}':>14}  description")
    for name, cfg in CONFIGS.items():
        print(f"{name:24} {cfg.kind:11} {params.get(name, 0):>14,}  {describe(cfg, name=False)}")
    return 0


def _param_counts(size: int) -> dict[str, int]:
    import torch

    from igo.nets.config import CONFIGS
    from igo.nets.models import build_model, parameter_count

    out = {}
    with torch.device("meta"):  # shapes only: no memory, no initialisation
        for name, cfg in CONFIGS.items():
            try:
                out[name] = parameter_count(build_model(cfg, size))
            except ImportError:
                out[name] = 0
    return out


def run_info(args) -> int:
    from igo.nets.checkpoint import read_metadata
    from igo.nets.config import printable as p

    meta = read_metadata(args.path)  # a regular file, its metadata type- and range-checked: CheckpointError otherwise
    d = meta.to_dict()
    if args.json:
        print(json.dumps(d, indent=2, sort_keys=True))  # ensure_ascii: control characters come out escaped
        return 0
    # every string from the file is escaped (ANSI codes, other control characters, bidi overrides, newlines)
    print(f"checkpoint   {p(args.path)}")
    print(f"config       {p(meta.config_name)} ({meta.kind})")
    for key, value in d["config"].items():
        if key not in ("name", "kind"):
            print(f"  {key:19} {p(value)}")
    print(f"board size   {meta.board_size}x{meta.board_size}")
    print(f"features     {meta.feature_set}")
    print(f"parameters   {meta.parameters:,}")
    print(f"step         {meta.step}")
    print(f"komi         {'- (not recorded)' if meta.komi is None else f'{meta.komi:g}'}")
    print(f"rules        {p(meta.rules or '- (not recorded)')}")
    print(f"parent       {p(meta.parent or '-')}")
    print(f"created      {p(meta.created)}")
    print(f"igo version  {p(meta.igo_version)}")
    if meta.notes:
        print(f"notes        {p(meta.notes)}")
    for key, value in (meta.extra or {}).items():
        print(f"extra.{p(key):7} {p(value)}")
    return 0


def run_init(args) -> int:
    from pathlib import Path

    import torch

    from igo.engine.coords import check_size
    from igo.nets.checkpoint import save_checkpoint
    from igo.nets.config import get_config
    from igo.nets.models import build_model, parameter_count

    cfg = get_config(args.config)
    size = check_size(args.size)
    out = Path(args.output)
    if out.exists() and not args.force:
        raise ValueError(f"{out} exists; use --force to overwrite it")
    if args.seed is not None:
        torch.manual_seed(args.seed)
    model = build_model(cfg, size)
    path = save_checkpoint(out, model, step=0, notes=args.notes)
    print(f"wrote {path}: {cfg.name} ({cfg.kind}) for {size}x{size}, {parameter_count(model):,} parameters")
    return 0
