"""Temporal stability: the motion-aware blend cuts flicker on a static camera, follows motion."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from restyle.errors import ConfigError
from restyle.video import FlickerMeter, TemporalBlend, TemporalBlender, flicker, stylize_video
from restyle.video.synthetic import scene_frame, write_clip
from restyle.video.temporal import _box_mean, mean_abs_change


def contrast(frames: list[np.ndarray]) -> list[np.ndarray]:
    """A per-frame 'style' that amplifies noise threefold, as strong stylisation does: the
    flicker of per-frame stylisation on a static camera."""
    return [np.clip((f.astype(np.int16) - 128) * 3 + 128, 0, 255).astype(np.uint8)
            for f in frames]


def posterize(frames: list[np.ndarray]) -> list[np.ndarray]:
    """Four flat levels: a style whose output jumps wherever the input crosses a level."""
    return [((f.astype(np.uint16) // 64) * 85).astype(np.uint8) for f in frames]


def decode(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as c:
        return [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]


def test_blend_reduces_flicker_on_a_static_camera_clip(tmp_path: Path) -> None:
    src = write_clip(tmp_path / "static.mp4", frames=24, scene="static", noise=5.0, crf=4)
    plain = stylize_video(src, tmp_path / "plain.mp4", contrast, measure_flicker=True,
                          progress=False, crf=4)
    blended = stylize_video(src, tmp_path / "blend.mp4", contrast, measure_flicker=True,
                            temporal=TemporalBlend(), progress=False, crf=4)
    assert plain.flicker is not None and blended.flicker is not None
    assert plain.flicker > 1.0  # per-frame stylisation really flickers here
    assert blended.flicker < 0.0  # settled: the output now changes less than the noisy input
    # The same holds for the encoded files as a viewer sees them.
    inputs = decode(src)
    assert flicker(inputs, decode(blended.dst)) < 0.5 * flicker(inputs, decode(plain.dst))


def test_moving_regions_follow_the_new_frame() -> None:
    blender = TemporalBlender(TemporalBlend(strength=0.8, threshold=12.0, radius=1))
    first, second = scene_frame(0, 96, 48), scene_frame(5, 96, 48)  # the square moved 15 px
    blender.apply(first, posterize([first])[0])
    weight = blender.weight(second)[..., 0]
    moved = np.any(first != second, axis=2)
    still = ~moved
    assert weight[still].max() == pytest.approx(0.8) and weight[still].mean() > 0.7
    # Pixels inside the moved square's old and new places take the new stylised frame as is.
    core = moved & (np.abs(first.astype(int) - second).mean(axis=2) > 100)
    assert core.sum() > 100
    assert weight[core].max() < 0.2
    out = blender.apply(second, posterize([second])[0])
    assert np.abs(out[core].astype(int) - posterize([second])[0][core]).max() <= 0.2 * 255


def test_box_mean_matches_a_direct_window_mean() -> None:
    image = np.random.default_rng(0).random((9, 13)).astype(np.float32)
    r = 2
    padded = np.pad(image, r, mode="edge")
    direct = np.array([[padded[y:y + 2 * r + 1, x:x + 2 * r + 1].mean() for x in range(13)]
                       for y in range(9)])
    np.testing.assert_allclose(_box_mean(image, r), direct, rtol=1e-5, atol=1e-6)
    assert _box_mean(image, 0) is image


def test_flicker_metric_and_its_streaming_form_agree() -> None:
    rng = np.random.default_rng(3)
    inputs = [rng.integers(0, 256, (8, 8, 3), dtype=np.uint8) for _ in range(5)]
    outputs = [rng.integers(0, 256, (8, 8, 3), dtype=np.uint8) for _ in range(5)]
    meter = FlickerMeter()
    for i, o in zip(inputs, outputs, strict=True):
        meter.update(i, o)
    assert meter.value == pytest.approx(flicker(inputs, outputs))
    assert flicker(inputs, inputs) == 0.0
    assert mean_abs_change(inputs[:1]) == 0.0
    with pytest.raises(ConfigError, match="as many inputs"):
        flicker(inputs, outputs[:2])


@pytest.mark.parametrize("kwargs", [{"strength": 1.0}, {"strength": -0.1}, {"threshold": 0.0},
                                    {"radius": -1}])
def test_bad_blend_settings_are_named(kwargs: dict[str, float]) -> None:
    with pytest.raises(ConfigError, match="temporal"):
        TemporalBlend(**kwargs)  # type: ignore[arg-type]
