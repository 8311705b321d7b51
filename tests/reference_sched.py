"""A slow, literal Python transcription of Linux 6.1 sched-domain construction for x86.

Used only by the tests, as an independent reference for the Rust core. Everything is
recomputed from scratch, per CPU, with no caching; the data structures mirror the kernel's
(``struct sched_domain``, ``sched_group``, ``sched_group_capacity``, ``sd_data``) so the
shared-object subtleties of the real code are reproduced rather than re-derived:

* non-overlapping groups live in per-CPU ``sd_data`` slots: ``get_group()`` claims the slot of
  the first CPU of the child span and the *first* visitor initialises its span; every CPU that
  builds a chain rewrites the shared ``next`` pointers, so the printed order is that of the
  last CPU (in ``cpu_map`` order) that built the chain;
* overlapping (NUMA) groups are private, but their ``sched_group_capacity`` (id, balance mask,
  capacity) is shared via ``sdd->sgc[first CPU of the balance mask]`` of the (possibly
  descended, 5.13+ ``find_descended_sibling``) sibling's level;
* ``x86_has_numa_in_package`` is decided once, at boot, from the CPUs brought up then.

Sources (kernel/sched/topology.c, include/linux/sched/sd_flags.h, kernel/sched/fair.c
``update_group_capacity``, arch/x86/kernel/smpboot.c ``set_cpu_sibling_map`` /
``build_sched_topology``), 6.1 semantics:

* topology levels: SMT (thread siblings), CLS (L2 siblings), MC (LLC siblings), DIE
  (``cpumask_of_node(cpu_to_node(cpu))``, dropped when NUMA-in-package), then ``NODE`` and
  one ``NUMA`` level (SDTL_OVERLAP) per further unique distance among the nodes with CPUs;
* sibling links across nodes are dropped (``topology_sane``);
* capacities assume no RT/DL/IRQ pressure (every CPU has capacity 1024), as in the oracle.

Not modelled: asymmetric CPU capacity (x86 has none), ASYM_PACKING/ITMT, isolcpus / cpusets
(one root domain = all active CPUs), relax_domain_level.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Sequence

# -- include/linux/sched/sd_flags.h (6.1): bit order and meta flags -------------------------
SDF_SHARED_CHILD = 0x1
SDF_SHARED_PARENT = 0x2
SDF_NEEDS_GROUPS = 0x4

_SD_FLAGS: list[tuple[str, int]] = [
    ("SD_BALANCE_NEWIDLE", SDF_SHARED_CHILD | SDF_NEEDS_GROUPS),
    ("SD_BALANCE_EXEC", SDF_SHARED_CHILD | SDF_NEEDS_GROUPS),
    ("SD_BALANCE_FORK", SDF_SHARED_CHILD | SDF_NEEDS_GROUPS),
    ("SD_BALANCE_WAKE", SDF_SHARED_CHILD | SDF_NEEDS_GROUPS),
    ("SD_WAKE_AFFINE", SDF_SHARED_CHILD),
    ("SD_ASYM_CPUCAPACITY", SDF_SHARED_PARENT | SDF_NEEDS_GROUPS),
    ("SD_ASYM_CPUCAPACITY_FULL", SDF_SHARED_PARENT | SDF_NEEDS_GROUPS),
    ("SD_SHARE_CPUCAPACITY", SDF_SHARED_CHILD | SDF_NEEDS_GROUPS),
    ("SD_SHARE_PKG_RESOURCES", SDF_SHARED_CHILD | SDF_NEEDS_GROUPS),
    ("SD_SERIALIZE", SDF_SHARED_PARENT | SDF_NEEDS_GROUPS),
    ("SD_ASYM_PACKING", SDF_SHARED_CHILD | SDF_NEEDS_GROUPS),
    ("SD_PREFER_SIBLING", SDF_NEEDS_GROUPS),
    ("SD_OVERLAP", SDF_SHARED_PARENT | SDF_NEEDS_GROUPS),
    ("SD_NUMA", SDF_SHARED_PARENT | SDF_NEEDS_GROUPS),
]
FLAG_NAMES = [n for n, _ in _SD_FLAGS]
_BIT = {n: 1 << i for i, (n, _) in enumerate(_SD_FLAGS)}
SD_BALANCE_NEWIDLE = _BIT["SD_BALANCE_NEWIDLE"]
SD_BALANCE_EXEC = _BIT["SD_BALANCE_EXEC"]
SD_BALANCE_FORK = _BIT["SD_BALANCE_FORK"]
SD_BALANCE_WAKE = _BIT["SD_BALANCE_WAKE"]
SD_WAKE_AFFINE = _BIT["SD_WAKE_AFFINE"]
SD_SHARE_CPUCAPACITY = _BIT["SD_SHARE_CPUCAPACITY"]
SD_SHARE_PKG_RESOURCES = _BIT["SD_SHARE_PKG_RESOURCES"]
SD_SERIALIZE = _BIT["SD_SERIALIZE"]
SD_PREFER_SIBLING = _BIT["SD_PREFER_SIBLING"]
SD_OVERLAP = _BIT["SD_OVERLAP"]
SD_NUMA = _BIT["SD_NUMA"]
# SD_DEGENERATE_GROUPS_MASK: every flag with SDF_NEEDS_GROUPS
SD_DEGENERATE_GROUPS_MASK = sum(
    1 << i for i, (_, m) in enumerate(_SD_FLAGS) if m & SDF_NEEDS_GROUPS)

SCHED_CAPACITY_SCALE = 1024
RECLAIM_DISTANCE = 30  # node_reclaim_distance
LOCAL_DISTANCE = 10
NR_DISTANCE_VALUES = 1 << 8  # DISTANCE_BITS


def flag_names(flags: int) -> list[str]:
    return [n for i, n in enumerate(FLAG_NAMES) if flags & (1 << i)]


def cpulist(cpus: Iterable[int]) -> str:
    """``%*pbl``: ascending runs, ``a`` or ``a-b``, joined by ``,``."""
    s = sorted(set(cpus))
    out: list[str] = []
    i = 0
    while i < len(s):
        j = i
        while j + 1 < len(s) and s[j + 1] == s[j] + 1:
            j += 1
        out.append(str(s[i]) if i == j else f"{s[i]}-{s[j]}")
        i = j + 1
    return ",".join(out)


# -- the machine the kernel sees ----------------------------------------------------------
@dataclass(frozen=True)
class CpuTopo:
    """One logical CPU as x86 ``cpuinfo_x86`` + per-cpu ids describe it."""

    cpu: int
    package: int
    die: int
    core: int
    node: int
    llc_id: int  # per_cpu(cpu_llc_id)
    l2c_id: int  # per_cpu(cpu_l2c_id)


@dataclass
class Topology:
    """Present CPUs (logical ids), node distances, which CPUs are online now and which were
    brought up at boot (for ``x86_has_numa_in_package``)."""

    cpus: dict[int, CpuTopo]
    distance: Callable[[int, int], int]  # node_distance(a, b) on kernel node ids
    online: frozenset[int]
    boot_online: frozenset[int]

    # arch/x86/kernel/smpboot.c -------------------------------------------------------
    def _same_node(self, a: int, b: int) -> bool:
        return self.cpus[a].node == self.cpus[b].node

    def match_pkg(self, a: int, b: int) -> bool:
        return self.cpus[a].package == self.cpus[b].package

    def match_die(self, a: int, b: int) -> bool:
        return self.match_pkg(a, b) and self.cpus[a].die == self.cpus[b].die

    def match_smt(self, a: int, b: int) -> bool:
        c, o = self.cpus[a], self.cpus[b]
        if c.package == o.package and c.die == o.die and c.core == o.core:
            return self._same_node(a, b)  # topology_sane(c, o, "smt")
        return False

    def match_llc(self, a: int, b: int) -> bool:
        if self.cpus[a].llc_id != self.cpus[b].llc_id:
            return False
        return self._same_node(a, b)  # topology_sane(c, o, "llc"); no SNC on this CPU model

    def match_l2c(self, a: int, b: int) -> bool:
        if self.cpus[a].l2c_id != self.cpus[b].l2c_id:
            return False
        return self._same_node(a, b)  # topology_sane(c, o, "l2c")

    def sibling_mask(self, cpu: int, match: Callable[[int, int], bool]) -> frozenset[int]:
        """``set_cpu_sibling_map``: links to every online CPU that matches (and to itself)."""
        return frozenset(o for o in self.online if o == cpu or match(cpu, o))

    def numa_in_package(self) -> bool:
        """``x86_has_numa_in_package``, as ``build_sched_topology()`` saw it at boot."""
        b = sorted(self.boot_online)
        return any(self.match_pkg(x, y) and not self._same_node(x, y) for x in b for y in b)

    def cpumask_of_node(self, node: int) -> frozenset[int]:
        return frozenset(c for c in self.online if self.cpus[c].node == node)

    def n_cpu_nodes(self) -> list[int]:
        """``node_states[N_CPU]``: nodes with an online CPU."""
        return sorted({self.cpus[c].node for c in self.online})


# -- sched_domain_topology_level ------------------------------------------------------------
@dataclass
class TopologyLevel:
    name: str
    mask: Callable[[int], frozenset[int]]
    sd_flags: int = 0
    overlap: bool = False  # SDTL_OVERLAP
    numa_level: int = 0
    index: int = 0


def sched_init_numa(topo: Topology) -> tuple[list[int], list[dict[int, frozenset[int]]]]:
    """Unique distances among N_CPU nodes (sorted) and, per level, the mask of each node."""
    nodes = topo.n_cpu_nodes()
    distance_map: set[int] = set()
    for i in nodes:
        for j in nodes:
            d = topo.distance(i, j)
            if d < LOCAL_DISTANCE or d >= NR_DISTANCE_VALUES:
                raise ValueError("Invalid distance value range")
            distance_map.add(d)
    distances = sorted(distance_map)
    masks: list[dict[int, frozenset[int]]] = []
    for d in distances:
        per_node: dict[int, frozenset[int]] = {}
        for j in nodes:
            m: set[int] = set()
            for k in nodes:
                if topo.distance(j, k) > d:
                    continue
                m |= topo.cpumask_of_node(k)
            per_node[j] = frozenset(m)
        masks.append(per_node)
    return distances, masks


def topology_levels(topo: Topology) -> tuple[list[TopologyLevel], list[int]]:
    """x86 ``build_sched_topology()`` + ``sched_init_numa()``: the level list, bottom-up."""
    smt = lambda c: topo.sibling_mask(c, topo.match_smt)  # noqa: E731
    l2c = lambda c: topo.sibling_mask(c, topo.match_l2c)  # noqa: E731
    llc = lambda c: topo.sibling_mask(c, topo.match_llc)  # noqa: E731
    levels = [
        TopologyLevel("SMT", smt, SD_SHARE_CPUCAPACITY | SD_SHARE_PKG_RESOURCES),  # x86_smt_flags
        TopologyLevel("CLS", l2c, SD_SHARE_PKG_RESOURCES),  # x86_cluster_flags
        TopologyLevel("MC", llc, SD_SHARE_PKG_RESOURCES),  # x86_core_flags
    ]
    if not topo.numa_in_package():
        levels.append(TopologyLevel("DIE", lambda c: topo.cpumask_of_node(topo.cpus[c].node)))
    distances, masks = sched_init_numa(topo)

    def numa_mask(level: int) -> Callable[[int], frozenset[int]]:
        return lambda c: masks[level][topo.cpus[c].node]

    levels.append(TopologyLevel("NODE", numa_mask(0), 0, False, 0))
    for j in range(1, len(distances)):
        levels.append(TopologyLevel("NUMA", numa_mask(j), SD_NUMA, True, j))  # cpu_numa_flags
    for i, tl in enumerate(levels):
        tl.index = i
    return levels, distances


# -- struct sched_domain / sched_group / sched_group_capacity --------------------------------
@dataclass(eq=False)
class SGC:
    id: int
    capacity: int = 0
    mask: frozenset[int] = frozenset()  # group_balance_mask lives in the sgc
    ref: int = 0


@dataclass(eq=False)
class SG:
    span: frozenset[int] = frozenset()
    next: "SG | None" = None
    sgc: SGC | None = None
    ref: int = 0


@dataclass(eq=False)
class SD:
    span: frozenset[int] = frozenset()  # zeroed (kzalloc) until sd_init
    flags: int = 0
    name: str = ""
    level: int = 0
    min_interval: int = 0
    max_interval: int = 0
    busy_factor: int = 0
    imbalance_pct: int = 0
    cache_nice_tries: int = 0
    child: "SD | None" = None
    parent: "SD | None" = None
    groups: SG | None = None
    private: "SdData | None" = None
    tl_index: int = -1


@dataclass(eq=False)
class SdData:
    """``struct sd_data``: per-level, per-CPU storage (``__sdt_alloc``)."""

    sd: dict[int, SD] = field(default_factory=dict)
    sg: dict[int, SG] = field(default_factory=dict)
    sgc: dict[int, SGC] = field(default_factory=dict)


def _ring(first: SG | None, limit: int = 4096) -> list[SG]:
    out: list[SG] = []
    g = first
    while g is not None and len(out) < limit:
        out.append(g)
        g = g.next
        if g is first:
            break
    return out


def _wrap(span: frozenset[int], start: int) -> list[int]:
    """``for_each_cpu_wrap(i, span, start)``."""
    s = sorted(span)
    return [c for c in s if c >= start] + [c for c in s if c < start]


# -- printk model --------------------------------------------------------------------------
class _Log:
    """Enough of printk for KERN_CONT: a leveled message starts a new record."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self._open = False

    def new(self, text: str) -> None:
        self._open = False
        self._emit(text)

    def cont(self, text: str) -> None:
        self._emit(text)

    def _emit(self, text: str) -> None:
        while text:
            nl = text.find("\n")
            chunk = text if nl < 0 else text[:nl]
            if self._open:
                self.lines[-1] += chunk
            else:
                self.lines.append(chunk)
            if nl < 0:
                self._open = True
                return
            self._open = False
            text = text[nl + 1:]


# -- the build ----------------------------------------------------------------------------
@dataclass
class DomainInfo:
    """One attached (post-degeneration) domain, as debugfs and the debug print show it."""

    name: str
    span: frozenset[int]
    flags: int
    min_interval: int
    max_interval: int
    busy_factor: int
    imbalance_pct: int
    cache_nice_tries: int
    groups: list[tuple[int, frozenset[int], frozenset[int], int]]  # (id, span, balance mask, cap)
    overlap: bool

    def debugfs(self) -> dict[str, str]:
        return {
            "name": f"{self.name}\n",
            "flags": "".join(f"{n} " for n in flag_names(self.flags)) + "\n",
            "min_interval": f"{self.min_interval}\n",
            "max_interval": f"{self.max_interval}\n",
            "busy_factor": f"{self.busy_factor}\n",
            "imbalance_pct": f"{self.imbalance_pct}\n",
            "cache_nice_tries": f"{self.cache_nice_tries}\n",
        }


@dataclass
class BuildResult:
    cpu_map: frozenset[int]
    domains: dict[int, list[DomainInfo]]  # per CPU, base first
    dmesg: list[str]  # the sched_verbose lines of this build (attach + root domain)
    errors: list[str]  # the KERN_ERR lines among them

    def debugfs(self) -> dict[str, str]:
        """``/sys/kernel/debug/sched/domains/cpuN/domainM/<attr>`` -> content."""
        out: dict[str, str] = {}
        for cpu, doms in self.domains.items():
            for m, d in enumerate(doms):
                for k, v in d.debugfs().items():
                    out[f"/sys/kernel/debug/sched/domains/cpu{cpu}/domain{m}/{k}"] = v
        return out


class TopologyBroken(Exception):
    """``topology_span_sane()`` failed: the kernel refuses to build the domains."""


def sd_init(tl: TopologyLevel, sdd: SdData, cpu_map: frozenset[int], child: SD | None, cpu: int,
            distances: list[int]) -> SD:
    sd = sdd.sd[cpu]
    sd_weight = len(tl.mask(cpu))
    sd_flags = tl.sd_flags
    fresh = SD()  # *sd = (struct sched_domain){...}: every other field zeroed
    for name in SD.__dataclass_fields__:
        setattr(sd, name, getattr(fresh, name))
    sd.min_interval = sd_weight
    sd.max_interval = 2 * sd_weight
    sd.busy_factor = 16
    sd.imbalance_pct = 117
    sd.cache_nice_tries = 0
    sd.flags = (SD_BALANCE_NEWIDLE | SD_BALANCE_EXEC | SD_BALANCE_FORK | SD_WAKE_AFFINE
                | SD_PREFER_SIBLING | sd_flags)
    sd.child = child
    sd.name = tl.name
    sd.span = frozenset(cpu_map & tl.mask(cpu))
    # asym_cpu_capacity_classify(): x86 CPUs all have SCHED_CAPACITY_SCALE -> 0
    if sd.flags & SD_SHARE_CPUCAPACITY:
        sd.imbalance_pct = 110
    elif sd.flags & SD_SHARE_PKG_RESOURCES:
        sd.imbalance_pct = 117
        sd.cache_nice_tries = 1
    elif sd.flags & SD_NUMA:
        sd.cache_nice_tries = 2
        sd.flags &= ~SD_PREFER_SIBLING
        sd.flags |= SD_SERIALIZE
        if distances[tl.numa_level] > RECLAIM_DISTANCE:
            sd.flags &= ~(SD_BALANCE_EXEC | SD_BALANCE_FORK | SD_WAKE_AFFINE)
    else:
        sd.cache_nice_tries = 1
    sd.private = sdd
    sd.tl_index = tl.index
    return sd


def topology_span_sane(tl: TopologyLevel, cpu_map: frozenset[int], cpu: int) -> bool:
    if tl.overlap:
        return True
    for i in sorted(cpu_map):
        if i == cpu:
            continue
        a, b = tl.mask(cpu), tl.mask(i)
        if a != b and a & b:
            return False
    return True


def build_sched_domain(tl: TopologyLevel, sdd: SdData, cpu_map: frozenset[int], child: SD | None,
                       cpu: int, distances: list[int], log: _Log) -> SD:
    sd = sd_init(tl, sdd, cpu_map, child, cpu, distances)
    if child is not None:
        sd.level = child.level + 1
        child.parent = sd
        if not child.span <= sd.span:
            log.new("BUG: arch topology borken\n")
            log.new(f"     the {child.name} domain not a subset of the {sd.name} domain\n")
            sd.span = sd.span | child.span
    return sd


def get_group(cpu: int, sdd: SdData) -> SG:
    sd = sdd.sd[cpu]
    child = sd.child
    if child is not None:
        cpu = min(child.span)
    sg = sdd.sg[cpu]
    sg.sgc = sdd.sgc[cpu]
    sg.ref += 1
    already_visited = sg.ref > 1
    sg.sgc.ref += 1
    if already_visited:
        return sg
    if child is not None:
        sg.span = child.span
        sg.sgc.mask = sg.span
    else:
        sg.span = sg.span | {cpu}
        sg.sgc.mask = sg.sgc.mask | {cpu}
    sg.sgc.capacity = SCHED_CAPACITY_SCALE * len(sg.span)
    return sg


def build_sched_groups(sd: SD, cpu: int) -> None:
    sdd = sd.private
    assert sdd is not None
    covered: set[int] = set()
    first: SG | None = None
    last: SG | None = None
    for i in _wrap(sd.span, cpu):
        if i in covered:
            continue
        sg = get_group(i, sdd)
        covered |= sg.span
        if first is None:
            first = sg
        if last is not None:
            last.next = sg
        last = sg
    assert last is not None
    last.next = first
    sd.groups = first


def build_balance_mask(sd: SD, sg_span: frozenset[int]) -> frozenset[int]:
    sdd = sd.private
    assert sdd is not None
    mask = set()
    for i in sorted(sg_span):
        sibling = sdd.sd[i]
        if sibling.child is None:
            continue
        if sg_span != sibling.child.span:
            continue
        mask.add(i)
    return frozenset(mask)


def init_overlap_sched_group(sd: SD, sg: SG) -> None:
    sdd = sd.private
    assert sdd is not None
    mask = build_balance_mask(sd, sg.span)
    if not mask:  # WARN_ON_ONCE(cpumask_empty(mask)); cpumask_first() would be nr_cpu_ids
        raise TopologyBroken("empty balance mask")
    cpu = min(mask)
    sg.sgc = sdd.sgc[cpu]
    sg.sgc.ref += 1
    if sg.sgc.ref == 1:
        sg.sgc.mask = mask
    sg.sgc.capacity = SCHED_CAPACITY_SCALE * len(sg.span)


def find_descended_sibling(sd: SD, sibling: SD) -> SD:
    while sibling.child is not None and not sibling.child.span <= sd.span:
        sibling = sibling.child
    while sibling.child is not None and sibling.child.span == sibling.span:
        sibling = sibling.child
    return sibling


def build_overlap_sched_groups(sd: SD, cpu: int) -> None:
    sdd = sd.private
    assert sdd is not None
    span = sd.span
    covered: set[int] = set()
    first: SG | None = None
    last: SG | None = None
    for i in _wrap(span, cpu):
        if i in covered:
            continue
        sibling = sdd.sd[i]
        if i not in sibling.span:
            continue
        if sibling.child is not None and not sibling.child.span <= span:
            sibling = find_descended_sibling(sd, sibling)
        # build_group_from_child_sched_domain(sibling, cpu)
        sg = SG(span=sibling.child.span if sibling.child is not None else sibling.span, ref=1)
        covered |= sg.span
        init_overlap_sched_group(sibling, sg)
        if first is None:
            first = sg
        if last is not None:
            last.next = sg
        last = sg
        last.next = first
    sd.groups = first


def group_balance_cpu(sg: SG) -> int:
    assert sg.sgc is not None
    return min(sg.sgc.mask)


def update_group_capacity(sd: SD, cpu: int) -> None:
    """kernel/sched/fair.c; every CPU has capacity_of() == 1024 (no RT/DL/IRQ pressure)."""
    sdg = sd.groups
    assert sdg is not None and sdg.sgc is not None
    child = sd.child
    if child is None:
        sdg.sgc.capacity = SCHED_CAPACITY_SCALE  # update_cpu_capacity()
        return
    if child.flags & SD_OVERLAP:
        capacity = sum(SCHED_CAPACITY_SCALE for _ in sdg.span)
    else:
        capacity = 0
        for g in _ring(child.groups):
            assert g.sgc is not None
            capacity += g.sgc.capacity
    sdg.sgc.capacity = capacity


def init_sched_groups_capacity(cpu: int, sd: SD) -> None:
    sg = sd.groups
    assert sg is not None
    if cpu != group_balance_cpu(sg):
        return
    update_group_capacity(sd, cpu)


def sd_degenerate(sd: SD) -> bool:
    if len(sd.span) == 1:
        return True
    assert sd.groups is not None
    if (sd.flags & SD_DEGENERATE_GROUPS_MASK) and sd.groups is not sd.groups.next:
        return False
    if sd.flags & SD_WAKE_AFFINE:
        return False
    return True


def sd_parent_degenerate(sd: SD, parent: SD) -> bool:
    cflags, pflags = sd.flags, parent.flags
    if sd_degenerate(parent):
        return True
    if sd.span != parent.span:
        return False
    assert parent.groups is not None
    if parent.groups is parent.groups.next:
        pflags &= ~SD_DEGENERATE_GROUPS_MASK
    if ~cflags & pflags:
        return False
    return True


def sched_domain_debug_one(sd: SD, cpu: int, level: int, log: _Log, errors: list[str]) -> None:
    def err(msg: str) -> None:
        errors.append(msg)
        log.new(msg + "\n")

    log.new(f"{'':{level}s} domain-{level}: ")
    log.cont(f"span={cpulist(sd.span)} level={sd.name}\n")
    group = sd.groups
    if cpu not in sd.span:
        err(f"ERROR: domain->span does not contain CPU{cpu}")
    if group is not None and cpu not in group.span:
        err(f"ERROR: domain->groups does not contain CPU{cpu}")
    for idx, (name, meta) in enumerate(_SD_FLAGS):
        flag = 1 << idx
        if not sd.flags & flag:
            continue
        if meta & SDF_SHARED_CHILD and sd.child is not None and not sd.child.flags & flag:
            err(f"ERROR: flag {name} set here but not in child")
        if meta & SDF_SHARED_PARENT and sd.parent is not None and not sd.parent.flags & flag:
            err(f"ERROR: flag {name} set here but not in parent")
    log.new(f"{'':{level + 1}s} groups:")
    groupmask: set[int] = set()
    first = group
    while True:
        if group is None:
            log.new("\n")
            err("ERROR: group is NULL")
            break
        if not group.span:
            log.cont("\n")
            err("ERROR: empty group")
            break
        if not sd.flags & SD_OVERLAP and groupmask & group.span:
            log.cont("\n")
            err("ERROR: repeated CPUs")
            break
        groupmask |= group.span
        assert group.sgc is not None
        log.cont(f" {group.sgc.id}:{{ span={cpulist(group.span)}")
        if sd.flags & SD_OVERLAP and group.sgc.mask != group.span:
            log.cont(f" mask={cpulist(group.sgc.mask)}")
        if group.sgc.capacity != SCHED_CAPACITY_SCALE:
            log.cont(f" cap={group.sgc.capacity}")
        if group is first and sd.child is not None and sd.child.span != group.span:
            err("ERROR: domain->groups does not match domain->child")
        log.cont(" }")
        group = group.next
        if group is not first:
            log.cont(",")
        if group is first:
            break
    log.cont("\n")
    if sd.span != groupmask:
        err("ERROR: groups don't span domain->span")
    if sd.parent is not None and not groupmask <= sd.parent.span:
        err("ERROR: parent span is not a superset of domain->span")


def cpu_attach_domain(sd: SD | None, cpu: int, log: _Log, errors: list[str]) -> SD | None:
    tmp = sd
    while tmp is not None:
        parent = tmp.parent
        if parent is None:
            break
        if sd_parent_degenerate(tmp, parent):
            tmp.parent = parent.parent
            if parent.parent is not None:
                parent.parent.child = tmp
            if parent.flags & SD_PREFER_SIBLING:
                tmp.flags |= SD_PREFER_SIBLING
        else:
            tmp = tmp.parent
    if sd is not None and sd_degenerate(sd):
        sd = sd.parent
        if sd is not None:
            sd.child = None
    # sched_domain_debug()
    if sd is None:
        log.new(f"CPU{cpu} attaching NULL sched-domain.\n")
    else:
        log.new(f"CPU{cpu} attaching sched-domain(s):\n")
        level = 0
        d: SD | None = sd
        while d is not None:
            sched_domain_debug_one(d, cpu, level, log, errors)
            level += 1
            d = d.parent
    return sd


def build_sched_domains(topo: Topology, cpu_map: Iterable[int] | None = None) -> BuildResult:
    """``build_sched_domains(cpu_map)`` (default: the active = online CPUs)."""
    cmap = frozenset(topo.online if cpu_map is None else cpu_map)
    levels, distances = topology_levels(topo)
    log = _Log()
    errors: list[str] = []
    # __sdt_alloc
    sdds: list[SdData] = []
    for _tl in levels:
        sdd = SdData()
        for j in sorted(cmap):
            sdd.sd[j] = SD()
            sg = SG()
            sg.next = sg
            sdd.sg[j] = sg
            sdd.sgc[j] = SGC(id=j)
        sdds.append(sdd)
    base: dict[int, SD] = {}
    for i in sorted(cmap):
        sd: SD | None = None
        for tl in levels:
            if not topology_span_sane(tl, cmap, i):
                raise TopologyBroken(f"{tl.name} masks overlap at CPU{i}")
            sd = build_sched_domain(tl, sdds[tl.index], cmap, sd, i, distances, log)
            if tl.index == 0:
                base[i] = sd
            if tl.overlap:
                sd.flags |= SD_OVERLAP
            if sd.span == cmap:
                break
    for i in sorted(cmap):
        d: SD | None = base[i]
        while d is not None:
            if d.flags & SD_OVERLAP:
                build_overlap_sched_groups(d, i)
            else:
                build_sched_groups(d, i)
            d = d.parent
    for i in sorted(cmap, reverse=True):
        d = base[i]
        while d is not None:
            init_sched_groups_capacity(i, d)
            d = d.parent
    attached: dict[int, list[DomainInfo]] = {}
    for i in sorted(cmap):
        top = cpu_attach_domain(base[i], i, log, errors)
        chain: list[DomainInfo] = []
        d = top
        while d is not None:
            groups = []
            for g in _ring(d.groups):
                assert g.sgc is not None
                groups.append((g.sgc.id, g.span, g.sgc.mask, g.sgc.capacity))
            chain.append(DomainInfo(d.name, d.span, d.flags, d.min_interval, d.max_interval,
                                    d.busy_factor, d.imbalance_pct, d.cache_nice_tries, groups,
                                    bool(d.flags & SD_OVERLAP)))
            d = d.parent
        attached[i] = chain
    if cmap:
        log.new(f"root domain span: {cpulist(cmap)} (max cpu_capacity = {SCHED_CAPACITY_SCALE})\n")
    return BuildResult(cmap, attached, log.lines, errors)


def rebuild_lines(topo: Topology, old_map: Iterable[int]) -> list[str]:
    """``partition_sched_domains()`` after a hotplug: detach every CPU of the old root domain
    (``attaching NULL``), build the new one, then ``build_perf_domains()`` says the rd has no
    asymmetric capacities."""
    lines = [f"CPU{c} attaching NULL sched-domain." for c in sorted(old_map)]
    res = build_sched_domains(topo)
    lines += res.dmesg
    if res.cpu_map:
        lines.append(f"rd {cpulist(res.cpu_map)}: CPUs do not have asymmetric capacities")
    return lines


# -- building a Topology from firmware facts ----------------------------------------------
def _bits(n: int) -> int:
    """apicid field width for n items (QEMU ``apicid_bitwidth_for_count``)."""
    return (n - 1).bit_length() if n > 1 else 0


def topology_from_firmware(fw: dict[str, Any], online: Iterable[int] | None = None,
                           boot_online: Iterable[int] | None = None) -> Topology:
    """A :class:`Topology` from a firmware description (``Firmware.to_dict()`` / case.json
    ``firmware``). Logical CPU ids = rank among the enabled slots; llc id = (package, die) and
    l2c id = (package, die, core) as QEMU's CPUID leaf 4 reports them (L3 per die, L2 per core).
    ``online`` defaults to every enabled CPU; ``boot_online`` to ``online``."""
    slots = [c for c in fw["cpus"] if c["enabled"]]
    cpus: dict[int, CpuTopo] = {}
    pxm_of_node: dict[int, int] = {}
    for entry in list(fw["cpus"]) + list(fw.get("memory_affinity") or []):
        if entry.get("pxm") is not None and entry.get("node") is not None:
            pxm_of_node.setdefault(entry["node"], entry["pxm"])
    for cpu, s in enumerate(slots):
        node = s["node"] if s.get("node") is not None else 0
        pkg, die, core = s["package"], s["die"], s["core"]
        cpus[cpu] = CpuTopo(cpu, pkg, die, core, node, llc_id=(pkg << 16) | die,
                            l2c_id=(pkg << 32) | (die << 16) | core)
    dist = fw.get("distances")

    def distance(a: int, b: int) -> int:
        if dist is None:
            return LOCAL_DISTANCE if a == b else 20
        return int(dist[pxm_of_node.get(a, a)][pxm_of_node.get(b, b)])

    on = frozenset(cpus if online is None else online)
    boot = on if boot_online is None else frozenset(boot_online)
    return Topology(cpus, distance, on, boot)


def sched_lines(dmesg: Sequence[str]) -> list[str]:
    """The sched_verbose lines of the latest domain build in a dmesg: from the first
    ``attaching sched-domain`` line after the last ``attaching NULL`` block (or of the log)
    through ``root domain span`` and the optional ``rd ...`` line."""
    last_null = -1
    for k, line in enumerate(dmesg):
        if "attaching NULL sched-domain" in line:
            last_null = k
    start = None
    for k in range(last_null + 1, len(dmesg)):
        if dmesg[k].endswith("attaching sched-domain(s):"):
            start = k
            break
    if start is None:
        return []
    out = []
    for line in dmesg[start:]:
        if line.startswith("CPU") and "attaching" in line or line.startswith(" ") \
                or line.startswith("root domain span:") or line.startswith("rd ") \
                or line.startswith("ERROR:") or line.startswith("BUG:"):
            out.append(line)
            if line.startswith("rd "):
                break
        elif out and out[-1].startswith("root domain span:"):
            break
    return out


def parse_cpulist(text: str) -> set[int]:
    out: set[int] = set()
    for part in text.strip().split(","):
        if not part:
            continue
        a, _, b = part.partition("-")
        out |= set(range(int(a), int(b or a) + 1))
    return out


def topology_from_snapshot(files: dict[str, str], links: dict[str, str],
                           boot_files: dict[str, str] | None = None,
                           boot_links: dict[str, str] | None = None) -> Topology:
    """A :class:`Topology` from sysfs contents (an oracle snapshot: ``files`` + ``links``):
    CPUs from ``cpuN/topology/`` (online CPUs; offline ones from the boot snapshot), their node
    from the ``cpuN/nodeM`` link, distances from ``nodeN/distance`` (one column per online
    node). llc id = (package, die), l2c id = (package, die, core) as on QEMU."""
    sysd = "/sys/devices/system"
    cpus: dict[int, CpuTopo] = {}
    for fs, ls in ((boot_files or {}, boot_links or {}), (files, links)):
        for path in fs:
            if not path.endswith("/topology/physical_package_id"):
                continue
            cpu = int(path.split("/")[5][3:])
            d = f"{sysd}/cpu/cpu{cpu}/topology"
            pkg = int(fs[f"{d}/physical_package_id"])
            die = int(fs.get(f"{d}/die_id", "0"))
            core = int(fs[f"{d}/core_id"])
            node = 0
            for lk in ls:
                if lk.startswith(f"{sysd}/cpu/cpu{cpu}/node"):
                    node = int(lk.rsplit("node", 1)[1])
            cpus[cpu] = CpuTopo(cpu, pkg, die, core, node, llc_id=(pkg << 16) | die,
                                l2c_id=(pkg << 32) | (die << 16) | core)
    table: dict[tuple[int, int], int] = {}
    for fs in (boot_files or {}, files):
        online_nodes = sorted(parse_cpulist(fs.get(f"{sysd}/node/online", "0")))
        for n in online_nodes:
            row = fs.get(f"{sysd}/node/node{n}/distance")
            if row is None:
                continue
            for m, v in zip(online_nodes, row.split()):
                table[(n, m)] = int(v)

    def distance(a: int, b: int) -> int:
        return table.get((a, b), LOCAL_DISTANCE if a == b else 20)

    online = frozenset(parse_cpulist(files[f"{sysd}/cpu/online"]))
    boot = frozenset(parse_cpulist((boot_files or files)[f"{sysd}/cpu/online"]))
    return Topology(cpus, distance, online, boot)
