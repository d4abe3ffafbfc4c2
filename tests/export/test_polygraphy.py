"""A real outside client: NVIDIA's Polygraphy must accept the exported files."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from restyle.export import to_fp16

POLYGRAPHY = Path(sys.executable).with_name("polygraphy")

pytestmark = pytest.mark.skipif(not POLYGRAPHY.exists(),
                                reason=f"polygraphy is not installed beside {sys.executable}")


def _polygraphy(*args: str) -> str:
    result = subprocess.run([str(POLYGRAPHY), *args], capture_output=True, text=True, timeout=120,
                            check=False)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    return output


@pytest.fixture(scope="module")
def files(tiny_onnx: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    fp16 = tmp_path_factory.mktemp("polygraphy") / "tiny-fp16.onnx"
    to_fp16(tiny_onnx, fp16)
    return {"fp32": tiny_onnx, "fp16": fp16}


@pytest.mark.parametrize("precision", ["fp32", "fp16"])
def test_polygraphy_inspects_the_model(files: dict[str, Path], precision: str) -> None:
    out = _polygraphy("inspect", "model", str(files[precision]))
    assert "image [dtype=uint8, shape=('batch', 'height', 'width', 3)]" in out
    assert "stylized [dtype=uint8, shape=('batch', 'height', 'width', 3)]" in out


@pytest.mark.parametrize("precision", ["fp32", "fp16"])
def test_polygraphy_runs_the_model_with_onnx_runtime(files: dict[str, Path], precision: str,
                                                     tmp_path: Path) -> None:
    saved = tmp_path / "outputs.json"
    out = _polygraphy("run", str(files[precision]), "--onnxrt",
                      "--input-shapes", "image:[2,67,45,3]", "--val-range", "image:[0,255]",
                      "--save-outputs", str(saved))
    assert "PASSED" in out
    assert "stylized [dtype=uint8, shape=(2, 67, 45, 3)]" in out
    assert saved.stat().st_size > 0
