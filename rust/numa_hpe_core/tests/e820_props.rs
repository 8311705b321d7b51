//! Properties of the e820 sanitize (`e820__update_table`) and of the command-line parsers:
//! no panics on arbitrary input.

use numa_hpe_core::cmdline::BootParams;
use numa_hpe_core::e820::{e820_boot, reserve_ram_buffer_lines, E820Entry, E820Table, E820Type};
use numa_hpe_core::firmware::FwE820;
use numa_hpe_core::parse::memparse;
use proptest::prelude::*;

fn kind() -> impl Strategy<Value = E820Type> {
    prop_oneof![
        Just(E820Type::RAM),
        Just(E820Type::RESERVED),
        Just(E820Type::ACPI),
        Just(E820Type::NVS),
        Just(E820Type::PRAM),
        Just(E820Type::SOFT_RESERVED),
    ]
}

fn entries() -> impl Strategy<Value = Vec<E820Entry>> {
    // Small page-granular coordinates so that overlaps are frequent.
    prop::collection::vec((0u64..64, 0u64..16, kind()), 2..12).prop_map(|v| {
        v.into_iter().map(|(a, s, kind)| E820Entry { addr: a << 12, size: s << 12, kind }).collect()
    })
}

/// Highest type of the input entries covering `addr` (0 = none).
fn covering(input: &[E820Entry], addr: u64) -> u32 {
    input.iter().filter(|e| e.addr <= addr && addr < e.addr + e.size).map(|e| e.kind.0).max().unwrap_or(0)
}

proptest! {
    #[test]
    fn sanitize_properties(input in entries()) {
        let mut t = E820Table { entries: input.clone() };
        prop_assert!(t.sanitize());
        let out = &t.entries;
        for w in out.windows(2) {
            prop_assert!(w[0].addr + w[0].size <= w[1].addr, "sorted, non-overlapping: {:?}", out);
            let nomerge = w[0].kind == E820Type::PRAM || w[0].kind == E820Type::SOFT_RESERVED;
            prop_assert!(nomerge || w[0].addr + w[0].size != w[1].addr || w[0].kind != w[1].kind,
                "adjacent same-type merged: {:?}", out);
        }
        prop_assert!(out.iter().all(|e| e.size != 0));
        // Every page has the highest type of the input entries covering it.
        for page in 0..80u64 {
            let addr = page << 12;
            let got = out.iter().find(|e| e.addr <= addr && addr < e.addr + e.size).map_or(0, |e| e.kind.0);
            prop_assert_eq!(got, covering(&input, addr));
        }
        let mut again = t.clone();
        again.sanitize();
        prop_assert_eq!(again, t);
    }

    #[test]
    fn memparse_never_panics(s in prop::collection::vec(any::<u8>(), 0..40)) {
        let (_, used) = memparse(&s);
        prop_assert!(used <= s.len());
    }

    #[test]
    fn cmdline_never_panics(s in ".{0,80}") {
        let p = BootParams::parse(&s);
        prop_assert_eq!(p.raw, s);
    }

    #[test]
    fn e820_boot_never_panics(
        words in prop::collection::vec(
            prop_oneof![
                "mem=[0-9a-fxKMG@#$!%+-]{0,12}",
                "memmap=[0-9a-fxKMG@#$!%+,-]{0,24}",
                Just("memmap=exactmap".to_string()),
                "[a-z=\"]{0,8}",
            ],
            0..6,
        ),
        fw in prop::collection::vec((any::<u64>(), any::<u64>(), 0usize..4), 1..6),
    ) {
        let names = ["usable", "reserved", "ACPI data", "type 99"];
        let fw: Vec<FwE820> = fw
            .into_iter()
            .map(|(s, e, k)| FwE820 { start: s.min(e), end: s.max(e), kind: names[k].into() })
            .collect();
        let params = BootParams::parse(&words.join(" "));
        let mut dmesg = Vec::new();
        let boot = e820_boot(&fw, &params, &mut dmesg);
        let _ = reserve_ram_buffer_lines(&boot.table);
        let _ = boot.table.ram_ranges();
    }
}

proptest! {
    #[test]
    fn numa_emulation_never_panics(arg in "[0-9UMGK:,x-]{0,16}", gib in 1u64..9) {
        use numa_hpe_core::numa::MemBlk;
        use numa_hpe_core::numa_emulation::numa_emulation;
        let max = gib << 30;
        let phys = [MemBlk { start: 0, end: max, nid: 0 }];
        let ram = [(0x1000, 0x9fc00), (0x10_0000, max.min(0xc000_0000)), (1 << 32, max.max(1 << 32))];
        let mut d = Vec::new();
        if let Some(e) = numa_emulation(&phys, &ram, max, &arg, &|a, b| if a == b { 10 } else { 20 }, &mut d) {
            prop_assert!(e.blks.iter().all(|b| b.start < b.end && b.end <= max));
        }
    }
}
