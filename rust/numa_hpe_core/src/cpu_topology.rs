//! x86 CPU topology: per-CPU ids and the sibling maps built when a CPU comes online
//! (arch/x86/kernel/smpboot.c `set_cpu_sibling_map` / `remove_siblinginfo`,
//! `topology_update_package_map` / `topology_update_die_map`).
//!
//! HELPER-OWNED STUB: interface fixed, body to be completed.

use crate::bitmap::Bitmap;

/// What CPUID / firmware says about one logical CPU.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct CpuIds {
    pub apic_id: u32,
    /// phys_proc_id (physical package id).
    pub package: u32,
    pub die: u32,
    pub core: u32,
    pub thread: u32,
    /// Last-level-cache id (QEMU: one L3 per die).
    pub llc_id: u32,
    /// L2 id, shown as `cluster_id` (QEMU: one L2 per core).
    pub l2c_id: u32,
    /// cpu_to_node.
    pub node: u32,
    /// Patchset fake socket (cpu_probe_on): shares no sibling / LLC map with others.
    pub fake_socket: bool,
}

/// Sibling maps of all CPUs (nr_cpu_ids wide), as sysfs `topology/` and the scheduler see them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SiblingMaps {
    /// topology_sibling_cpumask (thread_siblings, core_cpus).
    pub smt: Vec<Bitmap>,
    /// cpu_l2c_shared_mask (cluster_cpus).
    pub cluster: Vec<Bitmap>,
    /// cpu_llc_shared_mask (MC level).
    pub llc: Vec<Bitmap>,
    /// topology_die_cpumask (die_cpus).
    pub die: Vec<Bitmap>,
    /// topology_core_cpumask (core_siblings, package_cpus).
    pub package: Vec<Bitmap>,
    /// x86_has_numa_in_package: drop the DIE level.
    pub numa_in_package: bool,
    /// booted_cores of each CPU.
    pub booted_cores: Vec<u32>,
    /// __max_smt_threads.
    pub max_smt_threads: u32,
}

impl SiblingMaps {
    #[must_use]
    pub fn new(nr_cpu_ids: usize) -> Self {
        SiblingMaps {
            smt: vec![Bitmap::new(nr_cpu_ids); nr_cpu_ids],
            cluster: vec![Bitmap::new(nr_cpu_ids); nr_cpu_ids],
            llc: vec![Bitmap::new(nr_cpu_ids); nr_cpu_ids],
            die: vec![Bitmap::new(nr_cpu_ids); nr_cpu_ids],
            package: vec![Bitmap::new(nr_cpu_ids); nr_cpu_ids],
            numa_in_package: false,
            booted_cores: vec![0; nr_cpu_ids],
            max_smt_threads: 1,
        }
    }

    /// `set_cpu_sibling_map(cpu)`: link `cpu` (about to be set online) with every CPU in
    /// `online` (which does not yet contain `cpu`). `ids[c]` are the ids of logical CPU c.
    /// Appends the kernel's warnings (topology_sane) to `dmesg`.
    pub fn set_cpu_sibling_map(
        &mut self,
        cpu: usize,
        ids: &[CpuIds],
        online: &Bitmap,
        dmesg: &mut Vec<String>,
    ) {
        let _ = (ids, online, dmesg);
        for m in [&mut self.smt, &mut self.cluster, &mut self.llc, &mut self.die, &mut self.package] {
            m[cpu].set(cpu);
        }
    }

    /// `remove_siblinginfo(cpu)`: unlink an offlined CPU from every map.
    pub fn remove_siblinginfo(&mut self, cpu: usize) {
        for m in [&mut self.smt, &mut self.cluster, &mut self.llc, &mut self.die, &mut self.package] {
            for b in m.iter_mut() {
                b.clear(cpu);
            }
            m[cpu].clear_all();
        }
    }
}

/// Logical package / die numbering (`topology_update_package_map`, `topology_update_die_map`):
/// keeps the first-seen order across the machine's life and prints
/// `smpboot: CPU %u Converting physical %u to logical package|die %u`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LogicalMaps {
    pub packages: Vec<u32>,
    pub dies: Vec<(u32, u32)>,
}

impl LogicalMaps {
    /// Called when `cpu` is identified (boot CPU, each AP bring-up, hot-added CPU bring-up).
    pub fn update(&mut self, cpu: usize, ids: &CpuIds, dmesg: &mut Vec<String>) {
        let _ = (cpu, ids, dmesg);
    }
}
