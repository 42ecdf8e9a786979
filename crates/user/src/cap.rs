//! Capability handles: a selector in the task's capability space, typed by what it names.

use pecan_abi::caps::NIL;

/// A capability selector.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct CapSel(pub u64);

impl CapSel {
    /// The nil selector.
    pub const NIL: CapSel = CapSel(NIL);
}

macro_rules! typed_cap {
    ($(#[$m:meta])* $name:ident) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub struct $name(pub CapSel);

        impl $name {
            /// The capability in slot `sel`.
            pub const fn at(sel: u64) -> Self {
                $name(CapSel(sel))
            }
            /// Its selector.
            pub const fn sel(self) -> u64 {
                self.0 .0
            }
            /// As an untyped capability.
            pub const fn any(self) -> AnyCap {
                AnyCap(self.0)
            }
        }
    };
}

typed_cap!(
    /// A capability of unknown type.
    AnyCap
);
typed_cap!(
    /// An IPC gate: send and call through it.
    Gate
);
typed_cap!(
    /// A thread.
    Thread
);
typed_cap!(
    /// A task (address space and capability space).
    Task
);
typed_cap!(
    /// A factory.
    Factory
);
typed_cap!(
    /// An IRQ object.
    Irq
);
typed_cap!(
    /// The kernel console.
    Console
);
typed_cap!(
    /// The machine.
    Machine
);
typed_cap!(
    /// A range of I/O ports (x86_64).
    IoPorts
);
