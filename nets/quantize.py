"""Post-training quantization of igo's networks for CPU inference: int8 (quantized kernels), bf16 and fp16 (half the
file), stored as safetensors + JSON metadata like every checkpoint (:mod:`igo.nets.checkpoint`), never pickled.

Modes (:data:`MODES`):

- ``int8``: **static** post-training quantization with PyTorch's FX graph mode (``torch.ao.quantization.quantize_fx``
  ``prepare_fx`` / ``convert_fx``) and the ``x86`` quantized engine (fbgemm / oneDNN kernels; AVX2, and VNNI where the
  CPU has it). Every convolution is folded with the batch norm that follows it and runs in int8 (weights int8,
  symmetric, one scale per output channel; activations uint8, one scale and zero point per tensor, calibrated by a
  histogram observer on real positions; the x86 default ``reduce_range`` keeps 7 bits of the activations, which
  avoids int16 overflow on CPUs without VNNI); residual additions run as quantized ``add_relu``/``add``, stand-alone
  batch norms (pre-activation towers) as quantized ``BNReLU2d``, ReLU6 (mobile blocks) and the zero padding of
  pyramid shortcuts on the quantized tensors. The fully connected layers of the heads are
  **dynamically** quantized (int8 weights, one scale per output; activations quantized per batch at run time, float
  output), so the policy logits and the value come out in float, not rounded to 256 levels; the last ``tanh`` and
  the AlphaGo policy's 1x1 output convolution with its per-point bias stay float (a few hundred weights).
- ``bf16`` / ``fp16``: the parameters stored in that dtype (half the file); batch-norm statistics stay float32.
  They load losslessly into the float32 network, which then runs in the evaluator's dtype: only the file shrinks
  (and the weights are rounded to 8 / 11 significant bits).

**Why this path** (torch 2.13.0+cpu, tried on an AMD EPYC with AVX-512 VNNI, zero-b6c64 on 9x9, the network's
forward alone on one thread, on a shared machine):

- PT2E (``prepare_pt2e``/``convert_pt2e`` with ``X86InductorQuantizer``) is gone from torch 2.13
  (``torch.ao.quantization.quantize_pt2e`` and ``torch.ao.quantization.quantizer`` no longer exist; it moved to
  ``torchao``). With ``torchao`` 0.18 (``pip install torchao``, imports with torch 2.13 on the CPU) it works, but
  ``convert_pt2e`` gives a *reference* model (quantize/dequantize around float ops, no faster than fp32) that is
  fast only after ``torch.compile`` with inductor freezing: 36 s of compilation per batch shape (a C++ compiler at
  run time, and the evaluator sees many batch sizes), for about the speed of torch's own int8 kernels (4,900
  positions/s at batch 64, against 4,600 for eager-mode int8 with the kernels used here and 1,070 in fp32, measured
  back to back). torchao's ``quantize_`` configs (int8 dynamic activation / weight-only) quantize ``nn.Linear``
  only, not the convolutions that are almost all of these networks. So no new dependency.
- Eager-mode static quantization (``QuantStub``, ``fuse_modules``, ``FloatFunctional``) works too (the same
  kernels) but needs a hand-written quantizable copy of every block kind (``basic``, ``preact``, ``bottleneck``,
  ``wide``, ``pyramid``, ``mobile``, the AlphaGo nets). FX traces the network's own ``forward``, so every network
  that :func:`igo.nets.models.build_model` builds quantizes without a second definition.
- torch 2.13 warns that ``torch.ao.quantization`` is deprecated (to move to ``torchao``) and that quantized tensor
  dtypes "will be removed in a future release"; the warnings are silenced inside this module. The file does not hold
  torch's quantized tensors but plain ones (below), with the torch version that wrote it, so should a later torch drop
  these kernels the data can be rebuilt by other kernels; until then such a file must be re-made from its source.

**The int8 file.** Loading rebuilds the same quantized graph from the config (a weightless copy of the network,
traced, prepared and converted: :func:`int8_skeleton`), then fills it from the file. Its tensors are those of the
converted graph's ``state_dict`` with every quantized tensor ``W`` written as three plain ones: ``W`` (I8, the
integer values), ``W.q_scale`` (F32, one per output channel, or a scalar) and ``W.q_zero_point`` (I64, alike); a
dynamically quantized linear layer's packed weight and bias as ``<layer>.weight`` (+ its scales and zero points)
and ``<layer>.bias``; activation scales and zero points (``<layer>.scale``, ``_scale_0``, ...) as the F32 / I64
scalars they are. :func:`int8_layout` gives the names, shapes and dtypes a config must have; the checkpoint reader
compares the file's header with them before reading a value, checks the values (:func:`int8_value_problem`: finite
positive scales, zero points in range) and refuses anything else. The metadata's ``quantization`` object records
the mode, bits, scheme, engine, torch version, the source checkpoint and the calibration (:func:`check_quantization`);
int8 files have ``format_version`` 2, so an igo that predates them says "upgrade igo" instead of misreading them.

A loaded int8 network is a :class:`QuantizedNet`: it runs on the CPU only, takes float planes of any float dtype (it
computes in its own precision, whatever the evaluator's dtype), returns what the float network returns (float32),
and refuses to train. ``torch.compile`` cannot trace quantized kernels (dynamo falls back to running it as it is,
with warnings). Loading one traces the graph again (:func:`int8_skeleton`): the first int8 load in a process also
imports torch's FX / dynamo machinery (seconds on a busy machine); a later one takes about 0.4 s for zero-b6c64 on
9x9 and 4 s for zero-b20c256 on 19x19.
"""

from __future__ import annotations

import contextlib
import logging
import operator
import warnings
from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .config import Config, LeePolicyConfig, printable

logger = logging.getLogger(__name__)

__all__ = [
    "BITS",
    "CALIBRATION_SOURCES",
    "INT8_FORMAT_VERSION",
    "INT8_SCHEME",
    "MAX_CALIBRATION_POSITIONS",
    "MODES",
    "QuantizedNet",
    "check_quantization",
    "half_state",
    "int8_layout",
    "int8_skeleton",
    "int8_tensors",
    "int8_value_problem",
    "load_int8",
    "quantize_int8",
    "quantized_engine",
    "random_positions",
]

MODES = ("int8", "bf16", "fp16")
BITS = {"int8": 8, "bf16": 16, "fp16": 16}
HALF_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}
INT8_SCHEME = "fx-static-x86"
"""``quantization.scheme`` of int8 files: FX graph mode static quantization for the x86 engine, as described above."""
HALF_SCHEME = "cast"
INT8_FORMAT_VERSION = 2
"""The checkpoint ``format_version`` of int8 files (bf16 / fp16 files keep version 1: any igo reads them)."""
CALIBRATION_SOURCES = ("sgf", "replay", "random", "planes")
MAX_CALIBRATION_POSITIONS = 100_000
CALIBRATION_BATCH = 64
SCALE = ".q_scale"
ZERO_POINT = ".q_zero_point"
PACKED = "._packed_params._packed_params"
PACKED_DTYPE = "._packed_params.dtype"
ENGINES = ("x86", "fbgemm")  # the engines whose kernels this scheme's graphs were built for
MAX_TEXT = 4096  # characters of a metadata string (a path, a version)
FP16_MAX = 65504.0
Progress = Callable[[int, int], None]

# the messages torch 2.13 prints for every use of torch.ao.quantization and of quantized tensors
_DEPRECATION = (
    r".*torch\.ao\.quantization.*deprecated.*",
    r".*quantized tensor creation functions.*deprecated.*",
    r".*(is|are) deprecated and will be removed.*",
    r".*must run observer before calling calculate_qparams.*",
    r".*reduce_range will be deprecated.*",
)


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence torch's deprecation warnings about ``torch.ao.quantization`` (see the module docstring) and the
    observers' warning when the weightless skeleton is converted: they say nothing a user of igo can act on."""
    with warnings.catch_warnings():
        for pattern in _DEPRECATION:
            warnings.filterwarnings("ignore", message=pattern)
        warnings.filterwarnings("ignore", category=FutureWarning, module=r"torch\.ao\..*")
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"torch\.ao\..*")
        yield


# --- metadata --------------------------------------------------------------------------------------------------------


def _text(value: Any, key: str, *, optional: bool = False) -> str | None:
    if value is None and optional:
        return None
    if not isinstance(value, str) or len(value) > MAX_TEXT:
        kind = "a string or null" if optional else "a string"
        raise ValueError(f"quantization: {key!r} must be {kind} of at most {MAX_TEXT} characters, got "
                         f"{printable(repr(value)[:80])}")  # fmt: skip
    return value


def _count(value: Any, key: str, low: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= 2**63 - 1:
        raise ValueError(f"quantization: {key!r} must be an integer >= {low}, got {printable(repr(value)[:80])}")
    return value


def check_quantization(d: Any) -> dict[str, Any]:
    """``d`` when it is a valid ``quantization`` metadata object, else ValueError ``quantization: ...`` naming the
    key. Required: ``mode`` (one of :data:`MODES`), ``bits`` (:data:`BITS` of the mode), ``scheme`` (a string),
    ``source`` (the checkpoint it was made from, a string or null), ``source_step`` (an integer >= 0); int8 also
    ``engine`` (one of :data:`ENGINES`), ``torch`` (the torch version that wrote it) and ``calibration``:
    ``{"source": one of CALIBRATION_SOURCES, "path": string or null, "positions": integer >= 1, "seed": integer or
    null}``. Other keys are kept as they are."""
    if not isinstance(d, dict):
        raise ValueError(f"quantization: must be a JSON object, got {type(d).__name__}")
    mode = d.get("mode")
    if mode not in MODES:
        raise ValueError(f"quantization: 'mode' must be one of {', '.join(MODES)}, got {printable(repr(mode)[:80])}")
    if d.get("bits") != BITS[mode] or isinstance(d.get("bits"), bool):
        raise ValueError(f"quantization: 'bits' of mode {mode} must be {BITS[mode]}, got "
                         f"{printable(repr(d.get('bits'))[:80])}")  # fmt: skip
    _text(d.get("scheme"), "scheme")
    _text(d.get("source"), "source", optional=True)
    _count(d.get("source_step"), "source_step")
    if mode != "int8":
        return d
    if d.get("scheme") != INT8_SCHEME:
        got = printable(repr(d["scheme"])[:80])
        raise ValueError(f"quantization: int8 'scheme' must be {INT8_SCHEME!r}, got {got}")
    if d.get("engine") not in ENGINES:
        raise ValueError(f"quantization: 'engine' must be one of {', '.join(ENGINES)}, got "
                         f"{printable(repr(d.get('engine'))[:80])}")  # fmt: skip
    _text(d.get("torch"), "torch")
    cal = d.get("calibration")
    if not isinstance(cal, dict):
        raise ValueError(f"quantization: 'calibration' must be an object, got {type(cal).__name__}")
    if cal.get("source") not in CALIBRATION_SOURCES:
        raise ValueError(f"quantization: 'calibration.source' must be one of {', '.join(CALIBRATION_SOURCES)}, got "
                         f"{printable(repr(cal.get('source'))[:80])}")  # fmt: skip
    _text(cal.get("path"), "calibration.path", optional=True)
    _count(cal.get("positions"), "calibration.positions", 1)
    seed = cal.get("seed")
    if seed is not None:
        _count(seed, "calibration.seed")
    return d


# --- the quantized network -------------------------------------------------------------------------------------------


class QuantizedNet(nn.Module):
    """An int8 network (see the module docstring): ``graph`` is the converted FX graph; ``config`` and
    ``board_size`` are the float network's (what the evaluator and the checkpoint code read), ``quantization`` the
    metadata object. ``forward(x)`` takes float planes of any float dtype and layout and returns what the float
    network returns, in float32. It runs on the CPU only: ``to()`` accepts a CPU device and ignores dtypes and
    memory formats (the weights are int8 whatever the evaluator's dtype); ``train()`` raises (quantized weights do
    not learn: train the source checkpoint)."""

    cpu_only = True

    def __init__(self, graph: nn.Module, config: Config, board_size: int, quantization: dict[str, Any]):
        super().__init__()
        self.graph = graph
        self.config = config
        self.board_size = int(board_size)
        self.quantization = dict(quantization)
        super().train(False)

    def forward(self, x: torch.Tensor):
        return self.graph(x.to(torch.float32).contiguous())

    def to(self, *args, **kwargs) -> QuantizedNet:
        device = torch._C._nn._parse_to(*args, **kwargs)[0]
        if device is not None and torch.device(device).type != "cpu":
            raise ValueError(f"an int8 quantized network runs on the CPU only, not on {device} (use --device cpu, "
                             "or a bf16/fp16 or float checkpoint on a GPU)")  # fmt: skip
        return self

    def train(self, mode: bool = True) -> QuantizedNet:
        if mode:
            source = self.quantization.get("source") or "its float source checkpoint"
            raise ValueError(f"an int8 quantized network is for inference only; train {printable(source)} instead")
        return super().train(False)

    def extra_repr(self) -> str:
        return f"config={self.config.name!r}, board_size={self.board_size}, mode='int8'"


def quantized_engine() -> str:
    """Make the x86 quantized engine (or fbgemm on a torch without it) torch's current one and return its name.
    torch's engine is process-wide and weights are packed for the engine current when a network is built, so int8
    networks are built and run under it. ValueError when this torch has neither (e.g. an ARM build)."""
    supported = torch.backends.quantized.supported_engines
    if torch.backends.quantized.engine in ENGINES:
        return torch.backends.quantized.engine
    for engine in ENGINES:
        if engine in supported:
            torch.backends.quantized.engine = engine
            logger.debug("torch quantized engine set to %s", engine)
            return engine
    raise ValueError(f"int8 networks need torch's x86 or fbgemm quantized engine; this torch has only "
                     f"{', '.join(supported) or 'none'} (use a bf16/fp16 or float checkpoint)")  # fmt: skip


def _qconfig_mapping(config: Config, placeholder: bool = False):
    """What is quantized how (see the module docstring): static int8 everywhere, the heads' linear layers dynamic,
    the output ``tanh`` (and the shape ops after it) float, the AlphaGo policy's output conv and bias float.
    ``placeholder``: min/max activation observers instead of the histogram ones (the same graph, in a fraction of
    the time: the skeleton's ranges are replaced by the file's)."""
    from torch.ao.quantization import (
        MinMaxObserver,
        QConfig,
        QConfigMapping,
        get_default_qconfig,
        per_channel_dynamic_qconfig,
    )

    qconfig = get_default_qconfig("x86")
    if placeholder:
        qconfig = QConfig(activation=MinMaxObserver.with_args(reduce_range=True), weight=qconfig.weight)
    mapping = QConfigMapping().set_global(qconfig)
    mapping = mapping.set_object_type(nn.Linear, per_channel_dynamic_qconfig)
    mapping = mapping.set_object_type(torch.tanh, None).set_object_type("squeeze", None)
    if isinstance(config, LeePolicyConfig):
        mapping = mapping.set_module_name("head", None).set_object_type(operator.add, None)
    return mapping


def _traced(model: nn.Module) -> torch.fx.GraphModule:
    """``model`` traced by FX with every ``torch.relu`` of a convolution's or batch norm's output made
    ``F.relu``, the form FX fuses into the quantized conv (``ConvReLU2d``) or batch norm (``BNReLU2d``): a ReLU left
    alone runs in float between a dequantize and a quantize. A ReLU of a linear layer's output stays as it is (that
    layer is dynamically quantized, its output float)."""
    try:
        gm = torch.fx.symbolic_trace(model)
    except Exception as e:  # a forward FX cannot trace (data-dependent control flow)
        raise ValueError(f"cannot trace {model.config.name} for int8 quantization ({printable(e)})") from None
    modules = dict(gm.named_modules())
    for node in gm.graph.nodes:
        if node.op != "call_function" or node.target is not torch.relu or not node.args:
            continue
        src = node.args[0]
        if isinstance(src, torch.fx.Node) and src.op == "call_module":
            if isinstance(modules.get(src.target), nn.Conv2d | nn.BatchNorm2d):
                node.target = F.relu
    gm.recompile()
    return gm


def _convert(
    model: nn.Module, batches: list[torch.Tensor], progress: Progress | None = None, placeholder: bool = False
) -> nn.Module:
    """The converted int8 graph of ``model`` (float, eval mode), its activation ranges observed on ``batches``;
    ``progress(done, total)`` is called after each batch with the positions observed so far. ``placeholder``: see
    :func:`_qconfig_mapping`."""
    from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx

    quantized_engine()
    mapping = _qconfig_mapping(model.config, placeholder)
    with _quiet():
        prepared = prepare_fx(_traced(model.eval()), mapping, (batches[0][:1],))
        total, done = sum(len(x) for x in batches), 0
        with torch.inference_mode():
            for x in batches:
                prepared(x)
                done += len(x)
                if progress is not None:
                    progress(done, total)
        return convert_fx(prepared)


def quantize_int8(
    model: nn.Module,
    planes: np.ndarray | torch.Tensor,
    quantization: dict[str, Any],
    progress: Progress | None = None,
) -> QuantizedNet:
    """The int8 :class:`QuantizedNet` of the float ``model`` (built by :func:`igo.nets.models.build_model`, on the
    CPU), calibrated on ``planes`` (``[M, C, N, N]``, the network's input planes; M >= 1, at most
    :data:`MAX_CALIBRATION_POSITIONS`; ``progress(done, M)`` after each batch of :data:`CALIBRATION_BATCH`).
    ``quantization`` is its metadata object. ``model`` is not changed."""
    import copy

    _check_planes(model, planes)
    x = torch.as_tensor(np.asarray(planes), dtype=torch.float32)
    batches = list(x.split(CALIBRATION_BATCH))
    graph = _convert(copy.deepcopy(model).float().cpu(), batches, progress)
    return QuantizedNet(graph, model.config, model.board_size, quantization)


def _check_planes(model: nn.Module, planes) -> None:
    shape = tuple(np.shape(planes))
    want = (model.config.input_planes, model.board_size, model.board_size)
    if len(shape) != 4 or shape[1:] != want:
        raise ValueError(f"calibration planes must have shape [M, {', '.join(map(str, want))}], got {list(shape)}")
    if not 1 <= shape[0] <= MAX_CALIBRATION_POSITIONS:
        raise ValueError(f"calibration needs 1..{MAX_CALIBRATION_POSITIONS:,} positions, got {shape[0]:,}")


def int8_skeleton(config: Config, board_size: int) -> QuantizedNet:
    """The int8 graph of ``config`` on ``board_size`` with placeholder values: the structure a file's tensors are
    loaded into (:func:`load_int8`). Built without random initialisation (the caller's random state is untouched)
    from a weightless copy filled with zeros (batch-norm variances 1), observed on one empty position."""
    from .models import build_model

    with torch.device("meta"):
        model = build_model(config, board_size)
    model = model.to_empty(device="cpu")
    with torch.no_grad():
        for name, t in [*model.named_parameters(), *model.named_buffers()]:
            t.fill_(1 if name.endswith("running_var") else 0)
    x = torch.zeros((1, config.input_planes, board_size, board_size))
    graph = _convert(model, [x], placeholder=True)
    return QuantizedNet(graph, config, board_size, {"mode": "int8"})


def _plain(name: str, q: torch.Tensor) -> dict[str, torch.Tensor]:
    """The quantized tensor ``q`` as plain tensors: ``name`` (int8 values), ``name.q_scale``, ``name.q_zero_point``."""
    if q.dtype != torch.qint8:
        raise ValueError(f"tensor {name} is {q.dtype}, expected qint8")
    scheme = q.qscheme()
    if scheme in (torch.per_channel_affine, torch.per_channel_symmetric):
        if q.q_per_channel_axis() != 0:
            raise ValueError(f"tensor {name} is quantized along axis {q.q_per_channel_axis()}, expected 0")
        scale = q.q_per_channel_scales().to(torch.float32)
        zero = q.q_per_channel_zero_points().to(torch.int64)
    elif scheme in (torch.per_tensor_affine, torch.per_tensor_symmetric):
        scale = torch.tensor(q.q_scale(), dtype=torch.float32)
        zero = torch.tensor(q.q_zero_point(), dtype=torch.int64)
    else:
        raise ValueError(f"tensor {name} has quantization scheme {scheme}, which igo does not store")
    return {name: q.int_repr().contiguous().clone(), name + SCALE: scale.contiguous(), name + ZERO_POINT: zero}


def int8_tensors(net: QuantizedNet) -> dict[str, torch.Tensor]:
    """The plain tensors (name -> I8 / F32 / I64 tensor) that store ``net`` (the layout of the module docstring)."""
    out: dict[str, torch.Tensor] = {}
    with _quiet():
        state = net.graph.state_dict()
    for name, value in state.items():
        if value is None:
            continue
        if isinstance(value, torch.dtype):
            if not name.endswith(PACKED_DTYPE) or value != torch.qint8:
                raise ValueError(f"{name} is {value}, expected a qint8 packed linear layer")
            continue
        if isinstance(value, tuple):
            if not name.endswith(PACKED) or len(value) != 2:
                raise ValueError(f"{name}: unexpected packed parameters")
            base = name[: -len(PACKED)]
            weight, bias = value
            out.update(_plain(base + ".weight", weight))
            if bias is not None:
                out[base + ".bias"] = bias.detach().to(torch.float32).contiguous().clone()
            continue
        if value.is_quantized:
            out.update(_plain(name, value))
        else:
            out[name] = value.detach().contiguous().clone()
    return out


def int8_layout(skeleton: QuantizedNet) -> dict[str, tuple[tuple[int, ...], torch.dtype]]:
    """Name -> (shape, dtype) of every tensor an int8 file of the skeleton's config must hold."""
    return {k: (tuple(v.shape), v.dtype) for k, v in int8_tensors(skeleton).items()}


def int8_value_problem(name: str, t: torch.Tensor) -> str | None:
    """Why the value of the int8 file's tensor ``name`` cannot be: a scale (``*.q_scale``, ``*scale*``) not finite
    and positive, a weight zero point outside -128..127, an activation zero point outside 0..255. None when it can
    (float tensors are also checked by :func:`igo.nets.weights.value_problem`)."""
    last = name.rsplit(".", 1)[-1]
    if name.endswith(SCALE) or (t.is_floating_point() and "scale" in last):
        bad = ~(torch.isfinite(t) & (t > 0))
        if bad.any():
            return f"tensor {name} holds {int(bad.sum())} scale(s) that are not finite and positive"
    if name.endswith(ZERO_POINT):
        low, high = -128, 127
    elif t.dtype == torch.int64 and "zero_point" in last:
        low, high = 0, 255
    else:
        return None
    bad = (t < low) | (t > high)
    if bad.any():
        return f"tensor {name} holds {int(bad.sum())} zero point(s) outside {low}..{high}"
    return None


def _quantized(tensors: dict[str, torch.Tensor], name: str) -> torch.Tensor:
    values, scale, zero = tensors[name], tensors[name + SCALE], tensors[name + ZERO_POINT]
    if scale.dim() == 0:
        real = (values.to(torch.float32) - float(zero)) * float(scale)
        return torch.quantize_per_tensor(real, float(scale), int(zero), torch.qint8)
    shape = (-1,) + (1,) * (values.dim() - 1)
    real = (values.to(torch.float32) - zero.reshape(shape)) * scale.reshape(shape)
    return torch.quantize_per_channel(real, scale.to(torch.float64), zero, 0, torch.qint8)


def load_int8(skeleton: QuantizedNet, tensors: dict[str, torch.Tensor], quantization: dict[str, Any]) -> QuantizedNet:
    """Fill ``skeleton`` (:func:`int8_skeleton`) with the plain ``tensors`` of an int8 file, whose names, shapes and
    dtypes the caller has checked against :func:`int8_layout` and whose values against :func:`int8_value_problem`.
    Returns the network, in eval mode, with ``quantization`` as its metadata."""
    quantized_engine()
    with _quiet():
        state = skeleton.graph.state_dict()
        new: dict[str, Any] = OrderedDict()
        new._metadata = getattr(state, "_metadata", None)  # the modules' state versions: the packed-weight format
        for name, value in state.items():
            if value is None or isinstance(value, torch.dtype):
                new[name] = value
            elif isinstance(value, tuple):
                base = name[: -len(PACKED)]
                bias = tensors.get(base + ".bias") if value[1] is not None else None
                new[name] = (_quantized(tensors, base + ".weight"), bias)
            elif value.is_quantized:
                new[name] = _quantized(tensors, name)
            else:
                new[name] = tensors[name]
        skeleton.graph.load_state_dict(new, strict=True)
    skeleton.quantization = dict(quantization)
    return skeleton.eval()


# --- bf16 / fp16 -----------------------------------------------------------------------------------------------------


def half_state(model: nn.Module, mode: str) -> dict[str, torch.Tensor]:
    """``model``'s ``state_dict`` with its parameters in the half dtype of ``mode`` (``bf16`` or ``fp16``) and its
    buffers (batch-norm statistics) as they are. ValueError naming the tensor when an fp16 value would overflow
    (beyond +-65504)."""
    if mode not in HALF_DTYPES:
        raise ValueError(f"mode must be one of {', '.join(HALF_DTYPES)}, got {mode!r}")
    dtype = HALF_DTYPES[mode]
    params = {name for name, _ in model.named_parameters()}
    out = {}
    for name, t in model.state_dict().items():
        t = t.detach().to("cpu")
        if name in params and t.is_floating_point():
            if dtype == torch.float16 and t.numel() and float(t.abs().max()) > FP16_MAX:
                raise ValueError(f"tensor {name} holds values beyond +-{FP16_MAX:g}, which fp16 cannot hold (use bf16)")
            t = t.to(dtype)
        out[name] = t.contiguous().clone()
    return out


# --- calibration positions when none are given -----------------------------------------------------------------------


def random_positions(feature_set: str, size: int, count: int, seed: int | None = 0) -> np.ndarray:
    """``count`` positions of random legal play (each game as long as its seeded length, 0..~0.8 N² moves, moves
    uniform over the legal points, passing when there is none) as the planes of ``feature_set``: float32
    ``[count, C, N, N]``. Only a fallback for calibration when no games are given: real positions calibrate better."""
    from igo.engine.board import Board
    from igo.engine.errors import IllegalMoveError
    from igo.engine.features import FeatureEncoder

    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_CALIBRATION_POSITIONS:
        raise ValueError(f"count must be an integer in 1..{MAX_CALIBRATION_POSITIONS:,}, got {count!r}")
    rng = np.random.default_rng(seed)
    enc = FeatureEncoder(feature_set, size)
    out = np.empty((count, enc.planes, size, size), np.float32)
    n2 = size * size
    for i in range(count):
        board = Board(size)
        for _ in range(int(rng.integers(0, max(1, int(0.8 * n2))))):
            legal = np.flatnonzero(board.legal_mask()[:-1])
            if len(legal) == 0:
                board.pass_move()
                continue
            f = int(rng.choice(legal))
            try:
                board.play((f // size, f % size))
            except IllegalMoveError:  # the mask is simple-ko legality; positional superko may still forbid it
                board.pass_move()
        enc.encode_board(board, out=out[i])
    return out


# --- a whole checkpoint ----------------------------------------------------------------------------------------------
