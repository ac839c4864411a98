"""Tests of training/compare.py and ``igo model compare``: a network compared with itself agrees everywhere, another
network's figures are exactly the held-out metrics computed by hand, the held-out positions are igo train distill's,
SGF and replay sources, bf16 autocast, bad inputs refused before anything is read, and the command line."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from igo.cli import main
from igo.nets.checkpoint import load_checkpoint
from igo.training.compare import compare_networks, held_positions
from igo.training.distill import held_metrics
from igo.training.distill_data import forward_all, read_replay

from .test_distill import SIZE, corpus, nets, replay_dir, zero_net  # noqa: F401  (fixtures)


@pytest.fixture(autouse=True)
def one_thread():
    torch.set_num_threads(1)


@pytest.fixture(scope="module")
def replay(tmp_path_factory):
    return replay_dir(tmp_path_factory.mktemp("compare-replay") / "replay", games=80)


def test_a_network_agrees_with_itself_and_another_is_measured_exactly(nets, replay):  # noqa: F811
    t, o = nets["teacher"], nets["other"]
    res = compare_networks([t, t, o], replay_dir=replay, holdout=0.3, max_positions=50)
    data, ref, (same, other) = res["data"], res["reference"], res["networks"]
    assert data["source"] == "replay" and 0 < data["positions"] <= 50 and data["value_positions"] == data["positions"]
    assert same["agree"] == 1.0 and same["kl"] == pytest.approx(0, abs=1e-6) and same["value_mse_teacher"] == 0
    assert same["top1"] == ref["top1"] and same["value_mse"] == ref["value_mse"] and "agree" not in ref
    assert other["agree"] < 1 and other["kl"] > 0.01  # two different confident nets

    # the same figures by hand, on the positions igo train distill holds out (the held-out games, oldest first)
    _, held_r, _ = read_replay(replay, SIZE, 17, 0.3, 100_000)
    held, _ = held_positions(load_checkpoint(t)[1], replay_dir=replay, holdout=0.3, max_positions=50)
    assert np.array_equal(held.planes, held_r.planes[: len(held)])
    outs = [forward_all(load_checkpoint(p)[0], held.planes, 17, SIZE, "cpu", False) for p in (t, o)]
    want = held_metrics(*outs[1], held, teacher=outs[0])
    for key in ("top1", "top5", "value_mse", "agree", "kl", "value_mse_teacher"):
        assert other[key] == pytest.approx(want[key], rel=1e-6), key
    assert other["config"] == "zero-tiny" and other["path"] == str(o) and other["quantization"] is None


def test_sgf_positions_bf16_and_the_json_of_the_command(nets, corpus, capsys):  # noqa: F811
    t, s = nets["teacher"], nets["student"]
    res = compare_networks([t, s], sgf_dir=corpus, holdout=1, max_positions=120, dtype="bf16")
    d = res["data"]
    assert d["source"] == "sgf" and d["held_out_files"] == d["files"] == 44 and d["positions"] == 120
    assert d["dtype"] == "bf16" and res["networks"][0]["parameters"] > res["reference"]["parameters"] > 0
    # bf16 autocast moves a network only a little from its float32 self
    bf = compare_networks([t, t], sgf_dir=corpus, holdout=1, max_positions=120, dtype="bf16")
    fp = compare_networks([t, t], sgf_dir=corpus, holdout=1, max_positions=120)
    assert fp["networks"][0]["agree"] == 1.0 and bf["networks"][0]["agree"] == 1.0  # both sides in the same dtype
    assert bf["reference"]["value_mse"] != fp["reference"]["value_mse"]  # bf16 really ran
    assert bf["reference"]["value_mse"] == pytest.approx(fp["reference"]["value_mse"], rel=0.05)
    mixed = compare_networks([t, t], sgf_dir=corpus, holdout=1, max_positions=120, dtype="bf16", reference_dtype="fp32")
    ref, net = mixed["reference"], mixed["networks"][0]
    assert (ref["dtype"], net["dtype"]) == ("fp32", "bf16") and ref["value_mse"] == fp["reference"]["value_mse"]
    assert net["value_mse"] == bf["reference"]["value_mse"] and 0 < net["value_mse_teacher"] < 1e-3
    assert main(["model", "compare", str(t), str(s), "--sgf", str(corpus), "--holdout", "1", "--positions", "120",
                 "--json", "--nn-threads", "1"]) == 0  # fmt: skip
    got = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert got["networks"][0]["agree"] == pytest.approx(res["networks"][0]["agree"])
    assert got["data"]["positions"] == 120 and got["data"]["dtype"] == "fp32"


def test_the_text_table(nets, replay, capsys):  # noqa: F811
    assert main(["model", "compare", str(nets["teacher"]), str(nets["other"]), "--replay", str(replay),
                 "--holdout", "0.3", "--positions", "40"]) == 0  # fmt: skip
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("40 positions (40 with a result) from held-out games of the replay")
    assert out[1].split()[:4] == ["network", "params", "dtype", "top-1"]
    assert out[2].startswith("ref  ") and str(nets["teacher"]) in out[2] and out[2].rstrip().endswith("—")
    assert out[3].startswith("1    ") and str(nets["other"]) in out[3] and "%" in out[3]


def test_bad_inputs_are_refused_before_reading_positions(nets, corpus, replay, tmp_path, capsys):  # noqa: F811
    t = nets["teacher"]
    cases = [
        ([t], dict(replay_dir=replay), "at least one network"),
        ([t, nets["seven"]], dict(replay_dir=replay), "7x7"),
        ([t, nets["lee"]], dict(replay_dir=replay), "lee-policy"),
        ([t, nets["h4"]], dict(replay_dir=replay), "the same planes"),
        ([t, t], dict(), "one of them"),
        ([t, t], dict(replay_dir=replay, sgf_dir=corpus), "one of them"),
        ([t, t], dict(replay_dir=replay, holdout=0), "holdout"),
        ([t, t], dict(replay_dir=replay, max_positions=0), ">= 1"),
        ([t, t], dict(replay_dir=replay, dtype="fp16"), "dtype"),
        ([t, t], dict(replay_dir=tmp_path / "none"), "does not exist"),
    ]
    for paths, kw, msg in cases:
        with pytest.raises((ValueError, FileNotFoundError), match=msg):
            compare_networks(paths, **kw)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match="no held-out positions"):
        compare_networks([t, t], sgf_dir=empty, holdout=1)
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x80\x04 a pickle, not a checkpoint")
    assert main(["model", "compare", str(t), str(bad), "--replay", str(replay)]) != 0
    assert "bad.safetensors" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # the positions' source is required
        main(["model", "compare", str(t), str(t)])


def test_an_int8_network_runs_its_kernels(nets, replay, tmp_path, capsys):  # noqa: F811
    path = tmp_path / "int8.safetensors"
    assert main(["model", "quantize", str(nets["teacher"]), "-o", str(path), "--calibration", str(replay),
                 "--positions", "64"]) == 0  # fmt: skip
    capsys.readouterr()
    res = compare_networks([nets["teacher"], path], replay_dir=replay, holdout=0.3, max_positions=64)
    r = res["networks"][0]
    assert r["quantization"] == "int8" and r["bits"] == 8 and r["dtype"] == "int8"
    assert r["agree"] >= 0.8 and r["value_mse_teacher"] < 0.01
