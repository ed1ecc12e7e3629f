"""Progress of long commands on stderr: a bar on a terminal, otherwise a plain line now and
then (none at all for a command that finishes within the first interval)."""

from __future__ import annotations

import sys
import time
from types import TracebackType

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from cli.output import err_console

# Seconds between plain progress lines when stderr is not a terminal.
PLAIN_INTERVAL_S = 5.0


class Tracker:
    """`with Tracker("starting referrals", total) as t: ... t.advance()`.

    `total=None` is a task of unknown length (a spinner and the current step's name)."""

    def __init__(self, what: str, total: int | None, *, unit: str = "") -> None:
        self.what = what
        self.total = total
        self.unit = unit
        self.done = 0
        self._bar: Progress | None = None
        self._task: TaskID | None = None
        self._started = time.monotonic()
        self._last_line = self._started

    def __enter__(self) -> Tracker:
        console = err_console()
        if console.is_terminal:
            columns = [SpinnerColumn(), TextColumn("{task.description}")]
            if self.total is not None:
                columns += [BarColumn(), MofNCompleteColumn()]
            columns.append(TimeElapsedColumn())
            self._bar = Progress(*columns, console=console, transient=True)
            self._bar.start()
            self._task = self._bar.add_task(self.what, total=self.total)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._bar is not None:
            self._bar.stop()

    def advance(self, count: int = 1) -> None:
        self.done += count
        if self._bar is not None and self._task is not None:
            self._bar.update(self._task, completed=self.done)
        else:
            self._maybe_line()

    def step(self, name: str) -> None:
        """Name the step now running (for tasks without a count)."""
        if self._bar is not None and self._task is not None:
            self._bar.update(self._task, description=f"{self.what}: {name}")
        else:
            self._maybe_line(name)

    def _maybe_line(self, step: str = "") -> None:
        now = time.monotonic()
        if now - self._last_line < PLAIN_INTERVAL_S:
            return
        self._last_line = now
        elapsed = f"{now - self._started:.0f}s"
        if self.total is not None:
            count = f"{self.done}/{self.total}{' ' + self.unit if self.unit else ''}"
            line = f"progress: {self.what}: {count} ({elapsed})"
        else:
            line = f"progress: {self.what}{': ' + step if step else ''} ({elapsed})"
        sys.stderr.write(line + "\n")
        sys.stderr.flush()
