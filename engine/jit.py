"""How igo compiles its Numba kernels.

``@kernel`` is ``numba.njit`` with the house settings: ``cache=True`` (a second start loads machine code from disk),
``nogil=True`` (kernels run on threads in parallel) and **no reference counting** (``_nrt=False``).

Why no reference counting: Numba increments and decrements an atomic reference count for every array handed to a
compiled function, and our state is a tuple of ten arrays. Measured here, that made a call of a three-line helper cost
~90 ns instead of ~1 ns, and it was most of the time of a playout. Kernels compiled this way must not allocate (no
``np.empty`` inside); they work in arrays their caller owns (``BoardState.scratch``).

Why a cache directory of our own: Numba's cache is keyed by the source file of each function only, so a kernel that
calls a kernel or reads a constant of *another* module keeps stale machine code when that other module changes. The
cache therefore lives in a directory named by a hash of all of ``engine/``'s sources
(``~/.cache/igo/numba/<hash>``, or under ``$XDG_CACHE_HOME``): any change to the engine starts a fresh cache. Set
``NUMBA_CACHE_DIR`` to choose the directory yourself (then clear it after changing kernels).

Calls between kernels are real calls, not inlined: a kernel that takes a :class:`BoardState` passes eleven array
structs (about 80 machine words) on each call, ~20 ns. The few helpers called once per candidate move in the hot
loops (``basic_legality``, ``is_eye``, the search's heuristic prior) are therefore ``@kernel(inline="always")``,
inlined by Numba into their callers: measured, a node's expansion went from 3.9 to 1.1 µs and a playout got 10%
faster, for about 6 s more cold compile time (``igo warmup`` 45 → 51 s on a busy 2-core machine).

``@inner_kernel`` is ``@kernel`` for helpers that only other kernels call: no Python entry point is compiled for
them (see :func:`inner_kernel`). It uses Numba's ``no_cpython_wrapper``/``no_cfunc_wrapper`` compile flags, which
Numba uses itself for internal functions; ``tests/test_warmup.py`` checks that such a helper still refuses a call
from Python, so a Numba release that changes them shows up there.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numba
from numba import njit
from numba.core.registry import CPUDispatcher


def _engine_cache_dir() -> str:
    h = hashlib.sha256()
    for f in sorted(Path(__file__).resolve().parent.glob("*.py")):
        h.update(f.name.encode())
        h.update(f.read_bytes())
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "igo" / "numba"
    return str(base / h.hexdigest()[:16])


if not os.environ.get("NUMBA_CACHE_DIR"):
    numba.config.CACHE_DIR = _engine_cache_dir()


def kernel(fn=None, **options):
    """Decorator: ``@kernel`` or ``@kernel(inline="always")``."""
    settings = {"cache": True, "nogil": True, "_nrt": False, **options}
    if fn is None:
        return lambda f: njit(**settings)(f)
    return njit(**settings)(fn)


class _InnerDispatcher(CPUDispatcher):
    """The dispatcher of an :func:`inner_kernel`: it registers no entry point for Python, so that a call from Python
    raises TypeError rather than jumping into the wrapper that was never compiled."""

    def _compile_for_args(self, *args, **kws):
        raise TypeError(f"{self.py_func.__module__}.{self.py_func.__name__} is called by other kernels only")

    def add_overload(self, cres):
        self.overloads[tuple(cres.signature.args)] = cres


def inner_kernel(fn):
    """``@kernel`` for a helper that only other kernels call: compiled without the CPython and C entry points that a
    call from Python needs. Numba builds, optimises and emits those wrappers for every function it compiles, even one
    never called from Python; for arguments such as a :class:`BoardState` of eleven arrays they were about a third of
    the cold compile time of the search. Calling one from Python raises TypeError."""
    d = kernel(fn, no_cpython_wrapper=True, no_cfunc_wrapper=True)
    if isinstance(d, CPUDispatcher):  # a plain function under NUMBA_DISABLE_JIT
        d.__class__ = _InnerDispatcher
    return d
