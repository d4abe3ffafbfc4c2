"""Folders and the CLI: relative paths kept, resume, atomic writes, corrupt inputs counted."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from restyle import Stylizer
from restyle.cli.main import main
from restyle.errors import ConfigError
from restyle.images import load_image


def _photos(root: Path, photo: np.ndarray) -> list[Path]:
    paths = [root / "a.png", root / "b.jpg", root / "sub" / "c.png",
             root / "sub" / "deep" / "d.png"]
    for k, path in enumerate(paths):
        path.parent.mkdir(parents=True, exist_ok=True)
        image = np.ascontiguousarray(np.roll(photo, 9 * k, axis=1)[: 60 + 8 * k])
        Image.fromarray(image).save(path)
    (root / "notes.txt").write_text("not an image, not listed")
    (root / "sub" / "broken.png").write_text("not an image either, but named like one")
    return paths


def test_folder_resume_atomic_and_corrupt_counted(tiny_model: Path, photo: np.ndarray,
                                                  tmp_path: Path) -> None:
    src, dst = tmp_path / "in", tmp_path / "out"
    paths = _photos(src, photo)
    with Stylizer(tiny_model, backend="ort_cpu", batch_size=2) as st:
        report = st.stylize_folder(src, dst, progress=False)
        assert sorted(p.relative_to(dst) for p in report.written) == sorted(
            p.relative_to(src) for p in paths)
        assert [f.name for f, _ in report.failed] == ["broken.png"]
        assert "broken.png" in report.failed[0][1]
        for path in paths:
            out = load_image(dst / path.relative_to(src))
            assert out.size == load_image(path).size
        expected = st(src / "a.png")
        np.testing.assert_array_equal(np.asarray(load_image(dst / "a.png")), np.asarray(expected))
        assert not [p for p in dst.rglob("*") if p.name.startswith(".")]  # no temp files left

        (dst / "sub" / "c.png").unlink()
        stamp = (dst / "a.png").stat().st_mtime_ns
        again = st.stylize_folder(src, dst, progress=False)
        assert [p.name for p in again.written] == ["c.png"]
        assert len(again.skipped) == 3 and len(again.failed) == 1
        assert (dst / "a.png").stat().st_mtime_ns == stamp

        redo = st.stylize_folder(src, dst, progress=False, overwrite=True)
        assert len(redo.written) == 4 and not redo.skipped


def test_output_inside_input_is_not_walked(tiny_model: Path, photo: np.ndarray,
                                           tmp_path: Path) -> None:
    src = tmp_path / "in"
    _photos(src, photo)
    with Stylizer(tiny_model, backend="ort_cpu") as st:
        first = st.stylize_folder(src, src / "styled", progress=False)
        second = st.stylize_folder(src, src / "styled", progress=False)
        assert len(first.written) == 4 and len(second.skipped) == 4 and not second.written
        with pytest.raises(ConfigError, match="input folder"):
            st.stylize_folder(src, src)
        with pytest.raises(ConfigError, match="not a folder"):
            st.stylize_folder(src / "a.png", tmp_path / "x")


def test_cli_stylizes_files_and_folders(tiny_model: Path, photo: np.ndarray, tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    src, out = tmp_path / "in", tmp_path / "out"
    _photos(src, photo)
    args = ["stylize", str(tiny_model), str(src), "-o", str(out), "--backend", "ort_cpu",
            "--no-progress", "--strength", "0.7"]
    assert main(args) == 1  # one corrupt input: reported, the rest written
    assert "4 written, 0 skipped (already done), 1 failed" in capsys.readouterr().out
    assert (out / "sub" / "deep" / "d.png").exists()
    assert main(args) == 1
    assert "0 written, 4 skipped" in capsys.readouterr().out

    single = tmp_path / "one.jpg"
    assert main(["stylize", str(tiny_model), str(src / "a.png"), "-o", str(single),
                 "--backend", "ort_cpu", "--preserve-color"]) == 0
    assert load_image(single).size == load_image(src / "a.png").size

    files_out = tmp_path / "files"
    assert main(["stylize", str(tiny_model), str(src / "a.png"), str(src / "b.jpg"), "-o",
                 str(files_out), "--backend", "ort_cpu", "--no-progress"]) == 0
    assert sorted(p.name for p in files_out.iterdir()) == ["a.png", "b.jpg"]


def test_cli_errors_are_clean(tiny_model: Path, tmp_path: Path,
                              capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["stylize", str(tiny_model), str(tmp_path / "nope"), "-o", str(tmp_path)]) == 2
    assert "not found" in capsys.readouterr().err
    assert main(["stylize", str(tiny_model), str(tmp_path), "-o", str(tmp_path / "o"),
                 "--backend", "warp_drive"]) == 2
    assert "unknown backend" in capsys.readouterr().err


def test_files_with_the_same_name_are_refused(tiny_model: Path, photo: np.ndarray,
                                              tmp_path: Path) -> None:
    for sub in ("x", "y"):
        (tmp_path / sub).mkdir()
        Image.fromarray(photo).save(tmp_path / sub / "same.png")
    with Stylizer(tiny_model, backend="ort_cpu") as st, \
            pytest.raises(ConfigError, match=r"same\.png"):
        st.stylize_files([tmp_path / "x" / "same.png", tmp_path / "y" / "same.png"],
                         tmp_path / "out")


def test_folder_shows_progress(tiny_model: Path, photo: np.ndarray, tmp_path: Path,
                               capsys: pytest.CaptureFixture[str]) -> None:
    _photos(tmp_path / "in", photo)
    with Stylizer(tiny_model, backend="ort_cpu") as st:
        st.stylize_folder(tmp_path / "in", tmp_path / "out")
    err = capsys.readouterr().err
    assert "stylize" in err and "100%" in err and "5/5" in err


def test_write_failure_is_recorded_for_its_item_and_the_job_goes_on(
        tiny_model: Path, photo: np.ndarray, tmp_path: Path) -> None:
    src, dst = tmp_path / "in", tmp_path / "out"
    _photos(src, photo)
    (dst / "sub").mkdir(parents=True)
    (dst / "sub" / "deep").write_text("a file where an output folder must go")
    with Stylizer(tiny_model, backend="ort_cpu", batch_size=1) as st:
        report = st.stylize_folder(src, dst, progress=False)
    assert (dst / "a.png").is_file()
    failed = {p.name: reason for p, reason in report.failed}
    assert "cannot write" in failed["d.png"] and "deep" in failed["d.png"]
    assert not [p for p in dst.rglob("*") if p.name.startswith(".")]


def test_png_outputs_are_compressed_like_pillows_default(tiny_model: Path, photo: np.ndarray,
                                                         tmp_path: Path) -> None:
    src = tmp_path / "in"
    src.mkdir()
    Image.fromarray(photo).save(src / "p.png")
    with Stylizer(tiny_model, backend="ort_cpu") as st:
        st.stylize_folder(src, tmp_path / "out", progress=False)
        default = tmp_path / "default.png"
        Image.fromarray(np.asarray(st(photo))).save(default)
    ours = (tmp_path / "out" / "p.png").stat().st_size
    assert ours <= 1.15 * default.stat().st_size  # run-length zlib: about the same size
    np.testing.assert_array_equal(np.asarray(load_image(tmp_path / "out" / "p.png")),
                                  np.asarray(load_image(default)))
