"""Moved to the runtime: :mod:`restyle.trt.target`. Kept so ``restyle.export.target`` imports
keep working."""

from restyle.trt.target import *  # noqa: F403
from restyle.trt.target import __all__  # noqa: F401
