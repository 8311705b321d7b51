"""Firmware builders: ``Firmware.qemu`` reproduces the firmware recorded in each oracle case
from the case's own QEMU options (``source.qemu_args``), ``Firmware.synthetic`` shapes, and
invalid descriptions raise ``InvalidDescriptionError`` naming the field."""

from __future__ import annotations

import copy
import json
import pickle
from typing import Any

import pytest

from _shared import case_names, oracle_dir
import numa_hpe
from numa_hpe import Firmware, InvalidDescriptionError

FIELDS = ["e820", "memory_affinity", "cpus", "distances", "nr_cpus_possible", "hotplug_memory_window"]
# (case, field) that Firmware.qemu cannot reproduce yet -> reason (strict xfail).
QEMU_GAPS: dict[tuple[str, str], str] = {}


def _kv(spec: str) -> tuple[str, dict[str, str]]:
    head, *rest = spec.split(",")
    opts = dict(item.split("=", 1) if "=" in item else (item, "") for item in rest)
    return head, opts


def _cpu_range(text: str) -> list[int]:
    a, _, b = text.partition("-")
    return list(range(int(a), int(b or a) + 1))


def qemu_kwargs(args: list[str]) -> dict[str, Any]:
    """QEMU 7.2 ``pc`` command-line options -> ``Firmware.qemu`` keyword arguments.

    ``-smp`` follows hw/core/machine-smp.c for machine types >= 6.2 (missing values: dies = 1;
    cores preferred over sockets), ``-numa dist`` is mirrored with 10 on the diagonal.
    """
    kw: dict[str, Any] = {}
    backends: dict[str, str] = {}
    nodes: dict[int, dict[str, Any]] = {}
    dist: dict[tuple[int, int], int] = {}
    it = iter(args)
    for flag in it:
        val = next(it)
        if flag == "-smp":
            head, o = _kv("cpus=" + val if "=" not in val.split(",")[0] else val)
            o = dict(o, **{head.split("=")[0]: head.split("=")[1]}) if "=" in head else o
            cpus = int(o.get("cpus", 0)) or None
            maxcpus = int(o.get("maxcpus", 0)) or cpus
            s, d, c, t = (int(o[k]) if k in o else None for k in ("sockets", "dies", "cores", "threads"))
            d = d or 1
            if t is None and s is not None and c is not None:
                t = maxcpus // (s * d * c)
            s, t = s or 1, t or 1
            c = c or maxcpus // (s * d * t)
            kw.update(sockets=s, dies=d, cores=c, threads=t, cpus=cpus)
        elif flag == "-m":
            size, _, rest = val.partition(",")
            kw["mem"] = size
            o = dict(x.split("=", 1) for x in rest.split(",") if x)
            if "maxmem" in o:
                kw["maxmem"] = o["maxmem"]
            kw["slots"] = int(o.get("slots", 0))
        elif flag == "-object":
            kind, o = _kv(val)
            assert kind == "memory-backend-ram"
            backends[o["id"]] = o["size"]
        elif flag == "-numa":
            kind, o = _kv(val)
            if kind == "node":
                nodes[int(o["nodeid"])] = o
            elif kind == "dist":
                dist[(int(o["src"]), int(o["dst"]))] = int(o["val"])
    if nodes:
        n = max(nodes) + 1
        kw["node_mem"] = [backends[nodes[i]["memdev"]] if "memdev" in nodes.get(i, {}) else 0 for i in range(n)]
        kw["node_cpus"] = [_cpu_range(nodes[i]["cpus"]) if "cpus" in nodes.get(i, {}) else [] for i in range(n)]
        if dist:
            m = [[10 if i == j else 20 for j in range(n)] for i in range(n)]
            for (a, b), v in dist.items():
                m[a][b] = v
                if (b, a) not in dist:
                    m[b][a] = v
            kw["distances"] = m
    return kw


def test_qemu_kwargs_parser() -> None:
    kw = qemu_kwargs(["-smp", "2,maxcpus=8,sockets=2,cores=2,threads=2", "-m", "2G,slots=4,maxmem=8G"])
    assert kw == dict(sockets=2, dies=1, cores=2, threads=2, cpus=2, mem="2G", maxmem="8G", slots=4)
    assert qemu_kwargs(["-smp", "2", "-m", "2G"])["cores"] == 2  # QEMU >= 6.2 prefers cores


def _params() -> list[Any]:
    out = []
    for c in case_names():
        for f in FIELDS:
            gap = QEMU_GAPS.get((c, f))
            marks = [pytest.mark.xfail(strict=True, reason=gap)] if gap else []
            out.append(pytest.param(c, f, id=f"{c}-{f}", marks=marks))
    return out


@pytest.mark.parametrize(("case", "field"), _params())
def test_qemu_reproduces_case_firmware(case: str, field: str) -> None:
    doc = json.loads((oracle_dir() / "cases" / case / "case.json").read_text())  # type: ignore[operator]
    fw = Firmware.qemu(**qemu_kwargs(doc["source"]["qemu_args"])).to_dict()
    assert fw[field] == doc["firmware"][field]


def test_from_case_round_trip(oracle: Any) -> None:
    for case in case_names():
        doc = json.loads((oracle / "cases" / case / "case.json").read_text())
        assert Firmware.from_case(oracle / "cases" / case).to_dict() == doc["firmware"]


# -- synthetic -------------------------------------------------------------------------------
def test_synthetic_shape_node_above_package() -> None:
    fw = Firmware.synthetic("node:4 package:2 core:8 pu:2", mem_per_node="1G")
    assert len(fw.cpus) == 4 * 2 * 8 * 2
    assert all(c["enabled"] for c in fw.cpus)
    assert fw.nr_cpus_possible == 128
    per_node = {n: [c for c in fw.cpus if c["node"] == n] for n in range(4)}
    assert all(len(v) == 32 for v in per_node.values())
    # each node holds whole packages (8 packages over 4 nodes)
    assert {n: sorted({c["package"] for c in v}) for n, v in per_node.items()} == {
        0: [0, 1], 1: [2, 3], 2: [4, 5], 3: [6, 7]}
    # every node gets 1 GiB of SRAT memory
    for n in range(4):
        size = sum(a["end"] - a["start"] + 1 for a in fw.memory_affinity if a["node"] == n)
        assert size == (1 << 30) - (0x100000 - 0xA0000 if n == 0 else 0)
    assert fw.distances == [[10 if i == j else 20 for j in range(4)] for i in range(4)]


def test_synthetic_numa_in_package_and_distance_function() -> None:
    fw = Firmware.synthetic("package:2 node:2 core:4 pu:2", distance=lambda i, j: 10 if i == j else 11)
    assert {c["package"] for c in fw.cpus} == {0, 1}
    nodes_of_pkg = {p: sorted({c["node"] for c in fw.cpus if c["package"] == p}) for p in (0, 1)}
    assert nodes_of_pkg == {0: [0], 1: [1]} or all(len(v) > 1 for v in nodes_of_pkg.values())
    # nodes multiply down the tree: 2 packages x 2 nodes each
    assert fw.distances == [[10 if i == j else 11 for j in range(4)] for i in range(4)]


@pytest.mark.parametrize(("topo", "ncpus"), [("package:1 node:2 core:4 pu:2", 16), ("node:2 core:4", 8)])
def test_synthetic_counts_multiply_down_the_tree(topo: str, ncpus: int) -> None:
    assert len(Firmware.synthetic(topo).cpus) == ncpus


def test_synthetic_apic_ids_are_qemu_packed() -> None:
    # 3 cores need 2 bits, 2 threads 1 bit: apic = pkg << 3 | core << 1 | thread
    fw = Firmware.synthetic("package:2 core:3 pu:2")
    assert [c["apic_id"] for c in fw.cpus] == [0, 1, 2, 3, 4, 5, 8, 9, 10, 11, 12, 13]
    assert fw.distances is None


def test_synthetic_present_cpus_and_window() -> None:
    fw = Firmware.synthetic("node:2 package:1 core:4", present_cpus=3, maxmem="8G", mem_per_node="1G")
    assert [c["enabled"] for c in fw.cpus] == [True] * 3 + [False] * 5
    assert fw.hotplug_memory_window is not None
    assert fw.hotplug_memory_window["end"] - fw.hotplug_memory_window["start"] + 1 == 6 << 30


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda: Firmware.synthetic("node:4 bogus:2"), "topology"),
        (lambda: Firmware.synthetic("node=4"), "topology"),
        (lambda: Firmware.synthetic("node:0 core:2"), "topology"),
        (lambda: Firmware.synthetic("core:4 node:3"), "topology"),
        (lambda: Firmware.synthetic("node:2048 core:2048"), "topology"),
        (lambda: Firmware.synthetic("node:2 core:2", mem_per_node="lots"), "size"),
        (lambda: Firmware.qemu(sockets=0), "cpus"),
        (lambda: Firmware.qemu(cores=2, cpus=3), "cpus"),
        (lambda: Firmware.qemu(mem="1M"), "mem"),
        (lambda: Firmware.qemu(cores=2, node_mem=["1G", "1G"], distances=[[10]]), "distances"),
        (lambda: Firmware.from_dict({"cpus": []}), "e820"),
    ],
)
def test_invalid_descriptions(call: Any, field: str) -> None:
    with pytest.raises(InvalidDescriptionError) as e:
        call()
    assert isinstance(e.value, ValueError)
    assert field in str(e.value)


def test_boot_from_parsed_handle_equals_boot_from_json() -> None:
    """A Firmware boots from its kept parsed form; the machine is the one its JSON boots."""
    fw = Firmware.qemu(sockets=2, cores=2, threads=2, node_mem=["1G", "1G"], node_cpus=[[0, 1, 2, 3], [4, 5, 6, 7]])
    a = numa_hpe.boot(fw, "maxcpus=6")
    handle = fw.parsed()
    b = numa_hpe.boot(fw, "maxcpus=6")
    assert fw.parsed() is handle, "parsed once, kept for later boots"
    c = numa_hpe.boot(fw.to_json(), "maxcpus=6")
    assert a.dmesg() == b.dmesg() == c.dmesg()
    assert a.read("/sys/devices/system/cpu/online") == c.read("/sys/devices/system/cpu/online") == "0-5\n"
    # assigning a field drops the parsed form; copies and pickles carry the facts only
    fw.cpus = fw.cpus[:2]
    assert numa_hpe.boot(fw).read("/sys/devices/system/cpu/online") == "0-1\n"
    for other in (copy.deepcopy(fw), pickle.loads(pickle.dumps(fw))):
        assert other == fw and other._parsed is None
    with pytest.raises(ValueError, match="firmware.cpus: no CPU"):
        Firmware(e820=fw.e820, cpus=[]).parsed()
