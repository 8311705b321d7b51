"""docs/ABI.md documents every file and link of the emulated tree (collapsed with N)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

from abi_paths import collapse, emulated_paths  # noqa: E402


def test_collapse() -> None:
    assert collapse("/sys/devices/system/node/node12/memory40") == "/sys/devices/system/node/nodeN/memoryN"
    assert collapse("/sys/kernel/debug/sched/domains/cpu3/domain1/name") == \
        "/sys/kernel/debug/sched/domains/cpuN/domainN/name"
    assert collapse("/sys/devices/system/memory/block_size_bytes") == "/sys/devices/system/memory/block_size_bytes"


def test_every_emulated_path_is_documented() -> None:
    doc = (ROOT / "docs" / "ABI.md").read_text()
    documented = set(re.findall(r"^What:\s+(\S+)$", doc, re.MULTILINE))
    paths = set(emulated_paths())
    assert "/sys/kernel/debug/mem_hotplug/add_node" in paths  # the patchset layouts are walked
    assert "/sys/devices/system/node/probe" in paths  # v3
    assert paths - documented == set()
    assert documented - paths == set()
    entries = doc.split("\nWhat:")[1:]
    assert all(("Date:" in e and "Contact:" in e and "Description:\tMode " in e) for e in entries)
