//! Boot-time e820 flow (arch/x86/kernel/e820.c + arch/x86/kernel/setup.c): print the firmware
//! map (`e820__memory_setup`), apply the `mem=` / `memmap=` early parameters in command-line
//! order (`parse_memopt`, `parse_memmap_opt`), print the user-defined map
//! (`e820__finish_early_params`) and `trim_bios_range`.

use crate::cmdline::{parameq, BootParams};
use crate::e820::{E820Boot, E820Table, E820Type};
use crate::firmware::FwE820;
use crate::parse::{memparse, simple_strtoull};

/// Legacy BIOS area `[BIOS_BEGIN, BIOS_END)` that is never RAM.
const BIOS_BEGIN: u64 = 0x000a_0000;
const BIOS_END: u64 = 0x0010_0000;
const PAGE_SIZE: u64 = 4096;

/// Boot flow steps 1-4 of algorithms.md §1.4: print the firmware map, apply `mem=`/`memmap=`
/// in command-line order (emitting `params.early_dmesg` in place, since the kernel prints
/// those during the same `parse_early_param` pass), print the user-defined map, trim the BIOS
/// range. Appends the dmesg lines (without timestamps) to `dmesg`.
pub fn e820_boot(firmware: &[FwE820], params: &BootParams, dmesg: &mut Vec<String>) -> E820Boot {
    let mut boot = E820Boot { table: E820Table::from_firmware(firmware), ..E820Boot::default() };
    boot.table.sanitize();
    dmesg.push("BIOS-provided physical RAM map:".into());
    dmesg.extend(boot.table.print("BIOS-e820"));

    for (idx, (name, val)) in params.params.iter().enumerate() {
        let val = val.as_deref().map(str::as_bytes);
        if parameq(name.as_bytes(), "mem") {
            parse_memopt(&mut boot, val, dmesg);
        } else if parameq(name.as_bytes(), "memmap") {
            // parse_memmap_opt: every item independently; the handler always returns 0.
            for item in val.into_iter().flat_map(|v| v.split(|&c| c == b',')) {
                parse_memmap_one(&mut boot, item, dmesg);
            }
        }
        dmesg.extend(params.early_dmesg.iter().filter(|(i, _)| *i == idx).map(|(_, l)| l.clone()));
    }

    if boot.userdef {
        if !boot.table.sanitize() {
            let msg = "Invalid user supplied memory map".to_string();
            dmesg.push(format!("Kernel panic - not syncing: {msg}"));
            boot.panic = Some(msg);
            return boot;
        }
        dmesg.push("user-defined physical RAM map:".into());
        dmesg.extend(boot.table.print("user"));
    }

    // trim_bios_range: page 0 is BIOS-owned, 640K-1M is never RAM.
    boot.table.range_update(0, PAGE_SIZE, E820Type::RAM, E820Type::RESERVED, dmesg);
    boot.table.range_remove(BIOS_BEGIN, BIOS_END - BIOS_BEGIN, E820Type::RAM, true, dmesg);
    boot.table.sanitize();
    boot
}

/// `parse_memopt`: `mem=nn[KMGTPE]` (what follows the size is ignored). The map is marked
/// user-defined even when the size is 0 / garbage (which the handler then rejects).
fn parse_memopt(boot: &mut E820Boot, val: Option<&[u8]>, dmesg: &mut Vec<String>) {
    let Some(v) = val else { return };
    if v == b"nopentium" {
        return;
    }
    boot.userdef = true;
    let size = memparse(v).0;
    if size == 0 {
        return;
    }
    boot.table.range_remove(size, u64::MAX - size, E820Type::RAM, true, dmesg);
    boot.max_mem_size = Some(size);
}

/// `parse_memmap_one`: one `memmap=` item. As in the kernel, trailing junk makes the handler
/// fail only after it acted, except for the `%` form, which checks before acting.
fn parse_memmap_one(boot: &mut E820Boot, p: &[u8], dmesg: &mut Vec<String>) {
    if p.starts_with(b"exactmap") {
        boot.table.entries.clear();
        boot.userdef = true;
        return;
    }
    let (mem_size, used) = memparse(p);
    if used == 0 {
        return;
    }
    boot.userdef = true;
    let rest = &p[used..];
    let add_kind = match rest.first() {
        Some(b'@') => Some(E820Type::RAM),
        Some(b'#') => Some(E820Type::ACPI),
        Some(b'$') => Some(E820Type::RESERVED),
        Some(b'!') => Some(E820Type::PRAM),
        _ => None,
    };
    let t = &mut boot.table;
    if let Some(kind) = add_kind {
        let start_at = memparse(&rest[1..]).0;
        t.range_add(start_at, mem_size, kind, dmesg);
    } else if rest.first() == Some(&b'%') {
        let (start_at, n) = memparse(&rest[1..]);
        let mut q = &rest[1 + n..];
        // `enum e820_type from/to = simple_strtoull(...)`: the low 32 bits.
        let num = |q: &mut &[u8], sign: u8| -> u32 {
            match q.split_first() {
                Some((&c, tail)) if c == sign => {
                    let (v, n) = simple_strtoull(tail);
                    *q = &tail[n..];
                    #[allow(clippy::cast_possible_truncation)]
                    let v = v as u32;
                    v
                }
                _ => 0,
            }
        };
        let from = num(&mut q, b'-');
        let to = num(&mut q, b'+');
        if !q.is_empty() {
            return;
        }
        match (from, to) {
            (0, 0) => {
                t.range_remove(start_at, mem_size, E820Type(0), false, dmesg);
            }
            (0, to) => t.range_add(start_at, mem_size, E820Type(to), dmesg),
            (from, 0) => {
                t.range_remove(start_at, mem_size, E820Type(from), true, dmesg);
            }
            (from, to) => {
                t.range_update(start_at, mem_size, E820Type(from), E820Type(to), dmesg);
            }
        }
    } else {
        // Bare size: like mem=, but max_mem_size is left alone.
        t.range_remove(mem_size, u64::MAX - mem_size, E820Type::RAM, true, dmesg);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fw() -> Vec<FwE820> {
        let f = |start: u64, end: u64, kind: &str| FwE820 { start, end, kind: kind.into() };
        vec![
            f(0, 0x9fbff, "usable"),
            f(0x9fc00, 0x9ffff, "reserved"),
            f(0xf0000, 0xfffff, "reserved"),
            f(0x10_0000, 0x7ffd_ffff, "usable"),
            f(0x7ffe_0000, 0x7fff_ffff, "reserved"),
        ]
    }

    fn boot(cmdline: &str) -> (E820Boot, Vec<String>) {
        let mut d = Vec::new();
        let b = e820_boot(&fw(), &BootParams::parse(cmdline), &mut d);
        (b, d)
    }

    #[test]
    fn memmap_forms() {
        let (b, d) = boot("memmap=exactmap,0x9f000@0,1G@1M,64M$0x10000000,16M!0x20000000,4K#0x30000000");
        assert!(b.userdef && b.max_mem_size.is_none());
        let user: Vec<&str> = d.iter().skip_while(|l| !l.starts_with("user-defined")).map(String::as_str).collect();
        assert_eq!(
            user[..7],
            [
                "user-defined physical RAM map:",
                "user: [mem 0x0000000000000000-0x000000000009efff] usable",
                "user: [mem 0x0000000000100000-0x000000000fffffff] usable",
                "user: [mem 0x0000000010000000-0x0000000013ffffff] reserved",
                "user: [mem 0x0000000014000000-0x000000001fffffff] usable",
                "user: [mem 0x0000000020000000-0x0000000020ffffff] persistent (type 12)",
                "user: [mem 0x0000000021000000-0x000000002fffffff] usable",
            ]
        );
        let (b, _) = boot("memmap=1M%0x200000-1+3 memmap=1M%0x400000-1 memmap=1G");
        let kinds: Vec<(u64, E820Type)> = b.table.entries.iter().map(|e| (e.addr, e.kind)).collect();
        assert_eq!(
            kinds,
            [
                (0, E820Type::RESERVED),
                (0x1000, E820Type::RAM),
                (0x9fc00, E820Type::RESERVED),
                (0xf0000, E820Type::RESERVED),
                (0x10_0000, E820Type::RAM),
                (0x20_0000, E820Type::ACPI),
                (0x30_0000, E820Type::RAM),
                (0x50_0000, E820Type::RAM),
                (0x7ffe_0000, E820Type::RESERVED),
            ]
        );
    }

    #[test]
    fn mem_zero_is_userdef_and_malformed() {
        let (b, d) = boot("mem=0 mem=1G");
        assert_eq!((b.userdef, b.max_mem_size), (true, Some(1 << 30)));
        let i = d.iter().position(|l| l == "Malformed early option 'mem'").unwrap();
        assert_eq!(d[i + 1], "e820: remove [mem 0x40000000-0xfffffffffffffffe] usable");
    }

    #[test]
    fn exactmap_single_entry_panics() {
        let (b, d) = boot("memmap=exactmap memmap=1G@0");
        assert_eq!(b.panic.as_deref(), Some("Invalid user supplied memory map"));
        assert_eq!(d.last().unwrap(), "Kernel panic - not syncing: Invalid user supplied memory map");
    }
}
