"""Tests for what `igo tournament` says and does around a run: Ctrl-C (a clean stop, the table so far, resume), the
header, --ratings-only from the records alone, and each igo engine's share of the cores (OMP_NUM_THREADS)."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from igo.cli import main
from igo.selfplay.gtp_players import Engine, PlayerSpec, thread_env
from igo.selfplay.tournament import (
    Tournament,
    TournamentConfig,
    TournamentInterrupted,
    TournamentPlayer,
    _play_game_task,
    read_results,
    sigint_deferred,
)
from igo.tournament_cmd import _parse_player, header


def players(*names: str) -> list[TournamentPlayer]:
    return [TournamentPlayer(n, igo=f"--player random --seed {i}") for i, n in enumerate(names, 1)]


def _engines_with(marker: str) -> list[int]:
    """The processes whose command line holds ``marker`` (from /proc)."""
    found = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit() and int(d.name) != os.getpid():
            try:
                if marker.encode() in (d / "cmdline").read_bytes():
                    found.append(int(d.name))
            except OSError:
                pass
    return found


# --- Ctrl-C ----------------------------------------------------------------------------------------------------------


@pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="needs /proc to look for engine processes")
def test_ctrl_c_prints_the_table_so_far_and_a_rerun_resumes(tmp_path):
    out = tmp_path / "t"
    seed = str(random.randrange(10**8, 10**9))  # marks this test's engine processes
    cmd = [
        sys.executable, "-m", "igo.cli", "tournament", "--player", f"a=igo:--player random --seed {seed}",
        "--player", "b=igo:--player random --seed 2", "--games", "4", "--size", "5", "--cpus", "1", "--out", str(out),
    ]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 240
        while not (out / "results.jsonl").exists() or not read_results(out / "results.jsonl"):
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)  # Ctrl-C: after the first game, with the others in progress or waiting
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, stderr
    rows = read_results(out / "results.jsonl")
    lines = (out / "results.jsonl").read_text().splitlines()
    assert len(lines) == len(rows) and all(r["status"] == "done" for r in rows)  # nothing torn, nothing half-played
    played = len(rows)
    assert 1 <= played < 4
    assert stdout.startswith("Round-robin tournament: 2 players, 1 pairing x 4 games (4 in all), 5x5")
    assert "rank  player" in stdout and "cell: points/games" in stdout  # the table of a finished run
    assert stdout.rstrip().endswith(f"interrupted after {played} of 4 games; rerun the same command to resume")
    assert "Token authentication" not in stderr and "interrupted\n" not in stderr
    deadline = time.monotonic() + 10
    while _engines_with(seed) and time.monotonic() < deadline:  # the engines were shut down with the run
        time.sleep(0.1)
    assert _engines_with(seed) == []
    # the same command again plays only the games that are missing
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert f"resuming: {played} of 4 games played already, {4 - played} to play" in r.stdout
    after = read_results(out / "results.jsonl")
    assert after[:played] == rows and len(after) == 4
    assert sorted(x["id"] for x in after) == [f"a vs b #{i:03d}" for i in range(1, 5)]


def test_an_interrupted_run_records_what_finished_and_the_next_run_plays_the_rest(ray_local, tmp_path):
    cfg = TournamentConfig(players("a", "b"), games_per_pairing=3, size=5)
    t = Tournament(cfg, tmp_path)

    def ctrl_c(row, done, total):
        raise KeyboardInterrupt  # Ctrl-C while the driver reports the first game

    start = time.monotonic()
    with pytest.raises(TournamentInterrupted) as info:
        t.run(on_game=ctrl_c)
    assert time.monotonic() - start < 120
    e = info.value
    assert isinstance(e, KeyboardInterrupt) and e.total == 3 and 1 <= e.done < 3
    first = read_results(tmp_path / "results.jsonl")
    # the games that finished while the others were cancelled are recorded too, each once
    assert [r["id"] for r in first] == [r["id"] for r in e.rows] and len({r["id"] for r in first}) == e.done
    rest = Tournament(cfg, tmp_path).run()
    assert len(rest) == 3 - e.done and not {r["id"] for r in rest} & {r["id"] for r in first}
    assert len(read_results(tmp_path / "results.jsonl")) == 3


def test_ctrl_c_while_a_game_is_recorded_waits_for_the_record():
    events = []
    with pytest.raises(KeyboardInterrupt):
        with sigint_deferred():
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.05)
            events.append("written")
    assert events == ["written"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    with sigint_deferred():  # without a Ctrl-C nothing is raised
        events.append("again")
    assert events == ["written", "again"]


# --- header and --ratings-only ---------------------------------------------------------------------------------------


def test_the_header_names_the_format_and_says_when_it_resumes(tmp_path):
    cfg = TournamentConfig(players("a", "b", "c"), games_per_pairing=1, size=5)
    text = header(cfg, tmp_path, 0, 3)
    assert text == (
        f"Round-robin tournament: 3 players, 3 pairings x 1 game (3 in all), 5x5 komi 7.5, referee tromp-taylor; "
        f"records in {tmp_path}"
    )
    named = TournamentConfig(players("x", "f"), format="gauntlet", candidates=["x"], name="ladder", size=7)
    text = header(named, tmp_path, 4, 10)
    assert text.startswith('Gauntlet tournament "ladder": 2 players (1 candidates), 1 pairing x 10 games (10 in all)')
    assert text.endswith("\nresuming: 4 of 10 games played already, 6 to play")
    assert "nothing to play" in header(named, tmp_path, 10, 10)


def _recorded_tournament(out: Path) -> TournamentConfig:
    """A 2-game tournament on disk, as a run leaves it (without playing)."""
    cfg = TournamentConfig(players("alpha", "beta"), games_per_pairing=2, size=5, komi=0.5, anchor="beta",
                           anchor_elo=100.0, name="duel")  # fmt: skip
    t = Tournament(cfg, out)
    t._check_directory()
    for i, (black, white) in enumerate((("alpha", "beta"), ("beta", "alpha"))):
        t._record({"row": {"id": f"alpha vs beta #{i + 1:03d}", "a": "alpha", "b": "beta", "index": i,
                           "black": black, "white": white, "winner": "B", "result": "B+3.5", "status": "done"},
                   "sgf": None})  # fmt: skip
    return cfg


def test_ratings_only_reads_the_players_from_the_results_directory(tmp_path, capsys):
    out = tmp_path / "duel"
    _recorded_tournament(out)
    assert main(["tournament", "--out", str(out), "--ratings-only", "--json"]) == 0
    captured = capsys.readouterr()
    ratings = json.loads(captured.out.strip().splitlines()[-1])
    assert "alpha" in captured.err and "beta" in captured.err
    elo = {p["player"]: p["elo"] for p in ratings["players"]}
    assert ratings["anchor"] == "beta" and elo["beta"] == pytest.approx(100.0)  # the stored anchor
    assert (out / "ratings.json").exists()
    # players given anyway must be the stored ones
    same = ["--player", "alpha=igo:--player random --seed 1", "--player", "beta=igo:--player random --seed 2"]
    assert main(["tournament", "--out", str(out), "--ratings-only", *same]) == 0
    capsys.readouterr()
    other = ["--player", "alpha=igo:--player random --seed 7", "--player", "beta=igo:--player random --seed 2"]
    assert main(["tournament", "--out", str(out), "--ratings-only", *other]) == 1
    assert "holds another tournament" in capsys.readouterr().err
    assert main(["tournament", "--out", str(out), "--ratings-only", "--size", "7"]) == 1
    assert "holds another tournament" in capsys.readouterr().err
    # a directory without a tournament says so
    assert main(["tournament", "--out", str(tmp_path / "empty"), "--ratings-only"]) == 1
    err = capsys.readouterr().err
    assert "holds no tournament" in err and "tournament.json" in err


# --- each game's share of the cores ----------------------------------------------------------------------------------


ENV_ENGINE = """
import os, sys
record = sys.argv[1]
with open(record, "a") as f:
    f.write(os.environ.get("OMP_NUM_THREADS", "unset") + "\\n")
for line in sys.stdin:
    cmd = line.split()
    ident = ""
    if cmd and cmd[0].isdigit():
        ident, cmd = cmd[0], cmd[1:]
    if not cmd:
        continue
    if cmd[0] == "genmove":
        print(f"={ident} pass\\n", flush=True)
    elif cmd[0] == "quit":
        print(f"={ident}\\n", flush=True)
        break
    else:
        print(f"={ident}\\n", flush=True)
"""


def test_igo_engines_get_the_cores_of_their_game(tmp_path, monkeypatch):
    assert thread_env(2) == {"OMP_NUM_THREADS": "2"} and thread_env(0.5) == {"OMP_NUM_THREADS": "1"}
    with pytest.raises(ValueError, match="cpus"):
        thread_env(0)
    cfg = TournamentConfig(
        [TournamentPlayer("net", igo="--player random", num_cpus=3),
         TournamentPlayer("ext", command="gnugo --mode gtp"), TournamentPlayer("small", igo="--player random")],
        games_per_pairing=2, size=5,
    )  # fmt: skip
    t = Tournament(cfg, tmp_path)
    specs = {g.id: t.game_spec(g) for g in t.games()}
    net_ext = specs["net vs ext #001"]
    assert (net_ext["black"], net_ext["black_env"], net_ext["white_env"]) == ("net", {"OMP_NUM_THREADS": "3"}, {})
    assert specs["net vs small #002"]["black_env"] == {"OMP_NUM_THREADS": "3"}  # the game holds 3 CPUs: both get 3
    assert specs["ext vs small #001"]["white_env"] == {"OMP_NUM_THREADS": "1"}
    # the Ray task hands each side's environment to its engine process, over the inherited one
    script = tmp_path / "engine.py"
    script.write_text(ENV_ENGINE)
    monkeypatch.setenv("OMP_NUM_THREADS", "16")
    game = dict(net_ext, black_argv=[sys.executable, str(script), str(tmp_path / "black.txt")],
                white_argv=[sys.executable, str(script), str(tmp_path / "white.txt")])  # fmt: skip
    settings = {"size": 5, "komi": 7.5, "move_limit": None, "move_timeout": 30.0, "referee": "tromp-taylor"}
    out = _play_game_task(game, settings)
    assert out["row"]["result"] == "W+7.5" and out["row"]["status"] == "done"
    assert (tmp_path / "black.txt").read_text() == "3\n"
    assert (tmp_path / "white.txt").read_text() == "16\n"  # an external engine keeps what it inherits
    engine = Engine(PlayerSpec("e", ["x"], env={"OMP_NUM_THREADS": "2"}), env={"PATH": "/bin"})
    assert engine.environment() == {"PATH": "/bin", "OMP_NUM_THREADS": "2"}
    assert Engine(PlayerSpec("e", ["x"])).environment() is None
    with pytest.raises(ValueError, match="environment"):
        PlayerSpec("e", ["x"], env={"OMP_NUM_THREADS": 2})


def test_a_command_line_igo_player_holds_the_cpus_its_threads_use():
    assert _parse_player("p=igo:--player random").num_cpus == 1.0
    assert _parse_player("p=igo:--playouts 100 --threads 3").num_cpus == 3.0
    assert _parse_player("p=gnugo --mode gtp").num_cpus == 1.0


def test_plot_path_a_bare_name_goes_into_the_tournament_directory_a_path_where_it_says(tmp_path, monkeypatch):
    from igo.tournament_cmd import plot_path

    monkeypatch.chdir(tmp_path)
    out = tmp_path / "runs" / "t1"
    assert plot_path("elo.png", out) == out / "elo.png" and out.is_dir()
    assert plot_path("docs/elo-9x9.png", out) == Path("docs/elo-9x9.png") and (tmp_path / "docs").is_dir()
    assert plot_path(str(tmp_path / "abs" / "e.png"), out) == tmp_path / "abs" / "e.png"
