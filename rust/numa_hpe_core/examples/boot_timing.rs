//! Boot a machine from a firmware JSON file and print how long it took:
//! `cargo run --release --example boot_timing -- FIRMWARE.json [CMDLINE]`
//! (`BOOT_TIMING_RUNS=1` for a single boot, e.g. under callgrind).
use std::time::Instant;

use numa_hpe_core::firmware::Firmware;
use numa_hpe_core::machine::{KernelConfig, Machine};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let Some(path) = args.get(1) else {
        eprintln!("usage: boot_timing FIRMWARE.json [CMDLINE]");
        std::process::exit(2);
    };
    let text = std::fs::read_to_string(path).expect("readable firmware file");
    let t = Instant::now();
    let fw = Firmware::from_json(&text).expect("valid firmware");
    let parsed = t.elapsed();
    let cmdline = args.get(2).map_or("", String::as_str);
    let runs = std::env::var("BOOT_TIMING_RUNS").ok().and_then(|r| r.parse().ok()).unwrap_or(3);
    for _ in 0..runs {
        let t = Instant::now();
        let m = Machine::boot(fw.clone(), cmdline, KernelConfig::NumaHpe).expect("boots");
        println!("parse {parsed:?} boot {:?} ({} dmesg lines)", t.elapsed(), m.dmesg.len());
    }
}
