//! IPC gates: a capability-named entry point bound to one receiving thread, with a label.

use crate::obj::table::{Handle, OptHandle};

impl crate::obj::table::Vacant for Gate {
    fn vacant() -> Self {
        Gate { receiver: OptHandle::NONE, label: 0, charged_to: Handle::NONE }
    }
}

/// An IPC gate (seed 002: "IPC Gate is bound to Receiver (Thread) ... Add a Label").
///
/// `#[repr(C)]`: an arch's assembly fast path reads `receiver` and `label` (`layout.rs`).
#[derive(Clone, Copy, Debug)]
#[repr(C)]
pub struct Gate {
    /// The thread receiving through this gate (`None`: unbound). Checked for liveness on
    /// every use, so a deleted receiver reads as unbound.
    pub receiver: OptHandle,
    /// The label reported to the receiver with every message through this gate.
    pub label: u64,
    /// The factory the gate is charged to.
    pub charged_to: Handle,
}
