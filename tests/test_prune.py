"""Pruning (igo.nets.prune, ``igo model prune``): magnitude pruning removes exactly the weights below alpha standard
deviations of their layer, retraining keeps them at 0, filter pruning gives a smaller net that computes what the
original computes with the removed channels silenced, and the command writes checkpoints that load."""

from __future__ import annotations

import argparse
import copy
import json

import numpy as np
import pytest
import torch

from igo.nets.checkpoint import load_checkpoint, read_metadata, save_checkpoint
from igo.nets.config import ZeroConfig, get_config
from igo.nets.models import build_model, parameter_count
from igo.nets.prune import (
    apply_masks,
    check_alpha,
    check_keep,
    format_table,
    kept_filters,
    layer_table,
    magnitude_masks,
    prunable_weights,
    prune_filters,
    prune_magnitude,
    retrain,
)

from .test_sgf_data import random_sgf, write

SIZE = 5


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def net(cfg, seed: int = 0, size: int = SIZE):
    """A network with random weights and random batch-norm statistics (so that no BN is the identity), in eval
    mode."""
    torch.manual_seed(seed)
    model = build_model(cfg, size)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_(0, 0.3)
                m.running_mean.normal_(0, 0.3)
                m.running_var.uniform_(0.5, 2.0)
    return model.eval()


def planes(cfg, n: int, seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(n, cfg.input_planes, SIZE, SIZE, generator=g) < 0.3).float()


def batches(cfg, batch: int = 8, seed: int = 2):
    """Endless synthetic batches in PositionStream's format: 0/1 planes, move targets (pass included for Zero nets),
    value targets in {-1, 0, +1}."""
    rng = np.random.default_rng(seed)
    moves = SIZE * SIZE + (1 if cfg.kind == "zero" else 0)
    while True:
        x = (rng.random((batch, cfg.input_planes, SIZE, SIZE)) < 0.3).astype(np.uint8)
        yield x, rng.integers(0, moves, batch).astype(np.int64), rng.integers(-1, 2, batch).astype(np.int8)


# --- magnitude pruning ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("alpha", [0.5, 1.0, 1.5])
@pytest.mark.parametrize("name", ["zero-tiny", "lee-policy-tiny"])
def test_magnitude_pruning_removes_exactly_the_weights_below_alpha_std(name, alpha):
    cfg = get_config(name)
    model = net(cfg)
    before = {k: w.detach().numpy().copy() for k, w in prunable_weights(model)}
    biases = {k: v.clone() for k, v in model.state_dict().items() if not k.endswith("weight")}
    masks = prune_magnitude(model, alpha)
    rows = {r.name: r for r in layer_table(model)}
    assert set(rows) == set(before) == set(masks)
    assert any(k.startswith("tower") or k.startswith("trunk") for k in rows)
    for k, w in prunable_weights(model):
        old = before[k]
        below = np.abs(old) < alpha * old.std()  # numpy's std: the population one, as Han et al.'s threshold
        after = w.detach().numpy()
        np.testing.assert_array_equal(after == 0, below, err_msg=k)
        np.testing.assert_array_equal(after[~below], old[~below], err_msg=k)  # survivors untouched
        assert rows[k].removed == int(below.sum()) and rows[k].params == old.size
        assert rows[k].fraction == pytest.approx(below.mean())
        if old.size >= 100:  # a layer of a few weights may lie wholly below the threshold
            assert 0 < rows[k].fraction < 1, k
    for k, v in biases.items():  # biases, BN parameters and statistics are not pruned
        assert torch.equal(model.state_dict()[k], v), k


def test_a_larger_alpha_removes_more_and_zero_removes_nothing():
    model = net(get_config("zero-tiny"))
    shares = []
    for alpha in (0.0, 0.5, 1.0, 1.5):
        masks = magnitude_masks(model, alpha)
        shares.append(sum(int((~m).sum()) for m in masks.values()) / sum(m.numel() for m in masks.values()))
    assert shares[0] == 0.0
    assert shares == sorted(shares) and len(set(shares)) == 4
    # normal-ish weights: about erf(alpha / sqrt 2) of them fall below alpha standard deviations
    assert 0.55 < shares[2] < 0.8


def test_bad_alpha_keep_and_masks_are_refused():
    for bad in (-0.1, float("nan"), float("inf"), 1e9, "1", True, None):
        with pytest.raises(ValueError, match="--alpha"):
            check_alpha(bad)
    for bad in (0, 0.0, -0.5, 1.01, float("nan"), "0.5", None):
        with pytest.raises(ValueError, match="--keep"):
            check_keep(bad)
    model = net(get_config("zero-tiny"))
    with pytest.raises(ValueError, match="does not have"):
        apply_masks(model, {"nope.weight": torch.ones(3, dtype=torch.bool)})
    with pytest.raises(ValueError, match="shape"):
        apply_masks(model, {"stem.0.weight": torch.ones(3, dtype=torch.bool)})
    with pytest.raises(ValueError, match="no convolution or linear layer"):
        prunable_weights(torch.nn.Sequential(torch.nn.ReLU()))


# --- retraining ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["zero-tiny", "lee-policy-tiny"])
def test_retraining_keeps_pruned_weights_at_zero(name):
    cfg = get_config(name)
    model = net(cfg)
    masks = prune_magnitude(model, 1.0)
    pruned = {k: w.detach().clone() for k, w in prunable_weights(model)}
    free = copy.deepcopy(model)
    statuses = []
    result = retrain(model, batches(cfg), 6, masks=masks, lr=0.05, report_every=3, on_status=statuses.append)
    assert result.steps == 6 and result.positions == 48 and [s.step for s in statuses] == [3, 6]
    assert (statuses[-1].value_mse is not None) == (cfg.kind == "zero")
    assert not model.training
    for k, w in prunable_weights(model):
        w = w.detach()
        assert torch.all(w[~masks[k]] == 0), k  # pruned weights stay exactly 0
        assert not torch.equal(w[masks[k]], pruned[k][masks[k]]), k  # the survivors did train
    # the same retraining without the masks revives pruned weights: the masks are what keeps them at 0
    retrain(free, batches(cfg), 6, lr=0.05)
    revived = sum(int((w.detach()[~masks[k]] != 0).sum()) for k, w in prunable_weights(free))
    assert revived > 0


def test_retrain_refuses_bad_settings_and_networks():
    cfg = get_config("zero-tiny")
    model = net(cfg)
    for kw, flag in (({"lr": 0}, "--lr"), ({"momentum": 1.0}, "--momentum"), ({"weight_decay": -1}, "--weight-decay"),
                     ({"value_weight": float("nan")}, "--value-weight")):  # fmt: skip
        with pytest.raises(ValueError, match=flag):
            retrain(model, batches(cfg), 1, **kw)
    with pytest.raises(ValueError, match="--retrain-steps"):
        retrain(model, batches(cfg), -1)
    value_net = build_model(get_config("lee-value-tiny"), SIZE)
    with pytest.raises(ValueError, match="lee-value"):
        retrain(value_net, batches(cfg), 1)


# --- filter pruning ------------------------------------------------------------------------------------------


def silenced(model, kept):
    """A copy of ``model`` with every filter that ``prune_filters`` removed zeroed: the block's first conv's output
    filter, the scale and shift of the BN after it, and the second conv's input channel."""
    model = copy.deepcopy(model)
    with torch.no_grad():
        for block, idx in zip(model.tower, kept, strict=True):
            bn = block.bn1 if model.config.block == "basic" else block.bn2
            gone = torch.ones(block.conv1.out_channels, dtype=torch.bool)
            gone[idx] = False
            block.conv1.weight[gone] = 0
            bn.weight[gone] = 0
            bn.bias[gone] = 0
            block.conv2.weight[:, gone] = 0
    return model


@pytest.mark.parametrize("block", ["basic", "preact"])
def test_filter_pruning_is_exact_smaller_and_loads(tmp_path, block):
    cfg = ZeroConfig("t-b2c8", blocks=2, channels=8, block=block, value_hidden=16)
    model = net(cfg)
    x = planes(cfg, 6)
    smaller, kept = prune_filters(model, 0.5)
    assert smaller.config.mid_channels == (4, 4) and smaller.config.name == "t-b2c8-pruned"
    assert parameter_count(smaller) < parameter_count(model)
    # the filters kept are those of largest L1 norm
    for blk, idx in zip(model.tower, kept, strict=True):
        norms = blk.conv1.weight.detach().abs().sum(dim=(1, 2, 3)).numpy()
        assert sorted(idx.tolist()) == sorted(np.argsort(-norms, kind="stable")[:4].tolist())
    with torch.no_grad():
        p_small, v_small = smaller(x)
        p_orig, v_orig = model(x)
        p_sil, v_sil = silenced(model, kept)(x)
    assert p_small.shape == p_orig.shape == (6, SIZE * SIZE + 1) and v_small.shape == v_orig.shape == (6,)
    torch.testing.assert_close(p_small, p_sil, rtol=1e-5, atol=1e-5)  # the exactness of filter removal
    torch.testing.assert_close(v_small, v_sil, rtol=1e-5, atol=1e-5)
    assert not torch.allclose(p_small, p_orig, atol=1e-3)  # and the removed filters did contribute
    path = save_checkpoint(tmp_path / "small.safetensors", smaller)
    loaded, meta = load_checkpoint(path)
    assert meta.config == smaller.config and meta.parameters == parameter_count(smaller)
    with torch.no_grad():
        p_loaded, v_loaded = loaded(x)
    torch.testing.assert_close(p_loaded, p_small)
    torch.testing.assert_close(v_loaded, v_small)
    # pruning again prunes the pruned widths, and keep 1 keeps everything
    again, _ = prune_filters(smaller, 0.5)
    assert again.config.mid_channels == (2, 2) and again.config.name == "t-b2c8-pruned"
    whole, kept_all = prune_filters(model, 1.0)
    assert whole.config.mid_channels == (8, 8) and [k.tolist() for k in kept_all] == [list(range(8))] * 2


def test_filter_pruning_refuses_other_networks():
    with pytest.raises(ValueError, match="Zero nets"):
        prune_filters(net(get_config("lee-policy-tiny")), 0.5)
    with pytest.raises(ValueError, match="bottleneck"):
        prune_filters(net(ZeroConfig("b", blocks=1, channels=8, block="bottleneck", value_hidden=16)), 0.5)
    with pytest.raises(ValueError, match="--keep"):
        kept_filters(net(get_config("zero-tiny")), 0.0)


def test_table_counts_removed_filters_against_the_original():
    cfg = ZeroConfig("t-b2c8", blocks=2, channels=8, value_hidden=16)
    model = net(cfg)
    reference = layer_table(model)
    smaller, _ = prune_filters(model, 0.25)
    lines = format_table(layer_table(smaller), reference=reference)
    conv1 = next(line for line in lines if line.startswith("tower.0.conv1.weight"))
    assert conv1.split()[1:4] == ["576", "432", "75.0%"]  # 8*8*9 weights, 6 of 8 filters gone
    total = lines[-1].split()
    assert total[0] == "total" and int(total[1].replace(",", "")) == sum(r.params for r in reference)


# --- the command ---------------------------------------------------------------------------------------------


def parser():
    from igo.model_prune_cmd import add_parser

    p = argparse.ArgumentParser(prog="igo model")
    add_parser(p.add_subparsers(dest="action"))
    return p


def prune_cmd(*argv: str) -> int:
    args = parser().parse_args(["prune", *argv])
    return args.run(args)


@pytest.fixture(scope="module")
def games(tmp_path_factory):
    root = tmp_path_factory.mktemp("sgf5")
    for i in range(24):
        write(root / f"g{i:02d}.sgf", random_sgf(SIZE, 18, 100 + i, result="B+3.5" if i % 2 else "W+R"))
    return root


@pytest.fixture
def tiny_checkpoint(tmp_path):
    torch.manual_seed(0)
    model = build_model(ZeroConfig("t-b2c8", blocks=2, channels=8, value_hidden=16), SIZE)
    return save_checkpoint(tmp_path / "in.safetensors", model, step=7, komi=6.5, rules="tromp-taylor")


def test_command_prunes_retrains_and_writes_a_checkpoint(tmp_path, tiny_checkpoint, games, capsys):
    out = tmp_path / "out.safetensors"
    code = prune_cmd(str(tiny_checkpoint), "-o", str(out), "--structured", "--keep", "0.5", "--alpha", "0.5",
                     "--sgf", str(games), "--holdout", "0.25", "--retrain-steps", "4", "--batch-size", "8",
                     "--shuffle-buffer", "32", "--nn-threads", "1", "--json")  # fmt: skip
    assert code == 0
    captured = capsys.readouterr()
    result = json.loads(captured.out.strip().splitlines()[-1])
    assert "total" in captured.err and "tower.1.conv2.weight" in captured.err and "retrained:" in captured.err
    model, meta = load_checkpoint(out)
    assert meta.config.mid_channels == (4, 4) and meta.parent == str(tiny_checkpoint)
    assert meta.komi == 6.5 and meta.rules == "tromp-taylor" and meta.step == 7
    pruning = meta.extra["pruning"]
    assert pruning == {k: v for k, v in result.items() if k not in ("output", "config")} | pruning
    assert pruning["method"] == "filter+magnitude" and pruning["alpha"] == 0.5 and pruning["keep"] == 0.5
    assert pruning["retrain_steps"] == 4 and pruning["mid_channels"] == [4, 4]
    assert set(pruning["accuracy"]) == {"original", "pruned", "retrained"}
    assert pruning["accuracy"]["pruned"]["positions"] > 0
    # the recorded sparsity is the checkpoint's: the magnitude-pruned zeros survived the retraining
    for (name, params, removed), (k, w) in zip(pruning["layers"], prunable_weights(model), strict=True):
        assert name == k and params == w.numel() and removed == int((w == 0).sum())
        if k.startswith("tower"):
            assert removed > 0, k
    source, _ = load_checkpoint(tiny_checkpoint)
    assert pruning["weights_before"] == sum(w.numel() for _, w in prunable_weights(source))
    left = sum(p - r for _, p, r in pruning["layers"])
    assert pruning["weights_removed"] == pruning["weights_before"] - left > 0


def test_command_magnitude_only_without_sgf(tmp_path, tiny_checkpoint, capsys):
    out = tmp_path / "a.safetensors"
    assert prune_cmd(str(tiny_checkpoint), "-o", str(out), "--alpha", "1.0", "--nn-threads", "1") == 0
    text = capsys.readouterr().out
    assert text.splitlines()[0].split() == ["layer", "weights", "removed", "%", "removed", "MACs/pos", "%", "MACs"]
    meta = read_metadata(out)
    assert meta.config == read_metadata(tiny_checkpoint).config  # the same architecture, zeros stored
    assert meta.extra["pruning"]["method"] == "magnitude"
    assert meta.extra["pruning"]["retrain_steps"] == 0 and meta.extra["pruning"]["accuracy"] == {}
    model, _ = load_checkpoint(out)
    source, _ = load_checkpoint(tiny_checkpoint)
    pruned = copy.deepcopy(source)
    prune_magnitude(pruned, 1.0)
    for (k, w), (_, expected) in zip(prunable_weights(model), prunable_weights(pruned), strict=True):
        assert torch.equal(w, expected), k


def test_command_refuses_bad_options(tmp_path, tiny_checkpoint, games):
    out = str(tmp_path / "x.safetensors")
    src = str(tiny_checkpoint)
    cases = [
        ((), "--alpha A"),
        (("--alpha", "-1"), "--alpha"),
        (("--alpha", "nan"), "--alpha"),
        (("--structured",), "--keep"),
        (("--structured", "--keep", "0"), "--keep"),
        (("--alpha", "1", "--keep", "0.5"), "--structured"),
        (("--alpha", "1", "--retrain-steps", "5"), "--sgf"),
        (("--alpha", "1", "--sgf", str(games), "--retrain-steps", "-2"), "--retrain-steps"),
        (("--alpha", "1", "--sgf", str(games), "--retrain-steps", "2", "--lr", "0"), "--lr"),
        (("--alpha", "1", "--sgf", str(tmp_path / "none")), "--sgf"),
        (("--alpha", "1", "--holdout", "1"), "--holdout"),
        (("--alpha", "1", "--batch-size", "64", "--shuffle-buffer", "8"), "--shuffle-buffer"),
    ]
    for extra, match in cases:
        with pytest.raises(ValueError, match=match):
            prune_cmd(src, "-o", out, *extra)
    lee = save_checkpoint(tmp_path / "lee.safetensors", build_model(get_config("lee-policy-tiny"), SIZE))
    with pytest.raises(ValueError, match="Zero nets"):
        prune_cmd(str(lee), "-o", out, "--structured", "--keep", "0.5")
    (tmp_path / "taken.safetensors").write_bytes(b"")
    with pytest.raises(ValueError, match="--force"):
        prune_cmd(src, "-o", str(tmp_path / "taken.safetensors"), "--alpha", "1")


def test_command_help_explains_the_methods(capsys):
    with pytest.raises(SystemExit) as e:
        parser().parse_args(["prune", "--help"])
    assert e.value.code == 0
    text = capsys.readouterr().out
    assert "--alpha" in text and "--structured" in text and "--keep" in text and "--retrain-steps" in text
    assert "Han et al." in text and "L1 norm" in text and "examples:" in text


def test_igo_model_prune_runs_from_the_command_line(tmp_path, tiny_checkpoint, capsys):
    """Through ``igo.cli.main``: needs ``prune`` registered in ``igo model`` (igo/model_cmd.py's add_arguments)."""
    from igo.cli import main

    out = tmp_path / "cli.safetensors"
    assert main(["model", "prune", str(tiny_checkpoint), "-o", str(out), "--alpha", "1", "--nn-threads", "1"]) == 0
    assert "total" in capsys.readouterr().out and read_metadata(out).extra["pruning"]["alpha"] == 1.0
    assert main(["model", "prune", str(tiny_checkpoint), "-o", str(out), "--alpha", "1"]) == 1  # exists, no --force
    assert "--force" in capsys.readouterr().err


def test_command_measures_and_retrains_on_a_replay_directory(tmp_path, tiny_checkpoint, capsys):
    from .test_distill import replay_dir

    replay = replay_dir(tmp_path / "replay", games=40, size=SIZE)
    before = sorted((p.name, p.stat().st_mtime_ns) for p in replay.iterdir())
    out = tmp_path / "out.safetensors"
    code = prune_cmd(str(tiny_checkpoint), "-o", str(out), "--alpha", "0.5", "--replay", str(replay), "--holdout",
                     "0.3", "--retrain-steps", "6", "--batch-size", "8", "--nn-threads", "1", "--json")  # fmt: skip
    assert code == 0
    captured = capsys.readouterr()
    assert "retrained:" in captured.err and "(6 steps, 48 positions" in captured.err
    model, meta = load_checkpoint(out)
    pruning = meta.extra["pruning"]
    assert pruning["replay"] == str(replay.resolve()) and pruning["sgf"] is None and pruning["holdout"] == 0.3
    acc = pruning["accuracy"]
    assert acc["original"]["positions"] == acc["retrained"]["positions"] > 0
    assert acc["original"]["value_positions"] == acc["original"]["positions"]  # every replay position has a result
    assert acc["retrained"] != acc["pruned"]  # the retraining changed the network
    for (_, _, removed), (k, w) in zip(pruning["layers"], prunable_weights(model), strict=True):
        assert removed == int((w == 0).sum()) and (removed > 0 or not k.startswith("tower")), k
    assert sorted((p.name, p.stat().st_mtime_ns) for p in replay.iterdir()) == before  # read-only
    # a replay directory holds Zero positions only; --sgf and --replay exclude each other
    lee = save_checkpoint(tmp_path / "lee.safetensors", build_model(get_config("lee-policy-tiny"), SIZE))
    with pytest.raises(ValueError, match="--replay holds Zero"):
        prune_cmd(str(lee), "-o", str(tmp_path / "l.safetensors"), "--alpha", "1", "--replay", str(replay))
    with pytest.raises(ValueError, match="--replay"):
        prune_cmd(str(tiny_checkpoint), "-o", str(tmp_path / "m.safetensors"), "--alpha", "1", "--replay",
                  str(tmp_path / "none"))  # fmt: skip
    with pytest.raises(SystemExit):
        prune_cmd(str(tiny_checkpoint), "-o", str(tmp_path / "n.safetensors"), "--alpha", "1", "--replay",
                  str(replay), "--sgf", str(replay))  # fmt: skip
