//! Firmware facts a machine boots from: the BIOS e820 map, ACPI SRAT memory affinity, the CPU
//! slots of the MADT/SRAT, the SLIT and the possible-CPU count (the `firmware` object of
//! `shared/oracle/FORMAT.md`). Addresses in the JSON form have inclusive ends, as printed.

use std::collections::HashSet;
use std::hash::BuildHasherDefault;

use serde::{Deserialize, Serialize};

use crate::error::{err, Errno, Result};
use crate::sched_groups::FxHasher;

/// One `BIOS-e820:` line: inclusive `[start, end]` and the printed type name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FwE820 {
    pub start: u64,
    pub end: u64,
    #[serde(rename = "type")]
    pub kind: String,
}

/// One SRAT memory affinity entry (`ACPI: SRAT: Node N PXM P [mem a-b] (hotplug)`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FwMemAffinity {
    #[serde(default)]
    pub node: Option<u32>,
    pub pxm: u32,
    pub start: u64,
    pub end: u64,
    #[serde(default)]
    pub hotpluggable: bool,
}

/// One CPU slot (MADT order = APIC id order, boot CPU first).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FwCpu {
    pub apic_id: u32,
    #[serde(default)]
    pub node: Option<u32>,
    #[serde(default)]
    pub pxm: Option<u32>,
    #[serde(default)]
    pub package: u32,
    #[serde(default)]
    pub die: u32,
    #[serde(default)]
    pub core: u32,
    #[serde(default)]
    pub thread: u32,
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn yes() -> bool {
    true
}

/// Inclusive `[start, end]` span of the SRAT hotplug entries.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FwWindow {
    pub start: u64,
    pub end: u64,
}

/// Everything the firmware tells the kernel.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Firmware {
    pub e820: Vec<FwE820>,
    #[serde(default)]
    pub memory_affinity: Vec<FwMemAffinity>,
    pub cpus: Vec<FwCpu>,
    /// SLIT indexed by PXM; None without SLIT.
    #[serde(default)]
    pub distances: Option<Vec<Vec<u32>>>,
    pub nr_cpus_possible: u32,
    #[serde(default)]
    pub hotplug_memory_window: Option<FwWindow>,
}

/// Largest physical address + 1 on x86_64 with 4-level paging (MAX_PHYSMEM_BITS = 46).
pub const MAX_PHYS_ADDR: u64 = 1 << 46;
/// NR_CPUS of the oracle kernel (MAXSMP).
pub const NR_CPUS: u32 = 8192;
/// MAX_NUMNODES of the oracle kernel (NODES_SHIFT = 10).
pub const MAX_NUMNODES: u32 = 1024;

impl Firmware {
    /// Parse the JSON `firmware` object and validate it.
    pub fn from_json(text: &str) -> Result<Firmware> {
        let fw: Firmware = serde_json::from_str(text)
            .or_else(|e| err(Errno::EINVAL, format!("firmware: {e}")))?;
        fw.validate()?;
        Ok(fw)
    }

    /// The JSON form (FORMAT.md `firmware`).
    #[must_use]
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// Refuse descriptions the kernel could never be handed; the message names the field.
    pub fn validate(&self) -> Result<()> {
        if self.e820.is_empty() {
            return err(Errno::EINVAL, "firmware.e820: empty memory map");
        }
        for (i, e) in self.e820.iter().enumerate() {
            if e.end < e.start || e.end >= MAX_PHYS_ADDR.saturating_mul(64) {
                return err(Errno::EINVAL, format!("firmware.e820[{i}]: bad range"));
            }
        }
        for (i, m) in self.memory_affinity.iter().enumerate() {
            if m.end < m.start || m.end >= MAX_PHYS_ADDR {
                return err(Errno::EINVAL, format!("firmware.memory_affinity[{i}]: bad range"));
            }
            if m.pxm >= MAX_NUMNODES {
                return err(Errno::EINVAL, format!("firmware.memory_affinity[{i}].pxm: too large"));
            }
        }
        if self.cpus.is_empty() {
            return err(Errno::EINVAL, "firmware.cpus: no CPU");
        }
        if !self.cpus[0].enabled {
            return err(Errno::EINVAL, "firmware.cpus[0].enabled: the boot CPU must be enabled");
        }
        if self.cpus.len() > (NR_CPUS as usize) * 4 {
            return err(Errno::EINVAL, "firmware.cpus: too many CPU slots");
        }
        let mut seen: HashSet<u32, BuildHasherDefault<FxHasher>> =
            HashSet::with_capacity_and_hasher(self.cpus.len(), BuildHasherDefault::default());
        for (i, c) in self.cpus.iter().enumerate() {
            if !seen.insert(c.apic_id) {
                return err(Errno::EINVAL, format!("firmware.cpus[{i}].apic_id: duplicate"));
            }
            if c.pxm.is_some_and(|p| p >= MAX_NUMNODES) {
                return err(Errno::EINVAL, format!("firmware.cpus[{i}].pxm: too large"));
            }
        }
        if self.nr_cpus_possible == 0 || self.nr_cpus_possible > NR_CPUS * 4 {
            return err(Errno::EINVAL, "firmware.nr_cpus_possible: out of range");
        }
        if let Some(d) = &self.distances {
            let n = d.len();
            if n > MAX_NUMNODES as usize {
                return err(Errno::EINVAL, "firmware.distances: too many nodes");
            }
            for (i, row) in d.iter().enumerate() {
                if row.len() != n {
                    return err(Errno::EINVAL, format!("firmware.distances[{i}]: not square"));
                }
                // an OR of the row (vectorised) instead of a short-circuit per entry
                if row.iter().fold(0, |acc, &v| acc | v) > 255 {
                    return err(Errno::EINVAL, format!("firmware.distances[{i}]: value > 255"));
                }
            }
        }
        Ok(())
    }
}
