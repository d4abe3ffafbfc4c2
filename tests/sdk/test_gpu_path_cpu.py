"""The GPU path's decisions that hold without a GPU: output binding types from a real ONNX
Runtime session, defaults, refusals, and `restyle doctor --gpu` skipping cleanly."""

from __future__ import annotations

import inspect
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from restyle import Stylizer
from restyle.backends.base import ModelSource
from restyle.backends.ort_cpu import session_io
from restyle.backends.ort_cuda import bound_output
from restyle.bench.gpu_check import PART_NAMES
from restyle.errors import ConfigError
from restyle.modelinfo import read_model_info


@pytest.mark.parametrize("fixture", ["tiny_model", "tiny_float_model"])
def test_bound_output_type_is_the_sessions_output_type(fixture: str,
                                                       request: pytest.FixtureRequest) -> None:
    path: Path = request.getfixturevalue(fixture)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    source = ModelSource(path, "onnx", read_model_info(path))
    name_in, name_out, io = session_io(session, source)
    x = io.to_model(np.full((2, 40, 56, 3), 90, np.uint8))
    dtype, shape = bound_output(session, name_out, x)
    (actual,) = session.run([name_out], {name_in: x})
    assert dtype == actual.dtype and shape == actual.shape


def test_gpu_backends_keep_three_batches_in_flight_by_default() -> None:
    assert inspect.signature(Stylizer).parameters["in_flight"].default == 3


def test_cuda_graphs_with_pycuda_are_refused_before_loading(tiny_model: Path) -> None:
    with pytest.raises(ConfigError, match="pycuda has no CUDA stream capture"):
        Stylizer(tiny_model, backend="ort_cpu", cuda="pycuda", cuda_graph=True)


def test_doctor_gpu_runs_and_skips_each_part_with_a_reason(tmp_path: Path) -> None:
    out = tmp_path / "gpu-check.json"
    done = subprocess.run([sys.executable, "-m", "restyle", "doctor", "--gpu", "--json", str(out)],
                          capture_output=True, text=True, timeout=300, check=False)
    report = json.loads(out.read_text())
    assert [p["name"] for p in report["parts"]] == list(PART_NAMES)
    statuses = {p["name"]: p["status"] for p in report["parts"]}
    if statuses["gpus"] == "ok":
        pytest.skip("a GPU is visible: tests/sdk/test_backends_gpu.py checks the parts")
    assert done.returncode == 0, done.stderr[-2000:]
    assert report["ok"] and statuses["versions"] == "ok"
    for part in report["parts"][1:]:
        assert part["status"] == "skipped" and part["reason"], part
    assert "skipped" in done.stdout and str(out) in done.stdout
