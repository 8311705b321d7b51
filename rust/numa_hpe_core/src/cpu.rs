//! CPU masks and CPU hotplug (kernel/cpu.c, arch/x86/kernel/smpboot.c `prefill_possible_map`,
//! `do_boot_cpu`, arch/x86/kernel/acpi/boot.c `acpi_map_cpu`): possible / present / online,
//! logical ids kept per APIC id, cpu_to_node, and the patchset's registration rule
//! (`cpu_hpe=on`: only CPUs online at boot get a `cpuN` device).

use crate::bitmap::Bitmap;
use crate::cpu_topology::{CpuIds, LogicalMaps, SiblingMaps};

/// Per-machine CPU state.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CpuState {
    pub nr_cpu_ids: usize,
    pub possible: Bitmap,
    pub present: Bitmap,
    pub online: Bitmap,
    /// CPUs with a `cpuN` device (registered with sysfs).
    pub registered: Bitmap,
    /// Firmware slot of each logical CPU (None: no slot mapped).
    pub slot: Vec<Option<usize>>,
    /// Topology ids of each logical CPU.
    pub ids: Vec<CpuIds>,
    /// cpu_to_node.
    pub node: Vec<u32>,
    pub siblings: SiblingMaps,
    pub logical: LogicalMaps,
    /// num_processors + disabled_cpus (total_cpus).
    pub total_cpus: u32,
    /// `maxcpus=` limit for boot (None: all present CPUs).
    pub setup_max_cpus: Option<u32>,
    /// Hot-added CPUs not yet onlined (`Will online and init hotplugged CPU`).
    pub need_hotplug_init: Bitmap,
    /// `disabled_cpus`: disabled MADT entries plus every rejected processor.
    pub disabled_cpus: u32,
}

impl CpuState {
    /// Logical CPU mapped to firmware slot `slot`, if any.
    #[must_use]
    pub fn cpu_of_slot(&self, slot: usize) -> Option<usize> {
        self.slot.iter().position(|&s| s == Some(slot))
    }

    /// `offline` file: possible & ~online, plus the `total_cpus > nr_cpu_ids` tail.
    #[must_use]
    pub fn offline_list(&self) -> String {
        let mut s = self.possible.andnot(&self.online).format_list();
        let total = self.total_cpus as usize;
        if total > self.nr_cpu_ids {
            // print_cpus_offline always writes the comma, even after an empty list
            s.push(',');
            if total - 1 == self.nr_cpu_ids {
                s.push_str(&self.nr_cpu_ids.to_string());
            } else {
                s.push_str(&format!("{}-{}", self.nr_cpu_ids, total - 1));
            }
        }
        s
    }
}
