"""``igo play``'s scores: ``score`` during the game is a labelled ownership estimate (with igo's win rate), the end of
the game removes the dead stones, lists them, draws them in lower case and counts without them, and the search player
passes after the human's pass only when it wins by that count; ``help`` says the same. 5x5 and 7x7 boards."""

from __future__ import annotations

import io

import numpy as np
import pytest

from igo.cli import main
from igo.engine.board import BLACK, WHITE, Board, format_result
from igo.engine.coords import rc_to_gtp
from igo.engine.player import MCTSPlayer, Player, PlayerConfig, dead_by_ownership, estimate_ownership, score_without
from igo.play_cmd import HELP, SCORE_PLAYOUTS, TerminalGame


class Passer(Player):
    """Passes at every turn; no ownership, no dead-stone estimate of its own."""

    name = "passer"

    def genmove(self, board: Board, color: int) -> str:
        return "pass"


class Owner(Passer):
    """A player with a fixed ownership (and the playouts it was asked for)."""

    def __init__(self, own):
        self.own = own
        self.asked: list[int | None] = []

    @property
    def supports_ownership(self) -> bool:
        return True

    def ownership(self, board: Board, playouts: int | None = None) -> np.ndarray:
        self.asked.append(playouts)
        return self.own


def search_player(playouts: int = 300) -> MCTSPlayer:
    return MCTSPlayer(PlayerConfig(playouts=playouts, seed=1, early_stop=False, max_nodes=50_000))


def game_at(position: str, player: Player, *, human: int = BLACK, komi: float = 7.5) -> TerminalGame:
    """A game on the ASCII ``position`` (setup stones), the human to move, started."""
    src = Board.from_ascii(position)
    stones = src.stones()
    n = src.size
    vertices = {
        c: [rc_to_gtp(r, k, n) for r in range(n) for k in range(n) if stones[r, k] == c] for c in (BLACK, WHITE)
    }
    game = TerminalGame(player, size=n, komi=komi, human=human, seed=3)
    game.board.setup(black=vertices[BLACK], white=vertices[WHITE])
    game.board.to_move = human
    game.player.new_game(game.board)
    game.start()
    return game


# White (igo) owns the right with a wall on column C and row 3; Black's E1 sits dead in White's bottom-right corner.
# As it stands White wins the count 27 to 15 (the corner is nobody's); with E1 removed, 35 to 14.
BLACK_DEAD_IN_WHITES_CORNER = """
    . X O . . . .
    . X O . . . .
    . X O . . . .
    . X O . . . .
    . X O O O O O
    . X O . . . .
    . X O . X . .
"""

# White's B6 sits dead inside Black's area: as it stands White wins the count 22 to 7 (the left is nobody's); with
# B6 removed Black wins 28 to 21.
WHITE_DEAD_IN_BLACKS_AREA = """
    . . . X O . .
    . O . X O . .
    . . . X O . .
    . . . X O . .
    . . . X O . .
    . . . X O . .
    . . . X O . .
"""


# --- score during the game -----------------------------------------------------------------------------------------


def test_score_is_a_labelled_estimate_from_the_players_ownership():
    own = np.full((5, 5), 1.0)
    own[0, :3] = -1.0  # Black owns 22 points, White 3: 19 - 7.5
    player = Owner(own)
    game = TerminalGame(player, size=5)
    game.start()
    out = game.handle("score")
    assert out == (
        f"Estimate: B+11.5, you lead (ownership from {SCORE_PLAYOUTS} playouts). "
        "The exact count comes at the end, after two passes.\n"
    )
    assert player.asked == [SCORE_PLAYOUTS]
    assert game.board.move_number == 0 and not game.finished


def test_score_rounds_to_whole_points_and_names_the_leader_for_white():
    own = np.full((5, 5), -0.31)  # White ahead by 7.75 points on the board, rounded to 8, plus komi 0.5
    game = TerminalGame(Owner(own), size=5, komi=0.5, human=WHITE)
    game.start()
    assert game.handle("score").startswith("Estimate: W+8.5, you lead (")


def test_a_bad_ownership_of_the_player_is_a_clear_error():
    game = TerminalGame(Owner(np.zeros((4, 4))), size=5)
    game.start()
    with pytest.raises(ValueError, match=r"igo's player .* ownership of shape \(4, 4\), not 5x5"):
        game.handle("score")


def test_score_without_player_ownership_uses_rollouts_and_sees_a_won_position():
    game = game_at(BLACK_DEAD_IN_WHITES_CORNER, Passer())
    out = game.handle("score")
    assert out.startswith("Estimate: W+") and "igo leads" in out and "win rate" not in out
    assert f"ownership from {SCORE_PLAYOUTS} playouts" in out and "Tromp-Taylor" not in out
    own = estimate_ownership(game.board, SCORE_PLAYOUTS, seed=3)  # the game's seed: the same estimate
    assert out.startswith(f"Estimate: {format_result(round(own.sum()) - 7.5)}, igo leads (")


def test_score_mid_game_shows_igos_win_rate_from_its_last_search():
    game = TerminalGame(search_player(), size=7, seed=1)
    game.start()
    game.handle("d4")
    out = game.handle("score")
    assert out.startswith("Estimate: ") and "(ownership from " in out
    assert "; igo's win rate " in out and "% at move 2)." in out
    assert game.handle("undo").startswith("Took back ")
    assert "win rate" not in game.handle("score")  # the search of a move taken back is not quoted


# --- the end of the game -------------------------------------------------------------------------------------------


def test_a_dead_stone_in_igos_area_is_removed_listed_and_drawn():
    game = game_at(BLACK_DEAD_IN_WHITES_CORNER, search_player())
    assert game.board.area() == (15, 27)
    out = game.handle("pass")
    assert "igo (White) passes" in out and game.finished  # it wins by both counts
    assert "Dead stones (by igo's estimate; drawn as x and o above), removed before counting: Black E1." in out
    assert "Final count (area, dead stones removed): Black 14, White 35, komi 7.5." in out
    assert "Result: W+28.5, igo wins." in out and game.result == "W+28.5"
    assert " 1 . X O . x . . 1" in out  # the final board marks it
    assert game.board.color_at("E1") == BLACK  # the game's board and record keep the stone


def test_without_a_players_estimate_the_ownership_estimate_finds_the_dead_stone():
    game = game_at(BLACK_DEAD_IN_WHITES_CORNER, Passer())
    out = game.handle("pass")
    assert f"Dead stones (by an ownership estimate from {SCORE_PLAYOUTS} playouts; drawn as x and o above)" in out
    assert "removed before counting: Black E1." in out and "Result: W+28.5, igo wins." in out
    assert game.dead_stones() == dead_by_ownership(game.board, estimate_ownership(game.board, SCORE_PLAYOUTS, seed=3))


def test_no_dead_stones_is_said_so():
    game = TerminalGame(search_player(), size=5, seed=1)
    game.start()
    out = game.handle("pass")
    assert "No dead stones (by igo's estimate).\nFinal count (area, no dead stones): Black 0, White 0, komi 7.5." in out
    assert "every stone counted alive" not in out


def test_igo_does_not_pass_on_a_count_that_its_dead_stones_would_reverse():
    # As it stands White wins, but the game is counted with B6 removed, which Black wins: igo (White) plays on.
    b = Board.from_ascii(WHITE_DEAD_IN_BLACKS_AREA, komi=0.5)
    assert b.score() < 0 < score_without(b, ["B6"])
    game = game_at(WHITE_DEAD_IN_BLACKS_AREA, search_player(), komi=0.5)
    out = game.handle("pass")
    assert "igo (White) plays " in out and "passes" not in out and not game.finished
    # the player alone: after Black's pass, White's pass would lose the count, so it is not played
    b.to_move = BLACK
    b.play(None)
    assert search_player().genmove(b, WHITE) != "pass"


def test_igo_answers_a_pass_when_it_wins_by_both_counts():
    b = Board.from_ascii(BLACK_DEAD_IN_WHITES_CORNER)
    b.play(None, BLACK)
    assert search_player().genmove(b, WHITE) == "pass"


# --- help and the command ------------------------------------------------------------------------------------------


def test_help_says_what_score_and_the_end_of_the_game_do():
    game = TerminalGame(Passer(), size=5)
    game.start()
    text = game.handle("help")
    assert text == HELP
    score_line = next(line for line in HELP.splitlines() if line.strip().startswith("score"))
    assert "estimate" in score_line and "Tromp-Taylor" not in HELP and "counted alive" not in HELP
    assert "dead stones removed" in HELP and "x and o on the final board" in HELP
    out = game_at(BLACK_DEAD_IN_WHITES_CORNER, Passer()).handle("pass")
    assert "dead stones removed" in out and "drawn as x and o" in out  # the end says what help promised


def test_igo_play_through_main_estimates_then_counts(monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.StringIO("c3\nscore\npass\npass\n"))
    assert main(["play", "--size", "5", "--player", "mcts", "--playouts", "50", "--threads", "1", "--seed", "1"]) == 0
    out = capsys.readouterr().out
    assert "Black (you) > Estimate: " in out and f"(ownership from {SCORE_PLAYOUTS} playouts; igo's win rate " in out
    assert "The exact count comes at the end, after two passes." in out
    assert "Final count (area, " in out and "Result: " in out
    assert ("No dead stones (by igo's estimate)." in out) != ("Dead stones (by igo's estimate;" in out)


class PassLover:
    """A network that puts nearly all its prior on the pass, values 0: the search's choice is a pass."""

    history_length = 8

    def evaluate(self, batch):
        n2 = batch.size * batch.size
        priors = np.full((batch.count, n2 + 1), 0.001, np.float32)
        priors[:, n2] = 1.0
        return priors, np.zeros(batch.count, np.float32)


def _pass_lover(seed: int = 1) -> MCTSPlayer:
    from igo.engine.search import SearchConfig

    cfg = PlayerConfig(playouts=60, seed=seed, resign_threshold=0.0, search=SearchConfig.zero(dirichlet_weight=0.0))
    return MCTSPlayer(cfg, evaluator=PassLover())


def test_igo_does_not_pass_first_when_the_answering_pass_would_lose_the_count():
    # The opponent has not passed and the search likes pass; White wins as the board stands (B6 alive), but its
    # dead stone B6 would be removed at the end, and Black wins: igo (White) plays on instead of passing.
    b = Board.from_ascii(WHITE_DEAD_IN_BLACKS_AREA, komi=0.5)
    b.to_move = WHITE
    assert b.score() < 0 < score_without(b, ["B6"]) and b.passes == 0
    assert _pass_lover().genmove(b, WHITE) != "pass"
    # the same without the dead stone and with komi 7.5, White wins by both counts: the search's pass is played
    clean = Board.from_ascii(WHITE_DEAD_IN_BLACKS_AREA.replace(". O . X", ". . . X"), komi=7.5)
    clean.to_move = WHITE
    assert clean.score() == -0.5 and clean.passes == 0
    assert _pass_lover().genmove(clean, WHITE) == "pass"
