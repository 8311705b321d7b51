//! One emulated machine: boots from firmware facts and a command line (init/main.c
//! `start_kernel` order for the parts that matter here) and owns all state.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::bitmap::Bitmap;
use crate::cmdline::{BootParams, OnlineType};
use crate::cpu::CpuState;
use crate::cpu_topology::{LogicalMaps, SiblingMaps};
use crate::e820::{e820_boot, reserve_ram_buffer_lines, E820Table};
use crate::error::Result;
use crate::firmware::{Firmware, MAX_NUMNODES, NR_CPUS};
use crate::free_area_init::{free_area_init, MemRange};
use crate::memory_block::{probe_memory_block_size, MemoryBlock};
use crate::node::NodeStates;
use crate::notifier::{Event, Notifier};
use crate::numa_init::{numa_init, NumaInit};
use crate::printk::LogBuf;
use crate::reserve::{boot_reserved, BootInputs, BootReserved};
use crate::sched_domain::SchedDomains;
use crate::zone::{Pgdat, ZoneType, ZONES};

/// Which kernel is emulated: the oracle's distribution kernel, or that kernel plus the 2010
/// patchset's interfaces (a Kconfig choice, like the patchset itself).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum KernelConfig {
    /// Debian 6.1 without the patchset and without CONFIG_ARCH_MEMORY_PROBE.
    Oracle,
    /// The same kernel plus the patchset (`mem_hotplug/*`, `cpu/probe`, `cpu/release`,
    /// `memory/probe`, `numa=possible=`, `cpu_hpe=`).
    NumaHpe,
}

/// Patchset version whose interface paths are emulated (patchset.md §5).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub enum PatchsetVersion {
    V3,
    V5,
    V6,
    V7,
    V8,
    V9,
    V10,
}

impl PatchsetVersion {
    /// Parse `v3` .. `v10`.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "v3" => Self::V3,
            "v5" => Self::V5,
            "v6" => Self::V6,
            "v7" => Self::V7,
            "v8" => Self::V8,
            "v9" => Self::V9,
            "v10" => Self::V10,
            _ => return None,
        })
    }
}

/// An ACPI memory device (pc-dimm) the firmware inserted.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AcpiMemDevice {
    pub start: u64,
    pub size: u64,
    pub nid: u32,
    /// Instance number in `PNP0C80:NN`.
    pub instance: u32,
}

/// The emulated machine.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Machine {
    pub config: KernelConfig,
    pub patchset: PatchsetVersion,
    pub fw: Firmware,
    pub params: BootParams,
    pub e820: E820Table,
    pub max_mem_size: Option<u64>,
    pub max_pfn: u64,
    /// memblock.memory: boot and hot-added present memory, sorted, with nodes.
    pub mem: Vec<MemRange>,
    pub numa: NumaInit,
    pub nodes: NodeStates,
    pub nr_node_ids: usize,
    /// Allocated pgdats (online nodes and hot-add-initialised ones).
    pub pgdat: BTreeMap<u32, Pgdat>,
    pub block_size: u64,
    pub blocks: BTreeMap<u64, MemoryBlock>,
    pub auto_online: OnlineType,
    pub policy_zone: ZoneType,
    pub cpus: CpuState,
    /// Rebuilt from the CPU state on load (`Machine::load`).
    #[serde(skip)]
    pub sched: SchedDomains,
    pub dmesg: LogBuf,
    /// Hot-added `System RAM` resources: start -> end (exclusive).
    pub hotplug_resources: BTreeMap<u64, u64>,
    pub acpi_mem_devices: Vec<AcpiMemDevice>,
    /// Next PNP0C80 instance number.
    pub next_acpi_instance: u32,
    /// Nodes with a patchset `mem_hotplug/nodeN/` debugfs directory.
    pub mem_hotplug_nodes: Bitmap,
    /// Patchset v1-v3 hidden nodes (N_HIDDEN) and their hidden ranges `[start, end)`.
    pub hidden: Bitmap,
    pub hidden_ranges: BTreeMap<u32, (u64, u64)>,
    /// Every hotplug event so far, oldest first.
    pub events: Vec<Event>,
    /// The embedder's subscriber, if any (not part of snapshots).
    #[serde(skip)]
    pub notifier: Option<Arc<dyn Notifier>>,
}

/// First bytes of every machine snapshot (format version 1).
const SNAPSHOT_MAGIC: &[u8] = b"numa_hpe-machine-v1\n";

/// Pages per 128 MiB section.
pub const PAGES_PER_SECTION: u64 = crate::free_area_init::PAGES_PER_SECTION;

impl Machine {
    /// Boot `fw` with `cmdline` under `config` (the final patchset interfaces).
    pub fn boot(fw: Firmware, cmdline: &str, config: KernelConfig) -> Result<Machine> {
        Machine::boot_with(fw, cmdline, config, PatchsetVersion::V9)
    }

    /// Boot with the interfaces of patchset version `patchset` (numa_hpe configuration).
    pub fn boot_with(fw: Firmware, cmdline: &str, config: KernelConfig, patchset: PatchsetVersion) -> Result<Machine> {
        fw.validate()?;
        let mut params = BootParams::parse(cmdline);
        if config == KernelConfig::Oracle {
            // Patchset-only parameters are unknown to this kernel.
            params.numa_possible = 0;
            params.cpu_hpe = false;
            params.numa_hide = None;
        }
        let mut dmesg = Vec::new();
        let mut e = e820_boot(&fw.e820, &params, &mut dmesg);
        let hide_v3 = config == KernelConfig::NumaHpe && patchset == PatchsetVersion::V3;
        let hidden_ranges = match (&params.numa_hide, hide_v3) {
            (Some(arg), true) => {
                let sizes = crate::numa_hide::parse_hide(arg, &mut dmesg);
                crate::numa_hide::hide_memory(&mut e.table, &sizes, &mut dmesg)
            }
            _ => Vec::new(),
        };
        dmesg.append(&mut params.dmesg.clone());
        let mut dmesg = LogBuf::from(dmesg);
        let ram: Vec<(u64, u64)> = e.table.ram_ranges();
        let max_pfn = ram.iter().map(|&(_, end)| end >> 12).max().unwrap_or(0);
        let numa = numa_init(&fw, &params, &ram, max_pfn, &mut dmesg);
        let mem = memblock_ranges(&ram, &numa);
        let mut nodes = NodeStates::new(MAX_NUMNODES as usize);
        nodes.possible = numa.possible.clone();
        for r in &mem {
            nodes.online.set(r.nid as usize);
        }
        let nr_node_ids = nodes.possible.last().map_or(1, |n| n + 1);
        let online_mem = nodes.online.clone();
        let layout = free_area_init(&mem, max_pfn, &params, &online_mem, &nodes.possible, &mut dmesg);
        let pgdat: BTreeMap<u32, Pgdat> = layout.pgdat.into_iter().collect();
        for (&nid, pg) in &pgdat {
            if pg.present_pages() > 0 {
                nodes.memory.set(nid as usize);
            }
            if pg.has_normal_memory() {
                nodes.normal_memory.set(nid as usize);
            }
        }
        let block_size = probe_memory_block_size(max_pfn << 12);
        let mut m = Machine {
            config,
            patchset,
            params,
            e820: e.table,
            max_mem_size: e.max_mem_size,
            max_pfn,
            mem,
            numa,
            nodes,
            nr_node_ids,
            pgdat,
            block_size,
            blocks: BTreeMap::new(),
            auto_online: OnlineType::Offline,
            policy_zone: ZoneType::Dma,
            cpus: CpuState {
                nr_cpu_ids: 1,
                possible: Bitmap::new(1),
                present: Bitmap::new(1),
                online: Bitmap::new(1),
                registered: Bitmap::new(1),
                slot: Vec::new(),
                ids: Vec::new(),
                node: Vec::new(),
                siblings: SiblingMaps::default(),
                logical: LogicalMaps::default(),
                total_cpus: 1,
                setup_max_cpus: None,
                need_hotplug_init: Bitmap::new(1),
                disabled_cpus: 0,
            },
            sched: SchedDomains::default(),
            dmesg,
            hotplug_resources: BTreeMap::new(),
            acpi_mem_devices: Vec::new(),
            next_acpi_instance: 0,
            mem_hotplug_nodes: Bitmap::new(MAX_NUMNODES as usize),
            hidden: Bitmap::new(MAX_NUMNODES as usize),
            hidden_ranges: BTreeMap::new(),
            events: Vec::new(),
            notifier: None,
            fw,
        };
        m.auto_online = m.params.memhp_default_state.unwrap_or(OnlineType::Offline);
        // v1-v3 hidden nodes: consecutive ids after the highest online node, possible only
        let mut nid = m.nodes.online.last().map_or(0, |n| n + 1);
        for (s, e) in hidden_ranges {
            if nid >= MAX_NUMNODES as usize {
                break;
            }
            m.nodes.possible.set(nid);
            m.hidden.set(nid);
            m.hidden_ranges.insert(nid as u32, (s, e));
            nid += 1;
        }
        m.nr_node_ids = m.nodes.possible.last().map_or(1, |n| n + 1);
        m.mem_hotplug_nodes = m.nodes.online.clone();
        m.prefill_possible_map();
        m.init_cpu_to_node();
        let reserved = m.apply_boot_reservations();
        let line = format!(
            "setup_percpu: NR_CPUS:{NR_CPUS} nr_cpumask_bits:{} nr_cpu_ids:{} nr_node_ids:{}",
            m.cpus.nr_cpu_ids, m.cpus.nr_cpu_ids, m.nr_node_ids
        );
        m.dmesg.push(line);
        // start_kernel builds the zonelists before any CPU is in a node's cpumask. The pass
        // reads only memory nodes and distances: it runs on a second thread beside smp_init,
        // whose lines are logged after its own.
        let pass = m.zonelist_pass(None, Some(&Bitmap::new(MAX_NUMNODES as usize))).into_owned();
        let log = std::mem::take(&mut m.dmesg);
        let orders = std::thread::scope(|s| {
            let zonelists = s.spawn(|| pass.run());
            m.smp_init();
            zonelists.join()
        })
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        let smp_lines = std::mem::replace(&mut m.dmesg, log);
        m.log_zonelists(orders, Some(reserved.total_pages_boot));
        m.dmesg.append(smp_lines);
        m.create_boot_memory_blocks(&reserved);
        m.boot_watermarks(&reserved);
        let lines = reserve_ram_buffer_lines(&m.e820);
        m.dmesg.extend(lines);
        Ok(m)
    }

    /// Log `ev` and tell the notifier; a refused `Going*` event becomes the errno of the
    /// operation (the caller rolls back).
    pub(crate) fn emit(&mut self, ev: Event) -> Result<()> {
        let verdict = self.notifier.as_ref().map_or(Ok(()), |n| n.notify(&ev));
        let name = ev.name();
        let veto = ev.can_veto();
        self.events.push(ev);
        match verdict {
            Err(errno) if veto => crate::error::err(errno, format!("a notifier refused {name}")),
            _ => Ok(()),
        }
    }

    /// Serialize the whole machine (a snapshot that `load` restores exactly).
    #[must_use]
    pub fn save(&self) -> Vec<u8> {
        let mut out = SNAPSHOT_MAGIC.to_vec();
        out.extend(serde_json::to_vec(self).unwrap_or_default());
        out
    }

    /// Restore a snapshot made by `save`, checking it before use (snapshots may come from
    /// untrusted files).
    pub fn load(bytes: &[u8]) -> Result<Machine> {
        let Some(body) = bytes.strip_prefix(SNAPSHOT_MAGIC) else {
            return crate::error::err(crate::error::Errno::EINVAL, "not a numa_hpe machine snapshot");
        };
        let mut m: Machine = serde_json::from_slice(body).map_err(|e| {
            crate::error::HpeError::new(crate::error::Errno::EINVAL, format!("snapshot: {e}"))
        })?;
        m.check_consistency()?;
        let verbose = m.params.sched_verbose;
        m.params.sched_verbose = false;
        m.rebuild_sched_domains(None);
        m.params.sched_verbose = verbose;
        Ok(m)
    }

    /// Invariants a loaded snapshot must satisfy before anything indexes with its numbers.
    fn check_consistency(&self) -> Result<()> {
        let bad = |what: &str| crate::error::err(crate::error::Errno::EINVAL, format!("snapshot: inconsistent {what}"));
        let n = self.cpus.nr_cpu_ids;
        let nn = MAX_NUMNODES as usize;
        let c = &self.cpus;
        if n == 0 || n > NR_CPUS as usize * 4 {
            return bad("nr_cpu_ids");
        }
        for b in [&c.possible, &c.present, &c.online, &c.registered, &c.need_hotplug_init] {
            if b.nbits() != n {
                return bad("cpu masks");
            }
        }
        if c.slot.len() != n || c.ids.len() != n || c.node.len() != n || c.node.iter().any(|&x| x as usize >= nn) {
            return bad("per-cpu arrays");
        }
        if c.slot.iter().flatten().any(|&s| s >= self.fw.cpus.len()) {
            return bad("cpu slots");
        }
        let s = &c.siblings;
        for maps in [&s.smt, &s.cluster, &s.llc, &s.die, &s.package] {
            if maps.len() != n || maps.iter().any(|b| b.nbits() != n) {
                return bad("sibling maps");
            }
        }
        let ns = &self.nodes;
        for b in [&ns.possible, &ns.online, &ns.normal_memory, &ns.memory, &ns.cpu, &self.mem_hotplug_nodes, &self.hidden] {
            if b.nbits() != nn {
                return bad("node masks");
            }
        }
        if self.nr_node_ids == 0 || self.nr_node_ids > nn || self.pgdat.keys().any(|&k| k as usize >= nn) {
            return bad("nodes");
        }
        if self.block_size < (128 << 20) || !self.block_size.is_power_of_two() {
            return bad("block size");
        }
        let bp = self.block_pages();
        for (id, b) in &self.blocks {
            if *id != b.id || b.present > bp || b.reserved > b.present || b.nodes.iter().any(|&x| x as usize >= nn) || b.nodes.is_empty() {
                return bad("memory blocks");
            }
            if b.online && !self.pgdat.contains_key(&b.nid) {
                return bad("memory blocks");
            }
        }
        self.fw.validate()
    }

    /// `node_distance(a, b)`.
    #[must_use]
    pub fn node_distance(&self, a: usize, b: usize) -> u32 {
        self.numa.distance.get(a, b)
    }

    /// Pages per memory block.
    #[must_use]
    pub fn block_pages(&self) -> u64 {
        self.block_size >> 12
    }

    /// `memory_add_physaddr_to_nid`: node of the numa_meminfo block holding `addr`, else the
    /// first block's node.
    #[must_use]
    pub fn memory_add_physaddr_to_nid(&self, addr: u64) -> u32 {
        self.numa
            .meminfo
            .iter()
            .find(|b| b.start <= addr && addr < b.end)
            .or(self.numa.meminfo.first())
            .map_or(0, |b| b.nid)
    }

    /// Run the boot reservation model and set every zone's `managed`.
    fn apply_boot_reservations(&mut self) -> BootReserved {
        let log_buf_len = self
            .params
            .params
            .iter()
            .rev()
            .find(|(k, _)| k == "log_buf_len")
            .and_then(|(_, v)| v.as_deref())
            .map_or(0, |v| crate::parse::memparse(v.as_bytes()).0);
        let srat_end = self.fw.memory_affinity.iter().map(|m| (m.end >> 12) + 1).max().unwrap_or(0);
        let possible: Vec<u32> = self.nodes.possible.iter().map(|n| n as u32).collect();
        let inputs = BootInputs {
            cpu_nodes: &self.cpus.node,
            possible_nodes: &possible,
            log_buf_len,
            max_possible_pfn: self.max_pfn.max(srat_end),
            block_pages: self.block_pages(),
        };
        let reserved = boot_reserved(&self.mem, &self.pgdat, &inputs);
        for (nid, pg) in &mut self.pgdat {
            for z in ZONES {
                let r = reserved.zone_reserved(*nid, z);
                let zone = pg.zone_mut(z);
                zone.managed = zone.present.saturating_sub(r);
            }
        }
        reserved
    }

    /// Boot watermarks are computed while the init sections and initrd are still reserved.
    fn boot_watermarks(&mut self, reserved: &BootReserved) {
        let extra = reserved.wmark_extra;
        if let Some((nid, z, n)) = extra {
            if let Some(pg) = self.pgdat.get_mut(&nid) {
                let zone = pg.zone_mut(z);
                zone.managed = zone.managed.saturating_sub(n);
            }
        }
        self.setup_per_zone_wmarks();
        if let Some((nid, z, n)) = extra {
            if let Some(pg) = self.pgdat.get_mut(&nid) {
                pg.zone_mut(z).managed += n;
            }
        }
    }

    /// `x86/mm: Memory block size` and one online block per block with present memory (the
    /// boot machine has no blocks yet).
    fn create_boot_memory_blocks(&mut self, reserved: &BootReserved) {
        let bs = self.block_size;
        self.dmesg.push(format!("x86/mm: Memory block size: {}MB", bs >> 20));
        let bp = self.block_pages();
        let mut ids: Vec<u64> = Vec::new();
        for r in &self.mem {
            ids.extend(r.start / bp..=(r.end - 1) / bp);
        }
        ids.sort_unstable();
        ids.dedup();
        // ids ascending: the map is bulk-built (an insert per block walks the tree), the
        // memory ranges and reservations are walked alongside, the pgdat of the last node kept
        let mut first = 0;
        let mut reserved_blocks = reserved.blocks().peekable();
        let mut last_pgdat: Option<(u32, Option<&Pgdat>)> = None;
        self.blocks = ids
            .into_iter()
            .map(|id| {
                let (s, e) = (id * bp, (id + 1) * bp);
                let mut nodes: Vec<u32> = Vec::with_capacity(1);
                // the (node, zone) the block's memory is in, None when several
                let mut zone: Option<Option<(u32, ZoneType)>> = None;
                let mut present = 0;
                while self.mem.get(first).is_some_and(|r| r.end <= s) {
                    first += 1;
                }
                for r in self.mem[first..].iter().take_while(|r| r.start < e) {
                    if !nodes.contains(&r.nid) {
                        nodes.push(r.nid);
                    }
                    let (a, b) = (r.start.max(s), r.end.min(e));
                    present += b - a;
                    let pg = match last_pgdat {
                        Some((nid, pg)) if nid == r.nid => pg,
                        _ => last_pgdat.insert((r.nid, self.pgdat.get(&r.nid))).1,
                    };
                    if let Some(pg) = pg {
                        for z in ZONES {
                            let zn = pg.zone(z);
                            if zn.present > 0 && zn.zone_start_pfn < b && a < zn.end_pfn() {
                                zone = match zone {
                                    None => Some(Some((r.nid, z))),
                                    Some(Some(p)) if p == (r.nid, z) => zone,
                                    Some(_) => Some(None),
                                };
                            }
                        }
                    }
                }
                nodes.sort_unstable();
                while reserved_blocks.next_if(|&(b, _)| b < id).is_some() {}
                let (res, unmovable) =
                    reserved_blocks.next_if(|&(b, _)| b == id).map_or((0, false), |(_, n)| (n, true));
                let block = MemoryBlock {
                    id,
                    online: true,
                    zone: zone.flatten().map(|(_, z)| z),
                    nid: nodes[0],
                    nodes,
                    present,
                    reserved: res.min(present),
                    unmovable,
                    hotplugged: false,
                    group: None,
                };
                (id, block)
            })
            .collect();
    }

    /// Sorted CPU ids of node `n` that are online (`cpumask_of_node`), honouring NUMA
    /// emulation on a UMA host (every emulated node of the same physical node lists the CPU).
    #[must_use]
    pub fn cpumask_of_node(&self, n: usize) -> Bitmap {
        let mut b = Bitmap::new(self.cpus.nr_cpu_ids);
        let emu = self.numa.emulation.as_ref();
        for cpu in self.cpus.online.iter() {
            let cn = self.cpus.node[cpu] as usize;
            let hit = match emu {
                Some(e) => {
                    e.emu_to_phys.get(cn).copied() == e.emu_to_phys.get(n).copied()
                        && self.nodes.online.test(n)
                }
                None => cn == n,
            };
            if hit {
                b.set(cpu);
            }
        }
        b
    }
}

/// memblock.memory: RAM ranges in pfns, split at numa_meminfo node boundaries
/// (`memblock_set_node`), with the SRAT hotplug flag.
fn memblock_ranges(ram: &[(u64, u64)], numa: &NumaInit) -> Vec<MemRange> {
    let mut out = Vec::new();
    for &(s, e) in ram {
        // memblock keeps whole pages only
        let (s, e) = (s.div_ceil(4096), e >> 12);
        if s >= e {
            continue;
        }
        let mut cuts: Vec<(u64, u64, u32)> = numa
            .meminfo
            .iter()
            .filter_map(|b| {
                let (bs, be) = (b.start >> 12, b.end >> 12);
                let (a, z) = (bs.max(s), be.min(e));
                (a < z).then_some((a, z, b.nid))
            })
            .collect();
        cuts.sort_unstable();
        for (a, z, nid) in cuts {
            let hotplug = numa.hotpluggable.iter().any(|&(hs, he)| hs >> 12 <= a && z <= he >> 12);
            match out.last_mut() {
                Some(MemRange { end, nid: n, hotplug: h, .. }) if *end == a && *n == nid && *h == hotplug => {
                    *end = z;
                }
                _ => out.push(MemRange { start: a, end: z, nid, hotplug }),
            }
        }
    }
    out
}
