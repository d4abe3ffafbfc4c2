"""Model FLOPs per frame, counted by PyTorch's FLOP counter on the model's architecture."""

from __future__ import annotations

import functools

from restyle.modelinfo import ModelInfo

__all__ = ["flops_per_frame"]


@functools.lru_cache(maxsize=64)
def _count(arch: str, config_json: str, height: int, width: int, folded: bool) -> float:
    import json

    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from restyle.training.models import create_model

    model: torch.nn.Module = create_model(arch, **json.loads(config_json)).eval()
    if folded:
        from restyle.export.rewrite import fold_upsample_convs

        model = fold_upsample_convs(model)[0]
    mult = int(getattr(model, "size_multiple", 1))
    h, w = -(-height // mult) * mult, -(-width // mult) * mult
    counter = FlopCounterMode(display=False)
    with torch.inference_mode(), counter:
        model(torch.zeros(1, 3, h, w))
    return float(counter.get_total_flops())


def flops_per_frame(info: ModelInfo, height: int, width: int, *, executed: bool = False
                    ) -> float | None:
    """FLOPs (2 per multiply-add) of one frame; None without torch or the architecture.

    By default the architecture's own FLOPs (the "model FLOPs" of a FLOP efficiency). With
    ``executed=True``, those of the graph the file actually runs, after the exact rewrites its
    export applied (:mod:`restyle.export.rewrite`; fewer multiply-adds for the same function).
    """
    import json

    folded = executed and "fold_upsampling" in info.graph_rewrites.split(",")
    try:
        return _count(info.arch, json.dumps(info.arch_config, sort_keys=True), height, width,
                      folded)
    except Exception:  # torch or restyle.training missing, unknown architecture: not measurable
        return None
