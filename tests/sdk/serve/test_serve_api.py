"""``restyle serve``'s HTTP API against a real server process: answers equal ``Stylizer``'s,
bad input gets the right 4xx, limits, 503 when full, 504 on timeout, clean shutdown, metrics."""

from __future__ import annotations

import asyncio
import io
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator

import httpx
import numpy as np
import pytest
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
from restyle.images import encode_image

ARGS = ["--model", "ink", "--model", "psychedelic", "--max-batch", "8", "--max-wait-ms", "20",
        "--max-upload-mb", "0.25", "--max-pixels", "1000000", "--threads", "1"]


@pytest.fixture(scope="module")
def server() -> Iterator[ServerProcess]:
    with running_server(ARGS) as srv:
        yield srv


@pytest.fixture(scope="module")
def client(server: ServerProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=120) as c:
        yield c


def local(client: httpx.Client, style: str) -> Stylizer:
    """An in-process Stylizer on the backend the server chose for ``style``."""
    loaded = client.get("/healthz").json()["loaded"]
    backend = loaded.get(style, next(iter(loaded.values())))["backend"]
    return Stylizer(style, backend=backend, threads=1)


def test_server_says_where_to_open_it(server: ServerProcess) -> None:
    assert "open http://localhost:" in server.log and "/docs" in server.log


def test_styles_lists_the_served_set(client: httpx.Client) -> None:
    body = client.get("/v1/styles").json()
    assert [s["name"] for s in body["styles"]] == ["ink", "psychedelic"]
    assert body["default"] == "ink"
    assert body["camera"] == "ink"
    assert all(s["description"] for s in body["styles"])


@pytest.mark.parametrize(("strength", "keep"), [(1.0, False), (0.4, True)])
def test_answer_equals_stylizer(client: httpx.Client, strength: float, keep: bool) -> None:
    img = photo((72, 96), seed=1)
    r = client.post("/v1/stylize", content=encode(img),
                    params={"style": "psychedelic", "strength": strength,
                            "preserve_color": str(keep).lower()},
                    headers={"content-type": "image/png"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "image/png"
    with local(client, "psychedelic") as st:
        want = np.asarray(st(Image.fromarray(img), strength=strength, preserve_color=keep))
    got = decode(r.content)
    assert_close(got, want)
    assert np.abs(got.astype(int) - img).mean() > 5  # it was stylised, not echoed


def test_formats_multipart_and_alpha(client: httpx.Client) -> None:
    rgba = np.dstack([photo((40, 48), seed=2), np.full((40, 48), 100, np.uint8)])
    png = encode(rgba)
    r = client.post("/v1/stylize", files={"image": ("a.png", png, "image/png")})
    assert r.status_code == 200, r.text
    with Image.open(io.BytesIO(r.content)) as out:
        assert out.mode == "RGBA" and out.size == (48, 40)
        assert np.all(np.asarray(out)[..., 3] == 100)  # the input's alpha is kept
    r = client.post("/v1/stylize", content=encode(photo((40, 48)), "JPEG"),
                    params={"format": "jpeg"})
    assert r.status_code == 200 and r.content[:2] == b"\xff\xd8"
    r = client.post("/v1/stylize", content=png, params={"format": "webp"})
    assert r.status_code == 200 and r.content[8:12] == b"WEBP"


def _bad_requests() -> list[tuple[str, dict[str, object], bytes, int]]:
    good = encode(photo((32, 32)))
    return [
        ("empty body", {}, b"", 400),
        ("not an image", {}, b"hello, this is text" * 10, 400),
        ("truncated png", {}, good[: len(good) // 2], 400),
        ("decompression bomb", {}, bomb_png(), 413),
        ("over the upload limit", {}, b"\0" * 300_000, 413),
        ("over the pixel limit", {}, encode(np.zeros((1001, 1001, 3), np.uint8)), 413),
        ("unknown style", {"style": "nope"}, good, 404),
        ("a path as style", {"style": "/etc/passwd"}, good, 404),
        ("a relative path as style", {"style": "../styles/ink.onnx"}, good, 404),
        ("strength out of range", {"strength": 2}, good, 422),
        ("unknown format", {"format": "gif"}, good, 422),
    ]


@pytest.mark.parametrize(("why", "params", "body", "code"), _bad_requests(),
                         ids=[b[0] for b in _bad_requests()])
def test_bad_requests_get_a_clear_4xx(client: httpx.Client, why: str, params: dict[str, object],
                                      body: bytes, code: int) -> None:
    r = client.post("/v1/stylize", content=body, params=params)  # type: ignore[arg-type]
    assert r.status_code == code, (why, r.text)
    detail = r.json()["detail"]
    assert detail, why
    if code != 422:
        assert ":" in detail, detail  # the problem, then the fix


def test_health_metrics_and_docs(client: httpx.Client) -> None:
    client.post("/v1/stylize", content=encode(photo((32, 32))))
    health = client.get("/healthz")
    assert health.status_code == 200 and health.json()["status"] == "ok"
    metrics = client.get("/metrics")
    assert metrics.headers["content-type"].startswith("text/plain")
    text = metrics.text
    for name in ("restyle_requests_total", "restyle_request_errors_total",
                 "restyle_request_latency_seconds_bucket", "restyle_batch_size_bucket",
                 "restyle_queue_depth", "restyle_in_flight", "restyle_rejected_total"):
        assert name in text, name
    assert 'restyle_requests_total{code="200",route="/v1/stylize"}' in text
    spec = client.get("/openapi.json").json()
    params = {p["name"] for p in spec["paths"]["/v1/stylize"]["post"]["parameters"]}
    assert params == {"style", "strength", "preserve_color", "format"}
    assert {"/v1/styles", "/healthz", "/metrics"} <= set(spec["paths"])
    page = client.get("/docs")
    assert page.status_code == 200 and "openapi.json" in page.text
    for path in ("/", "/static/app.js", "/static/style.css"):
        assert client.get(path).status_code == 200, path
    for path in ("/static/../app.py", "/static/%2e%2e/app.py", "/static/../../styles/ink.onnx"):
        assert client.get(path).status_code == 404, path  # nothing outside the page's folder


class SlowBody:
    """A request body that sends one chunk, then waits for ``release`` before the rest."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.started = asyncio.Event()
        self.release = asyncio.Event()

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield self.data[:100]
        self.started.set()
        await self.release.wait()
        yield self.data[100:]


def test_full_queue_gets_503_with_retry_after() -> None:
    async def main(url: str) -> None:
        png = encode(photo((32, 32)))
        async with httpx.AsyncClient(base_url=url, timeout=120) as c:
            slow = SlowBody(png)
            first = asyncio.ensure_future(c.post("/v1/stylize", content=slow))
            await asyncio.wait_for(slow.started.wait(), 60)
            await asyncio.sleep(0.2)  # the first request is admitted, its body half sent
            refused = await c.post("/v1/stylize", content=png)
            assert refused.status_code == 503
            assert int(refused.headers["retry-after"]) >= 1
            slow.release.set()
            assert (await first).status_code == 200
            assert (await c.post("/v1/stylize", content=png)).status_code == 200

    with running_server(["--model", "ink", "--max-queue", "1"]) as srv:
        asyncio.run(main(srv.url))


def test_request_over_the_timeout_gets_504_and_the_server_goes_on() -> None:
    # A lone request waits up to --max-wait-ms for others to share its batch: with a timeout
    # far below that wait, every request runs out of time, whatever the machine's speed.
    with running_server(["--model", "ink", "--timeout", "0.001", "--max-wait-ms", "1000"]) as srv, \
            httpx.Client(base_url=srv.url, timeout=120) as c:
        for _ in range(2):
            r = c.post("/v1/stylize", content=encode(photo((32, 32))))
            assert r.status_code == 504, r.text
            assert "within" in r.json()["detail"]
        assert c.get("/healthz").json()["status"] == "ok"
        metrics = c.get("/metrics").text
        assert 'restyle_rejected_total{reason="timeout"} 2.0' in metrics
        assert 'restyle_batch_size_count{style="ink"}' not in metrics  # withdrawn: never ran


def test_shutdown_answers_accepted_requests_first() -> None:
    async def main(srv: ServerProcess) -> None:
        img = photo((48, 48), seed=3)
        async with httpx.AsyncClient(base_url=srv.url, timeout=120) as c:
            slow = SlowBody(encode(img))
            accepted = asyncio.ensure_future(c.post("/v1/stylize", content=slow))
            await asyncio.wait_for(slow.started.wait(), 60)
            await asyncio.sleep(0.2)
            srv.proc.terminate()  # SIGTERM while the request is admitted, body half sent
            await asyncio.sleep(0.5)
            slow.release.set()
            r = await accepted
            assert r.status_code == 200
            assert decode(r.content).shape == (48, 48, 3)

    with running_server(["--model", "ink"]) as srv:
        asyncio.run(main(srv))
        assert srv.proc.wait(60) == 0
        assert wait_until(lambda: "stopped after finishing" in srv.log, 10), srv.log


def test_bad_model_and_missing_extra_fail_clearly() -> None:
    r = subprocess.run([sys.executable, "-m", "restyle", "serve", "--model", "no-such-style"],
                       capture_output=True, text=True, timeout=120, check=False)
    assert r.returncode == 2 and "no-such-style" in r.stderr
    r = subprocess.run([sys.executable, "-m", "restyle", "serve", "--model", "ink", "--port", "0",
                        "--backend", "no-such-backend"],
                       capture_output=True, text=True, timeout=120, check=False)
    assert r.returncode == 2 and "no-such-backend" in r.stderr, r.stderr
    code = ("import sys; sys.modules['fastapi'] = None\n"
            "from restyle.cli.main import main\n"
            "sys.exit(main(['serve']))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       timeout=120, check=False)
    assert r.returncode == 2, r.stderr
    assert "pip install 'restyle[serve]'" in r.stderr


def test_listening_socket_lets_asyncio_disable_nagle() -> None:
    # asyncio sets TCP_NODELAY on accepted sockets only when the listener says IPPROTO_TCP;
    # without it each response waited ~40 ms for the client's delayed ACK.
    import socket

    from restyle.serve.runner import _listen

    with _listen("127.0.0.1", 0) as sock:
        assert sock.proto == socket.IPPROTO_TCP


def test_camera_websocket_protocol(server: ServerProcess, client: httpx.Client) -> None:
    import json

    from websockets.sync.client import connect

    url = server.url.replace("http://", "ws://") + "/v1/camera?strength=0.5"
    img = photo((48, 64), seed=5)
    with connect(url, max_size=None) as ws:
        ws.send(b"not an image")
        assert "not an image" in json.loads(ws.recv(timeout=120))["error"]
        ws.send(json.dumps({"style": "../ink.onnx"}))
        assert "settings not changed" in json.loads(ws.recv(timeout=60))["error"]
        ws.send(json.dumps({"style": "psychedelic", "strength": 2}))
        assert "outside [0, 1]" in json.loads(ws.recv(timeout=60))["error"]
        ws.send(json.dumps({"style": "psychedelic", "preserve_color": True}))
        assert json.loads(ws.recv(timeout=60))["settings"] == {
            "style": "psychedelic", "strength": 0.5, "preserve_color": True}
        ws.send(encode(img))
        frame = ws.recv(timeout=120)
    assert isinstance(frame, bytes) and frame[:2] == b"\xff\xd8"  # a JPEG frame
    with local(client, "psychedelic") as st:
        want = st(Image.fromarray(img), strength=0.5, preserve_color=True)
    assert_close(decode(frame), decode(encode_image(want, "JPEG")), mean=1.5, worst=24)
    assert 'restyle_camera_frames_total{style="psychedelic"} 1.0' in client.get("/metrics").text
