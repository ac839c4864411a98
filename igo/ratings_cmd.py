"""``igo ratings DIR [DIR...]``: one Elo fit over the recorded games of several tournament directories.

Evaluations are played at different times — each new network's gauntlet against GNU Go in its own ``igo
tournament --out`` directory, since a tournament directory refuses players added later — but a training curve needs
every point on one scale. This command reads the ``results.jsonl`` of each directory (with its ``tournament.json``:
the players' settings), refuses a player name that means different settings in two directories (the same name must
be the same player), rates all finished games together by Bradley-Terry maximum likelihood
(:func:`igo.selfplay.elo.fit_ratings`) with the anchor of ``--anchor`` (default: the first directory's), prints the
ratings and the crosstable, and with ``--plot`` draws Elo against the training step or CPU-hours of the players'
checkpoints (``--series LABEL=NAME,...`` draws labelled lines through chosen players, e.g. one per play setting;
players without a checkpoint are drawn as levels). It plays nothing and writes nothing but the PNG.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("directories", nargs="+", metavar="DIR", help="tournament directories (igo tournament --out)")
    p.add_argument("--anchor", default=None, metavar="NAME[=ELO]", help="the player whose Elo is fixed (default: "
                   "the first directory's anchor, else the mean is 0)")  # fmt: skip
    p.add_argument("--plot", default=None, metavar="PNG", help="draw Elo against training into PNG (default: no "
                   "plot)")  # fmt: skip
    p.add_argument("--plot-x", choices=("step", "cpu-hours"), default="cpu-hours", help="the x axis: the "
                   "checkpoint's training step or the CPU-hours that made its network (default cpu-hours)")  # fmt: skip
    p.add_argument("--series", action="append", default=None, metavar="LABEL=NAME,NAME...", help="a labelled line "
                   "of the plot through these players, repeatable, e.g. one per play setting (default: one line "
                   "through every player with a checkpoint); players without a checkpoint are drawn as "
                   "levels")  # fmt: skip
    p.add_argument("--title", default=None, help="the plot's title (default: none)")
    p.add_argument("--json", action="store_true", help="print the ratings as JSON on the last line")
    p.set_defaults(run=run)


def _anchor(text: str | None) -> tuple[str | None, float | None]:
    if text is None:
        return None, None
    name, sep, elo = text.partition("=")
    if not name:
        raise ValueError(f"--anchor {text!r}: give NAME or NAME=ELO")
    try:
        return name, float(elo) if sep else None
    except ValueError:
        raise ValueError(f"--anchor {text!r}: the Elo after '=' must be a number") from None


def _series(specs: list[str] | None, rated: list[str], xs: dict, what: str) -> dict[str, list[str]] | None:
    """``--series LABEL=NAME,NAME...`` as ``{label: [names]}``; ValueError for a bad spec, an unrated player or one
    without the x value."""
    if not specs:
        return None
    out: dict[str, list[str]] = {}
    for spec in specs:
        label, sep, names = spec.partition("=")
        players = [n.strip() for n in names.split(",") if n.strip()]
        if not sep or not label.strip() or not players:
            raise ValueError(f"--series {spec!r}: give LABEL=NAME,NAME...")
        for n in players:
            if n not in rated:
                raise ValueError(f"--series {label}: {n!r} is not rated in these tournaments")
            if n not in xs:
                raise ValueError(f"--series {label}: {n!r} has no {what} recorded in its checkpoint")
        out[label.strip()] = players
    return out


def gather(directories: list[str | Path]) -> dict:
    """The finished games, players, steps and CPU-hours of the tournaments in ``directories``, and the first one's
    anchor. ValueError for a directory without a tournament, or a player name with other settings in another."""
    from igo.selfplay.elo import games_from_results
    from igo.selfplay.tournament import Tournament, config_from_dict, stored_config

    games: list = []
    players: dict[str, tuple[dict, str]] = {}
    steps: dict[str, float] = {}
    hours: dict[str, float] = {}
    anchor = None
    per_dir = []
    for d in directories:
        stored = stored_config(d)
        if stored is None:
            raise ValueError(f"{d} holds no tournament (tournament.json is missing or unreadable)")
        cfg = config_from_dict(stored)
        if anchor is None and cfg.anchor:
            anchor = (cfg.anchor, cfg.anchor_elo)
        for p in cfg.players:
            ident = {k: v for k, v in p.identity().items() if k != "name"}
            if p.name in players and players[p.name][0] != ident:
                raise ValueError(f"player {p.name!r} is not the same player in {players[p.name][1]} and {d} "
                                 f"({players[p.name][0]} against {ident}): rename one")  # fmt: skip
            players.setdefault(p.name, (ident, str(d)))
        t = Tournament(cfg, d)
        found = games_from_results([r for r in t.results() if r.get("status") == "done"])
        games += found
        steps.update(t.steps())
        hours.update(t.cpu_hours())
        per_dir.append((str(d), len(found)))
    return {"games": games, "players": sorted(players), "steps": steps, "cpu_hours": hours, "anchor": anchor,
            "directories": per_dir}  # fmt: skip


def run(args) -> int:
    from igo.selfplay.elo import crosstable, fit_ratings, plot_elo_vs_step

    say = (lambda *a: print(*a, file=sys.stderr)) if args.json else print
    name, elo = _anchor(args.anchor)
    data = gather(args.directories)
    if not data["games"]:
        raise ValueError(f"no finished games in {', '.join(args.directories)}")
    if name is None and data["anchor"] is not None:
        name, elo = data["anchor"]
    if name is not None and name not in data["players"]:
        raise ValueError(f"--anchor {name!r} is not a player of these tournaments ({', '.join(data['players'])})")
    ratings = fit_ratings(data["games"], anchor=name, anchor_elo=elo or 0.0)
    for d, n in data["directories"]:
        say(f"{d}: {n} finished games")
    say("")
    say(ratings.table())
    say("")
    say(crosstable(data["games"]).table(ratings.players))
    if args.plot:
        xs = data["steps"] if args.plot_x == "step" else data["cpu_hours"]
        series = _series(args.series, ratings.players, xs, args.plot_x)
        # the players without a checkpoint (GNU Go, rollout-only igo) are drawn as levels
        levels = [p for p in ratings.players if p not in data["steps"] and p not in data["cpu_hours"]]
        if not xs:
            raise ValueError(f"--plot: no player has a checkpoint that records its {args.plot_x}")
        path = Path(args.plot)
        path.parent.mkdir(parents=True, exist_ok=True)
        xlabel = "training step" if args.plot_x == "step" else "training CPU-hours"
        plot_elo_vs_step(ratings, xs, path, title=args.title, xlabel=xlabel, levels=levels, series=series)
        say(f"Elo plot written to {path}")
    if args.json:
        print(json.dumps(ratings.to_dict()))
    return 0


__all__ = ["add_arguments", "gather", "run"]
