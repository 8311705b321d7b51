//! Memory hot-add, online, offline and hot-remove (mm/memory_hotplug.c 6.1 `add_memory`,
//! `online_pages`, `offline_pages`, `try_remove_memory`, `try_offline_node`;
//! drivers/acpi/scan.c `acpi_scan_try_to_offline` for firmware ejects).
//!
//! Unmovable-page model (offline EBUSY): boot blocks holding kernel reservations, and the first
//! block onlined into an empty kernel zone of a node with online CPUs (it receives that node's
//! subsequent kernel allocations). Movable-zone blocks always offline.

use crate::cmdline::OnlineType;
use crate::error::{err, Errno, Result};
use crate::firmware::MAX_PHYS_ADDR;
use crate::free_area_init::MemRange;
use crate::machine::{AcpiMemDevice, Machine};
use crate::memory_block::MemoryBlock;
use crate::notifier::Event;
use crate::zone::{Pgdat, ZoneType, ZONES};

impl Machine {
    /// `zone_for_pfn_range(online_type, nid, group, pfn, nr)`.
    fn zone_for(&self, t: OnlineType, nid: u32, group: Option<u32>, pfn: u64, nr: u64) -> ZoneType {
        let empty = Pgdat::default();
        let pg = self.pgdat.get(&nid).unwrap_or(&empty);
        match t {
            OnlineType::OnlineKernel => pg.default_kernel_zone(pfn, nr),
            OnlineType::OnlineMovable => ZoneType::Movable,
            _ if self.params.online_policy_auto_movable => {
                if self.auto_movable(nid, group, nr) {
                    ZoneType::Movable
                } else {
                    pg.default_kernel_zone(pfn, nr)
                }
            }
            _ => pg.default_zone(pfn, nr, self.params.movable_node),
        }
    }

    /// `auto_movable_zone_for_pfn`: Movable when the whole rest of the block's static memory
    /// group (ACPI device) could go Movable and keep Movable <= ratio % of the *early* kernel
    /// pages, globally and (numa-aware) on the node; a group with kernel memory stays kernel.
    fn auto_movable(&self, nid: u32, group: Option<u32>, nr: u64) -> bool {
        let ratio = u64::from(self.params.auto_movable_ratio);
        if ratio == 0 {
            return false;
        }
        let (max_pages, online_movable) = match group.and_then(|g| self.acpi_mem_devices.iter().find(|d| d.instance == g)) {
            Some(dev) => {
                let (mut kernel, mut movable) = (0, 0);
                for b in self.blocks.values().filter(|b| b.online && b.group == group) {
                    if b.zone == Some(ZoneType::Movable) {
                        movable += b.present;
                    } else {
                        kernel += b.present;
                    }
                }
                if kernel > 0 {
                    return false;
                }
                (dev.size >> 12, movable)
            }
            None => (nr, 0),
        };
        let want = max_pages.saturating_sub(online_movable);
        let fits = |pgs: &mut dyn Iterator<Item = &Pgdat>| {
            let (mut kernel_early, mut movable) = (0u64, 0u64);
            for p in pgs {
                for z in ZONES {
                    let zone = p.zone(z);
                    if zone.present == 0 {
                        continue;
                    }
                    if z == ZoneType::Movable {
                        movable += zone.present;
                    } else {
                        kernel_early += zone.present_early;
                    }
                }
            }
            movable + want <= ratio * kernel_early / 100
        };
        if !fits(&mut self.pgdat.values()) {
            return false;
        }
        if self.params.auto_movable_numa_aware {
            let empty = Pgdat::default();
            return fits(&mut std::iter::once(self.pgdat.get(&nid).unwrap_or(&empty)));
        }
        true
    }

    /// `valid_zones` of a block.
    #[must_use]
    pub fn valid_zones(&self, id: u64) -> String {
        let Some(b) = self.blocks.get(&id) else { return String::new() };
        let bp = self.block_pages();
        if b.online {
            return b.zone.map_or("none", ZoneType::name).to_string();
        }
        let (pfn, nr) = (b.start_pfn(bp), bp);
        let default = self.zone_for(OnlineType::Online, b.nid, b.group, pfn, nr);
        let mut s = default.name().to_string();
        for t in [OnlineType::OnlineKernel, OnlineType::OnlineMovable] {
            let z = self.zone_for(t, b.nid, b.group, pfn, nr);
            if z != default {
                s.push(' ');
                s.push_str(z.name());
            }
        }
        s
    }

    /// Online block `id` with `t` (`memory_block_online` -> `online_pages`).
    pub fn online_block(&mut self, id: u64, t: OnlineType) -> Result<()> {
        let bp = self.block_pages();
        let Some(b) = self.blocks.get(&id).cloned() else {
            return err(Errno::ENODEV, format!("memory{id} does not exist"));
        };
        if b.online {
            return err(Errno::EINVAL, format!("memory{id} is already online"));
        }
        let pfn = b.start_pfn(bp);
        let zone = self.zone_for(t, b.nid, b.group, pfn, bp);
        let nid = b.nid;
        let arg = (pfn, bp, nid);
        if let Err(e) = self.emit(Event::MemGoingOnline { start_pfn: arg.0, nr_pages: arg.1, nid }) {
            let _ = self.emit(Event::MemCancelOnline { start_pfn: arg.0, nr_pages: arg.1, nid });
            return Err(e);
        }
        let has_cpus = self.nodes.cpu.test(nid as usize);
        let pg = self.pgdat.entry(nid).or_default();
        let need_rebuild = !pg.zone(zone).populated();
        let z = pg.zone_mut(zone);
        z.grow(pfn, bp);
        z.present += b.present;
        z.managed += b.managed();
        if !b.hotplugged {
            z.present_early += b.present;
        }
        pg.grow(pfn, bp);
        self.nodes.memory.set(nid as usize);
        if zone.is_kernel() {
            self.nodes.normal_memory.set(nid as usize);
        }
        let blk = self.blocks.get_mut(&id).expect("block exists");
        blk.online = true;
        blk.zone = Some(zone);
        if need_rebuild && zone.is_kernel() && has_cpus && blk.hotplugged {
            blk.unmovable = true;
        }
        if need_rebuild {
            self.build_all_zonelists(None, None, None);
        }
        self.setup_per_zone_wmarks();
        let _ = self.emit(Event::MemOnline { start_pfn: pfn, nr_pages: bp, nid });
        Ok(())
    }

    /// Offline block `id` (`memory_block_offline` -> `offline_pages`).
    pub fn offline_block(&mut self, id: u64) -> Result<()> {
        let bp = self.block_pages();
        let Some(b) = self.blocks.get(&id).cloned() else {
            return err(Errno::ENODEV, format!("memory{id} does not exist"));
        };
        if !b.online {
            return err(Errno::EINVAL, format!("memory{id} is already offline"));
        }
        let Some(zone) = b.zone else {
            return err(Errno::EINVAL, format!("memory{id} spans more than one zone"));
        };
        if b.present != bp {
            return err(Errno::EINVAL, format!("memory{id} has memory holes"));
        }
        if b.unmovable && zone != ZoneType::Movable {
            return err(Errno::EBUSY, format!("memory{id} holds unmovable pages"));
        }
        let pfn = b.start_pfn(bp);
        let nid = b.nid;
        if let Err(e) = self.emit(Event::MemGoingOffline { start_pfn: pfn, nr_pages: bp, nid }) {
            let _ = self.emit(Event::MemCancelOffline { start_pfn: pfn, nr_pages: bp, nid });
            return Err(e);
        }
        {
            let blk = self.blocks.get_mut(&id).expect("block exists");
            blk.online = false;
            blk.zone = None;
        }
        let (new_start, new_end) = self.shrunk_span(nid, zone, pfn, bp);
        let pg = self.pgdat.get_mut(&nid).expect("online block has a pgdat");
        let z = pg.zone_mut(zone);
        z.present -= b.present;
        z.managed -= b.managed();
        if !b.hotplugged {
            z.present_early = z.present_early.saturating_sub(b.present);
        }
        if new_end <= new_start {
            z.zone_start_pfn = 0;
            z.spanned = 0;
        } else {
            z.zone_start_pfn = new_start;
            z.spanned = new_end - new_start;
        }
        update_pgdat_span(pg);
        let emptied = !pg.zone(zone).populated();
        self.setup_per_zone_wmarks();
        if emptied {
            self.build_all_zonelists(None, None, None);
        }
        let pg = &self.pgdat[&nid];
        if !pg.has_normal_memory() {
            self.nodes.normal_memory.clear(nid as usize);
        }
        if pg.present_pages() == 0 {
            self.nodes.memory.clear(nid as usize);
        }
        let _ = self.emit(Event::MemOffline { start_pfn: pfn, nr_pages: bp, nid });
        Ok(())
    }

    /// `shrink_zone_span`: the zone span after removing `[pfn, pfn + nr)`; only an edge moves,
    /// to the nearest remaining online block of the same zone and node.
    fn shrunk_span(&self, nid: u32, zone: ZoneType, pfn: u64, nr: u64) -> (u64, u64) {
        let z = *self.pgdat[&nid].zone(zone);
        let (s, e) = (z.zone_start_pfn, z.end_pfn());
        let bp = self.block_pages();
        let in_zone = |b: &&MemoryBlock| b.online && b.nodes.contains(&nid) && b.zone.is_none_or(|bz| bz == zone);
        if pfn <= s {
            // find_smallest_section_pfn: the first remaining online block of the zone
            let from = (pfn + nr).div_ceil(bp);
            let to = e.div_ceil(bp);
            match self.blocks.range(from..to).map(|(_, b)| b).find(in_zone) {
                Some(b) => (b.start_pfn(bp).max(s), e),
                None => (0, 0),
            }
        } else if pfn + nr >= e {
            // find_biggest_section_pfn: the last remaining online block of the zone
            match self.blocks.range(s / bp..pfn / bp).rev().map(|(_, b)| b).find(in_zone) {
                Some(b) => (s, (b.start_pfn(bp) + bp).min(e)),
                None => (0, 0),
            }
        } else {
            (s, e)
        }
    }

    /// `add_memory(nid, start, size)` (`__add_memory` -> `add_memory_resource`).
    pub fn add_memory(&mut self, nid: u32, start: u64, size: u64) -> Result<()> {
        self.add_memory_group(nid, start, size, None)
    }

    /// `add_memory` into static memory group `group` (an ACPI memory device).
    fn add_memory_group(&mut self, nid: u32, start: u64, size: u64, group: Option<u32>) -> Result<()> {
        let end = start.checked_add(size).filter(|&e| e <= MAX_PHYS_ADDR && size > 0);
        let Some(end) = end else {
            self.dmesg.push(format!(
                "Hotplug memory [{start:#x}-{:#x}] exceeds maximum addressable range [{:#x}-{:#x}]",
                start.wrapping_add(size).wrapping_sub(1),
                0,
                MAX_PHYS_ADDR - 1
            ));
            return err(Errno::E2BIG, "range exceeds the maximum addressable range");
        };
        if self.resource_conflict(start, end) {
            return err(Errno::EEXIST, format!("[mem {start:#x}-{:#x}] overlaps an existing resource", end - 1));
        }
        let bs = self.block_size;
        if start % bs != 0 || size % bs != 0 {
            self.dmesg.push(format!(
                "Block size [{bs:#x}] unaligned hotplug range: start {start:#x}, size {size:#x}"
            ));
            return err(Errno::EINVAL, "range is not aligned to the memory block size");
        }
        if (nid as usize) >= self.nodes.possible.nbits() || !self.nodes.possible.test(nid as usize) {
            return err(Errno::EINVAL, format!("node {nid} is not possible"));
        }
        let bp = self.block_pages();
        let (first, last) = ((start >> 12) / bp, ((end >> 12) - 1) / bp);
        if (first..=last).any(|id| self.blocks.contains_key(&id)) {
            return err(Errno::EEXIST, "a memory block of the range exists");
        }
        let new_node = !self.nodes.online.test(nid as usize);
        if new_node {
            self.pgdat.insert(nid, Pgdat::default());
            self.build_all_zonelists(Some(nid), None, None);
            self.nodes.online.set(nid as usize);
            let _ = self.emit(Event::NodeOnline { nid });
        }
        // memmap_on_memory: a single-block add keeps its own struct pages (vmemmap, 64 bytes
        // per page) at its start: present but never managed
        let vmemmap = if self.params.memmap_on_memory && size == bs { bp * 64 / 4096 } else { 0 };
        for id in first..=last {
            self.blocks.insert(
                id,
                MemoryBlock {
                    id,
                    online: false,
                    zone: None,
                    nid,
                    nodes: vec![nid],
                    present: bp,
                    reserved: vmemmap,
                    unmovable: false,
                    hotplugged: true,
                    group,
                },
            );
        }
        let (s, e) = (start >> 12, end >> 12);
        let pos = self.mem.partition_point(|r| r.start < s);
        self.mem.insert(pos, MemRange { start: s, end: e, nid, hotplug: true });
        self.hotplug_resources.insert(start, end);
        self.mem_hotplug_nodes.set(nid as usize);
        if self.auto_online != OnlineType::Offline {
            let t = self.auto_online;
            for id in first..=last {
                let _ = self.online_block(id, t);
            }
        }
        Ok(())
    }

    /// Batch online: every block must exist and be offline (else nothing changes), then each
    /// is onlined with `t` as `state` writes would, in ascending order.
    pub fn online_blocks(&mut self, ids: &[u64], t: OnlineType) -> Result<()> {
        if t == OnlineType::Offline {
            return err(Errno::EINVAL, "online type must not be offline");
        }
        for id in ids {
            match self.blocks.get(id) {
                None => return err(Errno::ENODEV, format!("memory{id} does not exist")),
                Some(b) if b.online => return err(Errno::EINVAL, format!("memory{id} is already online")),
                Some(_) => {}
            }
        }
        let mut sorted = ids.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        for id in sorted {
            self.online_block(id, t)?;
        }
        Ok(())
    }

    /// Batch offline: every block must be offline-able (else nothing changes), then each is
    /// offlined in descending order.
    pub fn offline_blocks(&mut self, ids: &[u64]) -> Result<()> {
        let bp = self.block_pages();
        for id in ids {
            let Some(b) = self.blocks.get(id) else {
                return err(Errno::ENODEV, format!("memory{id} does not exist"));
            };
            if !b.online {
                return err(Errno::EINVAL, format!("memory{id} is already offline"));
            }
            if b.zone.is_none() || b.present != bp {
                return err(Errno::EINVAL, format!("memory{id} spans more than one zone or has holes"));
            }
            if b.unmovable && b.zone != Some(ZoneType::Movable) {
                return err(Errno::EBUSY, format!("memory{id} holds unmovable pages"));
            }
        }
        let mut sorted = ids.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        for id in sorted.into_iter().rev() {
            self.offline_block(id)?;
        }
        Ok(())
    }

    /// Ids of the blocks in `[start, start + size)`.
    #[must_use]
    pub fn blocks_in(&self, start: u64, size: u64) -> Vec<u64> {
        let bp = self.block_pages();
        let (s, e) = (start >> 12, start.saturating_add(size) >> 12);
        self.blocks.range(s / bp..e.div_ceil(bp)).map(|(id, _)| *id).collect()
    }

    /// Overlap with a boot resource (e820 entries, RAM buffers) or hot-added System RAM.
    fn resource_conflict(&self, start: u64, end: u64) -> bool {
        let overlap = |a: u64, b: u64| a < end && start < b;
        self.e820.entries.iter().any(|e| overlap(e.addr, e.addr + e.size))
            || self.hotplug_resources.range(..end).next_back().is_some_and(|(&a, &b)| overlap(a, b))
    }

    /// Firmware (ACPI pc-dimm) memory insert: node from `_PXM`, else from the address.
    /// Returns the node the memory landed on.
    pub fn firmware_add_memory(&mut self, pxm: Option<u32>, start: u64, size: u64) -> Result<u32> {
        let nid = pxm
            .and_then(|p| self.numa.node_of_pxm(p))
            .unwrap_or_else(|| self.memory_add_physaddr_to_nid(start));
        let instance = self.next_acpi_instance;
        self.acpi_mem_devices.push(AcpiMemDevice { start, size, nid, instance });
        if let Err(e) = self.add_memory_group(nid, start, size, Some(instance)) {
            self.acpi_mem_devices.pop();
            return Err(e);
        }
        self.next_acpi_instance += 1;
        Ok(nid)
    }

    /// Firmware eject of `[start, start + size)`: offline every block (two passes), roll back
    /// with a default online on failure (EBUSY), else remove the memory.
    pub fn firmware_remove_memory(&mut self, start: u64, size: u64) -> Result<()> {
        let bp = self.block_pages();
        let Some(end) = start.checked_add(size) else {
            return err(Errno::EINVAL, "range wraps");
        };
        // validate before offlining anything: a misaligned eject used to offline the blocks
        // it overlapped and then fail in remove_memory, leaving them offline
        let bs = self.block_size;
        if start % bs != 0 || size % bs != 0 || size == 0 {
            return err(Errno::EINVAL, "range is not aligned to the memory block size");
        }
        let ids: Vec<u64> = self
            .blocks
            .keys()
            .copied()
            .filter(|id| id * bp < end >> 12 && (id + 1) * bp > start >> 12)
            .collect();
        if ids.is_empty() {
            return err(Errno::ENODEV, "no memory device at that range");
        }
        let mut offlined = Vec::new();
        let mut failed = Vec::new();
        for &id in &ids {
            if self.blocks[&id].online {
                match self.offline_block(id) {
                    Ok(()) => offlined.push(id),
                    Err(_) => failed.push(id),
                }
            }
        }
        if !failed.is_empty() {
            let mut still = None;
            for &id in &failed {
                if self.offline_block(id).is_err() {
                    still = Some(id);
                } else {
                    offlined.push(id);
                }
            }
            if let Some(id) = still {
                self.dmesg.push(format!("memory memory{id}: Offline failed."));
                offlined.sort_unstable();
                for id in offlined {
                    let _ = self.online_block(id, OnlineType::Online);
                }
                return err(Errno::EBUSY, format!("memory{id} could not be offlined"));
            }
        }
        self.remove_memory(start, size)
    }

    /// `remove_memory`: every block must be offline (EBUSY otherwise); then the blocks,
    /// memblock ranges and resources go, and the node goes offline if nothing is left on it.
    pub fn remove_memory(&mut self, start: u64, size: u64) -> Result<()> {
        let bp = self.block_pages();
        let end = start.saturating_add(size);
        let bs = self.block_size;
        if start % bs != 0 || size % bs != 0 || size == 0 {
            return err(Errno::EINVAL, "range is not aligned to the memory block size");
        }
        let ids: Vec<u64> = ((start >> 12) / bp..(end >> 12) / bp).filter(|id| self.blocks.contains_key(id)).collect();
        if let Some(id) = ids.iter().find(|id| self.blocks[id].online) {
            self.dmesg.push(format!(
                "removing memory fails, because memory [{:#018x}-{:#018x}] is onlined",
                id * self.block_size,
                (id + 1) * self.block_size - 1
            ));
            return err(Errno::EBUSY, format!("memory{id} is online"));
        }
        let mut nids = Vec::new();
        for id in &ids {
            if let Some(b) = self.blocks.remove(id) {
                nids.extend(b.nodes);
            }
        }
        let (s, e) = (start >> 12, end >> 12);
        let mut out = Vec::new();
        for r in self.mem.drain(..) {
            if r.end <= s || r.start >= e {
                out.push(r);
                continue;
            }
            if r.start < s {
                out.push(MemRange { end: s, ..r });
            }
            if r.end > e {
                out.push(MemRange { start: e, ..r });
            }
        }
        self.mem = out;
        self.hotplug_resources.retain(|&a, &mut b| b <= start || a >= end);
        self.acpi_mem_devices.retain(|d| d.start + d.size <= start || d.start >= end);
        nids.sort_unstable();
        nids.dedup();
        for nid in nids {
            self.try_offline_node(nid);
        }
        Ok(())
    }

    /// `try_offline_node`: offline when the node spans nothing, no block links it and no
    /// present CPU maps to it.
    pub fn try_offline_node(&mut self, nid: u32) {
        if self.pgdat.get(&nid).is_some_and(|p| p.node_spanned > 0) {
            return;
        }
        if self.blocks.values().any(|b| b.nodes.contains(&nid)) {
            return;
        }
        if self.cpus.present.iter().any(|c| self.cpus.node[c] == nid) {
            return;
        }
        self.nodes.online.clear(nid as usize);
        self.pgdat.remove(&nid);
        let _ = self.emit(Event::NodeOffline { nid });
    }
}

/// `update_pgdat_span`: the node span is the union of its zone spans.
fn update_pgdat_span(pg: &mut Pgdat) {
    let spans: Vec<(u64, u64)> =
        pg.zones.iter().filter(|z| z.spanned > 0).map(|z| (z.zone_start_pfn, z.end_pfn())).collect();
    match (spans.iter().map(|s| s.0).min(), spans.iter().map(|s| s.1).max()) {
        (Some(a), Some(b)) => {
            pg.node_start_pfn = a;
            pg.node_spanned = b - a;
        }
        _ => {
            pg.node_start_pfn = 0;
            pg.node_spanned = 0;
        }
    }
}
