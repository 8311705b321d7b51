//! numa_hpe_core: a user-space model of Linux NUMA node, CPU and memory hotplug (Linux 6.1,
//! x86_64, SPARSEMEM, 4 KiB pages), plus the 2010 NUMA Hotplug Emulator patchset's interfaces.
//! Pure Rust: the Python binding lives in `numa_hpe_py`.
#![forbid(unsafe_code)]

pub mod bitmap;
pub mod cmdline;
pub mod cpu;
pub mod cpu_hotplug;
pub mod cpu_topology;
pub mod debugfs;
pub mod e820;
pub mod e820_params;
pub mod error;
pub mod export;
pub mod firmware;
pub mod free_area_init;
pub mod machine;
pub mod memory_block;
pub mod memory_hotplug;
pub mod node;
pub mod numa;
pub mod numa_emulation;
pub mod numa_hide;
pub mod numa_init;
pub mod notifier;
pub mod page_alloc;
pub mod parse;
pub mod patchset;
pub mod printk;
pub mod procfs;
pub mod reserve;
pub mod sched_debug;
pub mod sched_domain;
mod sched_groups;
mod sched_update;
pub mod smpboot;
pub mod sysfs_cpu;
pub mod sysfs_memory;
pub mod sysfs_node;
pub mod vfs;
pub mod zone;
pub mod zonelist;
