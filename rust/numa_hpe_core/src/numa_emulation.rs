//! `numa=fake=` (arch/x86/mm/numa_emulation.c, Linux 6.1): split the physical NUMA layout into
//! emulated nodes (count, size and `U` forms, optional `:d,d,...` distances), with the kernel's
//! dmesg lines and distance table. Also `numa_cleanup_meminfo` (arch/x86/mm/numa.c), which the
//! emulation runs on the layout it built.

use std::collections::BTreeSet;

use crate::cmdline::get_option_int;
use crate::firmware::MAX_NUMNODES;
use crate::numa::MemBlk;
use crate::parse::{memparse, simple_strtoull};

/// Smallest emulated node (6.1; 64 MiB in 2010 kernels).
pub const FAKE_NODE_MIN_SIZE: u64 = 32 << 20;
const MAX_NODES: usize = MAX_NUMNODES as usize;
/// NR_NODE_MEMBLKS = 2 * MAX_NUMNODES.
const NR_NODE_MEMBLKS: usize = 2 * MAX_NODES;
/// `PFN_PHYS(MAX_DMA32_PFN)`.
const DMA32_END: u64 = 1 << 32;
const LOCAL_DISTANCE: u32 = 10;
const REMOTE_DISTANCE: u32 = 20;

/// Emulated layout.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct NumaEmulation {
    /// The emulated `numa_meminfo` (emulated node ids), after `numa_cleanup_meminfo`.
    pub blks: Vec<MemBlk>,
    /// Physical node of each emulated node (index = emulated nid, up to the highest one; ids
    /// without a block get `dfl_phys_nid`, the physical node of the lowest emulated node).
    pub emu_to_phys: Vec<u32>,
    /// Emulated distance table `[i][j]` over emulated node ids.
    pub distance: Vec<Vec<u32>>,
}

impl NumaEmulation {
    /// `emu_nid_to_phys[nid]` for any id: beyond the table it is `dfl_phys_nid`, which is
    /// always `emu_to_phys[0]` (node 0 is either the lowest mapped node or filled with it).
    #[must_use]
    pub fn phys_of(&self, nid: u32) -> u32 {
        let dfl = self.emu_to_phys.first().copied().unwrap_or(0);
        self.emu_to_phys.get(nid as usize).copied().unwrap_or(dfl)
    }
}

/// memblock.memory as page frames: `[PFN_UP(start), PFN_DOWN(end))` of each RAM range.
struct Ram(Vec<(u64, u64)>);

impl Ram {
    fn new(ram: &[(u64, u64)]) -> Ram {
        Ram(ram.iter().map(|&(s, e)| (s.div_ceil(4096), e / 4096)).filter(|(s, e)| s < e).collect())
    }

    /// `mem_hole_size(start, end)`: bytes of `[start, end)` (whole pages) not in memblock.
    fn hole(&self, start: u64, end: u64) -> u64 {
        let (sp, ep) = (start.div_ceil(4096), end / 4096);
        if sp >= ep {
            return 0;
        }
        let present: u64 = self.0.iter().map(|&(s, e)| e.min(ep).saturating_sub(s.max(sp))).sum();
        (ep - sp - present) << 12
    }

    /// `memblock_overlaps_region(&memblock.memory, start, end - start)`.
    fn overlaps(&self, start: u64, end: u64) -> bool {
        self.0.iter().any(|&(s, e)| s << 12 < end && start < e << 12)
    }
}

/// Emulation in progress: emulated blocks `ei`, what is left of the physical ones `pi`.
struct Emu<'a> {
    ei: Vec<MemBlk>,
    pi: Vec<MemBlk>,
    nid_to_phys: Vec<Option<u32>>,
    ram: &'a Ram,
    dmesg: &'a mut Vec<String>,
}

impl Emu<'_> {
    /// `emu_setup_memblk`: move `size` bytes from the front of `pi[phys_blk]` to node `nid`.
    fn setup_memblk(&mut self, nid: usize, phys_blk: usize, size: u64) -> Result<(), ()> {
        if self.ei.len() >= NR_NODE_MEMBLKS {
            self.dmesg.push("NUMA: Too many emulated memblks, failing emulation".into());
            return Err(());
        }
        let pb = &mut self.pi[phys_blk];
        #[allow(clippy::cast_possible_truncation)]
        let eb = MemBlk { start: pb.start, end: pb.start.wrapping_add(size), nid: nid as u32 };
        self.ei.push(eb);
        if self.nid_to_phys[nid].is_none() {
            self.nid_to_phys[nid] = Some(pb.nid);
        }
        pb.start = pb.start.wrapping_add(size);
        if pb.start >= pb.end {
            self.pi.remove(phys_blk);
        }
        let (s, last, mb) = (eb.start, eb.end.wrapping_sub(1), eb.end.wrapping_sub(eb.start) >> 20);
        self.dmesg.push(format!("Faking node {nid} at [mem {s:#018x}-{last:#018x}] ({mb}MB)"));
        Ok(())
    }

    /// Physical nodes with memory left (`numa_nodes_parsed` minus the emptied ones).
    fn phys_nodes(&self) -> BTreeSet<u32> {
        self.pi.iter().map(|b| b.nid).collect()
    }

    /// `split_nodes_interleave`: `nr_nodes` nodes of equal RAM, interleaved over physical nodes.
    fn split_interleave(&mut self, max_addr: u64, nr_nodes: i32) -> Result<(), ()> {
        if nr_nodes <= 0 {
            return Err(());
        }
        let mut nr = i64::from(nr_nodes);
        if nr > MAX_NODES as i64 {
            self.dmesg.push(format!("numa=fake={nr} too large, reducing to {MAX_NODES}"));
            nr = MAX_NODES as i64;
        }
        #[allow(clippy::cast_sign_loss)]
        let nr_u = nr as u64;
        let ram = max_addr.wrapping_sub(self.ram.hole(0, max_addr));
        let mut size = ((ram >> 12) / nr_u) << 12;
        // Nodes that get one extra FAKE_NODE_MIN_SIZE from the consolidated remainders.
        let big = (size % FAKE_NODE_MIN_SIZE).wrapping_mul(nr_u) / FAKE_NODE_MIN_SIZE;
        size -= size % FAKE_NODE_MIN_SIZE;
        if size == 0 {
            self.dmesg.push("Not enough memory for each node.  NUMA emulation disabled.".into());
            return Err(());
        }
        let mut nid: u64 = 0;
        let mut mask = self.phys_nodes();
        while !mask.is_empty() {
            for i in mask.clone() {
                let Some(blk) = self.pi.iter().position(|b| b.nid == i) else {
                    mask.remove(&i);
                    continue;
                };
                let (start, limit) = (self.pi[blk].start, self.pi[blk].end);
                let mut end = start.wrapping_add(size);
                if nid < big {
                    end = end.wrapping_add(FAKE_NODE_MIN_SIZE);
                }
                end = self.find_end_of_node(start, end, limit, size);
                end = self.tail_rules(end, limit, size, false);
                #[allow(clippy::cast_possible_truncation)]
                let emu_nid = (nid % nr_u) as usize;
                nid += 1;
                self.setup_memblk(emu_nid, blk, end.min(limit).wrapping_sub(start))?;
            }
        }
        Ok(())
    }

    /// `find_end_of_node`: grow `end` by FAKE_NODE_MIN_SIZE until `[start, end)` holds `size`
    /// bytes of RAM, stopping at `limit`.
    fn find_end_of_node(&self, start: u64, mut end: u64, limit: u64, size: u64) -> u64 {
        while end.wrapping_sub(start).wrapping_sub(self.ram.hole(start, end)) < size {
            end = end.wrapping_add(FAKE_NODE_MIN_SIZE);
            if end > limit {
                return limit;
            }
        }
        end
    }

    /// Do not leave less than FAKE_NODE_MIN_SIZE of DMA32 RAM to the next node, nor less than
    /// `size` of the physical node (the latter not in the uniform split).
    fn tail_rules(&self, mut end: u64, limit: u64, size: u64, uniform: bool) -> u64 {
        if end < DMA32_END && DMA32_END - end - self.ram.hole(end, DMA32_END) < FAKE_NODE_MIN_SIZE {
            end = DMA32_END;
        }
        if !uniform && limit.wrapping_sub(end).wrapping_sub(self.ram.hole(end, limit)) < size {
            end = limit;
        }
        end
    }

    /// `split_nodes_size_interleave_uniform`: nodes of `size` bytes of RAM over all physical
    /// nodes (`pblk` None), or `nr_nodes` equal slices of physical node `pblk` (the `U` form,
    /// holes ignored). Returns the next free emulated nid.
    fn split_size(
        &mut self,
        addr: u64,
        max_addr: u64,
        mut size: u64,
        nr_nodes: i32,
        pblk: Option<u32>,
        mut nid: u64,
    ) -> Result<u64, ()> {
        if (size == 0 && nr_nodes == 0) || (nr_nodes != 0 && pblk.is_none()) {
            return Err(());
        }
        let uniform = nr_nodes != 0;
        let (nr, mut mask) = match pblk {
            Some(p) if uniform => (i64::from(nr_nodes), BTreeSet::from([p])),
            _ => (MAX_NODES as i64, self.phys_nodes()),
        };
        // uniform_size(): page counts divided as unsigned long (a negative int wraps).
        #[allow(clippy::cast_sign_loss)]
        let div = nr as u64;
        let hole = if uniform { 0 } else { self.ram.hole(addr, max_addr) };
        let pages = (max_addr >> 12).wrapping_sub(addr >> 12).wrapping_sub(hole >> 12);
        let mut min_size = (pages / div) << 12;
        if uniform {
            size = min_size;
        }
        min_size = min_size.max(FAKE_NODE_MIN_SIZE).div_ceil(FAKE_NODE_MIN_SIZE) * FAKE_NODE_MIN_SIZE;
        if size < min_size {
            let (a, b) = (size >> 20, min_size >> 20);
            self.dmesg.push(format!("Fake node size {a}MB too small, increasing to {b}MB"));
            size = min_size;
        }
        size -= size % FAKE_NODE_MIN_SIZE;
        while !mask.is_empty() {
            for i in mask.clone() {
                let Some(blk) = self.pi.iter().position(|b| b.nid == i) else {
                    mask.remove(&i);
                    continue;
                };
                let (start, limit) = (self.pi[blk].start, self.pi[blk].end);
                let mut end = start.wrapping_add(size);
                if !uniform {
                    end = self.find_end_of_node(start, end, limit, size);
                }
                end = self.tail_rules(end, limit, size, uniform);
                #[allow(clippy::cast_possible_truncation)]
                let emu_nid = (nid % MAX_NODES as u64) as usize;
                nid += 1;
                self.setup_memblk(emu_nid, blk, end.min(limit).wrapping_sub(start))?;
            }
        }
        Ok(nid)
    }

    /// The `U` form: split every physical node into `n` nodes, always from `pi.blk[0]`.
    fn split_uniform(&mut self, n: u64) -> Result<(), ()> {
        #[allow(clippy::cast_possible_truncation)]
        let nr = n as u32 as i32;
        let mut nid = 0u64;
        for i in self.phys_nodes() {
            let Some(&b0) = self.pi.first() else { return Err(()) };
            nid = self.split_size(b0.start, b0.end, 0, nr, Some(b0.nid), nid)?;
            if nid < n {
                #[allow(clippy::cast_possible_wrap)]
                let n = n as i64;
                let msg = format!("numa_emulation: phys: {i} only got {nid} of {n} nodes, failing");
                self.dmesg.push(msg);
                return Err(());
            }
        }
        Ok(())
    }
}

/// Apply `numa=fake=<arg>` to the physical `numa_meminfo`. `ram` are the e820 RAM ranges
/// `[start, end)` (holes are what is not in them), `max_addr` is `max_pfn << 12`, `phys_distance`
/// the physical node distance. Returns None (and prints why) when emulation is disabled.
/// Prints `NUMA: Initialized distance table, cnt=N` when it rebuilds the distance table.
pub fn numa_emulation(
    phys: &[MemBlk],
    ram: &[(u64, u64)],
    max_addr: u64,
    arg: &str,
    phys_distance: &dyn Fn(u32, u32) -> u32,
    dmesg: &mut Vec<String>,
) -> Option<NumaEmulation> {
    let ram = Ram::new(ram);
    let pi = phys.iter().copied().filter(|b| b.start < b.end).collect();
    let mut emu = Emu { ei: Vec::new(), pi, nid_to_phys: vec![None; MAX_NODES], ram: &ram, dmesg };
    let s = arg.as_bytes();
    let (ret, mut pos) = if s.contains(&b'U') {
        let (n, used) = simple_strtoull(s);
        (emu.split_uniform(n), used)
    } else if s.contains(&b'M') || s.contains(&b'G') {
        let (size, used) = memparse(s);
        (emu.split_size(0, max_addr, size, 0, None, 0).map(|_| ()), used)
    } else {
        let (n, used) = simple_strtoull(s);
        // `unsigned long` passed as `int nr_nodes`.
        #[allow(clippy::cast_possible_truncation)]
        let n = n as u32 as i32;
        (emu.split_interleave(max_addr, n), used)
    };
    if s.get(pos) == Some(&b':') {
        pos += 1;
    }
    ret.ok()?;
    let Emu { mut ei, nid_to_phys, dmesg, .. } = emu;
    if !cleanup(&mut ei, &ram, max_addr, dmesg) {
        dmesg.push("NUMA: Warning: constructed meminfo invalid, disabling emulation".into());
        return None;
    }
    let max_emu_nid = nid_to_phys.iter().rposition(Option::is_some)?;
    let dfl = nid_to_phys.iter().flatten().next().copied()?;
    let emu_to_phys: Vec<u32> = nid_to_phys[..=max_emu_nid].iter().map(|p| p.unwrap_or(dfl)).collect();

    // numa_reset_distance + numa_set_distance (which allocates the table on first use).
    let cnt = ei.iter().map(|b| b.nid as usize + 1).max().unwrap_or(0);
    dmesg.push(format!("NUMA: Initialized distance table, cnt={cnt}"));
    let mut distance: Vec<Vec<u32>> = (0..cnt)
        .map(|i| (0..cnt).map(|j| if i == j { LOCAL_DISTANCE } else { REMOTE_DISTANCE }).collect())
        .collect();
    let (mut warned_bounds, mut warned_value) = (false, false);
    for (i, &pi) in emu_to_phys.iter().enumerate() {
        for (j, &pj) in emu_to_phys.iter().enumerate() {
            let (r, v) = get_option_int(s, &mut pos);
            #[allow(clippy::cast_possible_wrap)]
            let d = if r == 2 { v } else { phys_distance(pi, pj) as i32 };
            if i >= cnt || j >= cnt {
                if !std::mem::replace(&mut warned_bounds, true) {
                    let m = format!("NUMA: Warning: node ids are out of bound, from={i} to={j} distance={d}");
                    dmesg.push(m);
                }
            } else if !(0..=255).contains(&d) || (i == j && d != 10) {
                if !std::mem::replace(&mut warned_value, true) {
                    let m = format!("NUMA: Warning: invalid distance parameter, from={i} to={j} distance={d}");
                    dmesg.push(m);
                }
            } else {
                #[allow(clippy::cast_sign_loss)]
                let d = d as u32;
                distance[i][j] = d;
            }
        }
    }
    Some(NumaEmulation { blks: ei, emu_to_phys, distance })
}

/// `numa_cleanup_meminfo`: drop blocks with no RAM, clip to `[0, max_addr)`, merge same-node
/// blocks with no other node's memory between them (printing `NUMA: Node ...`). False (after
/// printing the conflict) if blocks of different nodes overlap.
pub fn cleanup_meminfo(mi: &mut Vec<MemBlk>, ram: &[(u64, u64)], high: u64, dmesg: &mut Vec<String>) -> bool {
    cleanup(mi, &Ram::new(ram), high, dmesg)
}

fn cleanup(mi: &mut Vec<MemBlk>, ram: &Ram, high: u64, dmesg: &mut Vec<String>) -> bool {
    mi.retain_mut(|b| {
        if !ram.overlaps(b.start, b.end) {
            return false;
        }
        b.end = b.end.min(high);
        b.start < b.end
    });
    if disjoint(mi) {
        merge_same_node_pairs(mi, dmesg);
        return true;
    }
    merge_pairs(mi, dmesg)
}

/// Whether no two blocks overlap.
fn disjoint(mi: &[MemBlk]) -> bool {
    let mut by_start: Vec<(u64, u64)> = mi.iter().map(|b| (b.start, b.end)).collect();
    by_start.sort_unstable();
    by_start.windows(2).all(|w| w[0].1 <= w[1].0)
}

/// [`merge_pairs`] on disjoint blocks, visiting only same-node pairs: a merge never spans
/// another node's block, so blocks of different nodes never come to overlap and the walk
/// passes over every such pair (a thousand-node SRAT: a million pairs, a few of one node).
fn merge_same_node_pairs(mi: &mut Vec<MemBlk>, dmesg: &mut Vec<String>) {
    let mut of_node: std::collections::BTreeMap<u32, Vec<usize>> = std::collections::BTreeMap::new();
    for (i, b) in mi.iter().enumerate() {
        of_node.entry(b.nid).or_default().push(i);
    }
    // removal keeps the order: original indices stand for positions
    let mut removed = vec![false; mi.len()];
    let r = |s: u64, e: u64| format!("[mem {s:#010x}-{:#010x}]", e.wrapping_sub(1));
    for i in 0..mi.len() {
        if removed[i] {
            continue;
        }
        let nid = mi[i].nid;
        for &j in of_node[&nid].iter().filter(|&&j| j > i) {
            if removed[j] {
                continue;
            }
            let (bi, bj) = (mi[i], mi[j]);
            if bi.end > bj.start && bi.start < bj.end {
                let (a, b) = (r(bi.start, bi.end), r(bj.start, bj.end));
                dmesg.push(format!("Warning: node {nid} {a} overlaps with itself {b}"));
            }
            let (start, end) = (bi.start.min(bj.start), bi.end.max(bj.end));
            let blocked = mi
                .iter()
                .zip(&removed)
                .any(|(k, &gone)| !gone && k.nid != nid && start < k.end && end > k.start);
            if blocked {
                continue;
            }
            let (a, b, c) = (r(bi.start, bi.end), r(bj.start, bj.end), r(start, end));
            dmesg.push(format!("NUMA: Node {nid} {a} + {b} -> {c}"));
            mi[i].start = start;
            mi[i].end = end;
            removed[j] = true;
        }
    }
    let mut keep = removed.iter().map(|&gone| !gone);
    mi.retain(|_| keep.next().unwrap_or(true));
}

/// The kernel's pairwise walk: refuse overlaps across nodes, merge same-node blocks with no
/// other node in between.
fn merge_pairs(mi: &mut Vec<MemBlk>, dmesg: &mut Vec<String>) -> bool {
    let r = |s: u64, e: u64| format!("[mem {s:#010x}-{:#010x}]", e.wrapping_sub(1));
    let mut i = 0;
    while i < mi.len() {
        let mut j = i + 1;
        while j < mi.len() {
            let (bi, bj) = (mi[i], mi[j]);
            if bi.end > bj.start && bi.start < bj.end {
                if bi.nid != bj.nid {
                    let (a, b) = (r(bi.start, bi.end), r(bj.start, bj.end));
                    dmesg.push(format!("node {} {a} overlaps with node {} {b}", bi.nid, bj.nid));
                    return false;
                }
                let (a, b) = (r(bi.start, bi.end), r(bj.start, bj.end));
                dmesg.push(format!("Warning: node {} {a} overlaps with itself {b}", bi.nid));
            }
            if bi.nid != bj.nid {
                j += 1;
                continue;
            }
            let (start, end) = (bi.start.min(bj.start), bi.end.max(bj.end));
            if mi.iter().any(|k| k.nid != bi.nid && start < k.end && end > k.start) {
                j += 1;
                continue;
            }
            let (a, b, c) = (r(bi.start, bi.end), r(bj.start, bj.end), r(start, end));
            dmesg.push(format!("NUMA: Node {} {a} + {b} -> {c}", bi.nid));
            mi[i].start = start;
            mi[i].end = end;
            mi.remove(j);
        }
        i += 1;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// On disjoint blocks, the same-node walk equals the kernel's pairwise walk.
        #[test]
        fn same_node_walk_equals_pairwise_walk(
            blocks in proptest::collection::vec((0u64..16, 0u32..4, any::<u8>()), 0..12)
        ) {
            // disjoint by construction: consecutive 1 MiB slots, some left empty
            let mut at = 0u64;
            let mut keyed: Vec<(u8, MemBlk)> = blocks
                .into_iter()
                .map(|(gap, nid, key)| {
                    let start = (at + gap % 3) << 20;
                    at += gap % 3 + 1 + gap / 8;
                    (key, MemBlk { start, end: at << 20, nid })
                })
                .collect();
            let mi: Vec<MemBlk> = keyed.iter().map(|&(_, b)| b).collect();
            prop_assert!(disjoint(&mi));
            // any order: the walk depends on it
            keyed.sort_by_key(|&(k, _)| k);
            let shuffled: Vec<MemBlk> = keyed.into_iter().map(|(_, b)| b).collect();
            for input in [mi, shuffled] {
                let (mut slow, mut fast) = (input.clone(), input);
                let (mut d_slow, mut d_fast) = (Vec::new(), Vec::new());
                prop_assert!(merge_pairs(&mut slow, &mut d_slow));
                merge_same_node_pairs(&mut fast, &mut d_fast);
                prop_assert_eq!(slow, fast);
                prop_assert_eq!(d_slow, d_fast);
            }
        }
    }

    /// The `uma` oracle machine (2 GiB, QEMU pc) after `trim_bios_range`.
    const RAM: [(u64, u64); 2] = [(0x1000, 0x9fc00), (0x10_0000, 0x7ffe_0000)];
    const MAX: u64 = 0x7ffe_0000;

    fn run(arg: &str) -> (Option<NumaEmulation>, Vec<String>) {
        let phys = [MemBlk { start: 0, end: MAX, nid: 0 }];
        let mut d = Vec::new();
        let e = numa_emulation(&phys, &RAM, MAX, arg, &|a, b| if a == b { 10 } else { 20 }, &mut d);
        (e, d)
    }

    #[test]
    fn size_form() {
        let (e, d) = run("512M");
        assert_eq!(
            d,
            [
                "Faking node 0 at [mem 0x0000000000000000-0x0000000021ffffff] (544MB)",
                "Faking node 1 at [mem 0x0000000022000000-0x0000000041ffffff] (512MB)",
                "Faking node 2 at [mem 0x0000000042000000-0x000000007ffdffff] (991MB)",
                "NUMA: Initialized distance table, cnt=3",
            ]
        );
        assert_eq!(e.unwrap().blks.len(), 3);
        let (e, d) = run("1M");
        assert_eq!(d[0], "Fake node size 1MB too small, increasing to 32MB");
        // Node 0 needs 64M to hold 32M of RAM; the last one absorbs the 31.875M remainder.
        assert_eq!(e.unwrap().blks.len(), 62);
    }

    #[test]
    fn uniform_form_ignores_holes_and_distances() {
        let (e, d) = run("2U:10,99,99,10,");
        assert_eq!(
            d,
            [
                "Fake node size 1023MB too small, increasing to 1024MB",
                "Faking node 0 at [mem 0x0000000000000000-0x000000003fffffff] (1024MB)",
                "Faking node 1 at [mem 0x0000000040000000-0x000000007ffdffff] (1023MB)",
                "NUMA: Initialized distance table, cnt=2",
            ]
        );
        // The parser stops at 'U', so the distance list is never read.
        assert_eq!(e.unwrap().distance, vec![vec![10, 10], vec![10, 10]]);
    }

    #[test]
    fn count_form_distances() {
        let (e, d) = run("2:10,30,40,11");
        let e = e.unwrap();
        assert_eq!(d[0], "Faking node 0 at [mem 0x0000000000000000-0x000000003fffffff] (1024MB)");
        assert_eq!(d[1], "Faking node 1 at [mem 0x0000000040000000-0x000000007ffdffff] (1023MB)");
        // The last value is not followed by a comma: the physical distance is used instead.
        assert_eq!(e.distance, vec![vec![10, 30], vec![40, 10]]);
        assert_eq!((e.emu_to_phys.clone(), e.phys_of(7)), (vec![0, 0], 0));
        let (e, d) = run("2:10,30,40,11,");
        assert_eq!(d.last().unwrap(), "NUMA: Warning: invalid distance parameter, from=1 to=1 distance=11");
        assert_eq!(e.unwrap().distance[1][1], 10);
    }

    #[test]
    fn disabled_forms() {
        assert_eq!(run("0"), (None, vec![]));
        assert_eq!(run(""), (None, vec![]));
        let (e, d) = run("5000");
        assert!(e.is_none());
        assert_eq!(
            d,
            [
                "numa=fake=5000 too large, reducing to 1024",
                "Not enough memory for each node.  NUMA emulation disabled.",
            ]
        );
    }

    #[test]
    fn wrapped_count_reuses_node_ids() {
        // Three 1G physical nodes, 2 fake nodes of 1.5G: each physical node yields one block
        // and the third wraps to node 0, which is not merged across node 1's memory.
        let g = 1u64 << 30;
        let phys: Vec<MemBlk> = (0..3).map(|n| MemBlk { start: n * g, end: (n + 1) * g, nid: n as u32 }).collect();
        let mut d = Vec::new();
        let dist = |a: u32, b: u32| if a == b { 10 } else { 20 };
        let e = numa_emulation(&phys, &[(0, 3 * g)], 3 * g, "2", &dist, &mut d).unwrap();
        let nids: Vec<u32> = e.blks.iter().map(|b| b.nid).collect();
        assert_eq!(nids, [0, 1, 0]);
        assert_eq!(d[2], "Faking node 0 at [mem 0x0000000080000000-0x00000000bfffffff] (1024MB)");
        assert_eq!(e.emu_to_phys, vec![0, 1]);
        assert_eq!(e.distance, vec![vec![10, 20], vec![20, 10]]);
    }
}
