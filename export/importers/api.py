"""``import_model``: a foreign generator file to a checked restyle ONNX model.

The chain (each step stops with a clear error, and nothing is left behind): read the file safely
(:mod:`~restyle.export.importers.safe_load`) → recognise its format from its content → build the
restyle graph (PyTorch: rebuild the published module, export it with restyle's image I/O and the
exact decoder fold; ONNX: free its sizes, upgrade its opset, fold, wrap the I/O) → ``onnx.checker``
→ compare with the source's own forward pass on photos at three sizes → metadata → atomic write.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from restyle._version import __version__
from restyle.errors import ConfigError, ExportError, ModelFormatError
from restyle.export.importers.check import (
    DEFAULT_PHOTO_SIZES,
    PhotoCheck,
    compare_on_photos,
)
from restyle.export.importers.registry import Detection, candidates, importer, list_importers
from restyle.export.importers.safe_load import load_onnx, load_state_dict, sniff
from restyle.modelinfo import PREFIX, ModelInfo
from restyle.paths import atomic_output, file_sha256

__all__ = ["ImportResult", "detect", "import_for_runtime", "import_model", "source_module"]

log = logging.getLogger("restyle.export")

#: Random-image shapes at which ONNX Runtime must match PyTorch for an imported PyTorch model
#: (batch 2 keeps the batch size dynamic), before the photo checks.
NOISE_SHAPES: tuple[tuple[int, int, int], ...] = ((1, 64, 64), (2, 67, 93))


@dataclass(frozen=True)
class ImportResult:
    """What :func:`import_model` found, wrote and checked."""

    path: Path
    info: ModelInfo
    detection: Detection
    source_sha256: str
    folded: int
    """Upsample + 3×3 convolution pairs folded into transposed convolutions."""
    checks: tuple[PhotoCheck, ...]
    seconds: float

    @property
    def max_diff(self) -> int:
        """Largest difference from the source on the photos, in grey levels."""
        return max((c.max_diff for c in self.checks), default=0)


def _content(path: Path) -> tuple[str, Any]:
    kind = sniff(path)
    if kind == "onnx":
        model = load_onnx(path)
        if any(p.key == PREFIX + "format_version" for p in model.metadata_props):
            raise ModelFormatError(f"{path} is already a restyle model: run it directly, or "
                                   "re-export it with `restyle export`")
        return "onnx", model
    return "torch", load_state_dict(path)


def _pick(path: Path, kind: str, content: Any, format: str | None) -> tuple[Any, Detection]:
    if format is not None:
        imp = importer(format)
        found = imp.detect(content) if imp.kind == kind else None
        if found is None:
            raise ModelFormatError(f"{path} is not a {format} model ({list_importers()[format]})"
                                   f"; leave out --format to let restyle recognise it")
        return imp, found
    matches = [(imp, d) for imp in candidates(kind).values() if (d := imp.detect(content))]
    if len(matches) == 1:
        return matches[0]
    if matches:
        names = ", ".join(d.format for _, d in matches)
        raise ModelFormatError(f"{path} fits several formats ({names}): choose one with --format")
    if kind == "torch":
        shown = ", ".join(list(content)[:4])
        what = f"a state dict with keys {shown}, …"
    else:
        what = "an ONNX graph of another kind"
    formats = "; ".join(f"{n} ({t})" for n, t in list_importers(kind).items())
    raise ModelFormatError(f"{path} is {what}, none of the formats restyle imports: {formats}. "
                           "Train or export the model with restyle instead")


def detect(path: str | os.PathLike[str], *, format: str | None = None) -> Detection:
    """Recognise the format of a foreign model file from its content.

    Raises:
        ModelFormatError: Unreadable, unsafe (arbitrary pickled objects), or no known format.
        DependencyError: torch (for PyTorch files) or onnx is missing.

    Example:
        >>> from restyle.export.importers import detect
        >>> detect("candy.pth").format  # doctest: +SKIP
        'fast_neural_style'
    """
    p = Path(path)
    kind, content = _content(p)
    return _pick(p, kind, content, format)[1]


def _module(imp: Any, state: dict[str, Any], detection: Detection) -> Any:
    module, weights = imp.build(state, detection)
    try:
        module.load_state_dict(weights, strict=True)
    except RuntimeError as exc:
        raise ModelFormatError(f"the weights do not fit the {detection.format} layout they "
                               f"look like: {str(exc).splitlines()[0]}") from exc
    return module.float().eval().requires_grad_(False)


def source_module(source: str | os.PathLike[str], *, format: str | None = None) -> Any:
    """The generator of a foreign PyTorch file, rebuilt in its published layout with its weights
    (an ``nn.Module``, RGB [0, 1] NCHW in and out; ``size_multiple`` says the sides it needs).

    Raises:
        ModelFormatError: Not a PyTorch file of a known format, or unsafe.
    """
    p = Path(source)
    kind, content = _content(p)
    if kind != "torch":
        raise ModelFormatError(f"{p} is an ONNX file, not PyTorch weights")
    imp, detection = _pick(p, kind, content, format)
    return _module(imp, content, detection)


def _torch_graph(imp: Any, state: dict[str, Any], detection: Detection, *, fold: bool,
                 tolerance: int) -> tuple[Any, int, Any]:
    import torch

    from restyle.export.graph import export_graph
    from restyle.export.rewrite import fold_upsample_convs
    from restyle.export.verify import check_graph, compare_with_torch
    from restyle.export.wrapper import ImageIO

    module = _module(imp, state, detection)
    multiple = int(module.size_multiple)
    wrapped = ImageIO(module, size_multiple=multiple).eval()
    folded = 0
    exported = wrapped
    if fold:
        generator, folded = fold_upsample_convs(module)
        exported = ImageIO(generator, size_multiple=multiple).eval()
    graph, _ = export_graph(exported)
    check_graph(graph)
    compare_with_torch(graph, wrapped, shapes=NOISE_SHAPES, tolerance=tolerance, seed=0)

    def forward(x: Any) -> Any:
        with torch.inference_mode():
            return wrapped(torch.from_numpy(x)).numpy()

    return graph, folded, forward


def import_model(
    source: str | os.PathLike[str],
    path: str | os.PathLike[str],
    *,
    format: str | None = None,
    style: str | None = None,
    description: str | None = None,
    attribution: str | None = None,
    license: str | None = None,
    sizes: tuple[tuple[int, int], ...] = DEFAULT_PHOTO_SIZES,
    tolerance: int = 1,
    fold: bool = True,
    align_corners: bool = False,
) -> ImportResult:
    """Import a generator trained elsewhere as a checked, self-describing restyle ONNX model.

    Args:
        source: A pytorch/examples fast_neural_style ``.pth``/``.model``, an AnimeGANv2
            ``.pt``, a CycleGAN/pix2pix ``latest_net_G.pth``, an onnx/models fast_neural_style
            ``.onnx`` (opset 8 or 9) or an AnimeGANv3 ``.onnx``. The format is recognised from
            the content.
        path: The ``.onnx`` file to write (atomically).
        format: Skip recognition and read the file as this format (see
            :func:`~restyle.export.importers.registry.list_importers`).
        style: Style name (default: the file's stem).
        description: One line describing the style.
        attribution: Where the model and its style came from.
        license: The model's licence.
        sizes: (height, width) of the photos the import is checked at against the source.
        tolerance: Largest difference allowed there, in grey levels.
        fold: Fold nearest-upsample + 3×3-convolution pairs into exact transposed convolutions.
        align_corners: AnimeGANv2 only: upsample to the exact size with aligned corners, as the
            project's ``hubconf.py`` does (any size), instead of ×2 as its ``test.py`` does.

    Returns:
        The file written, its metadata, what was recognised, and the checks.

    Raises:
        ModelFormatError: The file is unreadable, unsafe, or of no known format.
        DependencyError: torch (PyTorch files: ``restyle[train]``) or onnx is missing.
        ExportError: The converted model does not match the source.
        OutputError: ``path`` cannot be written.

    Example:
        >>> from restyle.export.importers import import_model
        >>> result = import_model("candy.pth", "candy.onnx")  # doctest: +SKIP
        >>> result.detection.format, result.max_diff <= 1  # doctest: +SKIP
        ('fast_neural_style', True)
    """
    start = time.monotonic()
    src, target = Path(source), Path(path)
    if tolerance < 0 or not sizes:
        raise ConfigError("give at least one check size and a tolerance ≥ 0: an import is only "
                          "written after it has matched its source")
    if target.exists() and target.resolve() == src.resolve():
        raise ConfigError(f"{target} is the file being imported: choose another output path")
    kind, content = _content(src)
    imp, detection = _pick(src, kind, content, format)
    if align_corners:
        if detection.format != "animegan2":
            raise ConfigError(f"--align-corners applies to AnimeGANv2 generators; {src.name} is "
                              f"{detection.summary}: leave it out")
        from restyle.export.importers.animegan2 import AnimeGan2Importer

        imp = AnimeGan2Importer(align_corners=True)
        aligned = imp.detect(content)
        if aligned is None:  # the same keys were recognised a moment ago
            raise ModelFormatError(f"{src} is no longer recognised as AnimeGANv2")
        detection = aligned
    log.info("%s: %s", src.name, detection.summary)
    sha = file_sha256(src)
    if kind == "torch":
        graph, folded, forward = _torch_graph(imp, content, detection, fold=fold,
                                              tolerance=tolerance)
    else:
        graph, folded, forward = imp.convert(content, detection, fold=fold)
        import onnx

        try:
            onnx.checker.check_model(graph, full_check=True)
        except Exception as exc:  # ValidationError / InferenceError
            raise ExportError(f"the imported graph is invalid: {exc}") from exc
    if folded:
        log.info("folded %d upsample+convolution pair(s) into transposed convolutions", folded)
    what = "the original PyTorch module" if kind == "torch" else \
        "the original ONNX graph in ONNX Runtime"
    checks = compare_on_photos(graph, forward, sizes=sizes, tolerance=tolerance, what=what)
    info = ModelInfo(
        path="", style=style or src.stem, arch=detection.format,
        description=description if description is not None else
        f"imported from {src.name} ({imp.title})",
        arch_config=dict(detection.config), checkpoint_sha256=sha, restyle_version=__version__,
        attribution=attribution or "", license=license or "",
        graph_rewrites="fold_upsampling" if folded else "", source_format=imp.title,
    )
    from restyle.export.metadata import write_metadata

    write_metadata(graph, info)
    with atomic_output(target) as tmp:
        tmp.write_bytes(graph.SerializeToString())
    result = ImportResult(path=target, info=ModelInfo(**{**info.as_dict(), "path": str(target)}),
                          detection=detection, source_sha256=sha, folded=folded, checks=checks,
                          seconds=time.monotonic() - start)
    log.info("wrote %s (max %d grey level(s) from the source on photos) in %.1f s", target,
             result.max_diff, result.seconds)
    return result


def import_for_runtime(source: Path, target: Path) -> str:
    """What the runtime calls (entry point ``restyle.importers``) for a foreign file given to
    ``Stylizer``: import it with the defaults and say what was found."""
    return import_model(source, target).detection.summary
