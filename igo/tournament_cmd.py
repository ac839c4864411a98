"""``igo tournament``: round-robin or gauntlet between igo settings, checkpoints and GTP engines, on Ray, with Elo.

See :mod:`igo.selfplay.tournament` for the config file, the schedule, records and resume, and
:mod:`igo.selfplay.elo` for the ratings."""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
import textwrap
import time
from pathlib import Path

from igo.engine.coords import DEFAULT_SIZE
from igo.engine.options import positive_float, positive_int

log = logging.getLogger(__name__)

EPILOG = """\
players (--player NAME=SPEC, repeatable; or [[players]] in the config file):
  igo:ARGS      igo's own engine with 'igo gtp' options, e.g. 'igo-2k=igo:--playouts 2000 --threads 2'
                (a game of this player takes the Ray CPUs its --threads/--nn-threads use at once, default 1,
                and its engine gets OMP_NUM_THREADS = the game's CPUs, which igo's thread defaults follow)
  COMMAND       any GTP engine, e.g. 'gnugo-10=gnugo --mode gtp --level 10 --chinese-rules'

examples:
  igo tournament --player "igo-1k=igo:--playouts 1000" --player "gnugo-1=gnugo --mode gtp --level 1" \\
      --player "gnugo-5=gnugo --mode gtp --level 5" --games 20 --size 9 --anchor gnugo-1 --out runs/t1
  igo tournament gauntlet.toml                      # the config file (TOML) says it all
  igo tournament gauntlet.toml --address auto       # the same on a running Ray cluster (ray start --head ...)
  igo tournament gauntlet.toml --ratings-only       # the table of the games recorded so far
  igo tournament --out runs/t1 --ratings-only       # the same; the players are read from runs/t1

Rerunning the same command resumes: finished games (results.jsonl in --out) are kept and only the missing ones are
played; Ctrl-C stops the games in progress, prints the table so far and exits with 130. Ratings: Bradley-Terry
maximum likelihood (as BayesElo/Ordo), 95% intervals, LOS = likelihood that a player is stronger than the next one
down.
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    if p.description:
        p.description = textwrap.fill(p.description, 100)
    p.epilog = EPILOG
    p.add_argument("config", nargs="?", default=None, help="a TOML tournament config (flags below override it)")
    p.add_argument("--player", action="append", default=[], metavar="NAME=SPEC", help="a player, repeatable (see "
                   "below; default: the config file's players)")  # fmt: skip
    p.add_argument("--format", choices=("round-robin", "gauntlet"), default=None, help="round-robin (default) or "
                   "gauntlet (the candidates meet the field)")  # fmt: skip
    p.add_argument("--candidate", action="append", default=[], metavar="NAME", help="a gauntlet's candidate, "
                   "repeatable; giving one makes a gauntlet (default: the config file's candidates)")  # fmt: skip
    p.add_argument("--games", type=positive_int, default=None, help="games per pairing (default 10)")
    p.add_argument("--size", type=int, default=None, help=f"board size (default {DEFAULT_SIZE})")
    p.add_argument("--komi", type=float, default=None, help="komi (default 7.5)")
    p.add_argument("--referee", choices=("tromp-taylor", "gnugo"), default=None, help="who scores (default "
                   "tromp-taylor)")  # fmt: skip
    p.add_argument("--move-timeout", type=positive_float, default=None, help="seconds per genmove (default 60)")
    p.add_argument("--move-limit", type=positive_int, default=None, help="moves (passes included) before a game "
                   "is scored as it stands (default 3 x size x size)")  # fmt: skip
    p.add_argument("--openings", default=None, metavar="DIR", help="SGF files whose first moves open the "
                   "games (default: none, every game starts on the empty board)")  # fmt: skip
    p.add_argument("--opening-moves", type=int, default=None, help="moves taken from each opening (default 4)")
    p.add_argument("--anchor", default=None, metavar="NAME[=ELO]", help="the player whose Elo is fixed (default: "
                   "the mean is 0)")  # fmt: skip
    p.add_argument("--out", default=None, help="output directory (default tournaments/<name>)")
    p.add_argument("--name", default=None, help="tournament name (default: the config file's, else 'tournament')")
    p.add_argument("--address", default=None, help="Ray cluster to join ('auto', or host:port); default: local Ray")
    p.add_argument("--cpus", type=positive_int, default=None, help="CPUs of the local Ray (default: all cores)")
    p.add_argument("--plot", nargs="?", const="elo.png", default=None, metavar="PNG",
                   help="draw Elo against checkpoint step into PNG: a bare file name is written in --out, a "
                   "path (docs/elo.png) where it says (default file elo.png in --out)")  # fmt: skip
    p.add_argument("--plot-x", choices=("step", "cpu-hours"), default="step", help="what --plot puts on the x axis: "
                   "the checkpoint's training step, or the CPU-hours that made its network (its own training and "
                   "its --init parent's, as the trainers record them; default step)")  # fmt: skip
    p.add_argument("--ratings-only", action="store_true", help="play nothing; rate the games "
                   "recorded in --out (players and settings read from there when not given)")  # fmt: skip
    p.add_argument("--json", action="store_true", help="print the ratings as JSON on the last line")
    p.set_defaults(run=run)


def _parse_player(text: str):
    from igo.selfplay.tournament import TournamentPlayer

    name, sep, spec = text.partition("=")
    if not sep or not name.strip() or not spec.strip():
        raise ValueError(f"--player needs NAME=SPEC, got {text!r}")
    spec = spec.strip()
    if spec == "igo" or spec.startswith("igo:"):
        player = TournamentPlayer(name.strip(), igo=spec[4:].strip() if spec != "igo" else "")
        player.num_cpus = float(player.options.cores_wanted())  # the Ray CPUs of a game: what its threads use at once
        return player
    return TournamentPlayer(name.strip(), command=spec)


def build_config(args, base: dict | None = None):
    """The tournament config of the command line: the config file's (else ``base``, e.g. a results directory's
    stored config, else none), with the players and settings of the flags over it."""
    from igo.selfplay.tournament import config_from_dict, load_config

    data: dict = dict(base) if base else {}
    if args.config:
        data = load_config(args.config).to_dict()  # its relative paths are resolved against its directory
    players = [_parse_player(t) for t in args.player]
    if players:
        data["players"] = [dataclasses.asdict(p) for p in players] + [
            p for p in data.get("players", []) if p["name"] not in {q.name for q in players}
        ]
    overrides = {
        "format": args.format,
        "games_per_pairing": args.games,
        "size": args.size,
        "komi": args.komi,
        "referee": args.referee,
        "move_timeout": args.move_timeout,
        "move_limit": args.move_limit,
        "openings": args.openings,
        "opening_moves": args.opening_moves,
        "name": args.name,
    }
    data.update({k: v for k, v in overrides.items() if v is not None})
    if args.candidate:
        data["candidates"] = args.candidate
        data.setdefault("format", "gauntlet")
    if args.anchor:
        name, sep, elo = args.anchor.partition("=")
        data["anchor"] = name
        if sep:
            try:
                data["anchor_elo"] = float(elo)
            except ValueError:
                raise ValueError(f"--anchor NAME=ELO needs a number, got {elo!r}") from None
    if "players" not in data:
        raise ValueError("no players: give a config file or --player NAME=SPEC (at least two)")
    return config_from_dict(data)


def _default_out(name: str):
    from pathlib import Path

    return Path("tournaments") / name


def header(cfg, out, done: int, total: int) -> str:
    """What the command says before it plays: the format, players, pairings, board, referee, where the records go
    and, when resuming, how many games are already played."""
    from igo.selfplay.tournament import TournamentConfig

    pairings = len(cfg.pairings())
    kind = "Gauntlet" if cfg.format == "gauntlet" else "Round-robin"
    named = f' "{cfg.name}"' if cfg.name != TournamentConfig.name else ""
    field = f" ({len(cfg.candidates)} candidates)" if cfg.format == "gauntlet" else ""
    text = (
        f"{kind} tournament{named}: {len(cfg.players)} players{field}, {pairings} pairing{'s' * (pairings != 1)} x "
        f"{cfg.games_per_pairing} game{'s' * (cfg.games_per_pairing != 1)} ({total} in all), {cfg.size}x{cfg.size} "
        f"komi {cfg.komi:g}, referee {cfg.referee}; records in {out}"
    )
    if done >= total:
        return text + f"\nall {total} games are played already (results.jsonl); nothing to play"
    if done:
        return text + f"\nresuming: {done} of {total} games played already, {total - done} to play"
    return text


def oversubscription_warning(cpus: int | None, address: str | None, cores: int) -> str | None:
    """The warning for a local Ray given more CPUs (``--cpus``) than the ``cores`` this process may use: games in
    parallel then share cores, and a player given ``--time 1`` thinks with less than a second of its cores' work, so
    equal-time results are not at the time they state. None when there is nothing to say (a cluster counts its own)."""
    if address or cpus is None or cpus <= cores:
        return None
    return (
        f"warning: --cpus {cpus} is more than the {cores} cores this process may use: the games played at once share "
        f"cores, so each player thinks with less than its --time and threads say (results at equal time are not at "
        f"the stated time); --cpus {cores} gives every game its own cores"
    )


def plot_path(plot: str, out: Path) -> Path:
    """Where ``--plot PNG`` writes: a bare file name in ``out`` (the tournament's directory), a path as given
    (relative to the working directory); its folder is made."""
    path = Path(plot)
    if path.parent == Path("."):
        path = Path(out) / path
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def run(args) -> int:
    from pathlib import Path

    from igo.engine.cores import affinity_cores
    from igo.selfplay.tournament import (
        META_FILE,
        Tournament,
        TournamentConfig,
        TournamentInterrupted,
        standings_line,
        stored_config,
    )

    base = None
    if args.ratings_only and not args.config:
        # the players and settings are those recorded in --out; flags given anyway are checked against them
        out = Path(args.out) if args.out else _default_out(args.name or TournamentConfig.name)
        base = stored_config(out)
        if base is None and not args.player:
            raise ValueError(
                f"--ratings-only: {out} holds no tournament ({META_FILE} is missing); give --out DIR of a tournament "
                "that has played, or its config file"
            )
    cfg = build_config(args, base)
    out = Path(args.out) if args.out else _default_out(cfg.name if base is None else args.name or TournamentConfig.name)
    t = Tournament(cfg, out)
    say = (lambda *a: print(*a, file=sys.stderr)) if args.json else print
    interrupted = None
    if args.ratings_only:
        t.check_identity()
    else:
        ids = {g.id for g in t.games()}
        say(header(cfg, out, len(t.finished_ids() & ids), len(ids)))
        warning = oversubscription_warning(args.cpus, args.address, affinity_cores())
        if warning:
            print(warning, file=sys.stderr)
        start = time.time()
        bar = _progress_bar(t)

        def on_game(row: dict, done: int, total: int) -> None:
            line = (
                f"{row['id']}: {row.get('result')} ({row.get('reason', '')[:60]}), black {row.get('black')}"
                if row.get("status") != "error"
                else f"{row['id']}: task failed, will be replayed: {row.get('reason', '')[:120]}"
            )
            if bar is not None:
                bar.total = total
                bar.n = done
                bar.set_postfix_str(standings_line(t.results()), refresh=False)
                bar.refresh()
                log.info(line)
            else:
                say(f"[{done}/{total}] {line}   | {standings_line(t.results())}")

        try:
            rows = t.run(address=args.address, num_cpus=args.cpus, on_game=on_game)
        except KeyboardInterrupt as e:  # Ctrl-C: the games in progress were stopped; show what was played
            interrupted = e
            rows = e.rows if isinstance(e, TournamentInterrupted) else []
        finally:
            if bar is not None:
                bar.close()
        errors = sum(1 for r in rows if r.get("status") == "error")
        say(f"played {len(rows) - errors} games in {time.time() - start:.0f} s" + (
            f"; {errors} failed tasks will be replayed by rerunning the command" if errors else ""))  # fmt: skip
    code = 0 if interrupted is None else 130  # 128 + SIGINT, as a shell reports Ctrl-C
    rated = bool(t.rated_games())
    if not rated:
        say("no finished games to rate yet")
    else:
        ratings, table = t.write_ratings()
        say("")
        say(ratings.table())
        say("")
        say(table.table(ratings.players))
        say(f"\nratings.json, ratings.csv, crosstable.json written to {out}")
        if args.plot:
            steps = t.steps() if args.plot_x == "step" else t.cpu_hours()
            path = plot_path(args.plot, out)
            if steps:
                from igo.selfplay.elo import plot_elo_vs_step

                xlabel = "training step" if args.plot_x == "step" else "training CPU-hours"
                plot_elo_vs_step(ratings, steps, path, title=cfg.name, xlabel=xlabel)
                say(f"Elo plot written to {path}")
            else:
                what = (
                    "a training step (give 'step' or a checkpoint 'model')"
                    if args.plot_x == "step"
                    else ("recorded CPU-hours (checkpoints of igo train sl/zero record them)")
                )
                say(f"--plot: no player has {what}; nothing drawn")
    if interrupted is not None:
        ids = {g.id for g in t.games()}
        say(f"\ninterrupted after {len(t.finished_ids() & ids)} of {len(ids)} games; rerun the same command to resume")
    if args.json and rated:
        print(json.dumps(ratings.to_dict()))
    return code


def _progress_bar(t):
    if not sys.stderr.isatty():
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    total = len(t.games())
    done = len(t.finished_ids() & {g.id for g in t.games()})
    return tqdm(total=total, initial=done, unit="game", dynamic_ncols=True, file=sys.stderr)


__all__ = ["add_arguments", "run", "build_config", "header"]
