//! AArch64-only scenarios (`init=test scenario=aarch64-`): the kernel's return guards
//! (ELR values `eret` hands to EL0, whatever they are, come back as the thread's faults),
//! hostile stack pointers at `svc` and during interrupts, the exception classes user code
//! can raise, and FP/SIMD state across switches between threads that both use it and
//! across thread deletion.
//!
//! User programs are built for `aarch64-unknown-none`, whose compiled code may use the
//! vector registers at any time; so every FP/SIMD check keeps its values in the registers
//! only inside one assembly routine (`a64t_fp_*`), system calls included.

use core::arch::{asm, global_asm};
use core::sync::atomic::{AtomicU64, Ordering};
use core::time::Duration;
use pecan_abi::layout::USER_TOP;
use pecan_abi::proto::{self, exception as exc};
use pecan_abi::{Status, caps::std_slots};
use pecan_system::rootthread;
use pecan_user::{Received, Timeouts, ipc};

use crate::env::Env;
use crate::{Fail, Scenario, check};

/// This file's scenarios.
pub const SCENARIOS: &[Scenario] = &[
    ("aarch64-eret-wild-elr", wild_elr),
    ("aarch64-svc-hostile-sp", hostile_sp),
    ("aarch64-exception-classes", exception_classes),
    ("aarch64-fpsimd-switch", fpsimd_switch),
    ("aarch64-fpsimd-deleted-owner", fpsimd_deleted_owner),
];

// Entry points for the fault scenarios: each raises one exception. Then the FP/SIMD
// routines (extern "C", AAPCS64: they keep x19..x28 and d8..d15 for their caller).
//
// a64t_park: where a handler resumes a thread: calls the gate whose selector is in x0 (the
//   thread's argument, untouched since it started) with an empty message, then sleeps
//   forever.
// a64t_fp_fill: (no call) x0 = seed: v_i = {seed + i, !(seed + i)}, FPCR.RMode = seed & 3.
// a64t_fp_count: (no call) x0 = seed; x0 out = how many of v0..v31 and FPCR differ from
//   what a64t_fp_fill(seed) left. Clobbers x1..x4.
// a64t_fp_rounds(seed, rounds) -> mismatches: fills, then `rounds` times spins, makes a
//   system call (yield, then sleep 1 ms, then none, in turn) and counts mismatches.
// a64t_fp_spin(seed, mine, other, want, max) -> seen (x0) with mismatches in x1: fills,
//   then without system calls checks and bumps *mine, counting how often *other changed
//   (the other thread ran: the timer switched), until that is `want` or `max` loops.
// a64t_fp_hold(seed, flag): fills, stores 1 to *flag, sleeps forever (its state stays the
//   CPU's live FP state until someone else uses FP/SIMD).
// a64t_fp_fresh(out): stores to *out how many of v0..v31, FPCR, FPSR are not zero (what a
//   new thread must see), then sleeps forever.
global_asm!(
    r#"
    .section .text.a64test, "ax"
    .global a64t_udf, a64t_wfi, a64t_daif, a64t_sysreg, a64t_hvc, a64t_brk
    .global a64t_null, a64t_kernel_write, a64t_exec_stack, a64t_park
a64t_udf:   udf #0
a64t_wfi:   wfi
    b       .
a64t_daif:  msr daifset, #2
    b       .
a64t_sysreg: mrs x1, sctlr_el1
    b       .
a64t_hvc:   hvc #0
    b       .
a64t_brk:   brk #0x42
    b       .
a64t_null:  mov x1, #0
    ldr     x1, [x1]
    b       .
a64t_kernel_write:
    movz    x1, #0xffff, lsl #48
    add     x1, x1, #0x1000
    str     x1, [x1]
    b       .
a64t_exec_stack:
    sub     x1, sp, #64
    movz    w2, #0x201f
    movk    w2, #0xd503, lsl #16
    str     w2, [x1]
    br      x1
a64t_park:
    mov     x1, x0
    movz    x0, #2
    movk    x0, #0xffff, lsl #16
    movk    x0, #0xffff, lsl #32
    mov     x2, #0
    svc     #0
1:  movz    x0, #5
    movk    x0, #0xffff, lsl #32
    mov     x1, #0
    mov     x2, #0
    svc     #0
    b       1b

    .arch_extension fp
    .arch_extension simd
a64t_fp_fill:
    .irp i, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    add     x1, x0, #\i
    fmov    d\i, x1
    mvn     x2, x1
    mov     v\i\().d[1], x2
    .endr
    and     x1, x0, #3
    lsl     x1, x1, #22
    msr     fpcr, x1
    ret

a64t_fp_count:
    mov     x4, #0
    .irp i, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    add     x1, x0, #\i
    fmov    x2, d\i
    mvn     x3, x1
    eor     x1, x1, x2
    mov     x2, v\i\().d[1]
    eor     x3, x3, x2
    orr     x1, x1, x3
    cmp     x1, #0
    cinc    x4, x4, ne
    .endr
    mrs     x1, fpcr
    and     x2, x0, #3
    lsl     x2, x2, #22
    cmp     x1, x2
    cinc    x4, x4, ne
    mov     x0, x4
    ret

.macro save_callee
    stp     x29, x30, [sp, #-160]!
    stp     x19, x20, [sp, #16]
    stp     x21, x22, [sp, #32]
    stp     x23, x24, [sp, #48]
    stp     x25, x26, [sp, #64]
    stp     d8, d9, [sp, #80]
    stp     d10, d11, [sp, #96]
    stp     d12, d13, [sp, #112]
    stp     d14, d15, [sp, #128]
.endm
.macro restore_callee
    ldp     x19, x20, [sp, #16]
    ldp     x21, x22, [sp, #32]
    ldp     x23, x24, [sp, #48]
    ldp     x25, x26, [sp, #64]
    ldp     d8, d9, [sp, #80]
    ldp     d10, d11, [sp, #96]
    ldp     d12, d13, [sp, #112]
    ldp     d14, d15, [sp, #128]
    ldp     x29, x30, [sp], #160
.endm

    .global a64t_fp_rounds
a64t_fp_rounds:
    save_callee
    mov     x19, x0                 // seed
    mov     x20, x1                 // rounds left
    mov     x21, #0                 // mismatches
    mov     x22, #0                 // round number
    bl      a64t_fp_fill
2:  cbz     x20, 5f
    movz    x23, #0x4000
3:  subs    x23, x23, #1
    b.ne    3b
    mov     x1, #3
    udiv    x2, x22, x1
    msub    x2, x2, x1, x22         // round % 3
    cbz     x2, 6f
    cmp     x2, #1
    b.ne    4f
    movz    x0, #5                  // Recv from nil, receive timeout 1 ms: sleep
    movz    x1, #0x3e8
    orr     x0, x0, x1, lsl #32
    mov     x1, #0
    mov     x2, #0
    svc     #0
    b       4f
6:  mov     x0, #8                  // Yield
    mov     x1, #0
    mov     x2, #0
    svc     #0
4:  mov     x0, x19
    bl      a64t_fp_count
    add     x21, x21, x0
    add     x22, x22, #1
    sub     x20, x20, #1
    b       2b
5:  mov     x0, x21
    restore_callee
    ret

    .global a64t_fp_spin
a64t_fp_spin:
    save_callee
    mov     x19, x0                 // seed
    mov     x20, x1                 // mine
    mov     x21, x2                 // other
    mov     x22, x3                 // want
    mov     x23, x4                 // loops left
    mov     x24, #0                 // seen
    mov     x25, #0                 // mismatches
    ldr     x26, [x21]              // last value of *other
    bl      a64t_fp_fill
7:  cmp     x24, x22
    b.hs    8f
    cbz     x23, 8f
    sub     x23, x23, #1
    mov     x0, x19
    bl      a64t_fp_count
    add     x25, x25, x0
    ldr     x1, [x20]
    add     x1, x1, #1
    str     x1, [x20]
    ldr     x1, [x21]
    cmp     x1, x26
    b.eq    7b
    mov     x26, x1
    add     x24, x24, #1
    b       7b
8:  mov     x0, x24
    mov     x1, x25
    restore_callee
    ret

    .global a64t_fp_hold
a64t_fp_hold:
    mov     x19, x1
    bl      a64t_fp_fill
    mov     x1, #1
    str     x1, [x19]
    dsb     ish
9:  movz    x0, #5                  // Recv from nil, never: sleep forever
    movk    x0, #0xffff, lsl #32
    mov     x1, #0
    mov     x2, #0
    svc     #0
    b       9b

    .global a64t_fp_fresh
a64t_fp_fresh:
    mov     x19, x0
    mov     x4, #0
    .irp i, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    fmov    x1, d\i
    mov     x2, v\i\().d[1]
    orr     x1, x1, x2
    cmp     x1, #0
    cinc    x4, x4, ne
    .endr
    mrs     x1, fpcr
    cmp     x1, #0
    cinc    x4, x4, ne
    mrs     x1, fpsr
    cmp     x1, #0
    cinc    x4, x4, ne
    str     x4, [x19]
    dsb     ish
    b       9b
    .text
"#
);

unsafe extern "C" {
    fn a64t_udf();
    fn a64t_wfi();
    fn a64t_daif();
    fn a64t_sysreg();
    fn a64t_hvc();
    fn a64t_brk();
    fn a64t_null();
    fn a64t_kernel_write();
    fn a64t_exec_stack();
    fn a64t_park();
    fn a64t_fp_rounds(seed: u64, rounds: u64) -> u64;
    fn a64t_fp_spin(seed: u64, mine: *mut u64, other: *const u64, want: u64, max: u64) -> Pair;
    fn a64t_fp_fresh();
}

/// Two words returned in x0, x1.
#[repr(C)]
struct Pair(u64, u64);

fn err(e: impl core::fmt::Debug) -> Fail {
    alloc::format!("{e:?}")
}

fn addr(f: unsafe extern "C" fn()) -> u64 {
    f as *const () as u64
}

/// What a root thread started at `ip` with stack `sp` and argument `arg` (default: the
/// handler gate's selector) sent its handlers (pager and exception handler are both a gate
/// bound to the scenario thread); if `resume` is given, the exception reply's (ip, sp) and
/// what the resumed thread sent next. The thread is destroyed afterwards.
fn run_faulting(
    env: &Env<'_>,
    ip: u64,
    sp: Option<u64>,
    resume: Option<(u64, u64)>,
) -> Result<(Received, Option<Received>), Fail> {
    let handler = env.gate(env.me(), 0xfa17);
    let t = rootthread::create(replaced, 0, 90).map_err(err)?;
    let top = pecan_user::thread::stack_top_of(t.index);
    let r = (|| {
        t.thread.configure(handler.sel(), handler.sel()).map_err(err)?;
        t.thread.set_regs(ip, sp.unwrap_or(top), handler.sel()).map_err(err)?;
        t.thread.start().map_err(err)?;
        let wait = Timeouts::new(None, Some(Duration::from_secs(5)));
        let first = ipc::recv(handler.any(), wait).map_err(|e| alloc::format!("no fault message: {e:?}"))?;
        let second = match resume {
            Some((ip, sp)) => {
                ipc::reply(&pecan_user::Msg::new(0).word(ip).word(sp)).map_err(err)?;
                Some(
                    ipc::recv(handler.any(), wait)
                        .map_err(|e| alloc::format!("resumed thread silent: {e:?}"))?,
                )
            }
            None => None,
        };
        Ok((first, second))
    })();
    let _ = t.thread.any().destroy();
    let _ = handler.any().destroy();
    r
}

/// The entry `rootthread::create` wants; the scenarios set the real registers.
extern "C" fn replaced(_: u64) -> ! {
    loop {
        ipc::sleep(Duration::from_secs(1000));
    }
}

/// The exception class of a syndrome.
fn ec(esr: u64) -> u64 {
    (esr >> 26) & 0x3f
}

/// Checks an exception message: kind, exception class, ip and address.
fn expect_exception(m: &Received, kind: u64, class: u64, ip: u64, addr: u64) -> Result<(), Fail> {
    check!(m.label() == proto::EXCEPTION, "label {:#x}, not an exception", m.label());
    let got = (m.word(exc::KIND), ec(m.word(exc::CODE)), m.word(exc::IP), m.word(exc::ADDR));
    check!(
        got == (kind, class, ip, addr),
        "exception (kind, EC, ip, addr) = {got:#x?}, expected {:#x?}",
        (kind, class, ip, addr)
    );
    Ok(())
}

/// Checks a page-fault message: address, ip, access.
fn expect_page_fault(m: &Received, at: u64, ip: u64, access: u64) -> Result<(), Fail> {
    let got = (m.label(), m.word(0), m.word(1), m.word(2));
    check!(
        got == (proto::PAGE_FAULT, at, ip, access),
        "page fault (label, addr, ip, access) = {got:#x?}, expected {:#x?}",
        (proto::PAGE_FAULT, at, ip, access)
    );
    Ok(())
}

/// A thread whose registers say ELR = a kernel, non-canonical or misaligned address (as
/// `SET_REGS` or an exception reply can) returns to EL0 and faults there: an instruction
/// abort (a page fault with access X to its pager) or a PC alignment fault (an exception),
/// never a kernel fault. After an exception the thread resumes where its handler says.
/// (Also `arch-test=user-guards`, without the core.)
fn wild_elr(env: &Env<'_>) -> Result<(), Fail> {
    let aborts = [
        USER_TOP,
        0x8000_0000_0000_0000,
        0x1234_5678_9abc_def0,
        0xffff_0000_0000_0000,
        0xffff_ffff_8000_0000,
    ];
    for bad in aborts {
        let (m, _) = run_faulting(env, bad, None, None)?;
        expect_page_fault(&m, bad, bad, 1).map_err(|e| alloc::format!("ELR {bad:#x}: {e}"))?;
    }
    const PC_ALIGN: u64 = 0x22;
    // Misaligned and not executable at EL0: a PC alignment fault or an instruction abort
    // (the architecture ranks the alignment fault first; QEMU reports the abort).
    for bad in [u64::MAX, 0xffff_ffff_8000_0001, USER_TOP + 2] {
        let (m, _) = run_faulting(env, bad, None, None)?;
        let fault = expect_page_fault(&m, bad, bad, 1);
        let alignment = expect_exception(&m, exc::KIND_ALIGNMENT, PC_ALIGN, bad, bad);
        check!(fault.is_ok() || alignment.is_ok(), "ELR {bad:#x}: {}", fault.err().unwrap_or_default());
    }
    // Misaligned in executable memory: a PC alignment fault, after which the thread
    // resumes where its handler says.
    let bad = addr(a64t_park) + 2;
    let (m, resumed) = run_faulting(env, bad, None, Some((addr(a64t_park), 0)))?;
    expect_exception(&m, exc::KIND_ALIGNMENT, PC_ALIGN, bad, bad)?;
    check!(m.word(exc::SP) != 0, "no stack pointer in the message");
    let r = resumed.ok_or("not resumed")?;
    check!(r.label() == 0, "resumed thread sent label {:#x}", r.label());
    // An exception reply naming a misaligned ELR is caught the same way.
    let sp = m.word(exc::SP);
    let (m, resumed) = run_faulting(env, bad, None, Some((bad + 1, sp)))?;
    expect_exception(&m, exc::KIND_ALIGNMENT, PC_ALIGN, bad, bad)?;
    let r = resumed.ok_or("not resumed")?;
    expect_exception(&r, exc::KIND_ALIGNMENT, PC_ALIGN, bad + 1, bad + 1)?;
    Ok(())
}

/// A null system call made with SP = `bad`, after a spin long enough for timer interrupts
/// to arrive with that SP; returns the status.
fn null_syscall_with_sp(bad: u64) -> u64 {
    let status: u64;
    // SAFETY: SP is restored from x20 before anything uses the stack; nothing runs on this
    // thread in between (interrupts and the system call save into the thread's context and
    // use the kernel's stack). The kernel preserves x11..x30; the rest are declared.
    unsafe {
        asm!(
            "mov x20, sp",
            "mov sp, {bad}",
            "movz x9, #0x30, lsl #16",
            "2: subs x9, x9, #1",
            "b.ne 2b",
            "mov x0, #0",
            "svc #0",
            "mov sp, x20",
            bad = in(reg) bad,
            out("x0") status,
            out("x1") _, out("x2") _, out("x3") _, out("x4") _, out("x5") _, out("x6") _,
            out("x7") _, out("x8") _, out("x9") _, out("x10") _, out("x20") _,
        );
    }
    status
}

/// The kernel never touches the user stack: `svc` and timer interrupts with SP = 0, a
/// kernel address or a misaligned address at the top of user space work and return.
fn hostile_sp(_env: &Env<'_>) -> Result<(), Fail> {
    let m = pecan_user::Machine::at(std_slots::MACHINE);
    let before = m.counters().map_err(err)?;
    for bad in [0, 0xffff_0000_0000_0000, 0xffff_ffff_8000_0000, USER_TOP - 8] {
        let st = null_syscall_with_sp(bad);
        check!(st == Status::OK.0, "status {st:#x} with SP {bad:#x}");
    }
    let after = m.counters().map_err(err)?;
    check!(after[0] > before[0], "no system calls counted");
    Ok(())
}

/// Each exception a user thread can raise reaches its handler with the right kind and
/// syndrome (ESR_EL1); page faults reach its pager with the address and access.
fn exception_classes(env: &Env<'_>) -> Result<(), Fail> {
    let cases: [(u64, u64, u64); 6] = [
        (addr(a64t_udf), exc::KIND_ILLEGAL, 0x00),
        (addr(a64t_wfi), exc::KIND_PRIVILEGED, 0x01),
        (addr(a64t_daif), exc::KIND_PRIVILEGED, 0x18),
        (addr(a64t_sysreg), exc::KIND_ILLEGAL, 0x00),
        (addr(a64t_hvc), exc::KIND_ILLEGAL, 0x00),
        (addr(a64t_brk), exc::KIND_BREAKPOINT, 0x3c),
    ];
    for (entry, kind, class) in cases {
        let (m, _) = run_faulting(env, entry, None, None)?;
        expect_exception(&m, kind, class, entry, 0).map_err(|e| alloc::format!("entry {entry:#x}: {e}"))?;
    }
    // The brk immediate is in the syndrome.
    let (m, _) = run_faulting(env, addr(a64t_brk), None, None)?;
    check!(m.word(exc::CODE) & 0xffff == 0x42, "brk syndrome {:#x}", m.word(exc::CODE));
    // Page faults: a read of address 0, a write to the kernel's direct map, a fetch from the
    // (never executable) stack.
    let (m, _) = run_faulting(env, addr(a64t_null), None, None)?;
    expect_page_fault(&m, 0, addr(a64t_null) + 4, 4).map_err(|e| alloc::format!("null read: {e}"))?;
    let (m, _) = run_faulting(env, addr(a64t_kernel_write), None, None)?;
    expect_page_fault(&m, 0xffff_0000_0000_1000, addr(a64t_kernel_write) + 8, 2)
        .map_err(|e| alloc::format!("kernel write: {e}"))?;
    let (m, _) = run_faulting(env, addr(a64t_exec_stack), None, None)?;
    check!(m.label() == proto::PAGE_FAULT && m.word(2) == 1, "stack fetch: {:#x?}", (m.label(), m.word(2)));
    check!(m.word(0) == m.word(1), "fetch fault at {:#x}, ip {:#x}", m.word(0), m.word(1));
    Ok(())
}

static FP_BAD: AtomicU64 = AtomicU64::new(0);
static FP_SEEN: [AtomicU64; 2] = [AtomicU64::new(0), AtomicU64::new(0)];
static FP_DONE: AtomicU64 = AtomicU64::new(0);
static FP_PROGRESS: [AtomicU64; 2] = [AtomicU64::new(0), AtomicU64::new(0)];
const FP_ROUNDS: u64 = 30;
const FP_SPIN_SEEN: u64 = 6;

extern "C" fn fp_worker(i: u64) -> ! {
    let me = i as usize;
    let seed = 0x5eed_0000 + (i + 1) * 0x100 + i + 1; // RMode 1 and 2
    // Phase 1: switches through the kernel (yield, sleep).
    // SAFETY: an AAPCS64 routine that changes only the FP/SIMD state and caller-saved
    // registers.
    let bad = unsafe { a64t_fp_rounds(seed, FP_ROUNDS) };
    FP_BAD.fetch_add(bad, Ordering::SeqCst);
    // Phase 2: no system calls: the other thread (same priority) runs only when the timer
    // preempts this one.
    let mine = FP_PROGRESS[me].as_ptr();
    let other = FP_PROGRESS[1 - me].as_ptr();
    // SAFETY: as above; both counters are statics, written only by their own thread.
    // The loop limit only bounds a failure: it stops as soon as the other thread was seen
    // `FP_SPIN_SEEN` times. How many loops fit in a time slice depends on how fast QEMU
    // runs this CPU against the host clock (2 million were too few with -smp 4 on a busy
    // host).
    let r = unsafe { a64t_fp_spin(seed, mine, other, FP_SPIN_SEEN, 20_000_000) };
    FP_SEEN[me].store(r.0, Ordering::SeqCst);
    FP_BAD.fetch_add(r.1, Ordering::SeqCst);
    FP_DONE.fetch_add(1, Ordering::SeqCst);
    // Keep the other thread's view moving until it is done too.
    while FP_DONE.load(Ordering::SeqCst) < 2 {
        // SAFETY: as above.
        let r = unsafe { a64t_fp_spin(seed, mine, other, 1, 1000) };
        FP_BAD.fetch_add(r.1, Ordering::SeqCst);
    }
    loop {
        ipc::sleep(Duration::from_secs(1000));
    }
}

/// Two threads of one task keep their own values in all 32 vector registers and FPCR
/// while they switch through the kernel and are preempted by the timer (the FP/SIMD state
/// moves lazily between them); neither sees the other's. The scenario thread uses FP/SIMD
/// between them too.
fn fpsimd_switch(env: &Env<'_>) -> Result<(), Fail> {
    let a = env.thread(fp_worker, 0, 60);
    let b = env.thread(fp_worker, 1, 60);
    let mut waited = 0;
    while FP_DONE.load(Ordering::SeqCst) < 2 && waited < 30_000 {
        // SAFETY: as in `fp_worker`; a sleep with its own pattern in the registers.
        let bad = unsafe { a64t_fp_rounds(0x7777_0003, 2) };
        FP_BAD.fetch_add(bad, Ordering::SeqCst);
        env.sleep_ms(10);
        waited += 10;
    }
    let _ = a.thread.any().destroy();
    let _ = b.thread.any().destroy();
    let seen = [FP_SEEN[0].load(Ordering::SeqCst), FP_SEEN[1].load(Ordering::SeqCst)];
    check!(FP_DONE.load(Ordering::SeqCst) == 2, "workers not done after {waited} ms");
    check!(FP_BAD.load(Ordering::SeqCst) == 0, "{} corrupted registers", FP_BAD.load(Ordering::SeqCst));
    check!(seen.iter().all(|&s| s >= FP_SPIN_SEEN), "no preemption between the spinning threads: {seen:?}");
    Ok(())
}

/// A thread whose FP/SIMD state is (or was last) live in the CPU's registers is deleted;
/// threads created afterwards (in its place in the kernel's tables) start with all-zero
/// FP/SIMD state, never with its values.
fn fpsimd_deleted_owner(env: &Env<'_>) -> Result<(), Fail> {
    static HELD: AtomicU64 = AtomicU64::new(0);
    static FRESH: AtomicU64 = AtomicU64::new(u64::MAX);
    for round in 0..3 {
        HELD.store(0, Ordering::SeqCst);
        FRESH.store(u64::MAX, Ordering::SeqCst);
        let a = rootthread::create(replaced, 0, 90).map_err(err)?;
        let top = pecan_user::thread::stack_top_of(a.index);
        // SET_REGS sets x0 only: `hold_entry` passes the flag on in x1.
        a.thread.set_regs(hold_entry as *const () as u64, top, HELD.as_ptr() as u64).map_err(err)?;
        a.thread.start().map_err(err)?;
        let mut waited = 0;
        while HELD.load(Ordering::SeqCst) == 0 && waited < 5000 {
            env.sleep_ms(1);
            waited += 1;
        }
        check!(HELD.load(Ordering::SeqCst) == 1, "the first thread did not fill its registers");
        a.thread.any().destroy().map_err(err)?;
        let b = rootthread::create(replaced, 0, 90).map_err(err)?;
        let top = pecan_user::thread::stack_top_of(b.index);
        b.thread.set_regs(a64t_fp_fresh as *const () as u64, top, FRESH.as_ptr() as u64).map_err(err)?;
        b.thread.start().map_err(err)?;
        waited = 0;
        while FRESH.load(Ordering::SeqCst) == u64::MAX && waited < 5000 {
            env.sleep_ms(1);
            waited += 1;
        }
        let _ = b.thread.any().destroy();
        let fresh = FRESH.load(Ordering::SeqCst);
        check!(fresh == 0, "round {round}: a new thread found {fresh:#x} non-zero FP/SIMD registers");
    }
    Ok(())
}

/// Enters `a64t_fp_hold(seed, flag)` with the flag from x0 (the thread's argument).
extern "C" fn hold_entry(flag: u64) -> ! {
    // SAFETY: `a64t_fp_hold` never returns; x0 = a seed, x1 = a static flag.
    unsafe {
        asm!(
            "mov x1, {flag}",
            "movz x0, #0xf00d",
            "b a64t_fp_hold",
            flag = in(reg) flag,
            options(noreturn)
        )
    }
}
