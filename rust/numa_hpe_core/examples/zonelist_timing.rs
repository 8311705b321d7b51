//! Time `rebuild_zonelists` on a booted machine, then one read of the whole dmesg:
//! `cargo run --release --example zonelist_timing -- FIRMWARE.json [ROUNDS]`.
use std::time::Instant;

use numa_hpe_core::firmware::Firmware;
use numa_hpe_core::machine::{KernelConfig, Machine};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let Some(path) = args.get(1) else {
        eprintln!("usage: zonelist_timing FIRMWARE.json [ROUNDS]");
        std::process::exit(2);
    };
    let rounds: usize = args.get(2).and_then(|r| r.parse().ok()).unwrap_or(5);
    let fw = Firmware::from_json(&std::fs::read_to_string(path).expect("readable")).expect("valid");
    let mut m = Machine::boot(fw, "", KernelConfig::NumaHpe).expect("boots");
    let mut times = Vec::new();
    for _ in 0..rounds {
        let t = Instant::now();
        m.rebuild_zonelists();
        times.push(t.elapsed());
    }
    times.sort();
    println!("rebuild_zonelists median {:?} (min {:?}) over {rounds}", times[rounds / 2], times[0]);
    let t = Instant::now();
    let bytes: usize = m.dmesg.iter().map(|l| l.len() + 1).sum();
    println!("dmesg read {:?} ({} lines, {bytes} bytes)", t.elapsed(), m.dmesg.len());
}
