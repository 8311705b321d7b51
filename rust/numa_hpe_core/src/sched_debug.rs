//! What Linux 6.1 shows of the sched domains: kernel/sched/topology.c `sched_domain_debug` /
//! `sched_domain_debug_one` (sched_verbose dmesg), the `root domain span` line of
//! `build_sched_domains`, `partition_sched_domains_locked`'s detach + rebuild + the
//! `build_perf_domains` line, and kernel/sched/debug.c `register_sd` / `sd_flags_show`
//! (debugfs).
//!
//! Deviations: the `ERROR: ...` sanity lines of sched_domain_debug_one are not produced
//! (domains built here always satisfy them).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;

use crate::bitmap::{Bitmap, SpanMask};
use crate::sched_domain::{SchedDomains, SCHED_CAPACITY_SCALE, SD_FLAG_NAMES, SD_OVERLAP};

/// `%*pbl` of shared spans, formatted once per span.
#[derive(Default)]
struct ListCache(HashMap<*const SpanMask, String>);

impl ListCache {
    fn get(&mut self, b: &Arc<SpanMask>) -> &str {
        self.0
            .entry(Arc::as_ptr(b))
            .or_insert_with(|| b.format_list())
    }
}

impl SchedDomains {
    /// The `sched_verbose` lines printed when these domains are attached: per CPU
    /// `CPU%d attaching sched-domain(s):` (or `... NULL sched-domain.`) and the indented
    /// domain/groups lines, then `root domain span: ...`. `BUG: arch topology borken` lines
    /// (printed during the build) come first.
    #[must_use]
    pub fn attach_lines(&self) -> Vec<String> {
        let mut out = self.warnings.clone();
        if self.failed {
            return out;
        }
        let mut cache = ListCache::default();
        for cpu in self.span.iter() {
            let Some(doms) = self.per_cpu.get(cpu).filter(|d| !d.is_empty()) else {
                out.push(format!("CPU{cpu} attaching NULL sched-domain."));
                continue;
            };
            out.push(format!("CPU{cpu} attaching sched-domain(s):"));
            for (level, d) in doms.iter().enumerate() {
                out.push(format!(
                    "{:level$} domain-{level}: span={} level={}",
                    "",
                    cache.get(&d.span),
                    d.name
                ));
                let mut line = format!("{:w$} groups:", "", w = level + 1);
                for (gi, g) in d.groups.iter().enumerate() {
                    let _ = write!(line, " {}:{{ span={}", g.id(), cache.get(&g.span));
                    if d.flags & SD_OVERLAP != 0
                        && !Arc::ptr_eq(&g.mask, &g.span)
                        && g.mask != g.span
                    {
                        let _ = write!(line, " mask={}", cache.get(&g.mask));
                    }
                    if g.capacity != SCHED_CAPACITY_SCALE {
                        let _ = write!(line, " cap={}", g.capacity);
                    }
                    line.push_str(" }");
                    if gi + 1 < d.groups.len() {
                        line.push(',');
                    }
                }
                out.push(line);
            }
        }
        if !self.span.is_empty() {
            out.push(format!(
                "root domain span: {} (max cpu_capacity = {SCHED_CAPACITY_SCALE})",
                self.span.format_list()
            ));
        }
        out
    }

    /// debugfs files of `cpu`: `(domain index, attribute name, content)` for
    /// name, flags, min_interval, max_interval, busy_factor, imbalance_pct, cache_nice_tries.
    #[must_use]
    pub fn debugfs_files(&self, cpu: usize) -> Vec<(usize, &'static str, String)> {
        let mut out = Vec::new();
        for i in 0..self.debugfs_domain_count(cpu) {
            for name in DEBUGFS_ATTRS {
                if let Some(s) = self.debugfs_attr(cpu, i, name) {
                    out.push((i, name, s));
                }
            }
        }
        out
    }

    /// Number of `domainN` directories of `cpu` (0 for an inactive CPU or a NULL domain).
    #[must_use]
    pub fn debugfs_domain_count(&self, cpu: usize) -> usize {
        self.per_cpu.get(cpu).map_or(0, Vec::len)
    }

    /// Content of one debugfs file `sched/domains/cpu<cpu>/domain<dom>/<name>` for the
    /// attributes of [`DEBUGFS_ATTRS`] (None for another name or a missing domain). O(1).
    #[must_use]
    pub fn debugfs_attr(&self, cpu: usize, dom: usize, name: &str) -> Option<String> {
        let d = self.per_cpu.get(cpu)?.get(dom)?;
        Some(match name {
            "name" => format!("{}\n", d.name),
            "flags" => {
                let mut flags = String::with_capacity(160);
                for (bit, name) in SD_FLAG_NAMES.iter().enumerate() {
                    if d.flags >> bit & 1 != 0 {
                        flags.push_str(name);
                        flags.push(' ');
                    }
                }
                flags.push('\n');
                flags
            }
            "min_interval" => format!("{}\n", d.min_interval),
            "max_interval" => format!("{}\n", d.max_interval),
            "busy_factor" => format!("{}\n", d.busy_factor),
            "imbalance_pct" => format!("{}\n", d.imbalance_pct),
            "cache_nice_tries" => format!("{}\n", d.cache_nice_tries),
            _ => return None,
        })
    }
}

/// The attributes [`SchedDomains::debugfs_attr`] knows, in `debugfs_files` order.
pub const DEBUGFS_ATTRS: [&str; 7] = [
    "name",
    "flags",
    "min_interval",
    "max_interval",
    "busy_factor",
    "imbalance_pct",
    "cache_nice_tries",
];

/// The dmesg lines of a rebuild after a CPU hotplug event, in the kernel's order, when
/// `sched_verbose` is on: nothing when the active set did not change (partition keeps the
/// matching domain); else `CPU%d attaching NULL sched-domain.` for each CPU of `old_active`
/// (detach_destroy_domains of the old partition), the attach lines of `new`, then
/// `rd %*pbl: CPUs do not have asymmetric capacities` (build_perf_domains).
#[must_use]
pub fn rebuild_lines(old_active: &Bitmap, new: &SchedDomains) -> Vec<String> {
    let mut old = old_active.clone();
    old.resize(new.span.nbits());
    if old == new.span {
        return Vec::new();
    }
    let mut out: Vec<String> = old
        .iter()
        .map(|c| format!("CPU{c} attaching NULL sched-domain."))
        .collect();
    out.extend(new.attach_lines());
    if !new.span.is_empty() {
        out.push(format!(
            "rd {}: CPUs do not have asymmetric capacities",
            new.span.format_list()
        ));
    }
    out
}
