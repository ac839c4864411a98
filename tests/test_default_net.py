"""The default network (igo.nets.default): found through IGO_DEFAULT_NET (here a zero-tiny 9x9 checkpoint written in
tmp_path) or the package file, played on 9x9 when no network is named (igo gtp, igo play, igo players of match and
tournament), not on other sizes nor with --model none; ``igo model ship`` and ``igo model info --default``; and the
real shipped network, when there is one, plays a legal 9x9 game to the end."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import torch

from igo.cli import main
from igo.engine.options import NO_MODEL, PlayerOptions
from igo.nets.checkpoint import load_state, read_metadata, save_checkpoint
from igo.nets.config import get_config
from igo.nets.default import ENV_VAR, default_network_info, default_network_path, packaged_path
from igo.nets.models import build_model
from igo.nets.player import build_player, resolve_play

ROOT = Path(__file__).resolve().parents[1]
PROVENANCE = {
    "commands": ["igo corpus --size 9 -o runs/c9", "igo train zero --size 9 --run-dir runs/z9 --init sl.safetensors"],
    "games": 1234,
    "positions": 56789,
    "learner_steps": 4000,
    "cpu_hours": 31.5,
    "parent": "runs/sl9/sl.safetensors",
    "elo_vs_gnugo10": {"elo": 250.0, "low": 180.0, "high": 330.0, "games": 200},
    "settings": {"simulations": 200, "time": 1.0},
}


def tiny(path: Path, size: int = 9, komi: float | None = 6.5, config: str = "zero-tiny") -> Path:
    torch.manual_seed(0)
    return save_checkpoint(path, build_model(get_config(config), size), komi=komi)


@pytest.fixture
def default_net(tmp_path, monkeypatch) -> Path:
    path = tiny(tmp_path / "default9.safetensors")
    monkeypatch.setenv(ENV_VAR, str(path))
    return path


# --- finding it --------------------------------------------------------------------------------------------------


def test_env_override_and_absence(tmp_path, monkeypatch, default_net):
    assert default_network_path() == default_net
    for off in ("", "none", "None"):
        monkeypatch.setenv(ENV_VAR, off)
        assert default_network_path() is None and default_network_info() is None
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "typo.safetensors"))
    with pytest.raises(ValueError, match=f"{ENV_VAR}=.*typo.safetensors: no such file"):
        default_network_path()
    monkeypatch.delenv(ENV_VAR)
    expected = packaged_path() if packaged_path().is_file() else None
    assert default_network_path() == expected  # the package file, or none (today's source tree)
    assert packaged_path() == ROOT / "nets" / "data" / "igo-9x9.safetensors"


def test_package_data_and_gitignore_let_the_network_ship():
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert {"data/*.safetensors", "data/*.json"} <= set(setuptools["package-data"]["igo.nets"])
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    out = subprocess.run(["git", "check-ignore", "-q", "nets/data/igo-9x9.safetensors"], cwd=ROOT)
    assert out.returncode == 1  # not ignored: git add picks it up


# --- who plays ---------------------------------------------------------------------------------------------------


def test_resolve_play_uses_it_on_9x9_only_when_no_network_is_named(default_net):
    setup = resolve_play(PlayerOptions(playouts=8), None, None, 9)
    assert setup.default_network == default_net and setup.options.model == str(default_net)
    assert setup.size == 9 and setup.komi == 6.5  # its komi, like any Zero checkpoint's
    assert resolve_play(PlayerOptions(playouts=8), 9, 7.5, 9).komi == 7.5  # --komi wins
    player = build_player(setup.options, setup.size)
    assert player.evaluator is not None and player.evaluator.kind == "zero"
    assert player.config.search.lam == 0.0  # AlphaGo Zero's search, the library's defaults

    for options, size in [
        (PlayerOptions(playouts=8), 7),  # other sizes keep rollouts
        (PlayerOptions(playouts=8, model="none"), 9),
        (PlayerOptions(playouts=8, model="NONE"), 9),
        (PlayerOptions(kind="random"), 9),
    ]:
        setup = resolve_play(options, size, None, 9)
        assert setup.default_network is None and setup.options.model_path is None and setup.komi == 7.5
        player = build_player(setup.options, setup.size)
        assert getattr(player, "evaluator", None) is None


def test_model_none_is_kept_and_passed_on_to_igo_gtp():
    from igo.selfplay.tournament import TournamentPlayer

    options = PlayerOptions(model="None", playouts=8)
    assert options.model == NO_MODEL and not options.uses_networks and options.model_path is None
    assert options.to_argv() == ["--playouts", "8", "--model", "none"]
    assert PlayerOptions.from_argv(options.to_argv()) == options
    argv = TournamentPlayer(name="rollouts", igo="--playouts 8 --model none").argv(9, 7.5)
    assert argv[argv.index("--model") + 1] == "none"
    argv = TournamentPlayer(name="rollouts", igo="--playouts 8", model="none").argv(9, 7.5)
    assert argv[argv.index("--model") + 1] == "none"
    with pytest.raises(ValueError, match="--player policy"):
        PlayerOptions(kind="policy", model="none")


def gtp(args: list[str], commands: str, env_net: Path | str) -> tuple[str, str]:
    env = {**os.environ, ENV_VAR: str(env_net), "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-m", "igo", "-v", "gtp", "--playouts", "8", "--seed", "1", *args],
                         input=commands + "quit\n", capture_output=True, text=True, cwd=ROOT, env=env,
                         timeout=300)  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout, out.stderr


def test_igo_gtp_plays_it_on_9x9_and_rollouts_elsewhere(default_net):
    out, err = gtp([], "genmove b\nboardsize 7\ngenmove w\nboardsize 9\ngenmove b\n", default_net)
    replies = [r for r in out.split("\n\n") if r.strip()]
    assert len(replies) == 6 and all(r.startswith("=") for r in replies), out
    assert "playing with the default network default9.safetensors (zero-tiny, 9x9" in err
    assert "7x7: the rollout search plays" in err
    assert "komi 6.5" in err  # the ready line: the network's komi
    _, err = gtp(["--size", "7"], "genmove b\n", default_net)
    assert "default network" not in err
    _, err = gtp(["--model", "none"], "genmove b\n", default_net)
    assert "default network" not in err and "komi 7.5" in err


def test_igo_play_names_it_in_one_line(default_net):
    env = {**os.environ, ENV_VAR: str(default_net), "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "igo", "play", "--playouts", "4", "--seed", "1"]
    out = subprocess.run(cmd, input="quit\n", capture_output=True, text=True, cwd=ROOT, env=env, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    lines = [line for line in out.stderr.splitlines() if "default network" in line]
    assert len(lines) == 1 and "default9.safetensors" in lines[0] and "--model none" in lines[0]
    assert "komi 6.5" in out.stdout
    out = subprocess.run([*cmd, "--model", "none"], input="quit\n", capture_output=True, text=True, cwd=ROOT,
                         env=env, timeout=300)  # fmt: skip
    assert out.returncode == 0 and "default network" not in out.stderr and "komi 7.5" in out.stdout


# --- igo model ship / info --default ----------------------------------------------------------------------------


def write_provenance(path: Path, d: dict) -> Path:
    path.write_text(json.dumps(d))
    return path


def test_ship_then_info_default_round_trips_the_provenance(tmp_path, monkeypatch, capsys):
    src = tiny(tmp_path / "trained.safetensors")
    prov = write_provenance(tmp_path / "prov.json", PROVENANCE)
    out = tmp_path / "data" / "igo-9x9.safetensors"
    assert main(["model", "ship", str(src), "--provenance", str(prov), "-o", str(out)]) == 0
    assert "Elo +250" in capsys.readouterr().out
    a, _ = load_state(src)
    b, _ = load_state(out)
    assert all(torch.equal(a[k], b[k]) for k in a)

    monkeypatch.setenv(ENV_VAR, str(out))
    assert main(["model", "info", "--default", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["elo"] == 250.0 and info["board_size"] == 9 and info["path"] == str(out)
    assert info["elo_low"] == 180.0 and info["elo_high"] == 330.0 and info["elo_games"] == 200
    assert info["provenance"] == PROVENANCE and info["config_name"] == "zero-tiny" and info["komi"] == 6.5
    assert main(["model", "info", "--default"]) == 0
    text = capsys.readouterr().out
    assert "Elo vs GNU Go 10  +250 (95% interval +180 .. +330, 200 games)" in text
    assert "CPU-hours        31.5" in text and "igo corpus --size 9 -o runs/c9" in text
    assert main(["model", "info", str(out)]) == 0 and "provenance" in capsys.readouterr().out
    assert main(["model", "info", str(src)]) == 0 and "provenance" not in capsys.readouterr().out

    # an existing file is replaced only with --force
    assert main(["model", "ship", str(src), "--provenance", str(prov), "-o", str(out)]) == 1
    assert "--force" in capsys.readouterr().err
    assert main(["model", "ship", str(src), "--provenance", str(prov), "-o", str(out), "--force"]) == 0


def test_ship_refuses_bad_provenance_and_nets(tmp_path, capsys):
    src = tiny(tmp_path / "trained.safetensors")
    out = tmp_path / "out.safetensors"

    def ship(prov: Path, ckpt: Path = src, *extra: str) -> str:
        assert main(["model", "ship", str(ckpt), "--provenance", str(prov), *extra]) == 1
        return capsys.readouterr().err

    missing = {k: v for k, v in PROVENANCE.items() if k != "cpu_hours"}
    assert "missing key 'cpu_hours'" in ship(write_provenance(tmp_path / "p1.json", missing), src, "-o", str(out))
    bad_elo = {**PROVENANCE, "elo_vs_gnugo10": {"elo": 250.0, "low": 300.0, "high": 330.0, "games": 200}}
    assert "low <= elo <= high" in ship(write_provenance(tmp_path / "p2.json", bad_elo), src, "-o", str(out))
    (tmp_path / "p3.json").write_text("{not json")
    assert "not valid JSON" in ship(tmp_path / "p3.json", src, "-o", str(out))
    assert "cannot read it" in ship(tmp_path / "nowhere.json", src, "-o", str(out))
    assert not out.exists()
    prov = write_provenance(tmp_path / "ok.json", PROVENANCE)
    small = tiny(tmp_path / "seven.safetensors", size=7)
    assert "is for 7x7" in ship(prov, small)  # the package's place takes a 9x9 net (checked before any write)
    torch.manual_seed(0)
    lee = save_checkpoint(tmp_path / "lee.safetensors", build_model(get_config("lee-policy-tiny"), 9))
    assert "igo ships a Zero net" in ship(prov, lee, "-o", str(out))
    assert not out.exists()


def test_info_default_without_a_network(monkeypatch, capsys):
    monkeypatch.setenv(ENV_VAR, "none")
    assert main(["model", "info", "--default"]) == 1
    assert "no default network" in capsys.readouterr().err
    assert main(["model", "info"]) == 1
    assert "PATH, or --default" in capsys.readouterr().err


def test_train_zero_init_default_is_the_default_network(tmp_path, monkeypatch, default_net, capsys):
    args = ["train", "zero", "--run-dir", str(tmp_path / "run"), "--size", "9", "--init", "default"]
    monkeypatch.setenv(ENV_VAR, "none")
    assert main(args) == 2
    assert "--init default: this igo has no default network" in capsys.readouterr().err
    monkeypatch.setenv(ENV_VAR, str(default_net))  # a zero-tiny net: the run's zero-b2c32 refuses it, naming it
    assert main([*args, "--config", "zero-b2c32"]) == 2
    assert f"--init {default_net} is a zero-tiny net for 9x9, this run trains zero-b2c32" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


# --- the real shipped network ------------------------------------------------------------------------------------


@pytest.mark.skipif(not packaged_path().is_file(), reason="no network ships yet (nets/data/igo-9x9.safetensors)")
def test_the_shipped_network_loads_and_plays_a_legal_game_to_the_end(monkeypatch):
    from igo.engine.board import BLACK, WHITE, Board

    monkeypatch.delenv(ENV_VAR, raising=False)
    meta = read_metadata(packaged_path())
    assert meta.kind == "zero" and meta.board_size == 9 and meta.provenance is not None
    setup = resolve_play(PlayerOptions(playouts=16, seed=1, threads=1, nn_threads=1, resign=0.05), None, None, 9)
    assert setup.default_network == packaged_path() and setup.komi == (meta.komi if meta.komi is not None else 7.5)
    player = build_player(setup.options, setup.size)
    board = Board(9, setup.komi)
    player.new_game(board)
    color = BLACK
    for _ in range(400):
        move = player.genmove(board, color)
        if move == "resign":
            break
        board.play(move, color)  # raises on an illegal move
        player.played(board, color, move)
        if board.is_over:
            break
        color = WHITE if color == BLACK else BLACK
    assert move == "resign" or board.is_over, f"no end after {len(board.moves)} moves"


def test_an_int8_default_network_trains_from_its_float_twin(tmp_path, monkeypatch, capsys):
    from igo.nets.default import default_training_path, float_twin

    src = tiny(tmp_path / "igo-9x9-float.safetensors")
    played = tmp_path / "igo-9x9.safetensors"
    assert main(["model", "quantize", str(src), "-o", str(played), "--positions", "16"]) == 0
    assert float_twin(played) == src
    monkeypatch.setenv(ENV_VAR, str(played))
    assert default_training_path() == src  # the int8 file plays, its float twin trains
    setup = resolve_play(PlayerOptions(playouts=8, threads=1, nn_threads=1), None, None, 9)
    assert setup.default_network == played
    assert type(build_player(setup.options, 9).evaluator.model).__name__ == "QuantizedNet"
    args = ["train", "zero", "--run-dir", str(tmp_path / "run"), "--size", "9", "--config", "zero-b2c32"]
    assert main([*args, "--init", str(played)]) == 2  # an int8 file cannot be trained
    assert "is an int8 network, for play only; train from its float weights" in capsys.readouterr().err
    assert main([*args, "--init", "default"]) == 2  # the twin is found (and refused for its config, naming it)
    assert f"--init {src} is a zero-tiny net" in capsys.readouterr().err
    src.unlink()
    with pytest.raises(ValueError, match="is int8, for play only, and its float weights .* are missing"):
        default_training_path()
    assert not (tmp_path / "run").exists()
