"""The search leaves moves into the player's own single-point eyes out of its tree (``SearchConfig.fill_eyes``,
``--fill-eyes``), with a network's priors as with the uniform prior: a weak value net cannot see that filling an eye
kills the group, and the first candidate network filled its eyes once GNU Go had passed (issue 18)."""

from __future__ import annotations

import numpy as np
import pytest

from igo.engine import mcts as M
from igo.engine.board import BLACK, WHITE, Board
from igo.engine.leafbatch import LeafRows, root_history
from igo.engine.options import PlayerOptions
from igo.engine.player import MCTSPlayer, PlayerConfig
from igo.engine.search import MCTS, SearchConfig

EYES = ("A5", "C5", "E5")  # Black's eyes on eye_board()


def eye_board(komi: float = 0.5, white_passed: bool = False) -> Board:
    """5x5, Black to move: a Black wall on the fourth line with three single-point eyes on the edge (A5, C5, E5),
    three White stones below; White's last move a pass or C1."""
    b = Board(5, komi=komi)
    for v in ("B2", "D2"):
        b.play(v, WHITE)
    for v in ("B5", "D5", "A4", "B4", "C4", "D4", "E4"):
        b.play(v, BLACK)
    b.play(None if white_passed else "C1", WHITE)
    return b


def flat(vertex: str) -> int:
    col = "ABCDE".index(vertex[0])
    row = 5 - int(vertex[1:])
    return row * 5 + col


class EyeLover:
    """A network that puts nearly all its prior on C5 (an own eye) whatever the legal mask says, values 0."""

    history_length = 8

    def __init__(self):
        self.legal: list[np.ndarray] = []

    def evaluate(self, batch):
        self.legal.append(batch.legal[: batch.count].copy())
        priors = np.full((batch.count, 26), 0.001, np.float32)
        priors[:, flat("C5")] = 1.0
        return priors, np.zeros(batch.count, np.float32)


def root_moves(m: MCTS) -> set[str]:
    return {mv.move for mv in m.root_moves()}


@pytest.mark.parametrize("fill", [False, True])
def test_network_priors_give_no_edge_into_own_eyes_unless_asked(fill):
    b = eye_board()
    ev = EyeLover()
    m = MCTS(5, 0.5, SearchConfig.zero(dirichlet_weight=0.0, fill_eyes=fill), evaluator=ev, seed=1)
    m.search(b, 40)
    moves = root_moves(m)
    assert ("C5" in moves) is fill and ("A5" in moves) is fill and ("E5" in moves) is fill
    assert "pass" in moves and "C3" in moves
    # the evaluator was told the same: its legal mask has no eyes unless they are searched (the first call is the
    # root's, Black to move; for White the eyes are suicide)
    assert [bool(ev.legal[0][0, flat(e)]) for e in EYES] == [fill] * 3
    if not fill:
        assert not any(row[flat(e)] for legal in ev.legal for row in legal for e in EYES)
    # every node of the tree, not only the root: no edge into an own eye of the node's player
    t = m.tree
    for node in range(int(t.meta[M.T_NODES])):
        first, k = int(t.node_first[node]), int(t.node_nedges[node])
        assert abs(float(t.prior[first : first + k].sum()) - 1.0) < 1e-4
    if not fill:
        assert max(m.root_moves(), key=lambda mv: mv.visits).move not in EYES


def test_leaf_rows_leave_own_eyes_out_of_the_batch():
    b = eye_board()
    ev = EyeLover()
    for fill in (False, True):
        m = MCTS(5, 0.5, SearchConfig.zero(dirichlet_weight=0.0, fill_eyes=fill), evaluator=ev, seed=1)
        m.set_root(b)
        rows = LeafRows(5, 4, history_length=8)
        black_rows = []
        for _ in range(12):
            rows.select(m, b.state, root_history(b, 8), 4)
            batch = rows.batch()
            black_rows += [batch.legal[i].copy() for i in range(batch.count) if batch.to_move[i] == BLACK]
            rows.finish(*ev.evaluate(batch))
        assert black_rows
        eyes_legal = [any(row[flat(e)] for e in EYES) for row in black_rows]
        assert any(eyes_legal) if fill else not any(eyes_legal)
        assert all(row[25] for row in black_rows)


def test_the_player_does_not_fill_its_eyes_after_the_opponent_passed():
    """White passed and passing loses for Black (komi 20.5): Black plays on, but not in its own eyes, though its
    network prefers C5 (with --fill-eyes it plays C5, the old behaviour)."""
    for fill, expect_eye in ((False, False), (True, True)):
        b = eye_board(komi=20.5, white_passed=True)
        assert b.to_move == BLACK and b.passes == 1
        cfg = PlayerConfig(playouts=60, seed=1, resign_threshold=0.0,
                           search=SearchConfig.zero(dirichlet_weight=0.0, fill_eyes=fill))  # fmt: skip
        move = MCTSPlayer(cfg, evaluator=EyeLover()).genmove(b, BLACK)
        assert (move in EYES) is expect_eye, move


def test_fill_eyes_option():
    assert PlayerOptions().search_config().fill_eyes is False
    assert PlayerOptions.from_argv(["--fill-eyes"]).search_config().fill_eyes is True
    assert PlayerOptions.from_argv(["--no-fill-eyes"]).search_config("zero", has_value=True).fill_eyes is False
    assert SearchConfig(fill_eyes=True).pack(9, 7.5)[M.P_FILL_EYES] == 1.0
    assert SearchConfig().pack(9, 7.5)[M.P_FILL_EYES] == 0.0
