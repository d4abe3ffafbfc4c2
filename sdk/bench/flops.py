"""Model FLOPs per frame, counted by PyTorch's FLOP counter on the model's architecture."""

from __future__ import annotations

import functools

from restyle.modelinfo import ModelInfo

__all__ = ["flops_per_frame"]


@functools.lru_cache(maxsize=64)
def _count(arch: str, config_json: str, height: int, width: int) -> float:
    import json

    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from restyle.training.models import create_model

    model = create_model(arch, **json.loads(config_json)).eval()
    mult = int(getattr(model, "size_multiple", 1))
    h, w = -(-height // mult) * mult, -(-width // mult) * mult
    counter = FlopCounterMode(display=False)
    with torch.inference_mode(), counter:
        model(torch.zeros(1, 3, h, w))
    return float(counter.get_total_flops())


def flops_per_frame(info: ModelInfo, height: int, width: int) -> float | None:
    """FLOPs (2 per multiply-add) of one frame; None without torch or the architecture."""
    import json

    try:
        return _count(info.arch, json.dumps(info.arch_config, sort_keys=True), height, width)
    except Exception:  # torch or restyle.training missing, unknown architecture: not measurable
        return None
