//! Patchset v1-v3 `numa=hide=N*size[,size...]` (sizes in MB): memory hidden from the top of RAM
//! at boot and handed out later as whole nodes through `/sys/devices/system/node/probe`
//! (patchset.md §3.1-3.2).

use crate::e820::{E820Table, E820Type};

/// FAKE_NODE_MIN_SIZE of 2010 kernels (64 MiB): hidden sizes are rounded down to it.
const HIDE_MIN_SIZE: u64 = 64 << 20;
/// The "RAM buffer" workaround hides 128 MiB more below the hidden nodes.
const HIDE_GUARD: u64 = 128 << 20;

/// Parse the `numa=hide=` argument into node sizes in bytes, printing the kernel's complaints.
#[must_use]
pub fn parse_hide(arg: &str, dmesg: &mut Vec<String>) -> Vec<u64> {
    let mut sizes = Vec::new();
    for (i, part) in arg.split(',').enumerate() {
        let (count, size) = match (i, part.split_once('*')) {
            (0, Some((n, s))) => (n.trim().parse::<u64>().unwrap_or(0), s),
            _ => (1, part),
        };
        let mb: u64 = size.trim().parse().unwrap_or(0);
        let bytes = (mb << 20) / HIDE_MIN_SIZE * HIDE_MIN_SIZE;
        if bytes == 0 {
            dmesg.push(format!("{mb} M is less than minimum node size, ignore it."));
            continue;
        }
        for _ in 0..count.min(1024) {
            sizes.push(bytes);
        }
    }
    sizes
}

/// Remove the hidden memory (and the guard below it) from the top of RAM. Returns the hidden
/// node ranges `[start, end)` in ascending order, or nothing when too much would be hidden.
pub fn hide_memory(table: &mut E820Table, sizes: &[u64], dmesg: &mut Vec<String>) -> Vec<(u64, u64)> {
    let total: u64 = sizes.iter().sum();
    let ram: u64 = table.ram_ranges().iter().map(|(s, e)| e - s).sum();
    let Some(top) = table.ram_ranges().iter().map(|&(_, e)| e).max() else { return Vec::new() };
    if total == 0 {
        return Vec::new();
    }
    if total + HIDE_GUARD >= ram || top < total + HIDE_GUARD {
        dmesg.push("Hide too much memory, disable node hotplug emualtion.".to_string());
        return Vec::new();
    }
    let base = top - total;
    table.range_remove(base - HIDE_GUARD, u64::MAX - (base - HIDE_GUARD), E820Type::RAM, true, dmesg);
    let mut out = Vec::new();
    let mut s = base;
    for &size in sizes {
        out.push((s, s + size));
        s += size;
    }
    out
}
