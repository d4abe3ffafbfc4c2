"""Real models inside the video pipeline: a raw ONNX Runtime session, and ``restyle video``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import av
import numpy as np
import pytest

from restyle.cli.main import main
from restyle.video import probe_video, stylize_video
from restyle.video.synthetic import write_clip


def decode(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as c:
        return [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]


def halve_model(path: Path) -> Path:
    """uint8 NHWC → Cast → Mul 0.5 → Cast → uint8 NHWC, with dynamic N, H, W."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    graph = helper.make_graph(
        [helper.make_node("Cast", ["image"], ["f"], to=TensorProto.FLOAT),
         helper.make_node("Mul", ["f", "half"], ["m"]),
         helper.make_node("Cast", ["m"], ["stylized"], to=TensorProto.UINT8)],
        "halve",
        [helper.make_tensor_value_info("image", TensorProto.UINT8, ["N", "H", "W", 3])],
        [helper.make_tensor_value_info("stylized", TensorProto.UINT8, ["N", "H", "W", 3])],
        initializer=[numpy_helper.from_array(np.array(0.5, np.float32), "half")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def ort_batch_function(model: Path) -> Callable[[list[np.ndarray]], list[np.ndarray]]:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])

    def run(frames: list[np.ndarray]) -> list[np.ndarray]:
        (out,) = session.run(["stylized"], {"image": np.stack(frames)})
        return list(out)

    return run


def test_an_onnx_runtime_session_runs_inside_the_pipeline(tmp_path: Path) -> None:
    fn = ort_batch_function(halve_model(tmp_path / "halve.onnx"))
    src = write_clip(tmp_path / "src.mp4", frames=20, audio="aac")
    report = stylize_video(src, tmp_path / "out.mp4", fn, batch_size=6, progress=False)
    assert report.frames == probe_video(report.dst).frame_count == 20
    out, inp = np.stack(decode(report.dst)).astype(np.int16), np.stack(decode(src))
    assert np.abs(out - inp // 2).mean() < 3


def test_restyle_video_command_with_a_stylizer(tmp_path: Path, tiny_model: Path,
                                               ref: Callable[[np.ndarray], np.ndarray],
                                               capsys: pytest.CaptureFixture[str]) -> None:
    src = write_clip(tmp_path / "src.mp4", frames=12, vfr=True, audio="aac")
    dst = tmp_path / "out.mp4"
    code = main(["video", str(src), str(dst), "--model", str(tiny_model), "--backend", "ort_cpu",
                 "--batch", "4", "--no-progress", "--temporal", "--flicker"])
    assert code == 0
    stdout = capsys.readouterr().out
    assert f"wrote {dst}: 12 frames 64x48" in stdout
    assert "aac → aac (copied)" in stdout and "flicker: " in stdout
    assert probe_video(dst).frame_count == 12
    # The model's output, to within the blend on this moving clip and the encoder's loss.
    expected = ref(np.stack(decode(src)))
    assert np.abs(np.stack(decode(dst)).astype(np.int16) - expected).mean() < 8


def test_restyle_video_reports_bad_input_as_a_user_error(tmp_path: Path, tiny_model: Path,
                                                         capsys: pytest.CaptureFixture[str]
                                                         ) -> None:
    notes = tmp_path / "notes.mp4"
    notes.write_text("not a video")
    code = main(["video", str(notes), str(tmp_path / "o.mp4"), "--model", str(tiny_model),
                 "--backend", "ort_cpu", "--no-progress"])
    assert code == 2
    assert "notes.mp4 is not a readable video" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["video", "a.mp4", "b.mp4", "--model", "m", "--size", "big"])
