"""Loaded engines keyed by the base model whose weights they hold, shared and ref-counted.

A deployment of a base model and deployments of its LoRA adapters all use one engine: the first
to arrive loads it, and the last to leave unloads it.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from services.inference.engines import Engine

log = logging.getLogger(__name__)

EngineLoader = Callable[[], Awaitable[Engine]]  # makes and loads an engine; closes it on failure


@dataclass
class _Entry:
    task: asyncio.Task
    users: set[str] = field(default_factory=set)


class EnginePool:
    def __init__(self):
        self._entries: dict[str, _Entry] = {}

    async def acquire(self, base: str, user: str, loader: EngineLoader) -> Engine:
        """The engine of `base`, loading it with `loader` unless another user already does."""
        entry = self._entries.get(base)
        if entry is None:
            entry = _Entry(asyncio.create_task(loader(), name=f"engine-{base}"))
            self._entries[base] = entry
        entry.users.add(user)
        try:
            # shield: one user giving up must not stop the load the others wait on.
            return await asyncio.shield(entry.task)
        except BaseException:
            await self.release(base, user)
            raise

    def ready(self, base: str) -> Engine | None:
        """The loaded engine of `base`, or None while it loads or when it is not loaded."""
        entry = self._entries.get(base)
        if entry is None or not entry.task.done() or entry.task.cancelled():
            return None
        return entry.task.result() if entry.task.exception() is None else None

    def loaded(self) -> list[str]:
        """Bases whose engine is loaded."""
        return [base for base in self._entries if self.ready(base) is not None]

    def users(self, base: str) -> set[str]:
        entry = self._entries.get(base)
        return set(entry.users) if entry else set()

    async def release(self, base: str, user: str) -> None:
        """Drop `user`'s hold; the last one out stops the load or unloads the engine."""
        entry = self._entries.get(base)
        if entry is None or user not in entry.users:
            return
        entry.users.discard(user)
        if entry.users:
            return
        del self._entries[base]
        await _stop(entry.task)

    async def close(self) -> None:
        entries, self._entries = list(self._entries.values()), {}
        for entry in entries:
            await _stop(entry.task)


async def _stop(task: asyncio.Task) -> None:
    if not task.done():
        task.cancel()  # the loader closes the engine it had started
        await asyncio.gather(task, return_exceptions=True)
        return
    if not task.cancelled() and task.exception() is None:
        await task.result().close()
