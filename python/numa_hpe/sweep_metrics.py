"""Built-in metric sets for :func:`numa_hpe.sweep.sweep` (``fn="boot"`` / ``fn="memory"``).

Each is ``fn(machine, config) -> dict`` of plain values; the time to boot is always in the
row as ``boot_s``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .machine import Machine

SYS = "/sys/devices/system"
SCHED = "/sys/kernel/debug/sched/domains"


def _count(cpulist: str) -> int:
    n = 0
    for part in cpulist.strip().split(","):
        if part:
            a, _, b = part.partition("-")
            n += int(b or a) - int(a) + 1
    return n


def _meminfo_kb(m: Machine, field: str) -> int | None:
    for line in m.read("/proc/meminfo").splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    return None


def sched_levels(m: Machine, cpu: int = 0) -> str | None:
    """The sched domain names of ``cpu``, lowest first (``"SMT,MC,NUMA"``); None if absent."""
    d = f"{SCHED}/cpu{cpu}"
    if not m.exists(d):
        return None
    names = sorted(m.listdir(d), key=lambda s: int(s.removeprefix("domain")))
    return ",".join(m.read(f"{d}/{n}/name").strip() for n in names)


def zonelist(m: Machine, node: int = 0) -> str | None:
    """The latest ``Fallback order for Node N:`` the kernel logged (``"0 1 2 3"``)."""
    tag = f"Fallback order for Node {node}:"
    lines = [line for line in m.dmesg() if line.startswith(tag)]
    return lines[-1][len(tag):].strip() if lines else None


def boot_summary(m: Machine, config: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Nodes and CPUs online, MemTotal, sched levels of cpu0 and the zonelist of node 0."""
    online = m.read(f"{SYS}/node/online").strip()
    cpus = m.read(f"{SYS}/cpu/online").strip()
    return {
        "nodes_online": _count(online),
        "node_online": online,
        "cpus_online": _count(cpus),
        "mem_total_kb": _meminfo_kb(m, "MemTotal"),
        "sched_levels_cpu0": sched_levels(m, 0),
        "zonelist_node0": zonelist(m, 0),
    }


def memory_summary(m: Machine, config: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Memory blocks by state, nodes with (normal) memory, MemTotal and MemFree."""
    states: dict[str, int] = {}
    for name in m.listdir(f"{SYS}/memory"):
        if name.startswith("memory"):
            state = m.read(f"{SYS}/memory/{name}/state").strip()
            states[state] = states.get(state, 0) + 1
    return {
        "blocks_online": states.get("online", 0),
        "blocks_offline": states.get("offline", 0),
        "has_memory": m.read(f"{SYS}/node/has_memory").strip(),
        "has_normal_memory": m.read(f"{SYS}/node/has_normal_memory").strip(),
        "mem_total_kb": _meminfo_kb(m, "MemTotal"),
        "mem_free_kb": _meminfo_kb(m, "MemFree"),
    }


#: name -> metric function, for ``fn="boot"`` in :func:`~numa_hpe.sweep.sweep` and TOML specs.
METRICS: dict[str, Callable[[Machine, Mapping[str, Any]], Any]] = {
    "boot": boot_summary,
    "memory": memory_summary,
}
