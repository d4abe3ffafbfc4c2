"""``Stylizer``: a model and a backend, applied to images, batches, streams and folders.

Frames are grouped by shape into batches, prepared in a worker thread and kept in flight on the
backend (two or more batches at once on a GPU), so decoding, copies and compute overlap. Images
larger than ``max_pixels`` go through :mod:`restyle.tiling`. A GPU out-of-memory error halves the
batch and retries. Every backend output is checked, and frames too small for the model padded, in
:mod:`restyle.backends.checked`. The folder and stream jobs live in :mod:`restyle.jobs`, the video
job in :mod:`restyle.video.pipeline`; the methods here and the CLI both call them.

Why over 300 lines: the typed overloads of each entry point (PIL in, PIL out; array in, array
out) sit beside it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeAlias, TypeVar, overload

from restyle import postprocess
from restyle.backends.base import Backend, BackendConfig, ModelSource
from restyle.backends.checked import CheckedBackend
from restyle.backends.registry import open_backend
from restyle.batching import BatchRunner
from restyle.errors import ConfigError
from restyle.images import ImageInput
from restyle.imported import runnable_model
from restyle.jobs.folder import FolderReport, file_pairs, finish, folder_pairs, run_pairs
from restyle.jobs.stream import stream
from restyle.modelcheck import check_weights
from restyle.modelinfo import ModelInfo, read_model_info
from restyle.precision import MIN_PSNR_DB, check_delivered, check_precision
from restyle.precision_choice import choose
from restyle.shapes import ShapeMap, ShapePainter, read_shapes
from restyle.styles import resolve_model
from restyle.tilenorm import WholeImageNormTiler, check_tile_norm, make_tiler

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray
    from PIL import Image

    from restyle.video import TemporalBlend, VideoReport

#: Inputs that come back as PIL images: PIL images and image paths.
PathOrPil: TypeAlias = "Image.Image | str | os.PathLike[str]"
#: What one stylised image is: a PIL image, or an array of the input's dtype and layout.
Output: TypeAlias = "Image.Image | NDArray[Any]"
_S = TypeVar("_S", bound="np.generic")

__all__ = ["FolderReport", "Stylizer", "StylizerInfo"]

log = logging.getLogger("restyle.stylizer")

ENGINE_SUFFIXES = frozenset({".engine", ".plan", ".trt"})


@dataclass(frozen=True)
class StylizerInfo:
    """What a :class:`Stylizer` runs on.

    Attributes:
        backend: Backend name (``tensorrt``, ``ort_cuda``, ``openvino``, ``ort_cpu``).
        provider: The runtime underneath (e.g. ``CPUExecutionProvider``, ``OpenVINO CPU``).
        precision: What the runtime executes, read back from it: ``fp32``, ``bf16``, ``fp16``
            or ``int8``.
        device: ``cpu`` or ``cuda:N``.
        model_path: The model file.
        model: The model's restyle metadata (None for an engine without its ONNX beside it).
        fallback_reasons: For ``backend="auto"``, why each faster backend was skipped.
        batch_size: Current largest batch (halved after an out-of-memory error).
        detail: Backend specifics (threads, streams, engine file ...).
        shapes: Closed shapes of the style the output is painted into (a model trained with
            ``--shapes``, :mod:`restyle.shapes`); 0: none.
    """

    backend: str
    provider: str
    precision: str
    device: str
    model_path: str
    model: ModelInfo | None
    fallback_reasons: tuple[str, ...] = ()
    batch_size: int = 1
    detail: str = ""
    shapes: int = 0

    def as_dict(self) -> dict[str, Any]:
        """All fields as JSON-friendly values."""
        return asdict(self)


def _model_source(model: str | os.PathLike[str]) -> ModelSource:
    path = runnable_model(resolve_model(model))  # a foreign file: its cached import
    if path.suffix.lower() in ENGINE_SUFFIXES:
        beside = path.with_suffix(".onnx")
        info = read_model_info(beside) if beside.exists() else None
        return ModelSource(path, "engine", info)
    info = read_model_info(path)
    check_weights(path)
    return ModelSource(path, "onnx", info)


def _shapes_of(source: ModelSource) -> ShapeMap | None:
    """The shape map of a model (an engine's: its ONNX file's beside it)."""
    path = source.path if source.kind == "onnx" else source.path.with_suffix(".onnx")
    return read_shapes(path) if path.is_file() else None


class Stylizer:
    """Apply a restyle model to images, batches, streams and folders.

    Args:
        model: An exported ``.onnx`` file, a TensorRT ``.engine``, a bundled or pulled style
            name, or a model trained elsewhere (``candy.pth``, ``udnie-9.onnx``, ``paprika.pt``
            …: imported once and cached, see :mod:`restyle.imported`).
        backend: ``"auto"`` (fastest available: tensorrt > ort_cuda > openvino > ort_cpu) or one
            of those names.
        batch_size: Largest batch sent to the backend (halved automatically on out-of-memory).
        device: CUDA device index for GPU backends.
        threads: CPU threads for CPU backends (default: physical cores).
        cuda: CUDA binding for GPU backends: ``"auto"``, ``"cuda-python"`` or ``"pycuda"``.
        stream: An application's CUDA stream to run on: an int handle or a torch / CuPy / pycuda
            stream object.
        cuda_graph: Capture the TensorRT launch in a CUDA graph per input shape.
        max_pixels: Images with more pixels than this (or larger than the backend accepts) are
            stylised in tiles.
        tile_size: Tile side in pixels for tiled inference.
        tile_overlap: Overlap between tiles in pixels (at least the network's receptive field
            radius times four for an exact match; feathered blending hides the rest).
        tile_norm: How tiles of a model with instance normalisation are normalised:
            ``"exact"`` (the whole image's statistics, measured over the tiles: the result
            matches untiled inference; several times the time of plain tiling),
            ``"estimate"`` (estimated on a downscaled copy: little extra work, a few grey levels
            off) or ``"tile"`` (each tile its own: colours drift from tile to tile). See
            :mod:`restyle.tilenorm`.
        in_flight: Batches kept in flight on the backend (GPU: copies and compute overlap).
        prefetch: Prepared windows of frames kept ready ahead of the backend in :meth:`stream`.
        precision: ``"auto"`` (the fastest format this machine and backend offer whose quality
            gate passes for the model: int8 when a passing ``MODEL.int8.onnx`` from
            ``restyle quantize`` lies beside the model and OpenVINO runs a CPU without bf16,
            bf16 on CPUs with AMX / AVX512_BF16, FP16 on TensorRT), or ``"fp32"``, ``"bf16"``,
            ``"fp16"``, ``"int8"``: exactly that, or an error saying why not. :attr:`info`
            reports what the runtime actually executes.
        min_psnr_db: The quality gate (PSNR against fp32 on held-out photos, worst photo) that
            ``auto`` and ``int8`` hold reduced precision to.

    Raises:
        ModelFormatError: The model is missing, not a restyle model, or holds NaN/infinite
            weights.
        ConfigError: An argument is out of range or the backend name is unknown.
        BackendUnavailableError: The named backend (or every one, for ``"auto"``) cannot run here,
            or cannot run the requested precision.
        QualityGateError: ``precision="int8"`` and the model's int8 file failed the gate.

    A ``Stylizer`` may be called from several threads at once; each backend documents how it
    keeps that safe.

    Example:
        >>> import numpy as np
        >>> from restyle import Stylizer
        >>> with Stylizer("sunset", batch_size=8) as st:
        ...     out = st(np.zeros((128, 96, 3), np.uint8), strength=0.8)
        ...     print(out.shape, out.dtype)
        (128, 96, 3) uint8

        Files and folders work the same way::

            outs = st.stylize_batch(["a.jpg", "b.png"])        # PIL images
            report = st.stylize_folder("photos/", "styled/")  # resumable, atomic writes
    """

    def __init__(
        self,
        model: str | os.PathLike[str],
        *,
        backend: str = "auto",
        batch_size: int = 8,
        device: int = 0,
        threads: int | None = None,
        cuda: str = "auto",
        stream: object | None = None,
        cuda_graph: bool = False,
        max_pixels: int = 4096 * 4096,
        tile_size: int = 1024,
        tile_overlap: int = 128,
        tile_norm: str = "exact",
        in_flight: int = 3,
        prefetch: int = 2,
        precision: str = "auto",
        min_psnr_db: float = MIN_PSNR_DB,
    ) -> None:
        for name, value, low in (("batch_size", batch_size, 1), ("max_pixels", max_pixels, 1),
                                 ("in_flight", in_flight, 1), ("prefetch", prefetch, 1),
                                 ("device", device, 0), ("tile_overlap", tile_overlap, 0)):
            if value < low:
                raise ConfigError(f"{name}={value} must be at least {low}")
        if tile_size <= 2 * tile_overlap:
            raise ConfigError(f"tile_size={tile_size} must exceed twice tile_overlap="
                              f"{tile_overlap}")
        if threads is not None and threads < 1:
            raise ConfigError(f"threads={threads} must be at least 1 (or None for all cores)")
        check_tile_norm(tile_norm)
        precision = check_precision(precision)
        self._source, request = choose(_model_source(model), precision, backend=backend,
                                       min_psnr_db=min_psnr_db)
        shapes = _shapes_of(self._source)
        self._painter = painter = ShapePainter(shapes) if shapes is not None else None
        config = BackendConfig(device=device, batch_size=batch_size, threads=threads, cuda=cuda,
                               stream=stream, cuda_graph=cuda_graph, slots=max(3, in_flight),
                               precision=request)
        self._backend: Backend
        opened, self._fallback = open_backend(backend, self._source, config)
        try:
            check_delivered(precision, opened.info.precision, opened.info.name)
        except BaseException:
            opened.close()
            raise
        self._backend = CheckedBackend(opened)
        self._tiler = make_tiler(tile_norm, self._source, backend=opened.info.name,
                                 threads=threads, batch_size=batch_size)
        self._runner = BatchRunner(self._backend, batch_size=batch_size, in_flight=in_flight,
                                   max_pixels=max_pixels, tile=tile_size, overlap=tile_overlap,
                                   tiler=self._tiler,
                                   finish=None if painter is None else (
                                       lambda out, photo: painter.paint(out, guide=photo)))
        self._prefetch = prefetch
        self._closed = False
        b = self._backend.info
        log.info("stylizer: %s (%s, %s, %s) for %s", b.name, b.provider, b.precision, b.device,
                 self._source.path)

    # --- public API --------------------------------------------------------------------------

    @property
    def info(self) -> StylizerInfo:
        """Backend, provider, precision, device, model metadata and fallback reasons."""
        b = self._backend.info
        return StylizerInfo(backend=b.name, provider=b.provider, precision=b.precision,
                            device=b.device, model_path=str(self._source.path),
                            model=self._source.info, fallback_reasons=self._fallback,
                            batch_size=self._runner.batch_size, detail=b.detail,
                            shapes=self._painter.shapes.count if self._painter else 0)

    @overload
    def __call__(self, image: PathOrPil, *, strength: float = ...,
                 preserve_color: bool = ...) -> Image.Image: ...
    @overload
    def __call__(self, image: NDArray[_S], *, strength: float = ...,
                 preserve_color: bool = ...) -> NDArray[_S]: ...
    @overload
    def __call__(self, image: ImageInput, *, strength: float = ...,
                 preserve_color: bool = ...) -> Output: ...

    def __call__(self, image: ImageInput, *, strength: float = 1.0,
                 preserve_color: bool = False) -> Output:
        """Stylise one image and return it in the kind it was given.

        Args:
            image: PIL image, numpy ``H×W×3`` uint8 (or gray / RGBA / float in [0, 1]), or a path.
            strength: 0 returns the input, 1 the full style; between them a blend.
            preserve_color: Keep the input's colours and restyle only its luminance.

        Returns:
            A PIL image for PIL and path inputs, else an array of the input's dtype and layout.

        Raises:
            InvalidImageError: The image cannot be used; the message says why.

        Example:
            >>> import numpy as np
            >>> with Stylizer("sunset", backend="ort_cpu") as st:
            ...     st(np.zeros((64, 48, 3), np.uint8)).shape
            (64, 48, 3)
        """
        return self.stylize_batch([image], strength=strength, preserve_color=preserve_color)[0]

    @overload
    def stylize_batch(self, images: Sequence[PathOrPil], *, strength: float = ...,
                      preserve_color: bool = ...) -> list[Image.Image]: ...
    @overload
    def stylize_batch(self, images: Sequence[NDArray[_S]], *, strength: float = ...,
                      preserve_color: bool = ...) -> list[NDArray[_S]]: ...
    @overload
    def stylize_batch(self, images: Sequence[ImageInput], *, strength: float = ...,
                      preserve_color: bool = ...) -> list[Output]: ...

    def stylize_batch(self, images: Sequence[ImageInput], *, strength: float = 1.0,
                      preserve_color: bool = False) -> list[Any]:
        """Stylise a list of images (sizes may differ); returns a list in the same order, each
        in the kind it was given (see :meth:`__call__`).

        Example:
            >>> from PIL import Image
            >>> with Stylizer("sunset", backend="ort_cpu") as st:
            ...     [im.size for im in st.stylize_batch([Image.new("RGB", (40, 30)),
            ...                                          Image.new("RGB", (20, 20))])]
            [(40, 30), (20, 20)]
        """
        strength = postprocess.check_strength(strength)
        window = self._runner.window(list(enumerate(images)), raise_errors=True)
        return [finish(item, strength, preserve_color)
                for item in self._runner.run([window])]

    @overload
    def stream(self, frames: Iterable[PathOrPil], *, strength: float = ...,
               preserve_color: bool = ...) -> Iterator[Image.Image]: ...
    @overload
    def stream(self, frames: Iterable[NDArray[_S]], *, strength: float = ...,
               preserve_color: bool = ...) -> Iterator[NDArray[_S]]: ...
    @overload
    def stream(self, frames: Iterable[ImageInput], *, strength: float = ...,
               preserve_color: bool = ...) -> Iterator[Output]: ...

    def stream(self, frames: Iterable[ImageInput], *, strength: float = 1.0,
               preserve_color: bool = False) -> Iterator[Any]:
        """Stylise an iterable of frames lazily, in order, with bounded memory.

        Frames are read and prepared in a worker thread while earlier batches run; about
        ``(prefetch + in_flight) × batch_size`` frames are held at once.

        Frames finished before an error are delivered first: when ``frames`` raises midway,
        every frame read before it comes out, in order, and then its exception is raised.

        Raises:
            InvalidImageError: At the position of an unusable frame.

        Example:
            >>> import numpy as np
            >>> frames = (np.full((32, 32, 3), k, np.uint8) for k in range(5))
            >>> with Stylizer("sunset", backend="ort_cpu", batch_size=2) as st:
            ...     [out.shape for out in st.stream(frames)]
            [(32, 32, 3), (32, 32, 3), (32, 32, 3), (32, 32, 3), (32, 32, 3)]
        """
        return stream(self._runner, frames, prefetch=self._prefetch,
                      strength=postprocess.check_strength(strength), preserve_color=preserve_color)

    def stylize_folder(self, src: str | os.PathLike[str], dst: str | os.PathLike[str], *,
                       strength: float = 1.0, preserve_color: bool = False,
                       overwrite: bool = False, progress: bool = True) -> FolderReport:
        """Stylise every image under ``src`` into ``dst``, keeping relative paths.

        Outputs that already exist are skipped (so an interrupted run resumes), each output is
        written atomically, and unreadable inputs are reported and counted, not fatal.

        Args:
            src: Input folder (walked recursively; ``dst`` is left out if it lies inside).
            dst: Output folder.
            strength: See :meth:`__call__`.
            preserve_color: See :meth:`__call__`.
            overwrite: Redo outputs that already exist.
            progress: Show a progress bar on standard error.

        Returns:
            What was written, skipped and failed.

        Raises:
            ConfigError: ``src`` is not a folder, ``dst`` is ``src``, or outputs would clash.

        Example:
            >>> report = st.stylize_folder("photos/", "styled/")  # doctest: +SKIP
            >>> len(report.failed)  # doctest: +SKIP
            0
        """
        return self._stylize_pairs(folder_pairs(src, dst), strength=strength,
                                   preserve_color=preserve_color, overwrite=overwrite,
                                   progress=progress)

    def stylize_files(self, files: Sequence[str | os.PathLike[str]],
                      dst: str | os.PathLike[str], *, strength: float = 1.0,
                      preserve_color: bool = False, overwrite: bool = False,
                      progress: bool = True) -> FolderReport:
        """Stylise image files into folder ``dst`` under their own names (see
        :meth:`stylize_folder` for resume, atomic writes and error handling).

        Example:
            >>> st.stylize_files(["a.jpg", "b.png"], "styled/")  # doctest: +SKIP
        """
        return self._stylize_pairs(file_pairs(files, dst), strength=strength,
                                   preserve_color=preserve_color, overwrite=overwrite,
                                   progress=progress)

    def stylize_pairs(self, pairs: Sequence[tuple[str | os.PathLike[str], str | os.PathLike[str]]],
                      *, strength: float = 1.0, preserve_color: bool = False,
                      overwrite: bool = False, progress: bool = True) -> FolderReport:
        """Stylise explicit ``(input file, output file)`` pairs: the one job behind
        :meth:`stylize_folder`, :meth:`stylize_files` and ``restyle stylize`` (see
        :mod:`restyle.jobs.folder` for its rules: clashes refused before any work, resume,
        atomic writes, one bad item recorded while the others are written).

        Example:
            >>> st.stylize_pairs([("a.jpg", "out/a-styled.png")])  # doctest: +SKIP
        """
        return self._stylize_pairs([(Path(s), Path(d)) for s, d in pairs], strength=strength,
                                   preserve_color=preserve_color, overwrite=overwrite,
                                   progress=progress)

    def stylize_video(self, src: str | os.PathLike[str], dst: str | os.PathLike[str], *,
                      strength: float = 1.0, preserve_color: bool = False,
                      size: int | None = None, codec: str = "libx264", crf: int | None = 18,
                      preset: str | None = None, pix_fmt: str | None = None,
                      temporal: TemporalBlend | None = None, resume: bool = False,
                      progress: bool = True, measure_flicker: bool = False,
                      segment_frames: int = 600, allow_truncated: bool = False) -> VideoReport:
        """Stylise a video file with :func:`restyle.video.stylize_video` (needs ``[video]``).

        Decoding, this Stylizer and encoding run overlapped; audio, timing and colour tags are
        kept; ``resume=True`` continues an interrupted run (of the same model file, backend,
        precision, strength and colour setting). Encoder options, ``segment_frames`` and
        ``allow_truncated`` as in :func:`restyle.video.stylize_video`; ``restyle video`` calls
        this method.

        Example:
            >>> report = st.stylize_video("clip.mp4", "styled.mp4")  # doctest: +SKIP
            >>> report.frames, round(report.fps, 1)  # doctest: +SKIP
            (240, 31.5)
        """
        from restyle.video import stylize_video

        strength = postprocess.check_strength(strength)

        def batch(frames: list[Any]) -> list[Any]:
            return self.stylize_batch(frames, strength=strength, preserve_color=preserve_color)

        b = self._backend.info
        model = os.stat(self._source.path)
        key = (f"{self._source.path.resolve()}:{model.st_size}:{model.st_mtime_ns}|{b.name}"
               f"|{b.precision}|strength={strength}|color={preserve_color}")
        return stylize_video(src, dst, batch, batch_size=self._runner.batch_size, size=size,
                             codec=codec, crf=crf, preset=preset, pix_fmt=pix_fmt,
                             temporal=temporal, resume=resume, progress=progress,
                             measure_flicker=measure_flicker, resume_key=key,
                             segment_frames=segment_frames, allow_truncated=allow_truncated)

    def close(self) -> None:
        """Release the backend (sessions, device buffers, streams)."""
        if not self._closed:
            self._closed = True
            if isinstance(self._tiler, WholeImageNormTiler):
                self._tiler.close()
            self._backend.close()

    def __enter__(self) -> Stylizer:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def __repr__(self) -> str:
        b = self._backend.info
        return f"Stylizer({str(self._source.path)!r}, backend={b.name!r}, device={b.device!r})"

    # --- internals ---------------------------------------------------------------------------

    def _stylize_pairs(self, pairs: Sequence[tuple[Path, Path]], *, strength: float,
                       preserve_color: bool, overwrite: bool, progress: bool) -> FolderReport:
        return run_pairs(self._runner, list(pairs), prefetch=self._prefetch, strength=strength,
                         preserve_color=preserve_color, overwrite=overwrite, progress=progress)
