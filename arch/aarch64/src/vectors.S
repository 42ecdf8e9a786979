// vectors.S: the exception vector table (VBAR_EL1) and the register-saving entry path.
//
// Register protocol on entry (the CPU's): PC of the interrupted instruction (or the next
// one) in ELR_EL1, its PSTATE in SPSR_EL1, SP = SP_EL1, DAIF masked; every general-purpose
// register still holds the interrupted code's value.
//
// Each of the 16 vectors (0x80 bytes each: current EL with SP_EL0, current EL with SP_ELx,
// lower EL AArch64, lower EL AArch32; times synchronous, IRQ, FIQ, SError) makes room for a
// `Regs` frame (context.rs) below SP, saves x0/x1 there, puts its number in x1 and
// branches to the common path, which saves x2..x30, the interrupted SP (SP_EL1 before the
// frame for EL1 traps, SP_EL0 for EL0 traps), ELR_EL1 and SPSR_EL1, and calls
//     pecan_aarch64_trap(x0 = &mut Regs, x1 = vector number)
// The handler may change the frame (ELR for breakpoints, registers for system calls);
// the return path restores it all and `eret`s.
//
// Kernel stack overflow: every kernel stack is 2^STACK_SHIFT bytes at an address aligned
// to 2^(STACK_SHIFT + 1), with an unmapped guard page below it, so a frame address inside
// a stack has bit STACK_SHIFT clear and one just below it has it set. The EL1-with-SP_EL1
// vectors test that bit of the new frame's address before storing anything (using SP
// itself as the scratch register: sp += x0; x0 = sp - x0 gives the frame address in x0
// and the original x0 back after sp - x0) and, on overflow, switch to a small overflow
// stack and report instead of faulting again and again into whatever lies below.
//
// EL0 (next issue): while a thread runs in user mode, SP_EL1 will point just past its
// `Context` (context.rs) instead of at a kernel stack, so the same stores land in the
// thread's saved registers and trap_entry_el0 then moves SP to the CPU's kernel stack
// (per-CPU data through TPIDR_EL1, percpu.rs). Until then SP_EL1 is always a kernel stack
// and EL0 traps are saved on it like EL1 traps.

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

.macro save_rest
    stp     x2, x3, [sp, #(16 * 1)]
    stp     x4, x5, [sp, #(16 * 2)]
    stp     x6, x7, [sp, #(16 * 3)]
    stp     x8, x9, [sp, #(16 * 4)]
    stp     x10, x11, [sp, #(16 * 5)]
    stp     x12, x13, [sp, #(16 * 6)]
    stp     x14, x15, [sp, #(16 * 7)]
    stp     x16, x17, [sp, #(16 * 8)]
    stp     x18, x19, [sp, #(16 * 9)]
    stp     x20, x21, [sp, #(16 * 10)]
    stp     x22, x23, [sp, #(16 * 11)]
    stp     x24, x25, [sp, #(16 * 12)]
    stp     x26, x27, [sp, #(16 * 13)]
    stp     x28, x29, [sp, #(16 * 14)]
    mrs     x2, elr_el1
    mrs     x3, spsr_el1
    stp     x2, x3, [sp, #{REGS_ELR}]
.endm

.macro restore_all
    ldp     x2, x3, [sp, #{REGS_ELR}]
    msr     elr_el1, x2
    msr     spsr_el1, x3
    ldp     x0, x1, [sp, #(16 * 0)]
    ldp     x2, x3, [sp, #(16 * 1)]
    ldp     x4, x5, [sp, #(16 * 2)]
    ldp     x6, x7, [sp, #(16 * 3)]
    ldp     x8, x9, [sp, #(16 * 4)]
    ldp     x10, x11, [sp, #(16 * 5)]
    ldp     x12, x13, [sp, #(16 * 6)]
    ldp     x14, x15, [sp, #(16 * 7)]
    ldp     x16, x17, [sp, #(16 * 8)]
    ldp     x18, x19, [sp, #(16 * 9)]
    ldp     x20, x21, [sp, #(16 * 10)]
    ldp     x22, x23, [sp, #(16 * 11)]
    ldp     x24, x25, [sp, #(16 * 12)]
    ldp     x26, x27, [sp, #(16 * 13)]
    ldp     x28, x29, [sp, #(16 * 14)]
    ldr     x30, [sp, #(16 * 15)]
.endm

    .section .text.vectors, "ax"
    .balign 0x800
    .global exception_vectors
exception_vectors:
    vector  0, trap_entry_el1       // current EL, SP_EL0: synchronous
    vector  1, trap_entry_el1       //                     IRQ
    vector  2, trap_entry_el1       //                     FIQ
    vector  3, trap_entry_el1       //                     SError
    vector_checked 4               // current EL, SP_EL1: synchronous
    vector_checked 5               //                     IRQ
    vector_checked 6               //                     FIQ
    vector_checked 7               //                     SError
    vector  8, trap_entry_el0       // lower EL, AArch64:  synchronous
    vector  9, trap_entry_el0       //                     IRQ
    vector  10, trap_entry_el0      //                     FIQ
    vector  11, trap_entry_el0      //                     SError
    vector  12, trap_entry_el0      // lower EL, AArch32:  synchronous
    vector  13, trap_entry_el0      //                     IRQ
    vector  14, trap_entry_el0      //                     FIQ
    vector  15, trap_entry_el0      //                     SError

// From EL1: the interrupted SP is the one above the frame.
trap_entry_el1:
    save_rest
    add     x2, sp, #{REGS_SIZE}
    stp     x30, x2, [sp, #(16 * 15)]
    mov     x0, sp
    mov     x29, #0                         // end the frame-pointer chain at the trap
    bl      pecan_aarch64_trap
    restore_all
    add     sp, sp, #{REGS_SIZE}
    eret

// From EL0: the interrupted SP is SP_EL0.
trap_entry_el0:
    save_rest
    mrs     x2, sp_el0
    stp     x30, x2, [sp, #(16 * 15)]
    mov     x0, sp
    mov     x29, #0
    bl      pecan_aarch64_trap
    ldr     x2, [sp, #{REGS_SP}]
    msr     sp_el0, x2
    restore_all
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
