//! The trap frame and the user register file of a thread, and the system-call register
//! protocol on x86_64.
//!
//! A [`TrapFrame`] is what the trap entry (`vectors.S`) leaves on the stack: the 15
//! general-purpose registers, the vector and error code, and the CPU's `iretq` frame. A
//! thread's [`Context`] starts with the same frame: while the thread runs in user mode,
//! TSS.RSP0 points at the end of its frame, so the CPU and the entry code save the user
//! registers straight into the TCB (seL4's single kernel stack per CPU), and `syscall.S`
//! builds the same frame by hand. The FXSAVE area, the FS base and the FPU identity follow.
//!
//! System calls (`SYSCALL`): the control word in rax (status out), the capability selector
//! in rdi (gate label out), the message tag in rsi (tag out), message registers MR0..MR7 in
//! rdx, r8, r9, r10, r12, r13, r14, r15. The CPU puts the user rip in rcx and rflags in
//! r11, which the entry stores in the frame's `rip` and `rflags`; rbx, rbp and rsp are
//! preserved. A new thread gets its argument in rdi.

use core::sync::atomic::{AtomicU64, Ordering};

use pecan_hal::UserContext;

use crate::layout::{USER_CS, USER_DS};

/// Registers saved on a kernel entry, in memory order (lowest address first).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TrapFrame {
    /// rax.
    pub rax: u64,
    /// rbx.
    pub rbx: u64,
    /// rcx.
    pub rcx: u64,
    /// rdx.
    pub rdx: u64,
    /// rsi.
    pub rsi: u64,
    /// rdi.
    pub rdi: u64,
    /// rbp.
    pub rbp: u64,
    /// r8.
    pub r8: u64,
    /// r9.
    pub r9: u64,
    /// r10.
    pub r10: u64,
    /// r11.
    pub r11: u64,
    /// r12.
    pub r12: u64,
    /// r13.
    pub r13: u64,
    /// r14.
    pub r14: u64,
    /// r15.
    pub r15: u64,
    /// The interrupt vector (pushed by the entry stub).
    pub vector: u64,
    /// The CPU's error code, or 0 for vectors without one.
    pub error: u64,
    /// Interrupted instruction pointer.
    pub rip: u64,
    /// Interrupted code segment (its low two bits are the privilege level).
    pub cs: u64,
    /// Interrupted flags.
    pub rflags: u64,
    /// Interrupted stack pointer.
    pub rsp: u64,
    /// Interrupted stack segment.
    pub ss: u64,
}

/// Bytes of a trap frame: a multiple of 16, so a frame that ends on a 16-byte boundary
/// also starts on one.
pub const TRAP_FRAME_SIZE: usize = core::mem::size_of::<TrapFrame>();
const _: () = assert!(TRAP_FRAME_SIZE == 22 * 8 && TRAP_FRAME_SIZE.is_multiple_of(16));

impl TrapFrame {
    /// Whether the trap came from user mode.
    pub const fn from_user(&self) -> bool {
        self.cs & 3 == 3
    }

    /// The 15 general-purpose registers with their names, in frame order.
    pub fn gprs(&self) -> [(&'static str, u64); 15] {
        [
            ("rax", self.rax),
            ("rbx", self.rbx),
            ("rcx", self.rcx),
            ("rdx", self.rdx),
            ("rsi", self.rsi),
            ("rdi", self.rdi),
            ("rbp", self.rbp),
            ("r8", self.r8),
            ("r9", self.r9),
            ("r10", self.r10),
            ("r11", self.r11),
            ("r12", self.r12),
            ("r13", self.r13),
            ("r14", self.r14),
            ("r15", self.r15),
        ]
    }
}

/// The FXSAVE image of the x87/SSE state (512 bytes, 16-byte aligned).
#[repr(C, align(16))]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FxArea(pub [u8; 512]);

impl Default for FxArea {
    /// The state after `fninit` with the default MXCSR: FCW 0x037f, MXCSR 0x1f80.
    fn default() -> Self {
        let mut a = [0u8; 512];
        a[0..2].copy_from_slice(&0x037fu16.to_le_bytes());
        a[24..28].copy_from_slice(&0x1f80u32.to_le_bytes());
        FxArea(a)
    }
}

/// A thread's saved user state.
#[repr(C, align(16))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Context {
    /// The registers, laid out as the trap entry saves them.
    pub regs: TrapFrame,
    /// The x87/SSE state (valid whenever the thread does not own the CPU's FPU).
    pub fx: FxArea,
    /// The thread pointer: the FS base user code runs with (the thread's UTCB).
    pub tls: u64,
    /// Identifies this thread's FPU state for the lazy FPU switch (`fpu.rs`): unique per
    /// context made by [`UserContext::new_user`], never 0 there.
    pub fpu_id: u64,
}

/// Byte offset of the end of [`Context::regs`] inside a context: TSS.RSP0 and the
/// `SYSCALL` entry's stack start there while the thread runs.
pub const FRAME_END: usize = TRAP_FRAME_SIZE;

/// The `vector` value `syscall.S` stores: the thread entered with `SYSCALL`, so its rcx and
/// r11 are dead and the exit may use `SYSRET`. Not an interrupt vector (those are < 256).
pub const VECTOR_SYSCALL: u64 = 0x100;

/// rflags of a new user thread: interrupts enabled, and the always-one bit 1.
pub const USER_RFLAGS: u64 = 0x202;

/// The next FPU identity [`UserContext::new_user`] (and `fpu::take`) hands out.
static NEXT_FPU_ID: AtomicU64 = AtomicU64::new(1);

/// A new FPU identity, never handed out before.
pub fn fresh_fpu_id() -> u64 {
    NEXT_FPU_ID.fetch_add(1, Ordering::Relaxed)
}

impl Context {
    /// The register holding message register `i` (`None` past `REG_MRS`).
    fn mr_slot(&mut self, i: usize) -> Option<&mut u64> {
        let r = &mut self.regs;
        Some(match i {
            0 => &mut r.rdx,
            1 => &mut r.r8,
            2 => &mut r.r9,
            3 => &mut r.r10,
            4 => &mut r.r12,
            5 => &mut r.r13,
            6 => &mut r.r14,
            7 => &mut r.r15,
            _ => return None,
        })
    }
}

impl UserContext for Context {
    fn new_user(ip: u64, sp: u64, arg: u64) -> Self {
        let regs = TrapFrame {
            rip: ip,
            rsp: sp,
            rdi: arg,
            cs: USER_CS as u64,
            ss: USER_DS as u64,
            rflags: USER_RFLAGS,
            ..TrapFrame::default()
        };
        let fpu_id = fresh_fpu_id();
        Context { regs, fx: FxArea::default(), tls: 0, fpu_id }
    }
    fn ip(&self) -> u64 {
        self.regs.rip
    }
    fn sp(&self) -> u64 {
        self.regs.rsp
    }
    fn set_ip(&mut self, ip: u64) {
        self.regs.rip = ip;
    }
    fn set_sp(&mut self, sp: u64) {
        self.regs.rsp = sp;
    }
    fn set_arg(&mut self, arg: u64) {
        self.regs.rdi = arg;
    }
    fn set_tls(&mut self, tls: u64) {
        self.tls = tls;
    }
    fn tls(&self) -> u64 {
        self.tls
    }
    fn sys_control(&self) -> u64 {
        self.regs.rax
    }
    fn sys_cap(&self) -> u64 {
        self.regs.rdi
    }
    fn sys_tag(&self) -> u64 {
        self.regs.rsi
    }
    fn mr(&self, i: usize) -> u64 {
        let r = &self.regs;
        match i {
            0 => r.rdx,
            1 => r.r8,
            2 => r.r9,
            3 => r.r10,
            4 => r.r12,
            5 => r.r13,
            6 => r.r14,
            7 => r.r15,
            _ => 0,
        }
    }
    fn set_mr(&mut self, i: usize, v: u64) {
        if let Some(r) = self.mr_slot(i) {
            *r = v;
        }
    }
    fn set_result(&mut self, status: u64, label: u64, tag: u64) {
        self.regs.rax = status;
        self.regs.rdi = label;
        self.regs.rsi = tag;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::mem::offset_of;
    use pecan_abi::REG_MRS;

    #[test]
    fn layout() {
        // vectors.S relies on these offsets.
        assert_eq!(offset_of!(TrapFrame, rax), 0);
        assert_eq!(offset_of!(TrapFrame, r15), 14 * 8);
        assert_eq!(offset_of!(TrapFrame, vector), 15 * 8);
        assert_eq!(offset_of!(TrapFrame, rip), 17 * 8);
        assert_eq!(offset_of!(TrapFrame, cs), 18 * 8);
        assert_eq!(offset_of!(TrapFrame, ss), 21 * 8);
        assert_eq!(offset_of!(Context, regs), 0);
        assert_eq!(offset_of!(Context, fx), FRAME_END);
        assert_eq!(offset_of!(Context, fx) % 16, 0);
        assert_eq!(core::mem::align_of::<Context>(), 16);
        // TSS.RSP0 must be 16-byte aligned, or the CPU would align the pushed frame down
        // and miss the context's fields.
        assert_eq!(FRAME_END % 16, 0);
    }

    #[test]
    fn fpu_ids_are_unique() {
        let a = Context::new_user(0, 0, 0);
        let b = Context::new_user(0, 0, 0);
        assert_ne!(a.fpu_id, 0);
        assert_ne!(a.fpu_id, b.fpu_id);
        assert_eq!(Context::default().fpu_id, 0);
    }

    #[test]
    fn new_thread() {
        let c = Context::new_user(0x40_1000, 0x7fff_f000, 42);
        assert_eq!((c.ip(), c.sp(), c.regs.rdi), (0x40_1000, 0x7fff_f000, 42));
        assert!(c.regs.from_user());
        assert_eq!(c.regs.ss, USER_DS as u64);
        assert_eq!(c.regs.rflags & 0x200, 0x200, "interrupts on");
        assert_eq!(&c.fx.0[24..28], &0x1f80u32.to_le_bytes());
        let mut c = c;
        c.set_ip(5);
        c.set_sp(6);
        c.set_arg(7);
        assert_eq!((c.ip(), c.sp(), c.regs.rdi), (5, 6, 7));
    }

    #[test]
    fn syscall_registers() {
        let mut c = Context::default();
        c.regs.rax = 0x11;
        c.regs.rdi = 0x22;
        c.regs.rsi = 0x33;
        assert_eq!((c.sys_control(), c.sys_cap(), c.sys_tag()), (0x11, 0x22, 0x33));
        for i in 0..REG_MRS {
            c.set_mr(i, 100 + i as u64);
        }
        let r = c.regs;
        // The REG_MRS message words (none without `reg-transfer`), the rest untouched.
        let mrs = [r.rdx, r.r8, r.r9, r.r10, r.r12, r.r13, r.r14, r.r15];
        for (i, &m) in mrs.iter().enumerate() {
            assert_eq!(m, if i < REG_MRS { 100 + i as u64 } else { 0 });
        }
        assert_eq!((r.rbx, r.rbp, r.rcx, r.r11), (0, 0, 0, 0), "not message registers");
        for i in 0..REG_MRS {
            assert_eq!(c.mr(i), 100 + i as u64);
        }
        // Beyond the eight register slots: ignored, reads 0, never panics.
        c.set_mr(8, 9);
        assert_eq!(c.mr(8), 0);
        assert_eq!(c.regs, r);
        c.set_result(1, 2, 3);
        assert_eq!((c.regs.rax, c.regs.rdi, c.regs.rsi), (1, 2, 3));
    }
}
