"""Tests of engine/player.py's search player: the budget (playouts, time, game clock), the pass policy, resignation,
dead stones and the final score, tree reuse through ``played``, temperature, an evaluator-driven game and config
validation; the protocol's defaults, the random player and the policy-network player (with a fake net)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from igo.engine.board import BLACK, WHITE, Board, format_result
from igo.engine.player import (
    MCTSPlayer,
    Player,
    PlayerConfig,
    PolicyPlayer,
    RandomPlayer,
    estimate_ownership,
    sample_sensible_move,
    score_without,
)
from igo.engine.search import PlayoutEvaluator, SearchConfig
from igo.engine.timecontrol import Clock


def player(**overrides) -> MCTSPlayer:
    fields = {"playouts": 200, "seed": 1, "early_stop": False, "max_nodes": 50_000} | overrides
    return MCTSPlayer(PlayerConfig(**fields))


class FakeTimer:
    """A clock that advances ``step`` seconds every time it is read: the time budget without waiting for it."""

    def __init__(self, step: float = 0.01):
        self.now = 0.0
        self.step = step
        self.readings = 0

    def __call__(self) -> float:
        self.now += self.step
        self.readings += 1
        return self.now


def white_passes(board: Board) -> Board:
    """``board`` after a white pass (Black to move)."""
    board.to_move = WHITE
    board.play("pass")
    assert board.to_move == BLACK and board.passes == 1
    return board


# --- the budget ------------------------------------------------------------------------------------------------------


def test_genmove_plays_legal_moves_for_either_colour():
    b = Board(7, 7.5)
    p = player(playouts=100)
    for _ in range(12):
        color = b.to_move
        move = p.genmove(b, color)
        assert move != "resign"
        assert b.is_legal(move), move
        b.play(move)
        p.played(b, color, move)
    # asked for the colour not to move, it answers for that colour
    move = p.genmove(b, 3 - b.to_move)
    assert b.is_legal(move, 3 - b.to_move)


def test_playouts_budget_runs_that_many_simulations():
    b = Board(7, 7.5)
    p = player(playouts=300)
    p.genmove(b, BLACK)
    a = p.last_analysis
    assert a.visits == 300 == sum(m.visits for m in a.moves)
    assert a.color == BLACK and a.score is not None and a.ownership.shape == (7, 7)
    # with early stopping, never more, and at least enough to decide
    q = player(playouts=2000, early_stop=True)
    q.genmove(b, BLACK)
    assert 100 <= q.last_analysis.visits <= 2000


def test_time_budget_is_kept():
    b = Board(9, 7.5)
    timer = FakeTimer(0.01)  # 0.02 s per step of the search (two readings)
    p = MCTSPlayer(PlayerConfig(time=0.3, seed=1, early_stop=False), timer=timer)
    move = p.genmove(b, BLACK)
    assert b.is_legal(move)
    a = p.last_analysis
    # it stopped because the time was up: at the first step past 0.3 s, not before and not much later
    assert 0.3 <= a.elapsed <= 0.3 + 0.03
    assert a.visits > 100  # it did think: ~15 steps of 32 simulations
    assert a.visits == sum(m.visits for m in a.moves)
    # the same budget with twice as fast a clock: about half the simulations
    q = MCTSPlayer(PlayerConfig(time=0.3, seed=1, early_stop=False), timer=FakeTimer(0.02))
    q.genmove(b, BLACK)
    assert 0.3 <= q.last_analysis.elapsed <= 0.3 + 0.06
    assert q.last_analysis.visits < a.visits


def test_game_clock_keeps_total_thinking_within_main_time():
    b = Board(9, 7.5)
    timer = FakeTimer(0.01)
    p = MCTSPlayer(PlayerConfig(seed=1, lag=0.05), timer=timer)  # no playouts or time: the clock decides
    p.set_clock(Clock("absolute", 5.0))
    p.new_game(b)
    total = 0.0
    for _ in range(8):
        color = b.to_move
        start = timer.now
        move = p.genmove(b, color)
        took = timer.now - start
        total += took
        assert 0 < took < 1.5  # nowhere near default_time per move
        assert p.last_analysis.elapsed < 1.5
        b.play(move)
        p.played(b, color, move)
    assert total < 5.0


def test_game_clock_overrides_a_playouts_budget():
    timer = FakeTimer(0.01)
    p = MCTSPlayer(PlayerConfig(playouts=10_000_000, seed=1, lag=0.05, early_stop=False), timer=timer)
    p.set_clock(Clock("absolute", 2.0))
    b = Board(9, 7.5)
    start = timer.now
    p.genmove(b, WHITE)
    assert timer.now - start < 1.5
    assert 0 < p.last_analysis.visits < 10_000_000
    assert p.last_analysis.elapsed < 1.5  # the search stopped by the clock's budget, not the playouts


def test_analysis_budget():
    assert MCTSPlayer(PlayerConfig(playouts=300)).analysis_budget() == (None, 300)
    assert MCTSPlayer(PlayerConfig(time=0.5)).analysis_budget() == (0.5, None)
    assert MCTSPlayer(PlayerConfig()).analysis_budget() == (PlayerConfig().default_time, None)


def test_analyze_reports_until_stopped():
    b = Board(7, 7.5)
    p = player()
    reports = []
    a = p.analyze(b, WHITE, interval=0.02, report=reports.append, stop=lambda: len(reports) >= 3)
    assert len(reports) >= 4 and reports[-1] is a  # periodic reports, then the final one
    assert a.color == WHITE and a.visits > 0
    assert [r.visits for r in reports] == sorted(r.visits for r in reports)
    assert a.score_lead == pytest.approx(-a.score)  # for the player to move
    # with max_visits it stops there by itself
    a = MCTSPlayer(PlayerConfig(seed=1)).analyze(b, BLACK, interval=10.0, report=reports.append, stop=lambda: False,
                                                 max_visits=500)  # fmt: skip
    assert a.visits == 500
    # genmove can report as it goes (at least once, at the end)
    seen = []
    p.genmove(b, BLACK, report=seen.append, interval=0.01)
    assert seen and seen[-1] is p.last_analysis


# --- the pass policy -------------------------------------------------------------------------------------------------

# Black owns the left three columns, White the right two; both alive with eyes; Black ahead by 5 - komi.
FINISHED = """
    . X . O .
    X X X O O
    . X X O .
    X X X O O
    . X . O .
"""

# White's B6 sits dead inside Black's area: as it stands, the region around it counts for neither side and Black
# loses the Tromp-Taylor count, 7 points against 22; with B6 captured Black wins 28 to 21.
DEAD_WHITE_INSIDE = """
    . . . X O . .
    . O . X O . .
    . . . X O . .
    . . . X O . .
    . . . X O . .
    . . . X O . .
    . . . X O . .
"""

# Black wins as it stands, 21 points (the C-E block with its four eyes) against 15 (White's two columns and B5),
# although White's B5 is left dead in Black's A-B region; with it captured, 35 against 14.
WON_WITH_DEAD_STONE = """
    . . X . X O .
    . . X X X O O
    . O X . X O .
    . . X X X O O
    . . X . X O .
    . . X X X O O
    . . X . X O .
"""

# Every empty point is an eye: Black's three (filling one is legal but pointless) and White's three (suicide).
ONLY_EYES = """
    . X O . O
    X X O O O
    . X O . O
    X X O O O
    . X O . O
"""


def test_passes_after_opponent_pass_when_winning_as_it_stands():
    b = white_passes(Board.from_ascii(FINISHED, komi=0.5))
    assert b.score() > 0
    p = player()
    assert p.genmove(b, BLACK) == "pass"


def test_plays_on_after_opponent_pass_when_the_count_loses():
    b = white_passes(Board.from_ascii(DEAD_WHITE_INSIDE, komi=0.5))
    assert b.area() == (7, 22)
    assert score_without(b, ["B6"]) == 28 - 21 - 0.5
    p = player(playouts=500)
    move = p.genmove(b, BLACK)
    assert move not in ("pass", "resign")
    assert b.is_legal(move)


def test_plays_on_after_opponent_pass_when_a_border_is_open():
    # Black's wall has a hole at D4: as it stands the left side is nobody's and Black loses the count
    b = Board.from_ascii(
        """
        . . . X O . .
        . . . X O . .
        . . . X O . .
        . . . . O . .
        . . . X O . .
        . . . X O . .
        . . . X O . .
        """,
        komi=0.5,
    )
    b = white_passes(b)
    assert b.score() < 0
    p = player(playouts=500)
    move = p.genmove(b, BLACK)
    assert move not in ("pass", "resign")
    assert b.is_legal(move)


class BlackLovesPass:
    """An evaluator whose policy puts almost all of Black's prior on pass (uniform for White), value 0."""

    def evaluate(self, batch):
        priors = batch.legal.astype(np.float32)
        black = batch.to_move == BLACK
        priors[black, :-1] *= 0.001
        return priors, np.zeros(batch.count, np.float32)


def test_does_not_pass_while_a_dead_stone_is_left_in_its_area():
    b = Board.from_ascii(WON_WITH_DEAD_STONE, komi=0.5)
    assert b.area() == (21, 15)  # passing would win as it stands
    p = MCTSPlayer(
        PlayerConfig(playouts=200, seed=1, early_stop=False, search=SearchConfig(lam=0.0)), evaluator=BlackLovesPass()
    )
    move = p.genmove(b, BLACK)
    assert p.last_analysis.moves[0].move == "pass"  # the search likes pass...
    assert move not in ("pass", "resign")  # ...the player does not, while B5 is on the board
    assert b.is_legal(move)
    # with the stone captured, the same search passes
    b.setup(empty=["B5"])
    assert p.genmove(b, BLACK) == "pass"


def test_does_not_pass_while_a_dead_stone_is_left_even_when_the_search_insists_on_pass():
    b = Board.from_ascii(WON_WITH_DEAD_STONE, komi=0.5)
    p = player(playouts=400, search=SearchConfig(pass_prior=50.0))
    move = p.genmove(b, BLACK)
    assert p.last_analysis.moves[0].move == "pass"
    assert move not in ("pass", "resign")


def test_passes_when_only_own_eyes_are_left():
    b = Board.from_ascii(ONLY_EYES, komi=0.5)
    p = player()
    assert p.genmove(b, BLACK) == "pass"
    assert [m.move for m in p.last_analysis.moves] == ["pass"]


# --- resignation -----------------------------------------------------------------------------------------------------


def hopeless(moves: bool = True) -> Board:
    """White's cross cuts the 7x7 board into four corners it owns; Black has a lone stone. With ``moves``, eight
    more moves are played (Black passing, White filling its corners), so the opening is over."""
    b = Board(7, 7.5)
    cross = [f"{c}4" for c in "ABCDEFG"] + [f"D{r}" for r in (1, 2, 3, 5, 6, 7)]
    b.setup(black=["B6"], white=cross)
    if moves:
        for w in ("F2", "B2", "F6", "G7"):
            b.play("pass", BLACK)
            b.play(w, WHITE)
    assert b.to_move == BLACK
    return b


def test_resigns_a_hopeless_game_past_the_opening():
    b = hopeless()
    assert b.move_number >= b.size
    p = player(playouts=600, resign_threshold=0.1, resign_min_visits=300)
    assert p.genmove(b, BLACK) == "resign"
    assert p.last_analysis.moves[0].winrate < 0.1


def test_never_resigns_with_threshold_zero():
    p = player(playouts=600, resign_threshold=0.0, resign_min_visits=300)
    move = p.genmove(hopeless(), BLACK)
    assert move != "resign"


def test_does_not_resign_in_the_opening():
    b = hopeless(moves=False)
    assert b.move_number < b.size
    p = player(playouts=600, resign_threshold=0.1, resign_min_visits=300)
    assert p.genmove(b, BLACK) != "resign"


def test_does_not_resign_before_enough_visits():
    p = player(playouts=200, resign_threshold=0.1, resign_min_visits=500)
    assert p.genmove(hopeless(), BLACK) != "resign"


# --- dead stones and the final score ---------------------------------------------------------------------------------

# Black's C-E block and White's F-J block are alive with eyes; White's B7 is dead in Black's A-B region and Black's H5
# in White's G4-J7 region.
ENDGAME = """
    . . X . X O . O .
    . . X X X O O O O
    . O X . X O . . .
    . . X X X O . . .
    . . X . X O . X .
    . . X X X O . . .
    . . X . X O O O O
    . . X X X O . O .
    . . X . X O . O .
"""


def test_dead_stones_and_final_score():
    b = Board.from_ascii(ENDGAME, komi=7.5)
    p = player(dead_playouts=1000)
    status = p.final_status(b)
    assert sorted(status["dead"]) == ["B7", "H5"]
    assert status["seki"] == []
    stones = b.stones()
    assert len(status["alive"]) == np.count_nonzero(stones) - 2
    assert {"C5", "E5", "F5", "H8", "G3"} <= set(status["alive"])
    assert sorted(p.dead_stones(b)) == [["B7"], ["H5"]]
    # the final score removes them: Black 45 points, White 36; as it stands 28 (27 + H5) against 25 (24 + B7)
    margin = score_without(b, ["B7", "H5"])
    assert margin == 45 - 36 - 7.5
    assert p.final_score(b) == format_result(margin) == "B+1.5"
    assert b.area() == (28, 25) and b.result() == "W+4.5"
    assert margin > b.score()  # removing them helps Black, whose region was the bigger one
    assert score_without(b, []) == b.score()


def test_ownership_estimate():
    b = Board.from_ascii(ENDGAME, komi=7.5)
    own = estimate_ownership(b, 400, seed=3)
    assert own.shape == (9, 9)
    assert np.all(np.abs(own) <= 1.0)
    assert own[:, :5].mean() > 0.8 and own[:, 5:].mean() < -0.8
    assert own[2, 1] > 0.5 and own[4, 7] < -0.5  # B7 (a white stone) owned by Black, H5 by White
    np.testing.assert_array_equal(own, estimate_ownership(b, 400, seed=3))
    # the player's estimate: dead_playouts fresh playouts with its seed, whatever its last search saw
    p = player(playouts=1200, dead_playouts=1000)
    before = p.ownership(b)
    np.testing.assert_array_equal(before, estimate_ownership(b, 1000, seed=1))
    np.testing.assert_array_equal(p.ownership(b, playouts=300), estimate_ownership(b, 300, seed=1))
    p.genmove(b, BLACK)
    np.testing.assert_array_equal(p.ownership(b), before)
    assert sorted(p.dead_stones(b)) == [["B7"], ["H5"]]


# --- tree reuse through played() -------------------------------------------------------------------------------------


def test_played_moves_keep_the_tree():
    b = Board(7, 7.5)
    p = player(playouts=400)
    move = p.genmove(b, BLACK)
    a = p.last_analysis
    assert a.visits == 400 and a.moves[0].move == move
    reply = a.moves[0].pv[1]  # the reply the search expects
    b.play(move)
    p.played(b, BLACK, move)
    b.play(reply)
    p.played(b, WHITE, reply)
    kept = p._mcts.root_visits  # before the next search runs
    assert kept > 0
    p.genmove(b, BLACK)
    assert p.last_analysis.visits == kept + 400
    # a new game forgets the tree
    p.new_game(Board(7, 7.5))
    p.genmove(Board(7, 7.5), BLACK)
    assert p.last_analysis.visits == 400


# --- temperature -----------------------------------------------------------------------------------------------------


def test_temperature_in_the_first_moves():
    firsts = set()
    for seed in range(8):
        p = player(playouts=150, seed=seed, temperature=1.0, temperature_moves=4)
        firsts.add(p.genmove(Board(5, 0.5), BLACK))
    assert len(firsts) > 1
    # past temperature_moves: the most visited move
    b = Board(5, 0.5)
    for move in ("C3", "C4", "D3", "B3"):
        b.play(move)
    for seed in range(4):
        p = player(playouts=150, seed=seed, temperature=1.0, temperature_moves=4)
        move = p.genmove(b, BLACK)
        assert move == p.last_analysis.moves[0].move


# --- an evaluator player ---------------------------------------------------------------------------------------------


def test_evaluator_player_plays_a_legal_game_to_the_end():
    b = Board(5, 0.5)
    p = MCTSPlayer(
        PlayerConfig(playouts=50, search=SearchConfig.zero(), seed=2), evaluator=PlayoutEvaluator(2, seed=1)
    )
    moves = 0
    result = None
    while moves < 150:
        color = b.to_move
        move = p.genmove(b, color)
        if move == "resign":
            result = "resign"
            break
        b.play(move)  # raises if illegal
        p.played(b, color, move)
        moves += 1
        if b.is_over:
            result = b.result()
            break
    assert result is not None, f"no end after {moves} moves\n{b}"
    assert p.last_analysis.score is None  # no rollouts in Zero mode


# --- configuration ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fields",
    [
        {"playouts": 0},
        {"playouts": -5},
        {"time": 0},
        {"time": -1.0},
        {"time": math.nan},
        {"resign_threshold": 0.5},
        {"resign_threshold": -0.1},
        {"resign_threshold": math.nan},
        {"threads": 0},
    ],
)
def test_bad_config_raises(fields):
    with pytest.raises(ValueError):
        PlayerConfig(**fields)


def test_bad_lag_raises():
    with pytest.raises(ValueError):
        MCTSPlayer(PlayerConfig(lag=-1.0))


@pytest.mark.parametrize(
    "fields",
    [
        {"playouts": 2.5},  # run(0.5) would add int(0.5) = 0 simulations forever
        {"time": math.inf},  # int(rate * inf) overflows
        {"default_time": math.inf},
        {"default_time": -1.0},
        {"dead_threshold": 1.5},  # no chain could ever be dead
        {"dead_playouts": 0},
    ],
)
def test_more_bad_config_values_raise(fields):
    # constructing only: genmove with some of these would never return
    with pytest.raises(ValueError):
        PlayerConfig(**fields)


# --- the protocol's defaults -----------------------------------------------------------------------------------------


class Minimal(Player):
    def genmove(self, board, color):
        return "pass"


def test_protocol_defaults():
    p = Minimal()
    b = Board.from_ascii(FINISHED, komi=0.5)
    assert p.name == "Minimal" and RandomPlayer().name == "random" and MCTSPlayer().name == "mcts"
    p.new_game(b)  # notifications are ignored
    p.played(b, BLACK, "pass")
    p.set_clock(Clock("absolute", 5.0))
    assert p.supports_size(2) and p.supports_size(25)
    assert not (p.supports_analysis or p.supports_ownership or p.estimates_dead_stones)
    with pytest.raises(NotImplementedError):
        p.analyze(b, BLACK, interval=1.0, report=lambda a: None, stop=lambda: True)
    with pytest.raises(NotImplementedError):
        p.analysis_budget()
    with pytest.raises(NotImplementedError):
        p.ownership(b)
    # without an estimate: every stone alive, the Tromp-Taylor count
    status = p.final_status(b)
    assert status["dead"] == [] and status["seki"] == []
    assert len(status["alive"]) == np.count_nonzero(b.stones()) == len(set(status["alive"]))
    assert all(b.color_at(v) != 0 for v in status["alive"])
    assert p.final_score(b) == b.result()
    with pytest.raises(NotImplementedError):
        Player().genmove(b, BLACK)


def test_capabilities_of_the_players():
    m = MCTSPlayer(PlayerConfig(playouts=10))
    assert m.supports_analysis and m.supports_ownership and m.estimates_dead_stones and m.supports_size(13)
    r = RandomPlayer(seed=1)
    assert not (r.supports_analysis or r.supports_ownership or r.estimates_dead_stones)
    assert isinstance(m, Player) and isinstance(r, Player)


# --- the random player -----------------------------------------------------------------------------------------------


def test_random_player_fills_no_own_eye():
    board = Board.from_ascii(
        """
        . X .
        X X X
        . X .
        """,
        to_move=BLACK,
    )
    player = RandomPlayer(seed=3)
    assert {player.genmove(board, BLACK) for _ in range(20)} == {"pass"}
    assert player.genmove(board, WHITE) == "pass"  # every white move is suicide


def test_random_player_pass_policy():
    player = RandomPlayer(seed=1)
    board = Board(5, komi=0.5)
    board.play("C3", BLACK)
    board.play(None, WHITE)  # White passes: Black is ahead, so Black passes too
    assert player.genmove(board, BLACK) == "pass"
    board = Board(5, komi=30)
    board.play("C3", BLACK)
    board.play(None, WHITE)  # White passes but Black would lose by komi: Black plays on
    assert player.genmove(board, BLACK) != "pass"
    board = Board(5, komi=0.5)
    board.play("C3", BLACK)
    assert player.genmove(board, WHITE) != "pass"  # no pass to answer


def test_random_player_respects_superko():
    # Black may play A2, B1 or B2 by simple ko, but B2 repeats a position: the player draws it a third of the time
    # from the playout kernel and must then choose again under the game's rule.
    board = Board(2, komi=0)
    for move in ("B2", "A1", "B1", "pass", "A2", "A1"):  # now Black B2 would repeat the position of move 2
        board.play(None if move == "pass" else move)
    assert board.illegal_reason("B2", BLACK) == "superko"
    player = RandomPlayer(seed=2)
    moves = {player.genmove(board, BLACK) for _ in range(40)}
    assert moves == {"A2", "B1"}


# --- the policy-network player ---------------------------------------------------------------------------------------


class FakePolicy:
    """A "network" whose logits prefer the points in ``order`` (the first most), and records the planes it saw."""

    def __init__(self, size: int, order: list[int]):
        self.logits = np.zeros(size * size, np.float32)
        for rank, f in enumerate(order):
            self.logits[f] = 10.0 - rank
        self.seen: list[np.ndarray] = []

    def __call__(self, planes: np.ndarray) -> np.ndarray:
        self.seen.append(planes)
        return np.repeat(self.logits[None], len(planes), axis=0)


def test_policy_player_plays_the_best_sensible_move_at_temperature_zero():
    n = 5
    net = FakePolicy(n, order=[12, 0, 6])  # C3, then A5, then B4
    p = PolicyPlayer(net, n, temperature=0.0, seed=1)
    b = Board(n, 0.5)
    assert p.genmove(b, BLACK) == "C3"
    assert net.seen[-1].shape == (1, 48, n, n) and net.seen[-1].dtype == np.float32
    b.play("C3")
    assert p.genmove(b, WHITE) == "A5"  # C3 is occupied: not sensible
    assert p.supports_size(n) and not p.supports_size(7)
    with pytest.raises(ValueError, match="5x5"):
        p.genmove(Board(7), BLACK)
    with pytest.raises(ValueError):
        PolicyPlayer(net, n, temperature=-1.0)


def test_policy_player_samples_reproducibly_and_passes_like_the_paper():
    n = 5
    net = FakePolicy(n, order=list(range(n * n)))
    b = Board(n, 0.5)
    first = [PolicyPlayer(net, n, temperature=5.0, seed=7).genmove(b, BLACK) for _ in range(2)]
    assert first[0] == first[1]  # the seed fixes the draw
    draws = {PolicyPlayer(net, n, temperature=5.0, seed=s).genmove(b, BLACK) for s in range(12)}
    assert len(draws) > 1
    # the same draw as the self-play games make: softmax over the sensible moves with the player's generator
    planes = net.seen[0][0]
    rng = np.random.default_rng(7)
    move = sample_sensible_move(net.logits, planes[46].reshape(-1) > 0.5, 5.0, rng, b)
    assert first[0] == ["A5", "B5", "C5", "D5", "E5", "A4", "B4", "C4", "D4", "E4", "A3", "B3", "C3", "D3", "E3",
                        "A2", "B2", "C2", "D2", "E2", "A1", "B1", "C1", "D1", "E1"][move]  # fmt: skip
    # the opponent passed and passing wins: pass; only own eyes left: pass
    won = white_passes(Board.from_ascii(FINISHED, komi=0.5))
    assert PolicyPlayer(net, 5, temperature=0.0).genmove(won, BLACK) == "pass"
    assert PolicyPlayer(net, 5, temperature=0.0).genmove(Board.from_ascii(ONLY_EYES, komi=0.5), BLACK) == "pass"
