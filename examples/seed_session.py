"""The seed patchset's documented memory session, against the emulator.

Run: python examples/seed_session.py
Boot `mem=2G numa=possible=4` on a 4 GiB UMA guest, add a node with add_node, online its block,
then add sections with the v7 global `add_memory` in its three forms.
"""

import numa_hpe

SYS = "/sys/devices/system"


def show(m: numa_hpe.Machine, path: str) -> None:
    print(f"$ cat {path}\n{m.read(path)}", end="")


def main() -> None:
    fw = numa_hpe.Firmware.qemu(sockets=1, cores=4, mem="4G")
    m = numa_hpe.boot(fw, cmdline="mem=2G numa=possible=4")
    show(m, f"{SYS}/node/possible")
    seen = len(m.dmesg())
    print("$ echo 128M@0x80000000 > /sys/kernel/debug/mem_hotplug/add_node")
    m.echo("128M@0x80000000", "/sys/kernel/debug/mem_hotplug/add_node")
    show(m, f"{SYS}/node/online")
    show(m, f"{SYS}/memory/memory16/state")
    print("$ echo online > /sys/devices/system/memory/memory16/state")
    m.echo("online", f"{SYS}/memory/memory16/state")
    show(m, f"{SYS}/node/has_memory")
    for line in m.dmesg()[seen:]:
        if not line.startswith("Fallback order"):
            print(f"[dmesg] {line}")

    # v7: one global add_memory file with three input forms
    v7 = numa_hpe.boot(fw, cmdline="mem=2G numa=possible=4", patchset_version="v7")
    for data in ("0x40000000,3", "1024m,3", "physical_address=0x40000000 numa_node=3"):
        path = "/sys/kernel/debug/mem_hotplug/add_memory"
        try:
            v7.echo(data, path)
            print(f"$ echo {data} > {path}: ok")
        except OSError as e:
            print(f"$ echo {data} > {path}: {numa_hpe.errno_name(e)} ({e.strerror})")
    show(v7, f"{SYS}/node/online")


if __name__ == "__main__":
    main()
