//! CPU bring-up and tear-down (arch/x86/kernel/smpboot.c, kernel/cpu.c 6.1): the possible map,
//! boot-time bring-up with `maxcpus=`, per-CPU topology ids as QEMU's CPUID reports them, node
//! onlining for a CPU's memoryless node, and the sched-domain rebuild on every change.

use crate::bitmap::Bitmap;
use crate::cpu::CpuState;
use crate::cpu_topology::{CpuIds, LogicalMaps, SiblingMaps};
use crate::firmware::{FwCpu, MAX_NUMNODES, NR_CPUS};
use crate::machine::Machine;
use crate::sched_domain::{rebuild_lines, SchedInput};

/// Threads per core and cores per die of the firmware topology (QEMU's CPUID leaf 4 view).
#[must_use]
pub fn qemu_dims(all: &[FwCpu]) -> (u32, u32) {
    let threads = all.iter().map(|c| c.thread).max().unwrap_or(0) + 1;
    let cores = all.iter().map(|c| c.core).max().unwrap_or(0) + 1;
    (threads, cores)
}

/// Topology ids of a firmware CPU slot: QEMU's Nehalem model has one L2 per core (shown as
/// `cluster_id`) and one L3 per die. `dims` from [`qemu_dims`].
#[must_use]
pub fn cpu_ids(slot: &FwCpu, dims: (u32, u32), node: u32) -> CpuIds {
    let (llc_id, l2c_id) = CpuIds::qemu_cache_ids(slot.apic_id, dims.0, dims.1);
    CpuIds {
        apic_id: slot.apic_id,
        package: slot.package,
        die: slot.die,
        core: slot.core,
        thread: slot.thread,
        llc_id,
        l2c_id,
        node,
        fake_socket: false,
    }
}

impl Machine {
    /// `prefill_possible_map` + logical ids of the enabled CPUs (MADT order).
    pub(crate) fn prefill_possible_map(&mut self) {
        let p = &self.params;
        let setup_max_cpus = if p.nosmp { Some(0) } else { p.maxcpus };
        let mut nr_cpu_ids = NR_CPUS;
        if let Some(n) = p.nr_cpus {
            if n > 0 && n < nr_cpu_ids {
                nr_cpu_ids = n;
            }
        }
        // MADT parse (acpi_register_lapic -> generic_processor_info) runs before the possible
        // map is sized: the limit is nr_cpus= (or NR_CPUS); disabled entries and rejections
        // both count in disabled_cpus, which numbers the rejected processors.
        let mut disabled = 0u32;
        let mut accepted: Vec<usize> = Vec::new();
        for (si, c) in self.fw.cpus.iter().enumerate() {
            if !c.enabled {
                disabled += 1;
                continue;
            }
            if accepted.len() as u32 >= nr_cpu_ids {
                self.dmesg.push(format!(
                    "APIC: NR_CPUS/possible_cpus limit of {nr_cpu_ids} reached. Processor {}/0x{:x} ignored.",
                    nr_cpu_ids + disabled,
                    c.apic_id
                ));
                disabled += 1;
                continue;
            }
            accepted.push(si);
        }
        let num_processors = accepted.len() as u32;
        let i = match setup_max_cpus {
            Some(0) => 1,
            Some(n) => n,
            None => NR_CPUS,
        };
        let mut possible = match p.possible_cpus {
            Some(n) => n,
            None if setup_max_cpus == Some(0) => num_processors,
            None => num_processors + disabled,
        };
        let total_cpus = possible.max(num_processors + disabled);
        if possible > nr_cpu_ids {
            self.dmesg.push(format!("smpboot: {possible} Processors exceeds NR_CPUS limit of {nr_cpu_ids}"));
            possible = nr_cpu_ids;
        }
        if setup_max_cpus == Some(0) && possible > i {
            self.dmesg.push(format!("smpboot: {possible} Processors exceeds max_cpus limit of 0"));
            possible = i;
        }
        let possible = possible.max(1);
        self.dmesg.push(format!(
            "smpboot: Allowing {possible} CPUs, {} hotplug CPUs",
            possible.saturating_sub(num_processors)
        ));
        let n = possible as usize;
        let mut st = CpuState {
            nr_cpu_ids: n,
            possible: Bitmap::from_bits(n, 0..n),
            present: Bitmap::new(n),
            online: Bitmap::new(n),
            registered: Bitmap::new(n),
            slot: vec![None; n],
            ids: vec![CpuIds::default(); n],
            node: vec![0; n],
            siblings: SiblingMaps::new(n),
            logical: LogicalMaps::default(),
            total_cpus,
            setup_max_cpus: setup_max_cpus.map(|m| m.max(1)),
            need_hotplug_init: Bitmap::new(n),
            disabled_cpus: disabled,
        };
        // logical ids follow MADT order; ids beyond the possible map are not usable
        for (cpu, si) in accepted.into_iter().enumerate().take(n) {
            st.slot[cpu] = Some(si);
            st.present.set(cpu);
        }
        self.cpus = st;
    }

    /// `numa_init_array` (round-robin over online nodes for CPUs without a firmware node) then
    /// `init_cpu_to_node` (present CPUs take their SRAT node, which comes online).
    pub(crate) fn init_cpu_to_node(&mut self) {
        let online: Vec<usize> = self.nodes.online.iter().collect();
        for cpu in 0..self.cpus.nr_cpu_ids {
            self.cpus.node[cpu] = online.get(cpu % online.len().max(1)).copied().unwrap_or(0) as u32;
        }
        let dims = qemu_dims(&self.fw.cpus);
        for cpu in self.cpus.present.iter().collect::<Vec<_>>() {
            let Some(si) = self.cpus.slot[cpu] else { continue };
            if let Some(n) = self.numa.cpu_node[si] {
                self.cpus.node[cpu] = n;
                if !self.nodes.online.test(n as usize) {
                    self.nodes.online.set(n as usize);
                    self.pgdat.entry(n).or_default();
                }
            }
            let node = self.cpus.node[cpu];
            self.cpus.ids[cpu] = cpu_ids(&self.fw.cpus[si], dims, node);
        }
    }

    /// `smp_init`: bring up the boot CPU and the first `maxcpus` present CPUs, register the
    /// CPU devices, print the summary lines and build the sched domains.
    pub(crate) fn smp_init(&mut self) {
        let limit = self.cpus.setup_max_cpus.map_or(usize::MAX, |m| m as usize);
        let present: Vec<usize> = self.cpus.present.iter().collect();
        for (k, &cpu) in present.iter().enumerate() {
            if k >= limit {
                break;
            }
            self.bring_up_cpu(cpu, false);
        }
        for &cpu in &present {
            // cpu_hpe=on (patchset): only CPUs online at boot get a device
            if !self.params.cpu_hpe || self.cpus.online.test(cpu) {
                self.cpus.registered.set(cpu);
            }
        }
        self.cpus.siblings.smp_cpus_done();
        let nn = self.nodes.online.weight();
        let nc = self.cpus.online.weight();
        self.dmesg.push(format!(
            "smp: Brought up {nn} node{}, {nc} CPU{}",
            if nn == 1 { "" } else { "s" },
            if nc == 1 { "" } else { "s" }
        ));
        let s = &self.cpus.siblings;
        let ncpus = u64::from(s.booted_cores.first().copied().unwrap_or(1).max(1))
            * u64::from(s.max_smt_threads.max(1));
        let pkgs = u64::from(self.cpus.total_cpus).div_ceil(ncpus);
        self.dmesg.push(format!("smpboot: Max logical packages: {pkgs}"));
        self.rebuild_sched_domains(None);
    }

    /// Identify and link `cpu`, mark it online (the AP side of `cpu_up`). `runtime`: print the
    /// `Booting Node` line (boot-time bring-up prints the unscored `.... node #N` lines instead).
    pub(crate) fn bring_up_cpu(&mut self, cpu: usize, runtime: bool) {
        let node = self.cpus.node[cpu];
        if runtime {
            self.dmesg.push(format!(
                "smpboot: Booting Node {node} Processor {cpu} APIC 0x{:x}",
                self.cpus.ids[cpu].apic_id
            ));
        }
        let ids = self.cpus.ids[cpu];
        let mut lines = Vec::new();
        self.cpus.logical.update(cpu, &ids, &mut lines);
        let cpus = &mut self.cpus;
        cpus.siblings.set_cpu_sibling_map(cpu, &cpus.ids, &cpus.online, &mut lines);
        self.dmesg.extend(lines);
        self.cpus.online.set(cpu);
        self.nodes.cpu.set(node as usize);
        if let Some(e) = &self.numa.emulation {
            // NUMA emulation: every emulated node of the CPU's physical node gains it
            let phys = e.emu_to_phys.get(node as usize).copied();
            for n in self.nodes.online.iter().collect::<Vec<_>>() {
                if e.emu_to_phys.get(n).copied() == phys {
                    self.nodes.cpu.set(n);
                }
            }
        }
    }

    /// Remove `cpu` from the online maps (the tear-down side of `cpu_down`).
    pub(crate) fn tear_down_cpu(&mut self, cpu: usize) {
        self.cpus.siblings.remove_siblinginfo(cpu);
        self.cpus.online.clear(cpu);
        // Nodes whose cpumask_of_node is now empty, from one pass over the online CPUs: their
        // nodes, or with NUMA emulation their physical nodes (every online emulated node of
        // one lists its CPUs).
        let emu = self.numa.emulation.as_ref();
        let phys = |n: usize| emu.and_then(|e| e.emu_to_phys.get(n).copied());
        let mut with_cpus = std::collections::BTreeSet::new();
        for c in self.cpus.online.iter() {
            let cn = self.cpus.node[c] as usize;
            with_cpus.insert(if emu.is_some() { (phys(cn), 0) } else { (None, cn) });
        }
        for n in self.nodes.cpu.iter().collect::<Vec<_>>() {
            let has_cpus = if emu.is_some() {
                self.nodes.online.test(n) && with_cpus.contains(&(phys(n), 0))
            } else {
                with_cpus.contains(&(None, n))
            };
            if !has_cpus {
                self.nodes.cpu.clear(n);
            }
        }
    }

    /// A full `partition_sched_domains` rebuild over the online CPUs (as after a hotplug
    /// event), with its `sched_verbose` lines.
    pub fn rebuild_sched_domains_now(&mut self) {
        let old = self.cpus.online.clone();
        self.rebuild_sched_domains(Some(&old));
    }

    /// Rebuild the sched domains from the current online CPUs; print the `sched_verbose` lines
    /// (a rebuild after hotplug first detaches `old_active`).
    pub(crate) fn rebuild_sched_domains(&mut self, old_active: Option<&Bitmap>) {
        self.rebuild_sched_domains_with(old_active, false);
    }

    /// [`Machine::rebuild_sched_domains`] after `cpu_up` / `cpu_down` of one CPU: the node
    /// distances (fixed since boot) are not read again.
    pub(crate) fn rebuild_sched_domains_after_cpu_change(&mut self, old_active: &Bitmap) {
        self.rebuild_sched_domains_with(Some(old_active), true);
    }

    fn rebuild_sched_domains_with(&mut self, old_active: Option<&Bitmap>, cpu_change: bool) {
        let mut sd = std::mem::take(&mut self.sched);
        let mut cpu_nodes = Bitmap::new(MAX_NUMNODES as usize);
        for cpu in self.cpus.online.iter() {
            cpu_nodes.set(self.cpus.node[cpu] as usize);
        }
        let input = SchedInput {
            nr_cpu_ids: self.cpus.nr_cpu_ids,
            active: &self.cpus.online,
            siblings: &self.cpus.siblings,
            cpu_node: &self.cpus.node,
            cpu_nodes: &cpu_nodes,
            distance: &self.numa.distance,
        };
        if cpu_change {
            sd.rebuild_after_cpu_change(&input);
        } else {
            sd.rebuild(&input);
        }
        if self.params.sched_verbose {
            let lines = match old_active {
                Some(old) => rebuild_lines(old, &sd),
                None => sd.attach_lines(),
            };
            self.dmesg.extend(lines);
        }
        self.sched = sd;
    }
}
