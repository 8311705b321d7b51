"""Benchmarks sized as issues 3 and 4 ask: 1 TiB of memory hot-added and onlined as 8192 blocks
(batch API and one file write per block), offlined and removed; zonelist rebuild and sched-domain
rebuild on 1024 nodes / 8192 CPUs (full, and after one CPU goes online); 1000 CPU probe/online/offline/release cycles."""

from __future__ import annotations

import pytest

import numa_hpe
from numa_hpe import Firmware

BLOCK = 128 << 20
TIB = 1 << 40
MEM = "/sys/devices/system/memory"


@pytest.fixture(scope="module")
def tib_machine(hotplug_firmware_json: str) -> tuple[numa_hpe.Machine, int]:
    m = numa_hpe.boot(hotplug_firmware_json)
    window = Firmware.from_json(hotplug_firmware_json).hotplug_memory_window
    assert window is not None
    return m, window["start"]


@pytest.mark.benchmark(group="memory_hotplug")
def test_batch_add_online_1tib(benchmark, tib_machine) -> None:  # type: ignore[no-untyped-def]
    base, start = tib_machine

    def setup():  # type: ignore[no-untyped-def]
        return (base.fork(),), {}

    def run(m: numa_hpe.Machine) -> None:
        ids = m.hot_add_memory(start, TIB, 0)
        m.online_blocks(ids, "online_movable")

    benchmark.pedantic(run, setup=setup, rounds=5, iterations=1)


@pytest.mark.benchmark(group="memory_hotplug")
def test_file_writes_online_1tib(benchmark, tib_machine) -> None:  # type: ignore[no-untyped-def]
    base, start = tib_machine
    first = start // BLOCK

    def setup():  # type: ignore[no-untyped-def]
        m = base.fork()
        m.hot_add_memory(start, TIB, 0)
        return (m,), {}

    def run(m: numa_hpe.Machine) -> None:
        for b in range(first, first + TIB // BLOCK):
            m.write(f"{MEM}/memory{b}/state", "online_movable\n")

    benchmark.pedantic(run, setup=setup, rounds=3, iterations=1)


@pytest.mark.benchmark(group="memory_hotplug")
def test_batch_offline_remove_1tib(benchmark, tib_machine) -> None:  # type: ignore[no-untyped-def]
    base, start = tib_machine

    def setup():  # type: ignore[no-untyped-def]
        m = base.fork()
        ids = m.hot_add_memory(start, TIB, 0)
        m.online_blocks(ids, "online_movable")
        return (m, ids), {}

    def run(m: numa_hpe.Machine, ids: list[int]) -> None:
        m.offline_blocks(ids)
        m.remove_memory_range(start, TIB)

    benchmark.pedantic(run, setup=setup, rounds=5, iterations=1)


@pytest.mark.benchmark(group="zonelist")
def test_zonelist_rebuild_1024_nodes(benchmark, huge_machine: numa_hpe.Machine) -> None:  # type: ignore[no-untyped-def]
    benchmark.pedantic(huge_machine.rebuild_zonelists, rounds=5, iterations=1)


@pytest.mark.benchmark(group="sched_domain")
def test_sched_full_rebuild_8192(benchmark, huge_machine: numa_hpe.Machine) -> None:  # type: ignore[no-untyped-def]
    benchmark.pedantic(huge_machine.rebuild_sched_domains, rounds=5, iterations=1)


@pytest.mark.benchmark(group="sched_domain")
def test_sched_rebuild_after_cpu_online_8192(benchmark, huge_machine: numa_hpe.Machine) -> None:  # type: ignore[no-untyped-def]
    """Only the `echo 1 > cpu4097/online` (its sched-domain rebuild); each round starts offline."""
    path = "/sys/devices/system/cpu/cpu4097/online"

    def setup():  # type: ignore[no-untyped-def]
        huge_machine.write(path, "0\n")
        return (), {}

    def run() -> None:
        huge_machine.write(path, "1\n")

    benchmark.pedantic(run, setup=setup, rounds=10, iterations=1)
    assert huge_machine.read("/sys/devices/system/cpu/online") == "0-8191\n"
    assert huge_machine.read("/sys/kernel/debug/sched/domains/cpu4097/domain0/name") == "SMT\n"


@pytest.mark.benchmark(group="cpu_hotplug")
def test_1000_probe_online_offline_release(benchmark) -> None:  # type: ignore[no-untyped-def]
    fw = Firmware.qemu(sockets=1, cores=4, mem="4G")
    base = numa_hpe.boot(fw, "mem=2G numa=possible=4 maxcpus=2 cpu_hpe=on")
    base.echo("128M@0x80000000", "/sys/kernel/debug/mem_hotplug/add_node")

    def run() -> None:
        m = base.fork()
        for _ in range(1000):
            m.write("/sys/devices/system/cpu/probe", "1\n")
            m.write("/sys/devices/system/cpu/cpu2/online", "1\n")
            m.write("/sys/devices/system/cpu/cpu2/online", "0\n")
            m.write("/sys/devices/system/cpu/release", "2\n")

    benchmark.pedantic(run, rounds=3, iterations=1)
