"""The Python face of an emulated machine: file access like a shell on the guest, firmware
events, and typed views of nodes, CPUs and memory blocks."""

from __future__ import annotations

import errno as _errno
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from . import _core
from .firmware import Firmware, default_firmware

if TYPE_CHECKING:
    from .export import ExportStats

SYS = "/sys/devices/system"


def _cpulist(text: str) -> list[int]:
    out: list[int] = []
    for part in text.strip().split(","):
        if not part:
            continue
        a, _, b = part.partition("-")
        out.extend(range(int(a), int(b or a) + 1))
    return out


@dataclass(frozen=True)
class Node:
    """A NUMA node as sysfs shows it."""

    nid: int
    online: bool
    cpus: list[int]
    has_memory: bool
    has_normal_memory: bool
    mem_total_kb: int


@dataclass(frozen=True)
class Cpu:
    """A logical CPU as sysfs shows it."""

    cpu: int
    present: bool
    online: bool
    node: int | None
    package: int | None
    core: int | None


@dataclass(frozen=True)
class MemoryBlock:
    """One ``memoryN`` device."""

    block: int
    state: str
    valid_zones: str
    nodes: list[int]
    start: int
    size: int


@dataclass(frozen=True)
class Zone:
    """One zone of /proc/zoneinfo."""

    node: int
    name: str
    spanned: int
    present: int
    managed: int
    start_pfn: int | None


class Machine:
    """An emulated Linux 6.1 machine.

    Parameters
    ----------
    firmware:
        :class:`~numa_hpe.Firmware` (or its JSON text / dict); the built-in default when None.
    cmdline:
        Kernel command line (``"mem=2G numa=possible=4 maxcpus=2 cpu_hpe=on"``).
    kernel_config:
        ``"numa_hpe"`` (the kernel plus the patchset's interfaces, default) or ``"oracle"``
        (the distribution kernel the oracle cases come from).
    patchset_version:
        ``"v3"`` .. ``"v10"``: the interface paths of an older patchset version.
    """

    def __init__(
        self,
        firmware: Firmware | str | dict[str, Any] | None = None,
        cmdline: str = "",
        kernel_config: str = "numa_hpe",
        patchset_version: str | None = None,
    ) -> None:
        if firmware is None:
            firmware = default_firmware()
        fw: _core.Firmware | str
        if isinstance(firmware, Firmware):
            fw = firmware.parsed()
        elif isinstance(firmware, dict):
            fw = Firmware.from_dict(firmware).to_json()
        else:
            fw = firmware
        self.cmdline = cmdline
        self.kernel_config = kernel_config
        self._m = _core.Machine(fw, cmdline, kernel_config, patchset_version)
        #: operations applied since boot: ("write", path, data) / ("add_memory", start, size,
        #: pxm) / ... -- replay them on another machine with :meth:`replay_journal`.
        self.journal: list[tuple[Any, ...]] = []

    # -- snapshots ----------------------------------------------------------------------
    def save(self) -> bytes:
        """The whole machine state as bytes (restore with :meth:`load`)."""
        return bytes(self._m.save())

    @classmethod
    def load(cls, data: bytes) -> Machine:
        """Restore a machine from :meth:`save` bytes (validated; ValueError when invalid)."""
        m = cls.__new__(cls)
        m._m = _core.Machine.load(data)
        m.cmdline = m.read("/proc/cmdline").rstrip("\n")
        m.kernel_config = "numa_hpe" if m.exists("/sys/devices/system/cpu/probe") else "oracle"
        m.journal = []
        return m

    def fork(self) -> Machine:
        """An independent copy to try another future from the same state."""
        m = Machine.__new__(Machine)
        m._m = self._m.fork()
        m.cmdline, m.kernel_config, m.journal = self.cmdline, self.kernel_config, list(self.journal)
        return m

    def __getstate__(self) -> dict[str, Any]:
        return {"snapshot": self.save(), "journal": self.journal}

    def __setstate__(self, state: dict[str, Any]) -> None:
        other = Machine.load(state["snapshot"])
        self.__dict__.update(other.__dict__)
        self.journal = list(state.get("journal", []))

    # -- events -------------------------------------------------------------------------
    def subscribe(self, callback: Any) -> None:
        """Call ``callback(event: dict)`` for every hotplug event (``MEM_GOING_ONLINE``,
        ``MEM_ONLINE``, ``MEM_GOING_OFFLINE``, ``MEM_OFFLINE``, ``MEM_CANCEL_*``,
        ``CPU_GOING_ONLINE``, ``CPU_ONLINE``, ``CPU_GOING_OFFLINE``, ``CPU_OFFLINE``,
        ``NODE_ONLINE``, ``NODE_OFFLINE``). Returning a non-zero errno (or raising OSError) from
        a ``*_GOING_*`` event refuses the operation: it fails with that errno and rolls back.
        ``None`` unsubscribes. The callback must not use the machine itself."""
        self._m.set_notifier(callback)

    def events(self) -> list[dict[str, Any]]:
        """Every hotplug event so far, oldest first."""
        return self._m.events()

    def replay_journal(self, other: Machine) -> None:
        """Apply this machine's journal to ``other`` (booted from the same firmware/cmdline)."""
        for op in self.journal:
            kind, *args = op
            try:
                getattr(other, {"write": "write", "add_memory": "add_memory",
                                "remove_memory": "remove_memory", "add_cpu": "add_cpu",
                                "remove_cpu": "remove_cpu"}[kind])(*args)
            except OSError:
                pass

    # -- files --------------------------------------------------------------------------
    def read(self, path: str) -> str:
        """``cat path``; OSError with the kernel's errno on failure."""
        return self._m.read(path)

    def write(self, path: str, data: str | bytes) -> int:
        """``echo -n data > path`` (one write); OSError with the kernel's errno on failure."""
        self.journal.append(("write", path, data))
        return self._m.write(path, data)

    def echo(self, data: str, path: str) -> int:
        """``echo data > path`` (appends the newline echo adds)."""
        return self.write(path, data + "\n")

    def listdir(self, path: str) -> list[str]:
        return self._m.listdir(path)

    def readlink(self, path: str) -> str:
        return self._m.readlink(path)

    def exists(self, path: str) -> bool:
        return self._m.stat(path) is not None

    def stat(self, path: str) -> str | None:
        """``"dir"``, ``"file"``, ``"link"`` or None."""
        return self._m.stat(path)

    def dmesg(self, since: int = 0) -> list[str]:
        """Kernel log lines from line ``since`` on, oldest first (no timestamps).

        ``m.dmesg(since=n)`` equals ``m.dmesg()[n:]`` without formatting the first ``n`` lines
        (a 1024-node machine logs megabytes of zonelist lines)."""
        return self._m.dmesg(since)

    def dmesg_len(self) -> int:
        """How many lines the kernel log holds (``len(m.dmesg())``, without formatting them)."""
        return self._m.dmesg_len()

    def snapshot(self, root: str = "/") -> dict[str, Any]:
        """Every readable file, link and unreadable attribute below ``root`` plus the log,
        in the oracle's snapshot format."""
        files, links, unreadable = self._m.snapshot(root)
        return {"files": files, "links": links, "unreadable": unreadable, "dmesg": self.dmesg()}

    def export(self, dest: str | Path, force: bool = False, **kw: Any) -> ExportStats:
        """Write ``/sys/devices/system/{cpu,node,memory}`` and ``/proc`` below ``dest`` as real
        files for ``lscpu --sysroot``, ``lsmem --sysroot`` and hwloc's fsroot (see
        :func:`numa_hpe.export.export` for ``roots``, ``threads`` and ``progress``)."""
        from .export import export

        return export(self, dest, force=force, **kw)

    # -- firmware events ----------------------------------------------------------------
    def add_memory(self, start: int, size: int, pxm: int | None = None) -> int:
        """ACPI memory device (pc-dimm) insert; returns the node it landed on."""
        self.journal.append(("add_memory", start, size, pxm))
        return self._m.firmware_add_memory(start, size, pxm)

    def remove_memory(self, start: int, size: int) -> None:
        """ACPI memory eject (OSError EBUSY when a block cannot be offlined)."""
        self.journal.append(("remove_memory", start, size))
        self._m.firmware_remove_memory(start, size)

    def add_cpu(self, apic_id: int, pxm: int | None = None) -> int:
        """ACPI processor insert; returns the logical CPU id."""
        self.journal.append(("add_cpu", apic_id, pxm))
        return self._m.firmware_add_cpu(apic_id, pxm)

    def remove_cpu(self, apic_id: int) -> None:
        """ACPI processor eject."""
        self.journal.append(("remove_cpu", apic_id))
        self._m.firmware_remove_cpu(apic_id)

    # -- batch operations (the kernel paths without one file write per block) ---------------
    def hot_add_memory(self, start: int, size: int, node: int | None = None) -> list[int]:
        """Kernel ``add_memory``: returns the new block ids (offline unless auto-onlined)."""
        return self._m.hot_add_memory(start, size, node)

    def online_blocks(self, ids: list[int], online_type: str = "online") -> None:
        """Online many blocks at once; nothing changes if any block is missing or online."""
        self._m.online_blocks(list(ids), online_type)

    def offline_blocks(self, ids: list[int]) -> None:
        """Offline many blocks at once; nothing changes if any block cannot be offlined."""
        self._m.offline_blocks(list(ids))

    def remove_memory_range(self, start: int, size: int) -> None:
        """Kernel ``remove_memory``: EBUSY while a block of the range is online."""
        self._m.remove_memory_range(start, size)

    def rebuild_zonelists(self) -> None:
        """Run ``build_all_zonelists(NULL)`` now (the kernel does after onlining memory into
        an empty zone); its ``Fallback order`` / ``Built N zonelists`` lines go to dmesg."""
        self._m.rebuild_zonelists()

    def rebuild_sched_domains(self) -> None:
        """Rebuild the scheduler domains of the online CPUs now (as after a CPU hotplug)."""
        self._m.rebuild_sched_domains()

    # -- typed views --------------------------------------------------------------------
    def distance_matrix(self) -> npt.NDArray[np.uint8]:
        """``node_distance(i, j)`` over all possible node ids."""
        return self._m.distance_matrix()

    def mask(self, name: str) -> npt.NDArray[np.uint64]:
        """A cpumask / nodemask as uint64 words (bit i in word i // 64)."""
        return self._m.mask(name)

    def nodes(self) -> list[Node]:
        possible = _cpulist(self.read(f"{SYS}/node/possible"))
        online = set(_cpulist(self.read(f"{SYS}/node/online")))
        mem = set(_cpulist(self.read(f"{SYS}/node/has_memory")))
        normal = set(_cpulist(self.read(f"{SYS}/node/has_normal_memory")))
        out = []
        for n in possible:
            cpus: list[int] = []
            total = 0
            if n in online:
                cpus = _cpulist(self.read(f"{SYS}/node/node{n}/cpulist"))
                first = self.read(f"{SYS}/node/node{n}/meminfo").splitlines()[0]
                total = int(first.split()[3])
            out.append(Node(n, n in online, cpus, n in mem, n in normal, total))
        return out

    def cpus(self) -> list[Cpu]:
        present = set(_cpulist(self.read(f"{SYS}/cpu/present")))
        online = set(_cpulist(self.read(f"{SYS}/cpu/online")))
        out = []
        for c in _cpulist(self.read(f"{SYS}/cpu/possible")):
            node = pkg = core = None
            d = f"{SYS}/cpu/cpu{c}"
            if self.exists(d):
                links = [e for e in self.listdir(d) if e.startswith("node")]
                node = int(links[0][4:]) if links else None
                if c in online:
                    pkg = int(self.read(f"{d}/topology/physical_package_id"))
                    core = int(self.read(f"{d}/topology/core_id"))
            out.append(Cpu(c, c in present, c in online, node, pkg, core))
        return out

    def memory_blocks(self) -> list[MemoryBlock]:
        size = int(self.read(f"{SYS}/memory/block_size_bytes"), 16)
        ids = sorted(int(e[6:]) for e in self.listdir(f"{SYS}/memory") if e.startswith("memory"))
        out = []
        for i in ids:
            d = f"{SYS}/memory/memory{i}"
            nodes = sorted(int(e[4:]) for e in self.listdir(d) if e.startswith("node"))
            out.append(
                MemoryBlock(
                    i,
                    self.read(f"{d}/state").strip(),
                    self.read(f"{d}/valid_zones").strip(),
                    nodes,
                    i * size,
                    size,
                )
            )
        return out

    def zones(self) -> list[Zone]:
        out: list[Zone] = []
        cur: dict[str, Any] | None = None
        for line in self.read("/proc/zoneinfo").splitlines() + ["Node -1, zone end"]:
            if line.startswith("Node "):
                if cur is not None:
                    out.append(Zone(**cur))
                parts = line.replace(",", "").split()
                cur = {"node": int(parts[1]), "name": parts[3], "spanned": 0, "present": 0,
                       "managed": 0, "start_pfn": None}
                continue
            f = line.split()
            if cur is not None and len(f) == 2 and f[0] in ("spanned", "present", "managed", "start_pfn:"):
                cur[f[0].rstrip(":")] = int(f[1])
        return [z for z in out if z.node >= 0]


def errno_name(e: OSError) -> str:
    """``EINVAL`` for an OSError carrying errno 22."""
    return _errno.errorcode.get(e.errno or 0, str(e.errno))
