"""The Zero run's evaluation and gating games: the tournaments that rate a new checkpoint (:func:`evaluation_config`,
a gauntlet against the run's first checkpoint, rollout-only igo and any external engines) and the Elo over all of
them (:func:`eval_ratings`). :class:`igo.training.zero.ZeroRun` plays them in the background while the learner
trains.
"""

from __future__ import annotations

import re
from pathlib import Path

from .run import RunDir

PREFIX = "step"  # the run's checkpoints are checkpoints/step-<step>.safetensors
EVAL_RESIGN = 0.05  # igo resigns below this win rate in evaluation and gating games


def _igo_player(name: str, ckpt: Path | None, simulations: int, step: int | None = None):
    """igo's player in the run's evaluations: ``simulations`` per move on one thread, resigning below 5%, with
    checkpoint ``ckpt`` (None: rollouts only, ``--model none``, never the shipped default net)."""
    from igo.engine.options import PlayerOptions
    from igo.selfplay.tournament import TournamentPlayer

    options = PlayerOptions(model="none" if ckpt is None else str(ckpt), playouts=simulations, resign=EVAL_RESIGN)
    return TournamentPlayer.from_options(name, options, step=step)


def evaluation_config(run, run_dir: Path, step: int, first_step: int):
    """The gauntlet of checkpoint ``step`` against the run's fixed opponents; ``run`` is the run's
    :class:`~igo.training.zero.ZeroRunConfig`."""
    from igo.selfplay.tournament import TournamentConfig, TournamentPlayer

    sims = run.eval_simulations or run.selfplay_config().simulations
    cand = f"step-{step}"
    rd = RunDir(run_dir, PREFIX)
    players = [_igo_player(cand, rd.checkpoint(step), sims, step)]
    if first_step != step:
        players.append(_igo_player(f"step-{first_step}", rd.checkpoint(first_step), sims, first_step))
    if run.eval_rollout:
        players.append(_igo_player(f"rollout-{sims}", None, sims))
    for k, command in enumerate(run.eval_opponents):
        name = re.sub(r"[^A-Za-z0-9_.+-]+", "-", " ".join(Path(command.split()[0]).name.split()))[:20] or "gtp"
        if "--level" in command.split():
            name += "-" + command.split()[command.split().index("--level") + 1]
        players.append(TournamentPlayer(name=f"{name}#{k}" if any(p.name == name for p in players) else name,
                                        command=command))  # fmt: skip
    if len(players) < 2:
        return None
    return TournamentConfig(
        players=players,
        format="gauntlet",
        candidates=[cand],
        games_per_pairing=run.eval_games,
        size=run.size,
        komi=run.komi,
        referee="tromp-taylor",
        move_timeout=120.0,
        anchor=f"step-{first_step}" if first_step != step else None,
        name=f"eval-{step}",
    )


def eval_ratings(run_dir: Path, anchor: str | None):
    """Elo over every evaluation game of the run (all ``eval/*/results.jsonl``), anchored at ``anchor``."""
    from igo.selfplay.elo import fit_ratings, games_from_results
    from igo.selfplay.tournament import read_results

    rows = []
    for d in sorted((Path(run_dir) / "eval").glob("*/results.jsonl")):
        rows += [r for r in read_results(d) if r.get("status") == "done"]
    games = games_from_results(rows)
    if not games:
        return None
    names = {g.black for g in games} | {g.white for g in games}
    return fit_ratings(games, anchor=anchor if anchor in names else None)


__all__ = ["EVAL_RESIGN", "eval_ratings", "evaluation_config"]
