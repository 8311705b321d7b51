//! Kernel command line (init/main.c, kernel/params.c, lib/cmdline.c): split into parameters like
//! `next_arg` (double quotes honoured, stop at `--`), then interpret the ones the emulator models
//! with each handler's own parsing rules. Malformed values are ignored the way the kernel ignores
//! them (a dmesg line at most, never an error).
//!
//! Two passes, as in the kernel: `parse_early_param` (early_param handlers, run from setup_arch
//! between the BIOS e820 print and `e820__finish_early_params`) and the later
//! `parse_args("Booting kernel", ...)` (module parameters and `__setup` handlers).

use crate::parse::{kstrtobool, kstrtouint, memparse, simple_strtoull, sysfs_streq};

/// `kernelcore=` / `movablecore=` value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum CoreSpec {
    /// Absolute size in bytes (`nn[KMGTPE]`).
    Bytes(u64),
    /// `nn%` of total memory (0..=100).
    Percent(u32),
    /// `kernelcore=mirror`.
    Mirror,
}

/// `memhp_default_state=` / `auto_online_blocks` values (MMOP_*).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum OnlineType {
    Offline,
    Online,
    OnlineKernel,
    OnlineMovable,
}

/// Parsed boot parameters. Fields not given keep the kernel defaults.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BootParams {
    /// The command line as given (shown by /proc/cmdline).
    pub raw: String,
    /// `(name, value)` of every parameter in order (value None for bare words), for the early
    /// memory parameters (`mem=`, `memmap=`) that e820 applies in order. Stops at `--` (what
    /// follows is for init, not the kernel).
    pub params: Vec<(String, Option<String>)>,
    pub numa_off: bool,
    pub numa_noacpi: bool,
    /// `numa=nohmat`.
    pub numa_nohmat: bool,
    /// `numa=fake=` argument, as written.
    pub numa_fake: Option<String>,
    /// Patchset `numa=possible=N` (simple_strtoul; garbage = 0).
    pub numa_possible: u32,
    /// Patchset v1-v3 `numa=hide=` argument, as written.
    pub numa_hide: Option<String>,
    /// `setup_max_cpus` when set by `maxcpus=` (or `nosmp`, which sets it to 0).
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
    /// Lines printed by early-param handlers, as `(index into params, line)`. The kernel prints
    /// them during `parse_early_param`, interleaved with the `mem=`/`memmap=` e820 lines, so
    /// `e820::e820_boot` emits them in place.
    pub early_dmesg: Vec<(usize, String)>,
    /// Lines of the later `parse_args("Booting kernel")` pass (printed after the NUMA and zone
    /// setup), e.g. ``Booting kernel: `x' invalid for parameter `memory_hotplug.auto_movable_ratio'``.
    pub dmesg: Vec<String>,
}

impl Default for BootParams {
    fn default() -> Self {
        BootParams {
            raw: String::new(),
            params: Vec::new(),
            numa_off: false,
            numa_noacpi: false,
            numa_nohmat: false,
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
            early_dmesg: Vec::new(),
            dmesg: Vec::new(),
        }
    }
}

/// x86_64 COMMAND_LINE_SIZE: the kernel keeps at most 2047 bytes.
const COMMAND_LINE_SIZE: usize = 2048;
/// NR_CPUS of the oracle kernel: `nr_cpu_ids` before `nr_cpus=` lowers it.
const NR_CPUS: i32 = 8192;

/// The kernel ctype `isspace`: also 0xa0 (Latin-1 NBSP).
fn is_space(c: u8) -> bool {
    matches!(c, 9..=13 | b' ' | 0xa0)
}

fn skip_spaces(s: &[u8]) -> &[u8] {
    let n = s.iter().take_while(|&&c| is_space(c)).count();
    &s[n..]
}

/// The C string starting at `s` (up to the first NUL).
fn cstr(s: &[u8]) -> &[u8] {
    s.iter().position(|&c| c == 0).map_or(s, |n| &s[..n])
}

/// lib/cmdline.c `next_arg`: one `param[=val]` word; returns (param, val, rest).
fn next_arg(args: &[u8]) -> (Vec<u8>, Option<Vec<u8>>, &[u8]) {
    let quoted = args.first() == Some(&b'"');
    let a = if quoted { &args[1..] } else { args };
    let mut in_quote = quoted;
    let mut equals = 0usize;
    let mut i = 0usize;
    while let Some(&c) = a.get(i) {
        if is_space(c) && !in_quote {
            break;
        }
        if equals == 0 && c == b'=' {
            equals = i;
        }
        if c == b'"' {
            in_quote = !in_quote;
        }
        i += 1;
    }
    let mut word = a[..i].to_vec();
    let mut val_at = None;
    if equals != 0 {
        word[equals] = 0;
        let mut v = equals + 1;
        // Don't include quotes in the value.
        if word.get(v) == Some(&b'"') {
            v += 1;
            if word[i - 1] == b'"' {
                word[i - 1] = 0;
            }
        }
        val_at = Some(v);
    }
    if quoted && i > 0 && word[i - 1] == b'"' {
        word[i - 1] = 0;
    }
    let rest = if i < a.len() { &a[i + 1..] } else { &a[i..] };
    let param = cstr(&word).to_vec();
    let val = val_at.map(|v| cstr(word.get(v..).unwrap_or_default()).to_vec());
    (param, val, skip_spaces(rest))
}

/// kernel/params.c `parameq`: `-` and `_` are the same character in parameter names.
pub(crate) fn parameq(a: &[u8], b: &str) -> bool {
    let dash = |c: u8| if c == b'-' { b'_' } else { c };
    a.len() == b.len() && a.iter().zip(b.bytes()).all(|(&x, y)| dash(x) == dash(y))
}

/// `get_option(&str, &int)` with the kernel's side effects: the int is stored even when no
/// digits follow (as 0), and a lone `-` is consumed. Returns (0..=3, value).
pub(crate) fn get_option_int(s: &[u8], pos: &mut usize) -> (u8, i32) {
    let cur = s.get(*pos..).unwrap_or_default();
    if cur.is_empty() {
        return (0, 0);
    }
    let neg = cur[0] == b'-';
    let start = *pos + usize::from(neg);
    let (v, used) = simple_strtoull(s.get(start..).unwrap_or_default());
    // `int value = simple_strtoull(...)`: the low 32 bits.
    #[allow(clippy::cast_possible_truncation)]
    let low = v as u32 as i32;
    let value = if neg { low.wrapping_neg() } else { low };
    *pos = start + used;
    if used == 0 {
        return (0, value);
    }
    match s.get(*pos) {
        Some(b',') => {
            *pos += 1;
            (2, value)
        }
        Some(b'-') => (3, value),
        _ => (1, value),
    }
}

/// lib/cmdline.c `parse_option_str`: is `option` one of the comma-separated words of `s`?
fn parse_option_str(s: &[u8], option: &[u8]) -> bool {
    s.split(|&c| c == b',').any(|w| w == option)
}

/// State of one `cmdline_parse_core` target (required_*core, *_percent, mirrored_kernelcore).
#[derive(Default)]
struct CoreState {
    pages: u64,
    percent: u64,
    mirror: bool,
}

impl CoreState {
    /// mm/page_alloc.c `cmdline_parse_core`.
    fn parse(&mut self, p: &[u8]) {
        let (v, end) = simple_strtoull(p);
        if p.get(end) == Some(&b'%') {
            self.percent = v;
        } else {
            self.pages = memparse(p).0 >> 12;
            self.percent = 0;
        }
    }

    /// What `find_zone_movable_pfns_for_nodes` acts on: mirror, else a percentage, else pages.
    fn spec(&self) -> Option<CoreSpec> {
        if self.mirror {
            Some(CoreSpec::Mirror)
        } else if self.percent != 0 {
            Some(CoreSpec::Percent(u32::try_from(self.percent).unwrap_or(u32::MAX)))
        } else if self.pages != 0 {
            Some(CoreSpec::Bytes(self.pages << 12))
        } else {
            None
        }
    }
}

const ONLINE_TYPES: [(&str, OnlineType); 4] = [
    ("offline", OnlineType::Offline),
    ("online", OnlineType::Online),
    ("online_kernel", OnlineType::OnlineKernel),
    ("online_movable", OnlineType::OnlineMovable),
];

impl BootParams {
    /// Parse a kernel command line. Never fails: bad values are ignored as the kernel does.
    #[must_use]
    pub fn parse(cmdline: &str) -> BootParams {
        let mut p = BootParams { raw: cmdline.to_string(), ..BootParams::default() };
        let bytes = cstr(cmdline.as_bytes());
        let bytes = &bytes[..bytes.len().min(COMMAND_LINE_SIZE - 1)];
        let mut words = Vec::new();
        let mut args = skip_spaces(bytes);
        while !args.is_empty() {
            let (param, val, rest) = next_arg(args);
            if val.is_none() && param == b"--" {
                break;
            }
            words.push((param, val));
            args = rest;
        }
        let mut kernelcore = CoreState::default();
        let mut movablecore = CoreState::default();
        let mut nr_cpu_ids = NR_CPUS;
        for (idx, (param, val)) in words.iter().enumerate() {
            let val = val.as_deref();
            let ok = p.early_param(idx, param, val, &mut kernelcore, &mut movablecore, &mut nr_cpu_ids);
            if !ok {
                let name = String::from_utf8_lossy(param);
                p.early_dmesg.push((idx, format!("Malformed early option '{name}'")));
            }
        }
        p.kernelcore = kernelcore.spec();
        p.movablecore = movablecore.spec();
        for (param, val) in &words {
            p.late_param(param, val.as_deref());
        }
        p.params = words
            .into_iter()
            .map(|(k, v)| {
                let s = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
                (s(&k), v.as_deref().map(s))
            })
            .collect();
        p
    }

    /// One `early_param` handler; false = it returned nonzero (`Malformed early option`).
    fn early_param(
        &mut self,
        idx: usize,
        param: &[u8],
        val: Option<&[u8]>,
        kernelcore: &mut CoreState,
        movablecore: &mut CoreState,
        nr_cpu_ids: &mut i32,
    ) -> bool {
        let get_int = |v: Option<&[u8]>| {
            let v = v?;
            let mut pos = 0;
            (!v.is_empty()).then(|| get_option_int(v, &mut pos))
        };
        if parameq(param, "mem") {
            // arch/x86/kernel/e820.c parse_memopt; e820_boot applies the size itself.
            let Some(v) = val else { return false };
            if v == b"nopentium" {
                let line = "mem=nopentium ignored! (only supported on x86_32)".to_string();
                self.early_dmesg.push((idx, line));
                return false;
            }
            return memparse(v).0 != 0;
        }
        if parameq(param, "numa") {
            return val.is_some_and(|v| self.numa_setup(v));
        }
        if parameq(param, "maxcpus") {
            if let Some((_, n)) = get_int(val) {
                #[allow(clippy::cast_sign_loss)]
                let n = n as u32;
                self.maxcpus = Some(n);
            }
        } else if parameq(param, "nr_cpus") {
            if let Some((ret, n)) = get_int(val) {
                if ret != 0 && n > 0 && n < *nr_cpu_ids {
                    *nr_cpu_ids = n;
                    self.nr_cpus = u32::try_from(n).ok();
                }
            }
        } else if parameq(param, "possible_cpus") {
            if let Some((_, n)) = get_int(val) {
                // -1 is the "not given" default of setup_possible_cpus.
                #[allow(clippy::cast_sign_loss)]
                let n = (n != -1).then_some(n as u32);
                self.possible_cpus = n;
            }
        } else if parameq(param, "nosmp") {
            self.nosmp = true;
            self.maxcpus = Some(0);
        } else if parameq(param, "cpu_hpe") {
            self.cpu_hpe = val.is_some_and(|v| v.starts_with(b"on") || v.starts_with(b"1"));
        } else if parameq(param, "movable_node") {
            self.movable_node = true;
        } else if parameq(param, "kernelcore") {
            // The kernel dereferences a missing value here; treat it as malformed.
            let Some(v) = val else { return false };
            if parse_option_str(v, b"mirror") {
                kernelcore.mirror = true;
            } else {
                kernelcore.parse(v);
            }
        } else if parameq(param, "movablecore") {
            let Some(v) = val else { return false };
            movablecore.parse(v);
        } else if parameq(param, "sched_verbose") {
            self.sched_verbose = true;
        }
        true
    }

    /// arch/x86/mm/numa.c `numa_setup` (+ patchset `possible=`, `hide=`): prefix matches.
    fn numa_setup(&mut self, opt: &[u8]) -> bool {
        if opt.starts_with(b"off") {
            self.numa_off = true;
        }
        if let Some(f) = opt.strip_prefix(b"fake=") {
            self.numa_fake = Some(String::from_utf8_lossy(f).into_owned());
            return true;
        }
        if opt.starts_with(b"noacpi") {
            self.numa_noacpi = true;
        }
        if opt.starts_with(b"nohmat") {
            self.numa_nohmat = true;
        }
        if let Some(n) = opt.strip_prefix(b"possible=") {
            self.numa_possible = u32::try_from(simple_strtoull(n).0).unwrap_or(u32::MAX);
        }
        if let Some(h) = opt.strip_prefix(b"hide=") {
            self.numa_hide = Some(String::from_utf8_lossy(h).into_owned());
        }
        true
    }

    /// The `parse_args("Booting kernel")` pass: module parameters and `__setup` handlers.
    fn late_param(&mut self, param: &[u8], val: Option<&[u8]>) {
        let ok = if parameq(param, "memory_hotplug.online_policy") {
            match val {
                Some(v) if sysfs_streq(v, b"contig-zones") => self.online_policy_auto_movable = false,
                Some(v) if sysfs_streq(v, b"auto-movable") => self.online_policy_auto_movable = true,
                _ => {}
            }
            val.is_some_and(|v| sysfs_streq(v, b"contig-zones") || sysfs_streq(v, b"auto-movable"))
        } else if parameq(param, "memory_hotplug.auto_movable_ratio") {
            match val.map(kstrtouint) {
                Some(Ok(n)) => {
                    self.auto_movable_ratio = n;
                    true
                }
                _ => false,
            }
        } else if parameq(param, "memory_hotplug.auto_movable_numa_aware") {
            // param_set_bool: a bare name means "1".
            match kstrtobool(val.unwrap_or(b"1")) {
                Ok(b) => {
                    self.auto_movable_numa_aware = b;
                    true
                }
                Err(_) => false,
            }
        } else if parameq(param, "memory_hotplug.memmap_on_memory") {
            match kstrtobool(val.unwrap_or(b"1")) {
                Ok(b) => {
                    self.memmap_on_memory = b;
                    true
                }
                Err(_) => false,
            }
        } else {
            // __setup("memhp_default_state=") matches the repaired "param=val" by prefix.
            if let Some(v) = val.filter(|_| parameq(param, "memhp_default_state")) {
                if let Some(&(_, t)) = ONLINE_TYPES.iter().find(|(s, _)| sysfs_streq(v, s.as_bytes())) {
                    self.memhp_default_state = Some(t);
                }
            }
            true
        };
        if !ok {
            let v = String::from_utf8_lossy(val.unwrap_or_default());
            let name = String::from_utf8_lossy(param);
            self.dmesg.push(format!("Booting kernel: `{v}' invalid for parameter `{name}'"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn early(p: &BootParams) -> Vec<&str> {
        p.early_dmesg.iter().map(|(_, l)| l.as_str()).collect()
    }

    #[test]
    fn next_arg_quotes_and_double_dash() {
        let p = BootParams::parse("  foo=\"a b\" \"x y\" bar -- mem=1G");
        let s = |k: &str, v: Option<&str>| (k.to_string(), v.map(str::to_string));
        assert_eq!(p.params, vec![s("foo", Some("a b")), s("x y", None), s("bar", None)]);
        let p = BootParams::parse("=a=b c=");
        assert_eq!(p.params, vec![s("=a", Some("b")), s("c", Some(""))]);
    }

    #[test]
    fn cpu_params() {
        let p = BootParams::parse("maxcpus=abc nr-cpus=4 nr_cpus=8 possible_cpus=6 cpu_hpe=1x");
        assert_eq!((p.maxcpus, p.nr_cpus, p.possible_cpus), (Some(0), Some(4), Some(6)));
        assert!(p.cpu_hpe && p.early_dmesg.is_empty());
        let p = BootParams::parse("maxcpus= nosmp maxcpus=2 cpu_hpe=on cpu_hpe=off");
        assert_eq!((p.maxcpus, p.nosmp, p.cpu_hpe), (Some(2), true, false));
    }

    #[test]
    fn malformed_early_options() {
        let p = BootParams::parse("numa mem=nopentium mem=0 mem kernelcore movablecore memmap");
        assert_eq!(
            early(&p),
            [
                "Malformed early option 'numa'",
                "mem=nopentium ignored! (only supported on x86_32)",
                "Malformed early option 'mem'",
                "Malformed early option 'mem'",
                "Malformed early option 'mem'",
                "Malformed early option 'kernelcore'",
                "Malformed early option 'movablecore'",
            ]
        );
        assert_eq!(p.early_dmesg[0].0, 0);
        assert_eq!(p.early_dmesg[2].0, 1);
    }

    #[test]
    fn numa_suboptions() {
        let p = BootParams::parse("numa=offx numa=noacpi numa=fake=2U:10,20 numa=possible=0x3 numa=hide=2*512");
        assert!(p.numa_off && p.numa_noacpi && !p.numa_nohmat);
        assert_eq!(p.numa_fake.as_deref(), Some("2U:10,20"));
        assert_eq!(p.numa_possible, 3);
        assert_eq!(p.numa_hide.as_deref(), Some("2*512"));
        assert_eq!(BootParams::parse("numa=possible=junk").numa_possible, 0);
    }

    #[test]
    fn core_specs() {
        let p = BootParams::parse("kernelcore=1G kernelcore=10% movablecore=0x10000000");
        assert_eq!(p.kernelcore, Some(CoreSpec::Percent(10)));
        assert_eq!(p.movablecore, Some(CoreSpec::Bytes(1 << 28)));
        let p = BootParams::parse("kernelcore=foo,mirror kernelcore=512M movablecore=abc");
        assert_eq!((p.kernelcore, p.movablecore), (Some(CoreSpec::Mirror), None));
    }

    #[test]
    fn memory_hotplug_params() {
        let p = BootParams::parse(
            "memhp_default_state=online_movable memhp_default_state=bogus \
             memory_hotplug.online_policy=auto-movable memory-hotplug.auto-movable-ratio=0x10 \
             memory_hotplug.auto_movable_numa_aware=n memory_hotplug.memmap_on_memory",
        );
        assert_eq!(p.memhp_default_state, Some(OnlineType::OnlineMovable));
        assert!(p.online_policy_auto_movable && !p.auto_movable_numa_aware && p.memmap_on_memory);
        assert_eq!(p.auto_movable_ratio, 16);
        assert!(p.dmesg.is_empty());
        let p = BootParams::parse("memory_hotplug.auto_movable_ratio=abc memory_hotplug.online_policy");
        assert_eq!(p.auto_movable_ratio, 301);
        assert_eq!(
            p.dmesg,
            [
                "Booting kernel: `abc' invalid for parameter `memory_hotplug.auto_movable_ratio'",
                "Booting kernel: `' invalid for parameter `memory_hotplug.online_policy'",
            ]
        );
    }

    #[test]
    fn get_option_side_effects() {
        let mut pos = 0;
        assert_eq!(get_option_int(b"--5,", &mut pos), (0, 0));
        assert_eq!(get_option_int(b"--5,", &mut pos), (2, -5));
        assert_eq!(pos, 4);
    }
}
