"""Tests of training.learner: config validation and JSON round trip, the sample-counted LR schedule, the loss against a
hand computation, overfitting a fixed batch, non-finite losses, save/resume (weights, counters and optimizer state,
never unpickling) and the weights() / load_numpy_weights round trip. Tiny nets on 5x5, CPU only."""

from __future__ import annotations

import copy
import json
import logging
import pickle
import shutil

import numpy as np
import pytest
import torch

from igo.nets.checkpoint import read_metadata
from igo.nets.config import get_config
from igo.nets.models import build_model
from igo.nets.weights import load_numpy_weights
from igo.training.common import optimizer_path
from igo.training.learner import LearnerConfig, ZeroLearner

torch.set_num_threads(1)

N = 5
C = get_config("zero-tiny").input_planes


def net(seed: int = 0):
    torch.manual_seed(seed)
    return build_model(get_config("zero-tiny"), N)


def batch(b: int = 16, seed: int = 0):
    """Random 0/1 planes, peaked random target distributions (Dirichlet 0.3) and random ±1 outcomes."""
    rng = np.random.default_rng(seed)
    planes = rng.integers(0, 2, (b, C, N, N)).astype(np.float32)
    policy = rng.dirichlet([0.3] * (N * N + 1), b).astype(np.float32)
    value = rng.choice([-1.0, 1.0], b).astype(np.float32)
    return planes, policy, value


def learner(optimizer: str = "sgd", seed: int = 0, **kw) -> ZeroLearner:
    kw.setdefault("lr", 0.02 if optimizer == "sgd" else 0.003)
    return ZeroLearner(net(seed), LearnerConfig(optimizer=optimizer, device="cpu", **kw))


def state(model) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def assert_same_state(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=0, msg=k)


# --- config ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kw, match",
    [
        ({"optimizer": "adam"}, "optimizer"),
        ({"lr": 0.0}, "lr"),
        ({"lr": -0.1}, "lr"),
        ({"lr": float("nan")}, "lr"),
        ({"momentum": -0.1}, "momentum"),
        ({"momentum": 1.0}, "momentum"),
        ({"weight_decay": -1e-4}, "weight_decay"),
        ({"value_weight": -1.0}, "value_weight"),
        ({"batch_size": 0}, "batch_size"),
        ({"batch_size": 2.5}, "batch_size"),
        ({"grad_clip": 0.0}, "grad_clip"),
        ({"amp": "fp8"}, "amp"),
        ({"device": "gpu7"}, "device"),
        ({"lr_schedule": [(100, 0.02)]}, "start at 0"),
        ({"lr_schedule": [(0, 0.02), (200, 0.01), (100, 0.001)]}, "sorted"),
        ({"lr_schedule": [(0, 0.02), (0, 0.01)]}, "sorted"),
        ({"lr_schedule": [(0, 0.02), (-5, 0.01)]}, "samples"),
        ({"lr_schedule": [(0, 0.0)]}, "lr"),
        ({"lr_schedule": [(0, 0.02, 1)]}, "pair"),
        ({"lr_schedule": 0.02}, "list"),
    ],
)
def test_config_validation(kw, match):
    with pytest.raises(ValueError, match=match):
        LearnerConfig(**kw)


def test_config_round_trip():
    cfg = LearnerConfig(
        optimizer="adamw", lr=0.001, lr_schedule=[(0, 0.01), (1000, 0.001)], grad_clip=5.0, amp="none", device="cpu"
    )
    d = json.loads(json.dumps(cfg.to_dict()))
    back = LearnerConfig.from_dict(d)
    assert back == cfg
    assert back.lr_schedule == [(0, 0.01), (1000, 0.001)]
    assert LearnerConfig.from_dict(LearnerConfig().to_dict()) == LearnerConfig()
    with pytest.raises(ValueError, match="unknown"):
        LearnerConfig.from_dict({**d, "nesterov": True})


def test_lr_at_schedule():
    cfg = LearnerConfig(lr=0.5, lr_schedule=[(0, 0.02), (100, 0.002), (250, 0.0002)])
    samples = (0, 99, 100, 101, 249, 250, 10**9)
    assert [cfg.lr_at(s) for s in samples] == [0.02, 0.02, 0.002, 0.002, 0.002, 0.0002, 0.0002]
    assert LearnerConfig(lr=0.3).lr_at(10**9) == 0.3
    with pytest.raises(ValueError):
        cfg.lr_at(-1)


def test_train_step_uses_the_lr_at_the_samples_trained_before_it():
    lrn = learner(lr_schedule=[(0, 0.1), (16, 0.01)])
    planes, policy, value = batch(8)
    lrs = [lrn.train_step(planes, policy, value)["lr"] for _ in range(3)]
    assert lrs == [0.1, 0.1, 0.01]
    assert lrn.optimizer.param_groups[0]["lr"] == 0.01
    assert (lrn.step, lrn.samples) == (3, 24)


# --- the loss --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("optimizer", ["sgd", "adamw"])
def test_loss_decreases_on_a_fixed_batch(optimizer):
    lrn = learner(optimizer)
    planes, policy, value = batch(16)
    stats = [lrn.train_step(planes, policy, value) for _ in range(60)]
    assert stats[-1]["loss"] < 0.7 * stats[0]["loss"]
    assert stats[-1]["value_mse"] < 0.1
    # the policy loss can only approach the targets' entropy
    assert stats[-1]["policy_loss"] >= stats[-1]["policy_entropy_target"] - 1e-4
    assert (lrn.step, lrn.samples) == (60, 960)


def manual_losses(model, planes, policy, value, value_weight, weight_decay):
    planes, policy, value = (torch.from_numpy(x) for x in (planes, policy, value))
    logits, v = model(planes)
    log_p = torch.log_softmax(logits, dim=1)
    ce = torch.stack([-(policy[i] * log_p[i]).sum() for i in range(len(value))]).mean()
    mse = ((v - value) ** 2).mean()
    ent = torch.stack([-sum(p * torch.log(p) for p in row if p > 0) for row in policy]).mean()
    l2 = weight_decay * sum((p.detach() ** 2).sum() for p in model.parameters())
    return {
        "loss": (value_weight * mse + ce).item(),
        "policy_loss": ce.item(),
        "value_loss": (value_weight * mse).item(),
        "value_mse": mse.item(),
        "policy_entropy_target": ent.item(),
        "l2": l2.item(),
    }


def test_loss_matches_a_hand_computation():
    planes, policy, value = batch(4, seed=3)
    policy[0] = 0.0
    policy[0, 7] = 1.0  # a one-hot target: 0 log 0 must count as 0
    lrn = learner(value_weight=0.5, weight_decay=3e-4)

    reference = copy.deepcopy(lrn.model).train()  # training forward: BatchNorm uses the batch statistics
    want = manual_losses(reference, planes, policy, value, 0.5, 3e-4)
    got = lrn.train_step(planes, policy, value)
    assert set(got) == set(want) | {"lr"}
    for k, v in want.items():
        assert got[k] == pytest.approx(v, rel=1e-5, abs=1e-6), k
    assert got["lr"] == 0.02

    reference = copy.deepcopy(lrn.model).eval()
    want = manual_losses(reference, planes, policy, value, 0.5, 3e-4)
    got = lrn.evaluate(planes, policy, value)
    assert set(got) == set(want)
    for k, v in want.items():
        assert got[k] == pytest.approx(v, rel=1e-5, abs=1e-6), k


def test_evaluate_changes_nothing_and_chunks_agree():
    planes, policy, value = batch(10)
    lrn = learner(batch_size=4)
    before = state(lrn.model)
    lrn.model.train()
    chunked = lrn.evaluate(torch.from_numpy(planes), torch.from_numpy(policy), torch.from_numpy(value))
    assert lrn.model.training
    assert_same_state(before, state(lrn.model))
    lrn.config.batch_size = 256
    whole = lrn.evaluate(planes, policy, value)
    for k in whole:
        assert chunked[k] == pytest.approx(whole[k], rel=1e-5, abs=1e-6), k
    assert (lrn.step, lrn.samples) == (0, 0)


@pytest.mark.parametrize(
    "which, shape, match",
    [
        ("planes", (4, C, N), "planes"),
        ("planes", (4, C + 1, N, N), "channels"),
        ("planes", (4, C, N + 1, N + 1), "model is for"),
        ("policy", (4, N * N), "policy"),
        ("value", (4, 1), "value"),
        ("value", (3,), "value"),
    ],
)
def test_bad_shapes_raise(which, shape, match):
    planes, policy, value = batch(4)
    arrays = {"planes": planes, "policy": policy, "value": value}
    arrays[which] = np.zeros(shape, np.float32)
    lrn = learner()
    with pytest.raises(ValueError, match=match):
        lrn.train_step(**arrays)
    with pytest.raises(ValueError, match=match):
        lrn.evaluate(**arrays)
    assert (lrn.step, lrn.samples) == (0, 0)


def test_non_finite_loss_raises_and_changes_nothing():
    lrn = learner()
    planes, policy, value = batch(8)
    lrn.train_step(planes, policy, value)  # momentum buffers exist
    before = state(lrn.model)
    momentum = [s["momentum_buffer"].clone() for s in lrn.optimizer.state.values()]
    bad = planes.copy()
    bad[2, 0, 1, 1] = np.nan
    with pytest.raises(FloatingPointError, match="non-finite"):
        lrn.train_step(bad, policy, value)
    assert_same_state(before, state(lrn.model))  # BatchNorm running statistics included
    for a, s in zip(momentum, lrn.optimizer.state.values(), strict=True):
        torch.testing.assert_close(a, s["momentum_buffer"], rtol=0, atol=0)
    assert (lrn.step, lrn.samples) == (1, 8)
    assert np.isfinite(lrn.train_step(planes, policy, value)["loss"])


def test_grad_clip_bounds_the_first_update():
    lrn = learner(grad_clip=1e-3, weight_decay=0.0, lr=1.0)
    planes, policy, value = batch(8)
    before = [p.detach().clone() for p in lrn.model.parameters()]
    lrn.train_step(planes, policy, value)
    delta = torch.cat([(p.detach() - b).flatten() for p, b in zip(lrn.model.parameters(), before, strict=True)])
    assert 0 < delta.norm().item() <= 1e-3 * 1.0001


@pytest.mark.parametrize("amp", ["bf16", "fp16"])
def test_mixed_precision_on_cpu(amp):
    lrn = learner(amp=amp)
    planes, policy, value = batch(8)
    stats = [lrn.train_step(planes, policy, value) for _ in range(3)]
    assert all(np.isfinite(s["loss"]) for s in stats)
    assert (lrn.scaler is not None) == (amp == "fp16")


# --- save and resume -------------------------------------------------------------------------------------------------


@pytest.fixture
def no_unpickling(monkeypatch):
    def boom(*args, **kwargs):
        raise AssertionError("something tried to unpickle")

    monkeypatch.setattr(torch, "load", boom)
    monkeypatch.setattr(pickle, "load", boom)
    monkeypatch.setattr(pickle, "loads", boom)


@pytest.mark.parametrize(
    "optimizer, keys", [("sgd", ["momentum_buffer"]), ("adamw", ["step", "exp_avg", "exp_avg_sq"])]
)
def test_save_and_resume(tmp_path, no_unpickling, optimizer, keys):
    lrn = learner(optimizer)
    planes, policy, value = batch(8)
    for _ in range(3):
        lrn.train_step(planes, policy, value)
    path = lrn.save(tmp_path / "run" / "ckpt-3.safetensors", extra={"elo": 12.5}, parent="ckpt-0.safetensors")
    assert path == tmp_path / "run" / "ckpt-3.safetensors"
    optim_path = tmp_path / "run" / "ckpt-3.optim.safetensors"
    assert optimizer_path(path) == optim_path and optim_path.is_file()
    assert not list((tmp_path / "run").glob("*.tmp"))
    meta = read_metadata(path)
    assert meta.step == 3 and meta.parent == "ckpt-0.safetensors"
    assert meta.extra["samples"] == 24 and meta.extra["elo"] == 12.5
    assert LearnerConfig.from_dict(meta.extra["learner"]) == lrn.config

    back = ZeroLearner.resume(path)  # torch.load and pickle.load(s) raise (the no_unpickling fixture)

    assert (back.step, back.samples) == (3, 24)
    assert back.config == lrn.config
    assert_same_state(state(lrn.model), state(back.model))
    assert back.optimizer.param_groups[0]["lr"] == lrn.optimizer.param_groups[0]["lr"]
    params, back_params = list(lrn.model.parameters()), list(back.model.parameters())
    for p, q in zip(params, back_params, strict=True):
        for k in keys:
            torch.testing.assert_close(lrn.optimizer.state[p][k], back.optimizer.state[q][k], rtol=0, atol=0)

    a, b = lrn.train_step(planes, policy, value), back.train_step(planes, policy, value)
    assert a == pytest.approx(b, rel=1e-6)
    for k, v in state(lrn.model).items():
        torch.testing.assert_close(v, state(back.model)[k], msg=k)


def test_resume_with_a_new_config_keeps_the_optimizer_state(tmp_path):
    lrn = learner()
    planes, policy, value = batch(8)
    lrn.train_step(planes, policy, value)
    path = lrn.save(tmp_path / "c.safetensors")
    cfg = LearnerConfig(device="cpu", lr_schedule=[(0, 0.5), (8, 0.05)], momentum=0.5)
    back = ZeroLearner.resume(path, cfg)
    assert back.config is cfg and back.lr_at(back.samples) == 0.05
    assert back.optimizer.param_groups[0]["lr"] == 0.05 and back.optimizer.param_groups[0]["momentum"] == 0.5
    assert len(back.optimizer.state) == len(list(back.model.parameters()))


def test_resume_without_optimizer_state_warns(tmp_path, caplog, no_unpickling):
    lrn = learner("adamw")
    planes, policy, value = batch(8)
    lrn.train_step(planes, policy, value)
    path = lrn.save(tmp_path / "c.safetensors")
    optimizer_path(path).unlink()
    with caplog.at_level(logging.WARNING, logger="igo.training.learner"):
        back = ZeroLearner.resume(path)
    assert "no optimizer state" in caplog.text
    assert (back.step, back.samples) == (1, 8) and back.config.optimizer == "adamw"
    assert len(back.optimizer.state) == 0
    assert_same_state(state(lrn.model), state(back.model))
    assert np.isfinite(back.train_step(planes, policy, value)["loss"])


def test_resume_with_another_optimizer_kind_warns(tmp_path, caplog):
    lrn = learner("sgd")
    planes, policy, value = batch(8)
    lrn.train_step(planes, policy, value)
    path = lrn.save(tmp_path / "c.safetensors")
    with caplog.at_level(logging.WARNING, logger="igo.training.learner"):
        back = ZeroLearner.resume(path, LearnerConfig(optimizer="adamw", lr=0.001, device="cpu"))
    assert "'sgd'" in caplog.text and "fresh" in caplog.text
    assert isinstance(back.optimizer, torch.optim.AdamW) and len(back.optimizer.state) == 0


def test_resume_with_a_stale_optimizer_file_warns(tmp_path, caplog):
    lrn = learner()
    planes, policy, value = batch(8)
    lrn.train_step(planes, policy, value)
    path = lrn.save(tmp_path / "c.safetensors")
    shutil.copy(optimizer_path(path), tmp_path / "old.optim")
    lrn.train_step(planes, policy, value)
    lrn.save(path)
    shutil.copy(tmp_path / "old.optim", optimizer_path(path))  # as if a crash came between the two writes
    with caplog.at_level(logging.WARNING, logger="igo.training.learner"):
        back = ZeroLearner.resume(path)
    assert "written at step 1" in caplog.text
    assert back.step == 2 and len(back.optimizer.state) == 0


def test_save_refuses_reserved_extra_keys(tmp_path):
    with pytest.raises(ValueError, match="samples"):
        learner().save(tmp_path / "c.safetensors", extra={"samples": 5})


def test_resume_fp16_keeps_the_grad_scaler(tmp_path):
    lrn = learner(amp="fp16")
    planes, policy, value = batch(8)
    lrn.train_step(planes, policy, value)
    lrn.scaler.update(1234.0)
    back = ZeroLearner.resume(lrn.save(tmp_path / "c.safetensors"))
    assert back.scaler.get_scale() == 1234.0


# --- weights for actors ----------------------------------------------------------------------------------------------


def test_weights_round_trip_into_a_fresh_model():
    lrn = learner()
    planes, policy, value = batch(8)
    for _ in range(2):
        lrn.train_step(planes, policy, value)
    w = lrn.weights()
    assert set(w) == set(lrn.model.state_dict())
    assert all(isinstance(a, np.ndarray) for a in w.values())
    assert all(a.dtype == np.float32 for k, a in w.items() if not k.endswith("num_batches_tracked"))

    fresh = net(seed=1)
    load_numpy_weights(fresh, w)
    assert_same_state(state(lrn.model), state(fresh))
    lrn.model.eval()
    fresh.eval()
    with torch.no_grad():
        x = torch.from_numpy(planes)
        for a, b in zip(lrn.model(x), fresh(x), strict=True):
            torch.testing.assert_close(a, b, rtol=0, atol=0)

    # copies: changing the arrays touches neither model
    before = state(fresh)
    for a in w.values():
        a[...] = 0
    assert_same_state(before, state(fresh))

    with pytest.raises(ValueError, match="missing"):
        load_numpy_weights(fresh, {k: v for k, v in w.items() if k != "policy_fc.bias"})
    with pytest.raises(ValueError, match="unexpected"):
        load_numpy_weights(fresh, {**w, "extra.weight": np.zeros(3, np.float32)})
    with pytest.raises(ValueError, match="shape"):
        load_numpy_weights(fresh, {**w, "policy_fc.bias": np.zeros(3, np.float32)})


def test_gradient_is_the_one_train_step_applies_and_changes_no_weights():
    planes, policy, value = batch(16, seed=3)
    a = learner(weight_decay=0.0)
    before = state(a.model)
    stats, b = a.gradient(planes, policy, value)
    assert b == 16 and a.step == 0 and a.samples == 0
    params = dict(a.model.named_parameters())
    assert all(params[k].grad is not None for k in params)
    assert all(torch.equal(params[k].detach(), before[k]) for k in params)  # no optimizer step
    assert set(stats) == set(learner(weight_decay=0.0).train_step(planes, policy, value)) - {"lr"}
    # SGD's first step with no weight decay moves every weight by -lr x gradient (its momentum buffer starts there)
    c = learner(weight_decay=0.0)
    c.train_step(planes, policy, value)
    for k, p in c.model.named_parameters():
        torch.testing.assert_close((before[k] - p.detach()) / 0.02, params[k].grad, rtol=1e-4, atol=1e-5, msg=k)
    first = {k: p.grad.clone() for k, p in params.items()}
    again, _ = a.gradient(planes, policy, value)  # replaced, not accumulated (train mode: batch statistics)
    assert again["policy_loss"] == pytest.approx(stats["policy_loss"])
    for k, p in params.items():
        torch.testing.assert_close(p.grad, first[k], msg=k)
    with pytest.raises(ValueError):
        a.gradient(planes[:4], policy, value)
