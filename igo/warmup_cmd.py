"""``igo warmup``: compile igo's Numba kernels into the cache once, so that no command pays for it later.

Run it after an install or an update of igo (the README's set-up does), on every machine of a Ray cluster, and in CI
before the tests. It runs each group of kernels of :func:`igo.engine.warmup.all_steps` (the board, the search on one
and on several threads, ownership, the network searches and their feature planes, AlphaGo's rollout policy, the
random player and benchmarks) on a tiny board and prints one line per group with its time: ``compiled N`` where
Numba compiled, ``from the cache`` where the kernels were there already. A second run only loads them. torch is not
needed: the networks are stood in for.
"""

from __future__ import annotations

import argparse
import sys
import time


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.epilog = (
        "Run it once after installing or updating igo (the README's set-up does): the first use of igo's kernels "
        "compiles them (tens of seconds; a minute or two for everything on a small machine), and every later start "
        "loads them from Numba's cache in a fraction of a second. Run it on each machine of a Ray cluster and in CI "
        "before the tests, so that actors and tests do not all compile at once. The cache is under "
        "~/.cache/igo/numba (or $XDG_CACHE_HOME/igo/numba), in a directory named by a hash of the engine's sources; "
        "NUMBA_CACHE_DIR chooses another. Exits 0 when every group ran."
    )
    p.set_defaults(run=run)


def run(args) -> int:
    import numba

    from igo.engine.warmup import Announcer, all_steps, warm_up

    steps = all_steps()
    out = sys.stdout
    print(f"igo warmup: {len(steps)} groups of kernels, cache {numba.config.CACHE_DIR}", file=out, flush=True)
    width = max(len(s.label) for s in steps)
    start = time.perf_counter()
    compiled = 0

    def progress(r) -> None:
        nonlocal compiled
        compiled += r.compiled
        how = f"compiled {r.compiled}" if r.compiled else "already compiled"
        print(f"  {r.step.label:<{width}}  {r.seconds:6.1f} s  {how}", file=out, flush=True)

    with Announcer(sum(s.seconds for s in steps), what="igo's kernels"):
        warm_up(steps, progress)
    total = time.perf_counter() - start
    if compiled:
        print(f"igo warmup: ready in {total:.1f} s ({compiled} kernel signatures compiled and cached)", file=out)
    else:
        print(f"igo warmup: ready in {total:.1f} s (everything was in the cache)", file=out)
    return 0
