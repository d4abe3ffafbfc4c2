"""``restyle serve`` under 1, 8 and 32 concurrent clients against the same images through
``Stylizer`` in-process, and the gain from batching across requests (on vs off), in one run.

``make bench`` (``RESTYLE_BENCH=full``): bundled ``mosaic``, 256×256 PNG photos, 24 requests a
client (at least 96 a case), server with ``--max-batch 8 --max-wait-ms 10`` (batching on) and
``--max-batch 1`` (off), clients on httpx over loopback, every answer checked for status 200.
The in-process baseline stylises the same decoded images one call each (what an application
would do without a server). Throughput is requests/s over the whole case; latency is per
request, p50 and p99. Smoke mode: ``ink``, 32×32, a few requests. Nothing here asserts a time.
"""

from __future__ import annotations

import asyncio
import io
import time
from typing import Any

import numpy as np
import pytest
from _matrix import FULL
from PIL import Image

CLIENTS = [1, 8, 32]
STYLE = "mosaic" if FULL else "ink"
SIZE = 256 if FULL else 32
PER_CLIENT = 24 if FULL else 2
MIN_REQUESTS = 96 if FULL else 4


def _photos(n: int) -> list[Image.Image]:
    rng = np.random.default_rng(0)
    out = []
    for i in range(n):
        y, x = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32)
        base = np.stack([128 + 100 * np.sin(x / (5 + i)), 128 + 90 * np.cos(y / 7),
                         128 + 70 * np.sin((x + y) / 11)], axis=-1)
        out.append(Image.fromarray(np.clip(base + rng.normal(0, 8, base.shape), 0, 255)
                                   .astype(np.uint8)))
    return out


def _png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def _summary(latencies: list[float], wall: float) -> dict[str, float]:
    ms = np.array(latencies) * 1000
    return {"rps": len(latencies) / wall, "p50_ms": float(np.percentile(ms, 50)),
            "p99_ms": float(np.percentile(ms, 99))}


def _load(url: str, bodies: list[bytes], clients: int) -> dict[str, float]:
    import httpx

    per_client = max(PER_CLIENT, -(-MIN_REQUESTS // clients))

    async def client(k: int, http: httpx.AsyncClient, out: list[float]) -> None:
        for n in range(per_client):
            start = time.perf_counter()
            r = await http.post("/v1/stylize", content=bodies[(k + n) % len(bodies)],
                                params={"style": STYLE})
            out.append(time.perf_counter() - start)
            if r.status_code != 200:
                raise RuntimeError(f"{r.status_code}: {r.text}")

    async def main() -> dict[str, float]:
        limits = httpx.Limits(max_connections=clients)
        async with httpx.AsyncClient(base_url=url, timeout=600, limits=limits) as http:
            warm: list[float] = []
            await asyncio.gather(*(client(k, http, warm) for k in range(min(clients, 4))))
            latencies: list[float] = []
            start = time.perf_counter()
            await asyncio.gather(*(client(k, http, latencies) for k in range(clients)))
            return _summary(latencies, time.perf_counter() - start)

    return asyncio.run(main())


def _in_process(images: list[Image.Image], backend: str, n: int) -> dict[str, float]:
    from restyle import Stylizer

    with Stylizer(STYLE, backend=backend) as st:
        for img in images[:2]:
            st(img)  # warm-up
        latencies = []
        start = time.perf_counter()
        for i in range(n):
            t = time.perf_counter()
            st(images[i % len(images)])
            latencies.append(time.perf_counter() - t)
        return _summary(latencies, time.perf_counter() - start)


@pytest.mark.benchmark(group="serve")
def test_serve_vs_in_process(benchmark: Any) -> None:
    import httpx

    from restyle.serve.process import spawn_server

    images = _photos(4)
    bodies = [_png(img) for img in images]
    results: dict[str, dict[str, float]] = {}

    def measure() -> None:
        backend = "auto"
        for mode, batch in (("on", "8"), ("off", "1")):
            with spawn_server(["--model", STYLE, "--max-batch", batch, "--max-wait-ms", "10",
                               "--max-queue", "256"]) as srv:
                with httpx.Client(base_url=srv.url, timeout=60) as c:
                    c.post("/v1/stylize", content=bodies[0])
                    backend = c.get("/healthz").json()["loaded"][STYLE]["backend"]
                for clients in CLIENTS:
                    results[f"serve_batch_{mode}_{clients}"] = _load(srv.url, bodies, clients)
        results["in_process"] = _in_process(images, backend, MIN_REQUESTS)
        benchmark.extra_info["backend"] = backend

    benchmark.pedantic(measure, rounds=1, iterations=1)
    base = results["in_process"]
    lines = [f"restyle serve vs Stylizer in-process: {STYLE}, {SIZE}×{SIZE} PNG, backend "
             f"{benchmark.extra_info['backend']}",
             "| clients | batching | req/s | p50 ms | p99 ms | × in-process req/s | "
             "batching gain |", "|---|---|---|---|---|---|---|"]
    for clients in CLIENTS:
        on, off = results[f"serve_batch_on_{clients}"], results[f"serve_batch_off_{clients}"]
        for mode, r in (("on", on), ("off", off)):
            gain = f"{on['rps'] / off['rps']:.2f}" if mode == "on" else ""
            lines.append(f"| {clients} | {mode} | {r['rps']:.1f} | {r['p50_ms']:.0f} | "
                         f"{r['p99_ms']:.0f} | {r['rps'] / base['rps']:.2f} | {gain} |")
    lines.append(f"| in-process | one call per image | {base['rps']:.1f} | "
                 f"{base['p50_ms']:.0f} | {base['p99_ms']:.0f} | 1.00 | |")
    print("\n" + "\n".join(lines))
    for key, r in results.items():
        for stat, value in r.items():
            benchmark.extra_info[f"{key}_{stat}"] = value
    assert all(r["rps"] > 0 for r in results.values())
