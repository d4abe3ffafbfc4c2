"""``ServeConfig``: everything ``restyle serve`` can be told, checked once."""

from __future__ import annotations

from dataclasses import dataclass

from restyle.errors import ConfigError

__all__ = ["ServeConfig"]


@dataclass(frozen=True)
class ServeConfig:
    """Settings of a :func:`restyle.serve.create_app` server.

    Attributes:
        models: Styles to serve: bundled style names (``restyle styles``) or model files chosen
            by whoever starts the server; empty means every installed style. The first is the
            default. Clients pick among these by name only.
        backend: Backend for every model (``auto``, ``openvino``, ``ort_cpu`` ...).
        threads: CPU threads per model (None: physical cores).
        max_batch: Largest batch formed from concurrent requests (1 turns batching off).
        max_wait_ms: Longest a request waits for others to join its batch.
        max_queue: Requests admitted at once (queued, running or being encoded); one more gets
            503 with Retry-After.
        max_upload_bytes: Largest request body; larger gets 413.
        max_pixels: Largest image (width × height) decoded; larger gets 413 before decoding.
        timeout_s: Per-request limit from admission to the encoded answer; later gets 504.
        camera_max_pixels: Largest camera frame (the page sends 320×240 by default).
    """

    models: tuple[str, ...] = ()
    backend: str = "auto"
    threads: int | None = None
    max_batch: int = 8
    max_wait_ms: float = 10.0
    max_queue: int = 64
    max_upload_bytes: int = 20 * 1024 * 1024
    max_pixels: int = 4096 * 4096
    timeout_s: float = 60.0
    camera_max_pixels: int = 1280 * 720

    def __post_init__(self) -> None:
        for name, value, low in (("max_batch", self.max_batch, 1),
                                 ("max_queue", self.max_queue, 1),
                                 ("max_upload_bytes", self.max_upload_bytes, 1),
                                 ("max_pixels", self.max_pixels, 1),
                                 ("camera_max_pixels", self.camera_max_pixels, 1)):
            if value < low:
                raise ConfigError(f"{name}={value} must be at least {low}")
        if self.max_wait_ms < 0:
            raise ConfigError(f"max_wait_ms={self.max_wait_ms} must be 0 or more")
        if self.timeout_s <= 0:
            raise ConfigError(f"timeout_s={self.timeout_s} must be positive")
        if self.threads is not None and self.threads < 1:
            raise ConfigError(f"threads={self.threads} must be at least 1 (or None for all cores)")
