"""``igo train value``: AlphaGo's (2016) value network — one position per game from SL/random/RL games, then MSE
regression (:mod:`igo.training.value`)."""

from __future__ import annotations

import dataclasses

from igo.engine.options import positive_int, retire_option

from .train_args import (
    Progress,
    add_limits,
    add_optimizer,
    add_output,
    add_ray,
    add_retention,
    add_trainer,
    fail,
    given,
    print_json,
)

VALUE_EPILOG = """\
examples:
  igo train value --sl sl.safetensors --rl rl.safetensors --run-dir runs/v9 --games 20000 --config lee-value-64
  igo train value --sl sl.safetensors --rl rl.safetensors --run-dir runs/v9 --games 40000   # 20000 more games
  igo train value --sl sl.safetensors --rl rl.safetensors --run-dir runs/v9 --games 0 --skip-generate --epochs 20
  igo train value --sl sl.safetensors --rl rl.safetensors --run-dir runs/v9 --games 100000 --generate-only \\
      --address auto --actors 60                                                 # on a Ray cluster

Every game: U drawn uniformly from 1..--max-u; moves 1..U-1 by the SL policy, move U uniformly random, then the RL
policy to the end; only the position after move U is kept, with the outcome for the player to move (Silver et al.
2016). --run-dir holds data/ (chunk-*.npz, config.json), checkpoints/ (value-<step>.safetensors + optimizer state),
value.safetensors (the trained net), metrics.jsonl and tb/ (tensorboard --logdir RUN/tb). Rerunning resumes both
the data (only the missing games are played) and the training (from the newest checkpoint).
"""


def add_parser(sub) -> None:
    v = add_trainer(
        sub,
        "value",
        help="AlphaGo (2016) value net: one position per SL/random/RL game on Ray, then MSE training",
        description="Generate the value network's training data as in AlphaGo (2016): each game is played by the SL "
        "policy up to a uniformly drawn move U, which is played at random, and by the RL policy from there to the "
        "end; only the position after the random move is kept, with the game's outcome for the player to move, so "
        "no two positions share a game. Then train a lee-value net on the mean squared error between v(s) and "
        "the outcome, with a hold-out set by game, and report train/test MSE against the constant predictor.",
        epilog=VALUE_EPILOG,
    )
    g = v.add_argument_group("data")
    g.add_argument("--sl", required=True, metavar="CKPT", help="SL policy checkpoint (lee-policy)")
    g.add_argument("--rl", required=True, metavar="CKPT", help="RL policy checkpoint (lee-policy, same board size)")
    g.add_argument("--games", type=int, default=None, help="games in all (one position each at most; default 10000)")
    g.add_argument("--max-u", type=positive_int, default=None, help="U is uniform on 1..MAX_U (default N*N)")
    g.add_argument("--komi", type=float, default=None, help="komi (default 7 up to 9x9, 7.5 above)")
    g.add_argument("--temperature", type=float, default=1.0, help="policy sampling temperature (default 1)")
    g.add_argument("--games-per-call", type=positive_int, default=64, help="games each actor plays in lock step per "
                   "call, their network evaluations batched (default 64)")  # fmt: skip
    g = v.add_argument_group("training")
    g.add_argument("--config", dest="model", default="lee-value-192", help="value net config (default "
                   "lee-value-192, the paper's; lee-value-64 for 9x9 on CPUs)")  # fmt: skip
    add_optimizer(g, optimizer="adamw (default: it gets an untrained net off its flat start in ~100 steps, where "
                       "SGD stalls) or sgd (momentum 0.9, e.g. to fine-tune a trained net)",
                       lr="learning rate (default 0.001 adamw, 0.01 sgd)", weight_decay="weight decay (default 1e-4)",
                       batch_size="minibatch (default 128)",
                       defaults={"optimizer": "adamw", "weight_decay": 1e-4, "batch_size": 128})  # fmt: skip
    g.add_argument("--epochs", type=positive_int, default=10, help="passes over the training positions (default 10)")
    add_limits(g, max_steps="stop after this many steps (in all)",
                   max_minutes="stop training after this many minutes")  # fmt: skip
    g.add_argument("--holdout", type=float, default=0.05, help="fraction of games held out (default 0.05)")
    g.add_argument("--no-augment", action="store_true", help="no random symmetries of the training positions")
    g.add_argument("--checkpoint-every", type=positive_int, default=1000, help="steps between checkpoints, and one "
                   "at the end of each epoch (default 1000)")  # fmt: skip
    add_retention(g)
    g.add_argument("--device", default="auto", help="auto (default: a GPU when there is one), cpu or cuda")
    g.add_argument("--nn-threads", type=positive_int, default=None, help="torch threads of the trainer (default: "
                   "the cores this process may use, OMP_NUM_THREADS respected)")  # fmt: skip
    retire_option(g, "--threads", "use --nn-threads (torch threads of the trainer) or --actor-threads")
    g = v.add_argument_group("running")
    mode = g.add_mutually_exclusive_group()
    mode.add_argument("--skip-generate", action="store_true", help="train on the data there is")
    mode.add_argument("--generate-only", action="store_true", help="generate the data, do not train")
    g.add_argument("--actors", type=positive_int, default=None, help="Ray actors playing games (default: the CPUs)")
    g.add_argument("--actor-threads", type=positive_int, default=1, help="torch threads per actor (default 1)")
    add_ray(g)
    g.add_argument("--seed", type=int, default=0, help="random seed (U draws, split, training; default 0)")
    add_output(g, json_help="print the results as JSON")
    v.set_defaults(run=run_value_cmd)


def run_value_cmd(args) -> int:
    from pathlib import Path

    from igo.selfplay.cluster import ClusterError
    from igo.training.value import ValueDataConfig, ValueTrainConfig, data_summary, generate_value_data, train_value

    run_dir = Path(args.run_dir)
    out: dict = {}
    try:
        games = args.games
        if games is None:
            games = len(data_summary(run_dir)[0]) if args.skip_generate else 10_000
        if games < 0:
            raise ValueError("--games must be >= 0")
        data_cfg = ValueDataConfig(
            sl=args.sl, rl=args.rl, games=games, komi=args.komi, max_u=args.max_u, temperature=args.temperature,
            seed=args.seed, actors=args.actors, games_per_call=args.games_per_call, threads=args.actor_threads,
        )  # fmt: skip
        train_cfg = None
        if not args.generate_only:
            lr = args.lr if args.lr is not None else (0.01 if args.optimizer == "sgd" else 1e-3)
            train_cfg = ValueTrainConfig(
                model=args.model, optimizer=args.optimizer, lr=lr, weight_decay=args.weight_decay,
                batch_size=args.batch_size, epochs=args.epochs, max_steps=args.max_steps, max_minutes=args.max_minutes,
                holdout=args.holdout, augment=not args.no_augment, checkpoint_every=args.checkpoint_every,
                seed=args.seed, device=args.device, threads=args.nn_threads,
                **given(args, ("keep_checkpoints", "keep_every")),
            )  # fmt: skip
        if not args.skip_generate:
            bar = Progress(games, "game", show=_show_games)
            data = generate_value_data(data_cfg, run_dir, address=args.address, num_cpus=args.cpus, on_progress=bar)
            bar.close()
            out["data"] = dataclasses.asdict(data)
        else:
            done, positions, discarded, u_min, u_max = data_summary(run_dir)
            out["data"] = {"games": len(done), "positions": positions, "discarded": discarded, "u_min": u_min,
                           "u_max": u_max, "new_games": 0, "positions_per_second": 0.0}  # fmt: skip
        if train_cfg is not None:
            bar = Progress(None, "step", show=_show_steps)
            result = train_value(run_dir, train_cfg, on_status=bar)
            bar.close()
            out["train"] = dataclasses.asdict(result)
    except ClusterError as e:
        return fail("train value", e, 1)
    except (KeyError, ValueError, TypeError) as e:  # bad settings, an unknown net, a wrong checkpoint, another run
        return fail("train value", e, 2)
    except (OSError, RuntimeError) as e:
        return fail("train value", f"{type(e).__name__}: {e}", 1)
    if args.json:
        print_json(out)
        return 0
    d = out["data"]
    rate = f", {d['positions_per_second']:.1f} positions/s" if d.get("new_games") else ""
    print(f"data: {d['positions']} positions from {d['games']} games ({d['discarded']} discarded: ended before "
          f"move U), U in {d['u_min']}..{d['u_max']}{rate}")  # fmt: skip
    if "train" in out:
        t = out["train"]
        test = "-" if t["test_mse"] is None else f"{t['test_mse']:.4f}"
        btest = "-" if t["baseline_test_mse"] is None else f"{t['baseline_test_mse']:.4f}"
        print(f"trained {t['step']} steps ({t['epochs']:.2f} epochs) on {t['train_positions']} positions, "
              f"{t['test_positions']} held out")  # fmt: skip
        print(f"MSE train {t['train_mse']:.4f} / test {test}; constant predictor (mean z {t['mean_z']:+.3f}) "
              f"train {t['baseline_train_mse']:.4f} / test {btest}")  # fmt: skip
        print(f"value net: {t['checkpoint']}")
        print(f"use it: igo gtp --model {args.sl} --value-model {t['checkpoint']} --rollout-policy R --lambda 0.5")
    print(f"run directory: {run_dir}  (rerun to resume; tensorboard --logdir {run_dir / 'tb'})")
    return 0


def _show_games(bar, st) -> str:
    bar.n = st.games
    return f"pos {st.positions} discarded {st.discarded} {st.positions_per_second:.1f} pos/s"


def _show_steps(bar, st) -> str:
    bar.total = st.steps_total
    bar.n = st.step
    loss = "-" if st.loss is None else f"{st.loss:.4f}"
    test = "-" if st.test_mse is None else f"{st.test_mse:.4f}"
    return f"epoch {st.epoch} MSE {loss} test {test}"
