"""An imported model against the way its own project runs it, measured in the same run.

* a pytorch/examples ``fast_neural_style`` file: PyTorch eager as ``neural_style.py stylize`` does
  it (``ToTensor()·255`` in, ``no_grad`` forward, ``clamp(0, 255)`` to uint8 out);
* an onnx/models ``fast_neural_style`` file: ONNX Runtime on the zoo file itself, at the one size
  it takes (1×3×224×224; preprocessing as in the zoo's README), so it is compared per megapixel;
* and restyle: a :class:`~restyle.Stylizer` on the cached import, uint8 image in and out.

Every row includes the uint8 ↔ float conversions its way needs, so all are charged alike.
Needs ``restyle[train]`` for the PyTorch rows.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from restyle._optional import require
from restyle.bench.timing import measure
from restyle.imported import runnable_model

__all__ = ["PeerRow", "format_peer_table", "run_peer_bench"]

ZOO_SIZE = (224, 224)


@dataclass(frozen=True)
class PeerRow:
    """One way of running the model at one size."""

    name: str
    height: int
    width: int
    ms: float
    """Median milliseconds per frame."""
    mpx_per_s: float
    """Megapixels per second (comparable across sizes)."""
    vs_restyle: float | None = None
    """restyle's megapixels/s divided by this row's, at the same size (None for restyle)."""

    def as_dict(self) -> dict[str, Any]:
        """All fields as JSON-friendly values."""
        return asdict(self)


def _frame(h: int, w: int) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (h, w, 3), dtype=np.uint8)


def _bind(fn: Callable[[np.ndarray], Any], frame: np.ndarray) -> Callable[[], object]:
    return lambda: fn(frame)


def _time(fn: Callable[[], object], repeat: int) -> float:
    return measure(fn, warmup=1, repeat=repeat).median


def _neural_style_eager(source: Path) -> Callable[[np.ndarray], Any]:
    """``neural_style.py stylize`` on one frame, with the file's weights."""
    torch = require("torch", purpose="the PyTorch eager baseline")
    from restyle.export.importers.api import source_module

    net = source_module(source)

    def run(frame: np.ndarray) -> Any:
        x = torch.from_numpy(frame).permute(2, 0, 1).float().div(255).unsqueeze(0)  # ToTensor
        with torch.no_grad():
            y = net(x) * 255.0  # TransformerNet's 0-255 output (the module works in [0, 1])
        return y[0].clamp(0, 255).permute(1, 2, 0).numpy().astype("uint8")

    return run


def _zoo_onnxruntime(source: Path) -> Callable[[np.ndarray], Any]:
    """The zoo file in ONNX Runtime at its fixed size, pre/post-processing as its README."""
    ort = require("onnxruntime")
    options = ort.SessionOptions()
    options.log_severity_level = 3  # the zoo files list weights as inputs: ORT warns per weight
    session = ort.InferenceSession(str(source), sess_options=options,
                                   providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name

    def run(frame: np.ndarray) -> Any:
        x = np.expand_dims(np.transpose(frame.astype("float32"), [2, 0, 1]), axis=0)
        result = session.run(None, {name: x})[0][0]
        return np.clip(result, 0, 255).transpose(1, 2, 0).astype("uint8")

    return run


def run_peer_bench(
    source: str | Path,
    *,
    resolutions: Sequence[tuple[int, int]] = ((512, 512), (1080, 1920)),
    backend: str = "auto",
    repeat: int = 5,
) -> list[PeerRow]:
    """Measure restyle on ``source``'s import against ``source``'s own project's way.

    Args:
        source: A fast_neural_style ``.pth``/``.model`` or an onnx/models fast_neural_style
            ``.onnx`` (imported and cached on first use).
        resolutions: (height, width) to measure restyle (and PyTorch eager) at; the zoo file runs
            at 224×224 only, where restyle is measured too.
        backend: The Stylizer backend.
        repeat: Timed runs per row (after one warm-up).

    Returns:
        One row per way and size, with the ratio to restyle at the same size.

    Example:
        >>> rows = run_peer_bench("candy.pth", resolutions=[(512, 512)])  # doctest: +SKIP
    """
    from restyle.export.importers.safe_load import sniff
    from restyle.stylizer import Stylizer

    src = Path(source)
    model = runnable_model(src)
    onnx_source = sniff(src) == "onnx"
    sizes = list(dict.fromkeys([*([ZOO_SIZE] if onnx_source else []), *resolutions]))
    peers: list[tuple[str, Callable[[np.ndarray], Any], list[tuple[int, int]]]] = []
    if onnx_source:
        peers.append(("onnxruntime on the zoo file (fixed 224)", _zoo_onnxruntime(src),
                      [ZOO_SIZE]))
    else:
        peers.append(("torch eager (neural_style.py)", _neural_style_eager(src), sizes))
    rows: list[PeerRow] = []
    with Stylizer(model, backend=backend, batch_size=1) as st:
        label = f"restyle {st.info.backend}"
        ours: dict[tuple[int, int], float] = {}
        for h, w in sizes:
            seconds = _time(_bind(st, _frame(h, w)), repeat)
            ours[(h, w)] = h * w / seconds / 1e6
            rows.append(PeerRow(label, h, w, seconds * 1e3, ours[(h, w)]))
    for name, run, where in peers:
        for h, w in where:
            seconds = _time(_bind(run, _frame(h, w)), repeat)
            mpx = h * w / seconds / 1e6
            rows.append(PeerRow(name, h, w, seconds * 1e3, mpx, ours[(h, w)] / mpx))
    return rows


def format_peer_table(rows: Sequence[PeerRow]) -> str:
    """The rows as an aligned text table."""
    lines = [f"{'way':<42} {'size':>10} {'ms/frame':>10} {'Mpx/s':>8} {'restyle ×':>10}"]
    for r in rows:
        ratio = f"{r.vs_restyle:.2f}" if r.vs_restyle is not None else "-"
        lines.append(f"{r.name:<42} {f'{r.height}x{r.width}':>10} {r.ms:>10.1f} "
                     f"{r.mpx_per_s:>8.2f} {ratio:>10}")
    return "\n".join(lines)
