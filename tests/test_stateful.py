"""Stateful model test (issue 6 §1): random sequences of every hotplug operation, with the
machine-wide invariants of ``invariants.check`` after every step, the last zonelist rebuild
compared with the literal ``find_next_best_node`` loop, and every rejected operation checked to
leave ``snapshot()`` (files and links; the log aside) unchanged.

Step budget per profile (``NUMA_HPE_HYPOTHESIS_PROFILE``): dev 30 x 40 steps, ci 300 x 40
(12 000 steps), nightly 1 500 x 50 (75 000 steps) (see docs/reliability.md for run times)."""

from __future__ import annotations

import errno
import os

import invariants as inv
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

import numa_hpe
from numa_hpe import Firmware

SYS = "/sys/devices/system"
DBG = "/sys/kernel/debug/mem_hotplug"
G = 1 << 30
M128 = 128 << 20

PROFILE = os.environ.get("NUMA_HPE_HYPOTHESIS_PROFILE", "dev")
EXAMPLES, STEPS = {"dev": (30, 40), "ci": (300, 40), "nightly": (1500, 50), "fuzz": (1500, 50)}.get(PROFILE, (30, 40))

#: errnos a store / firmware event may fail with (interfaces.md, patchset.md)
ALLOWED = {errno.EINVAL, errno.EBUSY, errno.EEXIST, errno.E2BIG, errno.ENOMEM, errno.EPERM,
           errno.ENODEV, errno.EACCES, errno.ENOENT, errno.ERANGE, errno.ENOSPC, errno.EOPNOTSUPP}

FIRMWARES = {
    "uma": lambda: Firmware.qemu(cores=2, threads=2, mem="4G"),
    "numa2": lambda: Firmware.qemu(cores=2, threads=1, cpus=1, mem="2G", maxmem="8G", slots=4,
                                   node_mem=["1G", "1G"], node_cpus=[[0], [1]]),
    "numa3": lambda: Firmware.qemu(cores=3, mem="3G", maxmem="8G", slots=4, node_mem=["1G", "1G", "1G"],
                                   node_cpus=[[0], [1], [2]],
                                   distances=[[10, 21, 31], [21, 10, 21], [31, 21, 10]]),
    "synthetic": lambda: Firmware.synthetic("node:2 package:1 core:2 pu:2", mem_per_node="1G", maxmem="8G"),
}
_FW_CACHE: dict[str, str] = {}


def _fw(name: str) -> str:
    if name not in _FW_CACHE:
        _FW_CACHE[name] = FIRMWARES[name]().to_json()
    return _FW_CACHE[name]


cmdline_st = st.tuples(
    st.sampled_from(["", "mem=2G", "mem=3G"]),
    st.sampled_from(["", "numa=possible=2", "numa=possible=4"]),
    st.sampled_from(["", "cpu_hpe=on"]),
    st.sampled_from(["", "maxcpus=1", "maxcpus=2"]),
    st.sampled_from(["", "movable_node"]),
    st.sampled_from(["", "memhp_default_state=online", "memhp_default_state=online_movable",
                     "memhp_default_state=online_kernel", "memhp_default_state=offline"]),
).map(lambda t: " ".join(x for x in t if x))

addr_st = st.sampled_from([2 * G, 3 * G, 4 * G, 4 * G + M128, 5 * G, 6 * G, 2 * G + (64 << 20), 1 << 46, 0])
size_st = st.sampled_from([M128, 2 * M128, 4 * M128, 100 << 20, 0])
state_st = st.sampled_from(["online", "offline", "online_kernel", "online_movable", "bogus", "online\n",
                            "offline\n", ""])


WMARK = ("min ", "low ", "high ", "protection:")


def _snap(m: numa_hpe.Machine, loose: bool = False) -> tuple[dict[str, str], dict[str, str]]:
    """Files and links. ``loose``: without zone watermarks -- an ACPI eject that fails
    re-onlines the blocks it had offlined, and the kernel recomputes the watermarks from the
    current managed counts then (the boot values were computed before free_initmem), so they
    legitimately move (docs/reliability.md)."""
    s = m.snapshot()
    files = s["files"]
    if loose:
        files = dict(files)
        files["/proc/zoneinfo"] = "\n".join(
            x for x in files["/proc/zoneinfo"].splitlines() if not x.strip().startswith(WMARK))
    return files, s["links"]


class HotplugMachine(RuleBasedStateMachine):
    m: numa_hpe.Machine

    def __init__(self) -> None:
        super().__init__()
        self.booted = False

    @initialize(fw=st.sampled_from(sorted(FIRMWARES)), cmdline=cmdline_st)
    def boot(self, fw: str, cmdline: str) -> None:
        self.m = numa_hpe.Machine(_fw(fw), cmdline=cmdline)
        self.movable_node = "movable_node" in cmdline
        self.booted = True
        self.dmesg_len = 0
        self.before_mem = self.before_cpu = set()

    # -- the operation wrapper: atomic on failure, allowed errnos only -----------------------
    def _do(self, fn, *args) -> bool:  # type: ignore[no-untyped-def]
        nm = inv.node_masks(self.m)
        self.before_mem = nm["has_memory"]
        self.before_cpu = nm["has_cpu"]
        self.dmesg_len = len(self.m.dmesg())
        loose = fn == self.m.remove_memory
        before = _snap(self.m, loose)
        what = args[0].rsplit("/", 1)[-1] if fn == self.m.write else fn.__name__
        try:
            fn(*args)
        except OSError as e:
            event(f"{what}: {errno.errorcode.get(e.errno or 0)}")
            assert e.errno in ALLOWED, f"{fn.__name__}{args}: unexpected errno {e}"
            after = _snap(self.m, loose)
            assert after == before, f"{fn.__name__}{args} failed ({e}) but changed " + _diff(before, after)
            return False
        event(f"{what}: ok")
        return True

    def _blocks(self) -> list[int]:
        return sorted(inv.blocks(self.m))

    # -- memory ------------------------------------------------------------------------------
    @rule(start=addr_st, size=size_st)
    def add_node(self, start: int, size: int) -> None:
        self._do(self.m.write, f"{DBG}/add_node", f"{size}@{start:#x}\n")

    @rule(node=st.integers(0, 4), start=addr_st)
    def node_add_memory(self, node: int, start: int) -> None:
        self._do(self.m.write, f"{DBG}/node{node}/add_memory", f"{start:#x}\n")

    @rule(start=addr_st)
    def memory_probe(self, start: int) -> None:
        self._do(self.m.write, f"{SYS}/memory/probe", f"{start:#x}\n")

    @rule(start=addr_st, size=size_st, pxm=st.sampled_from([None, 0, 1, 2, 7]))
    def firmware_add_memory(self, start: int, size: int, pxm: int | None) -> None:
        self._do(self.m.add_memory, start, size, pxm)

    @rule(start=addr_st, size=size_st)
    def firmware_remove_memory(self, start: int, size: int) -> None:
        self._do(self.m.remove_memory, start, size)

    @rule(start=addr_st, size=size_st)
    def remove_memory_range(self, start: int, size: int) -> None:
        self._do(self.m.remove_memory_range, start, size)

    @rule(data=st.data(), value=state_st)
    def block_state(self, data: st.DataObject, value: str) -> None:
        ids = self._blocks()
        b = data.draw(st.sampled_from(ids)) if ids else 0
        self._do(self.m.write, f"{SYS}/memory/memory{b}/state", value)

    @rule(data=st.data(), value=st.sampled_from(["0", "1", "y", "n", "x", "1\n"]))
    def block_online(self, data: st.DataObject, value: str) -> None:
        ids = self._blocks()
        b = data.draw(st.sampled_from(ids)) if ids else 0
        self._do(self.m.write, f"{SYS}/memory/memory{b}/online", value)

    @rule(value=st.sampled_from(["online", "offline", "online_movable", "online_kernel", "x"]))
    def auto_online(self, value: str) -> None:
        self._do(self.m.write, f"{SYS}/memory/auto_online_blocks", value)

    # -- CPUs --------------------------------------------------------------------------------
    @rule(apic=st.integers(0, 8), pxm=st.sampled_from([None, 0, 1, 2]))
    def firmware_add_cpu(self, apic: int, pxm: int | None) -> None:
        self._do(self.m.add_cpu, apic, pxm)

    @rule(apic=st.integers(0, 8))
    def firmware_remove_cpu(self, apic: int) -> None:
        self._do(self.m.remove_cpu, apic)

    @rule(node=st.sampled_from(["0", "1", "2", "3", "9", "x"]), nl=st.booleans())
    def cpu_probe(self, node: str, nl: bool) -> None:
        self._do(self.m.write, f"{SYS}/cpu/probe", node + ("\n" if nl else ""))

    @rule(cpu=st.integers(0, 5))
    def cpu_release(self, cpu: int) -> None:
        self._do(self.m.write, f"{SYS}/cpu/release", f"{cpu}\n")

    @rule(cpu=st.integers(0, 5), value=st.sampled_from(["0", "1", "0\n", "1\n", "2"]))
    def cpu_online(self, cpu: int, value: str) -> None:
        self._do(self.m.write, f"{SYS}/cpu/cpu{cpu}/online", value)

    # -- invariants --------------------------------------------------------------------------
    @invariant()
    def machine_invariants(self) -> None:
        if not self.booted:
            return
        inv.check(self.m)
        log = self.m.dmesg()
        group = inv.last_fallback_group(log[self.dmesg_len:])
        if group:
            nm = inv.node_masks(self.m)
            inv.check_zonelists(self.m, group,
                                [nm["has_memory"], self.before_mem, nm["has_memory"] | self.before_mem],
                                [nm["has_cpu"], self.before_cpu])
        self.dmesg_len = len(log)


def _diff(a: tuple[dict[str, str], dict[str, str]], b: tuple[dict[str, str], dict[str, str]]) -> str:
    out = []
    for x, y in zip(a, b):
        for k in sorted(set(x) | set(y)):
            if x.get(k) != y.get(k):
                out.append(f"{k}: {x.get(k)!r} -> {y.get(k)!r}")
    return "; ".join(out[:8])


HotplugMachine.TestCase.settings = settings(
    max_examples=EXAMPLES,
    stateful_step_count=STEPS,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    derandomize=PROFILE == "ci",
)
TestHotplug = HotplugMachine.TestCase
