"""Topology in and out (``numa_hpe.topology_io``): hwloc synthetic strings, QEMU options both
ways (round trip on every oracle case's firmware), and importing a sysfs tree."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from _shared import case_names, oracle_dir
from numa_hpe import Firmware, InvalidDescriptionError, Machine
from numa_hpe.cli import main
from numa_hpe.topology_io import parse_qemu_args, parse_synthetic, qemu_args, to_synthetic

GiB = 1 << 30


def case_doc(case: str) -> dict[str, Any]:
    return json.loads((oracle_dir() / "cases" / case / "case.json").read_text())  # type: ignore[operator]


# -- QEMU ----------------------------------------------------------------------------------
@pytest.mark.parametrize("case", case_names())
def test_parse_qemu_args_builds_the_case_firmware(case: str) -> None:
    doc = case_doc(case)
    assert Firmware.qemu(**parse_qemu_args(doc["source"]["qemu_args"])).to_dict() == doc["firmware"]


@pytest.mark.parametrize("case", case_names())
def test_qemu_args_round_trip(case: str) -> None:
    doc = case_doc(case)
    args = qemu_args(Firmware.from_dict(doc["firmware"]))
    assert Firmware.qemu(**parse_qemu_args(args)).to_dict() == doc["firmware"]


def test_qemu_args_text(oracle: Path) -> None:
    args = qemu_args(Firmware.from_case(oracle / "cases" / "cpuhp"))
    # cpuhp: -smp 2,maxcpus=8,sockets=2,cores=2,threads=2 -m 2G, two 1G nodes, distance 21
    assert args[:4] == ["-smp", "2,maxcpus=8,sockets=2,cores=2,threads=2", "-m", "2G"]
    assert "memory-backend-ram,id=m0,size=1G" in args and "memory-backend-ram,id=m1,size=1G" in args
    assert "node,nodeid=0,memdev=m0,cpus=0-3" in args and "node,nodeid=1,memdev=m1,cpus=4-7" in args
    assert "dist,src=0,dst=1,val=21" in args


def test_parse_qemu_args_forms() -> None:
    kw = parse_qemu_args(["-enable-kvm", "-smp", "cpus=4,sockets=2", "-m", "size=2G,slots=2,maxmem=4G",
                          "-machine", "pc", "-numa", "node,nodeid=0,cpus=0,cpus=2,mem=1G",
                          "-numa", "node,nodeid=1,cpus=1,cpus=3,mem=1G"])
    assert kw == dict(sockets=2, dies=1, cores=2, threads=1, cpus=4, mem="2G", maxmem="4G", slots=2,
                      node_mem=["1G", "1G"], node_cpus=[[0, 2], [1, 3]])


def test_cli_qemu_args(oracle: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["qemu-args", "--case", str(oracle / "cases" / "uma"), "--cmdline", "nokaslr"]) == 0
    # uma: -smp 2 -m 2G (QEMU >= 6.2 prefers cores)
    assert capsys.readouterr().out == (
        "qemu-system-x86_64 -machine pc -smp 2,maxcpus=2,sockets=1,cores=2,threads=1 -m 2G -append nokaslr\n")
    assert main(["qemu-args", "--topology", "numa:2 core:2", "--json"]) == 0
    args = json.loads(capsys.readouterr().out)
    assert args[:2] == ["-smp", "4,maxcpus=4,sockets=1,cores=4,threads=1"]


# -- hwloc synthetic -------------------------------------------------------------------------
def node_mem(fw: Firmware) -> dict[int, int]:
    out: dict[int, int] = {}
    for a in fw.memory_affinity:
        out[a["node"]] = out.get(a["node"], 0) + a["end"] - a["start"] + 1 + (0x60000 if a["start"] == 0 else 0)
    return out


def test_synthetic_memory_attribute() -> None:
    fw = parse_synthetic("pack:2 numa:2(memory=512MB) core:4 pu:2")
    assert len(fw.cpus) == 2 * 2 * 4 * 2
    assert node_mem(fw) == {n: 512 << 20 for n in range(4)}
    # NUMA below the package: each package holds two nodes
    assert {c["package"] for c in fw.cpus if c["node"] in (0, 1)} == {0}


def test_synthetic_matches_firmware_synthetic() -> None:
    assert parse_synthetic("NUMANode:2(memory=1GB) Package:1 Core:4 PU:2").to_dict() == \
        Firmware.synthetic("node:2 package:1 core:4 pu:2", mem_per_node="1G").to_dict()
    assert parse_synthetic("machine:1 node:2 l3:1 core:2 pu:1").to_dict() == \
        Firmware.synthetic("node:2 core:2").to_dict()


def test_synthetic_distances_and_options() -> None:
    fw = parse_synthetic("numa:3 core:1 distances=10:30")
    assert fw.distances == [[10, 30, 30], [30, 10, 30], [30, 30, 10]]
    fw = parse_synthetic("numa:2 core:2 distances=10,21,21,10 cpus=3 maxmem=8G slots=2")
    assert fw.distances == [[10, 21], [21, 10]]
    assert [c["enabled"] for c in fw.cpus] == [True, True, True, False]
    assert fw.hotplug_memory_window is not None


@pytest.mark.parametrize("bad", ["numa:2(color=red) core:1", "l3:2 core:2", "numa:2 core:1 distances=10,20,20",
                                 "numa:2 core:1 distances=10,20,20,10,10,10,10,10,10", "numa:2 core:1 bogus=1",
                                 "numa:2(memory=lots) core:1", "", "nodes=2"])
def test_synthetic_errors(bad: str) -> None:
    with pytest.raises(InvalidDescriptionError, match="topology"):
        parse_synthetic(bad)


def test_to_synthetic_round_trip() -> None:
    fw = Firmware.synthetic("node:2 package:1 core:4 pu:2", mem_per_node="2G")
    text = to_synthetic(fw)
    assert text == "numa:2(memory=2GB) package:1 core:4 pu:2 distances=10,20,20,10"
    assert parse_synthetic(text).to_dict() == fw.to_dict()
    fw = Firmware.synthetic("package:2 node:2 core:2 pu:1", mem_per_node="512M")
    assert parse_synthetic(to_synthetic(fw)).to_dict() == fw.to_dict()


# -- firmware files and the CLI ---------------------------------------------------------------
def test_cli_firmware_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "fw.json"
    assert main(["firmware", "--topology", "numa:2(memory=1GB) core:2", "-o", str(out)]) == 0
    assert Firmware.from_json(out.read_text()).to_dict() == Firmware.synthetic("node:2 core:2").to_dict()
    assert main(["cat", "/sys/devices/system/node/node1/cpulist", "--firmware", str(out)]) == 0
    assert capsys.readouterr().out == "2-3\n"
    assert main(["firmware", "--firmware", str(out), "--format", "synthetic"]) == 0
    assert capsys.readouterr().out == "package:1 numa:2(memory=1GB) core:2 pu:1 distances=10,20,20,10\n"


# -- sysfs import ------------------------------------------------------------------------------
def make_tree(root: Path, files: dict[str, str], links: dict[str, str] | None = None) -> Path:
    for path, data in files.items():
        p = root / path.lstrip("/")
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(data)
    for path, target in (links or {}).items():
        p = root / path.lstrip("/")
        p.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(target, p)
    return root


def test_from_sysfs_fake_tree(tmp_path: Path) -> None:
    S = "sys/devices/system"
    files = {f"{S}/cpu/present": "0-3\n", f"{S}/cpu/online": "0-3\n", f"{S}/node/online": "0-1\n",
             f"{S}/node/possible": "0-1\n",
             f"{S}/node/node0/cpulist": "0-1\n", f"{S}/node/node1/cpulist": "2-3\n",
             f"{S}/node/node0/distance": "10 21\n", f"{S}/node/node1/distance": "21 10\n",
             # MemTotal (managed pages) is below the node's size: rounded up to 128 MiB
             f"{S}/node/node0/meminfo": "Node 0 MemTotal:        1000000 kB\nNode 0 MemFree: 1 kB\n",
             f"{S}/node/node1/meminfo": "Node 1 MemTotal:        1040000 kB\n"}
    for c, (pkg, core) in enumerate([(0, 0), (0, 1), (1, 0), (1, 1)]):
        files[f"{S}/cpu/cpu{c}/topology/physical_package_id"] = f"{pkg}\n"
        files[f"{S}/cpu/cpu{c}/topology/core_id"] = f"{core}\n"
        files[f"{S}/cpu/cpu{c}/topology/die_id"] = "0\n"
    fw = Firmware.from_sysfs(make_tree(tmp_path, files))
    want = Firmware.qemu(sockets=2, cores=2, threads=1, node_mem=["1G", "1G"], node_cpus=[[0, 1], [2, 3]],
                         distances=[[10, 21], [21, 10]])
    assert fw.to_dict() == want.to_dict()


def test_from_sysfs_uma_without_node_dir(tmp_path: Path) -> None:
    S = "sys/devices/system"
    files = {f"{S}/cpu/present": "0-1\n", "proc/meminfo": "MemTotal:        2000000 kB\n"}
    for c in (0, 1):
        files[f"{S}/cpu/cpu{c}/topology/physical_package_id"] = "0\n"
        files[f"{S}/cpu/cpu{c}/topology/core_id"] = "0\n"  # SMT siblings
    fw = Firmware.from_sysfs(make_tree(tmp_path, files))
    assert fw.to_dict() == Firmware.qemu(sockets=1, cores=1, threads=2, mem=2048 << 20).to_dict()


def test_from_sysfs_of_an_emulated_tree(tmp_path: Path) -> None:
    """Write a booted machine's files and links out as a tree: the import gives the
    firmware back (blocks per node give exact memory sizes)."""
    fw = Firmware.qemu(sockets=2, cores=2, threads=2, node_mem=["1G", "1536M"],
                       node_cpus=[[0, 1, 2, 3], [4, 5, 6, 7]], distances=[[10, 17], [17, 10]])
    snap = Machine(fw, "", "oracle").snapshot("/sys/devices/system")
    make_tree(tmp_path, snap["files"], snap["links"])
    assert Firmware.from_sysfs(tmp_path).to_dict() == fw.to_dict()


def test_from_sysfs_missing_tree(tmp_path: Path) -> None:
    with pytest.raises(InvalidDescriptionError, match="sysfs"):
        Firmware.from_sysfs(tmp_path)


@pytest.mark.skipif(not Path("/sys/devices/system/cpu/present").exists(), reason="no /sys on this host")
def test_from_sysfs_this_host() -> None:
    fw = Firmware.from_sysfs("/")
    text = Path("/sys/devices/system/cpu/present").read_text().strip()
    count = sum(int(b or a) - int(a) + 1 for a, _, b in (r.partition("-") for r in text.split(",")))
    assert len(fw.cpus) == count  # one QEMU slot per present CPU
    assert Machine(fw).read("/sys/devices/system/cpu/present") == (f"0-{count - 1}\n" if count > 1 else "0\n")
