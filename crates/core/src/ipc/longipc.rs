//! Long IPC (seed 001, "Long IPC (uniprocessor)"): a message with string items is a
//! restartable operation kept in the sender's TCB ([`Xfer`]). Both partners are locked
//! while it runs (the receiver in `State::Locked`); the sender copies chunk by chunk when
//! it is the running thread, from `prepare_return` (the event model's "return to user"),
//! so an interrupt between two chunks is let in and the copy resumes later; a page fault
//! in either string becomes page-fault IPC to the pager of its side (tunneled on the
//! receiver's behalf for its buffer) while the other partner waits locked; a transfer
//! timeout bounds that waiting. `docs/long-ipc.md` has the state machine.
//!
//! The chunks are copied by one of three mechanisms (`copy.rs`); the temporary mapping's
//! window is `window.rs`; the strings' bookkeeping `string.rs`.

extern crate alloc;
use alloc::boxed::Box;
use pecan_abi::fpage::FpageKind;
use pecan_abi::layout::USER_TOP;
use pecan_abi::timeout::TimeoutKind;
use pecan_abi::utcb::{
    BR_STRING_COUNT, BR_STRINGS, MAX_STRING_BUFFERS, TCR_XFER_TIMEOUTS, decode_xfer_timeouts, offset,
};
use pecan_abi::{CapRights, Error, Item, MsgTag, Phase, Status, StringDesc, Timeout, proto};
use pecan_hal::{Hal, UserContext};

use crate::ipc::copy::{Copied, KernelBuffer};
use crate::ipc::string::{self, Buffers, Cursor, Seg};
use crate::ipc::window::Window;
use crate::kernel::Kernel;
use crate::obj::{Handle, ObjRef};
use crate::thread::{Filter, KernelMsg, Source, State};

/// What the sender's system call does once its message is through.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// `Send`: the sender goes on, the receiver is woken.
    Send,
    /// `Call`: the sender waits for the reply, the receiver runs.
    Call,
    /// `Reply`: both go on.
    Reply,
    /// `ReplyWait`: the replier then waits (open) with this receive timeout.
    ReplyWait(Timeout),
}

/// Where a transfer is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum XPhase {
    /// The sender copies (it is ready; the receiver is locked).
    Copy,
    /// The sender's pager resolves a fault in the sender's string (the receiver locked).
    SourceFault,
    /// The receiver's pager resolves a fault in the receiver's buffer, asked on the
    /// receiver's behalf (the sender locked).
    DestFault,
}

/// When the transfer stops waiting for pagers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Deadline {
    /// Never.
    Never,
    /// No page fault may be waited for.
    Zero,
    /// At this tick.
    At(u64),
}

/// Whether the window's flush is left to an untagged address-space switch that follows
/// anyway (cargo feature `window-flush-elision`; seed 001, "Leave thread").
pub const ELIDE_FLUSH: bool = cfg!(feature = "window-flush-elision");

/// Most typed items of a message (every message register an item's two words).
pub const MAX_ITEMS: usize = pecan_abi::MR_COUNT / 2;

/// A transfer in progress, in its sender's TCB.
pub struct Xfer {
    /// What completes it.
    pub op: Op,
    /// The receiving thread.
    pub receiver: Handle,
    /// The label the receiver learns (the gate's; 0 for replies).
    pub gate_label: u64,
    /// The message's label.
    pub msg_label: u64,
    /// Untyped words (item descriptors follow them in the receiver's message).
    pub words: usize,
    /// Where it is.
    pub phase: XPhase,
    n: usize,
    /// The message's typed items, decoded (`0..n`; the rest is stale).
    pub(crate) items: [Option<Item>; MAX_ITEMS],
    k: usize,
    out: usize,
    bufs: Buffers,
    cur: Option<Cursor>,
    deadline: Deadline,
    last_fault: Option<(bool, u64)>,
    /// Copy-in/copy-out: the position where the kernel buffer's round starts.
    pub kround: u64,
    /// Copy-in/copy-out: bytes of the round copied in.
    pub kin: u64,
}

impl Xfer {
    /// An empty record (made once and kept: [`Kernel::xfer_record`]).
    fn new() -> Self {
        Xfer {
            op: Op::Send,
            receiver: Handle::NONE,
            gate_label: 0,
            msg_label: 0,
            words: 0,
            phase: XPhase::Copy,
            n: 0,
            items: [None; MAX_ITEMS],
            k: 0,
            out: 0,
            bufs: Buffers::default(),
            cur: None,
            deadline: Deadline::Never,
            last_fault: None,
            kround: 0,
            kin: 0,
        }
    }

    /// Starts the record afresh for a transfer of `n` items: every field a transfer reads
    /// before writing it, none of the arrays (the items `0..n` and the buffer registers
    /// `0..count` are filled by the caller, buffer descriptors as they are taken).
    fn reset(&mut self, op: Op, receiver: Handle, gate_label: u64, tag: MsgTag) {
        self.op = op;
        self.receiver = receiver;
        self.gate_label = gate_label;
        self.msg_label = tag.label();
        self.words = tag.words();
        self.phase = XPhase::Copy;
        self.n = tag.items().min(MAX_ITEMS);
        self.k = 0;
        self.out = 0;
        self.bufs.count = 0;
        self.bufs.next = 0;
        self.cur = None;
        self.deadline = Deadline::Never;
        self.last_fault = None;
        self.kround = 0;
        self.kin = 0;
    }

    /// Bytes of the current string copied.
    pub fn pos(&self) -> u64 {
        self.cur.map_or(0, |c| c.pos)
    }

    /// Bytes in the current string.
    pub fn total(&self) -> u64 {
        self.cur.map_or(0, |c| c.total)
    }

    /// The next step of the current string, at most `limit` bytes.
    pub fn seg(&self, limit: u64) -> Option<Seg> {
        self.cur?.seg(&self.items, &self.bufs, limit)
    }

    /// The step at position `pos` of the current string.
    pub fn seg_at(&self, pos: u64, limit: u64) -> Option<Seg> {
        let c = Cursor { pos, ..self.cur? };
        c.seg(&self.items, &self.bufs, limit)
    }
}

/// The kernel's long-IPC state (one CPU runs the kernel at a time: one window, one
/// kernel buffer).
#[derive(Default)]
pub struct LongIpc {
    /// Transfers in progress.
    pub active: u32,
    /// The temporary mapping's window.
    pub window: Window,
    /// The copy-in/copy-out buffer.
    pub kbuf: KernelBuffer,
    /// A record kept for the next transfer (saves an allocation per long IPC).
    spare: Option<Box<Xfer>>,
}

impl LongIpc {
    /// Whether `prepare_return` has long-IPC work to look at (one load and branch on the
    /// general path's return; the fast path never looks).
    #[inline(always)]
    pub fn busy(&self) -> bool {
        self.active != 0
    }
}

/// What a run of the copy ended with.
enum Step {
    /// Every item is through.
    Done,
    /// An error ends it for both.
    Failed(Error),
    /// An interrupt is pending.
    Preempted,
    /// A page fault.
    Fault { dst: bool, addr: u64 },
}

/// What [`Kernel::xfer_run`] leaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Run {
    /// An interrupt is pending: the CPU should take it (the copy resumes later).
    Preempted,
    /// The transfer ended, failed or waits for a pager: schedule again.
    Finished,
}

impl<H: Hal> Kernel<H> {
    /// A transfer record to decode a message's items into: the one kept from the last
    /// transfer, or a new one (on the heap, since it is large: made once).
    pub(crate) fn xfer_record(&mut self) -> Box<Xfer> {
        self.long.spare.take().unwrap_or_else(|| Box::new(Xfer::new()))
    }

    /// Keeps record `x` for the next message with items.
    pub(crate) fn xfer_record_keep(&mut self, x: Box<Xfer>) {
        self.long.spare = Some(x);
    }

    /// Starts a long IPC from `s` to `r` (called by `transfer` once the untyped words are
    /// through, with the message's items decoded into `x`): records it in `s`'s TCB and
    /// locks `r`. `s` copies when it next runs ([`Kernel::prepare_return_long`]); the
    /// caller makes it the thread to run (it is ready, or becomes ready).
    pub(crate) fn xfer_begin(
        &mut self,
        s: Handle,
        r: Handle,
        op: Op,
        gate_label: u64,
        tag: MsgTag,
        mut x: Box<Xfer>,
    ) {
        x.reset(op, r, gate_label, tag);
        // The receiver's buffer registers now: its threads may change the UTCB meanwhile.
        let count = (self.utcb_read(r, offset::BR + BR_STRING_COUNT) as usize).min(MAX_STRING_BUFFERS);
        x.bufs.count = count;
        for i in 0..count {
            let w = offset::BR + BR_STRINGS + 2 * i;
            x.bufs.raw[i] = [self.utcb_read(r, w), self.utcb_read(r, w + 1)];
        }
        x.deadline = self.xfer_deadline(s, r);
        if let Some(t) = self.threads.get_mut(s) {
            t.xfer = Some(x);
        }
        if let Some(t) = self.threads.get_mut(r) {
            t.xfer_sender = Some(s);
        }
        self.block(r, State::Locked { partner: s });
        self.long.active += 1;
    }

    /// The earlier of the sender's send-side and the receiver's receive-side transfer
    /// timeout, counted from now.
    fn xfer_deadline(&mut self, s: Handle, r: Handle) -> Deadline {
        let (snd, _) = decode_xfer_timeouts(self.utcb_read(s, offset::TCR + TCR_XFER_TIMEOUTS));
        let (_, rcv) = decode_xfer_timeouts(self.utcb_read(r, offset::TCR + TCR_XFER_TIMEOUTS));
        let at = |t: Timeout, k: &Self| match t.kind() {
            Some(TimeoutKind::Zero) => Deadline::Zero,
            Some(TimeoutKind::Relative(us)) => Deadline::At(k.deadline(us)),
            // Never, or a reserved encoding: no limit.
            _ => Deadline::Never,
        };
        match (at(snd, self), at(rcv, self)) {
            (Deadline::Zero, _) | (_, Deadline::Zero) => Deadline::Zero,
            (Deadline::At(a), Deadline::At(b)) => Deadline::At(a.min(b)),
            (Deadline::At(a), _) | (_, Deadline::At(a)) => Deadline::At(a),
            _ => Deadline::Never,
        }
    }

    /// `prepare_return` while a long IPC is under way (kept out of line: only long IPC
    /// pays for it): loads the next thread's space and, when that thread is a sender in
    /// the middle of a copy, copies. `None`: nothing to run, or an interrupt is pending in
    /// the middle of a copy (the arch idles, takes it, and the copy resumes on the way
    /// back, its window established anew).
    #[cold]
    #[inline(never)]
    pub(crate) fn prepare_return_long(&mut self) -> Option<Handle> {
        loop {
            let cur = self.percpu[self.cpu].sched.current.get()?;
            let t = self.threads.get(cur)?;
            let task = t.task;
            let copying = t.state == State::Ready && t.xfer.as_ref().is_some_and(|x| x.phase == XPhase::Copy);
            if self.percpu[self.cpu].active_task.get() != Some(task) {
                self.activate(task);
            }
            if !copying {
                return Some(cur);
            }
            let run = self.xfer_run(cur);
            // Leaving the copy, for whatever reason: the window goes (seed 001, "Leave
            // thread"); a resumed copy maps it again from the TCB's partner and
            // destination, since the receiver's mappings may have changed meanwhile.
            if run == Run::Preempted {
                self.window_close(true);
                return None;
            }
            self.schedule();
            // Seed 001, "if dest AS = my AS then flush TLB": untagged, the switch to
            // another space the loop makes next drops the window's translations with
            // all the others, so the window's own flush is needed only when the next
            // thread (or idle) stays in this space.
            let switch_follows = self.percpu[self.cpu]
                .sched
                .current
                .get()
                .and_then(|c| self.threads.get(c))
                .is_some_and(|t| Some(t.task) != self.percpu[self.cpu].active_task.get());
            self.window_close(!(ELIDE_FLUSH && switch_follows));
        }
    }

    /// Runs sender `s`'s transfer until it is through, fails, faults or an interrupt is
    /// pending.
    pub(crate) fn xfer_run(&mut self, s: Handle) -> Run {
        let Some(mut x) = self.threads.get_mut(s).and_then(|t| t.xfer.take()) else { return Run::Finished };
        let step = self.xfer_work(s, &mut x);
        if let Some(t) = self.threads.get_mut(s) {
            t.xfer = Some(x);
        }
        match step {
            Step::Done => self.xfer_complete(s),
            Step::Failed(e) => self.xfer_abort(s, e, e),
            Step::Preempted => return Run::Preempted,
            Step::Fault { dst, addr } => self.xfer_fault(s, dst, addr),
        }
        Run::Finished
    }

    /// The items from where `x` stands: map items at once, strings chunk by chunk.
    fn xfer_work(&mut self, s: Handle, x: &mut Xfer) -> Step {
        let r = x.receiver;
        let (Some(s_task), Some(r_task)) =
            (self.threads.get(s).map(|t| t.task), self.threads.get(r).map(|t| t.task))
        else {
            return Step::Failed(Error::PartnerDeleted);
        };
        loop {
            if x.cur.is_none() {
                if x.k >= x.n {
                    return Step::Done;
                }
                match x.items[x.k] {
                    Some(Item::String(_)) => {
                        let end = string::string_end(&x.items, x.n, x.k);
                        match string::start(&x.items, x.k, end, &mut x.bufs) {
                            Ok(c) => x.cur = Some(c),
                            Err(e) => return Step::Failed(e),
                        }
                    }
                    Some(it) => {
                        match self.xfer_map_item(s_task, r, r_task, it, x.words + 2 * x.out) {
                            Ok(true) => x.out += 1,
                            Ok(false) => {}
                            Err(e) => return Step::Failed(e),
                        }
                        x.k += 1;
                        continue;
                    }
                    None => return Step::Done,
                }
            }
            while x.cur.is_some_and(|c| !c.done()) {
                match self.copy_chunk(s, s_task, r_task, x) {
                    Copied::Moved(n) => {
                        if let Some(c) = x.cur.as_mut() {
                            c.pos += n;
                        }
                        x.last_fault = None;
                    }
                    Copied::Fault { dst, addr } => return Step::Fault { dst, addr },
                    Copied::Failed(e) => return Step::Failed(e),
                }
                if x.cur.is_some_and(|c| !c.done()) && self.hal.preempt_pending() {
                    return Step::Preempted;
                }
            }
            let Some(c) = x.cur.take() else { continue };
            // The kernel buffer's round belongs to this string.
            if self.long.kbuf.owner == Some(s) {
                self.long.kbuf.owner = None;
            }
            let d = StringDesc { addr: c.landed(&x.bufs), len: c.total, continued: false }.encode();
            self.set_recv_word(r, x.words + 2 * x.out, d[0]);
            self.set_recv_word(r, x.words + 2 * x.out + 1, d[1]);
            x.out += 1;
            x.k = c.end;
        }
    }

    /// A map or grant item inside a long IPC (as `transfer_items` does it); whether a
    /// descriptor was written at message word `at`.
    fn xfer_map_item(
        &mut self,
        s_task: Handle,
        r: Handle,
        r_task: Handle,
        it: Item,
        at: usize,
    ) -> Result<bool, Error> {
        let (Item::Map { send_base, fpage } | Item::Grant { send_base, fpage }) = it else {
            return Ok(false);
        };
        let desc = fpage.decode(USER_TOP)?;
        if desc.kind == FpageKind::Nil {
            return Ok(false);
        }
        let win_reg = if desc.kind == FpageKind::Memory {
            pecan_abi::utcb::BR_MEM_WINDOW
        } else {
            pecan_abi::utcb::BR_OBJ_WINDOW
        };
        let window = pecan_abi::Fpage(self.utcb_read(r, offset::BR + win_reg))
            .decode(USER_TOP)
            .map_err(|_| Error::MessageOverflow)?;
        if window.kind != desc.kind {
            return Err(Error::MessageOverflow);
        }
        let grant = matches!(it, Item::Grant { .. });
        let placed = self.map_fpage(s_task, desc, r_task, window, send_base, grant)?;
        self.set_recv_word(r, at, it.encode()[0]);
        self.set_recv_word(r, at + 1, placed.0);
        Ok(true)
    }

    /// Everything is through: the receiver gets the message, each side's system call
    /// completes as it would have without strings.
    fn xfer_complete(&mut self, s: Handle) {
        let Some(x) = self.threads.get_mut(s).and_then(|t| t.xfer.take()) else { return };
        self.xfer_drop(s, &x);
        let r = x.receiver;
        let tag = self.received_tag(s, r, MsgTag::new(x.msg_label, x.words, x.out).0);
        self.set_result(r, Status::OK, x.gate_label, tag);
        match x.op {
            Op::Send | Op::Reply => {
                self.set_result(s, Status::OK, 0, 0);
                self.wake(r);
            }
            Op::Call => {
                self.start_wait_reply(s, r, Source::User);
                self.handoff(r);
            }
            Op::ReplyWait(to) => {
                self.set_result(s, Status::OK, 0, 0);
                self.receive(s, Filter::Any, to);
                if self.threads.get(s).is_some_and(|t| t.state.is_blocked()) {
                    self.handoff(r);
                } else {
                    self.wake(r);
                }
            }
        }
        self.long.spare = Some(x);
    }

    /// Forgets transfer `x` of sender `s` (completed or aborted).
    fn xfer_drop(&mut self, s: Handle, x: &Xfer) {
        self.long.active -= 1;
        if self.long.kbuf.owner == Some(s) {
            self.long.kbuf.owner = None;
        }
        if let Some(rt) = self.threads.get_mut(x.receiver) {
            rt.xfer_sender = None;
        }
    }

    /// Ends `s`'s transfer with an error: `e_s` for the sender (send phase), `e_r` for the
    /// receiver (receive phase). Either may be blocked in page-fault IPC: it leaves it.
    /// What was copied stays (as items before a failing one do).
    pub(crate) fn xfer_abort(&mut self, s: Handle, e_s: Error, e_r: Error) {
        let Some(x) = self.threads.get_mut(s).and_then(|t| t.xfer.take()) else { return };
        self.xfer_drop(s, &x);
        let r = x.receiver;
        for (h, e, phase) in [(s, e_s, Phase::Send), (r, e_r, Phase::Receive)] {
            let Some(state) = self.threads.get(h).map(|t| t.state) else { continue };
            if let State::Sending { receiver, .. } = state {
                // Queued at its pager with a fault message.
                self.unlink_sender(receiver, h);
            }
            self.set_error(h, e, phase);
            if state != State::Ready {
                self.wake(h);
            }
        }
        self.long.spare = Some(x);
    }

    /// The sender of the transfer `t` takes part in, if any.
    fn xfer_of(&self, t: Handle) -> Option<Handle> {
        let th = self.threads.get(t)?;
        if th.xfer.is_some() { Some(t) } else { th.xfer_sender }
    }

    /// `CANCEL`, `SUSPEND`, `SET_REGS` of `t`: if it takes part in a transfer, the transfer
    /// ends with `Cancelled` for both. Whether it did.
    pub(crate) fn xfer_cancel(&mut self, t: Handle) -> bool {
        let Some(s) = self.xfer_of(t) else { return false };
        self.xfer_abort(s, Error::Cancelled, Error::Cancelled);
        true
    }

    /// `t` is being deleted: its partner's transfer ends with `PartnerDeleted`.
    pub(crate) fn xfer_deleted(&mut self, t: Handle) {
        match self.xfer_of(t) {
            Some(s) if s == t => self.xfer_abort(s, Error::Cancelled, Error::PartnerDeleted),
            Some(s) => self.xfer_abort(s, Error::PartnerDeleted, Error::Cancelled),
            None => {}
        }
    }

    /// The page-fault IPC of transfer partner `t` could not be answered (its pager's gate
    /// or thread went away, the reply was bad): the transfer ends with `BadAddress` for
    /// both. Whether `t` took part in one.
    pub(crate) fn xfer_interrupted(&mut self, t: Handle) -> bool {
        let Some(s) = self.xfer_of(t) else { return false };
        self.xfer_abort(s, Error::BadAddress, Error::BadAddress);
        true
    }

    /// The transfer timeout expired for `t` (locked, waiting for a pager's answer).
    pub(crate) fn xfer_timed_out(&mut self, t: Handle) {
        if let Some(s) = self.xfer_of(t) {
            self.xfer_abort(s, Error::TransferTimeout, Error::TransferTimeout);
        }
    }

    /// A pager answered the page fault of `f`: returns the thread to make ready. A
    /// transfer's sender goes on copying; a receiver whose fault was tunneled is locked
    /// again and its sender goes on instead. Anyone else: `f` itself.
    pub(crate) fn xfer_fault_answered(&mut self, f: Handle) -> Handle {
        let Some(s) = self.xfer_of(f) else { return f };
        let Some(x) = self.threads.get_mut(s).and_then(|t| t.xfer.as_mut()) else { return f };
        let r = x.receiver;
        match x.phase {
            XPhase::SourceFault if f == s => {
                x.phase = XPhase::Copy;
                // The receiver's transfer timeout stops counting.
                if let Some(rt) = self.threads.get_mut(r) {
                    rt.block_epoch += 1;
                }
                s
            }
            XPhase::DestFault if f == r => {
                x.phase = XPhase::Copy;
                self.block(r, State::Locked { partner: s });
                s
            }
            _ => f,
        }
    }

    /// A page fault at user address `addr` of the receiver's buffer (`dst`) or the
    /// sender's string: page-fault IPC to the pager of that side, on behalf of the thread
    /// whose space it is (seed 001: "tunnel to (partner)"), the other partner locked.
    fn xfer_fault(&mut self, s: Handle, dst: bool, addr: u64) {
        let now = self.wheel.now;
        let Some(x) = self.threads.get_mut(s).and_then(|t| t.xfer.as_mut()) else { return };
        let r = x.receiver;
        let page = addr & !(pecan_hal::PAGE_SIZE - 1);
        let expired = match x.deadline {
            Deadline::Zero => true,
            Deadline::At(t) => now >= t,
            Deadline::Never => false,
        };
        if expired {
            return self.xfer_abort(s, Error::TransferTimeout, Error::TransferTimeout);
        }
        if x.last_fault == Some((dst, page)) || addr >= USER_TOP {
            // The pager answered without making the page accessible.
            return self.xfer_abort(s, Error::BadAddress, Error::BadAddress);
        }
        x.last_fault = Some((dst, page));
        x.phase = if dst { XPhase::DestFault } else { XPhase::SourceFault };
        let deadline = x.deadline;
        let (f, waiting) = if dst { (r, s) } else { (s, r) };
        let Some(gate) = self.pager_gate(f) else {
            return self.xfer_abort(s, Error::BadAddress, Error::BadAddress);
        };
        if self.gates.get(gate).and_then(|g| g.receiver.get()).is_some_and(|p| p == s || p == r) {
            // The pager is one of the two locked partners: it could never answer.
            return self.xfer_abort(s, Error::Deadlock, Error::Deadlock);
        }
        if dst {
            self.block(s, State::Locked { partner: r });
        }
        let Some(ft) = self.threads.get_mut(f) else { return };
        let access = if dst { pecan_abi::MemRights::W.0 } else { pecan_abi::MemRights::R.0 } as u64;
        let tag = MsgTag::new(proto::PAGE_FAULT, proto::page_fault::WORDS, 0).0;
        let access = access | proto::page_fault::IN_TRANSFER;
        ft.kmsg = KernelMsg { tag, words: [addr, ft.ctx.ip(), access, 0, 0] };
        crate::counters::bump(&mut self.counters.faults);
        self.send_through(f, gate, true, Source::Kernel, TimeoutKind::Never);
        // The send may have failed at once (and ended the transfer).
        if let (Deadline::At(at), true) = (deadline, self.threads.get(s).is_some_and(|t| t.xfer.is_some())) {
            self.wheel.arm(&mut self.threads, waiting, at);
        }
    }

    /// The gate of `t`'s pager, if `t` may send page faults through it.
    fn pager_gate(&self, t: Handle) -> Option<Handle> {
        let th = self.threads.get(t)?;
        match self.lookup(th.task, th.pager) {
            Ok(c) if c.rights.contains(CapRights::SEND) => match c.obj {
                ObjRef::Gate(g) => Some(g),
                _ => None,
            },
            _ => None,
        }
    }

    /// Kernel frames long IPC holds (the copy-in/copy-out buffer), for accounting.
    pub fn long_ipc_frames(&self) -> usize {
        self.long.kbuf.frames.len()
    }
}
