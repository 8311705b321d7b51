//! Pages the kernel keeps for itself at boot (memblock reservations that never reach the buddy
//! allocator): the model that turns `present` into `managed`, and the early `Total pages`.
//!
//! Reservations are replayed in 6.1 `setup_arch` / `mm_init` order with memblock's top-down
//! allocator: first MiB, kernel image (nokaslr: 16 MiB..68 MiB, 2011 pages freed after boot),
//! printk buffer (`log_buf_len=`: 4.5 x the size), NODE_DATA per node, vmemmap (2 MiB per
//! present section, on its node), pgdat of memoryless nodes, per-cpu areas (62 pages per
//! possible CPU), dentry/inode hashes (single-node machines), swiotlb (only when memory can
//! exist above 4 GiB). Constants are those of the oracle kernel build; validated against every
//! zone of every oracle snapshot within 0.05 % (docs/managed-pages.md).

use std::collections::BTreeMap;

use crate::free_area_init::{MemRange, PAGES_PER_SECTION};
use crate::zone::{Pgdat, ZoneType, MAX_DMA32_PFN, MAX_DMA_PFN, ZONES};

const KERNEL_START: u64 = 0x100_0000 >> 12;
const KERNEL_END: u64 = 0x440_0000 >> 12;
/// initmem, alignment gaps, decrypted and SMP-alternatives sections freed at the end of boot.
const KERNEL_FREED_AFTER_BOOT: u64 = 2011;
/// The first MiB is always memblock-reserved on x86 (6.1).
const LOW_RESERVED_END: u64 = 0x100_000 >> 12;
const PERCPU_PAGES_PER_CPU: u64 = 62;
const NODE_DATA_PAGES: u64 = 43;
const MEMMAP_PAGES_PER_SECTION: u64 = 512;
const SWIOTLB_PAGES: u64 = 16_384;
const SWIOTLB_SLOTS_PAGES: u64 = 192;
/// Small unmodelled allocations (page tables, usemaps...), charged to the kernel's zone.
const MISC_PAGES: u64 = 30;
/// The initrd is still reserved when the boot watermarks are computed.
const INITRD_PAGES: u64 = 253;

/// `calc_memmap_size`: struct pages charged to a zone by `free_area_init_core`.
#[must_use]
pub fn memmap_pages(spanned: u64, present: u64) -> u64 {
    let pages = if spanned > present + (present >> 4) { present } else { spanned };
    (pages * 64).div_ceil(4096)
}

/// `log_buf_len=` bytes (rounded to a power of two) -> pages memblock allocates for it.
#[must_use]
pub fn log_buf_pages(len: u64) -> u64 {
    if len == 0 {
        return 0;
    }
    let n = len.next_power_of_two();
    if n <= 1 << 17 {
        return 0;
    }
    (n + (n >> 5) * 24 + (n >> 5) * 88).div_ceil(4096)
}

/// memblock's top-down allocator over the free parts of memory.
struct TopDown {
    free: Vec<(u64, u64, u32)>,
    taken: Vec<(u64, u64, u32)>,
    /// End of each node's highest memory range: no free range above it is on the node.
    node_top: BTreeMap<u32, u64>,
}

impl TopDown {
    fn reserve(&mut self, s: u64, e: u64) {
        // `free` is sorted and disjoint: only the ranges overlapping [s, e) change
        let lo = self.free.partition_point(|r| r.1 <= s);
        let hi = self.free.partition_point(|r| r.0 < e);
        if lo >= hi {
            return;
        }
        let (first, last) = (self.free[lo], self.free[hi - 1]);
        self.taken.extend(self.free[lo..hi].iter().map(|&(fs, fe, nid)| (fs.max(s), fe.min(e), nid)));
        // only the first range can start below s, only the last end above e
        let below = (first.0 < s).then_some((first.0, s, first.2));
        let above = (last.1 > e).then_some((e, last.1, last.2));
        self.free.splice(lo..hi, below.into_iter().chain(above));
    }

    /// Allocate `n` pages as high as possible (on `nid` when given, falling back to anywhere).
    /// `free` is kept sorted by address, so the highest candidates come last.
    fn alloc(&mut self, n: u64, nid: Option<u32>, limit: Option<u64>, align: u64, min_pfn: u64) {
        if n == 0 {
            return;
        }
        let mut best: Option<u64> = None;
        let below = match nid {
            // skip the free ranges above the node's memory (most of them on big machines)
            Some(x) => {
                let top = self.node_top.get(&x).copied().unwrap_or(0);
                self.free.partition_point(|r| r.0 < top)
            }
            None => self.free.len(),
        };
        for &(fs, fe, rnid) in self.free[..below].iter().rev() {
            if nid.is_some_and(|x| x != rnid) {
                continue;
            }
            let top = limit.map_or(fe, |l| fe.min(l));
            let Some(start) = top.checked_sub(n).map(|s| s / align * align) else { continue };
            if start >= fs.max(min_pfn) && start + n <= top {
                best = Some(start);
                break;
            }
        }
        match best {
            Some(start) => self.reserve(start, start + n),
            None if nid.is_some() => self.alloc(n, None, limit, align, min_pfn),
            None => {}
        }
    }
}

/// Present sections per node of sorted, disjoint `mem`; a section shared by two ranges counts
/// for the first (one pass over the ranges, not a map of every section).
fn sections_per_node(mem: &[MemRange]) -> BTreeMap<u32, u64> {
    let mut nsec_of: BTreeMap<u32, u64> = BTreeMap::new();
    let mut counted_below = 0u64;
    for r in mem {
        let first = (r.start / PAGES_PER_SECTION).max(counted_below);
        let end = (r.end - 1) / PAGES_PER_SECTION + 1;
        if first < end {
            *nsec_of.entry(r.nid).or_insert(0) += end - first;
            counted_below = end;
        }
    }
    nsec_of
}

impl TopDown {
    fn new(mem: &[MemRange]) -> TopDown {
        let mut free: Vec<(u64, u64, u32)> = mem.iter().map(|r| (r.start, r.end, r.nid)).collect();
        free.sort_unstable();
        let mut node_top: BTreeMap<u32, u64> = BTreeMap::new();
        for r in mem {
            let t = node_top.entry(r.nid).or_insert(0);
            *t = (*t).max(r.end);
        }
        TopDown { free, taken: Vec::new(), node_top }
    }
}

/// What the boot reservations leave.
#[derive(Clone, Debug, Default)]
pub struct BootReserved {
    zones: BTreeMap<(u32, usize), u64>,
    blocks: BTreeMap<u64, u64>,
    /// `Total pages` of the boot `Built N zonelists` line.
    pub total_pages_boot: u64,
    /// Pages still reserved (init sections, initrd) when the boot watermarks are computed:
    /// (node, zone, pages).
    pub wmark_extra: Option<(u32, ZoneType, u64)>,
}

impl BootReserved {
    #[must_use]
    pub fn zone_reserved(&self, nid: u32, z: ZoneType) -> u64 {
        self.zones.get(&(nid, z.idx())).copied().unwrap_or(0)
    }

    /// (block id, reserved pages) of every block holding a (unmovable) reservation, ascending.
    pub fn blocks(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.blocks.iter().map(|(&id, &n)| (id, n))
    }
}

/// Inputs of the reservation model beyond the memory layout.
pub struct BootInputs<'a> {
    /// Node of every possible CPU.
    pub cpu_nodes: &'a [u32],
    /// Possible node ids.
    pub possible_nodes: &'a [u32],
    /// `log_buf_len=` in bytes (0 = the static buffer).
    pub log_buf_len: u64,
    /// Highest pfn memory may ever reach (RAM or SRAT hotplug ranges): swiotlb above 4 GiB.
    pub max_possible_pfn: u64,
    pub block_pages: u64,
}

/// Run the reservation model over the boot memory (memblock.memory: sorted, disjoint) and the
/// computed zones.
#[must_use]
pub fn boot_reserved(mem: &[MemRange], pgdat: &BTreeMap<u32, Pgdat>, inp: &BootInputs<'_>) -> BootReserved {
    let zone_of = |pfn: u64, nid: u32| -> ZoneType {
        if let Some(pg) = pgdat.get(&nid) {
            for z in ZONES {
                let zone = pg.zone(z);
                if zone.present > 0 && zone.zone_start_pfn <= pfn && pfn < zone.end_pfn() {
                    return z;
                }
            }
        }
        if pfn < MAX_DMA_PFN {
            ZoneType::Dma
        } else if pfn < MAX_DMA32_PFN {
            ZoneType::Dma32
        } else {
            ZoneType::Normal
        }
    };
    let mut a = TopDown::new(mem);
    // ascending (pgdat order)
    let mem_nodes: Vec<u32> = pgdat.iter().filter(|(_, p)| p.present_pages() > 0).map(|(n, _)| *n).collect();
    let has_mem = |nid: &u32| mem_nodes.binary_search(nid).is_ok();
    a.reserve(0, LOW_RESERVED_END);
    a.reserve(KERNEL_START, KERNEL_END);
    a.alloc(log_buf_pages(inp.log_buf_len), None, None, 1, 0);
    for &nid in &mem_nodes {
        a.alloc(NODE_DATA_PAGES, Some(nid), None, 1, 0);
    }
    // dma_reserve: reserved memblock pages below 16 MiB at free_area_init time
    let below = |v: &[(u64, u64, u32)]| -> u64 { v.iter().map(|r| r.1.min(MAX_DMA_PFN).saturating_sub(r.0)).sum() };
    let ram: Vec<(u64, u64, u32)> = mem.iter().map(|r| (r.start, r.end, r.nid)).collect();
    let dma_reserve = below(&ram) - below(&a.free);
    let nsec_of = sections_per_node(mem);
    for &nid in &mem_nodes {
        let nsec = nsec_of.get(&nid).copied().unwrap_or(0);
        a.alloc(nsec * MEMMAP_PAGES_PER_SECTION, Some(nid), None, 512, MAX_DMA_PFN);
    }
    for nid in inp.possible_nodes {
        if !has_mem(nid) {
            a.alloc(NODE_DATA_PAGES, None, None, 1, 0);
        }
    }
    let mut cpu_nodes: Vec<u32> = inp.cpu_nodes.to_vec();
    cpu_nodes.sort_unstable();
    // ascending node ids, with their CPU counts
    for same_node in cpu_nodes.chunk_by(|a, b| a == b) {
        let nid = same_node[0];
        let on = has_mem(&nid).then_some(nid);
        a.alloc(same_node.len() as u64 * PERCPU_PAGES_PER_CPU, on, None, 1, MAX_DMA_PFN);
    }
    let mut total = 0u64;
    let mut nr_kernel_pages = 0u64;
    for pg in pgdat.values() {
        for z in ZONES {
            let zone = pg.zone(z);
            if zone.present == 0 {
                continue;
            }
            let mut free = zone.present.saturating_sub(memmap_pages(zone.spanned, zone.present));
            if z == ZoneType::Dma {
                free = free.saturating_sub(dma_reserve);
            }
            total += free;
            if z != ZoneType::Movable {
                nr_kernel_pages += free;
            }
        }
    }
    if mem_nodes.len() == 1 {
        let base = nr_kernel_pages.div_ceil(256) * 256;
        for shift in [1u32, 2] {
            let ent = ((base >> shift).max(1)).next_power_of_two();
            a.alloc(ent * 8 / 4096, None, None, 1, 0);
        }
    }
    if inp.max_possible_pfn > MAX_DMA32_PFN {
        a.alloc(SWIOTLB_PAGES, None, Some(MAX_DMA32_PFN), 1, 0);
        a.alloc(SWIOTLB_SLOTS_PAGES, None, None, 1, 0);
    }
    let mut r = BootReserved { total_pages_boot: total, ..BootReserved::default() };
    let bp = inp.block_pages.max(1);
    for &(s, e, nid) in &a.taken {
        let mut p = s;
        while p < e {
            let z = zone_of(p, nid);
            let mut q = e.min((p / bp + 1) * bp);
            for b in [MAX_DMA_PFN, MAX_DMA32_PFN] {
                if p < b {
                    q = q.min(b);
                }
            }
            *r.zones.entry((nid, z.idx())).or_insert(0) += q - p;
            *r.blocks.entry(p / bp).or_insert(0) += q - p;
            p = q;
        }
    }
    if let Some(k) = mem.iter().find(|m| m.start <= KERNEL_START && KERNEL_START < m.end) {
        let kz = zone_of(KERNEL_START, k.nid);
        let e = r.zones.entry((k.nid, kz.idx())).or_insert(0);
        *e = (*e + MISC_PAGES).saturating_sub(KERNEL_FREED_AFTER_BOOT);
        r.wmark_extra = Some((k.nid, kz, KERNEL_FREED_AFTER_BOOT + INITRD_PAGES));
        let kb = KERNEL_START / bp;
        let e = r.blocks.entry(kb).or_insert(0);
        *e = e.saturating_sub(KERNEL_FREED_AFTER_BOOT);
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Sorted, disjoint ranges on random nodes, some sharing a section.
    fn mem_strategy() -> impl Strategy<Value = Vec<MemRange>> {
        proptest::collection::vec((0u64..3 * PAGES_PER_SECTION, 1u64..3 * PAGES_PER_SECTION, 0u32..4), 1..12)
            .prop_map(|v| {
                let mut at = 0;
                v.into_iter()
                    .map(|(gap, len, nid)| {
                        let start = at + gap;
                        at = start + len;
                        MemRange { start, end: at, nid, hotplug: false }
                    })
                    .collect()
            })
    }

    proptest! {
        #[test]
        fn sections_per_node_equals_section_map(mem in mem_strategy()) {
            let mut sec_node: BTreeMap<u64, u32> = BTreeMap::new();
            for r in &mem {
                for sec in r.start / PAGES_PER_SECTION..=(r.end - 1) / PAGES_PER_SECTION {
                    sec_node.entry(sec).or_insert(r.nid);
                }
            }
            let mut want: BTreeMap<u32, u64> = BTreeMap::new();
            for &n in sec_node.values() {
                *want.entry(n).or_insert(0) += 1;
            }
            prop_assert_eq!(sections_per_node(&mem), want);
        }

        /// Starting the node's search below its highest memory finds what a full scan finds.
        #[test]
        fn node_alloc_equals_full_scan(
            mem in mem_strategy(),
            allocs in proptest::collection::vec((1u64..PAGES_PER_SECTION, proptest::option::of(0u32..5), 0u32..3), 0..20),
        ) {
            let mut fast = TopDown::new(&mem);
            let mut slow = TopDown::new(&mem);
            for nid in 0..5 {
                slow.node_top.insert(nid, u64::MAX);
            }
            for (n, nid, align_order) in allocs {
                let align = 1 << (align_order * 4);
                fast.alloc(n, nid, None, align, 0);
                slow.alloc(n, nid, None, align, 0);
                prop_assert_eq!(&fast.free, &slow.free);
                prop_assert_eq!(&fast.taken, &slow.taken);
            }
        }
    }
}
