"""Tests of engine/options.py: PlayerOptions' defaults and checks, the flags it reads and writes (round trips through
the parser), and the search settings it resolves by the networks."""

from __future__ import annotations

import argparse
import dataclasses

import pytest

from igo.engine.options import PlayerOptions, add_player_arguments
from igo.engine.search import SearchConfig


def parse(argv: list[str]) -> PlayerOptions:
    p = argparse.ArgumentParser()
    add_player_arguments(p)
    return PlayerOptions.from_namespace(p.parse_args(argv))


def test_the_parser_defaults_are_the_dataclass_defaults():
    assert parse([]) == PlayerOptions()
    assert PlayerOptions().to_argv() == []


def test_to_argv_for_the_tournament_and_the_zero_evaluation():
    options = PlayerOptions(playouts=800, threads=1, resign=0.05)
    assert options.to_argv() == ["--playouts", "800", "--threads", "1", "--resign", "0.05"]  # default: by the cores
    assert parse(options.to_argv()) == options
    assert PlayerOptions.from_argv(options.to_argv()) == options


@pytest.mark.parametrize(
    "options",
    [
        PlayerOptions(kind="random", seed=3),
        PlayerOptions(time=0.5, threads=4, resign=0.0, seed=-2),
        PlayerOptions(
            model="zero.safetensors",
            lam=0.25,
            c_puct=2.5,
            expand_after=40,
            policy_temperature=0.5,
            symmetry="all",
            device="cpu",
            dtype="fp32",
            batch=16,
            compile="reduce-overhead",
        ),  # fmt: skip
        PlayerOptions(kind="policy", model="sl.safetensors", move_temperature=0.0),
        PlayerOptions(model="p.safetensors", value_model="v.safetensors", rollout_policy="r.safetensors", lam=0.5),
    ],
)
def test_every_option_round_trips_through_the_parser(options):
    argv = options.to_argv()
    assert parse(argv) == options
    assert PlayerOptions.from_argv(argv) == options


def test_every_field_has_a_flag():
    every = PlayerOptions(
        kind="policy", move_temperature=0.5, playouts=3, threads=2, nn_threads=3, resign=0.2, seed=1, model="m",
        rollout_policy="r",
        lam=1.0, c_puct=1.0, expand_after=2, policy_temperature=2.0, symmetry="none", device="cuda", dtype="bf16",
        batch=4, compile="default", fpu_reduction=0.5, lcb=False, c_puct_base=500.0, virtual_loss=2, fill_eyes=True,
    )  # fmt: skip
    changed = {f.name for f in dataclasses.fields(every) if getattr(every, f.name) != f.default}
    assert changed == {f.name for f in dataclasses.fields(every)} - {"time", "value_model"}
    assert PlayerOptions.from_argv(every.to_argv()) == every


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--frobnicate"], "unrecognized arguments: --frobnicate"),
        (["--playouts", "0"], "--playouts"),
        (["--playouts", "x"], "--playouts"),
        (["--playouts", "10", "--time", "1"], "not allowed with"),
        (["--resign", "0.5"], "--resign"),
        (["--lambda", "2"], "--lambda"),
        (["--player", "alphabeta"], "invalid choice"),
        (["--player", "random", "--model", "m"], "drop --model"),
        (["--player", "policy"], "--model only"),
        (["--model", "none", "--lambda", "0.5"], "needs a value network"),
        (["--move-temperature", "-1"], "--move-temperature"),
        (["--help"], "unrecognized arguments"),
    ],
)
def test_bad_options_are_clear_errors(argv, message):
    with pytest.raises(ValueError, match="bad player options|" + message) as err:
        PlayerOptions.from_argv(argv)
    assert message in str(err.value)


@pytest.mark.parametrize(
    "fields",
    [
        {"kind": "minimax"},
        {"playouts": 0},
        {"playouts": 2.5},
        {"time": 0.0},
        {"time": float("inf")},
        {"playouts": 10, "time": 1.0},
        {"threads": 0},
        {"resign": 0.5},
        {"lam": -0.1},
        {"c_puct": 0},
        {"symmetry": "some"},
        {"dtype": "int8"},
        {"compile": "fast"},
        {"batch": 0},
        {"seed": "1"},
    ],
)
def test_bad_fields_raise(fields):
    with pytest.raises(ValueError):
        PlayerOptions(**fields)


def test_lambda_and_search_defaults_by_the_networks():
    o = PlayerOptions()
    assert o.resolved_lam() == 1.0
    assert o.search_config() == SearchConfig()
    assert o.resolved_lam("zero", True) == 0.0
    assert o.search_config("zero", True) == SearchConfig.zero(dirichlet_weight=0.0)
    assert o.resolved_lam("lee-policy", False) == 1.0
    assert o.resolved_lam("lee-policy", True) == 0.5
    assert o.resolved_lam("lee-value", True) == 0.5
    assert o.search_config("lee-policy", True) == SearchConfig(lam=0.5)
    given = PlayerOptions(model="m", lam=0.3, c_puct=2.0, expand_after=8)
    assert given.search_config("lee-policy", True) == SearchConfig(lam=0.3, c_puct=2.0, n_thr=8)
    assert given.search_config("zero", True) == SearchConfig.zero(dirichlet_weight=0.0, lam=0.3, c_puct=2.0, n_thr=8)
    with pytest.raises(ValueError, match="add --value-model"):
        given.search_config("lee-policy", False)
    assert PlayerOptions(c_puct=3.0).search_config() == SearchConfig(c_puct=3.0)


def test_help_shows_the_dataclass_defaults():
    p = argparse.ArgumentParser()
    add_player_arguments(p)
    text = " ".join(p.format_help().split())
    d = PlayerOptions()
    assert d.threads is None and d.nn_threads is None
    assert "search threads, which play the rollouts (default: the cores this process may use" in text
    assert "torch threads of the network evaluator (default: by the split" in text
    assert f"0 never resigns; default {d.resign:g}" in text
    assert "seconds per move at most (default 2," in text


def test_igo_match_checks_igo_player_options_before_starting_engines():
    from igo.match_cmd import parse_player

    spec = parse_player("igo:--playouts 30 --seed 1", 9, 7.5)
    assert spec.command[-4:] == ["--playouts", "30", "--seed", "1"]
    with pytest.raises(ValueError, match="--frobnicate"):
        parse_player("igo:--frobnicate", 9, 7.5)
    with pytest.raises(ValueError, match="--resign"):
        parse_player("igo:--resign 0.7", 9, 7.5)
