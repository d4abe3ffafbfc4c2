"""Adapters that run restyle on engines built for scale: Ray Data for batch jobs across machines.

Each submodule needs its own extra and imports it only when used, so ``import restyle`` stays
light: :mod:`restyle.integrations.ray` needs ``pip install 'restyle[ray]'``. (Online serving with
Triton Inference Server needs no adapter here: ``restyle export MODEL --triton REPO`` writes a
Triton model repository, see :func:`restyle.export.triton.write_triton_repo`.)
"""

from __future__ import annotations

__all__: list[str] = []
