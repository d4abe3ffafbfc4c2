"""Moved to the runtime: :mod:`restyle.trt.record` (engines are deployment work). Kept so
``restyle.export.engine_cache`` imports keep working."""

from restyle.trt.record import *  # noqa: F403
from restyle.trt.record import __all__  # noqa: F401
