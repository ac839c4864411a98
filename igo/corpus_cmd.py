"""``igo corpus``: make an expert game corpus with a GTP engine on Ray, or summarise an SGF directory."""

from __future__ import annotations

import argparse
import sys
import textwrap

from igo.engine.coords import DEFAULT_SIZE
from igo.engine.options import positive_float, positive_int

from .train_args import add_output, add_ray, fail, print_json

EPILOG = """\
examples:
  igo corpus --games 3000 --size 9 -o corpus/gnugo9            # GNU Go level 10 against itself, this machine's cores
  igo corpus --engine "gnugo --mode gtp --level 1" --games 40 --size 7 -o corpus/tiny
  igo corpus --games 20000 --size 19 -o corpus/g19 --address auto   # on a Ray cluster
  igo corpus stats corpus/gnugo9                                # or any SGF tree (KGS, GoGoD): counts, sizes, results

Games are game-NNNNNN.sgf; the first --opening-moves stones (random, off the edge, never the same sequence twice
in a corpus) are setup stones, so trainers see only the engine's moves. Rerunning the same command resumes.
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.epilog = EPILOG
    p.add_argument("--engine", default="gnugo --mode gtp --level 10", help="GTP command line of the expert, which "
                   "plays both colours (default: 'gnugo --mode gtp --level 10')")  # fmt: skip
    p.add_argument("--games", type=positive_int, default=None, help="games in the corpus, counting those already "
                   "in the directory; required to make a corpus")  # fmt: skip
    p.add_argument("--size", type=int, default=DEFAULT_SIZE, help=f"board size (default {DEFAULT_SIZE})")
    p.add_argument("--komi", type=float, default=None, help="komi (default 7 on 9x9 and smaller, 7.5 above)")
    p.add_argument("-o", "--out", help="output directory (created; existing games are kept, so rerunning resumes); "
                   "required to make a corpus")  # fmt: skip
    p.add_argument("--opening-moves", type=int, default=None, help="random opening stones per game (default 3, "
                   "2 below 9x9)")  # fmt: skip
    p.add_argument("--seed", type=int, default=0, help="seed of the openings (default 0)")
    p.add_argument("--move-limit", type=positive_int, default=None, help="moves before a game is scored as it "
                   "stands (default 3 x size x size)")  # fmt: skip
    p.add_argument("--move-timeout", type=positive_float, default=60.0, help="seconds per genmove (default 60)")
    add_ray(p, address="Ray cluster address (default: a local Ray)")
    add_output(p, json_help="print the summary as JSON")
    p.set_defaults(run=run)
    sub = p.add_subparsers(dest="action", metavar="stats")
    s = sub.add_parser(
        "stats",
        help="summarise an SGF directory (recursive): games, sizes, handicaps, results, broken files",
        description=textwrap.fill(
            "Read every .sgf file under DIR (recursively, as a trainer would) and print how many games it holds by "
            "board size, handicap games, moves per game, results and komi, and the broken files skipped with the "
            "reason.",
            100,
        ),
    )
    s.add_argument("dir", metavar="DIR", help="a directory of SGF files, searched recursively")
    s.add_argument("--size", type=int, default=None, help="count only games of this size as usable (default: every "
                   "size)")  # fmt: skip
    add_output(s, json_help="print the summary as JSON")
    s.add_argument("--show-errors", type=int, default=10, metavar="N", help="list the first N broken files "
                   "(default 10)")  # fmt: skip
    s.set_defaults(run=run_stats)


def run(args: argparse.Namespace) -> int:
    from igo.selfplay.cluster import ClusterError
    from igo.selfplay.corpus import CorpusConfig, generate_corpus

    if args.games is None or not args.out:
        return fail("corpus", "give --games N and -o DIR (or 'igo corpus stats DIR')", 2)
    try:
        config = CorpusConfig(
            engine=args.engine,
            games=args.games,
            size=args.size,
            komi=args.komi if args.komi is not None else (7.0 if args.size <= 9 else 7.5),
            out=args.out,
            opening_moves=args.opening_moves if args.opening_moves is not None else (3 if args.size >= 9 else 2),
            seed=args.seed,
            move_limit=args.move_limit,
            move_timeout=args.move_timeout,
        )
    except ValueError as e:
        return fail("corpus", e, 2)
    bar = _Progress(args.games)
    try:
        summary = generate_corpus(config, address=args.address, num_cpus=args.cpus, on_game=bar)
    except ClusterError as e:
        return fail("corpus", e, 1)
    except OSError as e:  # the output directory cannot be read or written (a game name taken by a FIFO, disk full)
        return fail("corpus", e, 1)
    finally:
        bar.close()
    if args.json:
        print_json(summary)
    else:
        mean = summary.moves / summary.written if summary.written else 0.0
        print(
            f"{summary.written} games written ({summary.skipped_existing} already there, {summary.failed} failed) "
            f"in {summary.seconds:.0f} s; mean {mean:.1f} moves; B wins {summary.black_wins}, W wins "
            f"{summary.white_wins}; corpus: {config.out}"
        )
        for e in summary.errors[:10]:
            print(f"  {e}")
    return 0 if summary.written or not summary.failed else 1


class _Progress:
    def __init__(self, total: int):
        self._bar = None
        self._n = 0
        if sys.stderr.isatty():
            from tqdm import tqdm

            self._bar = tqdm(total=total, unit="game", dynamic_ncols=True, file=sys.stderr)

    def __call__(self, game, summary) -> None:
        self._n += 1
        if self._bar is not None:
            if self._n == 1:
                self._bar.update(summary.skipped_existing)
            self._bar.update(1)
            self._bar.set_postfix_str(f"failed {summary.failed}", refresh=False)
        elif self._n % 50 == 0 or game.sgf is None:
            rate = 3600 * self._n / max(summary.seconds, 1e-9)
            print(f"[{summary.seconds / 60:5.1f} min] {summary.written} written, {summary.failed} failed, "
                  f"{rate:.0f} games/h", file=sys.stderr, flush=True)  # fmt: skip

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def run_stats(args: argparse.Namespace) -> int:
    from igo.training.sgf_data import corpus_stats

    try:
        stats = corpus_stats(args.dir, size=args.size)
    except (FileNotFoundError, NotADirectoryError) as e:
        return fail("corpus stats", e, 1)
    if args.json:
        print_json(stats.to_dict())
    else:
        print("\n".join(stats.lines(show_errors=args.show_errors)))
    return 0
