"""``igo model average`` (igo.nets.average): the mean of several checkpoints' weights."""

from __future__ import annotations

import json

import pytest
import torch

from igo.cli import main
from igo.nets.average import average_checkpoints, write_average
from igo.nets.checkpoint import CheckpointError, load_checkpoint, load_state, read_metadata, save_checkpoint
from igo.nets.config import get_config
from igo.nets.models import build_model


def _net(path, seed: int, step: int, *, config="zero-tiny", size=5, extra=None):
    torch.manual_seed(seed)
    model = build_model(get_config(config), size)
    with torch.no_grad():  # running statistics that differ between the files, as after training
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-1, 1)
                m.running_var.uniform_(0.5, 2)
                m.num_batches_tracked.fill_(step)
    save_checkpoint(path, model, step=step, komi=7.5, extra={"games": step * 10} | (extra or {}))
    return path


def test_the_average_is_the_mean_of_every_float_tensor_and_keeps_the_newest_metadata(tmp_path):
    paths = [_net(tmp_path / f"s{s}.safetensors", seed=s, step=s) for s in (300, 100, 200)]
    out = tmp_path / "avg.safetensors"
    meta = write_average(paths, out)
    states = [load_state(p)[0] for p in paths]
    got, back = load_state(out)
    assert set(got) == set(states[0])
    for k, t in got.items():
        if t.is_floating_point():
            want = sum(s[k].double() for s in states) / 3
            assert torch.allclose(t.double(), want, atol=1e-6), k
            assert t.dtype == states[0][k].dtype
        else:  # num_batches_tracked: the newest checkpoint's (step 300)
            assert torch.equal(t, states[0][k]), k
    assert back.step == meta.step == 300 and back.komi == 7.5
    assert back.extra["games"] == 3000
    assert back.extra["averaged"] == [{"path": str(p), "step": s} for p, s in zip(paths, (300, 100, 200), strict=True)]
    assert back.parent == str(paths[0]) and "mean of 3" in back.notes
    model, _ = load_checkpoint(out)  # an ordinary checkpoint that plays
    policy, value = model(torch.zeros(2, 17, 5, 5))
    assert policy.shape[0] == 2 and value.shape[0] == 2


def test_averaging_a_network_with_itself_gives_it_back(tmp_path):
    a = _net(tmp_path / "a.safetensors", seed=1, step=10)
    b = tmp_path / "b.safetensors"
    b.write_bytes(a.read_bytes())
    tensors, _ = average_checkpoints([a, b])
    for k, t in load_state(a)[0].items():
        assert torch.equal(tensors[k], t), k


def test_refusals(tmp_path):
    a = _net(tmp_path / "a.safetensors", seed=1, step=10)
    b = _net(tmp_path / "b.safetensors", seed=2, step=20)
    with pytest.raises(ValueError, match="at least two"):
        average_checkpoints([a])
    with pytest.raises(ValueError, match="given twice"):
        average_checkpoints([a, tmp_path / "." / "a.safetensors"])
    with pytest.raises(ValueError, match="optimizer state"):
        average_checkpoints([a, tmp_path / "step-1.optim.safetensors"])
    other = _net(tmp_path / "c.safetensors", seed=3, step=30, size=7)
    with pytest.raises(ValueError, match="same network"):
        average_checkpoints([a, other])
    wider = _net(tmp_path / "d.safetensors", seed=3, step=30, config="zero-b2c32")
    with pytest.raises(ValueError, match="same network"):
        average_checkpoints([a, wider])
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError):
        average_checkpoints([a, junk])
    from igo.nets.quantize_file import quantize_checkpoint

    half = tmp_path / "half.safetensors"
    quantize_checkpoint(b, half, "bf16")
    with pytest.raises(ValueError, match=r"quantized \(bf16\)"):
        average_checkpoints([a, half])


def test_cli(tmp_path, capsys):
    a = _net(tmp_path / "a.safetensors", seed=1, step=10)
    b = _net(tmp_path / "b.safetensors", seed=2, step=20)
    out = tmp_path / "avg.safetensors"
    assert main(["model", "average", str(a), str(b), "-o", str(out)]) == 0
    assert "mean of 2 checkpoints" in capsys.readouterr().out
    assert read_metadata(out).extra["averaged"][1] == {"path": str(b), "step": 20}
    assert main(["model", "average", str(a), str(b), "-o", str(out)]) != 0  # exists: refused without --force
    assert "--force" in capsys.readouterr().err
    assert main(["model", "average", str(a), str(b), "-o", str(out), "--force", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["step"] == 20
    assert main(["model", "average", str(a), str(b), "-o", str(a), "--force"]) != 0  # would overwrite an input
    assert "elsewhere" in capsys.readouterr().err
