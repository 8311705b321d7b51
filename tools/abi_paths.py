"""Print the emulated file tree's paths with instance numbers collapsed to N (the list
docs/ABI.md documents): ``python tools/abi_paths.py``."""

from __future__ import annotations

import re

import numa_hpe

NUMBERED = re.compile(r"(?<=/)(cpu|node|memory|domain|cpuidle/state)(\d+)(?=/|$)")


def collapse(path: str) -> str:
    return NUMBERED.sub(lambda m: f"{m.group(1)}N", path)


def emulated_paths() -> list[str]:
    """Files and links of machines covering every kernel config and patchset layout."""
    fw = numa_hpe.Firmware.qemu(sockets=2, cores=2, threads=2, cpus=6, node_mem=["1G", "1G"],
                                node_cpus=[[0, 1, 2, 3], [4, 5, 6, 7]], maxmem="4G", slots=2)
    out: set[str] = set()
    for cmdline, config, version in [("numa=possible=4 sched_verbose", "numa_hpe", None),
                                     ("numa=possible=4", "numa_hpe", "v7"),
                                     ("numa=possible=4", "numa_hpe", "v6"),
                                     ("numa=possible=4", "numa_hpe", "v5"),
                                     ("numa=possible=4", "numa_hpe", "v10"),
                                     ("numa=hide=1*512", "numa_hpe", "v3"),
                                     ("sched_verbose", "oracle", None)]:
        m = numa_hpe.Machine(fw, cmdline, config, version)
        snap = m.snapshot()
        out |= {collapse(p) for p in [*snap["files"], *snap["links"], *snap["unreadable"]]}
    return sorted(out)


if __name__ == "__main__":
    print("\n".join(emulated_paths()))
