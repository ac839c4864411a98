"""Crash safety of runs (issue 15, items 2, 4 and 8c): a torn newest replay chunk, a torn newest checkpoint, a
truncated corpus game, stale ``.tmp`` files and a damaged ``state.json`` never lose or overwrite finished work, and
the run resumes with a warning the user sees."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest

from igo.engine.planes import pack_planes, packed_width
from igo.selfplay.replay import ReplayBuffer
from igo.training.run import RunDir

SIZE = 5
PLANES = 17
ACTIONS = SIZE * SIZE + 1
WIDTH = packed_width(PLANES, SIZE)


def game(n: int, tag: str) -> dict:
    planes = np.zeros((n, PLANES, SIZE, SIZE), dtype=bool)
    policy = np.zeros((n, ACTIONS), dtype=np.float32)
    policy[:, 0] = 1.0
    return {"planes": pack_planes(planes), "policy": policy, "value": np.zeros(n, np.float32),
            "sgf": f"(;GM[1]SZ[{SIZE}]C[{tag}])"}  # fmt: skip


def truncate(path: Path, keep: float = 0.5) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


# --- item 2: a torn newest replay chunk --------------------------------------------------------------------------


def test_torn_newest_chunk_never_overwrites_game_records(tmp_path, caplog):
    replay, games = tmp_path / "replay", tmp_path / "games"
    buf = ReplayBuffer(SIZE, PLANES, 1000, directory=replay, games_dir=games)
    buf.add([game(3, f"a{i}") for i in range(2)])  # games 0, 1
    last = Path(buf.add([game(4, f"b{i}") for i in range(3)])["chunk"])  # games 2, 3, 4
    records = {p.name: p.read_bytes() for p in games.iterdir()}
    assert len(records) == 5
    truncate(last)
    with caplog.at_level(logging.WARNING, logger="igo.selfplay.replay"):
        again = ReplayBuffer(SIZE, PLANES, 1000, directory=replay, games_dir=games)
    assert again.games_total == 5  # from the records on disk, not 2 from the older chunk
    warnings = again.take_warnings()
    assert any("chunk-00000001.npz" in w for w in warnings) and any("games up to" in w or "up to number 4" in w
                                                                   for w in warnings)  # fmt: skip
    assert again.take_warnings() == []  # drained
    r = again.add([game(2, "c0")])
    assert r["games_total"] == 6 and (games / "00000005.sgf").read_text() == f"(;GM[1]SZ[{SIZE}]C[c0])"
    for name, data in records.items():
        assert (games / name).read_bytes() == data, f"{name} was overwritten"
    # the next restart reads the totals from the new chunk
    third = ReplayBuffer(SIZE, PLANES, 1000, directory=replay, games_dir=games)
    assert third.games_total == 6


def test_a_taken_record_name_is_never_replaced(tmp_path):
    games = tmp_path / "games"
    games.mkdir()
    buf = ReplayBuffer(SIZE, PLANES, 100, games_dir=games)
    (games / "00000000.sgf").write_text("(;C[mine])")  # appears after the buffer counted the directory
    buf.add([game(2, "new")])
    assert (games / "00000000.sgf").read_text() == "(;C[mine])"
    assert (games / "00000000-1.sgf").read_text() == f"(;GM[1]SZ[{SIZE}]C[new])"
    assert any("00000000-1.sgf" in w for w in buf.take_warnings())
    # and a restart counts both as game 0: numbering goes on at 1
    assert ReplayBuffer(SIZE, PLANES, 100, games_dir=games).games_total == 1


def test_stale_game_record_tmp_files_are_deleted(tmp_path):
    games = tmp_path / "games"
    games.mkdir()
    (games / "00000007.sgf.tmp").write_text("(;half")
    (games / "notes.tmp").write_text("not ours")
    buf = ReplayBuffer(SIZE, PLANES, 100, games_dir=games)
    assert not (games / "00000007.sgf.tmp").exists() and (games / "notes.tmp").exists()
    assert buf.games_total == 0 and any("00000007.sgf.tmp" in w for w in buf.take_warnings())


def test_zero_driver_logs_the_replay_actor_warnings(tmp_path, caplog):
    ray = pytest.importorskip("ray")
    from igo.selfplay.replay import replay_actor_class
    from igo.training.zero import _log_buffer_warnings

    replay = tmp_path / "replay"
    buf = ReplayBuffer(SIZE, PLANES, 100, directory=replay, games_dir=tmp_path / "games")
    buf.add([game(2, "a")])
    truncate(Path(buf.add([game(2, "b")])["chunk"]))
    started = not ray.is_initialized()
    if started:
        ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False)
    try:
        actor = replay_actor_class().remote(SIZE, PLANES, 100, str(replay), str(tmp_path / "games"))
        with caplog.at_level(logging.WARNING, logger="igo.training.zero"):
            _log_buffer_warnings(actor)
        assert ray.get(actor.stats.remote())["games_total"] == 2
    finally:
        if started:
            ray.shutdown()
    text = " ".join(r.getMessage() for r in caplog.records if r.name == "igo.training.zero")
    assert "chunk-00000001.npz" in text


# --- item 4: a torn newest checkpoint, stale .tmp files, a truncated corpus game --------------------------------


def _zero_checkpoints(run: Path, steps=(0, 10, 20)) -> RunDir:
    from igo.nets.config import get_config
    from igo.nets.models import build_model
    from igo.training.learner import LearnerConfig, ZeroLearner
    from igo.training.zero import PREFIX

    rd = RunDir(run, PREFIX)
    model = build_model(get_config("zero-tiny"), SIZE)
    for s in steps:
        ZeroLearner(model, LearnerConfig(batch_size=8), step=s, samples=8 * s).save(rd.checkpoint(s))
    return rd


def test_newest_falls_back_to_the_newest_readable_checkpoint(tmp_path, caplog):
    from igo.training.run import checkpoint_problem

    rd = _zero_checkpoints(tmp_path / "run")
    truncate(rd.checkpoint(20))
    assert checkpoint_problem(rd.checkpoint(20)) is not None and checkpoint_problem(rd.checkpoint(10)) is None
    with caplog.at_level(logging.WARNING, logger="igo.training.run"):
        assert rd.newest() == (10, rd.checkpoint(10))
    assert "step-00000020.safetensors" in caplog.text
    assert rd.checkpoint(20).exists()  # left in place: evidence, and overwritten when the run gets there again
    # none readable: the newest comes back as it is, so that the trainer's load says why
    truncate(rd.checkpoint(10))
    truncate(rd.checkpoint(0))
    assert rd.newest() == (20, rd.checkpoint(20))


def test_stale_tmp_files_of_the_run_are_deleted_and_others_kept(tmp_path):
    rd = _zero_checkpoints(tmp_path / "run", steps=(0,))
    ours = [rd.path / "config.json.tmp", rd.path / "state.json.tmp", rd.path / "sl.safetensors.tmp",
            rd.checkpoint(30).with_name("step-00000030.safetensors.tmp"),
            rd.checkpoint(30).with_name("step-00000030.optim.safetensors.tmp")]  # fmt: skip
    theirs = [rd.path / "notes.tmp", rd.path / "checkpoints" / "mine.tmp", rd.path / "config.json.tmp.keep"]
    for p in ours + theirs:
        p.write_text("x")
    assert rd.newest() == (0, rd.checkpoint(0))
    assert not any(p.exists() for p in ours)
    assert all(p.exists() for p in theirs)


def test_zero_resume_skips_a_torn_newest_checkpoint(tmp_path, caplog):
    from igo.training.zero import ZeroRun, prepare_run_dir
    from tests.test_train_zero import tiny_config

    run = tmp_path / "run"
    prepare_run_dir(run, tiny_config())
    rd = _zero_checkpoints(run)
    truncate(rd.checkpoint(20), 0.9)
    with caplog.at_level(logging.WARNING):
        learner = ZeroRun(run)._learner()
    assert (learner.step, learner.samples) == (10, 80)
    assert "step-00000020.safetensors" in caplog.text


def test_zero_resume_with_no_loadable_checkpoint_is_a_clear_error(tmp_path):
    from igo.training.run import RunError
    from igo.training.zero import ZeroRun, prepare_run_dir
    from tests.test_train_zero import tiny_config

    run = tmp_path / "run"
    prepare_run_dir(run, tiny_config())
    rd = _zero_checkpoints(run, steps=(0, 10))
    truncate(rd.checkpoint(0))
    truncate(rd.checkpoint(10))
    with pytest.raises(RunError, match="no checkpoint .* can be resumed from .*step-00000010"):
        ZeroRun(run)._learner()


def _corpus_game(index: int) -> bytes:
    from igo.engine.sgf import GameRecord, dump_sgf

    moves = [(1, (1, 1)), (2, (3, 3)), (1, (2, 2)), (2, None), (1, None)]
    return dump_sgf(GameRecord(size=SIZE, komi=0.5, moves=moves, result="B+3.5", game_name=f"corpus-{index:06d}"))


def test_truncated_corpus_game_is_played_again(tmp_path, caplog):
    from igo.selfplay.corpus import existing_games

    out = tmp_path / "corpus"
    out.mkdir()
    for i in range(3):
        (out / f"game-{i:06d}.sgf").write_bytes(_corpus_game(i))
    truncate(out / "game-000001.sgf", 0.7)
    (out / "game-000002.sgf").write_bytes(_corpus_game(2).rstrip()[:-1])  # only the closing parenthesis lost
    (out / "game-000003.sgf.tmp").write_bytes(b"(;GM[1]")
    (out / "other.sgf.tmp").write_bytes(b"not ours")
    with caplog.at_level(logging.WARNING, logger="igo.selfplay.corpus"):
        assert existing_games(out) == {0}
    assert "game-000001.sgf" in caplog.text and "game-000002.sgf" in caplog.text
    assert not (out / "game-000003.sgf.tmp").exists() and (out / "other.sgf.tmp").exists()
    assert existing_games(out, SIZE) == {0}
    assert existing_games(out, 9) == set()  # games of another size are not this corpus's


def test_corpus_game_name_taken_by_a_fifo_is_an_error_not_a_hang(tmp_path):
    import os

    from igo.engine.fileio import NotARegularFileError
    from igo.selfplay.corpus import existing_games

    if not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs here")
    out = tmp_path / "corpus"
    out.mkdir()
    os.mkfifo(out / "game-000000.sgf")
    with pytest.raises(NotARegularFileError, match="game-000000.sgf"):
        existing_games(out, SIZE)


# --- item 8c: a damaged state.json -------------------------------------------------------------------------------


BAD_STATES = ["[1,2]", '"x"', '{"best":1e400}', '{"best":null}', '{"best":-3}', '{"best":true}', '{"version":"7"}',
              "{", "\x00\xff", '{"best":99}']  # fmt: skip


@pytest.mark.parametrize("text", BAD_STATES)
def test_damaged_state_json_is_recomputed_with_a_warning(tmp_path, caplog, text):
    from igo.training.zero import ZeroRun, prepare_run_dir
    from tests.test_train_zero import tiny_config

    run = tmp_path / "run"
    prepare_run_dir(run, tiny_config())
    _zero_checkpoints(run)
    (run / "state.json").write_bytes(text.encode("utf-8", "surrogateescape"))
    zr = ZeroRun(run)
    with caplog.at_level(logging.WARNING, logger="igo.training.zero"):
        assert zr._resume_best(20) == 20
    assert "state.json" in caplog.text
    assert json.loads((run / "state.json").read_text()) == {"best": 20, "version": 20}  # written afresh
    zr._save_state(best=20, version=20)  # and saving goes on


@pytest.mark.parametrize("text", ["[1,2]", '"x"'])
def test_saving_state_over_a_damaged_state_json(tmp_path, text):
    from igo.training.zero import ZeroRun, prepare_run_dir
    from tests.test_train_zero import tiny_config

    run = tmp_path / "run"
    prepare_run_dir(run, tiny_config())
    (run / "state.json").write_text(text)
    ZeroRun(run)._save_state(best=10, version=10)
    assert json.loads((run / "state.json").read_text()) == {"best": 10, "version": 10}


def test_damaged_state_json_with_gating_takes_the_last_promotion(tmp_path, caplog):
    from igo.training.zero import ZeroRun, prepare_run_dir
    from tests.test_train_zero import tiny_config

    run = tmp_path / "run"
    prepare_run_dir(run, tiny_config(gating_games=2))
    _zero_checkpoints(run)
    rows = [{"kind": "gating", "step": 10, "promoted": True}, {"kind": "gating", "step": 20, "promoted": False}]
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows) + '{"torn')
    (run / "state.json").write_text('{"best": null}')
    assert ZeroRun(run)._resume_best(20) == 10


def test_sound_state_json_is_kept(tmp_path, caplog):
    from igo.training.zero import ZeroRun, prepare_run_dir
    from tests.test_train_zero import tiny_config

    run = tmp_path / "run"
    prepare_run_dir(run, tiny_config(gating_games=2))
    _zero_checkpoints(run)
    (run / "state.json").write_text('{"best": 10, "version": 10}')
    with caplog.at_level(logging.WARNING, logger="igo.training.zero"):
        assert ZeroRun(run)._resume_best(20) == 10
    assert not caplog.records
    (run / "state.json").unlink()
    assert ZeroRun(run)._resume_best(20) == 20  # no state yet: the learner's checkpoint, as before


def test_state_json_that_is_a_directory_is_a_clear_run_error(tmp_path):
    from igo.training.run import RunError
    from igo.training.zero import ZeroRun, prepare_run_dir
    from tests.test_train_zero import tiny_config

    run = tmp_path / "run"
    prepare_run_dir(run, tiny_config())
    _zero_checkpoints(run)
    (run / "state.json").mkdir()
    with pytest.raises(RunError, match="state.json"):
        ZeroRun(run)._resume_best(20)


def test_metrics_after_a_torn_line_and_rows_that_are_not_objects(tmp_path):
    from igo.training.common import Metrics, read_metrics

    (tmp_path / "metrics.jsonl").write_text('{"kind": "train", "step": 1}\n[1, 2]\n"x"\n{"kind": "train", "st')
    with Metrics(tmp_path, tensorboard=False) as m:
        m.write("train", 2, loss=0.5)
    rows = read_metrics(tmp_path, "train")
    assert [r["step"] for r in rows] == [1, 2]  # the row after the torn line is whole; non-objects are skipped
