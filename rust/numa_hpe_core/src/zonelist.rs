//! Zonelists (mm/page_alloc.c 6.1 `build_zonelists`, `find_next_best_node`): the fallback node
//! order of every node, with the `node_load` round-robin penalty, printed as
//! `Fallback order for Node %d: `.

use crate::bitmap::Bitmap;

/// PENALTY_FOR_NODE_WITH_CPUS.
const PENALTY_FOR_NODE_WITH_CPUS: u64 = 1;

/// What build_zonelists reads from the machine.
pub struct ZonelistInput<'a> {
    /// N_MEMORY.
    pub memory_nodes: &'a Bitmap,
    /// Nodes whose cpumask_of_node is not empty.
    pub nodes_with_cpus: &'a Bitmap,
    /// node_distance.
    pub distance: &'a dyn Fn(usize, usize) -> u32,
    /// MAX_NUMNODES (the multiplier of the ranking value).
    pub max_numnodes: u64,
}

/// One `build_zonelists(pgdat)` call: the node order for `local`, updating `node_load`.
///
/// The kernel picks, `find_next_best_node` by `find_next_best_node`, the unused N_MEMORY node
/// with the least `(distance + (n < local) + has_cpus) * MAX_NUMNODES + node_load[n]` (lowest
/// id on ties), after the local node. Only the node just picked gets its load bumped, so the
/// values of the remaining candidates never change during one call: the whole order is one
/// sort by (value, id) -- O(N log N) instead of the kernel's O(N^2), same result (the literal
/// algorithm is kept in the tests as the reference).
pub fn build_node_order(input: &ZonelistInput<'_>, local: usize, node_load: &mut [u64]) -> Vec<u32> {
    let mem: Vec<usize> = input.memory_nodes.iter().collect();
    order_among(input, &mem, local, node_load)
}

/// [`build_node_order`] with the N_MEMORY node list computed once per pass.
fn order_among(input: &ZonelistInput<'_>, mem: &[usize], local: usize, node_load: &mut [u64]) -> Vec<u32> {
    // (value << 11 | id): one u64 sort gives value order with the lowest id first on ties
    let mut keyed: Vec<u64> = Vec::with_capacity(mem.len());
    for &n in mem {
        if n == local {
            continue;
        }
        let mut val = u64::from((input.distance)(local, n)) + u64::from(n < local);
        if input.nodes_with_cpus.test(n) {
            val += PENALTY_FOR_NODE_WITH_CPUS;
        }
        let v = val * input.max_numnodes + node_load.get(n).copied().unwrap_or(0);
        keyed.push(v << 11 | n as u64);
    }
    keyed.sort_unstable();
    let mut order = Vec::with_capacity(keyed.len() + 1);
    order.push(local as u32);
    let mut prev_dist = (input.distance)(local, local);
    for k in keyed {
        let n = (k & 0x7ff) as usize;
        let d = (input.distance)(local, n);
        if d != prev_dist {
            if let Some(l) = node_load.get_mut(n) {
                *l += 1;
            }
        }
        order.push(n as u32);
        prev_dist = d;
    }
    order
}

/// One `__build_all_zonelists` pass over `nodes` (a fresh `node_load`): the order per node.
#[must_use]
pub fn build_all(input: &ZonelistInput<'_>, nodes: &Bitmap) -> Vec<(u32, Vec<u32>)> {
    let mut node_load = vec![0u64; nodes.nbits().max(input.memory_nodes.nbits())];
    let mem: Vec<usize> = input.memory_nodes.iter().collect();
    nodes.iter().map(|n| (n as u32, order_among(input, &mem, n, &mut node_load))).collect()
}

/// `Fallback order for Node %d: ` + `%d ` per node.
#[must_use]
pub fn fallback_line(nid: u32, order: &[u32]) -> String {
    let mut s: Vec<u8> = Vec::with_capacity(26 + order.len() * 5);
    s.extend_from_slice(b"Fallback order for Node ");
    push_u32(&mut s, nid);
    s.extend_from_slice(b": ");
    for &n in order {
        push_u32(&mut s, n);
        s.push(b' ');
    }
    String::from_utf8(s).unwrap_or_default()
}

/// Decimal digits of `n` without the formatting machinery (a million of them per rebuild
/// on 1024 nodes).
fn push_u32(s: &mut Vec<u8>, mut n: u32) {
    let mut buf = [0u8; 10];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    s.extend_from_slice(&buf[i..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The kernel's literal `find_next_best_node` loop (mm/page_alloc.c 6.1).
    fn reference_order(input: &ZonelistInput<'_>, local: usize, node_load: &mut [u64]) -> Vec<u32> {
        let mut used = Bitmap::new(node_load.len());
        let mut order = Vec::new();
        let mut prev = local;
        loop {
            let next = if used.test(local) {
                let mut best: Option<(u64, usize)> = None;
                for n in input.memory_nodes.iter().filter(|&n| !used.test(n)) {
                    let mut val = u64::from((input.distance)(local, n)) + u64::from(n < local);
                    if input.nodes_with_cpus.test(n) {
                        val += PENALTY_FOR_NODE_WITH_CPUS;
                    }
                    val = val * input.max_numnodes + node_load[n];
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
            if (input.distance)(local, n) != (input.distance)(local, prev) {
                node_load[n] += 1;
            }
            order.push(n as u32);
            prev = n;
        }
        order
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
            let mut d = vec![vec![0u32; n]; n];
            for i in 0..n {
                for j in 0..n {
                    d[i][j] = if i == j { 10 } else { 11 + (rnd() % 4) as u32 * 5 };
                }
            }
            let mem = Bitmap::from_bits(n, (0..n).filter(|_| rnd() % 4 != 0));
            let cpus = Bitmap::from_bits(n, (0..n).filter(|_| rnd() % 2 == 0));
            let dist = |a: usize, b: usize| d[a][b];
            let input = ZonelistInput { memory_nodes: &mem, nodes_with_cpus: &cpus, distance: &dist, max_numnodes: 1024 };
            let (mut l1, mut l2) = (vec![0u64; n], vec![0u64; n]);
            for local in 0..n {
                assert_eq!(build_node_order(&input, local, &mut l1), reference_order(&input, local, &mut l2));
            }
            assert_eq!(l1, l2);
        }
    }
}
