"""The CPU cores a process may use, and how a player splits them between its search and its network.

:func:`core_budget` is the one place that counts them: the cores of this process's CPU affinity (``taskset``, a
container's cpuset, a Ray worker's share), no more than ``OMP_NUM_THREADS`` when that is set (Ray sets it to the CPUs
it gave a task or an actor). :func:`split_threads` divides a budget between the search threads and the network's
(torch's intra-op) threads so that the two never ask for more cores than there are; the trainers use the whole budget
for torch. Nothing here imports torch, so the search and the command-line parsers can use it.

Measured on a 2-core machine with one busy background process: ``igo bench search-nn`` made 1,055 simulations/s with
2 torch threads and 2,902 with 1 — a thread more than the free cores costs far more than it gains.
"""

from __future__ import annotations

import os

__all__ = ["affinity_cores", "core_budget", "split_threads"]


def _omp_limit() -> int | None:
    """``OMP_NUM_THREADS`` as a positive integer, or None when it is unset or not one (a junk value is ignored, as
    the OpenMP runtime ignores it)."""
    text = os.environ.get("OMP_NUM_THREADS", "").strip()
    try:
        value = int(text)
    except ValueError:
        return None
    return value if value >= 1 else None


def affinity_cores() -> int:
    """The cores of this process's CPU affinity (``os.sched_getaffinity``; the CPU count where the OS has no
    affinity), at least 1, whatever ``OMP_NUM_THREADS`` says: what a local Ray may hand out to its tasks."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        cores = os.cpu_count() or 1
    return max(1, cores)


def core_budget() -> int:
    """The cores this process may use, at least 1: those of its CPU affinity (:func:`affinity_cores`), capped by
    ``OMP_NUM_THREADS`` when that is a positive integer."""
    cores = affinity_cores()
    limit = _omp_limit()
    return cores if limit is None else min(cores, limit)


def split_threads(
    budget: int,
    *,
    networks: bool,
    rollouts: bool,
    threads: int | None = None,
    nn_threads: int | None = None,
) -> tuple[int, int]:
    """``(search threads, network threads)`` for a player given ``budget`` cores; ``threads`` / ``nn_threads`` when
    given win, the other is chosen around them.

    Why these defaults (see :meth:`igo.engine.search.MCTS._run_batch`):

    - **no networks** (``networks=False``): the search alone uses the cores — the rollout search plays out its leaves
      on ``threads`` threads and scales with them — so search threads = the budget; the network threads (1) are
      unused.
    - **networks and rollouts** (λ > 0: an AlphaGo policy net with rollouts, or a value net mixed with them): the
      rollouts run on the search threads *while* the network evaluates the same leaves on its own threads, so the two
      add up: search = max(1, budget // 2), network = max(1, budget - search) (1 and 1 on 2 cores; with an explicit
      one, the other gets what is left, at least 1).
    - **networks without rollouts** (λ = 0, a Zero net): the search thread only walks the tree between network calls
      and waits while the network runs, so search = 1 and the network gets the whole budget.

    With a budget of 1 and λ > 0 the two threads share the core (at least one of each is needed)."""
    for name, value in (("budget", budget), ("threads", threads), ("nn_threads", nn_threads)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise ValueError(f"{name} must be an integer of at least 1, got {value!r}")
    if not networks:
        search, nn = budget, 1
    elif rollouts:
        if threads is not None and nn_threads is None:
            search, nn = threads, max(1, budget - threads)
        elif nn_threads is not None and threads is None:
            search, nn = max(1, budget - nn_threads), nn_threads
        else:
            search = max(1, budget // 2)
            nn = max(1, budget - search)
    else:
        search, nn = 1, budget
    return (search if threads is None else threads), (nn if nn_threads is None else nn_threads)
