//! User faults become IPC (seed 002: "Pagers resolve page faults by IPC"): the kernel
//! calls the faulting thread's pager (or exception handler) on its behalf with the
//! page-fault (or exception) protocol; the reply's map items land in the thread's address
//! space and it resumes. A fault with no handler stops the thread.

use pecan_abi::fpage::{FpageDesc, FpageKind};
use pecan_abi::layout::USER_TOP;
use pecan_abi::timeout::TimeoutKind;
use pecan_abi::{CapRights, Error, Item, MsgTag, proto};
use pecan_hal::{FaultInfo, Hal, UserContext};

use crate::ipc::transfer::Msg;
use crate::kernel::Kernel;
use crate::obj::{Handle, ObjRef};
use crate::thread::{KernelMsg, Source, State};

impl<H: Hal> Kernel<H> {
    /// The running thread faulted in user mode.
    pub fn user_fault(&mut self, info: FaultInfo) {
        self.enter();
        // Stopped by another CPU meanwhile: the fault comes again when it runs.
        let Some(cur) = self.percpu[self.cpu].sched.current.get() else { return self.schedule() };
        crate::counters::bump(&mut self.counters.exceptions);
        crate::counters::bump(&mut self.counters.faults);
        let Some(t) = self.threads.get(cur) else { return };
        let (task, ip, sp, pager, exc) = (t.task, t.ctx.ip(), t.ctx.sp(), t.pager, t.exc_handler);
        let (kmsg, handler) = match info {
            FaultInfo::Page { addr, access } => {
                if self.root_window_fault(task, addr) {
                    self.schedule();
                    return;
                }
                let tag = MsgTag::new(proto::PAGE_FAULT, proto::page_fault::WORDS, 0).0;
                (KernelMsg { tag, words: [addr, ip, access as u64, 0, 0] }, pager)
            }
            FaultInfo::Exception { kind, code, addr } => {
                let tag = MsgTag::new(proto::EXCEPTION, proto::exception::WORDS, 0).0;
                (KernelMsg { tag, words: [kind, ip, sp, code, addr] }, exc)
            }
        };
        if let Some(t) = self.threads.get_mut(cur) {
            t.kmsg = kmsg;
        }
        let gate = match self.lookup(task, handler) {
            Ok(c) if !c.rights.contains(CapRights::SEND) => Err(Error::NoRights),
            Ok(c) => match c.obj {
                ObjRef::Gate(g) => Ok(g),
                _ => Err(Error::WrongType),
            },
            Err(e) => Err(e),
        };
        match gate {
            Ok(g) => self.send_through(cur, g, true, Source::Kernel, TimeoutKind::Never),
            Err(e) => self.fault_unhandled(cur, e),
        }
        self.schedule();
    }

    /// A fault could not be handled: the thread stops (it can be restarted with
    /// `SET_REGS` + `START`).
    pub(crate) fn fault_unhandled(&mut self, h: Handle, e: Error) {
        if self.xfer_interrupted(h) {
            // A page fault of a long IPC: the transfer fails for both instead.
            return;
        }
        let Some(t) = self.threads.get(h) else { return };
        let w = t.kmsg.words;
        log::warn!(
            "thread {}:{}: unhandled {} at {:#x} (ip {:#x}): {:?}; thread stopped",
            h.idx,
            h.generation,
            if MsgTag(t.kmsg.tag).label() == proto::PAGE_FAULT { "page fault" } else { "exception" },
            if MsgTag(t.kmsg.tag).label() == proto::PAGE_FAULT { w[0] } else { w[4] },
            w[1],
            e
        );
        self.block(h, State::Inactive);
    }

    /// Applies a handler's reply to the faulting thread `r`: map items (page fault) into its
    /// whole address space, or new registers / stop (exception). Its registers are
    /// otherwise untouched, so it retries the faulting instruction.
    pub(crate) fn fault_reply(&mut self, m: &Msg, r: Handle) -> Result<MsgTag, Error> {
        let Some(rt) = self.threads.get(r) else { return Err(Error::PartnerDeleted) };
        let kind = MsgTag(rt.kmsg.tag).label();
        let (task, tag) = (rt.task, m.tag);
        let s_task = self.threads.get(m.from).map(|t| t.task).ok_or(Error::PartnerDeleted)?;
        if kind == proto::EXCEPTION {
            if tag.label() == proto::exception::KILL {
                self.block(r, State::Inactive);
                return Ok(tag);
            }
            if tag.words() >= 2 {
                let (ip, sp) = (self.msg_word(m, 0), self.msg_word(m, 1));
                if let Some(t) = self.threads.get_mut(r) {
                    t.ctx.set_ip(ip);
                    t.ctx.set_sp(sp);
                }
            }
            return Ok(tag);
        }
        let window = FpageDesc { kind: FpageKind::Memory, base: 0, order: 47, rights: 7 };
        for k in 0..tag.items() {
            let w0 = self.msg_word(m, tag.words() + 2 * k);
            let w1 = self.msg_word(m, tag.words() + 2 * k + 1);
            match Item::decode(w0, w1)? {
                Item::Map { send_base, fpage } | Item::Grant { send_base, fpage } => {
                    let desc = fpage.decode(USER_TOP)?;
                    if desc.kind == FpageKind::Memory {
                        let grant = matches!(Item::decode(w0, w1), Ok(Item::Grant { .. }));
                        self.map_fpage(s_task, desc, task, window, send_base, grant)?;
                    }
                }
                Item::String(_) => return Err(Error::MalformedMessage),
            }
        }
        Ok(tag)
    }
}
