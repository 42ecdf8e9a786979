//! Factory methods: create tasks, threads, gates, IRQs and factories, charged to a quota.

use pecan_abi::layout::{USER_BOTTOM, USER_TOP};
use pecan_abi::object::factory;
use pecan_abi::{CapRights, Error};
use pecan_hal::{Attrs, Hal, MemType, Mmu, PAGE_SIZE, PhysAddr, UserContext};
use pecan_mm::FrameSource;

use super::{Args, Reply, need};
use crate::kernel::Kernel;
use crate::obj::cap::CapSpace;
use crate::obj::factory::Factory;
use crate::obj::gate::Gate;
use crate::obj::irq::Irq;
use crate::obj::task::{Task, VmEntry};
use crate::obj::{Cap, Handle, ObjRef};
use crate::thread::Tcb;

/// Largest capability-space order a created task may ask for.
pub const MAX_CAP_ORDER: u64 = 16;

/// Bytes a thread costs.
pub(crate) fn thread_cost<C>() -> u64 {
    core::mem::size_of::<Tcb<C>>() as u64 + PAGE_SIZE
}

/// Bytes a task costs (its root table included).
pub(crate) fn task_cost(order: u8) -> u64 {
    core::mem::size_of::<Task>() as u64 + CapSpace::cost(order) + PAGE_SIZE
}

/// Bytes a gate costs.
pub(crate) const GATE_COST: u64 = core::mem::size_of::<Gate>() as u64;
/// Bytes an IRQ object costs.
pub(crate) const IRQ_COST: u64 = core::mem::size_of::<Irq>() as u64;
/// Bytes a factory costs (besides the quota it is given).
pub(crate) const FACTORY_COST: u64 = core::mem::size_of::<Factory>() as u64;

impl<H: Hal> Kernel<H> {
    pub(super) fn invoke_factory(
        &mut self,
        cur: Handle,
        cap: Cap,
        f: Handle,
        method: u64,
        a: &Args,
    ) -> Result<Reply, Error> {
        if method == factory::QUOTA {
            need(&cap, CapRights::SEND)?;
            let fa = self.factories.get(f).ok_or(Error::StaleCap)?;
            return Ok(Reply::of(&[fa.remaining(), fa.limit]));
        }
        need(&cap, CapRights::CONTROL)?;
        let my_task = self.task_of(cur)?;
        let dst = a.get(0)?;
        {
            let t = self.tasks.get(my_task).ok_or(Error::InvalidCap)?;
            if !t.caps.in_range(dst) {
                return Err(Error::InvalidArgument);
            }
            if !t.caps.is_free(dst) {
                return Err(Error::SlotOccupied);
            }
        }
        let obj = match method {
            factory::CREATE_TASK => self.create_task(f, a.get_or(1, 8))?,
            factory::CREATE_THREAD => {
                let task = self.arg_task(cur, a.get(1)?, CapRights::CONTROL)?;
                self.create_thread(f, task, a.get(2)?)?
            }
            factory::CREATE_GATE => {
                let sel = a.get_or(1, 0);
                let recv =
                    if sel == 0 { None } else { Some(self.arg_thread(cur, sel, CapRights::CONTROL)?) };
                self.create_gate(f, recv, a.get_or(2, 0))?
            }
            factory::CREATE_IRQ => self.create_irq(f, None)?,
            factory::CREATE_FACTORY => self.create_factory(f, a.get(1)?)?,
            _ => return Err(Error::InvalidArgument),
        };
        if let Err(e) = self.install_cap(my_task, dst, Cap { obj, rights: CapRights::ALL }) {
            let _ = self.destroy(obj);
            return Err(e);
        }
        Ok(Reply::none())
    }

    /// Charges `bytes` to factory `f`.
    pub(crate) fn charge(&mut self, f: Handle, bytes: u64) -> Result<(), Error> {
        self.factories.get_mut(f).ok_or(Error::StaleCap)?.charge(bytes)
    }

    /// Returns `bytes` to factory `f`.
    pub(crate) fn uncharge(&mut self, f: Handle, bytes: u64) {
        if let Some(fa) = self.factories.get_mut(f) {
            fa.uncharge(bytes);
        }
    }

    /// A new task with an empty address space and `2^order` capability slots.
    pub fn create_task(&mut self, f: Handle, order: u64) -> Result<ObjRef, Error> {
        if order > MAX_CAP_ORDER {
            return Err(Error::InvalidArgument);
        }
        let order = order as u8;
        let cost = task_cost(order);
        self.charge(f, cost)?;
        if !self.tasks.has_room() {
            self.uncharge(f, cost);
            return Err(Error::OutOfMemory);
        }
        let Some(caps) = CapSpace::new(order) else {
            self.uncharge(f, cost);
            return Err(Error::OutOfMemory);
        };
        let Some(root) = self.frames.alloc_frame(self.hal.mem()) else {
            self.uncharge(f, cost);
            return Err(Error::OutOfMemory);
        };
        self.hal.mmu().init_user_root(root);
        let task = Task {
            root,
            asid: Default::default(),
            caps,
            vm: Default::default(),
            pt_frames: 1,
            threads: 0,
            charged_to: f,
            is_root: false,
            ran_on: pecan_hal::CpuSet(0),
            window: PhysAddr(0),
        };
        match self.tasks.insert(task) {
            Ok(h) => Ok(ObjRef::Task(h)),
            Err(t) => {
                self.frames.free_frame(self.hal.mem(), t.root);
                self.uncharge(f, cost);
                Err(Error::OutOfMemory)
            }
        }
    }

    /// A new inactive thread in `task` with its UTCB mapped at `utcb`.
    pub fn create_thread(&mut self, f: Handle, task: Handle, utcb: u64) -> Result<ObjRef, Error> {
        if !utcb.is_multiple_of(PAGE_SIZE) || !(USER_BOTTOM..USER_TOP).contains(&utcb) {
            return Err(Error::InvalidArgument);
        }
        {
            let t = self.tasks.get(task).ok_or(Error::StaleCap)?;
            if t.vm.contains_key(&utcb) || self.window_frame(task, utcb).is_some() {
                return Err(Error::SlotOccupied);
            }
        }
        let cost = thread_cost::<H::Context>();
        self.charge(f, cost)?;
        if !self.threads.has_room() {
            self.uncharge(f, cost);
            return Err(Error::OutOfMemory);
        }
        let Some(frame) = self.frames.alloc_frame(self.hal.mem()) else {
            self.uncharge(f, cost);
            return Err(Error::OutOfMemory);
        };
        let attrs =
            Attrs { read: true, write: true, exec: false, user: true, global: false, mem: MemType::Normal };
        if let Err(e) = self.install_pte(task, utcb, frame, attrs) {
            self.frames.free_frame(self.hal.mem(), frame);
            self.uncharge(f, cost);
            return Err(e);
        }
        let mut ctx = H::Context::new_user(0, 0, 0);
        ctx.set_tls(utcb);
        let mut tcb = Tcb::new(task, ctx, frame, utcb, f);
        // A new thread runs on its creator's CPU.
        tcb.cpu = self.cpu as u32;
        tcb.next_cpu = tcb.cpu;
        let h = match self.threads.insert(tcb) {
            Ok(h) => h,
            Err(_) => unreachable!("room was checked"),
        };
        if let Some(t) = self.tasks.get_mut(task) {
            t.vm.insert(utcb, VmEntry::Utcb(h));
            t.threads += 1;
        }
        self.mark_ran_on(task, self.cpu);
        // The UTCB knows its own address (x86_64 user code reads it FS-relative).
        self.utcb_write(h, pecan_abi::utcb::offset::TCR + pecan_abi::utcb::TCR_SELF, utcb);
        Ok(ObjRef::Thread(h))
    }

    /// A new gate, bound to `receiver` if given.
    pub fn create_gate(&mut self, f: Handle, receiver: Option<Handle>, label: u64) -> Result<ObjRef, Error> {
        self.charge(f, GATE_COST)?;
        match self.gates.insert(Gate { receiver: receiver.into(), label, charged_to: f }) {
            Ok(h) => Ok(ObjRef::Gate(h)),
            Err(_) => {
                self.uncharge(f, GATE_COST);
                Err(Error::OutOfMemory)
            }
        }
    }

    /// A new IRQ object (software-triggered when `line` is `None`).
    pub fn create_irq(&mut self, f: Handle, line: Option<u32>) -> Result<ObjRef, Error> {
        self.charge(f, IRQ_COST)?;
        match self.irqs.insert(Irq::new(line, Some(f))) {
            Ok(h) => Ok(ObjRef::Irq(h)),
            Err(_) => {
                self.uncharge(f, IRQ_COST);
                Err(Error::OutOfMemory)
            }
        }
    }

    /// A new factory with `quota` bytes taken from `f`.
    pub fn create_factory(&mut self, f: Handle, quota: u64) -> Result<ObjRef, Error> {
        let cost = quota.checked_add(FACTORY_COST).ok_or(Error::QuotaExceeded)?;
        self.charge(f, cost)?;
        match self.factories.insert(Factory { limit: quota, used: 0, parent: Some(f) }) {
            Ok(h) => Ok(ObjRef::Factory(h)),
            Err(_) => {
                self.uncharge(f, cost);
                Err(Error::OutOfMemory)
            }
        }
    }
}
