//! `Invoke`: a message to a kernel object. The tag's label names the method, the untyped
//! words are its arguments, and the results come back as untyped words.

pub(crate) mod factory;
mod irq;
mod misc;
mod task;
mod thread;

use pecan_abi::object::any;
use pecan_abi::{CapRights, Error, MsgTag, Phase, Status};
use pecan_hal::Hal;

use crate::ipc::transfer::Msg;
use crate::kernel::Kernel;
use crate::obj::{Cap, Handle, ObjRef};
use crate::thread::Source;

/// Up to 16 result words.
#[derive(Default)]
pub(crate) struct Reply {
    words: [u64; 16],
    n: usize,
}

impl Reply {
    /// No results.
    pub fn none() -> Self {
        Reply::default()
    }

    /// These results.
    pub fn of(w: &[u64]) -> Self {
        let n = w.len().min(16);
        let mut r = Reply { n, ..Reply::default() };
        r.words[..n].copy_from_slice(&w[..n]);
        r
    }
}

/// The arguments of an invocation.
pub(crate) struct Args {
    words: [u64; 64],
    n: usize,
}

impl Args {
    /// Argument `i`; `InvalidArgument` if the message is shorter.
    pub fn get(&self, i: usize) -> Result<u64, Error> {
        if i < self.n { Ok(self.words[i]) } else { Err(Error::InvalidArgument) }
    }

    /// Argument `i`, or `default` if the message is shorter.
    pub fn get_or(&self, i: usize, default: u64) -> u64 {
        if i < self.n { self.words[i] } else { default }
    }

    /// All arguments.
    pub fn all(&self) -> &[u64] {
        &self.words[..self.n]
    }
}

/// Requires `rights` on `cap`.
pub(crate) fn need(cap: &Cap, rights: CapRights) -> Result<(), Error> {
    if cap.rights.contains(rights) { Ok(()) } else { Err(Error::NoRights) }
}

impl<H: Hal> Kernel<H> {
    /// The `Invoke` system call of thread `cur`.
    pub(crate) fn invoke(&mut self, cur: Handle) {
        let m = self.message_of(cur, Source::User);
        let tag = match m.tag.check() {
            Ok(t) => t,
            Err(e) => return self.set_error(cur, e, Phase::Send),
        };
        let sel = self.threads.get(cur).map_or(0, |t| pecan_hal::UserContext::sys_cap(&t.ctx));
        let cap = match self.lookup_for(cur, sel, CapRights::NONE) {
            Ok(c) => c,
            Err(e) => return self.set_error(cur, e, Phase::Send),
        };
        let mut args = Args { words: [0; 64], n: tag.words() };
        for i in 0..tag.words() {
            args.words[i] = self.msg_word(&Msg { tag, from: cur, source: Source::User }, i);
        }
        let r = self.dispatch(cur, cap, tag.label(), &args);
        match r {
            Ok(reply) => {
                for i in 0..reply.n {
                    self.set_recv_word(cur, i, reply.words[i]);
                }
                self.set_result(cur, Status::OK, 0, MsgTag::new(0, reply.n, 0).0);
            }
            Err(e) => self.set_error(cur, e, Phase::Send),
        }
    }

    fn dispatch(&mut self, cur: Handle, cap: Cap, method: u64, args: &Args) -> Result<Reply, Error> {
        match method {
            any::IDENTIFY => return Ok(Reply::of(&[cap.obj.obj_type() as u64, cap.rights.0 as u64])),
            any::DESTROY => {
                need(&cap, CapRights::CONTROL)?;
                self.destroy(cap.obj)?;
                return Ok(Reply::none());
            }
            _ => {}
        }
        match cap.obj {
            ObjRef::Factory(f) => self.invoke_factory(cur, cap, f, method, args),
            ObjRef::Task(t) => self.invoke_task(cur, cap, t, method, args),
            ObjRef::Thread(t) => self.invoke_thread(cur, cap, t, method, args),
            ObjRef::Gate(g) => self.invoke_gate(cur, cap, g, method, args),
            ObjRef::Irq(i) => self.invoke_irq(cur, cap, i, method, args),
            ObjRef::Console => self.invoke_console(cap, method, args),
            ObjRef::Machine => self.invoke_machine(cap, method, args),
            ObjRef::IoPorts { first, count } => self.invoke_ioports(cur, cap, first, count, method, args),
        }
    }

    /// Resolves an argument that names a thread (with `rights`) in `cur`'s space.
    pub(crate) fn arg_thread(&self, cur: Handle, sel: u64, rights: CapRights) -> Result<Handle, Error> {
        match self.lookup_for(cur, sel, rights)?.obj {
            ObjRef::Thread(t) => Ok(t),
            _ => Err(Error::WrongType),
        }
    }

    /// Resolves an argument that names a task (with `rights`) in `cur`'s space.
    pub(crate) fn arg_task(&self, cur: Handle, sel: u64, rights: CapRights) -> Result<Handle, Error> {
        match self.lookup_for(cur, sel, rights)?.obj {
            ObjRef::Task(t) => Ok(t),
            _ => Err(Error::WrongType),
        }
    }

    /// The task of thread `cur`.
    pub(crate) fn task_of(&self, cur: Handle) -> Result<Handle, Error> {
        self.threads.get(cur).map(|t| t.task).ok_or(Error::InvalidCap)
    }
}
