"""The installed set of models a server offers, loaded on first use, each with its batcher.

Clients name a model; they never give a path. The set is fixed when the server starts: the
styles ``restyle styles`` lists, or those the operator named with ``--model``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path

from restyle.errors import ConfigError
from restyle.modelinfo import read_model_info
from restyle.serve.batcher import Batcher
from restyle.serve.config import ServeConfig
from restyle.styles import list_styles, resolve_model
from restyle.stylizer import Stylizer

__all__ = ["ModelEntry", "ModelPool", "UnknownModelError"]


class UnknownModelError(ConfigError):
    """A client named a model the server does not offer."""


@dataclass(frozen=True)
class ModelEntry:
    """One servable model: its public name, file, description and generator architecture."""

    name: str
    path: Path
    description: str
    arch: str


def installed_models(names: Sequence[str]) -> list[ModelEntry]:
    """The entries for ``names`` (bundled names or files), or every bundled style if empty.

    Raises:
        ModelFormatError: A name is neither a bundled style nor a model file.
        ConfigError: Two entries share a name.
    """
    entries: list[ModelEntry] = []
    if not names:
        for style in list_styles():
            info = read_model_info(style.path)
            entries.append(ModelEntry(style.name, style.path, style.description, info.arch))
    for name in names:
        path = resolve_model(name)
        info = read_model_info(path)
        entries.append(ModelEntry(path.stem, path, info.description, info.arch))
    seen = [e.name for e in entries]
    twice = sorted({n for n in seen if seen.count(n) > 1})
    if twice:
        raise ConfigError(f"several models are named {', '.join(twice)}: give files with "
                          "distinct names")
    if not entries:
        raise ConfigError("no model to serve: install a style or pass --model FILE")
    return entries


class ModelPool:
    """Stylizers and batchers by model name, created on first request (or by :meth:`load`).

    Args:
        config: Server settings (backend, threads, batch limits).
        executor: Inference threads shared by every model.
        on_batch: Called with ``(model name, batch size)`` for each batch.
        arriving: How many images are being read or decoded (see :class:`Batcher`).
    """

    def __init__(self, config: ServeConfig, executor: Executor,
                 on_batch: Callable[[str, int], None] | None = None,
                 arriving: Callable[[], int] | None = None) -> None:
        self._config = config
        self._executor = executor
        self._on_batch = on_batch
        self._arriving = arriving
        self.entries = {e.name: e for e in installed_models(config.models)}
        self.default = next(iter(self.entries))
        self._stylizers: dict[str, Stylizer] = {}
        self._batchers: dict[str, Batcher] = {}
        self._lock = asyncio.Lock()

    def entry(self, name: str | None) -> ModelEntry:
        """The entry for ``name`` (None: the default).

        Raises:
            UnknownModelError: Not one of the served models.
        """
        key = self.default if name is None else name
        if key not in self.entries:
            raise UnknownModelError(f"no style {key!r} here: choose one of "
                                    f"{', '.join(self.entries)} (GET /v1/styles)")
        return self.entries[key]

    def _open(self, entry: ModelEntry) -> Stylizer:
        return Stylizer(entry.path, backend=self._config.backend,
                        batch_size=self._config.max_batch, threads=self._config.threads)

    async def batcher(self, name: str | None) -> Batcher:
        """The batcher of model ``name``, loading the model on first use."""
        entry = self.entry(name)
        found = self._batchers.get(entry.name)
        if found is not None:
            return found
        async with self._lock:
            if entry.name not in self._batchers:
                loop = asyncio.get_running_loop()
                st = await loop.run_in_executor(self._executor, self._open, entry)
                self._stylizers[entry.name] = st

                def report(size: int, model: str = entry.name) -> None:
                    if self._on_batch is not None:
                        self._on_batch(model, size)

                self._batchers[entry.name] = Batcher(
                    st.stylize_batch, self._executor, max_batch=self._config.max_batch,
                    max_wait_ms=self._config.max_wait_ms, on_batch=report,
                    arriving=self._arriving)
            return self._batchers[entry.name]

    def stylizer(self, name: str) -> Stylizer | None:
        """The loaded Stylizer of ``name`` (None before its first use)."""
        return self._stylizers.get(name)

    @property
    def waiting(self) -> int:
        """Images waiting for a batch, over every model."""
        return sum(b.waiting for b in self._batchers.values())

    async def close(self) -> None:
        """Finish every waiting image, then release the models."""
        for batcher in self._batchers.values():
            await batcher.close()
        for st in self._stylizers.values():
            st.close()

