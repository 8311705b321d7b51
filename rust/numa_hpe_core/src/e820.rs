//! The e820 memory map (arch/x86/kernel/e820.c): table, sanitize (`e820__update_table`), range
//! add / remove / update, the `mem=` and `memmap=` early parameters and the boot fix-ups, with
//! the exact dmesg lines.
//!
//! HELPER-OWNED STUB: interface fixed, body to be completed.

use crate::cmdline::BootParams;
use crate::firmware::FwE820;

/// E820 entry types (numeric values as in the kernel).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct E820Type(pub u32);

impl E820Type {
    pub const RAM: E820Type = E820Type(1);
    pub const RESERVED: E820Type = E820Type(2);
    pub const ACPI: E820Type = E820Type(3);
    pub const NVS: E820Type = E820Type(4);
    pub const UNUSABLE: E820Type = E820Type(5);
    pub const PMEM: E820Type = E820Type(7);
    pub const PRAM: E820Type = E820Type(12);
    pub const SOFT_RESERVED: E820Type = E820Type(0xefff_ffff);
    pub const RESERVED_KERN: E820Type = E820Type(128);
}

/// One entry: `[addr, addr + size)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct E820Entry {
    pub addr: u64,
    pub size: u64,
    pub kind: E820Type,
}

/// `struct e820_table`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct E820Table {
    pub entries: Vec<E820Entry>,
}

/// Result of the boot-time e820 processing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct E820Boot {
    /// The kernel's table after firmware map, early params, sanitize and `trim_bios_range`.
    pub table: E820Table,
    /// `max_mem_size` set by `mem=` (None = unlimited).
    pub max_mem_size: Option<u64>,
    /// The map was changed by the user (`mem=`, `memmap=`).
    pub userdef: bool,
}

impl E820Table {
    /// RAM ranges `[start, end)` in address order (memblock.memory before node assignment).
    #[must_use]
    pub fn ram_ranges(&self) -> Vec<(u64, u64)> {
        self.entries
            .iter()
            .filter(|e| e.kind == E820Type::RAM || e.kind == E820Type::RESERVED_KERN)
            .map(|e| (e.addr, e.addr + e.size))
            .collect()
    }
}

/// Boot flow steps 1-4 of algorithms.md §1.4: print the firmware map, apply `mem=`/`memmap=`
/// in command-line order, print the user-defined map, trim the BIOS range. Appends the dmesg
/// lines (without timestamps) to `dmesg`.
pub fn e820_boot(firmware: &[FwE820], params: &BootParams, dmesg: &mut Vec<String>) -> E820Boot {
    let _ = (params, dmesg);
    let entries = firmware
        .iter()
        .filter(|e| e.kind == "usable")
        .map(|e| E820Entry { addr: e.start, size: e.end - e.start + 1, kind: E820Type::RAM })
        .collect();
    E820Boot { table: E820Table { entries }, max_mem_size: None, userdef: false }
}

/// `e820__reserve_resources_late` lines: `e820: reserve RAM buffer [mem ...]` for each RAM
/// entry whose end is not aligned.
#[must_use]
pub fn reserve_ram_buffer_lines(table: &E820Table) -> Vec<String> {
    let _ = table;
    Vec::new()
}
