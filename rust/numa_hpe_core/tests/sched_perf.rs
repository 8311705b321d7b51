//! Timing of a full sched-domain build and of a rebuild after one CPU online on a large
//! machine (8192 CPUs, 1024 nodes), plus boot-time `set_cpu_sibling_map`, the sched_verbose
//! lines and reading every debugfs file:
//! `cargo test -p numa_hpe_core --release --test sched_perf -- --ignored --nocapture`.

use std::time::{Duration, Instant};

use numa_hpe_core::bitmap::{Bitmap, SpanMask};
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

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// QEMU-style ids for CPUS CPUs on `nodes` nodes: one package per node, 2 threads per core.
fn qemu_ids(nodes: usize) -> Vec<CpuIds> {
    let per = CPUS / nodes;
    (0..CPUS)
        .map(|c| {
            let apic = c as u32;
            let (llc_id, l2c_id) = CpuIds::qemu_cache_ids(apic, 2, per as u32 / 2);
            let node = (c / per) as u32;
            CpuIds {
                apic_id: apic,
                package: node,
                core: (c % per) as u32 / 2,
                thread: c as u32 % 2,
                llc_id,
                l2c_id,
                node,
                ..Default::default()
            }
        })
        .collect()
}

/// Boot: set_cpu_sibling_map for every CPU in order; the time spent in it.
fn boot_siblings(ids: &[CpuIds]) -> (SiblingMaps, Duration) {
    let mut sib = SiblingMaps::new(CPUS);
    let mut online = Bitmap::new(CPUS);
    let mut warn = Vec::new();
    let t = Instant::now();
    for c in 0..CPUS {
        sib.set_cpu_sibling_map(c, ids, &online, &mut warn);
        online.set(c);
    }
    sib.smp_cpus_done();
    (sib, t.elapsed())
}

#[test]
#[ignore = "timing; run with --release"]
fn build_8192_cpus_1024_nodes() {
    let ids = qemu_ids(NODES);
    let (mut sib, sib_t) = boot_siblings(&ids);
    let mut warn = Vec::new();
    for c in (0..CPUS).step_by(97) {
        let core = SpanMask::from_bitmap(&Bitmap::from_bits(CPUS, [c & !1, c | 1]));
        let pkg = SpanMask::from_bitmap(&Bitmap::from_bits(CPUS, (c & !7)..(c & !7) + 8));
        assert_eq!((&sib.smt[c], &sib.cluster[c]), (&core, &core));
        assert_eq!(
            (&sib.llc[c], &sib.die[c], &sib.package[c]),
            (&pkg, &pkg, &pkg)
        );
    }
    let cpu_node: Vec<u32> = ids.iter().map(|i| i.node).collect();
    let nodes = Bitmap::from_bits(NODES, 0..NODES);
    let mut active = Bitmap::from_bits(CPUS, 0..CPUS);
    let build = |active: &Bitmap, sib: &SiblingMaps| {
        build_sched_domains(&SchedInput {
            nr_cpu_ids: CPUS,
            active,
            siblings: sib,
            cpu_node: &cpu_node,
            cpu_nodes: &nodes,
            distance: &distance,
        })
    };
    let mut fulls = Vec::new();
    let mut full = build(&active, &sib);
    for _ in 0..7 {
        let t = Instant::now();
        let d = build(&active, &sib);
        fulls.push(t.elapsed());
        full = d;
    }
    assert_eq!(full.per_cpu[0].len(), 5, "SMT MC NUMA NUMA NUMA");

    // Rebuild (`SchedDomains::rebuild_after_cpu_change`, as the machine does on hotplug) after one CPU goes
    // online (offline first, then back on).
    let mut res = Vec::new();
    let mut last = None;
    let mut cur = build(&active, &sib);
    let rebuild = |cur: &mut numa_hpe_core::sched_domain::SchedDomains,
                   active: &Bitmap,
                   sib: &SiblingMaps| {
        cur.rebuild_after_cpu_change(&SchedInput {
            nr_cpu_ids: CPUS,
            active,
            siblings: sib,
            cpu_node: &cpu_node,
            cpu_nodes: &nodes,
            distance: &distance,
        });
    };
    for cpu in [4000, 1, 8191, 77, 2048, 5555, 13] {
        sib.remove_siblinginfo(cpu);
        active.clear(cpu);
        let old = active.clone();
        rebuild(&mut cur, &active, &sib);
        sib.set_cpu_sibling_map(cpu, &ids, &active, &mut warn);
        active.set(cpu);
        let t = Instant::now();
        rebuild(&mut cur, &active, &sib);
        res.push(t.elapsed());
        last = Some(old);
    }
    let old = last.unwrap();
    let re = cur;
    assert_eq!(re, full);
    let t = Instant::now();
    let lines = rebuild_lines(&old, &re);
    let lines_t = t.elapsed();

    // Every debugfs file of every CPU, one call per file (`debugfs_attr`).
    let t = Instant::now();
    let mut files = 0usize;
    let mut bytes = 0usize;
    for cpu in 0..CPUS {
        let n = re.debugfs_domain_count(cpu);
        for dom in 0..n {
            for attr in [
                "name",
                "flags",
                "min_interval",
                "max_interval",
                "busy_factor",
                "imbalance_pct",
                "cache_nice_tries",
                "flags",
            ] {
                let s = re.debugfs_attr(cpu, dom, attr).unwrap();
                bytes += s.len();
                files += 1;
            }
        }
    }
    let dbg_t = t.elapsed();
    eprintln!(
        "set_cpu_sibling_map x{CPUS}: {sib_t:?}; full build median {:?} (runs {fulls:?}); \
         rebuild after one CPU online median {:?} (runs {res:?}); its {} dmesg lines {lines_t:?}; \
         {files} debugfs reads ({bytes} bytes) {dbg_t:?}",
        median(fulls.clone()),
        median(res.clone()),
        lines.len()
    );
}

/// 8192 CPUs on 4 nodes (2048 CPUs = 1024 cores x 2 threads per node, one package and LLC
/// per node), distances 10 / 20: huge MC spans.
#[test]
#[ignore = "timing; run with --release"]
fn build_8192_cpus_4_nodes() {
    const N: usize = 4;
    let ids = qemu_ids(N);
    let (mut sib, sib_t) = boot_siblings(&ids);
    let mut warn = Vec::new();
    let cpu_node: Vec<u32> = ids.iter().map(|i| i.node).collect();
    let nodes = Bitmap::from_bits(N, 0..N);
    let dist = |a: usize, b: usize| if a == b { 10 } else { 20 };
    let mut active = Bitmap::from_bits(CPUS, 0..CPUS);
    let mut fulls = Vec::new();
    let mut full = None;
    for _ in 0..3 {
        let t = Instant::now();
        let d = build_sched_domains(&SchedInput {
            nr_cpu_ids: CPUS,
            active: &active,
            siblings: &sib,
            cpu_node: &cpu_node,
            cpu_nodes: &nodes,
            distance: &dist,
        });
        fulls.push(t.elapsed());
        full = Some(d);
    }
    let full = full.unwrap();
    let mut cur = full.clone();
    cur.rebuild(&SchedInput {
        nr_cpu_ids: CPUS,
        active: &active,
        siblings: &sib,
        cpu_node: &cpu_node,
        cpu_nodes: &nodes,
        distance: &dist,
    });
    let mut res = Vec::new();
    for cpu in [4000, 1, 8191] {
        sib.remove_siblinginfo(cpu);
        active.clear(cpu);
        cur.rebuild_after_cpu_change(&SchedInput {
            nr_cpu_ids: CPUS,
            active: &active,
            siblings: &sib,
            cpu_node: &cpu_node,
            cpu_nodes: &nodes,
            distance: &dist,
        });
        sib.set_cpu_sibling_map(cpu, &ids, &active, &mut warn);
        active.set(cpu);
        let t = Instant::now();
        cur.rebuild_after_cpu_change(&SchedInput {
            nr_cpu_ids: CPUS,
            active: &active,
            siblings: &sib,
            cpu_node: &cpu_node,
            cpu_nodes: &nodes,
            distance: &dist,
        });
        res.push(t.elapsed());
    }
    assert_eq!(cur, full);
    eprintln!(
        "4 nodes: sibling maps {sib_t:?}; full build median {:?} (runs {fulls:?}); rebuild median {:?} (runs {res:?})",
        median(fulls.clone()),
        median(res.clone())
    );
}
