"""Session fixtures for the benchmarks: sized firmware descriptions and booted machines.

Sizes: 64 CPUs / 4 nodes / 64 GiB ("small"), 8192 CPUs / 1024 nodes / 16 TiB ("huge", NR_CPUS
and MAX_NUMNODES of the oracle kernel) with four distance levels, and a 2 GiB machine with a
1 TiB SRAT hotplug window (8192 memory blocks of 128 MiB).
"""

from __future__ import annotations

import pytest

import numa_hpe
from numa_hpe import Firmware

SMALL_TOPOLOGY = "node:4 package:1 core:8 pu:2"  # 64 CPUs, 16 per node
HUGE_TOPOLOGY = "node:1024 package:1 core:4 pu:2"  # 8192 CPUs, 8 per node
MEM_PER_NODE = 16 << 30  # 4 x 16 GiB = 64 GiB; 1024 x 16 GiB = 16 TiB
BLOCK = 128 << 20
HOTPLUG_BLOCKS = 8192


def huge_distance(i: int, j: int) -> int:
    """10 local, 12 within a group of 4 nodes, 20 within a group of 64, 30 otherwise."""
    if i == j:
        return 10
    if i // 4 == j // 4:
        return 12
    if i // 64 == j // 64:
        return 20
    return 30


@pytest.fixture(scope="session")
def small_firmware() -> Firmware:
    return Firmware.synthetic(SMALL_TOPOLOGY, mem_per_node=MEM_PER_NODE)


@pytest.fixture(scope="session")
def huge_firmware_json() -> str:
    return Firmware.synthetic(HUGE_TOPOLOGY, mem_per_node=MEM_PER_NODE, distance=huge_distance).to_json()


@pytest.fixture(scope="session")
def huge_machine(huge_firmware_json: str) -> numa_hpe.Machine:
    return numa_hpe.boot(huge_firmware_json)


@pytest.fixture(scope="session")
def hotplug_firmware_json() -> str:
    """``-m 2G,slots=1,maxmem=1026G``: a 1 TiB hotplug window above 4 GiB."""
    return Firmware.qemu(cores=2, mem="2G", maxmem=f"{2 + HOTPLUG_BLOCKS * BLOCK // (1 << 30)}G", slots=1).to_json()
