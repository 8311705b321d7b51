//! /sys/devices/system/node (drivers/base/node.c): state lists, `nodeN/` of online nodes with
//! cpulist, cpumap, distance, meminfo and the cpu / memory links; the patchset v1-v3
//! `node/probe` file.

use crate::bitmap::Bitmap;
use crate::error::{err, Errno, Result};
use crate::machine::{KernelConfig, Machine, PatchsetVersion};
use crate::vfs::{entry_index, Kind, RO, RW, WO};

/// The files of every `nodeN/` directory (the cpuN / memoryN links come on top).
const NODE_FILES: [(&str, Kind); 7] = [
    ("cpulist", RO),
    ("cpumap", RO),
    ("distance", RO),
    ("meminfo", RO),
    ("numastat", RO),
    ("vmstat", RO),
    ("compact", WO),
];

fn cpu_link(cpu: usize) -> Kind {
    Kind::Link(format!("../../cpu/cpu{cpu}"))
}

fn block_link(block: u64) -> Kind {
    Kind::Link(format!("../../memory/memory{block}"))
}

fn node_id(name: &str) -> Option<usize> {
    entry_index(name, "node")
}

impl Machine {
    fn node_probe_enabled(&self) -> bool {
        self.config == KernelConfig::NumaHpe && self.patchset == PatchsetVersion::V3
    }

    /// The entries of the node directory other than the `nodeN` directories.
    pub(crate) fn node_root_files(&self) -> Vec<(String, Kind)> {
        let mut v: Vec<(String, Kind)> =
            ["possible", "online", "has_normal_memory", "has_memory", "has_cpu", "has_generic_initiator"]
                .iter()
                .map(|n| ((*n).to_string(), RO))
                .collect();
        if self.node_probe_enabled() {
            v.push(("probe".into(), RW));
        }
        v
    }

    pub(crate) fn node_list(&self, rest: &[&str]) -> Option<Vec<(String, Kind)>> {
        match rest {
            [] => {
                let mut v = self.node_root_files();
                v.extend(self.nodes.online.iter().map(|n| (format!("node{n}"), Kind::Dir)));
                Some(v)
            }
            [n] => {
                let nid = node_id(n)?;
                if !self.nodes.online.test(nid) {
                    return None;
                }
                let mut v: Vec<(String, Kind)> =
                    NODE_FILES.iter().map(|(n, k)| ((*n).to_string(), k.clone())).collect();
                for cpu in self.cpus.registered.iter() {
                    if self.cpus.node[cpu] as usize == nid {
                        v.push((format!("cpu{cpu}"), cpu_link(cpu)));
                    }
                }
                for b in self.blocks.values() {
                    if b.nodes.contains(&(nid as u32)) {
                        v.push((format!("memory{}", b.id), block_link(b.id)));
                    }
                }
                Some(v)
            }
            _ => None,
        }
    }

    /// One entry of `nodeN/` without listing the directory (a read of `nodeN/cpulist` would
    /// otherwise scan every CPU and memory block for the links).
    pub(crate) fn node_entry_kind(&self, node: &str, name: &str) -> Option<Kind> {
        let nid = node_id(node)?;
        if !self.nodes.online.test(nid) {
            return None;
        }
        if let Some(cpu) = entry_index::<usize>(name, "cpu") {
            let on_node = self.cpu_registered(cpu) && self.cpus.node[cpu] as usize == nid;
            return on_node.then(|| cpu_link(cpu));
        }
        if let Some(block) = entry_index::<u64>(name, "memory") {
            let on_node = self.blocks.get(&block).is_some_and(|b| b.nodes.contains(&(nid as u32)));
            return on_node.then(|| block_link(block));
        }
        NODE_FILES.iter().find(|(n, _)| *n == name).map(|(_, k)| k.clone())
    }

    pub(crate) fn node_show(&self, rest: &[&str]) -> Option<Result<String>> {
        let list = |b: &Bitmap| Some(Ok(format!("{}\n", b.format_list())));
        match rest {
            ["possible"] => list(&self.nodes.possible),
            ["online"] => list(&self.nodes.online),
            ["has_normal_memory"] => list(&self.nodes.normal_memory),
            ["has_memory"] => list(&self.nodes.memory),
            ["has_cpu"] => list(&self.nodes.cpu),
            ["has_generic_initiator"] => list(&self.nodes.generic_initiator),
            ["probe"] => list(&self.hidden_nodes()),
            [n, f] => {
                let nid = node_id(n)?;
                if !self.nodes.online.test(nid) {
                    return None;
                }
                Some(Ok(match *f {
                    "cpulist" => format!("{}\n", self.cpumask_of_node(nid).format_list()),
                    "cpumap" => format!("{}\n", self.cpumask_of_node(nid).format_mask()),
                    "distance" => {
                        let d: Vec<String> =
                            self.nodes.online.iter().map(|m| self.node_distance(nid, m).to_string()).collect();
                        format!("{}\n", d.join(" "))
                    }
                    "meminfo" => self.node_meminfo(nid as u32),
                    "numastat" => "numa_hit 0\nnuma_miss 0\nnuma_foreign 0\ninterleave_hit 0\nlocal_node 0\nother_node 0\n".into(),
                    "vmstat" => self.node_vmstat(nid as u32),
                    _ => return None,
                }))
            }
            _ => None,
        }
    }

    pub(crate) fn node_store(&mut self, rest: &[&str], data: &[u8]) -> Result<()> {
        match rest {
            ["probe"] if self.node_probe_enabled() => self.node_probe_store(data),
            [_, "compact"] => Ok(()),
            _ => err(Errno::EACCES, "permission denied"),
        }
    }

    /// `nodeN/vmstat`: the zone counters user space most often reads.
    fn node_vmstat(&self, nid: u32) -> String {
        let free = self.pgdat.get(&nid).map_or(0, |p| p.managed_pages());
        format!("nr_free_pages {free}\nnr_zone_inactive_anon 0\nnr_zone_active_anon 0\nnr_zone_inactive_file 0\nnr_zone_active_file 0\nnr_zone_unevictable 0\n")
    }
}
