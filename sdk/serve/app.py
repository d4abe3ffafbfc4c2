"""The ASGI application: the page, the HTTP API, the camera WebSocket and the metrics.

Routes:

* ``GET /`` the page (plain HTML, JS and CSS from this package; no build step, no CDN);
  ``GET /docs`` the API reference rendered from ``GET /openapi.json``.
* ``POST /v1/stylize`` image bytes in (the body, or one file of a multipart form), image out.
* ``GET /v1/styles``, ``GET /healthz``, ``GET /metrics`` (Prometheus text).
* ``WS /v1/camera`` camera frames in (JPEG/PNG/WebP bytes), stylised JPEG frames out.

Every image request is admitted first (at most ``max_queue`` at once, else 503 with
``Retry-After``), then read (413 over the upload limit), decoded (413 over the pixel limit, 400
when not an image), stylised in a batch shared with concurrent requests, and encoded; all of it
within ``timeout_s`` (else 504). Shutting down (SIGINT / SIGTERM to uvicorn) stops admitting,
answers what was admitted, then releases the models.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.routing import Match

from restyle import postprocess
from restyle._version import __version__
from restyle.errors import ConfigError, ImageTooLargeError, InvalidImageError, RestyleError
from restyle.serve.batcher import BatcherClosedError
from restyle.serve.camera import add_camera_route, camera_default
from restyle.serve.config import ServeConfig
from restyle.serve.metrics import CONTENT_TYPE
from restyle.serve.models import UnknownModelError
from restyle.serve.server import Server
from restyle.serve.uploads import FORMATS, BodyReader, OutputFormat, TooLargeError
from restyle.stylizer import Stylizer

__all__ = ["create_app", "static_dir"]

log = logging.getLogger("restyle.serve")

RETRY_AFTER_S = 1


def static_dir() -> Path:
    """The folder of the page's files (``index.html``, ``app.js``, ``style.css``, ``docs.html``)."""
    return Path(str(resources.files("restyle.serve") / "static"))


def _busy(message: str) -> HTTPException:
    return HTTPException(status_code=503, detail=message,
                         headers={"Retry-After": str(RETRY_AFTER_S)})


def _route_name(request: Request) -> str:
    for route in request.app.router.routes:
        match, _ = route.matches(request.scope)
        if match is Match.FULL:
            return str(getattr(route, "path", request.url.path))
    return "unmatched"


def create_app(config: ServeConfig | None = None, *,
               on_ready: Callable[[], None] | None = None) -> FastAPI:
    """The ``restyle serve`` application (run it with uvicorn).

    Args:
        config: Server settings (default: every installed style, automatic backend).
        on_ready: Called once the default model is loaded and requests are answered.

    Returns:
        A FastAPI app; its models load when it starts (ASGI lifespan).

    Raises:
        ConfigError: A setting is out of range.

    Example:
        >>> import uvicorn
        >>> from restyle.serve import ServeConfig, create_app
        >>> app = create_app(ServeConfig(models=("ink",), max_batch=8))  # doctest: +SKIP
        >>> uvicorn.run(app, host="127.0.0.1", port=8000)  # doctest: +SKIP
    """
    server = Server(config or ServeConfig())
    cfg = server.config

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            await server.start()
        except BaseException as exc:
            server.startup_error = exc  # raised again by whoever runs the app
            raise
        if on_ready is not None:
            on_ready()
        yield
        await server.stop()

    app = FastAPI(
        title="restyle",
        version=__version__,
        description=(
            "Fast style transfer over HTTP. `POST /v1/stylize` takes an image (any format "
            "restyle reads) and returns it stylised; concurrent requests are batched into one "
            "backend call. The page at `/` tries styles in the browser, with a live camera "
            "mode over the WebSocket `/v1/camera` (binary frames in, stylised JPEG frames out; "
            "query `style`, `strength`, `preserve_color`; a JSON text message changes them)."
        ),
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.server = server
    # follow_symlink: an editable install links each file; paths still cannot leave the folder.
    app.mount("/static", StaticFiles(directory=static_dir(), follow_symlink=True), name="static")

    @app.middleware("http")
    async def count(request: Request,
                    call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        start = time.perf_counter()
        try:
            response = await call_next(request)
        except Exception:  # a bug, not a client's mistake: logged here, answered with 500
            log.exception("%s %s failed", request.method, request.url.path)
            response = JSONResponse({"detail": "internal error: see the server's log"},
                                    status_code=500)
        route = _route_name(request)
        if route not in ("/metrics", "/static"):
            server.metrics.observe_request(route, response.status_code,
                                           time.perf_counter() - start)
        return response

    @app.exception_handler(RestyleError)
    async def restyle_error(request: Request, exc: RestyleError) -> JSONResponse:
        log.warning("%s %s: %s", request.method, request.url.path, exc)
        return JSONResponse({"detail": str(exc)}, status_code=500)

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(static_dir() / "index.html")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> FileResponse:
        return FileResponse(static_dir() / "docs.html")

    @app.get("/healthz", summary="Liveness and load",
             responses={503: {"description": "shutting down"}})
    async def healthz() -> JSONResponse:
        """`ok` while the server admits requests, with the admitted and waiting counts."""
        pool = server.models()
        body = {"status": "draining" if server.admission.closed else "ok",
                "in_flight": server.admission.active, "waiting": pool.waiting,
                "max_queue": cfg.max_queue,
                "loaded": {n: _backend(st) for n in pool.entries
                           if (st := pool.stylizer(n)) is not None}}
        return JSONResponse(body, status_code=503 if server.admission.closed else 200)

    @app.get("/v1/styles", summary="The styles this server offers")
    async def styles() -> dict[str, Any]:
        """Each style's name (what `style=` takes), description and generator; the default
        style and the one the camera uses (a `realtime` generator when there is one)."""
        pool = server.models()
        return {
            "default": pool.default,
            "camera": camera_default(pool),
            "styles": [{"name": e.name, "description": e.description, "arch": e.arch}
                       for e in pool.entries.values()],
        }

    @app.get("/metrics", summary="Prometheus metrics",
             response_class=Response,
             responses={200: {"content": {CONTENT_TYPE: {}}}})
    async def metrics() -> Response:
        """Requests and errors by route and code, latency histogram, batch-size histogram,
        queue depth, requests in flight, rejections by reason, camera frames."""
        return Response(server.metrics.render(), media_type=CONTENT_TYPE)

    image_types = {t: {"schema": {"type": "string", "format": "binary"}}
                   for t in ("image/jpeg", "image/png", "image/webp", "image/*",
                             "application/octet-stream")}
    form = {"multipart/form-data": {"schema": {
        "type": "object", "properties": {"image": {"type": "string", "format": "binary"}}}}}

    @app.post(
        "/v1/stylize",
        summary="Stylise one image",
        response_class=Response,
        openapi_extra={"requestBody": {"required": True, "content": {**image_types, **form}}},
        responses={
            200: {"content": {media: {} for _, media in FORMATS.values()},
                  "description": "the stylised image, in `format`"},
            400: {"description": "the body is not an image restyle can read"},
            404: {"description": "no such style: see `GET /v1/styles`"},
            413: {"description": "over the upload size or pixel limit"},
            503: {"description": "too many requests at once; retry after `Retry-After` s"},
            504: {"description": "not finished within the server's per-request timeout"},
        },
    )
    async def stylize(
        request: Request,
        style: Annotated[str | None, Query(description="style name (default: the server's "
                                                       "first)")] = None,
        strength: Annotated[float, Query(ge=0.0, le=1.0, description="0 keeps the input, 1 "
                                                                     "is the full style")] = 1.0,
        preserve_color: Annotated[bool, Query(description="keep the input's colours, restyle "
                                                          "only its luminance")] = False,
        format: Annotated[OutputFormat, Query(description="output image format")] = "png",
    ) -> Response:
        """Send the image as the body (`curl --data-binary @photo.jpg`) or as one file of a
        multipart form (`curl -F image=@photo.jpg`). Images in any format restyle reads; alpha
        is kept for PNG and WebP. Concurrent requests of the same image size share one backend
        call."""
        reading = BodyReader(request, cfg.max_upload_bytes)
        if not server.admission.enter():
            server.metrics.rejected.labels(reason="queue_full").inc()
            await reading.discard()
            raise _busy("shutting down" if server.admission.closed else
                        f"{cfg.max_queue} requests are in progress: retry in a moment")
        try:
            entry = server.models().entry(style)
            async with asyncio.timeout(cfg.timeout_s):
                with server.on_the_way():
                    data = await reading.read()
                body = await server.stylize_bytes(
                    data, style=entry.name, strength=postprocess.check_strength(strength),
                    preserve_color=preserve_color, fmt=format, max_pixels=cfg.max_pixels)
            return Response(body, media_type=FORMATS[format][1],
                            headers={"X-Restyle-Style": entry.name})
        except UnknownModelError as exc:
            raise HTTPException(404, str(exc)) from exc
        except (TooLargeError, ImageTooLargeError) as exc:
            server.metrics.rejected.labels(reason="too_large").inc()
            raise HTTPException(413, str(exc)) from exc
        except (InvalidImageError, ConfigError) as exc:
            server.metrics.rejected.labels(reason="bad_image").inc()
            raise HTTPException(400, str(exc)) from exc
        except TimeoutError as exc:
            server.metrics.rejected.labels(reason="timeout").inc()
            raise HTTPException(504, f"not finished within {cfg.timeout_s:g} s: retry later "
                                     "or send a smaller image") from exc
        except BatcherClosedError as exc:
            raise _busy("shutting down") from exc
        finally:
            server.admission.leave()
            await reading.discard()  # an answer before the whole body: read the rest first

    add_camera_route(app, server)
    return app


def _backend(st: Stylizer) -> dict[str, str]:
    info = st.info
    return {"backend": info.backend, "precision": info.precision, "device": info.device}
