"""Machine-wide invariants shared by the stateful, concurrency and fuzz tests.

Every check reads the machine only through its public file surface (``read``/``listdir``/
``readlink``/``dmesg``), so a violation is something a shell on the guest could see."""

from __future__ import annotations

import re
from typing import Any

import reference as ref

SYS = "/sys/devices/system"
FALLBACK = re.compile(r"Fallback order for Node (\d+): ((?:\d+ )*)$")


def cpulist(text: str) -> set[int]:
    out: set[int] = set()
    for part in text.strip().split(","):
        if part:
            a, _, b = part.partition("-")
            out.update(range(int(a), int(b or a) + 1))
    return out


def node_masks(m: Any) -> dict[str, set[int]]:
    return {k: cpulist(m.read(f"{SYS}/node/{k}"))
            for k in ("possible", "online", "has_memory", "has_normal_memory", "has_cpu")}


def cpu_masks(m: Any) -> dict[str, set[int]]:
    return {k: cpulist(m.read(f"{SYS}/cpu/{k}")) for k in ("possible", "present", "online")}


def zoneinfo(m: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for line in m.read("/proc/zoneinfo").splitlines():
        if line.startswith("Node "):
            p = line.replace(",", "").split()
            out.append({"node": int(p[1]), "name": p[3], "start_pfn": None})
            continue
        f = line.split()
        if out and len(f) == 2 and f[0] in ("spanned", "present", "managed", "start_pfn:"):
            out[-1][f[0].rstrip(":")] = int(f[1])
    return out


def meminfo_kb(text: str, key: str) -> int:
    for line in text.splitlines():
        f = line.split()
        if key + ":" in f:
            return int(f[f.index(key + ":") + 1])
    raise AssertionError(f"{key} missing")


def blocks(m: Any) -> dict[int, tuple[str, list[int]]]:
    """block id -> (state, node links)."""
    out = {}
    for e in m.listdir(f"{SYS}/memory"):
        if e.startswith("memory") and e[6:].isdigit():
            d = f"{SYS}/memory/{e}"
            links = sorted(int(x[4:]) for x in m.listdir(d) if x.startswith("node") and x[4:].isdigit())
            out[int(e[6:])] = (m.read(f"{d}/state").strip(), links)
    return out


def last_fallback_group(lines: list[str]) -> dict[int, list[int]] | None:
    """The ``Fallback order`` lines of the last zonelist rebuild in ``lines``."""
    group: dict[int, list[int]] = {}
    for line in reversed(lines):
        mo = FALLBACK.search(line)
        if mo:
            group[int(mo.group(1))] = [int(x) for x in mo.group(2).split()]
        elif group:
            break
    return dict(sorted(group.items())) or None


def distance(m: Any) -> Any:
    d = m.distance_matrix()
    return lambda a, b: int(d[a][b]) if a < len(d) and b < len(d) else (10 if a == b else 20)


def check_zonelists(m: Any, group: dict[int, list[int]], memory_sets: list[set[int]],
                    cpu_sets: list[set[int]]) -> None:
    """``group`` is exactly what one kernel pass prints for one of the candidate states
    (the rebuild can happen mid-operation, before or after the node states change)."""
    dist = distance(m)
    possible = node_masks(m)["possible"]
    locals_ = list(group)
    assert set(locals_) == possible or len(locals_) == 1, f"rebuild printed nodes {locals_}"
    for mem in memory_sets:
        for cpus in cpu_sets:
            if ref.build_zonelists_pass(locals_, mem, cpus, dist) == group:
                return
    raise AssertionError(f"zonelists {group} match no reference for memory {memory_sets} cpus {cpu_sets}")


def check(m: Any, movable_node: bool | None = None) -> None:
    """All state invariants (issue 6 §1)."""
    nm = node_masks(m)
    assert nm["online"] <= nm["possible"], nm
    assert nm["has_memory"] <= nm["online"], nm
    assert nm["has_cpu"] <= nm["online"], nm
    assert nm["has_normal_memory"] <= nm["has_memory"], nm
    cm = cpu_masks(m)
    assert cm["online"] <= cm["present"] <= cm["possible"], cm
    # node directories: exactly the online nodes
    ndirs = {int(e[4:]) for e in m.listdir(f"{SYS}/node") if e.startswith("node") and e[4:].isdigit()}
    assert ndirs == nm["online"], (ndirs, nm["online"])
    # blocks: one reciprocal node link each; has_memory <=> an online block on the node
    bl = blocks(m)
    with_online = set()
    for b, (state, links) in bl.items():
        assert state in ("online", "offline"), (b, state)
        assert len(links) == 1, f"memory{b} links {links}"
        n = links[0]
        assert m.readlink(f"{SYS}/memory/memory{b}/node{n}").endswith(f"node/node{n}")
        assert m.stat(f"{SYS}/node/node{n}/memory{b}") == "link", f"node{n}/memory{b} missing"
        if state == "online":
            with_online.add(n)
    for n in nm["online"]:
        for e in m.listdir(f"{SYS}/node/node{n}"):
            if e.startswith("memory") and e[6:].isdigit():
                assert n in bl.get(int(e[6:]), ("", []))[1], f"node{n}/{e} has no reverse link"
    assert with_online == nm["has_memory"], (with_online, nm["has_memory"])
    # page sums: machine and node MemTotal = 4 x managed pages of /proc/zoneinfo
    zi = zoneinfo(m)
    total = sum(z.get("managed", 0) for z in zi)
    assert meminfo_kb(m.read("/proc/meminfo"), "MemTotal") == 4 * total
    for n in nm["online"]:
        node_total = sum(z.get("managed", 0) for z in zi if z["node"] == n)
        assert meminfo_kb(m.read(f"{SYS}/node/node{n}/meminfo"), "MemTotal") == 4 * node_total, n
        normal = any(z.get("managed", 0) for z in zi if z["node"] == n and z["name"] != "Movable")
        assert (n in nm["has_normal_memory"]) == normal, (n, nm)
    for z in zi:
        assert z.get("managed", 0) <= z.get("present", 0) <= z.get("spanned", 0), z
    # CPUs: node cpulists partition the online CPUs; has_cpu = nodes with online CPUs
    seen: set[int] = set()
    for n in nm["online"]:
        cl = cpulist(m.read(f"{SYS}/node/node{n}/cpulist"))
        assert not (cl & seen), (n, cl, seen)
        seen |= cl
        assert (n in nm["has_cpu"]) == bool(cl), (n, cl, nm["has_cpu"])
    assert seen == cm["online"], (seen, cm["online"])
    # sched domains (debugfs): an online CPU has domain dirs iff another CPU is online
    sd = "/sys/kernel/debug/sched/domains"
    if m.stat(sd) == "dir":
        for c in cm["online"]:
            doms = m.listdir(f"{sd}/cpu{c}") if m.stat(f"{sd}/cpu{c}") == "dir" else []
            if len(cm["online"]) == 1:
                assert doms == [], (c, doms)
            for dname in doms:
                assert m.read(f"{sd}/cpu{c}/{dname}/name").strip(), (c, dname)
