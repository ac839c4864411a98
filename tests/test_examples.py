"""The example scripts' igo command lines parse with today's igo (a renamed or removed flag breaks a documented
reproduction: examples/train-9x9.sh is how the shipped network is made)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from igo.cli import build_parser

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def igo_commands(script: Path) -> list[list[str]]:
    """The ``igo ...`` commands of a shell script, continuation lines joined, ``${VAR:-default}`` replaced by its
    default and ``$VAR`` / ``"$VAR/x"`` by 1 (a number or a path component)."""
    text = script.read_text().replace("\\\n", " ")
    out = []
    for line in text.splitlines():
        line = line.strip()
        if not line.startswith("igo "):
            continue
        line = re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", line)
        line = re.sub(r"\$\{?\w+\}?", "1", line)  # a number or a path component, as the flag needs
        out.append(shlex.split(line, comments=True)[1:])
    return out


@pytest.mark.parametrize("script", sorted(EXAMPLES.glob("*.sh")), ids=lambda p: p.name)
def test_every_igo_command_of_an_example_parses(script):
    commands = igo_commands(script)
    assert commands, f"{script.name} has no igo command"
    parser = build_parser()
    for argv in commands:
        try:
            args = parser.parse_args(argv)
        except SystemExit as e:  # argparse's way of refusing
            raise AssertionError(f"{script.name}: igo {' '.join(argv)} does not parse (exit {e.code})") from None
        assert hasattr(args, "run"), argv


@pytest.mark.parametrize("config", sorted(EXAMPLES.glob("*.toml")), ids=lambda p: p.name)
def test_every_tournament_config_loads(config):
    """The example tournaments load as igo tournament reads them: players' igo options parse, names are unique."""
    from igo.selfplay.tournament import load_config

    cfg = load_config(config)
    assert len(cfg.players) >= 2 and cfg.pairings()
    assert cfg.anchor is None or cfg.anchor in {p.name for p in cfg.players}
