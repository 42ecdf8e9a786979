//! The arch's user-mode self-tests (`arch-test=fp-switch`, `arch-test=user-guards`): real
//! EL0 code (`usertest.S`) in real address spaces, entered and left through the same
//! vectors, entry and exit paths, lazy FP switch and idle loop as the kernel's threads,
//! but with a small test handler in place of the core, so each arch guarantee is checked
//! on its own.
//!
//! - `fp-switch`: three threads in two address spaces (ASIDs 1 and 2), two of them with
//!   all 32 vector registers, FPCR and TPIDR_EL0 set to their own values, the third
//!   without FP/SIMD; the handler switches threads on every yield and every timer tick.
//!   Each FP thread checks its registers after every switch. Passes if both report their
//!   state intact, the timer preempted them, and the FP state moved lazily (fewer FP traps
//!   than switches).
//! - `user-guards`: one case per trap guard: a sanitized SPSR (an EL1 mode, masked
//!   interrupts, AArch32, illegal state: the thread still runs at EL0 with interrupts on),
//!   wild ELRs (kernel, non-canonical, misaligned) and a wild SP coming back as the
//!   thread's faults, and the classification of user faults (null read/write, undefined,
//!   privileged and system-register instructions, hvc, brk). (SP alignment checks are
//!   enabled for EL0, SCTLR_EL1.SA0, but QEMU does not implement them, so no case.)

use pecan_abi::proto::exception::{KIND_ALIGNMENT, KIND_BREAKPOINT, KIND_ILLEGAL, KIND_PRIVILEGED};
use pecan_hal::{Asid, Attrs, FaultInfo, Hal, MemType, Mmu as _, PhysAddr, PhysMem, UserContext, VirtAddr};
use pecan_kernel::{Event, ExitCode, Resume};
use pecan_mm::{FrameSource, PageTable};
use spin::Mutex;

use crate::context::Context;
use crate::layout::KERNEL_BASE;
use crate::machine::Aarch64;
use crate::physmem::PhysMap;
use crate::pte::Aarch64Pte;

/// Harness system calls (x0).
const OP_YIELD: u64 = 1;
const OP_DONE: u64 = 2;
const OP_PING: u64 = 3;
/// Iterations of the spin loop between yields (enough for timer ticks to land inside).
const SPIN: u64 = 0x3_0000;
/// Rounds each `fp-switch` thread runs.
const ROUNDS: u64 = 60;

core::arch::global_asm!(
    include_str!("usertest.S"),
    OP_YIELD = const OP_YIELD,
    OP_DONE = const OP_DONE,
    OP_PING = const OP_PING,
    SPIN = const SPIN,
);

unsafe extern "C" {
    static usertest_code: u8;
    static usertest_code_end: u8;
    static usertest_fp: u8;
    static usertest_nofp: u8;
    static usertest_report: u8;
    static usertest_svc_imm: u8;
    static usertest_spin: u8;
    static usertest_bad_sp: u8;
    static usertest_null_read: u8;
    static usertest_null_write: u8;
    static usertest_udf: u8;
    static usertest_wfi: u8;
    static usertest_daif: u8;
    static usertest_sysreg: u8;
    static usertest_hvc: u8;
    static usertest_brk: u8;
}

/// Where the code page appears in user space.
const USER_CODE: u64 = 0x40_0000;
/// The top of the stack page.
const USER_STACK_TOP: u64 = 0x60_0000;
/// Thread pointers (any value; the FP threads check theirs).
const TLS: u64 = 0x7000_0000;

/// Pages for the test's page tables and stacks, inside the image (so in the direct map).
const POOL_PAGES: usize = 16;
#[repr(C, align(4096))]
struct Pool([[u8; 4096]; POOL_PAGES]);
static mut POOL: Pool = Pool([[0; 4096]; POOL_PAGES]);
static POOL_NEXT: Mutex<usize> = Mutex::new(0);

struct PoolFrames;

impl FrameSource for PoolFrames {
    fn alloc_frame(&mut self, mem: &mut impl PhysMem) -> Option<PhysAddr> {
        let mut next = POOL_NEXT.lock();
        if *next >= POOL_PAGES {
            return None;
        }
        let va = (&raw const POOL) as u64 + (*next * 4096) as u64;
        *next += 1;
        let pa = PhysAddr(crate::boot::image_pa_of(va));
        mem.zero(pa, 4096);
        Some(pa)
    }
    fn free_frame(&mut self, _mem: &mut impl PhysMem, _pa: PhysAddr) {}
}

/// The user address of label `sym` of the code page.
fn code_va(sym: *const u8) -> u64 {
    USER_CODE + (sym as u64 - (&raw const usertest_code) as u64)
}

/// A user address space: the code page, a stack page.
fn address_space() -> PhysAddr {
    let mut mem = PhysMap;
    let root = PoolFrames.alloc_frame(&mut mem).expect("test pool");
    let pt = PageTable::<Aarch64Pte>::new(root);
    let user =
        Attrs { read: true, write: false, exec: true, user: true, global: false, mem: MemType::Normal };
    let code = (&raw const usertest_code) as u64;
    let len = (&raw const usertest_code_end) as u64 - code;
    assert!(len == 4096, "usertest.S must be one page, is {len} bytes");
    let code_pa = PhysAddr(crate::boot::image_pa_of(code));
    pt.map(&mut mem, &mut PoolFrames, VirtAddr(USER_CODE), code_pa, user, 0).expect("map code");
    let stack = PoolFrames.alloc_frame(&mut mem).expect("test pool");
    let rw = Attrs { write: true, exec: false, ..user };
    pt.map(&mut mem, &mut PoolFrames, VirtAddr(USER_STACK_TOP - 4096), stack, rw, 0).expect("map stack");
    crate::mmu::sync_tables();
    root
}

/// Which test runs, and its state.
struct Test {
    m: Aarch64,
    roots: [PhysAddr; 2],
    active: Option<usize>,
    fresh: [bool; 2],
    mode: Mode,
}

enum Mode {
    Fp(FpTest),
    Guards(GuardTest),
}

/// The `fp-switch` threads: (entry, seed, address space).
const FP_THREADS: [(usize, u64, usize); 3] = [(0, 0x1_0001, 0), (0, 0x2_0002, 1), (1, 0, 0)];

struct FpTest {
    cur: usize,
    done: [Option<u64>; 3],
    switches: u64,
    by_timer: u64,
}

/// What a guard case must produce, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expect {
    /// A harness system call `op` with x1 = `x1` (`OP_PING`: any x1).
    Syscall(u64, u64),
    /// A timer interrupt taken in user mode.
    Timer,
    /// A page fault.
    Page(u64, u8),
    /// An exception of `kind` with data address `addr`.
    Exception(u64, u64),
}

struct Case {
    name: &'static str,
    entry: *const u8,
    /// Changes to the fresh context (ELR, SP, SPSR).
    setup: fn(&mut Context),
    expect: [Option<Expect>; 2],
}

// SAFETY: `Case` only holds addresses of code labels, which are never dereferenced.
unsafe impl Send for Case {}

struct GuardTest {
    case: usize,
    step: usize,
}

// SAFETY: the test runs on one CPU with interrupts masked in the kernel; `Test` is only
// reached through the mutex.
unsafe impl Send for Test {}

static TEST: Mutex<Option<Test>> = Mutex::new(None);

/// The threads' contexts (stable addresses, as the entry path needs).
static mut CTX: [Context; 3] = [const { ctx_zero() }; 3];

const fn ctx_zero() -> Context {
    Context {
        regs: crate::context::Regs { x: [0; 31], sp: 0, elr: 0, spsr: 0 },
        tpidr_el0: 0,
        fp_cpu: 0,
        fp: crate::context::FpState { q: [0; 32], fpcr: 0, fpsr: 0 },
    }
}

fn ctx(i: usize) -> *mut Context {
    // SAFETY: only a pointer is formed; the harness uses one context at a time.
    unsafe { &raw mut CTX[i] }
}

fn say(args: core::fmt::Arguments<'_>) {
    pecan_kernel::console::write_fmt(crate::console::write_bytes, args);
}

fn finish(t: &mut Test, ok: bool) -> ! {
    pecan_kernel::exit::exit(&mut t.m, if ok { ExitCode::Success } else { ExitCode::TestFailure })
}

impl Test {
    /// Loads address space `i` (ASID i + 1), flushing the ASID on its first use.
    fn activate(&mut self, i: usize) {
        if self.active != Some(i) {
            let flush = self.fresh[i];
            self.fresh[i] = false;
            self.m.mmu().activate(self.roots[i], Asid(i as u16 + 1), flush);
            self.active = Some(i);
        }
    }
}

/// The user-mode tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UserTest {
    /// `fp-switch`.
    FpSwitch,
    /// `user-guards`.
    Guards,
}

/// Runs user-mode test `which`; never returns (the test ends the kernel).
pub fn run(m: Aarch64, which: UserTest) -> ! {
    let mode = match which {
        UserTest::FpSwitch => Mode::Fp(FpTest { cur: 0, done: [None; 3], switches: 0, by_timer: 0 }),
        UserTest::Guards => Mode::Guards(GuardTest { case: 0, step: 0 }),
    };
    let roots = [address_space(), address_space()];
    let mut t = Test { m, roots, active: None, fresh: [true; 2], mode };
    let first = match &mut t.mode {
        Mode::Fp(_) => {
            for (i, &(entry, seed, _)) in FP_THREADS.iter().enumerate() {
                let pc = code_va(if entry == 0 { &raw const usertest_fp } else { &raw const usertest_nofp });
                let mut c = Context::new_user(pc, USER_STACK_TOP - 64 * i as u64, seed);
                c.regs.x[1] = ROUNDS;
                c.set_tls(TLS);
                // SAFETY: nothing runs in user mode yet; the contexts are ours.
                unsafe { *ctx(i) = c };
            }
            t.activate(FP_THREADS[0].2);
            Resume::User(ctx(0))
        }
        Mode::Guards(_) => {
            t.activate(0);
            start_case(0)
        }
    };
    *TEST.lock() = Some(t);
    crate::user::enter(handle, first)
}

fn handle(ev: Event) -> Resume<Context> {
    let mut g = TEST.lock();
    let Some(t) = g.as_mut() else { panic!("user test event {ev:?} without a test") };
    match t.mode {
        Mode::Fp(_) => fp_event(t, ev),
        Mode::Guards(_) => guard_event(t, ev),
    }
}

fn fp_event(t: &mut Test, ev: Event) -> Resume<Context> {
    let Mode::Fp(s) = &mut t.mode else { unreachable!() };
    let cur = s.cur;
    // SAFETY: the thread's registers were just saved; nothing else uses them now.
    let regs = unsafe { (*ctx(cur)).regs };
    match ev {
        Event::Syscall if regs.x[0] == OP_DONE => s.done[cur] = Some(regs.x[1]),
        Event::Syscall if regs.x[0] == OP_YIELD => {}
        Event::Timer => s.by_timer += 1,
        other => {
            say(format_args!("fp-switch: thread {cur}: unexpected {other:?} at {:#x}\n", regs.elr));
            finish(t, false)
        }
    }
    let next = (1..=3).map(|d| (cur + d) % 3).find(|&i| s.done[i].is_none());
    let Some(next) = next else {
        let traps = crate::fpu::traps();
        let (switches, by_timer, done) = (s.switches, s.by_timer, s.done);
        let intact = done.iter().all(|d| *d == Some(0));
        let ok = intact && by_timer > 0 && traps >= 2 && traps < switches;
        say(format_args!(
            "fp-switch: {}: results {:?}, {switches} switches ({by_timer} by the timer), {traps} FP traps\n",
            if ok { "ok" } else { "FAILED" },
            done
        ));
        finish(t, ok)
    };
    if next != cur {
        s.switches += 1;
    }
    s.cur = next;
    t.activate(FP_THREADS[next].2);
    Resume::User(ctx(next))
}

/// The guard cases.
fn cases() -> [Case; 16] {
    fn none(_: &mut Context) {}
    let exc = |kind| Some(Expect::Exception(kind, 0));
    [
        Case {
            name: "spsr-el1h",
            entry: &raw const usertest_report,
            setup: |c| c.regs.spsr = 0x3c5, // EL1h, DAIF masked
            expect: [Some(Expect::Syscall(OP_DONE, 42)), None],
        },
        Case {
            name: "spsr-aarch32-il",
            entry: &raw const usertest_report,
            setup: |c| c.regs.spsr = (1 << 20) | (1 << 21) | 0x10, // IL, SS, AArch32 user
            expect: [Some(Expect::Syscall(OP_DONE, 42)), None],
        },
        Case {
            name: "spsr-daif-masked",
            entry: &raw const usertest_spin,
            setup: |c| c.regs.spsr = 0x3c0, // EL0t with D, A, I, F masked
            expect: [Some(Expect::Timer), None],
        },
        Case {
            name: "svc-immediate",
            entry: &raw const usertest_svc_imm,
            setup: none,
            expect: [Some(Expect::Syscall(OP_DONE, 43)), None],
        },
        Case {
            name: "elr-kernel",
            entry: core::ptr::null(),
            setup: |c| c.regs.elr = KERNEL_BASE,
            expect: [Some(Expect::Page(KERNEL_BASE, 1)), None],
        },
        Case {
            name: "elr-non-canonical",
            entry: core::ptr::null(),
            setup: |c| c.regs.elr = 0x0001_0000_0000_0000,
            expect: [Some(Expect::Page(0x0001_0000_0000_0000, 1)), None],
        },
        Case {
            name: "elr-misaligned",
            entry: core::ptr::null(),
            setup: |c| c.regs.elr = USER_CODE + 2,
            expect: [Some(Expect::Exception(KIND_ALIGNMENT, USER_CODE + 2)), None],
        },
        Case {
            name: "sp-wild",
            entry: &raw const usertest_bad_sp,
            setup: |c| c.regs.sp = KERNEL_BASE + 0x1000,
            expect: [Some(Expect::Syscall(OP_PING, 0)), Some(Expect::Page(KERNEL_BASE + 0x1000, 4))],
        },
        Case {
            name: "null-read",
            entry: &raw const usertest_null_read,
            setup: none,
            expect: [Some(Expect::Page(0, 4)), None],
        },
        Case {
            name: "null-write",
            entry: &raw const usertest_null_write,
            setup: none,
            expect: [Some(Expect::Page(0, 2)), None],
        },
        Case { name: "udf", entry: &raw const usertest_udf, setup: none, expect: [exc(KIND_ILLEGAL), None] },
        Case {
            name: "wfi",
            entry: &raw const usertest_wfi,
            setup: none,
            expect: [exc(KIND_PRIVILEGED), None],
        },
        Case {
            name: "msr-daifset",
            entry: &raw const usertest_daif,
            setup: none,
            expect: [exc(KIND_PRIVILEGED), None],
        },
        Case {
            name: "mrs-sctlr_el1",
            entry: &raw const usertest_sysreg,
            setup: none,
            expect: [exc(KIND_ILLEGAL), None],
        },
        Case { name: "hvc", entry: &raw const usertest_hvc, setup: none, expect: [exc(KIND_ILLEGAL), None] },
        Case {
            name: "brk",
            entry: &raw const usertest_brk,
            setup: none,
            expect: [exc(KIND_BREAKPOINT), None],
        },
    ]
}

/// A fresh context for case `i`.
fn start_case(i: usize) -> Resume<Context> {
    let all = cases();
    let case = &all[i];
    let pc = if case.entry.is_null() { 0 } else { code_va(case.entry) };
    let mut c = Context::new_user(pc, USER_STACK_TOP, 0);
    c.set_tls(TLS);
    (case.setup)(&mut c);
    // SAFETY: the previous case's thread is done; its context is ours again.
    unsafe { *ctx(0) = c };
    Resume::User(ctx(0))
}

fn guard_event(t: &mut Test, ev: Event) -> Resume<Context> {
    let Mode::Guards(s) = &mut t.mode else { unreachable!() };
    let all = cases();
    let case = &all[s.case];
    let want = case.expect[s.step].expect("a case ends after its last expectation");
    // SAFETY: the thread's registers were just saved; nothing else uses them now.
    let regs = unsafe { (*ctx(0)).regs };
    let got = match ev {
        Event::Syscall => Some(Expect::Syscall(regs.x[0], if regs.x[0] == OP_PING { 0 } else { regs.x[1] })),
        Event::Timer => Some(Expect::Timer),
        Event::Fault(FaultInfo::Page { addr, access }) => Some(Expect::Page(addr, access)),
        Event::Fault(FaultInfo::Exception { kind, addr, .. }) => Some(Expect::Exception(kind, addr)),
        Event::Irq(_) | Event::Wake => None,
    };
    if got == Some(Expect::Timer) && want != Expect::Timer {
        return Resume::User(ctx(0)); // a tick while the case runs: carry on
    }
    if got != Some(want) {
        say(format_args!(
            "user-guards: {}: expected {want:?}, got {ev:?} (ELR {:#x}, SPSR {:#x})\n",
            case.name, regs.elr, regs.spsr
        ));
        finish(t, false)
    }
    say(format_args!("user-guards: {}: {want:#x?}\n", case.name));
    s.step += 1;
    if s.step < 2 && case.expect[s.step].is_some() {
        return Resume::User(ctx(0)); // the same thread goes on
    }
    s.case += 1;
    s.step = 0;
    if s.case == all.len() {
        say(format_args!("user-guards: ok: {} cases\n", all.len()));
        finish(t, true)
    }
    start_case(s.case)
}
