"""Tests of the Zero network variants (issue 19): pruned inner widths (``mid_channels``), WideResNet, PyramidNet and
MobileNetV2 towers, and :func:`igo.nets.models.count_flops`.

Parameter and multiply-accumulate counts are computed here from the architectures as the papers and
:mod:`igo.nets.zero` describe them, never copied from the code's output; every kind builds on 9x9 and 19x19, gives
the right shapes, backpropagates into every parameter and survives a checkpoint round trip; bad fields are refused
with a ValueError naming them; and old configs and checkpoints read exactly as before."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import torch

from igo.nets.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from igo.nets.config import (
    CONFIGS,
    ZeroConfig,
    config_depth,
    config_from_dict,
    config_to_dict,
    describe,
    get_config,
)
from igo.nets.models import build_model, count_flops, parameter_count
from igo.nets.zero import MobileBlock, PyramidBlock, WideBlock

from .checkpoint_helpers import rewrite

torch.set_num_threads(1)

NEW = ("zero-b3c32k3-wide", "zero-b6c32a56-pyramid", "zero-b8c64e6-mobile")
ZERO = [name for name, c in CONFIGS.items() if c.kind == "zero"]
SMALL = [  # one small config of every kind, and pruned ones
    ZeroConfig("t-basic", 2, 8, value_hidden=16),
    ZeroConfig("t-preact", 2, 8, block="preact", value_hidden=16),
    ZeroConfig("t-bottleneck", 2, 8, block="bottleneck", value_hidden=16),
    ZeroConfig("t-basic-pruned", 3, 8, mid_channels=(3, 8, 1), value_hidden=16),
    ZeroConfig("t-preact-pruned", 2, 8, block="preact", mid_channels=(5, 2), value_hidden=16),
    ZeroConfig("t-wide", 3, 4, block="wide", widen=3, value_hidden=16),
    ZeroConfig("t-wide-k1", 2, 8, block="wide", value_hidden=16),
    ZeroConfig("t-pyramid", 3, 8, block="pyramid", alpha=7, value_hidden=16),
    ZeroConfig("t-pyramid-a0", 2, 8, block="pyramid", value_hidden=16),
    ZeroConfig("t-mobile", 2, 8, block="mobile", expansion=3, value_hidden=16),
    ZeroConfig("t-mobile-default", 1, 4, block="mobile", value_hidden=16, policy_filters=3, value_filters=2),
]
SMALL_IDS = [c.name for c in SMALL]


# --- counts from the architecture ------------------------------------------------------------------------------------


def pyramid_widths(c: int, alpha: int, blocks: int) -> list[int]:
    """PyramidNet's additive widths: D_k = floor(c + alpha * k / N), k = 1..N (Han et al. 2017, eq. 2)."""
    return [int((c * blocks + alpha * k) // blocks) for k in range(1, blocks + 1)]


def layers(cfg: ZeroConfig, n: int) -> tuple[list[tuple[int, int, int, int]], list[int], list[tuple[int, int]]]:
    """The network's convs as (cin, cout, kernel, groups), its batch norms' widths and its linear layers (in, out)."""
    n2 = n * n
    c = cfg.channels
    convs = [(cfg.input_planes, c, 3, 1)]
    bns = [c]
    width = c
    if cfg.block in ("basic", "preact"):
        for m in cfg.mid_channels or [c] * cfg.blocks:
            convs += [(c, m, 3, 1), (m, c, 3, 1)]
            bns += [m, c]
    elif cfg.block == "bottleneck":
        m = cfg.bottleneck_channels or c // 2
        for _ in range(cfg.blocks):
            convs += [(c, m, 1, 1), (m, m, 3, 1), (m, c, 1, 1)]
            bns += [m, m, c]
    elif cfg.block == "wide":
        width = c * cfg.widen
        cin = c
        for _ in range(cfg.blocks):
            convs += [(cin, width, 3, 1), (width, width, 3, 1)]
            bns += [cin, width]
            if cin != width:
                convs.append((cin, width, 1, 1))  # the projection shortcut
            cin = width
    elif cfg.block == "pyramid":
        cin = c
        for cout in pyramid_widths(c, cfg.alpha, cfg.blocks):
            convs += [(cin, cout, 3, 1), (cout, cout, 3, 1)]
            bns += [cin, cout, cout]
            cin = cout
        width = cin
    elif cfg.block == "mobile":
        h = c * (cfg.expansion or 6)
        for _ in range(cfg.blocks):
            convs += [(c, h, 1, 1), (h, h, 3, h), (h, c, 1, 1)]
            bns += [h, h, c]
    else:
        raise AssertionError(cfg.block)
    if cfg.block in ("preact", "wide", "pyramid"):
        bns.append(width)  # the tower's closing BN
    convs += [(width, cfg.policy_filters, 1, 1), (width, cfg.value_filters, 1, 1)]
    bns += [cfg.policy_filters, cfg.value_filters]
    linears = [(cfg.policy_filters * n2, n2 + 1), (cfg.value_filters * n2, cfg.value_hidden), (cfg.value_hidden, 1)]
    return convs, bns, linears


def expected_parameters(cfg: ZeroConfig, n: int) -> int:
    convs, bns, linears = layers(cfg, n)
    return (sum(cin // g * cout * k * k for cin, cout, k, g in convs) + sum(2 * b for b in bns)
            + sum(i * o + o for i, o in linears))  # fmt: skip


def expected_macs(cfg: ZeroConfig, n: int) -> int:
    convs, _, linears = layers(cfg, n)
    return n * n * sum(cin // g * cout * k * k for cin, cout, k, g in convs) + sum(i * o for i, o in linears)


def meta_model(cfg: ZeroConfig, n: int):
    with torch.device("meta"):
        return build_model(cfg, n)


@pytest.mark.parametrize("name", ZERO)
@pytest.mark.parametrize("n", [9, 19])
def test_registered_zero_nets_count_what_the_architecture_says(name, n):
    cfg = get_config(name)
    model = meta_model(cfg, n)
    assert parameter_count(model) == sum(p.numel() for p in model.parameters()) == expected_parameters(cfg, n)
    assert count_flops(model, n) == expected_macs(cfg, n)


@pytest.mark.parametrize("cfg", SMALL, ids=SMALL_IDS)
@pytest.mark.parametrize("n", [5, 9])
def test_small_variants_count_what_the_architecture_says(cfg, n):
    model = meta_model(cfg, n)
    assert parameter_count(model) == expected_parameters(cfg, n)
    assert count_flops(model, n) == expected_macs(cfg, n)


def test_count_flops_by_hand():
    # zero-tiny (1 basic block of 8 channels, value head of 16) on 5x5: 25 points, 17 input planes
    stem = 17 * 8 * 9 * 25
    block = 2 * 8 * 8 * 9 * 25
    policy = 8 * 2 * 25 + (2 * 25) * 26
    value = 8 * 1 * 25 + 25 * 16 + 16 * 1
    model = build_model(get_config("zero-tiny"), 5)
    assert count_flops(model, 5) == stem + block + policy + value == 61716
    # a mobile block of 4 channels expanded x2 on 3x3 (9 points): 1x1 up, depthwise 3x3 (9 MACs per output), 1x1 down
    cfg = ZeroConfig("m", 1, 4, block="mobile", expansion=2, value_hidden=8)
    by_hand = 17 * 4 * 9 * 9 + (4 * 8 + 8 * 9 + 8 * 4) * 9 + (4 * 2 * 9 + 18 * 10) + (4 * 1 * 9 + 9 * 8 + 8)
    assert count_flops(build_model(cfg, 3), 3) == by_hand == 7100
    # a pyramid of one block widening 2 -> 5 on 2x2 (4 points): padding costs nothing
    cfg = ZeroConfig("p", 1, 2, block="pyramid", alpha=3, value_hidden=4, history=1)
    by_hand = 3 * 2 * 9 * 4 + (2 * 5 * 9 + 5 * 5 * 9) * 4 + (5 * 2 * 4 + 8 * 5) + (5 * 1 * 4 + 4 * 4 + 4)
    assert count_flops(build_model(cfg, 2), 2) == by_hand


def test_count_flops_leaves_the_model_as_it_was():
    torch.manual_seed(0)
    model = build_model(get_config("zero-b3c32k3-wide"), 5).train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    count_flops(model, 5)
    assert model.training
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # BN statistics untouched
    assert not any(m._forward_hooks for m in model.modules())
    model.eval()
    count_flops(model, 5)
    assert not model.training


def test_count_flops_refuses_bad_input():
    model = build_model(get_config("zero-tiny"), 5)
    with pytest.raises(ValueError, match="board_size"):
        count_flops(model, 9)
    with pytest.raises(ValueError, match="board_size"):
        count_flops(model, 30)
    with pytest.raises(ValueError, match="input planes"):
        count_flops(build_model(get_config("rollout"), 5), 5)


def test_count_flops_of_the_alphago_nets():
    # the 13-layer policy net of 64 filters on 9x9 (81 points): 5x5 over 48 planes, 11 3x3 layers, a 1x1 to one plane
    cfg = get_config("lee-policy-64")
    by_hand = 81 * (48 * 64 * 25 + (cfg.layers - 2) * 64 * 64 * 9 + 64)
    assert count_flops(meta_model(cfg, 9), 9) == by_hand


def test_the_new_configs_cost_what_zero_b6c64_costs():
    base = meta_model(get_config("zero-b6c64"), 9)
    params, macs = parameter_count(base), count_flops(base, 9)
    for name in NEW:
        model = meta_model(get_config(name), 9)
        assert abs(parameter_count(model) / params - 1) < 0.03, name
        assert abs(count_flops(model, 9) / macs - 1) < 0.06, name


# --- building, shapes, gradients -------------------------------------------------------------------------------------


def planes(cfg: ZeroConfig, batch: int, n: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(batch, cfg.input_planes, n, n, generator=g) < 0.3).float()


@pytest.mark.parametrize("cfg", [*(get_config(name) for name in NEW), *SMALL[3:]], ids=[*NEW, *SMALL_IDS[3:]])
@pytest.mark.parametrize("n", [9, 19])
def test_variants_build_and_backpropagate(cfg, n):
    torch.manual_seed(0)
    model = build_model(cfg, n).train()
    assert model.config is cfg and model.board_size == n
    p, v = model(planes(cfg, 3, n))
    assert p.shape == (3, n * n + 1) and v.shape == (3,)
    assert torch.isfinite(p).all() and torch.all(v.abs() <= 1)
    (torch.log_softmax(p, -1)[:, 0].sum() + v.sum()).backward()
    for name, param in model.named_parameters():
        assert param.grad is not None and torch.isfinite(param.grad).all(), name
        assert param.grad.abs().sum() > 0, name  # every layer is wired into the output
    model.eval()
    with torch.no_grad():
        p, v = model(planes(cfg, 2, n, seed=1))
    assert p.shape == (2, n * n + 1) and v.shape == (2,) and torch.all(v.abs() <= 1)


def test_the_blocks_are_the_papers():
    wide = build_model(get_config("zero-b3c32k3-wide"), 9)
    assert [type(b) for b in wide.tower] == [WideBlock] * 3
    assert wide.tower[0].shortcut.weight.shape == (96, 32, 1, 1) and wide.tower[0].conv1.weight.shape == (96, 32, 3, 3)
    assert wide.tower[1].shortcut is None and wide.tower[2].conv2.weight.shape == (96, 96, 3, 3)
    assert wide.policy_conv[0].weight.shape == (2, 96, 1, 1) and wide.tower_out[0].num_features == 96

    pyramid = build_model(get_config("zero-b6c32a56-pyramid"), 9)
    # floor(32 + 56 k / 6), k = 1..6: 41.3, 50.7, 60, 69.3, 78.7, 88
    assert get_config("zero-b6c32a56-pyramid").pyramid_widths == (41, 50, 60, 69, 78, 88)
    assert [b.conv2.weight.shape[0] for b in pyramid.tower] == [41, 50, 60, 69, 78, 88]
    assert all(isinstance(b, PyramidBlock) for b in pyramid.tower)
    assert pyramid.value_conv[0].weight.shape == (1, 88, 1, 1)
    assert not any(n.startswith("tower.") and "shortcut" in n for n, _ in pyramid.named_parameters())  # no weights

    mobile = build_model(get_config("zero-b8c64e6-mobile"), 9)
    assert all(isinstance(b, MobileBlock) for b in mobile.tower) and len(mobile.tower) == 8
    block = mobile.tower[0]
    assert block.conv1.weight.shape == (384, 64, 1, 1) and block.conv3.weight.shape == (64, 384, 1, 1)
    assert block.conv2.groups == 384 and block.conv2.weight.shape == (384, 1, 3, 3)
    assert mobile.tower_out is None


def test_pyramid_shortcut_is_the_input_zero_padded():
    torch.manual_seed(0)
    block = PyramidBlock(3, 5).eval()
    with torch.no_grad():
        block.bn3.weight.zero_()
        block.bn3.bias.zero_()  # the residual branch now adds nothing
        x = torch.randn(2, 3, 4, 4)
        y = block(x)
    assert y.shape == (2, 5, 4, 4)
    assert torch.equal(y[:, :3], x) and torch.all(y[:, 3:] == 0)
    with pytest.raises(ValueError, match="narrow"):
        PyramidBlock(5, 3)


def test_wide_block_of_equal_widths_adds_its_input():
    torch.manual_seed(0)
    block = WideBlock(4, 4).eval()
    with torch.no_grad():
        block.conv2.weight.zero_()
        x = torch.randn(2, 4, 3, 3)
        assert torch.equal(block(x), x)


def test_mobile_block_adds_its_input_without_activation():
    torch.manual_seed(0)
    block = MobileBlock(4, 8).eval()
    with torch.no_grad():
        block.bn3.weight.zero_()
        block.bn3.bias.zero_()
        x = torch.randn(2, 4, 3, 3)  # negative values pass: no ReLU after the sum
        assert torch.equal(block(x), x)


@pytest.mark.parametrize("name", NEW)
def test_channels_last_and_bf16_autocast(name):
    torch.manual_seed(0)
    model = build_model(get_config(name), 9).eval()
    x = planes(model.config, 2, 9)
    with torch.no_grad():
        p0, v0 = model(x)
        cl = model.to(memory_format=torch.channels_last)
        p1, v1 = cl(x.to(memory_format=torch.channels_last))
        with torch.autocast("cpu", dtype=torch.bfloat16):
            p2, v2 = cl(x.to(memory_format=torch.channels_last))
    assert torch.allclose(p0, p1, atol=1e-4) and torch.allclose(v0, v1, atol=1e-4)
    assert p2.dtype == torch.bfloat16 and torch.isfinite(p2.float()).all() and torch.all(v2.float().abs() <= 1)


# --- mid_channels: structured pruning --------------------------------------------------------------------------------


@pytest.mark.parametrize("block", ["basic", "preact"])
def test_pruned_network_computes_what_the_full_one_did(block):
    """Remove the filters of each block's first conv whose BN output is exactly zero (so they add nothing) and the
    matching input channels of its second conv: the pruned network built from mid_channels gives the same outputs."""
    torch.manual_seed(0)
    full = build_model(ZeroConfig("full", 2, 8, block=block, value_hidden=16), 5).eval()
    keep = [torch.tensor([0, 2, 5]), torch.tensor([1, 3, 4, 6, 7])]
    mid_bn = "bn1" if block == "basic" else "bn2"  # the BN over the inner channels
    with torch.no_grad():
        for b, kept in zip(full.tower, keep, strict=True):
            dropped = torch.ones(8, dtype=torch.bool)
            dropped[kept] = False
            getattr(b, mid_bn).weight[dropped] = 0
            getattr(b, mid_bn).bias[dropped] = 0
    cfg = ZeroConfig("pruned", 2, 8, block=block, value_hidden=16, mid_channels=tuple(len(k) for k in keep))
    pruned = build_model(cfg, 5).eval()
    state = full.state_dict()
    for i, kept in enumerate(keep):
        state[f"tower.{i}.conv1.weight"] = state[f"tower.{i}.conv1.weight"][kept]
        state[f"tower.{i}.conv2.weight"] = state[f"tower.{i}.conv2.weight"][:, kept]
        for stat in ("weight", "bias", "running_mean", "running_var"):
            key = f"tower.{i}.{mid_bn}.{stat}"
            state[key] = state[key][kept]
    pruned.load_state_dict(state, strict=True)
    x = planes(cfg, 4, 5)
    with torch.no_grad():
        p0, v0 = full(x)
        p1, v1 = pruned(x)
    assert torch.allclose(p0, p1, atol=1e-5) and torch.allclose(v0, v1, atol=1e-6)
    assert parameter_count(pruned) < parameter_count(full)
    assert count_flops(pruned, 5) < count_flops(full, 5)


@pytest.mark.parametrize("block", ["basic", "preact"])
def test_default_mid_channels_change_nothing(block):
    plain = build_model(ZeroConfig("a", 3, 16, block=block), 9).state_dict()
    explicit = build_model(ZeroConfig("a", 3, 16, block=block, mid_channels=(16, 16, 16)), 9).state_dict()
    assert {k: v.shape for k, v in plain.items()} == {k: v.shape for k, v in explicit.items()}
    assert all(plain[f"tower.{i}.conv1.weight"].shape == (16, 16, 3, 3) for i in range(3))


def test_old_configs_and_checkpoints_read_as_before(tmp_path):
    # a config dict written before the variant fields existed
    old = {"kind": "zero", "name": "zero-b6c64", "blocks": 6, "channels": 64, "block": "basic", "history": 8,
           "policy_filters": 2, "value_filters": 1, "value_hidden": 256, "bottleneck_channels": None}  # fmt: skip
    cfg = config_from_dict(old)
    assert cfg == get_config("zero-b6c64")
    assert (cfg.mid_channels, cfg.widen, cfg.alpha, cfg.expansion) == (None, 1, 0, None)
    shipped = Path(__file__).resolve().parents[1] / "nets" / "data" / "candidates" / "igo-9x9-candidate.safetensors"
    if shipped.exists():  # a checkpoint written by igo before this change
        model, meta = load_checkpoint(shipped)
        assert meta.config.block == "basic" and meta.config.mid_channels is None
        assert parameter_count(model) == expected_parameters(meta.config, meta.board_size)


# --- configs ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("cfg", [*(get_config(name) for name in NEW), *SMALL], ids=[*NEW, *SMALL_IDS])
def test_config_round_trips_through_json(cfg):
    d = json.loads(json.dumps(config_to_dict(cfg)))
    back = config_from_dict(d)
    assert back == cfg and hash(back) == hash(cfg)
    assert isinstance(back.mid_channels, tuple | type(None))
    assert config_depth(cfg) == ("blocks", cfg.blocks)
    line = describe(cfg)
    assert cfg.name in line and "\n" not in line


def test_describe_says_what_the_variants_are():
    assert "96 channels (32 x widen 3)" in describe(get_config("zero-b3c32k3-wide"))
    assert "from 32 to 88 channels (alpha 56)" in describe(get_config("zero-b6c32a56-pyramid"))
    assert "64 channels (expanded x6 to 384)" in describe(get_config("zero-b8c64e6-mobile"))
    assert "pruned: 1..8 channels inside" in describe(SMALL[3])
    assert "pruned" not in describe(get_config("zero-b6c64"))


def test_a_list_of_mid_channels_becomes_a_tuple():
    cfg = ZeroConfig("l", 2, 8, mid_channels=[3, 4])
    assert cfg.mid_channels == (3, 4) and cfg == ZeroConfig("l", 2, 8, mid_channels=(3, 4))
    assert config_to_dict(cfg)["mid_channels"] == [3, 4]


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"mid_channels": (4,)}, "mid_channels"),  # one entry per block
        ({"mid_channels": (4, 0)}, "mid_channels"),
        ({"mid_channels": (4, 70000)}, "mid_channels"),
        ({"mid_channels": (4, True)}, "mid_channels"),
        ({"mid_channels": (4, 2.0)}, "mid_channels"),
        ({"mid_channels": "44"}, "mid_channels"),
        ({"mid_channels": (4, 4), "block": "bottleneck"}, "mid_channels"),
        ({"mid_channels": (4, 4), "block": "mobile"}, "mid_channels"),
        ({"block": "wide", "widen": 0}, "widen"),
        ({"block": "wide", "widen": 2.5}, "widen"),
        ({"block": "wide", "widen": 10000}, "widen"),  # 8 * 10000 channels > MAX_WIDTH
        ({"widen": 2}, "widen"),  # a basic block is not widened
        ({"block": "pyramid", "alpha": -1}, "alpha"),
        ({"block": "pyramid", "alpha": 65530}, "alpha"),  # 8 + 65530 > MAX_WIDTH
        ({"block": "pyramid", "alpha": "8"}, "alpha"),
        ({"block": "preact", "alpha": 8}, "alpha"),
        ({"block": "mobile", "expansion": 0}, "expansion"),
        ({"block": "mobile", "expansion": 9000}, "expansion"),  # 8 * 9000 > MAX_WIDTH
        ({"block": "mobile", "expansion": False}, "expansion"),
        ({"block": "wide", "expansion": 4}, "expansion"),
        ({"block": "dense"}, "block"),
    ],
)
def test_bad_variant_fields_name_the_field(kwargs, field):
    with pytest.raises(ValueError, match=field):
        ZeroConfig("z", 2, 8, **kwargs)


@pytest.mark.parametrize(
    "edit, field",
    [
        ({"mid_channels": "3,4"}, "mid_channels"),
        ({"mid_channels": [3, "4"]}, "mid_channels"),
        ({"mid_channels": [3, 4, 5]}, "mid_channels"),
        ({"mid_channels": {"a": 1}}, "mid_channels"),
        ({"widen": 2.0}, "widen"),
        ({"alpha": None}, "alpha"),
        ({"expansion": [6]}, "expansion"),
    ],
)
def test_bad_variant_fields_in_dicts_name_the_field(edit, field):
    d = config_to_dict(ZeroConfig("z", 2, 8, mid_channels=(3, 4)))
    d.update(edit)
    with pytest.raises(ValueError, match=field):
        config_from_dict(d)


# --- checkpoints -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("cfg", [get_config(NEW[0]), *SMALL[3:]], ids=[NEW[0], *SMALL_IDS[3:]])
def test_checkpoint_round_trip(tmp_path, cfg):
    torch.manual_seed(1)
    model = build_model(cfg, 7)
    with torch.no_grad():  # non-default statistics, so that a lost buffer would show
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
    path = save_checkpoint(tmp_path / "net.safetensors", model.eval(), step=5)
    loaded, meta = load_checkpoint(path, board_size=7, expect_kind="zero")
    assert meta.config == cfg and dataclasses.asdict(meta.config) == dataclasses.asdict(cfg)
    assert meta.parameters == parameter_count(model)
    x = planes(cfg, 2, 7)
    with torch.no_grad():
        p0, v0 = model(x)
        p1, v1 = loaded(x)
    assert torch.equal(p0, p1) and torch.equal(v0, v1)


@pytest.mark.parametrize(
    "edit, fragment",
    [
        ({"blocks": 900}, "blocks"),  # depth beyond the tensors held
        ({"alpha": 40000}, "parameters"),  # a much wider pyramid than the file holds
        ({"expansion": 3}, "tower.0.conv1.weight"),  # shapes differ
        ({"mid_channels": [8, 2, 8]}, "tower.1.conv1.weight"),
    ],
)
def test_checkpoint_reader_checks_the_variants(tmp_path, edit, fragment):
    torch.manual_seed(0)
    cfg = ZeroConfig("m", 3, 8, block="mobile", expansion=2, value_hidden=16)
    if "mid_channels" in edit:
        cfg = ZeroConfig("b", 3, 8, mid_channels=(8, 4, 8), value_hidden=16)
    elif "alpha" in edit:
        cfg = ZeroConfig("p", 3, 8, block="pyramid", alpha=6, value_hidden=16)
    good = save_checkpoint(tmp_path / "good.safetensors", build_model(cfg, 5))
    bad = rewrite(good, tmp_path / "bad.safetensors", meta=lambda d: d["config"].update(edit))
    with pytest.raises(CheckpointError, match=fragment) as info:
        load_checkpoint(bad)
    assert str(bad) in str(info.value)
