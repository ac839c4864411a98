"""Resource bounds of the player and the search (issue 15, item 7): threads, batch and playouts have documented
maxima with a clear error; a search stops when its tree is full instead of running a pointless budget; an analysis
keeps its memory bounded by the tree's capacity and ``new_game`` gives the tree's memory back.

Everything is asserted on counters and sizes (simulations, nodes in use), never on time or RSS."""

from __future__ import annotations

import gc
import logging
import weakref

import pytest

from igo.engine import mcts as M
from igo.engine.board import BLACK, Board
from igo.engine.limits import MAX_BATCH, MAX_PLAYOUTS, MAX_THREADS
from igo.engine.options import PlayerOptions
from igo.engine.player import MCTSPlayer, PlayerConfig
from igo.engine.search import MCTS, tree_bytes


class FakeTimer:
    """Advances ``step`` seconds per reading: reports every chunk, no waiting."""

    def __init__(self, step: float = 0.01):
        self.now = 0.0
        self.step = step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


class TooManyChunks(Exception):
    pass


def chunk_guard(limit: int):
    """A report callback that fails the test (rather than hanging it) after ``limit`` chunks of simulations."""
    calls = [0]

    def report(_analysis):
        calls[0] += 1
        if calls[0] > limit:
            raise TooManyChunks(f"the search ran past {limit} chunks")

    return report, calls


# --- threads, batch, playouts: documented maxima, clear errors ---------------------------------------------------


@pytest.mark.parametrize(
    ("flag", "value", "maximum"),
    [("--threads", 1_000_000, MAX_THREADS), ("--batch", 10**7, MAX_BATCH), ("--playouts", 10**12, MAX_PLAYOUTS)],
)
def test_player_options_bound_threads_batch_playouts(flag, value, maximum):
    with pytest.raises(ValueError, match=rf"{flag}: .*at most {maximum}"):
        PlayerOptions.from_argv([flag, str(value)])
    field = {"--threads": "threads", "--batch": "batch", "--playouts": "playouts"}[flag]
    with pytest.raises(ValueError, match=rf"{flag}: .*at most {maximum}"):
        PlayerOptions(**{field: value})
    ok = PlayerOptions.from_argv([flag, str(maximum)])
    assert getattr(ok, field) == maximum


def test_player_config_and_search_bound_threads_and_batch():
    with pytest.raises(ValueError, match=f"threads must be at most {MAX_THREADS}"):
        PlayerConfig(threads=1_000_000)
    with pytest.raises(ValueError, match=f"batch_size must be .*at most {MAX_BATCH}"):
        PlayerConfig(batch_size=10**7)
    with pytest.raises(ValueError, match=f"playouts must be .*at most {MAX_PLAYOUTS}"):
        PlayerConfig(playouts=MAX_PLAYOUTS + 1)
    with pytest.raises(ValueError, match="max_nodes"):
        PlayerConfig(max_nodes=0)
    # the search itself refuses before allocating anything (the MemoryError of 1,000,000 threads)
    with pytest.raises(ValueError, match=f"threads must be at most {MAX_THREADS}"):
        MCTS(9, threads=1_000_000, max_nodes=100)
    with pytest.raises(ValueError, match=f"batch_size must be .*at most {MAX_BATCH}"):
        MCTS(9, batch_size=10**7, max_nodes=100)


def test_a_large_playout_budget_is_still_valid():
    """The issue's case: 10**8 playouts is a valid budget (the tree's capacity stops the search, see below)."""
    assert PlayerOptions(playouts=10**8).playouts == 10**8
    assert PlayerConfig(playouts=10**8).playouts == 10**8


# --- the search stops when the tree is full --------------------------------------------------------------------


@pytest.mark.parametrize("threads", [1, 2])
def test_genmove_stops_when_the_tree_is_full(threads, caplog):
    cap = 2000
    p = MCTSPlayer(
        PlayerConfig(playouts=10**8, max_nodes=cap, seed=3, threads=threads, resign_threshold=0.0),
        timer=FakeTimer(),
    )
    b = Board(9, 7.5)
    report, calls = chunk_guard(3000)  # 3000 chunks of >= 1 simulation; the tree holds 2000 nodes
    with caplog.at_level(logging.INFO, logger="igo.engine.player"):
        move = p.genmove(b, BLACK, report=report, interval=1e-9)
    assert move == "pass" or b.is_legal(move, BLACK)
    m = p._mcts
    assert m.tree_full
    assert int(m.tree.meta[M.T_NODES]) <= cap
    assert m.root_visits < 10**6  # far below the budget: it stopped when the tree filled
    full = [r for r in caplog.records if "tree is full" in r.getMessage()]
    assert len(full) == 1, [r.getMessage() for r in caplog.records]


def test_the_next_move_after_a_full_tree_still_searches():
    """A full tree from the last move does not stop the next search before it starts (fresh tree, fresh count)."""
    p = MCTSPlayer(PlayerConfig(playouts=10**8, max_nodes=500, seed=4, resign_threshold=0.0), timer=FakeTimer())
    b = Board(9, 7.5)
    for _ in range(3):
        report, _calls = chunk_guard(3000)
        move = p.genmove(b, b.to_move, report=report, interval=1e-9)
        assert move == "pass" or b.is_legal(move)
        assert p._mcts.root_visits > 0
        b.play(move)
        p.played(b, b.moves[-1][0], move)


# --- analysis: bounded by the tree's capacity; new_game gives the memory back ----------------------------------


def test_analysis_is_bounded_and_new_game_releases_the_tree():
    cap = 1500
    p = MCTSPlayer(PlayerConfig(max_nodes=cap, seed=5), timer=FakeTimer(), sleep=lambda _s: None)
    b = Board(9, 7.5)
    polls = [0]

    def stop():
        polls[0] += 1
        return polls[0] > 1500  # the GUI's next command, after many polls

    reports = []
    a = p.analyze(b, BLACK, interval=0.05, report=reports.append, stop=stop)
    m = p._mcts
    assert m.tree_full
    assert int(m.tree.meta[M.T_NODES]) <= cap
    assert a.visits < 10**6
    # the analysis keeps reporting while it waits for the stop, but it stops simulating once the tree is full
    assert reports and reports[-1].visits == a.visits
    # the tree's memory is bounded by the documented capacity (it grows up to it as it fills)
    filled = m.memory_bytes()
    assert filled <= tree_bytes(cap, 9)

    old = weakref.ref(m.tree.n)
    p.new_game(Board(9, 7.5))
    gc.collect()
    assert old() is None  # the filled edge arrays were released, not kept for the next game
    assert int(p._mcts.tree.meta[M.T_NODES]) == 0
    assert p._mcts.memory_bytes() < filled
    # and the player still searches after that
    polls[0] = 0
    again = p.analyze(Board(9, 7.5), BLACK, interval=0.05, report=reports.append, stop=stop)
    assert 0 < again.visits < 10**6


def test_tree_bytes_documents_the_default_cap():
    """The default tree on 19x19 has a documented ceiling (the two trees of MCTS: the tree and the reuse spare)."""
    per_tree = tree_bytes(PlayerConfig().max_nodes, 19) // 2
    assert per_tree > 0
    m = MCTS(9, max_nodes=1000)
    assert m.memory_bytes() <= tree_bytes(1000, 9)
    # the most the tree grows to: both limits reached, the two trees together tree_bytes
    full = M.reserve(m.tree, 10**9, 9, m.max_nodes, m.max_edges)
    assert sum(a.nbytes for a in full) * 2 == tree_bytes(1000, 9)
