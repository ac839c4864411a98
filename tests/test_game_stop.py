"""Tests for stopping tournament games without ``ray.cancel`` (igo.selfplay.game_task): ``play_game``'s ``stop`` hook
shuts the engines down, the :class:`FlagPoller` asks the driver's :class:`StopFlag` actor, and a game task whose flag
is set returns ``{"stopped": True}``."""

from __future__ import annotations

import random
import sys
import time
from pathlib import Path

import pytest

from igo.selfplay.game_task import FlagPoller, StopFlag, play_game_task
from igo.selfplay.gtp_players import PlayerSpec
from igo.selfplay.match import GameStopped, play_game

from .test_tournament_interrupt import _engines_with


def _random_player(name: str, marker: str) -> PlayerSpec:
    return PlayerSpec(name, [sys.executable, "-m", "igo.cli", "gtp", "--player", "random", "--seed", marker])


def _gone(marker: str, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while _engines_with(marker) and time.monotonic() < deadline:
        time.sleep(0.1)
    return not _engines_with(marker)


def test_a_game_asked_to_stop_before_it_starts_starts_no_engine():
    asked = []
    black = PlayerSpec("b", ["/nonexistent/engine"])  # would fail to start: it is never started
    with pytest.raises(GameStopped, match="before the game started"):
        play_game(black, black, size=5, stop=lambda: asked.append(1) or True)
    assert asked == [1]


@pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="needs /proc to look for engine processes")
def test_a_game_stopped_between_moves_shuts_its_engines_down(tmp_path):
    marker = str(random.randrange(10**8, 10**9))
    calls = []

    def stop() -> bool:  # asked before the engines start, then before each move: stop before the third move
        calls.append(1)
        return len(calls) == 4

    sgf = tmp_path / "g.sgf"
    with pytest.raises(GameStopped, match="stopped at move 3"):
        play_game(_random_player("a", marker), _random_player("b", marker + "1"), size=5, stop=stop, sgf_path=sgf)
    assert len(calls) == 4 and not sgf.exists()  # a stopped game is not written
    assert _gone(marker), "the engines of a stopped game were left running"
    # without a stop, or one that never says so, the same game plays to its end
    game = play_game(_random_player("a", marker), _random_player("b", marker + "1"), size=5, stop=lambda: False)
    assert game.moves > 2 and game.result
    assert _gone(marker)


def test_the_poller_asks_the_flag_at_most_every_so_often_and_a_lost_flag_stops(ray_local):
    ray = ray_local
    assert FlagPoller(None)() is False
    flag = ray.remote(num_cpus=0)(StopFlag).remote()
    poller = FlagPoller(flag, every=3600.0)
    assert poller() is False
    ray.get(flag.set.remote())
    assert poller() is False  # not asked again within the hour
    poller._next = 0.0
    assert poller() is True and poller() is True  # once stopped, stays stopped
    fresh = ray.remote(num_cpus=0)(StopFlag).remote()
    quick = FlagPoller(fresh, every=0.0)
    assert quick() is False
    ray.kill(fresh)  # the driver is gone: its games stop
    deadline = time.monotonic() + 30
    while not quick() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert quick() is True


def test_a_game_task_whose_flag_is_set_returns_stopped(ray_local, tmp_path):
    ray = ray_local
    marker = str(random.randrange(10**8, 10**9))
    a, b = _random_player("a", marker), _random_player("b", marker + "1")
    game = {"id": "a vs b #001", "a": "a", "b": "b", "index": 1, "black": "a", "white": "b", "black_argv": a.command,
            "white_argv": b.command, "opening": [], "opening_name": None}  # fmt: skip
    settings = {"size": 5, "komi": 7.5, "move_limit": None, "move_timeout": 30.0, "referee": "tromp-taylor"}
    flag = ray.remote(num_cpus=0)(StopFlag).remote()
    ray.get(flag.set.remote())
    assert play_game_task(game, settings, flag) == {"stopped": True}
    assert _gone(marker)
    out = play_game_task(game, settings, ray.remote(num_cpus=0)(StopFlag).remote())  # not set: played
    assert out["row"]["status"] == "done" and out["row"]["id"] == "a vs b #001" and out["sgf"]
