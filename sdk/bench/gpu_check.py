"""``restyle doctor --gpu``: one command that exercises the whole GPU path and writes one JSON.

Each part runs on its own, is timed, and ends ``ok``, ``failed`` (with the error) or ``skipped``
(with the reason: no GPU, TensorRT not installed, out of the time budget...). The parts, in order:
versions and GPUs; restyle's CUDA layer on each binding (copies, events, a graph); TensorRT
engines built FP32 and FP16 over a 1×64×64 … 4×512×512 profile and reused from the cache; every
GPU backend against ``ort_cpu`` on sizes below the profile (padding),
inside it and above it (tiling); ``stream()`` with 2 and 3 batches in flight; 4 threads on one
Stylizer; CUDA graphs run twice; pycuda in a subprocess (it must exit cleanly); ONNX Runtime CUDA
on stream handle 0; a version-compatible engine; a damaged timing cache; GPU memory; and 1080p
throughput. It stops starting parts when the budget (8 minutes) is spent.

This sits on top of the runtime, like the benchmark harness: it may use anything. It is one
file over 300 lines on purpose: a flat list of small, independent parts read top to bottom, the
same order as the report.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from restyle._version import __version__
from restyle.paths import atomic_output
from restyle.precision import psnr

__all__ = ["PART_NAMES", "Part", "run_gpu_check"]

log = logging.getLogger("restyle.doctor")

BUDGET_S = 8 * 60
PROFILE = ((1, 64, 64), (2, 256, 256), (4, 512, 512))
#: Sizes (H, W): below the profile (padding), inside it, above it (tiling).
SIZES = ((40, 48), (200, 300), (700, 900))
GPU_BACKENDS = ("tensorrt", "ort_cuda")


class Skip(Exception):
    """Raised by a part that cannot run here."""


@dataclass
class Part:
    """One part's outcome."""

    name: str
    status: str = "skipped"
    reason: str = ""
    seconds: float = 0.0
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class _State:
    """What the parts share: the model, the scratch folder, what is available."""

    model: Path
    scratch: Path
    gpus: list[str]
    gpu_reason: str
    trt_problem: str | None
    ort_cuda_problem: str | None
    bindings: list[str]
    engines: dict[str, Path] = field(default_factory=dict)
    reference: dict[tuple[int, int], NDArray[np.uint8]] = field(default_factory=dict)


def _image(h: int, w: int, seed: int = 0) -> NDArray[np.uint8]:
    """A smooth test picture with edges (not noise: style networks behave as on photos)."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    rng = np.random.default_rng(seed)
    img = np.stack([128 + 100 * np.sin(xx / (7 + 5 * rng.random()) + c)
                    * np.cos(yy / (9 + 5 * rng.random())) for c in range(3)], axis=-1)
    img[h // 3: h // 2, w // 4: w // 2] = (230, 40, 40)
    out: NDArray[np.uint8] = np.clip(img, 0, 255).astype(np.uint8)
    return out


def _need_gpu(state: _State) -> None:
    if not state.gpus:
        raise Skip(state.gpu_reason or "no CUDA GPU is visible")


def _need_trt(state: _State) -> None:
    _need_gpu(state)
    if state.trt_problem:
        raise Skip(state.trt_problem)


def _gpu_backends(state: _State) -> list[str]:
    _need_gpu(state)
    names = []
    if not state.trt_problem:
        names.append("tensorrt")
    if not state.ort_cuda_problem:
        names.append("ort_cuda")
    if not names:
        raise Skip(f"no GPU backend: tensorrt: {state.trt_problem}; ort_cuda: "
                   f"{state.ort_cuda_problem}")
    return names


def _stylizer(model: Path | str, backend: str, **kwargs: Any) -> Any:
    from restyle import Stylizer

    return Stylizer(model, backend=backend, **kwargs)


#: Tiling settings shared by the GPU backends and their ort_cpu reference, so only the backend
#: differs (above 600×600 pixels every backend tiles the same way).
TILING = {"max_pixels": 600 * 600, "tile_size": 384, "tile_overlap": 64}


def _reference(state: _State, size: tuple[int, int]) -> NDArray[np.uint8]:
    if size not in state.reference:
        with _stylizer(state.model, "ort_cpu", **TILING) as st:
            state.reference[size] = st(_image(*size))
    return state.reference[size]


# --- the parts ---------------------------------------------------------------------------------

def part_versions(state: _State) -> dict[str, Any]:
    from restyle.environment import probe

    return {c.name: c.version or f"- ({c.missing_reason})" for c in probe()}


def part_gpus(state: _State) -> dict[str, Any]:
    _need_gpu(state)
    return {"gpus": state.gpus, "bindings": state.bindings}


_CUDA_SCRIPT = """
import json, sys
import numpy as np
from restyle.cuda import get_runtime
from restyle.cuda.buffers import Slot
rt = get_runtime(sys.argv[1])
rt.activate()
slot = Slot(rt)
data = (np.arange(3 << 20) % 251).astype(np.uint8)
n = slot.copy_in(rt, data)
slot.outputs.ensure(n)
rt.copy_d2h(slot.outputs.host, slot.inputs.device, n, slot.stream)
slot.done.record(slot.stream)
slot.done.synchronize()
result = {"roundtrip": bool(np.array_equal(slot.outputs.host.view(n), data)), "graph": None}
if rt.supports_graphs:
    slot.outputs.host.view(n)[:] = 0
    graph = rt.capture(slot.stream, lambda: rt.copy_d2h(slot.outputs.host, slot.inputs.device,
                                                        n, slot.stream))
    for _ in range(2):
        graph.launch(slot.stream)
    slot.stream.synchronize()
    result["graph"] = bool(np.array_equal(slot.outputs.host.view(n), data))
    graph.close()
slot.close()
free, total = rt.memory_info()
rt.deactivate()
result["free_mib"] = free >> 20
print(json.dumps(result))
"""


def part_cuda_layer(state: _State) -> dict[str, Any]:
    """restyle.cuda on each installed binding, each in its own process (which must exit
    cleanly: pycuda aborts at exit on a non-empty context stack): pinned copies there and back,
    events, and for cuda-python a captured graph launched twice."""
    _need_gpu(state)
    if not state.bindings:
        raise Skip("no CUDA binding is installed")
    out: dict[str, Any] = {}
    for binding in state.bindings:
        done = subprocess.run([sys.executable, "-c", _CUDA_SCRIPT, binding], capture_output=True,
                              text=True, timeout=120, check=False)
        if done.returncode != 0:
            raise AssertionError(f"{binding}: exit {done.returncode}: {done.stderr[-800:]}")
        result = json.loads(done.stdout.strip().splitlines()[-1])
        if not result["roundtrip"] or result["graph"] is False:
            raise AssertionError(f"{binding}: data came back wrong: {result}")
        out[binding] = result
    return out


def _build(state: _State, fp16: bool) -> dict[str, Any]:
    _need_trt(state)
    from restyle.trt.build import build_engine
    from restyle.trt.record import read_sidecar

    start = time.monotonic()
    path = build_engine(state.model, min_shape=PROFILE[0], opt_shape=PROFILE[1],
                        max_shape=PROFILE[2], fp16=fp16)
    built = time.monotonic() - start
    start = time.monotonic()
    again = build_engine(state.model, min_shape=PROFILE[0], opt_shape=PROFILE[1],
                         max_shape=PROFILE[2], fp16=fp16)
    reused = time.monotonic() - start
    if again != path:
        raise AssertionError(f"the second build did not reuse the cached engine ({again})")
    state.engines["fp16" if fp16 else "fp32"] = path
    record = read_sidecar(path)
    return {"engine": str(path), "build_s": round(built, 2), "cache_hit_s": round(reused, 3),
            "precision": record.precision, "bytes": path.stat().st_size}


def part_build_fp32(state: _State) -> dict[str, Any]:
    return _build(state, fp16=False)


def part_build_fp16(state: _State) -> dict[str, Any]:
    return _build(state, fp16=True)


def part_compare(state: _State) -> dict[str, Any]:
    results: dict[str, Any] = {}
    models: list[tuple[str, Path, str]] = []
    for name in _gpu_backends(state):
        if name == "tensorrt":
            models += [(f"tensorrt-{k}", p, "tensorrt") for k, p in state.engines.items()]
        else:
            models.append(("ort_cuda", state.model, "ort_cuda"))
    for label, model, backend in models:
        floor = 30.0 if "fp16" in label else 40.0
        with _stylizer(model, backend, **TILING) as st:
            for size in SIZES:
                got = st(_image(*size))
                db = psnr(got, _reference(state, size))
                results[f"{label} {size[0]}x{size[1]}"] = round(db, 2)
                if db < floor:
                    raise AssertionError(f"{label} at {size}: {db:.1f} dB against ort_cpu "
                                         f"(at least {floor} wanted)")
    return {"psnr_db_vs_ort_cpu": results}


def part_stream_in_flight(state: _State) -> dict[str, Any]:
    backend = _gpu_backends(state)[0]
    frames = [_image(240, 320, seed=i) for i in range(16)]
    with _stylizer(state.model, "ort_cpu") as cpu:
        want = [cpu(f) for f in frames]
    out: dict[str, Any] = {"backend": backend}
    for in_flight in (2, 3):
        with _stylizer(state.model, backend, batch_size=2, in_flight=in_flight) as st:
            start = time.monotonic()
            got = list(st.stream(frames))
            out[f"in_flight_{in_flight}_fps"] = round(len(frames) / (time.monotonic() - start), 1)
        worst = min(psnr(g, w) for g, w in zip(got, want, strict=True))
        out[f"in_flight_{in_flight}_min_psnr_db"] = round(worst, 2)
        if worst < 30:
            raise AssertionError(f"stream() with {in_flight} in flight: {worst:.1f} dB")
    return out


def part_threads(state: _State) -> dict[str, Any]:
    backend = _gpu_backends(state)[0]
    images = [_image(128 + 16 * i, 160, seed=i) for i in range(8)]
    with _stylizer(state.model, backend) as st:
        alone = [st(im) for im in images]
        with ThreadPoolExecutor(4) as pool:
            together = list(pool.map(st, images * 2))
    same = all(np.array_equal(a, b) for a, b in zip(alone * 2, together, strict=True))
    if not same:
        raise AssertionError("4 threads on one Stylizer gave other pixels than one thread")
    return {"backend": backend, "calls": len(together)}


def part_cuda_graphs(state: _State) -> dict[str, Any]:
    _need_trt(state)
    if "cuda-python" not in state.bindings:
        raise Skip("CUDA graphs need cuda-python")
    engine = next(iter(state.engines.values()), None)
    if engine is None:
        raise Skip("no engine was built")
    image = _image(256, 256)
    with _stylizer(engine, "tensorrt") as plain:
        want = plain(image)
    with _stylizer(engine, "tensorrt", cuda_graph=True) as st:
        runs = [st(image) for _ in range(3)]  # set-up run, capture, graph launch
    if not all(np.array_equal(r, want) for r in runs):
        raise AssertionError("CUDA graph runs differ from plain runs")
    return {"runs": len(runs)}


_PYCUDA_SCRIPT = """
import sys, numpy as np
from restyle import Stylizer
with Stylizer(sys.argv[1], backend=sys.argv[2], cuda="pycuda") as st:
    out = st(np.full((96, 128, 3), 120, np.uint8))
print(out.shape, out.dtype)
"""


def part_pycuda_subprocess(state: _State) -> dict[str, Any]:
    backend = _gpu_backends(state)[0]
    if "pycuda" not in state.bindings:
        raise Skip("pycuda is not installed (pip install pycuda; needs the CUDA toolkit)")
    model = str(state.engines.get("fp32", state.model)) if backend == "tensorrt" \
        else str(state.model)
    done = subprocess.run([sys.executable, "-c", _PYCUDA_SCRIPT, model, backend],
                          capture_output=True, text=True, timeout=240, check=False)
    if done.returncode != 0 or "context stack" in done.stderr:
        raise AssertionError(f"pycuda run exited {done.returncode}: {done.stderr[-800:]}")
    return {"backend": backend, "stdout": done.stdout.strip()}


def part_ort_cuda_stream0(state: _State) -> dict[str, Any]:
    _need_gpu(state)
    if state.ort_cuda_problem:
        raise Skip(state.ort_cuda_problem)
    size = SIZES[1]
    with _stylizer(state.model, "ort_cuda", stream=0, **TILING) as st:
        got = st(_image(*size))
    db = psnr(got, _reference(state, size))
    if db < 40:
        raise AssertionError(f"ort_cuda on stream 0: {db:.1f} dB against ort_cpu")
    return {"psnr_db_vs_ort_cpu": round(db, 2)}


def part_version_compatible(state: _State) -> dict[str, Any]:
    _need_trt(state)
    from restyle.trt.build import build_engine

    path = build_engine(state.model, engine_path=state.scratch / "vc.engine",
                        min_shape=PROFILE[0], opt_shape=PROFILE[1], max_shape=PROFILE[2],
                        fp16=False, version_compatible=True)
    size = SIZES[1]
    with _stylizer(path, "tensorrt", **TILING) as st:
        db = psnr(st(_image(*size)), _reference(state, size))
    if db < 40:
        raise AssertionError(f"version-compatible engine: {db:.1f} dB against ort_cpu")
    return {"engine": str(path), "psnr_db_vs_ort_cpu": round(db, 2)}


def part_damaged_timing_cache(state: _State) -> dict[str, Any]:
    _need_trt(state)
    from restyle.trt.build import build_engine

    cache = state.scratch / "damaged.cache"
    cache.write_bytes(b"this is not a TensorRT timing cache" * 10)
    path = build_engine(state.model, engine_path=state.scratch / "tc.engine",
                        min_shape=PROFILE[0], opt_shape=PROFILE[1], max_shape=PROFILE[2],
                        fp16=False, optimization_level=1, timing_cache=cache)
    aside = cache.with_name(cache.name + ".damaged")
    return {"engine_built": path.is_file(), "damaged_file_set_aside": aside.is_file(),
            "new_cache_bytes": cache.stat().st_size if cache.is_file() else 0}


def part_memory(state: _State) -> dict[str, Any]:
    _need_gpu(state)
    from restyle.cuda import get_runtime

    if not state.bindings:
        raise Skip("no CUDA binding is installed")
    free, total = get_runtime("auto").memory_info()
    return {"free_mib": free >> 20, "total_mib": total >> 20, "used_mib": (total - free) >> 20}


def part_throughput_1080p(state: _State) -> dict[str, Any]:
    out: dict[str, Any] = {}
    backends = _gpu_backends(state)
    frames = [_image(1080, 1920, seed=i) for i in range(4)]
    for backend in backends:
        model = state.model
        if backend == "tensorrt":  # an engine made for 1080p batches of 2: no tiling
            from restyle.trt.build import build_engine

            start = time.monotonic()
            model = build_engine(state.model, min_shape=(1, 1080, 1920),
                                 opt_shape=(2, 1080, 1920), max_shape=(2, 1080, 1920), fp16=True)
            out["tensorrt_1080p_engine_build_s"] = round(time.monotonic() - start, 1)
        with _stylizer(model, backend, batch_size=2, max_pixels=1920 * 1080) as st:
            list(st.stream(frames[:2]))  # warm up
            start, count = time.monotonic(), 0
            while time.monotonic() - start < 5.0:
                count += sum(1 for _ in st.stream(frames))
            out[f"{backend}_fps"] = round(count / (time.monotonic() - start), 1)
    return out


PARTS: tuple[tuple[str, Callable[[_State], dict[str, Any]]], ...] = (
    ("versions", part_versions),
    ("gpus", part_gpus),
    ("cuda_layer", part_cuda_layer),
    ("trt_build_fp32", part_build_fp32),
    ("trt_build_fp16", part_build_fp16),
    ("backends_vs_ort_cpu", part_compare),
    ("stream_in_flight", part_stream_in_flight),
    ("threads", part_threads),
    ("cuda_graphs", part_cuda_graphs),
    ("pycuda_subprocess", part_pycuda_subprocess),
    ("ort_cuda_stream0", part_ort_cuda_stream0),
    ("version_compatible_engine", part_version_compatible),
    ("damaged_timing_cache", part_damaged_timing_cache),
    ("gpu_memory", part_memory),
    ("throughput_1080p", part_throughput_1080p),
)
PART_NAMES = tuple(name for name, _ in PARTS)


def _state(model: Path, scratch: Path) -> _State:
    from restyle.backends.base import BackendConfig, ModelSource
    from restyle.backends.registry import get_backend_spec
    from restyle.cuda import available_bindings
    from restyle.cuda.devices import list_gpus
    from restyle.trt.target import tensorrt_problem

    gpus, reason = list_gpus()
    source = ModelSource(model, "onnx")
    return _State(model=model, scratch=scratch, gpus=[g.name for g in gpus], gpu_reason=reason,
                  trt_problem=tensorrt_problem(),
                  ort_cuda_problem=get_backend_spec("ort_cuda").probe(source, BackendConfig()),
                  bindings=available_bindings())


def run_gpu_check(json_path: Path | None = None, *, model: Path | None = None,
                  budget_s: float = BUDGET_S) -> dict[str, Any]:
    """Run every part; returns the report (also written to ``json_path``, atomically).

    The engine cache goes to a scratch folder (``RESTYLE_CACHE_DIR``), so the user's cache is
    untouched and the builds are real builds.
    """
    from restyle.styles import resolve_model

    began = time.monotonic()
    parts: list[Part] = []
    old_cache = os.environ.get("RESTYLE_CACHE_DIR")
    with tempfile.TemporaryDirectory(prefix="restyle-gpu-check-") as tmp:
        scratch = Path(tmp)
        os.environ["RESTYLE_CACHE_DIR"] = str(scratch / "cache")
        try:
            state = _state(model or resolve_model("mosaic"), scratch)
            for name, fn in PARTS:
                part = Part(name)
                start = time.monotonic()
                if start - began > budget_s:
                    part.reason = f"the {budget_s:.0f} s budget was spent before this part"
                else:
                    try:
                        part.detail = fn(state)
                        part.status = "ok"
                    except Skip as exc:
                        part.reason = str(exc)
                    except Exception as exc:  # each part reports its own failure
                        part.status, part.reason = "failed", f"{type(exc).__name__}: {exc}"
                        log.warning("gpu check %s failed", name, exc_info=True)
                part.seconds = round(time.monotonic() - start, 3)
                log.debug("gpu check %s: %s %s", name, part.status, part.reason)
                parts.append(part)
        finally:
            if old_cache is None:
                os.environ.pop("RESTYLE_CACHE_DIR", None)
            else:
                os.environ["RESTYLE_CACHE_DIR"] = old_cache
    report: dict[str, Any] = {
        "restyle": __version__, "python": sys.version.split()[0],
        "seconds": round(time.monotonic() - began, 2), "budget_s": budget_s,
        "ok": not any(p.status == "failed" for p in parts),
        "counts": {s: sum(p.status == s for p in parts) for s in ("ok", "failed", "skipped")},
        "parts": [asdict(p) for p in parts],
    }
    if json_path is not None:
        with atomic_output(json_path) as out:
            out.write_text(json.dumps(report, indent=2, default=str) + "\n", encoding="utf-8")
    return report
