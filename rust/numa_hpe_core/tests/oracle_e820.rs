//! e820 boot lines against the real-kernel oracle cases (`shared/oracle/cases/*`): the
//! expected lines come from the kernel's dmesg, never from this crate.

use numa_hpe_core::cmdline::BootParams;
use numa_hpe_core::e820::{e820_boot, reserve_ram_buffer_lines};
use numa_hpe_core::firmware::FwE820;
use serde_json::Value;
use std::path::PathBuf;

fn cases_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/oracle/cases")
}

fn read_json(p: PathBuf) -> Value {
    serde_json::from_str(&std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{p:?}: {e}")))
        .unwrap()
}

/// The compare.py `e820` dmesg group.
fn is_e820_line(l: &str) -> bool {
    ["BIOS-provided physical RAM map:", "BIOS-e820: ", "e820: update", "e820: remove"]
        .iter()
        .chain(&["e820: reserve RAM buffer ", "user-defined physical RAM map:", "user: [mem "])
        .any(|p| l.starts_with(p))
}

#[test]
fn e820_lines_match_every_oracle_case() {
    let mut n = 0;
    for entry in std::fs::read_dir(cases_dir()).unwrap() {
        let dir = entry.unwrap().path();
        let case = read_json(dir.join("case.json"));
        let expected = read_json(dir.join("expected/boot.json"));
        let fw: Vec<FwE820> = serde_json::from_value(case["firmware"]["e820"].clone()).unwrap();
        let params = BootParams::parse(case["cmdline"].as_str().unwrap());
        let mut dmesg = Vec::new();
        let boot = e820_boot(&fw, &params, &mut dmesg);
        dmesg.extend(reserve_ram_buffer_lines(&boot.table));
        let actual: Vec<&str> = dmesg.iter().map(String::as_str).filter(|l| is_e820_line(l)).collect();
        let want: Vec<&str> = expected["dmesg"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .filter(|l| is_e820_line(l))
            .collect();
        assert_eq!(actual, want, "case {dir:?}");
        n += 1;
    }
    assert!(n >= 12, "only {n} oracle cases found");
}

#[test]
fn memcap_sets_max_mem_size_and_userdef() {
    let case = read_json(cases_dir().join("memcap/case.json"));
    let fw: Vec<FwE820> = serde_json::from_value(case["firmware"]["e820"].clone()).unwrap();
    let params = BootParams::parse(case["cmdline"].as_str().unwrap());
    let boot = e820_boot(&fw, &params, &mut Vec::new());
    assert_eq!(boot.max_mem_size, Some(2 << 30));
    assert!(boot.userdef);
    // "Early memory node ranges" of the memcap boot: [0x1000, 0x9f000) is page-trimmed by
    // memblock; the e820 entries themselves end at the firmware's byte boundary.
    assert_eq!(boot.table.ram_ranges(), vec![(0x1000, 0x9fc00), (0x10_0000, 0x8000_0000)]);
}
