//! `numa=fake=` against the real-kernel oracle case `fake4` (UMA 4G+1G machine,
//! `numa=fake=4`): the `Faking node` lines, the distance-table line, and the node memory
//! ranges the kernel then printed (`Early memory node ranges`).

use numa_hpe_core::cmdline::BootParams;
use numa_hpe_core::e820::e820_boot;
use numa_hpe_core::firmware::FwE820;
use numa_hpe_core::numa::MemBlk;
use numa_hpe_core::numa_emulation::numa_emulation;
use serde_json::Value;
use std::path::PathBuf;

fn read_json(rel: &str) -> Value {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/oracle/cases").join(rel);
    serde_json::from_str(&std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{p:?}: {e}"))).unwrap()
}

fn parse_range(s: &str) -> (u64, u64) {
    let inner = s.split("[mem ").nth(1).unwrap().split(']').next().unwrap();
    let (a, b) = inner.split_once('-').unwrap();
    let h = |x: &str| u64::from_str_radix(x.trim_start_matches("0x"), 16).unwrap();
    (h(a), h(b) + 1)
}

#[test]
fn fake4_matches_oracle() {
    let case = read_json("fake4/case.json");
    let expected = read_json("fake4/expected/boot.json");
    let want: Vec<&str> = expected["dmesg"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    let fw: Vec<FwE820> = serde_json::from_value(case["firmware"]["e820"].clone()).unwrap();
    let params = BootParams::parse(case["cmdline"].as_str().unwrap());
    let arg = params.numa_fake.clone().unwrap();
    assert_eq!(arg, "4");
    let boot = e820_boot(&fw, &params, &mut Vec::new());
    let ram = boot.table.ram_ranges();
    // dummy_numa_init: one block [0, max_pfn << 12) on node 0, as the oracle printed it.
    let faking = want.iter().find(|l| l.starts_with("Faking a node at")).unwrap();
    let (start, max_addr) = parse_range(faking);
    assert_eq!(max_addr, ram.iter().map(|r| r.1).max().unwrap());
    let phys = [MemBlk { start, end: max_addr, nid: 0 }];
    let mut dmesg = Vec::new();
    let emu = numa_emulation(&phys, &ram, max_addr, &arg, &|a, b| if a == b { 10 } else { 20 }, &mut dmesg)
        .expect("emulation enabled");
    let want_emu: Vec<&str> = want
        .iter()
        .copied()
        .filter(|l| l.starts_with("Faking node ") || l.starts_with("NUMA: "))
        .collect();
    assert_eq!(dmesg, want_emu);
    // Each emulated block, intersected with RAM, gives the "  node   N: [mem ...]" lines.
    let mut ranges = Vec::new();
    for b in &emu.blks {
        for &(s, e) in &ram {
            let (s, e) = (s.max(b.start).div_ceil(4096) * 4096, e.min(b.end) / 4096 * 4096);
            if s < e {
                ranges.push(format!("  node {:>3}: [mem {s:#018x}-{:#018x}]", b.nid, e - 1));
            }
        }
    }
    let want_ranges: Vec<String> =
        want.iter().filter(|l| l.starts_with("  node ")).map(|l| l.to_string()).collect();
    assert_eq!(ranges, want_ranges);
    assert_eq!(emu.emu_to_phys, vec![0, 0, 0, 0]);
    assert_eq!(emu.distance, vec![vec![10; 4]; 4]);
}
