"""The play settings a network ships with (igo.nets.play_settings): validated like hostile input, applied by
resolve_play to whatever the command line leaves unset (the shipped 9x9 net plays with λ = 0.5 unless --lambda is
given), carried by ``igo model ship`` and shown by ``igo model info``, and dropped again where igo plays without the
network (igo gtp on another board size)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from igo.cli import main
from igo.engine.options import PlayerOptions
from igo.nets.checkpoint import read_metadata, save_checkpoint
from igo.nets.config import get_config
from igo.nets.default import ENV_VAR
from igo.nets.models import build_model
from igo.nets.play_settings import PLAY_KEYS, apply_play, check_play
from igo.nets.player import build_player, network_play, resolve_play

ROOT = Path(__file__).resolve().parents[1]
PROVENANCE = {
    "commands": ["igo train zero --size 9 --run-dir runs/z9"],
    "games": 10,
    "positions": 600,
    "learner_steps": 40,
    "cpu_hours": 0.5,
    "parent": None,
    "elo_vs_gnugo10": {"elo": 50.0, "low": -50.0, "high": 150.0, "games": 40},
}


def test_check_play_accepts_the_flags_settings_and_refuses_the_rest():
    ok = {"lambda": 0.5, "c_puct": 1.2, "fpu_reduction": 0.25, "lcb": True, "expand_after": 2, "virtual_loss": 3,
          "c_puct_base": 19652, "fill_eyes": False, "policy_temperature": 1.1}  # fmt: skip
    assert check_play(ok) is ok and set(ok) == set(PLAY_KEYS)
    assert check_play({}) == {}
    for bad, why in [
        ([0.5], "must be a JSON object"),
        ({"lamda": 0.5}, "unknown key 'lamda'"),
        ({"time": 1.0}, "unknown key 'time'"),  # machine settings are not the network's
        ({"lambda": True}, "'lambda' must be a number"),
        ({"lambda": "0.5"}, "'lambda' must be a number"),
        ({"lambda": float("nan")}, "'lambda' must be a number"),
        ({"lambda": 1.5}, "--lambda: must be in"),
        ({"c_puct": -1}, "--c-puct: must be a positive number"),
        ({"expand_after": 1.5}, "--expand-after: must be an integer"),
        ({"expand_after": 0}, "--expand-after: must be an integer of at least 1"),
        ({"lcb": 1}, "'lcb' must be true or false"),
        ({"virtual_loss": 10**9}, "--virtual-loss: must be at most"),
    ]:
        with pytest.raises(ValueError, match=re.escape(why)):
            check_play(bad)


def test_apply_play_fills_only_what_the_command_line_leaves_unset():
    options = PlayerOptions(model="net.safetensors", playouts=8)
    filled_options, filled = apply_play(options, {"lambda": 0.5, "c_puct": 1.2})
    assert filled == {"lam": 0.5, "c_puct": 1.2} and filled_options.lam == 0.5 and filled_options.c_puct == 1.2
    given = PlayerOptions(model="net.safetensors", playouts=8, lam=0.0)
    kept, filled = apply_play(given, {"lambda": 0.5, "c_puct": 1.2})
    assert kept.lam == 0.0 and kept.c_puct == 1.2 and filled == {"c_puct": 1.2}  # --lambda 0 wins
    assert apply_play(options, {}) == (options, {}) and apply_play(options, None) == (options, {})


@pytest.fixture
def shipped(tmp_path) -> Path:
    torch.manual_seed(0)
    src = save_checkpoint(tmp_path / "trained.safetensors", build_model(get_config("zero-tiny"), 9), komi=7.5)
    prov = tmp_path / "prov.json"
    prov.write_text(json.dumps({**PROVENANCE, "play": {"lambda": 0.5}}))
    out = tmp_path / "igo-9x9.safetensors"
    assert main(["model", "ship", str(src), "--provenance", str(prov), "-o", str(out)]) == 0
    return out


def test_the_shipped_settings_are_the_players_defaults(shipped, monkeypatch, capsys):
    assert network_play(str(shipped)) == {"lambda": 0.5}
    monkeypatch.setenv(ENV_VAR, str(shipped))
    setup = resolve_play(PlayerOptions(playouts=8, threads=1, nn_threads=1), None, None, 9)
    assert setup.default_network == shipped and setup.network_play == {"lam": 0.5}
    assert build_player(setup.options, 9).config.search.lam == 0.5
    setup = resolve_play(PlayerOptions(playouts=8, threads=1, nn_threads=1, lam=0.0), None, None, 9)
    assert setup.network_play == {} and build_player(setup.options, 9).config.search.lam == 0.0  # --lambda 0 wins
    # the same file named with --model plays the same way; --model none plays rollouts, nothing filled
    setup = resolve_play(PlayerOptions(playouts=8, model=str(shipped)), None, None, 9)
    assert setup.default_network is None and setup.options.lam == 0.5
    setup = resolve_play(PlayerOptions(playouts=8, model="none"), None, None, 9)
    assert setup.options.lam is None and setup.network_play == {}
    # a net without a play block keeps the library's defaults
    plain = save_checkpoint(shipped.parent / "plain.safetensors", build_model(get_config("zero-tiny"), 9))
    assert network_play(str(plain)) == {}
    assert resolve_play(PlayerOptions(playouts=8, model=str(plain)), None, None, 9).options.lam is None

    # --lambda 0.5 without --model: allowed while the default network may play, refused where none does
    monkeypatch.setenv(ENV_VAR, "none")
    setup = resolve_play(PlayerOptions(playouts=8, lam=0.5), None, None, 9)
    with pytest.raises(ValueError, match="--lambda below 1 needs a value network"):
        build_player(setup.options, 9)
    with pytest.raises(ValueError, match="--lambda below 1 needs a value network"):
        PlayerOptions(playouts=8, lam=0.5, model="none")

    assert main(["model", "info", str(shipped), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["provenance"]["play"] == {"lambda": 0.5}
    assert main(["model", "info", str(shipped)]) == 0
    assert 'play             {"lambda": 0.5}' in capsys.readouterr().out


def test_ship_refuses_a_bad_play_block(tmp_path, capsys):
    torch.manual_seed(0)
    src = save_checkpoint(tmp_path / "trained.safetensors", build_model(get_config("zero-tiny"), 9))
    prov = tmp_path / "prov.json"
    prov.write_text(json.dumps({**PROVENANCE, "play": {"lambda": 2}}))
    out = tmp_path / "out.safetensors"
    assert main(["model", "ship", str(src), "--provenance", str(prov), "-o", str(out)]) == 1
    assert "provenance: play: --lambda: must be in [0, 1]" in capsys.readouterr().err
    assert not out.exists()


def test_a_file_with_a_bad_play_block_is_refused_on_reading(shipped, tmp_path):
    from safetensors import safe_open
    from safetensors.torch import save_file

    with safe_open(str(shipped), framework="pt") as f:
        header = f.metadata()
        tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118  (safe_open has no __iter__)
    text = json.dumps(header)
    assert '\\"play\\": {\\"lambda\\": 0.5}' in text
    hostile = json.loads(text.replace('\\"play\\": {\\"lambda\\": 0.5}', '\\"play\\": {\\"lambda\\": \\"rm -rf\\"}'))
    bad = tmp_path / "hostile.safetensors"
    save_file(tensors, str(bad), metadata=hostile)
    with pytest.raises(ValueError, match="play: 'lambda' must be a number"):
        read_metadata(bad)


def test_igo_gtp_drops_the_networks_settings_on_another_board_size(shipped):
    env = {**os.environ, ENV_VAR: str(shipped), "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-m", "igo", "-v", "gtp", "--playouts", "8", "--seed", "1"],
                         input="genmove b\nboardsize 7\ngenmove w\nboardsize 9\ngenmove b\nquit\n",
                         capture_output=True, text=True, cwd=ROOT, env=env, timeout=300)  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    replies = [r for r in out.stdout.split("\n\n") if r.strip()]
    assert len(replies) == 6 and all(r.startswith("=") for r in replies), out.stdout
    assert "7x7: the rollout search plays" in out.stderr and "no player without the network" not in out.stderr
    # --lambda 0 is the user's: on 7x7 no player without the network can take it, and the size is refused
    out = subprocess.run([sys.executable, "-m", "igo", "-v", "gtp", "--playouts", "8", "--seed", "1", "--lambda", "0"],
                         input="genmove b\nboardsize 7\nquit\n", capture_output=True, text=True, cwd=ROOT, env=env,
                         timeout=300)  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    replies = [r for r in out.stdout.split("\n\n") if r.strip()]
    assert replies[0].startswith("=") and replies[1].startswith("?"), out.stdout
    assert "no player without the network for 7x7" in out.stderr
