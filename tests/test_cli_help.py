"""``igo --help`` tells the truth: every option of every command (nested ones included) states its default, the
default it states is the one it has, help never points into the source, and the commands agree on the board size.

The rules, checked on every action of every parser that :func:`igo.cli.build_parser` builds:

1. Every argument has a help text (positionals included), unless it is hidden (``argparse.SUPPRESS``).
2. An optional argument that takes a value states its default: its help contains the word "default" (any case), e.g.
   ``(default 9)``, ``(default: no limit)``, ``auto (default), cpu, ...``. Exempt are options that take no value
   (help, version, ``store_true``/``store_false``/``store_const``, ``count``: their default is "not given"), required
   options (``required=True``), and options that are required only in some uses, whose help says so with "required
   for ..." or "required to ..." (``train sl --sgf``: "required for a new run", a resumed run has it in its run
   directory; ``corpus --games``: "required to make a corpus", ``corpus stats`` does without).
3. Where the default is a value rather than None, the help shows that value: a number as a number in the text
   (``10.0`` as ``10``, ``1e-4`` or ``0.0001``, ``20,000,000``), a string as itself (case-insensitive), a list as its
   items joined by commas. This catches a help text whose stated default drifted from the real one.
4. No help text points into the source: no dotted Python path (``torch.optim.SGD``, ``training.value.X``), no
   ``.py`` file, no ``see <package>/``, no CamelCase class name ending in Config/Options/Trainer/Error.
5. Every ``--size`` (but the filter of ``corpus stats`` and the required ``model init --size``) has the one default
   board size, :data:`igo.engine.coords.DEFAULT_SIZE`, either as its value or (None: decided later, e.g. by a
   network or a resumed run) in its help.
"""

from __future__ import annotations

import argparse
import math
import re
from collections.abc import Iterator

import pytest

from igo.cli import build_parser
from igo.engine.coords import DEFAULT_SIZE, MAX_SIZE, MIN_SIZE

NO_VALUE = (
    argparse._HelpAction,
    argparse._VersionAction,
    argparse._StoreConstAction,  # store_true / store_false are subclasses
    argparse._AppendConstAction,
    argparse._CountAction,
)
REQUIRED_IN_SOME_USES = re.compile(r"\brequired (?:for|to) ")
NUMBER = re.compile(r"(?<![\w.])[-+]?\d[\d,]*(?:\.\d+)?(?:e[-+]?\d+)?", re.IGNORECASE)
SOURCE = [
    re.compile(r"\b[A-Za-z_]\w*\.[A-Za-z_]\w*\.[A-Za-z_]\w*"),  # a dotted path: torch.optim.SGD, training.value.X
    re.compile(r"\w\.py\b"),  # a source file
    re.compile(r"\bsee (?:the )?(?:engine|nets|selfplay|training|gtp|igo)/"),  # a folder of the source
    re.compile(r"\b[A-Z][A-Za-z]*[a-z](?:Config|Options|Trainer|Error)\b"),  # a class name
]


def _walk(parser: argparse.ArgumentParser, path: tuple[str, ...]) -> Iterator[tuple[str, argparse.Action]]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _walk(sub, (*path, name))
        else:
            yield " ".join(path), action


ACTIONS = list(_walk(build_parser(), ("igo",)))


def _name(command: str, action: argparse.Action) -> str:
    return f"{command} {'/'.join(action.option_strings) or action.dest}"


def _numbers(text: str) -> set[float]:
    out = set()
    for token in NUMBER.findall(text):
        try:
            out.add(float(token.replace(",", "")))
        except ValueError:
            pass
    return out


def _shows(help_text: str, default: object) -> bool:
    """Whether ``help_text`` shows ``default`` (rule 3)."""
    if isinstance(default, bool):
        return str(default).lower() in help_text.lower()
    if isinstance(default, (int, float)):
        return any(math.isclose(float(default), n, rel_tol=1e-9, abs_tol=1e-12) for n in _numbers(help_text))
    if isinstance(default, (list, tuple)):
        return ",".join(str(v) for v in default) in help_text.replace(", ", ",")
    if isinstance(default, str):
        return default.lower() in help_text.lower()
    return True  # other objects (none in igo today) are not checked


def problems(command: str, action: argparse.Action) -> list[str]:
    """What is wrong with one action's help, by the rules of this module's docstring."""
    name = _name(command, action)
    text = action.help
    if text == argparse.SUPPRESS:
        return []
    if not text or not text.strip():
        return [f"{name}: no help"]
    out = []
    for pattern in SOURCE:
        if m := pattern.search(text):
            out.append(f"{name}: help points into the source ({m.group(0)!r}): {text!r}")
    if not action.option_strings or isinstance(action, NO_VALUE) or action.required:
        return out
    if REQUIRED_IN_SOME_USES.search(text):
        return out
    if "default" not in text.lower():
        out.append(f"{name}: help does not state the default ({action.default!r}): {text!r}")
    elif action.default is not None and action.default != "" and not _shows(text, action.default):
        out.append(f"{name}: help does not show the default {action.default!r}: {text!r}")
    return out


def test_the_walk_reaches_nested_commands():
    commands = {c for c, _ in ACTIONS}
    for c in ("igo gtp", "igo play", "igo train zero", "igo train sl", "igo train value", "igo model init",
              "igo model list", "igo bench mcts", "igo bench nn", "igo corpus stats", "igo match",
              "igo tournament"):  # fmt: skip
        assert c in commands


def test_every_help_states_its_default_and_stays_out_of_the_source():
    found = [p for command, action in ACTIONS for p in problems(command, action)]
    assert not found, "\n".join(found)


@pytest.mark.parametrize(
    "kwargs, ok",
    [
        ({"type": int, "default": 5, "help": "a count (default 5)"}, True),
        ({"type": int, "default": 5, "help": "a count (default 3)"}, False),  # the stated default drifted
        ({"type": int, "default": None, "help": "a count"}, False),  # says nothing about the default
        ({"type": int, "default": None, "help": "a count (default: no limit)"}, True),
        ({"type": float, "default": 1e-4, "help": "decay (default 1e-4)"}, True),
        ({"type": int, "default": 20_000_000, "help": "every N (default 20,000,000)"}, True),
        ({"default": "auto", "help": "auto (default), cpu or cuda"}, True),
        ({"default": "auto", "help": "the device (default cpu)"}, False),
        ({"default": None, "help": "a path; required for a new run"}, True),
        ({"default": None, "help": "a path; required to make a corpus"}, True),
        ({"default": None, "help": "a path, as required"}, False),
        ({"action": "store_true", "help": "a flag"}, True),
        ({"required": True, "help": "a path"}, True),
        ({"default": "sgd", "help": "sgd (default; see torch.optim.SGD)"}, False),
        ({"default": "sgd", "help": "sgd (default; see training.value.ValueTrainConfig)"}, False),
        ({"default": "sgd", "help": "sgd (default), as PlayerOptions says"}, False),
        ({"type": int, "default": 3, "help": None}, False),
    ],
)
def test_the_rules_catch_what_they_should(kwargs, ok):
    p = argparse.ArgumentParser()
    action = p.add_argument("--x", **kwargs)
    assert (problems("t", action) == []) is ok, problems("t", action)


def test_one_default_board_size():
    assert DEFAULT_SIZE == 9
    sizes = [(c, a) for c, a in ACTIONS if "--size" in a.option_strings]
    assert {c for c, _ in sizes} >= {"igo gtp", "igo play", "igo match", "igo tournament", "igo train zero",
                                      "igo train sl", "igo train rollout", "igo corpus", "igo model list"}  # fmt: skip
    for command, action in sizes:
        if command in ("igo corpus stats", "igo model init"):
            continue
        assert action.default in (None, DEFAULT_SIZE), command
        assert f"default {DEFAULT_SIZE}" in action.help, (command, action.help)


def _parse(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(list(argv))


def test_model_init_size_is_the_boards_range():
    (action,) = [a for c, a in ACTIONS if c == "igo model init" and "--size" in a.option_strings]
    assert f"{MIN_SIZE}..{MAX_SIZE}" in action.help and MAX_SIZE == 25


def test_model_init_writes_a_25x25_net_and_rejects_26(tmp_path, capsys):
    from igo.cli import main
    from igo.nets.checkpoint import read_metadata

    path = tmp_path / "z25.safetensors"
    assert main(["model", "init", "--config", "zero-tiny", "--size", str(MAX_SIZE), "-o", str(path)]) == 0
    assert read_metadata(path).board_size == MAX_SIZE and "25x25" in capsys.readouterr().out
    assert main(["model", "init", "--config", "zero-tiny", "--size", str(MAX_SIZE + 1), "-o", str(tmp_path / "x")]) == 1
    assert "board size must be an integer in 2..25" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_model_list_wording(capsys):
    from igo.cli import main

    assert main(["model", "list"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert f"params {DEFAULT_SIZE}x{DEFAULT_SIZE}" in lines[0]
    tiny = next(line for line in lines if line.startswith("zero-tiny "))
    assert "1 basic block of 8 channels" in tiny and "1 basic blocks" not in out
    assert "6 basic blocks of 64 channels" in out and "zero-b6c64:" not in out  # the name is not repeated
    assert main(["model", "list", "--size", "1"]) == 1
    assert "board size" in capsys.readouterr().err


def test_describe_plurals():
    from igo.nets.config import describe, get_config

    assert "1 basic block of 8 channels" in describe(get_config("zero-tiny"))
    assert describe(get_config("zero-tiny")).startswith("zero-tiny: ")
    assert not describe(get_config("zero-tiny"), name=False).startswith("zero-tiny")
    assert "13 conv layers of 192 filters" in describe(get_config("lee-policy-192"))


def test_train_sl_new_run_needs_sgf_and_defaults_to_the_board_size(tmp_path, capsys):
    from igo.cli import main
    from igo.train_sl_cmd import config_from_args

    assert main(["train", "sl", "--run-dir", str(tmp_path / "new")]) == 2
    err = capsys.readouterr().err
    assert "igo train sl: error:" in err and "--sgf" in err
    assert not (tmp_path / "new").exists()
    (tmp_path / "sgf").mkdir()
    config = config_from_args(_parse("train", "sl", "--run-dir", str(tmp_path / "n2"), "--sgf", str(tmp_path / "sgf")))
    assert config.size == DEFAULT_SIZE


def test_train_rl_new_run_needs_init(tmp_path, capsys):
    from igo.cli import main

    assert main(["train", "rl", "--run-dir", str(tmp_path / "new")]) == 2
    err = capsys.readouterr().err
    assert "igo train rl: error:" in err and "--init" in err


@pytest.mark.parametrize("trainer, option", [("sl", "--sgf"), ("rl", "--init")])
def test_usage_shows_what_a_new_run_needs(trainer, option, capsys):
    with pytest.raises(SystemExit):
        _parse("train", trainer, "--help")
    out = capsys.readouterr().out
    usage = out.split("\n\n")[0]
    assert f"igo train {trainer} --run-dir RUN_DIR {option} " in usage and "new run" in usage and "resume" in usage
    assert "required for a new run" in " ".join(out.split())  # help wraps lines


def test_gtp_starts_on_the_default_board_size():
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-m", "igo", "gtp", "--player", "random"], input="showboard\nquit\n",
                       capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
    assert r.returncode == 0, r.stderr
    columns = "ABCDEFGHJKLMNOPQRST"[:DEFAULT_SIZE]
    assert " ".join(columns) in r.stdout and " ".join("ABCDEFGHJKLMNOPQRST"[: DEFAULT_SIZE + 1]) not in r.stdout
