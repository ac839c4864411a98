"""The installed package: one ``igo`` namespace, nothing generic at the top of site-packages, and a wheel that runs.

The folders ``engine/ nets/ selfplay/ training/ gtp/`` sit at the top of the repository but install as ``igo.engine``,
``igo.nets``, ... (``[tool.setuptools.package-dir]`` in pyproject.toml). These tests build the wheel the way a user or
a packager would (``pip wheel .``), look inside it, and run ``igo gtp`` from it with the source tree out of the way.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SUBPACKAGES = ("engine", "nets", "selfplay", "training", "gtp")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    # --no-build-isolation: build with this environment's setuptools (no download); the build itself is the check.
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "--no-build-isolation", "-q", "-w", str(out)],
        check=True,
        capture_output=True,
        cwd=out,
    )
    (path,) = out.glob("igo-*.whl")
    return path


def test_wheel_installs_only_the_igo_namespace(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/")[0] for n in names}
    assert {t for t in top if not t.endswith(".dist-info")} == {"igo"}
    for sub in SUBPACKAGES:
        assert f"igo/{sub}/__init__.py" in names, sub
        assert not any(n.startswith(f"{sub}/") for n in names), sub
    assert "igo/engine/board.py" in names and "igo/gtp/engine.py" in names and "igo/cli.py" in names


def test_editable_install_imports_the_namespace():
    import igo.engine.board
    import igo.gtp.engine

    assert Path(igo.engine.board.__file__).resolve() == ROOT / "engine" / "board.py"
    assert Path(igo.gtp.engine.__file__).resolve() == ROOT / "gtp" / "engine.py"


def test_wheel_runs_igo_gtp(wheel, tmp_path):
    site = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "-q", "--target", str(site), str(wheel)],
        check=True,
        capture_output=True,
    )
    assert not any((site / sub).exists() for sub in SUBPACKAGES)
    # The wheel's copy comes first on the path; the run starts outside the source tree, so nothing of it is imported.
    env = dict(os.environ, PYTHONPATH=str(site), NUMBA_CACHE_DIR=str(tmp_path / "numba"))
    script = (
        "import sys, igo, igo.gtp.engine; "
        "assert igo.__file__.startswith(sys.argv[1]), igo.__file__; "
        "assert igo.gtp.engine.__file__.startswith(sys.argv[1]), igo.gtp.engine.__file__; "
        "from igo.cli import main; sys.argv[1:] = ['gtp', '--size', '9', '--player', 'random', '--seed', '1']; "
        "sys.exit(main())"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script, str(site)],
        input="name\nversion\nplay b E5\ngenmove w\nquit\n",
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    replies = [line for line in proc.stdout.splitlines() if line.strip()]
    assert replies[0] == "= igo"
    assert replies[1] == "= 0.1.0"
    assert replies[2].strip() == "="
    assert replies[3].startswith("= ") and replies[3] != "= E5"
