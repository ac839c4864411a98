"""Tests for the arena (selfplay.match with its referees, records, GTP players and statistics) and ``igo match``:
statistics, real matches between igo engines (and GNU Go), and misbehaving fake engines (crash, illegal move, hang,
junk, refusal) that must lose by forfeit without stopping the match."""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from igo.engine.sgf import load_sgf_file, replay
from igo.selfplay.gtp_players import EngineStartError, PlayerSpec, igo_command
from igo.selfplay.match import MatchSummary, play_game, run_match
from igo.selfplay.records import GameResult
from igo.selfplay.stats import wilson_interval


def _find_gnugo() -> str | None:
    found = shutil.which("gnugo")
    if found:
        return found
    for candidate in ("/usr/games/gnugo", "/usr/local/games/gnugo"):
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


GNUGO = _find_gnugo()


def _igo_gtp_takes_player_option() -> bool:
    from igo import gtp_cmd

    p = argparse.ArgumentParser()
    gtp_cmd.add_arguments(p)
    return "--player" in p.format_help()


def igo_random(seed: int) -> str:
    """``igo:ARGS`` for igo's random player (``--player random`` once ``igo gtp`` has the option)."""
    player = "--player random " if _igo_gtp_takes_player_option() else ""
    return f"igo:{player}--seed {seed}"


def igo_match(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "igo", "match", *args], capture_output=True, text=True, timeout=timeout, check=False
    )


def last_json(stdout: str) -> dict:
    return json.loads(stdout.strip().splitlines()[-1])


def read_results(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]


# A minimal GTP engine whose misbehaviour is chosen on its command line. It plays the first free point of its own
# list (Black from the bottom row, White from the top row, so the stones never touch on 5x5), then passes.
FAKE_ENGINE = textwrap.dedent(
    r"""
    import os
    import sys
    import time

    args = sys.argv[1:]


    def option(name, default=None):
        return args[args.index(name) + 1] if name in args else default


    LOG = option("--log")
    MOVES = int(option("--moves", 4))
    DIE_AT = int(option("--die-at", 0))
    HANG_AT = int(option("--hang-at", 0))
    ILLEGAL_AT = int(option("--illegal-at", 0))
    JUNK_AT = int(option("--junk-at", 0))
    RESIGN_AT = int(option("--resign-at", 0))
    size = 5
    occupied = []
    genmoves = 0


    def log(text):
        if LOG:
            with open(LOG, "a") as f:
                f.write(f"{os.getpid()} {text}\n")


    def reply(text="", ok=True):
        sys.stdout.write(("= " if ok else "? ") + text + "\n\n")
        sys.stdout.flush()


    def points(color):
        letters = "ABCDEFGHJ"[:size]
        rows = range(1, size + 1) if color == "b" else range(size, 0, -1)
        return [f"{c}{r}" for r in rows for c in letters]


    log("start")
    for line in sys.stdin:
        words = line.split()
        if not words:
            continue
        if words[0].isdigit():
            words = words[1:]
        command, rest = words[0], words[1:]
        log(" ".join(words))
        if command == "quit":
            reply()
            break
        elif command == "boardsize":
            if "--refuse-boardsize" in args:
                reply("unacceptable size", ok=False)
                continue
            size = int(rest[0])
            occupied = []
            reply()
        elif command == "clear_board":
            occupied = []
            genmoves = 0
            reply()
        elif command == "play":
            if "--refuse-play" in args:
                reply("illegal move", ok=False)
                continue
            if rest[1].lower() != "pass":
                occupied.append(rest[1].upper())
            reply()
        elif command == "genmove":
            genmoves += 1
            color = rest[0][0].lower()
            if genmoves == DIE_AT:
                sys.exit(3)
            if genmoves == HANG_AT:
                time.sleep(600)
            if genmoves == JUNK_AT:
                reply("banana")
                continue
            if genmoves == RESIGN_AT:
                reply("resign")
                continue
            if genmoves == ILLEGAL_AT and occupied:
                reply(occupied[0])
                continue
            free = [p for p in points(color) if p not in occupied]
            if genmoves > MOVES or not free:
                reply("pass")
                continue
            occupied.append(free[0])
            reply(free[0])
        else:
            reply()  # protocol_version, komi, time_settings, time_left, name ...
    """
)


@pytest.fixture
def fake(tmp_path):
    """``fake(name, *options)``: a PlayerSpec running the fake engine with those options (and a log file)."""
    script = tmp_path / "fake_gtp.py"
    script.write_text(FAKE_ENGINE)

    def make(name: str, *options: str) -> PlayerSpec:
        return PlayerSpec(name, [sys.executable, str(script), "--log", str(tmp_path / f"{name}.log"), *options])

    return make


def log_lines(tmp_path: Path, name: str) -> list[tuple[int, str]]:
    path = tmp_path / f"{name}.log"
    out = []
    for line in path.read_text().splitlines():
        pid, _, text = line.partition(" ")
        out.append((int(pid), text))
    return out


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is dead for our purposes
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


# --- statistics ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "wins, n, low, high",
    [
        (0, 10, 0.0, 0.2775),
        (5, 10, 0.2366, 0.7634),
        (10, 10, 0.7225, 1.0),
        (1, 1, 0.2065, 1.0),
        (50, 100, 0.4038, 0.5962),
    ],
)
def test_wilson_interval_known_values(wins, n, low, high):
    lo, hi = wilson_interval(wins, n)
    assert lo == pytest.approx(low, abs=1e-4) and hi == pytest.approx(high, abs=1e-4)


def test_wilson_interval_bounds_and_errors():
    assert wilson_interval(0, 0) == (0.0, 1.0)
    for n in (1, 2, 7, 40):
        prev = -1.0
        for wins in range(n + 1):
            lo, hi = wilson_interval(wins, n)
            assert 0.0 <= lo <= wins / n <= hi <= 1.0
            assert lo > prev  # more wins, higher interval
            prev = lo
    lo99, hi99 = wilson_interval(5, 10, z=2.576)
    lo95, hi95 = wilson_interval(5, 10)
    assert lo99 < lo95 and hi99 > hi95
    lo, hi = wilson_interval(2.5, 5)  # a draw counts half a win
    assert lo == pytest.approx(1 - hi) and wilson_interval(2, 5)[0] < lo < wilson_interval(3, 5)[0]
    for bad in ((-1, 10), (11, 10), (1, -1)):
        with pytest.raises(ValueError):
            wilson_interval(*bad)


def test_match_summary_counts_colours_draws_and_voids():
    def game(winner, reason="score", black_time=1.0, white_time=2.0):
        return GameResult("x", "y", winner, "?", reason, 10, black_time, white_time, 5, 5)

    s = MatchSummary("A", "B", games=5)
    s.add(game("B"), "B")  # A black wins
    s.add(game("B"), "W")  # B black wins
    s.add(game("W"), "W")  # A white wins
    s.add(game(None), "B")  # draw
    s.add(game(None, "void: both died"), "W")
    assert (s.a_wins, s.a_wins_black, s.a_wins_white) == (2, 1, 1)
    assert (s.b_wins, s.b_wins_black, s.b_wins_white) == (1, 1, 0)
    assert (s.draws, s.voids, s.decided) == (1, 1, 4)
    assert s.win_rate_a == pytest.approx(2.5 / 4)
    assert s.interval == pytest.approx(wilson_interval(2.5, 4))
    assert s.a_time == pytest.approx(1 + 2 + 2 + 1 + 2) and s.a_moves == 25
    assert s.reasons == {"score": 4, "void": 1}
    json.dumps(s.to_dict())


def test_igo_command():
    cmd = igo_command(7, 6.5, ["--seed", "3"])
    assert cmd[:4] == [sys.executable, "-m", "igo", "gtp"]
    assert cmd[4:] == ["--size", "7", "--komi", "6.5", "--seed", "3"]


# --- real matches through the command line -------------------------------------------------------------------------


def test_match_between_random_igo_players(tmp_path):
    out = tmp_path / "m"
    r = igo_match(
        igo_random(1), igo_random(2), "--games", "3", "--size", "5", "--komi", "2.5", "--out", str(out), "--json"
    )
    assert r.returncode == 0, r.stderr
    summary = last_json(r.stdout)
    assert summary["played"] == summary["games"] == 3
    assert summary["a_wins"] + summary["b_wins"] + summary["draws"] + summary["voids"] == 3
    assert summary["a_wins"] == summary["a_wins_black"] + summary["a_wins_white"]
    assert 0 <= summary["interval_95"][0] <= summary["interval_95"][1] <= 1
    a, b = summary["a"], summary["b"]
    assert a != b and "--seed 1" in a and "--seed 2" in b
    assert r.stderr.count("game ") >= 3 and "game 3/3" in r.stderr
    assert "win rate of A" in r.stderr  # the human summary goes to stderr with --json

    results = read_results(out)
    assert [g["game"] for g in results] == [1, 2, 3]
    assert [g["a_color"] for g in results] == ["B", "W", "B"]  # colours alternate
    for g in results:
        assert (g["black"], g["white"]) == ((a, b) if g["a_color"] == "B" else (b, a))
        assert g["reason"] in ("score", "resign") or g["reason"].startswith("move limit")
        assert len(g["move_times"]) == g["moves"]
        record = load_sgf_file(g["sgf_path"])
        assert Path(g["sgf_path"]).name == f"game-{g['game']:04d}.sgf"
        assert (record.black_player, record.white_player) == (g["black"], g["white"])
        assert record.komi == 2.5 and record.size == 5
        assert record.result == g["result"]
        assert len(record.moves) == g["moves"]
        assert record.comments[0].endswith(" s")  # seconds used
        if g["reason"] != "resign":
            assert replay(record, ko_rule="positional").result() == g["result"]  # Tromp-Taylor of the final board


@pytest.mark.gnugo
@pytest.mark.skipif(GNUGO is None, reason="GNU Go (gnugo) is not installed")
def test_igo_against_gnugo_with_gnugo_referee(tmp_path):
    out = tmp_path / "m"
    r = igo_match(
        igo_random(5),
        "gnugo --mode gtp --level 0 --chinese-rules",
        "--games",
        "1",
        "--size",
        "7",
        "--referee",
        "gnugo",
        "--name-b",
        "GNU Go",
        "--out",
        str(out),
        "--json",
    )
    assert r.returncode == 0, r.stderr
    summary = last_json(r.stdout)
    assert summary["played"] == 1 and summary["referee"] == "gnugo" and summary["b"] == "GNU Go"
    (g,) = read_results(out)
    assert g["referee"] == "gnugo" and g["white"] == "GNU Go"
    assert g["reason"] in ("score", "resign") or g["reason"].startswith("move limit"), g
    assert "Tromp-Taylor" not in g["reason"]  # GNU Go did the scoring
    if g["reason"] == "score":
        assert g["winner"] == ("B" if g["score"] > 0 else "W")
        assert g["result"][0] == g["winner"]
    record = load_sgf_file(g["sgf_path"])
    assert record.ruleset == "Chinese" and record.white_player == "GNU Go"


_MCTS_AVAILABLE = False
try:
    import igo.engine.player  # noqa: F401

    _MCTS_AVAILABLE = _igo_gtp_takes_player_option()
except ImportError:
    pass


@pytest.mark.skipif(not _MCTS_AVAILABLE, reason="the MCTS player (engine/player.py, igo gtp --player) is not there yet")
def test_mcts_against_random(tmp_path):
    r = igo_match(
        "igo:--player mcts --playouts 30 --seed 1",
        igo_random(2),
        "--games",
        "1",
        "--size",
        "5",
        "--move-limit",
        "40",
        "--out",
        str(tmp_path / "m"),
        "--json",
    )
    assert r.returncode == 0, r.stderr
    assert last_json(r.stdout)["played"] == 1


# --- misbehaving engines -------------------------------------------------------------------------------------------


def test_crashing_engine_forfeits_and_the_match_completes(tmp_path, fake):
    out = tmp_path / "m"
    crasher = fake("crasher", "--die-at", "3")
    r = igo_match(igo_random(1), shlex.join(crasher.command), "--name-b", "crasher", "--games", "2", "--size", "5",
                  "--out", str(out), "--json")  # fmt: skip
    assert r.returncode == 0, r.stderr
    summary = last_json(r.stdout)
    assert summary["played"] == 2 and summary["a_wins"] == 2 and summary["reasons"] == {"crash": 2}
    results = read_results(out)
    assert [g["result"] for g in results] == ["B+F", "W+F"]
    for g in results:
        assert g["reason"].startswith("crash: the engine died during genmove") and "exit code 3" in g["reason"]
        assert load_sgf_file(g["sgf_path"]).result == g["result"]
    starts = {pid for pid, text in log_lines(tmp_path, "crasher") if text == "start"}
    assert len(starts) == 2  # restarted for the second game


def test_engines_are_reused_between_games(tmp_path, fake):
    a, b = fake("a"), fake("b", "--moves", "2")
    summary = run_match(a, b, 3, size=5, komi=0.5, out_dir=tmp_path / "m")
    assert summary.played == 3 and summary.reasons == {"score": 3}
    for name in ("a", "b"):
        lines = log_lines(tmp_path, name)
        pids = {pid for pid, _ in lines}
        assert len(pids) == 1  # one process for the whole match ...
        assert sum(text == "clear_board" for _, text in lines) == 3  # ... cleared for each game
        assert lines[-1][1] == "quit"  # and shut down politely
        assert not pid_alive(pids.pop())


def test_illegal_move_forfeits(fake):
    game = play_game(fake("good"), fake("cheat", "--illegal-at", "2"), size=5, komi=7.5)
    assert game.winner == "B" and game.result == "B+F"
    assert game.reason.startswith("forfeit: illegal move") and "occupied" in game.reason
    assert game.moves == 3  # the illegal move is not on the board


def test_unreadable_move_forfeits(fake):
    game = play_game(fake("junk", "--junk-at", "1"), fake("good"), size=5, komi=7.5)
    assert (game.winner, game.result) == ("W", "W+F")
    assert game.reason == "forfeit: unreadable move 'banana'"


def test_hanging_engine_loses_on_time_without_hanging(tmp_path, fake):
    out = tmp_path / "m"
    sleeper = fake("sleeper", "--hang-at", "2")
    good = fake("good")
    # The hang guard is igo_match's subprocess timeout; the engine that hangs must lose on time, not stall the match.
    r = igo_match(shlex.join(sleeper.command), shlex.join(good.command), "--name-a", "sleeper", "--name-b", "good",
                  "--games", "2", "--size", "5", "--move-timeout", "1", "--out", str(out), "--json")  # fmt: skip
    assert r.returncode == 0, r.stderr
    results = read_results(out)
    assert [g["result"] for g in results] == ["W+T", "B+T"]
    assert all(g["reason"].startswith("timeout:") for g in results)
    assert last_json(r.stdout)["b_wins"] == 2


def test_resignation(fake):
    game = play_game(fake("quitter", "--resign-at", "2"), fake("good"), size=5, komi=7.5)
    assert (game.winner, game.result, game.reason, game.moves) == ("W", "W+R", "resign", 2)


def test_refusing_a_legal_move_forfeits(fake):
    game = play_game(fake("good"), fake("stubborn", "--refuse-play"), size=5, komi=7.5)
    assert game.result == "B+F" and game.reason.startswith("forfeit: refused the legal move black A1")


def test_both_engines_failing_setup_is_void(fake):
    game = play_game(fake("x", "--refuse-boardsize"), fake("y", "--refuse-boardsize"), size=5)
    assert game.winner is None and game.result == "Void" and game.kind == "void"
    game = play_game(fake("x", "--refuse-boardsize"), fake("y"), size=5)
    assert game.result == "W+F" and "boardsize 5 failed" in game.reason


def test_move_limit_scores_the_board_as_it_stands(tmp_path, fake):
    game = play_game(fake("a"), fake("b"), size=5, komi=0.5, move_limit=5, sgf_path=tmp_path / "g.sgf")
    assert game.moves == 5 and game.reason.startswith("move limit")
    # Black A1 B1 C1, White A5 B5; the empty points touch both colours: 3 - 2 - 0.5
    assert game.result == "B+0.5" and game.score == 0.5
    record = load_sgf_file(tmp_path / "g.sgf")
    assert record.result == "B+0.5" and "move limit" in record.root_comment


def test_time_settings_and_time_left_are_sent(tmp_path, fake):
    game = play_game(fake("a", "--moves", "1"), fake("b", "--moves", "1"), size=5, time_settings=(30, 5, 3))
    assert game.reason == "score"
    commands = [text for _, text in log_lines(tmp_path, "a")]
    assert "time_settings 30 5 3" in commands
    assert "time_left black 30 0" in commands
    assert commands.index("time_settings 30 5 3") < commands.index("genmove black")


def test_no_time_left_without_a_time_limit(tmp_path, fake):
    game = play_game(fake("a", "--moves", "1"), fake("b", "--moves", "1"), size=5, time_settings=(0, 5, 0))
    assert game.reason == "score"
    commands = [text for _, text in log_lines(tmp_path, "a")]
    assert "time_settings 0 5 0" in commands  # byo-yomi time with no stones: no limit, as GTP says
    assert not any(c.startswith("time_left") for c in commands)


def test_gnugo_referee_failure_falls_back_to_tromp_taylor(fake):
    from igo.selfplay.referee import GnuGoReferee

    referee = GnuGoReferee(command=["no-such-gnugo-program"])
    game = play_game(fake("a", "--moves", "1"), fake("b", "--moves", "1"), size=5, komi=0.5, referee=referee)
    assert game.reason.startswith("score (GNU Go referee failed") and "Tromp-Taylor" in game.reason
    assert game.result == "W+0.5"  # Black A1, White A5, the empty points touch both: 1 - 1 - 0.5
    referee.close()


def test_interrupt_shuts_the_engines_down(tmp_path, fake):
    def stop(*_):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_match(fake("a"), fake("b"), 3, size=5, out_dir=tmp_path / "m", progress=stop)
    assert len(read_results(tmp_path / "m")) == 1  # the finished game was recorded before the interrupt
    for name in ("a", "b"):
        for pid in {pid for pid, _ in log_lines(tmp_path, name)}:
            assert not pid_alive(pid)


# --- bad arguments -------------------------------------------------------------------------------------------------


def test_missing_engine_program_is_a_clear_error(tmp_path):
    r = igo_match("no-such-go-engine --mode gtp", igo_random(1), "--games", "1", "--out", str(tmp_path / "m"))
    assert r.returncode == 1
    assert "igo match: error:" in r.stderr and "no-such-go-engine" in r.stderr and "not found" in r.stderr
    assert "Traceback" not in r.stderr


def test_engine_that_cannot_start_is_a_clear_error(tmp_path, fake):
    r = igo_match(
        f"{sys.executable} -c 'import sys; sys.exit(2)'", shlex.join(fake("b").command), "--out", str(tmp_path / "m")
    )
    assert r.returncode == 1 and "igo match: error:" in r.stderr and "did not start" in r.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["--games", "0"],
        ["--size", "1"],
        ["--move-timeout", "0"],
        ["--move-limit", "0"],
        ["--referee", "nobody"],
        ["--time-settings", "10", "x", "1"],
    ],
)
def test_bad_arguments(args, tmp_path):
    r = igo_match("no-such-engine-a", "no-such-engine-b", "--out", str(tmp_path / "m"), *args)
    assert r.returncode != 0
    assert "error" in r.stderr
    assert not (tmp_path / "m").exists()  # nothing started, nothing written


def test_existing_results_are_not_overwritten(tmp_path, fake):
    out = tmp_path / "m"
    out.mkdir()
    (out / "results.jsonl").write_text('{"game": 1}\n')
    with pytest.raises(ValueError, match="already holds a match"):
        run_match(fake("a"), fake("b"), 1, size=5, out_dir=out)


def test_same_names_are_refused_by_the_library(fake):
    with pytest.raises(ValueError, match="different names"):
        run_match(fake("a"), fake("a"), 1, size=5)
    with pytest.raises(EngineStartError):
        run_match(PlayerSpec("x", ["no-such-go-engine"]), fake("b"), 1, size=5)


def test_help_explains_the_players_with_an_example():
    r = igo_match("--help")
    assert r.returncode == 0
    for text in ("igo:ARGS", "--games", "--referee", "--move-timeout", "Wilson", "example:", "results.jsonl"):
        assert text in r.stdout
