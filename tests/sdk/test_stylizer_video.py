"""``Stylizer.stylize_video``: the Stylizer driving restyle.video on a real (tiny) clip."""

from __future__ import annotations

from pathlib import Path

import pytest

from restyle import Stylizer

pytest.importorskip("av", reason="PyAV not installed (pip install 'restyle[video]')")


def test_stylize_video_writes_every_frame(tiny_model: Path, tmp_path: Path) -> None:
    from restyle.video import probe_video
    from restyle.video.synthetic import write_clip

    clip = write_clip(tmp_path / "clip.mp4", width=64, height=48, frames=12)
    with Stylizer(tiny_model, backend="ort_cpu", batch_size=4) as st:
        report = st.stylize_video(clip, tmp_path / "styled.mp4", strength=0.9, progress=False)
    assert report.frames == 12
    info = probe_video(tmp_path / "styled.mp4")
    assert (info.width, info.height) == (64, 48)
