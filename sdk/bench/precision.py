"""``restyle bench --precision``: one model in each number format against fp32, in one run.

For each model, backend and resolution every precision gets its own ``Stylizer``; their timed
calls are interleaved round by round (fp32, bf16, int8, fp32, ...), so a busy machine slows them
alike and the ratio to fp32 stays meaningful; the spread of the per-round ratios is reported as the
noise. Quality is PSNR against the fp32 output on held-out photos scaled to the resolution (the
int8 calibration never saw them). FLOP efficiency divides by the GEMM ceiling of the precision the
runtime actually executes, measured in the same run (:mod:`restyle.bench.ceiling`).
"""

from __future__ import annotations

import logging
import shutil
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from restyle.errors import RestyleError
from restyle.precision import PRECISIONS, int8_path, psnr
from restyle.samples import fit_photo

__all__ = ["PrecisionReport", "PrecisionRow", "format_precision_table", "measure_precisions"]

log = logging.getLogger("restyle.bench")


@dataclass(frozen=True)
class PrecisionRow:
    """One model × backend × resolution × precision."""

    model: str
    backend: str
    requested: str
    precision: str
    """What the runtime executes (read back from it)."""
    height: int
    width: int
    fps: float
    p50_ms: float
    ratio_to_fp32: float | None
    ratio_spread: float | None
    """Half the interquartile range of the per-round ratios, relative: the measurement noise."""
    psnr_min_db: float | None
    psnr_mean_db: float | None
    flop_efficiency: float | None
    ceiling_gflops: float | None
    detail: str = ""


@dataclass
class PrecisionReport:
    """Rows, the ceilings per precision, the machine, and what was skipped and why."""

    date: str
    cpu: str
    isa: str
    ceilings_gflops: dict[str, float]
    photos: str
    rows: list[PrecisionRow] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def expand(precisions: Sequence[str]) -> list[str]:
    """``all`` → every precision but ``auto``; fp32 always first (the reference)."""
    wanted = [p for p in PRECISIONS if p != "auto"] if "all" in precisions else list(precisions)
    return ["fp32", *[p for p in dict.fromkeys(wanted) if p != "fp32"]]


def _int8_model(model: Path, scratch: Path, skipped: dict[str, str]) -> Path | None:
    """``model`` with an int8 model beside it: as it is when one exists, else a copy in
    ``scratch`` quantised there (with the gate off, so that the row shows the measured PSNR)."""
    if int8_path(model).exists():
        return model
    try:
        from restyle.export.int8 import quantize
    except ImportError as exc:
        skipped[f"{model.name} int8"] = f"no int8 model and no restyle.export ({exc})"
        return None
    copy = scratch / model.name
    if copy.resolve() != model.resolve():  # a model already in the scratch folder is its copy
        shutil.copyfile(model, copy)
    try:
        report = quantize(copy, min_psnr_db=0.0)
    except RestyleError as exc:
        skipped[f"{model.name} int8"] = str(exc)
        return None
    log.info("quantised %s for the benchmark: %s", model.name, report.gate.summary())
    return copy


def measure_precisions(
    models: Sequence[str | Path],
    *,
    backends: Sequence[str] = ("openvino",),
    precisions: Sequence[str] = ("all",),
    resolutions: Sequence[tuple[int, int]] = ((512, 512),),
    rounds: int = 5,
    photos: dict[str, NDArray[np.uint8]] | None = None,
    photos_label: str = "",
    scratch: Path,
    ceilings: dict[str, float] | None = None,
    on_row: Callable[[PrecisionRow], None] | None = None,
) -> PrecisionReport:
    """Measure every model × backend × resolution in each precision, interleaved.

    Args:
        models: ONNX files or bundled style names (fp32 models; int8 models beside them are used,
            else each is quantised into ``scratch`` for the run).
        backends: Backend names.
        precisions: Names of :data:`restyle.precision.PRECISIONS` or ``all``.
        resolutions: (height, width) pairs.
        rounds: Timed rounds (each runs every precision once).
        photos: Held-out photos for PSNR (default: see :func:`default_photos`).
        photos_label: Where ``photos`` came from.
        scratch: A folder for int8 models made for the run.
        ceilings: GEMM GFLOP/s per executed precision (default: measured now).
        on_row: Called with each row when it is measured.

    Returns:
        The report.
    """
    import datetime

    from restyle.bench.ceiling import precision_ceilings
    from restyle.bench.flops import flops_per_frame
    from restyle.environment import cpu_model
    from restyle.modelinfo import read_model_info
    from restyle.precision import cpu_isa
    from restyle.styles import resolve_model

    if photos is None:
        photos, photos_label = default_photos()
    wanted = expand(precisions)
    report = PrecisionReport(
        date=datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        cpu=cpu_model(), isa=cpu_isa(), photos=photos_label,
        ceilings_gflops=dict(ceilings) if ceilings is not None else precision_ceilings())
    emit = on_row or (lambda _r: None)
    for model in models:
        path = resolve_model(model)
        info = read_model_info(path)
        int8_model = _int8_model(path, scratch, report.skipped) if "int8" in wanted else None
        for backend in backends:
            for h, w in resolutions:
                flops = flops_per_frame(info, h, w)
                for row in _measure_one(path, int8_model, backend, wanted, h, w, rounds, photos,
                                        report, flops):
                    report.rows.append(row)
                    emit(row)
    return report


def _measure_one(path: Path, int8_model: Path | None, backend: str, wanted: list[str], h: int,
                 w: int, rounds: int, photos: dict[str, NDArray[np.uint8]],
                 report: PrecisionReport, flops: float | None) -> list[PrecisionRow]:
    from restyle import Stylizer

    frames = [fit_photo(p, h, w) for p in photos.values()]
    runs: dict[str, Any] = {}
    try:
        for p in wanted:
            model = int8_model if p == "int8" else path
            if model is None:
                continue
            try:
                runs[p] = Stylizer(model, backend=backend, precision=p, batch_size=1,
                                   min_psnr_db=0.0)
            except RestyleError as exc:
                report.skipped[f"{path.name} {backend} {p} {h}x{w}"] = str(exc)
        if "fp32" not in runs:
            return []
        outputs = {p: [st(f) for f in frames] for p, st in runs.items()}  # also the warm-up
        times: dict[str, list[float]] = {p: [] for p in runs}
        for _ in range(rounds):
            for p, st in runs.items():
                t0 = time.perf_counter()
                st(frames[0])
                times[p].append(time.perf_counter() - t0)
        rows = []
        for p, st in runs.items():
            executed = st.info.precision
            med = statistics.median(times[p])
            ratios = sorted(a / b for a, b in zip(times["fp32"], times[p], strict=True))
            q = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else [ratios[0]] * 3
            ceiling = report.ceilings_gflops.get(executed)
            scores = [psnr(a, b) for a, b in zip(outputs["fp32"], outputs[p], strict=True)]
            rows.append(PrecisionRow(
                model=path.name, backend=st.info.backend, requested=p, precision=executed,
                height=h, width=w, fps=1.0 / med, p50_ms=med * 1e3,
                ratio_to_fp32=statistics.median(ratios),
                ratio_spread=(q[2] - q[0]) / 2 / q[1] if q[1] else None,
                psnr_min_db=None if p == "fp32" else min(scores),
                psnr_mean_db=None if p == "fp32" else statistics.fmean(scores),
                flop_efficiency=flops / med / (ceiling * 1e9) if flops and ceiling else None,
                ceiling_gflops=ceiling, detail=st.info.detail))
        return rows
    finally:
        for st in runs.values():
            st.close()


def default_photos() -> tuple[dict[str, NDArray[np.uint8]], str]:
    """Held-out photos for the PSNR column: those of the int8 gate (scikit-image's), else the
    bundled ones (then not held out from a default int8 calibration: the label says so)."""
    from restyle.samples import load_photos, sample_photos

    try:
        from restyle.export.int8 import heldout_photos

        return heldout_photos(None, calibration=sample_photos())
    except (ImportError, RestyleError):
        return load_photos(), "restyle's bundled photos (also the default calibration set)"


def format_precision_table(report: PrecisionReport) -> str:
    """A plain-text table of the report."""
    head = ("model", "backend", "res", "precision", "frames/s", "x fp32", "noise",
            "PSNR min/mean dB", "FLOP eff")
    rows: list[Sequence[str]] = [head]
    for r in report.rows:
        rows.append((
            r.model, r.backend, f"{r.height}x{r.width}",
            r.precision + ("" if r.precision == r.requested else f" (asked {r.requested})"),
            f"{r.fps:.2f}", f"{r.ratio_to_fp32:.2f}" if r.ratio_to_fp32 else "-",
            f"±{r.ratio_spread * 100:.0f}%" if r.ratio_spread is not None else "-",
            f"{r.psnr_min_db:.1f} / {r.psnr_mean_db:.1f}" if r.psnr_min_db is not None else "-",
            f"{r.flop_efficiency * 100:.0f}%" if r.flop_efficiency else "-"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    lines = ["  ".join(c.ljust(widths[i]) for i, c in enumerate(row)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines.append("")
    shown = ", ".join(f"{k} {v:.0f}" for k, v in report.ceilings_gflops.items())
    lines.append(f"CPU {report.cpu}, ISA {report.isa}; GEMM ceilings (GFLOP/s or GOP/s): "
                 f"{shown}; PSNR on {report.photos}; {report.date}")
    for what, why in report.skipped.items():
        lines.append(f"skipped {what}: {why}")
    return "\n".join(lines)
