"""Fixtures shared by several test modules.

IGO_DEFAULT_NET=none: the tests choose their networks; a shipped default 9x9 net must not slip into the 9x9 tests
of gtp/play/tournaments (tests/test_default_net.py sets the variable itself)."""

import os

import pytest

os.environ.setdefault("IGO_DEFAULT_NET", "none")


@pytest.fixture(scope="module")
def ray_local():
    """A local Ray of 2 CPUs (igo's own ``init_ray``) for the tests of one module, shut down after them."""
    ray = pytest.importorskip("ray")
    from igo.selfplay.cluster import init_ray

    init_ray(None, 2)
    yield ray
    ray.shutdown()
