"""Former name of :mod:`restyle.export.graph`, kept only so code written against it still imports.

The module was renamed so that its name says its job (issue 17.7); import from
:mod:`restyle.export.graph`. Delete this alias once nothing imports the old name.
"""

from __future__ import annotations

from restyle.export.graph import DEFAULT_OPSET, export_graph

__all__ = ["DEFAULT_OPSET", "export_graph"]
