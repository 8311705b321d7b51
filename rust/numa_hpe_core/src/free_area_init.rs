//! Boot-time zone sizing (mm/page_alloc.c 6.1 `free_area_init`, `zone_spanned_pages_in_node`,
//! `find_zone_movable_pfns_for_nodes`, `memmap_init`) and its dmesg lines.

use crate::bitmap::Bitmap;
use crate::cmdline::{BootParams, CoreSpec};
use crate::printk::{LineBuilder, LogBuf};
use crate::zone::{Pgdat, ZoneType, MAX_DMA32_PFN, MAX_DMA_PFN, MAX_ORDER_NR_PAGES, NR_ZONES, ZONES};

/// One memblock.memory region in pfns `[start, end)` on node `nid`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MemRange {
    pub start: u64,
    pub end: u64,
    pub nid: u32,
    /// Marked hotpluggable by SRAT (memblock_mark_hotplug).
    pub hotplug: bool,
}

/// PAGES_PER_SECTION.
pub const PAGES_PER_SECTION: u64 = 1 << 15;

/// Pages of `[s, e)` covered by `ranges` (optionally only of node `nid`).
#[must_use]
pub fn present_in(ranges: &[MemRange], s: u64, e: u64, nid: Option<u32>) -> u64 {
    ranges
        .iter()
        .filter(|r| nid.is_none_or(|n| r.nid == n))
        .map(|r| r.end.min(e).saturating_sub(r.start.max(s)))
        .sum()
}

/// `get_pfn_range_for_nid`.
#[must_use]
pub fn pfn_range_for_nid(ranges: &[MemRange], nid: u32) -> Option<(u64, u64)> {
    let mut it = ranges.iter().filter(|r| r.nid == nid);
    let first = it.next()?;
    let (mut s, mut e) = (first.start, first.end);
    for r in it {
        s = s.min(r.start);
        e = e.max(r.end);
    }
    Some((s, e))
}

/// Result of free_area_init.
#[derive(Clone, Debug)]
pub struct ZoneLayout {
    /// arch_zone_{lowest,highest}_possible_pfn per zone.
    pub arch_zone: [(u64, u64); NR_ZONES],
    /// zone_movable_pfn per node (0 = none).
    pub zone_movable_pfn: Vec<u64>,
    /// pgdat per node id (nodes with memory).
    pub pgdat: Vec<(u32, Pgdat)>,
}

/// Compute zones for every node with memory and print the boot lines. `ranges` are
/// memblock.memory (sorted, disjoint); `online` are the nodes with memory (online at this
/// point); `possible` all possible nodes.
pub fn free_area_init(
    ranges: &[MemRange],
    max_pfn: u64,
    params: &BootParams,
    online: &Bitmap,
    possible: &Bitmap,
    dmesg: &mut LogBuf,
) -> ZoneLayout {
    let max_zone_pfn = [MAX_DMA_PFN.min(max_pfn), MAX_DMA32_PFN.min(max_pfn), max_pfn, 0, 0];
    let mut arch_zone = [(0, 0); NR_ZONES];
    let mut start = ranges.iter().map(|r| r.start).min().unwrap_or(0);
    for z in ZONES {
        if z == ZoneType::Movable {
            continue;
        }
        let end = max_zone_pfn[z.idx()].max(start);
        arch_zone[z.idx()] = (start, end);
        start = end;
    }
    let movable_zone = [ZoneType::Normal, ZoneType::Dma32, ZoneType::Dma]
        .into_iter()
        .find(|z| arch_zone[z.idx()].1 > arch_zone[z.idx()].0)
        .unwrap_or(ZoneType::Dma);
    let nnodes = possible.nbits();
    let zone_movable_pfn = find_zone_movable_pfns(ranges, params, online, nnodes, arch_zone, movable_zone);

    dmesg.push("Zone ranges:".to_string());
    for z in ZONES {
        if z == ZoneType::Movable {
            continue;
        }
        let (lo, hi) = arch_zone[z.idx()];
        if lo == hi {
            dmesg.push(format!("  {:<8} empty", z.name()));
        } else {
            dmesg.push(format!("  {:<8} [mem {:#018x}-{:#018x}]", z.name(), lo << 12, (hi << 12) - 1));
        }
    }
    dmesg.push("Movable zone start for each node".to_string());
    for (nid, &p) in zone_movable_pfn.iter().enumerate() {
        if p != 0 {
            dmesg.push(format!("  Node {nid}: {:#018x}", p << 12));
        }
    }
    dmesg.push("Early memory node ranges".to_string());
    for r in ranges {
        dmesg.push(
            LineBuilder::new("  node ")
                .dec_width(r.nid, 3)
                .str(": [mem 0x")
                .hex(r.start << 12, 16)
                .str("-0x")
                .hex((r.end << 12) - 1, 16)
                .str("]")
                .done(),
        );
    }
    // The regions of each node together (address order kept): per-node scans of all the
    // regions were quadratic on 1024 nodes.
    let mut by_node = ranges.to_vec();
    by_node.sort_by_key(|r| r.nid);
    let mut pgdat = Vec::new();
    for nid in possible.iter() {
        if !online.test(nid) {
            dmesg.push(format!("Initializing node {nid} as memoryless"));
            dmesg.push(format!("Initmem setup node {nid} as memoryless"));
            continue;
        }
        let nid = nid as u32;
        let node_ranges = &by_node[by_node.partition_point(|r| r.nid < nid)..by_node.partition_point(|r| r.nid <= nid)];
        let Some((ns, ne)) = pfn_range_for_nid(node_ranges, nid) else { continue };
        dmesg.push(
            LineBuilder::new("Initmem setup node ")
                .dec(nid)
                .str(" [mem 0x")
                .hex(ns << 12, 16)
                .str("-0x")
                .hex((ne << 12) - 1, 16)
                .str("]")
                .done(),
        );
        let mut pg = Pgdat { node_start_pfn: ns, node_spanned: ne - ns, ..Pgdat::default() };
        let zmp = zone_movable_pfn[nid as usize];
        for z in ZONES {
            let (lo, hi) = arch_zone[z.idx()];
            let mut zs = ns.clamp(lo, hi.max(lo));
            let mut ze = ne.clamp(lo, hi.max(lo));
            if zmp != 0 {
                if z == ZoneType::Movable {
                    zs = zmp;
                    ze = ne.min(arch_zone[movable_zone.idx()].1);
                } else if zs < zmp && ze > zmp {
                    ze = zmp;
                } else if zs >= zmp {
                    zs = ze;
                }
            }
            let spanned = if ze < ns || zs > ne {
                0
            } else {
                let ze = ze.min(ne);
                let zs2 = zs.max(ns);
                zs = zs2;
                ze.saturating_sub(zs2)
            };
            let zone = pg.zone_mut(z);
            zone.zone_start_pfn = zs;
            zone.spanned = spanned;
            zone.present = if spanned == 0 { 0 } else { present_in(node_ranges, zs, zs + spanned, Some(nid)) };
            zone.present_early = zone.present;
        }
        pgdat.push((nid, pg));
    }
    memmap_init_lines(ranges, &pgdat, dmesg);
    ZoneLayout { arch_zone, zone_movable_pfn, pgdat }
}

/// `memmap_init`: `On node %d, zone %s: %lld pages in unavailable ranges` for the holes
/// between memblock regions (in sections that have a memmap) and up to the last section end.
fn memmap_init_lines(ranges: &[MemRange], pgdat: &[(u32, Pgdat)], dmesg: &mut LogBuf) {
    let section_present = |pfn: u64| {
        let s = pfn / PAGES_PER_SECTION;
        // the first region ending inside or after the section (regions are sorted, disjoint)
        let i = ranges.partition_point(|r| r.end <= s * PAGES_PER_SECTION);
        ranges.get(i).is_some_and(|r| r.start < (s + 1) * PAGES_PER_SECTION)
    };
    let unavailable = |s: u64, e: u64, zone: ZoneType, nid: u32, dmesg: &mut LogBuf| {
        let mut cnt = 0;
        let mut pfn = s;
        while pfn < e {
            // pageblock granularity: 512 pages
            let pb_end = ((pfn / 512) + 1) * 512;
            if section_present(pfn - pfn % 512) {
                cnt += pb_end.min(e) - pfn;
            }
            pfn = pb_end;
        }
        if cnt > 0 {
            dmesg.push(format!("On node {nid}, zone {}: {cnt} pages in unavailable ranges", zone.name()));
        }
    };
    let mut hole = 0u64;
    let mut last_zone = ZoneType::Dma;
    let mut last_nid = 0;
    let mut last_end = 0;
    for r in ranges {
        // pgdat is in node order
        let Ok(at) = pgdat.binary_search_by_key(&r.nid, |&(n, _)| n) else { continue };
        let pg = &pgdat[at].1;
        for z in ZONES {
            let zone = pg.zone(z);
            if !zone.populated() {
                continue;
            }
            let (zs, ze) = (zone.zone_start_pfn, zone.end_pfn());
            let s = r.start.clamp(zs, ze);
            let e = r.end.clamp(zs, ze);
            last_zone = z;
            if s >= e {
                continue;
            }
            if hole < s {
                unavailable(hole, s, z, r.nid, dmesg);
            }
            hole = e;
        }
        last_nid = r.nid;
        last_end = r.end;
    }
    let end = last_end.div_ceil(PAGES_PER_SECTION) * PAGES_PER_SECTION;
    if hole < end {
        unavailable(hole, end, last_zone, last_nid, dmesg);
    }
}

/// `find_zone_movable_pfns_for_nodes` (6.1): movable_node, kernelcore=, movablecore=.
fn find_zone_movable_pfns(
    ranges: &[MemRange],
    params: &BootParams,
    online: &Bitmap,
    nnodes: usize,
    arch_zone: [(u64, u64); NR_ZONES],
    movable_zone: ZoneType,
) -> Vec<u64> {
    let mut zmp = vec![0u64; nnodes];
    let total: u64 = ranges.iter().map(|r| r.end - r.start).sum();
    let with_mem: Vec<u32> = {
        let mut v: Vec<u32> = ranges.iter().map(|r| r.nid).collect();
        v.sort_unstable();
        v.dedup();
        v
    };
    let _ = online;
    let align = |zmp: &mut Vec<u64>| {
        for nid in 0..zmp.len() {
            zmp[nid] = zmp[nid].div_ceil(MAX_ORDER_NR_PAGES) * MAX_ORDER_NR_PAGES;
            let end = pfn_range_for_nid(ranges, nid as u32).map_or(0, |r| r.1);
            if zmp[nid] >= end {
                zmp[nid] = 0;
            }
        }
    };
    if params.movable_node {
        for r in ranges.iter().filter(|r| r.hotplug) {
            let n = r.nid as usize;
            zmp[n] = if zmp[n] != 0 { zmp[n].min(r.start) } else { r.start };
        }
        align(&mut zmp);
        return zmp;
    }
    if matches!(params.kernelcore, Some(CoreSpec::Mirror)) {
        // No mirrored memory is emulated: kernelcore=mirror creates no ZONE_MOVABLE.
        return zmp;
    }
    let pages = |c: Option<CoreSpec>| match c {
        Some(CoreSpec::Bytes(b)) => b >> 12,
        Some(CoreSpec::Percent(p)) => total * 100 * u64::from(p) / 10000,
        _ => 0,
    };
    let mut required_kernelcore = pages(params.kernelcore);
    let mut required_movablecore = pages(params.movablecore);
    if required_movablecore != 0 {
        required_movablecore = required_movablecore.div_ceil(MAX_ORDER_NR_PAGES) * MAX_ORDER_NR_PAGES;
        required_movablecore = required_movablecore.min(total);
        required_kernelcore = required_kernelcore.max(total - required_movablecore);
    }
    if required_kernelcore == 0 || required_kernelcore >= total {
        return zmp;
    }
    let usable_startpfn = arch_zone[movable_zone.idx()].0;
    let mut usable_nodes = with_mem.len() as u64;
    loop {
        let mut kernelcore_node = required_kernelcore / usable_nodes;
        for &nid in &with_mem {
            let n = nid as usize;
            if required_kernelcore < kernelcore_node {
                kernelcore_node = required_kernelcore / usable_nodes;
            }
            let mut remaining = kernelcore_node;
            for r in ranges.iter().filter(|r| r.nid == nid) {
                let mut s = r.start.max(zmp[n]);
                let e = r.end;
                if s >= e {
                    continue;
                }
                if s < usable_startpfn {
                    let kernel_pages = e.min(usable_startpfn) - s;
                    remaining -= kernel_pages.min(remaining);
                    required_kernelcore -= kernel_pages.min(required_kernelcore);
                    if e <= usable_startpfn {
                        zmp[n] = e;
                        continue;
                    }
                    s = usable_startpfn;
                }
                let size = (e - s).min(remaining);
                zmp[n] = s + size;
                required_kernelcore -= required_kernelcore.min(size);
                remaining -= size;
                if remaining == 0 {
                    break;
                }
            }
        }
        usable_nodes -= 1;
        if !(usable_nodes > 0 && required_kernelcore > usable_nodes) {
            break;
        }
    }
    align(&mut zmp);
    zmp
}
