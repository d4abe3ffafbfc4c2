"""Benchmark fixtures: models exported once per session, and the smoke / full matrix switch.

``make test`` runs this suite in smoke mode (tiny sizes, each benchmark once, no timing) so it never
rots; ``make bench`` sets ``RESTYLE_BENCH=full`` for the full matrix with timing. Results go to
JSON with ``--benchmark-json`` and compare over time with ``--benchmark-compare``.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
from _matrix import FULL


def _export(arch: str, config: dict[str, object], path: Path, *, fp16: bool = False) -> Path:
    import torch

    from restyle.export import to_onnx
    from restyle.training.models import create_model

    torch.manual_seed(0)
    module = create_model(arch, **config).eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # exporter chatter is not what is measured here
        to_onnx(module, path, fp16=fp16, style=f"bench-{arch}", check_shapes=[(1, 64, 64)])
    return path


@pytest.fixture(scope="session")
def bench_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """``johnson`` and ``compact`` with random weights (speed does not depend on them), FP32 and
    FP16, exported with restyle's own exporter. Smoke mode uses narrow widths."""
    root = tmp_path_factory.mktemp("bench-models")
    johnson_cfg: dict[str, object] = {} if FULL else {"width": 8, "blocks": 1}
    compact_cfg: dict[str, object] = {}
    models = {
        "johnson": _export("johnson", johnson_cfg, root / "johnson.onnx"),
        "compact": _export("compact", compact_cfg, root / "compact.onnx"),
    }
    if FULL:
        models["johnson-fp16"] = _export("johnson", johnson_cfg, root / "johnson16.onnx",
                                         fp16=True)
    return models
