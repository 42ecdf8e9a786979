// usertest.S: user-mode code for the arch's own user-mode self-tests (usertest.rs). One
// page, page aligned, mapped user-executable at USER_CODE in the test address spaces;
// nothing here runs at EL1.
//
// System calls here are the test harness's, not the kernel's: svc with x0 = operation
// (usertest.rs: OP_YIELD switches threads, OP_DONE reports a result in x1, OP_PING just
// reports), nothing else.
//
// usertest_fp: in x0 = seed, x1 = rounds. Fills v0..v31 with values derived from the
//   seed (low half seed + i, high half its complement), FPCR.RMode with seed & 3 and
//   TPIDR_EL0 with the seed; then `rounds` times: spins (to be preempted by the timer),
//   yields, and checks every one of them. Ends with OP_DONE, x1 = 0 if all held, else 1.
// usertest_nofp: in x1 = rounds. The same loop without touching FP/SIMD.
// usertest_*: one-instruction cases for the guards test, each after the label its name
//   says, with `b .` after it where the instruction might not trap.

    .arch_extension fp
    .arch_extension simd
    .section .text.usertest, "ax"
    .balign 4096
    .global usertest_code
usertest_code:

    .global usertest_fp
usertest_fp:
    mov     x19, x0
    mov     x20, x1
    msr     tpidr_el0, x19
    .irp i, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    add     x2, x19, #\i
    fmov    d\i, x2
    mvn     x3, x2
    mov     v\i\().d[1], x3
    .endr
    and     x2, x19, #3
    lsl     x2, x2, #22
    msr     fpcr, x2
1:  mov     x21, #{SPIN}
2:  subs    x21, x21, #1
    b.ne    2b
    mov     x0, #{OP_YIELD}
    svc     #0
    .irp i, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    add     x2, x19, #\i
    fmov    x3, d\i
    cmp     x2, x3
    b.ne    9f
    mvn     x2, x2
    mov     x3, v\i\().d[1]
    cmp     x2, x3
    b.ne    9f
    .endr
    mrs     x2, fpcr
    and     x3, x19, #3
    lsl     x3, x3, #22
    cmp     x2, x3
    b.ne    9f
    mrs     x2, tpidr_el0
    cmp     x2, x19
    b.ne    9f
    subs    x20, x20, #1
    b.ne    1b
    mov     x0, #{OP_DONE}
    mov     x1, #0
    svc     #0
    b       .
9:  mov     x0, #{OP_DONE}
    mov     x1, #1
    svc     #0
    b       .

    .global usertest_nofp
usertest_nofp:
    mov     x20, x1
1:  mov     x21, #{SPIN}
2:  subs    x21, x21, #1
    b.ne    2b
    mov     x0, #{OP_YIELD}
    svc     #0
    subs    x20, x20, #1
    b.ne    1b
    mov     x0, #{OP_DONE}
    mov     x1, #0
    svc     #0
    b       .

    .global usertest_report
usertest_report:                        // OP_DONE with x1 = 42
    mov     x0, #{OP_DONE}
    mov     x1, #42
    svc     #0
    b       .

    .global usertest_svc_imm
usertest_svc_imm:                       // any svc immediate is a system call
    mov     x0, #{OP_DONE}
    mov     x1, #43
    svc     #0x1234
    b       .

    .global usertest_spin
usertest_spin:
    b       .

    .global usertest_bad_sp
usertest_bad_sp:                        // a system call with a wild SP, then use it
    mov     x0, #{OP_PING}
    svc     #0
    ldr     x1, [sp]
    b       .

    .global usertest_null_read
usertest_null_read:
    mov     x1, #0
    ldr     x0, [x1]
    b       .

    .global usertest_null_write
usertest_null_write:
    mov     x1, #0
    str     x0, [x1]
    b       .

    .global usertest_udf
usertest_udf:
    udf     #0

    .global usertest_wfi
usertest_wfi:
    wfi
    b       .

    .global usertest_daif
usertest_daif:
    msr     daifset, #2
    b       .

    .global usertest_sysreg
usertest_sysreg:
    mrs     x0, sctlr_el1

    .global usertest_hvc
usertest_hvc:
    hvc     #0

    .global usertest_brk
usertest_brk:
    brk     #7

    .balign 4096
    .global usertest_code_end
usertest_code_end:
