"""The patchset's reference scenario (shared/spec/patchset.md §6: v9 interfaces, v10 release
behaviour, 4-CPU 4 GiB UMA guest) through the Python API. Every expectation below is quoted or
derived from that section and interfaces.md, not from running the emulator."""

from __future__ import annotations

import errno
from collections.abc import Callable

import pytest

import numa_hpe
from numa_hpe import Firmware

SYS = "/sys/devices/system"
DBG = "/sys/kernel/debug"
CMDLINE = "mem=2G numa=possible=4 maxcpus=2 cpu_hpe=on"


def boot(extra: str = "") -> numa_hpe.Machine:
    return numa_hpe.boot(Firmware.qemu(sockets=1, cores=4, threads=1, mem="4G"), cmdline=f"{CMDLINE}{extra}")


def add_node(m: numa_hpe.Machine) -> None:
    m.echo("128M@0x80000000", f"{DBG}/mem_hotplug/add_node")


def online16(m: numa_hpe.Machine) -> None:
    m.echo("online", f"{SYS}/memory/memory16/state")


def probe(m: numa_hpe.Machine) -> None:
    m.echo("1", f"{SYS}/cpu/probe")


def online_cpu2(m: numa_hpe.Machine) -> None:
    m.echo("1", f"{SYS}/cpu/cpu2/online")


def release(m: numa_hpe.Machine) -> None:
    m.echo("2", f"{SYS}/cpu/release")


STAGES: list[Callable[[numa_hpe.Machine], None]] = [add_node, online16, probe, online_cpu2, release]


def session(upto: Callable[[numa_hpe.Machine], None] | None, extra: str = "") -> numa_hpe.Machine:
    """Boot and run the scenario's writes up to and including ``upto``."""
    m = boot(extra)
    if upto is not None:
        for stage in STAGES[: STAGES.index(upto) + 1]:
            stage(m)
    return m


def test_boot() -> None:
    m = session(None)
    assert m.read(f"{SYS}/node/possible") == "0-4\n"
    assert m.read(f"{SYS}/node/online") == "0\n"
    assert m.distance_matrix().shape == (5, 5)  # nr_node_ids 5
    blocks = sorted(int(e[6:]) for e in m.listdir(f"{SYS}/memory") if e.startswith("memory"))
    assert blocks == list(range(16))  # memory0..memory15 (mem=2G)
    for b in blocks:
        assert m.read(f"{SYS}/memory/memory{b}/state") == "online\n"
    assert m.read(f"{SYS}/cpu/present") == "0-3\n"
    assert m.read(f"{SYS}/cpu/online") == "0-1\n"
    assert not m.exists(f"{SYS}/cpu/cpu2")
    assert not m.exists(f"{SYS}/cpu/cpu3")
    assert m.exists(f"{SYS}/cpu/probe") and m.exists(f"{SYS}/cpu/release")
    assert not m.exists(f"{SYS}/node/node1")


def test_add_node() -> None:
    m = session(add_node)
    assert m.read(f"{SYS}/node/online") == "0-1\n"
    assert m.read(f"{SYS}/memory/memory16/state") == "offline\n"
    assert m.readlink(f"{SYS}/memory/memory16/node1") == "../../node/node1"
    assert m.readlink(f"{SYS}/node/node1/memory16") == "../../memory/memory16"
    assert m.read(f"{SYS}/node/has_memory") == "0\n"
    assert m.read(f"{SYS}/node/has_normal_memory") == "0\n"
    assert m.exists(f"{DBG}/mem_hotplug/node1/add_memory")


def test_online_memory16() -> None:
    m = session(add_node)
    log = len(m.dmesg())
    online16(m)
    assert m.read(f"{SYS}/memory/memory16/state") == "online\n"
    assert m.read(f"{SYS}/node/has_memory") == "0-1\n"
    assert m.read(f"{SYS}/node/has_normal_memory") == "0-1\n"
    new = m.dmesg()[log:]
    assert any(line.startswith("Built 2 zonelists, mobility grouping on.  Total pages: ") for line in new)
    assert m.read(f"{SYS}/node/node1/meminfo").splitlines()[0].split() == ["Node", "1", "MemTotal:", "131072", "kB"]


def test_distances_without_slit() -> None:
    m = session(online16)
    assert m.read(f"{SYS}/node/node0/distance") == "10 20\n"
    assert m.read(f"{SYS}/node/node1/distance") == "20 10\n"


def test_cpu_probe() -> None:
    m = session(probe)
    assert m.exists(f"{SYS}/cpu/cpu2")
    assert m.readlink(f"{SYS}/cpu/cpu2/node1") == "../../node/node1"
    assert m.read(f"{SYS}/cpu/cpu2/online") == "0\n"
    assert m.read(f"{SYS}/cpu/online") == "0-1\n"
    assert not m.exists(f"{SYS}/cpu/cpu3")


def test_cpu2_online() -> None:
    m = session(probe)
    log = len(m.dmesg())
    online_cpu2(m)
    assert m.read(f"{SYS}/cpu/online") == "0-2\n"
    assert m.read(f"{SYS}/node/has_cpu") == "0-1\n"
    assert m.read(f"{SYS}/node/node1/cpulist") == "2\n"
    assert m.read(f"{SYS}/cpu/cpu2/topology/physical_package_id") == "1\n"  # P6 fake socket
    assert m.read(f"{SYS}/cpu/cpu2/topology/core_id") == "0\n"
    assert "smpboot: Booting Node 1 Processor 2 APIC 0x2" in m.dmesg()[log:]


def test_cpu2_sched_domain_is_numa_only() -> None:
    m = session(online_cpu2, extra=" sched_verbose")
    d = f"{DBG}/sched/domains/cpu2"
    assert m.read(f"{d}/domain0/name") == "NUMA\n"
    assert not m.exists(f"{d}/domain1")


def test_cpu_release() -> None:
    m = session(online_cpu2)
    log = len(m.dmesg())
    release(m)
    assert "smpboot: CPU 2 is now offline" in m.dmesg()[log:]
    assert not m.exists(f"{SYS}/cpu/cpu2")
    assert m.read(f"{SYS}/cpu/present") == "0-3\n"  # still present: re-probe-able
    assert m.read(f"{SYS}/cpu/online") == "0-1\n"
    assert m.read(f"{SYS}/node/online") == "0-1\n"  # node1 stays online
    assert not m.exists(f"{SYS}/node/node1/cpu2")


def test_reprobe_after_release() -> None:
    m = session(release)
    probe(m)
    assert m.exists(f"{SYS}/cpu/cpu2")
    assert m.readlink(f"{SYS}/cpu/cpu2/node1") == "../../node/node1"


@pytest.mark.parametrize(
    ("path", "data"),
    [  # patchset.md P5 error paths
        (f"{SYS}/cpu/probe", "9\n"),  # nid >= nr_node_ids -> -EPERM
        (f"{SYS}/cpu/probe", "3\n"),  # node offline -> -EPERM
        (f"{SYS}/cpu/probe", "1"),  # write of fewer than 2 bytes -> -EPERM
        (f"{SYS}/cpu/release", "0\n"),  # can not release cpu 0 -> -EPERM
    ],
)
def test_cpu_probe_release_eperm(path: str, data: str) -> None:
    m = session(add_node)
    with pytest.raises(OSError) as e:
        m.write(path, data)
    assert e.value.errno == errno.EPERM


@pytest.mark.parametrize(("data", "err"), [("64M@0x80000000\n", "EINVAL"), ("128M\n", "EINVAL")])
def test_add_node_einval(data: str, err: str) -> None:
    """patchset.md P3: size < 128 MiB or no ``@`` -> -EINVAL."""
    m = session(None)
    with pytest.raises(OSError) as e:
        m.write(f"{DBG}/mem_hotplug/add_node", data)
    assert numa_hpe.errno_name(e.value) == err
