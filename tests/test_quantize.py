"""Quantized checkpoints (igo issue 19, item 1): int8 (quantized kernels), bf16 and fp16 files round-trip through
safetensors + JSON without unpickling; the int8 network agrees with the float one; malformed quantized files are
refused with a clear error; ``igo model quantize`` (help, SGF / replay / random calibration) and the quantization and
sparsity lines of ``igo model info``."""

from __future__ import annotations

import contextlib
import io
import json
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors import safe_open

import igo.nets.checkpoint as ckpt
import igo.nets.quantize as quantize
from igo.cli import main
from igo.engine.board import Board
from igo.engine.planes import pack_planes
from igo.nets.checkpoint import CheckpointError, load_checkpoint, load_state, read_metadata, save_checkpoint
from igo.nets.config import get_config
from igo.nets.evaluator import NetEvaluator
from igo.nets.models import build_model
from igo.nets.quantize import QuantizedNet, random_positions
from igo.nets.quantize_file import quantize_checkpoint
from igo.nets.weights import model_to_numpy

from .checkpoint_helpers import header, rewrite

torch.set_num_threads(1)

SIZE = 5
CAL = {"source": "random", "path": None, "seed": 1}
SHARPEN = 4.0


def net(name: str = "zero-tiny", seed: int = 0):
    """A seeded network whose outputs are far from uniform, as a trained one's (a freshly initialised policy is
    nearly flat, and top-1 agreement would then measure ties): batch-norm statistics measured on random positions
    (so every layer's output is normalised, not near 0) and the output layers' weights scaled up."""
    torch.manual_seed(seed)
    model = build_model(get_config(name), SIZE)
    bns = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    with torch.no_grad():
        for bn in bns:
            bn.reset_running_stats()
            bn.momentum = None  # a cumulative average over the batch below
        model.train()
        model(torch.from_numpy(planes_for(model, 128, 100 + seed)))
        for name_ in ("policy_fc", "head", "value_fc2", "fc2"):
            layer = getattr(model, name_, None)
            if isinstance(layer, torch.nn.Linear | torch.nn.Conv2d):
                layer.weight.mul_(SHARPEN)
    return model.eval()


def planes_for(model, count: int, seed: int) -> np.ndarray:
    return random_positions(model.config.feature_set, SIZE, count, seed)


@pytest.fixture(scope="module")
def zero_file(tmp_path_factory) -> Path:
    return save_checkpoint(tmp_path_factory.mktemp("q") / "zero.safetensors", net(), step=7, komi=0.5)


@pytest.fixture(scope="module")
def int8_file(tmp_path_factory, zero_file) -> Path:
    out = tmp_path_factory.mktemp("q8") / "zero-int8.safetensors"
    quantize_checkpoint(zero_file, out, "int8", planes=planes_for(net(), 128, 1), calibration=CAL)
    return out


def fails(path: Path, *fragments: str, reader=load_checkpoint) -> str:
    with pytest.raises(CheckpointError) as info:
        reader(path)
    message = str(info.value)
    assert str(path) in message, message
    for fragment in fragments:
        assert fragment in message, message
    return message


def cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = main(list(args))
        except SystemExit as e:  # --help
            rc = e.code
    return rc, out.getvalue(), err.getvalue()


def no_pickle(monkeypatch) -> None:
    def refuse(*args, **kwargs):
        raise AssertionError("unpickling is not allowed")

    class RefusingUnpickler(pickle.Unpickler):  # a class: torch subclasses pickle.Unpickler when its compiler loads
        def __init__(self, *args, **kwargs):
            refuse()

    for mod, name in ((torch, "load"), (torch, "save"), (torch.serialization, "load"), (pickle, "load"),
                      (pickle, "loads"), (pickle, "dump"), (pickle, "dumps")):  # fmt: skip
        monkeypatch.setattr(mod, name, refuse)
    monkeypatch.setattr(pickle, "Unpickler", RefusingUnpickler)


def test_command_constants_match_the_library():
    from igo import model_quantize_cmd as cmd

    assert cmd.MODES == quantize.MODES and cmd.MAX_POSITIONS == quantize.MAX_CALIBRATION_POSITIONS


# --- round trips without pickle -------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["zero-tiny", "lee-policy-tiny", "lee-value-tiny"])
def test_int8_round_trip_without_pickle(tmp_path, monkeypatch, name):
    model = net(name)
    src = save_checkpoint(tmp_path / "f.safetensors", model, step=3)
    x = torch.from_numpy(planes_for(model, 16, 9))
    no_pickle(monkeypatch)
    meta, qnet = quantize_checkpoint(src, tmp_path / "q.safetensors", "int8", planes=planes_for(model, 64, 1),
                                     calibration=CAL)  # fmt: skip
    assert meta.quantization["mode"] == "int8" and meta.format_version == 2 and meta.parent == str(src)
    loaded, meta2 = load_checkpoint(tmp_path / "q.safetensors")
    assert isinstance(loaded, QuantizedNet) and meta2.quantization == meta.quantization and meta2.step == 3
    assert loaded.config == model.config and loaded.board_size == SIZE
    with torch.inference_mode():
        a, b = qnet(x), loaded(x)
    for u, v in zip(a if isinstance(a, tuple) else (a,), b if isinstance(b, tuple) else (b,), strict=True):
        assert u.dtype == torch.float32 and torch.equal(u, v)  # the file holds exactly the network
    with safe_open(str(tmp_path / "q.safetensors"), framework="pt") as f:
        first = "stem.0.weight" if name == "zero-tiny" else "trunk.0.weight"
        assert f.get_slice(first).get_dtype() == "I8" and f.get_slice(first + ".q_scale").get_dtype() == "F32"
    assert (tmp_path / "q.safetensors").read_bytes()[:1] != b"\x80"
    if name == "lee-policy-tiny":  # the policy-only player's path
        from igo.nets.player import torch_policy

        logits = torch_policy(loaded)(x.numpy())
        assert logits.dtype == np.float32 and logits.shape == (16, SIZE * SIZE)


@pytest.mark.parametrize("mode, stored", [("bf16", torch.bfloat16), ("fp16", torch.float16)])
def test_half_round_trip_without_pickle(tmp_path, zero_file, monkeypatch, mode, stored):
    no_pickle(monkeypatch)
    out = tmp_path / f"{mode}.safetensors"
    meta, loaded = quantize_checkpoint(zero_file, out, mode)
    assert meta.format_version == 1 and meta.quantization == {"mode": mode, "bits": 16, "scheme": "cast",
                                                              "source": str(zero_file), "source_step": 7}  # fmt: skip
    assert meta.komi == 0.5 and read_metadata(out).quantization["mode"] == mode
    tensors, _ = load_state(out)
    original, _ = load_state(zero_file)
    params = {k for k, _ in net().named_parameters()}
    for k, t in tensors.items():
        if k in params:
            assert t.dtype == stored and torch.equal(t, original[k].to(stored)), k
        else:  # batch-norm statistics stay as they were
            assert torch.equal(t, original[k]), k
    model, _ = load_checkpoint(out)
    assert all(p.dtype == torch.float32 for p in model.parameters())  # loaded back to float32
    assert out.stat().st_size < 0.6 * zero_file.stat().st_size


def test_int8_file_is_a_quarter_of_the_float_one(tmp_path):
    # zero-b2c32 on 5x5: the convolutions dominate, as in real networks (zero-tiny is mostly biases and scales)
    torch.manual_seed(0)
    model = build_model(get_config("zero-b2c32"), SIZE)
    src = save_checkpoint(tmp_path / "f.safetensors", model)
    quantize_checkpoint(src, tmp_path / "q.safetensors", "int8", planes=planes_for(model, 32, 1), calibration=CAL)
    assert (tmp_path / "q.safetensors").stat().st_size < 0.33 * src.stat().st_size


def test_fp16_refuses_values_it_cannot_hold(tmp_path):
    model = net()
    with torch.no_grad():
        model.value_fc1.weight[0, 0] = 1e5
    src = save_checkpoint(tmp_path / "f.safetensors", model)
    with pytest.raises(ValueError, match="value_fc1.weight.*fp16"):
        quantize_checkpoint(src, tmp_path / "q.safetensors", "fp16")
    quantize_checkpoint(src, tmp_path / "q.safetensors", "bf16")  # bf16 has float32's range


def test_a_quantized_checkpoint_is_not_quantized_again(tmp_path, int8_file):
    with pytest.raises(ValueError, match="already quantized"):
        quantize_checkpoint(int8_file, tmp_path / "again.safetensors", "bf16")


# --- agreement with the float network --------------------------------------------------------------------------------

# Tolerances, on 256 random legal 5x5 positions not used for calibration (the test net's mean top probability is
# about 0.3, as a trained net's): int8 top-1 agreement >= 85%, every probability within 0.12 of float32's, value MSE
# <= 5e-3; bf16 weights >= 97%, 0.03, 1e-4; fp16 weights >= 99%, 0.005, 1e-6. Measured (torch 2.13, x86 engine):
# int8 93.4% / 0.036 / 5.6e-4; bf16 99.6% / 0.0078 / 6.0e-6; fp16 100% / 0.0009 / 7.5e-8.


def agreement(ref, other, x) -> tuple[float, float, float]:
    with torch.inference_mode():
        (la, va), (lb, vb) = ref(x), other(x)
    pa, pb = la.softmax(1), lb.softmax(1)
    top1 = (pa.argmax(1) == pb.argmax(1)).float().mean().item()
    return top1, (pa - pb).abs().max().item(), ((va - vb) ** 2).mean().item()


@pytest.mark.parametrize("mode, top1, dp, mse", [("int8", 0.85, 0.12, 5e-3), ("bf16", 0.97, 0.03, 1e-4),
                                                 ("fp16", 0.99, 0.005, 1e-6)])  # fmt: skip
def test_quantized_policy_agrees_with_float(tmp_path, zero_file, int8_file, mode, top1, dp, mse):
    ref, _ = load_checkpoint(zero_file)
    if mode == "int8":
        other, _ = load_checkpoint(int8_file)
    else:
        _, other = quantize_checkpoint(zero_file, tmp_path / "h.safetensors", mode)
    x = torch.from_numpy(planes_for(ref, 256, 12345))
    got_top1, got_dp, got_mse = agreement(ref, other, x)
    assert got_top1 >= top1 and got_dp <= dp and got_mse <= mse, (got_top1, got_dp, got_mse)
    if mode == "int8":  # and it is not the float network under another name
        assert got_dp > 0


def test_int8_net_in_the_evaluator(zero_file, int8_file):
    ref, _ = load_checkpoint(zero_file)
    qnet, _ = load_checkpoint(int8_file)
    x = planes_for(ref, 32, 4)
    legal = np.ones((32, SIZE * SIZE + 1), np.bool_)
    sym = np.zeros(32, np.int64)
    base = NetEvaluator(ref, size=SIZE, device="cpu", dtype="fp32", symmetry="none", threads=1, cache_size=0)
    p0, v0 = base.evaluate_planes(x, legal, sym)
    for dtype in ("fp32", "bf16"):  # the int8 net computes in its own precision whatever the evaluator's dtype
        ev = NetEvaluator(qnet, size=SIZE, device="cpu", dtype=dtype, symmetry="none", threads=1, cache_size=0)
        p, v = ev.evaluate_planes(x, legal, sym)
        assert p.dtype == np.float32 and np.allclose(p.sum(1), 1, atol=1e-5)
        assert np.abs(p - p0).max() < 0.15 and np.abs(v - v0).max() < 0.2
    assert torch.get_num_threads() == 1


def test_int8_net_is_cpu_and_inference_only(int8_file):
    qnet, _ = load_checkpoint(int8_file)
    assert qnet.to("cpu", dtype=torch.bfloat16) is qnet
    with pytest.raises(ValueError, match="CPU only"):
        qnet.to("meta")
    with pytest.raises(ValueError, match="inference only"):
        qnet.train()
    with pytest.raises(ValueError, match="quantization.source"):
        model_to_numpy(qnet)
    with pytest.raises(CheckpointError, match="CPU only"):
        load_checkpoint(int8_file, device="meta")


# --- malformed quantized files ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "edit, fragments",
    [
        (lambda t: t.update({"stem.0.weight": t["stem.0.weight"].float()}), ("stem.0.weight", "dtype F32", "I8")),
        (lambda t: t.update({"stem.0.weight.q_scale": t["stem.0.weight.q_scale"].double()}), ("dtype F64",)),
        (lambda t: t.update({"stem.0.weight": t["stem.0.weight"][:, :-1].contiguous()}), ("stem.0.weight", "shape")),
        (lambda t: t.pop("stem.0.weight.q_scale"), ("missing tensor", "q_scale")),
        (lambda t: t.update({"extra": torch.zeros(1)}), ("unexpected tensor", "extra")),
        (lambda t: t["stem.0.weight.q_scale"].__setitem__(0, -1.0), ("scale", "finite and positive")),
        (lambda t: t["stem.0.weight.q_scale"].__setitem__(0, float("nan")), ("non-finite",)),
        (lambda t: t["stem.0.weight.q_zero_point"].__setitem__(0, 300), ("zero point", "-128..127")),
        (lambda t: t.update({"stem.0.zero_point": torch.tensor(-4)}), ("zero point", "0..255")),
    ],
)
def test_malformed_int8_tensors_are_refused(tmp_path, int8_file, edit, fragments):
    bad = rewrite(int8_file, tmp_path / "bad.safetensors", tensors=edit)
    fails(bad, *fragments)
    fails(bad, *fragments, reader=load_state)


@pytest.mark.parametrize(
    "edit, fragment",
    [
        (lambda d: d["quantization"].update(mode="int4"), "'mode' must be one of"),
        (lambda d: d["quantization"].update(bits=4), "'bits' of mode int8 must be 8"),
        (lambda d: d["quantization"].update(engine="qnnpack"), "'engine'"),
        (lambda d: d["quantization"]["calibration"].update(positions=0), "calibration.positions"),
        (lambda d: d["quantization"].update(calibration="x"), "'calibration' must be an object"),
        (lambda d: d.update(quantization=[1]), "must be a JSON object"),
        (lambda d: d.update(format_version=1), "format_version 2"),
        (lambda d: d.pop("quantization"), "has no quantization"),
    ],
)
def test_malformed_quantization_metadata_is_refused(tmp_path, int8_file, edit, fragment):
    bad = rewrite(int8_file, tmp_path / "bad.safetensors", meta=edit)
    fails(bad, fragment, reader=read_metadata)


def test_a_huge_int8_claim_is_refused_before_building(tmp_path, int8_file, monkeypatch):
    def big(d):
        d["config"].update(name="zero-b20c256", blocks=20, channels=256)
        d["parameters"] = 0

    bad = rewrite(int8_file, tmp_path / "huge.safetensors", meta=big)

    def spy(*args, **kwargs):
        raise AssertionError("the quantized network was built before the file's size was checked")

    monkeypatch.setattr(quantize, "int8_skeleton", spy)
    fails(bad, "bytes of int8 weights", "more than the file")


def test_an_int8_file_of_another_layout_is_refused(tmp_path, int8_file):
    # the header of a zero-tiny int8 file relabelled as a zero-b2c32 one: same kind, other tensors
    def other(d):
        d["config"].update(name="zero-b2c32", blocks=2, channels=32, value_hidden=256)
        d["parameters"] = 0

    bad = rewrite(int8_file, tmp_path / "other.safetensors", meta=other)
    fails(bad)


def test_header_of_a_written_int8_file(int8_file):
    d = header(int8_file)
    q = d["quantization"]
    assert d["format_version"] == 2 and q["mode"] == "int8" and q["bits"] == 8 and q["engine"] in ("x86", "fbgemm")
    assert q["calibration"] == {"source": "random", "path": None, "seed": 1, "positions": 128}
    assert q["torch"] == torch.__version__ and q["source_step"] == 7


# --- the command -----------------------------------------------------------------------------------------------------


def test_quantize_help():
    rc, out, _ = cli("model", "quantize", "--help")
    assert rc == 0
    for text in ("--mode {int8,bf16,fp16}", "--calibration", "--positions", "examples:", "safetensors"):
        assert text in out, text


def random_sgf(seed: int, moves: int = 14) -> str:
    rng = np.random.default_rng(seed)
    board = Board(SIZE)
    nodes = []
    for _ in range(moves):
        legal = np.flatnonzero(board.legal_mask()[:-1])
        f = int(rng.choice(legal))
        r, c = divmod(f, SIZE)
        nodes.append(f";{'B' if board.to_move == 1 else 'W'}[{chr(97 + c)}{chr(97 + r)}]")
        board.play((r, c))
    return f"(;GM[1]FF[4]SZ[{SIZE}]KM[0.5]RE[B+1]{''.join(nodes)})"


def test_quantize_command_on_sgf_games(tmp_path, zero_file):
    games = tmp_path / "games"
    games.mkdir()
    for i in range(6):
        (games / f"g{i}.sgf").write_text(random_sgf(i))
    (games / "big.sgf").write_text("(;GM[1]SZ[19];B[pd])")  # another size: skipped
    out = tmp_path / "q.safetensors"
    rc, text, err = cli("model", "quantize", str(zero_file), "-o", str(out), "--calibration", str(games),
                        "--positions", "40")  # fmt: skip
    assert rc == 0, err
    assert "calibration: 40 positions from 6 SGF games" in text and "wrote" in text and "policy top-1" in text
    assert "calibrating: 40 / 40 positions" in text
    q = read_metadata(out).quantization
    assert q["calibration"] == {"source": "sgf", "path": str(games), "seed": 0, "positions": 40}
    assert isinstance(load_checkpoint(out)[0], QuantizedNet)
    rc, _, err = cli("model", "quantize", str(zero_file), "-o", str(out), "--calibration", str(games))
    assert rc == 1 and "exists" in err


def test_quantize_command_on_a_replay_directory(tmp_path, zero_file):
    replay = tmp_path / "run" / "replay"
    replay.mkdir(parents=True)
    planes = planes_for(net(), 30, 3)
    np.savez_compressed(replay / "chunk-00000000.npz", planes=pack_planes(planes), game_lengths=np.array([10, 20]),
                        size=np.int32(SIZE), num_planes=np.int32(planes.shape[1]),
                        policy=np.zeros((30, SIZE * SIZE + 1), np.float16), value=np.zeros(30, np.float16))  # fmt: skip
    (replay / "chunk-00000001.npz").write_bytes(b"not a zip")  # unreadable: skipped with a warning
    out = tmp_path / "q.safetensors"
    rc, text, err = cli("model", "quantize", str(zero_file), "-o", str(out), "--calibration", str(tmp_path / "run"))
    assert rc == 0, err
    assert "30 positions from 2 games of the replay chunks" in text
    assert read_metadata(out).quantization["calibration"]["source"] == "replay"


def test_quantize_command_without_calibration_warns(tmp_path, zero_file):
    out = tmp_path / "q.safetensors"
    rc, text, err = cli("model", "quantize", str(zero_file), "-o", str(out), "--positions", "16")
    assert rc == 0, err
    assert "warning" in err and "random legal play" in err
    assert read_metadata(out).quantization["calibration"]["source"] == "random"


@pytest.mark.parametrize(
    "args, fragment",
    [
        (("--mode", "bf16", "--calibration", "."), "--calibration is for int8"),
        (("--positions", "0"), "--positions"),
        (("--calibration", "/nonexistent/dir"), "not a directory"),
    ],
)
def test_quantize_command_refuses_bad_options(tmp_path, zero_file, args, fragment):
    rc, _, err = cli("model", "quantize", str(zero_file), "-o", str(tmp_path / "q.safetensors"), *args)
    assert rc == 1 and fragment in err, err


def test_bf16_through_the_command(tmp_path, zero_file):
    out = tmp_path / "b.safetensors"
    rc, text, err = cli("model", "quantize", str(zero_file), "-o", str(out), "--mode", "bf16")
    assert rc == 0, err
    assert "bf16 (16-bit weights)" in text and "calibration" not in text


# --- igo model info ---------------------------------------------------------------------------------------------------


def test_model_info_shows_sparsity(tmp_path):
    model = net()
    with torch.no_grad():
        w = model.tower[0].conv1.weight
        w.view(-1)[: w.numel() // 2] = 0  # half of one layer's weights
    path = save_checkpoint(tmp_path / "sparse.safetensors", model)
    rc, out, err = cli("model", "info", str(path))
    assert rc == 0, err
    lines = [line for line in out.splitlines() if "tower.0.conv1.weight" in line]
    assert len(lines) == 1 and "50.0%" in lines[0] and "(288 of 576)" in lines[0]
    assert "sparsity     1 of " in out and "tower.0.conv2.weight" not in out
    rc, out, err = cli("model", "info", str(path), "--json")
    s = json.loads(out)["sparsity"]
    assert list(s) == ["tower.0.conv1.weight"] and s["tower.0.conv1.weight"] == {"zeros": 288, "weights": 576,
                                                                                 "fraction": 0.5}  # fmt: skip


def test_model_info_without_zeros_has_no_sparsity_lines(zero_file):
    rc, out, _ = cli("model", "info", str(zero_file))
    assert rc == 0 and "sparsity" not in out and "quantized" not in out


def test_model_info_of_an_int8_file(tmp_path, int8_file):
    rc, out, err = cli("model", "info", str(int8_file))
    assert rc == 0, err
    assert "quantized    int8 (8-bit weights; fx-static-x86" in out
    assert "calibration        128 positions, random, seed 1" in out
    rc, out, _ = cli("model", "info", str(int8_file), "--json")
    assert json.loads(out)["quantization"]["bits"] == 8


def test_model_info_counts_int8_zeros_at_their_zero_point(tmp_path, zero_file):
    model, _ = load_checkpoint(zero_file)
    with torch.no_grad():
        model.tower[0].conv2.weight.zero_()  # pruned away: zero after quantization too
    src = save_checkpoint(tmp_path / "pruned.safetensors", model)
    out = tmp_path / "pruned-int8.safetensors"
    quantize_checkpoint(src, out, "int8", planes=planes_for(model, 32, 2), calibration=CAL)
    rc, text, _ = cli("model", "info", str(out))
    line = next(x for x in text.splitlines() if "tower.0.conv2.weight" in x)
    assert "100.0%" in line


def test_int8_checkpoint_plays_through_the_player(int8_file):
    from igo.engine.options import PlayerOptions
    from igo.nets.player import build_evaluator

    ev = build_evaluator(PlayerOptions(model=str(int8_file), device="cpu", threads=1, nn_threads=1), SIZE)
    assert isinstance(ev.model, QuantizedNet) and ev.kind == "zero"


def test_loading_builds_the_quantized_graph_once(int8_file, monkeypatch):
    built = []
    real = quantize.int8_skeleton

    def count(*args, **kwargs):
        built.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(quantize, "int8_skeleton", count)
    load_checkpoint(int8_file)
    assert len(built) == 1
    assert ckpt.FORMAT_VERSION == 2 and ckpt.BASE_FORMAT_VERSION == 1


def test_bench_nn_of_an_int8_file_names_its_kernels_and_parameters(int8_file, capsys):
    """``igo bench nn --model INT8``: int8 kernels and the float network's parameter count, not "bfloat16" and "0
    parameters" (a QuantizedNet has no torch parameters)."""
    assert main(["bench", "nn", "--model", str(int8_file), "--batch", "1", "--seconds", "0.05", "--nn-threads", "1",
                 "--json"]) == 0  # fmt: skip
    captured = capsys.readouterr()
    fig = json.loads(captured.out.strip().splitlines()[-1])
    assert fig["dtype"] == "int8" and fig["parameters"] == sum(p.numel() for p in net().parameters())
    assert "int8 kernels" in captured.err and " 0 parameters" not in captured.err
