//! x86 CPU topology: per-CPU ids and the sibling maps built when a CPU comes online
//! (arch/x86/kernel/smpboot.c `set_cpu_sibling_map` / `remove_siblinginfo`, 6.1;
//! arch/x86/kernel/cpu/common.c `topology_update_package_map` / `topology_update_die_map`).
//!
//! Deviations: `has_mp` / `has_smt` are taken as true (with QEMU's consistent ids this only
//! differs from the kernel in which CPUs are compared, never in the result); the
//! `topology_sane` WARN_ONCE yields only its message line (no `cut here` block / backtrace);
//! the patchset's fake socket is modelled by `CpuIds::fake_socket`.

use std::collections::HashMap;
use std::sync::Arc;

use crate::bitmap::{Bitmap, SpanMask};
use crate::printk::LineBuilder;

/// What CPUID / firmware says about one logical CPU.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct CpuIds {
    pub apic_id: u32,
    /// phys_proc_id (physical package id).
    pub package: u32,
    pub die: u32,
    pub core: u32,
    pub thread: u32,
    /// Last-level-cache id (QEMU: one L3 per die).
    pub llc_id: u32,
    /// L2 id, shown as `cluster_id` (QEMU: one L2 per core).
    pub l2c_id: u32,
    /// cpu_to_node.
    pub node: u32,
    /// Patchset fake socket (cpu_probe_on): shares no sibling / LLC map with others.
    pub fake_socket: bool,
}

/// `get_count_order(n)`: ceil(log2(n)), 0 for n <= 1.
fn count_order(n: u32) -> u32 {
    if n <= 1 {
        0
    } else {
        32 - (n - 1).leading_zeros()
    }
}

impl CpuIds {
    /// `(llc_id, l2c_id)` as intel cacheinfo derives them from QEMU 7.2's CPUID leaf 4
    /// (`init_intel_cacheinfo`: id = apicid with the sharing bits cleared). QEMU shares L2
    /// between the threads of a core and L3 between all threads of a die.
    #[must_use]
    pub fn qemu_cache_ids(apic_id: u32, threads_per_core: u32, cores_per_die: u32) -> (u32, u32) {
        let thread_bits = count_order(threads_per_core);
        let die_offset = thread_bits + count_order(cores_per_die);
        let l3 = 1u32.checked_shl(die_offset).unwrap_or(0).wrapping_sub(1);
        let l2 = (1u32 << thread_bits) - 1;
        (apic_id & !l3, apic_id & !l2)
    }
}

/// Per-CPU cpumasks of `nr_cpu_ids` bits where CPUs with the same mask share one allocation
/// (sibling maps are per core / LLC / package: few distinct masks, not one per CPU), each
/// stored as its non-zero words (a [`SpanMask`]: a few bits of up to 8192). `masks[cpu]` is
/// the mask of `cpu`; updates are copy-on-write. Serializes as the list of masks (the former
/// `Vec<Bitmap>` format); sharing is restored on load.
#[derive(Clone, Debug, Default)]
pub struct CpuMasks {
    /// Slot of each CPU's mask in `pool` (slot 0: the empty mask).
    slot: Vec<u32>,
    /// The distinct masks.
    pool: Vec<Arc<SpanMask>>,
    /// Number of CPUs using each slot (0: free).
    users: Vec<u32>,
    /// Lowest set bit (u32::MAX when empty) and weight of each slot's mask: read without
    /// touching the masks.
    firsts: Vec<u32>,
    weights: Vec<u32>,
    free: Vec<u32>,
    /// (slot, CPU) pairs of the masks an `assign_bit` changes (kept to reuse the allocation).
    scratch: Vec<(u32, usize)>,
}

const EMPTY: u32 = 0;

impl CpuMasks {
    /// `n` empty masks of `n` bits.
    #[must_use]
    pub fn new(n: usize) -> Self {
        CpuMasks {
            slot: vec![EMPTY; n],
            pool: vec![Arc::new(SpanMask::empty(n))],
            users: vec![0],
            firsts: vec![u32::MAX],
            weights: vec![0],
            free: Vec::new(),
            scratch: Vec::new(),
        }
    }

    #[must_use]
    pub fn len(&self) -> usize {
        self.slot.len()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.slot.is_empty()
    }

    /// The masks in CPU order.
    pub fn iter(&self) -> impl Iterator<Item = &SpanMask> + '_ {
        self.slot.iter().map(|&s| &*self.pool[s as usize])
    }

    /// The shared mask of `cpu` (pointer-equal masks are equal).
    #[must_use]
    pub fn shared(&self, cpu: usize) -> &Arc<SpanMask> {
        &self.pool[self.slot[cpu] as usize]
    }

    /// Lowest CPU of `cpu`'s mask (`cpumask_first`).
    #[must_use]
    pub fn first(&self, cpu: usize) -> Option<usize> {
        let f = self.firsts[self.slot[cpu] as usize];
        (f != u32::MAX).then_some(f as usize)
    }

    /// Number of CPUs in `cpu`'s mask (`cpumask_weight`).
    #[must_use]
    pub fn weight(&self, cpu: usize) -> usize {
        self.weights[self.slot[cpu] as usize] as usize
    }

    /// Note the first bit and weight of slot `s`'s mask after it changed.
    fn recount(&mut self, s: u32) {
        let (si, m) = (s as usize, &self.pool[s as usize]);
        self.firsts[si] = m.first().map_or(u32::MAX, |f| f as u32);
        self.weights[si] = m.weight() as u32;
    }

    /// A new slot holding `m`.
    fn alloc(&mut self, m: SpanMask) -> u32 {
        let s = match self.free.pop() {
            Some(s) => s,
            None => {
                self.pool.push(Arc::clone(&self.pool[EMPTY as usize]));
                self.users.push(0);
                self.firsts.push(u32::MAX);
                self.weights.push(0);
                (self.pool.len() - 1) as u32
            }
        };
        self.pool[s as usize] = Arc::new(m);
        self.recount(s);
        s
    }

    /// Point `cpu` at slot `s`.
    fn point(&mut self, cpu: usize, s: u32) {
        let old = self.slot[cpu];
        if old == s {
            return;
        }
        if old != EMPTY {
            self.users[old as usize] -= 1;
            if self.users[old as usize] == 0 {
                self.pool[old as usize] = Arc::clone(&self.pool[EMPTY as usize]);
                self.firsts[old as usize] = u32::MAX;
                self.weights[old as usize] = 0;
                self.free.push(old);
            }
        }
        if s != EMPTY {
            self.users[s as usize] += 1;
        }
        self.slot[cpu] = s;
    }

    /// Set (`on`) or clear `bits` in the mask of the `n` CPUs `members` (all in slot `s`): in
    /// its slot when they are its only users, else in a new slot they move to.
    fn modify(
        &mut self,
        s: u32,
        n: usize,
        members: impl Iterator<Item = usize>,
        bits: impl IntoIterator<Item = usize>,
        on: bool,
    ) {
        let si = s as usize;
        if s != EMPTY && self.users[si] as usize == n {
            let m = Arc::make_mut(&mut self.pool[si]);
            for b in bits {
                m.assign(b, on);
            }
            self.recount(s);
        } else {
            let m = self.pool[si].with_bits(bits, on);
            let t = self.alloc(m);
            for c in members {
                self.point(c, t);
            }
        }
    }

    /// Set (`on`) or clear bit `bit` in the masks of `cpus`, once per shared mask.
    fn assign_bit(&mut self, cpus: &[usize], bit: usize, on: bool) {
        let mut change = std::mem::take(&mut self.scratch);
        change.clear();
        change.extend(
            cpus.iter()
                .map(|&c| (self.slot[c], c))
                .filter(|&(s, _)| self.pool[s as usize].test(bit) != on),
        );
        change.sort_by_key(|&(s, _)| s);
        for run in change.chunk_by(|a, b| a.0 == b.0) {
            self.modify(run[0].0, run.len(), run.iter().map(|&(_, c)| c), [bit], on);
        }
        self.scratch = change;
    }

    /// `link_mask(cpu, i)` for every `i` of `others` (without `cpu`) plus `cpu`'s own bit.
    fn link(&mut self, cpu: usize, others: &[usize]) {
        if self.join(cpu, others) {
            return;
        }
        if !others.is_empty() {
            self.assign_bit(others, cpu, true);
        }
        let old_s = self.slot[cpu];
        if let (EMPTY, Some(&o)) = (old_s, others.first()) {
            // Usually the siblings' (just updated) mask is exactly cpu's new one,
            // others + cpu: share it.
            let cs = self.slot[o];
            if self.exactly(cs, cpu, others) {
                self.point(cpu, cs);
                return;
            }
        }
        let old = &self.pool[old_s as usize];
        if old_s != EMPTY && old.test(cpu) && others.iter().all(|&i| old.test(i)) {
            return;
        }
        self.modify(old_s, 1, std::iter::once(cpu), std::iter::once(cpu).chain(others.iter().copied()), true);
    }

    /// [`CpuMasks::link`] of an unlinked `cpu` when `others` are exactly the users and the
    /// bits of one slot (a CPU joining its core / LLC / package at bring-up): set `cpu` in
    /// that mask and share it, without sorting the siblings by slot. Whether it applied.
    fn join(&mut self, cpu: usize, others: &[usize]) -> bool {
        let Some(&o) = others.first() else { return false };
        let s = self.slot[o];
        let si = s as usize;
        let n = others.len();
        if self.slot[cpu] != EMPTY || s == EMPTY || self.users[si] as usize != n || self.weights[si] as usize != n {
            return false;
        }
        let b = &self.pool[si];
        if cpu >= b.nbits() || b.test(cpu) {
            return false;
        }
        for &i in others {
            if self.slot[i] != s || !b.test(i) {
                return false;
            }
        }
        Arc::make_mut(&mut self.pool[si]).assign(cpu, true);
        self.weights[si] += 1;
        self.firsts[si] = self.firsts[si].min(cpu as u32);
        self.point(cpu, s);
        true
    }

    /// Whether slot `s` holds exactly `cpu` and `others` (distinct, without `cpu`).
    fn exactly(&self, s: u32, cpu: usize, others: &[usize]) -> bool {
        let b = &self.pool[s as usize];
        self.weights[s as usize] as usize == others.len() + 1
            && b.test(cpu)
            && others.iter().all(|&i| b.test(i))
    }

    /// Clear `cpu` from the masks of its siblings (the CPUs of its own mask) and empty its own.
    fn unlink(&mut self, cpu: usize) {
        let sibs: Vec<usize> = self.pool[self.slot[cpu] as usize]
            .iter()
            .filter(|&s| s != cpu)
            .collect();
        self.assign_bit(&sibs, cpu, false);
        self.point(cpu, EMPTY);
    }
}

impl std::ops::Index<usize> for CpuMasks {
    type Output = SpanMask;
    fn index(&self, cpu: usize) -> &SpanMask {
        &self.pool[self.slot[cpu] as usize]
    }
}

impl PartialEq for CpuMasks {
    fn eq(&self, o: &Self) -> bool {
        self.len() == o.len()
            && (0..self.len()).all(|c| {
                let (a, b) = (self.shared(c), o.shared(c));
                Arc::ptr_eq(a, b) || a == b
            })
    }
}

impl Eq for CpuMasks {}

impl serde::Serialize for CpuMasks {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter().map(SpanMask::to_bitmap))
    }
}

impl<'de> serde::Deserialize<'de> for CpuMasks {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Vec::<Bitmap>::deserialize(d)?;
        let n = v.len();
        let mut m = CpuMasks::new(n);
        let mut seen: HashMap<Bitmap, u32> = HashMap::new();
        for (c, b) in v.into_iter().enumerate() {
            if b.is_empty() && b.nbits() == n {
                continue;
            }
            let s = match seen.get(&b) {
                Some(&s) => s,
                None => {
                    let s = m.alloc(SpanMask::from_bitmap(&b));
                    seen.insert(b, s);
                    s
                }
            };
            m.point(c, s);
        }
        Ok(m)
    }
}

/// Sibling maps of all CPUs (nr_cpu_ids wide), as sysfs `topology/` and the scheduler see them.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SiblingMaps {
    /// topology_sibling_cpumask (thread_siblings, core_cpus).
    pub smt: CpuMasks,
    /// cpu_l2c_shared_mask (cluster_cpus).
    pub cluster: CpuMasks,
    /// cpu_llc_shared_mask (MC level).
    pub llc: CpuMasks,
    /// topology_die_cpumask (die_cpus).
    pub die: CpuMasks,
    /// topology_core_cpumask (core_siblings, package_cpus).
    pub package: CpuMasks,
    /// x86_has_numa_in_package (sticky, as the kernel's static bool).
    pub numa_in_package: bool,
    /// booted_cores of each CPU.
    pub booted_cores: Vec<u32>,
    /// __max_smt_threads.
    pub max_smt_threads: u32,
    /// cpu_sibling_setup_mask: CPUs linked so far.
    pub setup: Bitmap,
    /// The boot CPU matches `intel_cod_cpu` with SNC (every Intel family 6 model except
    /// Haswell-X / Broadwell-X, so QEMU's Nehalem): a cross-node LLC link is dropped silently.
    pub intel_snc: bool,
    /// topology_sane's WARN_ONCE already fired.
    pub sane_warned: bool,
    /// numa_in_package as `native_smp_cpus_done` saw it: the scheduler topology (DIE level or
    /// not) is chosen once at boot. Set by [`SiblingMaps::smp_cpus_done`].
    pub sched_numa_in_package: bool,
    /// The CPUs of `setup` bucketed by package, LLC id and L2 id (with the ids they were
    /// linked with): the only CPUs `set_cpu_sibling_map` can link, so it needs not walk all.
    #[serde(skip)]
    links: LinkIndex,
}

/// Sorted CPU lists per id value. CPUs come up package by package: the newest list found is
/// remembered, so consecutive CPUs of a package hash nothing.
#[derive(Clone, Debug, Default)]
struct Buckets {
    /// Index in `lists` of each id's list (lists stay, maybe empty, once created).
    at: crate::sched_groups::HashMap<u32, u32>,
    lists: Vec<Vec<u32>>,
    /// (id, index) of the newest list created or updated.
    last: Option<(u32, u32)>,
}

impl Buckets {
    fn find(&self, id: u32) -> Option<usize> {
        match self.last {
            Some((l, i)) if l == id => Some(i as usize),
            _ => self.at.get(&id).map(|&i| i as usize),
        }
    }

    /// The CPUs under `id`.
    fn list(&self, id: u32) -> &[u32] {
        self.find(id).map_or(&[], |i| &self.lists[i])
    }

    /// The list of `id`, created empty if missing.
    fn list_mut(&mut self, id: u32) -> &mut Vec<u32> {
        let i = match self.last {
            Some((l, i)) if l == id => i as usize,
            _ => {
                let new = self.lists.len();
                let i = *self.at.entry(id).or_insert(new as u32) as usize;
                if i == new {
                    // a package / LLC holds a few CPUs: one allocation, not a growth per power of two
                    self.lists.push(Vec::with_capacity(8));
                }
                i
            }
        };
        self.last = Some((id, i as u32));
        &mut self.lists[i]
    }
}

/// Index of linked CPUs by the ids that decide every link (package, llc_id, l2c_id). A cache
/// of `setup` and the CPUs' ids, not saved in snapshots: rebuilt on first use after a load.
#[derive(Clone, Debug, Default)]
struct LinkIndex {
    /// Whether the index holds the CPUs of `setup`.
    built: bool,
    /// (package, llc_id, l2c_id) each indexed CPU was indexed under, by CPU.
    key: Vec<Option<(u32, u32, u32)>>,
    package: Buckets,
    llc: Buckets,
    l2c: Buckets,
    /// Per-call lists of `set_cpu_sibling_map` (kept to reuse their allocations).
    scratch: [Vec<usize>; 8],
}

/// A cache: equal whenever the maps it indexes are.
impl PartialEq for LinkIndex {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for LinkIndex {}

impl LinkIndex {
    /// Index every CPU of `setup` unless already done.
    fn build(&mut self, setup: &Bitmap, ids: &[CpuIds]) {
        if self.built {
            return;
        }
        *self = LinkIndex { built: true, ..LinkIndex::default() };
        for cpu in setup.iter().filter(|&c| c < ids.len()) {
            self.insert(cpu, &ids[cpu]);
        }
    }

    fn insert(&mut self, cpu: usize, ids: &CpuIds) {
        let cpu32 = cpu as u32;
        let k = (ids.package, ids.llc_id, ids.l2c_id);
        if self.key.get(cpu) == Some(&Some(k)) {
            return;
        }
        self.remove(cpu);
        if self.key.len() <= cpu {
            self.key.resize(cpu + 1, None);
        }
        self.key[cpu] = Some(k);
        for (b, v) in [
            (&mut self.package, k.0),
            (&mut self.llc, k.1),
            (&mut self.l2c, k.2),
        ] {
            let l = b.list_mut(v);
            // CPUs come up mostly in ascending order
            if l.last().is_none_or(|&x| x < cpu32) {
                l.push(cpu32);
            } else if let Err(p) = l.binary_search(&cpu32) {
                l.insert(p, cpu32);
            }
        }
    }

    fn remove(&mut self, cpu: usize) {
        let cpu32 = cpu as u32;
        let Some(k) = self.key.get_mut(cpu).and_then(Option::take) else {
            return;
        };
        for (b, v) in [
            (&mut self.package, k.0),
            (&mut self.llc, k.1),
            (&mut self.l2c, k.2),
        ] {
            if let Some(l) = b.find(v).map(|i| &mut b.lists[i]) {
                if let Ok(p) = l.binary_search(&cpu32) {
                    l.remove(p);
                }
            }
        }
    }

    /// The indexed CPUs of `setup` other than `cpu` sharing its package, its LLC id and its
    /// L2 id, ascending: the only CPUs its package / die / SMT, LLC and cluster maps can link.
    fn siblings(&self, cpu: usize, ids: &CpuIds, setup: &Bitmap, [package, llc, l2c]: [&mut Vec<usize>; 3]) {
        let buckets = [(package, &self.package, ids.package), (llc, &self.llc, ids.llc_id), (l2c, &self.l2c, ids.l2c_id)];
        for (v, b, id) in buckets {
            v.clear();
            v.extend(b.list(id).iter().map(|&i| i as usize).filter(|&i| i != cpu && setup.test(i)));
        }
    }
}

impl SiblingMaps {
    /// Empty maps for `nr_cpu_ids` CPUs.
    #[must_use]
    pub fn new(nr_cpu_ids: usize) -> Self {
        SiblingMaps {
            smt: CpuMasks::new(nr_cpu_ids),
            cluster: CpuMasks::new(nr_cpu_ids),
            llc: CpuMasks::new(nr_cpu_ids),
            die: CpuMasks::new(nr_cpu_ids),
            package: CpuMasks::new(nr_cpu_ids),
            numa_in_package: false,
            booted_cores: vec![0; nr_cpu_ids],
            max_smt_threads: 1,
            setup: Bitmap::new(nr_cpu_ids),
            intel_snc: true,
            sane_warned: false,
            sched_numa_in_package: false,
            links: LinkIndex::default(),
        }
    }

    /// `native_smp_cpus_done`: `set_sched_topology(x86_numa_in_package_topology)` when a
    /// package spans nodes at the end of boot. Later hotplug does not change the choice.
    pub fn smp_cpus_done(&mut self) {
        self.sched_numa_in_package = self.numa_in_package;
    }

    /// `topology_sane`'s WARN_ONCE for the first link across nodes (ignored) of a
    /// `set_cpu_sibling_map` call: `first` is that link as (sibling, map rank, map name).
    fn warn_insane(&mut self, c: usize, first: Option<(usize, u8, &str)>, ids: &[CpuIds], dmesg: &mut Vec<String>) {
        let Some((o, _, name)) = first else { return };
        if !self.sane_warned {
            self.sane_warned = true;
            let (nc, no) = (ids[c].node, ids[o].node);
            dmesg.push(format!(
                "sched: CPU #{c}'s {name}-sibling CPU #{o} is not on the same node! [node: {nc} != {no}]. Ignoring dependency."
            ));
        }
    }

    /// `set_cpu_sibling_map(cpu)`: link `cpu` (about to be set online) with every CPU in
    /// `online` (which does not yet contain `cpu`). `ids[c]` are the ids of logical CPU c.
    /// Appends the kernel's warnings (topology_sane) to `dmesg`.
    pub fn set_cpu_sibling_map(
        &mut self,
        cpu: usize,
        ids: &[CpuIds],
        online: &Bitmap,
        dmesg: &mut Vec<String>,
    ) {
        let n = self.smt.len();
        if cpu >= n || cpu >= ids.len() {
            return;
        }
        // The kernel walks cpu_sibling_setup_mask, which holds exactly the linked CPUs; only
        // those sharing the package, LLC or L2 id can be linked, so walk just those (the index
        // holds each linked CPU under the ids it had then: a linked CPU's ids do not change).
        self.links.build(&self.setup, ids);
        // Online CPUs not linked yet (none on the usual paths: one vectorizable pass to know).
        let n = online.words().len().min(self.setup.words().len());
        let (on, set) = (&online.words()[..n], &self.setup.words()[..n]);
        let unlinked = (0..n).fold(0, |acc, i| acc | (on[i] & !set[i]));
        if unlinked != 0 {
            for wi in 0..self.setup.words().len().min(online.words().len()) {
                let mut new = online.words()[wi] & !self.setup.words()[wi];
                while new != 0 {
                    let i = wi * 64 + new.trailing_zeros() as usize;
                    new &= new - 1;
                    self.setup.set(i);
                    if i < ids.len() {
                        self.links.insert(i, &ids[i]);
                    }
                }
            }
        }
        self.setup.set(cpu);
        self.links.insert(cpu, &ids[cpu]);
        let [mut same_pkg, mut same_llc, mut same_l2c, mut smt, mut llc, mut cluster, mut die, mut package] =
            std::mem::take(&mut self.links.scratch);
        for v in [&mut smt, &mut llc, &mut cluster, &mut die, &mut package] {
            v.clear();
        }
        let c = ids[cpu];
        if c.fake_socket {
            // links only with itself
            for v in [&mut same_pkg, &mut same_llc, &mut same_l2c] {
                v.clear();
            }
        } else {
            self.links.siblings(cpu, &c, &self.setup, [&mut same_pkg, &mut same_llc, &mut same_l2c]);
        }
        // The kernel walks the setup CPUs once, linking pair by pair (match_smt, match_llc,
        // match_l2c, match_die); the same links are collected per map and applied at once
        // (the result does not depend on the order). topology_sane warns for the first
        // cross-node pair in the kernel's order: lowest CPU, then smt < llc < l2c.
        let mut insane: Option<(usize, u8, &str)> = None;
        let mut sane = |i: usize, rank: u8, name: &'static str| {
            let ok = ids[i].node == c.node;
            if !ok && insane.is_none_or(|(j, r, _)| (i, rank) < (j, r)) {
                insane = Some((i, rank, name));
            }
            ok
        };
        for &i in &same_pkg {
            let o = ids[i];
            if o.fake_socket || o.package != c.package {
                continue;
            }
            if c.node != o.node {
                self.numa_in_package = true;
            }
            if c.die == o.die {
                if c.core == o.core && sane(i, 0, "smt") {
                    smt.push(i);
                }
                die.push(i);
            }
            package.push(i);
        }
        for &i in &same_llc {
            let o = ids[i];
            if o.fake_socket || o.llc_id != c.llc_id {
                continue;
            }
            let snc_drop = c.package == o.package && c.node != o.node && self.intel_snc;
            if !snc_drop && sane(i, 1, "llc") {
                llc.push(i);
            }
        }
        for &i in &same_l2c {
            let o = ids[i];
            if !o.fake_socket && o.l2c_id == c.l2c_id && sane(i, 2, "l2c") {
                cluster.push(i);
            }
        }
        self.warn_insane(cpu, insane, ids, dmesg);
        self.smt.link(cpu, &smt);
        self.llc.link(cpu, &llc);
        self.cluster.link(cpu, &cluster);
        self.die.link(cpu, &die);
        let threads = self.smt.weight(cpu) as u32;
        self.max_smt_threads = self.max_smt_threads.max(threads);
        // Second pass: booted_cores needs all SMT links in place.
        if threads == 1 {
            for &i in package.iter().chain([&cpu]) {
                if self.smt.first(i) == Some(i) {
                    self.booted_cores[cpu] += 1;
                }
                if i != cpu {
                    self.booted_cores[i] += 1;
                }
            }
        } else if let Some(&i) = package.iter().find(|&&i| self.booted_cores[i] != 0) {
            if self.booted_cores[cpu] == 0 {
                self.booted_cores[cpu] = self.booted_cores[i];
            }
        }
        self.package.link(cpu, &package);
        self.links.scratch = [same_pkg, same_llc, same_l2c, smt, llc, cluster, die, package];
    }

    /// `remove_siblinginfo(cpu)`: unlink an offlined CPU from every map.
    pub fn remove_siblinginfo(&mut self, cpu: usize) {
        if cpu >= self.smt.len() {
            return;
        }
        let last_thread = self.smt.weight(cpu) == 1;
        if last_thread {
            for s in self.package[cpu].iter() {
                self.booted_cores[s] = self.booted_cores[s].saturating_sub(1);
            }
        }
        for m in [
            &mut self.die,
            &mut self.smt,
            &mut self.llc,
            &mut self.cluster,
            &mut self.package,
        ] {
            m.unlink(cpu);
        }
        self.booted_cores[cpu] = 0;
        self.setup.clear(cpu);
        self.links.remove(cpu);
    }
}

/// Logical package / die numbering (`topology_update_package_map`, `topology_update_die_map`):
/// keeps the first-seen order across the machine's life and prints
/// `smpboot: CPU %u Converting physical %u to logical package|die %u`.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LogicalMaps {
    /// Physical package id of each logical package.
    pub packages: Vec<u32>,
    /// (physical package, physical die) of each logical die (logical dies are global).
    pub dies: Vec<(u32, u32)>,
}

impl LogicalMaps {
    /// Called when `cpu` is identified (boot CPU, each AP bring-up, hot-added CPU bring-up).
    pub fn update(&mut self, cpu: usize, ids: &CpuIds, dmesg: &mut Vec<String>) {
        // CPUs come mostly package by package: the last entry usually matches.
        let new_package = self.packages.last() != Some(&ids.package) && !self.packages.contains(&ids.package);
        if new_package {
            let new = self.packages.len();
            self.packages.push(ids.package);
            if new != ids.package as usize {
                dmesg.push(Self::converting(cpu, ids.package, "package", new));
            }
        }
        // topology_phys_to_logical_die matches on (die id, package id) of initialized CPUs:
        // a new package has only new dies.
        let die = (ids.package, ids.die);
        if new_package || (self.dies.last() != Some(&die) && !self.dies.contains(&die)) {
            let new = self.dies.len();
            self.dies.push(die);
            if new != ids.die as usize {
                dmesg.push(Self::converting(cpu, ids.die, "die", new));
            }
        }
    }

    /// `smpboot: CPU %u Converting physical %u to logical package|die %u` (once per package on
    /// multi-package machines: no `format!`).
    fn converting(cpu: usize, physical: u32, what: &str, logical: usize) -> String {
        LineBuilder::new("smpboot: CPU ")
            .dec(cpu as u64)
            .str(" Converting physical ")
            .dec(physical)
            .str(" to logical ")
            .str(what)
            .str(" ")
            .dec(logical as u64)
            .done()
    }

    /// Logical package id of a physical package (topology_phys_to_logical_pkg).
    #[must_use]
    pub fn logical_package(&self, package: u32) -> Option<usize> {
        self.packages.iter().position(|&p| p == package)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(node: [u32; 4]) -> Vec<CpuIds> {
        (0..4u32)
            .map(|c| {
                let (llc_id, l2c_id) = CpuIds::qemu_cache_ids(c, 2, 2);
                CpuIds {
                    apic_id: c,
                    core: c / 2,
                    thread: c % 2,
                    llc_id,
                    l2c_id,
                    node: node[c as usize],
                    ..Default::default()
                }
            })
            .collect()
    }

    #[test]
    fn cross_node_links_and_warning_once() {
        // Threads of core 0 split over nodes: smt and l2c links dropped, one warning.
        let ids = ids([0, 1, 1, 1]);
        let mut m = SiblingMaps::new(4);
        let (mut online, mut dmesg) = (Bitmap::new(4), Vec::new());
        for c in 0..4 {
            m.set_cpu_sibling_map(c, &ids, &online, &mut dmesg);
            online.set(c);
        }
        assert_eq!(
            dmesg,
            ["sched: CPU #1's smt-sibling CPU #0 is not on the same node! [node: 1 != 0]. Ignoring dependency."]
        );
        assert_eq!(m.smt[1].format_list(), "1");
        assert_eq!(
            m.llc[1].format_list(),
            "1-3",
            "SNC: cross-node LLC dropped silently"
        );
        assert_eq!(m.package[0].format_list(), "0-3");
        assert!(m.numa_in_package);
        m.remove_siblinginfo(2);
        assert_eq!(
            (m.smt[3].format_list(), m.package[0].format_list()),
            ("3".into(), "0-1,3".into())
        );
    }

    #[test]
    fn logical_die_conversion_printed_once() {
        let mut l = LogicalMaps::default();
        let mut dmesg = Vec::new();
        for (cpu, package) in [(0, 0), (1, 1), (2, 1)] {
            l.update(
                cpu,
                &CpuIds {
                    package,
                    ..Default::default()
                },
                &mut dmesg,
            );
        }
        assert_eq!(
            dmesg,
            ["smpboot: CPU 1 Converting physical 0 to logical die 1"]
        );
    }
}
