//! Handing a woken thread straight to an idle CPU (cargo feature `crosscore`): that CPU
//! resumes it from its idle loop without taking the kernel lock (docs/smp.md, "Handoff").
//!
//! When the core wakes a thread for another CPU that runs nothing, the usual way is a
//! `Wake` IPI, after which that CPU takes the kernel lock and reschedules: it waits for the
//! lock the waker still holds, then runs the dispatcher to find what the waker already
//! knew. With a handoff, the waker does the dispatcher's work itself, under the lock that
//! covers the target's state: the woken thread becomes the target's running thread (with a
//! fresh time slice), its address space is recorded as loaded there, and the HAL's
//! doorbell (`pecan_hal::handoff::Doorbell`) tells the target to load that space and
//! return to the thread's registers. The state is the one the dispatcher would have made,
//! so anything that later finds the target otherwise (a kick, a `Wake`, the target's own
//! next kernel entry) sees a consistent kernel.

use pecan_hal::Hal;

use crate::counters::bump;
use crate::kernel::Kernel;
use crate::obj::Handle;
use crate::thread::State;

/// Whether woken threads are handed to idle CPUs (cargo feature `crosscore`).
pub const ON: bool = cfg!(feature = "crosscore");

impl<H: Hal> Kernel<H> {
    /// `h` was just made ready in the lists of CPU `cpu` and outranks what runs there: if
    /// that CPU is another one, runs nothing and has no reschedule pending, `h` becomes its
    /// running thread, with its address space claimed for that CPU (an ASID allocated if it
    /// has none), and the HAL hands it over; true then. False otherwise (the feature or the
    /// HAL's support off, a long IPC under way, a thread stopped there, a reschedule already
    /// asked for), with no scheduling state changed: the caller sends the `Wake` IPI.
    pub(crate) fn hand_off(&mut self, cpu: usize, h: Handle) -> bool {
        if !ON || !H::HANDOFF || cpu == self.cpu || self.long.busy() {
            return false;
        }
        let Some(pc) = self.percpu.get_mut(cpu) else { return false };
        let Some(t) = self.threads.get(h) else { return false };
        let idle = pc.sched.current.get().is_none() & !pc.sched.need_resched & pc.stopped.is_none();
        let plain = (t.state == State::Ready)
            & (t.cpu as usize == cpu)
            & (t.next_cpu == t.cpu)
            & (t.prio >= pc.sched.top());
        if !(idle & plain) {
            return false;
        }
        // What `prepare_return` would do there: the space, unless that CPU has it loaded.
        let (task, loaded) = (t.task, pc.active_task.get() == Some(t.task));
        let space = if loaded {
            None
        } else {
            match self.claim_space(task, cpu) {
                Some(s) => Some(s),
                None => return false,
            }
        };
        // An ASID rollover in `claim_space` kicked every other CPU: still idle, and no
        // reschedule is pending there that this would hide (a kick asks for one).
        let pc = &mut self.percpu[cpu];
        if pc.sched.need_resched {
            return false;
        }
        let Some(t) = self.threads.get_mut(h) else { return false };
        pc.active_task = task.into();
        pc.sched.current = h.into();
        pc.sched.slice_left = t.timeslice;
        let ctx = &raw mut t.ctx;
        bump(&mut self.counters.remote_handoffs);
        if self.hal.handoff(cpu, ctx, space) {
            bump(&mut self.counters.ipis);
        }
        true
    }
}
