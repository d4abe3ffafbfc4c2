"""``restyle serve``: the page and the HTTP API on this machine (needs ``restyle[serve]``)."""

from __future__ import annotations

import argparse

from restyle.cli.registry import command


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

    require("uvicorn", purpose="restyle serve")
    from restyle.serve import ServeConfig
    from restyle.serve.runner import serve

    config = ServeConfig(models=tuple(args.model or ()), backend=args.backend,
                         threads=args.threads, max_batch=args.max_batch,
                         max_wait_ms=args.max_wait_ms, max_queue=args.max_queue,
                         max_upload_bytes=int(args.max_upload_mb * 1024 * 1024),
                         max_pixels=args.max_pixels, timeout_s=args.timeout)
    serve(config, host=args.host, port=args.port)
    return 0
