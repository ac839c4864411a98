"""Helpers of the GTP engine tests: scripted commands through ``GTPEngine.handle`` with checked replies."""

from __future__ import annotations

from igo.engine.board import BLACK, WHITE
from igo.gtp.engine import GTPEngine

ALL_COMMANDS = {
    "gogui-analyze_commands",
    "igo-best_moves",
    "igo-ownership",
    "igo-score",
    "kata-analyze",
    "kata-genmove_analyze",
    "lz-analyze",
    "lz-genmove_analyze",
    "boardsize",
    "clear_board",
    "final_score",
    "final_status_list",
    "fixed_handicap",
    "genmove",
    "kgs-genmove_cleanup",
    "kgs-time_settings",
    "known_command",
    "komi",
    "list_commands",
    "loadsgf",
    "name",
    "place_free_handicap",
    "play",
    "printsgf",
    "protocol_version",
    "quit",
    "reg_genmove",
    "set_free_handicap",
    "showboard",
    "time_left",
    "time_settings",
    "undo",
    "version",
}


def ok(engine: GTPEngine, line: str) -> str:
    """The text of a success reply (checking the reply's framing)."""
    reply = engine.handle(line)
    assert reply is not None and reply.startswith("=") and reply.endswith("\n\n"), (line, reply)
    assert "\n\n" not in reply[:-2], f"empty line inside the reply to {line!r}: {reply!r}"
    head, _, text = reply[1:-2].partition(" ")
    assert head == "" or head.isdigit(), reply
    return text


def fails(engine: GTPEngine, line: str) -> str:
    """The message of a failure reply, checking that the command left the game exactly as it was."""
    before = game_state(engine)
    reply = engine.handle(line)
    assert reply is not None and reply.startswith("?") and reply.endswith("\n\n"), (line, reply)
    assert "\n" not in reply[:-2], reply
    assert game_state(engine) == before, f"{line!r} changed the game"
    return reply[1:-2].partition(" ")[2]


def game_state(engine: GTPEngine) -> tuple:
    b = engine.board
    return (
        b.size,
        b.komi,
        b.stones().tobytes(),
        b.to_move,
        b.move_number,
        b.hash,
        b.passes,
        b.ko_point,
        tuple(b.moves),
        b.captures[BLACK],
        b.captures[WHITE],
        b.can_undo,
        b.start_position()[0].tobytes(),
        engine.clock,
    )


def play_all(engine: GTPEngine, *moves: str) -> None:
    color = "b"
    for m in moves:
        ok(engine, f"play {color} {m}")
        color = "w" if color == "b" else "b"
