"""Which CUDA GPUs this process sees: the one place restyle asks.

CUDA numbers devices after ``CUDA_VISIBLE_DEVICES`` has filtered (and reordered) them, and by
default orders them fastest first, while ``nvidia-smi`` lists every GPU in PCI bus order. So the
CUDA runtime (cuda-python) is asked first; ``nvidia-smi`` is only a fallback, and its rows are
mapped to CUDA ordinals by :func:`visible_rows`, which refuses to guess when the order is
ambiguous (several different GPUs without ``CUDA_DEVICE_ORDER=PCI_BUS_ID``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

__all__ = ["GpuInfo", "gpu_identity", "list_gpus", "visible_rows"]


@dataclass(frozen=True)
class GpuInfo:
    """One visible GPU: its CUDA ordinal in this process, name and compute capability."""

    ordinal: int
    name: str
    compute_capability: str
    source: str
    """``"cuda-python"`` or ``"nvidia-smi"``."""


@dataclass(frozen=True)
class SmiRow:
    """One ``nvidia-smi --query-gpu=index,uuid,name,compute_cap`` line."""

    index: int
    uuid: str
    name: str
    compute_capability: str


def _from_cuda_python() -> tuple[list[GpuInfo] | None, str]:
    try:
        from cuda.bindings import runtime as cudart
    except ImportError:
        return None, "cuda-python is not installed"
    err, count = cudart.cudaGetDeviceCount()
    if int(err) != 0:
        return [], f"CUDA reports no usable GPU ({getattr(err, 'name', err)})"
    gpus = []
    for ordinal in range(int(count)):
        err, props = cudart.cudaGetDeviceProperties(ordinal)
        if int(err) != 0:
            continue
        raw = props.name
        name = raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw)
        gpus.append(GpuInfo(ordinal, name.strip("\x00 "), f"{props.major}.{props.minor}",
                            "cuda-python"))
    return gpus, "" if gpus else "CUDA lists no GPU"


def parse_smi(text: str) -> list[SmiRow]:
    """Rows of ``nvidia-smi --query-gpu=index,uuid,name,compute_cap --format=csv,noheader``.

    Example:
        >>> parse_smi("0, GPU-aa, NVIDIA L4, 8.9\\n")[0].name
        'NVIDIA L4'
    """
    rows = []
    for line in text.splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) < 4 or not parts[0].isdigit():
            continue
        name = ",".join(parts[2:-1])
        rows.append(SmiRow(int(parts[0]), parts[1], name, parts[-1]))
    return rows


def visible_rows(rows: Sequence[SmiRow], env: Mapping[str, str]) -> tuple[list[SmiRow], str]:
    """The ``nvidia-smi`` rows in CUDA ordinal order for a process with environment ``env``, or
    an empty list and the reason they cannot be mapped safely.

    ``CUDA_VISIBLE_DEVICES`` may hold indices or (prefixes of) UUIDs, listed in the order CUDA
    numbers them; the first entry that does not match ends the list, as CUDA does. Indices (and
    the default order without the variable) follow ``CUDA_DEVICE_ORDER``, fastest first unless it
    is ``PCI_BUS_ID``, which ``nvidia-smi`` cannot tell: mapping by index is only safe in PCI bus
    order or when every GPU is the same model. UUIDs are always safe.

    Example:
        >>> rows = [SmiRow(0, "GPU-a", "NVIDIA A100", "8.0"),
        ...         SmiRow(1, "GPU-b", "NVIDIA L4", "8.9")]
        >>> [r.name for r in visible_rows(rows, {"CUDA_VISIBLE_DEVICES": "GPU-b"})[0]]
        ['NVIDIA L4']
        >>> visible_rows(rows, {"CUDA_VISIBLE_DEVICES": "1"})[0]
        []
    """
    chosen: list[SmiRow] = list(rows)
    spec = env.get("CUDA_VISIBLE_DEVICES")
    by_index = spec is None or any(e.strip().isdigit() for e in spec.split(","))
    if by_index and len({(r.name, r.compute_capability) for r in rows}) > 1 \
            and env.get("CUDA_DEVICE_ORDER") != "PCI_BUS_ID":
        return [], ("several different GPUs are present and CUDA numbers them fastest first, "
                    "which nvidia-smi cannot tell: install cuda-python (pip install "
                    "'restyle[gpu]'), set CUDA_DEVICE_ORDER=PCI_BUS_ID, or name GPUs by UUID in "
                    "CUDA_VISIBLE_DEVICES")
    if spec is not None:
        chosen = []
        for entry in (e.strip() for e in spec.split(",")):
            match = [r for r in rows if (entry.isdigit() and r.index == int(entry))
                     or (entry.startswith(("GPU-", "MIG-")) and r.uuid.startswith(entry))]
            if len(match) != 1 or match[0] in chosen:
                break
            chosen.append(match[0])
        if not chosen:
            return [], f"CUDA_VISIBLE_DEVICES={spec!r} hides every GPU"
    return chosen, ""


def _from_smi() -> tuple[list[GpuInfo], str]:
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return [], "no NVIDIA driver found (nvidia-smi is not on PATH)"
    try:
        out = subprocess.run([smi, "--query-gpu=index,uuid,name,compute_cap",
                              "--format=csv,noheader"], capture_output=True, text=True,
                             timeout=10, check=True).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        return [], f"nvidia-smi failed: {exc}"
    rows, reason = visible_rows(parse_smi(out), os.environ)
    gpus = [GpuInfo(i, r.name, r.compute_capability, "nvidia-smi") for i, r in enumerate(rows)]
    return gpus, reason or ("" if gpus else "nvidia-smi lists no GPU")


def list_gpus() -> tuple[list[GpuInfo], str]:
    """The GPUs this process can use, by CUDA ordinal, and the reason when there are none."""
    gpus, reason = _from_cuda_python()
    if gpus is not None:
        return gpus, reason
    found, smi_reason = _from_smi()
    return found, f"{reason}; {smi_reason}" if smi_reason else ""


def gpu_identity(device: int = 0) -> GpuInfo:
    """CUDA device ``device`` of this process.

    Raises:
        BackendUnavailableError: It is not visible (the message says why).
    """
    from restyle.errors import BackendUnavailableError

    gpus, reason = list_gpus()
    for gpu in gpus:
        if gpu.ordinal == device:
            return gpu
    seen = f"{len(gpus)} visible" if gpus else reason
    raise BackendUnavailableError(f"CUDA GPU {device} is not visible ({seen}): TensorRT engines "
                                  "are built on the GPU that will run them")
