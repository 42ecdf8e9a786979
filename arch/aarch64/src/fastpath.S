// fastpath.S: the IPC fast path in assembly (`fastpath-asm` feature; docs/fastpath.md):
// `Call` and `ReplyWait` with words in registers, both timeouts never, partner waiting,
// against the core's exported layout (pecan_core::layout) and with the same observable
// effect as the core's generic fast path (crates/core/src/fastpath.rs): results, states,
// reply capability, call count, block epochs, sched.current, need_resched, the address
// space (cached root and ASID), counters, the FP/SIMD trap and PerCpu.current.
//
// pecan_aarch64_fastpath: user_sync (user.S) branches here for every SVC.
//   In:  x0 = the running thread's `Context` (every user register saved in it), SP = this
//        CPU's kernel stack top, IRQs masked. Every other register is scratch.
//   Out: done: x0 = the `Context` to resume (the partner's), its address space loaded, the
//        kernel lock released; branches to pecan_aarch64_return_to_user.
//        Not taken (any slow condition, or the kernel lock held): nothing written; x0
//        unchanged; branches to pecan_aarch64_svc_route (the Rust route: the core's
//        generic fast path, else the general path).
//   Uses: x20 = the kernel lock, x21 = the kernel (lock + data offset), x22 = the running
//        thread's TCB, x23 = the partner's TCB, x24 = the running thread's handle,
//        x25 = the partner's handle, x26 = the tag, x27 = the label (Call), x1..x15 scratch.
//   Lookups are a generation compare per handle (tables never shrink, so a handle the
//   kernel made is always in range; a "none" handle has generation 0, which no slot has,
//   and index u32::MAX, which the bounds check refuses); the user's selector is bounds-
//   checked. The running thread's TCB is its context's (no lookup).

.macro bump_counter off
.if {COUNTERS}
    ldr     x9, [x21, #({K_COUNTERS} + \off)]
    add     x9, x9, #1
    str     x9, [x21, #({K_COUNTERS} + \off)]
.endif
.endm

// \tcb = the TCB of the thread whose handle is in \h (\hw: its low word), or branch to
// unlock_slow. Clobbers x9, x10.
.macro thread_lookup tcb, h, hw
    ldr     x9, [x21, #{THREADS_LEN}]
    cmp     x9, \hw, uxtw                   // idx < len (a none handle's u32::MAX is not)
    b.ls    unlock_slow
    ldr     x9, [x21, #{THREADS_BASE}]
    mov     x10, #{THREAD_SLOT_SIZE}
    umaddl  \tcb, \hw, w10, x9              // slot = base + idx * size
    ldr     w9, [\tcb, #{THREAD_SLOT_GENERATION}]
    cmp     x9, \h, lsr #32
    b.ne    unlock_slow
    add     \tcb, \tcb, #{THREAD_SLOT_VALUE}
.endm

// x11 |= the slow conditions both calls share, for the running thread x22 and the
// partner x23 (which is to run): resource bits, a tag that is not short and plain, the
// partner outranked by a ready thread, on another CPU, or in another address space whose
// cached ASID is stale or untagged (the general path's activation). Sets x13 = 1 if the
// address space must be switched. Clobbers x9, x10, x12.
.macro common_slow
    ldr     w9, [x22, #{TCB_RESOURCES}]
    ldr     w10, [x23, #{TCB_RESOURCES}]
    orr     x11, x11, x9
    orr     x11, x11, x10
    and     x9, x26, #0xffff
    cmp     x9, #{REG_MRS}
    cset    x9, hi
    orr     x11, x11, x9
    ldrb    w9, [x21, #{TOP}]
    ldrb    w10, [x23, #{TCB_PRIO}]
    cmp     w10, w9
    cset    x9, lo
    orr     x11, x11, x9
    ldr     w9, [x22, #{TCB_CPU}]
    ldr     w10, [x23, #{TCB_CPU}]
    eor     w9, w9, w10
    orr     x11, x11, x9
    ldr     w9, [x21, #{ACTIVE_TASK}]
    ldr     w10, [x23, #{TCB_TASK}]
    ldr     w12, [x21, #({ACTIVE_TASK} + 4)]
    ldr     w14, [x23, #({TCB_TASK} + 4)]
    cmp     w9, w10
    ccmp    w12, w14, #0, eq
    cset    x13, ne                         // x13: switch the address space
    ldr     x9, [x21, #{ASID_GENERATION}]
    ldr     x10, [x23, #{TCB_SPACE_GENERATION}]
    ldrh    w12, [x23, #{TCB_SPACE_ASID}]
    cmp     x9, x10
    ccmp    w12, #0, #4, eq                 // Z if stale or untagged
    cset    x9, eq
    and     x9, x9, x13
    orr     x11, x11, x9
.endm

// Copies the tag's words (x26 & 0x7f, at most REG_MRS) from the context at \src to the
// one at \dst: a branch into a ladder of REG_MRS load/store pairs. Clobbers x9, x10.
.macro copy_words src, dst
    and     x9, x26, #0x7f
    adr     x10, 9f
    sub     x10, x10, x9, lsl #3
    br      x10
    .irp i, 7, 6, 5, 4, 3, 2, 1, 0
    .if \i < {REG_MRS}
    ldr     x9, [\src, #(({MR_BASE} + \i) * 8)]
    str     x9, [\dst, #(({MR_BASE} + \i) * 8)]
    .endif
    .endr
9:
.endm

    .section .text.fastpath, "ax"
    .balign 16
    .global pecan_aarch64_fastpath
pecan_aarch64_fastpath:
.if {ASM_OK}
    ldr     x2, [x0]                        // the control word (saved x0)
    ldr     x3, ={CALL}
    ldr     x4, ={REPLY_WAIT}
    cmp     x2, x3
    ccmp    x2, x4, #4, ne                  // Z: Call or ReplyWait
    b.ne    pecan_aarch64_svc_route
    adrp    x20, {KERNEL}
    add     x20, x20, :lo12:{KERNEL}
    mov     w6, #1
2:  ldaxr   w5, [x20]                       // the kernel lock: 0 -> 1, acquire
    cbnz    w5, pecan_aarch64_svc_route     // held: the route spins for it
    stxr    w5, w6, [x20]
    cbnz    w5, 2b
    add     x21, x20, #{DATA_OFFSET}
    sub     x22, x0, #{TCB_CTX}
    ldr     w24, [x21, #{CURRENT}]
    ldr     w9, [x21, #({CURRENT} + 4)]
    orr     x24, x24, x9, lsl #32           // the running thread's handle
    ldr     x26, [x0, #16]                  // the tag (saved x2)
    cmp     x2, x4
    b.eq    reply_wait

// Call: selector -> the task's slot -> gate -> receiver.
    ldr     w4, [x22, #{TCB_TASK}]
    ldr     w9, [x22, #({TCB_TASK} + 4)]
    orr     x4, x4, x9, lsl #32             // the task
    ldr     x9, [x21, #{TASKS_BASE}]
    mov     x10, #{TASK_SLOT_SIZE}
    umaddl  x5, w4, w10, x9
    ldr     w9, [x5, #{TASK_SLOT_GENERATION}]
    cmp     x9, x4, lsr #32
    b.ne    unlock_slow
    add     x5, x5, #{TASK_SLOT_VALUE}
    ldr     x1, [x0, #8]                    // the selector (saved x1)
    ldr     x6, [x5, #({TASK_CAPS} + {CAPS_BASE})]
    ldr     x7, [x5, #({TASK_CAPS} + {CAPS_LEN})]
    cmp     x1, x7
    b.hs    unlock_slow
    mov     x10, #{CAP_ENTRY_SIZE}
    madd    x6, x1, x10, x6                 // the slot
    ldrb    w7, [x6, #{CAP_ENTRY_TAG}]
    ldrb    w8, [x6, #{CAP_OBJ_TAG}]
    cmp     w7, #{CAP_ENTRY_FULL}
    ccmp    w8, #{OBJ_GATE}, #0, eq
    b.ne    unlock_slow
    ldrb    w7, [x6, #{CAP_RIGHTS}]
    ldr     w12, [x6, #{CAP_OBJ_HANDLE}]
    ldr     w14, [x6, #({CAP_OBJ_HANDLE} + 4)]
    orr     x12, x12, x14, lsl #32          // the gate
    ldr     x9, [x21, #{GATES_BASE}]
    mov     x10, #{GATE_SLOT_SIZE}
    umaddl  x5, w12, w10, x9
    ldr     w9, [x5, #{GATE_SLOT_GENERATION}]
    cmp     x9, x12, lsr #32
    b.ne    unlock_slow
    add     x5, x5, #{GATE_SLOT_VALUE}
    ldr     w25, [x5, #{GATE_RECEIVER}]
    ldr     w9, [x5, #({GATE_RECEIVER} + 4)]
    orr     x25, x25, x9, lsl #32           // the receiver (unbound: generation 0)
    ldr     x27, [x5, #{GATE_LABEL}]
    thread_lookup x23, x25, w25
    // The receiver waits: open, or closed on this gate.
    ldrb    w9, [x23, #({TCB_STATE} + {STATE_TAG})]
    ldrb    w10, [x23, #({TCB_STATE} + {STATE_FILTER_TAG})]
    ldr     w13, [x23, #({TCB_STATE} + {STATE_FILTER_HANDLE})]
    ldr     w14, [x23, #({TCB_STATE} + {STATE_FILTER_HANDLE} + 4)]
    orr     x13, x13, x14, lsl #32
    cmp     x13, x12
    ccmp    w10, #{FILTER_GATE}, #0, eq     // Z: closed on this gate
    ccmp    w10, #{FILTER_ANY}, #4, ne      // Z: that, or open
    ccmp    w9, #{STATE_RECEIVING}, #0, eq  // Z: and receiving
    cset    x11, ne
    // No SEND right.
    mvn     w10, w7
    and     x10, x10, #{SEND_RIGHT}
    orr     x11, x11, x10
    common_slow
    cbnz    x11, unlock_slow

    // Done checking: the transfer.
    add     x15, x23, #{TCB_CTX}            // the receiver's context
    copy_words x0, x15
    stp     xzr, x27, [x15]                 // status OK, the gate's label,
    str     x26, [x15, #16]                 // the tag
    ldr     w9, [x22, #{TCB_CALL_COUNT}]
    add     w9, w9, #1
    str     w9, [x22, #{TCB_CALL_COUNT}]
    str     w24, [x23, #{TCB_REPLY_CALLER}] // reply capability: (caller, call number)
    lsr     x10, x24, #32
    str     w10, [x23, #({TCB_REPLY_CALLER} + 4)]
    str     w9, [x23, #{TCB_REPLY_CALL}]
    mov     w9, #{STATE_WAIT_REPLY}         // caller: WaitReply(callee, User)
    strb    w9, [x22, #({TCB_STATE} + {STATE_TAG})]
    str     w25, [x22, #({TCB_STATE} + {STATE_CALLEE})]
    lsr     x9, x25, #32
    str     w9, [x22, #({TCB_STATE} + {STATE_CALLEE} + 4)]
    mov     w9, #{SOURCE_USER}
    strb    w9, [x22, #({TCB_STATE} + {STATE_SOURCE})]
    mov     w9, #{STATE_READY}              // receiver: Ready
    strb    w9, [x23, #({TCB_STATE} + {STATE_TAG})]
    b       switch

// ReplyWait: the reply capability -> the caller, waiting for this reply.
reply_wait:
    ldr     w25, [x22, #{TCB_REPLY_CALLER}]
    ldr     w9, [x22, #({TCB_REPLY_CALLER} + 4)]
    orr     x25, x25, x9, lsl #32           // the caller (none: generation 0)
    ldr     w27, [x22, #{TCB_REPLY_CALL}]
    thread_lookup x23, x25, w25
    // It waits for this thread's reply to that call, from a system call.
    ldrb    w9, [x23, #({TCB_STATE} + {STATE_TAG})]
    ldrb    w10, [x23, #({TCB_STATE} + {STATE_SOURCE})]
    ldr     w12, [x23, #({TCB_STATE} + {STATE_CALLEE})]
    ldr     w14, [x23, #({TCB_STATE} + {STATE_CALLEE} + 4)]
    orr     x12, x12, x14, lsl #32
    ldr     w14, [x23, #{TCB_CALL_COUNT}]
    cmp     x12, x24
    ccmp    w9, #{STATE_WAIT_REPLY}, #0, eq
    ccmp    w10, #{SOURCE_USER}, #0, eq
    ccmp    w14, w27, #0, eq
    cset    x11, ne
    // Nothing queued for this thread (its wait would not block).
    ldr     w9, [x22, #{TCB_SEND_QUEUE_LEN}]
    ldr     w10, [x22, #{TCB_PENDING_IRQS_LEN}]
    orr     x11, x11, x9
    orr     x11, x11, x10
    common_slow
    cbnz    x11, unlock_slow

    // Done checking: the transfer.
    add     x15, x23, #{TCB_CTX}            // the caller's context
    copy_words x0, x15
    stp     xzr, xzr, [x15]                 // caller: status OK, label 0,
    str     x26, [x15, #16]                 // the tag
    stp     xzr, xzr, [x0]                  // replier: OK, 0, 0
    str     xzr, [x0, #16]
    mov     x9, #0xffffffff                 // Reply::NONE: idx u32::MAX, generation 0
    str     w9, [x22, #{TCB_REPLY_CALLER}]
    str     wzr, [x22, #({TCB_REPLY_CALLER} + 4)]
    str     wzr, [x22, #{TCB_REPLY_CALL}]
    mov     w9, #{STATE_RECEIVING}          // replier: Receiving(Any)
    strb    w9, [x22, #({TCB_STATE} + {STATE_TAG})]
    mov     w9, #{FILTER_ANY}
    strb    w9, [x22, #({TCB_STATE} + {STATE_FILTER_TAG})]
    mov     w9, #{STATE_READY}              // caller: Ready
    strb    w9, [x23, #({TCB_STATE} + {STATE_TAG})]

// Both calls: x22 blocked, x23 (handle x25, context x15) runs on the rest of the slice.
switch:
    ldr     x9, [x22, #{TCB_BLOCK_EPOCH}]
    add     x9, x9, #1
    str     x9, [x22, #{TCB_BLOCK_EPOCH}]
    ldr     x9, [x23, #{TCB_BLOCK_EPOCH}]
    add     x9, x9, #1
    str     x9, [x23, #{TCB_BLOCK_EPOCH}]
    str     w25, [x21, #{CURRENT}]          // the direct switch
    lsr     x9, x25, #32
    str     w9, [x21, #({CURRENT} + 4)]
    strb    wzr, [x21, #{NEED_RESCHED}]
    bump_counter {C_EXCEPTIONS}
    bump_counter {C_SYSCALLS}
    bump_counter {C_FASTPATH}
    bump_counter {C_MESSAGES}
    bump_counter {C_HANDOFFS}
    bump_counter {C_DIRECT_SWITCHES}
    cbz     x13, 3f
    ldr     x9, [x23, #{TCB_SPACE_ROOT}]    // the cached space: root | ASID << 48
    ldrh    w10, [x23, #{TCB_SPACE_ASID}]
    orr     x9, x9, x10, lsl #48
    msr     ttbr0_el1, x9
    isb
    ldr     w9, [x23, #{TCB_TASK}]
    ldr     w10, [x23, #({TCB_TASK} + 4)]
    str     w9, [x21, #{ACTIVE_TASK}]
    str     w10, [x21, #({ACTIVE_TASK} + 4)]
    bump_counter {C_AS_SWITCHES}
3:  stlr    wzr, [x20]                      // the kernel lock released
    // The return work (user::resume's): the FP/SIMD trap unless the partner owns the
    // registers on this CPU, and PerCpu.current.
    mrs     x1, tpidr_el1
    ldr     x2, [x1, #{PERCPU_FP_OWNER}]
    ldr     x3, [x1, #{PERCPU_INDEX}]
    ldr     x4, [x15, #{CTX_FP_CPU}]
    add     x3, x3, #1
    cmp     x2, x15
    ccmp    x4, x3, #0, eq
    mov     x5, #{CPACR_ON}
    csel    x5, x5, xzr, eq
    ldr     x6, [x1, #{PERCPU_CPACR}]
    cmp     x6, x5
    b.eq    4f
    msr     cpacr_el1, x5
    str     x5, [x1, #{PERCPU_CPACR}]
4:  str     x15, [x1, #{PERCPU_CURRENT}]
    mov     x0, x15
    b       pecan_aarch64_return_to_user

unlock_slow:
    stlr    wzr, [x20]
.endif
    b       pecan_aarch64_svc_route

    .ltorg
