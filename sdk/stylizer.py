"""``Stylizer``: a model and a backend, applied to images, batches, streams and folders.

Frames are grouped by shape into batches, prepared in a worker thread and kept in flight on the
backend (two or more batches at once on a GPU), so decoding, copies and compute overlap. Images
larger than ``max_pixels`` go through :mod:`restyle.tiling`. A GPU out-of-memory error halves the
batch and retries.
"""

from __future__ import annotations

import logging
import os
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, cast

from restyle import postprocess
from restyle.backends.base import Backend, BackendConfig, ModelSource
from restyle.backends.registry import open_backend
from restyle.batching import BatchRunner, Item, Prefetcher, Window, windows
from restyle.errors import ConfigError, InvalidImageError
from restyle.images import IMAGE_SUFFIXES, ImageInput, restore, save_image
from restyle.modelinfo import ModelInfo, read_model_info
from restyle.paths import atomic_output
from restyle.progress import Progress
from restyle.styles import resolve_model
from restyle.tilenorm import WholeImageNormTiler, check_tile_norm, make_tiler

if TYPE_CHECKING:
    from restyle.video import TemporalBlend, VideoReport

__all__ = ["FolderReport", "Stylizer", "StylizerInfo"]

log = logging.getLogger("restyle.stylizer")

ENGINE_SUFFIXES = frozenset({".engine", ".plan", ".trt"})


@dataclass(frozen=True)
class StylizerInfo:
    """What a :class:`Stylizer` runs on.

    Attributes:
        backend: Backend name (``tensorrt``, ``ort_cuda``, ``openvino``, ``ort_cpu``).
        provider: The runtime underneath (e.g. ``CPUExecutionProvider``, ``OpenVINO CPU``).
        precision: ``fp32`` or ``fp16``.
        device: ``cpu`` or ``cuda:N``.
        model_path: The model file.
        model: The model's restyle metadata (None for an engine without its ONNX beside it).
        fallback_reasons: For ``backend="auto"``, why each faster backend was skipped.
        batch_size: Current largest batch (halved after an out-of-memory error).
        detail: Backend specifics (threads, streams, engine file ...).
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

    def as_dict(self) -> dict[str, Any]:
        """All fields as JSON-friendly values."""
        return asdict(self)


@dataclass(frozen=True)
class FolderReport:
    """What :meth:`Stylizer.stylize_folder` / :meth:`Stylizer.stylize_files` did.

    Attributes:
        written: Output files written by this call.
        skipped: Inputs whose output already existed (resume).
        failed: ``(input, reason)`` for inputs that could not be read.
    """

    written: tuple[Path, ...] = ()
    skipped: tuple[Path, ...] = ()
    failed: tuple[tuple[Path, str], ...] = field(default_factory=tuple)


def _model_source(model: str | os.PathLike[str]) -> ModelSource:
    path = resolve_model(model)
    if path.suffix.lower() in ENGINE_SUFFIXES:
        beside = path.with_suffix(".onnx")
        info = read_model_info(beside) if beside.exists() else None
        return ModelSource(path, "engine", info)
    return ModelSource(path, "onnx", read_model_info(path))


class Stylizer:
    """Apply a restyle model to images, batches, streams and folders.

    Args:
        model: An exported ``.onnx`` file, a TensorRT ``.engine``, or a bundled style name.
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

    Raises:
        ModelFormatError: The model is missing or not a restyle model.
        ConfigError: An argument is out of range or the backend name is unknown.
        BackendUnavailableError: The named backend (or every one, for ``"auto"``) cannot run here.

    A ``Stylizer`` may be called from several threads at once; each backend documents how it
    keeps that safe.

    Example:
        >>> import numpy as np
        >>> from restyle import Stylizer
        >>> with Stylizer("mosaic.onnx", batch_size=8) as st:  # doctest: +SKIP
        ...     out = st(np.zeros((512, 512, 3), np.uint8), strength=0.8)
        ...     outs = st.stylize_batch(["a.jpg", "b.png"])
        ...     report = st.stylize_folder("photos/", "styled/")
        ...     print(out.shape, st.info.backend, st.info.fallback_reasons)
        (512, 512, 3) openvino ('tensorrt: TensorRT is not installed', ...)
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
        in_flight: int = 2,
        prefetch: int = 2,
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
        self._source = _model_source(model)
        config = BackendConfig(device=device, batch_size=batch_size, threads=threads, cuda=cuda,
                               stream=stream, cuda_graph=cuda_graph, slots=max(2, in_flight))
        self._backend: Backend
        self._backend, self._fallback = open_backend(backend, self._source, config)
        self._tiler = make_tiler(tile_norm, self._source, backend=self._backend.info.name,
                                 threads=threads, batch_size=batch_size)
        self._runner = BatchRunner(self._backend, batch_size=batch_size, in_flight=in_flight,
                                   max_pixels=max_pixels, tile=tile_size, overlap=tile_overlap,
                                   tiler=self._tiler)
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
                            batch_size=self._runner.batch_size, detail=b.detail)

    def __call__(self, image: ImageInput, *, strength: float = 1.0,
                 preserve_color: bool = False) -> Any:
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
            >>> out = st(np.zeros((64, 64, 3), np.uint8))  # doctest: +SKIP
        """
        return self.stylize_batch([image], strength=strength, preserve_color=preserve_color)[0]

    def stylize_batch(self, images: Sequence[ImageInput], *, strength: float = 1.0,
                      preserve_color: bool = False) -> list[Any]:
        """Stylise a list of images (sizes may differ); returns a list in the same order.

        Example:
            >>> outs = st.stylize_batch([img_a, img_b])  # doctest: +SKIP
        """
        strength = postprocess.check_strength(strength)
        window = self._runner.window(list(enumerate(images)), raise_errors=True)
        return [self._finish(item, strength, preserve_color)
                for item in self._runner.run([window])]

    def stream(self, frames: Iterable[ImageInput], *, strength: float = 1.0,
               preserve_color: bool = False) -> Iterator[Any]:
        """Stylise an iterable of frames lazily, in order, with bounded memory.

        Frames are read and prepared in a worker thread while earlier batches run; about
        ``(prefetch + in_flight) × batch_size`` frames are held at once.

        Raises:
            InvalidImageError: At the position of an unusable frame.

        Example:
            >>> for out in st.stream(frames):  # doctest: +SKIP
            ...     writer.write(out)
        """
        return self._stream(frames, postprocess.check_strength(strength), preserve_color)

    def _stream(self, frames: Iterable[ImageInput], strength: float,
                preserve_color: bool) -> Iterator[Any]:
        def build(chunk: list[ImageInput]) -> Window:
            return self._runner.window(list(enumerate(chunk)), raise_errors=False)

        with Prefetcher(windows(frames, self._runner.batch_size), build, depth=self._prefetch,
                        name="restyle-stream") as pre:
            for item in self._runner.run(pre):
                if item.error is not None:
                    raise item.error
                yield self._finish(item, strength, preserve_color)

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
            ConfigError: ``src`` is not a folder, or ``dst`` is ``src``.

        Example:
            >>> report = st.stylize_folder("photos/", "styled/")  # doctest: +SKIP
            >>> len(report.failed)
            0
        """
        src_p, dst_p = Path(src), Path(dst)
        if not src_p.is_dir():
            raise ConfigError(f"{src_p} is not a folder: pass a folder of images (or use "
                              "stylize_files for single files)")
        if src_p.resolve() == dst_p.resolve():
            raise ConfigError(f"output folder {dst_p} is the input folder: choose another "
                              "output folder (inputs are never overwritten)")
        dst_r = dst_p.resolve()
        files = [p for p in sorted(src_p.rglob("*"))
                 if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
                 and not p.name.startswith(".") and dst_r not in p.resolve().parents]
        pairs = [(p, dst_p / p.relative_to(src_p)) for p in files]
        return self._stylize_pairs(pairs, strength=strength, preserve_color=preserve_color,
                                   overwrite=overwrite, progress=progress)

    def stylize_files(self, files: Sequence[str | os.PathLike[str]],
                      dst: str | os.PathLike[str], *, strength: float = 1.0,
                      preserve_color: bool = False, overwrite: bool = False,
                      progress: bool = True) -> FolderReport:
        """Stylise image files into folder ``dst`` under their own names (see
        :meth:`stylize_folder` for resume, atomic writes and error handling).

        Example:
            >>> st.stylize_files(["a.jpg", "b.png"], "styled/")  # doctest: +SKIP
        """
        pairs = [(Path(f), Path(dst) / Path(f).name) for f in files]
        names = [d.name for _, d in pairs]
        clash = sorted({n for n in names if names.count(n) > 1})
        if clash:
            raise ConfigError(f"several inputs are named {', '.join(clash)}: their outputs would "
                              "overwrite each other; stylise their folders instead")
        return self._stylize_pairs(pairs, strength=strength, preserve_color=preserve_color,
                                   overwrite=overwrite, progress=progress)

    def stylize_video(self, src: str | os.PathLike[str], dst: str | os.PathLike[str], *,
                      strength: float = 1.0, preserve_color: bool = False,
                      size: int | None = None, codec: str = "libx264", crf: int | None = 18,
                      preset: str | None = None, pix_fmt: str = "yuv420p",
                      temporal: TemporalBlend | None = None, resume: bool = False,
                      progress: bool = True, measure_flicker: bool = False) -> VideoReport:
        """Stylise a video file with :func:`restyle.video.stylize_video` (needs ``[video]``).

        Decoding, this Stylizer and encoding run overlapped; audio, timing and colour tags are
        kept; ``resume=True`` continues an interrupted run. Encoder options as in
        :func:`restyle.video.stylize_video`.

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
        key = (f"{self._source.path}|{b.name}|{b.precision}|strength={strength}"
               f"|color={preserve_color}")
        return stylize_video(src, dst, batch, batch_size=self._runner.batch_size, size=size,
                             codec=codec, crf=crf, preset=preset, pix_fmt=pix_fmt,
                             temporal=temporal, resume=resume, progress=progress,
                             measure_flicker=measure_flicker, resume_key=key)

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
        strength = postprocess.check_strength(strength)
        todo = [(s, d) for s, d in pairs if overwrite or not d.exists()]
        skipped = tuple(s for s, d in pairs if not overwrite and d.exists())
        if skipped:
            log.info("%d of %d outputs exist already: skipped (pass overwrite=True to redo)",
                     len(skipped), len(pairs))
        written: list[Path] = []
        failed: list[tuple[Path, str]] = []

        def build(chunk: list[tuple[Path, Path]]) -> Window:
            return self._runner.window([((s, d), s) for s, d in chunk], raise_errors=False)

        # Outputs are finished and encoded on a writer thread (Pillow's encoders release the
        # GIL), so the next batch is submitted while this one is written; at most two batches
        # of outputs wait. Leaving the block waits for every write, also on Ctrl-C.
        pending: deque[tuple[Path, Future[None]]] = deque()

        def settle(keep: int) -> None:
            while len(pending) > keep:
                done, future = pending.popleft()
                future.result()  # an OutputError surfaces here
                written.append(done)
                bar.update(1)

        with Progress(total=len(pairs), initial=len(skipped), desc="stylize", unit="img",
                      enabled=progress) as bar, \
                ThreadPoolExecutor(1, thread_name_prefix="restyle-write") as writer, \
                Prefetcher(windows(todo, self._runner.batch_size), build, depth=self._prefetch,
                           name="restyle-folder") as pre:
            for item in self._runner.run(pre):
                src, dst = cast(tuple[Path, Path], item.tag)  # the tags built just above
                if item.error is not None:
                    log.warning("skipped %s: %s", src, item.error)
                    failed.append((src, str(item.error)))
                    bar.update(1)
                else:
                    pending.append((dst, writer.submit(self._write, item, dst, strength,
                                                       preserve_color)))
                settle(2 * self._runner.batch_size)
            settle(0)
        if failed:
            log.warning("%d input(s) could not be read; see the messages above", len(failed))
        return FolderReport(tuple(written), skipped, tuple(failed))

    @classmethod
    def _write(cls, item: Item, dst: Path, strength: float, preserve_color: bool) -> None:
        image = cls._finish(item, strength, preserve_color)
        with atomic_output(dst) as tmp:
            save_image(image, tmp)

    @staticmethod
    def _finish(item: Item, strength: float, preserve_color: bool) -> Any:
        if item.prepared is None or item.output is None:  # pragma: no cover - errors handled
            raise InvalidImageError(f"image {item.tag} has no output: {item.error}")
        rgb = postprocess.apply(item.output, item.prepared.rgb, strength=strength,
                                keep_color=preserve_color)
        return restore(item.prepared, rgb)
