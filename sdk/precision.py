"""Number formats: what a ``Stylizer`` is asked for, what the runtime executes, the quality gate.

``precision`` is one of :data:`PRECISIONS`. ``fp32``, ``bf16`` and ``fp16`` are settings of the
runtime (OpenVINO's ``INFERENCE_PRECISION_HINT``, TensorRT's FP16 kernels); ``int8`` is a model of
its own, a QDQ ONNX file written by ``restyle quantize`` beside the float one
(``mosaic.onnx`` → ``mosaic.int8.onnx``) that records its calibration and its measured quality.
``auto`` takes the fastest format this machine and backend offer whose quality gate passes for the
model: int8 where a passing int8 file exists and OpenVINO runs the CPU without bf16 (on AMX CPUs the
free bf16 default is as fast as the int8 recipe, see ``docs``), bf16 where the CPU has it and the
model keeps :data:`MIN_PSNR_DB` against fp32, else the model's own format.

The quality gate is PSNR against fp32 on photos the int8 calibration never saw, the minimum over
the photos; :data:`MIN_PSNR_DB` (35 dB) is about what ±1 grey level of input noise costs a style
network's output. What a backend reports is read back from the runtime, never copied from the
request.

Example:
    >>> check_precision("INT8")
    'int8'
    >>> int8_path(Path("styles/mosaic.onnx")).name
    'mosaic.int8.onnx'

Why over 300 lines: what each precision means on each backend, what the CPU offers, what the
runtime reports back and the quality gate are one table of facts; they change together.
"""

from __future__ import annotations

import logging
import math
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from restyle.errors import BackendUnavailableError, ConfigError

__all__ = [
    "CALIBRATION_CROP",
    "INT8_SUFFIX",
    "MIN_PSNR_DB",
    "PRECISIONS",
    "GateReport",
    "check_delivered",
    "check_precision",
    "cpu_isa",
    "graph_precision",
    "int8_path",
    "int8_record",
    "openvino_compile_hint",
    "openvino_executed",
    "psnr",
]

log = logging.getLogger("restyle.precision")

#: What ``Stylizer(precision=...)`` and ``--precision`` take.
PRECISIONS = ("auto", "fp32", "bf16", "fp16", "int8")
#: The default quality gate: least PSNR (dB) against fp32 over held-out photos.
MIN_PSNR_DB = 35.0
#: Side (px) of the int8 calibration crops: a 512² crop puts large-frame statistics into the
#: activation ranges (the 1/8-resolution InstanceNorm of ``realtime`` sees 64², not 32²):
#: ``realtime`` at 1080p 30.0 dB with 256² crops, 35.1 with 512² (docs/precision.md).
CALIBRATION_CROP = 512
#: An int8 model's file name ends so, beside its float model.
INT8_SUFFIX = ".int8.onnx"

_OV_HINTS = {"fp32": "f32", "bf16": "bf16", "fp16": "f16"}
_FROM_OV = {"f32": "fp32", "float32": "fp32", "bf16": "bf16", "bfloat16": "bf16", "f16": "fp16",
            "float16": "fp16"}


def check_precision(value: str, *, allow_all: bool = False) -> str:
    """``value`` lower-cased if it is one of :data:`PRECISIONS` (or ``all`` with ``allow_all``).

    Raises:
        ConfigError: Anything else; the message lists the choices.
    """
    v = str(value).strip().lower()
    choices = (*PRECISIONS, "all") if allow_all else PRECISIONS
    if v not in choices:
        raise ConfigError(f"precision {value!r} is not known: choose one of {', '.join(choices)}")
    return v


def psnr(a: NDArray[np.generic], b: NDArray[np.generic], *, peak: float = 255.0) -> float:
    """Peak signal-to-noise ratio of two same-shape arrays in dB (``inf`` when equal).

    Example:
        >>> round(psnr(np.zeros(4), np.full(4, 2.55)), 1)
        40.0
    """
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return math.inf if mse == 0 else 10.0 * math.log10(peak * peak / mse)


@dataclass(frozen=True)
class GateReport:
    """PSNR of a reduced-precision run against fp32, per photo, and the threshold it was held to.

    Attributes:
        psnr_db: Photo name → PSNR in dB.
        threshold_db: The least PSNR every photo must reach.
        runtime: What ran both models (e.g. ``OpenVINO 2026.4.1``).
        photos: Where the photos came from (never the calibration photos).
    """

    psnr_db: dict[str, float]
    threshold_db: float = MIN_PSNR_DB
    runtime: str = ""
    photos: str = ""

    @property
    def min_psnr_db(self) -> float:
        """The worst photo's PSNR (the number the gate uses)."""
        return min(self.psnr_db.values(), default=math.inf)

    @property
    def mean_psnr_db(self) -> float:
        """The mean over photos."""
        vals = list(self.psnr_db.values())
        return sum(vals) / len(vals) if vals else math.inf

    @property
    def passed(self) -> bool:
        return self.min_psnr_db >= self.threshold_db

    def summary(self) -> str:
        """``min 41.2 dB, mean 43.0 dB over 4 held-out photos (gate 35 dB)``."""
        return (f"min {self.min_psnr_db:.1f} dB, mean {self.mean_psnr_db:.1f} dB over "
                f"{len(self.psnr_db)} held-out photo(s) (gate {self.threshold_db:g} dB)")

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["min_psnr_db"], d["mean_psnr_db"] = self.min_psnr_db, self.mean_psnr_db
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> GateReport:
        return cls(psnr_db={str(k): float(v) for k, v in dict(d.get("psnr_db", {})).items()},
                   threshold_db=float(d.get("threshold_db", MIN_PSNR_DB)),
                   runtime=str(d.get("runtime", "")), photos=str(d.get("photos", "")))


# --- int8 files ----------------------------------------------------------------------------------

def int8_path(path: str | os.PathLike[str]) -> Path:
    """Where the int8 model of float model ``path`` lives (``x.onnx`` → ``x.int8.onnx``)."""
    p = Path(path)
    if p.name.endswith(INT8_SUFFIX):
        return p
    return p.with_name(p.name[:-len(p.suffix)] + INT8_SUFFIX if p.suffix else p.name + INT8_SUFFIX)


@dataclass(frozen=True)
class Int8Record:
    """What an int8 model says about itself (its ``restyle.quantization`` metadata)."""

    gate: GateReport
    source_sha256: str = ""
    recipe: dict[str, Any] = field(default_factory=dict)
    calibration: dict[str, Any] = field(default_factory=dict)


def int8_record(quantization: dict[str, Any]) -> Int8Record | None:
    """The record of an int8 model's ``quantization`` metadata, or None when there is none."""
    if not quantization or "gate" not in quantization:
        return None
    return Int8Record(gate=GateReport.from_dict(dict(quantization["gate"])),
                      source_sha256=str(quantization.get("source_sha256", "")),
                      recipe=dict(quantization.get("recipe", {})),
                      calibration=dict(quantization.get("calibration", {})))


# --- what a graph computes in, read from the file ------------------------------------------------

_QDQ = (b"QuantizeLinear", b"DequantizeLinear", b"QLinearConv", b"QLinearMatMul")
_FLOAT16, _BFLOAT16 = 10, 16


def graph_precision(path: str | os.PathLike[str]) -> str:
    """``int8`` (QDQ / QLinear nodes), ``fp16``, ``bf16`` (weights stored so) or ``fp32``: what an
    ONNX graph computes in, read from its nodes and weight types without the onnx package.

    Raises:
        ModelFormatError: The file is not an ONNX model.
    """
    from restyle.errors import ModelFormatError
    from restyle.modelinfo import _fields  # the protobuf reader of the model format

    p = Path(path)
    try:
        model = _fields(p.read_bytes())
        graph = next(v for n, w, v in model if n == 7 and isinstance(v, bytes))
        ops: set[bytes] = set()
        dtypes: set[int] = set()
        for number, _, value in _fields(graph):
            if number == 1 and isinstance(value, bytes):  # NodeProto: op_type is field 4
                ops.update(v for n, _, v in _fields(value) if n == 4 and isinstance(v, bytes))
            elif number == 5 and isinstance(value, bytes):  # TensorProto: data_type is field 2
                dtypes.update(v for n, _, v in _fields(value) if n == 2 and isinstance(v, int))
    except (OSError, ValueError, StopIteration) as exc:
        raise ModelFormatError(f"cannot read the graph of {p}: {exc}") from exc
    if ops & set(_QDQ):
        return "int8"
    if _FLOAT16 in dtypes:
        return "fp16"
    if _BFLOAT16 in dtypes:
        return "bf16"
    return "fp32"


# --- the CPU -------------------------------------------------------------------------------------

_ISA_ORDER = ("AMX", "AVX512_BF16", "AVX512_VNNI", "AVX512", "AVX_VNNI", "AVX2", "SSE4")


def cpu_flags() -> set[str]:
    """The CPU's feature flags from ``/proc/cpuinfo`` (empty where it is not readable)."""
    try:
        text = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return set()
    m = re.search(r"^flags\s*:\s*(.*)$", text, re.MULTILINE)
    return set(m.group(1).split()) if m else set()


def cpu_isa(flags: set[str] | None = None) -> str:
    """The best vector ISA for inference on this CPU: ``AMX``, ``AVX512_BF16``, ``AVX512_VNNI``,
    ``AVX512``, ``AVX_VNNI``, ``AVX2`` or ``SSE4``, capped by ``ONEDNN_MAX_CPU_ISA`` when set
    (oneDNN, which OpenVINO and PyTorch use, then stays at or below that ISA).

    Example:
        >>> cpu_isa({"avx2", "fma", "avx512f", "avx512_vnni"})
        'AVX512_VNNI'
    """
    f = cpu_flags() if flags is None else flags
    if {"amx_bf16", "amx_int8"} & f:
        isa = "AMX"
    elif "avx512_bf16" in f:
        isa = "AVX512_BF16"
    elif "avx512_vnni" in f:
        isa = "AVX512_VNNI"
    elif "avx512f" in f:
        isa = "AVX512"
    elif "avx_vnni" in f:
        isa = "AVX_VNNI"
    elif "avx2" in f:
        isa = "AVX2"
    else:
        isa = "SSE4"
    cap = os.environ.get("ONEDNN_MAX_CPU_ISA", "").upper()
    if cap and cap != "ALL":
        capped = ("AMX" if cap.startswith("AVX512_CORE_AMX") else
                  "AVX512_BF16" if cap.startswith("AVX512_CORE_BF16") else
                  "AVX512_VNNI" if cap.startswith("AVX512_CORE_VNNI") else
                  "AVX512" if cap.startswith("AVX512") else
                  "AVX_VNNI" if cap.startswith("AVX2_VNNI") else
                  "AVX2" if cap.startswith("AVX2") else "SSE4")
        if _ISA_ORDER.index(capped) > _ISA_ORDER.index(isa):
            isa = capped
    return isa


def cpu_has_bf16() -> bool:
    """Whether OpenVINO may run bf16 here (AMX or AVX512_BF16, and not capped below them)."""
    return cpu_isa() in ("AMX", "AVX512_BF16")


# --- OpenVINO: the compile-config step and reading back what it runs -----------------------------

def openvino_compile_hint(requested: str, model_precision: str) -> dict[str, str]:
    """The ``INFERENCE_PRECISION_HINT`` entry of an OpenVINO CPU compile config.

    ``auto`` keeps the runtime's default (bf16) where the CPU has bf16 and sets f32 elsewhere
    (with oneDNN capped to AVX2 and no hint, OpenVINO fails to build ConvTranspose); an int8
    model runs its float remainder in f32.
    """
    if model_precision == "int8" or requested == "int8":
        return {"INFERENCE_PRECISION_HINT": "f32"}
    if requested == "auto":
        return {} if cpu_has_bf16() else {"INFERENCE_PRECISION_HINT": "f32"}
    return {"INFERENCE_PRECISION_HINT": _OV_HINTS[requested]}


def openvino_executed(compiled: Any, model_precision: str) -> tuple[str, str]:
    """(precision, detail) a compiled OpenVINO model runs in, read back from the runtime."""
    raw = str(compiled.get_property("INFERENCE_PRECISION_HINT")).strip().lower()
    raw = raw.split("'")[1] if "'" in raw else raw  # "<Type: 'float32'>" in some versions
    floats = _FROM_OV.get(raw, raw)
    if model_precision == "int8":
        return "int8", f"int8 with {floats} for the unquantised layers"
    return floats, ""


# --- choosing and checking -----------------------------------------------------------------------

_WHERE = {
    "bf16": "bf16 runs on OpenVINO with a CPU that has AMX or AVX512_BF16 (this one: {isa})",
    "fp16": "fp16 runs on the GPU backends (TensorRT, or ONNX Runtime CUDA with a model from "
            "`restyle export --fp16`), and on OpenVINO with a CPU that has AVX512_FP16 (where it "
            "measured slower than fp32)",
    "int8": "int8 runs a model from `restyle quantize` (OpenVINO is the fast CPU runtime for it)",
    "fp32": "this model file is stored in another precision: pass its fp32 export",
}


def check_delivered(requested: str, delivered: str, backend: str) -> None:
    """Raise when a backend runs something other than an explicitly requested precision.

    Raises:
        BackendUnavailableError: ``requested`` is not ``auto`` and differs from ``delivered``.
    """
    if requested in ("auto", delivered):
        return
    where = _WHERE[requested].format(isa=cpu_isa())
    raise BackendUnavailableError(f"precision {requested!r} is not available here: the {backend} "
                                  f"backend runs this model in {delivered}; {where}")
