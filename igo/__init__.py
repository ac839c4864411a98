"""igo: an AlphaGo / AlphaGo Zero Go engine in Python."""

__version__ = "0.1.0"
