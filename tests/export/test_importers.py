"""Importing generators trained elsewhere: each published layout, rebuilt with random weights,
recognised by content and compared with its own project's forward pass."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from peer_models import (
    anime_generator,
    animeganv3_onnx,
    old_state_dict,
    resnet_generator,
    stylize_like_animegan2,
    stylize_like_cyclegan,
    stylize_like_neural_style,
    transformer_net,
    zoo_onnx,
)

from restyle import Stylizer
from restyle.cli.main import main
from restyle.errors import ConfigError, ModelFormatError
from restyle.export.importers import detect, import_model, list_importers
from restyle.export.importers.check import photos
from restyle.export.importers.safe_load import load_onnx
from restyle.modelinfo import read_model_info

#: Three photo sizes, two of them odd, small enough for a shared CPU.
SIZES = ((64, 64), (67, 93), (101, 77))


def _ort(model: Path | onnx.ModelProto) -> object:
    from restyle.export.importers.check import ort_session

    return ort_session(onnx.load(str(model)) if isinstance(model, Path) else model)


def _grey(a: np.ndarray) -> np.ndarray:
    return np.round(np.clip(a, 0, 255)).astype(np.int16)


@pytest.fixture(scope="module")
def fns() -> torch.nn.Module:
    return transformer_net(seed=1)


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    folder = tmp_path_factory.mktemp("cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RESTYLE_CACHE_DIR", str(folder))
        yield folder


@pytest.fixture(scope="module")
def candy(fns: torch.nn.Module, tmp_path_factory: pytest.TempPathFactory,
          cache: Path) -> tuple[Path, Path]:
    """An old-style candy.pth run directly by a Stylizer: imported once into the cache."""
    path = tmp_path_factory.mktemp("fns") / "candy.pth"
    torch.save(old_state_dict(fns), path)
    with Stylizer(path, backend="ort_cpu") as st:
        imported = Path(st.info.model_path)
    return path, imported


def test_every_format_is_registered() -> None:
    # a superset: the registry's own doctest registers an example format in this process
    assert {"fast_neural_style", "onnx_fast_neural_style", "animegan2", "cyclegan",
            "animeganv3"} <= set(list_importers())


def test_old_fast_neural_style_checkpoint_runs_directly_and_matches(
        fns: torch.nn.Module, candy: tuple[Path, Path], cache: Path) -> None:
    source, imported = candy
    assert imported.parent.parent == cache / "imported"
    info = read_model_info(imported)
    assert info.arch == "fast_neural_style" and info.style == "candy"
    assert info.source_format.startswith("pytorch/examples fast_neural_style")
    from restyle.paths import file_sha256

    assert info.checkpoint_sha256 == file_sha256(source)
    assert info.graph_rewrites == "fold_upsampling"
    graph = onnx.load(str(imported))
    assert [i.name for i in graph.graph.input] == ["image"]
    assert graph.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.UINT8
    assert sum(n.op_type == "ConvTranspose" for n in graph.graph.node) == 2
    image = photos((75, 102))[0]  # odd sides: padded to 76×104 inside and cropped back
    padded = np.pad(image, ((0, 1), (0, 2), (0, 0)), mode="reflect")
    expected = _grey(stylize_like_neural_style(fns, padded))[:75, :102]
    assert expected.std() > 10  # a real picture, not a flat field
    with Stylizer(source, backend="ort_cpu") as st:  # second run: the cache, no import
        assert Path(st.info.model_path) == imported
        out = st(image)
    assert out.shape == image.shape
    assert np.abs(out.astype(np.int16) - expected).max() <= 2


def test_zoo_onnx_opset8_and_9_import_to_any_size(fns: torch.nn.Module, tmp_path: Path) -> None:
    for opset in (8, 9):
        src = tmp_path / f"udnie-{opset}.onnx"
        onnx.save(zoo_onnx(fns, opset), src)
        found = detect(src)
        assert found.format == "onnx_fast_neural_style" and f"opset {opset}" in found.summary
        result = import_model(src, tmp_path / f"out{opset}.onnx", sizes=SIZES,
                              style="udnie", license="BSD-3-Clause", attribution="onnx/models")
        assert result.folded == 2 and result.max_diff <= 1
        model = onnx.load(str(result.path))
        assert max(o.version for o in model.opset_import if o.domain in ("", "ai.onnx")) >= 17
        ops = {n.op_type for n in model.graph.node}
        assert "Upsample" not in ops and "ConvTranspose" in ops
        assert (result.info.license, result.info.attribution) == ("BSD-3-Clause", "onnx/models")
        # The zoo file itself at its one size, against the import at that size, and the
        # PyTorch network (the zoo's origin) at an odd size it never took.
        image = photos((224, 224))
        zoo = _ort(src).run(None, {"input1": image.transpose(0, 3, 1, 2).astype(np.float32)})
        ours = _ort(result.path).run(None, {"image": image})[0]
        assert np.abs(ours.astype(np.int16) - _grey(zoo[0].transpose(0, 2, 3, 1))).max() <= 1
        odd = photos((81, 119))
        ours = _ort(result.path).run(None, {"image": odd})[0][0]
        theirs = _grey(stylize_like_neural_style(fns, np.pad(odd[0], ((0, 3), (0, 1), (0, 0)),
                                                             mode="reflect")))[:81, :119]
        assert np.abs(ours.astype(np.int16) - theirs).max() <= 2


def test_cli_import_says_what_it_found(fns: torch.nn.Module, tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "model.bin"  # the name says nothing: the content does
    onnx.save(zoo_onnx(fns, 9), src)
    out = tmp_path / "mosaic.onnx"
    assert main(["import", str(src), "--onnx", str(out), "--style-name", "mosaic",
                 "--license", "BSD-3-Clause", "--check-sizes", "64x64,67x93,101x77"]) == 0
    text = capsys.readouterr().out
    assert "onnx/models fast_neural_style graph, opset 9" in text and "max" in text
    info = read_model_info(out)
    assert (info.style, info.license, info.arch) == ("mosaic", "BSD-3-Clause",
                                                     "onnx_fast_neural_style")


def test_cyclegan_resnet_generator(tmp_path: Path) -> None:
    net = resnet_generator(seed=2, ngf=8, n_blocks=6, use_dropout=True)  # resnet_6blocks --ngf 8
    state = dict(net.state_dict())
    for i in (2, 5, 8):  # an old file: InstanceNorm running stats that PyTorch ≥ 0.4 refuses
        state[f"model.{i}.running_mean"] = torch.zeros(1)
    src = tmp_path / "latest_net_G.pth"
    torch.save(state, src)
    found = detect(src)
    assert found.format == "cyclegan"
    assert found.config == {"in_channels": 3, "out_channels": 3, "ngf": 8, "blocks": 6,
                            "dropout": True, "norm": "instance"}
    result = import_model(src, tmp_path / "horse2zebra.onnx", sizes=SIZES)
    assert result.max_diff <= 1
    image = photos((68, 92))[0]  # multiples of 4: the project's own code runs it as it is
    expected = _grey(stylize_like_cyclegan(net, image))
    with Stylizer(result.path, backend="ort_cpu") as st:
        out = st(image)
        assert np.abs(out.astype(np.int16) - expected).max() <= 2
        assert st(photos((67, 93))[0]).shape == (67, 93, 3)  # odd: padded and cropped back


@pytest.mark.slow
def test_animegan2_generator_runs_directly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                           ) -> None:
    monkeypatch.setenv("RESTYLE_CACHE_DIR", str(tmp_path / "cache"))
    net = anime_generator(seed=3)
    src = tmp_path / "paprika.pt"
    torch.save(net.state_dict(), src)
    assert detect(src).format == "animegan2"
    image = photos((68, 92))[0]
    expected = _grey(stylize_like_animegan2(net, image, align_corners=False))
    assert expected.std() > 5
    with Stylizer(src, backend="ort_cpu") as st:
        assert st.info.model is not None and st.info.model.arch == "animegan2"
        out = st(image)
    assert np.abs(out.astype(np.int16) - expected).max() <= 2


@pytest.mark.slow
def test_full_size_cyclegan_resnet_9blocks(tmp_path: Path) -> None:
    net = resnet_generator(seed=4)  # define_G(3, 3, 64, 'resnet_9blocks')
    src = tmp_path / "latest_net_G.pth"
    torch.save(net.state_dict(), src)
    result = import_model(src, tmp_path / "out.onnx", sizes=SIZES)
    assert result.detection.config["blocks"] == 9 and result.max_diff <= 1


def test_animeganv3_onnx(tmp_path: Path) -> None:
    src = tmp_path / "AnimeGANv3_Hayao_36.onnx"
    model = animeganv3_onnx(seed=5)
    onnx.save(model, src)
    assert detect(src).format == "animeganv3"
    result = import_model(src, tmp_path / "hayao.onnx", sizes=SIZES)
    assert result.max_diff <= 1
    image = photos((72, 96))  # multiples of 8: the project's own scripts run it as it is
    theirs = _ort(model).run(None, {"AnimeGANv3_input:0": image.astype(np.float32) / 127.5 - 1})
    expected = _grey((theirs[0][0] + 1) * 127.5)
    assert expected.std() > 5
    with Stylizer(result.path, backend="ort_cpu") as st:
        out = st(image[0])
        assert st(photos((61, 83))[0]).shape == (61, 83, 3)
    assert np.abs(out.astype(np.int16) - expected).max() <= 2


def test_unknown_content_and_wrong_format_are_named(tmp_path: Path) -> None:
    src = tmp_path / "other.pth"
    torch.save({"encoder.weight": torch.zeros(3, 3)}, src)
    with pytest.raises(ModelFormatError, match=r"encoder\.weight.*none of the formats"):
        detect(src)
    onnx_src = tmp_path / "zoo.onnx"
    onnx.save(zoo_onnx(transformer_net(), 9), onnx_src)
    with pytest.raises(ModelFormatError, match="not a animeganv3 model"):
        detect(onnx_src, format="animeganv3")
    with pytest.raises(ConfigError, match="unknown model format"):
        detect(onnx_src, format="nope")
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(ModelFormatError, match="neither a PyTorch file"):
        detect(text)


def test_restyle_model_is_not_imported_again(candy: tuple[Path, Path], tmp_path: Path) -> None:
    with pytest.raises(ModelFormatError, match="already a restyle model"):
        import_model(candy[1], tmp_path / "again.onnx")


# --- safe loading ---------------------------------------------------------------------------


class _Payload:
    """Pickled, it asks the loader to run a shell command that creates a marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return os.system, (f"touch {self.marker}",)


def test_a_pickle_with_code_is_refused_and_nothing_runs(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    import pickle

    monkeypatch.setenv("RESTYLE_CACHE_DIR", str(tmp_path / "cache"))
    marker = tmp_path / "pwned"
    zipped = tmp_path / "candy.pth"
    torch.save({"conv1.conv2d.weight": torch.zeros(1), "hook": _Payload(marker)}, zipped)
    legacy = tmp_path / "old.model"
    legacy.write_bytes(pickle.dumps({"x": _Payload(marker)}, protocol=2))
    for path in (zipped, legacy):
        with pytest.raises(ModelFormatError, match=r"weights_only=True.*nothing in the file"):
            detect(path)
        with pytest.raises(ModelFormatError, match="refused"):
            Stylizer(path, backend="ort_cpu")
    assert not marker.exists()


def test_onnx_external_data_must_stay_in_the_model_folder(tmp_path: Path) -> None:
    model = zoo_onnx(transformer_net(), 9)
    inside = tmp_path / "inside"
    inside.mkdir()
    onnx.save(model, inside / "udnie-9.onnx", save_as_external_data=True,
              location="udnie-9.data", size_threshold=1024)
    assert load_onnx(inside / "udnie-9.onnx").graph.initializer[0].raw_data
    assert detect(inside / "udnie-9.onnx").format == "onnx_fast_neural_style"
    outside = tmp_path / "evil"
    outside.mkdir()
    escaped = onnx.load(str(inside / "udnie-9.onnx"), load_external_data=False)
    for tensor in escaped.graph.initializer:
        for entry in tensor.external_data:
            if entry.key == "location":
                entry.value = "../inside/udnie-9.data"
    onnx.save(escaped, outside / "udnie-9.onnx")
    with pytest.raises(ModelFormatError, match="outside the model's folder"):
        detect(outside / "udnie-9.onnx")


# --- layering -----------------------------------------------------------------------------------


def _python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300, check=False)


def test_importing_an_onnx_file_never_loads_torch(tmp_path: Path) -> None:
    src = tmp_path / "udnie-9.onnx"
    onnx.save(zoo_onnx(transformer_net(), 9), src)
    run = _python(
        "import sys\n"
        "from restyle.export.importers import import_model\n"
        f"r = import_model({str(src)!r}, {str(tmp_path / 'out.onnx')!r}, sizes=((64, 64),))\n"
        "print(r.detection.format, 'torch' in sys.modules)\n")
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["onnx_fast_neural_style", "False"]


def test_a_pth_without_torch_names_the_train_extra(candy: tuple[Path, Path]) -> None:
    run = _python(
        "import sys\n"
        "sys.modules['torch'] = None\n"
        "from restyle.errors import DependencyError\n"
        "from restyle.export.importers import detect\n"
        "try:\n"
        f"    detect({str(candy[0])!r})\n"
        "except DependencyError as exc:\n"
        "    print(exc)\n")
    assert run.returncode == 0, run.stderr
    assert "pip install 'restyle[train]'" in run.stdout


def test_cli_stylize_and_video_run_a_pth_directly(candy: tuple[Path, Path], tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    from PIL import Image

    from restyle.samples import make_sample_clip

    source, imported = candy
    photos_dir = tmp_path / "photos"
    photos_dir.mkdir()
    Image.fromarray(photos((45, 61))[0]).save(photos_dir / "a.png")
    assert main(["stylize", str(source), str(photos_dir), "-o", str(tmp_path / "styled"),
                 "--backend", "ort_cpu", "--no-progress"]) == 0
    with Image.open(tmp_path / "styled" / "a.png") as out:
        assert out.size == (61, 45)
    clip = make_sample_clip(tmp_path / "clip.mp4", frames=3, size=(64, 48))
    assert main(["video", str(clip), str(tmp_path / "out.mp4"), "--model", str(source),
                 "--backend", "ort_cpu", "--no-progress"]) == 0
    assert "3 frames 64x48" in capsys.readouterr().out
    assert len(list(imported.parent.glob("*.onnx"))) == 1  # imported once, reused


@pytest.mark.slow
def test_animegan2_align_corners_flag_takes_any_size(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    net = anime_generator(seed=4)
    src = tmp_path / "face_paint.pt"
    torch.save(net.state_dict(), src)
    out = tmp_path / "face_paint.onnx"
    assert main(["import", str(src), "--onnx", str(out), "--align-corners",
                 "--check-sizes", "67x93,64x64"]) == 0
    assert "aligned-corner upsampling" in capsys.readouterr().out
    image = photos((67, 93))[0]  # not a multiple of 4: hubconf.py's exact-size upsampling
    expected = _grey(stylize_like_animegan2(net, image, align_corners=True))
    with Stylizer(out, backend="ort_cpu") as st:
        got = st(image)
    assert np.abs(got.astype(np.int16) - expected).max() <= 2


def test_align_corners_is_refused_for_other_formats(fns: torch.nn.Module, tmp_path: Path) -> None:
    src = tmp_path / "candy.pth"
    torch.save(fns.state_dict(), src)
    with pytest.raises(ConfigError, match="AnimeGANv2"):
        import_model(src, tmp_path / "candy.onnx", align_corners=True)
    assert not (tmp_path / "candy.onnx").exists()


@pytest.mark.gpu
def test_imported_zoo_and_pth_models_parse_and_run_in_tensorrt(
        fns: torch.nn.Module, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The opset upgrade is for TensorRT 10's parser: build each import and compare it with
    ONNX Runtime (fp32 both, so the bound is the import's, not a precision's)."""
    from restyle.trt.target import tensorrt_problem

    problem = tensorrt_problem()
    if problem is not None:
        pytest.skip(problem)
    monkeypatch.setenv("RESTYLE_CACHE_DIR", str(tmp_path / "cache"))
    sources = []
    for opset in (8, 9):
        src = tmp_path / f"zoo-{opset}.onnx"
        onnx.save(zoo_onnx(fns, opset), src)
        sources.append(src)
    pth = tmp_path / "candy.pth"
    torch.save(fns.state_dict(), pth)
    sources.append(pth)
    image = photos((67, 93))[0]
    for src in sources:
        out = import_model(src, tmp_path / f"{src.stem}-restyle.onnx", sizes=SIZES).path
        with Stylizer(out, backend="ort_cpu", precision="fp32") as ref, \
                Stylizer(out, backend="tensorrt", precision="fp32") as gpu:
            diff = np.abs(ref(image).astype(np.int16) - gpu(image)).max()
        assert diff <= 2, (src.name, diff)
