"""Tests of nets.config, nets.zero, nets.lee and nets.models: the registry and its validation, output shapes for every
registered network, parameter counts against the architecture, masked softmax, and tiny nets overfitting a fixed
batch (which proves the wiring from input planes to both heads)."""

from __future__ import annotations

import dataclasses
import sys

import pytest
import torch

from igo.nets.config import (
    CONFIGS,
    LeePolicyConfig,
    LeeValueConfig,
    RolloutConfig,
    ZeroConfig,
    config_from_dict,
    config_to_dict,
    describe,
    get_config,
)
from igo.nets.lee import LeePolicyNet, LeeValueNet
from igo.nets.models import build_model, masked_log_softmax, parameter_count
from igo.nets.zero import ZeroNet

torch.set_num_threads(1)

NEURAL = [name for name, c in CONFIGS.items() if c.kind != "rollout"]
# too slow to run forward at 19x19 in a unit test (they are counted on the meta device instead)
BIG = {"zero-b20c256", "zero-b40c256", "lee-policy-256", "zero-b15c192", "lee-value-192", "lee-policy-192"}


# --- parameter counts from the architecture --------------------------------------------------------------------------


def conv(cin: int, cout: int, k: int, bias: bool) -> int:
    return cin * cout * k * k + (cout if bias else 0)


def bn(c: int) -> int:
    return 2 * c  # weight and bias; running statistics are buffers


def linear(i: int, o: int) -> int:
    return i * o + o


def expected_parameters(cfg, n: int) -> int:
    n2 = n * n
    if isinstance(cfg, ZeroConfig):
        c = cfg.channels
        total = conv(cfg.input_planes, c, 3, False) + bn(c)
        if cfg.block in ("basic", "preact"):
            total += cfg.blocks * 2 * (conv(c, c, 3, False) + bn(c))
            if cfg.block == "preact":
                total += bn(c)  # the tower's closing BN
        elif cfg.block != "bottleneck":  # wide, pyramid, mobile: counted from their papers in test_variants
            from .test_variants import expected_parameters as variant_parameters

            return variant_parameters(cfg, n)
        else:
            m = cfg.bottleneck_channels or c // 2
            total += cfg.blocks * (conv(c, m, 1, False) + bn(m) + conv(m, m, 3, False) + bn(m) + conv(m, c, 1, False)
                                   + bn(c))
        total += conv(c, cfg.policy_filters, 1, False) + bn(cfg.policy_filters)
        total += linear(cfg.policy_filters * n2, n2 + 1)
        total += conv(c, cfg.value_filters, 1, False) + bn(cfg.value_filters)
        total += linear(cfg.value_filters * n2, cfg.value_hidden) + linear(cfg.value_hidden, 1)
        return total
    if isinstance(cfg, LeePolicyConfig):
        f = cfg.filters
        return (conv(48, f, cfg.first_kernel, True) + (cfg.layers - 2) * conv(f, f, 3, True) + conv(f, 1, 1, False)
                + n2)
    if isinstance(cfg, LeeValueConfig):
        f = cfg.filters
        return (conv(49, f, 5, True) + (cfg.layers - 2) * conv(f, f, 3, True) + conv(f, 1, 1, True)
                + linear(n2, cfg.hidden) + linear(cfg.hidden, 1))
    raise AssertionError(cfg)


def meta_model(name: str, n: int):
    with torch.device("meta"):
        return build_model(get_config(name), n)


@pytest.mark.parametrize("name", NEURAL)
@pytest.mark.parametrize("n", [9, 19])
def test_parameter_count_matches_the_architecture(name, n):
    model = meta_model(name, n)
    assert parameter_count(model) == expected_parameters(get_config(name), n)


def test_known_sizes():
    # AlphaGo's 192-filter SL policy net: ~3.9M weights (13 layers; the 5x5 first layer over 48 planes)
    lee = parameter_count(meta_model("lee-policy-192", 19))
    assert lee == expected_parameters(get_config("lee-policy-192"), 19)
    assert 3.8e6 < lee < 4.0e6
    # AlphaGo Zero's 20-block tower: 40 3x3 convs of 256x256 (23.6M) plus stem and heads
    zero = parameter_count(meta_model("zero-b20c256", 19))
    assert 40 * 256 * 256 * 9 < zero < 25e6
    assert zero == expected_parameters(get_config("zero-b20c256"), 19)


# --- shapes ----------------------------------------------------------------------------------------------------------


def planes(cfg, batch: int, n: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(batch, cfg.input_planes, n, n, generator=g) < 0.3).float()


@pytest.mark.parametrize("name", NEURAL)
@pytest.mark.parametrize("n", [9, 19])
def test_every_registered_net_builds_with_the_right_output_shapes(name, n):
    cfg = get_config(name)
    if n == 19 and name in BIG:
        model = meta_model(name, n)
        x = torch.empty(2, cfg.input_planes, n, n, device="meta")
    else:
        torch.manual_seed(0)
        model = build_model(cfg, n)
        x = planes(cfg, 2, n)
    assert model.config is cfg and model.board_size == n
    with torch.no_grad():
        out = model.eval()(x)
    if cfg.kind == "zero":
        assert isinstance(model, ZeroNet)
        p, v = out
        assert p.shape == (2, n * n + 1) and v.shape == (2,)
    elif cfg.kind == "lee-policy":
        assert isinstance(model, LeePolicyNet)
        assert out.shape == (2, n * n)
    else:
        assert isinstance(model, LeeValueNet)
        assert out.shape == (2,)
    if x.device.type != "meta":
        values = out[1] if cfg.kind == "zero" else out if cfg.kind == "lee-value" else None
        if values is not None:
            assert torch.all(values.abs() <= 1)
        for t in out if isinstance(out, tuple) else (out,):
            assert torch.isfinite(t).all()


def test_lee_policy_has_a_per_point_bias():
    model = build_model(get_config("lee-policy-tiny"), 7)
    assert model.point_bias.shape == (49,)
    assert model.head.bias is None
    assert "point_bias" in dict(model.named_parameters())
    with torch.no_grad():
        model.point_bias[10] = 5.0
        x = torch.zeros(1, 48, 7, 7)
        logits = model(x)
    assert int(logits.argmax()) == 10  # zero input: the trunk is constant over the board, the bias decides


def test_preact_and_bottleneck_blocks():
    pre = build_model(get_config("zero-b6c64-preact"), 9)
    assert pre.tower_out is not None and len(pre.tower) == 6
    bott = build_model(get_config("zero-b6c64-bottleneck"), 9)
    assert bott.tower[0].conv2.weight.shape == (32, 32, 3, 3)
    custom = build_model(ZeroConfig("b", 2, 16, block="bottleneck", bottleneck_channels=4), 5)
    assert custom.tower[0].conv1.weight.shape == (4, 16, 1, 1)
    p, v = custom(torch.zeros(3, 17, 5, 5))
    assert p.shape == (3, 26) and v.shape == (3,)


def test_zero_history_changes_the_input_planes():
    cfg = ZeroConfig("h", 1, 8, history=2)
    assert cfg.input_planes == 5 and cfg.feature_set == "zero2"
    model = build_model(cfg, 5)
    assert model.stem[0].weight.shape[1] == 5


def test_channels_last_and_bf16_autocast_on_cpu():
    torch.manual_seed(0)
    model = build_model(get_config("zero-tiny"), 9).eval()
    x = planes(model.config, 4, 9)
    with torch.no_grad():
        p0, v0 = model(x)
        cl = model.to(memory_format=torch.channels_last)
        p1, v1 = cl(x.to(memory_format=torch.channels_last))
        with torch.autocast("cpu", dtype=torch.bfloat16):
            p2, v2 = cl(x.to(memory_format=torch.channels_last))
    assert torch.allclose(p0, p1, atol=1e-5) and torch.allclose(v0, v1, atol=1e-5)
    assert p2.dtype == torch.bfloat16
    assert torch.allclose(p0, p2.float(), atol=0.1, rtol=0.05) and torch.allclose(v0, v2.float(), atol=0.05)


def test_bf16_weights_forward():
    model = build_model(get_config("lee-value-tiny"), 5).to(torch.bfloat16)
    v = model(torch.zeros(2, 49, 5, 5, dtype=torch.bfloat16))
    assert v.dtype == torch.bfloat16 and v.shape == (2,)


def test_build_model_refuses_bad_board_sizes():
    cfg = get_config("zero-tiny")
    for bad in (1, 26, 0, 9.0, True, "9"):
        with pytest.raises(ValueError, match="board_size"):
            build_model(cfg, bad)
    assert build_model(cfg, 2).board_size == 2
    with pytest.raises(ValueError, match="not a network config"):
        build_model({"kind": "zero"}, 9)


def test_rollout_needs_nets_rollout(monkeypatch):
    monkeypatch.setitem(sys.modules, "igo.nets.rollout", None)  # import of nets.rollout fails
    with pytest.raises(ImportError, match="igo.nets.rollout"):
        build_model(get_config("rollout"), 9)


# --- masked softmax --------------------------------------------------------------------------------------------------


def test_masked_log_softmax():
    g = torch.Generator().manual_seed(1)
    logits = torch.randn(4, 10, generator=g) * 5
    mask = torch.rand(4, 10, generator=g) < 0.5
    mask[:, 0] = True
    mask[3] = False  # a row with no legal move
    logp = masked_log_softmax(logits, mask)
    assert torch.isfinite(logp).all()
    p = logp.exp()
    assert torch.all(p[:3][~mask[:3]] == 0)
    assert torch.allclose(p.sum(-1), torch.ones(4))
    ref = torch.log_softmax(logits[0][mask[0]], -1)
    assert torch.allclose(logp[0][mask[0]], ref)
    # a cross-entropy with zero targets on the illegal moves is finite and has finite gradients
    logits.requires_grad_(True)
    target = torch.where(mask, 1.0, 0.0)
    target = target / target.sum(-1, keepdim=True).clamp(min=1)
    loss = -(target * masked_log_softmax(logits, mask)).sum(-1).mean()
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(logits.grad).all()
    assert torch.all(logits.grad[~mask] == 0)


def test_masked_log_softmax_broadcast_and_half():
    logits = torch.randn(3, 5, dtype=torch.bfloat16)
    mask = torch.tensor([True, False, True, False, True])
    logp = masked_log_softmax(logits, mask)
    assert logp.dtype == torch.float32 and torch.isfinite(logp).all()
    assert torch.all(logp.exp()[:, ~mask] == 0)
    assert torch.isfinite(masked_log_softmax(torch.randn(2, 4, dtype=torch.float16), torch.zeros(4))).all()


# --- configs ---------------------------------------------------------------------------------------------------------


def test_registry_names_and_kinds():
    for name in ("zero-tiny", "zero-b2c32", "zero-b6c64", "zero-b10c128", "zero-b15c192", "zero-b20c256",
                 "zero-b40c256", "zero-b6c64-preact", "zero-b6c64-bottleneck", "lee-policy-tiny", "lee-policy-128",
                 "lee-policy-192", "lee-policy-256", "lee-value-tiny", "lee-value-192", "rollout", "tree"):
        cfg = get_config(name)
        assert cfg.name == name
    assert get_config("tree").tree and not get_config("rollout").tree
    assert get_config("zero-b6c64").feature_set == "zero8" and get_config("zero-b6c64").input_planes == 17
    assert get_config("lee-policy-192").feature_set == "alphago48" and get_config("lee-policy-192").input_planes == 48
    assert get_config("lee-value-192").feature_set == "alphago49" and get_config("lee-value-192").input_planes == 49
    assert get_config("rollout").feature_set == "patterns"
    with pytest.raises(ValueError, match="zero-b6c64"):
        get_config("zero-b7c64")


@pytest.mark.parametrize("name", list(CONFIGS))
def test_config_round_trip_and_describe(name):
    cfg = get_config(name)
    d = config_to_dict(cfg)
    assert d["kind"] == cfg.kind and d["name"] == name
    assert set(d) == {"kind"} | {f.name for f in dataclasses.fields(cfg)}
    assert config_from_dict(d) == cfg
    line = describe(cfg)
    assert name in line and "\n" not in line


def test_configs_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        get_config("zero-tiny").blocks = 3


@pytest.mark.parametrize(
    "make, field",
    [
        (lambda: ZeroConfig("z", 0, 8), "blocks"),
        (lambda: ZeroConfig("z", 1, -8), "channels"),
        (lambda: ZeroConfig("z", 1, 8, block="dense"), "block"),
        (lambda: ZeroConfig("z", 1, 8, history=0), "history"),
        (lambda: ZeroConfig("z", 1, 8, history=17), "history"),
        (lambda: ZeroConfig("z", 1, 8, policy_filters=0), "policy_filters"),
        (lambda: ZeroConfig("z", 1, 8, value_filters=0), "value_filters"),
        (lambda: ZeroConfig("z", 1, 8, value_hidden=0), "value_hidden"),
        (lambda: ZeroConfig("z", 1, 8, block="bottleneck", bottleneck_channels=0), "bottleneck_channels"),
        (lambda: ZeroConfig("z", 1, 8, bottleneck_channels=4), "bottleneck_channels"),
        (lambda: ZeroConfig("z", 1.5, 8), "blocks"),
        (lambda: ZeroConfig("", 1, 8), "name"),
        (lambda: LeePolicyConfig("p", filters=0), "filters"),
        (lambda: LeePolicyConfig("p", layers=1), "layers"),
        (lambda: LeePolicyConfig("p", first_kernel=4), "first_kernel"),
        (lambda: LeeValueConfig("v", hidden=0), "hidden"),
        (lambda: LeeValueConfig("v", layers=True), "layers"),
        (lambda: RolloutConfig("r", tree=1), "tree"),
    ],
)
def test_bad_configs_name_the_field(make, field):
    with pytest.raises(ValueError, match=field):
        make()


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda d: d.pop("kind"), "kind"),
        (lambda d: d.update(kind="resnet"), "unknown network config kind"),
        (lambda d: d.update(kind=3), "unknown network config kind"),
        (lambda d: d.update(depth=3), "depth"),
        (lambda d: d.pop("blocks"), "blocks"),
        (lambda d: d.pop("name"), "name"),
        (lambda d: d.update(channels="64"), "channels"),
        (lambda d: d.update(channels=64.0), "channels"),
        (lambda d: d.update(channels=True), "channels"),
        (lambda d: d.update(block=3), "block"),
        (lambda d: d.update(bottleneck_channels="8"), "bottleneck_channels"),
        (lambda d: d.update(history=40), "history"),
        (lambda d: d.update(kind="lee-policy"), "blocks"),  # zero fields in a lee-policy config
    ],
)
def test_bad_config_dicts(edit, message):
    d = config_to_dict(get_config("zero-b6c64"))
    edit(d)
    with pytest.raises(ValueError, match=message):
        config_from_dict(d)


def test_config_from_dict_defaults_and_non_dicts():
    assert config_from_dict({"kind": "zero", "name": "x", "blocks": 1, "channels": 4}) == ZeroConfig("x", 1, 4)
    assert config_from_dict({"kind": "rollout", "name": "tree", "tree": True}) == get_config("tree")
    with pytest.raises(ValueError, match="tree"):
        config_from_dict({"kind": "rollout", "name": "t", "tree": "yes"})
    with pytest.raises(ValueError, match="JSON object"):
        config_from_dict(["zero"])


# --- tiny nets overfit a fixed batch ---------------------------------------------------------------------------------


def fixed_batch(cfg, n: int, batch: int = 8, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    x = (torch.rand(batch, cfg.input_planes, n, n, generator=g) < 0.4).float()
    moves = n * n + (1 if cfg.kind == "zero" else 0)
    policy = torch.softmax(3 * torch.randn(batch, moves, generator=g), -1)
    legal = torch.ones(batch, moves, dtype=torch.bool)
    legal[:, 3] = False  # one move illegal everywhere: its target mass is 0
    policy = torch.where(legal, policy, 0.0)
    policy = policy / policy.sum(-1, keepdim=True)
    value = torch.where(torch.rand(batch, generator=g) < 0.5, -1.0, 1.0)
    return x, policy, legal, value


def train(model, step_fn, steps: int = 250, lr: float = 0.01) -> tuple[float, float]:
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    first = None
    for _ in range(steps):
        opt.zero_grad()
        loss = step_fn()
        if first is None:
            first = loss.item()
        loss.backward()
        opt.step()
    return first, step_fn().item()


def test_zero_tiny_overfits_a_fixed_batch():
    torch.manual_seed(0)
    cfg = get_config("zero-tiny")
    model = build_model(cfg, 5)
    x, target, legal, z = fixed_batch(cfg, 5)
    entropy = float(-(target * torch.log(target.clamp(min=1e-30))).sum(-1).mean())
    parts = {}

    def losses():
        p, v = model(x)
        kl = -(target * masked_log_softmax(p, legal)).sum(-1).mean() - entropy
        mse = ((v - z) ** 2).mean()
        parts.update(kl=kl.item(), mse=mse.item())
        return kl + mse

    losses()
    start = dict(parts)
    train(model, losses, steps=300)
    assert parts["mse"] < 0.05 < start["mse"]
    assert parts["kl"] < 0.1 * start["kl"]


def test_lee_policy_tiny_overfits_fixed_moves():
    torch.manual_seed(0)
    cfg = get_config("lee-policy-tiny")
    model = build_model(cfg, 5)
    x, _, legal, _ = fixed_batch(cfg, 5)
    moves = torch.tensor([0, 24, 12, 7, 7, 18, 1, 20])

    def loss():
        return torch.nn.functional.nll_loss(masked_log_softmax(model(x), legal), moves)

    start, end = train(model, loss, steps=250)
    assert end < 0.1 < start
    assert torch.equal(model(x).argmax(-1), moves)


def test_lee_value_tiny_overfits_fixed_outcomes():
    torch.manual_seed(0)
    cfg = get_config("lee-value-tiny")
    model = build_model(cfg, 5)
    x, _, _, z = fixed_batch(cfg, 5)

    def loss():
        return ((model(x) - z) ** 2).mean()

    start, end = train(model, loss, steps=250)
    assert end < 0.05 < start
