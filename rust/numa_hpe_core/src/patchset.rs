//! The 2010 NUMA Hotplug Emulator patchset's own interfaces (shared/spec/patchset.md), on top
//! of the kernel's add_memory / CPU paths: debugfs `add_node`, per-node and global
//! `add_memory`, sysfs `memory/probe`, `cpu/probe` and `cpu/release` (with the fake socket).
//! Where the patch code was buggy, the intended semantics are implemented (patchset.md §2-3).

use crate::error::{err, Errno, Result};
use crate::machine::{Machine, PatchsetVersion};
use crate::parse::{kstrtoull, memparse, simple_strtoull};

/// One 128 MiB section: what the patchset's memory files add.
const SECTION_BYTES: u64 = 128 << 20;

impl Machine {
    /// `mem_hotplug/add_node`: `<size>@<start>` into the lowest possible-but-offline node.
    pub(crate) fn add_node_store(&mut self, data: &[u8]) -> Result<()> {
        // v5-v9 copy at most 63 bytes; the rest is silently dropped
        let buf = &data[..data.len().min(63)];
        let (size, end) = memparse(buf);
        if size < SECTION_BYTES {
            return err(Errno::EINVAL, format!("size {size:#x} is smaller than a memory section"));
        }
        if buf.get(end) != Some(&b'@') {
            return err(Errno::EINVAL, "expected <size>@<start>");
        }
        let (start, _) = simple_strtoull(&buf[end + 1..]);
        let Some(nid) = self.nodes.possible.andnot(&self.nodes.online).first() else {
            return err(Errno::ENOMEM, "no possible node is offline (boot with numa=possible=N)");
        };
        let ret = self.add_memory(nid as u32, start, size);
        if self.patchset >= PatchsetVersion::V8 {
            // v8+ creates the per-node add_memory file even when add_memory failed
            self.mem_hotplug_nodes.set(nid);
        }
        ret
    }

    /// v8+ `mem_hotplug/nodeN/add_memory`: one section at a physical address.
    pub(crate) fn node_add_memory_store(&mut self, nid: u32, data: &[u8]) -> Result<()> {
        let addr = if self.patchset == PatchsetVersion::V8 { memparse(data).0 } else { simple_strtoull(data).0 };
        self.dmesg.push(format!("Add a memory section to node: {nid}."));
        self.add_memory(nid, addr, SECTION_BYTES.max(self.block_size))
    }

    /// v6 `mem_hotplug/probe`, v7 `mem_hotplug/add_memory`, v3 `memory/probe`: `addr`,
    /// `addr,nid` or `physical_address=addr numa_node=nid` (keys in any order).
    pub(crate) fn global_add_memory_store(&mut self, data: &[u8]) -> Result<()> {
        let text = String::from_utf8_lossy(data);
        let text = text.trim_end_matches('\n');
        let (addr, nid) = if text.contains('=') {
            let mut addr = None;
            let mut nid = None;
            for kv in text.split_whitespace() {
                match kv.split_once('=') {
                    Some(("physical_address", v)) => addr = Some(memparse(v.as_bytes()).0),
                    Some(("numa_node", v)) => nid = Some(simple_strtoull(v.as_bytes()).0),
                    _ => return err(Errno::EINVAL, format!("unknown key in {kv:?}")),
                }
            }
            let Some(addr) = addr else {
                return err(Errno::EINVAL, "physical_address= is required");
            };
            (addr, nid)
        } else {
            let (addr, end) = memparse(text.as_bytes());
            let rest = &text.as_bytes()[end..];
            match rest.first() {
                Some(b',') if rest.len() > 1 => (addr, Some(simple_strtoull(&rest[1..]).0)),
                Some(b',') => (addr, Some(0)),
                _ => (addr, None),
            }
        };
        let nid = match nid {
            Some(n) => n,
            None => u64::from(self.memory_add_physaddr_to_nid(addr)),
        };
        if nid >= self.nr_node_ids as u64 {
            return err(Errno::EPERM, format!("Invalid node id {nid}(0<=nid<{}).", self.nr_node_ids));
        }
        self.dmesg.push(format!("Add a memory section to node: {nid}."));
        self.add_memory(nid as u32, addr, SECTION_BYTES.max(self.block_size))
    }

    /// Mainline `memory/probe` (CONFIG_ARCH_MEMORY_PROBE): one block at a block-aligned address;
    /// up to v6 the patchset's extended grammar with a node (dropped in v7).
    pub(crate) fn memory_probe_store(&mut self, data: &[u8]) -> Result<()> {
        if self.patchset <= PatchsetVersion::V6 {
            return self.global_add_memory_store(data);
        }
        let addr = kstrtoull(data)?;
        if addr % self.block_size != 0 {
            return err(Errno::EINVAL, format!("address {addr:#x} is not aligned to the block size"));
        }
        let nid = self.memory_add_physaddr_to_nid(addr);
        self.add_memory(nid, addr, self.block_size)
    }

    /// `cpu/probe`: register the lowest present CPU without a device on node `nid` (offline),
    /// in a fake socket of its own.
    pub(crate) fn cpu_probe_store(&mut self, data: &[u8]) -> Result<()> {
        if data.len() < 2 {
            return err(Errno::EPERM, "write at least 2 bytes (echo, not echo -n)");
        }
        let (v, _) = simple_strtoull(data);
        let nid = v as usize;
        if nid >= self.nr_node_ids {
            return err(Errno::EPERM, format!("Invalid NUMA node id: {nid} (0 <= nid < {}).", self.nr_node_ids));
        }
        if !self.nodes.online.test(nid) {
            return err(Errno::EPERM, format!("NUMA node {nid} is not online, give up."));
        }
        let Some(cpu) = self.cpus.present.andnot(&self.cpus.registered).first() else {
            return err(Errno::EPERM, "No free cpu, give up cpu probing.");
        };
        let max_pkg = self.cpus.present.iter().map(|c| self.cpus.ids[c].package).max().unwrap_or(0);
        let ids = &mut self.cpus.ids[cpu];
        ids.package = max_pkg + 1;
        ids.core = 0;
        ids.node = nid as u32;
        ids.fake_socket = true;
        self.cpus.node[cpu] = nid as u32;
        self.cpus.registered.set(cpu);
        Ok(())
    }

    /// `cpu/release`: offline (if online) and unregister a CPU; it stays present and can be
    /// probed again.
    pub(crate) fn cpu_release_store(&mut self, data: &[u8]) -> Result<()> {
        let (v, _) = simple_strtoull(data);
        let cpu = v as usize;
        if cpu == 0 {
            return err(Errno::EPERM, "can not release cpu 0.");
        }
        if cpu >= self.cpus.nr_cpu_ids || !self.cpus.registered.test(cpu) {
            return err(Errno::EINVAL, format!("cpu {cpu} is not registered"));
        }
        if self.cpus.online.test(cpu) {
            self.cpu_down(cpu)?;
        }
        self.cpus.registered.clear(cpu);
        let ids = &mut self.cpus.ids[cpu];
        ids.package = 0;
        ids.core = 0;
        ids.fake_socket = false;
        Ok(())
    }

    /// v1-v3 hidden nodes (`node/probe` read).
    #[must_use]
    pub fn hidden_nodes(&self) -> crate::bitmap::Bitmap {
        self.hidden.clone()
    }

    /// v1-v3 `node/probe` write: hot-add a hidden node's memory (offline).
    pub(crate) fn node_probe_store(&mut self, data: &[u8]) -> Result<()> {
        let text = String::from_utf8_lossy(data);
        let nid: i64 = text.trim().parse().map_err(|_| crate::error::HpeError::new(Errno::EINVAL, "not a number"))?;
        if nid < 0 || nid as usize >= self.nr_node_ids {
            return err(Errno::EPERM, format!("Invalid NUMA node id: {nid} (0 <= nid < {}).", self.nr_node_ids));
        }
        let nid = nid as usize;
        let Some(&(start, end)) = self.hidden_ranges.get(&(nid as u32)) else {
            return err(Errno::EINVAL, format!("node {nid} is not hidden"));
        };
        self.add_memory(nid as u32, start, end - start)?;
        self.hidden.clear(nid);
        Ok(())
    }
}
