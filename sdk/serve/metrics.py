"""Prometheus metrics of one server, on a registry of its own (``GET /metrics``)."""

from __future__ import annotations

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

__all__ = ["CONTENT_TYPE", "Metrics"]

CONTENT_TYPE = CONTENT_TYPE_LATEST

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128)


class Metrics:
    """Requests, errors, latency, batch sizes, queue depth and rejections.

    Example:
        >>> m = Metrics()
        >>> m.observe_request("/v1/stylize", 200, 0.02)
        >>> b"restyle_requests_total" in m.render()
        True
    """

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter("restyle_requests", "HTTP requests answered",
                                ["route", "code"], registry=r)
        self.errors = Counter("restyle_request_errors", "HTTP requests answered with 4xx or 5xx",
                              ["route", "code"], registry=r)
        self.latency = Histogram("restyle_request_latency_seconds",
                                 "Time from request to response", ["route"],
                                 buckets=_LATENCY_BUCKETS, registry=r)
        self.batch_size = Histogram("restyle_batch_size", "Images per backend call",
                                    ["style"], buckets=_BATCH_BUCKETS, registry=r)
        self.queue_depth = Gauge("restyle_queue_depth", "Images waiting for a batch",
                                 registry=r)
        self.in_flight = Gauge("restyle_in_flight", "Requests admitted and not yet answered",
                               registry=r)
        self.rejected = Counter("restyle_rejected",
                                "Requests refused: queue_full, too_large, bad_image, timeout",
                                ["reason"], registry=r)
        self.camera_frames = Counter("restyle_camera_frames", "Camera frames stylised",
                                     ["style"], registry=r)

    def observe_request(self, route: str, code: int, seconds: float) -> None:
        """Count one answered request and its latency."""
        self.requests.labels(route=route, code=str(code)).inc()
        if code >= 400:
            self.errors.labels(route=route, code=str(code)).inc()
        self.latency.labels(route=route).observe(seconds)

    def render(self) -> bytes:
        """Everything in the Prometheus text format."""
        return generate_latest(self.registry)
