//! /sys/kernel/debug: the scheduler's `sched/domains/cpuN/domainM/*` (kernel/sched/debug.c) and
//! the patchset's debugfs interfaces, whose directory depends on the patchset version
//! (`node/add_node` v5, `mem_hotplug/` v6-v9, `node_hotplug/add_node` v10).

use crate::error::{err, Errno, Result};
use crate::machine::{KernelConfig, Machine, PatchsetVersion};
use crate::vfs::{entry_index, Kind, RO, RW, WO};

const SD_FILES: [(&str, bool); 9] = [
    ("name", false),
    ("flags", false),
    ("min_interval", true),
    ("max_interval", true),
    ("busy_factor", true),
    ("imbalance_pct", true),
    ("cache_nice_tries", true),
    ("max_newidle_lb_cost", true),
    ("groups_flags", false),
];

fn num(name: &str, prefix: &str) -> Option<usize> {
    entry_index(name, prefix)
}

impl Machine {
    /// Directory holding `add_node` for this patchset version.
    fn add_node_dir(&self) -> Option<&'static str> {
        if self.config != KernelConfig::NumaHpe {
            return None;
        }
        match self.patchset {
            PatchsetVersion::V3 => None,
            PatchsetVersion::V5 => Some("node"),
            PatchsetVersion::V10 => Some("node_hotplug"),
            _ => Some("mem_hotplug"),
        }
    }

    /// Per-node `mem_hotplug/nodeN/add_memory` files exist (v8+).
    fn per_node_add_memory(&self) -> bool {
        self.config == KernelConfig::NumaHpe && self.patchset >= PatchsetVersion::V8
    }

    /// The global memory-add file of v6 (`probe`) / v7 (`add_memory`).
    fn global_add_memory(&self) -> Option<&'static str> {
        if self.config != KernelConfig::NumaHpe {
            return None;
        }
        match self.patchset {
            PatchsetVersion::V6 => Some("probe"),
            PatchsetVersion::V7 => Some("add_memory"),
            _ => None,
        }
    }

    pub(crate) fn debugfs_list(&self, rest: &[&str]) -> Option<Vec<(String, Kind)>> {
        match rest {
            [] => {
                let mut v = vec![("sched".to_string(), Kind::Dir)];
                if let Some(d) = self.add_node_dir() {
                    v.push((d.to_string(), Kind::Dir));
                }
                if self.per_node_add_memory() && self.add_node_dir() != Some("mem_hotplug") {
                    v.push(("mem_hotplug".into(), Kind::Dir));
                }
                Some(v)
            }
            ["sched"] => Some(vec![("domains".into(), Kind::Dir)]),
            ["sched", "domains"] => {
                Some(self.cpus.possible.iter().map(|c| (format!("cpu{c}"), Kind::Dir)).collect())
            }
            ["sched", "domains", c] => {
                let cpu = num(c, "cpu")?;
                if !self.cpus.possible.test(cpu) {
                    return None;
                }
                let n = self.sched.debugfs_domain_count(cpu);
                Some((0..n).map(|d| (format!("domain{d}"), Kind::Dir)).collect())
            }
            ["sched", "domains", c, d] => {
                let cpu = num(c, "cpu")?;
                let dom = num(d, "domain")?;
                (dom < self.sched.debugfs_domain_count(cpu)).then(|| {
                    SD_FILES.iter().map(|(f, w)| ((*f).to_string(), if *w { RW } else { RO })).collect()
                })
            }
            [dir] => {
                let mut v = Vec::new();
                if Some(*dir) == self.add_node_dir() {
                    v.push(("add_node".to_string(), WO));
                }
                if *dir == "mem_hotplug" {
                    if let Some(g) = self.global_add_memory() {
                        v.push((g.to_string(), WO));
                    }
                    if self.per_node_add_memory() {
                        v.extend(self.mem_hotplug_nodes.iter().map(|n| (format!("node{n}"), Kind::Dir)));
                    }
                }
                (!v.is_empty()).then_some(v)
            }
            ["mem_hotplug", n] if self.per_node_add_memory() => {
                let nid = num(n, "node")?;
                self.mem_hotplug_nodes.test(nid).then(|| vec![("add_memory".to_string(), WO)])
            }
            _ => None,
        }
    }

    pub(crate) fn debugfs_show(&self, rest: &[&str]) -> Option<Result<String>> {
        match rest {
            ["sched", "domains", c, d, f] => {
                let cpu = num(c, "cpu")?;
                let dom = num(d, "domain")?;
                if *f == "max_newidle_lb_cost" {
                    return Some(Ok("0\n".into()));
                }
                let attr = if *f == "groups_flags" { "flags" } else { f };
                self.sched.debugfs_attr(cpu, dom, attr).map(Ok)
            }
            _ => None,
        }
    }

    pub(crate) fn debugfs_store(&mut self, rest: &[&str], data: &[u8]) -> Result<()> {
        match rest {
            [dir, "add_node"] if Some(*dir) == self.add_node_dir() => self.add_node_store(data),
            ["mem_hotplug", f] if Some(*f) == self.global_add_memory() => self.global_add_memory_store(data),
            ["mem_hotplug", n, "add_memory"] if self.per_node_add_memory() => {
                let nid = num(n, "node").unwrap_or(usize::MAX);
                self.node_add_memory_store(nid as u32, data)
            }
            ["sched", "domains", ..] => Ok(()),
            _ => err(Errno::EACCES, "permission denied"),
        }
    }
}
