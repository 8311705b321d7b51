//! Properties of built sched domains over random x86 topologies and distance tables: the
//! sanity rules sched_domain_debug_one checks hold, and nothing panics on odd input.

use numa_hpe_core::bitmap::Bitmap;
use numa_hpe_core::cpu_topology::{CpuIds, SiblingMaps};
use numa_hpe_core::sched_domain::{
    build_sched_domains, rebuild_lines, SchedDomains, SchedInput, SD_OVERLAP,
};
use proptest::prelude::*;

#[derive(Debug)]
struct Topo {
    threads: u32,
    cores: u32,
    packages: u32,
    /// Node of each (package, core).
    node_of_core: Vec<u32>,
    dist: Vec<Vec<u32>>,
    active: Vec<bool>,
}

fn topo(valid_dist: bool) -> impl Strategy<Value = Topo> {
    (1u32..=2, 1u32..=4, 1u32..=3).prop_flat_map(move |(threads, cores, packages)| {
        let ncores = (cores * packages) as usize;
        let ncpu = ncores * threads as usize;
        let d = if valid_dist { 11u32..60 } else { 0u32..300 };
        (
            proptest::collection::vec(0u32..4, ncores),
            proptest::collection::vec(d, 16),
            proptest::collection::vec(any::<bool>(), ncpu),
        )
            .prop_map(move |(node_of_core, raw, mut active)| {
                active[0] = true;
                let mut dist = vec![vec![10; 4]; 4];
                for a in 0..4 {
                    for b in 0..4 {
                        if a != b {
                            dist[a][b] = raw[a.min(b) * 4 + a.max(b)];
                        }
                    }
                }
                if !valid_dist {
                    dist[0][0] = raw[0];
                }
                Topo {
                    threads,
                    cores,
                    packages,
                    node_of_core,
                    dist,
                    active,
                }
            })
    })
}

fn ids_of(t: &Topo) -> Vec<CpuIds> {
    let n = (t.threads * t.cores * t.packages) as usize;
    (0..n as u32)
        .map(|c| {
            let (thread, core, package) = (
                c % t.threads,
                c / t.threads % t.cores,
                c / t.threads / t.cores,
            );
            let apic = c;
            let (llc_id, l2c_id) = CpuIds::qemu_cache_ids(apic, t.threads, t.cores);
            let node = t.node_of_core[(c / t.threads) as usize];
            CpuIds {
                apic_id: apic,
                package,
                core,
                thread,
                llc_id,
                l2c_id,
                node,
                ..Default::default()
            }
        })
        .collect()
}

/// Sibling maps after booting the CPUs of `active` in order.
fn siblings(ids: &[CpuIds], active: &Bitmap) -> SiblingMaps {
    let n = ids.len();
    let mut sib = SiblingMaps::new(n);
    let mut online = Bitmap::new(n);
    for c in active.iter() {
        sib.set_cpu_sibling_map(c, ids, &online, &mut Vec::new());
        online.set(c);
    }
    sib.smp_cpus_done();
    sib
}

fn build(t: &Topo) -> (SchedDomains, Bitmap) {
    let n = (t.threads * t.cores * t.packages) as usize;
    let ids = ids_of(t);
    let online = Bitmap::from_bits(n, (0..n).filter(|&c| t.active[c]));
    let sib = siblings(&ids, &online);
    let cpu_node: Vec<u32> = ids.iter().map(|i| i.node).collect();
    let nodes = Bitmap::from_bits(4, online.iter().map(|c| cpu_node[c] as usize));
    let dist = |a: usize, b: usize| t.dist[a][b];
    let d = build_sched_domains(&SchedInput {
        nr_cpu_ids: n,
        active: &online,
        siblings: &sib,
        cpu_node: &cpu_node,
        cpu_nodes: &nodes,
        distance: &dist,
    });
    (d, online)
}

proptest! {
    #[test]
    fn sched_domain_debug_rules_hold(t in topo(true)) {
        let (d, online) = build(&t);
        let _ = d.attach_lines();
        if d.failed {
            return Ok(());
        }
        for cpu in online.iter() {
            let doms = &d.per_cpu[cpu];
            for (i, sd) in doms.iter().enumerate() {
                prop_assert!(sd.span.test(cpu), "CPU{} not in its domain-{}", cpu, i);
                prop_assert!(sd.span.to_bitmap().is_subset(&online));
                prop_assert!(sd.groups[0].span.test(cpu), "CPU{} not in its first group", cpu);
                let mut cover = Bitmap::new(online.nbits());
                for g in &sd.groups {
                    prop_assert!(g.span.is_subset(&sd.span));
                    prop_assert!(g.mask.is_subset(&g.span) && !g.mask.is_empty());
                    if sd.flags & SD_OVERLAP == 0 {
                        prop_assert!(!g.span.intersects(&cover), "repeated CPUs");
                    }
                    g.span.or_into(&mut cover);
                }
                prop_assert_eq!(&cover, &sd.span.to_bitmap());
                if let Some(parent) = doms.get(i + 1) {
                    prop_assert!(sd.span.is_subset(&parent.span));
                    prop_assert!(sd.span.weight() < parent.span.weight() || sd.flags != parent.flags);
                }
                prop_assert!(sd.span.weight() > 1);
            }
            prop_assert!(!d.debugfs_files(cpu).is_empty() || doms.is_empty());
        }
    }

    /// `SchedDomains::rebuild` and `rebuild_after_cpu_change` (the machine's hotplug path)
    /// after each CPU online/offline equal a full build, domains and sched_verbose text alike.
    #[test]
    fn rebuild_equals_full_build(t in topo(true), seq in proptest::collection::vec(0usize..24, 1..12)) {
        let (mut cur, mut online) = build(&t);
        let (mut inc, _) = build(&t);
        let n = online.nbits();
        let ids = ids_of(&t);
        let mut sib = siblings(&ids, &online);
        let cpu_node: Vec<u32> = ids.iter().map(|i| i.node).collect();
        let dist = |a: usize, b: usize| t.dist[a][b];
        for step in seq {
            let cpu = step % n;
            if online.test(cpu) {
                if online.weight() == 1 {
                    continue;
                }
                sib.remove_siblinginfo(cpu);
                online.clear(cpu);
            } else {
                sib.set_cpu_sibling_map(cpu, &ids, &online, &mut Vec::new());
                online.set(cpu);
            }
            let nodes = Bitmap::from_bits(4, online.iter().map(|c| cpu_node[c] as usize));
            let input = SchedInput {
                nr_cpu_ids: n,
                active: &online,
                siblings: &sib,
                cpu_node: &cpu_node,
                cpu_nodes: &nodes,
                distance: &dist,
            };
            let full = build_sched_domains(&input);
            cur.rebuild(&input);
            inc.rebuild_after_cpu_change(&input);
            for d in [&cur, &inc] {
                prop_assert_eq!(d, &full);
                prop_assert_eq!(d.attach_lines(), full.attach_lines());
                for c in 0..n {
                    prop_assert_eq!(d.debugfs_files(c), full.debugfs_files(c));
                }
            }
        }
    }

    #[test]
    fn odd_input_does_not_panic(t in topo(false)) {
        let (d, online) = build(&t);
        let _ = d.attach_lines();
        let _ = rebuild_lines(&online, &d);
        for cpu in 0..online.nbits() {
            let _ = d.debugfs_files(cpu);
        }
    }
}
