//! What the core keeps per CPU: the ready lists with the running thread, and the address
//! space loaded on that CPU. `Kernel::cpu` names the CPU the running kernel entry is on.

use crate::obj::table::{Handle, OptHandle};
use crate::sched::Scheduler;

/// The core's state of one CPU.
///
/// `#[repr(C)]`: the loaded task first, then the scheduler (whose hot fields come first and
/// whose ready lists come last), so an arch's fast path reaches both at short offsets.
#[repr(C)]
pub struct PerCpu {
    /// The task whose address space this CPU has loaded.
    pub active_task: OptHandle,
    /// The thread another CPU stopped while it ran here (`Kernel::stop_remote`), until
    /// this CPU's next system-call entry.
    pub stopped: OptHandle,
    /// Ready lists and the running thread of this CPU.
    pub sched: Scheduler,
    /// The thread `handoff.rs` made this (idle) CPU's running thread during the current
    /// kernel entry, until its doorbell rings at the entry's end.
    pub handed: Option<Handle>,
}

impl Default for PerCpu {
    fn default() -> Self {
        Self::new()
    }
}

impl PerCpu {
    /// Nothing loaded, nothing ready.
    pub const fn new() -> Self {
        PerCpu {
            active_task: OptHandle::NONE,
            stopped: OptHandle::NONE,
            sched: Scheduler::new(),
            handed: None,
        }
    }
}

/// The core's state of every CPU, indexed by CPU (`Kernel::percpu[cpu]`).
///
/// `#[repr(C)]`, starting with the address of CPU 0's [`PerCpu`] and the number of CPUs,
/// so an arch's assembly fast path can index it (`layout.rs`): this CPU's state is at
/// `base + cpu * size_of::<PerCpu>()`. Its size is fixed at creation (it never moves).
#[repr(C)]
pub struct PerCpus {
    base: usize,
    count: usize,
    cpus: alloc::vec::Vec<PerCpu>,
}

impl PerCpus {
    /// Offset of the address of CPU 0's state.
    pub const BASE_OFFSET: usize = core::mem::offset_of!(Self, base);
    /// Bytes from one CPU's state to the next.
    pub const SIZE: usize = core::mem::size_of::<PerCpu>();

    /// The state of `n` CPUs (at least one), nothing loaded, nothing ready.
    pub fn new(n: usize) -> Self {
        let cpus: alloc::vec::Vec<PerCpu> = (0..n.max(1)).map(|_| PerCpu::new()).collect();
        PerCpus { base: cpus.as_ptr() as usize, count: cpus.len(), cpus }
    }

    /// The address of CPU 0's state (for the layout tests).
    pub fn base(&self) -> usize {
        self.base
    }

    /// Number of CPUs.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Never: there is at least one CPU.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// CPU `cpu`'s state, if there is such a CPU.
    pub fn get_mut(&mut self, cpu: usize) -> Option<&mut PerCpu> {
        self.cpus.get_mut(cpu)
    }

    /// Every CPU's state, CPU 0 first.
    pub fn iter(&self) -> core::slice::Iter<'_, PerCpu> {
        self.cpus.iter()
    }
}

impl core::ops::Index<usize> for PerCpus {
    type Output = PerCpu;
    #[inline(always)]
    fn index(&self, cpu: usize) -> &PerCpu {
        &self.cpus[cpu]
    }
}

impl core::ops::IndexMut<usize> for PerCpus {
    #[inline(always)]
    fn index_mut(&mut self, cpu: usize) -> &mut PerCpu {
        &mut self.cpus[cpu]
    }
}
