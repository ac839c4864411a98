"""AlphaGo Zero self-play: many games at once, their leaves evaluated by the network in one batch.

:class:`SelfPlay` keeps ``parallel_games`` games going. Each :meth:`SelfPlay.step` asks every game's search for
``leaves_per_game`` leaves, selected with virtual loss by one kernel call per game straight into **one** preallocated
batch (:class:`igo.engine.leafbatch.LeafRows`: positions, history planes, legal moves, no Python per leaf), puts that
batch into one evaluator call, and takes the results back into every tree (one kernel call per game). A game whose
search has done ``simulations`` new simulations for the current move plays a move:

- the position's training data is recorded: its feature planes (bit-packed), the search's visit distribution π,
  and later the game's result z from the view of the player to move;
- the move is drawn ∝ N (temperature 1) for the first ``temperature_moves`` moves, then the most visited;
- Dirichlet noise (ε = 0.25, α = 0.03·361/points) is mixed into every root's priors; the tree below the move played
  is kept (tree reuse);
- **playout cap randomisation** (KataGo, Wu 2019), off by default (``fast_simulations = 0``): with
  ``fast_simulations > 0`` each move is, with probability ``full_search_fraction``, a *full* search as above, else a
  *fast* one: ``fast_simulations`` new simulations, no Dirichlet noise at the root, and the position is **not**
  recorded (its π would be a poor target); the move is chosen the same way (temperature, then the most visited) and
  resignation is checked all the same. The value targets z stay those of the whole game, so a network gets many
  more games' worth of value signal per search. The draw uses the :class:`SelfPlay`'s own generator, and only when
  ``fast_simulations > 0`` (off, every move is a full search exactly as without the feature). Tree reuse goes on
  across both kinds: the noise is only ever in the priors of the root searched with it, and the kept subtree below
  the move played has clean priors, so a fast search never sees noise; a full search after a fast one noises its
  (reused) root as usual — but the visits it reuses were gathered by the smaller, noise-free search before it (as
  in KataGo, which does not correct for this either). A game may end with no recorded position at all: it still
  comes back (with empty ``planes``/``policy``/``value``), counts in ``SelfPlayStats.games`` and has its SGF, where
  the comment of each fast move says ``fast``;
- **resignation**: the player to move resigns when the best root Q is below ``resign_threshold`` (after
  ``resign_min_moves`` moves). In a share ``no_resign_fraction`` of the games resignation is disabled; there the
  first player who *would* have resigned is noted, and if that player goes on to win, the game counts as a false
  resignation — the rate that tells whether the threshold is safe (AlphaGo Zero kept it below 5%).

**The tree** of each game holds one edge per legal move of every node and grows as it fills
(:func:`igo.engine.mcts.reserve`), up to ``max_nodes`` nodes (default ``16 · (simulations + leaves_per_game) + 64``:
a node per simulation of the move, plus the subtree kept from the moves before); only there is an expansion
refused, and then each refusal is counted (``SelfPlayStats.tree_full_events``) and logged as a warning.

A game ends by resignation, two passes or the move limit (``2·points``); it is scored by Tromp-Taylor area. Finished
games come back as dicts for :class:`igo.selfplay.replay.ReplayBuffer` — ``planes`` (uint8, packed), ``policy``,
``value`` (one row per recorded position: every move's without playout cap randomisation, the full searches' with
it), ``sgf`` (with the root value, root visits and time of every move as comments), ``meta``.

No Ray here: :mod:`igo.selfplay.actors` wraps this in Ray actors, and ``igo bench selfplay`` runs it in one process.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from igo.engine import board_kernels as K
from igo.engine import mcts as M
from igo.engine.board import Board
from igo.engine.coords import rc_to_gtp
from igo.engine.features import FeatureEncoder
from igo.engine.leafbatch import LeafRows, root_history
from igo.engine.limits import MAX_TREE_EDGES, MAX_TREE_NODES
from igo.engine.planes import pack_planes
from igo.engine.pool import concat_slots
from igo.engine.search import MCTS, LeafBatch, SearchConfig

log = logging.getLogger(__name__)

COLOR_NAME = {K.BLACK: "B", K.WHITE: "W"}


@dataclass(frozen=True)
class SelfPlayConfig:
    """How self-play games are played. ``None`` fields take board-size defaults (see :meth:`resolved`)."""

    size: int = 9
    komi: float = 7.5
    simulations: int = 200  # new simulations per move
    parallel_games: int = 32  # games kept going at once by one SelfPlay
    leaves_per_game: int = 8  # leaves selected per game per network call (virtual loss spreads them)
    temperature_moves: int | None = None  # moves drawn ∝ N; default 30 * points / 361 (AlphaGo Zero: 30 on 19x19)
    dirichlet_weight: float = 0.25
    dirichlet_alpha: float = 0.0  # 0: 0.03 * 361 / points
    c_puct: float = 1.5
    resign_threshold: float = -0.9  # resign when the best root Q (player to move) is below this; -1 = never
    resign_min_moves: int | None = None  # no resignation before this move; default points / 4
    no_resign_fraction: float = 0.1  # share of games played out without resigning (false resignation check)
    move_limit: int | None = None  # default 2 * points
    tree_reuse: bool = True
    max_nodes: int | None = None  # tree capacity of a game; default 16 * (simulations + leaves_per_game) + 64
    # playout cap randomisation (KataGo): > 0: a move is a full search (``simulations``, noise, recorded) with
    # probability ``full_search_fraction``, else a fast one (these new simulations, no noise, not recorded);
    # 0: every move a full search. Must be below ``simulations``, so the default max_nodes stays enough.
    fast_simulations: int = 0
    full_search_fraction: float = 0.25  # share of full searches when fast_simulations > 0; in (0, 1]

    def __post_init__(self) -> None:
        from igo.engine.coords import check_size

        check_size(self.size)
        checks = [
            (self.simulations >= 1, "simulations must be >= 1"),
            (self.parallel_games >= 1, "parallel_games must be >= 1"),
            (self.leaves_per_game >= 1, "leaves_per_game must be >= 1"),
            (self.temperature_moves is None or self.temperature_moves >= 0, "temperature_moves must be >= 0"),
            (0.0 <= self.dirichlet_weight <= 1.0, "dirichlet_weight must be in [0, 1]"),
            (self.dirichlet_alpha >= 0, "dirichlet_alpha must be >= 0"),
            (self.c_puct > 0, "c_puct must be positive"),
            (-1.0 <= self.resign_threshold <= 1.0, "resign_threshold must be in [-1, 1]"),
            (self.resign_min_moves is None or self.resign_min_moves >= 0, "resign_min_moves must be >= 0"),
            (0.0 <= self.no_resign_fraction <= 1.0, "no_resign_fraction must be in [0, 1]"),
            (self.move_limit is None or self.move_limit >= 1, "move_limit must be >= 1"),
            (
                self.max_nodes is None or 1 <= self.max_nodes <= MAX_TREE_NODES,
                f"max_nodes must be in 1..{MAX_TREE_NODES}",
            ),
            (math.isfinite(self.komi), "komi must be finite"),
            (self.fast_simulations >= 0, "fast_simulations must be >= 0 (0: every move a full search)"),
            (
                self.fast_simulations == 0 or self.fast_simulations < self.simulations,
                "fast_simulations must be below simulations",
            ),
            (0.0 < self.full_search_fraction <= 1.0, "full_search_fraction must be in (0, 1]"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)

    def resolved(self) -> SelfPlayConfig:
        """This config with the board-size defaults filled in."""
        points = self.size * self.size
        return dataclasses.replace(
            self,
            temperature_moves=(
                max(1, round(30 * points / 361)) if self.temperature_moves is None else self.temperature_moves
            ),
            resign_min_moves=points // 4 if self.resign_min_moves is None else self.resign_min_moves,
            move_limit=2 * points if self.move_limit is None else self.move_limit,
            max_nodes=(
                min(MAX_TREE_NODES, 16 * (self.simulations + self.leaves_per_game) + 64)
                if self.max_nodes is None
                else self.max_nodes
            ),
        )

    def tree_limits(self) -> tuple[int, int]:
        """The nodes and edges a game's tree may grow to: ``max_nodes`` (resolved) and room for every move of each
        (N*N + 1 edges a node), so that the nodes are the only limit."""
        nodes = self.resolved().max_nodes
        return nodes, min(MAX_TREE_EDGES, nodes * (self.size * self.size + 1))

    def search_config(self) -> SearchConfig:
        return SearchConfig.zero(
            c_puct=self.c_puct, dirichlet_weight=self.dirichlet_weight, dirichlet_alpha=self.dirichlet_alpha
        )

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> SelfPlayConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ValueError(f"unknown self-play settings: {', '.join(sorted(unknown))}")
        return cls(**d)


class _Game:
    """One game in progress: its board, its search and the training data so far."""

    def __init__(self, number: int, config: SelfPlayConfig, evaluator, seed: int, resign_allowed: bool):
        self.number = number
        self.root_hist = np.zeros((1, (config.size + 2) ** 2), np.int8)  # the root's padded history planes
        self.board = Board(config.size, komi=config.komi)
        max_nodes, max_edges = config.tree_limits()
        self.full_config = config.search_config()
        # a fast search's: the same but without root noise (only set_root / add_noise read dirichlet_weight; it is
        # not among the kernels' packed params, so swapping search.config between the two changes nothing else)
        self.fast_config = dataclasses.replace(self.full_config, dirichlet_weight=0.0)
        self.search = MCTS(
            config.size,
            config.komi,
            self.full_config,
            evaluator=evaluator,
            batch_size=config.leaves_per_game,
            max_nodes=max_nodes,
            max_edges=max_edges,
            seed=seed,
        )
        self.resign_allowed = resign_allowed
        self.planes: list[np.ndarray] = []
        self.policies: list[np.ndarray] = []
        self.to_move: list[int] = []
        self.comments: list[str] = []
        self.would_resign: int | None = None  # first colour whose Q fell below the threshold
        self.resigned: int | None = None
        self.started = time.perf_counter()
        self.move_started = self.started
        self.target = 0
        self.versions: set[int] = set()
        self.full_mark = 0  # the tree's count of refused expansions when the current move's search began
        self.fast = False  # the current move's search is a fast one (playout cap randomisation): no noise, no record
        self.full_moves = 0  # searches of this game that ended in a move (or resignation), full and fast
        self.fast_moves = 0

    def start_move(self, simulations: int, history_length: int = 1, fast: bool = False) -> None:
        """Set the root to the board and aim the search at ``simulations`` new simulations; ``fast``: without
        Dirichlet noise at the root (set_root adds it with the search config's dirichlet_weight, once per root)."""
        self.fast = fast
        self.search.config = self.fast_config if fast else self.full_config
        self.search.set_root(self.board)
        self.root_history(history_length)
        self.full_mark = int(self.search.tree.meta[M.T_FULL])
        self.target = self.search.root_visits + simulations
        self.move_started = time.perf_counter()

    def root_history(self, length: int) -> None:
        """The root's history planes, from which the leaves' are made (:meth:`LeafRows.select`)."""
        if length > 1:
            self.root_hist = root_history(self.board, length)


def concat_batches(batches: list[LeafBatch], states: bool = True) -> LeafBatch:
    """One :class:`LeafBatch` holding the rows of ``batches`` in order (copies). ``states=False``: its ``states`` is
    None (the board states are not copied), for an evaluator whose ``reads_states`` is False."""
    size = batches[0].size
    count = sum(b.count for b in batches)
    pools = concat_slots([b.states for b in batches], [b.count for b in batches]) if states else None
    history = np.concatenate([b.history[: b.count] for b in batches])
    to_move = np.concatenate([b.to_move[: b.count] for b in batches])
    legal = np.concatenate([b.legal[: b.count] for b in batches])
    return LeafBatch(size, count, pools, history, to_move, legal)


@dataclass
class SelfPlayStats:
    games: int = 0
    positions: int = 0
    simulations: int = 0
    evaluations: int = 0
    eval_calls: int = 0
    eval_s: float = 0.0
    total_s: float = 0.0
    resigned: int = 0
    no_resign_games: int = 0
    would_resign: int = 0  # no-resign games in which a player fell below the threshold
    false_resign: int = 0  # ... and then won
    black_wins: int = 0
    draws: int = 0
    tree_full_events: int = 0  # expansions refused because a game's tree reached its max_nodes (0 unless too small)
    # searches of the finished games (counted with them, like positions), one per move played plus a resigning one:
    # full ones (recorded; positions == full_moves) and fast ones (playout cap randomisation; 0 when off)
    full_moves: int = 0
    fast_moves: int = 0
    network_s: float = 0.0  # seconds in the network: the evaluator's own network_s if it keeps one, else eval_s

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def add(self, other: SelfPlayStats) -> None:
        for f in dataclasses.fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))


class SelfPlay:
    """Plays Zero self-play games, ``config.parallel_games`` at once, with one evaluator (a
    :class:`igo.nets.evaluator.NetEvaluator`, or anything with the :class:`igo.engine.search.Evaluator` protocol).

    ``play(games=..., seconds=...)`` runs until that many games have finished or that much time has passed and
    returns the finished games; games in progress carry over to the next call. ``set_evaluator`` swaps the network
    (new weights) between calls; ``version`` is recorded in the games' metadata. An evaluator whose ``reads_states``
    is False (a Zero net without a position cache) gets its batches without the board states (``states`` None)."""

    def __init__(self, evaluator, config: SelfPlayConfig, *, seed: int | None = None, name: str = "igo-zero"):
        self.config = config.resolved()
        self.evaluator = evaluator
        self.version = 0
        self.name = name
        self.rng = np.random.default_rng(seed)
        self.encoder = FeatureEncoder(self._feature_set(evaluator), self.config.size)
        self.stats = SelfPlayStats()
        self._games: list[_Game] = []
        self._started = 0
        points = self.config.size * self.config.size
        self._pass = points  # flat index of pass in the policy target
        self._moves = np.zeros(points + 1, np.int16)  # the root's edges, filled by M.root_counts once per move
        self._visits = np.zeros(points + 1, np.int32)
        self._q = np.zeros(points + 1, np.float64)
        self._prior = np.zeros(points + 1, np.float64)
        self._rows = self._leaf_rows(evaluator)

    def _leaf_rows(self, evaluator) -> LeafRows:
        """The batch that the leaves of all games are selected into, with the evaluator's history length."""
        hlen = max(1, int(getattr(evaluator, "history_length", 1)))
        cfg = self.config
        return LeafRows(cfg.size, cfg.parallel_games * cfg.leaves_per_game, hlen)

    @staticmethod
    def _feature_set(evaluator) -> str:
        fs = getattr(evaluator, "_fs", None)
        if fs is not None:
            return fs.name
        h = int(getattr(evaluator, "history_length", 8))
        return "zero8" if h == 8 else f"zero{h}"

    def set_evaluator(self, evaluator, version: int | None = None) -> None:
        self.evaluator = evaluator
        if max(1, int(getattr(evaluator, "history_length", 1))) != self._rows.history_length:
            self._rows = self._leaf_rows(evaluator)
            for g in self._games:  # the roots' history planes at the new length
                g.root_history(self._rows.history_length)
        for g in self._games:
            g.search.evaluator = evaluator
        if version is not None:
            self.version = int(version)

    @property
    def games_in_progress(self) -> int:
        return len(self._games)

    def _new_game(self) -> _Game:
        cfg = self.config
        resign_allowed = cfg.resign_threshold > -1.0 and self.rng.random() >= cfg.no_resign_fraction
        g = _Game(self._started, cfg, self.evaluator, int(self.rng.integers(2**31)), resign_allowed)
        self._started += 1
        self._start_move(g)
        return g

    def _start_move(self, g: _Game) -> None:
        """Begin ``g``'s search for its next move: full, or (playout cap randomisation, drawn only when
        ``fast_simulations > 0``) fast with probability ``1 - full_search_fraction``."""
        cfg = self.config
        fast = cfg.fast_simulations > 0 and self.rng.random() >= cfg.full_search_fraction
        g.start_move(cfg.fast_simulations if fast else cfg.simulations, self._rows.history_length, fast)

    def _fill(self) -> None:
        while len(self._games) < self.config.parallel_games:
            self._games.append(self._new_game())

    # --- one network batch over all games ------------------------------------------------------------------------

    def step(self) -> list[dict]:
        """One round: a batch of leaves from every game, one evaluator call, moves where searches are done.
        Returns the games that finished."""
        t0 = time.perf_counter()
        self._fill()
        rows = self._rows
        leaves = self.config.leaves_per_game
        try:  # on any error (evaluator, malformed output, interrupt) no game's tree keeps virtual loss
            for g in self._games:
                search = g.search
                rows.select(search, g.board.state, g.root_hist, min(leaves, max(1, g.target - search.root_visits)))
            batch = rows.batch(getattr(self.evaluator, "reads_states", True))
            t1 = time.perf_counter()
            ev_stats = getattr(self.evaluator, "stats", None)
            net0 = getattr(ev_stats, "network_s", None)
            priors, values = self.evaluator.evaluate(batch)
            call_s = time.perf_counter() - t1
            self.stats.eval_s += call_s
            self.stats.network_s += call_s if net0 is None else ev_stats.network_s - net0
            self.stats.eval_calls += 1
            self.stats.evaluations += batch.count
            rows.finish(priors, values)
        except BaseException:
            rows.cancel()
            raise
        self.stats.simulations += batch.count
        finished = []
        still = []
        for g in self._games:
            if g.search.root_visits >= g.target:
                record = self._move(g)
                if record is not None:
                    finished.append(record)
                    continue
            still.append(g)
        self._games = still
        self.stats.total_s += time.perf_counter() - t0
        return finished

    def play(self, games: int | None = None, seconds: float | None = None) -> list[dict]:
        """Step until ``games`` games have finished (or ``seconds`` have passed); at least one step."""
        if games is None and seconds is None:
            raise ValueError("give games or seconds")
        out: list[dict] = []
        deadline = None if seconds is None else time.perf_counter() + seconds
        while True:
            out.extend(self.step())
            if games is not None and len(out) >= games:
                return out
            if deadline is not None and time.perf_counter() >= deadline:
                return out

    # --- moves and game ends -------------------------------------------------------------------------------------

    def _move(self, g: _Game) -> dict | None:
        cfg = self.config
        board, search = g.board, g.search
        self.stats.tree_full_events += int(search.tree.meta[M.T_FULL]) - g.full_mark  # the search logs a warning
        flat, visits, best = self._root_edges(search)
        best_q = float(self._q[best]) if best >= 0 else 0.0
        color = board.to_move
        if g.fast:
            g.fast_moves += 1
        else:  # only a full search's position is a training position
            g.full_moves += 1
            g.planes.append(self.encoder.encode_board(board).astype(np.bool_))
            g.policies.append(self._policy_target(flat, visits))
            g.to_move.append(color)
        g.versions.add(self.version)
        if board.move_number >= cfg.resign_min_moves and best_q < cfg.resign_threshold:
            if g.resign_allowed:
                g.resigned = color
                return self._finish(g)
            if g.would_resign is None:
                g.would_resign = color
        if best < 0:
            raise RuntimeError("no search has been run")
        if board.move_number < cfg.temperature_moves and visits[best] > 0:  # temperature 1: drawn ∝ N
            best = int(self.rng.choice(len(visits), p=visits / visits.sum()))
        move = "pass" if flat[best] == self._pass else rc_to_gtp(*divmod(int(flat[best]), cfg.size), cfg.size)
        seconds = time.perf_counter() - g.move_started
        g.comments.append(f"v={best_q:+.3f} n={search.root_visits} t={seconds:.3f}" + (" fast" if g.fast else ""))
        board.play(move)
        if board.is_over or board.move_number >= cfg.move_limit:
            return self._finish(g)
        if not (cfg.tree_reuse and search.advance(board)):
            search.reset()
        self._start_move(g)
        return None

    def _root_edges(self, search: MCTS) -> tuple[np.ndarray, np.ndarray, int]:
        """The root's edges in one pass over the tree (no move names, no principal variations): their moves as flat
        indices (pass = N*N), visits (float64), and the index of the most visited (the first of equals; -1 without
        edges). Q of every edge, for the player to move, is left in ``self._q``."""
        t = search.tree
        m = M.root_counts(t, self._moves, self._visits, self._q, self._prior, search.params)
        if m <= 0:
            return self._moves[:0].astype(np.int64), self._visits[:0].astype(np.float64), -1
        moves = self._moves[:m].astype(np.int64)
        w = self.config.size + 2
        flat = np.where(moves < 0, self._pass, (moves // w - 1) * self.config.size + moves % w - 1)
        visits = self._visits[:m].astype(np.float64)
        return flat, visits, int(np.argmax(visits))

    def _policy_target(self, flat: np.ndarray, visits: np.ndarray) -> np.ndarray:
        """The visit distribution over flat moves (N*N + 1, pass last), float32: the training target π."""
        out = np.zeros(self._pass + 1, np.float64)
        out[flat] = visits
        total = out.sum()
        return (out / total if total > 0 else out).astype(np.float32)

    def _finish(self, g: _Game) -> dict:
        cfg = self.config
        board = g.board
        score = None
        if g.resigned is not None:
            winner = K.WHITE if g.resigned == K.BLACK else K.BLACK
            result = f"{COLOR_NAME[winner]}+R"
        else:
            score = float(board.score())
            winner = K.BLACK if score > 0 else K.WHITE if score < 0 else None
            result = "0" if winner is None else f"{COLOR_NAME[winner]}+{abs(score):g}"
        to_move = np.asarray(g.to_move, np.int8)
        value = np.zeros(len(to_move), np.float32) if winner is None else np.where(to_move == winner, 1.0, -1.0)
        if g.planes:
            planes = np.stack(g.planes)
            policy = np.stack(g.policies)
        else:  # playout cap randomisation: no full search in this game
            planes = np.zeros((0, self.encoder.planes, cfg.size, cfg.size), np.bool_)
            policy = np.zeros((0, self._pass + 1), np.float32)
        packed = pack_planes(planes)
        false_resign = None
        if not g.resign_allowed and g.would_resign is not None:
            false_resign = winner == g.would_resign
        seconds = time.perf_counter() - g.started
        meta = {
            "number": g.number,
            "moves": board.move_number,
            "positions": len(to_move),
            "result": result,
            "winner": None if winner is None else COLOR_NAME[winner],
            "score": score,
            "resigned": g.resigned is not None,
            "resign_disabled": not g.resign_allowed,
            "would_resign": None if g.would_resign is None else COLOR_NAME[g.would_resign],
            "false_resign": false_resign,
            "seconds": round(seconds, 3),
            "versions": sorted(g.versions),
            "simulations": cfg.simulations,
            "fast_simulations": cfg.fast_simulations,
            "full_moves": g.full_moves,
            "fast_moves": g.fast_moves,
        }
        st = self.stats
        st.games += 1
        st.positions += len(to_move)
        st.full_moves += g.full_moves
        st.fast_moves += g.fast_moves
        st.resigned += int(g.resigned is not None)
        st.no_resign_games += int(not g.resign_allowed)
        st.would_resign += int(not g.resign_allowed and g.would_resign is not None)
        st.false_resign += int(bool(false_resign))
        st.black_wins += int(winner == K.BLACK)
        st.draws += int(winner is None)
        from igo.engine.sgf import dump_sgf

        player = f"{self.name} v{max(g.versions) if g.versions else self.version}"
        comments = g.comments + [None] * (len(board.moves) - len(g.comments))
        sgf = dump_sgf(
            board,
            result=result,
            black_player=player,
            white_player=player,
            date=datetime.now(UTC).date().isoformat(),
            ruleset="Tromp-Taylor",
            comments=comments,
        ).decode("utf-8")
        g.search.close()
        return {"planes": packed, "policy": policy, "value": value, "sgf": sgf, "meta": meta}


__all__ = ["SelfPlay", "SelfPlayConfig", "SelfPlayStats", "concat_batches"]
