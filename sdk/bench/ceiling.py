"""The machine's physical limit for dense maths: a float32 matrix-multiply rate measured now."""

from __future__ import annotations

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


def openvino_gemm_ceiling(precision: str, *, n: int = 1024, repeat: int = 5) -> float | None:
    """Best-of-``repeat`` GFLOP/s (GOP/s for int8) of an ``n``×``n`` matmul that OpenVINO's CPU
    plugin runs in ``precision`` (``fp32``, ``bf16`` or ``int8``): the ceiling of a model that
    runs in that precision. None without OpenVINO, or when the CPU does not run ``precision``
    (what the plugin executes is read back, never assumed).

    int8 is a MatMul of FakeQuantize'd activations and dequantised int8 weights, which OpenVINO's
    low-precision transformations turn into an int8 GEMM (VNNI / AMX where the CPU has them);
    the runtime graph is checked to hold it.
    """
    try:
        import openvino as ov
        import openvino.opset13 as ops
    except ImportError:
        return None
    rng = np.random.default_rng(0)
    a = ops.parameter([n, n], np.float32, name="a")
    if precision == "int8":  # u8 activations (FakeQuantize) × i8 weights (dequantised constant)
        weights = rng.integers(-127, 128, (n, n)).astype(np.int8)
        b = ops.multiply(ops.convert(ops.constant(weights), np.float32),
                         ops.constant(np.float32(0.03)))
        x = ops.fake_quantize(a, np.float32(0), np.float32(4), np.float32(0), np.float32(4), 256)
        out = ops.matmul(x, b, False, True)
    else:
        out = ops.matmul(a, ops.constant(rng.standard_normal((n, n), dtype=np.float32)), False,
                         False)
    model = ov.Model([out], [a], "gemm")
    hint = {"fp32": "f32", "bf16": "bf16", "int8": "f32"}.get(precision)
    if hint is None:
        return None
    try:
        compiled = ov.Core().compile_model(model, "CPU", {"PERFORMANCE_HINT": "LATENCY",
                                                          "INFERENCE_PRECISION_HINT": hint})
    except RuntimeError:
        return None
    from restyle.precision import cpu_has_bf16, openvino_executed

    if precision == "bf16" and (not cpu_has_bf16()
                                or openvino_executed(compiled, "fp32")[0] != "bf16"):
        return None  # not offered (or capped by ONEDNN_MAX_CPU_ISA), whatever the hint says
    if precision == "int8" and not any(
            "8" in str(op.get_rt_info()["runtimePrecision"].astype(str))
            for op in compiled.get_runtime_model().get_ordered_ops()
            if str(op.get_rt_info()["layerType"].astype(str)) == "FullyConnected"):
        return None  # the runtime did not form an int8 GEMM
    request = compiled.create_infer_request()
    x_in = rng.uniform(0, 4, (n, n)).astype(np.float32)
    timing = measure(lambda: request.infer({0: x_in}), warmup=1, repeat=repeat)
    return 2.0 * n**3 / min(timing.samples) / 1e9


def precision_ceilings() -> dict[str, float]:
    """GEMM ceilings per precision this CPU runs: ``fp32`` through numpy's BLAS (the figure of
    the fp32 rows, as before) and OpenVINO's fp32 / bf16 / int8 GEMM where available."""
    out = {"fp32": matmul_ceiling_gflops()}
    for precision in ("fp32", "bf16", "int8"):
        value = openvino_gemm_ceiling(precision)
        if value is not None:
            out[precision if precision != "fp32" else "fp32 openvino"] = value
    return out
