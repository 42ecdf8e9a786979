// frame.S: the macros that save and restore a `Regs` frame (context.rs), shared by the
// kernel-trap path (vectors.S) and the user entry and exit (user.S). Assembled in front of
// both, in one global_asm! block (asm.rs), so each macro is defined once.
//
// Register protocol: `save_rest` expects SP = the frame, x0/x1 already stored at its
// start; it stores x2..x29, ELR_EL1 and SPSR_EL1 and clobbers x2, x3 (after saving them).
// `save_x4_up` is its part after x2/x3 (already stored), with the two scratch registers
// for ELR/SPSR as parameters (x2, x3 unless named). x30 and the interrupted SP are stored
// by the caller, which knows where the SP comes from. `restore_gprs` loads x0..x30 from
// the frame at SP and changes nothing else.

.macro save_rest
    stp     x2, x3, [sp, #(16 * 1)]
    save_x4_up
.endm

.macro save_x4_up ta=x2, tb=x3
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
    mrs     \ta, elr_el1
    mrs     \tb, spsr_el1
    stp     \ta, \tb, [sp, #{REGS_ELR}]
.endm

// x4..x30 from the register block at sp (for exits that set x0..x3 themselves).
.macro restore_gprs_from_x4
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

.macro restore_gprs
    ldp     x0, x1, [sp, #(16 * 0)]
    ldp     x2, x3, [sp, #(16 * 1)]
    restore_gprs_from_x4
.endm
