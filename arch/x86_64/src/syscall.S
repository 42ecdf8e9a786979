// SYSCALL entry: save the user registers into the current thread's Context, then call the
// kernel on this CPU's kernel stack.
//
// Register protocol on entry (set by the CPU from IA32_STAR/LSTAR/FMASK, see syscall.rs):
//   rcx = user rip (of the instruction after `syscall`), r11 = user rflags,
//   CS = kernel code, SS = kernel data, rflags with IF, TF, DF, AC, NT and IOPL cleared,
//   rsp = the USER's stack pointer (not switched, never dereferenced here),
//   GS = the user's GS (the first instruction swaps in the per-CPU block).
// The system-call ABI (docs/abi.md): rax control word, rdi capability selector, rsi tag,
//   rdx r8 r9 r10 r12 r13 r14 r15 = MR0..MR7; rbx, rbp and every other register preserved;
//   rcx and r11 are destroyed by the instruction itself.
//
// The path: swapgs; the user rsp goes to gs:[user_rsp]; rsp = gs:[frame_end], the end of
// the current thread's TrapFrame (the same address as TSS.RSP0); the pushes build exactly
// the frame an interrupt from user mode would (ss, rsp, rflags = r11, cs, rip = rcx, error
// 0, vector = VECTOR_SYSCALL, then r15..rax), so the kernel sees one format. Then rsp =
// gs:[kernel_stack]; with the `fastpath-asm` feature (fastpath.rs: `ON`) a jump to the
// assembly fast path (fastpath.S: rax, rdi, rsi still the user's), which comes back to
// `pecan_syscall_route` for everything it does not take; there `call {route}`, which
// never returns: with the `fastpath` feature
// the platform's `pecan_x86_64_syscall` (the kernel's fast path, then its general path, no
// event and no handler indirection), else `pecan_syscall` (syscall.rs: `Event::Syscall` to
// the registered handler); both leave through return.S. Interrupts stay masked throughout
// (FMASK cleared IF).

.section .text.entry, "ax"
.code64
.balign 16
.global pecan_syscall_entry
pecan_syscall_entry:
    swapgs
    mov gs:[{user_rsp}], rsp
    mov rsp, gs:[{frame_end}]
    push {user_ds}
    push qword ptr gs:[{user_rsp}]
    push r11
    push {user_cs}
    push rcx
    push 0
    push {vector_syscall}
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
    mov rsp, gs:[{kernel_stack}]
.if {fastpath_asm}
    jmp pecan_fastpath_x86_64
.endif
.global pecan_syscall_route
pecan_syscall_route:
    xor ebp, ebp
    call {route}
    ud2
