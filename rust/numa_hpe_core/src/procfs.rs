//! /proc files user space reads for memory and CPU layout: cmdline, meminfo, zoneinfo, iomem,
//! cpuinfo, and the per-node meminfo (fs/proc/meminfo.c, mm/vmstat.c, drivers/base/node.c).

use std::fmt::Write;

use crate::error::Result;
use crate::machine::Machine;
use crate::vfs::{Kind, RO};
use crate::zone::ZONES;

/// The meminfo keys this emulator reports, in the kernel's order (6.1).
const MEMINFO_KEYS: [&str; 19] = [
    "MemTotal", "MemFree", "MemAvailable", "Buffers", "Cached", "SwapCached", "Active", "Inactive",
    "Unevictable", "Mlocked", "SwapTotal", "SwapFree", "Dirty", "Writeback", "AnonPages", "Mapped",
    "Shmem", "KReclaimable", "Slab",
];

impl Machine {
    pub(crate) fn procfs_list(&self) -> Vec<(String, Kind)> {
        ["cmdline", "cpuinfo", "iomem", "meminfo", "zoneinfo"].iter().map(|n| ((*n).to_string(), RO)).collect()
    }

    pub(crate) fn procfs_show(&self, f: &str) -> Option<Result<String>> {
        Some(Ok(match f {
            "cmdline" => format!("{}\n", self.params.raw.trim()),
            "meminfo" => self.meminfo(),
            "zoneinfo" => self.zoneinfo(),
            "iomem" => self.iomem(),
            "cpuinfo" => self.cpuinfo(),
            _ => return None,
        }))
    }

    /// Free pages estimate: managed minus what a freshly booted system uses (a fixed share).
    fn free_pages(managed: u64) -> u64 {
        managed - managed / 16
    }

    fn meminfo(&self) -> String {
        let managed: u64 = self.pgdat.values().map(|p| p.managed_pages()).sum();
        let total = managed * 4;
        let free = Self::free_pages(managed) * 4;
        let mut s = String::new();
        for k in MEMINFO_KEYS {
            let v = match k {
                "MemTotal" => total,
                "MemFree" | "MemAvailable" => free,
                _ => 0,
            };
            let _ = writeln!(s, "{:<16}{v:>8} kB", format!("{k}:"));
        }
        s
    }

    /// `nodeN/meminfo`.
    pub(crate) fn node_meminfo(&self, nid: u32) -> String {
        let managed = self.pgdat.get(&nid).map_or(0, |p| p.managed_pages());
        let total = managed * 4;
        let free = Self::free_pages(managed) * 4;
        let mut s = String::new();
        for (k, v) in [("MemTotal", total), ("MemFree", free), ("MemUsed", total - free)] {
            let _ = writeln!(s, "Node {nid} {:<16}{v:>8} kB", format!("{k}:"));
        }
        for k in ["SwapCached", "Active", "Inactive", "Active(anon)", "Inactive(anon)", "Active(file)",
            "Inactive(file)", "Unevictable", "Mlocked", "Dirty", "Writeback", "FilePages", "Mapped",
            "AnonPages", "Shmem", "KernelStack", "PageTables", "SecPageTables", "NFS_Unstable",
            "Bounce", "WritebackTmp", "KReclaimable", "Slab", "SReclaimable", "SUnreclaim",
            "AnonHugePages", "ShmemHugePages", "ShmemPmdMapped", "FileHugePages", "FilePmdMapped"]
        {
            let _ = writeln!(s, "Node {nid} {:<16}{:>8} kB", format!("{k}:"), 0);
        }
        for k in ["HugePages_Total", "HugePages_Free", "HugePages_Surp"] {
            let _ = writeln!(s, "Node {nid} {:<16}{:>5}", format!("{k}:"), 0);
        }
        s
    }

    fn zoneinfo(&self) -> String {
        let mut s = String::new();
        for (&nid, pg) in &self.pgdat {
            if !self.nodes.online.test(nid as usize) {
                continue;
            }
            for z in ZONES {
                let zone = pg.zone(z);
                let _ = write!(s, "Node {nid}, zone {:>8}", z.name());
                let _ = write!(
                    s,
                    "\n  pages free     {}\n        boost    0\n        min      {}\n        low      {}\n        high     {}\n        spanned  {}\n        present  {}\n        managed  {}\n        cma      0\n        protection: (0, 0, 0, 0, 0)",
                    Self::free_pages(zone.managed),
                    zone.wmark[0],
                    zone.wmark[1],
                    zone.wmark[2],
                    zone.spanned,
                    zone.present,
                    zone.managed
                );
                if zone.present > 0 {
                    let _ = write!(s, "\n  node_unreclaimable:  0\n  start_pfn:           {}", zone.zone_start_pfn);
                }
                s.push('\n');
            }
        }
        s
    }

    fn iomem(&self) -> String {
        let mut ranges: Vec<(u64, u64)> = self.e820.ram_ranges();
        ranges.extend(self.hotplug_resources.iter().map(|(&a, &b)| (a, b)));
        ranges.sort_unstable();
        let mut s = String::new();
        for (a, b) in ranges {
            let a = a.max(0x1000);
            if a < b {
                let _ = writeln!(s, "{a:08x}-{:08x} : System RAM", b - 1);
            }
        }
        s
    }

    fn cpuinfo(&self) -> String {
        let mut s = String::new();
        for cpu in self.cpus.online.iter() {
            let ids = &self.cpus.ids[cpu];
            let siblings = self.cpus.siblings.package[cpu].weight();
            let cores = self.cpus.siblings.booted_cores.get(cpu).copied().unwrap_or(1);
            let _ = write!(
                s,
                "processor\t: {cpu}\nvendor_id\t: GenuineIntel\ncpu family\t: 6\nmodel\t\t: 26\nmodel name\t: Intel Core i7 9xx (Nehalem Class Core i7)\nstepping\t: 3\nphysical id\t: {}\nsiblings\t: {siblings}\ncore id\t\t: {}\ncpu cores\t: {cores}\napicid\t\t: {}\ninitial apicid\t: {}\nflags\t\t: fpu vme de pse tsc msr pae mce cx8 apic sep pge mca cmov pat pse36 clflush mmx fxsr sse sse2 syscall nx lm constant_tsc nopl xtopology cpuid pni ssse3 cx16 sse4_1 sse4_2 x2apic popcnt hypervisor lahf_lm\n\n",
                ids.package, ids.core, ids.apic_id, ids.apic_id
            );
        }
        s
    }
}
