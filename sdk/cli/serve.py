"""``restyle serve``: the page and the HTTP API on this machine (needs ``restyle[serve]``)."""

from __future__ import annotations

import argparse
import logging
import socket

from restyle.cli.registry import command

log = logging.getLogger("restyle.cli")


def _configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", default="127.0.0.1",
                   help="address to bind (default 127.0.0.1: this machine only; 0.0.0.0 for all)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000; 0: a free one)")
    p.add_argument("--model", action="append", default=None, metavar="MODEL",
                   help="a style to serve: bundled name or model file (repeatable; default: "
                        "every style `restyle styles` lists; the first is the default)")
    p.add_argument("--backend", default="auto",
                   help="auto (default), tensorrt, ort_cuda, openvino or ort_cpu")
    p.add_argument("--threads", type=int, default=None, help="CPU threads per model")
    p.add_argument("--max-batch", type=int, default=8,
                   help="largest batch formed from concurrent requests (default 8; 1: off)")
    p.add_argument("--max-wait-ms", type=float, default=10.0,
                   help="longest a request waits for others to share its batch (default 10)")
    p.add_argument("--max-queue", type=int, default=64,
                   help="requests admitted at once; more get 503 + Retry-After (default 64)")
    p.add_argument("--max-upload-mb", type=float, default=20.0,
                   help="largest upload in MiB; larger gets 413 (default 20)")
    p.add_argument("--max-pixels", type=int, default=4096 * 4096,
                   help="largest image in pixels; larger gets 413 (default 4096×4096)")
    p.add_argument("--timeout", type=float, default=60.0,
                   help="seconds per request before 504 (default 60)")


@command("serve", help="a web page and an HTTP API for the installed styles (restyle[serve])",
         configure=_configure)
def run(args: argparse.Namespace) -> int:
    from restyle._optional import require
    from restyle.errors import ConfigError

    uvicorn = require("uvicorn", purpose="restyle serve")
    from restyle.serve import ServeConfig, create_app
    from restyle.serve.models import installed_models

    config = ServeConfig(models=tuple(args.model or ()), backend=args.backend,
                         threads=args.threads, max_batch=args.max_batch,
                         max_wait_ms=args.max_wait_ms, max_queue=args.max_queue,
                         max_upload_bytes=int(args.max_upload_mb * 1024 * 1024),
                         max_pixels=args.max_pixels, timeout_s=args.timeout)
    names = [e.name for e in installed_models(config.models)]  # bad --model fails before binding
    try:
        sock = socket.create_server((args.host, args.port),
                                    family=socket.AF_INET6 if ":" in args.host else socket.AF_INET)
    except OSError as exc:
        raise ConfigError(f"cannot listen on {args.host}:{args.port} ({exc}): choose another "
                          "--port (0 picks a free one) or --host") from exc
    host, port = sock.getsockname()[:2]
    shown = "localhost" if host in ("127.0.0.1", "::1") else (f"[{host}]" if ":" in host else host)

    def ready() -> None:
        log.info("restyle serve: open http://%s:%d/ (API docs at /docs); styles: %s; Ctrl-C "
                 "stops after answering the requests already accepted", shown, port,
                 ", ".join(names))

    server = uvicorn.Server(uvicorn.Config(
        create_app(config, on_ready=ready), log_level="warning",
        timeout_graceful_shutdown=int(config.timeout_s) + 1, ws_max_size=8 * 1024 * 1024))
    with sock:
        server.run(sockets=[sock])
    return 0
