"""Starting or joining Ray, with a clear error instead of a hang when a cluster address cannot be reached."""

from __future__ import annotations

import logging
import os
import socket

log = logging.getLogger(__name__)


class ClusterError(ConnectionError):
    """Ray could not be started or the cluster could not be reached; the message says which and why."""


def _host_port(address: str) -> tuple[str, int] | None:
    a = address.removeprefix("ray://")
    if a == "auto" or ":" not in a:
        return None
    host, _, port = a.rpartition(":")
    try:
        return host.strip("[]"), int(port)
    except ValueError:
        raise ClusterError(f"bad Ray address {address!r}: expected host:port, ray://host:port or auto") from None


def check_reachable(address: str, timeout: float = 5.0) -> None:
    """Raise :class:`ClusterError` unless a TCP connection to the address's host and port opens within
    ``timeout`` seconds (``ray.init`` itself retries for minutes against a dead address)."""
    hp = _host_port(address)
    if hp is None:
        return
    try:
        with socket.create_connection(hp, timeout=timeout):
            pass
    except OSError as e:
        raise ClusterError(
            f"cannot reach the Ray cluster at {address} ({e}); start it with 'ray start --head' there, or check the "
            "address and the firewall"
        ) from None


def init_ray(address: str | None = None, num_cpus: int | None = None) -> bool:
    """Join the cluster at ``address`` or start a local Ray with ``num_cpus`` CPUs (default: this machine's);
    returns False when Ray was already initialised (the caller then must not shut it down)."""
    import ray

    if ray.is_initialized():
        return False
    try:
        if address:
            check_reachable(address)
            ray.init(address=address, log_to_driver=False)
        else:
            ray.init(num_cpus=num_cpus or os.cpu_count() or 1, include_dashboard=False, log_to_driver=False)
    except ClusterError:
        raise
    except (ConnectionError, TimeoutError, RuntimeError, ValueError) as e:
        where = f"the Ray cluster at {address}" if address else "a local Ray"
        raise ClusterError(f"cannot start or reach {where}: {type(e).__name__}: {e}") from None
    return True


__all__ = ["ClusterError", "check_reachable", "init_ray"]
