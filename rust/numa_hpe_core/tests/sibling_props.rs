//! `SiblingMaps` (indexed candidates, shared copy-on-write masks with cached first bit and
//! weight) equals the kernel's plain `set_cpu_sibling_map` / `remove_siblinginfo` loops over
//! `cpu_sibling_setup_mask`, on random ids and random bring-up / tear-down sequences, also
//! across a snapshot round trip (the candidate index is rebuilt after a load).

use numa_hpe_core::bitmap::Bitmap;
use numa_hpe_core::cpu_topology::{CpuIds, SiblingMaps};
use proptest::prelude::*;

/// The kernel's loops over plain per-CPU masks.
#[derive(Debug)]
struct Reference {
    /// smt, llc, l2c, die, package
    maps: [Vec<Bitmap>; 5],
    booted_cores: Vec<u32>,
    max_smt_threads: u32,
    numa_in_package: bool,
    sane_warned: bool,
    setup: Bitmap,
}

const SMT: usize = 0;
const LLC: usize = 1;
const L2C: usize = 2;
const DIE: usize = 3;
const PKG: usize = 4;

impl Reference {
    fn new(n: usize) -> Self {
        Reference {
            maps: std::array::from_fn(|_| vec![Bitmap::new(n); n]),
            booted_cores: vec![0; n],
            max_smt_threads: 1,
            numa_in_package: false,
            sane_warned: false,
            setup: Bitmap::new(n),
        }
    }

    fn sane(&mut self, c: usize, o: usize, ids: &[CpuIds], name: &str, dmesg: &mut Vec<String>) -> bool {
        let (nc, no) = (ids[c].node, ids[o].node);
        if nc == no {
            return true;
        }
        if !self.sane_warned {
            self.sane_warned = true;
            dmesg.push(format!(
                "sched: CPU #{c}'s {name}-sibling CPU #{o} is not on the same node! [node: {nc} != {no}]. Ignoring dependency."
            ));
        }
        false
    }

    fn link(&mut self, m: usize, a: usize, b: usize) {
        self.maps[m][a].set(b);
        self.maps[m][b].set(a);
    }

    fn set_cpu_sibling_map(&mut self, cpu: usize, ids: &[CpuIds], online: &Bitmap, dmesg: &mut Vec<String>) {
        self.setup.or_assign(online);
        self.setup.set(cpu);
        let c = ids[cpu];
        let setup: Vec<usize> = self.setup.iter().collect();
        for &i in &setup {
            let o = ids[i];
            let same = i == cpu;
            let fake = !same && (c.fake_socket || o.fake_socket);
            let pkg = !fake && c.package == o.package;
            if pkg && c.node != o.node {
                self.numa_in_package = true;
            }
            if same || (pkg && c.die == o.die && c.core == o.core && self.sane(cpu, i, ids, "smt", dmesg)) {
                self.link(SMT, cpu, i);
            }
            let llc = !fake
                && c.llc_id == o.llc_id
                && !(pkg && c.node != o.node)
                && self.sane(cpu, i, ids, "llc", dmesg);
            if same || llc {
                self.link(LLC, cpu, i);
            }
            if same || (!fake && c.l2c_id == o.l2c_id && self.sane(cpu, i, ids, "l2c", dmesg)) {
                self.link(L2C, cpu, i);
            }
            if same || (pkg && c.die == o.die) {
                self.link(DIE, cpu, i);
            }
        }
        let threads = self.maps[SMT][cpu].weight() as u32;
        self.max_smt_threads = self.max_smt_threads.max(threads);
        for &i in &setup {
            let o = ids[i];
            let pkg = !c.fake_socket && !o.fake_socket && c.package == o.package;
            if i == cpu || pkg {
                self.link(PKG, cpu, i);
                if threads == 1 {
                    if self.maps[SMT][i].first() == Some(i) {
                        self.booted_cores[cpu] += 1;
                    }
                    if i != cpu {
                        self.booted_cores[i] += 1;
                    }
                } else if i != cpu && self.booted_cores[cpu] == 0 {
                    self.booted_cores[cpu] = self.booted_cores[i];
                }
            }
        }
    }

    fn remove_siblinginfo(&mut self, cpu: usize) {
        if self.maps[SMT][cpu].weight() == 1 {
            for s in self.maps[PKG][cpu].iter().collect::<Vec<_>>() {
                self.booted_cores[s] = self.booted_cores[s].saturating_sub(1);
            }
        }
        for m in &mut self.maps {
            for s in m[cpu].iter().collect::<Vec<_>>() {
                m[s].clear(cpu);
            }
            m[cpu].clear_all();
        }
        self.booted_cores[cpu] = 0;
        self.setup.clear(cpu);
    }

    fn check(&self, m: &SiblingMaps) {
        let got = [&m.smt, &m.llc, &m.cluster, &m.die, &m.package];
        for (k, (want, got)) in self.maps.iter().zip(got).enumerate() {
            for cpu in 0..want.len() {
                assert_eq!(want[cpu], got[cpu].to_bitmap(), "map {k} cpu {cpu}");
                assert_eq!(want[cpu].first(), got.first(cpu), "first of map {k} cpu {cpu}");
                assert_eq!(want[cpu].weight(), got.weight(cpu), "weight of map {k} cpu {cpu}");
                assert_eq!(want[cpu].nbits(), got[cpu].nbits(), "width of map {k} cpu {cpu}");
            }
        }
        assert_eq!(self.booted_cores, m.booted_cores);
        assert_eq!(self.max_smt_threads, m.max_smt_threads);
        assert_eq!(self.numa_in_package, m.numa_in_package);
        assert_eq!(self.setup, m.setup);
    }
}

#[derive(Clone, Debug)]
enum Op {
    Up(usize),
    Down(usize),
    /// Mark online without linking (setup then catches up from `online`).
    OnlineOnly(usize),
    /// Snapshot round trip of the maps.
    Reload,
}

fn ids_strategy() -> impl Strategy<Value = Vec<CpuIds>> {
    let one = (0u32..3, 0u32..2, 0u32..3, 0u32..3, 0u32..5, 0u32..3, proptest::bool::weighted(0.1)).prop_map(
        |(package, die, core, llc, l2c, node, fake_socket)| CpuIds {
            package,
            die,
            core,
            llc_id: llc,
            l2c_id: l2c,
            node,
            fake_socket,
            ..CpuIds::default()
        },
    );
    // Mostly small machines; some beyond 64 CPUs, whose masks span several words.
    prop_oneof![4 => proptest::collection::vec(one.clone(), 1..24), 1 => proptest::collection::vec(one, 60..150)]
}

fn ops_strategy(n: usize) -> impl Strategy<Value = Vec<Op>> {
    let op = prop_oneof![
        6 => (0..n).prop_map(Op::Up),
        3 => (0..n).prop_map(Op::Down),
        1 => (0..n).prop_map(Op::OnlineOnly),
        1 => Just(Op::Reload),
    ];
    proptest::collection::vec(op, 0..80)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn sibling_maps_equal_kernel_loops(
        (ids, ops) in ids_strategy().prop_flat_map(|ids| {
            let n = ids.len();
            (Just(ids), ops_strategy(n))
        })
    ) {
        let n = ids.len();
        let mut fast = SiblingMaps::new(n);
        let mut slow = Reference::new(n);
        let mut online = Bitmap::new(n);
        let (mut d_fast, mut d_slow) = (Vec::new(), Vec::new());
        for op in ops {
            match op {
                Op::Up(cpu) if !online.test(cpu) => {
                    fast.set_cpu_sibling_map(cpu, &ids, &online, &mut d_fast);
                    slow.set_cpu_sibling_map(cpu, &ids, &online, &mut d_slow);
                    online.set(cpu);
                }
                Op::Down(cpu) if online.test(cpu) => {
                    fast.remove_siblinginfo(cpu);
                    slow.remove_siblinginfo(cpu);
                    online.clear(cpu);
                }
                Op::OnlineOnly(cpu) => online.set(cpu),
                Op::Reload => {
                    let text = serde_json::to_string(&fast).unwrap();
                    let back: SiblingMaps = serde_json::from_str(&text).unwrap();
                    prop_assert_eq!(&back, &fast);
                    fast = back;
                }
                _ => {}
            }
            slow.check(&fast);
            prop_assert_eq!(&d_fast, &d_slow);
        }
    }
}
