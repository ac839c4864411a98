"""Games between AlphaGo (2016) policy networks without search, many at once, for RL and value-network data.

:func:`play_policy_games` plays a batch of games in lock step: at every step the positions of all unfinished games
whose side to move is played by the same network are encoded (``alphago48``, Numba) and evaluated in *one* forward
pass, and each game samples its move from the softmax of the logits over its *sensible* moves (legal, and not filling
one of its own single-point eyes: the ``sensibleness`` plane of the features), with a temperature. A player without a
sensible move passes; two passes end the game, which is then scored by Tromp-Taylor area (the policies fill the board
up to the eyes, so no dead stones are left to argue about); ``move_limit`` ends a game and scores it as it stands.

For the value network's training data (Silver et al. 2016, "Methods: reinforcement learning of value networks") a
game can be given ``random_move_at = U``: its move ``U`` (1-based, counted from the first move of the game) is drawn
uniformly from the legal moves instead of from a network, and the position right after it is kept
(``snapshot``: ``alphago49`` planes and the side to move); ``switch_at`` hands both colours to another pair of
networks from that move on (the SL policy before U, the RL policy after it).

For REINFORCE, ``record`` names the networks whose moves are recorded: the planes (bit-packed ``uint8``,
:func:`igo.engine.planes.pack_planes`), the move played and the colour, so that the learner can weight
``log p(a|s)`` by the game's outcome.

:class:`PolicyGameWorker` runs this in a Ray actor (``policy_game_actor_class``); weights travel as numpy dicts
(:func:`igo.nets.weights.model_to_numpy`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from igo.engine.board import Board
from igo.engine.board_kernels import BLACK, WHITE
from igo.engine.features import P_SENSIBLE, FeatureEncoder
from igo.engine.planes import pack_planes
from igo.engine.player import sample_sensible_move
from igo.engine.pool import copy_to_slot, new_pool

log = logging.getLogger(__name__)


@dataclass
class GameSpec:
    """One game: the network keys for Black and White (into the ``nets`` mapping), optionally a uniformly random
    move at move ``random_move_at`` (1-based) whose next position is kept, and a pair of networks that take over
    both colours from move ``switch_at`` (1-based) on."""

    black: str
    white: str
    random_move_at: int | None = None
    switch_at: int | None = None
    switch_black: str | None = None
    switch_white: str | None = None


@dataclass
class PolicyGame:
    spec: GameSpec
    moves: list[tuple[int, int | None]] = field(default_factory=list)  # (colour, flat index or None for pass)
    score: float = 0.0  # Tromp-Taylor margin for Black, komi included
    winner: int = 0  # BLACK, WHITE or 0 (draw)
    ended_by: str = ""  # "passes" or "move limit"
    # recorded moves of the networks in ``record``: packed planes, flat move, colour, network key
    planes: list[np.ndarray] = field(default_factory=list)
    actions: list[int] = field(default_factory=list)
    colors: list[int] = field(default_factory=list)
    players: list[str] = field(default_factory=list)
    # the position after the random move (value data)
    snapshot: np.ndarray | None = None  # packed alphago49 planes
    snapshot_to_move: int = 0
    snapshot_move: int = 0  # moves played before the snapshot (= random_move_at)

    def outcome_for(self, color: int) -> float:
        """+1 if ``color`` won, -1 if it lost, 0 for a draw."""
        if self.winner == 0:
            return 0.0
        return 1.0 if self.winner == color else -1.0


class _Encoder:
    """Encodes many Boards at once into one feature set through a pool of board slots."""

    def __init__(self, feature_set: str, size: int, capacity: int):
        self.enc = FeatureEncoder(feature_set, size)
        self.size = size
        self.pool = new_pool(size, capacity)
        self.h = self.enc.history_length
        self.hist = np.zeros((capacity, self.h, size, size), np.int8)

    def __call__(self, boards: Sequence[Board]) -> np.ndarray:
        count = len(boards)
        if count > self.pool.stones.shape[0]:
            self.pool = new_pool(self.size, count)
            self.hist = np.zeros((count, self.h, self.size, self.size), np.int8)
        for i, b in enumerate(boards):
            copy_to_slot(self.pool, i, b.state)
            self.hist[i] = b.history(self.h)
        to_move = np.array([b.to_move for b in boards], np.int8)
        return self.enc._encode(self.pool, self.hist, to_move, count, None)


def _legal_flat(board: Board) -> np.ndarray:
    return np.flatnonzero(board.legal_mask()[:-1])


def play_policy_games(
    nets: Mapping[str, torch.nn.Module],
    specs: Sequence[GameSpec],
    *,
    size: int,
    komi: float,
    rng: np.random.Generator,
    temperature: float = 1.0,
    move_limit: int | None = None,
    record: Sequence[str] = (),
    device: str | torch.device = "cpu",
) -> list[PolicyGame]:
    """Play the games of ``specs`` to the end (see the module docstring) and return them in the same order."""
    if temperature < 0:
        raise ValueError(f"temperature must not be negative, got {temperature}")
    for s in specs:
        for key in (s.black, s.white, s.switch_black, s.switch_white):
            if key is not None and key not in nets:
                raise ValueError(f"game spec names network {key!r}; have {sorted(nets)}")
    n = size
    move_limit = 3 * n * n if move_limit is None else int(move_limit)
    record = set(record)
    device = torch.device(device)
    boards = [Board(n, komi, ko_rule="positional") for _ in specs]
    games = [PolicyGame(spec) for spec in specs]
    passes = [0] * len(specs)
    active = list(range(len(specs)))
    enc48 = _Encoder("alphago48", n, max(1, len(specs)))
    enc49 = _Encoder("alphago49", n, 1)

    def network_for(i: int) -> str:
        spec = specs[i]
        move_no = len(games[i].moves) + 1
        black = boards[i].to_move == BLACK
        if spec.switch_at is not None and move_no >= spec.switch_at:
            return spec.switch_black if black else spec.switch_white
        return spec.black if black else spec.white

    while active:
        chosen: dict[int, int | None] = {}
        groups: dict[str, list[int]] = {}
        for i in active:
            spec = specs[i]
            if spec.random_move_at is not None and len(games[i].moves) + 1 == spec.random_move_at:
                legal = _legal_flat(boards[i])
                chosen[i] = int(rng.choice(legal)) if len(legal) else None
            else:
                groups.setdefault(network_for(i), []).append(i)
        for key, idx in groups.items():
            planes = enc48([boards[i] for i in idx])
            sensible = planes[:, P_SENSIBLE].reshape(len(idx), -1) > 0.5
            with torch.no_grad():
                logits = nets[key](torch.from_numpy(planes).to(device)).float().cpu().numpy()
            for row, i in enumerate(idx):
                move = sample_sensible_move(logits[row], sensible[row], temperature, rng, boards[i])
                chosen[i] = move
                if move is not None and key in record:
                    g = games[i]
                    g.planes.append(pack_planes(planes[row]))
                    g.actions.append(move)
                    g.colors.append(boards[i].to_move)
                    g.players.append(key)
        still = []
        for i in active:
            b, g, move = boards[i], games[i], chosen[i]
            color = b.to_move
            if move is None:
                b.play(None, color)
                passes[i] += 1
            else:
                b.play((move // n, move % n), color)
                passes[i] = 0
            g.moves.append((color, move))
            if specs[i].random_move_at is not None and len(g.moves) == specs[i].random_move_at:
                g.snapshot = pack_planes(enc49([b])[0])
                g.snapshot_to_move = b.to_move
                g.snapshot_move = len(g.moves)
            if passes[i] >= 2 or len(g.moves) >= move_limit:
                g.ended_by = "passes" if passes[i] >= 2 else "move limit"
                g.score = float(b.score())
                g.winner = BLACK if g.score > 0 else WHITE if g.score < 0 else 0
            else:
                still.append(i)
        active = still
    return games


# --- Ray ------------------------------------------------------------------------------------------------------------


class PolicyGameWorker:
    """Plays batches of policy games with networks sent as weights (name -> numpy array dicts)."""

    def __init__(self, size: int, komi: float, configs: Mapping[str, str], *, threads: int = 1, seed: int = 0):
        from igo.nets.config import get_config
        from igo.nets.models import build_model

        torch.set_num_threads(max(1, int(threads)))
        self.size = int(size)
        self.komi = float(komi)
        self.nets = {k: build_model(get_config(c), self.size).eval() for k, c in configs.items()}
        self.rng = np.random.default_rng(seed)

    def play(
        self,
        weights: Mapping[str, Mapping[str, np.ndarray] | None],
        specs: Sequence[GameSpec],
        *,
        temperature: float = 1.0,
        record: Sequence[str] = (),
        move_limit: int | None = None,
    ) -> tuple[list[PolicyGame], float]:
        """Load the weights given (None: keep the ones loaded; a Ray ObjectRef is fetched), play ``specs``; returns the
        games and seconds."""
        from igo.nets.weights import load_numpy_weights

        for key, w in weights.items():
            if w is not None and type(w).__name__ == "ObjectRef":  # refs nested in a dict are not resolved by Ray
                import ray

                w = ray.get(w)
            if w is not None:
                load_numpy_weights(self.nets[key], w)
        t0 = time.monotonic()
        games = play_policy_games(
            self.nets, specs, size=self.size, komi=self.komi, rng=self.rng, temperature=temperature,
            record=record, move_limit=move_limit,
        )  # fmt: skip
        return games, time.monotonic() - t0


def policy_game_actor_class(num_cpus: float = 1.0):
    import ray

    return ray.remote(num_cpus=num_cpus)(PolicyGameWorker)


__all__ = [
    "GameSpec",
    "PolicyGame",
    "PolicyGameWorker",
    "play_policy_games",
    "policy_game_actor_class",
]
