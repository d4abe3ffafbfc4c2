"""``restyle serve``: a web page and an HTTP API over the installed styles (needs ``[serve]``).

Concurrent requests are batched into one backend call (:mod:`restyle.serve.batcher`); the page,
the API and the camera WebSocket are in :mod:`restyle.serve.app`.

Example:
    >>> import uvicorn
    >>> from restyle.serve import ServeConfig, create_app
    >>> uvicorn.run(create_app(ServeConfig(models=("ink", "psychedelic"))))  # doctest: +SKIP
"""

from __future__ import annotations

from restyle._optional import require

for _module in ("fastapi", "uvicorn", "prometheus_client", "python_multipart"):
    require(_module, purpose="restyle serve")

from restyle.serve.app import create_app  # noqa: E402
from restyle.serve.config import ServeConfig  # noqa: E402

__all__ = ["ServeConfig", "create_app"]
