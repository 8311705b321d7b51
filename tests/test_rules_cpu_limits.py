"""CPU limits on the command line (arch/x86/kernel/apic/apic.c:generic_processor_info,
arch/x86/kernel/smpboot.c:prefill_possible_map, kernel/smp.c, Linux 6.1).

The MADT is parsed (acpi_boot_init -> acpi_register_lapic) BEFORE prefill_possible_map: at that
time nr_cpu_ids is NR_CPUS (8192) or the `nr_cpus=` value; `possible_cpus=` and `maxcpus=`
only act later. A rejected APIC prints
    APIC: NR_CPUS/possible_cpus limit of <nr_cpu_ids> reached. Processor <thiscpu>/0x<apic> ignored.
with thiscpu = nr_cpu_ids + disabled_cpus, where disabled_cpus counts the MADT entries without
the enabled flag plus every earlier rejection (it is never decremented).
"""

import pytest

from _review_helpers import SYS, boot, grep

CPU = f"{SYS}/cpu"


def host(cmd):
    # -smp 4,maxcpus=8,sockets=2,cores=2,threads=2; node0 = socket0, node1 = socket1
    return boot(
        cmd,
        sockets=2,
        cores=2,
        threads=2,
        cpus=4,
        node_mem=["1G", "1G"],
        node_cpus=[[0, 1, 2, 3], [4, 5, 6, 7]],
    )


def apic_lines(m, since=0):
    return [l for l in m.dmesg()[since:] if l.startswith("APIC: NR_CPUS/possible_cpus limit")]


def test_nr_cpus_boot_rejections_count_up():
    m = host("nr_cpus=2 nokaslr")
    assert apic_lines(m) == [
        "APIC: NR_CPUS/possible_cpus limit of 2 reached. Processor 2/0x2 ignored.",
        "APIC: NR_CPUS/possible_cpus limit of 2 reached. Processor 3/0x3 ignored.",
    ]
    assert grep(m, r"^smpboot: (\d+ Processors|Allowing)") == [
        "smpboot: 8 Processors exceeds NR_CPUS limit of 2",
        "smpboot: Allowing 2 CPUs, 0 hotplug CPUs",
    ]


@pytest.mark.parametrize("cmd", ["nr_cpus=6", "possible_cpus=6"])
def test_hot_add_beyond_limit_numbering(cmd):
    m = host(cmd + " nokaslr")
    assert m.read(f"{CPU}/possible") == "0-5\n"
    assert m.read(f"{CPU}/offline") == "4-5,6-7\n"  # print_cpus_offline: total_cpus = 8
    assert m.add_cpu(4, 1) == 4
    assert m.add_cpu(5, 1) == 5
    n = len(m.dmesg())
    with pytest.raises(OSError):
        m.add_cpu(6, 1)
    assert apic_lines(m, n) == ["APIC: NR_CPUS/possible_cpus limit of 6 reached. Processor 10/0x6 ignored."]
    assert "ACPI: Unable to map lapic to logical cpu number" in m.dmesg()[n:]


@pytest.mark.parametrize("cmd", ["maxcpus=0", "nosmp"])
def test_maxcpus0_no_apic_limit_lines_at_boot(cmd):
    m = host(cmd + " nokaslr")
    assert apic_lines(m) == []
    assert grep(m, r"^smpboot: Allowing") == ["smpboot: Allowing 1 CPUs, 0 hotplug CPUs"]
    assert m.read(f"{CPU}/possible") == "0\n"
    assert m.read(f"{CPU}/present") == "0\n"
    # total_cpus = max(4, 4 + 4) = 8 > nr_cpu_ids = 1; the ',' is printed unconditionally
    assert m.read(f"{CPU}/offline") == ",1-7\n"


def test_maxcpus0_summary_lines():
    m = host("maxcpus=0 nokaslr")
    assert grep(m, r"^smp: Brought up") == ["smp: Brought up 2 nodes, 1 CPU"]
    # DIV_ROUND_UP(total_cpus 8, booted_cores 1 * smt 1)
    assert grep(m, r"Max logical packages") == ["smpboot: Max logical packages: 8"]


@pytest.mark.parametrize("cmd,expected", [("nr_cpus=2", ",2-7\n"), ("nr_cpus=4", ",4-7\n")])
def test_nr_cpus_offline_all_online(cmd, expected):
    m = host(cmd + " nokaslr")
    assert m.read(f"{CPU}/online") == f"0-{int(cmd[-1]) - 1}\n"
    assert m.read(f"{CPU}/offline") == expected


def test_nr_cpus_offline_some_offline():
    m = host("nr_cpus=6 nokaslr")
    assert m.read(f"{CPU}/offline") == "4-5,6-7\n"
    m.write(f"{CPU}/cpu3/online", "0")
    assert m.read(f"{CPU}/offline") == "3-5,6-7\n"
