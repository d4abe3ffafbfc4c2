"""Former name of :mod:`restyle.export.chain`, kept only so code written against it still imports.

The module was renamed so that its name says its job (issue 17.7); import from
:mod:`restyle.export.chain`. Delete this alias once nothing imports the old name.
"""

from __future__ import annotations

from restyle.export.chain import ExportResult, to_onnx

__all__ = ["ExportResult", "to_onnx"]
