"""TensorRT engine identity: build profiles, cache keys and the JSON sidecar checked on load.

An engine runs only on the TensorRT version and GPU that built it, for the ONNX model, shape
ranges and precision it was built with. Each engine file ``X.engine`` has a sidecar
``X.engine.json`` recording all of that and the engine's own sha256; :func:`check_engine` compares
it with the machine and the file, so a stale, foreign or altered engine is rebuilt (in the cache)
or refused with :class:`EngineMismatchError` (where the user named the file) — never silently
used. An engine is executable code: the cache folder is kept private (0700,
:func:`private_cache_dir`). Nothing here imports TensorRT. Over 300 lines because it is the one
definition of an engine's identity (profile, target, record, sidecar, checks), mostly docstrings.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import stat
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from restyle._version import __version__
from restyle.errors import ConfigError, EngineMismatchError, ModelFormatError, OutputError
from restyle.modelinfo import IO_UINT8_NHWC
from restyle.paths import atomic_output, engine_cache_dir, file_sha256

__all__ = [
    "SIDECAR_SUFFIX",
    "BuildProfile",
    "BuildTarget",
    "EngineRecord",
    "cached_engine_path",
    "check_engine",
    "file_sha256",
    "parse_shape",
    "parse_version",
    "private_cache_dir",
    "read_sidecar",
    "sidecar_path",
    "verify_engine_file",
    "write_sidecar",
]

log = logging.getLogger("restyle.trt")

SIDECAR_SUFFIX = ".json"
RECORD_VERSION = 2
#: Sidecars older than this lack the engine's sha256 and are not trusted.
MIN_RECORD_VERSION = 2
Shape = tuple[int, int, int]


def parse_shape(text: str) -> Shape:
    """Parse ``"4x720x1280"`` (batch × height × width) into ``(4, 720, 1280)``.

    Raises:
        ConfigError: Not three positive integers separated by ``x``.

    Example:
        >>> parse_shape("4x720x1280")
        (4, 720, 1280)
    """
    try:
        n, h, w = (int(part) for part in text.strip().lower().split("x"))
    except ValueError:
        raise ConfigError(
            f"bad shape {text!r}: write batch×height×width as NxHxW, e.g. 4x720x1280"
        ) from None
    if min(n, h, w) < 1:
        raise ConfigError(f"bad shape {text!r}: every size must be ≥ 1")
    return (n, h, w)


@dataclass(frozen=True)
class BuildProfile:
    """The input shapes an engine accepts: (batch, height, width) from ``min`` to ``max``, tuned
    for ``opt``.

    Example:
        >>> BuildProfile(min=(1, 256, 256), opt=(4, 720, 1280), max=(16, 1080, 1920)).key()
        '1x256x256-4x720x1280-16x1080x1920'
    """

    min: Shape = (1, 256, 256)
    opt: Shape = (4, 720, 1280)
    max: Shape = (16, 1080, 1920)

    def __post_init__(self) -> None:
        for name in ("min", "opt", "max"):
            shape = getattr(self, name)
            if len(shape) != 3 or any(not isinstance(v, int) or v < 1 for v in shape):
                raise ConfigError(f"profile {name} shape {shape} must be three positive integers "
                                  "(batch, height, width)")
        if not all(a <= b <= c for a, b, c in zip(self.min, self.opt, self.max, strict=True)):
            raise ConfigError(
                f"profile shapes must satisfy min ≤ opt ≤ max in every dimension, got "
                f"min={self.min} opt={self.opt} max={self.max}"
            )

    def key(self) -> str:
        """A compact text form, part of the cache key."""
        return "-".join("x".join(str(v) for v in s) for s in (self.min, self.opt, self.max))

    def tensor_shapes(self, io: str) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
        """The input tensor's min/opt/max shapes for a model of I/O layout ``io``."""

        def full(s: Shape) -> tuple[int, ...]:
            n, h, w = s
            return (n, h, w, 3) if io == IO_UINT8_NHWC else (n, 3, h, w)

        return full(self.min), full(self.opt), full(self.max)

    def covers(self, batch: int, height: int, width: int) -> bool:
        """Whether an input of this size is within the profile."""
        return all(lo <= v <= hi for lo, v, hi in
                   zip(self.min, (batch, height, width), self.max, strict=True))


@dataclass(frozen=True)
class BuildTarget:
    """The machine an engine is for: TensorRT version, GPU name and compute capability."""

    tensorrt_version: str
    gpu_name: str
    compute_capability: str

    def describe(self) -> str:
        return (f"TensorRT {self.tensorrt_version} on {self.gpu_name} "
                f"(compute capability {self.compute_capability})")


@dataclass(frozen=True)
class EngineRecord:
    """What an engine was built from and for: the content of its sidecar."""

    onnx_sha256: str
    target: BuildTarget
    profile: BuildProfile
    precision: str
    version_compatible: bool = False
    workspace_bytes: int = 0
    optimization_level: int = 3
    fp16_converter: str = ""
    """Version of the FP16 converter that made the network (empty: the file was used as is)."""
    engine_sha256: str = ""
    """sha256 of the engine file itself: set when the engine is written, verified on load."""
    restyle_version: str = __version__
    record_version: int = RECORD_VERSION

    def cache_key(self) -> str:
        """sha256 over everything that makes an engine different (restyle's version and the
        engine's own hash excluded).

        Example:
            >>> rec = EngineRecord("ab" * 32, BuildTarget("10.13.0", "NVIDIA L4", "8.9"),
            ...                    BuildProfile(), "fp16", optimization_level=3)
            >>> rec.cache_key() != replace(rec, optimization_level=5).cache_key()
            True
        """
        fields = {
            "onnx_sha256": self.onnx_sha256, "target": asdict(self.target),
            "profile": self.profile.key(), "precision": self.precision,
            "version_compatible": self.version_compatible,
            "workspace_bytes": self.workspace_bytes,
            "optimization_level": self.optimization_level,
            "fp16_converter": self.fp16_converter,
        }
        return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()

    def to_json(self) -> str:
        data = asdict(self)
        data["cache_key"] = self.cache_key()
        return json.dumps(data, indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> EngineRecord:
        """Parse a sidecar. Raises ``ValueError``/``KeyError``/``TypeError`` when malformed."""
        data: dict[str, Any] = json.loads(text)
        if int(data["record_version"]) > RECORD_VERSION:
            raise ValueError(f"sidecar format {data['record_version']} is newer than this restyle")
        if int(data["record_version"]) < MIN_RECORD_VERSION:
            raise ValueError(f"sidecar format {data['record_version']} does not record the "
                             "engine's sha256")
        profile = data["profile"]

        def shape(value: Any) -> Shape:
            n, h, w = (int(v) for v in value)
            return (n, h, w)

        return cls(
            onnx_sha256=str(data["onnx_sha256"]),
            target=BuildTarget(**{k: str(v) for k, v in data["target"].items()}),
            profile=BuildProfile(min=shape(profile["min"]), opt=shape(profile["opt"]),
                                 max=shape(profile["max"])),
            precision=str(data["precision"]),
            version_compatible=bool(data.get("version_compatible", False)),
            workspace_bytes=int(data["workspace_bytes"]),
            optimization_level=int(data["optimization_level"]),
            fp16_converter=str(data["fp16_converter"]),
            engine_sha256=str(data["engine_sha256"]),
            restyle_version=str(data.get("restyle_version", "")),
            record_version=int(data["record_version"]),
        )


def sidecar_path(engine_path: str | os.PathLike[str]) -> Path:
    """``X.engine`` → ``X.engine.json``."""
    p = Path(engine_path)
    return p.with_name(p.name + SIDECAR_SUFFIX)


def write_sidecar(engine_path: str | os.PathLike[str], record: EngineRecord) -> Path:
    """Write an engine's sidecar atomically, recording the engine file's sha256; returns its path.

    Write the engine first: its hash is taken from the file as it is now.
    """
    path = sidecar_path(engine_path)
    record = replace(record, engine_sha256=file_sha256(engine_path))
    with atomic_output(path) as tmp:
        tmp.write_text(record.to_json(), encoding="utf-8")
    return path


def verify_engine_file(engine_path: str | os.PathLike[str], record: EngineRecord) -> None:
    """Check that the engine file is byte for byte the one its sidecar was written for.

    Raises:
        EngineMismatchError: The file's sha256 differs (altered, truncated or swapped).
    """
    actual = file_sha256(engine_path)
    if not record.engine_sha256 or actual != record.engine_sha256:
        raise EngineMismatchError(
            f"engine {engine_path} is not the file its sidecar describes (sha256 {actual[:12]}…, "
            f"the sidecar records {record.engine_sha256[:12] or 'none'}…): an engine is executable "
            "code, so restyle will not load it; rebuild it with `restyle export MODEL --trt`"
        )


def private_cache_dir(folder: Path | None = None) -> Path:
    """The engine cache folder, created private to this user (mode 0700).

    An existing folder with wider permissions is narrowed to 0700; one owned by another user is
    refused, since anyone who can write there could plant an engine.

    Raises:
        ConfigError: The folder belongs to another user.
        OutputError: It cannot be created.
    """
    path = folder if folder is not None else engine_cache_dir()
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = path.stat()
        if hasattr(os, "getuid") and info.st_uid != os.getuid():
            raise ConfigError(f"the engine cache {path} belongs to another user: set "
                              "RESTYLE_CACHE_DIR to a folder of your own")
        if stat.S_IMODE(info.st_mode) != 0o700:
            path.chmod(0o700)
    except OSError as exc:
        raise OutputError(f"cannot create the private engine cache {path}: {exc}") from exc
    return path


def read_sidecar(engine_path: str | os.PathLike[str]) -> EngineRecord:
    """Read an engine's sidecar.

    Raises:
        EngineMismatchError: The sidecar is missing or unreadable, so where and for what the
            engine was built is unknown.
    """
    path = sidecar_path(engine_path)
    try:
        return EngineRecord.from_json(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise EngineMismatchError(
            f"{engine_path} has no sidecar {path.name}, so the TensorRT version, GPU and model it "
            "was built for are unknown: rebuild it with `restyle export MODEL --onnx M.onnx --trt`"
        ) from None
    except (OSError, ValueError, KeyError, TypeError, ConfigError) as exc:
        raise EngineMismatchError(
            f"the sidecar {path} of {engine_path} is unreadable ({exc}): rebuild the engine with "
            "`restyle export MODEL --onnx M.onnx --trt`"
        ) from exc


def parse_version(version: str) -> tuple[int, ...]:
    """``"10.13.0.35"`` → ``(10, 13, 0, 35)``; stops at the first part that is not a number.

    Example:
        >>> parse_version("11.4.0.post1")
        (11, 4, 0)
    """
    parts: list[int] = []
    for piece in version.split("."):
        if not piece.isdigit():
            break
        parts.append(int(piece))
    return tuple(parts)


def _tensorrt_compatible(built: str, running: str, version_compatible: bool) -> bool:
    if built == running:
        return True
    b, r = parse_version(built), parse_version(running)
    # Version-compatible engines run on later TensorRT releases of the same major version.
    return version_compatible and len(b) >= 2 and len(r) >= 2 and b[0] == r[0] and r[:2] >= b[:2]


def check_engine(
    engine_path: str | os.PathLike[str],
    *,
    target: BuildTarget,
    onnx_sha256: str | None = None,
    profile: BuildProfile | None = None,
    precision: str | None = None,
) -> EngineRecord:
    """Check that an engine was built for this machine (and, where given, this model, profile and
    precision).

    Args:
        engine_path: The ``.engine`` file; its sidecar must be beside it.
        target: This machine (:func:`restyle.trt.target.detect_target`).
        onnx_sha256: The ONNX model's sha256 the engine must come from, if known.
        profile: The shape profile it must have, if required.
        precision: ``"fp16"`` or ``"fp32"``, if required.

    Returns:
        The engine's record.

    Raises:
        ModelFormatError: The engine file does not exist.
        EngineMismatchError: It was built for another TensorRT, GPU, model, profile or precision,
            its sidecar is missing, or the file is not the one the sidecar's sha256 names; the
            message names the difference and the fix.
    """
    if not Path(engine_path).is_file():
        raise ModelFormatError(f"engine file {engine_path} does not exist")
    record = read_sidecar(engine_path)
    verify_engine_file(engine_path, record)
    built = record.target
    fix = "rebuild it with `restyle export MODEL --onnx M.onnx --trt`"
    if not _tensorrt_compatible(built.tensorrt_version, target.tensorrt_version,
                                record.version_compatible) \
            or built.gpu_name != target.gpu_name \
            or built.compute_capability != target.compute_capability:
        raise EngineMismatchError(
            f"engine {engine_path} was built with TensorRT {built.tensorrt_version} for "
            f"{built.gpu_name} (compute capability {built.compute_capability}), this is "
            f"{target.describe()}: {fix}"
        )
    if onnx_sha256 is not None and record.onnx_sha256 != onnx_sha256:
        raise EngineMismatchError(
            f"engine {engine_path} was built from another ONNX model (sha256 "
            f"{record.onnx_sha256[:12]}…, this model is {onnx_sha256[:12]}…): {fix}"
        )
    if profile is not None and record.profile != profile:
        raise EngineMismatchError(
            f"engine {engine_path} was built for shapes {record.profile.key()}, "
            f"{profile.key()} are wanted: {fix} and the wanted --min/--opt/--max"
        )
    if precision is not None and record.precision != precision:
        raise EngineMismatchError(
            f"engine {engine_path} is {record.precision}, {precision} is wanted: {fix}"
        )
    return record


def cached_engine_path(record: EngineRecord, *, stem: str = "model",
                       cache_dir: Path | None = None) -> Path:
    """Where the engine described by ``record`` lives in the cache.

    The file name carries the start of the cache key, so engines for different models, GPUs,
    TensorRT versions, profiles or precisions never overwrite each other.

    Example:
        >>> rec = EngineRecord("ab" * 32, BuildTarget("10.13.0", "NVIDIA L4", "8.9"),
        ...                    BuildProfile(), "fp16")
        >>> cached_engine_path(rec, stem="mosaic", cache_dir=Path("/c")).name[:7]
        'mosaic-'
    """
    folder = cache_dir if cache_dir is not None else private_cache_dir()
    safe = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in stem) or "model"
    return folder / f"{safe}-{record.precision}-{record.cache_key()[:16]}.engine"
