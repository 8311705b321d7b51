"""Topology in and out: hwloc synthetic strings, QEMU command lines and a host's own ``/sys``.

* :func:`parse_synthetic` / :func:`to_synthetic`: hwloc synthetic descriptions, a documented
  subset (see :func:`parse_synthetic`).
* :func:`parse_qemu_args` / :func:`qemu_args`: QEMU 7.2 ``pc`` options <-> firmware; for a
  firmware built by :meth:`Firmware.qemu`, ``Firmware.qemu(**parse_qemu_args(qemu_args(fw)))``
  gives ``fw`` back.
* :func:`from_sysfs`: firmware facts read from a Linux ``/sys`` tree (this host's, or an exported
  one), as a QEMU-shaped :class:`Firmware`.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Sequence

from .errors import InvalidDescriptionError
from .firmware import GiB, MiB, Firmware, parse_size

_LEVEL = {
    "machine": None, "node": "node", "numa": "node", "numanode": "node",
    "package": "package", "pack": "package", "socket": "package", "sock": "package",
    "die": "die", "core": "core", "pu": "pu", "thread": "pu",
}
_CACHE = re.compile(r"l[1-5][diu]?(cache)?|cache|group|l[1-5]i", re.IGNORECASE)
_TOKEN = re.compile(r"([A-Za-z][A-Za-z0-9]*):(\d+)(?:\((.*)\))?")


def _hwloc_size(text: str) -> int:
    """hwloc sizes (``2GB``, ``512MB``, ``4096kB``, powers of 1024) and plain ``2G``/bytes."""
    m = re.fullmatch(r"\s*(\d+)\s*([kKmMgGtT]?)(i?[bB])?\s*", text)
    if not m:
        raise InvalidDescriptionError(f"topology: bad memory size {text!r}")
    return parse_size(m.group(1) + m.group(2).upper())


def parse_synthetic(text: str, mem_per_node: int | str = GiB) -> Firmware:
    """An hwloc synthetic string -> :class:`Firmware` (``Firmware.synthetic`` underneath).

    Subset understood:

    * levels ``TYPE:N`` outermost first; TYPE is ``machine``, ``numa``/``numanode``/``node``,
      ``package``/``pack``/``socket``, ``die``, ``core``, ``pu``/``thread`` (case-insensitive);
      cache and group levels of arity 1 (``l3:1``) are accepted and ignored.
    * hwloc's level attribute ``(memory=SIZE)`` on the NUMA level (``numa:2(memory=2GB)``):
      memory per node (hwloc units kB/MB/GB/TB are powers of 1024; default ``mem_per_node``).
    * numa_hpe extensions, as ``key=value`` words after the levels: ``distances=10,20,20,10``
      (the SLIT row-major, or ``distances=10:20`` for local:remote), ``cpus=N`` (CPUs present at
      boot), ``maxmem=SIZE`` and ``slots=N`` (a memory hotplug window, as QEMU ``-m``).
    """
    levels: list[str] = []
    mem: int | None = None
    kw: dict[str, Any] = {}
    dist_words: list[int] | None = None
    for tok in text.split():
        if "=" in tok and ":" not in tok.split("=", 1)[0] and "(" not in tok:
            key, _, val = tok.partition("=")
            if key == "distances":
                dist_words = [int(x) for x in re.split(r"[,:]", val) if x]
                if ":" in val and len(dist_words) == 2:
                    dist_words = [-dist_words[0], dist_words[1]]  # local:remote marker
            elif key == "cpus":
                kw["present_cpus"] = int(val)
            elif key == "maxmem":
                kw["maxmem"] = val
            elif key == "slots":
                kw["slots"] = int(val)
            else:
                raise InvalidDescriptionError(f"topology: unknown option {key!r}")
            continue
        m = _TOKEN.fullmatch(tok)
        if not m:
            raise InvalidDescriptionError(f"topology: bad level {tok!r} (expected type:count)")
        name, count, attrs = m.group(1).lower(), int(m.group(2)), m.group(3)
        if _CACHE.fullmatch(name) or name == "machine":
            if count != 1:
                raise InvalidDescriptionError(f"topology: level {name!r} must have arity 1 here")
            continue
        level = _LEVEL.get(name)
        if level is None:
            raise InvalidDescriptionError(f"topology: unknown level {m.group(1)!r}")
        for attr in filter(None, (attrs or "").split(",")):
            key, _, val = attr.partition("=")
            if key == "memory" and level == "node":
                mem = _hwloc_size(val)
            elif key != "indexes":
                raise InvalidDescriptionError(f"topology: unsupported attribute {attr!r}")
        levels.append(f"{level}:{count}")
    if not levels:
        raise InvalidDescriptionError("topology: no level given")
    if dist_words is not None:
        if len(dist_words) == 2 and dist_words[0] < 0:
            local, remote = -dist_words[0], dist_words[1]
            kw["distance"] = lambda i, j: local if i == j else remote
        else:
            n = int(round(len(dist_words) ** 0.5))
            if n * n != len(dist_words):
                raise InvalidDescriptionError("topology: distances need n*n values")
            kw["distance"] = [dist_words[i * n:(i + 1) * n] for i in range(n)]
    try:
        fw = Firmware.synthetic(" ".join(levels), mem_per_node=mem or mem_per_node, **kw)
    except InvalidDescriptionError as e:
        if str(e).startswith("topology"):
            raise
        raise InvalidDescriptionError(f"topology: {e}") from None
    nodes = len(fw.distances) if fw.distances else 1
    if isinstance(kw.get("distance"), list) and len(kw["distance"]) != nodes:
        raise InvalidDescriptionError(f"topology: distances need a {nodes}x{nodes} matrix")
    return fw


def _fmt_size(n: int) -> str:
    for unit, shift in (("T", 40), ("G", 30), ("M", 20), ("K", 10)):
        if n and n % (1 << shift) == 0:
            return f"{n >> shift}{unit}"
    return str(n)


def to_synthetic(fw: Firmware) -> str:
    """An hwloc synthetic string for a regular firmware (whole packages per node, or nodes
    splitting packages evenly), with ``(memory=...)`` and the ``distances=`` extension."""
    q = _qemu_shape(fw)
    nodes = max(len(q["node_mem"]), 1)
    mem = q["node_mem"][0] if q["node_mem"] else q["ram"]
    if q["node_mem"] and len(set(q["node_mem"])) != 1:
        raise InvalidDescriptionError("synthetic: nodes of different memory sizes")
    sockets = q["sockets"]
    per_node = {(c["package"], c["node"]) for c in fw.cpus}
    numa = f"numa:{{}}(memory={_fmt_size(mem).replace('K', 'k')}B)"
    if nodes == 1:
        parts = [numa.format(1), f"package:{sockets}"]
    elif sockets % nodes == 0 and len(per_node) == sockets:
        parts = [numa.format(nodes), f"package:{sockets // nodes}"]
    elif nodes % sockets == 0 and q["cores"] % (nodes // sockets) == 0 and q["dies"] == 1:
        parts = [f"package:{sockets}", numa.format(nodes // sockets)]
        q["cores"] //= nodes // sockets
    else:
        raise InvalidDescriptionError("synthetic: nodes do not nest with packages")
    if q["dies"] > 1:
        parts.append(f"die:{q['dies']}")
    parts += [f"core:{q['cores']}", f"pu:{q['threads']}"]
    if fw.distances:
        parts.append("distances=" + ",".join(str(v) for row in fw.distances for v in row))
    if q["present"] != len(fw.cpus):
        parts.append(f"cpus={q['present']}")
    if q.get("maxmem"):
        parts += [f"maxmem={q['maxmem']}", f"slots={q['slots']}"]
    return " ".join(parts)


# -- QEMU ----------------------------------------------------------------------------------
def _kv(spec: str) -> tuple[str, list[tuple[str, str]]]:
    head, *rest = spec.split(",")
    return head, [(i.split("=", 1)[0], i.split("=", 1)[1] if "=" in i else "") for i in rest]


def _cpu_range(text: str) -> list[int]:
    a, _, b = text.partition("-")
    return list(range(int(a), int(b or a) + 1))


def parse_qemu_args(args: Sequence[str]) -> dict[str, Any]:
    """QEMU 7.2 ``pc`` options -> :meth:`Firmware.qemu` keyword arguments.

    Understands ``-smp`` (hw/core/machine-smp.c rules for machine types >= 6.2: missing dies =
    1, cores preferred over sockets), ``-m SIZE[,slots=,maxmem=]``, ``-object
    memory-backend-*,id=,size=``, ``-numa node,nodeid=,memdev=,cpus=`` (``cpus=`` may repeat)
    and ``-numa dist,src=,dst=,val=`` (mirrored, 10 on the diagonal). Other options are ignored.
    """
    kw: dict[str, Any] = {}
    backends: dict[str, str] = {}
    nodes: dict[int, dict[str, Any]] = {}
    dist: dict[tuple[int, int], int] = {}
    i = 0
    args = list(args)
    while i < len(args):
        flag = args[i]
        val = args[i + 1] if i + 1 < len(args) and not args[i + 1].startswith("-") else None
        i += 2 if val is not None else 1
        if val is None:
            continue
        if flag == "-smp":
            first, *rest = val.split(",")
            o = dict(x.split("=", 1) for x in rest if "=" in x)
            if "=" in first:
                key, value = first.split("=", 1)
                o[key] = value
            else:
                o["cpus"] = first
            cpus = int(o.get("cpus", 0)) or None
            maxcpus = int(o.get("maxcpus", 0)) or cpus or 1
            s, d, c, t = (int(o[k]) if k in o else None for k in ("sockets", "dies", "cores", "threads"))
            d = d or 1
            if t is None and s is not None and c is not None:
                t = maxcpus // (s * d * c)
            s, t = s or 1, t or 1
            c = c or maxcpus // (s * d * t)
            kw.update(sockets=s, dies=d, cores=c, threads=t, cpus=cpus)
        elif flag == "-m":
            first, *rest = val.split(",")
            o = dict(x.split("=", 1) for x in rest if "=" in x)
            kw["mem"] = first.split("=", 1)[1] if first.startswith("size=") else first
            if "maxmem" in o:
                kw["maxmem"] = o["maxmem"]
            kw["slots"] = int(o.get("slots", 0))
        elif flag == "-object":
            kind, pairs = _kv(val)
            if kind.startswith("memory-backend"):
                d_o = dict(pairs)
                backends[d_o["id"]] = d_o["size"]
        elif flag == "-numa":
            kind, pairs = _kv(val)
            if kind == "node":
                d_o = dict(pairs)
                cpus_of = [c for k, v in pairs if k == "cpus" for c in _cpu_range(v)]
                nodes[int(d_o.get("nodeid", len(nodes)))] = {"memdev": d_o.get("memdev"),
                                                              "mem": d_o.get("mem"), "cpus": cpus_of}
            elif kind == "dist":
                d_o = dict(pairs)
                dist[(int(d_o["src"]), int(d_o["dst"]))] = int(d_o["val"])
    if nodes:
        n = max(nodes) + 1
        empty: dict[str, Any] = {"memdev": None, "mem": None, "cpus": []}
        kw["node_mem"] = [
            backends[nd["memdev"]] if nd["memdev"] else (nd["mem"] or 0)
            for nd in (nodes.get(i, empty) for i in range(n))
        ]
        kw["node_cpus"] = [nodes.get(i, empty)["cpus"] for i in range(n)]
        if dist:
            m = [[10 if i == j else 20 for j in range(n)] for i in range(n)]
            for (a, b), v in dist.items():
                m[a][b] = v
                if (b, a) not in dist:
                    m[b][a] = v
            kw["distances"] = m
    return kw


def _qemu_shape(fw: Firmware) -> dict[str, Any]:
    """Recover the QEMU options behind a (QEMU-shaped) firmware."""
    cpus = fw.cpus
    if not cpus:
        raise InvalidDescriptionError("firmware: no CPU slots")
    shape: dict[str, Any] = {
        "sockets": max(c.get("package") or 0 for c in cpus) + 1,
        "dies": max(c.get("die") or 0 for c in cpus) + 1,
        "cores": max(c.get("core") or 0 for c in cpus) + 1,
        "threads": max(c.get("thread") or 0 for c in cpus) + 1,
        "present": sum(1 for c in cpus if c.get("enabled", True)),
    }
    usable = [e for e in fw.e820 if e["type"] == "usable"]
    low_entries = [e for e in usable if e["start"] < 1 << 32]
    low = max(e["end"] for e in low_entries) + 1 if low_entries else 0
    if any(e["start"] == low and e["end"] == low + 0x1FFFF for e in fw.e820):
        low += 0x20000  # the pc machine's reserved tail of low RAM
    high = sum(e["end"] - e["start"] + 1 for e in usable if e["start"] >= 1 << 32)
    ram = low + high
    shape["ram"] = ram
    sizes: dict[int, int] = {}
    for a in fw.memory_affinity:
        if a["hotpluggable"]:
            continue
        size = a["end"] - a["start"] + 1 + (0x60000 if a["start"] == 0 else 0)
        sizes[a["pxm"]] = sizes.get(a["pxm"], 0) + size
    pxms = [c["pxm"] for c in cpus if c.get("pxm") is not None] + [a["pxm"] for a in fw.memory_affinity]
    nnodes = max(pxms) + 1 if pxms else 0
    if fw.distances:
        nnodes = max(nnodes, len(fw.distances))
    shape["node_mem"] = [sizes.get(p, 0) for p in range(nnodes)]
    shape["node_cpus"] = [[i for i, c in enumerate(cpus) if c.get("pxm") == p] for p in range(nnodes)]
    w = fw.hotplug_memory_window
    if w:
        extra = w["end"] - w["start"] + 1
        slots = max(1, extra // GiB // 2) if extra >= GiB else 1
        shape["slots"] = slots
        shape["maxmem"] = _fmt_size(max(ram, ram + extra - slots * GiB))
    return shape


def _ranges(ids: list[int]) -> list[str]:
    out: list[str] = []
    for i in ids:
        if out and "-" not in out[-1] and int(out[-1]) == i - 1:
            out[-1] = f"{out[-1]}-{i}"
        elif out and "-" in out[-1] and int(out[-1].split("-")[1]) == i - 1:
            out[-1] = f"{out[-1].split('-')[0]}-{i}"
        else:
            out.append(str(i))
    return out


def qemu_args(fw: Firmware) -> list[str]:
    """The QEMU ``pc`` options that build ``fw`` (``-smp``, ``-m``, ``-object``, ``-numa``)."""
    q = _qemu_shape(fw)
    nslots = len(fw.cpus)
    smp = f"{q['present']},maxcpus={nslots},sockets={q['sockets']}"
    if q["dies"] > 1:
        smp += f",dies={q['dies']}"
    smp += f",cores={q['cores']},threads={q['threads']}"
    mem = _fmt_size(q["ram"])
    if q.get("maxmem"):
        mem += f",slots={q['slots']},maxmem={q['maxmem']}"
    out = ["-smp", smp, "-m", mem]
    single_auto = (len(q["node_mem"]) == 1 and fw.distances is None
                   and len(q["node_cpus"][0]) == nslots and q.get("maxmem"))
    if q["node_mem"] and not single_auto:
        for nid, size in enumerate(q["node_mem"]):
            if size:
                out += ["-object", f"memory-backend-ram,id=m{nid},size={_fmt_size(size)}"]
        for nid, size in enumerate(q["node_mem"]):
            spec = f"node,nodeid={nid}" + (f",memdev=m{nid}" if size else "")
            spec += "".join(f",cpus={r}" for r in _ranges(q["node_cpus"][nid]))
            out += ["-numa", spec]
        d = fw.distances or []
        for i in range(len(d)):
            for j in range(len(d)):
                if i == j:
                    continue
                if i < j or d[i][j] != d[j][i]:
                    out += ["-numa", f"dist,src={i},dst={j},val={d[i][j]}"]
    return out


# -- sysfs import --------------------------------------------------------------------------
def _read(path: Path) -> str | None:
    try:
        return path.read_text()
    except OSError:
        return None


def _list(text: str | None) -> list[int]:
    out: list[int] = []
    for part in filter(None, (text or "").strip().split(",")):
        out.extend(_cpu_range(part))
    return out


def from_sysfs(root: str | os.PathLike[str] = "/") -> Firmware:
    """Firmware facts from a Linux sysfs tree (``root/sys/devices/system``): nodes and their
    memory (memory blocks linked to each node, else ``nodeN/meminfo`` MemTotal rounded up to
    128 MiB), CPUs with package/die/core/thread from ``cpuN/topology``, and the SLIT from
    ``nodeN/distance``. The result is QEMU-shaped (:meth:`Firmware.qemu`): one slot per present
    CPU; CPUs without ``topology/`` (offline) are placed after the known ones.
    """
    sysdir = Path(root) / "sys/devices/system"
    if not (sysdir / "cpu").is_dir():
        raise InvalidDescriptionError(f"sysfs: no {sysdir / 'cpu'} directory")
    node_dir = sysdir / "node"
    online_nodes = _list(_read(node_dir / "online")) if (node_dir / "online").exists() else []
    present = _list(_read(sysdir / "cpu/present")) or _list(_read(sysdir / "cpu/online"))
    topo: dict[int, tuple[int, int, int]] = {}
    for c in present:
        t = sysdir / f"cpu/cpu{c}/topology"
        pkg, core = _read(t / "physical_package_id"), _read(t / "core_id")
        if pkg is None or core is None:
            continue
        die = _read(t / "die_id")
        topo[c] = (int(pkg), int(die) if die else 0, int(core))
    # rank packages, dies and cores so they number from 0 like QEMU's
    pkgs = sorted({p for p, _, _ in topo.values()})
    dies = sorted({d for _, d, _ in topo.values()}) or [0]
    slot_of: dict[int, tuple[int, int, int, int]] = {}
    groups: dict[tuple[int, int, int], list[int]] = {}
    for c, key in sorted(topo.items()):
        groups.setdefault(key, []).append(c)
    cores_per: dict[tuple[int, int], list[int]] = {}
    for g_pkg, g_die, g_core in sorted(groups):
        cores_per.setdefault((g_pkg, g_die), []).append(g_core)
    for (pk, di, co), members in groups.items():
        for thr, cpu_id in enumerate(members):
            slot_of[cpu_id] = (pkgs.index(pk), dies.index(di) if len(dies) > 1 else 0,
                               cores_per[(pk, di)].index(co), thr)
    threads = max((len(v) for v in groups.values()), default=1)
    cores = max((len(v) for v in cores_per.values()), default=1)
    ndies = len(dies)
    sockets = max(len(pkgs), 1)
    missing = [c for c in present if c not in slot_of]
    if missing or sockets * ndies * cores * threads != len(present):
        # irregular or partly unknown: one package, one thread per core, host order
        sockets, ndies, cores, threads = 1, 1, len(present), 1
        slot_of = {c: (0, 0, i, 0) for i, c in enumerate(present)}
    index = {c: ((p * ndies + d) * cores + co) * threads + t for c, (p, d, co, t) in slot_of.items()}
    kw: dict[str, Any] = dict(sockets=sockets, dies=ndies, cores=cores, threads=threads)
    block = _read(sysdir / "memory/block_size_bytes")
    if online_nodes:
        n = max(online_nodes) + 1
        mem = [0] * n
        cpus_of: list[list[int]] = [[] for _ in range(n)]
        for nid in online_nodes:
            nd = node_dir / f"node{nid}"
            blocks = [e for e in os.listdir(nd) if re.fullmatch(r"memory\d+", e)] if nd.is_dir() else []
            if block and blocks:
                mem[nid] = len(blocks) * int(block.strip(), 16)
            else:
                first = (_read(nd / "meminfo") or "").split("\n", 1)[0].split()
                kb = int(first[3]) if len(first) > 3 else 0
                mem[nid] = -(-kb * 1024 // (128 * MiB)) * 128 * MiB
            cpus_of[nid] = sorted(index[c] for c in _list(_read(nd / "cpulist")) if c in index)
        dist = [[10 if i == j else 20 for j in range(n)] for i in range(n)]
        for i in online_nodes:
            row = [int(x) for x in (_read(node_dir / f"node{i}/distance") or "").split()]
            for j, v in zip(online_nodes, row):
                dist[i][j] = v
        kw.update(node_mem=mem, node_cpus=cpus_of, distances=dist if n > 1 else None)
        if n == 1:
            kw.update(mem=mem[0], node_mem=None, node_cpus=None)
    else:
        total = _read(Path(root) / "proc/meminfo") or ""
        m = re.search(r"MemTotal:\s+(\d+) kB", total)
        kw["mem"] = -(-(int(m.group(1)) if m else 1 << 20) * 1024 // (128 * MiB)) * 128 * MiB
    return Firmware.qemu(**kw)
