"""memory_hotplug.online_policy=auto-movable (mm/memory_hotplug.c, Linux 6.1).

ACPI memory devices register a *static* memory group per device
(drivers/acpi/acpi_memhotplug.c:acpi_memory_enable_device -> memory_group_register_static), so
auto_movable_zone_for_pfn() decides per device: once any block of the group is kernel memory
the rest stays kernel, and the ratio check uses the whole group's remaining size. The ratio
counts only *early* (boot) kernel pages (zone->present_early_pages), per node when
auto_movable_numa_aware (default): a node without boot memory can never take Movable.
"""

import pytest

from _review_helpers import SYS, boot

MEM = f"{SYS}/memory"
HALF = 512 << 20


def dimm_topology(cmd):
    # node0: 2G + cpus 0-1; node1: cpu 2, no memory; node2: nothing (owns the SRAT hotplug range)
    return boot(
        cmd,
        cpus=3,
        cores=3,
        node_mem=["2G", "0", "0"],
        node_cpus=[[0, 1], [2], []],
        maxmem="16G",
        slots=4,
    )


def zones_of(m, first, n=4):
    return [m.read(f"{MEM}/memory{b}/valid_zones").strip() for b in range(first, first + n)]


def test_auto_movable_node_with_boot_memory_goes_movable():
    # node0 has ~2G early kernel memory: 512M movable is far below 301%
    m = dimm_topology("memhp_default_state=online memory_hotplug.online_policy=auto-movable nokaslr")
    m.add_memory(0x100000000, HALF, 0)
    assert zones_of(m, 32) == ["Movable"] * 4


@pytest.mark.parametrize("pxm", [1, 2])
def test_auto_movable_memoryless_node_all_kernel(pxm):
    m = dimm_topology("memhp_default_state=online memory_hotplug.online_policy=auto-movable nokaslr")
    m.add_memory(0x100000000, HALF, pxm)
    assert zones_of(m, 32) == ["Normal"] * 4
    assert m.read(f"{SYS}/node/has_normal_memory") == ("0-1\n" if pxm == 1 else "0,2\n")


def test_auto_movable_valid_zones_follow_group():
    m = dimm_topology("memory_hotplug.online_policy=auto-movable nokaslr")
    m.add_memory(0x100000000, HALF, 0)
    # offline blocks: default (auto-movable) zone first, then the other allowed one
    assert zones_of(m, 32) == ["Movable Normal"] * 4
    m.write(f"{MEM}/memory33/state", "online_kernel")
    assert zones_of(m, 32) == ["Normal Movable", "Normal", "Normal Movable", "Normal Movable"]
    m.write(f"{MEM}/memory34/state", "online")
    assert m.read(f"{MEM}/memory34/valid_zones") == "Normal\n"


def test_auto_movable_valid_zones_before_online():
    m = dimm_topology("memory_hotplug.online_policy=auto-movable nokaslr")
    m.add_memory(0x100000000, HALF, 0)
    assert zones_of(m, 32) == ["Movable Normal"] * 4


def test_auto_movable_second_dimm_on_memoryless_node_stays_kernel():
    m = dimm_topology("memhp_default_state=online_kernel nokaslr")
    m.add_memory(0x100000000, HALF, 1)  # 512M kernel memory on node1 (not early)
    assert zones_of(m, 32) == ["Normal"] * 4
    m2 = dimm_topology("memory_hotplug.online_policy=auto-movable nokaslr")
    m2.add_memory(0x100000000, HALF, 1)
    for b in range(32, 36):
        m2.write(f"{MEM}/memory{b}/state", "online_kernel")
    m2.add_memory(0x140000000, 128 << 20, 1)
    # default zone of the new block on node1: kernel (node1 has no early pages)
    assert m2.read(f"{MEM}/memory40/valid_zones") == "Normal Movable\n"
