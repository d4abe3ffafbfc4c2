"""GPU backends (TensorRT, ONNX Runtime CUDA) against ONNX Runtime CPU; skipped without a GPU."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from restyle import Stylizer
from restyle.backends.base import BackendConfig, ModelSource
from restyle.backends.registry import get_backend_spec
from restyle.cuda import available_bindings
from restyle.errors import EngineMismatchError
from restyle.modelinfo import read_model_info

pytestmark = pytest.mark.gpu


def _require(backend: str, model: Path) -> None:
    source = ModelSource(model, "onnx", read_model_info(model))
    reason = get_backend_spec(backend).probe(source, BackendConfig())
    if reason:
        pytest.skip(f"{backend}: {reason}")


def _frames(count: int = 23) -> list[np.ndarray]:
    rng = np.random.default_rng(11)
    sizes = [(256, 320), (272, 256), (256, 320), (300, 300)]
    return [rng.integers(0, 256, (*sizes[i % 4], 3), dtype=np.uint8) for i in range(count)]


def _diff(a: np.ndarray, b: np.ndarray) -> int:
    return int(np.abs(a.astype(np.int32) - b.astype(np.int32)).max())


@pytest.fixture(scope="module")
def cpu_outputs(tiny_model: Path) -> list[np.ndarray]:
    with Stylizer(tiny_model, backend="ort_cpu") as st:
        return [st(f) for f in _frames()]


@pytest.fixture
def engine_cache(tmp_path_factory: pytest.TempPathFactory,
                 monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    cache = tmp_path_factory.getbasetemp() / "engine-cache"
    monkeypatch.setenv("RESTYLE_CACHE_DIR", str(cache))
    yield cache


@pytest.mark.parametrize("cuda", ["cuda-python", "pycuda"])
def test_tensorrt_pipeline_matches_cpu_in_order(tiny_model: Path, engine_cache: Path,
                                                cpu_outputs: list[np.ndarray], cuda: str) -> None:
    _require("tensorrt", tiny_model)
    if cuda not in available_bindings():
        pytest.skip(f"{cuda} is not installed")
    with Stylizer(tiny_model, backend="tensorrt", cuda=cuda, batch_size=4) as st:
        assert st.info.backend == "tensorrt" and st.info.device == "cuda:0"
        outs = list(st.stream(iter(_frames())))
        batch = st.stylize_batch(_frames()[:6])
    assert len(outs) == len(cpu_outputs)
    for out, expected in zip(outs, cpu_outputs, strict=True):
        assert _diff(out, expected) <= 2  # FP16 engine
    for out, expected in zip(batch, cpu_outputs, strict=False):
        assert _diff(out, expected) <= 2
    assert list(engine_cache.rglob("*.engine"))  # built once, cached


def test_tensorrt_engine_file_graphs_and_external_stream(tiny_model: Path, engine_cache: Path,
                                                         cpu_outputs: list[np.ndarray]) -> None:
    _require("tensorrt", tiny_model)
    with Stylizer(tiny_model, backend="tensorrt") as st:
        st(_frames()[0])
    engine = next(engine_cache.rglob("*.engine"))
    frames = _frames()[:8]
    with Stylizer(engine, cuda_graph=True, batch_size=2) as graphs:
        assert graphs.info.backend == "tensorrt" and "CUDA graphs" in graphs.info.detail
        for _ in range(2):  # the second pass replays captured graphs
            for out, expected in zip(graphs.stylize_batch(frames), cpu_outputs, strict=False):
                assert _diff(out, expected) <= 2
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("torch without CUDA")
    app_stream = torch.cuda.Stream()
    with Stylizer(engine, stream=app_stream) as st:
        assert "application stream" in st.info.detail
        out = st(frames[0])
    assert _diff(out, cpu_outputs[0]) <= 2


def test_corrupt_engine_names_the_fix(tmp_path: Path, tiny_model: Path) -> None:
    _require("tensorrt", tiny_model)
    bad = tmp_path / "bad.engine"
    bad.write_bytes(b"\0" * 1024)
    with pytest.raises(EngineMismatchError, match="restyle export MODEL --trt"):
        Stylizer(bad, backend="tensorrt")


@pytest.mark.parametrize("cuda", ["cuda-python", "pycuda"])
def test_ort_cuda_matches_cpu(tiny_model: Path, cpu_outputs: list[np.ndarray], cuda: str) -> None:
    _require("ort_cuda", tiny_model)
    if cuda not in available_bindings():
        pytest.skip(f"{cuda} is not installed")
    with Stylizer(tiny_model, backend="ort_cuda", cuda=cuda, batch_size=3) as st:
        outs = list(st.stream(_frames()))
    for out, expected in zip(outs, cpu_outputs, strict=True):
        assert _diff(out, expected) <= 1


def test_ort_cuda_on_an_external_cupy_stream(tiny_model: Path,
                                             cpu_outputs: list[np.ndarray]) -> None:
    _require("ort_cuda", tiny_model)
    cp = pytest.importorskip("cupy")
    stream = cp.cuda.Stream(non_blocking=True)
    with Stylizer(tiny_model, backend="ort_cuda", stream=stream) as st:
        assert _diff(st(_frames()[0]), cpu_outputs[0]) <= 1


def test_ort_cuda_on_the_legacy_default_stream(tiny_model: Path,
                                               cpu_outputs: list[np.ndarray]) -> None:
    """ONNX Runtime ignores a stream handle of 0: the copy is synchronised before the run."""
    _require("ort_cuda", tiny_model)
    with Stylizer(tiny_model, backend="ort_cuda", stream=0) as st:
        assert "ONNX Runtime's stream" in st.info.detail
        outs = list(st.stream(_frames()))
    for out, expected in zip(outs, cpu_outputs, strict=True):
        assert _diff(out, expected) <= 1


def test_ort_cuda_float_model_binds_float_output(tiny_float_model: Path) -> None:
    _require("ort_cuda", tiny_float_model)
    frames = _frames()[:4]
    with Stylizer(tiny_float_model, backend="ort_cpu") as cpu, \
            Stylizer(tiny_float_model, backend="ort_cuda") as gpu:
        for frame in frames:
            assert _diff(gpu(frame), cpu(frame)) <= 1


def test_pycuda_process_exits_cleanly(tiny_model: Path) -> None:
    """pycuda aborts at exit when its context stack is not empty: every push is popped."""
    import subprocess
    import sys

    _require("ort_cuda", tiny_model)
    if "pycuda" not in available_bindings():
        pytest.skip("pycuda is not installed")
    code = ("import sys, threading, numpy as np\nfrom restyle import Stylizer\n"
            "st = Stylizer(sys.argv[1], backend='ort_cuda', cuda='pycuda')\n"
            "t = threading.Thread(target=lambda: st(np.zeros((64, 64, 3), np.uint8)))\n"
            "t.start(); t.join(); st(np.zeros((64, 64, 3), np.uint8)); st.close()\n")
    done = subprocess.run([sys.executable, "-c", code, str(tiny_model)], capture_output=True,
                          text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "context stack" not in done.stderr


def test_gpu_check_passes_on_a_gpu(tmp_path: Path) -> None:
    """`restyle doctor --gpu`: nothing fails where a GPU is present (skips name their reason)."""
    import json

    from restyle.bench.gpu_check import run_gpu_check

    if not available_bindings():
        pytest.skip("no CUDA binding installed")
    report = run_gpu_check(tmp_path / "gpu.json")
    failed = [p for p in report["parts"] if p["status"] == "failed"]
    assert not failed, failed
    assert json.loads((tmp_path / "gpu.json").read_text())["ok"]
