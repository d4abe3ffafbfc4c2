"""restyle's version, read by packaging and written into every exported model."""

__version__ = "0.1.0"
