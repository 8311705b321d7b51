"""Differential tests: the Rust core's sched domains against ``reference_sched.py``, a slow,
literal Python transcription of Linux 6.1 kernel/sched/topology.c (issue 4).

* ``test_reference_matches_oracle``: the reference itself reproduces every oracle snapshot's
  ``sched_verbose`` lines and debugfs domain attributes (the kernel is the truth).
* ``test_emulator_matches_reference``: hypothesis over random QEMU-shaped topologies (1-4
  packages, 1-2 dies, 1-4 cores, 1-2 threads, 1-4 nodes split per package, per core or per
  thread, random symmetric SLITs, ``maxcpus=``, present < slots, CPU offline/online writes):
  the emulator's attach lines and debugfs files equal the reference's, after boot and after
  every hotplug write; a forced full rebuild reprints the same domains (incremental == full);
  the ``sched_domain_debug_one`` sanity rules hold on both.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import reference_sched as R

numa_hpe = pytest.importorskip("numa_hpe")

ATTRS = ("name", "flags", "min_interval", "max_interval", "busy_factor", "imbalance_pct",
         "cache_nice_tries")
DEBUGFS = "/sys/kernel/debug/sched/domains"


# -- parsing the sched_verbose lines -------------------------------------------------------
_GROUP = re.compile(r" (\d+):\{ span=([0-9,\-]*)(?: mask=([0-9,\-]*))?(?: cap=(\d+))? \}")
_DOMAIN = re.compile(r"^( *) domain-(\d+): span=([0-9,\-]*) level=(\w+)$")


def parse_attach(lines: list[str]) -> dict[int, list[dict[str, Any]]]:
    """``CPU%d attaching ...`` blocks -> per CPU the list of domains (span, level, groups)."""
    out: dict[int, list[dict[str, Any]]] = {}
    cur: list[dict[str, Any]] | None = None
    for line in lines:
        m = re.match(r"^CPU(\d+) attaching (NULL sched-domain\.|sched-domain\(s\):)$", line)
        if m:
            cur = out.setdefault(int(m.group(1)), [])
            cur.clear()
            continue
        m = _DOMAIN.match(line)
        if m and cur is not None:
            assert len(m.group(1)) == int(m.group(2)) == len(cur), line
            cur.append({"span": R.parse_cpulist(m.group(3)), "level": m.group(4), "groups": []})
            continue
        if line.lstrip().startswith("groups:") and cur:
            body = line.split("groups:", 1)[1]
            groups = [(int(g[0]), R.parse_cpulist(g[1]),
                       R.parse_cpulist(g[2]) if g[2] else None,
                       int(g[3]) if g[3] else 1024) for g in _GROUP.findall(body)]
            assert ",".join(_GROUP.sub("G", body).split(",")) == ",".join(["G"] * len(groups)), line
            cur[-1]["groups"] = groups
    return out


def sanity_violations(lines: list[str], overlap: dict[tuple[int, int], bool]) -> list[str]:
    """``sched_domain_debug_one``'s checks on printed domains: CPU in its span and in its
    first group, first group = child span, groups cover the span, non-overlap groups
    disjoint, group spans within the span, child span within the parent span; plus the
    group print rules (id = first CPU of the balance mask, cap = 1024 x weight)."""
    bad = [line for line in lines if line.startswith(("ERROR", "BUG"))]
    for cpu, doms in parse_attach(lines).items():
        for lvl, d in enumerate(doms):
            where = f"CPU{cpu} domain-{lvl}"
            span, groups = d["span"], d["groups"]
            if cpu not in span:
                bad.append(f"{where}: span does not contain the CPU")
            if not groups or cpu not in groups[0][1]:
                bad.append(f"{where}: first group does not contain the CPU")
                continue
            if lvl and groups[0][1] != doms[lvl - 1]["span"]:
                bad.append(f"{where}: first group != child span")
            union: set[int] = set()
            for gid, gspan, gmask, cap in groups:
                if not gspan:
                    bad.append(f"{where}: empty group")
                if not overlap.get((cpu, lvl), False) and union & gspan:
                    bad.append(f"{where}: repeated CPUs")
                union |= gspan
                if not gspan <= span:
                    bad.append(f"{where}: group {gid} outside the span")
                bal = gmask if gmask is not None else gspan
                if not bal <= gspan or gid != min(bal):
                    bad.append(f"{where}: group {gid} id/mask {bal}")
                if cap != 1024 * len(gspan):
                    bad.append(f"{where}: group {gid} cap {cap}")
            if union != span:
                bad.append(f"{where}: groups don't span the domain")
            if lvl and not doms[lvl - 1]["span"] <= span:
                bad.append(f"{where}: child span not within it")
    return bad


def overlap_of(files: dict[str, str]) -> dict[tuple[int, int], bool]:
    out = {}
    for path, text in files.items():
        m = re.match(rf"{DEBUGFS}/cpu(\d+)/domain(\d+)/flags$", path)
        if m:
            out[(int(m.group(1)), int(m.group(2)))] = "SD_OVERLAP" in text.split()
    return out


def attach_block(lines: list[str]) -> list[str]:
    """The lines of one domain (re)build: from the first ``CPU%d attaching`` line through
    ``root domain span`` and an ``rd ...`` line right after it."""
    start = next((k for k, x in enumerate(lines) if re.match(r"CPU\d+ attaching", x)), None)
    if start is None:
        return []
    out = []
    for k in range(start, len(lines)):
        out.append(lines[k])
        if lines[k].startswith("root domain span:"):
            if k + 1 < len(lines) and lines[k + 1].startswith("rd "):
                out.append(lines[k + 1])
            break
    return out


# -- 1. the reference against the oracle ---------------------------------------------------
def _oracle_snapshots() -> list[tuple[str, str]]:
    from _shared import oracle_dir

    o = oracle_dir()
    if o is None:
        return []
    out = []
    for case in sorted((o / "cases").iterdir()):
        for snap in sorted((case / "expected").glob("*.json")):
            out.append((case.name, snap.stem))
    return out


_SNAPS: list[Any] = _oracle_snapshots() or [
    pytest.param("-", "-", marks=pytest.mark.skip("no oracle"))]


@pytest.mark.parametrize(("case", "snap"), _SNAPS)
def test_reference_matches_oracle(oracle: Path, case: str, snap: str) -> None:
    d = oracle / "cases" / case / "expected"
    boot = json.loads((d / "boot.json").read_text())
    exp = json.loads((d / f"{snap}.json").read_text())
    topo = R.topology_from_snapshot(exp["files"], exp["links"], boot["files"], boot["links"])
    res = R.build_sched_domains(topo)
    assert not res.errors
    want_files = {k: v for k, v in exp["files"].items()
                  if k.startswith(DEBUGFS + "/") and k.rsplit("/", 1)[1] in ATTRS}
    assert res.debugfs() == want_files
    want = R.sched_lines(exp["dmesg"])
    if want:  # sched_verbose cases: the latest build, line for line
        got = res.dmesg + [f"rd {R.cpulist(res.cpu_map)}: CPUs do not have asymmetric capacities"
                           for _ in want[-1:] if want[-1].startswith("rd ")]
        assert got == want
        assert sanity_violations(want, overlap_of(want_files)) == []


def test_reference_matches_oracle_firmware(oracle: Path) -> None:
    """Boot builds straight from each sched_verbose case's firmware (logical id = rank among
    enabled slots, node from the firmware, QEMU cache packing)."""
    for case in ("numa4", "big", "cpuhp", "cpuhp_maxcpus", "uma"):
        c = json.loads((oracle / "cases" / case / "case.json").read_text())
        exp = json.loads((oracle / "cases" / case / "expected" / "boot.json").read_text())
        online = R.parse_cpulist(exp["files"]["/sys/devices/system/cpu/online"])
        res = R.build_sched_domains(R.topology_from_firmware(c["firmware"], online))
        want = R.sched_lines(exp["dmesg"])
        assert res.dmesg == want or not want, case
        want_files = {k: v for k, v in exp["files"].items()
                      if k.startswith(DEBUGFS + "/") and k.rsplit("/", 1)[1] in ATTRS}
        assert res.debugfs() == want_files, case


def test_reference_worked_example() -> None:
    """algorithms.md §8.5: 2 packages = 2 nodes, 2 cores x 2 threads, distance 10/20."""
    fw = numa_hpe.Firmware.qemu(sockets=2, cores=2, threads=2, node_mem=["256M", "256M"],
                                node_cpus=[[0, 1, 2, 3], [4, 5, 6, 7]],
                                distances=[[10, 20], [20, 10]]).to_dict()
    res = R.build_sched_domains(R.topology_from_firmware(fw))
    assert res.dmesg[:7] == [
        "CPU0 attaching sched-domain(s):",
        " domain-0: span=0-1 level=SMT",
        "  groups: 0:{ span=0 }, 1:{ span=1 }",
        "  domain-1: span=0-3 level=MC",
        "   groups: 0:{ span=0-1 cap=2048 }, 2:{ span=2-3 cap=2048 }",
        "   domain-2: span=0-7 level=NUMA",
        "    groups: 0:{ span=0-3 cap=4096 }, 4:{ span=4-7 cap=4096 }",
    ]
    assert "  groups: 5:{ span=5 }, 4:{ span=4 }" in res.dmesg


def test_reference_shared_group_chain_order() -> None:
    """Non-overlap groups share ``next`` pointers: the order printed for every CPU is the one
    the last CPU of the span wrote. Child spans A={0,3}, B={1,4}, C={2} inside one MC span:
    CPU0 alone would link A->B->C, but CPU4 (the last builder) links B->A->C->B."""
    cpus = {c: R.CpuTopo(c, 0, 0, core, 0, 0, core) for c, core in
            ((0, 0), (3, 0), (1, 1), (4, 1), (2, 2))}
    topo = R.Topology(cpus, lambda a, b: 10, frozenset(cpus), frozenset(cpus))
    res = R.build_sched_domains(topo)
    mc = {cpu: doms[-1] for cpu, doms in res.domains.items()}
    assert [g[0] for g in mc[0].groups] == [0, 2, 1]
    assert [g[0] for g in mc[1].groups] == [1, 0, 2]
    assert [g[0] for g in mc[2].groups] == [2, 1, 0]
    assert not res.errors


# -- 2. the emulator against the reference -------------------------------------------------
@st.composite
def machines(draw: st.DrawFn) -> dict[str, Any]:
    sockets = draw(st.integers(1, 4))
    dies = draw(st.integers(1, 2))
    cores = draw(st.integers(1, 4))
    threads = draw(st.integers(1, 2))
    nslots = sockets * dies * cores * threads
    nnodes = draw(st.integers(1, 4))
    mode = draw(st.sampled_from(["package", "core", "thread", "block"]))
    if mode == "package":  # whole packages per node (or a package split over nodes by die)
        key = [s // (dies * cores * threads) for s in range(nslots)]
    elif mode == "core":  # a node per core, threads together
        key = [s // threads for s in range(nslots)]
    elif mode == "thread":  # anything goes, SMT siblings may sit on different nodes
        key = list(range(nslots))
    else:  # contiguous blocks (QEMU-style cpus=a-b), splitting packages
        key = [s * nnodes // nslots for s in range(nslots)]
    nkeys = max(key) + 1
    node_of_key = draw(st.lists(st.integers(0, nnodes - 1), min_size=nkeys, max_size=nkeys))
    node_cpus = [[s for s in range(nslots) if node_of_key[key[s]] == n] for n in range(nnodes)]
    dist = [[10] * nnodes for _ in range(nnodes)]
    for i in range(nnodes):
        for j in range(i + 1, nnodes):
            dist[i][j] = dist[j][i] = draw(st.integers(11, 40))
    # memoryless nodes (CPUs only) besides node 0
    node_mem = ["128M"] + [draw(st.sampled_from(["128M", "128M", 0])) for _ in range(nnodes - 1)]
    present = draw(st.integers(1, nslots)) if draw(st.booleans()) else nslots
    maxcpus = draw(st.integers(1, present)) if draw(st.booleans()) else None
    # ("on"|"off", logical cpu) writes, or ("add", k): ACPI insert of the k-th free slot
    op = st.tuples(st.sampled_from(["on", "off", "off", "add"]), st.integers(0, nslots - 1))
    ops = draw(st.lists(op, max_size=6))
    return {"sockets": sockets, "dies": dies, "cores": cores, "threads": threads,
            "node_cpus": node_cpus, "node_mem": node_mem, "distances": dist,
            "present": present, "maxcpus": maxcpus, "ops": ops}


def _emulator_debugfs(m: Any) -> dict[str, str]:
    out = {}
    for cpu_dir in m.listdir(DEBUGFS):
        for dom in m.listdir(f"{DEBUGFS}/{cpu_dir}"):
            for attr in ATTRS:
                path = f"{DEBUGFS}/{cpu_dir}/{dom}/{attr}"
                out[path] = m.read(path)
    return out


def _check(m: Any, topo: R.Topology, new_lines: list[str], want_lines: list[str],
           what: str) -> None:
    got = attach_block(new_lines)
    assert got == want_lines, f"{what}: sched_verbose lines differ"
    files = _emulator_debugfs(m)
    res = R.build_sched_domains(topo)
    assert files == res.debugfs(), f"{what}: debugfs differs"
    assert sanity_violations(got, overlap_of(files)) == [], what
    assert sanity_violations(res.dmesg, overlap_of(res.debugfs())) == [], what


def _topology(fwd: dict[str, Any], added: dict[int, dict[str, Any]], online: frozenset[int],
              boot: frozenset[int]) -> R.Topology:
    """The reference's view: enabled slots (logical id = rank) plus hot-added slots."""
    topo = R.topology_from_firmware(fwd, online, boot)
    for cpu, slot in added.items():
        pkg, die, core = slot["package"], slot["die"], slot["core"]
        topo.cpus[cpu] = R.CpuTopo(cpu, pkg, die, core, slot["node"], (pkg << 16) | die,
                                   (pkg << 32) | (die << 16) | core)
    return topo


def run_differential(spec: dict[str, Any]) -> None:
    fw = numa_hpe.Firmware.qemu(sockets=spec["sockets"], dies=spec["dies"], cores=spec["cores"],
                                threads=spec["threads"], cpus=spec["present"],
                                node_mem=spec.get("node_mem") or ["128M"] * len(spec["node_cpus"]),
                                node_cpus=spec["node_cpus"], distances=spec["distances"])
    cmdline = "sched_verbose" + (f" maxcpus={spec['maxcpus']}" if spec["maxcpus"] else "")
    m = numa_hpe.Machine(fw, cmdline, kernel_config="oracle")
    fwd = fw.to_dict()
    free_slots = [s for s in fwd["cpus"] if not s["enabled"]]
    added: dict[int, dict[str, Any]] = {}
    boot = frozenset(R.parse_cpulist(m.read("/sys/devices/system/cpu/online")))
    topo = _topology(fwd, added, boot, boot)
    assert topo.online == frozenset(range(spec["maxcpus"] or spec["present"]))
    _check(m, topo, m.dmesg(), R.build_sched_domains(topo).dmesg, "boot")
    online = boot
    for kind, arg in spec["ops"]:
        before = len(m.dmesg())
        if kind == "add":
            if not free_slots:
                continue
            slot = free_slots.pop(arg % len(free_slots))
            cpu = m.add_cpu(slot["apic_id"])
            added[cpu] = slot
            assert attach_block(m.dmesg()[before:]) == [], "ACPI insert rebuilt the domains"
            continue
        cpu, up = arg, kind == "on"
        try:
            m.write(f"/sys/devices/system/cpu/cpu{cpu}/online", "1\n" if up else "0\n")
        except OSError:
            continue
        now = frozenset(R.parse_cpulist(m.read("/sys/devices/system/cpu/online")))
        assert now == (online | {cpu} if up else online - {cpu})
        new = m.dmesg()[before:]
        if now == online:
            assert attach_block(new) == [], f"no-op write to cpu{cpu} rebuilt the domains"
            continue
        topo = _topology(fwd, added, now, boot)
        _check(m, topo, new, attach_block(R.rebuild_lines(topo, online)), f"cpu{cpu} -> {int(up)}")
        online = now
    # incremental == full: the state reached through hotplug (checked above against the
    # reference's from-scratch build) survives a forced rebuild of the same CPUs, which the
    # kernel's partition_sched_domains() treats as a no-op (same doms, no new topology)
    before = len(m.dmesg())
    m.rebuild_sched_domains()
    again = attach_block(m.dmesg()[before:])
    assert again in ([], attach_block(R.rebuild_lines(topo, online))), "forced rebuild differs"
    assert _emulator_debugfs(m) == R.build_sched_domains(topo).debugfs(), "forced rebuild differs"


_LINE = [[10, 20, 30, 40], [20, 10, 20, 30], [30, 20, 10, 20], [40, 30, 20, 10]]


@settings(suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(machines())
@example({"sockets": 2, "dies": 1, "cores": 2, "threads": 2,
          "node_cpus": [[0, 1], [2, 3], [4, 5], [6, 7]],
          "distances": [[10, 12, 20, 22], [12, 10, 22, 20], [20, 22, 10, 12], [22, 20, 12, 10]],
          "present": 8, "maxcpus": None, "ops": [("off", 3), ("off", 2), ("on", 2), ("on", 3)]})
@example({"sockets": 4, "dies": 1, "cores": 2, "threads": 1,  # NUMA diameter 3: descended siblings
          "node_cpus": [[0, 1], [2, 3], [4, 5], [6, 7]], "distances": _LINE, "present": 8,
          "maxcpus": None, "ops": [("off", 5), ("off", 4), ("on", 4)]})
@example({"sockets": 2, "dies": 2, "cores": 1, "threads": 2,
          "node_cpus": [[0, 1], [2, 3], [4, 5], [6, 7]], "distances": _LINE, "present": 8,
          "maxcpus": 6, "ops": [("off", 2), ("off", 3), ("on", 6)]})
@example({"sockets": 1, "dies": 1, "cores": 4, "threads": 1, "node_cpus": [[0], [1], [2], [3]],
          "distances": _LINE, "present": 4, "maxcpus": None, "ops": [("off", 1)]})
@example({"sockets": 2, "dies": 1, "cores": 2, "threads": 2,  # oracle cpuhp, hot-added CPUs
          "node_cpus": [[0, 1, 2, 3], [4, 5, 6, 7]], "distances": [[10, 21], [21, 10]],
          "present": 2, "maxcpus": None,
          "ops": [("add", 2), ("on", 2), ("add", 0), ("on", 3), ("off", 1), ("on", 1)]})
def test_emulator_matches_reference(spec: dict[str, Any]) -> None:
    run_differential(spec)


# 6.1: the cpuset rebuild is a work item that runs after the hotplug completes (oracle numa4
# cpu3_offline: the offline line comes first)
def test_offline_line_precedes_rebuild() -> None:
    fw = numa_hpe.Firmware.qemu(sockets=2, cores=2, threads=2, node_mem=["256M", "256M"],
                                node_cpus=[[0, 1, 2, 3], [4, 5, 6, 7]],
                                distances=[[10, 20], [20, 10]])
    m = numa_hpe.Machine(fw, "sched_verbose", kernel_config="oracle")
    before = len(m.dmesg())
    m.write("/sys/devices/system/cpu/cpu5/online", "0\n")
    new = m.dmesg()[before:]
    first_attach = next(k for k, x in enumerate(new) if "attaching" in x)
    assert new.index("smpboot: CPU 5 is now offline") < first_attach
