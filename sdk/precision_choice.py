"""Which model file and which precision request a ``Stylizer`` hands its backend.

:func:`choose` turns ``Stylizer(precision=...)`` into a model file (the float model, or its int8
model from ``restyle quantize``) and the request the backend's compile step reads
(``BackendConfig.precision``). For ``auto`` it applies the quality gates: an int8 model is used
only if its recorded PSNR on held-out photos passes; bf16 only if this model keeps the gate on
this CPU, measured once with OpenVINO on the bundled photos and cached.
"""

from __future__ import annotations

import importlib.util
import json
import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from restyle.backends.base import BackendConfig, ModelIO, ModelSource
from restyle.errors import ConfigError, ModelFormatError, QualityGateError
from restyle.modelinfo import read_model_info
from restyle.paths import atomic_output, cache_dir, file_sha256
from restyle.precision import (
    MIN_PSNR_DB,
    GateReport,
    check_delivered,
    cpu_has_bf16,
    cpu_isa,
    graph_precision,
    int8_path,
    int8_record,
    psnr,
)

__all__ = ["Runner", "auto_order", "bf16_gate", "choose", "measure_gate"]

#: Runs a model on a uint8 ``N×H×W×3`` batch.
Runner = Callable[[NDArray[np.uint8]], NDArray[np.uint8]]

log = logging.getLogger("restyle.precision")


def choose(source: ModelSource, precision: str, *, backend: str,
           min_psnr_db: float = MIN_PSNR_DB) -> tuple[ModelSource, str]:
    """The model to load and the precision to request for ``Stylizer(precision=precision)``.

    Args:
        source: The model the user named.
        precision: One of :data:`restyle.precision.PRECISIONS`.
        backend: The backend name the user asked for (``auto`` included).
        min_psnr_db: The quality gate for ``auto`` and ``int8``.

    Raises:
        ConfigError: ``int8`` without an int8 model beside the float one, or a float precision
            asked of an int8 file.
        QualityGateError: ``int8`` asked of a model whose int8 file failed the gate.
    """
    if source.kind != "onnx":
        return source, precision
    stored = graph_precision(source.path)
    if stored == "int8":
        if precision not in ("auto", "int8"):
            raise ConfigError(f"{source.path} is an int8 model: for {precision}, load the float "
                              "model it was quantised from")
        return source, "int8"
    if precision == "int8":
        return _int8_source(source, min_psnr_db), "int8"
    if precision == "bf16" and not cpu_has_bf16():  # OpenVINO would echo the hint regardless
        check_delivered("bf16", "fp32", backend)
    if precision != "auto" or stored != "fp32" or not _openvino_first(source, backend):
        return source, precision
    for candidate in auto_order():
        if candidate == "int8":
            try:
                return _int8_source(source, min_psnr_db), "int8"
            except (ConfigError, ModelFormatError, QualityGateError) as exc:
                log.debug("int8 not used: %s", exc)
        else:
            try:
                gate = bf16_gate(source, min_psnr_db)
            except RuntimeError as exc:  # OpenVINO could not compile or run it: stay in fp32
                log.warning("bf16 gate for %s could not be measured: %s", source.path, exc)
                continue
            if gate.passed:
                return source, "bf16"
            log.info("bf16 fails the quality gate for %s (%s)", source.path, gate.summary())
    return source, "fp32"


def auto_order(isa: str | None = None) -> tuple[str, ...]:
    """Reduced precisions ``auto`` tries on OpenVINO, fastest first, for this CPU's ISA.

    Measured (docs/precision.md): on AMX the MIXED int8 recipe is no faster than bf16; on
    AVX512_BF16 without AMX (AMD Zen 4) int8 beats bf16; without bf16 only int8 is faster.

    Example:
        >>> auto_order("AMX"), auto_order("AVX2")
        (('bf16', 'int8'), ('int8',))
    """
    isa = cpu_isa() if isa is None else isa
    if isa == "AMX":
        return ("bf16", "int8")
    if isa == "AVX512_BF16":
        return ("int8", "bf16")
    return ("int8",)


def _openvino_first(source: ModelSource, backend: str) -> bool:
    """Whether ``backend`` is (or ``auto`` resolves to) OpenVINO for this model."""
    if backend == "openvino":
        return True
    if backend != "auto" or importlib.util.find_spec("openvino") is None:
        return False
    from restyle.backends.registry import backend_names, get_backend_spec

    for name in backend_names():
        if name == "openvino":
            return True
        spec = get_backend_spec(name)
        if spec.rank < 90 and spec.probe(source, BackendConfig()) is None:
            return False  # a faster backend (a GPU one) takes the model
    return False


def _int8_source(source: ModelSource, min_psnr_db: float) -> ModelSource:
    """The int8 model beside ``source``, checked against its source and its recorded gate."""
    path = int8_path(source.path)
    if not path.exists():
        raise ConfigError(f"no int8 model for {source.path}: run `restyle quantize "
                          f"{source.path}` (writes {path})")
    info = read_model_info(path)
    record = int8_record(info.quantization)
    if record is None:
        raise ModelFormatError(f"{path} has no quantisation record: rerun `restyle quantize "
                               f"{source.path}`")
    if record.source_sha256 and record.source_sha256 != file_sha256(source.path):
        raise ModelFormatError(f"{path} was quantised from another version of {source.path}: "
                               f"rerun `restyle quantize {source.path}`")
    if record.gate.min_psnr_db < min_psnr_db:
        raise QualityGateError(
            f"int8 refused for {source.path}: its int8 model measured {record.gate.summary()}, "
            f"below {min_psnr_db:g} dB; requantise with `restyle quantize {source.path} "
            "--calibration DIR` on photos like yours, or run fp32")
    return ModelSource(path, "onnx", info)


# --- bf16: measured once per model, runtime and CPU ---------------------------------------------

def _gate_cache() -> Path:
    return cache_dir() / "precision-gates.json"


def bf16_gate(source: ModelSource, min_psnr_db: float = MIN_PSNR_DB) -> GateReport:
    """PSNR of OpenVINO bf16 against f32 for this model on the bundled photos (cached).

    There is no calibration in bf16, so the bundled photos are unseen by both runs.
    """
    import openvino as ov

    from restyle.environment import cpu_model

    key = f"{file_sha256(source.path)}|bf16|{ov.get_version()}|{cpu_model()}"
    cache = _gate_cache()
    try:
        known = json.loads(cache.read_text())
    except (OSError, ValueError):
        known = {}
    if key in known:
        return GateReport.from_dict({**known[key], "threshold_db": min_psnr_db})
    report = measure_gate(_openvino_runner(source, "f32"), _openvino_runner(source, "bf16"),
                          threshold_db=min_psnr_db,
                          runtime=f"OpenVINO {ov.get_version().split('-')[0]} bf16")
    log.info("bf16 against f32 for %s: %s", source.path, report.summary())
    known[key] = report.as_dict()
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        with atomic_output(cache) as tmp:
            tmp.write_text(json.dumps(known, indent=1))
    except OSError as exc:  # a read-only cache only costs a re-measurement
        log.warning("cannot record the bf16 gate in %s: %s", cache, exc)
    return report


def _openvino_runner(source: ModelSource, hint: str) -> Runner:
    import openvino as ov

    compiled = ov.Core().compile_model(str(source.path), "CPU", {
        "PERFORMANCE_HINT": "LATENCY", "INFERENCE_PRECISION_HINT": hint})
    io = ModelIO(source.io)

    def run(batch: NDArray[np.uint8]) -> NDArray[np.uint8]:
        return io.from_model(np.asarray(compiled({0: io.to_model(batch)})[0]))

    return run


def measure_gate(reference: Runner, candidate: Runner, *, threshold_db: float = MIN_PSNR_DB,
                 runtime: str = "", photos: dict[str, NDArray[np.uint8]] | None = None,
                 label: str = "bundled photos") -> GateReport:
    """PSNR of ``candidate`` against ``reference`` (each ``run(uint8 N×H×W×3)``) on ``photos``
    (default: the bundled photos), one photo at a time."""
    from restyle.samples import load_photos

    images = load_photos() if photos is None else photos
    results = {name: psnr(reference(img[None]), candidate(img[None]))
               for name, img in images.items()}
    return GateReport(results, threshold_db=threshold_db, runtime=runtime, photos=label)
