"""``igo match A B``: N games between two GTP players with a referee, and the win rate of A with a 95% interval.

The work is :func:`igo.selfplay.match.run_match`; this module turns the command line into its arguments and prints the
progress and the summary.
"""

from __future__ import annotations

import argparse
import datetime
import json
import logging
import math
import os
import shlex
import sys
import textwrap

from igo.engine.options import PlayerOptions, positive_float

log = logging.getLogger(__name__)

IGO_PREFIX = "igo:"

EPILOG = """\
players:
  Each of A and B is either
    igo:ARGS      igo's own engine ('python -m igo gtp --size N --komi K ARGS'), e.g. 'igo:--playouts 2000'
                  or 'igo:--player random --seed 1'; plain 'igo' is igo with its default settings
    COMMAND       any GTP engine command line, split like a shell would, e.g.
                  'gnugo --mode gtp --level 10 --chinese-rules' (gnugo is also found in /usr/games)
  Their names (SGF PB/PW, reports) default to the command text; set them with --name-a/--name-b.

how games end:
  Every move is checked on the referee's own board (ko by --ko-rule, suicide illegal). Two passes end a game,
  scored by --referee: 'tromp-taylor' counts area as the board stands; 'gnugo' asks a separate GNU Go
  (--chinese-rules) for final_score, which removes dead stones. A game reaching --move-limit is scored as it
  stands. An illegal or unreadable move, a refused command or a crashed engine loses by forfeit (B+F / W+F),
  no reply to genmove within --move-timeout loses on time (B+T / W+T; the engine is restarted for the next
  game), 'resign' gives B+R / W+R. Once both engines have started (an engine that cannot start at all is an
  error before the first game), a match always completes with exit code 0, whatever the engines do.

output:
  One line per finished game on stderr. OUT/results.jsonl gets one JSON object per game as it finishes and
  OUT/game-0001.sgf ... the records (move comments: seconds used). The summary gives each side's wins (as
  black / as white), A's win rate (a draw counts half, void games not at all) with its 95% Wilson score
  interval, and the average seconds per move of each side. --json adds a JSON summary as the last line of
  stdout (the human summary then goes to stderr).

example:
  igo match 'igo:--playouts 2000' 'gnugo --mode gtp --level 10 --chinese-rules' \\
      --games 20 --size 9 --referee gnugo --out matches/igo-vs-gnugo
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    from igo.selfplay.referee import REFEREES

    p.formatter_class = argparse.RawDescriptionHelpFormatter  # keep the epilog's layout; wrap the description here
    if p.description:
        p.description = textwrap.fill(p.description, 100)
    p.epilog = EPILOG
    p.add_argument("a", metavar="A", help="player A: 'igo:ARGS' or a GTP command line (see below)")
    p.add_argument("b", metavar="B", help="player B: 'igo:ARGS' or a GTP command line")
    p.add_argument("--games", type=int, default=10, help="games to play, A black in the odd ones (default 10)")
    p.add_argument("--size", type=int, default=9, help="board size (default 9; SGF files only up to 19)")
    p.add_argument("--komi", type=float, default=7.5, help="komi (default 7.5)")
    p.add_argument(
        "--move-limit",
        type=int,
        default=None,
        help="moves (passes included) before a game is scored as it stands (default 3 x size x size)",
    )
    p.add_argument(
        "--move-timeout",
        type=positive_float,
        default=60.0,
        help="seconds a genmove may take before that side loses on time (default 60)",
    )
    p.add_argument("--referee", choices=REFEREES, default="tromp-taylor", help="who scores finished games: "
                   "tromp-taylor (default) counts the area as the board stands, gnugo removes dead stones first "
                   "(see below)")  # fmt: skip
    p.add_argument(
        "--ko-rule",
        choices=("positional", "situational", "simple"),
        default="positional",
        help="the referee's ko rule (default positional superko)",
    )
    p.add_argument(
        "--time-settings",
        nargs=3,
        metavar=("MAIN", "BYO", "STONES"),
        default=None,
        help="send GTP time_settings (main seconds, Canadian byo-yomi seconds per STONES moves) and time_left "
        "before each move; advice for the engines, only --move-timeout is enforced (default: none sent)",
    )
    p.add_argument("--no-alternate", action="store_true", help="A plays black in every game")
    p.add_argument("--name-a", default=None, help="name of player A (default: its command text)")
    p.add_argument("--name-b", default=None, help="name of player B (default: its command text)")
    p.add_argument("--out", default=None, help="output directory (default matches/<date-time>)")
    p.add_argument("--json", action="store_true", help="print a JSON summary as the last line of stdout")
    p.set_defaults(run=run)


def parse_player(text: str, size: int, komi: float):
    """A :class:`~igo.selfplay.gtp_players.PlayerSpec` (with a default name) from ``igo:ARGS`` or a GTP command line."""
    from igo.selfplay.gtp_players import PlayerSpec, igo_command

    text = text.strip()
    if text == "igo" or text.startswith(IGO_PREFIX):
        rest = text[len(IGO_PREFIX) :].strip() if text != "igo" else ""
        args = shlex.split(rest)
        try:
            PlayerOptions.from_argv(args)  # a bad option is an error now, not an engine that fails to start
        except ValueError as e:
            raise ValueError(f"player {text!r}: {e}") from None
        return PlayerSpec(" ".join(["igo", *args]), igo_command(size, komi, args))
    argv = shlex.split(text)
    if not argv:
        raise ValueError("empty player command line")
    return PlayerSpec(shlex.join([os.path.basename(argv[0]), *argv[1:]]), argv)


def _time_settings(values: list[str] | None) -> tuple[float, float, int] | None:
    if values is None:
        return None
    try:
        main, byo, stones = float(values[0]), float(values[1]), int(values[2])
    except ValueError:
        raise ValueError(f"--time-settings needs MAIN BYO STONES (seconds, seconds, a count), got {values}") from None
    if not (math.isfinite(main) and math.isfinite(byo)) or main < 0 or byo < 0 or stones < 0:
        raise ValueError(f"--time-settings values must not be negative, got {values}")
    return main, byo, stones


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f} s/move"


def summary_lines(summary, *, size: int, komi: float, referee: str) -> list[str]:
    """The human-readable report of a :class:`~igo.selfplay.match.MatchSummary`."""
    low, high = summary.interval
    rate = summary.win_rate_a
    endings = ", ".join(f"{kind} {count}" for kind, count in sorted(summary.reasons.items()))
    lines = [
        f"igo match: {summary.played} of {summary.games} games on {size}x{size}, komi {komi:g}, referee {referee}",
        f"  A {summary.a}: {summary.a_wins} wins ({summary.a_wins_black} as black, {summary.a_wins_white} as white), "
        f"{_seconds(summary.a_seconds_per_move)}",
        f"  B {summary.b}: {summary.b_wins} wins ({summary.b_wins_black} as black, {summary.b_wins_white} as white), "
        f"{_seconds(summary.b_seconds_per_move)}",
        f"  draws {summary.draws}, void {summary.voids}; endings: {endings or '-'}",
    ]
    if rate is None:
        lines.append("  win rate of A: - (no decided games)")
    else:
        lines.append(f"  win rate of A: {rate:.1%} (95% Wilson score interval {low:.1%} - {high:.1%})")
    where = f"; results.jsonl and SGF files in {summary.out_dir}" if summary.out_dir else ""
    lines.append(f"  wall time {summary.wall_time:.1f} s{where}")
    return lines


def run(args) -> int:
    from igo.engine.coords import check_size
    from igo.selfplay.match import run_match

    size = check_size(args.size)
    if args.games < 1:
        raise ValueError(f"--games must be at least 1, got {args.games}")
    if not math.isfinite(args.komi):
        raise ValueError(f"--komi must be a number, got {args.komi}")
    if args.move_limit is not None and args.move_limit < 1:
        raise ValueError(f"--move-limit must be at least 1, got {args.move_limit}")
    time_settings = _time_settings(args.time_settings)
    a = parse_player(args.a, size, args.komi)
    b = parse_player(args.b, size, args.komi)
    if args.name_a:
        a.name = args.name_a
    if args.name_b:
        b.name = args.name_b
    if a.name == b.name:
        if args.name_a and args.name_b:
            raise ValueError(f"--name-a and --name-b are both {a.name!r}")
        a.name, b.name = f"{a.name} (A)", f"{b.name} (B)"
    out = args.out or os.path.join("matches", datetime.datetime.now().strftime("%Y%m%d-%H%M%S"))

    def progress(k: int, game, a_color: str, summary) -> None:
        print(
            f"game {k}/{summary.games}: {game.black} (B) vs {game.white} (W): {game.result} ({game.reason}), "
            f"{game.moves} moves | {summary.score_line()}",
            file=sys.stderr,
            flush=True,
        )

    summary = run_match(
        a,
        b,
        args.games,
        size=size,
        komi=args.komi,
        move_limit=args.move_limit,
        move_timeout=args.move_timeout,
        referee=args.referee,
        time_settings=time_settings,
        ko_rule=args.ko_rule,
        alternate=not args.no_alternate,
        out_dir=out,
        progress=progress,
    )
    say = (lambda line: print(line, file=sys.stderr)) if args.json else print
    for line in summary_lines(summary, size=size, komi=args.komi, referee=args.referee):
        say(line)
    if args.json:
        data = {"command": "match", "size": size, "komi": args.komi, "referee": args.referee, **summary.to_dict()}
        print(json.dumps(data))
    return 0


__all__ = ["add_arguments", "parse_player", "run", "summary_lines"]
