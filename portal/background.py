"""Work the portal does after answering: sign-in emails leave once the page is answered, so a
slow mail server cannot tell by the answer's timing which addresses have accounts."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

log = logging.getLogger("fasttrack.portal")


class Background:
    """Runs coroutines after the request, a few at a time; each logs its own failures. The
    app's shutdown waits for them; work lost in a crash is lost (a link can be asked again)."""

    def __init__(self, concurrency: int = 4) -> None:
        self._concurrency = concurrency
        self._slots: asyncio.Semaphore | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def run(self, work: Coroutine[Any, Any, None]) -> None:
        if self._slots is None:
            self._slots = asyncio.Semaphore(self._concurrency)
        task = asyncio.get_running_loop().create_task(self._guarded(work, self._slots))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        """Wait for the work started so far (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    @staticmethod
    async def _guarded(work: Coroutine[Any, Any, None], slots: asyncio.Semaphore) -> None:
        async with slots:
            try:
                await work
            except Exception:  # the request was answered long ago: only the log can tell
                log.exception("background work failed")
