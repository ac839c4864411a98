"""igo's players, and the one protocol the GTP engine, ``igo play`` and the arena drive them through.

A player chooses moves; its controller (:class:`~igo.gtp.engine.GTPEngine`, :class:`~igo.play_cmd.TerminalGame`)
owns the game. :class:`Player` declares everything a controller may ask, each with a documented default, so a
controller calls the methods directly and asks the ``supports_*`` properties before the optional capabilities:

- ``genmove(board, color)`` (required): a GTP vertex, ``"pass"`` or ``"resign"`` for ``color`` (which need not be
  ``board.to_move``) on ``board``, which must be left as it was (copy it to think);
- ``new_game(board)``: the position was replaced or rewound rather than extended by a move (``boardsize``,
  ``clear_board``, handicap, ``loadsgf``, ``undo``, a rolled-back failure); ``played(board, color, vertex)``: a move
  was just played, ``board`` holds it; ``set_clock(clock)``: the game's :class:`~igo.engine.timecontrol.Clock`
  changed. Default: ignored;
- ``supports_size(size)``: whether the player plays on ``size`` (default: every size);
- analysis (``supports_analysis``): ``analyze`` searches until told to stop and reports as it goes
  (``lz-analyze``/``kata-analyze``), ``genmove(..., report=, interval=)`` reports while choosing a move
  (``*-genmove_analyze``), ``analysis_budget()`` is the budget of a one-off analysis (``igo-best_moves``);
- ``ownership(board)`` (``supports_ownership``): the expected final owner of every point;
- dead stones (``estimates_dead_stones``): ``final_status(board)`` and ``final_score(board)``. Default: every stone
  alive and the Tromp-Taylor count, which is what a player without an estimate gets.

:class:`Player` is a base class rather than a ``typing.Protocol`` so that those defaults exist once, here: a player
overrides what it has, and no controller probes with ``hasattr``.

The players: :class:`RandomPlayer` (random legal moves that fill no own eye, a baseline), :class:`PolicyPlayer` (the
move of an AlphaGo policy net without search; the net is a callable, :func:`igo.nets.player.torch_policy` makes one
from a torch model) and :class:`MCTSPlayer`, igo's playing agent: the search (:mod:`igo.engine.search`) with a
budget, time management, resignation, a pass policy that is safe under area scoring, and dead-stone estimation.

**Budget** of :class:`MCTSPlayer`. ``playouts`` simulations per move, or ``time`` seconds per move at most, or
(neither) ``default_time`` seconds; a game clock, when the controller set one, lowers the time to what
:class:`~igo.engine.timecontrol.TimeManager` allows, so the player never loses on time. The search stops early when
the most visited move can no longer be overtaken in the budget left, and it stops when its tree is full
(``max_nodes``, the cap on its memory; see :class:`PlayerConfig`): an analysis then keeps reporting without
simulating until it is told to stop, and :meth:`MCTSPlayer.new_game` gives the tree's memory back.

**Pass policy** (area scoring; a Tromp-Taylor count, or with dead stones removed: ``igo play``, ``final_score``):

- the opponent has just passed: pass if ending the game wins by both counts, as it stands and without the stones
  :meth:`MCTSPlayer.final_status` calls dead after the pass (what a controller that asks it removes); otherwise never
  pass (the search values the game's end exactly, so it plays on — capturing dead stones in its area, filling neutral
  points);
- otherwise a pass chosen by the search is played only if no dead opponent stone (by the rollouts' ownership) is left
  in its area and the opponent's answering pass would end a game it wins by both counts (a value net can think a
  dead group alive); else the best move on the board is played instead;
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
from .coords import padded_to_gtp, rc_to_gtp, rc_to_padded
from .limits import MAX_BATCH, MAX_PLAYOUTS, MAX_THREADS, MAX_TREE_NODES
from .options import DEFAULT_MOVE_TIME
from .playout import is_eye, random_move
from .rng import make_rng, randint
from .search import MCTS, Evaluator, MoveStats, SearchConfig
from .timecontrol import Clock, TimeManager

log = logging.getLogger(__name__)

DEAD_THRESHOLD = 0.4  # the default of PlayerConfig.dead_threshold and dead_by_ownership


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


class Player:
    """The protocol of a player, with its defaults; see the module docstring. Subclasses implement ``genmove``."""

    @property
    def name(self) -> str:
        """A short name for records and messages (default: the class name)."""
        return type(self).__name__

    # --- required ----------------------------------------------------------------------------------------------

    def genmove(self, board: Board, color: int) -> str:
        """A GTP vertex, ``"pass"`` or ``"resign"`` for ``color`` to play on ``board`` (left as it was). A player
        with :attr:`supports_analysis` also takes ``report=`` (called with :class:`Analysis` snapshots) and
        ``interval=`` (seconds between them)."""
        raise NotImplementedError(f"{type(self).__name__} does not implement genmove")

    # --- notifications (default: ignored) ----------------------------------------------------------------------

    def new_game(self, board: Board) -> None:
        """The position was replaced or rewound: forget anything derived from the old one."""

    def played(self, board: Board, color: int, vertex: str) -> None:
        """``color`` just played ``vertex`` (or ``"pass"``); ``board`` holds the move."""

    def set_clock(self, clock: Clock) -> None:
        """The game's clock (time settings and the time left) changed."""

    def supports_size(self, size: int) -> bool:
        """Whether the player plays on ``size`` x ``size`` (default: any size)."""
        return True

    # --- analysis ----------------------------------------------------------------------------------------------

    @property
    def supports_analysis(self) -> bool:
        """True when :meth:`analyze`, :meth:`analysis_budget` and ``genmove(..., report=...)`` work."""
        return False

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
        """Think about ``board`` for ``color`` until ``stop()`` is true or ``max_visits`` is reached, calling
        ``report`` every ``interval`` seconds and once at the end; return the final snapshot."""
        raise NotImplementedError(f"{self.name} cannot analyse")

    def analysis_budget(self) -> tuple[float | None, int | None]:
        """``(seconds, visits)`` of a one-off analysis: the player's budget for a move without a game clock."""
        raise NotImplementedError(f"{self.name} cannot analyse")

    # --- ownership and dead stones -----------------------------------------------------------------------------

    @property
    def supports_ownership(self) -> bool:
        """True when :meth:`ownership` works."""
        return False

    def ownership(self, board: Board, playouts: int | None = None) -> np.ndarray:
        """The expected final owner of every point, ``(N, N)``, +1 Black, -1 White."""
        raise NotImplementedError(f"{self.name} cannot estimate ownership")

    @property
    def estimates_dead_stones(self) -> bool:
        """True when :meth:`final_status` and :meth:`final_score` estimate dead stones (else: all alive)."""
        return False

    def final_status(self, board: Board) -> dict[str, list[str]]:
        """Every stone's status: ``{"alive": [...], "dead": [...], "seki": [...]}`` (vertices). Default: every
        stone alive."""
        stones = board.stones()
        n = board.size
        alive = [rc_to_gtp(r, c, n) for r in range(n) for c in range(n) if stones[r, c] != 0]
        return {"alive": alive, "dead": [], "seki": []}

    def final_score(self, board: Board) -> str:
        """The result (``"B+3.5"``, ``"W+0.5"``, ``"0"``) by area with komi, dead stones removed. Default:
        Tromp-Taylor, every stone alive."""
        return board.result()


def _opponent_passed(board: Board, color: int) -> bool:
    return bool(board.passes > 0 and board.moves and board.moves[-1][0] == opponent(color))


# --- the random player ---------------------------------------------------------------------------------------------


class RandomPlayer(Player):
    """Random legal moves that fill no own eye; passes after the opponent's pass when passing does not lose by
    Tromp-Taylor area count. Weak on purpose: a baseline.

    ``seed`` makes the choice of moves reproducible (None: a seed from the operating system)."""

    name = "random"

    def __init__(self, seed: int | None = None):
        self.seed = seed
        self._rng = make_rng(seed)

    def genmove(self, board: Board, color: int) -> str:
        if self._should_pass(board, color):
            return "pass"
        trial = board.copy()
        trial.to_move = color
        p = int(random_move(trial.state, self._rng))  # simple ko only; the game's rule is checked below
        if p < 0:
            return "pass"  # no legal point outside its own eyes even under simple ko
        vertex = padded_to_gtp(p, board.size)
        if board.is_legal(vertex, color):
            return vertex
        # The random point repeats a position (superko): choose among all legal non-eye points instead.
        candidates = self._candidates(board, color)
        if not candidates:
            return "pass"
        return candidates[int(randint(self._rng, len(candidates)))]

    @staticmethod
    def _should_pass(board: Board, color: int) -> bool:
        """True when the opponent has just passed and a pass, ending the game, does not lose by area count."""
        return _opponent_passed(board, color) and _margin(board, color) >= 0

    @staticmethod
    def _candidates(board: Board, color: int) -> list[str]:
        n = board.size
        mask = board.legal_mask(color)[:-1]
        out = []
        for f in range(n * n):
            if mask[f]:
                p = rc_to_padded(f // n, f % n, n)
                if not is_eye(board.state, p, color):
                    out.append(padded_to_gtp(p, n))
        return out

    def __repr__(self) -> str:
        return f"RandomPlayer(seed={self.seed!r})"


# --- the policy-network player -------------------------------------------------------------------------------------

PolicyFunction = Callable[[np.ndarray], np.ndarray]
"""An AlphaGo policy net as a function: ``alphago48`` planes ``float32[B, 48, N, N]`` in, move logits
``[B, N*N]`` out."""


class PolicyPlayer(Player):
    """Plays the move of an AlphaGo policy net without search (``igo gtp --player policy --model SL``): sampled from
    its softmax over the sensible moves at ``temperature`` (1: as in the paper's policy-versus-policy games; 0: the
    most likely move). Passes when no sensible move is left, or when the opponent has just passed and passing does
    not lose by area count. ``policy`` is the net (:data:`PolicyFunction`) for ``size`` x ``size``."""

    name = "policy"

    def __init__(self, policy: PolicyFunction, size: int, temperature: float = 1.0, seed: int | None = None):
        from .features import FeatureEncoder

        if temperature < 0:
            raise ValueError(f"temperature must not be negative, got {temperature}")
        self.policy = policy
        self.temperature = float(temperature)
        self.size = int(size)
        self._rng = np.random.default_rng(seed)
        self._encoder = FeatureEncoder("alphago48", self.size)

    def supports_size(self, size: int) -> bool:
        return size == self.size

    def genmove(self, board: Board, color: int) -> str:
        from .features import P_SENSIBLE

        if board.size != self.size:
            raise ValueError(f"the policy net is for {self.size}x{self.size}, the board is {board.size}x{board.size}")
        if board.passes and board.moves and board.moves[-1][0] != color and _margin(board, color) >= 0:
            return "pass"
        trial = board.copy()
        trial.to_move = color
        planes = self._encoder.encode_board(trial)[None]
        logits = np.asarray(self.policy(planes))[0]
        sensible = planes[0, P_SENSIBLE].reshape(-1) > 0.5
        move = sample_sensible_move(logits, sensible, self.temperature, self._rng, trial)
        return "pass" if move is None else rc_to_gtp(move // self.size, move % self.size, self.size)


def sample_sensible_move(
    logits: np.ndarray, sensible: np.ndarray, temperature: float, rng: np.random.Generator, board: Board
) -> int | None:
    """A sensible move (flat index) drawn from softmax(logits / T) (the best one for T = 0), or None (pass) when
    there is none. The features use simple ko; a move that only positional superko forbids is dropped and the draw
    repeated."""
    mask = sensible.copy()
    n = board.size
    while mask.any():
        z = np.where(mask, logits, -np.inf)
        if temperature == 0:
            move = int(np.argmax(z))
        else:
            z = (z - z[mask].max()) / temperature
            p = np.exp(z)
            p /= p.sum()
            move = int(rng.choice(len(p), p=p))
        if board.is_legal((move // n, move % n)):
            return move
        mask[move] = False
    return None


# --- the search player ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlayerConfig:
    """The search player's parameters. Resource bounds (each a ValueError beyond it): ``playouts`` at most
    :data:`~igo.engine.limits.MAX_PLAYOUTS`, ``threads`` at most :data:`~igo.engine.limits.MAX_THREADS`,
    ``batch_size`` at most :data:`~igo.engine.limits.MAX_BATCH`, ``max_nodes`` at most
    :data:`~igo.engine.limits.MAX_TREE_NODES`.

    ``max_nodes`` is the tree's capacity, and with it the search's memory: :func:`~igo.engine.search.tree_bytes`,
    about 1.75 GB at the default 400,000 nodes on 9x9 and larger boards (half of it the spare that tree reuse
    compacts into, touched only when a subtree is kept), reached when the tree is full and never exceeded. A search
    (a move, or an analysis) stops simulating when its tree is full, whatever its budget: more simulations could
    only revisit the leaves there are. :meth:`MCTSPlayer.new_game` gives the tree's memory back."""

    playouts: int | None = None  # simulations per move (new ones; the reused subtree comes on top)
    time: float | None = None  # seconds per move at most
    default_time: float = DEFAULT_MOVE_TIME  # seconds per move when neither playouts nor time is given
    threads: int = 1
    resign_threshold: float = 0.1  # resign below this win rate (0 never)
    resign_min_visits: int = 500
    seed: int | None = None
    search: SearchConfig = field(default_factory=SearchConfig)
    max_nodes: int = 400_000
    temperature: float = 0.0  # move choice ∝ N^(1/τ) for the first temperature_moves moves (self-play)
    temperature_moves: int = 0
    lag: float = 0.3  # seconds reserved per move for transmission and GUI lag
    dead_threshold: float = DEAD_THRESHOLD  # a chain is dead when its colour's mean ownership is below -dead_threshold
    dead_playouts: int = 1000  # playouts for the dead-stone estimate when the search has too few
    early_stop: bool = True
    batch_size: int | None = None  # leaves per batch with an evaluator or several threads (None: the search's default)

    def __post_init__(self):
        playouts = self.playouts
        if playouts is not None and (
            isinstance(playouts, bool) or not isinstance(playouts, int) or not 1 <= playouts <= MAX_PLAYOUTS
        ):
            raise ValueError(f"playouts must be an integer >= 1 and at most {MAX_PLAYOUTS}, got {self.playouts!r}")
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
        if self.threads > MAX_THREADS:
            raise ValueError(f"threads must be at most {MAX_THREADS}, got {self.threads}")
        if self.batch_size is not None and not 1 <= self.batch_size <= MAX_BATCH:
            raise ValueError(f"batch_size must be at least 1 and at most {MAX_BATCH}, got {self.batch_size}")
        if not 1 <= self.max_nodes <= MAX_TREE_NODES:
            raise ValueError(f"max_nodes must be at least 1 and at most {MAX_TREE_NODES}, got {self.max_nodes}")


class MCTSPlayer(Player):
    """The search player; see the module docstring. ``timer`` measures thinking time (seconds; a fake one makes the
    time budget testable without waiting); ``sleep`` waits between polls of an analysis whose tree is full."""

    name = "mcts"

    def __init__(
        self,
        config: PlayerConfig | None = None,
        evaluator: Evaluator | None = None,
        rollout_policy: np.ndarray | None = None,
        *,
        timer: Callable[[], float] = time.perf_counter,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.config = config or PlayerConfig()
        self.timer = timer
        self.sleep = sleep  # waits while an analysis with a full tree waits to be stopped
        self.evaluator = evaluator
        self.rollout_policy = rollout_policy  # weights of AlphaGo's rollout policy (engine.rollout), or None
        self.clock = Clock()
        self.time_manager = TimeManager(lag=self.config.lag)
        self._mcts: MCTS | None = None
        self.last_analysis: Analysis | None = None

    # --- the protocol with the GTP engine ----------------------------------------------------------------------

    @property
    def supports_analysis(self) -> bool:
        return True

    @property
    def supports_ownership(self) -> bool:
        return True

    @property
    def estimates_dead_stones(self) -> bool:
        return True

    def supports_size(self, size: int) -> bool:
        """A network evaluator is made for one board size; the rollout search plays any."""
        ev_size = getattr(self.evaluator, "size", None)
        return ev_size is None or int(ev_size) == size

    def new_game(self, board: Board) -> None:
        """Forget the tree and give its memory back (``clear_board`` after a long analysis must not keep it)."""
        if self._mcts is not None:
            self._mcts.reset(release=True)
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
        start = self.timer()
        root = self._root_board(board, color)
        if _opponent_passed(root, color) and self._passing_wins(root, color):
            log.info("the opponent passed and the game is won as it would be counted: pass")
            return "pass"
        budget_time, budget_sims = self._budget(root, color)
        self._search(root, color, budget_time, budget_sims, report=report, interval=interval)
        move = self._decide(root, color)
        self.time_manager.spent(color, self.timer() - start)
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

    def analysis_budget(self) -> tuple[float | None, int | None]:
        """``time`` seconds, or ``playouts`` visits, or (neither) ``default_time`` seconds."""
        c = self.config
        seconds = c.time or (None if c.playouts else c.default_time)
        return seconds, c.playouts

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
        start = self.timer()
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
            t0 = self.timer()
            done += m.run(board, todo)
            now = self.timer()
            step = max(now - t0, 1e-6)
            if m.tree_full:
                log.info(
                    "the search tree is full (%d nodes, max_nodes %d) after %d simulations: stopping the search",
                    int(m.tree.meta[M.T_NODES]), m.max_nodes, done,
                )  # fmt: skip
                if stop is not None and simulations is None and seconds is None:
                    self._idle(m, color, start, next_report, interval, report, stop)
                break
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
        analysis = self._analysis(m, color, self.timer() - start)
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

    def _idle(self, m: MCTS, color: int, start: float, next_report: float, interval: float, report, stop) -> None:
        """An open-ended analysis whose tree is full: simulate no more, keep reporting until told to stop."""
        while not stop():
            now = self.timer()
            if report is not None and now >= next_report:
                report(self._analysis(m, color, now - start))
                next_report = now + interval
            self.sleep(0.01)

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
        choice = lcb_move(moves) if temperature == 0.0 and m.config.lcb_choice else m.choose_move(temperature)
        if self._should_resign(board, color, moves[0]):
            return "resign"
        if choice == "pass":
            board_moves = [mv for mv in moves if mv.move != "pass" and mv.visits > 0]
            if not board_moves and len(moves) > 1:
                board_moves = [mv for mv in moves if mv.move != "pass"]
            if not board_moves:
                return "pass"
            if _opponent_passed(board, color):  # genmove passed at once if passing won: here it does not
                log.info("the opponent passed but passing does not win as the game would be counted: play on")
                return board_moves[0].move
            # dead opponent stones to capture, or the opponent's answering pass would end a game lost as it is counted
            dead = self._dead_in_own_area(board, color)
            if dead or not self._passing_wins(board, color):
                log.info("play on: %s", f"dead stones left in own area ({' '.join(dead[:8])})" if dead else
                         "passing first would lose the count with the dead stones removed")  # fmt: skip
                return board_moves[0].move
        return choice

    def _passing_wins(self, board: Board, color: int) -> bool:
        """Whether a pass of ``color``, ending the game, wins by the Tromp-Taylor count (a controller that removes
        no dead stones) and by the count without the stones :meth:`final_status` calls dead in the position after the
        pass (a controller that asks this player, as ``igo play`` and ``final_score`` do)."""
        if _margin(board, color) <= 0:
            return False
        after = board.copy()
        after.play(None, color)
        dead = self.final_status(after)["dead"]
        if not dead:
            return True
        margin = score_without(after, dead)
        log.info("dead stones if the game ends now: %s; %s", " ".join(dead[:12]), format_result(margin))
        return (margin if color == BLACK else -margin) > 0

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


def lcb_move(moves: list[MoveStats], min_share: float = 0.1) -> str:
    """Leela Zero's and KataGo's choice: the best :meth:`~igo.engine.search.MoveStats.lcb` among the moves with at
    least ``min_share`` of the most visits (``moves`` most visited first; on a tie the more visited)."""
    floor = max(1.0, min_share * moves[0].visits)
    return max((mv for mv in moves if mv.visits >= floor), key=lambda mv: mv.lcb(), default=moves[0]).move


def _describe(moves: list[MoveStats]) -> str:
    return ", ".join(f"{m.move} {m.visits} {100 * m.winrate:.1f}%" for m in moves)


def _chains(board: Board) -> list[list[tuple[int, int]]]:
    stones = board.stones()
    return chains(stones, BLACK) + chains(stones, WHITE)


def dead_by_ownership(board: Board, own: np.ndarray, threshold: float = DEAD_THRESHOLD) -> list[str]:
    """The stones (vertices) of the chains whose colour's mean ownership in ``own`` (``(N, N)``, +1 Black) is below
    ``-threshold``: the dead stones by an ownership estimate such as :func:`estimate_ownership`."""
    if np.shape(own) != (board.size, board.size):
        raise ValueError(f"ownership must have shape ({board.size}, {board.size}), got {np.shape(own)}")
    return [v for chain, status in _classify(board, own, threshold) if status == "dead" for v in chain]


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
    n = board.size
    w = n + 2
    own = np.zeros(w * w, np.float64)
    scratch = K.new_state(n, K.KO_SIMPLE)
    M.ownership_playouts(board.state, scratch, make_rng(seed), max(1, playouts), 3 * n * n, own)
    return own.reshape(w, w)[1:-1, 1:-1] / max(1, playouts)


__all__ = [
    "DEAD_THRESHOLD",
    "Analysis",
    "MCTSPlayer",
    "Player",
    "PlayerConfig",
    "PolicyFunction",
    "PolicyPlayer",
    "RandomPlayer",
    "Reporter",
    "dead_by_ownership",
    "estimate_ownership",
    "lcb_move",
    "sample_sensible_move",
    "score_without",
]
