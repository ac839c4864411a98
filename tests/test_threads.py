"""Tests of the thread options (issue 16): the core budget (CPU affinity, OMP_NUM_THREADS), its split between the
search and the network, PlayerOptions' --threads / --nn-threads, the evaluator that build_player makes, the
trainers' retired --threads, and igo bench search-nn's thread options."""

from __future__ import annotations

import json
import os

import pytest

from igo.engine import cores
from igo.engine.cores import core_budget, split_threads
from igo.engine.limits import MAX_THREADS
from igo.engine.options import PlayerOptions


@pytest.fixture
def four_cores(monkeypatch):
    """A process that may run on 4 cores, without OMP_NUM_THREADS."""
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3}, raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)


# --- the core budget --------------------------------------------------------------------------------------------


def test_core_budget_is_the_affinity(four_cores):
    assert core_budget() == 4


@pytest.mark.parametrize(("omp", "budget"), [("2", 2), ("1", 1), (" 3 ", 3), ("8", 4)])
def test_core_budget_is_capped_by_omp_num_threads(four_cores, monkeypatch, omp, budget):
    monkeypatch.setenv("OMP_NUM_THREADS", omp)
    assert core_budget() == budget


@pytest.mark.parametrize("junk", ["", "0", "-2", "two", "2,1", "1.5"])
def test_core_budget_ignores_junk_omp_num_threads(four_cores, monkeypatch, junk):
    monkeypatch.setenv("OMP_NUM_THREADS", junk)
    assert core_budget() == 4


def test_core_budget_without_affinity_counts_the_cpus(monkeypatch):
    monkeypatch.delattr(os, "sched_getaffinity", raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 6)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert core_budget() == 6
    monkeypatch.setattr(os, "cpu_count", lambda: None)
    assert core_budget() == 1


def test_the_evaluator_default_is_the_core_budget(four_cores, monkeypatch):
    from igo.nets.device import available_cores

    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert available_cores() == 3 == cores.core_budget()


# --- the split ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("budget", "networks", "rollouts", "expected"),
    [
        (4, False, True, (4, 1)),  # the rollout search alone takes every core
        (4, False, False, (4, 1)),
        (4, True, True, (2, 2)),  # rollouts beside the network: half each
        (5, True, True, (2, 3)),
        (2, True, True, (1, 1)),
        (1, True, True, (1, 1)),  # one of each at least
        (4, True, False, (1, 4)),  # a Zero net: the search thread waits for the network
        (1, True, False, (1, 1)),
    ],
)
def test_split_threads_defaults(budget, networks, rollouts, expected):
    search, nn = split_threads(budget, networks=networks, rollouts=rollouts)
    assert (search, nn) == expected
    if networks and rollouts and budget > 1:
        assert search + nn <= budget  # never oversubscribed


def test_split_threads_explicit_values_win():
    assert split_threads(4, networks=True, rollouts=True, threads=3, nn_threads=5) == (3, 5)
    assert split_threads(4, networks=True, rollouts=True, threads=3) == (3, 1)  # the rest to the network
    assert split_threads(4, networks=True, rollouts=True, nn_threads=1) == (3, 1)
    assert split_threads(4, networks=True, rollouts=True, threads=6) == (6, 1)
    assert split_threads(4, networks=True, rollouts=False, threads=2) == (2, 4)
    assert split_threads(4, networks=True, rollouts=False, nn_threads=2) == (1, 2)
    assert split_threads(4, networks=False, rollouts=True, nn_threads=2) == (4, 2)
    assert split_threads(4, networks=False, rollouts=True, threads=1) == (1, 1)


@pytest.mark.parametrize("bad", [{"budget": 0}, {"threads": 0}, {"nn_threads": -1}, {"threads": True}])
def test_split_threads_rejects_bad_counts(bad):
    kw = {"budget": 4, **bad}
    budget = kw.pop("budget")
    with pytest.raises(ValueError, match=next(iter(bad))):
        split_threads(budget, networks=True, rollouts=True, **kw)


# --- PlayerOptions ------------------------------------------------------------------------------------------------


def test_player_options_default_threads_follow_the_networks():
    d = PlayerOptions()
    assert d.threads is None and d.nn_threads is None
    assert d.resolved_threads(budget=4) == (4, 1)  # the rollout search
    assert d.resolved_threads("zero", True, budget=4) == (1, 4)  # λ = 0
    assert d.resolved_threads("lee-policy", False, budget=4) == (2, 2)  # λ = 1: rollouts beside the policy net
    assert d.resolved_threads("lee-policy", True, budget=5) == (2, 3)  # λ = 0.5
    assert PlayerOptions(model="z", lam=0.5).resolved_threads("zero", True, budget=4) == (2, 2)
    assert PlayerOptions(model="p", value_model="v", lam=0.0).resolved_threads("lee-policy", True, budget=4) == (1, 4)
    assert PlayerOptions(kind="policy", model="p").resolved_threads("lee-policy", budget=3) == (1, 3)
    assert PlayerOptions(threads=3, nn_threads=2).resolved_threads("zero", True, budget=4) == (3, 2)


def test_player_options_resolve_with_the_core_budget(four_cores, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    assert PlayerOptions().resolved_threads() == (2, 1)
    assert PlayerOptions().resolved_threads("lee-policy", True) == (1, 1)


def test_nn_threads_round_trips_through_the_flags():
    o = PlayerOptions(model="zero.safetensors", threads=2, nn_threads=3)
    argv = o.to_argv()
    assert argv == ["--threads", "2", "--nn-threads", "3", "--model", "zero.safetensors"]
    assert PlayerOptions.from_argv(argv) == o
    assert PlayerOptions.from_argv(["--nn-threads", "4"]).nn_threads == 4
    assert PlayerOptions().to_argv() == []


@pytest.mark.parametrize(("argv", "flag"), [(["--nn-threads", "0"], "--nn-threads"), (["--threads", "0"], "--threads"),
                                            (["--nn-threads", str(MAX_THREADS + 1)], "--nn-threads")])  # fmt: skip
def test_bad_thread_counts_name_the_flag(argv, flag):
    with pytest.raises(ValueError, match=flag):
        PlayerOptions.from_argv(argv)
    with pytest.raises(ValueError, match=f"{flag}: "):
        PlayerOptions(**{flag[2:].replace("-", "_"): int(argv[1])})


def test_cores_wanted_by_a_game():
    assert PlayerOptions().cores_wanted() == 1  # nothing given: the game splits the one CPU it gets
    assert PlayerOptions(model="z").cores_wanted(8) == 1
    assert PlayerOptions(threads=3).cores_wanted() == 3
    assert PlayerOptions(threads=3).cores_wanted(2) == 2  # never more than there are
    assert PlayerOptions(kind="random", threads=3).cores_wanted() == 1
    assert PlayerOptions(kind="policy", model="p", nn_threads=2).cores_wanted() == 2
    # rollouts beside the network: the two add up
    assert PlayerOptions(model="p", threads=2, nn_threads=2).cores_wanted() == 4
    assert PlayerOptions(model="p", value_model="v", nn_threads=3).cores_wanted() == 4
    assert PlayerOptions(model="p", threads=2).cores_wanted(net_kind="lee-policy") == 3
    # λ = 0: the search waits while the network runs
    assert PlayerOptions(model="z", threads=2, nn_threads=3).cores_wanted(net_kind="zero") == 3
    assert PlayerOptions(model="z", lam=0.0, nn_threads=3).cores_wanted() == 3


# --- build_player: the evaluator gets the network's share ----------------------------------------------------


@pytest.fixture
def tiny_zero(tmp_path):
    import torch

    from igo.nets.checkpoint import save_checkpoint
    from igo.nets.config import get_config
    from igo.nets.models import build_model

    torch.manual_seed(0)
    return save_checkpoint(tmp_path / "zero.safetensors", build_model(get_config("zero-tiny"), 5))


@pytest.fixture
def restore_torch_threads():
    import torch

    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def test_build_player_gives_the_evaluator_the_split(tiny_zero, four_cores, monkeypatch, restore_torch_threads):
    import torch

    from igo.nets.player import build_player

    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    player = build_player(PlayerOptions(model=str(tiny_zero), device="cpu", playouts=8), 5)
    assert player.config.threads == 1  # λ = 0: one search thread
    assert player.evaluator.threads == 3 == torch.get_num_threads()  # the network takes the budget
    player = build_player(PlayerOptions(model=str(tiny_zero), device="cpu", lam=0.5, playouts=8), 5)
    assert (player.config.threads, player.evaluator.threads) == (1, 2)  # rollouts beside the network
    assert torch.get_num_threads() == 2
    player = build_player(PlayerOptions(model=str(tiny_zero), device="cpu", nn_threads=1, threads=2), 5)
    assert (player.config.threads, player.evaluator.threads, torch.get_num_threads()) == (2, 1, 1)
    player = build_player(PlayerOptions(playouts=8), 5)
    assert player.config.threads == 3 and player.evaluator is None  # the rollout search takes the budget


def test_an_explicit_evaluator_thread_count_is_kept(tiny_zero, restore_torch_threads):
    import torch

    from igo.nets.checkpoint import load_checkpoint
    from igo.nets.evaluator import NetEvaluator

    model, _meta = load_checkpoint(tiny_zero)
    assert NetEvaluator(model, size=5, device="cpu", threads=2).threads == 2 == torch.get_num_threads()
    with pytest.raises(ValueError, match="threads"):
        NetEvaluator(model, size=5, device="cpu", threads=0)


# --- the trainers: --nn-threads, and --threads is an error that says so ------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        ["train", "sl", "--run-dir", "r", "--threads", "2"],
        ["train", "value", "--run-dir", "r", "--sl", "a", "--rl", "b", "--threads", "2"],
        ["train", "rollout", "--run-dir", "r", "--sgf", "s", "--threads"],
        ["train", "rl", "--run-dir", "r", "--threads", "2"],
    ],
)
def test_the_trainers_refuse_threads_and_name_nn_threads(argv, capsys):
    from igo.cli import main

    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "--threads is not an option of this command: use --nn-threads (torch threads" in err


@pytest.mark.parametrize(
    ("command", "default"),
    [("sl", "the cores this process may use"), ("value", "the cores this process may use"),
     ("rollout", "the cores this process may use"), ("rl", "default 1")],
)  # fmt: skip
def test_the_trainers_help_shows_nn_threads_and_its_default(command, default, capsys):
    from igo.cli import main

    with pytest.raises(SystemExit):
        main(["train", command, "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--nn-threads" in text and default in text
    assert "--threads " not in text.replace("--nn-threads ", "").replace("--actor-threads ", "")


def test_train_rollout_passes_nn_threads_to_its_config():
    import argparse

    from igo.train_rollout_cmd import add_parser, config_from

    top = argparse.ArgumentParser()
    sub = top.add_subparsers()
    add_parser(sub)
    config = config_from(top.parse_args(["rollout", "--run-dir", "r", "--sgf", "s", "--nn-threads", "3"]))
    assert config.threads == 3
    assert config_from(top.parse_args(["rollout", "--run-dir", "r", "--sgf", "s"])).threads is None


# --- igo bench search-nn: --threads (search) and --nn-threads (torch) -----------------------------------------


def test_bench_search_nn_takes_search_and_network_threads(capsys, restore_torch_threads):
    from igo.cli import main

    argv = ["bench", "search-nn", "--config", "lee-policy-tiny", "--size", "5", "--device", "cpu", "--seconds",
            "0.05", "--simulations", "16", "--threads", "2", "--nn-threads", "1", "--json"]  # fmt: skip
    assert main(argv) == 0
    captured = capsys.readouterr()
    figures = json.loads(captured.out.strip().splitlines()[-1])
    assert figures["threads"] == 2 and figures["nn_threads"] == 1 and figures["lambda"] == 1.0
    assert "2 search threads, 1 torch thread" in captured.err


def test_bench_search_nn_splits_the_cores_by_default(capsys, monkeypatch, four_cores, restore_torch_threads):
    from igo.cli import main

    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    argv = ["bench", "search-nn", "--config", "zero-tiny", "--size", "5", "--device", "cpu", "--seconds", "0.05",
            "--simulations", "16", "--json"]  # fmt: skip
    assert main(argv) == 0
    figures = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (figures["threads"], figures["nn_threads"]) == (1, 2)  # a Zero net: λ = 0


def test_bench_search_nn_rollout_threads_is_gone(capsys):
    from igo.cli import main

    with pytest.raises(SystemExit):
        main(["bench", "search-nn", "--rollout-threads", "2"])
    assert "--rollout-threads" in capsys.readouterr().err


# --- igo bench mcts: the cores by default, one thread beside them (issue 17 item 4) -------------------------------


def test_bench_mcts_threads_default_to_the_cores(capsys, monkeypatch, four_cores):
    from igo.cli import main

    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    argv = ["bench", "mcts", "--size", "5", "--seconds", "0.05", "--simulations", "64", "--json"]
    assert main(argv) == 0
    captured = capsys.readouterr()
    figures = json.loads(captured.out.strip().splitlines()[-1])
    assert figures["threads"] == 2 and "2 search threads" in captured.err  # as igo gtp: the cores it may use
    assert figures["simulations_per_sec_one_thread"] > 0 and figures["simulations_per_sec"] > 0
    assert figures["threads_speedup"] == pytest.approx(
        figures["simulations_per_sec"] / figures["simulations_per_sec_one_thread"], rel=1e-2
    )
    assert figures["rollout_search_vs_playouts"] == pytest.approx(
        figures["simulations_per_sec_one_thread"] / figures["playouts_per_sec"], rel=1e-2
    )
    assert (figures["expand_after"], figures["virtual_loss"]) == (1, 1)  # the search's defaults


def test_bench_mcts_one_thread_and_search_settings(capsys):
    from igo.cli import main

    argv = ["bench", "mcts", "--size", "5", "--seconds", "0.05", "--simulations", "64", "--threads", "1",
            "--expand-after", "4", "--virtual-loss", "1", "--json"]  # fmt: skip
    assert main(argv) == 0
    captured = capsys.readouterr()
    figures = json.loads(captured.out.strip().splitlines()[-1])
    assert figures["threads"] == 1 and figures["threads_speedup"] == 1.0
    assert (figures["expand_after"], figures["virtual_loss"]) == (4, 1)
    assert "rollout search, one thread" in captured.err and "threads / one thread" not in captured.err
    for flag, value in (("--virtual-loss", "-1"), ("--expand-after", "0")):
        assert main(["bench", "mcts", "--size", "5", flag, value]) != 0
        assert f"{flag} must be at least" in capsys.readouterr().err
