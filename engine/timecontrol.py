"""Time control: the game's clock (:class:`Clock`, set by GTP ``time_settings``/``kgs-time_settings`` and updated by
``time_left``, or counted by a time keeper such as the arena with :meth:`Clock.after_move`) and the player's time
management (:class:`TimeManager`: how long to think about one move).

**Systems.** ``none`` (no limit); ``absolute`` (main time only); ``byoyomi`` (Japanese: main time, then ``periods``
periods of ``period_time`` seconds; a move finished inside a period leaves that period whole, a period that runs out is
lost, losing the last one loses the game); ``canadian`` (main time, then ``stones`` moves in every ``period_time``
seconds). Running out of main time in the middle of a move carries on into overtime: the move counts as the first of
the first period (Canadian) or is free if it ends inside the first period (byo-yomi).

**Reports.** ``time_left COLOR SECONDS STONES`` is read as GTP (spec section 4.2) and KGS mean it:

==================  ===================================================================================
``STONES == 0``     in main time, ``SECONDS`` of main time left (any system)
``0 0``             main time just ran out: overtime starts with a whole period (Pachi and Leela Zero read
                    it so; some controllers send it at the end of main time)
Canadian ``S > 0``  in overtime, ``SECONDS`` left in the current period for ``S`` more stones (GTP spec)
byo-yomi ``N > 0``  in overtime, ``SECONDS`` left in the current period and ``N`` periods left including
                    the current one (kgsGtp's convention, as GTP has no byo-yomi; Leela Zero, Pachi and
                    KataGo read it so)
absolute            ``STONES`` ignored; ``none``: reports ignored (there is no limit to manage)
==================  ===================================================================================

To stay on the safe side, seconds left in a period are capped at ``period_time`` (old kgsGtp versions sent the total
of main time and all periods there) and byo-yomi periods at ``periods`` (as KataGo does); Canadian stones are taken
as reported (more stones only means less time per stone). A report that is not finite is ignored; negative numbers
count as 0.

**Bounds** (:mod:`igo.engine.limits`). No clock is longer than ``MAX_SECONDS`` (one year) and none has more than
``MAX_STONES`` byo-yomi periods or Canadian stones: the GTP engine refuses larger settings and reports (``syntax
error``), and the clock code itself reads larger values (from any caller) as these maxima, so no budget overflows a
conversion to an integer and no loop over periods runs longer than ``MAX_STONES`` steps.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from dataclasses import dataclass

from .board_kernels import BLACK, WHITE
from .limits import MAX_SECONDS, MAX_STONES

log = logging.getLogger(__name__)

SYSTEMS = ("none", "absolute", "byoyomi", "canadian")
"""The time systems a :class:`Clock` may have."""


@dataclass(frozen=True)
class TimeLeft:
    """What ``time_left`` reported for one colour: seconds left, and stones left in the current overtime period
    (0 while in main time)."""

    seconds: float
    stones: int


@dataclass(frozen=True)
class Clock:
    """The time control of the game and the last reported time left of each side.

    ``system`` is ``"none"`` (no limit), ``"absolute"`` (``main_time`` only), ``"byoyomi"`` (``main_time``, then
    ``periods`` periods of ``period_time`` each, one move per period) or ``"canadian"`` (``main_time``, then
    ``period_time`` seconds for every ``stones`` moves). Times are seconds."""

    system: str = "none"
    main_time: float = 0.0
    period_time: float = 0.0
    periods: int = 0
    stones: int = 0
    black: TimeLeft | None = None
    white: TimeLeft | None = None

    @classmethod
    def from_time_settings(cls, main_time: float, byo_yomi_time: float, byo_yomi_stones: int) -> Clock:
        """GTP ``time_settings`` (spec section 4.2): byo-yomi time 0 is absolute time; byo-yomi time with 0 stones
        means no limit; otherwise Canadian overtime."""
        if byo_yomi_time > 0 and byo_yomi_stones == 0:
            return cls("none")
        if byo_yomi_time == 0:
            return cls("absolute", main_time)
        return cls("canadian", main_time, byo_yomi_time, stones=byo_yomi_stones)

    def left(self, color: int) -> TimeLeft | None:
        return self.black if color == BLACK else self.white

    def with_left(self, color: int, left: TimeLeft) -> Clock:
        return dataclasses.replace(self, **{"black" if color == BLACK else "white": left})

    def started(self) -> Clock:
        """The clock at the start of a game: both sides have all of main time, ``TimeLeft(main_time, 0)`` (with no
        main time in byo-yomi or Canadian that is ``0 0``: overtime starts with the first move). ``none``: no
        reports."""
        if self.system == "none":
            return dataclasses.replace(self, black=None, white=None)
        start = TimeLeft(max(float(self.main_time), 0.0), 0)
        return dataclasses.replace(self, black=start, white=start)

    def after_move(self, color: int, seconds: float) -> Clock:
        """The clock once ``color`` has moved after thinking ``seconds``, counted as a time keeper counts (no lag,
        no flagging): main time first, never below 0. A move that uses up what is left of main time (or more)
        carries on into overtime with a whole period and counts as its first move. Canadian: the rest is taken from
        the current period and counts one stone; after the period's last stone a new period starts whole; a period's
        seconds stop at 0. Byo-yomi: each period the move runs out is lost and the move's own period is whole again;
        a side that runs out of its last period has ``TimeLeft(0, 1)``. A side without a report starts from
        :meth:`started`; ``none`` returns the clock unchanged; overtime without periods, stones or period time
        counts as absolute time, as :class:`TimeManager` does."""
        if color not in (BLACK, WHITE):
            raise ValueError(f"color must be BLACK or WHITE, got {color!r}")
        t = float(seconds)
        if math.isnan(t):
            raise ValueError("seconds must be a number, got nan")
        if self.system not in ("absolute", "byoyomi", "canadian"):
            return self
        t = min(max(t, 0.0), MAX_SECONDS)
        left = self.left(color) or self.started().left(color)
        assert left is not None
        period = _clamp(self.period_time)
        count = _count(self.periods if self.system == "byoyomi" else self.stones)
        if self.system == "absolute" or count < 1 or not period > 0:
            return self.with_left(color, TimeLeft(max(_clamp(left.seconds) - t, 0.0), 0))
        if left.stones <= 0:  # main time
            main = _clamp(left.seconds)
            if t < main:
                return self.with_left(color, TimeLeft(main - t, 0))
            t -= main
            rest, stones = period, count  # overtime starts with a whole period
        else:
            rest, stones = min(_clamp(left.seconds), period), min(int(left.stones), MAX_STONES)
        if self.system == "canadian":
            rest, stones = max(rest - t, 0.0), stones - 1
            if stones <= 0:
                rest, stones = period, count  # a new period
            return self.with_left(color, TimeLeft(rest, stones))
        periods = min(stones, count)
        while t >= rest and periods > 1:  # the period runs out: the next one starts whole
            t -= rest
            periods -= 1
            rest = period
        if t >= rest:
            return self.with_left(color, TimeLeft(0.0, 1))  # out of time in the last period
        return self.with_left(color, TimeLeft(period, periods))


# --- time management -------------------------------------------------------------------------------------------------

_EPS = 1e-6  # seconds of float noise tolerated before the manager believes a period ran out


def moves_to_plan(board_size: int = 19, move_number: int = 0, empty_points: int | None = None) -> float:
    """How many more own moves main time is shared among: ``max(2, N/4, (E - N/4) / 2)`` for ``N`` points of which
    ``E`` are empty (``E`` estimated as ``N - 0.8 * move_number`` when not given).

    In the opening it is about the number of own moves a game lasts; then the floor ``N/4`` (90 on 19x19, 20 on 9x9)
    holds, so what is left shrinks geometrically, by a factor ``1 - 4/N`` a move, and a long game still finds time
    (tuned on simulated games: it survives 140-move 9x9 and 440-move 19x19 games at 60 s and 600 s absolute)."""
    n = max(2, min(board_size, 25)) ** 2
    if empty_points is None:
        empty_points = n - 0.8 * max(move_number, 0)
    empty = max(0.0, min(float(empty_points), n))
    return max(2.0, n / 4, (empty - n / 4) / 2)


@dataclass
class _Account:
    """One side's clock as the manager believes it is now."""

    main: float  # main time left
    overtime: bool  # main time is over
    periods: int  # byo-yomi: periods left, the current one included
    stones: int  # Canadian: stones still to play in the current period
    period: float  # seconds left in the current period
    synced: bool = True  # Canadian: the periods' stones line up with the real clock's (see TimeManager.spent)


class TimeManager:
    """How long to think about one move so that the side never loses on time.

    Use: :meth:`new_game` when a game starts; before each own move ``budget(clock, color, ...)`` (seconds to think,
    ``None`` = no limit); after it ``spent(color, seconds)`` with the seconds actually used. ``budget`` reads the clock
    itself (:meth:`clock_changed`), so the caller need not tell when ``time_settings`` or ``time_left`` arrive.

    **What is left.** Per colour the manager keeps an account (main time; periods or stones and seconds left in the
    current period). New settings (a clock whose system or times differ, or whose reports were dropped as
    ``time_settings`` does) restart both accounts. A ``time_left`` report newer than the last one used (a different
    :class:`TimeLeft` object — :class:`Clock` makes one per report) replaces the colour's account: a report always wins.
    Otherwise :meth:`spent` counts down from the last report or the start: it charges ``seconds + lag`` (the worst
    lag), to main time first, then to periods (byo-yomi: a move longer than what is left of the period loses it;
    Canadian: one stone, the period renewed after the last one).

    **Budget.** With ``M`` main time left, ``D = moves_to_plan(...)``, ``L = lag``, ``P = period_time``, ``S =
    stones``, ``p`` seconds left in the current period, ``s`` its stones:

    - none: ``max_time`` (``None`` if not given);
    - absolute: ``M/D - L``, at most ``M - L``;
    - byo-yomi, main time: ``M/D + P - L``, at most ``M + P - L`` (a move ending in the first period costs no period);
      overtime: ``p - L``; if the current period is nearly gone (``p <= L + min_budget``) and another remains, it
      is given up: ``p + P - L``;
    - Canadian, main time: ``M/D + max(P/S - L, 0)``, at most ``M + P/S - L``; overtime: ``p/s - L`` — the time per
      stone then never falls, so the remaining stones always fit. When the manager's own count, not a report, went
      into overtime, at most ``P/S - L``: the real clock, charged less lag, may still be in main time, so its periods
      may start later than the counted ones; with every move under ``P/S``, any ``S`` stones fit in ``P``.

    A budget below ``min_budget`` is raised to it when that is at most half of the most the move may use, else it is
    half of that most (so it shrinks geometrically and never uses the last of the time), or 0 when nothing is left.
    Finally it is capped at ``max_time``. Settings that cannot be kept with this lag (``P/S <= L``) give 0: move at
    once.
    """

    def __init__(self, lag: float = 0.5, min_budget: float = 0.05) -> None:
        if not (math.isfinite(lag) and lag >= 0):
            raise ValueError(f"lag must be a non-negative number of seconds, got {lag!r}")
        if not (math.isfinite(min_budget) and min_budget >= 0):
            raise ValueError(f"min_budget must be a non-negative number of seconds, got {min_budget!r}")
        self.lag = float(lag)
        self.min_budget = float(min_budget)
        self._settings: tuple | None = None  # (system, main, period, periods, stones) of the clock in use
        self._limits = (0.0, 0, 0)  # its (period_time, periods, stones) within MAX_SECONDS and MAX_STONES
        self._system = "none"  # the system budgets are made for (a degenerate overtime counts as absolute)
        self._accounts: dict[int, _Account] = {}
        self._seen: dict[int, TimeLeft | None] = {BLACK: None, WHITE: None}  # the reports already used
        self._had_reports = False

    def new_game(self, clock: Clock | None = None) -> None:
        """Start a game: both sides have their whole time again. Reports now in ``clock`` (left from the last game)
        are treated as old; a ``time_left`` that arrives later is used."""
        self._settings = None
        self._accounts = {}
        self._had_reports = False
        if clock is not None:
            self._seen = {BLACK: clock.black, WHITE: clock.white}
            self._start(clock)

    def clock_changed(self, clock: Clock) -> None:
        """Take in new settings and new ``time_left`` reports (:meth:`budget` calls it; more calls are harmless)."""
        key = (clock.system, clock.main_time, clock.period_time, clock.periods, clock.stones)
        reports = clock.black is not None or clock.white is not None
        if key != self._settings or (self._had_reports and not reports):
            self._start(clock)
        self._had_reports = reports
        for color in (BLACK, WHITE):
            left = clock.left(color)
            if left is None or left is self._seen[color]:
                continue
            self._seen[color] = left
            account = self._from_report(clock, left)
            if account is not None:
                self._accounts[color] = account

    def budget(
        self,
        clock: Clock,
        color: int,
        board_size: int = 19,
        move_number: int = 0,
        empty_points: int | None = None,
        max_time: float | None = None,
    ) -> float | None:
        """Seconds to think about ``color``'s next move (``None``: no clock limit and no ``max_time``); 0 means move
        at once. ``board_size``, ``move_number`` and ``empty_points`` (the empty points on the board now) estimate the
        moves still to play (:func:`moves_to_plan`); ``max_time`` caps the budget (the user's own limit per move).
        See the class docstring for the formulas."""
        if color not in (BLACK, WHITE):
            raise ValueError(f"color must be BLACK or WHITE, got {color!r}")
        self.clock_changed(clock)
        if max_time is not None:
            if math.isnan(max_time):
                raise ValueError("max_time must be a number of seconds or None, got nan")
            max_time = max(0.0, float(max_time))
        if self._system == "none":
            return max_time
        a = self._accounts[color]
        lag = self.lag
        period, _, stones = self._limits
        if self._system == "absolute":
            moves = moves_to_plan(board_size, move_number, empty_points)
            budget = self._fit(a.main / moves - lag, a.main - lag)
        elif not a.overtime:
            moves = moves_to_plan(board_size, move_number, empty_points)
            extra = period - lag if self._system == "byoyomi" else period / stones - lag
            budget = self._fit(a.main / moves + max(extra, 0.0), a.main + extra)
        elif self._system == "byoyomi":
            if a.period <= lag + self.min_budget and a.periods > 1:
                budget = self._fit(a.period + period - lag, a.period + period - lag)
            else:
                budget = self._fit(a.period - lag, a.period - lag)
        else:
            per_stone = a.period / max(a.stones, 1)
            if not a.synced:
                per_stone = min(per_stone, period / stones)
            budget = self._fit(per_stone - lag, per_stone - lag)
        budget = min(budget, MAX_SECONDS)
        if max_time is not None:
            budget = min(budget, max_time)
        log.debug("time budget %.3f s for %s (%s, %s)", budget, "black" if color == BLACK else "white", clock, a)
        return budget

    def spent(self, color: int, seconds: float) -> None:
        """``color`` has just moved after thinking ``seconds``: charge ``seconds + lag`` to its account."""
        a = self._accounts.get(color)
        if a is None or self._system == "none":
            return
        if not math.isfinite(seconds):
            log.warning("spent(%r) is not a time; charging only the lag", seconds)
            seconds = 0.0
        t = min(max(0.0, seconds), MAX_SECONDS) + self.lag
        assert self._settings is not None
        period_time, periods, stones = self._limits
        if not a.overtime:
            if t <= a.main or self._system == "absolute":
                a.main = max(0.0, a.main - t)
                return
            t -= a.main
            a.main, a.overtime = 0.0, True
            a.synced = False  # the real clock may still be in main time: its periods may start later than ours
        if self._system == "byoyomi":
            while t > a.period + _EPS and a.periods > 1:  # the period runs out: the next one starts
                t -= a.period
                a.periods -= 1
                a.period = period_time
            a.period = period_time  # the move is made: the period is whole again
        else:
            a.period = max(0.0, a.period - t)
            a.stones -= 1
            if a.stones <= 0:
                a.period, a.stones = period_time, stones

    # --- internals -------------------------------------------------------------------------------------------------

    def _start(self, clock: Clock) -> None:
        """Both sides at the start of ``clock``'s settings."""
        self._settings = (clock.system, clock.main_time, clock.period_time, clock.periods, clock.stones)
        period, periods, stones = _seconds(clock.period_time), _count(clock.periods), _count(clock.stones)
        self._limits = (period, periods, stones)
        system = clock.system if clock.system in SYSTEMS else "none"
        if system != clock.system:
            log.warning("unknown time system %r: thinking without a clock limit", clock.system)
        if (system == "byoyomi" and periods < 1) or (system == "canadian" and stones < 1):
            system = "absolute"  # no overtime to speak of
        if system in ("byoyomi", "canadian") and not period > 0:
            system = "absolute"
        self._system = system
        main = _seconds(clock.main_time)
        overtime = main <= 0 and system in ("byoyomi", "canadian")
        for color in (BLACK, WHITE):
            self._accounts[color] = _Account(main, overtime, periods, stones, period)

    def _from_report(self, clock: Clock, left: TimeLeft) -> _Account | None:
        """The account a ``time_left`` report describes (see the module docstring), or ``None`` to ignore it."""
        if self._system == "none":
            return None
        try:
            seconds, stones = float(left.seconds), int(left.stones)
        except (TypeError, ValueError, OverflowError):
            seconds, stones = math.nan, 0
        if not math.isfinite(seconds):
            log.warning("ignoring time_left %r", left)
            return None
        seconds, stones = min(max(0.0, seconds), MAX_SECONDS), min(max(0, stones), MAX_STONES)
        period, periods, per_period = self._limits
        if self._system == "absolute":
            return _Account(seconds, False, 0, 0, 0.0)
        if stones == 0 and seconds > 0:
            return _Account(seconds, False, periods, per_period, period)
        if stones == 0:  # "0 0": main time is over, overtime starts afresh
            return _Account(0.0, True, periods, per_period, period)
        if self._system == "byoyomi":
            return _Account(0.0, True, min(stones, periods), per_period, min(seconds, period))
        return _Account(0.0, True, periods, stones, min(seconds, period))

    def _fit(self, ideal: float, most: float) -> float:
        """``ideal`` but at most ``most``; below ``min_budget``: ``min_budget`` if it is at most ``most/2``, else
        ``most/2`` (0 if nothing is left)."""
        budget = min(ideal, most)
        if budget < self.min_budget:
            budget = min(self.min_budget, max(most, 0.0) / 2)
        return max(budget, 0.0)


def _seconds(value: float) -> float:
    """A setting in seconds: not finite or not positive -> 0, at most :data:`MAX_SECONDS`."""
    value = float(value)
    return min(value, MAX_SECONDS) if math.isfinite(value) and value > 0 else 0.0


def _count(value: int) -> int:
    """A count of periods or stones: at least 0, at most :data:`MAX_STONES`."""
    try:
        return min(max(int(value), 0), MAX_STONES)
    except (TypeError, ValueError, OverflowError):
        return 0


def _clamp(value: float) -> float:
    """Seconds on a clock: in ``[0, MAX_SECONDS]`` (NaN -> 0, infinity -> MAX_SECONDS)."""
    value = float(value)
    return 0.0 if math.isnan(value) else min(max(value, 0.0), MAX_SECONDS)
