"""A dependency-free progress bar on stderr (``sweep 340/1000 [#####.....] 2 errors``)."""

from __future__ import annotations

import sys
import time
from types import TracebackType
from typing import TextIO


class Progress:
    """Counts finished items; draws at most ten times a second, only when enabled.

    ``enabled=None`` draws only when the stream is a terminal.
    """

    def __init__(self, total: int, *, enabled: bool | None = None, stream: TextIO | None = None,
                 label: str = "sweep", width: int = 30) -> None:
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.total, self.label, self.width = total, label, width
        self.done = self.errors = 0
        self.start = time.perf_counter()
        self._drawn = 0.0

    def __enter__(self) -> Progress:
        self._draw(force=True)
        return self

    def update(self, n: int = 1, errors: int = 0) -> None:
        self.done += n
        self.errors += errors
        self._draw(force=self.done >= self.total)

    def _draw(self, force: bool = False) -> None:
        now = time.perf_counter()
        if not self.enabled or (not force and now - self._drawn < 0.1):
            return
        self._drawn = now
        frac = self.done / self.total if self.total else 1.0
        bar = "#" * int(frac * self.width)
        elapsed = now - self.start
        eta = elapsed / frac - elapsed if 0 < frac < 1 else 0.0
        err = f" {self.errors} errors" if self.errors else ""
        self.stream.write(f"\r{self.label} {self.done}/{self.total} [{bar:<{self.width}}] "
                          f"{elapsed:.1f}s eta {eta:.1f}s{err}  ")
        self.stream.flush()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self.enabled:
            if self.done < self.total:
                self._draw(force=True)
            self.stream.write("\n")
            self.stream.flush()
