"""The bounds igo puts on what a user, a GUI or a file may ask for, in one place. Each is enforced where the value
comes in (GTP commands, command-line options, SGF properties, player and search settings) with a one-line error,
so that hostile or mistaken input can neither exhaust memory nor overflow a computation.
"""

from __future__ import annotations

MAX_THREADS = 256
"""The most rollout threads (``--threads``). A fixed number rather than a multiple of this machine's cores, so that
options valid here stay valid in a subprocess or on another machine (:meth:`PlayerOptions.to_argv`); threads beyond
the cores only slow the search down, and each costs a batch of 16 board states (20 KB each on 19x19)."""

MAX_BATCH = 4096
"""The most leaves per batch (``--batch``): each leaf is a board state in the search's pools (two with a network,
20 KB each on 19x19) plus its path, so the pools stay under ~200 MB; a network gains nothing from larger batches."""

MAX_PLAYOUTS = 1_000_000_000
"""The most simulations per move (``--playouts``): visit counts are 32-bit in the tree, and a budget far beyond the
tree's capacity is pointless anyway, since the search stops when its tree is full (see
:class:`~igo.engine.player.PlayerConfig`'s ``max_nodes``)."""

MAX_TREE_NODES = 5_000_000
"""The most nodes a tree may have (``max_nodes``): at the search's default of 64 edges a node on average, such a tree
already takes 2 x 11 GB. A tree grows to its limits as it fills (:func:`igo.engine.mcts.reserve`), so a limit costs
memory only when a search reaches it."""

MAX_TREE_EDGES = 2**31 - 1
"""The most edges a tree may have (``max_edges``): edge indices are 32-bit. 5,000,000 nodes of 19x19 (362 edges
each) fit (1.8e9 edges, 62 GB)."""

MAX_KOMI = 1000.0
"""The largest komi (either sign) GTP's ``komi`` and an SGF's ``KM`` may give: more than any score on the largest
board (25x25 is 625 points)."""

MAX_SECONDS = 365 * 24 * 3600.0
"""The longest time (seconds, one year) a clock setting or report may give; more is read as this."""

MAX_STONES = 10_000
"""The most byo-yomi periods or Canadian stones (per period) a clock may have; more is read as this."""
