"""The Go Text Protocol: a client for external engines (and, later, igo's own engine)."""
