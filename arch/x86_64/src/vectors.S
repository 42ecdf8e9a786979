// Trap entry: one stub per vector, and the common path that saves a full TrapFrame.
//
// Register protocol: the CPU enters through an interrupt gate (IF clear) in the kernel
// code segment. For traps from kernel mode it has pushed ss, rsp, rflags, cs, rip on the
// current stack (the IST 1 stack for a double fault), aligned down to 16 bytes, plus an
// error code for vectors 8, 10-14, 17, 21, 29, 30. Stub `n` (at pecan_vectors + 16 * n)
// pushes a zero error code where the CPU did not, then `n`, and jumps to the common path,
// which
//   - swaps GS if the trap came from user mode (cs & 3 != 0), so gs: is per-CPU data;
//   - pushes r15..rax so that rsp points at a complete `TrapFrame` (context.rs; 176 bytes,
//     so rsp is still 16-byte aligned);
//   - calls pecan_trap(frame) (SysV: rdi = frame; every register it may clobber is
//     saved in the frame), which may change the frame;
//   - restores the frame's registers, swaps GS back for user mode, drops vector and error
//     code, and returns with iretq.
// For user mode (next issue), TSS.RSP0 will point at the end of the current thread's
// `Context.regs`, so the CPU and this path save the user registers straight into the
// thread; the common path then continues on the per-CPU kernel stack (gs:[8]).

.section .text.vectors, "ax"
.code64
.balign 16
.global pecan_vectors
pecan_vectors:
.set vec, 0
.rept 256
    .balign 16
    .if (vec == 8) || ((vec >= 10) && (vec <= 14)) || (vec == 17) || (vec == 21) || (vec == 29) || (vec == 30)
    .else
    push 0
    .endif
    push vec
    jmp pecan_trap_common
    .set vec, vec + 1
.endr

.balign 16
pecan_trap_common:
    test byte ptr [rsp + 24], 3
    jz 1f
    swapgs
1:  push r15
    push r14
    push r13
    push r12
    push r11
    push r10
    push r9
    push r8
    push rbp
    push rdi
    push rsi
    push rdx
    push rcx
    push rbx
    push rax
    mov rdi, rsp
    call pecan_trap
    pop rax
    pop rbx
    pop rcx
    pop rdx
    pop rsi
    pop rdi
    pop rbp
    pop r8
    pop r9
    pop r10
    pop r11
    pop r12
    pop r13
    pop r14
    pop r15
    test byte ptr [rsp + 24], 3
    jz 2f
    swapgs
2:  add rsp, 16
    iretq
