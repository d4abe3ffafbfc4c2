"""Ray Data batch inference: a :class:`~restyle.Stylizer` per actor over a dataset of images.

:func:`stylize_dataset` adds a ``stylized`` column to a Ray Dataset whose ``image`` column holds
``H×W×3`` uint8 arrays (sizes may differ). It is built with ``Dataset.map_batches`` over the
callable class :class:`StylizeBatches`: Ray starts ``concurrency`` actors, each loads the model
once (an ONNX Runtime / OpenVINO session or a TensorRT engine) and then stylises batch after batch.

The model file travels with the job (through Ray's object store), so worker machines need restyle
installed but not the model file. On GPU workers Ray hands each actor its own GPU through
``CUDA_VISIBLE_DEVICES``, which the actor sees as device 0.

Needs ``pip install 'restyle[ray]'``; ``import restyle`` never imports Ray.
"""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from restyle import postprocess
from restyle._optional import require
from restyle.errors import ConfigError, ModelFormatError
from restyle.modelinfo import read_model_info
from restyle.paths import atomic_output, cache_dir
from restyle.precision import int8_path
from restyle.styles import resolve_model

if TYPE_CHECKING:
    from ray.data import Dataset

    from restyle.stylizer import Stylizer

__all__ = ["ModelFiles", "StylizeBatches", "StylizeOptions", "stylize_dataset"]

log = logging.getLogger("restyle.integrations.ray")

_ENGINE_SUFFIXES = frozenset({".engine", ".plan", ".trt"})


@dataclass(frozen=True)
class ModelFiles:
    """A model file's bytes, and for an engine the files beside it, shipped to worker machines.

    Attributes:
        name: The file name (``mosaic.onnx``, ``mosaic.engine``).
        data: Its bytes.
        sha256: Hash of all the bytes; names the copy on each worker.
        beside: ``(name, bytes)`` of the files an engine is read with: the ONNX file it was built
            from (its metadata) and the ``.engine.json`` sidecar restyle.export writes (the
            TensorRT version and GPU it was built for, checked before loading).
    """

    name: str
    data: bytes
    sha256: str
    beside: tuple[tuple[str, bytes], ...] = ()

    @classmethod
    def read(cls, model: str | os.PathLike[str]) -> ModelFiles:
        """Read a model file (or a bundled style) on the driver.

        Raises:
            ModelFormatError: The model does not exist, cannot be read, or (ONNX) is not a
                restyle model; checked here so that the job fails before any actor starts.
        """
        path = resolve_model(model)
        engine = path.suffix.lower() in _ENGINE_SUFFIXES
        if not engine:
            read_model_info(path)
        # An engine travels with its ONNX file and sidecar, an ONNX model with its int8 model.
        companions = ([path.with_suffix(".onnx"), path.with_name(path.name + ".json")] if engine
                      else [int8_path(path)])
        try:
            data = path.read_bytes()
            beside = tuple((p.name, p.read_bytes()) for p in companions
                           if p.is_file() and p != path)
        except OSError as exc:
            raise ModelFormatError(f"cannot read model {path}: {exc}: pass a readable .onnx or "
                                   ".engine file") from exc
        digest = hashlib.sha256(data)
        for name, content in beside:
            digest.update(name.encode() + content)
        return cls(path.name, data, digest.hexdigest(), beside)

    def materialize(self, root: Path | None = None) -> Path:
        """Write the files once under ``root`` (default: the user cache) and return the model path.

        Several actors on one machine may do this at once: each write is atomic.
        """
        folder = (root or cache_dir() / "ray-models") / self.sha256[:20]
        for name, data in ((self.name, self.data), *self.beside):
            target = folder / name
            if not target.is_file() or target.stat().st_size != len(data):
                with atomic_output(target) as tmp:
                    tmp.write_bytes(data)
        return folder / self.name


@dataclass(frozen=True)
class StylizeOptions:
    """How each actor builds its :class:`~restyle.Stylizer` and what it applies.

    Attributes:
        backend: ``auto``, ``tensorrt``, ``ort_cuda``, ``openvino`` or ``ort_cpu``.
        batch_size: Largest batch sent to the backend.
        threads: CPU threads of a CPU backend.
        precision: ``auto``, ``fp32``, ``bf16``, ``fp16`` or ``int8`` (see ``Stylizer``).
        strength: 0 keeps the input, 1 is the full style.
        preserve_color: Keep the input's colours, restyle only luminance.
        column: Input column of ``H×W×3`` uint8 images.
        output_column: Column added with the stylised images.
    """

    backend: str = "auto"
    batch_size: int = 8
    threads: int | None = None
    strength: float = 1.0
    preserve_color: bool = False
    column: str = "image"
    output_column: str = "stylized"
    precision: str = "auto"


def frames_of(column: Any) -> list[np.ndarray]:
    """A numpy batch column as a list of images: a 4-D array, or an object array of mixed sizes."""
    array = np.asarray(column) if not isinstance(column, np.ndarray) else column
    if array.dtype == object or array.ndim == 1:
        return [np.asarray(x) for x in array]
    return list(array)


def column_of(images: list[np.ndarray]) -> np.ndarray:
    """Images as one numpy batch column: stacked if they share a shape, else an object array."""
    if images and len({im.shape for im in images}) == 1:
        return np.stack(images)
    out = np.empty(len(images), dtype=object)
    for i, im in enumerate(images):
        out[i] = im
    return out


class StylizeBatches:
    """The ``map_batches`` callable class: one Stylizer per Ray actor, reused for every batch.

    Args:
        model: The model's bytes (:meth:`ModelFiles.read`).
        options: How to build and apply the Stylizer.
    """

    def __init__(self, model: ModelFiles, options: StylizeOptions) -> None:
        from restyle.stylizer import Stylizer

        self._options = options
        self._stylizer: Stylizer | None = Stylizer(
            model.materialize(), backend=options.backend, batch_size=options.batch_size,
            threads=options.threads, precision=options.precision)
        log.info("ray actor %d: %r", os.getpid(), self._stylizer)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Add the stylised images of ``batch[column]`` as ``batch[output_column]``."""
        opts = self._options
        if self._stylizer is None:
            raise ConfigError("this StylizeBatches actor was closed")
        if opts.column not in batch:
            raise ConfigError(f"the dataset has no {opts.column!r} column (it has "
                              f"{', '.join(sorted(batch)) or 'none'}): pass column=NAME")
        outs = self._stylizer.stylize_batch(frames_of(batch[opts.column]), strength=opts.strength,
                                            preserve_color=opts.preserve_color)
        return {**batch, opts.output_column: column_of(outs)}

    def close(self) -> None:
        """Release the Stylizer (sessions, device buffers)."""
        stylizer, self._stylizer = self._stylizer, None
        if stylizer is not None:
            stylizer.close()

    def __del__(self) -> None:  # Ray Data ends actors without another hook
        if hasattr(self, "_stylizer"):  # __init__ may have failed
            self.close()


def check_resources(*, batch_size: int, concurrency: int, num_gpus: float,
                    num_cpus: float) -> None:
    """Raise :class:`ConfigError` for an impossible batch size, actor count or resource ask."""
    if batch_size < 1 or concurrency < 1:
        raise ConfigError(f"batch_size={batch_size} and concurrency={concurrency} must be at "
                          "least 1")
    if num_gpus < 0 or num_cpus < 0 or (num_gpus == 0 and num_cpus == 0):
        raise ConfigError(f"num_gpus={num_gpus}, num_cpus={num_cpus}: give each actor a positive "
                          "share of CPUs or GPUs (e.g. num_gpus=1 on GPU nodes)")


def stylize_dataset(
    ds: Dataset,
    model: str | os.PathLike[str],
    *,
    batch_size: int = 8,
    num_gpus: float = 0.0,
    num_cpus: float = 1.0,
    concurrency: int = 1,
    backend: str = "auto",
    threads: int | None = None,
    strength: float = 1.0,
    preserve_color: bool = False,
    column: str = "image",
    output_column: str = "stylized",
) -> Dataset:
    """Add a column of stylised images to a Ray Dataset (lazily, like every Ray Data transform).

    Args:
        ds: Rows with an ``image`` column of ``H×W×3`` uint8 arrays (sizes may differ).
        model: An exported ``.onnx`` file, a TensorRT ``.engine`` or a bundled style name, on the
            driver: it is shipped to the workers.
        batch_size: Rows per actor call (and largest backend batch).
        num_gpus: GPUs per actor (1 on GPU nodes; a fraction shares a GPU between actors).
        num_cpus: CPUs per actor.
        concurrency: Number of actors, each with its own Stylizer.
        backend: ``auto`` (fastest available on the worker) or a backend name.
        threads: CPU threads per actor for CPU backends (default: ``num_cpus`` rounded, ≥ 1).
        strength: 0 keeps the input, 1 is the full style.
        preserve_color: Keep the input's colours, restyle only luminance.
        column: The input column.
        output_column: The column added.

    Returns:
        The dataset with ``output_column`` added. Rows come out in Ray's order, not necessarily
        the input's: carry an id column, or set ``DataContext.get_current().execution_options
        .preserve_order = True``.

    Raises:
        DependencyError: Ray is not installed (``pip install 'restyle[ray]'``).
        ConfigError: An argument is out of range or ``ds`` is not a Ray Dataset.
        ModelFormatError: The model does not exist.

    Example:
        >>> import numpy as np, ray
        >>> from restyle.integrations.ray import stylize_dataset
        >>> ds = ray.data.from_items([{"image": np.zeros((64, 64, 3), np.uint8)}])  # doctest: +SKIP
        >>> out = stylize_dataset(ds, "mosaic.onnx", concurrency=2)  # doctest: +SKIP
        >>> out.take(1)[0]["stylized"].shape  # doctest: +SKIP
        (64, 64, 3)
    """
    ray_data = require("ray.data", purpose="Ray Data batch inference")
    if not isinstance(ds, ray_data.Dataset):
        raise ConfigError(f"ds is a {type(ds).__name__}, not a Ray Dataset: build one with "
                          "ray.data.from_items([{'image': array}, ...]) or ray.data.read_images")
    check_resources(batch_size=batch_size, concurrency=concurrency, num_gpus=num_gpus,
                    num_cpus=num_cpus)
    if column == output_column:
        raise ConfigError(f"column and output_column are both {column!r}: the input would be "
                          "overwritten; choose another output_column")
    options = StylizeOptions(
        backend=backend, batch_size=batch_size,
        threads=threads if threads is not None else max(1, round(num_cpus)),
        strength=postprocess.check_strength(strength), preserve_color=preserve_color,
        column=column, output_column=output_column)
    result: Dataset = ds.map_batches(
        StylizeBatches, fn_constructor_kwargs={"model": ModelFiles.read(model), "options": options},
        batch_size=batch_size, batch_format="numpy", num_cpus=num_cpus, num_gpus=num_gpus,
        compute=ray_data.ActorPoolStrategy(size=concurrency))
    return result
