//! The IPC fast path (seed 001: "Fast Path", "Avoid Table Lookups", "Branch Elimination",
//! "TCB Resources"; seed 003: "Lazy scheduling", "Direct process-switch", "Short messages
//! via reg."), in seL4's `fastpath.c` shape: generic code in the core that an arch's
//! system-call entry runs first, under the same kernel lock, with the thread's registers
//! already saved in its context.
//!
//! It takes a short `Call` or `ReplyWait` whose partner is waiting, and `Null`; everything
//! else returns `false` having changed nothing, and the general path (`ipc/mod.rs`) runs
//! with identical semantics: the same results in the same registers, the same states,
//! epochs, reply capabilities, ready lists, time slice and scheduling decision. The host
//! tests run every IPC test through [`Kernel::syscall`], which tries the fast path first,
//! with the `fastpath` feature on and off (`tests/matrix/00-host.toml`).
//!
//! The slow conditions, all evaluated as values and tested with one branch:
//! - the control word is not exactly `Call` / `ReplyWait` with both timeouts never
//!   (a receive timeout would need the wheel);
//! - the tag has typed items or flags, or more than `REG_MRS` words (the message would
//!   not stay in the saved registers);
//! - either thread has resource bits set (`Tcb::resources`);
//! - `Call`: the selector does not name a live gate with the SEND right, or its receiver
//!   is gone, or is not in an open wait or a closed wait on this gate;
//! - `ReplyWait`: the reply capability names no caller that still waits for this
//!   thread's reply (same call number) from a system call (a kernel-made fault message
//!   needs the fault-reply path), or a sender is queued or an IRQ pending for us (the
//!   wait would not block);
//! - the partner would lose to a ready thread of higher priority (no direct switch).
//!
//! Every lookup on the way is an array index with a generation check (selector → slot
//! → gate → thread), with no list walk: a failed lookup yields a stand-in (the thread
//! itself, which is running and so never waits) whose checks fail, instead of a branch.
//! The caller is not linked into any list while it waits for the reply (`State::WaitReply`
//! names the callee; deleting the callee scans the thread table). The switch is direct,
//! donating the time slice, with no ready-queue operation under lazy queues; the address
//! space is switched only when the task differs, with its ASID (no TLB flush).
//!
//! Threads all run on one CPU for now; a per-CPU fast path (a partner on another CPU
//! goes slow) needs a CPU field in the TCB and per-CPU scheduler state.

use pecan_abi::{CapRights, Control, REG_MRS, Status, Sys, Timeout};
use pecan_hal::{Hal, UserContext};

use crate::counters::bump;
use crate::kernel::Kernel;
use crate::obj::cap::{Cap, CapSlot};
use crate::obj::{Handle, ObjRef};
use crate::thread::{Filter, Source, State};

/// Whether the fast path is compiled in (cargo feature `fastpath`).
pub const ON: bool = cfg!(feature = "fastpath");

/// The call the fast path takes: `Call` with both timeouts never.
pub const CALL: u64 = Control::new(Sys::Call, Timeout::NEVER, Timeout::NEVER).0;
/// The reply-and-wait the fast path takes: `ReplyWait` with both timeouts never.
pub const REPLY_WAIT: u64 = Control::new(Sys::ReplyWait, Timeout::NEVER, Timeout::NEVER).0;
/// Control-word bits that must be zero for a `Null`: the number and the reserved bits
/// (a null system call ignores its timeouts).
const NOT_NULL: u64 = 0xffff_0000_0000_ffff;
/// Tag bits that send a message to the general path: typed items (11..7), flags (15..12).
const TAG_SLOW: u64 = 0xff80;
/// Tag bits holding the untyped-word count.
const TAG_WORDS: u64 = 0x7f;
/// A handle no object has (generations start at 1).
const NO_GATE: Handle = Handle { idx: u32::MAX, generation: 0 };

/// The words of a tag that passed [`tag_slow`] (bounded again, for the compiler).
#[inline(always)]
#[allow(clippy::unnecessary_min_or_max)] // REG_MRS is 0 without `reg-transfer`
fn reg_words(tag: u64) -> usize {
    ((tag & TAG_WORDS) as usize).min(REG_MRS)
}

/// Whether a tag is short and plain: no items, no flags, at most `REG_MRS` words.
#[inline(always)]
fn tag_slow(tag: u64) -> bool {
    (tag & TAG_SLOW != 0) | ((tag & TAG_WORDS) as usize > REG_MRS)
}

impl<H: Hal> Kernel<H> {
    /// Tries the running thread's system call on the fast path. Returns whether it was
    /// done; if not, nothing changed and the general path ([`Kernel::syscall_general`])
    /// must run. When it was, the thread to resume is [`Kernel::current`], its address
    /// space is loaded, and the arch restores its context.
    #[inline]
    pub fn fastpath(&mut self) -> bool {
        if !ON {
            return false;
        }
        let Some(me) = self.sched.current else { return false };
        let Some(t) = self.threads.get(me) else { return false };
        let control = t.ctx.sys_control();
        let done = if control == CALL {
            self.fast_call(me)
        } else if control == REPLY_WAIT {
            self.fast_reply_wait(me)
        } else if control & NOT_NULL == 0 {
            self.fast_null(me)
        } else {
            false
        };
        if done {
            bump(&mut self.counters.exceptions);
            bump(&mut self.counters.syscalls);
            bump(&mut self.counters.fastpath);
        }
        done
    }

    /// `Null`: the results, and back to the same thread.
    #[inline(always)]
    fn fast_null(&mut self, me: Handle) -> bool {
        let need_resched = self.sched.need_resched;
        let Some(t) = self.threads.get_mut(me) else { return false };
        if need_resched | (t.resources != 0) {
            return false;
        }
        t.ctx.set_result(Status::OK.0, 0, 0);
        true
    }

    /// `Call` to a waiting receiver: the words, the receiver's results and reply
    /// capability, the caller waits for the reply, the receiver runs.
    #[inline(always)]
    fn fast_call(&mut self, s: Handle) -> bool {
        let Some(st) = self.threads.get(s) else { return false };
        let (sel, tag) = (st.ctx.sys_cap(), st.ctx.sys_tag());
        // Selector -> slot -> gate -> receiver: indexing with generation checks.
        let slot = self.tasks.get(st.task).and_then(|t| t.caps.get(sel).ok());
        let (gate, send) = match slot {
            Some(&CapSlot { cap: Cap { obj: ObjRef::Gate(g), rights }, .. }) => {
                (g, rights.contains(CapRights::SEND))
            }
            _ => (NO_GATE, false),
        };
        let g = self.gates.get(gate);
        let label = g.map_or(0, |g| g.label);
        // A missing receiver reads as the caller itself, which is running, so not waiting.
        let r = g.and_then(|g| g.receiver).unwrap_or(s);
        let rt = self.threads.get(r).unwrap_or(st);
        let waits = match rt.state {
            State::Receiving(Filter::Any) => true,
            State::Receiving(Filter::Gate(x)) => x == gate,
            _ => false,
        };
        let wins = self.sched.highest().is_none_or(|h| rt.prio >= h);
        let slow = tag_slow(tag) | (st.resources | rt.resources != 0) | !send | !waits | !wins;
        if slow {
            return false;
        }
        let words = reg_words(tag);
        let Some((st, rt)) = self.threads.pair_mut(s, r) else { return false };
        for i in 0..words {
            rt.ctx.set_mr(i, st.ctx.mr(i));
        }
        // With no items and no flags the received tag is the sent one.
        rt.ctx.set_result(Status::OK.0, label, tag);
        st.call_count = st.call_count.wrapping_add(1);
        rt.reply_to = Some((s, st.call_count));
        st.state = State::WaitReply { callee: r, source: Source::User };
        st.block_epoch += 1;
        rt.state = State::Ready;
        rt.block_epoch += 1;
        let task = rt.task;
        bump(&mut self.counters.messages);
        self.sched.blocked(&mut self.threads, s);
        self.fast_handoff(r);
        self.fast_activate(task);
        true
    }

    /// `ReplyWait` with a caller waiting and nothing queued for us: the words and the
    /// caller's results, we wait (open), the caller runs.
    #[inline(always)]
    fn fast_reply_wait(&mut self, r: Handle) -> bool {
        let Some(rt) = self.threads.get(r) else { return false };
        let tag = rt.ctx.sys_tag();
        // A missing caller reads as the replier itself, which is running, so not waiting.
        let (s, n) = rt.reply_to.unwrap_or((r, 0));
        let st = self.threads.get(s).unwrap_or(rt);
        let caller_waits =
            (st.state == State::WaitReply { callee: r, source: Source::User }) & (st.call_count == n);
        let nothing_queued = rt.send_queue.is_empty() & rt.pending_irqs.is_empty();
        let wins = self.sched.highest().is_none_or(|h| st.prio >= h);
        let slow =
            tag_slow(tag) | (st.resources | rt.resources != 0) | !caller_waits | !nothing_queued | !wins;
        if slow {
            return false;
        }
        let words = reg_words(tag);
        let Some((rt, st)) = self.threads.pair_mut(r, s) else { return false };
        for i in 0..words {
            st.ctx.set_mr(i, rt.ctx.mr(i));
        }
        st.ctx.set_result(Status::OK.0, 0, tag);
        rt.ctx.set_result(Status::OK.0, 0, 0);
        rt.reply_to = None;
        rt.state = State::Receiving(Filter::Any);
        rt.block_epoch += 1;
        st.state = State::Ready;
        st.block_epoch += 1;
        let task = st.task;
        bump(&mut self.counters.messages);
        self.sched.blocked(&mut self.threads, r);
        self.fast_handoff(s);
        self.fast_activate(task);
        true
    }

    /// The running thread blocked; `partner` (ready, and outranked by nobody) runs on the
    /// rest of its time slice: [`Kernel::handoff`] after its checks.
    #[inline(always)]
    fn fast_handoff(&mut self, partner: Handle) {
        bump(&mut self.counters.handoffs);
        if cfg!(feature = "direct-switch") {
            if !crate::sched::LAZY {
                self.sched.enqueue(&mut self.threads, partner);
            }
            self.sched.current = Some(partner);
            self.sched.need_resched = false;
            bump(&mut self.counters.direct_switches);
        } else {
            self.handoff_dispatched(partner);
        }
    }

    /// Loads `task`'s address space unless it is loaded ([`Kernel::prepare_return`]).
    #[inline(always)]
    fn fast_activate(&mut self, task: Handle) {
        if self.active_task != Some(task) {
            self.activate(task);
        }
    }
}
