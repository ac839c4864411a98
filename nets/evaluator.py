"""Batched network inference for the search: :class:`NetEvaluator` implements :class:`igo.engine.search.Evaluator`.

One evaluator wraps the networks of one player:

- an **AlphaGo Zero** net (``kind == "zero"``): priors (with pass) and values from one forward pass;
- an **AlphaGo (2016)** policy net (``lee-policy``) for the priors, optionally with a **value net** (``lee-value``);
  the policy has no pass output, so pass gets a small prior (``pass_weight`` times the mean prior of a legal point);
- a value net alone (uniform priors).

Per batch of leaves it: looks each position up in a cache (key: a digest of the stones of the positions the features
read, the player to move and the ko point), encodes the misses with :class:`igo.engine.features.FeatureEncoder`,
applies a symmetry (``"random"``: one of the 8 per position, as AlphaGo Zero; ``"all"``: the mean over all 8, eight
times the work; ``"none"``), runs the nets on the device (CPU or CUDA; fp32 / bf16 / fp16 — ``auto``: bf16 on a GPU
and on a CPU with bf16 hardware (AMX), else fp32; channels-last with bf16 or CUDA; optionally ``torch.compile``,
and on CUDA its ``reduce-overhead`` mode, i.e. CUDA graphs, with batches padded to power-of-two buckets so graphs
are reused), maps the policy back through the inverse symmetry, applies the softmax temperature β
(AlphaGo used β = 0.67 for the SL policy in the tree) over the legal moves, and returns ``(priors, values)``.

Threads: on a CPU the evaluator runs torch with ``threads`` intra-op threads (default: all the cores this process may
use, :func:`igo.engine.cores.core_budget`, so ``OMP_NUM_THREADS`` and the CPU affinity are respected). torch's thread
count is global to the process: the evaluator sets it once, when it is built, and only when it differs. The caller
decides when the cores are shared: a player splits them between its search and its network
(:func:`igo.engine.cores.split_threads`), Ray actors pass their own share. Timings of the last calls are kept in
:attr:`NetEvaluator.stats` (features, network, cache) for ``igo bench``.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np
import torch

from igo.engine import board_kernels as K
from igo.engine.features import FeatureEncoder, feature_set
from igo.engine.pool import take_slots
from igo.engine.symmetry import NUM_SYMMETRIES, flat_permutation, inverse

from .device import available_cores, resolve_device, resolve_dtype

log = logging.getLogger(__name__)

SYMMETRY_MODES = ("random", "all", "none")


@dataclass
class EvalStats:
    """Counters since the last :meth:`reset`: positions asked for, cache hits, network rows (symmetries included),
    rows an AlphaGo policy net ran on (``policy_rows``; the others were leaves the search does not expand),
    positions that needed no network at all (``skipped``: a policy net alone, leaves not expanded), seconds spent
    encoding features, in the networks, and in the whole ``evaluate`` calls."""

    calls: int = 0
    positions: int = 0
    cache_hits: int = 0
    rows: int = 0
    policy_rows: int = 0
    skipped: int = 0
    feature_s: float = 0.0
    network_s: float = 0.0
    total_s: float = 0.0
    extra: dict = field(default_factory=dict)

    def reset(self) -> None:
        self.calls = self.positions = self.cache_hits = self.rows = self.policy_rows = self.skipped = 0
        self.feature_s = self.network_s = self.total_s = 0.0


class NetEvaluator:
    """Leaf evaluation by neural networks; see the module docstring.

    ``model``: a Zero net or a Lee policy net (or None); ``value_model``: a Lee value net (or None). Both must be for
    ``size`` (checked). ``policy_temperature`` β: priors ∝ softmax(logits / β); default 1 for Zero nets and 0.67 for
    Lee policy nets."""

    def __init__(
        self,
        model: torch.nn.Module | None = None,
        value_model: torch.nn.Module | None = None,
        *,
        size: int,
        device: str = "auto",
        dtype: str = "auto",
        symmetry: str = "random",
        cache_size: int = 200_000,
        policy_temperature: float | None = None,
        pass_weight: float = 0.1,
        channels_last: bool | None = None,
        compile: str | None = None,
        threads: int | None = None,
        max_batch: int = 512,
        seed: int | None = None,
    ):
        if model is None and value_model is None:
            raise ValueError("an evaluator needs a policy/Zero model, a value model, or both")
        kinds = {"model": _kind(model), "value_model": _kind(value_model)}
        if kinds["model"] not in (None, "zero", "lee-policy"):
            raise ValueError(f"model must be a zero or lee-policy net, got a {kinds['model']} net")
        if kinds["value_model"] not in (None, "lee-value"):
            raise ValueError(f"value_model must be a lee-value net, got a {kinds['value_model']} net")
        if kinds["model"] == "zero" and value_model is not None:
            raise ValueError("a Zero net has its own value head; do not add a value model")
        for m in (model, value_model):
            if m is not None and int(m.board_size) != size:
                raise ValueError(f"the {_kind(m)} net is for {m.board_size}x{m.board_size}, the board is {size}x{size}")
        if symmetry not in SYMMETRY_MODES:
            raise ValueError(f"symmetry must be one of {', '.join(SYMMETRY_MODES)}, got {symmetry!r}")
        if policy_temperature is not None and not policy_temperature > 0:
            raise ValueError(f"policy_temperature must be positive, got {policy_temperature}")
        if cache_size < 0:
            raise ValueError("cache_size must be >= 0")
        self.size = size
        self.kind = kinds["model"] or "lee-value"
        # an int8 network (igo.nets.quantize.QuantizedNet) runs on the CPU only, eagerly (dynamo cannot trace it)
        cpu_only = any(getattr(m, "cpu_only", False) for m in (model, value_model) if m is not None)
        if cpu_only and device == "auto":
            device = "cpu"
        if cpu_only:
            compile = None
        self.device = resolve_device(device)
        self.dtype = resolve_dtype(dtype, self.device)
        if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 1):
            raise ValueError(f"threads must be an integer of at least 1, got {threads!r}")
        self.threads = threads or available_cores()  # torch's intra-op threads on a CPU (a global count: set once)
        if self.device.type == "cpu" and torch.get_num_threads() != self.threads:
            torch.set_num_threads(self.threads)
        if channels_last is None:  # what the fast kernels want: cuDNN on a GPU, oneDNN's bf16 path on a CPU, and
            # depthwise convolutions (mobile blocks), 2-3x faster channels-last on a CPU than NCHW (issue 19)
            depthwise = getattr(getattr(model, "config", None), "block", None) == "mobile"
            channels_last = self.device.type == "cuda" or self.dtype == torch.bfloat16 or depthwise
        self.channels_last = channels_last
        self.symmetry = symmetry
        self.cache_size = cache_size
        self.pass_weight = pass_weight
        if policy_temperature is None:
            policy_temperature = 0.67 if kinds["model"] == "lee-policy" else 1.0
        self.policy_temperature = float(policy_temperature)
        self.max_batch = max_batch
        self.batch_size = 32 if self.device.type == "cuda" else 8  # leaves per search batch the search should send
        self._rng = np.random.default_rng(seed)
        self._cache: OrderedDict[bytes, tuple[np.ndarray, float]] = OrderedDict()
        self.stats = EvalStats()
        self.model = self._prepare(model, compile)
        self.value_model = self._prepare(value_model, compile)
        # torch.compile specialises on shapes, and oneDNN builds (and caches a bounded number of) bf16 kernels per
        # shape: with batches of every size from the cache and the search, padding to a few buckets is much faster
        self._buckets = compile is not None or (self.device.type == "cpu" and self.dtype != torch.float32)
        # features: the Zero net's, or AlphaGo's 48 planes (+ colour for the value net, computed once for both)
        if self.kind == "zero":
            self._fs = feature_set(model.config.feature_set)
        elif value_model is not None:
            self._fs = feature_set("alphago49")
        else:
            self._fs = feature_set("alphago48")
        self.history_length = self._fs.history
        self._encoder = FeatureEncoder(self._fs, size)
        n2 = size * size
        perms = [torch.from_numpy(np.array(flat_permutation(size, k)[:n2])) for k in range(NUM_SYMMETRIES)]
        back = [torch.from_numpy(np.array(flat_permutation(size, inverse(k)))) for k in range(NUM_SYMMETRIES)]
        self._perm = torch.stack(perms)  # [8, N²]   planes of the transformed position: x[..., perm[k]]
        self._back = torch.stack(back)  # [8, N²+1] policy back to the original frame: p[..., back[k]]

    # --- set-up ----------------------------------------------------------------------------------------------------

    def _prepare(self, model: torch.nn.Module | None, compile: str | None):
        if model is None:
            return None
        model = model.eval().to(self.device, dtype=self.dtype)
        if self.channels_last:
            model = model.to(memory_format=torch.channels_last)
        for p in model.parameters():
            p.requires_grad_(False)
        if compile:
            mode = None if compile == "default" else compile
            model = torch.compile(model, mode=mode, dynamic=False)
        return model

    @property
    def has_value(self) -> bool:
        """Whether the values come from a network (a policy net alone returns 0: use rollouts, λ = 1)."""
        return self.kind == "zero" or self.value_model is not None

    @property
    def reads_states(self) -> bool:
        """Whether :meth:`evaluate` reads the batch's board states: for the cache's keys (the ko point) and the
        AlphaGo planes; Zero planes without a cache read only the history. Self-play leaves them out when not."""
        return bool(self.cache_size) or not self._fs.is_zero

    @property
    def has_policy(self) -> bool:
        return self.kind in ("zero", "lee-policy")

    # --- the Evaluator protocol --------------------------------------------------------------------------------------

    def evaluate(self, batch) -> tuple[np.ndarray, np.ndarray]:
        t0 = time.perf_counter()
        count = batch.count
        n2 = self.size * self.size
        todo, want = self._rows_needed(batch)
        if not self.cache_size and todo is None:  # no cache: no keys, no lookups, no copy unless it must be split
            if count <= self.max_batch:
                priors, values = self._evaluate_rows(batch, None, want)
            else:
                priors = np.zeros((count, n2 + 1), np.float32)
                values = np.zeros(count, np.float32)
                for lo in range(0, count, self.max_batch):
                    rows = np.arange(lo, min(count, lo + self.max_batch), dtype=np.int64)
                    priors[rows], values[rows] = self._evaluate_rows(batch, rows, want)
            self.stats.calls += 1
            self.stats.positions += count
            self.stats.total_s += time.perf_counter() - t0
            return priors, values
        priors = self._uniform(batch)  # what the rows skipped get: valid priors the search does not read
        values = np.zeros(count, np.float32)
        rows_asked = np.arange(count, dtype=np.int64) if todo is None else todo
        self.stats.skipped += count - len(rows_asked)
        keys = self._keys(batch) if self.cache_size else None
        misses = []
        for i in rows_asked:
            hit = self._cache.get(keys[i]) if keys is not None and keys[i] is not None else None
            if hit is None:
                misses.append(i)
            else:
                self._cache.move_to_end(keys[i])
                priors[i], values[i] = hit
        self.stats.cache_hits += len(rows_asked) - len(misses)
        for lo in range(0, len(misses), self.max_batch):
            rows = np.asarray(misses[lo : lo + self.max_batch], np.int64)
            p, v = self._evaluate_rows(batch, rows, want)
            priors[rows] = p
            values[rows] = v
            if keys is not None:
                for j, i in enumerate(rows):
                    if want is None or want[i]:  # priors computed: worth keeping
                        self._cache[keys[i]] = (p[j], float(v[j]))
                while len(self._cache) > self.cache_size:
                    self._cache.popitem(last=False)
        self.stats.calls += 1
        self.stats.positions += count
        self.stats.total_s += time.perf_counter() - t0
        return priors, values

    def evaluate_planes(self, planes: np.ndarray, legal: np.ndarray, symmetries: np.ndarray | None = None):
        """The networks on ready-made feature planes ``[B, C, N, N]`` (the benchmark and tests): ``(priors,
        values)`` with the same masking and temperature as :meth:`evaluate`, no cache."""
        x = torch.from_numpy(np.ascontiguousarray(planes, np.float32))
        if symmetries is None:
            symmetries = self._draw_symmetries(x.shape[0])
        return self._forward(x, torch.from_numpy(np.asarray(legal, np.bool_)), symmetries)

    # --- internals ---------------------------------------------------------------------------------------------------

    def _rows_needed(self, batch) -> tuple[np.ndarray | None, np.ndarray | None]:
        """``(todo, want)``: the rows that need the network at all (None: every row) and, among the batch's rows,
        those whose priors the search reads (None: all of them), from ``batch.expand`` (the leaves the search
        expands) and ``batch.values_needed``. Without values (λ = 1) only the expanding leaves need the network; an
        AlphaGo policy net alone is the same (its value is 0); with an AlphaGo value net every row needs the value
        and only the expanding ones the policy; a Zero net gives both in one pass for every row."""
        expand = getattr(batch, "expand", None)
        if expand is None:
            return None, None
        expand = np.asarray(expand[: batch.count], np.bool_)
        if not getattr(batch, "values_needed", True) or (self.kind == "lee-policy" and self.value_model is None):
            return np.flatnonzero(expand), None
        if self.kind == "lee-policy":
            return None, expand
        return None, None

    def _uniform(self, batch) -> np.ndarray:
        """Priors uniform over the legal moves, pass weighted by ``pass_weight`` (float32 ``[count, N*N+1]``)."""
        p = batch.legal[: batch.count].astype(np.float32)
        p[:, -1] *= self.pass_weight
        return p / np.maximum(p.sum(axis=1, keepdims=True), 1e-30)

    def _keys(self, batch) -> list[bytes]:
        hist = batch.history[:, : self.history_length]
        ko = batch.states.meta[: batch.count, K.M_KO]
        out = []
        for i in range(batch.count):
            h = hashlib.blake2b(hist[i].tobytes(), digest_size=16)
            h.update(bytes((int(batch.to_move[i]),)))
            h.update(int(ko[i]).to_bytes(8, "little", signed=True))
            out.append(h.digest())
        return out

    def _draw_symmetries(self, b: int) -> np.ndarray:
        if self.symmetry == "random":
            return self._rng.integers(0, NUM_SYMMETRIES, size=b)
        return np.zeros(b, np.int64)

    def _evaluate_rows(
        self, batch, rows: np.ndarray | None, want: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """The networks on the rows ``rows`` of ``batch`` (None: all its ``count`` rows, read in place); an AlphaGo
        policy net only on those of them that ``want`` (over the batch's rows; None: all) marks."""
        t0 = time.perf_counter()
        if rows is None:
            planes = self._encoder.encode(batch)
            legal = torch.from_numpy(np.ascontiguousarray(batch.legal[: batch.count]))
        else:
            planes = self._encoder.encode(_sub_batch(batch, rows, with_states=not self._fs.is_zero))
            legal = torch.from_numpy(np.ascontiguousarray(batch.legal[rows]))
        t1 = time.perf_counter()
        self.stats.feature_s += t1 - t0
        if want is not None:
            want = want if rows is None else want[rows]
            if want.all():
                want = None
        out = self._forward(torch.from_numpy(planes), legal, self._draw_symmetries(planes.shape[0]), want)
        self.stats.network_s += time.perf_counter() - t1
        return out

    @torch.inference_mode()
    def _forward(self, x: torch.Tensor, legal: torch.Tensor, symmetries: np.ndarray, want: np.ndarray | None = None):
        """Priors and values of the positions ``x`` (planes); the policy only for the rows ``want`` marks (None:
        all; the others get uniform priors over their legal moves)."""
        b, c, n, _ = x.shape
        n2 = n * n
        if self.symmetry == "all":
            ks = torch.arange(NUM_SYMMETRIES).repeat_interleave(b)
            x = x.repeat(NUM_SYMMETRIES, 1, 1, 1)
        else:
            ks = torch.as_tensor(np.asarray(symmetries, np.int64))
        rows = x.shape[0]
        self.stats.rows += rows
        flat = x.reshape(rows, c, n2)
        idx = self._perm[ks].unsqueeze(1).expand(rows, c, n2)
        xt = torch.gather(flat, 2, idx).reshape(rows, c, n, n)
        if want is not None and self.symmetry == "all":
            want = np.tile(want, NUM_SYMMETRIES)  # the rows are symmetry-major: k * b + i
        logits, value = self._run_nets(xt, want)
        if logits is not None:
            if logits.shape[1] == n2:  # Lee policy: no pass output; pass is added after the softmax
                logits = torch.cat([logits, logits.new_zeros((rows, 1))], dim=1)
            logits = torch.gather(logits, 1, self._back[ks])
            if self.symmetry == "all":
                logits = logits.reshape(NUM_SYMMETRIES, b, n2 + 1)
            else:
                logits = logits.reshape(1, b, n2 + 1)
            priors = self._softmax(logits, legal)
        else:
            priors = legal.to(torch.float32)
            priors[:, n2] *= self.pass_weight
            priors = priors / priors.sum(dim=1, keepdim=True).clamp_min(1e-30)
        if value is not None:
            value = value.reshape(-1, b).mean(0)
        else:
            value = torch.zeros(b)
        return priors.numpy().astype(np.float32), value.numpy().astype(np.float32)

    def _softmax(self, logits: torch.Tensor, legal: torch.Tensor) -> torch.Tensor:
        """Mean over the symmetry axis of softmax(logits / β) over the legal moves. A Lee policy has no pass
        output: pass gets ``pass_weight`` times the mean probability of a legal point afterwards."""
        n2 = logits.shape[2] - 1
        lee = self.kind == "lee-policy"
        mask = legal.clone()
        if lee:
            mask[:, n2] = False
        z = logits / self.policy_temperature
        z = z.masked_fill(~mask.unsqueeze(0), float("-inf"))
        z = z - z.amax(dim=2, keepdim=True).clamp_min(-1e30)
        p = torch.exp(z)
        p = p / p.sum(dim=2, keepdim=True).clamp_min(1e-30)
        p = p.mean(0)
        if lee:
            legal_points = mask[:, :n2].sum(1).clamp_min(1)
            p[:, n2] = self.pass_weight / legal_points
            p = p / p.sum(dim=1, keepdim=True).clamp_min(1e-30)
        empty = p.sum(1) <= 0  # no legal move but pass
        if empty.any():
            p[empty, n2] = 1.0
        return p

    def _run_nets(self, x: torch.Tensor, want: np.ndarray | None = None):
        """The networks on ``x``; an AlphaGo policy net only on the rows ``want`` marks (None: all), zero logits
        elsewhere."""
        rows = x.shape[0]
        x = x.to(self.device, dtype=self.dtype, non_blocking=True)
        logits = value = None
        if self.kind == "zero":
            logits, value = self._batched(self.model, x)
        else:
            if self.model is not None:
                xp = x[:, :48] if self.value_model is not None else x
                if want is None:
                    logits = self._batched(self.model, xp)
                    self.stats.policy_rows += rows
                else:
                    idx = torch.from_numpy(np.flatnonzero(want))
                    logits = torch.zeros((rows, self.size * self.size), dtype=torch.float32)
                    if idx.numel():
                        logits[idx] = self._batched(self.model, xp[idx.to(xp.device)]).float().cpu()
                    self.stats.policy_rows += int(idx.numel())
            if self.value_model is not None:
                value = self._batched(self.value_model, x)
        if logits is not None:
            logits = logits.float().cpu()
        if value is not None:
            value = value.float().reshape(-1).cpu()
        return logits, value

    def _batched(self, model, x: torch.Tensor):
        """``model(x)``, padded to a bucket of rows when shapes matter (compiled or bf16 on a CPU), cut back."""
        rows = x.shape[0]
        pad = _bucket(rows, self.max_batch) - rows if self._buckets else 0
        if pad:
            x = torch.cat([x, x.new_zeros((pad, *x.shape[1:]))])
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        out = model(x)
        if isinstance(out, tuple):
            return tuple(o[:rows] for o in out)
        return out[:rows]


def _kind(model) -> str | None:
    if model is None:
        return None
    cfg = getattr(model, "config", None)
    if cfg is None:
        raise ValueError("the model has no config (build it with nets.models.build_model or load a checkpoint)")
    return cfg.kind


def _bucket(rows: int, cap: int) -> int:
    b = 1
    while b < rows:
        b *= 2
    return max(rows, min(b, cap))


def _sub_batch(batch, rows: np.ndarray, with_states: bool = True):
    """The rows ``rows`` of a :class:`~igo.engine.search.LeafBatch` as a new one (copies). ``with_states=False``: the
    board states are not copied but left as they are (all rows), for the Zero planes, which do not read them."""
    from igo.engine.search import LeafBatch

    states = take_slots(batch.states, rows) if with_states else batch.states
    expand = getattr(batch, "expand", None)
    return LeafBatch(batch.size, len(rows), states, batch.history[rows], batch.to_move[rows], batch.legal[rows],
                     None if expand is None else expand[rows])  # fmt: skip


__all__ = [
    "NetEvaluator",
    "EvalStats",
]
