"""Shared fixtures and the `gpu` marker's skip logic."""

from __future__ import annotations

import importlib.util

import pytest


def gpu_skip_reason(*, tensorrt: bool = False) -> str | None:
    """Why GPU tests cannot run here, or None when a CUDA GPU (and TensorRT if asked) exists."""
    if importlib.util.find_spec("cuda") is None and importlib.util.find_spec("pycuda") is None:
        return "no CUDA binding (cuda-python or pycuda) installed"
    from restyle.environment import gpu_names

    names, reason = gpu_names()
    if not names:
        return reason
    if tensorrt:
        from restyle.trt.target import tensorrt_problem

        return tensorrt_problem()
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    reason = None
    checked = False
    for item in items:
        if "gpu" in item.keywords:
            if not checked:
                reason, checked = gpu_skip_reason(), True
            if reason:
                item.add_marker(pytest.mark.skip(reason=f"gpu test: {reason}"))
