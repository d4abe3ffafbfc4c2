"""Moved to the runtime: :mod:`restyle.trt.build`, so ``restyle[gpu]`` alone builds engines.
Kept so ``restyle.export.tensorrt`` imports keep working."""

from restyle.trt.build import *  # noqa: F403
from restyle.trt.build import __all__  # noqa: F401
