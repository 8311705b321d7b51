//! Page allocator bookkeeping that user space sees (mm/page_alloc.c 6.1):
//! `build_all_zonelists` with its dmesg lines, `Total pages` (`nr_free_zone_pages`),
//! `policy_zone`, and the zone watermarks (`init_per_zone_wmark_min`,
//! `__setup_per_zone_wmarks`).

use crate::bitmap::Bitmap;
use crate::firmware::MAX_NUMNODES;
use crate::machine::Machine;
use crate::zone::{ZoneType, ZONES};
use crate::zonelist::{build_all, fallback_line, ZonelistInput};

/// pageblock_nr_pages * MIGRATE_TYPES (6.1): below this mobility grouping is off.
const MOBILITY_THRESHOLD: u64 = 512 * 6;
/// watermark_scale_factor default.
const WATERMARK_SCALE_FACTOR: u64 = 10;

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

impl Machine {
    /// `build_all_zonelists(pgdat)`: for `new_node` (a node not yet online) only its own list,
    /// else every possible node; then `Built N zonelists...` and `Policy zone:`.
    /// `cpu_nodes` overrides which nodes count as having CPUs (at boot only the boot CPU's).
    pub fn build_all_zonelists(&mut self, new_node: Option<u32>, cpu_nodes: Option<&Bitmap>) {
        let with_cpus = match cpu_nodes {
            Some(b) => b.clone(),
            None => {
                let mut b = Bitmap::new(MAX_NUMNODES as usize);
                for n in self.nodes.online.iter() {
                    if !self.cpumask_of_node(n).is_empty() {
                        b.set(n);
                    }
                }
                b
            }
        };
        let which = match new_node {
            Some(n) if !self.nodes.online.test(n as usize) => {
                Bitmap::from_bits(MAX_NUMNODES as usize, [n as usize])
            }
            _ => self.nodes.possible.clone(),
        };
        let dist = |a: usize, b: usize| self.node_distance(a, b);
        let input = ZonelistInput {
            memory_nodes: &self.nodes.memory,
            nodes_with_cpus: &with_cpus,
            distance: &dist,
            max_numnodes: u64::from(MAX_NUMNODES),
        };
        let orders = build_all(&input, &which);
        for (nid, order) in &orders {
            self.dmesg.push(fallback_line(*nid, order));
        }
        // policy_zone: the highest managed non-Movable zone ever seen
        for pg in self.pgdat.values() {
            for z in [ZoneType::Dma, ZoneType::Dma32, ZoneType::Normal] {
                if pg.zone(z).managed > 0 && z > self.policy_zone {
                    self.policy_zone = z;
                }
            }
        }
        let total = self.nr_free_zone_pages();
        let nr_online = self.nodes.online.weight();
        self.dmesg.push(format!(
            "Built {nr_online} zonelists, mobility grouping {}.  Total pages: {total}",
            if total < MOBILITY_THRESHOLD { "off" } else { "on" }
        ));
        self.dmesg.push(format!("Policy zone: {}", self.policy_zone.name()));
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

    /// `init_per_zone_wmark_min` + `setup_per_zone_wmarks`.
    pub fn setup_per_zone_wmarks(&mut self) {
        let lowmem: u64 = self
            .pgdat
            .values()
            .flat_map(|pg| ZONES.iter().filter(|z| **z != ZoneType::Movable).map(move |&z| pg.zone(z).managed))
            .sum();
        let min_free_kbytes = int_sqrt(lowmem * 4 * 16).clamp(128, 262_144);
        let pages_min = min_free_kbytes >> 2;
        for pg in self.pgdat.values_mut() {
            for z in ZONES {
                let zone = pg.zone_mut(z);
                let managed = zone.managed;
                let tmp = if lowmem == 0 { 0 } else { pages_min * managed / lowmem };
                let min = if z == ZoneType::Movable { (managed / 1024).clamp(32, 128) } else { tmp };
                let step = (tmp >> 2).max(managed * WATERMARK_SCALE_FACTOR / 10_000);
                zone.wmark = [min, min + step, min + 2 * step];
            }
        }
    }
}
