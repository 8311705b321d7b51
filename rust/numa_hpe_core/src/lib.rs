//! numa_hpe_core: a user-space model of Linux NUMA node, CPU and memory hotplug (Linux 6.1,
//! x86_64, SPARSEMEM, 4 KiB pages), plus the 2010 NUMA Hotplug Emulator patchset's interfaces.
//! Pure Rust: the Python binding lives in `numa_hpe_py`.
#![forbid(unsafe_code)]

pub mod bitmap;
pub mod cmdline;
pub mod cpu_topology;
pub mod e820;
pub mod error;
pub mod firmware;
pub mod numa;
pub mod numa_emulation;
pub mod parse;
pub mod sched_debug;
pub mod sched_domain;
mod sched_groups;
