"""numa_hpe: a fast, faithful user-space emulator of Linux NUMA node, CPU and memory hotplug,
with the 2010 NUMA Hotplug Emulator patchset's interfaces."""

from __future__ import annotations

from typing import Any

from . import _core
from .errors import HpeError, InvalidDescriptionError, StepNotImplementedError
from .firmware import Firmware, default_firmware, parse_size
from .machine import Cpu, Machine, MemoryBlock, Node, Zone, errno_name
from .sweep import SweepResult, grid, sweep

__version__ = "0.1.0"


def boot(
    firmware: Firmware | str | dict[str, Any] | None = None,
    cmdline: str = "",
    kernel_config: str = "numa_hpe",
    patchset_version: str | None = None,
) -> Machine:
    """Boot a machine (see :class:`Machine`)."""
    return Machine(firmware, cmdline, kernel_config, patchset_version)


__all__ = [
    "Cpu",
    "Firmware",
    "HpeError",
    "InvalidDescriptionError",
    "Machine",
    "MemoryBlock",
    "Node",
    "StepNotImplementedError",
    "SweepResult",
    "Zone",
    "_core",
    "boot",
    "default_firmware",
    "errno_name",
    "grid",
    "parse_size",
    "sweep",
]
