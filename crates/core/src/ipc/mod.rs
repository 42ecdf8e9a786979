//! IPC (seed 002, "Types of IPC"; seed 001, "General IPC Algorithm"): send, closed and
//! open wait, call and reply-and-wait, synchronous and unbuffered, with a timeout per
//! phase. The message itself is moved by [`transfer`].

pub mod copy;
pub mod longipc;
pub mod string;
pub mod transfer;
pub mod window;

use pecan_abi::timeout::TimeoutKind;
use pecan_abi::{CapRights, Control, Error, MsgTag, Phase, Status, Sys, Timeout, proto};
use pecan_hal::{Hal, UserContext};

use crate::kernel::Kernel;
use crate::list::Which;
use crate::obj::{Handle, ObjRef};
use crate::thread::{Filter, Reply, Source, State};
use longipc::Op;
use transfer::{Dest, Moved};

/// What an attempt to block yields when the timeout is zero.
enum Block {
    /// The thread blocked.
    Blocked,
    /// Timeout 0: the operation failed with `Timeout`.
    WouldBlock,
}

impl<H: Hal> Kernel<H> {
    /// A system call from the running thread; its arguments are in its saved registers.
    /// Tries the fast path first (`fastpath.rs`), then the general path.
    #[inline]
    pub fn syscall(&mut self) {
        if self.fastpath().is_none() {
            self.syscall_general();
        }
    }

    /// A system call on the general path (every operation, every case).
    #[inline(never)]
    pub fn syscall_general(&mut self) {
        self.enter();
        let Some(cur) = self.percpu[self.cpu].sched.current.get() else {
            // The thread that made the call was stopped by another CPU meanwhile (it was
            // suspended, deleted or given new registers): the call is dropped; a thread
            // that stays blocked learns it was cancelled.
            if let Some(h) = core::mem::take(&mut self.percpu[self.cpu].stopped).get()
                && self.threads.get(h).is_some_and(|t| t.state != State::Ready)
            {
                self.set_result(h, Status::error(Error::Cancelled, Phase::Send), 0, 0);
            }
            return self.schedule();
        };
        crate::counters::bump(&mut self.counters.exceptions);
        crate::counters::bump(&mut self.counters.syscalls);
        let control = Control(self.threads.get(cur).map_or(0, |t| t.ctx.sys_control()));
        match control.sys() {
            Err(e) => self.set_error(cur, e, Phase::Send),
            Ok(Sys::Null) => self.set_result(cur, Status::OK, 0, 0),
            Ok(Sys::Send) => self.sys_send(cur, control, false),
            Ok(Sys::Call) => self.sys_send(cur, control, true),
            Ok(Sys::Reply) => self.sys_reply(cur, control, false),
            Ok(Sys::ReplyWait) => self.sys_reply(cur, control, true),
            Ok(Sys::Wait) => {
                if let Some(t) = self.threads.get_mut(cur) {
                    t.reply_to = Reply::NONE;
                }
                self.receive(cur, Filter::Any, control.recv_timeout());
            }
            Ok(Sys::Recv) => self.sys_recv(cur, control),
            Ok(Sys::Invoke) => self.invoke(cur),
            Ok(Sys::Yield) => {
                self.set_result(cur, Status::OK, 0, 0);
                self.rotate_current();
            }
        }
        self.schedule();
    }

    /// Validates a timeout word.
    fn timeout_kind(t: Timeout) -> Result<TimeoutKind, Error> {
        t.kind().ok_or(Error::InvalidArgument)
    }

    /// Blocks `h` in `state` with timeout `t`, or reports that it would block (timeout 0).
    fn block_with_timeout(&mut self, h: Handle, state: State, t: TimeoutKind) -> Block {
        match t {
            TimeoutKind::Zero => Block::WouldBlock,
            TimeoutKind::Never => {
                self.block(h, state);
                Block::Blocked
            }
            TimeoutKind::Relative(us) => {
                self.block(h, state);
                let at = self.deadline(us);
                self.wheel.arm(&mut self.threads, h, at);
                Block::Blocked
            }
        }
    }

    // ---- send phase ------------------------------------------------------------------

    fn sys_send(&mut self, s: Handle, control: Control, call: bool) {
        // Both timeouts are checked now; the receive timeout is read again when the
        // receive phase of a call starts.
        let send_to =
            match (Self::timeout_kind(control.send_timeout()), Self::timeout_kind(control.recv_timeout())) {
                (Ok(a), Ok(_)) => a,
                _ => return self.set_error(s, Error::InvalidArgument, Phase::Send),
            };
        let Some(t) = self.threads.get(s) else { return };
        let (sel, tag) = (t.ctx.sys_cap(), MsgTag(t.ctx.sys_tag()));
        if let Err(e) = tag.check() {
            return self.set_error(s, e, Phase::Send);
        }
        let gate = match self.lookup_for(s, sel, CapRights::SEND) {
            Ok(c) => match c.obj {
                ObjRef::Gate(g) => g,
                _ => return self.set_error(s, Error::WrongType, Phase::Send),
            },
            Err(e) => return self.set_error(s, e, Phase::Send),
        };
        self.send_through(s, gate, call, Source::User, send_to);
    }

    /// Sends `s`'s message (from its registers or its kernel message) through `gate`: to the
    /// receiver if it waits for it, otherwise blocking `s` in the receiver's send queue.
    pub(crate) fn send_through(
        &mut self,
        s: Handle,
        gate: Handle,
        call: bool,
        source: Source,
        send_to: TimeoutKind,
    ) {
        let Some(g) = self.gates.get(gate) else { return self.send_failed(s, source, Error::StaleCap) };
        let Some(r) = g.receiver.get().filter(|r| self.threads.contains(*r)) else {
            return self.send_failed(s, source, Error::NotBound);
        };
        if r == s {
            return self.send_failed(s, source, Error::Deadlock);
        }
        if self.accepts(r, gate, s) {
            self.deliver(s, r, gate, call, source);
            return;
        }
        let state = State::Sending { gate, receiver: r, call, source };
        match self.block_with_timeout(s, state, send_to) {
            Block::WouldBlock => self.send_failed(s, source, Error::Timeout),
            Block::Blocked => {
                let Some(rt) = self.threads.get_mut(r) else { return };
                let mut q = core::mem::take(&mut rt.send_queue);
                q.push_back(&mut self.threads, s, Which::Wait);
                if let Some(rt) = self.threads.get_mut(r) {
                    rt.send_queue = q;
                }
            }
        }
    }

    /// A send failed before anything was transferred.
    fn send_failed(&mut self, s: Handle, source: Source, e: Error) {
        match source {
            Source::User => self.set_error(s, e, Phase::Send),
            Source::Kernel => self.fault_unhandled(s, e),
        }
    }

    /// Whether `r` is waiting for a message that `s` sends through `gate`.
    fn accepts(&self, r: Handle, gate: Handle, s: Handle) -> bool {
        match self.threads.get(r).map(|t| t.state) {
            Some(State::Receiving(Filter::Any)) => true,
            Some(State::Receiving(Filter::Gate(g))) => g == gate,
            Some(State::Receiving(Filter::Thread(t))) => t == s,
            _ => false,
        }
    }

    /// Moves the message from `s` to the waiting receiver `r` and completes both sides.
    fn deliver(&mut self, s: Handle, r: Handle, gate: Handle, call: bool, source: Source) {
        let label = self.gates.get(gate).map_or(0, |g| g.label);
        crate::counters::bump(&mut self.counters.messages);
        let op = if call { Op::Call } else { Op::Send };
        match self.transfer(s, r, source, Dest::Receiver, op, label) {
            // A long IPC: `s` (running) copies when the kernel returns to it.
            Ok(Moved::Long) => {}
            Ok(Moved::Done(tag)) => {
                let tag = self.received_tag(s, r, tag.0);
                self.set_result(r, Status::OK, label, tag);
                if call {
                    self.start_wait_reply(s, r, source);
                    self.handoff(r);
                } else {
                    if source == Source::User {
                        self.set_result(s, Status::OK, 0, 0);
                    }
                    self.wake(r);
                    if self.threads.get(s).is_some_and(|t| t.state != State::Ready) {
                        self.wake(s);
                    }
                }
            }
            Err(e) => {
                self.set_error(r, e, Phase::Receive);
                self.wake(r);
                self.send_failed(s, source, e);
                if self.threads.get(s).is_some_and(|t| t.state != State::Ready && t.state != State::Inactive)
                {
                    self.wake(s);
                }
            }
        }
    }

    /// After `s`'s call reached `r`: `s` waits for `r`'s reply; `r` holds the reply capability.
    fn start_wait_reply(&mut self, s: Handle, r: Handle, source: Source) {
        let recv_to = self.threads.get(s).map(|t| match source {
            Source::User => Control(t.ctx.sys_control()).recv_timeout(),
            Source::Kernel => Timeout::NEVER,
        });
        let recv_to = recv_to.and_then(|t| t.kind()).unwrap_or(TimeoutKind::Never);
        let Some(st) = self.threads.get_mut(s) else { return };
        st.call_count = st.call_count.wrapping_add(1);
        let n = st.call_count;
        if let Some(rt) = self.threads.get_mut(r) {
            rt.reply_to = Reply { caller: s, call: n };
        }
        match self.block_with_timeout(s, State::WaitReply { callee: r, source }, recv_to) {
            Block::Blocked => {}
            Block::WouldBlock => {
                // A call with receive timeout 0: the reply cannot be there yet.
                if let Some(rt) = self.threads.get_mut(r) {
                    rt.reply_to = Reply::NONE;
                }
                match source {
                    Source::User => self.set_error(s, Error::Timeout, Phase::Receive),
                    Source::Kernel => self.fault_unhandled(s, Error::Timeout),
                }
                self.wake(s);
            }
        }
    }

    /// Unlinks `w` from `r`'s send queue.
    pub(crate) fn unlink_sender(&mut self, r: Handle, w: Handle) {
        let Some(rt) = self.threads.get_mut(r) else { return };
        let mut q = core::mem::take(&mut rt.send_queue);
        q.remove(&mut self.threads, w, Which::Wait);
        if let Some(rt) = self.threads.get_mut(r) {
            rt.send_queue = q;
        }
    }

    // ---- reply -------------------------------------------------------------------------

    fn sys_reply(&mut self, r: Handle, control: Control, then_wait: bool) {
        if Self::timeout_kind(control.send_timeout()).is_err()
            || Self::timeout_kind(control.recv_timeout()).is_err()
        {
            return self.set_error(r, Error::InvalidArgument, Phase::Send);
        }
        let Some(t) = self.threads.get(r) else { return };
        if let Err(e) = MsgTag(t.ctx.sys_tag()).check() {
            return self.set_error(r, e, Phase::Send);
        }
        let caller = t.reply_to.get().take_if_valid(&self.threads, r);
        if let Some(t) = self.threads.get_mut(r) {
            t.reply_to = Reply::NONE;
        }
        let Some((s, source)) = caller else { return self.set_error(r, Error::NoReplyCap, Phase::Send) };
        crate::counters::bump(&mut self.counters.messages);
        let dest = match source {
            Source::User => Dest::Receiver,
            Source::Kernel => Dest::FaultReply,
        };
        let op = if then_wait { Op::ReplyWait(control.recv_timeout()) } else { Op::Reply };
        match self.transfer(r, s, Source::User, dest, op, 0) {
            // A long IPC: the replier (running) copies when the kernel returns to it.
            Ok(Moved::Long) => return,
            Ok(Moved::Done(tag)) => {
                if source == Source::User {
                    let tag = self.received_tag(r, s, tag.0);
                    self.set_result(s, Status::OK, 0, tag);
                }
                self.set_result(r, Status::OK, 0, 0);
            }
            Err(e) => {
                match source {
                    Source::User => self.set_error(s, e, Phase::Receive),
                    Source::Kernel => self.fault_unhandled(s, e),
                }
                self.set_error(r, e, Phase::Send);
                if self.threads.get(s).is_some_and(|t| t.state.is_blocked()) {
                    self.wake(s);
                }
                return;
            }
        }
        // A page fault of a long IPC's partner: the transfer goes on instead.
        let s = if source == Source::Kernel { self.xfer_fault_answered(s) } else { s };
        // An exception handler's reply may have stopped the thread: it is not woken, but
        // a reply-and-wait still waits.
        let stopped = self.threads.get(s).is_some_and(|t| t.state == State::Inactive);
        if then_wait {
            self.receive(r, Filter::Any, control.recv_timeout());
            if stopped {
            } else if self.threads.get(r).is_some_and(|t| t.state.is_blocked()) {
                self.handoff(s);
            } else {
                self.wake(s);
            }
        } else if !stopped {
            self.wake(s);
        }
    }

    // ---- receive phase ---------------------------------------------------------------

    fn sys_recv(&mut self, r: Handle, control: Control) {
        if let Some(t) = self.threads.get_mut(r) {
            t.reply_to = Reply::NONE;
        }
        let sel = self.threads.get(r).map_or(0, |t| t.ctx.sys_cap());
        let filter = if sel == pecan_abi::caps::NIL {
            Filter::Nil
        } else {
            match self.lookup_for(r, sel, CapRights::NONE) {
                Ok(c) => match c.obj {
                    ObjRef::Thread(t) if t == r => return self.set_error(r, Error::Deadlock, Phase::Receive),
                    ObjRef::Thread(t) => Filter::Thread(t),
                    ObjRef::Gate(g) => {
                        if self.gates.get(g).and_then(|g| g.receiver.get()) != Some(r) {
                            return self.set_error(r, Error::NotBound, Phase::Receive);
                        }
                        Filter::Gate(g)
                    }
                    ObjRef::Irq(i) => {
                        if self.irqs.get(i).and_then(|q| q.target).map(|t| t.0) != Some(r) {
                            return self.set_error(r, Error::NotBound, Phase::Receive);
                        }
                        Filter::Irq(i)
                    }
                    _ => return self.set_error(r, Error::WrongType, Phase::Receive),
                },
                Err(e) => return self.set_error(r, e, Phase::Receive),
            }
        };
        self.receive(r, filter, control.recv_timeout());
    }

    /// The receive phase: take a pending IRQ or a queued sender that `filter` accepts, or
    /// block until one comes (or the timeout).
    pub(crate) fn receive(&mut self, r: Handle, filter: Filter, timeout: Timeout) {
        let Some(tk) = timeout.kind() else {
            return self.set_error(r, Error::InvalidArgument, Phase::Receive);
        };
        if matches!(filter, Filter::Any | Filter::Irq(_)) && self.take_pending_irq(r, filter) {
            return;
        }
        let found = self.threads.get(r).and_then(|rt| {
            rt.send_queue.find(&self.threads, Which::Wait, |st| match (filter, st.state) {
                (Filter::Any, _) => true,
                (Filter::Gate(g), State::Sending { gate, .. }) => gate == g,
                _ => false,
            })
        });
        let found = match filter {
            Filter::Thread(t) => self
                .threads
                .get(t)
                .filter(|tt| matches!(tt.state, State::Sending { receiver, .. } if receiver == r))
                .map(|_| t),
            Filter::Nil | Filter::Irq(_) => None,
            _ => found,
        };
        if let Some(s) = found
            && let Some(State::Sending { gate, call, source, .. }) = self.threads.get(s).map(|t| t.state)
        {
            self.unlink_sender(r, s);
            // The sender stops waiting to send (its timeout entry goes stale).
            if let Some(st) = self.threads.get_mut(s) {
                st.block_epoch += 1;
            }
            let label = self.gates.get(gate).map_or(0, |g| g.label);
            crate::counters::bump(&mut self.counters.messages);
            let op = if call { Op::Call } else { Op::Send };
            match self.transfer(s, r, source, Dest::Receiver, op, label) {
                // A long IPC: the receiver is locked, the sender runs and copies.
                Ok(Moved::Long) => self.handoff(s),
                Ok(Moved::Done(tag)) => {
                    let tag = self.received_tag(s, r, tag.0);
                    self.set_result(r, Status::OK, label, tag);
                    if call {
                        self.start_wait_reply(s, r, source);
                    } else {
                        if source == Source::User {
                            self.set_result(s, Status::OK, 0, 0);
                        }
                        self.wake(s);
                    }
                }
                Err(e) => {
                    self.set_error(r, e, Phase::Receive);
                    self.send_failed(s, source, e);
                    if self.threads.get(s).is_some_and(|t| t.state.is_blocked()) {
                        self.wake(s);
                    }
                }
            }
            return;
        }
        if let Block::WouldBlock = self.block_with_timeout(r, State::Receiving(filter), tk) {
            self.set_error(r, Error::Timeout, Phase::Receive);
        }
    }

    /// A timeout expired for thread `h` (called by the timer tick).
    pub(crate) fn timeout_expired(&mut self, h: Handle) {
        let Some(state) = self.threads.get(h).map(|t| t.state) else { return };
        match state {
            State::Sending { receiver, source, .. } => {
                self.unlink_sender(receiver, h);
                self.send_failed(h, source, Error::Timeout);
            }
            State::Receiving(_) => self.set_error(h, Error::Timeout, Phase::Receive),
            State::WaitReply { source, .. } => match source {
                Source::User => self.set_error(h, Error::Timeout, Phase::Receive),
                Source::Kernel => self.fault_unhandled(h, Error::Timeout),
            },
            // Waiting for a long IPC partner's pager: the transfer timeout.
            State::Locked { .. } => return self.xfer_timed_out(h),
            State::Ready | State::Inactive => return,
        }
        if self.threads.get(h).is_some_and(|t| t.state.is_blocked()) {
            self.wake(h);
        }
    }

    /// Aborts the IPC `h` is blocked in with `e` (cancel, deletion of the partner or of the
    /// object waited on) and makes it ready. Returns whether it was blocked.
    pub(crate) fn abort_ipc(&mut self, h: Handle, e: Error) -> bool {
        let Some(t) = self.threads.get(h) else { return false };
        if t.xfer.is_some() || t.xfer_sender.is_some() {
            // A long IPC partner (copying, locked, or in a page fault of the transfer).
            return self.xfer_cancel(h);
        }
        let state = t.state;
        let phase = match state {
            State::Sending { receiver, source, .. } => {
                self.unlink_sender(receiver, h);
                if source == Source::Kernel {
                    self.fault_unhandled(h, e);
                    return true;
                }
                Phase::Send
            }
            State::Receiving(_) => Phase::Receive,
            State::WaitReply { source, .. } => {
                if source == Source::Kernel {
                    self.fault_unhandled(h, e);
                    return true;
                }
                Phase::Receive
            }
            State::Ready | State::Inactive | State::Locked { .. } => return false,
        };
        self.set_error(h, e, phase);
        self.wake(h);
        true
    }

    /// Delivers the first pending IRQ `filter` accepts to `r`; false if none.
    fn take_pending_irq(&mut self, r: Handle, filter: Filter) -> bool {
        let Some(rt) = self.threads.get(r) else { return false };
        let mut list = rt.pending_irqs;
        let found = match filter {
            Filter::Irq(i) => self.irqs.get(i).filter(|q| q.pending).map(|_| i),
            _ => list.head(),
        };
        let Some(i) = found else { return false };
        list.remove(&mut self.irqs, i, Which::Irq);
        if let Some(rt) = self.threads.get_mut(r) {
            rt.pending_irqs = list;
        }
        let label = match self.irqs.get_mut(i) {
            Some(q) => {
                q.pending = false;
                q.unacked = true;
                q.target.map_or(0, |t| t.1)
            }
            None => 0,
        };
        crate::counters::bump(&mut self.counters.irqs);
        self.set_result(r, Status::OK, label, MsgTag::new(proto::IRQ, 0, 0).0);
        true
    }
}

/// The implicit reply capability, checked: the caller must still be waiting for this
/// thread's reply to the same call.
trait ReplyCap {
    fn take_if_valid<C>(
        self,
        threads: &crate::obj::Table<crate::thread::Tcb<C>>,
        me: Handle,
    ) -> Option<(Handle, Source)>;
}

impl ReplyCap for Option<(Handle, u32)> {
    fn take_if_valid<C>(
        self,
        threads: &crate::obj::Table<crate::thread::Tcb<C>>,
        me: Handle,
    ) -> Option<(Handle, Source)> {
        let (s, n) = self?;
        let t = threads.get(s)?;
        match t.state {
            State::WaitReply { callee, source } if callee == me && t.call_count == n => Some((s, source)),
            _ => None,
        }
    }
}
