"""First use: :mod:`igo.engine.warmup` and ``igo warmup``, and the compile announcement of ``igo gtp`` and ``igo play``.

One fixture compiles: ``igo warmup`` into a private Numba cache (``NUMBA_CACHE_DIR``) seeded with a copy of the
suite's own cache minus one kernel, so that it compiles that kernel and whatever the suite has not compiled yet —
about a second after the other tests, up to a minute on two cores when it runs first on a fresh machine. The
command tests after it use that cache, again minus one small kernel (the board's ``init_state``), so each compiles
only that. The rest needs no compiler: Numba's compile events are simulated.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from numba.core import event

from igo.cli import main
from igo.engine import board_kernels as K
from igo.engine.features import feature_set
from igo.engine.player import MCTSPlayer, PlayerConfig, PolicyPlayer, RandomPlayer
from igo.engine.warmup import Announcer, Step, all_steps, player_steps, warm_up

IGO = [sys.executable, "-m", "igo.cli"]


def _fake_compile() -> None:
    """What Numba broadcasts when it starts (and ends) compiling a kernel the cache lacks."""
    with event.trigger_event("numba:compile", data={}):
        pass


# --- the announcement, without compiling ------------------------------------------------------------------------------


def test_announcer_says_compiling_once_and_ready_at_the_end():
    out = io.StringIO()
    with Announcer(21.0, out):
        _fake_compile()
        _fake_compile()
    lines = out.getvalue().splitlines()
    assert lines[0] == "igo: compiling search kernels (first run only, about 20 s)..."
    assert len(lines) == 2 and lines[1].startswith("igo: kernels ready in ") and lines[1].endswith(" s")


def test_announcer_is_silent_when_nothing_compiles():
    out = io.StringIO()
    with Announcer(21.0, out):
        pass
    _fake_compile()  # after the announcer: not its business
    assert out.getvalue() == ""


def test_warm_up_reports_each_step_with_its_compiles():
    seen = []
    steps = [
        Step("a", "cached", 1.0, lambda: None),
        Step("b", "compiles", 1.0, lambda: [_fake_compile() for _ in "xy"]),
    ]
    results = warm_up(steps, seen.append)
    assert seen == results
    assert [(r.step.name, r.compiled) for r in results] == [("a", 0), ("b", 2)]
    assert all(r.seconds >= 0 for r in results)


def test_a_failing_step_propagates():
    def broken() -> None:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        warm_up([Step("x", "broken", 1.0, broken)])


def test_inner_kernels_refuse_python_calls():
    s = K.new_state(5)
    with pytest.raises(TypeError, match="_merge is called by other kernels only"):
        K._merge(s, 8, 9)


# --- which steps a player needs ---------------------------------------------------------------------------------------


class _ZeroStandIn:
    """Looks like a Zero net's evaluator to :func:`player_steps` (it is never run here)."""

    history_length = 8
    feature_set = feature_set("zero8")
    size = 9

    def evaluate(self, batch):  # pragma: no cover
        raise AssertionError("not run")


def test_player_steps_follow_the_player():
    names = lambda steps: [s.name for s in steps]  # noqa: E731
    assert names(player_steps(RandomPlayer(seed=1))) == ["board", "random"]
    policy = PolicyPlayer(lambda planes: np.zeros((len(planes), 81), np.float32), 9)
    assert names(player_steps(policy)) == ["board", "features"]
    one = player_steps(MCTSPlayer(PlayerConfig(threads=1)))
    assert names(one) == ["board", "search", "ownership"] and one[1].label.endswith("one thread")
    assert player_steps(MCTSPlayer(PlayerConfig(threads=3)))[1].label.endswith("several threads")
    zero = player_steps(MCTSPlayer(PlayerConfig(threads=1), _ZeroStandIn()))
    assert names(zero) == ["board", "search", "ownership"] and "zero8" in zero[1].label
    rollout = player_steps(MCTSPlayer(PlayerConfig(threads=1), rollout_policy=np.zeros(10, np.float32)))
    assert "rollout policy" in rollout[1].label
    assert {"board", "search", "ownership", "zero", "alphago", "rollout-policy"} <= set(names(all_steps()))


def test_warmup_help_says_when_to_run_it(capsys):
    with pytest.raises(SystemExit) as e:
        main(["warmup", "--help"])
    assert e.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "after installing or updating igo" in text and "Ray cluster" in text and "CI" in text


# --- the commands, on a private cache ---------------------------------------------------------------------------------


def _suite_cache() -> Path:
    import numba

    import igo.engine.jit  # noqa: F401  (sets numba's cache directory unless NUMBA_CACHE_DIR does)

    return Path(numba.config.CACHE_DIR)


def _drop(cache: Path, kernel: str) -> int:
    """Remove the cache index of ``kernel`` (``module.name``): its next use compiles it. Returns how many."""
    files = list(cache.rglob(f"{kernel}-*.nbi"))
    for f in files:
        f.unlink()
    return len(files)


def _env(cache: Path) -> dict[str, str]:
    return {**os.environ, "NUMBA_CACHE_DIR": str(cache), "PYTHONUNBUFFERED": "1"}


@pytest.fixture(scope="module")
def warmed(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    """``igo warmup`` into a private cache seeded from the suite's, minus ``init_state``: the one compiling run."""
    cache = tmp_path_factory.mktemp("numba") / "cache"
    src = _suite_cache()
    if src.is_dir():
        shutil.copytree(src, cache, ignore=shutil.ignore_patterns("*.tmp.*"))
    _drop(cache, "board_kernels.init_state")
    r = subprocess.run([*IGO, "warmup"], env=_env(cache), capture_output=True, text=True, timeout=900, check=False)
    return cache, r


def test_warmup_compiles_what_is_missing_and_says_so(warmed):
    _cache, r = warmed
    assert r.returncode == 0, r.stderr
    assert r.stderr.startswith("igo: compiling igo's kernels (first run only, about "), r.stderr
    assert "igo: kernels ready in " in r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].startswith("igo warmup: 9 groups of kernels, cache ")
    board = next(line for line in lines if "board and rules" in line)
    assert "compiled" in board  # init_state, at least
    assert lines[-1].startswith("igo warmup: ready in ") and "compiled and cached" in lines[-1]


def test_warmup_on_a_warm_cache_only_loads(warmed):
    cache, _ = warmed
    r = subprocess.run([*IGO, "warmup"], env=_env(cache), capture_output=True, text=True, timeout=300, check=False)
    assert r.returncode == 0, r.stderr
    assert "compiling" not in r.stderr
    groups = r.stdout.splitlines()[1:-1]
    assert len(groups) == 9 and all(line.endswith("already compiled") for line in groups)
    assert "everything was in the cache" in r.stdout


def _private_copy(cache: Path, tmp_path: Path, drop: str | None) -> Path:
    mine = tmp_path / "cache"
    shutil.copytree(cache, mine)
    if drop:
        assert _drop(mine, drop) >= 1
    return mine


GTP_SCRIPT = "boardsize 7\nclear_board\ngenmove b\nquit\n"
GTP = [*IGO, "gtp", "--size", "7", "--playouts", "16", "--threads", "1", "--seed", "1"]


def test_gtp_announces_a_compile_before_its_first_answer(warmed, tmp_path):
    cache = _private_copy(warmed[0], tmp_path, "board_kernels.init_state")
    r = subprocess.run(GTP, input=GTP_SCRIPT, env=_env(cache), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, timeout=300, check=False)  # fmt: skip
    assert r.returncode == 0, r.stdout
    out = r.stdout
    note = out.find("igo: compiling search kernels (first run only, about ")
    first_answer = out.find("= ")
    assert 0 <= note < first_answer, out


def test_gtp_from_a_warm_cache_says_nothing(warmed, tmp_path):
    cache = _private_copy(warmed[0], tmp_path, None)
    r = subprocess.run(GTP, input=GTP_SCRIPT, env=_env(cache), capture_output=True, text=True, timeout=300, check=False)
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("= ") == 4 and "igo:" not in r.stderr


def test_play_announces_a_compile_before_the_board(warmed, tmp_path):
    cache = _private_copy(warmed[0], tmp_path, "board_kernels.init_state")
    argv = [*IGO, "play", "--size", "7", "--playouts", "16", "--threads", "1", "--seed", "1"]
    r = subprocess.run(argv, input="quit\n", env=_env(cache), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, timeout=300, check=False)  # fmt: skip
    assert r.returncode == 0, r.stdout
    note = r.stdout.find("igo: compiling search kernels (first run only, about ")
    ready = r.stdout.find("igo: kernels ready in ")
    board = r.stdout.find("igo play: 7x7")
    assert 0 <= note < ready < board, r.stdout
