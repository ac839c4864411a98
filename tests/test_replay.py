"""Tests of selfplay/replay.py: packing, the position window, symmetric sampling, chunk files and restarts."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from igo.engine.planes import pack_planes, packed_width, unpack_planes
from igo.engine.symmetry import NUM_SYMMETRIES, apply_rc
from igo.selfplay.replay import CHUNK_FORMAT_VERSION, ReplayBuffer, replay_actor_class

SIZE = 5
PLANES = 17
ACTIONS = SIZE * SIZE + 1
WIDTH = packed_width(PLANES, SIZE)


def make_game(ids, sgf: str | None = None, meta: dict | None = None) -> dict:
    """A game whose positions carry their id in the value (``id / 1024``, exact in float16) and in the planes."""
    ids = np.asarray(ids, dtype=np.int64)
    planes = np.zeros((len(ids), PLANES, SIZE, SIZE), dtype=bool)
    policy = np.zeros((len(ids), ACTIONS), dtype=np.float32)
    for j, i in enumerate(ids):
        planes[j, i % PLANES, (i // PLANES) % SIZE, (i // (PLANES * SIZE)) % SIZE] = True
        policy[j, i % ACTIONS] = 1.0
    game = {"planes": pack_planes(planes), "policy": policy, "value": (ids / 1024).astype(np.float32)}
    game["sgf"] = sgf if sgf is not None else f"(;GM[1]SZ[{SIZE}]C[positions {ids[0] if len(ids) else -1}])"
    game["meta"] = meta if meta is not None else {"first": int(ids[0]) if len(ids) else None, "moves": len(ids)}
    return game


def games_of(*lengths: int, start: int = 0) -> list[dict]:
    out = []
    for n in lengths:
        out.append(make_game(range(start, start + n)))
        start += n
    return out


def window_ids(buf: ReplayBuffer) -> list[int]:
    return [int(round(v * 1024)) for v in buf.window_arrays()[2]]


# --- packing ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("p", "c", "n"), [(7, 17, 5), (3, 1, 2), (1, 3, 3), (4, 17, 19), (0, 17, 9)])
def test_pack_unpack_round_trip(p, c, n):
    rng = np.random.default_rng(p * 100 + c + n)
    planes = rng.random((p, c, n, n)) < 0.3
    packed = pack_planes(planes)
    assert packed.dtype == np.uint8 and packed.shape == (p, (c * n * n + 7) // 8)
    back = unpack_planes(packed, c, n)
    assert back.dtype == np.float32 and back.shape == (p, c, n, n)
    np.testing.assert_array_equal(back, planes.astype(np.float32))
    np.testing.assert_array_equal(pack_planes(planes.astype(np.uint8)), packed)  # 0/1 ints pack the same


def test_pack_unpack_reject_bad_input():
    with pytest.raises(ValueError, match="shape"):
        pack_planes(np.zeros((5, 5), dtype=bool))
    with pytest.raises(ValueError, match="shape"):
        pack_planes(np.zeros((1, 17, 5, 4), dtype=bool))
    with pytest.raises(ValueError, match="0/1"):
        pack_planes(np.full((1, 1, 2, 2), 2, dtype=np.uint8))
    with pytest.raises(ValueError, match="uint8"):
        unpack_planes(np.zeros((2, WIDTH + 1), dtype=np.uint8), PLANES, SIZE)
    with pytest.raises(ValueError, match="uint8"):
        unpack_planes(np.zeros((2, WIDTH), dtype=np.int32), PLANES, SIZE)


def test_pack_keeps_leading_axes_and_the_bit_order():
    one = np.zeros((2, 3, 3), dtype=np.float32)
    one[0, 0, 0] = one[1, 2, 2] = 1.0  # the first and the last of the 18 bits
    packed = pack_planes(one)
    assert packed.tolist() == [0x80, 0x00, 0x40]  # plane, row, col order, most significant bit first
    stacked = pack_planes(np.stack([one, one])[None])  # [1, 2, C, N, N]
    assert stacked.shape == (1, 2, 3) and (stacked == packed).all()
    assert unpack_planes(packed, 2, 3, dtype=np.uint8).dtype == np.uint8


def test_a_chunk_in_the_stored_layout_still_loads(tmp_path):
    """A chunk written as the buffer has always written them (np.packbits of each position's flattened planes,
    by hand here) reloads into the same planes, policy and value."""
    rng = np.random.default_rng(7)
    planes = rng.random((6, PLANES, SIZE, SIZE)) < 0.4
    policy = rng.dirichlet(np.ones(ACTIONS), 6).astype(np.float16)
    value = np.array([1, -1, 1, -1, 0, 1], np.float16)
    np.savez_compressed(
        tmp_path / "chunk-00000000.npz",
        planes=np.packbits(planes.reshape(6, -1), axis=1),
        policy=policy,
        value=value,
        game_lengths=np.array([4, 2], np.int32),
        meta=np.frombuffer(json.dumps([{}, {}]).encode(), np.uint8),
        size=np.int32(SIZE),
        num_planes=np.int32(PLANES),
        games_total_after=np.int64(2),
        positions_total_after=np.int64(6),
        format_version=np.int32(CHUNK_FORMAT_VERSION),
    )
    buf = ReplayBuffer(SIZE, PLANES, window=10, directory=tmp_path)
    assert buf.stats()["games_total"] == 2 and len(buf) == 6
    packed, pol, val = buf.window_arrays()
    np.testing.assert_array_equal(unpack_planes(packed, PLANES, SIZE), planes.astype(np.float32))
    np.testing.assert_array_equal(pol, policy)
    np.testing.assert_array_equal(val, value.astype(np.float32))


# --- the window ------------------------------------------------------------------------------------------------------


def test_window_keeps_newest_positions():
    buf = ReplayBuffer(SIZE, PLANES, window=10, seed=0)
    assert len(buf) == 0
    r = buf.add(games_of(4, 3))
    assert r == {"games_total": 2, "positions_total": 7, "positions": 7, "chunk": None}
    assert window_ids(buf) == list(range(7))
    r = buf.add(games_of(5, start=7))
    assert (r["games_total"], r["positions_total"], r["positions"]) == (3, 12, 10)
    assert len(buf) == 10
    assert window_ids(buf) == list(range(2, 12))  # 0 and 1 evicted, oldest first
    buf.add(games_of(25, start=12))  # one game longer than the window
    assert window_ids(buf) == list(range(27, 37))
    buf.add(games_of(3, 0, 4, start=37))  # a game without positions is still a game
    assert window_ids(buf) == list(range(31, 44))[-10:]
    assert buf.stats() == {"games_total": 7, "positions_total": 44, "positions": 10, "window": 10, "chunks": 0}


def test_window_stores_the_positions_exactly():
    buf = ReplayBuffer(SIZE, PLANES, window=50)
    games = games_of(6, 9)
    buf.add(games)
    planes, policy, value = buf.window_arrays()
    np.testing.assert_array_equal(planes, np.concatenate([g["planes"] for g in games]))
    np.testing.assert_array_equal(policy, np.concatenate([g["policy"] for g in games]))
    assert policy.dtype == np.float16 and planes.dtype == np.uint8


# --- sampling --------------------------------------------------------------------------------------------------------


def test_sample_empty_raises():
    buf = ReplayBuffer(SIZE, PLANES, window=10)
    with pytest.raises(ValueError, match="empty"):
        buf.sample(4)
    buf.add(games_of(2))
    with pytest.raises(ValueError, match="batch"):
        buf.sample(0)


def test_sample_shapes_and_coverage():
    buf = ReplayBuffer(SIZE, PLANES, window=20, seed=1)
    buf.add(games_of(12, 13))  # ids 0..24, window holds 5..24
    planes, policy, value = buf.sample(8)
    assert planes.shape == (8, PLANES, SIZE, SIZE) and planes.dtype == np.float32
    assert policy.shape == (8, ACTIONS) and policy.dtype == np.float32
    assert value.shape == (8,) and value.dtype == np.float32
    seen = Counter()
    for _ in range(10):
        _, _, value = buf.sample(200)
        seen.update(int(round(v * 1024)) for v in value)
    assert set(seen) == set(range(5, 25))
    assert min(seen.values()) > 30  # about 100 each


def test_sample_is_reproducible_with_a_seed():
    a = ReplayBuffer(SIZE, PLANES, window=20, seed=7)
    b = ReplayBuffer(SIZE, PLANES, window=20, seed=7)
    for buf in (a, b):
        buf.add(games_of(15))
    for x, y in zip(a.sample(16), b.sample(16), strict=True):
        np.testing.assert_array_equal(x, y)
    rng1, rng2 = np.random.default_rng(3), np.random.default_rng(3)
    for x, y in zip(a.sample(16, rng=rng1), b.sample(16, rng=rng2), strict=True):
        np.testing.assert_array_equal(x, y)


def one_stone_game(points: list[tuple[int, int] | None]) -> dict:
    """Each position: one bit in plane 3 at the point and a one-hot policy on it; ``None`` means pass (no stone)."""
    planes = np.zeros((len(points), PLANES, SIZE, SIZE), dtype=bool)
    policy = np.zeros((len(points), ACTIONS), dtype=np.float16)
    for j, pt in enumerate(points):
        if pt is None:
            policy[j, -1] = 1
        else:
            planes[j, 3, pt[0], pt[1]] = True
            policy[j, pt[0] * SIZE + pt[1]] = 1
    return {"planes": pack_planes(planes), "policy": policy, "value": np.arange(len(points), dtype=np.float32) / 1024}


def test_sample_applies_the_same_symmetry_to_planes_and_policy():
    points = [(0, 1), (2, 2), (4, 0), (1, 3), None]
    buf = ReplayBuffer(SIZE, PLANES, window=10, seed=2)
    buf.add([one_stone_game(points)])
    where_01 = set()
    for _ in range(5):
        planes, policy, value = buf.sample(256)
        assert (policy.sum(axis=1) == 1).all()
        for j in range(len(value)):
            pt = points[int(round(value[j] * 1024))]
            move = int(np.argmax(policy[j]))
            if pt is None:
                assert move == ACTIONS - 1 and planes[j].sum() == 0
                continue
            assert planes[j].sum() == 1 and planes[j, 3].sum() == 1
            r, c = divmod(move, SIZE)
            assert planes[j, 3, r, c] == 1
            if pt == (0, 1):
                where_01.add((r, c))
    assert where_01 == {apply_rc(0, 1, SIZE, k) for k in range(NUM_SYMMETRIES)}
    assert len(where_01) == NUM_SYMMETRIES


# --- validation ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (lambda g: g.pop("planes"), "missing planes"),
        (lambda g: g.update(planes=g["planes"].astype(np.int16)), "planes must be packed uint8"),
        (lambda g: g.update(planes=g["planes"][:, :-1]), "planes must be packed uint8"),
        (lambda g: g.update(policy=g["policy"][:, :-1]), "policy must be float"),
        (lambda g: g.update(policy=g["policy"][:-1]), "policy must be float"),
        (lambda g: g.update(policy=g["policy"].astype(np.int64)), "policy must be float"),
        (lambda g: g.update(policy=g["policy"] * 2), "sums to"),
        (lambda g: g.update(policy=-g["policy"]), "negative"),
        (lambda g: g.update(value=g["value"][:-1]), "value must have shape"),
        (lambda g: g.update(value=g["value"] * 2000), r"\[-1, 1\]"),
        (lambda g: g.update(value=g["value"].astype(str)), "value must be float"),
        (lambda g: g.update(meta={"x": object()}), "JSON"),
        (lambda g: g.update(meta=[1, 2]), "meta must be a dict"),
        (lambda g: g.update(sgf=b"(;)"), "sgf must be a str"),
    ],
)
def test_bad_input_raises_and_changes_nothing(tmp_path, change, match):
    buf = ReplayBuffer(SIZE, PLANES, window=10, directory=tmp_path / "replay", games_dir=tmp_path / "games")
    good, bad = games_of(3, 4)
    change(bad)
    with pytest.raises(ValueError, match=match) as info:
        buf.add([good, bad])
    assert "game 1" in str(info.value)
    assert len(buf) == 0 and buf.games_total == 0
    assert not list((tmp_path / "replay").iterdir()) and not list((tmp_path / "games").iterdir())


def test_bad_constructor_and_add_arguments():
    with pytest.raises(ValueError, match="board size"):
        ReplayBuffer(1, PLANES, 10)
    with pytest.raises(ValueError, match="planes"):
        ReplayBuffer(SIZE, 0, 10)
    with pytest.raises(ValueError, match="window"):
        ReplayBuffer(SIZE, PLANES, 0)
    buf = ReplayBuffer(SIZE, PLANES, 10)
    with pytest.raises(ValueError, match="list"):
        buf.add(make_game(range(3)))
    assert buf.add([]) == {"games_total": 0, "positions_total": 0, "positions": 0, "chunk": None}


# --- files -----------------------------------------------------------------------------------------------------------


def test_chunk_file_contents(tmp_path):
    buf = ReplayBuffer(SIZE, PLANES, window=100, directory=tmp_path)
    games = [make_game(range(0, 3), meta={"moves": 3, "result": "B+R"}), make_game(range(3, 8), meta={"r": None})]
    r = buf.add(games)
    path = Path(r["chunk"])
    assert path == tmp_path / "chunk-00000000.npz"
    assert Path(buf.add(games_of(2, start=8))["chunk"]).name == "chunk-00000001.npz"
    with np.load(path, allow_pickle=False) as z:
        assert all(z[k].dtype != object for k in z.files)
        np.testing.assert_array_equal(z["planes"], np.concatenate([g["planes"] for g in games]))
        np.testing.assert_array_equal(z["policy"], np.concatenate([g["policy"] for g in games]).astype(np.float16))
        np.testing.assert_array_equal(z["value"] * 1024, np.arange(8))
        np.testing.assert_array_equal(z["game_lengths"], [3, 5])
        assert z["game_lengths"].dtype == np.int32
        assert json.loads(z["meta"].tobytes().decode("utf-8")) == [{"moves": 3, "result": "B+R"}, {"r": None}]
        assert (int(z["size"]), int(z["num_planes"])) == (SIZE, PLANES)
        assert (int(z["games_total_after"]), int(z["positions_total_after"])) == (2, 8)
    assert not list(tmp_path.glob("*.tmp"))


def test_sgf_files(tmp_path):
    games_dir = tmp_path / "games"
    buf = ReplayBuffer(SIZE, PLANES, window=100, directory=tmp_path / "replay", games_dir=games_dir)
    buf.add([make_game(range(3), sgf="(;GM[1]C[first])"), make_game(range(3, 5), sgf="(;GM[1]C[été])")])
    buf.add([make_game(range(5, 6), sgf="(;GM[1]C[third])")])
    assert sorted(p.name for p in games_dir.iterdir()) == ["00000000.sgf", "00000001.sgf", "00000002.sgf"]
    assert (games_dir / "00000001.sgf").read_text(encoding="utf-8") == "(;GM[1]C[été])"
    again = ReplayBuffer(SIZE, PLANES, window=100, directory=tmp_path / "replay", games_dir=games_dir)
    again.add([make_game(range(6, 7), sgf="(;GM[1]C[fourth])")])
    assert (games_dir / "00000003.sgf").read_text() == "(;GM[1]C[fourth])"
    assert (games_dir / "00000002.sgf").read_text() == "(;GM[1]C[third])"


def test_restart_restores_positions_and_totals(tmp_path):
    buf = ReplayBuffer(SIZE, PLANES, window=100, directory=tmp_path)
    buf.add(games_of(5, 6))
    buf.add(games_of(7, start=11))
    buf.add(games_of(2, 3, 4, start=18))
    again = ReplayBuffer(SIZE, PLANES, window=100, directory=tmp_path)
    assert (
        again.stats()
        == buf.stats()
        == {
            "games_total": 6,
            "positions_total": 27,
            "positions": 27,
            "window": 100,
            "chunks": 3,
        }
    )
    for x, y in zip(buf.window_arrays(), again.window_arrays(), strict=True):
        np.testing.assert_array_equal(x, y)
    r = again.add(games_of(1, start=27))
    assert Path(r["chunk"]).name == "chunk-00000003.npz"
    assert (r["games_total"], r["positions_total"]) == (7, 28)


def test_restart_with_a_smaller_window_reads_only_the_newest_chunks(tmp_path, caplog):
    buf = ReplayBuffer(SIZE, PLANES, window=100, directory=tmp_path)
    buf.add(games_of(5, 6))  # chunk 0: ids 0..10
    buf.add(games_of(7, start=11))  # chunk 1: ids 11..17
    buf.add(games_of(4, start=18))  # chunk 2: ids 18..21
    (tmp_path / "chunk-00000000.npz").write_bytes(b"garbage")  # not needed for a window of 8: never read
    with caplog.at_level(logging.WARNING, logger="igo.selfplay.replay"):
        small = ReplayBuffer(SIZE, PLANES, window=8, directory=tmp_path)
    assert not caplog.records
    assert window_ids(small) == list(range(14, 22))
    assert (small.games_total, small.positions_total, len(small)) == (4, 22, 8)


def test_restart_skips_a_corrupt_chunk_and_a_stray_tmp(tmp_path, caplog):
    buf = ReplayBuffer(SIZE, PLANES, window=100, directory=tmp_path)
    buf.add(games_of(5, 6))
    buf.add(games_of(7, start=11))
    last = Path(buf.add(games_of(4, start=18))["chunk"])
    last.write_bytes(last.read_bytes()[: last.stat().st_size // 2])  # truncated, as by a failing disk
    stray = tmp_path / "chunk-00000003.npz.tmp"
    stray.write_bytes(b"half a chunk")
    other = tmp_path / "notes.tmp"  # not ours: left alone
    other.write_text("keep")
    with caplog.at_level(logging.WARNING, logger="igo.selfplay.replay"):
        again = ReplayBuffer(SIZE, PLANES, window=100, directory=tmp_path)
    messages = " ".join(r.getMessage() for r in caplog.records)
    assert "chunk-00000003.npz.tmp" in messages and "chunk-00000002.npz" in messages
    assert not stray.exists() and other.exists()
    assert window_ids(again) == list(range(18))
    assert (again.games_total, again.positions_total) == (3, 18)
    r = again.add(games_of(2, start=18))
    assert Path(r["chunk"]).name == "chunk-00000003.npz"  # never overwrites an existing chunk, even a corrupt one
    assert (r["games_total"], r["positions_total"]) == (4, 20)
    third = ReplayBuffer(SIZE, PLANES, window=100, directory=tmp_path)
    assert window_ids(third) == list(range(20)) and third.games_total == 4


def test_restart_rejects_chunks_for_another_board(tmp_path):
    ReplayBuffer(SIZE, PLANES, window=10, directory=tmp_path).add(games_of(3))
    with pytest.raises(ValueError, match="chunk-00000000.npz"):
        ReplayBuffer(7, PLANES, window=10, directory=tmp_path)
    with pytest.raises(ValueError, match="chunk-00000000.npz"):
        ReplayBuffer(SIZE, 18, window=10, directory=tmp_path)


# --- Ray and imports -------------------------------------------------------------------------------------------------


def test_module_imports_neither_torch_nor_ray():
    code = "import sys, selfplay.replay; assert 'torch' not in sys.modules and 'ray' not in sys.modules, sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[1])


def test_replay_actor_class_is_cached():
    pytest.importorskip("ray")
    cls = replay_actor_class()
    assert cls is replay_actor_class()
    assert hasattr(cls, "remote")
