"""Stubs for the PyO3 extension ``numa_hpe._core`` (rust/numa_hpe_py/src/lib.rs).

Hand-written; checked with ``python -m mypy.stubtest numa_hpe._core --allowlist
tests/stubtest_allowlist.txt``. Failed file operations raise ``OSError(errno, message)``.
"""

import os
from typing import Any, Callable, Literal, final

import numpy as np
import numpy.typing as npt

__all__ = [
    "Firmware",
    "Machine",
    "format_cpulist",
    "format_cpumask",
    "kstrtobool",
    "kstrtoull",
    "memparse",
    "parse_cpulist",
    "simple_strtoull",
]

_Kind = Literal["dir", "file", "link"]
_MaskName = Literal[
    "cpu_possible",
    "cpu_present",
    "cpu_online",
    "node_possible",
    "node_online",
    "node_memory",
    "node_normal_memory",
    "node_cpu",
]

@final
class Firmware:
    """Parsed and validated firmware facts (``numa_hpe.Firmware`` keeps one)."""

    def __new__(cls, firmware_json: str) -> Firmware: ...

@final
class Machine:
    """One emulated machine (see ``numa_hpe.Machine`` for the documented Python API)."""

    def __new__(
        cls,
        firmware: Firmware | str,
        cmdline: str = "",
        kernel_config: str = "numa_hpe",
        patchset_version: str | None = None,
    ) -> Machine: ...
    def read(self, path: str) -> str: ...
    def write(self, path: str, data: str | bytes) -> int: ...
    def listdir(self, path: str) -> list[str]: ...
    def readlink(self, path: str) -> str: ...
    def stat(self, path: str) -> _Kind | None: ...
    def st_mode(self, path: str) -> int | None: ...
    def snapshot(self, root: str = "/") -> tuple[dict[str, str], dict[str, str], list[str]]: ...
    def export(
        self,
        dest: str | os.PathLike[str],
        roots: list[str] | None = None,
        force: bool = False,
        threads: int | None = None,
        progress: Callable[[int, int], object] | None = None,
    ) -> dict[str, int]: ...
    def dmesg(self, since: int = 0) -> list[str]: ...
    def dmesg_len(self) -> int: ...
    def firmware_add_memory(self, start: int, size: int, pxm: int | None = None) -> int: ...
    def firmware_remove_memory(self, start: int, size: int) -> None: ...
    def firmware_add_cpu(self, apic_id: int, pxm: int | None = None) -> int: ...
    def firmware_remove_cpu(self, apic_id: int) -> None: ...
    def distance_matrix(self) -> npt.NDArray[np.uint8]: ...
    def mask(self, name: _MaskName | str) -> npt.NDArray[np.uint64]: ...
    def hot_add_memory(self, start: int, size: int, node: int | None = None) -> list[int]: ...
    def online_blocks(self, ids: list[int], online_type: str = "online") -> None: ...
    def offline_blocks(self, ids: list[int]) -> None: ...
    def remove_memory_range(self, start: int, size: int) -> None: ...
    def set_notifier(self, callback: Callable[[dict[str, Any]], int | None] | None = None) -> None: ...
    def events(self) -> list[dict[str, Any]]: ...
    def save(self) -> bytes: ...
    @staticmethod
    def load(data: bytes) -> Machine: ...
    def fork(self) -> Machine: ...
    def rebuild_zonelists(self) -> None: ...
    def rebuild_sched_domains(self) -> None: ...

def memparse(s: bytes) -> tuple[int, int]:
    """``memparse(s)`` -> (value, bytes consumed)."""

def simple_strtoull(s: bytes) -> tuple[int, int]:
    """``simple_strtoull(s, &end, 0)`` -> (value, bytes consumed)."""

def kstrtoull(s: bytes) -> int:
    """``kstrtoull(s, 0)``; OSError(EINVAL/ERANGE) on failure."""

def kstrtobool(s: bytes) -> bool:
    """``kstrtobool(s)``; OSError(EINVAL) on failure."""

def format_cpulist(bits: list[int], nbits: int) -> str:
    """``%*pbl`` of the given bits in an ``nbits`` bitmap."""

def format_cpumask(bits: list[int], nbits: int) -> str:
    """``%*pb`` of the given bits in an ``nbits`` bitmap."""

def parse_cpulist(s: str, nbits: int) -> list[int]:
    """``bitmap_parselist``: the set bits of a list string."""
