//! Memory block devices (drivers/base/memory.c): the block-size rule
//! (arch/x86/mm/init_64.c `probe_memory_block_size`), one `memoryN` per block with a present
//! section, its state, zone and node links.

use crate::zone::ZoneType;

/// MIN_MEMORY_BLOCK_SIZE (one section, 128 MiB) and MAX_BLOCK_SIZE (2 GiB).
pub const MIN_MEMORY_BLOCK_SIZE: u64 = 128 << 20;
pub const MAX_BLOCK_SIZE: u64 = 2 << 30;
/// MEM_SIZE_FOR_LARGE_BLOCK: RAM above this gets larger blocks.
pub const MEM_SIZE_FOR_LARGE_BLOCK: u64 = 64 << 30;

/// `probe_memory_block_size` under a hypervisor (the emulated machine is a QEMU guest): the
/// largest power of two <= 2 GiB that divides the end of boot memory, 128 MiB below 64 GiB.
#[must_use]
pub fn probe_memory_block_size(boot_mem_end: u64) -> u64 {
    if boot_mem_end < MEM_SIZE_FOR_LARGE_BLOCK {
        return MIN_MEMORY_BLOCK_SIZE;
    }
    let mut bz = MAX_BLOCK_SIZE;
    while bz > MIN_MEMORY_BLOCK_SIZE {
        if boot_mem_end % bz == 0 {
            break;
        }
        bz >>= 1;
    }
    bz
}

/// `memhp_default_state` / `state` values (MMOP_*), or a block's state.
pub use crate::cmdline::OnlineType;

/// One `memoryN` device.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MemoryBlock {
    pub id: u64,
    pub online: bool,
    /// Zone of an online block; None when its pages span several zones (`none`).
    pub zone: Option<ZoneType>,
    /// `mem->nid`: the node the block belongs to.
    pub nid: u32,
    /// Nodes linked (`memoryN/nodeK`), ascending.
    pub nodes: Vec<u32>,
    /// Present pages in the block.
    pub present: u64,
    /// Of those, pages the kernel reserved (memmap, kernel image...): not in `managed`.
    pub reserved: u64,
    /// Holds unmovable kernel allocations: offlining fails with EBUSY.
    pub unmovable: bool,
    /// Added by memory hotplug (not boot memory).
    pub hotplugged: bool,
    /// The static memory group (ACPI memory device instance) the block belongs to.
    pub group: Option<u32>,
}

impl MemoryBlock {
    /// First pfn of the block.
    #[must_use]
    pub fn start_pfn(&self, block_pages: u64) -> u64 {
        self.id * block_pages
    }

    /// Pages that count as managed while online.
    #[must_use]
    pub fn managed(&self) -> u64 {
        self.present - self.reserved
    }
}
