"""Bad input and broken models, one test per class of problem: tiny frames, wrong output shapes,
non-finite weights and outputs, one failing frame among good ones, a source that raises midway,
outputs that clash, stale temporary files, wrong-fix messages and images whose mode or range is
unusual. Real ONNX Runtime sessions on small graphs built here."""

from __future__ import annotations

import errno
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from restyle import Stylizer
from restyle.backends.base import Backend, BackendConfig, Batch, ModelSource
from restyle.backends.ort_cpu import OrtCpuBackend, SessionFromOnnx
from restyle.backends.registry import register_backend
from restyle.cli.main import build_parser, main
from restyle.errors import BackendError, BackendUnavailableError, ConfigError, ModelFormatError
from restyle.images import load_image, prepare
from restyle.paths import _output_error, atomic_output, remove_stale_temps
from restyle.styles import list_styles

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

PROPS = {"restyle.format_version": "1", "restyle.style": "t", "restyle.arch": "t",
         "restyle.io": "uint8_nhwc", "restyle.input_name": "image",
         "restyle.output_name": "stylized"}


def _save(nodes: list, inits: list, path: Path, *, io: str = "uint8_nhwc") -> Path:
    kind = TensorProto.UINT8 if io == "uint8_nhwc" else TensorProto.FLOAT
    dims = ["N", "H", "W", 3] if io == "uint8_nhwc" else ["N", 3, "H", "W"]
    out_dims = ["N", "A", "B", 3] if io == "uint8_nhwc" else ["N", 3, "A", "B"]
    graph = helper.make_graph(nodes, "t", [helper.make_tensor_value_info("image", kind, dims)],
                              [helper.make_tensor_value_info("stylized", kind, out_dims)],
                              initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    helper.set_model_props(model, {**PROPS, "restyle.io": io})
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def _reflect_model(path: Path, pad: int = 4) -> Path:
    """A 9×9 box blur behind reflection padding: fails on frames with a side ≤ ``pad``."""
    inits = [numpy_helper.from_array(np.array([0, 0, pad, pad, 0, 0, pad, pad], np.int64), "p"),
             numpy_helper.from_array(np.array(0, np.float32), "lo"),
             numpy_helper.from_array(np.array(255, np.float32), "hi")]
    nodes = [helper.make_node("Cast", ["image"], ["f"], to=TensorProto.FLOAT),
             helper.make_node("Transpose", ["f"], ["x"], perm=[0, 3, 1, 2]),
             helper.make_node("Pad", ["x", "p"], ["xp"], mode="reflect"),
             helper.make_node("AveragePool", ["xp"], ["y"], kernel_shape=[2 * pad + 1] * 2),
             helper.make_node("Transpose", ["y"], ["t"], perm=[0, 2, 3, 1]),
             helper.make_node("Round", ["t"], ["r"]),
             helper.make_node("Clip", ["r", "lo", "hi"], ["c"]),
             helper.make_node("Cast", ["c"], ["stylized"], to=TensorProto.UINT8)]
    return _save(nodes, inits, path)


@pytest.fixture(scope="module")
def reflect_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _reflect_model(tmp_path_factory.mktemp("m") / "reflect.onnx")


# --- tiny frames ------------------------------------------------------------------------------

SIZES = [(1, 1), (1, 2), (2, 1), (2, 2), (3, 3), (4, 4), (5, 5), (1, 40), (40, 1), (3, 17),
         (17, 4), (63, 2)]


@pytest.mark.parametrize("style", [s.name for s in list_styles()] + ["reflect"])
def test_every_size_from_1x1_stylises(style: str, reflect_model: Path) -> None:
    model = reflect_model if style == "reflect" else style
    rng = np.random.default_rng(0)
    with Stylizer(model, backend="ort_cpu", threads=1) as st:
        for h, w in SIZES:
            image = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
            out = st(image)
            assert out.shape == (h, w, 3) and out.dtype == np.uint8, (h, w)
        outs = st.stylize_batch([rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
                                 for h, w in SIZES])
        assert [o.shape[:2] for o in outs] == SIZES


def test_padding_matches_a_manual_edge_pad_and_is_not_applied_when_unneeded(
        reflect_model: Path, tiny_model: Path, ref: object) -> None:
    image = np.random.default_rng(1).integers(0, 256, (3, 6, 3), dtype=np.uint8)
    with Stylizer(reflect_model, backend="ort_cpu") as st:
        out = st(image)
        side = st._backend.min_side  # measured: reflection by 4 needs 5 px
        assert side == 5
        padded = np.pad(image, ((0, 2), (0, 0), (0, 0)), mode="edge")
        np.testing.assert_array_equal(out, st(padded)[:3])
    with Stylizer(tiny_model, backend="ort_cpu") as st:  # zero padding takes 1×1 as it is
        one = np.full((1, 1, 3), 200, np.uint8)
        np.testing.assert_array_equal(st(one), ref(one[None])[0])  # type: ignore[operator]
        assert st._backend.min_side == 1


# --- outputs checked in one place ---------------------------------------------------------------

def test_a_model_that_transposes_is_refused(tmp_path: Path) -> None:
    path = _save([helper.make_node("Transpose", ["image"], ["stylized"], perm=[0, 2, 1, 3])], [],
                 tmp_path / "transpose.onnx")
    with Stylizer(path, backend="ort_cpu") as st:
        with pytest.raises(BackendError, match=r"returned uint8 \(1, 64, 80, 3\) for an input of "
                                               r"shape \(1, 80, 64, 3\)"):
            st(np.zeros((80, 64, 3), np.uint8))
        assert st(np.zeros((8, 8, 3), np.uint8)).shape == (8, 8, 3)  # square: fine


def test_non_finite_outputs_are_refused(tmp_path: Path) -> None:
    two = numpy_helper.from_array(np.array(2.0, np.float32), "two")
    path = _save([helper.make_node("Sub", ["image", "two"], ["d"]),
                  helper.make_node("Log", ["d"], ["stylized"])], [two], tmp_path / "log.onnx",
                 io="float32_nchw")
    with Stylizer(path, backend="ort_cpu") as st, pytest.raises(BackendError, match="NaN"):
        st(np.zeros((4, 4, 3), np.uint8))


def test_non_finite_weights_are_refused_when_the_model_opens(tiny_model: Path,
                                                             tmp_path: Path) -> None:
    model = onnx.load(str(tiny_model))
    for init in model.graph.initializer:
        if init.name == "w":
            w = numpy_helper.to_array(init).copy()
            w[0, 0, 0, 0] = np.nan
            init.CopyFrom(numpy_helper.from_array(w, "w"))
    onnx.save(model, str(tmp_path / "nan.onnx"))
    with pytest.raises(ModelFormatError, match=r"NaN or infinite weights \(w\)"):
        Stylizer(tmp_path / "nan.onnx", backend="ort_cpu")


# --- one bad frame among good ones ----------------------------------------------------------------

POISON = 7  # a frame filled with this value makes the backend below fail


class _PoisonBackend(OrtCpuBackend):
    def _run_impl(self, batch: Batch) -> Batch:
        if any((frame == POISON).all() for frame in batch):
            raise BackendError("test backend: cannot run a poisoned frame")
        return super()._run_impl(batch)


def _never_auto(model: ModelSource, config: BackendConfig) -> str | None:
    return None


@register_backend("test_poison", rank=97, summary="test", fix="-", probe=_never_auto)
def _poison(model: ModelSource, config: BackendConfig) -> Backend:
    runner = _PoisonBackend(SessionFromOnnx(model, threads=config.threads), model=model)
    runner.activate()
    return runner


def test_a_frame_the_backend_fails_on_is_recorded_and_the_rest_written(
        tiny_model: Path, photo: np.ndarray, tmp_path: Path) -> None:
    src = tmp_path / "in"
    src.mkdir()
    for k in range(6):
        Image.fromarray(np.roll(photo, k, axis=1)).save(src / f"p{k}.png")
    Image.fromarray(np.full(photo.shape, POISON, np.uint8)).save(src / "p3.png")
    with Stylizer(tiny_model, backend="test_poison", batch_size=4) as st:
        report = st.stylize_folder(src, tmp_path / "out", progress=False)
    assert sorted(p.name for p in report.written) == ["p0.png", "p1.png", "p2.png", "p4.png",
                                                      "p5.png"]
    assert [(p.name, "poisoned" in why) for p, why in report.failed] == [("p3.png", True)]


# --- stream: nothing finished is lost to an error ------------------------------------------------

@pytest.mark.parametrize("batch_size", [1, 3, 8])
def test_stream_delivers_every_frame_before_the_source_fails(tiny_model: Path,
                                                             batch_size: int) -> None:
    def frames() -> Iterator[np.ndarray]:
        for k in range(10):
            yield np.full((16, 16, 3), k, np.uint8)
        raise OSError("camera unplugged")

    got: list[np.ndarray] = []
    with Stylizer(tiny_model, backend="ort_cpu", batch_size=batch_size) as st, \
            pytest.raises(OSError, match="camera unplugged"):
        for out in st.stream(frames()):
            got.append(out)
    assert len(got) == 10


def test_stream_raises_a_bad_frame_at_its_position(tiny_model: Path) -> None:
    frames = [np.zeros((8, 8, 3), np.uint8)] * 5 + [np.zeros((8, 8, 5), np.uint8)]
    got = []
    with Stylizer(tiny_model, backend="ort_cpu", batch_size=4) as st, \
            pytest.raises(Exception, match="not an image"):
        for out in st.stream(frames):
            got.append(out)
    assert len(got) == 5


# --- outputs that clash, output folders above the input, stale temporaries ----------------------

def test_folders_with_the_same_name_are_refused_before_any_work(
        tiny_model: Path, photo: np.ndarray, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    for parent in ("x", "y"):
        (tmp_path / parent / "photos").mkdir(parents=True)
        Image.fromarray(photo).save(tmp_path / parent / "photos" / "a.png")
    out = tmp_path / "out"
    code = main(["stylize", str(tiny_model), str(tmp_path / "x" / "photos"),
                 str(tmp_path / "y" / "photos"), "-o", str(out), "--backend", "ort_cpu"])
    assert code == 2
    assert "would both be written to" in capsys.readouterr().err
    assert not out.exists()  # refused before any work


def test_an_output_folder_above_the_input_takes_every_input(
        tiny_model: Path, photo: np.ndarray, tmp_path: Path) -> None:
    src = tmp_path / "photos"
    src.mkdir()
    for k in range(3):
        Image.fromarray(photo).save(src / f"p{k}.png")
    with Stylizer(tiny_model, backend="ort_cpu") as st:
        report = st.stylize_folder(src, tmp_path, progress=False)
    assert sorted(p.name for p in report.written) == ["p0.png", "p1.png", "p2.png"]
    assert all((tmp_path / f"p{k}.png").is_file() for k in range(3))


def test_temporary_files_of_a_killed_run_are_removed(tiny_model: Path, photo: np.ndarray,
                                                     tmp_path: Path) -> None:
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    Image.fromarray(photo).save(src / "a.png")
    # A real process writes through atomic_output and is killed with -9 midway.
    script = ("import os, sys\nfrom restyle.paths import atomic_output\n"
              "with atomic_output(sys.argv[1]) as tmp:\n"
              "    tmp.write_bytes(b'half')\n    os.kill(os.getpid(), 9)\n")
    subprocess.run([sys.executable, "-c", script, str(out / "a.png")], check=False)
    left = [p for p in out.iterdir() if p.name.startswith(".")]
    assert len(left) == 1  # what kill -9 leaves behind
    mine = out / f".b.png.restyle-{os.getpid()}-live.png"  # one this process is writing
    mine.write_bytes(b"in progress")
    with Stylizer(tiny_model, backend="ort_cpu") as st:
        st.stylize_folder(src, out, progress=False)
    assert not left[0].exists() and mine.exists()
    assert remove_stale_temps(out) == 0


def test_output_errors_name_the_output_and_the_fix(tmp_path: Path) -> None:
    target = tmp_path / "out" / "a.png"
    full = _output_error(target, OSError(errno.ENOSPC, "No space left on device",
                                         str(tmp_path / "out" / ".a.png.restyle-1-x.png")))
    assert str(target) in str(full) and "disk is full" in str(full) and ".restyle-" not in str(
        full)
    with pytest.raises(OSError, match=r"cannot write .*a\.png: .*choose"), \
            atomic_output(target) as tmp:
        raise OSError(errno.EIO, "I/O error", str(tmp))
    assert list((tmp_path / "out").iterdir()) == []


# --- images of every mode and range ---------------------------------------------------------------

def test_cmyk_input_written_as_png(tiny_model: Path, tmp_path: Path) -> None:
    src = tmp_path / "in"
    src.mkdir()
    Image.new("CMYK", (20, 10), (0, 200, 200, 0)).save(src / "c.tif")
    Image.new("CMYK", (20, 10), (0, 200, 200, 0)).save(src / "c.jpg")
    assert main(["stylize", str(tiny_model), str(src / "c.jpg"), "-o", str(tmp_path / "c.png"),
                 "--backend", "ort_cpu"]) == 0
    assert load_image(tmp_path / "c.png").mode == "RGB"  # PNG has no CMYK: RGB, not a failure
    with Stylizer(tiny_model, backend="ort_cpu") as st:
        report = st.stylize_files([src / "c.tif"], tmp_path / "out", progress=False)
    assert not report.failed
    assert load_image(tmp_path / "out" / "c.tif").mode == "CMYK"  # TIFF holds CMYK: kept


@pytest.mark.parametrize(("mode", "values"), [("I", [0, 128, 255]), ("F", [0.0, 0.5, 1.0]),
                                              ("F", [0.0, 128.0, 255.0]),
                                              ("I", [0, 32768, 65535])])
def test_wide_modes_are_scaled_by_their_measured_range(mode: str, values: list[float]) -> None:
    dtype = np.float32 if mode == "F" else np.int32
    img = Image.fromarray(np.array([values], dtype=dtype))
    assert img.mode == mode
    assert prepare(img).rgb[0, :, 0].tolist() == [0, 128, 255]  # not near-black


def test_an_animated_file_warns_that_only_its_first_frame_is_used(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    frames = [Image.new("RGB", (8, 8), (k * 60, 0, 0)) for k in range(3)]
    frames[0].save(tmp_path / "a.gif", save_all=True, append_images=frames[1:])
    logger = logging.getLogger("restyle.images")
    logger.addHandler(caplog.handler)
    try:
        load_image(tmp_path / "a.gif")
    finally:
        logger.removeHandler(caplog.handler)
    assert any("3 frames" in r.message and "restyle video" in r.message for r in caplog.records)


# --- messages that name the right fix -----------------------------------------------------------

def test_an_engine_no_backend_can_run_names_the_engine_fix(tmp_path: Path) -> None:
    engine = tmp_path / "m.engine"
    engine.write_bytes(b"\x00" * 64)
    try:
        Stylizer(engine)
    except BackendUnavailableError as exc:
        assert "restyle[cpu]" not in str(exc) and "restyle export --trt" in str(exc)
        assert ".onnx" in str(exc)
    except (ModelFormatError, BackendError) as exc:  # TensorRT present: it reads and refuses
        assert "restyle[cpu]" not in str(exc)


@pytest.mark.parametrize(("command", "hint"), [
    (["video", "a.mp4", "b.mp4", "--model", "m"], "--resume"),
    (["stylize", "m", "a", "-o", "o"], "same command again"),
    (["train", "--style", "a.png", "--out", "r"], "--resume RUN_DIR"),
])
def test_ctrl_c_names_how_to_resume(command: list[str], hint: str) -> None:
    args = build_parser().parse_args(command)
    assert hint in getattr(args, "_resume_hint", "run the same command again to resume")


def test_strength_out_of_range_is_a_config_error(tiny_model: Path) -> None:
    with Stylizer(tiny_model, backend="ort_cpu") as st, pytest.raises(ConfigError):
        st(np.zeros((4, 4, 3), np.uint8), strength=2.0)
