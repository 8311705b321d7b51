"""The ``numa-hpe`` console script."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest


def numa_hpe_cmd() -> list[str]:
    exe = Path(sys.executable).with_name("numa-hpe")
    if exe.exists():
        return [str(exe)]
    found = shutil.which("numa-hpe")
    if found is None:
        pytest.fail("the numa-hpe console script is not installed")
    return [found]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(numa_hpe_cmd() + list(args), capture_output=True, text=True, timeout=120)


def test_demo() -> None:
    r = run("demo")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    # patchset.md §6: node/possible 0-4 and cpu/present 0-3 after boot
    assert lines[lines.index("# cat /sys/devices/system/node/possible") + 1] == "0-4"
    assert lines[lines.index("# cat /sys/devices/system/cpu/present") + 1] == "0-3"
    assert lines[lines.index("# cat /sys/devices/system/node/has_memory") + 1] == "0-1"


def test_replay_writes_snapshots_and_steps(oracle: Path, tmp_path: Path) -> None:
    case = oracle / "cases" / "uma"
    out = tmp_path / "uma"
    r = run("replay", str(case), "-o", str(out))
    assert r.returncode == 0, r.stderr
    steps = json.loads((case / "case.json").read_text())["steps"]
    labels = {s["snapshot"] for s in steps if "snapshot" in s}
    assert labels
    assert {p.name for p in out.iterdir()} == {f"{label}.json" for label in labels} | {"steps.json"}
    for label in labels:
        snap = json.loads((out / f"{label}.json").read_text())
        assert {"files", "links", "dmesg"} <= set(snap)
        assert snap["files"]["/sys/devices/system/node/online"] == "0\n"
    results = json.loads((out / "steps.json").read_text())
    assert [r["index"] for r in results] == [i for i, s in enumerate(steps) if "snapshot" not in s]
    assert all("result" in r for r in results)


def test_cat_with_do(tmp_path: Path) -> None:
    r = run("cat", "/sys/devices/system/node/online", "--cmdline", "mem=2G numa=possible=4",
            "--do", "echo 128M@0x80000000 > /sys/kernel/debug/mem_hotplug/add_node")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "0-1\n"


def test_cat_missing_file_fails() -> None:
    r = run("cat", "/sys/devices/system/node/node7/cpulist")
    assert r.returncode != 0
    assert r.stdout == ""
