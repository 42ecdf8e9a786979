//! Interrupts to IRQ objects (seed 002, "Asynchronous IPC (IRQ)"): a line fires, the kernel
//! masks it and delivers an IRQ-protocol message to the attached thread (now if it waits,
//! otherwise when it next waits); the line stays masked until the thread acknowledges.

use pecan_abi::{MsgTag, Status, proto};
use pecan_hal::{Hal, InterruptController};

use crate::kernel::Kernel;
use crate::list::Which;
use crate::obj::Handle;
use crate::thread::{Filter, State};

impl<H: Hal> Kernel<H> {
    /// A hardware interrupt on `line`.
    pub fn interrupt(&mut self, line: u32) {
        self.enter();
        crate::counters::bump(&mut self.counters.exceptions);
        self.hal.irq().mask(line);
        if let Some(Some(i)) = self.hw_irqs.get(line as usize).copied() {
            self.fire_irq(i);
        }
        self.schedule();
    }

    /// Delivers IRQ object `i` to its thread, or leaves it pending.
    pub(crate) fn fire_irq(&mut self, i: Handle) {
        let Some(q) = self.irqs.get(i) else { return };
        if q.pending {
            return;
        }
        let Some((t, label)) = q.target else {
            if let Some(q) = self.irqs.get_mut(i) {
                q.pending = true;
            }
            return;
        };
        let waiting = matches!(
            self.threads.get(t).map(|x| x.state),
            Some(State::Receiving(Filter::Any)) | Some(State::Receiving(Filter::Irq(_)))
        ) && match self.threads.get(t).map(|x| x.state) {
            Some(State::Receiving(Filter::Irq(w))) => w == i,
            _ => true,
        };
        if waiting {
            if let Some(q) = self.irqs.get_mut(i) {
                q.unacked = true;
            }
            crate::counters::bump(&mut self.counters.irqs);
            self.set_result(t, Status::OK, label, MsgTag::new(proto::IRQ, 0, 0).0);
            self.wake(t);
        } else {
            if let Some(q) = self.irqs.get_mut(i) {
                q.pending = true;
            }
            let Some(tt) = self.threads.get_mut(t) else { return };
            let mut l = tt.pending_irqs;
            l.push_back(&mut self.irqs, i, Which::Irq);
            if let Some(tt) = self.threads.get_mut(t) {
                tt.pending_irqs = l;
            }
        }
    }

    /// Takes IRQ `i` out of its target's pending list.
    pub(crate) fn unpend_irq(&mut self, i: Handle) {
        let Some(q) = self.irqs.get(i) else { return };
        if !q.pending {
            return;
        }
        if let Some((t, _)) = q.target
            && let Some(tt) = self.threads.get(t)
        {
            let mut l = tt.pending_irqs;
            l.remove(&mut self.irqs, i, Which::Irq);
            if let Some(tt) = self.threads.get_mut(t) {
                tt.pending_irqs = l;
            }
        }
        if let Some(q) = self.irqs.get_mut(i) {
            q.pending = false;
        }
    }
}
