//! The saved user register file of a thread and the system-call register protocol.

/// What a user fault reports to the core (arch-neutral).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultInfo {
    /// A page fault: address and the access (`MemRights` bits: 4 read, 2 write, 1 exec).
    Page {
        /// Faulting virtual address.
        addr: u64,
        /// Access that faulted.
        access: u8,
    },
    /// Any other exception, with the `pecan_abi::proto::exception` kind, the arch code
    /// (vector or syndrome) and the data address where known.
    Exception {
        /// Arch-neutral kind.
        kind: u64,
        /// Architecture code.
        code: u64,
        /// Faulting data address or 0.
        addr: u64,
    },
}

/// A user thread's saved registers, and how system-call arguments and results map onto
/// them. Which machine register carries what is each architecture's ABI (`docs/abi.md`).
pub trait UserContext: Clone {
    /// A fresh context that starts at `ip` with stack `sp` and `arg` in the first
    /// argument register, in user mode with interrupts enabled.
    fn new_user(ip: u64, sp: u64, arg: u64) -> Self;
    /// The instruction pointer.
    fn ip(&self) -> u64;
    /// The stack pointer.
    fn sp(&self) -> u64;
    /// Sets the instruction pointer (the arch validates it on return to user).
    fn set_ip(&mut self, ip: u64);
    /// Sets the stack pointer.
    fn set_sp(&mut self, sp: u64);
    /// Sets the first argument register.
    fn set_arg(&mut self, arg: u64);
    /// Sets the thread pointer user code finds its UTCB with (x86_64 FS base, AArch64
    /// TPIDR_EL0); the kernel sets it to the UTCB address when it creates the thread.
    fn set_tls(&mut self, tls: u64);
    /// The thread pointer.
    fn tls(&self) -> u64;

    /// System call: the control word (number and timeouts).
    fn sys_control(&self) -> u64;
    /// System call: the capability selector.
    fn sys_cap(&self) -> u64;
    /// System call: the message tag.
    fn sys_tag(&self) -> u64;
    /// Message register `i` (`i < pecan_abi::REG_MRS`).
    fn mr(&self, i: usize) -> u64;
    /// Sets message register `i` (`i < pecan_abi::REG_MRS`).
    fn set_mr(&mut self, i: usize, v: u64);
    /// Sets the system-call results: status word, gate label and message tag.
    fn set_result(&mut self, status: u64, label: u64, tag: u64);
}
