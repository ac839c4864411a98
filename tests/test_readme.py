"""The README's Python examples run as written."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def test_readme_python_blocks_run(capsys):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)
    assert blocks, "the README has no Python example"
    for code in blocks:
        # The packages import as igo.engine, igo.nets, ...: a bare "engine" would only work from the source tree.
        assert not re.search(r"^\s*(from|import) (engine|nets|selfplay|training|gtp)\b", code, flags=re.M), code
        exec(compile(code, str(README), "exec"), {})
    assert "A B C D E F G H J" in capsys.readouterr().out


def test_readme_test_command_is_what_ci_runs():
    ci = (README.parent / ".ci" / "run").read_text(encoding="utf-8")
    command = ".venv/bin/python -m pytest -q"
    assert command in README.read_text(encoding="utf-8")
    assert f"exec {command}" in ci
