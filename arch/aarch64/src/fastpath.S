// fastpath.S: the IPC fast path in assembly (`fastpath-asm` feature; docs/fastpath.md):
// `Call` and `ReplyWait` with words in registers, both timeouts never, partner waiting,
// and `Null`, from the vector itself, against the core's exported layout
// (pecan_core::layout) and with the same observable effect as the core's generic fast
// path (crates/core/src/fastpath.rs), which stays the reference: results, states, reply
// capability, call count, block epochs, this CPU's current and need_resched, the address space
// (cached root and ASID), counters, the FP/SIMD trap and PerCpu.current.
//
// vector_svc_fast: the "synchronous, lower EL AArch64" vector of the fast table
//   (vectors.S). In: the CPU's (SP = SP_EL1 = just past the running thread's `Regs`
//   block, every register the thread's). Makes room for the frame like every vector
//   (SP = the thread's `Context`), stores x0..x3, then: not an SVC (ESR_EL1.EC != 0x15):
//   pecan_aarch64_fp_other (user.S); x0 = `Call` or `ReplyWait` with both timeouts never:
//   fp_call / fp_reply_wait; `Null`: fp_null; any other system call:
//   pecan_aarch64_fp_route (user.S, the Rust route). x0..x2 stay the thread's (control
//   word, selector, tag); x3 is scratch.
//
// fp_call / fp_reply_wait: store x4..x30, SP_EL0, ELR, SPSR and TPIDR_EL0 (after that
//   every register but x0..x2 is scratch), take this CPU's word of the kernel lock,
//   check, write, switch. Registers from then on: x19 = this CPU's lock word, x20 = the
//   kernel lock (the kernel at x20 + {D}: the `{D} +` in every kernel offset), x21 =
//   this CPU's core state (the core's `PerCpu`: current, need_resched, top, loaded
//   task; `Kernel::percpu[cpu]`), x22 = the arch's `PerCpu`
//   (TPIDR_EL1), SP = the running thread's `Context` (its TCB fields at negative
//   offsets, `F - {TCB_CTX}`: the running thread's TCB is its context's, and this CPU's
//   current names it, the invariant the generic path relies on too), x23 = the
//   partner's thread-table slot (its TCB at {TV}), x25 = the partner's handle, x24 =
//   the running thread's handle, x13 = the gate's handle (Call), x1 = the partner's
//   label result (Call: the gate's label; ReplyWait: 0), x2 = the tag (also the
//   partner's tag result), x15 = the partner's `Context`; x9..x12 and x14 scratch.
//   Not taken (any slow condition, or the word held): nothing written, the word
//   released, pecan_aarch64_fp_slow (user.S: the kernel stack, then the Rust route,
//   which runs the core's generic fast path or the general path).
//   Done: the word released, the partner's registers loaded from its `Context` except
//   x0..x2, which are its results, set in the registers only (a resumed thread's saved
//   x0..x30 are dead until its next entry stores them again), `eret`.
//
// Locking (`pecan_kernel::lock`, docs/smp.md "Locking"): only THIS CPU's word of the
// kernel lock. It keeps the Rust kernel out on every CPU (that takes every word), not the
// other CPUs' fast paths: so this code reads shared data (tables, capabilities, the ASID
// generation; only a holder of every word writes them) and writes only this CPU's: its
// core state, and threads whose `cpu` is this CPU. The caller runs here, so its `cpu` is
// this CPU (a thread's `cpu` changes only while it runs nowhere); the partner's is checked
// equal to the caller's before any write. The event counters are shared: exclusive
// load/store pairs.
//
// Lookups: the running thread's task needs none (destroying a task destroys its threads
// first, so a running thread's task is alive: only its index is read); the user's
// selector is bounds-checked; a handle the kernel stored (the capability's gate, the
// gate's receiver, the reply capability's caller) is in range, because tables never
// shrink, unless it is "none" (generation 0, index u32::MAX), which is refused first;
// then one generation comparison per handle.

// Adds 1 to the event counter at \off (a `counter::*` offset) of the kernel whose lock is
// at \base, atomically (the fast paths of other CPUs bump the same counters under their own
// lock words), with the scratch registers \a, \v and \s (a `w` register); nothing
// without the `counters` feature.
.macro bump_counter base, off, a, v, s
.if {COUNTERS}
    add     \a, \base, #({D} + {K_COUNTERS} + \off)
.Lbump\@:
    ldxr    \v, [\a]
    add     \v, \v, #1
    stxr    \s, \v, [\a]
    cbnz    \s, .Lbump\@
.endif
.endm

// The vector (see above). 15 instructions of the 32 a vector has room for.
.macro vector_svc_fast
    sub     sp, sp, #{REGS_SIZE}
    stp     x0, x1, [sp, #(16 * 0)]
    stp     x2, x3, [sp, #(16 * 1)]
    mrs     x3, esr_el1
    lsr     x3, x3, #26                     // EC
    cmp     x3, #0x15                       // SVC from AArch64
    b.ne    pecan_aarch64_fp_other
    eor     x3, x0, #{CTRL_HIGH}            // both timeouts never: the number is left
    cmp     x3, #{CALL_NUM}
    b.eq    fp_call
    cmp     x3, #{REPLY_WAIT_NUM}
    b.eq    fp_reply_wait
    tst     x0, #{NOT_NULL}                 // Null: number 0, no reserved bits
    b.eq    fp_null
    b       pecan_aarch64_fp_route
.endm

.if {FASTPATH_ASM}

// The rest of the running thread's registers (x0..x3 are stored), scratch x4..x7.
.macro fp_save
    save_x4_up x4, x5
    mrs     x6, sp_el0
    stp     x30, x6, [sp, #(16 * 15)]
    mrs     x7, tpidr_el0
    str     x7, [sp, #{CTX_TPIDR_EL0}]
.endm

// A tag with items, flags or more than REG_MRS words: the route (nothing taken yet).
// One comparison: any flag or item bit makes the low 16 bits exceed REG_MRS.
.macro fp_tag_check
    and     x3, x2, #0xffff
    cmp     x3, #{REG_MRS}
    b.hi    pecan_aarch64_fp_slow
.endm

// The kernel (`KernelLock`) into x20, the arch's `PerCpu` (TPIDR_EL1) into x22, and THIS
// CPU's word of the kernel lock (PerCpu.lock_word) into x19, taken (0 -> 1, acquire);
// held: the route, which spins for the whole lock. Then x21 = this CPU's core state
// (`Kernel::percpu[cpu]`, cpu = PerCpu.index = `Hal::cpu_id`) and x24 = its running
// thread's handle; none (another CPU stopped the thread while it entered): the route,
// which drops the call.
.macro fp_lock
    adrp    x20, {KERNEL}
    add     x20, x20, :lo12:{KERNEL}
    mrs     x22, tpidr_el1                  // the arch's PerCpu (kept for the return)
    ldr     x19, [x22, #{PERCPU_LOCK_WORD}]
    mov     w9, #1
1:  ldaxr   w10, [x19]
    cbnz    w10, pecan_aarch64_fp_slow
    stxr    w10, w9, [x19]
    cbnz    w10, 1b
    ldr     x9, [x22, #{PERCPU_INDEX}]
    ldr     x21, [x20, #({D} + {PERCPU_BASE})]
    mov     x10, #{PERCPU_SIZE}
    madd    x21, x9, x10, x21
    ldr     x24, [x21, #{CURRENT}]
    tst     x24, #0xffffffff00000000        // none: generation 0
    b.eq    fp_unlock_slow
.endm

// x23 = the thread-table slot of the handle in x25 (kernel-made), or fp_unlock_slow. It
// may be the running thread's own: then the state test that follows fails (a running
// thread is `Ready`), as `Table::pair_mut` refuses it.
.macro fp_partner
    tst     x25, #0xffffffff00000000        // none: generation 0
    b.eq    fp_unlock_slow
    ldr     x10, [x20, #({D} + {THREADS_BASE})]
    mov     x11, #{THREAD_SLOT_SIZE}
    umaddl  x23, w25, w11, x10
    ldr     w9, [x23, #{THREAD_SLOT_GENERATION}]
    cmp     x9, x25, lsr #32
    b.ne    fp_unlock_slow
.endm

// The slow conditions both calls share, for the running thread (SP) and the partner
// (x23), which is to run: resource bits of either, the partner on another CPU (and with
// \rw: a sender queued or an IRQ pending for the replier, whose wait would not block),
// to \other, which tells them apart (the cross-CPU case); one branch (two where `Tcb::cpu` follows `Tcb::resources`: both words of each thread
// in one load, one comparison for "same CPU and same resource bits", then the running
// thread's resource bits zero); the partner outranked by a ready thread (`sched.top()`).
.macro fp_common_slow rw, other
.if {TCB_CPU} == {TCB_RESOURCES} + 4
    ldur    x9, [sp, #({TCB_RESOURCES} - {TCB_CTX})]
    ldr     x10, [x23, #({TV} + {TCB_RESOURCES})]
    cmp     x9, x10
    b.ne    \other
.else
    ldur    w9, [sp, #({TCB_RESOURCES} - {TCB_CTX})]
    ldr     w10, [x23, #({TV} + {TCB_RESOURCES})]
    orr     w9, w9, w10
    ldur    w10, [sp, #({TCB_CPU} - {TCB_CTX})]
    ldr     w11, [x23, #({TV} + {TCB_CPU})]
    eor     w10, w10, w11
    orr     w9, w9, w10
.endif
.if \rw
    ldur    w10, [sp, #({TCB_SEND_QUEUE_LEN} - {TCB_CTX})]
    orr     w9, w9, w10
    ldur    w10, [sp, #({TCB_PENDING_IRQS_LEN} - {TCB_CTX})]
    orr     w9, w9, w10
.endif
    cbnz    w9, \other
    ldrb    w9, [x21, #{TOP}]
    ldrb    w10, [x23, #({TV} + {TCB_PRIO})]
    cmp     w10, w9
    b.lo    fp_unlock_slow
.endm

// The partner's address space (Kernel::fast_activate): nothing if its task's is loaded;
// else its cached root and ASID if the cache is of the current ASID generation (else the
// route: `activate_and_cache`); ASID 0 (untagged, the `asid` feature off) followed
// by `Mmu::activate`'s flush of ASID 0. The last check: from here on, writes. No `isb`
// after the TTBR0_EL1 write: nothing until the `eret` (a context synchronization event)
// touches a user address.
.macro fp_space
    ldr     x9, [x23, #({TV} + {TCB_TASK})]
    ldr     x10, [x21, #{ACTIVE_TASK}]
    cmp     x9, x10
    b.eq    2f
    ldr     x10, [x23, #({TV} + {TCB_SPACE_GENERATION})]
    ldr     x11, [x20, #({D} + {ASID_GENERATION})]
    cmp     x10, x11
    b.ne    fp_unlock_slow
    ldrh    w12, [x23, #({TV} + {TCB_SPACE_ASID})]
    ldr     x10, [x23, #({TV} + {TCB_SPACE_ROOT})]
    orr     x10, x10, x12, lsl #48          // root | ASID << 48
    msr     ttbr0_el1, x10
    cbnz    w12, 1f
    isb                                     // untagged: the switch, then mmu.rs's
    dsb     ishst                           // tlbi! of ASID 0 (no walk of the old
    tlbi    aside1is, xzr                   // tables can refill it afterwards)
    dsb     ish
    isb
    bump_counter x20, {C_TLB_FLUSHES}, x10, x11, w12
1:  str     x9, [x21, #{ACTIVE_TASK}]
    bump_counter x20, {C_AS_SWITCHES}, x10, x11, w12
2:
.endm

// x15 = the partner's context; the tag's words (x2 & 0x7f, at most REG_MRS) copied
// from the running thread's context to it: a branch into a ladder of REG_MRS
// load/store pairs.
.macro fp_words
    add     x15, x23, #({TV} + {TCB_CTX})
    tst     x2, #0x7f
    b.eq    9f
    and     x9, x2, #0x7f
    adr     x10, 9f
    sub     x10, x10, x9, lsl #3
    br      x10
    .irp i, 7, 6, 5, 4, 3, 2, 1, 0
    .if \i < {REG_MRS}
    ldr     x9, [sp, #(({MR_BASE} + \i) * 8)]
    str     x9, [x15, #(({MR_BASE} + \i) * 8)]
    .endif
    .endr
9:
.endm

// Call, done checking: the words, the receiver's reply capability (caller, call number),
// the caller waits for the reply, the receiver is ready. x15 = the receiver's context.
.macro fp_call_writes
    fp_words
    ldur    w9, [sp, #({TCB_CALL_COUNT} - {TCB_CTX})]
    add     w9, w9, #1
    stur    w9, [sp, #({TCB_CALL_COUNT} - {TCB_CTX})]
    str     x24, [x23, #({TV} + {TCB_REPLY_CALLER})] // reply capability: (caller, call number)
    str     w9, [x23, #({TV} + {TCB_REPLY_CALL})]
    mov     w9, #{STATE_WAIT_REPLY}                 // caller: WaitReply(callee, User)
    sturb   w9, [sp, #({TCB_STATE} + {STATE_TAG} - {TCB_CTX})]
    stur    x25, [sp, #({TCB_STATE} + {STATE_CALLEE} - {TCB_CTX})]
    sturb   wzr, [sp, #({TCB_STATE} + {STATE_SOURCE} - {TCB_CTX})]
    mov     w9, #{STATE_READY}                      // receiver: Ready
    strb    w9, [x23, #({TV} + {TCB_STATE} + {STATE_TAG})]
.endm

// ReplyWait, done checking: the words, the replier's results (OK, 0, 0) and open wait
// with no reply capability, the caller is ready; x1 = its label result (0). x15 = the
// caller's context.
.macro fp_reply_wait_writes
    fp_words
    stp     xzr, xzr, [sp, #0]                      // replier: status OK, 0, 0
    str     xzr, [sp, #16]
    mov     x9, #0xffffffff                         // Reply::NONE: u32::MAX, generation 0
    stur    x9, [sp, #({TCB_REPLY_CALLER} - {TCB_CTX})]
    stur    wzr, [sp, #({TCB_REPLY_CALL} - {TCB_CTX})]
    mov     x9, #{STATE_RECV_ANY}                   // replier: Receiving(Any)
    stur    x9, [sp, #({TCB_STATE} - {TCB_CTX})]
    mov     w9, #{STATE_READY}                      // caller: Ready
    strb    w9, [x23, #({TV} + {TCB_STATE} + {STATE_TAG})]
    mov     x1, #0                                  // the caller's label: 0
.endm

// Both threads' block epochs advance (the running thread's, at SP, blocked; the partner's,
// at x23, made ready): their pending timeouts go stale.
.macro fp_block_epochs
    ldur    x9, [sp, #({TCB_BLOCK_EPOCH} - {TCB_CTX})]
    add     x9, x9, #1
    stur    x9, [sp, #({TCB_BLOCK_EPOCH} - {TCB_CTX})]
    ldr     x9, [x23, #({TV} + {TCB_BLOCK_EPOCH})]
    add     x9, x9, #1
    str     x9, [x23, #({TV} + {TCB_BLOCK_EPOCH})]
.endm

// The cross-CPU case's tests (Kernel::takes_handoff and the pick that follows the block
// in `fast_cross`), the partner (x23) living on CPU B = its `cpu` (w9) != this CPU's:
// not migrating, no long IPC under way, and this CPU idles once the running thread (SP)
// blocks (its lists hold nothing else: `queued` is 0, or 1 and that is the running
// thread); then B's lock word, one try (held: the route), into x26, and B's core state
// into x27: nothing running or stopped there, no reschedule asked, the partner
// outranked by nothing queued there, the partner's address space loaded there (else the
// route, which claims it). Any failure after the word is taken: fp_unlock2. Uses x9..x12.
.macro fp_cross
    ldr     w9, [x23, #({TV} + {TCB_CPU})]
    ldr     w10, [x23, #({TV} + {TCB_NEXT_CPU})]
    cmp     w9, w10
    b.ne    fp_unlock_slow
    ldr     w10, [x20, #({D} + {LONG_ACTIVE})]
    cbnz    w10, fp_unlock_slow
    sub     x11, sp, #{TCB_CTX}                     // the running thread's TCB
    ldrb    w10, [x11, #{TCB_READY_LINKED}]
    ldr     w11, [x21, #{QUEUED}]
    cmp     w10, w11
    b.ne    fp_unlock_slow
    adrp    x26, {KERNEL} + {LOCK_WORDS}
    add     x26, x26, :lo12:{KERNEL} + {LOCK_WORDS}
    add     x26, x26, x9, lsl #{WORD_SHIFT}
    mov     w10, #1
.Lcross_take\@:
    ldaxr   w11, [x26]
    cbnz    w11, fp_unlock_slow
    stxr    w11, w10, [x26]
    cbnz    w11, .Lcross_take\@
    ldr     x27, [x20, #({D} + {PERCPU_BASE})]
    mov     x10, #{PERCPU_SIZE}
    umaddl  x27, w9, w10, x27
    ldr     x10, [x27, #{CURRENT}]
    ldr     x11, [x27, #{STOPPED}]
    orr     x10, x10, x11
    tst     x10, #0xffffffff00000000                // a generation: running or stopped
    b.ne    fp_unlock2
    ldrb    w10, [x27, #{NEED_RESCHED}]
    cbnz    w10, fp_unlock2
    ldrb    w10, [x27, #{TOP}]
    ldrb    w11, [x23, #({TV} + {TCB_PRIO})]
    cmp     w11, w10
    b.lo    fp_unlock2
    ldr     x10, [x27, #{ACTIVE_TASK}]
    ldr     x11, [x23, #({TV} + {TCB_TASK})]
    cmp     x10, x11
    b.ne    fp_unlock2
.endm

    .section .text.fastpath, "ax"

// Null: no reschedule pending, no resource bits: the results (x0..x2 = 0), back to the
// same thread, whose other registers were never changed (nothing else is stored: its
// saved registers are dead while it runs). SPSR is sanitized as every return does;
// TPIDR_EL0, SP_EL0, ELR, the FP/SIMD trap and PerCpu.current are this thread's already.
// x0..x3 are scratch (stored by the vector).
    .balign 16
fp_null:
    mrs     x1, tpidr_el1                   // the arch's PerCpu
    ldr     x2, [x1, #{PERCPU_LOCK_WORD}]   // this CPU's lock word (see fp_lock)
    mov     w3, #1
1:  ldaxr   w0, [x2]
    cbnz    w0, pecan_aarch64_fp_route      // held: the route spins for the lock
    stxr    w0, w3, [x2]
    cbnz    w0, 1b
    adrp    x0, {KERNEL}
    add     x0, x0, :lo12:{KERNEL}
    ldr     x1, [x1, #{PERCPU_INDEX}]       // this CPU's core state (see fp_lock)
    mov     x3, #{PERCPU_SIZE}
    mul     x1, x1, x3
    ldr     x3, [x0, #({D} + {PERCPU_BASE})]
    add     x1, x1, x3
    ldrb    w1, [x1, #{NEED_RESCHED}]       // also set when another CPU stopped the thread
    ldur    w3, [sp, #({TCB_RESOURCES} - {TCB_CTX})]
    orr     w1, w1, w3
    cbnz    w1, 2f
.if {COUNTERS}
    str     x4, [sp, #(8 * 4)]              // a third scratch register for the counters
    bump_counter x0, {C_EXCEPTIONS}, x1, x3, w4
    bump_counter x0, {C_SYSCALLS}, x1, x3, w4
    bump_counter x0, {C_FASTPATH}, x1, x3, w4
    ldr     x4, [sp, #(8 * 4)]
.endif
    stlr    wzr, [x2]                       // this CPU's lock word released
    mrs     x1, spsr_el1
    and     x1, x1, #{SPSR_USER_KEEP}
    msr     spsr_el1, x1
    mov     x0, #0                          // status OK, 0, 0
    mov     x1, #0
    mov     x2, #0
    ldr     x3, [sp, #24]
    add     sp, sp, #{REGS_SIZE}            // SP_EL1 = end of the Regs block
    eret
    dsb     nsh
    isb
2:  stlr    wzr, [x2]
    b       pecan_aarch64_fp_route

// Call: selector -> the task's slot -> gate -> receiver, waiting.
    .balign 16
fp_call:
    fp_save
    fp_tag_check
    fp_lock
    ldur    w9, [sp, #({TCB_TASK} - {TCB_CTX})]     // the task's index
    ldr     x10, [x20, #({D} + {TASKS_BASE})]
    mov     x11, #{TASK_SLOT_SIZE}
    umaddl  x10, w9, w11, x10                       // its slot
    ldr     x12, [x10, #({TASK_SLOT_VALUE} + {TASK_CAPS} + {CAPS_LEN})]
    cmp     x1, x12
    b.hs    fp_unlock_slow
    ldr     x12, [x10, #({TASK_SLOT_VALUE} + {TASK_CAPS} + {CAPS_BASE})]
    mov     x11, #{CAP_ENTRY_SIZE}
    madd    x12, x1, x11, x12                       // the capability slot
    ldrb    w9, [x12, #{CAP_ENTRY_TAG}]
    ldrb    w10, [x12, #{CAP_OBJ_TAG}]
    cmp     w9, #{CAP_ENTRY_FULL}
    ccmp    w10, #{OBJ_GATE}, #0, eq
    b.ne    fp_unlock_slow
    ldrb    w9, [x12, #{CAP_RIGHTS}]
    tbz     w9, #{SEND_BIT}, fp_unlock_slow
    ldr     x13, [x12, #{CAP_OBJ_HANDLE}]           // the gate
    ldr     x10, [x20, #({D} + {GATES_BASE})]
    mov     x11, #{GATE_SLOT_SIZE}
    umaddl  x10, w13, w11, x10
    ldr     w9, [x10, #{GATE_SLOT_GENERATION}]
    cmp     x9, x13, lsr #32
    b.ne    fp_unlock_slow
    ldr     x25, [x10, #({GATE_SLOT_VALUE} + {GATE_RECEIVER})]
    ldr     x1, [x10, #({GATE_SLOT_VALUE} + {GATE_LABEL})]
    fp_partner
    // The receiver waits: open, or closed on this gate.
    ldrb    w9, [x23, #({TV} + {TCB_STATE} + {STATE_TAG})]
    cmp     w9, #{STATE_RECEIVING}
    b.ne    fp_unlock_slow
    ldrb    w9, [x23, #({TV} + {TCB_STATE} + {STATE_FILTER_TAG})]
    cbz     w9, 1f                                  // Filter::Any
    ldr     x10, [x23, #({TV} + {TCB_STATE} + {STATE_FILTER_HANDLE})]
    cmp     w9, #{FILTER_GATE}
    ccmp    x10, x13, #0, eq
    b.ne    fp_unlock_slow
1:  fp_common_slow 0, fp_call_other
    fp_space
    // Done checking: the transfer.
    fp_call_writes
    b       fp_switch                               // x1 = the label, x2 = the tag

// ReplyWait: the reply capability -> the caller, waiting for this thread's reply.
    .balign 16
fp_reply_wait:
    fp_save
    fp_tag_check
    fp_lock
    ldur    x25, [sp, #({TCB_REPLY_CALLER} - {TCB_CTX})]   // the caller
    fp_partner
    // It waits for this thread's reply to that call, from a system call: WaitReply,
    // callee = the replier, Source::User (0), call count = the reply's call number.
    ldrb    w9, [x23, #({TV} + {TCB_STATE} + {STATE_TAG})]
    ldr     x10, [x23, #({TV} + {TCB_STATE} + {STATE_CALLEE})]
    ldrb    w11, [x23, #({TV} + {TCB_STATE} + {STATE_SOURCE})]
    ldr     w12, [x23, #({TV} + {TCB_CALL_COUNT})]
    ldur    w14, [sp, #({TCB_REPLY_CALL} - {TCB_CTX})]
    cmp     w9, #{STATE_WAIT_REPLY}
    ccmp    x10, x24, #0, eq                        // x24: the replier's handle (fp_lock)
    ccmp    w11, #0, #0, eq
    ccmp    w12, w14, #0, eq
    b.ne    fp_unlock_slow
    fp_common_slow 1, fp_reply_wait_other
    fp_space
    // Done checking: the transfer.
    fp_reply_wait_writes

// Both calls: the running thread blocked, x23 (handle x25, context x15) runs on the
// rest of the slice: the block epochs, the direct switch (lazy queues: the blocked
// thread stays queued), the lock word released; the return work (user::resume's: the FP/SIMD
// trap unless the partner owns the registers on this CPU, PerCpu.current) and the exit
// (pecan_aarch64_return_to_user's, with x0..x2 the results).
fp_switch:
    fp_block_epochs
    str     x25, [x21, #{CURRENT}]
    strb    wzr, [x21, #{NEED_RESCHED}]
    bump_counter x20, {C_EXCEPTIONS}, x9, x10, w11
    bump_counter x20, {C_SYSCALLS}, x9, x10, w11
    bump_counter x20, {C_FASTPATH}, x9, x10, w11
    bump_counter x20, {C_MESSAGES}, x9, x10, w11
    bump_counter x20, {C_HANDOFFS}, x9, x10, w11
    bump_counter x20, {C_DIRECT_SWITCHES}, x9, x10, w11
    stlr    wzr, [x19]                      // this CPU's lock word released
    ldr     x10, [x22, #{PERCPU_FP_OWNER}]
    ldr     x11, [x22, #{PERCPU_CPACR}]
    cmp     x10, x15
    b.ne    3f
    ldr     x10, [x22, #{PERCPU_INDEX}]
    ldr     x12, [x15, #{CTX_FP_CPU}]
    add     x10, x10, #1
    cmp     x10, x12
    b.ne    3f
    mov     x10, #{CPACR_ON}                // the owner, live here: no trap
    cmp     x11, x10
    b.eq    4f
    msr     cpacr_el1, x10
    str     x10, [x22, #{PERCPU_CPACR}]
    b       4f
3:  cbz     x11, 4f                         // anyone else: trap (CPACR_TRAP = 0)
    msr     cpacr_el1, xzr
    str     xzr, [x22, #{PERCPU_CPACR}]
4:  str     x15, [x22, #{PERCPU_CURRENT}]
    mov     sp, x15
    ldr     x9, [sp, #{CTX_TPIDR_EL0}]
    msr     tpidr_el0, x9
    ldp     x9, x10, [sp, #{REGS_SP}]       // SP_EL0, ELR_EL1 (adjacent)
    msr     sp_el0, x9
    msr     elr_el1, x10
    ldr     x9, [sp, #{REGS_SPSR}]
    and     x9, x9, #{SPSR_USER_KEEP}
    msr     spsr_el1, x9
    mov     x0, #0                          // status OK (x1, x2: label and tag)
    ldr     x3, [sp, #(8 * 3)]
    restore_gprs_from_x4                    // frame.S
    add     sp, sp, #{REGS_SIZE}            // SP_EL1 = end of the Regs block
    eret
    dsb     nsh                             // no straight-line speculation past eret
    isb

// Call or ReplyWait whose one-word test failed: resource bits or (ReplyWait) something
// queued for the replier, the route; else the partner lives on another CPU: the
// cross-CPU case (with CROSS; else the route).
fp_call_other:
.if {CROSS}
    ldur    w9, [sp, #({TCB_RESOURCES} - {TCB_CTX})]
    ldr     w10, [x23, #({TV} + {TCB_RESOURCES})]
    orr     w9, w9, w10
    cbnz    w9, fp_unlock_slow
    fp_cross
    fp_call_writes
    b       fp_cross_switch                         // x1 = the label, x2 = the tag
.else
    b       fp_unlock_slow
.endif

fp_reply_wait_other:
.if {CROSS}
    ldur    w9, [sp, #({TCB_RESOURCES} - {TCB_CTX})]
    ldr     w10, [x23, #({TV} + {TCB_RESOURCES})]
    orr     w9, w9, w10
    ldur    w10, [sp, #({TCB_SEND_QUEUE_LEN} - {TCB_CTX})]
    orr     w9, w9, w10
    ldur    w10, [sp, #({TCB_PENDING_IRQS_LEN} - {TCB_CTX})]
    orr     w9, w9, w10
    cbnz    w9, fp_unlock_slow
    fp_cross
    fp_reply_wait_writes
    b       fp_cross_switch
.else
    b       fp_unlock_slow
.endif

// The cross-CPU case, written (`Kernel::fast_cross` with `hand_off` and `ring_handoffs`):
// the partner's results (OK, x1, x2 with CROSS_CPU) into its context, since B resumes it
// from there; both block epochs; the partner becomes B's running thread on a fresh time
// slice, this CPU runs nothing; the counters; then on this CPU's kernel stack (the
// running thread is blocked, all of it saved): B's doorbell rung (the Rust
// `pecan_aarch64_fast_ring`, under B's word, so two rings never overlap; the `Wake` SGI
// unless B polls, else `sev`), both words released, and this CPU idles
// (`pecan_aarch64_fast_idle`, which returns the context the idle loop leads to, for
// pecan_aarch64_return_to_user). In: x26 = B's word, x27 = B's core state, x15 = the
// partner's context; x19..x28 survive the calls.
.if {CROSS}
fp_cross_switch:
    orr     x2, x2, #{TAG_CROSS_CPU}
    stp     xzr, x1, [x15, #0]
    str     x2, [x15, #16]
    fp_block_epochs
    str     x25, [x27, #{CURRENT}]
    ldr     w9, [x23, #({TV} + {TCB_TIMESLICE})]
    str     w9, [x27, #{SLICE_LEFT}]
    mov     x9, #0xffffffff                         // none: u32::MAX, generation 0
    str     x9, [x21, #{CURRENT}]
    strb    wzr, [x21, #{NEED_RESCHED}]
    str     wzr, [x21, #{SLICE_LEFT}]
    bump_counter x20, {C_EXCEPTIONS}, x9, x10, w11
    bump_counter x20, {C_SYSCALLS}, x9, x10, w11
    bump_counter x20, {C_FASTPATH}, x9, x10, w11
    bump_counter x20, {C_MESSAGES}, x9, x10, w11
    bump_counter x20, {C_HANDOFFS}, x9, x10, w11
    bump_counter x20, {C_REMOTE_HANDOFFS}, x9, x10, w11
    ldr     x9, [x22, #{PERCPU_KSTACK_TOP}]
    mov     sp, x9                                  // the kernel stack, from its top
    msr     daifclr, #0xc                           // as user.S's enter_kernel_stack
    mov     x29, #0                                 // end the frame-pointer chain here
    ldr     w0, [x23, #({TV} + {TCB_CPU})]
    mov     x1, x15
    bl      {FAST_RING}
.if {COUNTERS}
    cbz     w0, 1f
    bump_counter x20, {C_IPIS}, x9, x10, w11
1:
.endif
    stlr    wzr, [x26]                              // B's word released
    stlr    wzr, [x19]                              // this CPU's word released
    bl      {FAST_IDLE}
    b       pecan_aarch64_return_to_user            // x0 = the context to resume

// A slow condition once B's word is held: nothing was written; release it, then ours.
fp_unlock2:
    stlr    wzr, [x26]
.endif

// A slow condition once the word is held: nothing was written; release it, take the route.
fp_unlock_slow:
    stlr    wzr, [x19]
    b       pecan_aarch64_fp_slow

.endif
