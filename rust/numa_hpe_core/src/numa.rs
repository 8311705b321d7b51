//! NUMA memory layout types shared by x86 NUMA init, NUMA emulation and memory hotplug
//! (arch/x86/mm/numa.c `struct numa_memblk`).

/// One `numa_memblk`: half-open `[start, end)` physical range on node `nid`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MemBlk {
    pub start: u64,
    pub end: u64,
    pub nid: u32,
}
