//! /sys/devices/system/cpu (drivers/base/cpu.c, drivers/base/topology.c, kernel/cpu.c):
//! masks, `cpuN/` of registered CPUs with `online`, the node link and `topology/` (online CPUs
//! only), `smt/`, and the patchset's `probe` / `release` (CONFIG_ARCH_CPU_PROBE_RELEASE).

use crate::bitmap::Bitmap;
use crate::error::{err, Errno, Result};
use crate::firmware::NR_CPUS;
use crate::machine::{KernelConfig, Machine};
use crate::parse::kstrtobool;
use crate::vfs::{entry_index, Kind, RO, RW, WO};

const TOPOLOGY_FILES: [&str; 16] = [
    "physical_package_id",
    "die_id",
    "core_id",
    "cluster_id",
    "thread_siblings",
    "thread_siblings_list",
    "core_siblings",
    "core_siblings_list",
    "core_cpus",
    "core_cpus_list",
    "die_cpus",
    "die_cpus_list",
    "package_cpus",
    "package_cpus_list",
    "cluster_cpus",
    "cluster_cpus_list",
];

fn cpu_id(name: &str) -> Option<usize> {
    entry_index(name, "cpu")
}

impl Machine {
    /// A `cpuN` device exists.
    #[must_use]
    pub fn cpu_registered(&self, cpu: usize) -> bool {
        self.cpus.registered.test(cpu)
    }

    /// More than one thread per core in the firmware topology (`smt/control` is `on`).
    fn smt_supported(&self) -> bool {
        self.fw.cpus.iter().any(|c| c.thread > 0)
    }

    /// The entries of the cpu directory other than the `cpuN` devices.
    pub(crate) fn cpu_root_files(&self) -> Vec<(String, Kind)> {
        let mut v: Vec<(String, Kind)> = ["possible", "present", "online", "offline", "kernel_max"]
            .iter()
            .map(|n| ((*n).to_string(), RO))
            .collect();
        if self.config == KernelConfig::NumaHpe {
            v.push(("probe".into(), WO));
            v.push(("release".into(), WO));
        }
        v.push(("smt".into(), Kind::Dir));
        v
    }

    pub(crate) fn cpu_list(&self, rest: &[&str]) -> Option<Vec<(String, Kind)>> {
        match rest {
            [] => {
                let mut v = self.cpu_root_files();
                v.extend(self.cpus.registered.iter().map(|c| (format!("cpu{c}"), Kind::Dir)));
                Some(v)
            }
            ["smt"] => Some(vec![("active".into(), RO), ("control".into(), RW)]),
            [c] => {
                let cpu = cpu_id(c)?;
                if !self.cpu_registered(cpu) {
                    return None;
                }
                let mut v = Vec::new();
                if cpu != 0 {
                    v.push(("online".to_string(), RW));
                }
                let node = self.cpus.node[cpu];
                if self.nodes.online.test(node as usize) {
                    v.push((format!("node{node}"), Kind::Link(format!("../../node/node{node}"))));
                }
                if self.cpus.online.test(cpu) {
                    v.push(("topology".into(), Kind::Dir));
                }
                Some(v)
            }
            [c, "topology"] => {
                let cpu = cpu_id(c)?;
                (self.cpu_registered(cpu) && self.cpus.online.test(cpu))
                    .then(|| TOPOLOGY_FILES.iter().map(|f| ((*f).to_string(), RO)).collect())
            }
            _ => None,
        }
    }

    pub(crate) fn cpu_show(&self, rest: &[&str]) -> Option<Result<String>> {
        let list = |b: &Bitmap| Some(Ok(format!("{}\n", b.format_list())));
        match rest {
            ["possible"] => list(&self.cpus.possible),
            ["present"] => list(&self.cpus.present),
            ["online"] => list(&self.cpus.online),
            ["offline"] => Some(Ok(format!("{}\n", self.cpus.offline_list()))),
            ["kernel_max"] => Some(Ok(format!("{}\n", NR_CPUS - 1))),
            ["smt", "control"] => {
                Some(Ok(if self.smt_supported() { "on\n" } else { "notsupported\n" }.into()))
            }
            ["smt", "active"] => {
                let active = self.cpus.online.iter().any(|c| self.cpus.siblings.smt[c].weight() > 1);
                Some(Ok(format!("{}\n", u8::from(active))))
            }
            [c, "online"] => {
                let cpu = cpu_id(c)?;
                (self.cpu_registered(cpu) && cpu != 0)
                    .then(|| Ok(format!("{}\n", u8::from(self.cpus.online.test(cpu)))))
            }
            [c, "topology", f] => {
                let cpu = cpu_id(c)?;
                if !(self.cpu_registered(cpu) && self.cpus.online.test(cpu)) {
                    return None;
                }
                let ids = &self.cpus.ids[cpu];
                let s = &self.cpus.siblings;
                let (base, is_list) = match f.strip_suffix("_list") {
                    Some(b) => (b, true),
                    None => (*f, false),
                };
                let mask = match base {
                    "physical_package_id" => return Some(Ok(format!("{}\n", ids.package))),
                    "die_id" => return Some(Ok(format!("{}\n", ids.die))),
                    "core_id" => return Some(Ok(format!("{}\n", ids.core))),
                    "cluster_id" => return Some(Ok(format!("{}\n", ids.l2c_id))),
                    "thread_siblings" | "core_cpus" => &s.smt[cpu],
                    "core_siblings" | "package_cpus" => &s.package[cpu],
                    "die_cpus" => &s.die[cpu],
                    "cluster_cpus" => &s.cluster[cpu],
                    _ => return None,
                };
                Some(Ok(if is_list { format!("{}\n", mask.format_list()) } else { format!("{}\n", mask.format_mask()) }))
            }
            _ => None,
        }
    }

    pub(crate) fn cpu_store(&mut self, rest: &[&str], data: &[u8]) -> Result<()> {
        match rest {
            ["smt", "control"] => {
                let words = ["on", "off", "forceoff"];
                if !words.iter().any(|w| crate::parse::sysfs_streq(data, w.as_bytes())) {
                    return err(Errno::EINVAL, "invalid SMT control value");
                }
                if !self.smt_supported() {
                    return err(Errno::ENODEV, "SMT is not supported");
                }
                if crate::parse::sysfs_streq(data, b"on") {
                    return Ok(());
                }
                err(Errno::EOPNOTSUPP, "SMT control is not emulated beyond `on`")
            }
            [c, "online"] => {
                let cpu = cpu_id(c).unwrap_or(usize::MAX);
                let want = kstrtobool(data)?;
                if want {
                    self.cpu_up(cpu)
                } else {
                    self.cpu_down(cpu)
                }
            }
            ["probe"] if self.config == KernelConfig::NumaHpe => self.cpu_probe_store(data),
            ["release"] if self.config == KernelConfig::NumaHpe => self.cpu_release_store(data),
            _ => err(Errno::EACCES, "permission denied"),
        }
    }
}
