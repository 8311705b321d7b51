"""Export an emulated machine's ``/sys`` and ``/proc`` as real files.

The exported tree (``DIR/sys/devices/system/{cpu,node,memory}`` and ``DIR/proc``) is what
``lscpu --sysroot DIR``, ``lsmem --sysroot DIR`` and ``lstopo-no-graphics --if fsroot --input
DIR`` read, so those tools show the emulated machine unchanged. The Rust core lists and writes
the tree with several threads (GIL released), each taking whole directories; links are relative
and stay inside ``DIR``.
"""

from __future__ import annotations

import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, TextIO

if TYPE_CHECKING:
    from .machine import Machine

#: The subtrees exported by default.
DEFAULT_ROOTS = ("/sys/devices/system/cpu", "/sys/devices/system/node", "/sys/devices/system/memory", "/proc")

ProgressFn = Callable[[int, int], None]


@dataclass(frozen=True)
class ExportStats:
    """What an export wrote and how long it took."""

    dirs: int
    files: int
    links: int
    bytes: int
    seconds: float


def progress_bar(stream: TextIO, width: int = 40) -> ProgressFn:
    """A ``progress(done, total)`` callback drawing ``[#####     ]  45% 1234/2742 files`` on
    ``stream`` (one line, redrawn with ``\\r``; a newline once done). Thread-safe."""
    lock = threading.Lock()
    last = [-1]

    def draw(done: int, total: int) -> None:
        pct = 100 * done // total if total else 100
        with lock:
            if pct == last[0]:
                return
            last[0] = pct
            fill = width * pct // 100
            stream.write(f"\r[{'#' * fill}{' ' * (width - fill)}] {pct:3d}% {done}/{total} files")
            if done >= total:
                stream.write("\n")
            stream.flush()

    return draw


def export(
    machine: Machine,
    dest: str | Path,
    *,
    force: bool = False,
    roots: tuple[str, ...] | list[str] | None = None,
    threads: int | None = None,
    progress: ProgressFn | None = None,
) -> ExportStats:
    """Write ``machine``'s tree below ``dest``.

    Parameters
    ----------
    dest:
        Target directory; created when missing. A non-empty one is refused
        (``FileExistsError``) unless ``force``, which replaces its ``sys/`` and ``proc/``.
    roots:
        Tree paths to export (default :data:`DEFAULT_ROOTS`).
    threads:
        Worker threads listing and writing the tree (default: CPUs, at most 4).
    progress:
        ``progress(done, total)``, called now and then from writer threads; must not use the
        machine. :func:`progress_bar` draws a terminal bar.
    """
    t = time.perf_counter()
    d = machine._m.export(str(dest), list(roots or DEFAULT_ROOTS), force, threads, progress)
    return ExportStats(d["dirs"], d["files"], d["links"], d["bytes"], time.perf_counter() - t)


def tty_progress(stream: TextIO | None = None) -> ProgressFn | None:
    """:func:`progress_bar` on ``stream`` (stdout) when it is a terminal, else None."""
    stream = stream or sys.stdout
    return progress_bar(stream) if stream.isatty() else None
