"""``WS /v1/camera``: camera frames in, stylised JPEG frames out, through the same batches as
``POST /v1/stylize`` (frames of several clients share backend calls)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from fastapi import FastAPI, WebSocket, WebSocketDisconnect

from restyle import postprocess
from restyle.errors import InvalidImageError
from restyle.serve.batcher import BatcherClosedError
from restyle.serve.models import ModelPool
from restyle.serve.server import Server

__all__ = ["CAMERA_MAX_BYTES", "add_camera_route", "camera_default"]

#: Largest camera frame message in bytes (a 1280×720 JPEG is far smaller).
CAMERA_MAX_BYTES = 4 * 1024 * 1024


def add_camera_route(app: FastAPI, server: Server) -> None:
    """Register ``WS /v1/camera`` on ``app``."""

    @app.websocket("/v1/camera")
    async def camera(ws: WebSocket, style: str | None = None, strength: float = 1.0,
                     preserve_color: bool = False) -> None:
        """Binary messages in (one encoded frame each), binary JPEG frames out, one answer per
        frame in order; a text message `{"style": ..., "strength": ..., "preserve_color": ...}`
        changes the settings; problems come back as text `{"error": ...}`."""
        await ws.accept()
        pool = server.models()
        settings: dict[str, Any] = {"style": style or camera_default(pool),
                                    "strength": strength, "preserve_color": preserve_color}
        try:
            while True:
                message = await ws.receive()
                if message["type"] == "websocket.disconnect":
                    return
                if message.get("text") is not None:
                    await ws.send_text(json.dumps(_update(settings, message["text"], pool)))
                    continue
                reply = await _camera_frame(server, message.get("bytes") or b"", settings)
                if isinstance(reply, bytes):
                    await ws.send_bytes(reply)
                else:
                    await ws.send_text(json.dumps(reply))
        except WebSocketDisconnect:
            return


def camera_default(pool: ModelPool) -> str:
    """The style the camera starts with: ``ink`` or another ``realtime`` generator if offered."""
    realtime = [e.name for e in pool.entries.values() if e.arch == "realtime"]
    return "ink" if "ink" in realtime else (realtime[0] if realtime else pool.default)


def _update(settings: dict[str, Any], text: str, pool: ModelPool) -> dict[str, Any]:
    """Apply a camera settings message; the reply to send back."""
    try:
        change = json.loads(text)
        if not isinstance(change, dict):
            raise ValueError("not an object")
        new = {**settings, **{k: v for k, v in change.items() if k in settings}}
        pool.entry(str(new["style"]))
        new["strength"] = postprocess.check_strength(float(new["strength"]))
        new["preserve_color"] = bool(new["preserve_color"])
    except (ValueError, TypeError) as exc:
        return {"error": f"settings not changed: {exc}"}
    settings.update(new)
    return {"settings": settings}


async def _camera_frame(server: Server, data: bytes,
                        settings: dict[str, Any]) -> bytes | dict[str, Any]:
    """One stylised JPEG frame, or the error to send instead."""
    if len(data) > CAMERA_MAX_BYTES:
        return {"error": f"frame of {len(data):,} bytes is over {CAMERA_MAX_BYTES:,}"}
    if not server.admission.enter():
        server.metrics.rejected.labels(reason="queue_full").inc()
        return {"error": "busy", "retry_after_ms": 200}
    try:
        async with asyncio.timeout(server.config.timeout_s):
            out = await server.stylize_bytes(
                data, style=settings["style"], strength=settings["strength"],
                preserve_color=settings["preserve_color"], fmt="jpeg",
                max_pixels=server.config.camera_max_pixels)
    except InvalidImageError as exc:
        return {"error": str(exc)}
    except (TimeoutError, BatcherClosedError) as exc:
        return {"error": f"frame dropped: {exc or 'timeout'}"}
    finally:
        server.admission.leave()
    server.metrics.camera_frames.labels(style=settings["style"]).inc()
    return out
