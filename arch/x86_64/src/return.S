// Leaving the kernel: back to a user thread (SYSRET or IRETQ), or into the idle loop.
//
// All three are jumped to (called, never returning) from Rust (resume.rs) on this CPU's
// kernel stack, with interrupts disabled and GS = the per-CPU block. Rust has already
// checked and sanitized the frame (guard.rs: rip in user space, canonical rsp, user cs/ss,
// rflags with IF on and IOPL/NT/VM/RF off), set TSS.RSP0 and gs:[frame_end] to the end of
// this context's frame, loaded its FS base and set CR0.TS for the lazy FPU.
//
// pecan_return_sysret(ctx: rdi = *Context), for a thread that entered with SYSCALL:
//   rcx = frame.rip, r11 = frame.rflags (SYSRET's inputs; the ABI says both are destroyed
//   by a system call), every other general-purpose register from the frame, rsp = frame.rsp
//   last but one and rdi last (it held the frame address); swapgs; sysretq (CS/SS from
//   IA32_STAR, rflags = r11). After `mov rsp` nothing touches the stack.
// pecan_return_iret(ctx: rdi = *Context), for everything else: rsp = the frame, pop the 15
//   registers, skip vector and error code, swapgs, iretq (rip, cs, rflags, rsp, ss from the
//   frame): every register comes back, rcx and r11 included.
// pecan_idle(stack: rdi = kernel stack top): rsp = the kernel stack top, then for ever:
//   `call pecan_x86_idle_look` (resume.rs: returns only if no thread was handed to this
//   CPU; all registers but the callee-saved ones may change), `sti; hlt; cli`.
//   An interrupt arrives through vectors.S from kernel mode; trap.rs hands it to
//   the kernel and leaves through one of the exits above or comes back here with a fresh
//   stack, so nothing on this stack is ever returned to (except an ignored spurious
//   interrupt, which returns to the `hlt` loop). `sti; hlt` cannot lose a wake-up: `sti`
//   lets interrupts in only after the next instruction has started.

.section .text.entry, "ax"
.code64
.balign 16
.global pecan_return_sysret
pecan_return_sysret:
    mov rcx, [rdi + 17 * 8]
    mov r11, [rdi + 19 * 8]
    mov rax, [rdi + 0 * 8]
    mov rbx, [rdi + 1 * 8]
    mov rdx, [rdi + 3 * 8]
    mov rsi, [rdi + 4 * 8]
    mov rbp, [rdi + 6 * 8]
    mov r8, [rdi + 7 * 8]
    mov r9, [rdi + 8 * 8]
    mov r10, [rdi + 9 * 8]
    mov r12, [rdi + 11 * 8]
    mov r13, [rdi + 12 * 8]
    mov r14, [rdi + 13 * 8]
    mov r15, [rdi + 14 * 8]
    mov rsp, [rdi + 20 * 8]
    mov rdi, [rdi + 5 * 8]
    swapgs
    sysretq

.balign 16
.global pecan_return_iret
pecan_return_iret:
    mov rsp, rdi
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
    swapgs
    iretq

.balign 16
.global pecan_idle
pecan_idle:
    mov rsp, rdi
    xor ebp, ebp
1:  call pecan_x86_idle_look
    sti
    hlt
    cli
    jmp 1b
