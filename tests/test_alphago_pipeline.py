"""The AlphaGo (2016) pipeline end to end on 7x7, each stage through its command, as a user runs it:

corpus (GNU Go level 0 on Ray, plus broken files) → corpus stats → SL policy → rollout policy → RL policy (a pool, a
few iterations) → value data (one position per game, U uniform) and training → the combined player (SL priors, value
net and rollouts mixed by λ = 0.5) plays a legal game against GNU Go.
"""

from __future__ import annotations

import json
import shutil
import sys

import numpy as np
import pytest

from igo.cli import main

GNUGO = shutil.which("gnugo") or next(
    (p for p in ("/usr/games/gnugo", "/usr/local/games/gnugo") if shutil.os.access(p, shutil.os.X_OK)), None
)

pytestmark = pytest.mark.skipif(GNUGO is None, reason="gnugo is not installed")

SIZE = 7


def _json(capsys) -> dict:
    out = capsys.readouterr().out.strip().splitlines()
    return json.loads(out[-1])


def test_pipeline_end_to_end(tmp_path, capsys):
    corpus = tmp_path / "corpus"
    # 1. the corpus: GNU Go against itself on a local Ray, then broken files a real collection would have
    rc = main(["corpus", "--engine", "gnugo --mode gtp --level 0", "--games", "32", "--size", str(SIZE),
               "-o", str(corpus), "--cpus", "2", "--json"])  # fmt: skip
    assert rc == 0
    made = _json(capsys)
    assert made["written"] == 32 and made["failed"] == 0
    (corpus / "more" / "deeper").mkdir(parents=True)
    (corpus / "more" / "truncated.sgf").write_text("(;FF[4]SZ[7];B[dd];W[")
    (corpus / "more" / "deeper" / "junk.sgf").write_bytes(b"\x00\xff\x13 not a game")
    assert main(["corpus", "stats", str(corpus), "--json"]) == 0
    stats = _json(capsys)
    assert stats["games"] == 32 and stats["skipped"] == 2

    # 2. SL policy: beats the uniform guess on held-out games
    sl_dir = tmp_path / "sl"
    rc = main(["train", "sl", "--sgf", str(corpus), "--size", str(SIZE), "--config", "lee-policy-tiny",
               "--run-dir", str(sl_dir), "--max-steps", "200", "--batch-size", "64", "--holdout", "0.2",
               "--eval-every", "100", "--checkpoint-every", "100", "--nn-threads", "1", "--json"])  # fmt: skip
    assert rc == 0
    sl = _json(capsys)
    assert sl["steps"] == 200 and sl["holdout_positions"] > 50
    assert sl["skipped"] == 2  # the broken files, counted once
    assert sl["top1"] > 3 / (SIZE * SIZE)  # uniform over the empty points would be about 1/40
    sl_ckpt = sl_dir / "sl.safetensors"

    # 3. rollout policy: trained weights, then they drive the playouts of the search
    ro_dir = tmp_path / "rollout"
    rc = main(["train", "rollout", "--sgf", str(corpus), "--size", str(SIZE), "--run-dir", str(ro_dir),
               "--epochs", "3", "--holdout", "0.2", "--speed-seconds", "0.2", "--json"])  # fmt: skip
    assert rc == 0
    ro = _json(capsys)
    assert ro["trained"]["accuracy"] > ro["uniform"]["accuracy"]
    ro_ckpt = ro_dir / "rollout.safetensors"
    from igo.engine.board import Board
    from igo.engine.search import MCTS
    from igo.nets.checkpoint import load_checkpoint

    weights = load_checkpoint(ro_ckpt, expect_kind="rollout")[0].to_numpy()
    assert np.abs(weights).sum() > 0
    search = MCTS(SIZE, 7.0, seed=1, rollout_policy=weights)
    stats = search.search(Board(SIZE, 7.0), 64)
    assert sum(s.visits for s in stats) >= 60 and search.rollouts >= 60

    # 4. RL policy: a few REINFORCE iterations against a pool, win rate against SL measured
    rl_dir = tmp_path / "rl"
    rc = main(["train", "rl", "--init", str(sl_ckpt), "--run-dir", str(rl_dir), "--games", "8",
               "--max-iterations", "3", "--pool-every", "1", "--eval-every", "3", "--eval-games", "8",
               "--cpus", "2", "--json"])  # fmt: skip
    assert rc == 0
    rl = _json(capsys)
    assert rl["iteration"] == 3 and rl["pool"] == 4 and rl["win_rate_vs_sl"] is not None
    rl_ckpt = rl_dir / "rl.safetensors"

    # 5. value net: one position per game after the random move U (1..max_u), then MSE goes down
    v_dir = tmp_path / "value"
    rc = main(["train", "value", "--sl", str(sl_ckpt), "--rl", str(rl_ckpt), "--run-dir", str(v_dir),
               "--games", "120", "--max-u", "20", "--config", "lee-value-tiny", "--epochs", "20",
               "--cpus", "2", "--json"])  # fmt: skip
    assert rc == 0
    vd = _json(capsys)
    from igo.training.value import load_value_data

    data = load_value_data(v_dir, SIZE)
    z, u = data.z, data.u
    assert len(z) == len(u) == 120 - data.discarded == vd["data"]["positions"] and len(z) >= 100
    assert len(np.unique(data.game)) == len(z)  # one position per game
    assert set(np.unique(z)) <= {-1.0, 0.0, 1.0}
    assert u.min() >= 1 and u.max() <= 20 and len(np.unique(u)) >= 15  # every U is drawn uniformly from 1..20
    tr = vd["train"]
    assert tr["initial_train_mse"] is not None and tr["train_mse"] < tr["initial_train_mse"]
    v_ckpt = v_dir / "value.safetensors"
    load_checkpoint(v_ckpt, expect_kind="lee-value")

    # 6. the AlphaGo player: SL priors, value net and rollout policy mixed by λ = 0.5, against GNU Go
    from igo.selfplay.gtp_players import PlayerSpec
    from igo.selfplay.match import play_game

    alphago = PlayerSpec(
        "alphago",
        [sys.executable, "-m", "igo", "gtp", "--model", str(sl_ckpt), "--value-model", str(v_ckpt), "--rollout-policy",
         str(ro_ckpt), "--lambda", "0.5", "--playouts", "48", "--resign", "0"],
    )  # fmt: skip
    gnugo = PlayerSpec("gnugo", [GNUGO, "--mode", "gtp", "--level", "0"])
    game = play_game(alphago, gnugo, size=SIZE, komi=7.0, move_timeout=60, sgf_path=tmp_path / "game.sgf")
    assert game.kind in ("score", "resign"), game.reason
    from igo.engine.sgf import load_sgf_file

    load_sgf_file(tmp_path / "game.sgf")  # every move legal
