"""Differential tests (issue 6 §2): the emulator, driven through its public surface, against the
slow literal references of tests/reference.py on random inputs.

* e820 sanitize (algorithms.md §1.2): ``memmap=exactmap,...`` / firmware e820 + ``memmap=``
  items, compared with the ``user:`` lines of ``user-defined physical RAM map:``;
* zonelists (§6): random SLIT tables and memoryless nodes in ``Firmware.qemu``, compared with
  the boot ``Fallback order for Node`` lines;
* zone selection for onlining (§3.4): random online/offline sequences, ``valid_zones`` of every
  offline block and the zone each online type lands in."""

from __future__ import annotations

import json
import re

import reference as ref
from hypothesis import assume, given
from hypothesis import strategies as st

import numa_hpe
from invariants import SYS, cpulist, distance, last_fallback_group, node_masks, zoneinfo
from numa_hpe import Firmware

USER = re.compile(r"user: \[mem 0x([0-9a-f]{16})-0x([0-9a-f]{16})\] (.*)$")
SEP = {1: "@", 3: "#", 2: "$", 12: "!"}
K64 = 1 << 16


def _user_map(m: numa_hpe.Machine) -> list[tuple[int, int, int]]:
    log = m.dmesg()
    i = max(j for j, line in enumerate(log) if line.endswith("user-defined physical RAM map:"))
    out = []
    for line in log[i + 1:]:
        mo = USER.search(line)
        if not mo:
            break
        a, e = int(mo.group(1), 16), int(mo.group(2), 16)
        out.append((a, e - a + 1, mo.group(3)))
    return out


entry_st = st.tuples(st.integers(0, 0x10000 - 1).map(lambda x: x * K64),   # start below 4 GiB
                     st.integers(1, 0x4000).map(lambda x: x * K64),          # up to 1 GiB
                     st.sampled_from(sorted(SEP)))


@given(st.lists(entry_st, min_size=0, max_size=12))
def test_e820_exactmap_sanitize(items: list[tuple[int, int, int]]) -> None:
    # a RAM base so every map boots; the random items override it where their type is higher
    entries = [(0, 1 << 31, 1), *items]
    cmd = "memmap=exactmap," + ",".join(f"{s:#x}{SEP[t]}{a:#x}" for a, s, t in entries)
    expected = ref.e820_sanitize(entries)
    m = numa_hpe.Machine(Firmware.qemu(cores=1, mem="2G"), cmdline=cmd)
    if expected is None:  # e820__update_table refuses a one-entry map: the kernel panics
        assert "Kernel panic - not syncing: Invalid user supplied memory map" in m.dmesg()
        return
    assert _user_map(m) == [(a, s, ref.e820_type_name(t)) for a, s, t in expected]


@given(st.lists(entry_st, min_size=1, max_size=8))
def test_e820_firmware_plus_memmap(items: list[tuple[int, int, int]]) -> None:
    fw = Firmware.qemu(cores=1, mem="3G")
    names = {v: k for k, v in ref.E820_NAMES.items() if k != 128}
    base = [(e["start"], e["end"] - e["start"] + 1, names[e["type"]]) for e in fw.e820]
    cmd = "memmap=" + ",".join(f"{s:#x}{SEP[t]}{a:#x}" for a, s, t in items)
    expected = ref.e820_sanitize(ref.e820_sanitize(base) + items)  # type: ignore[operator]
    assert expected is not None
    m = numa_hpe.Machine(fw, cmdline=cmd)
    assert _user_map(m) == [(a, s, ref.e820_type_name(t)) for a, s, t in expected]


@st.composite
def slit_firmware(draw: st.DrawFn, cpuless: bool = False) -> tuple[Firmware, list[list[int]]]:
    """Random SLIT and memoryless nodes, one CPU per node (``cpuless``: some nodes have none)."""
    n = draw(st.integers(2, 6))
    mem = [draw(st.sampled_from([0, 256, 512])) for _ in range(n)]
    if not any(mem):
        mem[0] = 512
    d = [[10 if i == j else draw(st.integers(11, 60)) for j in range(n)] for i in range(n)]
    if draw(st.booleans()):  # symmetric tables are the common case
        d = [[d[min(i, j)][max(i, j)] for j in range(n)] for i in range(n)]
    has_cpu = [True] * n
    if cpuless:
        has_cpu = [draw(st.booleans()) for _ in range(n)]
        has_cpu[draw(st.integers(0, n - 1))] = True
    cpu_ids = [sum(has_cpu[:i]) for i in range(n)]
    node_cpus = [[cpu_ids[i]] if has_cpu[i] else [] for i in range(n)]
    fw = Firmware.qemu(cores=sum(has_cpu), mem=f"{sum(mem)}M", node_mem=[f"{x}M" for x in mem],
                       node_cpus=node_cpus, distances=d)
    return fw, d


@given(slit_firmware(), st.sampled_from(["", "numa=possible=2"]))
def test_zonelists_boot_order(fw_d: tuple[Firmware, list[list[int]]], cmdline: str) -> None:
    fw, _ = fw_d
    m = numa_hpe.Machine(fw, cmdline=cmdline)
    log = m.dmesg()
    first = next(i for i, line in enumerate(log) if "Fallback order for Node" in line)
    end = next(i for i in range(first, len(log)) if "Fallback order" not in log[i])
    group = last_fallback_group(log[:end])
    assert group is not None
    dm = m.distance_matrix()

    def dist(a: int, b: int) -> int:
        return int(dm[a][b]) if a < len(dm) and b < len(dm) else (10 if a == b else 20)

    memory = cpulist(m.read(f"{SYS}/node/has_memory"))
    possible = sorted(cpulist(m.read(f"{SYS}/node/possible")))
    assert list(group) == possible
    # the boot pass runs before any CPU is brought up: no node counts as having CPUs
    assert group == ref.build_zonelists_pass(possible, memory, set(), dist)


@given(slit_firmware(cpuless=True))
def test_zonelists_rebuild_order_and_log_round_trip(fw_d: tuple[Firmware, list[list[int]]]) -> None:
    """``rebuild_zonelists`` after boot (CPU-less nodes rank first now), twice (an unchanged
    pass): both groups equal the reference; the log reads the same after save / load and
    fork, and the snapshot holds it as plain text lines."""
    fw, _ = fw_d
    m = numa_hpe.Machine(fw)
    before = len(m.dmesg())
    m.rebuild_zonelists()
    first = m.dmesg()[before:]
    m.rebuild_zonelists()
    log = m.dmesg()
    assert log[len(log) - len(first):] == first
    masks = node_masks(m)
    possible, cpus = sorted(masks["possible"]), masks["has_cpu"]
    memory = cpulist(m.read(f"{SYS}/node/has_memory"))
    assert last_fallback_group(log) == ref.build_zonelists_pass(possible, memory, cpus, distance(m))
    data = m.save()
    assert numa_hpe.Machine.load(data).dmesg() == log
    assert m.fork().dmesg() == log
    assert json.loads(data[data.index(b"\n") + 1:])["dmesg"] == log
    # The tail reads format only what they return, and agree with the whole log.
    assert m.dmesg_len() == len(log)
    for since in (0, before, len(log) - 1, len(log), len(log) + 5):
        assert m.dmesg(since=since) == log[since:]


def _spans(m: numa_hpe.Machine, nid: int) -> dict[str, tuple[int, int]] | None:
    spans = {}
    for z in zoneinfo(m):
        if z["node"] != nid or not z.get("spanned"):
            continue
        if z["start_pfn"] is None:  # spanned but unpopulated: zoneinfo hides the start
            return None
        spans[z["name"]] = (z["start_pfn"], z["spanned"])
    return spans


@given(movable_node=st.booleans(), mem=st.sampled_from(["", "mem=1G", "mem=1536M"]),
       ops=st.lists(st.tuples(st.integers(0, 11), st.sampled_from(
           ["online", "online_kernel", "online_movable", "offline"])), min_size=1, max_size=25))
def test_zone_selection(movable_node: bool, mem: str, ops: list[tuple[int, str]]) -> None:
    fw = Firmware.qemu(cores=2, mem="2G", maxmem="8G", slots=2, node_mem=["1G", "1G"], node_cpus=[[0], [1]])
    m = numa_hpe.Machine(fw, cmdline=" ".join(x for x in (mem, "movable_node" if movable_node else "") if x))
    bsz = int(m.read(f"{SYS}/memory/block_size_bytes"), 16)
    bp = bsz >> 12
    # offline blocks: hot-added ones on both nodes (adjacent and detached), plus boot blocks
    for start, node in ((4 << 30, 0), ((4 << 30) + bsz, 0), (5 << 30, 1), ((5 << 30) + 2 * bsz, 1)):
        m.hot_add_memory(start, bsz, node)
    ids = sorted(b.block for b in m.memory_blocks())
    for k, action in ops:
        b = ids[k % len(ids)]
        d = f"{SYS}/memory/memory{b}"
        state = m.read(f"{d}/state").strip()
        nid = next(int(e[4:]) for e in m.listdir(d) if e.startswith("node"))
        if state == "offline":
            spans = _spans(m, nid)
            if spans is not None:
                assert m.read(f"{d}/valid_zones").strip() == ref.valid_zones_offline(spans, b * bp, bp, movable_node)
            if action == "offline":
                continue
            want = ref.zone_for(action, spans, b * bp, bp, movable_node) if spans is not None else None
            try:
                m.write(f"{d}/state", action)
            except OSError:
                continue
            if want is not None:
                assert m.read(f"{d}/valid_zones").strip() == want, (b, action, spans)
        elif action == "offline":
            try:
                m.write(f"{d}/state", "offline")
            except OSError:
                pass
    assume(True)
