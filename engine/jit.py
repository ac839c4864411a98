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
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numba
from numba import njit


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
