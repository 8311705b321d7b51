//! Zones and per-node pgdat (include/linux/mmzone.h), and the kernel's zone-choice rules for
//! memory onlined at runtime (mm/memory_hotplug.c `zone_for_pfn_range`, `default_zone_for_pfn`,
//! `valid_zones`).

/// Zone indices on x86_64 (no HIGHMEM).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
pub enum ZoneType {
    Dma = 0,
    Dma32 = 1,
    Normal = 2,
    Movable = 3,
    Device = 4,
}

/// MAX_NR_ZONES.
pub const NR_ZONES: usize = 5;
/// All zones in index order.
pub const ZONES: [ZoneType; NR_ZONES] =
    [ZoneType::Dma, ZoneType::Dma32, ZoneType::Normal, ZoneType::Movable, ZoneType::Device];
/// MAX_DMA_PFN (16 MiB) and MAX_DMA32_PFN (4 GiB).
pub const MAX_DMA_PFN: u64 = 1 << 12;
pub const MAX_DMA32_PFN: u64 = 1 << 20;
/// MAX_ORDER_NR_PAGES in 6.1 (MAX_ORDER 11).
pub const MAX_ORDER_NR_PAGES: u64 = 1024;

impl ZoneType {
    /// `zone_names[]`.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            ZoneType::Dma => "DMA",
            ZoneType::Dma32 => "DMA32",
            ZoneType::Normal => "Normal",
            ZoneType::Movable => "Movable",
            ZoneType::Device => "Device",
        }
    }

    #[must_use]
    pub fn idx(self) -> usize {
        self as usize
    }

    /// Kernel zones are those the kernel may allocate from (<= Normal).
    #[must_use]
    pub fn is_kernel(self) -> bool {
        self <= ZoneType::Normal
    }
}

/// One `struct zone` (the counters user space sees in /proc/zoneinfo).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Zone {
    pub zone_start_pfn: u64,
    pub spanned: u64,
    pub present: u64,
    pub managed: u64,
    /// Watermarks min / low / high (pages), as `setup_per_zone_wmarks` last set them.
    pub wmark: [u64; 3],
    /// `present_early_pages`: present pages of boot (early) sections.
    pub present_early: u64,
}

impl Zone {
    #[must_use]
    pub fn end_pfn(&self) -> u64 {
        self.zone_start_pfn + self.spanned
    }

    /// `zone_is_empty`: spans nothing.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.spanned == 0
    }

    /// `populated_zone`: has present pages.
    #[must_use]
    pub fn populated(&self) -> bool {
        self.present != 0
    }

    /// `zone_intersects(zone, pfn, nr)`.
    #[must_use]
    pub fn intersects(&self, pfn: u64, nr: u64) -> bool {
        !self.is_empty() && self.zone_start_pfn < pfn + nr && pfn < self.end_pfn()
    }

    /// `resize_zone_range`: grow the span to include `[pfn, pfn + nr)`.
    pub fn grow(&mut self, pfn: u64, nr: u64) {
        let end = pfn + nr;
        if self.is_empty() {
            self.zone_start_pfn = pfn;
            self.spanned = nr;
        } else {
            let start = self.zone_start_pfn.min(pfn);
            let new_end = self.end_pfn().max(end);
            self.zone_start_pfn = start;
            self.spanned = new_end - start;
        }
    }
}

/// One node's `pg_data_t`.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Pgdat {
    pub node_start_pfn: u64,
    pub node_spanned: u64,
    pub zones: [Zone; NR_ZONES],
}

impl Pgdat {
    #[must_use]
    pub fn zone(&self, z: ZoneType) -> &Zone {
        &self.zones[z.idx()]
    }

    pub fn zone_mut(&mut self, z: ZoneType) -> &mut Zone {
        &mut self.zones[z.idx()]
    }

    #[must_use]
    pub fn present_pages(&self) -> u64 {
        self.zones.iter().map(|z| z.present).sum()
    }

    #[must_use]
    pub fn managed_pages(&self) -> u64 {
        self.zones.iter().map(|z| z.managed).sum()
    }

    /// Any present pages in a kernel zone (N_NORMAL_MEMORY on 64-bit).
    #[must_use]
    pub fn has_normal_memory(&self) -> bool {
        ZONES.iter().filter(|z| z.is_kernel()).any(|&z| self.zone(z).present > 0)
    }

    /// `resize_pgdat_range`: grow the node span to include `[pfn, pfn + nr)`.
    pub fn grow(&mut self, pfn: u64, nr: u64) {
        let end = pfn + nr;
        if self.node_spanned == 0 {
            self.node_start_pfn = pfn;
            self.node_spanned = nr;
        } else {
            let start = self.node_start_pfn.min(pfn);
            let old_end = self.node_start_pfn + self.node_spanned;
            self.node_start_pfn = start;
            self.node_spanned = old_end.max(end) - start;
        }
    }

    /// `default_kernel_zone_for_pfn`: the first kernel zone the range intersects, else Normal.
    #[must_use]
    pub fn default_kernel_zone(&self, pfn: u64, nr: u64) -> ZoneType {
        [ZoneType::Dma, ZoneType::Dma32, ZoneType::Normal]
            .into_iter()
            .find(|&z| self.zone(z).intersects(pfn, nr))
            .unwrap_or(ZoneType::Normal)
    }

    /// `default_zone_for_pfn` (the zone `online` picks under the contig-zones policy).
    #[must_use]
    pub fn default_zone(&self, pfn: u64, nr: u64, movable_node: bool) -> ZoneType {
        let kernel = self.default_kernel_zone(pfn, nr);
        let in_kernel = self.zone(kernel).intersects(pfn, nr);
        let in_movable = self.zone(ZoneType::Movable).intersects(pfn, nr);
        if in_kernel ^ in_movable {
            return if in_kernel { kernel } else { ZoneType::Movable };
        }
        if movable_node {
            ZoneType::Movable
        } else {
            kernel
        }
    }
}
