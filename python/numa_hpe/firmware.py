"""Firmware descriptions: the ``firmware`` object of the oracle case format (e820 map, SRAT
memory affinity, CPU slots, SLIT, possible CPUs) and builders for it.

* :meth:`Firmware.from_case` / :meth:`Firmware.from_json`: explicit facts.
* :meth:`Firmware.qemu`: what QEMU's ``pc`` machine with SeaBIOS hands a guest for
  ``-smp``/``-m``/``-numa`` options (the layout every oracle case was taken on).
* :meth:`Firmware.synthetic`: an hwloc-style one-liner (``"node:4 package:2 core:8 pu:2"``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from . import _core
from .errors import InvalidDescriptionError

GiB = 1 << 30
MiB = 1 << 20
_SUFFIX = {"K": 10, "M": 20, "G": 30, "T": 40, "P": 50, "E": 60}


def parse_size(text: str | int) -> int:
    """``"16G"`` / ``"512M"`` / ``"1T"`` / plain bytes -> bytes."""
    if isinstance(text, int):
        return text
    m = re.fullmatch(r"\s*(\d+)\s*([KMGTPE]?)(?:i?B)?\s*", str(text), re.IGNORECASE)
    if not m:
        raise InvalidDescriptionError(f"size {text!r}: expected a number with an optional K/M/G/T suffix")
    return int(m.group(1)) << _SUFFIX.get(m.group(2).upper(), 0)


def _bits(n: int) -> int:
    """Bits QEMU uses to number ``n`` values in an APIC id field."""
    return 0 if n <= 1 else (n - 1).bit_length()


@dataclass
class Firmware:
    """Firmware facts (see ``shared/oracle/FORMAT.md``, ``firmware``)."""

    e820: list[dict[str, Any]]
    memory_affinity: list[dict[str, Any]] = field(default_factory=list)
    cpus: list[dict[str, Any]] = field(default_factory=list)
    distances: list[list[int]] | None = None
    nr_cpus_possible: int = 0
    hotplug_memory_window: dict[str, int] | None = None
    # The facts as the core parsed them, made on the first boot so that later boots skip the
    # JSON round trip. Assigning a field drops it; lists edited in place after a boot need a
    # field assigned anew (or a new Firmware).
    _parsed: _core.Firmware | None = field(default=None, init=False, repr=False, compare=False)

    def __setattr__(self, name: str, value: Any) -> None:
        if name != "_parsed":
            object.__setattr__(self, "_parsed", None)
        object.__setattr__(self, name, value)

    def __getstate__(self) -> dict[str, Any]:
        # the parsed handle neither pickles nor needs copying
        return {k: v for k, v in self.__dict__.items() if k != "_parsed"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state, _parsed=None)

    def parsed(self) -> _core.Firmware:
        """The facts parsed and validated by the core (ValueError when invalid), kept for
        the next boots."""
        if self._parsed is None:
            self._parsed = _core.Firmware(self.to_json())
        return self._parsed

    def to_dict(self) -> dict[str, Any]:
        return {
            "e820": self.e820,
            "memory_affinity": self.memory_affinity,
            "cpus": self.cpus,
            "distances": self.distances,
            "nr_cpus_possible": self.nr_cpus_possible or len(self.cpus),
            "hotplug_memory_window": self.hotplug_memory_window,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Firmware:
        try:
            return cls(
                e820=list(d["e820"]),
                memory_affinity=list(d.get("memory_affinity") or []),
                cpus=list(d["cpus"]),
                distances=d.get("distances"),
                nr_cpus_possible=int(d.get("nr_cpus_possible") or len(d["cpus"])),
                hotplug_memory_window=d.get("hotplug_memory_window"),
            )
        except (KeyError, TypeError) as e:
            raise InvalidDescriptionError(f"firmware: missing or bad field {e}") from None

    @classmethod
    def from_json(cls, text: str) -> Firmware:
        return cls.from_dict(json.loads(text))

    @classmethod
    def from_case(cls, case_dir: str | Path) -> Firmware:
        """The firmware of an oracle case directory (``case.json``)."""
        case = json.loads((Path(case_dir) / "case.json").read_text())
        return cls.from_dict(case["firmware"])

    @classmethod
    def from_sysfs(cls, root: str | Path = "/") -> Firmware:
        """Firmware facts of a Linux sysfs tree (this host's ``/``, or an exported tree);
        see :func:`numa_hpe.topology_io.from_sysfs`."""
        from .topology_io import from_sysfs

        return from_sysfs(root)

    @classmethod
    def qemu(
        cls,
        *,
        sockets: int = 1,
        dies: int = 1,
        cores: int = 1,
        threads: int = 1,
        cpus: int | None = None,
        node_mem: Sequence[int | str] | None = None,
        mem: int | str = "2G",
        node_cpus: Sequence[Sequence[int]] | None = None,
        distances: Sequence[Sequence[int]] | None = None,
        maxmem: int | str | None = None,
        slots: int = 0,
    ) -> Firmware:
        """QEMU ``pc`` + SeaBIOS firmware.

        ``-smp cpus,sockets,dies,cores,threads`` (``cpus`` = CPUs present at boot, default all
        slots), ``-m mem[,slots,maxmem]``, ``-numa node,mem=...,cpus=...`` as ``node_mem`` and
        ``node_cpus`` (slot indices), ``-numa dist`` as a full ``distances`` matrix.
        """
        nslots = sockets * dies * cores * threads
        if nslots < 1:
            raise InvalidDescriptionError("cpus: the topology has no CPU slot")
        if nslots > 32768:  # refuse before building one dict per slot (10^7 slots = 5 GB)
            raise InvalidDescriptionError(f"cpus: {nslots} CPU slots exceed the supported 32768")
        if node_mem is not None and len(node_mem) > 1024:
            raise InvalidDescriptionError(f"node_mem: {len(node_mem)} nodes exceed MAX_NUMNODES 1024")
        present = nslots if cpus is None else cpus
        if not 1 <= present <= nslots:
            raise InvalidDescriptionError(f"cpus: {present} present CPUs do not fit {nslots} slots")
        sizes = [parse_size(s) for s in node_mem] if node_mem is not None else []
        ram = sum(sizes) if sizes else parse_size(mem)
        if ram < 16 * MiB:
            raise InvalidDescriptionError("mem: at least 16M of RAM is needed")
        # pc machine: RAM below 4 GiB stops at 3 GiB when there is >= 3.5 GiB of it
        low = 0xC0000000 if ram >= 0xE0000000 else ram
        high = ram - low
        e820 = [
            {"start": 0, "end": 0x9FBFF, "type": "usable"},
            {"start": 0x9FC00, "end": 0x9FFFF, "type": "reserved"},
            {"start": 0xF0000, "end": 0xFFFFF, "type": "reserved"},
            {"start": 0x100000, "end": low - 0x20001, "type": "usable"},
            {"start": low - 0x20000, "end": low - 1, "type": "reserved"},
            {"start": 0xFFFC0000, "end": 0xFFFFFFFF, "type": "reserved"},
        ]
        if high:
            e820.append({"start": 1 << 32, "end": (1 << 32) + high - 1, "type": "usable"})
        window = None
        if maxmem is not None:
            extra = parse_size(maxmem) - ram + slots * GiB
            if extra > 0:
                base = ((1 << 32) + high + GiB - 1) // GiB * GiB
                window = {"start": base, "end": base + extra - 1}
        if not sizes and window:
            # pc machines turn NUMA on for memory hotplug: one node with all RAM (+ window)
            sizes = [ram]
        nnodes = len(sizes)
        affinity: list[dict[str, Any]] = []
        if nnodes:
            addr = 0
            for nid, size in enumerate(sizes):
                end = addr + size
                parts: list[tuple[int, int]] = []
                if addr == 0 and end > 0xA0000:
                    parts += [(0, 0xA0000), (0x100000, min(end, low))]
                elif addr < low:
                    parts.append((addr, min(end, low)))
                if end > low:
                    a = max(addr, low) - low + (1 << 32)
                    parts.append((a, end - low + (1 << 32)))
                for s, e in parts:
                    if e > s:
                        affinity.append({"node": nid, "pxm": nid, "start": s, "end": e - 1, "hotpluggable": False})
                addr = end
            if window:
                last = nnodes - 1
                affinity.append(
                    {"node": last, "pxm": last, "start": window["start"], "end": window["end"], "hotpluggable": True}
                )
        cpu_node: dict[int, int] = {}
        if node_cpus is not None:
            for nid, slots_of in enumerate(node_cpus):
                for s in slots_of:
                    cpu_node[s] = nid
        smt, core_b, die_b = _bits(threads), _bits(cores), _bits(dies)
        slots_list = []
        i = 0
        for p in range(sockets):
            for d in range(dies):
                for c in range(cores):
                    for t in range(threads):
                        apic = (p << (die_b + core_b + smt)) | (d << (core_b + smt)) | (c << smt) | t
                        node = cpu_node.get(i, 0) if nnodes else None
                        slots_list.append(
                            {
                                "apic_id": apic,
                                "node": node,
                                "pxm": node,
                                "package": p,
                                "die": d,
                                "core": c,
                                "thread": t,
                                "enabled": i < present,
                            }
                        )
                        i += 1
        # the kernel numbers proximity domains in first-seen SRAT order, CPU entries first
        kernel_node: dict[int, int] = {}
        for entry in [c for c in slots_list if c["pxm"] is not None] + affinity:
            kernel_node.setdefault(entry["pxm"], len(kernel_node))
        for entry in slots_list + affinity:
            if entry["pxm"] is not None:
                entry["node"] = kernel_node[entry["pxm"]]
        dist = [list(map(int, r)) for r in distances] if distances is not None else None
        if dist is not None and (len(dist) != nnodes or any(len(r) != nnodes for r in dist)):
            raise InvalidDescriptionError(f"distances: expected a {nnodes}x{nnodes} matrix")
        return cls(e820, affinity, slots_list, dist, nslots, window)

    @classmethod
    def synthetic(
        cls,
        topology: str,
        *,
        mem_per_node: int | str = "1G",
        distance: Callable[[int, int], int] | Sequence[Sequence[int]] | None = None,
        present_cpus: int | None = None,
        maxmem: int | str | None = None,
        slots: int = 0,
    ) -> Firmware:
        """An hwloc-style synthetic topology: ``"node:4 package:2 core:8 pu:2"``.

        Levels (outermost first) may be ``node``/``numa``, ``package``/``socket``, ``die``,
        ``core`` and ``pu``/``thread``; counts multiply down the tree. When ``node`` sits
        above ``package`` each node holds whole packages; below it, packages are split across
        nodes (NUMA-in-package). ``distance`` is a matrix or a function ``(i, j) -> int``
        (default 10 local, 20 remote).
        """
        counts = {"node": 1, "package": 1, "die": 1, "core": 1, "pu": 1}
        alias = {"numa": "node", "numanode": "node", "socket": "package", "thread": "pu", "l3": "die"}
        order: list[str] = []
        for tok in topology.split():
            m = re.fullmatch(r"([A-Za-z0-9]+):(\d+)", tok)
            if not m:
                raise InvalidDescriptionError(f"topology: bad level {tok!r} (expected name:count)")
            name = alias.get(m.group(1).lower(), m.group(1).lower())
            if name not in counts:
                raise InvalidDescriptionError(f"topology: unknown level {m.group(1)!r}")
            n = int(m.group(2))
            if n < 1:
                raise InvalidDescriptionError(f"topology: level {name} needs a count >= 1")
            counts[name] = n
            order.append(name)
        if "node" in order and any(order.index(x) < order.index("node") for x in ("core", "pu") if x in order):
            raise InvalidDescriptionError("topology: the node level must sit above core and pu")
        # counts multiply down the tree: totals through each level
        total_of: dict[str, int] = {}
        running = 1
        for name in order:
            running *= counts[name]
            total_of[name] = running
        nodes = total_of.get("node", 1)
        sockets = total_of.get("package", 1)
        dies = counts["die"]
        total = running
        threads = counts["pu"]
        cores = total // (sockets * dies * threads)
        if sockets * dies * cores * threads != total:
            raise InvalidDescriptionError("topology: levels do not nest into packages, dies, cores and PUs")
        if total > 32768:
            raise InvalidDescriptionError(f"topology: {total} CPUs exceed the supported 32768 slots")
        if nodes > 1024:
            raise InvalidDescriptionError(f"topology: {nodes} nodes exceed MAX_NUMNODES 1024")
        per = total // nodes
        if per * nodes != total:
            raise InvalidDescriptionError("topology: CPUs do not divide evenly over nodes")
        node_cpus = [list(range(n * per, (n + 1) * per)) for n in range(nodes)]
        if callable(distance):
            dist = [[int(distance(i, j)) for j in range(nodes)] for i in range(nodes)]
        elif distance is not None:
            dist = [list(map(int, r)) for r in distance]
        else:
            dist = [[10 if i == j else 20 for j in range(nodes)] for i in range(nodes)]
        size = parse_size(mem_per_node)
        return cls.qemu(
            sockets=sockets,
            dies=dies,
            cores=cores,
            threads=threads,
            cpus=present_cpus,
            node_mem=[size] * nodes,
            node_cpus=node_cpus,
            distances=dist if nodes > 1 else None,
            maxmem=maxmem,
            slots=slots,
        )


def default_firmware() -> Firmware:
    """The built-in default: the patchset's reference guest (4 CPUs, 4 GiB, UMA)."""
    return Firmware.qemu(sockets=1, cores=4, threads=1, mem="4G")
