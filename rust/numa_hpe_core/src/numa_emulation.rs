//! `numa=fake=` (arch/x86/mm/numa_emulation.c): split the physical NUMA layout into emulated
//! nodes, with the kernel's dmesg lines and distance table.
//!
//! HELPER-OWNED STUB: interface fixed, body to be completed.

use crate::numa::MemBlk;

/// Emulated layout.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NumaEmulation {
    /// The emulated `numa_meminfo` (emulated node ids).
    pub blks: Vec<MemBlk>,
    /// Physical node of each emulated node (index = emulated nid).
    pub emu_to_phys: Vec<u32>,
    /// Emulated distance table `[i][j]` over emulated node ids.
    pub distance: Vec<Vec<u32>>,
}

/// Apply `numa=fake=<arg>` to the physical `numa_meminfo`. `ram` are the e820 RAM ranges
/// `[start, end)` (holes are what is not in them), `max_addr` is `max_pfn << 12`, `phys_distance`
/// the physical node distance. Returns None (and prints why) when emulation is disabled.
pub fn numa_emulation(
    phys: &[MemBlk],
    ram: &[(u64, u64)],
    max_addr: u64,
    arg: &str,
    phys_distance: &dyn Fn(u32, u32) -> u32,
    dmesg: &mut Vec<String>,
) -> Option<NumaEmulation> {
    let _ = (phys, ram, max_addr, arg, phys_distance, dmesg);
    None
}
