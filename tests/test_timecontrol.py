"""Tests of engine/timecontrol.py: the TimeManager against a referee that keeps the real clock rules (absolute,
Japanese byo-yomi, Canadian) with random lag, with and without ``time_left`` reports, plus edge cases."""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from igo.engine.board_kernels import BLACK, WHITE
from igo.engine.limits import MAX_SECONDS, MAX_STONES
from igo.engine.timecontrol import Clock, TimeLeft, TimeManager, moves_to_plan

EPS = 1e-9


class Referee:
    """One side's clock under the real rules. Every move is charged the thinking time plus a lag in ``[0, lag)``;
    a move that needs all that is left (or more) flags. Written independently of the manager's bookkeeping."""

    def __init__(self, clock: Clock, lag: float, rng: random.Random) -> None:
        self.clock, self.lag, self.rng = clock, lag, rng
        self.main = clock.main_time
        self.overtime = self.main <= 0 and clock.system in ("byoyomi", "canadian")
        self.periods = clock.periods
        self.period_left = clock.period_time
        self.stones_left = clock.stones
        self.flagged = False
        self.charged = 0.0  # all time taken from the clock
        self.main_used = 0.0

    def move(self, think: float) -> None:
        assert not self.flagged
        t = think + self.lag * self.rng.random()
        self.charged += t
        system, period = self.clock.system, self.clock.period_time
        if system == "none":
            return
        if not self.overtime:
            if t < self.main:
                self.main -= t
                self.main_used += t
                return
            if system == "absolute":
                self.flagged = True
                return
            t -= self.main
            self.main_used += self.main
            self.main, self.overtime = 0.0, True
            self.period_left, self.stones_left = period, self.clock.stones
        if system == "byoyomi":  # each move starts with a whole period; a period that runs out is lost
            while t >= period:
                t -= period
                self.periods -= 1
                if self.periods == 0:
                    self.flagged = True
                    return
        else:
            if t >= self.period_left:
                self.flagged = True
                return
            self.period_left -= t
            self.stones_left -= 1
            if self.stones_left == 0:
                self.period_left, self.stones_left = period, self.clock.stones

    def report(self, whole_seconds: bool = False) -> TimeLeft:
        """``time_left`` as GTP (Canadian) and KGS (byo-yomi: periods left as stones) send it."""
        if not self.overtime:
            seconds, stones = self.main, 0
        elif self.clock.system == "byoyomi":
            seconds, stones = self.clock.period_time, self.periods
        else:
            seconds, stones = self.period_left, self.stones_left
        return TimeLeft(math.floor(seconds) if whole_seconds else seconds, stones)


def empty_points(n: int, move_number: int) -> int:
    return int(max(0.3 * n, n - 0.8 * move_number))


def play_game(
    clock: Clock,
    lag: float,
    moves: int,
    reports: float = 0.0,
    seed: int = 0,
    size: int = 19,
    whole_seconds: bool = False,
    max_time: float | None = None,
):
    """Both colours think exactly their budget for ``moves`` moves in all; before a move the controller sends
    ``time_left`` with probability ``reports``. Returns the referees and each colour's budgets."""
    rng = random.Random(seed)
    tm = TimeManager(lag=lag)
    tm.new_game()
    refs = {BLACK: Referee(clock, lag, rng), WHITE: Referee(clock, lag, rng)}
    budgets: dict[int, list[float]] = {BLACK: [], WHITE: []}
    for k in range(moves):
        color = BLACK if k % 2 == 0 else WHITE
        ref = refs[color]
        if rng.random() < reports:
            clock = clock.with_left(color, ref.report(whole_seconds))
        b = tm.budget(clock, color, board_size=size, move_number=k, empty_points=empty_points(size * size, k),
                      max_time=max_time)  # fmt: skip
        assert b is not None and math.isfinite(b) and b >= 0
        if max_time is not None:
            assert b <= max_time
        ref.move(b)
        assert not ref.flagged, (k, color, b, vars(ref))
        tm.spent(color, b)
        budgets[color].append(b)
    return refs, budgets


REPORTS = pytest.mark.parametrize("reports", [0.0, 1.0, 0.3], ids=["never", "always", "sometimes"])


# --- whole games -----------------------------------------------------------------------------------------------------


@REPORTS
@pytest.mark.parametrize("moves", [300, 400])
def test_absolute_uses_main_time_and_never_flags(reports, moves):
    clock = Clock("absolute", 600)
    refs, budgets = play_game(clock, lag=0.5, moves=moves, reports=reports, seed=moves)
    for color in (BLACK, WHITE):
        assert refs[color].charged > 0.5 * 600
        own = budgets[color]
        assert sum(own[:20]) > 2 * sum(own[-20:])  # early moves get more than late ones


@REPORTS
def test_absolute_tight_time_never_flags(reports):
    refs, budgets = play_game(Clock("absolute", 100), lag=0.4, moves=400, reports=reports, seed=7)
    assert all(b > 0 for b in budgets[BLACK][:150])


@REPORTS
def test_absolute_9x9(reports):
    refs, budgets = play_game(Clock("absolute", 60), lag=0.2, moves=120, reports=reports, size=9, seed=3)
    assert refs[BLACK].charged > 0.5 * 60
    assert budgets[BLACK][0] > budgets[BLACK][-1]


@REPORTS
@pytest.mark.parametrize("whole_seconds", [False, True])
def test_byoyomi_uses_main_time_then_periods_and_loses_none(reports, whole_seconds):
    clock = Clock("byoyomi", 300, 30, periods=5)
    refs, budgets = play_game(clock, lag=0.5, moves=360, reports=reports, seed=11, whole_seconds=whole_seconds)
    for color in (BLACK, WHITE):
        ref = refs[color]
        assert ref.overtime and ref.main_used == pytest.approx(300)
        assert ref.periods == 5  # never gave up a period
        own = budgets[color]
        assert own[0] > 30 - 0.5  # a share of main time plus most of a period
        assert own[-1] == pytest.approx(30 - 0.5)


@REPORTS
@pytest.mark.parametrize("whole_seconds", [False, True])
def test_canadian_uses_main_time_then_fits_every_period(reports, whole_seconds):
    clock = Clock("canadian", 300, 120, stones=10)
    refs, budgets = play_game(clock, lag=0.5, moves=400, reports=reports, seed=5, whole_seconds=whole_seconds)
    for color in (BLACK, WHITE):
        ref = refs[color]
        assert ref.overtime and ref.main_used == pytest.approx(300)
        # in overtime the time per stone never falls below P/S - lag: most of each period is used
        tail = budgets[color][-60:]
        assert min(tail) >= 120 / 10 - 0.5 - 1.0 * whole_seconds - 1e-6
        assert sum(tail) > 0.8 * 6 * 120


def test_canadian_time_settings_without_main_time():
    refs, budgets = play_game(Clock.from_time_settings(0, 60, 25), lag=0.5, moves=300, reports=0.5, seed=2)
    assert min(budgets[BLACK]) >= 60 / 25 - 0.5 - 1e-6


def test_none_system():
    tm = TimeManager()
    assert tm.budget(Clock(), BLACK) is None
    assert tm.budget(Clock(), WHITE, max_time=3.0) == 3.0
    assert tm.budget(Clock.from_time_settings(60, 10, 0), BLACK) is None  # byo-yomi time, 0 stones: no limit
    tm.spent(BLACK, 100)
    assert tm.budget(Clock().with_left(BLACK, TimeLeft(1, 0)), BLACK) is None  # no limit: reports mean nothing


# --- edge cases ------------------------------------------------------------------------------------------------------


def test_time_left_zero_seconds():
    tm = TimeManager(lag=0.5)
    assert tm.budget(Clock("absolute", 600).with_left(BLACK, TimeLeft(0, 0)), BLACK) == 0.0
    byo = Clock("byoyomi", 600, 30, periods=5)
    assert tm.budget(byo.with_left(BLACK, TimeLeft(0, 0)), BLACK) == pytest.approx(29.5)  # main over: overtime
    assert tm.budget(byo.with_left(BLACK, TimeLeft(0, 3)), BLACK) == pytest.approx(29.5)  # period gone, next one
    assert tm.budget(byo.with_left(BLACK, TimeLeft(0, 1)), BLACK) == 0.0  # nothing left at all
    assert tm.budget(byo.with_left(BLACK, TimeLeft(0.6, 1)), BLACK) == pytest.approx(0.1)  # last period: hurry
    assert tm.budget(byo.with_left(BLACK, TimeLeft(0.54, 1)), BLACK) == pytest.approx(0.02)  # half of what is left
    can = Clock("canadian", 600, 300, stones=25)
    assert tm.budget(can.with_left(BLACK, TimeLeft(0, 0)), BLACK) == pytest.approx(300 / 25 - 0.5)
    assert tm.budget(can.with_left(BLACK, TimeLeft(0, 5)), BLACK) == 0.0


def test_time_left_absurd_values():
    tm = TimeManager(lag=0.5)
    huge = Clock("absolute", 600).with_left(BLACK, TimeLeft(1e12, 0))
    b = tm.budget(huge, BLACK)
    assert math.isfinite(b) and 0 < b <= 1e12 - 0.5
    assert tm.budget(huge, BLACK, max_time=10) == 10
    assert tm.budget(Clock("absolute", 600).with_left(BLACK, TimeLeft(10, 99)), BLACK) < 10  # stones ignored
    # byo-yomi: seconds in a period never more than the period (old controllers sent total time there)
    byo = Clock("byoyomi", 0, 30, periods=5)
    assert tm.budget(byo.with_left(BLACK, TimeLeft(1e6, 3)), BLACK) == pytest.approx(29.5)
    assert tm.budget(byo.with_left(BLACK, TimeLeft(10, 10**9)), BLACK) == pytest.approx(9.5)
    # a nearly gone period is given up only while another remains
    assert tm.budget(byo.with_left(BLACK, TimeLeft(0.3, 10**9)), BLACK) == pytest.approx(0.3 + 30 - 0.5)
    assert tm.budget(byo.with_left(BLACK, TimeLeft(0.3, 1)), BLACK) == 0.0
    can = Clock("canadian", 0, 300, stones=25)
    assert 0 <= tm.budget(can.with_left(BLACK, TimeLeft(300, 10**9)), BLACK) < 0.01
    assert tm.budget(can.with_left(BLACK, TimeLeft(1e9, 25)), BLACK) == pytest.approx(11.5)
    # not finite: ignored (the account stays); negative: nothing left
    fresh = tm.budget(Clock("absolute", 600), WHITE)
    assert tm.budget(Clock("absolute", 600).with_left(WHITE, TimeLeft(math.nan, 0)), WHITE) == fresh
    assert tm.budget(Clock("absolute", 600).with_left(WHITE, TimeLeft(math.inf, 0)), WHITE) == fresh
    assert tm.budget(Clock("absolute", 600).with_left(WHITE, TimeLeft(-5, 0)), WHITE) == 0.0
    # settings that cannot be kept with this lag: move at once rather than think
    assert tm.budget(Clock("canadian", 0, 10, stones=25), BLACK) == 0.0


def test_max_time_caps_every_system():
    tm = TimeManager(lag=0.5)
    for clock in (
        Clock("absolute", 3600),
        Clock("byoyomi", 3600, 60, periods=5),
        Clock("byoyomi", 0, 60, periods=5),
        Clock("canadian", 3600, 300, stones=5),
        Clock("canadian", 0, 300, stones=5),
    ):
        assert tm.budget(clock, BLACK) > 2.0
        assert tm.budget(clock, BLACK, max_time=2.0) == 2.0
        assert tm.budget(clock, BLACK, max_time=0) == 0.0


def fresh_budget(clock: Clock, lag: float, **kw) -> float | None:
    return TimeManager(lag=lag).budget(clock, BLACK, **kw)


def test_report_wins_over_own_accounting_and_is_used_once():
    tm = TimeManager(lag=0.2)
    clock = Clock("absolute", 600)
    start = tm.budget(clock, BLACK, empty_points=361)
    assert start == pytest.approx(fresh_budget(clock, 0.2, empty_points=361))
    for _ in range(10):
        tm.spent(BLACK, 0.8)  # own accounting charges the lag too: 1 s a move
    assert tm.budget(clock, BLACK, empty_points=361) == pytest.approx(fresh_budget(Clock("absolute", 590), 0.2))
    tm.spent(BLACK, 589)
    assert tm.budget(clock, BLACK) < 0.5
    clock = clock.with_left(BLACK, TimeLeft(300, 0))  # the controller knows better
    b300 = tm.budget(clock, BLACK, empty_points=361)
    assert b300 == pytest.approx(fresh_budget(Clock("absolute", 300), 0.2, empty_points=361))
    assert tm.budget(clock, BLACK, empty_points=361) == b300  # asking again changes nothing
    tm.spent(BLACK, 100)
    assert tm.budget(clock, BLACK, empty_points=361) < b300  # the same report is not used again
    assert tm.budget(clock.with_left(BLACK, TimeLeft(300, 0)), BLACK, empty_points=361) == b300  # a new one is
    assert tm.budget(clock, WHITE, empty_points=361) == pytest.approx(start)  # the other side's account is its own


def test_own_accounting_byoyomi_periods():
    tm = TimeManager(lag=0.5)
    clock = Clock("byoyomi", 10, 5, periods=3)
    assert tm.budget(clock, BLACK) < 10 + 5 - 0.5
    tm.spent(BLACK, 12)  # 10 s of main time, then 2.5 s of the first period: none lost
    assert tm.budget(clock, BLACK) == pytest.approx(4.5)
    tm.spent(BLACK, 7)  # 7.5 s: one period lost
    tm.spent(BLACK, 7)  # another: the last one is left
    assert tm.budget(clock, BLACK) == pytest.approx(4.5)
    tm.spent(BLACK, 1)
    assert tm.budget(clock, BLACK) == pytest.approx(4.5)


def test_own_accounting_canadian_stones():
    tm = TimeManager(lag=0.0)
    clock = Clock("canadian", 0, 100, stones=4)
    assert tm.budget(clock, BLACK) == pytest.approx(25)
    tm.spent(BLACK, 10)
    assert tm.budget(clock, BLACK) == pytest.approx(30)  # 90 s for 3 stones
    tm.spent(BLACK, 30)
    tm.spent(BLACK, 30)
    assert tm.budget(clock, BLACK) == pytest.approx(30)  # the last stone
    tm.spent(BLACK, 29)
    assert tm.budget(clock, BLACK) == pytest.approx(25)  # a new period


def test_settings_changed_mid_game():
    tm = TimeManager(lag=0.5)
    absolute = Clock("absolute", 600)
    first = tm.budget(absolute, BLACK, empty_points=361)
    tm.spent(BLACK, 300)
    assert tm.budget(absolute, BLACK, empty_points=361) < first
    byo = Clock("byoyomi", 0, 20, periods=2)
    assert tm.budget(byo, BLACK) == pytest.approx(19.5)
    assert tm.budget(absolute, BLACK, empty_points=361) == pytest.approx(first)  # new settings, a new clock
    tm.spent(BLACK, 300)
    reported = absolute.with_left(BLACK, TimeLeft(100, 0))
    low = tm.budget(reported, BLACK, empty_points=361)
    assert low < first
    # time_settings again (the reports are dropped): both sides start over
    assert tm.budget(Clock("absolute", 600), BLACK, empty_points=361) == pytest.approx(first)


def test_new_game():
    tm = TimeManager(lag=0.5)
    clock = Clock("absolute", 600)
    first = tm.budget(clock, BLACK, empty_points=361)
    clock = clock.with_left(WHITE, TimeLeft(5, 0))  # the last game's report, never used
    tm.spent(BLACK, 500)
    tm.new_game(clock)
    assert tm.budget(clock, BLACK, empty_points=361) == pytest.approx(first)
    assert tm.budget(clock, WHITE, empty_points=361) == pytest.approx(first)  # the old report is ignored
    clock = clock.with_left(WHITE, TimeLeft(5, 0))  # a report in the new game is used
    assert tm.budget(clock, WHITE, empty_points=361) < 1


def test_bad_arguments():
    with pytest.raises(ValueError):
        TimeManager(lag=-1)
    with pytest.raises(ValueError):
        TimeManager(lag=math.nan)
    with pytest.raises(ValueError):
        TimeManager().budget(Clock("absolute", 60), 0)
    with pytest.raises(ValueError):
        TimeManager().budget(Clock("absolute", 60), BLACK, max_time=math.nan)
    tm = TimeManager()
    tm.spent(BLACK, 1.0)  # before any clock: nothing to do
    tm.budget(Clock("absolute", 60), BLACK)
    tm.spent(BLACK, math.nan)  # charged the lag only
    assert tm.budget(Clock("absolute", 60), BLACK) == pytest.approx(
        TimeManager().budget(Clock("absolute", 59.5), BLACK)
    )
    assert tm.budget(Clock("fischer", 60), BLACK) is None  # unknown system: no limit known


def test_moves_to_plan():
    assert moves_to_plan(19, empty_points=361) == pytest.approx((361 - 361 / 4) / 2)
    assert moves_to_plan(19, empty_points=0) == pytest.approx(90.25)
    assert moves_to_plan(9, move_number=200) == pytest.approx(20.25)
    assert moves_to_plan(2) == 2.0
    assert moves_to_plan(19, move_number=0) == moves_to_plan(19, empty_points=361)
    plans = [moves_to_plan(19, empty_points=e) for e in range(361, -1, -1)]
    assert plans == sorted(plans, reverse=True)


# --- property: never flags -------------------------------------------------------------------------------------------


@st.composite
def games(draw):
    """A time control that can be kept with the lag, and how the controller behaves."""
    lag = draw(st.floats(0.05, 1.0))
    system = draw(st.sampled_from(["absolute", "byoyomi", "canadian"]))
    size = draw(st.sampled_from([9, 13, 19]))
    moves = draw(st.integers(*{9: (80, 140), 13: (150, 250), 19: (300, 400)}[size]))
    fast = lag + TimeManager().min_budget
    if system == "absolute":  # twice every own move's lag and minimum thinking (1.2 times can flag)
        clock = Clock("absolute", draw(st.integers(math.ceil(2 * fast * moves / 2), 3600)))
    elif system == "byoyomi":
        clock = Clock("byoyomi", draw(st.integers(0, 1800)), draw(st.integers(math.ceil(fast + 0.01), 60)),
                      periods=draw(st.integers(1, 10)))  # fmt: skip
    else:
        stones = draw(st.integers(1, 25))
        period = draw(st.integers(math.ceil(stones * (fast + 0.05)), 600))
        clock = Clock("canadian", draw(st.integers(0, 1800)), period, stones=stones)
    return dict(
        clock=clock,
        lag=lag,
        moves=moves,
        size=size,
        reports=draw(st.sampled_from([0.0, 1.0, 0.5])),
        whole_seconds=draw(st.booleans()),
        max_time=draw(st.one_of(st.none(), st.floats(0, 30))),
        seed=draw(st.integers(0, 2**32)),
    )


@settings(max_examples=60, deadline=None)
@given(games())
def test_never_flags(game):
    play_game(**game)  # asserts after every move


# --- the time keeper's count (Clock.after_move) ----------------------------------------------------------------------


def test_after_move_canadian_overtime():
    clock = Clock.from_time_settings(10, 5, 2).started()
    assert clock.left(BLACK) == clock.left(WHITE) == TimeLeft(10, 0)
    clock = clock.after_move(BLACK, 4)
    assert clock.left(BLACK) == TimeLeft(6, 0) and clock.left(WHITE) == TimeLeft(10, 0)
    clock = clock.after_move(BLACK, 7)  # main time runs out, 1 s of the first period used
    assert clock.left(BLACK) == TimeLeft(4, 1)
    clock = clock.after_move(BLACK, 1)  # the period's 2 stones are played: a new period
    assert clock.left(BLACK) == TimeLeft(5, 2)
    clock = clock.after_move(BLACK, 9)  # past the period: 0 seconds left, no flag
    assert clock.left(BLACK) == TimeLeft(0, 1)
    clock = clock.after_move(BLACK, 1)
    assert clock.left(BLACK) == TimeLeft(5, 2)
    exact = Clock.from_time_settings(3, 5, 2).started().after_move(WHITE, 3)  # all of main time: overtime
    assert exact.left(WHITE) == TimeLeft(5, 1)
    no_main = Clock.from_time_settings(0, 5, 1).started()
    assert no_main.left(BLACK) == TimeLeft(0, 0)  # "0 0": overtime starts with the first move
    assert no_main.after_move(BLACK, 2).left(BLACK) == TimeLeft(5, 1)  # the last stone of a period: a new one


def test_after_move_absolute_none_and_reports():
    absolute = Clock.from_time_settings(3, 0, 0).started()
    assert absolute.system == "absolute"
    assert absolute.after_move(BLACK, 1).left(BLACK) == TimeLeft(2, 0)
    assert absolute.after_move(BLACK, 5).left(BLACK) == TimeLeft(0, 0)
    unlimited = Clock.from_time_settings(0, 5, 0)
    assert unlimited.system == "none" and unlimited.started().left(BLACK) is None
    assert unlimited.after_move(BLACK, 100) == unlimited
    reported = Clock.from_time_settings(60, 10, 5).with_left(BLACK, TimeLeft(7, 3))  # a report is the start
    assert reported.after_move(BLACK, 2).left(BLACK) == TimeLeft(5, 2)
    assert Clock("canadian", 30, 10, stones=2).after_move(WHITE, 1).left(WHITE) == TimeLeft(29, 0)  # no report yet
    assert Clock("canadian", 30, 0, stones=2).after_move(WHITE, 40).left(WHITE) == TimeLeft(0, 0)  # no overtime
    with pytest.raises(ValueError):
        absolute.after_move(3, 1.0)
    with pytest.raises(ValueError):
        absolute.after_move(BLACK, math.nan)


def test_after_move_byoyomi():
    clock = Clock("byoyomi", 10, 5, periods=3).started()
    clock = clock.after_move(BLACK, 12)  # main time over, the move ends inside the first period: it stays whole
    assert clock.left(BLACK) == TimeLeft(5, 3)
    clock = clock.after_move(BLACK, 4.5)
    assert clock.left(BLACK) == TimeLeft(5, 3)
    clock = clock.after_move(BLACK, 11)  # two periods run out
    assert clock.left(BLACK) == TimeLeft(5, 1)
    clock = clock.after_move(BLACK, 5)  # the last one runs out
    assert clock.left(BLACK) == TimeLeft(0, 1)
    assert clock.after_move(BLACK, 0.1).left(BLACK) == TimeLeft(0, 1)


@settings(max_examples=60, deadline=None)
@given(
    st.sampled_from([Clock("absolute", 20), Clock("byoyomi", 10, 3, periods=3), Clock("canadian", 10, 6, stones=3),
                     Clock("canadian", 0, 4, stones=2), Clock("byoyomi", 0, 2, periods=2)]),
    st.lists(st.floats(0, 8, allow_nan=False), max_size=40),
)  # fmt: skip
def test_after_move_agrees_with_the_referee(clock, moves):
    """While the independent referee (no lag) has not flagged, it reports what after_move counts."""
    ref = Referee(clock, 0.0, random.Random(0))
    kept = clock.started()
    for think in moves:
        ref.move(think)
        if ref.flagged:
            break
        kept = kept.after_move(BLACK, think)
        expected = ref.report()
        got = kept.left(BLACK)
        assert got.stones == expected.stones and got.seconds == pytest.approx(expected.seconds, abs=1e-9)


# --- huge settings: bounded, never an overflow, never a long loop -----------------------------------------------


@pytest.mark.parametrize(
    "clock",
    [Clock("absolute", 1e308), Clock("byoyomi", 1e308, 1e308, periods=3), Clock("canadian", 1e308, 1e308, stones=1),
     Clock("byoyomi", 0, 1e308, periods=5), Clock("canadian", 10, 1e300, stones=25),
     Clock("absolute", 600).with_left(BLACK, TimeLeft(1e306, 0)),
     Clock("canadian", 600, 60, stones=10**30).with_left(BLACK, TimeLeft(1e306, 10**40))],
)  # fmt: skip
def test_huge_clocks_give_a_bounded_budget(clock):
    """A clock of 1e308 seconds (any caller; GTP refuses it) budgets at most MAX_SECONDS, so a search may turn the
    budget into a count of playouts (was ``int(rate * 1e306)``: OverflowError)."""
    tm = TimeManager(lag=0.5)
    tm.new_game(Clock())
    for move in range(3):
        budget = tm.budget(clock, BLACK, board_size=19, move_number=move)
        assert 0 <= budget <= MAX_SECONDS
        assert int(budget * 1e6) >= 0  # a rate of a million playouts a second still converts
        tm.spent(BLACK, budget)


def test_tiny_periods_in_their_billions_take_bounded_steps():
    """Byo-yomi with 10**18 periods of 1e-300 s: the clock code walks at most MAX_STONES of them (it would loop
    10**18 times)."""
    clock = Clock("byoyomi", 0, 1e-300, periods=10**18)
    tm = TimeManager(lag=0.5)
    tm.new_game(clock)
    assert tm.budget(clock, BLACK) >= 0
    tm.spent(BLACK, 3.0)
    assert tm.budget(clock, BLACK) >= 0
    left = clock.started().after_move(BLACK, 3.0).left(BLACK)
    assert left == TimeLeft(0.0, 1)  # out of time: the periods are far too short
    canadian = Clock("canadian", 5, 1e308, stones=10**30).started().after_move(WHITE, 1e308)
    assert canadian.left(WHITE).seconds <= MAX_SECONDS and canadian.left(WHITE).stones <= MAX_STONES


def test_bounds_are_a_year_and_ten_thousand():
    assert MAX_SECONDS == 365 * 24 * 3600 and MAX_STONES == 10_000
