"""The `restyle bench` measurement: backends × resolutions × batches against baselines, one run."""

from __future__ import annotations

import datetime
import logging
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from restyle.bench.baselines import (
    Runnable,
    plain_onnxruntime,
    plain_openvino,
    random_frames,
    torch_runnable,
    unfolded_export,
)
from restyle.bench.ceiling import matmul_ceiling_gflops
from restyle.bench.flops import flops_per_frame
from restyle.bench.memory import peak_rss_bytes, reset_peak_rss
from restyle.bench.timing import measure
from restyle.environment import probe
from restyle.errors import RestyleError
from restyle.modelinfo import ModelInfo, read_model_info
from restyle.styles import resolve_model

__all__ = ["BenchConfig", "BenchResult", "run_bench"]

log = logging.getLogger("restyle.bench")

EAGER = "torch eager fp32"


@dataclass(frozen=True)
class BenchConfig:
    """What to measure."""

    model: str
    backends: tuple[str, ...] = ("auto",)
    resolutions: tuple[tuple[int, int], ...] = ((512, 512),)
    batches: tuple[int, ...] = (1,)
    baselines: tuple[str, ...] = ("torch-eager", "onnxruntime", "openvino")
    warmup: int = 2
    repeat: int = 7
    min_time: float = 1.0


@dataclass(frozen=True)
class BenchResult:
    """One measured row."""

    name: str
    kind: str  # "restyle" or "baseline"
    height: int
    width: int
    batch: int
    fps: float
    p50_ms: float
    p99_ms: float
    spread: float
    peak_rss_mb: float
    ratio_to_eager: float | None = None
    flop_efficiency: float | None = None
    """Model FLOPs × frames/s ÷ the matmul ceiling."""
    executed_flop_efficiency: float | None = None
    """The same with the FLOPs the exported graph executes (fewer after exact rewrites)."""
    gpu_peak_mb: float | None = None
    detail: str = ""
    precision: str = "fp32"
    """What the runtime executed; the FLOP efficiency divides by this precision's ceiling."""


@dataclass
class BenchReport:
    """Everything one run measured, with the machine it ran on."""

    model: str
    date: str
    machine: dict[str, str]
    ceiling_gflops: float
    flops_per_frame: dict[str, float | None]
    ceilings_gflops: dict[str, float] = field(default_factory=dict)
    """GEMM ceiling per precision executed in this run (fp32: ``ceiling_gflops``)."""
    executed_flops_per_frame: dict[str, float | None] = field(default_factory=dict)
    results: list[BenchResult] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _stylizer_runnable(model: str, backend: str, batch: int, height: int,
                       width: int) -> tuple[Runnable, Callable[[], None], str]:
    from restyle import Stylizer

    st = Stylizer(model, backend=backend, batch_size=batch)
    frames = list(random_frames(batch, height, width, seed=1))
    info = st.info
    name = f"restyle {info.backend}"
    detail = f"{info.precision}, {info.provider}"
    return (Runnable(name, lambda: st.stylize_batch(frames), precision=info.precision), st.close,
            detail)


def _row(r: Runnable, kind: str, h: int, w: int, batch: int, cfg: BenchConfig,
         detail: str = "") -> BenchResult:
    reset_peak_rss()
    t = measure(r.run, warmup=cfg.warmup, repeat=cfg.repeat, min_time=cfg.min_time,
                synchronize=r.synchronize, timer=r.timer)
    gpu = r.gpu_peak_bytes() / 2**20 if r.gpu_peak_bytes else None
    return BenchResult(name=r.name, kind=kind, height=h, width=w, batch=batch,
                       fps=batch / t.median, p50_ms=t.p50 * 1e3, p99_ms=t.p99 * 1e3,
                       spread=t.spread, peak_rss_mb=peak_rss_bytes() / 2**20, gpu_peak_mb=gpu,
                       detail=detail, precision=r.precision)


def _baselines(path: Path, info: ModelInfo, h: int, w: int, batch: int,
               cfg: BenchConfig, scratch: Path) -> dict[str, Callable[[], Runnable]]:
    wanted: dict[str, Callable[[], Runnable]] = {}
    if "torch-eager" in cfg.baselines:
        wanted[EAGER] = lambda: torch_runnable(info, batch=batch, height=h, width=w)
    if "torch-compile" in cfg.baselines:
        wanted["torch compile fp32"] = lambda: torch_runnable(info, batch=batch, height=h,
                                                              width=w, compile_model=True)
    if "torch-cuda" in cfg.baselines:
        wanted["torch eager fp32 cuda"] = lambda: torch_runnable(
            info, batch=batch, height=h, width=w, device="cuda")
        wanted["torch eager fp16 channels-last cuda"] = lambda: torch_runnable(
            info, batch=batch, height=h, width=w, device="cuda", fp16=True, channels_last=True)
    if "onnxruntime" in cfg.baselines:
        wanted["plain onnxruntime"] = lambda: plain_onnxruntime(path, info, batch=batch,
                                                                height=h, width=w)
    if "openvino" in cfg.baselines:
        wanted["plain openvino"] = lambda: plain_openvino(path, info, batch=batch, height=h,
                                                          width=w)
    if "unfolded" in cfg.baselines and "fold_upsampling" in info.graph_rewrites:
        label = ", unfolded export"
        wanted["plain onnxruntime" + label] = lambda: plain_onnxruntime(
            unfolded_export(path, scratch), info, batch=batch, height=h, width=w, label=label)
        wanted["plain openvino" + label] = lambda: plain_openvino(
            unfolded_export(path, scratch), info, batch=batch, height=h, width=w, label=label)
    return wanted


def run_bench(cfg: BenchConfig, *, on_result: Callable[[BenchResult], None] | None = None
              ) -> BenchReport:
    """Measure every case of ``cfg`` and its baselines in this one process.

    Args:
        cfg: Model, backends, resolutions, batches and baselines.
        on_result: Called with each row as soon as it is measured (for live output).

    Returns:
        The report; ratios are against PyTorch eager FP32 measured in the same run, FLOP
        efficiency against a matrix-multiply ceiling measured in the same run.

    Example:
        >>> run_bench(BenchConfig(model="my.onnx"))  # doctest: +SKIP
    """
    path = resolve_model(cfg.model)
    info = read_model_info(path)
    from restyle.precision import cpu_isa

    machine = {c.name: (c.version or f"- {c.missing_reason}") + (f" ({c.detail})" if c.detail
                                                                 else "")
               for c in probe()}
    machine["isa"] = cpu_isa()
    ceiling = matmul_ceiling_gflops()
    log.info("matmul ceiling: %.1f GFLOP/s", ceiling)
    report = BenchReport(model=str(path), date=datetime.datetime.now(datetime.UTC).isoformat(
        timespec="seconds"), machine=machine, ceiling_gflops=ceiling, flops_per_frame={},
        ceilings_gflops={"fp32": ceiling})
    emit = on_result or (lambda _r: None)
    with tempfile.TemporaryDirectory(prefix="restyle-bench-") as scratch:
        _measure(cfg, path, info, ceiling, report, emit, Path(scratch))
    return report


def _measure(cfg: BenchConfig, path: Path, info: ModelInfo, ceiling: float, report: BenchReport,
             emit: Callable[[BenchResult], None], scratch: Path) -> None:
    for h, w in cfg.resolutions:
        flops = flops_per_frame(info, h, w)
        executed = flops_per_frame(info, h, w, executed=True)
        report.flops_per_frame[f"{h}x{w}"] = flops
        report.executed_flops_per_frame[f"{h}x{w}"] = executed
        for batch in cfg.batches:
            rows: list[BenchResult] = []
            for name, make in _baselines(path, info, h, w, batch, cfg, scratch).items():
                try:
                    rows.append(_row(make(), "baseline", h, w, batch, cfg))
                except (RestyleError, RuntimeError, OSError) as exc:
                    report.skipped[f"{name} {h}x{w} b{batch}"] = str(exc)
                    log.info("skipped %s: %s", name, exc)
            for backend in cfg.backends:
                try:
                    runnable, close, detail = _stylizer_runnable(str(path), backend, batch, h, w)
                except RestyleError as exc:
                    report.skipped[f"restyle {backend} {h}x{w} b{batch}"] = str(exc)
                    log.info("skipped backend %s: %s", backend, exc)
                    continue
                try:
                    rows.append(_row(runnable, "restyle", h, w, batch, cfg, detail))
                finally:
                    close()
            eager = next((r.fps for r in rows if r.name == EAGER), None)
            for r in rows:
                ratio = r.fps / eager if eager else None
                limit = _ceiling(report, r.precision)
                eff = (flops * r.fps / (limit * 1e9)) if flops and limit else None
                run_eff = executed * r.fps / (limit * 1e9) if executed and limit else None
                if r.kind == "baseline" and r.name.startswith("torch"):
                    run_eff = eff  # PyTorch runs the architecture itself, not the export
                final = BenchResult(**{**asdict(r), "ratio_to_eager": ratio,
                                       "flop_efficiency": eff,
                                       "executed_flop_efficiency": run_eff})
                report.results.append(final)
                emit(final)


def _ceiling(report: BenchReport, precision: str) -> float | None:
    """The GEMM ceiling of ``precision``, measured once per run (None where it cannot be)."""
    if precision not in report.ceilings_gflops:
        from restyle.bench.ceiling import openvino_gemm_ceiling

        value = openvino_gemm_ceiling(precision)
        if value is None:
            return None
        report.ceilings_gflops[precision] = value
    return report.ceilings_gflops[precision]


def format_table(report: BenchReport) -> str:
    """A plain-text table of the report."""
    head = ("name", "res", "batch", "frames/s", "p50 ms", "p99 ms", "spread", "x eager",
            "FLOP eff", "peak RSS MB")
    rows: list[Sequence[str]] = [head]
    for r in report.results:
        rows.append((
            r.name + (f" [{r.detail}]" if r.detail else ""),
            f"{r.height}x{r.width}", str(r.batch), f"{r.fps:.2f}", f"{r.p50_ms:.1f}",
            f"{r.p99_ms:.1f}", f"±{r.spread * 50:.0f}%",
            f"{r.ratio_to_eager:.2f}" if r.ratio_to_eager else "-",
            f"{r.flop_efficiency * 100:.0f}%" if r.flop_efficiency else "-",
            f"{r.peak_rss_mb:.0f}" + (f" / GPU {r.gpu_peak_mb:.0f}" if r.gpu_peak_mb else ""),
        ))
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    lines = ["  ".join(c.ljust(widths[i]) for i, c in enumerate(row)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines.append("")
    shown = ", ".join(f"{k} {v:.1f}" for k, v in report.ceilings_gflops.items())
    lines.append(f"GEMM ceilings per precision executed ({shown} GFLOP/s); machine: "
                 f"{report.machine.get('cpu', '?')}, ISA {report.machine.get('isa', '?')}; "
                 f"{report.date}")
    for res, model_flops in report.flops_per_frame.items():
        run = report.executed_flops_per_frame.get(res)
        if model_flops and run and run < model_flops:
            lines.append(
                f"FLOP eff uses the model's {model_flops / 1e9:.1f} GFLOP/frame at {res}; the "
                f"exported graph executes {run / 1e9:.1f} (exact rewrites), so its efficiency "
                f"on executed FLOPs is {run / model_flops:.0%} of that column")
    for what, why in report.skipped.items():
        lines.append(f"skipped {what}: {why}")
    return "\n".join(lines)
