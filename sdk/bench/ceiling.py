"""The machine's physical limit for dense maths: a float32 matrix-multiply rate measured now."""

from __future__ import annotations

import numpy as np

from restyle.bench.timing import measure

__all__ = ["matmul_ceiling_gflops"]


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
