"""``quantize``: an fp32 restyle ONNX file to a checked int8 (QDQ) one, gated by quality.

The chain (nothing is written unless every step passes): read the fp32 model → crops of the
calibration photos (restyle's bundled photos, or a folder the user names) → NNCF post-training
quantisation with the recipe in :data:`RECIPE` → ``onnx.checker`` → PSNR of the int8 model against
the fp32 one on *held-out* photos (never the calibration ones), each as it is and enlarged to a
1080p frame, run by OpenVINO (the CPU runtime that runs int8 fast; ONNX Runtime where OpenVINO is
missing) → the recipe, the calibration set, the source's sha256 and the measured PSNR into
``restyle.quantization`` → atomic write of ``MODEL.int8.onnx``.

The recipe (measured on the project's CPUs, ``docs/precision.md``): NNCF's ``MIXED`` preset
(symmetric weights, asymmetric activations) with every InstanceNormalization **and every Add**
left in float, the first convolution left in float too, and the full bias correction. The Adds are
the residual stream: quantised, it is rounded at every block's input and output and the error
accumulates down the chain (a trained ``johnson``, five blocks: 31.4 dB worst held-out photo with
them quantised, 39.5 float; ``realtime`` 35.1 → 37.3, ``compact`` 38.7 → 39.6) at no measurable
cost in speed (the convolutions stay int8). Quantising InstanceNorm's input costs 6–10 dB; the
first convolution float and the full bias correction took ``realtime`` from 33.7 to 35.6 dB.
Activation ranges come from NNCF's histogram estimator (the range that minimises the quantisation
error of the calibration activations, not their averaged extremes), and the calibration crops are
512² squares from photos scaled up to 4× as well as down (a 1080p frame of a smaller photo is
smoother than any crop of it, and InstanceNorm at 1/8 resolution sees 64² instead of 32²; 256²
crops left ``realtime`` at 30 dB at 1080p). The quantile and outlier-free estimators were worse.
Calibration crops come from ordinary photos only (darkened copies narrowed the averaged ranges of
the first recipe and cost 10–20 dB).

Where a model still fails the gate, the convolutions that cost it most are restored to fp32, one
at a time (:mod:`restyle.export.int8_restore`), up to ``max_float_layers``; which ones is recorded
in the model, and the refusal says how far the restoration got.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from numpy.typing import NDArray

from restyle._optional import require
from restyle.errors import ConfigError, ExportError, QualityGateError
from restyle.export.int8_restore import psnr_against, quantised_layers, restore_until
from restyle.export.metadata import shapes_of, write_metadata
from restyle.export.verify import check_graph
from restyle.images import IMAGE_SUFFIXES
from restyle.modelinfo import ModelInfo, read_model_info
from restyle.paths import atomic_output, file_sha256
from restyle.precision import (
    CALIBRATION_CROP,
    MIN_PSNR_DB,
    GateReport,
    graph_precision,
    int8_path,
)
from restyle.precision_choice import Runner
from restyle.samples import fit_photo, load_photos, sample_photos

__all__ = ["HELDOUT_SKIMAGE", "RECIPE", "QuantizeReport", "heldout_photos", "quantize"]

log = logging.getLogger("restyle.export")

#: Calibration crops come from photos scaled up to this factor: frames larger than the photos
#: (1080p from a 512-px photo) hold smoother content, whose activations must be in range too.
MAX_CALIBRATION_SCALE = 4.0
#: The quantisation recipe, recorded in every int8 model.
RECIPE: dict[str, Any] = {
    "tool": "nncf",
    "method": "post-training static quantisation, QDQ",
    "preset": "mixed",
    "ignored_types": ["InstanceNormalization", "Add"],
    "ignored_nodes": "the first convolution (it reads the image)",
    "float_fallback": "while the gate fails, the convolutions whose float twin gains most on the "
                      "failing photos are restored to fp32, one at a time, up to max_float_layers",
    "fast_bias_correction": False,
    "activations_range": "histogram",
    "calibration_scales": "each crop from its photo scaled between fitting the crop and "
                          f"{MAX_CALIBRATION_SCALE:g}x its size",
    "calibration_crop": f"{CALIBRATION_CROP} px squares (large-frame statistics in range)",
}
#: scikit-image's colour photos that restyle does not bundle: the default held-out set.
HELDOUT_SKIMAGE = ("motorcycle_left.png", "hubble_deep_field.jpg", "ihc.png", "retina.jpg")
#: Held-out photos are shrunk to this longer side for the gate.
GATE_SIDE = 512
#: The frame size the gate also measures at (the held-out photos enlarged to it).
LARGE = (1080, 1920)


@dataclass(frozen=True)
class QuantizeReport:
    """What :func:`quantize` wrote and measured."""

    path: Path
    info: ModelInfo
    gate: GateReport
    calibration: dict[str, Any]
    seconds: float
    large: GateReport | None = None
    """The part of :attr:`gate` measured on the held-out photos enlarged to 1080p."""


def _folder_images(folder: Path) -> list[Path]:
    if not folder.is_dir():
        raise ConfigError(f"{folder} is not a folder of photos: pass a folder of .jpg/.png files")
    files = [p for p in sorted(folder.rglob("*"))
             if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".")]
    if not files:
        raise ConfigError(f"{folder} holds no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
    return files


def calibration_crops(paths: list[Path], *, count: int, size: int, seed: int = 0,
                      max_scale: float = MAX_CALIBRATION_SCALE) -> list[NDArray[np.uint8]]:
    """``count`` random ``size``×``size`` crops of the photos (each photo in turn, at a random
    scale between fitting the crop and ``max_scale`` × its size), deterministic for a seed."""
    if count < 1 or size < 32:
        raise ConfigError(f"calibration needs at least 1 crop of at least 32 px (got {count} × "
                          f"{size} px)")
    photos = list(load_photos(paths).values())
    rng = np.random.default_rng(seed)
    crops = []
    from PIL import Image

    for i in range(count):
        img = photos[i % len(photos)]
        h, w = img.shape[:2]
        low = size / min(h, w)
        scale = float(rng.uniform(low, max(low, max_scale)))
        nh, nw = max(size, round(h * scale)), max(size, round(w * scale))
        scaled = np.asarray(Image.fromarray(img).resize((nw, nh), Image.Resampling.BILINEAR))
        y, x = int(rng.integers(0, nh - size + 1)), int(rng.integers(0, nw - size + 1))
        crop = scaled[y:y + size, x:x + size]
        crops.append(np.ascontiguousarray(crop[:, ::-1] if rng.random() < 0.5 else crop))
    return crops


def heldout_photos(folder: str | os.PathLike[str] | None, *, calibration: list[Path]
                   ) -> tuple[dict[str, NDArray[np.uint8]], str]:
    """Photos for the quality gate that are not calibration photos, and where they came from.

    ``folder`` when given; else restyle's bundled photos when calibration used the user's own
    folder; else scikit-image's colour photos that restyle does not bundle.

    Raises:
        ConfigError: No held-out photos can be found, or they overlap the calibration photos.
    """
    calib = {p.resolve() for p in calibration}
    if folder is not None:
        paths, label = _folder_images(Path(folder)), str(folder)
    elif not calib & {p.resolve() for p in sample_photos()}:
        paths, label = sample_photos(), "restyle's bundled photos"
    else:
        try:
            import skimage
        except ImportError as exc:
            raise ConfigError(
                "the quality gate needs photos the calibration did not see: install "
                "scikit-image (`pip install 'restyle[int8]'`) for its sample photos, or pass "
                "--heldout DIR") from exc
        root = Path(skimage.__file__).parent / "data"
        paths = [root / n for n in HELDOUT_SKIMAGE if (root / n).exists()]
        label = "scikit-image photos " + ", ".join(p.stem for p in paths)
        if not paths:
            raise ConfigError(f"scikit-image has none of {', '.join(HELDOUT_SKIMAGE)}: pass "
                              "--heldout DIR")
    overlap = sorted(str(p) for p in paths if p.resolve() in calib)
    if overlap:
        raise ConfigError(f"held-out photos are also calibration photos ({', '.join(overlap)}): "
                          "the gate must use photos the calibration never saw")
    return load_photos(paths, max_side=GATE_SIDE), label


def _memory_runner(model: onnx.ModelProto, beside: Path, io: str) -> Runner:
    """A runner for an in-memory model (written next to ``beside`` while it compiles)."""
    scratch = beside.with_name(f"{beside.stem}.candidate.onnx")
    onnx.save(model, str(scratch))
    try:
        return _runner(scratch, io)[0]
    finally:
        scratch.unlink(missing_ok=True)


def _runner(path: Path, io: str) -> tuple[Runner, str]:
    """Run ``path`` on OpenVINO (f32 for the float layers) or, without it, ONNX Runtime."""
    from restyle.backends.base import ModelIO

    model_io = ModelIO(io)
    try:
        import openvino as ov
    except ImportError:
        from restyle.export.verify import ort_session

        session = ort_session(onnx.load(str(path)))
        name = session.get_inputs()[0].name

        def run_ort(batch: NDArray[np.uint8]) -> NDArray[np.uint8]:
            return model_io.from_model(session.run(None, {name: model_io.to_model(batch)})[0])

        return run_ort, "ONNX Runtime CPU"
    compiled = ov.Core().compile_model(str(path), "CPU", {
        "PERFORMANCE_HINT": "LATENCY", "INFERENCE_PRECISION_HINT": "f32"})

    def run_ov(batch: NDArray[np.uint8]) -> NDArray[np.uint8]:
        return model_io.from_model(np.asarray(compiled({0: model_io.to_model(batch)})[0]))

    return run_ov, f"OpenVINO {ov.get_version().split('-')[0]} CPU"


def quantize(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str] | None = None,
    *,
    calibration: str | os.PathLike[str] | None = None,
    heldout: str | os.PathLike[str] | None = None,
    crops: int = 64,
    crop_size: int = CALIBRATION_CROP,
    min_psnr_db: float = MIN_PSNR_DB,
    seed: int = 0,
    max_float_layers: int | None = None,
) -> QuantizeReport:
    """Quantise an fp32 restyle ONNX model to int8 and check it against fp32 on held-out photos.

    Args:
        src: An fp32 model (``restyle export``, or an imported one).
        dst: The int8 file (default: ``src`` with ``.int8.onnx``, where ``Stylizer`` finds it).
        calibration: A folder of photos to calibrate on (default: restyle's bundled photos).
        heldout: A folder of photos for the quality gate (default: see :func:`heldout_photos`).
        crops: Number of calibration crops.
        crop_size: Side of each crop in pixels (the default keeps 1080p frames in range).
        min_psnr_db: The gate: least PSNR against fp32 over the held-out photos.
        seed: Seed of the crop positions.
        max_float_layers: When the gate fails, at most this many convolutions are restored to
            fp32 (the costliest first, :mod:`restyle.export.int8_restore`) to pass it; default a
            quarter of the quantised ones; 0 refuses at once.

    Returns:
        The path, metadata, gate measurement and calibration record.

    Raises:
        ModelFormatError: ``src`` is not a restyle model.
        ConfigError: ``src`` is not fp32, ``dst`` is ``src``, or the photo folders are unusable.
        DependencyError: NNCF is not installed (``pip install 'restyle[int8]'``).
        QualityGateError: The int8 model falls below ``min_psnr_db`` (the message has the PSNR);
            nothing is written.

    Example:
        >>> from restyle.export import quantize
        >>> quantize("mosaic.onnx").gate.min_psnr_db > 35  # doctest: +SKIP
        True
    """
    start = time.monotonic()
    src_p = Path(src)
    info = read_model_info(src_p)
    stored = graph_precision(src_p)
    if stored != "fp32":
        raise ConfigError(f"{src_p} computes in {stored}: quantise its fp32 export")
    target = int8_path(src_p) if dst is None else Path(dst)
    if target.resolve() == src_p.resolve():
        raise ConfigError(f"{target} is the input model: write the int8 model to another path")
    nncf = require("nncf", purpose="int8 quantisation")
    estimators = require("nncf.quantization.range_estimator", purpose="int8 quantisation")
    histogram = estimators.RangeEstimatorParametersSet.HISTOGRAM
    calib_paths = sample_photos() if calibration is None else _folder_images(Path(calibration))
    photos, heldout_label = heldout_photos(heldout, calibration=calib_paths)
    images = calibration_crops(calib_paths, count=crops, size=crop_size, seed=seed)
    name = info.input_name
    model_io = __import__("restyle.backends.base", fromlist=["ModelIO"]).ModelIO(info.io)
    dataset = nncf.Dataset(images, lambda a: {name: model_io.to_model(a[None])})
    log.info("calibrating on %d crops of %d px from %d photo(s)", len(images), crop_size,
             len(calib_paths))
    fp32 = onnx.load(str(src_p))
    first = [n.name for n in fp32.graph.node if n.op_type in ("Conv", "ConvTranspose")][:1]
    try:
        int8 = nncf.quantize(
            fp32, dataset, subset_size=len(images), preset=nncf.QuantizationPreset.MIXED,
            fast_bias_correction=bool(RECIPE["fast_bias_correction"]),
            ignored_scope=nncf.IgnoredScope(types=list(RECIPE["ignored_types"]), names=first,
                                            validate=False),
            advanced_parameters=nncf.AdvancedQuantizationParameters(
                activations_range_estimator_params=histogram))
    except Exception as exc:  # NNCF raises many types for graphs it cannot handle
        raise ExportError(f"NNCF could not quantise {src_p}: {exc}") from exc
    check_graph(int8)
    calibration_record = {
        "source": "restyle bundled photos" if calibration is None else str(calibration),
        "photos": [p.name for p in calib_paths], "crops": len(images), "crop_size": crop_size,
        "seed": seed,
    }
    with atomic_output(target) as tmp:
        onnx.save(int8, str(tmp))
        reference, runtime = _runner(src_p, info.io)
        # The gate holds at both sizes: the held-out photos as they are and enlarged to a
        # 1080p frame, whose smoother content the quantisation serves worse (InstanceNorm
        # amplifies its noise; docs/precision.md) -- a model passed on small photos alone
        # could be refused by nobody and still fail every 1080p video frame.
        enlarged = {f"{k}@{LARGE[0]}p": fit_photo(v, *LARGE) for k, v in photos.items()}
        gate_photos = {**photos, **enlarged}
        expected = {k: reference(v[None]) for k, v in gate_photos.items()}
        label = f"{heldout_label}, as they are and enlarged to {LARGE[0]}x{LARGE[1]}"
        candidate, _ = _runner(tmp, info.io)
        gate = GateReport(psnr_against(expected, candidate, gate_photos),
                          threshold_db=min_psnr_db, runtime=runtime, photos=label)
        log.info("int8 against fp32 (%s): %s", runtime, gate.summary())
        layers = quantised_layers(int8)
        allowed = len(layers) // 4 if max_float_layers is None else max_float_layers
        restored: dict[str, float] = {}
        tried = ""
        if not gate.passed and allowed > 0:
            log.info("int8 below the gate: ranking %d layers to keep up to %d in float",
                     len(layers), allowed)
            fixed = restore_until(int8, fp32, run=lambda m: _memory_runner(m, tmp, info.io),
                                  reference=expected, photos=gate_photos, gate=gate,
                                  max_layers=allowed)
            if fixed.gate.passed:
                int8, gate, restored = fixed.model, fixed.gate, fixed.float_layers
                check_graph(int8)
            else:
                tried = (f"; with {len(fixed.float_layers)} of its {len(layers)} convolutions "
                         f"in float, min {fixed.gate.min_psnr_db:.1f} dB")
        large = replace(gate, psnr_db={k: gate.psnr_db[k] for k in enlarged})
        log.info("at %dx%d: %s", *LARGE, large.summary())
        if not gate.passed:
            shown = ", ".join(f"{k} {v:.1f} dB" for k, v in gate.psnr_db.items())
            raise QualityGateError(
                f"int8 refused for {src_p}: {gate.summary()} ({shown}) is below "
                f"{min_psnr_db:g} dB{tried}; calibrate on photos like yours (--calibration DIR), "
                "allow more float layers (--max-float-layers N) or keep fp32")
        record = {
            "recipe": {**RECIPE, "nncf_version": nncf.__version__, "subset_size": len(images),
                       "ignored_names": first, "max_float_layers": allowed},
            "float_layers": {"restored": restored, "quantised": len(layers) - len(restored)},
            "calibration": calibration_record, "gate": gate.as_dict(),
            "at_1080p": {"min_psnr_db": large.min_psnr_db, "mean_psnr_db": large.mean_psnr_db,
                         "psnr_db": large.psnr_db},
            "source": src_p.name, "source_sha256": file_sha256(src_p),
        }
        out_info = replace(info, path="", precision="int8", quantization=record)
        write_metadata(int8, out_info, shapes=shapes_of(fp32))
        onnx.save(int8, str(tmp))
    return QuantizeReport(path=target, info=replace(out_info, path=str(target)), gate=gate,
                          calibration=calibration_record, seconds=time.monotonic() - start,
                          large=large)
