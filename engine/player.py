"""igo's playing agent: the search (:mod:`igo.engine.search`) with a budget, time management, resignation, a pass
policy that is safe under area scoring, and dead-stone estimation.

:class:`MCTSPlayer` follows the player protocol of :mod:`igo.gtp.player` (``genmove``, ``new_game``, ``played``) and adds
what the GTP engine and ``igo play`` use: ``set_clock`` (the game's :class:`~igo.engine.timecontrol.Clock`),
``analyze`` (search and report periodically until told to stop: ``lz-analyze``/``kata-analyze``), ``genmove(...,
report=...)`` (``*-genmove_analyze``), ``final_status`` and ``final_score`` (dead stones removed).

**Budget.** ``playouts`` simulations per move, or ``time`` seconds per move at most, or (neither) ``default_time``
seconds; a game clock, when the controller set one, lowers the time to what :class:`~igo.engine.timecontrol.TimeManager`
allows, so the player never loses on time. The search stops early when the most visited move can no longer be
overtaken in the budget left.

**Pass policy** (area scoring; the game's result is a Tromp-Taylor count unless the controller removes dead stones):

- the opponent has just passed: pass if the position, counted as it stands, is a win; otherwise never pass (the search
  values the game's end exactly, so it plays on — capturing dead stones in its area, filling neutral points);
- otherwise a pass chosen by the search is played only if no dead opponent stone (by the rollouts' ownership) is left
  in its area; else the best move on the board is played instead;
- a pass is also played when there is no move on the board that does not fill one of its own eyes.

**Resignation**: when the best move's win rate is below ``resign_threshold`` after at least ``resign_min_visits``
simulations, past the opening (move ``size`` or later), and the ownership estimate agrees that the game is lost.

**Dead stones**: the mean final owner of every point over random playouts from the position; a chain whose own
colour owns its points in less than ``(1 - dead_threshold) / 2`` of the playouts on average is dead. Seki is not
told apart (the ``seki`` list is empty).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from . import board_kernels as K
from . import mcts as M
from .board import BLACK, WHITE, Board, chains, format_result, opponent
from .coords import rc_to_gtp
from .search import MCTS, Evaluator, MoveStats
from .timecontrol import Clock, TimeManager

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PlayerConfig:
    playouts: int | None = None  # simulations per move (new ones; the reused subtree comes on top)
    time: float | None = None  # seconds per move at most
    default_time: float = 2.0  # seconds per move when neither playouts nor time is given
    threads: int = 1
    resign_threshold: float = 0.1  # resign below this win rate (0 never)
    resign_min_visits: int = 500
    seed: int | None = None
    search: M.SearchConfig = field(default_factory=M.SearchConfig)
    max_nodes: int = 400_000
    temperature: float = 0.0  # move choice ∝ N^(1/τ) for the first temperature_moves moves (self-play)
    temperature_moves: int = 0
    lag: float = 0.3  # seconds reserved per move for transmission and GUI lag
    dead_threshold: float = 0.4  # a chain is dead when its colour's mean ownership is below -dead_threshold
    dead_playouts: int = 1000  # playouts for the dead-stone estimate when the search has too few
    early_stop: bool = True
    batch_size: int | None = None  # leaves per batch with an evaluator or several threads (None: the search's default)

    def __post_init__(self):
        if self.playouts is not None and (not isinstance(self.playouts, int) or self.playouts < 1):
            raise ValueError(f"playouts must be an integer >= 1, got {self.playouts!r}")
        for name in ("time", "default_time"):
            value = getattr(self, name)
            if value is not None and not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a positive number of seconds, got {value!r}")
        if not 0.0 <= self.dead_threshold < 1.0:
            raise ValueError(f"dead_threshold must be in [0, 1), got {self.dead_threshold}")
        if self.dead_playouts < 1:
            raise ValueError(f"dead_playouts must be >= 1, got {self.dead_playouts}")
        if not 0.0 <= self.resign_threshold < 0.5:
            raise ValueError(f"resign_threshold must be in [0, 0.5), got {self.resign_threshold}")
        if self.threads < 1:
            raise ValueError(f"threads must be >= 1, got {self.threads}")


@dataclass
class Analysis:
    """A snapshot of a search for analysis output: the root moves (most visited first), total visits, the
    ownership (+1 Black, ``(N, N)``) and Black's expected margin (area minus komi) when rollouts ran."""

    color: int
    moves: list[MoveStats]
    visits: int
    ownership: np.ndarray | None
    score: float | None
    elapsed: float

    @property
    def score_lead(self) -> float | None:
        """The expected margin for the player to move."""
        if self.score is None:
            return None
        return self.score if self.color == BLACK else -self.score


Reporter = Callable[[Analysis], None]


class MCTSPlayer:
    """The search player; see the module docstring."""

    name = "mcts"

    def __init__(
        self,
        config: PlayerConfig | None = None,
        evaluator: Evaluator | None = None,
        rollout_policy: np.ndarray | None = None,
    ):
        self.config = config or PlayerConfig()
        self.evaluator = evaluator
        self.rollout_policy = rollout_policy  # weights of AlphaGo's rollout policy (engine.rollout), or None
        self.clock = Clock()
        self.time_manager = TimeManager(lag=self.config.lag)
        self._mcts: MCTS | None = None
        self._dead_rng_seed = self.config.seed
        self.last_analysis: Analysis | None = None

    # --- the protocol with the GTP engine ----------------------------------------------------------------------

    def supports_size(self, size: int) -> bool:
        """A network evaluator is made for one board size; the rollout search plays any."""
        ev_size = getattr(self.evaluator, "size", None)
        return ev_size is None or int(ev_size) == size

    def new_game(self, board: Board) -> None:
        if self._mcts is not None:
            self._mcts.reset()
        if board.move_number == 0:
            self.time_manager.new_game(self.clock)

    def played(self, board: Board, color: int, vertex: str) -> None:
        """Tree reuse: keep the subtree of the move just played when the tree's root was the position before it."""
        m = self._mcts
        if m is None or m.size != board.size or not board.can_undo:
            return
        before = board.copy()
        before.undo()
        if m._root_hash == before.hash and m._root_to_move == before.to_move:
            m.advance(board)

    def set_clock(self, clock: Clock) -> None:
        self.clock = clock

    # --- choosing a move ---------------------------------------------------------------------------------------

    def genmove(
        self,
        board: Board,
        color: int,
        *,
        report: Reporter | None = None,
        interval: float = 1.0,
    ) -> str:
        start = time.perf_counter()
        root = self._root_board(board, color)
        if self._should_answer_pass(root, color):
            log.info("the opponent passed and the position is won as it stands: pass")
            return "pass"
        budget_time, budget_sims = self._budget(root, color)
        self._search(root, color, budget_time, budget_sims, report=report, interval=interval)
        move = self._decide(root, color)
        self.time_manager.spent(color, time.perf_counter() - start)
        return move

    def analyze(
        self,
        board: Board,
        color: int,
        *,
        interval: float,
        report: Reporter,
        stop: Callable[[], bool],
        max_visits: int | None = None,
    ) -> Analysis:
        """Search ``board`` for ``color`` until ``stop()`` is true (checked every few milliseconds) or
        ``max_visits`` is reached, calling ``report`` every ``interval`` seconds (and once at the end)."""
        root = self._root_board(board, color)
        return self._search(root, color, None, max_visits, report=report, interval=interval, stop=stop, early=False)

    def _root_board(self, board: Board, color: int) -> Board:
        if color == board.to_move:
            return board
        root = board.copy()
        root.to_move = color
        return root

    def _get_mcts(self, board: Board) -> MCTS:
        m = self._mcts
        if m is None or m.size != board.size or m.komi != board.komi:
            if m is not None:
                m.close()
            c = self.config
            m = MCTS(
                board.size,
                board.komi,
                c.search,
                evaluator=self.evaluator,
                threads=c.threads,
                max_nodes=c.max_nodes,
                seed=c.seed,
                batch_size=c.batch_size,
                rollout_policy=self.rollout_policy,
            )
            self._mcts = m
        return m

    def _budget(self, board: Board, color: int) -> tuple[float | None, int | None]:
        c = self.config
        cap = c.time if c.time is not None else (None if c.playouts is not None else c.default_time)
        clock_budget = self.time_manager.budget(
            self.clock,
            color,
            board_size=board.size,
            move_number=board.move_number,
            empty_points=int(board.state.meta[K.M_NEMPTY]),
            max_time=cap,
        )
        if c.playouts is not None:
            # by playouts, but the clock (when there is one) still wins
            return (clock_budget if self.clock.system != "none" else None), c.playouts
        return (clock_budget if clock_budget is not None else c.default_time), None

    def _search(
        self,
        board: Board,
        color: int,
        seconds: float | None,
        simulations: int | None,
        *,
        report: Reporter | None = None,
        interval: float = 1.0,
        stop: Callable[[], bool] | None = None,
        early: bool | None = None,
    ) -> Analysis:
        m = self._get_mcts(board)
        m.set_root(board)
        early = self.config.early_stop if early is None else early
        start = time.perf_counter()
        next_report = start + interval
        done = 0
        chunk = 32
        # a tiny first step so that a budget of a few milliseconds is respected too
        while True:
            if simulations is not None:
                todo = min(chunk, simulations - done)
            else:
                todo = chunk
            if todo <= 0:
                break
            t0 = time.perf_counter()
            done += m.run(board, todo)
            now = time.perf_counter()
            step = max(now - t0, 1e-6)
            if seconds is not None and now - start >= seconds:
                break
            if stop is not None and stop():
                break
            if report is not None and now >= next_report:
                report(self._analysis(m, color, now - start))
                next_report = now + interval
            # aim for chunks of ~10 ms (responsive stop and reports), never past the time budget
            rate = todo / step
            chunk = max(1, int(rate * 0.01))
            if seconds is not None:
                chunk = max(1, min(chunk, int(rate * (seconds - (now - start)))))
            if early and self._decided(m, done, simulations, seconds, rate, now - start):
                break
        analysis = self._analysis(m, color, time.perf_counter() - start)
        self.last_analysis = analysis
        if report is not None:
            report(analysis)
        log.info(
            "%s: %d simulations in %.2f s, best %s",
            "black" if color == BLACK else "white",
            done,
            analysis.elapsed,
            _describe(analysis.moves[:3]),
        )
        return analysis

    @staticmethod
    def _decided(m: MCTS, done: int, simulations, seconds, rate: float, elapsed: float) -> bool:
        """True when the most visited root move cannot be overtaken with the simulations left."""
        if simulations is not None:
            left = simulations - done
        elif seconds is not None:
            left = rate * max(seconds - elapsed, 0.0)
        else:
            return False
        t = m.tree
        root = int(t.meta[M.T_ROOT])
        first, cnt = int(t.node_first[root]), int(t.node_nedges[root])
        if cnt < 2:
            return True
        n = np.sort(t.n[first : first + cnt])
        return done >= 100 and n[-1] - n[-2] > left

    @staticmethod
    def _analysis(m: MCTS, color: int, elapsed: float) -> Analysis:
        return Analysis(color, m.root_moves(), m.root_visits, m.ownership(), m.score_mean(), elapsed)

    def _decide(self, board: Board, color: int) -> str:
        m = self._mcts
        moves = [mv for mv in m.root_moves()]
        if not moves:
            return "pass"
        c = self.config
        temperature = c.temperature if board.move_number < c.temperature_moves else 0.0
        choice = m.choose_move(temperature)
        if self._should_resign(board, color, moves[0]):
            return "resign"
        if choice == "pass":
            board_moves = [mv for mv in moves if mv.move != "pass" and mv.visits > 0]
            if not board_moves and len(moves) > 1:
                board_moves = [mv for mv in moves if mv.move != "pass"]
            if not board_moves:
                return "pass"
            opp_passed = board.passes > 0 and board.moves and board.moves[-1][0] == opponent(color)
            if opp_passed and _margin(board, color) <= 0:
                log.info("the opponent passed but passing does not win as it stands: play on")
                return board_moves[0].move
            dead = self._dead_in_own_area(board, color)
            if dead:
                log.info("dead %s stones left in own area (%s): play on", "white" if color == BLACK else "black",
                         " ".join(dead[:8]))  # fmt: skip
                return board_moves[0].move
        return choice

    def _should_answer_pass(self, board: Board, color: int) -> bool:
        opp_passed = board.passes > 0 and board.moves and board.moves[-1][0] == opponent(color)
        return bool(opp_passed and _margin(board, color) > 0)

    def _should_resign(self, board: Board, color: int, best: MoveStats) -> bool:
        c = self.config
        if c.resign_threshold <= 0 or board.move_number < board.size:
            return False
        if self._mcts.root_visits < c.resign_min_visits or best.winrate >= c.resign_threshold:
            return False
        score = self._mcts.score_mean()
        if score is not None and (score if color == BLACK else -score) > 0:
            return False
        log.info("resigning: best move %s wins %.1f%%", best.move, 100 * best.winrate)
        return True

    # --- dead stones and the final score -------------------------------------------------------------------------

    def ownership(self, board: Board, playouts: int | None = None) -> np.ndarray:
        """Mean final owner of every point, ``(N, N)``, +1 Black, over ``playouts`` fresh random playouts (default
        ``dead_playouts``). Not the search's rollouts: near the end most of those stop at once (pass, pass) and count
        the position as it stands, dead stones included."""
        return estimate_ownership(board, playouts or self.config.dead_playouts, seed=self.config.seed)

    def dead_stones(self, board: Board) -> list[list[str]]:
        """The dead chains (lists of vertices), by the ownership estimate."""
        own = self.ownership(board)
        return [chain for chain, status in _classify(board, own, self.config.dead_threshold) if status == "dead"]

    def _dead_in_own_area(self, board: Board, color: int) -> list[str]:
        # Fresh playouts, not the search's ownership: when the search likes pass, most of its rollouts end at once
        # (pass, pass) and count the position as it stands, dead stones included.
        own = estimate_ownership(board, 400, seed=self.config.seed)
        sign = 1.0 if color == BLACK else -1.0
        stones = board.stones()
        opp = opponent(color)
        n = board.size
        return [
            rc_to_gtp(r, c, n)
            for r in range(n)
            for c in range(n)
            if stones[r, c] == opp and sign * own[r, c] > self.config.dead_threshold
        ]

    def final_status(self, board: Board) -> dict[str, list[str]]:
        """Every stone's status: ``{"alive": [...], "dead": [...], "seki": []}`` (vertices)."""
        own = self.ownership(board)
        out: dict[str, list[str]] = {"alive": [], "dead": [], "seki": []}
        for chain, status in _classify(board, own, self.config.dead_threshold):
            out[status].extend(chain)
        return out

    def final_score(self, board: Board) -> str:
        """Area score with komi after removing the dead stones ("B+3.5", "W+0.5", "0")."""
        dead = [v for chain in self.dead_stones(board) for v in chain]
        return format_result(score_without(board, dead))


# --- helpers -------------------------------------------------------------------------------------------------------


def _margin(board: Board, color: int) -> float:
    """Tromp-Taylor margin (komi included) for ``color`` if the game ended now."""
    s = board.score()
    return s if color == BLACK else -s


def _describe(moves: list[MoveStats]) -> str:
    return ", ".join(f"{m.move} {m.visits} {100 * m.winrate:.1f}%" for m in moves)


def _chains(board: Board) -> list[list[tuple[int, int]]]:
    stones = board.stones()
    return chains(stones, BLACK) + chains(stones, WHITE)


def _classify(board: Board, own: np.ndarray, threshold: float) -> list[tuple[list[str], str]]:
    stones = board.stones()
    n = board.size
    out = []
    for chain in _chains(board):
        color = stones[chain[0]]
        sign = 1.0 if color == BLACK else -1.0
        mean = sign * float(np.mean([own[r, c] for r, c in chain]))
        status = "dead" if mean < -threshold else "alive"
        out.append(([rc_to_gtp(r, c, n) for r, c in chain], status))
    return out


def score_without(board: Board, dead: list[str]) -> float:
    """Black's area margin minus komi after removing the stones ``dead`` (Tromp-Taylor on the rest)."""
    if not dead:
        return board.score()
    stones = board.stones()
    b = Board(board.size, board.komi)
    dead_set = set(dead)
    n = board.size
    black = [rc_to_gtp(r, c, n) for r in range(n) for c in range(n) if stones[r, c] == BLACK]
    white = [rc_to_gtp(r, c, n) for r in range(n) for c in range(n) if stones[r, c] == WHITE]
    b.setup(black=[v for v in black if v not in dead_set], white=[v for v in white if v not in dead_set])
    return b.score()


def estimate_ownership(board: Board, playouts: int, seed: int | None = None) -> np.ndarray:
    """Mean final owner of every point over ``playouts`` random playouts from ``board`` (``(N, N)``, +1 Black)."""
    from .rng import make_rng

    n = board.size
    w = n + 2
    own = np.zeros(w * w, np.float64)
    scratch = K.new_state(n, K.KO_SIMPLE)
    M.ownership_playouts(board.state, scratch, make_rng(seed), max(1, playouts), 3 * n * n, own)
    return own.reshape(w, w)[1:-1, 1:-1] / max(1, playouts)


def describe_analysis(a: Analysis, size: int) -> str:
    """One line for logs: visits, best moves, score."""
    lead = a.score_lead
    lead_text = "" if lead is None else f", lead {lead:+.1f}"
    return f"{a.visits} visits{lead_text}: {_describe(a.moves[:3])}"


__all__ = [
    "MCTSPlayer",
    "PlayerConfig",
    "Analysis",
    "estimate_ownership",
    "score_without",
    "describe_analysis",
]
