"""``igo model quantize``: post-training quantization of a network checkpoint for CPU inference
(:mod:`igo.nets.quantize`).

- ``igo model quantize IN -o OUT`` (``--mode int8``, the default): int8 weights and activations, quantized kernels
  on the CPU, calibrated on ``--positions`` positions of ``--calibration DIR``: SGF games (any ``.sgf`` under DIR,
  games of the network's board size) or a Zero replay directory (``chunk-*.npz``, or a run directory holding
  ``replay/``). Without ``--calibration`` it calibrates on positions of random legal play, with a warning: they are
  not the positions the network will see, and its ranges fit those less well;
- ``--mode bf16`` / ``--mode fp16``: the weights stored in half precision (half the file), loaded back as float32
  and run in the evaluator's dtype; no calibration.

Positions are drawn from across the games: ``4 * --positions`` candidates (whole games, in an order shuffled by
``--seed``, or the newest replay chunks) of which ``--positions`` are picked at random. The command prints what it
calibrated on, the sizes of both files and the agreement of the quantized network with the float one on those
positions (policy top-1 agreement, largest probability difference, value mean squared difference): a quick check,
not a held-out measurement.
"""

from __future__ import annotations

import argparse
import logging
import re
import sys
import time
import zipfile
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

DEFAULT_POSITIONS = 1024
MODES = ("int8", "bf16", "fp16")  # igo.nets.quantize.MODES, repeated: building the parser must not import torch
MAX_POSITIONS = 100_000  # igo.nets.quantize.MAX_CALIBRATION_POSITIONS (tests/test_quantize.py checks both)
CANDIDATE_FACTOR = 4  # candidates gathered per position kept: positions from many games, not a few whole ones
MAX_CHUNK_BYTES = 1 << 30  # an uncompressed replay array larger than this is refused (a zip bomb is not unpacked)
CHUNK_RE = re.compile(r"^chunk-(\d{8,})\.npz$")

EPILOG = """\
examples:
  igo model quantize zero9.safetensors -o zero9-int8.safetensors --calibration corpus/gnugo9
  igo model quantize zero9.safetensors -o zero9-int8.safetensors --calibration runs/z9/replay --positions 2048
  igo model quantize zero9.safetensors -o zero9-bf16.safetensors --mode bf16
  igo gtp --model zero9-int8.safetensors                 # plays like any network (CPU only)

int8: quantized kernels (torch's x86/fbgemm engine), about a quarter of the file and several times the speed of
fp32 at large batches on one core; bf16/fp16: half the file, the same speed (the weights are loaded as float32).
'igo model info OUT' shows the mode, bits, source and calibration.
"""


def add_parser(sub) -> argparse.ArgumentParser:
    """Add ``quantize`` to the subparsers of ``igo model`` (imports nothing heavy: every igo command builds it)."""
    p = sub.add_parser(
        "quantize",
        help="quantize a network for CPU inference (int8 kernels, or bf16/fp16 weights)",
        description="Post-training quantization of a zero, lee-policy or lee-value checkpoint. int8 (the default): "
        "convolutions and residual additions run in int8 with the activation ranges calibrated on real positions "
        "(--calibration: SGF games or a Zero replay directory), the heads' linear layers with int8 weights and float "
        "outputs; the file is a quarter of the float one and the network runs on the CPU only. bf16/fp16: the weights "
        "stored in half precision (half the file), loaded back to float32. The output is safetensors with JSON "
        "metadata (mode, bits, source, calibration); nothing is pickled.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("input", metavar="IN", help="the float checkpoint to quantize (.safetensors)")
    p.add_argument("-o", "--output", required=True, metavar="OUT", help="the quantized checkpoint to write")
    p.add_argument("--mode", choices=MODES, default="int8", help="int8 (quantized kernels; default), bf16 or fp16 "
                   "(half-precision weights)")  # fmt: skip
    p.add_argument("--calibration", default=None, metavar="SGF_DIR_OR_REPLAY_DIR", help="int8: positions to "
                   "calibrate on: a directory of SGF games, or a Zero replay directory (chunk-*.npz) or run directory "
                   "(default: random legal positions, with a warning)")  # fmt: skip
    p.add_argument("--positions", type=int, default=DEFAULT_POSITIONS, help=f"int8: calibration positions, 1.."
                   f"{MAX_POSITIONS:,} (default {DEFAULT_POSITIONS})")  # fmt: skip
    p.add_argument("--seed", type=int, default=0, help="seed of the choice of calibration positions (default 0)")
    p.add_argument("--force", action="store_true", help="replace an existing OUT (default: refuse)")
    p.set_defaults(run=run)
    return p


def run(args) -> int:
    import torch

    from igo.engine.cores import core_budget
    from igo.nets.checkpoint import read_metadata
    from igo.nets.config import printable
    from igo.nets.quantize_file import quantize_checkpoint

    src, out = Path(args.input), Path(args.output)
    if not 1 <= args.positions <= MAX_POSITIONS:
        raise ValueError(f"--positions must be in 1..{MAX_POSITIONS:,}, got {args.positions}")
    if args.seed < 0:
        raise ValueError(f"--seed must be >= 0, got {args.seed}")
    if out.exists() and not args.force:
        raise ValueError(f"{out} exists; use --force to replace it")
    if out.exists() and src.exists() and out.resolve() == src.resolve():
        raise ValueError("-o must not be the input checkpoint")
    if args.calibration is not None and args.mode != "int8":
        raise ValueError(f"--calibration is for int8; --mode {args.mode} needs no calibration")
    meta = read_metadata(src)
    if meta.kind not in ("zero", "lee-policy", "lee-value"):
        raise ValueError(f"{src} holds a {meta.kind} net; igo quantizes zero, lee-policy and lee-value nets")
    if meta.quantization is not None:
        raise ValueError(f"{src} is already quantized ({meta.quantization['mode']}); quantize its float source")
    threads = core_budget()
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    planes = calibration = None
    if args.mode == "int8":
        t0 = time.perf_counter()
        planes, calibration, what = calibration_positions(args.calibration, meta.config, meta.board_size,
                                                          args.positions, args.seed)  # fmt: skip
        print(f"calibration: {what} ({time.perf_counter() - t0:.1f} s)", flush=True)
    print(f"quantizing {printable(src)} ({printable(meta.config_name)}, {meta.board_size}x{meta.board_size}) to "
          f"{args.mode} ...", flush=True)  # fmt: skip
    t0 = time.perf_counter()
    new, net = quantize_checkpoint(src, out, args.mode, planes=planes, calibration=calibration,
                                   progress=_progress_printer())  # fmt: skip
    size_in, size_out = src.stat().st_size, out.stat().st_size
    print(
        f"wrote {printable(out)}: {args.mode} ({new.quantization['bits']}-bit weights), {size_out:,} bytes "
        f"({100 * size_out / size_in:.0f}% of the float file's {size_in:,}) in {time.perf_counter() - t0:.1f} s"
    )
    if planes is not None:
        print("agreement with the float network on the calibration positions: " + _agreement(src, net, planes))
    return 0


def _progress_printer():
    """``progress(done, total)`` for the calibration: a line updated in place on a terminal, else a line at each
    quarter."""
    tty = sys.stdout.isatty()
    shown = [0]

    def progress(done: int, total: int) -> None:
        if tty:
            print(f"\r  calibrating: {done:,} / {total:,} positions", end="\n" if done >= total else "", flush=True)
        elif done >= total or done * 4 >= (shown[0] + 1) * total:
            shown[0] = done * 4 // total
            print(f"  calibrating: {done:,} / {total:,} positions", flush=True)

    return progress


def _agreement(src: Path, net, planes: np.ndarray) -> str:
    """A line comparing ``net`` with the float network of ``src`` on ``planes``."""
    import torch

    from igo.nets.checkpoint import load_checkpoint

    ref, _meta = load_checkpoint(src)
    x = torch.from_numpy(np.ascontiguousarray(planes, np.float32))
    with torch.inference_mode():
        a, b = ref(x), net(x)
    parts = []
    if isinstance(a, tuple):  # a Zero net: (logits, value)
        (la, va), (lb, vb) = a, b
    elif ref.config.kind == "lee-value":
        la = lb = None
        va, vb = a, b
    else:
        la, lb, va, vb = a, b, None, None
    if la is not None:
        pa, pb = la.float().softmax(1), lb.float().softmax(1)
        top1 = (pa.argmax(1) == pb.argmax(1)).float().mean().item()
        parts.append(f"policy top-1 {100 * top1:.1f}%, max |dp| {(pa - pb).abs().max().item():.4f}")
    if va is not None:
        parts.append(f"value MSE {((va.float() - vb.float()) ** 2).mean().item():.2e}")
    return ", ".join(parts) + f" ({len(planes):,} positions)"


# --- calibration positions -------------------------------------------------------------------------------------------


def calibration_positions(directory: str | None, config, size: int, count: int, seed: int):
    """``(planes float32 [count', C, N, N], calibration metadata, a description)`` for calibrating ``config`` on
    ``size``: from ``directory`` (SGF games or a replay directory), else random legal positions with a warning.
    ValueError when ``directory`` holds no usable positions."""
    rng = np.random.default_rng(seed)
    if directory is None:
        from igo.nets.quantize import random_positions

        message = (f"no --calibration given: calibrating on {count:,} positions of random legal play; real games "
                   "(an SGF directory or a replay directory) calibrate better")  # fmt: skip
        log.warning(message)
        print(f"warning: {message}", file=sys.stderr, flush=True)
        planes = random_positions(config.feature_set, size, count, seed)
        return planes, {"source": "random", "path": None, "seed": seed}, f"{count:,} random legal positions"
    root = Path(directory)
    if not root.is_dir():
        raise ValueError(f"--calibration {directory}: not a directory")
    chunks = _replay_chunks(root)
    if chunks:
        planes, games = _replay_planes(chunks, config, size, count * CANDIDATE_FACTOR)
        source, what = "replay", f"games of the replay chunks in {directory}"
    else:
        planes, games = _sgf_planes(root, config, size, count * CANDIDATE_FACTOR, rng)
        source, what = "sgf", f"SGF games in {directory}"
    if len(planes) == 0:
        raise ValueError(f"--calibration {directory}: no positions of {size}x{size} games found")
    if len(planes) > count:
        planes = planes[np.sort(rng.choice(len(planes), count, replace=False))]
    info = {"source": source, "path": str(directory), "seed": seed}
    return planes, info, f"{len(planes):,} positions from {games:,} {what}"


def _sgf_planes(root: Path, config, size: int, want: int, rng: np.random.Generator) -> tuple[np.ndarray, int]:
    from igo.training.sgf_data import encode_positions, find_sgf_files

    files = find_sgf_files(root)
    if not files:
        raise ValueError(f"--calibration {root}: no .sgf files and no replay chunks (chunk-*.npz) in it")
    files = [files[i] for i in rng.permutation(len(files))]
    planes, _targets, _values, stats = encode_positions(files, size, want, features=config.feature_set)
    if stats.skipped:
        reasons = dict(stats.skipped_by_reason)
        log.info("calibration: %d of %d SGF files skipped (%s)", stats.skipped, stats.files, reasons)
    return planes.astype(np.float32), stats.games


def _replay_chunks(root: Path) -> list[Path]:
    """The replay chunks of ``root`` (or of ``root/replay``, a Zero run directory), newest first."""
    for d in (root, root / "replay"):
        if d.is_dir():
            found = sorted((p for p in d.iterdir() if CHUNK_RE.match(p.name) and p.is_file()),
                           key=lambda p: int(CHUNK_RE.match(p.name).group(1)), reverse=True)  # fmt: skip
            if found:
                return found
    return []


def _replay_planes(chunks: list[Path], config, size: int, want: int) -> tuple[np.ndarray, int]:
    """Up to ``want`` positions of the newest replay ``chunks`` (plain arrays, never unpickled; arrays of more than
    :data:`MAX_CHUNK_BYTES` uncompressed refused), as float planes; and the number of games they came from."""
    from igo.engine.planes import packed_width, unpack_planes

    parts, games, have = [], 0, 0
    width = packed_width(config.input_planes, size)
    for path in chunks:
        if have >= want:
            break
        try:
            with np.load(path, allow_pickle=False) as z:
                big = [n for n in ("planes.npy", "game_lengths.npy", "size.npy", "num_planes.npy")
                       if z.zip.getinfo(n).file_size > MAX_CHUNK_BYTES]  # fmt: skip
                if big:
                    log.warning("replay chunk %s skipped: %s larger than %d bytes", path, big[0], MAX_CHUNK_BYTES)
                    continue
                chunk_size, chunk_planes = int(z["size"]), int(z["num_planes"])
                packed = z["planes"] if (chunk_size, chunk_planes) == (size, config.input_planes) else None
                lengths = z["game_lengths"]
        except (OSError, KeyError, EOFError, ValueError, TypeError, zipfile.BadZipFile) as e:
            log.warning("replay chunk %s skipped: %s: %s", path, type(e).__name__, e)
            continue
        if packed is None:
            raise ValueError(
                f"--calibration: replay chunk {path} holds {chunk_planes} planes of {chunk_size}x"
                f"{chunk_size}, the network reads {config.input_planes} planes of {size}x{size}"
            )
        if packed.dtype != np.uint8 or packed.ndim != 2 or packed.shape[1] != width:
            log.warning("replay chunk %s skipped: planes of shape %s, expected [P, %d] uint8", path, packed.shape,
                        width)  # fmt: skip
            continue
        take = packed[: want - have]
        parts.append(unpack_planes(take, config.input_planes, size, dtype=np.float32))
        have += len(take)
        games += int(np.size(lengths))
    if not parts:
        return np.empty((0, config.input_planes, size, size), np.float32), 0
    return np.concatenate(parts), games
