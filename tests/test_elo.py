"""Tests for selfplay.elo: recovery of known ratings from simulated games (round robin, gauntlet, Black's edge),
interval coverage, the prior and the pure MLE, draws, anchors, LOS, refusals, crosstable, records, plot."""

from __future__ import annotations

import csv
import json
import logging
import math

import numpy as np
import pytest

from igo.selfplay.elo import (
    Game,
    Ratings,
    crosstable,
    fit_ratings,
    games_from_results,
    los,
    plot_elo_vs_step,
    simulate_games,
)

TRUE = {"p0": 0.0, "p1": 100.0, "p2": 250.0, "p3": 400.0, "p4": 600.0}
NAMES = list(TRUE)
ROUND_ROBIN = [(a, b) for i, a in enumerate(NAMES) for b in NAMES[i + 1 :]]


def round_robin(seed: int, games_per_pair: int = 200, **kw) -> list[Game]:
    return simulate_games(TRUE, ROUND_ROBIN, games_per_pair, np.random.default_rng(seed), **kw)


def inside(r: Ratings, name: str, value: float) -> bool:
    lo, hi = r.interval[name]
    return lo <= value <= hi


# --- recovery ------------------------------------------------------------------------------------------------------


def test_round_robin_recovers_the_true_ratings():
    r = fit_ratings(round_robin(0), anchor="p0", anchor_elo=TRUE["p0"])
    assert r.converged and r.iterations < 20
    assert r.players == sorted(NAMES, key=lambda p: -TRUE[p])  # the order is right
    for p, true in TRUE.items():
        assert inside(r, p, true), (p, true, r.elo[p], r.interval[p])
        assert r.games[p] == 800
    assert r.elo["p0"] == TRUE["p0"] and r.sigma["p0"] == 0.0
    assert all(15 < r.sigma[p] < 40 for p in NAMES[1:])  # ~200 games per pair: tens of Elo


def test_intervals_cover_the_true_ratings_over_seeds():
    covered = dict.fromkeys(NAMES, 0)
    seeds = range(20)
    for seed in seeds:
        r = fit_ratings(round_robin(100 + seed, games_per_pair=100), anchor="p0", anchor_elo=0.0)
        for p, true in TRUE.items():
            covered[p] += inside(r, p, true)
    assert covered["p0"] == len(seeds)  # the anchor, exactly
    for p in NAMES[1:]:
        assert covered[p] / len(seeds) >= 0.8, covered


def test_a_gauntlet_recovers_the_ratings():
    true = {"cand": 300.0, "f1": 0.0, "f2": 200.0, "f3": 500.0}
    pairs = [("cand", f) for f in ("f1", "f2", "f3")]
    games = simulate_games(true, pairs, 300, np.random.default_rng(7))
    r = fit_ratings(games, anchor="f1")
    assert r.converged
    assert r.players == ["f3", "cand", "f2", "f1"]
    for p, v in true.items():
        assert inside(r, p, v), (p, v, r.elo[p], r.interval[p])
    assert r.games == {"cand": 900, "f1": 300, "f2": 300, "f3": 300}


def test_first_move_advantage_is_recovered():
    games = round_robin(3, first_move_elo=50.0)
    r = fit_ratings(games, anchor="p0", first_move_advantage=True)
    assert r.first_move_elo is not None and r.first_move_sigma is not None
    print(f"Black's edge: {r.first_move_elo:.1f} +- {r.first_move_sigma:.1f} (sigma), true 50")
    assert abs(r.first_move_elo - 50.0) < 1.96 * r.first_move_sigma
    assert 5 < r.first_move_sigma < 20
    for p, true in TRUE.items():
        assert inside(r, p, true)
    # without the parameter (colours balanced): no edge reported, the same ratings but for the slight shrinkage of
    # a logistic fit that leaves out a covariate (~2% here)
    plain = fit_ratings(games, anchor="p0")
    assert plain.first_move_elo is None and plain.players == r.players
    assert all(abs(plain.elo[p] - r.elo[p]) <= 0.03 * r.elo[p] for p in NAMES)
    assert "Black's edge" in r.table()


def test_black_edge_that_colours_cannot_identify_is_refused():
    # a Black in every game (a gauntlet with fixed colours), and a chain a > b > c by colour: r + t phi, h - t
    for games in (
        [Game("a", "b", "B"), Game("a", "b", "W"), Game("a", "c", "B"), Game("a", "c", "W")],
        [Game("a", "b", "B"), Game("a", "b", "W"), Game("b", "c", "B"), Game("b", "c", "W")],
    ):
        with pytest.raises(ValueError, match="Black's edge cannot be told apart"):
            fit_ratings(games, first_move_advantage=True)
        assert fit_ratings(games).converged  # fine without it
    # identified when colours do not chain: a-c measured directly (one edge) and through b (two edges)
    cycle = [Game("a", "b", "B"), Game("a", "b", "W"), Game("b", "c", "W"), Game("a", "c", "B"), Game("a", "c", "W")]
    assert fit_ratings(cycle, first_move_advantage=True).first_move_sigma < 1e4


def test_simulated_games_alternate_colours_and_keep_the_expected_score():
    games = simulate_games({"a": 100.0, "b": 0.0}, [("a", "b")], 4000, np.random.default_rng(1), draw_rate=0.2)
    assert [(g.black, g.white) for g in games[:4]] == [("a", "b"), ("b", "a")] * 2
    draws = sum(g.winner is None for g in games)
    assert 0.17 < draws / len(games) < 0.23
    expected = 1.0 / (1.0 + 10 ** (-100 / 400))
    a_score = sum(g.black_score if g.black == "a" else 1.0 - g.black_score for g in games) / len(games)
    assert abs(a_score - expected) < 0.02


# --- prior, draws, anchor ------------------------------------------------------------------------------------------


def perfect_score_games() -> list[Game]:
    games = []
    for k in range(6):  # "ace" wins all; the others are even
        games += [Game("ace", "b", "B"), Game("c", "ace", "W"), Game("b", "c", "B" if k % 2 else "W")]
    return games


def test_a_perfect_score_gets_a_finite_rating_with_the_prior():
    r = fit_ratings(perfect_score_games(), prior_games=1.0)
    assert r.converged
    assert r.players[0] == "ace" and math.isfinite(r.elo["ace"]) and math.isfinite(r.sigma["ace"])
    assert r.elo["ace"] > r.elo["b"] + 200 and r.elo["ace"] < 2000
    # a stronger prior pulls it towards the field
    strong = fit_ratings(perfect_score_games(), prior_games=10.0)
    assert strong.elo["ace"] - strong.elo["b"] < r.elo["ace"] - r.elo["b"]


def test_a_perfect_score_without_prior_does_not_converge(caplog):
    """Chosen behaviour: the pure MLE diverges; the fit stops (never hangs) with converged=False, a warning naming
    the perfect score, and a huge rating."""
    with caplog.at_level(logging.WARNING, logger="igo.selfplay.elo"):
        r = fit_ratings(perfect_score_games(), prior_games=0.0)
    assert not r.converged
    assert r.players[0] == "ace" and r.elo["ace"] - r.elo["b"] > 3000
    assert "perfect or zero scores: ace" in caplog.text
    assert "NOT CONVERGED" in r.table()
    json.dumps(r.to_dict())  # non-finite numbers become null


def test_pure_mle_matches_the_closed_form():
    # two players, a scores 0.875: r_a - r_b = 400 log10(0.875 / 0.125)
    games = [Game("a", "b", "B"), Game("b", "a", "W"), Game("a", "b", "B"), Game("b", "a", None)]
    r = fit_ratings(games, prior_games=0.0)
    assert r.converged
    assert r.elo["a"] - r.elo["b"] == pytest.approx(400 * math.log10(7), abs=1e-6)
    assert r.elo["a"] + r.elo["b"] == pytest.approx(0.0, abs=1e-9)  # the mean is anchor_elo


def test_a_draw_counts_half():
    draws = [Game("a", "b", None), Game("b", "a", None)]
    split = [Game("a", "b", "B"), Game("b", "a", "B")]
    r1, r2 = fit_ratings(draws), fit_ratings(split)
    assert r1.score == {"a": 1.0, "b": 1.0}
    assert r1.elo == pytest.approx(r2.elo) and r1.sigma == pytest.approx(r2.sigma)
    # 3 wins and a draw in 4 games == 7 wins and a loss in 8 (same score fraction, pure MLE)
    half = [Game("a", "b", "B")] * 3 + [Game("a", "b", None)]
    whole = [Game("a", "b", "B")] * 7 + [Game("a", "b", "W")]
    e1, e2 = fit_ratings(half, prior_games=0), fit_ratings(whole, prior_games=0)
    assert e1.score["a"] == 3.5
    assert e1.elo["a"] - e1.elo["b"] == pytest.approx(e2.elo["a"] - e2.elo["b"], abs=1e-6)
    assert e1.sigma["a"] == pytest.approx(math.sqrt(2) * e2.sigma["a"], rel=1e-6)  # half the games


def test_symmetric_results_give_equal_ratings():
    games = []
    for x, y in (("a", "b"), ("b", "c"), ("c", "a")):  # a cycle, both colours
        games += [Game(x, y, "B"), Game(y, x, "W"), Game(x, y, "W"), Game(y, x, "W"), Game(x, y, "B")]
    r = fit_ratings(games, anchor_elo=1500.0)
    assert r.converged
    for p in "abc":
        assert r.elo[p] == pytest.approx(1500.0, abs=1e-6)
    assert r.sigma["a"] == pytest.approx(r.sigma["b"]) == pytest.approx(r.sigma["c"])
    assert r.los("a", "b") == pytest.approx(0.5)


def test_the_anchor_is_fixed_and_differences_do_not_depend_on_it():
    games = round_robin(5, games_per_pair=40)
    anchored = fit_ratings(games, anchor="p2", anchor_elo=1000.0)
    centred = fit_ratings(games, anchor_elo=1000.0)
    assert anchored.elo["p2"] == 1000.0 and anchored.sigma["p2"] == 0.0
    assert anchored.interval["p2"] == (1000.0, 1000.0)
    assert anchored.cov[anchored.players.index("p2")] == pytest.approx(np.zeros(5))
    assert np.mean(list(centred.elo.values())) == pytest.approx(1000.0)
    assert all(centred.sigma[p] > 0 for p in NAMES)
    assert centred.cov.sum(axis=0) == pytest.approx(np.zeros(5), abs=1e-6)  # the mean is fixed: no variance
    for a in NAMES:
        for b in NAMES:
            assert anchored.elo[a] - anchored.elo[b] == pytest.approx(centred.elo[a] - centred.elo[b], abs=1e-6)
            assert anchored.diff_sigma(a, b) == pytest.approx(centred.diff_sigma(a, b), abs=1e-6)
            assert anchored.los(a, b) == pytest.approx(centred.los(a, b), abs=1e-9)


# --- LOS ------------------------------------------------------------------------------------------------------------


def test_los():
    r = fit_ratings(round_robin(11), anchor="p0")
    assert r.los("p4", "p0") > 0.999 and r.los("p2", "p1") > 0.99
    assert los(r, "p1", "p2") == r.los("p1", "p2") < 0.01
    for a in NAMES:
        assert r.los(a, a) == 0.5
        for b in NAMES:
            assert r.los(a, b) + r.los(b, a) == pytest.approx(1.0, abs=1e-12)
    assert r.los_next()[-1] is None and len(r.los_next()) == 5
    even = fit_ratings([Game("a", "b", "B"), Game("b", "a", "B")] * 10)
    assert even.los("a", "b") == pytest.approx(0.5)
    with pytest.raises(KeyError, match="not rated"):
        r.los("p0", "nobody")


# --- refusals -------------------------------------------------------------------------------------------------------


def test_refusals():
    games = [Game("a", "b", "B"), Game("b", "a", "B")]
    with pytest.raises(ValueError, match=r"unknown anchor 'z'.*players: a, b"):
        fit_ratings(games, anchor="z")
    with pytest.raises(ValueError, match="cannot play itself"):
        fit_ratings([*games, Game("a", "a", "B")])
    with pytest.raises(ValueError, match="cannot play itself"):
        crosstable([Game("a", "a", None)])
    with pytest.raises(ValueError, match="no games"):
        fit_ratings([])
    with pytest.raises(ValueError, match="winner"):
        fit_ratings([Game("a", "b", "X")])


def test_a_disconnected_graph_is_refused_naming_the_groups():
    games = [Game("a", "b", "B"), Game("b", "a", "W"), Game("c", "d", "B"), Game("d", "e", "W")]
    with pytest.raises(ValueError, match="never played each other") as err:
        fit_ratings(games)
    assert "{c, d, e}" in str(err.value) and "{a, b}" in str(err.value)


def test_players_without_games_are_not_rated():
    r = fit_ratings([Game("a", "b", "B"), Game("b", "a", "B")], anchor="a")
    assert set(r.elo) == {"a", "b"} and r.players == sorted(r.players, key=lambda p: -r.elo[p])


# --- records ---------------------------------------------------------------------------------------------------------


def test_games_from_results_skips_void_and_failed_rows():
    rows = [
        {"black": "a", "white": "b", "winner": "B", "result": "B+R", "reason": "resign", "status": "done"},
        {"black": "b", "white": "a", "winner": None, "result": "0", "reason": "score"},
        {"black": "a", "white": "b", "winner": None, "result": "Void", "reason": "void: both failed"},
        {"black": "a", "white": "b", "winner": None, "result": "B+3.5", "reason": "void: something"},
        {"black": "a", "white": "b", "winner": "W", "result": "W+F", "reason": "crash", "status": "void"},
        {"black": "a", "white": "b", "status": "error", "reason": "worker died"},
        {"black": "b", "white": "a", "result": "W+T", "reason": "timeout: no reply"},  # no winner key
    ]
    assert games_from_results(rows) == [Game("a", "b", "B"), Game("b", "a", None), Game("b", "a", "W")]
    with pytest.raises(ValueError, match="winner"):
        games_from_results([{"black": "a", "white": "b", "winner": "black", "result": "B+R"}])


def test_crosstable_counts_by_colour():
    games = [
        Game("a", "b", "B"),  # a wins as Black
        Game("a", "b", "W"),  # b wins as White
        Game("b", "a", "W"),  # a wins as White
        Game("b", "a", None),  # draw, a White
        Game("a", "c", "B"),  # a wins as Black
        Game("c", "b", "B"),  # c wins as Black
    ]
    t = crosstable(games)
    assert t.players == ["a", "b", "c"]
    ab = t.get("a", "b")
    assert (ab.games, ab.wins, ab.draws, ab.losses) == (4, 2, 1, 1)
    assert (ab.black_games, ab.black_wins, ab.white_games, ab.white_wins) == (2, 1, 2, 1)
    ba = t.get("b", "a")
    assert (ba.games, ba.wins, ba.draws, ba.losses) == (4, 1, 1, 2)
    assert (ba.black_games, ba.black_wins, ba.white_games, ba.white_wins) == (2, 0, 2, 1)
    assert t.get("c", "a").losses == 1 and t.get("c", "a").white_games == 1
    assert t.get("b", "c").white_games == 1 and t.get("b", "c").white_wins == 0
    table = t.table(["c", "a", "b"])
    lines = table.splitlines()
    row_a = next(line for line in lines if line.split()[1:2] == ["a"])
    assert row_a.split()[2:] == ["1/1", "-", "2.5/4"]  # a vs c, a vs a, a vs b (a draw counts 1/2)
    row_b = next(line for line in lines if line.split()[1:2] == ["b"])
    assert row_b.split()[2:] == ["0/1", "1.5/4", "-"]
    no_draws = crosstable([Game("x", "y", "B"), Game("y", "x", "B"), Game("x", "y", "B")]).table()
    assert "2/3" in no_draws and "1/3" in no_draws
    data = json.loads(json.dumps(t.to_dict()))
    assert data["players"] == ["a", "b", "c"]
    assert data["results"]["a"]["b"] == {"games": 4, "wins": 2, "draws": 1, "losses": 1, "black_games": 2,
                                          "black_wins": 1, "white_games": 2, "white_wins": 1}  # fmt: skip
    assert "a" not in data["results"]["a"]


def test_csv_and_dict_round_trip(tmp_path):
    r = fit_ratings(round_robin(2, games_per_pair=30, draw_rate=0.1), anchor="p1", anchor_elo=50.0,
                    first_move_advantage=True)  # fmt: skip
    path = tmp_path / "ratings.csv"
    r.to_csv(path)
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["rank", "player", "elo", "low", "high", "sigma", "games", "score", "los_next"]
    assert [row["player"] for row in rows] == r.players
    for k, row in enumerate(rows):
        p = row["player"]
        assert int(row["rank"]) == k + 1
        assert float(row["elo"]) == pytest.approx(r.elo[p], abs=1e-3)
        assert (float(row["low"]), float(row["high"])) == pytest.approx(r.interval[p], abs=1e-3)
        assert float(row["sigma"]) == pytest.approx(r.sigma[p], abs=1e-3)
        assert int(row["games"]) == r.games[p] and float(row["score"]) == r.score[p]
        if k + 1 < len(rows):
            assert float(row["los_next"]) == pytest.approx(r.los(p, r.players[k + 1]), abs=1e-6)
        else:
            assert row["los_next"] == ""
    data = json.loads(json.dumps(r.to_dict()))
    assert data["anchor"] == "p1" and data["anchor_elo"] == 50.0 and data["converged"] is True
    back = Ratings.from_dict(data)
    assert back.players == r.players and back.elo == r.elo and back.sigma == r.sigma
    assert back.interval == r.interval and back.games == r.games and back.score == r.score
    assert np.array_equal(back.cov, r.cov) and back.first_move_elo == r.first_move_elo
    assert back.los("p4", "p0") == r.los("p4", "p0")
    assert back.table() == r.table()


def test_table_lists_every_player():
    r = fit_ratings(round_robin(4, games_per_pair=20), anchor="p0")
    text = r.table()
    lines = text.splitlines()
    assert lines[0].split() == ["rank", "player", "Elo", "+-95%", "games", "score", "LOS"]
    assert [line.split()[1] for line in lines[1:6]] == r.players
    assert lines[5].endswith("*") and "anchor, fixed at 0" in text


# --- plot -----------------------------------------------------------------------------------------------------------


def test_plot_elo_vs_step_writes_a_png(tmp_path):
    pytest.importorskip("matplotlib")
    r = fit_ratings(round_robin(6, games_per_pair=20), anchor="p0")
    path = tmp_path / "elo.png"
    plot_elo_vs_step(r, {"p1": 1000, "p2": 2000, "p4": 4000, "gone": 5000}, path, title="test")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    plot_elo_vs_step(r, {"p3": 10}, tmp_path / "alone.png", others=False)
    assert (tmp_path / "alone.png").read_bytes()[:4] == b"\x89PNG"
    with pytest.raises(ValueError, match="no rated player has a training step"):
        plot_elo_vs_step(r, {"gone": 1}, tmp_path / "none.png")
