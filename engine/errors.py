"""Error types of the engine. Both derive from ValueError so callers may catch either broadly."""


class InvalidMoveError(ValueError):
    """The text of a move or vertex cannot be parsed, or it lies off the board."""


class IllegalMoveError(ValueError):
    """A well-formed move that the rules forbid. ``reason`` is one of :data:`REASONS`."""

    REASONS = ("occupied", "suicide", "ko", "superko", "off board")

    def __init__(self, message: str, reason: str, move: str | None = None):
        super().__init__(message)
        self.reason = reason
        self.move = move


class SGFError(ValueError):
    """A game record that cannot be loaded: malformed, hostile, too large or describing an illegal game."""
