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

/// `find_next_best_node`: the local node first (memoryless or not), then the N_MEMORY node with
/// the least (distance + (n < local) + has-cpus) * MAX_NUMNODES + node_load.
fn find_next_best_node(
    input: &ZonelistInput<'_>,
    local: usize,
    used: &mut Bitmap,
    node_load: &[u64],
) -> Option<usize> {
    if !used.test(local) {
        used.set(local);
        return Some(local);
    }
    let mut best: Option<(u64, usize)> = None;
    for n in input.memory_nodes.iter() {
        if used.test(n) {
            continue;
        }
        let mut val = u64::from((input.distance)(local, n));
        val += u64::from(n < local);
        if input.nodes_with_cpus.test(n) {
            val += PENALTY_FOR_NODE_WITH_CPUS;
        }
        val = val * input.max_numnodes + node_load[n];
        if best.is_none_or(|(b, _)| val < b) {
            best = Some((val, n));
        }
    }
    let (_, n) = best?;
    used.set(n);
    Some(n)
}

/// One `build_zonelists(pgdat)` call: the node order for `local`, updating `node_load`.
pub fn build_node_order(input: &ZonelistInput<'_>, local: usize, node_load: &mut [u64]) -> Vec<u32> {
    let mut used = Bitmap::new(node_load.len());
    let mut order = Vec::new();
    let mut prev = local;
    while let Some(n) = find_next_best_node(input, local, &mut used, node_load) {
        if (input.distance)(local, n) != (input.distance)(local, prev) {
            node_load[n] += 1;
        }
        order.push(n as u32);
        prev = n;
    }
    order
}

/// One `__build_all_zonelists` pass over `nodes` (a fresh `node_load`): the order per node.
#[must_use]
pub fn build_all(input: &ZonelistInput<'_>, nodes: &Bitmap) -> Vec<(u32, Vec<u32>)> {
    let mut node_load = vec![0u64; nodes.nbits().max(input.memory_nodes.nbits())];
    nodes.iter().map(|n| (n as u32, build_node_order(input, n, &mut node_load))).collect()
}

/// `Fallback order for Node %d: ` + `%d ` per node.
#[must_use]
pub fn fallback_line(nid: u32, order: &[u32]) -> String {
    let mut s = format!("Fallback order for Node {nid}: ");
    for n in order {
        s.push_str(&n.to_string());
        s.push(' ');
    }
    s
}
