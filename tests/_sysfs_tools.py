"""Tools without a sysroot option (numactl, chmem) run against an emulated tree in a private
mount namespace (``numa_hpe.mount.run_bind_sys``): shared by the export and mount tests."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

import numa_hpe
from numa_hpe.mount import run_bind_sys


def run_tool(sys_dir: Path, *cmd: str) -> subprocess.CompletedProcess[str]:
    """``cmd`` (a tool name and its arguments) with ``sys_dir``'s /sys/devices/system bound over
    the real one. Skips when the tool is missing or this host cannot make a private bind mount
    (not root, no ``unshare``: the binds need CAP_SYS_ADMIN; CI runs as root)."""
    if shutil.which(cmd[0]) is None:
        pytest.skip(f"{cmd[0]} is not installed (util-linux / numactl)")
    if shutil.which("unshare") is None:
        pytest.skip("unshare (util-linux) is not installed")
    r = run_bind_sys(sys_dir, list(cmd), capture_output=True, text=True, timeout=60,
                     env={**os.environ, "LC_ALL": "C"})
    if r.returncode == 125 or (r.returncode != 0 and r.stderr.startswith("unshare:")):
        pytest.skip(f"no private bind mount here: {r.stderr.strip()}")
    return r


def check_numactl_hardware(out: str, m: numa_hpe.Machine) -> None:
    """``numactl --hardware`` shows ``m``'s online nodes, their CPUs, sizes and distances."""
    lines = out.splitlines()
    nodes = [n for n in m.nodes() if n.online]
    assert lines[0] == f"available: {len(nodes)} nodes ({m.read('/sys/devices/system/node/online').strip()})"
    for n in nodes:
        assert f"node {n.nid} cpus: {' '.join(map(str, n.cpus))}".rstrip() in lines
        assert f"node {n.nid} size: {n.mem_total_kb // 1024} MB" in lines
    dist = m.distance_matrix()
    rows = lines[lines.index("node distances:") + 2:]
    assert len(rows) == len(nodes)
    for n, row in zip(nodes, rows):
        assert [int(x) for x in row.split(":")[1].split()] == [int(dist[n.nid, o.nid]) for o in nodes]
