//! /sys/devices/system/memory (drivers/base/memory.c): block_size_bytes, auto_online_blocks,
//! probe (CONFIG_ARCH_MEMORY_PROBE, the patchset's configuration only), and `memoryN/` with
//! phys_index, state, online, phys_device, removable, valid_zones and the node link.

use crate::cmdline::OnlineType;
use crate::error::{err, Errno, Result};
use crate::machine::{KernelConfig, Machine};
use crate::parse::{kstrtobool, sysfs_streq};
use crate::vfs::{entry_index, Kind, RO, RW, WO};

fn block_id(name: &str) -> Option<u64> {
    entry_index(name, "memory")
}

/// The four MMOP names as `state` / `auto_online_blocks` spell them.
#[must_use]
pub fn online_type_name(t: OnlineType) -> &'static str {
    match t {
        OnlineType::Offline => "offline",
        OnlineType::Online => "online",
        OnlineType::OnlineKernel => "online_kernel",
        OnlineType::OnlineMovable => "online_movable",
    }
}

/// `mhp_online_type_from_str` (sysfs_streq against the four names).
#[must_use]
pub fn online_type_from_str(data: &[u8]) -> Option<OnlineType> {
    [OnlineType::Offline, OnlineType::Online, OnlineType::OnlineKernel, OnlineType::OnlineMovable]
        .into_iter()
        .find(|&t| sysfs_streq(data, online_type_name(t).as_bytes()))
}

impl Machine {
    /// The entries of the memory directory other than the `memoryN` blocks.
    pub(crate) fn memory_root_files(&self) -> Vec<(String, Kind)> {
        let mut v = vec![
            ("block_size_bytes".to_string(), RO),
            ("auto_online_blocks".to_string(), RW),
            ("soft_offline_page".to_string(), WO),
            ("hard_offline_page".to_string(), WO),
        ];
        if self.config == KernelConfig::NumaHpe {
            v.push(("probe".into(), WO));
        }
        v
    }

    pub(crate) fn memory_list(&self, rest: &[&str]) -> Option<Vec<(String, Kind)>> {
        match rest {
            [] => {
                let mut v = self.memory_root_files();
                v.extend(self.blocks.keys().map(|id| (format!("memory{id}"), Kind::Dir)));
                Some(v)
            }
            [m] => {
                let b = self.blocks.get(&block_id(m)?)?;
                let mut v = vec![
                    ("phys_index".to_string(), RO),
                    ("phys_device".to_string(), RO),
                    ("removable".to_string(), RO),
                    ("valid_zones".to_string(), RO),
                    ("state".to_string(), RW),
                    ("online".to_string(), RW),
                ];
                for n in &b.nodes {
                    v.push((format!("node{n}"), Kind::Link(format!("../../node/node{n}"))));
                }
                Some(v)
            }
            _ => None,
        }
    }

    pub(crate) fn memory_show(&self, rest: &[&str]) -> Option<Result<String>> {
        match rest {
            ["block_size_bytes"] => Some(Ok(format!("{:x}\n", self.block_size))),
            ["auto_online_blocks"] => Some(Ok(format!("{}\n", online_type_name(self.auto_online)))),
            [m, f] => {
                let b = self.blocks.get(&block_id(m)?)?;
                Some(Ok(match *f {
                    "phys_index" => format!("{:08x}\n", b.id),
                    "phys_device" => "0\n".into(),
                    "removable" => "1\n".into(),
                    "state" => if b.online { "online\n" } else { "offline\n" }.into(),
                    "online" => if b.online { "1\n" } else { "0\n" }.into(),
                    "valid_zones" => format!("{}\n", self.valid_zones(b.id)),
                    _ => return None,
                }))
            }
            _ => None,
        }
    }

    pub(crate) fn memory_store(&mut self, rest: &[&str], data: &[u8]) -> Result<()> {
        match rest {
            ["auto_online_blocks"] => match online_type_from_str(data) {
                Some(t) => {
                    self.auto_online = t;
                    Ok(())
                }
                None => err(Errno::EINVAL, "invalid online type"),
            },
            ["probe"] if self.config == KernelConfig::NumaHpe => self.memory_probe_store(data),
            ["soft_offline_page" | "hard_offline_page"] => {
                err(Errno::EINVAL, "memory failure injection is not emulated")
            }
            [m, "state"] => {
                let id = block_id(m).unwrap_or(u64::MAX);
                let Some(t) = online_type_from_str(data) else {
                    return err(Errno::EINVAL, "invalid state (offline, online, online_kernel, online_movable)");
                };
                let online = self.blocks.get(&id).is_some_and(|b| b.online);
                // device_online/offline return 1 when already in the state: state_store -> EINVAL
                if online == (t != OnlineType::Offline) {
                    return err(Errno::EINVAL, format!("memory{id} is already {}", if online { "online" } else { "offline" }));
                }
                if t == OnlineType::Offline {
                    self.offline_block(id)
                } else {
                    self.online_block(id, t)
                }
            }
            [m, "online"] => {
                let id = block_id(m).unwrap_or(u64::MAX);
                let want = kstrtobool(data)?;
                let online = self.blocks.get(&id).is_some_and(|b| b.online);
                if want == online {
                    return Ok(());
                }
                if want {
                    self.online_block(id, OnlineType::Online)
                } else {
                    self.offline_block(id)
                }
            }
            _ => err(Errno::EACCES, "permission denied"),
        }
    }
}
