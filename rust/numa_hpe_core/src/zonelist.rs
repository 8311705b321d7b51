//! Zonelists (mm/page_alloc.c 6.1 `build_zonelists`, `find_next_best_node`): the fallback node
//! order of every node, with the `node_load` round-robin penalty, printed as
//! `Fallback order for Node %d: `.

use std::ops::Range;

use crate::bitmap::Bitmap;
use crate::node::DistanceTable;
use crate::printk::{put_dec, LogLines};

/// PENALTY_FOR_NODE_WITH_CPUS.
const PENALTY_FOR_NODE_WITH_CPUS: u8 = 1;

/// Largest key range sorted by counting; beyond it (node_load values in the thousands) the
/// candidates are sorted by comparison.
const MAX_COUNTING_KEYS: u32 = 1 << 16;

/// What build_zonelists reads from the machine.
pub struct ZonelistInput<'a> {
    /// N_MEMORY.
    pub memory_nodes: &'a Bitmap,
    /// Nodes whose cpumask_of_node is not empty.
    pub nodes_with_cpus: &'a Bitmap,
    /// node_distance.
    pub distance: &'a DistanceTable,
    /// MAX_NUMNODES (the multiplier of the ranking value).
    pub max_numnodes: u32,
}

/// The fallback orders of one `__build_all_zonelists` pass, flat (node ids < MAX_NUMNODES
/// fit in u16): a million node ids on 1024 nodes, kept as numbers until dmesg is read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FallbackOrders {
    nids: Vec<u16>,
    /// The order of `nids[i]` is `order[starts[i]..starts[i + 1]]`.
    starts: Vec<u32>,
    order: Vec<u16>,
}

impl FallbackOrders {
    /// Number of nodes built.
    #[must_use]
    pub fn len(&self) -> usize {
        self.nids.len()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.nids.is_empty()
    }

    /// The node built `i`-th and its fallback order (itself first).
    #[must_use]
    pub fn get(&self, i: usize) -> (u32, &[u16]) {
        let r = self.starts[i] as usize..self.starts[i + 1] as usize;
        (u32::from(self.nids[i]), &self.order[r])
    }

    /// The dmesg line of the `i`-th node: `Fallback order for Node %d: ` + `%d ` per node.
    #[must_use]
    pub fn line(&self, i: usize) -> String {
        const HEAD: &[u8] = b"Fallback order for Node ";
        let (nid, order) = self.get(i);
        // digits written in place from a table: a million numbers per pass on 1024 nodes
        let mut s = vec![0u8; HEAD.len() + 12 + order.len() * 6];
        s[..HEAD.len()].copy_from_slice(HEAD);
        let mut at = put_dec(&mut s, HEAD.len(), u64::from(nid));
        s[at..at + 2].copy_from_slice(b": ");
        at += 2;
        for &n in order {
            if let Some(digits) = DEC4.get(usize::from(n)) {
                s[at..at + 4].copy_from_slice(digits);
                s[at + 4] = b' ';
                at += 1 + usize::from(n >= 10) + usize::from(n >= 100) + usize::from(n >= 1000) + 1;
            } else {
                at = put_dec(&mut s, at, u64::from(n));
                s[at] = b' ';
                at += 1;
            }
        }
        s.truncate(at);
        String::from_utf8(s).unwrap_or_default()
    }
}

impl LogLines for FallbackOrders {
    fn count(&self) -> usize {
        self.len()
    }

    fn text(&self, i: usize) -> String {
        self.line(i)
    }
}

/// `%d` of 0..10000, left-aligned and padded with spaces to 4 bytes.
static DEC4: [[u8; 4]; 10_000] = {
    let mut t = [[b' '; 4]; 10_000];
    let mut n = 0;
    while n < 10_000 {
        let mut len = 1 + (n >= 10) as usize + (n >= 100) as usize + (n >= 1000) as usize;
        let mut v = n;
        while len > 0 {
            len -= 1;
            t[n][len] = b'0' + (v % 10) as u8;
            v /= 10;
        }
        n += 1;
    }
    t
};

/// One `__build_all_zonelists` pass over `nodes` (a fresh `node_load`): the order per node.
#[must_use]
pub fn build_all(input: &ZonelistInput<'_>, nodes: &Bitmap) -> FallbackOrders {
    build_all_with(input, nodes, MAX_COUNTING_KEYS)
}

/// [`build_all`] with a chosen bound between counting and comparison sorts (tests run both).
fn build_all_with(input: &ZonelistInput<'_>, nodes: &Bitmap, max_counting_keys: u32) -> FallbackOrders {
    let mem: Vec<u16> = input.memory_nodes.iter().map(node_u16).collect();
    let penalty: Vec<u32> = mem
        .iter()
        .map(|&n| u32::from(PENALTY_FOR_NODE_WITH_CPUS) * u32::from(input.nodes_with_cpus.test(n.into())))
        .collect();
    // N_MEMORY = 0..k inside the SLIT: a table row is the distance list as is
    let dense = mem.len() <= input.distance.cnt() && mem.iter().enumerate().all(|(i, &n)| usize::from(n) == i);
    let n = mem.len();
    let mut pass = Pass {
        input,
        max_counting_keys: max_counting_keys.min(U16_RANGE as u32),
        load: vec![0; n],
        max_load: 0,
        w: 1,
        extra: penalty.clone(),
        penalty,
        mem,
        dense,
        dist: Vec::with_capacity(n),
        key: vec![0; n],
        count: u16_indexed(),
        sorted_nodes: u16_indexed(),
        sorted_dist: u16_indexed(),
    };
    let nr = nodes.weight();
    let mut out = FallbackOrders {
        nids: Vec::with_capacity(nr),
        starts: Vec::with_capacity(nr + 1),
        order: Vec::with_capacity(nr * (n + 1)),
    };
    out.starts.push(0);
    for local in nodes.iter() {
        pass.build_zonelists(local, &mut out);
    }
    out
}

fn node_u16(n: usize) -> u16 {
    u16::try_from(n).expect("node ids are below MAX_NUMNODES")
}

/// Number of u16 values: scratch arrays indexed by u16 need no bounds checks.
const U16_RANGE: usize = 1 << 16;

fn u16_indexed<T: Copy + Default>() -> Box<[T; U16_RANGE]> {
    vec![T::default(); U16_RANGE].into_boxed_slice().try_into().unwrap_or_else(|_| unreachable!())
}

/// The state of one pass: the kernel's static `node_load[]` plus reused scratch buffers.
/// Per-candidate vectors are indexed like N_MEMORY (only memory nodes are ever loaded);
/// candidates and counting keys number at most 2^16.
struct Pass<'a, 'b> {
    input: &'a ZonelistInput<'b>,
    max_counting_keys: u32,
    /// N_MEMORY, ascending.
    mem: Vec<u16>,
    /// node_load, and its maximum.
    load: Vec<u32>,
    max_load: u32,
    /// The key multiplier: value * w + load orders like the kernel's value * MAX_NUMNODES +
    /// load as long as every load is below w (or w is MAX_NUMNODES itself).
    w: u32,
    /// has_cpus penalty, and `penalty * w + load` (the key without the distance terms).
    penalty: Vec<u32>,
    extra: Vec<u32>,
    dense: bool,
    /// Distances from the local node when not a SLIT row as is.
    dist: Vec<u8>,
    /// Counting-sort keys (offset from the smallest possible), and buckets (all zero
    /// between calls).
    key: Vec<u16>,
    count: Box<[u32; U16_RANGE]>,
    /// The candidates in fallback order, and their distances.
    sorted_nodes: Box<[u16; U16_RANGE]>,
    sorted_dist: Box<[u8; U16_RANGE]>,
}

impl Pass<'_, '_> {
    /// One `build_zonelists(pgdat)`: appends the order for `local` to `out`, updating
    /// `node_load`.
    ///
    /// The kernel picks, `find_next_best_node` by `find_next_best_node`, the unused N_MEMORY
    /// node with the least `(distance + (n < local) + has_cpus) * MAX_NUMNODES + node_load[n]`
    /// (lowest id on ties), after the local node. Only the node just picked gets its load
    /// bumped, so the values of the remaining candidates never change during one call: the
    /// whole order is one stable sort by that value -- here a counting sort, since values and
    /// loads are small (the literal O(N^2) loop is kept in the tests as the reference).
    fn build_zonelists(&mut self, local: usize, out: &mut FallbackOrders) {
        let input = self.input;
        let mut gathered = std::mem::take(&mut self.dist);
        let dist: &[u8] = match input.distance.row(local) {
            Some(row) if self.dense => &row[..self.mem.len()],
            _ => {
                gathered.clear();
                // node_distance is at most 255 (SLIT bytes, 10 / 20 beyond the table)
                gathered.extend(self.mem.iter().map(|&n| input.distance.get(local, n.into()) as u8));
                &gathered
            }
        };
        // candidates: mem[..split] (below local: +1) and mem[after..] (local itself skipped)
        let split = self.mem.partition_point(|&n| usize::from(n) < local);
        let after = split + usize::from(self.mem.get(split).is_some_and(|&n| usize::from(n) == local));
        let ranges = [(0..split, 1), (after..self.mem.len(), 0)];
        let nr = split + (self.mem.len() - after);
        if nr > 0 {
            let w = self.w;
            let (dmin, dmax) = dist.iter().fold((u8::MAX, 0), |(lo, hi), &d| (lo.min(d), hi.max(d)));
            let kmin = u32::from(dmin) * w;
            let kend = (u32::from(dmax) + 1 + u32::from(PENALTY_FOR_NODE_WITH_CPUS)) * w + self.max_load + 1;
            if kend - kmin <= self.max_counting_keys {
                self.counting_sort(dist, ranges, kmin, (kend - kmin) as usize);
            } else {
                self.comparison_sort(dist, ranges);
            }
        }
        self.dist = gathered;
        out.order.push(node_u16(local));
        out.order.extend_from_slice(&self.sorted_nodes[..nr]);
        out.nids.push(node_u16(local));
        out.starts.push(out.order.len() as u32);

        // the first node of each new distance group gets a load (round-robin among equals);
        // groups are long: look for a change 32 distances at a time
        let mut prev = input.distance.get(local, local) as u8;
        for (c, chunk) in self.sorted_dist[..nr].chunks(32).enumerate() {
            if chunk.iter().fold(0, |acc, &d| acc | (d ^ prev)) == 0 {
                continue;
            }
            for (i, &d) in chunk.iter().enumerate() {
                if d != prev {
                    let n = self.sorted_nodes[c * 32 + i];
                    let i = if self.dense { usize::from(n) } else { self.mem.partition_point(|&m| m < n) };
                    self.load[i] += 1;
                    self.extra[i] += 1;
                    self.max_load = self.max_load.max(self.load[i]);
                    prev = d;
                }
            }
        }
        if self.max_load >= self.w && self.w < input.max_numnodes {
            self.w = (self.max_load + 1).next_power_of_two().min(input.max_numnodes);
            for ((e, &p), &l) in self.extra.iter_mut().zip(&self.penalty).zip(&self.load) {
                *e = p * self.w + l;
            }
        }
    }

    /// Stable counting sort of the candidate ranges (each with its `n < local` term) by
    /// `value * w + load - kmin`, all below `nkeys`, into `sorted_*`.
    fn counting_sort(&mut self, dist: &[u8], ranges: [(Range<usize>, u32); 2], kmin: u32, nkeys: usize) {
        let w = self.w;
        for (r, below) in ranges.clone() {
            let (d, extra, key) = (&dist[r.clone()], &self.extra[r.clone()], &mut self.key[r]);
            let b = (below * w).wrapping_sub(kmin);
            for ((k, &d), &e) in key.iter_mut().zip(d).zip(extra) {
                *k = (u32::from(d) * w + e).wrapping_add(b) as u16;
            }
            for &k in key.iter() {
                self.count[usize::from(k)] += 1;
            }
        }
        let mut pos = 0;
        for c in &mut self.count[..nkeys] {
            let next = pos + *c;
            *c = pos;
            pos = next;
        }
        for (r, _) in ranges {
            let (key, d, mem) = (&self.key[r.clone()], &dist[r.clone()], &self.mem[r]);
            // one induction variable: equal lengths let the compiler drop the checks
            let (d, mem) = (&d[..key.len()], &mem[..key.len()]);
            for i in 0..key.len() {
                let slot = &mut self.count[usize::from(key[i])];
                let p = usize::from(*slot as u16);
                *slot += 1;
                self.sorted_nodes[p] = mem[i];
                self.sorted_dist[p] = d[i];
            }
        }
        self.count[..nkeys].fill(0);
    }

    /// The exact kernel key `value * MAX_NUMNODES + load` sorted by comparison (loads too
    /// large for buckets).
    fn comparison_sort(&mut self, dist: &[u8], ranges: [(Range<usize>, u32); 2]) {
        let mm = u64::from(self.input.max_numnodes);
        let mut cand: Vec<(u64, u16, u8)> = Vec::new();
        for (r, below) in ranges {
            for i in r {
                let value = u64::from(dist[i]) + u64::from(below) + u64::from(self.penalty[i]);
                cand.push((value * mm + u64::from(self.load[i]), self.mem[i], dist[i]));
            }
        }
        // the node id breaks ties
        cand.sort_unstable();
        for (i, (_, n, d)) in cand.into_iter().enumerate() {
            self.sorted_nodes[i] = n;
            self.sorted_dist[i] = d;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The kernel's literal `find_next_best_node` loop (mm/page_alloc.c 6.1).
    fn reference_order(input: &ZonelistInput<'_>, local: usize, node_load: &mut [u64]) -> Vec<u16> {
        let dist = |a: usize, b: usize| input.distance.get(a, b);
        let mut used = Bitmap::new(node_load.len());
        let mut order = Vec::new();
        let mut prev = local;
        loop {
            let next = if used.test(local) {
                let mut best: Option<(u64, usize)> = None;
                for n in input.memory_nodes.iter().filter(|&n| !used.test(n)) {
                    let mut val = u64::from(dist(local, n)) + u64::from(n < local);
                    if input.nodes_with_cpus.test(n) {
                        val += u64::from(PENALTY_FOR_NODE_WITH_CPUS);
                    }
                    val = val * u64::from(input.max_numnodes) + node_load[n];
                    if best.is_none_or(|(b, _)| val < b) {
                        best = Some((val, n));
                    }
                }
                best.map(|(_, n)| n)
            } else {
                Some(local)
            };
            let Some(n) = next else { break };
            used.set(n);
            if dist(local, n) != dist(local, prev) {
                node_load[n] += 1;
            }
            order.push(n as u16);
            prev = n;
        }
        order
    }

    fn check_against_reference(input: &ZonelistInput<'_>, nodes: &Bitmap, max_counting_keys: u32) {
        let got = build_all_with(input, nodes, max_counting_keys);
        let mut load = vec![0u64; nodes.nbits().max(input.memory_nodes.nbits())];
        assert_eq!(got.len(), nodes.weight());
        for (i, local) in nodes.iter().enumerate() {
            let (nid, order) = got.get(i);
            assert_eq!(nid as usize, local);
            assert_eq!(order, reference_order(input, local, &mut load), "node {local}");
        }
    }

    #[test]
    fn sorted_order_equals_kernel_loop() {
        // pseudo-random tables, memoryless nodes and CPU-less nodes included
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut rnd = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..200 {
            let n = (rnd() % 24 + 1) as usize;
            let mut d = DistanceTable::alloc(n);
            for i in 0..n {
                for j in 0..n {
                    if i != j {
                        d.set(i, j, 11 + (rnd() % 4) as u32 * 5);
                    }
                }
            }
            let mem = Bitmap::from_bits(n, (0..n).filter(|_| rnd() % 4 != 0));
            let cpus = Bitmap::from_bits(n, (0..n).filter(|_| rnd() % 2 == 0));
            let input = ZonelistInput { memory_nodes: &mem, nodes_with_cpus: &cpus, distance: &d, max_numnodes: 1024 };
            check_against_reference(&input, &Bitmap::from_bits(n, 0..n), MAX_COUNTING_KEYS);
        }
    }

    #[test]
    fn fallback_line_text() {
        let d = DistanceTable::alloc(3);
        let mem = Bitmap::from_bits(4, [0, 2]);
        let no_cpus = Bitmap::new(4);
        let input = ZonelistInput { memory_nodes: &mem, nodes_with_cpus: &no_cpus, distance: &d, max_numnodes: 1024 };
        let got = build_all(&input, &Bitmap::from_bits(4, [1, 3]));
        assert_eq!(got.line(0), "Fallback order for Node 1: 1 2 0 ");
        assert_eq!(got.line(1), "Fallback order for Node 3: 3 0 2 ");
    }

    #[test]
    fn decimal_digits() {
        for (n, digits) in DEC4.iter().enumerate() {
            assert_eq!(std::str::from_utf8(digits).unwrap(), format!("{n:<4}"));
        }
    }

    mod props {
        use proptest::prelude::*;

        use super::*;

        proptest! {
            /// Random SLITs (smaller than the node count too: 10 / 20 beyond it), memory and
            /// CPU masks, pass node sets, and small MAX_NUMNODES multipliers so that loads
            /// reach it (w = MAX_NUMNODES), by counting and by comparison sort.
            #[test]
            fn counting_sort_equals_kernel_loop(
                n in 1usize..40,
                cnt_cut in 0usize..8,
                slit in proptest::collection::vec(0u32..256, 1600),
                mem_bits in proptest::collection::vec(any::<bool>(), 40),
                cpu_bits in proptest::collection::vec(any::<bool>(), 40),
                pass_bits in proptest::collection::vec(0u8..4, 40),
                max_numnodes in prop_oneof![Just(1024u32), 1u32..6],
                counting in any::<bool>(),
            ) {
                let cnt = n.saturating_sub(cnt_cut);
                let mut d = DistanceTable::alloc(cnt);
                for i in 0..cnt {
                    for j in 0..cnt {
                        // few distinct values most of the time, any byte sometimes
                        let v = slit[i * 40 + j];
                        d.set(i, j, if v < 200 { 10 + v % 4 * 10 } else { v });
                    }
                }
                let mem = Bitmap::from_bits(n, (0..n).filter(|&i| mem_bits[i]));
                let cpus = Bitmap::from_bits(n, (0..n).filter(|&i| cpu_bits[i]));
                let nodes = Bitmap::from_bits(n, (0..n).filter(|&i| pass_bits[i] != 0));
                let input = ZonelistInput { memory_nodes: &mem, nodes_with_cpus: &cpus, distance: &d, max_numnodes };
                check_against_reference(&input, &nodes, if counting { MAX_COUNTING_KEYS } else { 0 });
            }
        }
    }
}
