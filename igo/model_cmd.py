"""``igo model``: inspect and create network checkpoints.

- ``igo model list`` — the config registry (names, kinds, parameters on a board size);
- ``igo model info PATH [--json]`` — a checkpoint's metadata and parameter count, with its provenance when it has
  one, a quantized network's mode, bits, source and calibration, and the share of zero weights of every layer that
  has any (a pruned network's sparsity; the weights are read and validated, never unpickled);
  ``igo model info --default [--json]`` — the same for the network that ships with igo
  (:mod:`igo.nets.default`; the JSON has ``path``, ``elo`` and ``board_size`` at the top level), exit 1 without one;
- ``igo model quantize IN -o OUT [--mode int8|bf16|fp16] [--calibration DIR]`` — post-training quantization for
  CPU inference (:mod:`igo.model_quantize_cmd`, :mod:`igo.nets.quantize`);
- ``igo model prune IN -o OUT --alpha A | --structured --keep F [--sgf DIR --retrain-steps N]`` — magnitude
  (Han et al.) or filter pruning with retraining (:mod:`igo.model_prune_cmd`, :mod:`igo.nets.prune`);
- ``igo model ship CHECKPOINT --provenance FILE.json [-o OUT]`` — copy a checkpoint's weights to the shipped network's
  place (default: the package's ``nets/data/igo-9x9.safetensors``) with its provenance in the metadata;
- ``igo model average CKPT CKPT... -o OUT`` — the mean of several checkpoints' weights (:mod:`igo.nets.average`);
- ``igo model compare REFERENCE NET... --replay DIR | --sgf DIR`` — networks side by side on the same held-out
  positions (:mod:`igo.model_compare_cmd`, :mod:`igo.training.compare`);
- ``igo model init --config NAME --size N -o PATH`` — a freshly initialised net, e.g. to start training or to try the
  GTP engine with a network before one is trained.
"""

from __future__ import annotations

import argparse
import json

from igo.engine.coords import DEFAULT_SIZE, MAX_SIZE, MIN_SIZE

from . import model_compare_cmd, model_prune_cmd, model_quantize_cmd


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="action", metavar="ACTION")
    ls = sub.add_parser("list", help="the network configs igo knows", description="The network config registry.")
    ls.add_argument("--size", type=int, default=DEFAULT_SIZE, help="board size for the parameter counts "
                    f"(default {DEFAULT_SIZE})")  # fmt: skip
    ls.set_defaults(run=run_list)
    info = sub.add_parser(
        "info",
        help="print a checkpoint's metadata, parameter count, quantization and sparsity",
        description="Print a checkpoint's metadata (config, board size, features, training step, parent, notes), "
        "its parameter count, a quantized network's mode and bits (with its source and calibration), and for every "
        "layer with zero weights (a pruned network) the share of its weights that are zero. The weights are read "
        "and validated like any checkpoint's; nothing is unpickled. --json adds 'sparsity': {layer: {zeros, "
        "weights, fraction}} for those layers.",
    )
    info.add_argument("path", nargs="?", default=None, help="a checkpoint (.safetensors; required unless --default)")
    info.add_argument("--default", action="store_true", help="the network that ships with igo (played on 9x9 when "
                      "no --model is given; IGO_DEFAULT_NET overrides it) instead of PATH")  # fmt: skip
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
    ship = sub.add_parser(
        "ship",
        help="make a checkpoint the network that ships with igo, with its provenance",
        description="Copy a Zero checkpoint's weights (safetensors, validated, never unpickled) to OUT with a "
        "provenance block in its metadata: the JSON object of --provenance FILE, with the keys commands (the command "
        "lines that made the network), games, positions, learner_steps, cpu_hours, parent and elo_vs_gnugo10 "
        '{elo, low, high, games}; optionally play, the search settings it was measured with, e.g. {"lambda": 0.5} '
        "(keys: the igo gtp flags without dashes: lambda, c_puct, c_puct_base, fpu_reduction, lcb, expand_after, "
        "virtual_loss, fill_eyes, policy_temperature), which become the defaults whenever it plays; other keys "
        "(settings, notes) are kept. 'igo model info --default' shows it. An int8 network (igo model quantize) ships "
        "with its float weights beside it as <name>-float.safetensors, which 'igo train zero --init default' trains "
        "from.",
        epilog="Example: igo model ship runs/z9/int8.safetensors --provenance runs/z9/provenance.json --force; then "
        "igo model ship runs/z9/latest.safetensors --provenance runs/z9/provenance.json -o "
        "nets/data/igo-9x9-float.safetensors --force (its float weights)",
    )
    ship.add_argument("checkpoint", help="the Zero checkpoint to ship (.safetensors)")
    ship.add_argument("--provenance", required=True, metavar="FILE.json", help="the provenance, a JSON object")
    ship.add_argument("-o", "--output", default=None, help="where to write it (default: the package's "
                      "nets/data/igo-9x9.safetensors, which must then be a 9x9 net)")  # fmt: skip
    ship.add_argument("--force", action="store_true", help="replace an existing OUT (default: refuse)")
    ship.set_defaults(run=run_ship)
    avg = sub.add_parser(
        "average",
        help="average the weights of several checkpoints of one run",
        description="Write the mean of the weights (and batch-norm statistics) of several float checkpoints of the "
        "same network, usually the last few of one training run (checkpoint averaging, as in stochastic weight "
        "averaging): the noise of the last SGD steps averages out. The metadata is the newest checkpoint's (step, "
        "komi, the run's games and CPU-hours), with extra.averaged listing the files and their steps. Quantized "
        "checkpoints are refused: average the float ones, then quantize. Nothing is unpickled.",
        epilog="Example: igo model average runs/z9/checkpoints/step-0000{7543,7743,7943,8143,8320}.safetensors -o "
        "runs/z9/avg5.safetensors; then igo model quantize runs/z9/avg5.safetensors -o avg5-int8.safetensors "
        "--calibration runs/z9/replay, and rate it with igo tournament against the newest checkpoint.",
    )
    avg.add_argument("checkpoints", nargs="+", metavar="CHECKPOINT", help="two or more float checkpoints "
                     "(.safetensors) of the same config and board size")  # fmt: skip
    avg.add_argument("-o", "--output", required=True, help="the averaged checkpoint to write")
    avg.add_argument("--force", action="store_true", help="replace an existing OUT (default: refuse)")
    avg.add_argument("--json", action="store_true", help="print the written checkpoint's metadata as JSON")
    avg.set_defaults(run=run_average)
    model_quantize_cmd.add_parser(sub)
    model_prune_cmd.add_parser(sub)
    model_compare_cmd.add_parser(sub)
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

    if args.default == (args.path is not None):
        raise ValueError(
            "igo model info: give a checkpoint PATH or --default, not both"
            if args.default
            else "igo model info: give a checkpoint PATH, or --default for the network that ships with igo"
        )
    if args.default:
        from igo.nets.default import ENV_VAR, default_network_info

        info = default_network_info()
        if info is None:
            raise ValueError(f"no default network: this igo ships none (or {ENV_VAR} is 'none'); igo plays "
                             "rollouts unless --model is given")  # fmt: skip
        if args.json:
            print(json.dumps(info, indent=2, sort_keys=True))
            return 0
        args.path = info["path"]
    meta = read_metadata(args.path)  # a regular file, its metadata type- and range-checked: CheckpointError otherwise
    sparsity = _sparsity(args.path)
    d = meta.to_dict()
    if args.json:
        d["sparsity"] = {k: {"zeros": z, "weights": n, "fraction": z / n} for k, (z, n) in sparsity.items() if z}
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
    if meta.provenance is not None:
        _print_provenance(meta.provenance)
    if meta.quantization is not None:
        _print_quantization(meta.quantization)
    _print_sparsity(sparsity)
    return 0


def _sparsity(path) -> dict[str, tuple[int, int]]:
    """Layer weight -> (zeros, weights) of the checkpoint at ``path`` (validated by ``load_state``)."""
    from igo.nets.checkpoint import load_state
    from igo.nets.weights import weight_sparsity

    tensors, _meta = load_state(path)
    return weight_sparsity(tensors)


def _print_quantization(q: dict) -> None:
    """A quantized network's mode and bits, source and calibration (validated by
    :func:`igo.nets.quantize.check_quantization`), every string escaped."""
    from igo.nets.config import printable as p

    how = f"{p(q['scheme'])}"
    if q["mode"] == "int8":
        how += f" on the {p(q['engine'])} engine, torch {p(q['torch'])}"
    print(f"quantized    {q['mode']} ({q['bits']}-bit weights; {how})")
    print(f"  source             {p(q['source'] or '-')} (step {q['source_step']})")
    cal = q.get("calibration")
    if isinstance(cal, dict):
        where = f" {p(cal['path'])}" if cal.get("path") else ""
        seed = f", seed {cal['seed']}" if cal.get("seed") is not None else ""
        print(f"  calibration        {cal['positions']:,} positions, {p(cal['source'])}{where}{seed}")


def _print_sparsity(sparsity: dict[str, tuple[int, int]]) -> None:
    """The layers with zero weights and their share of zeros; nothing when no layer has any."""
    from igo.nets.config import printable as p

    sparse = {k: v for k, v in sparsity.items() if v[0]}
    if not sparse:
        return
    zeros = sum(z for z, _ in sparsity.values())
    total = sum(n for _, n in sparsity.values())
    print(f"sparsity     {len(sparse)} of {len(sparsity)} layers have zero weights; {100 * zeros / total:.1f}% of all "
          f"{total:,} layer weights are zero")  # fmt: skip
    width = max(len(p(k)) for k in sparse)
    for name, (z, n) in sparse.items():
        print(f"  {p(name):{width}}  {100 * z / n:5.1f}%  ({z:,} of {n:,})")


def _print_provenance(prov: dict) -> None:
    """The provenance block (validated by :func:`igo.nets.checkpoint.check_provenance`), every string escaped."""
    from igo.nets.config import printable as p

    elo = prov["elo_vs_gnugo10"]
    print("provenance")
    print(f"  Elo vs GNU Go 10  {elo['elo']:+.0f} (95% interval {elo['low']:+.0f} .. {elo['high']:+.0f}, "
          f"{elo['games']} games)")  # fmt: skip
    print(f"  games            {prov['games']:,}")
    print(f"  positions        {prov['positions']:,}")
    print(f"  learner steps    {prov['learner_steps']:,}")
    print(f"  CPU-hours        {prov['cpu_hours']:.1f}")
    print(f"  parent           {p(prov['parent'] or '-')}")
    print("  commands")
    for command in prov["commands"]:
        print(f"    {p(command)}")
    for key, value in prov.items():
        if key not in ("commands", "games", "positions", "learner_steps", "cpu_hours", "parent", "elo_vs_gnugo10"):
            print(f"  {p(key):16} {p(json.dumps(value, sort_keys=True))}")


def run_ship(args) -> int:
    from pathlib import Path

    from igo.nets.checkpoint import read_metadata, ship_checkpoint
    from igo.nets.default import BOARD_SIZE, packaged_path

    try:
        provenance = json.loads(Path(args.provenance).read_text(encoding="utf-8"))
    except OSError as e:
        raise ValueError(f"--provenance {args.provenance}: cannot read it ({e.strerror or e})") from None
    except ValueError as e:  # JSONDecodeError, UnicodeDecodeError
        raise ValueError(f"--provenance {args.provenance}: not valid JSON ({e})") from None
    try:
        from igo.nets.checkpoint import check_provenance

        check_provenance(provenance)
    except ValueError as e:
        raise ValueError(f"--provenance {args.provenance}: {e}") from None
    out = Path(args.output) if args.output else packaged_path()
    meta = read_metadata(args.checkpoint)
    if meta.kind != "zero":
        raise ValueError(f"{args.checkpoint} is a {meta.kind} net; igo ships a Zero net (it plays with λ = 0)")
    if args.output is None and meta.board_size != BOARD_SIZE:
        n = meta.board_size
        raise ValueError(f"{args.checkpoint} is for {n}x{n}; the shipped network plays {BOARD_SIZE}x{BOARD_SIZE} "
                         "(give -o to write it elsewhere)")  # fmt: skip
    if out.exists() and not args.force:
        raise ValueError(f"{out} exists; use --force to replace it")
    meta = ship_checkpoint(args.checkpoint, out, provenance)
    elo = meta.provenance["elo_vs_gnugo10"]
    print(f"wrote {out}: {meta.config_name} for {meta.board_size}x{meta.board_size}, Elo {elo['elo']:+.0f} against "
          f"GNU Go level 10 ({elo['games']} games)")  # fmt: skip
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


def run_average(args) -> int:
    from pathlib import Path

    from igo.nets.average import write_average

    out = Path(args.output)
    if out.exists() and not args.force:
        raise ValueError(f"{out} exists; give --force to replace it")
    if any(Path(c).resolve() == out.resolve() for c in args.checkpoints):
        raise ValueError(f"{out} is one of the checkpoints to average; write the average elsewhere")
    meta = write_average(args.checkpoints, out)
    if args.json:
        print(json.dumps(meta.to_dict() | {"path": str(out)}, indent=2, sort_keys=True))
        return 0
    steps = [a["step"] for a in meta.extra["averaged"]]
    print(
        f"wrote {out}: the mean of {len(steps)} checkpoints of {meta.config_name} {meta.board_size}x"
        f"{meta.board_size}, steps {', '.join(map(str, steps))} (metadata of step {meta.step})"
    )
    return 0
