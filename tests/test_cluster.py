"""Tests for selfplay.cluster: Ray started quietly (no token-authentication notice, no INFO lines in igo's output)."""

from __future__ import annotations

import logging
import subprocess
import sys

import pytest

from igo.selfplay.cluster import TOKEN_ENABLED_NOTICE, TOKEN_NOTICE_LOGGER, quiet_ray


class _Keep(logging.Handler):
    def __init__(self):
        super().__init__()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def test_quiet_ray_drops_the_token_enabled_notice_only():
    logger = logging.getLogger(TOKEN_NOTICE_LOGGER)
    keep = _Keep()
    logger.addHandler(keep)
    try:
        quiet_ray()
        quiet_ray()  # once is enough; twice adds nothing
        assert sum(type(f).__name__ == "_DropTokenEnabledNotice" for f in logger.filters) == 1
        logger.warning(f"{TOKEN_ENABLED_NOTICE} for this Ray cluster. Set RAY_AUTH_MODE=disabled to opt out.")
        off = "Token authentication is disabled for this Ray cluster. Anyone with network access ..."
        logger.warning(off)
        assert keep.messages == [off]
    finally:
        logger.removeHandler(keep)


def test_the_notice_is_the_one_this_ray_prints():
    """The filter is aimed at Ray's own logger and words (Ray 2.60); a Ray without them has nothing to drop."""
    import inspect

    module = pytest.importorskip("ray._private.authentication.authentication_token_setup")
    assert module.logger.name == TOKEN_NOTICE_LOGGER
    assert f'"{TOKEN_ENABLED_NOTICE} for this Ray cluster. Set "' in inspect.getsource(module)


SCRIPT = """
from igo.selfplay.cluster import init_ray
import ray
assert init_ray(None, 1) is True
assert init_ray(None, 1) is False  # already running: the caller must not shut it down
ray.shutdown()
print("done")
"""


def test_init_ray_starts_a_local_ray_quietly():
    pytest.importorskip("ray")
    r = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=180)
    assert r.returncode == 0 and r.stdout.strip() == "done", r.stderr
    assert "Token authentication" not in r.stderr  # Ray 2.60 prints it on every local start
    assert "Started a local Ray instance" not in r.stderr  # Ray's INFO lines show with igo -v only
