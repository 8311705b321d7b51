//! x86 NUMA initialisation (arch/x86/mm/numa.c `numa_init`, drivers/acpi/numa/srat.c):
//! PXM -> node numbering from SRAT, `numa_meminfo` cleanup and merge, the SLIT distance table,
//! the dummy (UMA) fallback, `numa=fake`, and the patchset's `numa=possible=N` hook.

use std::sync::Arc;

use crate::bitmap::Bitmap;
use crate::cmdline::BootParams;
use crate::firmware::{Firmware, FwMemAffinity, MAX_NUMNODES};
use crate::node::DistanceTable;
use crate::numa::MemBlk;
use crate::numa_emulation::{cleanup_meminfo, numa_emulation, NumaEmulation};
use crate::printk::{LineBuilder, LogBuf, LogLines};

/// The outcome of NUMA init.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct NumaInit {
    /// `numa_meminfo` after cleanup (and emulation).
    pub meminfo: Vec<MemBlk>,
    /// PXM -> node (`pxm_to_node_map`), only PXMs seen in SRAT.
    pub pxm_to_node: Vec<(u32, u32)>,
    /// node_possible_map.
    pub possible: Bitmap,
    pub distance: DistanceTable,
    /// Emulated layout when `numa=fake` took effect.
    pub emulation: Option<NumaEmulation>,
    /// Node of each firmware CPU slot (None: no SRAT entry).
    pub cpu_node: Vec<Option<u32>>,
    /// SRAT hotpluggable boot ranges `[start, end)` (memblock_mark_hotplug).
    pub hotpluggable: Vec<(u64, u64)>,
}

impl NumaInit {
    /// `pxm_to_node(pxm)`.
    #[must_use]
    pub fn node_of_pxm(&self, pxm: u32) -> Option<u32> {
        self.pxm_to_node.iter().find(|&&(p, _)| p == pxm).map(|&(_, n)| n)
    }
}

/// The SRAT affinity lines of `acpi_numa_init`, one per CPU and memory range (9218 on a
/// 1024-node machine): kept as numbers in the log.
#[derive(Debug, Default)]
struct SratLines {
    /// (pxm, apic id, node) of each processor affinity entry.
    cpus: Vec<(u32, u32, u32)>,
    /// (node, entry) of each memory affinity entry.
    mems: Vec<(u32, FwMemAffinity)>,
}

impl LogLines for SratLines {
    fn count(&self) -> usize {
        self.cpus.len() + self.mems.len()
    }

    fn text(&self, i: usize) -> String {
        match (self.cpus.get(i), i.checked_sub(self.cpus.len()).and_then(|m| self.mems.get(m))) {
            (Some(&(pxm, apic_id, n)), _) => LineBuilder::new("SRAT: PXM ")
                .dec(pxm)
                .str(" -> APIC 0x")
                .hex(apic_id, 2)
                .str(" -> Node ")
                .dec(n)
                .done(),
            (None, Some((n, m))) => LineBuilder::new("ACPI: SRAT: Node ")
                .dec(*n)
                .str(" PXM ")
                .dec(m.pxm)
                .str(" [mem 0x")
                .hex(m.start, 8)
                .str("-0x")
                .hex(m.end, 8)
                .str(if m.hotpluggable { "] hotplug" } else { "]" })
                .done(),
            (None, None) => String::new(),
        }
    }
}

/// Run NUMA init. `ram` are the e820 RAM ranges `[start, end)`, `max_pfn` the end of RAM.
pub fn numa_init(fw: &Firmware, params: &BootParams, ram: &[(u64, u64)], max_pfn: u64, dmesg: &mut LogBuf) -> NumaInit {
    let high = max_pfn << 12;
    let mut pxm_to_node: Vec<(u32, u32)> = Vec::new();
    // acpi_map_pxm_to_node: node ids in first-seen PXM order
    let mut node_of_pxm: Vec<Option<u32>> = vec![None; MAX_NUMNODES as usize];
    let map_pxm = |pxm: u32, map: &mut Vec<(u32, u32)>, idx: &mut Vec<Option<u32>>| -> u32 {
        if let Some(n) = idx.get(pxm as usize).copied().flatten() {
            return n;
        }
        let n = map.len() as u32;
        map.push((pxm, n));
        if let Some(slot) = idx.get_mut(pxm as usize) {
            *slot = Some(n);
        }
        n
    };
    let use_srat = !params.numa_off
        && !params.numa_noacpi
        && fw.cpus.iter().any(|c| c.pxm.is_some())
        && !fw.memory_affinity.is_empty();
    let mut parsed = Bitmap::new(MAX_NUMNODES as usize);
    let mut cpu_node = vec![None; fw.cpus.len()];
    let mut meminfo = Vec::new();
    let mut hotpluggable = Vec::new();
    let mut distance = DistanceTable::none();
    if use_srat {
        let mut srat = SratLines::default();
        for (i, c) in fw.cpus.iter().enumerate() {
            if let Some(pxm) = c.pxm {
                let n = map_pxm(pxm, &mut pxm_to_node, &mut node_of_pxm);
                parsed.set(n as usize);
                cpu_node[i] = Some(n);
                srat.cpus.push((pxm, c.apic_id, n));
            }
        }
        for m in &fw.memory_affinity {
            let n = map_pxm(m.pxm, &mut pxm_to_node, &mut node_of_pxm);
            parsed.set(n as usize);
            srat.mems.push((n, m.clone()));
            let (start, end) = (m.start, m.end.saturating_add(1));
            meminfo.push(MemBlk { start, end, nid: n });
            if m.hotpluggable {
                hotpluggable.push((start, end));
            }
        }
        dmesg.push_batch(Arc::new(srat));
    } else if params.numa_off {
        dmesg.push("NUMA turned off".to_string());
    }
    if use_srat {
        // numa_alloc_distance + acpi_parse_slit
        if let Some(slit) = &fw.distances {
            let mut nodes = parsed.clone();
            for b in &meminfo {
                nodes.set(b.nid as usize);
            }
            let cnt = nodes.last().map_or(0, |n| n + 1);
            distance = DistanceTable::alloc(cnt);
            dmesg.push(format!("NUMA: Initialized distance table, cnt={cnt}"));
            let mut node_of = vec![None; slit.len()];
            for &(p, n) in &pxm_to_node {
                if let Some(slot) = node_of.get_mut(p as usize) {
                    *slot = Some(n as usize);
                }
            }
            let cols: Vec<(usize, usize)> =
                node_of.iter().enumerate().filter_map(|(j, n)| n.map(|b| (j, b))).collect();
            let identity = cols.len() == cnt && cols.iter().enumerate().all(|(k, &(j, to))| j == k && to == k);
            for (i, row) in slit.iter().enumerate() {
                if let Some(a) = node_of[i] {
                    if identity {
                        distance.set_full_row(a, row);
                    } else {
                        distance.set_row(a, &cols, row);
                    }
                }
            }
        }
    }
    // acpi_numa_init parsed the SLIT; numa_init then cleans the meminfo up. Overlapping nodes
    // make numa_cleanup_meminfo fail (-EINVAL), and x86_numa_init falls back to the dummy
    // init with the distance table reset (unsorted, overlapping ranges used to reach
    // create_boot_memory_blocks and panic there).
    let mut lines = Vec::new();
    let srat_ok = use_srat && cleanup_meminfo(&mut meminfo, ram, high, &mut lines);
    dmesg.extend(lines);
    if !srat_ok {
        distance = DistanceTable::none();
        // dummy_numa_init
        if !params.numa_off {
            dmesg.push("No NUMA configuration found".to_string());
        }
        dmesg.push(format!("Faking a node at [mem {:#018x}-{:#018x}]", 0, high.saturating_sub(1)));
        parsed.clear_all();
        parsed.set(0);
        meminfo = vec![MemBlk { start: 0, end: high, nid: 0 }];
        pxm_to_node.clear();
        cpu_node.iter_mut().for_each(|n| *n = None);
    }
    let mut emulation = None;
    if let (Some(arg), false) = (&params.numa_fake, params.numa_off) {
        let phys = distance.clone();
        let pd = move |a: u32, b: u32| phys.get(a as usize, b as usize);
        let mut lines = Vec::new();
        let emu = numa_emulation(&meminfo, ram, high, arg, &pd, &mut lines);
        dmesg.extend(lines);
        if let Some(emu) = emu {
            meminfo.clone_from(&emu.blks);
            distance = DistanceTable::alloc(emu.distance.len());
            // __apicid_to_node moves to the first emulated node of each physical node
            for n in cpu_node.iter_mut().flatten() {
                *n = emu.emu_to_phys.iter().position(|&p| p == *n).unwrap_or(0) as u32;
            }
            for (i, row) in emu.distance.iter().enumerate() {
                for (j, &d) in row.iter().enumerate() {
                    distance.set(i, j, d);
                }
            }
            parsed.clear_all();
            emulation = Some(emu);
        }
    }
    // numa_register_memblks: possible = parsed | meminfo nodes
    let mut possible = parsed;
    for b in &meminfo {
        possible.set(b.nid as usize);
    }
    // Patchset numa=possible=N: the N lowest unset node ids become possible.
    for _ in 0..params.numa_possible {
        match possible.first_zero() {
            Some(n) => possible.set(n),
            None => break,
        }
    }
    NumaInit { meminfo, pxm_to_node, possible, distance, emulation, cpu_node, hotpluggable }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn srat_lines_read_as_printed() {
        let mem = |pxm, start, end, hotpluggable| FwMemAffinity { node: None, pxm, start, end, hotpluggable };
        let srat = SratLines {
            cpus: vec![(0, 0x3, 0), (17, 0x1ff, 1023)],
            mems: vec![(0, mem(0, 0, 0x9_ffff, false)), (5, mem(9, 0x4_4000_0000, 0xf_ffff_ffff, true))],
        };
        let mut want = Vec::new();
        for &(pxm, apic, n) in &srat.cpus {
            want.push(format!("SRAT: PXM {pxm} -> APIC 0x{apic:02x} -> Node {n}"));
        }
        for (n, m) in &srat.mems {
            let hp = if m.hotpluggable { " hotplug" } else { "" };
            want.push(format!("ACPI: SRAT: Node {n} PXM {} [mem {:#010x}-{:#010x}]{hp}", m.pxm, m.start, m.end));
        }
        assert_eq!((0..srat.count()).map(|i| srat.text(i)).collect::<Vec<_>>(), want);
    }
}
