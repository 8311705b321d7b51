"""Boot zone layout on bigger pc guests and with kernelcore=/movablecore= (mm/page_alloc.c 6.1:
free_area_init, find_zone_movable_pfns_for_nodes, memmap_init/init_unavailable_range;
arch/x86/mm/init_64.c:probe_memory_block_size). Expected values are derived by hand."""

import pytest

from _review_helpers import SYS, boot, grep, zone


def zone_lines(m):
    d = m.dmesg()
    i = d.index("Zone ranges:")
    j = d.index("Early memory node ranges")
    return d[i:j]


def test_two_nodes_4g_each_zones_and_holes():
    # pc: 3G below 4G, node0 = [0,3G) + [4G,5G), node1 = [5G,9G)
    m = boot(cpus=4, cores=4, node_mem=["4G", "4G"], node_cpus=[[0, 1], [2, 3]])
    assert zone_lines(m) == [
        "Zone ranges:",
        "  DMA      [mem 0x0000000000001000-0x0000000000ffffff]",
        "  DMA32    [mem 0x0000000001000000-0x00000000ffffffff]",
        "  Normal   [mem 0x0000000100000000-0x000000023fffffff]",
        "  Device   empty",
        "Movable zone start for each node",
    ]
    # hole 0xbffe0..0xc0000 is in a valid section; it is reported in the zone of the next range
    assert grep(m, r"unavailable ranges") == [
        "On node 0, zone DMA: 1 pages in unavailable ranges",
        "On node 0, zone DMA: 97 pages in unavailable ranges",
        "On node 0, zone Normal: 32 pages in unavailable ranges",
    ]
    assert zone(m, 1, "Normal").start_pfn == 0x140000
    assert zone(m, 1, "Normal").spanned == 0x100000
    ids = [b.block for b in m.memory_blocks()]
    assert ids == list(range(0, 24)) + list(range(32, 72))


def test_node_spanning_pci_hole():
    # node1 = [2G,3G) + [4G,5G): its DMA32 span runs to the 4G zone end
    m = boot(cpus=2, cores=2, node_mem=["2G", "2G"], node_cpus=[[0], [1]])
    z = zone(m, 1, "DMA32")
    assert (z.start_pfn, z.spanned, z.present) == (0x80000, 0x80000, 0x40000 - 0x20)
    z = zone(m, 1, "Normal")
    assert (z.start_pfn, z.spanned) == (0x100000, 0x40000)
    assert "On node 1, zone Normal: 32 pages in unavailable ranges" in m.dmesg()
    assert grep(m, r"^Policy zone") == ["Policy zone: Normal"]


@pytest.mark.parametrize(
    "cmd,starts",
    [
        # totalpages 2097022; movablecore 3G -> kernelcore 1310590 spread over 2 nodes, second pass
        ("movablecore=3G", ["  Node 1: 0x0000000180000000"]),
        # 30% -> 629106 pages, all satisfied below 4G on node0
        ("kernelcore=30%", ["  Node 0: 0x0000000100000000", "  Node 1: 0x0000000140000000"]),
    ],
)
def test_movable_zone_start(cmd, starts):
    m = boot(cmd + " nokaslr", cpus=2, cores=2, node_mem=["4G", "4G"], node_cpus=[[0], [1]])
    d = m.dmesg()
    i = d.index("Movable zone start for each node")
    assert d[i + 1 : i + 1 + len(starts)] == starts
    assert d[i + 1 + len(starts)] == "Early memory node ranges"


def test_kernelcore_single_node_rounding():
    # 6G UMA: 158 + 786144 pages below 4G, 262274 more needed above 4G -> 0x140082,
    # rounded up to MAX_ORDER_NR_PAGES (1024) -> 0x140400
    m = boot("kernelcore=4G nokaslr", cpus=2, cores=2, mem="6G")
    assert "  Node 0: 0x0000000140400000" in m.dmesg()
    assert zone(m, 0, "Normal").spanned == 0x140400 - 0x100000
    assert zone(m, 0, "Movable").start_pfn == 0x140400
    assert grep(m, r"^Policy zone") == ["Policy zone: Normal"]


def test_all_normal_movable_policy_zone_dma32():
    # node1's only Normal memory becomes Movable: check_highest_zone skips ZONE_MOVABLE
    m = boot("kernelcore=1G nokaslr", cpus=2, cores=2, node_mem=["2G", "2G"], node_cpus=[[0], [1]])
    assert "  Node 1: 0x0000000100000000" in m.dmesg()
    assert grep(m, r"^Policy zone") == ["Policy zone: DMA32"]
    assert "On node 1, zone Movable: 32 pages in unavailable ranges" in m.dmesg()


@pytest.mark.parametrize("mem,block", [("8G", "8000000"), ("63G", "80000000"), ("64G", "40000000")])
def test_memory_block_size(mem, block):
    # boot_mem_end = max_pfn << 12: 63G -> 64G (not < 64G, 2G-aligned), 64G -> 65G (1G-aligned)
    m = boot(cpus=1, mem=mem)
    assert m.read(f"{SYS}/memory/block_size_bytes") == block + "\n"


def test_hot_add_valid_zones_with_boot_movable():
    # kernelcore: a DIMM above the boot Movable zone intersects no zone -> kernel zone default
    m = boot("kernelcore=4G nokaslr", cpus=2, cores=2, node_mem=["6G"], node_cpus=[[0, 1]], maxmem="16G", slots=2)
    m.add_memory(0x200000000, 256 << 20, 0)
    assert m.read(f"{SYS}/memory/memory64/valid_zones") == "Normal Movable\n"
    m2 = boot("movable_node nokaslr", cpus=2, cores=2, node_mem=["6G"], node_cpus=[[0, 1]], maxmem="16G", slots=2)
    m2.add_memory(0x200000000, 256 << 20, 0)
    assert m2.read(f"{SYS}/memory/memory64/valid_zones") == "Movable Normal\n"


def test_boot_log_order_zonelists_before_smp():
    # start_kernel: setup_percpu, then build_all_zonelists (Fallback order..., Built N
    # zonelists, Policy zone), then smp_init (smp: Brought up...) and the sched domains;
    # the zonelist pass is computed beside smp_init but logged in this order.
    m = boot(cpus=4, cores=4, node_mem=["4G", "4G"], node_cpus=[[0, 1], [2, 3]], cmdline="sched_verbose")
    d = m.dmesg()
    first = lambda prefix: next(i for i, line in enumerate(d) if line.startswith(prefix))  # noqa: E731
    order = [
        first("setup_percpu:"),
        first("Fallback order for Node 0:"),
        first("Fallback order for Node 1:"),
        first("Built 2 zonelists"),
        first("Policy zone:"),
        first("smp: Brought up 2 nodes, 4 CPUs"),
        first("CPU0 attaching sched-domain(s):"),
    ]
    assert order == sorted(order)
    assert first("Built 2 zonelists") == first("Fallback order for Node 1:") + 1
