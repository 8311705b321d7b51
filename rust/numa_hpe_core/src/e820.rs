//! The e820 memory map (arch/x86/kernel/e820.c): table, sanitize (`e820__update_table`), range
//! add / remove / update, printing, and the late "RAM buffer" reservation, with the exact dmesg
//! lines. The boot flow (`mem=`, `memmap=`, `trim_bios_range`) is in `e820_params.rs`.

pub use crate::e820_params::e820_boot;

/// E820 entry types (numeric values as in the kernel).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
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

    /// `e820_print_type`: the name printed after a range.
    #[must_use]
    pub fn name(self) -> String {
        match self {
            E820Type::RAM | E820Type::RESERVED_KERN => "usable".into(),
            E820Type::RESERVED => "reserved".into(),
            E820Type::SOFT_RESERVED => "soft reserved".into(),
            E820Type::ACPI => "ACPI data".into(),
            E820Type::NVS => "ACPI NVS".into(),
            E820Type::UNUSABLE => "unusable".into(),
            E820Type::PMEM | E820Type::PRAM => format!("persistent (type {})", self.0),
            E820Type(t) => format!("type {t}"),
        }
    }

    /// Inverse of [`E820Type::name`] (firmware JSON spells types as printed). `usable` maps to
    /// RAM; an unknown name gives None.
    #[must_use]
    pub fn from_name(name: &str) -> Option<E820Type> {
        let t = match name {
            "usable" => E820Type::RAM,
            "reserved" => E820Type::RESERVED,
            "soft reserved" => E820Type::SOFT_RESERVED,
            "ACPI data" => E820Type::ACPI,
            "ACPI NVS" => E820Type::NVS,
            "unusable" => E820Type::UNUSABLE,
            _ => {
                let n = name
                    .strip_prefix("persistent (type ")
                    .and_then(|s| s.strip_suffix(')'))
                    .or_else(|| name.strip_prefix("type "))?;
                E820Type(n.parse().ok()?)
            }
        };
        Some(t)
    }

    /// `e820_nomerge`: adjacent entries of these types are never merged.
    fn nomerge(self) -> bool {
        self == E820Type::PRAM || self == E820Type::SOFT_RESERVED
    }
}

/// One entry: `[addr, addr + size)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct E820Entry {
    pub addr: u64,
    pub size: u64,
    pub kind: E820Type,
}

impl E820Entry {
    /// Exclusive end (wraps like the kernel's `addr + size` for a bogus entry).
    #[must_use]
    pub fn end(&self) -> u64 {
        self.addr.wrapping_add(self.size)
    }
}

/// `struct e820_table`.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
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
    /// `Kernel panic - not syncing: ...` message when the user map cannot be sanitized (the
    /// kernel stops booting there; the lines up to it are in dmesg).
    pub panic: Option<String>,
}

/// E820_MAX_ENTRIES: 128 (zeropage) + 3 * MAX_NUMNODES (1024 in the oracle kernel).
pub const E820_MAX_ENTRIES: usize = 128 + 3 * 1024;

/// `%#010Lx`-style range, inclusive end (`end - 1` wraps like the kernel's).
fn range10(start: u64, end: u64) -> String {
    format!("[mem {start:#010x}-{:#010x}]", end.wrapping_sub(1))
}

impl E820Table {
    /// Table from the firmware JSON entries (inclusive ends, printed type names); an unknown
    /// type name becomes RESERVED.
    #[must_use]
    pub fn from_firmware(fw: &[crate::firmware::FwE820]) -> E820Table {
        let mut t = E820Table::default();
        for e in fw {
            let kind = E820Type::from_name(&e.kind).unwrap_or(E820Type::RESERVED);
            let size = e.end.wrapping_sub(e.start).wrapping_add(1);
            t.range_add(e.start, size, kind, &mut Vec::new());
        }
        t
    }

    /// RAM ranges `[start, end)` in address order (memblock.memory before node assignment).
    #[must_use]
    pub fn ram_ranges(&self) -> Vec<(u64, u64)> {
        self.entries
            .iter()
            .filter(|e| e.kind == E820Type::RAM || e.kind == E820Type::RESERVED_KERN)
            .map(|e| (e.addr, e.addr.saturating_add(e.size)))
            .collect()
    }

    /// `e820__print_table(who)`: one `who: [mem %#018Lx-%#018Lx] type` line per entry.
    #[must_use]
    pub fn print(&self, who: &str) -> Vec<String> {
        self.entries
            .iter()
            .map(|e| {
                let last = e.end().wrapping_sub(1);
                format!("{who}: [mem {:#018x}-{last:#018x}] {}", e.addr, e.kind.name())
            })
            .collect()
    }

    /// `__e820__range_add`: append (merged only by the next sanitize); dropped with an error
    /// line when the table is full.
    pub fn range_add(&mut self, start: u64, size: u64, kind: E820Type, dmesg: &mut Vec<String>) {
        if self.entries.len() >= E820_MAX_ENTRIES {
            let r = range10(start, start.wrapping_add(size));
            dmesg.push(format!("too many entries; ignoring {r}"));
            return;
        }
        self.entries.push(E820Entry { addr: start, size, kind });
    }

    /// `e820__range_remove(start, size, old, check_type)`: cut `[start, start+size)` out of the
    /// entries (of type `old` when `check_type`). Returns the bytes removed.
    pub fn range_remove(
        &mut self,
        start: u64,
        size: u64,
        old: E820Type,
        check_type: bool,
        dmesg: &mut Vec<String>,
    ) -> u64 {
        let size = size.min(u64::MAX - start);
        let end = start + size;
        let kind = if check_type { old.name() } else { String::new() };
        dmesg.push(format!("e820: remove {} {kind}", range10(start, end)));
        let mut removed = 0u64;
        let mut i = 0;
        while i < self.entries.len() {
            let e = self.entries[i];
            i += 1;
            if check_type && e.kind != old {
                continue;
            }
            let e_end = e.end();
            if e.addr >= start && e_end <= end {
                removed = removed.wrapping_add(e.size);
                self.entries[i - 1] = E820Entry { addr: 0, size: 0, kind: E820Type(0) };
                continue;
            }
            if e.addr < start && e_end > end {
                self.range_add(end, e_end - end, e.kind, dmesg);
                self.entries[i - 1].size = start - e.addr;
                removed = removed.wrapping_add(size);
                continue;
            }
            let (fs, fe) = (start.max(e.addr), end.min(e_end));
            if fs >= fe {
                continue;
            }
            removed = removed.wrapping_add(fe - fs);
            let ent = &mut self.entries[i - 1];
            ent.size = ent.size.wrapping_sub(fe - fs);
            if ent.addr >= fs {
                ent.addr = fe;
            }
        }
        removed
    }

    /// `e820__range_update(start, size, old, new)`: retype the `old` parts of the range.
    /// Returns the bytes updated. (The kernel BUG()s on old == new; here that is a no-op.)
    pub fn range_update(
        &mut self,
        start: u64,
        size: u64,
        old: E820Type,
        new: E820Type,
        dmesg: &mut Vec<String>,
    ) -> u64 {
        if old == new {
            return 0;
        }
        let size = size.min(u64::MAX - start);
        let end = start + size;
        dmesg.push(format!("e820: update {} {} ==> {}", range10(start, end), old.name(), new.name()));
        let mut updated = 0u64;
        let mut i = 0;
        while i < self.entries.len() {
            let e = self.entries[i];
            i += 1;
            if e.kind != old {
                continue;
            }
            let e_end = e.end();
            if e.addr >= start && e_end <= end {
                self.entries[i - 1].kind = new;
                updated = updated.wrapping_add(e.size);
                continue;
            }
            if e.addr < start && e_end > end {
                self.range_add(start, size, new, dmesg);
                self.range_add(end, e_end - end, e.kind, dmesg);
                self.entries[i - 1].size = start - e.addr;
                updated = updated.wrapping_add(size);
                continue;
            }
            let (fs, fe) = (start.max(e.addr), end.min(e_end));
            if fs >= fe {
                continue;
            }
            self.range_add(fs, fe - fs, new, dmesg);
            updated = updated.wrapping_add(fe - fs);
            let ent = &mut self.entries[i - 1];
            ent.size = ent.size.wrapping_sub(fe - fs);
            if ent.addr >= fs {
                ent.addr = fe;
            }
        }
        updated
    }

    /// `e820__update_table`: change-point sweep. Sorts, removes overlaps (the higher type wins),
    /// merges adjacent entries of one type (not PRAM / soft reserved) and drops empty ones.
    /// Returns false, leaving the table alone, with fewer than 2 entries or a wrapping entry.
    pub fn sanitize(&mut self) -> bool {
        let n = self.entries.len();
        if n < 2 || self.entries.iter().any(|e| e.addr.checked_add(e.size).is_none()) {
            return false;
        }
        // (address, is_end, entry index); at one address starts sort before ends.
        let mut points: Vec<(u64, bool, usize)> = Vec::with_capacity(2 * n);
        for (i, e) in self.entries.iter().enumerate().filter(|(_, e)| e.size != 0) {
            points.push((e.addr, false, i));
            points.push((e.end(), true, i));
        }
        points.sort_by_key(|&(a, is_end, _)| (a, is_end));
        let mut overlap: Vec<usize> = Vec::new();
        let mut out: Vec<E820Entry> = Vec::new();
        let mut last_type = E820Type(0);
        let mut last_addr = 0u64;
        for &(addr, is_end, idx) in &points {
            if is_end {
                overlap.retain(|&j| j != idx);
            } else {
                overlap.push(idx);
            }
            let cur = overlap.iter().map(|&j| self.entries[j].kind).max().unwrap_or(E820Type(0));
            if cur != last_type || cur.nomerge() {
                if last_type != E820Type(0) && addr != last_addr {
                    out.push(E820Entry { addr: last_addr, size: addr - last_addr, kind: last_type });
                    if out.len() >= E820_MAX_ENTRIES {
                        break;
                    }
                }
                if cur != E820Type(0) {
                    last_addr = addr;
                }
                last_type = cur;
            }
        }
        self.entries = out;
        true
    }
}

/// `ram_alignment`: RAM ends are rounded up to 64 KiB in the first MiB, 1 MiB below 16 MiB,
/// else 64 MiB.
fn ram_alignment(pos: u64) -> u64 {
    match pos >> 20 {
        0 => 64 << 10,
        1..=15 => 1 << 20,
        _ => 64 << 20,
    }
}

/// `e820__reserve_resources_late` lines: `e820: reserve RAM buffer [mem ...]` for each RAM
/// entry whose end is not aligned.
#[must_use]
pub fn reserve_ram_buffer_lines(table: &E820Table) -> Vec<String> {
    let mut lines = Vec::new();
    for e in table.entries.iter().filter(|e| e.kind == E820Type::RAM) {
        let start = e.end();
        let align = ram_alignment(start);
        // round_up(start, align) - 1, wrapping like the kernel's u64 arithmetic.
        let end = ((start.wrapping_sub(1)) | (align - 1)).wrapping_add(1).wrapping_sub(1);
        if start >= end {
            continue;
        }
        lines.push(format!("e820: reserve RAM buffer [mem {start:#010x}-{end:#010x}]"));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(addr: u64, size: u64, t: E820Type) -> E820Entry {
        E820Entry { addr, size, kind: t }
    }

    #[test]
    fn sanitize_overlaps_and_merges() {
        let mut t = E820Table {
            entries: vec![
                e(0x1000, 0x3000, E820Type::RAM),
                e(0, 0x1000, E820Type::RAM),
                e(0x2000, 0x1000, E820Type::RESERVED),
                e(0x8000, 0, E820Type::NVS),
            ],
        };
        assert!(t.sanitize());
        let want = [e(0, 0x2000, E820Type::RAM), e(0x2000, 0x1000, E820Type::RESERVED), e(0x3000, 0x1000, E820Type::RAM)];
        assert_eq!(t.entries, want);
        // PRAM is never merged, and is split wherever another entry starts or ends inside it.
        let mut t = E820Table {
            entries: vec![e(0, 0x1000, E820Type::PRAM), e(0x1000, 0x1000, E820Type::PRAM), e(0x1800, 0x100, E820Type::RAM)],
        };
        assert!(t.sanitize());
        let starts: Vec<u64> = t.entries.iter().map(|x| x.addr).collect();
        assert_eq!(starts, [0, 0x1000, 0x1800, 0x1900]);
        let mut one = E820Table { entries: vec![e(0, 1, E820Type::RAM)] };
        assert!(!one.sanitize());
    }

    #[test]
    fn type_names_round_trip() {
        for t in [1, 2, 3, 4, 5, 7, 12, 0xefff_ffff, 99] {
            assert_eq!(E820Type::from_name(&E820Type(t).name()), Some(E820Type(t)));
        }
        assert_eq!(E820Type(12).name(), "persistent (type 12)");
        assert_eq!(E820Type::RESERVED_KERN.name(), "usable");
    }

    #[test]
    fn remove_and_update_split() {
        let mut t = E820Table { entries: vec![e(0, 0x10000, E820Type::RAM)] };
        let mut d = Vec::new();
        assert_eq!(t.range_remove(0x4000, 0x1000, E820Type::RAM, true, &mut d), 0x1000);
        assert_eq!(t.range_update(0, 0x1000, E820Type::RAM, E820Type::RESERVED, &mut d), 0x1000);
        t.range_remove(0xf000, u64::MAX, E820Type(0), false, &mut d);
        assert_eq!(
            d,
            [
                "e820: remove [mem 0x00004000-0x00004fff] usable",
                "e820: update [mem 0x00000000-0x00000fff] usable ==> reserved",
                "e820: remove [mem 0x0000f000-0xfffffffffffffffe] ",
            ]
        );
        assert!(t.sanitize());
        let want = [e(0, 0x1000, E820Type::RESERVED), e(0x1000, 0x3000, E820Type::RAM), e(0x5000, 0xa000, E820Type::RAM)];
        assert_eq!(t.entries, want);
    }

    #[test]
    fn ram_buffer_alignment() {
        let t = E820Table {
            entries: vec![
                e(0x1000, 0x9ec00, E820Type::RAM),
                e(0x10_0000, 0x10_0800, E820Type::RAM),
                e(0x100_0000, 0x7ffe_0000 - 0x100_0000, E820Type::RAM),
                e(0x1_0000_0000, 0x4000_0000, E820Type::RAM),
                e(0x9_0000_0000, 0x1234, E820Type::RESERVED),
            ],
        };
        assert_eq!(
            reserve_ram_buffer_lines(&t),
            [
                "e820: reserve RAM buffer [mem 0x0009fc00-0x0009ffff]",
                "e820: reserve RAM buffer [mem 0x00200800-0x002fffff]",
                "e820: reserve RAM buffer [mem 0x7ffe0000-0x7fffffff]",
            ]
        );
    }
}
