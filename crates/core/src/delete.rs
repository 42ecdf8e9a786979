//! Destroying objects. Every capability to a destroyed object becomes stale (its slot's
//! generation moved on); every thread blocked on it is released with a defined error; its
//! kernel memory returns to the quota it was charged to.

extern crate alloc;
use alloc::vec::Vec;
use pecan_abi::Error;
use pecan_hal::{Hal, Mmu};
use pecan_mm::{FrameSource, PageTable};

use crate::invoke::factory::{FACTORY_COST, GATE_COST, IRQ_COST, task_cost, thread_cost};
use crate::kernel::Kernel;
use crate::obj::task::VmEntry;
use crate::obj::{Handle, ObjRef};
use crate::vm::Flush;

impl<H: Hal> Kernel<H> {
    /// Destroys the object `obj`.
    pub fn destroy(&mut self, obj: ObjRef) -> Result<(), Error> {
        match obj {
            ObjRef::Thread(t) => self.destroy_thread(t),
            ObjRef::Task(t) => self.destroy_task(t),
            ObjRef::Gate(g) => self.destroy_gate(g),
            ObjRef::Irq(i) => self.destroy_irq(i),
            ObjRef::Factory(f) => self.destroy_factory(f),
            ObjRef::Console | ObjRef::Machine | ObjRef::IoPorts { .. } => Err(Error::WrongType),
        }
    }

    /// Destroys thread `t`: its partners get `PartnerDeleted`, its IRQs are detached, its
    /// UTCB is unmapped and freed.
    pub fn destroy_thread(&mut self, t: Handle) -> Result<(), Error> {
        if !self.threads.contains(t) {
            return Err(Error::StaleCap);
        }
        // A long IPC it takes part in ends: its partner gets `PartnerDeleted`.
        self.xfer_deleted(t);
        // Leave whatever it is blocked in (no error to deliver: it is going away).
        self.abort_ipc(t, Error::Cancelled);
        // Everyone blocked on it learns that the partner is gone.
        let (senders, others) = self.waiters(t);
        for s in senders.into_iter().chain(others) {
            self.abort_ipc(s, Error::PartnerDeleted);
        }
        // IRQs delivered to it are detached.
        let attached: Vec<Handle> =
            self.irqs.iter().filter(|(_, q)| q.target.is_some_and(|(x, _)| x == t)).map(|(h, _)| h).collect();
        for i in attached {
            self.detach_irq(i);
        }
        // Running on another CPU: stopped there first.
        self.stop_remote(t);
        let cpu = self.cpu_of(t);
        self.percpu[cpu].sched.dequeue(&mut self.threads, t);
        self.wheel.disarm(&mut self.threads, t);
        if self.percpu[cpu].sched.current.get() == Some(t) {
            self.percpu[cpu].sched.current = crate::obj::OptHandle::NONE;
        }
        let Some(tcb) = self.threads.remove(t) else { return Err(Error::StaleCap) };
        let mut flush = Flush::default();
        self.remove_pte(tcb.task, tcb.utcb_va, &mut flush);
        self.apply_flush(flush);
        self.frames.free_frame(self.hal.mem(), tcb.utcb_frame);
        if let Some(task) = self.tasks.get_mut(tcb.task) {
            task.vm.remove(&tcb.utcb_va);
            task.threads -= 1;
        }
        self.uncharge(tcb.charged_to, thread_cost::<H::Context>());
        Ok(())
    }

    /// Destroys task `t`: its threads, its capabilities and mappings (and, recursively, all
    /// derived from them in other tasks), its page tables.
    pub fn destroy_task(&mut self, t: Handle) -> Result<(), Error> {
        if !self.tasks.contains(t) {
            return Err(Error::StaleCap);
        }
        if self.root_task == Some(t) {
            return Err(Error::InvalidArgument);
        }
        let threads: Vec<Handle> = self.threads.iter().filter(|(_, x)| x.task == t).map(|(h, _)| h).collect();
        for th in threads {
            self.destroy_thread(th)?;
        }
        let mut flush = Flush::default();
        let nodes: Vec<_> = match self.tasks.get(t) {
            Some(task) => task
                .vm
                .values()
                .filter_map(|e| match e {
                    VmEntry::Node(n) => Some(*n),
                    VmEntry::Utcb(_) => None,
                })
                .chain(task.caps.iter().map(|(_, s)| s.node))
                .collect(),
            None => Vec::new(),
        };
        for n in nodes {
            if self.mdb.get(n).is_some() {
                self.unmap_node(n, true, &mut flush);
            }
        }
        self.apply_flush(flush);
        if self.percpu[self.cpu].active_task.get() == Some(t) {
            self.hal.mmu().deactivate();
            self.percpu[self.cpu].active_task = crate::obj::OptHandle::NONE;
        }
        // Another CPU with the space loaded (its thread just deleted, or idle since) lets
        // it go before the tables are freed.
        for cpu in 0..self.percpu.len() {
            if cpu != self.cpu && self.percpu[cpu].active_task.get() == Some(t) {
                self.kick(cpu);
            }
        }
        self.window_release(t);
        let Some(task) = self.tasks.remove(t) else { return Err(Error::StaleCap) };
        let pt = PageTable::<H::Pte>::new(task.root);
        let freed = pt.free_tables(self.hal.mem(), &mut self.frames, 0, USER_ROOT_ENTRIES) as u64;
        self.frames.free_frame(self.hal.mem(), task.root);
        // The root table is part of the task's own cost; the others were charged as made.
        self.uncharge(task.charged_to, freed * pecan_hal::PAGE_SIZE);
        debug_assert_eq!(freed + 1, task.pt_frames, "page-table frames accounted");
        let order = task.caps.size().trailing_zeros() as u8;
        self.uncharge(task.charged_to, task_cost(order));
        Ok(())
    }

    /// Destroys gate `g`: senders blocked on it and a receiver waiting on it get `Cancelled`.
    pub fn destroy_gate(&mut self, g: Handle) -> Result<(), Error> {
        self.unbind_gate(g);
        let gate = self.gates.remove(g).ok_or(Error::StaleCap)?;
        self.uncharge(gate.charged_to, GATE_COST);
        Ok(())
    }

    /// Destroys IRQ object `i` (a hardware line stays masked).
    pub fn destroy_irq(&mut self, i: Handle) -> Result<(), Error> {
        self.detach_irq(i);
        let q = self.irqs.remove(i).ok_or(Error::StaleCap)?;
        if let Some(line) = q.line
            && let Some(slot) = self.hw_irqs.get_mut(line as usize)
        {
            *slot = None;
        }
        if let Some(f) = q.charged_to {
            self.uncharge(f, IRQ_COST);
        }
        Ok(())
    }

    /// Destroys factory `f` and every object charged to it (sub-factories included); its
    /// quota returns to its parent. The root factory cannot be destroyed.
    pub fn destroy_factory(&mut self, f: Handle) -> Result<(), Error> {
        let fa = *self.factories.get(f).ok_or(Error::StaleCap)?;
        let Some(parent) = fa.parent else { return Err(Error::InvalidArgument) };
        let subs: Vec<Handle> =
            self.factories.iter().filter(|(_, x)| x.parent == Some(f)).map(|(h, _)| h).collect();
        for s in subs {
            self.destroy_factory(s)?;
        }
        let tasks: Vec<Handle> =
            self.tasks.iter().filter(|(_, x)| x.charged_to == f).map(|(h, _)| h).collect();
        for t in tasks {
            self.destroy_task(t)?;
        }
        let threads: Vec<Handle> =
            self.threads.iter().filter(|(_, x)| x.charged_to == f).map(|(h, _)| h).collect();
        for t in threads {
            self.destroy_thread(t)?;
        }
        let gates: Vec<Handle> =
            self.gates.iter().filter(|(_, x)| x.charged_to == f).map(|(h, _)| h).collect();
        for g in gates {
            self.destroy_gate(g)?;
        }
        let irqs: Vec<Handle> =
            self.irqs.iter().filter(|(_, x)| x.charged_to == Some(f)).map(|(h, _)| h).collect();
        for i in irqs {
            self.destroy_irq(i)?;
        }
        let fa = self.factories.remove(f).ok_or(Error::StaleCap)?;
        debug_assert_eq!(fa.used, 0, "a destroyed factory's objects were all returned");
        self.uncharge(parent, fa.limit + FACTORY_COST);
        Ok(())
    }
}

/// Root-table entries that belong to user space (the lower half).
pub const USER_ROOT_ENTRIES: usize = 256;
