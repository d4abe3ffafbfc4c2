"""Each number format against fp32, per model and resolution, in one interleaved run.

``make bench`` (``RESTYLE_BENCH=full``): ``johnson`` (trained here for 200 steps on the drawn
``sunset``, two minutes: int8's PSNR on random weights says nothing of a style -- 24 dB on a random
``johnson``, 39 on a trained one -- while its speed does not depend on them), ``compact``
(the bundled ``psychedelic``) and ``realtime`` (the bundled ``ink``) at 512² and 1080p through
OpenVINO in every precision this CPU runs (:func:`restyle.bench.precision.measure_precisions`:
frames/s, ratio to fp32 from interleaved rounds with its noise, PSNR against fp32 on held-out
photos, FLOP efficiency against the GEMM ceiling of the precision executed). int8 models are
quantised for the run with the default recipe and the gate off, so that the PSNR column shows what
the recipe gives. The table goes to ``out/precision.txt`` and ``out/precision.json``.

Smoke mode (``make test``): a narrow ``johnson`` at 64², fp32 and bf16 only, one round. Nothing here
asserts a time.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from _matrix import FULL

from restyle.bench.precision import format_precision_table, measure_precisions
from restyle.styles import resolve_model


def _trained_johnson(root: Path) -> Path:
    """A ``johnson`` generator trained briefly on the drawn ``sunset`` style, exported."""
    import warnings

    from restyle.export import to_onnx
    from restyle.training import TrainConfig, train
    from restyle.training.procedural import draw_style

    style = root / "sunset.png"
    draw_style("sunset").save(style)
    run = train(TrainConfig(arch="johnson", style=(style,), out=root / "johnson-run", size=128,
                            batch_size=4, steps=200, seed=0), progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # exporter chatter is not what is measured here
        to_onnx(run.run_dir, root / "johnson.onnx", style="bench-johnson-trained",
                check_shapes=[(1, 64, 64)])
    return root / "johnson.onnx"


@pytest.mark.benchmark(group="precision")
def bench_precision(benchmark: Any, tmp_path: Path, bench_models: dict[str, Path]) -> None:
    models = [_trained_johnson(tmp_path) if FULL else bench_models["johnson"]]
    if FULL:
        for name in ("psychedelic", "ink"):
            models.append(Path(shutil.copyfile(resolve_model(name), tmp_path / f"{name}.onnx")))
    resolutions = [(512, 512), (1080, 1920)] if FULL else [(64, 64)]
    precisions = ["all"] if FULL else ["fp32", "bf16"]
    found: dict[str, Any] = {}

    def run() -> None:
        report = measure_precisions(models, backends=["openvino"], precisions=precisions,
                                    resolutions=resolutions, rounds=5 if FULL else 1,
                                    scratch=tmp_path,
                                    ceilings=None if FULL else {"fp32": 1.0})
        found["report"] = report

    benchmark.pedantic(run, rounds=1, iterations=1)
    report = found["report"]
    table = format_precision_table(report)
    assert report.rows and all(r.precision in ("fp32", "bf16", "fp16", "int8")
                               for r in report.rows)
    benchmark.extra_info["precision"] = report.as_dict()
    if FULL:
        out = Path("out")
        out.mkdir(exist_ok=True)
        (out / "precision.txt").write_text(table + "\n")
        (out / "precision.json").write_text(json.dumps(report.as_dict(), indent=2))
