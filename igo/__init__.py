"""igo: an AlphaGo / AlphaGo Zero Go engine in Python.

The engine's packages import as ``igo.engine`` (rules, features, search), ``igo.nets`` (networks), ``igo.selfplay``
(games, actors, tournaments), ``igo.training`` (trainers) and ``igo.gtp`` (the Go Text Protocol); the modules directly
in ``igo`` are the ``igo`` command.
"""

import importlib.metadata

try:
    __version__ = importlib.metadata.version("igo")
except importlib.metadata.PackageNotFoundError:  # run from a source tree that was never installed
    __version__ = "unknown"
