//! Boot a machine from a firmware JSON file, then time sched-domain rebuilds: full ones
//! (`rebuild_sched_domains_now`) and the one after a CPU goes offline / online:
//! `cargo run --release --example sched_timing -- FIRMWARE.json [ROUNDS] [CPU]`.
use std::time::Instant;

use numa_hpe_core::firmware::Firmware;
use numa_hpe_core::machine::{KernelConfig, Machine};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let Some(path) = args.get(1) else {
        eprintln!("usage: sched_timing FIRMWARE.json [ROUNDS] [CPU]");
        std::process::exit(2);
    };
    let rounds: usize = args.get(2).map_or(5, |s| s.parse().expect("ROUNDS"));
    let cpu: usize = args.get(3).map_or(4097, |s| s.parse().expect("CPU"));
    let text = std::fs::read_to_string(path).expect("readable firmware file");
    let fw = Firmware::from_json(&text).expect("valid firmware");
    let mut m = Machine::boot(fw, "", KernelConfig::NumaHpe).expect("boots");
    for _ in 0..rounds {
        let t = Instant::now();
        m.rebuild_sched_domains_now();
        let full = t.elapsed();
        let t = Instant::now();
        m.cpu_down(cpu).expect("offline");
        let down = t.elapsed();
        let t = Instant::now();
        m.cpu_up(cpu).expect("online");
        let up = t.elapsed();
        println!("full rebuild {full:?}; cpu{cpu} offline {down:?}; online {up:?}");
    }
}
