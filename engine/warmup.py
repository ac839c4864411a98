"""Compiling the Numba kernels before they are needed, and saying so.

igo's kernels are compiled on their first use after an install or a change of the engine (:mod:`igo.engine.jit`):
about 10-20 s for a search on a two-core machine, longer for everything. Numba keeps the machine code in its cache,
and later starts load it in a fraction of a second. This module runs that first use on purpose, early and in a known
order, and tells the user what the wait is:

- a :class:`Step` is one group of kernels, compiled by using it the way play uses it (a tiny game on a small board
  through the real :class:`~igo.engine.board.Board`, :class:`~igo.engine.player.MCTSPlayer` and
  :class:`~igo.engine.features.FeatureEncoder`, so that every kernel gets the argument types of real play and the
  cache entries are the ones play looks up);
- :func:`player_steps` are the steps one player needs (``igo gtp``, ``igo play``), in the order a game needs them:
  the board (``play``) first, then its search (``genmove``), then its dead-stone estimate; :func:`all_steps` are
  the steps of every command (``igo warmup``);
- :func:`warm_up` runs steps and reports each one through a callback;
- :class:`Announcer` prints ``igo: compiling search kernels (first run only, about N s)...`` on stderr at the moment
  Numba starts compiling, and ``igo: kernels ready in X s`` when the steps are done; nothing when everything came
  from the cache; :func:`start_warm_up` runs the steps on a background thread under an announcer (``igo gtp``).

How a cold cache is detected: by Numba's ``numba:compile`` event (:mod:`numba.core.event`), which a dispatcher fires
only when it starts compiling a signature that neither this process nor the disk cache holds. The message therefore
appears at the first real compile, a few milliseconds after the start, and never when the kernels load from the
cache, however loaded the machine or slow the disk. (Rejected: a timer, for which a loaded machine loading from the
cache looks like a compile; reading Numba's cache index files, a private format whose entries may be for another
CPU.)

Two threads that need the same kernel do not compile it twice: Numba compiles under one global lock and looks the
signature up again once it holds the lock, so a GTP command that needs a kernel the warm-up thread is compiling
waits for that compile and then uses it.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TextIO

import numpy as np
from numba.core import event

__all__ = [
    "Announcer",
    "Step",
    "StepResult",
    "all_steps",
    "player_steps",
    "start_warm_up",
    "warm_up",
]

_SIZE = 7  # the board of the tiny games: types, not sizes, select the compiled code


@dataclass(frozen=True)
class Step:
    """One group of kernels: ``name`` (short), ``label`` (what it is for), ``seconds`` (about how long its cold
    compile takes on one core of a two-core machine, for the announcement) and ``run`` (uses the kernels)."""

    name: str
    label: str
    seconds: float
    run: Callable[[], None]


@dataclass(frozen=True)
class StepResult:
    """A step done: its wall time and how many kernel signatures Numba compiled for it (0: all from the cache)."""

    step: Step
    seconds: float
    compiled: int


# --- the steps -------------------------------------------------------------------------------------------------------


def _board() -> None:
    from .board import Board
    from .coords import rc_to_gtp

    b = Board(_SIZE)
    for r, c in ((3, 3), (2, 3), (3, 2), (2, 2), (4, 4), (2, 4), (1, 3)):
        if b.is_legal((r, c)):
            b.play(rc_to_gtp(r, c, _SIZE))
    b.pass_move()
    b.legal_moves()
    b.liberties(rc_to_gtp(3, 3, _SIZE))
    b.history(8)
    c = b.copy()
    c.undo()
    b.score()
    str(b)
    h = Board(_SIZE)
    h.place_handicap(2)  # setup stones (handicap, SGF AB/AW)


class _StandInEvaluator:
    """Plays the part of a network evaluator in the search without torch: uniform priors, value 0, and the feature
    planes of ``feature_sets`` computed and thrown away (their kernels are what a network evaluator runs)."""

    def __init__(self, size: int, history_length: int, feature_sets: Sequence[str]):
        from .features import FeatureEncoder

        self.size = size
        self._encoders = [FeatureEncoder(fs, size) for fs in feature_sets]
        self.history_length = max([history_length, *(e.history_length for e in self._encoders)])

    def evaluate(self, batch):
        for e in self._encoders:
            e.encode(batch)
        n = batch.size
        return np.ones((batch.count, n * n + 1), np.float32), np.zeros(batch.count, np.float32)


def _game(player, moves: int = 3) -> None:
    """A few moves of ``player`` against itself: genmove (root, search, reading the root) and the tree reuse of
    ``played``."""
    from .board import Board

    b = Board(_SIZE)
    player.new_game(b)
    for _ in range(moves):
        move = player.genmove(b, b.to_move)
        if move == "resign":
            break
        color = b.to_move
        b.play(None if move == "pass" else move)
        player.played(b, color, move)
    m = getattr(player, "_mcts", None)  # the player keeps its search; shut its rollout threads down
    if m is not None:
        m.close()


def _search(threads: int, evaluator: Callable | None = None, search=None, rollout_policy: np.ndarray | None = None):
    """A step's run: a tiny game of an :class:`~igo.engine.player.MCTSPlayer` on ``threads`` threads with the
    :class:`~igo.engine.search.SearchConfig` ``search`` (default: rollouts only), an evaluator made by ``evaluator()``
    (None: none) and the rollout policy's weights ``rollout_policy`` (None: light playouts)."""

    def run() -> None:
        from .player import MCTSPlayer, PlayerConfig
        from .search import SearchConfig

        config = PlayerConfig(playouts=48, threads=threads, seed=0, max_nodes=4096, search=search or SearchConfig())
        _game(MCTSPlayer(config, None if evaluator is None else evaluator(), rollout_policy))

    return run


def _ownership() -> None:
    from .board import Board
    from .player import MCTSPlayer, PlayerConfig, estimate_ownership

    b = Board(_SIZE)
    b.play("D4")
    estimate_ownership(b, 8, seed=0)
    player = MCTSPlayer(PlayerConfig(playouts=8, seed=0, max_nodes=256, dead_playouts=8))
    player.final_status(b)


def _features(feature_sets: Sequence[str]) -> Callable[[], None]:
    """The planes of single positions (:meth:`~igo.engine.features.FeatureEncoder.encode_board`): the policy player
    (``--player policy``), training data from SGF."""

    def run() -> None:
        from .board import Board
        from .features import FeatureEncoder

        b = Board(_SIZE)
        for v in ("D4", "C3", "E5"):
            b.play(v)
        for fs in feature_sets:
            FeatureEncoder(fs, _SIZE).encode_board(b)

    return run


def _rollout_policy_weights() -> np.ndarray:
    from .patterns import num_features

    return np.zeros(num_features(True), np.float32)


def _rollout_training() -> None:
    """The kernels of ``igo train rollout`` and its speed measurement (:mod:`igo.training.rollout`)."""
    from . import board_kernels as K
    from . import rollout as R
    from .board import Board
    from .patterns import MAX_FEATURES
    from .rng import make_rng

    b = Board(_SIZE)
    b.play("D4")
    n = _SIZE
    moves = np.zeros(n * n, np.int64)
    index = np.full((n * n, MAX_FEATURES), -1, np.int64)
    R.fill_candidates(b.state, True, moves, index)
    weights = _rollout_policy_weights()
    work = R.new_work(n)
    rng = make_rng(0)
    R.run_policy_playouts(b.state, K.new_state(n, K.KO_SIMPLE), rng, 1, 3 * n * n, weights, work)
    R.policy_move(b.state, rng, weights, True, work)


def _random_player() -> None:
    from .board import Board
    from .player import RandomPlayer

    b = Board(_SIZE)
    p = RandomPlayer(seed=0)
    for _ in range(3):
        b.play(p.genmove(b, b.to_move))


def _benchmarks() -> None:
    """The kernels ``igo bench board`` times."""
    from . import board_kernels as K
    from . import playout as P
    from .rng import make_rng

    s = K.new_state(_SIZE, K.KO_SIMPLE)
    scratch = K.copy_state(s, history=False)
    rng = make_rng(0)
    P.run_playouts(s, scratch, rng, 1, 3 * _SIZE * _SIZE)
    P.make_undo_loop(scratch, K.new_undo_stack(_SIZE, 1), rng, 1)


# Step.seconds: cold compile times measured on an idle two-core machine (one core compiles), rounded up
BOARD = Step("board", "board and rules (play, undo, legal moves, score)", 5.0, _board)
OWNERSHIP = Step("ownership", "ownership and dead stones (score, final_status)", 1.0, _ownership)


def _search_step(threads: int, seconds: float = 8.0) -> Step:
    if threads > 1:
        return Step("search", "search with rollouts, on several threads", seconds, _search(threads))
    return Step("search", "search with rollouts, one thread", seconds, _search(1))


def player_steps(player) -> list[Step]:
    """The steps a player needs, in the order a game needs them: the board, its search, its dead-stone estimate.

    ``player`` is an :class:`~igo.engine.player.MCTSPlayer` (its threads, evaluator, λ and rollout policy decide which
    kernels its search runs; a network evaluator is stood in for by one that computes the same feature planes: its
    ``feature_set``, or its encoder's), a :class:`~igo.engine.player.PolicyPlayer` (the AlphaGo planes), a
    :class:`~igo.engine.player.RandomPlayer`, or any other player (the board only)."""
    from .player import MCTSPlayer, PolicyPlayer, RandomPlayer

    steps = [BOARD]
    if isinstance(player, RandomPlayer):
        steps.append(Step("random", "random player", 1.0, _random_player))
    elif isinstance(player, PolicyPlayer):
        steps.append(Step("features", "feature planes of the policy net", 6.0, _features(("alphago48",))))
    if not isinstance(player, MCTSPlayer):
        return steps
    threads = max(1, int(player.config.threads or 1))
    ev = player.evaluator
    weights = None if player.rollout_policy is None else _rollout_policy_weights()
    if ev is None and weights is None:
        steps.append(_search_step(threads))
    else:
        stand_in = None
        label, seconds = "search with the rollout policy", 20.0
        if ev is not None:
            history = max(1, int(getattr(ev, "history_length", 1)))
            sets = _feature_set_names(ev)
            label = f"search with a network ({', '.join(sets) or 'no'} features)"
            seconds = (
                8.0
                + (6.0 if any(fs.startswith("alphago") for fs in sets) else 0.0)
                + (0.0 if weights is None else 12.0)
            )

            def stand_in():
                return _StandInEvaluator(_SIZE, history, sets)

        steps.append(Step("search", label, seconds, _search(threads, stand_in, player.config.search, weights)))
    steps.append(OWNERSHIP)
    return steps


def _feature_set_names(evaluator) -> tuple[str, ...]:
    fs = getattr(evaluator, "feature_set", None)
    if fs is None:
        fs = getattr(getattr(evaluator, "_encoder", None), "feature_set", None)
    name = getattr(fs, "name", fs)
    return (name,) if isinstance(name, str) else ()


def all_steps(threads: int = 2) -> list[Step]:
    """The steps of every igo command: ``igo warmup``. ``threads``: the search threads to compile for (the kernels
    are the same for any count above one)."""
    from .features import FeatureEncoder
    from .search import SearchConfig

    zero_history = FeatureEncoder("zero8", _SIZE).history_length
    return [  # (the seconds are what each step adds to those before it)
        BOARD,
        _search_step(1, 7.0),
        _search_step(max(2, threads), 2.0),
        OWNERSHIP,
        Step(
            "zero",
            "search with a Zero network, self-play (zero8 features)",
            2.0,
            _search(1, lambda: _StandInEvaluator(_SIZE, zero_history, ("zero8",)), SearchConfig.zero()),
        ),
        Step(
            "alphago",
            "search with AlphaGo's networks and rollouts (alphago48/49 features)",
            6.0,
            _search(max(2, threads), lambda: _StandInEvaluator(_SIZE, 8, ("alphago49",)), SearchConfig(lam=0.5)),
        ),
        Step(
            "features",
            "feature planes of single positions (policy player, training)",
            0.5,
            _features(("zero8", "alphago48")),
        ),
        Step(
            "rollout-policy",
            "AlphaGo's rollout policy (search and training)",
            15.0,
            _rollout_step,
        ),
        Step("random", "random player and benchmarks", 1.5, _random_and_bench),
    ]


def _rollout_step() -> None:
    _search(1, rollout_policy=_rollout_policy_weights())()
    _rollout_training()


def _random_and_bench() -> None:
    _random_player()
    _benchmarks()


# --- running and announcing ------------------------------------------------------------------------------------------


class _Quiet(logging.Filter):
    """Drops the log records of the thread that runs the warm-up games (their "48 simulations" lines are not the
    user's moves); other threads log as usual."""

    local = threading.local()

    def filter(self, record: logging.LogRecord) -> bool:
        return not getattr(self.local, "on", False)


_QUIET = _Quiet()
logging.getLogger("igo.engine.player").addFilter(_QUIET)


def warm_up(steps: Iterable[Step], progress: Callable[[StepResult], None] | None = None) -> list[StepResult]:
    """Run ``steps`` in order (compiling what the Numba cache lacks), their players' logging silenced; ``progress``
    is called after each."""
    results = []
    for step in steps:
        counter = _CompileCounter()
        t0 = time.perf_counter()
        _QUIET.local.on = True
        try:
            with event.install_listener("numba:compile", counter):
                step.run()
        finally:
            _QUIET.local.on = False
        r = StepResult(step, time.perf_counter() - t0, counter.count)
        results.append(r)
        if progress is not None:
            progress(r)
    return results


class _CompileCounter(event.Listener):
    """Counts the compiles that start while it listens (nested ones included), in any thread; ``on_first`` is called
    at the first."""

    def __init__(self, on_first: Callable[[], None] | None = None):
        self.count = 0
        self._on_first = on_first
        self._lock = threading.Lock()

    def on_start(self, ev) -> None:
        with self._lock:
            self.count += 1
            first = self.count == 1
        if first and self._on_first is not None:
            self._on_first()

    def on_end(self, ev) -> None:
        pass


class Announcer:
    """While active (``with``), prints ``igo: compiling search kernels (first run only, about N s)...`` to ``stream``
    the moment Numba starts compiling anything (in any thread), once, and on exit ``igo: kernels ready in X s`` (the
    time since entering) if it did. Nothing is printed when every kernel came from the cache. ``seconds``: the
    estimate N."""

    def __init__(self, seconds: float, stream: TextIO | None = None, what: str = "search kernels"):
        self.seconds = seconds
        self.stream = stream
        self.what = what
        self.compiled = False
        self._counter = _CompileCounter(on_first=self._first)
        self._start = 0.0
        self._cm = None

    def _write(self, text: str) -> None:
        stream = self.stream if self.stream is not None else sys.stderr
        try:
            stream.write(text + "\n")
            stream.flush()
        except (OSError, ValueError):  # a closed pipe must not break the warm-up
            pass

    def _first(self) -> None:
        self.compiled = True
        self._write(f"igo: compiling {self.what} (first run only, about {_about(self.seconds)})...")

    def __enter__(self) -> Announcer:
        self._start = time.perf_counter()
        self._cm = event.install_listener("numba:compile", self._counter)
        self._cm.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self._cm.__exit__(*exc)
        if self.compiled and exc[0] is None:
            self._write(f"igo: kernels ready in {time.perf_counter() - self._start:.1f} s")


def _about(seconds: float) -> str:
    """``about 20 s``: rounded to 5 s above 10 s, so that it reads as the estimate it is."""
    if seconds >= 10:
        return f"{5 * round(seconds / 5):.0f} s"
    return f"{max(1, round(seconds)):.0f} s"


def start_warm_up(
    steps: Sequence[Step], stream: TextIO | None = None, on_done: Callable[[list[StepResult]], None] | None = None
) -> threading.Thread:
    """Run ``steps`` on a daemon thread under an :class:`Announcer` (the message on ``stream``, default stderr, when
    anything compiles, in this thread or another); ``on_done`` gets the results. The announcer listens from this
    call on, so a kernel that the calling thread compiles right after (say, for the board it makes next) is
    announced too. A failure of a step ends the warm-up quietly: it shows up again, with its traceback, where play
    uses the kernel; ``on_done`` then gets the steps done before it."""
    steps = list(steps)
    announcer = Announcer(sum(s.seconds for s in steps), stream)
    announcer.__enter__()

    def run() -> None:
        results: list[StepResult] = []
        failed = None
        try:
            warm_up(steps, results.append)
        except Exception as e:  # noqa: BLE001  (reported where play runs the same kernel)
            failed = e
        announcer.__exit__(type(failed) if failed else None, failed, None)
        if on_done is not None:
            on_done(results)

    t = threading.Thread(target=run, name="igo-warm-up", daemon=True)
    t.start()
    return t
