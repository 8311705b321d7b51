//! Page allocator bookkeeping that user space sees (mm/page_alloc.c 6.1):
//! `build_all_zonelists` with its dmesg lines, `Total pages` (`nr_free_zone_pages`),
//! `policy_zone`, and the zone watermarks (`init_per_zone_wmark_min`,
//! `__setup_per_zone_wmarks`).

use std::borrow::Cow;

use crate::bitmap::Bitmap;
use crate::firmware::MAX_NUMNODES;
use crate::machine::Machine;
use crate::zone::{Pgdat, ZoneType, ZONES};
use crate::node::DistanceTable;
use crate::zonelist::{build_all, FallbackOrders, ZonelistInput};

/// pageblock_nr_pages * MIGRATE_TYPES (6.1): below this mobility grouping is off.
const MOBILITY_THRESHOLD: u64 = 512 * 6;
/// watermark_scale_factor default.
const WATERMARK_SCALE_FACTOR: u64 = 10;
/// pageblock_nr_pages and MIGRATE_PCPTYPES (khugepaged's recommended min_free_kbytes).
const PAGEBLOCK: u64 = 512;
const MIGRATE_PCPTYPES: u64 = 3;

fn int_sqrt(x: u64) -> u64 {
    let mut r = (x as f64).sqrt() as u64;
    while r * r > x {
        r -= 1;
    }
    while (r + 1) * (r + 1) <= x {
        r += 1;
    }
    r
}

/// What a `build_all_zonelists` pass reads: borrowed from the machine, or owned
/// ([`ZonelistPass::into_owned`]) for the boot pass, which runs beside `smp_init`.
pub(crate) struct ZonelistPass<'a> {
    memory_nodes: Cow<'a, Bitmap>,
    with_cpus: Bitmap,
    distance: Cow<'a, DistanceTable>,
    which: Bitmap,
}

impl ZonelistPass<'_> {
    /// The pass with its own copy of the machine's memory nodes and distances.
    pub(crate) fn into_owned(self) -> ZonelistPass<'static> {
        ZonelistPass {
            memory_nodes: Cow::Owned(self.memory_nodes.into_owned()),
            with_cpus: self.with_cpus,
            distance: Cow::Owned(self.distance.into_owned()),
            which: self.which,
        }
    }

    /// Every node's fallback order.
    pub(crate) fn run(&self) -> FallbackOrders {
        let input = ZonelistInput {
            memory_nodes: &self.memory_nodes,
            nodes_with_cpus: &self.with_cpus,
            distance: &self.distance,
            max_numnodes: MAX_NUMNODES,
        };
        build_all(&input, &self.which)
    }
}

impl Machine {
    /// `build_all_zonelists(pgdat)`: for `new_node` (a node not yet online) only its own list,
    /// else every possible node; then `Built N zonelists...` and `Policy zone:`.
    /// `cpu_nodes` overrides which nodes count as having CPUs (none at boot).
    /// `total_override`: the boot call's early `Total pages` (before memblock frees memory).
    pub fn build_all_zonelists(&mut self, new_node: Option<u32>, cpu_nodes: Option<&Bitmap>, total_override: Option<u64>) {
        let orders = self.zonelist_pass(new_node, cpu_nodes).run();
        self.log_zonelists(orders, total_override);
    }

    /// The inputs of a `build_all_zonelists` pass ([`build_all_zonelists`](Self::build_all_zonelists)).
    pub(crate) fn zonelist_pass(&self, new_node: Option<u32>, cpu_nodes: Option<&Bitmap>) -> ZonelistPass<'_> {
        let with_cpus = match cpu_nodes {
            Some(b) => b.clone(),
            None => self.nodes_with_online_cpus(),
        };
        let which = match new_node {
            Some(n) if !self.nodes.online.test(n as usize) => {
                Bitmap::from_bits(MAX_NUMNODES as usize, [n as usize])
            }
            _ => self.nodes.possible.clone(),
        };
        ZonelistPass {
            memory_nodes: Cow::Borrowed(&self.nodes.memory),
            with_cpus,
            distance: Cow::Borrowed(&self.numa.distance),
            which,
        }
    }

    /// The end of a `build_all_zonelists` pass: its fallback orders, policy zone and lines.
    pub(crate) fn log_zonelists(&mut self, orders: FallbackOrders, total_override: Option<u64>) {
        self.dmesg.push_fallback_orders(orders);
        // policy_zone: the highest managed non-Movable zone ever seen
        for pg in self.pgdat.values() {
            for z in [ZoneType::Dma, ZoneType::Dma32, ZoneType::Normal] {
                if pg.zone(z).managed > 0 && z > self.policy_zone {
                    self.policy_zone = z;
                }
            }
        }
        let total = total_override.unwrap_or_else(|| self.nr_free_zone_pages());
        let nr_online = self.nodes.online.weight();
        self.dmesg.push(format!(
            "Built {nr_online} zonelists, mobility grouping {}.  Total pages: {total}",
            if total < MOBILITY_THRESHOLD { "off" } else { "on" }
        ));
        self.dmesg.push(format!("Policy zone: {}", self.policy_zone.name()));
    }

    /// Nodes whose `cpumask_of_node` is not empty (one pass over the online CPUs).
    fn nodes_with_online_cpus(&self) -> Bitmap {
        let mut b = Bitmap::new(MAX_NUMNODES as usize);
        for cpu in self.cpus.online.iter() {
            b.set(self.cpus.node[cpu] as usize);
        }
        if let Some(e) = &self.numa.emulation {
            // NUMA emulation: a CPU shows in every emulated node of its physical node
            let phys: Vec<u32> = b.iter().filter_map(|n| e.emu_to_phys.get(n).copied()).collect();
            for n in self.nodes.online.iter() {
                if e.emu_to_phys.get(n).is_some_and(|p| phys.contains(p)) {
                    b.set(n);
                }
            }
        }
        b.and_assign(&self.nodes.online);
        b
    }

    /// `build_all_zonelists(NULL)` on demand (what the kernel runs after onlining into an
    /// empty zone): every possible node's fallback order, with its dmesg lines.
    pub fn rebuild_zonelists(&mut self) {
        self.build_all_zonelists(None, None, None);
    }

    /// `nr_free_zone_pages(gfp_zone(GFP_HIGHUSER_MOVABLE))`: Σ max(0, managed - high) over the
    /// zones of every node with memory (all of them are in any node's fallback list).
    #[must_use]
    pub fn nr_free_zone_pages(&self) -> u64 {
        self.pgdat
            .iter()
            .filter(|(n, _)| self.nodes.memory.test(**n as usize))
            .flat_map(|(_, pg)| pg.zones.iter())
            .map(|z| z.managed.saturating_sub(z.wmark[2]))
            .sum()
    }

    /// Σ max(0, managed - high) over zones up to `max_zone` of nodes with memory.
    fn free_pages_upto(&self, max_zone: ZoneType) -> u64 {
        self.pgdat
            .values()
            .flat_map(|pg| pg.zones.iter().enumerate())
            .filter(|(i, z)| *i <= max_zone.idx() && z.managed > 0)
            .map(|(_, z)| z.managed.saturating_sub(z.wmark[2]))
            .sum()
    }

    /// `__setup_per_zone_wmarks` (6.1: Movable counts in lowmem like any zone).
    fn setup_zone_wmarks(&mut self, min_free_kbytes: u64) {
        let pages_min = min_free_kbytes >> 2;
        let lowmem: u64 = self.pgdat.values().map(Pgdat::managed_pages).sum();
        for pg in self.pgdat.values_mut() {
            for z in ZONES {
                let zone = pg.zone_mut(z);
                let m = zone.managed;
                let min = if lowmem == 0 { 0 } else { pages_min * m / lowmem };
                let delta = (min >> 2).max(m * WATERMARK_SCALE_FACTOR / 10_000);
                zone.wmark = [min, min + delta, min + 2 * delta];
            }
        }
    }

    /// `init_per_zone_wmark_min`: min_free_kbytes from lowmem, then khugepaged's recommended
    /// minimum (`set_recommended_min_free_kbytes`), which wins on small machines.
    pub fn setup_per_zone_wmarks(&mut self) {
        let lowmem_kb = self.free_pages_upto(ZoneType::Normal) * 4;
        let min_free = int_sqrt(lowmem_kb * 16).clamp(128, 262_144);
        self.setup_zone_wmarks(min_free);
        let nr_zones = self
            .pgdat
            .values()
            .flat_map(|pg| pg.zones.iter().take(ZoneType::Movable.idx()))
            .filter(|z| z.present > 0)
            .count() as u64;
        let rec = PAGEBLOCK * nr_zones * 2 + PAGEBLOCK * nr_zones * MIGRATE_PCPTYPES * MIGRATE_PCPTYPES;
        let rec = rec.min(self.free_pages_upto(ZoneType::Normal) / 20) * 4;
        if rec > min_free {
            self.setup_zone_wmarks(rec);
        }
    }
}
