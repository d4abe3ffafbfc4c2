"""``batch_size`` means the same on every backend: the most frames one backend call receives."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from restyle import Stylizer
from restyle.backends.base import Batch

CPU_BACKENDS = [
    "ort_cpu",
    pytest.param("openvino", marks=pytest.mark.skipif(
        importlib.util.find_spec("openvino") is None,
        reason="openvino not installed (pip install 'restyle[openvino]')")),
]


@pytest.mark.parametrize("backend", CPU_BACKENDS)
@pytest.mark.parametrize("batch_size", [1, 3])
def test_batch_size_bounds_every_backend_call(tiny_model: Path, backend: str,
                                              batch_size: int) -> None:
    rng = np.random.default_rng(5)
    frames = [rng.integers(0, 256, (20, 28, 3), dtype=np.uint8) for _ in range(7)]
    with Stylizer(tiny_model, backend=backend, batch_size=batch_size) as st, \
            Stylizer(tiny_model, backend="ort_cpu", batch_size=1) as one:
        sizes: list[int] = []
        inner = st._backend._inner._run_impl  # type: ignore[attr-defined]

        def counted(batch: Batch) -> Batch:
            sizes.append(len(batch))
            out: Batch = inner(batch)
            return out

        st._backend._inner._run_impl = counted  # type: ignore[attr-defined]
        outs = st.stylize_batch(frames) + list(st.stream(iter(frames)))
        assert st.info.batch_size == batch_size
        assert max(sizes) == batch_size and sum(sizes) == 2 * len(frames)
        for out, frame in zip(outs, frames + frames, strict=True):
            # OpenVINO may run bf16 on AMX CPUs: allow a few levels there.
            diff = np.abs(out.astype(int) - one(frame).astype(int)).max()
            assert diff <= (0 if backend == "ort_cpu" else 8)
