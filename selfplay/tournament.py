"""Tournaments: round-robin or gauntlet between GTP players, games in parallel on Ray, resumable, rated by Elo.

A tournament is a :class:`TournamentConfig` — players, a format, games per pairing, board size, komi, a referee, and
optionally opening positions from a directory of SGF files — read from a TOML file (:func:`load_config`) or built
from flags by ``igo tournament``::

    name = "igo-vs-gnugo"
    format = "gauntlet"            # or "round-robin" (all pairs)
    candidates = ["igo-1k", "igo-4k"]
    games_per_pairing = 20
    size = 9
    komi = 7.5
    referee = "gnugo"              # or "tromp-taylor"
    anchor = "gnugo-10"            # rated 0 (anchor_elo)
    openings = "openings/"         # optional: SGF files; the first opening_moves moves of each
    opening_moves = 4

    [[players]]
    name = "igo-1k"
    igo = "--playouts 1000 --threads 2"   # igo gtp options; model = "ckpt.safetensors" adds --model
    num_cpus = 2                          # Ray CPUs one game of this player needs (default 1)

    [[players]]
    name = "gnugo-10"
    command = "gnugo --mode gtp --level 10 --chinese-rules"

**Schedule.** Each pairing ``(a, b)`` plays ``games_per_pairing`` games; in game ``g`` A has Black when ``g`` is even,
so colours are balanced (exactly, for an even count). With openings, games ``2k`` and ``2k + 1`` of a pairing start
from the same opening with colours swapped, so a deterministic pair of players plays different games and neither
side is favoured by an opening. A game's id is ``"<a> vs <b> #<g>"``: stable across runs.

**Running.** Every game is a Ray task (:func:`igo.selfplay.game_task.play_game_task`) that needs ``max(num_cpus)`` of
its two players; the tournament starts a local Ray (``num_cpus`` = this machine's cores by default) or joins a cluster
(``address``). Tasks start the two engines (GTP subprocesses) on whichever node runs them — igo's engines with
``OMP_NUM_THREADS`` set to the game's CPUs (:meth:`TournamentPlayer.engine_env`), so that their threads share the cores
— play through :func:`igo.selfplay.match.play_game` — which never raises for what an engine does: crashes and timeouts
become forfeits (``B+F``, ``W+T``), two dead engines a void game — and return the result and the SGF text. The driver
writes both:

**Records** in ``out_dir``: ``tournament.json`` (the config), ``results.jsonl`` (one JSON line per finished game,
appended and fsynced as each game finishes), ``games/<id>.sgf``. **Resume**: rerunning reads ``results.jsonl`` and
plays only the games whose ids are not there, so killing the driver loses at most the games in progress; Ctrl-C
stops cleanly (:meth:`Tournament.run` stops the games in progress, which shut their engines down, and raises
:class:`TournamentInterrupted`). A task that itself fails (a worker died, a node was lost) is recorded with
``"status": "error"``, left out of the ratings, and played again on the next run. A rerun with different players,
size, komi or referee in the same directory is refused; :func:`stored_config` reads a directory's config back (for
ratings without the players' flags).

**Ratings** (:mod:`igo.selfplay.elo`): Bradley-Terry maximum likelihood over all finished non-void games, anchored to a
player, with 95% intervals, likelihood of superiority of each player over the next, and a crosstable by colour;
written to ``ratings.json``, ``ratings.csv`` and ``crosstable.json``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import shlex
import signal
import threading
import tomllib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from igo.engine.fileio import append_json_line, atomic_write, read_json_lines
from igo.engine.options import PlayerOptions

from .game_task import StopFlag
from .game_task import play_game_task as _play_game_task

log = logging.getLogger(__name__)

FORMATS = ("round-robin", "gauntlet")


# --- configuration -------------------------------------------------------------------------------------------------


@dataclass
class TournamentPlayer:
    """One player: ``command`` (a GTP command line) or igo's own player, given by ``igo`` (the player options of
    ``igo gtp``, as in a config file) and ``model`` (a checkpoint, the ``--model`` option), which are read into a
    typed :class:`~igo.engine.options.PlayerOptions` (:attr:`options`) at once, so a bad option is an error before
    any game; ``num_cpus`` Ray CPUs per game; ``step``, the training step for the Elo plot (read from the checkpoint
    when not given). :meth:`from_options` makes an igo player from options built in code."""

    name: str
    command: str | None = None
    igo: str | None = None
    model: str | None = None
    num_cpus: float = 1.0
    step: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise ValueError("every player needs a name")
        if any(ch in self.name for ch in "/\\\n"):
            raise ValueError(f"player name {self.name!r}: no slashes or newlines")
        if (self.command is None) == (self.igo is None and self.model is None):
            raise ValueError(f"player {self.name!r}: give either command (a GTP command line) or igo/model")
        if self.command is not None and not shlex.split(self.command):
            raise ValueError(f"player {self.name!r}: empty command")
        if not (isinstance(self.num_cpus, int | float) and self.num_cpus > 0):
            raise ValueError(f"player {self.name!r}: num_cpus must be positive, got {self.num_cpus!r}")
        self._options = None
        if self.command is None:
            try:
                self._options = _igo_options(self.igo, self.model)
            except ValueError as e:
                raise ValueError(f"player {self.name!r}: {e}") from None

    @classmethod
    def from_options(
        cls, name: str, options: PlayerOptions, *, num_cpus: float = 1.0, step: int | None = None
    ) -> TournamentPlayer:
        """igo's player with these options (its ``model`` becomes the player's checkpoint)."""
        return cls(name=name, igo=_igo_flags(options), model=options.model, num_cpus=num_cpus, step=step)

    @property
    def options(self) -> PlayerOptions | None:
        """igo's player options (None for a GTP ``command``)."""
        return self._options

    def argv(self, size: int, komi: float) -> list[str]:
        """The command line that starts this player's engine."""
        if self._options is None:
            return shlex.split(self.command)
        from .gtp_players import igo_command

        return igo_command(size, komi, self._options.to_argv())

    def engine_env(self, cpus: float) -> dict[str, str]:
        """The environment variables added for this player's engine in a game that holds ``cpus`` Ray CPUs: igo's
        engine gets ``OMP_NUM_THREADS`` = its share (:func:`~igo.selfplay.gtp_players.thread_env`), which its
        thread defaults follow, so two games on one machine do not both take every core; a GTP ``command`` gets
        none (its threads are its own options)."""
        if self._options is None:
            return {}
        from .gtp_players import thread_env

        return thread_env(cpus)

    def identity(self) -> dict:
        if self._options is None:
            return {"name": self.name, "command": self.command, "igo": None, "model": None}
        return {"name": self.name, "command": None, "igo": _igo_flags(self._options), "model": self._options.model}


def _igo_options(igo: str | None, model: str | None) -> PlayerOptions:
    """The options of ``igo`` flags plus a ``model``: a ValueError that names a bad option or a model given twice."""
    argv = shlex.split(igo or "")
    extra = [] if model is None or any(a.split("=")[0] == "--model" for a in argv) else ["--model", model]
    options = PlayerOptions.from_argv(argv + extra)
    if model is not None and options.model != model:
        raise ValueError(f"two models: {options.model!r} in igo options and {model!r}")
    return options


def _igo_flags(options: PlayerOptions) -> str:
    """The player flags of ``options`` but its model's (``--lambda 0.5`` needs it), one canonical string."""
    argv = options.to_argv()
    return shlex.join(argv if options.model is None else [a for a in argv if a not in ("--model", options.model)])


def _canonical_identity(identity: dict) -> dict:
    """A stored identity with its igo players' flags in canonical form, so that a results directory written with
    the same player in other words (flag order, defaults spelled out) is the same tournament."""
    players = []
    for p in identity.get("players", []):
        if isinstance(p, dict) and p.get("command") is None and (p.get("igo") is not None or p.get("model")):
            options = _igo_options(p.get("igo"), p.get("model"))
            p = {**p, "igo": _igo_flags(options), "model": options.model}
        players.append(p)
    return {**identity, "players": players}


@dataclass
class TournamentConfig:
    players: list[TournamentPlayer]
    format: str = "round-robin"
    candidates: list[str] = field(default_factory=list)
    games_per_pairing: int = 10
    size: int = 9
    komi: float = 7.5
    referee: str = "tromp-taylor"
    move_timeout: float = 60.0
    move_limit: int | None = None
    openings: str | None = None
    opening_moves: int = 4
    anchor: str | None = None
    anchor_elo: float = 0.0
    name: str = "tournament"

    def __post_init__(self) -> None:
        from igo.engine.coords import check_size

        from .referee import REFEREES

        if len(self.players) < 2:
            raise ValueError("a tournament needs at least two players")
        names = [p.name for p in self.players]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"player names must be unique: {', '.join(dup)}")
        if self.format not in FORMATS:
            raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {self.format!r}")
        if self.format == "gauntlet":
            if not self.candidates:
                raise ValueError("a gauntlet needs candidates (the players who meet the field)")
            unknown = [c for c in self.candidates if c not in names]
            if unknown:
                raise ValueError(f"unknown candidates {unknown}; players are {names}")
            if len(self.candidates) == len(names):
                raise ValueError("a gauntlet needs a field: at least one player who is not a candidate")
        elif self.candidates:
            raise ValueError("candidates are for the gauntlet format")
        if not isinstance(self.games_per_pairing, int) or self.games_per_pairing < 1:
            raise ValueError(f"games_per_pairing must be a positive integer, got {self.games_per_pairing!r}")
        self.size = check_size(self.size)
        if self.size > 19:
            raise ValueError("tournament games are recorded as SGF: sizes up to 19")
        self.komi = float(self.komi)
        if self.referee not in REFEREES:
            raise ValueError(f"referee must be one of {', '.join(REFEREES)}, got {self.referee!r}")
        if not self.move_timeout > 0:
            raise ValueError(f"move_timeout must be positive, got {self.move_timeout!r}")
        if self.anchor is not None and self.anchor not in names:
            raise ValueError(f"anchor {self.anchor!r} is not a player; players are {names}")
        if self.opening_moves < 0:
            raise ValueError("opening_moves must be >= 0")

    def player(self, name: str) -> TournamentPlayer:
        return next(p for p in self.players if p.name == name)

    def pairings(self) -> list[tuple[str, str]]:
        names = [p.name for p in self.players]
        if self.format == "round-robin":
            return [(a, b) for i, a in enumerate(names) for b in names[i + 1 :]]
        field_ = [n for n in names if n not in self.candidates]
        return [(c, f) for c in self.candidates for f in field_]

    def identity(self) -> dict:
        """What must not change between runs that share a results file."""
        return {
            "players": sorted((p.identity() for p in self.players), key=lambda d: d["name"]),
            "size": self.size,
            "komi": self.komi,
            "referee": self.referee,
        }

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        return d


_PLAYER_KEYS = {f.name for f in dataclasses.fields(TournamentPlayer)}
_CONFIG_KEYS = {f.name for f in dataclasses.fields(TournamentConfig)}


def config_from_dict(data: dict, base_dir: Path | None = None) -> TournamentConfig:
    """A config from a dict (parsed TOML/JSON); unknown keys are errors. Relative ``openings`` and ``model`` paths
    are taken relative to ``base_dir`` (the config file's directory)."""
    if not isinstance(data, dict):
        raise ValueError("a tournament config is a table of settings")
    unknown = set(data) - _CONFIG_KEYS
    if unknown:
        raise ValueError(f"unknown tournament settings: {', '.join(sorted(unknown))}")
    raw_players = data.get("players")
    if not isinstance(raw_players, list) or not raw_players:
        raise ValueError("the config needs a [[players]] list")
    players = []
    for i, p in enumerate(raw_players, 1):
        if not isinstance(p, dict):
            raise ValueError(f"player {i}: expected a table")
        bad = set(p) - _PLAYER_KEYS
        if bad:
            raise ValueError(f"player {p.get('name', i)}: unknown keys {', '.join(sorted(bad))}")
        p = dict(p)
        if base_dir is not None and p.get("model"):
            p["model"] = str((base_dir / p["model"]).resolve()) if not os.path.isabs(p["model"]) else p["model"]
        players.append(TournamentPlayer(**p))
    rest = {k: v for k, v in data.items() if k != "players"}
    if base_dir is not None and rest.get("openings") and not os.path.isabs(rest["openings"]):
        rest["openings"] = str((base_dir / rest["openings"]).resolve())
    try:
        return TournamentConfig(players=players, **rest)
    except TypeError as e:
        raise ValueError(f"bad tournament config: {e}") from None


def load_config(path: str | os.PathLike[str]) -> TournamentConfig:
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as e:
        raise ValueError(f"{path}: not valid TOML: {e}") from None
    except FileNotFoundError:
        raise ValueError(f"{path}: no such config file") from None
    return config_from_dict(data, path.parent)


# --- schedule ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScheduledGame:
    id: str
    a: str
    b: str
    index: int  # game number within the pairing, from 0
    black: str
    white: str
    opening: tuple[tuple[int, str], ...] = ()
    opening_name: str | None = None


def game_id(a: str, b: str, index: int) -> str:
    return f"{a} vs {b} #{index + 1:03d}"


def load_openings(directory: str | os.PathLike[str], size: int, moves: int) -> list[tuple[str, tuple]]:
    """The first ``moves`` moves of each SGF file of ``directory`` (recursively, sorted by path) for board ``size``:
    files of another size, with setup stones, or unreadable are skipped (logged). Returns ``(name, moves)``."""
    from igo.engine.coords import rc_to_gtp
    from igo.engine.sgf import load_sgf

    root = Path(directory)
    if not root.is_dir():
        raise ValueError(f"openings: {root} is not a directory")
    out = []
    skipped = 0
    for f in sorted(root.rglob("*.sgf")):
        try:
            rec = load_sgf(f.read_bytes())
        except Exception as e:  # hostile or broken files are skipped, never fatal
            log.warning("opening %s skipped: %s", f, e)
            skipped += 1
            continue
        if rec.size != size or rec.black_setup or rec.white_setup or len(rec.moves) < moves:
            skipped += 1
            continue
        seq = tuple((c, "pass" if p is None else rc_to_gtp(p[0], p[1], size)) for c, p in rec.moves[:moves])
        out.append((str(f.relative_to(root)), seq))
    if not out:
        raise ValueError(
            f"openings: no usable {size}x{size} SGF file with {moves}+ moves in {root} ({skipped} skipped)"
        )
    if skipped:
        log.info("openings: %d usable, %d skipped", len(out), skipped)
    return out


def schedule(config: TournamentConfig, openings: list[tuple[str, tuple]] | None = None) -> list[ScheduledGame]:
    """Every game of the tournament, interleaved across pairings (game 1 of every pairing first, then game 2 …) so
    that standings are meaningful early."""
    games = []
    for g in range(config.games_per_pairing):
        for a, b in config.pairings():
            black, white = (a, b) if g % 2 == 0 else (b, a)
            name, seq = (None, ())
            if openings:
                name, seq = openings[(g // 2) % len(openings)]
            games.append(ScheduledGame(game_id(a, b, g), a, b, g, black, white, tuple(seq), name))
    return games


# --- records -------------------------------------------------------------------------------------------------------


def read_results(path: str | os.PathLike[str]) -> list[dict]:
    """The lines of a results file; a torn line (a kill while writing) is skipped with a warning."""
    rows, bad = read_json_lines(path)
    if bad:
        log.warning("%s: %d line(s) are not JSON (a torn write?): ignored", path, bad)
    return rows


META_FILE = "tournament.json"


def _read_meta(out_dir: Path) -> dict | None:
    """The contents of ``out_dir/tournament.json``, or None when it is missing or not a JSON object."""
    try:
        meta = json.loads((out_dir / META_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        log.warning("%s: unreadable (%s); ignored", out_dir / META_FILE, e)
        return None
    return meta if isinstance(meta, dict) else None


def stored_config(out_dir: str | os.PathLike[str]) -> dict | None:
    """The config (a dict for :func:`config_from_dict`) that the tournament in ``out_dir`` was played with, as
    ``tournament.json`` records it; None when the directory holds no tournament."""
    meta = _read_meta(Path(out_dir))
    config = meta.get("config") if meta is not None else None
    return dict(config) if isinstance(config, dict) else None


def safe_filename(game_id_: str) -> str:
    keep = "".join(ch if ch.isalnum() or ch in "-_.+#" else "_" for ch in game_id_)
    return keep.replace("#", "")


# --- the tournament ------------------------------------------------------------------------------------------------


class TournamentInterrupted(KeyboardInterrupt):
    """:meth:`Tournament.run` stopped by Ctrl-C after a clean stop: ``rows`` were recorded in this run, ``done`` of
    the ``total`` games are finished (earlier runs included). A KeyboardInterrupt, so a caller that does not know it
    still stops."""

    def __init__(self, rows: list[dict], done: int, total: int):
        super().__init__(f"interrupted after {done} of {total} games")
        self.rows, self.done, self.total = rows, done, total


@contextlib.contextmanager
def sigint_deferred():
    """Hold Ctrl-C (SIGINT) back while the block runs and raise the KeyboardInterrupt when it ends, so that what the
    block writes is written whole. A no-op outside the main thread or where SIGINT has a handler of its own."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGINT)
    if previous is not signal.default_int_handler:
        yield
        return
    caught: list[int] = []
    signal.signal(signal.SIGINT, lambda signum, frame: caught.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if caught:
        raise KeyboardInterrupt


def _stop_tasks(flag, refs: list, grace: float) -> list[tuple]:
    """Set the :class:`~igo.selfplay.game_task.StopFlag` ``flag`` — a game in progress stops before its next move and
    shuts its engines down, a game not started never starts them — and wait up to ``grace`` seconds for the tasks
    ``refs`` to end (a second Ctrl-C stops the wait; Ray's shutdown then ends the workers and their process groups).
    No ``ray.cancel``: see :mod:`igo.selfplay.game_task`. Returns ``(ref, output)`` of the games that finished."""
    import ray

    finished = []
    try:
        if flag is not None:
            flag.set.remote()
        ready, _ = ray.wait(refs, num_returns=len(refs), timeout=grace) if refs else ([], [])
        for ref in ready:
            try:
                out = ray.get(ref, timeout=0)
            except Exception:  # noqa: BLE001 - failed: played on the next run
                continue
            if not out.get("stopped"):
                finished.append((ref, out))
    except KeyboardInterrupt:
        log.warning("interrupted again: not waiting for the games in progress to shut their engines down")
    return finished


@dataclass
class Progress:
    total: int
    done: int
    rows: list[dict]


class Tournament:
    """A tournament in ``out_dir``; :meth:`run` plays the missing games, :meth:`ratings` rates the finished ones."""

    def __init__(self, config: TournamentConfig, out_dir: str | os.PathLike[str]):
        self.config = config
        self.out = Path(out_dir)
        self.results_path = self.out / "results.jsonl"
        self.games_dir = self.out / "games"

    # records

    def check_identity(self) -> None:
        """A ValueError when ``out_dir`` holds the records of another tournament (players, size, komi or referee
        differ from this config's); reads only."""
        old = _read_meta(self.out)
        if old is None:
            return
        try:
            same = _canonical_identity(old.get("identity") or {}) == self.config.identity()
        except ValueError:  # options that no longer parse
            same = False
        if not same:
            raise ValueError(
                f"{self.out} holds another tournament (players, size, komi or referee differ); "
                "use another --out directory"
            )

    def _check_directory(self) -> None:
        self.check_identity()
        self.out.mkdir(parents=True, exist_ok=True)
        self.games_dir.mkdir(exist_ok=True)
        meta = {"identity": self.config.identity(), "config": self.config.to_dict()}
        atomic_write(self.out / META_FILE, json.dumps(meta, indent=2) + "\n")

    def results(self) -> list[dict]:
        return read_results(self.results_path)

    def finished_ids(self) -> set[str]:
        return {r["id"] for r in self.results() if r.get("status") in ("done", "void")}

    def games(self) -> list[ScheduledGame]:
        """The whole schedule (openings read from the directory when configured)."""
        openings = None
        if self.config.openings and self.config.opening_moves > 0:
            openings = load_openings(self.config.openings, self.config.size, self.config.opening_moves)
        return schedule(self.config, openings)

    def pending(self) -> list[ScheduledGame]:
        done = self.finished_ids()
        return [g for g in self.games() if g.id not in done]

    def _record(self, out: dict) -> dict:
        row = out["row"]
        if out.get("sgf"):
            path = self.games_dir / f"{safe_filename(row['id'])}.sgf"
            atomic_write(path, out["sgf"])
            row["sgf"] = str(path.relative_to(self.out))
        append_json_line(self.results_path, row)
        return row

    # running

    def game_spec(self, g: ScheduledGame) -> dict:
        """What the Ray task of game ``g`` is given: ids, names, each side's command line, and each side's extra
        environment (:meth:`TournamentPlayer.engine_env` for the game's CPUs, :meth:`cpus_of`)."""
        cfg = self.config
        cpus = self.cpus_of(g)
        black, white = cfg.player(g.black), cfg.player(g.white)
        return {
            "id": g.id,
            "a": g.a,
            "b": g.b,
            "index": g.index,
            "black": g.black,
            "white": g.white,
            "black_argv": black.argv(cfg.size, cfg.komi),
            "white_argv": white.argv(cfg.size, cfg.komi),
            "black_env": black.engine_env(cpus),
            "white_env": white.engine_env(cpus),
            "opening": [list(m) for m in g.opening],
            "opening_name": g.opening_name,
        }

    def cpus_of(self, g: ScheduledGame) -> float:
        """The Ray CPUs game ``g`` holds: the larger ``num_cpus`` of its two players."""
        return max(self.config.player(g.a).num_cpus, self.config.player(g.b).num_cpus)

    def _check_fits(self, pending, ray) -> None:
        """ValueError when a game needs more CPUs than the largest Ray node has: Ray would wait for it forever."""
        largest = max((n["Resources"].get("CPU", 0.0) for n in ray.nodes() if n.get("Alive")), default=0.0)
        for g in pending:
            if self.cpus_of(g) > largest:
                names = [p for p in (g.a, g.b) if self.config.player(p).num_cpus == self.cpus_of(g)]
                need = self.cpus_of(g)
                raise ValueError(
                    f"a game of {names[0]} needs {need:g} CPUs (its --threads and --nn-threads, or num_cpus) but the "
                    f"largest Ray node has {largest:g}: give --cpus {need:g} or fewer threads"
                )

    def run(
        self,
        *,
        address: str | None = None,
        num_cpus: int | None = None,
        on_game: Callable[[dict, int, int], None] | None = None,
        stop_grace: float = 15.0,
    ) -> list[dict]:
        """Play every missing game on Ray; returns the rows recorded in this run. ``on_game(row, done, total)``
        after each game (``done`` counts all finished games, earlier runs included).

        Ctrl-C (KeyboardInterrupt) stops the run cleanly: the games in progress are stopped (their engines shut
        down, which takes at most ``stop_grace`` seconds, a second Ctrl-C cuts it short), the games not started are
        dropped, a game that finished meanwhile is still recorded, and nothing is half-written; then
        :class:`TournamentInterrupted` is raised with what was played. Rerunning plays the rest."""
        self._check_directory()
        games = self.games()
        finished = self.finished_ids()
        pending = [g for g in games if g.id not in finished]
        total = len(games)
        done = total - len(pending)
        if not pending:
            return []
        cfg = self.config
        settings = {
            "size": cfg.size,
            "komi": cfg.komi,
            "move_limit": cfg.move_limit,
            "move_timeout": cfg.move_timeout,
            "referee": cfg.referee,
        }
        recorded: list[dict] = []
        refs: dict = {}
        remaining: list = []
        taken: set = set()

        def take(ref, out: dict | None, error: Exception | None) -> None:
            nonlocal done
            g = refs[ref]
            if out is None:  # the task itself failed: record it, play it again next run
                out = {"row": {"id": g.id, "a": g.a, "b": g.b, "index": g.index, "black": g.black, "white": g.white,
                               "winner": None, "result": "Void",
                               "reason": f"void: the game's task failed: {type(error).__name__}: {str(error)[:300]}",
                               "status": "error"}, "sgf": None}  # fmt: skip
            with sigint_deferred():  # a game is recorded whole (SGF and results line) or not at all, and once
                row = self._record(out)
                recorded.append(row)
                taken.add(ref)
                if row.get("status") != "error":
                    done += 1
            if on_game is not None:
                on_game(row, done, total)

        import ray

        from .cluster import init_ray

        started_ray, flag = False, None
        try:
            started_ray = init_ray(address, num_cpus)
            self._check_fits(pending, ray)
            task = ray.remote(_play_game_task)
            flag = ray.remote(num_cpus=0)(StopFlag).remote()
            # admission here, not by Ray alone: a game task waiting on its stop flag (ray.get) lends its CPUs back
            # to Ray, which would then start more games at once than the CPUs hold (3 on 2 CPUs, measured)
            capacity, queue = float(ray.cluster_resources().get("CPU", 0.0)), list(pending)
            while remaining or queue:
                held = sum(self.cpus_of(refs[r]) for r in remaining)
                while queue and (not remaining or held + self.cpus_of(queue[0]) <= capacity + 1e-9):
                    g = queue.pop(0)
                    ref = task.options(num_cpus=self.cpus_of(g), max_retries=0).remote(self.game_spec(g), settings,
                                                                                        flag)  # fmt: skip
                    refs[ref], held = g, held + self.cpus_of(g)
                    remaining.append(ref)
                ready, rest = ray.wait(remaining, num_returns=1)
                try:
                    out, error = ray.get(ready[0]), None
                except Exception as e:  # noqa: BLE001 - a failed task is recorded as such, the tournament goes on
                    out, error = None, e
                remaining = rest
                if out is not None and out.get("stopped"):  # the flag is set only after this loop: it was unreachable
                    out, error = None, RuntimeError("the game stopped: its stop flag could not be reached")
                take(ready[0], out, error)
            return recorded
        except KeyboardInterrupt:
            remaining = [r for r in remaining if r not in taken]
            log.info("interrupted: stopping %d unfinished games", len(remaining))
            try:
                for ref, out in _stop_tasks(flag, remaining, stop_grace):
                    take(ref, out, None)
            except KeyboardInterrupt:
                pass  # a second Ctrl-C while recording the games that finished meanwhile: they are played again
            raise TournamentInterrupted(recorded, done, total) from None
        finally:
            if started_ray:
                ray.shutdown()

    # ratings

    def rated_games(self):
        from .elo import games_from_results

        rows = [r for r in self.results() if r.get("status") == "done"]
        return games_from_results(rows)

    def ratings(self):
        from .elo import fit_ratings

        cfg = self.config
        return fit_ratings(self.rated_games(), anchor=cfg.anchor, anchor_elo=cfg.anchor_elo)

    def crosstable(self):
        from .elo import crosstable

        return crosstable(self.rated_games())

    def steps(self) -> dict[str, int]:
        """Training steps of the players (given, or from their checkpoints' metadata)."""
        out = {}
        for p in self.config.players:
            if p.step is not None:
                out[p.name] = int(p.step)
            elif _checkpoint(p):
                try:
                    from igo.nets.checkpoint import read_metadata

                    out[p.name] = int(read_metadata(_checkpoint(p)).step)
                except Exception as e:  # a plot without that point, not a failed tournament
                    log.warning("no training step for %s: %s", p.name, e)
        return out

    def cpu_hours(self) -> dict[str, float]:
        """The CPU-hours that made each checkpoint player's network: its ``extra.cpu_hours`` (its own training:
        ``igo train sl`` and ``igo train zero`` record it) plus ``extra.parent_cpu_hours`` (what its ``--init``
        network had cost); players whose checkpoint records neither are left out."""
        out = {}
        for p in self.config.players:
            if not _checkpoint(p):
                continue
            try:
                from igo.nets.checkpoint import network_cpu_hours, read_metadata

                found = network_cpu_hours(read_metadata(_checkpoint(p)).extra)
            except Exception as e:  # a plot without that point, not a failed tournament
                log.warning("no CPU-hours for %s: %s", p.name, e)
                continue
            if found is None:
                log.warning("no CPU-hours recorded in %s (player %s)", _checkpoint(p), p.name)
            else:
                out[p.name] = found
        return out

    def write_ratings(self) -> tuple:
        ratings = self.ratings()
        table = self.crosstable()
        atomic_write(self.out / "ratings.json", json.dumps(ratings.to_dict(), indent=2) + "\n")
        ratings.to_csv(self.out / "ratings.csv")
        atomic_write(self.out / "crosstable.json", json.dumps(table.to_dict(), indent=2) + "\n")
        return ratings, table


def _checkpoint(p: TournamentPlayer) -> str | None:
    """The network checkpoint an igo player plays with (its ``model``, or ``--model`` in its flags); None for GTP
    commands, rollout-only players and ``--model none``."""
    model = p.model or (p.options.model if p.options is not None else None)
    return None if not model or model.lower() == "none" else model


def standings(rows: Iterable[dict]) -> dict[str, tuple[float, int]]:
    """Points (win 1, draw 1/2) and games of each player over the finished non-void games."""
    out: dict[str, list[float]] = {}
    for r in rows:
        if r.get("status") != "done":
            continue
        for side, letter in (("black", "B"), ("white", "W")):
            name = r[side]
            s = out.setdefault(name, [0.0, 0])
            s[1] += 1
            if r.get("winner") == letter:
                s[0] += 1.0
            elif r.get("winner") is None:
                s[0] += 0.5
    return {k: (v[0], int(v[1])) for k, v in out.items()}


def standings_line(rows: Iterable[dict], limit: int = 4) -> str:
    st = standings(rows)
    best = sorted(st.items(), key=lambda kv: -kv[1][0] / max(kv[1][1], 1))[:limit]
    return "  ".join(f"{name} {100 * pts / max(n, 1):.0f}%" for name, (pts, n) in best)


__all__ = [
    "TournamentPlayer",
    "TournamentConfig",
    "Tournament",
    "TournamentInterrupted",
    "ScheduledGame",
    "config_from_dict",
    "load_config",
    "load_openings",
    "schedule",
    "read_results",
    "standings",
    "stored_config",
    "game_id",
]
