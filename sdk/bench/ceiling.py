"""The machine's physical limit for dense maths: a float32 matrix-multiply rate measured now."""

from __future__ import annotations

import importlib.util

import numpy as np

from restyle.bench.timing import measure

__all__ = ["matmul_ceiling_gflops", "openvino_gemm_ceiling", "precision_ceilings"]


def matmul_ceiling_gflops(*, n: int = 2048, repeat: int = 5) -> float:
    """Best-of-``repeat`` GFLOP/s of an ``n``×``n`` float32 matmul through numpy's BLAS.

    FLOP efficiency of a model is ``model FLOPs × frames/s ÷ this``: the fraction of the machine's
    dense-maths limit the model reaches. The best run, not the median, is the ceiling.

    Example:
        >>> matmul_ceiling_gflops(n=128, repeat=1) > 0
        True
    """
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    out = np.empty((n, n), dtype=np.float32)
    timing = measure(lambda: np.matmul(a, b, out=out), warmup=1, repeat=repeat)
    return 2.0 * n**3 / min(timing.samples) / 1e9


#: OpenVINO's inference-precision hint per measured precision (int8 comes from the graph).
_HINTS = {"fp32": "f32", "bf16": "bf16", "int8": "f32"}


def openvino_gemm_ceiling(precision: str, *, n: int = 1024, repeat: int = 5) -> float | None:
    """Best-of-``repeat`` GFLOP/s (GOP/s for int8) of the dense maths OpenVINO's CPU plugin runs
    in ``precision`` (``fp32``, ``bf16`` or ``int8``): the ceiling of a model that runs in that
    precision. The faster of two forms, because the plugin's kernels differ per form and ISA: an
    ``n``×``n`` matrix product (FullyConnected) and a 3×3 convolution of ``n // 4`` channels on a
    64² map (the kernel the generators use; under ``ONEDNN_MAX_CPU_ISA=AVX2`` its int8 rate is
    2.3× the matrix product's, which alone made a "percent of the limit" read 221%). None without
    OpenVINO, or when the CPU does not run ``precision`` (what the plugin executes is read back,
    never assumed).

    int8 is a product of FakeQuantize'd activations and dequantised int8 weights, which OpenVINO's
    low-precision transformations turn into an int8 kernel (VNNI / AMX where the CPU has them);
    the runtime graph is checked to hold it.
    """
    if precision not in _HINTS or importlib.util.find_spec("openvino") is None:
        return None
    rates = [r for r in (_ov_rate(precision, form, n, repeat) for form in ("matmul", "conv"))
             if r is not None]
    return max(rates) if rates else None


def _ov_rate(precision: str, form: str, n: int, repeat: int) -> float | None:
    """One form's rate (see :func:`openvino_gemm_ceiling`), or None where it does not run."""
    import openvino as ov
    import openvino.opset13 as ops

    rng = np.random.default_rng(0)
    wshape: tuple[int, ...]
    if form == "matmul":
        shape, wshape, layer = [n, n], (n, n), "FullyConnected"
        ops_per_run = 2.0 * n**3
    else:
        c = max(8, n // 4)
        shape, wshape, layer = [1, c, 64, 64], (c, c, 3, 3), "Convolution"
        ops_per_run = 2.0 * c * c * 9 * 64 * 64
    a = ops.parameter(shape, np.float32, name="a")
    if precision == "int8":  # u8 activations (FakeQuantize) × i8 weights (dequantised constant)
        weights = rng.integers(-127, 128, wshape).astype(np.int8)
        w = ops.multiply(ops.convert(ops.constant(weights), np.float32),
                         ops.constant(np.float32(0.03)))
        x = ops.fake_quantize(a, np.float32(0), np.float32(4), np.float32(0), np.float32(4), 256)
    else:
        w, x = ops.constant(rng.standard_normal(wshape, dtype=np.float32)), a
    out = (ops.matmul(x, w, False, True) if form == "matmul"
           else ops.convolution(x, w, [1, 1], [1, 1], [1, 1], [1, 1]))
    try:
        compiled = ov.Core().compile_model(ov.Model([out], [a], "gemm"), "CPU", {
            "PERFORMANCE_HINT": "LATENCY", "INFERENCE_PRECISION_HINT": _HINTS[precision]})
    except RuntimeError:
        return None
    from restyle.precision import cpu_has_bf16, openvino_executed

    if precision == "bf16" and (not cpu_has_bf16()
                                or openvino_executed(compiled, "fp32")[0] != "bf16"):
        return None  # not offered (or capped by ONEDNN_MAX_CPU_ISA), whatever the hint says
    if precision == "int8" and not any(
            "8" in str(op.get_rt_info()["runtimePrecision"].astype(str))
            for op in compiled.get_runtime_model().get_ordered_ops()
            if str(op.get_rt_info()["layerType"].astype(str)) == layer):
        return None  # the runtime did not form an int8 kernel
    request = compiled.create_infer_request()
    x_in = rng.uniform(0, 4, shape).astype(np.float32)
    timing = measure(lambda: request.infer({0: x_in}), warmup=1, repeat=repeat)
    return ops_per_run / min(timing.samples) / 1e9


def precision_ceilings() -> dict[str, float]:
    """Dense-maths ceilings per precision this CPU runs: ``fp32`` through numpy's BLAS (the
    figure of the fp32 rows, as before) and OpenVINO's fp32 / bf16 / int8 rates where available
    (:func:`openvino_gemm_ceiling`)."""
    out = {"fp32": matmul_ceiling_gflops()}
    for precision in ("fp32", "bf16", "int8"):
        value = openvino_gemm_ceiling(precision)
        if value is not None:
            out[precision if precision != "fp32" else "fp32 openvino"] = value
    return out
