// The x86_64 IPC fast path in assembly (`fastpath-asm` feature): a short `Call` or
// `ReplyWait` whose partner waits, done between the SYSCALL entry and SYSRET, with the same
// observable result as the core's generic fast path (crates/core/src/fastpath.rs), which
// stays the reference: anything this code does not take goes to the platform's route,
// unchanged (the core's fast path, then its general path). The offsets and encodings of
// the kernel's data come from `pecan_core::layout` (fastpath.rs passes them as `const`
// operands); docs/fastpath.md has the design and the measurements.
//
// Register protocol on entry (jumped to from syscall.S once the frame is saved):
//   rax = control word, rdi = capability selector, rsi = tag (the user's values, also
//   saved in the frame), rsp = this CPU's kernel stack top (never used here), GS = the
//   per-CPU block, interrupts off. Every general-purpose register may be changed: the
//   thread's are all in its frame.
// Fallback: `jmp {route}` (syscall.S's `pecan_syscall_route`, which calls the platform's
//   Rust route) with nothing changed, the lock word released, rsp as on entry. Before
//   the word is taken: only the FPU entry work may have been done (it is idempotent: the
//   route's `fpu::save_on_entry` then finds nothing to save).
// Locking (`pecan_kernel::lock`, docs/smp.md "Locking"): only THIS CPU's word of the
//   kernel lock, at gs:[lock_word], taken by `lock bts` of bit 0 (0 -> 1; already 1:
//   held, fallback), released by a store of 0. It keeps the Rust kernel out on every CPU
//   (that takes every word), not the other CPUs' fast paths: so this code reads shared
//   data (tables, capabilities, the ASID generation; only a holder of every word writes
//   them) and writes only this CPU's: its core state, and threads whose `cpu` is this
//   CPU. The caller runs here, so its `cpu` is this CPU (a thread's `cpu` changes only
//   while it runs nowhere); the partner's is checked equal to the caller's before any
//   write. The event counters are shared: `lock inc`.
// Inside, once the word is held:
//   rbx = &KERNEL (the `KernelLock`; the kernel at {kd}: every `k_*` operand includes it),
//   rdx = this CPU's core state (`PerCpu` of the core: current, need_resched, top,
//         loaded task; `c_*` operands), until the exit's FS-base work,
//   rbp = the running thread's handle (idx low, generation high), r12 = its table slot
//         (a live slot starts with its object's handle: one comparison checks index and
//         generation, `Table::SLOT_HANDLE`),
//   r15 = its frame (Context), r13 = the partner's slot, r14 = the partner's frame,
//   r11 = the partner's sanitized rflags from the guard's writes on (SYSRET's input),
//   r9 = the partner's handle, r8 = the gate's label (Call), rsi = the tag.
// Exit: return.S's `pecan_return_sysret` inlined, from the partner's frame, after the work of
//   resume.rs's `leave` (gs:[current], frame end and TSS.RSP0, FS base, CR0.TS) and the
//   checks of guard.rs, made before anything is written (the partner's frame entered by
//   SYSCALL, rip below USER_TOP = 2^47, rsp canonical; else fallback) and the
//   sanitizing of rflags.

.section .text.entry, "ax"
.code64

// The lazy FPU's entry work (fpu::save_on_entry): save the owner's registers if live.
.macro FP_FPU_ENTRY
    cmp byte ptr gs:[{pc_fpu_live}], 0
    je 3f
    mov byte ptr gs:[{pc_fpu_live}], 0
    mov rcx, gs:[{pc_fpu_owner}]
    fxsave64 [rcx + {ctx_fx}]
3:
.endm

// Take this CPU's word of the kernel lock (held: fallback); rdx = this CPU's core state (`Kernel::percpu[cpu]`,
// cpu = gs:[cpu_id] = `Hal::cpu_id`); the running thread: r15, r12 and, with \handle,
// rbp. Its frame is the one the entry just filled (gs:[current]), and this CPU's
// `sched.current` names it: the invariant the generic path relies on as well (it reads
// the system call from `sched.current`'s context), so it is not looked up again. Unless
// another CPU stopped the thread while it entered: `current` is then none (\handle 1,
// Call: fallback, where the call is dropped; 2, ReplyWait: no test, the caller's
// `WaitReply` names a live callee, never none, so the callee comparison sends it to the
// route; 0, Null: `need_resched` is set, also fallback).
.macro FP_LOCK_AND_CURRENT handle
    lea rbx, [rip + {kernel}]
    mov rax, gs:[{pc_lock_word}]
    lock bts dword ptr [rax], 0
    jc {route}
    mov rdx, gs:[{pc_cpu_id}]
    imul rdx, rdx, {percpu_size}
    add rdx, [rbx + {k_percpu_base}]
    mov r15, gs:[{pc_current}]
    lea r12, [r15 - {tcb_ctx}]
.if \handle
    mov rbp, [rdx + {c_current}]
.endif
.if \handle == 1
    cmp dword ptr [rdx + {c_current} + 4], 0
    je .Lfp_unlock
.endif
.endm

// Thread slot of the handle in r9 into r13, its frame in r14. It may be the running
// thread's own: then the state test that follows fails (a running thread is `Ready`,
// neither receiving nor waiting for a reply), as `Table::pair_mut` refuses it.
.macro FP_PARTNER
    mov eax, r9d
    cmp rax, [rbx + {k_threads_len}]
    jae .Lfp_unlock
    imul r13, rax, {tcb_stride}
    add r13, [rbx + {k_threads_base}]
    cmp [r13 + {tcb_handle}], r9
    jne .Lfp_unlock
    lea r14, [r13 + {tcb_ctx}]
.endm

// guard::check's tests of the partner's frame (r14), before anything is written: it
// entered by SYSCALL (else the route, which returns with IRETQ), its rip in user space,
// its rsp canonical (else the route, where the thread takes the fault).
.macro FP_GUARD
    cmp qword ptr [r14 + {f_vector}], {vector_syscall}
    jne .Lfp_unlock
    FP_GUARD_RIP_RSP
.endm

.macro FP_GUARD_RIP_RSP
    mov rax, [r14 + {f_rip}]
    shr rax, 47
    jnz .Lfp_unlock
    // Canonical: bits 63..47 all equal, so the arithmetic shift gives 0 or -1.
    mov rax, [r14 + {f_rsp}]
    sar rax, 47
    add rax, 1
    cmp rax, 1
    ja .Lfp_unlock
.endm

// The partner's address space (Kernel::fast_activate): nothing if its task is loaded;
// else its cached root and ASID if the cache is of the current ASID generation (else
// fallback: the route's `activate_and_cache`). The last check: from here on, writes.
.macro FP_SPACE
    mov rax, [r13 + {tcb_task}]
    cmp rax, [rdx + {c_active_task}]
    je 6f
    mov rcx, [r13 + {tcb_space_gen}]
    cmp rcx, [rbx + {k_asid_gen}]
    jne .Lfp_unlock
    mov [rdx + {c_active_task}], rax
    mov rax, [r13 + {tcb_space_root}]
    cmp byte ptr [rip + {pcid}], 0
    je 5f
    // PCIDs (mmu.rs `activate`): the ASID in the low 12 bits, no-flush unless untagged.
    movzx ecx, word ptr [r13 + {tcb_space_asid}]
    and ecx, 0xfff
    or rax, rcx
    test ecx, ecx
    jz 5f
    bts rax, 63
5:
    mov cr3, rax
.if {counters}
    lock inc qword ptr [rbx + {k_c_as_switches}]
    cmp word ptr [r13 + {tcb_space_asid}], 0
    jnz 6f
    lock inc qword ptr [rbx + {k_c_tlb_flushes}]
.endif
6:
.endm

// Copy the tag's words (rsi & 0x7f, at most REG_MRS: checked) from frame \src to \dst.
.macro FP_WORDS src, dst
.if {reg_mrs} > 0
    test si, si
    jz 7f
    movzx ecx, si
    mov rax, [\src + {f_mr0}]
    mov [\dst + {f_mr0}], rax
.endif
.if {reg_mrs} > 1
    cmp ecx, 1
    je 7f
    mov rax, [\src + {f_mr1}]
    mov [\dst + {f_mr1}], rax
.endif
.if {reg_mrs} > 2
    cmp ecx, 2
    je 7f
    mov rax, [\src + {f_mr2}]
    mov [\dst + {f_mr2}], rax
.endif
.if {reg_mrs} > 3
    cmp ecx, 3
    je 7f
    mov rax, [\src + {f_mr3}]
    mov [\dst + {f_mr3}], rax
.endif
.if {reg_mrs} > 4
    cmp ecx, 4
    je 7f
    mov rax, [\src + {f_mr4}]
    mov [\dst + {f_mr4}], rax
.endif
.if {reg_mrs} > 5
    cmp ecx, 5
    je 7f
    mov rax, [\src + {f_mr5}]
    mov [\dst + {f_mr5}], rax
.endif
.if {reg_mrs} > 6
    cmp ecx, 6
    je 7f
    mov rax, [\src + {f_mr6}]
    mov [\dst + {f_mr6}], rax
.endif
.if {reg_mrs} > 7
    cmp ecx, 7
    je 7f
    mov rax, [\src + {f_mr7}]
    mov [\dst + {f_mr7}], rax
.endif
7:
.endm

// Call, done deciding: the words, the receiver's results and reply capability, the caller
// waits for the reply, the receiver is ready. (rsi = tag, r8 = label, r9 = receiver; with
// \cross the received tag has the CROSS_CPU flag.)
.macro FP_CALL_WRITES cross=0
    FP_WORDS r15, r14
.if \cross
    or rsi, {tag_cross_cpu}
.endif
    mov qword ptr [r14 + {f_rax}], 0
    mov [r14 + {f_rdi}], r8
    mov [r14 + {f_rsi}], rsi
    inc dword ptr [r12 + {tcb_call_count}]
    mov eax, [r12 + {tcb_call_count}]
    mov [r13 + {tcb_reply_caller}], rbp
    mov [r13 + {tcb_reply_call}], eax
    mov byte ptr [r12 + {tcb_state}], {st_wait_reply}
    mov [r12 + {tcb_callee}], r9
    mov byte ptr [r12 + {tcb_source}], {source_user}
    inc qword ptr [r12 + {tcb_epoch}]
    mov byte ptr [r13 + {tcb_state}], {st_ready}
    inc qword ptr [r13 + {tcb_epoch}]
.endm

// ReplyWait, done deciding: the words and both threads' results, the replier waits (open)
// with no reply capability, the caller is ready (with \cross, CROSS_CPU in its tag).
.macro FP_REPLY_WAIT_WRITES cross=0
    FP_WORDS r15, r14
.if \cross
    or rsi, {tag_cross_cpu}
.endif
    xor eax, eax
    mov [r14 + {f_rax}], rax
    mov [r14 + {f_rdi}], rax
    mov [r14 + {f_rsi}], rsi
    mov [r15 + {f_rax}], rax
    mov [r15 + {f_rdi}], rax
    mov [r15 + {f_rsi}], rax
    mov [r12 + {tcb_reply_call}], eax
    mov eax, 0xffffffff
    mov [r12 + {tcb_reply_caller}], rax
    mov byte ptr [r12 + {tcb_state}], {st_receiving}
    mov byte ptr [r12 + {tcb_filter}], {filter_any}
    inc qword ptr [r12 + {tcb_epoch}]
    mov byte ptr [r13 + {tcb_state}], {st_ready}
    inc qword ptr [r13 + {tcb_epoch}]
.endm

// The cross-CPU case's tests (Kernel::takes_handoff and the pick that follows the block
// in `fast_cross`), the partner (r13) living on CPU B = its `cpu` != this CPU's: not
// migrating, no long IPC under way, and this CPU idles once the running thread (r12)
// blocks (its lists hold nothing else: `queued` is 0, or 1 and that is the running
// thread); then B's lock word, one try (held: the route), into rdi, and B's core state
// into r10: nothing running or stopped there, no reschedule asked, the partner outranked
// by nothing queued there, the partner's address space loaded there (else the route,
// which claims it). Any failure after the word is taken: .Lfp_unlock2. Uses rax, rcx.
.macro FP_CROSS
    mov ecx, [r13 + {tcb_cpu}]
    cmp ecx, [r13 + {tcb_next_cpu}]
    jne .Lfp_unlock
    cmp dword ptr [rbx + {k_long_active}], 0
    jne .Lfp_unlock
    movzx eax, byte ptr [r12 + {tcb_ready_linked}]
    cmp eax, [rdx + {c_queued}]
    jne .Lfp_unlock
    mov eax, ecx
    shl eax, {word_shift}
    lea rdi, [rbx + rax + {lock_words}]
    lock bts dword ptr [rdi], 0
    jc .Lfp_unlock
    imul r10, rcx, {percpu_size}
    add r10, [rbx + {k_percpu_base}]
    cmp dword ptr [r10 + {c_current} + 4], 0
    jne .Lfp_unlock2
    cmp dword ptr [r10 + {c_stopped} + 4], 0
    jne .Lfp_unlock2
    cmp byte ptr [r10 + {c_need_resched}], 0
    jne .Lfp_unlock2
    movzx eax, byte ptr [r13 + {tcb_prio}]
    cmp al, [r10 + {c_top}]
    jb .Lfp_unlock2
    mov rax, [r13 + {tcb_task}]
    cmp rax, [r10 + {c_active_task}]
    jne .Lfp_unlock2
.endm

// Jumped to by syscall.S. Neither Call, ReplyWait nor Null, or a tag with items, flags
// or more than REG_MRS words: the route, at once.
.balign 16
.global pecan_fastpath_x86_64
pecan_fastpath_x86_64:
    cmp si, {reg_mrs}
    ja {route}
    cmp rax, [rip + .Lfp_word_call]
    je .Lfp_call
    cmp rax, [rip + .Lfp_word_reply_wait]
    je .Lfp_reply_wait
    test rax, [rip + .Lfp_word_not_null]
    jnz {route}

// Null: no reschedule pending, no resource bits: the results, back to the same thread.
.Lfp_null:
    FP_FPU_ENTRY
    FP_LOCK_AND_CURRENT 0
    movzx eax, byte ptr [rdx + {c_need_resched}]
    or eax, [r12 + {tcb_resources}]
    jnz .Lfp_unlock
    mov r14, r15
    FP_GUARD_RIP_RSP
    xor eax, eax
    mov [r15 + {f_rax}], rax
    mov [r15 + {f_rdi}], rax
    mov [r15 + {f_rsi}], rax
    jmp .Lfp_leave

.Lfp_call:
    FP_FPU_ENTRY
    FP_LOCK_AND_CURRENT 1
    mov rax, [r12 + {tcb_task}]
    mov ecx, eax
    cmp rcx, [rbx + {k_tasks_len}]
    jae .Lfp_unlock
    imul rcx, rcx, {task_stride}
    add rcx, [rbx + {k_tasks_base}]
    cmp [rcx + {task_handle}], rax
    jne .Lfp_unlock
    cmp rdi, [rcx + {task_caps_size}]
    jae .Lfp_unlock
    imul rdi, rdi, {caps_stride}
    add rdi, [rcx + {task_caps_base}]
    cmp byte ptr [rdi + {cap_entry_tag}], {cap_entry_full}
    jne .Lfp_unlock
    cmp byte ptr [rdi + {cap_obj_tag}], {obj_gate}
    jne .Lfp_unlock
    mov r10, [rdi + {cap_handle}]
    mov eax, r10d
    cmp rax, [rbx + {k_gates_len}]
    jae .Lfp_unlock
    imul rcx, rax, {gate_stride}
    add rcx, [rbx + {k_gates_base}]
    cmp [rcx + {gate_handle}], r10
    jne .Lfp_unlock
    mov r8, [rcx + {gate_label}]
    mov r9, [rcx + {gate_receiver}]
    FP_PARTNER
    cmp byte ptr [r13 + {tcb_state}], {st_receiving}
    jne .Lfp_unlock
    movzx eax, byte ptr [r13 + {tcb_filter}]
    test eax, eax
    jz 1f
    cmp eax, {filter_gate}
    jne .Lfp_unlock
    cmp [r13 + {tcb_filter_handle}], r10
    jne .Lfp_unlock
1:
    // The slow conditions: resource bits of either thread and the receiver on another CPU
    // in one word, one branch; no SEND right and a ready thread outranking the receiver
    // each a test and a branch (fewer instructions than folding them into the word).
    mov eax, [r12 + {tcb_resources}]
    or eax, [r13 + {tcb_resources}]
    mov ecx, [r12 + {tcb_cpu}]
    xor ecx, [r13 + {tcb_cpu}]
    or eax, ecx
    jnz .Lfp_call_other
    test byte ptr [rdi + {cap_rights}], {send}
    jz .Lfp_unlock
    movzx eax, byte ptr [r13 + {tcb_prio}]
    cmp al, [rdx + {c_top}]
    jb .Lfp_unlock
    FP_GUARD
    FP_SPACE
    FP_CALL_WRITES
    jmp .Lfp_switch

// ReplyWait: the reply capability names a caller that still waits for this thread's
// reply to that call from a system call; nothing queued for the replier.
.Lfp_reply_wait:
    FP_FPU_ENTRY
    FP_LOCK_AND_CURRENT 2
    mov r9, [r12 + {tcb_reply_caller}]
    FP_PARTNER
    cmp byte ptr [r13 + {tcb_state}], {st_wait_reply}
    jne .Lfp_unlock
    cmp [r13 + {tcb_callee}], rbp
    jne .Lfp_unlock
    cmp byte ptr [r13 + {tcb_source}], {source_user}
    jne .Lfp_unlock
    mov eax, [r12 + {tcb_reply_call}]
    cmp [r13 + {tcb_call_count}], eax
    jne .Lfp_unlock
    // One word, one branch: resource bits, the caller on another CPU, a sender queued or
    // an IRQ pending for the replier; then a ready thread outranking the caller.
    mov eax, [r12 + {tcb_resources}]
    or eax, [r13 + {tcb_resources}]
    mov ecx, [r12 + {tcb_cpu}]
    xor ecx, [r13 + {tcb_cpu}]
    or eax, ecx
    or eax, [r12 + {tcb_send_queue_len}]
    or eax, [r12 + {tcb_pending_irqs_len}]
    jnz .Lfp_reply_wait_other
    movzx eax, byte ptr [r13 + {tcb_prio}]
    cmp al, [rdx + {c_top}]
    jb .Lfp_unlock
    FP_GUARD
    FP_SPACE
    FP_REPLY_WAIT_WRITES

// Both: the direct switch to the partner (lazy queues: the blocked thread stays queued),
// the counters, the lock word released; then resume.rs's `leave` for the partner's frame.
.Lfp_switch:
    mov [rdx + {c_current}], r9
    mov byte ptr [rdx + {c_need_resched}], 0
.if {counters}
    lock inc qword ptr [rbx + {k_c_messages}]
    lock inc qword ptr [rbx + {k_c_handoffs}]
    lock inc qword ptr [rbx + {k_c_direct_switches}]
.endif
// Every system call done here: r14 = the frame to resume; then `leave`'s work.
.Lfp_leave:
.if {counters}
    lock inc qword ptr [rbx + {k_c_exceptions}]
    lock inc qword ptr [rbx + {k_c_syscalls}]
    lock inc qword ptr [rbx + {k_c_fastpath}]
.endif
    // guard::check's writes: the sanitized rflags (SYSRET's r11). Its cs and ss stores
    // would write what the frame holds: a SYSCALL frame has the user selectors syscall.S
    // pushed, and nothing else writes a frame's cs or ss (SYSRET does not read them).
    mov r11, [r14 + {f_rflags}]
    and r11, {user_flags}
    or r11, {forced_flags}
    mov [r14 + {f_rflags}], r11
    mov rax, gs:[{pc_lock_word}]
    mov dword ptr [rax], 0
    mov gs:[{pc_current}], r14
    lea rax, [r14 + {frame_end}]
    mov gs:[{pc_frame_end}], rax
    mov gs:[{pc_tss_rsp0}], rax
    // The FS base, when the context or its thread pointer differs from the loaded one
    // (sign-extended from bit 47, as `VirtAddr::new_truncate`).
    mov rax, [r14 + {ctx_tls}]
    cmp gs:[{pc_fs_ctx}], r14
    jne 2f
    cmp gs:[{pc_fs_base}], rax
    je 3f
2:
    mov gs:[{pc_fs_ctx}], r14
    mov gs:[{pc_fs_base}], rax
    shl rax, 16
    sar rax, 16
    mov rdx, rax
    shr rdx, 32
    mov ecx, 0xc0000100
    wrmsr
3:
    // CR0.TS (fpu::prepare_return): clear for the FPU's owner, set for anyone else.
    cmp gs:[{pc_fpu_owner}], r14
    jne 4f
    mov rax, [r14 + {ctx_fpu_id}]
    cmp gs:[{pc_fpu_owner_id}], rax
    jne 4f
    cmp byte ptr gs:[{pc_ts_set}], 0
    je 5f
    clts
    mov byte ptr gs:[{pc_ts_set}], 0
5:
    mov byte ptr gs:[{pc_fpu_live}], 1
    jmp 7f
4:
    cmp byte ptr gs:[{pc_ts_set}], 0
    jne 6f
    mov rax, cr0
    or rax, 8
    mov cr0, rax
    mov byte ptr gs:[{pc_ts_set}], 1
6:
    // `fpu_live` is already 0: FP_FPU_ENTRY cleared it.
7:
    // return.S's `pecan_return_sysret`, from r14.
    mov rcx, [r14 + {f_rip}]
    mov rax, [r14 + {f_rax}]
    mov rbx, [r14 + {f_rbx}]
    mov rdx, [r14 + {f_mr0}]
    mov rsi, [r14 + {f_rsi}]
    mov rdi, [r14 + {f_rdi}]
    mov rbp, [r14 + {f_rbp}]
    mov r8, [r14 + {f_mr1}]
    mov r9, [r14 + {f_mr2}]
    mov r10, [r14 + {f_mr3}]
    mov r12, [r14 + {f_mr4}]
    mov r13, [r14 + {f_mr5}]
    mov r15, [r14 + {f_mr7}]
    mov rsp, [r14 + {f_rsp}]
    mov r14, [r14 + {f_mr6}]
    swapgs
    sysretq

.pushsection .rodata
.balign 8
.Lfp_word_call: .quad {call}
.Lfp_word_reply_wait: .quad {reply_wait}
.Lfp_word_not_null: .quad {not_null}
.popsection

// Call or ReplyWait whose one-word test failed: resource bits or (ReplyWait) something
// queued for the replier, the route; else the partner lives on another CPU: the
// cross-CPU case (with `cross`; else the route).
.Lfp_call_other:
.if {cross}
    mov eax, [r12 + {tcb_resources}]
    or eax, [r13 + {tcb_resources}]
    jnz .Lfp_unlock
    test byte ptr [rdi + {cap_rights}], {send}
    jz .Lfp_unlock
    FP_CROSS
    FP_CALL_WRITES 1
    jmp .Lfp_cross_switch
.else
    jmp .Lfp_unlock
.endif

.Lfp_reply_wait_other:
.if {cross}
    mov eax, [r12 + {tcb_resources}]
    or eax, [r13 + {tcb_resources}]
    or eax, [r12 + {tcb_send_queue_len}]
    or eax, [r12 + {tcb_pending_irqs_len}]
    jnz .Lfp_unlock
    FP_CROSS
    FP_REPLY_WAIT_WRITES 1
    jmp .Lfp_cross_switch
.else
    jmp .Lfp_unlock
.endif

// The cross-CPU case, written (`Kernel::fast_cross` with `hand_off` and `ring_handoffs`):
// the partner becomes B's running thread on a fresh time slice, this CPU runs nothing;
// the counters; B's doorbell rung (the Rust `pecan_x86_64_fast_ring`, under B's word, so
// two rings never overlap; it sends the `Wake` IPI unless B polls); both words released;
// this CPU idles (`pecan_x86_64_fast_idle`, on this CPU's kernel stack, where rsp is).
// B resumes the partner from its idle loop through `resume_user`, whose `guard::check`
// tests and sanitizes the frame. In: r10 = B's core state, rdi = B's word.
.if {cross}
.Lfp_cross_switch:
    mov [r10 + {c_current}], r9
    mov eax, [r13 + {tcb_timeslice}]
    mov [r10 + {c_slice_left}], eax
    mov eax, 0xffffffff
    mov [rdx + {c_current}], rax
    mov byte ptr [rdx + {c_need_resched}], 0
    mov dword ptr [rdx + {c_slice_left}], 0
.if {counters}
    lock inc qword ptr [rbx + {k_c_exceptions}]
    lock inc qword ptr [rbx + {k_c_syscalls}]
    lock inc qword ptr [rbx + {k_c_fastpath}]
    lock inc qword ptr [rbx + {k_c_messages}]
    lock inc qword ptr [rbx + {k_c_handoffs}]
    lock inc qword ptr [rbx + {k_c_remote_handoffs}]
.endif
    mov r12, rdi
    mov edi, [r13 + {tcb_cpu}]
    mov rsi, r14
    call {fast_ring}
.if {counters}
    test al, al
    jz 1f
    lock inc qword ptr [rbx + {k_c_ipis}]
1:
.endif
    mov dword ptr [r12], 0
    mov rax, gs:[{pc_lock_word}]
    mov dword ptr [rax], 0
    call {fast_idle}
    ud2

// A slow condition once B's word is held: nothing was written; release it, then ours.
.Lfp_unlock2:
    mov dword ptr [rdi], 0
.endif

// A slow condition once the word is held: nothing was written; release it, take the route.
.Lfp_unlock:
    mov rax, gs:[{pc_lock_word}]
    mov dword ptr [rax], 0
    jmp {route}
