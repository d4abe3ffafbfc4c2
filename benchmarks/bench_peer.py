"""An imported fast_neural_style model against its own project's way, in the same run.

restyle (a Stylizer on the cached import) against PyTorch eager as ``neural_style.py`` runs the
``.pth``, and against ONNX Runtime on the onnx/models file at its fixed 224×224. Full mode: the
published width at 512² and 1080p; smoke mode (``make test``): tiny sizes, each row once.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import onnx
import pytest
import torch
from _matrix import FULL, matrix

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "export"))
from peer_models import transformer_net, zoo_onnx

from restyle.bench.peer import format_peer_table, run_peer_bench

RESOLUTIONS = matrix([(512, 512), (1080, 1920)], [(64, 96)])


@pytest.fixture(scope="module")
def peer_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("peer")
    net = transformer_net(seed=0)  # the published width: speed depends on it, not on weights
    torch.save(net.state_dict(), root / "candy.pth")
    onnx.save(zoo_onnx(net, 9), root / "candy-9.onnx")
    return {"pth": root / "candy.pth", "zoo": root / "candy-9.onnx"}


@pytest.mark.parametrize("kind", ["zoo", *matrix(["pth"], [])])
def bench_peer(benchmark: Any, peer_files: dict[str, Path], kind: str,
               tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RESTYLE_CACHE_DIR", str(tmp_path / "cache"))
    rows = run_peer_bench(peer_files[kind], resolutions=RESOLUTIONS, backend="auto",
                          repeat=5 if FULL else 1)
    benchmark.extra_info["rows"] = [r.as_dict() for r in rows]
    print("\n" + format_peer_table(rows))
    assert {r.name.split()[0] for r in rows} >= {"restyle"}
    assert all(r.vs_restyle is None or r.vs_restyle > 0 for r in rows)
    benchmark.pedantic(lambda: None, rounds=1)
