//! Pages the kernel keeps for itself at boot (memblock reservations that never reach the buddy
//! allocator): the model that turns `present` into `managed`. Exact kernel numbers depend on
//! allocation details; this is a documented, deterministic approximation (see
//! `docs/managed-pages.md`).

use std::collections::BTreeMap;

use crate::free_area_init::MemRange;
use crate::zone::{Pgdat, ZoneType, MAX_DMA32_PFN, NR_ZONES};

/// struct page size.
const STRUCT_PAGE: u64 = 64;
/// Reserved in ZONE_DMA of the first node (low memory used by BIOS/real-mode/trampoline).
const DMA_RESERVED: u64 = 158;
/// Kernel image + early allocations on the boot node (pages).
const KERNEL_PAGES: u64 = 13_900;
/// swiotlb bounce buffer, placed at the top of memory below 4 GiB.
const SWIOTLB_PAGES: u64 = 16_384;
/// Per-node early allocations (pgdat, page tables, per-cpu) besides the memmap.
const PER_NODE_PAGES: u64 = 540;
/// Where the kernel image is loaded with nokaslr (16 MiB).
const KERNEL_PFN: u64 = 0x1000;

/// `calc_memmap_size`: struct pages for a zone.
#[must_use]
pub fn memmap_pages(spanned: u64, present: u64) -> u64 {
    let pages = if spanned > present + (present >> 4) { present } else { spanned };
    (pages * STRUCT_PAGE).div_ceil(4096)
}

/// Reserved pages per (node, zone) and per memory block.
#[derive(Clone, Debug, Default)]
pub struct BootReserved {
    zones: BTreeMap<(u32, usize), u64>,
    blocks: BTreeMap<u64, (u64, bool)>,
}

impl BootReserved {
    #[must_use]
    pub fn zone_reserved(&self, nid: u32, z: ZoneType) -> u64 {
        self.zones.get(&(nid, z.idx())).copied().unwrap_or(0)
    }

    /// (reserved pages, unmovable) of block `id`.
    #[must_use]
    pub fn block(&self, id: u64) -> (u64, bool) {
        self.blocks.get(&id).copied().unwrap_or((0, false))
    }

    /// Reserve `n` pages of (nid, zone) placed at `pfn` (top-down from there when `down`).
    fn take(&mut self, nid: u32, z: ZoneType, n: u64, pfn: u64, block_pages: u64, mem: &[MemRange]) {
        *self.zones.entry((nid, z.idx())).or_insert(0) += n;
        // Attribute to the blocks holding memory at and below `pfn`.
        let mut left = n;
        let mut p = pfn;
        while left > 0 && p > 0 {
            let id = (p - 1) / block_pages;
            let bstart = id * block_pages;
            let here: u64 = mem.iter().map(|r| r.end.min(p).saturating_sub(r.start.max(bstart))).sum();
            let t = here.min(left);
            if t > 0 {
                let e = self.blocks.entry(id).or_insert((0, false));
                e.0 += t;
                e.1 = true;
            }
            left -= t;
            p = bstart;
        }
    }
}

/// The boot reservation model.
#[must_use]
pub fn boot_reserved(
    mem: &[MemRange],
    pgdat: &BTreeMap<u32, Pgdat>,
    max_pfn: u64,
    block_size: u64,
) -> BootReserved {
    let bp = block_size >> 12;
    let mut r = BootReserved::default();
    let _ = max_pfn;
    for (&nid, pg) in pgdat {
        let top = pg.node_start_pfn + pg.node_spanned;
        let mut node_pages = PER_NODE_PAGES;
        for zi in 0..NR_ZONES {
            let zone = &pg.zones[zi];
            if zone.present > 0 {
                node_pages += memmap_pages(zone.spanned, zone.present);
            }
        }
        // memmap and node data come from the node's highest populated zone, top-down
        if let Some(zi) = (0..NR_ZONES).rev().find(|&zi| pg.zones[zi].present > 0) {
            let z = crate::zone::ZONES[zi];
            r.take(nid, z, node_pages.min(pg.zones[zi].present), top, bp, mem);
        }
    }
    // low memory and the kernel image on the node holding pfn 1 / 16 MiB
    let first = mem.first().map_or(0, |m| m.nid);
    if let Some(pg) = pgdat.get(&first) {
        if pg.zone(ZoneType::Dma).present > 0 {
            r.take(first, ZoneType::Dma, DMA_RESERVED, 256, bp, mem);
        }
    }
    if let Some(m) = mem.iter().find(|m| m.start <= KERNEL_PFN && KERNEL_PFN < m.end) {
        let z = if KERNEL_PFN < crate::zone::MAX_DMA_PFN { ZoneType::Dma } else { ZoneType::Dma32 };
        r.take(m.nid, z, KERNEL_PAGES, KERNEL_PFN + KERNEL_PAGES, bp, mem);
    }
    // swiotlb: the top of memory below 4 GiB
    if let Some(m) = mem.iter().filter(|m| m.start < MAX_DMA32_PFN).next_back() {
        let top = m.end.min(MAX_DMA32_PFN);
        r.take(m.nid, ZoneType::Dma32, SWIOTLB_PAGES.min(top - m.start), top, bp, mem);
    }
    r
}
