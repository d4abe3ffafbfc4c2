"""What painting a shape style costs: the bundled ``mosaic`` (trained with ``--shapes``) through
the ``Stylizer`` — network and painting — against its network alone in plain ONNX Runtime, and
the painting alone, measured in one run. ``extra_info`` records frames/s and, for the Stylizer,
the ratio to the network alone."""

from __future__ import annotations

from typing import Any

import pytest
from _matrix import matrix

from restyle import Stylizer
from restyle.bench.baselines import plain_onnxruntime, random_frames
from restyle.modelinfo import read_model_info
from restyle.shapes import ShapePainter, read_shapes
from restyle.styles import resolve_model

RESOLUTIONS = matrix([(720, 1280), (1080, 1920)], [(64, 96)])
_NETWORK_FPS: dict[tuple[int, int], float] = {}


def _fps(benchmark: Any) -> float | None:
    stats = getattr(benchmark, "stats", None)
    return None if stats is None else 1.0 / stats.stats.median


@pytest.mark.parametrize("res", RESOLUTIONS, ids=lambda r: f"{r[0]}x{r[1]}")
@pytest.mark.parametrize("what", ["network alone", "Stylizer: network + painting",
                                  "painting alone"])
def bench_shape_painting(benchmark: Any, what: str, res: tuple[int, int]) -> None:
    path = resolve_model("mosaic")
    shapes = read_shapes(path)
    assert shapes is not None, "the bundled mosaic is a --shapes style"
    frame = random_frames(1, *res)
    benchmark.group = f"mosaic {res[0]}x{res[1]}"
    benchmark.name = what
    if what == "network alone":
        benchmark(plain_onnxruntime(path, read_model_info(path), batch=1, height=res[0],
                                    width=res[1]).run)
    elif what == "painting alone":
        painter = ShapePainter(shapes)
        benchmark(painter.paint, frame[0])
    else:
        with Stylizer(path, backend="ort_cpu") as st:
            assert st.info.shapes == shapes.count
            benchmark(st, frame[0])
    fps = _fps(benchmark)
    if fps is None:  # smoke mode: --benchmark-disable keeps no statistics
        return
    benchmark.extra_info["frames_per_s"] = fps
    if what == "network alone":
        _NETWORK_FPS[res] = fps
    elif what.startswith("Stylizer") and res in _NETWORK_FPS:
        benchmark.extra_info["x_network_alone"] = fps / _NETWORK_FPS[res]
