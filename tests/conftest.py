"""Fixtures shared by several test modules."""

import pytest


@pytest.fixture(scope="module")
def ray_local():
    """A local Ray of 2 CPUs (igo's own ``init_ray``) for the tests of one module, shut down after them."""
    ray = pytest.importorskip("ray")
    from igo.selfplay.cluster import init_ray

    init_ray(None, 2)
    yield ray
    ray.shutdown()
