"""1, 8 and 32 concurrent clients with good and bad uploads against one server process: every
good request answered correctly, every bad one a 4xx, the server alive and idle after."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator

import httpx
import numpy as np
import pytest
from numpy.typing import NDArray
from PIL import Image
from serve_helpers import (
    ServerProcess,
    assert_close,
    bomb_png,
    decode,
    encode,
    photo,
    running_server,
    wait_until,
)

from restyle import Stylizer

REQUESTS_PER_CLIENT = 4
SIZES = [(48, 64), (64, 48)]
STRENGTHS = [1.0, 0.6]
BAD = [  # (body, params, expected status)
    (b"GIF89a but not really", {}, 400),
    (bomb_png(), {}, 413),
    (b"\0" * 70_000, {}, 413),
    (None, {"style": "../../etc/passwd"}, 404),
    (None, {"strength": "-1"}, 422),
]


@pytest.fixture(scope="module")
def server() -> Iterator[ServerProcess]:
    with running_server(["--model", "ink", "--max-batch", "8", "--max-wait-ms", "20",
                         "--max-queue", "64", "--max-upload-mb", "0.06", "--threads", "1"]) as s:
        yield s


@pytest.fixture(scope="module")
def expected(server: ServerProcess) -> dict[tuple[int, int], NDArray[np.uint8]]:
    """What ``Stylizer`` gives in-process for each (image, strength), on the server's backend."""
    with httpx.Client(base_url=server.url, timeout=120) as c:
        c.post("/v1/stylize", content=encode(photo((16, 16))))  # loads the model
        backend = c.get("/healthz").json()["loaded"]["ink"]["backend"]
    out = {}
    with Stylizer("ink", backend=backend, threads=1) as st:
        for i, size in enumerate(SIZES):
            for j, strength in enumerate(STRENGTHS):
                img = Image.fromarray(photo(size, seed=i))
                out[(i, j)] = np.asarray(st(img, strength=strength))
    return out


def _batch_stats(metrics: str) -> tuple[float, float]:
    count = sum(float(v) for v in re.findall(r'restyle_batch_size_count\{style="ink"\} (\S+)',
                                             metrics))
    total = sum(float(v) for v in re.findall(r'restyle_batch_size_sum\{style="ink"\} (\S+)',
                                             metrics))
    return count, total


@pytest.mark.parametrize("clients", [1, 8, 32])
def test_concurrent_clients(server: ServerProcess,
                            expected: dict[tuple[int, int], NDArray[np.uint8]],
                            clients: int) -> None:
    bodies = {i: encode(photo(size, seed=i)) for i, size in enumerate(SIZES)}
    good_png = bodies[0]

    async def client(k: int, http: httpx.AsyncClient) -> list[str]:
        problems = []
        for n in range(REQUESTS_PER_CLIENT):
            if (k + n) % 2 == 0:  # a good request
                i, j = (k + n) % len(SIZES), n % len(STRENGTHS)
                r = await http.post("/v1/stylize", content=bodies[i],
                                    params={"strength": STRENGTHS[j]})
                if r.status_code != 200:
                    problems.append(f"good request got {r.status_code}: {r.text}")
                    continue
                try:
                    assert_close(decode(r.content), expected[(i, j)])
                except AssertionError as exc:
                    problems.append(f"wrong image for {i, j}: {exc}")
            else:
                body, params, code = BAD[(k + n) % len(BAD)]
                r = await http.post("/v1/stylize", content=good_png if body is None else body,
                                    params=params)
                if r.status_code != code:
                    problems.append(f"bad request {params} got {r.status_code}, not {code}")
        return problems

    async def main() -> list[str]:
        limits = httpx.Limits(max_connections=clients)
        async with httpx.AsyncClient(base_url=server.url, timeout=300, limits=limits) as http:
            before = _batch_stats((await http.get("/metrics")).text)
            results = await asyncio.gather(*(client(k, http) for k in range(clients)))
            after = _batch_stats((await http.get("/metrics")).text)
            assert (await http.get("/healthz")).json()["status"] == "ok"
        good = sum(1 for k in range(clients) for n in range(REQUESTS_PER_CLIENT)
                   if (k + n) % 2 == 0)
        assert after[1] - before[1] == good  # every good image ran exactly once
        if clients == 32:  # many at once: at least some shared a backend call
            assert after[0] - before[0] < good, (before, after)
        return [p for r in results for p in r]

    problems = asyncio.run(main())
    assert not problems, problems[:5]
    with httpx.Client(base_url=server.url, timeout=60) as c:
        assert wait_until(lambda: c.get("/healthz").json()["in_flight"] == 0)
    assert server.proc.poll() is None
