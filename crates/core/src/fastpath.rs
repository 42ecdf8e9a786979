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
//! - the partner would lose to a ready thread of higher priority (no direct switch);
//! - the partner runs on another CPU (`Tcb::cpu` differs; the running thread's TCB names
//!   this CPU, so no per-CPU lookup is needed), unless it can be handed there: that CPU
//!   idle, nothing else ready here (`crosscore`, `handoff.rs`); this CPU then goes idle.
//!
//! Every lookup on the way is an array index with a generation check (selector → slot
//! → gate → thread), with no list walk; both threads are fetched and checked in one
//! step. The lookups are a chain of dependent loads, each of which may fail: they exit
//! early (a compare and a branch each, fewer instructions than carrying stand-ins to the
//! end, measured); the independent conditions are then combined into one test.
//! The caller is not linked into any list while it waits for the reply (`State::WaitReply`
//! names the callee; deleting the callee scans the thread table). The switch is direct,
//! donating the time slice, with no ready-queue operation under lazy queues; the address
//! space is switched only when the task differs, with its ASID (no TLB flush). The
//! scheduler and loaded space are this CPU's (`Kernel::percpu[Kernel::cpu]`, the CPU read
//! from `Hal::cpu_id` first).

use pecan_abi::{CapRights, Control, REG_MRS, Status, Sys, Timeout};
use pecan_hal::{Asid, Hal, Mmu, UserContext};

use crate::counters::bump;
use crate::kernel::{Kernel, cross_flag};
use crate::obj::cap::{Cap, CapSlot};
use crate::obj::{Handle, ObjRef};
use crate::thread::{Filter, Reply, Source, SpaceCache, State};

/// Whether the fast path is compiled in (cargo feature `fastpath`).
pub const ON: bool = cfg!(feature = "fastpath");

/// The call the fast path takes: `Call` with both timeouts never.
pub const CALL: u64 = Control::new(Sys::Call, Timeout::NEVER, Timeout::NEVER).0;
/// The reply-and-wait the fast path takes: `ReplyWait` with both timeouts never.
pub const REPLY_WAIT: u64 = Control::new(Sys::ReplyWait, Timeout::NEVER, Timeout::NEVER).0;
/// Control-word bits that must be zero for a `Null`: the number and the reserved bits
/// (a null system call ignores its timeouts).
pub const NOT_NULL: u64 = 0xffff_0000_0000_ffff;
/// Tag bits below the label: flags (15..12), typed items (11..7), untyped words (6..0).
const TAG_LOW: u64 = 0xffff;
/// Tag bits holding the untyped-word count.
const TAG_WORDS: u64 = 0x7f;

/// The words of a tag that passed [`tag_slow`] (bounded again, for the compiler).
#[inline(always)]
#[allow(clippy::unnecessary_min_or_max)] // REG_MRS is 0 without `reg-transfer`
fn reg_words(tag: u64) -> usize {
    ((tag & TAG_WORDS) as usize).min(REG_MRS)
}

/// Whether a tag is not short and plain: items, flags, or more than `REG_MRS` words. One
/// comparison: any flag or item bit makes the low 16 bits exceed `REG_MRS`.
#[inline(always)]
fn tag_slow(tag: u64) -> bool {
    (tag & TAG_LOW) as usize > REG_MRS
}

impl<H: Hal> Kernel<H> {
    /// Tries the running thread's system call on the fast path. Returns the context of
    /// the thread to resume (the new [`Kernel::current`], whose address space is loaded:
    /// the arch only restores it) if it was done, or the null pointer if this CPU is left
    /// idle (the partner was handed to its own idle CPU); `None` if not, and then nothing
    /// changed and the general path ([`Kernel::syscall_general`]) must run.
    ///
    /// The pointer stays valid while the thread lives: thread storage never moves
    /// (`obj::table`).
    #[inline(always)]
    pub fn fastpath(&mut self) -> Option<*mut H::Context> {
        if !ON {
            return None;
        }
        self.enter();
        let me = self.percpu[self.cpu].sched.current.get()?;
        let control = self.threads.get(me)?.ctx.sys_control();
        let next = if control == CALL {
            self.fast_call(me)
        } else if control == REPLY_WAIT {
            self.fast_reply_wait(me)
        } else if control & NOT_NULL == 0 {
            self.fast_null(me)
        } else {
            None
        };
        if next.is_some() {
            bump(&mut self.counters.exceptions);
            bump(&mut self.counters.syscalls);
            bump(&mut self.counters.fastpath);
        }
        next
    }

    /// `Null`: the results, and back to the same thread.
    #[inline(always)]
    fn fast_null(&mut self, me: Handle) -> Option<*mut H::Context> {
        let need_resched = self.percpu[self.cpu].sched.need_resched;
        let t = self.threads.get_mut(me)?;
        if need_resched | (t.resources != 0) {
            return None;
        }
        t.ctx.set_result(Status::OK.0, 0, 0);
        Some(&mut t.ctx)
    }

    /// `Call` to a waiting receiver: the words, the receiver's results and reply
    /// capability, the caller waits for the reply, the receiver runs.
    #[inline(always)]
    fn fast_call(&mut self, s: Handle) -> Option<*mut H::Context> {
        let st = self.threads.get(s)?;
        let (sel, tag) = (st.ctx.sys_cap(), st.ctx.sys_tag());
        // Selector -> slot -> gate -> receiver: indexing with generation checks. A missing
        // link is an early exit: on this chain of dependent loads that costs fewer
        // instructions than carrying stand-ins to the combined test.
        let slot = self.tasks.get(st.task)?.caps.slot(sel)?;
        let CapSlot { cap: Cap { obj: ObjRef::Gate(gate), rights }, .. } = *slot else { return None };
        let send = rights.contains(CapRights::SEND);
        let g = self.gates.get(gate)?;
        let (r, label) = (g.receiver.get()?, g.label);
        let top = self.percpu[self.cpu].sched.top();
        let cross = self.takes_handoff(r);
        // Both threads at once, each checked once (the receiver's generation included).
        let (st, rt) = self.threads.pair_mut(s, r)?;
        let waits = match rt.state {
            State::Receiving(Filter::Any) => true,
            State::Receiving(Filter::Gate(x)) => x == gate,
            _ => false,
        };
        // One word of slow conditions, one branch (seed 001, "Branch Elimination").
        let remote = rt.cpu != st.cpu;
        let slow = st.resources
            | rt.resources
            | tag_slow(tag) as u32
            | !send as u32
            | !waits as u32
            | ((rt.prio < top) & !remote) as u32
            | (remote & !cross) as u32;
        if slow != 0 {
            return None;
        }
        for i in 0..reg_words(tag) {
            rt.ctx.set_mr(i, st.ctx.mr(i));
        }
        // With no items and no flags the received tag is the sent one (and `CROSS_CPU`).
        rt.ctx.set_result(Status::OK.0, label, tag | cross_flag(remote));
        st.call_count = st.call_count.wrapping_add(1);
        rt.reply_to = Reply { caller: s, call: st.call_count };
        st.state = State::WaitReply { callee: r, source: Source::User };
        st.block_epoch += 1;
        rt.state = State::Ready;
        rt.block_epoch += 1;
        let (task, space, next) = (rt.task, rt.space, &raw mut rt.ctx);
        bump(&mut self.counters.messages);
        self.blocked_here(s);
        if remote {
            return Some(self.fast_cross(r));
        }
        self.fast_handoff(r);
        self.fast_activate(r, task, space);
        Some(next)
    }

    /// `ReplyWait` with a caller waiting and nothing queued for us: the words and the
    /// caller's results, we wait (open), the caller runs.
    #[inline(always)]
    fn fast_reply_wait(&mut self, r: Handle) -> Option<*mut H::Context> {
        // No reply capability: the general path's error.
        let (s, n) = self.threads.get(r)?.reply_to.get()?;
        let top = self.percpu[self.cpu].sched.top();
        let cross = self.takes_handoff(s);
        let (rt, st) = self.threads.pair_mut(r, s)?;
        let tag = rt.ctx.sys_tag();
        // A `matches!`, not `==`: the derived `PartialEq` of `State` is not inlined.
        let caller_waits = matches!(st.state, State::WaitReply { callee, source: Source::User } if callee == r)
            & (st.call_count == n);
        let nothing_queued = rt.send_queue.is_empty() & rt.pending_irqs.is_empty();
        let remote = rt.cpu != st.cpu;
        let slow = st.resources
            | rt.resources
            | tag_slow(tag) as u32
            | !caller_waits as u32
            | !nothing_queued as u32
            | ((st.prio < top) & !remote) as u32
            | (remote & !cross) as u32;
        if slow != 0 {
            return None;
        }
        for i in 0..reg_words(tag) {
            st.ctx.set_mr(i, rt.ctx.mr(i));
        }
        st.ctx.set_result(Status::OK.0, 0, tag | cross_flag(remote));
        rt.ctx.set_result(Status::OK.0, 0, 0);
        rt.reply_to = Reply::NONE;
        rt.state = State::Receiving(Filter::Any);
        rt.block_epoch += 1;
        st.state = State::Ready;
        st.block_epoch += 1;
        let (task, space, next) = (st.task, st.space, &raw mut st.ctx);
        bump(&mut self.counters.messages);
        self.blocked_here(r);
        if remote {
            return Some(self.fast_cross(s));
        }
        self.fast_handoff(s);
        self.fast_activate(s, task, space);
        Some(next)
    }

    /// The running thread blocked and `partner` (ready) lives on another, idle CPU: it is
    /// handed there (`handoff.rs`, rung at once: this is the whole kernel entry) and this
    /// CPU's dispatcher picks what runs here. Returns its context with its space loaded,
    /// or the null pointer: idle.
    #[cold]
    #[inline(never)]
    fn fast_cross(&mut self, partner: Handle) -> *mut H::Context {
        bump(&mut self.counters.handoffs);
        let cpu = self.cpu_of(partner);
        if !crate::sched::LAZY {
            self.percpu[cpu].sched.enqueue(&mut self.threads, partner);
        }
        if !self.hand_off(cpu, partner) {
            // `takes_handoff` said it would: not reached; the general way then.
            self.resched_cpu(cpu);
        }
        let q = &mut self.percpu[self.cpu].sched;
        q.current = q.pick(&mut self.threads).into();
        q.need_resched = false;
        self.reset_slice();
        match self.prepare_return().and_then(|h| self.threads.get_mut(h)) {
            Some(t) => &raw mut t.ctx,
            None => core::ptr::null_mut(),
        }
    }

    /// The running thread `h` blocked: without lazy queues it leaves this CPU's ready list
    /// (with them, nothing to do, not even the lookup of this CPU's lists).
    #[inline(always)]
    fn blocked_here(&mut self, h: Handle) {
        if !crate::sched::LAZY {
            self.percpu[self.cpu].sched.blocked(&mut self.threads, h);
        }
    }

    /// The running thread blocked; `partner` (ready, and outranked by nobody) runs on the
    /// rest of its time slice: [`Kernel::handoff`] after its checks.
    #[inline(always)]
    fn fast_handoff(&mut self, partner: Handle) {
        bump(&mut self.counters.handoffs);
        if cfg!(feature = "direct-switch") {
            let q = &mut self.percpu[self.cpu].sched;
            if !crate::sched::LAZY {
                q.enqueue(&mut self.threads, partner);
            }
            q.current = partner.into();
            q.need_resched = false;
            bump(&mut self.counters.direct_switches);
        } else {
            self.handoff_dispatched(partner);
        }
    }

    /// Loads the address space of `thread` (in `task`, with the cached `space`) unless it
    /// is loaded ([`Kernel::prepare_return`]). A cache of the current ASID generation
    /// gives root and ASID without looking the task up; otherwise [`Kernel::activate`]
    /// (which may allocate an ASID or flush) runs and the cache is refilled.
    #[inline(always)]
    fn fast_activate(&mut self, thread: Handle, task: Handle, space: SpaceCache) {
        // This CPU's state looked up once (the MMU write clobbers memory).
        let pc = &mut self.percpu[self.cpu];
        if pc.active_task.get() == Some(task) {
            return;
        }
        if space.generation == self.asids.generation() {
            // ASID 0 is never handed out: a cached ASID 0 means untagged, where every
            // switch drops the old translations, as `Kernel::activate`'s does.
            let untagged = space.asid == 0;
            self.hal.mmu().activate(space.root, Asid(space.asid), untagged);
            bump(&mut self.counters.as_switches);
            if untagged {
                bump(&mut self.counters.tlb_flushes);
            }
            pc.active_task = task.into();
            return;
        }
        self.activate_and_cache(thread, task);
    }
}
