//! Sched groups of kernel/sched/topology.c (6.1): `build_sched_groups` / `get_group` for
//! ordinary levels, `build_overlap_sched_groups`, `find_descended_sibling` and
//! `build_balance_mask` for SD_OVERLAP (NUMA) levels, plus the interned span table they
//! work on.
//!
//! Deviations: work is shared between CPUs whose walk provably gives the same result (same
//! span, same own group, same next uncovered CPU); spans are interned so that an id compare
//! is a `cpumask_equal`.

use std::collections::HashMap as StdHashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

use crate::bitmap::{Bitmap, SpanMask};

/// A multiply-rotate hasher for the small integer keys of the builders (SipHash dominated).
#[derive(Default)]
pub(crate) struct FxHasher(u64);

impl Hasher for FxHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }
    fn write_u64(&mut self, x: u64) {
        self.0 = (self.0.rotate_left(5) ^ x).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    fn write_u32(&mut self, x: u32) {
        self.write_u64(u64::from(x));
    }
    fn write_usize(&mut self, x: usize) {
        self.write_u64(x as u64);
    }
}

/// HashMap with [`FxHasher`].
pub(crate) type HashMap<K, V> = StdHashMap<K, V, BuildHasherDefault<FxHasher>>;

/// "No domain at this level" in a chain table.
pub(crate) const NONE: u32 = u32::MAX;

/// Interned cpumasks: equal contents get the same id. Spans are immutable, so a table can
/// be kept from one build to the next (ids stay valid; only the memo tables are per build).
/// They are stored as [`SpanMask`]s, their non-zero words only.
#[derive(Default)]
pub(crate) struct Spans {
    /// Width of every span (nr_cpu_ids).
    pub nbits: usize,
    /// Id of `{cpu}` per CPU (NONE until first needed).
    pub singles: Vec<u32>,
    pub bits: Vec<Arc<SpanMask>>,
    pub weight: Vec<u32>,
    /// Hash -> most recent span with it; `next` chains older ones (NONE ends).
    index: HashMap<u64, u32>,
    next: Vec<u32>,
    /// sched_init_numa's node sets, kept while the CPU nodes and distances stay the same.
    pub numa: Option<Arc<crate::sched_domain::NumaSets>>,
}

/// The hash of a mask whose non-zero words are `w`, starting at word `lo`.
fn range_hash(lo: usize, w: &[u64]) -> u64 {
    let mut h = (lo as u64) << 32 ^ (lo + w.len()) as u64;
    for &x in w {
        h = (h ^ x).wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(29);
    }
    h
}

/// The non-zero word range of `w`: `(lo, hi)`.
fn non_zero_range(w: &[u64]) -> (usize, usize) {
    let lo = w.iter().position(|&x| x != 0).unwrap_or(0);
    let hi = w.iter().rposition(|&x| x != 0).map_or(lo, |i| i + 1);
    (lo, hi)
}

impl Spans {
    /// An empty table for masks of `nbits` bits.
    pub fn new(nbits: usize) -> Self {
        // A build interns about two spans per CPU (singletons, SMT, balance masks).
        let cap = 2 * nbits + 64;
        Spans {
            nbits,
            singles: vec![NONE; nbits],
            bits: Vec::with_capacity(cap),
            weight: Vec::with_capacity(cap),
            index: HashMap::with_capacity_and_hasher(cap, BuildHasherDefault::default()),
            next: Vec::with_capacity(cap),
            ..Default::default()
        }
    }

    /// Number of interned spans.
    pub fn len(&self) -> usize {
        self.bits.len()
    }

    /// Id of `{cpu}`.
    pub fn singleton(&mut self, cpu: usize) -> u32 {
        match self.singles.get(cpu) {
            Some(&id) if id != NONE => id,
            Some(_) => {
                let id = self.intern_range(cpu / 64, &[1 << (cpu % 64)]);
                self.singles[cpu] = id;
                id
            }
            None => self.intern(&Bitmap::from_bits(self.nbits, [cpu])),
        }
    }

    /// Id of `b`, adding it when new.
    pub fn intern(&mut self, b: &Bitmap) -> u32 {
        let (lo, hi) = non_zero_range(b.words());
        self.intern_range(lo, &b.words()[lo..hi])
    }

    /// Id of the mask whose non-zero words are `w` from word `lo` on (`w` empty, or its
    /// first and last words non-zero), adding it when new.
    pub fn intern_range(&mut self, lo: usize, w: &[u64]) -> u32 {
        let h = range_hash(lo, w);
        let mut id = self.index.get(&h).copied().unwrap_or(NONE);
        while id != NONE {
            let o = &self.bits[id as usize];
            if o.words() == w && o.word_range().0 == lo {
                return id;
            }
            id = self.next[id as usize];
        }
        let id = self.bits.len() as u32;
        self.weight.push(w.iter().map(|x| x.count_ones()).sum());
        self.bits.push(Arc::new(SpanMask::from_range(self.nbits, lo, w)));
        self.next.push(self.index.insert(h, id).unwrap_or(NONE));
        id
    }

    pub fn get(&self, id: u32) -> &SpanMask {
        &self.bits[id as usize]
    }

    /// Set bits of span `id`, ascending.
    pub fn iter(&self, id: u32) -> impl Iterator<Item = usize> + '_ {
        self.bits[id as usize].iter()
    }

    /// Span `id` and `b` share a CPU.
    pub fn intersects(&self, id: u32, b: &Bitmap) -> bool {
        self.get(id).intersects(b)
    }

    pub fn subset(&self, a: u32, b: u32) -> bool {
        a == b || self.get(a).is_subset(self.get(b))
    }
}

/// A group as referenced from a domain: span id and balance-mask id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct GroupRef {
    pub span: u32,
    pub mask: u32,
}

/// The raw (pre-degeneration) per-CPU domain chains: `span_at[level][cpu]`.
pub(crate) struct Chains {
    pub span_at: Vec<Vec<u32>>,
}

impl Chains {
    fn at(&self, level: usize, cpu: usize) -> u32 {
        self.span_at
            .get(level)
            .and_then(|v| v.get(cpu))
            .copied()
            .unwrap_or(NONE)
    }

    /// Span of the child of `cpu`'s domain at `level` (None at the lowest level).
    fn child(&self, level: usize, cpu: usize) -> Option<u32> {
        if level == 0 {
            None
        } else {
            Some(self.at(level - 1, cpu)).filter(|&s| s != NONE)
        }
    }
}

/// First bit set in `span` and not in `covered(k)` (word `k` of the same range), in
/// `from..limit` (bit positions relative to the range).
fn next_uncovered(span: &[u64], covered: impl Fn(usize) -> u64, from: usize, limit: usize) -> Option<usize> {
    let mut wi = from / 64;
    let mut w = span.get(wi)? & !covered(wi) & (!0u64 << (from % 64));
    loop {
        if w != 0 {
            let b = wi * 64 + w.trailing_zeros() as usize;
            return (b < limit).then_some(b);
        }
        wi += 1;
        if wi * 64 >= limit || wi >= span.len() {
            return None;
        }
        w = span[wi] & !covered(wi);
    }
}

/// The groups of one non-overlap level ([`GroupBuilder::plain_level`]).
pub(crate) struct PlainLevel {
    /// Group span ids of all cycles, back to back.
    pub groups: Vec<u32>,
    /// `(start, len)` of each cycle in `groups`.
    pub cycles: Vec<(u32, u32)>,
    /// Per CPU with a domain at the level: its cycle and its own group's position there.
    pub at: Vec<(u32, u32)>,
}

impl PlainLevel {
    pub fn cycle(&self, k: u32) -> &[u32] {
        let (s, l) = self.cycles[k as usize];
        &self.groups[s as usize..(s + l) as usize]
    }
}

/// The overlap walks done so far and their memo tables; kept from one build to the next by
/// the incremental rebuild, which drops the entries a CPU change makes stale.
#[derive(Default)]
pub(crate) struct Walks {
    /// build_balance_mask results: (level, group) -> mask.
    pub balance: HashMap<(usize, u32), u32>,
    /// Overlap walks: (level, span, own group, first uncovered CPU) -> groups.
    pub memo: HashMap<(usize, u32, u32, usize), u32>,
    pub groups: Vec<Vec<GroupRef>>,
    /// Per level, the last overlap walk looked up.
    last: Vec<OverlapWalk>,
}

impl Walks {
    /// Forget the last walk of every level (the chains it was found on changed).
    pub fn reset_last(&mut self) {
        self.last.clear();
    }
}

/// An overlap walk's key and result ([`GroupBuilder::overlap`]).
#[derive(Clone, Copy)]
struct OverlapWalk {
    span: u32,
    own: u32,
    cpu: usize,
    first_uncovered: usize,
    id: u32,
}

impl Default for OverlapWalk {
    fn default() -> Self {
        OverlapWalk { span: NONE, own: NONE, cpu: 0, first_uncovered: 0, id: NONE }
    }
}

/// Shared state of the group builders.
pub(crate) struct GroupBuilder<'a> {
    pub spans: &'a mut Spans,
    pub chains: &'a Chains,
    pub walks: &'a mut Walks,
}

/// Work tables of [`GroupBuilder::plain_cycle`], reused between cycles.
#[derive(Default)]
pub(crate) struct PlainScratch {
    /// The span's members ascending (then rotated), and the own group of each.
    members: Vec<usize>,
    own: Vec<u32>,
    /// Per group span id: the tag of the cycle it was last placed in, and its position.
    pos_tag: Vec<u32>,
    pos_of: Vec<u32>,
}

/// Make `v[id]` addressable (NONE-filled), with room to spare.
fn grow(v: &mut Vec<u32>, id: u32) {
    if v.len() <= id as usize {
        v.resize(id as usize + 1 + v.len() / 2, NONE);
    }
}

impl<'a> GroupBuilder<'a> {
    pub fn new(spans: &'a mut Spans, chains: &'a Chains, walks: &'a mut Walks) -> Self {
        GroupBuilder { spans, chains, walks }
    }

    fn singleton(&mut self, cpu: usize) -> u32 {
        self.spans.singleton(cpu)
    }

    /// get_group's span for CPU i at `level`: its child domain's span, or {i}.
    fn own_group(&mut self, level: usize, i: usize) -> u32 {
        match self.chains.child(level, i) {
            Some(s) => s,
            None => self.singleton(i),
        }
    }

    /// `build_sched_groups` of every CPU at non-overlap `level`, one walk per distinct span:
    /// the groups (own group of each span member, deduplicated) in the order the last CPU of
    /// the span leaves them linked, and each CPU's cycle and own-group position.
    pub fn plain_level(&mut self, level: usize, cpus: &[usize]) -> PlainLevel {
        let mut out = PlainLevel {
            groups: Vec::new(),
            cycles: Vec::new(),
            at: vec![(NONE, 0); self.spans.nbits],
        };
        let mut scratch = PlainScratch::default();
        // Dense per-span-id table: the cycle of a span.
        let mut cycle_of: Vec<u32> = Vec::new();
        for &c in cpus {
            let span = self.chains.at(level, c);
            if span == NONE {
                continue;
            }
            grow(&mut cycle_of, span);
            if cycle_of[span as usize] == NONE {
                cycle_of[span as usize] = self.plain_cycle(level, span, c, &mut out, &mut scratch);
            }
        }
        out
    }

    /// Add the cycle of `span` at `level` to `out` (for `cpu`, a CPU whose domain it is) and
    /// point the span's CPUs at it: its index.
    pub fn plain_cycle(
        &mut self,
        level: usize,
        span: u32,
        cpu: usize,
        out: &mut PlainLevel,
        t: &mut PlainScratch,
    ) -> u32 {
        let k = out.cycles.len() as u32;
        let start = out.groups.len();
        t.members.clear();
        t.members.extend(self.spans.iter(span));
        // The last CPU of the span builds last: its order (for_each_cpu_wrap from it) is
        // the one left linked.
        let last = t
            .members
            .iter()
            .rev()
            .find(|&&i| self.chains.at(level, i) == span)
            .map_or(cpu, |&i| i);
        let from = t.members.partition_point(|&i| i < last);
        t.members.rotate_left(from);
        t.own.clear();
        for idx in 0..t.members.len() {
            let g = self.own_group(level, t.members[idx]);
            t.own.push(g);
            grow(&mut t.pos_tag, g);
            grow(&mut t.pos_of, g);
            // Tags are cycle indexes, unique in `out`: no clearing between cycles.
            if t.pos_tag[g as usize] != k {
                t.pos_tag[g as usize] = k;
                t.pos_of[g as usize] = (out.groups.len() - start) as u32;
                out.groups.push(g);
            }
        }
        out.cycles.push((start as u32, (out.groups.len() - start) as u32));
        for (&i, &g) in t.members.iter().zip(&t.own) {
            if self.chains.at(level, i) == span {
                out.at[i] = (k, t.pos_of[g as usize]);
            }
        }
        k
    }
    /// `find_descended_sibling`: the level whose child builds the group for `sd_span`.
    fn descend(&self, sd_span: u32, mut level: usize, i: usize) -> usize {
        while let Some(c) = self.chains.child(level, i) {
            if self.spans.subset(c, sd_span) {
                break;
            }
            level -= 1;
        }
        while let Some(c) = self.chains.child(level, i) {
            if c != self.chains.at(level, i) {
                break;
            }
            level -= 1;
        }
        level
    }

    /// `build_balance_mask` for a group built from level `level`.
    fn balance_mask(&mut self, level: usize, group: u32) -> u32 {
        if let Some(&m) = self.walks.balance.get(&(level, group)) {
            return m;
        }
        let mut mask = Bitmap::new(self.spans.nbits);
        for j in self.spans.iter(group) {
            if self.chains.at(level, j) != NONE && self.chains.child(level, j) == Some(group) {
                mask.set(j);
            }
        }
        let id = self.spans.intern(&mask);
        self.walks.balance.insert((level, group), id);
        id
    }

    /// `build_overlap_sched_groups` for `cpu` at `level`: index into `walks.groups`.
    pub fn overlap(&mut self, level: usize, cpu: usize) -> usize {
        let span = self.chains.at(level, cpu);
        let own = self.chains.child(level, cpu).unwrap_or(span);
        // A later CPU with the same span and own group has the same first uncovered CPU
        // when none lies between the two (its own group covers itself): no scan, no hash.
        if self.walks.last.len() <= level {
            self.walks.last.resize(level + 1, OverlapWalk::default());
        }
        let last = self.walks.last[level];
        if (last.span, last.own) == (span, own)
            && last.cpu < cpu
            && (last.first_uncovered > cpu || last.first_uncovered <= last.cpu)
        {
            self.walks.last[level].cpu = cpu;
            return last.id as usize;
        }
        // Only the span's non-zero words can hold an uncovered CPU.
        let (sm, om) = (self.spans.get(span), self.spans.get(own));
        let (lo, hi) = sm.word_range();
        let own_word = |k: usize| om.word(lo + k);
        let n = (hi - lo) * 64;
        let first_uncovered = next_uncovered(sm.words(), own_word, (cpu + 1).saturating_sub(lo * 64), n)
            .or_else(|| next_uncovered(sm.words(), own_word, 0, n))
            .map_or(usize::MAX, |b| lo * 64 + b);
        let key = (level, span, own, first_uncovered);
        let walk = |id| OverlapWalk { span, own, cpu, first_uncovered, id };
        if let Some(&id) = self.walks.memo.get(&key) {
            self.walks.last[level] = walk(id);
            return id as usize;
        }
        // The walk only looks at the span's non-zero words; bit positions are relative to lo.
        let bits = Arc::clone(&self.spans.bits[span as usize]);
        let words = bits.words();
        let mut covered = vec![0u64; hi - lo];
        let mut groups = Vec::new();
        let base = lo * 64;
        let start = cpu.saturating_sub(base).min(n);
        let (mut pos, mut wrapped) = (start, false);
        loop {
            let limit = if wrapped { start } else { n };
            let Some(i) = next_uncovered(words, |k| covered[k], pos, limit) else {
                if wrapped {
                    break;
                }
                (pos, wrapped) = (0, true);
                continue;
            };
            pos = i + 1;
            let i = base + i;
            let sib_span = self.chains.at(level, i);
            // A CPU whose chain stopped below this level has an empty domain here.
            if sib_span == NONE || !self.spans.get(sib_span).test(i) {
                continue;
            }
            let mut sib = level;
            if let Some(c) = self.chains.child(level, i) {
                if !self.spans.subset(c, span) {
                    sib = self.descend(span, level, i);
                }
            }
            let g = self.chains.child(sib, i).unwrap_or(self.chains.at(sib, i));
            let gm = self.spans.get(g);
            let (glo, ghi) = gm.word_range();
            for k in glo.max(lo)..ghi.min(hi) {
                covered[k - lo] |= gm.words()[k - glo];
            }
            let mask = self.balance_mask(sib, g);
            groups.push(GroupRef { span: g, mask });
        }
        let id = self.walks.groups.len();
        self.walks.groups.push(groups);
        self.walks.memo.insert(key, id as u32);
        self.walks.last[level] = walk(id as u32);
        id
    }
}
