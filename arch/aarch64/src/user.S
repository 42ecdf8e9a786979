// user.S: the way into the kernel from EL0 and the way back out (seL4's event model: one
// kernel stack per CPU, the user registers saved in the thread's `Context`).
//
// user_entry: a lower-EL vector (vectors.S) branched here.
//   In:  SP = SP_EL1 - REGS_SIZE = the running thread's `Context` (SP_EL1 pointed just
//        past its `Regs` block while it ran at EL0); x0, x1 of the thread saved at
//        [sp, #0]; x1 = vector number (8..15); x2..x30, SP_EL0, ELR_EL1, SPSR_EL1 and
//        TPIDR_EL0 still the thread's; DAIF masked by the exception.
//   Does: saves x2..x30, SP_EL0, ELR_EL1, SPSR_EL1 into `Context.regs` and TPIDR_EL0 into
//        `Context.tpidr_el0`; moves SP to this CPU's kernel stack (`PerCpu.kstack_top`
//        through TPIDR_EL1, never anything the thread controls); lets SErrors and debug
//        exceptions in (IRQs stay masked in the kernel); calls
//            pecan_aarch64_user_trap(x0 = &mut Context, x1 = vector) -> x0 = &mut Context
//        (user.rs), which handles the event and returns the context to resume, possibly
//        another thread's; then falls into pecan_aarch64_return_to_user.
//   SP_EL0 is only stored, never used as a stack: the thread may have left anything there.
//
// pecan_aarch64_return_to_user: also called once from Rust to enter user mode first.
//   In:  x0 = the `Context` to resume (the core's choice), on the kernel stack; the FP/SIMD
//        trap (CPACR_EL1) and TTBR0_EL1 already set for that thread (fpu.rs, the core's
//        `Mmu::activate`).
//   Does: masks DAIF; loads TPIDR_EL0, SP_EL0, ELR_EL1 and SPSR_EL1 from the context,
//        SPSR sanitized to `SPSR_USER_KEEP` (condition flags only: EL0t, AArch64, DAIF
//        clear, no IL or SS); SP = the context, loads x0..x30 from it; SP_EL1 = the end of
//        its `Regs` block (where the next user_entry saves); `eret`.
//   ELR may be any value: a kernel or non-canonical address, or a misaligned one, faults
//   at EL0 (instruction abort or PC alignment fault from a lower EL), which comes back
//   here as that thread's fault. Never returns.

// enter_from_user: the common part of user_entry and user_sync.
//   In:  as user_entry's. Out: x0 = the thread's `Context`, SP = this CPU's kernel stack
//        top, every user register saved, SErrors and debug exceptions unmasked, x29 = 0;
//        x2 and x3 clobbered, x1 still the vector number.
// enter_user_tail: the same after x2 and x3 are stored too (the assembly fast path's
//   vector, fastpath.S, stores x0..x3 before it decides). enter_kernel_stack: its last
//   part, once every user register is saved (x2 clobbered).
.macro enter_from_user
    stp     x2, x3, [sp, #(16 * 1)]
    enter_user_tail
.endm

.macro enter_user_tail
    save_x4_up
    mrs     x2, sp_el0
    stp     x30, x2, [sp, #(16 * 15)]
    mrs     x3, tpidr_el0
    str     x3, [sp, #{CTX_TPIDR_EL0}]
    enter_kernel_stack
.endm

.macro enter_kernel_stack
    mov     x0, sp                          // x0 = the thread's Context
    mrs     x2, tpidr_el1                   // this CPU's PerCpu
    ldr     x2, [x2, #{PERCPU_KSTACK_TOP}]
    mov     sp, x2                          // the kernel stack, from its top
    msr     daifclr, #0xc                   // SErrors and debug exceptions reported at EL1
    mov     x29, #0                         // end the frame-pointer chain here
.endm

    .section .text.user, "ax"
    .balign 16
user_entry:
    enter_from_user
    bl      pecan_aarch64_user_trap
    b       pecan_aarch64_return_to_user

// user_sync: the synchronous vector from AArch64 EL0 with the `fastpath` feature (and
// without the assembly fast path, whose vector is fastpath.S's `vector_svc_fast`).
//   In:  as user_entry's (x1 = 8). Does: saves like user_entry; an SVC (ESR_EL1.EC =
//        0x15) goes straight to the platform's system-call route
//            pecan_aarch64_svc(x0 = &mut Context) -> x0 = &mut Context
//        (which tries the core's fast path first, then the general path), skipping the
//        syndrome decoding and handler indirection of pecan_aarch64_user_trap; every other
//        synchronous exception goes to pecan_aarch64_user_trap as from user_entry. Then
//        pecan_aarch64_return_to_user.
    .balign 16
user_sync:
    enter_from_user
    mrs     x2, esr_el1
    lsr     x2, x2, #26                     // EC
    cmp     x2, #0x15                       // SVC from AArch64
    b.ne    1f
pecan_aarch64_svc_route:                    // x0 = the thread's Context
    bl      pecan_aarch64_svc
    b       pecan_aarch64_return_to_user
1:
user_sync_trap:                             // x0 = the thread's Context, x1 = vector
    bl      pecan_aarch64_user_trap
    b       pecan_aarch64_return_to_user

// The ways from the assembly fast path's vector and code (fastpath.S) to the Rust routes.
//   pecan_aarch64_fp_other: not an SVC. In: x0..x3 stored, SP = the thread's `Context`,
//        every other register the thread's. Saves the rest, pecan_aarch64_user_trap.
//   pecan_aarch64_fp_route: an SVC the fast path does not take. In: as _other's.
//        Saves the rest, the system-call route.
//   pecan_aarch64_fp_slow: an SVC the fast path gave up on. In: every user register
//        stored, SP = the thread's `Context`. The system-call route.
.if {FASTPATH_ASM}
    .global pecan_aarch64_fp_other
pecan_aarch64_fp_other:
    enter_user_tail
    mov     x1, #8                          // the vector: synchronous, lower EL AArch64
    b       user_sync_trap
    .global pecan_aarch64_fp_route
pecan_aarch64_fp_route:
    enter_user_tail
    b       pecan_aarch64_svc_route
    .global pecan_aarch64_fp_slow
pecan_aarch64_fp_slow:
    enter_kernel_stack
    b       pecan_aarch64_svc_route
.endif

    .global pecan_aarch64_return_to_user
pecan_aarch64_return_to_user:
    msr     daifset, #0xf                   // nothing may be taken on the thread's frame
    ldr     x1, [x0, #{CTX_TPIDR_EL0}]
    msr     tpidr_el0, x1
    ldp     x1, x2, [x0, #{REGS_SP}]        // SP_EL0, ELR_EL1 (adjacent)
    msr     sp_el0, x1
    msr     elr_el1, x2
    ldr     x3, [x0, #{REGS_SPSR}]
    and     x3, x3, #{SPSR_USER_KEEP}
    msr     spsr_el1, x3
    mov     sp, x0
    restore_gprs
    add     sp, sp, #{REGS_SIZE}            // SP_EL1 = end of the Regs block
    eret
    dsb     nsh                             // no straight-line speculation past eret
    isb
