"""Ray Data batch inference on a real local Ray instance (2 CPUs, loopback only).

One Ray instance serves the whole module (starting Ray takes seconds); the data is a handful of
32×32 images and one 8-frame clip, so the module runs in well under a minute on two cores. Every
result is compared with the single-process :class:`~restyle.Stylizer` on the same inputs.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray
from PIL import Image

from restyle import Stylizer
from restyle.errors import ConfigError, ModelFormatError

ray = pytest.importorskip("ray", reason="Ray not installed (pip install 'restyle[ray]')")

pytestmark = [
    # Ray Data 2.60's DataContext constructor sets its own deprecated fields (use_polars, ...).
    pytest.mark.filterwarnings("ignore::DeprecationWarning:ray.data.context"),
]


@pytest.fixture(scope="module")
def local_ray() -> Iterator[Any]:
    """A local Ray instance: 2 CPUs, no dashboard, bound to 127.0.0.1, in a short temp dir."""
    temp = tempfile.mkdtemp(prefix="ray", dir="/tmp")  # Ray's socket paths must stay short
    ray.init(num_cpus=2, num_gpus=0, include_dashboard=False, log_to_driver=False,
             _temp_dir=temp, _node_ip_address="127.0.0.1", object_store_memory=200 * 2**20)
    try:
        yield ray
    finally:
        ray.shutdown()
        shutil.rmtree(temp, ignore_errors=True)


def _images() -> list[NDArray[np.uint8]]:
    rng = np.random.default_rng(7)
    sizes = [(32, 32), (32, 32), (40, 32), (32, 48), (32, 32), (36, 36), (32, 32)]
    return [rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for h, w in sizes]


def test_stylize_dataset_equals_single_process(local_ray: Any, tiny_model: Path) -> None:
    from restyle.integrations.ray import stylize_dataset

    images = _images()
    ds = local_ray.data.from_items([{"image": im, "index": i} for i, im in enumerate(images)])
    rows = stylize_dataset(ds, tiny_model, batch_size=3, concurrency=2, backend="ort_cpu",
                           strength=0.8).take_all()
    with Stylizer(tiny_model, backend="ort_cpu") as st:
        expected = st.stylize_batch(images, strength=0.8)
    assert sorted(r["index"] for r in rows) == list(range(len(images)))
    for row in rows:
        i = row["index"]
        assert np.array_equal(row["image"], images[i])  # the input column is kept
        assert row["stylized"].dtype == np.uint8
        assert np.array_equal(row["stylized"], expected[i]), f"row {i} differs"


def test_restyle_ray_cli_equals_single_process_and_resumes(
        local_ray: Any, tiny_model: Path, tmp_path: Path) -> None:
    pytest.importorskip("av", reason="PyAV not installed (pip install 'restyle[video]')")
    from restyle.bench.video import decoded_frames
    from restyle.cli.main import main
    from restyle.video.synthetic import write_clip

    src, out, ref = tmp_path / "in", tmp_path / "out", tmp_path / "ref"
    (src / "sub").mkdir(parents=True)
    for i, im in enumerate(_images()[:4]):
        Image.fromarray(im).save(src / ("sub" if i % 2 else "") / f"img{i}.png")
    rgba = np.dstack([_images()[5], np.full((36, 36), 128, np.uint8)])
    Image.fromarray(rgba, "RGBA").save(src / "alpha.png")
    (src / "broken.png").write_bytes(b"not a png")
    write_clip(src / "sub" / "clip.mp4", width=32, height=32, frames=8)

    code = main(["ray", str(src), str(out), "--model", str(tiny_model), "--concurrency", "2",
                 "--batch-size", "2", "--backend", "ort_cpu", "--no-progress"])
    assert code == 1  # broken.png failed, everything else was written

    with Stylizer(tiny_model, backend="ort_cpu") as st:
        st.stylize_folder(src, ref, progress=False)
        st.stylize_video(src / "sub" / "clip.mp4", ref / "sub" / "clip.mp4", progress=False)
    for name in ["img0.png", "sub/img1.png", "img2.png", "sub/img3.png", "alpha.png"]:
        got, want = Image.open(out / name), Image.open(ref / name)
        assert got.mode == want.mode, name
        assert np.array_equal(np.asarray(got), np.asarray(want)), name
    got_frames = decoded_frames(out / "sub" / "clip.mp4")
    want_frames = decoded_frames(ref / "sub" / "clip.mp4")
    assert len(got_frames) == len(want_frames) == 8
    assert all(np.array_equal(a, b) for a, b in zip(got_frames, want_frames, strict=True))
    assert not (out / "broken.png").exists()

    before = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
    assert main(["ray", str(src), str(out), "--model", str(tiny_model), "--no-progress"]) == 1
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()} == before


def test_restyle_ray_joins_a_running_cluster(local_ray: Any, tiny_model: Path,
                                             tmp_path: Path) -> None:
    """``--address`` from another process: the driver joins the cluster, as on a real one."""
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    images = _images()[:3]
    for i, im in enumerate(images):
        Image.fromarray(im).save(src / f"{i}.png")
    address = local_ray.get_runtime_context().gcs_address
    result = subprocess.run(
        [sys.executable, "-m", "restyle", "-q", "ray", str(src), str(out), "--model",
         str(tiny_model), "--address", address, "--backend", "ort_cpu", "--no-progress"],
        capture_output=True, text=True, timeout=180, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.startswith("3 written, 0 skipped")
    with Stylizer(tiny_model, backend="ort_cpu") as st:
        expected = st.stylize_batch(images)
    for i, want in enumerate(expected):
        assert np.array_equal(np.asarray(Image.open(out / f"{i}.png")), want)


def test_bad_arguments_are_config_errors(local_ray: Any, tiny_model: Path, tmp_path: Path) -> None:
    from restyle.integrations.ray import stylize_dataset
    from restyle.integrations.ray_folder import stylize_folder_on_ray

    ds = local_ray.data.from_items([{"image": np.zeros((8, 8, 3), np.uint8)}])
    with pytest.raises(ConfigError, match="concurrency"):
        stylize_dataset(ds, tiny_model, concurrency=0)
    with pytest.raises(ConfigError, match="not a Ray Dataset"):
        stylize_dataset([{"image": None}], tiny_model)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="output_column"):
        stylize_dataset(ds, tiny_model, output_column="image")
    with pytest.raises(ConfigError, match="share of CPUs or GPUs"):
        stylize_dataset(ds, tiny_model, num_cpus=0, num_gpus=0)
    with pytest.raises(ConfigError, match="input folder"):
        stylize_folder_on_ray(tmp_path, tmp_path, tiny_model)
    with pytest.raises(ModelFormatError, match="does not exist"):  # on the driver, before actors
        stylize_dataset(ds, tmp_path / "missing.onnx")
    (tmp_path / "folder.onnx").mkdir()
    with pytest.raises(ModelFormatError):
        stylize_dataset(ds, tmp_path / "folder.onnx")


def test_an_engine_travels_with_its_onnx_and_sidecar(tiny_model: Path, tmp_path: Path) -> None:
    """What an actor on another machine gets: the same files under the same names, once."""
    from restyle.integrations.ray import ModelFiles

    src = tmp_path / "src"
    src.mkdir()
    engine = src / "tiny.engine"
    engine.write_bytes(b"engine bytes: any content, nothing here loads them")
    (src / "tiny.onnx").write_bytes(tiny_model.read_bytes())
    (src / "tiny.engine.json").write_text('{"trt": "10.13"}')
    shipped = ModelFiles.read(engine)
    path = shipped.materialize(tmp_path / "worker")
    assert path.name == "tiny.engine" and path.read_bytes() == engine.read_bytes()
    for name in ("tiny.onnx", "tiny.engine.json"):
        assert (path.parent / name).read_bytes() == (src / name).read_bytes()
    assert shipped.materialize(tmp_path / "worker") == path  # a second actor reuses the copy
    onnx_only = ModelFiles.read(tiny_model)
    assert onnx_only.beside == () and onnx_only.sha256 != shipped.sha256


def test_import_restyle_never_imports_ray(tmp_path: Path) -> None:
    code = ("import sys, restyle, restyle.cli.main\n"
            "restyle.cli.main.build_parser()\n"
            "print('ray' in sys.modules)\n")
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                            text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"
