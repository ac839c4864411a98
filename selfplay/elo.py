"""Elo ratings for tournaments: Bradley-Terry maximum likelihood, as BayesElo and Ordo compute them.

A tournament is a list of :class:`Game` records (Black, White, winner ``"B"``/``"W"``/None for a draw; void games are
left out before, see :func:`games_from_results`). :func:`fit_ratings` turns them into :class:`Ratings`::

    from igo.selfplay.elo import fit_ratings, games_from_results

    ratings = fit_ratings(games_from_results(rows), anchor="gnugo-10", anchor_elo=0.0)
    print(ratings.table())
    ratings.los("igo-4k", "igo-1k")       # probability that igo-4k is the stronger

**Model.** Player ``i`` has a rating ``r_i`` on the Elo scale and, optionally (``first_move_advantage=True``),
Black has an edge ``h`` (Elo points, the same for all players). Black ``b`` beats White ``w`` with probability

    p = 1 / (1 + 10^(-(r_b + h - r_w) / 400)) = sigmoid(c (r_b + h - r_w)),   c = ln(10) / 400.

**Draws** count as half a win for each side (the usual Bradley-Terry treatment, as in Ordo): a game with Black's
score ``y`` in {0, 1/2, 1} contributes ``y log p + (1 - y) log(1 - p)`` to the log-likelihood. Games between the
same Black and White are summed, so the likelihood only needs each ordered pair's game count ``n`` and Black's
points ``y``. A draw carries a full game's Fisher information ``p (1 - p)`` although its score varies less than a
decisive game's, so with many draws the intervals are a little wide (conservative), never narrow.

**Prior.** A player with a perfect (or zero) score has no finite maximum-likelihood rating: the likelihood keeps
growing as the rating goes to infinity. As in BayesElo, a weak prior of virtual draws keeps every rating finite:
each player is given ``prior_games`` virtual draws against one *virtual average opponent* ``V``, whose rating is a
free parameter of the fit, so the prior does not shift the ratings as a whole, it only pulls each player towards
the field (``V`` is not reported; BayesElo instead spreads its virtual draws over each player's opponents). With
``prior_games=1`` and tens of real games per player the effect is a few Elo at most; it is largest for players with
few games or extreme scores, which is its purpose. The virtual draws do not connect groups of players that never
met: a disconnected comparison graph is refused (``ValueError`` naming the groups), as their relative strength would
only be the prior's guess.

``prior_games=0`` gives the pure maximum-likelihood estimate. With a perfect score (or a group that won all its
games against the rest) it diverges: each Newton step adds about 174 Elo to such a player until its Fisher
information underflows against the others' (a Cholesky pivot below 1e-13 of the largest: some thousands of Elo) or
``max_iterations`` is reached; the fit then stops and reports ``converged=False``, with a warning naming the players
with perfect or zero scores, absurd ratings and huge sigmas. It never hangs.

**Fit.** The log-likelihood is concave; it is maximised by Newton's method with step halving, starting from all
zeros. With ``A`` the design matrix (a row per ordered pair: +1 for Black, -1 for White, +1 in the ``h`` column for a
real game) and ``d = c A theta``, the gradient is ``c A^T (y - n p)`` and the Hessian ``-c^2 A^T diag(n p q) A``.
Ratings are only defined up to a common shift; the fit fixes one player (the anchor, or the first player by name)
and drops its coordinate. A step moves no coordinate more than 1000 Elo; it is halved until the likelihood does not
decrease. Converged when the largest full Newton step is below 1e-7 Elo. Deterministic.

**Anchor.** With ``anchor`` the named player's rating is exactly ``anchor_elo`` and its sigma is 0 (its uncertainty
lives in the others' sigmas: they are uncertainties relative to the anchor). Without one, the ratings are shifted
so their mean is ``anchor_elo``.

**Uncertainty.** The covariance of the estimate is the inverse of the observed Fisher information (minus the
Hessian at the optimum) over the free coordinates; the anchor's row and column are zero. For the mean constraint the
covariance with one player fixed is projected by ``M = I - 1 1^T / n`` (``cov = M C M^T``). The 95% interval is
``r +- 1.96 sigma``. Differences ``r_i - r_j`` do not depend on the constraint, nor does their variance

    sigma^2_{i-j} = Var(r_i) + Var(r_j) - 2 Cov(r_i, r_j),

and the *likelihood of superiority* ``LOS(i, j) = Phi((r_i - r_j) / sigma_{i-j})`` (the normal approximation of the
posterior probability that ``i`` is stronger than ``j``; ``Phi`` from :func:`math.erf`). ``LOS(i, j) + LOS(j, i) =
1``. :meth:`Ratings.table` shows each player's LOS over the next one in the table.

Also here: :func:`crosstable` (results per pair and colour), :func:`plot_elo_vs_step` (Elo against training step,
reference players as lines) and :func:`simulate_games` (synthetic games from known ratings, to check the fit).
"""

from __future__ import annotations

import csv
import logging
import math
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .stats import Z95, normal_cdf

log = logging.getLogger(__name__)

ELO_SCALE = 400.0 / math.log(10.0)  # Elo points per unit of natural log-odds (about 173.7)
_TOL_ELO = 1e-7  # convergence: the largest Newton step, Elo
_MAX_STEP_ELO = 1000.0  # no coordinate moves more than this per iteration
_MIN_PIVOT = 1e-13  # a Cholesky pivot of the information this small: a rating diverges (pure MLE, perfect score)


# --- games -----------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Game:
    """One rated game: the players' names and the winner, ``"B"``, ``"W"`` or None for a draw."""

    black: str
    white: str
    winner: str | None

    @property
    def black_score(self) -> float:
        """Black's points: 1 for a win, 1/2 for a draw, 0 for a loss."""
        return 1.0 if self.winner == "B" else 0.5 if self.winner is None else 0.0


def games_from_results(rows: Iterable[Mapping[str, Any]]) -> list[Game]:
    """Games from result rows (dicts with ``black``, ``white``, ``winner``, ``result``, as ``results.jsonl`` of the
    arena and tournaments). Skipped: void games (``result == "Void"``, a ``reason`` starting with ``void``, or
    ``"status": "void"``) and failed tasks (``"status": "error"``, which have no result). A row without ``winner``
    takes it from a ``B+``/``W+`` result; otherwise no winner is a draw."""
    games = []
    skipped = 0
    for row in rows:
        status = row.get("status")
        if (
            status in ("void", "error")
            or row.get("result") == "Void"
            or str(row.get("reason") or "").lower().startswith("void")
        ):
            skipped += 1
            continue
        winner = row.get("winner")
        if winner is None and "winner" not in row:
            result = str(row.get("result") or "")
            winner = result[0] if result[:2] in ("B+", "W+") else None
        if winner not in ("B", "W", None):
            raise ValueError(f"row {row.get('id', row)}: winner must be 'B', 'W' or None, got {winner!r}")
        games.append(Game(str(row["black"]), str(row["white"]), winner))
    if skipped:
        log.debug("games_from_results: %d void or failed rows skipped", skipped)
    return games


def _check_games(games: Iterable[Game]) -> list[Game]:
    games = list(games)
    for g in games:
        if g.black == g.white:
            raise ValueError(f"a player cannot play itself: {g.black!r} has both colours in {g}")
        if g.winner not in ("B", "W", None):
            raise ValueError(f"winner must be 'B', 'W' or None, got {g.winner!r} in {g}")
    return games


def _components(names: list[str], edges: Iterable[tuple[int, int]]) -> list[list[str]]:
    """Connected components of the comparison graph (union-find), each sorted, largest first."""
    parent = list(range(len(names)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for a, b in edges:
        ra, rb = root(a), root(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    groups: dict[int, list[str]] = {}
    for i, name in enumerate(names):
        groups.setdefault(root(i), []).append(name)
    return sorted(groups.values(), key=lambda g: (-len(g), g))


def _colour_identifiable(n_players: int, edges: Iterable[tuple[int, int]]) -> bool:
    """Whether Black's edge is identified by the games: it is not when ratings ``phi`` exist with
    ``phi_b - phi_w = 1`` in every game (then ``r + t phi, h - t`` fits equally well for all ``t``)."""
    adj: dict[int, list[tuple[int, int]]] = {}
    for b, w in edges:
        adj.setdefault(b, []).append((w, -1))
        adj.setdefault(w, []).append((b, +1))
    phi: dict[int, int] = {}
    for start in range(n_players):
        if start in phi:
            continue
        phi[start] = 0
        stack = [start]
        while stack:
            u = stack.pop()
            for v, delta in adj.get(u, ()):
                if v not in phi:
                    phi[v] = phi[u] + delta
                    stack.append(v)
                elif phi[v] != phi[u] + delta:
                    return True
    return False


def _short(names: list[str], limit: int = 8) -> str:
    return ", ".join(names[:limit]) + (f", ... ({len(names)} players)" if len(names) > limit else "")


# --- ratings ---------------------------------------------------------------------------------------------------------


def _finite(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


@dataclass(eq=False)
class Ratings:
    """The fit: ``players`` best first; ``elo``, ``sigma`` (standard error), ``interval`` (95%), ``games`` and
    ``score`` (points: win 1, draw 1/2) by name; ``cov`` the covariance of the ratings in ``players`` order;
    ``first_move_elo``/``first_move_sigma`` Black's fitted edge (None unless asked for); ``converged`` and
    ``iterations`` of Newton's method; ``prior_games`` virtual draws per player."""

    players: list[str]
    elo: dict[str, float]
    sigma: dict[str, float]
    interval: dict[str, tuple[float, float]]
    games: dict[str, int]
    score: dict[str, float]
    cov: np.ndarray
    anchor: str | None
    anchor_elo: float
    first_move_elo: float | None = None
    first_move_sigma: float | None = None
    converged: bool = True
    iterations: int = 0
    prior_games: float = 1.0
    _index: dict[str, int] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._index = {p: i for i, p in enumerate(self.players)}

    def _idx(self, name: str) -> int:
        try:
            return self._index[name]
        except KeyError:
            raise KeyError(f"{name!r} is not rated; players: {_short(self.players, 20)}") from None

    def diff_sigma(self, a: str, b: str) -> float:
        """Standard error of ``elo[a] - elo[b]`` (independent of the anchor)."""
        i, j = self._idx(a), self._idx(b)
        var = self.cov[i, i] + self.cov[j, j] - 2.0 * self.cov[i, j]
        return math.sqrt(max(float(var), 0.0))

    def los(self, a: str, b: str) -> float:
        """Likelihood of superiority: the probability that ``a`` is stronger than ``b``, ``Phi(diff / sigma)``."""
        s = self.diff_sigma(a, b)
        diff = self.elo[a] - self.elo[b]
        if a == b or not math.isfinite(s):
            return 0.5
        if s == 0.0:
            return 0.5 if diff == 0 else float(diff > 0)
        return normal_cdf(diff / s)

    def los_next(self) -> list[float | None]:
        """LOS of each player (in ``players`` order) over the next one; None for the last."""
        p = self.players
        return [self.los(p[k], p[k + 1]) for k in range(len(p) - 1)] + ([None] if p else [])

    def score_fraction(self, name: str) -> float:
        return self.score[name] / self.games[name] if self.games[name] else 0.0

    def table(self) -> str:
        """A printable table: rank, player, Elo, +-95%, games, score %, LOS over the next player."""
        width = max([len("player")] + [len(p) for p in self.players])
        lines = [f"{'rank':>4}  {'player':<{width}}  {'Elo':>7}  {'+-95%':>6}  {'games':>5}  {'score':>6}  {'LOS':>6}"]
        for k, (p, los) in enumerate(zip(self.players, self.los_next(), strict=True), start=1):
            half = Z95 * self.sigma[p]
            half_s = f"{half:6.0f}" if math.isfinite(half) and half < 1e6 else f"{'inf':>6}"
            los_s = f"{100 * los:5.1f}%" if los is not None else f"{'':>6}"
            mark = " *" if p == self.anchor else ""
            line = (
                f"{k:>4}  {p:<{width}}  {self.elo[p]:7.0f}  {half_s}  {self.games[p]:>5}  "
                f"{100 * self.score_fraction(p):5.1f}%  {los_s}{mark}"
            )
            lines.append(line.rstrip())
        notes = []
        if self.anchor is not None:
            notes.append(f"* anchor, fixed at {self.anchor_elo:g}")
        else:
            notes.append(f"mean Elo {self.anchor_elo:g}")
        if self.first_move_elo is not None:
            notes.append(f"Black's edge {self.first_move_elo:+.0f} +- {Z95 * (self.first_move_sigma or 0.0):.0f}")
        if not self.converged:
            notes.append(f"NOT CONVERGED after {self.iterations} iterations")
        lines.append("; ".join(notes) + "; LOS = probability of being stronger than the next player")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (non-finite numbers become None)."""
        rows = []
        for k, (p, los) in enumerate(zip(self.players, self.los_next(), strict=True), start=1):
            lo, hi = self.interval[p]
            rows.append(
                {
                    "rank": k,
                    "player": p,
                    "elo": _finite(self.elo[p]),
                    "sigma": _finite(self.sigma[p]),
                    "low": _finite(lo),
                    "high": _finite(hi),
                    "games": self.games[p],
                    "score": self.score[p],
                    "los_next": los,
                }
            )
        return {
            "players": rows,
            "anchor": self.anchor,
            "anchor_elo": self.anchor_elo,
            "first_move_elo": None if self.first_move_elo is None else _finite(self.first_move_elo),
            "first_move_sigma": None if self.first_move_sigma is None else _finite(self.first_move_sigma),
            "converged": self.converged,
            "iterations": self.iterations,
            "prior_games": self.prior_games,
            "cov": [[_finite(x) for x in row] for row in np.asarray(self.cov, dtype=float).tolist()],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Ratings:
        """The inverse of :meth:`to_dict` (None numbers come back as infinity)."""

        def num(x: float | None) -> float:
            return math.inf if x is None else float(x)

        rows = data["players"]
        players = [r["player"] for r in rows]
        fm = data.get("first_move_elo")
        fms = data.get("first_move_sigma")
        return cls(
            players=players,
            elo={r["player"]: num(r["elo"]) for r in rows},
            sigma={r["player"]: num(r["sigma"]) for r in rows},
            interval={r["player"]: (num(r["low"]), num(r["high"])) for r in rows},
            games={r["player"]: int(r["games"]) for r in rows},
            score={r["player"]: float(r["score"]) for r in rows},
            cov=np.array([[num(x) for x in row] for row in data["cov"]], dtype=float).reshape(len(players), -1),
            anchor=data.get("anchor"),
            anchor_elo=float(data.get("anchor_elo", 0.0)),
            first_move_elo=None if fm is None else float(fm),
            first_move_sigma=None if fms is None else float(fms),
            converged=bool(data.get("converged", True)),
            iterations=int(data.get("iterations", 0)),
            prior_games=float(data.get("prior_games", 1.0)),
        )

    def to_csv(self, path: str | os.PathLike[str]) -> None:
        """Write ``rank,player,elo,low,high,sigma,games,score,los_next`` (score in points; los_next empty for the
        last player)."""
        with open(path, "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(["rank", "player", "elo", "low", "high", "sigma", "games", "score", "los_next"])
            for k, (p, los) in enumerate(zip(self.players, self.los_next(), strict=True), start=1):
                lo, hi = self.interval[p]
                w.writerow(
                    [
                        k,
                        p,
                        f"{self.elo[p]:.3f}",
                        f"{lo:.3f}",
                        f"{hi:.3f}",
                        f"{self.sigma[p]:.3f}",
                        self.games[p],
                        f"{self.score[p]:g}",
                        "" if los is None else f"{los:.6f}",
                    ]
                )


def _log_sigmoid(x: np.ndarray) -> np.ndarray:
    return -np.logaddexp(0.0, -x)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return np.exp(_log_sigmoid(x))


def fit_ratings(
    games: Iterable[Game],
    *,
    anchor: str | None = None,
    anchor_elo: float = 0.0,
    prior_games: float = 1.0,
    first_move_advantage: bool = False,
    max_iterations: int = 100,
) -> Ratings:
    """Bradley-Terry ratings (Elo scale) of the players of ``games``; see the module docstring for the maths.

    ``anchor`` is fixed at ``anchor_elo`` (without one the mean rating is ``anchor_elo``); ``prior_games`` virtual
    draws per player against a virtual average opponent (0: pure maximum likelihood); ``first_move_advantage`` fits
    Black's edge jointly. Raises ValueError for no games, a player playing itself, an unknown anchor, players in
    groups that never played each other, or a Black edge that the colours played cannot identify."""
    games = _check_games(games)
    if not games:
        raise ValueError("no games to rate")
    if prior_games < 0:
        raise ValueError(f"prior_games must be >= 0, got {prior_games}")
    names = sorted({g.black for g in games} | {g.white for g in games})
    index = {p: i for i, p in enumerate(names)}
    n = len(names)
    if anchor is not None and anchor not in index:
        raise ValueError(f"unknown anchor {anchor!r}: it played no rated game; players: {', '.join(names)}")

    # per ordered pair (black, white): games and Black's points
    pair_n: dict[tuple[int, int], float] = {}
    pair_y: dict[tuple[int, int], float] = {}
    games_count = dict.fromkeys(names, 0)
    score = dict.fromkeys(names, 0.0)
    for g in games:
        key = (index[g.black], index[g.white])
        pair_n[key] = pair_n.get(key, 0.0) + 1.0
        pair_y[key] = pair_y.get(key, 0.0) + g.black_score
        games_count[g.black] += 1
        games_count[g.white] += 1
        score[g.black] += g.black_score
        score[g.white] += 1.0 - g.black_score

    groups = _components(names, pair_n)
    if len(groups) > 1:
        described = "; ".join(f"{{{_short(grp)}}}" for grp in groups)
        raise ValueError(
            f"the games do not connect all players: {len(groups)} groups never played each other: {described}. "
            "Their relative ratings are undetermined; add games between the groups or rate them separately."
        )
    if first_move_advantage and not _colour_identifiable(n, pair_n):
        raise ValueError(
            "Black's edge cannot be told apart from the ratings with these games (e.g. each pair always played "
            "with the same colours); alternate colours or fit with first_move_advantage=False"
        )

    # parameters: n ratings, [virtual opponent], [Black's edge]; the design matrix, a row per real pair then per
    # virtual draw, is kept sparse: each row's (at most 3) columns and values
    use_prior = prior_games > 0
    v_col = n if use_prior else None
    h_col = n + int(use_prior) if first_move_advantage else None
    m = n + int(use_prior) + int(first_move_advantage)
    keys = sorted(pair_n)
    rows = len(keys) + (n if use_prior else 0)
    cols = np.zeros((rows, 3), dtype=np.intp)
    vals = np.zeros((rows, 3))
    counts = np.zeros(rows)
    points = np.zeros(rows)
    for e, (b, w) in enumerate(keys):
        cols[e, :2] = b, w
        vals[e, :2] = 1.0, -1.0
        if h_col is not None:
            cols[e, 2], vals[e, 2] = h_col, 1.0
        counts[e] = pair_n[(b, w)]
        points[e] = pair_y[(b, w)]
    if v_col is not None:
        for i in range(n):
            e = len(keys) + i
            cols[e, :2] = i, v_col
            vals[e, :2] = 1.0, -1.0
            counts[e] = prior_games
            points[e] = prior_games / 2.0
    vals /= ELO_SCALE  # d = A theta in natural log-odds, theta in Elo

    fixed = index[anchor] if anchor is not None else 0
    free = np.array([k for k in range(m) if k != fixed], dtype=np.intp)

    def logodds(theta: np.ndarray) -> np.ndarray:
        full = np.zeros(m)
        full[free] = theta
        return np.sum(vals * full[cols], axis=1)

    def loglik(theta: np.ndarray) -> float:
        d = logodds(theta)
        return float(np.sum(points * _log_sigmoid(d) + (counts - points) * _log_sigmoid(-d)))

    def gradient(theta: np.ndarray) -> np.ndarray:
        d = logodds(theta)
        # y - n p written as y q - (n - y) p: exact when p rounds to 1 (a diverging rating keeps moving)
        resid = points * _sigmoid(-d) - (counts - points) * _sigmoid(d)
        return np.bincount(cols.ravel(), weights=(vals * resid[:, None]).ravel(), minlength=m)[free]

    def fisher(theta: np.ndarray) -> np.ndarray:
        d = logodds(theta)
        weight = counts * _sigmoid(d) * _sigmoid(-d)
        info = np.zeros(m * m)
        for k in range(3):
            for j in range(3):
                info += np.bincount(cols[:, k] * m + cols[:, j], weights=weight * vals[:, k] * vals[:, j],
                                    minlength=m * m)  # fmt: skip
        return info.reshape(m, m)[np.ix_(free, free)]

    theta = np.zeros(len(free))
    current = loglik(theta)
    converged = False
    iterations = 0
    while iterations < max_iterations:
        iterations += 1
        grad = gradient(theta)
        info = fisher(theta)
        try:  # a diverging rating: its information underflows against the others', no progress is left
            pivots = np.diag(np.linalg.cholesky(info)) ** 2
        except np.linalg.LinAlgError:
            break
        if pivots.min() < _MIN_PIVOT * pivots.max():
            break
        step = np.linalg.solve(info, grad)
        if float(np.max(np.abs(step), initial=0.0)) < _TOL_ELO:
            theta = theta + step
            converged = True
            break
        step *= min(1.0, _MAX_STEP_ELO / float(np.max(np.abs(step))))
        for _ in range(60):  # step halving: never accept a worse likelihood
            trial = theta + step
            value = loglik(trial)
            if value >= current - 1e-12 * max(1.0, abs(current)):
                theta, current = trial, value
                break
            step *= 0.5
        else:  # no step improves the likelihood (rounding): stop where we are
            break

    info = fisher(theta)
    with np.errstate(all="ignore"):
        try:
            cov_free = np.linalg.inv(info)
            if not np.all(np.isfinite(cov_free)):
                raise np.linalg.LinAlgError("non-finite inverse")
        except np.linalg.LinAlgError:
            cov_free = np.linalg.pinv(info)

    full = np.zeros(m)
    full[free] = theta
    cov_full = np.zeros((m, m))
    cov_full[np.ix_(free, free)] = cov_free
    if anchor is not None:
        full[:n] += anchor_elo
        if v_col is not None:
            full[v_col] += anchor_elo
    else:  # shift so the mean rating is anchor_elo; project the covariance accordingly
        shift = anchor_elo - float(np.mean(full[:n]))
        full[:n] += shift
        if v_col is not None:
            full[v_col] += shift
        proj = np.eye(m)
        rated = list(range(n)) + ([v_col] if v_col is not None else [])
        for r in rated:
            proj[r, :n] -= 1.0 / n
        cov_full = proj @ cov_full @ proj.T

    if not converged:
        extreme = [p for p in names if score[p] in (0.0, float(games_count[p]))]
        log.warning(
            "Elo fit did not converge in %d iterations%s",
            iterations,
            f"; perfect or zero scores: {_short(extreme)}" if extreme else "",
        )
        if prior_games == 0:
            log.warning("pure maximum likelihood: a perfect or zero score has no finite rating; use prior_games > 0")

    order = sorted(range(n), key=lambda i: (-full[i], names[i]))
    players = [names[i] for i in order]
    cov = cov_full[np.ix_(order, order)]
    elo = {names[i]: float(full[i]) for i in order}
    sigma = {names[i]: math.sqrt(max(float(cov_full[i, i]), 0.0)) for i in order}
    if anchor is not None:
        sigma[anchor] = 0.0
    interval = {p: (elo[p] - Z95 * sigma[p], elo[p] + Z95 * sigma[p]) for p in players}
    fm = fms = None
    if h_col is not None:
        fm = float(full[h_col])
        fms = math.sqrt(max(float(cov_full[h_col, h_col]), 0.0))
    log.debug("Elo fit: %d players, %d games, %d iterations, converged %s", n, len(games), iterations, converged)
    return Ratings(
        players=players,
        elo=elo,
        sigma=sigma,
        interval=interval,
        games={p: games_count[p] for p in players},
        score={p: score[p] for p in players},
        cov=cov,
        anchor=anchor,
        anchor_elo=float(anchor_elo),
        first_move_elo=fm,
        first_move_sigma=fms,
        converged=converged,
        iterations=iterations,
        prior_games=float(prior_games),
    )


def los(ratings: Ratings, a: str, b: str) -> float:
    """Likelihood of superiority of ``a`` over ``b``: see :meth:`Ratings.los`."""
    return ratings.los(a, b)


# --- crosstable ------------------------------------------------------------------------------------------------------


@dataclass
class PairRecord:
    """A player's results against one opponent: all games, and split by the player's colour."""

    games: int = 0
    wins: int = 0
    draws: int = 0
    losses: int = 0
    black_games: int = 0
    black_wins: int = 0
    white_games: int = 0
    white_wins: int = 0

    @property
    def points(self) -> float:
        return self.wins + 0.5 * self.draws

    def to_dict(self) -> dict[str, int]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def _fmt_points(x: float) -> str:
    return f"{x:g}"


@dataclass
class Crosstable:
    """Results per ordered pair: ``pairs[(a, b)]`` is a :class:`PairRecord` from ``a``'s side (``a``'s wins, draws,
    losses, and wins with each colour) against ``b``; ``players`` sorted by name."""

    players: list[str]
    pairs: dict[tuple[str, str], PairRecord]

    def get(self, a: str, b: str) -> PairRecord:
        """``a``'s record against ``b`` (empty when they never played)."""
        return self.pairs.get((a, b), PairRecord())

    def table(self, players_order: Iterable[str] | None = None) -> str:
        """A printable matrix: the cell in row ``a``, column ``b`` is ``points/games`` of ``a`` against ``b``
        (points = wins + half the draws, so ``wins/games`` when there are no draws); ``.`` never played."""
        order = list(players_order) if players_order is not None else list(self.players)
        order += [p for p in self.players if p not in order]
        cells = [
            [
                "-"
                if a == b
                else (f"{_fmt_points(self.get(a, b).points)}/{self.get(a, b).games}" if self.get(a, b).games else ".")
                for b in order
            ]
            for a in order
        ]
        name_w = max([len("player")] + [len(p) for p in order])
        heads = [f"{k + 1}" for k in range(len(order))]
        col_w = [max(len(heads[j]), *(len(row[j]) for row in cells)) for j in range(len(order))]
        lines = ["    " + f"{'player':<{name_w}}  " + "  ".join(f"{h:>{w}}" for h, w in zip(heads, col_w, strict=True))]
        for k, (a, row) in enumerate(zip(order, cells, strict=True), start=1):
            lines.append(f"{k:>2}. {a:<{name_w}}  " + "  ".join(f"{c:>{w}}" for c, w in zip(row, col_w, strict=True)))
        lines.append("cell: points/games of the row player against the column player (draws count 1/2)")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``{"players": [...], "results": {a: {b: {games, wins, draws, losses, black_games, ...}}}}``."""
        results: dict[str, dict[str, dict[str, int]]] = {}
        for (a, b), rec in sorted(self.pairs.items()):
            results.setdefault(a, {})[b] = rec.to_dict()
        return {"players": list(self.players), "results": results}


def crosstable(games: Iterable[Game]) -> Crosstable:
    """Count each ordered pair's results by colour."""
    games = _check_games(games)
    pairs: dict[tuple[str, str], PairRecord] = {}
    for g in games:
        for me, other, colour in ((g.black, g.white, "B"), (g.white, g.black, "W")):
            rec = pairs.setdefault((me, other), PairRecord())
            rec.games += 1
            won = g.winner == colour
            if g.winner is None:
                rec.draws += 1
            elif won:
                rec.wins += 1
            else:
                rec.losses += 1
            if colour == "B":
                rec.black_games += 1
                rec.black_wins += int(won)
            else:
                rec.white_games += 1
                rec.white_wins += int(won)
    players = sorted({g.black for g in games} | {g.white for g in games})
    return Crosstable(players, pairs)


# --- plot ------------------------------------------------------------------------------------------------------------


def plot_elo_vs_step(
    ratings: Ratings,
    steps: Mapping[str, int],
    path: str | os.PathLike[str],
    *,
    title: str | None = None,
    others: bool = True,
    xlabel: str = "training step",
    levels: Iterable[str] | None = None,
    series: Mapping[str, Iterable[str]] | None = None,
) -> None:
    """Draw Elo with 95% error bars against training step (or any other measure of training, e.g. CPU-hours, named
    by ``xlabel``) for the rated players in ``steps`` — one line, or with ``series`` (label -> players) one labelled
    line each (e.g. one per play setting) — and, with ``others``, the rated players without a step (e.g. GNU Go
    levels; only those in ``levels`` when given) as labelled horizontal lines (their 95% interval a faint band; none
    for the anchor); write a PNG (matplotlib's Agg canvas, no pyplot state). Raises ValueError when no rated player
    has a step."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    stepped = sorted((steps[p], p) for p in ratings.players if p in steps)
    if not stepped:
        raise ValueError(f"no rated player has a training step (players: {_short(ratings.players, 20)})")
    unrated = sorted(set(steps) - set(ratings.players))
    if unrated:
        log.info("plot_elo_vs_step: not rated, not drawn: %s", _short(unrated))
    fig = Figure(figsize=(8, 5), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    groups = {"checkpoints": [p for _, p in stepped]} if series is None else {k: list(v) for k, v in series.items()}
    for c, (label, names) in enumerate(groups.items()):
        pts = sorted((steps[p], p) for p in names if p in steps and p in ratings.elo)
        if not pts:
            continue
        xs = [x for x, _ in pts]
        ys = [ratings.elo[p] for _, p in pts]
        err = [Z95 * ratings.sigma[p] if math.isfinite(ratings.sigma[p]) else 0.0 for _, p in pts]
        ax.errorbar(xs, ys, yerr=err, fmt="o-", capsize=4, color=f"C{c}", label=f"{label} (95% interval)")
        for x, y, (_, p) in zip(xs, ys, pts, strict=True):
            ax.annotate(p, (x, y), textcoords="offset points", xytext=(5, 5), fontsize=7, color=f"C{c}")
    if others:
        chosen = None if levels is None else set(levels)
        refs = [p for p in ratings.players if p not in steps and (chosen is None or p in chosen)]
        for k, p in enumerate(refs):
            colour = f"C{(k + len(groups)) % 10}"
            ax.axhline(ratings.elo[p], color=colour, linestyle="--", linewidth=1)
            lo, hi = ratings.interval[p]
            if 0 < hi - lo < 1e4:  # its 95% interval, faintly
                ax.axhspan(lo, hi, color=colour, alpha=0.07, linewidth=0)
            ax.annotate(
                f"{p} ({ratings.elo[p]:.0f})",
                (0.01, ratings.elo[p]),
                xycoords=("axes fraction", "data"),
                textcoords="offset points",
                xytext=(0, 3),
                fontsize=8,
                color=colour,
            )
    ax.set_xlabel(xlabel)
    anchor = f"{ratings.anchor} = {ratings.anchor_elo:g}" if ratings.anchor else f"mean {ratings.anchor_elo:g}"
    ax.set_ylabel(f"Elo ({anchor})")
    if title:
        ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(os.fspath(path), format="png")


# --- simulation ------------------------------------------------------------------------------------------------------


def simulate_games(
    true_elo: Mapping[str, float],
    pairs: Iterable[tuple[str, str]],
    games_per_pair: int,
    rng: np.random.Generator,
    draw_rate: float = 0.0,
    first_move_elo: float = 0.0,
) -> list[Game]:
    """Synthetic games from known ratings: each pair ``(a, b)`` plays ``games_per_pair`` games, ``a`` Black in
    the even-numbered ones. Black's expected score is the model's ``p`` (with Black's edge ``first_move_elo``);
    a game is drawn with probability ``min(draw_rate, 2 min(p, 1 - p))`` and Black wins with ``p - draw / 2``, so
    draws leave the expected score unchanged."""
    if not 0.0 <= draw_rate <= 1.0:
        raise ValueError(f"draw_rate must be in [0, 1], got {draw_rate}")
    games = []
    for a, b in pairs:
        for g in range(games_per_pair):
            black, white = (a, b) if g % 2 == 0 else (b, a)
            p = 1.0 / (1.0 + 10.0 ** (-(true_elo[black] + first_move_elo - true_elo[white]) / 400.0))
            draw = min(draw_rate, 2.0 * min(p, 1.0 - p))
            u = rng.random()
            winner = "B" if u < p - draw / 2.0 else None if u < p + draw / 2.0 else "W"
            games.append(Game(black, white, winner))
    return games
