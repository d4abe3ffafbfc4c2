"""What this machine offers restyle: library versions, providers, GPUs, and why a piece is missing.

Used by ``restyle info`` and recorded with every benchmark result.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import platform
from dataclasses import dataclass, field

from restyle._version import __version__
from restyle.paths import cache_dir, engine_cache_dir

__all__ = ["Component", "cpu_model", "gpu_names", "physical_cores", "probe"]


@dataclass(frozen=True)
class Component:
    """One piece of the stack: its version when present, else why it is missing."""

    name: str
    version: str | None
    detail: str = ""
    missing_reason: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def available(self) -> bool:
        return self.version is not None


def _dist_version(*dists: str) -> str | None:
    for dist in dists:
        try:
            return importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            continue
    return None


def _import_error(module: str) -> str:
    try:
        importlib.import_module(module)
    except Exception as exc:  # any failure to import is the reason we report
        return f"{type(exc).__name__}: {exc}"
    return ""


def _onnxruntime() -> Component:
    reason = _import_error("onnxruntime")
    if reason:
        return Component("onnxruntime", None, missing_reason=f"{reason} (pip install 'restyle[cpu]'"
                         " or 'restyle[gpu]')")
    import onnxruntime as ort

    providers = ", ".join(ort.get_available_providers())
    return Component("onnxruntime", ort.__version__, detail=f"providers: {providers}")


def _openvino() -> Component:
    reason = _import_error("openvino")
    if reason:
        return Component("openvino", None, missing_reason=f"{reason} (pip install "
                         "'restyle[openvino]')")
    import openvino as ov

    devices = ", ".join(ov.Core().available_devices)
    return Component("openvino", ov.get_version(), detail=f"devices: {devices}")


def _torch() -> Component:
    version = _dist_version("torch")
    if version is None:
        return Component("torch", None, missing_reason="not installed (pip install "
                         "'restyle[train]'); only training and export need it")
    return Component("torch", version)


def _tensorrt() -> Component:
    from restyle.trt.target import tensorrt_problem

    problem = tensorrt_problem()
    if problem is not None:
        fix = "" if "NVIDIA" in problem else " (install TensorRT from NVIDIA, see README 'GPU')"
        return Component("tensorrt", None, missing_reason=problem + fix)
    import tensorrt as trt

    return Component("tensorrt", str(trt.__version__))


def _cuda_binding() -> Component:
    reason = _import_error("cuda.bindings.runtime")
    if not reason:
        from restyle.cuda.devices import list_gpus

        gpus, why = list_gpus()
        version = _dist_version("cuda-bindings", "cuda-python") or "?"
        if not gpus:
            return Component("cuda-python", version, detail=why)
        return Component("cuda-python", version, detail=f"{len(gpus)} GPU(s)")
    pyc = _dist_version("pycuda")
    if pyc is not None:
        return Component("pycuda", pyc)
    return Component("cuda binding", None, missing_reason=f"cuda-python: {reason}; pycuda: not "
                     "installed (pip install 'restyle[gpu]')")


def gpu_names() -> tuple[list[str], str]:
    """Names of the GPUs this process can use (by CUDA ordinal), and the reason when there are
    none (:func:`restyle.cuda.devices.list_gpus`)."""
    from restyle.cuda.devices import list_gpus

    gpus, reason = list_gpus()
    return [g.name for g in gpus], reason


def cpu_model() -> str:
    """The CPU's model name (from /proc/cpuinfo on Linux)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def physical_cores() -> int:
    """Physical CPU cores available to this process (hyper-threads not counted where known)."""
    import os

    logical = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    logical = logical or 1
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            text = f.read()
        pairs = {
            (block.split("physical id")[1].split("\n")[0], block.split("core id")[1].split("\n")[0])
            for block in text.split("\n\n")
            if "physical id" in block and "core id" in block
        }
        if pairs:
            return max(1, min(logical, len(pairs)))
    except OSError:
        pass
    return logical


def probe() -> list[Component]:
    """Probe every component; never raises for a missing one."""
    import numpy

    gpus, gpu_reason = gpu_names()
    return [
        Component("restyle", __version__),
        Component("python", platform.python_version(), detail=platform.platform()),
        Component("cpu", cpu_model(), detail=f"{physical_cores()} physical core(s)"),
        Component("numpy", numpy.__version__),
        _onnxruntime(),
        _openvino(),
        _torch(),
        _tensorrt(),
        _cuda_binding(),
        Component("gpus", ", ".join(gpus) if gpus else None, missing_reason=gpu_reason),
        Component("cache", str(cache_dir()), detail=f"engines: {engine_cache_dir()}"),
    ]
