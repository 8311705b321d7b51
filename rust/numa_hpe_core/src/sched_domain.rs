//! Scheduler domains as Linux 6.1 builds them (kernel/sched/topology.c `build_sched_domains`,
//! `sched_init_numa`, `sd_init`, `topology_span_sane`, degeneration in `cpu_attach_domain`;
//! groups in `sched_groups.rs`) and shows them (`sched_debug.rs`: `sched_verbose` dmesg,
//! debugfs `sched/domains/cpuN/domainM/*`). After one CPU's online / offline the last
//! build's intermediate results (`LastBuild`) are updated instead (`sched_update.rs`).
//!
//! The levels are x86's (arch/x86/kernel/smpboot.c): SMT, CLS, MC, then DIE unless the boot
//! found a package spanning nodes, then NODE and one NUMA level per further distance.
//! Deviations: capacities are 1024 per CPU (no RT/IRQ pressure); a failed
//! `topology_span_sane` yields no domains and no WARN text; an invalid distance table
//! silently drops the NUMA levels (the kernel also prints the table once); domains and
//! spans are shared (`Arc`) between CPUs, which is why `per_cpu` holds `Arc<SchedDomain>`
//! and spans are `Arc<SpanMask>` (their non-zero words only).

use std::hash::BuildHasherDefault;
use std::sync::Arc;

use crate::bitmap::{Bitmap, SpanMask};
use crate::cpu_topology::{CpuMasks, SiblingMaps};
use crate::node::{DistanceTable, REMOTE_DISTANCE};
use crate::sched_update::update_after_cpu_change;
use crate::sched_groups::{Chains, GroupBuilder, GroupRef, HashMap, PlainLevel, Spans, Walks, NONE};

pub use crate::sched_debug::{rebuild_lines, DEBUGFS_ATTRS};

/// SD flag bits (include/linux/sched/sd_flags.h, 6.1 order).
pub const SD_BALANCE_NEWIDLE: u32 = 1 << 0;
pub const SD_BALANCE_EXEC: u32 = 1 << 1;
pub const SD_BALANCE_FORK: u32 = 1 << 2;
pub const SD_BALANCE_WAKE: u32 = 1 << 3;
pub const SD_WAKE_AFFINE: u32 = 1 << 4;
pub const SD_ASYM_CPUCAPACITY: u32 = 1 << 5;
pub const SD_ASYM_CPUCAPACITY_FULL: u32 = 1 << 6;
pub const SD_SHARE_CPUCAPACITY: u32 = 1 << 7;
pub const SD_SHARE_PKG_RESOURCES: u32 = 1 << 8;
pub const SD_SERIALIZE: u32 = 1 << 9;
pub const SD_ASYM_PACKING: u32 = 1 << 10;
pub const SD_PREFER_SIBLING: u32 = 1 << 11;
pub const SD_OVERLAP: u32 = 1 << 12;
pub const SD_NUMA: u32 = 1 << 13;
/// Flag names in bit order, as debugfs `flags` prints them.
pub const SD_FLAG_NAMES: [&str; 14] = [
    "SD_BALANCE_NEWIDLE",
    "SD_BALANCE_EXEC",
    "SD_BALANCE_FORK",
    "SD_BALANCE_WAKE",
    "SD_WAKE_AFFINE",
    "SD_ASYM_CPUCAPACITY",
    "SD_ASYM_CPUCAPACITY_FULL",
    "SD_SHARE_CPUCAPACITY",
    "SD_SHARE_PKG_RESOURCES",
    "SD_SERIALIZE",
    "SD_ASYM_PACKING",
    "SD_PREFER_SIBLING",
    "SD_OVERLAP",
    "SD_NUMA",
];
/// SDF_NEEDS_GROUPS flags: all but SD_WAKE_AFFINE.
const SD_DEGENERATE_GROUPS_MASK: u32 = ((1 << 14) - 1) & !SD_WAKE_AFFINE;
/// node_reclaim_distance (RECLAIM_DISTANCE).
const RECLAIM_DISTANCE: u32 = 30;
/// SCHED_CAPACITY_SCALE.
pub const SCHED_CAPACITY_SCALE: u64 = 1024;

/// What the scheduler reads from the machine.
pub struct SchedInput<'a> {
    pub nr_cpu_ids: usize,
    /// cpu_active_mask (= online CPUs in the emulator).
    pub active: &'a Bitmap,
    /// Sibling maps; their `sched_numa_in_package` picks the level list.
    pub siblings: &'a SiblingMaps,
    /// cpu_to_node of every possible CPU.
    pub cpu_node: &'a [u32],
    /// N_CPU: nodes with online CPUs (sched_init_numa's node set).
    pub cpu_nodes: &'a Bitmap,
    /// node_distance(a, b).
    pub distance: &'a dyn NodeDistance,
}

/// `node_distance()` as sched_init_numa reads it: any `Fn(usize, usize) -> u32` (tests hand
/// in tables the kernel's `numa_distance[]` cannot hold), or the machine's [`DistanceTable`],
/// which gives whole rows without a call per entry.
pub trait NodeDistance {
    fn distance(&self, a: usize, b: usize) -> u32;

    /// The distances from `a` to each node of `to`, into `out` (same length); false when one
    /// is outside 10..=255, which sched_init_numa cannot use.
    fn row(&self, a: usize, to: &[usize], out: &mut [u8]) -> bool {
        let mut valid = true;
        for (&b, o) in to.iter().zip(out.iter_mut()) {
            let d = self.distance(a, b);
            valid &= d.wrapping_sub(10) < 246;
            *o = d as u8;
        }
        valid
    }
}

impl<F: Fn(usize, usize) -> u32> NodeDistance for F {
    fn distance(&self, a: usize, b: usize) -> u32 {
        self(a, b)
    }
}

impl NodeDistance for DistanceTable {
    fn distance(&self, a: usize, b: usize) -> u32 {
        self.get(a, b)
    }

    fn row(&self, a: usize, to: &[usize], out: &mut [u8]) -> bool {
        let Some(row) = DistanceTable::row(self, a) else {
            // Outside the table: 10 local, 20 remote, all valid.
            for (&b, o) in to.iter().zip(out.iter_mut()) {
                *o = self.get(a, b) as u8;
            }
            return true;
        };
        // `to` ascends (a node mask): consecutive ids inside the table are one slice copy.
        match (to.first(), to.last()) {
            (Some(&lo), Some(&hi)) if hi - lo + 1 == to.len() && hi < row.len() => {
                out.copy_from_slice(&row[lo..=hi]);
            }
            _ => {
                for (&b, o) in to.iter().zip(out.iter_mut()) {
                    *o = row.get(b).copied().unwrap_or(REMOTE_DISTANCE as u8);
                }
            }
        }
        out.iter().fold(u8::MAX, |m, &d| m.min(d)) >= 10
    }
}

/// One domain level of one CPU after degeneration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SchedDomain {
    /// `SMT`, `CLS`, `MC`, `DIE`, `NODE`, `NUMA`.
    pub name: &'static str,
    pub span: Arc<SpanMask>,
    pub flags: u32,
    pub min_interval: u32,
    pub max_interval: u32,
    pub busy_factor: u32,
    pub imbalance_pct: u32,
    pub cache_nice_tries: u32,
    /// Groups in the order the kernel links them (the CPU's own group first).
    pub groups: Groups,
}

/// The group list of a domain: a rotation of a cycle shared by every domain of the same
/// span at the same level (the kernel's circular `sched_group` list seen from one CPU).
#[derive(Clone, Debug)]
pub struct Groups {
    cycle: Arc<[SchedGroup]>,
    start: usize,
}

impl Groups {
    /// `cycle` seen from its element `start`.
    #[must_use]
    pub fn new(cycle: Arc<[SchedGroup]>, start: usize) -> Self {
        let start = if cycle.is_empty() { 0 } else { start % cycle.len() };
        Groups { cycle, start }
    }

    #[must_use]
    pub fn len(&self) -> usize {
        self.cycle.len()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.cycle.is_empty()
    }

    /// The groups, own group first.
    pub fn iter(&self) -> std::iter::Chain<std::slice::Iter<'_, SchedGroup>, std::slice::Iter<'_, SchedGroup>> {
        let (a, b) = self.cycle.split_at(self.start);
        b.iter().chain(a)
    }
}

impl From<Vec<SchedGroup>> for Groups {
    fn from(v: Vec<SchedGroup>) -> Self {
        Groups::new(v.into(), 0)
    }
}

impl std::ops::Index<usize> for Groups {
    type Output = SchedGroup;
    fn index(&self, i: usize) -> &SchedGroup {
        assert!(i < self.len(), "group {i} of {}", self.len());
        &self.cycle[(self.start + i) % self.cycle.len()]
    }
}

impl<'a> IntoIterator for &'a Groups {
    type Item = &'a SchedGroup;
    type IntoIter = std::iter::Chain<std::slice::Iter<'a, SchedGroup>, std::slice::Iter<'a, SchedGroup>>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl PartialEq for Groups {
    fn eq(&self, o: &Self) -> bool {
        (Arc::ptr_eq(&self.cycle, &o.cycle) && self.start == o.start)
            || (self.len() == o.len() && self.iter().eq(o.iter()))
    }
}

impl Eq for Groups {}

/// One sched group of a domain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SchedGroup {
    pub span: Arc<SpanMask>,
    /// Balance mask (overlapping NUMA groups; equals span otherwise).
    pub mask: Arc<SpanMask>,
    pub capacity: u64,
}

impl SchedGroup {
    /// The printed id (`sgc->id`): first CPU of the balance mask.
    #[must_use]
    pub fn id(&self) -> usize {
        self.mask.first().unwrap_or(0)
    }
}

/// The attached hierarchy of every active CPU (empty for a CPU with a NULL domain).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SchedDomains {
    /// The span table of the build, kept for [`SchedDomains::rebuild`] (not part of the value:
    /// ignored by `==`, dropped by `clone`).
    cache: BuildCache,
    pub per_cpu: Vec<Vec<Arc<SchedDomain>>>,
    /// The root domain span (cpu_map of the build).
    pub span: Bitmap,
    /// `BUG: arch topology borken` lines printed while building (always, not only verbose).
    pub warnings: Vec<String>,
    /// `topology_span_sane` failed: nothing was attached.
    pub failed: bool,
}

/// What a build leaves for the next one: its span table, and when the build was clean its
/// intermediate results, from which [`SchedDomains::rebuild_after_cpu_change`] updates.
#[derive(Default)]
struct BuildCache {
    spans: Option<Box<Spans>>,
    last: Option<Box<LastBuild>>,
}

impl Clone for BuildCache {
    fn clone(&self) -> Self {
        BuildCache::default()
    }
}

impl PartialEq for BuildCache {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for BuildCache {}

impl std::fmt::Debug for BuildCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BuildCache")
    }
}

impl SchedDomains {
    /// Replace these domains by the ones [`build_sched_domains`] builds from `input` (the
    /// result is equal to a full build), reusing the previous build's span table and per-CPU
    /// vectors: no cpumask is allocated again unless it is new.
    pub fn rebuild(&mut self, input: &SchedInput<'_>) {
        self.rebuild_with(input, false);
    }

    /// [`SchedDomains::rebuild`] after one CPU came online or went offline (its sibling maps
    /// updated) and nothing else changed since these domains were built: the node distances
    /// are not read again. The result is equal to a full build.
    ///
    /// True when the domains were updated from the last build (`sched_update.rs`), false
    /// when they were built again.
    pub fn rebuild_after_cpu_change(&mut self, input: &SchedInput<'_>) -> bool {
        if let BuildCache { spans: Some(spans), last: Some(last) } = &mut self.cache {
            if update_after_cpu_change(last, spans, &mut self.per_cpu, &mut self.span, input) {
                return true;
            }
        }
        self.rebuild_with(input, true);
        false
    }

    fn rebuild_with(&mut self, input: &SchedInput<'_>, trust_distances: bool) {
        let n = input.nr_cpu_ids;
        let spans = match self.cache.spans.take() {
            // Spans never go away from a kept table: start afresh when it has grown a lot.
            Some(s) if s.nbits == n && s.len() < 4 * n + 4096 => s,
            _ => Box::new(Spans::new(n)),
        };
        let mut per_cpu = std::mem::take(&mut self.per_cpu);
        per_cpu.resize_with(n, Vec::new);
        per_cpu.truncate(n);
        // The last build's raw-chain table is reused (a fresh one is page faults).
        let kept = self.cache.last.take().map(|l| l.kept.raw).unwrap_or_default();
        *self = build(input, spans, per_cpu, kept, trust_distances);
    }
}

/// One topology level (struct sched_domain_topology_level).
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Level {
    pub name: &'static str,
    tl_flags: u32,
    pub overlap: bool,
    numa_distance: u32,
}

/// The distance matrix over `nodes`, or None when one is invalid.
fn numa_distances(nodes: &[usize], dist: &dyn NodeDistance) -> Option<Vec<u8>> {
    let n = nodes.len();
    let mut matrix = vec![0u8; n * n];
    for (&na, row) in nodes.iter().zip(matrix.chunks_exact_mut(n.max(1))) {
        if !dist.row(na, nodes, row) {
            return None;
        }
    }
    Some(matrix)
}

/// sched_init_numa's sorted distinct distances of a matrix (sched_domains_numa_distance).
fn distinct_distances(matrix: &[u8]) -> Vec<u32> {
    let mut seen = [false; 256];
    for &d in matrix {
        seen[usize::from(d)] = true;
    }
    (0..256u32).filter(|&d| seen[d as usize]).collect()
}

/// sched_domains_numa_masks as node sets: per distance level, the distinct sets of nodes
/// within that distance of a node (`(members, nodes having that set)`), for `nodes` and
/// their distance `matrix`.
pub(crate) struct NumaSets {
    nodes: Vec<usize>,
    matrix: Vec<u8>,
    /// sched_domains_numa_distance.
    dists: Vec<u32>,
    per_level: Vec<Vec<(Vec<usize>, Vec<usize>)>>,
}

impl NumaSets {
    fn new(nodes: Vec<usize>, matrix: Vec<u8>) -> Self {
        let dists = distinct_distances(&matrix);
        let nn = nodes.len();
        let per_level = dists
            .iter()
            .map(|&d| {
                let mut by_set: HashMap<Vec<u64>, usize> = HashMap::default();
                let mut groups: Vec<(Vec<usize>, Vec<usize>)> = Vec::new();
                for (a, row) in matrix.chunks_exact(nn.max(1)).enumerate().take(nn) {
                    // 64 comparisons per word, branch-free (this runs n^2 times per level).
                    let set: Vec<u64> = row
                        .chunks(64)
                        .map(|ch| {
                            ch.iter()
                                .enumerate()
                                .fold(0u64, |w, (k, &x)| w | u64::from(u32::from(x) <= d) << k)
                        })
                        .collect();
                    let gi = *by_set.entry(set).or_insert_with_key(|set| {
                        let members = Bitmap::from_words(nn, set.clone())
                            .iter()
                            .map(|b| nodes[b])
                            .collect();
                        groups.push((members, Vec::new()));
                        groups.len() - 1
                    });
                    groups[gi].1.push(nodes[a]);
                }
                groups
            })
            .collect();
        NumaSets {
            nodes,
            matrix,
            dists,
            per_level,
        }
    }
}

/// sd_init's parameters for a level: (flags, imbalance_pct, cache_nice_tries).
fn sd_params(l: &Level) -> (u32, u32, u32) {
    let mut flags = SD_BALANCE_NEWIDLE
        | SD_BALANCE_EXEC
        | SD_BALANCE_FORK
        | SD_WAKE_AFFINE
        | SD_PREFER_SIBLING
        | l.tl_flags;
    let (mut imb, mut nice) = (117, 0);
    if flags & SD_SHARE_CPUCAPACITY != 0 {
        imb = 110;
    } else if flags & SD_SHARE_PKG_RESOURCES != 0 {
        nice = 1;
    } else if flags & SD_NUMA != 0 {
        nice = 2;
        flags &= !SD_PREFER_SIBLING;
        flags |= SD_SERIALIZE;
        if l.numa_distance > RECLAIM_DISTANCE {
            flags &= !(SD_BALANCE_EXEC | SD_BALANCE_FORK | SD_WAKE_AFFINE);
        }
    } else {
        nice = 1;
    }
    if l.overlap {
        flags |= SD_OVERLAP;
    }
    (flags, imb, nice)
}

/// A raw domain during degeneration.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Raw {
    level: u32,
    span: u32,
    flags: u32,
    ngroups: u32,
    weight: u32,
    groups: Variant,
    /// Weight of the level's topology mask (the balance intervals).
    mask_w: u32,
}

/// Which group list a domain has: a rotation of a shared cycle, or an overlap walk.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Variant {
    /// Cycle of the level and position of the own group in it.
    Plain(u32, u32),
    Overlap(u32),
}

fn sd_degenerate(d: &Raw) -> bool {
    if d.weight == 1 {
        return true;
    }
    if d.flags & SD_DEGENERATE_GROUPS_MASK != 0 && d.ngroups >= 2 {
        return false;
    }
    d.flags & SD_WAKE_AFFINE == 0
}

fn sd_parent_degenerate(c: &Raw, p: &Raw) -> bool {
    if sd_degenerate(p) {
        return true;
    }
    if c.span != p.span {
        return false;
    }
    let mut pflags = p.flags;
    if p.ngroups == 1 {
        pflags &= !SD_DEGENERATE_GROUPS_MASK;
    }
    !c.flags & pflags == 0
}

/// The span id of `cpu`'s sibling mask in `maps` ({cpu} when it has none holding itself).
pub(crate) fn sibling_mask_id(spans: &mut Spans, maps: &CpuMasks, cpu: usize, n: usize) -> u32 {
    match full_width_words(maps, cpu, n) {
        Some((lo, w)) if holds(lo, w, cpu) => spans.intern_range(lo, w),
        _ => spans.singleton(cpu),
    }
}

/// The non-zero words of `cpu`'s mask in `maps` (and the first's index) when it is a
/// full-width mask.
fn full_width_words(maps: &CpuMasks, cpu: usize, n: usize) -> Option<(usize, &[u64])> {
    let m = (cpu < maps.len()).then(|| maps.shared(cpu).as_ref())?;
    (m.nbits() == n).then(|| (m.word_range().0, m.words()))
}

/// Bit `cpu` is set in the words `w` starting at word `lo`.
fn holds(lo: usize, w: &[u64], cpu: usize) -> bool {
    (cpu / 64).checked_sub(lo).and_then(|k| w.get(k)).is_some_and(|x| x >> (cpu % 64) & 1 != 0)
}

/// Per-level topology masks of every CPU in the map: `mask_id[level][cpu]` (NONE elsewhere),
/// and whether the NUMA levels came from the CPU nodes' distances as usual.
fn level_masks(
    input: &SchedInput<'_>,
    spans: &mut Spans,
    cpus: &[usize],
    trust_distances: bool,
) -> (Vec<Level>, Vec<Vec<u32>>, bool) {
    let n = input.nr_cpu_ids;
    let sib = input.siblings;
    let node_of = |c: usize| input.cpu_node.get(c).copied().unwrap_or(0) as usize;
    // Per node id: its active CPUs (dense: node ids are small).
    let nr_nodes = cpus.iter().map(|&c| node_of(c) + 1).max().unwrap_or(0);
    let mut node_cpus: Vec<Option<Bitmap>> = vec![None; nr_nodes];
    for &c in cpus {
        node_cpus[node_of(c)].get_or_insert_with(|| Bitmap::new(n)).set(c);
    }
    let mut levels = Vec::new();
    let mut ids = Vec::new();
    // Consecutive CPUs mostly share their sibling mask (one allocation): each run of them
    // reads and interns it once.
    let sibling_level = |spans: &mut Spans, maps: &CpuMasks| -> Vec<u32> {
        let mut v = vec![NONE; n];
        let mut last: (*const SpanMask, Option<(usize, &[u64])>, u32) = (std::ptr::null(), None, NONE);
        for &c in cpus {
            let p = if c < maps.len() { Arc::as_ptr(maps.shared(c)) } else { std::ptr::null() };
            if p != last.0 || p.is_null() {
                let words = full_width_words(maps, c, n);
                last = (p, words, words.map_or(NONE, |(lo, w)| spans.intern_range(lo, w)));
            }
            v[c] = match last.1 {
                Some((lo, w)) if holds(lo, w, c) => last.2,
                _ => spans.singleton(c),
            };
        }
        v
    };
    let plain = |name, tl_flags| Level {
        name,
        tl_flags,
        overlap: false,
        numa_distance: 0,
    };
    levels.push(plain("SMT", SD_SHARE_CPUCAPACITY | SD_SHARE_PKG_RESOURCES));
    ids.push(sibling_level(spans, &sib.smt));
    levels.push(plain("CLS", SD_SHARE_PKG_RESOURCES));
    ids.push(sibling_level(spans, &sib.cluster));
    levels.push(plain("MC", SD_SHARE_PKG_RESOURCES));
    ids.push(sibling_level(spans, &sib.llc));
    // Span id of each node's active CPUs (NONE for a node without any).
    let node_ids: Vec<u32> = node_cpus
        .into_iter()
        .map(|m| m.map_or(NONE, |m| spans.intern(&m)))
        .collect();
    let node_id = |nd: usize| node_ids.get(nd).copied().unwrap_or(NONE);
    if !sib.sched_numa_in_package {
        levels.push(plain("DIE", 0));
        let mut v = vec![NONE; n];
        for &c in cpus {
            v[c] = node_ids[node_of(c)];
        }
        ids.push(v);
    }
    let nodes: Vec<usize> = input.cpu_nodes.iter().collect();
    let all_known =
        (0..nr_nodes).all(|nd| node_ids[nd] == NONE || nodes.binary_search(&nd).is_ok());
    let kept = spans.numa.take().filter(|c| c.nodes == nodes);
    let empty = spans.intern(&Bitmap::new(n));
    let numa = match kept {
        // Only one CPU's active state changed since the build that made these sets: the
        // distances are still those (no n^2 distance reads).
        Some(c) if trust_distances && all_known => c,
        kept => {
            let Some(matrix) = numa_distances(&nodes, input.distance) else {
                return (levels, ids, false);
            };
            if !all_known {
                numa_levels_by_node(input, spans, &nodes, &distinct_distances(&matrix), &matrix, &node_ids, cpus, empty, &mut levels, &mut ids);
                return (levels, ids, false);
            }
            // The node sets of the last build (of any machine): reused when the CPU nodes and
            // their distances are the same.
            static LAST: std::sync::Mutex<Option<Arc<NumaSets>>> = std::sync::Mutex::new(None);
            let same = |c: &NumaSets| c.nodes == nodes && c.matrix == matrix;
            match kept.filter(|c| same(c)) {
                Some(c) => c,
                None => {
                    let mut last = LAST.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                    match last.as_ref().filter(|c| same(c)) {
                        Some(c) => Arc::clone(c),
                        None => {
                            let c = Arc::new(NumaSets::new(nodes, matrix));
                            *last = Some(Arc::clone(&c));
                            c
                        }
                    }
                }
            }
        }
    };
    {
        let dists = &numa.dists;
        for (j, &d) in dists.iter().enumerate() {
            levels.push(Level {
                name: if j == 0 { "NODE" } else { "NUMA" },
                tl_flags: if j == 0 { 0 } else { SD_NUMA },
                overlap: j > 0,
                numa_distance: d,
            });
            // Only nodes with active CPUs are looked up: holders beyond them are left out.
            let mut per_node = vec![empty; nr_nodes];
            for (members, holders) in &numa.per_level[j] {
                if !holders.iter().any(|&h| node_id(h) != NONE) {
                    continue;
                }
                let mut m = Bitmap::new(n);
                for &nb in members {
                    let s = node_id(nb);
                    if s != NONE {
                        spans.get(s).or_into(&mut m);
                    }
                }
                let id = spans.intern(&m);
                for &h in holders {
                    if let Some(p) = per_node.get_mut(h) {
                        *p = id;
                    }
                }
            }
            let mut v = vec![NONE; n];
            for &c in cpus {
                v[c] = per_node[node_of(c)];
            }
            ids.push(v);
        }
        spans.numa = Some(numa);
    }
    (levels, ids, true)
}

/// sched_domains_numa_masks when some active CPU's node is not among the CPU nodes (odd
/// input): per level, the masks deduplicated by the set of CPU nodes they cover.
#[allow(clippy::too_many_arguments)]
fn numa_levels_by_node(
    input: &SchedInput<'_>,
    spans: &mut Spans,
    nodes: &[usize],
    dists: &[u32],
    matrix: &[u8],
    node_ids: &[u32],
    cpus: &[usize],
    empty: u32,
    levels: &mut Vec<Level>,
    ids: &mut Vec<Vec<u32>>,
) {
    let n = input.nr_cpu_ids;
    let nn = nodes.len();
    let node_pos: HashMap<usize, usize> =
        nodes.iter().enumerate().map(|(a, &nd)| (nd, a)).collect();
    let node_of = |c: usize| input.cpu_node.get(c).copied().unwrap_or(0) as usize;
    for (j, &d) in dists.iter().enumerate() {
        let name = if j == 0 { "NODE" } else { "NUMA" };
        let tl_flags = if j == 0 { 0 } else { SD_NUMA };
        levels.push(Level {
            name,
            tl_flags,
            overlap: j > 0,
            numa_distance: d,
        });
        // sched_domains_numa_masks[j][node], deduplicated by the set of nodes it covers.
        let mut by_set: HashMap<Vec<u64>, u32> = HashMap::default();
        let mut per_node = vec![empty; node_ids.len()];
        for nd in (0..node_ids.len()).filter(|&nd| node_ids[nd] != NONE) {
            let mut set = vec![0u64; nn.div_ceil(64)];
            match node_pos.get(&nd).copied() {
                Some(a) => {
                    for b in 0..nn {
                        if u32::from(matrix[a * nn + b]) <= d {
                            set[b / 64] |= 1 << (b % 64);
                        }
                    }
                }
                None => {
                    for (b, &nb) in nodes.iter().enumerate() {
                        if input.distance.distance(nd, nb) <= d {
                            set[b / 64] |= 1 << (b % 64);
                        }
                    }
                }
            }
            let id = *by_set.entry(set).or_insert_with_key(|set| {
                let mut m = Bitmap::new(n);
                for (b, &nb) in nodes.iter().enumerate() {
                    if set[b / 64] >> (b % 64) & 1 != 0 {
                        if let Some(&s) = node_ids.get(nb).filter(|&&s| s != NONE) {
                            spans.get(s).or_into(&mut m);
                        }
                    }
                }
                spans.intern(&m)
            });
            per_node[nd] = id;
        }
        let mut v = vec![NONE; n];
        for &c in cpus {
            v[c] = per_node[node_of(c)];
        }
        ids.push(v);
    }
}

/// `topology_span_sane` per non-overlap level: the masks that partially overlap another.
fn insane_masks(spans: &Spans, masks: &[u32], cpus: &[usize], n: usize) -> Vec<u32> {
    let mut distinct: Vec<u32> = cpus.iter().map(|&c| masks[c]).collect();
    distinct.sort_unstable();
    distinct.dedup();
    let mut count = vec![0u16; n];
    for &m in &distinct {
        for c in spans.iter(m) {
            count[c] = count[c].saturating_add(1);
        }
    }
    distinct
        .into_iter()
        .filter(|&m| spans.iter(m).any(|c| count[c] > 1))
        .collect()
}

/// Build the domains of all active CPUs.
#[must_use]
pub fn build_sched_domains(input: &SchedInput<'_>) -> SchedDomains {
    let n = input.nr_cpu_ids;
    build(input, Box::new(Spans::new(n)), vec![Vec::new(); n], Vec::new(), false)
}

/// The build, on a span table (empty or kept), per-CPU vectors to fill (any content) and a
/// buffer for the raw chains;
/// `trust_distances`: the node distances are those of the build that kept the span table.
fn build(
    input: &SchedInput<'_>,
    mut spans_box: Box<Spans>,
    mut per_cpu: Vec<Vec<Arc<SchedDomain>>>,
    mut kept: Vec<Raw>,
    trust_distances: bool,
) -> SchedDomains {
    let n = input.nr_cpu_ids;
    let mut cpu_map = input.active.clone();
    cpu_map.resize(n);
    let cpus: Vec<usize> = cpu_map.iter().collect();
    // The active CPUs' previous domains stay until they are attached again: equal ones are
    // reused.
    for (c, list) in per_cpu.iter_mut().enumerate() {
        if !cpu_map.test(c) {
            list.clear();
        }
    }
    let mut out = SchedDomains {
        per_cpu,
        span: cpu_map.clone(),
        ..Default::default()
    };
    if cpus.is_empty() {
        out.cache.spans = Some(spans_box);
        return out;
    }
    let spans: &mut Spans = &mut spans_box;
    let map_id = spans.intern(&cpu_map);
    let (levels, mask_ids, all_known) = level_masks(input, spans, &cpus, trust_distances);
    let insane: Vec<Vec<u32>> = levels
        .iter()
        .zip(&mask_ids)
        .map(|(l, m)| {
            if l.overlap {
                Vec::new()
            } else {
                insane_masks(spans, m, &cpus, n)
            }
        })
        .collect();

    let Some(chains) =
        raw_chains(&levels, &mask_ids, &insane, spans, &cpus, &cpu_map, map_id, &mut out.warnings)
    else {
        out.failed = true;
        out.per_cpu.iter_mut().for_each(Vec::clear);
        out.cache.spans = Some(spans_box);
        return out;
    };
    let mut walks = Walks::default();
    let mut gb = GroupBuilder::new(spans, &chains, &mut walks);
    let plain: Vec<Option<PlainLevel>> = levels
        .iter()
        .enumerate()
        .map(|(li, l)| (!l.overlap).then(|| gb.plain_level(li, &cpus)))
        .collect();
    let groups_at = group_lists(&plain, &mut gb, &cpus, n);
    let nl = levels.len();
    let mut last = LastBuild {
        cpu_nodes: input.cpu_nodes.clone(),
        levels,
        mask_ids,
        chains,
        plain,
        walks,
        groups_at,
        kept: KeptChains::default(),
    };
    kept.clear();
    kept.resize(n * nl, Raw::NONE);
    let mut kept = KeptChains { raw: kept, len: vec![0; n] };
    last.attach_all(&cpus, spans, &mut out.per_cpu, kept.rows(nl), PARALLEL_ATTACH_CPUS);
    last.kept = kept;
    if out.warnings.is_empty() && all_known {
        out.cache.last = Some(Box::new(last));
    }
    out.cache.spans = Some(spans_box);
    out
}

/// From this many CPUs on a build attaches them on two threads (below, a thread costs more
/// than it saves).
pub(crate) const PARALLEL_ATTACH_CPUS: usize = 2048;

#[cfg(test)]
impl SchedDomains {
    /// The domains of the last (clean) build attached again on one thread: what the
    /// two-thread attach must equal.
    pub(crate) fn attached_on_one_thread(&self) -> Vec<Vec<Arc<SchedDomain>>> {
        let last = self.cache.last.as_ref().expect("a clean build");
        let spans = self.cache.spans.as_ref().expect("a build");
        let (n, nl) = (self.per_cpu.len(), last.levels.len());
        let cpus: Vec<usize> = self.span.iter().collect();
        let mut per_cpu = vec![Vec::new(); n];
        let mut kept = KeptChains { raw: vec![Raw::NONE; n * nl], len: vec![0; n] };
        last.attach_all(&cpus, spans, &mut per_cpu, kept.rows(nl), usize::MAX);
        per_cpu
    }
}

/// Each CPU's group list per level: `groups_at[level][cpu]` = (variant, number of groups).
fn group_lists(
    plain: &[Option<PlainLevel>],
    gb: &mut GroupBuilder<'_>,
    cpus: &[usize],
    n: usize,
) -> Vec<Vec<(Variant, u32)>> {
    plain
        .iter()
        .enumerate()
        .map(|(li, pl)| {
            let mut v = vec![(Variant::Overlap(NONE), 0); n];
            for &c in cpus {
                if gb.chains.span_at[li][c] != NONE {
                    v[c] = group_list(li, c, pl.as_ref(), gb);
                }
            }
            v
        })
        .collect()
}

/// The group list of `cpu`'s domain at `level` (a plain level's groups are in `pl`).
pub(crate) fn group_list(
    level: usize,
    cpu: usize,
    pl: Option<&PlainLevel>,
    gb: &mut GroupBuilder<'_>,
) -> (Variant, u32) {
    match pl {
        None => {
            let id = gb.overlap(level, cpu);
            (Variant::Overlap(id as u32), gb.walks.groups[id].len() as u32)
        }
        Some(pl) => {
            let (k, pos) = pl.at[cpu];
            (Variant::Plain(k, pos), pl.cycles[k as usize].1)
        }
    }
}

/// The intermediate results of a clean build (no warning, every CPU's node a CPU node).
/// (Its cpu_map is the root domain span, `SchedDomains::span`.)
pub(crate) struct LastBuild {
    pub cpu_nodes: Bitmap,
    pub levels: Vec<Level>,
    pub mask_ids: Vec<Vec<u32>>,
    pub chains: Chains,
    pub plain: Vec<Option<PlainLevel>>,
    pub walks: Walks,
    pub groups_at: Vec<Vec<(Variant, u32)>>,
    pub kept: KeptChains,
}

/// Each CPU's domains after degeneration: `raw[cpu * levels..][..len[cpu]]`.
#[derive(Default)]
pub(crate) struct KeptChains {
    pub raw: Vec<Raw>,
    pub len: Vec<u8>,
}

/// The rows of [`KeptChains`] of the CPUs from `first` on (one thread's share of them).
pub(crate) struct KeptRows<'a> {
    raw: &'a mut [Raw],
    len: &'a mut [u8],
    first: usize,
    nl: usize,
}

impl KeptChains {
    /// The rows of every CPU, for `nl` levels.
    pub(crate) fn rows(&mut self, nl: usize) -> KeptRows<'_> {
        KeptRows { raw: &mut self.raw, len: &mut self.len, first: 0, nl }
    }
}

impl<'a> KeptRows<'a> {
    /// The rows below CPU `cpu` and those from it on.
    fn split_at(self, cpu: usize) -> (KeptRows<'a>, KeptRows<'a>) {
        let k = cpu - self.first;
        let (raw_a, raw_b) = self.raw.split_at_mut(k * self.nl);
        let (len_a, len_b) = self.len.split_at_mut(k);
        (
            KeptRows { raw: raw_a, len: len_a, first: self.first, nl: self.nl },
            KeptRows { raw: raw_b, len: len_b, first: cpu, nl: self.nl },
        )
    }

    /// `cpu`'s kept domains (all `nl` slots) and their number.
    fn row(&mut self, cpu: usize) -> (&mut [Raw], &mut u8) {
        let k = cpu - self.first;
        (&mut self.raw[k * self.nl..(k + 1) * self.nl], &mut self.len[k])
    }
}

/// Buffers of [`LastBuild::attach_cpu`].
#[derive(Default)]
pub(crate) struct AttachScratch {
    chain: Vec<Raw>,
}

impl Raw {
    const NONE: Raw = Raw {
        level: 0,
        span: NONE,
        flags: 0,
        ngroups: 0,
        weight: 0,
        groups: Variant::Overlap(NONE),
        mask_w: 0,
    };
}

impl LastBuild {
    /// cpu_attach_domain for `cpu`: its raw chain, degenerated, as domain objects in `list`
    /// (which holds its previous ones). `ids_stable`: group list ids mean what they meant
    /// when `kept` was written, so an unchanged kept domain is the one already in `list`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn attach_cpu(
        &self,
        cpu: usize,
        spans: &Spans,
        f: &mut DomainFactory,
        list: &mut Vec<Arc<SchedDomain>>,
        kept: &mut KeptRows<'_>,
        ids_stable: bool,
        t: &mut AttachScratch,
    ) {
        t.chain.clear();
        for (li, params) in f.params.iter().enumerate() {
            let s = self.chains.span_at[li][cpu];
            if s == NONE {
                break;
            }
            let (groups, ngroups) = self.groups_at[li][cpu];
            t.chain.push(Raw {
                level: li as u32,
                span: s,
                flags: params.0,
                ngroups,
                weight: spans.weight[s as usize],
                groups,
                mask_w: spans.weight[self.mask_ids[li][cpu] as usize],
            });
        }
        degenerate(&mut t.chain);
        let (old, kept_len) = kept.row(cpu);
        let old_len = if ids_stable { usize::from(*kept_len) } else { 0 };
        // In place: a domain that stays the same allocation is not touched (no refcount
        // traffic for what did not change).
        for (p, r) in t.chain.iter().enumerate() {
            if p < old_len && p < list.len() && old[p] == *r {
                continue;
            }
            let d = f.domain(p, r, list.get(p), spans, &self.plain, &self.walks.groups);
            match list.get_mut(p) {
                Some(cur) if Arc::ptr_eq(cur, d) => {}
                Some(cur) => *cur = Arc::clone(d),
                None => list.push(Arc::clone(d)),
            }
        }
        list.truncate(t.chain.len());
        old[..t.chain.len()].copy_from_slice(&t.chain);
        *kept_len = t.chain.len() as u8;
    }

    /// [`LastBuild::attach_cpu`] of every CPU of `cpus` (ascending) at a build. Large maps are
    /// attached by two threads, each with its own factory: equal domains of the two halves
    /// are then two equal objects (as the kernel's per-CPU domains are anyway).
    fn attach_all(
        &self,
        cpus: &[usize],
        spans: &Spans,
        per_cpu: &mut [Vec<Arc<SchedDomain>>],
        kept: KeptRows<'_>,
        parallel_from: usize,
    ) {
        let attach = |cpus: &[usize], per_cpu: &mut [Vec<Arc<SchedDomain>>], first: usize, mut kept: KeptRows<'_>| {
            let mut f = DomainFactory::new(&self.levels, 2 * cpus.len());
            let mut t = AttachScratch::default();
            for &c in cpus {
                self.attach_cpu(c, spans, &mut f, &mut per_cpu[c - first], &mut kept, false, &mut t);
            }
        };
        if cpus.len() < parallel_from {
            attach(cpus, per_cpu, 0, kept);
            return;
        }
        let (low, high) = cpus.split_at(cpus.len() / 2);
        let mid = high[0];
        let (per_low, per_high) = per_cpu.split_at_mut(mid);
        let (kept_low, kept_high) = kept.split_at(mid);
        std::thread::scope(|s| {
            let other = s.spawn(|| attach(high, per_high, mid, kept_high));
            attach(low, per_low, 0, kept_low);
            other.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        });
    }
}

impl LastBuild {
    /// [`LastBuild::attach_cpu`] when `low`, the lowest level where `cpu`'s chain or groups
    /// changed, is the level of its top attached domain and the chain still ends there: the
    /// domains below are those of the last build (degeneration decides pairwise, bottom-up),
    /// and the new top stays unless it is degenerate against the one below. False when this
    /// does not apply (nothing is changed then).
    pub(crate) fn attach_top_only(
        &self,
        cpu: usize,
        low: usize,
        spans: &Spans,
        f: &mut DomainFactory,
        list: &mut [Arc<SchedDomain>],
        kept: &mut KeptRows<'_>,
    ) -> bool {
        let (row, kept_len) = kept.row(cpu);
        let len = usize::from(*kept_len);
        if len < 2 || list.len() != len || row[len - 1].level as usize != low {
            return false;
        }
        let s = self.chains.span_at[low][cpu];
        if s == NONE || self.chains.span_at.get(low + 1).is_some_and(|v| v[cpu] != NONE) {
            return false;
        }
        let (groups, ngroups) = self.groups_at[low][cpu];
        let r = Raw {
            level: low as u32,
            span: s,
            flags: f.params[low].0,
            ngroups,
            weight: spans.weight[s as usize],
            groups,
            mask_w: spans.weight[self.mask_ids[low][cpu] as usize],
        };
        if sd_parent_degenerate(&row[len - 2], &r) {
            return false;
        }
        let d = f.domain(len - 1, &r, list.last(), spans, &self.plain, &self.walks.groups);
        if !Arc::ptr_eq(&list[len - 1], d) {
            list[len - 1] = Arc::clone(d);
        }
        row[len - 1] = r;
        true
    }
}

/// The domain objects of a build: equal domains shared, the previous build's reused.
pub(crate) struct DomainFactory {
    /// Level names.
    names: Vec<&'static str>,
    /// sd_params of each level.
    pub params: Vec<(u32, u32, u32)>,
    memo: HashMap<DomainKey, Arc<SchedDomain>>,
    /// Neighbouring CPUs mostly share their upper domains: the last key and domain per
    /// position in the attached list.
    last: Vec<Option<(DomainKey, Arc<SchedDomain>)>>,
    plain_cycles: HashMap<(usize, u32), Arc<[SchedGroup]>>,
    overlap_cycles: HashMap<u32, Arc<[SchedGroup]>>,
}

/// What makes a domain: level, span, flags, group list, topology mask weight.
type DomainKey = (usize, u32, u32, Variant, u32);

impl DomainFactory {
    /// A factory for about `domains` distinct domains.
    pub(crate) fn new(levels: &[Level], domains: usize) -> Self {
        DomainFactory {
            names: levels.iter().map(|l| l.name).collect(),
            params: levels.iter().map(sd_params).collect(),
            memo: HashMap::with_capacity_and_hasher(domains, BuildHasherDefault::default()),
            last: vec![None; levels.len()],
            plain_cycles: HashMap::default(),
            overlap_cycles: HashMap::default(),
        }
    }

    /// The domain for raw `r` at position `p` of a CPU's list; `prev` is the CPU's previous
    /// domain there, reused when equal (spans of a kept table are the same allocations).
    fn domain(
        &mut self,
        p: usize,
        r: &Raw,
        prev: Option<&Arc<SchedDomain>>,
        sp: &Spans,
        plain: &[Option<PlainLevel>],
        walks: &[Vec<GroupRef>],
    ) -> &Arc<SchedDomain> {
        let level = r.level as usize;
        let key = (level, r.span, r.flags, r.groups, r.mask_w);
        if self.last[p].as_ref().is_some_and(|(k, _)| *k == key) {
            return &self.last[p].as_ref().expect("just checked").1;
        }
        let d = {
            let (_, imb, nice) = self.params[level];
            let name = self.names[level];
            let cap = |g: &GroupRef| SCHED_CAPACITY_SCALE * u64::from(sp.weight[g.span as usize]);
            // Group `i` of the domain, own group first.
            let nth = |i: usize| match r.groups {
                Variant::Overlap(id) => walks[id as usize][i],
                Variant::Plain(k, pos) => {
                    let cyc = plain[level].as_ref().expect("plain level").cycle(k);
                    let g = cyc[(pos as usize + i) % cyc.len()];
                    GroupRef { span: g, mask: g }
                }
            };
            let same = |o: &SchedDomain| {
                o.name == name
                    && Arc::ptr_eq(&o.span, &sp.bits[r.span as usize])
                    && (o.flags, o.min_interval, o.max_interval) == (r.flags, r.mask_w, 2 * r.mask_w)
                    && (o.imbalance_pct, o.cache_nice_tries) == (imb, nice)
                    && o.groups.len() == r.ngroups as usize
                    && o.groups.iter().zip((0..r.ngroups as usize).map(nth)).all(|(og, g)| {
                        Arc::ptr_eq(&og.span, &sp.bits[g.span as usize])
                            && Arc::ptr_eq(&og.mask, &sp.bits[g.mask as usize])
                            && og.capacity == cap(&g)
                    })
            };
            // The CPU's previous domain here first (a rebuild mostly finds it unchanged, and
            // equal domains were shared there, so sharing stays), then one of this build,
            // then a new one (only new ones go into the memo).
            let d = match prev {
                Some(o) if same(o) => Arc::clone(o),
                _ if self.memo.contains_key(&key) => Arc::clone(&self.memo[&key]),
                _ => {
                    let mk = |g: &GroupRef| SchedGroup {
                        span: Arc::clone(&sp.bits[g.span as usize]),
                        mask: Arc::clone(&sp.bits[g.mask as usize]),
                        capacity: cap(g),
                    };
                    let groups = match r.groups {
                        Variant::Overlap(id) => {
                            let cyc = self
                                .overlap_cycles
                                .entry(id)
                                .or_insert_with(|| walks[id as usize].iter().map(mk).collect());
                            Groups::new(Arc::clone(cyc), 0)
                        }
                        Variant::Plain(k, pos) => {
                            let cyc = self.plain_cycles.entry((level, k)).or_insert_with(|| {
                                let pl = plain[level].as_ref().expect("plain level");
                                pl.cycle(k).iter().map(|&g| mk(&GroupRef { span: g, mask: g })).collect()
                            });
                            Groups::new(Arc::clone(cyc), pos as usize)
                        }
                    };
                    let d = Arc::new(SchedDomain {
                        name,
                        span: Arc::clone(&sp.bits[r.span as usize]),
                        flags: r.flags,
                        min_interval: r.mask_w,
                        max_interval: 2 * r.mask_w,
                        busy_factor: 16,
                        imbalance_pct: imb,
                        cache_nice_tries: nice,
                        groups,
                    });
                    self.memo.insert(key, Arc::clone(&d));
                    d
                }
            };
            d
        };
        &self.last[p].insert((key, d)).1
    }
}

/// build_sched_domain for each CPU, bottom-up, stopping at the level spanning cpu_map: the
/// raw chains, or None when `topology_span_sane` fails.
#[allow(clippy::too_many_arguments)]
#[inline(never)] // out of line: profiles show the phases of a build apart
fn raw_chains(
    levels: &[Level],
    mask_ids: &[Vec<u32>],
    insane: &[Vec<u32>],
    spans: &mut Spans,
    cpus: &[usize],
    cpu_map: &Bitmap,
    map_id: u32,
    warnings: &mut Vec<String>,
) -> Option<Chains> {
    let n = spans.nbits;
    let mut span_at = vec![vec![NONE; n]; levels.len()];
    let mut and_memo: HashMap<u32, u32> = HashMap::default();
    let mut fix_memo: HashMap<(u32, u32), Option<u32>> = HashMap::default();
    // Neighbouring CPUs mostly have the same mask and child span: per level, the last
    // (mask, child span) and its (span, fixed by the subset check).
    let mut last_at: Vec<(u32, u32, u32, bool)> = vec![(NONE, NONE, NONE, false); levels.len()];
    for &c in cpus {
        let mut child: Option<(u32, usize)> = None;
        for (li, l) in levels.iter().enumerate() {
            let m = mask_ids[li][c];
            let cs = child.map_or(NONE, |(cs, _)| cs);
            let (lm, lc, ls, lborken) = last_at[li];
            if (lm, lc) == (m, cs) {
                if lborken {
                    let cl = child.map_or(0, |(_, cl)| cl);
                    topology_borken(warnings, levels[cl].name, l.name);
                }
                span_at[li][c] = ls;
                child = Some((ls, li));
                if ls == map_id {
                    break;
                }
                continue;
            }
            if insane[li].contains(&m) {
                return None;
            }
            let mut borken = false;
            let mut s = *and_memo.entry(m).or_insert_with(|| {
                // Masks are mostly made of active CPUs: then the AND is the mask itself.
                if spans.subset(m, map_id) {
                    return m;
                }
                let b = spans.get(m).to_bitmap().and(cpu_map);
                spans.intern(&b)
            });
            if let Some((cs, cl)) = child {
                let fixed = *fix_memo.entry((cs, s)).or_insert_with(|| {
                    (!spans.subset(cs, s)).then(|| {
                        let mut b = spans.get(s).to_bitmap();
                        spans.get(cs).or_into(&mut b);
                        spans.intern(&b)
                    })
                });
                if let Some(f) = fixed {
                    topology_borken(warnings, levels[cl].name, l.name);
                    s = f;
                    borken = true;
                }
            }
            last_at[li] = (m, cs, s, borken);
            span_at[li][c] = s;
            child = Some((s, li));
            if s == map_id {
                break;
            }
        }
    }
    Some(Chains { span_at })
}

/// build_sched_domain's complaint about a child domain not inside its parent.
fn topology_borken(warnings: &mut Vec<String>, child: &str, parent: &str) {
    warnings.push("BUG: arch topology borken".to_string());
    warnings.push(format!("     the {child} domain not a subset of the {parent} domain"));
}

/// cpu_attach_domain's removal of degenerate parents, then of a degenerate base.
fn degenerate(keep: &mut Vec<Raw>) {
    let mut t = 0;
    while t + 1 < keep.len() {
        if sd_parent_degenerate(&keep[t], &keep[t + 1]) {
            let p = keep.remove(t + 1);
            keep[t].flags |= p.flags & SD_PREFER_SIBLING;
        } else {
            t += 1;
        }
    }
    if keep.first().is_some_and(sd_degenerate) {
        keep.remove(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu_topology::CpuIds;

    /// algorithms.md §8.5: 8 CPUs, 2 packages = nodes 0/1, 2 cores x 2 threads, 10/20.
    #[test]
    fn worked_example() {
        let ids: Vec<CpuIds> = (0..8u32)
            .map(|c| {
                let (llc_id, l2c_id) = CpuIds::qemu_cache_ids(c, 2, 2);
                CpuIds {
                    apic_id: c,
                    package: c / 4,
                    core: c / 2 % 2,
                    thread: c % 2,
                    llc_id,
                    l2c_id,
                    node: c / 4,
                    ..Default::default()
                }
            })
            .collect();
        let mut sib = SiblingMaps::new(8);
        let mut online = Bitmap::new(8);
        for c in 0..8 {
            sib.set_cpu_sibling_map(c, &ids, &online, &mut Vec::new());
            online.set(c);
        }
        sib.smp_cpus_done();
        let cpu_node: Vec<u32> = ids.iter().map(|i| i.node).collect();
        let nodes = Bitmap::from_bits(2, [0, 1]);
        let dist = |a: usize, b: usize| if a == b { 10 } else { 20 };
        let d = build_sched_domains(&SchedInput {
            nr_cpu_ids: 8,
            active: &online,
            siblings: &sib,
            cpu_node: &cpu_node,
            cpu_nodes: &nodes,
            distance: &dist,
        });
        let lines = d.attach_lines();
        assert_eq!(
            lines[..7],
            [
                "CPU0 attaching sched-domain(s):",
                " domain-0: span=0-1 level=SMT",
                "  groups: 0:{ span=0 }, 1:{ span=1 }",
                "  domain-1: span=0-3 level=MC",
                "   groups: 0:{ span=0-1 cap=2048 }, 2:{ span=2-3 cap=2048 }",
                "   domain-2: span=0-7 level=NUMA",
                "    groups: 0:{ span=0-3 cap=4096 }, 4:{ span=4-7 cap=4096 }",
            ]
        );
        assert!(lines.contains(&"  groups: 5:{ span=5 }, 4:{ span=4 }".to_string()));
        assert_eq!(
            lines.last().unwrap(),
            "root domain span: 0-7 (max cpu_capacity = 1024)"
        );
        let f = d.debugfs_files(0);
        assert_eq!(f[1].2, "SD_BALANCE_NEWIDLE SD_BALANCE_EXEC SD_BALANCE_FORK SD_WAKE_AFFINE SD_SHARE_CPUCAPACITY SD_SHARE_PKG_RESOURCES SD_PREFER_SIBLING \n");
    }
}
