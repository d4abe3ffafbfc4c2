"""Training feed-forward style generators (needs ``restyle[train]``).

Example:
    >>> from restyle.training import TrainConfig
    >>> TrainConfig(style=("art.png",), out="runs/art").arch
    'compact'

``train(config)`` runs it; see :func:`restyle.training.loop.train`.
"""

from __future__ import annotations

from restyle.training.checkpoint import LoadedGenerator, load_generator, save_checkpoint
from restyle.training.config import TrainConfig
from restyle.training.loop import TrainResult, load_run_config, train

__all__ = [
    "LoadedGenerator",
    "TrainConfig",
    "TrainResult",
    "load_generator",
    "load_run_config",
    "save_checkpoint",
    "train",
]
