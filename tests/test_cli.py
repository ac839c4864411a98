"""Smoke runs of the igo command in a subprocess, with tiny settings."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

SGF_GAME = b"(;GM[1]FF[4]SZ[9]KM[7]PB[Alice]PW[Bob]RE[B+R];B[ee];W[gc];B[cg];W[dc];B[];W[])"


def igo(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "igo.cli", *args], capture_output=True, text=True, timeout=timeout, check=False
    )


def test_help_lists_subcommands():
    r = igo("--help")
    assert r.returncode == 0
    for name in ("bench", "show"):
        assert name in r.stdout


def test_version():
    r = igo("--version")
    assert r.returncode == 0 and r.stdout.startswith("igo ")


def test_bench_board_json():
    r = igo("bench", "board", "--size", "5", "--seconds", "0.2", "--json")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout.strip().splitlines()[-1])
    assert data["size"] == 5
    assert data["playouts_per_sec"] > 0
    assert 5 <= data["moves_per_playout"] <= 3 * 25
    assert data["make_undo_per_sec"] > 0
    assert "light playouts" in r.stderr  # the human-readable lines go to stderr with --json


@pytest.mark.parametrize("args", [["--size", "1"], ["--size", "30"], ["--seconds", "0"]])
def test_bench_board_rejects_bad_arguments(args):
    r = igo("bench", "board", *args)
    assert r.returncode != 0
    assert "error" in r.stderr


def test_show_replays_sgf(tmp_path):
    path = tmp_path / "game.sgf"
    path.write_bytes(SGF_GAME)
    r = igo("show", str(path))
    assert r.returncode == 0, r.stderr
    assert "Alice" in r.stdout and "Bob" in r.stdout
    assert "recorded result: B+R" in r.stdout
    # 2 black and 2 white stones, the rest neutral: area B 2 W 2 -> W+7
    assert "area B 2 W 2" in r.stdout and "W+7" in r.stdout


def test_show_reports_bad_file(tmp_path):
    path = tmp_path / "bad.sgf"
    path.write_bytes(b"(;SZ[9];B[ee];W[ee])")  # a move on an occupied point
    r = igo("show", str(path))
    assert r.returncode == 1
    assert "error" in r.stderr
    assert "E5" in r.stderr or "[ee]" in r.stderr  # names the offending move
    r = igo("show", str(tmp_path / "missing.sgf"))
    assert r.returncode == 1 and "error" in r.stderr


def test_bench_mcts_json():
    r = igo("bench", "mcts", "--size", "5", "--seconds", "0.2", "--simulations", "200", "--json")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout.strip().splitlines()[-1])
    assert data["size"] == 5 and data["simulations_per_search"] == 200
    assert data["simulations_per_sec"] > 0 and data["tree_simulations_per_sec"] > 0
    assert 0 < data["rollout_search_vs_playouts"]


def test_a_reader_that_goes_away_is_not_an_error():
    """``igo model list | head -1``: the pipe closes before igo writes; igo exits quietly (141, as SIGPIPE) instead
    of printing "error: [Errno 32] Broken pipe" or a traceback at exit."""
    p = subprocess.Popen([sys.executable, "-m", "igo.cli", "model", "list"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)  # fmt: skip
    p.stdout.close()  # before the interpreter has even imported igo: every write fails
    _, err = p.communicate(timeout=120)
    assert p.returncode == 141
    assert b"Broken pipe" not in err and b"Traceback" not in err and b"Exception ignored" not in err, err


def test_a_broken_pipe_that_is_not_stdout_is_an_error(monkeypatch, capsys):
    """A BrokenPipeError from another pipe (a GTP engine that died, say) is reported like any error, exit 1."""
    import igo.cli as cli

    def boom(args):
        raise BrokenPipeError(32, "Broken pipe")

    parser = cli.build_parser()
    monkeypatch.setattr(cli, "build_parser", lambda: parser)
    args = parser.parse_args(["model", "list"])
    monkeypatch.setattr(parser, "parse_args", lambda argv=None: args)
    args.run = boom
    assert cli.main(["model", "list"]) == 1
    assert "igo model: error" in capsys.readouterr().err
