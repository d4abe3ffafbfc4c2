"""Former name of :mod:`restyle.training.loop`, kept only so code written against it still imports.

The module was renamed so that its name says its job (issue 17.7); import from
:mod:`restyle.training.loop`. Delete this alias once nothing imports the old name.
"""

from __future__ import annotations

from restyle.training.loop import TrainResult, load_run_config, train

__all__ = ["TrainResult", "load_run_config", "train"]
