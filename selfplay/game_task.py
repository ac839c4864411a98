"""One tournament game as a Ray task (:func:`play_game_task`), and the :class:`StopFlag` that ends the games in
progress when the driver is interrupted.

**Stopping.** The driver never ``ray.cancel`` s a running game: a cancel that races with the game's own end crashes
Ray's core worker in the driver ("Check failed: it != submissible_tasks_.end() Tried to complete task that was not
pending", the race of ray-project/ray PR 54798, still there in Ray 2.60; it made ``igo tournament`` exit 1 instead
of 130 on Ctrl-C). Instead the driver sets a :class:`StopFlag` actor, and every game asks it, at most every
:data:`POLL_SECONDS`, before each move (:class:`FlagPoller`, the ``stop`` of :func:`igo.selfplay.match.play_game`):
a stopped game shuts its engines down and returns ``{"stopped": True}``, a game not started yet starts no engine. A
flag that cannot be reached (the driver is gone) stops the game too; one that is only slow to answer does not."""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Final

POLL_SECONDS: Final = 0.25  # the most often a game asks the flag; a stop takes at most this plus one move
ASK_TIMEOUT: Final = 10.0  # seconds a game waits for the flag's answer before playing on (asking again later)


class StopFlag:
    """A Ray actor (``ray.remote(num_cpus=0)(StopFlag).remote()``) that the driver sets to stop every game."""

    def __init__(self) -> None:
        self._set = False

    def set(self) -> None:
        self._set = True

    def is_set(self) -> bool:
        return self._set


class FlagPoller:
    """``poller()`` → whether the games should stop: asks the :class:`StopFlag` actor handle ``flag`` (None: never
    stop) at most every ``every`` seconds; once True it stays True."""

    def __init__(self, flag, every: float = POLL_SECONDS, ask_timeout: float = ASK_TIMEOUT) -> None:
        self.flag, self.every, self.ask_timeout = flag, float(every), float(ask_timeout)
        self.stopped = False
        self._next = 0.0

    def __call__(self) -> bool:
        if self.flag is None or self.stopped:
            return self.stopped
        now = time.monotonic()
        if now < self._next:
            return False
        self._next = now + self.every
        import ray

        try:
            self.stopped = bool(ray.get(self.flag.is_set.remote(), timeout=self.ask_timeout))
        except ray.exceptions.GetTimeoutError:
            return False  # a busy node: play on, ask again later
        except Exception:  # noqa: BLE001 - the flag's actor (and so the driver) is gone: nobody will record this game
            self.stopped = True
        return self.stopped


def play_game_task(game: dict, settings: dict, flag=None) -> dict:
    """Play one game (in a Ray worker): returns the result row and the SGF text, or ``{"stopped": True}`` when the
    :class:`StopFlag` ``flag`` was set before the game ended (its engines are shut down)."""
    from .gtp_players import PlayerSpec
    from .match import GameStopped, play_game

    black = PlayerSpec(game["black"], game["black_argv"], env=game.get("black_env") or None)
    white = PlayerSpec(game["white"], game["white_argv"], env=game.get("white_env") or None)
    with tempfile.TemporaryDirectory(prefix="igo-game-") as tmp:
        sgf = Path(tmp) / "game.sgf"
        start = time.time()
        try:
            result = play_game(
                black,
                white,
                size=settings["size"],
                komi=settings["komi"],
                move_limit=settings["move_limit"],
                move_timeout=settings["move_timeout"],
                referee=settings["referee"],
                sgf_path=sgf,
                game_name=game["id"],
                opening=[tuple(m) for m in game["opening"]],
                stop=FlagPoller(flag) if flag is not None else None,
            )
        except GameStopped:
            return {"stopped": True}
        text = sgf.read_text(encoding="utf-8") if sgf.exists() else None
    row = result.to_dict()
    row.pop("sgf_path", None)
    row.update(id=game["id"], a=game["a"], b=game["b"], index=game["index"], opening=game["opening_name"],
               started=round(start, 3), wall=round(time.time() - start, 3), node=os.uname().nodename)  # fmt: skip
    row["status"] = "void" if result.winner is None and result.result == "Void" else "done"
    return {"row": row, "sgf": text}
