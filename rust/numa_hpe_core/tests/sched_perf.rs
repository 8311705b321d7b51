//! Timing of a full sched-domain build and of a rebuild after one CPU online on a large
//! machine: `cargo test -p numa_hpe_core --release --test sched_perf -- --ignored --nocapture`.

use std::time::Instant;

use numa_hpe_core::bitmap::Bitmap;
use numa_hpe_core::cpu_topology::{CpuIds, SiblingMaps};
use numa_hpe_core::sched_domain::{build_sched_domains, rebuild_lines, SchedInput};

const CPUS: usize = 8192;
const NODES: usize = 1024;

/// 8 CPUs per node (4 cores x 2 threads, one package per node); distances 10 / 20 (same
/// group of 8 nodes) / 30 (same group of 64) / 40.
fn distance(a: usize, b: usize) -> u32 {
    if a == b {
        10
    } else if a / 8 == b / 8 {
        20
    } else if a / 64 == b / 64 {
        30
    } else {
        40
    }
}

#[test]
#[ignore = "timing; run with --release"]
fn build_8192_cpus_1024_nodes() {
    let ids: Vec<CpuIds> = (0..CPUS)
        .map(|c| {
            let apic = c as u32;
            let (llc_id, l2c_id) = CpuIds::qemu_cache_ids(apic, 2, 4);
            let node = (c / 8) as u32;
            CpuIds {
                apic_id: apic,
                package: node,
                core: (c as u32 / 2) % 4,
                thread: c as u32 % 2,
                llc_id,
                l2c_id,
                node,
                ..Default::default()
            }
        })
        .collect();
    // Direct construction (set_cpu_sibling_map is O(n) per CPU and not what is timed).
    let mut sib = SiblingMaps::new(CPUS);
    for c in 0..CPUS {
        let core = Bitmap::from_bits(CPUS, [c & !1, c | 1]);
        let pkg = Bitmap::from_bits(CPUS, (c & !7)..(c & !7) + 8);
        sib.smt[c] = core.clone();
        sib.cluster[c] = core;
        sib.llc[c] = pkg.clone();
        sib.die[c] = pkg.clone();
        sib.package[c] = pkg;
    }
    sib.smp_cpus_done();
    let cpu_node: Vec<u32> = ids.iter().map(|i| i.node).collect();
    let nodes = Bitmap::from_bits(NODES, 0..NODES);
    let mut active = Bitmap::from_bits(CPUS, 0..CPUS);
    let build = |active: &Bitmap| {
        build_sched_domains(&SchedInput {
            nr_cpu_ids: CPUS,
            active,
            siblings: &sib,
            cpu_node: &cpu_node,
            cpu_nodes: &nodes,
            distance: &distance,
        })
    };
    let t = Instant::now();
    let full = build(&active);
    let full_t = t.elapsed();
    assert_eq!(full.per_cpu[0].len(), 5, "SMT MC NUMA NUMA NUMA");
    active.clear(4000);
    let old = active.clone();
    let _ = build(&active);
    active.set(4000);
    let t = Instant::now();
    let re = build(&active);
    let re_t = t.elapsed();
    let t = Instant::now();
    let lines = rebuild_lines(&old, &re);
    let lines_t = t.elapsed();
    eprintln!(
        "full build {full_t:?}; rebuild after one CPU online {re_t:?}; its {} dmesg lines {lines_t:?}",
        lines.len()
    );
}
