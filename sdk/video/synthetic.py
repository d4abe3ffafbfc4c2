"""Deterministic synthetic clips written through PyAV: for tests, benchmarks and the flicker check.

Two scenes: ``"moving"`` (a gradient with a square sliding across it) and ``"static"`` (a fixed
scene, as from a tripod, plus per-frame sensor noise — the clip the flicker metric is defined on).
Options cover what the video pipeline must keep: variable frame rate, an audio track, odd sizes,
rotation metadata and full colour range.
"""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from restyle._optional import require
from restyle.errors import ConfigError
from restyle.paths import atomic_output

if TYPE_CHECKING:
    from av.audio.stream import AudioStream
    from av.container import OutputContainer

__all__ = ["scene_frame", "write_clip"]


def scene_frame(index: int, width: int, height: int, *, scene: str = "moving",
                noise: float = 0.0, seed: int = 0) -> np.ndarray:
    """Frame ``index`` of a synthetic scene as H×W×3 uint8 RGB."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    base = np.stack([255 * x / max(1, width - 1), 255 * y / max(1, height - 1),
                     128 + 60 * np.sin(x / 5.0) * np.cos(y / 7.0)], axis=-1)
    if scene == "moving":
        side = max(4, min(width, height) // 3)
        left = (index * 3) % max(1, width - side)
        top = (height - side) // 2
        base[top:top + side, left:left + side] = (230, 40, 40)
    elif scene != "static":
        raise ConfigError(f"unknown scene {scene!r}: use 'moving' or 'static'")
    if noise:
        rng = np.random.default_rng(seed * 1_000_003 + index)
        base = base + rng.normal(0.0, noise, base.shape)
    out: np.ndarray = np.clip(np.rint(base), 0, 255).astype(np.uint8)
    return out


def write_clip(
    path: str | os.PathLike[str],
    *,
    width: int = 64,
    height: int = 48,
    frames: int = 24,
    fps: int = 24,
    scene: str = "moving",
    noise: float = 0.0,
    vfr: bool = False,
    audio: str | None = None,
    rotation: int = 0,
    full_range: bool = False,
    codec: str = "libx264",
    pix_fmt: str = "yuv420p",
    crf: int = 12,
    seed: int = 0,
) -> Path:
    """Write a synthetic clip.

    Args:
        path: Output file; its suffix picks the container.
        width: Frame width (odd needs a codec/format that allows it, e.g. ``yuv444p``).
        height: Frame height.
        frames: Number of video frames (0 writes a container with an empty video stream).
        fps: Nominal frame rate.
        scene: ``"moving"`` or ``"static"``.
        noise: Standard deviation of per-frame Gaussian noise (0–255 scale).
        vfr: Irregular frame intervals (time base 1/1000, gaps 20–90 ms).
        audio: Audio encoder for a 440 Hz tone over the clip (``"aac"``, ``"libopus"``), or None.
        rotation: Display rotation metadata in degrees.
        full_range: Encode full-range (JPEG) YUV and tag it so.
        codec: Video encoder.
        pix_fmt: Encoded pixel format.
        crf: Quality of the encode.
        seed: Seed of the noise.

    Returns:
        The path written.

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     write_clip(f"{tmp}/clip.mp4", width=64, height=48, frames=4).name
        'clip.mp4'
    """
    av = require("av")
    target = Path(path)
    tb = Fraction(1, 1000) if vfr else Fraction(1, fps)
    rng = np.random.default_rng(seed)
    pts = [0]
    for _ in range(max(0, frames - 1)):
        pts.append(pts[-1] + (int(rng.integers(20, 91)) if vfr else 1))
    with atomic_output(target) as tmp, av.open(str(tmp), mode="w") as container:
        stream = container.add_stream(codec, rate=fps)
        if not isinstance(stream, av.video.stream.VideoStream):
            raise ConfigError(f"{codec!r} is not a video encoder: use 'libx264'")
        stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
        stream.time_base = tb
        stream.codec_context.time_base = tb
        stream.options = {"crf": str(crf)} if codec in ("libx264", "libx265") else {}
        if full_range:
            stream.codec_context.color_range = 2
        if rotation:
            stream.set_display_rotation(rotation)
        a_stream = container.add_stream(audio, rate=48000) if audio else None
        if a_stream is not None:
            if not isinstance(a_stream, av.audio.stream.AudioStream):
                raise ConfigError(f"{audio!r} is not an audio encoder: use 'aac'")
            a_stream.layout = "mono"
        container.start_encoding()
        for i, p in enumerate(pts[:frames]):
            rgb = av.VideoFrame.from_ndarray(
                scene_frame(i, width, height, scene=scene, noise=noise, seed=seed), format="rgb24")
            frame = rgb.reformat(format=pix_fmt, dst_color_range=2 if full_range else None)
            frame.pts, frame.time_base = p, tb
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
        if a_stream is not None:
            _write_tone(container, a_stream, seconds=float((pts[-1] + 1) * tb) if frames else 0.5)
    return target


def _write_tone(container: OutputContainer, stream: AudioStream, *, seconds: float) -> None:
    av = require("av")
    rate = 48000
    total = int(seconds * rate)
    step = 1024
    fmt = stream.format.name
    for start in range(0, total, step):
        n = min(step, total - start)
        t = np.arange(start, start + n) / rate
        tone = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None]
        samples: np.ndarray = (tone * 32767).astype(np.int16) if fmt == "s16" else tone
        frame = av.AudioFrame.from_ndarray(samples, format=fmt, layout="mono")
        frame.sample_rate, frame.pts = rate, start
        for packet in stream.encode(frame):
            container.mux(packet)
    for packet in stream.encode(None):
        container.mux(packet)
