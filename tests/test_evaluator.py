"""Tests for nets.evaluator (NetEvaluator): batches from the search, masking, symmetries, cache, Lee and Zero nets,
the search playing with networks, and the CLI around models (igo model, igo bench nn, igo gtp --model)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from igo.engine import search as S
from igo.engine.board import BLACK, WHITE, Board
from igo.engine.pool import copy_to_slot, new_pool
from igo.engine.symmetry import NUM_SYMMETRIES, apply_planes, apply_policy
from igo.nets.checkpoint import save_checkpoint
from igo.nets.config import get_config
from igo.nets.evaluator import NetEvaluator
from igo.nets.models import build_model
from tests.test_search import RACE

torch.set_num_threads(1)


def net(name: str, size: int, seed: int = 0):
    torch.manual_seed(seed)
    return build_model(get_config(name), size)


def batch_of(boards: list[Board], history: int) -> S.LeafBatch:
    """A LeafBatch as the search makes it: pool states with simple ko, the boards' histories."""
    n = boards[0].size
    pool = new_pool(n, len(boards))
    for i, b in enumerate(boards):
        copy_to_slot(pool, i, b.state)
    hist = np.stack([b.history(history) for b in boards]).astype(np.int8)
    to_move = np.array([b.to_move for b in boards], np.int8)
    legal = np.zeros((len(boards), n * n + 1), np.bool_)
    for i, b in enumerate(boards):
        legal[i] = b.legal_mask()
    return S.LeafBatch(n, len(boards), pool, hist, to_move, legal)


def random_board(size: int, moves: int, seed: int) -> Board:
    rng = np.random.default_rng(seed)
    b = Board(size)
    for _ in range(moves):
        legal = b.legal_moves()
        if not legal:
            break
        b.play(legal[int(rng.integers(len(legal)))])
    return b


def transformed(board: Board, k: int) -> Board:
    """The board's position (no history) under symmetry k, same player to move."""
    stones = apply_planes(board.stones(), k)
    b = Board(board.size, board.komi)
    n = board.size
    black = [(r, c) for r in range(n) for c in range(n) if stones[r, c] == BLACK]
    white = [(r, c) for r in range(n) for c in range(n) if stones[r, c] == WHITE]
    from igo.engine.coords import rc_to_gtp

    b.setup(black=[rc_to_gtp(r, c, n) for r, c in black], white=[rc_to_gtp(r, c, n) for r, c in white])
    b.to_move = board.to_move
    return b


def setup_copy(board: Board) -> Board:
    return transformed(board, 0)


# --- shapes, masks -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [9, 19])
@pytest.mark.parametrize("models", [("zero-tiny",), ("lee-policy-tiny",), ("lee-policy-tiny", "lee-value-tiny"),
                                    (None, "lee-value-tiny")])  # fmt: skip
def test_priors_are_masked_and_normalised(size, models):
    policy = net(models[0], size) if models[0] else None
    value = net(models[1], size) if len(models) > 1 else None
    ev = NetEvaluator(policy, value, size=size, device="cpu", seed=1)
    boards = [random_board(size, k, seed=k) for k in (0, 5, 30)]
    batch = batch_of(boards, ev.history_length)
    priors, values = ev.evaluate(batch)
    assert priors.shape == (3, size * size + 1) and priors.dtype == np.float32
    assert values.shape == (3,) and np.all(np.abs(values) <= 1.0)
    assert np.all(priors[~batch.legal] == 0.0)
    np.testing.assert_allclose(priors.sum(1), 1.0, rtol=1e-5)
    assert np.all(priors[batch.legal] > 0)
    if not ev.has_value:
        assert np.all(values == 0.0)
    assert ev.has_policy == (models[0] is not None)


def test_only_pass_legal_gets_all_the_prior():
    ev = NetEvaluator(net("zero-tiny", 5), size=5, device="cpu")
    b = random_board(5, 3, seed=1)
    batch = batch_of([b], 8)
    batch.legal[:, :-1] = False
    priors, _ = ev.evaluate(batch)
    assert priors[0, -1] == pytest.approx(1.0)


def test_policy_temperature_sharpens_the_priors():
    model = net("zero-tiny", 5, seed=3)
    b = random_board(5, 6, seed=2)
    hot = NetEvaluator(model, size=5, device="cpu", symmetry="none", policy_temperature=2.0).evaluate(batch_of([b], 8))
    cold = NetEvaluator(model, size=5, device="cpu", symmetry="none", policy_temperature=0.5).evaluate(batch_of([b], 8))
    assert cold[0].max() > hot[0].max()
    np.testing.assert_allclose(hot[1], cold[1], atol=1e-6)


def test_bad_combinations_are_refused():
    with pytest.raises(ValueError, match="needs"):
        NetEvaluator(size=9)
    with pytest.raises(ValueError, match="own value head"):
        NetEvaluator(net("zero-tiny", 9), net("lee-value-tiny", 9), size=9)
    with pytest.raises(ValueError, match="9x9"):
        NetEvaluator(net("zero-tiny", 9), size=13)
    with pytest.raises(ValueError, match="lee-value"):
        NetEvaluator(net("lee-policy-tiny", 9), net("lee-policy-tiny", 9), size=9)
    with pytest.raises(ValueError, match="symmetry"):
        NetEvaluator(net("zero-tiny", 9), size=9, symmetry="some")
    with pytest.raises(ValueError, match="dtype"):
        NetEvaluator(net("zero-tiny", 9), size=9, dtype="fp8")


# --- symmetries and the cache --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["zero-tiny", "lee-policy-tiny"])
def test_averaging_all_symmetries_makes_the_policy_equivariant(name):
    # rotate the input, the output rotates: exact when the evaluator averages the 8 symmetries
    size = 7
    ev = NetEvaluator(net(name, size, seed=5), size=size, device="cpu", symmetry="all", cache_size=0)
    base = setup_copy(random_board(size, 14, seed=9))
    p0, v0 = ev.evaluate(batch_of([base], ev.history_length))
    for k in range(1, NUM_SYMMETRIES):
        pk, vk = ev.evaluate(batch_of([transformed(base, k)], ev.history_length))
        np.testing.assert_allclose(pk[0], apply_policy(p0[0], size, k), atol=1e-5)
        np.testing.assert_allclose(vk, v0, atol=1e-5)


def test_a_fixed_symmetry_changes_the_raw_policy_but_maps_back():
    # with symmetry k applied by the evaluator to the input, the policy it returns is in the original frame: it equals
    # the net's own output on the transformed position, transformed back
    size = 5
    model = net("zero-tiny", size, seed=2)
    ev = NetEvaluator(model, size=size, device="cpu", symmetry="random", cache_size=0, seed=0)
    b = setup_copy(random_board(size, 8, seed=4))
    batch = batch_of([b], ev.history_length)
    from igo.engine.features import FeatureEncoder

    planes = FeatureEncoder(ev._fs, size).encode(batch)
    legal = batch.legal
    for k in range(NUM_SYMMETRIES):
        pk, vk = ev.evaluate_planes(planes, legal, np.array([k]))
        tb = transformed(b, k)
        tplanes = FeatureEncoder(ev._fs, size).encode(batch_of([tb], ev.history_length))
        direct, dv = ev.evaluate_planes(tplanes, batch_of([tb], 8).legal, np.array([0]))
        np.testing.assert_allclose(apply_policy(pk[0], size, k), direct[0], atol=1e-5)
        np.testing.assert_allclose(vk, dv, atol=1e-5)


def test_cache_returns_the_same_answer_and_counts_hits():
    ev = NetEvaluator(net("zero-tiny", 9), size=9, device="cpu", seed=1)
    batch = batch_of([random_board(9, k, seed=k) for k in range(4)], 8)
    p1, v1 = ev.evaluate(batch)
    assert ev.stats.cache_hits == 0
    p2, v2 = ev.evaluate(batch)
    assert ev.stats.cache_hits == 4
    np.testing.assert_array_equal(p1, p2)
    np.testing.assert_array_equal(v1, v2)
    # a different player to move is a different position
    batch2 = batch_of([random_board(9, 3, seed=3)], 8)
    batch2.to_move[:] = 3 - batch2.to_move
    ev.evaluate(batch2)
    assert ev.stats.cache_hits == 4


def test_cache_is_bounded():
    ev = NetEvaluator(net("zero-tiny", 5), size=5, device="cpu", cache_size=3)
    ev.evaluate(batch_of([random_board(5, k, seed=k) for k in range(6)], 8))
    assert len(ev._cache) == 3


def test_bf16_and_channels_last_on_cpu_agree_with_fp32():
    model = net("zero-tiny", 9, seed=1)
    batch = batch_of([random_board(9, 20, seed=1)], 8)
    p32, v32 = NetEvaluator(model, size=9, device="cpu", symmetry="none").evaluate(batch)
    model = net("zero-tiny", 9, seed=1)
    p16, v16 = NetEvaluator(model, size=9, device="cpu", dtype="bf16", channels_last=True, symmetry="none").evaluate(
        batch
    )
    np.testing.assert_allclose(p16, p32, atol=0.02)
    np.testing.assert_allclose(v16, v32, atol=0.05)


# --- the search with networks --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "models, lam",
    [(("zero-tiny",), 0.5), (("lee-policy-tiny", "lee-value-tiny"), 0.5), (("lee-policy-tiny",), 1.0)],
)
def test_search_with_a_network_finds_the_forced_capture(models, lam):
    # two chains in mutual atari (tests/test_search.py): capturing at G4 wins, anything else loses. Untrained nets give
    # no help; the search must still find the capture through its rollouts mixed with the network's values (λ = 0.5)
    # or alone (λ = 1)
    b = Board.from_ascii(RACE, komi=7.5)
    value = net(models[1], 7) if len(models) > 1 else None
    ev = NetEvaluator(net(models[0], 7), value, size=7, device="cpu", seed=1)
    cfg = S.SearchConfig(lam=lam, n_vl=3)
    m = S.MCTS(7, 7.5, cfg, evaluator=ev, seed=2, threads=2, max_nodes=20_000)
    moves = m.search(b, 600)
    m.close()
    assert moves[0].move == "G4", [(x.move, x.visits, round(x.q, 2)) for x in moves[:5]]


def test_zero_search_with_a_net_runs_and_plays_legal_moves():
    ev = NetEvaluator(net("zero-tiny", 5), size=5, device="cpu", seed=1)
    m = S.MCTS(5, 7.5, S.SearchConfig.zero(), evaluator=ev, seed=1)
    b = Board(5)
    for _ in range(12):
        m.search(b, 40)
        move = m.choose_move(temperature=1.0)
        b.play(None if move == "pass" else move)
        m.advance(b)
        if b.is_over:
            break
    b.check()
    assert b.move_number >= 8  # it played a game (or most of one) on the net's moves
    # every position the cache did not hold went through the network (rows may include padding or symmetries)
    misses = ev.stats.positions - ev.stats.cache_hits
    assert ev.stats.calls > 0 and 0 < misses <= ev.stats.rows


# --- checkpoints through the player and the commands -----------------------------------------------------------------


def igo(*args, input_text: str | None = None, timeout: float = 240):
    return subprocess.run(
        [sys.executable, "-m", "igo.cli", *args], input=input_text, capture_output=True, text=True, timeout=timeout
    )


def test_igo_model_init_info_and_list(tmp_path):
    path = tmp_path / "z.safetensors"
    r = igo("model", "init", "--config", "zero-tiny", "--size", "9", "-o", str(path), "--seed", "1")
    assert r.returncode == 0, r.stderr
    assert "zero-tiny" in r.stdout and path.exists()
    r = igo("model", "info", str(path))
    assert r.returncode == 0, r.stderr
    assert "zero-tiny" in r.stdout and "9x9" in r.stdout and "parameters" in r.stdout
    r = igo("model", "info", str(path), "--json")
    meta = json.loads(r.stdout)
    assert meta["board_size"] == 9 and meta["config_name"] == "zero-tiny" and meta["step"] == 0
    r = igo("model", "init", "--config", "zero-tiny", "--size", "9", "-o", str(path))
    assert r.returncode == 1 and "exists" in r.stderr
    r = igo("model", "init", "--config", "zero-nonsense", "--size", "9", "-o", str(tmp_path / "x"))
    assert r.returncode == 1 and "zero-b6c64" in r.stderr  # the error lists the known names
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(path.read_bytes()[:100])
    r = igo("model", "info", str(bad))
    assert r.returncode == 1 and "bad.safetensors" in r.stderr
    r = igo("model", "list", "--size", "9")
    assert r.returncode == 0 and "zero-b20c256" in r.stdout and "lee-policy-192" in r.stdout


def test_igo_bench_nn_prints_figures():
    r = igo("bench", "nn", "--config", "zero-tiny", "--size", "5", "--batch", "1,4", "--seconds", "0.2", "--json")
    assert r.returncode == 0, r.stderr
    fig = json.loads(r.stdout.strip().splitlines()[-1])
    assert set(fig["positions_per_sec"]) == {"1", "4"} and all(v > 0 for v in fig["positions_per_sec"].values())
    r = igo("bench", "search-nn", "--config", "zero-tiny", "--size", "5", "--simulations", "32", "--seconds", "0.3",
            "--json")  # fmt: skip
    assert r.returncode == 0, r.stderr
    fig = json.loads(r.stdout.strip().splitlines()[-1])
    assert fig["simulations_per_sec"] > 0 and fig["us_network"] > 0 and fig["leaves_skipped_share"] == 0
    # rollouts only (λ = 1) expanding after 4 visits: most leaves need no network
    r = igo("bench", "search-nn", "--config", "zero-tiny", "--size", "5", "--simulations", "64", "--seconds", "0.3",
            "--lambda", "1", "--expand-after", "4", "--json")  # fmt: skip
    assert r.returncode == 0, r.stderr
    fig = json.loads(r.stdout.strip().splitlines()[-1])
    assert fig["expand_after"] == 4 and fig["leaves_skipped_share"] > 0.5


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    d = tmp_path_factory.mktemp("ckpt")
    out = {}
    for name in ("zero-tiny", "lee-policy-tiny", "lee-value-tiny", "rollout"):
        out[name] = d / f"{name}.safetensors"
        save_checkpoint(out[name], net(name, 9))
    return out


@pytest.mark.parametrize(
    "config",
    ["zero", "lee-value-only", "lee-rollouts-only", "lee-mixed", "rollout-policy"],
)
def test_igo_gtp_plays_with_each_configuration(checkpoints, config):
    model = {
        "zero": ["--model", str(checkpoints["zero-tiny"])],
        "lee-value-only": ["--model", str(checkpoints["lee-policy-tiny"]), "--value-model",
                           str(checkpoints["lee-value-tiny"]), "--lambda", "0"],
        "lee-rollouts-only": ["--model", str(checkpoints["lee-policy-tiny"]), "--lambda", "1"],
        "lee-mixed": ["--model", str(checkpoints["lee-policy-tiny"]), "--value-model",
                      str(checkpoints["lee-value-tiny"]), "--lambda", "0.5"],
        "rollout-policy": ["--model", str(checkpoints["lee-policy-tiny"]), "--value-model",
                           str(checkpoints["lee-value-tiny"]), "--rollout-policy", str(checkpoints["rollout"])],
    }[config]  # fmt: skip
    script = "1 genmove b\n2 genmove w\n3 genmove b\n4 boardsize 13\n5 boardsize 9\n6 showboard\n7 quit\n"
    r = igo("gtp", *model, "--playouts", "24", "--seed", "1", input_text=script)
    assert r.returncode == 0, r.stderr
    replies = r.stdout.split("\n\n")
    for i in (0, 1, 2):
        assert replies[i].startswith(f"={i + 1} "), r.stdout
    assert replies[3].startswith("?4 unacceptable size"), r.stdout
    assert replies[4] == "=5 "


def test_igo_gtp_refuses_bad_network_options(checkpoints, tmp_path):
    r = igo("gtp", "--model", str(checkpoints["zero-tiny"]), "--size", "13", input_text="")
    assert r.returncode == 1 and "9x9" in r.stderr
    r = igo("gtp", "--model", str(checkpoints["lee-value-tiny"]), input_text="")
    assert r.returncode == 1 and "lee-value" in r.stderr
    r = igo("gtp", "--model", str(checkpoints["lee-policy-tiny"]), "--lambda", "0.5", input_text="")
    assert r.returncode == 1 and "value" in r.stderr
    r = igo("gtp", "--model", str(tmp_path / "missing.safetensors"), input_text="")
    assert r.returncode == 1 and "missing.safetensors" in r.stderr


def test_igo_match_between_a_network_player_and_the_random_player(checkpoints, tmp_path):
    a = f"igo:--model {checkpoints['zero-tiny']} --playouts 16 --resign 0 --seed 1"
    r = igo("match", a, "igo:--player random --seed 2", "--games", "2", "--size", "9", "--out", str(tmp_path / "m"),
            "--json", timeout=400)  # fmt: skip
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout.strip().splitlines()[-1])
    assert summary["games"] == 2
    assert len(list((tmp_path / "m").glob("game-*.sgf"))) == 2


# --- AlphaGo's policy net only for the leaves the search expands (issue 17) --------------------------------------


@pytest.mark.parametrize("symmetry", ["none", "all"])
def test_the_policy_runs_only_on_expanding_rows_and_the_value_on_all(symmetry):
    boards = [random_board(5, k, seed=k) for k in (3, 6, 9, 12)]
    batch = batch_of(boards, 8)
    kw = {"size": 5, "device": "cpu", "symmetry": symmetry, "cache_size": 0}
    full = NetEvaluator(net("lee-policy-tiny", 5), net("lee-value-tiny", 5, 1), **kw)
    p_all, v_all = full.evaluate(batch)
    ev = NetEvaluator(net("lee-policy-tiny", 5), net("lee-value-tiny", 5, 1), **kw)
    batch.expand = np.array([True, False, True, False])
    p, v = ev.evaluate(batch)
    rows = NUM_SYMMETRIES if symmetry == "all" else 1
    assert ev.stats.policy_rows == 2 * rows and full.stats.policy_rows == 4 * rows
    np.testing.assert_allclose(v, v_all, atol=1e-6)  # every row's value
    np.testing.assert_allclose(p[[0, 2]], p_all[[0, 2]], atol=1e-6)  # the expanding rows' priors
    for i in (1, 3):  # the others: valid priors (uniform over the legal moves), not the policy's
        assert np.isfinite(p[i]).all() and (p[i] >= 0).all() and abs(p[i].sum() - 1) < 1e-5
        assert not (p[i][~batch.legal[i]]).any()
        assert not np.allclose(p[i], p_all[i])


def test_a_policy_net_alone_skips_the_rows_not_expanded_and_caches_only_real_priors():
    boards = [random_board(5, k, seed=k) for k in (3, 6, 9)]
    ev = NetEvaluator(net("lee-policy-tiny", 5), size=5, device="cpu", symmetry="none")
    ref = NetEvaluator(net("lee-policy-tiny", 5), size=5, device="cpu", symmetry="none", cache_size=0)
    p_ref, _ = ref.evaluate(batch_of(boards, 8))
    batch = batch_of(boards, 8)
    batch.expand = np.array([False, True, False])
    p, v = ev.evaluate(batch)
    assert ev.stats.skipped == 2 and ev.stats.policy_rows == 1 and ev.stats.rows == 1
    np.testing.assert_allclose(p[1], p_ref[1], atol=1e-6)
    assert not np.allclose(p[0], p_ref[0]) and not v.any()
    # the rows skipped were not cached: asked again for priors, the policy answers
    batch = batch_of(boards, 8)
    batch.expand = np.array([True, True, True])
    p2, _ = ev.evaluate(batch)
    assert ev.stats.cache_hits == 1  # row 1 only
    np.testing.assert_allclose(p2, p_ref, atol=1e-6)


@pytest.mark.parametrize(("models", "lam"), [(("lee-policy-tiny", "lee-value-tiny"), 0.5), (("zero-tiny",), 1.0)])
def test_search_asks_the_network_only_what_it_reads_and_builds_the_same_tree(monkeypatch, models, lam):
    """A search expanding after 4 visits asks the policy only for the leaves it expands (AlphaGo's nets, λ = 0.5: the
    value net still sees every leaf; a Zero net with λ = 1: the other leaves need no network at all); its tree is the
    one it builds when the networks run on every leaf."""
    b = random_board(7, 6, seed=3)
    cfg = S.SearchConfig(lam=lam, n_thr=4)

    def run(skip: bool):
        if not skip:
            monkeypatch.setattr(NetEvaluator, "_rows_needed", lambda self, batch: (None, None))
        value = net(models[1], 7, 1) if len(models) > 1 else None
        ev = NetEvaluator(net(models[0], 7), value, size=7, device="cpu", symmetry="none", cache_size=0)
        m = S.MCTS(7, 7.5, cfg, evaluator=ev, seed=5, max_nodes=5_000, batch_size=8)
        m.search(b, 200)
        t = m.tree
        edges = int(t.meta[1])  # T_EDGES
        out = {k: getattr(t, k)[:edges].copy() for k in ("move", "prior", "n", "nr", "child")}
        m.close()
        monkeypatch.undo()
        return out, ev.stats

    a, sa = run(skip=True)
    b_, sb = run(skip=False)
    for k in a:
        np.testing.assert_allclose(a[k], b_[k], atol=1e-5, err_msg=k)
    assert sa.positions == sb.positions
    if lam < 1:  # the value for every leaf, the policy for the expanding ones
        assert sb.policy_rows == sb.positions and sa.policy_rows < sb.positions / 2, (sa.policy_rows, sb.positions)
    else:  # no network at all for the leaves not expanded
        assert sa.skipped > sb.positions / 2 and sa.rows == sa.positions - sa.skipped and sb.skipped == 0


def test_a_mobile_net_runs_channels_last_by_default():
    from igo.nets.config import ZeroConfig

    cfg = ZeroConfig(name="m", blocks=1, channels=8, block="mobile", expansion=2)
    torch.manual_seed(0)
    ev = NetEvaluator(build_model(cfg, 5), size=5, device="cpu", dtype="fp32")
    assert ev.channels_last
    assert not NetEvaluator(net("zero-tiny", 5), size=5, device="cpu", dtype="fp32").channels_last
    p, v = ev.evaluate(batch_of([random_board(5, 4, seed=1)], 8))
    assert p.shape == (1, 26) and abs(p.sum() - 1) < 1e-5 and -1 <= v[0] <= 1
