"""Tests of nets.checkpoint: round trips of every network kind, atomic writes, and every way a file can be wrong —
each must raise CheckpointError naming the path and the problem. Nothing is ever unpickled."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from igo.engine import fileio
from igo.nets.checkpoint import (
    CheckpointError,
    CheckpointMeta,
    load_checkpoint,
    load_state,
    read_metadata,
    save_checkpoint,
)
from igo.nets.config import config_to_dict, get_config
from igo.nets.models import build_model, parameter_count

from .checkpoint_helpers import header, rewrite

torch.set_num_threads(1)


def net(name: str, size: int = 9, seed: int = 0):
    torch.manual_seed(seed)
    return build_model(get_config(name), size)


@pytest.fixture
def saved(tmp_path) -> Path:
    return save_checkpoint(tmp_path / "lee.safetensors", net("lee-policy-tiny"), step=7)


# --- round trips -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["zero-tiny", "zero-b6c64-preact", "zero-b6c64-bottleneck", "lee-policy-tiny",
                                  "lee-value-tiny"])
def test_round_trip(tmp_path, name):
    model = net(name, 9).eval()
    # move the BN statistics away from their defaults so buffers are checked too
    if name.startswith("zero"):
        model.train()
        with torch.no_grad():
            model(torch.rand(4, model.config.input_planes, 9, 9))
        model.eval()
    path = tmp_path / "sub" / "dir" / f"{name}.safetensors"
    out = save_checkpoint(path, model, step=1234, parent="runs/a/000100.safetensors", notes="first light",
                          extra={"elo": 1234.5, "games": [1, 2]})
    assert out == path and path.is_file()
    assert not path.with_name(path.name + ".tmp").exists()

    loaded, meta = load_checkpoint(path)
    assert not loaded.training
    assert type(loaded) is type(model) and loaded.config == model.config and loaded.board_size == 9
    want = model.state_dict()
    got = loaded.state_dict()
    assert want.keys() == got.keys()
    for k in want:
        assert torch.equal(want[k], got[k]), k
    x = torch.rand(2, model.config.input_planes, 9, 9)
    with torch.no_grad():
        a, b = model(x), loaded(x)
    for u, v in zip(a if isinstance(a, tuple) else (a,), b if isinstance(b, tuple) else (b,), strict=True):
        assert torch.equal(u, v)

    assert meta.config == model.config and meta.kind == model.config.kind and meta.config_name == name
    assert meta.board_size == 9 and meta.feature_set == model.config.feature_set
    assert meta.step == 1234 and meta.parent == "runs/a/000100.safetensors" and meta.notes == "first light"
    assert meta.extra == {"elo": 1234.5, "games": [1, 2]}
    assert meta.parameters == parameter_count(model)
    assert meta.created.endswith("+00:00") and meta.igo_version and meta.format_version == 1
    assert read_metadata(path) == meta

    d = header(path)
    assert d["format"] == "igo-checkpoint" and d["format_version"] == 1
    assert d["config"] == config_to_dict(model.config) and d["kind"] == model.config.kind
    assert set(d) == {"format", "format_version", "config", "config_name", "kind", "board_size", "feature_set", "step",
                      "parent", "notes", "created", "igo_version", "parameters", "extra"}
    assert meta.to_dict() == d
    assert CheckpointMeta.from_dict(d) == meta


def test_defaults_and_load_state(tmp_path):
    path = save_checkpoint(tmp_path / "v.safetensors", net("lee-value-tiny", 7))
    meta = read_metadata(path)
    assert meta.step == 0 and meta.parent is None and meta.notes == "" and meta.extra == {}
    tensors, meta2 = load_state(path)
    assert meta2 == meta
    assert set(tensors) == set(net("lee-value-tiny", 7).state_dict())
    model, _ = load_checkpoint(str(path), board_size=7, expect_kind="lee-value")
    assert model.board_size == 7


def test_dtype_and_memory_format_are_kept_on_disk(tmp_path):
    model = net("zero-tiny", 5).to(torch.bfloat16).to(memory_format=torch.channels_last)
    path = save_checkpoint(tmp_path / "bf16.safetensors", model)
    tensors, _ = load_state(path)
    assert tensors["stem.0.weight"].dtype == torch.bfloat16
    assert tensors["stem.1.num_batches_tracked"].dtype == torch.int64
    loaded, _ = load_checkpoint(path)
    for k, v in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[k].to(v.dtype), v), k


def test_overwrite_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "a.safetensors"
    save_checkpoint(path, net("zero-tiny"), step=1)
    save_checkpoint(path, net("zero-tiny", seed=1), step=2)
    assert read_metadata(path).step == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.safetensors"]

    def crash(src, dst):
        raise OSError("disk on fire")

    monkeypatch.setattr(fileio.os, "replace", crash)
    with pytest.raises(OSError, match="disk on fire"):
        save_checkpoint(path, net("zero-tiny"), step=3)
    monkeypatch.undo()
    assert read_metadata(path).step == 2  # the old file is intact
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.safetensors"]  # and the .tmp is gone


def test_save_refuses_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="config"):
        save_checkpoint(tmp_path / "x.safetensors", torch.nn.Linear(2, 2))
    with pytest.raises(ValueError, match="step"):
        save_checkpoint(tmp_path / "x.safetensors", net("zero-tiny"), step=-1)
    with pytest.raises(ValueError, match="JSON"):
        save_checkpoint(tmp_path / "x.safetensors", net("zero-tiny"), extra={"bad": object()})
    deep: list = [1]
    for _ in range(40):
        deep = [deep]
    with pytest.raises(ValueError, match="nested"):  # what the reader would refuse is not written
        save_checkpoint(tmp_path / "x.safetensors", net("zero-tiny"), extra={"deep": deep})
    with pytest.raises(ValueError, match="characters"):
        save_checkpoint(tmp_path / "x.safetensors", net("zero-tiny"), notes="x" * (5 << 20))
    with pytest.raises(ValueError, match="step"):
        save_checkpoint(tmp_path / "x.safetensors", net("zero-tiny"), step=2**63)
    assert list(tmp_path.iterdir()) == []


def test_no_pickle(tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("unpickling is not allowed")

    monkeypatch.setattr(torch, "load", refuse)
    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(pickle, "Unpickler", refuse)
    monkeypatch.setattr(torch.serialization, "load", refuse)
    monkeypatch.setattr(pickle, "dump", refuse)
    monkeypatch.setattr(pickle, "dumps", refuse)
    monkeypatch.setattr(torch, "save", refuse)
    path = save_checkpoint(tmp_path / "p.safetensors", net("lee-policy-tiny"))
    model, meta = load_checkpoint(path)
    assert meta.kind == "lee-policy"
    assert path.read_bytes()[:1] != b"\x80"  # not a pickle stream (protocol 2+ starts with PROTO)


# --- bad files -------------------------------------------------------------------------------------------------------


def check_fails(path: Path, *fragments: str, **kwargs) -> CheckpointError:
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path, **kwargs)
    message = str(info.value)
    assert str(path) in message, message
    for fragment in fragments:
        assert fragment in message, message
    assert isinstance(info.value, ValueError)
    return info.value


def test_missing_file(tmp_path):
    check_fails(tmp_path / "nope.safetensors", "does not exist")
    with pytest.raises(CheckpointError, match="does not exist"):
        read_metadata(tmp_path / "nope.safetensors")


def test_directory(tmp_path):
    check_fails(tmp_path, "is a directory")
    with pytest.raises(CheckpointError, match="is a directory"):
        read_metadata(tmp_path)


@pytest.mark.parametrize("case", ["empty", "half", "last-byte", "random", "pickle"])
def test_truncated_or_foreign_bytes(tmp_path, saved, case):
    data = saved.read_bytes()
    content = {
        "empty": b"",
        "half": data[: len(data) // 2],
        "last-byte": data[:-1],
        "random": os.urandom(1000),
        "pickle": pickle.dumps({"weights": [1, 2, 3]}),
    }[case]
    bad = tmp_path / f"{case}.safetensors"
    bad.write_bytes(content)
    check_fails(bad, "is truncated or not a safetensors file")
    with pytest.raises(CheckpointError, match="truncated or not a safetensors file"):
        read_metadata(bad)


def test_safetensors_without_igo_metadata(tmp_path, saved):
    bad = rewrite(saved, tmp_path / "plain.safetensors", raw_metadata={"format": "pt"})
    check_fails(bad, "not an igo checkpoint")
    bad2 = tmp_path / "nometa.safetensors"
    save_file({"w": torch.zeros(3)}, str(bad2))
    check_fails(bad2, "not an igo checkpoint")


@pytest.mark.parametrize(
    "edit, fragments",
    [
        (lambda d: d["config"].update(kind="transformer"), ("unknown network config kind", "transformer")),
        (lambda d: d["config"].update(filters="many"), ("bad network config", "filters")),
        (lambda d: d["config"].update(depth=3), ("bad network config", "depth")),
        (lambda d: d["config"].pop("name"), ("bad network config", "name")),
        (lambda d: d.pop("config"), ("no 'config'",)),
        (lambda d: d.update(kind="zero"), ("disagrees",)),
        (lambda d: d.update(format="something-else"), ("not an igo checkpoint",)),
        (lambda d: d.update(format_version=99), ("format_version 99", "upgrade")),
        (lambda d: d.update(board_size=42), ("board_size",)),
        (lambda d: d.update(step="seven"), ("step",)),
        (lambda d: d.update(parent=3), ("parent",)),
    ],
)
def test_bad_metadata(tmp_path, saved, edit, fragments):
    bad = rewrite(saved, tmp_path / "bad.safetensors", meta=edit)
    check_fails(bad, *fragments)
    with pytest.raises(CheckpointError):
        read_metadata(bad)


def test_metadata_not_json(tmp_path, saved):
    bad = rewrite(saved, tmp_path / "bad.safetensors", raw_metadata={"igo": "{not json"})
    check_fails(bad, "not valid JSON")


def test_wrong_shape_from_another_config(tmp_path, saved):
    # the weights of lee-policy-tiny (8 filters) under a header that claims 16 filters
    bad = rewrite(saved, tmp_path / "bad.safetensors", meta=lambda d: d["config"].update(filters=16))
    err = check_fails(bad, "trunk.0.weight", "[8, 48, 5, 5]", "[16, 48, 5, 5]")
    assert "shape" in str(err)
    # ... or a header that claims another board size: the per-point bias does not fit
    bad = rewrite(saved, tmp_path / "bad7.safetensors", meta=lambda d: d.update(board_size=7))
    check_fails(bad, "point_bias", "[81]", "[49]")


def test_wrong_shape_tensor(tmp_path, saved):
    bad = rewrite(saved, tmp_path / "bad.safetensors", tensors=lambda t: t.update(point_bias=torch.zeros(80)))
    check_fails(bad, "point_bias", "[80]", "[81]")


def test_missing_tensor(tmp_path, saved):
    bad = rewrite(saved, tmp_path / "bad.safetensors", tensors=lambda t: t.pop("head.weight"))
    check_fails(bad, "missing tensor", "head.weight")


def test_unexpected_tensor(tmp_path, saved):
    bad = rewrite(saved, tmp_path / "bad.safetensors", tensors=lambda t: t.update(extra_layer=torch.zeros(2)))
    check_fails(bad, "unexpected tensor", "extra_layer")


def test_wrong_board_size_asked(saved):
    check_fails(saved, "is for 9x9, asked for 19x19", board_size=19)


def test_wrong_kind_expected(saved):
    check_fails(saved, "lee-policy", "expected lee-value", expect_kind="lee-value")
    model, meta = load_checkpoint(saved, board_size=9, expect_kind="lee-policy")
    assert meta.step == 7


# --- provenance (igo model ship) ---------------------------------------------------------------------------------


def provenance(**changes) -> dict:
    d = {
        "commands": ["igo train zero --run-dir runs/z9"],
        "games": 10,
        "positions": 500,
        "learner_steps": 20,
        "cpu_hours": 1.5,
        "parent": None,
        "elo_vs_gnugo10": {"elo": 120.0, "low": 60.0, "high": 180.0, "games": 200},
        "settings": {"simulations": 200},
    }
    d.update(changes)
    return d


def test_provenance_round_trip_keeps_weights_and_old_files_read(tmp_path):
    from igo.nets.checkpoint import ship_checkpoint

    src = save_checkpoint(tmp_path / "z.safetensors", net("zero-tiny"), step=3, komi=6.5, parent="p.safetensors")
    assert read_metadata(src).provenance is None and "provenance" not in header(src)  # as before: no key at all
    meta = ship_checkpoint(src, tmp_path / "out" / "shipped.safetensors", provenance())
    assert meta.provenance == provenance()
    back = read_metadata(tmp_path / "out" / "shipped.safetensors")
    assert back.provenance == provenance() and back.step == 3 and back.komi == 6.5 and back.parent == "p.safetensors"
    a, _ = load_state(src)
    b, _ = load_state(tmp_path / "out" / "shipped.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize(
    "changes, fragment",
    [
        ({"games": None}, "'games' must be an integer"),
        ({"commands": "igo train zero"}, "'commands' must be a non-empty list"),
        ({"commands": []}, "'commands' must be a non-empty list"),
        ({"cpu_hours": -1}, "'cpu_hours'"),
        ({"parent": 3}, "'parent'"),
        ({"elo_vs_gnugo10": {"elo": 1.0, "low": 2.0, "high": 3.0, "games": 10}}, "low <= elo <= high"),
        ({"elo_vs_gnugo10": {"elo": 1.0, "low": 0.0, "high": 3.0}}, "has no 'games'"),
        ({"elo_vs_gnugo10": {"elo": 1.0, "low": 0.0, "high": 3.0, "games": 0}}, "games' must be an integer >= 1"),
    ],
)
def test_bad_provenance_is_refused_on_write_and_on_read(tmp_path, changes, fragment):
    from igo.nets.checkpoint import check_provenance, ship_checkpoint

    src = save_checkpoint(tmp_path / "z.safetensors", net("zero-tiny"))
    with pytest.raises(ValueError, match=fragment):
        check_provenance(provenance(**changes))
    with pytest.raises(ValueError, match=fragment):
        ship_checkpoint(src, tmp_path / "out.safetensors", provenance(**changes))
    assert not (tmp_path / "out.safetensors").exists()
    bad = rewrite(src, tmp_path / "bad.safetensors", meta=lambda d: d.update(provenance=provenance(**changes)))
    check_fails(bad, "provenance", fragment)
    missing = provenance()
    del missing["learner_steps"]
    with pytest.raises(ValueError, match="missing key 'learner_steps'"):
        check_provenance(missing)
