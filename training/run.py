"""Former name of :mod:`restyle.training.step`, kept only so code written against it still imports.

The module was renamed so that its name says its job (issue 17.7); import from
:mod:`restyle.training.step`. Delete this alias once nothing imports the old name.
"""

from __future__ import annotations

from restyle.training.step import StepLog, TrainingRun, one_cycle_lr, resolve_device

__all__ = ["StepLog", "TrainingRun", "one_cycle_lr", "resolve_device"]
