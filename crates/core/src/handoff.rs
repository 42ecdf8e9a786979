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
    /// running thread, to be handed over when this kernel entry ends
    /// ([`Kernel::ring_handoffs`]); true then. False otherwise (the feature or the HAL's
    /// support off, a long IPC under way, a thread stopped there, a reschedule already
    /// asked for), with nothing changed: the caller sends the `Wake` IPI.
    pub(crate) fn hand_off(&mut self, cpu: usize, h: Handle) -> bool {
        if !ON || !H::HANDOFF || cpu == self.cpu {
            return false;
        }
        let Some(t) = self.threads.get(h) else { return false };
        if !((t.state == State::Ready) & (t.cpu as usize == cpu) & self.takes_handoff(h)) {
            return false;
        }
        let pc = &mut self.percpu[cpu];
        pc.sched.current = h.into();
        pc.sched.slice_left = t.timeslice;
        pc.handed = Some(h);
        self.handoffs |= 1u64 << (cpu % 64);
        true
    }

    /// Whether thread `h` could be handed to the CPU it lives on (`Tcb::cpu`), were it
    /// ready: that CPU idle (nothing running, no reschedule pending, no thread stopped there),
    /// `h` outranked by nothing ready there and not migrating, no long IPC under way. The
    /// test [`Kernel::hand_off`] makes, and the fast path's before it writes anything.
    #[inline(always)]
    pub(crate) fn takes_handoff(&self, h: Handle) -> bool {
        if !ON || !H::HANDOFF {
            return false;
        }
        let Some(t) = self.threads.get(h) else { return false };
        let Some(there) = self.percpu.iter().nth(t.cpu as usize) else { return false };
        there.sched.current.get().is_none()
            & !there.sched.need_resched
            & there.stopped.get().is_none()
            & (t.prio >= there.sched.top())
            & (t.next_cpu == t.cpu)
            & !self.long.busy()
    }

    /// The end of a kernel entry: each CPU given a thread by [`Kernel::hand_off`] gets it
    /// handed over now that nothing in this entry can change it any more, if it still runs
    /// that thread and has no reschedule pending (whatever changed it since sent it a `Wake`
    /// or kicked it: it then goes through the kernel instead). Its address space is claimed
    /// there (an ASID allocated if the task has none of this generation) and recorded as
    /// loaded, and the HAL rings that CPU's doorbell.
    #[inline(never)]
    pub(crate) fn ring_handoffs(&mut self) {
        let mut cpus = core::mem::take(&mut self.handoffs);
        while cpus != 0 {
            let cpu = cpus.trailing_zeros() as usize;
            cpus &= cpus - 1;
            let Some(pc) = self.percpu.get_mut(cpu) else { continue };
            let Some(h) = pc.handed.take() else { continue };
            if (pc.sched.current.get() != Some(h)) | pc.sched.need_resched {
                continue;
            }
            let loaded = pc.active_task.get();
            let ready = self.threads.get(h).filter(|t| t.state == State::Ready && !self.long.busy());
            let Some(task) = ready.map(|t| t.task) else {
                // Not ready any more (or a long IPC began), yet nobody told that CPU: it
                // reconsiders under the lock.
                self.resched_cpu(cpu);
                continue;
            };
            // What `prepare_return` would do there: the space, unless that CPU has it loaded.
            let space = if loaded == Some(task) {
                None
            } else {
                match self.claim_space(task, cpu) {
                    Some(s) => Some(s),
                    None => continue,
                }
            };
            // An ASID rollover in `claim_space` kicked every other CPU (a reschedule there).
            let pc = &mut self.percpu[cpu];
            if pc.sched.need_resched {
                continue;
            }
            pc.active_task = task.into();
            let Some(t) = self.threads.get_mut(h) else { continue };
            let ctx = &raw mut t.ctx;
            bump(&mut self.counters.remote_handoffs);
            if self.hal.handoff(cpu, ctx, space) {
                bump(&mut self.counters.ipis);
            }
        }
    }
}
