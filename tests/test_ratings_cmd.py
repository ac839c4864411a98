"""Tests of ``igo ratings``: the games of several tournament directories rated together (the same fit as on their
union), a player name that means other settings in another directory refused, the first directory's anchor by
default, the training curve drawn from the checkpoints' CPU-hours with labelled series, and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from igo.cli import main
from igo.nets.checkpoint import save_checkpoint
from igo.nets.config import get_config
from igo.nets.models import build_model
from igo.selfplay.elo import fit_ratings, games_from_results
from igo.selfplay.tournament import Tournament, TournamentConfig, TournamentPlayer

GNUGO = "gnugo --mode gtp --level 10 --chinese-rules"


def net(path: Path, hours: float) -> str:
    torch.manual_seed(0)
    return str(save_checkpoint(path, build_model(get_config("zero-tiny"), 5), step=int(100 * hours),
                               extra={"cpu_hours": hours}))  # fmt: skip


def recorded(out: Path, candidate: TournamentPlayer, wins: int, games: int = 4, gnugo: str = GNUGO) -> list[dict]:
    """A gauntlet of ``candidate`` against GNU Go on disk, as a run leaves it (without playing): ``wins`` of
    ``games`` for the candidate, colours alternated."""
    cfg = TournamentConfig([candidate, TournamentPlayer("gnugo-10", command=gnugo)], format="gauntlet",
                           candidates=[candidate.name], games_per_pairing=games, size=5, anchor="gnugo-10")  # fmt: skip
    t = Tournament(cfg, out)
    t._check_directory()
    rows = []
    for i in range(games):
        black, white = (candidate.name, "gnugo-10") if i % 2 == 0 else ("gnugo-10", candidate.name)
        won = i < wins
        winner = ("B" if black == candidate.name else "W") if won else ("W" if black == candidate.name else "B")
        row = {"id": f"{candidate.name} vs gnugo-10 #{i + 1:03d}", "a": candidate.name, "b": "gnugo-10", "index": i,
               "black": black, "white": white, "winner": winner, "result": f"{winner}+R", "status": "done"}  # fmt: skip
        t._record({"row": row, "sgf": None})
        rows.append(row)
    return rows


@pytest.fixture
def two(tmp_path):
    a = TournamentPlayer("net-a", igo="--playouts 8", model=net(tmp_path / "a.safetensors", 1.0))
    b = TournamentPlayer("net-b", igo="--playouts 8", model=net(tmp_path / "b.safetensors", 2.5))
    rows = recorded(tmp_path / "ev-a", a, wins=1) + recorded(tmp_path / "ev-b", b, wins=3)
    return tmp_path, rows


def test_the_games_of_several_directories_are_rated_together(two, capsys):
    root, rows = two
    png = root / "docs" / "curve.png"
    assert main(["ratings", str(root / "ev-a"), str(root / "ev-b"), "--plot", str(png), "--series",
                 "lambda 0=net-a,net-b", "--json"]) == 0  # fmt: skip
    captured = capsys.readouterr()
    got = json.loads(captured.out.strip().splitlines()[-1])
    assert got["anchor"] == "gnugo-10"  # the first directory's anchor
    elo = {p["player"]: p for p in got["players"]}
    assert elo["gnugo-10"]["elo"] == 0 and elo["gnugo-10"]["games"] == 8
    assert elo["net-b"]["elo"] > 0 > elo["net-a"]["elo"] and elo["net-a"]["games"] == elo["net-b"]["games"] == 4
    want = fit_ratings(games_from_results(rows), anchor="gnugo-10")
    assert elo["net-b"]["elo"] == pytest.approx(want.elo["net-b"]) and elo["net-a"]["elo"] == pytest.approx(
        want.elo["net-a"])  # fmt: skip
    assert f"{root / 'ev-a'}: 4 finished games" in captured.err and png.stat().st_size > 10_000
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # another anchor, and a text table
    assert main(["ratings", str(root / "ev-a"), str(root / "ev-b"), "--anchor", "net-a=100"]) == 0
    out = capsys.readouterr().out
    assert "net-a" in out and "* anchor, fixed at 100" in out and "cell: points/games" in out


def test_a_name_that_means_other_settings_is_refused(two, capsys):
    root, _ = two
    c = TournamentPlayer("net-c", igo="--playouts 8", model=net(root / "c.safetensors", 3.0))
    recorded(root / "ev-c", c, wins=2, gnugo="gnugo --mode gtp --level 5 --chinese-rules")
    assert main(["ratings", str(root / "ev-a"), str(root / "ev-c")]) == 1
    err = capsys.readouterr().err
    assert "'gnugo-10' is not the same player" in err and "rename one" in err


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--anchor", "nobody"], "not a player"),
        (["--anchor", "=5"], "NAME=ELO"),
        (["--anchor", "net-a=x"], "must be a number"),
        (["--plot", "p.png", "--series", "nolabel"], "LABEL=NAME"),
        (["--plot", "p.png", "--series", "s=net-z"], "not rated"),
        (["--plot", "p.png", "--series", "s=gnugo-10"], "no cpu-hours"),
    ],
)
def test_bad_input_is_refused(two, capsys, extra, message):
    root, _ = two
    assert main(["ratings", str(root / "ev-a"), str(root / "ev-b"), *extra]) == 1
    assert message in capsys.readouterr().err


def test_a_directory_without_a_tournament_is_refused(two, capsys):
    root, _ = two
    (root / "empty").mkdir()
    assert main(["ratings", str(root / "ev-a"), str(root / "empty")]) == 1
    assert "holds no tournament" in capsys.readouterr().err
