//! Scheduler domains as Linux 6.1 builds them (kernel/sched/topology.c `build_sched_domains`,
//! `sched_init_numa`, `sd_init`, degeneration in `cpu_attach_domain`, groups) and shows them
//! (`sched_verbose` dmesg, debugfs `sched/domains/cpuN/domainM/*`).
//!
//! HELPER-OWNED STUB: interface fixed, body to be completed.

use crate::bitmap::Bitmap;
use crate::cpu_topology::SiblingMaps;

/// What the scheduler reads from the machine.
pub struct SchedInput<'a> {
    pub nr_cpu_ids: usize,
    /// cpu_active_mask (= online CPUs in the emulator).
    pub active: &'a Bitmap,
    pub siblings: &'a SiblingMaps,
    /// cpu_to_node of every possible CPU.
    pub cpu_node: &'a [u32],
    /// N_CPU: nodes with online CPUs (sched_init_numa's node set).
    pub cpu_nodes: &'a Bitmap,
    /// node_distance(a, b).
    pub distance: &'a dyn Fn(usize, usize) -> u32,
}

/// One domain level of one CPU after degeneration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SchedDomain {
    /// `SMT`, `CLS`, `MC`, `DIE`, `NODE`, `NUMA`.
    pub name: &'static str,
    pub span: Bitmap,
    pub flags: u32,
    pub min_interval: u32,
    pub max_interval: u32,
    pub busy_factor: u32,
    pub imbalance_pct: u32,
    pub cache_nice_tries: u32,
    /// Groups in the order the kernel links them (the CPU's own group first).
    pub groups: Vec<SchedGroup>,
}

/// One sched group of a domain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SchedGroup {
    pub span: Bitmap,
    /// Balance mask (overlapping NUMA groups; equals span otherwise).
    pub mask: Bitmap,
    pub capacity: u64,
}

/// The attached hierarchy of every active CPU (empty for a CPU with a NULL domain).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SchedDomains {
    pub per_cpu: Vec<Vec<SchedDomain>>,
    /// The root domain span (cpu_map of the build).
    pub span: Bitmap,
}

/// Build the domains of all active CPUs.
#[must_use]
pub fn build_sched_domains(input: &SchedInput<'_>) -> SchedDomains {
    SchedDomains { per_cpu: vec![Vec::new(); input.nr_cpu_ids], span: input.active.clone() }
}

impl SchedDomains {
    /// The `sched_verbose` lines printed when these domains are attached: per CPU
    /// `CPU%d attaching sched-domain(s):` (or `... NULL sched-domain.`) and the indented
    /// domain/groups lines, then `root domain span: ...`.
    #[must_use]
    pub fn attach_lines(&self) -> Vec<String> {
        Vec::new()
    }

    /// debugfs files of `cpu`: `(domain index, attribute name, content)` for
    /// name, flags, min_interval, max_interval, busy_factor, imbalance_pct, cache_nice_tries.
    #[must_use]
    pub fn debugfs_files(&self, cpu: usize) -> Vec<(usize, &'static str, String)> {
        let _ = cpu;
        Vec::new()
    }
}

/// The dmesg lines of a rebuild after a CPU hotplug event, in the kernel's order (detach of the
/// old domains: `CPU%d attaching NULL sched-domain.` for each CPU of `old_active`, then the
/// attach lines of `new`), when `sched_verbose` is on.
#[must_use]
pub fn rebuild_lines(old_active: &Bitmap, new: &SchedDomains) -> Vec<String> {
    let _ = old_active;
    new.attach_lines()
}
