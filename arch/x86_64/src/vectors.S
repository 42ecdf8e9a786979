// Trap entry: one stub per vector, and the common path that saves a full TrapFrame.
//
// Register protocol: the CPU enters through an interrupt gate (IF clear) in the kernel
// code segment and pushes ss, rsp, rflags, cs, rip, plus an error code for vectors 8,
// 10-14, 17, 21, 29, 30. From kernel mode it pushes on the current stack (the IST 1 stack
// for a double fault), aligned down to 16 bytes. From user mode it first loads rsp from
// TSS.RSP0, which points at the end of the running thread's `Context.regs` (resume.rs sets
// it on every return to user mode), so the frame lands in the thread's TCB. Stub `n` (at
// pecan_vectors + 16 * n) pushes a zero error code where the CPU did not, then `n`, and
// jumps to the common path, which looks at the saved cs:
//
// From kernel mode (the boot self-tests, the idle loop, kernel faults):
//   - pushes r15..rax so that rsp points at a complete `TrapFrame` (context.rs; 176 bytes,
//     so rsp stays 16-byte aligned); clears DF;
//   - calls pecan_trap(frame) (SysV: rdi = frame; every register it may clobber is saved in
//     the frame). It returns for what it handles in place (ticks, breakpoints), and never
//     returns for an interrupt that ends the idle loop (it leaves through return.S);
//   - restores the registers, drops vector and error code, and returns with iretq.
// From user mode (cs & 3 != 0):
//   - swapgs, so gs: is the per-CPU block; loads the kernel data selector into SS (AMD CPUs
//     leave a null SS from the privilege change with attributes that would break a later
//     SYSRET); clears DF (interrupt gates do not, and Rust code assumes it clear);
//   - pushes r15..rax into the thread's context: the TrapFrame is complete in the TCB;
//   - switches to this CPU's kernel stack (gs:[kernel_stack]) and calls
//     pecan_user_trap(frame) (rdi = the frame, i.e. the Context), which never returns: it
//     reports the event to the kernel and leaves through return.S.

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
    jnz 3f
    push r15
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
    cld
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
    add rsp, 16
    iretq

3:  swapgs
    push r15
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
    mov eax, {kernel_ds}
    mov ss, ax
    cld
    mov rdi, rsp
    mov rsp, gs:[{kernel_stack}]
    xor ebp, ebp
    call pecan_user_trap
    ud2
