//! Gate and IRQ methods: bind/unbind a gate; attach, detach, acknowledge, trigger an IRQ.

use pecan_abi::object::{gate, irq};
use pecan_abi::{CapRights, Error};
use pecan_hal::{Hal, InterruptController};

use super::{Args, Reply, need};
use crate::kernel::Kernel;
use crate::list::Which;
use crate::obj::{Cap, Handle};
use crate::thread::{Filter, State};

impl<H: Hal> Kernel<H> {
    pub(super) fn invoke_gate(
        &mut self,
        cur: Handle,
        cap: Cap,
        g: Handle,
        method: u64,
        a: &Args,
    ) -> Result<Reply, Error> {
        need(&cap, CapRights::CONTROL)?;
        match method {
            gate::BIND => {
                let t = self.arg_thread(cur, a.get(0)?, CapRights::CONTROL)?;
                let gt = self.gates.get_mut(g).ok_or(Error::StaleCap)?;
                if gt.receiver.get().is_some_and(|r| r != t)
                    && self.threads.contains(gt.receiver.get().unwrap_or(t))
                {
                    return Err(Error::AlreadyBound);
                }
                gt.receiver = t.into();
                gt.label = a.get_or(1, gt.label);
                Ok(Reply::none())
            }
            gate::UNBIND => {
                self.unbind_gate(g);
                Ok(Reply::none())
            }
            _ => Err(Error::InvalidArgument),
        }
    }

    /// Unbinds gate `g`: senders blocked on it and a receiver waiting on it get `Cancelled`.
    pub(crate) fn unbind_gate(&mut self, g: Handle) {
        let Some(r) = self.gates.get(g).and_then(|x| x.receiver.get()) else { return };
        if let Some(gt) = self.gates.get_mut(g) {
            gt.receiver = crate::obj::OptHandle::NONE;
        }
        let senders: alloc::vec::Vec<Handle> = match self.threads.get(r) {
            Some(rt) => rt
                .send_queue
                .collect(&self.threads, Which::Wait)
                .into_iter()
                .filter(|s| matches!(self.threads.get(*s).map(|x| x.state), Some(State::Sending { gate, .. }) if gate == g))
                .collect(),
            None => return,
        };
        for s in senders {
            self.abort_ipc(s, Error::Cancelled);
        }
        if self.threads.get(r).is_some_and(|x| x.state == State::Receiving(Filter::Gate(g))) {
            self.abort_ipc(r, Error::Cancelled);
        }
    }

    pub(super) fn invoke_irq(
        &mut self,
        cur: Handle,
        cap: Cap,
        i: Handle,
        method: u64,
        a: &Args,
    ) -> Result<Reply, Error> {
        match method {
            irq::ATTACH => {
                need(&cap, CapRights::CONTROL)?;
                let t = self.arg_thread(cur, a.get(0)?, CapRights::CONTROL)?;
                let q = self.irqs.get(i).ok_or(Error::StaleCap)?;
                if q.target.is_some_and(|(x, _)| self.threads.contains(x)) {
                    return Err(Error::AlreadyBound);
                }
                let was_pending = q.pending;
                if let Some(q) = self.irqs.get_mut(i) {
                    q.target = Some((t, a.get_or(1, 0)));
                    q.pending = false;
                }
                if let Some(line) = self.irqs.get(i).and_then(|q| q.line) {
                    self.hal.irq().unmask(line);
                }
                if was_pending {
                    self.fire_irq(i);
                }
                Ok(Reply::none())
            }
            irq::DETACH => {
                need(&cap, CapRights::CONTROL)?;
                self.detach_irq(i);
                Ok(Reply::none())
            }
            irq::ACK => {
                need(&cap, CapRights::SEND)?;
                let q = self.irqs.get_mut(i).ok_or(Error::StaleCap)?;
                q.unacked = false;
                if let (Some(line), true) = (q.line, q.target.is_some()) {
                    self.hal.irq().unmask(line);
                }
                Ok(Reply::none())
            }
            irq::TRIGGER => {
                need(&cap, CapRights::SEND)?;
                if !self.irqs.contains(i) {
                    return Err(Error::StaleCap);
                }
                self.fire_irq(i);
                Ok(Reply::none())
            }
            _ => Err(Error::InvalidArgument),
        }
    }

    /// Detaches IRQ `i` from its thread (a thread waiting on it alone gets `Cancelled`).
    pub(crate) fn detach_irq(&mut self, i: Handle) {
        self.unpend_irq(i);
        let Some(q) = self.irqs.get_mut(i) else { return };
        let target = q.target.take();
        q.unacked = false;
        if let Some(line) = q.line {
            self.hal.irq().mask(line);
        }
        if let Some((t, _)) = target
            && self.threads.get(t).is_some_and(|x| x.state == State::Receiving(Filter::Irq(i)))
        {
            self.abort_ipc(t, Error::Cancelled);
        }
    }
}
