"""Boot and hotplug at scale, plus hwloc's ``lstopo`` on the same topologies for comparison.

Run ``pytest benches --benchmark-only`` to measure, ``pytest benches --benchmark-disable`` to
run each once as a smoke test (CI). See benches/README.md.
"""

from __future__ import annotations

import shutil
import subprocess

import pytest
from conftest import BLOCK, HOTPLUG_BLOCKS, HUGE_TOPOLOGY, MEM_PER_NODE, SMALL_TOPOLOGY, huge_distance

import numa_hpe
from numa_hpe import Firmware

SYS = "/sys/devices/system"


@pytest.mark.benchmark(group="boot")
def test_boot_64cpu_4node(benchmark, small_firmware: Firmware) -> None:  # type: ignore[no-untyped-def]
    fw_json = small_firmware.to_json()
    benchmark.extra_info.update(ncpus=64, nnodes=4, mem_gib=64)
    m = benchmark(numa_hpe.boot, fw_json)
    assert m.read(f"{SYS}/cpu/online") == "0-63\n"
    assert m.read(f"{SYS}/node/online") == "0-3\n"


@pytest.mark.benchmark(group="boot")
def test_boot_8192cpu_1024node(benchmark, huge_firmware_json: str) -> None:  # type: ignore[no-untyped-def]
    """The boot alone: the firmware facts (a 5 MB JSON with a 1024x1024 SLIT) are an input,
    parsed once beforehand (see test_parse_firmware_json_1024node). One warm-up boot first:
    the first boot in a process also computes the process-wide cache of sched_init_numa's
    node sets (a pass over the 1024x1024 distances) and grows the heap, so it is slower."""
    fw = Firmware.from_json(huge_firmware_json)
    fw.parsed()
    benchmark.extra_info.update(ncpus=8192, nnodes=1024, mem_gib=16384)
    m = benchmark.pedantic(numa_hpe.boot, args=(fw,), rounds=15, iterations=1, warmup_rounds=1)
    assert m.read(f"{SYS}/cpu/online") == "0-8191\n"
    assert m.read(f"{SYS}/node/online") == "0-1023\n"
    assert m.read(f"{SYS}/node/node5/distance").split() == [str(huge_distance(5, j)) for j in range(1024)]


@pytest.mark.benchmark(group="boot")
def test_parse_firmware_json_1024node(benchmark, huge_firmware_json: str) -> None:  # type: ignore[no-untyped-def]
    """The core's parse and validation of the huge firmware JSON (what a boot from JSON text
    adds to the boot)."""
    benchmark.extra_info.update(ncpus=8192, nnodes=1024, json_bytes=len(huge_firmware_json))
    fw = benchmark.pedantic(numa_hpe._core.Firmware, args=(huge_firmware_json,), rounds=3, iterations=1)
    assert isinstance(fw, numa_hpe._core.Firmware)


@pytest.mark.benchmark(group="hotplug")
def test_probe_and_online_8192_blocks(benchmark, hotplug_firmware_json: str) -> None:  # type: ignore[no-untyped-def]
    """``echo ADDR > memory/probe`` then ``echo online > memoryN/state`` for 8192 blocks (1 TiB)."""
    fw = Firmware.from_json(hotplug_firmware_json)
    assert fw.hotplug_memory_window is not None
    base = fw.hotplug_memory_window["start"]
    first = base // BLOCK

    def setup():  # type: ignore[no-untyped-def]
        return (numa_hpe.boot(hotplug_firmware_json),), {}

    def run(m: numa_hpe.Machine) -> numa_hpe.Machine:
        for i in range(HOTPLUG_BLOCKS):
            m.write(f"{SYS}/memory/probe", f"{base + i * BLOCK:#x}\n")
        for b in range(first, first + HOTPLUG_BLOCKS):
            m.write(f"{SYS}/memory/memory{b}/state", "online\n")
        return m

    benchmark.extra_info.update(blocks=HOTPLUG_BLOCKS)
    m = benchmark.pedantic(run, setup=setup, rounds=3, iterations=1)
    last = first + HOTPLUG_BLOCKS - 1
    assert m.read(f"{SYS}/memory/memory{first}/state") == "online\n"
    assert m.read(f"{SYS}/memory/memory{last}/state") == "online\n"


@pytest.mark.benchmark(group="cpu_hotplug")
def test_cpu_offline_online_cycle_8192(benchmark, huge_machine: numa_hpe.Machine) -> None:  # type: ignore[no-untyped-def]
    path = f"{SYS}/cpu/cpu4097/online"

    def cycle() -> None:
        huge_machine.write(path, "0\n")
        huge_machine.write(path, "1\n")

    benchmark.extra_info.update(ncpus=8192, nnodes=1024)
    benchmark(cycle)
    assert huge_machine.read(path) == "1\n"
    assert huge_machine.read(f"{SYS}/cpu/online") == "0-8191\n"


# -- hwloc lstopo on equivalent synthetic topologies (no distances: hwloc's synthetic syntax
# has none) ----------------------------------------------------------------------------------
LSTOPO = shutil.which("lstopo-no-graphics")


def _lstopo_input(topology: str) -> str:
    node, *rest = topology.split()
    return f"{node}(memory={MEM_PER_NODE}) " + " ".join(rest)


@pytest.mark.benchmark(group="lstopo")
@pytest.mark.parametrize(("topology", "npus"), [(SMALL_TOPOLOGY, 64), (HUGE_TOPOLOGY, 8192)], ids=["64cpu", "8192cpu"])
def test_lstopo_synthetic(benchmark, topology: str, npus: int) -> None:  # type: ignore[no-untyped-def]
    if LSTOPO is None:
        pytest.skip("lstopo-no-graphics not found (Debian package hwloc)")
    cmd = [LSTOPO, "--input", _lstopo_input(topology), "--of", "console"]
    benchmark.extra_info.update(command=" ".join(cmd))
    out = benchmark.pedantic(
        lambda: subprocess.run(cmd, check=True, capture_output=True, text=True).stdout, rounds=3, iterations=1
    )
    assert f"PU L#{npus - 1} (P#{npus - 1})" in out
