"""Run the app with uvicorn on a socket of our own: a clear "open ..." line once the models are
loaded, and SIGINT / SIGTERM end the command normally after the admitted requests are answered.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import socket
from collections.abc import Callable, Iterator
from types import FrameType

import uvicorn

from restyle.errors import ConfigError, RestyleError
from restyle.serve.app import create_app
from restyle.serve.config import ServeConfig
from restyle.serve.models import installed_models

__all__ = ["serve"]

log = logging.getLogger("restyle.serve")


class _Server(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, on_stop: Callable[[], None]) -> None:
        super().__init__(config)
        self._on_stop = on_stop

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        """Stop admitting at once (503, /healthz says draining), then uvicorn's graceful stop."""
        self._on_stop()
        super().handle_exit(sig, frame)

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        """Like uvicorn's, without re-raising the signal at the end: a stop is a normal exit."""
        stops = (signal.SIGINT, signal.SIGTERM)
        original = {sig: signal.signal(sig, self.handle_exit) for sig in stops}
        try:
            yield
        finally:
            for sig, handler in original.items():
                signal.signal(sig, handler)


def _listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket. ``proto`` is spelled out: asyncio sets TCP_NODELAY only on
    sockets that say IPPROTO_TCP, and without it every response waits ~40 ms for a delayed ACK."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    return sock


def serve(config: ServeConfig, *, host: str = "127.0.0.1", port: int = 8000) -> None:
    """Serve ``config``'s models on ``host:port`` until SIGINT or SIGTERM.

    Args:
        config: Server settings.
        host: Address to bind (loopback by default: this machine only).
        port: Port (0: a free one; the "open ..." line says which).

    Raises:
        ConfigError: The address cannot be bound.
        ModelFormatError: A model is neither a bundled style nor a model file.
        RestyleError: The default model cannot be loaded on the backend asked for.

    Example:
        >>> serve(ServeConfig(models=("ink",)), port=8000)  # doctest: +SKIP
        restyle serve: open http://localhost:8000/ ...
    """
    names = [e.name for e in installed_models(config.models)]  # bad models fail before binding
    try:
        sock = _listen(host, port)
    except OSError as exc:
        raise ConfigError(f"cannot listen on {host}:{port} ({exc}): choose another --port "
                          "(0 picks a free one) or --host") from exc
    bound_host, bound_port = sock.getsockname()[:2]
    shown = ("localhost" if bound_host in ("127.0.0.1", "::1")
             else f"[{bound_host}]" if ":" in bound_host else bound_host)

    def ready() -> None:
        log.info("restyle serve: open http://%s:%d/ (API docs at /docs); styles: %s; Ctrl-C "
                 "stops after answering the requests already accepted", shown, bound_port,
                 ", ".join(names))

    app = create_app(config, on_ready=ready)
    server = _Server(uvicorn.Config(
        app, log_level="critical",  # restyle logs what matters; uvicorn would repeat it
        timeout_graceful_shutdown=int(config.timeout_s) + 1,
        ws_max_size=8 * 1024 * 1024), on_stop=app.state.server.drain)
    with sock:
        try:
            server.run(sockets=[sock])
        except SystemExit:  # uvicorn's exit after a failed startup: say why instead
            if app.state.server.startup_error is None:
                raise
    error = app.state.server.startup_error
    if isinstance(error, RestyleError):
        raise error  # a model that cannot load, a backend that cannot run: the CLI says why
    if error is not None:
        raise RestyleError(f"restyle serve could not start: {error!r}") from error
