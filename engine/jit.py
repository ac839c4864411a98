"""How igo compiles its Numba kernels.

``@kernel`` is ``numba.njit`` with the house settings: ``cache=True`` (a second start loads machine code from disk),
``nogil=True`` (kernels run on threads in parallel) and **no reference counting** (``_nrt=False``).

Why no reference counting: Numba increments and decrements an atomic reference count for every array handed to a
compiled function, and our state is a tuple of ten arrays. Measured here, that made a call of a three-line helper cost
~90 ns instead of ~1 ns, and it was most of the time of a playout. Kernels compiled this way must not allocate (no
``np.empty`` inside); they work in arrays their caller owns (``BoardState.scratch``). Functions that allocate use
plain ``njit(cache=True)`` and may call kernels.
"""

from __future__ import annotations

from numba import njit


def kernel(fn=None, **options):
    """Decorator: ``@kernel`` or ``@kernel(inline="always")``."""
    settings = {"cache": True, "nogil": True, "_nrt": False, **options}
    if fn is None:
        return lambda f: njit(**settings)(f)
    return njit(**settings)(fn)
