"""``Machine.export`` / ``numa-hpe export``: real tools (lscpu, lsmem, hwloc's lstopo) read the
exported tree, and what they print matches the machine's own model of itself (firmware facts
and the emulator's typed views), never the tool's output fed back."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import pytest
from _sysfs_tools import check_numactl_hardware, run_tool

import numa_hpe
from numa_hpe import Firmware
from numa_hpe.cli import main as cli_main
from numa_hpe.machine import _cpulist as _parse_list

GiB = 1 << 30


@dataclass(frozen=True)
class Case:
    """A machine to export and what its firmware says about its topology."""

    name: str
    build: Callable[[], numa_hpe.Machine]
    threads_per_core: int
    cores_per_socket: int


def _uma() -> numa_hpe.Machine:
    return numa_hpe.boot(Firmware.qemu(sockets=1, cores=2, threads=2, mem="2G"))


def _numa4() -> numa_hpe.Machine:
    # the oracle's numa4: 2 sockets x 2 cores x 2 threads, one core per node
    fw = Firmware.qemu(sockets=2, cores=2, threads=2, node_mem=["512M"] * 4,
                       node_cpus=[[0, 1], [2, 3], [4, 5], [6, 7]],
                       distances=[[10, 12, 20, 22], [12, 10, 22, 20], [20, 22, 10, 12], [22, 20, 12, 10]])
    return numa_hpe.boot(fw)


def _memoryless() -> numa_hpe.Machine:
    # the oracle's dimm: node1 has CPUs but no memory, node2 neither
    fw = Firmware.qemu(sockets=2, cores=2, threads=1, node_mem=["2G", "0", "0"],
                       node_cpus=[[0, 1], [2, 3], []], maxmem="8G", slots=4,
                       distances=[[10, 20, 30], [20, 10, 25], [30, 25, 10]])
    return numa_hpe.boot(fw)


def _offline_cpus() -> numa_hpe.Machine:
    m = numa_hpe.boot(Firmware.synthetic("node:2 package:1 core:2 pu:2", mem_per_node="1G"),
                      cmdline="maxcpus=6")
    m.echo("0", "/sys/devices/system/cpu/cpu1/online")  # an SMT sibling goes down too
    return m


def _hot_added() -> numa_hpe.Machine:
    fw = Firmware.qemu(sockets=2, cores=2, threads=1, node_mem=["2G", "0", "0"],
                       node_cpus=[[0, 1], [2, 3], []], maxmem="8G", slots=4,
                       distances=[[10, 20, 30], [20, 10, 25], [30, 25, 10]])
    m = numa_hpe.boot(fw)
    m.add_memory(4 * GiB, GiB, pxm=2)  # 8 offline blocks on node2
    m.echo("online_movable", "/sys/devices/system/memory/memory32/state")
    m.echo("online", "/sys/devices/system/memory/memory33/state")
    return m


CASES = [
    Case("uma", _uma, 2, 2),
    Case("numa4", _numa4, 2, 2),
    Case("memoryless", _memoryless, 1, 2),
    Case("offline_cpus", _offline_cpus, 2, 2),
    Case("hot_added", _hot_added, 1, 2),
]


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed (util-linux / Debian hwloc)")
    return path


def _run(*args: str) -> str:
    r = subprocess.run(list(args), capture_output=True, text=True, timeout=60,
                       env={**os.environ, "LC_ALL": "C", "HWLOC_COMPONENTS": ""})
    assert r.returncode == 0, f"{' '.join(args)} failed ({r.returncode}): {r.stderr}"
    return r.stdout


@pytest.fixture(scope="module", params=CASES, ids=[c.name for c in CASES])
def exported(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[Case, numa_hpe.Machine, Path]:
    case: Case = request.param
    m = case.build()
    dest = tmp_path_factory.mktemp(case.name) / "root"
    m.export(dest)
    return case, m, dest


# -- the machine's own model ---------------------------------------------------------------------
def _online_cpus(m: numa_hpe.Machine) -> list[int]:
    return [c.cpu for c in m.cpus() if c.online]


def _ids(text: str) -> list[int]:
    """A cpu list as tools print it (lscpu writes a 2-CPU range as ``0,1``)."""
    return _parse_list(text)


# -- lscpu ---------------------------------------------------------------------------------------
def _lscpu_summary(dest: Path) -> dict[str, str]:
    out = json.loads(_run(_tool("lscpu"), "-J", "--sysroot", str(dest)))
    fields: dict[str, str] = {}

    def walk(rows: list[dict[str, Any]]) -> None:
        for r in rows:
            fields[r["field"].rstrip(":")] = r.get("data") or ""
            walk(r.get("children", []))

    walk(out["lscpu"])
    return fields


def test_lscpu_summary(exported: tuple[Case, numa_hpe.Machine, Path]) -> None:
    case, m, dest = exported
    s = _lscpu_summary(dest)
    cpus = m.cpus()
    online = _online_cpus(m)
    present = [c.cpu for c in cpus if c.present]
    assert int(s["CPU(s)"]) == len(present)
    assert _ids(s["On-line CPU(s) list"]) == online
    offline = [c for c in present if c not in online]
    if offline:
        assert _ids(s["Off-line CPU(s) list"]) == offline
    else:
        assert "Off-line CPU(s) list" not in s
    # lscpu derives these from the online CPUs' topology/ files
    packages = {c.package for c in cpus if c.online}
    assert int(s["Socket(s)"]) == len(packages)
    assert int(s["Thread(s) per core"]) == case.threads_per_core
    if not offline:  # lscpu divides the online CPUs: with some offline it undercounts
        assert int(s["Core(s) per socket"]) == case.cores_per_socket
    nodes = [n for n in m.nodes() if n.online]
    assert int(s["NUMA node(s)"]) == len(nodes)
    for n in nodes:
        assert _ids(s[f"NUMA node{n.nid} CPU(s)"]) == n.cpus  # "" for a CPU-less node


def test_lscpu_per_cpu(exported: tuple[Case, numa_hpe.Machine, Path]) -> None:
    _, m, dest = exported
    # `-e` text, not `-J`: util-linux 2.38 writes `"node": -` (invalid JSON) for offline CPUs
    out = _run(_tool("lscpu"), "-e=CPU,NODE,SOCKET,ONLINE", "--sysroot", str(dest))
    rows = {int(f[0]): f[1:] for f in (line.split() for line in out.splitlines()[1:])}
    for c in m.cpus():
        if not c.present:
            continue
        node, socket, online = rows[c.cpu]
        assert online == ("yes" if c.online else "no")
        if c.online:
            assert (int(node), int(socket)) == (c.node, c.package)
        else:  # an offline CPU is in no node's cpumap and has no topology/
            assert (node, socket) == ("-", "-")


# -- lsmem ---------------------------------------------------------------------------------------
def test_lsmem(exported: tuple[Case, numa_hpe.Machine, Path]) -> None:
    _, m, dest = exported
    lsmem = _tool("lsmem")
    blocks = m.memory_blocks()
    bs = int(m.read("/sys/devices/system/memory/block_size_bytes"), 16)
    out = json.loads(_run(lsmem, "-J", "-b", "-a", "-o", "RANGE,SIZE,STATE,BLOCK,NODE,ZONES",
                          "--sysroot", str(dest)))
    rows = out["memory"]
    assert len(rows) == len(blocks)  # -a: one row per block
    for r, b in zip(rows, blocks):
        start, end = (int(x, 16) for x in r["range"].split("-"))
        assert (start, end + 1) == (b.start, b.start + b.size)
        assert int(r["size"]) == bs
        assert r["state"] == b.state
        assert int(r["block"]) == b.block
        assert int(r["node"]) == b.nodes[0]
    summary = _run(lsmem, "-b", "--summary=only", "--sysroot", str(dest))
    facts = dict(line.split(":", 1) for line in summary.splitlines() if ":" in line)
    online = sum(b.size for b in blocks if b.state == "online")
    assert int(facts["Memory block size"]) == bs
    assert int(facts["Total online memory"]) == online
    assert int(facts["Total offline memory"]) == sum(b.size for b in blocks) - online


# -- hwloc ---------------------------------------------------------------------------------------
def test_lstopo(exported: tuple[Case, numa_hpe.Machine, Path]) -> None:
    _, m, dest = exported
    lstopo = _tool("lstopo-no-graphics")
    xml = _run(lstopo, "--if", "fsroot", "--input", str(dest), "--of", "xml")
    counts: dict[str, int] = {}
    for obj in ET.fromstring(xml).iter("object"):
        counts[obj.get("type", "")] = counts.get(obj.get("type", ""), 0) + 1
    cpus = [c for c in m.cpus() if c.online]
    assert counts.get("PU", 0) == len(cpus)
    assert counts.get("Core", 0) == len({(c.package, c.core) for c in cpus})
    assert counts.get("Package", 0) == len({c.package for c in cpus})
    # hwloc shows every online node, CPU-less and memory-less ones included
    assert counts.get("NUMANode", 0) == sum(n.online for n in m.nodes())


# -- the tree itself -----------------------------------------------------------------------------
def test_tree_matches_snapshot(exported: tuple[Case, numa_hpe.Machine, Path]) -> None:
    _, m, dest = exported
    snap = m.snapshot("/sys/devices/system/node")
    for path, content in snap["files"].items():
        assert (dest / path.lstrip("/")).read_text() == content
    for path, target in snap["links"].items():
        link = dest / path.lstrip("/")
        assert os.readlink(link) == target
        assert link.resolve().is_relative_to(dest.resolve())  # relative, inside DIR
        assert link.resolve().exists()
    assert oct((dest / "sys/devices/system/memory/memory0/state").stat().st_mode & 0o777) == "0o644"
    assert oct((dest / "sys/devices/system/memory/block_size_bytes").stat().st_mode & 0o777) == "0o444"


def test_refuses_non_empty_dir_without_force(tmp_path: Path) -> None:
    m = _uma()
    (tmp_path / "keep").write_text("x")
    with pytest.raises(FileExistsError):
        m.export(tmp_path)
    # force replaces sys/ and proc/ (a planted link is removed, never followed) and keeps the rest
    outside = tmp_path.parent / f"{tmp_path.name}-outside"
    outside.mkdir()
    (tmp_path / "sys").symlink_to(outside)
    st = m.export(tmp_path, force=True)
    assert st.files > 0 and not any(outside.iterdir())
    assert (tmp_path / "keep").read_text() == "x"
    assert (tmp_path / "sys/devices/system/cpu/online").read_text() == m.read("/sys/devices/system/cpu/online")


def test_cli_export(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dest = tmp_path / "root"
    assert cli_main(["export", str(dest), "--topology", "node:2 package:1 core:2 pu:2"]) == 0
    out = capsys.readouterr().out
    assert "exported" in out and "\r[" not in out  # no progress bar when stdout is not a tty
    assert (dest / "sys/devices/system/node/node1/cpulist").read_text() == "4-7\n"
    assert cli_main(["export", str(dest)]) == 1
    assert "not empty" in capsys.readouterr().err
    assert cli_main(["export", str(dest), "--force"]) == 0


def test_progress_bar() -> None:
    import io

    from numa_hpe.export import progress_bar

    buf = io.StringIO()
    draw = progress_bar(buf, width=10)
    for done in (0, 5, 5, 10):
        draw(done, 10)
    assert buf.getvalue() == ("\r[          ]   0% 0/10 files\r[#####     ]  50% 5/10 files"
                              "\r[##########] 100% 10/10 files\n")


def test_progress_callback_reaches_total(tmp_path: Path) -> None:
    calls: list[tuple[int, int]] = []
    st = _numa4().export(tmp_path / "r", progress=lambda d, t: calls.append((d, t)))
    assert calls and calls[-1] == (st.files + st.links, st.files + st.links)


def _tree(root: Path) -> dict[str, tuple[str, int, str]]:
    """Every entry below ``root``: kind, permission bits, and contents or link target."""
    out = {}
    for d, dirs, files in os.walk(root):  # does not follow the links
        for name in dirs + files:
            p = Path(d) / name
            st = p.lstat()
            rel = str(p.relative_to(root))
            if p.is_symlink():
                out[rel] = ("link", 0, os.readlink(p))
            elif p.is_dir():
                out[rel] = ("dir", st.st_mode & 0o777, "")
            else:
                out[rel] = ("file", st.st_mode & 0o777, p.read_text() if st.st_mode & 0o444 else "")
    return out


def test_threads_write_the_same_tree(tmp_path: Path) -> None:
    m = numa_hpe.boot(Firmware.synthetic("node:4 package:1 core:4 pu:2", mem_per_node="1G"),
                      cmdline="maxcpus=20")
    one = m.export(tmp_path / "one", threads=1)
    many = m.export(tmp_path / "many", threads=5)
    assert (one.files, one.links, one.dirs, one.bytes) == (many.files, many.links, many.dirs, many.bytes)
    tree = _tree(tmp_path / "one")
    assert tree == _tree(tmp_path / "many")
    assert sum(kind == "file" for kind, _, _ in tree.values()) == one.files
    assert sum(kind == "link" for kind, _, _ in tree.values()) == one.links
    assert sum(kind == "dir" for kind, _, _ in tree.values()) == one.dirs


def test_a_failing_worker_stops_the_export(tmp_path: Path) -> None:
    # the second root lies inside the first: some worker's mkdir finds it already made
    m = _numa4()
    with pytest.raises(FileExistsError, match="cpu"):
        m.export(tmp_path / "r", roots=["/sys/devices/system", "/sys/devices/system/cpu"], threads=3)


def test_progress_from_several_workers_only_increases(tmp_path: Path) -> None:
    m = numa_hpe.boot(Firmware.synthetic("node:8 package:1 core:8 pu:2", mem_per_node="2G"))
    calls: list[tuple[int, int]] = []
    st = m.export(tmp_path / "r", threads=4, progress=lambda d, t: calls.append((d, t)))
    total = st.files + st.links
    assert len(calls) > 10 and calls[-1] == (total, total)
    done = [d for d, _ in calls]
    assert done == sorted(done) and all(t == total for _, t in calls)


# -- numactl (libnuma reads /sys/devices/system/node; it has no sysroot option) -----------------
def test_numactl_hardware_in_a_private_bind_mount(exported: tuple[Case, numa_hpe.Machine, Path]) -> None:
    _, m, dest = exported
    r = run_tool(dest / "sys", "numactl", "--hardware")
    assert r.returncode == 0, r.stderr
    check_numactl_hardware(r.stdout, m)
