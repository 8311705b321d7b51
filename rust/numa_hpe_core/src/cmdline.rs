//! Kernel command line: split into parameters (init/main.c `next_arg`, quotes honoured) and
//! interpret the ones the emulator models, in command-line order, with the kernel's reaction to
//! malformed values (a dmesg line, parameter ignored -- never an error).
//!
//! HELPER-OWNED STUB: interface fixed, body to be completed.

/// `kernelcore=` / `movablecore=` value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CoreSpec {
    /// Absolute size in bytes (`nn[KMGTPE]`).
    Bytes(u64),
    /// `nn%` of total memory (0..=100).
    Percent(u32),
    /// `kernelcore=mirror`.
    Mirror,
}

/// `memhp_default_state=` / `auto_online_blocks` values (MMOP_*).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnlineType {
    Offline,
    Online,
    OnlineKernel,
    OnlineMovable,
}

/// Parsed boot parameters. Fields not given keep the kernel defaults.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BootParams {
    /// The command line as given (shown by /proc/cmdline).
    pub raw: String,
    /// `(name, value)` of every parameter in order (value None for bare words), for the early
    /// memory parameters (`mem=`, `memmap=`) that e820 applies in order.
    pub params: Vec<(String, Option<String>)>,
    pub numa_off: bool,
    pub numa_noacpi: bool,
    /// `numa=fake=` argument, as written.
    pub numa_fake: Option<String>,
    /// Patchset `numa=possible=N` (simple_strtoul; garbage = 0).
    pub numa_possible: u32,
    /// Patchset v1-v3 `numa=hide=` argument, as written.
    pub numa_hide: Option<String>,
    pub maxcpus: Option<u32>,
    pub nr_cpus: Option<u32>,
    pub possible_cpus: Option<u32>,
    pub nosmp: bool,
    /// Patchset `cpu_hpe=on|1...`.
    pub cpu_hpe: bool,
    pub movable_node: bool,
    pub kernelcore: Option<CoreSpec>,
    pub movablecore: Option<CoreSpec>,
    pub memhp_default_state: Option<OnlineType>,
    /// `memory_hotplug.online_policy=auto-movable`.
    pub online_policy_auto_movable: bool,
    /// `memory_hotplug.auto_movable_ratio=` (default 301).
    pub auto_movable_ratio: u32,
    /// `memory_hotplug.auto_movable_numa_aware=` (default true).
    pub auto_movable_numa_aware: bool,
    /// `memory_hotplug.memmap_on_memory=`.
    pub memmap_on_memory: bool,
    pub sched_verbose: bool,
    /// Lines the kernel prints while parsing (e.g. `Malformed early option 'maxcpus'`).
    pub dmesg: Vec<String>,
}

impl Default for BootParams {
    fn default() -> Self {
        BootParams {
            raw: String::new(),
            params: Vec::new(),
            numa_off: false,
            numa_noacpi: false,
            numa_fake: None,
            numa_possible: 0,
            numa_hide: None,
            maxcpus: None,
            nr_cpus: None,
            possible_cpus: None,
            nosmp: false,
            cpu_hpe: false,
            movable_node: false,
            kernelcore: None,
            movablecore: None,
            memhp_default_state: None,
            online_policy_auto_movable: false,
            auto_movable_ratio: 301,
            auto_movable_numa_aware: true,
            memmap_on_memory: false,
            sched_verbose: false,
            dmesg: Vec::new(),
        }
    }
}

impl BootParams {
    /// Parse a kernel command line. Never fails: bad values are ignored as the kernel does.
    #[must_use]
    pub fn parse(cmdline: &str) -> BootParams {
        let mut p = BootParams { raw: cmdline.to_string(), ..BootParams::default() };
        for word in cmdline.split_whitespace() {
            let (k, v) = match word.split_once('=') {
                Some((k, v)) => (k.to_string(), Some(v.to_string())),
                None => (word.to_string(), None),
            };
            p.params.push((k, v));
        }
        p
    }
}
