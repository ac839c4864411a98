"""``igo show FILE.sgf``: replay a game record under igo's rules and print the position and its area score."""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("sgf", help="an SGF file (the first game of a collection, main line)")
    p.add_argument("--move", type=int, default=None, help="show the position after this many moves (default: the end)")
    p.add_argument(
        "--ko-rule",
        choices=["simple", "positional", "situational"],
        default="simple",
        help="ko rule for replaying (default simple, as most game records were played under it)",
    )
    p.set_defaults(run=run)


def run(args) -> int:
    from igo.engine.board import color_name
    from igo.engine.sgf import load_sgf_file, replay

    record = load_sgf_file(args.sgf, ko_rule=args.ko_rule)
    if args.move is not None:
        if not 0 <= args.move <= len(record.moves):
            raise ValueError(f"--move must be in 0..{len(record.moves)}, the game has {len(record.moves)} moves")
        record.moves = record.moves[: args.move]
    board = replay(record, ko_rule=args.ko_rule)
    names = f"{record.black_player or 'Black'} (B) vs {record.white_player or 'White'} (W)"
    print(f"{names}, {record.size}x{record.size}, komi {record.komi:g}, handicap {record.handicap}")
    print(board)
    b, w = board.area()
    print(
        f"after {len(record.moves)} moves, {color_name(board.to_move)} to move; Tromp-Taylor area B {b} W {w} "
        f"-> {board.result()} (recorded result: {record.result or 'none'})"
    )
    return 0
