//! Hotplug notifications for embedders (include/linux/memory.h memory notifier, CPU hotplug
//! states, node online/offline): every machine keeps an event log, and an optional notifier
//! sees each event as it happens. A notifier that refuses a `Going*` event makes the operation
//! fail with its errno and roll back, as a memory notifier returning `notifier_from_errno()`
//! does in the kernel (the matching `Cancel*` event follows).

use std::fmt::Debug;

use serde::{Deserialize, Serialize};

use crate::error::Errno;

/// One hotplug event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Event {
    MemGoingOnline { start_pfn: u64, nr_pages: u64, nid: u32 },
    MemCancelOnline { start_pfn: u64, nr_pages: u64, nid: u32 },
    MemOnline { start_pfn: u64, nr_pages: u64, nid: u32 },
    MemGoingOffline { start_pfn: u64, nr_pages: u64, nid: u32 },
    MemCancelOffline { start_pfn: u64, nr_pages: u64, nid: u32 },
    MemOffline { start_pfn: u64, nr_pages: u64, nid: u32 },
    CpuGoingOnline { cpu: u32 },
    CpuOnline { cpu: u32 },
    CpuGoingOffline { cpu: u32 },
    CpuOffline { cpu: u32 },
    NodeOnline { nid: u32 },
    NodeOffline { nid: u32 },
}

impl Event {
    /// The kernel's name for the event (`MEM_GOING_ONLINE`, `CPU_ONLINE`, `NODE_ONLINE`...).
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            Event::MemGoingOnline { .. } => "MEM_GOING_ONLINE",
            Event::MemCancelOnline { .. } => "MEM_CANCEL_ONLINE",
            Event::MemOnline { .. } => "MEM_ONLINE",
            Event::MemGoingOffline { .. } => "MEM_GOING_OFFLINE",
            Event::MemCancelOffline { .. } => "MEM_CANCEL_OFFLINE",
            Event::MemOffline { .. } => "MEM_OFFLINE",
            Event::CpuGoingOnline { .. } => "CPU_GOING_ONLINE",
            Event::CpuOnline { .. } => "CPU_ONLINE",
            Event::CpuGoingOffline { .. } => "CPU_GOING_OFFLINE",
            Event::CpuOffline { .. } => "CPU_OFFLINE",
            Event::NodeOnline { .. } => "NODE_ONLINE",
            Event::NodeOffline { .. } => "NODE_OFFLINE",
        }
    }

    /// Events a notifier may refuse.
    #[must_use]
    pub fn can_veto(&self) -> bool {
        matches!(
            self,
            Event::MemGoingOnline { .. }
                | Event::MemGoingOffline { .. }
                | Event::CpuGoingOnline { .. }
                | Event::CpuGoingOffline { .. }
        )
    }
}

/// A subscriber. Returning `Err(errno)` for a `Going*` event vetoes the operation; errors for
/// other events are ignored (the kernel ignores them too).
pub trait Notifier: Send + Sync + Debug {
    fn notify(&self, event: &Event) -> Result<(), Errno>;
}
