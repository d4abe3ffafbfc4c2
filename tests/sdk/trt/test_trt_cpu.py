"""The TensorRT runtime code that needs no GPU: cache keys, verified sidecars, the private cache,
the locked timing-cache merge, engine shapes, device discovery, and the layer checks."""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import stat
import subprocess
import sys
import threading
import tomllib
from dataclasses import replace
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from restyle.cuda.devices import SmiRow, parse_smi, visible_rows
from restyle.errors import ConfigError, EngineMismatchError
from restyle.trt.loader import EngineShapes, host_code_allowed
from restyle.trt.record import (
    BuildProfile,
    BuildTarget,
    EngineRecord,
    cached_engine_path,
    check_engine,
    private_cache_dir,
    read_sidecar,
    sidecar_path,
    write_sidecar,
)
from restyle.trt.target import FP16_CONVERTER_VERSION
from restyle.trt.timing import merge_into_file

ROOT = Path(__file__).resolve().parents[3]
L4 = BuildTarget("10.13.0.35", "NVIDIA L4", "8.9")
RECORD = EngineRecord("ab" * 32, L4, BuildProfile(), "fp16", workspace_bytes=4 << 30,
                      optimization_level=3, fp16_converter=FP16_CONVERTER_VERSION)


def test_cache_key_covers_every_build_setting_but_not_the_engine_hash() -> None:
    key = RECORD.cache_key()
    for changed in (replace(RECORD, optimization_level=5), replace(RECORD, workspace_bytes=1 << 30),
                    replace(RECORD, fp16_converter="restyle-mixed-fp16-2"),
                    replace(RECORD, version_compatible=True), replace(RECORD, precision="fp32"),
                    replace(RECORD, profile=BuildProfile(max=(8, 1080, 1920)))):
        assert changed.cache_key() != key
        assert cached_engine_path(changed, cache_dir=Path("/c")) != \
            cached_engine_path(RECORD, cache_dir=Path("/c"))
    assert replace(RECORD, engine_sha256="ff" * 32).cache_key() == key


def _engine(folder: Path, payload: bytes = b"engine bytes") -> Path:
    path = folder / "m.engine"
    path.write_bytes(payload)
    write_sidecar(path, RECORD)
    return path


def test_sidecar_records_and_verifies_the_engine_sha256(tmp_path: Path) -> None:
    path = _engine(tmp_path)
    record = read_sidecar(path)
    assert len(record.engine_sha256) == 64
    assert check_engine(path, target=L4) == record
    path.write_bytes(b"engine bytes, then something planted")
    with pytest.raises(EngineMismatchError, match="sha256"):
        check_engine(path, target=L4)


def test_a_sidecar_without_the_engine_hash_is_refused(tmp_path: Path) -> None:
    path = _engine(tmp_path)
    data = json.loads(sidecar_path(path).read_text())
    data["record_version"] = 1
    del data["engine_sha256"]
    sidecar_path(path).write_text(json.dumps(data))
    with pytest.raises(EngineMismatchError, match="sha256"):
        check_engine(path, target=L4)


def test_the_engine_cache_folder_is_private(tmp_path: Path) -> None:
    folder = tmp_path / "cache" / "engines"
    assert stat.S_IMODE(private_cache_dir(folder).stat().st_mode) == 0o700
    folder.chmod(0o755)
    private_cache_dir(folder)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700


def test_cached_engines_go_to_the_private_folder(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RESTYLE_CACHE_DIR", str(tmp_path / "c"))
    path = cached_engine_path(RECORD, stem="mosaic")
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_host_code_is_allowed_only_for_trusted_engines() -> None:
    assert host_code_allowed(replace(RECORD, version_compatible=True), named_by_user=False)
    assert not host_code_allowed(RECORD, named_by_user=True)  # restyle's record says no
    assert host_code_allowed(None, named_by_user=True)  # the user named it: their decision
    assert not host_code_allowed(None, named_by_user=False)


def _add_token(path: Path, token: str) -> None:
    def merge(current: bytes | None) -> bytes:
        tokens = set(json.loads(current)) if current else set()
        return json.dumps(sorted(tokens | {token})).encode()

    merge_into_file(path, merge)


def _worker(path: str, prefix: str) -> None:
    for i in range(20):
        _add_token(Path(path), f"{prefix}-{i}")


def test_concurrent_timing_cache_merges_lose_nothing(tmp_path: Path) -> None:
    """Threads and processes updating one cache file: every entry survives (lock + combine)."""
    path = tmp_path / "timing.cache"
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_worker, args=(str(path), f"p{n}")) for n in range(2)]
    threads = [threading.Thread(target=_worker, args=(str(path), f"t{n}")) for n in range(3)]
    for job in (*procs, *threads):
        job.start()
    for job in (*procs, *threads):
        job.join(timeout=120)
    assert all(p.exitcode == 0 for p in procs)
    assert len(json.loads(path.read_bytes())) == 5 * 20


def test_static_engines_take_their_one_shape() -> None:
    static = EngineShapes.from_dims((1, 3, 256, 256), None, nhwc=False)
    assert static.min == static.max == (1, 256, 256)
    dynamic = EngineShapes.from_dims((-1, -1, -1, 3), ((1, 64, 64, 3), (2, 256, 256, 3),
                                                       (4, 512, 512, 3)), nhwc=True)
    assert (dynamic.min, dynamic.max) == ((1, 64, 64), (4, 512, 512))
    with pytest.raises(EngineMismatchError, match="profile"):
        EngineShapes.from_dims((-1, -1, -1, 3), None, nhwc=True)


def test_nvidia_smi_rows_follow_cuda_visible_devices() -> None:
    rows = parse_smi("0, GPU-aaaa, NVIDIA A100-SXM4-80GB, 8.0\n1, GPU-bbbb, NVIDIA L4, 8.9\n"
                     "2, GPU-cccc, NVIDIA L4, 8.9\n")
    assert [r.index for r in rows] == [0, 1, 2]
    pci = {"CUDA_DEVICE_ORDER": "PCI_BUS_ID"}
    chosen, _ = visible_rows(rows, {**pci, "CUDA_VISIBLE_DEVICES": "2,1"})
    assert [r.index for r in chosen] == [2, 1]  # CUDA ordinal 0 is physical GPU 2
    chosen, _ = visible_rows(rows, {"CUDA_VISIBLE_DEVICES": "GPU-cccc,GPU-aaaa"})  # UUIDs: safe
    assert [r.index for r in chosen] == [2, 0]
    for env in ({}, {"CUDA_VISIBLE_DEVICES": "1"}):  # indices in fastest-first order: unknowable
        chosen, reason = visible_rows(rows, env)
        assert chosen == [] and "CUDA_DEVICE_ORDER" in reason
    chosen, _ = visible_rows(rows, pci)
    assert [r.index for r in chosen] == [0, 1, 2]
    chosen, _ = visible_rows(rows, {**pci, "CUDA_VISIBLE_DEVICES": "1,7,2"})  # stops at 7
    assert [r.index for r in chosen] == [1]
    same = rows[1:]  # one model only: any order names the same kind of GPU
    assert [r.index for r in visible_rows(same, {"CUDA_VISIBLE_DEVICES": "2"})[0]] == [2]
    assert visible_rows([SmiRow(0, "GPU-a", "NVIDIA L4", "8.9")], {"CUDA_VISIBLE_DEVICES": ""})[0] \
        == []


def test_gpu_extra_pins_cuda_python_12_with_cuda_bindings() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    extras = config["project"]["optional-dependencies"]
    cuda = next(Requirement(r) for r in extras["gpu"] if r.startswith("cuda-python"))
    assert "12.6.1" in cuda.specifier and "12.9.5" in cuda.specifier
    assert "12.6.0" not in cuda.specifier and "13.0.0" not in cuda.specifier
    assert any(r.startswith("import-linter") for r in extras["dev"])


def test_layer_checker_passes_here_and_catches_string_imports(tmp_path: Path) -> None:
    tool = ROOT / "tools" / "check_layers.py"
    ok = subprocess.run([sys.executable, str(tool), str(ROOT)], capture_output=True, text=True,
                        timeout=60, check=False)
    assert ok.returncode == 0, ok.stderr
    copy = tmp_path / "tree"
    shutil.copytree(ROOT / "sdk", copy / "sdk", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", copy / "pyproject.toml")
    bad = copy / "sdk" / "backends" / "planted.py"
    bad.write_text("import importlib\n\nm = importlib.import_module('restyle.export.tensorrt')\n"
                   "n = __import__('restyle.training')\n")
    (copy / "sdk" / "newthing.py").write_text("X = 1\n")
    broken = subprocess.run([sys.executable, str(tool), str(copy)], capture_output=True,
                            text=True, timeout=60, check=False)
    assert broken.returncode == 1
    assert "planted.py:3" in broken.stderr and "planted.py:4" in broken.stderr
    assert "restyle.newthing" in broken.stderr  # a module outside the import-linter contract


@pytest.mark.skipif(shutil.which("lint-imports") is None and
                    not (Path(sys.executable).parent / "lint-imports").exists(),
                    reason="import-linter is not installed (dev extra)")
def test_import_linter_contracts_hold() -> None:
    exe = Path(sys.executable).parent / "lint-imports"
    done = subprocess.run([str(exe), "--no-cache"], capture_output=True, text=True, timeout=300,
                          check=False, cwd=ROOT, env={**os.environ})
    assert done.returncode == 0, done.stdout[-2000:]
    assert "2 kept, 0 broken" in done.stdout


def test_pycuda_graphs_are_refused_up_front() -> None:
    from restyle.backends.base import BackendConfig

    with pytest.raises(ConfigError, match="pycuda"):
        BackendConfig(cuda="pycuda", cuda_graph=True)
    assert BackendConfig().slots == 3


def test_the_loader_refuses_altered_or_unrecorded_engines_before_tensorrt(tmp_path: Path) -> None:
    """Checked before TensorRT is imported: these refusals hold on any machine."""
    from restyle.trt.loader import load_engine

    path = _engine(tmp_path)
    path.write_bytes(b"a different engine")
    with pytest.raises(EngineMismatchError, match="sha256"):
        load_engine(path, device=0, named_by_user=True)
    sidecar_path(path).unlink()
    with pytest.raises(EngineMismatchError, match="no sidecar"):
        load_engine(path, device=0, named_by_user=False)  # a cache engine must have its record
