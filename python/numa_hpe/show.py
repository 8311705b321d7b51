"""``numa-hpe show``: an lstopo-like picture of an emulated machine, as a terminal tree or JSON.

The summary (:func:`summary`) is built from the same files a tool on the guest would read
(node masks, ``cpuN/topology``, ``memoryN/{state,valid_zones}``), through the typed views of
:class:`~numa_hpe.Machine`.
"""

from __future__ import annotations

from typing import Any

from .machine import Machine

MiB = 1 << 20


def _fmt_bytes(n: int) -> str:
    if n >= 1 << 30:
        return f"{n / (1 << 30):g} GiB"
    return f"{n / MiB:g} MiB"


def _list(ids: list[int]) -> str:
    """``%*pbl``-style list: ``0-3,8``."""
    out: list[str] = []
    start = prev = None
    for i in sorted(ids):
        if prev is not None and i == prev + 1:
            prev = i
            continue
        if start is not None:
            out.append(f"{start}" if start == prev else f"{start}-{prev}")
        start = prev = i
    if start is not None:
        out.append(f"{start}" if start == prev else f"{start}-{prev}")
    return ",".join(out)


def memory_ranges(m: Machine) -> list[dict[str, Any]]:
    """Memory blocks merged into ranges of equal node, state and zones (ascending address)."""
    out: list[dict[str, Any]] = []
    for b in m.memory_blocks():
        node = b.nodes[0] if b.nodes else None
        last = out[-1] if out else None
        if (last and last["node"] == node and last["state"] == b.state
                and last["zones"] == b.valid_zones and last["end"] + 1 == b.start):
            last["end"] = b.start + b.size - 1
            last["last_block"] = b.block
            continue
        out.append({"start": b.start, "end": b.start + b.size - 1, "node": node,
                    "state": b.state, "zones": b.valid_zones, "first_block": b.block,
                    "last_block": b.block})
    for r in out:
        r["size"] = r["end"] - r["start"] + 1
    return out


def summary(m: Machine) -> dict[str, Any]:
    """Nodes, packages, cores, CPUs and memory ranges of ``m`` as plain data (JSON-ready)."""
    cpus = m.cpus()
    ranges = memory_ranges(m)
    nodes = []
    for n in m.nodes():
        mine = [c for c in cpus if c.node == n.nid]
        packages: dict[int, dict[int, list[dict[str, Any]]]] = {}
        unplaced = []
        for c in mine:
            entry = {"cpu": c.cpu, "online": c.online}
            if c.package is None or c.core is None:
                unplaced.append(entry)
            else:
                packages.setdefault(c.package, {}).setdefault(c.core, []).append(entry)
        nodes.append({
            "node": n.nid,
            "online": n.online,
            "has_memory": n.has_memory,
            "has_normal_memory": n.has_normal_memory,
            "mem_total_kb": n.mem_total_kb,
            "cpus": [c.cpu for c in mine],
            "packages": [
                {"package": p, "cores": [{"core": k, "cpus": v} for k, v in sorted(cores.items())]}
                for p, cores in sorted(packages.items())
            ],
            "offline_cpus": unplaced,
            "memory": [r for r in ranges if r["node"] == n.nid],
        })
    return {
        "cmdline": m.cmdline,
        "cpus": {
            "possible": [c.cpu for c in cpus],
            "present": [c.cpu for c in cpus if c.present],
            "online": [c.cpu for c in cpus if c.online],
            "unregistered": [c.cpu for c in cpus if c.present and c.node is None],
        },
        "nodes": nodes,
        "memory_online_bytes": sum(r["size"] for r in ranges if r["state"] == "online"),
        "memory_bytes": sum(r["size"] for r in ranges),
    }


def render(s: dict[str, Any], ascii_only: bool = False) -> str:
    """The summary as an indented tree (box-drawing characters unless ``ascii_only``)."""
    tee, last, pipe, blank = ("|-- ", "`-- ", "|   ", "    ") if ascii_only else ("├── ", "└── ", "│   ", "    ")
    lines: list[str] = []
    c = s["cpus"]
    online_nodes = [n["node"] for n in s["nodes"] if n["online"]]
    lines.append(
        f"Machine ({_fmt_bytes(s['memory_online_bytes'])} online of {_fmt_bytes(s['memory_bytes'])};"
        f" CPUs online {_list(c['online'])} present {_list(c['present'])}"
        f" possible {_list(c['possible'])}; nodes online {_list(online_nodes)}"
        f" possible {_list([n['node'] for n in s['nodes']])})"
    )

    def emit(children: list[tuple[str, list[Any]]], prefix: str) -> None:
        for i, (text, sub) in enumerate(children):
            end = i == len(children) - 1
            lines.append(prefix + (last if end else tee) + text)
            emit(sub, prefix + (blank if end else pipe))

    tree: list[tuple[str, list[Any]]] = []
    for n in s["nodes"]:
        if not n["online"]:
            tree.append((f"NUMANode P#{n['node']} (possible, offline)", []))
            continue
        kids: list[tuple[str, list[Any]]] = []
        for p in n["packages"]:
            cores: list[tuple[str, list[Any]]] = []
            for core in p["cores"]:
                cpus = ", ".join(f"PU P#{x['cpu']} ({'online' if x['online'] else 'offline'})"
                                 for x in core["cpus"])
                cores.append((f"Core P#{core['core']}: {cpus}", []))
            kids.append((f"Package P#{p['package']}", cores))
        for x in n["offline_cpus"]:
            kids.append((f"PU P#{x['cpu']} ({'online' if x['online'] else 'offline'}, no topology)", []))
        mem: list[tuple[str, list[Any]]] = []
        for r in n["memory"]:
            blocks = (f"memory{r['first_block']}" if r["first_block"] == r["last_block"]
                      else f"memory{r['first_block']}-{r['last_block']}")
            zone = f"zone {r['zones']}" if r["state"] == "online" else f"valid_zones {r['zones']}"
            mem.append((f"[mem {r['start']:#018x}-{r['end']:#018x}] {_fmt_bytes(r['size'])}"
                        f" {blocks} {r['state']} {zone}", []))
        if mem:
            kids.append(("Memory", mem))
        flags = [f for f, on in (("memory", n["has_memory"]), ("normal", n["has_normal_memory"])) if on]
        text = (f"NUMANode P#{n['node']} (online, MemTotal {n['mem_total_kb'] // 1024} MiB"
                f", cpus {_list(n['cpus']) or 'none'}" + (f", has {'+'.join(flags)}" if flags else "") + ")")
        tree.append((text, kids))
    if c["unregistered"]:
        tree.append((f"Present CPUs without a device: {_list(c['unregistered'])}", []))
    emit(tree, "")
    return "\n".join(lines) + "\n"
