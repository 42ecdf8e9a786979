// fpsimd.S: saving and loading a thread's FP/SIMD registers (`FpState`, context.rs), for
// the lazy switch in fpu.rs. The kernel is built soft-float and never touches these
// registers otherwise; the directives below let the assembler accept the instructions.
//
// pecan_aarch64_fp_save: in x0 = &mut FpState (16-byte aligned). Stores q0..q31, FPCR,
//   FPSR. Clobbers x1, x2. Needs CPACR_EL1.FPEN to let EL1 in (0b01 or 0b11), synchronized.
// pecan_aarch64_fp_load: in x0 = &FpState. Loads q0..q31, FPCR, FPSR. Clobbers x1, x2.
//   Same condition.

    .arch_extension fp
    .arch_extension simd
    .section .text.fpsimd, "ax"
    .balign 16
    .global pecan_aarch64_fp_save
pecan_aarch64_fp_save:
    stp     q0, q1, [x0, #(32 * 0)]
    stp     q2, q3, [x0, #(32 * 1)]
    stp     q4, q5, [x0, #(32 * 2)]
    stp     q6, q7, [x0, #(32 * 3)]
    stp     q8, q9, [x0, #(32 * 4)]
    stp     q10, q11, [x0, #(32 * 5)]
    stp     q12, q13, [x0, #(32 * 6)]
    stp     q14, q15, [x0, #(32 * 7)]
    stp     q16, q17, [x0, #(32 * 8)]
    stp     q18, q19, [x0, #(32 * 9)]
    stp     q20, q21, [x0, #(32 * 10)]
    stp     q22, q23, [x0, #(32 * 11)]
    stp     q24, q25, [x0, #(32 * 12)]
    stp     q26, q27, [x0, #(32 * 13)]
    stp     q28, q29, [x0, #(32 * 14)]
    stp     q30, q31, [x0, #(32 * 15)]
    mrs     x1, fpcr
    mrs     x2, fpsr
    str     x1, [x0, #{FP_FPCR}]            // (beyond ldp/stp's reach for x registers)
    str     x2, [x0, #({FP_FPCR} + 8)]
    ret

    .global pecan_aarch64_fp_load
pecan_aarch64_fp_load:
    ldp     q0, q1, [x0, #(32 * 0)]
    ldp     q2, q3, [x0, #(32 * 1)]
    ldp     q4, q5, [x0, #(32 * 2)]
    ldp     q6, q7, [x0, #(32 * 3)]
    ldp     q8, q9, [x0, #(32 * 4)]
    ldp     q10, q11, [x0, #(32 * 5)]
    ldp     q12, q13, [x0, #(32 * 6)]
    ldp     q14, q15, [x0, #(32 * 7)]
    ldp     q16, q17, [x0, #(32 * 8)]
    ldp     q18, q19, [x0, #(32 * 9)]
    ldp     q20, q21, [x0, #(32 * 10)]
    ldp     q22, q23, [x0, #(32 * 11)]
    ldp     q24, q25, [x0, #(32 * 12)]
    ldp     q26, q27, [x0, #(32 * 13)]
    ldp     q28, q29, [x0, #(32 * 14)]
    ldp     q30, q31, [x0, #(32 * 15)]
    ldr     x1, [x0, #{FP_FPCR}]
    ldr     x2, [x0, #({FP_FPCR} + 8)]
    msr     fpcr, x1
    msr     fpsr, x2
    ret
