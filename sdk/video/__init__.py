"""Video: decode, stylise in batches and encode, overlapped; resumable; flicker control.

Example:
    >>> from restyle.video import TemporalBlend, stylize_video
    >>> invert = lambda frames: [255 - f for f in frames]
    >>> stylize_video("in.mp4", "out.mp4", invert, temporal=TemporalBlend())  # doctest: +SKIP
"""

from __future__ import annotations

from restyle.video.pipeline import StylizeBatch, VideoReport, output_size, stylize_video
from restyle.video.probe import AudioInfo, VideoInfo, probe_video
from restyle.video.temporal import FlickerMeter, TemporalBlend, TemporalBlender, flicker
from restyle.video.writer import CODECS

__all__ = [
    "CODECS",
    "AudioInfo",
    "FlickerMeter",
    "StylizeBatch",
    "TemporalBlend",
    "TemporalBlender",
    "VideoInfo",
    "VideoReport",
    "flicker",
    "output_size",
    "probe_video",
    "stylize_video",
]
