//! Runtime CPU hotplug: `cpuN/online` stores (kernel/cpu.c `cpu_up` / `cpu_down`), ACPI
//! processor insert / eject (drivers/acpi/acpi_processor.c, arch/x86/kernel/acpi/boot.c
//! `acpi_map_cpu`: logical ids kept per APIC id), and the node a CPU's bring-up onlines.

use crate::error::{err, Errno, Result};
use crate::machine::Machine;
use crate::notifier::Event;
use crate::smpboot::{cpu_ids, qemu_dims};

impl Machine {
    /// `try_online_node(nid)`: a memoryless node comes online (own zonelist only) and registers.
    pub(crate) fn try_online_node(&mut self, nid: u32) {
        if self.nodes.online.test(nid as usize) {
            return;
        }
        self.pgdat.entry(nid).or_default();
        self.build_all_zonelists(Some(nid), None, None);
        self.nodes.online.set(nid as usize);
        self.mem_hotplug_nodes.set(nid as usize);
        let _ = self.emit(Event::NodeOnline { nid });
    }

    /// `cpu_up` through `cpuN/online` (already online: success, as `device_online` returns 1).
    pub fn cpu_up(&mut self, cpu: usize) -> Result<()> {
        if !self.cpus.possible.test(cpu) {
            return err(
                Errno::EINVAL,
                format!("can't online cpu {cpu} because it is not configured as may-hotadd at boot time"),
            );
        }
        if self.cpus.online.test(cpu) {
            return Ok(());
        }
        if !self.cpus.present.test(cpu) {
            return err(Errno::EINVAL, format!("cpu {cpu} is not present"));
        }
        self.emit(Event::CpuGoingOnline { cpu: cpu as u32 })?;
        let node = self.cpus.node[cpu];
        self.try_online_node(node);
        let old = self.cpus.online.clone();
        self.bring_up_cpu(cpu, true);
        if self.cpus.need_hotplug_init.test(cpu) {
            self.cpus.need_hotplug_init.clear(cpu);
            self.dmesg.push(format!("Will online and init hotplugged CPU: {cpu}"));
        }
        self.rebuild_sched_domains_after_cpu_change(&old);
        let _ = self.emit(Event::CpuOnline { cpu: cpu as u32 });
        Ok(())
    }

    /// `cpu_down` through `cpuN/online` (already offline: success).
    pub fn cpu_down(&mut self, cpu: usize) -> Result<()> {
        if !self.cpus.online.test(cpu) {
            return Ok(());
        }
        if self.cpus.online.weight() == 1 {
            return err(Errno::EBUSY, format!("cpu {cpu} is the last online CPU"));
        }
        self.emit(Event::CpuGoingOffline { cpu: cpu as u32 })?;
        let old = self.cpus.online.clone();
        self.tear_down_cpu(cpu);
        // the CPU dies first; the domain rebuild runs as a work item once hotplug is done
        self.dmesg.push(format!("smpboot: CPU {cpu} is now offline"));
        self.rebuild_sched_domains_after_cpu_change(&old);
        let _ = self.emit(Event::CpuOffline { cpu: cpu as u32 });
        Ok(())
    }

    /// ACPI processor insert of the firmware slot with `apic_id`: returns the logical id.
    pub fn firmware_add_cpu(&mut self, apic_id: u32, pxm: Option<u32>) -> Result<usize> {
        let Some(slot) = self.fw.cpus.iter().position(|c| c.apic_id == apic_id) else {
            return err(Errno::ENODEV, format!("no CPU slot with APIC id {apic_id:#x}"));
        };
        let known = self.cpus.cpu_of_slot(slot);
        if known.is_some_and(|c| self.cpus.present.test(c)) {
            return err(Errno::EEXIST, format!("CPU with APIC id {apic_id:#x} is already present"));
        }
        let n = self.cpus.nr_cpu_ids;
        let cpu = match known {
            Some(c) if self.cpus.present.weight() < n => c,
            _ => {
                let next = known.unwrap_or_else(|| self.cpus.slot.iter().filter(|s| s.is_some()).count());
                if self.cpus.present.weight() >= n || next >= n {
                    let thiscpu = n as u32 + self.cpus.disabled_cpus;
                    self.cpus.disabled_cpus += 1;
                    self.dmesg.push(format!(
                        "APIC: NR_CPUS/possible_cpus limit of {n} reached. Processor {thiscpu}/0x{apic_id:x} ignored."
                    ));
                    self.dmesg.push("ACPI: Unable to map lapic to logical cpu number".to_string());
                    return err(Errno::ENOSPC, format!("no logical CPU id left (nr_cpu_ids {n})"));
                }
                next
            }
        };
        self.cpus.slot[cpu] = Some(slot);
        let pxm = pxm.or(self.fw.cpus[slot].pxm);
        if let Some(node) = pxm.and_then(|p| self.numa.node_of_pxm(p)) {
            self.cpus.node[cpu] = node;
        }
        let node = self.cpus.node[cpu];
        self.cpus.ids[cpu] = cpu_ids(&self.fw.cpus[slot], qemu_dims(&self.fw.cpus), node);
        self.cpus.present.set(cpu);
        self.cpus.registered.set(cpu);
        self.cpus.need_hotplug_init.set(cpu);
        self.dmesg.push(format!("CPU{cpu} has been hot-added"));
        Ok(cpu)
    }

    /// ACPI processor eject: offline the CPU if needed, unregister it and clear present.
    pub fn firmware_remove_cpu(&mut self, apic_id: u32) -> Result<()> {
        let cpu = self
            .fw
            .cpus
            .iter()
            .position(|c| c.apic_id == apic_id)
            .and_then(|slot| self.cpus.cpu_of_slot(slot))
            .filter(|&c| self.cpus.present.test(c));
        let Some(cpu) = cpu else {
            return err(Errno::ENODEV, format!("no present CPU with APIC id {apic_id:#x}"));
        };
        if cpu == 0 {
            return err(Errno::EBUSY, "the boot CPU cannot be ejected");
        }
        self.cpu_down(cpu).map_err(|e| crate::error::HpeError::new(Errno::EBUSY, e.msg))?;
        self.cpus.registered.clear(cpu);
        self.cpus.present.clear(cpu);
        let node = self.cpus.node[cpu];
        self.try_offline_node(node);
        Ok(())
    }
}
