"""Video throughput against bare inference, and flicker with and without the temporal blend.

Both numbers of a comparison come from the same run, the same batch function, resolution and batch
size: *bare* stylises frames already decoded into memory; *video* is :func:`stylize_video` end to
end (probe, decode, stylise, encode, join). Their ratio says how well decoding and encoding hide
behind the backend's compute (target: at least 0.85).
"""

from __future__ import annotations

import statistics
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from restyle.video.pipeline import StylizeBatch, stylize_video
from restyle.video.probe import probe_video
from restyle.video.reader import FrameReader
from restyle.video.synthetic import write_clip
from restyle.video.temporal import TemporalBlend

__all__ = [
    "FlickerResult",
    "VideoBenchResult",
    "decoded_frames",
    "measure_flicker",
    "measure_video_throughput",
]


@dataclass(frozen=True)
class VideoBenchResult:
    """Frames/s of one batch function on frames in memory and on a video file, same run."""

    height: int
    width: int
    batch: int
    frames: int
    codec: str
    bare_fps: float
    video_fps: float

    @property
    def ratio(self) -> float:
        """End-to-end video frames/s over bare inference frames/s."""
        return self.video_fps / self.bare_fps if self.bare_fps else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ratio": self.ratio}

    def line(self) -> str:
        """One human-readable line."""
        return (f"video {self.height}x{self.width} b{self.batch} {self.codec}: "
                f"{self.video_fps:.1f} frames/s end to end, {self.bare_fps:.1f} bare "
                f"({self.ratio * 100:.0f}%)")


@dataclass(frozen=True)
class FlickerResult:
    """The flicker metric on a static-camera clip, without and with the temporal blend."""

    plain: float
    blended: float


def decoded_frames(path: Path) -> list[np.ndarray]:
    """All frames of a video as RGB arrays (for timing inference on frames in memory)."""
    with FrameReader(probe_video(path)) as reader:
        return [f.image for f in reader]


def measure_video_throughput(
    stylize_batch: StylizeBatch,
    *,
    height: int = 256,
    width: int = 256,
    batch_size: int = 8,
    frames: int = 96,
    codec: str = "libx264",
    preset: str | None = None,
    repeat: int = 3,
    workdir: str | Path | None = None,
) -> VideoBenchResult:
    """Time ``stylize_batch`` bare and inside :func:`stylize_video` on a synthetic clip.

    Args:
        stylize_batch: The batch function (e.g. ``Stylizer.stylize_batch``).
        height: Frame height.
        width: Frame width.
        batch_size: Frames per call, the same in both measurements.
        frames: Frames in the clip.
        codec: Video encoder of the output.
        preset: Encoder speed preset.
        repeat: Timed runs of each kind (medians are reported).
        workdir: Where the clip and outputs go (default: a temporary folder).

    Returns:
        Both frame rates.

    Example:
        >>> invert = lambda frames: [255 - f for f in frames]
        >>> measure_video_throughput(invert, height=64, width=64, frames=8).ratio  # doctest: +SKIP
        0.4
    """
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        root = Path(tmp)
        src = write_clip(root / "bench.mp4", width=width, height=height, frames=frames, crf=18)
        images = decoded_frames(src)
        batches = [images[i:i + batch_size] for i in range(0, len(images), batch_size)]

        def bare() -> float:
            start = time.perf_counter()
            for batch in batches:
                stylize_batch(batch)
            return time.perf_counter() - start

        def video(run: int) -> float:
            start = time.perf_counter()
            stylize_video(src, root / f"out{run}.mp4", stylize_batch, batch_size=batch_size,
                          codec=codec, preset=preset, progress=False)
            return time.perf_counter() - start

        bare()  # warm-up: first-run allocations and caches are not the speed
        video(0)
        # Alternate the two, so drift in the machine's load hits both alike.
        bare_times, video_times = [], []
        for run in range(1, repeat + 1):
            bare_times.append(bare())
            video_times.append(video(run))
        bare_time, video_time = statistics.median(bare_times), statistics.median(video_times)
    return VideoBenchResult(height=height, width=width, batch=batch_size, frames=frames,
                            codec=codec, bare_fps=frames / bare_time,
                            video_fps=frames / video_time)


def measure_flicker(
    stylize_batch: StylizeBatch,
    *,
    height: int = 128,
    width: int = 128,
    frames: int = 24,
    noise: float = 4.0,
    temporal: TemporalBlend | None = None,
    workdir: str | Path | None = None,
) -> FlickerResult:
    """Flicker of ``stylize_batch`` on a static-camera clip with sensor noise, without and with
    the temporal blend (default settings unless ``temporal`` is given)."""
    blend = temporal or TemporalBlend()
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        root = Path(tmp)
        src = write_clip(root / "static.mp4", width=width, height=height, frames=frames,
                         scene="static", noise=noise, crf=4)
        plain = stylize_video(src, root / "plain.mp4", stylize_batch, measure_flicker=True,
                              progress=False).flicker
        blended = stylize_video(src, root / "blend.mp4", stylize_batch, measure_flicker=True,
                                temporal=blend, progress=False).flicker
    return FlickerResult(plain=float(plain or 0.0), blended=float(blended or 0.0))
