"""The patchset's reference scenario (shared/spec/patchset.md §6): memory and CPU hotplug on a
4-CPU, 4 GiB UMA guest booted with `mem=2G numa=possible=4 maxcpus=2 cpu_hpe=on`.

Run: python examples/reference_scenario.py
"""

import numa_hpe

SYS = "/sys/devices/system"
STEPS = [
    ("echo", "128M@0x80000000", "/sys/kernel/debug/mem_hotplug/add_node"),
    ("cat", f"{SYS}/node/online"),
    ("cat", f"{SYS}/node/has_memory"),
    ("echo", "online", f"{SYS}/memory/memory16/state"),
    ("cat", f"{SYS}/node/has_memory"),
    ("cat", f"{SYS}/node/node1/distance"),
    ("echo", "1", f"{SYS}/cpu/probe"),
    ("cat", f"{SYS}/cpu/cpu2/online"),
    ("echo", "1", f"{SYS}/cpu/cpu2/online"),
    ("cat", f"{SYS}/node/has_cpu"),
    ("cat", f"{SYS}/node/node1/cpulist"),
    ("cat", f"{SYS}/cpu/cpu2/topology/physical_package_id"),
    ("echo", "2", f"{SYS}/cpu/release"),
    ("cat", f"{SYS}/cpu/present"),
    ("cat", f"{SYS}/cpu/online"),
    ("cat", f"{SYS}/node/online"),
]


def main() -> None:
    fw = numa_hpe.Firmware.qemu(sockets=1, cores=4, mem="4G")
    m = numa_hpe.boot(fw, cmdline="mem=2G numa=possible=4 maxcpus=2 cpu_hpe=on")
    for step in STEPS:
        if step[0] == "echo":
            print(f"$ echo {step[1]} > {step[2]}")
            m.echo(step[1], step[2])
        else:
            print(f"$ cat {step[1]}\n{m.read(step[1])}", end="")
    print("cpu2 directory exists:", m.exists(f"{SYS}/cpu/cpu2"))


if __name__ == "__main__":
    main()
