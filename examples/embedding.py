"""Embedding numa_hpe: subscribe to hotplug events with a veto, fork a machine to try two
futures, and pickle it across a process boundary.

Run: python examples/embedding.py
"""

from __future__ import annotations

import errno
import pickle
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import numa_hpe

SYS = "/sys/devices/system"


def boot() -> numa_hpe.Machine:
    fw = numa_hpe.Firmware.qemu(sockets=1, cores=4, mem="4G")
    return numa_hpe.boot(fw, cmdline="mem=2G numa=possible=4 maxcpus=2 cpu_hpe=on")


def node_online(m: numa_hpe.Machine) -> str:
    """Runs in another process: the machine arrives pickled."""
    return m.read(f"{SYS}/node/online").strip()


def main() -> None:
    m = boot()
    m.echo("128M@0x80000000", "/sys/kernel/debug/mem_hotplug/add_node")

    # 1. events with a veto: refuse to online memory on node 1 (like a driver's memory notifier)
    seen: list[str] = []

    def notifier(event: dict[str, Any]) -> int | None:
        seen.append(event["event"])
        if event["event"] == "MEM_GOING_ONLINE" and event.get("nid") == 1:
            return errno.EBUSY  # the kernel's NOTIFY_BAD: the online fails with this errno
        return None

    m.subscribe(notifier)
    try:
        m.echo("online", f"{SYS}/memory/memory16/state")
    except OSError as e:
        print(f"online refused by the notifier: {numa_hpe.errno_name(e)}")
    print("events:", seen)
    print("memory16 is", m.read(f"{SYS}/memory/memory16/state").strip())
    m.subscribe(None)

    # 2. fork: try two futures from the same state
    a, b = m.fork(), m.fork()
    a.echo("online_movable", f"{SYS}/memory/memory16/state")
    b.echo("online", f"{SYS}/memory/memory16/state")
    for name, x in (("movable", a), ("normal", b)):
        print(f"future {name}: has_normal_memory={x.read(f'{SYS}/node/has_normal_memory').strip()}")

    # 3. pickle: machines cross process boundaries (and can be saved to disk)
    blob = pickle.dumps(b)
    print(f"pickled machine: {len(blob)} bytes")
    with ProcessPoolExecutor(max_workers=1) as pool:
        print("node/online in a worker process:", pool.submit(node_online, b).result())
    restored = numa_hpe.Machine.load(b.save())
    assert restored.read(f"{SYS}/memory/memory16/state") == "online\n"


if __name__ == "__main__":
    main()
