//! The sched-domain rebuild after one CPU went online or offline, updated from the last
//! build. The kernel detaches and builds every domain again (partition_sched_domains); the
//! result differs from the last one only where a topology mask holds that CPU, so only those
//! masks, their spans and groups, and the CPUs whose domains use them are computed again.
//! The result equals a full build (proptest `rebuild_equals_full_build`).
//!
//! The update applies when the last build was clean (no warning, no failure) and the change
//! keeps the shape of the machine: the CPU's node has another active CPU before and after
//! (so the node sets of the NUMA levels stay), the level list stays, and no chain needs the
//! "topology borken" fix. Anything else takes the full build.

use std::sync::Arc;

use crate::bitmap::Bitmap;
use crate::sched_domain::{
    group_list, sibling_mask_id, AttachScratch, DomainFactory, LastBuild, SchedDomain,
    SchedInput, Variant,
};
use crate::sched_groups::{GroupBuilder, HashMap, PlainScratch, Spans, NONE};

/// Update `lb`, `per_cpu` (the attached domains) and `root` (the root domain span, the last
/// build's cpu_map) to `input`, where exactly one CPU changed its active state; false when
/// this change needs a full build (then `lb` and the span table may hold partial results,
/// which the full build replaces; `root` is untouched).
pub(crate) fn update_after_cpu_change(
    lb: &mut LastBuild,
    spans: &mut Spans,
    per_cpu: &mut [Vec<Arc<SchedDomain>>],
    root: &mut Bitmap,
    input: &SchedInput<'_>,
) -> bool {
    let n = input.nr_cpu_ids;
    let nl = lb.levels.len();
    let mut map = input.active.clone();
    map.resize(n);
    if root.nbits() != n || per_cpu.len() != n || *input.cpu_nodes != lb.cpu_nodes {
        return false;
    }
    // Tables only grow here: a full build starts them afresh.
    let bound = 4 * n + 4096;
    let cycles = lb.plain.iter().flatten().map(|pl| pl.cycles.len()).max().unwrap_or(0);
    if spans.len() > bound || lb.walks.groups.len() > bound || cycles > bound {
        return false;
    }
    let Some(x) = only_changed_bit(root, &map) else {
        return false;
    };
    let online = map.test(x);
    let node_of = |c: usize| input.cpu_node.get(c).copied().unwrap_or(0);
    // A CPU of x's node active before and after: the node keeps its place in every level.
    let Some(y) = (0..n).find(|&c| c != x && map.test(c) && node_of(c) == node_of(x)) else {
        return false;
    };
    let has_die = lb.levels.iter().any(|l| l.name == "DIE");
    if has_die == input.siblings.sched_numa_in_package {
        return false;
    }
    let map_id = spans.intern(&map);
    let cpus: Vec<usize> = map.iter().collect();

    // Masks: the sibling levels (0-2: SMT, CLS, MC, as level_masks orders them) of x's
    // siblings, and every node-derived mask (3..) holding y.
    let sib = input.siblings;
    let mut mask_changed: Vec<Vec<usize>> = vec![Vec::new(); nl];
    for (li, maps) in [&sib.smt, &sib.cluster, &sib.llc].into_iter().enumerate().take(nl) {
        let mut cand: Vec<usize> = vec![x];
        if online {
            if x < maps.len() {
                cand.extend(maps[x].iter());
            }
        } else if lb.mask_ids[li][x] != NONE {
            cand.extend(spans.iter(lb.mask_ids[li][x]));
        }
        cand.sort_unstable();
        cand.dedup();
        for c in cand {
            let id = if map.test(c) { sibling_mask_id(spans, maps, c, n) } else { NONE };
            if id != lb.mask_ids[li][c] {
                lb.mask_ids[li][c] = id;
                mask_changed[li].push(c);
            }
        }
    }
    for li in 3..nl {
        let ids = &mut lb.mask_ids[li];
        let mut last = (NONE, NONE);
        for &c in &cpus {
            if c == x {
                continue;
            }
            let m = ids[c];
            if m != last.0 {
                let new = if m != NONE && spans.get(m).test(y) {
                    let mut b = spans.get(m).to_bitmap();
                    b.assign(x, online);
                    spans.intern(&b)
                } else {
                    m
                };
                last = (m, new);
            }
            if last.1 != m {
                ids[c] = last.1;
                mask_changed[li].push(c);
            }
        }
        ids[x] = if online { ids[y] } else { NONE };
        mask_changed[li].push(x);
    }
    for li in (0..nl).filter(|&li| !lb.levels[li].overlap) {
        // topology_span_sane for the changed masks of a non-overlap level: the last build
        // was sane, so it suffices that every CPU of a new mask has exactly that mask.
        let ids = &lb.mask_ids[li];
        let mut new: Vec<u32> = mask_changed[li].iter().map(|&c| ids[c]).filter(|&m| m != NONE).collect();
        new.sort_unstable();
        new.dedup();
        if new.iter().any(|&m| spans.iter(m).any(|j| ids[j] != m)) {
            return false;
        }
    }

    // Spans (build_sched_domain): changed masks AND the new map; the rest keep theirs.
    let mut changed_mask = vec![Bitmap::new(n); nl];
    // Per CPU, the lowest level whose mask changed: below it the chain is the last build's.
    let mut lowest = vec![nl; n];
    lowest[x] = 0;
    for (li, cs) in mask_changed.iter().enumerate() {
        for &c in cs {
            changed_mask[li].set(c);
            lowest[c] = lowest[c].min(li);
        }
    }
    let mut dirty = vec![Bitmap::new(n); nl];
    let mut and_memo: HashMap<u32, u32> = HashMap::default();
    let mut holds_x: HashMap<u32, bool> = HashMap::default();
    // Neighbouring CPUs mostly share their masks: the last lookups per level.
    let mut last_and = vec![(NONE, NONE); nl];
    let mut last_clean = vec![NONE; nl];
    let mut last_inside = (NONE, NONE);
    for &c in &cpus {
        // Below lc the chain is the last build's as far as it went (its top, the old map, is
        // not the new one); it must not stop there now.
        let mut lc = lowest[c].min(nl);
        let mut child = NONE;
        for li in 0..lc {
            match lb.chains.span_at[li][c] {
                NONE => {
                    lc = li;
                    break;
                }
                s if s == map_id => return false,
                s => child = s,
            }
        }
        if lc >= nl {
            return false;
        }
        let mut child_changed = false;
        let mut stop = nl;
        for li in lc..nl {
            let old = lb.chains.span_at[li][c];
            let m = lb.mask_ids[li][c];
            let s = if changed_mask[li].test(c) || old == NONE || c == x {
                match last_and[li] {
                    (lm, ls) if lm == m => ls,
                    _ => {
                        let s = *and_memo.entry(m).or_insert_with(|| {
                            if spans.subset(m, map_id) {
                                m
                            } else {
                                let b = spans.get(m).to_bitmap().and(&map);
                                spans.intern(&b)
                            }
                        });
                        last_and[li] = (m, s);
                        s
                    }
                }
            } else {
                // An unchanged mask without x: mask AND map is still the old span.
                if last_clean[li] != m {
                    if *holds_x.entry(m).or_insert_with(|| spans.get(m).test(x)) {
                        return false;
                    }
                    last_clean[li] = m;
                }
                old
            };
            // The child must stay inside (else the kernel's "topology borken" fix).
            if (child_changed || s != old || li == lc) && child != NONE && child != s {
                if last_inside != (child, s) && !spans.subset(child, s) {
                    return false;
                }
                last_inside = (child, s);
            }
            child_changed = s != old;
            if child_changed {
                lb.chains.span_at[li][c] = s;
                dirty[li].set(c);
            }
            child = s;
            if s == map_id {
                stop = li + 1;
                break;
            }
        }
        for li in stop..nl {
            if lb.chains.span_at[li][c] != NONE {
                lb.chains.span_at[li][c] = NONE;
                dirty[li].set(c);
            }
        }
    }
    if !online {
        for li in 0..nl {
            if lb.chains.span_at[li][x] != NONE {
                lb.chains.span_at[li][x] = NONE;
                dirty[li].set(x);
            }
        }
    }
    // Dirty at a level: a span changed there or below (what a walk at that level reads).
    for li in 1..nl {
        let (below, here) = dirty.split_at_mut(li);
        here[0].or_assign(&below[li - 1]);
    }

    // Groups: plain cycles of the spans of dirty CPUs; overlap walks that read a dirty CPU.
    let mut low = vec![NONE as usize; n];
    for li in 0..nl {
        for c in dirty[li].iter() {
            low[c] = low[c].min(li);
        }
    }
    let LastBuild { chains, plain, walks, groups_at, levels, .. } = &mut *lb;
    walks.reset_last();
    let mut invalid = vec![false; walks.groups.len()];
    {
        let groups = &walks.groups;
        walks.memo.retain(|&(lvl, span, _, _), &mut id| {
            let d = &dirty[lvl];
            let stale = spans.intersects(span, d)
                || groups[id as usize].iter().any(|g| spans.intersects(g.span, d));
            if stale {
                invalid[id as usize] = true;
            }
            !stale
        });
        walks.balance.retain(|&(lvl, g), _| !spans.intersects(g, &dirty[lvl]));
    }
    let mut gb = GroupBuilder::new(spans, chains, walks);
    for li in 0..nl {
        match plain[li].as_mut() {
            Some(pl) => {
                // Its tags are cycle indexes of one level: one per level.
                let mut scratch = PlainScratch::default();
                let mut done: Vec<u32> = Vec::new();
                for d in dirty[li].iter() {
                    let s = gb.chains.span_at[li][d];
                    if s == NONE || done.contains(&s) {
                        continue;
                    }
                    done.push(s);
                    gb.plain_cycle(li, s, d, pl, &mut scratch);
                    for m in gb.spans.iter(s).collect::<Vec<_>>() {
                        if gb.chains.span_at[li][m] == s {
                            let g = group_list(li, m, Some(&*pl), &mut gb);
                            if g != groups_at[li][m] {
                                groups_at[li][m] = g;
                                low[m] = low[m].min(li);
                            }
                        }
                    }
                }
            }
            None => {
                for &c in &cpus {
                    if gb.chains.span_at[li][c] == NONE {
                        continue;
                    }
                    let old = groups_at[li][c];
                    let keep = matches!(old.0, Variant::Overlap(id)
                        if (id as usize) < invalid.len() && !invalid[id as usize])
                        && !dirty[li].test(c);
                    if !keep {
                        let g = group_list(li, c, None, &mut gb);
                        if g != old {
                            groups_at[li][c] = g;
                            low[c] = low[c].min(li);
                        }
                    }
                }
            }
        }
    }

    // Attach the CPUs whose chain or groups changed; the others keep their domains.
    // Few distinct domains change: mostly the top level's, one per group of the CPUs.
    let mut f = DomainFactory::new(levels, 64);
    let mut t = AttachScratch::default();
    let mut kept = std::mem::take(&mut lb.kept);
    if !online {
        per_cpu[x].clear();
        kept.len[x] = 0;
    }
    let mut rows = kept.rows(nl);
    for &c in &cpus {
        if low[c] != NONE as usize
            && !lb.attach_top_only(c, low[c], spans, &mut f, &mut per_cpu[c], &mut rows)
        {
            lb.attach_cpu(c, spans, &mut f, &mut per_cpu[c], &mut rows, true, &mut t);
        }
    }
    lb.kept = kept;
    *root = map;
    true
}

/// The one bit in which `a` and `b` differ, if exactly one does.
fn only_changed_bit(a: &Bitmap, b: &Bitmap) -> Option<usize> {
    let mut found = None;
    for (k, (x, y)) in a.words().iter().zip(b.words()).enumerate() {
        let d = x ^ y;
        if d == 0 {
            continue;
        }
        if found.is_some() || d.count_ones() != 1 {
            return None;
        }
        found = Some(k * 64 + d.trailing_zeros() as usize);
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu_topology::{CpuIds, SiblingMaps};
    use crate::sched_domain::{build_sched_domains, SchedDomains};

    /// Bring `cpu` up (`set_cpu_sibling_map`, then online) or take it down.
    fn set_online(ids: &[CpuIds], sib: &mut SiblingMaps, on: &mut Bitmap, cpu: usize, online: bool) {
        if online {
            sib.set_cpu_sibling_map(cpu, ids, on, &mut Vec::new());
            on.set(cpu);
        } else {
            sib.remove_siblinginfo(cpu);
            on.clear(cpu);
        }
    }

    /// CPUs 0..n, `threads` per core, `per_node` per package = node; the listed CPUs online.
    fn numa_machine(n: usize, threads: u32, per_node: usize, online: &[usize]) -> (Vec<CpuIds>, SiblingMaps, Bitmap) {
        let cores = per_node as u32 / threads;
        let ids: Vec<CpuIds> = (0..n as u32)
            .map(|c| {
                let package = c / per_node as u32;
                let (llc_id, l2c_id) = CpuIds::qemu_cache_ids(c, threads, cores);
                CpuIds {
                    apic_id: c,
                    package,
                    core: c / threads % cores,
                    thread: c % threads,
                    llc_id,
                    l2c_id,
                    node: package,
                    ..Default::default()
                }
            })
            .collect();
        let mut sib = SiblingMaps::new(n);
        let mut on = Bitmap::new(n);
        for &c in online {
            set_online(&ids, &mut sib, &mut on, c, true);
        }
        sib.smp_cpus_done();
        (ids, sib, on)
    }

    /// One package and node.
    fn machine(n: usize, threads: u32, online: &[usize]) -> (Vec<CpuIds>, SiblingMaps, Bitmap) {
        numa_machine(n, threads, n, online)
    }

    /// Rebuild `d` (in place after one CPU's change when `incremental`; asserted to be an
    /// update) and return the full build.
    fn build_on(sib: &SiblingMaps, on: &Bitmap, d: &mut SchedDomains, incremental: bool) -> SchedDomains {
        let (updated, full) = build_numa(sib, on, d, incremental, on.nbits());
        assert_eq!(updated, incremental, "updated in place");
        full
    }

    /// Rebuild `d` with `per_node` CPUs per node, nodes in groups of 2 (12) and of 4 (20), 30
    /// beyond (three NUMA levels, overlapping groups): whether it was updated in place, and
    /// the full build.
    fn build_numa(
        sib: &SiblingMaps,
        on: &Bitmap,
        d: &mut SchedDomains,
        incremental: bool,
        per_node: usize,
    ) -> (bool, SchedDomains) {
        let n = on.nbits();
        let cpu_node: Vec<u32> = (0..n).map(|c| (c / per_node) as u32).collect();
        let nodes = Bitmap::from_bits(n.div_ceil(per_node), on.iter().map(|c| c / per_node));
        let dist = |a: usize, b: usize| match (a, b) {
            _ if a == b => 10,
            _ if a / 2 == b / 2 => 12,
            _ if a / 4 == b / 4 => 20,
            _ => 30,
        };
        let input = SchedInput { nr_cpu_ids: n, active: on, siblings: sib, cpu_node: &cpu_node, cpu_nodes: &nodes, distance: &dist };
        let updated = if incremental {
            d.rebuild_after_cpu_change(&input)
        } else {
            d.rebuild(&input);
            false
        };
        (updated, build_sched_domains(&input))
    }

    #[test]
    fn online_and_offline_equal_full_builds() {
        let (ids, mut sib, mut on) = machine(4, 1, &[0, 1, 2]);
        let mut d = SchedDomains::default();
        build_on(&sib, &on, &mut d, false);
        set_online(&ids, &mut sib, &mut on, 3, true);
        let full = build_on(&sib, &on, &mut d, true);
        assert_eq!(d, full);
        set_online(&ids, &mut sib, &mut on, 2, false);
        let full = build_on(&sib, &on, &mut d, true);
        assert_eq!(d, full);
    }

    #[test]
    fn two_thread_attach_equals_one_thread() {
        let n = 4096;
        assert!(n >= crate::sched_domain::PARALLEL_ATTACH_CPUS);
        let (_, _, _, d) = booted(n, 2, 8);
        assert!(d.per_cpu.iter().all(|l| l.len() >= 2), "SMT, MC and NUMA domains");
        assert_eq!(d.per_cpu, d.attached_on_one_thread());
    }

    #[test]
    fn second_cpu_online() {
        let (ids, mut sib, mut on) = machine(2, 1, &[0]);
        let mut d = SchedDomains::default();
        build_on(&sib, &on, &mut d, false);
        set_online(&ids, &mut sib, &mut on, 1, true);
        let full = build_on(&sib, &on, &mut d, true);
        assert_eq!(d, full);
    }

    /// [`numa_machine`] with every CPU online, and its domains.
    fn booted(n: usize, threads: u32, per_node: usize) -> (Vec<CpuIds>, SiblingMaps, Bitmap, SchedDomains) {
        let all: Vec<usize> = (0..n).collect();
        let (ids, sib, on) = numa_machine(n, threads, per_node, &all);
        let mut d = SchedDomains::default();
        build_numa(&sib, &on, &mut d, false, per_node);
        (ids, sib, on, d)
    }

    /// Every CPU but the boot CPU of a 8-node, 2-threads-per-core machine goes offline and
    /// online again, each change updated in place (while its node keeps a CPU) and equal to
    /// a full build.
    #[test]
    fn numa_machine_toggles_equal_full_builds() {
        let (n, per_node) = (32, 4);
        let (ids, mut sib, mut on, mut d) = booted(n, 2, per_node);
        let mut updated = 0;
        for cpu in 1..n {
            for online in [false, true] {
                set_online(&ids, &mut sib, &mut on, cpu, online);
                let (was_update, full) = build_numa(&sib, &on, &mut d, true, per_node);
                updated += usize::from(was_update);
                assert_eq!(d, full, "cpu{cpu} online={online}");
                assert_eq!(d.attach_lines(), full.attach_lines());
            }
        }
        // Each node keeps another CPU throughout: every change is an update.
        assert_eq!(updated, 2 * (n - 1));
    }

    /// A node losing its last CPU changes the NUMA levels' node sets: a full build.
    #[test]
    fn last_cpu_of_a_node_takes_the_full_build() {
        let (n, per_node) = (16, 4);
        let (ids, mut sib, mut on, mut d) = booted(n, 1, per_node);
        for cpu in 4..8 {
            set_online(&ids, &mut sib, &mut on, cpu, false);
            let (was_update, full) = build_numa(&sib, &on, &mut d, true, per_node);
            assert_eq!(was_update, cpu != 7, "cpu{cpu}");
            assert_eq!(d, full);
        }
    }
}
