"""Loading apart from running: loaders build sessions / compiled models, runners run them."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from restyle.backends.base import ModelSource
from restyle.backends.ort_cpu import OrtCpuBackend, SessionFromOnnx
from restyle.errors import BackendError, ModelFormatError
from restyle.modelinfo import read_model_info

Reference = Callable[[np.ndarray], np.ndarray]

needs_openvino = pytest.mark.skipif(
    importlib.util.find_spec("openvino") is None,
    reason="openvino not installed (pip install 'restyle[openvino]')")


def _batch(n: int = 2, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, 18, 26, 3), dtype=np.uint8)


def _close(a: np.ndarray, b: np.ndarray, tol: int) -> bool:
    return int(np.abs(a.astype(np.int32) - b.astype(np.int32)).max()) <= tol


class _Counting:
    """A loader that counts how often it loads (wrapping a real one)."""

    def __init__(self, inner: Callable[[], Any]) -> None:
        self.inner, self.calls = inner, 0

    def __call__(self) -> Any:
        self.calls += 1
        return self.inner()


def test_ort_runner_from_in_memory_onnx(tiny_model: Path, ref: Reference) -> None:
    data = tiny_model.read_bytes()  # no file is handed to ONNX Runtime
    with OrtCpuBackend(SessionFromOnnx(data, threads=1)) as runner:
        batch = _batch(3)
        assert _close(runner.run(batch), ref(batch), 1)
        assert "1 intra-op thread" in runner.info.detail


def test_ort_runner_constructor_does_not_load_and_activation_does(tiny_model: Path) -> None:
    loader = _Counting(SessionFromOnnx(tiny_model, threads=1))
    runner = OrtCpuBackend(loader)
    assert loader.calls == 0 and not runner.is_active
    with pytest.raises(BackendError, match="not active"):
        runner.run(_batch())
    runner.activate()
    first = runner.run(_batch())
    runner.deactivate()
    with pytest.raises(BackendError, match="not active"):
        runner.run(_batch())
    runner.activate()  # activated again: a loader loads again
    assert loader.calls == 2
    np.testing.assert_array_equal(runner.run(_batch()), first)
    runner.close()
    with pytest.raises(BackendError, match="closed"):
        runner.activate()


def test_one_session_many_runners(tiny_model: Path) -> None:
    loader = _Counting(SessionFromOnnx(tiny_model, threads=1))
    session = loader()
    source = ModelSource(tiny_model, "onnx", read_model_info(tiny_model))
    runners = [OrtCpuBackend(session, model=source) for _ in range(3)]
    for r in runners:
        r.activate()
    outs = [r.run(_batch(seed=4)) for r in runners]
    runners[0].close()  # closing one runner leaves the shared session to the others
    np.testing.assert_array_equal(runners[1].run(_batch(seed=4)), outs[0])
    for r in runners[1:]:
        r.close()
    assert loader.calls == 1
    assert all(np.array_equal(o, outs[0]) for o in outs)


def test_a_bad_model_fails_in_the_loader_not_the_runner(tmp_path: Path) -> None:
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model")
    runner = OrtCpuBackend(SessionFromOnnx(bad))  # cheap: nothing read yet
    with pytest.raises(ModelFormatError, match=r"bad\.onnx"):
        runner.activate()
    with pytest.raises(ModelFormatError, match="in-memory"):
        SessionFromOnnx(b"not a model")()


@needs_openvino
def test_openvino_compile_once_run_many(tiny_model: Path, ref: Reference) -> None:
    from restyle.backends.openvino import CompiledFromOnnx, OpenVinoBackend, compile_model

    loader = _Counting(CompiledFromOnnx(tiny_model.read_bytes(), threads=1, throughput=True))
    compiled = loader()
    batch = _batch(4, seed=2)
    with OpenVinoBackend(compiled) as a, OpenVinoBackend(compiled) as b:
        assert "THROUGHPUT" in a.info.detail
        # bf16 on AMX CPUs: allow a few levels.
        assert _close(a.run(batch), ref(batch), 8) and _close(b.run(batch), ref(batch), 8)
    assert loader.calls == 1
    lazy = OpenVinoBackend(CompiledFromOnnx(tiny_model, threads=1))
    assert not lazy.is_active
    with lazy:
        assert "LATENCY" in lazy.info.detail
        assert _close(lazy.run(batch), ref(batch), 8)
    with pytest.raises(ModelFormatError, match=r"(?s)OpenVINO cannot read .*restyle export"):
        compile_model(b"not a model")
    # a model it reads but cannot compile as asked: the error names the CPU and the way out
    # (a reduced precision it lacks kernels for is no reason to re-export)
    with pytest.raises(ModelFormatError,
                       match=r"(?s)cannot compile .* for this CPU .*--backend") as refused:
        compile_model(tiny_model, options={"INFERENCE_PRECISION_HINT": "no-such-precision"})
    assert "re-export" not in str(refused.value) and "fp32" in str(refused.value)
    with pytest.raises(ModelFormatError, match=r"(?s)cannot compile .*re-export"):
        compile_model(tiny_model, options={"NO_SUCH_PROPERTY": "1"})


@needs_openvino
def test_openvino_compile_options_reach_the_plugin(tiny_model: Path) -> None:
    from restyle.backends.openvino import compile_model

    plain = compile_model(tiny_model, threads=1)
    assert "LATENCY" in str(plain.get_property("PERFORMANCE_HINT"))
    compiled = compile_model(tiny_model, threads=1, options={"PERFORMANCE_HINT": "THROUGHPUT"})
    assert "THROUGHPUT" in str(compiled.get_property("PERFORMANCE_HINT"))  # options win
    assert int(compiled.get_property("INFERENCE_NUM_THREADS")) == 1
