"""``restyle serve`` in a child process: for integration tests, benchmarks and notebooks.

Example:
    >>> with spawn_server(["--model", "ink"]) as server:  # doctest: +SKIP
    ...     requests.post(server.url + "/v1/stylize", data=open("a.jpg", "rb").read())
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

from restyle.errors import RestyleError

__all__ = ["ServerProcess", "spawn_server"]

_READY = re.compile(r"open http://localhost:(\d+)/")


@dataclass
class ServerProcess:
    """A running ``restyle serve``: its process, base URL and standard-error lines so far."""

    proc: subprocess.Popen[str]
    url: str = ""
    lines: list[str] = field(default_factory=list)

    @property
    def log(self) -> str:
        """Everything the server wrote to standard error so far."""
        return "".join(self.lines)


@contextmanager
def spawn_server(args: Sequence[str] = (), *, host: str = "127.0.0.1",
                 ready_timeout: float = 180.0,
                 env: dict[str, str] | None = None) -> Iterator[ServerProcess]:
    """Start ``restyle serve --host HOST --port 0 ARGS`` and wait until it answers.

    Leaving the block sends SIGTERM (the server answers what it accepted, then exits).

    Args:
        args: More ``restyle serve`` arguments (``--model``, ``--max-batch`` ...).
        host: Address to bind (loopback by default).
        ready_timeout: Longest wait for the server to load its default model.
        env: Environment of the child (default: this process's).

    Raises:
        RestyleError: The server exited or did not become ready; the message has its output.
    """
    proc = subprocess.Popen([sys.executable, "-m", "restyle", "serve", "--host", host,
                             "--port", "0", *args],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True,
                            env={**(env if env is not None else os.environ),
                                 "PYTHONUNBUFFERED": "1"})
    server = ServerProcess(proc)
    ready = threading.Event()

    def read() -> None:
        if proc.stderr is None:  # pragma: no cover - always a pipe
            return
        for line in proc.stderr:
            server.lines.append(line)
            found = _READY.search(line)
            if found and not ready.is_set():
                shown = f"[{host}]" if ":" in host else host
                server.url = f"http://{shown}:{found.group(1)}"
                ready.set()
        ready.set()  # the process ended

    reader = threading.Thread(target=read, name="restyle-serve-log", daemon=True)
    reader.start()
    try:
        ready.wait(ready_timeout)
        if not server.url:
            raise RestyleError(f"restyle serve did not start within {ready_timeout:g} s:\n"
                               f"{server.log}")
        yield server
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        reader.join(10)
        if proc.stderr is not None:
            proc.stderr.close()
