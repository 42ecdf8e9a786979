//! x86_64-only scenarios (`init=test scenario=x86-`): the kernel's return guards (rip and
//! rsp values `SYSRET`/`IRETQ` must never see), hostile stack pointers at `SYSCALL` and
//! during interrupts, the exception vectors user code can raise, and x87/SSE state across
//! switches between threads that both use it.
//!
//! User programs are built for a soft-float target: compiled code never touches the vector
//! registers, so the FPU scenario's assembly may keep values in them across Rust code and
//! system calls (no operand can name them on such a target).

use core::arch::{asm, global_asm};
use core::sync::atomic::{AtomicU64, Ordering};
use core::time::Duration;
use pecan_abi::layout::USER_TOP;
use pecan_abi::proto::{self, exception as exc};
use pecan_abi::{MemRights, Status};
use pecan_system::frames::{FRAMES, PAGE, window, window_fpage};
use pecan_system::rootthread;
use pecan_user::{Received, Task, Timeouts, ipc};

use crate::env::Env;
use crate::{Fail, Scenario, check};

/// This file's scenarios.
pub const SCENARIOS: &[Scenario] = &[
    ("x86-sysret-noncanonical-rip", noncanonical_rip),
    ("x86-syscall-at-top-of-user-space", syscall_at_top),
    ("x86-fastpath-reply-to-top-of-user-space", reply_to_top),
    ("x86-noncanonical-rsp", noncanonical_rsp),
    ("x86-syscall-hostile-rsp", hostile_rsp),
    ("x86-exception-vectors", exception_vectors),
    ("x86-fpu-switch", fpu_switch),
];

// Entry points for the fault scenarios: each raises one exception.
global_asm!(
    ".section .text.x86test, \"ax\"",
    ".global x86t_ud, x86t_hlt, x86t_in, x86t_int3, x86t_div0, x86t_int80, x86t_tf",
    ".global x86t_null, x86t_kernel_write, x86t_exec_stack, x86t_park",
    ".global x86t_tf_syscall, x86t_tf_syscall_ret",
    "x86t_ud: ud2",
    "x86t_hlt: hlt",
    "x86t_in: in al, dx",
    "x86t_int3: int3",
    "    ud2",
    "x86t_div0: xor ecx, ecx",
    "    div ecx",
    "x86t_int80: int 0x80",
    "x86t_tf: pushfq",
    "    or qword ptr [rsp], 0x100",
    "    popfq",
    "    nop",
    "    nop",
    "    ud2",
    // Single-stepping over a system call: SYSCALL masks TF (no #DB in the kernel), SYSRET
    // restores it from r11 and the #DB arrives in user mode after the syscall.
    "x86t_tf_syscall: xor eax, eax",
    "    pushfq",
    "    or qword ptr [rsp], 0x100",
    "    popfq",
    "    syscall",
    "x86t_tf_syscall_ret: ud2",
    "x86t_null: mov rax, qword ptr [0]",
    "x86t_kernel_write: movabs rax, 0xffff800000001000",
    "    mov qword ptr [rax], rax",
    "x86t_exec_stack: mov word ptr [rsp - 16], 0x0b0f",
    "    lea rax, [rsp - 16]",
    "    jmp rax",
    // A valid place for a thread the handler resumes: call the handler gate (rdi = its
    // selector, the thread's argument) with an empty message, then sleep forever (receive
    // from nil, timeouts never).
    "x86t_park: movabs rax, 0x0000ffffffff0002",
    "    xor esi, esi",
    "    syscall",
    "1: movabs rax, 0x0000ffff00000005",
    "    xor edi, edi",
    "    xor esi, esi",
    "    syscall",
    "    jmp 1b",
    ".text",
);

unsafe extern "C" {
    fn x86t_ud();
    fn x86t_hlt();
    fn x86t_in();
    fn x86t_int3();
    fn x86t_div0();
    fn x86t_int80();
    fn x86t_tf();
    fn x86t_null();
    fn x86t_kernel_write();
    fn x86t_exec_stack();
    fn x86t_park();
    fn x86t_tf_syscall();
    fn x86t_tf_syscall_ret();
}

fn err(e: impl core::fmt::Debug) -> Fail {
    alloc::format!("{e:?}")
}

/// What a thread started at `ip` with stack `sp` sent its handlers (pager and exception
/// handler are both a gate bound to the scenario thread), if `resume` is given the
/// exception reply's (ip, sp) and what the resumed thread then sent. The thread is
/// destroyed afterwards.
fn run_faulting(
    env: &Env<'_>,
    ip: Option<u64>,
    sp: Option<u64>,
    resume: Option<(u64, u64)>,
) -> Result<(Received, Option<Received>), Fail> {
    let handler = env.gate(env.me(), 0xfa17);
    let t = rootthread::create(replaced, 0, 90).map_err(err)?;
    let top = pecan_user::thread::stack_top_of(t.index);
    let r = (|| {
        t.thread.configure(handler.sel(), handler.sel()).map_err(err)?;
        t.thread
            .set_regs(ip.unwrap_or(x86t_ud as *const () as u64), sp.unwrap_or(top), handler.sel())
            .map_err(err)?;
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

/// The entry `rootthread::create` wants; `run_faulting` sets the real registers.
extern "C" fn replaced(_: u64) -> ! {
    loop {
        ipc::sleep(Duration::from_secs(1000));
    }
}

/// Checks an exception message: kind, code, ip and address.
fn expect_exception(m: &Received, kind: u64, code: u64, ip: u64, addr: u64) -> Result<(), Fail> {
    check!(m.label() == proto::EXCEPTION, "label {:#x}, not an exception", m.label());
    let got = (m.word(exc::KIND), m.word(exc::CODE), m.word(exc::IP), m.word(exc::ADDR));
    check!(
        got == (kind, code, ip, addr),
        "exception (kind, code, ip, addr) = {got:#x?}, expected {:#x?}",
        (kind, code, ip, addr)
    );
    Ok(())
}

fn park() -> u64 {
    x86t_park as *const () as u64
}

/// A thread whose registers say rip = a non-canonical or kernel address (as SET_REGS or
/// an exception reply can) must not reach SYSRET/IRETQ: it takes a #GP instead, and
/// resumes where its handler says.
fn noncanonical_rip(env: &Env<'_>) -> Result<(), Fail> {
    for bad in [USER_TOP, 0x8000_0000_0000_0000, 0xffff_8000_0000_0000, u64::MAX, 0x1234_5678_9abc_def0] {
        let (m, resumed) = run_faulting(env, Some(bad), None, Some((park(), 0)))?;
        expect_exception(&m, exc::KIND_PRIVILEGED, 13, bad, bad)?;
        let sp = m.word(exc::SP);
        check!(sp != 0, "no stack pointer in the message");
        // Resumed at x86t_park, the thread calls its handler gate (label 0).
        let r = resumed.ok_or("not resumed")?;
        check!(r.label() == 0, "resumed thread sent label {:#x}", r.label());
        // An exception reply naming a bad rip is caught the same way.
        let (m, resumed) = run_faulting(env, Some(bad), None, Some((bad ^ 1, sp)))?;
        expect_exception(&m, exc::KIND_PRIVILEGED, 13, bad, bad)?;
        let r = resumed.ok_or("not resumed")?;
        expect_exception(&r, exc::KIND_PRIVILEGED, 13, bad ^ 1, bad ^ 1)?;
    }
    Ok(())
}

/// The Intel SYSRET erratum path: a `syscall` in the last two bytes below 2^47 returns to
/// rip = 2^47, which is non-canonical. The kernel must give the thread a #GP rather than
/// execute SYSRET.
fn syscall_at_top(env: &Env<'_>) -> Result<(), Fail> {
    let page = USER_TOP - PAGE;
    let pa = FRAMES.alloc().ok_or("no frame")?;
    // SAFETY: a fresh frame of the root window, only this scenario uses it.
    unsafe {
        let code = (window(pa) + PAGE - 2) as *mut u8;
        code.write_volatile(0x0f);
        code.add(1).write_volatile(0x05);
    }
    Task::at(pecan_abi::caps::std_slots::TASK).map(window_fpage(pa, 12, MemRights::RX), page).map_err(err)?;
    let ip = USER_TOP - 2;
    let r = run_faulting(env, Some(ip), None, None);
    let _ = Task::at(pecan_abi::caps::std_slots::TASK)
        .unmap(pecan_abi::Fpage::memory(page, 12, MemRights::RWX), true);
    let (m, _) = r?;
    // The system call itself ran (rax was the control word 0x...: whatever it returned),
    // and the return to 2^47 became a #GP.
    expect_exception(&m, exc::KIND_PRIVILEGED, 13, USER_TOP, USER_TOP)
}

/// The same erratum through the IPC fast path: a thread whose `Call` (both timeouts
/// never, to a waiting receiver: a fast-path call) is the last instruction below 2^47
/// gets the reply by a fast-path `ReplyWait`, which must not SYSRET to rip = 2^47: the
/// thread takes a #GP (after the reply: its exception message reaches the replier's open
/// wait).
fn reply_to_top(env: &Env<'_>) -> Result<(), Fail> {
    let page = USER_TOP - PAGE;
    let pa = FRAMES.alloc().ok_or("no frame")?;
    // `movabs rax, CALL (timeouts never); syscall`, ending at 2^47; rdi (the selector) is
    // the thread's argument, rsi (the tag) 0.
    let mut code = alloc::vec![0x48u8, 0xb8];
    code.extend_from_slice(&0x0000_ffff_ffff_0002u64.to_le_bytes());
    code.extend_from_slice(&[0x0f, 0x05]);
    // SAFETY: a fresh frame of the root window, only this scenario uses it.
    unsafe {
        let at = (window(pa) + PAGE - code.len() as u64) as *mut u8;
        for (i, b) in code.iter().enumerate() {
            at.add(i).write_volatile(*b);
        }
    }
    let task = Task::at(pecan_abi::caps::std_slots::TASK);
    task.map(window_fpage(pa, 12, MemRights::RX), page).map_err(err)?;
    let handler = env.gate(env.me(), 0x70b);
    let r = (|| {
        let t = rootthread::create(replaced, 0, 90).map_err(err)?;
        let top = pecan_user::thread::stack_top_of(t.index);
        let r = (|| {
            t.thread.configure(handler.sel(), handler.sel()).map_err(err)?;
            t.thread.set_regs(USER_TOP - code.len() as u64, top, handler.sel()).map_err(err)?;
            t.thread.start().map_err(err)?;
            let wait = Timeouts::new(None, Some(Duration::from_secs(5)));
            let m = ipc::recv(handler.any(), wait).map_err(|e| alloc::format!("no call: {e:?}"))?;
            check!(m.label() == 0, "call label {:#x}", m.label());
            // The reply and an open wait, both timeouts never: the fast path's ReplyWait.
            let m = ipc::reply_wait(&pecan_user::Msg::new(0), Timeouts::new(None, None))
                .map_err(|e| alloc::format!("no exception message: {e:?}"))?;
            expect_exception(&m, exc::KIND_PRIVILEGED, 13, USER_TOP, USER_TOP)
        })();
        let _ = t.thread.any().destroy();
        r
    })();
    let _ = handler.any().destroy();
    let _ = task.unmap(pecan_abi::Fpage::memory(page, 12, MemRights::RWX), true);
    r
}

/// A non-canonical rsp is never handed to IRETQ: the thread takes a #SS.
fn noncanonical_rsp(env: &Env<'_>) -> Result<(), Fail> {
    for bad in [USER_TOP, 0x8000_0000_0000_0000] {
        let (m, _) = run_faulting(env, Some(park()), Some(bad), None)?;
        expect_exception(&m, exc::KIND_PRIVILEGED, 12, park(), bad)?;
        check!(m.word(exc::SP) == bad, "sp {:#x}", m.word(exc::SP));
    }
    Ok(())
}

static SAVED_RSP: AtomicU64 = AtomicU64::new(0);

/// A null system call made with rsp = `bad`, after a spin long enough for timer
/// interrupts to arrive with that rsp; returns the status.
fn null_syscall_with_rsp(bad: u64) -> u64 {
    let status: u64;
    // SAFETY: the stack pointer is restored from SAVED_RSP before anything uses the stack;
    // nothing runs on this thread in between (interrupts and the system call use the
    // kernel's stack). The kernel preserves rbx and rbp; the other registers are declared.
    unsafe {
        asm!(
            "mov qword ptr [rip + {saved}], rsp",
            "mov rsp, {bad}",
            "mov ecx, 3000000",
            "2: dec ecx",
            "jnz 2b",
            "xor eax, eax",
            "syscall",
            "mov rsp, qword ptr [rip + {saved}]",
            saved = sym SAVED_RSP,
            bad = in(reg) bad,
            out("rax") status,
            out("rcx") _,
            out("r11") _,
            out("rdi") _,
            out("rsi") _,
            out("rdx") _,
            out("r8") _,
            out("r9") _,
            out("r10") _,
            out("r12") _,
            out("r13") _,
            out("r14") _,
            lateout("r15") _,
        );
    }
    status
}

/// The kernel never touches the user stack: `SYSCALL` and timer interrupts with rsp = 0, a
/// kernel address (the direct map) or the top of user space work and return normally.
fn hostile_rsp(_env: &Env<'_>) -> Result<(), Fail> {
    let before = pecan_user::Machine::at(pecan_abi::caps::std_slots::MACHINE).counters().map_err(err)?;
    for bad in [0, 0xffff_8000_0000_0000, 0xffff_ffff_8000_0000, USER_TOP - 8] {
        let st = null_syscall_with_rsp(bad);
        check!(st == Status::OK.0, "status {st:#x} with rsp {bad:#x}");
    }
    let after = pecan_user::Machine::at(pecan_abi::caps::std_slots::MACHINE).counters().map_err(err)?;
    check!(after[0] > before[0], "no system calls counted");
    Ok(())
}

/// Each exception a user thread can raise reaches its handler with the right kind and
/// vector; page faults reach its pager with the address and access.
fn exception_vectors(env: &Env<'_>) -> Result<(), Fail> {
    let f = |p: unsafe extern "C" fn()| p as *const () as u64;
    let cases: [(u64, u64, u64, u64); 6] = [
        (f(x86t_ud), exc::KIND_ILLEGAL, 6, f(x86t_ud)),
        (f(x86t_hlt), exc::KIND_PRIVILEGED, 13, f(x86t_hlt)),
        (f(x86t_in), exc::KIND_PRIVILEGED, 13, f(x86t_in)),
        // A trap: rip is after the int3.
        (f(x86t_int3), exc::KIND_BREAKPOINT, 3, f(x86t_int3) + 1),
        (f(x86t_div0), exc::KIND_ARITHMETIC, 0, f(x86t_div0) + 2),
        (f(x86t_int80), exc::KIND_PRIVILEGED, 13, f(x86t_int80)),
    ];
    for (entry, kind, code, ip) in cases {
        let (m, _) = run_faulting(env, Some(entry), None, None)?;
        expect_exception(&m, kind, code, ip, 0).map_err(|e| alloc::format!("entry {entry:#x}: {e}"))?;
    }
    // Single-stepping: the #DB trap after the first instruction run with TF set.
    let (m, _) = run_faulting(env, Some(f(x86t_tf)), None, None)?;
    check!(
        m.label() == proto::EXCEPTION && (m.word(exc::KIND), m.word(exc::CODE)) == (exc::KIND_BREAKPOINT, 1),
        "TF: {:#x?}",
        (m.label(), m.word(0), m.word(3))
    );
    let (m, _) = run_faulting(env, Some(f(x86t_tf_syscall)), None, None)?;
    expect_exception(&m, exc::KIND_BREAKPOINT, 1, f(x86t_tf_syscall_ret), 0)
        .map_err(|e| alloc::format!("TF over syscall: {e}"))?;
    // Page faults: a read of address 0, a write to the kernel half, a fetch from the
    // (no-execute) stack.
    let (m, _) = run_faulting(env, Some(f(x86t_null)), None, None)?;
    let pf = |m: &Received| (m.label(), m.word(0), m.word(1), m.word(2));
    check!(pf(&m) == (proto::PAGE_FAULT, 0, f(x86t_null), 4), "null read: {:#x?}", pf(&m));
    let (m, _) = run_faulting(env, Some(f(x86t_kernel_write)), None, None)?;
    check!(
        pf(&m) == (proto::PAGE_FAULT, 0xffff_8000_0000_1000, f(x86t_kernel_write) + 10, 2),
        "kernel-half write: {:#x?}",
        pf(&m)
    );
    let (m, _) = run_faulting(env, Some(f(x86t_exec_stack)), None, None)?;
    check!(m.label() == proto::PAGE_FAULT && m.word(2) == 1, "stack fetch: {:#x?}", pf(&m));
    check!(m.word(0) == m.word(1), "fetch fault at {:#x}, ip {:#x}", m.word(0), m.word(1));
    Ok(())
}

/// Loads thread `i`'s pattern into xmm0..xmm15 and its rounding mode into MXCSR.
fn fpu_load(i: u64) {
    let mxcsr: u32 = if i == 0 { 0x1f80 } else { 0x7f80 };
    let base = 0x5eed_0000_0000_0000 | (i + 1) << 32;
    // SAFETY: only vector registers and MXCSR change, which compiled code never uses
    // (soft-float target); the MXCSR value is valid.
    unsafe {
        asm!(
            "ldmxcsr [{m}]",
            "movq xmm0, {b}", "inc {b}", "movq xmm1, {b}", "inc {b}", "movq xmm2, {b}", "inc {b}",
            "movq xmm3, {b}", "inc {b}", "movq xmm4, {b}", "inc {b}", "movq xmm5, {b}", "inc {b}",
            "movq xmm6, {b}", "inc {b}", "movq xmm7, {b}", "inc {b}", "movq xmm8, {b}", "inc {b}",
            "movq xmm9, {b}", "inc {b}", "movq xmm10, {b}", "inc {b}", "movq xmm11, {b}", "inc {b}",
            "movq xmm12, {b}", "inc {b}", "movq xmm13, {b}", "inc {b}", "movq xmm14, {b}", "inc {b}",
            "movq xmm15, {b}",
            m = in(reg) &mxcsr,
            b = inout(reg) base => _,
            options(nostack),
        );
    }
}

/// Whether xmm0..xmm15 and MXCSR still hold thread `i`'s pattern.
fn fpu_check(i: u64) -> bool {
    let want_mxcsr: u32 = if i == 0 { 0x1f80 } else { 0x7f80 };
    let mut mxcsr: u32 = 0;
    let mut diff: u64 = 0;
    let base = 0x5eed_0000_0000_0000u64 | (i + 1) << 32;
    macro_rules! cmp {
        ($($x:literal),*) => { concat!($("movq {t}, xmm", $x, "\n xor {t}, {b}\n or {d}, {t}\n inc {b}\n"),*) };
    }
    // SAFETY: reads the vector registers and MXCSR into locals.
    unsafe {
        asm!(
            "stmxcsr [{m}]",
            cmp!("0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "13", "14", "15"),
            m = in(reg) &mut mxcsr,
            b = inout(reg) base => _,
            t = out(reg) _,
            d = inout(reg) diff,
            options(nostack),
        );
    }
    diff == 0 && mxcsr == want_mxcsr
}

static FPU_ROUNDS: [AtomicU64; 2] = [AtomicU64::new(0), AtomicU64::new(0)];
static FPU_SEEN: [AtomicU64; 2] = [AtomicU64::new(0), AtomicU64::new(0)];
static FPU_BAD: AtomicU64 = AtomicU64::new(0);
static FPU_DONE: AtomicU64 = AtomicU64::new(0);
const FPU_ROUNDS_WANTED: u64 = 40;
const FPU_SPIN_SEEN: u64 = 6;

extern "C" fn fpu_worker(i: u64) -> ! {
    let other = 1 - i as usize;
    let me = i as usize;
    fpu_load(i);
    // Phase 1: switches through the kernel (yield, sleep).
    for round in 0..FPU_ROUNDS_WANTED {
        for _ in 0..20_000 {
            core::hint::spin_loop();
        }
        match round % 3 {
            0 => ipc::yield_now(),
            1 => ipc::sleep(Duration::from_millis(1)),
            _ => {}
        }
        if !fpu_check(i) {
            FPU_BAD.fetch_add(1, Ordering::SeqCst);
        }
        FPU_ROUNDS[me].fetch_add(1, Ordering::SeqCst);
    }
    // Phase 2: no system calls at all: the other thread (same priority) only runs when the
    // timer preempts this one, and then both threads' state must survive.
    let mut last = FPU_ROUNDS[other].load(Ordering::SeqCst);
    let mut spins = 0u64;
    while FPU_SEEN[me].load(Ordering::SeqCst) < FPU_SPIN_SEEN && spins < 20_000_000 {
        if !fpu_check(i) {
            FPU_BAD.fetch_add(1, Ordering::SeqCst);
        }
        FPU_ROUNDS[me].fetch_add(1, Ordering::SeqCst);
        let now = FPU_ROUNDS[other].load(Ordering::SeqCst);
        if now != last {
            FPU_SEEN[me].fetch_add(1, Ordering::SeqCst);
            last = now;
        }
        spins += 1;
    }
    FPU_DONE.fetch_add(1, Ordering::SeqCst);
    // Keep the other thread's view moving until it is done too.
    while FPU_DONE.load(Ordering::SeqCst) < 2 {
        FPU_ROUNDS[me].fetch_add(1, Ordering::SeqCst);
        if !fpu_check(i) {
            FPU_BAD.fetch_add(1, Ordering::SeqCst);
        }
    }
    loop {
        ipc::sleep(Duration::from_secs(1000));
    }
}

/// Two threads of one task keep different values in all 16 xmm registers and MXCSR while
/// they switch through the kernel and are preempted by the timer; neither sees the other's.
fn fpu_switch(env: &Env<'_>) -> Result<(), Fail> {
    fpu_load(7);
    let a = env.thread(fpu_worker, 0, 60);
    let b = env.thread(fpu_worker, 1, 60);
    let mut waited = 0;
    while FPU_DONE.load(Ordering::SeqCst) < 2 && waited < 30_000 {
        env.sleep_ms(10);
        waited += 10;
        // This thread used the FPU too (pattern 7), and runs between the workers.
        if !fpu_check(7) {
            FPU_BAD.fetch_add(1, Ordering::SeqCst);
        }
    }
    let _ = a.thread.any().destroy();
    let _ = b.thread.any().destroy();
    let seen = [FPU_SEEN[0].load(Ordering::SeqCst), FPU_SEEN[1].load(Ordering::SeqCst)];
    let rounds = [FPU_ROUNDS[0].load(Ordering::SeqCst), FPU_ROUNDS[1].load(Ordering::SeqCst)];
    check!(FPU_DONE.load(Ordering::SeqCst) == 2, "workers not done after {waited} ms: rounds {rounds:?}");
    check!(FPU_BAD.load(Ordering::SeqCst) == 0, "{} corrupted checks", FPU_BAD.load(Ordering::SeqCst));
    check!(seen.iter().all(|&s| s >= FPU_SPIN_SEEN), "no preemption between the spinning threads: {seen:?}");
    Ok(())
}
