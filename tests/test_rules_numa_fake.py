"""numa=fake= on a NUMA host (arch/x86/mm/numa_emulation.c, Linux 6.1)."""

import pytest

from _review_helpers import SYS, boot, grep


def two_node_host(cmd):
    # -smp 4 -numa node,mem=1G,cpus=0-1 -numa node,mem=1G,cpus=2-3
    return boot(cmd, cpus=4, cores=4, node_mem=["1G", "1G"], node_cpus=[[0, 1], [2, 3]])


def test_fake_interleave_on_two_nodes_layout():
    # split_nodes_interleave: size = (0x7ffe0 - 98 pages)/4 -> 480M + 3 "big" nodes of +32M,
    # fake nids handed out round-robin over the physical nodes.
    m = two_node_host("numa=fake=4 nokaslr")
    assert grep(m, r"^Faking node") == [
        "Faking node 0 at [mem 0x0000000000000000-0x000000001fffffff] (512MB)",
        "Faking node 1 at [mem 0x0000000040000000-0x000000005fffffff] (512MB)",
        "Faking node 2 at [mem 0x0000000020000000-0x000000003fffffff] (512MB)",
        "Faking node 3 at [mem 0x0000000060000000-0x000000007ffdffff] (511MB)",
    ]
    # same physical node -> phys distance 10 (numa_emulation: phys_dist / LOCAL_DISTANCE)
    assert m.read(f"{SYS}/node/node0/distance") == "10 20 10 20\n"
    # numa_add_cpu (emulation): a CPU joins every fake node of its physical node
    assert m.read(f"{SYS}/node/node0/cpulist") == "0-1\n"
    assert m.read(f"{SYS}/node/node2/cpulist") == "0-1\n"
    assert m.read(f"{SYS}/node/node1/cpulist") == "2-3\n"
    assert m.read(f"{SYS}/node/node3/cpulist") == "2-3\n"
    assert m.read(f"{SYS}/node/has_cpu") == "0-3\n"


def test_fake_uniform_on_two_nodes_cpu_mapping():
    m = two_node_host("numa=fake=3U nokaslr")
    assert len(grep(m, r"^Faking node")) == 6
    for n in (0, 1, 2):
        assert m.read(f"{SYS}/node/node{n}/cpulist") == "0-1\n"
    for n in (3, 4, 5):
        assert m.read(f"{SYS}/node/node{n}/cpulist") == "2-3\n"
    assert m.read(f"{SYS}/node/has_cpu") == "0-5\n"
    # early_cpu_to_node(2) == 3: the cpu2 -> node link
    assert m.readlink(f"{SYS}/cpu/cpu2/node3") == "../../node/node3"


def test_fake_uniform_on_two_nodes_layout():
    # split_nodes_size_interleave_uniform per physical node: 1G/3 = 341M -> ALIGN(,32M) = 352M
    m = two_node_host("numa=fake=3U nokaslr")
    assert grep(m, r"^Faking node") == [
        "Faking node 0 at [mem 0x0000000000000000-0x0000000015ffffff] (352MB)",
        "Faking node 1 at [mem 0x0000000016000000-0x000000002bffffff] (352MB)",
        "Faking node 2 at [mem 0x000000002c000000-0x000000003fffffff] (320MB)",
        "Faking node 3 at [mem 0x0000000040000000-0x0000000055ffffff] (352MB)",
        "Faking node 4 at [mem 0x0000000056000000-0x000000006bffffff] (352MB)",
        "Faking node 5 at [mem 0x000000006c000000-0x000000007ffdffff] (319MB)",
    ]
    assert m.read(f"{SYS}/node/node0/distance") == "10 10 10 20 20 20\n"


def test_fake_size_on_two_nodes():
    # split_nodes_size_interleave: find_end_of_node + "not enough for the next node" -> whole node
    m = two_node_host("numa=fake=512M nokaslr")
    assert grep(m, r"^Faking node") == [
        "Faking node 0 at [mem 0x0000000000000000-0x000000003fffffff] (1024MB)",
        "Faking node 1 at [mem 0x0000000040000000-0x000000007ffdffff] (1023MB)",
    ]
    assert m.read(f"{SYS}/node/node1/cpulist") == "2-3\n"


def test_numa_off_on_numa_host():
    m = two_node_host("numa=off nokaslr")
    assert grep(m, r"SRAT") == []
    assert grep(m, r"NUMA turned off|Faking a node") == [
        "NUMA turned off",
        "Faking a node at [mem 0x0000000000000000-0x000000007ffdffff]",
    ]
    assert m.read(f"{SYS}/node/possible") == "0\n"
    assert m.read(f"{SYS}/node/node0/cpulist") == "0-3\n"
