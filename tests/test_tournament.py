"""Tests for selfplay.tournament and igo tournament: config, schedule, games on local Ray (num_cpus=2), records that
parse back, resume, a crashing engine, ratings."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from collections import Counter

import pytest

from igo.engine.sgf import load_sgf
from igo.selfplay.tournament import (
    Tournament,
    TournamentConfig,
    TournamentPlayer,
    config_from_dict,
    load_config,
    read_results,
    schedule,
)


def _find_gnugo() -> str | None:
    return shutil.which("gnugo") or next(
        (p for p in ("/usr/games/gnugo", "/usr/local/games/gnugo") if os.access(p, os.X_OK)), None
    )


GNUGO = _find_gnugo()
needs_gnugo = pytest.mark.skipif(GNUGO is None, reason="GNU Go (gnugo) is not installed")


def players(*names: str) -> list[TournamentPlayer]:
    return [TournamentPlayer(n, igo="--player random") for n in names]


# --- config and schedule -------------------------------------------------------------------------------------------


def test_round_robin_schedule_balances_colours():
    cfg = TournamentConfig(players("a", "b", "c"), games_per_pairing=4, size=5)
    games = schedule(cfg)
    assert len(games) == 12 and len({g.id for g in games}) == 12
    assert cfg.pairings() == [("a", "b"), ("a", "c"), ("b", "c")]
    black = Counter(g.black for g in games)
    assert black == {"a": 4, "b": 4, "c": 4}
    for a, b in cfg.pairings():
        mine = [g for g in games if (g.a, g.b) == (a, b)]
        assert Counter(g.black for g in mine) == {a: 2, b: 2}
    # interleaved: the first games of every pairing come first
    assert [g.index for g in games[:3]] == [0, 0, 0]


def test_gauntlet_pairs_candidates_with_the_field_only():
    cfg = TournamentConfig(players("x", "y", "f1", "f2"), format="gauntlet", candidates=["x", "y"], size=5)
    assert cfg.pairings() == [("x", "f1"), ("x", "f2"), ("y", "f1"), ("y", "f2")]


def test_openings_are_shared_by_colour_swapped_pairs(tmp_path):
    for i, moves in enumerate(["B[cc];W[bb]", "B[bc];W[cb]"]):
        (tmp_path / f"o{i}.sgf").write_text(f"(;GM[1]FF[4]SZ[5];{moves};B[dd])")
    (tmp_path / "big.sgf").write_text("(;GM[1]FF[4]SZ[9];B[ee];W[cc])")  # another size: skipped
    (tmp_path / "bad.sgf").write_text("(;GM[1]FF[4]SZ[5];B[zz")  # broken: skipped
    cfg = TournamentConfig(players("a", "b"), games_per_pairing=4, size=5, openings=str(tmp_path), opening_moves=2)
    t = Tournament(cfg, tmp_path / "out")
    games = t.games()
    assert games[0].opening == games[1].opening != games[2].opening == games[3].opening
    assert games[0].black != games[1].black
    assert games[0].opening[0] == (1, "C3")


def test_bad_configs_are_refused(tmp_path):
    with pytest.raises(ValueError, match="at least two"):
        TournamentConfig(players("a"))
    with pytest.raises(ValueError, match="unique"):
        TournamentConfig(players("a", "a"))
    with pytest.raises(ValueError, match="candidates"):
        TournamentConfig(players("a", "b"), format="gauntlet")
    with pytest.raises(ValueError, match="field"):
        TournamentConfig(players("a", "b"), format="gauntlet", candidates=["a", "b"])
    with pytest.raises(ValueError, match="anchor"):
        TournamentConfig(players("a", "b"), anchor="c")
    with pytest.raises(ValueError, match="either command"):
        TournamentPlayer("p")
    with pytest.raises(ValueError, match="unknown tournament settings"):
        config_from_dict({"players": [{"name": "a", "command": "x"}, {"name": "b", "command": "y"}], "gmaes": 3})
    with pytest.raises(ValueError, match="unknown keys"):
        config_from_dict({"players": [{"name": "a", "comand": "x"}, {"name": "b", "command": "y"}]})
    bad = tmp_path / "bad.toml"
    bad.write_text("players = [")
    with pytest.raises(ValueError, match="TOML"):
        load_config(bad)
    with pytest.raises(ValueError, match="no such"):
        load_config(tmp_path / "missing.toml")


def test_igo_players_are_typed_options(tmp_path):
    from igo.engine.options import PlayerOptions

    # a config file's flags are read into PlayerOptions at once: a bad option is an error before any game
    with pytest.raises(ValueError, match="player 'p': bad player options: unrecognized arguments: --bogus"):
        TournamentPlayer("p", igo="--bogus 3")
    with pytest.raises(ValueError, match="player 'p'.*--playouts"):
        TournamentPlayer("p", igo="--playouts 0")
    with pytest.raises(ValueError, match="two models"):
        TournamentPlayer("p", igo="--model a.safetensors", model="b.safetensors")
    p = TournamentPlayer("p", igo="--symmetry random --playouts 50 --resign 0.05", model="n.safetensors")
    assert p.options == PlayerOptions(model="n.safetensors", playouts=50, resign=0.05)
    argv = p.argv(7, 6.5)
    assert argv[argv.index("gtp") :] == ["gtp", "--size", "7", "--komi", "6.5", *p.options.to_argv()]
    # code builds the same player from options, and both are one identity
    q = TournamentPlayer.from_options("p", PlayerOptions(model="n.safetensors", playouts=50, resign=0.05))
    assert q.options == p.options and q.identity() == p.identity() and q.argv(7, 6.5) == argv
    assert TournamentPlayer("g", command="gnugo --mode gtp").options is None
    # options that are valid only with their model: a Zero net with rollouts mixed in (λ 0.5)
    z = TournamentPlayer.from_options("z", PlayerOptions(model="z.safetensors", lam=0.5, time=1.0))
    assert z.options == PlayerOptions(model="z.safetensors", lam=0.5, time=1.0) and z.model == "z.safetensors"
    assert "--lambda" in z.argv(9, 7.5) and z.igo == "--time 1.0 --lambda 0.5"


def test_a_results_directory_of_the_same_players_in_other_words_resumes(tmp_path):
    a = [TournamentPlayer("a", igo="--playouts 50 --resign 0.1"), TournamentPlayer("b", igo="--player random")]
    Tournament(TournamentConfig(a, games_per_pairing=2, size=5), tmp_path)._check_directory()  # tournament.json
    same = [TournamentPlayer("a", igo="--playouts 50"), TournamentPlayer("b", igo="--player random --symmetry random")]
    Tournament(TournamentConfig(same, games_per_pairing=2, size=5), tmp_path)._check_directory()
    # a directory written before the options were typed: the flags as the config gave them
    meta = json.loads((tmp_path / "tournament.json").read_text())
    meta["identity"]["players"][0]["igo"] = "--playouts 50 --resign 0.1"
    (tmp_path / "tournament.json").write_text(json.dumps(meta))
    Tournament(TournamentConfig(same, games_per_pairing=2, size=5), tmp_path)._check_directory()
    other = [TournamentPlayer("a", igo="--playouts 60"), TournamentPlayer("b", igo="--player random")]
    with pytest.raises(ValueError, match="another tournament"):
        Tournament(TournamentConfig(other, games_per_pairing=2, size=5), tmp_path)._check_directory()


def test_toml_config_with_relative_paths(tmp_path):
    (tmp_path / "openings").mkdir()
    (tmp_path / "t.toml").write_text(
        textwrap.dedent(
            """
            name = "t"
            format = "gauntlet"
            candidates = ["net"]
            games_per_pairing = 6
            size = 7
            openings = "openings"
            anchor = "gnugo"
            anchor_elo = 100

            [[players]]
            name = "net"
            model = "ckpt.safetensors"
            igo = "--playouts 50 --threads 2"
            num_cpus = 2

            [[players]]
            name = "gnugo"
            command = "gnugo --mode gtp --level 1"
            """
        )
    )
    cfg = load_config(tmp_path / "t.toml")
    assert cfg.openings == str((tmp_path / "openings").resolve())
    net = cfg.player("net")
    assert net.model == str((tmp_path / "ckpt.safetensors").resolve())
    argv = net.argv(7, 7.5)
    assert argv[:4] == [sys.executable, "-m", "igo", "gtp"] and "--model" in argv and "--threads" in argv
    assert cfg.player("gnugo").argv(7, 7.5) == ["gnugo", "--mode", "gtp", "--level", "1"]


# --- games on Ray -----------------------------------------------------------------------------------------------------


CRASHING_ENGINE = """
import sys
moves = 0
for line in sys.stdin:
    cmd = line.split()
    ident = ""
    if cmd and cmd[0].isdigit():
        ident, cmd = cmd[0], cmd[1:]
    if not cmd:
        continue
    if cmd[0] == "genmove":
        moves += 1
        if moves == 1:
            sys.exit(3)  # dies in the middle of the game, when it is first asked for a move
        print(f"={ident} pass\\n", flush=True)
    elif cmd[0] == "name":
        print(f"={ident} crasher\\n", flush=True)
    elif cmd[0] == "quit":
        print(f"={ident}\\n", flush=True)
        break
    else:
        print(f"={ident}\\n", flush=True)
"""


@needs_gnugo
def test_tournament_on_local_ray_records_resumes_and_survives_a_crash(ray_local, tmp_path):
    crasher = tmp_path / "crash.py"
    crasher.write_text(CRASHING_ENGINE)
    cfg = TournamentConfig(
        [
            TournamentPlayer("random", igo="--player random --seed 1"),
            TournamentPlayer("gnugo-0", command=f"{GNUGO} --mode gtp --level 0 --chinese-rules"),
            TournamentPlayer("gnugo-2", command=f"{GNUGO} --mode gtp --level 2 --chinese-rules"),
            TournamentPlayer("crasher", command=f"{sys.executable} {crasher}"),
        ],
        games_per_pairing=2,
        size=5,
        komi=0.5,
        move_timeout=30,
        anchor="gnugo-0",
    )
    out = tmp_path / "t"
    seen = []
    rows = Tournament(cfg, out).run(on_game=lambda row, done, total: seen.append((done, total)))
    assert len(rows) == 12 and seen[-1] == (12, 12)
    results = read_results(out / "results.jsonl")
    assert len(results) == 12 and {r["status"] for r in results} == {"done"}
    crash_games = [r for r in results if "crasher" in (r["black"], r["white"])]
    assert len(crash_games) == 6
    for r in crash_games:  # the crasher dies at its first genmove: it loses by forfeit, stated as a crash
        loser = "B" if r["black"] == "crasher" else "W"
        assert r["winner"] != loser and r["result"].endswith("+F") and r["reason"].startswith("crash"), r
    for r in results:
        rec = load_sgf((out / r["sgf"]).read_bytes())
        assert rec.size == 5 and rec.result == r["result"]
        assert {rec.black_player, rec.white_player} == {r["a"], r["b"]}
    # resume: nothing left to play
    assert Tournament(cfg, out).run() == []
    # more games per pairing: only the new ones are played
    cfg2 = TournamentConfig(cfg.players, games_per_pairing=3, size=5, komi=0.5, move_timeout=30, anchor="gnugo-0")
    more = Tournament(cfg2, out).run()
    assert len(more) == 6 and all(r["index"] == 2 for r in more)
    assert len(read_results(out / "results.jsonl")) == 18
    # ratings over everything
    t = Tournament(cfg2, out)
    ratings, table = t.write_ratings()
    assert ratings.elo["gnugo-0"] == pytest.approx(0.0)
    assert ratings.elo["crasher"] < ratings.elo["gnugo-0"]
    data = json.loads((out / "ratings.json").read_text())
    assert set(data) and (out / "ratings.csv").exists() and (out / "crosstable.json").exists()
    # another tournament in the same directory is refused
    other = TournamentConfig(players("p", "q"), size=5)
    with pytest.raises(ValueError, match="another tournament"):
        Tournament(other, out).run()


def test_a_torn_last_line_is_ignored(tmp_path):
    path = tmp_path / "results.jsonl"
    path.write_text('{"id": "a vs b #001", "status": "done"}\n{"id": "a vs b #0')
    rows = read_results(path)
    assert rows == [{"id": "a vs b #001", "status": "done"}]
    # the next result the tournament records after the crash is whole, and counts (it used to be glued to the torn
    # line and lost, so the ratings missed a game and the next run played it again)
    t = Tournament(TournamentConfig(players("a", "b"), games_per_pairing=2, size=5), tmp_path)
    t._record({"row": {"id": "a vs b #002", "status": "done"}, "sgf": None})
    assert [r["id"] for r in read_results(path)] == ["a vs b #001", "a vs b #002"]
    assert t.finished_ids() == {"a vs b #001", "a vs b #002"}


@needs_gnugo
def test_igo_tournament_command_runs_and_prints_ratings(tmp_path):
    out = tmp_path / "cli"
    args = [
        sys.executable, "-m", "igo.cli", "tournament",
        "--player", "rand=igo:--player random --seed 3",
        "--player", f"gnugo-1={GNUGO} --mode gtp --level 1 --chinese-rules",
        "--games", "2", "--size", "5", "--komi", "0.5", "--anchor", "gnugo-1=100", "--cpus", "2",
        "--out", str(out), "--json",
    ]  # fmt: skip
    r = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    ratings = json.loads(r.stdout.strip().splitlines()[-1])
    assert "gnugo-1" in r.stderr and "rand" in r.stderr
    assert len(read_results(out / "results.jsonl")) == 2
    assert ratings  # the JSON of the ratings
    r = subprocess.run(
        [sys.executable, "-m", "igo.cli", "tournament", "--player", "rand=igo:--player random --seed 3",
         "--player", f"gnugo-1={GNUGO} --mode gtp --level 1 --chinese-rules", "--games", "2", "--size", "5",
         "--komi", "0.5", "--out", str(out), "--ratings-only"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "gnugo-1" in r.stdout and "rand" in r.stdout
    r = subprocess.run(
        [sys.executable, "-m", "igo.cli", "tournament", "--player", "only=igo"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert r.returncode == 1 and "at least two" in r.stderr


def test_the_example_gauntlet_config_is_valid():
    from pathlib import Path

    cfg = load_config(Path(__file__).resolve().parent.parent / "examples" / "gauntlet-9x9.toml")
    assert cfg.format == "gauntlet" and len(cfg.pairings()) == 6 and cfg.games_per_pairing >= 20
    assert len(schedule(cfg)) == 120


def test_cpu_hours_of_checkpoint_players_for_the_elo_curve(tmp_path):
    import torch

    from igo.nets.checkpoint import save_checkpoint
    from igo.nets.config import get_config
    from igo.nets.models import build_model

    torch.manual_seed(0)
    net = build_model(get_config("zero-tiny"), 5)
    zero = save_checkpoint(tmp_path / "z.safetensors", net, extra={"cpu_hours": 0.5, "parent_cpu_hours": 1.25})
    sl = save_checkpoint(tmp_path / "s.safetensors", net, extra={"cpu_hours": 0.25})
    bare = save_checkpoint(tmp_path / "b.safetensors", net)
    ps = [TournamentPlayer("z", igo=f"--model {zero}"), TournamentPlayer("s", igo=f"--model {sl}"),
          TournamentPlayer("b", igo=f"--model {bare}"), TournamentPlayer("r", igo="--model none"),
          TournamentPlayer("g", command="gnugo --mode gtp")]  # fmt: skip
    t = Tournament(TournamentConfig(ps, games_per_pairing=2, size=5), tmp_path / "out")
    assert t.cpu_hours() == {"z": 1.75, "s": 0.25}  # its own training and its parent's; none recorded: no point


@pytest.mark.parametrize("name", ["gauntlet-9x9.toml", "ladder-9x9.toml"])
def test_example_configs_load(name):
    from pathlib import Path

    cfg = load_config(Path(__file__).resolve().parents[1] / "examples" / name)
    assert cfg.size == 9 and cfg.komi == 7.5 and cfg.anchor == "gnugo-10" and cfg.candidates
    assert {p.name for p in cfg.players} >= {"gnugo-1", "gnugo-5", "gnugo-10", *cfg.candidates}


def test_a_game_that_needs_more_cpus_than_ray_has_is_refused_not_left_waiting(ray_local, tmp_path):
    cfg = TournamentConfig(
        [TournamentPlayer("big", igo="--player random", num_cpus=3), TournamentPlayer("r", igo="--player random")],
        games_per_pairing=2,
        size=5,
    )
    with pytest.raises(ValueError, match="a game of big needs 3 CPUs .* the largest Ray node has 2: give --cpus 3"):
        Tournament(cfg, tmp_path / "out").run()


def test_games_never_hold_more_cpus_than_ray_has(ray_local, tmp_path):
    """A game task lends its CPUs back to Ray while it waits on its stop flag; the tournament admits games itself,
    so two games of 2 CPUs on a 2-CPU Ray are played one after the other (they overlapped before)."""
    cfg = TournamentConfig(
        [
            TournamentPlayer("a", igo="--player random --seed 1", num_cpus=2),
            TournamentPlayer("b", igo="--player random"),
        ],
        games_per_pairing=4,
        size=5,
    )
    rows = Tournament(cfg, tmp_path / "out").run()
    spans = sorted((r["started"], r["started"] + r["wall"]) for r in rows)
    assert len(spans) == 4
    for (_, end), (start, _) in zip(spans, spans[1:], strict=False):
        assert start >= end - 0.05, spans  # the next game starts after the previous one ended


def test_more_cpus_than_cores_is_warned_about():
    """``--cpus 4`` on 2 cores: two games of two-core players at once share the cores, so a player at --time 1
    thinks with about half of what it is given: the tournament says so (a cluster, --address, counts its own)."""
    from igo.tournament_cmd import oversubscription_warning

    said = oversubscription_warning(4, None, 2)
    assert said is not None and "--cpus 4" in said and "--cpus 2" in said and "2 cores" in said
    assert oversubscription_warning(2, None, 2) is None
    assert oversubscription_warning(None, None, 2) is None  # the default is the cores
    assert oversubscription_warning(4, "auto", 2) is None
