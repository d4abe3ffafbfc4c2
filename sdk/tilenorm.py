"""Tiled inference whose tiles all normalise with the whole image's statistics.

A tile normalised with its own InstanceNormalization statistics is coloured differently from the
whole image (``mosaic`` on a 2400×1600 photo: 48 grey levels on average; blue hair turns red).
:class:`WholeImageNormTiler` runs models with InstanceNormalization in passes, each over tiles
or over one tile-sized image, so memory stays what one batch of tiles needs:

1. **Estimate**: the statistics graph (:func:`restyle.normgraph.statistics_model`) on a copy of
   the image downscaled to one tile's pixels. Alone this is not enough: every layer's statistics
   depend on the resolution (``mosaic``: still 10 grey levels off from a 1254-pixel copy of a
   2400-pixel photo), and measured layer by layer every one of them matters.
2. **Measure** (``exact=True``, the default): for each normalisation ``k`` in order, every tile
   runs the model up to ``k`` (:func:`restyle.normgraph.tile_model` with ``sums_of=k``) with the
   exact statistics of the layers before it and returns masked sums over its core (the part
   nearer to its centre than to any neighbour's; the cores partition the image). Summed over
   tiles they are layer ``k``'s whole-image statistics. With the final render this takes 3.4×
   (``ink``) to 7× (the ``compact`` styles) the CPU time of plain tiling (2400×1600, ONNX
   Runtime); memory stays that of plain tiling.
3. **Render**: the feathered tiling of :func:`restyle.tiling.run_tiled`, with the tile graph fed
   the final statistics: the result matches the untiled one within a grey level or two.

The graphs are rewritten from the model's ONNX file the first time an image needs tiles (so
``onnx`` is needed then, and only then; see :mod:`restyle.normgraph` for why) and run on the
same kind of runtime as the Stylizer's backend: ONNX Runtime (CPU, or CUDA for the GPU backends)
or OpenVINO. Models without InstanceNormalization, and a TensorRT engine without its ``.onnx``
beside it, tile as before.

Why over 300 lines: the exact statistics need the per-layer passes, the tile cores that cover the
image once and the runners of the rewritten graphs together; the graph rewrite itself is
:mod:`restyle.normgraph`.
"""

from __future__ import annotations

import importlib.util
import itertools
import logging
import threading
from types import TracebackType
from typing import Any

import numpy as np
from numpy.typing import NDArray

from restyle._optional import require
from restyle.backends.base import ModelIO, ModelSource, translate_error
from restyle.environment import physical_cores
from restyle.errors import ConfigError, DependencyError, ModelFormatError
from restyle.normgraph import (
    MASK,
    instance_norms,
    stat_names,
    statistics_model,
    sum_names,
    tile_model,
)
from restyle.tiling import Infer, TileGrid, Tiler, plan_tiles, run_tiled

__all__ = ["TILE_NORMS", "WholeImageNormTiler", "check_tile_norm", "make_tiler", "tile_cores"]

log = logging.getLogger("restyle.tilenorm")

Stats = dict[str, NDArray[np.float32]]

#: ``tile_norm`` choices of :class:`restyle.Stylizer` → what they mean.
TILE_NORMS: dict[str, str] = {
    "exact": "whole-image statistics measured over the tiles layer by layer (matches untiled)",
    "estimate": "whole-image statistics estimated on a downscaled copy (faster, approximate)",
    "tile": "each tile normalised with its own statistics (fastest; colours drift per tile)",
}


def check_tile_norm(mode: str) -> str:
    """``mode`` if it is one of :data:`TILE_NORMS`.

    Raises:
        ConfigError: It is not.
    """
    if mode not in TILE_NORMS:
        raise ConfigError(f"tile_norm={mode!r} is not one of {', '.join(map(repr, TILE_NORMS))}")
    return mode


def make_tiler(mode: str, source: ModelSource, *, backend: str, threads: int | None,
               batch_size: int) -> Tiler:
    """The tiling function for a ``tile_norm`` mode (see :data:`TILE_NORMS`).

    Raises:
        ConfigError: ``mode`` is not one of :data:`TILE_NORMS`.
    """
    if check_tile_norm(mode) == "tile":
        return run_tiled
    return WholeImageNormTiler(source, backend=backend, threads=threads, batch_size=batch_size,
                               exact=mode == "exact")


def tile_cores(starts: tuple[int, ...], size: int, length: int) -> list[tuple[int, int]]:
    """Each tile's core along one axis: the ``[lo, hi)`` tile coordinates nearer to it than to
    its neighbours. The cores of all tiles partition ``[0, length)``.

    Example:
        >>> tile_cores((0, 96, 122), 128, 250)
        [(0, 112), (16, 77), (51, 128)]
    """
    cuts = [0] + [(a + size + b) // 2 for a, b in itertools.pairwise(starts)] + [length]
    return [(lo - s, hi - s) for s, lo, hi in zip(starts, cuts, cuts[1:], strict=False)]


class _Graph:
    """One rewritten graph compiled on ONNX Runtime or OpenVINO: feeds in, named outputs out."""

    def __init__(self, proto: bytes, *, runtime: str, threads: int, f32: bool = False) -> None:
        self.runtime = runtime
        if runtime == "openvino":
            ov = require("openvino")
            core = ov.Core()
            config: dict[str, Any] = {"PERFORMANCE_HINT": "LATENCY",
                                      "INFERENCE_NUM_THREADS": threads}
            if f32:  # sums over a million pixels need float32 even where the CPU runs bf16
                config["INFERENCE_PRECISION_HINT"] = "f32"
            self._compiled = core.compile_model(core.read_model(proto), "CPU", config)
            self._names = [o.get_any_name() for o in self._compiled.outputs]
            # a parameter may carry several tensor names (OpenVINO merges a no-op CastLike into
            # it), so inputs are looked up by every name and fed by position
            self._ports = {n: k for k, i in enumerate(self._compiled.inputs) for n in i.get_names()}
            self.half = any("f16" in str(i.get_element_type()) for i in self._compiled.inputs)
            return
        ort = require("onnxruntime")
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        providers = ["CPUExecutionProvider"]
        if runtime == "cuda" and "CUDAExecutionProvider" in ort.get_available_providers():
            providers.insert(0, "CUDAExecutionProvider")
        self._session = ort.InferenceSession(proto, sess_options=options, providers=providers)
        self._names = [o.name for o in self._session.get_outputs()]
        self._ports = {i.name: k for k, i in enumerate(self._session.get_inputs())}
        self.half = any(i.type == "tensor(float16)" for i in self._session.get_inputs())

    def __call__(self, feeds: dict[str, NDArray[Any]]) -> dict[str, NDArray[Any]]:
        feeds = {name: value for name, value in feeds.items() if name in self._ports}
        if len({self._ports[n] for n in feeds}) < len(set(self._ports.values())):
            raise ModelFormatError(f"a tiling graph needs inputs {sorted(self._ports)}, got "
                                   f"{sorted(feeds)}")
        if self.runtime == "openvino":
            # a fresh infer request per call: its buffers go with it
            request = self._compiled.create_infer_request()
            request.infer({self._ports[n]: v for n, v in feeds.items()})
            return {n: np.array(request.get_output_tensor(i).data)
                    for i, n in enumerate(self._names)}
        return dict(zip(self._names, self._session.run(self._names, feeds), strict=True))

    def close(self) -> None:
        self.__dict__.pop("_compiled", None)
        self.__dict__.pop("_session", None)

    def __enter__(self) -> _Graph:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


class WholeImageNormTiler:
    """Tiles an image so that every tile normalises with the whole image's statistics.

    Called like :func:`restyle.tiling.run_tiled` (the ``BatchRunner`` tiling hook); the graphs are
    built on the first call.

    Args:
        source: The Stylizer's model.
        backend: The Stylizer's backend name (picks ONNX Runtime CPU / CUDA or OpenVINO).
        threads: CPU threads (None: the physical cores).
        batch_size: Largest number of tiles run at once.
        exact: Measure every layer's statistics over the tiles (the default); False uses the
            downscaled estimate alone (one small extra pass, a few to ten grey levels off).

    Raises:
        DependencyError: On the first call, when ``onnx`` is not installed.
        ModelFormatError: On the first call, when the model's graph cannot be rewritten.

    Example:
        >>> tiler = WholeImageNormTiler(source, backend="ort_cpu")  # doctest: +SKIP
        >>> out = tiler(image, backend_infer, tile=1024, overlap=128)  # doctest: +SKIP
    """

    def __init__(self, source: ModelSource, *, backend: str, threads: int | None = None,
                 batch_size: int = 8, exact: bool = True) -> None:
        self._source = source
        self._runtime = {"openvino": "openvino", "ort_cpu": "cpu"}.get(backend, "cuda")
        self._threads = threads or physical_cores()
        self._batch = max(1, batch_size)
        self.exact = exact
        self._io = ModelIO(source.io)
        self._graphs: dict[str, _Graph] | None = None
        self._stats = b""
        self._sums: list[bytes] = []
        self._plain = False
        self._lock = threading.Lock()

    def __call__(self, image: NDArray[np.uint8], infer: Infer, *, tile: int,
                 overlap: int) -> NDArray[np.uint8]:
        """Stylise ``image`` in tiles (``infer`` runs the plain model, for models that need no
        shared statistics)."""
        with self._lock:
            graphs = self._build()
            if graphs is None:
                return run_tiled(image, infer, tile=tile, overlap=overlap)
            grid = plan_tiles(int(image.shape[0]), int(image.shape[1]), tile=tile,
                              overlap=overlap)
            # the statistics graphs live for one pass each: a runtime keeps a graph's peak
            # buffers (ONNX Runtime's arena, OpenVINO's), and a dozen of them would hold a dozen
            # times one tile's memory; compiling one takes a few milliseconds
            with self._compile(self._stats, f32=True) as graph:
                stats = self._estimate(graph, image, tile)
            for k in range(len(self._sums) if self.exact else 0):
                with self._compile(self._sums[k], f32=True) as graph:
                    stats = self._measure(graph, k, image, grid, stats)
            render = graphs["tile"]
            return run_tiled(image, lambda b: self._render(render, b, stats), tile=tile,
                             overlap=overlap)

    def close(self) -> None:
        """Release the compiled graphs."""
        with self._lock:
            for graph in (self._graphs or {}).values():
                graph.close()
            self._graphs = None

    # --- passes -------------------------------------------------------------------------------

    def _run(self, graph: _Graph, feeds: dict[str, NDArray[Any]], shape: tuple[int, ...]
             ) -> dict[str, NDArray[Any]]:
        try:
            return graph(feeds)
        except Exception as exc:  # translated at the boundary
            raise translate_error(exc, backend=f"tiling ({graph.runtime})", shape=shape) from exc

    def _estimate(self, graph: _Graph, image: NDArray[np.uint8], tile: int) -> Stats:
        from PIL import Image

        h, w = int(image.shape[0]), int(image.shape[1])
        scale = min(1.0, tile / float(np.sqrt(h * w)))
        small = image
        if scale < 1.0:
            size = (max(1, round(w * scale)), max(1, round(h * scale)))
            small = np.asarray(Image.fromarray(image).resize(size, Image.Resampling.BOX))
        out = self._run(graph, {self._source.input_name: self._io.to_model(small[None])},
                        small[None].shape)
        return {k: v.astype(np.float32) for k, v in out.items()}

    def _measure(self, graph: _Graph, k: int, image: NDArray[np.uint8], grid: TileGrid,
                 stats: Stats) -> Stats:
        """``stats`` with normalisation ``k``'s replaced by its whole-image statistics."""
        th, tw = grid.tile_height, grid.tile_width
        rows = tile_cores(grid.ys, th, grid.height)
        cols = tile_cores(grid.xs, tw, grid.width)
        total = [np.zeros((1, 1, 1, 1))] * 3  # count, sum, sum of squares (float64)
        tiles = [(y, x, rows[r], cols[c]) for r, y in enumerate(grid.ys)
                 for c, x in enumerate(grid.xs)]
        for start in range(0, len(tiles), self._batch):
            chunk = tiles[start:start + self._batch]
            batch = np.stack([image[y:y + th, x:x + tw] for y, x, _, _ in chunk])
            mask = np.zeros((len(chunk), 1, th, tw), np.uint8)
            for i, (_, _, (r0, r1), (c0, c1)) in enumerate(chunk):
                mask[i, 0, r0:r1, c0:c1] = 1
            out = self._run(graph, {self._source.input_name: self._io.to_model(batch),
                                    MASK: mask, **stats}, batch.shape)
            total = [t + out[name].astype(np.float64).sum(axis=0, keepdims=True)
                     for t, name in zip(total, sum_names(k), strict=True)]
        count, s1, s2 = total
        mean, var = stat_names(k)
        d = s1 / np.maximum(count, 1.0)
        new = dict(stats)
        new[mean] = (stats[mean] + d).astype(np.float32)
        new[var] = np.maximum(s2 / np.maximum(count, 1.0) - d * d, 0.0).astype(np.float32)
        return new

    def _render(self, graph: _Graph, batch: NDArray[np.uint8], stats: Stats) -> NDArray[np.uint8]:
        outs = []
        for start in range(0, len(batch), self._batch):
            chunk = batch[start:start + self._batch]
            out = self._run(graph, {self._source.input_name: self._io.to_model(chunk), **stats},
                            chunk.shape)
            outs.append(self._io.from_model(out[self._source.output_name]))
        return outs[0] if len(outs) == 1 else np.concatenate(outs)

    # --- graphs -------------------------------------------------------------------------------

    def _build(self) -> dict[str, _Graph] | None:
        if self._plain or self._graphs is not None:
            return self._graphs
        path = self._source.path
        if self._source.kind == "engine":
            path = path.with_suffix(".onnx")
            if not path.exists():
                log.warning("tiles of %s are normalised one by one (put its .onnx beside the "
                            "engine to tile with whole-image statistics)", self._source.path)
                self._plain = True
                return None
        if self._runtime == "cuda" and importlib.util.find_spec("onnxruntime") is None:
            log.warning("tiles of %s are normalised one by one: install onnxruntime-gpu to tile "
                        "with whole-image statistics", self._source.path)
            self._plain = True
            return None
        if importlib.util.find_spec("onnx") is None:
            raise DependencyError(
                f"{path.name} has InstanceNormalization layers, and tiling a large image with "
                "whole-image statistics needs the onnx package: install it with `pip install "
                "onnx` (included in restyle[cpu], [gpu] and [openvino])")
        onnx = require("onnx")
        try:
            model = onnx.load(str(path))
        except Exception as exc:  # onnx raises DecodeError and OSError variants
            raise ModelFormatError(f"cannot read {path} to tile it: {exc}") from exc
        if not instance_norms(model):
            self._plain = True
            return None
        try:
            self._stats = statistics_model(model).SerializeToString()
            self._sums = [tile_model(model, sums_of=k).SerializeToString()
                          for k in range(len(instance_norms(model)))]
            self._graphs = {"tile": self._compile(tile_model(model).SerializeToString(),
                                                  f32=False)}
            self._io = ModelIO(self._source.io,
                               np.float16 if self._graphs["tile"].half else np.float32)
        except ValueError as exc:
            raise ModelFormatError(f"{path.name} cannot be tiled with whole-image statistics: "
                                   f"{exc}") from exc
        log.info("tiling %s with whole-image statistics (%d normalisations, %s)", path.name,
                 len(instance_norms(model)), "measured" if self.exact else "estimated")
        return self._graphs

    def _compile(self, proto: bytes, *, f32: bool) -> _Graph:
        try:
            return _Graph(proto, runtime=self._runtime, threads=self._threads, f32=f32)
        except Exception as exc:  # the runtimes' own errors for a graph they refuse
            raise ModelFormatError(f"a tiling graph of {self._source.path.name} does not load: "
                                   f"{exc}") from exc
