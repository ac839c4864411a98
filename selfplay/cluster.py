"""Starting or joining Ray, with a clear error instead of a hang when a cluster address cannot be reached, and
quietly: :func:`quiet_ray` drops Ray's notice that token authentication is on (Ray turns it on for a new local
cluster, and for ``auto`` when a token exists, and says so on every start, into igo's progress lines); a notice
that it is *off* still shows. Ray's own INFO lines ("Started a local Ray instance") show with ``igo -v`` only."""

from __future__ import annotations

import logging
import socket

from igo.engine.cores import affinity_cores

log = logging.getLogger(__name__)


TOKEN_NOTICE_LOGGER = "ray._private.authentication.authentication_token_setup"
"""The logger of Ray's token-authentication notices (Ray 2.60; another Ray without it: nothing to drop)."""
TOKEN_ENABLED_NOTICE = "Token authentication is enabled"
"""How Ray's notice that token authentication is on begins."""


class _DropTokenEnabledNotice(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(TOKEN_ENABLED_NOTICE)


def quiet_ray() -> None:
    """Drop Ray's "Token authentication is enabled for this Ray cluster ..." warning (a logging filter on its logger;
    safe to call again). Call before ``ray.init``; :func:`init_ray` does."""
    logger = logging.getLogger(TOKEN_NOTICE_LOGGER)
    if not any(isinstance(f, _DropTokenEnabledNotice) for f in logger.filters):
        logger.addFilter(_DropTokenEnabledNotice())


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
    """Join the cluster at ``address`` or start a local Ray with ``num_cpus`` CPUs (default: the cores this process
    may use, :func:`igo.engine.cores.affinity_cores`);
    returns False when Ray was already initialised (the caller then must not shut it down)."""
    import ray

    if ray.is_initialized():
        return False
    quiet_ray()
    # Ray's INFO lines only when igo logs at INFO (igo -v)
    level = logging.INFO if logging.getLogger("igo").isEnabledFor(logging.INFO) else logging.WARNING
    try:
        if address:
            check_reachable(address)
            ray.init(address=address, log_to_driver=False, logging_level=level)
        else:
            ray.init(
                num_cpus=num_cpus or affinity_cores(),
                include_dashboard=False,
                log_to_driver=False,
                logging_level=level,
            )
    except ClusterError:
        raise
    except (ConnectionError, TimeoutError, RuntimeError, ValueError) as e:
        where = f"the Ray cluster at {address}" if address else "a local Ray"
        raise ClusterError(f"cannot start or reach {where}: {type(e).__name__}: {e}") from None
    return True


__all__ = ["ClusterError", "check_reachable", "init_ray", "quiet_ray"]
