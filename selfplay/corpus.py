"""Expert game corpora: games of a GTP engine (GNU Go by default) against itself, played in parallel on Ray.

Each game starts from a different *opening*: ``opening_moves`` stones placed alternately (Black first) on distinct
points away from the edge, drawn without replacement from every such sequence, so a deterministic engine never
replays a game of the same corpus (seeded: the same seed gives the same openings). The opening is written to the SGF
as setup stones (``AB``/``AW``, ``PL`` the side to move), never as moves, so that trainers learn only the engine's own
moves. Then one engine process plays both colours (``genmove``) until two passes, a resignation or ``move_limit``
moves; the result is the engine's ``final_score`` (dead stones removed) when it has that command, else Tromp-Taylor.

Game ``i`` is written as ``game-<i:06d>.sgf`` in the output directory (atomically, by the driver); a rerun skips the
games that exist, so an interrupted corpus resumes where it stopped. A game file counts as done only when it parses
as a complete game of the corpus's size (:func:`existing_games`): a truncated or damaged one is replayed and replaced,
with a warning. Stale ``game-*.sgf.tmp`` files of an interrupted write are deleted at start-up. A game whose engine
fails (crash, timeout, an illegal move) is counted and logged and not written.
"""

from __future__ import annotations

import logging
import math
import os
import re
import shlex
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from igo.engine.board import Board
from igo.engine.board_kernels import BLACK, WHITE
from igo.engine.coords import gtp_to_rc, rc_to_gtp
from igo.engine.errors import SGFError
from igo.engine.fileio import NotARegularFileError, atomic_write, open_regular
from igo.engine.sgf import DEFAULT_MAX_BYTES, GameRecord, dump_sgf, load_sgf

log = logging.getLogger(__name__)

GAME_NAME = re.compile(r"^game-(\d{6,})\.sgf$")
GAME_TMP = re.compile(r"^game-\d{6,}\.sgf\.tmp$")
SCORE = re.compile(r"^([BW])\+(\d+(?:\.\d+)?|R|Resign)$", re.IGNORECASE)


@dataclass
class CorpusConfig:
    engine: str = "gnugo --mode gtp --level 10"
    games: int = 100
    size: int = 9
    komi: float = 7.0
    out: str = "corpus"
    opening_moves: int = 3
    seed: int = 0
    move_limit: int | None = None  # default 3 x size x size
    move_timeout: float = 60.0

    def __post_init__(self) -> None:
        if not self.engine.strip():
            raise ValueError("--engine: give the GTP command line of the engine")
        shlex.split(self.engine)  # ValueError for unbalanced quotes
        if not isinstance(self.games, int) or self.games < 1:
            raise ValueError(f"--games must be at least 1, got {self.games!r}")
        if not 5 <= self.size <= 19:
            raise ValueError(f"--size must be 5..19, got {self.size}")
        if not math.isfinite(self.komi) or abs(self.komi) > 2 * self.size * self.size:
            raise ValueError(f"--komi {self.komi} is not a komi for {self.size}x{self.size}")
        if self.opening_moves < 0:
            raise ValueError(f"--opening-moves must not be negative, got {self.opening_moves}")
        if self.opening_moves > len(interior_points(self.size)):
            raise ValueError(f"--opening-moves {self.opening_moves} is more than the {self.size}x{self.size} interior")
        if self.move_limit is None:
            self.move_limit = 3 * self.size * self.size
        if self.move_limit < 1:
            raise ValueError(f"--move-limit must be at least 1, got {self.move_limit}")
        if self.move_timeout <= 0:
            raise ValueError(f"--move-timeout must be positive, got {self.move_timeout}")


def interior_points(size: int) -> list[tuple[int, int]]:
    """Points off the first line (for openings)."""
    return [(r, c) for r in range(1, size - 1) for c in range(1, size - 1)]


def openings(size: int, moves: int, count: int, seed: int) -> list[list[tuple[int, int]]]:
    """``count`` distinct sequences of ``moves`` distinct interior points (as many as exist when fewer), seeded."""
    pts = interior_points(size)
    k = len(pts)
    total = math.perm(k, moves)
    rng = np.random.default_rng(seed)
    if total <= 4 * count:
        codes = rng.permutation(total)[:count].tolist()
    else:  # sample codes without replacement by rejection (cheap: the space is much larger than count)
        seen: set[int] = set()
        codes = []
        while len(codes) < count:
            c = int(rng.integers(total))
            if c not in seen:
                seen.add(c)
                codes.append(c)
    out = []
    for code in codes:  # decode a mixed-radix index into a sequence of distinct points
        avail = list(pts)
        seq = []
        for _ in range(moves):
            code, i = divmod(code, len(avail))
            seq.append(avail.pop(i))
        out.append(seq)
    return out


@dataclass
class CorpusGame:
    index: int
    sgf: bytes | None  # None: the game failed
    moves: int = 0
    result: str | None = None
    seconds: float = 0.0
    error: str | None = None


def _engine_name(client, command: str) -> str:
    try:
        name = client.name().strip()
        version = client.version().strip()
        return f"{name} {version}".strip()[:80]
    except Exception:  # noqa: BLE001 - the name is cosmetic
        return shlex.split(command)[0]


def play_corpus_game(config: CorpusConfig, index: int, opening: list[tuple[int, int]]) -> CorpusGame:
    """Play game ``index`` from ``opening`` with one engine process for both colours; never raises for what the
    engine does (the error is in :attr:`CorpusGame.error`)."""
    from igo.gtp.client import GTPClient, GTPError

    t0 = time.monotonic()
    n = config.size
    board = Board(n, config.komi, ko_rule="positional")
    moves: list[tuple[int, tuple[int, int] | None]] = []
    try:
        with GTPClient(config.engine, timeout=config.move_timeout) as eng:
            name = _engine_name(eng, config.engine)
            eng.boardsize(n)
            eng.clear_board()
            eng.komi(config.komi)
            for i, (r, c) in enumerate(opening):
                color = BLACK if i % 2 == 0 else WHITE
                eng.play("b" if color == BLACK else "w", rc_to_gtp(r, c, n))
                board.play((r, c), color)
            start_to_move = board.to_move
            passes = 0
            result = None
            while len(moves) < config.move_limit:
                color = board.to_move
                reply = eng.genmove("b" if color == BLACK else "w").strip().lower()
                if reply == "resign":
                    result = f"{'W' if color == BLACK else 'B'}+R"
                    break
                if reply == "pass":
                    board.play(None, color)
                    moves.append((color, None))
                    passes += 1
                    if passes >= 2:
                        break
                    continue
                passes = 0
                point = gtp_to_rc(reply, n)
                reason = board.illegal_reason(point, color)
                if reason is not None:
                    raise GTPError(f"the engine played an illegal move {reply} ({reason}) at move {len(moves) + 1}")
                board.play(point, color)
                moves.append((color, point))
            if result is None:
                result = _final_score(eng, board)
    except (GTPError, OSError, ValueError) as e:
        return CorpusGame(index, None, len(moves), None, time.monotonic() - t0, f"{type(e).__name__}: {e}")
    record = GameRecord(
        size=n,
        komi=config.komi,
        black_setup=[p for i, p in enumerate(opening) if i % 2 == 0],
        white_setup=[p for i, p in enumerate(opening) if i % 2 == 1],
        first_player=start_to_move,
        moves=moves,
        result=result,
        black_player=name,
        white_player=name,
        game_name=f"corpus-{index:06d}",
        root_comment=(
            f"igo corpus game {index}: engine '{config.engine}' against itself; the {len(opening)} setup stones are "
            f"the random opening (seed {config.seed})"
        ),
    )
    return CorpusGame(index, dump_sgf(record), len(moves), result, time.monotonic() - t0)


def _final_score(eng, board: Board) -> str:
    from igo.gtp.client import GTPCommandError

    try:
        text = eng.send("final_score").strip()
    except GTPCommandError:
        text = ""
    if text in ("0", "Draw", "draw"):
        return "0"
    m = SCORE.match(text)
    if m:
        return f"{m.group(1).upper()}+{m.group(2)}"
    return board.result()  # Tromp-Taylor


def game_problem(path: str | os.PathLike, size: int | None = None) -> str | None:
    """Why the corpus game file at ``path`` is not a complete game (of ``size`` when given), or None. A file that is
    not a regular file (a FIFO, a directory) is an OSError, never a hang: the corpus cannot replace it."""
    try:
        with open_regular(path, DEFAULT_MAX_BYTES) as f:
            raw = f.read()
    except NotARegularFileError:
        raise
    except ValueError as e:  # larger than an SGF may be
        return str(e)
    try:
        record = load_sgf(raw, check_legal=False)
    except (SGFError, ValueError, RecursionError, MemoryError) as e:
        return str(e).splitlines()[0] if str(e) else type(e).__name__
    if size is not None and record.size != size:
        return f"a {record.size}x{record.size} game, not {size}x{size}"
    if not record.result:
        return "no result"
    return None


def existing_games(out: Path, size: int | None = None) -> set[int]:
    """The numbers of the games in ``out`` that are complete (:func:`game_problem`); each damaged one (truncated by
    a crash, ...) is left out with a warning, to be played again. Deletes stale ``game-*.sgf.tmp`` files.
    OSError when a game's name is taken by something that is not a regular file."""
    out = Path(out)
    if not out.is_dir():
        return set()
    have = set()
    for name in sorted(os.listdir(out)):
        path = out / name
        if GAME_TMP.match(name):
            if path.is_file() and not path.is_symlink():
                log.warning("deleting %s, left by a write that did not finish", path)
                path.unlink(missing_ok=True)
            continue
        m = GAME_NAME.match(name)
        if not m:
            continue
        why = game_problem(path, size)
        if why is None:
            have.add(int(m.group(1)))
        else:
            log.warning("%s is not a complete game (%s): playing it again", path, why)
    return have


@dataclass
class CorpusSummary:
    written: int = 0
    skipped_existing: int = 0
    failed: int = 0
    moves: int = 0
    seconds: float = 0.0
    black_wins: int = 0
    white_wins: int = 0
    errors: list[str] = field(default_factory=list)


def generate_corpus(
    config: CorpusConfig,
    *,
    address: str | None = None,
    num_cpus: int | None = None,
    on_game: Callable[[CorpusGame, CorpusSummary], None] | None = None,
) -> CorpusSummary:
    """Play the games of ``config`` that ``config.out`` does not have yet as Ray tasks (one CPU each) and write them."""
    import ray

    from .cluster import init_ray

    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    have = existing_games(out, config.size)
    summary = CorpusSummary(skipped_existing=len(have & set(range(config.games))))
    todo = [i for i in range(config.games) if i not in have]
    if not todo:
        return summary
    opens = openings(config.size, config.opening_moves, config.games, config.seed)
    started = init_ray(address, num_cpus)
    t0 = time.monotonic()
    try:
        task = ray.remote(num_cpus=1, max_retries=0)(play_corpus_game)
        cfg_ref = ray.put(config)
        window = max(2, 2 * int(ray.available_resources().get("CPU", 1)))
        pending: dict = {}
        queue = list(todo)
        while queue or pending:
            while queue and len(pending) < window:
                i = queue.pop(0)
                pending[task.remote(cfg_ref, i, opens[i])] = i
            done, _ = ray.wait(list(pending), num_returns=1)
            for ref in done:
                i = pending.pop(ref)
                try:
                    game = ray.get(ref)
                except Exception as e:  # noqa: BLE001 - a task that died is a failed game, not a failed corpus
                    game = CorpusGame(i, None, error=f"task failed: {e}")
                if game.sgf is None:
                    summary.failed += 1
                    summary.errors.append(f"game {i}: {game.error}")
                    log.warning("corpus game %d failed: %s", i, game.error)
                else:
                    atomic_write(out / f"game-{i:06d}.sgf", game.sgf)
                    summary.written += 1
                    summary.moves += game.moves
                    summary.black_wins += bool(game.result and game.result.startswith("B+"))
                    summary.white_wins += bool(game.result and game.result.startswith("W+"))
                summary.seconds = time.monotonic() - t0
                if on_game is not None:
                    on_game(game, summary)
    finally:
        if started:
            ray.shutdown()
    return summary


__all__ = [
    "CorpusConfig",
    "CorpusGame",
    "CorpusSummary",
    "existing_games",
    "game_problem",
    "generate_corpus",
    "interior_points",
    "openings",
    "play_corpus_game",
]
