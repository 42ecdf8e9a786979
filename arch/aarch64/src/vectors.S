// vectors.S: the exception vector table (VBAR_EL1) and the kernel-trap path.
//
// Register protocol on entry (the CPU's): PC of the interrupted instruction (or the next
// one) in ELR_EL1, its PSTATE in SPSR_EL1, SP = SP_EL1, DAIF masked; every general-purpose
// register still holds the interrupted code's value.
//
// Each of the 16 vectors (0x80 bytes each: current EL with SP_EL0, current EL with SP_ELx,
// lower EL AArch64, lower EL AArch32; times synchronous, IRQ, FIQ, SError) makes room for a
// `Regs` frame (context.rs) below SP, saves x0/x1 there, puts its number in x1 and
// branches to a common path.
//
// From EL1 (trap_entry_el1, here): SP_EL1 is a kernel stack; the path saves x2..x30, the
// interrupted SP (SP_EL1 above the frame), ELR_EL1 and SPSR_EL1, and calls
//     pecan_aarch64_trap(x0 = &mut Regs, x1 = vector number)
// which may change the frame (ELR for breakpoints); the return path restores it all and
// `eret`s.
//
// From EL0 (user_entry, user.S): while a thread runs in user mode, SP_EL1 points just past
// the `Regs` block of its `Context`, so the vector's `sub` and stores land in the thread's
// saved registers; user.S saves the rest, switches to the CPU's kernel stack and calls the
// kernel. With the `fastpath` feature the kernel runs on a second table whose synchronous
// one goes to user_sync instead, which sends system calls straight to the core's fast
// path. See user.S, docs/arch-aarch64.md and docs/fastpath.md.
//
// Kernel stack overflow: every kernel stack is 2^STACK_SHIFT bytes at an address aligned
// to 2^(STACK_SHIFT + 1), with an unmapped guard page below it, so a frame address inside
// a stack has bit STACK_SHIFT clear and one just below it has it set. The EL1-with-SP_EL1
// vectors test that bit of the new frame's address before storing anything (using SP
// itself as the scratch register: sp += x0; x0 = sp - x0 gives the frame address in x0
// and the original x0 back after sp - x0) and, on overflow, switch to a small overflow
// stack and report instead of faulting again and again into whatever lies below.

.macro vector num, path
    .balign 0x80
    sub     sp, sp, #{REGS_SIZE}
    stp     x0, x1, [sp, #(16 * 0)]
    mov     x1, #\num
    b       \path
.endm

// A vector taken at EL1 on SP_EL1: the same, after the stack-overflow check.
.macro vector_checked num
    .balign 0x80
    sub     sp, sp, #{REGS_SIZE}
    add     sp, sp, x0                      // sp = frame + x0
    sub     x0, sp, x0                      // x0 = frame
    tbnz    x0, #{STACK_SHIFT}, 1f          // the frame is below the stack
    sub     x0, sp, x0                      // x0 = x0 again
    sub     sp, sp, x0                      // sp = frame
    stp     x0, x1, [sp, #(16 * 0)]
    mov     x1, #\num
    b       trap_entry_el1
1:  mov     x1, #\num
    b       stack_overflow
.endm

// The table, with the path of synchronous exceptions from AArch64 EL0 as a parameter;
// `fast` = 1: that vector is the assembly fast path's (fastpath.S, `vector_svc_fast`).
.macro vector_table sync_el0, fast=0
    vector  0, trap_entry_el1       // current EL, SP_EL0: synchronous
    vector  1, trap_entry_el1       //                     IRQ
    vector  2, trap_entry_el1       //                     FIQ
    vector  3, trap_entry_el1       //                     SError
    vector_checked 4               // current EL, SP_EL1: synchronous
    vector_checked 5               //                     IRQ
    vector_checked 6               //                     FIQ
    vector_checked 7               //                     SError
.if \fast
    .balign 0x80
    vector_svc_fast                 // lower EL, AArch64:  synchronous
.else
    vector  8, \sync_el0           // lower EL, AArch64:  synchronous
.endif
    vector  9, user_entry           //                     IRQ
    vector  10, user_entry          //                     FIQ
    vector  11, user_entry          //                     SError
    vector  12, user_entry          // lower EL, AArch32:  synchronous (never: user.S
    vector  13, user_entry          //                     IRQ      returns to AArch64 only)
    vector  14, user_entry          //                     FIQ
    vector  15, user_entry          //                     SError
.endm

    .section .text.vectors, "ax"
// The general table (boot installs it): every exception from EL0 goes to user_entry.
    .balign 0x800
    .global exception_vectors
exception_vectors:
    vector_table user_entry

// With the `fastpath` feature, the kernel's table (user::enter_with_svc_route installs
// it): synchronous exceptions from EL0 go to user_sync, which sends SVCs straight to the
// platform's system-call route; with the assembly fast path (`fastpath-asm`, in a
// configuration it implements), to fastpath.S's vector instead. The arch self-tests keep
// the general table, so their handler sees every event.
.if {FASTPATH}
    .balign 0x800
    .global exception_vectors_svc
exception_vectors_svc:
    vector_table user_sync, {FASTPATH_ASM}
.endif

// From EL1: the interrupted SP is the one above the frame.
trap_entry_el1:
    save_rest
    add     x2, sp, #{REGS_SIZE}
    stp     x30, x2, [sp, #(16 * 15)]
    mov     x0, sp
    mov     x29, #0                         // end the frame-pointer chain at the trap
    bl      pecan_aarch64_trap
    ldp     x2, x3, [sp, #{REGS_ELR}]
    msr     elr_el1, x2
    msr     spsr_el1, x3
    restore_gprs
    add     sp, sp, #{REGS_SIZE}
    eret

// Protocol: in x1 = vector number, SP, x0 and x1 lost (see above); every other register is
// the interrupted code's. Saves them on the overflow stack and calls
// pecan_aarch64_stack_overflow(x0 = &Regs, x1 = vector), which does not return.
stack_overflow:
    ldr     x0, =overflow_stack_top
    mov     sp, x0
    sub     sp, sp, #{REGS_SIZE}
    stp     xzr, x1, [sp, #(16 * 0)]
    save_rest
    stp     x30, xzr, [sp, #(16 * 15)]
    mov     x0, sp
    mov     x29, #0
    bl      pecan_aarch64_stack_overflow
2:  wfe
    b       2b

    .ltorg

    .section .bss.overflow_stack, "aw", %nobits
    .balign 16
overflow_stack:
    .space  8192
overflow_stack_top:
